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
    from dermcoder.coding import diagnoses
    from dermcoder.nlp import context, frames, measurements, sites

    pairs += [("MEASURE", measurements.MEASURE, measurements._MEASURE_SCAN),
              ("SURVEILLANCE", diagnoses.SURVEILLANCE, diagnoses._SURVEILLANCE),
              ("LATERALITY_WORDS", sites.LATERALITY_WORDS, sites._LATERALITY_WORDS), ("LR_SHORT", sites.LR_SHORT, sites._LR_SHORT),
              ("VISIT_DATE", context.VISIT_DATE, context._VISIT_DATE), ("LAB_NUMBERS", frames.LAB_NUMBERS, frames._LAB_NUMBERS)]  # fmt: skip
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
     (r"(a)|(b)", 0, "xbxa"),  # group numbers unchanged
     (r"(?im)^a", 0, "a\nba\nA"),  # leading global flags stay in front of the look-ahead
     (r"(?i)(?:-{2,}[ \t]*)?(?:final )?path(?:ology)?\b[^\n:]{0,60}?:", 0, "-- FINAL PATHOLOGY: x\nſurgical path: y")],
)  # fmt: skip
def test_start_filter_keeps_every_match(pattern, flags, text):
    plain = re.compile(pattern, flags)
    filtered = start_filtered(plain)
    assert filtered is not plain
    assert [(m.span(), m.groups()) for m in filtered.finditer(text)] == [(m.span(), m.groups()) for m in plain.finditer(text)]
    assert list(plain.finditer(text))


@pytest.mark.parametrize("pattern", [r"x?", r"[^a]b", r"(?im)^.", r".b"])
def test_start_filter_leaves_uncertain_patterns_alone(pattern):
    plain = re.compile(pattern)
    assert start_filtered(plain) is plain


# ---- the required-word gate ------------------------------------------------------------------


def _gated() -> list[tuple[str, re.Pattern, object]]:
    from dermcoder.coding import cosmetic, no_charge, sessions
    from dermcoder.nlp import context, counts, frames

    plain = (counts.EACH_OF, counts.TOTAL, counts.TOTAL_AFTER, counts.DONE_AFTER, counts.BEFORE_NOUN, counts.AFTER_NOUN,
             counts.AFTER_NOUN_COMMA, counts.SITE_COUNT, counts.AFTER_METHOD, counts.SIDE_SPLIT)  # fmt: skip
    pairs = [(f"counts[{i}]", rx, gated) for i, (rx, (gated, _g, _r)) in enumerate(zip(plain, counts._SCANS, strict=True))]
    pairs += [(name, getattr(sessions, name), getattr(sessions, "_" + name)) for name in ("EM_SEPARATE", "EM_ONLY", "NOT_SEPARATE", "MDM")]
    pairs += [(f"CORRECTIONS[{i}]", rx, gated) for i, (rx, gated) in enumerate(zip(context.CORRECTIONS, context._CORRECTIONS, strict=True))]
    pairs += [("STALE_HEADER", context.STALE_HEADER, context._STALE_HEADER), ("CONTAINER", frames.CONTAINER, frames._CONTAINER)]
    return pairs + [("COSMETIC", cosmetic.COSMETIC, cosmetic._COSMETIC), ("NO_CHARGE", no_charge.NO_CHARGE, no_charge._NO_CHARGE)]


@pytest.mark.parametrize(("name", "plain", "gated"), _gated(), ids=lambda x: x if isinstance(x, str) else "")
def test_gated_patterns_match_exactly_as_the_plain_ones(name, plain, gated):
    for text in _texts():
        got = [(m.span(), m.groups()) for m in gated.finditer(text)]
        assert got == [(m.span(), m.groups()) for m in plain.finditer(text)], (name, text[:60])
        first = gated.search(text, 5)
        expected = plain.search(text, 5)
        assert (first.span() if first else None) == (expected.span() if expected else None), (name, text[:60])


def test_the_gates_are_in_place():
    from dermcoder.coding import cosmetic, no_charge, sessions
    from dermcoder.nlp import counts
    from dermcoder.nlp.start_filter import WordGated

    gated = [rx for rx, _g, _r in counts._SCANS] + [sessions._EM_SEPARATE, cosmetic._COSMETIC, no_charge._NO_CHARGE]
    assert sum(isinstance(rx, WordGated) for rx in gated) >= 6


@pytest.mark.parametrize(
    ("pattern", "words"),
    [(r"\bmothers?'?s? (?:has|had)", ("mother",)),
     (r"(?:revised|updated) from\b", ("revised", "updated")),  # the set whose shortest word is longest
     (r"(?:ab)?cd", ("cd",)), (r"x(?:yz)+", ("yz",)), (r"[ab]cd", ("cd",)), ("abc\u00e9", ("abc",)),
     (r"(?i)NO CHARGE|post-op visit", ("no charge", "post-op visit")),
     (r"(?:a|bc)d", None), (r"ab|c", None), (r"(?:ab){0,2}", None), (r"(?=abc)d", None), (r"\d+", None)],
)  # fmt: skip
def test_required_words(pattern, words):
    from dermcoder.nlp.start_filter import required_words

    assert required_words(pattern) == words


@pytest.mark.parametrize(
    ("pattern", "flags", "text"),
    [(r"kelvin", re.IGNORECASE, "\u212aelvin"),  # non-ASCII text: the pattern runs as before
     (r"self-pay|cosmetic", re.IGNORECASE, "SELF-PAY, Cosmetic"),
     (r"LN2 x\d", 0, "ln2 x3, LN2 x4"),  # a case-sensitive literal: the lowercased test only lets more through
     (r"no charge", re.IGNORECASE, "nothing here")],
)  # fmt: skip
def test_gate_keeps_every_match(pattern, flags, text):
    from dermcoder.nlp.start_filter import WordGated, word_gated

    plain = re.compile(pattern, flags)
    gated = word_gated(plain)
    assert isinstance(gated, WordGated)
    assert [m.span() for m in gated.finditer(text)] == [m.span() for m in plain.finditer(text)]
    assert gated.findall(text) == plain.findall(text)
    assert (gated.match(text) is None) == (plain.match(text) is None)
    assert gated.pattern == plain.pattern and gated.flags == plain.flags


def test_the_start_filters_of_the_whole_note_scans_are_in_place():
    """Each scan listed in _filtered does run behind a look-ahead (else it would gain nothing)."""
    for name, plain, filtered in _filtered():
        if name.startswith("counts["):
            continue  # some count patterns have no certain first characters
        assert filtered is not plain and filtered.pattern.startswith(("(?=", "(?i)(?=")), name


def test_measurement_roles_are_the_same_behind_the_start_filters(monkeypatch):
    """measurement_role reads its role cues through start-filtered patterns: the role of every
    measurement of the corpus (and of its upper-case copy) is the one the plain patterns give."""
    from dermcoder.nlp import measurements as m

    assert all(f is not p and f.pattern.startswith("(?=") for (_r, p), (_s, f) in zip(m._BEFORE_PLAIN, m._BEFORE))
    calls = []
    for text in _texts():
        for hit in m._MEASURE_SCAN.finditer(text):
            calls.append((text, hit.start(), hit.end(), m.parse_measure(hit)[2]))
    assert len(calls) > 2000
    filtered = [m.measurement_role(*c) for c in calls]
    monkeypatch.setattr(m, "_BEFORE", m._BEFORE_PLAIN)
    assert filtered == [m.measurement_role(*c) for c in calls]


@pytest.mark.parametrize(
    "text",
    ["Actinic keratoses, five: forehead two, scalp three", "dorsal hands, bilateral (2 R, 1 L)", "warts; 3 right, 2 left)",
     "AKS, 12, scalp", "lesions,\t4 :", "no counts here at all", "(2 r; 1 l)", "Lesions, 2.5 cm"],
)  # fmt: skip
def test_regex_gated_count_scans_find_what_the_plain_patterns_find(text):
    from dermcoder.nlp import counts
    from dermcoder.nlp.start_filter import RegexGated

    gated = {rx: scan for rx, (scan, _g, _r) in zip((counts.AFTER_NOUN_COMMA, counts.SIDE_SPLIT), (counts._SCANS[6], counts._SCANS[9]))}
    for plain, scan in gated.items():
        assert isinstance(scan, RegexGated)
        assert [(m.span(), m.groups()) for m in scan.finditer(text)] == [(m.span(), m.groups()) for m in plain.finditer(text)]
        # the gate finds something wherever the pattern does (it is a part of every match)
        assert scan.gate.search(text) is not None or plain.search(text) is None


def test_the_abbreviation_hint_lets_every_definition_through():
    """The cheap hint in front of the abbreviation-definition scan never hides a definition."""
    from dermcoder.nlp.findings import ABBREVIATION_DEFINED, ABBREVIATION_HINT

    for text in _texts() + ["ILC = intermediate layered closure", "complex layered closure (CLC) 5 cm", "EDC (electrodesiccation and curettage)"]:
        if ABBREVIATION_HINT.search(text) is None:
            assert list(ABBREVIATION_DEFINED.finditer(text)) == [], text[:80]
