"""The array-based sentence helpers equal the per-token loops they replace."""

from __future__ import annotations

import spacy

from dermcoder.nlp.context import sentence_index
from dermcoder.nlp.frames import sentence_starts

from tests.conftest import REPO


def _plain_starts(doc) -> list[int]:
    return [t.idx for t in doc if t.is_sent_start] or [0]


def _plain_index(doc):
    sent_of, sent_text, k = [], {}, -1
    for t in doc:
        if t.is_sent_start or k < 0:
            k += 1
            sent_text[k] = (t.i, t.i)
        sent_of.append(k)
        sent_text[k] = (sent_text[k][0], t.i + 1)
    return sent_of, sent_text


def _docs(nlp):
    import json

    lines = (REPO / "corpus" / "sample" / "notes.jsonl").read_text(encoding="utf-8").splitlines()
    texts = [json.loads(line)["text"] for line in lines[::7] if line.strip()]
    yield from (nlp(t) for t in texts + ["", "x", "A. b\n\nC", "\n\n  \n"])
    blank = spacy.blank("en")  # no sentence flags at all
    yield from (blank(t) for t in ("", "one", "no sentences here. at all"))
    rule = spacy.blank("en")
    rule.add_pipe("sentencizer")
    yield rule("One. Two. Three")


def test_sentence_starts_equal_the_token_loop(nlp):
    for doc in _docs(nlp):
        assert sentence_starts(doc) == _plain_starts(doc), doc.text[:80]


def test_sentence_index_equals_the_token_loop(nlp):
    for doc in _docs(nlp):
        assert sentence_index(doc) == _plain_index(doc), doc.text[:80]


def test_sentence_flags_from_arrays_equal_the_token_loop(nlp):
    """derm_sentences' array version (sentence_start_values) sets the flags of its token loop."""
    import json

    import numpy

    from dermcoder.nlp.sentences import _reference_values, sentence_start_values

    lines = (REPO / "corpus" / "sample" / "notes.jsonl").read_text(encoding="utf-8").splitlines()
    texts = [json.loads(line)["text"] for line in lines[::5] if line.strip()]
    odd = ["a.\n\nb; c", ". ; ;\n", "x\r\ny. z", "Hi!  \n  there?\tok", "\n", "end.", "a .b. c;d ;  e", "tab\t.\t;x",
           "\U0001f642. ok;\u00a0x", "a\u2028b. c", "x"]  # fmt: skip
    for text in texts + odd:
        doc = nlp.make_doc(text)
        assert numpy.array_equal(sentence_start_values(doc), _reference_values(doc)), text[:80]
