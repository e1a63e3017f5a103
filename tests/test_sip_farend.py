"""The simulated population as a SIP far end (`demo --line sip`): prompts cut from the
robot's RTP audio at its pauses, known whole by their G.711 codes, and SIP's own answers
for numbers that do not exist, busy lines and people."""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from dialer.lines import Dialled, EndCause
from dialer.lines.backend import PlannedCall
from dialer.lines.simulated.population import network
from dialer.lines.sip.backend import SipBackend
from dialer.lines.sip.line import SipLine, SipPhone
from dialer.lines.sip.trunk import read_trunk
from dialer.policy.hours import planned_hour
from dialer.robot.robot import Robot
from dialer.simulation.farend import Bridge, far_end
from dialer.simulation.prompts import GAP_S, KnownPrompts, Prompts
from speech.channel import RATE, ulaw_decode


def test_prompts_are_cut_at_the_robots_pauses_not_inside_them(robot: Robot) -> None:
    said = [ulaw_decode(a) for a in list(robot.prompts().values())[:3]]
    quiet = np.zeros(int(1.5 * RATE), np.int16)
    stream = np.concatenate([quiet, said[0], quiet, said[1], quiet, said[2], quiet])
    cut = Prompts()
    found = []
    for i in range(0, len(stream), 800):  # as the pump reads it, 100 ms at a time
        got = cut.feed(stream[i:i + 800])
        if got is not None:
            found.append(got)
    assert len(found) == 3  # the pauses inside a prompt (0.42 s at most) cut nothing
    known = KnownPrompts(robot.prompts())
    lines = list(robot.prompts().values())[:3]
    assert [known.find(audio) for _, audio in found] == lines
    assert found[0][0] == pytest.approx(1.5 * RATE, abs=200)  # where it began
    assert known.find(found[0][1][:len(found[0][1]) // 2]) is None  # cut short: the ear's
    assert known.find(found[0][1][40:]) == lines[0]  # its first milliseconds lost: known
    assert GAP_S > 0.42


def test_a_reprompt_whose_pause_a_late_packet_stretched_is_heard_whole(robot: Robot) -> None:
    """Over RTP a late packet can stretch "Sorry, I did not catch that."'s pause past
    GAP_S: the far end heard that sentence alone, did not know it, and its callee asked
    for a repeat (31% of the SIP demo's calls, 1.4% direct). A known prompt's piece short
    of its end is now waited for; a piece never finished (a barge-in) still ends."""
    text = next(t for t in robot.prompts() if t.startswith("Sorry, I did not catch that."))
    said = ulaw_decode(robot.prompts()[text])
    frames = said[:len(said) // 160 * 160].reshape(-1, 160).astype(np.float32)
    quiet = np.flatnonzero(np.sqrt((frames ** 2).mean(axis=1)) <= 150)
    inner = quiet[(quiet > 10) & (quiet < len(frames) - 10)]
    pause = int(inner[len(inner) // 2]) * 160  # inside the sentences' pause
    stretched = np.concatenate([said[:pause], np.zeros(int(0.6 * RATE), np.int16),
                                said[pause:]])
    known = KnownPrompts(robot.prompts())

    def cut(stream: np.ndarray, prompts: Prompts) -> list[np.ndarray]:
        found = []
        for i in range(0, len(stream), 800):
            got = prompts.feed(stream[i:i + 800])
            if got is not None:
                found.append(got[1])
        return found

    edge = np.zeros(int(2.5 * RATE), np.int16)
    before = cut(np.concatenate([edge, stretched, edge]), Prompts())
    assert len(before) == 2 and known.find(before[0]) is None  # what the demo did
    whole = Prompts(known.rests)
    found = cut(np.concatenate([edge, stretched, edge]), whole)
    assert len(found) == 1 and whole.held == 1 and whole.joined == 1
    assert len(found[0]) > len(said)  # the question with its first sentence, as said
    from dialer.lines.simulated.callee import Ear
    from speech.channel import ulaw_encode
    from speech.sphinx import SphinxRecognizer

    meaning = Ear(robot.survey, SphinxRecognizer(garbage=False)).hear(ulaw_encode(found[0]))
    question = next(q for q in robot.survey.questions if text.endswith(q.prompt))
    assert meaning is not None and meaning.question_id == question.id  # the ear knows it
    barged = Prompts(known.rests)  # cut by a barge-in: no more of it comes ...
    found = cut(np.concatenate([edge, said[:pause], edge]), barged)
    assert len(found) == 1 and barged.held == 1 and len(found[0]) < pause + 0.2 * RATE
    nxt = ulaw_decode(robot.prompts()[next(t for t in robot.prompts()
                                           if t.startswith("I heard yes"))])
    short = np.zeros(int(1.0 * RATE), np.int16)  # ... and the robot's next prompt comes soon
    answered = Prompts(known.rests)
    found = cut(np.concatenate([edge, said[:pause], short, nxt, edge]), answered)
    assert len(found) == 2 and answered.held == 1 and answered.joined == 0
    assert len(found[0]) < pause + 0.2 * RATE and known.find(found[1]) is not None
    assert known.rests(said[:pause]) and not known.rests(said)
    padded = np.concatenate([said[:len(said) // 3], np.zeros(100, np.int16),
                             said[len(said) // 3:]])  # a starved packet's zeros inside
    assert known.find(padded) == robot.prompts()[text]


def test_the_far_end_answers_as_the_population_decides(robot: Robot, tmp_path: Path) -> None:
    """Over SIP and RTP on 127.0.0.1: a number that does not exist gets SIP's 404, a busy
    one a 486, a person picks up (and the robot hears them say hello)."""
    from dialer.campaign.admin import LoadRequest, load
    from dialer.simulation.demo import START, write_province
    from dialer.store import Store
    from survey_scripts import DEFAULT_SURVEY

    store = Store(tmp_path / "s.db")
    listing = tmp_path / "p.csv"
    write_province(listing, 40, 1)
    load(store, LoadRequest(listing, "d", str(DEFAULT_SURVEY), "CN", seed=1, start_at=START,
                            line="sip", far_end="simulated"))
    c = store.campaign("d")
    calls = {}
    for row in store.contacts_of("d"):
        planned = PlannedCall(c.line, row.id, 1, "", row.timezone, c.start_at, c.settings)
        hour = planned_hour(c.start_at, 1, row.timezone, c.settings)
        calls.setdefault(network(1, row.id, 1, hour), (row.e164, SipBackend().plan(planned)))
    assert {"invalid", "busy", "human"} <= set(calls)

    async def dial(phone: SipPhone) -> dict[str, Dialled]:
        got = {}
        try:
            for kind in ("invalid", "busy", "human"):
                number, spec = calls[kind]
                line = SipLine(phone, spec)
                got[kind] = await line.dial(number, 10)
                if got[kind] == Dialled.ANSWERED:
                    heard = ulaw_decode(await line.receive(3 * RATE))
                    got["hello"] = Dialled.ANSWERED if np.abs(heard).max() > 3000 \
                        else Dialled.FAILED
                await line.hangup()
        finally:
            await phone.close()
        return got

    with far_end(store, "d", tmp_path) as trunk:
        got = asyncio.run(dial(SipPhone(read_trunk(str(trunk)))))
    assert got == {"invalid": Dialled.INVALID, "busy": Dialled.BUSY,
                   "human": Dialled.ANSWERED, "hello": Dialled.ANSWERED}


@pytest.fixture(scope="module")
def robot(survey):  # type: ignore[no-untyped-def]
    from dialer.robot.robot import build_robot
    from dialer.wire import EngineSpec

    return build_robot(survey, EngineSpec())


def test_a_cut_prompt_is_heard_in_the_ear_process(robot: Robot) -> None:
    """A prompt not known by its codes (cut short by barge-in) is heard in the far end's
    ear process, and the callee's own ear then knows it without decoding (a decode here
    would hold the GIL the RTP pump needs)."""
    from dialer.lines.simulated.callee import Ear
    from dialer.simulation.farend import EarProcess
    from speech.sphinx import SphinxRecognizer

    survey = robot.survey
    assert survey.path is not None
    cut = robot.say(survey.question("cough").prompt)[:-2400]  # its last 0.3 s lost
    local = Ear(survey, SphinxRecognizer(garbage=False))
    elsewhere = EarProcess(Path(survey.path).read_text(encoding="utf-8"))

    async def hear() -> None:
        hearing = elsewhere.hear(local, cut)
        assert hearing is not None and not local.knows(cut)
        await hearing
        assert elsewhere.hear(local, cut) is None  # known now: nothing more to do

    try:
        asyncio.run(hear())
    finally:
        elsewhere.close()
    assert local.knows(cut)
    meaning = local.hear(cut)  # remembered: what the ear process made of it
    assert meaning is not None and meaning.question_id == "cough"


class _SilentAudio:
    """A far-end call's audio when RTP brings nothing more: what the bridge writes is kept."""

    def __init__(self) -> None:
        self.written: list[bytes] = []

    def read(self, _: int) -> bytes:
        return b""

    def info(self) -> Any:
        return SimpleNamespace(tx_buffered=0)

    def write(self, data: bytes) -> int:
        self.written.append(data)
        return len(data)


class _HungUpCallee:
    """A simulated callee who has hung up: it says nothing more."""

    end_cause = EndCause.CALLEE_HUNG_UP

    async def receive(self, _: int) -> bytes:
        return b""

    def elapsed(self) -> int:
        return 0

    def echo_of(self, x: np.ndarray) -> np.ndarray:
        return x * 0.1


def test_a_callee_who_hung_up_ends_the_bridge_without_an_error() -> None:
    """Seen in a 300-contact SIP demo: the callee's line gave no audio after its hang-up,
    and the echo of the robot's last 100 ms was added to nothing (a ValueError that
    killed the far end's call, which then went silent instead of hanging up)."""
    audio = _SilentAudio()
    bridge = Bridge(SimpleNamespace(audio=audio), _HungUpCallee(), [],  # type: ignore[arg-type]
                    KnownPrompts({}))
    bridge.recent = np.ones(800, np.int16)
    assert asyncio.run(bridge._tick()) is False  # the callee is gone: the call ends
    assert audio.written == []
