"""The feedback store under a real server: concurrent writers over HTTP, and a killed server.

Both run the real app with uvicorn in a subprocess on 127.0.0.1 (browser_support.live_service)
with a temporary SQLite store. (Batch resume is proven by the batch issue's own tests.)
"""

from __future__ import annotations

import http.client
import json
import signal
import sqlite3
import threading
import time
import urllib.request

from tests.service.browser_support import live_service

NOTE = ("Dx: SCC vertex scalp, bx proven.\nProc: excision 2.2 cm lesion w/ 5 mm margins.\n"
        "Complex repair, final length 8.4 cm.")  # fmt: skip
WRITERS = 20
PER_WRITER = 10


def _post(base: str, path: str, body: dict, timeout: float = 60) -> tuple[int, dict]:
    request = urllib.request.Request(base + path, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def _decision(code: str, writer: int, k: int) -> dict:
    return {"system": "CPT", "code": code, "decision": "accepted", "coder": f"w{writer}", "reason": f"write {k}"}


def test_durability_20_concurrent_feedback_writers_lose_nothing(tmp_path):
    with live_service(tmp_path / "svc") as svc:
        status, suggestion = svc.post_json("/v1/suggest", {"id": "d-1", "text": NOTE})
        assert status == 200 and suggestion["cpt"], suggestion
        audit_id, code = suggestion["audit_id"], suggestion["cpt"][0]["code"]
        errors: list[str] = []
        start = threading.Barrier(WRITERS)

        def writer(w: int) -> None:
            start.wait()
            for k in range(PER_WRITER):
                status, body = _post(svc.base_url, "/v1/feedback", {"audit_id": audit_id, "decisions": [_decision(code, w, k)]})
                if status != 201 or body != {"stored": 1}:
                    errors.append(f"writer {w} write {k}: {status} {body}")

        threads = [threading.Thread(target=writer, args=(w,)) for w in range(WRITERS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=300)
        assert errors == []
        status, record = svc.get_json(f"/v1/feedback/{audit_id}")
        assert status == 200
        got = sorted((d["coder"], d["reason"]) for d in record["decisions"])
        assert got == sorted((f"w{w}", f"write {k}") for w in range(WRITERS) for k in range(PER_WRITER))
    with sqlite3.connect(svc.database) as db:
        assert db.execute("SELECT count(*) FROM decisions").fetchone()[0] == WRITERS * PER_WRITER
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_durability_store_survives_a_killed_server(tmp_path):
    """SIGKILL while writes are in flight: every acknowledged write is there after a restart."""
    workdir = tmp_path / "svc"
    acknowledged: list[tuple[str, str]] = []  # (audit id, reason) answered 201
    with live_service(workdir) as svc:
        status, suggestion = svc.post_json("/v1/suggest", {"id": "k-1", "text": NOTE})
        assert status == 200
        audit_id, code = suggestion["audit_id"], suggestion["cpt"][0]["code"]
        stop = threading.Event()

        def writer(w: int) -> None:
            k = 0
            while not stop.is_set() and k < 2000:
                try:
                    status, _ = _post(svc.base_url, "/v1/feedback", {"audit_id": audit_id, "decisions": [_decision(code, w, k)]},
                                      timeout=10)  # fmt: skip
                except (OSError, http.client.HTTPException, ValueError):
                    return  # the server is gone (refused, reset, or cut mid-answer)
                if status == 201:
                    acknowledged.append((audit_id, f"w{w} write {k}"))
                k += 1

        threads = [threading.Thread(target=writer, args=(w,)) for w in range(4)]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 60
        while len(acknowledged) < 40 and time.monotonic() < deadline:
            time.sleep(0.05)
        svc.process.send_signal(signal.SIGKILL)  # no shutdown, no checkpoint: the hard way
        svc.process.wait(timeout=30)
        stop.set()
        for t in threads:
            t.join(timeout=60)
        assert svc.process.returncode == -signal.SIGKILL
    assert len(acknowledged) >= 40, "too few writes before the kill: the test would prove little"
    database = svc.database
    assert database.with_name(database.name + "-wal").exists(), "no WAL left behind: the kill came too late to test recovery"

    with live_service(workdir) as again:
        status, record = again.get_json(f"/v1/feedback/{audit_id}")
        assert status == 200
        stored = {(d["coder"] + " " + d["reason"]) for d in record["decisions"]}
        missing = [reason for _, reason in acknowledged if reason not in stored]
        assert missing == []
        # and the restarted server still takes writes
        assert again.post_json("/v1/feedback", {"audit_id": audit_id, "decisions": [_decision(code, 99, 0)]})[0] == 201
    with sqlite3.connect(database) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert db.execute("PRAGMA foreign_key_check").fetchall() == []
