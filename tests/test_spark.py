"""`dermcoder spark`: mapInPandas over a local[2] session writes what `dermcoder batch` writes."""

from __future__ import annotations

import json

import pytest

from dermcoder.batch import run_batch
from dermcoder.spark import java_missing
from tests.conftest import REPO

pytestmark = pytest.mark.skipif(java_missing() is not None, reason=java_missing() or "")


@pytest.fixture(scope="module")
def spark_session():
    from dermcoder.spark import local_session

    session = local_session("local[2]", app_name="dermcoder-tests")
    yield session
    session.stop()


def _notes_with_bad_lines(path, n: int) -> None:
    lines = []
    with (REPO / "corpus" / "sample" / "notes.jsonl").open("rb") as fh:
        for raw in fh:
            note = json.loads(raw)
            lines.append(json.dumps({"id": note["id"], "text": note["text"]}).encode() + b"\n")
            if len(lines) == n:
                break
    lines.insert(2, b"{broken\n")
    lines.insert(5, b'{"id": "latin", "text": "caf\xe9"}\n')
    lines.insert(6, b"\n")
    lines.insert(9, b'{"id": "no-text"}\n')
    path.write_bytes(b"".join(lines))


def _same_as_batch(spark_out: bytes, batch_out: bytes) -> bool:
    """Byte for byte the batch lines, except the wording of the not-UTF-8 error (Hadoop decodes first)."""
    got, want = spark_out.decode().splitlines(), batch_out.decode().splitlines()
    assert len(got) == len(want)
    for g, w in zip(got, want):
        if "not UTF-8" in w:
            g_rec, w_rec = json.loads(g), json.loads(w)
            assert (g_rec["id"], g_rec["line"]) == (w_rec["id"], w_rec["line"]) and "not UTF-8" in g_rec["error"]
        else:
            assert g == w
    return True


def test_spark_parts_in_order_equal_the_batch_output(spark_session, engine, tmp_path):
    from dermcoder.spark import code_jsonl

    src, reference = tmp_path / "in.jsonl", tmp_path / "batch.jsonl"
    _notes_with_bad_lines(src, 14)
    run_batch(src, reference, engine)
    out = tmp_path / "out"
    result = code_jsonl(spark_session, src, out, batch_size=4)
    parts = sorted(out.glob("part-*"))
    assert len(parts) >= 2  # really split across tasks
    assert _same_as_batch(b"".join(p.read_bytes() for p in parts), reference.read_bytes())
    assert result == {"lines": 17, "errors": 3, "coded": 14, "output": str(out)}
    errors = [json.loads(line) for line in reference.read_text().splitlines() if '"error"' in line]
    assert [(e["id"], e["line"]) for e in errors] == [("line-3", 3), ("line-6", 6), ("no-text", 10)]

    single = tmp_path / "single.jsonl"
    code_jsonl(spark_session, src, single, batch_size=5, single_file=True)
    assert _same_as_batch(single.read_bytes(), reference.read_bytes())
    assert not (tmp_path / "single.jsonl.parts").exists()


def test_spark_command_refuses_a_non_empty_output_before_starting_spark(cli, tmp_path):
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    src.write_text('{"id": "a", "text": "Shave biopsy of the left forearm."}\n')
    out.write_text("keep me\n")
    result = cli("spark", str(src), str(out), "--single-file")
    assert result.returncode == 2 and b"Traceback" not in result.stderr
    assert "--force" in result.stderr.decode() and out.read_text() == "keep me\n"
