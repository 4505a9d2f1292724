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
    ("left hemiscrotum", "scrotum", "left"),
    ("vulvar lichen sclerosus", "vulva", None),
    ("erythroplasia of the glans", "penis", None),
    ("mons pubis", "genitalia", None),
    ("bilateral calves", "lower_leg", "bilateral"),
    ("both upper extremities", "upper_arm", "bilateral"),
    ("medial canthi", "eyelid", None),
    ("fhd x4", "forehead", None),
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


def test_sites_a_dog_ear_is_not_the_ear(nlp):
    found = [m.text for m in mentions(nlp, "Closure 0.9 cm (dog-ear trimmed), dog ear repaired. Left ear lobe.") if m.label == "SITE"]
    assert found == ["ear lobe"]


def test_sites_crows_feet_is_not_the_foot(nlp):
    assert not [m for m in mentions(nlp, "ellipse along the crow's-feet lines") if m.label == "SITE" and m.canonical == "foot"]


def test_sites_donor_site_is_marked(nlp):
    ms = mentions(nlp, "full-thickness skin graft harvested from the right preauricular skin")
    (donor,) = [m for m in ms if m.label == "SITE"]
    assert donor.role == "donor"


def test_sites_single_letter_needs_a_site(nlp):
    assert not [m for m in mentions(nlp, "Vitamin D level R 42") if m.label == "LATERALITY"]


@pytest.mark.parametrize("text", ["This 71-year-old patient is back for definitive treatment of the BCC.",
                                  "She will come back in 3 months.", "Pt back today for suture removal.",
                                  "S: Back to treat the skin cancer on her shoulder."])
def test_sites_back_the_adverb_is_no_site(nlp, text):
    assert not [m for m in mentions(nlp, text) if m.label == "SITE" and m.canonical == "back"]


def test_sites_face_to_face_time_is_no_site(nlp):
    assert not [m for m in mentions(nlp, "Total face-to-face time 25 minutes, face to face with the patient.") if m.label == "SITE"]
    assert [m.canonical for m in mentions(nlp, "Papule on the face.") if m.label == "SITE"] == ["face"]


def test_sites_back_the_site_stays(nlp):
    text = "Shave biopsy of the upper back. Back: 6 mm papule. Excision of a cyst of the back with 0.2 cm margins."
    assert [m.canonical for m in mentions(nlp, text) if m.label == "SITE"] == ["back", "back", "back"]


# (text, the SITE spans a coder marks): direction words and head nouns belong to the site,
# two site words in a row are one site, a "/" list names each site, plurals are sites.
SPANS = [
    ("B/L dorsal hands x3", ["dorsal hands"]),
    ("(b) mid upper back: 7x5mm", ["mid upper back"]),
    ("A. R lat neck 11mm ISK", ["lat neck"]),
    ("right side of the neck, 3 mm papule", ["side of the neck"]),
    ("R 3rd toe + L 2nd toe", ["3rd toe", "2nd toe"]),
    ("on the preauricular cheek", ["preauricular cheek"]),
    ("R plantar forefoot: 3 VP", ["plantar forefoot"]),
    ("R popliteal fossa x2", ["popliteal fossa"]),
    ("acrochordons axillae/neck", ["axillae", "neck"]),
    ("cheeks/nose/chin ~20 papules", ["cheeks", "nose", "chin"]),
    ("R + L thighs", ["thighs"]),
]


@pytest.mark.parametrize("text,spans", SPANS, ids=[s[0] for s in SPANS])
def test_site_spans_as_a_coder_marks_them(nlp, text, spans):
    assert [text[m.start : m.end] for m in mentions(nlp, text) if m.label == "SITE"] == spans


@pytest.mark.parametrize("text", [
    "staying superficial to the frontal branch of the facial nerve",
    "excised down to the deltoid fascia",
    "Procedure: ankle block.",
    "ring block of ear",
    "Ace wrap, leg elevation advised.",
    "exposed to UVA in the hand and foot unit",
    "Ameluz (ALA HCl 10% gel) - 1 tube",
    "painful plantar warts",
    "Path back (addendum): scar tissue",
], ids=lambda t: t[:30])
def test_anatomy_that_is_not_a_lesion_site(nlp, text):
    assert [text[m.start : m.end] for m in mentions(nlp, text) if m.label == "SITE"] == []


@pytest.mark.parametrize("text", ["defect left to heal by second intention", "wound left open to granulate", "sutures left in place"])
def test_left_the_verb_is_no_side(nlp, text):
    assert not [m for m in mentions(nlp, text) if m.label == "LATERALITY"]
