"""Call lists and do-not-call lists: CSV in, E.164 numbers out; every bad row reported
with its row number, and the good rows kept."""

from __future__ import annotations

import csv
import io
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from zoneinfo import available_timezones

import phonenumbers
from phonenumbers import timezone as pn_timezone

from survey_scripts.errors import UsageError

COLUMNS = ("phone", "name", "district", "language", "timezone")
MAX_CELL = 1000  # characters in one cell; a longer one is a row error, not a list error
MAX_BYTES = 512 * 1024 * 1024  # a call list over this is refused before it is read
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# what a spreadsheet runs as a formula at the start of a cell; reports put an apostrophe
# before it, and a list read back takes the apostrophe off
FORMULA = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class Contact:
    e164: str
    ext: str = ""  # dialled as keypad tones once the line answers
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


@dataclass
class DncList:
    numbers: list[tuple[str, str]] = field(default_factory=list)  # (e164, ext); ext "" = all
    rejected: list[Rejected] = field(default_factory=list)


def mask(e164: str, ext: str = "") -> str:
    """+8613812345678 -> +86138****5678: enough to tell calls apart, never the number."""
    shown = "*" * len(e164) if len(e164) < 8 else e164[:6] + "*" * (len(e164) - 10) + e164[-4:]
    return f"{shown} x{ext}" if ext else shown


def printable(text: str | None) -> str:
    """Text from a list, safe on a terminal: control characters (escape sequences) shown
    as `?`, never sent raw."""
    return _CONTROL.sub("?", text or "")


def supported_region(region: str) -> bool:
    return region in phonenumbers.SUPPORTED_REGIONS


def normalize(raw: str, region: str) -> tuple[str | None, str, str]:
    """(E.164, extension, "") for a number as written, or (None, "", why it is not one).
    A leading apostrophe (a spreadsheet's text marker, as in revealed reports) is dropped."""
    text = raw.strip().lstrip("'").strip()
    if not text:
        return None, "", "the phone cell is empty"
    try:
        num = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as e:
        return None, "", f"not a phone number ({e._msg})"
    if not phonenumbers.is_possible_number(num):
        return None, "", "wrong number of digits for its country"
    if not phonenumbers.is_valid_number(num):
        return None, "", "not a valid number in its country"
    ext = num.extension or ""
    if ext and not ext.isdigit():
        return None, "", f"extension {ext!r} is not digits"
    return phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.E164), ext, ""


@lru_cache(maxsize=1)
def _zones() -> frozenset[str]:
    return frozenset(available_timezones())


def valid_zone(tz: str) -> bool:
    """A zone name the zone database knows (a folder such as 'America' is not one). A
    `timezone` cell may list several, space-separated (as `report` writes them)."""
    return tz in _zones()


def zone_for(e164: str, given: str) -> str:
    """The callee's time zone: the list's column if given, else every zone the number may
    be in, space-separated (dialer/hours.py calls only when all of them allow it)."""
    if given:
        return given
    zones = [z for z in pn_timezone.time_zones_for_number(phonenumbers.parse(e164))
             if z in _zones()]
    return " ".join(sorted(set(zones))) or "UTC"


def _read_text(path: Path, what: str) -> str:
    try:
        if path.stat().st_size > MAX_BYTES:
            raise UsageError(f"{path}: the {what} is over {MAX_BYTES // 2**20} MB; split it")
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as e:
        raise UsageError(f"{path}: not UTF-8 text (byte {e.start}); save the {what} as "
                         "CSV UTF-8 and load it again") from e
    except IsADirectoryError as e:
        raise UsageError(f"{path}: is a folder; give the {what} file") from e
    except OSError as e:
        raise UsageError(f"{path}: cannot read the {what} ({e.strerror})") from e


def _records(text: str) -> Iterator[tuple[int, list[str] | str]]:
    """(row number, cells) per record, or (row, reason) for a record csv cannot read: one
    bad record never stops the list. Row 1 is the first record, as a spreadsheet counts."""
    old = csv.field_size_limit(sys.maxsize)  # long cells become row errors below
    try:
        # only the delimiter is detected: the quote is always ", as spreadsheets write it
        # (the sniffer took the apostrophe of '+1202...;ext=101 for a quote and merged rows)
        reader = csv.reader(io.StringIO(text), delimiter=_delimiter(text), quotechar='"',
                            doublequote=True, strict=True)
        row = 0
        while True:
            row += 1
            first = reader.line_num + 1
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as e:
                yield row, f"unreadable row ({e})"
                continue
            if reader.line_num > first and any("\n" in c or "\r" in c for c in cells):
                yield row, (f"a quote opened on line {first} is not closed before line "
                            f"{reader.line_num}: lines {first} to {reader.line_num} were read "
                            "as one row and none of them was loaded; close the quote")
                row += reader.line_num - first  # the rows it swallowed keep their numbers
                continue
            long = max((len(c) for c in cells), default=0)
            if long > MAX_CELL:
                yield row, f"a cell of {long} characters (at most {MAX_CELL})"
                continue
            yield row, cells
    finally:
        csv.field_size_limit(old)


def _delimiter(text: str) -> str:
    """Comma, semicolon or tab: the sniffer's choice, else the one the header has most of."""
    try:
        found = csv.Sniffer().sniff(text[:8192], delimiters=",;\t").delimiter
    except csv.Error:
        found = ""
    header = text.split("\n", 1)[0]
    counts = {d: header.count(d) for d in ",;\t"}
    if found in counts and counts[found] > 0:
        return found
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def read_rows(path: Path, what: str = "call list") -> tuple[list[tuple[int, dict[str, str]]],
                                                            list[Rejected]]:
    """Rows as dicts keyed by lower-case column names, with their row numbers; the
    delimiter is detected. Rows csv cannot read come back as rejected."""
    return rows_of(_read_text(path, what), str(path))


def _unmarked(cell: str) -> str:
    """A report's formula guard taken off: `'=HYPERLINK(...)` is the text =HYPERLINK(...)
    (healthdial's reports put the apostrophe there; it is never part of a name)."""
    return cell[1:] if cell.startswith("'") and cell[1:2].startswith(FORMULA) else cell


def rows_of(text: str, path: str) -> tuple[list[tuple[int, dict[str, str]]], list[Rejected]]:
    records = _records(text)
    first = next(records, None)
    header = [h.strip().lower() for h in first[1]] if first and isinstance(first[1], list) else []
    twice = sorted({h for h in header if h in COLUMNS and header.count(h) > 1})
    if twice:
        cols = [str(i + 1) for i, h in enumerate(header) if h == twice[0]]
        raise UsageError(f"{path}: line 1: the column {twice[0]!r} appears {len(cols)} times "
                         f"(columns {', '.join(cols)}); keep one, or rename the others")
    if "phone" not in header:
        found = ", ".join(printable(h)[:40] for h in header) or "nothing"
        raise UsageError(f"{path}: line 1: no 'phone' column (found: {found}); the header "
                         f"needs phone and may have {', '.join(COLUMNS[1:])}")
    rows, rejected = [], []
    for row, cells in records:
        if isinstance(cells, str):
            rejected.append(Rejected(row, cells))
        else:
            rows.append((row, dict(zip(header, (_unmarked(c.strip()) for c in cells),
                                       strict=False))))
    return rows, rejected


def parse_list(path: Path, region: str, blocked: set[tuple[str, str]],
               known: set[tuple[str, str]]) -> ParsedList:
    """Contacts to add: valid, not blocked (do-not-call or opted out; a bare number blocks
    every extension), not already in the campaign (number and extension)."""
    rows, rejected = read_rows(path)
    out = ParsedList(rejected=rejected)
    seen = set(known)
    for i, row in rows:
        if not any(row.values()):
            continue
        e164, ext, reason = normalize(row.get("phone", ""), region)
        tz = row.get("timezone", "")
        if e164 and tz and not all(valid_zone(z) for z in tz.split()):
            e164, reason = None, (f"unknown time zone {printable(tz)[:60]!r} (use a name like "
                                  "Asia/Shanghai)")
        if e164 is None:
            out.rejected.append(Rejected(i, reason))
        elif (e164, "") in blocked or (e164, ext) in blocked:
            out.dnc += 1  # kept out as it must be: counted, not "rejected" (not an error)
        elif (e164, ext) in seen:
            out.duplicates += 1
        else:
            seen.add((e164, ext))
            out.contacts.append(Contact(e164, ext, row.get("name", ""), row.get("district", ""),
                                        row.get("language", ""), zone_for(e164, tz), i))
    out.rejected.sort(key=lambda r: r.row)
    return out


def read_dnc(path: Path, region: str) -> DncList:
    """A do-not-call file: a CSV with a phone column, or a number per line (anything after
    a comma, semicolon or tab on the line is a note). Every unreadable line is reported."""
    return parse_dnc(_read_text(path, "do-not-call list"), region, str(path))


def parse_dnc(text: str, region: str, source: str = "the do-not-call list") -> DncList:
    first = text.splitlines()[0].lower() if text.strip() else ""
    out = DncList()
    if "phone" in first:
        rows, out.rejected = rows_of(text, source)
        cells = [(i, r.get("phone", "")) for i, r in rows]
    else:
        cells = [(i, re.split(r"[,;\t]", line, maxsplit=1)[0])
                 for i, line in enumerate(text.splitlines(), start=1)]
    for i, cell in cells:
        if not cell.strip() or cell.lstrip().startswith("#"):
            continue
        if len(cell) > MAX_CELL:
            out.rejected.append(Rejected(i, f"a cell of {len(cell)} characters"))
            continue
        e164, ext, reason = normalize(cell, region)
        if e164 is None:
            out.rejected.append(Rejected(i, reason))
        else:
            out.numbers.append((e164, ext))
    out.rejected.sort(key=lambda r: r.row)
    return out
