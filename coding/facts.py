"""Reading coding facts off a frame: site, side, lesion size, margins, repair, histology, counts.

Each reader returns the value with the mentions it came from (evidence), or None when
the note does not say: rules then query instead of guessing.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from dermcoder.nlp.frames import Frame, Mention
from dermcoder.nlp.lexicons import load_lexicons

MALIGNANT = {"malignant", "in_situ"}
LAY_WORDS = {"mole", "moles"}
NEOPLASTIC = {"malignant", "in_situ", "benign", "uncertain"}
HIST_SEVERITY = {"malignant": 5, "in_situ": 4, "uncertain": 3, "premalignant": 2, "benign": 1}
# "prior"/"previous" cues on a diagnosis that was proven on an earlier biopsy describe today's lesion.
PROVEN = re.compile(r"proven|confirmed|biops|path|bx|showed|shows|revealed|demonstrat|diagnosed|dx", re.IGNORECASE)


@dataclass
class Fact:
    """A value read from the note, with its evidence mentions."""

    value: object
    evidence: list[Mention] = field(default_factory=list)
    note: str = ""


def usable(m: Mention) -> bool:
    """A mention that describes today's facts (context-free, or only uncertain)."""
    return m.active


def site_fact(frame: Frame) -> Fact | None:
    """The frame's site (first site that describes today), with its side and eyelid part."""
    sites = [s for s in frame.sites if usable(s) and s.role != "donor"] or [s for s in frame.sites if s.role != "donor"]
    if not sites:
        return None
    # the site named in the sentence of the procedure itself beats one met elsewhere
    # ("Scalp clear, no AKs treated today." before "PROCEDURE: excision SCCIS right forearm")
    # (not for Mohs: its report names stages, maps and closures by site in other sentences)
    proc_sentences = {p.sentence for p in frame.procedures if p.active} if frame.procedure != "mohs" else set()
    # (a "weeks ago" clause about the biopsy does not make the lesion's site history when
    # the procedure in that sentence is today's)
    with_proc = [s for s in frame.sites if s.sentence in proc_sentences and s.role != "donor" and not set(s.context) - {"historical", "uncertain"}]
    site = with_proc[0] if with_proc else sites[0]
    # a more specific site word in the same frame wins over a broad region ("face", "arm",
    # "leg", "trunk": nlp/resources/site_lexicon.json "regions")
    generic = load_lexicons().regions
    if site.canonical in generic:
        specific = [s for s in sites if s.canonical not in generic]
        if specific:
            site = specific[0]
    if site.canonical == "eyelid" and site.value is None:
        # "lid margin" today, "right lower eyelid" in the biopsy report: the same lid, named in full
        named = [s for s in frame.sites if s.canonical == "eyelid" and s.value and "negated" not in s.context]
        if named:
            site = named[0]
    return Fact(site.canonical, [site])


# "right ... nasal ala": a side written up to 25 characters before its site is that site's;
# after it, only right behind ("forearm, left")
SIDE_BEFORE_SITE = 25
SIDE_AFTER_SITE = 6


def written_before(side: Mention, site: Mention) -> bool:
    """The side is written just before the site ("right nasal ala", "R upper lid, lower margin")."""
    return 0 <= site.start - side.end <= SIDE_BEFORE_SITE


def side_fact(frame: Frame, site: Mention | None) -> Fact | None:
    """The side written next to the site (or the only side of the frame)."""
    sides = [m for m in frame.laterality if usable(m)] or frame.laterality
    if not sides:
        return None
    if site is not None:
        # the side written against the chosen site carries that site's context, whatever it is
        beside = [m for m in frame.laterality if "negated" not in m.context]
        near = [m for m in beside if written_before(m, site) or 0 <= m.start - site.end <= SIDE_AFTER_SITE]
        if near:
            return Fact(near[-1].canonical if near[-1].start < site.start else near[0].canonical, [near[0]])
    distinct = {m.canonical for m in sides}
    if len(distinct) == 1:
        return Fact(sides[0].canonical, [sides[0]])
    return Fact(sides[0].canonical, [sides[0]])


def _dims(m: Mention) -> list[float]:
    return [float(v) for v in (m.value or [])]


def lesion_size(frame: Frame, prefer_defect: bool = False) -> Fact | None:
    """Greatest clinical diameter of the lesion (cm); the curetted defect when asked and stated."""
    sizes = [m for m in frame.sizes if usable(m)]
    if prefer_defect:
        defects = [m for m in sizes if m.role == "defect"]
        if defects:
            m = defects[-1]
            return Fact(max(_dims(m)), [m], "final defect")
    lesions = [m for m in sizes if m.role in ("lesion", "size") and m.section != "pathology"]
    if not lesions:
        return None
    m = lesions[0]
    dims = _dims(m)
    return Fact(max(dims), [m], f"{m.text}")


def stated_excised_diameter(frame: Frame) -> Fact | None:
    sizes = [m for m in frame.sizes if usable(m) and m.role == "excised_diameter"]
    if not sizes:
        return None
    return Fact(max(_dims(sizes[0])), [sizes[0]])


def narrowest_margin(frame: Frame) -> Fact | None:
    """The narrowest documented surgical margin (cm); unequal margins keep all, use the smallest."""
    # "planned 2.5 mm margins" / "margins marked": the planned margin is the one excised
    margins = [m for m in frame.margins if (usable(m) or set(m.context) <= {"hypothetical"}) and m.role == "margin" and m.section != "pathology"]
    if not margins:
        return None
    values = [min(_dims(m)) for m in margins]
    smallest = min(values)
    return Fact(smallest, [margins[values.index(smallest)]], ", ".join(m.text for m in margins))


REPAIR_RANK = {"complex": 3, "intermediate": 2, "simple": 1}


def repair_class(frame: Frame) -> Fact | None:
    """The closure class the note documents for this frame.

    The class written with the repair length ("Layered closure length 5.5 cm") wins over a
    template header; otherwise the most complex class stated.
    """
    reps = [m for m in frame.repairs if usable(m) and m.canonical in REPAIR_RANK]
    if not reps:
        return None
    length = repair_length(frame)
    if length is not None:
        same = [m for m in reps if m.line == length.evidence[0].line]
        if same:
            best = max(same, key=lambda m: REPAIR_RANK[m.canonical])
            return Fact(best.canonical, [best])
    best = max(reps, key=lambda m: REPAIR_RANK[m.canonical])
    return Fact(best.canonical, [best])


def repair_length(frame: Frame) -> Fact | None:
    """The repaired wound length (cm): the measurement the note ties to the closure."""
    lengths = [m for m in frame.sizes if usable(m) and m.role == "repair_length" and len(_dims(m)) == 1]
    if not lengths:
        return None
    m = lengths[-1]
    return Fact(_dims(m)[0], [m])


def reconstruction(frame: Frame) -> Mention | None:
    """A flap or graft mention of this frame, if any."""
    recs = [m for m in frame.repairs if usable(m) and m.canonical in ("flap", "ftsg", "stsg")]
    return recs[0] if recs else None


TOTAL_BEFORE = re.compile(r"(?:(?:total|combined|sum|overall|for a total of|totaling|totalling)\b|=)[a-z \t]{0,30}?[\s.:=…-]*$", re.IGNORECASE)


def defect_area(frame: Frame, text: str) -> Fact | None:
    """Area in sq cm: a stated total, else primary + secondary (or all areas), else dimensions multiplied."""
    areas = [m for m in frame.areas if usable(m)]
    if areas:
        totals = [m for m in areas if TOTAL_BEFORE.search(text[max(0, m.start - 40) : m.start])]
        if totals:
            m = totals[-1]
            return Fact(_area_value(m), [m], "stated total")
        value = sum(_area_value(m) for m in areas)
        return Fact(round(value, 2), areas, " + ".join(m.text for m in areas))
    dims = [m for m in frame.sizes if usable(m) and len(_dims(m)) >= 2 and m.role in ("defect", "size", "lesion", "area")]
    defect_dims = [m for m in dims if m.role == "defect"] or dims
    if defect_dims:
        total = 0.0
        for m in defect_dims:
            d = _dims(m)
            total += d[0] * d[1]
        return Fact(round(total, 2), defect_dims, " + ".join(f"{m.text}" for m in defect_dims) + " (multiplied)")
    return None


def _area_value(m: Mention) -> float:
    dims = _dims(m)
    return dims[0] * dims[1] if len(dims) >= 2 and "x" in m.text.lower() else dims[0]


def named_with_procedure(frame: Frame, mentions: list[Mention] | None = None) -> list[Mention]:
    """The certain diagnoses written in the sentences of the frame's own procedures: "R antihelix:
    ... clinically AK" above "cryodestruction of warts - all 16" treated warts, not the AK.
    `mentions`: look among the note's mentions, not only the frame's (a diagnosis another frame took)."""
    said = {p.sentence for p in frame.procedures if p.active}
    pool = frame.histology if mentions is None else [m for m in mentions if m.label == "HISTOLOGY"]
    return [m for m in pool if m.sentence in said and m.active and "uncertain" not in m.context]


def _elsewhere(frame: Frame, m: Mention, site: Fact | None) -> bool:
    """A diagnosis written with another site (than the frame's `site`) in its own sentence
    ("1. BCC, right nasal ala" above a biopsy of the back) is another lesion's."""
    if site is None:
        return False
    named = {s.canonical for s in frame.sites if s.sentence == m.sentence and s.role != "donor" and "negated" not in s.context}
    regions = load_lexicons().regions
    return bool(named) and not any(n == site.value or site.value in regions.get(n, ()) or n in regions.get(site.value, ()) for n in named)


def histology(frame: Frame) -> tuple[Mention | None, str]:
    """The diagnosis to code for a frame and where it came from ('pathology', 'prior', 'clinical', '')."""
    path = [m for m in frame.path_histology if m.active]
    if path:
        return max(path, key=lambda m: HIST_SEVERITY.get(m.value or "", 0)), "pathology"
    current = [m for m in frame.histology if m.active and "uncertain" not in m.context and m.canonical != "growth"]
    if any("uncertain" in m.context and m.value in NEOPLASTIC for m in frame.histology):
        # "Changing mole" with "ddx dysplastic nevus vs early melanoma": the lay word is the
        # complaint; the clinician's differential says the behaviour is not yet known
        current = [m for m in current if m.text.lower() not in LAY_WORDS]
    if current:
        site = site_fact(frame)  # once per frame, not once per diagnosis
        current = [m for m in current if not _elsewhere(frame, m, site)]
    proven_sentences = {p.sentence for p in frame.priors}
    prior = [
        m for m in frame.histology
        if "historical" in m.context and not (set(m.context) - {"historical", "uncertain"})
        and (m.sentence in proven_sentences or (m.cue and PROVEN.search(m.cue + " " + m.text)))
    ]  # fmt: skip
    if current and frame.procedure is None:
        # a wound repaired with no procedure before it: the injury is why ("laceration" beside "his AKs look quiet")
        injuries = [m for m in current if m.value == "injury"]
        if injuries:
            return injuries[0], "clinical"
    if current:
        named_all = named_with_procedure(frame)
        named = [m for m in named_all if m.canonical != "growth"]
        if not named and frame.procedure and frame.procedure.startswith("biopsy") and any(m.canonical == "growth" for m in named_all):
            # "2. Neoplasm R temple -> shave bx done" under "1. AD flare ...": the biopsy's own
            # words call it a growth; a dermatosis written elsewhere is the visit's other problem
            return None, ""
        return max(named or current, key=lambda m: HIST_SEVERITY.get(m.value or "", 0)), "clinical"
    if prior:
        return prior[0], "prior"
    return None, ""


RE_EXCISION = re.compile(r"(?<!no )re-?excis|wide local excision|\bWLE\b|excision of (?:the )?(?:biopsy )?scar|(?:positive|involved|\+) (?:\w+ )?margins?|margins? (?:were |was )?(?:positive|involved)|residual", re.IGNORECASE)


def prior_malignancy(mentions: list[Mention], text: str) -> Mention | None:
    """For a re-excision: the malignancy treated before (kept even if no residual tumour is found)."""
    if not RE_EXCISION.search(text):
        return None
    for m in mentions:
        if m.label == "HISTOLOGY" and m.value in MALIGNANT and "historical" in m.context:
            if not set(m.context) & {"family", "uncertain", "negated", "hypothetical", "copied_forward"}:
                return m
    return None


def excision_histology(frame: Frame, mentions: list[Mention], text: str) -> tuple[Mention | None, str]:
    """The diagnosis of an excision: its own (as `histology`), or, for a re-excision whose
    pathology does not settle it, the malignancy treated before."""
    hist, source = histology(frame)
    if (hist is None or hist.value not in MALIGNANT and hist.canonical != "hidradenitis") and source != "pathology":
        earlier = prior_malignancy(mentions, text)
        if earlier is not None:
            return earlier, "prior"
    return hist, source


def histology_key(m: Mention | None) -> str | None:
    """The ICD map key of a histology mention."""
    if m is None:
        return None
    info = load_lexicons().histology_info.get(m.canonical or "")
    return info.icd if info else None


def count_fact(frame_or_mentions, nouns: tuple[str, ...] = (), sites: list[Mention] | None = None) -> Fact | None:
    """Lesion count: a stated total, else the sum of the item counts (e.g. 4 scalp + 3 forearm).

    `sites`: the site mentions around a list of counts (a frame's own are used for a frame)."""
    counts = frame_or_mentions.counts if isinstance(frame_or_mentions, Frame) else frame_or_mentions
    counts = [m for m in counts if usable(m)]
    counts = _without_mixed_totals(counts)
    if nouns:
        counts = [m for m in counts if m.canonical is None or any(n in (m.canonical or "") for n in nouns)]
    if not counts:
        return None
    totals = [m for m in counts if m.role == "total"]
    if totals:
        return Fact(int(totals[-1].value), [totals[-1]], "stated total")
    # "10 lesions on face: forehead 4, nose 2, L cheek 3, chin 1": a count followed by its own
    # breakdown on the same line is the total, not one more item (as are the counts of its own
    # sentence that add up to it: "five AKs: two on the vertex scalp and three on the dorsal hands")
    for m in counts:
        if (m.canonical or "").endswith("by site"):
            continue
        rest = [o for o in counts if o is not m and o.line == m.line and o.start > m.start
                and ((o.canonical or "").endswith("by site") or o.sentence == m.sentence)]  # fmt: skip
        if len(rest) >= 2 and sum(int(o.value) for o in rest) == int(m.value):
            return Fact(int(m.value), [m] + rest, " + ".join(o.text for o in rest))
    # "Acne cysts: chin 2; right jawline 2; left cheek 1" above "0.1 mL per lesion x 5 lesions":
    # a count equal to the whole breakdown written before it is that breakdown's total
    by_site = [m for m in counts if (m.canonical or "").endswith("by site")]
    if len(by_site) >= 2:
        for m in counts:
            before = [o for o in by_site if o.start < m.start]
            if m not in by_site and len(before) == len(by_site) and sum(int(o.value) for o in before) == int(m.value):
                return Fact(int(m.value), [m] + before, " + ".join(o.text for o in before))
    if isinstance(frame_or_mentions, Frame):
        sites = frame_or_mentions.sites
    site_starts = [x.start for x in sites] if sites is not None else None
    items = []
    seen: set[int] = set()
    for m in counts:
        if m.start in seen:
            continue
        seen.add(m.start)
        # "Actinic keratoses x2: cryotherapy today, 2 lesions": the same number again in its
        # sentence with no site between names the same lesions (counts by site are summed)
        if site_starts is not None and any(_restates(o, m, site_starts) for o in items):
            continue
        items.append(m)
    return Fact(sum(int(m.value) for m in items), items, " + ".join(m.text for m in items))


GENERIC_COUNTED = re.compile(r"^(?:spots?|lesions?|sites?|areas?|growths?)$")


def _without_mixed_totals(counts: list[Mention]) -> list[Mention]:
    """ "AKs x3, common warts x2 - froze 5 spots today": a count of a generic noun that adds up
    the counts of two or more kinds in its sentence is their total, not more of any one kind."""
    out = []
    for m in counts:
        if GENERIC_COUNTED.match(m.canonical or ""):
            kinds = [o for o in counts if o is not m and o.sentence == m.sentence and o.canonical and not GENERIC_COUNTED.match(o.canonical)
                     and not o.canonical.endswith("by site")]  # fmt: skip
            if len({o.canonical for o in kinds}) >= 2 and sum(int(o.value) for o in kinds) == int(m.value):
                continue
        out.append(m)
    return out


SUMMING_UP = ("assessment", "assessment_plan")


def _restates(first: Mention, later: Mention, site_starts: list[int]) -> bool:
    """The later count names the same lesions: the same number with no site between, in the
    same sentence or summed up by the assessment ("Proc: LN2 to 9 AKs." ... "A/P: AKs x9 - LN2 done.")."""
    summed_up = later.section in SUMMING_UP and first.section not in SUMMING_UP
    return ((first.sentence == later.sentence or summed_up) and int(first.value) == int(later.value)
            and not any(first.end <= s < later.start for s in site_starts))  # fmt: skip


def ceil_units(value: float, base: float, step: float) -> int:
    """Add-on units for the part of `value` beyond `base`, per `step` or part of one."""
    if value <= base:
        return 0
    return math.ceil(round((value - base) / step, 6))


@dataclass
class Lesion:
    """One lesion inside a frame: its site mention and its size (a frame may list several)."""

    site: Mention | None
    size: Fact | None
    margin: Fact | None = None


def lesion_instances(frame: Frame, prefer_defect: bool = False) -> list[Lesion]:
    """Split a frame that lists several sized lesions at different sites ("Lesion one, on
    the scalp, 7 mm ... Lesion two, on the neck, 4 mm") into one Lesion each."""
    roles = ("lesion", "size")
    defects = [m for m in frame.sizes if usable(m) and m.role == "defect"]
    if prefer_defect and defects:
        roles = ("defect",)
        # "the defects measured: right upper back 1.1 cm, left lower back 0.5 cm, left helix 4 mm"
        # (a size written as the lesion's, "Pre-curettage 0.9 cm | Final defect 1.3 cm", stays the lesion's)
        listed = [m for m in frame.sizes if usable(m) and m.role in ("defect", "size") and m.sentence in {d.sentence for d in defects}]
        if len(listed) > len(defects):
            roles = ("defect", "size")
    sizes = [m for m in frame.sizes if usable(m) and m.role in roles and m.section != "pathology"]
    if roles == ("defect", "size"):
        sizes = [m for m in sizes if m.sentence in {d.sentence for d in defects}]
    site = site_fact(frame)
    single = [Lesion(site.evidence[0] if site else None, lesion_size(frame, prefer_defect), narrowest_margin(frame))]
    if len(sizes) <= 1:
        return single
    sites = [s for s in frame.sites if usable(s)]
    margins = [m for m in frame.margins if usable(m) and m.role == "margin" and m.section != "pathology"]
    out: list[Lesion] = []
    used: set[int] = set()
    # in text order (a frame lists its own label's facts first: "C - L shoulder" before "A", "B")
    for sz in sorted(sizes, key=lambda m: m.start):
        before = [s for s in sites if s.end <= sz.start]
        s = max(before, key=lambda m: m.end) if before else None
        if s is None or id(s) in used:
            continue
        used.add(id(s))
        nxt = [m for m in margins if m.start > sz.start]
        margin = Fact(min(_dims(nxt[0])), [nxt[0]]) if nxt else None
        out.append(Lesion(s, Fact(max(_dims(sz)), [sz], sz.text), margin))
    # "Right dorsal foot: 12 x 8 mm ..." on exam and "A. Right dorsal foot, lesion 12 x 8 mm" in
    # the procedure: the same lesion written twice
    unique: dict[tuple, Lesion] = {}
    for x in out:
        unique.setdefault((x.site.canonical if x.site else None, x.size.value if x.size else None), x)
    out = list(unique.values())
    if len({(l.site.canonical if l.site else None) for l in out}) <= 1 and len(out) <= 1:
        return single
    return out or single
