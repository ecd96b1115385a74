"""Feature codes dialled from an agent's softphone: *11 log in, *12 log out,
*13 pause, *14 resume. They end in the same centre transitions as the admin API.
The agent hears a beep when it worked and an error tone when it was refused."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from callrouter.ari.client import AriClient, AriError
from callrouter.core import switchboard as sb
from callrouter.core.agents import AgentStateError

log = logging.getLogger(__name__)

CODES = {"*11": "login", "*12": "logout", "*13": "pause", "*14": "resume"}
OK_SOUND = "sound:beep"
REFUSED_SOUND = "sound:an-error-has-occurred"


async def run(
    ari: AriClient, step: Callable[[sb.Event], None], channel_id: str, code: str, agent_id: str
) -> None:
    command = CODES.get(code)
    sound = REFUSED_SOUND
    if command is None:
        log.warning("unknown feature code %s from %s", code, agent_id)
    else:
        try:
            step(sb.AgentCommand(agent_id, command, "feature code"))
            sound = OK_SOUND
            log.info("agent %s: %s by feature code", agent_id, command)
        except (AgentStateError, KeyError) as exc:
            log.info("agent %s: %s refused: %s", agent_id, command, exc)
    try:
        await ari.answer(channel_id)
        await ari.play(channel_id, (sound,), f"{channel_id}-feature")
        await asyncio.sleep(1.5)
        await ari.hangup(channel_id)
    except (AriError, OSError, TimeoutError) as exc:
        log.debug("feature code call ended early: %s", exc)
