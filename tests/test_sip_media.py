"""The SIP line's own RTP: packets, A-law, keypad events sent, and the jitter buffer that
turns what the network delivers into the robot's 20 ms frames. Interop with software we
did not write is in test_sip.py and test_sip_trunk.py; these pin the arithmetic."""

from __future__ import annotations

from typing import Any

import numpy as np

from dialer.lines.sip import rtp
from dialer.lines.sip.media import PRIME, Negotiated, Stream
from dialer.lines.sip.offer import chosen, offer
from speech.channel import ulaw_decode, ulaw_encode


class Wire:
    """A socket that keeps what was sent."""

    def __init__(self) -> None:
        self.sent: list[bytes] = []

    def sendto(self, data: bytes, addr: Any) -> None:
        self.sent.append(data)


def _stream(source: bytes = rtp.SILENCE) -> tuple[Stream, Wire, list[str]]:
    keys: list[str] = []
    s = Stream(lambda: source, keys.append)
    wire = Wire()
    s.sock = wire  # type: ignore[assignment]
    s.answered(Negotiated(("127.0.0.1", 4000)))
    return s, wire, keys


def _frame(n: int) -> bytes:
    return bytes([n % 256]) * rtp.FRAME


def test_a_law_is_g711s_both_ways() -> None:
    codes = np.arange(256, dtype=np.uint8)
    assert (rtp._alaw_compute(rtp.ALAW_DECODE) == codes).all()  # every code's value, back
    assert rtp._alaw_compute(np.zeros(1, np.int16))[0] == 0xD5
    assert [int(rtp.ALAW_DECODE[c]) for c in (0xD5, 0x55, 0xAA, 0x2A)] == [8, -8, 32256, -32256]
    ramp = np.linspace(-30000, 30000, 4001).astype(np.int16)
    through = ulaw_decode(ulaw_encode(ramp).translate(rtp.U2A).translate(rtp.A2U))
    assert np.abs(through.astype(int) - ulaw_decode(ulaw_encode(ramp)).astype(int)).max() \
        <= 0.07 * np.abs(ramp.astype(int)).max()  # mu-law to A-law and back: a step at most


def test_packets_are_read_as_written_and_rtcp_is_not_audio() -> None:
    data = rtp.packet(rtp.PCMA, 70000, 2**32 + 5, 0xABCDEF, b"xyz", marker=True)
    p = rtp.parse(data)
    assert p == rtp.Packet(rtp.PCMA, 70000 & 0xFFFF, 5, 0xABCDEF, True, b"xyz")
    assert rtp.parse(bytes([0x80, 200]) + bytes(10)) is None  # an RTCP sender report
    assert rtp.parse(b"\x00" * 20) is None and rtp.parse(b"\x80") is None
    padded = bytearray(rtp.packet(0, 1, 1, 1, b"ab\x00\x02"))
    padded[0] |= 0x20
    assert rtp.parse(bytes(padded)).payload == b"ab"  # type: ignore[union-attr]
    assert rtp.key_of(rtp.event("#", True, 800)) == ("#", True)
    assert rtp.key_of(bytes([40, 0, 0, 160])) is None  # a tone event, not a key


def test_the_answer_chooses_the_law_and_the_keypad_events() -> None:
    ours = offer("127.0.0.1", 40000, ("pcmu", "pcma"))
    assert "m=audio 40000 RTP/AVP 0 8 101" in ours
    answer = ours.replace("RTP/AVP 0 8 101", "RTP/AVP 8 96").replace(
        "a=rtpmap:101 telephone-event", "a=rtpmap:96 telephone-event")
    got = chosen(answer.replace("40000", "5004"), ("pcmu", "pcma"))
    assert got == Negotiated(("127.0.0.1", 5004), rtp.PCMA, 96)
    no_keys = ours.replace(" 101\r\n", "\r\n").replace("a=rtpmap:101 telephone-event/8000\r\n", "")
    assert chosen(no_keys, ("pcmu",)).event_pt is None


def test_the_jitter_buffer_puts_packets_back_in_order_and_gives_up_the_lost() -> None:
    s, _, _ = _stream()

    def arrive(seq: int) -> None:
        s.datagram_received(rtp.packet(0, seq, seq * 160, 7, _frame(seq)), None)

    for seq in (10, 12, 11, 13):  # one out of order
        arrive(seq)
    for seq in (15, 16, 17):  # 14 never comes: three later ones give it up
        arrive(seq)
    arrive(14)  # too late now
    arrive(16)  # twice
    frames = [s.take() for _ in range(9)]
    assert frames[:4] == [_frame(n) for n in (10, 11, 12, 13)]
    assert frames[4] == rtp.SILENCE and s.stats.lost == 1 and s.stats.late == 2
    assert frames[5:8] == [_frame(15), _frame(16), _frame(17)]
    assert frames[8] == rtp.SILENCE  # nothing more came: silence, not a stall
    assert s.stats.received == 9


def test_the_robot_hears_silence_until_the_buffer_is_primed_and_after_an_underrun() -> None:
    s, _, _ = _stream()
    s.datagram_received(rtp.packet(0, 1, 160, 7, _frame(1)), None)
    assert s.take() == rtp.SILENCE  # one frame: not yet PRIME
    for seq in range(2, 2 + PRIME):
        s.datagram_received(rtp.packet(0, seq, seq * 160, 7, _frame(seq)), None)
    assert [s.take() for _ in range(PRIME + 2)] == \
        [_frame(n) for n in range(1, PRIME + 2)] + [rtp.SILENCE]
    for seq in range(100, 140):  # a 800 ms burst after a stall: only the newest kept
        s.datagram_received(rtp.packet(0, seq, seq * 160, 8, _frame(seq)), None)
    assert len(s.received) <= 15 * rtp.FRAME and s.stats.dropped > 0
    assert s.take() != rtp.SILENCE


def test_early_media_is_kept_apart_until_the_answer() -> None:
    s = Stream(lambda: rtp.SILENCE, lambda key: None)
    s.datagram_received(rtp.packet(rtp.PCMA, 1, 160, 7, b"\xd5" * 160), None)
    assert len(s.early) == 1 and not s.received
    assert (ulaw_decode(s.early[0]) == 8).all()  # A-law's +8, kept as mu-law
    s.answered(Negotiated(("127.0.0.1", 4000)))
    s.datagram_received(rtp.packet(0, 2, 320, 7, _frame(2)), None)
    assert len(s.early) == 1 and s.stats.received == 1


def test_a_key_is_sent_as_rfc_4733_events_then_the_audio_goes_on() -> None:
    s, wire, _ = _stream(source=_frame(9))
    s.tick()
    s.send_keys("5")
    for _ in range(12):
        s.tick()
    packets = [rtp.parse(d) for d in wire.sent]
    assert all(p is not None for p in packets)
    events = [p for p in packets if p and p.pt == rtp.EVENT_PT]
    assert len(events) == 8 and len({p.ts for p in events}) == 1  # one event, one timestamp
    assert events[0].marker and not any(p.marker for p in events[1:])
    said = [rtp.key_of(p.payload) for p in events]
    assert said == [("5", False)] * 5 + [("5", True)] * 3  # its end sent three times
    durations = [int.from_bytes(p.payload[2:4], "big") for p in events]
    assert durations == [160, 320, 480, 640, 800, 800, 800, 800]
    seqs = [p.seq for p in packets if p]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))
    audio = [p for p in packets if p and p.pt == rtp.PCMU]
    assert audio[0].ts + 9 * 160 == audio[1].ts and audio[-1].payload == _frame(9)


def test_keys_from_the_far_end_are_reported_once_each() -> None:
    s, _, keys = _stream()
    for i in range(6):  # an event's updates and its end, the end repeated
        s.datagram_received(rtp.packet(rtp.EVENT_PT, i, 800, 7,
                                       rtp.event("7", i >= 3, 160 * (i + 1))), None)
    s.datagram_received(rtp.packet(rtp.EVENT_PT, 6, 2400, 7, rtp.event("7", True, 800)), None)
    assert keys == ["7", "7"]  # a second press: a new timestamp


def test_each_prompt_starts_a_talkspurt_its_first_packet_marked() -> None:
    """RFC 3551: the first packet of a talkspurt carries the marker bit. Each prompt is one:
    a far end (bench/sip_farend.py) lines a recorded callee up with the robot's prompts
    by it, so exactly the first packet of each play is marked, a cut one's too."""
    from dialer.lines.sip.line import SipLine, SipPhone
    from dialer.lines.sip.trunk import Trunk

    line = SipLine(SipPhone(Trunk(host="127.0.0.1:5060")))
    wire = Wire()
    line.stream.sock = wire  # type: ignore[assignment]
    line.stream.answered(Negotiated(("127.0.0.1", 4000)))
    line._answered = True
    prompt = bytes(range(1, 101)) * 8  # 800 samples: five packets
    for _ in range(3):
        line.stream.tick()  # silence before the first prompt
    line.play(prompt)
    for _ in range(8):
        line.stream.tick()
    line.play(prompt)  # the next prompt
    for _ in range(2):
        line.stream.tick()
    line.play(prompt)  # the one before cut short by this one
    for _ in range(3):
        line.stream.tick()
    packets = [rtp.parse(d) for d in wire.sent]
    marked = [i for i, p in enumerate(packets) if p is not None and p.marker]
    assert len(packets) == 16
    assert marked == [3, 11, 13], marked
    assert all(packets[i] is not None and packets[i].payload[:1] == b"\x01"  # type: ignore[union-attr]
               for i in marked)


def test_the_benchmarks_far_end_lines_a_recording_up_with_each_marked_prompt() -> None:
    """bench/sip_farend.py replays a recorded callee from each prompt's recorded start,
    as dialer/lines/recorded.py does in a process: the Nth marked packet from the robot
    jumps the replay to the Nth play; past the plays it is silent; it hangs up at the end."""
    from bench.sip_farend import Replay, ReplayStream

    mu = bytes(i // rtp.FRAME + 1 for i in range(10 * rtp.FRAME))  # frame k holds k + 1
    replay = Replay(mu, [0, 6 * rtp.FRAME])
    stream = ReplayStream(replay)
    stream.answered(Negotiated(("127.0.0.1", 4000)))
    said = [replay.frame()[0] for _ in range(2)]
    stream.datagram_received(rtp.packet(rtp.PCMU, 1, 0, 7, rtp.SILENCE, marker=True), None)
    said += [replay.frame()[0] for _ in range(2)]  # the first play started at 0
    stream.datagram_received(rtp.packet(rtp.PCMU, 2, 160, 7, rtp.SILENCE), None)  # unmarked
    said += [replay.frame()[0]]
    stream.datagram_received(rtp.packet(rtp.PCMU, 3, 320, 7, rtp.SILENCE, marker=True), None)
    said += [replay.frame()[0] for _ in range(4)]  # the second play: frame 6 on
    assert said == [1, 2, 1, 2, 3, 7, 8, 9, 10] and not replay.over
    assert replay.frame() == rtp.SILENCE and replay.over  # the recording ends: hang up
    stream.datagram_received(rtp.packet(rtp.PCMU, 4, 480, 7, rtp.SILENCE, marker=True), None)
    assert replay.off_course and replay.frame() == rtp.SILENCE
