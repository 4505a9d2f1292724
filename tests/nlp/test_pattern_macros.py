"""Shared pattern pieces: put into each resource's patterns, unknown names refused."""

import json

import pytest

from dermcoder.nlp.pattern_macros import expand_json_text, read_resource


def test_a_piece_is_put_in_with_json_escaping():
    raw = json.dumps({"p": r"\bbiopsied {{TIME_AGO}}\b"})
    out = json.loads(expand_json_text(raw, {"TIME_AGO": r"\d+ (?:days?|wks?) ago"}, "x.json"))
    assert out["p"] == r"\bbiopsied \d+ (?:days?|wks?) ago\b"


def test_an_unknown_piece_is_refused():
    with pytest.raises(ValueError, match="NOPE"):
        expand_json_text('{"p": "{{NOPE}}"}', {}, "x.json")


def test_packaged_resources_use_the_time_piece_and_load_it():
    from dermcoder.nlp.lexicons import resources_dir

    rules = read_resource(resources_dir(), "context_rules.json")["context_rules"]
    patterns = [r["pattern"] for r in rules if "pattern" in r and "ago" in r["pattern"]]
    assert patterns and not any("{{" in p for p in patterns)


def test_a_time_ago_biopsy_is_a_prior_biopsy(nlp):
    from dermcoder.nlp.frames import mentions_from_doc

    doc = nlp("SCC of the left hand, biopsied three weeks ago. Excision today.")
    (m,) = [m for m in mentions_from_doc(doc) if m.text == "biopsied"]
    assert m.canonical == "prior_biopsy"
