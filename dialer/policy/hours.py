"""Calling hours in the callee's local time.

A number may be in several zones (a Russian mobile in sixteen, a US toll-free number
in dozens): its `timezone` is then the list of them, space-separated, and a call
starts only at an hour that is inside the calling window in every one of them. A
number whose zones never share such an hour cannot be called; `load` rejects it and
asks for a `timezone` column.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from dialer.policy.settings import CampaignSettings

_SEARCH = 64  # zone-by-zone jumps before a window is declared never open (8 days' worth)


@lru_cache(maxsize=512)
def _zone(tz: str) -> ZoneInfo:
    return ZoneInfo(tz)


def zones(tz: str) -> tuple[str, ...]:
    """The zones a stored `timezone` names (one, or several space-separated)."""
    return tuple(tz.split()) or ("UTC",)


def local(t: float, tz: str) -> datetime:
    return datetime.fromtimestamp(t, _zone(zones(tz)[0]))


def _open_in(t: float, zone: str, s: CampaignSettings) -> bool:
    return s.hours_start <= datetime.fromtimestamp(t, _zone(zone)).hour < s.hours_end


def is_open(t: float, tz: str, s: CampaignSettings) -> bool:
    return all(_open_in(t, z, s) for z in zones(tz))


def _next_open_in(t: float, zone: str, s: CampaignSettings) -> float:
    now = datetime.fromtimestamp(t, _zone(zone))
    if s.hours_start <= now.hour < s.hours_end:
        return t
    day = now.date() if now.hour < s.hours_start else now.date() + timedelta(days=1)
    return datetime.combine(day, time(s.hours_start), _zone(zone)).timestamp()


def next_open(t: float, tz: str, s: CampaignSettings) -> float | None:
    """`t` if calling is allowed then in every zone, else the next such moment; None
    when the zones' windows never overlap."""
    for _ in range(_SEARCH):
        later = max(_next_open_in(t, z, s) for z in zones(tz))
        if later == t:
            return t
        t = later
    return None


def never_open(tz: str, s: CampaignSettings, t: float) -> bool:
    return len(zones(tz)) > 1 and next_open(t, tz, s) is None


def planned_hour(start_at: float, attempt: int, tz: str, s: CampaignSettings) -> int:
    """The callee's local hour an attempt was planned for (the campaign's start plus the
    retry waits before it, moved into calling hours): a simulated population answers by
    it, so its calls do not depend on when the run happened."""
    planned = start_at + sum(s.retry_after_s(k) for k in range(1, attempt))
    opens = next_open(planned, tz, s)
    return local(planned if opens is None else opens, tz).hour
