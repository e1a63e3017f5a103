"""Campaign settings with their documented defaults, in one place."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

RETRYABLE = ("no_answer", "busy", "voicemail", "partial")
OUTCOMES = ("invalid_number", "busy", "no_answer", "voicemail", "refused", "opted_out",
            "partial", "completed")


@dataclass(frozen=True)
class CampaignSettings:
    """How a campaign calls: calling hours in the callee's local time, retries per outcome."""

    hours_start: int = 9  # 09:00 local
    hours_end: int = 20  # 20:00 local; no call starts at or after this hour
    max_attempts: int = 3
    retry_minutes: tuple[float, ...] = (15, 45, 24 * 60)  # before attempt 2, 3, 4...
    retry_outcomes: tuple[str, ...] = RETRYABLE
    extra: dict[str, str] = field(default_factory=dict)

    def retry_after_s(self, attempt: int) -> float:
        """Seconds to wait after attempt number `attempt` (1-based) before the next one."""
        minutes = self.retry_minutes[min(attempt - 1, len(self.retry_minutes) - 1)]
        return minutes * 60

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> CampaignSettings:
        d = json.loads(text)
        d["retry_minutes"] = tuple(d["retry_minutes"])
        d["retry_outcomes"] = tuple(d["retry_outcomes"])
        return cls(**d)
