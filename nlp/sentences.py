"""`derm_sentences`: sentence boundaries for clinical notes.

Notes break lines far more often than they end sentences with a period, and ConText
scopes run to the end of a sentence, so a line break or a semicolon ends one here.
(PyRuSH, medspaCy's default splitter, is avoided: it logs token text, which is PHI,
and ran ~7x slower on our notes.)
"""

from __future__ import annotations

from spacy.language import Language
from spacy.tokens import Doc

ENDERS = {".", "!", "?", ";"}


@Language.component("derm_sentences", assigns=["token.is_sent_start"])
def derm_sentences(doc: Doc) -> Doc:
    """Start a sentence after a newline, or after . ! ? ; followed by a space."""
    for i, token in enumerate(doc):
        if i == 0:
            token.is_sent_start = True
            continue
        prev = doc[i - 1]
        token.is_sent_start = (
            "\n" in prev.text
            or prev.is_space and "\n" in prev.text
            or (prev.text in ENDERS and prev.whitespace_ != "")
            or (prev.text in ENDERS and token.is_space)
        )
    return doc
