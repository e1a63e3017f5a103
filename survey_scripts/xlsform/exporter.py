"""healthdial surveys as one XLSForm: the same survey in several languages (one YAML
each, same question ids) becomes one form with a label column per language, so an
office can edit it in the spreadsheet tools it knows and import it back.

Conditions go back to XLSForm's syntax token by token; risk rules have no place in
XLSForm and stay in the YAML (the caller is told)."""

from __future__ import annotations

import io
import tokenize
from pathlib import Path

from survey_scripts.errors import UsageError
from survey_scripts.model import AnswerType, Question, Survey

_NAMES = {"en": "English", "ko": "Korean", "zh": "Chinese", "fr": "French", "es": "Spanish"}
_OPS = {"==": "=", "!=": "!="}


def _xpath(expr: str) -> str:
    """A healthdial condition in XLSForm's syntax (`fever == 'yes'` -> `${fever} = 'yes'`)."""
    out: list[str] = []
    toks = [t for t in tokenize.generate_tokens(io.StringIO(expr).readline)
            if t.type not in (tokenize.NEWLINE, tokenize.ENDMARKER)]
    i = 0
    while i < len(toks):
        t = toks[i]
        nxt = toks[i + 1].string if i + 1 < len(toks) else ""
        after = toks[i + 2].string if i + 2 < len(toks) else ""
        if t.string == "is" and nxt == "not" and after == "None":
            out.append("!= ''")
            i += 3
            continue
        if t.string == "is" and nxt == "None":
            out.append("= ''")
            i += 2
            continue
        if t.type == tokenize.NAME and t.string in ("and", "or"):
            out.append(t.string)
        elif t.string == "not" and nxt == "(":  # not (...): XPath's not(...)
            out.append("not(")
            i += 2
            continue
        elif t.type == tokenize.NAME:
            out.append(f"${{{t.string}}}")
        elif t.type == tokenize.OP and t.string in ("(", ")"):
            out.append(t.string)
        elif t.type == tokenize.OP and t.string in ("==", "!=", "<", ">", "<=", ">="):
            out.append(_OPS.get(t.string, t.string))
        elif t.type in (tokenize.NUMBER, tokenize.STRING):
            out.append(t.string if t.type == tokenize.NUMBER else
                       "'" + t.string[1:-1].replace("'", "") + "'")
        else:
            raise UsageError(f"the condition {expr!r} has no XLSForm equivalent "
                             f"({t.string!r})")
        i += 1
    return " ".join(out).replace("( ", "(").replace(" )", ")")


def export_form(surveys: list[Survey], out: str | Path) -> list[str]:
    """Write the surveys (one per language) as one XLSForm; what could not go in."""
    from openpyxl import Workbook

    base = surveys[0]
    ids = [q.id for q in base.questions]
    for s in surveys[1:]:
        if [q.id for q in s.questions] != ids:
            raise UsageError(f"{s.path}: its questions are not those of {base.path} (same "
                             "ids, same order): one form holds one survey in its languages")
    langs = [f"{_NAMES.get(s.language.code, s.language.code)} ({s.language.code})"
             for s in surveys]
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "survey"
    sheet.append(["type", "name", *(f"label::{x}" for x in langs), "relevant",
                  "constraint", "required"])
    sheet.append(["note", "greeting", *(s.greeting for s in surveys), "", "", ""])
    choices = book.create_sheet("choices")
    choices.append(["list_name", "name", *(f"label::{x}" for x in langs),
                    *(f"synonyms::{x}" for x in langs)])
    choices.append(["yes_no", "yes", *(s.language.yes[0] for s in surveys),
                    *("; ".join(s.language.yes[1:]) for s in surveys)])
    choices.append(["yes_no", "no", *(s.language.no[0] for s in surveys),
                    *("; ".join(s.language.no[1:]) for s in surveys)])
    for i, q in enumerate(base.questions):
        per = [s.questions[i] for s in surveys]
        sheet.append([_type(q), q.id, *(p.prompt for p in per),
                      _xpath(q.when) if q.when else "", _constraint(q), ""])
        if q.type == AnswerType.CHOICE:
            for key in q.options:
                choices.append([q.id, key, *(p.options[key][0] for p in per),
                                *("; ".join(p.options[key][1:]) for p in per)])
    sheet.append(["note", "closing", *(s.language.closing for s in surveys), "", "", ""])
    settings = book.create_sheet("settings")
    settings.append(["form_title", "form_id", "version", "default_language"])
    settings.append([base.name.replace("_", " "), base.name, "1", langs[0]])
    book.save(str(out))
    Path(out).chmod(0o644)
    return [f"{s.path}: {len(s.risk)} risk rule(s) stay in the YAML (XLSForm has none)"
            for s in surveys if s.risk]


def _type(q: Question) -> str:
    if q.type == AnswerType.YES_NO:
        return "select_one yes_no"
    if q.type == AnswerType.CHOICE:
        return f"select_one {q.id}"
    return "decimal" if q.decimals else "integer"


def _constraint(q: Question) -> str:
    if q.type != AnswerType.NUMBER:
        return ""
    lo, hi = (int(v) if float(v).is_integer() else v for v in (q.minimum, q.maximum))
    return f". >= {lo} and . <= {hi}"
