"""Notes are PHI, on the command line too: no error message, batch error record or store
file repeats a note's text (tests/service/test_privacy.py covers the server's logs)."""

from __future__ import annotations

import json
import sqlite3

MARKER = "Qzxvbrt Wolfenmoor"
NOTE = f"Patient {MARKER}. Shave biopsy 0.6 cm papule left forearm. {MARKER} tolerated well."


def _no_marker(*texts: str | bytes) -> None:
    for text in texts:
        text = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
        assert MARKER not in text and "Wolfenmoor" not in text, text[:500]


def test_privacy_cli_errors_do_not_echo_the_note(cli, tmp_path):
    latin1 = tmp_path / "latin1.txt"
    latin1.write_bytes(NOTE.encode() + b" caf\xe9")
    result = cli("suggest", str(latin1))
    assert result.returncode == 2 and b"not UTF-8" in result.stderr
    _no_marker(result.stdout, result.stderr)  # (a note over the limit: see the batch test below)


def test_privacy_batch_error_records_do_not_echo_the_note(cli, tmp_path):
    src = tmp_path / "in.jsonl"
    lines = [
        json.dumps({"id": "ok", "text": NOTE}),
        '{"id": "broken", "text": "' + NOTE + '"',  # not valid JSON
        json.dumps({"id": "long", "text": NOTE * 5}),  # over the limit set below
        '{"id": "surrogate", "text": "' + NOTE + ' \\ud800"}',  # not Unicode text
        json.dumps({"id": 7, "text": NOTE}),  # id of the wrong type
        json.dumps({"id": "notext", "note": NOTE}),  # text under another name
        json.dumps([NOTE]),  # not an object
    ]
    src.write_text("\n".join(lines) + "\n")
    out = tmp_path / "out.jsonl"
    result = cli("batch", str(src), "-o", str(out), env={"DERMCODER_MAX_NOTE_CHARS": "200"})
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(records) == len(lines)  # nothing dropped
    assert "error" not in records[0] and records[0]["cpt"]
    errors = [r["error"] for r in records[1:]]
    assert all(errors) and "unpaired surrogate" in errors[2], errors
    _no_marker(result.stderr, *errors)


def test_privacy_store_files_hold_no_note_text(client, service_settings):
    """The SQLite files themselves (database and WAL), byte for byte, after every write path."""
    suggestion = client.post("/v1/suggest", json={"id": "p-1", "text": NOTE}).json()
    client.post("/v1/batch", json=[{"id": "b-1", "text": NOTE}, {"id": "b-2", "text": NOTE + " \t"}])
    decision = {"system": "CPT", "code": suggestion["cpt"][0]["code"], "decision": "accepted", "coder": "kim"}
    assert client.post("/v1/feedback", json={"audit_id": suggestion["audit_id"], "decisions": [decision]}).status_code == 201
    files = sorted(service_settings.data_dir.glob("dermcoder.db*"))
    assert files and any(f.stat().st_size for f in files)
    with sqlite3.connect(service_settings.data_dir / "dermcoder.db") as db:
        assert db.execute("SELECT count(*) FROM suggestions").fetchone()[0] == 3  # the writes did happen
    for path in files:
        data = path.read_bytes()
        assert MARKER.encode() not in data and MARKER.encode("utf-16-le") not in data, path.name
        assert b"papule left forearm" not in data, path.name  # no evidence quote either
