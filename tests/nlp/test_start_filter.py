"""start_filtered patterns (nlp/start_filter.py) find exactly what their plain forms find."""

from __future__ import annotations

import json
import re

import pytest

from dermcoder.nlp.start_filter import start_filtered

from tests.conftest import REPO


def _texts() -> list[str]:
    corpus = REPO / "corpus" / "sample" / "notes.jsonl"
    texts = [json.loads(line)["text"] for line in corpus.read_text(encoding="utf-8").splitlines() if line.strip()]
    tricky = ["ſeparately identifiable E/M", "\u212aeloids x 3; ſelf-pay", "\u0663 lesions treated, total \u0663",
              "MODIFIER-25; SEPARATE E&M", "cosmetic, ﬁve AKs x 4 (n=4) total: four", "no cosmetic. non-cosmetic"]  # fmt: skip
    return texts + tricky + [t.upper() for t in texts[:100]] + [t.lower() for t in texts[100:200]]


def _filtered() -> list[tuple[str, re.Pattern, re.Pattern]]:
    from dermcoder.coding import cosmetic, sessions
    from dermcoder.nlp import counts

    pairs = [(f"counts[{i}]", rx, start_filtered(rx)) for i, (rx, _g, _r) in enumerate(counts._SCANS)]
    pairs += [(name, getattr(sessions, name), getattr(sessions, "_" + name))
              for name in ("EM_SEPARATE", "EM_ONLY", "NOT_SEPARATE", "MDM")]  # fmt: skip
    return pairs + [("COSMETIC", cosmetic.COSMETIC, cosmetic._COSMETIC)]


@pytest.mark.parametrize(("name", "plain", "filtered"), _filtered(), ids=lambda x: x if isinstance(x, str) else "")
def test_filtered_patterns_match_exactly_as_the_plain_ones(name, plain, filtered):
    for text in _texts():
        got = [(m.span(), m.groups()) for m in filtered.finditer(text)]
        assert got == [(m.span(), m.groups()) for m in plain.finditer(text)], (name, text[:60])


@pytest.mark.parametrize(
    ("pattern", "flags", "text"),
    [(r"\d+ lesions", 0, "\u0663 lesions"),  # a non-ASCII digit
     (r"kelvin", re.IGNORECASE, "\u212aelvin"),  # case folding to a non-ASCII letter
     (r"(?<!no )\bcosmetic|self-pay", re.IGNORECASE, "SELF-PAY, no cosmetic, cosmetic"),
     (r"(a)|(b)", 0, "xbxa")],  # group numbers unchanged
)  # fmt: skip
def test_start_filter_keeps_every_match(pattern, flags, text):
    plain = re.compile(pattern, flags)
    filtered = start_filtered(plain)
    assert filtered is not plain
    assert [(m.span(), m.groups()) for m in filtered.finditer(text)] == [(m.span(), m.groups()) for m in plain.finditer(text)]
    assert list(plain.finditer(text))


@pytest.mark.parametrize("pattern", [r"x?", r"[^a]b", r"(?im)^a", r".b"])
def test_start_filter_leaves_uncertain_patterns_alone(pattern):
    plain = re.compile(pattern)
    assert start_filtered(plain) is plain
