"""`dermcoder batch`: streaming, order, error records, workers, and resuming after a kill."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from dermcoder.batch import code_chunk, record_path, run_batch
from tests.conftest import REPO

CORPUS = REPO / "corpus" / "sample" / "notes.jsonl"


def _corpus_lines(n: int) -> list[bytes]:
    lines = []
    with CORPUS.open("rb") as fh:
        for raw in fh:
            note = json.loads(raw)
            lines.append(json.dumps({"id": note["id"], "text": note["text"]}).encode() + b"\n")
            if len(lines) == n:
                break
    return lines


def _input_with_bad_lines(path, n: int):
    """n corpus notes with a broken line, a non-UTF-8 line and a note missing its text mixed in."""
    lines = _corpus_lines(n)
    lines.insert(3, b"{not json\n")
    lines.insert(7, b'{"id": "latin", "text": "caf\xe9"}\n')
    lines.insert(11, b'{"id": "no-text"}\n')
    lines.insert(12, b"\n")  # blank: no record, no output line
    path.write_bytes(b"".join(lines))
    expected = []
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            expected.append(json.loads(raw.decode())["id"])
        except (ValueError, KeyError):
            expected.append(f"line-{number}")
    return expected


def _ids(path) -> list[str]:
    return [json.loads(line)["id"] for line in path.read_text(encoding="utf-8").splitlines()]


def test_batch_error_records_carry_id_line_and_message(engine, tmp_path):
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    expected = _input_with_bad_lines(src, 12)
    stats = run_batch(src, out, engine)
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["id"] for r in records] == expected
    errors = {r["id"]: r for r in records if "error" in r}
    assert set(errors) == {"line-4", "line-8", "no-text"}
    assert errors["line-4"]["line"] == 4 and "not valid JSON" in errors["line-4"]["error"]
    assert errors["line-8"]["line"] == 8 and "not UTF-8" in errors["line-8"]["error"]
    assert errors["no-text"]["line"] == 12 and "text" in errors["no-text"]["error"]
    assert (stats.lines, stats.coded, stats.errors) == (15, 12, 3)


def test_batch_a_note_that_crashes_the_rules_becomes_an_error_record_without_its_text(engine):
    class Flaky:
        model_info = engine.model_info

        def suggest_many(self, notes, batch_size=32):
            raise RuntimeError("boom")

        def suggest(self, text, note_id):
            if "SECRET" in text:
                raise KeyError(text)  # an exception that quotes the note
            return engine.suggest(text, note_id)

    items = [(1, "a", "Shave biopsy of the left forearm.", None, "a"), (2, "b", "SECRET patient text", None, "b")]
    lines = code_chunk(Flaky(), items, "in.jsonl")
    assert [is_error for _line, is_error in lines] == [False, True]
    record = json.loads(lines[1][0])
    assert record["id"] == "b" and record["line"] == 2 and "KeyError" in record["error"]
    assert "SECRET" not in lines[1][0]


def test_batch_streams_instead_of_reading_the_whole_input(engine, tmp_path, monkeypatch):
    """When the first chunk is written, only about a chunk of the input has been read."""
    import dermcoder.batch as batch

    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    src.write_bytes(b"".join(_corpus_lines(40)))
    consumed = []
    real = batch.iter_jsonl

    def counting(*args, **kwargs):
        for result in real(*args, **kwargs):
            consumed.append(result.line)
            yield result

    monkeypatch.setattr(batch, "iter_jsonl", counting)
    seen_at_first_write = []
    run_batch(src, out, engine, on_line=lambda s: seen_at_first_write.append(len(consumed)), chunk_size=4)
    assert seen_at_first_write[0] <= 8  # not 40
    assert len(seen_at_first_write) == 10  # one flush per chunk


def test_batch_two_workers_write_what_one_writes(engine, tmp_path):
    src = tmp_path / "in.jsonl"
    expected = _input_with_bad_lines(src, 24)
    one, two = tmp_path / "one.jsonl", tmp_path / "two.jsonl"
    run_batch(src, one, engine, chunk_size=3)
    stats = run_batch(src, two, workers=2, chunk_size=3)
    assert _ids(two) == expected
    assert two.read_bytes() == one.read_bytes()
    assert (stats.lines, stats.errors) == (len(expected), 3)


def test_batch_resume_drops_a_half_written_last_line(engine, tmp_path):
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    expected = _input_with_bad_lines(src, 10)
    run_batch(src, out, engine)
    full = out.read_bytes()
    lines = full.splitlines(keepends=True)
    out.write_bytes(b"".join(lines[:6]) + lines[6][:25])  # killed in the middle of line 7
    stats = run_batch(src, out, engine, resume=True)
    assert stats.resumed == 6 and stats.lines == len(expected)
    assert out.read_bytes() == full
    again = run_batch(src, out, engine, resume=True)  # a finished output: nothing left to do
    assert again.resumed == len(expected) and out.read_bytes() == full


def _one_line_error(result) -> str:
    assert result.returncode == 2, result.stderr
    assert b"Traceback" not in result.stderr
    text = result.stderr.decode().strip()
    assert text.startswith("error:") and len(text.splitlines()) == 1, text
    return text


def test_batch_refuses_to_overwrite_or_to_resume_from_another_input(cli, engine, tmp_path):
    src, other, out = tmp_path / "in.jsonl", tmp_path / "other.jsonl", tmp_path / "out.jsonl"
    src.write_bytes(b"".join(_corpus_lines(3)))
    other.write_bytes(b"".join(_corpus_lines(4)))
    run_batch(src, out, engine)
    before = out.read_bytes()
    assert "--resume" in _one_line_error(cli("batch", str(src), str(out)))
    assert "different input" in _one_line_error(cli("batch", str(other), str(out), "--resume"))
    assert out.read_bytes() == before
    record_path(out).unlink()
    assert "record" in _one_line_error(cli("batch", str(src), str(out), "--resume"))
    assert out.read_bytes() == before
    result = cli("batch", str(other), "-o", str(out), "--force")
    assert result.returncode == 0, result.stderr
    assert _ids(out) == [json.loads(line)["id"] for line in _corpus_lines(4)]
    # not a terminal: no progress bar, just the summary line
    assert len(result.stderr.decode().strip().splitlines()) == 1 and "notes/s" in result.stderr.decode()


def test_batch_resume_refuses_an_output_coded_by_another_model(engine, tmp_path):
    from dermcoder.errors import InputError

    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    src.write_bytes(b"".join(_corpus_lines(2)))
    run_batch(src, out, engine)
    with pytest.raises(InputError, match="coded by model"):
        run_batch(src, out, model="none", resume=True)


def _wait_for_lines(out, at_least: int, proc, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if out.exists() and out.read_bytes().count(b"\n") >= at_least:
            return
        assert proc.poll() is None, "the run ended before it could be killed"
        time.sleep(0.02)
    raise AssertionError("no output appeared in time")


def test_batch_killed_with_sigkill_and_resumed_has_every_line_once_in_order(engine, tmp_path):
    src, out, reference = tmp_path / "in.jsonl", tmp_path / "out.jsonl", tmp_path / "ref.jsonl"
    expected = _input_with_bad_lines(src, 150)
    run_batch(src, reference, engine)
    command = [sys.executable, "-m", "dermcoder", "batch", str(src), str(out), "--chunk", "4"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    killed_at = []
    for round_, wait_for in enumerate((8, 60)):
        args = command + (["--resume"] if round_ else [])
        proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        _wait_for_lines(out, wait_for, proc)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
        killed_at.append(out.read_bytes().count(b"\n"))
    assert killed_at[-1] < len(expected)  # really killed mid-run
    result = subprocess.run(command + ["--resume"], env=env, capture_output=True, timeout=300)
    assert result.returncode == 0, result.stderr
    ids = _ids(out)
    assert ids == expected and len(ids) == len(set(ids))  # every id once, in input order
    assert out.read_bytes() == reference.read_bytes()
    assert json.loads(record_path(out).read_text())["complete"] is True
