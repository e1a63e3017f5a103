"""RTP packets as a SIP line sends and reads them: the header (RFC 3550), G.711 in both
laws, and keypad events (RFC 4733).

The robot's side of a line speaks mu-law; a trunk that answers A-law (PCMA) is
translated byte for byte by a 256-entry table (`bytes.translate`, in C), so no call
decodes to linear on its way to the wire.
"""

from __future__ import annotations

import struct
from typing import NamedTuple

import numpy as np

from speech.channel import _ENCODE, ulaw_decode

HEADER = struct.Struct("!BBHII")
PCMU, PCMA = 0, 8  # static payload types (RFC 3551)
EVENT_PT = 101  # telephone-event, as we offer it
FRAME = 160  # samples in a 20 ms packet at 8 kHz
SILENCE = b"\xff" * FRAME  # mu-law zero
KEYS = "0123456789*#ABCD"  # RFC 4733 event codes 0-15
_SEG_AEND = np.array([0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF])


def _alaw_compute(pcm: np.ndarray) -> np.ndarray:
    """16-bit linear to G.711 A-law, bit for bit as the classic reference (Sun's g711.c)."""
    v = pcm.astype(np.int32) >> 3
    negative = v < 0
    mag = np.where(negative, -v - 1, v)
    segment = np.searchsorted(_SEG_AEND, mag)
    low = np.where(segment < 2, mag >> 1, mag >> np.maximum(segment, 1)) & 0x0F
    code = np.where(segment >= 8, 0x7F, (segment << 4) | low)
    return (code ^ np.where(negative, 0x55, 0xD5)).astype(np.uint8)


def _alaw_decode_table() -> np.ndarray:
    a = np.arange(256, dtype=np.int32) ^ 0x55
    t = (a & 0x0F) << 4
    segment = (a & 0x70) >> 4
    t = np.where(segment == 0, t + 8, t + 0x108)
    t = np.where(segment > 1, t << np.maximum(segment - 1, 0), t)
    return np.where(a & 0x80, t, -t).astype(np.int16)


ALAW_DECODE = _alaw_decode_table()
# mu-law code -> A-law code and back, through the linear value each stands for
U2A = _alaw_compute(ulaw_decode(bytes(range(256)))).tobytes()
A2U = _ENCODE[ALAW_DECODE.view(np.uint16)].tobytes()


class Packet(NamedTuple):  # a tuple: made for every packet received
    pt: int
    seq: int
    ts: int
    ssrc: int
    marker: bool
    payload: bytes


def parse(data: bytes) -> Packet | None:
    """An RTP packet, or None for anything else (RTCP, STUN, a short datagram)."""
    if len(data) < 12 or data[0] >> 6 != 2:
        return None
    first, second, seq, ts, ssrc = HEADER.unpack_from(data)
    pt = second & 0x7F
    if 72 <= pt <= 76:  # RTCP multiplexed on the port (RFC 5761)
        return None
    at = 12 + 4 * (first & 0x0F)
    if first & 0x10 and len(data) >= at + 4:  # header extension: skipped
        at += 4 + 4 * int.from_bytes(data[at + 2:at + 4], "big")
    end = len(data) - (data[-1] if first & 0x20 else 0)
    if at > end:
        return None
    return Packet(pt, seq, ts, ssrc, bool(second & 0x80), data[at:end])


def packet(pt: int, seq: int, ts: int, ssrc: int, payload: bytes, marker: bool = False) -> bytes:
    return HEADER.pack(0x80, pt | (0x80 if marker else 0), seq & 0xFFFF, ts & 0xFFFFFFFF,
                       ssrc) + payload


def event(key: str, end: bool, duration: int) -> bytes:
    """An RFC 4733 payload: the key, the end bit, volume 10 dBm0 below full, its duration."""
    return bytes([KEYS.index(key), (0x80 if end else 0) | 10]) + \
        min(duration, 0xFFFF).to_bytes(2, "big")


def key_of(payload: bytes) -> tuple[str, bool] | None:
    """(key, ended) of an RFC 4733 payload; None for an event that is no key (a tone)."""
    if len(payload) < 4 or payload[0] >= len(KEYS):
        return None
    return KEYS[payload[0]], bool(payload[1] & 0x80)
