"""Claim assembly: one line per code, NCCI pairs and modifiers, MUE caps, ordering."""

from __future__ import annotations

from dermcoder.coding.rulebook import Candidate, CodingContext, RuleRecord, handler

DISTINCT = {"59", "XS", "XE", "XP", "XU"}
# Highest-value families first (a coder's usual sequencing).
ORDER = ["mohs", "att", "graft_ftsg", "graft_stsg", "excision_malignant", "hidradenitis", "excision_benign", "repair_complex",
         "repair_intermediate", "repair_simple", "destruction_malignant", "shave_removal", "biopsy", "destruction_premalignant",
         "destruction_benign", "destruction_vascular", "skin_tags", "incision_drainage", "nail", "intralesional", "chemodenervation", "pdt",
         "excimer", "phototherapy", "paring", "acne_surgery", "chemical_peel", "pathology", "em", "em_hospital", "hcpcs_drug"]  # fmt: skip


def merge(cands: list[Candidate], ctx: CodingContext) -> list[Candidate]:
    """One line per code; per-lesion units add up, per-session codes stay at 1."""
    merged: dict[str, Candidate] = {}
    for c in cands:
        if c.code not in merged:
            merged[c.code] = c
            continue
        m = merged[c.code]
        rec = ctx.tables.cpt(c.code)
        if rec is None or rec.unit_rule not in ("per_session", "per_day", "per_visit"):
            m.units += c.units
        m.evidence += [e for e in c.evidence if e not in m.evidence]
        m.frames += [f for f in c.frames if f not in m.frames]
        m.diagnoses += [d for d in c.diagnoses if d not in m.diagnoses]
        m.rationale += "; " + c.rationale
        m.confidence = min(m.confidence, c.confidence)
    return list(merged.values())


@handler("claim")
def claim(ctx: CodingContext, rule: RuleRecord) -> None:
    """Apply NCCI edits and MUEs to the merged lines and order them."""
    lines = merge(ctx.candidates, ctx)
    codes = {c.code: c for c in lines}
    for a in list(codes):
        for b in list(codes):
            if a == b or a not in codes or b not in codes:
                continue
            edit = ctx.tables.edit(a, b)
            if edit is None:
                continue
            col2 = codes[b]
            rec = ctx.tables.cpt(b)
            if edit.modifier_indicator == "0":
                del codes[b]
                ctx.warn("ncci_bundled", f"{rule.id}: {b} is bundled into {a} (NCCI, no modifier allowed): removed", col2.evidence[:1])
                continue
            if edit.modifier_indicator != "1" or (rec and rec.add_on):
                continue
            if b.startswith("992"):
                if "25" not in col2.modifiers and "57" not in col2.modifiers:
                    col2.modifiers.append("25")
                continue
            if set(col2.modifiers) & DISTINCT:
                continue
            if not set(col2.frames) & set(codes[a].frames) or (col2.site and codes[a].site and col2.site != codes[a].site):
                col2.modifiers.append("XS")
                ctx.warn("modifier_xs", f"{rule.id}: {a} and {b} are an NCCI pair; XS on {b} for a separate lesion/site", col2.evidence[:1])
            else:
                # the same wound (a layered closure of a 0.5 cm punch excision): no distinct
                # lesion or site justifies a modifier, so the Column 2 code is not reported
                del codes[b]
                ctx.warn("ncci_bundled", f"{rule.id}: {b} is bundled into {a} (NCCI pair, same lesion and site): removed", col2.evidence[:1])
    for code, line in list(codes.items()):
        mue = ctx.tables.mue.get(code)
        if mue is None or line.units <= mue.value:
            continue
        if mue.mai == 2:
            ctx.warn("mue_capped", f"{rule.id}: {code} capped at its MUE of {mue.value} (MAI 2, a hard limit); {line.units} counted", line.evidence[:1])
            line.units = mue.value
        else:
            ctx.warn("mue_exceeded", f"{rule.id}: {code} x {line.units} exceeds the MUE of {mue.value} (MAI {mue.mai}): documentation or a split line needed",
                     line.evidence[:1])  # fmt: skip

    def rank(c: Candidate) -> tuple:
        rec = ctx.tables.cpt(c.code)
        fam = rec.family if rec else "hcpcs_drug"
        return (ORDER.index(fam) if fam in ORDER else len(ORDER), rec.add_on if rec else True, c.code)

    ctx.candidates = sorted(codes.values(), key=rank)
