"""The built wheel carries the SQL migrations, and the runner finds them there.

A wheel install must be able to migrate (``callrouter migrate`` in the
container image runs from site-packages, with no checkout beside it). The
wheel is built offline from a copy of what it is made of, then the runner is
imported from the wheel alone in an isolated interpreter (``-I -S``: no site
packages, no checkout, no current folder), once as an unpacked tree (what an
install lays down) and once straight from the zip. The migrations it finds
must be byte for byte the applied ones, or an existing database would refuse
to start.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from callrouter.store import migrate

REPO = Path(__file__).resolve().parents[2]
SOURCE = REPO / "callrouter/store/migrations"

# Applied in the field: the runner refuses to start when one of these changes.
APPLIED = {
    "0001_calls.sql": "cf6541ce9fd030cf6bed6f2dc292e77c1aefe93dbceff164ef3170e81c687f7c",
    "0002_inbound.sql": "65564909c528e112154854cd3e6edb4587d6a54bd7b3b3970ca403a7e9c77b56",
}

FIND_MIGRATIONS = """
import json, sys
sys.path.insert(0, sys.argv[1])
from callrouter.store import migrate
found = migrate.discover()
print(json.dumps({
    "module": migrate.__file__,
    "migrations": {f"{m.version:04d}_{m.name}.sql": m.checksum for m in found},
}))
"""


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # A copy: setuptools writes build/ and *.egg-info into the tree it builds.
    work = tmp_path_factory.mktemp("wheel")
    source = work / "src"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source / name)
    shutil.copytree(REPO / "callrouter", source / "callrouter", ignore=shutil.ignore_patterns("__pycache__"))
    dist = work / "dist"
    # Offline: the venv's pinned setuptools builds it (requirements.lock).
    offline = ["--no-deps", "--no-build-isolation", "--no-index", "-q"]
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", *offline, str(source), "-w", str(dist)],
        capture_output=True,
        text=True,
        timeout=100,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    (built,) = dist.glob("callrouter-*.whl")
    return built


def find_in(place: Path) -> dict[str, object]:
    result = subprocess.run(
        [sys.executable, "-I", "-S", "-c", FIND_MIGRATIONS, str(place)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    found: dict[str, object] = json.loads(result.stdout)
    return found


def in_checkout() -> dict[str, str]:
    return {f"{m.version:04d}_{m.name}.sql": m.checksum for m in migrate.discover(SOURCE)}


def test_the_applied_migrations_are_unchanged() -> None:
    found = in_checkout()
    assert {name: found.get(name) for name in APPLIED} == APPLIED


def test_the_wheel_holds_every_migration_byte_for_byte(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        shipped = {
            Path(name).name: archive.read(name)
            for name in archive.namelist()
            if name.startswith("callrouter/store/migrations/")
        }
    assert shipped == {path.name: path.read_bytes() for path in SOURCE.glob("*.sql")}


def test_the_runner_finds_them_in_an_unpacked_wheel_alone(wheel: Path, tmp_path: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(tmp_path)
    found = find_in(tmp_path)
    assert Path(str(found["module"])).is_relative_to(tmp_path)
    assert found["migrations"] == in_checkout()


def test_the_runner_finds_them_in_the_zipped_wheel(wheel: Path) -> None:
    found = find_in(wheel)
    assert str(found["module"]).startswith(str(wheel))
    assert found["migrations"] == in_checkout()
