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


def _basis(rate: int) -> tuple[np.ndarray, np.ndarray]:
    """Cosine and sine of the 8 Goertzel bins over one block: shape (_BLOCK, 8)."""
    if rate not in _BASES:
        freqs = np.array(_ROWS + _COLS)
        w = 2 * np.pi * np.round(_BLOCK * freqs / rate) / _BLOCK
        phase = np.outer(np.arange(_BLOCK), w)
        _BASES[rate] = (np.cos(phase), np.sin(phase))
    return _BASES[rate]


_BASES: dict[int, tuple[np.ndarray, np.ndarray]] = {}


def _powers(blocks: np.ndarray, rate: int) -> np.ndarray:
    """Goertzel power of every block at the 8 DTMF frequencies: shape (blocks, 8). The
    Goertzel recursion's power is the DFT bin's squared magnitude: two matrix products
    give it at once (the recursion, sample by sample over every block, was 2 ms of
    each listening turn; equal to within 1e-11)."""
    cos, sin = _basis(rate)
    return np.square(blocks @ cos) + np.square(blocks @ sin)


def detect(samples: np.ndarray, rate: int = RATE) -> str:
    """The digits pressed in `samples` (8 kHz), in order; '' if none."""
    n = len(samples) // _BLOCK
    if n == 0:
        return ""
    blocks = samples[: n * _BLOCK].astype(np.float64).reshape(n, _BLOCK) / 32768
    p = _powers(blocks, rate)
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
