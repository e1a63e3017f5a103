"""Builds the corpora in tests/corpus from what this machine's package sources hold.

    python bench/make_corpus.py [--klettres DIR] [--asterisk DIR]

real/tune and real/held-out: real human speech, cut and labelled:
  - Debian's pocketsphinx-testdata (BSD): card names and a go-forward command
    ("ten of clubs", "go forward ten meters": the numbers cut out by forced
    alignment with their known transcripts), a TIDIGITS digit string, LibriVox
    sentences (public domain);
  - Debian's klettres-data (GPL-2+, KDE): letters and one-syllable words said by
    an English and a British speaker ("no" among them).
  - Debian's asterisk-core-sounds-en-wav (CC-BY-SA-3.0, Allison Smith): telephone
    prompts recorded at 8 kHz, the numbers 1 to 20 and 30 and 24 prompts chosen
    before any was decoded (some sentences, some single words).
  Numbers answer `fever_days`, "no" answers `cough`; everything else answers
  nothing (`reject`) and is tried against both. The British speaker, the TIDIGITS
  speaker, LibriVox and Allison are held out of all tuning.
synthetic: every voice the simulation has (flite, espeak-ng) saying the numbers
  1 to 20 and 30, yes/no answers, intents, and off-script sentences.
All files are FLAC at 16 kHz or below; the scorer puts them through the phone line.
"""

from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import soundfile

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from speech.audio import Audio  # noqa: E402

TESTDATA = Path("/usr/share/pocketsphinx/test/data")
OUT = ROOT / "tests" / "corpus"
NUMBERS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
           "eight": 8, "nine": 9, "ten": 10}
CUTS = [  # file, transcript, which words to cut (index), speaker
    ("cards/001.wav", "ten of clubs", [0], "cards"),
    ("cards/002.wav", "four queen of clubs", [0], "cards"),
    ("cards/003.wav", "seven of clubs", [0], "cards"),
    ("cards/004.wav", "five five", [0, 1], "cards"),
    ("cards/005.wav", "eight of spades four of clubs seven of hearts", [0, 3, 6], "cards"),
    ("goforward.raw", "go forward ten meters", [2], "goforward"),
    ("tidigits/dhd.2934z.raw", "two nine three four zero", [0, 1, 2, 3], "tidigits-dhd"),
]
HELD_OUT = {"tidigits-dhd", "klettres-en_GB", "librivox"}
ASTERISK_PROMPTS = (
    "please-try-again hello goodbye im-sorry one-moment-please please-try-call-later "
    "vm-goodbye telephone-number transfer extension invalid sorry calling cancelled "
    "demo-thanks vm-nobodyavail all-circuits-busy-now hours minutes seconds activated "
    "added removed location").split()


def _read(rel: str) -> np.ndarray:
    path = TESTDATA / rel
    if path.suffix == ".raw":
        return np.fromfile(path, dtype=np.int16)
    x, rate = soundfile.read(path, dtype="int16")
    assert rate == 16000, path
    return np.asarray(x)


def _align(x: np.ndarray, text: str) -> list[tuple[str, int, int]]:
    """Word boundaries (samples at 16 kHz) by forced alignment with the known transcript."""
    from pocketsphinx import Decoder

    d = Decoder(logfn=os.devnull)
    d.set_align_text(text)
    d.start_utt()
    d.process_raw(x.tobytes(), full_utt=True)
    d.end_utt()
    return [(s.word, s.start_frame * 160, (s.end_frame + 1) * 160) for s in d.seg()
            if s.word not in ("<sil>", "<s>", "</s>")]


class Writer:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.rows: list[list[str]] = []

    def add(self, name: str, audio: Audio, question: str, expected: str, source: str,
            speaker: str, rate: int = 16000, questions: tuple[str, ...] = ()) -> None:
        """One file, listed for `question` (and for each of `questions` beside it)."""
        if audio.rate > rate:
            audio = audio.resampled(rate)
        soundfile.write(self.folder / f"{name}.flac", audio.samples, audio.rate)
        for q in (question, *questions):
            self.rows.append([f"{name}.flac", q, expected, source, speaker])

    def close(self) -> None:
        with (self.folder / "manifest.csv").open("w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow(["file", "question", "expected", "source", "speaker"])
            w.writerows(sorted(self.rows))


def real(klettres: Path, tune: Writer, held: Writer) -> None:
    pad = 800  # 50 ms either side of an aligned word
    for rel, text, picks, speaker in CUTS:
        x = _read(rel)
        words = _align(x, text)
        assert [w for w, _, _ in words] == text.split(), (rel, words)
        for i in picks:
            word, a, b = words[i]
            piece = Audio(x[max(0, a - pad):b + pad], 16000)
            out = held if speaker in HELD_OUT else tune
            out.add(f"{speaker}-{Path(rel).stem}-{i}-{word}", piece, "fever_days",
                    str(NUMBERS[word]), "real", speaker)
        if speaker == "goforward":  # the rest of it answers nothing
            _reject(tune, f"goforward-{words[0][0]}", Audio(x, 16000), "goforward")
    x = _read("something.raw")
    _reject(tune, "goforward-something", Audio(x, 16000), "goforward")
    for wav in sorted((TESTDATA / "librivox").glob("*.wav")):
        y, _ = soundfile.read(wav, dtype="int16")
        _reject(held, f"librivox-{wav.stem[-4:]}", Audio(np.asarray(y), 16000), "librivox")
    for lang, out in (("en", tune), ("en_GB", held)):
        speaker = f"klettres-{lang}"
        for ogg in sorted((klettres / lang / "alpha").glob("*.ogg")) + sorted(
                (klettres / lang / "syllab").glob("*.ogg")):
            y, rate = soundfile.read(ogg, dtype="int16", always_2d=True)
            audio = Audio(np.asarray(y[:, 0]), rate)
            word = ogg.stem.lower()
            if word == "no":
                out.add(f"{speaker}-no", audio, "cough", "no", "real", speaker)
            else:
                _reject(out, f"{speaker}-{ogg.parent.name}-{word}", audio, speaker)


def asterisk(sounds: Path, held: Writer) -> None:
    """A telephone voice: already 8 kHz, as a line carries it."""
    speaker = "asterisk-allison"
    for n in [*range(1, 21), 30]:
        y, rate = soundfile.read(sounds / "digits" / f"{n}.wav", dtype="int16")
        held.add(f"{speaker}-{n}", Audio(np.asarray(y), rate), "fever_days", str(n), "real",
                 speaker, 8000)
    for name in ASTERISK_PROMPTS:
        y, rate = soundfile.read(sounds / f"{name}.wav", dtype="int16")
        held.add(f"{speaker}-{name}", Audio(np.asarray(y), rate), "cough", "reject", "real",
                 speaker, 8000, questions=("fever_days",))


def _reject(out: Writer, name: str, audio: Audio, speaker: str) -> None:
    """Speech that answers nothing, tried against a yes/no and a number question."""
    out.add(name, audio, "cough", "reject", "real", speaker, questions=("fever_days",))


def synthetic(out: Writer) -> None:
    from dialer.lines.simulated.callee import OFF_SCRIPT
    from dialer.lines.simulated.persona import EN_VOICES
    from speech.tts import Synthesizer
    from survey_scripts.numbers import to_words

    synth = Synthesizer()
    said = [(to_words(n), "fever_days", str(n)) for n in [*range(1, 21), 30]]
    said += [(w, "cough", v) for w, v in (("yes", "yes"), ("no", "no"), ("yeah", "yes"),
                                          ("nope", "no"), ("yes i do", "yes"),
                                          ("no i don't", "no"))]
    said += [("repeat that", "cough", "repeat"), ("i don't know", "cough", "dont_know"),
             ("stop calling me", "fever", "stop")]
    for voice, _ in EN_VOICES:
        tag = voice.name.replace("/", "-").replace("+", "-")
        for text, q, expected in said:
            name = f"{voice.engine}-{tag}-{q}-{text.replace(' ', '_').replace(chr(39), '')}"
            out.add(name, synth.speak(text, voice), q, expected, "synthetic", str(voice), 8000)
        for text in OFF_SCRIPT["en"]:
            out.add(f"{voice.engine}-{tag}-off-{text.replace(' ', '_')}",
                    synth.speak(text, voice), "cough", "reject", "synthetic", str(voice), 8000,
                    questions=("fever_days",))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--klettres", help="klettres' data folder (default: unpack Debian's "
                                       "klettres-data package here)")
    ap.add_argument("--asterisk", help="asterisk's en_US_f_Allison sounds folder (default: "
                                       "unpack Debian's asterisk-core-sounds-en-wav here)")
    args = ap.parse_args()
    klettres = Path(args.klettres) if args.klettres else _unpack(
        "klettres-data", "usr/share/klettres")
    sounds = Path(args.asterisk) if args.asterisk else _unpack(
        "asterisk-core-sounds-en-wav", "usr/share/asterisk/sounds/en_US_f_Allison")
    tune, held = Writer(OUT / "real" / "tune"), Writer(OUT / "real" / "held-out")
    real(klettres, tune, held)
    asterisk(sounds, held)
    tune.close()
    held.close()
    syn = Writer(OUT / "synthetic")
    synthetic(syn)
    syn.close()
    for w in (tune, held, syn):
        print(f"{w.folder}: {len(w.rows)} items")


def _unpack(package: str, inside: str) -> Path:
    """A Debian package's files, downloaded and unpacked here (not installed)."""
    work = Path(tempfile.mkdtemp(prefix=f"{package}-"))
    subprocess.run(["apt-get", "download", package], cwd=work, check=True,
                   capture_output=True)
    deb = next(work.glob(f"{package}_*.deb"))
    subprocess.run(["dpkg", "-x", str(deb), str(work / "x")], check=True)
    return work / "x" / inside


if __name__ == "__main__":
    main()
