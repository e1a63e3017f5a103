"""Load and validate a survey YAML file; every problem names its line."""

from __future__ import annotations

import re
import string
from pathlib import Path
from typing import Any

import yaml

from survey_scripts.errors import SurveyError
from survey_scripts.model import OPT_OUT_KEY, AnswerType, Language, Question, RiskRule, Survey
from survey_scripts.phrases import answer_phrases, confirm_phrases
from survey_scripts.rules import check_expression, try_on_samples
from survey_scripts.yaml_lines import Checker, LineDict, LineLoader, line_of, show

_ID = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_CODE = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$")
# said at the start of a recorded call, where the survey gives no text of its own
_NOTICE = {"en": "This call is recorded.", "ko": "이 통화는 녹음됩니다."}
_COLOURS = ("green", "yellow", "red")
_SPOKEN_NINE = {"en": "nine", "zh": "九", "ko": "구"}
_LANG_LISTS = ("yes", "no", "repeat", "dont_know", "stop", "fillers")
_LANG_TEXTS = ("reprompt", "keypad_yes_no", "keypad_number", "keypad_choice", "confirm",
               "goodbye_refused", "goodbye_opt_out", "closing", "voice")


MAX_BYTES = 1_000_000  # a survey file is a few kilobytes; refuse what cannot be one


def load_survey(path: str | Path) -> Survey:
    """Read a survey file; raise SurveyError listing every problem with its line."""
    return load_survey_text(read_survey_file(path), str(path))


def read_survey_file(path: str | Path) -> str:
    """A survey file's text: SurveyError if it cannot be one (unreadable, huge, not UTF-8)."""
    p = Path(path)
    try:
        if p.stat().st_size > MAX_BYTES:
            raise SurveyError(str(p), [f"the file is over {MAX_BYTES} bytes; a survey is a "
                                       "short YAML file"])
        text = p.read_text(encoding="utf-8")
    except OSError as e:
        raise SurveyError(str(p), [f"cannot read the file: {e.strerror}"]) from e
    except UnicodeDecodeError as e:
        raise SurveyError(str(p), [f"not UTF-8 text (byte {e.start}); save it as UTF-8"]) from e
    return text


def load_survey_text(text: str, path: str) -> Survey:
    """A survey from its text (as frozen with a campaign); `path` names it in messages."""
    try:
        raw = yaml.load(text, Loader=LineLoader)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else "somewhere"
        raise SurveyError(path, [f"{where}: not valid YAML ({getattr(e, 'problem', e)}); "
                                 "check indentation and quotes"]) from e
    except RecursionError as e:
        raise SurveyError(path, ["the YAML is nested too deeply to be a survey"]) from e
    if not isinstance(raw, dict):
        raise SurveyError(path, ["line 1: the file must be a mapping (survey, questions, ...)"])
    c = Checker()
    survey = _build(raw, path, c)
    if not c.problems:
        _try_rules(survey, c)
    if c.problems:
        raise SurveyError(path, c.problems)
    return survey


def _samples(survey: Survey) -> dict[str, list[Any]]:
    """Answers of every kind each question can record, unanswered (None) included."""
    out: dict[str, list[Any]] = {}
    for q in survey.questions:
        if q.type == AnswerType.YES_NO:
            out[q.id] = ["yes", "no", None]
        elif q.type == AnswerType.NUMBER:
            middle = round((q.minimum + q.maximum) / 2)
            zero = 0.0 if q.minimum <= 0 <= q.maximum else q.minimum
            out[q.id] = [*sorted({q.minimum, q.maximum, middle, zero}), None]
        else:
            out[q.id] = [*q.options, None]
    return out


def _try_rules(survey: Survey, c: Checker) -> None:
    """Every rule evaluated on sample answers: one that fails in a call fails here."""
    samples = _samples(survey)
    rules = [(q.line, f"question '{q.id}': when", q.when) for q in survey.questions if q.when]
    rules += [(r.line, "risk rule: when", r.when) for r in survey.risk]
    for line, where, expr in rules:
        problem = try_on_samples(expr, samples)
        if problem:
            c.bad(line, f"{where}: {expr!r} {problem}")


def _build(raw: dict[str, Any], path: str, c: Checker) -> Survey:
    name = c.text(raw, "survey", "top level")
    greeting = c.text(raw, "greeting", "top level")
    lang = _language(raw.get("language"), c, line_of(raw, "language"))
    qraw = raw.get("questions")
    questions: list[Question] = []
    if not isinstance(qraw, list) or not qraw:
        c.bad(line_of(raw, "questions"), "'questions' must be a non-empty list")
    else:
        seen: set[str] = set()
        for item in qraw:
            q = _question(item, c, seen, lang.input)
            if q:
                questions.append(q)
                seen.add(q.id)
        if questions and (questions[0].id != "consent" or questions[0].type != AnswerType.YES_NO):
            c.bad(questions[0].line, "the first question must be 'consent', of type yes_no")
    said = confirm_phrases(lang)  # the language's own words: checked with the language
    for q in questions:  # a go-back phrase must not answer any question
        clash = [w for w in lang.go_back if w in answer_phrases(q, lang) and w not in said]
        if clash:
            c.bad(q.line, f"question '{q.id}' is answered with {clash[0]!r}, a go_back "
                  "phrase of the language; change one of them")
    risk, default = _risk(raw.get("risk"), c, {q.id for q in questions}, line_of(raw, "risk"))
    return Survey(name=name, path=path, greeting=greeting, questions=tuple(questions),
                  language=lang, risk=risk, risk_default=default,
                  recordings=_recordings(raw.get("recordings"), c, line_of(raw, "recordings")))


def _recordings(d: Any, c: Checker, line: int) -> tuple[tuple[str, str], ...]:
    """`recordings:` text the robot says -> the WAV's full path."""
    if d is None:
        return ()
    if not isinstance(d, dict) or not all(isinstance(v, str) for v in d.values()):
        c.bad(line, "'recordings' must map a text the robot says to a WAV's full path")
        return ()
    for text, wav in d.items():
        if not str(text).strip():
            c.bad(line_of(d, text), "recordings: a recording needs the text it says")
        elif not wav.startswith("/"):
            c.bad(line_of(d, text), f"recordings: {wav!r} must be the recording's full path "
                  "(/...): every machine that calls reads it from there")
    return tuple((str(t).strip(), w.strip()) for t, w in d.items())


_PLACEHOLDERS = {"confirm": {"value"}, "keypad_choice": {"options"}, "implied": {"value"}}
_IMPLICIT = ("implied", "go_back", "asked_again")


def _check_placeholders(text: Any, key: str, d: Any, c: Checker) -> None:
    """Only the placeholders a text is filled with: `{0}` or `{name}` in a prompt would
    fail in the middle of a call, with a person on the line."""
    if not isinstance(text, str):
        return
    allowed = _PLACEHOLDERS.get(key, set())
    try:
        names = {f for _, f, _, _ in string.Formatter().parse(text) if f is not None}
    except ValueError as e:
        c.bad(line_of(d, key), f"language: {key!r} is not a valid template ({e}); write a "
              "literal brace as {{ or }}")
        return
    wrong = sorted(names - allowed)
    if wrong:
        may = f"may use {', '.join('{' + a + '}' for a in sorted(allowed))} only" if allowed \
            else "takes no {placeholder}"
        c.bad(line_of(d, key), f"language: {key!r} uses {{{wrong[0]}}}, but it {may} (write a "
              "literal brace as {{ or }})")


def _language(d: Any, c: Checker, line: int) -> Language:
    if not isinstance(d, dict):
        c.bad(line, "'language' must be a mapping (code, yes, no, repeat, ...)")
        d = LineDict()
    lists: dict[str, Any] = {k: c.words(d, k, "language") for k in _LANG_LISTS}
    texts: dict[str, Any] = {k: c.text(d, k, "language") for k in _LANG_TEXTS}
    rate = d.get("rate", 165)
    if not isinstance(rate, int) or isinstance(rate, bool) or not 80 <= rate <= 400:
        c.bad(line_of(d, "rate"), "language: 'rate' must be words per minute, 80 to 400")
        rate = 165
    if "{value}" not in texts["confirm"]:
        c.bad(line_of(d, "confirm"), "language: 'confirm' must contain {value}")
    for key in _LANG_TEXTS:
        _check_placeholders(texts[key], key, d, c)
    code = c.scalar(d, "code", "language", "en")
    if not _CODE.match(code):
        c.bad(line_of(d, "code"), f"language: code {show(code)} must be a language code "
              "such as en or ko")
    voicemail = c.scalar(d, "voicemail", "language") or texts["goodbye_refused"]
    notice = c.scalar(d, "recording_notice", "language") or _NOTICE.get(code, _NOTICE["en"])
    how = _input(d, c, "language", "voice")
    opt_out = c.scalar(d, "keypad_opt_out", "language")
    if how == "keypad" and OPT_OUT_KEY not in opt_out and _SPOKEN_NINE.get(code, "") not in \
            opt_out.lower():
        c.bad(line_of(d, "keypad_opt_out") or line, "language: a keypad survey says how to opt "
              f"out: keypad_opt_out, e.g. 'Press {OPT_OUT_KEY} to never be called again.'")
    return Language(code=code, rate=rate, voicemail=voicemail, recording_notice=notice,
                    input=how, keypad_opt_out=opt_out, **lists, **texts,
                    **_implicit(d, c, line, lists))


def _implicit(d: Any, c: Checker, line: int, lists: dict[str, Any]) -> dict[str, Any]:
    """Implicit confirmation's texts: all three, or none (every unsure answer read back)."""
    given = [k for k in _IMPLICIT if d.get(k) not in (None, "", [])]  # empty: not given
    if not given:
        return {}
    if len(given) < len(_IMPLICIT):
        missing = ", ".join(k for k in _IMPLICIT if k not in given)
        c.bad(line_of(d, given[0]) or line, f"language: implicit confirmation needs "
              f"{', '.join(_IMPLICIT)}; {missing} missing (or remove {', '.join(given)})")
        return {}
    out: dict[str, Any] = {"implied": c.text(d, "implied", "language"),
                           "go_back": c.words(d, "go_back", "language"),
                           "asked_again": c.text(d, "asked_again", "language")}
    _check_placeholders(out["implied"], "implied", d, c)
    if "{value}" not in out["implied"]:
        c.bad(line_of(d, "implied"), "language: 'implied' must contain {value}")
    # a go-back phrase is heard beside the next question's answers: it must not be one
    taken = {w: k for k in _LANG_LISTS for w in lists[k]}
    for w in out["go_back"]:
        if w in taken:
            c.bad(line_of(d, "go_back"), f"language: go_back phrase {w!r} is also in "
                  f"'{taken[w]}'; choose words no question is answered with")
    return out


def _input(d: Any, c: Checker, where: str, default: str) -> str:
    how = c.scalar(d, "input", where, default)
    if how not in ("voice", "keypad"):
        c.bad(line_of(d, "input"), f"{where}: input must be voice or keypad")
        return default
    return how


def _question(item: Any, c: Checker, seen: set[str],
              default_input: str = "voice") -> Question | None:
    if not isinstance(item, dict):
        c.bad(0, "each question must be a mapping with id, type and prompt")
        return None
    ln = line_of(item)
    qid = item.get("id")
    if not isinstance(qid, str) or not _ID.match(qid):
        c.bad(line_of(item, "id"), f"question id {show(qid)} must be lower_case letters, "
              "digits, _")
        return None
    if qid in seen:
        c.bad(line_of(item, "id"), f"question id '{qid}' is used twice")
    where = f"question '{qid}'"
    kind = c.scalar(item, "type", where)
    try:
        qtype = AnswerType(kind)
    except ValueError:
        c.bad(line_of(item, "type"), f"{where}: type {show(kind)} must be one of "
              + ", ".join(t.value for t in AnswerType))
        return None
    prompt = c.text(item, "prompt", where)
    when = c.scalar(item, "when", where) or None
    if when is not None:
        problem = check_expression(when, seen)
        if problem:
            c.bad(line_of(item, "when"), f"{where}: when: {problem}")
    kw: dict[str, Any] = {"confirm": c.scalar(item, "confirm", where, "auto")}
    if kw["confirm"] not in ("auto", "always"):
        c.bad(line_of(item, "confirm"), f"{where}: confirm must be auto or always")
    barge = item.get("barge_in", qtype == AnswerType.YES_NO)
    if not isinstance(barge, bool):
        c.bad(line_of(item, "barge_in"), f"{where}: barge_in must be true or false")
        barge = False
    kw["barge_in"] = barge
    kw["input"] = _input(item, c, where, default_input)
    kw["audio"] = c.scalar(item, "audio", where)
    if kw["audio"] and not kw["audio"].startswith("/"):
        c.bad(line_of(item, "audio"), f"{where}: audio {kw['audio']!r} must be the recording's "
              "full path (/...): every machine that calls reads it from there")
    if kw["input"] == "keypad":
        kw["barge_in"] = True  # a key cuts the prompt short
    if qtype == AnswerType.NUMBER:
        lo, hi = _bound(item.get("min")), _bound(item.get("max"))
        if lo is None or hi is None or lo > hi or (hi - lo) > 1000:
            c.bad(line_of(item, "min"), f"{where}: a number question needs min <= max, at most "
                  "1000 apart")
            lo, hi = 0, 0
        kw |= {"minimum": lo, "maximum": hi, "unit": c.scalar(item, "unit", where),
               "decimals": item.get("decimals") is True}
    elif qtype == AnswerType.CHOICE:
        kw["options"] = _options(item, c, where, kw["input"] == "keypad")
        kw["keypad"] = {str(i + 1): k for i, k in enumerate(kw["options"])}
    return Question(id=qid, type=qtype, prompt=prompt, when=when, line=ln, **kw)


def _bound(v: Any) -> float | None:
    """A number question's min or max: a plain number of sane size, else None."""
    if isinstance(v, int | float) and not isinstance(v, bool) and abs(v) < 1e6:
        return v
    return None


def _options(item: dict[str, Any], c: Checker, where: str,
             keys: bool = False) -> dict[str, tuple[str, ...]]:
    opts = item.get("options")
    if not isinstance(opts, dict) or len(opts) < 2:
        c.bad(line_of(item, "options"), f"{where}: a choice needs 'options' (2 or more, each "
              "with its synonyms)")
        return {}
    if len(opts) > 9:
        c.bad(line_of(item, "options"), f"{where}: at most 9 options (one keypad digit each)")
    elif len(opts) > 8 and keys:
        c.bad(line_of(item, "options"), f"{where}: a keypad question has at most 8 options "
              f"({OPT_OUT_KEY} is the key to opt out)")
    out = {}
    for k in opts:
        if not isinstance(k, str) or not _ID.match(k):
            c.bad(line_of(opts, str(k)) if isinstance(k, str) else line_of(item, "options"),
                  f"{where}: option {show(k)} must be lower_case letters, digits, _")
            continue
        out[k] = c.words(opts, k, f"{where} option '{k}'")
    return out


def _risk(d: Any, c: Checker, ids: set[str], line: int) -> tuple[tuple[RiskRule, ...], str]:
    if d is None:
        return (), "green"
    if not isinstance(d, dict) or not isinstance(d.get("rules", []), list):
        c.bad(line, "'risk' must be a mapping with 'rules' (a list) and 'default'")
        return (), "green"
    default = c.scalar(d, "default", "risk", "green")
    if default not in _COLOURS:
        c.bad(line_of(d, "default"), f"risk: default {show(default)} must be one of "
              f"{', '.join(_COLOURS)}")
    rules = []
    for r in d.get("rules", []):
        ln = line_of(r)
        if not isinstance(r, dict):
            c.bad(ln, f"risk rule needs 'colour' (one of {', '.join(_COLOURS)}) and 'when'")
            continue
        colour, when = c.scalar(r, "colour", "risk rule"), c.scalar(r, "when", "risk rule")
        if colour not in _COLOURS or not when:
            c.bad(ln, f"risk rule needs 'colour' (one of {', '.join(_COLOURS)}) and 'when'")
            continue
        problem = check_expression(when, ids)
        if problem:
            c.bad(line_of(r, "when"), f"risk rule: when: {problem}")
        rules.append(RiskRule(colour=colour, when=when, line=ln))
    return tuple(rules), default
