"""`derm_context`: negated, historical, hypothetical/planned, uncertain, family, declined,
cancelled and copied-forward mentions.

medspaCy ConText runs over the entity span group with our rules
(nlp/resources/context_rules.json, medspaCy's format, each rule a readable literal).
Section defaults follow: a mention in a history section is historical, one in a plan
section hypothetical, unless its sentence says the thing was done today. Every
modified entity keeps `span._.context` (categories) and `span._.cue` (the cue text), so
the UI can show why a mention produced no code.
"""

from __future__ import annotations

import re

import bisect
import itertools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from medspacy.context import ConText, ConTextGraph, ConTextModifier, ConTextRule
from spacy.language import Language
from spacy.tokens import Doc, Span

from dermcoder.errors import TableError
from dermcoder.nlp._extensions import SPAN_GROUP, char_range, direct_span_data, note_text
from dermcoder.nlp._medspacy import share_note_text, spell_out_token_rules
from dermcoder.nlp.lexicons import resources_dir
from dermcoder.nlp.pattern_macros import read_resource
from dermcoder.nlp.resource_io import ResourceBacked
from dermcoder.nlp.start_filter import start_filtered, word_gated

CATEGORY_NAMES = {
    "NEGATED_EXISTENCE": "negated",
    "POSSIBLE_EXISTENCE": "uncertain",
    "HISTORICAL": "historical",
    "HYPOTHETICAL": "hypothetical",
    "FAMILY": "family",
    "DECLINED": "declined",
    "CANCELLED": "cancelled",
    "STALE": "copied_forward",
}
SPAN_ATTRS = {cat: {f"ctx_{name}": True} for cat, name in CATEGORY_NAMES.items()}  # declared in _extensions
DONE_TODAY = re.compile(r"\b(today|this visit|this session|now performed|performed today|done today)\b", re.IGNORECASE)
# In a plan section a mention is planned unless its sentence records it as done.
DONE = re.compile(r"\bs/p\b|\b(today|performed|done|completed|treated|tolerated|tol|removed|excised|injected|applied|destroyed|frozen|sampled|sutured?|"
                  r"consent\w*|sent to path\w*|given|administered|drained|avulsed|curetted)\b|->|→"
                  # the freeze-thaw cycles given ("LN2 to nine AKs (face 5, scalp 4), 2 FT cycles each ~10 s")
                  r"|\b\d\s*(?:ft|f/t|freeze[- ]thaw)\s*cycles?\b|\bftc\s*x\s*\d|\b\d\s*ftcs?\b", re.IGNORECASE)
FUTURE = re.compile(r"\b(will|plan(?:s|ned)?|schedul\w*|next|nxt|return|rtc|f/u|follow[- ]?up|consider\w*|recommend\w*|if|may|prn|refer\w*|at that visit|(?:she|he|pt|patient|they)\s+(?:chose|opted\s+for|prefers|wants))\b", re.IGNORECASE)
WAS_DONE = re.compile(r"[ \t]+(?:was|were)[ \t]+(?:then[ \t]+|also[ \t]+)?(?:done|performed|taken|obtained|completed|carried out)\b", re.IGNORECASE)
PLAN_CUE = re.compile(r"\bplan(?:ned)?\b:?", re.IGNORECASE)
SECTION_DEFAULTS = {"history": "historical", "assessment_plan": "hypothetical"}
# Labels whose mentions context applies to: facts about what was done and found.
# Copied-forward blocks: the line that announces them, and (if it ends with ':') the lines
# under it up to the next blank line.
# the words that announce copied text ("[template v3]" is a template's version, not a copy)
STALE_WORDS = (r"prior (?:visit )?note|previous (?:visit )?note|copied (?:from|forward)|\(copied|\*\* ?copied|auto-?populated|"
               r"carried forward|carry[- ]forward|pasted (?:fwd|forward|in from)|\[template(?![ \t]+v(?:er(?:sion)?)?\.?[ \t]*\d)|template text|pre-?populated|"
               r"duplicate from|template from|pre-?filled|from booking|imported from|"
               r"copied fwd|carried (?:fwd|over from)|brought forward|pulled (?:forward|in from)|copy[/-]paste|cloned from|"
               # "Outside records received (Coastal Mohs Surgery Center, DOS 04/10/2025) - pasted:"
               r"\bpasted[ \t]*:")
STALE_HEADER = re.compile(rf"(?im)^.*(?:{STALE_WORDS}).*$")
# "PROCEDURE NOTE (template pre-filled 10/20)", "SCHEDULED PROCEDURE (template from booking):"
# announce text written before the visit: it runs to a blank line, a rule ("---") or the
# line that turns to the visit itself ("Day of surgery:", "Actual visit", "Today").
# "** Interval hx (copied from 02/11 visit) **": a banner line over the copied text
BANNER = re.compile(r"^[ \t]*[*#=~<>-]{2,}.*[*#=~<>-]{2,}[ \t]*$")
# "Not treated: lentigines on dorsal hands (cosmetic); SK on scalp": a line headed by what
# was left alone covers the whole line, past the ";" that ends a ConText scope.
UNTREATED_LINE = re.compile(r"^[ \t]*(?:not treated|not done|untreated|no treatment|observed? only|monitor(?:ing)? only)[ \t]*:", re.IGNORECASE | re.MULTILINE)
PREFILLED = re.compile(r"pre-?filled|pre-?populated|template from|from booking", re.IGNORECASE)
STALE_BLOCK_END = re.compile(r"\n[ \t]*\n|\n[ \t]*[-=*_~]{3,}[ \t]*(?=\n|$)"
                             r"|\n(?=[ \t]*(?:actual visit|day of (?:surgery|procedure)|(?:new )?today\b|interval\b|exam today|tx today|treatment today))", re.IGNORECASE)
TARGET_LABELS = {"PROCEDURE", "HISTOLOGY", "REPAIR", "COUNT", "SIZE", "MARGIN", "AREA", "MOHS_STAGE", "MOHS_BLOCKS", "SITE"}


# "rec'd shave bx r/o BCC; pt declined today": the refusal is the next clause, past the ';'
# that ends ConText's sentence; "I offered liquid nitrogen, but she declined", "we had
# discussed Mohs surgery at his prior visit, which he declined" (past "but" and "which")
DECLINED_AFTER = re.compile(r"[^.;\n]{0,40}(?:;|,[ \t]*(?=but\b|which\b)|[ \t]+[-–—][ \t]*(?=which\b))[ \t]*(?:but[ \t]+|which[ \t]+)?(?:(?:the[ \t]+|his[ \t]+|her[ \t]+)?(?:pt|patient|she|he|they|parents?|mother|father|mom|dad|family|guardian)[ \t]+)?(?:declined|refused|deferred|defers|declines|refuses|does not (?:wish|want)|did not (?:wish|want)|turned (?:it )?down|prefers to (?:observe|wait)|prefers observation)\b", re.IGNORECASE)
# "Pt elects Mohs -> booked 10/29/25": the procedure is booked for a later day (past the
# arrow and dash that end a ConText scope)
BOOKED_AFTER = re.compile(r"[ \t]*(?:->|→|-|–|:)?[ \t]*(?:re-?booked|booked|re-?scheduled|scheduled|planned)(?:[ \t]+(?:for|on))?[ \t]+\d{1,2}/\d{1,2}\b", re.IGNORECASE)
# "... pt declined chemical matrixectomy": the refused procedure is the one named right after
# the verb (not one a clause later: "which he declined because of the wait - and excision")
REFUSED_OBJECT = re.compile(r"[ \t]*(?:(?:the|a|an|any|further|repeat|a repeat)[ \t]+)?(?:[a-z]+[ \t]+){0,2}", re.IGNORECASE)
# "if ear lesion persists -> shave biopsy": the procedure after the arrow of a condition
CONDITIONAL_ARROW = re.compile(r"(?i)\b(?:if|when|should)\b[^.;\n]{0,60}?(?:->|→)[^.;\n>→]{0,30}$")
# "not previously biopsied", "never biopsied": the mention is what never happened
NEVER_BEFORE = re.compile(r"(?i)\b(?:not|never)[ \t]+(?:previously[ \t]+|been[ \t]+)?$")

# "A: SCC R hand, s/p exc + cx repair. F/u 10-14 d SR": an undated "s/p" in the assessment
# line of the visit sums up what was done today; "Hx BCC s/p Mohs 2021" stays history.
SP_CUE = re.compile(r"(?i)s/p|status post")
ASSESSMENT_LINE = re.compile(r"(?i)[ \t]*(?:a|a/p|a&p|assessment(?:/plan| and plan| & plan)?|impression|dx)[ \t]*:")
DATED = re.compile(r"(?i)\d{1,2}/\d{2,4}|\b(?:19|20)\d{2}\b|'\d{2}\b|\bago\b|\b(?:hx|h/o|history|prior|previous(?:ly)?|last|in (?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)\w*)\b")

# "[ ] Complex repair   [ ] Flap": an EHR checkbox left empty says the item was not done
UNCHECKED = re.compile(r"(?:\[[ \t]?\]|☐)[ \t]*$")

# ">> end carried forward <<", "--- end copy ---": where a copied block says it stops
# "ADDENDUM: (1) The site field was pre-populated from the legacy record and is wrong: ..."
DISOWNED_COPY = re.compile(r"(?i)\b(?:field|entry|value)[ \t]+(?:was|were|is)[ \t]+(?:pre-?populated|pre-?filled|pulled)[^.;:\n]{0,60}\b(?:is|was|are|were)[ \t]+"
                           r"(?:wrong|incorrect|in error)\b"
                           # "Correction to the measurements above, which were carried forward from the pre-op template"
                           r"|\bcorrect(?:ion|ions|ed)\b[^.\n]{0,30}\babove\b")  # fmt: skip
# ... and those measurements above are withdrawn: the corrected ones follow
CORRECTED_ABOVE = re.compile(r"(?i)\bcorrect(?:ion|ions|ed)\b[^.\n]{0,20}\b(?:measurements?|sizes?|values?|numbers?|dimensions?)\b[^.\n]{0,10}\babove\b")
_CORRECTED_ABOVE = word_gated(CORRECTED_ABOVE)  # scanned over every note: the same matches, faster
STALE_END = re.compile(r"(?im)^.*\bend(?: of)? (?:carried[- ]forward|copied|copy(?:[- ]forward)?|prior note|previous note|template|import(?:ed)?)\b.*$")


# A measurement corrected later in the note (an addendum, an attestation) is withdrawn:
# "the final sutured length was 5.6 cm, not 4.8 cm", "length corrected from 4.8 cm to 5.6 cm",
# "the 0.4 cm recorded above ... should not be used"
_MEASURE = r"\d+(?:\.\d+)?[ \t]*(?:cm|mm)\b"
CORRECTIONS = (
    re.compile(rf"{_MEASURE},?[ \t]+(?:and[ \t]+)?not[ \t]+(?:the[ \t]+)?(?P<old>{_MEASURE})", re.IGNORECASE),
    re.compile(rf"{_MEASURE}[^.;\n()]{{0,40}}\(not[ \t]+(?P<old>{_MEASURE})\)", re.IGNORECASE),
    re.compile(rf"\b(?:corrected|changed|amended|revised)[ \t]+from[ \t]+(?P<old>{_MEASURE})[ \t]+to[ \t]+{_MEASURE}", re.IGNORECASE),
    # "Repair length was typed 2.4 cm; actual final length 4.2 cm"
    re.compile(rf"\b(?:was|were)[ \t]+(?:typed|entered|recorded|charted)[ \t]+(?:as[ \t]+)?(?P<old>{_MEASURE})[;,]?[ \t]+(?:the[ \t]+)?(?:actual|correct|true)\b",
               re.IGNORECASE),
    re.compile(rf"\bthe[ \t]+(?P<old>{_MEASURE})[ \t]+(?:recorded|documented|written|noted|measured|charted)\b[^.\n]{{0,120}}?"
               r"\b(?:should[ \t]+not[ \t]+be[ \t]+used|is[ \t]+(?:incorrect|wrong|in[ \t]+error)|was[ \t]+(?:incorrect|wrong|in[ \t]+error))", re.IGNORECASE),
)
MEASURE_LABELS = {"SIZE", "MARGIN", "AREA"}
_CORRECTIONS = tuple(word_gated(rx) for rx in CORRECTIONS)  # scanned over every note: the same matches, faster
# "Repair type: Simple repair. ... Please correct repair type to intermediate": a template's
# closure class corrected in words below it
REPAIR_CORRECTION = re.compile(r"\bcorrect\w*[ \t]+(?:the[ \t]+)?(?:repair|closure)(?:[ \t]+(?:type|class))?[ \t]+(?:to|as)[ \t]+"
                               r"(?P<new>simple|intermediate|layered|complex)\b", re.IGNORECASE)


# "Procedure: Shave biopsy. ..." then "Provider comment (Lesion #2): entire lesion removed by
# shave - this was a shave removal, not a sample": the biopsy written above it is withdrawn
BIOPSY_CORRECTION = re.compile(r"\b(?:this|it)[ \t]+was[ \t]+(?:a|an)[ \t]+(?:shave[ \t]+removal|excision|shave|removal)\b[^.\n]{0,20}?,?[ \t]+not[ \t]+(?:a|an)[ \t]+"
                               r"(?:sample|biopsy|bx)\b", re.IGNORECASE)
LESION_START = re.compile(r"\n[ \t]*(?:lesion|site|specimen|#|\d{1,2}[.)])|\n[ \t]*\n", re.IGNORECASE)
# scanned over every note: word-gated, the same matches, faster
_REPAIR_CORRECTION, _BIOPSY_CORRECTION = word_gated(REPAIR_CORRECTION), word_gated(BIOPSY_CORRECTION)


# "Repair (template default): intermediate layered closure ..." and below it "The resident's
# repair line is a template default that was not edited; my description replaces it"
TEMPLATE_DEFAULT_LINE = re.compile(r"(?im)^[^\n]*\(template default\)[^\n]*$")
DEFAULT_WITHDRAWN = re.compile(r"template default[^.\n]{0,30}?\bnot (?:edited|cleared|updated|changed)|\breplaces it\b", re.IGNORECASE)
_DEFAULT_WITHDRAWN = word_gated(DEFAULT_WITHDRAWN)


# "the wall was not excised, so the procedure heading above is incorrect": the procedure the
# heading named (by the verb's stem) is withdrawn
HEADING_WRONG = re.compile(r"\bnot (?P<verb>excised|biopsied|removed|drained|shaved|frozen|injected)\b[^.\n]{0,60}?\b(?:heading|header|title)\b[^.\n]{0,15}?\b(?:is|was) (?:incorrect|wrong|in error)\b",
                           re.IGNORECASE)  # fmt: skip
_HEADING_WRONG = word_gated(HEADING_WRONG)
VERB_STEMS = {"excised": "excis", "biopsied": "biops", "removed": "remov", "drained": "drain", "shaved": "shav", "frozen": "cryo", "injected": "inject"}


# "The procedure header defaulted to 'shave removal'. This was a diagnostic shave biopsy": the
# procedure the template wrote above is withdrawn
HEADER_DEFAULTED = re.compile(r"\b(?:header|template|title|field|heading)\b[^.\n]{0,20}?\bdefaulted to[ \t]+['\"‘“]?(?P<what>[A-Za-z][A-Za-z &-]{2,30}?)['\"’”]?(?=[.,;)\n]|$)",
                              re.IGNORECASE)  # fmt: skip
_HEADER_DEFAULTED = word_gated(HEADER_DEFAULTED)


def _defaults_withdrawn(text: str) -> list[tuple[int, int]]:
    """The template-default lines a later sentence says were left unedited and replaced."""
    said = _DEFAULT_WITHDRAWN.search(text)
    if said is None:
        return []
    return [(m.start(), m.end()) for m in TEMPLATE_DEFAULT_LINE.finditer(text, 0, said.start())]


def _biopsies_withdrawn(text: str) -> list[tuple[int, int]]:
    """(from, to): where a biopsy was written that a correction below calls a removal."""
    out = []
    for m in _BIOPSY_CORRECTION.finditer(text):
        starts = [x.start() for x in LESION_START.finditer(text, 0, m.start())]
        out.append((starts[-1] if starts else 0, m.start()))
    return out


def _repair_class_word(written: str) -> str | None:
    """The closure class a repair phrase names ("layered closure" is intermediate)."""
    low = written.lower()
    for word, cls in (("complex", "complex"), ("intermediate", "intermediate"), ("layer", "intermediate"), ("simple", "simple")):
        if word in low:
            return cls
    return None


def _withdrawn(text: str) -> list[tuple[str, int]]:
    """(measurement as written, squeezed, lower-case; where the correction stands)."""
    out = []
    for rx in _CORRECTIONS:
        for m in rx.finditer(text):
            out.append((re.sub(r"\s+", "", m.group("old")).lower(), m.start()))
    return out


@dataclass(frozen=True)
class _TakeBack:
    """A stretch of the note that a line below it takes back: mentions of `labels` starting in
    [start, end) whose words pass `accepts` get `category`, with `cue` saying why."""

    start: int
    end: int
    labels: frozenset[str]
    accepts: Callable[[str], bool]
    category: str
    cue: str


def _every(_written: str) -> bool:
    return True


def _taken_back(text: str) -> list[_TakeBack]:
    """What later lines take back, grouped in the order the checks apply: a measurement
    corrected later; a template procedure whose next line says "NOT PERFORMED"; a biopsy a
    comment calls a removal; a template default the attending replaced; a closure class
    corrected in words."""
    out = [_TakeBack(0, at, frozenset(MEASURE_LABELS), lambda w, old=old: re.sub(r"\s+", "", w).lower() == old,
                     "negated", "[corrected later in the note]") for old, at in _withdrawn(text)]  # fmt: skip
    out += [_TakeBack(0, m.start(), frozenset(MEASURE_LABELS), _every, "negated", "[measurements above corrected later in the note]")
            for m in _CORRECTED_ABOVE.finditer(text)]  # fmt: skip
    out += [_TakeBack(0, m.start(), frozenset({"PROCEDURE"}), lambda w, stem=VERB_STEMS[m.group("verb").lower()]: stem in w.lower(),
                      "negated", "[procedure heading called incorrect later in the note]") for m in _HEADING_WRONG.finditer(text)]  # fmt: skip
    out += [_TakeBack(0, m.end(), frozenset({"PROCEDURE"}), lambda w, what=m.group("what").lower(): w.lower() == what,
                      "negated", "[template default, corrected later in the note]") for m in _HEADER_DEFAULTED.finditer(text)]  # fmt: skip
    for m in _NOT_PERFORMED_LINE.finditer(text):
        line = m.start()
        if line > 0:  # the mention's line is the one just above
            out.append(_TakeBack(text.rfind("\n", 0, line - 1) + 1, line - 1, frozenset({"PROCEDURE"}), _every, "cancelled",
                                 "[not performed, next line]"))  # fmt: skip
    out += [_TakeBack(a, b, frozenset({"PROCEDURE"}), lambda w: "biops" in w.lower(), "negated", "[called a removal later in the note]")
            for a, b in _biopsies_withdrawn(text)]  # fmt: skip
    out += [_TakeBack(a, b, frozenset(TARGET_LABELS), _every, "negated", "[template default, replaced later in the note]")
            for a, b in _defaults_withdrawn(text)]  # fmt: skip
    for m in _NONE_PERFORMED.finditer(text):
        # "No phenol was applied and no matrixectomy was performed": the template line above named it
        word = (m.group("what") or m.group("what2") or m.group("what3")).split()[-1].lower()
        if m.group("what3") and word.endswith("sion"):
            word = word[:-3]  # "The excision was not performed" also takes back the template's "Excised diameter: ____"
        out.append(_TakeBack(0, m.start(), frozenset({"PROCEDURE"}), lambda w, word=word: word in w.lower(), "negated",
                             f"[no {word} performed, later in the note]"))  # fmt: skip
    for m in _REPAIR_CORRECTION.finditer(text):
        new = _repair_class_word(m.group("new"))
        out.append(_TakeBack(0, m.start(), frozenset({"REPAIR"}), lambda w, new=new: (c := _repair_class_word(w)) is not None and c != new,
                             "negated", "[corrected later in the note]"))  # fmt: skip
    return out


def _clause_between(doc: Doc, modifier: ConTextModifier, target: Span) -> bool:
    """A comma or semicolon stands between a cue and the mention after it."""
    end = modifier.modifier_span[1]
    return end <= target.start and any(t.text in (",", ";") for t in doc[end : target.start])


def _in_regions(pos: int, starts: list[int], ends_so_far: list[int]) -> bool:
    """`any(a <= pos < b for a, b in regions)` for regions sorted by start, without a scan of
    them all (a long note has many regions and many mentions): `starts` are the a's and
    `ends_so_far` the running maximum of the b's."""
    k = bisect.bisect_right(starts, pos)
    return k > 0 and ends_so_far[k - 1] > pos


# "No phenol was applied and no matrixectomy was performed" (a provider's correction below
# a template procedure line): that procedure, written above, was not done
NONE_PERFORMED = re.compile(r"\bno (?P<what>[a-z][a-z&-]{2,30}(?: [a-z&-]{2,30})?) (?:was|were) (?:performed|done|applied|taken|carried out|used)\b"
                            # "PROVIDER NOTE 10:42 - Excision NOT performed." below the pre-charted procedure
                            r"|\b(?:provider|md|physician|surgeon)[ \t]+note\b[^\n]{0,20}?[-:–][ \t]*"
                            r"(?P<what2>Excision|Biopsy|Shave removal|Mohs(?: surgery)?|Destruction|Cryotherapy|Repair|I&D|Injection)"
                            r" (?:was )?(?-i:NOT) (?:performed|done)\b"
                            # "... we did ED&C instead of the planned excision. The excision was not performed."
                            r"|\bthe (?:[a-z-]{3,15} )?(?P<what3>excision|biopsy|shave removal|mohs(?: surgery)?|repair|flap|graft|I&D|injection|cryotherapy|destruction|ED&C|curettage)"
                            r" (?:was|were) (?:not|never) (?:performed|done|carried out)\b", re.IGNORECASE)  # fmt: skip
_NONE_PERFORMED = word_gated(NONE_PERFORMED)


# "Procedure (template): Intralesional injection. ..." then "   Provider note: NOT PERFORMED -
# declined.": a line that says the procedure above it was not done
NOT_PERFORMED_LINE = re.compile(r"(?im)^[ \t]*(?:(?:provider|md|physician)[ \t]+note[ \t]*:[ \t]*)?(?:procedure[ \t]+)?not[ \t]+(?:performed|done)\b")
_NOT_PERFORMED_LINE = word_gated(NOT_PERFORMED_LINE)


def _line_headed_untreated(text: str, pos: int, untreated_lines: set[int]) -> bool:
    """The mention stands on a line that begins "Not treated:" (or the like)."""
    if not untreated_lines:
        return False
    return text.rfind("\n", 0, pos) + 1 in untreated_lines


# "Options: excision with flap reconstruction; Mohs surgery (not required ...); ED&C.": a list
# of options runs past the ";" that ends a ConText scope, to the end of its sentence
OPTIONS_LEAD = re.compile(r"\b(?:treatment )?options?(?:[ \t]+(?:discussed|reviewed|include[sd]?|were))?[ \t]*:", re.IGNORECASE)
OPTIONS_END = re.compile(r"\.(?=\s)|\n")


# "Partial nail avulsion alone versus avulsion with chemical matrixectomy ... were reviewed
# with the patient": procedures weighed against each other, before the verb that reviews them
WEIGHED = re.compile(r"(?i)(?:^|(?<=[.:\n]))[^.:\n]*?\b(?:versus|vs\.?)\b[^.\n]*?\b(?:were|was) (?:reviewed|discussed|explained|presented|considered)\b")


def _option_lists(text: str) -> list[tuple[int, int]]:
    """(start, end) of each list of options, from its lead to the end of its sentence, and of
    each sentence that weighs procedures against each other, up to its reviewing verb."""
    out = []
    for m in OPTIONS_LEAD.finditer(text) if "ption" in text or "PTION" in text else ():
        end = OPTIONS_END.search(text, m.end())
        out.append((m.end(), end.start() if end else len(text)))
    if "versus" in text or "vs" in text or "VS" in text or "Versus" in text:
        out += [(m.start(), m.end()) for m in WEIGHED.finditer(text)]
    return out


# "ADDENDUM - 03/03 biopsy results, copied from the report for the billing office": the
# pathology of the lesions treated today, copied in on purpose, is no stale text
PATH_COPY = re.compile(r"\b(?:path\w*|biopsy|histology|dermpath)\s+(?:results?|reports?)\b", re.IGNORECASE)


# Headers whose text is today's after all: an indication copied from the referral letter, a
# pre-filled note the provider edited, the patient's standing (auto-populated) problem list.
TODAYS_COPY = re.compile(r"(?i)\bfrom (?:the )?referral\b|(?<!not )\bedited\b|^[ \t]*problem list\b(?![^\n]*carried)")
# The copy cue inside its line: what the line says before it, up to a sentence end or a
# spaced dash ("S: 52M here for biopsy of R ankle spot. ** Copied from 09/2024 visit: ..."),
# is today's; a cue pointing back at the line ("<-- from 2023 template") covers all of it.
STALE_CUE = re.compile(rf"(?i){STALE_WORDS}")
CLAUSE_END = re.compile(r"[.;][ \t]+|[ \t]-[ \t]")
# "History (pre-filled from problem list): h/o HS ...": a field whose label carries the cue
# and whose content follows on the line is that line only.
LABELLED_FIELD = re.compile(r"[ \t]*[A-Za-z][\w /&-]{0,40}\([^()\n]*\):[ \t]*\S")


TRAILING_BRACKET = re.compile(r"[^\]\n]*\][ \t]*$")


def _stale_start(text: str, m: re.Match) -> int:
    """Where a copied-forward region opens on its header line (see STALE_CUE)."""
    line_start = m.start()
    cue = STALE_CUE.search(text, line_start, m.end())
    if cue is None:
        return line_start
    before = text[line_start : cue.start()]
    # "<-- from 2023 template" points back at the line; "[duplicate from smart-phrase]" says
    # the whole line is a second copy; so does a bracket that ends it ("... common warts. [copied from 01/27/2026]")
    if "<-" in before or "\u2190" in before or cue.group(0).lower().startswith("duplicate"):
        return line_start
    if before.endswith("[") and TRAILING_BRACKET.match(text, cue.start(), m.end()):
        return line_start
    ends = list(CLAUSE_END.finditer(before))
    if not ends:
        return line_start
    start = line_start + ends[-1].end()
    return start


# "HPI: [copied 08/12/2025] Pt presents for tx of AKs. LN2 to 4 AKs today. [end copy]": a copy
# bracketed in the line, whatever the sentences inside it say
BRACKETED_COPY = re.compile(r"(?is)\[(?:copied|pasted|carried[ \t]+forward)\b[^\]\n]*\].*?\[end[ \t]+(?:of[ \t]+)?(?:copy|copied|paste)[^\]\n]*\]")
_STALE_HEADER = word_gated(STALE_HEADER)  # scanned over every note: the same matches, faster


def copied_forward_regions(text: str) -> list[tuple[int, int]]:
    """(start, end) of the text copied forward from earlier notes or templates (what the
    copied_forward category marks), for rules that read the note's words directly."""
    return _stale_regions(text)


def _stale_regions(text: str) -> list[tuple[int, int]]:
    regions = [(m.start(), m.end()) for m in BRACKETED_COPY.finditer(text)]
    for m in _STALE_HEADER.finditer(text):
        if STALE_END.fullmatch(m.group(0)) or PATH_COPY.search(m.group(0)) or TODAYS_COPY.search(m.group(0)):
            continue
        if DISOWNED_COPY.search(m.group(0)):
            continue  # the line corrects a copied field; it is today's word, not the copy
        end = m.end()
        if LABELLED_FIELD.match(m.group(0)):
            regions.append((_stale_start(text, m), end))
            continue
        closing = STALE_END.search(text, end)
        if closing is not None:
            end = closing.end()
        elif PREFILLED.search(m.group(0)) or BANNER.match(m.group(0)):
            stop = STALE_BLOCK_END.search(text, end)
            end = stop.start() if stop else len(text)
        elif m.group(0).rstrip().endswith(":"):
            stop = STALE_BLOCK_END.search(text, end)  # "Interval: 5 resolved." below the copied lines is today's
            end = stop.start() if stop else len(text)
        regions.append((_stale_start(text, m), end))
    return regions


DATE = re.compile(r"(?<![\d/])(\d{1,2})/(\d{1,2})/(\d{2}|\d{4})(?![\d/])")
# the visit's own date: "DOS: 03/20/2025", "Visit 11/04/2025", "(today 03/20/2025)", "Date of service 3/20/25"
# a birth date is no date of care: "date of birth 01/19/1953" beside "Mohs surgery" dates nothing
BIRTH_DATE = re.compile(r"(?i)\b(?:DOB|D\.O\.B\.?|date of birth|birth ?date|born)\b[ \t:(-]*$")
VISIT_DATE = re.compile(r"(?i)\b(?:DOS|date of service|date of procedure|visit(?: date)?|today|procedure date)\b[ \t:(-]*(\d{1,2}/\d{1,2}/(?:\d{4}|\d{2}))(?![\d/])")
_VISIT_DATE = start_filtered(VISIT_DATE)  # scanned over every note: start_filtered finds the same matches, faster


# "LN2 01/2026 w/ quick recurrence": a month of an earlier year or month
MONTH_DATE = re.compile(r"(?<![\d/])(\d{1,2})/(20\d\d)(?![\d/])")
# compared with a full date, a month sorts after all of its days: only an earlier month is "before the visit"
WHOLE_MONTH = 32


# dictated dates: "Date of service April 20, 2026", "the biopsy I did on February 26"
MONTHS = {name: k for k, names in enumerate((
    ("january", "jan"), ("february", "feb"), ("march", "mar"), ("april", "apr"), ("may",), ("june", "jun"), ("july", "jul"),
    ("august", "aug"), ("september", "sept", "sep"), ("october", "oct"), ("november", "nov"), ("december", "dec")), start=1)
    for name in names}  # fmt: skip
NAMED_DATE = re.compile(r"\b(" + "|".join(sorted((n.capitalize() for n in MONTHS), key=len, reverse=True))
                        + r")\.?[ \t]+(\d{1,2})(?:st|nd|rd|th)?\b(?:,?[ \t]+(20\d\d)\b)?")  # fmt: skip
VISIT_NAMED_DATE = re.compile(r"(?i:\b(?:DOS|date of service|date of procedure|visit(?: date)?|procedure date|dictation)\b)[ \t:,(-]*"
                              + NAMED_DATE.pattern)  # fmt: skip
# "I repaired her lacerations on 04/03": a month and day of the visit's year
# ("on 1/4 of the plate" is a fraction)
SHORT_DATE = re.compile(r"(?i:\bon)[ \t]+(?!(?:1/[234]|2/3|3/4)\b)(\d{1,2})/(\d{1,2})(?![\d/])(?![ \t]*(?:of\b|inch|in\b|cm\b|mm\b|\"))")


# "Ambrose for excision of the nodular BCC ... that I biopsied at the outreach on 10/07": a
# sentence that opens with the visit's purpose is today's, whatever earlier date it cites
VISIT_PURPOSE = re.compile(r"(?i)[^.:;\n]{0,40}?\b(?:here |presents |returns |comes in |in )?(?:today )?for (?:an? |the |his |her |planned |scheduled |staged )*"
                           r"(?:wide |re-?)?(?:excision|mohs|shave|removal|ed&c|destruction|cryo\w*|repair|i&d|incision|injection|pdt)\b")


# "Mohs same day 09/03/2025" in a note of 08/12/2025: a procedure dated after the visit is
# planned - but not a pathology report, an addendum or a signature dated later
LATER_NOT_PLANNED = re.compile(r"(?i)\b(?:path\w*|addend\w*|signed|result\w*|report\w*|called|informed|received|returned|rec'?d|biops\w*|bx)\b")


def _numeric_visit_keys(text: str) -> set[tuple[int, int, int]]:
    """The visit dates the note names in digits ("DOS: 03/20/2025", "Visit 11/04/2025")."""
    return {_date_key(m.group(1)) for m in _VISIT_DATE.finditer(text)} - {None}


def _later_dates(text: str, visits: set[tuple[int, int, int]]) -> list[tuple[int, str]]:
    """(start, text) of the full dates after the note's named visit date (`visits`: in digits)."""
    if not visits:
        return []
    visit = max(visits)
    return [(m.start(), m.group(0)) for m in DATE.finditer(text) if (key := _date_key(m.group(0))) is not None and key > visit]


def _dated_after_the_visit(text: str, end: int, later: list[tuple[int, str]]) -> str | None:
    """The later date a procedure mention ending at `end` is given in its own clause, if any."""
    k = bisect.bisect_left(later, (end, ""))
    if k == len(later) or later[k][0] - end > 30:
        return None
    between = text[end : later[k][0]]
    if re.search(r"[.;\n]", between) or LATER_NOT_PLANNED.search(between):
        return None
    return later[k][1]


def _named_visit_keys(text: str) -> set[tuple[int, int, int]]:
    """The visit dates named in words ("Date of service April 20, 2026")."""
    keys = set()
    for m in VISIT_NAMED_DATE.finditer(text):
        if m.group(3) and 1 <= int(m.group(2)) <= 31:
            keys.add((int(m.group(3)), MONTHS[m.group(1).lower()], int(m.group(2))))
    return keys


_MONTH_WORD = re.compile(r"(?i)\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)")


def _yearless_dates(sentence: str, visit: tuple[int, int, int]) -> list[tuple[re.Match, tuple[int, int, int]]]:
    """Dates in words or "on MM/DD" in a sentence, each with its key (a date without a year is
    in the visit's year, or the year before when that would put it after the visit)."""
    def in_visit_year(month: int, day: int) -> tuple[int, int, int]:
        key = (visit[0], month, day)
        return key if key <= visit else (visit[0] - 1, month, day)

    out = []
    for m in NAMED_DATE.finditer(sentence):
        month, day, year = MONTHS[m.group(1).lower()], int(m.group(2)), m.group(3)
        if 1 <= day <= 31:
            out.append((m, (int(year), month, day) if year else in_visit_year(month, day)))
    for m in SHORT_DATE.finditer(sentence):
        month, day = int(m.group(1)), int(m.group(2))
        if 1 <= month <= 12 and 1 <= day <= 31:
            out.append((m, in_visit_year(month, day)))
    return out


def _date_key(text: str) -> tuple[int, int, int] | None:
    month_only = MONTH_DATE.fullmatch(text.strip())
    if month_only:
        month, year = (int(g) for g in month_only.groups())
        return (year, month, WHOLE_MONTH) if 1 <= month <= 12 else None
    m = DATE.fullmatch(text.strip())
    if not m:
        return None
    month, day, year = (int(g) for g in m.groups())
    year += 2000 if year < 100 else 0
    return (year, month, day) if 1 <= month <= 12 and 1 <= day <= 31 else None


def _earlier_dated_sentences(doc: Doc, sent_text: dict[int, tuple[int, int]],
                             numeric_visits: set[tuple[int, int, int]]) -> dict[int, tuple[str, int, int]]:
    """Sentences that date what they say before the visit ("LN2 x 4 lesions today 09/12/2024"
    in a note whose visit is 03/20/2025): copied-forward history, never today's work.

    Only when the note names its visit date (the latest one if several), and never for a
    sentence that says "today" other than right before its own old date. Each sentence maps to
    (cue, first char, end char) of the text it dates: the whole sentence, or, when it opens
    with the visit's purpose, what it tells after that up to the date.
    """
    text = note_text(doc)
    month_word = bool(_MONTH_WORD.search(text))
    visits = numeric_visits | (_named_visit_keys(text) if month_word else set())
    months_only = not visits
    if months_only:
        # "JCM PA-C | 04/28/26 | PDT" names no visit, but its latest full date bounds it: a
        # month and year before that ("LN2 01/2026 w/ quick recurrence") is an earlier
        # treatment, while an older full date may be the visit's own
        visits = {key for m in DATE.finditer(text) if (key := _date_key(m.group(0))) is not None
                  and not BIRTH_DATE.search(text, max(0, m.start() - 20), m.start())}  # fmt: skip
        if not visits:
            return {}
    visit = max(visits)  # an older "today 09/12/2024" is itself copied forward
    out: dict[int, tuple[str, int, int]] = {}
    for k, (first, last) in sent_text.items():
        start = doc[first].idx
        end = doc[last - 1].idx + len(doc[last - 1].text)
        sentence = text[start:end]
        found = [(m, _date_key(m.group(0))) for m in (*([] if months_only else DATE.finditer(sentence)), *MONTH_DATE.finditer(sentence))]
        if not months_only and (month_word or "/" in sentence):
            found += _yearless_dates(sentence, visit)
        found.sort(key=lambda d: d[0].start())
        old = [m for m, key in found if key is not None and key < visit
               and not BIRTH_DATE.search(sentence, max(0, m.start() - 20), m.start())
               # with no named visit, "biopsy-proven 12/2024" / "(bx 01/2025)" dates the
               # biopsy of the lesion treated today, not the treatment
               and not (months_only and BIOPSY_NAMED.search(sentence, max(0, m.start() - 25), m.start()))]
        if not old:
            continue
        todays = [m.start() for m in re.finditer(r"(?i)\btoday\b", sentence)]
        if any(not re.match(r"[ \t:(-]*" + re.escape(d.group(0)), sentence[t + 5 :]) for t in todays for d in old[:1]):
            continue
        purpose = VISIT_PURPOSE.match(sentence)
        # a sentence that opens with today's purpose dates only what it tells after it, up to the date
        lo, hi = (start + purpose.end(), start + old[0].end()) if purpose else (start, end)
        bracket = _own_bracket(sentence, old[0].start(), old[0].end())
        if bracket is not None:
            lo, hi = start + bracket[0], start + bracket[1]
        out[k] = (f"[dated {old[0].group(0)}, before the visit]", lo, hi)
    return out


def _own_bracket(sentence: str, start: int, end: int) -> tuple[int, int] | None:
    """The bracket around a date that names what it dates ("| BCC (bx 07/29/25, NG25-10733) |
    1.0 cm | 4 mm |": the biopsy's date, not the excision's row); None for a bare date in
    brackets ("excised (03/14/2025)"), which dates what stands before it."""
    left = sentence.rfind("(", 0, start)
    right = sentence.find(")", end)
    if left < 0 or right < 0 or ")" in sentence[left:start] or "(" in sentence[end:right]:
        return None
    if not re.search(r"[A-Za-z]{2,}", sentence[left:start]):
        return None
    return left, right + 1


# "Dx: BCC, bx 01/31/2025", "Shave bx 2/20/25: melanoma in situ": the old date is the
# biopsy's; the diagnosis it proved (and the site it names: "Site 1: left mid back - sBCC
# (shave bx 02/24/2026)") is the lesion treated today.
BIOPSY_NAMED = re.compile(r"(?i)\b(?:bx|bx'd|biops\w*|path\w*|proven|confirmed|specimen|histolog\w*|dermpath|slides?)\b")


TODAY_TURN = re.compile(r"(?:today|on today's visit|at this visit)\b", re.IGNORECASE)


def _present_narrative_starts(doc: Doc, sent_text: dict[int, tuple[int, int]]) -> list[int]:
    """Character offsets of lines that open with "Today ...": inside a History section the
    story turns to this visit there, and what follows in that section is today's."""
    starts = []
    text = note_text(doc)
    for first, _last in sent_text.values():
        idx = doc[first].idx
        if (idx == 0 or text[idx - 1] == "\n") and TODAY_TURN.match(text, idx):
            starts.append(idx)
    return starts


def _after_present_turn(pos: int, starts: list[int], section_starts: list[int]) -> bool:
    """True when a "Today ..." line opens between the start of the section holding `pos` and `pos`."""
    k = bisect.bisect_right(starts, pos)
    if k == 0:
        return False
    j = bisect.bisect_right(section_starts, pos)
    begin = section_starts[j - 1] if j else 0
    return starts[k - 1] >= begin


STEP_LINE = re.compile(r"[ \t]*(?:\d{1,2}[.)]|\(\d{1,2}\))[ \t]")


def _on_step_line(text: str, pos: int, line_starts: list[int]) -> bool:
    """ "1. Tangential bx (shave) -> FS ..." under an HPI header: numbered steps are the
    procedure being recorded, not the history above them."""
    return STEP_LINE.match(text, line_starts[bisect.bisect_right(line_starts, pos) - 1]) is not None


def sentence_index(doc: Doc) -> tuple[list[int], dict[int, tuple[int, int]]]:
    """(sentence number of each token, sentence number -> (first token, end token)).

    What a loop over `token.is_sent_start` gives (a sentence opens at token 0 and wherever
    the flag is set), from one array read instead of a Python object per token.
    """
    n = len(doc)
    if n == 0:
        return [], {}
    flags = doc.to_array("SENT_START")
    opens = flags == 1
    opens[0] = True
    sent_of = (np.cumsum(opens) - 1).tolist()
    starts = np.flatnonzero(opens).tolist()
    ends = starts[1:] + [n]
    return sent_of, {k: (a, b) for k, (a, b) in enumerate(zip(starts, ends))}


class LocalConTextGraph(ConTextGraph):
    """medspaCy's ConTextGraph with the same edges, comparing only items within reach.

    The stock graph compares every pair of modifiers (update_scopes) and every (target,
    modifier) pair (apply_modifiers): quadratic, about 40 s for an 80 k character note and
    hours for a 1 M one. A modifier's scope only ever shrinks inside the hull of its own
    span and initial scope (its window of max_scope tokens), so two modifiers whose hulls
    are disjoint never limit each other, and a target is modified only by a modifier whose
    final scope holds one of its ends. The pairs that can interact are visited in the
    stock order, so the result is identical (tests/nlp/test_context.py checks it).
    """

    def update_scopes(self) -> None:
        mods = self.modifiers
        hulls = [_hull(m) for m in mods]
        order = sorted(range(len(mods)), key=lambda k: hulls[k][0])
        starts = [hulls[k][0] for k in order]
        widest = max((hi - lo for lo, hi in hulls), default=0)
        for i, (lo, hi) in enumerate(hulls):
            first = bisect.bisect_left(starts, lo - widest)
            last = bisect.bisect_right(starts, hi)
            for j in sorted(k for k in order[first:last] if k > i and hulls[k][1] >= lo):
                limit_scope(mods[i], mods[j])
                limit_scope(mods[j], mods[i])

    def apply_modifiers(self) -> None:
        if self.prune_on_modifier_overlap:
            super().apply_modifiers()  # not used by DermCoder: keep the stock path
            return
        # Stock `tuple_overlaps(scope, target)`: an end of the target lies in a non-empty scope.
        live = sorted((m.scope_span[0], m.scope_span[1], k) for k, m in enumerate(self.modifiers)
                      if m.scope_span[0] < m.scope_span[1])  # fmt: skip
        starts = [lo for lo, _, _ in live]
        widest = max((hi - lo for lo, hi, _ in live), default=0)
        for target in self.targets:
            t0, t1 = target.start, target.end
            window = live[bisect.bisect_left(starts, t0 - widest) : bisect.bisect_right(starts, t1)]
            for k in sorted(k for lo, hi, k in window if lo <= t0 < hi or lo < t1 <= hi):
                modifier = self.modifiers[k]
                if modifier.modifies(target):
                    modifier.modify(target)
        edges = []
        for modifier in self.modifiers:
            modifier.reduce_targets()
            for target in modifier._targets:
                edges.append((target, modifier))
        self.edges = edges


class _CueBrackets:
    """ "SCC in situ (biopsy 3 wks ago), right upper lip": a cue inside brackets that hold a
    mention of their own speaks of that mention only. A bracket holding just the cue ("SK
    (not treated)") still speaks of what stands before it."""

    def __init__(self, doc: Doc, spans) -> None:
        self.doc = doc
        self.text = note_text(doc)  # `doc.text` rebuilds the string from the tokens (~0.1 ms per note)
        self.targets = [(sp.start_char, sp.end_char) for sp in spans]
        self.cache: dict[tuple[int, int], tuple[int, int] | None] = {}

    def _bracket(self, modifier: ConTextModifier) -> tuple[int, int] | None:
        key = modifier.modifier_span
        if key not in self.cache:
            s, e = key
            cs, ce = self.doc[s].idx, self.doc[e - 1].idx + len(self.doc[e - 1])
            text = self.text
            line_start, line_end = text.rfind("\n", 0, cs) + 1, text.find("\n", ce)
            line_end = len(text) if line_end < 0 else line_end
            open_, close = text.rfind("(", line_start, cs), text.find(")", ce, line_end)
            found = None
            if open_ >= 0 and close >= 0 and ")" not in text[open_:cs] and "(" not in text[ce:close]:
                if any(open_ < a and b <= close and not (a < ce and cs < b) for a, b in self.targets):
                    found = (open_, close)
            self.cache[key] = found
        return self.cache[key]

    def reaches(self, modifier: ConTextModifier, target: Span) -> bool:
        bracket = self._bracket(modifier)
        return bracket is None or bracket[0] < target.start_char < bracket[1]


def _opening_bracket(doc: Doc, close: int) -> int | None:
    """The token index of the "(" that the ")" at `close` shuts, on the same line."""
    for i in range(close - 1, max(-1, close - 30), -1):
        word = doc[i].text
        if word == "(":
            return i
        if word == ")" or "\n" in word:
            return None
    return None


def limit_scope(modifier: ConTextModifier, other: ConTextModifier) -> bool:
    """medspaCy 1.3.1's `ConTextModifier.limit_scope`, with a symmetric overlap test.

    The stock test (`tuple_overlaps`) only asks whether an end of `other`'s scope falls inside
    this one's, so a TERMINATE cue whose own scope holds all of this scope ("does not look like
    her psoriasis, and I did a punch biopsy" in a long sentence) never ended the negation.
    """
    (a0, a1), (b0, b1) = modifier.scope_span, other.scope_span
    if not (a0 < b1 and b0 < a1):
        return False
    if modifier.direction.upper() == "TERMINATE":
        return False
    opened = getattr(other, "opened_at", None)
    if opened is not None and (opened >= modifier.modifier_span[1] or other.modifier_span[1] <= modifier.modifier_span[0]):
        # "differential includes drug eruption (chlorthalidone), psoriasis", "Verruca vulgaris,
        # right hand (B07.8) - resolved": a whole bracket between the cue and its target is
        # part of the phrase, and its ")" ends nothing
        return False
    if (other.direction.upper() != "TERMINATE" and other.category.upper() not in modifier.rule.terminated_by
            and other.category.upper() != modifier.category.upper()):  # fmt: skip
        return False
    if modifier.category == other.category and (modifier.allowed_types != other.allowed_types
                                                or modifier.excluded_types != other.excluded_types):  # fmt: skip
        return False
    orig_scope = modifier.scope_span
    if modifier.direction.lower() in ("forward", "bidirectional") and other > modifier:
        modifier._scope_end = min(modifier._scope_end, other.modifier_span[0])
    if modifier.direction.lower() in ("backward", "bidirectional") and other < modifier:
        modifier._scope_start = max(modifier._scope_start, other.modifier_span[1])
    return orig_scope != modifier.scope_span


class AllPairsConTextGraph(ConTextGraph):
    """medspaCy's all-pairs graph with DermCoder's `limit_scope`: the reference that
    LocalConTextGraph must equal (tested), and nothing else uses."""

    def update_scopes(self) -> None:
        for i in range(len(self.modifiers) - 1):
            for j in range(i + 1, len(self.modifiers)):
                limit_scope(self.modifiers[i], self.modifiers[j])
                limit_scope(self.modifiers[j], self.modifiers[i])


def _hull(modifier: ConTextModifier) -> tuple[int, int]:
    (start, end), (s0, s1) = modifier.modifier_span, modifier.scope_span
    return min(start, s0, s1), max(end, s0, s1)


def run_context(context: ConText, doc: Doc, graph_class: type[ConTextGraph] = LocalConTextGraph) -> Doc:
    """`ConText.__call__` of medspaCy 1.3.1 over doc.spans, with `graph_class` for the graph."""
    context_graph = graph_class(prune_on_modifier_overlap=context.prune_on_target_overlap)
    context_graph.targets = doc.spans[context.span_group_name]
    matcher = context._ConText__matcher  # medspaCy keeps its matcher private; pinned version
    strings, n_tokens = doc.vocab.strings, len(doc)
    for match_id, start, end in matcher(doc):
        rule = matcher.rule_map[strings[match_id]]
        scope = window_scope(rule, start, end, n_tokens) if context.max_scope else (None, None)
        modifier = ConTextModifier(rule, start, end, doc, scope_start=scope[0], scope_end=scope[1], max_scope=context.max_scope)
        if rule.literal == ")":
            modifier.opened_at = _opening_bracket(doc, start)
        context_graph.modifiers.append(modifier)
    context_graph.update_scopes()
    context_graph.apply_modifiers()
    for target, modifier in context_graph.edges:
        target._.modifiers += (modifier,)
    if context.context_attributes_mapping:
        context.set_context_attributes(context_graph.edges)
    doc._.context_graph = context_graph
    return doc


def window_scope(rule: ConTextRule, start: int, end: int, n_tokens: int) -> tuple[int, int]:
    """The scope medspaCy 1.3.1's `ConTextModifier.__set_scope` gives a modifier on tokens
    [start, end) when ConText has a max_scope (ours: 20; `ConText.add` then gives every rule
    one), computed from the indices: the stock code builds a Span, a `span._` accessor and
    the `_.window` Span for each of the ~12 modifiers of a note. Same arithmetic: the window
    is `doc[max(start - n, 0) : min(end + n, len(doc))]`, and the direction picks its side
    (the stock clamp to max_scope never bites inside that window). tests/nlp/test_context.py
    checks it against the stock scope on the corpus."""
    n = rule.max_scope
    window_start, window_end = max(start - n, 0), min(end + n, n_tokens)
    direction = rule.direction.lower()
    if direction == "forward":
        return end, window_end
    if direction == "backward":
        return window_start, start
    return window_start, window_end


def _stored(name: str):
    """Getter and setter of one span extension kept in `doc.user_data` under spaCy's key."""

    def get(self):
        return self._data.get(("._.", name, *self._key))

    def set(self, value) -> None:
        self._data[("._.", name, *self._key)] = value

    return get, set


class _Direct:
    """The four extensions ContextTagger reads and the two it writes, as `span._` would
    (default-valued extensions; the caller checked the key with direct_span_data)."""

    __slots__ = ("char_start", "char_end", "section", "_data", "_key")

    def __init__(self, data: dict, span) -> None:
        a, b = span.start_char, span.end_char
        self.char_start = data.get(("._.", "char_start", a, b))
        self.char_end = data.get(("._.", "char_end", a, b))
        self.section = data.get(("._.", "section", a, b))
        self._data, self._key = data, (a, b)

    context = property(*_stored("context"))
    cue = property(*_stored("cue"))


def load_context_rules(directory=None) -> list[ConTextRule]:
    """Our ConText rules, in medspaCy's JSON format.

    Raises TableError when two rules share a literal: medspaCy's matcher keeps one match per
    span, so the second rule would be silently dead (a FORWARD and a BACKWARD rule for the
    same cue must be one BIDIRECTIONAL rule)."""
    path = (directory or resources_dir()) / "context_rules.json"
    try:
        data = read_resource(path.parent, path.name)
    except ValueError as exc:
        raise TableError(str(path), [str(exc)]) from exc
    seen: dict[str, int] = {}
    problems = []
    for i, rule in enumerate(data["context_rules"]):
        if "pattern" in rule:
            continue
        key = rule["literal"].lower()
        if key in seen:
            problems.append(f"rule {i} repeats the literal {rule['literal']!r} of rule {seen[key]} (only one of them can ever match)")
        seen.setdefault(key, i)
    if problems:
        raise TableError(str(path), problems)
    rules = [ConTextRule.from_dict(rule) for rule in data["context_rules"]]
    for rule in rules:
        # medspaCy's JSON has no key for `terminated_by`; ours rides in `metadata`
        rule.terminated_by |= {c.upper() for c in (rule.metadata or {}).get("terminated_by", ())}
    return rules


@Language.factory("derm_context", assigns=["span._.context", "span._.cue"], default_config={})
def make_context(nlp, name):  # untyped: spaCy validates factory signatures
    """Factory: medspaCy ConText loaded with DermCoder's rules, over doc.spans['derm']."""
    return ContextTagger(nlp)


class ContextTagger(ResourceBacked):
    """Runs ConText on the entity group and records categories and cues per entity."""

    resource_files = ("context_rules.json", "shared_patterns.json")

    def __init__(self, nlp: Language) -> None:
        self.nlp = nlp
        self.init_resources()

    def load_resources(self) -> None:
        self.context = ConText(
            self.nlp,
            name="derm_medspacy_context",
            rules=None,
            span_attrs=SPAN_ATTRS,
            input_span_type="group",
            span_group_name=SPAN_GROUP,
            max_scope=20,
        )
        self.context.add(load_context_rules(self.resource_dir))
        share_note_text(self.context)  # same matches, the text read once per note (nlp/_medspacy.py)
        spell_out_token_rules(self.context._ConText__matcher)  # same matches, no Python predicate per token

    def __call__(self, doc: Doc) -> Doc:
        spans = doc.spans.get(SPAN_GROUP)
        if not spans:
            return doc
        doc = run_context(self.context, doc)
        graph = doc._.context_graph
        # sentence index per token, computed once (span.sent rescans the doc on every call)
        sent_of, sent_text = sentence_index(doc)
        cues: dict[tuple[int, int, str], tuple[list[str], list[str]]] = {}
        if graph is not None:
            brackets = _CueBrackets(doc, spans)
            for target, modifier in graph.edges:
                # medspaCy's token window (max_scope) can cross a sentence end; a cue
                # never reaches into another sentence here.
                if sent_of[modifier.modifier_span[0]] != sent_of[target.start]:
                    continue
                if not brackets.reaches(modifier, target):
                    continue
                if modifier.category == "NEGATED_EXISTENCE" and _clause_between(doc, modifier, target) and (
                        target.label_ in MEASURE_LABELS or doc[modifier.modifier_span[0]].lower_ == "without"):
                    # "no undermining, length 1.6 cm", "lidocaine without epinephrine, the nail plate was
                    # removed": the negation names its own item, not the size or procedure after the comma
                    continue
                key = (target.start_char, target.end_char, target.label_)
                cats, texts = cues.setdefault(key, ([], []))
                name = CATEGORY_NAMES.get(modifier.category)
                if name and name not in cats:
                    cats.append(name)
                    s, e = modifier.modifier_span
                    texts.append(doc[s:e].text)
        text = note_text(doc)
        stale = _stale_regions(text)
        stale_starts = [a for a, _ in stale]
        stale_ends = list(itertools.accumulate((b for _, b in stale), max))
        numeric_visits = _numeric_visit_keys(text)
        dated = _earlier_dated_sentences(doc, sent_text, numeric_visits)
        later_dates = _later_dates(text, numeric_visits)
        present_from = _present_narrative_starts(doc, sent_text)
        section_starts = [a for a, _b, _c in (doc._.derm_sections or [])]
        # a plan written after the pathology results is for another day ("Path: ... Plan: A -
        # Mohs referral. B - re-excision with 2 mm margins.")
        results_at = min((a for a, _b, c in (doc._.derm_sections or []) if c == "pathology"), default=None)
        line_starts = [0] + [m.end() for m in re.finditer("\n", text)]
        # our extensions read and written straight in user_data when spaCy's key checks out
        # (nlp/_extensions.py), else through `span._`
        names = ("char_start", "char_end", "section", "context", "cue")
        fast = direct_span_data(doc, spans, names) and all(Span.get_extension(n)[0] is None for n in names)
        procedure_starts = [char_range(doc, sp, fast)[0] for sp in spans if sp.label_ == "PROCEDURE"]
        untreated_lines = {m.start() for m in UNTREATED_LINE.finditer(text)}
        option_lists = _option_lists(text)
        taken_back = _taken_back(text)
        sentences: dict[int, str] = {}

        def sentence_of(span: Span) -> str:
            """The text of the span's sentence (== doc[first:last].text, without rebuilding it from tokens)."""
            first, last = sent_text[sent_of[span.start]]
            if first not in sentences:
                sentences[first] = text[doc[first].idx : doc[last - 1].idx + len(doc[last - 1])]
            return sentences[first]

        for span in spans:
            u = _Direct(doc.user_data, span) if fast else span._  # `span._`: a new accessor object each time
            cats, texts = cues.get((span.start_char, span.end_char, span.label_), ([], []))
            cats, texts = list(cats), list(texts)
            refusal = DECLINED_AFTER.match(text, u.char_end) if span.label_ == "PROCEDURE" and "declined" not in cats else None
            # "...: partial nail avulsion only; pt declined chemical matrixectomy": the refusal
            # names its own procedure
            if refusal is not None and not any(refusal.end() <= p < refusal.end() + 40 and REFUSED_OBJECT.fullmatch(text, refusal.end(), p)
                                               for p in procedure_starts):  # fmt: skip
                cats.append("declined")
                texts.append("declined (next clause)")
            if span.label_ in ("PROCEDURE", "REPAIR") and not cats and any(a <= u.char_start < b for a, b in option_lists):
                cats.append("hypothetical")
                texts.append("[list of options]")
            if span.label_ == "PROCEDURE" and not cats and BOOKED_AFTER.match(text, u.char_end):
                cats.append("hypothetical")
                texts.append("booked for a later day")
            if span.label_ == "PROCEDURE" and not cats and later_dates:
                later = _dated_after_the_visit(text, u.char_end, later_dates)
                if later:
                    cats.append("hypothetical")
                    texts.append(f"[dated {later}, after the visit]")
            if span.label_ in ("PROCEDURE", "REPAIR") and not cats:
                line_start = line_starts[bisect.bisect_right(line_starts, u.char_start) - 1]
                if CONDITIONAL_ARROW.search(text, line_start, u.char_start):
                    cats.append("hypothetical")
                    texts.append("if ... ->")
            if "negated" not in cats and span.label_ == "PROCEDURE" and NEVER_BEFORE.search(text, max(0, u.char_start - 20), u.char_start):
                cats.append("negated")
                texts.append("not previously")
            if "negated" not in cats and UNCHECKED.search(text, max(0, u.char_start - 8), u.char_start):
                cats.append("negated")
                texts.append("[ ] (unchecked box)")
            if "negated" not in cats and span.label_ in TARGET_LABELS and _line_headed_untreated(text, u.char_start, untreated_lines):
                cats.append("negated")
                texts.append("[not-treated line]")
            for t in taken_back:
                if (t.category not in cats and span.label_ in t.labels and t.start <= u.char_start < t.end
                        and t.accepts(text[u.char_start : u.char_end])):  # fmt: skip
                    cats.append(t.category)
                    texts.append(t.cue)
            if "copied_forward" not in cats and _in_regions(u.char_start, stale_starts, stale_ends):
                cats.append("copied_forward")
                texts.append("[copied-forward text]")
            if ("historical" not in cats and span.label_ in TARGET_LABELS and sent_of[span.start] in dated
                    and dated[sent_of[span.start]][1] <= u.char_start < dated[sent_of[span.start]][2]
                    and not (span.label_ in ("HISTOLOGY", "SITE") and BIOPSY_NAMED.search(sentence_of(span)))):  # fmt: skip
                cats.append("historical")
                texts.append(dated[sent_of[span.start]][0])
            if "historical" in cats and SP_CUE.fullmatch(texts[cats.index("historical")].strip()):
                line_start = line_starts[bisect.bisect_right(line_starts, u.char_start) - 1]
                if ASSESSMENT_LINE.match(text, line_start) and not DATED.search(sentence_of(span)):
                    k = cats.index("historical")
                    del cats[k], texts[k]
            if "hypothetical" in cats and span.label_ == "PROCEDURE" and WAS_DONE.match(text, u.char_end):
                k = cats.index("hypothetical")  # "I recommended sampling it, and a shave biopsy was done"
                del cats[k], texts[k]
            if "hypothetical" in cats and span.label_ == "PROCEDURE":
                # "Plan: punch biopsy of the changing lesion - darkest area sampled": a plan
                # header over work the sentence records as done
                k = cats.index("hypothetical")
                if PLAN_CUE.fullmatch(texts[k].strip()):
                    sentence = sentence_of(span)
                    if DONE.search(sentence) and not FUTURE.search(PLAN_CUE.sub("", sentence)):
                        del cats[k], texts[k]
            default = SECTION_DEFAULTS.get(u.section or "")
            # a plan section plans the treatment; the diagnosis it treats is today's
            if default == "hypothetical" and span.label_ == "HISTOLOGY":
                default = None
            if default and default not in cats and span.label_ in TARGET_LABELS:
                sentence = sentence_of(span)
                if default == "historical":
                    pos = u.char_start
                    applies = (not DONE_TODAY.search(sentence) and not _after_present_turn(pos, present_from, section_starts)
                               and not _on_step_line(text, pos, line_starts))  # fmt: skip
                else:
                    # "Plan: cryotherapy ..." in a procedure note is usually what was done; only a
                    # future cue without a completion cue makes it planned.
                    applies = DONE.search(sentence) is None and (
                        FUTURE.search(sentence) is not None or (results_at is not None and results_at < u.char_start))
                if applies:
                    cats.append(default)
                    texts.append(f"[{u.section} section]")
            u.context = cats
            u.cue = "; ".join(texts) if texts else None
        return doc
