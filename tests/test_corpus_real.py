"""Floors on the corpora kept in tests/corpus: real speech and synthetic, apart.

The floors are the figures before issue 13 (a constant confidence, no second pass):
the robot may get better, never worse, at rejecting real off-topic speech, and never
record more wrong answers unasked. The figures themselves are in CHANGELOG.md.
"""

from __future__ import annotations

import functools

import pytest

from dialer.recordings.corpus import Report, score_corpus
from tests.conftest import ROOT

CORPUS = ROOT / "tests" / "corpus"


@functools.cache
def _score(folder: str) -> Report:
    return score_corpus(CORPUS / folder)


def _off_topic_rejected(report: Report) -> int:
    return sum(r["expected"] == "reject" and r["verdict"] == "right" for r in report.rows)


@pytest.mark.parametrize(("folder", "rejected_before", "unread_most"), [
    ("real/tune", 50, 6), ("real/held-out", 108, 8)])  # wrong unread before: 33, 41
def test_real_off_topic_speech_is_rejected_at_least_as_often_as_before(
        folder: str, rejected_before: int, unread_most: int) -> None:
    report = _score(folder)
    assert report.by_source.keys() == {"real"}
    assert _off_topic_rejected(report) >= rejected_before  # 62 and 119 now
    assert report.total.wrong_unread <= unread_most  # 3 and 5 now


def test_real_numbers_heard_wrong_are_never_heard_surely() -> None:
    """A spoken number heard wrong stays below CONFIDENT: even under confirm: auto it
    would be read back. (Numbers stay confirm: always: off-topic words such as "sky"
    came out as a sure "nine", CHANGELOG.)"""
    from survey_scripts.certainty import CONFIDENT

    report = _score("real/held-out")
    numbers = [r for r in report.rows if r["question"] == "fever_days"
               and r["expected"] != "reject"]
    allison = [r for r in numbers if r["speaker"] == "asterisk-allison"]
    assert len(allison) == 21
    assert sum(r["verdict"] == "right" for r in allison) >= 14  # 14 before, 15 now
    assert sum(r["verdict"] == "wrong" for r in allison) <= 2
    assert not [r for r in numbers if r["verdict"] == "wrong" and r["confidence"] >= CONFIDENT]


def test_synthetic_voices_scored_apart() -> None:
    report = _score("synthetic")
    assert report.by_source.keys() == {"synthetic"}
    assert report.by_question["fever_days"].wrong <= 14  # 22 before, 12 now
    assert _off_topic_rejected(report) >= 42  # 56 of 56 now
