"""User-facing errors: every problem found is reported at once, never as a traceback."""
from __future__ import annotations

import difflib
from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the user's input.

    where: the file (and key) at fault, e.g. ``datasets/foo.yaml: target``.
    rule: what must hold.  value: what was given.  fix: how to mend it.
    """

    where: str
    rule: str
    value: object = None
    fix: str = ""

    def __str__(self) -> str:
        text = f"{self.where}: {self.rule}"
        if self.value is not None:
            text += f" (got {self.value!r})"
        if self.fix:
            text += f". Fix: {self.fix}"
        return text


class ConfigError(Exception):
    """Raised with all problems found in the input; the CLI prints them and exits with code 2."""

    def __init__(self, problems: list[Problem]):
        self.problems = list(problems)
        super().__init__(self.render())

    def render(self) -> str:
        n = len(self.problems)
        head = f"{n} problem{'s' if n != 1 else ''} found before any compute started:"
        return "\n".join([head] + [f"  - {p}" for p in self.problems])


def raise_if(problems: list[Problem]) -> None:
    if problems:
        raise ConfigError(problems)


def did_you_mean(name: str, options) -> str:
    """The words ``(did you mean X?)`` for the option closest to a misspelt ``name``; empty
    when none is close."""
    match = difflib.get_close_matches(str(name), sorted(map(str, options)), n=1)
    return f" (did you mean {match[0]}?)" if match else ""
