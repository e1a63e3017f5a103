"""Spoken numbers, both ways: words for grammars and prompts, and parsing what was heard."""

from __future__ import annotations

_EN_UNITS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
             "ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen",
             "seventeen", "eighteen", "nineteen"]
_EN_TENS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
_EN_VALUE = {w: i for i, w in enumerate(_EN_UNITS)} | {
    w: 10 * i for i, w in enumerate(_EN_TENS) if w} | {"oh": 0}
_KO_DIGITS = "영일이삼사오육칠팔구"
_KO_VALUE = {c: i for i, c in enumerate(_KO_DIGITS)} | {"공": 0}
_KO_POINT = "점"


def to_words(value: float, lang: str = "en") -> str:
    """Say a number (integers and one decimal) the way a callee would; in a language
    whose number words healthdial does not know (a keypad survey's), as digits, which
    its voice reads in its own words."""
    if lang not in ("en", "ko"):
        return f"{round(value, 1):g}"
    whole = int(value)
    frac = round((value - whole) * 10)
    say = _ko_int if lang == "ko" else _en_int
    text = say(whole)
    if frac:
        digit = _KO_DIGITS[frac] if lang == "ko" else _EN_UNITS[frac]
        text += f" {_KO_POINT} {digit}" if lang == "ko" else f" point {digit}"
    return text


def _en_int(n: int) -> str:
    if n < 20:
        return _EN_UNITS[n]
    if n < 100:
        tens, unit = divmod(n, 10)
        return _EN_TENS[tens] + (f" {_EN_UNITS[unit]}" if unit else "")
    hundreds, rest = divmod(n, 100)
    return f"{_EN_UNITS[hundreds]} hundred" + (f" {_en_int(rest)}" if rest else "")


def _ko_int(n: int) -> str:
    """Syllable by syllable ("삼 십 칠"): each syllable is a word of Korean models."""
    if n == 0:
        return "영"
    out = ""
    hundreds, rest = divmod(n, 100)
    tens, unit = divmod(rest, 10)
    if hundreds:
        out += ("" if hundreds == 1 else _KO_DIGITS[hundreds]) + "백"
    if tens:
        out += ("" if tens == 1 else _KO_DIGITS[tens]) + "십"
    if unit:
        out += _KO_DIGITS[unit]
    return " ".join(out)


def parse(text: str, lang: str = "en") -> float | None:
    """Parse spoken number words ("thirty seven point five", "삼십칠"); None if not a number."""
    words = text.lower().split()
    if not words:
        return None
    return _parse_ko("".join(words)) if lang == "ko" else _parse_en(words)


def _parse_en(words: list[str]) -> float | None:
    if "point" in words:
        i = words.index("point")
        whole, frac = _parse_en(words[:i]), words[i + 1:]
        if whole is None or len(frac) != 1 or _EN_VALUE.get(frac[0], 10) > 9:
            return None
        return whole + _EN_VALUE[frac[0]] / 10
    total, current = 0, None
    for w in words:
        if w == "hundred":
            current = (current or 1) * 100
            continue
        v = _EN_VALUE.get(w)
        if v is None:
            return None
        if current is None:
            current = v
        elif v < 10 and current % 10 == 0 and current >= 20:
            current += v  # "thirty seven"
        else:
            return None  # "three seven" is not a number a person says
    return float(total + (current or 0)) if current is not None else None


def _parse_ko(s: str) -> float | None:
    if _KO_POINT in s:
        whole_s, _, frac_s = s.partition(_KO_POINT)
        whole = _parse_ko(whole_s)
        if whole is None or len(frac_s) != 1 or frac_s not in _KO_VALUE:
            return None
        return whole + _KO_VALUE[frac_s] / 10
    total, digit = 0, None
    for ch in s:
        if ch in _KO_VALUE:
            if digit is not None:
                return None
            digit = _KO_VALUE[ch]
        elif ch in "십백":
            total += (1 if digit is None else digit) * (10 if ch == "십" else 100)
            digit = None
        else:
            return None
    return float(total + (digit or 0)) if s else None


def number_phrases(lo: float, hi: float, decimals: bool, lang: str) -> dict[str, float]:
    """Every spoken form of the numbers in [lo, hi]: the grammar of a number question."""
    out: dict[str, float] = {}
    step = 0.1 if decimals else 1.0
    n = round((hi - lo) / step)
    for i in range(n + 1):
        v = round(lo + i * step, 1)
        out[to_words(v, lang)] = v
    return out
