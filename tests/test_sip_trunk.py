"""A trunk that cannot be used is found before the first call, and a trunk that refuses
calls costs no contact an attempt: proven against sipp (digest authentication checked
by sipp's `verifyauth`, OPTIONS, 503 with Retry-After, RFC 4733 keypad events, early
media before the answer)."""

from __future__ import annotations

import asyncio
import contextlib
import struct
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from dialer.cli import main
from dialer.lines import Dialled, EndCause, Progress
from dialer.lines.sip import probe
from dialer.lines.sip.backend import SipBackend
from dialer.lines.sip.line import SipLine, SipPhone
from dialer.lines.sip.trunk import read_trunk
from dialer.store import Store
from speech.channel import ulaw_decode, ulaw_encode
from survey_scripts.errors import TrunkError
from tests.conftest import EN
from tests.helpers import write_csv
from tests.test_sip import _port, _sipp, _trunk, in_turn

AUTH_ACK = '<recv request="ACK" />'


def test_a_trunk_that_answers_is_found_and_one_that_does_not_is_refused(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    port = _port()
    peer = _sipp(tmp_path / "options.xml", port)
    try:
        monkeypatch.setenv("HEALTHDIAL_TRUNK", str(_trunk(tmp_path, port)))
        assert main(["trunk"]) == 0
        assert f"127.0.0.1:{port} (udp) answers: OPTIONS 200" in capsys.readouterr().out
        assert peer.wait(timeout=10) == 0
    finally:
        peer.kill()
        peer.wait()
    for extra, said in (("", "cannot be reached: Connection refused"),
                        ('transport = "tcp"\n', "(tcp) cannot be reached")):
        monkeypatch.setenv("HEALTHDIAL_TRUNK", str(_trunk(tmp_path, _port(), extra)))
        assert main(["trunk"]) == 6
        assert said in capsys.readouterr().err
    nowhere = tmp_path / "nowhere.toml"
    nowhere.write_text('[trunk]\nhost = "sbc.nowhere.invalid"\n', encoding="utf-8")
    with pytest.raises(TrunkError, match=r"'sbc\.nowhere\.invalid' cannot be resolved"):
        probe.check(read_trunk(str(nowhere)))


@pytest.mark.parametrize(("password", "found"), [
    ("s3cret", "registered us as healthdial"), ("wrong", "refused our credentials (403)")])
def test_registration_is_the_check_of_a_registering_trunk(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, password: str, found: str) -> None:
    port = _port()
    peer = _sipp(tmp_path / "auth.xml", port, method="REGISTER", ack="", ok="200 OK")
    trunk = _trunk(tmp_path, port, f'register = true\npassword = "{password}"\n')
    trunk.chmod(0o600)
    monkeypatch.setenv("HEALTHDIAL_TRUNK", str(trunk))
    try:
        if password == "wrong":
            with pytest.raises(TrunkError, match=r"refused our credentials \(403\)") as e:
                SipBackend().check()
            assert password not in str(e.value)
        else:
            assert found in SipBackend().check()
        assert peer.wait(timeout=15) == 0  # sipp checked our digest (verifyauth)
    finally:
        peer.kill()
        peer.wait()


@pytest.mark.parametrize("password", ["s3cret", "wrong"])
def test_an_invite_answers_the_trunks_digest_challenge(tmp_path: Path, password: str) -> None:
    """Right credentials: the INVITE goes through (sipp then says busy); wrong ones: the
    trunk's 403 is UNAUTHORIZED, the trunk's doing, never the callee's."""
    port = _port()
    peer = _sipp(tmp_path / "auth.xml", port, method="INVITE", ack=AUTH_ACK,
                 ok="486 Busy Here")
    trunk = _trunk(tmp_path, port, f'password = "{password}"\n')
    trunk.chmod(0o600)
    phone = SipPhone(read_trunk(str(trunk)))

    async def dial() -> SipLine:
        line = SipLine(phone)
        try:
            await line.dial("+8613800138000", 10)
            return line
        finally:
            await phone.close()

    try:
        line = asyncio.run(dial())
        assert peer.wait(timeout=15) == 0
    finally:
        peer.kill()
        peer.wait()
    if password == "s3cret":
        assert line.end_cause == EndCause.BUSY and line.refusal is None
    else:
        assert line.end_cause == EndCause.UNAUTHORIZED
        assert line.refusal and "403 Forbidden" in line.refusal and "password" in line.refusal


def test_keypad_events_from_the_far_end_arrive_out_of_band(tmp_path: Path) -> None:
    """sipp presses 1 as RFC 4733 events (its own capture): the line hands the robot a
    Digit about a second after the answer, and no tone in the audio is needed."""
    port = _port()
    peer = _sipp(tmp_path / "dtmf.xml", port)
    phone = SipPhone(read_trunk(str(_trunk(tmp_path, port))))

    async def listen() -> list[object]:
        line = SipLine(phone)
        try:
            assert await line.dial("+8613800138000", 10) == Dialled.ANSWERED
            got: list[object] = []
            t0 = time.monotonic()
            while not got and time.monotonic() - t0 < 8:
                await line.receive(800)
                got += line.digits()
            await line.hangup()
            return got
        finally:
            await phone.close()

    try:
        digits = asyncio.run(listen())
        assert peer.wait(timeout=15) == 0  # our BYE came
    finally:
        peer.kill()
        peer.wait()
    assert [d.key for d in digits] == ["1"]  # type: ignore[attr-defined]
    assert 0.8 * 8000 < digits[0].at < 4 * 8000  # type: ignore[attr-defined]


def _tone_pcap(path: Path, hz: float, seconds: float, first: int = 0) -> Path:
    """A capture sipp can play: G.711 u-law RTP packets of a tone, 20 ms each, numbered
    from `first` (one stream across two captures: a stack drops packets it has seen)."""
    pcm = (9000 * np.sin(2 * np.pi * hz * np.arange(int(8000 * seconds)) / 8000)).astype(np.int16)
    data = ulaw_encode(pcm)
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)]
    for i in range(len(data) // 160):
        n = first + i
        rtp = struct.pack("!BBHII", 0x80, 0, n, 160 * n, 0x1234) + data[160 * i:160 * i + 160]
        udp = struct.pack("!HHHH", 4000, 4000, 8 + len(rtp), 0) + rtp
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), i, 0, 64, 17, 0,
                         bytes([127, 0, 0, 1]), bytes([127, 0, 0, 1])) + udp
        frame = b"\0" * 12 + b"\x08\x00" + ip
        out.append(struct.pack("<IIII", i // 50, i % 50 * 20000, len(frame), len(frame)) + frame)
    path.write_bytes(b"".join(out))
    return path


async def _heard_within(line: SipLine, seconds: float) -> bytes:
    """What the line hands the robot in `seconds` of the wall clock, 20 ms at a time."""
    got, until = b"", time.monotonic() + seconds
    while time.monotonic() < until:
        with contextlib.suppress(TimeoutError):
            got += await asyncio.wait_for(line.receive(160), 0.2)
    return got


def _level(pcm: np.ndarray, hz: float) -> float:
    """The tone's amplitude in `pcm` (8 kHz)."""
    t = np.arange(len(pcm)) / 8000
    return float(np.abs(np.dot(pcm, np.exp(-2j * np.pi * hz * t))) * 2 / max(1, len(pcm)))


def test_early_media_never_reaches_the_robot_as_the_answer(tmp_path: Path) -> None:
    """A 183 with an announcement (a 1 kHz tone, 2.5 s) before the 200, a 400 Hz tone
    after it: the announcement is kept as early media, and the robot's side hears only
    the answered call's tone, at the pace it comes. Before the early media was read as
    it came, the stack's receive buffer handed its last 0.5 s to the robot at the answer
    (a voicemail greeting taken for a person's hello: livekit/agents #6895)."""
    port = _port()
    peer = _sipp(tmp_path / "early.xml", port, early_ms="3000",
                 early_pcap=str(_tone_pcap(tmp_path / "early.pcap", 1000, 2.5)),
                 answer_pcap=str(_tone_pcap(tmp_path / "answer.pcap", 400, 4, first=200)))
    phone = SipPhone(read_trunk(str(_trunk(tmp_path, port))))

    async def listen() -> tuple[SipLine, bytes]:
        line = SipLine(phone)
        try:
            assert await line.dial("+8613800138000", 15) == Dialled.ANSWERED
            heard = await _heard_within(line, 2.0)
            await line.hangup()
            return line, heard
        finally:
            await phone.close()

    try:
        line, heard = asyncio.run(listen())
        assert peer.wait(timeout=20) == 0  # the scenario ran to our BYE
    finally:
        peer.kill()
        peer.wait()
    steps = [step for _, step in line.progress]
    assert steps.index(Progress.EARLY_MEDIA) < steps.index(Progress.ANSWERED)
    assert dict((step, t) for t, step in line.progress)[Progress.ANSWERED] > 2.5
    assert 8000 * 1.0 < len(heard) < 8000 * 2.5  # the answered call's audio, in real time
    pcm = ulaw_decode(heard).astype(float)
    assert _level(pcm, 400) > 2000  # the answered call's tone ...
    assert _level(pcm, 1000) < 0.02 * _level(pcm, 400)  # ... and nothing of the announcement
    early = ulaw_decode(line.early_media).astype(float)
    assert 8000 * 1.5 < len(early) <= 8000 * 3.5  # the announcement, kept apart
    assert _level(early, 1000) > 2000 and _level(early, 400) < 0.02 * _level(early, 1000)


def _campaign(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, port: int,
              extra: str = "", contacts: int = 3) -> Path:
    trunk = _trunk(tmp_path, port, extra)
    trunk.chmod(0o600)
    monkeypatch.setenv("HEALTHDIAL_TRUNK", str(trunk))
    listing, db = tmp_path / "l.csv", tmp_path / "s.db"
    write_csv(listing, [["phone", "timezone"]] + [[f"+861380013800{i}", "Asia/Shanghai"]
                                                  for i in range(contacts)])
    assert main(["load", str(listing), "--campaign", "s", "--script", str(EN), "--line", "sip",
                 "--hours", "0-24", "--max-attempts", "1", "--db", str(db)]) == 0
    return db


def _run(db: Path) -> int:
    return main(["run", "s", "--db", str(db), "--clock", "realtime", "--lines", "1",
                 "--processes", "1", "--no-progress"])


def test_a_trunks_503_makes_every_call_wait_and_costs_no_attempt(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """sipp refuses the first call with 503 and Retry-After: 6, then answers busy: no call
    starts for 6 s, the refused contact is called again with no attempt or drop used."""
    port = _port()
    db = _campaign(tmp_path, monkeypatch, port, contacts=2)
    with in_turn(tmp_path, port, ("options.xml", {}),
                 ("final.xml", {"status": "503", "reason": "Service Unavailable", "retry": "6"}),
                 ("final.xml", {"status": "486", "reason": "Busy Here", "calls": "2"})
                 ) as peers:
        assert _run(db) == 0
    assert peers == [0, 0, 0]
    store = Store(db)
    rows = sorted(store.attempts_of("s"), key=lambda a: a.started)
    assert [a.outcome for a in rows] == ["dropped", "busy", "busy"]
    assert rows[0].reason == "the trunk refused the call (503 Service Unavailable)"
    assert rows[1].started - (rows[0].started + rows[0].duration) >= 5.9  # Retry-After
    assert [(c.outcome, c.attempts, c.drops, c.status) for c in store.contacts_of("s")] == \
        [("busy", 1, 0, "done")] * 2


def test_wrong_credentials_pause_the_campaign_at_the_first_call(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A trunk that refuses our digest (403) would refuse every call: the campaign pauses
    at once with what to fix, and no contact loses an attempt."""
    port = _port()
    db = _campaign(tmp_path, monkeypatch, port, 'password = "wrong"\n')

    def stop_when_paused() -> None:
        store = Store(db)
        deadline = time.monotonic() + 40
        while store.control("s").state != "paused" and time.monotonic() < deadline:
            time.sleep(0.2)
        store.set_control("s", "stopped", "the test has seen the pause")

    actor = threading.Thread(target=stop_when_paused, daemon=True)
    actor.start()
    with in_turn(tmp_path, port, ("options.xml", {}),
                 ("auth.xml", {"method": "INVITE", "ack": AUTH_ACK, "ok": "486 Busy Here"})
                 ) as peers:
        assert _run(db) == 0
    actor.join(30)
    assert peers == [0, 0]
    store = Store(db)
    paused = [r for r in store.audit_log() if r.action == "pause"]
    assert len(paused) == 1 and "refused our credentials (403 Forbidden)" in paused[0].detail
    assert [a.outcome for a in store.attempts_of("s")] == ["dropped"]
    assert {(c.attempts, c.drops) for c in store.contacts_of("s")} == {(0, 0)}


def test_a_trunk_gone_silent_refuses_the_call_as_its_own_failure(tmp_path: Path) -> None:
    """The trunk's address takes our INVITEs and never answers (a dead SBC behind a
    firewall that drops): after the retransmissions, the call fails as the trunk's
    doing (refused: no attempt used, the breaker counts it), not as the callee's."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as hole:
        hole.bind(("127.0.0.1", 0))
        port = hole.getsockname()[1]
        phone = SipPhone(read_trunk(str(_trunk(tmp_path, port))))

        async def dial() -> tuple[SipLine, Dialled, float]:
            line = SipLine(phone)
            t0 = time.monotonic()
            try:
                return line, await line.dial("+8613800138000", 30), time.monotonic() - t0
            finally:
                await phone.close()

        line, dialled, took = asyncio.run(dial())
        hole.settimeout(0.1)
        invites = 0
        with contextlib.suppress(TimeoutError):
            while True:
                invites += hole.recv(65535).startswith(b"INVITE ")
    assert dialled == Dialled.FAILED and line.end_cause == EndCause.REFUSED
    assert line.refusal and "no answer to the INVITE" in line.refusal
    assert 7 < took < 12 and invites >= 4  # sent again, T1 doubling, before giving up


def test_the_far_ends_re_invite_is_answered_and_its_bye_ends_the_call(tmp_path: Path) -> None:
    """sipp, as a PBX would, holds the call by a re-INVITE of its own, then hangs up: the
    re-INVITE gets a 200 with our SDP (the call goes on), the BYE ends it as the callee's
    hang-up. sipp exits 0 only when both were answered."""
    port = _port()
    peer = _sipp(tmp_path / "reinvite.xml", port)
    phone = SipPhone(read_trunk(str(_trunk(tmp_path, port))))

    async def held() -> tuple[SipLine, float]:
        line = SipLine(phone)
        try:
            assert await line.dial("+8613800138000", 10) == Dialled.ANSWERED
            t0 = time.monotonic()
            while line.end_cause is None and time.monotonic() - t0 < 10:
                await line.receive(800)
            return line, time.monotonic() - t0
        finally:
            await phone.close()

    try:
        line, lasted = asyncio.run(held())
        assert peer.wait(timeout=15) == 0
    finally:
        peer.kill()
        peer.wait()
    assert line.end_cause == EndCause.CALLEE_HUNG_UP
    assert 2.2 < lasted < 6  # past the re-INVITE (1.5 s), ended by the BYE (2.5 s)


def test_a_200_crossing_our_cancel_is_acknowledged_and_ended(tmp_path: Path) -> None:
    """The callee answers just as the ring timeout CANCELs: the call stays unanswered
    for the campaign (no answer), and the far end, which did answer, gets its ACK and a
    BYE, not a call left open on its side."""
    port = _port()
    peer = _sipp(tmp_path / "crossed.xml", port)
    phone = SipPhone(read_trunk(str(_trunk(tmp_path, port))))

    async def rang_out() -> Dialled:
        try:
            return await SipLine(phone).dial("+8613800138000", 2)
        finally:
            await phone.close()

    try:
        assert asyncio.run(rang_out()) == Dialled.NO_ANSWER
        assert peer.wait(timeout=15) == 0  # the ACK and the BYE came
    finally:
        peer.kill()
        peer.wait()


def test_no_free_rtp_port_is_our_failure_and_says_what_to_widen(tmp_path: Path) -> None:
    """Every port of the trunk file's RTP range is taken: the call is refused as ours
    (no attempt used) with what to change, and no INVITE leaves."""
    import socket

    def even() -> socket.socket:  # the range's one even port (RTP's) is the taken one
        while True:
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.bind(("127.0.0.1", 0))
            if s.getsockname()[1] % 2 == 0:
                return s
            s.close()

    with even() as taken, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as trunk:
        trunk.bind(("127.0.0.1", 0))
        rtp = taken.getsockname()[1]
        path = tmp_path / "trunk.toml"
        path.write_text(f'[trunk]\nhost = "127.0.0.1:{trunk.getsockname()[1]}"\n'
                        f'interface = "127.0.0.1"\nrtp_ports = "{rtp}-{rtp + 1}"\n',
                        encoding="utf-8")
        phone = SipPhone(read_trunk(str(path)))
        line = SipLine(phone)

        async def dial() -> Dialled:
            try:
                return await line.dial("+8613800138000", 5)
            finally:
                await phone.close()

        assert asyncio.run(dial()) == Dialled.FAILED
        trunk.setblocking(False)
        with pytest.raises(BlockingIOError):
            trunk.recv(65535)  # nothing was sent to the trunk
    assert line.end_cause == EndCause.REFUSED and line.refusal
    assert f"no free RTP port in {rtp}-{rtp + 1}" in line.refusal and "rtp_ports" in line.refusal
