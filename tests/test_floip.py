"""A demo campaign's answers as a FLOIP Flow Results package, checked against the
specification's required fields and row shape; contact ids pseudonymous unless an
official reveals them; an unanswered question has no row."""

from __future__ import annotations

import json
import re
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from dialer.cli import main
from dialer.store import Store

TYPES = {"multiple_choice_one", "multiple_choice_many", "select_one", "select_many",
         "numeric", "open", "text", "image", "video", "audio", "geo_point", "date", "time",
         "datetime"}
COLUMNS = ["timestamp", "row_id", "contact_id", "session_id", "question_id", "response",
           "response_metadata"]


def _rfc3339(text: str) -> datetime:
    assert not text.endswith("Z"), "UTC is written +00:00, never Z"
    t = datetime.fromisoformat(text)
    assert t.utcoffset() is not None, f"{text} has no offset"
    return t


@pytest.fixture(scope="module")
def campaign(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("floip") / "d.db"
    assert main(["demo", "--contacts", "16", "--db", str(db), "--no-progress", "--json",
                 "--processes", "1"]) == 0
    return db


def _package(db: Path, out: Path, *extra: str) -> tuple[dict[str, Any], list[list[Any]]]:
    assert main(["report", "demo", "--db", str(db), "--format", "floip", "-o", str(out),
                 *extra]) == 0
    desc = json.loads((out / "datapackage.json").read_text(encoding="utf-8"))
    (resource,) = desc["resources"]
    return desc, json.loads((out / resource["path"]).read_text(encoding="utf-8"))


def test_the_package_has_the_specifications_fields_and_row_shape(
        campaign: Path, tmp_path: Path) -> None:
    desc, rows = _package(campaign, tmp_path / "p")
    assert desc["profile"] == "flow-results-package"
    assert re.fullmatch(r"\d+\.\d+\.\d+(-[\w.]+)?", desc["flow_results_specification_version"])
    assert _rfc3339(desc["created"]) <= _rfc3339(desc["modified"])
    assert uuid.UUID(desc["id"]).version == 4
    assert re.fullmatch(r"[a-z0-9._-]+", desc["name"])
    (resource,) = desc["resources"]  # exactly one resource ...
    assert "data" not in resource and not resource["path"].startswith("/")  # ... not inline
    schema = resource["schema"]
    assert [f["name"] for f in schema["fields"]] == COLUMNS
    assert schema["language"] == "eng"
    questions = schema["questions"]
    for q in questions.values():
        assert q["type"] in TYPES and q["label"] and isinstance(q["type_options"], dict)
        if q["type"] == "select_one":
            assert q["type_options"]["choices"]
    assert questions["fever"]["type_options"]["choices"] == ["yes", "no"]
    assert questions["fever_days"]["type_options"]["range"] == [1, 30]
    assert rows and all(len(r) == 7 for r in rows)
    assert len({str(r[1]) for r in rows}) == len(rows)  # row ids unique, as strings
    store = Store(campaign)
    recorded = [a for a in store.answers_of("demo") if a.value is not None]
    numbers = [c.e164 for c in store.contacts_of("demo")]
    assert len(rows) == len(recorded)  # every answer once; no row for an unanswered one
    for stamp, _, contact, session, qid, response, meta in rows:
        _rfc3339(stamp)
        assert qid in questions and isinstance(meta, dict) and meta["source"]
        q = questions[qid]
        if q["type"] == "select_one":
            assert response in q["type_options"]["choices"]
        else:
            lo, hi = q["type_options"]["range"]
            assert isinstance(response, int | float) and lo <= response <= hi
        assert session in {a.id for a in store.attempts_of("demo")}
        assert re.fullmatch(r"[0-9a-f]{20}", contact)  # a pseudonym ...
        assert not any(n[-7:] in contact for n in numbers)  # ... holding no number
    assert (tmp_path / "p" / "datapackage.json").stat().st_mode & 0o777 == 0o600


def test_pseudonyms_are_stable_and_revealing_numbers_is_audited(
        campaign: Path, tmp_path: Path) -> None:
    _, first = _package(campaign, tmp_path / "a")
    _, again = _package(campaign, tmp_path / "b")
    assert [r[2] for r in first] == [r[2] for r in again]
    desc_a = json.loads((tmp_path / "a" / "datapackage.json").read_text(encoding="utf-8"))
    desc_b = json.loads((tmp_path / "b" / "datapackage.json").read_text(encoding="utf-8"))
    assert desc_a["id"] == desc_b["id"]  # the same package, a later version
    _, revealed = _package(campaign, tmp_path / "r", "--reveal")
    assert all(re.fullmatch(r"\+\d{8,15}(;ext=\d+)?", r[2]) for r in revealed)
    by_pseudonym = {}
    for p, r in zip(first, revealed, strict=True):
        by_pseudonym.setdefault(p[2], set()).add(r[2])
    assert all(len(v) == 1 for v in by_pseudonym.values())  # one person, one pseudonym
    assert any(a.action == "reveal" and "floip" in a.detail
               for a in Store(campaign).audit_log())
