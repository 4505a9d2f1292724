"""Sections: the category a mention falls in, from header patterns at line starts."""

import pytest

from tests.conftest import mentions

CASES = [
    ("Shave biopsy, R arm.\nPath: BCC, nodular.", "BCC", "pathology"),
    ("Tol well.\n--- path addendum 10/14: L FA: invasive SCC.", "SCC", "pathology"),
    ("Specimen to pathology.\n\n---- PATHOLOGY ADDENDUM ----\nRight forearm: squamous cell carcinoma in situ.", "squamous cell carcinoma in situ", "pathology"),
    ("Specimen sent to pathology.\nLN2 to 4 AKs.", "AKs", None),
    ("Layered closure 3.5 cm.\n\n--- PATHOLOGY ADDENDUM 11/09/2031 ---\nInvasive melanoma, pT1a.", "Invasive melanoma", "pathology"),
    ("PATHOLOGY HISTORY (auto-imported, newest first)\n 2020  R shoulder shave bx: melanoma in situ\nTODAY - proc: excision of bx site L scapula",
     "melanoma in situ", "history"),
    ("PATHOLOGY HISTORY (auto-imported):\n 2020  R shoulder shave bx: melanoma in situ\nTODAY - proc: excision of recurrent nevus L scapula",
     "nevus", "procedure"),
    ("Excised, layered closure 3.6 cm.\nPATH (today's specimen, appended by MA 5 days later):\n L scapula: recurrent melanocytic nevus.",
     "melanocytic nevus", "pathology"),
    ("Repair: intermediate 3.0 cm.\n\nPATH (received Apr 30)\n  1a + 1b: compound dysplastic nevus", "dysplastic nevus", "pathology"),
    ("Excision of a nevus, left arm.\nPath (see below) pending.", "nevus", None),
    ("4 mm punch bx, 1 suture.\n\n== path back 4/2 ==\n1 (wedge, L leg): invasive SCC, mod diff", "invasive SCC", "pathology"),
    ("Shave biopsy only.\n\n-- Path results, entered 3 days later --\nCheek: basal cell carcinoma, nodular.", "basal cell carcinoma", "pathology"),
    ("- Closed with 4-0 chromic.\n- Path: epidermal inclusion cyst.\n\nProcedure 2: Punch biopsy, right thigh\n- New growth, r/o atypical nevus.",
     "atypical nevus", "procedure"),
    ("Layered closure, length 3.0 cm.\n\n>>PATH RESULT (routed to inbox, appended 9/22):\n #1 R occipital scalp: pilar cyst.", "pilar cyst", "pathology"),
    ("Punch biopsy, one suture.\n\nPATHOLOGY (Birchfield Dermpath (fictional), signed 12/01/2025)\nPart A - Skin, left shin: hypertrophic lichen planus.",
     "hypertrophic lichen planus", "pathology"),
    ("SUBJECTIVE\n6-month check.\nOBJECTIVE\nScattered waxy papules.\nASSESSMENT\n1. Seborrheic keratoses, trunk", "Seborrheic keratoses", "assessment"),
    ("SUBJECTIVE\n6-month check.\nOBJECTIVE\nScattered seborrheic keratoses, trunk.\nPLAN\nReassurance.", "seborrheic keratoses", "findings"),
    ("Path review (bx 03/10/25):\n  A - L crown scalp: nodular BCC\n\nPROCEDURE 1: ED&C L crown scalp\n  Lesion 9 mm pearly BCC.", "BCC", "procedure"),
]


@pytest.mark.parametrize("text,target,section", CASES, ids=[c[0][:40] for c in CASES])
def test_sections_header_decides_the_category(nlp, text, target, section):
    (m,) = [m for m in mentions(nlp, text) if m.label == "HISTOLOGY" and target in m.text][-1:]
    assert m.section == section


def test_a_one_line_history_field_ends_at_its_line(nlp):
    from tests.conftest import mentions

    text = "History: BCC left cheek treated with Mohs 2018.\nPre-op size 1.0 x 0.9 cm.\nFinal defect 2.0 x 1.5 cm."
    sizes = [m for m in mentions(nlp, text) if m.label == "SIZE"]
    assert sizes and all(m.section is None and m.active for m in sizes)
    (mohs,) = [m for m in mentions(nlp, text) if m.text == "Mohs"]
    assert mohs.section == "history" and not mohs.active
