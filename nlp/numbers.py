"""Numbers written as digits, words or roman numerals."""

from __future__ import annotations

WORDS = {
    "a": 1, "an": 1, "one": 1, "single": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14,
    "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19, "twenty": 20,
    "twenty-one": 21, "twenty-two": 22, "twenty-three": 23, "twenty-four": 24, "twenty-five": 25,
    "twenty-six": 26, "twenty-seven": 27, "twenty-eight": 28, "twenty-nine": 29, "thirty": 30,
    "thirty-five": 35, "forty": 40, "fifty": 50, "dozen": 12, "a dozen": 12, "couple": 2, "pair": 2,
}  # fmt: skip
ORDINALS = {"first": 1, "1st": 1, "second": 2, "2nd": 2, "third": 3, "3rd": 3, "fourth": 4, "4th": 4,
            "fifth": 5, "5th": 5, "sixth": 6, "6th": 6}  # fmt: skip
ROMAN = {"i": 1, "ii": 2, "iii": 3, "iv": 4, "v": 5, "vi": 6, "vii": 7}
WORD_PATTERN = "|".join(sorted((w for w in WORDS if w not in ("a", "an")), key=len, reverse=True))


def to_int(token: str) -> int | None:
    """'6', 'six', 'VI', 'second' -> 6/6/6/2; None if not a number."""
    t = token.strip().lower().replace("#", "")
    if t.isdigit():
        return int(t)
    if t in WORDS:
        return WORDS[t]
    if t in ORDINALS:
        return ORDINALS[t]
    if t in ROMAN:
        return ROMAN[t]
    return None


# Spoken numbers in dictated measurements: "eight millimeter", "one point two centimeters",
# "twenty two millimeters".
DIGIT_WORDS = {"zero": 0, "oh": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9}
TEENS = {"ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16,
         "seventeen": 17, "eighteen": 18, "nineteen": 19}  # fmt: skip
TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50}
_DIGIT = "|".join(k for k in DIGIT_WORDS if k != "oh")
_WHOLE = rf"(?:(?:{'|'.join(TENS)})(?:[ -](?:{_DIGIT}))?|{'|'.join(TEENS)}|{_DIGIT})"
SPOKEN_NUMBER = rf"(?:{_WHOLE}(?:\s+point\s+(?:{_DIGIT}|oh)(?:\s+(?:{_DIGIT}|oh))?)?\b|point\s+(?:{_DIGIT})\b)"


def spoken_value(raw: str) -> float | None:
    """'one point two' -> 1.2, 'twenty two' -> 22, 'point five' -> 0.5; None if not spoken."""
    words = raw.lower().replace("-", " ").split()
    if not words:
        return None
    whole, rest = 0, words
    if words[0] != "point":
        if words[0] in TENS:
            whole = TENS[words[0]]
            rest = words[1:]
            if rest and rest[0] in DIGIT_WORDS and rest[0] != "oh":
                whole += DIGIT_WORDS[rest[0]]
                rest = rest[1:]
        elif words[0] in TEENS:
            whole, rest = TEENS[words[0]], words[1:]
        elif words[0] in DIGIT_WORDS:
            whole, rest = DIGIT_WORDS[words[0]], words[1:]
        else:
            return None
    if not rest:
        return float(whole)
    if rest[0] != "point" or not all(w in DIGIT_WORDS for w in rest[1:]) or len(rest) < 2:
        return None
    return float(f"{whole}." + "".join(str(DIGIT_WORDS[w]) for w in rest[1:]))
