"""ICD-10-CM for each coded line: final pathology first, else the clinical diagnosis at the
highest certainty documented (never rule-out/suspected), by site, side and eyelid part."""

from __future__ import annotations

import re

from dermcoder.coding import facts
from dermcoder.coding.adverse_effects import DrugCause, drug_cause
from dermcoder.coding.comorbidities import comorbidity_codes
from dermcoder.coding.icd_map import icd_code
from dermcoder.coding.rulebook import CodingContext, RuleRecord, handler
from dermcoder.nlp.frames import Frame, Mention
from dermcoder.nlp.start_filter import start_filtered

FAMILY_DX_CLASSES = {
    "nail": ("nail", "infection"), "intralesional": ("inflammatory", "benign"), "phototherapy": ("inflammatory",),
    "excimer": ("inflammatory",), "incision_drainage": ("infection", "benign", "inflammatory"), "pdt": ("premalignant",),
    "paring": ("benign",), "acne_surgery": ("inflammatory",), "chemical_peel": ("inflammatory", "premalignant"),
}  # fmt: skip

GROWTH = re.compile(r"\b(growths?|neoplasms?|tumou?rs?|new lesions?|lesion of uncertain)\b", re.IGNORECASE)
SURVEILLANCE = re.compile(r"surveillance|no (?:evidence|e/o|sign) of recurrence|no recurrence|NED\b|follow[- ]up (?:of|for|after)|skin check", re.IGNORECASE)
_SURVEILLANCE = start_filtered(SURVEILLANCE)  # scanned over every note: start_filtered finds the same matches, faster
# "next surveillance as scheduled; no exam today", "(surveillance annual, last 4 months ago)":
# surveillance named for another day is not today's reason for the visit
NOT_TODAY = re.compile(r"\b(?:next|scheduled|due|will|last|ago|no exam|not examined|not addressed|deferred)\b", re.IGNORECASE)
# (a relative's history is not the patient's: "Family history of melanoma (mother)")
# (not "no personal history of skin cancer", "denies any history of melanoma")
OWN_HISTORY = (r"(?<!family )(?<!fam )(?<!no )(?<!no personal )(?<!no prior )(?<!no previous )(?<!denies )(?<!denies any )"
               r"(?<!without )(?<!without a )(?:history of|hx of|h/o|s/p)")
HISTORY_DX = [
    (re.compile(rf"{OWN_HISTORY}[^.\n]{{0,40}}melanoma in[- ]situ", re.IGNORECASE), "Z86.006"),
    (re.compile(rf"{OWN_HISTORY}[^.\n]{{0,40}}melanoma", re.IGNORECASE), "Z85.820"),
    (re.compile(rf"{OWN_HISTORY}[^.\n]{{0,60}}(?:bcc|scc|basal cell|squamous cell|nmsc|skin cancer)", re.IGNORECASE), "Z85.828"),
]


def _surveillance_today(text: str) -> bool:
    """A surveillance statement about this visit (its sentence names no other day)."""
    for m in _SURVEILLANCE.finditer(text):
        left = max(text.rfind(".", 0, m.start()), text.rfind("\n", 0, m.start()), text.rfind(";", 0, m.start())) + 1
        stops = [i for i in (text.find(".", m.end()), text.find("\n", m.end()), text.find(";", m.end())) if i >= 0]
        if not NOT_TODAY.search(text, left, min(stops) if stops else len(text)):
            return True
    return False


ASSESSMENT_SECTIONS = ("assessment", "assessment_plan")
NOT_IRRITATED = re.compile(r"\b(?:not|non-?)[ \t-]?(?:inflamed|irritated)\b|\bwithout (?:inflammation|irritation)\b", re.IGNORECASE)
IRRITATED = re.compile(r"(?<!non-)(?<!non)(?<!not )\b(?:irritated|inflamed|inflammed)\b", re.IGNORECASE)


def _line_end(text: str, pos: int) -> int:
    end = text.find("\n", pos)
    return len(text) if end < 0 else end


def _first_word(frame: Frame) -> int:
    """Where a frame's lesion is first described (its site or size often precede its procedure)."""
    firsts = [m.start for slot in (frame.sites, frame.sizes, frame.histology, frame.laterality) for m in slot]
    return min([frame.start, *firsts])


def frame_diagnoses(ctx: CodingContext, frame: Frame) -> list[tuple[str, Mention | None, float]]:
    """(code, evidence mention, confidence) for one frame; empty when nothing can be coded."""
    hist, source = facts.excision_histology(frame, ctx.mentions, ctx.text) if frame.procedure == "excision" else facts.histology(frame)
    if hist is None and frame.procedure is None and frame.repairs:
        # "lacerations: left forearm 2.0 cm, right thenar 1.5 cm, chin 1.2 cm": one word for every wound repaired
        hist = next((m for m in ctx.mentions if m.label == "HISTOLOGY" and m.value == "injury" and m.active and "uncertain" not in m.context), None)
        source = "clinical" if hist is not None else source
    site = facts.site_fact(frame)
    site_mention = site.evidence[0] if site else None
    side = facts.side_fact(frame, site_mention)
    eyelid = site_mention.value if site_mention is not None and site_mention.canonical == "eyelid" else None
    if hist is not None:
        key = facts.histology_key(hist)
        if hist.canonical == "sk" and IRRITATED.search(ctx.text, ctx.text.rfind("\n", 0, hist.start) + 1, _line_end(ctx.text, hist.end)):
            key = "l82_0"  # "Seborrheic keratosis, left inguinal crease, 8 mm, macerated and inflamed": an inflamed SK
        code = icd_code(key, site.value if site else None, side.value if side else None, eyelid) if key else None
        if code:
            return [(code, hist, 0.9 if source == "pathology" else 0.75)]
        return []
    if frame.procedure and (frame.procedure.startswith("biopsy") or frame.procedure in ("shave_removal", "excision")):
        # the words after the procedure, up to the next lesion's frame
        after = min((_first_word(f) for f in ctx.frames if f.start > frame.start), default=len(ctx.text))
        region = ctx.text[frame.start : min(frame.end + 200, after)]
        # "Assessment: three new growths of the skin" names every lesion sampled above it
        # (plural only: "Dx: A scaly papule; B pigmented growth" names one lesion each)
        # as does an indication above every procedure ("Est pt, 3 new growths, consent signed.")
        first_procedure = min((q.start for f in ctx.frames for q in f.procedures), default=0)
        growth_assessed = any(m.canonical == "growth" and m.active and (m.section == "assessment" or m.start < first_procedure)
                              and m.text.lower().endswith("s") for m in ctx.mentions)  # fmt: skip
        # D49.2 where the clinician documents a neoplasm of unstated behaviour (reference,
        # ICD-10-CM mapping item 3): the words growth/neoplasm/tumour, or
        # a differential made of neoplasms ("r/o BCC", "sBCC vs SCCIS", "r/o dysplastic nevus")
        # documents a neoplasm whose behaviour is not yet known; an inflammatory differential
        # ("morphea vs granuloma annulare") does not
        suspected = [m for m in frame.histology if "uncertain" in m.context and not set(m.context) - {"uncertain"}]
        neoplastic = suspected and any(m.value in facts.NEOPLASTIC for m in suspected)
        # "5 mm crusted growth, not previously sampled. Shave biopsy.": the lesion's own words,
        # written before the procedure that opens its frame
        # (after the procedures of the lesions before it: their frames may reach past this word
        # when a side or size of this lesion was given to them)
        before = max((p.end for f in ctx.frames if f.start < frame.start for p in f.procedures if p.start < frame.start), default=0)
        own_growth = any(m.canonical == "growth" and m.active and before <= m.start < frame.start for m in frame.histology)
        code = "D49.2" if GROWTH.search(region) or growth_assessed or neoplastic or own_growth else "L98.9"
        return [(code, frame.procedures[0], 0.5)]
    return []


def _written_site(ctx: CodingContext, m: Mention) -> tuple[str | None, str | None, str | None]:
    """(site, side, eyelid part) written in the diagnosis's own sentence ("1. Basal cell
    carcinoma, nodular, right nasal ala"), for a problem the visit addressed."""
    sites = [x for x in ctx.mentions if x.label == "SITE" and x.sentence == m.sentence and x.active and x.role != "donor"]
    if not sites:
        return None, None, None
    site = sites[0]
    sides = [x for x in ctx.mentions if x.label == "LATERALITY" and x.sentence == m.sentence and facts.written_before(x, site)]
    return site.canonical, sides[-1].canonical if sides else None, site.value if site.canonical == "eyelid" else None


@handler("diagnoses")
def diagnoses(ctx: CodingContext, rule: RuleRecord) -> None:
    """Link each candidate line to the ICD codes of its frames; E/M lines get the other problems."""
    cache: dict[int, list] = {}
    for cand in ctx.candidates:
        if cand.diagnoses:
            continue  # the rule that proposed the line already knows its diagnoses
        codes: list[str] = []
        for i in cand.frames:
            if i not in cache:
                cache[i] = frame_diagnoses(ctx, ctx.frames[i])
                ctx.frame_dx[i] = cache[i]
            for code, _, _ in cache[i]:
                if code not in codes:
                    codes.append(code)
        cand.diagnoses = codes
    # A session service whose own frame names no diagnosis ("Dx:" written on another line)
    # takes the note's certain diagnoses of the kind that service treats.
    for cand in ctx.candidates:
        if cand.diagnoses or cand.code.startswith(("992", "J")):
            continue
        rec = ctx.tables.cpt(cand.code)
        classes = FAMILY_DX_CLASSES.get(rec.family if rec else "", ())
        for m in ctx.mentions:
            if m.label != "HISTOLOGY" or not m.active or "uncertain" in m.context or m.value not in classes:
                continue
            key = facts.histology_key(m)
            code = icd_code(key, None) if key else None
            if code and code not in cand.diagnoses:
                cand.diagnoses.append(code)
                ctx.note_dx.append((code, m, 0.6))
    used = {code for dx in cache.values() for code, _, _ in dx}
    # the diagnoses already coded at their site ("C44.329") are not coded again without it ("C44.92")
    used_keys = {facts.histology_key(m) for dx in cache.values() for _, m, _ in dx if m is not None}
    em = [c for c in ctx.candidates if c.code.startswith("992")]
    extra: list[tuple[str, Mention | None, float]] = []
    if em or not ctx.candidates:
        procedures_today = any(not c.code.startswith(("992", "J")) for c in ctx.candidates)
        linked = {id(m) for dx in cache.values() for _, m, _ in dx if m is not None}
        assessed = {facts.histology_key(m) for m in ctx.mentions
                    if m.label == "HISTOLOGY" and m.active and m.section in ASSESSMENT_SECTIONS}  # fmt: skip
        for m in ctx.mentions:
            if m.label != "HISTOLOGY" or not m.active or "uncertain" in m.context or id(m) in linked:
                continue
            key = facts.histology_key(m)
            if m.value in ("benign", "unknown") and not procedures_today and key not in assessed:
                # stable nevi seen on a surveillance exam are findings, not the reason for the
                # visit; a benign problem the assessment manages (a hemangioma on propranolol) is
                continue
            if m.value == "benign" and assessed and m.section not in ASSESSMENT_SECTIONS and key not in assessed:
                continue  # "Nevi on the trunk unchanged" on exam, absent from the assessment: not addressed
            if ctx.text[m.start - 1 : m.start] == '"' and ctx.text[m.end : m.end + 1] == '"':
                continue  # 'recurrent painful "boils"': the patient's word for it, not a diagnosis
            if key in ("d49_2", "l98_9") or key is None or key in used_keys:
                continue
            code = icd_code(key, *_written_site(ctx, m)) or icd_code(key, None)
            if not code or code in used or code in [e[0] for e in extra]:
                continue
            # "referred for a BCC of the left nasal sidewall ... the biopsy shows an infiltrative
            # BCC": the diagnosis told again without its site is the same one (no C44.91 beside C44.311)
            unsited = icd_code(key, None)
            same = [k for k, (_, e, _) in enumerate(extra) if facts.histology_key(e) == key]
            if same and code == unsited:
                continue
            if same and all(extra[k][0] == unsited for k in same):
                extra[same[0]] = (code, m, 0.6)
                continue
            extra.append((code, m, 0.6))
        # "4. Family history of melanoma (mother) - annual total body skin exam": a relative's
        # melanoma the assessment addresses is a reason for the visit
        if em and "Z80.8" not in used and any(
            m.label == "HISTOLOGY" and m.canonical == "melanoma" and m.context == ["family"] and m.section in ASSESSMENT_SECTIONS
            for m in ctx.mentions
        ):
            extra.append(("Z80.8", None, 0.6))
        surveillance = bool(em) and _surveillance_today(ctx.text)
        if em and (not extra or surveillance):
            for rx, code in HISTORY_DX:
                if rx.search(ctx.text):
                    # surveillance after completed treatment: follow-up code with the history code
                    follow_up = "Z09" if code.startswith("Z86") else "Z08"
                    if surveillance:
                        extra.append((follow_up, None, 0.6))
                    extra.append((code, None, 0.6))
                    break
    if em:
        # the systemic conditions and long-term drugs the E/M manages ("2. DM2 ... Continue metformin")
        active_dx = [(m.start, m.end) for m in ctx.mentions if m.label == "HISTOLOGY" and m.active]
        for found in comorbidity_codes(ctx.text, active_dx):
            if found.code not in used and found.code not in [e[0] for e in extra]:
                label = "DRUG" if found.code.startswith("Z79") else "DIAGNOSIS"
                extra.append((found.code, Mention(label, found.start, found.end, found.text), 0.6))
    for cand in em:
        cand.diagnoses = [c for c, _, _ in extra] or cand.diagnoses
    if em:
        ctx.note_dx = ctx.note_dx + extra
    _add_drug_codes(ctx)
    if not NOT_IRRITATED.search(ctx.text):
        for cand in ctx.candidates:
            if "L82.0" in cand.diagnoses and "L82.1" in cand.diagnoses and not cand.code.startswith("992"):
                # "typical of seborrheic keratoses ... These are irritated seborrheic keratoses": the
                # lesions destroyed are the irritated ones, told first without their state (unless
                # the note treats some it calls "not inflamed")
                cand.diagnoses.remove("L82.1")


def _add_drug_codes(ctx: CodingContext) -> None:
    """After each drug eruption coded, the adverse-effect code of the drug its line names
    ("Morbilliform drug eruption due to amoxicillin" -> L27.0, T36.0X5A), on every line it supports."""
    causes: dict[str, DrugCause] = {}

    def expand(entries: list[tuple[str, Mention | None, float]]) -> list[tuple[str, Mention | None, float]]:
        out = []
        for code, m, conf in entries:
            out.append((code, m, conf))
            cause = drug_cause(ctx.text, code, m.start, m.end) if m is not None and m.label == "HISTOLOGY" else None
            if cause is not None:
                causes.setdefault(code, cause)
                out.append((cause.code, Mention("DRUG", cause.start, cause.end, cause.text), conf))
        return out

    for i in ctx.frame_dx:
        ctx.frame_dx[i] = expand(ctx.frame_dx[i])
    ctx.note_dx = expand(ctx.note_dx)
    if not causes:
        return
    for cand in ctx.candidates:
        linked: list[str] = []
        for code in cand.diagnoses:
            linked.append(code)
            cause = causes.get(code)
            if cause is not None and cause.code not in cand.diagnoses and cause.code not in linked:
                linked.append(cause.code)
        cand.diagnoses = linked
