"""Calling hours in the callee's local time."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from dialer.settings import CampaignSettings


@lru_cache(maxsize=512)
def _zone(tz: str) -> ZoneInfo:
    return ZoneInfo(tz)


def local(t: float, tz: str) -> datetime:
    return datetime.fromtimestamp(t, _zone(tz))


def is_open(t: float, tz: str, s: CampaignSettings) -> bool:
    return s.hours_start <= local(t, tz).hour < s.hours_end


def next_open(t: float, tz: str, s: CampaignSettings) -> float:
    """`t` if calling is allowed then, else the next opening in the callee's zone."""
    now = local(t, tz)
    if s.hours_start <= now.hour < s.hours_end:
        return t
    day = now.date() if now.hour < s.hours_start else now.date() + timedelta(days=1)
    return datetime.combine(day, time(s.hours_start), _zone(tz)).timestamp()
