"""A SIP far end that replays recorded callees over RTP: the lines-held ramp over SIP.

    python bench/sip_farend.py PORT RECORDINGS_DIR

Each INVITE's user part names a recording (`sip:rec-K@host`, the Kth `.flac` of the
folder in name order); the call is answered at once and the callee's channel replayed
from the answer on. Each prompt the robot starts (the first packet of a prompt carries
the RTP marker bit, as RFC 3551 marks a talkspurt) lines up with the recording's next
play, as dialer/lines/recorded.py lines them up inside one process; the far end hangs
up (BYE) where the recording ends, and lets go when the robot does. Every call's RTP
goes out on one pacer (healthdial's own, dialer/lines/sip/media.py), so the far end
costs what the robot's media costs and the machine is left to the robot.

Prints "ready" once listening; runs until killed. A benchmark's tool: it is the
simulation's side of the line, so it may use what the robot may not (the recording's
log of where each prompt started).
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from aiosipua import SipUAS  # noqa: E402
from aiosipua.sdp import parse_sdp  # noqa: E402

from dialer.calllog import CallLog  # noqa: E402
from dialer.lines.recorded import callee_channel  # noqa: E402
from dialer.lines.sip import rtp  # noqa: E402
from dialer.lines.sip.media import Negotiated, Pacer, Stream  # noqa: E402
from dialer.lines.sip.offer import offer  # noqa: E402
from dialer.lines.sip.transport import udp  # noqa: E402
from speech.channel import ulaw_encode  # noqa: E402

HOST = "127.0.0.1"


class Replay:
    """One recorded callee as the far end's voice, 20 ms at a time."""

    def __init__(self, mu: bytes, starts: list[int]) -> None:
        self.mu, self.starts = mu, starts
        self.t = 0  # samples sent since the answer
        self.offset = 0  # recording position minus line time
        self.plays = 0
        self.off_course = False  # the robot played more prompts than the recording holds
        self.over = False

    def prompt(self) -> None:
        """The robot started a prompt: the recording goes on from its next play."""
        if self.plays < len(self.starts):
            self.offset = self.starts[self.plays] - self.t
        else:
            self.off_course = True
        self.plays += 1

    def frame(self) -> bytes:
        at = self.t + self.offset
        self.t += rtp.FRAME
        if at + rtp.FRAME > len(self.mu):
            self.over = True
        if self.off_course or at >= len(self.mu):
            return rtp.SILENCE
        chunk = self.mu[max(0, at):at + rtp.FRAME]
        return chunk + rtp.SILENCE[len(chunk):]


class ReplayStream(Stream):
    """A stream that notices the marker bit of the robot's audio packets."""

    def __init__(self, replay: Replay) -> None:
        super().__init__(replay.frame, lambda key: None)
        self.replay = replay

    def datagram_received(self, data: bytes, addr: Any) -> None:
        far = self.far
        if far is not None and len(data) > 12 and data[1] == far.pt | 0x80:
            self.replay.prompt()
        super().datagram_received(data, addr)


class FarEnd:
    def __init__(self, recordings: list[tuple[bytes, list[int]]]) -> None:
        self.recordings = recordings
        self.pacer = Pacer()
        self.calls: dict[str, ReplayStream] = {}
        self.uas: SipUAS | None = None

    async def start(self, port: int) -> None:
        self.uas = uas = SipUAS(udp(HOST, port))
        uas.on_invite = lambda call: asyncio.ensure_future(self._answer(call))
        uas.on_bye = lambda call, _: self._end(call.call_id)
        await uas.start()

    async def _answer(self, call: Any) -> None:
        user = call.invite.uri.split(":", 1)[-1].split("@")[0]
        try:
            mu, starts = self.recordings[int(user.removeprefix("rec-")) % len(self.recordings)]
        except ValueError:
            call.reject(404, "Not Found")
            return
        offered = call.sdp_offer
        if offered is None or offered.rtp_address is None:
            call.reject(488, "Not Acceptable Here")
            return
        stream = ReplayStream(Replay(mu, starts))
        port = await stream.bind(HOST, 0)
        call.accept(parse_sdp(offer(HOST, port, ("pcmu",))))
        stream.answered(Negotiated(offered.rtp_address, rtp.PCMU, rtp.EVENT_PT))
        self.calls[call.call_id] = stream
        self.pacer.add(stream, lambda _frame: self._check(call, stream))

    def _check(self, call: Any, stream: ReplayStream) -> None:
        if stream.replay.over and call.call_id in self.calls:  # the callee hangs up
            call.hangup()
            self._end(call.call_id)

    def _end(self, call_id: str) -> None:
        stream = self.calls.pop(call_id, None)
        if stream is not None:
            self.pacer.remove(stream)
            stream.close()


def load(folder: Path) -> list[tuple[bytes, list[int]]]:
    """Every recording's callee channel (mu-law) and where its prompts started."""
    out = []
    for path in sorted(folder.glob("*.flac")):
        log = CallLog.from_json(path.with_suffix(".json").read_text())
        out.append((ulaw_encode(callee_channel(path)), [p.at for p in log.plays]))
    return out


async def main(port: int, folder: Path) -> None:
    far = FarEnd(load(folder))
    await far.start(port)
    print("ready", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()


if __name__ == "__main__":
    logging.basicConfig(level=logging.ERROR)
    asyncio.run(main(int(sys.argv[1]), Path(sys.argv[2])))
