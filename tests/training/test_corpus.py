"""The labeled corpus: the real one passes every check; each kind of error is caught."""

import json
from pathlib import Path

from dermcoder.training.corpus import assign_splits, check_corpus
from dermcoder.training.markup import convert_record, unmark

CORPUS = Path(__file__).parent.parent.parent / "corpus" / "sample" / "notes.jsonl"


def test_corpus_real_corpus_passes_with_coverage(cli):
    result = cli("corpus", "check", str(CORPUS))
    assert result.returncode == 0, result.stderr.decode()[-2000:]
    assert b"Coverage targets" in result.stdout


def test_corpus_check_counts(tables):
    result = check_corpus(CORPUS)
    assert result.problems == []
    assert result.written >= 300 and result.annotated >= 120
    assert result.by_split.get("test", 0) / result.written >= 0.25


def _note(**over):
    base = {"id": "x1", "text": "Shave biopsy left arm.", "cpt": [{"code": "11102", "units": 1, "modifiers": []}],
            "icd10": ["D49.2"], "split": "train", "style": "terse", "rationale": "r", "traps": [],
            "entities": [{"start": 0, "end": 12, "label": "PROCEDURE", "text": "Shave biopsy"}]}  # fmt: skip
    base.update(over)
    return base


def test_corpus_each_error_is_reported(tmp_path):
    bad = [
        _note(id="dup"), _note(id="dup"),
        _note(id="code", cpt=[{"code": "11109", "units": 1}]),
        _note(id="units", cpt=[{"code": "17004", "units": 2}]),
        _note(id="addon", cpt=[{"code": "11102", "units": 1}, {"code": "11103", "units": 1, "modifiers": ["XS"]}]),
        _note(id="icd", icd10=["C44.1"]),
        _note(id="span", entities=[{"start": 0, "end": 5, "label": "PROCEDURE", "text": "Punch"}]),
        _note(id="pair", cpt=[{"code": "17004", "units": 1}, {"code": "17000", "units": 1}]),
        _note(id="gen", source="generated", split="test"),
    ]
    path = tmp_path / "c.jsonl"
    path.write_text("".join(json.dumps(n) + "\n" for n in bad) + "{not json\n")
    problems = "\n".join(check_corpus(path, targets=False).problems)
    for expected in ("duplicate id", "11109: code not in the code tables", "must carry 1 unit", "modifier XS on an add-on code",
                     "C44.1 is a category", "!= note[0:5]", "never go together", "generated notes may only be in train",
                     ":10: not valid JSON"):  # fmt: skip
        assert expected in problems, expected


def test_corpus_targets_fail_on_a_small_corpus(tmp_path):
    path = tmp_path / "c.jsonl"
    path.write_text(json.dumps(_note()) + "\n")
    problems = check_corpus(path).problems
    assert any("written notes is 1, below the minimum 300" in p for p in problems)


def test_corpus_split_keeps_existing_and_stratifies(tmp_path):
    notes = [_note(id=f"n{i}", split=None) for i in range(20)] + [_note(id="fixed", split="test")]
    path = tmp_path / "c.jsonl"
    path.write_text("".join(json.dumps(n) + "\n" for n in notes))
    counts = assign_splits(path, seed=1)
    out = {json.loads(line)["id"]: json.loads(line)["split"] for line in path.read_text().splitlines()}
    assert out["fixed"] == "test" and sum(counts.values()) == 21
    assert counts["test"] >= 6 and counts["dev"] >= 4
    assert assign_splits(path, seed=99) == counts  # nothing left to assign: nothing moves


def test_corpus_split_pools_families_too_small_to_split(tmp_path):
    """One new note of each of ten families: alone each would go to train; pooled, they share out."""
    families = [("11102", "D49.2"), ("11300", "L82.1"), ("11400", "D22.5"), ("11600", "C44.519"), ("17000", "L57.0"),
                ("17110", "B07.8"), ("10060", "L02.411"), ("11900", "L91.0"), ("11730", "L60.0"), ("17311", "C44.319")]
    notes = [_note(id=f"n{i}", split=None, cpt=[{"code": c, "units": 1, "modifiers": []}], icd10=[d]) for i, (c, d) in enumerate(families)]
    path = tmp_path / "c.jsonl"
    path.write_text("".join(json.dumps(n) + "\n" for n in notes))
    counts = assign_splits(path, seed=1)
    assert counts.get("test", 0) == 3 and counts.get("dev", 0) == 2 and counts["train"] == 5


def test_corpus_markup_offsets_exact():
    text, ents = unmark("Excision of [[BCC|HISTOLOGY]] [[left|LATERALITY]] [[nasal ala|SITE]], [[0.9 cm|SIZE]].")
    assert text == "Excision of BCC left nasal ala, 0.9 cm."
    assert [(text[e["start"] : e["end"]], e["label"]) for e in ents] == [("BCC", "HISTOLOGY"), ("left", "LATERALITY"), ("nasal ala", "SITE"), ("0.9 cm", "SIZE")]
    rec = convert_record({"id": "a", "marked": "[[LN2|PROCEDURE]] x3", "cpt": [], "icd10": []})
    assert rec["text"] == "LN2 x3" and rec["source"] == "written"
