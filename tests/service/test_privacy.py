"""Notes are PHI: no note text in any log record, and none in the store unless asked for.

A real uvicorn server runs the app with every relevant logger at DEBUG (root, uvicorn,
uvicorn.access, fastapi, sqlalchemy.engine, dermcoder); a note carrying a distinctive
marker goes through suggest, FHIR, batch, feedback, CDS Hooks (call and feedback), a
validation error and an internal error. The marker must appear in no record.
"""

from __future__ import annotations

import base64
import logging
import socket
import sqlite3
import threading
import time
import uuid
from dataclasses import replace

import httpx
import pytest
import uvicorn

from dermcoder.contracts import CptSuggestion, Evidence, ModelInfo, Suggestion
from dermcoder.service.app import create_app
from dermcoder.service.store import FeedbackStore

MARKER = "Qzxvbrt Wolfenmoor"
NOTE = (
    f"Patient: {MARKER}, DOB 01/02/1950.\nDx: SCC vertex scalp, bx proven (path 2/11).\n"
    "Proc: excision 2.2 cm lesion w/ 5 mm margins, to galea. Defect 3.2 cm wide.\n"
    f"Complex repair, final length 8.4 cm. Pt {MARKER} tolerated well."
)
LOGGERS = ("", "uvicorn", "uvicorn.error", "uvicorn.access", "fastapi", "sqlalchemy", "sqlalchemy.engine",
           "sqlalchemy.pool", "httpx", "dermcoder", "dermcoder.service")  # fmt: skip


class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def texts(self) -> list[str]:
        out = []
        for record in self.records:
            out.append(self.format(record))  # message, args and any traceback (exc_text)
            out.append(repr(record.args))
        return out


@pytest.fixture
def captured_logs():
    handler = _Capture()
    saved = {}
    for name in LOGGERS:
        logger = logging.getLogger(name)
        saved[name] = logger.level
        logger.setLevel(logging.DEBUG)
        logger.addHandler(handler)
    yield handler
    for name in LOGGERS:
        logger = logging.getLogger(name)
        logger.removeHandler(handler)
        logger.setLevel(saved[name])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def live_server(engine, cds_settings):
    """The app under a real uvicorn server in a thread, logging at DEBUG through our handlers."""
    servers = []

    def start(settings):
        port = _free_port()
        config = uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_config=None,
                                log_level="debug", access_log=True)  # fmt: skip
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.time() + 30
        while not server.started:
            assert time.time() < deadline, "uvicorn did not start"
            time.sleep(0.05)
        servers.append((server, thread))
        return f"http://127.0.0.1:{port}", server

    yield start
    for server, thread in servers:
        server.should_exit = True
        thread.join(timeout=10)


def _exercise(base: str, cds_token, monkeypatch, engine) -> None:
    with httpx.Client(base_url=base, timeout=60) as http:
        suggestion = http.post("/v1/suggest", json={"id": "p-1", "text": NOTE}).json()
        assert suggestion["cpt"], suggestion
        assert http.post("/v1/suggest?format=fhir", json={"id": "p-2", "text": NOTE}).status_code == 200
        batch = http.post("/v1/batch", json=[{"id": "b-1", "text": NOTE}, {"id": 7, "text": NOTE}, {"id": "b-3"}])
        assert batch.status_code == 200 and len(batch.json()) == 3
        line = suggestion["cpt"][0]
        stored = http.post("/v1/feedback", json={"audit_id": suggestion["audit_id"], "decisions": [
            {"system": "CPT", "code": line["code"], "decision": "accepted", "coder": "kim"}]})  # fmt: skip
        assert stored.status_code == 201
        assert http.post("/v1/feedback", json={"audit_id": "nope", "decisions": [{"system": "CPT", "code": "11100",
                                                                               "decision": "accepted"}]}).status_code == 404
        assert http.post("/v1/suggest", json={"id": {"x": 1}, "text": NOTE}).status_code == 422
        assert http.post("/v1/suggest", content=b'{"text": "' + MARKER.encode() + b'"').status_code == 422

        path = "/cds-services/dermcoder-discharge"
        doc = {"resourceType": "DocumentReference", "id": "doc-9",
               "content": [{"attachment": {"contentType": "text/plain", "data": base64.b64encode(NOTE.encode()).decode()}}]}
        hook = {"hook": "encounter-discharge", "hookInstance": str(uuid.uuid4()), "context": {"patientId": "p"},
                "prefetch": {"note": doc}}  # fmt: skip
        cards = http.post(path, json=hook, headers={"Authorization": f"Bearer {cds_token(path, aud=base + path)}"})
        assert cards.status_code == 200, cards.text
        card = cards.json()["cards"][0]
        feedback = {"feedback": [{"card": card["uuid"], "outcome": "overridden", "outcomeTimestamp": "2026-01-01T00:00:00Z",
                                  "overrideReason": {"userComment": "not billable"}}]}  # fmt: skip
        fb_path = path + "/feedback"
        answer = http.post(fb_path, json=feedback, headers={"Authorization": f"Bearer {cds_token(fb_path, aud=base + fb_path)}"})
        assert answer.status_code == 200, answer.text
        bad_token = http.post(path, json=hook, headers={"Authorization": "Bearer x.y.z"})
        assert bad_token.status_code == 401

        # An unexpected error whose message carries the note: answered 500, logged without it.
        def boom(text, note_id="note"):
            raise ValueError(f"could not read {text!r}")

        monkeypatch.setattr(engine, "suggest", boom)
        failed = http.post("/v1/suggest", json={"id": "x", "text": NOTE})
        monkeypatch.undo()
        assert failed.status_code == 500 and failed.json() == {"detail": "internal error"} and MARKER not in failed.text


def _db_dump(settings) -> str:
    with sqlite3.connect(settings.data_dir / "dermcoder.db") as db:
        return "\n".join(db.iterdump())


def test_privacy_no_note_text_in_logs_or_store(live_server, captured_logs, cds_settings, cds_token, monkeypatch, engine):
    base, _ = live_server(cds_settings)
    _exercise(base, cds_token, monkeypatch, engine)
    texts = captured_logs.texts()
    assert any("POST /v1/suggest" in t for t in texts), "the access log was not captured: the test would prove nothing"
    assert any("internal error in POST /v1/suggest: ValueError" in t for t in texts)
    leaks = [t for t in texts if MARKER in t or "Wolfenmoor" in t]
    assert leaks == []
    with sqlite3.connect(cds_settings.data_dir / "dermcoder.db") as db:
        texts_stored = db.execute("SELECT note_text FROM suggestions").fetchall()
    assert len(texts_stored) >= 4 and set(texts_stored) == {(None,)}
    dump = _db_dump(cds_settings)
    assert MARKER not in dump and "Wolfenmoor" not in dump and "vertex scalp" not in dump  # no quotes either


def test_privacy_text_stored_only_when_asked(live_server, captured_logs, cds_settings, cds_token):
    settings = replace(cds_settings, store_note_text=True)
    base, _ = live_server(settings)
    with httpx.Client(base_url=base, timeout=60) as http:
        audit_id = http.post("/v1/suggest", json={"id": "p-1", "text": NOTE}).json()["audit_id"]
    with sqlite3.connect(settings.data_dir / "dermcoder.db") as db:
        assert db.execute("SELECT note_text FROM suggestions WHERE id = ?", (audit_id,)).fetchone() == (NOTE,)
    assert not [t for t in captured_logs.texts() if MARKER in t]  # stored is not logged


def test_privacy_store_keeps_quotes_only_with_text(tmp_path):
    ev = [Evidence(start=0, end=len(MARKER), text=MARKER, label="SITE")]
    suggestion = Suggestion(id="n", cpt=[CptSuggestion(code="11100", units=1, confidence=0.5, description="bx", evidence=ev)],
                            model=ModelInfo(version="1", pipeline="p"))  # fmt: skip
    plain = FeedbackStore(f"sqlite:///{tmp_path / 'a.db'}")
    with_text = FeedbackStore(f"sqlite:///{tmp_path / 'b.db'}", store_note_text=True)
    try:
        a = plain.record_suggestion(suggestion, MARKER, "api")
        b = with_text.record_suggestion(suggestion, MARKER, "api")
        assert plain.suggestion_record(a)["suggestion"]["cpt"][0]["evidence"] == [
            {"start": 0, "end": len(MARKER), "text": "", "label": "SITE"}]  # fmt: skip
        assert with_text.suggestion_record(b)["suggestion"]["cpt"][0]["evidence"][0]["text"] == MARKER
    finally:
        plain.close()
        with_text.close()
    with sqlite3.connect(tmp_path / "a.db") as db:
        assert MARKER not in "\n".join(db.iterdump())
