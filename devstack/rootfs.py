"""The cached Debian root that carries Asterisk 22 for the dev stack.

Debian 12 ships no Asterisk, so the stack builds a minimal Debian ``testing``
(falling back to ``sid``) root with debootstrap once, keeps it outside the
checkout as a read-only template keyed by what went into it, and every stack
runs its own overlay of it.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

from devstack.util import ensure_debian_packages, log

SUITES = ("testing", "sid")
PACKAGES = ("asterisk", "asterisk-core-sounds-en", "asterisk-core-sounds-ru")
# Bump when the preparation below changes, so old templates are not reused.
RECIPE_VERSION = "4"
MIRROR = "http://deb.debian.org/debian"


def cache_dir() -> Path:
    base = os.environ.get("CALLROUTER_CACHE")
    xdg = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    path = Path(base) if base else xdg / "callrouter"
    path.mkdir(parents=True, exist_ok=True)
    return path


def template_key() -> str:
    text = json.dumps([SUITES, PACKAGES, RECIPE_VERSION])
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def template_info(root: Path) -> dict[str, str]:
    return json.loads((root / ".callrouter-template.json").read_text())  # type: ignore[no-any-return]


def ensure_template() -> Path:
    """Return the ready template root, building it first if needed."""
    cache = cache_dir()
    root = cache / f"rootfs-{template_key()}"
    marker = root / ".callrouter-template.json"
    if marker.exists():
        return root
    with open(cache / "rootfs.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if marker.exists():
            return root
        ensure_debian_packages({"debootstrap": "debootstrap"})
        errors = []
        for suite in SUITES:
            staging = cache / f"rootfs-{template_key()}.building"
            shutil.rmtree(staging, ignore_errors=True)
            log(f"building the Asterisk root from Debian {suite} (about a minute, once)")
            proc = subprocess.run(
                [
                    "debootstrap",
                    "--variant=minbase",
                    f"--include={','.join(PACKAGES)}",
                    suite,
                    str(staging),
                    MIRROR,
                ],
                capture_output=True,
                text=True,
            )
            if proc.returncode != 0 or not (staging / "usr/sbin/asterisk").exists():
                errors.append(f"{suite}: {proc.stderr.strip()[-400:] or proc.stdout.strip()[-400:]}")
                log(f"Debian {suite} gave no Asterisk root, trying the next suite")
                continue
            version = _prepare(staging)
            info = {"suite": suite, "asterisk": version, "packages": ",".join(PACKAGES)}
            (staging / ".callrouter-template.json").write_text(json.dumps(info))
            shutil.rmtree(root, ignore_errors=True)
            staging.rename(root)
            log(f"Asterisk root ready: Debian {suite}, Asterisk {version}, at {root}")
            _prune_old(cache, keep=root)
            return root
        raise SystemExit("could not build an Asterisk root:\n" + "\n".join(errors))


def _prepare(root: Path) -> str:
    """Make the fresh root fit for loopback-only use and return Asterisk's version."""
    # The inherited resolver does not answer here and Asterisk would block on
    # look-ups per call: name the host locally and point DNS at loopback.
    (root / "etc/hosts").write_text(
        "127.0.0.1 localhost\n127.0.1.1 " + os.uname().nodename + "\n::1 localhost\n"
    )
    (root / "etc/resolv.conf").unlink(missing_ok=True)
    (root / "etc/resolv.conf").write_text("nameserver 127.0.0.1\noptions timeout:1 attempts:1\n")
    # Debian's language links ("en", "ru_RU") point at alternatives that
    # debootstrap leaves unset: point each at its voice's folder
    # (en_US_f_Allison, ru_RU_f_IvrvoiceRU).
    sounds = root / "usr/share/asterisk/sounds"
    voices = sorted(p.name for p in sounds.iterdir() if p.is_dir() and not p.is_symlink())
    for link in sounds.iterdir():
        if not link.is_symlink() or link.exists():
            continue
        voice = next(
            (v for v in voices if v.startswith(link.name + "_") or v.split("_")[0] == link.name), None
        )
        if voice is not None:
            link.unlink()
            link.symlink_to(voice)
    # The package's sample configuration is replaced by the repo's at each start.
    shutil.rmtree(root / "etc/asterisk", ignore_errors=True)
    (root / "etc/asterisk").mkdir()
    out = subprocess.run(
        ["chroot", str(root), "/usr/sbin/asterisk", "-V"], capture_output=True, text=True, check=True
    )
    return out.stdout.strip().removeprefix("Asterisk ").strip()


def _prune_old(cache: Path, keep: Path) -> None:
    """Remove templates of older recipes that no running stack still uses."""
    mounts = Path("/proc/mounts").read_text()
    for old in cache.glob("rootfs-*"):
        if old == keep or old.name.endswith(".building") or not old.is_dir() or str(old) in mounts:
            continue
        log(f"removing an old Asterisk root: {old}")
        shutil.rmtree(old, ignore_errors=True)
