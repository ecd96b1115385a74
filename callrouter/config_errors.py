"""Which of pydantic's validation errors are worth telling an operator (the config's
and a scenario's lists of ``path: message`` lines)."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import ValidationError
from pydantic_core import ErrorDetails


def named_errors(exc: ValidationError) -> list[ErrorDetails]:
    """The errors worth saying: a list whose bad items are named is not also "too short"
    (pydantic counts only the items that passed)."""
    errors = exc.errors()
    named = {tuple(err["loc"][:-1]) for err in errors if err["loc"] and isinstance(err["loc"][-1], int)}
    return [err for err in errors if not _short_of_its_bad_items(err, named)]


def _short_of_its_bad_items(err: ErrorDetails, named: set[tuple[str | int, ...]]) -> bool:
    """Too short only because its bad items were left out: as given, it is long enough."""
    if err["type"] != "too_short" or tuple(err["loc"]) not in named:
        return False
    given, least = err.get("input"), (err.get("ctx") or {}).get("min_length")
    return isinstance(given, list | tuple) and isinstance(least, int) and len(given) >= least


def from_environment(problems: list[str], overridden: dict[str, str]) -> list[str]:
    """Each problem of a key whose value came from the environment says so (it is not
    the file's): ``ari.url (CALLROUTER_ARI_URL): ...``."""
    said = []
    for problem in problems:
        path, colon, rest = problem.partition(":")
        variable = overridden.get(path)
        said.append(f"{path} ({variable}){colon}{rest}" if variable is not None and colon else problem)
    return said


def error_path(loc: Sequence[int | str]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"
