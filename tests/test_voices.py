"""The robot's voices: hibari's neural voice for English (only the voice inside its
wheel: nothing is downloaded), also a tenth of the simulated English callees; and an
office's own recordings of its questions, from the survey or the XLSForm."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dialer.lines.simulated import persona as personas
from dialer.lines.simulated.persona import HIBARI, make_persona
from speech.audio import read_wav
from speech.tts import Synthesizer, Voice
from survey_scripts.errors import EngineError, SurveyError
from survey_scripts.loader import load_survey_text
from survey_scripts.model import Survey
from tests.conftest import EN


def test_hibari_speaks_with_its_bundled_voice_only() -> None:
    synth = Synthesizer()
    voice = Voice.of("hibari/heart", 165)
    assert voice == Voice("hibari", "heart", 165)
    said = synth.speak("Do you have a cough?", voice)
    assert said.rate == 24000 and 0.6 < said.seconds < 3.0
    assert np.abs(said.samples).max() > 3000
    again = Synthesizer().speak("Do you have a cough?", voice)
    assert np.array_equal(said.samples, again.samples)  # seeded: the same prompt, one sound
    with pytest.raises(EngineError, match="never downloads"):
        synth.speak("Hello.", Voice("hibari", "emma", 165))
    assert Voice.of("gmw/en-us+klatt3", 165).engine == "espeak"


def test_a_tenth_of_english_callees_speak_with_hibari_and_no_one_else_changed(
        survey: Survey, monkeypatch: pytest.MonkeyPatch) -> None:
    seeds = range(1, 401)
    now = [make_persona(s, survey) for s in seeds]
    monkeypatch.setattr(personas, "HIBARI_SHARE", 0.0)
    before = [make_persona(s, survey) for s in seeds]
    changed = [(a, b) for a, b in zip(now, before, strict=True) if a.voice != b.voice]
    assert all(a.voice == HIBARI for a, _ in changed)
    assert 0.05 < len(changed) / len(now) < 0.15
    assert [a.truth for a in now] == [b.truth for b in before]  # the same people otherwise


def test_a_recorded_prompt_is_played_instead_of_the_voice(tmp_path: Path) -> None:
    """An office's recording of a question (any rate, a WAV) goes down the line in place
    of synthesis; a reprompt says its own words, then the recording."""
    from dialer.campaign.admin import check_speakable
    from dialer.robot.robot import build_robot
    from dialer.wire import EngineSpec
    from speech.audio import Audio, write_wav
    from speech.channel import to_line

    recording = tmp_path / "cough.wav"
    spoken = Synthesizer().speak("Do you have a cough?", Voice("hibari", "heart", 165))
    write_wav(recording, Audio(spoken.samples, spoken.rate))
    text = EN.read_text(encoding="utf-8").replace(
        "    prompt: Do you have a cough?\n",
        f"    prompt: Do you have a cough?\n    audio: {recording}\n")
    survey = load_survey_text(text, "recorded.yaml")
    robot = build_robot(survey, EngineSpec())
    played = to_line(read_wav(recording))
    assert robot.say("Do you have a cough?") == played
    again = robot.say(f"{survey.language.reprompt} Do you have a cough?")
    assert again.endswith(played) and len(again) > len(played) + 4000
    sorry = tmp_path / "sorry.wav"
    write_wav(sorry, Synthesizer().speak("Sorry.", Voice("hibari", "heart", 165)))
    both = build_robot(load_survey_text(
        text + f"recordings:\n  {survey.language.reprompt}: {sorry}\n", "both.yaml"),
        EngineSpec())
    assert both.say(f"{survey.language.reprompt} Do you have a cough?") == \
        to_line(read_wav(sorry)) + played  # two recordings, nothing synthesized
    with pytest.raises(SurveyError, match="full path"):
        load_survey_text(text.replace(str(recording), "cough.wav"), "relative.yaml")
    recording.unlink()
    with pytest.raises(SurveyError, match=r"recording of 'Do you have a cough\?': .*no such"):
        check_speakable(survey)


def test_an_xlsform_audio_column_brings_the_recording(tmp_path: Path) -> None:
    from pyxform.xls2json_backends import md_table_to_workbook

    from survey_scripts.xlsform.importer import import_form

    (tmp_path / "media").mkdir()
    spoken = Synthesizer().speak("Do you have a cough?", Voice("espeak", "en-us", 160))
    from speech.audio import write_wav

    write_wav(tmp_path / "media" / "cough.wav", spoken)
    md_table_to_workbook("""
| survey |
|        | type          | name    | label                 | audio     |
|        | note          | hello   | Hello from the office. | cough.wav |
|        | select_one yn | consent | May we ask?           |           |
|        | select_one yn | cough   | Do you have a cough?  | cough.wav |
|        | select_one yn | fever   | A fever?              | fever.wav |
| choices |
|         | list_name | name | label |
|         | yn        | yes  | Yes   |
|         | yn        | no   | No    |
""").save(tmp_path / "form.xlsx")
    (im,) = import_form(tmp_path / "form.xlsx")
    assert f"audio: {tmp_path / 'media' / 'cough.wav'}" in im.yaml
    survey = load_survey_text(im.yaml, "imported.yaml")
    assert survey.recorded()["Hello from the office."] == str(tmp_path / "media" / "cough.wav")
    assert any("'fever.wav' is not beside the form" in n for n in im.notes)
