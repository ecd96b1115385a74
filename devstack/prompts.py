"""Generate the prompts' audio from ``prompts/<lang>.toml`` and install it.

Audio is 8 kHz mono 16-bit WAV made by espeak-ng and sox, cached in
``prompts/audio/`` by a hash of the words and voice, so only changed prompts
are made again. A prompt whose words name ``{organisation}`` is a template: it
is made once per line of the given config in every language, as ``<key>-<line
name>`` with the line's organisation (``greeting-clinic-central``), and never as
the key alone.
Music on hold is synthesised too.
"""

from __future__ import annotations

import fcntl
import hashlib
import shutil
import subprocess
import sys
import tempfile
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from devstack.util import ensure_debian_packages, log

ASTERISK_PROMPTS = "usr/share/callrouter/prompts"  # inside the Asterisk root
ASTERISK_MOH = "usr/share/asterisk/moh"
DEFAULT_CONFIG = "callrouter.example.toml"
TEMPLATE = "{organisation}"


def wanted(repo: Path, config: Path | None) -> dict[tuple[str, str], tuple[str, str]]:
    """{(language, key): (voice, words)} for every prompt to make."""
    catalogues = {}
    for path in sorted((repo / "prompts").glob("*.toml")):
        data = tomllib.loads(path.read_text())
        catalogues[path.stem] = data
    to_make: dict[tuple[str, str], tuple[str, str]] = {}
    for lang, data in catalogues.items():
        for key, words in data["prompts"].items():
            if TEMPLATE not in words:
                to_make[(lang, key)] = (data["voice"], words)
    config = config or repo / DEFAULT_CONFIG
    if config.exists():
        lines = tomllib.loads(config.read_text()).get("lines", [])
        # In every language, not only the line's: a result may be told to a patient in
        # another (its ``language``), and who is calling must be said in it too.
        for line in lines:
            for lang, catalogue in catalogues.items():
                for key, words in catalogue["prompts"].items():
                    if TEMPLATE in words:
                        spoken = words.replace(TEMPLATE, line["organisation"])
                        to_make[(lang, f"{key}-{line['name']}")] = (catalogue["voice"], spoken)
    return to_make


@contextmanager
def _cache(repo: Path) -> Iterator[Path]:
    """The checkout's prompt cache, one process at a time: stacks started side by side
    (the gate's two streams of end-to-end tests) share it."""
    out = repo / "prompts/audio"
    out.mkdir(parents=True, exist_ok=True)
    with open(out / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield out


def build(repo: Path, config: Path | None = None) -> Path:
    """The prompts made (those missing or changed)."""
    with _cache(repo) as out:
        return _build(repo, config, out)


def _build(repo: Path, config: Path | None, out: Path) -> Path:
    ensure_debian_packages({"sox": "sox", "espeak-ng": "espeak-ng"})
    made = 0
    for (lang, key), (voice, words) in wanted(repo, config).items():
        digest = hashlib.sha256(f"{voice}\0{words}".encode()).hexdigest()[:16]
        target = out / lang / f"{key}.wav"
        stamp = target.with_suffix(".sha")
        if target.exists() and stamp.exists() and stamp.read_text() == digest:
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(suffix=".wav") as raw:
            subprocess.run(["espeak-ng", "-v", voice, "-s", "150", "-w", raw.name, words], check=True)
            subprocess.run(["sox", raw.name, "-r", "8000", "-c", "1", "-b", "16", str(target)], check=True)
        stamp.write_text(digest)
        made += 1
    moh = out / "moh/callrouter-hold.wav"
    if not moh.exists():
        moh.parent.mkdir(parents=True, exist_ok=True)
        # A soft two-tone chime, 20 s, as music on hold.
        subprocess.run(
            [
                "sox",
                "-n",
                "-r",
                "8000",
                "-c",
                "1",
                "-b",
                "16",
                str(moh),
                "synth",
                "0.6",
                "sine",
                "523",
                "sine",
                "659",
                "sine",
                "784",
                "sine",
                "659",
                "vol",
                "0.25",
                "pad",
                "0",
                "0.4",
                "repeat",
                "19",
            ],
            check=True,
        )
    if made:
        log(f"made {made} prompt(s) in {out}")
    return out


def install(repo: Path, root: Path, config: Path | None = None) -> None:
    """The prompts made and copied into an Asterisk root, the cache held all along (never
    copied while another process writes it)."""
    with _cache(repo) as audio:
        _install(_build(repo, config, audio), root)


def _install(audio: Path, root: Path) -> None:
    target = root / ASTERISK_PROMPTS
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(audio, target, ignore=shutil.ignore_patterns("*.sha", ".lock", "moh"))
    moh = root / ASTERISK_MOH
    moh.mkdir(parents=True, exist_ok=True)
    for wav in (audio / "moh").glob("*.wav"):
        shutil.copy2(wav, moh / wav.name)


if __name__ == "__main__":
    build(Path(__file__).resolve().parent.parent, Path(sys.argv[1]) if len(sys.argv) > 1 else None)
