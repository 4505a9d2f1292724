"""`derm_frames`: group entities into one frame per lesion / procedure, as a coder reads.

How a note is cut into frames:
1. Lesion labels at line starts ("A.", "#2", "1)", "Lesion B:", "SITE 1 -") cut the note
   into blocks when there are at least two of them; facts never cross a block.
2. Within a block, each sentence with an active (not negated/historical/planned/...)
   procedure mention opens a frame, unless it repeats the procedure of the current
   frame at the same (or no) site, in which case it adds to it.
3. Facts (site, side, sizes, margins, histology, repair, counts, Mohs stages) attach to
   the frame of their sentence, else to the frame before them in the block; facts
   written before the first procedure (the "Lesion: 0.9 cm pearly papule" line) go to
   the first frame of their block.
4. Pathology-section diagnoses are matched back to a frame by label, then by site, then
   (one lesion frame only) to that frame.

Every frame field keeps the mentions it came from, so each fact has evidence.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field
from dataclasses import fields as dataclass_fields

from spacy.language import Language
from spacy.tokens import Doc, Span

from dermcoder.nlp._extensions import SPAN_GROUP, direct_span_data, note_text
from dermcoder.nlp.lexicons import load_lexicons
from dermcoder.nlp.pipe_tables import pipe_tables
from dermcoder.nlp.resource_io import ResourceBacked
from dermcoder.nlp.start_filter import start_filtered, word_gated

SUPPRESSING = {"negated", "historical", "hypothetical", "family", "declined", "cancelled", "copied_forward"}
LABEL_MARKER = re.compile(
    r"(?im)^[ \t>*\-\[]*(?:\d{1,2}:\d{2}[ \t]+)?"
    # "A: 1. Superficial BCC, L upper back" / "P: 1. ED&C done today": numbered after a SOAP heading
    # (not "A: 1. Neoplasm R cheek. 2. Neoplasm L forearm. 3. AKs." - a whole list on one line)
    r"(?:(?:A|P|A/P|A&P|assessment|plan|impression|dx)[ \t]*:[ \t]*(?=\(?\d{1,2}[).][ \t])(?![^\n]*[.;][ \t]+\(?\d{1,2}[).][ \t]))?"
    r"(?:(?:lesions?|sites?|specimens?|spec|part|tissue|tumou?r|procedure|proc|biopsy|bx|repair|defect|closure|reconstruction|recon|wound|laceration)[ \t]*#?[ \t]*(?P<a>[A-H]|\d{1,2})\b(?![ \t]*(?:mm|cm|x\b|\.\d|%)|/)"
    r"|\(?(?P<b>[A-H])(?:[).:]|[ \t]+[-–—])(?=[ \t])|#[ \t]?(?P<c>\d{1,2})\b|\(?(?P<d>\d{1,2})[).](?=[ \t])"
    # a table row whose first cell is a lesion label: "| 2 | L lateral neck | 0.8 cm | shave |"
    r"|\|[ \t]*(?:#[ \t]*)?(?P<e>[A-H]|\d{1,2})[ \t]*\|"
    # roman numerals in brackets: "(i) Philtrum ...", "(ii) Suprapubic ..."
    r"|\((?P<f>iii|ii|iv|vi|v|i)\)(?=[ \t])"
    # a log's label column: "A  L temple  nodular BCC  pre-op 0.8 cm" (a capital letter, then a wide gap)
    r"|(?-i:(?P<h>[A-H]))(?:[ \t]{2,}|\t)(?=\S)"
    # a template line numbered after its procedure: "[X] Shave removal #1 - Site: ..."
    r"|(?:\[[ \t]*[x✓✔][ \t]*\][ \t]*)?[a-z][a-z ()/&-]{1,50}?[ \t]#[ \t]?(?P<g>\d{1,2})\b(?![-\d]))"
)
# "(2) BCC", "B. SK", "Specimen A:", "1) BCC, nodular. 2) SCC" on a pathology line
PATH_LABEL = re.compile(r"(?<![\w])(?:\((iii|ii|iv|vi|v|i)\)|\(?([A-H])[).:]|#\s?(\d{1,2})\b|\((\d{1,2})\)|(?:specimen|part|site|lesion)\s*#?\s*([A-H]|\d{1,2})\b|([A-H])\s*[-–—]\s|(?<![(.\d])(\d{1,2})[.)](?=[ \t])"
    # " 1 - granuloma annulare", "1a + 1b: compound nevus": a numbered line of a report
    r"|(?:(?<=\n)|^)[ \t]*(\d{1,2})[a-z]?(?:[ \t]*(?:\+|&|and)[ \t]*\d{1,2}[a-z])?(?:[ \t]*[-–—][ \t]+|:[ \t]*)(?![\d.])"
    # "A (punch + excision): dermatofibroma", "1 (wedge, L leg): invasive SCC"
    r"|(?:(?<=\n)|^)[ \t]*([A-H]|\d{1,2})[ \t]*\([^()\n]{1,40}\)[ \t]*:)", re.IGNORECASE)


@dataclass
class Mention:
    """A plain-Python view of one entity span (what the coding rules read)."""

    label: str
    start: int
    end: int
    text: str
    canonical: str | None = None
    value: object = None
    role: object = None
    section: str | None = None
    context: list[str] = field(default_factory=list)
    cue: str | None = None
    sentence: int = 0
    block: str | None = None
    line: int = 0

    @property
    def active(self) -> bool:
        """True when no suppressing context applies (it describes something done/found today)."""
        return not (set(self.context) & SUPPRESSING)

    def evidence(self) -> dict:
        return {"start": self.start, "end": self.end, "text": self.text, "label": self.label}


@dataclass
class Frame:
    """One lesion or procedure, with the mentions behind each fact."""

    label: str | None = None
    block: str | None = None
    procedures: list[Mention] = field(default_factory=list)
    sites: list[Mention] = field(default_factory=list)
    laterality: list[Mention] = field(default_factory=list)
    histology: list[Mention] = field(default_factory=list)
    path_histology: list[Mention] = field(default_factory=list)
    sizes: list[Mention] = field(default_factory=list)
    margins: list[Mention] = field(default_factory=list)
    areas: list[Mention] = field(default_factory=list)
    repairs: list[Mention] = field(default_factory=list)
    counts: list[Mention] = field(default_factory=list)
    mohs_stages: list[Mention] = field(default_factory=list)
    mohs_blocks: list[Mention] = field(default_factory=list)
    priors: list[Mention] = field(default_factory=list)  # "biopsy-proven", "bx 4/2/25": earlier procedures
    start: int = 0
    end: int = 0
    sentences: set[int] = field(default_factory=set)

    @property
    def procedure(self) -> str | None:
        if not self.procedures:
            return None
        # "At his last visit I recommended Mohs surgery ... he asked for excision here": the
        # procedure done today names the frame, not one only recommended or declined before it
        first = next((p.canonical for p in self.procedures if p.active and p.role not in NAMES_NO_FRAME), self.procedures[0].canonical)
        if first == "biopsy":
            # "same-day dx bx" then "1. Tangential bx": the technique named later is the biopsy's
            specific = next((p.canonical for p in self.procedures if p.canonical and p.canonical.startswith("biopsy_")), None)
            return specific or first
        return first

    @property
    def site(self) -> Mention | None:
        return self.sites[0] if self.sites else None

    def add(self, m: Mention) -> None:
        if m.label == "PROCEDURE" and m.canonical == "prior_biopsy":
            if m not in self.priors:
                self.priors.append(m)
            return
        slot = {
            "SITE": self.sites, "LATERALITY": self.laterality, "HISTOLOGY": self.histology,
            "SIZE": self.sizes, "MARGIN": self.margins, "AREA": self.areas, "REPAIR": self.repairs,
            "COUNT": self.counts, "MOHS_STAGE": self.mohs_stages, "MOHS_BLOCKS": self.mohs_blocks,
            "PROCEDURE": self.procedures,
        }.get(m.label)  # fmt: skip
        if slot is not None and m not in slot:
            slot.append(m)
            self.end = max(self.end, m.end)


_NEWLINE = re.compile("\n")


def sentence_starts(doc: Doc) -> list[int]:
    """`[t.idx for t in doc if t.is_sent_start] or [0]`, from one array read (no Token objects).

    token.is_sent_start, not doc.sents / has_annotation: those rescan the whole doc each call.
    """
    if len(doc) == 0:
        return [0]
    table = doc.to_array(["IDX", "SENT_START"])
    starts = table[table[:, 1] == 1, 0].tolist()
    if doc[0].is_sent_start and (not starts or starts[0] != 0):
        starts.insert(0, 0)  # spaCy reports the first token as a start even when its flag is unset
    return starts or [0]


def mentions_from_doc(doc: Doc) -> list[Mention]:
    """Entity spans -> Mentions with sentence index, in text order (duplicates dropped)."""
    return _mentions(_mention_fields(doc))


# derm_frames keeps the fields it read here, so the engine (which needs its own Mention
# objects: the frame builder sets `block` on its own) does not read every span again.
MENTION_FIELDS_KEY = "dermcoder.mention_fields"


def pipeline_mentions(doc: Doc) -> list[Mention]:
    """`mentions_from_doc(doc)` for a Doc out of the pipeline (derm_frames is its last step):
    new Mention objects from the fields derm_frames read, else from the spans."""
    fields = doc.user_data.get(MENTION_FIELDS_KEY)
    return _mentions(fields) if fields is not None else mentions_from_doc(doc)


def _mention_fields(doc: Doc) -> list[tuple]:
    """Mention constructor arguments (block None, context a tuple), sorted like the mentions."""
    sent_starts = sentence_starts(doc)
    text = note_text(doc)  # note_text(doc) rebuilds the string on every access
    newlines = [m.start() for m in _NEWLINE.finditer(text)]  # line of a mention = newlines before it
    out: dict[tuple, tuple] = {}
    spans = doc.spans.get(SPAN_GROUP, [])
    if not direct_span_data(doc, spans, _READ):
        for span in spans:
            u = span._  # each `span._` builds a new accessor object: once per span, not per attribute
            start, end = u.char_start, u.char_end
            key = (span.label_, start, end)
            if key in out:
                continue
            out[key] = (key[0], start, end, text[start:end], u.canonical, u.value, u.role, u.section, tuple(u.context or ()),
                        u.cue, bisect.bisect_right(sent_starts, start) - 1, None, bisect.bisect_left(newlines, start))  # fmt: skip
        return sorted(out.values(), key=lambda f: (f[1], -f[2]))
    # the same reads, straight from user_data (nlp/_extensions.py, direct_span_data)
    get = doc.user_data.get
    defaults = [Span.get_extension(name)[0] for name in _READ]
    for span in spans:
        a, b = span.start_char, span.end_char
        start, end, canonical, value, role, section, context, cue = (get(("._.", name, a, b), d) for name, d in zip(_READ, defaults))
        key = (span.label_, start, end)
        if key in out:
            continue
        out[key] = (key[0], start, end, text[start:end], canonical, value, role, section, tuple(context or ()),
                    cue, bisect.bisect_right(sent_starts, start) - 1, None, bisect.bisect_left(newlines, start))  # fmt: skip
    return sorted(out.values(), key=lambda f: (f[1], -f[2]))


_READ = ("char_start", "char_end", "canonical", "value", "role", "section", "context", "cue")


# The order of the tuples _mention_fields makes (Mention is built by keyword, so new fields
# with defaults keep working).
_FIELD_NAMES = ("label", "start", "end", "text", "canonical", "value", "role", "section", "context", "cue", "sentence",
                "block", "line")  # fmt: skip


def _mentions(fields: list[tuple]) -> list[Mention]:
    if not _POSITIONAL:
        out = []
        for f in fields:
            kwargs = dict(zip(_FIELD_NAMES, f))
            kwargs["context"] = list(kwargs["context"])  # each Mention owns its list
            out.append(Mention(**kwargs))
        return out
    # the tuples are in Mention's own field order (checked below): positional construction,
    # without a kwargs dict per mention
    return [Mention(*f[:8], list(f[8]), *f[9:]) for f in fields]  # each Mention owns its context list


_POSITIONAL = tuple(f.name for f in dataclass_fields(Mention))[: len(_FIELD_NAMES)] == _FIELD_NAMES and _FIELD_NAMES[8] == "context"


# "PROCEDURE: (i) digital block ...; shave removal. (ii) lido w/ epi; shave removal": roman
# labels inside a line, after a colon or a sentence end, start blocks too
TABLE_SEPARATOR = re.compile(r"^[\s|:\-+=]+$")
INLINE_MARKER = re.compile(r"(?<=[:.;] )\((iii|ii|iv|vi|v|i)\)(?=[ \t])", re.IGNORECASE)


def find_blocks(text: str) -> list[tuple[int, str]]:
    """Lesion-label markers (at line starts, or roman ones inside a line), if the note has at
    least two distinct ones."""
    markers = []
    stage_rows = _stage_table_lines(text) if "|" in text else set()
    for m in LABEL_MARKER.finditer(text):
        if m.group("e") and m.start() in stage_rows:
            continue  # "| 3 | 1 | clear |" under "| Stage | Blocks |" numbers a stage, not a lesion
        label = next(g for g in m.groups() if g)
        markers.append((m.start(), label.upper()))
    for m in INLINE_MARKER.finditer(text):
        markers.append((m.start(), m.group(1).upper()))
    rows = _table_rows(text) if "|" in text or ";" in text else []
    if not markers:
        markers = rows
    elif rows and all(lab == "" or not lab.startswith("ROW") for _, lab in rows):
        # "A BCC | L helix | ... " rows labeled like the "Repair A:" lines below them
        taken = {start for start, _ in markers}
        markers += [(start, lab) for start, lab in rows if start not in taken]
    markers.sort()
    labels = {lab for _, lab in markers if lab}
    return markers if len(labels) >= 2 else []


def _stage_table_lines(text: str) -> set[int]:
    """Start offsets of the rows of Mohs stage tables (a pipe table whose header opens with Stage)."""
    return {pos for table in pipe_tables(text) if table.stage_table for pos, _line in table.rows}


ROW_LABEL = re.compile(r"^[ \t]*([A-H]|\d{1,2})\b(?![ \t]*(?:mm|cm|x\b|\.\d|%|/))[^|;\n]{0,40}[|;]")


def _table_rows(text: str) -> list[tuple[int, str]]:
    """ "Site | Dx | Lesion size | Margin" then one row per lesion: each row is a block of its
    own ("ROW1", "ROW2", ...) and the text after the table belongs to none ("")."""
    out: list[tuple[int, str]] = []
    n = 0
    for table in pipe_tables(text):
        if table.stage_table:
            continue  # its rows are stages of one tumour, not lesions
        data = [(pos, line) for pos, line in table.rows[1:] if not TABLE_SEPARATOR.match(line)]  # the first line is the header
        # rows whose first cell opens with a lesion label ("A BCC | L helix", "A | | II") take
        # that label: two rows of tumour A are its two stages
        own = [ROW_LABEL.match(line) for _pos, line in data]
        for (pos, _line), lab in zip(data, own):
            n += 1
            out.append((pos, lab.group(1).upper() if all(own) else f"ROW{n}"))
        if data and table.end is not None:
            out.append((table.end, ""))
    return out if n >= 2 else []


# "Final curetted defect: A 12 mm; B 1.6 cm": a lesion label right before a value on a line
INLINE_LABEL = re.compile(r"(?:^|[:;,(]|\band)[ \t]*(?:lesion[ \t]+|site[ \t]+|#)?([A-H]|\d{1,2})[ \t]*[:=\-–)]?[ \t]*$", re.IGNORECASE)


# "... wound care reviewed. Pathology: the nose is basal cell carcinoma; the lip is a compound
# nevus." (or "Path 7/16: ...") inside a dictated paragraph: the report runs to the end of that paragraph line
INLINE_PATH = re.compile(r"(?<=[.;] )(?:final )?(?:path(?:ology)?|dermpath)(?: (?:report|results?|returned|came back))?(?: \d{1,2}/\d{1,2}(?:/\d{2,4})?)?:", re.IGNORECASE)


def _inline_path_regions(text: str) -> list[tuple[int, int]]:
    out = []
    for m in INLINE_PATH.finditer(text):
        end = text.find("\n", m.end())
        out.append((m.start(), len(text) if end < 0 else end))
    return out


def _inline_labels(text: str, mentions: list[Mention], labels: set[str], line_starts: list[int]) -> None:
    """Values a line gives per lesion label belong to those lesions' blocks (two labels or more)."""
    by_line: dict[int, list[tuple[Mention, str]]] = {}
    for m in mentions:
        if m.label == "PROCEDURE":
            continue
        line = line_starts[bisect.bisect_right(line_starts, m.start) - 1]
        hit = INLINE_LABEL.search(text, max(line, m.start - 14), m.start)
        if hit and hit.group(1).upper() in labels:
            by_line.setdefault(line, []).append((m, hit.group(1).upper()))
    for found in by_line.values():
        if len({lab for _, lab in found}) >= 2:
            for m, lab in found:
                m.block = lab


# "(A) squamous cell carcinoma, left forearm; (B) basal cell carcinoma, right upper back":
# bracketed lesion labels inside one line
# or, dictated, a letter after a colon or full stop with a comma: "Repairs: A, intermediate
# layered closure five centimeters. B, intermediate layered closure two point four centimeters."
SEGMENT_LABEL = re.compile(r"\(([A-H]|\d{1,2})\)(?=[ \t])|(?:^|(?<=[:.])[ \t]+)([A-H]),(?=[ \t])")


def _segmented_lines(text: str, mentions: list[Mention], labels: set[str], line_starts: list[int]) -> None:
    """A line that lists lesions under two or more bracketed labels ("Pre-op dx: (A) SCC, L
    forearm; (B) BCC, R back") gives each lesion's facts to its label's block."""
    for k, start in enumerate(line_starts):
        end = line_starts[k + 1] if k + 1 < len(line_starts) else len(text)
        marks = [(m.start(), lab) for m in SEGMENT_LABEL.finditer(text, start, end) if (lab := (m.group(1) or m.group(2)).upper()) in labels]
        if len({lab for _, lab in marks}) < 2:
            continue
        for m in mentions:
            if start <= m.start < end and m.label != "PROCEDURE":
                before = [lab for pos, lab in marks if pos <= m.start]
                if before:
                    m.block = before[-1]


def block_of(pos: int, blocks: list[tuple[int, str]]) -> str | None:
    """The label of the lesion block (from `find_blocks`) that holds character `pos`."""
    label = None
    for start, lab in blocks:
        if start <= pos:
            label = lab
        else:
            break
    return label or None


NON_LESION_PROCS = {"em", "prior_biopsy"}
# PROCEDURE roles that neither name nor open a frame: "Mohs defect" (the service), "5 mm
# punch" after "punch excision" (the excision's tool), a graft's donor "ellipse ... harvested",
# "consent for biopsies" (the biopsies described elsewhere)
NAMES_NO_FRAME = ("service", "tool", "donor", "consent")
# "Billing: ...", or "BILLING SUMMARY (auto-generated ...)" with one code per line under it
BILLING_LINE = re.compile(r"(?im)^[ \t]*(?:billing|billed|charges?|superbill)\b(?:[^:\n]{0,80}:[^\n]*|[ \t]+summary\b[^\n]*)"
                          r"(?:\n[ \t]*(?:\d{5}|[A-Z]\d{4})\b[^\n]*)*")
_BILLING_LINE = word_gated(BILLING_LINE)  # scanned over every note: the same matches, faster


def billing_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of the note's billing summaries: claims about the note, not its facts."""
    return [(b.start(), b.end()) for b in _BILLING_LINE.finditer(text)]
# "E/M ... separately identifiable from the cryotherapy", "time ..., not counting the biopsy":
# the procedure is named to set the visit apart from it; it was documented (and framed) where it was done
NAMED_APART = re.compile(r"\b(?:(?:separate(?:ly identifiable)?|distinct|apart)[ \t]+from|not[ \t]+counting|excluding)[ \t]+(?:the[ \t]+|today's[ \t]+)?(?:[\w/-]+[ \t]+){0,2}$", re.IGNORECASE)
# Paring a wart or keratosis in the sentence that destroys it is a step of that destruction.
PARED_FOR = {"cryotherapy", "destruction", "ed_c"}


def _surgeons_own(m: Mention) -> bool:
    return m.label in ("MOHS_STAGE", "MOHS_BLOCKS") or (m.label == "SIZE" and m.role == "repair_length")


def build_frames(text: str, mentions: list[Mention], regions: dict[str, frozenset[str]] | None = None) -> list[Frame]:
    """Group mentions into frames (see the module docstring for the rules)."""
    blocks = find_blocks(text)
    for m in mentions:
        m.block = block_of(m.start, blocks)
    line_starts = [0] + [nl.end() for nl in re.finditer("\n", text)]
    if blocks:
        _inline_labels(text, mentions, {lab for _, lab in blocks}, line_starts)
        _segmented_lines(text, mentions, {lab for _, lab in blocks}, line_starts)
    # Pathology sections are matched back later; they never open frames.
    # Mohs stages under a "Pathology"/"Microscopic" header are the surgeon's own frozen
    # sections: they belong to the Mohs frame, not to a pathology report.
    for a, b in _inline_path_regions(text):
        for m in mentions:
            if a <= m.start < b and m.section != "pathology":
                m.section = "pathology"
    # So is a repair length in an addendum ("ADDENDUM: ... the final sutured length was 5.6 cm"):
    # the surgeon's correction, not the pathologist's.
    # "Billing: established 99214-25, plus destruction of 5 AKs": a summary of what the note
    # documents above (often wrong); its words are no lesion of their own
    billed = billing_spans(text)
    if billed:
        mentions = [m for m in mentions if not any(a <= m.start < b for a, b in billed)]
    body = [m for m in mentions if m.section != "pathology" or _surgeons_own(m)]
    path = [m for m in mentions if m.section == "pathology" and not _surgeons_own(m)]

    frames: list[Frame] = []
    current: dict[str | None, Frame] = {}
    preamble: dict[str | None, list[Mention]] = {}
    by_sentence: dict[int, list[Mention]] = {}
    for m in body:
        by_sentence.setdefault(m.sentence, []).append(m)

    order = sorted(by_sentence)
    firsts = {k: by_sentence[k][0].start for k in order}

    def next_start(k: int) -> int:
        later = [firsts[j] for j in order if j > k]
        return later[0] if later else len(text)

    carried: dict[str | None, list[Mention]] = {}
    for sent in order:
        items = by_sentence[sent]
        if carried and all(m.label in LESION_FACTS - {"SITE"} and m.block in carried for m in items):
            # "Separately: ... a new crusted papule on the right dorsal forearm, 8 mm. Clinically
            # keratoacanthoma versus SCC. I did a shave biopsy of that lesion": a sentence that only
            # describes the announced lesion (no site of its own) waits with it for its procedure
            for m in items:
                carried[m.block].append(m)
            continue
        procs = [m for m in items if m.label == "PROCEDURE" and m.active and m.canonical not in NON_LESION_PROCS and m.role not in NAMES_NO_FRAME
                 and not _on_anesthesia_line(text, m, line_starts) and not NAMED_APART.search(text, max(0, m.start - 60), m.start)]  # fmt: skip
        if any(_family(p.canonical) in PARED_FOR for p in procs):
            procs = [p for p in procs if p.canonical != "paring"]  # "After paring, each was treated with LN2"
        # "... shave biopsy of that one, then on the left upper back a 1.1 cm macule, so I took a
        # punch biopsy": facts after a new site belong to the next procedure of the sentence
        pending: dict[str | None, list[Mention]] = {}
        for block, waiting in carried.items():
            # "... a 0.4 cm papule on the left upper lip, which bleeds; it was excised with a 1 mm
            # margin": the lesion described in the last sentence is this one's, when this
            # sentence's procedure names no site of its own
            fresh = _names_new_lesion(current.get(block), waiting) or _announced(text, waiting) or _heads_line(text, waiting)
            takers = [p for p in procs if p.block == block and _own_site_after(items, p) is None
                      and not [x for x in items if x.label == "SITE" and x.start < p.start]
                      # "...; it was excised", or the procedure opens the clause: "r/o BCC; shave biopsy, AlCl3"
                      and (fresh or REFERS_BACK.search(text, max(0, p.start - 30), p.start) or REFERS_AFTER.match(text, p.end)
                           or CLAUSE_OPENS.search(text, max(0, p.start - 24), p.start))]  # fmt: skip
            if takers:
                pending[block] = waiting
            else:
                for x in waiting:
                    current[block].add(x)
        carried = {}
        if _untreated_lesion(text, items, procs, current):
            continue
        # "AKs - cryo 10 s, 2 FTC: nose 2, ...": a diagnosis that opens the sentence of a procedure
        # is that procedure's, even when it was first given to the frame open before it
        lead: list[tuple[Mention, Frame]] = []
        seen_proc = False
        for m in items:
            if m.label == "PROCEDURE" and m.canonical == "prior_biopsy":
                frame = current.get(m.block)
                if frame is not None:
                    frame.priors.append(m)
                else:
                    preamble.setdefault(m.block, []).append(m)
                continue
            if m.label == "PROCEDURE" and m not in procs:
                continue
            block = m.block
            frame = current.get(block)
            waiting = pending.get(block)
            if m in procs and waiting and _own_site_after(items, m) is not None:
                # "..., and a shave biopsy of the left arm": the procedure names its own site, so
                # the facts waiting since the last new site stay with the lesion before
                for x in pending.pop(block):
                    frame.add(x)
                waiting = None
            if m in procs:
                first_proc, seen_proc = not seen_proc, True
                if waiting:
                    new_site = next(x for x in waiting if x.label == "SITE")
                else:
                    new_site = _first_site_after(items, m) or _site_since_last_procedure(items, m, frame)
                if _absorbed(m, frames, block) or (frame is not None and (_treats_base(text, m, frame) or _bracketed_restatement(text, m, frame)
                                                                       or _describes_biopsy(frame, m, new_site, block, text))):
                    if frame is not None:
                        frame.sentences.add(sent)
                    continue
                if frame is None or _opens_new_frame(frame, m, new_site, regions):
                    same = _matching_frame(frames, m, new_site, block, regions)
                    if same is not None:
                        frame = current[block] = same
                    else:
                        frame = Frame(label=block, block=block, start=m.start, end=m.end)
                        frames.append(frame)
                        current[block] = frame
                        for early in preamble.pop(block, []):
                            frame.add(early)
                        if waiting:
                            for x in pending.pop(block):
                                frame.add(x)
                        elif not [x for x in items if x.label == "SITE" and x.start > m.start]:
                            # "shave biopsy of the left upper back ..., then the lesion was excised":
                            # the site named earlier in the sentence is this procedure's site too
                            for x in items:
                                if x.label in ("SITE", "LATERALITY") and x.start < m.start:
                                    frame.add(x)
                for x in pending.pop(block, []):
                    frame.add(x)
                if first_proc:
                    for x, other in lead:
                        if other is not frame and x in other.histology:
                            other.histology.remove(x)
                            frame.add(x)
                frame.add(m)
                frame.sentences.add(sent)
                continue
            if waiting:
                waiting.append(m)
                continue
            if _starts_next_lesion(frame, m):
                # "... six AKs on the scalp treated with cryotherapy": the side, count, diagnosis
                # and size written just before the new site, after the last procedure, go with it
                last = max(p.end for p in frame.procedures)
                moved = [x for slot in (frame.laterality, frame.counts, frame.histology, frame.sizes) for x in slot
                         if x.sentence == m.sentence and last <= x.start and x.end <= m.start and m.start - x.end <= 40]  # fmt: skip
                for x in moved:
                    for slot in (frame.laterality, frame.counts, frame.histology, frame.sizes):
                        if x in slot:
                            slot.remove(x)
                pending[block] = sorted(moved, key=lambda x: x.start) + [m]
                continue
            if m.label in ("MOHS_STAGE", "MOHS_BLOCKS") and (frame is None or frame.procedure != "mohs"):
                mohs_frame = next((f for f in reversed(frames) if f.block == block and f.procedure == "mohs"), None)
                if mohs_frame is not None:
                    mohs_frame.add(m)  # stages belong to the Mohs tumour, whatever was mentioned in between
                    continue
            if frame is None:
                preamble.setdefault(block, []).append(m)
            else:
                frame.add(m)
                frame.sentences.add(sent)
                if not seen_proc and m.label == "HISTOLOGY":
                    lead.append((m, frame))
        # no procedure followed: the site was more of the same lesion (or none of ours), unless
        # the next sentence's procedure takes it; a line end closes the description
        for block, waiting in pending.items():
            between = text[waiting[-1].end : next_start(sent)]
            if "\n" not in between and (";" in between or _names_new_lesion(current.get(block), waiting) or _announced(text, waiting)
                                         or _heads_line(text, waiting)):
                # "...; it was excised", or "Then the cyst, midline upper back, 2.2 cm. ... excised
                # intact": another diagnosis at another site is the next procedure's lesion
                carried[block] = waiting
            else:
                for x in waiting:
                    current[block].add(x)
    for block, waiting in carried.items():
        for x in waiting:
            current[block].add(x)
    # "MOHS - 2 TUMORS" then "Tumor A: ... Stage 1: 4 blocks": a labeled block with Mohs stages
    # but no procedure word of its own is one more tumour of that Mohs session.
    mohs = next((f for f in frames if f.procedure == "mohs"), None)
    if mohs is not None:
        for block, early in list(preamble.items()):
            if block is not None and not any(f.block == block for f in frames) and any(m.label == "MOHS_STAGE" for m in early):
                tumour = Frame(label=block, block=block, start=early[0].start, end=early[-1].end, procedures=list(mohs.procedures[:1]))
                for m in early:
                    tumour.add(m)
                frames.append(tumour)
                del preamble[block]
        frames.sort(key=lambda f: f.start)
    # "Technique: each lesion excised as a fusiform ellipse" above one block (or table row) per
    # lesion that names no procedure: each block is a lesion of that procedure.
    first_block = min((start for start, lab in blocks if lab), default=0)
    titles = [f for f in frames if f.block is None and _is_title(f, first_block)]
    if blocks and len({_family(f.procedure) for f in titles}) == 1:
        for block, early in list(preamble.items()):
            if block is None or any(f.block == block for f in frames):
                continue
            if not any(m.label == "SITE" and m.active and m.role != "donor" for m in early):
                continue
            lesion = Frame(label=block, block=block, start=early[0].start, end=early[-1].end, procedures=list(titles[0].procedures[:1]))
            for m in early:
                lesion.add(m)
            for m in titles[0].histology + titles[0].priors:  # "ED&C x3, bx-proven sBCC" above the rows
                if m.start < first_block:
                    lesion.add(m)
            frames.append(lesion)
            del preamble[block]
        frames.sort(key=lambda f: f.start)
    # "1. L helix: 6 mm papule. 2. R cheek: scaly patch. Plan: shave bx both, done today": a
    # procedure said of "both"/"each"/"all three" lesions is each labeled block's procedure.
    if blocks:
        for f in list(frames):
            procs = [p for p in f.procedures if p.active]
            if not procs or f.block is None or any(g.block is None and _family(g.procedure) == _family(f.procedure) for g in frames):
                continue  # a title above the blocks ("Shave removal x2, face") already spreads it
            line_start = text.rfind("\n", 0, procs[0].start) + 1
            line_end = text.find("\n", procs[0].end)
            if not DISTRIBUTIVE.search(text, line_start, line_end if line_end >= 0 else len(text)):
                continue
            for block, early in list(preamble.items()):
                if block is None or any(g.block == block for g in frames):
                    continue
                if not any(m.label == "SITE" and m.active and m.role != "donor" for m in early):
                    continue
                lesion = Frame(label=block, block=block, start=early[0].start, end=early[-1].end, procedures=list(procs[:1]))
                for m in early:
                    lesion.add(m)
                frames.append(lesion)
                del preamble[block]
        frames.sort(key=lambda f: f.start)
    # A visit that only repairs wounds ("1. Simple repair left forearm, 2.0 cm") has no
    # procedure word to open frames: each block holding a repair is one wound.
    if not frames:
        for block, early in list(preamble.items()):
            if any(m.label == "REPAIR" and m.active for m in early):
                wound = Frame(label=block, block=block, start=early[0].start, end=early[-1].end)
                for m in early:
                    wound.add(m)
                frames.append(wound)
                del preamble[block]
    # Facts after the last frame of a block but never attached stay with the first frame of the block.
    for block, early in preamble.items():
        target = next((f for f in frames if f.block == block), None)
        if target is None and frames and early:
            # a block with facts but no procedure ("3) Repair: FTSG ...") continues the frame before it
            before = [f for f in frames if f.start < early[0].start]
            target = before[-1] if before else frames[0]
        if target is not None:
            for m in early:
                target.add(m)
    if blocks:
        frames = _merge_steps(frames)
        # A title line ("MOHS REPORT - two tumors") is not a lesion of its own when the
        # labeled blocks below carry the same procedure.
        labeled = {_family(f.procedure) for f in frames if f.block is not None}
        dropped = [f for f in frames if f.block is None and _family(f.procedure) in labeled and _is_title(f, first_block)
                   and not [m for m in f.sizes if m.active and m.start < first_block]]  # fmt: skip
        frames = [f for f in frames if f not in dropped]
        # "Diagnoses (proven on biopsy): superficial basal cell carcinoma x2" above "Lesion 1",
        # "Lesion 2": the diagnosis of the title is each labeled lesion's that names none
        for title in dropped:
            said = [m for m in title.histology if m.active and m.start < first_block]
            if len({m.canonical for m in said}) == 1:
                for f in frames:
                    if f.block is not None and _family(f.procedure) == _family(title.procedure) and not f.histology:
                        f.add(said[0])
        frames = _merge_listed(frames, first_block)
    frames = _merge_titles(frames)
    frames = _pdt_debridement(frames)
    # "Base then treated with curettage": a procedure with no site of its own continues the
    # lesion of the frame before it in the same block.
    for prev, f in zip(frames, frames[1:]):
        if not _own_sites(f) and f.block == prev.block and _own_sites(prev):
            for m in _own_sites(prev)[:1] + prev.laterality[:1]:
                f.add(m)
    _share_single_site(frames)
    _size_from_the_exam(frames, body)
    _attach_pathology(text, frames, path, regions)
    return frames


LESION_FACTS = {"SITE", "LATERALITY", "HISTOLOGY", "SIZE", "COUNT"}
DISTRIBUTIVE = re.compile(r"\b(?:both|each|all (?:\d|two|three|four|five|six)\b|all of them|all lesions)\b", re.IGNORECASE)


NEVER = re.compile(r"\b(?:never|not previously|no prior|no previous)\b", re.IGNORECASE)
NOT_TREATED = re.compile(r"\b(?:no (?:tx|treatment|intervention)|not treated|untreated|reassur\w*|observ(?:e|ation)|monitor(?:ing)?)\b", re.IGNORECASE)


def _untreated_lesion(text: str, items: list[Mention], procs: list[Mention], current: dict[str | None, Frame]) -> bool:
    """ "The spot on her left cheek is a sebaceous hyperplasia and we did not biopsy it",
    "Multiple SKs on back: reassured, no tx": a sentence with no procedure done, at a site
    other than the current lesion's, describes a lesion left alone; its facts belong to no frame."""
    if procs:
        return False
    # the sentence's own words: to its full stop or line end, whichever comes first
    stops = [i for i in (text.find("\n", items[-1].end), text.find(". ", items[-1].end)) if i >= 0]
    said = text[items[0].start : min(stops) if stops else len(text)]
    if NOT_TREATED.search(said) and any(m.label in ("SITE", "HISTOLOGY") for m in items):
        return all(m.label in LESION_FACTS | {"PROCEDURE"} for m in items)  # "ISK L temple - benign, no tx."
    # "never biopsied" says what happened before, not that the lesion is left alone today
    if not any(m.label == "PROCEDURE" and not m.active and "historical" not in m.context
               and not NEVER.search(m.cue or "") for m in items):  # fmt: skip
        return False
    if any(m.label not in LESION_FACTS | {"PROCEDURE"} for m in items):
        return False
    sites = [m for m in items if m.label == "SITE"]
    if not sites:
        return False
    frame = current.get(sites[0].block)
    own = _own_sites(frame) if frame is not None else []
    return bool(own) and all(s.canonical != own[0].canonical for s in sites)


def _names_new_lesion(frame: Frame | None, waiting: list[Mention]) -> bool:
    """Facts waiting for a procedure that name a diagnosis the current lesion does not have."""
    if frame is None:
        return False
    own = {h.canonical for h in frame.histology if h not in waiting}
    return bool(own) and any(x.label == "HISTOLOGY" and x.active and x.canonical not in own for x in waiting)


# "Second, the right upper arm: a 1.0 cm firm cyst. Excised with a 1 mm margin": a sentence
# that opens with an ordinal announces the next lesion of a dictated list
ORDINAL_LEAD = re.compile(r"[ \t]*(?:first|second|third|fourth|fifth|next|lastly|finally)\b,?[^.;\n]{0,30}$", re.IGNORECASE)


# "Separately: while waiting between stages she showed me a new papule on the right forearm"
ASIDE_LEAD = re.compile(r"[ \t]*(?:separately|additionally|in addition|incidentally)\b[,:]?[^.;\n]{0,90}$", re.IGNORECASE)


def _announced(text: str, waiting: list[Mention]) -> bool:
    first = waiting[0].start
    begin = max(text.rfind(". ", 0, first) + 2, text.rfind("\n", 0, first) + 1)
    return ORDINAL_LEAD.match(text, begin, first) is not None or ASIDE_LEAD.match(text, begin, first) is not None


SITE_HEADING = re.compile(r"[ \t\-*•]*((?:[A-Za-z]+[ \t]){0,3}[A-Za-z]+):")


def _heads_line(text: str, waiting: list[Mention]) -> bool:
    """"Back lump: right upper back, 1.0 cm. Excised ...": a line that opens with a heading
    naming a new site describes the lesion of the procedure later on that line."""
    first = waiting[0]
    heading = SITE_HEADING.match(text, text.rfind("\n", 0, first.start) + 1)
    return first.label in ("SITE", "LATERALITY") and heading is not None and first.start == heading.start(1)


def _starts_next_lesion(frame: Frame | None, m: Mention) -> bool:
    """A site other than the current lesion's, named after that lesion's procedure."""
    if frame is None or not frame.procedures or m.label != "SITE" or not m.active or m.role == "donor":
        return False
    own = _own_sites(frame)
    return bool(own) and m.canonical != own[0].canonical and m.start > max(p.end for p in frame.procedures)


# "...; shave biopsy, AlCl3", "...; a 4 mm punch biopsy was done": the procedure opens the clause
CLAUSE_OPENS = re.compile(r";[ \t]*(?:(?:a|an|the)[ \t]+)?(?:\d+(?:\.\d+)?[ \t]*mm[ \t]+)?$", re.IGNORECASE)
# "...; it was excised", "...; this was shaved": the procedure points back at the lesion just described
REFERS_BACK = re.compile(r"\b(?:it|this|that|which|the lesion|this lesion|this one|that one)\b[^.;\n]{0,25}$", re.IGNORECASE)
# "The right cheek lesion was not frozen; I performed a shave biopsy of it": the same, said after the procedure
REFERS_AFTER = re.compile(r"[ \t]+(?:of|on|to)[ \t]+(?:it|this|that|this one|that one|the lesion|this lesion)\b", re.IGNORECASE)
NEAR_SITE = 40  # characters: "shave biopsy of the left forearm", "punch bx R shin"


def _own_site_after(items: list[Mention], proc: Mention) -> Mention | None:
    """The site a procedure names right after itself, before any other procedure."""
    for x in items:
        if x.start < proc.end:
            continue
        if x.label == "PROCEDURE" or x.start - proc.end > NEAR_SITE:
            return None
        if x.label == "SITE" and x.active:
            return x
    return None


SLOTS = ("procedures", "sites", "laterality", "histology", "path_histology", "sizes", "margins", "areas",
         "repairs", "counts", "mohs_stages", "mohs_blocks")  # fmt: skip


def _merge_listed(frames: list[Frame], first_block: int) -> list[Frame]:
    """ "PROCEDURES: 1) Excision of lipoma, right forearm. 2) Punch biopsy, left forearm." above
    the numbered write-ups: a frame of the summary whose procedure and site a labeled frame
    repeats is that frame's lesion, not one more."""
    kept: list[Frame] = []
    summary = [f for f in frames if f.block is None and f.start < first_block]
    for f in frames:
        own = [s for s in _own_sites(f) if s.start < first_block]
        host = None
        if len(summary) >= 2 and f in summary and own:  # a list of the session's procedures
            same = [g for g in frames if g.block is not None and _family(g.procedure) == _family(f.procedure)]
            # the one labeled frame of that procedure, or the one at the same site
            host = same[0] if len(same) == 1 else next(
                (g for g in same if _own_sites(g) and _own_sites(g)[0].canonical == own[0].canonical), None)
        if host is None:
            kept.append(f)
            continue
        for slot in SLOTS:
            for m in getattr(f, slot):
                if m not in getattr(host, slot):
                    getattr(host, slot).append(m)
        host.start = min(host.start, f.start)
    return kept


def _is_title(frame: Frame, first_block: int) -> bool:
    """A frame opened above the labeled blocks that names no site there ("EXCISION x3",
    "Technique: each lesion excised ..."); text after the blocks does not make it a lesion."""
    return frame.start < first_block and not [s for s in _own_sites(frame) if s.start < first_block]


def _pdt_debridement(frames: list[Frame]) -> list[Frame]:
    """ "targeted curettage of the hyperkeratotic lesions ... This completes photodynamic therapy
    with debridement": a curettage written before the PDT is named is its debridement too."""
    pdt = next((f for f in frames if f.procedure == "pdt"), None)
    if pdt is None:
        return frames
    kept = []
    for f in frames:
        if f is not pdt and f.procedure in ABSORBED_BY["pdt"] and f.block in (pdt.block, None):
            for slot in SLOTS:
                target = getattr(pdt, slot)
                target.extend(m for m in getattr(f, slot) if m not in target and slot != "procedures")
            continue
        kept.append(f)
    return kept


def _share_single_site(frames: list[Frame]) -> None:
    """ "1) shave biopsy of the right nasal tip ... 2) Mohs: Stage I ...": when every frame that
    names a site names the same one, the frames that name none are steps on that lesion."""
    named = [f for f in frames if _own_sites(f)]
    if not named or len({_own_sites(f)[0].canonical for f in named}) != 1:
        return
    if len(named) == 1 and len({s.canonical for s in _own_sites(named[0])}) > 2:
        return  # one frame naming sites all over the exam ("forehead x2, R cheek x2, scalp x3") is no single lesion
    source = named[0]
    for f in frames:
        if not _own_sites(f):
            for m in _own_sites(source)[:1] + source.laterality[:1]:
                f.add(m)


# Procedures whose code reads the lesion's size, and those that never do ("total treated area 190 sq cm").
SIZED = {"shave_removal", "excision"}
SIZELESS = {"excimer", "phototherapy", "pdt", "intralesional", "em"}


def _reads_sizes(frame: Frame) -> bool:
    """The frame's procedure is coded by a lesion's size: not a session service, and a
    destruction only of a malignant lesion (17000-17004 and 17110 count lesions instead: a
    cryotherapy of AKs that took in the exam's "Left lower cheek: 0.8 x 0.6 cm ... irritated
    SK" line does not keep that size from the cheek's shave removal)."""
    family = _family(frame.procedure)
    if family in SIZELESS:
        return False
    if family in PARED_FOR:
        return any(m.value in ("malignant", "in_situ") for m in frame.histology + frame.path_histology if m.active)
    return True


def _size_from_the_exam(frames: list[Frame], body: list[Mention]) -> None:
    """ "O: L temple: 6 mm waxy stuck-on papule" ... "P: 2. Shaved today flush with skin": a
    removal whose frame has no size takes the one size the exam wrote at its site and side,
    unless a frame that reads sizes holds it already."""
    held = {id(m) for f in frames if _reads_sizes(f) for m in f.sizes}
    for f in frames:
        own = _own_sites(f)
        if _family(f.procedure) not in SIZED or not own or [m for m in f.sizes if m.active and m.role != "defect"]:
            continue
        side = f.laterality[0].canonical if f.laterality else None
        found = []
        for m in body:
            if m.label != "SIZE" or not m.active or m.role not in (None, "size", "lesion") or id(m) in held:
                continue
            said = [x for x in body if x.sentence == m.sentence and x.active]
            if not any(x.label == "SITE" and x.canonical == own[0].canonical for x in said):
                continue
            if side and not any(x.label == "LATERALITY" and x.canonical == side for x in said):
                continue
            found.append(m)
        if len({tuple(m.value or ()) for m in found}) == 1:
            f.add(found[0])


ANESTHESIA_LINE = re.compile(r"[ \t>*\-]*(?:local[ \t]+)?(?:anesthesia|anaesthesia|anesthetic|anaesthetic)\b", re.IGNORECASE)


def _on_anesthesia_line(text: str, m: Mention, line_starts: list[int]) -> bool:
    """ "Anesthesia: 0.5 mL per shaved site" names a procedure but performs none."""
    # line start by bisect: a backwards scan per mention is quadratic on a huge one-line note
    return ANESTHESIA_LINE.match(text, line_starts[bisect.bisect_right(line_starts, m.start) - 1]) is not None


def _first_site_after(items: list[Mention], proc: Mention) -> Mention | None:
    sites = [m for m in items if m.label == "SITE" and m.active]
    after = [s for s in sites if s.start >= proc.start]
    return after[0] if after else (sites[-1] if sites else None)


def _site_since_last_procedure(items: list[Mention], proc: Mention, frame: Frame | None) -> Mention | None:
    """ "... then up on the scalp there is a 5 mm papule which I also sampled with a shave
    biopsy": a site named after the current frame's last procedure and before this one, in
    the same sentence, is this procedure's site."""
    if frame is None or not frame.procedures:
        return None
    last = max(p.end for p in frame.procedures)
    before = [x for x in items if x.label == "SITE" and x.active and last <= x.start < proc.start]
    return before[-1] if before else None


def _family(canonical: str | None) -> str | None:
    if canonical is None:
        return None
    return "biopsy" if canonical.startswith("biopsy") else canonical


def _one_place(new: str | None, own: str | None, regions: dict[str, frozenset[str]] | None) -> bool:
    """A site word that can name a frame's lesion: its own site, or a broad region around it
    named afterwards ("left upper back" ... "on the trunk at this size"). Not the other way
    round: "two lesions on the face: the nose ... the lip" are two lesions."""
    return new == own or own in (regions or {}).get(new or "", ())


def _opens_new_frame(frame: Frame, proc: Mention, site: Mention | None, regions: dict[str, frozenset[str]] | None = None) -> bool:
    own = _own_sites(frame)
    if frame.procedure == "ed_c" and proc.canonical == "destruction" and (site is None or not own or site.canonical == own[0].canonical):
        return False  # "ED&C, 3 cycles; final curetted defect 1.1 cm": the same lesion's defect
    if frame.procedure == "destruction" and _family(proc.canonical) == "cryotherapy" and proc.sentence in frame.sentences:
        return False  # "DESTRUCTION - actinic keratoses, liquid nitrogen": the method of that destruction
    if _family(frame.procedure) != _family(proc.canonical):
        return True
    # Several tumours of one Mohs session are labeled (Tumor A/B); an unlabeled second "Mohs"
    # with another site word ("under ankle-level infiltration") is the same tumour.
    if proc.canonical == "mohs":
        return False
    own = _own_sites(frame)  # sites copied into the frame from history or a stale plan do not count
    if site is not None and own and not _one_place(site.canonical, own[0].canonical, regions):
        return True
    return False


def _matching_frame(frames: list[Frame], proc: Mention, site: Mention | None, block: str | None,
                    regions: dict[str, frozenset[str]] | None = None) -> Frame | None:
    """An earlier frame of the block with the same procedure family and a compatible site."""
    for f in frames:
        if f.block != block or _family(f.procedure) != _family(proc.canonical):
            continue
        own = _own_sites(f)  # a copied-forward or historical site names no lesion of today
        if site is None or not own or _one_place(site.canonical, own[0].canonical, regions):
            return f
    return None


# Words that describe part of a larger procedure when that procedure is in the note:
# Mohs notes say "excision" and "frozen sections" for the Mohs layers.
# A nail matrix biopsy is often taken with a punch ("3 mm punch of the band origin in the matrix").
ABSORBED_BY = {"mohs": {"excision", "destruction", "ed_c"}, "pdt": {"destruction"}, "nail_biopsy": {"biopsy", "shave_removal"}}


def _absorbed(proc: Mention, frames: list[Frame], block: str | None) -> bool:
    for f in frames:
        # a PDT session titled above its numbered steps ("Proc: PDT w/ debridement" then
        # "2. Targeted curettage ...") absorbs the debridement of every step
        same_session = f.block == block or (f.block is None and f.procedure == "pdt")
        if same_session and f.procedure in ABSORBED_BY and _family(proc.canonical) in ABSORBED_BY[f.procedure]:
            return True
    return False


# "shave biopsies (deep saucerization)", "punch bx (4 mm punch)": the technique named again in
# brackets right after the procedure; only words may stand between them
BRACKETED = re.compile(r"[ \t]*\((?:[a-z]+[ \t-]+){0,3}$", re.IGNORECASE)


def _bracketed_restatement(text: str, proc: Mention, frame: Frame) -> bool:
    """A procedure of the frame's family named again in brackets right after the frame's own."""
    last = frame.procedures[-1] if frame.procedures else None
    if last is None or _family(last.canonical) != _family(proc.canonical) or not 0 <= proc.start - last.end <= 40:
        return False
    return BRACKETED.fullmatch(text, last.end, proc.start) is not None


BASE_AFTER = re.compile(r"[^.;\n]{0,30}?\b(?:of|to|at|on)\s+(?:the\s+)?(?:base|wound base|bed)\b", re.IGNORECASE)
BASE_BEFORE = re.compile(r"\b(?:base|bed)\b[^.;\n]{0,30}$", re.IGNORECASE)
BASE_HOSTS = {"shave_removal", "biopsy", "excision"}


def _treats_base(text: str, proc: Mention, frame: Frame) -> bool:
    """ "shave removal, then curettage + electrocautery of base": treating the base of the lesion
    just removed is part of that removal, not a destruction of its own."""
    if _family(proc.canonical) not in {"destruction", "ed_c", "cryotherapy"} or _family(frame.procedure) not in BASE_HOSTS:
        return False
    return bool(BASE_AFTER.match(text, proc.end) or BASE_BEFORE.search(text, max(0, proc.start - 40), proc.start))


# "... so I went back and shaved off the remainder flush at mid dermis to remove the lesion
# completely": a removal after the sample, not the sample's technique
REMOVES_THE_REST = re.compile(r"\b(?:remainder|the rest of|residual|remove[ds]? (?:the (?:lesion|rest) )?(?:completely|entirely|in full)|complete removal)\b",
                              re.IGNORECASE)  # fmt: skip


def _describes_biopsy(frame: Frame, proc: Mention, site: Mention | None, block: str | None, text: str = "") -> bool:
    """ "2. Shave biopsy, left forearm ... Tangential removal of a sample": inside one labeled
    block, a removal word with no site of its own describes the biopsy's technique (unless its
    sentence removes what the sample left)."""
    if not (block is not None and site is None and frame.block == block
            and frame.procedure == "biopsy_tangential" and proc.canonical == "shave_removal"):  # fmt: skip
        return False
    line_end = text.find("\n", proc.end)
    return not REMOVES_THE_REST.search(text, proc.start, len(text) if line_end < 0 else line_end)


def _own_sites(frame: Frame) -> list[Mention]:
    # "Hx: numerous AKs ... a bump on the left forearm x 6 weeks" above the procedures names no treated lesion's site
    return [s for s in frame.sites if s.active and s.role != "donor" and s.section != "history"]


def _dated_sites(frame: Frame) -> list[Mention]:
    return [s for s in frame.sites if s.context == ["historical"] and s.role != "donor" and s.section != "history"]


def _merge_steps(frames: list[Frame]) -> list[Frame]:
    """Numbered steps of one procedure ("1) biopsy ... 2) Mohs ... 3) repair") are not lesions:
    a labeled frame with no site of its own joins the earlier frame of the same procedure."""
    kept: list[Frame] = []
    for f in frames:
        host = None
        # (a site written under the label in a dated line, "A - sBCC R upper back (shave bx
        # 02/25/25)", still names the lesion: the label is a lesion of its own, not a step)
        if f.block is not None and not _own_sites(f) and not _dated_sites(f):
            host = next((g for g in reversed(kept) if _family(g.procedure) == _family(f.procedure)), None)
        if host is None:
            kept.append(f)
            continue
        for slot in ("procedures", "sites", "laterality", "histology", "path_histology", "sizes", "margins", "areas",
                     "repairs", "counts", "mohs_stages", "mohs_blocks"):  # fmt: skip
            for m in getattr(f, slot):
                if m not in getattr(host, slot):
                    getattr(host, slot).append(m)
        host.end = max(host.end, f.end)
        host.sentences |= f.sentences
    return kept


DESTRUCTION_METHODS = {"cryotherapy", "ed_c"}


def _merge_titles(frames: list[Frame]) -> list[Frame]:
    """A title ("DESTRUCTION OF PREMALIGNANT LESIONS") naming the family of the one procedure
    described below it is that procedure's frame: no site, size or count of its own."""
    kept: list[Frame] = []
    for i, f in enumerate(frames):
        nxt = frames[i + 1] if i + 1 < len(frames) else None
        is_title = (f.procedure == "destruction" and nxt is not None and nxt.procedure in DESTRUCTION_METHODS
                    and nxt.block == f.block and not _own_sites(f) and not f.sizes and not f.counts
                    and sum(1 for g in frames if g.procedure in DESTRUCTION_METHODS) == 1)  # fmt: skip
        if not is_title:
            kept.append(f)
            continue
        for slot in ("procedures", "histology", "path_histology", "laterality"):
            target = getattr(nxt, slot)  # appended: the method stays the frame's procedure
            target.extend(m for m in getattr(f, slot) if m not in target)
        nxt.start = min(nxt.start, f.start)
    return kept


def specimen_label(text: str, pos: int) -> str | None:
    """The specimen label written before a diagnosis on its line: "(2) BCC", "B. SK", "Specimen A:",
    "A - Intradermal nevus. B - Dermatofibroma" (A for the nevus, B for the dermatofibroma)."""
    line_start = text.rfind("\n", 0, pos) + 1
    found = None
    for m in PATH_LABEL.finditer(text, line_start, pos):
        found = next(g for g in m.groups() if g).upper()
    return found


LISTED = re.compile(r"(?:^|[:.;]\s*)((?:[A-H]|\d{1,2})(?:\s*(?:,|and|&)\s*(?:[A-H]|\d{1,2}))*)(?:\s+|\s*[-–—]\s*)(?=[A-Za-z])")


# "A-C, scalp: trichilemmal (pilar) cysts, x 3", "Specimens A through C: SKs": a range of labels opening the line
LABEL_RANGE = re.compile(r"[ \t]*(?:(?i:specimens?|parts?|lesions?)[ \t]+)?([A-H])[ \t]*(?:-|\u2013|\u2014|(?i:through|thru|to))[ \t]*([A-H])\b(?=[ \t]*[,:(])")


def _listed_labels(text: str, pos: int, labels: set[str]) -> list[str]:
    """The lesion labels that open the clause of a diagnosis ("A and B BCC", "C compound nevus",
    "A-C, scalp: pilar cysts"), when they are labels of this note."""
    line_start = text.rfind("\n", 0, pos) + 1
    # at the line's start or after a lead-in ("Path 04/11/2025: A-C, scalp: ...")
    for opening in [line_start] + [i + 1 for i in range(line_start, pos) if text[i] == ":"]:
        span = LABEL_RANGE.match(text, opening, pos)
        if span and span.group(1) < span.group(2):
            found = [chr(c) for c in range(ord(span.group(1)), ord(span.group(2)) + 1)]
            if all(x in labels for x in found):
                return found
    found: list[str] = []
    for m in LISTED.finditer(text, line_start, pos + 1):  # +1: the lookahead reads the diagnosis' first letter
        if text[m.end() : pos].count(".") == 0:  # the diagnosis is in this clause
            found = [x.upper() for x in re.findall(r"[A-H]|\d{1,2}", m.group(1))]
    return found if found and all(x in labels for x in found) else []


TISSUE_PROCEDURES = ("shave_removal", "excision", "mohs", "nail_biopsy")


def _tissue_frames(frames: list[Frame]) -> list[Frame]:
    """The frames whose procedure sends tissue to pathology (biopsies, removals, excisions)."""
    return [f for f in frames if f.procedure and (f.procedure.startswith("biopsy") or f.procedure in TISSUE_PROCEDURES)]


def _destroys_several(frame: Frame) -> bool:
    """A frame that treats several lesions without sending tissue ("LN2 to the seven AKs")."""
    return not _tissue_frames([frame]) and any(isinstance(c.value, int) and c.value > 1 for c in frame.counts if c.active)


# "Specimens 1 and 2 were placed together in container A; specimen 3 in container B"
CONTAINER = re.compile(r"\b(?:specimens?|lesions?|#)\s*(\d{1,2}(?:\s*(?:,|and|&)\s*\d{1,2})*)[^.;\n]{0,50}?\b(?:container|jar|bottle|vial|cassette)\s+([A-H])\b",
                       re.IGNORECASE)


# "(2) Right preauricular cheek: shave biopsy ... Specimen labeled A."
SPECIMEN_LETTER = re.compile(r"\b(?i:specimen|jar|container|bottle|vial|bx|biopsy)\s+(?i:labell?ed\s+|marked\s+)?([A-H])\b(?![.)]?\s*[-–])")


LAB_NUMBERS = re.compile(r"#?(\d)\s*[-–]\s*#?(\d)\s*=\s*([A-Ha-h])\s*[-–]\s*([A-Ha-h])\b")
_LAB_NUMBERS = start_filtered(LAB_NUMBERS)  # scanned over every note: start_filtered finds the same matches, faster


_CONTAINER = word_gated(CONTAINER)  # scanned over every note: the same matches, faster


def _path_label_aliases(text: str, frames: list[Frame]) -> dict[str, set[str]]:
    """A label the pathology uses (a container letter, a lab number) -> the note's lesion labels it stands for."""
    held: dict[str, set[str]] = {}
    for m in _CONTAINER.finditer(text):
        held.setdefault(m.group(2).upper(), set()).update(re.findall(r"\d{1,2}", m.group(1)))
    # "Path (lab #1-3 = a-c)": the lab's numbers for the note's letters, in order
    for m in _LAB_NUMBERS.finditer(text):
        first, last, a, z = int(m.group(1)), int(m.group(2)), m.group(3).upper(), m.group(4).upper()
        if last - first == ord(z) - ord(a) >= 1:
            for k in range(last - first + 1):
                held.setdefault(str(first + k), set()).add(chr(ord(a) + k))
    numbered = [f for f in frames if f.block and f.block.isdigit()]
    for f, after in zip(numbered, numbered[1:] + [None]):
        # the lesion's own lines: from the line of its procedure to the next lesion (or just past its last fact)
        start = text.rfind("\n", 0, f.start) + 1
        end = min(after.start if after is not None else len(text), f.end + 80)
        for m in SPECIMEN_LETTER.finditer(text, start, end):
            if not held.get(m.group(1)):
                held.setdefault(m.group(1), set()).add(f.block)
    return held


NOTIFIED_LINE = re.compile(r"[ \t>*-]*(?:(?:pt|patient)[ \t]+)?(?:called|phoned|notified|informed|spoke|told|left (?:a )?(?:message|vm))\b", re.IGNORECASE)


def _attach_pathology(text: str, frames: list[Frame], path: list[Mention], regions: dict[str, frozenset[str]] | None = None) -> None:
    hist = [m for m in path if m.label == "HISTOLOGY" and m.active and "uncertain" not in m.context]
    if not hist or not frames:
        return
    lesion_frames = [f for f in frames if f.procedure not in ("em",)]
    path_sites = [m for m in path if m.label == "SITE"]
    aliases = _path_label_aliases(text, lesion_frames)
    for h in hist:
        target = None
        if NOTIFIED_LINE.match(text, text.rfind("\n", 0, h.start) + 1) and any(
                g.canonical == h.canonical and g.start < h.start for g in hist):  # fmt: skip
            continue  # "Called pt 3/12: BCC -> appt for excision": the result reported above, told
        listed = _listed_labels(text, h.start, {f.block for f in lesion_frames if f.block})
        if len(listed) > 1:
            # "Path: A and B BCC, margins clear. C compound nevus": one result for several lesions
            for f in lesion_frames:
                if f.block in listed and h not in f.path_histology:
                    f.path_histology.append(h)
            continue
        label = listed[0] if listed else specimen_label(text, h.start)
        if label is not None:
            same = [f for f in lesion_frames if f.block == label]
            target = same[0] if same else None
            for other in same[1:]:  # "Punch biopsy, then excision" under one label: one lesion
                if h not in other.path_histology:
                    other.path_histology.append(h)
            if target is None and label in aliases:
                # "Specimens 1 and 2 were placed together in container A": the container's lesions
                held = [f for f in lesion_frames if f.block in aliases[label]]
                for f in held[1:]:
                    if h not in f.path_histology:
                        f.path_histology.append(h)
                target = held[0] if held else None
            elif target is None and len(label) == 1 and "A" <= label <= "H":
                # "Specimens A-C" for lesions numbered 1) 2) 3): the letters follow the numbers,
                # unless the report's line names another site ("parts lettered in order of receipt")
                target = next((f for f in lesion_frames if f.block == str(ord(label) - 64)), None)
                named = [m for m in path_sites if m.line == h.line and m.start < h.start]
                if target is not None and named and _own_sites(target) and not any(
                        _one_place(m.canonical, _own_sites(target)[0].canonical, regions) for m in named):
                    target = None  # matched by the site below
        if target is None:
            # the site mentioned closest before the diagnosis in the pathology text
            before = [s for s in path_sites if s.start <= h.start and h.start - s.end < 160]
            if before:
                site = before[-1].canonical
                # "right arm: epidermal inclusion cyst" for the lesion written up on the upper arm
                matches = [f for f in lesion_frames if _own_sites(f) and _one_place(site, _own_sites(f)[0].canonical, regions)]
                if not matches:
                    # "L cheek: SCC in situ" for a biopsy frame that also took the exam's sites
                    matches = [f for f in _tissue_frames(lesion_frames) if any(s.canonical == site for s in _own_sites(f))]
                if len(matches) > 1:
                    # "cryotherapy to the seven AKs listed above" shares the biopsied cheek's site
                    # words, but a frame of several lesions is not the one lesion sent to pathology
                    matches = [f for f in matches if not _destroys_several(f)] or matches
                if len(matches) >= 1:
                    target = matches[0]
                    for other in matches[1:]:  # the same lesion biopsied and then destroyed/excised
                        if h not in other.path_histology:
                            other.path_histology.append(h)
        if target is None and label is None and h.block is not None:
            # a pathology line inside the last labeled block, naming no label or site of its own
            target = next((f for f in lesion_frames if f.block == h.block), None)
        if target is None and len(lesion_frames) == 1:
            target = lesion_frames[0]
        if target is None and label is None and not [s for s in path_sites if s.start <= h.start]:
            # "ADDENDUM: path = nodular BCC" after one lesion written up as "Shave removal,
            # saucerized ...": every frame that sent tissue names the same site
            tissue = _tissue_frames(lesion_frames)
            firsts = {_own_sites(f)[0].canonical for f in tissue if _own_sites(f)}
            if tissue and len(firsts) == 1 and all(_own_sites(f) for f in tissue):
                for f in tissue:
                    if h not in f.path_histology:
                        f.path_histology.append(h)
                continue
        if target is not None and h not in target.path_histology:
            target.path_histology.append(h)
            if not _own_sites(target):
                # "Pathology reviewed: outside shave biopsy - SCC, left lateral thigh" above a
                # Mohs report that names no site of its own: the report's site is the tumour's
                line = (h.line,)
                for m in path:
                    if m.label in ("SITE", "LATERALITY") and m.line in line:
                        target.add(m)


@Language.factory("derm_frames", assigns=["doc._.frames"], default_config={})
def make_frames(nlp, name):  # untyped: spaCy validates factory signatures
    """Factory for the frame builder."""
    return FrameBuilder()


class FrameBuilder(ResourceBacked):
    """Stores `doc._.frames` (list[Frame]) built from the entity group."""

    resource_files = ("site_lexicon.json", "findings_lexicon.json", "shared_patterns.json")

    def __init__(self) -> None:
        self.init_resources()

    def load_resources(self) -> None:
        self.regions = load_lexicons(self.resource_dir).regions

    def __call__(self, doc: Doc) -> Doc:
        fields = doc.user_data[MENTION_FIELDS_KEY] = _mention_fields(doc)
        doc._.frames = build_frames(note_text(doc), _mentions(fields), self.regions)
        return doc
