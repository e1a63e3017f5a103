"""`survey import|export`: surveys as health offices write them (XLSForm), to and from
healthdial's survey YAML."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

from dialer.policy.contacts import printable
from survey_scripts.errors import SurveyError, UsageError


def register(sub: Any) -> None:
    survey = sub.add_parser("survey", help="import an XLSForm as survey YAML, or export one")
    verbs = survey.add_subparsers(dest="verb", required=True)
    imp = verbs.add_parser("import", help="an XLSForm (.xlsx, .xls, or markdown) as one survey "
                                          "YAML per language; exit 1 if rows were left out")
    imp.add_argument("form")
    imp.add_argument("-o", "--output", help="the YAML to write (one language only; default: "
                                            "the form's id, and _CODE for other languages, "
                                            "in this directory)")
    imp.add_argument("--language", help="only this language (its code, or as the label "
                                        "column names it)")
    imp.add_argument("--phrases", help="a survey YAML whose language block (yes/no words, "
                                       "reprompt, goodbyes) the import uses")
    imp.add_argument("--force", action="store_true", help="replace YAML files that exist")
    imp.add_argument("--json", action="store_true")
    imp.set_defaults(func=cmd_import)
    exp = verbs.add_parser("export", help="survey YAML files (the same survey in several "
                                          "languages) as one XLSForm")
    exp.add_argument("surveys", nargs="+")
    exp.add_argument("-o", "--output", required=True, help="the .xlsx to write")
    exp.set_defaults(func=cmd_export)


def cmd_import(args: argparse.Namespace) -> int:
    from survey_scripts.xlsform.importer import import_form

    done = import_form(args.form, args.language, args.phrases)
    if args.output and len(done) > 1:
        raise UsageError(f"{printable(args.form)} has {len(done)} languages: give --language "
                         "with -o, or leave -o out to write one file per language")
    outs = [Path(args.output or f"{_name(im.yaml)}.yaml") if im.yaml else None
            for im in done]
    there = [str(o) for o in outs if o is not None and o.exists()]
    if there and not args.force:
        raise UsageError(f"{', '.join(there)} exist(s) and may hold risk rules written by "
                         "hand: --force to replace, or -o another file; nothing was written")
    report: list[dict[str, Any]] = []
    for im, out in zip(done, outs, strict=True):
        if out is not None:
            _write(out, im.yaml)
        report.append({"language": im.code, "written": str(out) if out else None,
                       "left_out": im.problems, "notes": im.notes})
    _show(args, report)
    if not any(r["written"] for r in report):
        raise SurveyError(args.form, [p for im in done for p in im.problems]
                          or ["nothing could be imported"])
    return 1 if any(r["left_out"] for r in report) else 0


def _name(text: str) -> str:
    for line in text.splitlines():
        if line.startswith("survey: "):
            return line.split(":", 1)[1].strip()
    return "survey"


def _write(path: Path, text: str) -> None:
    """Owner-writable, readable by the office (a survey holds no personal data)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)


def _show(args: argparse.Namespace, report: list[dict[str, Any]]) -> None:
    if args.json:
        print(json.dumps({"form": args.form, "languages": report}, ensure_ascii=False))
        return
    for r in report:
        where = r["written"] or "not written"
        print(f"{printable(args.form)} ({r['language'] or '?'}): {where}; "
              f"{len(r['left_out'])} left out, {len(r['notes'])} note(s)")
        for p in r["left_out"]:
            print(f"  left out: {printable(p)}")
        for n in r["notes"]:
            print(f"  note: {printable(n)}")


def cmd_export(args: argparse.Namespace) -> int:
    from survey_scripts.loader import load_survey
    from survey_scripts.xlsform.exporter import export_form

    if not args.output.endswith(".xlsx"):
        raise UsageError(f"{printable(args.output)}: the XLSForm to write must end in .xlsx")
    notes = export_form([load_survey(p) for p in args.surveys], args.output)
    print(f"{printable(args.output)}: {len(args.surveys)} language(s)")
    for n in notes:
        print(f"  note: {printable(n)}")
    return 0
