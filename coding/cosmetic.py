"""Cosmetic-only services: no CPT line (reference: cosmetic removals are not billed).

A cosmetic statement ("for appearance", "self-pay", "cosmetic") covers the whole note
unless it sits inside one lesion's own text, in which case only that lesion is cosmetic.
"""

from __future__ import annotations

import re

from dermcoder.coding import facts
from dermcoder.coding.checkboxes import in_unticked_box
from dermcoder.coding.rulebook import CodingContext
from dermcoder.nlp.frames import Frame, block_of, find_blocks
from dermcoder.nlp.start_filter import start_filtered, word_gated

COSMETIC = re.compile(r"(?<!not )(?<!non-)(?<!non )(?<!no )\bcosmetic\b|self[- ]pay|for appearance(?! only)|not medically necessary", re.IGNORECASE)
# "SKs - cosmetic, declined self-pay today": the cosmetic request was not carried out, so
# it says nothing about the work that was done.
NOT_DONE = re.compile(r"\b(?:not done|nothing (?:was )?done|declined|deferred|decided against|none (?:was|were) (?:treated|removed)|"
                      r"not (?:treated|tx(?:'?d)?)|no (?:tx|treatment)|not removed)(?![\w'])", re.IGNORECASE)
# "none was removed for appearance", "nothing here is for appearance": the statement is denied
DENIED_BEFORE = re.compile(r"\b(?:none|not|no|never|nothing)\b[^.;,\n]{0,30}$", re.IGNORECASE)
# ("removal is cosmetic, not medically necessary" denies nothing)
NOT_COSMETIC = re.compile(r"not (?:for )?(?:a )?cosmetic|non-?cosmetic|not (?:for )?appearance|(?<!not )(?<!isn't )medically necessary", re.IGNORECASE)


# Scanned over every note, twice per note: start_filtered and word_gated give the same matches, faster.
_COSMETIC = word_gated(start_filtered(COSMETIC))


def _statements(text: str) -> list[re.Match]:
    """The cosmetic statements the note makes (not those in unticked boxes)."""
    out = []
    for m in _COSMETIC.finditer(text):
        start, end = _line_start(text, m.start()), _line_end(text, m.end())
        if in_unticked_box(text, m.start()) or NOT_DONE.search(text, start, end):
            continue
        if DENIED_BEFORE.search(text, max(start, m.start() - 40), m.start()):
            continue
        out.append(m)
    return out


def is_cosmetic(text: str) -> bool:
    """The note documents a cosmetic service (and does not deny it).

    "A. shoulder - shave biopsy, medically necessary. B. AESTHETIC SERVICES (SELF-PAY): chin
    nevus ...": a statement of medical necessity in another lesion's block denies nothing here.
    """
    statements = _statements(text)
    if not statements:
        return False
    denials = [m for m in NOT_COSMETIC.finditer(text) if not in_unticked_box(text, m.start())]
    if not denials:
        return True
    blocks = find_blocks(text)
    denied_blocks = {block_of(m.start(), blocks) for m in denials}
    return None not in denied_blocks and any(block_of(m.start(), blocks) not in denied_blocks | {None} for m in statements)


AESTHETIC_BLOCK = re.compile(r"(?im)^[ \t]*(?:aesthetic|cosmetic)[^:\n]{0,40}:")
# a cosmetic service of another encounter: "a separate self-pay visit", "not part of this claim",
# "Had lip filler @ Atrium 2 wk ago (self-pay)"
OTHER_ENCOUNTER = re.compile(r"\bseparate(?:ly)?\b[^.\n]{0,40}\b(?:encounter|visit|appointment)\b|\b(?:encounter|visit|appointment)\b[^.\n]{0,40}\bseparate\b"
                             r"|\bcosmetic self-pay encounter\b|\bnot (?:part of|on|included in) (?:this|the) claim\b"
                             r"|\b\d+\s*(?:d|days?|wks?|weeks?|mos?|months?|y|yrs?|years?)\s+ago\b|\blast (?:week|month|year|visit)\b", re.IGNORECASE)


def medical_frames(ctx: CodingContext, frames: list[tuple[int, Frame]]) -> list[tuple[int, Frame]]:
    """The frames that are not cosmetic. "C) 5 flat SKs frozen for cosmetic reasons, self-pay"
    takes out that lesion only; a cosmetic statement outside every frame covers them all."""
    if not is_cosmetic(ctx.text):
        return frames
    # A statement on the line of a procedure belongs to that procedure's lesion (every frame of
    # the note counts: "3 flat SKs treated w/ LN2 for appearance only" under the shave
    # removals is the cryotherapy's); one on no procedure's line covers the whole note.
    text = ctx.text
    lines_of = {i: {_line_start(text, p.start) for p in f.procedures if p.active} for i, f in enumerate(ctx.frames)}
    # "Earlier this morning she had sclerotherapy in the Atrium; that was a cosmetic self-pay
    # encounter, separate, and not billed": a statement about another encounter covers nothing here
    statements = [m for m in _statements(text) if not OTHER_ENCOUNTER.search(text, _line_start(text, m.start()), _line_end(text, m.end()))]
    stated = {_line_start(text, m.start()) for m in statements}
    procedure_lines = set().union(*lines_of.values())
    elsewhere = stated - procedure_lines
    if stated & procedure_lines or AESTHETIC_BLOCK.search(text):
        # "Aesthetic services, self-pay: ... also treated with cryotherapy" names its own
        # procedure; "Impression: ... face and neck, cosmetic" below restates it. A note that
        # keeps its cosmetic work in a block of its own ("Aesthetic services (self-pay): snip of
        # DPN x 12") says so there, so a cosmetic wish elsewhere does not cover the whole note
        elsewhere = set()
    cosmetic_blocks: set[str] = set()
    if elsewhere:
        # "Provider comment (Lesion #3): cosmetic request" or "3. SK - lesion #3 removed,
        # cosmetic": a statement inside one labeled lesion's block is that lesion's
        blocks = find_blocks(text)
        labels = {f.block for f in ctx.frames if f.block}
        for pos in elsewhere:
            label = block_of(pos, blocks)
            if label not in labels:
                return []
            cosmetic_blocks.add(label)
    return [(i, f) for i, f in frames if not lines_of.get(i, set()) & stated and f.block not in cosmetic_blocks]


def cosmetic_removals(ctx: CodingContext, frames: list[tuple[int, Frame]]) -> list[tuple[int, Frame]]:
    """The removals of `frames` not to code: a benign lesion removed for appearance only (a
    malignancy is never cosmetic, whatever the note says about payment)."""
    kept = medical_frames(ctx, frames)
    out = []
    for i, frame in frames:
        hist, _ = facts.histology(frame)
        if (i, frame) not in kept and (hist is None or hist.value not in facts.MALIGNANT):
            out.append((i, frame))
    return out


def _line_start(text: str, pos: int) -> int:
    return text.rfind("\n", 0, pos) + 1


def _line_end(text: str, pos: int) -> int:
    end = text.find("\n", pos)
    return len(text) if end < 0 else end


def cosmetic_sites(ctx: CodingContext) -> set[str]:
    """Sites named on the lines that call a service cosmetic ("Aesthetic services (self-pay):
    snip/hyfrecation of DPN cheeks x 12"): one of several lesions of a frame found there is the
    cosmetic one."""
    text = ctx.text
    said = set()
    for m in _statements(text):
        # the statement's own sentence: '"mole" on mons pubis rubs ... Also dark bumps on cheeks -
        # wants them off, knows it's cosmetic.' names the cheeks only
        start = max(_line_start(text, m.start()), text.rfind(". ", 0, m.start()) + 2)
        stop = text.find(". ", m.end())
        end = _line_end(text, m.end()) if stop < 0 else min(stop, _line_end(text, m.end()))
        if not OTHER_ENCOUNTER.search(text, start, end):
            said.add((start, end))
    return {m.canonical for m in ctx.mentions if m.label == "SITE" and any(a <= m.start < b for a, b in said)}

