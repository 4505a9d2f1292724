"""`derm_sentences`: sentence boundaries for clinical notes.

Notes break lines far more often than they end sentences with a period, and ConText
scopes run to the end of a sentence, so a line break or a semicolon ends one here.
(PyRuSH, medspaCy's default splitter, is avoided: it logs token text, which is PHI,
and ran ~7x slower on our notes.)
"""

from __future__ import annotations

import numpy
from spacy.attrs import SENT_START
from spacy.language import Language
from spacy.tokens import Doc

ENDERS = {".", "!", "?", ";"}


@Language.component("derm_sentences", assigns=["token.is_sent_start"])
def derm_sentences(doc: Doc) -> Doc:
    """Start a sentence after a newline, or after . ! ? ; followed by a space."""
    starts = []
    prev = None
    for token in doc:
        starts.append(prev is None or (
            "\n" in prev.text
            or (prev.text in ENDERS and prev.whitespace_ != "")
            or (prev.text in ENDERS and token.is_space)
        ))  # fmt: skip
        prev = token
    # One array write: setting token.is_sent_start re-scans the whole doc for a parse on
    # every token (quadratic; 12 s of a 160 k character note).
    if starts:
        values = numpy.array([1 if s else -1 for s in starts], dtype="int64").astype("uint64")  # -1 wraps, as spaCy stores it
        doc.from_array([SENT_START], values.reshape(-1, 1))
    return doc
