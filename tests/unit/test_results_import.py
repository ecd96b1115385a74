"""The import's report: problems in line order, a progress line only on a terminal
(never run into by a problem), and the summary's counts."""

from __future__ import annotations

import io
from collections import Counter
from pathlib import Path

import pytest

from callrouter.results_import import Report, Summary


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_on_a_terminal_the_progress_line_is_cleared_before_problems_and_at_the_end() -> None:
    screen = Terminal()
    report = Report(screen, 1000)
    report.progress(500)
    report.problems([(7, "phone", "not a phone number"), (3, "secret", "required")])
    report.progress(1000)
    report.done()
    progress = "\r500/1000 rows (50%)"
    blank = "\r" + " " * (len(progress) - 1) + "\r"
    assert screen.getvalue() == (
        progress + blank + "line 3: secret: required\nline 7: phone: not a phone number\n"
        "\r1000/1000 rows (100%)" + "\r" + " " * 21 + "\r"
    )


def test_elsewhere_only_the_problems() -> None:
    log = io.StringIO()
    report = Report(log, 10)
    report.progress(5)
    report.problems([(2, "row", "has 2 fields, the header 6")])
    report.done()
    assert log.getvalue() == "line 2: row: has 2 fields, the header 6\n"


def test_the_summary_counts_rows_and_reasons_most_first() -> None:
    summary = Summary(3, 1, 2, Counter({"phone: not a phone number": 1, "secret: required": 2}))
    assert summary.total == 6
    assert summary.lines() == [
        "accepted:   3",
        "duplicates: 1",
        "rejected:   2",
        "       2  secret: required",
        "       1  phone: not a phone number",
        "total:      6",
    ]


def test_an_import_without_a_pepper_says_so(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path, clean_cli: None
) -> None:
    """The router warns at start; the import, which hashes the secrets, said nothing."""
    from callrouter import cli, results_import
    from callrouter.store import notifications

    monkeypatch.delenv("CALLROUTER_RESULTS_PEPPER", raising=False)
    monkeypatch.setattr(notifications, "Notifications", lambda *args, **kwargs: None)
    monkeypatch.setattr(results_import, "run", lambda *args: 0)
    example = str(Path(__file__).resolve().parents[2] / "callrouter.example.toml")
    assert cli.main(["results", "import", str(tmp_path / "r.csv"), "-c", example]) == 0
    assert "hashed without a pepper" in capsys.readouterr().err
    monkeypatch.setenv("CALLROUTER_RESULTS_PEPPER", "p" * 64)
    assert cli.main(["results", "import", str(tmp_path / "r.csv"), "-c", example]) == 0
    assert "pepper" not in capsys.readouterr().err
