"""Which SIP library for healthdial's real lines: N concurrent G.711 calls to sipp (a UAS
that echoes RTP), from baresip-python, from aiosipua + aiortp, from aiosipua with one
pacer for every call's RTP, and from healthdial's SIP line itself (`line`: the same
design, with its jitter buffer and a reader per call taking every frame as the robot
does), with or without a thread holding the GIL as pocketsphinx does while decoding.

Not a test. `line` and `baresip` run in healthdial's venv; aiortp is not a dependency:
for `aiosipua` run it in a scratch venv (`pip install --pre baresip-python==0.5.2a3
aiosipua==0.7.1 aiortp==0.8.0 numpy soxr`). Debian's sip-tester is the far end:

    python bench/sip_libraries.py [--calls 100,200] [--hold 30] [--gil]
                                  [--libs line,baresip] [--ptime 40] [--config 'LINE; LINE']

Figures per library and size: calls set up, this process's CPU (share of one core, and
per call), seconds of audio sent and echoed back, and each library's own signs of
lateness (baresip: starved transmit frames, receive bytes discarded, warnings; aiortp:
packets lost, summed jitter).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = str(Path(__file__).resolve().parent.parent)
TONE = (np.sin(np.arange(800) * 2 * np.pi * 440 / 8000) * 8000).astype(np.int16).tobytes()


def hold_the_gil() -> None:
    """A stand-in for a decoder: 40 ms slices with the GIL held, 80% of the time."""
    t = time.perf_counter()
    sum(range(100_000))
    n = int(0.040 / ((time.perf_counter() - t) / 100_000))

    def run() -> None:
        while True:
            sum(range(n))
            time.sleep(0.010)

    threading.Thread(target=run, daemon=True).start()


async def _pace(hold_s: float, each: Any) -> tuple[float, float]:
    """Call `each()` every 100 ms for `hold_s`; this process's CPU and the wall time."""
    cpu0, w0, tick = time.process_time(), time.monotonic(), 0
    while time.monotonic() - w0 < hold_s:
        tick += 1
        each()
        await asyncio.sleep(max(0.0, w0 + tick * 0.1 - time.monotonic()))
    return time.process_time() - cpu0, time.monotonic() - w0


async def baresip_calls(n: int, hold_s: float, port: int, ptime: int = 20,
                        config: str = "") -> dict[str, Any]:
    from baresip import Account, Config, Runtime, UserAgent

    rt = Runtime()
    await rt.start(Config(net_interface="127.0.0.1", max_concurrent_calls=None,
                          extra_config_text=f"rtp_ports 20000-{20000 + 4 * n + 100}\n"
                                            f"sip_listen 127.0.0.1:{port + 1000}\n"
                                            + "".join(f"{x.strip()}\n"
                                                      for x in config.split(";") if x)))
    ua = await UserAgent.create(rt, Account("bench", "127.0.0.1", "", reg_interval=0,
                                            extra_params=(f"ptime={ptime}",)))
    t0 = time.monotonic()
    calls = []
    for i in range(n):  # 200 calls a second, as a dispatcher's cps cap would space them
        calls.append(await ua.dial(f"sip:s{i}@127.0.0.1:{port}"))
        await asyncio.sleep(0.005)
    res = await asyncio.gather(*(c.wait_established(30) for c in calls), return_exceptions=True)
    up = [c for c, r in zip(calls, res, strict=True) if r is None]
    setup = time.monotonic() - t0
    warnings: list[Any] = []
    for c in up:
        c.on_audio_warning(warnings.append)
    moved = [0, 0]

    def each() -> None:
        for c in up:
            moved[0] += c.audio.write(TONE)
            moved[1] += len(c.audio.read(64000))

    cpu, wall = await _pace(hold_s, each)
    stats = [c.audio.stats() for c in up]
    await asyncio.gather(*(c.hangup() for c in up), return_exceptions=True)
    await rt.close()
    name = f"baresip-python ptime {ptime}" + (f" ({config})" if config else "")
    return {**_figures(name, n, len(up), setup, cpu, wall, moved),
            "warnings": len(warnings),
            **{f: sum(getattr(s, f) for s in stats) for f in (
                "tx_starved_frames", "rx_dropped_bytes", "rx_discarded_bytes")}}


async def _dial(n: int, port: int) -> tuple[Any, list[tuple[int, Any]], float]:
    """aiosipua places `n` calls to sipp, call i offering RTP on 30000 + 2i: its client,
    the calls answered (with i), and the seconds it took."""
    from aiosipua import SipUAC
    from aiosipua.sdp_negotiate import build_sdp
    from aiosipua.transport import UdpSipTransport

    tr = UdpSipTransport(local_addr=("127.0.0.1", port + 2000))
    uac = SipUAC(tr)
    tr.on_message = lambda m, a: None if hasattr(m, "method") else uac.handle_response(m, a)
    await tr.start()
    t0 = time.monotonic()
    calls = []
    for i in range(n):
        calls.append(uac.send_invite("sip:bench@127.0.0.1", f"sip:s{i}@127.0.0.1:{port}",
                                     ("127.0.0.1", port),
                                     build_sdp("127.0.0.1", 30000 + 2 * i, 0, "PCMU")))
        await asyncio.sleep(0.005)
    res = await asyncio.gather(*(c.wait_answered(30) for c in calls), return_exceptions=True)
    up = [(i, c) for i, (c, r) in enumerate(zip(calls, res, strict=True)) if r is None]
    setup = time.monotonic() - t0
    return uac, up, setup


async def aiosipua_calls(n: int, hold_s: float, port: int) -> dict[str, Any]:
    from aiortp import RTPSession

    uac, up, setup = await _dial(n, port)
    moved = [0, 0]
    sessions = []
    for i, c in up:
        s = await RTPSession.create(("127.0.0.1", 30000 + 2 * i), c.sdp_answer.rtp_address, 0,
                                    paced=True)
        s.on_audio = lambda pcm, _ts: moved.__setitem__(1, moved[1] + len(pcm))
        sessions.append(s)

    def each() -> None:
        for s in sessions:
            for k in range(5):
                s.send_audio_pcm_auto(TONE[k * 320:(k + 1) * 320])
            moved[0] += len(TONE)

    cpu, wall = await _pace(hold_s, each)
    stats = [s.stats for s in sessions]
    for s in sessions:
        await s.close()
    for _, c in up:
        c.hangup(uac)
    return {**_figures("aiosipua+aiortp", n, len(up), setup, cpu, wall, moved),
            "packets_lost": sum(s.get("packets_lost", 0) for s in stats),
            "jitter_sum": sum(s.get("jitter", 0) for s in stats)}


class _Rtp(asyncio.DatagramProtocol):
    """One call's RTP socket: what arrives is counted, and gaps in its sequence."""

    def __init__(self) -> None:
        self.transport: Any = None
        self.got = self.lost = 0
        self.expect: int | None = None

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr: Any) -> None:
        seq = int.from_bytes(data[2:4], "big")
        if self.expect is not None and seq != self.expect:
            self.lost += (seq - self.expect) & 0xFFFF
        self.expect = (seq + 1) & 0xFFFF
        self.got += len(data) - 12


async def batched_calls(n: int, hold_s: float, port: int) -> dict[str, Any]:
    """aiosipua's signalling, and RTP from one pacer for every call: a 20 ms tick sends
    each call its packet (header packed, payload mu-law from a table), in one thread."""
    import struct

    uac, up, setup = await _dial(n, port)
    loop = asyncio.get_running_loop()
    peers = []
    for i, c in up:
        _, proto = await loop.create_datagram_endpoint(
            _Rtp, local_addr=("127.0.0.1", 30000 + 2 * i), remote_addr=c.sdp_answer.rtp_address)
        peers.append(proto)
    table = _ulaw_table()
    pcm = np.frombuffer(TONE, dtype=np.int16)
    header = struct.Struct("!BBHII")
    sent, late = 0, []
    cpu0, w0 = time.process_time(), time.monotonic()
    for seq in range(int(hold_s / 0.020)):  # a packet for every call every 20 ms, on time
        due = w0 + seq * 0.020
        await asyncio.sleep(max(0.0, due - time.monotonic()))
        late.append(time.monotonic() - due)
        audio = pcm[(seq % 5) * 160:(seq % 5 + 1) * 160].view(np.uint16)
        for k, p in enumerate(peers):  # each call's frame encoded, as each line's own
            p.transport.sendto(header.pack(0x80, 0, seq & 0xFFFF, seq * 160, k)
                               + table[audio].tobytes())
        sent += len(peers) * 320
    cpu, wall = time.process_time() - cpu0, time.monotonic() - w0
    late.sort()
    for p in peers:
        p.transport.close()
    for _, c in up:
        c.hangup(uac)
    return {**_figures("aiosipua + one pacer", n, len(up), setup, cpu, wall,
                       [sent, sum(2 * p.got for p in peers)]),
            "packets_lost": sum(p.lost for p in peers),
            "tick_late_p99_ms": round(1000 * late[int(0.99 * (len(late) - 1))], 2),
            "tick_late_max_ms": round(1000 * late[-1], 2)}


async def line_calls(n: int, hold_s: float, port: int, rtp: int = 30000) -> dict[str, Any]:
    """healthdial's SIP line: `n` calls through a trunk file's settings, each playing a
    prompt while a reader takes what comes back, 100 ms at a time, as the robot does."""
    sys.path.insert(0, REPO)
    from dialer.lines import Dialled
    from dialer.lines.sip.line import SipLine, SipPhone
    from dialer.lines.sip.trunk import Trunk
    from speech.channel import ulaw_encode

    phone = SipPhone(Trunk(host=f"127.0.0.1:{port}", interface="127.0.0.1",
                           rtp_ports=(rtp, rtp + 4999)))
    lines = [SipLine(phone) for _ in range(n)]
    t0 = time.monotonic()

    async def dial(i: int, line: SipLine) -> Dialled:
        await asyncio.sleep(0.005 * i)
        return await line.dial(f"+86138{i:08d}", 30)

    dialled = await asyncio.gather(*(dial(i, x) for i, x in enumerate(lines)))
    up = [x for x, d in zip(lines, dialled, strict=True) if d == Dialled.ANSWERED]
    setup = time.monotonic() - t0
    prompt = ulaw_encode(np.tile(np.frombuffer(TONE, np.int16), int(hold_s * 10) + 50))
    heard = [0]

    async def read(line: SipLine) -> None:
        while line.end_cause is None:
            got = await line.receive(800)  # awaited first: `+=` would read heard[0] before
            heard[0] += len(got)

    for x in up:
        x.play(prompt)
    readers = [asyncio.create_task(read(x)) for x in up]
    lateness: list[float] = []
    phone.pacer.lateness = lateness
    cpu0, w0 = time.process_time(), time.monotonic()
    await asyncio.sleep(hold_s)
    cpu, wall = time.process_time() - cpu0, time.monotonic() - w0
    phone.pacer.lateness = None
    stats = [x.stream.stats for x in up]
    for r in readers:
        r.cancel()
    await asyncio.gather(*(x.hangup() for x in up))
    await phone.close()
    lateness.sort()
    return {**_figures("healthdial line", n, len(up), setup, cpu, wall,
                       [sum(s.sent for s in stats) * 320, heard[0] * 2]),
            **{f: sum(getattr(s, f) for s in stats) for f in (
                "received", "lost", "late", "dropped")},
            "jitter_mean_ms": round(sum(s.jitter for s in stats) / max(1, len(stats)) / 8, 2),
            "not_up": sorted({f"{d}: {x.refusal}" for x, d in zip(lines, dialled, strict=True)
                              if d != Dialled.ANSWERED})[:3],
            "tick_late_p99_ms": round(1000 * lateness[int(0.99 * (len(lateness) - 1))], 2),
            "tick_late_max_ms": round(1000 * lateness[-1], 2)}


def _split(args: argparse.Namespace) -> dict[str, Any]:
    """The line's calls over `split` processes at once (each its own pacer and RTP
    ports, as each worker process has): their figures summed."""
    each = int(args.calls) // args.split
    runs = [subprocess.Popen([sys.executable, __file__, "--lib", "line", "--calls", str(each),
                              "--hold", str(args.hold), "--port", str(args.port),
                              "--rtp", str(30000 + 5000 * i)], stdout=subprocess.PIPE, text=True)
            for i in range(args.split)]
    parts = [json.loads(r.communicate()[0]) for r in runs]
    out = {k: sum(p[k] for p in parts) for k in (
        "calls", "up", "cpu_of_one_core", "audio_sent_s", "echoed_s", "received", "lost",
        "late", "dropped", "rss_mb")}
    return {"lib": f"healthdial line, {args.split} processes", **out,
            "cpu_per_call_pct": round(100 * out["cpu_of_one_core"] / max(1, out["up"]), 3),
            "setup_s": max(p["setup_s"] for p in parts),
            "jitter_mean_ms": max(p["jitter_mean_ms"] for p in parts),
            "tick_late_p99_ms": max(p["tick_late_p99_ms"] for p in parts),
            "tick_late_max_ms": max(p["tick_late_max_ms"] for p in parts)}


def _ulaw_table() -> np.ndarray:
    """healthdial's G.711 table (imported late: the baresip runs need none of it)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from speech.channel import _ENCODE

    return _ENCODE


def _figures(lib: str, n: int, up: int, setup: float, cpu: float, wall: float,
             moved: list[int]) -> dict[str, Any]:
    return {"lib": lib, "calls": n, "up": up, "setup_s": round(setup, 2),
            "cpu_of_one_core": round(cpu / wall, 3),
            "cpu_per_call_pct": round(100 * cpu / wall / max(1, up), 3),
            "audio_sent_s": round(moved[0] / 16000, 1), "echoed_s": round(moved[1] / 16000, 1),
            "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--calls", default="100,200")
    ap.add_argument("--hold", type=float, default=30.0)
    ap.add_argument("--gil", action="store_true", help="a thread holds the GIL 80%% of the time")
    ap.add_argument("--lib", choices=["baresip", "aiosipua", "batched", "line"],
                    help=argparse.SUPPRESS)
    ap.add_argument("--port", type=int, default=5070)
    ap.add_argument("--libs", default="baresip,aiosipua", help="which libraries to run")
    ap.add_argument("--ptime", type=int, default=20, help="baresip's packet time, ms")
    ap.add_argument("--config", default="", help="baresip config lines, ';' between")
    ap.add_argument("--split", type=int, default=1,
                    help="the line's calls over this many processes, as worker processes")
    ap.add_argument("--rtp", type=int, default=30000, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.lib:  # one library, one size, in a process of its own
        if args.gil:
            hold_the_gil()
        if args.lib == "baresip":
            done = baresip_calls(int(args.calls), args.hold, args.port, args.ptime,
                                 args.config)
        elif args.lib == "line" and args.split > 1:
            print(json.dumps(_split(args)))
            return
        elif args.lib == "line":
            done = line_calls(int(args.calls), args.hold, args.port, args.rtp)
        elif args.lib == "batched":
            done = batched_calls(int(args.calls), args.hold, args.port)
        else:
            done = aiosipua_calls(int(args.calls), args.hold, args.port)
        print(json.dumps(asyncio.run(done)))
        return
    for n in args.calls.split(","):
        for lib in args.libs.split(","):  # each run on a fresh sipp: no call left over
            peer = subprocess.Popen(["sipp", "-sn", "uas", "-i", "127.0.0.1", "-p",
                                     str(args.port), "-rtp_echo", "-mp", "16000", "-nostdin"],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                time.sleep(0.5)
                cmd = [sys.executable, __file__, "--lib", lib, "--calls", n, "--hold",
                       str(args.hold), "--port", str(args.port), "--ptime", str(args.ptime),
                       "--config", args.config, "--split", str(args.split)] + (
                           ["--gil"] if args.gil else [])
                print(subprocess.run(cmd, capture_output=True, text=True).stdout.strip(),
                      flush=True)
            finally:
                peer.kill()
                peer.wait()


if __name__ == "__main__":
    main()
