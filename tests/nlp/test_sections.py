"""Sections: the category a mention falls in, from header patterns at line starts."""

import pytest

from tests.conftest import mentions

CASES = [
    ("Shave biopsy, R arm.\nPath: BCC, nodular.", "BCC", "pathology"),
    ("Tol well.\n--- path addendum 10/14: L FA: invasive SCC.", "SCC", "pathology"),
    ("Specimen to pathology.\n\n---- PATHOLOGY ADDENDUM ----\nRight forearm: squamous cell carcinoma in situ.", "squamous cell carcinoma in situ", "pathology"),
    ("Specimen sent to pathology.\nLN2 to 4 AKs.", "AKs", None),
]


@pytest.mark.parametrize("text,target,section", CASES, ids=[c[0][:40] for c in CASES])
def test_sections_header_decides_the_category(nlp, text, target, section):
    (m,) = [m for m in mentions(nlp, text) if m.label == "HISTOLOGY" and target in m.text]
    assert m.section == section
