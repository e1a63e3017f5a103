"""An XLSForm as pyxform reads it (.xlsx, .xls, or a markdown table), checked by
pyxform first, with every row knowing its sheet, row number and columns, so that
each problem can be shown where the office will find it."""

from __future__ import annotations

import copy
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from survey_scripts.errors import SurveyError, UsageError

_CODE_IN_NAME = re.compile(r"\(([a-z]{2,3}(?:-[A-Za-z0-9]{2,8})?)\)\s*$")
# languages named without a code, as forms often do: the common ones only
_NAMED = {"english": "en", "korean": "ko", "chinese": "zh", "mandarin": "zh", "french": "fr",
          "spanish": "es", "portuguese": "pt", "arabic": "ar", "swahili": "sw",
          "hindi": "hi", "bengali": "bn", "indonesian": "id", "vietnamese": "vi"}
DEFAULT = "default"  # a plain `label` column's language


@dataclass(frozen=True)
class Row:
    sheet: str
    number: int  # as the spreadsheet numbers it: the header is row 1
    cells: dict[str, str]
    columns: tuple[str, ...]  # the sheet's headers, in order

    def get(self, column: str) -> str:
        return (self.cells.get(column) or "").strip()

    def at(self, column: str | None = None) -> str:
        """Where a cell is: `sheet survey, row 5, column D (relevant)`."""
        where = f"sheet {self.sheet}, row {self.number}"
        if column is None:
            return where
        if column in self.columns:
            from openpyxl.utils import get_column_letter

            where += f", column {get_column_letter(self.columns.index(column) + 1)}"
        return f"{where} ({column})"


@dataclass(frozen=True)
class Workbook:
    path: str
    survey: tuple[Row, ...]
    choices: tuple[Row, ...]
    settings: dict[str, str]
    languages: tuple[str, ...]  # as the label columns name them (DEFAULT for `label`)

    def language_code(self, language: str) -> str | None:
        """`English (en)` -> en; a plain `label` column is the form's default language."""
        if language == DEFAULT:
            default = self.settings.get("default_language", "")
            return self.language_code(default) if default else "en"
        found = _CODE_IN_NAME.search(language)
        return found[1] if found else _NAMED.get(language.strip().lower())


def read(path: str | Path) -> Workbook:
    """The form, once pyxform finds it a valid XLSForm; SurveyError otherwise."""
    from pyxform.errors import PyXFormError
    from pyxform.xls2json import workbook_to_json
    from pyxform.xls2json_backends import get_xlsform

    p = Path(path)
    if not p.is_file():
        raise UsageError(f"{p}: no such file; give the XLSForm (.xlsx) to import")
    try:
        data = get_xlsform(str(p))
        workbook_to_json(copy.deepcopy(data), fallback_form_name=p.stem, warnings=[])
    except PyXFormError as e:
        raise SurveyError(str(p), [f"pyxform: {e}"]) from None
    survey = _rows("survey", data.survey, data.survey_header)
    choices = _rows("choices", data.choices, data.choices_header)
    settings = {k: str(v).strip() for k, v in (data.settings or [{}])[0].items()
                if v is not None}
    labels = [c for c in (survey[0].columns if survey else ()) if c.split("::")[0] == "label"]
    languages = tuple(c.split("::", 1)[1].strip() if "::" in c else DEFAULT for c in labels)
    return Workbook(str(p), survey, choices, settings, languages or (DEFAULT,))


def _rows(sheet: str, rows: Sequence[dict[str, Any]] | None,
          header: Sequence[dict[str, Any]] | None) -> tuple[Row, ...]:
    """Rows as pyxform keeps them (empty rows included, so numbers stay true)."""
    columns = tuple(header[0].keys()) if header else ()
    return tuple(Row(sheet, i + 2, {k: str(v) for k, v in r.items() if v is not None},
                     columns) for i, r in enumerate(rows or []))
