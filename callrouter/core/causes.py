"""Hang-up causes worded one way. Asterisk tells a hang-up twice: ARI's
``ChannelHangupRequest`` gives the Q.850 cause as a number (``16``), its
``ChannelDestroyed`` the same cause as text (``Normal Clearing``); whichever
comes first ends the call. A number is said as the text Asterisk gives it
(``ast_cause2str``), so one cause reads the same in every record."""

from __future__ import annotations

# Q.850 cause codes and Asterisk's own wording of them (main/channel.c, checked
# against the installed Asterisk's strings).
TEXT = {
    1: "Unallocated (unassigned) number",
    2: "No route to specified transmit network",
    3: "No route to destination",
    5: "Misdialed trunk prefix",
    6: "Channel unacceptable",
    7: "Call awarded and being delivered in an established channel",
    8: "Pre-empted",
    14: "Number ported elsewhere",
    16: "Normal Clearing",
    17: "User busy",
    18: "No user responding",
    19: "User alerting, no answer",
    20: "Subscriber absent",
    21: "Call Rejected",
    22: "Number changed",
    23: "Redirected to new destination",
    26: "Answered elsewhere",
    27: "Destination out of order",
    28: "Invalid number format",
    29: "Facility rejected",
    30: "Response to STATus ENQuiry",
    31: "Normal, unspecified",
    34: "Circuit/channel congestion",
    38: "Network out of order",
    41: "Temporary failure",
    42: "Switching equipment congestion",
    43: "Access information discarded",
    44: "Requested channel not available",
    50: "Facility not subscribed",
    52: "Outgoing call barred",
    54: "Incoming call barred",
    57: "Bearer capability not authorized",
    58: "Bearer capability not available",
    65: "Bearer capability not implemented",
    66: "Channel not implemented",
    69: "Facility not implemented",
    81: "Invalid call reference value",
    88: "Incompatible destination",
    95: "Invalid message unspecified",
    96: "Mandatory information element is missing",
    97: "Message type nonexist.",
    98: "Wrong message",
    99: "Info. element nonexist or not implemented",
    100: "Invalid information element contents",
    101: "Wrong call state",
    102: "Recovery on timer expiry",
    103: "Mandatory IE length error",
    111: "Protocol error",
    127: "Interworking, unspecified",
}


def worded(cause: str) -> str:
    """``"16"`` -> ``"Normal Clearing"``; any other cause (text already, or a number
    Asterisk has no words for) as it is."""
    if cause.isdigit() and cause.isascii():
        return TEXT.get(int(cause), cause)
    return cause
