"""``[database] dsn`` is read as asyncpg reads it when it connects: an address
``check-config`` takes, the driver takes too (no traceback at the first
connection), and one it refuses, the driver cannot use either."""

from __future__ import annotations

from typing import Any

from asyncpg import connect_utils
from hypothesis import given, settings
from hypothesis import strategies as st

from callrouter.config_dsn import dsn_problem


def driver_reads(dsn: str) -> bool:
    """Whether asyncpg reads the address, and every TCP port it would dial is one."""
    try:
        addresses, _ = connect_utils._parse_connect_dsn_and_args(  # its own parser, where it connects
            dsn=dsn, host=None, port=None, user=None, password=None, passfile=None, database=None,
            ssl=None, service=None, servicefile=None, direct_tls=False, server_settings=None,
            target_session_attrs=None, krbsrvname=None, gsslib=None,
        )  # fmt: skip
    except (ValueError, IndexError):
        return False
    ports: list[Any] = [address[1] for address in addresses if not isinstance(address, str)]  # str: a socket
    return all(isinstance(p, int) and 1 <= p <= 65535 for p in ports)


PORTS = st.sampled_from(
    ["", ":5432", ":1", ":0", ":65535", ":65536", ":99999", ":abc", ":5432:1", ":%35432", ":"]
)
HOSTS = st.sampled_from(["127.0.0.1", "db.test", "h", "[::1]", "/run/postgresql", ""])
HOST_SPECS = st.builds(lambda h, p: h if h.startswith("/") else h + p, HOSTS, PORTS)
QUERIES = st.sampled_from(
    ["", "?sslmode=disable", "?port=5433", "?port=99999", "?port=5432,70000", "?sslmode",
     "?host=127.0.0.1:99999", "?host=/run/postgresql", "?a=1&&b=2"]
)  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(st.lists(HOST_SPECS, min_size=1, max_size=3), QUERIES, st.sampled_from(["u@", "u:pw@", ""]))
def test_the_config_takes_an_address_exactly_when_the_driver_does(
    hosts: list[str], query: str, user: str
) -> None:
    dsn = f"postgresql://{user}{','.join(hosts)}/calls{query}"
    assert (dsn_problem(dsn) is None) == driver_reads(dsn), (dsn, dsn_problem(dsn))
