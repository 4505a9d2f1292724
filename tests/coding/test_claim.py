"""Claim assembly on hand-built candidates: NCCI pairs, modifier placement, MUE caps."""

from dermcoder.coding.claim import claim
from dermcoder.coding.rulebook import Candidate, CodingContext, RuleRecord

RULE = RuleRecord(id="CL-1", code_set_year=2025, family="claim", handler="claim", description="test", reads=[])


def ctx_with(tables, *cands):
    ctx = CodingContext(text="", frames=[], mentions=[], tables=tables)
    ctx.candidates = list(cands)
    return ctx


def test_claim_indicator_zero_drops_column_two(tables):
    ctx = ctx_with(tables, Candidate("17004", 1, "DS-1", "x", frames=[0]), Candidate("17000", 1, "DS-1", "x", frames=[0]))
    claim(ctx, RULE)
    assert [c.code for c in ctx.candidates] == ["17004"]
    assert any(w.code == "ncci_bundled" for w in ctx.warnings)


def test_claim_xs_goes_on_column_two_for_distinct_lesions(tables):
    # 11102/17000: 17000 is Column 2 (NCCI README spot check), distinct lesions -> XS on 17000
    ctx = ctx_with(tables, Candidate("11102", 1, "BX-1", "x", frames=[0]), Candidate("17000", 1, "DS-1", "x", frames=[1]))
    claim(ctx, RULE)
    mods = {c.code: c.modifiers for c in ctx.candidates}
    assert mods == {"11102": [], "17000": ["XS"]}


def test_claim_same_lesion_gets_no_bypass_modifier(tables):
    ctx = ctx_with(tables, Candidate("11102", 1, "BX-1", "x", frames=[0], site="nose"), Candidate("17000", 1, "DS-1", "x", frames=[0], site="nose"))
    claim(ctx, RULE)
    assert all(c.modifiers == [] for c in ctx.candidates)


def test_claim_never_modifies_an_add_on(tables):
    ctx = ctx_with(tables, Candidate("11440", 1, "EX-1", "x", frames=[0]), Candidate("13101", 1, "RP-1", "x", frames=[1]),
                   Candidate("13102", 2, "RP-1", "x", frames=[1]))  # fmt: skip
    claim(ctx, RULE)
    assert {c.code: c.modifiers for c in ctx.candidates}["13102"] == []


def test_claim_mai2_mue_caps_units_and_mai3_warns(tables):
    ctx = ctx_with(tables, Candidate("17003", 20, "DS-1", "x", frames=[0]), Candidate("11201", 2, "ST-1", "x", frames=[1]))
    claim(ctx, RULE)
    units = {c.code: c.units for c in ctx.candidates}
    assert units["17003"] == 13  # MAI 2: hard cap
    assert units["11201"] == 2  # MAI 3: count kept
    assert {w.code for w in ctx.warnings} >= {"mue_capped", "mue_exceeded"}


def test_claim_same_code_lines_merge_units(tables):
    ctx = ctx_with(tables, Candidate("11642", 1, "EX-1", "x", frames=[0]), Candidate("11642", 1, "EX-1", "y", frames=[1]))
    claim(ctx, RULE)
    assert [(c.code, c.units) for c in ctx.candidates] == [("11642", 2)]
