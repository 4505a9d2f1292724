"""CDS Hooks 2.0 translation: the note out of a hook request, cards out of a suggestion.

Pure functions, no HTTP: `note_from_request` finds the note text (prefetched
DocumentReference with a base64 text/plain attachment, or the context), and
`cards_for` turns one Suggestion into cards, one per CPT line and per ICD-10-CM code,
each with a suggestion whose action creates the FHIR Procedure or Condition.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from dataclasses import dataclass

from dermcoder.contracts import CptSuggestion, IcdSuggestion, LesionFrame, Suggestion

CPT_SYSTEM = "http://www.ama-assn.org/go/cpt"
ICD10CM_SYSTEM = "http://hl7.org/fhir/sid/icd-10-cm"
OVERRIDE_SYSTEM = "urn:dermcoder:override-reason"
SUMMARY_MAX = 139  # the spec asks for fewer than 140 characters
OVERRIDE_REASONS = [
    {"system": OVERRIDE_SYSTEM, "code": "documentation-differs", "display": "The note does not support this code"},
    {"system": OVERRIDE_SYSTEM, "code": "coded-elsewhere", "display": "Already coded or billed elsewhere"},
    {"system": OVERRIDE_SYSTEM, "code": "other-code", "display": "A different code applies"},
]


class NoteUnavailable(Exception):
    """The request carries no readable note: the service answers 412."""


class NoteMalformed(Exception):
    """The request carries a note that cannot be decoded: the service answers 400."""


@dataclass
class Note:
    """The note text and an id for it (the DocumentReference id when there is one)."""

    text: str
    note_id: str


@dataclass
class Card:
    """A CDS Hooks card plus what the store needs to tie feedback back to a code."""

    body: dict
    system: str  # "CPT", "ICD10CM", or "NOTE" for the review card
    code: str


def _document_references(value: object) -> list[dict]:
    if not isinstance(value, dict):
        return []
    if value.get("resourceType") == "DocumentReference":
        return [value]
    if value.get("resourceType") == "Bundle":
        entries = value.get("entry") or []
        return [e["resource"] for e in entries
                if isinstance(e, dict) and isinstance(e.get("resource"), dict)
                and e["resource"].get("resourceType") == "DocumentReference"]  # fmt: skip
    return []


def _text_of(doc: dict) -> str | None:
    for content in doc.get("content") or []:
        attachment = content.get("attachment") if isinstance(content, dict) else None
        if not isinstance(attachment, dict):
            continue
        content_type = str(attachment.get("contentType", "")).lower()
        if not content_type.startswith("text/plain") or not attachment.get("data"):
            continue
        try:
            raw = base64.b64decode(attachment["data"], validate=True)
        except (binascii.Error, ValueError, TypeError):
            raise NoteMalformed("DocumentReference attachment data is not valid base64") from None
        charset = "utf-8"
        if "charset=" in content_type:
            charset = content_type.split("charset=", 1)[1].split(";")[0].strip() or "utf-8"
        try:
            return raw.decode(charset)
        except (LookupError, UnicodeDecodeError):
            raise NoteMalformed(f"DocumentReference attachment is not {charset} text") from None
    return None


def note_from_request(body: dict) -> Note:
    """The note to code: prefetch `note` first, then any prefetched DocumentReference,
    then `context.documentReference` / `context.noteText`. Raises NoteUnavailable."""
    prefetch = body.get("prefetch") if isinstance(body.get("prefetch"), dict) else {}
    context = body.get("context") if isinstance(body.get("context"), dict) else {}
    fallback_id = str(body.get("hookInstance") or "note")
    ordered = [prefetch.get("note")] + [v for k, v in prefetch.items() if k != "note"]
    ordered.append(context.get("documentReference"))
    for value in ordered:
        for doc in _document_references(value):
            text = _text_of(doc)
            if text is not None and text.strip():
                return Note(text=text, note_id=str(doc.get("id") or fallback_id))
    text = context.get("noteText")
    if isinstance(text, str) and text.strip():
        return Note(text=text, note_id=fallback_id)
    raise NoteUnavailable("no note: prefetch a DocumentReference with a base64 text/plain attachment "
                          "(prefetch key 'note'), or send context.noteText")  # fmt: skip


def _clip(text: str, limit: int = SUMMARY_MAX) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _quote(text: str) -> str:
    # Evidence goes into markdown: keep it on one line and stop it from opening markup.
    flat = " ".join(text.split())
    for ch in "\\`*_[]<|":
        flat = flat.replace(ch, "\\" + ch)
    return flat


def _evidence_lines(evidence) -> list[str]:
    return [f"- \"{_quote(e.text)}\" ({e.label.lower()}, characters {e.start}-{e.end})" for e in evidence]


def _frames_for(line: CptSuggestion, frames: list[LesionFrame]) -> list[LesionFrame]:
    spans = {(e.start, e.end) for e in line.evidence}
    matched = [f for f in frames if spans & {(e.start, e.end) for e in f.evidence}]
    return matched or (frames if len(frames) == 1 else [])


def _review_lines(suggestion: Suggestion) -> list[str]:
    lines = [f"- **Query ({q.fact.replace('_', ' ')})**: {q.message}" for q in suggestion.queries]
    lines += [f"- **Warning ({w.code.replace('_', ' ')})**: {w.message}" for w in suggestion.warnings]
    return lines


def _source(suggestion: Suggestion) -> dict:
    return {"label": "DermCoder", "topic": {"system": "urn:dermcoder:card-topic", "code": "coding",
                                            "display": f"Coding suggestion ({suggestion.model.pipeline})"}}  # fmt: skip


def _references(context: dict) -> dict:
    refs: dict = {}
    if context.get("patientId"):
        refs["subject"] = {"reference": f"Patient/{context['patientId']}"}
    if context.get("encounterId"):
        refs["encounter"] = {"reference": f"Encounter/{context['encounterId']}"}
    return refs


def procedure_resource(line: CptSuggestion, context: dict) -> dict:
    """A FHIR Procedure for one CPT line (subject/encounter from the hook context)."""
    resource = {
        "resourceType": "Procedure",
        "status": "completed",
        "code": {"coding": [{"system": CPT_SYSTEM, "code": line.code, "display": line.description}],
                 "text": line.description},
        **_references(context),
    }  # fmt: skip
    if line.modifiers or line.units != 1:
        resource["note"] = [{"text": f"units {line.units}; modifiers {', '.join(line.modifiers) or 'none'}"}]
    return resource


def condition_resource(dx: IcdSuggestion, context: dict) -> dict:
    """A FHIR Condition (encounter diagnosis) for one ICD-10-CM code."""
    return {
        "resourceType": "Condition",
        "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                                       "code": "active"}]},
        "verificationStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-ver-status",
                                           "code": "confirmed"}]},
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-category",
                                  "code": "encounter-diagnosis"}]}],
        "code": {"coding": [{"system": ICD10CM_SYSTEM, "code": dx.code, "display": dx.description}],
                 "text": dx.description},
        **_references(context),
    }  # fmt: skip


def _card(summary: str, detail: str, indicator: str, suggestion: Suggestion, actions: list[dict] | None,
          label: str | None) -> dict:  # fmt: skip
    card = {
        "uuid": str(uuid.uuid4()),
        "summary": _clip(summary),
        "detail": detail,
        "indicator": indicator,
        "source": _source(suggestion),
    }
    if actions:
        card["suggestions"] = [{"label": label, "uuid": str(uuid.uuid4()), "isRecommended": True, "actions": actions}]
        card["selectionBehavior"] = "at-most-one"
        card["overrideReasons"] = OVERRIDE_REASONS
    return card


def cards_for(suggestion: Suggestion, context: dict) -> list[Card]:
    """One card per CPT line and per ICD-10-CM code, plus a review card for queries/warnings."""
    review = _review_lines(suggestion)
    indicator = "warning" if review else "info"
    cards: list[Card] = []
    for line in suggestion.cpt:
        units = f" x{line.units}" if line.units != 1 else ""
        mods = f" -{' -'.join(line.modifiers)}" if line.modifiers else ""
        detail = [f"**CPT {line.code}{units}{mods}**: {line.description} (confidence {line.confidence:.2f})", ""]
        if line.rationale:
            detail += [f"Why: {_quote(line.rationale)}", ""]
        for frame in _frames_for(line, suggestion.lesions):
            if frame.excised_diameter_arithmetic:
                detail += [f"Size: lesion + 2 x narrowest margin = {frame.excised_diameter_arithmetic}"
                           f"{' (' + frame.site + ')' if frame.site else ''}", ""]  # fmt: skip
        if line.diagnoses:
            detail += [f"Diagnoses: {', '.join(line.diagnoses)}", ""]
        detail += ["Evidence in the note:", "", *_evidence_lines(line.evidence)]
        if review:
            detail += ["", "Review before billing:", "", *review]
        action = {"type": "create", "description": f"Add CPT {line.code}{units}{mods}: {line.description}",
                  "resource": procedure_resource(line, context)}  # fmt: skip
        body = _card(f"CPT {line.code}{units}{mods}: {line.description}", "\n".join(detail), indicator, suggestion,
                     [action], f"Add CPT {line.code}{units}{mods}")  # fmt: skip
        cards.append(Card(body, "CPT", line.code))
    for dx in suggestion.icd10:
        detail = [f"**ICD-10-CM {dx.code}**: {dx.description} (confidence {dx.confidence:.2f})", ""]
        if dx.rationale:
            detail += [f"Why: {_quote(dx.rationale)}", ""]
        detail += ["Evidence in the note:", "", *_evidence_lines(dx.evidence)]
        action = {"type": "create", "description": f"Add diagnosis {dx.code}: {dx.description}",
                  "resource": condition_resource(dx, context)}  # fmt: skip
        body = _card(f"ICD-10-CM {dx.code}: {dx.description}", "\n".join(detail), indicator, suggestion, [action],
                     f"Add diagnosis {dx.code}")  # fmt: skip
        cards.append(Card(body, "ICD10CM", dx.code))
    if review:
        n = len(suggestion.queries)
        summary = (f"Coding review: {n} provider quer{'y' if n == 1 else 'ies'}, {len(suggestion.warnings)} warning(s)")
        body = _card(summary, "\n".join(["Before billing this note:", "", *review]), "warning", suggestion, None, None)
        cards.append(Card(body, "NOTE", ""))
    return cards
