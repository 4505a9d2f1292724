"""`derm_counts`: how many lesions, tags, nails or warts were treated.

"18 AKs", "six warts", "AKs x 14", "(n=18)", "4 on the scalp, 3 on the forearm"
(each number is its own COUNT; frames sum them). Freeze-thaw cycles are not lesions:
"2 FTC", "double freeze", "x2 cycles" are never counted.
"""

from __future__ import annotations

import re

from spacy.language import Language
from spacy.tokens import Doc

from dermcoder.nlp._extensions import SPAN_GROUP, char_range, direct_span_data, note_text
from dermcoder.nlp.numbers import WORD_PATTERN, to_int
from dermcoder.nlp.spans import add_span
from dermcoder.nlp.start_filter import RegexGated, start_filtered, word_gated

NOUNS = (
    r"(?:actinic keratos[ie]s|aks?|hyperkeratotic aks?|lesions?|warts?|verrucae?|tags?|skin tags?|acrochordons?|"
    r"keratos[ie]s|sks?|isks?|nails?|toenails?|fingernails?|papules?|spots?|sites?|keloids?|growths?|molluscum|"
    r"mollusca|milia|cysts?|plaques?|patch(?:es)?|nodules?|biops(?:y|ies)|bxs?|specimens?|calluses|corns?|seborrheic keratos[ie]s|condylomata?|scars?|areas?|lesion sites?|abscess(?:es)?|boils?|furuncles?|carbuncles?)"
)
# (OCR of a handwritten tally reads "15" as "l5": an "l" before a digit is a 1)
NUM = rf"(\d{{1,3}}(?![.,]\d)|l\d{{1,2}}(?![\w.,])|{WORD_PATTERN})"
# number, up to three modifier words, then a counted noun: "18 hypertrophic AKs", "six small warts"
# (not the denominator of a fraction: "lateral 1/5 of nail plate")
BEFORE_NOUN = re.compile(rf"(?<![\w.#/-]){NUM}(?!\s+(?:ft|f/t|ftc|freeze|thaw|cycles?)\b)(?=[ \t]+(?:[a-z-]+[ \t]+){{0,3}}{NOUNS}\b)", re.IGNORECASE)
# noun then "x 18" / "(18)" / "#18" / "n=18" / ": 18" / "total 18"
AFTER_NOUN = re.compile(rf"\b{NOUNS}\s*(?:x\s?|×\s?|#|\(n\s*=\s*|\(|:\s*|total(?: of)?\s+|count\s*[:=]?\s*|treated\s*[:=]?\s*|times\s+|sampled\s*[:=]?\s*)(\d{{1,3}}|{WORD_PATTERN})\b(?!\s*(?:mm|cm|%|min|sec|s\b|cycles?|ftc|freeze))", re.IGNORECASE)
# "actinic keratoses, three, dorsal forearms", "Actinic keratoses, five: forehead two, ...": the
# count set off by a comma after its noun
_COMMA_COUNT = rf",[ \t]*{NUM}[ \t]*[,:]"
AFTER_NOUN_COMMA = re.compile(rf"\b{NOUNS}{_COMMA_COUNT}", re.IGNORECASE)
TOTAL = re.compile(
    rf"(?:(?:\b(?:total(?: of)?|totaling|totalling|for a total of|all)|=)\s*[:=]?\s*{NUM}\b(?!\s*(?:mm|cm|sq|%|min|mg|ml|units?|cc|days?|weeks?|points?|pts|sticks?|passes|injections?))"
    rf"|\b(?:number|no\.|#|count)\s+(?:of\s+)?(?:[a-z]+\s*){{0,3}}[:=]\s*{NUM}\b"
    # "Total lesions: 4" but not "Total needle passes: 12" / "total volume: 2"
    rf"|\btotal\s+(?!(?:needle|passes|volume|dose|amount|time|injections?|sticks|syringes?|vials?|mg|ml|cc|units?)\b)(?:[a-z]+\s*){{1,3}}[:=]?\s*{NUM}\b(?!\s*(?:mm|cm|sq|%|min|mg|ml|units?|cc|days?|weeks?)))",
    re.IGNORECASE,
)
# "LN2 x3", "cryo x 6": the count written after the method
AFTER_METHOD = re.compile(r"\b(?:LN2|LN-2|liquid nitrogen|cryo(?:therapy|surgery)?|ED&C|curettage|cantharidin|ILK|IL TAC|snip(?:ped)?)\s*(?:to\s+)?x\s?(\d{1,2})\b", re.IGNORECASE)
# "0.2 mL into each of the four lesions", "all of the 3 warts": the lesions described before,
# counted again (a total, not four more)
EACH_OF = re.compile(rf"\b(?:each|all|every one|both) of (?:the|these|those)\s+{NUM}\b", re.IGNORECASE)
# "15 removed by snip excision", "9 were treated": how many were done, a total of its own
DONE_AFTER = re.compile(rf"(?<![\w.#-]){NUM}\s+(?:were\s+|was\s+)?(?:removed|treated|destroyed|frozen|snipped|excised|injected)\b", re.IGNORECASE)
# "15 total", "3 lesions total", "6 AKs in total" (not "forearm ... 2" above a "Total lesions:" line)
TOTAL_AFTER = re.compile(rf"(?<![\w.#-]){NUM}[ \t]+(?:{NOUNS}\s+)?(?:total|in total|altogether|overall)\b", re.IGNORECASE)
# "dorsal hands, bilateral (2 R, 1 L)": a count per side inside a breakdown
_SIDE_COUNT = rf"{NUM}\s+(?:R|L|rt|lt|right|left)\b"
SIDE_SPLIT = re.compile(rf"(?:(?<=\()|(?<=,)|(?<=;)|(?<=, )|(?<=; )|(?<=\( )){_SIDE_COUNT}(?=\s*[,;)])", re.IGNORECASE)
# "Scalp: 7", "R axilla: five." - a site line listing how many were treated there
SITE_COUNT = re.compile(rf"(?im)(?:^[ \t]*|[.;]\s+)[A-Za-z][A-Za-z ,()/&-]{{1,60}}:[ \t]*{NUM}\s*(?=$|[.;,)])")
# (never across a line end: "treated: 23" then "Freeze technique: ..." on the next line;
# "Strength 5/5 in all 4 extremities" counts limbs, not lesions)
NOT_A_COUNT = re.compile(r"^[ \t]*-?[ \t]*(?:(?:x|×|by)[ \t]*\d|(?<=-)[ \t]*\d+(?:\.\d+)?[ \t]*(?:mm|cm)\b|(?:x[ \t]*)?(?:freeze|ftc|f/t|cycles?|thaw|sec|seconds?|s\b|mm|cm|mg|ml|cc|units?|%|times|passes|weeks?|days?|months?|years?|yo|y/o|millimet|centimet|inch|gauge|g\b|french|fr\b|-0\b|extremit|limbs?\b|quadrants?\b))", re.IGNORECASE)


# "14:28  Two largest neck tags": the minutes of a clock time are no count
CLOCK_BEFORE = re.compile(r"\d[:.]$")
# "site 2 - AKs: ...", "lesion #3 - SKs", "Procedure 2 - Cryotherapy of actinic keratoses": the number names a lesion, it does not count them
LABEL_BEFORE = re.compile(r"\b(?:site|lesion|specimen|spec|part|tumou?r|jar|container|bx|biopsy|stage|layer|procedure|proc|repair|defect)[ \t]*#?[ \t]*$", re.IGNORECASE)


# "scalp (6)", "L forehead x3", "R dorsal hand 2,", "nasal tip one.", "jawline bilateral two," - a
# count written right after a site (and its side or a bracketed detail: "L ear (antihelix) x1"), or
# across dot leaders ("Forehead ...... 4", "neck, front and sides ........ 9") or a column bar ("scalp   | 6");
# "L forearm x6 wk" is a duration; "nasal dorsum one (2 FTC each)" is a count before its cycles
AFTER_SITE = re.compile(rf"(?:,?\s+(?:bilateral|bilat|b/l|left|right))?(?:\s*\([^()\n]{{1,25}}\))?\s*(?:[^\d\n.]{{0,25}}\.{{3,}}\s*{NUM}\b|\(\s*{NUM}\s*\)|x\s?{NUM}\b(?!\s*(?:wks?|weeks?|mos?|months?|days?|d\b|yrs?|years?|hrs?|hours?|min))|[:\-–|]\s*{NUM}\b|[ \t]{NUM}(?=\s*(?:[,.;)=]|$|\n|\((?!\s*\d)|\(\s*\d+\s*(?:FTCs?|freeze|cycles?)\b|[-–—]\s|->|→)))", re.IGNORECASE)


SIDE = r"(?:R|L|Rt|Lt|right|left)\.?"
SIDE_COUNTS = re.compile(rf"[ \t]*:[ \t]*{SIDE}[ \t]+(\d{{1,2}})[ \t]*[,;/][ \t]*{SIDE}[ \t]+(\d{{1,2}})\b(?![ \t]*(?:mm|cm|x\b))")


# "twelve on face, three on scalp", "five across the forehead": a count written right before the site it was found on
# "the two on each forearm": one count per side, twice
BEFORE_SITE = re.compile(rf"(?:^|[\s:,;(])(\d{{1,2}}|{WORD_PATTERN})\s+(?:on|at|across|over|along)\s+(?:the\s+)?(?P<each>(?:each|both)\s+)?"
                         rf"(?:(?:left|right|L|R|bilateral|bilat)\s+)?(?:dorsal\s+|volar\s+|lateral\s+|medial\s+)?$", re.IGNORECASE)


# Two patterns whose every match holds a rare part ("..., 3, ...", "(2 R, 1 L)"), found by a
# scan far cheaper than theirs: only a note where that part occurs is scanned in full (the
# nouns they also need are in nearly every note, so the word gate does not help them).
_GATES = {
    AFTER_NOUN_COMMA: re.compile(_COMMA_COUNT, re.IGNORECASE),  # the pattern's own tail
    SIDE_SPLIT: re.compile(rf"[(,;] ?{_SIDE_COUNT}", re.IGNORECASE),  # its look-behinds as text, its core
}


def _fast(rx: re.Pattern):
    scan = word_gated(start_filtered(rx))
    return RegexGated(scan, _GATES[rx]) if rx in _GATES else scan


# The patterns scanned over the whole note, in this order (a number taken by one is not
# taken again), each with its group and role; start_filtered, word_gated and the gates
# above: the same matches, faster.
_SCANS = tuple((_fast(rx), group, role) for rx, group, role in (
    (EACH_OF, 1, "total"), (TOTAL, 0, "total"), (TOTAL_AFTER, 1, "total"), (DONE_AFTER, 1, "total"), (BEFORE_NOUN, 1, "item"),
    (AFTER_NOUN, 1, "after"), (AFTER_NOUN_COMMA, 1, "after"), (SITE_COUNT, 1, "item"), (AFTER_METHOD, 1, "item"),
    (SIDE_SPLIT, 1, "item"),
))  # fmt: skip


def _count_value(raw: str) -> int | None:
    """The integer a count's words or digits say ("twelve", "12", OCR's "l2")."""
    if len(raw) > 1 and raw[0] == "l" and raw[1:].isdigit():
        raw = "1" + raw[1:]
    return to_int(raw)


@Language.factory("derm_counts", assigns=["doc.spans"], default_config={})
def make_counts(nlp, name):  # untyped: spaCy validates factory signatures
    """Factory for the lesion-count recognizer."""
    return CountRecognizer()


class CountRecognizer:
    """Adds COUNT spans (value = the integer; role 'total' for a stated total)."""

    def __call__(self, doc: Doc) -> Doc:
        text = note_text(doc)
        seen: set[int] = set()
        for rx, group, role in _SCANS:
            for m in rx.finditer(text):
                g = group or next(i for i in range(1, (m.lastindex or 1) + 1) if m.group(i))  # TOTAL has two alternatives
                start, end = m.start(g), m.end(g)
                if (start in seen or NOT_A_COUNT.match(text[end : end + 12]) or CLOCK_BEFORE.search(text, max(0, start - 3), start)
                        or LABEL_BEFORE.search(text, max(0, start - 14), start)):  # fmt: skip
                    continue
                value = _count_value(m.group(g))
                if value is None or value == 0 or value > 200:
                    continue
                if role == "after":
                    noun = re.search(NOUNS, m.group(0), re.IGNORECASE)
                else:
                    # the noun counted is on the number's own line ("= fifteen total" then "LN2 to ISKs" below)
                    ahead = text[end : end + 40].split("\n", 1)[0]
                    noun = re.search(NOUNS, ahead, re.IGNORECASE)
                seen.add(start)
                add_span(doc, start, end, "COUNT", value=value, role=("item" if role == "after" else role),
                         canonical=(noun.group(0).lower() if noun else None))  # fmt: skip
        spans = doc.spans.get(SPAN_GROUP, [])
        direct = direct_span_data(doc, spans)  # offsets read from user_data (nlp/_extensions.py)
        for site in [sp for sp in spans if sp.label_ == "SITE"]:
            site_start, site_end = char_range(doc, site, direct)
            m = BEFORE_SITE.search(text, max(0, site_start - 40), site_start)
            if m and m.start(1) not in seen and (value := _count_value(m.group(1))) is not None and 0 < value <= 60:
                seen.add(m.start(1))
                value *= 2 if m.group("each") else 1
                add_span(doc, m.start(1), m.end(1), "COUNT", value=value, role="item", canonical="lesions by site")
                continue
            m = SIDE_COUNTS.match(text, site_end)
            if m and m.start(1) not in seen and m.start(2) not in seen:
                for g in (1, 2):  # "dorsal hands: R 3, L 1": a count for each side
                    seen.add(m.start(g))
                    add_span(doc, m.start(g), m.end(g), "COUNT", value=int(m.group(g)), role="item", canonical="lesions by site")
                continue
            m = AFTER_SITE.match(text, site_end)
            if not m:
                continue
            g = next(i for i in range(1, (m.lastindex or 1) + 1) if m.group(i))
            start, end = m.start(g), m.end(g)
            value = _count_value(m.group(g))
            if start in seen or value is None or not 0 < value <= 60 or NOT_A_COUNT.match(text[end : end + 12]):
                continue
            seen.add(start)
            add_span(doc, start, end, "COUNT", value=value, role="item", canonical="lesions by site")
        _drop_breakdowns(doc, text)
        return doc


# "R hand 4 (periungual x2, dorsal x2)", "LN2 to 3 lesions (2 scalp, 1 hand)": the bracket
# right after a count (and its noun) breaks it down
# (not "chin x1  (= 4)": a bracket that adds up the list before it is its total)
BREAKDOWN = re.compile(r"[ \t]*(?:[A-Za-z'-]+[ \t]*){0,3}\((?![ \t]*(?:=|total\b))([^()\n]{1,80})\)", re.IGNORECASE)


def _drop_breakdowns(doc: Doc, text: str) -> None:
    spans = list(doc.spans.get(SPAN_GROUP, []))
    direct = direct_span_data(doc, spans)
    counts = [(sp, *char_range(doc, sp, direct)) for sp in spans if sp.label_ == "COUNT"]
    inside: set[int] = set()
    for _sp, _start, end in counts:
        m = BREAKDOWN.match(text, end)
        if m:
            inside |= {id(o) for o, start, _end in counts if m.start(1) <= start < m.end(1)}
    if inside:
        doc.spans[SPAN_GROUP] = [sp for sp in spans if id(sp) not in inside]
