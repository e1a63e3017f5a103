"""Every call's RTP on one clock: a stream per call, one pacer per worker process.

Why one pacer: a library that gives each call its own timer or threads spends most of
a call's cost waking up (baresip-python 0.75-0.88% of a core per call, aiortp 0.89%;
bench/sip_libraries.py). One 20 ms tick that sends each answered call its packet and
moves what each received to its robot costs a fifth of that. Decoding runs in the
decoder processes, so nothing holds this process's GIL for long; a tick that comes late
catches up by sending the packets it owes at once (the far end's jitter buffer absorbs
a burst, not a gap), and one more than CATCH_UP_S late starts the clock again.

What arrives waits in a small jitter buffer: packets are put back in order, a missing
one is given up as silence once three later ones have come, and the robot's side is fed
a frame a tick from PRIME frames on (40 ms), so its audio comes at the wall clock's pace
whether the far end sends in bursts, late or not at all (silence suppression).
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from dialer.lines.sip import rtp

TICK_S = 0.02
CATCH_UP_S = 0.2  # a tick later than this does not catch up: the clock starts again
PRIME = 2  # frames the jitter buffer holds before it feeds the robot (40 ms)
REORDER = 3  # later packets that give up a missing one as lost
MOST_BUFFERED = 15 * rtp.FRAME  # more than this (300 ms) queued: the excess is dropped
EARLY_MAX = 60 * 8000  # early media kept at most (a minute of announcement)


@dataclass
class Stats:
    """What a stream's far end sent us, as RFC 3550 counts it."""
    received: int = 0
    lost: int = 0  # given up as missing (silence in their place)
    late: int = 0  # came after their place was given up, or twice
    dropped: int = 0  # frames dropped from a buffer grown past MOST_BUFFERED
    jitter: float = 0.0  # interarrival jitter, samples (RFC 3550 A.8)
    sent: int = 0
    unsent: int = 0  # packets the socket would not take


@dataclass
class Negotiated:
    """What the far end's SDP answer chose."""
    address: tuple[str, int]
    pt: int = rtp.PCMU
    event_pt: int | None = rtp.EVENT_PT


class Stream(asyncio.DatagramProtocol):
    """One call's RTP: a socket, what it sends each tick, what it has received."""

    def __init__(self, source: Callable[[], bytes], on_key: Callable[[str], None]) -> None:
        self.source = source  # the next 20 ms the robot says, mu-law
        self.on_key = on_key
        self.stats = Stats()
        self.transport: Any = None
        self.sock: socket.socket | None = None  # sent on directly (non-blocking)
        self.far: Negotiated | None = None
        self.ticks = 0  # ticks since the answer: the line's clock
        self.last_heard = 0.0
        self.received = bytearray()  # mu-law for the robot, in order, not yet read
        self.early: list[bytes] = []
        self.early_kept = 0
        self.closed = False
        self.talkspurt = False  # the next packet starts one: its marker bit is set
        self._ssrc = secrets.randbits(32)
        self._seq = secrets.randbits(16)
        self._ts = secrets.randbits(32)
        self._held: dict[int, bytes] = {}  # packets ahead of the one expected
        self._expect: int | None = None
        self._their_ssrc: int | None = None
        self._primed = False
        self._transit: float | None = None
        self._keys: list[str] = []  # keys to send as events
        self._event: tuple[str, int, int] | None = None  # key, its timestamp, ticks sent
        self._keys_seen: set[int] = set()  # timestamps of events already reported

    # the socket -------------------------------------------------------------------
    async def bind(self, ip: str, port: int) -> int:
        """The stream's own socket on `ip`, `port` (0: any), sent on directly; the port.
        OSError when it is taken."""
        sock = socket.socket(socket.AF_INET6 if ":" in ip else socket.AF_INET,
                             socket.SOCK_DGRAM)
        try:
            sock.bind((ip, port))
        except OSError:
            sock.close()
            raise
        sock.setblocking(False)
        await asyncio.get_running_loop().create_datagram_endpoint(lambda: self, sock=sock)
        self.sock = sock
        return int(sock.getsockname()[1])

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr: Any) -> None:
        p = rtp.parse(data)
        if p is None or self.closed:
            return
        self.last_heard = now = time.monotonic()
        if self.far is not None and p.pt == self.far.event_pt:
            self._heard_key(p)
            return
        if p.pt not in (rtp.PCMU, rtp.PCMA):
            return
        payload = p.payload.translate(rtp.A2U) if p.pt == rtp.PCMA else p.payload
        if self.far is None:
            self._keep_early(payload)
            return
        self._jitter(p, payload, now)

    def error_received(self, exc: Exception) -> None:
        """An ICMP error (the far end's port closed): the RTP timeout decides."""

    def _keep_early(self, payload: bytes) -> None:
        if self.early_kept < EARLY_MAX:
            self.early.append(payload)
            self.early_kept += len(payload)

    def answered(self, far: Negotiated) -> None:
        """The answer: what comes from now on is the call's, not early media."""
        self.far = far
        self.last_heard = time.monotonic()

    # receiving ----------------------------------------------------------------------
    def _jitter(self, p: rtp.Packet, payload: bytes, now: float) -> None:
        s = self.stats
        s.received += 1
        self._arrival(p, now)
        if p.seq == self._expect and not self._held and p.ssrc == self._their_ssrc:
            self.received += payload  # in order, nothing missing: the usual packet
            self._expect = (p.seq + 1) & 0xFFFF
        else:
            self._reorder(p, payload)
        if len(self.received) > MOST_BUFFERED:
            excess = len(self.received) - PRIME * rtp.FRAME
            del self.received[:excess]
            s.dropped += excess // rtp.FRAME

    def _reorder(self, p: rtp.Packet, payload: bytes) -> None:
        s = self.stats
        if p.ssrc != self._their_ssrc or self._expect is None:  # a new stream: start over
            self._their_ssrc, self._expect, self._held = p.ssrc, p.seq, {}
        ahead = (p.seq - self._expect) & 0xFFFF
        if ahead >= 0x8000 or p.seq in self._held:
            s.late += 1
            return
        self._held[p.seq] = payload
        while self._expect in self._held or len(self._held) >= REORDER:
            got = self._held.pop(self._expect, None)
            if got is None:
                s.lost += 1
            self.received += got if got is not None else rtp.SILENCE
            self._expect = (self._expect + 1) & 0xFFFF

    def _arrival(self, p: rtp.Packet, now: float) -> None:
        transit = now * 8000 - p.ts
        if self._transit is not None:
            d = abs(transit - self._transit)
            if d < 8000 * 10:  # not a new talk spurt after a jump in timestamps
                self.stats.jitter += (d - self.stats.jitter) / 16
        self._transit = transit

    def _heard_key(self, p: rtp.Packet) -> None:
        got = rtp.key_of(p.payload)
        if got is not None and p.ts not in self._keys_seen:  # once per event, lost end or not
            self._keys_seen.add(p.ts)
            self.on_key(got[0])

    def take(self) -> bytes:
        """This tick's frame for the robot: the next one received, or silence when
        nothing is ready (the far end silent, or the buffer filling again)."""
        ready = len(self.received) >= (rtp.FRAME if self._primed else PRIME * rtp.FRAME)
        self._primed = ready
        if not ready:
            return rtp.SILENCE
        frame = bytes(self.received[:rtp.FRAME])
        del self.received[:rtp.FRAME]
        return frame

    # sending ------------------------------------------------------------------------
    def send_keys(self, keys: str) -> None:
        self._keys += [k for k in keys.upper() if k in rtp.KEYS]

    def tick(self) -> bytes:
        """One packet time: this call's packet sent; the robot's frame returned."""
        far = self.far
        assert far is not None
        self.ticks += 1
        data = self._key_packet(far.event_pt) \
            if (self._keys or self._event) and far.event_pt is not None else None
        if data is None:
            frame = self.source()  # rtp.packet's work, inlined: one call less a packet
            pt = far.pt | 0x80 if self.talkspurt else far.pt
            self.talkspurt = False
            data = rtp.HEADER.pack(0x80, pt, self._seq & 0xFFFF, self._ts & 0xFFFFFFFF,
                                   self._ssrc) + \
                (frame.translate(rtp.U2A) if far.pt == rtp.PCMA else frame)
        self._seq += 1
        self._ts += rtp.FRAME
        if self.sock is not None:
            try:  # the socket itself: asyncio's sendto wrapper was a tenth of a call's cost
                self.sock.sendto(data, far.address)
                self.stats.sent += 1
            except OSError:  # a full send buffer, an ICMP error: the packet is lost
                self.stats.unsent += 1
        return self.take()

    def _key_packet(self, pt: int) -> bytes | None:
        """A key pressed for 100 ms, its end sent three times, then 60 ms of audio before
        the next key; None when this tick is audio."""
        if self._event is None and not self._keys:
            return None
        if self._event is None:
            self._event = (self._keys.pop(0), self._ts, 0)
        key, start, n = self._event
        self._event = (key, start, n + 1) if n < 10 else None
        if n >= 8:  # the pause after the key
            return None
        duration = min(n + 1, 5) * rtp.FRAME
        return rtp.packet(pt, self._seq, start, self._ssrc,
                          rtp.event(key, n >= 5, duration), marker=n == 0)

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            with contextlib.suppress(Exception):
                self.transport.close()


class Pacer:
    """The process's 20 ms clock: every answered stream's packet sent, its frame read."""

    def __init__(self) -> None:
        self.streams: dict[Stream, Callable[[bytes], None]] = {}
        self._task: asyncio.Task[None] | None = None
        self.late_ticks = 0
        self.lateness: list[float] | None = None  # each tick's, when a benchmark asks

    def add(self, stream: Stream, sink: Callable[[bytes], None]) -> None:
        self.streams[stream] = sink
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="rtp pacer")

    def remove(self, stream: Stream) -> None:
        self.streams.pop(stream, None)

    async def _run(self) -> None:
        start, k = time.monotonic(), 0
        while self.streams:
            k += 1
            due = start + k * TICK_S
            if (wait := due - time.monotonic()) > 0:
                await asyncio.sleep(wait)
            late = time.monotonic() - due
            if late > TICK_S:
                self.late_ticks += 1
            if late > CATCH_UP_S:  # too far behind to catch up: the clock starts again
                start += late
            if self.lateness is not None:
                self.lateness.append(late)
            for stream, sink in list(self.streams.items()):
                sink(stream.tick())

    async def close(self) -> None:
        self.streams.clear()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
