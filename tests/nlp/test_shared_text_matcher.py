"""The regex matcher DermCoder swaps into medspaCy (nlp/_medspacy.py) finds what medspaCy's own finds."""

from __future__ import annotations

import json
import re

from medspacy.common.regex_matcher import RegexMatcher

from dermcoder.nlp._medspacy import SharedTextRegexMatcher, required_literal, spell_out_token_rules, spelled_out

from tests.conftest import REPO


def test_required_literal_is_a_top_level_run():
    assert required_literal(re.compile(r"\bmothers?'?s? (?:has|had)\b", re.I)) == "mother"
    assert required_literal(re.compile(r"(?:final )?path(?:ology)?", re.I)) == "path"
    assert required_literal(re.compile(r"\b(?:in|since) (?:19|20)\d\d")) is None  # only branches
    assert required_literal(re.compile(r"ab\d")) is None  # too short to be worth a check


def test_shared_text_matcher_equals_medspacys_on_the_corpus(nlp):
    lines = (REPO / "corpus" / "sample" / "notes.jsonl").read_text(encoding="utf-8").splitlines()
    texts = [json.loads(line)["text"] for line in lines[::3] if line.strip()]
    texts += ["Mother has BCC.", "MOTHER HAS melanoma", "Mother\u017f has", "mo ther has", "Sister had SCC (2019)"]
    for owner, attr in ((nlp.get_pipe("derm_context").context, "_ConText__matcher"),
                        (nlp.get_pipe("derm_sections").sectionizer, "_Sectionizer__matcher")):  # fmt: skip
        shared = getattr(owner, attr)._MedspacyMatcher__regex_matcher
        assert type(shared) is SharedTextRegexMatcher
        stock = RegexMatcher.__new__(RegexMatcher)
        stock.__dict__.update({k: v for k, v in shared.__dict__.items() if k != "_dermcoder_literals"})
        for text in texts:
            doc = nlp.make_doc(text)
            assert shared(doc) == stock(doc), text[:80]


def test_shared_text_matcher_scans_each_rule_behind_its_start_filter_with_the_same_matches(nlp):
    """Every regex rule of both matchers, as SharedTextRegexMatcher scans it (start_filtered),
    finds exactly the spans of the rule itself, on every corpus note and its upper/lower case."""
    from dermcoder.nlp.start_filter import start_filtered

    lines = (REPO / "corpus" / "sample" / "notes.jsonl").read_text(encoding="utf-8").splitlines()
    texts = [json.loads(line)["text"] for line in lines if line.strip()]
    texts += [t.upper() for t in texts[:200]] + [t.lower() for t in texts[200:400]]
    texts += ["\u017furgical pathology: BCC", "--- PATH ADDENDUM ---", "Today - procedure: shave"]
    patterns = [p for owner, attr in ((nlp.get_pipe("derm_context").context, "_ConText__matcher"),
                                      (nlp.get_pipe("derm_sections").sectionizer, "_Sectionizer__matcher"))
                for ps in getattr(owner, attr)._MedspacyMatcher__regex_matcher._patterns.values() for p in ps]  # fmt: skip
    filtered = [(p, start_filtered(p)) for p in patterns]
    assert sum(f is not p for p, f in filtered) >= len(patterns) // 2  # most rules do get a filter
    for plain, scan in filtered:
        for text in texts:
            assert [m.span() for m in scan.finditer(text)] == [m.span() for m in plain.finditer(text)], (plain.pattern[:60], text[:60])


def test_spelled_out_patterns_take_each_value_of_a_set():
    assert spelled_out([{"LOWER": {"IN": ["not", "no"]}}, {"ORTH": ":"}]) == [[{"LOWER": "not"}, {"ORTH": ":"}],
                                                                               [{"LOWER": "no"}, {"ORTH": ":"}]]
    assert spelled_out([{"TEXT": {"IN": ["-"]}, "SPACY": True}]) is None  # nothing to spell out
    assert spelled_out([{"LOWER": {"IN": ["a", "b"]}, "OP": "?"}]) is None  # an operator
    assert spelled_out([{"LOWER": {"NOT_IN": ["a", "b"]}}]) is None  # another predicate
    assert spelled_out([{"LENGTH": {"IN": [1, 2]}}]) is None  # not a string attribute


def test_spelled_out_token_rules_find_what_the_stock_rules_find(nlp):
    from medspacy.context import ConText

    from dermcoder.nlp.context import load_context_rules

    lines = (REPO / "corpus" / "sample" / "notes.jsonl").read_text(encoding="utf-8").splitlines()
    texts = [json.loads(line)["text"] for line in lines[::3] if line.strip()]
    texts += ["Not treated: SK. No done : x", "a \u2013 b \u2014 c - d-e -", "NO REMOVED: cyst"]
    ours = nlp.get_pipe("derm_context").context._ConText__matcher
    stock = ConText(nlp, name="stock_context", rules=None, span_attrs=None, input_span_type="group", span_group_name="derm")
    stock.add(load_context_rules())
    stock_matcher = stock._ConText__matcher
    with_sets = [r for r in load_context_rules() if isinstance(r.pattern, list) and spelled_out(r.pattern)]
    assert with_sets and spell_out_token_rules(stock_matcher) == len(with_sets)
    stock = ConText(nlp, name="stock_context2", rules=None, span_attrs=None, input_span_type="group", span_group_name="derm")
    stock.add(load_context_rules())
    reference = stock._ConText__matcher
    for text in texts:
        doc = nlp.make_doc(text)
        doc.user_data["dermcoder.note_text"] = text
        found = ours(doc)
        assert found == reference(doc) == stock_matcher(doc), text[:80]
