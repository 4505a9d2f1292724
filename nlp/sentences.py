"""`derm_sentences`: sentence boundaries for clinical notes.

Notes break lines far more often than they end sentences with a period, and ConText
scopes run to the end of a sentence, so a line break or a semicolon ends one here.
(PyRuSH, medspaCy's default splitter, is avoided: it logs token text, which is PHI,
and ran ~7x slower on our notes.)
"""

from __future__ import annotations

import re

import numpy
from spacy.attrs import IDX, IS_SPACE, LENGTH, SENT_START, SPACY
from spacy.language import Language
from spacy.tokens import Doc

from dermcoder.nlp._extensions import note_text

ENDERS = {".", "!", "?", ";"}
_NEWLINE = re.compile("\n")


@Language.component("derm_sentences", assigns=["token.is_sent_start"])
def derm_sentences(doc: Doc) -> Doc:
    """Start a sentence after a newline, or after . ! ? ; followed by a space."""
    if len(doc):
        values = sentence_start_values(doc)
        # One array write: setting token.is_sent_start re-scans the whole doc for a parse on
        # every token (quadratic; 12 s of a 160 k character note).
        doc.from_array([SENT_START], values.reshape(-1, 1))
    return doc


def sentence_start_values(doc: Doc) -> numpy.ndarray:
    """SENT_START per token (1 start, -1 not, as uint64 the way spaCy stores it), from token
    arrays instead of a Token object per token (the loop of `reference_starts`, same flags)."""
    text = note_text(doc)
    table = doc.to_array([IDX, LENGTH, SPACY, IS_SPACE]).astype(numpy.int64)
    idx, length = table[:, 0], table[:, 1]
    # a token "contains a newline": the token holding each "\n" of the text (spaCy keeps
    # only a single " " as trailing whitespace, so every newline is inside a token)
    newlines = numpy.fromiter((m.start() for m in _NEWLINE.finditer(text)), dtype=numpy.int64)
    has_newline = numpy.zeros(len(doc), dtype=bool)
    if len(newlines):
        holder = numpy.searchsorted(idx, newlines, side="right") - 1
        inside = (holder >= 0) & (newlines < idx[holder] + length[holder])
        if not inside.all():
            return _reference_values(doc)  # not the tokenization this assumes
        has_newline[holder] = True
    ender = numpy.zeros(len(doc), dtype=bool)
    one_char = numpy.flatnonzero(length == 1)
    if len(one_char):
        ender[one_char] = [text[i] in ENDERS for i in idx[one_char].tolist()]
    prev = has_newline[:-1] | (ender[:-1] & (table[:-1, 2] != 0)) | (ender[:-1] & (table[1:, 3] != 0))
    starts = numpy.concatenate(([True], prev))
    return numpy.where(starts, 1, -1).astype("int64").astype("uint64")  # -1 wraps, as spaCy stores it


def _reference_values(doc: Doc) -> numpy.ndarray:
    """The token loop the array version replaces (kept as its reference and fallback)."""
    starts = []
    prev = None
    for token in doc:
        starts.append(prev is None or (
            "\n" in prev.text
            or (prev.text in ENDERS and prev.whitespace_ != "")
            or (prev.text in ENDERS and token.is_space)
        ))  # fmt: skip
        prev = token
    return numpy.array([1 if s else -1 for s in starts], dtype="int64").astype("uint64")
