"""``[database] dsn`` read as the driver will read it when it connects.

asyncpg parses the address only at its first connection; what it cannot read
there (a port that is no number, or past 65535; an empty host in a host list;
an IPv6 bracket not closed; a query field without ``=``) ended ``report``,
``migrate`` and ``results import`` in a traceback, and ``check-config`` said OK.
This reads the host list and the ports the way asyncpg 0.29-0.32 does
(``connect_utils._parse_hostlist``): each host split at its first colon unless
bracketed, a socket folder (``/...``) with no port, the ports of ``?port=`` and
of ``?host=`` too, the query parsed strictly. Whatever the address holds before
its ``@`` (the user and a password) is never repeated in a message.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs, unquote, urlsplit

SHAPE = "postgresql://user@host:port/database"
_BRACKETED = re.compile(r"\[([^\]]+)\](?::([0-9]+))?")


def dsn_problem(dsn: str) -> str | None:
    """What keeps the driver from reading ``dsn``, in words; None if it reads it."""
    try:
        parts = urlsplit(dsn)
    except ValueError as exc:  # "Invalid IPv6 URL": a [ not closed
        return f"{SHAPE}: {exc}"
    found = _problem(parts.netloc, parts.query)
    if found is not None and "@" not in parts.netloc and "@" in dsn[len(parts.scheme) + 3 :]:
        # A / ? or # in the password ended the address early: what looked like a port or
        # an option is a piece of the password, never to be repeated.
        return f"{SHAPE}: the part before the @ holds a / ? or #: percent-encode it (%2F %3F %23)"
    return None if found is None else f"{SHAPE}: {found}"


def _problem(netloc: str, query_text: str) -> str | None:
    try:
        pairs = parse_qs(query_text, strict_parsing=True) if query_text else {}
    except ValueError:
        return "the options after ? must be name=value pairs joined by &"
    query = {name: values[-1] for name, values in pairs.items()}  # the last of a name given twice
    hosts = netloc.partition("@")[2] if "@" in netloc else netloc  # the driver's split: the first @
    if hosts:  # the address's own hosts: ?port= and ?host= are not read then
        return _hosts_problem(hosts, None, unquoting=True)
    ports = query["port"].split(",") if query.get("port") else None
    for port in ports or ():
        if (found := _port_problem(port, "?port=")) is not None:
            return found
    return _hosts_problem(query["host"], ports, unquoting=False) if query.get("host") else None


def _hosts_problem(hosts: str, ports: list[str] | None, *, unquoting: bool) -> str | None:
    """A host list (h1:5432,h2:5433); ``ports``: those of ``?port=``, which replace theirs."""
    specs = hosts.split(",")
    if ports is not None and len(ports) > 1 and len(ports) != len(specs):
        return f"{len(ports)} ports in ?port= for {len(specs)} hosts"
    for spec in specs:
        if not spec:
            return f"an empty host in the host list {hosts!r}"
        if spec.startswith("/"):  # a folder of Unix sockets: no port here
            continue
        if spec.startswith("["):
            bracketed = _BRACKETED.match(spec)
            if bracketed is None:
                return f"{spec!r}: an IPv6 address is written in brackets, [::1]:5432"
            port = bracketed[2] or ""
        else:
            port = spec.partition(":")[2]  # at the first colon, as the driver splits it
        if ports is None and port and (found := _port_problem(unquote(port) if unquoting else port, spec)):
            return found
    return None


def _port_problem(port: str, where: str) -> str | None:
    try:
        number = int(port)
    except ValueError:
        number = 0
    if not 1 <= number <= 65535:
        return f"the port {port!r} of {where!r} is not a number from 1 to 65535"
    return None


# The file's addresses that could carry a password (``user:password@``, ``?password=``).
ADDRESSES = (("database", "dsn"), ("ari", "url"))


def password_in(address: str) -> bool:
    """Whether the address carries a password: before its ``@`` (``user:password@host``)
    or as an option (``?password=``, libpq's and asyncpg's). Its value is never said."""
    try:
        parts = urlsplit(address)
        options = parse_qs(parts.query)
    except ValueError:
        return False  # not readable as an address: the field's own check says so
    user, at, _ = parts.netloc.rpartition("@")
    return (bool(at) and bool(user.partition(":")[2])) or any(name.lower() == "password" for name in options)


def passwords_in_addresses(data: dict[str, object]) -> list[str]:
    """A problem for each of the file's addresses that holds a password."""
    found = []
    for section, key in ADDRESSES:
        table = data.get(section)
        value = table.get(key) if isinstance(table, dict) else None
        if isinstance(value, str) and password_in(value):
            found.append(
                f"{section}.{key}: a password in the address; give it in CALLROUTER_*_PASSWORD instead"
            )
    return found
