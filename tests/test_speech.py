"""speech: unit tests of the channel, DTMF and endpointing; integration with real engines."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from speech import dtmf
from speech.audio import Audio, read_wav, write_wav
from speech.channel import RATE, from_line, to_line, ulaw_decode, ulaw_encode
from speech.endpoint import Endpointer, State, frames
from speech.recognizer import Grammar
from speech.tts import Synthesizer, Voice
from survey_scripts.errors import AudioError
from survey_scripts.model import Survey
from survey_scripts.phrases import answer_phrases, interpret

TESTDATA = Path("/usr/share/pocketsphinx/test/data")


def test_ulaw_roundtrip_is_close() -> None:
    x = (np.sin(np.arange(8000) * 2 * np.pi * 440 / 8000) * 12000).astype(np.int16)
    y = ulaw_decode(ulaw_encode(x))
    assert len(ulaw_encode(x)) == len(x)  # one byte a sample
    err = np.abs(y.astype(int) - x.astype(int))
    assert err.max() < 0.04 * 12000
    assert ulaw_encode(np.array([0], dtype=np.int16)) == b"\xff"  # G.711 zero


def test_channel_is_8khz() -> None:
    a = Audio((np.random.default_rng(0).normal(0, 3000, 16000)).astype(np.int16), 16000)
    line = to_line(a)
    assert len(line) == 8000
    assert from_line(line).rate == 8000


def test_dtmf_found_from_audio_through_the_channel() -> None:
    tones = dtmf.tones("0123456789*#")
    assert dtmf.detect(ulaw_decode(ulaw_encode(tones))) == "0123456789*#"
    noisy = tones + np.random.default_rng(1).normal(0, 800, len(tones)).astype(np.int16)
    assert dtmf.detect(noisy) == "0123456789*#"


def test_dtmf_powers_are_the_goertzel_recursions() -> None:
    """The bins by matrix product are the classic recursion's powers, block by block."""
    from speech.dtmf import _BLOCK, _COLS, _ROWS, _powers

    blocks = np.random.default_rng(5).standard_normal((3, _BLOCK))
    for f_index, f in enumerate(_ROWS + _COLS):
        coeff = 2 * np.cos(2 * np.pi * round(_BLOCK * f / RATE) / _BLOCK)
        for b, x in enumerate(blocks):
            s1 = s2 = 0.0
            for v in x:
                s1, s2 = v + coeff * s1 - s2, s1
            power = s1 * s1 + s2 * s2 - coeff * s1 * s2
            assert _powers(blocks, RATE)[b, f_index] == pytest.approx(power, rel=1e-9)


def test_dtmf_not_found_in_speech_or_noise() -> None:
    synth = Synthesizer()
    speech = synth.speak("yes I have had a fever for three days", Voice("flite", "kal16"))
    assert dtmf.detect(speech.resampled(8000).samples) == ""
    noise = np.random.default_rng(2).normal(0, 4000, 24000).astype(np.int16)
    assert dtmf.detect(noise) == ""


def test_endpoint_stops_after_speech_not_after_a_fixed_time() -> None:
    rng = np.random.default_rng(3)
    quiet = lambda s: rng.normal(0, 20, int(s * 8000)).astype(np.int16)  # noqa: E731
    tone = (np.sin(np.arange(8000) * 0.3) * 8000).astype(np.int16)
    x = np.concatenate([quiet(0.5), tone, quiet(3.0)])
    ep = Endpointer()
    for f in frames(x):
        if ep.push(f) == State.DONE:
            break
    assert ep.state == State.DONE
    assert 0.45 <= ep.start * 0.02 <= 0.6
    assert 1.45 <= ep.end * 0.02 <= 1.6
    assert ep.frames * 0.02 < 2.5  # stopped ~0.7 s after the end, not at the end of the buffer


@pytest.mark.parametrize("seed", range(40))
def test_endpoint_never_ends_sooner_than_frames_left_says(seed: int) -> None:
    """A realtime line sleeps `frames_left` frames: the turn must never end inside them,
    and must end exactly where a line fed frame by frame would have it end."""
    rng = np.random.default_rng(seed)
    levels: list[float] = []  # bursts of speech between pauses of any length
    while len(levels) < 600:
        levels += [float(rng.choice([-70.0, -60.0]))] * int(rng.integers(1, 60 if levels else 300))
        levels += [-20.0] * int(rng.integers(1, 30))
    ep, fed = Endpointer(), 0
    while ep.state in (State.WAITING, State.SPEAKING) and fed < len(levels):
        left = ep.frames_left()
        assert left >= 1
        for k in range(min(left, len(levels) - fed)):
            ep.push_level(levels[fed])
            fed += 1
            if k < left - 1:
                assert ep.state in (State.WAITING, State.SPEAKING), (seed, fed, left)
    ref = Endpointer()
    for level in levels:
        if ref.push_level(level) not in (State.WAITING, State.SPEAKING):
            break
    assert (ref.state, ref.frames) == (ep.state, ep.frames)


def test_endpoint_silence_times_out() -> None:
    ep = Endpointer()
    for f in frames(np.zeros(8000 * 8, dtype=np.int16)):
        ep.push(f)
    assert ep.state == State.NO_INPUT
    assert ep.frames * 0.02 == pytest.approx(5.0, abs=0.05)


def test_read_wav_any_rate_and_stereo(tmp_path: Path) -> None:
    import wave

    p = tmp_path / "stereo.wav"
    with wave.open(str(p), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(44100)
        w.writeframes(np.full(44100 * 2, 1000, dtype=np.int16).tobytes())
    a = read_wav(p)
    assert a.rate == 44100 and len(a.samples) == 44100
    mono = tmp_path / "m.wav"
    write_wav(mono, a.resampled(8000))
    assert read_wav(mono).rate == 8000


@pytest.mark.parametrize("content", [b"", b"RIFF\x00\x00junk", b"not audio at all"])
def test_read_wav_bad_files_say_so(tmp_path: Path, content: bytes) -> None:
    p = tmp_path / "bad.wav"
    p.write_bytes(content)
    with pytest.raises(AudioError, match=r"bad\.wav"):
        read_wav(p)


def test_prompt_cache_synthesizes_once() -> None:
    synth = Synthesizer()
    v = Voice("espeak", "gmw/en-us", 165)
    a = synth.speak("Do you have a cough?", v)
    b = synth.speak("Do you have a cough?", v)
    assert a is b and synth.misses == 1 and synth.hits == 1
    assert a.seconds > 0.5


@pytest.fixture(scope="module")
def sphinx():  # type: ignore[no-untyped-def]
    from speech.sphinx import SphinxRecognizer

    return SphinxRecognizer()


def _grammar(survey: Survey, qid: str) -> Grammar:
    q = survey.question(qid)
    return Grammar(qid, tuple(answer_phrases(q, survey.language)), survey.language.fillers)


@pytest.mark.parametrize(("text", "expected"), [
    ("yes", "yes"), ("no", "no"), ("stop calling me", "stop calling me")])
def test_sphinx_recognizes_answers_over_the_phone(sphinx, survey: Survey, text: str,  # type: ignore[no-untyped-def]
                                                  expected: str) -> None:
    audio = Synthesizer().speak(text, Voice("flite", "kal16")).resampled(8000)
    pad = np.zeros(2400, dtype=np.int16)  # the listener keeps margins around speech
    padded = Audio(np.concatenate([pad, audio.samples, pad]), 8000)
    rec = sphinx.recognize(from_line(to_line(padded)), _grammar(survey, "cough"))
    meaning = interpret(rec.transcript, answer_phrases(survey.question("cough"),
                                                       survey.language), survey.language.fillers)
    assert not rec.rejected
    assert (meaning.value or meaning.intent.value) == (
        expected if expected in ("yes", "no") else "stop")


def _spoken(text: str, snr_db: float | None = None) -> Audio:
    """A synthetic answer as the line carries it, with white noise at `snr_db` if given."""
    a = Synthesizer().speak(text, Voice("flite", "kal16")).resampled(8000)
    pad = np.zeros(2400, dtype=np.int16)
    x = np.concatenate([pad, a.samples, pad]).astype(np.float64)
    if snr_db is not None:
        power = np.mean(a.samples.astype(np.float64) ** 2) / 10 ** (snr_db / 10)
        x += np.random.default_rng(1).normal(0, np.sqrt(power), len(x))
    return from_line(to_line(Audio(np.clip(x, -32768, 32767).astype(np.int16), 8000)))


def test_confidence_is_measured_from_the_audio(sphinx, survey: Survey) -> None:  # type: ignore[no-untyped-def]
    """The same answer heard clean and through noise: the evidence differs, and so does the
    confidence (it used to be 0.9 whatever was heard). (At 10 dB the garbage loop takes
    "three days": with no second pass, nothing is offered.)"""
    for text, qid in (("yes", "cough"), ("three days", "fever_days")):
        clean = sphinx.recognize(_spoken(text), _grammar(survey, qid))
        noisy = sphinx.recognize(_spoken(text, snr_db=15), _grammar(survey, qid))
        assert clean.evidence is not None and noisy.evidence is not None
        assert clean.evidence.first_pass and clean.evidence.frames > 0
        assert 0 < noisy.confidence < clean.confidence < 1
        assert clean.evidence.acoustic > noisy.evidence.acoustic


def test_what_the_garbage_loop_takes_gets_a_second_pass_and_low_confidence(  # type: ignore[no-untyped-def]
        sphinx, survey: Survey) -> None:
    from speech.sphinx import SphinxRecognizer
    from survey_scripts.certainty import UNSURE

    audio, grammar = _spoken("please try again"), _grammar(survey, "fever_days")
    assert SphinxRecognizer().recognize(audio, grammar).rejected  # off by default
    rec = SphinxRecognizer(second_pass=True).recognize(audio, grammar)
    assert not rec.rejected and rec.transcript in grammar.phrases
    assert rec.evidence is not None and not rec.evidence.first_pass
    assert "second pass" in rec.raw and rec.confidence < UNSURE  # the dialog asks again


def test_the_dialog_is_told_which_answers_are_second_guesses(survey: Survey) -> None:
    """The Listener marks a second-pass answer, for the dialog's GUESS_FLOOR."""
    from speech.confidence import Evidence
    from speech.listener import Listener
    from speech.recognizer import Recognition

    class Guessing:
        name = "stub"

        def __init__(self, first: bool) -> None:
            self.first = first

        def recognize(self, audio: Audio, grammar: Grammar) -> Recognition:
            return Recognition("three", 0.4, evidence=Evidence(self.first, -3.0, 0.5, 40))

    pad = np.zeros(4000, dtype=np.int16)
    speech = _spoken("three").resampled(8000).samples
    for first in (True, False):
        turn = Listener(Guessing(first)).listen(  # type: ignore[arg-type]
            np.concatenate([pad, speech, pad, pad, pad]), _grammar(survey, "fever_days"))
        assert turn.heard.transcript == "three" and turn.heard.guessed is not first


def _testdata_utterances() -> list[Audio]:
    out = [read_wav(p) for p in sorted(TESTDATA.rglob("*.wav"))]
    for raw in sorted(TESTDATA.rglob("*.raw")):
        out.append(Audio(np.frombuffer(raw.read_bytes(), dtype=np.int16), 16000))
    return out


@pytest.mark.skipif(not TESTDATA.is_dir(), reason="apt-get install pocketsphinx-testdata")
def test_out_of_grammar_real_speech_is_rejected(sphinx, survey: Survey) -> None:  # type: ignore[no-untyped-def]
    utterances = _testdata_utterances()
    assert len(utterances) >= 10
    from survey_scripts.certainty import UNSURE

    grammar = _grammar(survey, "cough")
    recs = [sphinx.recognize(from_line(to_line(u)), grammar) for u in utterances]
    rejected = sum(r.rejected or r.confidence < UNSURE for r in recs)  # not taken by the dialog
    rate = rejected / len(utterances)
    print(f"rejected {rejected}/{len(utterances)} = {rate:.0%}")
    assert rate >= 0.9


def test_answering_machine_found_from_audio() -> None:
    from dialer.lines.simulated.population import machine_greeting
    from speech.amd import classify_opening, find_beep

    synth = Synthesizer()
    machine = ulaw_decode(ulaw_encode(machine_greeting(1, 7, synth)))
    kind, used = classify_opening(machine)
    assert kind == "machine"
    end = find_beep(machine[used:])
    assert end is not None
    hello = synth.speak("hello?", Voice("flite", "slt")).resampled(8000).samples
    person = np.concatenate([np.zeros(3000, np.int16), hello, np.zeros(24000, np.int16)])
    person = person + np.random.default_rng(4).normal(0, 30, len(person)).astype(np.int16)
    assert classify_opening(person)[0] == "human"
    assert find_beep(person) is None
    assert classify_opening(np.zeros(40000, np.int16))[0] == "silence"


def test_endpoint_short_burst_has_a_non_empty_span() -> None:
    ep = Endpointer()
    burst = (np.sin(np.arange(800) * 0.3) * 8000).astype(np.int16)  # 100 ms, then quiet
    for f in frames(np.concatenate([np.zeros(800, np.int16), burst, np.zeros(16000, np.int16)])):
        ep.push(f)
    assert ep.state == State.DONE
    assert ep.end > ep.start


def test_band_noise_does_not_depend_on_what_was_decoded_before(sphinx) -> None:  # type: ignore[no-untyped-def]
    short = sphinx._band_noise(8000, 16000).copy()
    long = sphinx._band_noise(8000, 30 * 16000)  # longer than the noise kept
    assert len(long) == 30 * 16000
    assert np.array_equal(sphinx._band_noise(8000, 16000), short)


# G.711: the classic reference, all 65,536 inputs ---------------------------------------
# sha256 of lin2ulaw over every int16 from -32768 to 32767, from CPython's audioop (Sun's
# g711.c, the classic reference implementation), taken before audioop left the stdlib
G711_ULAW_SHA256 = "81d633c9e6972a18c74a58720b96cb8ca0bdd096d4060b646dd708c3b846019a"
G711_VECTORS = [(-32768, 0x00), (-32124, 0x00), (-8160, 0x1F), (-1024, 0x4D), (-132, 0x6F),
                (-131, 0x6F), (-5, 0x7E), (-4, 0x7E), (-1, 0x7E), (0, 0xFF), (1, 0xFF),
                (4, 0xFE), (131, 0xEF), (132, 0xEF), (1024, 0xCD), (8159, 0x9F),
                (32124, 0x80), (32767, 0x80)]


def test_ulaw_encoder_matches_the_classic_reference_on_every_input() -> None:
    import hashlib

    every = np.arange(-32768, 32768, dtype=np.int16)
    assert hashlib.sha256(ulaw_encode(every)).hexdigest() == G711_ULAW_SHA256
    codes = ulaw_encode(np.array([x for x, _ in G711_VECTORS], dtype=np.int16))
    assert list(codes) == [c for _, c in G711_VECTORS]


def test_ulaw_encoder_clips_wider_samples_and_takes_strided_views() -> None:
    """The table is indexed by a sample's 16 bits: a wider sample is clipped first (not
    wrapped), and a strided view (one channel of a stereo array) is read as its values."""
    wide = np.array([40000, -40000, 1024, -70000], dtype=np.int32)
    assert ulaw_encode(wide) == bytes([0x80, 0x00, 0xCD, 0x00])
    stereo = np.array([[0, 1024], [0, -1024], [0, 32767]], dtype=np.int16)
    assert ulaw_encode(stereo[:, 1]) == bytes([0xCD, 0x4D, 0x80])


def test_ulaw_decoder_gives_the_standard_levels() -> None:
    levels = ulaw_decode(bytes(range(256)))
    assert levels[0xFF] == 0 and levels[0x7F] == 0  # both zeros
    assert levels[0x80] == 32124 and levels[0x00] == -32124  # the peaks
    assert levels[0xEF] == 132 and levels[0xFE] == 8  # first steps: 8, then 16 apart
    assert all(levels[c] == -levels[c | 0x80] for c in range(128))
    again = ulaw_decode(ulaw_encode(levels))  # every level is its own code's level
    assert np.array_equal(again, levels)


# the listener, with a fake recognizer ---------------------------------------------------
def _burst(seconds: float) -> np.ndarray:
    return (np.sin(np.arange(int(seconds * 8000)) * 0.3) * 8000).astype(np.int16)


def _quiet(seconds: float) -> np.ndarray:
    return np.zeros(int(seconds * 8000), dtype=np.int16)


def test_listener_hears_speech_between_its_margins_and_asks_the_recognizer_once() -> None:
    from speech.listener import Listener
    from speech.recognizer import FakeRecognizer, Recognition

    fake = FakeRecognizer([Recognition("yes", 0.8)])
    g = Grammar("cough", ("yes", "no"))
    turn = Listener(fake).listen(np.concatenate([_quiet(1.0), _burst(0.6), _quiet(2.0)]), g)
    assert turn.heard.transcript == "yes" and turn.heard.confidence == 0.8
    assert fake.grammars == [g]
    assert turn.consumed_s == pytest.approx(1.0 + 0.6 + 0.7, abs=0.05)  # 0.7 s after speech
    assert turn.recognition is not None and not turn.recognition.rejected


def test_listener_silence_and_keypad_never_reach_the_recognizer() -> None:
    from speech.listener import Listener
    from speech.recognizer import FakeRecognizer

    fake = FakeRecognizer([])  # any call to it would fail: it has nothing scripted
    listener = Listener(fake)
    silent = listener.listen(_quiet(6.0), Grammar("cough", ("yes",)))
    assert silent.heard.silent and silent.recognition is None
    assert silent.consumed_s == pytest.approx(5.0, abs=0.05)  # no-input timeout
    keys = listener.listen(np.concatenate([_quiet(0.5), dtmf.tones("12#"), _quiet(1.5)]),
                           Grammar("days", ("one",)))
    assert keys.heard.digits == "12#" and keys.heard.confidence == 1.0
    assert fake.grammars == []


def test_listener_fed_in_pieces_decides_as_fed_at_once() -> None:
    from speech.listener import Listener
    from speech.recognizer import FakeRecognizer, Recognition

    audio = np.concatenate([_quiet(0.7), _burst(0.4), _quiet(0.2), _burst(0.3), _quiet(1.5)])
    whole = Listener(FakeRecognizer([Recognition("no", 0.9)])).listen(audio, Grammar("g", ()))
    fake = FakeRecognizer([Recognition("no", 0.9)])
    hearing = Listener(fake).hearing(Grammar("g", ()))
    fed = 0
    while not hearing.over:
        step = min(hearing.samples_left(), 777)
        hearing.feed(audio[fed:fed + step])
        fed += step
    piecewise = hearing.finish()
    assert piecewise == whole


def test_a_slow_lines_echo_after_the_prompt_is_not_speech() -> None:
    """A prompt that ends loud, on a line whose echo returns 200 ms late: those 200 ms
    arrive after the prompt ended. Primed with the prompt's end they are gated; not
    primed, they are 10 frames of "speech" (over the 80 ms shortest speech)."""
    from speech.listener import Listener
    from speech.recognizer import FakeRecognizer

    rng = np.random.default_rng(7)
    prompt = rng.normal(0, 8000, 8000).astype(np.int16)
    echo = np.concatenate([(prompt[-1600:] * 0.25).astype(np.int16),
                           np.zeros(6 * 8000, np.int16)])
    grammar = Grammar("yes_no", ("yes", "no"))

    def heard(primed: bool) -> bool:
        hearing = Listener(FakeRecognizer([])).hearing(grammar, 0.2)
        if primed:
            hearing.after_prompt(prompt, 0.2)
        hearing.feed(echo)
        return hearing.speech_span_s is not None

    assert not heard(primed=True)
    assert heard(primed=False)


def test_a_decoder_process_hears_as_this_process_would(sphinx, survey: Survey) -> None:  # type: ignore[no-untyped-def]
    """Realtime workers decode in a child (speech/decoder_process.py): the same answer,
    the same confidence, its CPU reported; a child that dies fails one answer with an
    EngineError (the call is dropped, no attempt used) and the next starts a new one."""
    from dialer.wire import EngineSpec
    from speech.decoder_process import DecoderProcess
    from survey_scripts.errors import EngineError

    audio, grammar = _spoken("yes"), _grammar(survey, "cough")
    child = DecoderProcess(EngineSpec())
    try:
        here, there = sphinx.recognize(audio, grammar), child.recognize(audio, grammar)
        assert (there.transcript, there.confidence) == (here.transcript, here.confidence)
        assert there.transcript and there.cpu_s > 0 and here.cpu_s == 0
        assert child.unknown_words(["yes", "zzqx"]) == ["zzqx"]
        child._proc.kill()
        child._proc.wait()
        with pytest.raises(EngineError, match="decoder process ended"):
            child.recognize(audio, grammar)
        assert child.recognize(audio, grammar).transcript == here.transcript
    finally:
        child.close()
