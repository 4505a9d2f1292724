"""record_suggestion's INSERT (compiled once, run on a pooled DBAPI connection on SQLite) stores
exactly the row the ORM stored before, and a failed one leaves the store usable."""

from __future__ import annotations

import sqlite3
import uuid

import pytest
from sqlalchemy.exc import IntegrityError

from dermcoder.service.store import FeedbackStore, SuggestionRow

from tests.service.test_store import TEXT, _suggestion


def _rows(path) -> list[tuple]:
    with sqlite3.connect(path) as db:
        return db.execute("SELECT * FROM suggestions ORDER BY id").fetchall()


def test_core_insert_equals_the_orm_row(tmp_path):
    for keep_text in (False, True):
        core_db, orm_db = tmp_path / f"core{keep_text}.db", tmp_path / f"orm{keep_text}.db"
        core = FeedbackStore(f"sqlite:///{core_db}", store_note_text=keep_text)
        audit_id = core.record_suggestion(_suggestion("n-7"), TEXT, "api")
        [stored] = _rows(core_db)
        columns = [c.name for c in SuggestionRow.__table__.columns]
        values = dict(zip(columns, stored))
        assert values["id"] == audit_id
        # The same values through the ORM, with created_at as the Python value it was made from.
        orm = FeedbackStore(f"sqlite:///{orm_db}", store_note_text=keep_text)
        with core._session() as session:
            created = session.get(SuggestionRow, audit_id).created_at
        row = SuggestionRow(**{**values, "created_at": created})
        with orm._session.begin() as session:
            session.add(row)
        assert _rows(orm_db) == [stored]
        assert created.tzinfo is not None  # read back timezone-aware, as before
        core.close()
        orm.close()


def test_failed_insert_leaves_no_open_transaction(tmp_path, monkeypatch):
    store = FeedbackStore(f"sqlite:///{tmp_path / 'dup.db'}")
    assert store._sqlite_insert is not None  # the compiled path is the one under test
    fixed = uuid.UUID(int=7)
    monkeypatch.setattr(uuid, "uuid4", lambda: fixed)
    store.record_suggestion(_suggestion("a"), TEXT, "api")
    with pytest.raises((sqlite3.IntegrityError, IntegrityError)):
        store.record_suggestion(_suggestion("b"), TEXT, "api")  # same primary key
    monkeypatch.undo()
    # the connection went back to the pool without a half-open transaction: writes go on
    audit_id = store.record_suggestion(_suggestion("c"), TEXT, "api")
    with store._session() as session:
        assert session.get(SuggestionRow, audit_id) is not None
    assert sorted(r[2] for r in _rows(tmp_path / "dup.db")) == ["a", "c"]  # note_id of each stored row
    store.close()
