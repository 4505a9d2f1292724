"""Merging gold context labels into the corpus: attached to the right entity or refused whole."""

from __future__ import annotations

import json

from dermcoder.training.context_labels import merge_context_labels

NOTE = {"id": "n1", "text": "h/o BCC nose. Shave biopsy today.", "cpt": [], "icd10": [],
        "entities": [{"start": 4, "end": 7, "label": "HISTOLOGY", "text": "BCC"},
                     {"start": 14, "end": 26, "label": "PROCEDURE", "text": "Shave biopsy"}]}  # fmt: skip


def _write(tmp_path, labels):
    corpus = tmp_path / "notes.jsonl"
    corpus.write_text(json.dumps(NOTE) + "\n")
    lab = tmp_path / "ctx.jsonl"
    lab.write_text(json.dumps({"id": "n1", "context": labels}) + "\n")
    return corpus, lab


def test_labels_attach_to_their_entities(tmp_path):
    corpus, lab = _write(tmp_path, [
        {"start": 4, "end": 7, "label": "HISTOLOGY", "text": "BCC", "status": "historical", "cue": "h/o"},
        {"start": 14, "end": 26, "label": "PROCEDURE", "text": "Shave biopsy", "status": "current", "cue": ""}])  # fmt: skip
    assert merge_context_labels(corpus, [lab]) == (2, [])
    ents = json.loads(corpus.read_text())["entities"]
    assert ents[0]["context"] == "historical" and ents[0]["context_cue"] == "h/o"
    assert ents[1]["context"] == "current" and "context_cue" not in ents[1]


def test_a_stale_label_refuses_the_whole_merge(tmp_path):
    corpus, lab = _write(tmp_path, [
        {"start": 4, "end": 7, "label": "HISTOLOGY", "text": "BCC", "status": "historical", "cue": "h/o"},
        {"start": 13, "end": 26, "label": "PROCEDURE", "text": " Shave biopsy", "status": "current", "cue": ""}])  # fmt: skip
    before = corpus.read_text()
    n, problems = merge_context_labels(corpus, [lab])
    assert n == 0 and len(problems) == 1 and "Shave biopsy" in problems[0]
    assert corpus.read_text() == before


def test_unknown_status_is_refused(tmp_path):
    corpus, lab = _write(tmp_path, [{"start": 4, "end": 7, "label": "HISTOLOGY", "text": "BCC", "status": "past", "cue": ""}])
    assert merge_context_labels(corpus, [lab])[0] == 0


def test_cli_reports_refused_labels_in_one_line_each(cli, tmp_path):
    corpus, lab = _write(tmp_path, [{"start": 0, "end": 3, "label": "HISTOLOGY", "text": "h/o", "status": "current", "cue": ""}])
    result = cli("corpus", "context", str(lab), "--corpus", str(corpus))
    assert result.returncode == 2 and b"Traceback" not in result.stderr
    assert b"left unchanged" in result.stderr
