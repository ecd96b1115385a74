"""A request body's ``Content-Encoding``, undone here rather than by aiohttp.

aiohttp decodes gzip and deflate itself, and refuses br and zstd while their
libraries are missing before any route runs, with a plain-text 400 of its own.
The admin API takes that work (``auto_decompress`` off, server.py): identity,
gzip and deflate are decoded, never past the route's limit (a small body may
unpack to gigabytes); any other coding, or more than one, is a JSON 415 naming
it, with ``Accept-Encoding`` saying what is taken (RFC 7694).
"""

from __future__ import annotations

import zlib

from callrouter.api.errors import ApiError, Problem

TAKEN = "gzip, deflate"


def coding(header: str | None) -> str:
    """The coding a ``Content-Encoding`` header names ("" for none or identity); a
    JSON 415 for one not taken."""
    name = (header or "").strip().lower()
    name = "gzip" if name == "x-gzip" else name  # the same coding (RFC 9110, 8.4.1.3)
    if name in ("", "identity", "gzip", "deflate"):
        return "" if name == "identity" else name
    shown = name if len(name) <= 40 else name[:40] + "..."
    problem = Problem("body", "body", f"Content-Encoding {shown!r} is not taken (only {TAKEN})")
    raise ApiError(415, f"body: {problem.message}", [problem], {"Accept-Encoding": TAKEN})


def decoded(raw: bytes, name: str, limit: int) -> bytes:
    """``raw`` in the coding ``coding`` gave, decoded: 413 past ``limit`` bytes, 400 when
    it is not in that coding. A deflate body without its zlib header is taken, as
    aiohttp takes it."""
    if not name or not raw:
        return raw
    body, rest, whole = b"", raw, True
    while rest and whole and len(body) <= limit:  # gzip members one after another (RFC 1952)
        unpacking = zlib.decompressobj(_window_bits(name, rest[0]))
        try:
            body += unpacking.decompress(rest, limit + 1 - len(body))
        except zlib.error:
            whole = False
        else:
            whole = unpacking.eof and (name == "gzip" or not unpacking.unused_data)
            rest = unpacking.unused_data
    if len(body) > limit:
        raise ApiError(413, f"body: larger than {limit} bytes once decoded")
    if not whole:
        problem = Problem("body", "body", f"not in the Content-Encoding it names ({name})")
        raise ApiError(400, f"body: could not be read: {problem.message}", [problem])
    return body


def _window_bits(name: str, first: int) -> int:
    if name == "gzip":
        return 16 + zlib.MAX_WBITS
    # RFC 1950's header says deflate (CM 8) in the low bits of its first byte
    return zlib.MAX_WBITS if first & 0xF == 8 else -zlib.MAX_WBITS
