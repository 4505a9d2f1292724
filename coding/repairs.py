"""Closure rules: simple/intermediate/complex repairs, adjacent tissue transfer, grafts."""

from __future__ import annotations

import re

from dermcoder.coding import facts
from dermcoder.coding.cosmetic import cosmetic_removals
from dermcoder.coding.lesions import lesion_group
from dermcoder.coding.rulebook import Candidate, CodingContext, RuleRecord, handler

SCHEME = {"simple": "repair_simple", "intermediate": "repair_intermediate", "complex": "repair_complex"}
# Closure already paid for by the procedure of the same wound.
SIMPLE_INCLUDED = {"excision", "shave_removal", "biopsy_punch", "biopsy_incisional", "biopsy_tangential", "biopsy"}
COMPLEX_ADDON = {"13101": "13102", "13121": "13122", "13132": "13133", "13152": "13153"}
# Reference classic error 15: layers plus limited undermining called "complex". A complex
# repair needs one criterion (exposed bone/cartilage/tendon/named structure, wound-edge
# debridement, undermining >= the defect width, a free margin, retention sutures).
LIMITED_UNDERMINING = re.compile(
    r"\bundermin\w*[^.;\n]{0,40}?\b(?:was |were )?(?:limited|minimal|modest|less than|short of|(?:about |roughly )?(?:a|one)[- ]third|half)\b"
    r"|\b(?:limited|minimal|modest|no)\s+undermining\b", re.IGNORECASE)
COMPLEX_CRITERION = re.compile(
    r"\b(?:expos\w*|visible)\s+(?:of\s+)?(?:the\s+)?(?:bone|cartilage|tendon|nerve|vessel|periosteum|perichondrium|fascia)"
    r"|\b(?:bone|cartilage|tendon|periosteum|perichondrium)\s+(?:was\s+|were\s+|is\s+)?(?:exposed|visible)"
    r"|\bdebrid\w*|\bretention sutures?|\bfree (?:edge|margin)|\b(?:helical|nostril|alar) rim|\bvermilion"
    r"|\bextensive(?:ly)?\s+undermin\w*|\bundermin\w*[^.;\n]{0,40}?(?:at least|equal to|≥|>=|(?<!-)>|greater than|exceed\w*|beyond)", re.IGNORECASE)
NEGATION_BEFORE = re.compile(r"\b(?:no|not|without|nor|never)\b[^.;,\n]{0,12}$", re.IGNORECASE)


@handler("repairs")
def repairs(ctx: CodingContext, rule: RuleRecord) -> None:
    """Sum lengths per class and anatomic group; one code per (class, group)."""
    sums: dict[tuple[str, str], list] = {}
    # the closure of a cosmetic removal is part of the cosmetic service ("Scar revision, left
    # cheek - COSMETIC ... layered closure 3.4 cm")
    removals = [(i, f) for i, f in enumerate(ctx.frames) if f.procedure in ("excision", "shave_removal")]
    cosmetic = {i for i, _ in cosmetic_removals(ctx, removals)} if removals else set()
    for i, frame in enumerate(ctx.frames):
        if facts.reconstruction(frame) is not None or i in ctx.consumed or i in cosmetic:
            continue
        rep = facts.repair_class(frame)
        if rep is None:
            continue
        cls = rep.value
        if cls == "simple" and frame.procedure in SIMPLE_INCLUDED:
            continue
        if cls == "simple" and facts.reconstruction(frame) is not None:
            continue
        length = facts.repair_length(frame)
        if length is None:
            ctx.query("repair_length", f"{cls.capitalize()} repair: length not documented", rep.evidence)
            continue
        if cls == "complex" and length.value <= 1.0:
            cls = "intermediate"  # CPT: no complex code for 1.0 cm or less
        elif cls == "complex" and _complex_unsupported(ctx.text[frame.start : frame.end] or ctx.text, _defect_width(frame)):
            cls = "intermediate"
            ctx.warn("complex_not_supported", f"{rule.id}: 'complex' closure documented with limited undermining and no complex "
                     "criterion; coded as intermediate", rep.evidence)  # fmt: skip
        site = facts.site_fact(frame)
        group = lesion_group(ctx, site.value if site else None, SCHEME[cls])
        if group is None:
            ctx.query("site", f"{cls.capitalize()} repair: site (anatomic group) not documented", rep.evidence)
            continue
        sums.setdefault((cls, group), []).append((i, length, rep, site))
    for (cls, group), items in sums.items():
        total = round(sum(it[1].value for it in items), 2)
        family = SCHEME[cls]
        code = ctx.tables.band_code(family, min(total, 7.5) if cls == "complex" else total, group)
        if code is None:
            ctx.query("repair_length", f"{cls} repair total {total:g} cm falls between bands", [it[1].evidence[0] for it in items])
            continue
        parts = " + ".join(f"{it[1].value:g}" for it in items)
        arithmetic = f"{parts} = {total:g} cm" if len(items) > 1 else f"{total:g} cm"
        evidence = [m for it in items for m in it[2].evidence + it[1].evidence]
        ctx.add(Candidate(code.code, 1, rule.id, f"{rule.id}: {cls} repair, {group.replace('_', '/')}: {arithmetic} -> {code.code}",
                          evidence=evidence, frames=[it[0] for it in items], site=items[0][3].value if items[0][3] else None,
                          alternatives=[(a, 0.04, b) for a, _, b in _ladder_neighbours(ctx, family, code.code, group)]))  # fmt: skip
        if cls == "complex" and total > 7.5 and code.code in COMPLEX_ADDON:
            units = facts.ceil_units(total, 7.5, 5.0)
            ctx.add(Candidate(COMPLEX_ADDON[code.code], units, rule.id,
                              f"{rule.id}: ({total:g} - 7.5) / 5 rounded up = {units} add-on unit(s)", evidence=evidence,
                              frames=[it[0] for it in items]))  # fmt: skip


# "undermining 0.5 cm along each edge", "edges were undermined approximately 0.5 cm"
UNDERMINING_DISTANCE = re.compile(r"\bundermin\w*[^.;\n\d]{0,30}?(\d+(?:\.\d+)?)[ \t]*(cm|mm)\b", re.IGNORECASE)
DEFECT_WIDTH = re.compile(r"\bdefect[ \t]+width[^.;\n\d]{0,15}?(\d+(?:\.\d+)?)[ \t]*(cm|mm)\b", re.IGNORECASE)


def _cm(value: str, unit: str) -> float:
    return float(value) / (10 if unit.lower() == "mm" else 1)


def _defect_width(frame) -> float | None:
    """The widest the defect can be taken to be: the excised diameter (lesion + 2 x margin)."""
    size, margin = facts.lesion_size(frame), facts.narrowest_margin(frame)
    return round(size.value + 2 * margin.value, 2) if size is not None and margin is not None else None


def _complex_unsupported(text: str, width: float | None = None) -> bool:
    """True when the note limits the undermining and names no complex criterion (unnegated).

    Undermining is extensive only when it reaches the defect's width (CPT 2020 definitions):
    "undermining 0.5 cm along each edge" of a 2.1 cm defect is limited."""
    limited = LIMITED_UNDERMINING.search(text) is not None
    if not limited and (m := UNDERMINING_DISTANCE.search(text)):
        stated = DEFECT_WIDTH.search(text)
        width = _cm(*stated.groups()) if stated else width
        limited = width is not None and _cm(*m.groups()) < width
    if not limited:
        return False
    return not any(not NEGATION_BEFORE.search(text, max(0, m.start() - 20), m.start()) for m in COMPLEX_CRITERION.finditer(text))


def _ladder_neighbours(ctx, family, code, group):
    codes = [c.code for c in ctx.tables.family_codes(family) if c.anatomic_group == group and not c.add_on]
    if code not in codes:
        return []
    i = codes.index(code)
    return [(codes[j], 0.04, "neighbouring length band") for j in (i + 1, i - 1) if 0 <= j < len(codes)]


def reconstructions(ctx: CodingContext, kinds: tuple[str, ...], what: str, where: str, unmeasured: bool = False):
    """(frame index, reconstruction mention, site fact, anatomic group, area fact) for each flap or
    graft of these kinds whose area and site the note documents; queries the missing fact otherwise
    (`unmeasured`: a documented site without an area is still yielded, with area None, after the query)."""
    measured = {i for i, f in enumerate(ctx.frames) if f.areas and (r := facts.reconstruction(f)) is not None and r.canonical in kinds}
    for i, frame in enumerate(ctx.frames):
        rec = facts.reconstruction(frame)
        if rec is None or rec.canonical not in kinds:
            continue
        if not frame.areas and measured - {i}:
            # "we talked about a local flap" beside "BCC-1 is a 9 x 7 mm papule", while another
            # frame gives the flap's own areas: this frame's sizes are no flap defect
            continue
        site = facts.site_fact(frame)
        scheme = {"flap": "att", "ftsg": "ftsg", "stsg": "stsg"}[rec.canonical]
        group = lesion_group(ctx, site.value if site else None, scheme)
        area = facts.defect_area(frame, ctx.text)
        if area is None:
            ctx.query("area", f"{what}: {where} area not documented", [rec])
            if not (unmeasured and group is not None):
                continue
        if group is None:
            ctx.query("site", f"{what}: {where} site not documented", [rec])
            continue
        yield i, frame, rec, site, group, area


@handler("att")
def att(ctx: CodingContext, rule: RuleRecord) -> None:
    """Adjacent tissue transfer by primary + secondary defect area; includes the excision."""
    for i, frame, rec, site, group, area in reconstructions(ctx, ("flap",), "Flap", "primary + secondary defect"):
        if area.value > 30.0:
            code, addon_units = "14301", facts.ceil_units(area.value, 60.0, 30.0)
        else:
            found = ctx.tables.band_code("att", area.value, group)
            if found is None:
                ctx.query("area", f"Flap: {area.value:g} sq cm falls between bands", area.evidence)
                continue
            code, addon_units = found.code, 0
        ctx.add(Candidate(code, 1, rule.id, f"{rule.id}: flap defect {area.note} = {area.value:g} sq cm, {group.replace('_', '/')} -> {code}",
                          evidence=[rec] + area.evidence + (site.evidence if site else []), frames=[i],
                          site=site.value if site else None))  # fmt: skip
        if addon_units:
            ctx.add(Candidate("14302", addon_units, rule.id, f"{rule.id}: {area.value:g} sq cm beyond 60 -> {addon_units} add-on unit(s)",
                              evidence=area.evidence, frames=[i]))  # fmt: skip
        if frame.procedure == "excision":
            ctx.consumed.add(i)
            ctx.warn("att_includes_excision", f"{rule.id}: the excision at the flap site is included in the flap code", [rec])


@handler("graft")
def graft(ctx: CodingContext, rule: RuleRecord) -> None:
    """Free grafts by recipient area and site group."""
    for i, frame, rec, site, group, area in reconstructions(ctx, ("ftsg", "stsg"), "Graft", "recipient", unmeasured=True):
        family = "graft_ftsg" if rec.canonical == "ftsg" else "graft_stsg"
        primary = next((c for c in ctx.tables.family_codes(family) if c.anatomic_group == group and not c.add_on), None)
        addon = next((c for c in ctx.tables.family_codes(family) if c.anatomic_group == group and c.add_on), None)
        if primary is None:
            continue
        if area is None:
            # "about the size of a quarter ... dimensions are in the photo": the site group gives the
            # code, the first band is all the note supports (no add-on units), with the area query
            ctx.add(Candidate(primary.code, 1, rule.id, f"{rule.id}: {rec.text}, recipient area not documented -> lowest band {primary.code}",
                              evidence=[rec] + (site.evidence if site else []), frames=[i], site=site.value if site else None,
                              confidence=0.4))  # fmt: skip
            continue
        step = 20.0 if rec.canonical == "ftsg" else 100.0
        units = facts.ceil_units(area.value, step, step)
        ctx.add(Candidate(primary.code, 1, rule.id, f"{rule.id}: {rec.text}, recipient {area.value:g} sq cm -> {primary.code}",
                          evidence=[rec] + area.evidence + (site.evidence if site else []), frames=[i],
                          site=site.value if site else None))  # fmt: skip
        if units and addon is not None:
            ctx.add(Candidate(addon.code, units, rule.id, f"{rule.id}: {area.value:g} sq cm beyond {step:g} -> {units} unit(s)",
                              evidence=area.evidence, frames=[i]))  # fmt: skip
