"""Adding entity spans to `doc.spans["derm"]` with their exact character offsets."""

from __future__ import annotations

from spacy.tokens import Doc, Span

from dermcoder.nlp._extensions import SPAN_GROUP, note_text, writable_directly


def add_span(doc: Doc, start: int, end: int, label: str, **attrs) -> Span | None:
    """Add an entity for text[start:end]; token-aligned outward, exact offsets kept in `_`."""
    span = doc.char_span(start, end, label=label, alignment_mode="expand")
    if span is None or len(span) == 0:
        return None
    if writable_directly(("char_start", "char_end", *attrs)):
        # where `span._.key = value` would put them (nlp/_extensions.py), without an accessor
        # object and a __setattr__ per value
        data, a, b = doc.user_data, span.start_char, span.end_char
        data[("._.", "char_start", a, b)] = start
        data[("._.", "char_end", a, b)] = end
        for key, value in attrs.items():
            data[("._.", key, a, b)] = value
    else:
        u = span._  # each `span._` builds a new accessor object: take it once
        u.char_start = start
        u.char_end = end
        for key, value in attrs.items():
            setattr(u, key, value)
    if SPAN_GROUP not in doc.spans:
        doc.spans[SPAN_GROUP] = []
    doc.spans[SPAN_GROUP].append(span)
    return span


def entity_text(doc: Doc, span: Span) -> str:
    """The exact note text of an entity (never the token-expanded span text)."""
    return note_text(doc)[span._.char_start : span._.char_end]
