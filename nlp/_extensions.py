"""Every custom `Doc._` / `Span._` attribute DermCoder sets, declared in one place.

Entities live in the span group `doc.spans["derm"]` (they may overlap: a SIZE inside a
MARGIN phrase, a SITE inside a PROCEDURE phrase). spaCy spans are token-aligned, so
each entity also keeps the exact character offsets it was matched at: evidence is cut
from those, which guarantees `text == note[start:end]`.
"""

from __future__ import annotations

from functools import lru_cache

from spacy.tokens import Doc, Span

SPAN_GROUP = "derm"

SPAN_EXTENSIONS = {
    "char_start": None,  # exact start offset of the matched text in the note
    "char_end": None,  # exact end offset
    "canonical": None,  # normalized concept: "bcc", "nose", "biopsy_punch", "left", ...
    "value": None,  # normalized number (cm, sq cm, count) or list of numbers (dimensions)
    "role": None,  # what a measurement measures: lesion, margin, repair_length, defect, area, ...
    "section": None,  # section category the mention sits in
    "cue": None,  # the text of the context cue that modified it (why it is suppressed)
    "context": None,  # list of context categories: negated, historical, hypothetical, ...
}
# One boolean per context category, set by medspaCy ConText (nlp/context.py).
CONTEXT_FLAGS = ("ctx_negated", "ctx_uncertain", "ctx_historical", "ctx_hypothetical", "ctx_family", "ctx_declined",
                 "ctx_cancelled", "ctx_copied_forward")  # fmt: skip
DOC_EXTENSIONS = {
    "frames": None,  # list[LesionFrame] built by derm_frames
    "derm_sections": None,  # list of (start_char, end_char, category)
}


# `doc.text` is rebuilt from the tokens on every access (a Python loop over the doc);
# profiling showed it called ~30 times per note. The text is fixed once tokenized, so it
# is kept here, in `doc.user_data`, on first use.
NOTE_TEXT_KEY = "dermcoder.note_text"


def note_text(doc: Doc) -> str:
    """`doc.text`, computed once per Doc."""
    text = doc.user_data.get(NOTE_TEXT_KEY)
    if text is None:
        text = doc.user_data[NOTE_TEXT_KEY] = doc.text
    return text


def make_doc(nlp, text: str) -> Doc:
    """`nlp.make_doc(text)` with `note_text` known from the start: spaCy's tokenizer is
    non-destructive (`doc.text == text`), so the string need not be rebuilt from the tokens
    (~0.2 ms of a typical note)."""
    doc = nlp.make_doc(text)
    doc.user_data[NOTE_TEXT_KEY] = text
    return doc


# ---- reading and writing our Span extensions straight in doc.user_data -------------------
# `span._` builds an accessor object, and each attribute read goes through __getattr__:
# profiling put these at ~0.5 ms per note (a dozen reads per entity). For an extension with
# a plain default (no getter, setter or method), spaCy 3.7 stores `span._.name = v` as
# `doc.user_data[("._.", name, span.start_char, span.end_char)] = v` and reads the default
# when the key is absent. `direct_span_data` checks both on the doc's first span before a
# caller relies on it; anything else (another spaCy, a getter registered by a library
# imported first) keeps the accessor path.


def span_key(name: str, span: Span) -> tuple:
    return ("._.", name, span.start_char, span.end_char)


def direct_span_data(doc: Doc, spans, names=("char_start", "char_end")) -> bool:
    """True when `names` (default-valued Span extensions) can be read and written in user_data."""
    for name in names:
        ext = Span.get_extension(name)
        if ext is None or ext[1:] != (None, None, None):
            return False
    for span in spans:  # the first span: the accessor and the key must agree
        key = span_key("char_start", span)
        return key in doc.user_data and span._.char_start == doc.user_data[key]
    return True


def char_range(doc: Doc, span: Span, direct: bool) -> tuple[int, int]:
    """(span._.char_start, span._.char_end); from user_data when `direct` (direct_span_data said so)."""
    if direct:
        get, a, b = doc.user_data.get, span.start_char, span.end_char
        return get(("._.", "char_start", a, b)), get(("._.", "char_end", a, b))
    u = span._
    return u.char_start, u.char_end


@lru_cache(maxsize=1)
def span_keys_stored_as_expected() -> bool:
    """True when `span._.name = v` stores `user_data[span_key(name, span)] = v` on this spaCy
    (probed once per process on a scratch Doc with a scratch extension)."""
    from spacy.vocab import Vocab

    name = "_dermcoder_key_probe"
    if Span.has_extension(name):
        return False  # not ours to touch
    try:
        Span.set_extension(name, default=None)
        doc = Doc(Vocab(), words=["a", "b", "c"])
        span = doc[1:3]
        marker = object()
        setattr(span._, name, marker)
        return doc.user_data == {span_key(name, span): marker}
    except Exception:  # noqa: BLE001 - any surprise means: keep the accessor
        return False
    finally:
        if Span.has_extension(name):
            Span.remove_extension(name)


def writable_directly(names) -> bool:
    """`names` are plain default-valued Span extensions (no getter, setter or method) and spaCy's key checks out."""
    for name in names:
        ext = Span.get_extension(name)
        if ext is None or ext[1:] != (None, None, None):
            return False
    return span_keys_stored_as_expected()


def register_extensions() -> None:
    """Declare the extensions (idempotent: spaCy keeps one registry per process)."""
    for name, default in SPAN_EXTENSIONS.items():
        if not Span.has_extension(name):
            Span.set_extension(name, default=default)
    for name in CONTEXT_FLAGS:
        if not Span.has_extension(name):
            Span.set_extension(name, default=False)
    for name, default in DOC_EXTENSIONS.items():
        if not Doc.has_extension(name):
            Doc.set_extension(name, default=default)


register_extensions()
