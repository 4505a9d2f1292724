"""Sites from the lexicon (abbreviations, misspellings) and laterality, incl. L/R shorthand."""

import pytest

from tests.conftest import mentions

CASES = [
    ("left nasal ala", "nose", "left"),
    ("R forearm", "forearm", "right"),
    ("helical rim (L)", "ear", "left"),
    ("right lower eyelid", "eyelid", "right"),
    ("upper back near the scapula", "back", None),
    ("L forarm", "forearm", "left"),
    ("dorsal hand, rt", "hand", "right"),
    ("nape of neck", "neck", None),
    ("right great toe", "toe", "right"),
    ("left malar cheek", "cheek", "left"),
]


@pytest.mark.parametrize("text,site,side", CASES, ids=[c[0] for c in CASES])
def test_sites_and_laterality(nlp, text, site, side):
    ms = mentions(nlp, text)
    assert [m.canonical for m in ms if m.label == "SITE"][0] == site
    sides = [m.canonical for m in ms if m.label == "LATERALITY"]
    assert (sides[0] if sides else None) == side


def test_sites_eyelid_upper_lower(nlp):
    (site,) = [m for m in mentions(nlp, "BCC of the left lower eyelid") if m.label == "SITE"]
    assert site.value == "lower"


def test_sites_crows_feet_is_not_the_foot(nlp):
    assert not [m for m in mentions(nlp, "ellipse along the crow's-feet lines") if m.label == "SITE" and m.canonical == "foot"]


def test_sites_donor_site_is_marked(nlp):
    ms = mentions(nlp, "full-thickness skin graft harvested from the right preauricular skin")
    (donor,) = [m for m in ms if m.label == "SITE"]
    assert donor.role == "donor"


def test_sites_single_letter_needs_a_site(nlp):
    assert not [m for m in mentions(nlp, "Vitamin D level R 42") if m.label == "LATERALITY"]


@pytest.mark.parametrize("text", ["This 71-year-old patient is back for definitive treatment of the BCC.",
                                  "She will come back in 3 months.", "Pt back today for suture removal."])
def test_sites_back_the_adverb_is_no_site(nlp, text):
    assert not [m for m in mentions(nlp, text) if m.label == "SITE" and m.canonical == "back"]


def test_sites_back_the_site_stays(nlp):
    text = "Shave biopsy of the upper back. Back: 6 mm papule. Excision of a cyst of the back with 0.2 cm margins."
    assert [m.canonical for m in mentions(nlp, text) if m.label == "SITE"] == ["back", "back", "back"]
