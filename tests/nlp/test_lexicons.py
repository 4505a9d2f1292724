"""The lexicon scanner's first-character pre-filter changes speed, never matches."""

from __future__ import annotations

import dataclasses
import json
import re

import pytest

from dermcoder.nlp.lexicons import first_ascii_chars, load_lexicons
from tests.conftest import REPO

LEXICONS = ("sites", "histology", "histology_cs", "procedures", "procedures_cs", "repairs")


@pytest.mark.parametrize(
    "pattern, flags, expected",
    [
        ("abc", 0, {"a"}),
        ("Abc", re.IGNORECASE, {"a", "A"}),
        ("(?:a|B)c", re.IGNORECASE, {"a", "A", "b", "B"}),
        ("[a-c]x", 0, {"a", "b", "c"}),
        (r"\bfoo", 0, {"f"}),
        ("(?:bx)+ proven", 0, {"b"}),
        (r"\d+ cm", 0, set("0123456789")),
        ("x?y", 0, {"x", "y"}),  # optional first item: the next one may start the match
        ("(?:new )?growths", re.IGNORECASE, {"n", "N", "g", "G"}),
        ("(?-i:PWS)", re.IGNORECASE, {"P"}),
        ("(?<!hair )clipped", re.IGNORECASE, {"c", "C"}),
        ("x?", 0, None),  # may match nothing
        ("é", re.IGNORECASE, None),  # non-ASCII
        ("[^a]b", 0, None),
    ],
)
def test_lexicons_first_ascii_chars(pattern, flags, expected):
    got = first_ascii_chars(pattern, flags)
    assert (None if got is None else set(got)) == expected


def _texts() -> list[str]:
    corpus = REPO / "corpus" / "sample" / "notes.jsonl"
    texts = [json.loads(line)["text"] for line in corpus.read_text(encoding="utf-8").splitlines() if line.strip()]
    tricky = ["EXCISION OF BCC, LEFT NASAL ALA; SCC IN SITU R CHEEK", "ſhave biopsy of the ſcalp", "Kelvin \u212aeloid",
              "\u00c9xcision of nevus, \u00e9paule gauche", "shave bx-proven BCC, L forearm"]  # fmt: skip
    return texts + tricky + [t.upper() for t in texts[:40]]


@pytest.mark.parametrize("name", LEXICONS)
def test_lexicons_prefilter_finds_exactly_what_trying_every_form_finds(name):
    lexicon = getattr(load_lexicons(), name)
    assert lexicon.by_first is not None
    unfiltered = dataclasses.replace(lexicon, by_first=None, starts=None)
    for text in _texts():
        assert list(lexicon.finditer(text)) == list(unfiltered.finditer(text)), text[:60]


def test_lexicons_report_every_bad_pattern_including_supporting_words(tmp_path):
    from dermcoder.nlp.lexicons import resources_dir, validate_lexicons

    for name in ("site_lexicon.json", "findings_lexicon.json", "shared_patterns.json"):
        (tmp_path / name).write_text((resources_dir() / name).read_text(encoding="utf-8"), encoding="utf-8")
    findings = json.loads((tmp_path / "findings_lexicon.json").read_text(encoding="utf-8"))
    findings["supporting_words"].append("ellipse(")
    (tmp_path / "findings_lexicon.json").write_text(json.dumps(findings), encoding="utf-8")
    lexicons, problems = validate_lexicons(tmp_path)
    assert lexicons is None
    assert any("supporting_words" in p and "ellipse(" in p for p in problems)


def test_lexicons_carry_the_near_miss_vocabularies():
    lex = load_lexicons()
    assert lex.site_typos.lookup("shouldr") == ("SITE", "shoulder")
    assert lex.finding_typos.lookup("exicision")[0] == "PROCEDURE"
