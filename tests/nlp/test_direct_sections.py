"""The sectionizer that writes token stamps directly equals medspaCy's own, on the corpus."""

from __future__ import annotations

import json

# DermCoder's span extensions must be declared before medspaCy's import declares its own
# `Span._.section` (a getter): the pipeline's import order. Importing medspaCy first here
# would change `span._.section` for every later test of the session.
from dermcoder.nlp import _extensions  # noqa: F401, I001
from dermcoder.nlp._medspacy import DirectTokenSectionizer, token_keys_match
from medspacy.section_detection import Sectionizer

from tests.conftest import REPO


def _section_state(doc) -> tuple:
    def key(section):
        return (section.category, section.title_start, section.title_end, section.body_start, section.body_end)

    stamps = {k: key(v) for k, v in doc.user_data.items() if isinstance(k, tuple) and k[:2] == ("._.", "section")}
    return [key(s) for s in doc._.sections], stamps, [t.is_sent_start for t in doc]


def test_direct_sectionizer_equals_medspacy(nlp):
    tagger = dict(nlp.pipeline)["derm_sections"]
    fast = tagger.sectionizer
    assert type(fast) is DirectTokenSectionizer  # swapped in by the pipeline
    lines = (REPO / "corpus" / "sample" / "notes.jsonl").read_text(encoding="utf-8").splitlines()
    texts = [json.loads(line)["text"] for line in lines[::5]] + ["", "no headers at all", "Plan:\nfollow up"]
    compared = 0
    for text in texts:
        a, b = nlp.make_doc(text), nlp.make_doc(text)
        fast(a)
        Sectionizer.__call__(fast, b)  # medspaCy's own code on the same instance and rules
        assert _section_state(a) == _section_state(b), text[:80]
        compared += len(a) > 0
    assert compared > 50


def test_token_key_probe(nlp):
    doc = nlp.make_doc("Plan: probe")
    doc.user_data["kept"] = 1
    assert token_keys_match(doc) and doc.user_data == {"kept": 1}
    assert not token_keys_match(nlp.make_doc(""))
