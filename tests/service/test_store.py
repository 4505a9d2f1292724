"""The feedback and audit store on its own: records, decisions, errors, concurrency, export.

Suggestions here are written by hand so the expected exports do not come from the engine.
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading

import pytest
from pydantic import ValidationError

from dermcoder.contracts import Alternative, CptSuggestion, Evidence, IcdSuggestion, ModelInfo, Suggestion
from dermcoder.service.store import (
    Decision,
    DecisionError,
    FeedbackStore,
    StoreError,
    UnknownAuditIdError,
    create_store_from_settings,
)
from dermcoder.settings import Settings

TEXT = "Shave removal x2. #1 nose IDN 6mm. #2 R helix ISK 3mm."
EV = [Evidence(start=0, end=12, text="Shave remova", label="PROCEDURE")]


def _suggestion(note_id: str = "n1") -> Suggestion:
    return Suggestion(
        id=note_id,
        cpt=[
            CptSuggestion(code="11311", units=1, modifiers=[], confidence=0.9, description="shave face", evidence=EV),
            CptSuggestion(code="11310", units=1, modifiers=["59"], confidence=0.8, description="shave face", evidence=EV),
        ],
        icd10=[
            IcdSuggestion(code="D22.39", confidence=0.9, description="nevus", evidence=EV),
            IcdSuggestion(code="L82.1", confidence=0.9, description="SK", evidence=EV),
        ],
        alternatives=[Alternative(system="CPT", code="11312", confidence=0.1, units=2)],
        model=ModelInfo(version="9.9", pipeline="test-pipe"),
    )


def _decision(code: str, decision: str = "accepted", system: str = "CPT", **kw) -> Decision:
    return Decision(system=system, code=code, decision=decision, **kw)


@pytest.fixture
def store(tmp_path):
    s = FeedbackStore(f"sqlite:///{tmp_path / 'sub' / 'fb.db'}")
    yield s
    s.close()


@pytest.fixture
def text_store(tmp_path):
    s = FeedbackStore(f"sqlite:///{tmp_path / 'fb-text.db'}", store_note_text=True)
    yield s
    s.close()


def test_store_records_hash_not_text_by_default(store, tmp_path):
    audit_id = store.record_suggestion(_suggestion(), TEXT, "api")
    assert len(audit_id) == 32 and int(audit_id, 16) >= 0
    with sqlite3.connect(tmp_path / "sub" / "fb.db") as db:
        rows = db.execute("SELECT note_hash, note_text, source, model_name, model_version, note_id FROM suggestions").fetchall()
    assert rows == [(hashlib.sha256(TEXT.encode()).hexdigest(), None, "api", "test-pipe", "9.9", "n1")]
    record = store.suggestion_record(audit_id)
    assert record["note_text_stored"] is False and record["suggestion"]["cpt"][0]["code"] == "11311"


def test_store_keeps_text_only_when_asked(text_store, tmp_path):
    text_store.record_suggestion(_suggestion(), TEXT, "page")
    with sqlite3.connect(tmp_path / "fb-text.db") as db:
        assert db.execute("SELECT note_text, source FROM suggestions").fetchall() == [(TEXT, "page")]


def test_store_uses_wal_on_sqlite(store, tmp_path):
    store.record_suggestion(_suggestion(), TEXT, "api")
    with sqlite3.connect(tmp_path / "sub" / "fb.db") as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_store_decisions_round_trip(store):
    audit_id = store.record_suggestion(_suggestion(), TEXT, "api")
    n = store.record_decisions(audit_id, [
        _decision("11311", coder="kim"),
        _decision("11310", "overridden", replacement_code="11312", units=2, modifiers=["XS"]),
        _decision("L82.1", "overridden", system="ICD10CM", replacement_code="L82.0"),
    ], "page")  # fmt: skip
    assert n == 3
    got = store.decisions_for(audit_id)
    assert [(d["system"], d["code"], d["decision"]) for d in got] == [
        ("CPT", "11311", "accepted"), ("CPT", "11310", "overridden"), ("ICD10CM", "L82.1", "overridden")]  # fmt: skip
    assert got[0]["coder"] == "kim" and got[0]["source"] == "page" and got[0]["modifiers"] is None
    assert got[1]["replacement_code"] == "11312" and got[1]["units"] == 2 and got[1]["modifiers"] == ["XS"]
    assert got[0]["created_at"].endswith("+00:00")


def test_store_unknown_audit_id_is_a_clear_error(store):
    with pytest.raises(UnknownAuditIdError, match="unknown audit_id 'nope'"):
        store.record_decisions("nope", [_decision("11311")], "api")
    with pytest.raises(UnknownAuditIdError):
        store.decisions_for("nope")


def test_store_refuses_codes_not_suggested(store):
    audit_id = store.record_suggestion(_suggestion(), TEXT, "api")
    with pytest.raises(DecisionError) as err:
        store.record_decisions(audit_id, [_decision("11311"), _decision("17000"), _decision("L57.0", system="ICD10CM")], "api")
    assert len(err.value.problems) == 2 and "17000" in str(err.value) and "L57.0" in str(err.value)
    assert store.decisions_for(audit_id) == []  # nothing stored from a refused request
    # an alternative may be accepted: that is what top-k review is for
    assert store.record_decisions(audit_id, [_decision("11312")], "api") == 1


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"system": "CPT", "code": "1131", "decision": "accepted"}, "not a CPT"),
        ({"system": "ICD10CM", "code": "L821", "decision": "accepted"}, "ICD-10-CM code with its dot"),
        ({"system": "CPT", "code": "11311", "decision": "overridden"}, "needs replacement_code, units or modifiers"),
        ({"system": "ICD10CM", "code": "L82.1", "decision": "overridden"}, "needs replacement_code"),
        ({"system": "CPT", "code": "11311", "decision": "rejected", "replacement_code": "11312"}, "only allowed"),
        ({"system": "CPT", "code": "11311", "decision": "accepted", "modifiers": ["5"]}, "two characters"),
        ({"system": "ICD10CM", "code": "L82.1", "decision": "accepted", "units": 2}, "CPT lines only"),
        ({"system": "CPT", "code": "11311", "decision": "maybe"}, "decision"),
        ({"system": "HCPCS", "code": "11311", "decision": "accepted"}, "system"),
        ({"system": "CPT", "code": "11311", "decision": "accepted", "units": 0}, "units"),
        ({"system": "CPT", "code": "11311", "decision": "accepted", "replacment_code": "1"}, "replacment_code"),
    ],
)
def test_store_decision_validation(fields, message):
    with pytest.raises(ValidationError, match=message):
        Decision(**fields)


def test_store_bad_source_refused(store):
    with pytest.raises(Exception, match="source"):
        store.record_suggestion(_suggestion(), TEXT, "Bad Source!")


def test_store_bad_url_is_a_clear_error():
    with pytest.raises(StoreError, match="not a SQLAlchemy URL"):
        FeedbackStore("not a url")


def test_store_from_settings_creates_data_dir(tmp_path):
    data_dir = tmp_path / "a" / "b"
    store = create_store_from_settings(Settings(data_dir=data_dir))
    try:
        store.record_suggestion(_suggestion(), TEXT, "api")
        assert (data_dir / "dermcoder.db").is_file()
    finally:
        store.close()


def test_store_concurrent_writers(tmp_path):
    """Threads (each with its own store, like separate workers) write at once; nothing is lost."""
    url = f"sqlite:///{tmp_path / 'busy.db'}"
    FeedbackStore(url).close()  # schema first, as the app's lifespan does
    errors: list[BaseException] = []
    ids: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(8)

    def work() -> None:
        store = FeedbackStore(url)
        try:
            start.wait()
            for _ in range(15):
                audit_id = store.record_suggestion(_suggestion(), TEXT, "api")
                store.record_decisions(audit_id, [_decision("11311"), _decision("11310", "rejected")], "api")
                with lock:
                    ids.append(audit_id)
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)
        finally:
            store.close()

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with sqlite3.connect(tmp_path / "busy.db") as db:
        assert db.execute("SELECT count(*) FROM suggestions").fetchone()[0] == 120
        assert db.execute("SELECT count(*) FROM decisions").fetchone()[0] == 240
    assert len(set(ids)) == 120


def test_store_shared_store_across_threads(store):
    """One store object used by many request threads at once (the app's case)."""
    audit_id = store.record_suggestion(_suggestion(), TEXT, "api")
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(10):
                store.record_decisions(audit_id, [_decision("11311")], "api")
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and len(store.decisions_for(audit_id)) == 60


def test_store_export_labeled(text_store):
    done = text_store.record_suggestion(_suggestion("n1"), TEXT, "page")
    text_store.record_decisions(done, [
        _decision("11311", "accepted"),
        _decision("11310", "overridden", replacement_code="11312", units=2),
        _decision("L82.1", "overridden", system="ICD10CM", replacement_code="L82.0"),
        _decision("D22.39", "rejected", system="ICD10CM"),
    ], "page")  # fmt: skip
    half = text_store.record_suggestion(_suggestion("n2"), TEXT, "page")
    text_store.record_decisions(half, [_decision("11311")], "page")  # 11310 undecided
    text_store.record_suggestion(_suggestion("n3"), TEXT, "page")  # never reviewed

    notes, skipped = text_store.export_labeled()
    assert skipped == 2
    assert len(notes) == 1
    note = notes[0]
    assert note.id == f"fb-{done}" and note.text == TEXT and note.source == "feedback"
    assert [(c.code, c.units, c.modifiers) for c in note.cpt] == [("11311", 1, []), ("11312", 2, ["59"])]
    assert note.icd10 == ["L82.0"]


def test_store_export_latest_decision_wins_and_undecided_icd_kept(text_store):
    audit_id = text_store.record_suggestion(_suggestion(), TEXT, "api")
    text_store.record_decisions(audit_id, [_decision("11311", "rejected"), _decision("11310")], "api")
    text_store.record_decisions(audit_id, [_decision("11311", "overridden", units=3, modifiers=[])], "api")
    text_store.record_decisions(audit_id, [_decision("11312", "accepted")], "api")  # an alternative
    (note,), skipped = text_store.export_labeled()
    assert skipped == 0
    assert [(c.code, c.units, c.modifiers) for c in note.cpt] == [("11311", 3, []), ("11310", 1, ["59"]), ("11312", 2, [])]
    assert note.icd10 == ["D22.39", "L82.1"] and "kept without a decision: D22.39, L82.1" in note.notes


def test_store_export_skips_notes_without_text(store):
    audit_id = store.record_suggestion(_suggestion(), TEXT, "api")
    store.record_decisions(audit_id, [_decision("11311"), _decision("11310")], "api")
    result = store.export_feedback()
    assert result.notes == [] and result.skipped_no_text == 1 and result.skipped == 1


def test_store_jti_replay(store):
    from datetime import datetime, timedelta, timezone

    exp = datetime.now(timezone.utc) + timedelta(minutes=5)
    assert store.remember_jti("https://ehr", "abc", exp) is True
    assert store.remember_jti("https://ehr", "abc", exp) is False
    assert store.remember_jti("https://other", "abc", exp) is True  # jti is unique per issuer
