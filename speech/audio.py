"""Mono 16-bit audio at a known rate, read from any WAV file."""

from __future__ import annotations

import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soxr

from survey_scripts.errors import AudioError


@dataclass(frozen=True)
class Audio:
    samples: np.ndarray  # int16, mono
    rate: int

    @property
    def seconds(self) -> float:
        return len(self.samples) / self.rate

    def resampled(self, rate: int) -> Audio:
        if rate == self.rate:
            return self
        x = soxr.resample(self.samples.astype(np.float32) / 32768, self.rate, rate)
        return Audio(to_int16(x), rate)


def to_int16(x: np.ndarray) -> np.ndarray:
    return np.clip(np.round(x * 32768), -32768, 32767).astype(np.int16)


def read_wav(path: str | Path) -> Audio:
    """Read a PCM WAV (any rate, mono or stereo); AudioError says what is wrong with it."""
    p = Path(path)
    try:
        with wave.open(str(p), "rb") as w:
            width, channels, rate = w.getsampwidth(), w.getnchannels(), w.getframerate()
            data = w.readframes(w.getnframes())
    except FileNotFoundError as e:
        raise AudioError(f"{p}: no such file") from e
    except IsADirectoryError as e:
        raise AudioError(f"{p}: is a folder; give the audio files in it") from e
    except OSError as e:
        raise AudioError(f"{p}: cannot read it ({e.strerror})") from e
    except (wave.Error, EOFError) as e:
        raise AudioError(f"{p}: not a readable WAV file ({e}); convert it to PCM WAV, "
                         "e.g. sox IN -b 16 OUT.wav") from e
    if width not in (1, 2, 4):
        raise AudioError(f"{p}: {8 * width}-bit samples are not supported; use 16-bit PCM")
    dtype = {1: np.uint8, 2: np.int16, 4: np.int32}[width]
    x = np.frombuffer(data, dtype=dtype).astype(np.float64)
    if width == 1:
        x = (x - 128) * 256
    elif width == 4:
        x = x / 65536
    if channels > 1:
        x = x[: len(x) // channels * channels].reshape(-1, channels).mean(axis=1)
    if len(x) == 0:
        raise AudioError(f"{p}: the file holds no audio")
    return Audio(np.clip(x, -32768, 32767).astype(np.int16), rate)


def read_wav_bytes(data: bytes) -> Audio:
    """A WAV held in memory (espeak-ng --stdout leaves the length fields unset)."""
    import io

    with wave.open(io.BytesIO(data), "rb") as w:
        width, rate = w.getsampwidth(), w.getframerate()
        if width != 2 or w.getnchannels() != 1:
            raise AudioError("expected 16-bit mono audio from the synthesizer")
        start = data.find(b"data") + 8
    return Audio(np.frombuffer(data[start:len(data) - (len(data) - start) % 2],
                               dtype=np.int16).copy(), rate)


def write_wav(path: str | Path, audio: Audio) -> None:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(audio.rate)
        w.writeframes(audio.samples.tobytes())
