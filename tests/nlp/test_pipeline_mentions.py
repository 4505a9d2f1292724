"""The engine's mentions (kept by derm_frames) equal a fresh read of the spans."""

from __future__ import annotations

import json

from dermcoder.nlp.frames import MENTION_FIELDS_KEY, mentions_from_doc, pipeline_mentions

from tests.conftest import REPO


def test_pipeline_mentions_equal_mentions_from_doc_and_are_new_objects(nlp):
    lines = (REPO / "corpus" / "sample" / "notes.jsonl").read_text(encoding="utf-8").splitlines()
    for line in lines[::9]:
        doc = nlp(json.loads(line)["text"])
        assert MENTION_FIELDS_KEY in doc.user_data
        kept, fresh = pipeline_mentions(doc), mentions_from_doc(doc)
        assert kept == fresh
        assert all(m.block is None for m in kept)  # the frame builder's `block` stays on its own objects
        in_frames = {id(m) for f in doc._.frames for m in f.procedures + f.sites + f.sizes}
        assert not in_frames & {id(m) for m in kept}
        if kept:
            kept[0].context.append("negated")  # a caller's change does not leak into the next call
            assert pipeline_mentions(doc)[0].context == fresh[0].context


def test_pipeline_mentions_read_the_spans_without_derm_frames(nlp):
    doc = nlp.make_doc("Shave biopsy of the left cheek.")
    for name, proc in nlp.pipeline:
        if name != "derm_frames":
            doc = proc(doc)
    assert MENTION_FIELDS_KEY not in doc.user_data
    assert pipeline_mentions(doc) == mentions_from_doc(doc) != []
