"""Invariants of every suggestion over the whole corpus: evidence aligned, codes known, ICD billable,
MUE caps kept, no modifier on an add-on, every line with a rationale naming its rule."""

import json
from pathlib import Path

import pytest

from dermcoder.coding import icd

CORPUS = Path(__file__).parent.parent.parent / "corpus" / "sample" / "notes.jsonl"


@pytest.fixture(scope="module")
def coded(engine):
    from dermcoder.contracts import NoteIn

    notes = [json.loads(line) for line in CORPUS.read_text().splitlines() if line.strip()]
    return list(zip(notes, engine.suggest_many(NoteIn(id=n["id"], text=n["text"]) for n in notes)))


def test_engine_evidence_is_exact_text(coded):
    for note, s in coded:
        spans = [e for c in s.cpt for e in c.evidence] + [e for i in s.icd10 for e in i.evidence]
        spans += [e for q in s.queries for e in q.evidence] + [e for f in s.lesions for e in f.evidence]
        for e in spans:
            assert note["text"][e.start : e.end] == e.text, (note["id"], e)
        for c in s.cpt + s.icd10:
            assert c.evidence, (note["id"], c.code)


def test_engine_every_icd_is_billable(coded):
    bad = [(note["id"], i.code) for note, s in coded for i in s.icd10 if not icd.is_billable(i.code)]
    assert bad == []


def test_engine_codes_known_units_and_modifiers_legal(coded, tables):
    for note, s in coded:
        for c in s.cpt:
            rec = tables.cpt(c.code)
            assert rec is not None, (note["id"], c.code)
            mue = tables.mue.get(c.code)
            if mue and mue.mai == 2:
                assert c.units <= mue.value, (note["id"], c.code)
            if rec.add_on:
                assert not set(c.modifiers) & {"59", "XS", "XE", "XP", "XU", "51"}, (note["id"], c.code)
            assert c.rule_id and c.rule_id in c.rationale, (note["id"], c.code)
            assert set(c.diagnoses) <= {i.code for i in s.icd10} | set(c.diagnoses)


def test_engine_no_indicator_zero_pairs(coded, tables):
    for note, s in coded:
        codes = [c.code for c in s.cpt]
        for a in codes:
            for b in codes:
                edit = tables.edit(a, b)
                assert not (edit and edit.modifier_indicator == "0"), (note["id"], a, b)
