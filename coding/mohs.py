"""Mohs micrographic surgery: first stage per tumour, further stages, blocks beyond five."""

from __future__ import annotations

import re

from dermcoder.coding import facts
from dermcoder.coding.lesions import frames_with, lesion_group
from dermcoder.coding.rulebook import Candidate, CodingContext, RuleRecord, handler
from dermcoder.nlp.frames import Frame
from dermcoder.nlp.numbers import to_int

DEEP = re.compile(r"\b(muscle|muscular|cartilage|perichondri\w*|bone|periosteum|cortex|tendon|paratenon|named nerve|major nerve|major vessel|artery)\b", re.IGNORECASE)  # not fascia: the 17311 descriptor names muscle, cartilage, bone, tendon, major nerves or vessels
NOT_DEEP = re.compile(r"\b(not|no|without|spared|intact|superficial to|above|preserved|did not|short of|never)\b", re.IGNORECASE)
OTHER_READER = re.compile(r"(sent|submitted|read|interpreted|reviewed)\b.{0,60}\b(dermatopatholog\w*|patholog(?:ist|y lab)|outside lab|separate pathologist|pathology department)", re.IGNORECASE)
ONLY_STAGES = re.compile(r"\bonly (one|two|three|four|\d) (?:mohs )?stages? (?:was|were) (?:taken|done|performed|needed|required|cut)\b", re.IGNORECASE)
SINGLE_STAGE = re.compile(r"\b(single|one|1)[ -]stage\b|\bstage (?:I|1|one) (?:only|was clear|clear)\b|cleared (?:in|after) (?:one|1|a single) stage|clear after (?:the )?first stage", re.IGNORECASE)


def _deep(ctx: CodingContext, frame: Frame) -> bool:
    """True when a sentence of the frame says the surgery directly involved a deep structure."""
    region = ctx.text[frame.start : frame.end + 400]
    for sentence in re.split(r"(?<=[.;\n])", region):
        if DEEP.search(sentence) and not NOT_DEEP.search(sentence):
            return True
    return False


# A defect referred for repair after another surgeon's Mohs: "Referring Mohs surgeon: Dr. S. Mohs
# completed this AM in her office", "Ref: Dr. B (Mohs, 08/18/25)", "s/p Mohs (outside)",
# "REFERRED MOHS DEFECT" (not a referral *for* Mohs: "Referred by Dr. K for Mohs")
OTHER_SURGEONS_MOHS = re.compile(
    r"\breferring mohs surgeon\b|\breferred mohs defects?\b|\bmohs defects?[ \t]*[-\u2013(][ \t]*referred\b"
    r"|\bmohs\b[^.\n]{0,25}\b(?:done|performed|completed)\b[^.\n]{0,25}\b(?:in (?:her|his|their) office|elsewhere)\b"
    r"|\b(?:s/p|status post|after) mohs(?: surgery)?[ \t]*(?:\((?:outside|other surgeon|another surgeon|elsewhere|dr\.?[^)\n]{0,30})\)|by dr\b)"
    r"|\bref(?:erred)?(?:[ \t]+by)?:?[ \t]*dr\.?[ \t][^\n(]{0,40}\([ \t]*mohs\b"
    r"|\breferr(?:ed|ing)(?:[ \t]+by)?:?[ \t]*dr\.?[ \t][^.\n]{0,40}(?:[-\u2013][ \t]*mohs\b|\bafter mohs\b)",
    re.IGNORECASE,
)


# "BCC of the right cheek treated with Mohs in 2019 at another center": an earlier tumour's Mohs
EARLIER = re.compile(r"\bin (?:19|20)\d\d\b|\bago\b|\bhistory\b|\bhx\b|\bprior\b|\bprevious(?:ly)?\b", re.IGNORECASE)


def _other_surgeons_mohs(text: str) -> bool:
    """The note repairs a defect another surgeon's Mohs left today (not an earlier tumour's Mohs)."""
    for m in OTHER_SURGEONS_MOHS.finditer(text):
        start = text.rfind("\n", 0, m.start()) + 1
        end = text.find("\n", m.end())
        if not EARLIER.search(text, start, len(text) if end < 0 else end):
            return True
    return False


@handler("mohs")
def mohs(ctx: CodingContext, rule: RuleRecord) -> None:
    """17311/17313 per tumour, 17312/17314 per further stage, 17315 per block beyond 5 in a stage."""
    if frames_with(ctx, "mohs") and _other_surgeons_mohs(ctx.text):
        ctx.warn("mohs_other_surgeon", f"{rule.id}: the Mohs surgery was done by another surgeon (a referred defect): not coded here")
        return
    for i, frame in frames_with(ctx, "mohs"):
        done = [p for p in frame.procedures if p.canonical == "mohs" and p.active and p.role != "service"]
        if not done and not frame.mohs_stages and not frame.mohs_blocks:
            continue  # "Delayed repair of Mohs defect ... No further Mohs stages today": no Mohs today
        if OTHER_READER.search(ctx.text) and not re.search(r"surgeon\W+(?:and|/)\W*(?:reading|interpreting|pathologist)|same physician|reads? (?:all|the) (?:frozen )?(?:sections|slides)", ctx.text, re.IGNORECASE):
            ctx.warn("mohs_other_reader", f"{rule.id}: slides read by another pathologist: Mohs codes do not apply")
            continue
        stages: dict[int, int | None] = {}
        for m in frame.mohs_stages:
            # a stage a section default calls historical is still today's, but never one
            # copied from an earlier report, planned, or cancelled ("Stage III cancelled")
            if m.active or set(m.context) <= {"historical", "uncertain"}:
                stages.setdefault(int(m.value), None)
        for m in frame.mohs_blocks:
            if "copied_forward" in m.context:
                continue
            stage = int(m.role) if m.role is not None else None
            if stage is not None:
                stages[stage] = (stages.get(stage) or 0) + int(m.value) if stages.get(stage) and _split_row(ctx, m) else int(m.value)
        if not stages:
            if SINGLE_STAGE.search(ctx.text):
                stages = {1: None}
            else:
                ctx.query("mohs_blocks", "Mohs: stages and blocks per stage not documented", frame.procedures[:1])
                stages = {1: None}
        stated = ONLY_STAGES.search(ctx.text)
        if stated and to_int(stated.group(1)) and to_int(stated.group(1)) < max(stages):
            # "ADDENDUM: the Stage 2 line was carried forward in error. Only one stage was taken today"
            stages = {s: b for s, b in stages.items() if s <= to_int(stated.group(1))}
        n_stages = max(stages)
        site = facts.site_fact(frame)
        group = lesion_group(ctx, site.value if site else None, "mohs")
        deep = _deep(ctx, frame)
        if group is None:
            ctx.query("site", "Mohs: tumour site not documented", frame.procedures[:1])
            group = "head_neck_hands_feet_genitalia"
        if group == "trunk_arms_legs" and deep:
            group = "head_neck_hands_feet_genitalia"
        first, addon = ("17311", "17312") if group == "head_neck_hands_feet_genitalia" else ("17313", "17314")
        evidence = frame.procedures[:1] + (site.evidence if site else []) + frame.mohs_stages[:6] + frame.mohs_blocks[:6]
        ctx.add(Candidate(first, 1, rule.id, f"{rule.id}: Mohs first stage, {group.replace('_', '/')}{' (deep structure involved)' if deep else ''}",
                          evidence=evidence, frames=[i], site=site.value if site else None,
                          alternatives=[("17313" if first == "17311" else "17311", 0.05, "other Mohs site group")]))  # fmt: skip
        if n_stages > 1:
            ctx.add(Candidate(addon, n_stages - 1, rule.id, f"{rule.id}: {n_stages} stages -> {n_stages - 1} additional stage(s)",
                              evidence=frame.mohs_stages[:6], frames=[i]))  # fmt: skip
        missing = [s for s in range(1, n_stages + 1) if stages.get(s) is None]
        if missing and frame.mohs_stages:
            ctx.query("mohs_blocks", f"Mohs: block count not documented for stage(s) {', '.join(map(str, missing))}",
                      frame.mohs_stages[:1])  # fmt: skip
        beyond = sum(max(0, (b or 0) - 5) for b in stages.values())
        if beyond:
            parts = ", ".join(f"stage {s}: {b}" for s, b in sorted(stages.items()) if b)
            ctx.add(Candidate("17315", beyond, rule.id, f"{rule.id}: blocks ({parts}) beyond 5 per stage = {beyond}",
                              evidence=frame.mohs_blocks[:6], frames=[i]))  # fmt: skip


def _split_row(ctx: CodingContext, m) -> bool:
    """Blocks of one stage written in two parts ("4 + 4 blocks") add up."""
    return "+" in ctx.text[max(0, m.start - 6) : m.start]
