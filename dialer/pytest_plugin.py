"""healthdial's pytest plugin (registered as a pytest11 entry point): fixtures to replay a
recorded call or a corpus through today's robot, and assert on what it decides.

    def test_fever_is_still_heard(replay_call):
        result = replay_call("tests/recordings/refusal.flac")
        assert result.changed == 0 and result.calls[0].turns[0].now.decision == "accepted"

    def test_pilot_numbers(corpus_accuracy):
        report = corpus_accuracy("tests/corpus")
        assert report.by_question["fever_days"].wrong == 0
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture(scope="session")
def replay_call() -> Callable[..., Any]:
    """replay_call(path_or_paths, script=None, engine=None) -> replay.Report"""
    from dialer.recordings.replay import replay_files

    def run(paths: str | Path | list[str | Path], script: str | Path | None = None,
            engine: str | None = None) -> Any:
        files = [paths] if isinstance(paths, str | Path) else list(paths)
        return replay_files([Path(p) for p in files], script, engine)

    return run


@pytest.fixture(scope="session")
def corpus_accuracy() -> Callable[..., Any]:
    """corpus_accuracy(folder, script=None, engine=None) -> corpus.Report"""
    from dialer.recordings.corpus import score_corpus

    def run(folder: str | Path, script: str | Path | None = None,
            engine: str | None = None) -> Any:
        return score_corpus(Path(folder), script, engine)

    return run
