"""Campaign settings with their documented defaults, in one place."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, fields

from survey_scripts.errors import UsageError
from survey_scripts.vocabulary import Outcome

RETRYABLE = tuple(o.value for o in (Outcome.NO_ANSWER, Outcome.BUSY, Outcome.VOICEMAIL,
                                    Outcome.PARTIAL))
MIN_RETRY_MINUTES = 5.0  # no number is dialled again sooner: a retry is not harassment
MAX_ATTEMPTS = 10


CPS_MIN, CPS_MAX = 0.01, 10_000.0  # calls started per second: one per 100 s, at least


def cps_problem(cps: object) -> str | None:
    """Why a calls-per-second value cannot be used, or None. One rule for the CLI, the
    console and a value read back from the store."""
    if not isinstance(cps, int | float) or isinstance(cps, bool) or not math.isfinite(cps) \
            or not CPS_MIN <= cps <= CPS_MAX:
        return f"cps must be a number of calls per second from {CPS_MIN:g} to {CPS_MAX:g}"
    return None


def record_share(policy: str) -> float | None:
    """The share of calls a policy records at least (failed: 0, decided per call); None if
    the policy is not one."""
    if policy in ("none", "failed"):
        return 0.0
    if policy == "all":
        return 1.0
    if policy.startswith("sample:"):
        try:
            pct = float(policy[7:])
        except ValueError:
            return None
        return pct / 100 if 0 < pct <= 100 else None
    return None


@dataclass(frozen=True)
class CampaignSettings:
    """How a campaign calls: calling hours in the callee's local time, retries per outcome."""

    hours_start: int = 9  # 09:00 local
    hours_end: int = 20  # 20:00 local; no call starts at or after this hour
    max_attempts: int = 3
    retry_minutes: tuple[float, ...] = (15, 45, 24 * 60)  # before attempt 2, 3, 4...
    retry_outcomes: tuple[str, ...] = RETRYABLE
    # a call dropped inside healthdial or on the line: tried again this much later without
    # using up an attempt, and set aside after this many drops in a row
    drop_retry_minutes: float = 5.0
    max_drops: int = 3
    # which calls are recorded: none, all, failed (a reprompt, a denied read-back, the keypad,
    # an unanswered question or a drop) or sample:PCT; kept this many days
    record: str = "none"
    keep_days: float = 30.0

    def checked(self) -> CampaignSettings:
        """These settings, or a UsageError saying which makes no sense (a number dialled
        50 times in 12 minutes, calling hours that end before they start)."""
        if not 0 <= self.hours_start < self.hours_end <= 24:
            raise UsageError(f"calling hours {self.hours_start}-{self.hours_end}: need "
                             "0 <= START < END <= 24, e.g. --hours 9-20")
        if not 1 <= self.max_attempts <= MAX_ATTEMPTS:
            raise UsageError(f"--max-attempts {self.max_attempts}: use 1 to {MAX_ATTEMPTS}")
        if not self.retry_minutes or any(
                not MIN_RETRY_MINUTES <= m <= 60 * 24 * 30 for m in self.retry_minutes):
            raise UsageError(f"--retry-minutes {','.join(f'{m:g}' for m in self.retry_minutes)}"
                             f": each wait must be {MIN_RETRY_MINUTES:g} minutes to 30 days")
        if record_share(self.record) is None:
            raise UsageError(f"--record {self.record[:30]!r}: use none, all, failed or "
                             "sample:PCT (e.g. sample:5)")
        if not 0 < self.keep_days <= 3650:
            raise UsageError(f"--keep-days {self.keep_days:g}: use 1 day to 10 years")
        return self

    def retry_after_s(self, attempt: int) -> float:
        """Seconds to wait after attempt number `attempt` (1-based) before the next one."""
        minutes = self.retry_minutes[min(attempt - 1, len(self.retry_minutes) - 1)]
        return minutes * 60

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> CampaignSettings:
        """Settings as stored; fields added by a later release take their defaults."""
        d = json.loads(text)
        known = {f.name for f in fields(cls)}
        d = {k: tuple(v) if isinstance(v, list) else v for k, v in d.items() if k in known}
        return cls(**d)
