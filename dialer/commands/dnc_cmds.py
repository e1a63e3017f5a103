"""`dnc add|list|remove`: the store's do-not-call list, which every campaign obeys."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dialer.commands.common import audit_reveal, db_arg
from dialer.policy.contacts import mask, normalize, printable
from survey_scripts.errors import UsageError


def register(sub: Any) -> None:
    dnc = sub.add_parser("dnc", help="the do-not-call list, for every campaign in the store")
    verbs = dnc.add_subparsers(dest="verb", required=True)
    add = verbs.add_parser("add", help="block the numbers in a file (one per line, or a "
                                       "phone column); a bare number blocks its extensions")
    db_arg(add)
    add.add_argument("file")
    add.add_argument("--region", default="CN", help="region of national numbers (default CN)")
    add.add_argument("--lenient", action="store_true",
                     help="exit 0 even if some lines are unreadable")
    add.add_argument("--json", action="store_true")
    add.set_defaults(func=cmd_add)
    ls = verbs.add_parser("list", help="the blocked numbers, masked")
    db_arg(ls)
    ls.add_argument("--reveal", action="store_true", help="show full numbers")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=cmd_list)
    rm = verbs.add_parser("remove", help="unblock numbers")
    db_arg(rm)
    rm.add_argument("numbers", nargs="+", help="numbers as written, e.g. +8613800138000")
    rm.add_argument("--region", default="CN")
    rm.set_defaults(func=cmd_remove)


def cmd_add(args: argparse.Namespace) -> int:
    """Exit 1 when some lines were unreadable (the readable ones are added), unless
    --lenient."""
    from dialer.campaign.admin import dnc_add
    from dialer.store import Store

    added, dnc = dnc_add(Store(args.db), Path(args.file), args.region)
    if args.json:
        print(json.dumps({"added": added, "read": len(dnc.numbers), "rejected": [
            {"line": r.row, "reason": r.reason} for r in dnc.rejected]}))
    else:
        print(f"{printable(args.file)}: {len(dnc.numbers)} numbers read, {added} newly "
              f"blocked, {len(dnc.rejected)} unreadable")
        for r in dnc.rejected:
            print(f"  {printable(args.file)}: line {r.row}: {printable(r.reason)}")
    return 1 if dnc.rejected and not args.lenient else 0


def cmd_list(args: argparse.Namespace) -> int:
    from dialer.store import Store

    store = Store(args.db, create=False)
    if args.reveal:
        audit_reveal(store, None, "dnc list")
    rows = [{"number": r.e164 if args.reveal else mask(r.e164), "ext": r.ext,
             "added": datetime.fromtimestamp(r.added_at or 0, UTC).isoformat(
                 timespec="seconds"), "source": r.source}
            for r in store.dnc_entries()]
    if args.json:
        print(json.dumps(rows, ensure_ascii=False))
        return 0
    for r in rows:
        ext = f" x{r['ext']}" if r["ext"] else " (all extensions)"
        print(f"{r['number']}{ext}  added {r['added']}  from {printable(r['source'])}")
    print(f"{len(rows)} blocked")
    return 0


def cmd_remove(args: argparse.Namespace) -> int:
    from dialer.store import Store

    numbers = []
    for raw in args.numbers:
        e164, ext, why = normalize(raw, args.region)
        if e164 is None:
            raise UsageError(f"{printable(raw)[:40]!r}: {why}")
        numbers.append((e164, ext))
    removed = Store(args.db, create=False).dnc_remove(numbers)
    print(f"{removed} of {len(numbers)} numbers unblocked")
    return 0
