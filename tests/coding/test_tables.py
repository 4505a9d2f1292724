"""The code tables: complete per the reference, and every kind of error reported with its location."""

from __future__ import annotations

import json
import shutil

import pytest

from dermcoder.coding.tables import validate_tables

# Written from the reference's tables (sections 1-8), independently of cpt_codes.json,
# so a removed or renumbered row fails here.
EXPECTED = {
    "biopsy": "11102 11103 11104 11105 11106 11107",
    "shave_removal": "11300 11301 11302 11303 11305 11306 11307 11308 11310 11311 11312 11313",
    "excision_benign": "11400 11401 11402 11403 11404 11406 11420 11421 11422 11423 11424 11426 "
    "11440 11441 11442 11443 11444 11446",
    "excision_malignant": "11600 11601 11602 11603 11604 11606 11620 11621 11622 11623 11624 11626 "
    "11640 11641 11642 11643 11644 11646",
    "repair_simple": "12001 12002 12004 12005 12006 12007 12011 12013 12014 12015 12016 12017 12018",
    "repair_intermediate": "12031 12032 12034 12035 12036 12037 12041 12042 12044 12045 12046 12047 "
    "12051 12052 12053 12054 12055 12056 12057",
    "repair_complex": "13100 13101 13102 13120 13121 13122 13131 13132 13133 13151 13152 13153",
    "att": "14000 14001 14020 14021 14040 14041 14060 14061 14301 14302",
    "graft_ftsg": "15200 15201 15220 15221 15240 15241 15260 15261",
    "graft_stsg": "15100 15101 15120 15121",
    "destruction_premalignant": "17000 17003 17004",
    "destruction_benign": "17110 17111",
    "destruction_vascular": "17106 17107 17108",
    "destruction_malignant": "17260 17261 17262 17263 17264 17266 17270 17271 17272 17273 17274 17276 "
    "17280 17281 17282 17283 17284 17286",
    "skin_tags": "11200 11201",
    "mohs": "17311 17312 17313 17314 17315",
    "incision_drainage": "10060 10061",
    "nail": "11720 11721 11730 11732 11750 11755",
    "intralesional": "11900 11901",
    "excimer": "96920 96921 96922",
    "pdt": "96567 96573 96574",
    "phototherapy": "96900 96910 96912 96913",
    "hidradenitis": "11450 11451 11462 11463 11470 11471",
    "em": "99202 99203 99204 99205 99211 99212 99213 99214 99215",
    "hcpcs_drug": "J3301 J7308 J7345",
}
ADD_ONS = set(
    "11103 11105 11107 11201 11732 13102 13122 13133 13153 14302 15101 15121 15201 15221 15241 15261 "
    "17003 17312 17314 17315 88341 88332".split()
)


@pytest.mark.parametrize("family", sorted(EXPECTED))
def test_tables_family_complete(tables, family):
    expected = set(EXPECTED[family].split())
    actual = {c.code for c in tables.family_codes(family)}
    assert expected == actual


def test_tables_add_on_flags_match_reference(tables):
    assert {c.code for c in tables.codes.values() if c.add_on} == ADD_ONS


@pytest.mark.parametrize(
    "family,value,group,code",
    [
        ("excision_malignant", 1.5, "face_ears_eyelids_nose_lips", "11642"),  # worked example 1
        ("excision_benign", 1.4, "trunk_arms_legs", "11402"),  # reference 3.1 example
        ("excision_benign", 0.5, "trunk_arms_legs", "11400"),  # band edge stays in the lower band
        ("excision_benign", 1.0, "scalp_neck_hands_feet_genitalia", "11421"),
        ("excision_malignant", 4.0, "trunk_arms_legs", "11604"),
        ("excision_malignant", 4.1, "trunk_arms_legs", "11606"),
        ("repair_intermediate", 3.0, "face_ears_eyelids_nose_lips", "12052"),
        ("repair_intermediate", 5.0, "scalp_axillae_trunk_limbs", "12032"),  # body ladder has no 5.0 split
        ("repair_complex", 1.1, "eyelids_nose_ears_lips", "13151"),
        ("att", 10.0, "trunk", "14000"),
        ("att", 10.1, "trunk", "14001"),
        ("destruction_premalignant", 15, None, "17004"),
        ("destruction_benign", 14, None, "17110"),
        ("intralesional", 8, None, "11901"),
        ("excimer", 500.0, None, "96921"),
    ],
)
def test_tables_band_lookup(tables, family, value, group, code):
    assert tables.band_code(family, value, group).code == code


def test_tables_band_gap_returns_none(tables):
    # 1.05 cm lies between 0.6-1.0 and 1.1-2.0: no rounding, the caller must query.
    assert tables.band_code("excision_benign", 1.05, "trunk_arms_legs") is None


def test_tables_complex_repair_has_no_code_for_1cm(tables):
    assert tables.band_code("repair_complex", 1.0, "trunk") is None


def test_tables_ncci_spot_checks(tables):
    # Spot checks from the NCCI README.
    assert tables.mue["17003"].value == 13 and tables.mue["17003"].mai == 2
    assert tables.edit("11104", "11102").modifier_indicator == "0"
    assert tables.edit("11102", "17000").modifier_indicator == "1"
    assert tables.edit("17004", "17000").modifier_indicator == "0"
    assert tables.edit("17311", "11102").modifier_indicator == "1"
    assert tables.edit("11642", "12051") is None


def test_tables_descriptions_are_short_paraphrases(tables):
    for code in tables.codes.values():
        assert 5 <= len(code.description) <= 140, code.code


def test_tables_every_site_maps_lesion_and_mohs_groups(tables):
    for name, site in tables.sites.items():
        assert "lesion" in site.groups and "mohs" in site.groups, name


def _broken_copy(tmp_path, tables_dir, mutate):
    d = tmp_path / "tables"
    shutil.copytree(tables_dir, d, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    data = json.loads((d / "cpt_codes.json").read_text())
    mutate(data)
    (d / "cpt_codes.json").write_text(json.dumps(data))
    return d


def test_tables_duplicate_code_reported_with_location(tmp_path, tables_dir):
    def dup(data):
        data["codes"].append(dict(data["codes"][0]))

    tables, problems = validate_tables(_broken_copy(tmp_path, tables_dir, dup))
    assert tables is None
    assert any("duplicate code 11102" in p and "codes[" in p for p in problems)


def test_tables_band_overlap_reported(tmp_path, tables_dir):
    def overlap(data):
        for rec in data["codes"]:
            if rec["code"] == "11401":
                rec["band_low"] = 0.4

    _, problems = validate_tables(_broken_copy(tmp_path, tables_dir, overlap))
    assert any("band overlap" in p and "11400" in p and "11401" in p for p in problems)


def test_tables_unknown_group_and_extra_field_all_reported(tmp_path, tables_dir):
    def two_errors(data):
        data["codes"][10]["anatomic_group"] = "elbows_only"
        data["codes"][20]["colour"] = "red"

    _, problems = validate_tables(_broken_copy(tmp_path, tables_dir, two_errors))
    assert any("unknown anatomic group 'elbows_only'" in p for p in problems)
    assert any("codes[20]" in p and "colour" in p for p in problems)  # extra="forbid", and both collected


def test_tables_cli_check_ok(cli):
    result = cli("tables", "check")
    assert result.returncode == 0, result.stderr
    assert b"OK" in result.stdout
