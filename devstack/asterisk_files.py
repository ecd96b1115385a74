"""Install the repo's Asterisk files into a stack's root, filling placeholders.

The repo's ``asterisk-conf/`` and ``dialplans/`` hold ``{{NAME}}`` placeholders
where a site differs (ports, secrets, addresses); they are never edited in
place. Agents' PJSIP sections are generated from ``pjsip_agent.conf.in``; the dev stack's
own sections (``COLP_SECTIONS``) follow the repo's ``pjsip.conf``.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

from devstack import prompts

if TYPE_CHECKING:
    from devstack.stack import StackInfo

PLACEHOLDER = re.compile(r"\{\{([A-Z0-9_]+)\}\}")
# Where the dev stack's callers who see who answered come from (``COLP_SECTIONS``).
COLP_CALLERS = "127.0.0.2"
# The dev stack's own PJSIP sections, after the repo's: a second carrier whose callers
# are sent connected-line updates. When the router bridges such a caller to an agent,
# Asterisk re-INVITEs the caller with a P-Asserted-Identity. Without ``send_pai`` (or
# ``send_rpid``) chan_pjsip sends no connected-line update at all, and the trunk has
# neither: its callers are told nothing. The one sign SIP gives a caller that its wait
# is over, which a sipp caller with a patience needs (``devstack.patience.Patients``).
COLP_SECTIONS = f"""
; ---- dev stack only: callers from {COLP_CALLERS} see who answered (COLP) -------
[trunk-colp](trunk-endpoint)
send_pai = yes

[trunk-colp]
type = identify
endpoint = trunk-colp
match = {COLP_CALLERS}
"""


def render(text: str, values: dict[str, str], source: str) -> str:
    def fill(match: re.Match[str]) -> str:
        key = match.group(1)
        if key not in values:
            raise KeyError(f"{source}: no value for placeholder {{{{{key}}}}}")
        return values[key]

    return PLACEHOLDER.sub(fill, text)


def values_for(info: StackInfo) -> dict[str, str]:
    from devstack.stack import RTP_RANGE

    return {
        "SIP_BIND": f"127.0.0.1:{info.sip_port}",
        "MEDIA_ADDRESS": "127.0.0.1",
        "TRUNK_MATCH": "127.0.0.1",
        "TRUNK_CONTACT": f"sip:127.0.0.1:{info.trunk_port}",
        "ARI_BIND": "127.0.0.1",
        "ARI_PORT": str(info.ari_port),
        "ARI_USER": info.ari_user,
        "ARI_PASSWORD": info.ari_password,
        "RTP_START": str(RTP_RANGE[0]),
        "RTP_END": str(RTP_RANGE[1]),
        "FALLBACK_DIAL": "PJSIP/fallback-desk",
        "FALLBACK_CONTACT": f"sip:fallback-desk@127.0.0.1:{info.fallback_port}",
    }


def agent_sections(repo: Path, agents: dict[str, str], values: dict[str, str], password: str) -> str:
    """PJSIP sections for each agent id -> static contact URI (not qualified)."""
    template = (repo / "asterisk-conf/pjsip_agent.conf.in").read_text()
    parts = []
    for agent_id, contact in agents.items():
        agent_values = dict(values, AGENT_ID=agent_id, AGENT_CONTACT=contact, AGENT_PASSWORD=password)
        # The dev stack's agents are sipp processes at fixed contacts, which answer no
        # OPTIONS: qualified, they would all be offline. (The aor section ends the block.)
        section = render(template, agent_values, "pjsip_agent.conf.in").rstrip("\n")
        parts.append(f"{section}\nqualify_frequency = 0\n")
    return "\n".join(parts)


def install(repo: Path, root: Path, info: StackInfo) -> None:
    etc = root / "etc/asterisk"
    if etc.exists():
        shutil.rmtree(etc)
    etc.mkdir(parents=True)
    values = values_for(info)
    for folder in ("asterisk-conf", "dialplans"):
        for source in sorted((repo / folder).glob("*.conf")):
            (etc / source.name).write_text(render(source.read_text(), values, f"{folder}/{source.name}"))
    with open(etc / "pjsip.conf", "a") as pjsip:
        pjsip.write(COLP_SECTIONS)
    agents = {agent: f"sip:{agent}@127.0.0.1:{port}" for agent, port in info.agent_ports.items()}
    (etc / "pjsip_agents.conf").write_text(agent_sections(repo, agents, values, info.agent_password))
    prompts.install(repo, root)
    owned = [
        "/etc/asterisk",
        "/var/lib/asterisk",
        "/var/log/asterisk",
        "/var/spool/asterisk",
        "/run/asterisk",
        "/var/cache/asterisk",
    ]
    # The root's asterisk user has its own uid: chown from inside the root.
    subprocess.run(["chroot", str(root), "mkdir", "-p", *owned], check=True)
    subprocess.run(["chroot", str(root), "chown", "-R", "asterisk:asterisk", *owned], check=True)
