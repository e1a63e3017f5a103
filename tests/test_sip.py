"""The SIP line, proven against SIP software we did not write: Debian's baresip as the
callee (it answers, plays what a person says, and records what it heard), and sipp
answering busy, declined, not a number, the trunk's 503, or ringing until our CANCEL."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import soundfile

from dialer.lines import Dialled, EndCause, Progress
from dialer.lines.sip.answers import answer_of
from dialer.lines.sip.line import SipLine, SipPhone
from dialer.lines.sip.trunk import Trunk, read_trunk
from dialer.robot.call import place_call
from dialer.robot.robot import Robot
from dialer.robot.turn import TurnLog
from speech.channel import ulaw_encode
from speech.tts import Synthesizer, Voice
from survey_scripts.errors import UsageError
from survey_scripts.vocabulary import Outcome
from tests.conftest import ROOT

SCENARIOS = ROOT / "tests" / "data" / "sip"


def _port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _trunk(tmp_path: Path, port: int, extra: str = "") -> Path:
    rtp = 42000 + port % 200 * 40
    path = tmp_path / "trunk.toml"
    path.write_text(f'[trunk]\nhost = "127.0.0.1:{port}"\ninterface = "127.0.0.1"\n'
                    f'rtp_ports = "{rtp}-{rtp + 39}"\n{extra}', encoding="utf-8")
    return path


# what SIP's answers mean, and the trunk file -----------------------------------------------
def test_sip_answers_say_whose_doing_it_was() -> None:
    cases = {486: (Dialled.BUSY, EndCause.BUSY), 600: (Dialled.BUSY, EndCause.BUSY),
             480: (Dialled.NO_ANSWER, EndCause.NO_ANSWER),
             487: (Dialled.NO_ANSWER, EndCause.NO_ANSWER),
             404: (Dialled.INVALID, EndCause.INVALID), 484: (Dialled.INVALID, EndCause.INVALID),
             603: (Dialled.DECLINED, EndCause.DECLINED),
             503: (Dialled.FAILED, EndCause.REFUSED), 429: (Dialled.FAILED, EndCause.REFUSED),
             None: (Dialled.FAILED, EndCause.REFUSED)}
    assert {s: (answer_of(s).dialled, answer_of(s).cause) for s in cases} == cases
    assert answer_of(503, "120 (maintenance);duration=60").retry_after_s == 120.0
    assert answer_of(503, "soon").retry_after_s is None


def test_a_trunk_file_is_checked_and_its_password_kept_out_of_sight(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    good = _trunk(tmp_path, 5060, 'password = "s3cret"\nprefix = "9"\ncaller_id = "+8627"\n')
    good.chmod(0o644)
    with pytest.raises(UsageError, match="chmod 600"):
        read_trunk(str(good))
    good.chmod(0o600)
    t = read_trunk(str(good))
    assert t.uri_for("+8613800138000") == "sip:98613800138000@127.0.0.1:5060"
    assert t.uri_for("sip:desk@pbx.example.org") == "sip:desk@pbx.example.org"
    assert "s3cret" not in repr(t) and t.password == "s3cret"
    monkeypatch.setenv("HEALTHDIAL_TRUNK_PASSWORD", "from-env")
    assert read_trunk(str(good)).password == "from-env"
    bad = tmp_path / "bad.toml"
    bad.write_text('[trunk]\nhost = "a b"\ncodecs = ["opus"]\nportz = 1\n', encoding="utf-8")
    with pytest.raises(UsageError) as e:
        read_trunk(str(bad))
    assert str(bad) in str(e.value) and "host" in str(e.value) and "codecs" in str(e.value)
    assert "unknown key 'portz'" in str(e.value)
    bad.write_text("[trunk\nhost=", encoding="utf-8")
    with pytest.raises(UsageError, match="not a TOML trunk file"):
        read_trunk(str(bad))
    monkeypatch.delenv("HEALTHDIAL_TRUNK", raising=False)
    with pytest.raises(UsageError, match="HEALTHDIAL_TRUNK"):
        read_trunk()
    assert Trunk("h").uri_for("+1202") == "sip:1202@h"


# against sipp --------------------------------------------------------------------------------
def _sipp(scenario: Path, port: int, calls: str = "1", **fill: str) -> subprocess.Popen[bytes]:
    """sipp playing a scenario (sipp checks status codes as it loads one: they are filled
    in here); it answers `calls` calls and exits 0 when each ended as the scenario says."""
    fill.setdefault("retry", "120")
    text = (SCENARIOS / scenario.name).read_text(encoding="utf-8")
    for k, v in fill.items():
        text = text.replace("{" + k + "}", v)
    scenario.write_text(text, encoding="utf-8")
    args = ["sipp", "-sf", str(scenario), "-i", "127.0.0.1", "-p", str(port),
            "-m", calls, "-nostdin", "-timeout", "60s"]
    p = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.3)  # listening
    return p


@contextlib.contextmanager
def in_turn(tmp_path: Path, port: int, *plays: tuple[str, dict[str, str]]
            ) -> Iterator[list[int]]:
    """sipp on one port playing scenarios one after the other (each as one sipp run, e.g.
    the trunk's OPTIONS answer, then a call); on leaving, each run's exit code."""
    codes: list[int] = []
    running: list[subprocess.Popen[bytes]] = []

    def feed() -> None:
        for name, fill in plays:
            running.append(_sipp(tmp_path / name, port, **fill))
            codes.append(running[-1].wait(timeout=60))

    feeder = threading.Thread(target=feed, daemon=True)
    feeder.start()
    time.sleep(0.4)
    try:
        yield codes
        feeder.join(60)
    finally:
        for p in running:
            p.kill()
            p.wait()


@pytest.mark.parametrize(("status", "reason", "dialled", "outcome"), [
    ("486", "Busy Here", Dialled.BUSY, Outcome.BUSY),
    ("480", "Temporarily Unavailable", Dialled.NO_ANSWER, Outcome.NO_ANSWER),
    ("603", "Decline", Dialled.DECLINED, Outcome.NO_ANSWER),
    ("404", "Not Found", Dialled.INVALID, Outcome.INVALID_NUMBER),
    ("503", "Service Unavailable", Dialled.FAILED, Outcome.DROPPED)])
def test_sipps_final_answers_become_outcomes(robot: Robot, tmp_path: Path, status: str,
                                             reason: str, dialled: Dialled, outcome: Outcome,
                                             caplog: pytest.LogCaptureFixture) -> None:
    port = _port()
    peer = _sipp(tmp_path / "final.xml", port, status=status, reason=reason)
    phone = SipPhone(read_trunk(str(_trunk(tmp_path, port))))
    try:
        with caplog.at_level(logging.DEBUG):
            record = asyncio.run(_one_call(robot, phone, "+8613800138000", ring_timeout_s=10))
        assert "13800138000" not in caplog.text  # the number called is in no log line
        assert record.outcome == outcome and record.turns == []
        assert record.progress[0][1] == Progress.RINGING  # sipp's 180
        assert peer.wait(timeout=30) == 0  # sipp saw the ACK: the dialogue ended properly
    finally:
        peer.kill()
        peer.wait()


def test_a_call_ringing_past_the_ring_timeout_is_cancelled(robot: Robot, tmp_path: Path) -> None:
    port = _port()
    peer = _sipp(tmp_path / "ring.xml", port)
    phone = SipPhone(read_trunk(str(_trunk(tmp_path, port))))
    try:
        t0 = time.monotonic()
        record = asyncio.run(_one_call(robot, phone, "+8613800138000", ring_timeout_s=3))
        assert record.outcome == Outcome.NO_ANSWER and record.end_cause == EndCause.NO_ANSWER
        assert 2.5 < time.monotonic() - t0 < 15
        assert peer.wait(timeout=30) == 0  # sipp got our CANCEL and the ACK of its 487
    finally:
        peer.kill()
        peer.wait()


async def _one_call(robot: Robot, phone: SipPhone, number: str, ring_timeout_s: float,
                    turns: int = 0) -> object:
    from dialer.executor import install

    install()
    line = SipLine(phone)
    seen: list[TurnLog] = []
    enough = asyncio.Event()

    def heard(turn: TurnLog) -> None:
        seen.append(turn)
        if turns and len(seen) >= turns:
            enough.set()

    task = asyncio.create_task(place_call(robot, line, number, on_turn=heard,
                                          ring_timeout_s=ring_timeout_s))
    waiting = asyncio.create_task(enough.wait())
    try:
        await asyncio.wait({task, waiting}, return_when=asyncio.FIRST_COMPLETED)
        waiting.cancel()
        if not task.done():
            task.cancel()  # enough heard: we hang up (place_call's finally)
        try:
            return await task
        except asyncio.CancelledError:
            return seen, line
    finally:
        await phone.close()


# against Debian's baresip, as a person answering ----------------------------------------------
@pytest.fixture
def callee(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    """baresip answering at once, saying "Hello?" then, 14 s in, "Yes."; it records what
    it heard (sndfile) into rec/."""
    home, port = tmp_path / "callee", _port()
    (home / "rec").mkdir(parents=True)
    synth, voice = Synthesizer(), Voice("espeak", "en-us", 160)
    said = np.zeros(40 * 8000, np.int16)
    for at, text in ((0.3, "Hello?"), (14.0, "Yes.")):
        x = synth.speak(text, voice).resampled(8000).samples
        said[int(at * 8000):int(at * 8000) + len(x)] = x
    soundfile.write(str(home / "say.wav"), said, 8000, subtype="PCM_16")
    rtp = 43000 + port % 100 * 20
    (home / "config").write_text(
        f"sip_listen 127.0.0.1:{port}\naudio_source aufile,{home}/say.wav\n"
        f"audio_player aufile,{home}/unused.wav\nrtp_ports {rtp}-{rtp + 19}\n"
        "module_path /usr/lib/baresip/modules\nmodule g711.so\nmodule aufile.so\n"
        f"module sndfile.so\nsnd_path {home}/rec\nmodule_tmp account.so\n"
        f"module_app menu.so\nsip_certificate {_certificate(home)}\n", encoding="utf-8")
    (home / "accounts").write_text(f"<sip:callee@127.0.0.1:{port}>;regint=0;"
                                   "answermode=auto;audio_codecs=PCMU\n", encoding="utf-8")
    with (home / "out.log").open("wb") as out:  # what it says: the keys it received
        p = subprocess.Popen([shutil.which("baresip") or "baresip", "-f", str(home)],
                             cwd=home, stdin=subprocess.DEVNULL, stdout=out,
                             stderr=subprocess.STDOUT)  # in the foreground: its pid is ours
    _listening(port)
    (home / "pid").write_text(str(p.pid))
    yield port, home
    p.kill()
    p.wait()


def _certificate(home: Path) -> Path:
    """A self-signed certificate for 127.0.0.1 (baresip then takes TLS on port + 1):
    ca.pem is what a trunk file's `tls_ca` names."""
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-keyout", str(home / "key.pem"), "-out", str(home / "ca.pem"),
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True)
    both = home / "cert.pem"
    both.write_bytes((home / "ca.pem").read_bytes() + (home / "key.pem").read_bytes())
    return both


def _listening(port: int, within_s: float = 15.0) -> None:
    """Until something holds the UDP port (baresip's SIP socket): a fixed sleep was too
    short on a loaded machine, and the INVITE went nowhere."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                time.sleep(0.3)  # bound: give its user agent a moment past the socket
                return
        time.sleep(0.05)
    raise AssertionError(f"baresip did not listen on 127.0.0.1:{port}")


def test_a_survey_call_over_sip_and_rtp_to_baresip(robot: Robot, tmp_path: Path,
                                                   callee: tuple[int, Path]) -> None:
    """The robot dials baresip through a trunk file, hears its "Yes." from RTP audio and
    records consent; baresip heard the robot's question (its recording is speech where
    the prompt played); we hang up, and say so."""
    port, home = callee
    phone = SipPhone(read_trunk(str(_trunk(tmp_path, port))))
    seen, line = asyncio.run(_one_call(robot, phone, f"sip:callee@127.0.0.1:{port}", 20,
                                       turns=2))  # type: ignore[misc]
    assert [step for _, step in line.progress][-1] == Progress.ANSWERED
    consent = seen[0]
    assert consent.prompt.question_id == "consent" and consent.heard.confidence > 0.3
    assert consent.heard.transcript in ("yes", "yeah", "yes i do", "sure")
    assert consent.speech_s is not None and 13.5 < consent.speech_s[0] < 15.0
    assert line.end_cause == EndCause.WE_HUNG_UP
    heard = next((home / "rec").glob("*-dec.wav"))
    x, rate = soundfile.read(str(heard), dtype="int16")
    level = [float(np.sqrt(np.mean(x[s * rate:(s + 1) * rate].astype(float) ** 2)))
             for s in range(len(x) // rate)]
    assert max(level[2:10]) > 1000 and min(level[12:14]) < 50  # the prompt, then quiet


def _running(pid: int) -> bool:
    """Not yet exited (the fixture reaps it later: a zombie has exited)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0] != "Z"
    except OSError:
        return False


@pytest.mark.parametrize("transport", ["udp", "tcp", "tls"])
def test_keys_reach_baresip_as_rfc_4733_events(tmp_path: Path, callee: tuple[int, Path],
                                               transport: str) -> None:
    """The robot presses 1 and # (a survey that reads a code back, a transfer): baresip
    receives each as one RFC 4733 event, start and end, not as tones in the audio; over
    each of SIP's transports (TLS checked against the trunk file's CA, and refused
    with the reason without it)."""
    port, home = callee
    at = port + 1 if transport == "tls" else port
    ca = f'tls_ca = "{home / "ca.pem"}"\n'
    phone = SipPhone(read_trunk(str(_trunk(tmp_path, at, f'transport = "{transport}"\n{ca}'))))

    async def press() -> None:
        line = SipLine(phone)
        try:
            assert await line.dial(f"sip:callee@127.0.0.1:{at}", 10) == Dialled.ANSWERED
            await line.receive(4000)
            line.send_digits("1#")
            await line.receive(8000)
            await line.hangup()
        finally:
            await phone.close()

    asyncio.run(press())
    if transport == "tls":  # the system's CAs do not know this certificate
        untrusted = SipPhone(read_trunk(str(_trunk(tmp_path, at, 'transport = "tls"\n'))))
        line = SipLine(untrusted)

        async def refused() -> Dialled:
            try:
                return await line.dial(f"sip:callee@127.0.0.1:{at}", 10)
            finally:
                await untrusted.close()

        assert asyncio.run(refused()) == Dialled.FAILED
        assert line.end_cause == EndCause.REFUSED and line.refusal
        assert "(tls) cannot be reached" in line.refusal and "CERTIFICATE" in line.refusal
    pid = int((home / "pid").read_text())
    os.kill(pid, signal.SIGTERM)  # its output flushed as it exits
    deadline = time.monotonic() + 10
    while _running(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    said = (home / "out.log").read_text(errors="replace")
    for key in "1#":
        assert said.count(f"received event: '{key}' (end=1)") == 1, said[-2000:]


def _tone(hz: float, seconds: float) -> bytes:
    t = np.arange(int(seconds * 8000)) / 8000
    return ulaw_encode((8000 * np.sin(2 * np.pi * hz * t)).astype(np.int16))


def test_a_prompt_that_replaces_another_reaches_the_callee_whole(
        tmp_path: Path, callee: tuple[int, Path]) -> None:
    """A prompt played over one still playing (the next question, a read-back after a
    barge-in) reaches Debian's baresip from its first sample: the stack flushes on its
    own packet tick, and a prompt written before that tick was flushed too (its first
    half second lost; the SIP demo's far end heard "yes. Is that right?")."""
    port, home = callee
    phone = SipPhone(read_trunk(str(_trunk(tmp_path, port))))
    second = (500.0, 700.0, 1300.0, 1700.0, 2100.0, 2500.0)

    async def talk() -> None:
        line = SipLine(phone)
        try:
            assert await line.dial(f"sip:callee@127.0.0.1:{port}", 10) == Dialled.ANSWERED
            for hz in second:
                line.play(_tone(1000, 1.0))
                await asyncio.sleep(0.3)
                line.play(_tone(hz, 0.8))  # replaces the first, 0.7 s of it unplayed
                await asyncio.sleep(1.2)
            await line.hangup()
        finally:
            await phone.close()

    asyncio.run(talk())
    heard, rate = soundfile.read(str(next((home / "rec").glob("*-dec.wav"))), dtype="int16")
    win = rate // 20  # 50 ms
    frames = heard[:len(heard) // win * win].reshape(-1, win).astype(float)
    spectrum = np.abs(np.fft.rfft(frames, axis=1))
    bins = np.fft.rfftfreq(win, 1 / rate)
    for hz in second:
        at = int(np.argmin(np.abs(bins - hz)))
        loud = spectrum[:, at] > 0.3 * spectrum[:, at].max()
        assert loud.sum() * 0.05 >= 0.7, f"{hz} Hz: {loud.sum() * 0.05:.2f} s of 0.8 s heard"


@pytest.fixture(scope="module")
def robot(survey):  # type: ignore[no-untyped-def]
    from dialer.robot.robot import build_robot
    from dialer.wire import EngineSpec

    return build_robot(survey, EngineSpec())


def test_a_line_gone_silent_is_lost_and_dropped_not_partial(
        robot: Robot, tmp_path: Path, callee: tuple[int, Path]) -> None:
    """The callee's machine freezes mid-call (SIGSTOP: no BYE, no RTP): after the RTP
    timeout the call ends as a lost line, `dropped` (no attempt used), never `partial`."""
    import os
    import signal

    port, home = callee
    phone = SipPhone(read_trunk(str(_trunk(tmp_path, port))))

    async def frozen() -> object:
        from dialer.executor import install

        install()
        line = SipLine(phone)
        task = asyncio.create_task(place_call(robot, line, f"sip:callee@127.0.0.1:{port}",
                                              ring_timeout_s=20))
        await asyncio.sleep(5)  # answered, the first question playing
        closed.append(line)
        os.kill(int((home / "pid").read_text()), signal.SIGSTOP)
        try:
            return await asyncio.wait_for(task, 60)
        finally:
            os.kill(int((home / "pid").read_text()), signal.SIGCONT)
            await phone.close()

    closed: list[SipLine] = []
    record = asyncio.run(frozen())
    assert record.end_cause == EndCause.LINE_LOST, closed[0].stream.stats  # type: ignore[attr-defined]
    assert record.outcome == Outcome.DROPPED  # type: ignore[attr-defined]


# a whole campaign on SIP lines: the runner and workers name no back-end -------------------------
def test_a_sip_campaign_runs_through_the_dispatcher_and_workers(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
        ) -> None:
    """`load --line sip` keeps the line kind; on the fast clock `run` refuses before any
    call (real lines run on the wall clock); on the realtime clock an embedded worker
    dials sipp through its own trunk file, and sipp's 486 is the contact's busy."""
    from dialer.cli import main
    from dialer.store import Store
    from tests.conftest import EN
    from tests.helpers import write_csv

    port = _port()
    monkeypatch.setenv("HEALTHDIAL_TRUNK", str(_trunk(tmp_path, port)))
    listing, db = tmp_path / "l.csv", tmp_path / "s.db"
    write_csv(listing, [["phone", "timezone"], ["+8613800138001", "Asia/Shanghai"]])
    assert main(["load", str(listing), "--campaign", "s", "--script", str(EN), "--line", "sip",
                 "--hours", "0-24", "--max-attempts", "1", "--db", str(db)]) == 0
    assert Store(db).campaign("s").line.kind == "sip"
    assert main(["run", "s", "--db", str(db), "--no-progress"]) == 2
    assert "--clock realtime" in capsys.readouterr().err
    assert Store(db).attempts_made("s") == 0
    with in_turn(tmp_path, port, ("options.xml", {}),  # the trunk checked, then the call
                 ("final.xml", {"status": "486", "reason": "Busy Here"})) as peers:
        assert main(["run", "s", "--db", str(db), "--clock", "realtime", "--lines", "1",
                     "--processes", "1", "--no-progress"]) == 0
    assert peers == [0, 0]
    row = Store(db).contacts_of("s")[0]
    assert (row.outcome, row.attempts, row.status) == ("busy", 1, "done")
    assert main(["set", "s", "--line", "simulated", "--db", str(db)]) == 2  # called on sip
    assert "results must come from one kind of line" in capsys.readouterr().err
    assert Store(db).campaign("s").line.kind == "sip"


def test_set_line_before_the_first_call(tmp_path: Path) -> None:
    from dialer.cli import main
    from dialer.store import Store
    from tests.conftest import EN
    from tests.helpers import write_csv

    listing, db = tmp_path / "l.csv", tmp_path / "s.db"
    write_csv(listing, [["phone", "timezone"], ["+8613800138001", "Asia/Shanghai"]])
    assert main(["load", str(listing), "--campaign", "s", "--script", str(EN),
                 "--db", str(db)]) == 0
    assert main(["set", "s", "--line", "sip", "--db", str(db)]) == 0
    assert Store(db).campaign("s").line.kind == "sip"
    assert main(["run", "s", "--db", str(db), "--no-progress"]) == 2  # real lines: realtime
    assert Store(db).attempts_made("s") == 0


def test_a_bye_mid_question_ends_the_call_and_its_recording_replays(
        robot: Robot, tmp_path: Path, callee: tuple[int, Path]) -> None:
    """baresip answers "Yes." to consent, then hangs up while the next question plays
    (SIGTERM: it sends BYE). The call ends as the callee's hang-up, `partial`, consent
    recorded; the call was recorded through the same tap as in a campaign, and
    `replay --check`'s code replays it with the same decisions."""
    import os
    import signal

    from dialer.executor import install
    from dialer.recordings.replay import replay_files
    from dialer.robot.recorder import LogMeta, RecordingLine, call_log

    port, home = callee
    phone = SipPhone(read_trunk(str(_trunk(tmp_path, port))))

    async def hung_up() -> tuple[object, RecordingLine]:
        install()
        tap = RecordingLine(SipLine(phone))
        seen: list[TurnLog] = []

        def heard(turn: TurnLog) -> None:
            seen.append(turn)
            if len(seen) == 1:  # consent heard: the callee hangs up in the next question
                loop.call_later(3.0, os.kill, int((home / "pid").read_text()), signal.SIGTERM)

        loop = asyncio.get_running_loop()
        try:
            record = await asyncio.wait_for(place_call(
                robot, tap, f"sip:callee@127.0.0.1:{port}", on_turn=heard, ring_timeout_s=20,
                notice=True), 60)
        finally:
            await phone.close()
        return record, tap

    record, tap = asyncio.run(hung_up())
    assert record.end_cause == EndCause.CALLEE_HUNG_UP  # type: ignore[attr-defined]
    assert record.outcome == Outcome.PARTIAL  # type: ignore[attr-defined]
    assert record.result.answers["consent"].value == "yes"  # type: ignore[attr-defined]
    audio = tmp_path / "call.flac"
    audio.write_bytes(tap.flac())
    log = call_log(tap, record, robot.listener.recognizer.name,  # type: ignore[arg-type]
                   LogMeta("1-1", 1, 1, robot.survey.name))
    audio.with_suffix(".json").write_text(log.to_json(), encoding="utf-8")
    report = replay_files([audio], survey=robot.survey)
    assert report.skipped == [] and report.turns >= 2
    assert report.same == report.turns, [p for c in report.calls for p in c.pairs]
