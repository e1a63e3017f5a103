"""An XLSForm as healthdial survey YAML, one file per language.

What a phone call can ask is translated: select_one (a yes/no list becomes yes_no,
any other a choice, its labels and `synonyms` column what callees may say), integer
and decimal with a constraint range, note (spoken before the next question; leading
notes are the greeting, trailing ones the closing), relevant (and a group's), hint
(spoken after the label), required (accepted: a call cannot force an answer, and an
unanswered one stays unanswered). Everything else is reported with its sheet, row and
column: a problem when something the form asks is left out, a note when only its look
or its metadata is.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from survey_scripts.errors import SurveyError
from survey_scripts.loader import load_survey, load_survey_text
from survey_scripts.model import Language
from survey_scripts.xlsform.expressions import Ref, Untranslatable, number_range, translate
from survey_scripts.xlsform.workbook import DEFAULT, Row, Workbook, read

BUILT_IN = Path(__file__).resolve().parent.parent
PHRASES = {"en": BUILT_IN / "covid19_symptoms.yaml", "ko": BUILT_IN / "covid19_symptoms_ko.yaml"}
YES, NO = {"yes", "y", "1", "true"}, {"no", "n", "0", "2", "false"}
METADATA = {"start", "end", "today", "deviceid", "phonenumber", "simserial", "subscriberid",
            "username", "email", "audit", "calculate_here", "start-geopoint"}
UNSEEN = {"type", "name", "label", "hint", "relevant", "constraint", "required", "audio",
          "constraint_message", "required_message", "synonyms", "list_name", "appearance",
          "media", "choice_filter", "calculation", "default", "read_only"}
_ID = re.compile(r"[^a-z0-9_]+")
_SAY_OPTIONS = {"en": "Say {options}."}
LEFT_OUT = "<left out>"  # an open group (or repeat) whose rows are not imported


@dataclass
class Imported:
    """One language's survey: its YAML, and what the office should know about it."""

    code: str
    yaml: str = ""
    problems: list[str] = field(default_factory=list)  # left out: the form asked it
    notes: list[str] = field(default_factory=list)  # said differently, or not a question


def import_form(path: str | Path, language: str | None = None,
                phrases: str | Path | None = None) -> list[Imported]:
    """The form in each of its languages (or the one asked for)."""
    book = read(path)
    wanted = [lang for lang in book.languages
              if language is None or language in (lang, book.language_code(lang))]
    if not wanted:
        shown = ", ".join(f"{x} ({book.language_code(x)})" for x in book.languages)
        raise SurveyError(book.path, [f"no label column in language {language!r}; the form "
                                      f"has {shown}"])
    return [_Translation(book, lang, phrases).run() for lang in wanted]


def _id(name: str) -> str:
    return _ID.sub("_", name.strip().lower()).strip("_")[:64]


def _words(text: str) -> str:
    return " ".join(re.sub(r"[^\w' ]+", " ", text.lower()).split())


class _Translation:
    def __init__(self, book: Workbook, language: str, phrases: str | Path | None) -> None:
        self.book, self.language = book, language
        code = book.language_code(language) or ""
        self.out = Imported(code)
        self.lang = self._phrases(code, phrases)
        self.refs: dict[str, Ref] = {}
        self.questions: list[dict[str, Any]] = []
        self.pending: list[str] = []  # notes to speak before the next question
        self.pending_when: str | None = None  # ... and their condition
        self.greeting: list[str] = []
        self.recordings: dict[str, str] = {}  # a note's text -> its recording
        self.groups: list[str | None] = []  # each open group's condition
        self.lists = self._lists()

    # the languages' words ------------------------------------------------------------------
    def _phrases(self, code: str, phrases: str | Path | None) -> Language | None:
        source = phrases or PHRASES.get(code)
        if source is None:
            self.out.problems.append(
                f"language {self.language!r}: healthdial has no spoken phrases for "
                f"{code or 'it'} (yes and no words, reprompt, goodbye); give a survey YAML "
                "in that language with --phrases, or name the language's code in the "
                "column (label::Français (fr))")
            return None
        return load_survey(source).language

    def _column(self, row: Row, name: str) -> str:
        """A cell in this language: `label::English (en)`, or plain `label` for the
        default language (and where the form gives no translation)."""
        if self.language != DEFAULT:
            for col in (f"{name}::{self.language}", f"{name}::{self.language.strip()}"):
                if row.get(col):
                    return row.get(col)
        return row.get(name)

    def _lists(self) -> dict[str, list[Row]]:
        lists: dict[str, list[Row]] = {}
        for row in self.book.choices:
            if row.get("list_name") and row.get("name"):
                lists.setdefault(row.get("list_name"), []).append(row)
        return lists

    # the survey sheet ----------------------------------------------------------------------
    def run(self) -> Imported:
        self._unknown_columns()
        for row in self.book.survey:
            kind = row.get("type").split()
            if kind:
                self._row(row, kind)
        if self.groups:
            self.out.problems.append("sheet survey: a group is begun and never ended")
        if self.lang is not None:
            self.out.yaml = self._yaml()
        return self.out

    def _row(self, row: Row, kind: list[str]) -> None:
        head = "_".join(kind[:2]).lower() if kind[0].lower() in ("begin", "end") \
            else kind[0].lower()
        if head in ("begin_group", "begin_repeat"):
            self._begin(row, head)
        elif head in ("end_group", "end_repeat"):
            if self.groups:
                self.groups.pop()
        elif head in METADATA:
            self.out.notes.append(f"{row.at('type')}: '{head}' is metadata a call does not "
                                  "ask; left out")
        elif head == "note":
            self._note(row)
        elif head == "select_one" and len(kind) == 2:
            self._select_one(row, kind[1])
        elif head in ("integer", "decimal"):
            self._number(row, head == "integer")
        else:
            self._problem(row, "type", f"'{' '.join(kind)}' cannot be asked on a call yet "
                          "(healthdial asks select_one, integer, decimal and note)")

    def _begin(self, row: Row, head: str) -> None:
        """A group: its condition holds for every row in it. A repeat, or a group whose
        condition cannot be said, is left out with all its rows."""
        if head == "begin_repeat":
            self._problem(row, "type", "a repeat cannot be asked on a call (its questions "
                          "are left out with it)")
            self.groups.append(LEFT_OUT)
            return
        try:
            self.groups.append(self._condition(row))
        except _Skip as skip:
            self._problem(skip.row, skip.column, f"{skip.what} (the group's questions are "
                          "left out with it)")
            self.groups.append(LEFT_OUT)

    def _problem(self, row: Row, column: str, what: str) -> None:
        self.out.problems.append(f"{row.at(column)}: {what}; the row is left out")

    def _unknown_columns(self) -> None:
        for sheet in (self.book.survey, self.book.choices):
            for col in sheet[0].columns if sheet else ():
                if col.split("::")[0].strip() not in UNSEEN:
                    self.out.notes.append(f"sheet {sheet[0].sheet}: column {col!r} has no "
                                          "meaning on a call; ignored")

    def _condition(self, row: Row) -> str | None:
        """The row's `relevant`, with its groups', as a healthdial condition."""
        own = row.get("relevant")
        parts = [g for g in self.groups if g and g != LEFT_OUT]
        if own:
            try:
                parts.append(translate(own, self.refs))
            except Untranslatable as e:
                raise _Skip(row, "relevant", str(e)) from None
        return " and ".join(f"({p})" if len(parts) > 1 else p for p in parts) or None

    def _note(self, row: Row) -> None:
        if LEFT_OUT in self.groups:
            self._problem(row, "type", "it is inside a repeat or group left out")
            return
        text = self._column(row, "label")
        try:
            when = self._condition(row)
        except _Skip as skip:
            self._problem(skip.row, skip.column, skip.what)
            return
        recording = self._recording(row) if text else None
        if recording:
            self.recordings[text] = recording
        if when and not self.questions and not self.pending:
            self._problem(row, "relevant", "a note before the first question is the greeting, "
                          "said to everyone: it cannot have a condition")
        elif text and not self.questions and not when:
            self.greeting.append(text)
        elif text:
            self.pending.append(text)
            self.pending_when = when

    def _base(self, row: Row, qtype: str) -> dict[str, Any] | None:
        """What every asked question has: id, type, prompt (notes and hint), condition."""
        name, label = row.get("name"), self._column(row, "label")
        if LEFT_OUT in self.groups:
            self._problem(row, "type", "it is inside a repeat or group left out")
            return None
        if not label:
            self._problem(row, "label", f"no label in {self.language}")
            return None
        try:
            when = self._condition(row)
        except _Skip as skip:
            self._problem(skip.row, skip.column, skip.what)
            return None
        if self.pending and self.pending_when != when:
            self.out.notes.append(f"{row.at('relevant')}: the note before it has another "
                                  "condition; it is spoken with this question")
        hint = self._column(row, "hint")
        recording = self._recording(row)
        if recording and (self.pending or hint):
            self.out.notes.append(f"{row.at('audio')}: the recording is played for the label; "
                                  "the note or hint with it is not said")
        prompt = label if recording else " ".join([*self.pending, label, hint]).strip()
        self.pending = []
        for col in ("choice_filter", "calculation", "default"):
            if row.get(col):
                self._problem(row, col, f"{col} has no meaning on a call")
                return None
        q: dict[str, Any] = {"id": _id(name), "type": qtype}
        if when:
            q["when"] = when
        q["prompt"] = prompt
        if recording:
            q["audio"] = recording
        return q

    def _recording(self, row: Row) -> str | None:
        """The `audio` (or `media::audio`) file of the row in this language, found beside
        the form or in its media folder, as its full path."""
        name = self._column(row, "audio") or self._column(row, "media::audio")
        if not name:
            return None
        form = Path(self.book.path).resolve()
        for folder in (form.parent, form.parent / "media", form.parent / f"{form.stem}-media"):
            if (folder / name).is_file():
                return str(folder / name)
        self.out.notes.append(f"{row.at('audio')}: the recording {name!r} is not beside the "
                              "form or in its media folder; the robot's voice says the label")
        return None

    def _select_one(self, row: Row, list_name: str) -> None:
        choices = self.lists.get(list_name, [])
        names = [c.get("name") for c in choices]
        yes = [n for n in names if n.lower() in YES]
        no = [n for n in names if n.lower() in NO]
        if len(names) == 2 and len(yes) == 1 and len(no) == 1:
            q = self._base(row, "yes_no")
            if q:
                self._add(row, q, {yes[0]: "yes", no[0]: "no"})
            return
        if not 2 <= len(choices) <= 9:
            self._problem(row, "type", f"the list {list_name!r} has {len(choices)} choices; a "
                          "call offers 2 to 9 (one keypad digit each)")
            return
        q = self._base(row, "choice")
        if q is None:
            return
        options: dict[str, list[str]] = {}
        for c in choices:
            said = [_words(self._column(c, "label"))]
            said += [_words(s) for s in re.split(r"[;,]", self._column(c, "synonyms"))]
            options[_id(c.get("name"))] = list(dict.fromkeys(s for s in said if s))
        if constraint := row.get("constraint"):
            self.out.notes.append(f"{row.at('constraint')}: a choice's constraint is not "
                                  f"checked on a call ({constraint!r})")
        say, spoken = _SAY_OPTIONS.get(self.out.code), [o[0] for o in options.values() if o]
        if all(o in _words(q["prompt"]) for o in spoken) or "audio" in q:
            pass  # the label names them already (a recording must)
        elif say:
            q["prompt"] += " " + say.format(options=", ".join(spoken[:-1]) + ", or "
                                            + spoken[-1])
        else:
            self.out.notes.append(f"{row.at('label')}: say the options in the label: callees "
                                  "hear only the label")
        q["options"] = options
        self._add(row, q, {c.get("name"): _id(c.get("name")) for c in choices})

    def _number(self, row: Row, integer: bool) -> None:
        q = self._base(row, "number")
        if q is None:
            return
        constraint = row.get("constraint")
        if not constraint:
            self._problem(row, "constraint", "a number needs a range (. >= 0 and . <= 120): "
                          "the robot listens for the numbers in it")
            return
        try:
            lo, hi = number_range(constraint, integer)
        except Untranslatable as e:
            self._problem(row, "constraint", str(e))
            return
        if not 0 <= hi - lo <= 1000:
            self._problem(row, "constraint", f"the range {lo:g} to {hi:g} is empty or over "
                          "1000 wide: the robot listens for every number in it")
            return
        q |= {"min": int(lo) if lo.is_integer() else lo, "max": int(hi) if hi.is_integer()
              else hi, "confirm": "always"}  # spoken numbers: the most confusable answers
        if not integer:
            q["decimals"] = True
        self._add(row, q, {})

    def _add(self, row: Row, q: dict[str, Any], values: dict[str, str]) -> None:
        if q["id"] in {r.id for r in self.refs.values()} or not q["id"] or \
                not q["id"][0].isalpha():
            self._problem(row, "name", f"the name {row.get('name')!r} is used twice or does "
                          "not start with a letter")
            return
        self.refs[row.get("name")] = Ref(q["id"], values)
        self.questions.append(q)

    # the YAML ------------------------------------------------------------------------------
    def _yaml(self) -> str:
        assert self.lang is not None
        lang = {k: list(v) if isinstance(v, tuple) else v
                for k, v in dataclasses.asdict(self.lang).items() if v not in ("", ())}
        lang["code"] = self.out.code or lang["code"]
        if self.pending:  # notes after the last question: the closing
            lang["closing"] = " ".join(self.pending)
        questions = self.questions
        consent = _built_in(self.out.code, "consent")
        if not questions or questions[0]["type"] != "yes_no" or questions[0]["id"] != "consent":
            if consent is None:
                self.out.problems.append("sheet survey: the first question must ask consent "
                                         "(a select_one yes/no named consent)")
                return ""
            self.out.notes.append("sheet survey: a consent question was added first (a phone "
                                  "survey asks before it asks anything else)")
            questions = [{"id": "consent", "type": "yes_no", "prompt": consent}, *questions]
        form_id = _id(self.book.settings.get("form_id") or Path(self.book.path).stem)
        title = self.book.settings.get("form_title", form_id)
        doc = {"survey": form_id + ("" if self.out.code in ("en", "") else
                                    f"_{self.out.code}"),
               "greeting": " ".join(self.greeting) or _built_in(self.out.code, "greeting") or "",
               "language": lang, "questions": questions,
               "risk": {"default": "green", "rules": []}}
        if self.recordings:
            doc["recordings"] = self.recordings
        head = (f"# {title}: imported from {Path(self.book.path).name} "
                f"(version {self.book.settings.get('version', '?')}), language "
                f"{self.language}.\n# XLSForm has no risk rules: every call is green until "
                "rules are written under risk: below.\n")
        self.out.notes.append("the form has no risk rules: every call is green until rules "
                              "are written in the survey file's risk: section")
        text = head + yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=100,
                                     default_flow_style=None)
        load_survey_text(text, f"{self.book.path} ({self.language})")  # a survey healthdial loads
        return text


class _Skip(Exception):
    def __init__(self, row: Row, column: str, what: str) -> None:
        super().__init__(what)
        self.row, self.column, self.what = row, column, what


def _built_in(code: str, what: str) -> str | None:
    path = PHRASES.get(code)
    if path is None:
        return None
    survey = load_survey(path)
    return survey.greeting if what == "greeting" else survey.questions[0].prompt

