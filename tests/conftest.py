from __future__ import annotations

from pathlib import Path

import pytest

from survey_scripts.loader import load_survey
from survey_scripts.model import Survey

ROOT = Path(__file__).resolve().parent.parent
EN = ROOT / "survey_scripts" / "covid19_symptoms.yaml"
KO = ROOT / "survey_scripts" / "covid19_symptoms_ko.yaml"


@pytest.fixture(scope="session")
def survey() -> Survey:
    return load_survey(EN)


@pytest.fixture(scope="session")
def explicit_survey(survey: Survey) -> Survey:
    """The built-in survey with every unsure answer read back on its own turn (a language
    without implicit confirmation's words)."""
    import dataclasses

    return dataclasses.replace(survey, language=dataclasses.replace(
        survey.language, implied="", go_back=(), asked_again=""))
