"""Context: the traps of the corpus issue, each mention keeping the cue that suppressed it."""

import pytest

from tests.conftest import mentions

CASES = [
    ("No history of melanoma.", "melanoma", "negated"),
    ("Pathology: residual melanoma not identified.", "melanoma", "negated"),
    ("Shave biopsy, r/o BCC.", "BCC", "uncertain"),
    ("Hx of BCC R cheek treated with Mohs in 2019.", "Mohs", "historical"),
    ("If margins positive, will re-excise.", "re-excise", "hypothetical"),
    ("We discussed excision and Mohs; ED&C preferred.", "Mohs", "hypothetical"),
    ("Offered LN2 today, pt declined.", "LN2", "declined"),
    ("Procedure cancelled: shave removal not performed.", "shave removal", "cancelled"),
    ("Family history of melanoma: mother had melanoma.", "melanoma", "family"),
    ("A/P (copied 01/15/2025): LN2 to 6 AKs.", "LN2", "copied_forward"),
]


@pytest.mark.parametrize("text,target,category", CASES, ids=[c[0] for c in CASES])
def test_context_categories_with_cue(nlp, text, target, category):
    (m,) = [m for m in mentions(nlp, text) if m.text == target][:1]
    assert category in m.context
    assert m.cue  # the UI can show why
    # uncertain diagnoses are kept as mentions (the coder sees them) but never coded; the others are suppressed
    assert not m.active or category == "uncertain"


@pytest.mark.parametrize(
    "text,target",
    [("Cryotherapy to 6 AKs today.", "Cryotherapy"), ("Excision of biopsy-proven BCC, left cheek.", "Excision"),
     ("A/P: 1. AK x 15 -> LN2 cryo, tol well.", "LN2")],  # fmt: skip
)
def test_context_done_today_stays_active(nlp, text, target):
    (m,) = [m for m in mentions(nlp, text) if m.text == target]
    assert m.active


def test_context_does_not_cross_sentences(nlp):
    ms = mentions(nlp, "Removal is for symptoms, not appearance.\n\nLesion size: 0.5 cm diameter.")
    (size,) = [m for m in ms if m.label == "SIZE"]
    assert size.active
