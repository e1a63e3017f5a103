"""Text to speech: pyttsx3 on espeak-ng for the robot, plus flite voices for callees.

Each (voice, text) is synthesized once per process and cached: a survey has a
few dozen distinct prompts, said on every call.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import subprocess
import tempfile
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

from speech.audio import Audio, read_wav
from survey_scripts.errors import AudioError, EngineError


@dataclass(frozen=True)
class Voice:
    engine: str  # "espeak" (pyttsx3 on espeak-ng) or "flite"
    name: str  # espeak voice id with optional variant ("gmw/en-us+f3"), or flite voice
    rate: int = 165  # words per minute

    def __str__(self) -> str:
        return f"{self.engine}:{self.name}@{self.rate}"


class _Espeak:
    """pyttsx3's espeak driver: one per process (espeak-ng initialises once)."""

    def __init__(self, workdir: Path) -> None:
        import pyttsx3

        try:
            self.engine = pyttsx3.init("espeak")
        except (RuntimeError, OSError) as e:
            raise EngineError(f"espeak-ng cannot start ({e}); install it: apt-get install "
                              "espeak-ng") from e
        self.path = workdir / "espeak.wav"
        self._done = threading.Event()
        # fired by the driver after it has written and closed the file
        self.engine.connect("finished-utterance", lambda **_: self._done.set())

    def synth(self, text: str, voice: Voice) -> Audio:
        self.engine.setProperty("voice", voice.name)
        self.engine.setProperty("rate", voice.rate)
        self.path.unlink(missing_ok=True)
        self._done.clear()
        with contextlib.redirect_stdout(io.StringIO()):  # pyttsx3 prints "Audio saved to"
            self.engine.save_to_file(text, str(self.path))
            self.engine.runAndWait()
            # espeak-ng calls back from its own thread: runAndWait can return first
            if not self._done.wait(10):
                raise EngineError(f"espeak-ng did not finish speaking {text[:40]!r}")
        try:
            return read_wav(self.path)
        except AudioError:  # a late event from an earlier utterance: wait for this one
            time.sleep(0.05)
            return read_wav(self.path)


class _Flite:
    def __init__(self, workdir: Path) -> None:
        if not shutil.which("flite"):
            raise EngineError("flite is not installed; install it: apt-get install flite")
        self.path = workdir / "flite.wav"

    def synth(self, text: str, voice: Voice) -> Audio:
        stretch = f"{165 / voice.rate:.2f}"
        cmd = ["flite", "-voice", voice.name, "--setf", f"duration_stretch={stretch}",
               "-t", text, "-o", str(self.path)]
        done = subprocess.run(cmd, capture_output=True, check=False)
        if done.returncode != 0:
            raise EngineError(f"flite failed for voice {voice.name}: {done.stderr.decode()[:200]}")
        return read_wav(self.path)


class Synthesizer:
    """Synthesize with any engine, caching by content; safe to share between threads."""

    def __init__(self, cache_size: int = 4096) -> None:
        self._dir = Path(tempfile.mkdtemp(prefix=f"healthdial-tts-{os.getpid()}-"))
        self._engines: dict[str, _Espeak | _Flite] = {}
        self._cache: OrderedDict[tuple[Voice, str], Audio] = OrderedDict()
        self._size = cache_size
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def speak(self, text: str, voice: Voice) -> Audio:
        key = (voice, text)
        with self._lock:
            if key in self._cache:
                self.hits += 1
                self._cache.move_to_end(key)
                return self._cache[key]
            self.misses += 1
            audio = self._engine(voice.engine).synth(text, voice)
            self._cache[key] = audio
            if len(self._cache) > self._size:
                self._cache.popitem(last=False)
            return audio

    def _engine(self, name: str) -> _Espeak | _Flite:
        if name not in self._engines:
            if name == "espeak":
                self._engines[name] = _Espeak(self._dir)
            elif name == "flite":
                self._engines[name] = _Flite(self._dir)
            else:
                raise EngineError(f"unknown TTS engine {name!r}: use espeak or flite")
        return self._engines[name]
