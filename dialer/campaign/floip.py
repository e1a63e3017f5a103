"""A campaign's answers as a FLOIP Flow Results package, the interchange format of
Surveda, Viamo, Ona and UNICEF: a Data Package descriptor with one resource whose rows
are `[timestamp, row_id, contact_id, session_id, question_id, response,
response_metadata]`, one per recorded answer.

An unanswered question has no row: FLOIP rows are responses, and a missing answer is
never written as a negative one. Contact ids are pseudonyms (a keyed hash kept in the
store, stable across exports) unless an official reveals the numbers.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dialer.campaign.admin import frozen_survey
from dialer.store import Store
from survey_scripts.model import AnswerType, Survey

SPEC_VERSION = "1.1.0"
FIELDS = [("timestamp", "Timestamp", "datetime"), ("row_id", "Row ID", "string"),
          ("contact_id", "Contact ID", "string"), ("session_id", "Session ID", "string"),
          ("question_id", "Question ID", "string"), ("response", "Response", "any"),
          ("response_metadata", "Response Metadata", "object")]
ISO_639_3 = {"en": "eng", "ko": "kor", "zh": "zho", "fr": "fra", "es": "spa", "pt": "por",
             "ar": "ara", "sw": "swa", "hi": "hin"}


def _time(t: float) -> str:
    """RFC 3339 with an explicit +00:00 offset, as the specification asks (never `Z`)."""
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="milliseconds")


def _name(campaign: str) -> str:
    return re.sub(r"[^a-z0-9._-]+", "-", campaign.lower()).strip("-") or "campaign"


def questions(survey: Survey) -> dict[str, dict[str, Any]]:
    """The schema's questions: yes/no and choices as select_one, numbers as numeric."""
    out: dict[str, dict[str, Any]] = {}
    for q in survey.questions:
        if q.type == AnswerType.NUMBER:
            out[q.id] = {"type": "numeric", "label": q.prompt,
                         "type_options": {"range": [q.minimum, q.maximum]}}
        else:
            choices = ["yes", "no"] if q.type == AnswerType.YES_NO else list(q.options)
            out[q.id] = {"type": "select_one", "label": q.prompt,
                         "type_options": {"choices": choices}}
    return out


def rows(store: Store, campaign: str, survey: Survey, reveal: bool) -> list[list[Any]]:
    numeric = {q.id for q in survey.questions if q.type == AnswerType.NUMBER}
    key = store.secret("pseudonyms").encode()
    out: list[list[Any]] = []
    for r in store.responses(campaign):
        number = r["e164"] + (f";ext={r['ext']}" if r["ext"] else "")
        contact = number if reveal else hmac.new(key, number.encode(),
                                                 hashlib.sha256).hexdigest()[:20]
        value: Any = r["value"]
        if r["question"] in numeric:
            value = float(value)
            value = int(value) if value.is_integer() else value
        out.append([_time(r["started"] + r["duration"]), f"{r['attempt_id']}:{r['question']}",
                    contact, r["attempt_id"], r["question"], value, {"source": r["how"]}])
    return out


def descriptor(store: Store, campaign: str, survey: Survey, path: str) -> dict[str, Any]:
    """The package's descriptor, its resource's data at `path` (a file or a URL)."""
    name = _name(campaign)
    created = _time(store.campaign(campaign).start_at)  # the campaign began; its data
    last = store.last_answered(campaign)  # last changed with its latest answer
    modified = _time(last) if last is not None else created
    package_id = str(uuid.UUID(store.secret(f"floip:{campaign}")[:32], version=4))
    return {
        "profile": "flow-results-package", "name": name,
        "flow_results_specification_version": SPEC_VERSION,
        "created": created, "modified": max(created, modified), "id": package_id,
        "title": f"{survey.name}: campaign {campaign}",
        "resources": [{
            "name": f"{name}-responses", "path": path, "mediatype": "application/json",
            "encoding": "utf-8",
            "schema": {"language": ISO_639_3.get(survey.language.code, survey.language.code),
                       "fields": [{"name": n, "title": t, "type": k} for n, t, k in FIELDS],
                       "questions": questions(survey)}}]}


def survey_of(store: Store, campaign: str) -> Survey:
    return frozen_survey(store.campaign(campaign))


def write_package(store: Store, campaign: str, out: Path, reveal: bool) -> tuple[Path, int]:
    """`out/datapackage.json` and `out/data/NAME-responses.json`, owner-only; the
    descriptor's path and how many responses were written."""
    survey = survey_of(store, campaign)
    data = rows(store, campaign, survey, reveal)
    relative = f"data/{_name(campaign)}-responses.json"
    desc = descriptor(store, campaign, survey, relative)
    (out / "data").mkdir(parents=True, exist_ok=True, mode=0o700)
    _owner_only(out / relative, json.dumps(data, ensure_ascii=False))
    _owner_only(out / "datapackage.json", json.dumps(desc, ensure_ascii=False, indent=1))
    return out / "datapackage.json", len(data)


def _owner_only(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
