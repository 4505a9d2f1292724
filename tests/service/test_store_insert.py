"""record_suggestion's Core INSERT stores exactly the row the ORM stored before."""

from __future__ import annotations

import sqlite3

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
