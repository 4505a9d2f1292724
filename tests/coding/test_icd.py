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


def test_icd_index_answers_as_the_library_does(tmp_path, monkeypatch):
    """The on-disk index (built once per library version) gives the library's own answers."""
    import simple_icd_10_cm as cm

    from dermcoder.coding import icd

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    for fn in (icd._index, icd.is_billable, icd.description):
        fn.cache_clear()
    try:
        icd.warm()
        written = list((tmp_path / "dermcoder").glob("icd10cm-index-*.json"))
        assert len(written) == 1
        icd._index.cache_clear()  # now read back from the file
        codes = cm.get_all_codes(True)[::97] + ["C44311", "L57.0", "C44.3", "c44.311", "C44.311 ", "ZZZ.99", "A00-A09", "1"]
        for code in codes:
            valid = cm.is_valid_item(code)
            assert icd.is_billable(code) == bool(icd.DOTTED.match(code) and valid and cm.is_leaf(code)), code
            assert icd.description(code) == (cm.get_description(code) if valid else ""), code
    finally:
        for fn in (icd._index, icd.is_billable, icd.description):
            fn.cache_clear()


@pytest.mark.parametrize("site, code", [("axilla", "L74.510"), ("forehead", "L74.511"), ("hand", "L74.512"),
                                        ("foot", "L74.513"), ("back", "L74.519"), (None, "L74.519")])  # fmt: skip
def test_a_family_coded_by_site_falls_back_to_its_unspecified_code(site, code):
    from dermcoder.coding.icd_map import icd_code

    assert icd_code("l74_51", site) == code


@pytest.mark.parametrize("key, site, side, code", [
    ("d36_1", "thigh", "right", "D36.13"), ("d36_1", "forearm", "left", "D36.12"), ("d36_1", "cheek", None, "D36.11"),
    ("d36_1", "back", None, "D36.17"), ("d36_1", None, None, "D36.10"),
    ("d23", "forehead", "left", "D23.39"),  # "eyebrow" is the lexicon's forehead
])  # fmt: skip
def test_benign_nerve_sheath_and_skin_neoplasms_by_site(key, site, side, code):
    from dermcoder.coding.icd_map import icd_code

    assert icd_code(key, site, side) == code


@pytest.mark.parametrize("key, site, code", [
    ("l90_0", "vulva", "N90.4"), ("l90_0", "penis", "N48.0"), ("l90_0", "back", "L90.0"), ("l90_0", None, "L90.0"),
    ("d04", "penis", "D07.4"), ("d04", "scrotum", "D07.61"), ("d04", "vulva", "D07.1"), ("c79_2", "back", "C79.2"),
])  # fmt: skip
def test_skin_of_the_genital_organs_takes_the_organs_code(key, site, code):
    from dermcoder.coding.icd_map import icd_code

    assert icd_code(key, site) == code
