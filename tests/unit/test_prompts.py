"""The prompt catalogues, the check that a config's prompts exist, and which audio is made.

A prompt naming ``{organisation}`` is a template: its audio is made per line
(``<key>-<line name>``) and the catalogue check asks for the template's key.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from callrouter import config_tables, prompts
from devstack import prompts as audio

REPO = Path(__file__).resolve().parents[2]
LANGUAGES = ("en", "ru")


def words(language: str) -> dict[str, str]:
    found = prompts.catalogue(REPO / "prompts", language)
    assert found is not None
    return found


def test_every_language_has_the_same_keys() -> None:
    assert set(words("en")) == set(words("ru"))


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_results_prompts_are_in_every_language(language: str) -> None:
    catalogue = words(language)
    assert set(prompts.RESULTS) <= set(catalogue)
    templates = {key for key in prompts.RESULTS if "{organisation}" in catalogue[key]}
    assert templates == {"results_greeting"}


def test_results_prompts_are_checked_when_asked_for(tmp_path: Path) -> None:
    parts = config_tables.split(
        tomllib.loads((REPO / "callrouter.example.toml").read_text(encoding="utf-8")), []
    )
    assert prompts.missing(parts, REPO / "prompts", also=prompts.RESULTS) == []
    for language in LANGUAGES:
        text = (REPO / "prompts" / f"{language}.toml").read_text(encoding="utf-8")
        kept = [line for line in text.splitlines() if not line.startswith("results_goodbye =")]
        (tmp_path / f"{language}.toml").write_text("\n".join(kept), encoding="utf-8")
    assert prompts.missing(parts, tmp_path) == []  # without [results], not needed
    assert prompts.missing(parts, tmp_path, also=prompts.RESULTS) == [
        f"prompts: 'results_goodbye' is missing in {tmp_path / language}.toml" for language in ("ru", "en")
    ]


# ---- the audio devstack/prompts.py makes -------------------------------------------------
CATALOGUE = """\
voice = "en-us"

[prompts]
greeting = "Welcome to {organisation}."
results_greeting = "This is {organisation}, about your test."
goodbye = "Goodbye."
"""
LINES = """\
[[lines]]
name = "clinic-central"
organisation = "Central Polyclinic"

[[lines]]
name = "hotline"
organisation = "the Health Hotline"
language = "en"

[[lines]]
name = "clinic-north"
organisation = "North Polyclinic"
language = "de"
"""


def test_every_template_is_made_per_line_in_every_language_and_not_as_its_key(tmp_path: Path) -> None:
    (tmp_path / "prompts").mkdir()
    (tmp_path / "prompts" / "en.toml").write_text(CATALOGUE, encoding="utf-8")
    (tmp_path / "lines.toml").write_text(LINES, encoding="utf-8")
    made = audio.wanted(tmp_path, tmp_path / "lines.toml")
    assert made == {
        ("en", "goodbye"): ("en-us", "Goodbye."),
        ("en", "greeting-clinic-central"): ("en-us", "Welcome to Central Polyclinic."),
        ("en", "greeting-hotline"): ("en-us", "Welcome to the Health Hotline."),
        ("en", "results_greeting-clinic-central"): ("en-us", "This is Central Polyclinic, about your test."),
        ("en", "results_greeting-hotline"): ("en-us", "This is the Health Hotline, about your test."),
        # the German line in English too: a result may be told in another language than its line's
        ("en", "greeting-clinic-north"): ("en-us", "Welcome to North Polyclinic."),
        ("en", "results_greeting-clinic-north"): ("en-us", "This is North Polyclinic, about your test."),
    }  # and nothing in German, which has no catalogue


def test_the_repositorys_catalogues_make_the_results_greeting_per_line() -> None:
    made = audio.wanted(REPO, None)  # the example config
    lines = tomllib.loads((REPO / "callrouter.example.toml").read_text(encoding="utf-8"))["lines"]
    languages = {path.stem for path in (REPO / "prompts").glob("*.toml")}
    assert languages >= {"ru", "en"}
    for line in lines:
        for language in languages:  # a result in English for a Russian line says who calls, in English
            key = (language, f"results_greeting-{line['name']}")
            assert line["organisation"] in made[key][1]
    assert not {key for _, key in made} & {"greeting", "results_greeting"}
