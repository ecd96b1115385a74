"""A call's id: derived from its node and channel (uuid5), the same for a router that
takes the call up after a restart."""

from __future__ import annotations

import hashlib
import uuid

from callrouter.core.learnt import Learnt

# Call ids are derived from where the call lives, so a router that adopts a call
# after a restart gives it the id it already has: its timeline continues under
# the same ``calls`` row. Channel ids are unique per Asterisk node (ARI-NOTES 9).
CALL_ID_NAMESPACE = uuid.UUID("6f1c1f0e-2b8e-5a55-9a77-63616c6c726f")
_NAMESPACE_BYTES = CALL_ID_NAMESPACE.bytes
# Call ids worked out ahead of time, by another process (``core.learnt``), by node and channel.
CALL_IDS: Learnt[tuple[str, str], str] = Learnt()


# uuid.uuid5's version (5) and RFC 4122's variant laid over SHA-1's first 16 bytes, in hex:
# the 13th digit is the version, the 17th keeps its low two bits under the variant's 0b10.
_VARIANT = {digit: "89ab"[int(digit, 16) & 3] for digit in "0123456789abcdef"}


def call_id_for(node: str, channel_id: str) -> str:
    """``str(uuid.uuid5(CALL_ID_NAMESPACE, f"{node}/{channel_id}"))``, computed without
    the ``UUID`` object (made and formatted for every call, it cost twice the hash)."""
    learnt = CALL_IDS.get((node, channel_id))  # worked out ahead (``core.learnt``)
    if learnt is not None:
        return learnt
    h = hashlib.sha1(_NAMESPACE_BYTES + f"{node}/{channel_id}".encode()).hexdigest()
    return f"{h[:8]}-{h[8:12]}-5{h[13:16]}-{_VARIANT[h[16]]}{h[17:20]}-{h[20:32]}"
