"""The feedback and audit store: what was suggested, and what the coder decided.

Every suggestion a surface shows (API, CDS Hooks, the coder's page) is recorded with the
note's SHA-256, never its text unless DERMCODER_STORE_NOTE_TEXT=1 (notes are PHI). Coder
decisions (accepted / overridden / rejected, per code) point at that record. The store
also keeps what CDS Hooks needs between calls: which card showed which code, and which
JWT ids were already used.

SQLite by default (one file under the data directory, WAL so readers never block the
writer, and every write transaction taken with BEGIN IMMEDIATE so concurrent writers
queue on the busy timeout instead of failing); any SQLAlchemy URL (PostgreSQL...) works.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import (
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
    TypeDecorator,
    create_engine,
    delete,
    event,
    select,
)
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, IntegrityError, SQLAlchemyError
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, sessionmaker
from sqlalchemy.pool import StaticPool

from dermcoder.coding.icd import DOTTED as ICD_CODE
from dermcoder.contracts import CPT_CODE, MODIFIER, GoldCptLine, LabeledNote, Suggestion
from dermcoder.errors import InputError
from dermcoder.settings import Settings, get_settings

SOURCE = re.compile(r"^[a-z][a-z0-9_-]{0,19}$")
# SQLite waits this long for another writer before giving up (milliseconds).
BUSY_TIMEOUT_MS = 30_000


class StoreError(InputError):
    """The store cannot be opened or used (bad URL, unwritable directory...)."""


class UnknownAuditIdError(InputError):
    """A decision or lookup names an audit id the store has never issued."""

    def __init__(self, audit_id: str):
        self.audit_id = audit_id
        super().__init__(f"unknown audit_id {audit_id!r}: no stored suggestion has this id")


class DecisionError(InputError):
    """Decisions that do not fit the stored suggestion; the message lists every problem."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("; ".join(problems))


# ---------------------------------------------------------------- records


class Decision(BaseModel):
    """A coder's decision on one suggested code (the body items of POST /v1/feedback).

    `overridden` means "bill something else instead": a replacement code, or (CPT) other
    units or modifiers for the same code. `rejected` means "do not bill this line".
    """

    model_config = ConfigDict(extra="forbid")

    system: Literal["CPT", "ICD10CM"]
    code: str = Field(min_length=1, max_length=10)
    decision: Literal["accepted", "overridden", "rejected"]
    replacement_code: str | None = Field(default=None, max_length=10)
    units: int | None = Field(default=None, ge=1, le=999)
    modifiers: list[str] | None = Field(default=None, max_length=4)
    coder: str | None = Field(default=None, max_length=200)
    reason: str | None = Field(default=None, max_length=1000)

    @model_validator(mode="after")
    def _consistent(self) -> Decision:
        shape = CPT_CODE if self.system == "CPT" else ICD_CODE
        what = "a CPT (5 digits) or HCPCS (letter + 4 digits) code" if self.system == "CPT" else (
            "an ICD-10-CM code with its dot, e.g. C44.311"
        )
        problems = []
        for name in ("code", "replacement_code"):
            value = getattr(self, name)
            if value is not None and not shape.match(value):
                problems.append(f"{name} {value!r} is not {what}")
        for mod in self.modifiers or []:
            if not MODIFIER.match(mod):
                problems.append(f"modifier {mod!r} is not two characters (e.g. '25', '59', 'XS')")
        if self.system == "ICD10CM" and (self.units is not None or self.modifiers is not None):
            problems.append("units and modifiers apply to CPT lines only")
        if self.decision == "overridden":
            if self.system == "ICD10CM" and self.replacement_code is None:
                problems.append("an overridden ICD-10-CM code needs replacement_code")
            if self.system == "CPT" and self.replacement_code is None and self.units is None and self.modifiers is None:
                problems.append("an overridden CPT line needs replacement_code, units or modifiers (what to bill instead)")
        elif self.replacement_code is not None:
            problems.append(f"replacement_code is only allowed when decision is 'overridden', not {self.decision!r}")
        if problems:
            raise ValueError("; ".join(problems))
        return self


@dataclass
class ExportResult:
    """What `export_feedback` produced and why notes were left out."""

    notes: list[LabeledNote] = field(default_factory=list)
    skipped_no_text: int = 0
    skipped_no_decision: int = 0
    skipped_undecided: int = 0

    @property
    def skipped(self) -> int:
        """Every stored suggestion that did not become a labeled note."""
        return self.skipped_no_text + self.skipped_no_decision + self.skipped_undecided


# ---------------------------------------------------------------- tables


class _UTCDateTime(TypeDecorator):
    """Datetimes stored as UTC and read back timezone-aware (SQLite drops the zone)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None:
            value = value.astimezone(timezone.utc).replace(tzinfo=None)
        return value

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value


class _Base(DeclarativeBase):
    pass


class SuggestionRow(_Base):
    """One suggestion shown to someone: the audit record."""

    __tablename__ = "suggestions"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(_UTCDateTime, index=True)
    note_id: Mapped[str] = mapped_column(String(200))
    note_hash: Mapped[str] = mapped_column(String(64), index=True)
    note_text: Mapped[str | None] = mapped_column(Text, nullable=True)
    source: Mapped[str] = mapped_column(String(20))
    model_name: Mapped[str] = mapped_column(String(100))
    model_version: Mapped[str] = mapped_column(String(50))
    suggestion_json: Mapped[str] = mapped_column(Text)


class DecisionRow(_Base):
    """One coder decision on one code of a stored suggestion."""

    __tablename__ = "decisions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    suggestion_id: Mapped[str] = mapped_column(ForeignKey("suggestions.id"), index=True)
    system: Mapped[str] = mapped_column(String(8))
    code: Mapped[str] = mapped_column(String(10))
    decision: Mapped[str] = mapped_column(String(10))
    replacement_code: Mapped[str | None] = mapped_column(String(10), nullable=True)
    units: Mapped[int | None] = mapped_column(Integer, nullable=True)
    modifiers: Mapped[str | None] = mapped_column(Text, nullable=True)  # JSON list
    coder: Mapped[str | None] = mapped_column(String(200), nullable=True)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    source: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(_UTCDateTime)


class CardRow(_Base):
    """Which code a CDS Hooks card showed, so the EHR's feedback can be tied back to it."""

    __tablename__ = "cds_cards"

    card_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    suggestion_id: Mapped[str] = mapped_column(ForeignKey("suggestions.id"), index=True)
    system: Mapped[str] = mapped_column(String(8))
    code: Mapped[str] = mapped_column(String(10))


class JtiRow(_Base):
    """A JWT id already used; kept until the token expires so a replay is refused."""

    __tablename__ = "seen_jtis"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(_UTCDateTime, index=True)


# ---------------------------------------------------------------- engine


def _is_memory(url) -> bool:
    return url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:")


def _make_engine(url_text: str) -> Engine:
    # hide_parameters everywhere: SQL logging at INFO and error messages would otherwise
    # print the bound values, which include the note's text when it is stored.
    try:
        url = make_url(url_text)
    except ArgumentError:
        raise StoreError(f"DERMCODER_DATABASE_URL {url_text!r} is not a SQLAlchemy URL "
                         "(e.g. sqlite:////path/dermcoder.db or postgresql+psycopg://user@host/db)") from None  # fmt: skip
    shown = url.render_as_string(hide_password=True)
    if url.get_backend_name() != "sqlite":
        try:
            return create_engine(url, pool_pre_ping=True, hide_parameters=True)
        except (ArgumentError, ImportError, SQLAlchemyError) as exc:
            raise StoreError(f"cannot use database {shown}: {exc}") from None
    if _is_memory(url):
        # One shared connection, or every session would see its own empty database.
        engine = create_engine(url, poolclass=StaticPool, connect_args={"check_same_thread": False},
                               hide_parameters=True)  # fmt: skip
    else:
        path = Path(url.database).expanduser()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create the data directory {path.parent}: {exc.strerror}") from None
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": BUSY_TIMEOUT_MS / 1000}, hide_parameters=True
        )

    @event.listens_for(engine, "connect")
    def _sqlite_connect(dbapi_connection, _record):
        # Hand transaction control to SQLAlchemy's "begin" hook below (pysqlite's own
        # deferred BEGIN lets two writers deadlock-upgrade and fail without waiting).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        if not _is_memory(url):
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _sqlite_begin(conn):
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


class _SqliteInsert:
    """The audit row's INSERT on SQLite, compiled once and run on a pooled DBAPI connection.

    The Core INSERT through a SQLAlchemy Connection cost ~0.25 ms per request (the
    connection wrapper, its begin/commit events, statement cache lookup, result object);
    the same SQL with the same bound values (each column's own bind processor, so
    `created_at` is stored exactly as the Core INSERT stored it) in the same
    `BEGIN IMMEDIATE` ... `COMMIT` transaction costs ~0.1 ms. Durability is unchanged: the
    connection comes from the engine's pool with the pragmas of `_make_engine` (WAL,
    synchronous=NORMAL, busy timeout) and the row is committed before the id is returned.
    """

    def __init__(self, engine: Engine) -> None:
        table = SuggestionRow.__table__
        compiled = table.insert().compile(dialect=engine.dialect, column_keys=[c.key for c in table.columns])
        self.sql = str(compiled)
        self.columns = tuple(compiled.positiontup or ())
        dialect = engine.dialect
        self.processors = tuple(table.c[name].type.dialect_impl(dialect).bind_processor(dialect) for name in self.columns)

    def params(self, row: dict) -> tuple:
        return tuple(row[name] if process is None else process(row[name]) for name, process in zip(self.columns, self.processors))

    def __call__(self, engine: Engine, row: dict) -> None:
        params = self.params(row)
        connection = engine.raw_connection()
        try:
            cursor = connection.cursor()
            try:
                cursor.execute("BEGIN IMMEDIATE")  # what the engine's "begin" hook issues
                cursor.execute(self.sql, params)
                cursor.execute("COMMIT")
            finally:
                cursor.close()
        finally:
            # back to the pool, whose reset on return rolls back a transaction a failed
            # INSERT or COMMIT left open
            connection.close()


def note_hash(text: str) -> str:
    """SHA-256 hex of the note's UTF-8 bytes: links records of one note without keeping it."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _check_source(source: str) -> str:
    if not SOURCE.match(source or ""):
        raise InputError(f"source {source!r} must be a short lowercase word such as 'api', 'cds' or 'page'")
    return source


# ---------------------------------------------------------------- the store


class FeedbackStore:
    """Suggestions shown and decisions taken, in one SQL database."""

    def __init__(self, url: str, store_note_text: bool = False):
        self.url = url
        self.store_note_text = store_note_text
        self.engine = _make_engine(url)
        self._session = sessionmaker(self.engine, expire_on_commit=False)
        self._sqlite_insert = _SqliteInsert(self.engine) if self.engine.dialect.name == "sqlite" else None
        try:
            _Base.metadata.create_all(self.engine)
        except SQLAlchemyError as exc:
            shown = make_url(url).render_as_string(hide_password=True)
            reason = getattr(exc, "orig", None) or exc
            raise StoreError(f"cannot open the feedback store {shown}: {reason}") from None

    def close(self) -> None:
        """Release the database connections."""
        self.engine.dispose()

    # ------------------------------------------------------------ writes

    def record_suggestion(self, suggestion: Suggestion, note_text: str, source: str) -> str:
        """Store a suggestion shown to someone; return its audit id (uuid4 hex).

        The note's text is kept only when the store was opened with store_note_text.
        """
        _check_source(source)
        row = {
            "id": uuid.uuid4().hex,
            "created_at": _now(),
            "note_id": suggestion.id[:200],
            "note_hash": note_hash(note_text),
            "note_text": note_text if self.store_note_text else None,
            "source": source,
            "model_name": suggestion.model.pipeline,
            "model_version": suggestion.model.version,
            "suggestion_json": json.dumps(self._stored_form(suggestion), ensure_ascii=False),
        }
        if self._sqlite_insert is not None:
            self._sqlite_insert(self.engine, row)
        else:
            # One Core INSERT (the same row, the same column types): the ORM's unit of work
            # for a single new object cost ~1 ms of the time to answer POST /v1/suggest.
            with self.engine.begin() as conn:
                conn.execute(SuggestionRow.__table__.insert(), row)
        return row["id"]

    def _stored_form(self, suggestion: Suggestion) -> dict:
        data = suggestion.model_dump(exclude_none=True)
        # Evidence quotes are pieces of the note: without the note's text they are not kept
        # either (offsets and labels stay, so a stored note can be re-highlighted).
        return data if self.store_note_text else _without_quotes(data)

    def record_decisions(self, audit_id: str, decisions: list[Decision], source: str) -> int:
        """Store coder decisions on a stored suggestion; return how many were stored.

        Raises UnknownAuditIdError for an id never issued, and DecisionError (listing every
        problem) when a decision names a code the suggestion did not offer.
        """
        _check_source(source)
        if not decisions:
            raise DecisionError(["no decisions given"])
        now = _now()
        with self._session.begin() as session:
            row = session.get(SuggestionRow, audit_id)
            if row is None:
                raise UnknownAuditIdError(audit_id)
            offered = _offered_codes(Suggestion.model_validate_json(row.suggestion_json))
            problems = [
                f"decisions.{i}: {d.system} code {d.code} was not suggested for this note "
                f"(suggested: {', '.join(sorted(offered[d.system])) or 'none'})"
                for i, d in enumerate(decisions)
                if d.code not in offered[d.system]
            ]
            if problems:
                raise DecisionError(problems)
            for d in decisions:
                session.add(DecisionRow(
                    suggestion_id=audit_id, system=d.system, code=d.code, decision=d.decision,
                    replacement_code=d.replacement_code, units=d.units,
                    modifiers=json.dumps(d.modifiers) if d.modifiers is not None else None,
                    coder=d.coder, reason=d.reason, source=source, created_at=now,
                ))  # fmt: skip
        return len(decisions)

    def record_cards(self, audit_id: str, cards: list[tuple[str, str, str]]) -> None:
        """Remember which (system, code) each CDS Hooks card uuid showed."""
        with self._session.begin() as session:
            for card_id, system, code in cards:
                session.add(CardRow(card_id=card_id, suggestion_id=audit_id, system=system, code=code))

    def remember_jti(self, issuer: str, jti: str, expires_at: datetime) -> bool:
        """Record a JWT id; False when it was already used (a replay). Expired ids are purged."""
        key = hashlib.sha256(f"{issuer}\0{jti}".encode()).hexdigest()
        try:
            with self._session.begin() as session:
                session.execute(delete(JtiRow).where(JtiRow.expires_at < _now()))
                if session.get(JtiRow, key) is not None:
                    return False
                session.add(JtiRow(key=key, expires_at=expires_at))
        except IntegrityError:
            return False  # another worker stored the same id first
        return True

    # ------------------------------------------------------------ reads

    def card(self, card_id: str) -> tuple[str, str, str] | None:
        """(audit id, system, code) shown by a CDS Hooks card, or None if unknown."""
        with self._session() as session:
            row = session.get(CardRow, card_id)
            return (row.suggestion_id, row.system, row.code) if row else None

    def suggestion_record(self, audit_id: str) -> dict:
        """The stored audit record (without note text). Raises UnknownAuditIdError."""
        with self._session() as session:
            row = session.get(SuggestionRow, audit_id)
            if row is None:
                raise UnknownAuditIdError(audit_id)
            return {
                "audit_id": row.id, "created_at": row.created_at.isoformat(), "note_id": row.note_id,
                "note_hash": row.note_hash, "note_text_stored": row.note_text is not None, "source": row.source,
                "model_name": row.model_name, "model_version": row.model_version,
                "suggestion": json.loads(row.suggestion_json),
            }  # fmt: skip

    def decisions_for(self, audit_id: str) -> list[dict]:
        """Every decision stored for an audit id, oldest first. Raises UnknownAuditIdError."""
        with self._session() as session:
            if session.get(SuggestionRow, audit_id) is None:
                raise UnknownAuditIdError(audit_id)
            rows = session.scalars(
                select(DecisionRow).where(DecisionRow.suggestion_id == audit_id).order_by(DecisionRow.id)
            ).all()
            return [_decision_dict(r) for r in rows]

    def export_feedback(self) -> ExportResult:
        """Labeled notes (contracts section 1) from every fully decided suggestion with text.

        A suggestion is exported when its text was stored, it has at least one decision and
        every CPT line it suggested has one. The latest decision on a code wins.
        """
        result = ExportResult()
        with self._session() as session:
            rows = session.scalars(select(SuggestionRow).order_by(SuggestionRow.created_at, SuggestionRow.id))
            for row in rows:
                decided = session.scalars(
                    select(DecisionRow).where(DecisionRow.suggestion_id == row.id).order_by(DecisionRow.id)
                ).all()
                if row.note_text is None:
                    result.skipped_no_text += 1
                    continue
                if not decided:
                    result.skipped_no_decision += 1
                    continue
                note = _labeled_note(row, Suggestion.model_validate_json(row.suggestion_json), decided)
                if note is None:
                    result.skipped_undecided += 1
                else:
                    result.notes.append(note)
        return result

    def export_labeled(self) -> tuple[list[LabeledNote], int]:
        """(labeled notes, number of stored suggestions skipped); see export_feedback."""
        result = self.export_feedback()
        return result.notes, result.skipped


# ---------------------------------------------------------------- helpers


def _without_quotes(value):
    if isinstance(value, dict):
        if {"start", "end", "text", "label"} <= value.keys():
            return {**value, "text": ""}
        return {k: _without_quotes(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_quotes(v) for v in value]
    return value


def _offered_codes(suggestion: Suggestion) -> dict[str, set[str]]:
    offered: dict[str, set[str]] = {"CPT": {c.code for c in suggestion.cpt}, "ICD10CM": {c.code for c in suggestion.icd10}}
    for alt in suggestion.alternatives:
        offered[alt.system].add(alt.code)
    return offered


def _decision_dict(row: DecisionRow) -> dict:
    return {
        "system": row.system, "code": row.code, "decision": row.decision, "replacement_code": row.replacement_code,
        "units": row.units, "modifiers": json.loads(row.modifiers) if row.modifiers is not None else None,
        "coder": row.coder, "reason": row.reason, "source": row.source, "created_at": row.created_at.isoformat(),
    }  # fmt: skip


def _labeled_note(row: SuggestionRow, suggestion: Suggestion, decided: list[DecisionRow]) -> LabeledNote | None:
    latest: dict[tuple[str, str], DecisionRow] = {}
    for d in decided:  # ordered by id: a later decision on a code replaces an earlier one
        latest[(d.system, d.code)] = d
    if any(("CPT", c.code) not in latest for c in suggestion.cpt):
        return None

    cpt: list[GoldCptLine] = []

    def add_cpt(code: str, units: int, modifiers: list[str]) -> None:
        if all(line.code != code for line in cpt):
            cpt.append(GoldCptLine(code=code, units=units, modifiers=modifiers))

    def billed(d: DecisionRow, units: int, modifiers: list[str]) -> None:
        if d.decision == "rejected":
            return
        mods = json.loads(d.modifiers) if d.modifiers is not None else modifiers
        code = d.replacement_code if d.decision == "overridden" and d.replacement_code else d.code
        add_cpt(code, d.units or units, mods)

    for line in suggestion.cpt:
        billed(latest[("CPT", line.code)], line.units, line.modifiers)
    # A coder may accept a lower-ranked alternative: it joins the claim after the lines.
    for alt in suggestion.alternatives:
        if alt.system == "CPT" and ("CPT", alt.code) in latest:
            billed(latest[("CPT", alt.code)], alt.units or 1, [])

    icd: list[str] = []
    undecided_icd: list[str] = []
    for dx in suggestion.icd10:
        d = latest.get(("ICD10CM", dx.code))
        if d is None:
            # The coder decided every CPT line and left this code alone: keep it, and say so.
            undecided_icd.append(dx.code)
            code = dx.code
        elif d.decision == "rejected":
            continue
        else:
            code = d.replacement_code if d.decision == "overridden" and d.replacement_code else d.code
        if code not in icd:
            icd.append(code)
    for alt in suggestion.alternatives:
        d = latest.get(("ICD10CM", alt.code))
        if alt.system == "ICD10CM" and d is not None and d.decision != "rejected":
            code = d.replacement_code if d.decision == "overridden" and d.replacement_code else d.code
            if code not in icd:
                icd.append(code)

    notes = f"coder feedback, audit id {row.id}, model {row.model_name} {row.model_version}"
    if undecided_icd:
        notes += f"; ICD-10-CM kept without a decision: {', '.join(undecided_icd)}"
    return LabeledNote(id=f"fb-{row.id}", text=row.note_text, cpt=cpt, icd10=icd, source="feedback", notes=notes)


def create_store_from_settings(settings: Settings | None = None) -> FeedbackStore:
    """Open the store the settings name (SQLite under DERMCODER_DATA_DIR by default)."""
    settings = settings or get_settings()
    return FeedbackStore(settings.store_url, store_note_text=settings.store_note_text)
