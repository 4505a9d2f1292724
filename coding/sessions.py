"""Per-session rules: destruction counts, skin tags, I&D, nails, intralesional injection,
phototherapy and excimer, PDT, paring/acne surgery/peels, E/M, and drug supply."""

from __future__ import annotations

import math
import re

from dermcoder.coding import facts
from dermcoder.coding.checkboxes import stated
from dermcoder.coding.cosmetic import medical_frames
from dermcoder.coding.icd_map import icd_code
from dermcoder.coding.lesions import DESTRUCTIONS, frames_with
from dermcoder.coding.rulebook import Candidate, CodingContext, RuleRecord, handler
from dermcoder.nlp.context import copied_forward_regions
from dermcoder.nlp.frames import Frame, Mention, billing_spans
from dermcoder.nlp.numbers import WORD_PATTERN, to_int
from dermcoder.nlp.start_filter import start_filtered, word_gated

AK_NOUNS = ("ak", "actinic", "keratos", "lesion", "spot", "site", "hak", "papule")
BENIGN_NOUNS = ("wart", "verruc", "lesion", "molluscum", "mollusca", "sk", "seborrheic", "milia", "papule", "keratos", "condylom", "spot", "growth")
EXAM_SECTIONS = ("findings", "history", "present_illness")
WARTS = {"common_wart", "plantar_wart", "anogenital_wart"}
TAG_NOUNS = ("tag", "acrochord", "lesion", "papule", "growth")
BENIGN_DESTRUCTION = {"common_wart", "plantar_wart", "anogenital_wart", "molluscum", "sk", "isk", "milia"}
TAG_PROCS = DESTRUCTIONS | {"skin_tag_removal", "excision", "shave_removal"}


def note_has(ctx: CodingContext, canonicals: set[str]) -> list[Mention]:
    """Active, certain diagnosis mentions of these kinds anywhere in the note."""
    return [m for m in ctx.mentions if m.label == "HISTOLOGY" and m.active and "uncertain" not in m.context and m.canonical in canonicals]


def _active_hist(frame: Frame, canonicals: set[str]) -> list[Mention]:
    return [m for m in frame.histology + frame.path_histology if m.active and "uncertain" not in m.context and m.canonical in canonicals]


def _period_sentence(text: str, start: int, end: int) -> tuple[int, int]:
    """The stretch of text around [start, end) bounded by a full stop or a line break (not a semicolon)."""
    left = max(text.rfind(". ", 0, start), text.rfind("\n", 0, start)) + 1
    stops = [i for i in (text.find(". ", end), text.find("\n", end)) if i >= 0]
    return left, (min(stops) if stops else len(text))


def _with_list_below(text: str, start: int, end: int) -> tuple[int, int]:
    """A procedure line that ends with a colon heads the list under it, up to the next blank
    line ("AKs - LN2, FTC x2 ea:" then "  fhd x4" / "  R cheek x3"): the list is its sentence."""
    line_end = text.find("\n", end)
    line_end = len(text) if line_end < 0 else line_end
    if not text[start:line_end].rstrip().endswith(":"):
        return start, end
    blank = text.find("\n\n", line_end)
    return start, len(text) if blank < 0 else blank


# "Pt also has 3 scaly AKs on the dorsal hands. Treated with LN2 cryotherapy by me": a procedure
# sentence that opens by pointing back treats what the sentence before it counted
POINTS_BACK = re.compile(r"[ \t]*(?:treated|these|those|they|all|each|both|which|the lesions?|lesions?)\b", re.IGNORECASE)


def _counts_referred_to(ctx: CodingContext, spans: list[tuple[int, int]]) -> list[Mention]:
    found: list[Mention] = []
    for start, _end in spans:
        if not POINTS_BACK.match(ctx.text, start) or start < 2:
            continue
        before, _ = _period_sentence(ctx.text, start - 2, start - 2)
        found += [m for m in ctx.mentions if m.label == "COUNT" and m.active and before <= m.start < start]
    return found


def _session_count(ctx: CodingContext, frames: list[tuple[int, Frame]], nouns: tuple[str, ...],
                   own_sentence_only: bool = False) -> facts.Fact | None:
    """Lesions treated this session: counts written with the procedure itself ("the nine facial
    lesions were treated with LN2") win over counts of what the exam found (which are not
    used at all with own_sentence_only)."""
    counts: list[Mention] = []
    sites: list[Mention] = []
    for _, f in frames:
        counts += [m for m in f.counts if m.active]
        sites += f.sites
    found = None if own_sentence_only else _treatment_total(counts, nouns, sites)
    if found is not None:
        return found
    # the procedure's own sentence, read past semicolons: "LN2: L forehead x3; R cheek x2; ..." is one list
    spans = [_with_list_below(ctx.text, *_period_sentence(ctx.text, p.start, p.end)) for _, f in frames for p in f.procedures if p.active]
    with_procedure = [m for m in counts if any(a <= m.start < b for a, b in spans)]
    if not with_procedure:
        with_procedure = _counts_referred_to(ctx, spans)
    found = facts.count_fact(with_procedure, nouns, sites) if with_procedure else None
    if own_sentence_only:
        return found
    return found or facts.count_fact(counts, nouns, sites)


def _dx(ctx: CodingContext, mentions: list[Mention]) -> list[str]:
    """ICD codes of these diagnosis mentions (by their own site), registered for the claim."""
    from dermcoder.coding.icd_map import icd_code

    codes: list[str] = []
    for m in mentions:
        key = facts.histology_key(m)
        code = icd_code(key, None) if key else None
        if code and code not in codes:
            codes.append(code)
            ctx.note_dx.append((code, m, 0.8))
    return codes


def facts_malignant() -> set[str]:
    return {"bcc", "scc", "sccis", "mis", "melanoma", "merkel", "other_skin_cancer"}


def _names_other(frame: Frame, canonicals: set[str]) -> bool:
    """The procedure's own sentence names another diagnosis and none of these."""
    named = facts.named_with_procedure(frame)
    return bool(named) and not any(m.canonical in canonicals for m in named)


@handler("destruction_premalignant")
def destruction_premalignant(ctx: CodingContext, rule: RuleRecord) -> None:
    """17000 / 17003 x (n-1) / 17004 by the number of premalignant lesions destroyed."""
    frames = [(i, f) for i, f in frames_with(ctx, *DESTRUCTIONS) if _active_hist(f, {"ak"}) and not _names_other(f, {"ak"})]
    if not frames and note_has(ctx, {"ak"}) and not note_has(ctx, BENIGN_DESTRUCTION | {"skin_tag"}):
        # diagnosis and method on different lines ("Dx: AKs" ... "Method: cryosurgery")
        frames = [(i, f) for i, f in frames_with(ctx, *DESTRUCTIONS) if not _active_hist(f, facts_malignant())]
    if not frames:
        return
    count = _session_count(ctx, frames, AK_NOUNS)
    evidence = [f.procedures[0] for _, f in frames] + _active_hist(frames[0][1], {"ak"})[:1]
    sites = {site.value for _, f in frames if (site := facts.site_fact(f)) is not None}
    if count is None and len(frames) > 1 and len(sites) == len(frames):
        n = len(frames)  # one row per treated lesion ("| 3 | R forearm | LN2 |", "| 4 | L temple | LN2 |")
    elif count is None:
        n = 1
        ctx.query("lesion_count", "Premalignant destruction: number of lesions treated not documented; coded as one", evidence)
    else:
        n = int(count.value)
        evidence += count.evidence
    idx = [i for i, _ in frames]
    how = f"{count.note} = {n} lesions" if count and len(count.evidence) > 1 else f"{n} lesion(s)"
    # The lesion class keeps AK lines apart from benign-destruction lines of the same frame.
    dx = _dx(ctx, note_has(ctx, {"ak"}))
    if n >= 15:
        ctx.add(Candidate("17004", 1, rule.id, f"{rule.id}: {how} (15 or more) -> 17004 alone", evidence=evidence, frames=idx,
                          site="premalignant lesions", diagnoses=dx))  # fmt: skip
        return
    ctx.add(Candidate("17000", 1, rule.id, f"{rule.id}: {how}: first lesion -> 17000", evidence=evidence, frames=idx,
                      alternatives=[("17004", 0.03, "if 15 or more lesions")], site="premalignant lesions", diagnoses=dx))  # fmt: skip
    if n > 1:
        ctx.add(Candidate("17003", n - 1, rule.id, f"{rule.id}: lesions 2-{n} -> 17003 x {n - 1}", evidence=evidence, frames=idx,
                          site="premalignant lesions", diagnoses=dx))  # fmt: skip


@handler("destruction_benign")
def destruction_benign(ctx: CodingContext, rule: RuleRecord) -> None:
    """17110 (up to 14) or 17111 (15 or more) benign lesions, one unit per session."""
    frames = [(i, f) for i, f in frames_with(ctx, *DESTRUCTIONS) if _active_hist(f, BENIGN_DESTRUCTION)
              and not _active_hist(f, {"ak"})]  # fmt: skip
    # A frame naming both AKs and benign lesions treats the benign ones only when a sentence
    # that does the destruction names them ("LN2 to 6 AKs and 3 ISKs"), not when they are
    # only seen on exam ("SKs several on back - benign" beside "AKs - 13 total, LN2").
    mixed = [(i, f) for i, f in frames_with(ctx, *DESTRUCTIONS) if _active_hist(f, BENIGN_DESTRUCTION) and _active_hist(f, {"ak"})
             and {m.sentence for m in _active_hist(f, BENIGN_DESTRUCTION)} & {p.sentence for p in f.procedures if p.active}]
    if not frames:
        # a frame naming both AKs and benign lesions is the benign session only when no frame
        # treats the benign lesions on their own ("AKs + ISKs" above "LN2 to ISKs x2")
        frames = mixed
    else:
        mixed = []
    if not frames and note_has(ctx, BENIGN_DESTRUCTION) and not note_has(ctx, {"ak"}):
        # "Exam: 4 plantar warts ..." then "Tx today: pared, LN2 to all 4": the warts were named
        # in the exam, the destruction names none
        frames = [(i, f) for i, f in frames_with(ctx, *DESTRUCTIONS) if not [m for m in f.histology if m.active]]
    if not frames:
        return
    kept = medical_frames(ctx, frames)
    if len(kept) < len(frames):
        ctx.warn("cosmetic", f"{rule.id}: destruction documented as cosmetic: not coded")
        mixed = [x for x in mixed if x in kept]
    frames = kept
    if not frames:
        return
    nouns = ("wart", "verruc", "molluscum", "mollusca", "sk", "seborrheic", "milia", "condylom") if mixed else BENIGN_NOUNS
    count = _by_kind(ctx, frames, nouns) or _session_count(ctx, frames, nouns)
    n = int(count.value) if count else 1
    hist = _active_hist(frames[0][1], BENIGN_DESTRUCTION)[:1]
    evidence = [f.procedures[0] for _, f in frames] + hist + (count.evidence if count else [])
    code = "17111" if n >= 15 else "17110"
    # warts pared before the freezing are among the lesions destroyed (their paring is not coded)
    pared = [m for _, f in frames_with(ctx, "paring") if _wart_paring(f) for m in _active_hist(f, WARTS)]
    kinds = [m for _, f in frames for m in _active_hist(f, BENIGN_DESTRUCTION)] + pared or note_has(ctx, BENIGN_DESTRUCTION)
    ctx.add(Candidate(code, 1, rule.id, f"{rule.id}: {n} benign lesion(s) ({hist[0].text if hist else ''}) -> {code}",
                      evidence=evidence, frames=[i for i, _ in frames], site="benign lesions", diagnoses=_dx(ctx, kinds),
                      alternatives=[("17111" if code == "17110" else "17110", 0.03, "other count band")]))  # fmt: skip


def _by_kind(ctx: CodingContext, frames: list[tuple[int, Frame]], nouns: tuple[str, ...]) -> facts.Fact | None:
    """ "PROCEDURE 1: Curettage of molluscum ... Total 9" and "PROCEDURE 2: Cryotherapy to verruca
    vulgaris ... Total warts treated: six": one session of benign destruction, whatever the
    method, counts every lesion; frames treating different kinds, each with its own count, add up."""
    if len(frames) < 2:
        return None
    kinds = [{m.canonical for m in _active_hist(f, BENIGN_DESTRUCTION)} for _, f in frames]
    if any(not k for k in kinds) or any(kinds[a] & kinds[b] for a in range(len(kinds)) for b in range(a + 1, len(kinds))):
        return None
    counts = [_session_count(ctx, [frame], nouns, own_sentence_only=True) or _treatment_total([m for m in frame[1].counts if m.active], nouns)
              for frame in frames]  # fmt: skip
    if any(c is None for c in counts) or len({id(m) for c in counts for m in c.evidence}) < sum(len(c.evidence) for c in counts):
        return None
    total = sum(int(c.value) for c in counts)
    return facts.Fact(total, [m for c in counts for m in c.evidence], " + ".join(f"{int(c.value)}" for c in counts))


def _treatment_total(counts: list[Mention], nouns: tuple[str, ...], sites: list[Mention] | None = None) -> facts.Fact | None:
    """The last total written for the treatment, not for the exam ("Number of lesions: 12" ...
    attestation: "Total lesions treated today: 16" is the corrected one)."""
    totals = [m for m in counts if m.role == "total" and m.section not in EXAM_SECTIONS]
    return facts.count_fact(totals[-1:], nouns, sites) if totals else None


@handler("destruction_vascular")
def destruction_vascular(ctx: CodingContext, rule: RuleRecord) -> None:
    """17106-17108 by treated area."""
    for i, frame in frames_with(ctx, *DESTRUCTIONS):
        if not _active_hist(frame, {"hemangioma", "port_wine"}):
            continue
        area = facts.defect_area(frame, ctx.text)
        if area is None:
            ctx.query("area", "Vascular lesion treatment: treated area not documented", frame.procedures[:1])
            continue
        code = "17106" if area.value < 10 else "17107" if area.value <= 50 else "17108"
        ctx.add(Candidate(code, 1, rule.id, f"{rule.id}: treated area {area.value:g} sq cm -> {code}", evidence=frame.procedures[:1] + area.evidence, frames=[i]))


@handler("skin_tags")
def skin_tags(ctx: CodingContext, rule: RuleRecord) -> None:
    """11200 for up to 15 tags, + 11201 per further 10 or part."""
    frames = [(i, f) for i, f in frames_with(ctx, *TAG_PROCS) if _active_hist(f, {"skin_tag"})]
    # "| Right axilla | 8 | snip excision |": rows of a tag removal name no diagnosis of their
    # own; with them, a destruction that took the note's "acrochordons" is not a tag removal
    removals = [(i, f) for i, f in frames_with(ctx, "skin_tag_removal")
                if _active_hist(f, {"skin_tag"}) or not [m for m in f.histology + f.path_histology if m.active]]  # fmt: skip
    if frames and removals:
        frames = removals
    if not frames and note_has(ctx, {"skin_tag"}):
        frames = [(i, f) for i, f in frames_with(ctx, *TAG_PROCS) if not _active_hist(f, BENIGN_DESTRUCTION | {"ak"})]
    if not frames:
        return
    kept = medical_frames(ctx, frames)
    if len(kept) < len(frames):
        ctx.warn("cosmetic", f"{rule.id}: skin tag removal documented as cosmetic: not coded")
    frames = kept
    if not frames:
        return
    for i, _ in frames:
        ctx.consumed.add(i)
    count = _session_count(ctx, frames, TAG_NOUNS)
    n = int(count.value) if count else 1
    if count is None:
        ctx.query("lesion_count", "Skin tags: number removed not documented; coded as up to 15", frames[0][1].procedures[:1])
    evidence = [f.procedures[0] for _, f in frames] + (count.evidence if count else [])
    # the tags' own diagnosis, wherever the note names it (rows of a table name none)
    dx = _dx(ctx, note_has(ctx, {"skin_tag"}))
    ctx.add(Candidate("11200", 1, rule.id, f"{rule.id}: {n} tag(s): first 15 -> 11200", evidence=evidence, frames=[i for i, _ in frames], diagnoses=dx))
    extra = facts.ceil_units(n, 15, 10)
    if extra:
        ctx.add(Candidate("11201", extra, rule.id, f"{rule.id}: ({n} - 15) / 10 rounded up = {extra}", evidence=evidence,
                          frames=[i for i, _ in frames], diagnoses=list(dx)))  # fmt: skip


COMPLICATED = re.compile(r"loculat|packing|packed|pack(?:ed)? with|drain (?:placed|left)|penrose|wick|(?<!un)complicated|multiple abscess|extensive|counter[- ]?incision|septations", re.IGNORECASE)


SEVERAL_DRAINED = re.compile(r"\b(?:I&D|I\s?and\s?D|incis(?:ed|ion)\s+and\s+drain(?:ed|age))\b[^.\n]{0,15}\b(?:both|all|each)\b", re.IGNORECASE)


DRAINED_NOUNS = ("abscess", "boil", "furuncle", "carbuncle", "cyst", "lesion", "site")


def _counts_drained(count: Mention) -> bool:
    return count.canonical is None or any(n in count.canonical for n in DRAINED_NOUNS)


def _blanked(text: str, spans: list[tuple[int, int]]) -> str:
    """The text with these spans blanked out (same length: evidence offsets stay right)."""
    for a, b in spans:
        text = text[:a] + " " * (b - a) + text[b:]
    return text


@handler("incision_drainage")
def incision_drainage(ctx: CodingContext, rule: RuleRecord) -> None:
    """10060 simple/single; 10061 complicated or multiple."""
    frames = frames_with(ctx, "incision_drainage")
    if not frames:
        return
    # (not the billing summary's "10061 ... complicated or multiple": a claim, not the procedure)
    text = _blanked(ctx.text, billing_spans(ctx.text))
    region = " ".join(text[f.start : f.end + 300] for _, f in frames)
    complicated = None
    blank_template = False
    for sentence in re.split(r"(?<=[.;\n])", region):
        hit = COMPLICATED.search(sentence)
        if hit and re.search(r"\[ ?\]|_{3,}|\*{3}", sentence):
            blank_template = True  # an unfilled template field says nothing
            continue
        if hit and not re.search(r"\b(no|not|without|none|nor|incorrect|wrong)\b", sentence, re.IGNORECASE):
            # "Packing: iodoform gauze placed" then "Provider comment: no packing placed -
            # template default not cleared": the template line is withdrawn
            word = hit.group(0).lower()[:4]
            if re.search(rf"\b(?:no|not)\b[^.\n]{{0,12}}\b{re.escape(word)}", region, re.IGNORECASE):
                continue
            complicated = hit
            break
    multiple = (len({(facts.site_fact(f).value if facts.site_fact(f) else None) for _, f in frames}) > 1
                # "abscesses x2 ... I&D both today": one frame, several abscesses
                # ("2 tender nodules L axilla" injected beside a drained abscess count no abscess)
                or any(c.active and isinstance(c.value, int) and c.value >= 2 and _counts_drained(c) for _, f in frames for c in f.counts)
                or SEVERAL_DRAINED.search(region) is not None)  # fmt: skip
    code = "10061" if complicated or multiple else "10060"
    if blank_template and not complicated:
        ctx.query("id_complexity", "I&D: simple vs complicated left blank in the template; coded as simple",
                  [f.procedures[0] for _, f in frames])  # fmt: skip
    why = f"complicated ({complicated.group(0)})" if complicated else "multiple sites" if multiple else "simple, single"
    ctx.add(Candidate(code, 1, rule.id, f"{rule.id}: I&D {why} -> {code}", evidence=[f.procedures[0] for _, f in frames],
                      frames=[i for i, _ in frames], alternatives=[("10061" if code == "10060" else "10060", 0.1, "simple vs complicated")]))  # fmt: skip


NAIL_WORDS = ("nail", "toenail", "fingernail", "lesion")
# "three borders on two toes", "both great toes": the digits treated count the nails
DIGITS_TREATED = re.compile(rf"\b(?:on|of)\s+(?:the\s+)?({WORD_PATTERN}|\d)\s+(?:great\s+|big\s+)?(?:toes|fingers|digits|halluces)\b", re.IGNORECASE)


def _digits_treated(ctx: CodingContext, done: list[Mention]) -> facts.Fact | None:
    """The number of digits named in the procedure's own sentence, when the count is of borders."""
    for p in done:
        left, right = _period_sentence(ctx.text, p.start, p.end)
        m = DIGITS_TREATED.search(ctx.text, left, right)
        n = to_int(m.group(1)) if m else None
        if n:
            return facts.Fact(float(n), [p])
    return None


def _sides(frames: list[tuple[int, Frame]]) -> set[str]:
    return {side.value for _, f in frames if (side := facts.side_fact(f, None)) is not None}


def _other_side(these: list[tuple[int, Frame]], those: list[tuple[int, Frame]]) -> bool:
    """Both sets of frames name their side, and no side is shared ("Left great toe: ...
    matrixectomy" and "Right great toe: partial nail avulsion only")."""
    mine, theirs = _sides(these), _sides(those)
    return bool(mine) and bool(theirs) and not mine & theirs


@handler("nails")
def nails(ctx: CodingContext, rule: RuleRecord) -> None:
    """Avulsion 11730 + 11732 per further nail; matrixectomy 11750 per nail; debridement 11720/11721; biopsy 11755."""
    matrix_sentences = {p.sentence for _, f in frames_with(ctx, "matrixectomy") for p in f.procedures
                        if p.canonical == "matrixectomy" and p.active}  # fmt: skip
    for proc, code_first in (("nail_avulsion", "11730"), ("matrixectomy", "11750"), ("nail_biopsy", "11755")):
        frames = frames_with(ctx, proc)
        if not frames:
            continue
        # a nail count written with the procedure itself ("five nails in all, were debrided"
        # two sentences on counts the debridement, not this avulsion)
        count = _session_count(ctx, frames, NAIL_WORDS, own_sentence_only=True)
        # "R: partial avulsion ... L: partial avulsion ...": one nail per sentence that does it
        done = [p for _, f in frames for p in f.procedures if p.canonical == proc and p.active]
        said = {p.sentence for p in done}
        # ... but under a labeled procedure ("#2 Partial nail avulsion, left great toe" then
        # "Narrow lateral strip freed, split and avulsed") a sentence naming no side goes on about
        # the nail its label's sentence named; the sides named also count the nails ("On the
        # right, ... phenol matrixectomy. On the left, the same thing ...")
        sided = {m.sentence: m.canonical for m in ctx.mentions if m.label == "LATERALITY" and m.canonical in ("left", "right") and m.sentence in said}
        if len(said) > 1 and sided:
            sided_blocks = {p.block for p in done if p.sentence in sided and p.block is not None}
            said = {p.sentence for p in done if p.sentence in sided or p.block is None or p.block not in sided_blocks}
        per_side = len(set(sided.values())) if proc == "matrixectomy" else 0
        if count is None and not (proc == "nail_avulsion" and said & matrix_sentences):  # (the matrixectomy there includes it)
            count = _digits_treated(ctx, done)
        n = int(count.value) if count and count.value <= 10 else max(len(frames), len(said) if proc == "nail_avulsion" else per_side)
        evidence = [f.procedures[0] for _, f in frames] + (count.evidence if count else [])
        idx = [i for i, _ in frames]
        if proc == "nail_avulsion":
            if count is None and len(said) > 1:
                n -= len(said & matrix_sentences)  # the matrixectomy of that nail includes its avulsion
            if n < 1 or (matrix_sentences and n == 1 and len(said) <= 1 and (said <= matrix_sentences or not _other_side(frames, frames_with(ctx, "matrixectomy")))):
                continue  # the matrixectomy of the same nail includes its avulsion
            ctx.add(Candidate("11730", 1, rule.id, f"{rule.id}: nail avulsion, first nail", evidence=evidence, frames=idx))
            if n > 1:
                ctx.add(Candidate("11732", n - 1, rule.id, f"{rule.id}: {n} nails -> {n - 1} further", evidence=evidence, frames=idx))
        else:
            ctx.add(Candidate(code_first, n, rule.id, f"{rule.id}: {proc.replace('_', ' ')} x {n}", evidence=evidence, frames=idx))
    frames = frames_with(ctx, "nail_debridement")
    if frames:
        count = _session_count(ctx, frames, NAIL_WORDS)
        n = int(count.value) if count else 1
        code = "11721" if n >= 6 else "11720"
        ctx.add(Candidate(code, 1, rule.id, f"{rule.id}: debridement of {n} nail(s) -> {code}",
                          evidence=[f.procedures[0] for _, f in frames] + (count.evidence if count else []),
                          frames=[i for i, _ in frames]))  # fmt: skip


CONC = re.compile(r"(\d+(?:\.\d+)?)\s*mg\s*/\s*m[lL]", re.IGNORECASE)
ML = re.compile(r"(\d+(?:\.\d+)?)\s*(?:m[lL]|cc)\b(?!\s*/)", re.IGNORECASE)
PATIENT_SUPPLIED = re.compile(r"patient[- ]supplied|supplied by (?:the )?patient|pt[- ]supplied|patient'?s own|brought (?:in )?(?:her|his|their )?own|"
                              r"pharmacy[- ]supplied|from (?:her|his|their) (?:specialty )?pharmacy|not (?:from )?(?:the )?clinic (?:supply|stock)|own vial", re.IGNORECASE)


@handler("intralesional")
def intralesional(ctx: CodingContext, rule: RuleRecord) -> None:
    """11900 (up to 7 lesions) / 11901 (more than 7); J3301 per 10 mg when the clinic supplied it."""
    frames = frames_with(ctx, "intralesional")
    if not frames:
        return
    count = _session_count(ctx, frames, ("lesion", "keloid", "scar", "cyst", "plaque", "papule", "patch", "site", "area", "nodule", "spot"))
    n = int(count.value) if count else 1
    if count is None:
        ctx.query("lesion_count", "Intralesional injection: number of lesions not documented; coded as up to 7", frames[0][1].procedures[:1])
    code = "11901" if n > 7 else "11900"
    evidence = [f.procedures[0] for _, f in frames] + (count.evidence if count else [])
    ctx.add(Candidate(code, 1, rule.id, f"{rule.id}: {n} lesion(s) injected -> {code}", evidence=evidence, frames=[i for i, _ in frames],
                      alternatives=[("11901" if code == "11900" else "11900", 0.05, "other lesion-count band")]))  # fmt: skip
    if not re.search(r"triamcinolone|kenalog|\bTAC\b|\bILK\b", ctx.text, re.IGNORECASE):
        return
    if stated(PATIENT_SUPPLIED, ctx.text):
        ctx.warn("drug_not_supplied", f"{rule.id}: the drug was supplied by the patient/pharmacy: no J-code")
        return
    mg = _triamcinolone_mg(_without_copies(ctx.text))
    if mg is None:
        ctx.query("other", "Triamcinolone dose (mg) not documented: J3301 units cannot be counted")
        return
    units = max(1, math.ceil(round(mg / 10.0, 6)))
    ctx.add(Candidate("J3301", units, rule.id, f"{rule.id}: triamcinolone {mg:g} mg / 10 mg per unit rounded up = {units}",
                      evidence=[f.procedures[0] for _, f in frames]))  # fmt: skip


def _without_copies(text: str) -> str:
    """The note with its copied-forward stretches blanked (same length, so offsets hold): a dose
    copied from an earlier visit ("Kenalog-10 1.5 mL total") is not today's."""
    for start, end in copied_forward_regions(text):
        text = text[:start] + " " * (end - start) + text[end:]
    return text


def _triamcinolone_mg(text: str) -> float | None:
    text = re.sub(r"milligrams?", "mg", text, flags=re.IGNORECASE)
    text = re.sub(r"milliliters?|millilitres?", "mL", text, flags=re.IGNORECASE)
    text = re.sub(r"mg\s+per\s+mL", "mg/mL", text, flags=re.IGNORECASE)
    # a stated total wins; else the doses written per site ("0.3 mL (12 mg) ... 0.5 mL (20 mg)") add up
    # (the last one: "chest: 0.75 mL total = 30 mg" ... "Total triamcinolone 33 mg into four keloids")
    # ("3.0 mL total (15 mg)"; a strength "= 5 mg/mL" is no dose)
    totals = list(re.finditer(r"(?:total(?: dose)?(?: of)?(?: (?:triamcinolone|kenalog|TAC|ILK|steroid))?|totaling|totalling)\s*[:=(]?\s*(\d+(?:\.\d+)?)\s*mg\b(?!\s*/)"
                              r"|(\d+(?:\.\d+)?)[ \t]*mg[ \t]*(?:total|in total)", text, re.IGNORECASE))  # fmt: skip
    if totals:
        return float(next(g for g in totals[-1].groups() if g))
    per_site = re.findall(r"m[lL]\s*\(\s*(\d+(?:\.\d+)?)\s*mg\s*\)", text)
    if per_site:
        return sum(float(v) for v in per_site)
    # "= 15 mg", "= 2.0 mL / 20 mg" (volume and dose)
    stated_mg = re.search(r"(?:which is|=|equals?)\s*(?:\d+(?:\.\d+)?\s*m[lL]\s*[/,]\s*)?(\d+(?:\.\d+)?)\s*mg\b(?!\s*/)", text, re.IGNORECASE)
    if stated_mg:
        return float(stated_mg.group(1))
    dilutions = list(CONC.finditer(text))
    if len({m.group(1) for m in dilutions}) >= 2:
        return _mg_by_dilution(text, dilutions)
    conc = CONC.search(text)
    if conc:
        vol = re.search(r"(?:total(?: volume)?(?: of)?\s*[:=]?\s*(\d+(?:\.\d+)?)\s*(?:m[lL]|cc))|((\d+(?:\.\d+)?)\s*(?:m[lL]|cc)\s*(?:total|in total))", text, re.IGNORECASE)
        if vol:
            ml = float(vol.group(1) or vol.group(3))
            return float(conc.group(1)) * ml
        vols = [float(v) for v in ML.findall(text[conc.end() : conc.end() + 200])]
        if vols:
            return float(conc.group(1)) * vols[0]
    return None


# "0.1 mL ea." after "cysts 5:" on its line: a volume per lesion, times the lesions of the line
EACH_AFTER = re.compile(r"\s*(?:ea\.?|each|per (?:lesion|cyst|keloid|site))\b", re.IGNORECASE)
LINE_COUNT = re.compile(r"\b(\d{1,2})\s*:|\bx\s?(\d{1,2})\b")


def _mg_by_dilution(text: str, dilutions: list[re.Match]) -> float | None:
    """ "keloids 3: TAC 40 mg/mL, 0.5 mL total. cysts 5: TAC 2.5 mg/mL, 0.1 mL ea.": each
    strength times the volume written after it, up to the next strength."""
    mg = 0.0
    for k, conc in enumerate(dilutions):
        end = dilutions[k + 1].start() if k + 1 < len(dilutions) else min(len(text), conc.end() + 200)
        vol = ML.search(text, conc.end(), end)
        if vol is None:
            return None
        ml = float(vol.group(1))
        if EACH_AFTER.match(text, vol.end()):
            line = text[text.rfind("\n", 0, conc.start()) + 1 : conc.start()]
            n = LINE_COUNT.search(line)
            if n is None:
                return None
            ml *= int(n.group(1) or n.group(2))
        mg += float(conc.group(1)) * ml
    return round(mg, 4)


@handler("phototherapy")
def phototherapy(ctx: CodingContext, rule: RuleRecord) -> None:
    """NB-UVB 96900, Goeckerman 96910, PUVA 96912; excimer for psoriasis by total area."""
    for proc, code in (("puva", "96912"), ("goeckerman", "96910"), ("nbuvb", "96900")):
        frames = frames_with(ctx, proc)
        if proc == "puva" and frames and all(_blank_field(ctx.text, p) for _, f in frames for p in f.procedures if p.canonical == "puva"):
            # "Psoralen: med ____ mg   time taken ____": the template asks, nobody answered; the UV
            # session is documented, its photosensitiser is not (the lower code, and a question)
            ctx.query("other", "Phototherapy: psoralen (drug, dose, time taken) not documented; PUVA (96912) needs it",
                      frames[0][1].procedures[:1])  # fmt: skip
            ctx.add(Candidate("96900", 1, rule.id, f"{rule.id}: UV session, psoralen fields blank -> 96900",
                              evidence=frames[0][1].procedures[:1], frames=[frames[0][0]], confidence=0.4,
                              alternatives=[("96912", 0.3, "PUVA, if a psoralen was taken")]))  # fmt: skip
            break
        if proc == "nbuvb" and frames_with(ctx, "excimer"):
            # "targeted phototherapy" describes the excimer session itself
            frames = [(i, f) for i, f in frames if re.search(r"narrow|NB|UVB", f.procedures[0].text, re.IGNORECASE)]
        if frames:
            ctx.add(Candidate(code, 1, rule.id, f"{rule.id}: {frames[0][1].procedures[0].text} session -> {code}",
                              evidence=frames[0][1].procedures[:1], frames=[frames[0][0]]))  # fmt: skip
            break
    frames = frames_with(ctx, "excimer")
    if not frames:
        return
    psoriasis = any((facts.histology_key(m) or "").startswith("l40") and m.active for m in ctx.mentions if m.label == "HISTOLOGY")
    if not psoriasis:
        ctx.warn("excimer_not_psoriasis", f"{rule.id}: excimer codes 96920-96922 are for psoriasis only; not coded")
        return
    areas = [m for _, f in frames for m in f.areas if m.active]
    value = 0.0
    for m in areas:
        line = ctx.text[ctx.text.rfind("\n", 0, m.start) + 1 : ctx.text.find("\n", m.end) if "\n" in ctx.text[m.end:] else len(ctx.text)]
        each = re.match(r"\s*(?:each|apiece|per side|x\s?2)", ctx.text[m.end : m.end + 12], re.IGNORECASE)
        both = re.search(r"bilateral|\bboth\b|\bb/l\b|\bbilat\b", line, re.IGNORECASE)
        value += facts._area_value(m) * (2 if each and both else 1)
    total = facts.defect_area(frames[0][1], ctx.text) if len(frames) == 1 else None
    if total is not None and total.note == "stated total":
        value = total.value
    evidence = areas
    if not value:
        ctx.query("area", "Excimer: total treated area (sq cm) not documented", frames[0][1].procedures[:1])
        return
    code = "96920" if value < 250 else "96921" if value <= 500 else "96922"
    ctx.add(Candidate(code, 1, rule.id, f"{rule.id}: excimer total area {value:g} sq cm -> {code}",
                      evidence=frames[0][1].procedures[:1] + evidence, frames=[i for i, _ in frames]))  # fmt: skip


# "Psoralen: med ____ mg", "Psoralen [ ] ___": the words of a template field left empty
BLANK_AFTER = re.compile(r"[ \t]*:?[ \t]*(?:[a-z]+[ \t]+)?(?:_{3,}|\[[ \t]*\])", re.IGNORECASE)


def _blank_field(text: str, m: Mention) -> bool:
    """The mention is the label of a template field left empty."""
    return BLANK_AFTER.match(text, m.end) is not None


STAFF = re.compile(r"\b(?:by|per)\s+(?:the\s+)?(?:nurse|RN|LPN|MA|CMA|medical assistant|staff|tech(?:nician)?)\b|(?:nurse|RN|MA|CMA|medical assistant|staff)\s+(?:applied|illuminat|administered|performed)"
                   # "Applied by: C. Okafor, CMA (staff)"
                   # (not "Applied by: Dr. O. personally (RN assisted with positioning only)")
                   r"|\bapplied\s+by:?[^\n(;]{0,40}?\b(?:nurse|RN|LPN|MA|CMA|medical assistant|staff|tech(?:nician)?)\b", re.IGNORECASE)
DEBRIDE = re.compile(r"curett|debrid|abrad|abrasion|microderm", re.IGNORECASE)


ALA_20 = re.compile(r"levulan|kerastick|aminolevulinic acid[^.]{0,30}20\s*(?:%|percent)|\bALA\b[^.]{0,20}20\s*(?:%|percent)", re.IGNORECASE)
ALA_10 = re.compile(r"ameluz|10\s*%\s*gel", re.IGNORECASE)
STICKS = re.compile(r"(\d+|one|two|three|four)\s*(?:levulan\s+)?(?:kera)?(?:sticks?|applicators?)\b([ \t]+total)?|(?:kera)?sticks?\s*x\s*(\d+)", re.IGNORECASE)
WORD_UNITS = {"one": 1, "two": 2, "three": 3, "four": 4}


def _sticks(region: str) -> int:
    """ALA 20% applicators used: a stated total ("= 2 sticks total"), else the largest count
    written ("two Levulan Kerasticks", "Kerastick x1"), else 1."""
    counts = []
    for m in STICKS.finditer(region):
        raw = (m.group(1) or m.group(3)).lower()
        value = WORD_UNITS.get(raw) or int(raw)
        if m.group(2):
            return value
        counts.append(value)
    return max(counts, default=1)


# Sites whose chemodenervation has a code of its own: the axillae (64650, both in one code)
# and "other areas" (64653, once a day); hands and feet go to an unlisted code outside our tables.
CHEMODENERVATION_UNLISTED = {"hand", "finger", "foot", "toe"}


@handler("chemodenervation")
def chemodenervation(ctx: CodingContext, rule: RuleRecord) -> None:
    """Botulinum chemodenervation of eccrine glands for hyperhidrosis: both axillae 64650 once,
    other areas 64653 once a day; the toxin itself is outside our tables."""
    frames = frames_with(ctx, "chemodenervation")
    if not frames:
        return
    hyperhidrosis = [m for m in ctx.mentions if m.label == "HISTOLOGY" and m.canonical == "hyperhidrosis" and m.active
                     and "uncertain" not in m.context]  # fmt: skip
    if not hyperhidrosis:
        ctx.warn("chemodenervation_not_hyperhidrosis",
                 f"{rule.id}: 64650/64653 are for hyperhidrosis; botulinum toxin for another reason (e.g. cosmetic) is not coded",
                 frames[0][1].procedures[:1])  # fmt: skip
        return
    by_area: dict[str, list[tuple[int, Mention]]] = {"axillae": [], "other": [], "unlisted": []}
    for i, frame in frames:
        # the areas named with the injection itself ("chemodenervation of the bilateral axillae"),
        # not a side effect's site ("glycopyrronium cloths (dry mouth)") told nearby
        said = {p.sentence for p in frame.procedures if p.canonical == "chemodenervation" and p.active}
        for site in (m for m in frame.sites if m.active and m.sentence in said):
            area = "axillae" if site.canonical == "axilla" else "unlisted" if site.canonical in CHEMODENERVATION_UNLISTED else "other"
            by_area[area].append((i, site))
    if not any(by_area.values()):
        ctx.query("site", f"{rule.id}: chemodenervation: treated area (axillae or other areas) not documented", frames[0][1].procedures[:1])
        return
    for area, code in (("axillae", "64650"), ("other", "64653")):
        found = by_area[area]
        if not found:
            continue
        sites = list({m.canonical: m for _, m in found}.values())
        diagnoses = []
        for m in sites:
            dx = icd_code("l74_51", m.canonical)
            if dx and dx not in diagnoses:
                diagnoses.append(dx)
                ctx.note_dx.append((dx, m, 0.8))
        what = "both axillae in one code" if area == "axillae" else "other areas, once a day"
        ctx.add(Candidate(code, 1, rule.id, f"{rule.id}: chemodenervation for hyperhidrosis, {', '.join(m.text for m in sites)} ({what}) -> {code}",
                          evidence=frames[0][1].procedures[:1] + sites, frames=sorted({i for i, _ in found}), diagnoses=diagnoses))  # fmt: skip
    if by_area["unlisted"]:
        ctx.warn("chemodenervation_unlisted", f"{rule.id}: chemodenervation of the hands or feet takes an unlisted code outside our tables; not coded",
                 [m for _, m in by_area["unlisted"]])  # fmt: skip


@handler("pdt")
def pdt(ctx: CodingContext, rule: RuleRecord) -> None:
    """One PDT code per day; ALA supplied by the clinic."""
    frames = frames_with(ctx, "pdt")
    if not frames:
        return
    region = ctx.text
    debrided = DEBRIDE.search(region) and not re.search(
        r"\b(?:no|not|without)\b[^.\n]{0,20}(?:curett|debrid)|(?:curett\w*|debridement)\s*[:\-]?\s*(?:none|not done|n/a|no\b)"
        r"|(?:curett\w*|debridement)[^\n]{0,40}\[[xX✓✔]\]\s*(?:not performed|not done|none|no\b)"  # "[ ] performed [x] not performed"
        r"|\[[ \t]*\][^\n\]]{0,30}?(?:curett|debrid)", region, re.IGNORECASE)  # "[ ] Physician curettage / lesion debridement"
    code = "96574" if debrided else "96567" if STAFF.search(region) else "96573"
    ctx.add(Candidate(code, 1, rule.id, f"{rule.id}: PDT {'with targeted debridement' if debrided else 'applied by staff' if code == '96567' else 'applied by the physician/QHP'} -> {code}",
                      evidence=[f.procedures[0] for _, f in frames], frames=[i for i, _ in frames],
                      alternatives=[(c, 0.05, "other PDT code") for c in ("96567", "96573", "96574") if c != code]))  # fmt: skip
    if stated(PATIENT_SUPPLIED, region):
        return
    # the drug named last is today's ("Prior tx (copied): Levulan Kerastick x1" above "Ameluz ... today")
    ala20 = [m.end() for m in ALA_20.finditer(region)]
    ala10 = [m.end() for m in ALA_10.finditer(region)]
    if ala20 and (not ala10 or max(ala20) > max(ala10)):
        n = _sticks(region)
        ctx.add(Candidate("J7308", n, rule.id, f"{rule.id}: ALA 20% supplied, {n} unit(s)", evidence=frames[0][1].procedures[:1], frames=[frames[0][0]]))
    elif ala10:
        grams = re.search(r"(\d+(?:\.\d+)?)\s*(?:g|gram)s?\b", region)
        if grams:
            units = max(1, math.ceil(float(grams.group(1)) * 1000 * 0.10 / 10))
            ctx.add(Candidate("J7345", units, rule.id, f"{rule.id}: ALA 10% gel {grams.group(1)} g = {float(grams.group(1)) * 100:g} mg ALA / 10 mg = {units}",
                              evidence=frames[0][1].procedures[:1], frames=[frames[0][0]]))  # fmt: skip


def _wart_paring(frame: Frame) -> bool:
    """The paring takes a wart's callus down before it is destroyed: it pares warts and no corn
    ("pared lightly to take down the callus, then all eight warts were frozen")."""
    corns = [m for m in _active_hist(frame, {"corn_callus"}) if not m.text.lower().startswith("callus")]
    if not _active_hist(frame, WARTS) or corns:
        return False
    # "(2) Separately, the callus on the left foot was pared down": a callus the paring's own
    # sentence names, with no wart in it, is a lesion pared for itself
    named = {m.canonical for m in facts.named_with_procedure(frame)}
    return not ("corn_callus" in named and not named & WARTS)


PLURAL_CALLUS = re.compile(r"(?:corns|calluses|callosities|clavi|keratoses|IPKs)\b", re.IGNORECASE)


@handler("other_procedures")
def other_procedures(ctx: CodingContext, rule: RuleRecord) -> None:
    """Paring by count; acne surgery; chemical peel by region and depth (not when cosmetic)."""
    # paring a wart to take its callus down before freezing it is part of the destruction
    frames = [(i, f) for i, f in frames_with(ctx, "paring") if not _wart_paring(f)]
    if frames and note_has(ctx, {"corn_callus"}):
        count = _session_count(ctx, frames, ("corn", "callus", "lesion", "clav", "keratos"))
        n = int(count.value) if count else 1
        how = f"{n} lesion(s)"
        if count is None:
            # "Calluses pared bilaterally": more than one, the number not written - the lowest
            # count the plural supports, and a query for the number
            plural = any(m.canonical == "corn_callus" and m.active and PLURAL_CALLUS.search(m.text) for _, f in frames for m in f.histology)
            n = 2 if plural else 1
            how = "lesions (plural), number not documented: 2 at least" if plural else "1 lesion (number not documented)"
            ctx.query("lesion_count", f"{rule.id}: number of corns/calluses pared not documented", frames[0][1].procedures[:1])
        code = "11055" if n == 1 else "11056" if n <= 4 else "11057"
        ctx.add(Candidate(code, 1, rule.id, f"{rule.id}: paring of {how} -> {code}", evidence=frames[0][1].procedures[:1], frames=[frames[0][0]],
                          confidence=0.9 if count else 0.4))  # fmt: skip
    frames = frames_with(ctx, "acne_surgery")
    if frames:
        ctx.add(Candidate("10040", 1, rule.id, f"{rule.id}: acne surgery", evidence=frames[0][1].procedures[:1], frames=[frames[0][0]]))
    frames = frames_with(ctx, "chemical_peel")
    if frames and not re.search(r"\bcosmetic|self[- ]pay|aesthetic", ctx.text, re.IGNORECASE):
        site = facts.site_fact(frames[0][1])
        facial = site is not None and ctx.tables.sites.get(site.value) and ctx.tables.sites[site.value].groups.get("lesion") == "face_ears_eyelids_nose_lips"
        dermal = re.search(r"\bdermal\b|medium[- ]depth|deep peel", ctx.text, re.IGNORECASE) is not None
        code = ("15789" if dermal else "15788") if facial else ("15793" if dermal else "15792")
        ctx.add(Candidate(code, 1, rule.id, f"{rule.id}: chemical peel, {'facial' if facial else 'non-facial'}, {'dermal' if dermal else 'epidermal'}",
                          evidence=frames[0][1].procedures[:1], frames=[frames[0][0]]))  # fmt: skip


EM_SEPARATE = re.compile(
    r"separately identifiable|separate (?:and distinct |significant )?(?:e/?&?m|problem|issue|evaluation|visit|service)|significant(?:,| and) separate"
    r"|modifier[- ]25|\b-25\b|\bE/?&?M\b[^.\n]{0,40}(?:separate|25)|in addition(?: to the procedure)?,? (?:we |i )?(?:also )?(?:evaluated|addressed|managed|discussed)"
    r"|also (?:evaluated|addressed|managed)|additional(?:ly)? (?:evaluated|addressed|managed)|separate(?:ly)? (?:evaluated|addressed|managed)|decision (?:for|to proceed with) (?:surgery|flap|the flap)"
    # visit time counted apart from the procedure ("22 min (excludes procedure time)")
    # ("not incl. cryo", "excluding\ntime for cryo procedure": abbreviated, or broken across a line)
    r"|(?:excludes?|excluding|exclusive of|not including|not incl\.?|not counting|apart from|separate(?:ly)? from)\s+(?:[a-z]+\s+){0,5}?(?:procedur\w*|biops\w*|excision|extraction|cryo\w*|LN2|injections?|drainage|I&D|surgery|repair|removal|destruction)(?: time)?",
    re.IGNORECASE,
)
EM_ONLY = re.compile(r"surveillance|full[- ]?(?:body )?skin exam\w*|total[- ]body skin exam\w*|\bFBSE\b|\bTBSE\b|\bFSE\b|skin (?:cancer )?check|follow[- ]up|office visit|new patient visit|consult", re.IGNORECASE)
NOT_SEPARATE = re.compile(r"no separate (?:e/?&?m|evaluation)|e/?&?m (?:is )?not (?:separately )?(?:billed|billable|reported)|not separately (?:billable|identifiable)|no e/?&?m", re.IGNORECASE)
MDM = re.compile(r"\b(straightforward|low|moderate|high)\b(?:[- ]complexity)?\s*(?:mdm|medical decision|decision[- ]making|complexity)"
                 # ("MDM for problem 1: moderate": a problem's number is no level)
                 # ("MDM (items 1-2 only): moderate": item numbers neither)
                 # ("MDM for 1-2 (separate from today's biopsies): low": the problems' numbers)
                 r"|(?:\bmdm\b|medical decision[- ]making)(?:[^.\n\d]|(?<=problem )\d|(?<=#)\d|(?<=items )\d|(?<=item )\d|(?<=\d-)\d|(?<=\d, )\d|(?<=for )\d)"
                 r"{0,90}?\b(straightforward|low|moderate|mod|high|sf)\b", re.IGNORECASE)
MDM_WORDS = {"mod": "moderate", "sf": "straightforward"}  # "MDM mod."
# "MDM: [ ] Straightforward [ ] Low [x] Moderate": on a line of checkboxes only the ticked level counts
MDM_BOX = re.compile(r"\[[ \t]*[x✓✔]?[ \t]*\][ \t]*(straightforward|low|moderate|high)\b", re.IGNORECASE)
MDM_TICKED = re.compile(r"\[[ \t]*[x✓✔][ \t]*\][ \t]*(straightforward|low|moderate|high)\b", re.IGNORECASE)
TIME = re.compile(r"(?:total time|spent|time)[^\d\n]{0,120}(\d{2,3})\s*(?:min|minutes)\b", re.IGNORECASE)
TOTAL_TIME = re.compile(r"\btotal time\b[^\d\n]{0,120}\d{2,3}\s*(?:min|minutes)\b", re.IGNORECASE)
NOT_NEW = re.compile(r"\b(?:not|isn'?t|wasn'?t)\s+(?:a\s+)?new\s+(?:patient|pt)\b", re.IGNORECASE)


def _patient_type(text: str) -> str | None:
    """New or established; a correction ("this is not a new patient") settles it."""
    if NOT_NEW.search(text):
        return "established"
    if NEW.search(text):
        return "new"
    # "CHD  DOS 04/15/25  EST  P. Szabo-Weir MD": a header's capitals
    return "established" if ESTABLISHED.search(text) or ESTABLISHED_CAPS.search(text) else None


ESTABLISHED_CAPS = re.compile(r"(?<![\w.])EST(?![\w.])")


NEW = re.compile(r"\bnew patient\b|\bnew pt\b|\bnew to (?:the |our )?(?:practice|clinic|department|dept|group|office)|\bNP\b", re.IGNORECASE)
ESTABLISHED = re.compile(r"\bestablished\b|\best\.? pt\b|\best\.? patient\b|\breturning patient\b|\bf/u\b|\bfollow[- ]up\b"
                         r"|(?:,|\b\d{1,3}[ \t]?[MF])[ \t]*est\.?(?=[ \t]*(?:\n|$|\(|,|;))", re.IGNORECASE)  # "77 F, est (daughter drove)", "36F est."
LEVELS = {"new": {"straightforward": "99202", "low": "99203", "moderate": "99204", "high": "99205"},
          "established": {"straightforward": "99212", "low": "99213", "moderate": "99214", "high": "99215"}}  # fmt: skip
TIME_LEVELS = {"new": [(60, "99205"), (45, "99204"), (30, "99203"), (15, "99202")],
               "established": [(40, "99215"), (30, "99214"), (20, "99213"), (10, "99212")]}  # fmt: skip
# Hospital care (CPT 2023+): the setting, whether the visit is the first of the stay, and
# whether the payer takes consultation codes ("Medicare: consult codes not payable" -> 9922x)
INPATIENT = re.compile(r"\binpatient\b|\bhospital day\b|\b(?:subsequent|initial) hospital care\b|\bhospitalist\b"
                       r"|\badmit(?:ted)?\b[ \t:]*(?:on[ \t]+)?\d{1,2}/\d{1,2}", re.IGNORECASE)  # fmt: skip
SUBSEQUENT = re.compile(r"\bprogress note\b|\bfollow-?up note\b|\bsubsequent hospital\b|\binitial consult(?:ation)?\b[^.\n]{0,20}\b(?:by me|on)\b"
                        r"|\bfollowing since\b", re.IGNORECASE)  # fmt: skip
CONSULT_CODES = re.compile(r"\b(?:pays|recogni[sz]es|accepts|payable|covers)\b[^.\n]{0,40}\bconsult(?:ation)? codes\b"
                           r"|\bconsult(?:ation)? codes (?:are )?(?:accepted|payable|paid|recogni[sz]ed|covered)\b", re.IGNORECASE)  # fmt: skip
CONSULT_CODES_NOT = re.compile(r"\bconsult(?:ation)? codes (?:are )?not (?:payable|paid|recogni[sz]ed|accepted)|\b(?:does not|doesn't|do not) "
                               r"(?:pay|recogni[sz]e|accept)[^.\n]{0,20}\bconsult", re.IGNORECASE)  # fmt: skip
HOSPITAL_LEVELS = {"initial": {"straightforward": "99221", "low": "99221", "moderate": "99222", "high": "99223"},
                   "subsequent": {"straightforward": "99231", "low": "99231", "moderate": "99232", "high": "99233"},
                   "consult": {"straightforward": "99252", "low": "99253", "moderate": "99254", "high": "99255"}}  # fmt: skip


def _hospital_visit(text: str) -> str | None:
    """"initial", "subsequent" or "consult" for a hospital visit; None for an office visit."""
    if not INPATIENT.search(text):
        return None
    if SUBSEQUENT.search(text):
        return "subsequent"
    return "consult" if CONSULT_CODES.search(text) and not CONSULT_CODES_NOT.search(text) else "initial"


MAJOR = {"14000", "14001", "14020", "14021", "14040", "14041", "14060", "14061", "14301", "15100", "15120", "15200", "15220", "15240", "15260"}


# Searched over every note (most have no E/M): start_filtered and word_gated give the same matches, faster.
_EM_SEPARATE, _EM_ONLY, _NOT_SEPARATE, _MDM = (word_gated(start_filtered(rx)) for rx in (EM_SEPARATE, EM_ONLY, NOT_SEPARATE, MDM))


def _decision_level(text: str) -> tuple[re.Match | None, str | None]:
    """The documented level of medical decision making: its evidence and its word as written."""
    m = _MDM.search(text)
    if m is None:
        return None, None
    line_start = text.rfind("\n", 0, m.start()) + 1
    line_end = text.find("\n", m.end())
    line_end = len(text) if line_end < 0 else line_end
    if MDM_BOX.search(text, line_start, line_end):
        ticked = MDM_TICKED.search(text, line_start, line_end)
        return (ticked, ticked.group(1)) if ticked else (None, None)
    return m, m.group(1) or m.group(2)


@handler("em")
def em(ctx: CodingContext, rule: RuleRecord) -> None:
    """An office E/M only for work beyond the procedure decision, with its modifier."""
    procedures = [c for c in ctx.candidates if not c.code.startswith("J")]
    # Blanking below only takes matches away: a note whose own text has no cue for a visit
    # needs no blanking (most notes; the copied-forward scan is the costly part)
    raw = ctx.text
    if not _NOT_SEPARATE.search(raw) and not (_EM_SEPARATE.search(raw) or _MDM.search(raw)) and (
            procedures or not (_EM_ONLY.search(raw) or TOTAL_TIME.search(raw))):  # fmt: skip
        return
    # the visit's own words: not a billing summary's "99214-25", nor an MDM copied from another visit
    text = _blanked(raw, billing_spans(raw) + copied_forward_regions(raw))
    # A stated level of decision making in a procedure note documents a visit of its own.
    separate = _EM_SEPARATE.search(text) or _MDM.search(text)
    if _NOT_SEPARATE.search(text):
        ctx.warn("em_not_separate", f"{rule.id}: the note says the E/M is not separate from the procedure")
        return
    if procedures and not separate:
        return
    # a visit with no procedure: its own words ("follow-up", "consult"), or the total time it documents
    if not procedures and not (separate or _EM_ONLY.search(text) or TOTAL_TIME.search(text)):
        return
    patient = _patient_type(text)
    mdm, level = _decision_level(text)
    minutes = TIME.search(text)
    code = None
    hospital = _hospital_visit(text)
    if hospital and mdm:
        patient = f"hospital ({hospital})"
        code = HOSPITAL_LEVELS[hospital].get(MDM_WORDS.get(level.lower(), level.lower()))
    elif patient and mdm:
        code = LEVELS[patient][MDM_WORDS.get(level.lower(), level.lower())]
    elif patient and minutes:
        t = int(minutes.group(1))
        code = next((c for limit, c in TIME_LEVELS[patient] if t >= limit), None)
    if code is None:
        if separate or not procedures:
            ctx.query("other", "E/M: patient type and decision-making level or total time not documented")
        return
    evidence = [Mention("EM", m.start(), m.end(), m.group(0)) for m in (mdm or minutes, NEW.search(text) or ESTABLISHED.search(text), separate) if m]
    modifiers = []
    if procedures:
        modifiers = ["57"] if any(c.code in MAJOR for c in procedures) and re.search(r"decision", text, re.IGNORECASE) else ["25"]
    ctx.add(Candidate(code, 1, rule.id, f"{rule.id}: {patient} patient, {'MDM ' + level if mdm else minutes.group(1) + ' min'}"
                      f"{'; separately identifiable from the procedure' if procedures else ''} -> {code}",
                      modifiers=modifiers, confidence=0.7, evidence=evidence))  # fmt: skip
