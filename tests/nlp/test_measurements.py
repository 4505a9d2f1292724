"""Measurements: units normalized to cm / sq cm, the original span kept, the role read from context."""

import pytest

from tests.conftest import mentions

CASES = [
    ("lesion 0.9 cm, margins 0.3 cm", [("SIZE", "0.9 cm", [0.9], "lesion"), ("MARGIN", "0.3 cm", [0.3], "margin")]),
    ("a 6 mm pink papule", [("SIZE", "6 mm", [0.6], "lesion")]),
    # OCR of scanned charts: "crn" for cm, "rnm" for mm, "O.4" and "0.S" for 0.4 and 0.5
    ("pearly papule, 1.4 x 1.0 crn. Margins O.4 cm", [("SIZE", "1.4 x 1.0 crn", [1.4, 1.0], "lesion"), ("MARGIN", "O.4 cm", [0.4], "margin")]),
    ("Final defect 14 rnm. margin 0.S cm", [("SIZE", "14 rnm", [1.4], "defect"), ("MARGIN", "0.S cm", [0.5], "margin")]),
    ("lesion 1.2 cm, margin o.4 cm", [("SIZE", "1.2 cm", [1.2], "lesion"), ("MARGIN", "o.4 cm", [0.4], "margin")]),
    ("Lesion (pre-op): 1.2 x 0.8 cm", [("SIZE", "1.2 x 0.8 cm", [1.2, 0.8], "lesion")]),
    ("lesion 1.2 cm x 0.8 cm", [("SIZE", "1.2 cm x 0.8 cm", [1.2, 0.8], "lesion")]),
    ("margins of 2-3 mm", [("MARGIN", "2-3 mm", [0.2, 0.3], "margin")]),
    ("primary defect 1.4 sq cm", [("AREA", "1.4 sq cm", [1.4], "area")]),
    ("treated area 12 cm2", [("AREA", "12 cm2", [12.0], "area")]),
    ("Intermediate repair length 3.0 cm.", [("SIZE", "3.0 cm", [3.0], "repair_length")]),
    ("The ellipse measured 6.5 cm long", [("SIZE", "6.5 cm", [6.5], "ellipse")]),
    ("Breslow thickness 0.45 mm", [("SIZE", "0.45 mm", [0.045], "depth")]),
    ("Final defect 1.3 x 1.1 cm", [("SIZE", "1.3 x 1.1 cm", [1.3, 1.1], "defect")]),
    ("excised diameter 1.6 cm", [("SIZE", "1.6 cm", [1.6], "excised_diameter")]),
    ("complex repair measuring 6.5 cm in final length", [("SIZE", "6.5 cm", [6.5], "repair_length")]),
    ("Len 2.4 cm.", [("SIZE", "2.4 cm", [2.4], "repair_length")]),
    ("Technique: excision.\nClosure: intermediate repair, 4-0 nylon; 3.0 cm long.", [("SIZE", "3.0 cm", [3.0], "repair_length")]),
    ("The ellipse was 3.0 cm long.", [("SIZE", "3.0 cm", [3.0], "ellipse")]),
    ("Excised w/ 2 mm margins. Layered closure 4-0 nylon; 3.0 cm.", [("MARGIN", "2 mm", [0.2], "margin"), ("SIZE", "3.0 cm", [3.0], "repair_length")]),
    ("Intermediate repair: 3-0 Vicryl buried, staples. 3.0 cm.", [("SIZE", "3.0 cm", [3.0], "repair_length")]),
    ("Intermediate layered repair: 5-0 Monocryl deep. Final suture line 4.2 cm.", [("SIZE", "4.2 cm", [4.2], "repair_length")]),
    ("Site | Lesion size | Margin | Length\nR cheek | 6 mm | 3 mm | 2.2 cm",
     [("SIZE", "6 mm", [0.6], "lesion"), ("MARGIN", "3 mm", [0.3], "margin"), ("SIZE", "2.2 cm", [2.2], "repair_length")]),
    ("Site | pre-tx | final defect\nL chest | 0.4 cm | 0.5 cm", [("SIZE", "0.4 cm", [0.4], "size"), ("SIZE", "0.5 cm", [0.5], "defect")]),
    ("atypical nevus (bx: mod atypia, + margin), 8mm residual pigment, 2mm margins -> exc",
     [("SIZE", "8mm", [0.8], "lesion"), ("MARGIN", "2mm", [0.2], "margin")]),
    ("Repair: FTSG trimmed to fit the 2.2 x 1.9 cm recipient bed", [("SIZE", "2.2 x 1.9 cm", [2.2, 1.9], "defect")]),
    # a table row ending in a length, the next row numbered 2: no "cm\n2" area
    ("Lesion | Site | Repair length\n1 | right mid back | 4.0 cm\n2 | left thigh | 2.5 cm",
     [("SIZE", "4.0 cm", [4.0], "repair_length"), ("SIZE", "2.5 cm", [2.5], "repair_length")]),
    ("nodular basal cell carcinoma, 1.5 centimetres. Excised with 4 millimetre margins",
     [("SIZE", "1.5 centimetres", [1.5], "size"), ("MARGIN", "4 millimetre", [0.4], "margin")]),
    ("Margins A\t3 mm superior and lateral; 2 mm inferior (limited by vermilion)",
     [("MARGIN", "3 mm", [0.3], "margin"), ("MARGIN", "2 mm", [0.2], "margin")]),
    ("Site\tDx\tPre-curettage\tFinal defect\nR upper back\tsuperficial BCC\t0.9 cm\t1.3 cm",
     [("SIZE", "0.9 cm", [0.9], "lesion"), ("SIZE", "1.3 cm", [1.3], "defect")]),
    ("Final defect after the last curettage measured 2.2 cm in greatest diameter.", [("SIZE", "2.2 cm", [2.2], "defect")]),
    ("TODAY: Defect re-measured 1.9 x 1.7 cm, clean base.", [("SIZE", "1.9 x 1.7 cm", [1.9, 1.7], "defect")]),
    ("Procedure(s): Excision of malignant lesion; complex repair\nPre-excision lesion diameter: 1.6 cm", [("SIZE", "1.6 cm", [1.6], "lesion")]),
    ("Margins marked 5 mm except inferiorly, where a healing pressure area limited us to 3 mm.",
     [("MARGIN", "5 mm", [0.5], "margin"), ("MARGIN", "3 mm", [0.3], "margin")]),
]


@pytest.mark.parametrize("text,expected", CASES, ids=[c[0] for c in CASES])
def test_measurements_normalized_with_role(nlp, text, expected):
    got = [(m.label, m.text, [round(v, 4) for v in m.value], m.role) for m in mentions(nlp, text) if m.label in ("SIZE", "MARGIN", "AREA")]
    assert got == [(label, span, [round(v, 4) for v in value], role) for label, span, value, role in expected]


def test_measurements_keep_exact_offsets(nlp):
    text = "Excision: lesion 1.0cm with 2mm margins."
    for m in mentions(nlp, text):
        assert text[m.start : m.end] == m.text


@pytest.mark.parametrize("text, value", [
    ("exam eight millimeter pigmented macule", [0.8]),
    ("a one point two centimeter nodule", [1.2]),
    ("lesion measured 8 millimeters", [0.8]),
    ("twenty two millimeters across", [2.2]),
    ("margins of two millimeters", [0.2]),
], ids=["eight-mm", "one-point-two-cm", "millimeters-spelled", "twenty-two", "margin-words"])  # fmt: skip
def test_spoken_and_spelled_measurements(nlp, text, value):
    from dermcoder.nlp.frames import mentions_from_doc

    (m,) = [m for m in mentions_from_doc(nlp(text)) if m.label in ("SIZE", "MARGIN")]
    assert m.value == pytest.approx(value)


@pytest.mark.parametrize("text, role", [
    ("asymmetric brown papule 9 mm with peripheral globules", "lesion"),
    ("pink macule 6 mm with an irregular border", "lesion"),
    ("excised with 4 mm peripheral margins", "margin"),
    ("a 2 mm border of normal skin", "margin"),
    ("An ellipse was designed around the punctum and old scar, taking a narrow margin of 1 mm of normal-appearing skin", "margin"),
    ("closed in two layers, 3-0 Vicryl deep and 4-0 nylon sutures; 5.0 cm final length", "repair_length"),
    ("I did a layered closure (galeal 3-0 Vicryl, then staples) along the whole 5.5 cm wound", "repair_length"),
    ("The intermediate repair length equals the ellipse, 12.0 cm", "repair_length"),
    ("I marked an ellipse 5.5 cm long", "ellipse"),
    ("Today: re-excision for positive margin.\n  Scar: 2.0 cm linear, well healed.", "lesion"),
    ("the final sutured length measured at the end of the case was 5.6 cm", "repair_length"),
    ("The curetted defect at the end measured 1.2 cm.", "defect"),
    ("fusiform excision to fat, limited undermining, ILC (intermediate layered closure) 4-0 Vicryl + 4-0 nylon, 3.0 cm.", "repair_length"),
], ids=["dermoscopy-globules", "irregular-border", "peripheral-margins", "border-of-normal-skin", "closest-cue-is-the-last",
        "final-length", "closure-along-the-wound", "repair-length-equals-ellipse", "ellipse-long", "scar-field", "length-measured", "defect-at-the-end-measured",
        "abbreviation-glossed-in-brackets"])  # fmt: skip
def test_lesion_descriptions_after_a_size_are_no_margin(nlp, text, role):
    from dermcoder.nlp.frames import mentions_from_doc

    (m,) = [m for m in mentions_from_doc(nlp(text)) if m.label in ("SIZE", "MARGIN")]
    assert m.role == role
