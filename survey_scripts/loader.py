"""Load and validate a survey YAML file; every problem names its line."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from survey_scripts.errors import SurveyError
from survey_scripts.model import AnswerType, Language, Question, RiskRule, Survey
from survey_scripts.rules import check_expression

_ID = re.compile(r"^[a-z][a-z0-9_]*$")
_COLOURS = ("green", "yellow", "red")
_LANG_LISTS = ("yes", "no", "repeat", "dont_know", "stop", "fillers")
_LANG_TEXTS = ("reprompt", "keypad_yes_no", "keypad_number", "keypad_choice", "confirm",
               "goodbye_refused", "goodbye_opt_out", "closing", "voice")


class _LineDict(dict[str, Any]):
    """A mapping that remembers the 1-based line of each key."""

    line: int = 0
    lines: dict[str, int]


class _Loader(yaml.SafeLoader):
    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> Any:  # type: ignore[override]
        out = _LineDict({str(k): v for k, v in super().construct_mapping(node, deep=True).items()})
        out.line = node.start_mark.line + 1
        out.lines = {k.value: k.start_mark.line + 1 for k, _ in node.value
                     if isinstance(k, yaml.ScalarNode)}
        return out


# YAML 1.1 reads yes/no/on/off as booleans; a survey means the words.
_Loader.yaml_implicit_resolvers = {
    k: [(tag, rx) for tag, rx in v if tag != "tag:yaml.org,2002:bool"]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))


def _construct_map(loader: _Loader, node: yaml.MappingNode) -> Any:
    return loader.construct_mapping(node)


_Loader.add_constructor("tag:yaml.org,2002:map", _construct_map)


def _line(d: Any, key: str | None = None) -> int:
    if isinstance(d, _LineDict):
        return getattr(d, "lines", {}).get(key, d.line) if key else d.line
    return 0


class _Checker:
    """Collects problems instead of stopping at the first one."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def bad(self, line: int, msg: str) -> None:
        self.problems.append(f"line {line}: {msg}")

    def text(self, d: dict[str, Any], key: str, where: str) -> str:
        v = d.get(key)
        if not isinstance(v, str) or not v.strip():
            self.bad(_line(d, key), f"{where}: '{key}' must be a non-empty text")
            return ""
        return v.strip()

    def words(self, d: dict[str, Any], key: str, where: str) -> tuple[str, ...]:
        v = d.get(key)
        if isinstance(v, str):
            v = [v]
        if not isinstance(v, list) or not v or not all(isinstance(x, str | int) for x in v):
            self.bad(_line(d, key), f"{where}: '{key}' must be a list of words or phrases")
            return ()
        return tuple(str(x).strip().lower() for x in v)


def load_survey(path: str | Path) -> Survey:
    """Read a survey file; raise SurveyError listing every problem with its line."""
    p = Path(path)
    try:
        raw = yaml.load(p.read_text(encoding="utf-8"), Loader=_Loader)
    except OSError as e:
        raise SurveyError(str(p), [f"cannot read the file: {e.strerror}"]) from e
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else "somewhere"
        raise SurveyError(str(p), [f"{where}: not valid YAML ({getattr(e, 'problem', e)}); "
                                   "check indentation and quotes"]) from e
    if not isinstance(raw, dict):
        raise SurveyError(str(p), ["line 1: the file must be a mapping (survey, questions, ...)"])
    c = _Checker()
    survey = _build(raw, str(p), c)
    if c.problems:
        raise SurveyError(str(p), c.problems)
    return survey


def _build(raw: dict[str, Any], path: str, c: _Checker) -> Survey:
    name = c.text(raw, "survey", "top level")
    greeting = c.text(raw, "greeting", "top level")
    lang = _language(raw.get("language"), c, _line(raw, "language"))
    qraw = raw.get("questions")
    questions: list[Question] = []
    if not isinstance(qraw, list) or not qraw:
        c.bad(_line(raw, "questions"), "'questions' must be a non-empty list")
    else:
        seen: set[str] = set()
        for item in qraw:
            q = _question(item, c, seen)
            if q:
                questions.append(q)
                seen.add(q.id)
        if questions and (questions[0].id != "consent" or questions[0].type != AnswerType.YES_NO):
            c.bad(questions[0].line, "the first question must be 'consent', of type yes_no")
    risk, default = _risk(raw.get("risk"), c, {q.id for q in questions}, _line(raw, "risk"))
    return Survey(name=name, path=path, greeting=greeting, questions=tuple(questions),
                  language=lang, risk=risk, risk_default=default)


def _language(d: Any, c: _Checker, line: int) -> Language:
    if not isinstance(d, dict):
        c.bad(line, "'language' must be a mapping (code, yes, no, repeat, ...)")
        d = _LineDict()
    lists: dict[str, Any] = {k: c.words(d, k, "language") for k in _LANG_LISTS}
    texts: dict[str, Any] = {k: c.text(d, k, "language") for k in _LANG_TEXTS}
    rate = d.get("rate", 165)
    if not isinstance(rate, int) or not 80 <= rate <= 400:
        c.bad(_line(d, "rate"), "language: 'rate' must be words per minute, 80 to 400")
        rate = 165
    if "{value}" not in texts["confirm"]:
        c.bad(_line(d, "confirm"), "language: 'confirm' must contain {value}")
    voicemail = str(d.get("voicemail") or f"{texts['goodbye_refused']}")
    return Language(code=str(d.get("code", "en")), rate=rate, voicemail=voicemail, **lists,
                    **texts)


def _question(item: Any, c: _Checker, seen: set[str]) -> Question | None:
    if not isinstance(item, dict):
        c.bad(0, "each question must be a mapping with id, type and prompt")
        return None
    ln = _line(item)
    qid = item.get("id")
    if not isinstance(qid, str) or not _ID.match(qid):
        c.bad(_line(item, "id"), f"question id {qid!r} must be lower_case letters, digits, _")
        return None
    if qid in seen:
        c.bad(_line(item, "id"), f"question id '{qid}' is used twice")
    where = f"question '{qid}'"
    try:
        qtype = AnswerType(str(item.get("type")))
    except ValueError:
        c.bad(_line(item, "type"), f"{where}: type {item.get('type')!r} must be one of "
              + ", ".join(t.value for t in AnswerType))
        return None
    prompt = c.text(item, "prompt", where)
    when = item.get("when")
    if when is not None:
        problem = check_expression(str(when), seen)
        if problem:
            c.bad(_line(item, "when"), f"{where}: when: {problem}")
    kw: dict[str, Any] = {"confirm": str(item.get("confirm", "auto"))}
    if kw["confirm"] not in ("auto", "always"):
        c.bad(_line(item, "confirm"), f"{where}: confirm must be auto or always")
    if qtype == AnswerType.NUMBER:
        lo, hi = item.get("min"), item.get("max")
        if not isinstance(lo, int | float) or not isinstance(hi, int | float) or lo > hi:
            c.bad(_line(item, "min"), f"{where}: a number question needs min <= max")
            lo, hi = 0, 0
        kw |= {"minimum": lo, "maximum": hi, "unit": str(item.get("unit", "")),
               "decimals": bool(item.get("decimals", False))}
    elif qtype == AnswerType.CHOICE:
        kw["options"] = _options(item, c, where)
        kw["keypad"] = {str(i + 1): k for i, k in enumerate(kw["options"])}
    return Question(id=qid, type=qtype, prompt=prompt, when=str(when) if when else None,
                    line=ln, **kw)


def _options(item: dict[str, Any], c: _Checker, where: str) -> dict[str, tuple[str, ...]]:
    opts = item.get("options")
    if not isinstance(opts, dict) or len(opts) < 2:
        c.bad(_line(item, "options"), f"{where}: a choice needs 'options' (2 or more, each "
              "with its synonyms)")
        return {}
    if len(opts) > 9:
        c.bad(_line(item, "options"), f"{where}: at most 9 options (one keypad digit each)")
    return {str(k): c.words(opts, str(k), f"{where} option '{k}'") for k in opts}


def _risk(d: Any, c: _Checker, ids: set[str], line: int) -> tuple[tuple[RiskRule, ...], str]:
    if d is None:
        return (), "green"
    if not isinstance(d, dict) or not isinstance(d.get("rules", []), list):
        c.bad(line, "'risk' must be a mapping with 'rules' (a list) and 'default'")
        return (), "green"
    default = d.get("default", "green")
    if default not in _COLOURS:
        c.bad(_line(d, "default"), f"risk: default {default!r} must be one of {_COLOURS}")
    rules = []
    for r in d.get("rules", []):
        ln = _line(r)
        if not isinstance(r, dict) or r.get("colour") not in _COLOURS or not r.get("when"):
            c.bad(ln, f"risk rule needs 'colour' (one of {', '.join(_COLOURS)}) and 'when'")
            continue
        problem = check_expression(str(r["when"]), ids)
        if problem:
            c.bad(_line(r, "when"), f"risk rule: when: {problem}")
        rules.append(RiskRule(colour=r["colour"], when=str(r["when"]), line=ln))
    return tuple(rules), str(default)
