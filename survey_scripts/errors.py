"""The one exception tree of healthdial.

    HealthdialError                 anything healthdial raises on purpose    exit 2
    ├── SurveyError                 a survey file is wrong (file, line, what to do)
    ├── RuleError                   a `when:` or risk expression cannot be evaluated
    ├── AudioError                  an audio file cannot be read or is empty
    ├── EngineError                 a speech engine or model cannot be used
    ├── UsageError                  a command was called wrongly, or its input is bad
    │   └── CampaignBusy            another live `run` holds the campaign     exit 5
    ├── StoreError                  the campaign store cannot be opened, read or written
    │                                                                         exit 3
    ├── QueueError                  Redis cannot be reached or the URL is wrong   exit 4
    └── TrunkError                  the SIP trunk cannot be reached, or refuses our
                                    credentials                               exit 6

Entry points catch HealthdialError, print its message and exit with its
`exit_code`: a user mistake is never a traceback. Every message says what was
wrong, where, and what to do.
"""

from __future__ import annotations


class HealthdialError(Exception):
    """Base of every error healthdial raises on purpose."""

    exit_code = 2


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


class CampaignBusy(UsageError):
    """Another live process dispatches this campaign: one campaign, one dispatcher."""

    exit_code = 5


class StoreError(HealthdialError):
    """The SQLite store cannot be opened, read or written (path, permissions, disk)."""

    exit_code = 3


class QueueError(HealthdialError):
    """Redis cannot be reached, or its URL is malformed."""

    exit_code = 4


class TrunkError(HealthdialError):
    """The SIP trunk cannot be resolved or reached, or refuses our credentials."""

    exit_code = 6
