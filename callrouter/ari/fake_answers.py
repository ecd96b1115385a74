"""What the fake Asterisk (unit tests of the shell only) answers as Asterisk
does: each REST method's HTTP request and the errors it raises (the ones the
installed ``rest-api/*.json`` documents), and the hangup causes it reports; and
the ledger of the REST calls made, with the failures a test asked for.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from callrouter.ari.client import AriError, AriNotFound

NORMAL_CLEARING = (16, "Normal Clearing")
NO_ANSWER = (19, "User alerting, no answer")  # an originate's ring timeout
CALL_REJECTED = (21, "Call Rejected")
# DELETE /channels/{id}?reason=... as Asterisk maps it (ari_channels.c), texts from its causes table.
HANGUP_REASONS: dict[str, tuple[int, str]] = {
    "normal": NORMAL_CLEARING,
    "busy": (17, "User busy"),
    "congestion": (34, "Circuit/channel congestion"),
    "no_answer": NO_ANSWER,
    "timeout": (18, "No user responding"),
    "rejected": CALL_REJECTED,
    "unallocated": (1, "Unallocated (unassigned) number"),
    "normal_unspecified": (31, "Normal, unspecified"),
    "number_incomplete": (28, "Invalid number format (addressing incomplete)"),
    "codec_mismatch": (58, "Bearer capability not available"),
    "interworking": (127, "Interworking, unspecified"),
    "failure": (38, "Network out of order"),
    "answered_elsewhere": (26, "Answered elsewhere"),
}

# Each REST method's HTTP request, for the errors it raises.
REST: dict[str, tuple[str, str]] = {
    "answer": ("POST", "/channels/{}/answer"),
    "play": ("POST", "/channels/{}/play"),
    "stop_playback": ("DELETE", "/playbacks/{}"),
    "start_moh": ("POST", "/channels/{}/moh"),
    "stop_moh": ("DELETE", "/channels/{}/moh"),
    "originate": ("POST", "/channels/{}"),
    "create_bridge": ("POST", "/bridges/{}"),
    "add_to_bridge": ("POST", "/bridges/{}/addChannel"),
    "destroy_bridge": ("DELETE", "/bridges/{}"),
    "start_bridge_moh": ("POST", "/bridges/{}/moh"),
    "hangup": ("DELETE", "/channels/{}"),
    "continue_in_dialplan": ("POST", "/channels/{}/continue"),
    "get_channel": ("GET", "/channels/{}"),
    "set_variable": ("POST", "/channels/{}/variable"),
    "get_variable": ("GET", "/channels/{}/variable"),
    "application": ("GET", "/applications/{}"),
    "set_event_filter": ("PUT", "/applications/{}/eventFilter"),
    "subscribe": ("POST", "/applications/{}/subscription"),
    "endpoint": ("GET", "/endpoints/{}"),  # the technology
}


def rest_error(status: int, name: str, subject: str, detail: str) -> AriError:
    """The error REST method ``name`` about ``subject`` raises (``AriNotFound`` for 404)."""
    method, path = REST[name]
    return (AriNotFound if status == 404 else AriError)(status, method, path.format(subject), detail)


class RestLedger:
    """The REST calls made (the last ``history``), in order, and the failures to come."""

    def __init__(self, history: int | None = None) -> None:
        self.calls: deque[tuple[str, tuple[Any, ...]]] = deque(maxlen=history)
        self._failures: dict[str, deque[int]] = {}

    def fail(self, method_name: str, status: int = 500, times: int = 1) -> None:
        """The next ``times`` calls of that REST method fail with ``status``
        (``AriNotFound`` for 404) and change nothing."""
        if method_name not in REST:
            raise ValueError(f"no REST method {method_name}")
        self._failures.setdefault(method_name, deque()).extend([status] * times)

    def begin(self, name: str, subject: str, *more: Any) -> None:
        """Record the call; raise the failure a test asked for."""
        self.calls.append((name, (subject, *more)))
        failures = self._failures.get(name)
        if failures:
            raise rest_error(failures.popleft(), name, subject, "told to fail")

    def called(self, name: str) -> list[tuple[Any, ...]]:
        return [args for method, args in self.calls if method == name]
