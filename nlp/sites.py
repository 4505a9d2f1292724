"""`derm_sites`: anatomic sites (from the site lexicon) and laterality.

A SITE span's `canonical` is one of the canonical sites of coding/tables/sites.json;
its `value` carries an eyelid's upper/lower when the words say so. LATERALITY spans
read left / right / bilateral, including the "L"/"R" shorthand when it stands next to
a site ("R forearm", "nasal ala (L)").
"""

from __future__ import annotations

import bisect
import re

from spacy.language import Language
from spacy.tokens import Doc

from dermcoder.nlp._extensions import note_text
from dermcoder.nlp.lexicons import load_lexicons
from dermcoder.nlp.resource_io import ResourceBacked
from dermcoder.nlp.spans import add_span
from dermcoder.nlp.start_filter import start_filtered
from dermcoder.nlp.typos import find_typos

LATERALITY_WORDS = re.compile(r"(?<![\w/])(left|right|bilateral|bilaterally|bilat|both|lt|rt)(?![\w/])", re.IGNORECASE)
LR_SHORT = re.compile(r"(?<![\w/.&])(L|R|LT|RT|Lt|Rt)(?![\w/&])")
# scanned over every note: start_filtered finds the same matches, faster
_LATERALITY_WORDS, _LR_SHORT = start_filtered(LATERALITY_WORDS), start_filtered(LR_SHORT)
CANON_SIDE = {"left": "left", "lt": "left", "l": "left", "right": "right", "rt": "right", "r": "right",
              "bilateral": "bilateral", "bilaterally": "bilateral", "bilat": "bilateral", "both": "bilateral"}  # fmt: skip
UPPER_LOWER = re.compile(r"\b(upper|lower|superior|inferior)\b", re.IGNORECASE)
# "graft harvested from the right preauricular skin", "flap designed off the nasal sidewall":
# the site tissue came from, not the lesion's site.
DONOR = re.compile(r"(?:harvest\w*|donor(?: site)?|taken|borrowed|recruited|designed|based|raised|elevated|rotated|transposed|advanced)\s+(?:\w+\s+){0,3}(?:from|off|on|of)\s+(?:the\s+)?(?:\w+\s+){0,2}$|donor(?: site)?\s*[:=-]?\s*(?:\w+\s+){0,2}$"
    r"|(?:graft|flap|ftsg|stsg)\s+(?:\w+\s+){0,1}from\s+(?:the\s+)?(?:\w+\s+){0,2}$", re.IGNORECASE)


# Direction and surface words a coder reads as part of the site ("dorsal hand", "mid upper
# back", "R lat neck", "side of the neck"); the site's span takes them in, its canonical
# site stays the lexicon's.
QUALIFIERS = re.compile(
    r"(?<![\w-])(?:dorsal|volar|palmar|plantar|mid|central|posterior|post|anterior|ant|lateral|lat|medial|med"
    r"|inner|outer|superior|sup|inferior|inf|upper|lower|proximal|prox|distal|side of the|side of"
    r"|1st|2nd|3rd|4th|5th|first|second|third|fourth|fifth)[ \t]+$", re.IGNORECASE)
# "popliteal fossa", "penile shaft", "inframammary folds": the head noun belongs to the site.
HEAD_NOUN = re.compile(r"[ \t]+(?:fossae?|shaft|folds?)\b", re.IGNORECASE)
# Anatomy named for the operation, not for a lesion: "facial nerve", "deltoid fascia",
# "ankle block", "ring block of ear", "leg elevation", "hand and foot unit".
STRUCTURE_AFTER = re.compile(r"[ \t]+(?:nerve|fascia|periosteum|artery|vein|branch|block|nodes?|groove|muscle|tendon"
                             r"|elevation|elevated|(?:and[ \t]+foot[ \t]+)?unit)\b", re.IGNORECASE)
BLOCK_BEFORE = re.compile(r"\bblock[ \t]+of(?:[ \t]+the)?[ \t]+$", re.IGNORECASE)
# "plantar wart" is a diagnosis (B07.0); the wart's site is written beside it.
PLANTAR_WART = re.compile(r"[ \t]+(?:warts?|verruca)", re.IGNORECASE)


LEFT_THE_VERB = re.compile(r"[ \t]+(?:to (?:heal|granulate|dry|air)|open\b|in place|intact|alone|untreated|undisturbed|as is|for (?:later|next))", re.IGNORECASE)


# "back" the adverb, not the site
NOT_THE_BACK_AFTER = re.compile(r"[ \t]+(?:for|today|again|later|soon|in[ \t]+\d|in[ \t]+(?:a|one|two|three|four|six|several)[ \t]+(?:day|week|month)s?|to[ \t]+(?:see|clinic|the clinic|the office|us|treat|have|discuss|review|remove|check|recheck|follow|go over))\b", re.IGNORECASE)
NOT_THE_BACK_BEFORE = re.compile(r"\b(?:path|pathology|results?|came|comes|come|coming|returns?|returned|called|calls?|go|goes|went|get|got|bring|brought|is|was|be)[ \t]+$", re.IGNORECASE)


FACE_TO_FACE = re.compile(r"\bface[- ]to[- ]face\b", re.IGNORECASE)


@Language.factory("derm_sites", assigns=["doc.spans"], default_config={})
def make_sites(nlp, name):  # untyped: spaCy validates factory signatures
    """Factory for the site and laterality recognizer."""
    return SiteRecognizer()


class SiteRecognizer(ResourceBacked):
    """Adds SITE and LATERALITY spans."""

    resource_files = ("site_lexicon.json", "findings_lexicon.json", "shared_patterns.json")

    def __init__(self) -> None:
        self.init_resources()

    def load_resources(self) -> None:
        lexicons = load_lexicons(self.resource_dir)
        self.lexicon = lexicons.sites
        self.typos = lexicons.site_typos

    def __call__(self, doc: Doc) -> Doc:
        text = note_text(doc)
        site_starts: list[int] = []
        site_ends: list[int] = []
        hits = list(self.lexicon.finditer(text))
        misspelt = find_typos(text, self.typos, [(a, b) for a, b, _ in hits])  # "L forarm"
        if misspelt:
            hits = sorted(hits + [(a, b, canonical) for a, b, _, canonical in misspelt])
        for start, end, canonical in _whole_sites(text, hits):
            if re.search(r"crow'?s[- ]?$", text[max(0, start - 7) : start], re.IGNORECASE):
                continue  # "crow's-feet lines" are facial wrinkles, not the foot
            if re.search(r"dog[- ]?$", text[max(0, start - 4) : start], re.IGNORECASE):
                continue  # "dog-ear trimmed": a pucker at a wound's end, not the ear
            if STRUCTURE_AFTER.match(text, end) or BLOCK_BEFORE.search(text, max(0, start - 16), start):
                continue
            if text[start:end] == "ALA":
                continue  # aminolevulinic acid (PDT), never the nasal ala in capitals
            if text[start].isupper() and not text[start:end].isupper() and NAME_FIELD.search(text, text.rfind("\n", 0, start) + 1, start):
                continue  # "Patient: Quentin Abernathy-Sole": a capitalised word of a name field
            if text[start:end].lower() == "plantar" and PLANTAR_WART.match(text, end):
                continue
            if canonical == "back" and (NOT_THE_BACK_AFTER.match(text, end) or NOT_THE_BACK_BEFORE.search(text, max(0, start - 20), start)):
                continue  # "patient back for definitive treatment", "she comes back in 3 months"
            if FACE_TO_FACE.search(text, max(0, start - 8), min(len(text), end + 8)):
                continue  # "25 minutes face-to-face time"
            value = None
            if canonical == "eyelid":
                m = UPPER_LOWER.search(text[max(0, start - 12) : end])
                if m:
                    value = "upper" if m.group(1).lower() in ("upper", "superior") else "lower"
            role = "donor" if _is_donor(text, start) else None
            add_span(doc, start, end, "SITE", canonical=canonical, value=value, role=role)
            site_starts.append(start)
            site_ends.append(end)
        for m in _LATERALITY_WORDS.finditer(text):
            word = m.group(1).lower()
            if word == "left" and LEFT_THE_VERB.match(text, m.end()):
                continue  # "left to heal by second intention", "left open"
            if word == "both" and not _near_site(m.end(), site_starts, after=True, reach=25):
                continue
            add_span(doc, m.start(), m.end(), "LATERALITY", canonical=CANON_SIDE[word])
        for m in _LR_SHORT.finditer(text):
            # "L"/"R" alone are side marks only beside a site: "R forearm", "cheek (L)", "L ear".
            # ... or alone in a table cell: "upper eyelid ; R ; 4 mm", "| L |"
            if (_near_site(m.end(), site_starts, after=True, reach=14) or _near_site(m.start(), site_ends, after=False, reach=4)
                    or (CELL_BEFORE.search(text, max(0, m.start() - 3), m.start()) and CELL_AFTER.match(text, m.end()))):
                add_span(doc, m.start(), m.end(), "LATERALITY", canonical=CANON_SIDE[m.group(1).lower()])
        return doc


CELL_BEFORE = re.compile(r"[|;\t][ \t]*$")
CELL_AFTER = re.compile(r"[ \t]*[|;\t]")


# the header fields that hold people's names ("Patient: Ada Shinn-Hand    DOB: ...")
NAME_FIELD = re.compile(r"(?m)^[ \t]*(?:patient(?: name)?|pt(?: name)?|name|provider|surgeon|attending|physician|referring(?: provider| physician)?|dr\.?)\b[^:\n]{0,12}:[^:\n]*$", re.IGNORECASE)


FLAP_VERB = re.compile(r"^(?:designed|based|raised|elevated)\b", re.IGNORECASE)
FLAP_WORDS = re.compile(r"flap|graft|ftsg|stsg|pedicle|rotation|advancement|transposition", re.IGNORECASE)


def _whole_sites(text: str, hits: list[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
    """Each site as a coder reads it: direction words taken in, and two site words in a row
    ("preauricular cheek", "ear helix", "plantar forefoot") one site named by the last word.
    A site word inside another site's span ("plantar" of "plantar forefoot") is dropped."""
    out: list[tuple[int, int, str]] = []
    for start, end, canonical in hits:
        start = _qualified_start(text, start)
        head = HEAD_NOUN.match(text, end)
        if head:
            end = head.end()
        if out and out[-1][1] + 1 == start and text[out[-1][1]] == " ":
            start = out.pop()[0]
        elif out and start < out[-1][1]:
            if end <= out[-1][1]:
                continue
            if start <= out[-1][0]:
                out.pop()
        out.append((start, end, canonical))
    return out


def _qualified_start(text: str, start: int) -> int:
    """Where a site's words begin once its direction words are taken in ("mid upper back")."""
    while True:
        m = QUALIFIERS.search(text, max(0, start - 16), start)
        if m is None:
            return start
        start = m.start()


def _is_donor(text: str, start: int) -> bool:
    """The site tissue was taken from; "a small raised brown papule on the lip" is no flap."""
    window = text[max(0, start - 60) : start]
    m = DONOR.search(window)
    if m is None:
        return False
    return not FLAP_VERB.match(m.group(0)) or FLAP_WORDS.search(window) is not None


def _near_site(pos: int, anchors: list[int], after: bool, reach: int) -> bool:
    """An anchor within `reach` characters after (or before) `pos`; `anchors` ascending (text order).

    By bisection, not a scan of every site: a long note has many sites and many L/R marks.
    """
    if after:
        k = bisect.bisect_left(anchors, pos)
        return k < len(anchors) and anchors[k] - pos <= reach
    k = bisect.bisect_right(anchors, pos)
    return k > 0 and pos - anchors[k - 1] <= reach
