"""Drug eruptions: the manifestation first, then the adverse-effect code of the drug its line names."""

import json

import pytest

from dermcoder.coding.adverse_effects import MANIFESTATIONS, drug_cause, drug_patterns


def test_every_drug_code_is_a_billable_adverse_effect_code(tables_dir):
    data = json.loads((tables_dir / "adverse_effect_drugs.json").read_text(encoding="utf-8"))
    assert data["drugs"], "the table lists drugs"
    import simple_icd_10_cm as cm

    for code in data["drugs"]:
        assert cm.is_valid_item(code) and cm.is_leaf(code), code
        assert "Adverse effect of" in cm.get_description(code), code
    assert {code for _, code in drug_patterns()} == set(data["drugs"])


def test_manifestations_are_those_the_tabular_asks_a_drug_code_for():
    import simple_icd_10_cm as cm

    for code in MANIFESTATIONS:
        notes = " ".join(cm.get_use_additional_code(c) for c in [code, *cm.get_ancestors(code)])
        assert "T36-T50 with fifth or sixth character 5" in notes, code


def test_a_bad_pattern_is_refused(tmp_path, monkeypatch):
    from dermcoder.coding import adverse_effects
    from dermcoder.errors import TableError

    tables = tmp_path / "tables"
    tables.mkdir()
    (tables / "adverse_effect_drugs.json").write_text(json.dumps(
        {"provenance": {"source": "test"}, "drugs": {"T36.0X5A": {"what": "x", "patterns": ["amox(icillin"]},
                                                     "L27.0": {"what": "not a T-code", "patterns": ["x"]}}}))  # fmt: skip
    from importlib import resources

    monkeypatch.setattr(resources, "files", lambda _pkg: tmp_path)  # where coding/tables.py finds the tables
    adverse_effects.drug_patterns.cache_clear()
    try:
        with pytest.raises(TableError) as err:
            adverse_effects.drug_patterns()
        assert "bad pattern" in str(err.value) and "not an adverse-effect code" in str(err.value)
    finally:
        adverse_effects.drug_patterns.cache_clear()


@pytest.mark.parametrize("line, dx, code, expected", [
    ("1. Morbilliform drug eruption due to piperacillin-tazobactam, improving.", "Morbilliform drug eruption", "L27.0", "T36.0X5A"),
    ("A: fixed drug eruption L hand, naproxen - recurrent.", "fixed drug eruption", "L27.1", "T39.315A"),
    ("2. Lichenoid drug eruption due to hydrochlorothiazide - stop HCTZ.", "Lichenoid drug eruption", "L43.2", "T50.2X5A"),
    ("1. Lichenoid drug eruption due to pembrolizumab, grade 2 - continue pembro.", "Lichenoid drug eruption", "L43.2", "T45.AX5A"),
    ("Morbilliform drug eruption due to capecitabine.", "Morbilliform drug eruption", "L27.0", "T45.1X5A"),
    ("#1 Phototoxic drug eruption 2/2 HCTZ - exaggerated sunburn.", "Phototoxic drug eruption", "L56.0", "T50.2X5A"),
    ("Perioral dermatitis, steroid-induced - adverse effect of the topical triamcinolone.", "Perioral dermatitis", "L71.0", "T49.0X5A"),
    ("Perioral dermatitis - start doxycycline 50 mg daily.", "Perioral dermatitis", "L71.0", None),
    ("Drug eruption, generalized: continue triamcinolone 0.1% cream BID.", "Drug eruption", "L27.0", None),
    ("Drug eruption from Bactrim; start prednisone 40 mg taper.", "Drug eruption", "L27.0", "T37.0X5A"),
    ("Lamotrigine-induced morbilliform drug eruption.", "morbilliform drug eruption", "L27.0", "T42.6X5A"),
    ("Atopic dermatitis - flare after naproxen?", "Atopic dermatitis", "L20.9", None),
], ids=["due-to", "named-beside", "lichenoid-due-to", "checkpoint-inhibitor", "antineoplastic", "2/2", "topical-steroid", "treatment-not-cause", "steroid-treats-it",
        "cause-before-treatment", "drug-induced", "not-a-manifestation"])  # fmt: skip
def test_drug_cause(line, dx, code, expected):
    start = line.index(dx)
    found = drug_cause(line, code, start, start + len(dx))
    assert (found.code if found else None) == expected
    if found:
        assert line[found.start : found.end] == found.text


def test_engine_codes_the_drug_after_the_eruption_on_the_visit(engine):
    note = ("Est pt. Itchy rash x 3 days, started on day 8 of amoxicillin for sinusitis.\n"
            "Exam: blanching erythematous macules and papules on trunk and arms.\n"
            "A: Morbilliform drug eruption due to amoxicillin.\n"
            "P: stop amoxicillin, triamcinolone 0.1% cream BID. MDM low.")  # fmt: skip
    s = engine.suggest(note, "dx1")
    codes = [d.code for d in s.icd10]
    assert codes[:2] == ["L27.0", "T36.0X5A"]
    drug = next(d for d in s.icd10 if d.code == "T36.0X5A")
    assert [e.text for e in drug.evidence] == ["amoxicillin"]
    assert note[drug.evidence[0].start : drug.evidence[0].end] == "amoxicillin"
    assert any(line.code.startswith("992") and "T36.0X5A" in line.diagnoses for line in s.cpt)
