"""Surveys as health offices write them: an XLSForm written with ODK's conventions
(several languages, relevant, constraint, a synonyms column) imports; what a call cannot
ask is reported with its sheet, row and column; a survey exports back to XLSForm."""

from __future__ import annotations

from pathlib import Path

import pytest

from dialer.cli import main
from survey_scripts.errors import SurveyError
from survey_scripts.loader import load_survey
from survey_scripts.model import AnswerType
from survey_scripts.rules import evaluate
from survey_scripts.xlsform.exporter import export_form
from survey_scripts.xlsform.expressions import Ref, Untranslatable, number_range, translate
from survey_scripts.xlsform.importer import import_form
from tests.conftest import ROOT

FORMS = ROOT / "tests" / "data" / "forms"
SURVEYS = ROOT / "survey_scripts"


def as_xlsx(md: str, out: Path) -> Path:
    """A form written as a markdown table (readable in a diff), saved as the .xlsx an
    office would send."""
    from pyxform.xls2json_backends import md_table_to_workbook

    md_table_to_workbook(md).save(out)
    return out


def test_an_odk_form_imports_in_each_of_its_languages(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    form = as_xlsx((FORMS / "household_ili.md").read_text(encoding="utf-8"),
                   tmp_path / "household_ili.xlsx")
    monkeypatch.chdir(tmp_path)
    assert main(["survey", "import", str(form)]) == 1  # done; the text question left out
    out = capsys.readouterr().out
    assert "sheet survey, row 12, column A (type): 'text' cannot be asked" in out
    assert "sheet survey, row 3, column A (type): 'start' is metadata" in out
    en, ko = load_survey("household_ili.yaml"), load_survey("household_ili_ko.yaml")
    assert [q.id for q in en.questions] == [q.id for q in ko.questions] == \
        ["consent", "household", "sick", "sick_count", "care", "vaccinated"]
    assert en.greeting.startswith("Hello, this is your district health office")
    assert en.language.closing == "Thank you. Please stay at home if you feel sick. Goodbye."
    assert ko.language.code == "ko" and ko.questions[2].prompt.startswith("지난 칠 일")
    household, count = en.question("household"), en.question("sick_count")
    assert household.type == AnswerType.NUMBER and (household.minimum, household.maximum) \
        == (1, 20) and household.confirm == "always"
    assert (count.minimum, count.maximum, count.when) == (1, 20, "sick == 'yes'")  # . > 0
    care = en.question("care")
    assert care.prompt == "Where did they go for care? Say hospital, pharmacy, or nowhere."
    assert care.options["pharmacy"] == ("pharmacy", "the pharmacy", "drug store")
    assert en.question("vaccinated").when == "consent == 'yes'"  # the group's relevant
    # an unanswered question is not a 'no': the follow-up is skipped, not asked as if sick
    assert not evaluate(count.when or "", {"sick": None})
    written = Path("household_ili.yaml").read_text(encoding="utf-8")
    assert main(["survey", "import", str(form), "--language", "en"]) == 2
    assert "may hold risk rules written by hand" in capsys.readouterr().err
    assert Path("household_ili.yaml").read_text(encoding="utf-8") == written


def test_a_malformed_form_gets_errors_naming_sheet_row_and_column(tmp_path: Path) -> None:
    bad = as_xlsx("""
| survey |
|        | type              | name   | label         | relevant         | constraint |
|        | select_one yn     | consent | May we ask?  |                  |            |
|        | integer           | age    | How old?      | ${later} = 'y'   | . >= 0 and . <= 120 |
|        | integer           | weight | Your weight?  |                  | . > 0 |
|        | select_multiple yn | many  | Which ones?   |                  |            |
|        | select_one yn     | ok     | All well?     | today() > 3      |            |
|        | select_one yn     | later  | Later?        |                  |            |
|        | integer           | income | Your income?  |                  | . >= 0 and . <= 100000 |
|        | select_one one    | only   | Only one?     |                  |            |
|        | begin_repeat      | people | Each person   |                  |            |
|        | integer           | p_age  | Their age?    |                  | . >= 0 and . <= 120 |
|        | end_repeat        |        |               |                  |            |
|        | begin_group       | g      |               | today() > 1      |            |
|        | select_one yn     | g_q    | In the group? |                  |            |
|        | end_group         |        |               |                  |            |
| choices |
|         | list_name | name | label |
|         | yn        | yes  | Yes   |
|         | yn        | no   | No    |
|         | one       | it   | It    |
""", tmp_path / "bad.xlsx")
    (im,) = import_form(bad)
    problems = "\n".join(im.problems)
    assert "sheet survey, row 3, column D (relevant): ${later} in" in problems
    assert "not an earlier question" in problems
    assert "sheet survey, row 4, column E (constraint): constraint '. > 0' must bound" in problems
    assert "sheet survey, row 5, column A (type): 'select_multiple yn' cannot be asked" in problems
    assert "sheet survey, row 6, column D (relevant): 'today(' in" in problems
    assert "row 8, column E (constraint): the range 0 to 100000 is empty or over 1000" \
        in problems
    assert "row 9, column A (type): the list 'one' has 1 choices" in problems
    assert "row 10, column A (type): a repeat cannot be asked" in problems
    assert "row 11, column A (type): it is inside a repeat or group left out" in problems
    assert "row 13, column D (relevant): 'today(' in" in problems
    assert "row 14, column A (type): it is inside a repeat or group left out" in problems
    survey = load_survey_yaml(im.yaml, tmp_path)
    assert [q.id for q in survey.questions] == ["consent", "later"]  # the good part kept
    broken = as_xlsx("""
| survey |
|        | type            | name | label |
|        | select_one none | q    | Q?    |
""", tmp_path / "broken.xlsx")
    with pytest.raises(SurveyError, match=r"(?s)broken\.xlsx.*pyxform: .*choices sheet"):
        import_form(broken)
    french = as_xlsx("""
| survey |
|        | type          | name    | label::Français (fr) |
|        | select_one yn | consent | D'accord ?           |
| choices |
|         | list_name | name | label::Français (fr) |
|         | yn        | yes  | Oui |
|         | yn        | no   | Non |
""", tmp_path / "fr.xlsx")
    (im,) = import_form(french)
    assert not im.yaml and "no spoken phrases for fr" in im.problems[0]
    assert main(["survey", "import", str(french)]) == 2  # nothing could be imported


def load_survey_yaml(text: str, tmp_path: Path) -> object:
    path = tmp_path / "imported.yaml"
    path.write_text(text, encoding="utf-8")
    return load_survey(path)


def test_the_built_in_survey_exports_and_imports_back_as_it_was(tmp_path: Path) -> None:
    en, ko = SURVEYS / "covid19_symptoms.yaml", SURVEYS / "covid19_symptoms_ko.yaml"
    notes = export_form([load_survey(en), load_survey(ko)], tmp_path / "covid.xlsx")
    assert any("3 risk rule(s) stay in the YAML" in n for n in notes)
    for source, im in zip((en, ko), import_form(tmp_path / "covid.xlsx"), strict=True):
        before = load_survey(source)
        after = load_survey_yaml(im.yaml, tmp_path)
        assert not im.problems
        assert after.greeting == before.greeting  # type: ignore[attr-defined]
        assert [(q.id, q.type, q.prompt, q.when, q.minimum, q.maximum, q.options, q.confirm)
                for q in after.questions] == \
            [(q.id, q.type, q.prompt, q.when, q.minimum, q.maximum, q.options, q.confirm)
             for q in before.questions]


def test_expressions_are_translated_never_evaluated() -> None:
    refs = {"fever": Ref("fever", {"1": "yes", "0": "no"}), "age": Ref("age"),
            "where": Ref("where", {"abroad": "abroad", "home": "home"})}
    assert translate("${fever} = '1' and (${age} >= 18 or not(selected(${where}, 'abroad')))",
                     refs) == "fever == 'yes' and (age >= 18 or not (where == 'abroad'))"
    assert translate("${age} != ''", refs) == "age is not None"
    for bad in ("__import__('os').system('true')", "${fever} = 'maybe'", "${age} + today()",
                "/data/age > 3", "count-selected(${where}) > 1"):
        with pytest.raises(Untranslatable):
            translate(bad, refs)
    assert number_range(". >= 1 and . <= 30", integer=True) == (1, 30)
    assert number_range("0 < . and . < 10", integer=True) == (1, 9)
    assert number_range(". >= 35.5 and . <= 42", integer=False) == (35.5, 42)
    for bad in (". > 0", ". != 3", ". >= 0 or . <= 9", ". <= ${other}"):
        with pytest.raises(Untranslatable):
            number_range(bad, integer=True)
