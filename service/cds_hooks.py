"""CDS Hooks 2.0 endpoints: discovery, the coding services and their feedback.

Two services show the same coding cards in the EHR sidebar: one on `encounter-discharge`
(code the visit as it closes) and one on `patient-view`. Every call is stored as a
suggestion (source 'cds') with a record of which card showed which code, so the EHR's
feedback (accepted / overridden) becomes coder decisions in the store.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, HTTPException
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from dermcoder.errors import InputError, NoteTooLongError
from dermcoder.jsonl import describe_validation_error
from dermcoder.service.api import suggest_and_record
from dermcoder.service.cds_cards import NoteMalformed, NoteUnavailable, cards_for, note_from_request
from dermcoder.service.deps import EngineDep, SettingsDep, StoreDep
from dermcoder.service.schemas import ERROR_RESPONSES, ErrorResponse
from dermcoder.service.jwt_auth import Client, require_cds_client
from dermcoder.service.store import Decision, DecisionError, UnknownAuditIdError

PROCEDURE_NOTE = "http://loinc.org|28570-0"  # LOINC: Procedure note

SERVICES: dict[str, dict] = {
    "dermcoder-discharge": {
        "hook": "encounter-discharge",
        "title": "DermCoder: procedure coding at discharge",
        "description": "Suggests CPT and ICD-10-CM codes, with the evidence in the procedure note, as the encounter closes.",
        "prefetch": {"note": "DocumentReference?encounter={{context.encounterId}}&type=" + PROCEDURE_NOTE
                             + "&_sort=-date&_count=1"},  # fmt: skip
        "usageRequirements": "The procedure note as a DocumentReference with a base64 text/plain attachment.",
    },
    "dermcoder-chart": {
        "hook": "patient-view",
        "title": "DermCoder: procedure coding from the latest note",
        "description": "Suggests CPT and ICD-10-CM codes for the patient's most recent procedure note.",
        "prefetch": {"note": "DocumentReference?patient={{context.patientId}}&type=" + PROCEDURE_NOTE
                             + "&_sort=-date&_count=1"},  # fmt: skip
        "usageRequirements": "The procedure note as a DocumentReference with a base64 text/plain attachment.",
    },
}

router = APIRouter(tags=["cds-hooks"], responses=ERROR_RESPONSES)
ClientDep = Annotated[Client | None, Depends(require_cds_client)]


class HookRequest(BaseModel):
    """The fields of a CDS Hooks request this service reads (others are kept, unread)."""

    model_config = ConfigDict(extra="allow")

    hook: str
    hookInstance: str = Field(min_length=1)
    context: dict[str, Any]
    prefetch: dict[str, Any] | None = None
    fhirServer: str | None = None


class AcceptedSuggestion(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str


class OverrideReason(BaseModel):
    model_config = ConfigDict(extra="allow")

    reason: dict | None = None
    userComment: str | None = Field(default=None, max_length=1000)


class FeedbackItem(BaseModel):
    """One user interaction with a card (CDS Hooks 2.0 feedback)."""

    model_config = ConfigDict(extra="allow")

    card: str = Field(min_length=1, max_length=64)
    outcome: Literal["accepted", "overridden"]
    acceptedSuggestions: list[AcceptedSuggestion] | None = None
    overrideReason: OverrideReason | None = None
    outcomeTimestamp: datetime


class HookFeedback(BaseModel):
    model_config = ConfigDict(extra="allow")

    feedback: list[FeedbackItem] = Field(min_length=1, max_length=500)


def _service(service_id: str) -> dict:
    if service_id not in SERVICES:
        raise HTTPException(status_code=404, detail=f"no CDS service {service_id!r}; services: {', '.join(SERVICES)}")
    return SERVICES[service_id]


@router.get("/cds-services")
def discovery() -> dict:
    """CDS Hooks discovery: the services, their hooks and prefetch templates."""
    return {"services": [{"id": sid, **spec} for sid, spec in SERVICES.items()]}


@router.post("/cds-services/{service_id}", responses={400: {"model": ErrorResponse, "description": "not a CDS Hooks request, or a malformed note"},
                     401: {"model": ErrorResponse, "description": "JWT refused"}, 404: {"model": ErrorResponse, "description": "unknown service"},
                     412: {"model": ErrorResponse, "description": "note unavailable"}})  # fmt: skip
def call_service(
    service_id: str,
    engine: EngineDep,
    store: StoreDep,
    settings: SettingsDep,
    _client: ClientDep,
    body: Any = Body(..., description="A CDS Hooks request (hook, hookInstance, context, prefetch)."),
) -> dict:
    """Code the note in the request and answer with one card per suggested code."""
    spec = _service(service_id)
    try:
        request = HookRequest.model_validate(body)
    except ValidationError as exc:
        raise HTTPException(status_code=400, detail=f"not a CDS Hooks request: {describe_validation_error(exc)}") from None
    if request.hook != spec["hook"]:
        raise HTTPException(status_code=400, detail=f"service {service_id!r} answers the {spec['hook']!r} hook, "
                            f"not {request.hook!r}")  # fmt: skip
    try:
        note = note_from_request(request.model_dump())
    except NoteUnavailable as exc:
        raise HTTPException(status_code=412, detail=str(exc)) from None
    except NoteMalformed as exc:
        raise HTTPException(status_code=400, detail=str(exc)) from None
    try:
        suggestion, audit_id = suggest_and_record(engine, store, settings, note.text, note.note_id, "cds")
    except NoteTooLongError as exc:
        raise HTTPException(status_code=413, detail=str(exc)) from None
    except InputError as exc:
        raise HTTPException(status_code=400, detail=str(exc)) from None
    cards = cards_for(suggestion, request.context)
    store.record_cards(audit_id, [(c.body["uuid"], c.system, c.code) for c in cards])
    return {"cards": [c.body for c in cards], "systemActions": []}


def _reason(item: FeedbackItem) -> str | None:
    if item.overrideReason is None:
        return None
    parts = []
    reason = item.overrideReason.reason or {}
    if reason.get("code") or reason.get("display"):
        parts.append(str(reason.get("display") or reason.get("code")))
    if item.overrideReason.userComment:
        parts.append(item.overrideReason.userComment)
    return "; ".join(parts)[:1000] or None


@router.post("/cds-services/{service_id}/feedback", responses={
    400: {"model": ErrorResponse, "description": "not CDS Hooks feedback"}, 401: {"model": ErrorResponse, "description": "JWT refused"},
    404: {"model": ErrorResponse, "description": "unknown service or card"}})  # fmt: skip
def feedback(service_id: str, store: StoreDep, _client: ClientDep, body: Any = Body(...)) -> dict:
    """Store what the user did with our cards: accepted -> accepted, overridden -> rejected."""
    _service(service_id)
    try:
        request = HookFeedback.model_validate(body)
    except ValidationError as exc:
        raise HTTPException(status_code=400, detail=f"not CDS Hooks feedback: {describe_validation_error(exc)}") from None
    by_audit: dict[str, list[Decision]] = {}
    unknown = []
    for item in request.feedback:
        shown = store.card(item.card)
        if shown is None:
            unknown.append(item.card)
            continue
        audit_id, system, code = shown
        if system == "NOTE":
            continue  # the review card names no code: nothing to decide
        # The EHR's "overridden" means the user did not take the card's code.
        decision = "accepted" if item.outcome == "accepted" else "rejected"
        by_audit.setdefault(audit_id, []).append(
            Decision(system=system, code=code, decision=decision, reason=_reason(item)))  # fmt: skip
    if unknown:
        raise HTTPException(status_code=404, detail=f"unknown card uuid(s): {', '.join(unknown)}")
    stored = 0
    try:
        for audit_id, decisions in by_audit.items():
            stored += store.record_decisions(audit_id, decisions, "cds")
    except (UnknownAuditIdError, DecisionError) as exc:
        raise HTTPException(status_code=400, detail=str(exc)) from None
    return {"stored": stored}
