"""ICD-10-CM checks come from simple-icd-10-cm, never from a hand copy."""

import pytest

from dermcoder.coding import icd


@pytest.mark.parametrize("code", ["C44.311", "C44.1122", "D03.122", "L57.0", "L91.8", "B07.8", "D49.2", "L84"])
def test_icd_billable_leaf(code):
    assert icd.is_billable(code)
    assert icd.description(code)


@pytest.mark.parametrize("code", ["C44.1", "C44.112", "D22", "D03.31", "X99.999", "", "C44311"])
def test_icd_not_billable(code):
    assert not icd.is_billable(code)
    assert icd.check_billable(code)


def test_icd_description_is_official_title():
    assert icd.description("C44.311") == "Basal cell carcinoma of skin of nose"
