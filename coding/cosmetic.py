"""Cosmetic-only services: no CPT line (reference: cosmetic removals are not billed).

A cosmetic statement ("for appearance", "self-pay", "cosmetic") covers the whole note
unless it sits inside one lesion's own text, in which case only that lesion is cosmetic.
"""

from __future__ import annotations

import re

from dermcoder.coding.checkboxes import in_unticked_box, stated
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
NOT_COSMETIC = re.compile(r"not (?:for )?(?:a )?cosmetic|non-?cosmetic|not (?:for )?appearance|medically necessary", re.IGNORECASE)


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
    """The note documents a cosmetic-only service (and does not deny it)."""
    return bool(_statements(text)) and stated(NOT_COSMETIC, text) is None


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
    stated = {_line_start(text, m.start()) for m in _statements(text)}
    elsewhere = stated - set().union(*lines_of.values())
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


def _line_start(text: str, pos: int) -> int:
    return text.rfind("\n", 0, pos) + 1


def _line_end(text: str, pos: int) -> int:
    end = text.find("\n", pos)
    return len(text) if end < 0 else end
