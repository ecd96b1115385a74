"""One dev stack: Asterisk (in an overlay of the cached Debian root) and a
throwaway PostgreSQL cluster, on loopback, with their own free ports.

The stack's state lives in ``.run/<name>/`` of the checkout: ``stack.json``
says what runs where, so ``up`` is idempotent and ``down`` stops only what the
stack started, by PID. The PostgreSQL cluster lives outside the checkout, in
a folder named after it and the stack (``postgres.cluster_dir``), so ``down``
finds it even without ``stack.json``. ``down`` deletes only a cluster folder
whose owner note names this checkout (``postgres.refusal_to_remove``), and
leaves the Asterisk and root of a ``stack.json`` a copied checkout carried.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import tomllib
import urllib.error
import urllib.request
from base64 import b64encode
from dataclasses import asdict, dataclass, field
from pathlib import Path

from devstack import asterisk_files, postgres, rootfs
from devstack.util import ensure_debian_packages, free_port, log, pid_alive, stop_pid, wait_for

REPO = Path(__file__).resolve().parent.parent
RTP_RANGE = (20000, 29999)  # Asterisk's media ports; sipp's lie above 30000
CONFIG = REPO / "callrouter.example.toml"


def agent_ids(config: Path = CONFIG) -> list[str]:
    """The agents the config lists: each gets a PJSIP endpoint and a sipp port."""
    return [str(agent["id"]) for agent in tomllib.loads(config.read_text()).get("agents", [])]


@dataclass
class StackInfo:
    name: str
    run_dir: str
    root: str
    sip_port: int
    ari_port: int
    ari_user: str
    ari_password: str
    pg_port: int
    pg_password: str
    agent_ports: dict[str, int] = field(default_factory=dict)
    agent_password: str = ""
    fallback_port: int = 0
    trunk_port: int = 0  # where the trunk's calls out (callbacks) go: a sipp UAS (sipp.Callee)
    asterisk_pid: int = 0
    overlay: bool = True
    suite: str = ""
    asterisk_version: str = ""
    # The key results secrets are hashed under (CALLROUTER_RESULTS_PEPPER); "" on a stack
    # from before it had one: its router hashes them as they are.
    results_pepper: str = ""
    pg_dir: str = ""

    @property
    def ari_url(self) -> str:
        return f"http://127.0.0.1:{self.ari_port}"

    def dsn(self, database: str = "callrouter") -> str:
        return f"postgresql://callrouter@127.0.0.1:{self.pg_port}/{database}"

    @property
    def asterisk_log(self) -> Path:
        return Path(self.root) / "var/log/asterisk/messages"

    def env(self) -> dict[str, str]:
        """The environment a router on this stack runs with (secrets included)."""
        return {
            "CALLROUTER_ARI_URL": self.ari_url,
            "CALLROUTER_ARI_USER": self.ari_user,
            "CALLROUTER_ARI_PASSWORD": self.ari_password,
            "CALLROUTER_DATABASE_DSN": self.dsn(),
            "CALLROUTER_DATABASE_PASSWORD": self.pg_password,
            **({"CALLROUTER_RESULTS_PEPPER": self.results_pepper} if self.results_pepper else {}),
        }


class Stack:
    def __init__(
        self, name: str = "dev", repo: Path = REPO, config: Path = CONFIG, shared_agent_port: bool = False
    ) -> None:
        """``config`` names the agents; with ``shared_agent_port`` every agent's
        softphone is one sipp on one port (the benchmark's 500 agents)."""
        self.repo = repo
        self.config = config
        self.shared_agent_port = shared_agent_port
        self.run_dir = repo / ".run" / name
        self.name = name
        self.state_file = self.run_dir / "stack.json"
        self.pg_dir = postgres.cluster_dir(repo, name)

    # -- state ---------------------------------------------------------------
    def load(self) -> StackInfo | None:
        if not self.state_file.exists():
            return None
        return StackInfo(**json.loads(self.state_file.read_text()))

    def _save(self, info: StackInfo) -> None:
        self.state_file.write_text(json.dumps(asdict(info), indent=2))
        self.state_file.chmod(0o600)

    # -- up ------------------------------------------------------------------
    def up(self) -> StackInfo:
        ensure_debian_packages({"sipp": "sip-tester", "sox": "sox", "espeak-ng": "espeak-ng"})
        info = self.load()
        alive = info and pid_alive(info.asterisk_pid) and postgres.running(self.pg_dir)
        # A stack from before the trunk's calls out had a port (stack.json without one), or
        # from before its callers could see who answered, is made again.
        if info and alive and info.trunk_port and _has_colp(info) and _ari_ready(info):
            log(f"stack '{self.name}' already up (ARI {info.ari_url})")
            return info
        self.down(quiet=True)  # whatever an interrupted run left
        template = rootfs.ensure_template()
        self.run_dir.mkdir(parents=True, exist_ok=True)
        meta = rootfs.template_info(template)
        info = StackInfo(
            name=self.name,
            run_dir=str(self.run_dir),
            root=str(self.run_dir / "root"),
            sip_port=free_port(also_udp=True),
            ari_port=free_port(),
            ari_user=os.environ.get("CALLROUTER_ARI_USER", "callrouter"),
            ari_password=os.environ.get("CALLROUTER_ARI_PASSWORD") or secrets.token_urlsafe(18),
            pg_port=free_port(),
            pg_password=secrets.token_urlsafe(18),
            results_pepper=os.environ.get("CALLROUTER_RESULTS_PEPPER") or secrets.token_urlsafe(32),
            agent_ports=self._agent_ports(),
            agent_password=os.environ.get("CALLROUTER_AGENT_PASSWORD") or secrets.token_urlsafe(12),
            fallback_port=free_port(also_udp=True),
            trunk_port=free_port(also_udp=True),
            suite=meta["suite"],
            asterisk_version=meta["asterisk"],
            pg_dir=str(self.pg_dir),
        )
        info.overlay = self._mount_root(template, Path(info.root))
        self._save(info)
        try:
            asterisk_files.install(self.repo, Path(info.root), info)
            self._start_asterisk(info)
            self._save(info)
            owner = postgres.owner_note(self.repo, self.name)
            postgres.start(self.pg_dir, info.pg_port, info.pg_password, owner)
        except BaseException:
            log(f"stack '{self.name}' failed to start; see {self.run_dir}/asterisk.out, {info.asterisk_log}")
            self.down(quiet=True)
            raise
        log(
            f"stack '{self.name}' up: Asterisk {info.asterisk_version} (Debian {info.suite}), "
            f"SIP udp 127.0.0.1:{info.sip_port}, ARI {info.ari_url}, "
            f"PostgreSQL 127.0.0.1:{info.pg_port}"
        )
        log(f"logs: {info.asterisk_log} and {self.run_dir}/asterisk.out, {self.pg_dir}/pg/log")
        return info

    def _agent_ports(self) -> dict[str, int]:
        agents = agent_ids(self.config)
        if self.shared_agent_port:
            port = free_port(also_udp=True)
            return dict.fromkeys(agents, port)
        return {agent: free_port(also_udp=True) for agent in agents}

    def _mount_root(self, template: Path, root: Path) -> bool:
        upper, work = self.run_dir / "overlay/upper", self.run_dir / "overlay/work"
        for path in (upper, work, root):
            path.mkdir(parents=True, exist_ok=True)
        opts = f"lowerdir={template},upperdir={upper},workdir={work}"
        proc = subprocess.run(
            ["mount", "-t", "overlay", "overlay", "-o", opts, str(root)],
            capture_output=True,
            text=True,
        )
        if proc.returncode == 0:
            return True
        log(f"overlay mount failed ({proc.stderr.strip()}); copying the root instead")
        subprocess.run(["cp", "-a", f"{template}/.", str(root)], check=True)
        return False

    def _start_asterisk(self, info: StackInfo) -> None:
        root = Path(info.root)
        subprocess.run(["mount", "-t", "proc", "proc", str(root / "proc")], check=True)
        pid_file = root / "run/asterisk/asterisk.pid"
        pid_file.unlink(missing_ok=True)
        # Asterisk daemonises itself and writes its pid file (same pid namespace).
        with open(self.run_dir / "asterisk.out", "ab") as out:
            subprocess.run(
                ["chroot", str(root), "/usr/sbin/asterisk", "-n", "-U", "asterisk", "-G", "asterisk"],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                check=True,
            )
        wait_for(
            lambda: pid_file.exists() and pid_file.read_text().strip().isdigit(), 30, "Asterisk's pid file"
        )
        info.asterisk_pid = int(pid_file.read_text().strip())
        self._save(info)

        def ready() -> bool:
            if not pid_alive(info.asterisk_pid):
                raise RuntimeError(f"Asterisk exited; see {info.asterisk_log}")
            return _ari_ready(info)

        wait_for(ready, 60, "Asterisk's ARI to answer")

    # -- down ----------------------------------------------------------------
    def down(self, quiet: bool = False) -> None:
        info = self.load()
        clusters = {self.pg_dir, Path(info.pg_dir)} if info and info.pg_dir else {self.pg_dir}
        legacy_pg = self.run_dir / "pg"  # where clusters lived before /var/lib/callrouter-dev
        if info is None and not self.pg_dir.exists() and not legacy_pg.exists():
            if not quiet:
                log(f"stack '{self.name}' is not up")
            return
        if info is not None and not self._is_ours(info):
            info = None  # nor another checkout's Asterisk or root
        if info is not None:
            self._stop_asterisk(info)
        for cluster in clusters:  # stack.json's differs if the checkout moved
            refusal = postgres.refusal_to_remove(cluster, self.repo, self.name)
            if refusal is None:
                postgres.remove(cluster)
            else:
                log(f"leaving the PostgreSQL cluster {cluster} as it is: {refusal}")
        if legacy_pg.exists():
            postgres.stop(self.run_dir)
            shutil.rmtree(legacy_pg)
        if info is not None:
            self._unmount_root(info)
        self.state_file.unlink(missing_ok=True)
        if not quiet:
            log(f"stack '{self.name}' down")

    def _is_ours(self, info: StackInfo) -> bool:
        """Whether ``stack.json`` describes this stack, or one of this checkout
        before it moved: a copied checkout carries the original's, naming the
        original's Asterisk and root."""
        here = info.run_dir == str(self.run_dir) or not Path(info.run_dir).exists()
        if here and info.root == str(Path(info.run_dir) / "root"):
            return True
        log(f"{self.state_file} describes the stack in {info.run_dir}: its Asterisk and root stay")
        return False

    def _stop_asterisk(self, info: StackInfo) -> None:
        if info.asterisk_pid and pid_alive(info.asterisk_pid):
            subprocess.run(
                ["chroot", info.root, "/usr/sbin/asterisk", "-rx", "core stop now"],
                capture_output=True,
                timeout=20,
            )
            try:
                wait_for(lambda: not pid_alive(info.asterisk_pid), 10, "Asterisk to stop")
            except TimeoutError:
                stop_pid(info.asterisk_pid)

    def _unmount_root(self, info: StackInfo) -> None:
        root = Path(info.root)
        for mount in (root / "proc", root):
            if os.path.ismount(mount):
                subprocess.run(["umount", "-l", str(mount)], check=False)
        if not info.overlay:
            shutil.rmtree(root, ignore_errors=True)
        shutil.rmtree(self.run_dir / "overlay", ignore_errors=True)

    def asterisk_cli(self, command: str) -> str:
        info = self.load()
        assert info is not None, "stack is not up"
        out = subprocess.run(
            ["chroot", info.root, "/usr/sbin/asterisk", "-rx", command],
            capture_output=True,
            text=True,
            timeout=20,
        )
        return out.stdout


def _has_colp(info: StackInfo) -> bool:
    """Whether the stack's Asterisk has the section for callers who see who answered."""
    try:
        return asterisk_files.COLP_SECTIONS in (Path(info.root) / "etc/asterisk/pjsip.conf").read_text()
    except OSError:
        return False


def _ari_ready(info: StackInfo) -> bool:
    request = urllib.request.Request(f"{info.ari_url}/ari/asterisk/ping")
    token = b64encode(f"{info.ari_user}:{info.ari_password}".encode()).decode()
    request.add_header("Authorization", f"Basic {token}")
    try:
        with urllib.request.urlopen(request, timeout=2) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False
