"""Comorbidity, status and long-term drug codes: only what a billed E/M manages."""

import json

import pytest

from dermcoder.coding.comorbidities import addressed_items, comorbidity_codes, comorbidity_table


def test_every_code_of_the_table_is_a_billable_leaf(tables_dir):
    import simple_icd_10_cm as cm

    data = json.loads((tables_dir / "comorbidities.json").read_text(encoding="utf-8"))
    codes = [c["code"] for c in data["conditions"]] + list(data["drugs"])
    assert codes, "the table lists codes"
    for code in codes:
        assert cm.is_valid_item(code) and cm.is_leaf(code), code
    for code in data["drugs"]:
        assert "long term" in cm.get_description(code).lower().replace("-", " "), code
    conditions, drugs = comorbidity_table()
    assert [c.code for c in conditions] == [c["code"] for c in data["conditions"]]
    assert {code for _, code in drugs} == set(data["drugs"])


def test_a_bad_table_is_refused_with_every_problem(tmp_path, monkeypatch):
    from dermcoder.coding import comorbidities
    from dermcoder.errors import TableError

    tables = tmp_path / "tables"
    tables.mkdir()
    (tables / "comorbidities.json").write_text(json.dumps({
        "provenance": {"source": "test"},
        "conditions": [{"code": "E11", "what": "not a leaf", "patterns": ["dm2"]},
                       {"code": "I10", "what": "x", "patterns": ["htn("]}],
        "drugs": {"Z79.84": {"what": "x", "patterns": ["metformin"]}}}))  # fmt: skip
    from importlib import resources

    monkeypatch.setattr(resources, "files", lambda _pkg: tmp_path)  # where coding/tables.py finds the tables
    comorbidities.comorbidity_table.cache_clear()
    try:
        with pytest.raises(TableError) as err:
            comorbidities.comorbidity_table()
        assert "E11" in str(err.value) and "bad pattern" in str(err.value)
    finally:
        comorbidities.comorbidity_table.cache_clear()


DIAGNOSES = ("Psoriasis vulgaris", "Juvenile dermatomyositis with myopathy", "Dermatomyositis with myopathy")


@pytest.mark.parametrize("text, expected", [
    pytest.param("A/P:\n1. Essential HTN - controlled. Continue lisinopril 20 mg.\n2. DM2 w/o complications - A1c 6.9, at goal. "
                 "Continue metformin 1000 mg BID.\n3. AKs x6 - cryo today.", ["I10", "E11.9", "Z79.84"], id="two-chronic-problems"),
    pytest.param("A/P:\n1. Type 2 DM with hyperglycemia (A1c 8.4, above goal) - add empagliflozin 10 mg daily, continue metformin 1000 mg BID.",
                 ["E11.65", "Z79.84"], id="hyperglycemia-drug-added-and-continued"),
    pytest.param("A/P:\n 1) AFib - rate controlled on metoprolol, anticoag w/ apixaban, cont both, no changes.", ["I48.91", "Z79.01"],
                 id="afib-anticoagulant"),
    pytest.param("PMH: DM2 (metformin, followed by PCP), hypothyroidism.\nA/P:\n1. Tinea pedis - ketoconazole cream.", [],
                 id="history-only"),
    pytest.param("A/P:\n3. DM2 - per PCP; continue metformin.", [], id="managed-elsewhere"),
    pytest.param("Assessment/plan discussion: options reviewed - excision with flap today; decision to proceed, continuing warfarin.",
                 [], id="drug-kept-for-the-surgery"),
    pytest.param("Assessment and plan:\n1. Psoriasis vulgaris, worsening: start methotrexate 15 mg weekly.", [], id="drug-started-today"),
    pytest.param("Assessment and plan:\n1. Psoriasis vulgaris, MTX intolerance: stop methotrexate; start apremilast.", [], id="drug-stopped-today"),
    pytest.param("Assessment and plan:\n1. Psoriasis vulgaris, mild flare. Continue methotrexate 15 mg weekly.", ["Z79.631"],
                 id="drug-continued-for-the-skin-disease"),
    pytest.param("Assessment:\n1. No history of diabetes; BCC left cheek, excision scheduled.", [], id="negated"),
    pytest.param("Meds: metformin, apixaban, lisinopril.\nExam: ...", [], id="medication-list"),
    pytest.param("A/P:\n1. Type 2 DM with peripheral neuropathy - continue gabapentin.", [], id="complication-coded-elsewhere"),
    pytest.param("A/P:\n1. Juvenile dermatomyositis with myopathy - skin mildly active.\n - Continue MTX 20 mg SC weekly; continue HCQ 200 mg daily.\n"
                 " - Continue tacrolimus 0.1% oint to hands BID.", ["Z79.631", "Z79.899"], id="sub-items-of-a-problem-topical-not-systemic"),
    pytest.param("Problem list:\n- Juvenile dermatomyositis\n- Meds: continue methotrexate 20 mg weekly\nA/P:\n1. Wart R hand - LN2.", [],
                 id="medication-bullet-of-a-history"),
    pytest.param("A/P:\n2. Celiac disease - gluten-free diet reinforced, GI follow-up.", ["K90.0"], id="celiac-addressed"),
    pytest.param("Assessment and plan:\nOne. Dermatomyositis with myopathy, skin mildly active. Continue mycophenolate 1500 mg twice daily. "
                 "Taper prednisone to 5 mg daily.", ["Z79.624", "Z79.52"], id="spelled-out-item-and-a-taper"),
])  # fmt: skip
def test_comorbidity_codes(text, expected):
    diagnoses = [(m, m + len(d)) for d in DIAGNOSES for m in [text.find(d)] if m >= 0]
    assert [f.code for f in comorbidity_codes(text, diagnoses)] == expected


def test_found_words_are_the_notes_own():
    text = "A/P:\n2. DM2 w/o complications - stable. Cont metformin 500 BID, refill."
    for f in comorbidity_codes(text):
        assert text[f.start : f.end] == f.text


def test_addressed_items_stop_at_the_procedure():
    text = "A/P:\n1. HTN - continue.\nPROCEDURE: cryo\nHTN noted."
    assert [text[a:b] for a, b in addressed_items(text)] == ["A/P:", "1. HTN - continue."]


EM_NOTE = ("Est pt. CC: DM f/u; bump on arm.\nHPI: DM2 on metformin 500 mg BID, A1c 6.8.\n"
           "A/P:\n1. DM2 w/o complications - stable, A1c 6.8, cont metformin 500 BID, refill. MDM low.\n"
           "2. Papule L forearm 5 mm - punch bx today.\nE/M separately identifiable from the biopsy.\n"
           "PROCEDURE: 4 mm punch biopsy L forearm, 1 suture. Established patient, MDM low.\n")  # fmt: skip


def test_engine_lists_the_managed_condition_on_the_em_line(engine):
    s = engine.suggest(EM_NOTE, "dm-em")
    em = [c for c in s.cpt if c.code.startswith("992")]
    assert em, "the note bills an E/M"
    assert {"E11.9", "Z79.84"} <= set(em[0].diagnoses)
    assert {"E11.9", "Z79.84"} <= {d.code for d in s.icd10}
    biopsy = [c for c in s.cpt if c.code == "11104"]
    assert biopsy and "E11.9" not in biopsy[0].diagnoses


def test_engine_lists_no_comorbidity_on_a_procedure_only_claim(engine):
    note = ("Procedure visit. Hx DM2 on metformin.\nA/P:\n1. DM2 - stable, continue metformin.\n"
            "2. AKs x3 face - LN2 today, 2 FT cycles.\n")  # fmt: skip
    s = engine.suggest(note, "dm-proc")
    assert not [c for c in s.cpt if c.code.startswith("992")]
    assert not {"E11.9", "Z79.84"} & {d.code for d in s.icd10}
