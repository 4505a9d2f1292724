"""Per-lesion rules: biopsy, shave removal, excision (benign/malignant, hidradenitis),
malignant destruction, and the biopsy/removal bundling rule."""

from __future__ import annotations

import dataclasses
import re

from dermcoder.coding import facts
from dermcoder.coding.cosmetic import cosmetic_removals, cosmetic_sites, is_cosmetic
from dermcoder.coding.rulebook import Candidate, CodingContext, RuleRecord, handler
from dermcoder.nlp.frames import Frame, Mention, specimen_label

BIOPSY_RANK = {"biopsy_incisional": 3, "biopsy_punch": 2, "biopsy_tangential": 1, "biopsy": 0}
BIOPSY_CODES = {"biopsy_incisional": ("11106", "11107"), "biopsy_punch": ("11104", "11105"), "biopsy_tangential": ("11102", "11103")}
REMOVALS = {"shave_removal", "excision", "ed_c", "destruction", "cryotherapy", "mohs", "skin_tag_removal"}
DESTRUCTIONS = {"ed_c", "destruction", "cryotherapy"}


def frames_with(ctx: CodingContext, *procedures: str) -> list[tuple[int, Frame]]:
    """(index, frame) for frames whose procedure is one of `procedures`."""
    return [(i, f) for i, f in enumerate(ctx.frames) if f.procedure in procedures]


def lesion_group(ctx: CodingContext, site: str | None, scheme: str) -> str | None:
    rec = ctx.tables.sites.get(site or "")
    return rec.groups.get(scheme) if rec else None


EACH = re.compile(r"\b(?:of each|each of (?:the|them|these|those)|of both|both (?:lesions|spots|sites))\b", re.IGNORECASE)


def _biopsy_lesions(frame: Frame, only_frame: bool, frames_count: int = 1, text: str = "") -> int:
    """How many lesions one biopsy frame samples: a count stated in the biopsy's own sentence
    (or a note total when it is the only biopsy frame, or when the biopsy was "of each"), else 1."""
    sentences = {p.sentence for p in frame.procedures}
    nouns = ("lesion", "site", "spot", "papule", "biops", "bx", "specimen", "patch", "plaque", "nodule", "growth", "macule", "mole")
    each = only_frame and any(EACH.search(text, p.end, p.end + 20) for p in frame.procedures)
    # "All 3 specimens ..." after lesions A, B and C totals those frames; it adds none
    counts = [m for m in frame.counts if m.active and (m.sentence in sentences or (m.role == "total" and only_frame) or each)]
    own = [m for m in counts if m.sentence in sentences]
    # "three growths ... a shave biopsy of each of the three growths": the count said with the
    # biopsy is the one, not the sum of it and its restatement
    count = facts.count_fact(own if each and own else counts, nouns)
    if count and frames_count > 1 and count.value <= frames_count:
        return 1  # "I did three biopsies today. First, ... Second, ... Third, ...": the session's total
    if count is None and frames_count == 1:
        # "Shave bx A and B: ... Separate jars A, B.": the lesion labels it names
        for p in frame.procedures:
            m = LABELS_AFTER.match(text, p.end)
            if m:
                return len(set(re.findall(r"[A-H]", m.group(1))))
    return int(count.value) if count and 1 < count.value <= 10 else 1


# "Shave bx A and B", "shave biopsies (deep saucerization), spec A and B"
LABELS_AFTER = re.compile(r"(?:[ \t]*\([^()\n]{0,40}\))?,?[ \t]+(?:of[ \t]+)?(?:lesions?[ \t]+|sites?[ \t]+|specimens?[ \t]+|specs?\.?[ \t]+)?"
                          r"((?:[A-H][ \t]*(?:,|and|&|\+)[ \t]*)+[A-H])\b(?![ \t]*[a-z])")


BIOPSY_HEADING = re.compile(r"[ \t]*(?:[A-H\d]{1,2}[).:][ \t]*)?(?:skin[ \t]+)?biopsies[ \t]*:?[ \t]*", re.IGNORECASE)


def _heading(text: str, m: Mention) -> bool:
    """The word stands alone on its line as a heading ("A) Biopsies")."""
    start = text.rfind("\n", 0, m.start) + 1
    end = text.find("\n", m.end)
    return BIOPSY_HEADING.fullmatch(text, start, len(text) if end < 0 else end) is not None


def _site_side(frame: Frame) -> tuple[str | None, str | None]:
    site = facts.site_fact(frame)
    side = facts.side_fact(frame, site.evidence[0] if site else None)
    return (site.value if site else None, side.value if side else None)


def _restates_a_described_biopsy(text: str, frame: Frame, described: set[tuple[str | None, str | None]]) -> bool:
    """A biopsy named without its technique, in a note that describes biopsies with theirs,
    is one of those again when it names no site of its own ("only one biopsy done"), when it
    names the site and side of a described one ("1. ... right upper back - biopsy today" above
    "Procedure: Shave biopsy, right upper back"), or when it is a heading over them ("A) Biopsies")."""
    if not [s for s in frame.sites if s.active] or _site_side(frame) in described:
        return True
    generic = [p for p in frame.procedures if p.canonical == "biopsy" and p.active]
    return bool(generic) and all(_heading(text, p) for p in generic)


def _plan_and_procedure(a: str | None, b: str | None) -> bool:
    """One biopsy said in the assessment/plan, the other in the procedure section."""
    return {a, b} == {"assessment_plan", "procedure"}


def _label_kind(frame: Frame) -> str | None:
    return None if not frame.label else "number" if frame.label.isdigit() else "letter"


def _told_twice(frame: Frame, technique: str, frames: list[tuple[int, Frame]]) -> bool:
    """ "2. Papule, left cheek, r/o BCC. Shave biopsy today." above "B. Shave biopsy, left malar
    cheek": a numbered assessment item whose biopsy a lettered procedure line describes at the
    same site and side is that lesion again, not another."""
    if _label_kind(frame) != "number":
        return False
    # every site word of the item (a refusal in its sentence may mark "left flank" declined)
    sites = {s.canonical for s in frame.sites}
    sides = {s.canonical for s in frame.laterality}
    if not sites:
        return False
    for _, other in frames:
        if other is frame or _label_kind(other) != "letter" or technique not in {p.canonical for p in other.procedures}:
            continue
        # "1) ... blisters on the thighs ... Punch biopsy from a plaque on the left flank" and
        # "A. Punch bx L flank": the item names the lettered line's site (and side) among its own
        other_site, other_side = facts.site_fact(other), facts.side_fact(other, None)
        if other_site is not None and other_site.value in sites and (other_side is None or not sides or other_side.value in sides):
            return True
    return False


# "Punch biopsies today from one intact bulla: lesional ... and perilesional ... from the rim of
# the same bulla": several samples of one lesion are one biopsy
ONE_LESION = re.compile(r"\b(?:from|of) (?:one|a single|the same)(?: [a-z]+)? (?:lesion|bulla|blister|nodule|plaque|patch|papule|tumou?r|ulcer)\b"
                        r"|\bsame (?:lesion|bulla|blister|nodule|plaque|patch|papule)\b", re.IGNORECASE)


# "-> punch biopsy today (below)", "shave bx as described below": a pointer to the procedure
# written elsewhere in the note, not one more biopsy
REFERS_ELSEWHERE = re.compile(r"\((?:see[ \t]+)?(?:below|procedure(?: note)? below)\)|\b(?:as|see)[ \t]+(?:described[ \t]+|documented[ \t]+|detailed[ \t]+)?below\b",
                              re.IGNORECASE)  # fmt: skip


def _refers_below(text: str, m: Mention) -> bool:
    """The rest of the mention's sentence ("Tangential biopsy recommended and performed today (see
    below)") points to the procedure described further down."""
    ends = [i for i in (text.find("\n", m.end), text.find(". ", m.end)) if i >= 0]
    return REFERS_ELSEWHERE.search(text, m.end, min(ends + [m.end + 60, len(text)])) is not None


def _only_points_below(text: str, named: list[Mention]) -> bool:
    """ "HCP consented to skin biopsies. ... P: Punch biopsies x 2 separate lesions as below": every
    biopsy word of the frame is a technique-less mention or one pointing to the procedure below."""
    pointing = [p for p in named if _refers_below(text, p)]
    return bool(pointing) and all(p in pointing or p.canonical == "biopsy" for p in named)


def _one_lesion_sampled(text: str, m: Mention) -> bool:
    """The biopsy's own line says its samples come from one lesion."""
    start = text.rfind("\n", 0, m.start) + 1
    end = text.find("\n", m.end)
    return ONE_LESION.search(text, start, len(text) if end < 0 else end) is not None


# the nail unit: folds, matrix, bed, plate (a biopsy there is 11755, not a skin biopsy code)
NAIL_UNIT = re.compile(r"\bnail[ -]?(?:folds?|matrix|bed|unit|plate)\b|\bsubungual\b|\bhyponychium\b|\beponychium\b|\bperionychium\b", re.IGNORECASE)


@handler("biopsy")
def biopsy(ctx: CodingContext, rule: RuleRecord) -> None:
    """One primary by technique hierarchy; further lesions take their own technique's add-on."""
    lesions: list[tuple[str, int, Frame]] = []
    counted: set[tuple[str, str | None, str | None, str | None, str | None]] = set()  # (technique, site, side, label, section) of single biopsies
    one_lesion_sentences: dict[int, int] = {}  # sentence whose samples all come from one lesion -> its entry in `lesions`
    biopsy_frames = frames_with(ctx, *BIOPSY_RANK)
    specific = [f for _, f in biopsy_frames if f.procedure != "biopsy"]
    described = {_site_side(f) for f in specific} - {(None, None)}
    for i, frame in biopsy_frames:
        if frame.procedure == "biopsy" and specific and _restates_a_described_biopsy(ctx.text, frame, described):
            continue
        # the technique(s) named where the biopsy is described: "Each punch site 1 suture" later on
        # names the punch biopsies of other lesions
        named = [p for p in frame.procedures if p.canonical in BIOPSY_RANK]
        opening = [p for p in named if p.sentence == named[0].sentence]
        technique = max((p.canonical for p in opening), key=lambda c: BIOPSY_RANK[c])
        if technique == "biopsy":
            technique = max((p.canonical for p in named), key=lambda c: BIOPSY_RANK[c])
        if technique == "biopsy":
            ctx.query("biopsy_technique", "Biopsy technique (tangential, punch or incisional) not documented",
                      [frame.procedures[0]])  # fmt: skip
            technique = "biopsy_tangential"
        if _told_twice(frame, technique, biopsy_frames):
            continue
        if len(biopsy_frames) > 1 and (_refers_below(ctx.text, opening[-1]) or _only_points_below(ctx.text, named)):
            continue  # "-> punch biopsy today (below)": the biopsy the procedure section describes
        said = min(p.sentence for p in opening)
        if said in one_lesion_sentences:
            # "lesional 4 mm punch ... and perilesional 4 mm punch from the rim of the same bulla":
            # one biopsy, described by whichever frame holds the lesion's site
            k = one_lesion_sentences[said]
            if k < len(lesions) and not any(m.sentence == said for m in lesions[k][2].sites) and any(m.sentence == said for m in frame.sites):
                lesions[k] = (lesions[k][0], i, frame)
            continue
        if _one_lesion_sampled(ctx.text, opening[0]):
            one_lesion_sentences[said] = len(lesions)
        nail_site = next((m for m in frame.sites if m.active and m.sentence in {p.sentence for p in opening} and NAIL_UNIT.search(m.text)), None)
        if nail_site is not None:
            # "3 mm punch biopsy of the lateral nail fold lesion": the nail unit's own biopsy code
            ctx.add(Candidate("11755", 1, rule.id, f"{rule.id}: biopsy of the nail unit ({nail_site.text}) -> 11755",
                              evidence=opening[:1] + [nail_site], frames=[i], site=nail_site.canonical))  # fmt: skip
            continue
        n = _biopsy_lesions(frame, len(biopsy_frames) == 1, len(biopsy_frames), ctx.text)
        if n > 1 and any(_one_lesion_sampled(ctx.text, p) for p in named):
            n = 1  # "punch bx x2 from the same plaque": two samples, one lesion
        site, side = _site_side(frame)
        section = opening[0].section
        if n == 1 and site is not None and side is not None and any(
                k[:3] == (technique, site, side) and (k[3] == frame.label or None in (k[3], frame.label) or _plan_and_procedure(k[4], section))
                for k in counted):  # fmt: skip
            # "R shin ... -> punch bx" in the story and "| Punch bx 4 mm | R shin |" in the grid, or
            # "2. New growth L upper back - punch biopsy today" above "PROCEDURE: Punch biopsy, left
            # upper back" (the procedure section takes the last item's number): told twice
            continue
        if n:
            counted.add((technique, site, side, frame.label, section))
        for _ in range(n):
            lesions.append((technique, i, frame))
    if not lesions:
        return
    lesions.sort(key=lambda x: -BIOPSY_RANK[x[0]])
    primary_technique, first_index, first_frame = lesions[0]
    primary, _ = BIOPSY_CODES[primary_technique]
    site = facts.site_fact(first_frame)
    ctx.add(Candidate(
        primary, 1, rule.id, f"{rule.id}: primary biopsy by hierarchy ({primary_technique.removeprefix('biopsy_')})",
        evidence=first_frame.procedures[:1] + (site.evidence if site else []), frames=[first_index],
        site=site.value if site else None,
        alternatives=[(BIOPSY_CODES[t][0], 0.05, "other biopsy technique") for t in BIOPSY_CODES if t != primary_technique],
    ))  # fmt: skip
    addons: dict[str, list[tuple[int, Frame]]] = {}
    for technique, i, frame in lesions[1:]:
        addons.setdefault(BIOPSY_CODES[technique][1], []).append((i, frame))
    for code, items in addons.items():
        ctx.add(Candidate(
            code, len(items), rule.id, f"{rule.id}: {len(items)} further biopsied lesion(s) by their own technique",
            evidence=[f.procedures[0] for _, f in items], frames=[i for i, _ in items],
        ))  # fmt: skip


@handler("bundling")
def bundling(ctx: CodingContext, rule: RuleRecord) -> None:
    """A biopsy of a lesion removed at the same session is not coded (removal only)."""
    frozen = re.search(r"(?<!no )frozen section|\bFS\b", ctx.text, re.IGNORECASE) is not None  # "bx -> FS: nodular BCC", not "(no frozen section)"
    mohs_today = any(f.procedure == "mohs" for f in ctx.frames)
    if frozen and mohs_today:
        biopsies = [c for c in ctx.candidates if c.code in ("11102", "11104", "11106")]
        if biopsies:
            # same-day diagnostic biopsy read on frozen section before Mohs: separately reportable
            ctx.add(Candidate("88331", 1, rule.id, f"{rule.id}: frozen section of the same-day diagnostic biopsy before Mohs",
                              evidence=biopsies[0].evidence, frames=biopsies[0].frames, modifiers=["XS"]))  # fmt: skip
            for b in biopsies:
                if "XS" not in b.modifiers:
                    b.modifiers.append("XS")
            return
    removed_sites = {}
    for i, frame in enumerate(ctx.frames):
        if frame.procedure in REMOVALS:
            site = facts.site_fact(frame)
            own = {m.canonical for m in frame.sites if m.active and m.role != "donor"}
            said = {p.sentence for p in frame.procedures}
            if len(own) > 1 and not any(m.sentence in said for m in frame.sites if m.active):
                # "LN2 to warts as above" over warts of several sites: no one lesion was removed
                # there, so a biopsy at one of those sites is of another lesion
                continue
            if site and all(m.active for m in site.evidence):
                # (not "None of the frozen lesions is on the L forearm": a site the removal did not touch)
                removed_sites[site.value] = i
    if not removed_sites:
        return
    for cand in list(ctx.candidates):
        if cand not in ctx.candidates:
            continue  # an add-on promoted to the primary above
        if cand.code in ("11103", "11105", "11107"):
            _bundle_add_on(ctx, rule, cand, removed_sites)
            continue
        if cand.code not in ("11102", "11104", "11106"):
            continue
        if cand.site in removed_sites and _other_side(ctx, cand, removed_sites[cand.site]):
            continue  # "excision, right forearm" and "punch biopsy, left forearm": two lesions
        if cand.site in removed_sites and not (frozen and ctx.frames[removed_sites[cand.site]].procedure == "mohs"):
            ctx.candidates.remove(cand)
            ctx.warn("bundled_biopsy", f"{rule.id}: biopsy of the lesion removed at this session is included in the removal",
                     cand.evidence)  # fmt: skip
            _promote_an_add_on(ctx, rule)


def _bundle_add_on(ctx: CodingContext, rule: RuleRecord, cand: Candidate, removed_sites: dict[str, int]) -> None:
    """A further biopsy of a lesion removed at this session (its own frame at the removal's site
    and side) leaves the add-on line: one unit fewer."""
    for i in list(cand.frames):
        site = facts.site_fact(ctx.frames[i])
        removal = removed_sites.get(site.value) if site else None
        if removal is None or removal == i or _opposite_sides(ctx, i, removal):
            continue
        cand.frames.remove(i)
        cand.units -= 1
        ctx.warn("bundled_biopsy", f"{rule.id}: biopsy of the lesion removed at this session is included in the removal",
                 ctx.frames[i].procedures[:1])  # fmt: skip
    if cand.units < 1:
        ctx.candidates.remove(cand)


# The add-on of each technique and the primary code it stands for when no primary is left.
ADD_ON_PRIMARY = (("11107", "11106"), ("11105", "11104"), ("11103", "11102"))


def _promote_an_add_on(ctx: CodingContext, rule: RuleRecord) -> None:
    """The bundled biopsy was the session's primary: the next biopsy by hierarchy becomes it."""
    if any(c.code in ("11102", "11104", "11106") for c in ctx.candidates):
        return
    for add_on, primary in ADD_ON_PRIMARY:
        line = next((c for c in ctx.candidates if c.code == add_on), None)
        if line is None:
            continue
        ctx.add(dataclasses.replace(line, code=primary, units=1, modifiers=list(line.modifiers), rule_id=rule.id,
                                    rationale=f"{rule.id}: primary biopsy now that the lesion biopsied first was removed ({add_on} -> {primary})"))  # fmt: skip
        if line.units > 1:
            line.units -= 1
        else:
            ctx.candidates.remove(line)
        return


def _other_side(ctx: CodingContext, cand: Candidate, removal: int) -> bool:
    """True when the biopsy and the removal name opposite sides of the same site."""
    return bool(cand.frames) and _opposite_sides(ctx, cand.frames[0], removal)


def _opposite_sides(ctx: CodingContext, first: int, second: int) -> bool:
    """True when two frames name opposite sides of their site."""
    sides = []
    for i in (first, second):
        frame = ctx.frames[i]
        site = facts.site_fact(frame)
        side = facts.side_fact(frame, site.evidence[0] if site else None)
        sides.append(side.value if side else None)
    return None not in sides and sides[0] != sides[1]


def banded_code(ctx: CodingContext, frame: Frame, lesion: facts.Lesion, family: str, what: str):
    """(code record, anatomic group) for one lesion of a per-lesion family by its size band and
    site group, or None after raising the query for the missing or between-band fact."""
    site = lesion.site.canonical if lesion.site else None
    group = lesion_group(ctx, site, "lesion")
    if lesion.size is None:
        ctx.query("lesion_size", f"{what}: lesion diameter not documented", frame.procedures[:1])
        return None
    if group is None:
        ctx.query("site", f"{what}: anatomic site not documented", frame.procedures[:1])
        return None
    code = ctx.tables.band_code(family, lesion.size.value, group)
    if code is None:
        ctx.query("lesion_size", f"{what}: {lesion.size.value:g} cm falls between size bands", lesion.size.evidence)
        return None
    return code, group


@handler("shave")
def shave(ctx: CodingContext, rule: RuleRecord) -> None:
    """Shave removal per lesion by lesion diameter and site group."""
    for i, frame in _not_cosmetic(ctx, rule, frames_with(ctx, "shave_removal")):
        frame = _with_label_facts(ctx, frame, only_biopsies=True)
        lesions = facts.lesion_instances(frame)
        if len(lesions) > 1 and is_cosmetic(ctx.text):
            cosmetic = cosmetic_sites(ctx)
            lesions = [x for x in lesions if x.site is None or x.site.canonical not in cosmetic] or lesions
        # "each was removed by shave": one diagnosis, coded at each lesion's own site
        hist = facts.histology(frame)[0] if len({x.site.canonical for x in lesions if x.site}) > 1 else None
        for lesion in lesions:
            own_path = _labelled_pathology(ctx, frame, lesion) if len(lesions) > 1 else None
            found = banded_code(ctx, frame, lesion, "shave_removal", "Shave removal")
            if found is None and lesion.size is None:
                _smallest_band(ctx, rule, i, frame, lesion, "shave_removal", {"shave_removal"})  # the query is raised; code conservatively
                continue
            if found is None:
                continue
            code, group = found
            ctx.add(Candidate(
                code.code, 1, rule.id, f"{rule.id}: lesion {lesion.size.value:g} cm, {group.replace('_', '/')} -> {code.code}",
                evidence=frame.procedures[:1] + lesion.size.evidence + ([lesion.site] if lesion.site else []), frames=[i],
                site=lesion.site.canonical if lesion.site else None, alternatives=_neighbours(ctx, "shave_removal", code.code, group),
                diagnoses=_lesion_dx(ctx, frame, lesion, own_path or hist) if (own_path or hist) is not None and lesion.site else [],
            ))  # fmt: skip


LOWEST_BAND_CM = 0.1  # a diameter inside every family's smallest band


def _spelled_out(frame: Frame, procedures: set[str]) -> list[Mention]:
    """The frame's active procedure words of these kinds, written out (not a short abbreviation
    that may mean something else: "F/u 10-14 d SR")."""
    return [p for p in frame.procedures if p.active and p.canonical in procedures and len(p.text) >= 4]


def _procedure_with_site(frame: Frame, procedures: set[str], site: Mention | None = None) -> bool:
    """The frame's procedure is written out with its site in the same sentence ("2. Chest, papule -
    shave removal") or under the same lesion label ("A: 1. Superficial BCC, L upper back" ...
    "P: 1. ED&C done today"), never an abbreviation that may mean something else ("F/u 10-14 d SR")."""
    site = site or (frame.sites[0] if frame.sites else None)
    if site is None:
        return False
    return any(p.sentence == site.sentence or (p.block is not None and p.block == site.block) for p in _spelled_out(frame, procedures))


def _the_one_lesion(ctx: CodingContext, frame: Frame, procedures: set[str]) -> bool:
    """The note's only frame of this procedure, written out, about one site ("A: nevus, irritated,
    L cheek." then "Proc: shave removal. ... To path.")."""
    if procedures != {"shave_removal"}:
        return False  # (a destruction or an ED&C named in passing is too often another lesion's)
    alone = sum(1 for f in ctx.frames if f.procedure in procedures) == 1
    return bool(_spelled_out(frame, procedures)) and alone and len({m.canonical for m in frame.sites if m.active and m.role != "donor"}) == 1


def _listed_under_one_procedure(ctx: CodingContext, frame: Frame, procedures: set[str]) -> bool:
    """A labelled row of a list that one procedure heads ("Shave removal" over "| 1 | R cheek |
    6 mm |", "| 2 | L lateral neck | --- |"): the row's lesion had that procedure."""
    if frame.label is None:
        return False
    site = facts.site_fact(frame)
    if site is not None and any(f is not frame and (other := facts.site_fact(f)) is not None and other.value == site.value
                                and any(m.role in ("lesion", "size") for m in f.sizes) for f in ctx.frames):  # fmt: skip
        return False  # "2. PG R index finger - removed as above": a lesion measured in another frame, told again
    mine = {(p.start, p.end) for p in _spelled_out(frame, procedures)}
    return any(f is not frame and f.label is not None and f.label != frame.label and mine & {(p.start, p.end) for p in f.procedures}
               for f in ctx.frames)  # fmt: skip


def _labelled_pathology(ctx: CodingContext, frame: Frame, lesion: facts.Lesion) -> Mention | None:
    """The pathology diagnosis written under the lesion's own specimen label ("ADDENDUM: Path: A -
    Intradermal nevus. B - Dermatofibroma" for lesion B of "A. Upper lip ... B. Left earlobe")."""
    label = lesion.site.block if lesion.site is not None else None
    if label is None:
        return None
    return next((m for m in frame.path_histology if facts.usable(m) and specimen_label(ctx.text, m.start) == label), None)


def _smallest_band(ctx: CodingContext, rule: RuleRecord, i: int, frame: Frame, lesion: facts.Lesion, family: str,
                   procedures: set[str], diagnoses: list[str] | None = None) -> None:
    """No diameter written: the smallest band of the lesion's site group, at low confidence,
    beside the query for the size (a larger band would claim a fact the note lacks)."""
    # only a procedure written out with its site in the same sentence ("2. Chest, papule - shave
    # removal"), never an abbreviation that may mean something else ("F/u 10-14 d SR")
    # or under the same lesion label ("A: 1. Superficial BCC, L upper back" ... "P: 1. ED&C done today")
    if lesion.site is None or not (_procedure_with_site(frame, procedures, lesion.site) or _listed_under_one_procedure(ctx, frame, procedures)
                                   or _the_one_lesion(ctx, frame, procedures)):
        return
    if any(f.label == frame.label and f is not frame for f in ctx.frames if frame.label):
        return  # the label's lesion is coded by another frame (a nail biopsy, an excision)
    group = lesion_group(ctx, lesion.site.canonical, "lesion")
    code = ctx.tables.band_code(family, 0.1, group) if group else None
    if code is None:
        return
    ctx.add(Candidate(
        code.code, 1, rule.id, f"{rule.id}: lesion diameter not documented, {group.replace('_', '/')} -> smallest band {code.code} (query raised)",
        evidence=frame.procedures[:1] + ([lesion.site] if lesion.site else []), frames=[i], confidence=0.4,
        site=lesion.site.canonical if lesion.site else None, alternatives=_neighbours(ctx, family, code.code, group),
        diagnoses=diagnoses or [],
    ))  # fmt: skip


def _not_cosmetic(ctx: CodingContext, rule: RuleRecord, frames: list[tuple[int, Frame]]) -> list[tuple[int, Frame]]:
    """The frames to code: a benign lesion removed for appearance only is not billed."""
    cosmetic = cosmetic_removals(ctx, frames)
    for _, frame in cosmetic:
        ctx.warn("cosmetic", f"{rule.id}: removal documented as cosmetic: not coded", frame.procedures[:1])
    return [x for x in frames if x not in cosmetic]


def _neighbours(ctx: CodingContext, family: str, code: str, group: str | None) -> list[tuple[str, float, str]]:
    same = [c for c in ctx.tables.family_codes(family) if c.anatomic_group == group and not c.add_on]
    codes = [c.code for c in same]
    if code not in codes:
        return []
    i = codes.index(code)
    out = []
    for j in (i + 1, i - 1):
        if 0 <= j < len(codes):
            out.append((codes[j], 0.04, "neighbouring size band"))
    return out


def excised_diameter(ctx: CodingContext, frame: Frame) -> tuple[facts.Fact | None, str]:
    """Excised diameter (cm) and its arithmetic; queries a missing margin or size."""
    stated = facts.stated_excised_diameter(frame)
    if stated is not None:
        return stated, f"stated excised diameter {stated.value:g} cm"
    size = facts.lesion_size(frame)
    margin = facts.narrowest_margin(frame)
    if size is None:
        ctx.query("lesion_size", "Excision: lesion diameter (or excised diameter) not documented", frame.procedures[:1])
        if _unplaced_lesion_size(ctx):
            return None, ""
        if margin is None:
            # "#2 occipital scalp: second smaller cyst, same technique, excised intact": nothing
            # measured, so the lowest band (the guide's convention for a missing size)
            if not (_procedure_with_site(frame, {"excision"}) and _listed_beside_measured(ctx, frame)):
                return None, ""
            return facts.Fact(LOWEST_BAND_CM, []), "lesion not measured and no margin: lowest band"
        # "marked 4 mm margins" around an unmeasured lesion: the excised diameter is more than
        # twice the margin, so the lowest band the facts support is the one just above it (not
        # when the note measures a lesion no frame took: that may be this one's size)
        value = round(2 * margin.value + 0.01, 2)
        return facts.Fact(value, margin.evidence), f"lesion not measured; 2 x {margin.value:g} cm margin = {2 * margin.value:g} cm, so more than that excised (lowest band)"
    if margin is None:
        ctx.query("margin", "Excision: margin not documented; coded by lesion size alone", size.evidence)
        return facts.Fact(size.value, size.evidence), f"lesion {size.value:g} cm, margin not documented"
    value = round(size.value + 2 * margin.value, 2)
    arithmetic = f"{size.value:g} cm lesion + 2 x {margin.value:g} cm margin = {value:g} cm excised"
    return facts.Fact(value, size.evidence + margin.evidence), arithmetic


def _listed_beside_measured(ctx: CodingContext, frame: Frame) -> bool:
    """One lesion of a labelled list whose other lesions of the same procedure are measured
    ("#1 R parietal scalp: firm 2.6 cm cyst ... #2 occipital scalp: second smaller cyst")."""
    return frame.label is not None and any(
        f is not frame and f.label != frame.label and f.procedure == frame.procedure
        and any(m.role in ("lesion", "size") for m in f.sizes)
        for f in ctx.frames
    )  # fmt: skip


def _unplaced_lesion_size(ctx: CodingContext) -> bool:
    """A lesion measurement in the note that no frame holds."""
    placed = {(m.start, m.end) for f in ctx.frames for m in f.sizes}
    return any(m.label == "SIZE" and m.role in ("lesion", "size") and m.active and (m.start, m.end) not in placed
               for m in ctx.mentions)  # fmt: skip


def _frame_side(frame: Frame, site: facts.Fact | None) -> str | None:
    side = facts.side_fact(frame, site.evidence[0] if site else None)
    return side.value if side else None


def _lesion_siblings(ctx: CodingContext, frame: Frame) -> list[Frame]:
    """The other frames that describe this removal's lesion: the same lesion label in the same
    block, or, for a removal with no size of its own, a biopsy at the same site and side (the
    pair the bundling rule treats as one lesion: "shave biopsy taken first ... the remainder of
    the same lesion removed by shave")."""
    if frame.label is not None:
        return [f for f in ctx.frames if f is not frame and f.label == frame.label and f.block == frame.block]
    if any(m.role in ("lesion", "size") for m in frame.sizes):
        return []
    site = facts.site_fact(frame)
    if site is None:
        return []
    side = _frame_side(frame, site)
    out = []
    for f in ctx.frames:
        if f is frame or not (f.procedure or "").startswith("biopsy"):
            continue
        other = facts.site_fact(f)
        other_side = _frame_side(f, other)
        if other is not None and other.value == site.value and (side is None or other_side is None or side == other_side):
            out.append(f)
    return out if len(out) == 1 else []  # two biopsies there: which one was removed is not said


def _with_label_facts(ctx: CodingContext, frame: Frame, only_biopsies: bool = False) -> Frame:
    """A removal frame that describes the same lesion as another frame ("Lesion A: 5 mm papule.
    Punch biopsy ..., then the entire lesion was excised") takes the lesion's size, margins and
    pathology written there when it has none of its own. `only_biopsies`: only when every other
    frame of the lesion is a biopsy (a shave word beside a nail-matrix biopsy is its technique)."""
    siblings = _lesion_siblings(ctx, frame)
    if not siblings or (only_biopsies and not all((f.procedure or "").startswith("biopsy") for f in siblings)):
        return frame
    sizes = frame.sizes if any(m.role in ("lesion", "size") for m in frame.sizes) else \
        frame.sizes + [m for f in siblings for m in f.sizes if m.role in ("lesion", "size")]
    margins = frame.margins or [m for f in siblings for m in f.margins]
    path = frame.path_histology or [m for f in siblings for m in f.path_histology]
    return dataclasses.replace(frame, sizes=sizes, margins=margins, path_histology=path)


def _borrowed_dx(ctx: CodingContext, frame: Frame) -> list[str]:
    """The ICD codes of a frame that took its lesion's facts from a sibling frame."""
    from dermcoder.coding.diagnoses import frame_diagnoses

    found = frame_diagnoses(ctx, frame)
    ctx.note_dx.extend(found)
    return [code for code, _, _ in found]


@handler("excision")
def excision(ctx: CodingContext, rule: RuleRecord) -> None:
    """Benign or malignant excision by excised diameter, site group and final pathology."""
    for i, frame in _not_cosmetic(ctx, rule, frames_with(ctx, "excision")):
        if i in ctx.consumed:
            continue
        frame = _with_label_facts(ctx, frame)
        hist, source = facts.excision_histology(frame, ctx.mentions, ctx.text)
        if hist is not None and hist.canonical == "hidradenitis":
            continue  # coded by the hidradenitis rule
        site = facts.site_fact(frame)
        group = lesion_group(ctx, site.value if site else None, "lesion")
        diameter, arithmetic = excised_diameter(ctx, frame)
        if diameter is None:
            continue
        if group is None:
            ctx.query("site", "Excision: anatomic site not documented", frame.procedures[:1])
            continue
        malignant = hist is not None and hist.value in facts.MALIGNANT and source in ("pathology", "prior", "clinical")
        if hist is not None and hist.value in facts.MALIGNANT and source == "clinical" and not _proven(ctx, frame):
            malignant = False
            ctx.query("pathology", "Excision: malignancy not confirmed by pathology in the note; benign codes used", [hist])
        if hist is None:
            ctx.query("pathology", "Excision: final pathology not in the note; benign codes used until it is", frame.procedures[:1])
        family = "excision_malignant" if malignant else "excision_benign"
        code = ctx.tables.band_code(family, diameter.value, group)
        if code is None:
            ctx.query("lesion_size", f"Excision: {diameter.value:g} cm falls between size bands", diameter.evidence)
            continue
        basis = {"pathology": "final pathology", "clinical": "clinical diagnosis", "prior": "prior biopsy"}.get(source or "", "no pathology")
        why = f"{'malignant' if malignant else 'benign'} ({basis}: {hist.text if hist else 'none'})"
        other = "excision_benign" if malignant else "excision_malignant"
        other_code = ctx.tables.band_code(other, diameter.value, group)
        alts = _neighbours(ctx, family, code.code, group)
        if other_code:
            alts.insert(0, (other_code.code, 0.05, f"{other.split('_')[1]} family if pathology differs"))
        ctx.add(Candidate(
            code.code, 1, rule.id, f"{rule.id}: {why}; {arithmetic} -> {code.code}",
            evidence=frame.procedures[:1] + diameter.evidence + (site.evidence if site else []) + ([hist] if hist else []),
            frames=[i], site=site.value if site else None, alternatives=alts,
            # no lesion measured: the lowest band the facts support, a guess the query stands beside
            confidence=0.4 if facts.lesion_size(frame) is None and facts.stated_excised_diameter(frame) is None
            else 0.9 if hist is not None else 0.6,
            diagnoses=_borrowed_dx(ctx, frame) if frame is not ctx.frames[i] else [],
        ))  # fmt: skip
        if _band_edge(diameter.value):
            ctx.warn("band_edge", f"Excised diameter {diameter.value:g} cm is on a size-band edge: check the measurements",
                     diameter.evidence)  # fmt: skip


def _band_edge(value: float) -> bool:
    return any(abs(value - edge) < 1e-6 for edge in (0.5, 1.0, 2.0, 3.0, 4.0))


def _proven(ctx: CodingContext, frame: Frame) -> bool:
    """True when the note says the diagnosis was biopsy/pathology proven (a re-excision for an
    involved margin, "wide local excision", says an earlier specimen proved it)."""
    return any(p.canonical == "prior_biopsy" for p in ctx.mentions if p.label == "PROCEDURE") or re.search(
        r"proven|confirmed|path(?:ology)? (?:showed|shows|revealed|c/w|consistent)|bx (?:showed|shows|revealed)|biopsy (?:showed|shows|revealed|demonstrated)",
        ctx.text, re.IGNORECASE) is not None or facts.RE_EXCISION.search(ctx.text) is not None  # fmt: skip


HIDRADENITIS_REGIONS = {"axilla": ("11450", "11451"), "groin": ("11462", "11463"), "perianal": ("11470", "11471"),
                        "abdomen": ("11470", "11471"), "genitalia": ("11462", "11463"), "vulva": ("11462", "11463"),
                        "scrotum": ("11462", "11463"), "penis": ("11462", "11463")}  # fmt: skip


@handler("hidradenitis")
def hidradenitis(ctx: CodingContext, rule: RuleRecord) -> None:
    """Hidradenitis excision by region; the repair class picks the code."""
    for i, frame in frames_with(ctx, "excision"):
        hist, _ = facts.histology(frame)
        if hist is None or hist.canonical != "hidradenitis":
            continue
        site = facts.site_fact(frame)
        codes = HIDRADENITIS_REGIONS.get(site.value if site else "")
        if codes is None:
            ctx.query("site", "Hidradenitis excision: region (axillary, inguinal, perianal/perineal/umbilical) not clear")
            continue
        rep = facts.repair_class(frame)
        code = codes[1] if rep and rep.value == "complex" else codes[0]
        ctx.add(Candidate(code, 1, rule.id, f"{rule.id}: hidradenitis, {site.value}, repair {rep.value if rep else 'simple/intermediate'}",
                          evidence=frame.procedures[:1] + site.evidence, frames=[i], site=site.value))  # fmt: skip
        ctx.consumed.add(i)


def _own_histology(frame: Frame, lesion: facts.Lesion):
    """The malignant diagnosis written in the lesion's own sentence, when a frame holds several
    lesions ("The first is a sBCC on the right shoulder ... The second is an SCCIS on the hand")."""
    if lesion.site is None:
        return None
    # its site written again elsewhere ("The dorsal hand lesion was treated the same way")
    # brings the diagnosis of that sentence
    sentences = {m.sentence for m in frame.sites if m.canonical == lesion.site.canonical}
    own = [m for m in frame.histology if facts.usable(m) and m.sentence in sentences and m.value in facts.MALIGNANT]
    return own[0] if own and len({m.canonical for m in own}) == 1 else None


def _lesion_dx(ctx: CodingContext, frame: Frame, lesion: facts.Lesion, hist) -> list[str]:
    """The ICD code of one lesion of a frame, by its own diagnosis, site and side."""
    from dermcoder.coding.icd_map import icd_code

    key = facts.histology_key(hist)
    # the side is written where the diagnosis is ("an SCC in situ on the left dorsal hand")
    named = [m for m in frame.sites if m.canonical == lesion.site.canonical and m.sentence == hist.sentence]
    side = facts.side_fact(frame, named[0] if named else lesion.site)
    code = icd_code(key, lesion.site.canonical, side.value if side else None,
                    lesion.site.value if lesion.site.canonical == "eyelid" else None) if key else None  # fmt: skip
    if code is None:
        return []
    ctx.note_dx.append((code, hist, 0.75))
    return [code]


def _biopsied_here(ctx: CodingContext, index: int, frame: Frame):
    """(histology, source) of the lesion biopsied at this session at the ED&C's own site ("1. Shave
    biopsy of the papule -> spec A. 2. ED&C of the same site"): one lesion, told as two frames."""
    site = facts.site_fact(frame)
    if site is None:
        return None, None
    for j, other in enumerate(ctx.frames):
        if j == index or not (other.procedure or "").startswith("biopsy"):
            continue
        other_site = facts.site_fact(other)
        if other_site is None or other_site.value != site.value or _opposite_sides(ctx, j, index):
            continue
        hist, source = facts.histology(other)
        if hist is not None:
            return hist, source
    return None, None


@handler("destruction_malignant")
def destruction_malignant(ctx: CodingContext, rule: RuleRecord) -> None:
    """Malignant destruction (e.g. ED&C) per lesion by diameter and site group."""
    for i, frame in frames_with(ctx, *DESTRUCTIONS):
        hist, source = facts.histology(frame)
        borrowed = hist is None and frame.procedure == "ed_c"
        if borrowed:
            hist, source = _biopsied_here(ctx, i, frame)
        if hist is None or hist.value not in facts.MALIGNANT:
            continue
        named = facts.named_with_procedure(frame, ctx.mentions)
        if named and not any(m.value in facts.MALIGNANT for m in named):
            continue  # "LN2 to 3 AKs dorsal hands": the malignancy of the pathology is another lesion's
        lesions = facts.lesion_instances(frame, prefer_defect=True)
        for lesion in lesions:
            found = banded_code(ctx, frame, lesion, "destruction_malignant", "Malignant destruction")
            if found is None and lesion.size is None and len(lesions) == 1:
                _smallest_band(ctx, rule, i, frame, lesion, "destruction_malignant", set(DESTRUCTIONS))
                continue
            if found is None:
                continue
            code, group = found
            own = _own_histology(frame, lesion) if len(lesions) > 1 else None
            shown = own or hist
            ctx.add(Candidate(
                code.code, 1, rule.id,
                f"{rule.id}: {shown.text} ({'clinical' if own else source}), {lesion.size.value:g} cm, {group.replace('_', '/')} -> {code.code}",
                evidence=frame.procedures[:1] + lesion.size.evidence + [shown] + ([lesion.site] if lesion.site else []), frames=[i],
                site=lesion.site.canonical if lesion.site else None,
                alternatives=_neighbours(ctx, "destruction_malignant", code.code, group),
                diagnoses=_lesion_dx(ctx, frame, lesion, own or hist) if own or (borrowed and lesion.site) else [],
            ))  # fmt: skip
