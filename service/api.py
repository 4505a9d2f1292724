"""The JSON API: health, version, suggest, batch and coder feedback.

Routes only translate HTTP to engine and store calls. Every suggestion shown is stored
(note hash, not text, by default) and answered with its `audit_id`, which the feedback
routes refer to.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from fastapi import APIRouter, Body, HTTPException, Query, Request, status
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError

from dermcoder import __version__
from dermcoder.coding.icd import ICD_CODE_SET
from dermcoder.coding.tables import NCCI_QUARTER
from dermcoder.contracts import NoteIn, Suggestion
from dermcoder.engine import Engine
from dermcoder.errors import DermCoderError, InputError, NoteTooLongError
from dermcoder.fhir import suggestion_to_bundle
from dermcoder.jsonl import describe_validation_error
from dermcoder.service.coding_lane import in_lane
from dermcoder.service.deps import EngineDep, SettingsDep, StoreDep
from dermcoder.service.schemas import (
    ERROR_RESPONSES,
    ErrorResponse,
    FeedbackRecord,
    FeedbackRequest,
    FeedbackStored,
    Health,
    SuggestRequest,
    SuggestResponse,
    VersionInfo,
)
from dermcoder.service.store import DecisionError, FeedbackStore, UnknownAuditIdError
from dermcoder.settings import Settings

CPT_CODE_SET = "CPT 2025"

router = APIRouter(responses=ERROR_RESPONSES)


def _year(text: str, pattern: str) -> int | None:
    match = re.search(pattern, text)
    return int(match.group(1)) if match else None


def model_card(engine: Engine) -> dict | None:
    """The card (meta.json) of the scorer the engine runs; None when it runs rules only."""
    return engine.scorer.meta if engine.scorer is not None else None


def check_note(text: str, settings: Settings) -> None:
    """Refuse a note over the configured size before it reaches the pipeline."""
    if len(text) > settings.max_note_chars:
        raise NoteTooLongError(f"note is {len(text):,} characters; the limit is {settings.max_note_chars:,} "
                         "(DERMCODER_MAX_NOTE_CHARS)")  # fmt: skip


def suggest_and_record(
    engine: Engine, store: FeedbackStore, settings: Settings, text: str, note_id: str, source: str
) -> tuple[Suggestion, str]:
    """Code one note and store the audit record; (suggestion, audit id)."""
    check_note(text, settings)
    suggestion = engine.suggest(text, note_id)
    return suggestion, store.record_suggestion(suggestion, text, source)


def with_audit_id(suggestion: Suggestion, audit_id: str) -> SuggestResponse:
    """The answer: the suggestion's own field values (its validated parts are taken as they
    are; dumping them to dicts and validating them again was ~0.1 ms per request) and the id."""
    return SuggestResponse(**dict(suggestion), audit_id=audit_id)


@router.get("/health", response_model=Health, tags=["service"])
def health() -> Health:
    """Liveness: the process is up and the engine is built."""
    return Health(status="ok")


@router.get("/version", response_model=VersionInfo, response_model_exclude_none=True, tags=["service"])
def version(engine: EngineDep) -> VersionInfo:
    """Versions of DermCoder, the code sets (with their years) and the model card."""
    return VersionInfo(
        dermcoder=__version__,
        cpt_code_set=CPT_CODE_SET,
        cpt_year=_year(CPT_CODE_SET, r"(\d{4})") or 0,
        icd10cm_code_set=ICD_CODE_SET,
        icd10cm_fiscal_year=_year(ICD_CODE_SET, r"FY(\d{4})"),
        ncci_quarter=NCCI_QUARTER,
        model=engine.model_info.model_dump(),
        model_card=model_card(engine),
    )


@router.post(
    "/v1/suggest",
    response_model=SuggestResponse,
    response_model_exclude_none=True,
    tags=["coding"],
    responses={200: {"content": {"application/fhir+json": {}},
                     "description": "The suggestion; with ?format=fhir a FHIR Bundle (Claim, Procedure, Condition)"}},
)  # fmt: skip
async def suggest(
    request: Request,
    body: SuggestRequest,
    engine: EngineDep,
    store: StoreDep,
    settings: SettingsDep,
    format: Literal["json", "fhir"] = Query("json", description="json: contracts section 2; fhir: a FHIR Bundle"),
) -> SuggestResponse | Response:
    """Code one note (contracts section 2) and store it; the answer carries `audit_id`."""
    return await in_lane(request, _suggest, body, engine, store, settings, format)


def _suggest(body: SuggestRequest, engine: Engine, store: FeedbackStore, settings: Settings,
             format: Literal["json", "fhir"]) -> SuggestResponse | Response:  # fmt: skip
    """POST /v1/suggest's work, in the coding lane (service/coding_lane.py)."""
    if not body.text.strip():
        raise HTTPException(status_code=422, detail="the note has no text")
    try:
        suggestion, audit_id = suggest_and_record(engine, store, settings, body.text, body.id, "api")
    except NoteTooLongError as exc:
        raise HTTPException(status_code=413, detail=str(exc)) from None
    except InputError as exc:
        raise HTTPException(status_code=422, detail=str(exc)) from None
    if format == "fhir":
        bundle = suggestion_to_bundle(suggestion, body.id, audit_id=audit_id)
        return JSONResponse(bundle, media_type="application/fhir+json")
    return with_audit_id(suggestion, audit_id)


def _error_record(engine: Engine, position: int, message: str, raw: Any) -> SuggestResponse:
    raw_id = raw.get("id") if isinstance(raw, dict) and isinstance(raw.get("id"), str) and raw["id"] else None
    return SuggestResponse(id=raw_id or f"note-{position}", model=engine.model_info, error=message, line=position)


@router.post(
    "/v1/batch",
    response_model=list[SuggestResponse],
    response_model_exclude_none=True,
    tags=["coding"],
    responses={413: {"model": ErrorResponse, "description": "more notes than DERMCODER_BATCH_MAX_NOTES, or a body over DERMCODER_MAX_BODY_BYTES"}},
)
def batch(
    engine: EngineDep,
    store: StoreDep,
    settings: SettingsDep,
    notes: list[Any] = Body(..., min_length=1, description="Notes to code: a JSON list of {id, text} objects."),
) -> list[SuggestResponse]:
    """Code a list of notes: one result per note, same order; a bad note gets an error record."""
    if len(notes) > settings.batch_max_notes:
        raise HTTPException(status_code=413, detail=f"{len(notes)} notes in one batch; the limit is "
                            f"{settings.batch_max_notes} (DERMCODER_BATCH_MAX_NOTES)")  # fmt: skip
    if not notes:
        raise HTTPException(status_code=422, detail="the batch is empty: send a list of {id, text} objects")
    results: list[SuggestResponse | None] = [None] * len(notes)
    valid: list[tuple[int, NoteIn]] = []
    for i, raw in enumerate(notes):
        position = i + 1
        if not isinstance(raw, dict):
            results[i] = _error_record(engine, position, f"note {position}: expected an object with id and text, "
                                       f"got {type(raw).__name__}", raw)  # fmt: skip
            continue
        try:
            note = NoteIn.model_validate(raw)
            check_note(note.text, settings)
        except ValidationError as exc:
            results[i] = _error_record(engine, position, f"note {position}: {describe_validation_error(exc)}", raw)
            continue
        except InputError as exc:
            results[i] = _error_record(engine, position, f"note {position}: {exc}", raw)
            continue
        valid.append((i, note))
    try:
        coded = list(engine.suggest_many(note for _, note in valid))
    except DermCoderError:
        coded = []  # one note broke an engine limit: code one by one so only that note fails
    for k, (i, note) in enumerate(valid):
        try:
            suggestion = coded[k] if coded else engine.suggest(note.text, note.id)
        except DermCoderError as exc:
            results[i] = _error_record(engine, i + 1, f"note {i + 1}: {exc}", {"id": note.id})
            continue
        audit_id = store.record_suggestion(suggestion, note.text, "api")
        results[i] = with_audit_id(suggestion, audit_id)
    return [r for r in results if r is not None]


@router.post(
    "/v1/feedback",
    response_model=FeedbackStored,
    status_code=status.HTTP_201_CREATED,
    tags=["feedback"],
    responses={404: {"model": ErrorResponse, "description": "unknown audit_id"}, 422: {"model": ErrorResponse, "description": "bad body or codes not suggested"}},
)
def feedback(body: FeedbackRequest, store: StoreDep) -> FeedbackStored:
    """Store a coder's accept / override / reject decisions on a stored suggestion's codes."""
    try:
        stored = store.record_decisions(body.audit_id, body.decisions, body.source)
    except UnknownAuditIdError as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from None
    except DecisionError as exc:
        raise HTTPException(status_code=422, detail=str(exc)) from None
    return FeedbackStored(stored=stored)


@router.get("/v1/feedback/{audit_id}", response_model=FeedbackRecord, tags=["feedback"],
            responses={404: {"model": ErrorResponse, "description": "unknown audit_id"}})  # fmt: skip
def feedback_for(audit_id: str, store: StoreDep) -> FeedbackRecord:
    """Every decision stored for an audit id, oldest first."""
    try:
        decisions = store.decisions_for(audit_id)
    except UnknownAuditIdError as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from None
    return FeedbackRecord(audit_id=audit_id, decisions=decisions)
