"""The phone channel: 8 kHz G.711 mu-law both ways, as on a real line."""

from __future__ import annotations

import numpy as np

from speech.audio import Audio

RATE = 8000
_BIAS = 0x84
_CLIP = 32635


def ulaw_encode(pcm: np.ndarray) -> bytes:
    """16-bit linear PCM to G.711 mu-law bytes (ITU-T G.711, segment encoding)."""
    s = pcm.astype(np.int32)
    sign = (s < 0).astype(np.int32)
    mag = np.minimum(np.abs(s), _CLIP) + _BIAS
    exponent = np.clip(np.floor(np.log2(mag)).astype(np.int32) - 7, 0, 7)
    mantissa = (mag >> (exponent + 3)) & 0x0F
    return (~((sign << 7) | (exponent << 4) | mantissa) & 0xFF).astype(np.uint8).tobytes()


def _decode_table() -> np.ndarray:
    u = ~np.arange(256, dtype=np.int32) & 0xFF
    exponent = (u >> 4) & 0x07
    mag = (((u & 0x0F) << 3) + _BIAS) << exponent
    return np.where(u & 0x80, _BIAS - mag, mag - _BIAS).astype(np.int16)


_DECODE = _decode_table()


def ulaw_decode(data: bytes) -> np.ndarray:
    return _DECODE[np.frombuffer(data, dtype=np.uint8)]


def to_line(audio: Audio) -> bytes:
    """What goes down the wire: 8 kHz mu-law."""
    return ulaw_encode(audio.resampled(RATE).samples)


def from_line(data: bytes) -> Audio:
    return Audio(ulaw_decode(data), RATE)
