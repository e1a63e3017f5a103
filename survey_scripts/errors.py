"""The one exception tree of healthdial.

    HealthdialError                 anything healthdial raises on purpose
    ├── SurveyError                 a survey file is wrong (file, line, what to do)
    ├── RuleError                   a `when:` or risk expression cannot be evaluated
    ├── AudioError                  an audio file cannot be read or is empty
    ├── EngineError                 a speech engine or model cannot be used
    └── UsageError                  a command was called wrongly

Entry points catch HealthdialError and print its message: a user mistake is
never a traceback. Every message says what was wrong, where, and what to do.
"""

from __future__ import annotations


class HealthdialError(Exception):
    """Base of every error healthdial raises on purpose."""


class SurveyError(HealthdialError):
    """A survey file has mistakes; `problems` lists each with its line."""

    def __init__(self, path: str, problems: list[str]) -> None:
        self.path = path
        self.problems = problems
        lines = "\n".join(f"  {p}" for p in problems)
        super().__init__(f"{path}: {len(problems)} problem(s) in the survey file:\n{lines}")


class RuleError(HealthdialError):
    """An expression in a survey could not be evaluated."""


class AudioError(HealthdialError):
    """An audio file cannot be used."""


class EngineError(HealthdialError):
    """A speech engine or its model cannot be used."""


class UsageError(HealthdialError):
    """A command was called with arguments that cannot work."""
