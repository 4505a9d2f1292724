"""Visits the note itself says are not charged (no claim lines, no diagnoses), or says had
no procedure (no procedure lines).

"No charge today", "[x] No charge", "post-op visit within global period": the provider
has decided nothing is billed for this encounter (a cancelled procedure, a post-operative
visit inside a global period). Codes from such a note would be a claim nobody intends.
"""

from __future__ import annotations

import re

from dermcoder.coding.rulebook import CodingContext, RuleRecord, handler
from dermcoder.nlp.start_filter import word_gated

NO_CHARGE = re.compile(
    r"\[x\]\s*no charge\b"
    r"|(?<!\[ \] )\bno charge(?: (?:for )?today| for (?:this|today'?s) (?:visit|encounter)| to (?:the )?(?:patient|insurance) for this visit|\s*$)"
    r"|\bpost-?op(?:erative)? visit (?:with)?in (?:the |a )?(?:\d+[- ]day )?global(?: period)?\b"
    # "Billing: post-procedure visit within the 10-day global of 04/21 I&D - no charge."
    r"|\bpost-?(?:procedure|op(?:erative)?) visit (?:with)?in the (?:\d+|ten|ninety|zero)[- ]day global\b",
    re.IGNORECASE | re.MULTILINE,
)
_NO_CHARGE = word_gated(NO_CHARGE)  # searched in every note: the same match, faster


def no_charge_statement(text: str) -> re.Match | None:
    """Where the note says this visit is not charged, if it does."""
    return _NO_CHARGE.search(text)


@handler("no_charge")
def no_charge(ctx: CodingContext, rule: RuleRecord) -> None:
    """Drop every line and diagnosis when the note says the visit is not charged."""
    m = no_charge_statement(ctx.text)
    if m is None or not (ctx.candidates or ctx.frame_dx or ctx.note_dx):
        return
    ctx.candidates.clear()
    ctx.frame_dx.clear()
    ctx.note_dx.clear()
    ctx.warn("no_charge", f"{rule.id}: the note says this visit is not charged ({m.group(0).strip()!r}): no codes")


# "No procedures were performed today." (not "... other than the biopsy")
NO_PROCEDURE = re.compile(r"\bno (?:other )?procedures? (?:was |were )?(?:performed|done)(?: today| at this visit)?\b(?![^.\n]{0,20}\b(?:other than|except|besides|apart from)\b)",
                          re.IGNORECASE)
_NO_PROCEDURE = word_gated(NO_PROCEDURE)


@handler("no_procedure_today")
def no_procedure_today(ctx: CodingContext, rule: RuleRecord) -> None:
    """Drop the procedure lines of a note that says no procedure was done today."""
    m = _NO_PROCEDURE.search(ctx.text)
    procedures = [c for c in ctx.candidates if not c.code.startswith("992")]
    if m is None or not procedures:
        return
    ctx.candidates[:] = [c for c in ctx.candidates if c.code.startswith("992")]
    ctx.warn("no_procedure", f"{rule.id}: the note says no procedure was performed ({m.group(0).strip()!r}): "
             f"{', '.join(c.code for c in procedures)} not coded")
