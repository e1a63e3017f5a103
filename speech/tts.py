"""Text to speech: pyttsx3 on espeak-ng for the robot (or hibari's neural voice, for
English), plus flite voices for callees.

Each (voice, text) is synthesized once per process and cached: a survey has a
few dozen distinct prompts, said on every call.
"""

from __future__ import annotations

import ctypes
import shutil
import subprocess
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import numpy as np

from speech.audio import Audio, read_wav_bytes
from survey_scripts.errors import EngineError


@dataclass(frozen=True)
class Voice:
    engine: str  # "espeak" (pyttsx3 on espeak-ng), "espeak-ng" (its command), "flite",
    # or "hibari"
    name: str  # espeak voice id with optional variant ("gmw/en-us+f3"), or flite voice
    rate: int = 165  # words per minute

    def __str__(self) -> str:
        return f"{self.engine}:{self.name}@{self.rate}"

    @classmethod
    def of(cls, spec: str, rate: int) -> Voice:
        """A survey's `voice:`: an espeak-ng voice id, or `hibari/heart`."""
        if spec.startswith("hibari/"):
            return cls("hibari", spec.split("/", 1)[1], rate)
        return cls("espeak", spec, rate)


class _Espeak:
    """pyttsx3 on espeak-ng, one per process (espeak-ng initialises once).

    pyttsx3 sets the voice and rate; the audio is taken from espeak-ng's synth
    callback through pyttsx3's own binding and waited for with espeak_Synchronize,
    rather than through save_to_file, whose file is written from espeak's thread
    after runAndWait may already have returned.
    """

    RATE = 22050  # espeak-ng's output rate
    # espeak-ng and pyttsx3's binding are process-global (one synth callback, held in a
    # module global and replaced on every call): two Synthesizers synthesizing at once
    # on two threads freed each other's callback under espeak (a segfault, seen once in
    # the suite). Every synthesis in the process takes this lock.
    _process_lock = threading.Lock()

    def __init__(self) -> None:
        import pyttsx3
        from pyttsx3.drivers import _espeak

        try:
            self.engine = pyttsx3.init("espeak")
        except (RuntimeError, OSError) as e:
            raise EngineError(f"espeak-ng cannot start ({e}); install it: apt-get install "
                              "espeak-ng") from e
        from pyttsx3.drivers.espeak import EspeakDriver

        self._espeak = _espeak
        self._driver = EspeakDriver
        self._chunks: list[bytes] = []
        self._callback = _espeak.SetSynthCallback(self._collect)

    def _collect(self, wav: Any, numsamples: int, events: Any) -> int:
        if numsamples > 0:
            self._chunks.append(ctypes.string_at(wav, numsamples * 2))
        return 0

    def synth(self, text: str, voice: Voice) -> Audio:
        with self._process_lock:
            return self._synth(text, voice)

    def _synth(self, text: str, voice: Voice) -> Audio:
        # the driver's setters apply at once; Engine.setProperty would only queue them
        # for a runAndWait that this class never calls
        self._driver.setProperty("voice", voice.name)
        self._driver.setProperty("rate", voice.rate)
        self._espeak.SetSynthCallback(self._collect)
        self._chunks = []
        self._espeak.Synth(text.encode("utf-8"),
                           flags=self._espeak.ENDPAUSE | self._espeak.CHARS_UTF8)
        self._espeak.Synchronize()
        samples = np.frombuffer(b"".join(self._chunks), dtype=np.int16).copy()
        if len(samples) == 0:
            raise EngineError(f"espeak-ng said nothing for {text[:40]!r} with voice {voice}")
        return Audio(samples, self.RATE)


class _EspeakCli:
    """espeak-ng's own command: a fresh process per phrase, so the same phrase always
    sounds the same (the in-process engine carries state between utterances)."""

    def __init__(self) -> None:
        if not shutil.which("espeak-ng"):
            raise EngineError("espeak-ng is not installed; install it: apt-get install espeak-ng")

    def synth(self, text: str, voice: Voice) -> Audio:
        done = subprocess.run(["espeak-ng", "-v", voice.name, "-s", str(voice.rate), "--stdout",
                               text], capture_output=True, check=False)
        if done.returncode != 0 or len(done.stdout) <= 44:
            raise EngineError(f"espeak-ng failed for voice {voice.name}: "
                              f"{done.stderr.decode()[:200]}")
        return read_wav_bytes(done.stdout)


class _Flite:
    """flite's command, writing its WAV to a pipe: no file is left behind by a worker
    that is stopped mid-phrase."""

    def __init__(self) -> None:
        if not shutil.which("flite"):
            raise EngineError("flite is not installed; install it: apt-get install flite")

    def synth(self, text: str, voice: Voice) -> Audio:
        stretch = f"{165 / voice.rate:.2f}"
        cmd = ["flite", "-voice", voice.name, "--setf", f"duration_stretch={stretch}",
               "-t", text, "-o", "/dev/stdout"]
        done = subprocess.run(cmd, capture_output=True, check=False)
        if done.returncode != 0 or len(done.stdout) <= 44:
            raise EngineError(f"flite failed for voice {voice.name}: {done.stderr.decode()[:200]}")
        return read_wav_bytes(done.stdout)


class _Hibari:
    """hibari's neural English voice (distilled from Kokoro-82M, onnxruntime, 24 kHz),
    one model per process. Only the voice inside its wheel is used: its other voices are
    downloaded on first use, and healthdial never downloads at run time."""

    BUNDLED = "heart"

    def __init__(self) -> None:
        try:
            from hibari import Hibari
        except ImportError as e:
            raise EngineError(f"hibari-tts is not installed ({e}); make setup installs it") \
                from e
        self._tts = Hibari(voice=self.BUNDLED)

    def synth(self, text: str, voice: Voice) -> Audio:
        if voice.name != self.BUNDLED:
            raise EngineError(f"hibari voice {voice.name!r} is downloaded on first use, and "
                              f"healthdial never downloads: use hibari/{self.BUNDLED}")
        speed = min(2.0, max(0.5, voice.rate / 165))
        x = self._tts(text, speed=speed, seed=0)  # seeded: the same text, the same sound
        return Audio(np.clip(x * 32767, -32768, 32767).astype(np.int16), 24000)


class Synthesizer:
    """Synthesize with any engine, caching by content; safe to share between threads.

    A cached phrase never waits for another one being synthesized: the cache has its own
    lock, each engine another (an engine is not thread-safe), so a prompt the robot says
    is not held up by a callee's new phrase on another thread."""

    def __init__(self, cache_size: int = 4096) -> None:
        self._engines: dict[str, _Espeak | _Flite | _EspeakCli | _Hibari] = {}
        self._cache: OrderedDict[tuple[Voice, str], Audio] = OrderedDict()
        self._size = cache_size
        self._lock = threading.Lock()
        self._engine_locks: dict[str, threading.Lock] = {}
        self.hits = self.misses = 0

    def speak(self, text: str, voice: Voice) -> Audio:
        key = (voice, text)
        with self._lock:
            if key in self._cache:
                self.hits += 1
                self._cache.move_to_end(key)
                return self._cache[key]
            self.misses += 1
            engine_lock = self._engine_locks.setdefault(voice.engine, threading.Lock())
        with engine_lock:
            audio = self._engine(voice.engine).synth(text, voice)
        with self._lock:
            self._cache[key] = audio
            if len(self._cache) > self._size:
                self._cache.popitem(last=False)
        return audio

    def _engine(self, name: str) -> _Espeak | _Flite | _EspeakCli | _Hibari:
        if name not in self._engines:
            if name == "espeak":
                self._engines[name] = _Espeak()
            elif name == "flite":
                self._engines[name] = _Flite()
            elif name == "espeak-ng":
                self._engines[name] = _EspeakCli()
            elif name == "hibari":
                self._engines[name] = _Hibari()
            else:
                raise EngineError(f"unknown TTS engine {name!r}: use espeak, flite or hibari")
        return self._engines[name]
