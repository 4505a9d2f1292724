"""The CLI as a user meets it: commands listed, bad input gives one line and a non-zero exit."""

from __future__ import annotations

import json


def test_cli_help_lists_commands(cli):
    result = cli("--help")
    assert result.returncode == 0
    for command in (b"suggest", b"batch", b"evaluate", b"corpus", b"tables"):
        assert command in result.stdout


def test_cli_suggest_from_stdin_returns_contract_json(cli):
    result = cli("suggest", "-", "--id", "x1", stdin=b"Shave biopsy of the left forearm.")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["id"] == "x1" and isinstance(data["cpt"], list) and "model" in data


def _one_line_error(result):
    assert result.returncode == 2
    assert b"Traceback" not in result.stderr
    text = result.stderr.decode().strip()
    assert text.startswith("error:") and len(text.splitlines()) == 1, text
    return text


def test_cli_suggest_missing_file(cli, tmp_path):
    assert "file not found" in _one_line_error(cli("suggest", str(tmp_path / "nope.txt")))


def test_cli_suggest_empty_file(cli, tmp_path):
    (tmp_path / "empty.txt").write_text("  \n")
    assert "empty" in _one_line_error(cli("suggest", str(tmp_path / "empty.txt")))


def test_cli_suggest_non_utf8(cli, tmp_path):
    (tmp_path / "latin1.txt").write_bytes(b"Excision caf\xe9 lesion")
    assert "not UTF-8" in _one_line_error(cli("suggest", str(tmp_path / "latin1.txt")))


def test_cli_suggest_5mb_note_refused(cli, tmp_path):
    (tmp_path / "huge.txt").write_text("biopsy " * (5 * 1024 * 1024 // 7 + 1))
    assert "limit" in _one_line_error(cli("suggest", str(tmp_path / "huge.txt")))


def test_cli_batch_keeps_every_line_in_order(cli, tmp_path):
    src = tmp_path / "in.jsonl"
    big = "x" * (5 * 1024 * 1024)
    src.write_bytes(
        b'{"id": "n1", "text": "Punch biopsy right cheek."}\n'
        b"{broken json\n"
        b'{"id": "n3", "text": ""}\n'
        b'{"id": "n4", "text": "caf\xe9"}\n'
        + json.dumps({"id": "n5", "text": big}).encode()
        + b'\n{"id": "n6", "text": "Cryotherapy to 3 AKs."}\n'
    )
    out = tmp_path / "out.jsonl"
    result = cli("batch", str(src), "-o", str(out))
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["id"] for r in lines] == ["n1", "line-2", "n3", "line-4", "n5", "n6"]
    assert "error" not in lines[0] and "error" not in lines[5]
    assert all("error" in lines[i] and lines[i]["line"] == i + 1 for i in (1, 2, 3, 4))
    assert "limit" in lines[4]["error"]


def test_cli_batch_missing_input(cli, tmp_path):
    assert "file not found" in _one_line_error(cli("batch", str(tmp_path / "no.jsonl"), "-o", str(tmp_path / "o")))
    assert not (tmp_path / "o").exists()


def test_cli_evaluate_reports_bad_gold_line(cli, tmp_path):
    gold = tmp_path / "gold.jsonl"
    gold.write_text('{"id": "a", "text": "x", "cpt": [{"code": "ABC"}]}\n')
    result = cli("evaluate", str(gold), "--pred", str(gold))
    assert result.returncode == 2
    assert f"{gold}:1: cpt.0.code" in result.stderr.decode()
