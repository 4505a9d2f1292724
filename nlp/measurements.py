"""`derm_measurements`: sizes, margins, lengths and areas, normalized to cm / sq cm.

Recognises "0.9 cm", "6 mm", "1.2 x 0.8 cm", "1.2 cm x 0.8 cm", "2-3 mm", "12 sq cm",
"3.0 cm2". Each mention keeps its exact characters and gets a `role` read from the
words around it (margin, repair length, defect, excised diameter, depth, ...), so
the frame builder never mistakes an ellipse length or a Breslow depth for a lesion size.
"""

from __future__ import annotations

import re

from spacy.language import Language
from spacy.tokens import Doc

from dermcoder.nlp._extensions import note_text
from dermcoder.nlp.numbers import SPOKEN_NUMBER, spoken_value
from dermcoder.nlp.spans import add_span
from dermcoder.nlp.pipe_tables import MIN_SEMICOLONS, separator_at
from dermcoder.nlp.start_filter import start_filtered

# OCR of a scanned chart reads "0.5 cm" as "0.S crn" and "0.4" as "O.4": those misreadings
# (a letter for a digit inside a decimal, "rn" for "m") are numbers and units too
OCR_NUM = r"O\.\d+|\d+\.S\b"
_OCR_NUM = re.compile(OCR_NUM, re.IGNORECASE)
OCR_DIGITS = str.maketrans("OoSs", "0055")
NUM = rf"(?:\d+(?:\.\d+)?|\.\d+|{OCR_NUM}|{SPOKEN_NUMBER})"
UNIT = r"(?:cm|mm|crn|rnm|centimet(?:er|re)s?|millimet(?:er|re)s?)"
AREA_UNIT = r"(?:sq\.?\s*cm|cm[ \t]?2(?![\d.])|cm²|square\s+centimet(?:er|re)s?|square\s+cm|sq\.?\s*mm|mm²|mm2)"
SEP = r"\s*(?:x|×|X|by|\*)\s*"
MEASURE = re.compile(
    rf"(?<![\w.])(?P<a>{NUM})\s*(?P<ua>{UNIT})?(?:{SEP}(?P<b>{NUM})\s*(?P<ub>{UNIT})?)?(?:{SEP}(?P<c>{NUM}))?"
    rf"(?:\s*(?:-|–|to)\s*(?P<r>{NUM}))?\s*(?P<unit>{AREA_UNIT}|{UNIT})(?![\w])",
    re.IGNORECASE,
)
# Roles, tested on the words just before (and after) the number, closest cue first.
ROLE_BEFORE = [
    ("excised_diameter", r"excis(?:ed|ion)\s+diameter|excisional diameter|total excised|diameter excised"),
    ("depth", r"breslow|depth|thickness|deep\s+to|invasion|clark"),
    ("path_margin", r"clear(?:ance)?\s+(?:by|of)|(?:margins?|clearance)\s+(?:is|are|of)\s+(?:clear|free)|closest margin|nearest margin|peripheral margin|deep margin"
                    r"|(?:closest|nearest)\s+(?:peripheral|deep|lateral)|margins?\s+(?:free|clear|negative|uninvolved)"),
    ("margin", r"margins?|\bmarg\b|\bmgn\b|rim\s+of\s+normal|around|circumferential|clinical\s+margin|peripheral|surgical\s+margin"),
    ("area", r"area|sq|surface"),
    ("defect", r"defect|wound\s+(?:size|measur)|final\s+defect|post[- ]?op(?:erative)?\s+defect|primary\s+defect|secondary\s+defect"),
    ("repair_length", r"repair|closure|closed|sutured|suture line|length|lenght|\blen\b|linear|approximated|layered|intermediate|complex|simple"),
    ("ellipse", r"ellipse|elliptical|fusiform|incision|long\s+axis|3:1"),
    ("lesion", r"lesion|measur|diameter|nodule|papule|plaque|macule|cyst|tumou?r|growth|mass|size|sized|nevus|mole|bcc|scc|keratosis|patch|spot|scar|\bles\b|\bsz\b"),
]
ROLE_AFTER = [
    # "9 mm with peripheral globules", "6 mm with an irregular border" describe the lesion
    ("margin", r"^\s*(?:\w+\s+){0,2}(?:margins?|marg\b|mgns?\b|peripheral(?!\s+(?:globules?|dots?|network|streaks?|pigment\w*|projections?|erythema|halo|scale))"
               r"|circumferential|clinical margin|rim|border\s+of\s+(?:normal|clinically|uninvolved)|all around|around)"
               r"|^\s*(?:of\s+)?(?:normal\s+|clinically\s+normal\s+|uninvolved\s+)?(?:skin|tissue)\s+(?:on\s+(?:either|each|both)\s+sides?|around|beyond)"),
    ("area", r"^\s*(?:\w+\s+){0,1}(?:area|treated)"),
    ("repair_length", r"^\s*(?:\w+\s+){0,3}(?:repair|closure|layered|linear|intermediate|complex|simple|wound\s+closure)"
                      r"|^\s*(?:final|total)\s+length\b"),  # "... sutures; 5.0 cm final length"
    ("ellipse", r"^\s*(?:\w+\s+){0,2}(?:ellipse|elliptical|fusiform|long)"),
    ("defect", r"^\s*(?:\w+\s+){0,2}(?:defect|wound)"),
    ("lesion", r"^\s*(?:\w+\s+){0,3}(?:lesion|nodule|papule|plaque|macule|cyst|bcc|scc|nevus|tumou?r|growth|pink|brown|pearly|scaly|erythematous)"),
]
_BEFORE_PLAIN = [(role, re.compile(rf"(?:{pat})(?=[^.;\n]{{0,60}}$)", re.IGNORECASE)) for role, pat in ROLE_BEFORE]
# Scanned over the 70 characters before every measurement, every role: behind their start
# filter (same matches) they cost ~0.10 instead of ~0.17 ms per note.
_BEFORE = [(role, start_filtered(rx)) for role, rx in _BEFORE_PLAIN]
_AFTER = [(role, re.compile(pat, re.IGNORECASE)) for role, pat in ROLE_AFTER]
_MEASURE_SCAN = start_filtered(MEASURE)  # scanned over every note: start_filtered finds the same matches, faster


def _millimetres(unit: str) -> bool:
    """The unit is mm, or sq mm (also spelled out, or OCR's "rnm")."""
    unit = unit.lower()
    return "mm" in unit or "rnm" in unit or "milli" in unit


def _cm(value: float, unit: str) -> float:
    return value / 10.0 if _millimetres(unit) else value


def _is_area(unit: str) -> bool:
    u = unit.lower().replace(" ", "")
    return "sq" in u or "2" in u or "²" in u or "square" in u


# a template field whose label names what the number measures, the number first in the field
FIELD_LABEL = re.compile(r"(?:^|\n)[ \t\-*•]*(scar|lesion|lesion size|defect|final defect|margins?)[ \t]*:[ \t]*$", re.IGNORECASE)
FIELD_ROLES = {"scar": "lesion", "lesion": "lesion", "lesion size": "lesion", "defect": "defect", "final defect": "defect",
               "margin": "margin", "margins": "margin"}
ALONG = re.compile(r"\balong\s+(?:the\s+)?(?:whole\s+|entire\s+|full\s+)?$", re.IGNORECASE)
LENGTH_EQUALS = re.compile(r"(?:repair|closure)\s+length\s+(?:equals|=|matches|is\s+(?:the\s+)?same\s+as)\s+(?:that\s+of\s+)?(?:the\s+)?(?:ellipse|incision)\b[^.;\n\d]{0,15}$",
                           re.IGNORECASE)
BRACKETED = re.compile(r"\([^()\n]*\)")


GLOSSED = re.compile(r"\b[A-Z]{2,6}[ \t]*$")  # an abbreviation right before the bracket that spells it out


def measurement_role(text: str, start: int, end: int, is_area: bool) -> str:
    """Read the role of a measurement from the words around it (same clause)."""
    if is_area:
        return "area"
    column = table_role(text, start)
    if column is not None:
        return column
    field = FIELD_LABEL.search(text, max(0, start - 20), start)
    if field is not None:
        return FIELD_ROLES[field.group(1).lower()]  # "Scar: 2.0 cm linear, well healed": the field names it
    # the words after, up to the clause end or the next template field ("1.0 cm   Margin: 0.4 cm")
    # ... or the next measurement ("8mm residual pigment, 2mm margins": "margins" is the 2 mm's)
    after = re.split(r"[\n.;\t]| {2,}|\b[A-Za-z]+:|\b\d+(?:\.\d+)?[ \t]?(?:mm|cm)\b", text[end : end + 40], maxsplit=1)[0]
    for role, rx in _AFTER:
        if rx.search(after):
            if role == "defect" and (CLOSING_VERB.search(text[max(0, start - 30) : start]) or ALONG.search(text, max(0, start - 30), start)):
                return "repair_length"  # "closed the 5.8 cm wound in two layers", "layered closure along the whole 5.5 cm wound"
            if role == "ellipse" and not re.search(r"ellipse|elliptical|fusiform", after, re.IGNORECASE) and (
                    REPAIR_LINE.match(text[text.rfind("\n", 0, start) + 1 : start]) or CLOSURE_JUST_BEFORE.search(text, max(0, start - 30), start)):
                return "repair_length"  # "Closure: intermediate repair, 4-0 nylon; 3.0 cm long", "a layered closure, 1.6 cm long"
            return role
    # a closed bracket before the number speaks of something else: "atypical nevus (bx: mod
    # atypia, + margin), 8mm residual pigment" - the 8 mm is no margin
    # (not a gloss of the author's abbreviation: "ILC (intermediate layered closure) 4-0 Vicryl, 3.0 cm")
    window = text[max(0, start - 70) : start]
    before = BRACKETED.sub(lambda b: b.group(0) if GLOSSED.search(window, 0, b.start()) else " ", window)
    if _BEFORE[0][1].search(before):
        return "excised_diameter"  # "excised diameter 1.6 cm": stated, wins over the word "diameter"
    if MARGIN_EXCEPT.search(text, max(0, start - 140, text.rfind("\n", 0, start) + 1), start):
        return "margin"  # "Margins marked 5 mm except inferiorly, where a pressure area limited us to 3 mm"
    if LENGTH_EQUALS.search(before):
        return "repair_length"  # "the intermediate repair length equals the ellipse, 12.0 cm"
    best: tuple[int, str] | None = None
    for role, rx in _BEFORE:
        m = None
        for m in rx.finditer(before):  # this role's last cue: "around the scar, a margin of 1 mm"
            pass
        if m and (best is None or m.start() > best[0]):
            best = (m.start(), role)  # the cue closest to the number wins
    if best is None:
        # the line ("Intermediate repair: 3-0 Vicryl buried, staples. 3.0 cm.") or the sentence
        # so far ("Excised w/ 2 mm margins. Layered closure 4-0 nylon; 3.0 cm.") opens with a closure
        line = text[text.rfind("\n", 0, start) + 1 : start]
        sentence = text[max(text.rfind("\n", 0, start) + 1, text.rfind(". ", 0, start) + 2) : start]
        if REPAIR_LINE.match(line) or REPAIR_LINE.match(sentence):
            return "repair_length"  # "Repair: simple closure ... no undermining; 2.0 cm."
        if MARGIN_LINE.match(line):
            return "margin"  # "Margins A	3 mm superior and lateral; 2 mm inferior"
    if best and best[1] == "lesion" and GENERIC.search(before[best[0]:]):
        # "complex repair measuring 6.5 cm": a generic verb takes the role of the noun before it
        head = REPAIR_HEAD.search(before[max(0, best[0] - 40) : best[0]])
        if head:
            return "repair_length" if head.group(1).lower() not in ("defect", "wound") else "defect"
    return best[1] if best else "size"


# A measurement in a pipe table takes the role its column header names:
# "Site | Dx | Lesion size | Margin | Closure | Length"
HEADER_ROLES = [
    ("excised_diameter", re.compile(r"excis\w*\s+diam|excised", re.IGNORECASE)),
    ("margin", re.compile(r"margin|\bmgn|\bmarg\b", re.IGNORECASE)),
    ("defect", re.compile(r"defect|wound", re.IGNORECASE)),
    ("repair_length", re.compile(r"length|\blen\b|repair|closure", re.IGNORECASE)),
    ("lesion", re.compile(r"size|lesion|diam|dimension|\bsz\b", re.IGNORECASE)),
]
TABLE_SEPARATOR = re.compile(r"^[\s|:\-+=]+$")


def table_role(text: str, start: int) -> str | None:
    """The role named by the column header above a table cell, if the number sits in one."""
    line_start = text.rfind("\n", 0, start) + 1
    line_end = text.find("\n", start)
    line = text[line_start : line_end if line_end >= 0 else len(text)]
    # pipe tables, or columns separated by tabs ("Site\tDx\tPre-curettage\tFinal defect")
    sep = ("|" if line.count("|") >= 2 else "\t" if line.count("\t") >= 2
           else ";" if line.count(";") >= MIN_SEMICOLONS and separator_at(text, line_start) == ";" else None)
    if sep is None:
        return None
    header = None
    pos = line_start
    while pos > 0:  # the topmost line of the contiguous block of table lines
        prev_start = text.rfind("\n", 0, pos - 1) + 1
        prev = text[prev_start : pos - 1]
        if prev.count(sep) < 2:
            break
        if not TABLE_SEPARATOR.match(prev):
            header = prev
        pos = prev_start
    if header is None or MEASURE.search(header):
        return None
    cell = line[: start - line_start].count(sep)
    cells = header.split(sep)
    if cell >= len(cells):
        return None
    for role, rx in HEADER_ROLES:
        if rx.search(cells[cell]):
            return role
    return None


CLOSURE_JUST_BEFORE = re.compile(r"\b(?:closure|repair|closed|sutured)\b[^.;\n\d]{0,12}$", re.IGNORECASE)
CLOSING_VERB = re.compile(r"\b(?:closed|repaired|sutured|approximated)\s+(?:the\s+|a\s+|this\s+)?(?:resulting\s+|final\s+)?$", re.IGNORECASE)
REPAIR_LINE = re.compile(r"^\s*(?:(?:simple|intermediate|complex|layered|linear)\s+)?(?:repair|closure|reconstruction|wound closure)\b", re.IGNORECASE)
MARGIN_LINE = re.compile(r"^\s*(?:surgical |clinical |peripheral )?margins?\b", re.IGNORECASE)
MARGIN_EXCEPT = re.compile(r"\bmargins?\b[^.;\n]{0,30}\b(?:except|but|other than|save)\b[^.;\n\d]{0,60}$", re.IGNORECASE)
GENERIC = re.compile(r"^(?:measur\w*|sized?|diameter)", re.IGNORECASE)
REPAIR_HEAD = re.compile(r"(repair|closure|closed|sutured|suture line|incision line|defect|wound|length)[ \t]*(?:[\w-]+[ \t]*){0,4}$", re.IGNORECASE)


def _number(raw: str) -> float:
    """A measurement's number, in digits or spoken ("one point two"), or misread by OCR ("0.S", "O.4")."""
    if _OCR_NUM.fullmatch(raw):  # case-blind, as MEASURE is: "o.4" as well as "O.4"
        raw = raw.translate(OCR_DIGITS)
    try:
        return float(raw)
    except ValueError:
        value = spoken_value(raw)
        return value if value is not None else 0.0


def parse_measure(m: re.Match) -> tuple[list[float], str, bool]:
    """Dimensions in cm (or sq cm for areas) from a MEASURE match."""
    unit = m.group("unit")
    area = _is_area(unit)
    base = "mm" if _millimetres(unit) else "cm"
    dims = []
    for g, ug in (("a", "ua"), ("b", "ub"), ("c", None)):
        raw = m.group(g)
        if raw is None:
            continue
        u = (m.group(ug) if ug and m.group(ug) else base) if not area else base
        v = _number(raw)
        dims.append(v / 100.0 if area and base == "mm" else _cm(v, u) if not area else v)
    if m.group("r") is not None:  # a range "2-3 mm": keep both ends, narrowest first
        dims = [dims[0], _cm(_number(m.group("r")), base)] if not area else [dims[0], _number(m.group("r"))]
    return dims, ("sq cm" if area else "cm"), area


@Language.factory("derm_measurements", assigns=["doc.spans"], default_config={})
def make_measurements(nlp, name):  # untyped: spaCy validates factory signatures
    """Factory for the measurement recognizer."""
    return MeasurementRecognizer()


class MeasurementRecognizer:
    """Adds SIZE / MARGIN / AREA spans with normalized values and a role."""

    def __call__(self, doc: Doc) -> Doc:
        text = note_text(doc)
        for m in _MEASURE_SCAN.finditer(text):
            dims, unit, area = parse_measure(m)
            if not dims or max(dims) <= 0:
                continue
            role = measurement_role(text, m.start(), m.end(), area)
            if role == "repair_length" and len(dims) >= 2:
                role = "defect"  # a repair length has one dimension: "FTSG trimmed to the 2.2 x 1.9 cm bed"
            label = "AREA" if area else "MARGIN" if role in ("margin", "path_margin") else "SIZE"
            add_span(doc, m.start(), m.end(), label, canonical=unit, value=dims, role=role)
        return doc
