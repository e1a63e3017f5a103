"""Call lists: CSV in, E.164 contacts out; every bad row reported with its row number."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from phonenumbers import timezone as pn_timezone

from survey_scripts.errors import UsageError

COLUMNS = ("phone", "name", "district", "language", "timezone")


@dataclass(frozen=True)
class Contact:
    e164: str
    name: str = ""
    district: str = ""
    language: str = ""
    timezone: str = ""
    row: int = 0


@dataclass
class Rejected:
    row: int
    reason: str


@dataclass
class ParsedList:
    contacts: list[Contact] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    duplicates: int = 0
    dnc: int = 0


def mask(e164: str) -> str:
    """+8613812345678 -> +86138****5678: enough to tell calls apart, never the number."""
    if len(e164) < 8:
        return "*" * len(e164)
    return e164[:6] + "*" * (len(e164) - 10) + e164[-4:]


def normalize(raw: str, region: str) -> tuple[str | None, str]:
    """E.164 for a number as written, or None and the reason it is not a number."""
    text = raw.strip()
    if not text:
        return None, "the phone cell is empty"
    try:
        num = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as e:
        return None, f"not a phone number ({e._msg})"
    if not phonenumbers.is_possible_number(num):
        return None, "wrong number of digits for its country"
    if not phonenumbers.is_valid_number(num):
        return None, "not a valid number in its country"
    return phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.E164), ""


def zone_for(e164: str, given: str) -> str:
    """The callee's time zone: the list's column if given, else the number's region."""
    if given:
        return given
    zones = pn_timezone.time_zones_for_number(phonenumbers.parse(e164))
    return zones[0] if zones and zones[0] != "Etc/Unknown" else "UTC"


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as e:
        raise UsageError(f"{path}: not UTF-8 text (byte {e.start}); save the list as "
                         "CSV UTF-8 and load it again") from e
    except OSError as e:
        raise UsageError(f"{path}: cannot read the call list ({e.strerror})") from e


def read_rows(path: Path) -> list[dict[str, str]]:
    """Rows as dicts keyed by lower-case column names; the delimiter is detected."""
    text = _read_text(path)
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(
            text[:8192], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text), dialect)
    header = [h.strip().lower() for h in next(reader, [])]
    if "phone" not in header:
        found = ", ".join(header) or "nothing"
        raise UsageError(f"{path}: line 1: no 'phone' column (found: {found}); the header "
                         f"needs phone and may have {', '.join(COLUMNS[1:])}")
    rows = [dict(zip(header, (c.strip() for c in r), strict=False)) for r in reader]
    return rows


def parse_list(path: Path, region: str, dnc: set[str], known: set[str]) -> ParsedList:
    """Contacts to add: valid, not on the do-not-call list, not already in the campaign."""
    rows = read_rows(path)
    out = ParsedList()
    seen = set(known)
    for i, row in enumerate(rows, start=2):  # row 1 is the header
        if not any(row.values()):
            continue
        e164, reason = normalize(row.get("phone", ""), region)
        tz = row.get("timezone", "")
        if e164 and tz:
            try:
                ZoneInfo(tz)
            except (ZoneInfoNotFoundError, ValueError):
                e164, reason = None, f"unknown time zone {tz!r} (use a name like Asia/Shanghai)"
        if e164 is None:
            out.rejected.append(Rejected(i, reason))
        elif e164 in dnc:
            out.dnc += 1
            out.rejected.append(Rejected(i, f"{mask(e164)} is on the do-not-call list"))
        elif e164 in seen:
            out.duplicates += 1
        else:
            seen.add(e164)
            out.contacts.append(Contact(e164, row.get("name", ""), row.get("district", ""),
                                        row.get("language", ""), zone_for(e164, tz), i))
    return out


def read_dnc(path: Path | None, region: str) -> set[str]:
    """A do-not-call file: one number per line, or a CSV with a phone column."""
    if path is None:
        return set()
    text = _read_text(path)
    first = text.splitlines()[0].lower() if text.strip() else ""
    cells = ([r.get("phone", "") for r in read_rows(path)] if "phone" in first
             else text.splitlines())
    return {e for e, _ in (normalize(c, region) for c in cells if c.strip()) if e}
