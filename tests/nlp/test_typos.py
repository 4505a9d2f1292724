"""Near-miss spellings of the lexicon's long procedure and repair words."""

import pytest

from dermcoder.nlp.typos import TypoVocabulary, within_one_edit
from tests.conftest import mentions


@pytest.mark.parametrize(
    "a,b,expected",
    [("excision", "excision", True), ("exicision", "excision", True), ("excison", "excision", True),
     ("exsision", "excision", True), ("excisoin", "excision", True), ("incision", "excision", False),
     ("complx", "complex", True), ("compelx", "complex", True), ("complete", "complex", False)],
)  # fmt: skip
def test_within_one_edit(a, b, expected):
    assert within_one_edit(a, b) is expected
    assert within_one_edit(b, a) is expected


def test_vocabulary_lookup_needs_one_meaning():
    vocab = TypoVocabulary({"excision": ("PROCEDURE", "excision"), "exicsion": ("PROCEDURE", "excision"),
                            "curetted": ("PROCEDURE", "destruction")})  # fmt: skip
    assert vocab.lookup("Exicision") == ("PROCEDURE", "excision")  # near two forms of one concept
    assert vocab.lookup("excision") is None  # spelt right: the lexicon's job
    assert vocab.lookup("curette") is None  # the instrument, a word of its own


@pytest.mark.parametrize(
    "text,label,canonical",
    [("Procedure #2: exicision L lower leg, 1.2 cm.", "PROCEDURE", "excision"),
     ("Complx repair, 2-0 PDS deep.", "REPAIR", "complex"),
     ("LN2 cryoterapy to 4 AKs.", "PROCEDURE", "cryotherapy")],
)  # fmt: skip
def test_pipeline_reads_misspelt_procedure_words(nlp, text, label, canonical):
    assert canonical in [m.canonical for m in mentions(nlp, text) if m.label == label]


def test_pipeline_leaves_the_instrument_alone(nlp):
    assert not [m for m in mentions(nlp, "Curettage with a 3 mm curette.") if m.text == "curette"]


def test_pipeline_reads_misspelt_sites_and_biopsy(nlp):
    ms = mentions(nlp, "Shave biospy L sholdr 8 mm pearly papule.")
    assert ("PROCEDURE", "biopsy") in [(m.label, m.canonical) for m in ms]
    assert ("SITE", "shoulder") in [(m.label, m.canonical) for m in ms]
