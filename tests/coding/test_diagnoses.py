"""Diagnosis selection details: history codes only for surveillance done at this visit."""

import pytest


@pytest.mark.parametrize("text, today", [
    ("F/u h/o melanoma in situ, surveillance skin check: no evidence of recurrence.", True),
    ("H/o MIS: next surveillance as scheduled; no exam today.", False),
    ("Problem list: H/o MIS left calf 2016 (surveillance annual, last 4 months ago)", False),
], ids=["today", "next-time", "last-time"])  # fmt: skip
def test_surveillance_must_be_this_visits(text, today):
    from dermcoder.coding.diagnoses import _surveillance_today

    assert _surveillance_today(text) == today


def test_an_abscess_of_an_internal_organ_is_no_skin_abscess(engine):
    note = ("Hospital day 3, derm follow-up. Admitted for diverticular abscess, on piperacillin-tazobactam.\n"
            "A: Morbilliform drug eruption due to piperacillin-tazobactam. Subsequent visit, MDM moderate.")  # fmt: skip
    codes = [d.code for d in engine.suggest(note, "dx2").icd10]
    assert "L27.0" in codes
    assert not [c for c in codes if c.startswith("L02")]


@pytest.mark.parametrize("note", [
    "New pt. A: Basal cell carcinoma of the left nasal sidewall. Outside shave biopsy report reviewed: "
    "infiltrative basal cell carcinoma to the deep margin. Discussed Mohs; scheduled. MDM moderate.",
    "Outside shave biopsy report reviewed: infiltrative basal cell carcinoma to the deep margin.\n"
    "A: Basal cell carcinoma, left nasal sidewall - Mohs scheduled. New pt, MDM moderate.",
], ids=["sited-first", "unsited-first"])  # fmt: skip
def test_a_diagnosis_told_again_without_its_site_is_the_same_one(engine, note):
    codes = [d.code for d in engine.suggest(note, "dx3").icd10]
    assert codes == ["C44.311"]


@pytest.mark.parametrize("extra, expected", [
    ("", {"L82.0"}),
    (" One more SK on the scalp, not inflamed, catches on the comb, was frozen too.", {"L82.0", "L82.1"}),
], ids=["told-first-without-state", "a-treated-one-not-inflamed"])  # fmt: skip
def test_irritated_sks_told_first_as_sks_are_coded_once(engine, extra, expected):
    note = ("On exam there are four stuck-on waxy papules typical of seborrheic keratoses on the back, itching and bleeding "
            "where the bra catches them. These are irritated seborrheic keratoses." + extra +
            " All were treated with liquid nitrogen cryotherapy.")  # fmt: skip
    s = engine.suggest(note, "isk")
    assert {d.code for d in s.icd10} == expected
