"""DTMF keypad tones: made as real dual tones, found again with the Goertzel algorithm."""

from __future__ import annotations

import numpy as np

from speech.channel import RATE

_ROWS = (697, 770, 852, 941)
_COLS = (1209, 1336, 1477, 1633)
_KEYS = ("123A", "456B", "789C", "*0#D")
_BLOCK = 205  # the classic Goertzel block at 8 kHz: 25.6 ms, bins close to the DTMF tones


def tones(digits: str, rate: int = RATE, tone_s: float = 0.1, gap_s: float = 0.07,
          level: float = 0.3) -> np.ndarray:
    """The audio of pressing `digits`: int16 samples."""
    t = np.arange(int(tone_s * rate)) / rate
    gap = np.zeros(int(gap_s * rate))
    parts = []
    for d in digits:
        r, c = next((r, c) for r, row in enumerate(_KEYS) for c, k in enumerate(row) if k == d)
        wave = np.sin(2 * np.pi * _ROWS[r] * t) + np.sin(2 * np.pi * _COLS[c] * t)
        parts += [level / 2 * wave, gap]
    return np.clip(np.concatenate(parts) * 32767, -32768, 32767).astype(np.int16)


def _coefficients(rate: int) -> np.ndarray:
    freqs = np.array(_ROWS + _COLS)
    k = np.round(_BLOCK * freqs / rate)
    return 2 * np.cos(2 * np.pi * k / _BLOCK)


def _powers(blocks: np.ndarray, coeff: np.ndarray) -> np.ndarray:
    """Goertzel power of every block at the 8 DTMF frequencies: shape (blocks, 8)."""
    n = blocks.shape[0]
    s1 = np.zeros((n, 8))
    s2 = np.zeros((n, 8))
    for x in blocks.T:
        s0 = x[:, None] + coeff * s1 - s2
        s2, s1 = s1, s0
    return s1**2 + s2**2 - coeff * s1 * s2


def detect(samples: np.ndarray, rate: int = RATE) -> str:
    """The digits pressed in `samples` (8 kHz), in order; '' if none."""
    n = len(samples) // _BLOCK
    if n == 0:
        return ""
    blocks = samples[: n * _BLOCK].astype(np.float64).reshape(n, _BLOCK) / 32768
    p = _powers(blocks, _coefficients(rate))
    energy = (blocks**2).sum(axis=1) * _BLOCK / 2
    row, col = p[:, :4].argmax(axis=1), p[:, 4:].argmax(axis=1)
    rp, cp = p[np.arange(n), row], p[np.arange(n), 4 + col]
    # both tones present, strong, carrying most of the block's energy, with limited twist
    floor = (0.01 * _BLOCK / 2) ** 2  # each tone above -40 dBFS
    ok = (rp > floor) & (cp > floor)
    ok &= (rp + cp) > 0.6 * energy
    ok &= (rp < 8 * cp) & (cp < 8 * rp)
    out, last, run = [], None, 0
    for i in range(n):
        key = _KEYS[row[i]][col[i]] if ok[i] else None
        run = run + 1 if key == last else 1
        if key is not None and run == 2:  # stable for two blocks: one key press
            out.append(key)
        last = key
    return "".join(out)
