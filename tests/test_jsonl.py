"""Reading JSONL: every bad line reported with file:line and the field at fault, none dropped."""

from __future__ import annotations

from dermcoder.contracts import LabeledNote
from dermcoder.jsonl import iter_jsonl, read_jsonl


def test_jsonl_bad_lines_reported_and_good_lines_kept(tmp_path):
    path = tmp_path / "notes.jsonl"
    path.write_bytes(
        b'{"id": "a", "text": "note a", "cpt": [], "icd10": []}\n'
        b"not json at all\n"
        b'{"id": "b", "text": "   ", "cpt": []}\n'
        b'{"id": "c", "text": "note c", "cpt": [{"code": "1164", "units": 0}]}\n'
        b'{"id": "d", "text": "caf\xe9"}\n'
        b"\n"
        b'["a list"]\n'
        b'{"id": "e", "text": "note e"}\n'
    )
    results = list(iter_jsonl(path, LabeledNote))
    assert [r.line for r in results] == [1, 2, 3, 4, 5, 7, 8]
    good = [r.record.id for r in results if r.record]
    assert good == ["a", "e"]
    errors = {r.line: r.error for r in results if r.error}
    assert f"{path}:2: not valid JSON" in errors[2]
    assert "text: the note has no text" in errors[3]
    assert "cpt.0.code" in errors[4] and "cpt.0.units" in errors[4]
    assert "not UTF-8" in errors[5]
    assert "expected a JSON object" in errors[7]


def test_jsonl_empty_file_is_an_error(tmp_path):
    path = tmp_path / "empty.jsonl"
    path.write_text("")
    records, errors = read_jsonl(path, LabeledNote)
    assert records == [] and errors == [f"{path}: file is empty"]


def test_jsonl_oversized_note_is_a_line_error(tmp_path):
    path = tmp_path / "big.jsonl"
    path.write_text('{"id": "big", "text": "' + "x" * 50 + '"}\n')
    (result,) = iter_jsonl(path, LabeledNote, max_chars=10)
    assert result.record is None and result.raw_id == "big" and "limit is 10" in result.error
