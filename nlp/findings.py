"""`derm_findings`: diagnoses/histology, procedures and techniques, repair classes.

All three come from the findings lexicon (data). A HISTOLOGY span's `canonical` is a
lexicon concept ("bcc", "ak", ...) and its `value` the concept's class (malignant,
in_situ, premalignant, benign, ...).
"""

from __future__ import annotations

import re

from spacy.language import Language
from spacy.tokens import Doc

from dermcoder.nlp._extensions import note_text
from dermcoder.nlp.lexicons import load_lexicons
from dermcoder.nlp.resource_io import ResourceBacked
from dermcoder.nlp.spans import add_span
from dermcoder.nlp.typos import find_typos


TOOL_SIZE = re.compile(r"\d(?:\.\d)?[- ]?mm[ \t]+(?=punch)", re.IGNORECASE)  # "4 mm punch": the size is the tool's
PRIOR_CORE = re.compile(r"(?:(?:deep )?shave |punch |tangential |incisional )?(?:biops(?:y|ies|ied)|bx)", re.IGNORECASE)


# "repair of the Mohs defect", "the Mohs unit's first opening", "Mohs referral": the word names
# an earlier Mohs or the service, not a stage taken today (role "service": the frame is not
# named by it and no Mohs code follows from it; the span is still a PROCEDURE entity)
MOHS_NOUN_USE = re.compile(r"[ \t]+(?:(?:&|and)[ \t]+skin[ \t]+cancer[ \t]+)?(?:defect|wound|site|scar|unit|clinic|cent(?:er|re)|service|wait(?:ing)?[ \t-]*list|referral|consult(?:ation)?|evaluation|eval|planning|candidacy)(?:s|'s|’s)?\b",
                           re.IGNORECASE)

# "Referral placed to Dr. X at Meridian Mohs Surgery (fictional)": a practice's name, the
# capitalized words of a place right before "Mohs Surgery"
EXCISION_BEFORE = re.compile(r"\bexcis\w*", re.IGNORECASE)
HEMOSTASIS_BEFORE = re.compile(r"\bhemostas[ie]s\b[^.;\n]{0,30}$", re.IGNORECASE)
CONSENT_FOR = re.compile(r"\bconsent(?:ed|s)?(?:[ \t]+(?:obtained|signed|given))?[ \t]+(?:for|to)[ \t]+(?:the[ \t]+|a[ \t]+)?$", re.IGNORECASE)
DONOR_HARVEST = re.compile(r"\bharvest\w*|\bdonor\b", re.IGNORECASE)


def _sentence_around(text: str, start: int, end: int) -> str:
    """The sentence (within its line) that holds text[start:end]."""
    line_start = text.rfind("\n", 0, start) + 1
    line_end = text.find("\n", end)
    line_end = len(text) if line_end < 0 else line_end
    a = max(line_start, text.rfind(". ", line_start, start) + 2)
    b = text.find(". ", end, line_end)
    return text[a : line_end if b < 0 else b]
MOHS_PRACTICE_NAME = re.compile(r"\b(?:at|to|from|with|of)[ \t]+(?:[A-Z][\w'&-]*[ \t]+){1,4}$")


# "ILC = intermediate layered closure", "ILC (intermediate layered closure)", or the long form
# first: "intermediate layered closure (ILC)"
ABBREVIATION_DEFINED = re.compile(
    r"\b(?P<abbr>[A-Z][A-Z&/]{1,5})[ \t]*(?:=[ \t]*|\()(?P<long>[a-z][a-z &/-]{3,60}?)(?=[ \t]*[).,;\n])"
    r"|(?P<long2>[A-Za-z][A-Za-z &/-]{3,60}?)[ \t]*\((?P<abbr2>[A-Z][A-Z&/]{1,5})\)"
)
# what every definition contains, found in one cheap pass: the abbreviation before "=" or "(",
# or inside brackets
ABBREVIATION_HINT = re.compile(r"[A-Z][A-Z&/]{1,5}[ \t]*[=(]|\([A-Z][A-Z&/]{1,5}\)")


@Language.factory("derm_findings", assigns=["doc.spans"], default_config={})
def make_findings(nlp, name):  # untyped: spaCy validates factory signatures
    """Factory for the findings recognizer."""
    return FindingsRecognizer()


def _without_overlaps(matches: list[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
    """Keep the longest of overlapping matches (case-sensitive and -insensitive lexicons overlap)."""
    kept: list[tuple[int, int, str]] = []
    for m in sorted(matches, key=lambda x: (x[0], -(x[1] - x[0]))):
        if kept and m[0] < kept[-1][1]:
            if m[1] - m[0] > kept[-1][1] - kept[-1][0]:
                kept[-1] = m
            continue
        kept.append(m)
    return kept


class FindingsRecognizer(ResourceBacked):
    """Adds HISTOLOGY, PROCEDURE and REPAIR spans."""

    resource_files = ("site_lexicon.json", "findings_lexicon.json", "shared_patterns.json")

    def __init__(self) -> None:
        self.init_resources()

    def load_resources(self) -> None:
        self.lex = load_lexicons(self.resource_dir)
        self.typos = self.lex.finding_typos
        self.supporting = self.lex.supporting

    def __call__(self, doc: Doc) -> Doc:
        text = note_text(doc)
        hist = _without_overlaps(list(self.lex.histology.finditer(text)) + list(self.lex.histology_cs.finditer(text)))
        for start, end, canonical in hist:
            add_span(doc, start, end, "HISTOLOGY", canonical=canonical, value=self.lex.histology_info[canonical].cls)
        procs = _without_overlaps(list(self.lex.procedures.finditer(text)) + list(self.lex.procedures_cs.finditer(text)))
        for start, end, canonical in procs:
            if canonical == "prior_biopsy":
                # "bx-proven", "diagnosed on shave biopsy 3/3/25": the entity is the biopsy words;
                # the rest of the match only says it happened before
                core = PRIOR_CORE.search(text, start, end)
                if core:
                    start, end = core.start(), core.end()
            tool = TOOL_SIZE.match(text, start, end)
            if tool:
                start = tool.end()
            add_span(doc, start, end, "PROCEDURE", canonical=canonical, role=self._procedure_role(text, start, end, canonical, bool(tool)))
        repairs = list(self.lex.repairs.finditer(text))
        for start, end, canonical in repairs:
            add_span(doc, start, end, "REPAIR", canonical=canonical)
        taken = [(s, e) for s, e, _ in hist + procs + repairs]
        for start, end, label, canonical in find_typos(text, self.typos, taken):
            add_span(doc, start, end, label, canonical=canonical)
            taken.append((start, end))
        for start, end, label, canonical in self._defined_abbreviations(text, taken):
            if label == "HISTOLOGY":
                add_span(doc, start, end, label, canonical=canonical, value=self.lex.histology_info[canonical].cls)
            else:
                add_span(doc, start, end, label, canonical=canonical)
        return doc

    def _defined_abbreviations(self, text: str, taken: list[tuple[int, int]]):
        """The author's own abbreviations, defined once in the note ("ILC = intermediate layered
        closure", "ILC (intermediate layered closure)", "electrodesiccation and curettage (EDC)"):
        every later use carries the long form's concept. Yields (start, end, label, canonical)."""
        if ABBREVIATION_HINT.search(text) is None:
            return  # no "ILC =", "ILC (" or "(CLC)" anywhere: no definition to find (the full scan is slow)
        lexicons = (("REPAIR", self.lex.repairs), ("PROCEDURE", self.lex.procedures), ("HISTOLOGY", self.lex.histology))
        for d in ABBREVIATION_DEFINED.finditer(text):
            abbr, long = d.group("abbr") or d.group("abbr2"), (d.group("long") or d.group("long2")).strip()
            if d.group("abbr") and abbr[0].lower() != long[0].lower():
                continue  # "vulvar LS (punch biopsy ..., 08/2021)": a bracket after an abbreviation, no definition of it
            for label, lexicon in lexicons:
                found = list(lexicon.finditer(long))
                # the long form starts right after "ILC =" ("... closure in my notes"), or ends
                # right before "(ILC)" ("we did a complex layered closure (CLC)")
                if found and (found[0][0] == 0 if d.group("abbr") else found[-1][1] == len(long)):
                    found = found if d.group("abbr") else found[-1:]
                    for use in re.finditer(rf"(?<![\w-]){re.escape(abbr)}(?![\w-])", text):
                        if not any(a < use.end() and use.start() < b for a, b in taken):
                            taken.append((use.start(), use.end()))
                            yield use.start(), use.end(), label, found[0][2]
                    break

    def _procedure_role(self, text: str, start: int, end: int, canonical: str, after_tool_size: bool) -> str | None:
        """The PROCEDURE role: `service`, `tool`, `donor` and `consent` neither name nor open a
        frame (nlp/frames.py NAMES_NO_FRAME); `supporting` backs a frame; None names one."""
        if canonical == "mohs" and (MOHS_NOUN_USE.match(text, end) or (
                text[start:end] in ("Mohs Surgery", "Mohs Micrographic Surgery") and MOHS_PRACTICE_NAME.search(text, max(0, start - 60), start))):
            return "service"  # "Mohs defect", "at Meridian Mohs Surgery": the service, not a stage
        if after_tool_size and canonical == "biopsy_punch" and EXCISION_BEFORE.search(text, text.rfind("\n", 0, start) + 1, start):
            return "tool"  # "punch excision - lesion 3 mm, 5 mm punch": the excision's tool, no biopsy
        if canonical == "destruction" and HEMOSTASIS_BEFORE.search(text, max(0, start - 40), start):
            return "tool"  # "hemostasis w/ AlCl3 + light hyfrecation": a step of the removal, no destruction
        if canonical == "biopsy" and CONSENT_FOR.search(text, max(0, start - 40), start):
            return "consent"  # "HCP: daughter - consent for biopsies by phone": the biopsies described below
        role = self._role(text, start, end)
        if role == "supporting" and canonical == "excision" and DONOR_HARVEST.search(_sentence_around(text, start, end)):
            return "donor"  # "Donor site: ... an ellipse 3.0 x 1.8 cm was harvested": the graft's donor, no excision
        return role

    def _role(self, text: str, start: int, end: int) -> str | None:
        """"supporting" for words that back a frame without naming its procedure (lexicon data)."""
        for pattern in self.supporting:
            m = pattern.match(text, start)
            if m and m.end() == end:
                return "supporting"
        return None
