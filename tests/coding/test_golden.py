"""Golden cases as data (tests/golden/cases.jsonl): the reference's worked examples (section 14)
and classic errors (section 12) as regression cases, one test id per case."""

import json
from pathlib import Path

import pytest

CASES = [json.loads(line) for line in (Path(__file__).parent.parent / "golden" / "cases.jsonl").read_text().splitlines() if line.strip()]


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_golden_cpt_units_modifiers(engine, case):
    s = engine.suggest(case["text"], case["id"])
    got = sorted((c.code, c.units, tuple(c.modifiers)) for c in s.cpt)
    expected = sorted((c["code"], c["units"], tuple(c["modifiers"])) for c in case["cpt"])
    assert got == expected, case["why"]


@pytest.mark.parametrize("case", [c for c in CASES if "icd10" in c], ids=[c["id"] for c in CASES if "icd10" in c])
def test_golden_icd(engine, case):
    s = engine.suggest(case["text"], case["id"])
    assert sorted(i.code for i in s.icd10) == sorted(case["icd10"]), case["why"]
