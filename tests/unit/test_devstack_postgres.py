"""Where a stack's PostgreSQL cluster lives: outside the checkout, one folder
per checkout and stack, with a socket path PostgreSQL accepts."""

from __future__ import annotations

from pathlib import Path

from devstack.postgres import CLUSTERS, cluster_dir


def test_one_folder_per_checkout_and_stack() -> None:
    here = cluster_dir(Path("/root/callrouter"), "demo")
    assert here.parent == CLUSTERS
    assert here.name.endswith("-callrouter-demo")
    assert cluster_dir(Path("/root/callrouter"), "demo") == here
    assert cluster_dir(Path("/root/callrouter"), "test") != here
    assert cluster_dir(Path("/srv/callrouter"), "demo") != here


def test_socket_path_fits_for_any_checkout() -> None:
    deep = Path("/root/" + "a-very-long-folder-name/" * 20 + "callrouter with spaces & more")
    folder = cluster_dir(deep, "a-long-stack-name-for-the-benchmark")
    socket = folder / "pg/sockets/.s.PGSQL.65535"
    assert len(str(socket).encode()) < 108  # sun_path, terminating NUL included
    assert " " not in folder.name and "&" not in folder.name
