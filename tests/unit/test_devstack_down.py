"""``devstack down`` deletes only its own PostgreSQL cluster: ``stack.json``
names the folder, and a copied checkout carries the original's (a damaged one
names anything), so a folder is stopped and deleted only when it lies in the
clusters root and its owner note names this checkout and stack, or a checkout
that no longer exists. Temporary folders stand for the clusters root; no
PostgreSQL runs (a folder without ``pg/data`` has no server to stop)."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import pytest

from devstack import postgres
from devstack.stack import Stack, StackInfo


@pytest.fixture(autouse=True)
def clusters(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "clusters"
    root.mkdir()
    monkeypatch.setattr(postgres, "CLUSTERS", root)

    def no_commands(*args: str, check: bool = True) -> None:
        raise AssertionError(f"ran {args} as postgres")

    monkeypatch.setattr(postgres, "_as_postgres", no_commands)
    return root


@pytest.fixture
def asterisk(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """What ``down`` did to the Asterisk and root stack.json names."""
    done: list[str] = []
    monkeypatch.setattr(Stack, "_stop_asterisk", lambda self, info: done.append(f"stop {info.asterisk_pid}"))
    monkeypatch.setattr(Stack, "_unmount_root", lambda self, info: done.append(f"unmount {info.root}"))
    return done


def checkout(tmp_path: Path, name: str) -> Path:
    path = tmp_path / name
    path.mkdir()
    return path


def cluster(path: Path, owner: str | None) -> Path:
    """A cluster's folder with its note (none: no note) and some of its files."""
    (path / "pg").mkdir(parents=True)
    (path / "pg/log").write_text("LOG:  database system is ready to accept connections\n")
    if owner is not None:
        (path / "owner").write_text(owner + "\n")
    return path


def stack_json(stack: Stack, pg_dir: Path, run_dir: Path | None = None, asterisk_pid: int = 0) -> None:
    """``stack.json`` in ``stack``'s run folder, describing the stack in ``run_dir``."""
    run_dir = run_dir or stack.run_dir
    info = StackInfo(
        name=stack.name, run_dir=str(run_dir), root=str(run_dir / "root"), sip_port=5060, ari_port=8088,
        ari_user="callrouter", ari_password="secret", pg_port=5432, pg_password="secret",
        asterisk_pid=asterisk_pid, pg_dir=str(pg_dir),
    )  # fmt: skip
    stack.run_dir.mkdir(parents=True, exist_ok=True)
    stack.state_file.write_text(json.dumps(asdict(info)))


def test_down_deletes_its_own_cluster(tmp_path: Path, asterisk: list[str]) -> None:
    repo = checkout(tmp_path, "callrouter")
    stack = Stack("dev", repo)
    mine = cluster(stack.pg_dir, postgres.owner_note(repo, "dev"))
    stack_json(stack, mine, asterisk_pid=4242)
    stack.down()
    assert not mine.exists()
    assert asterisk == ["stop 4242", f"unmount {stack.run_dir / 'root'}"]
    assert not stack.state_file.exists()


def test_down_deletes_the_cluster_of_this_checkout_before_it_moved(
    tmp_path: Path, asterisk: list[str]
) -> None:
    old = tmp_path / "old-place"  # the checkout was moved from here: nothing is there now
    repo = checkout(tmp_path, "new-place")
    stack = Stack("dev", repo)
    before = cluster(postgres.cluster_dir(old, "dev"), postgres.owner_note(old, "dev"))
    stack_json(stack, before, run_dir=old / ".run/dev", asterisk_pid=4242)
    stack.down()
    assert not before.exists()
    assert asterisk == ["stop 4242", f"unmount {old / '.run/dev/root'}"], "its Asterisk was this stack's"


def test_a_copied_checkout_leaves_the_originals_stack_alone(
    tmp_path: Path, asterisk: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    original, copy = checkout(tmp_path, "callrouter"), checkout(tmp_path, "callrouter-copy")
    live = cluster(postgres.cluster_dir(original, "dev"), postgres.owner_note(original, "dev"))
    (original / ".run/dev").mkdir(parents=True)
    # The copy carries the original's .run/: stack.json names the original's stack.
    stack = Stack("dev", copy)
    stack_json(stack, live, run_dir=original / ".run/dev", asterisk_pid=4242)
    stack.down()
    assert (live / "pg/log").exists(), "the original's cluster is not the copy's to delete"
    assert asterisk == [], "nor its Asterisk to stop, nor its root to unmount"
    assert f"leaving the PostgreSQL cluster {live}" in capsys.readouterr().err


@pytest.mark.parametrize(
    "where",
    ["outside the root", "the root itself", "out of the root through ..", "a link to outside the root"],
)
def test_a_damaged_stack_json_deletes_nothing_outside_the_clusters_root(
    tmp_path: Path, clusters: Path, asterisk: list[str], where: str
) -> None:
    repo = checkout(tmp_path, "callrouter")
    stack = Stack("dev", repo)
    precious = cluster(tmp_path / "precious", postgres.owner_note(repo, "dev"))  # even with our note
    mine = cluster(stack.pg_dir, postgres.owner_note(repo, "dev"))
    named = {
        "outside the root": precious,
        "the root itself": clusters,
        "out of the root through ..": clusters / ".." / "precious",
        "a link to outside the root": clusters / "link",
    }[where]
    (clusters / "link").symlink_to(precious)
    stack_json(stack, named)
    stack.down()
    assert (precious / "pg/log").exists() and (clusters / "link").is_symlink()
    assert not mine.exists(), "its own cluster still goes"


@pytest.mark.parametrize(
    "note",
    ["another checkout's", "another stack of this checkout", "none"],
)
def test_a_cluster_whose_note_names_someone_else_stays(
    tmp_path: Path, asterisk: list[str], note: str
) -> None:
    repo, other = checkout(tmp_path, "callrouter"), checkout(tmp_path, "elsewhere")
    owner = {
        "another checkout's": postgres.owner_note(other, "dev"),
        "another stack of this checkout": postgres.owner_note(repo, "bench"),
        "none": None,
    }[note]
    theirs = cluster(postgres.CLUSTERS / "0123456789-elsewhere-dev", owner)
    stack = Stack("dev", repo)
    stack_json(stack, theirs)
    stack.down()
    assert (theirs / "pg/log").exists()


def test_a_note_a_restart_overwrote_still_lets_down_delete_its_own_cluster(tmp_path: Path) -> None:
    """Before the fix, a restart that gave no owner wrote the folder's path as its note."""
    repo = checkout(tmp_path, "callrouter")
    stack = Stack("dev", repo)
    mine = cluster(stack.pg_dir, str(stack.pg_dir))
    assert postgres.refusal_to_remove(mine, repo, "dev") is None
    elsewhere = cluster(postgres.CLUSTERS / "0123456789-elsewhere-dev", str(postgres.CLUSTERS / "x"))
    assert postgres.refusal_to_remove(elsewhere, repo, "dev") is not None


def test_a_restart_without_an_owner_keeps_the_note(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("devstack.postgres.shutil.chown", lambda *args: None)  # no postgres user needed
    repo = checkout(tmp_path, "callrouter")
    folder = postgres.cluster_dir(repo, "dev")
    postgres._prepare(folder, postgres.owner_note(repo, "dev"))
    postgres._prepare(folder, "")  # tests/e2e/test_db_outage.py's restart
    assert (folder / "owner").read_text() == postgres.owner_note(repo, "dev") + "\n"
