"""A trunk that cannot be used is found before the first call, and a trunk that refuses
calls costs no contact an attempt: proven against sipp (digest authentication checked
by sipp's `verifyauth`, OPTIONS, 503 with Retry-After, RFC 4733 keypad events)."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import pytest

from dialer.cli import main
from dialer.lines import Dialled, EndCause
from dialer.lines.sip import SipBackend, probe
from dialer.lines.sip.line import SipLine, SipPhone
from dialer.lines.sip.trunk import read_trunk
from dialer.store import Store
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
