"""FHIR output: a suggestion as a Bundle (collection) of a Claim, Procedures and Conditions.

The Claim carries one item per CPT line (productOrService, modifiers, quantity and
diagnosisSequence pointing at Claim.diagnosis entries with ICD-10-CM codings); each CPT
line is also a Procedure and each ICD-10-CM code a Condition. The note does not identify
the patient, the rendering provider or the coverage, so those required references are
placeholders that say so. The resources are written to validate under FHIR R4(B) and R5.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timezone
from pathlib import Path

from dermcoder.contracts import CptSuggestion, Suggestion

CPT_SYSTEM = "http://www.ama-assn.org/go/cpt"
HCPCS_SYSTEM = "https://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets"
ICD10CM_SYSTEM = "http://hl7.org/fhir/sid/icd-10-cm"
TERMINOLOGY = "http://terminology.hl7.org/CodeSystem"
AUDIT_SYSTEM = "urn:dermcoder:audit-id"
NOTE_SYSTEM = "urn:dermcoder:note-id"

PATIENT_PLACEHOLDER = {"display": "Patient not identified by the note (placeholder)"}
PROVIDER_PLACEHOLDER = {"display": "Rendering provider not identified by the note (placeholder)"}
COVERAGE_PLACEHOLDER = {"display": "Coverage not known to DermCoder (placeholder)"}


def _code_system(code: str) -> str:
    # Five digits are CPT; a letter and four digits are HCPCS Level II (J-codes and the like).
    return CPT_SYSTEM if code[:1].isdigit() else HCPCS_SYSTEM


def _modifier_system(modifier: str) -> str:
    # Two-digit modifiers (25, 59) are CPT's; letter modifiers (XS, LT, FA) are HCPCS Level II.
    return CPT_SYSTEM if modifier.isdigit() else HCPCS_SYSTEM


def _concept(system: str, code: str, display: str | None = None) -> dict:
    coding = {"system": system, "code": code}
    if display:
        coding["display"] = display
    return {"coding": [coding]}


def _entry(resource: dict) -> tuple[str, dict]:
    full_url = f"urn:uuid:{uuid.uuid4()}"
    return full_url, {"fullUrl": full_url, "resource": resource}


def _procedure(line: CptSuggestion) -> dict:
    return {
        "resourceType": "Procedure",
        "status": "completed",
        "code": _concept(_code_system(line.code), line.code, line.description),
        "subject": PATIENT_PLACEHOLDER,
    }


def _condition(code: str, description: str) -> dict:
    return {
        "resourceType": "Condition",
        "clinicalStatus": _concept(f"{TERMINOLOGY}/condition-clinical", "active"),
        "verificationStatus": _concept(f"{TERMINOLOGY}/condition-ver-status", "confirmed"),
        "category": [_concept(f"{TERMINOLOGY}/condition-category", "encounter-diagnosis")],
        "code": _concept(ICD10CM_SYSTEM, code, description),
        "subject": PATIENT_PLACEHOLDER,
    }


def _error_bundle(suggestion: Suggestion, note_id: str, now: str) -> dict:
    outcome = {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": "invalid", "diagnostics": suggestion.error or "note not coded"}],
    }
    _, entry = _entry(outcome)
    return {"resourceType": "Bundle", "type": "collection", "timestamp": now,
            "identifier": {"system": NOTE_SYSTEM, "value": note_id}, "entry": [entry]}  # fmt: skip


def suggestion_to_bundle(suggestion: Suggestion, note_id: str, audit_id: str | None = None) -> dict:
    """The suggestion as a FHIR Bundle (type collection): Claim + Procedure per CPT line +
    Condition per ICD-10-CM code. A batch error record becomes a Bundle with an OperationOutcome."""
    now = datetime.now(timezone.utc).replace(microsecond=0).isoformat()
    if suggestion.error:
        return _error_bundle(suggestion, note_id, now)

    entries: list[dict] = []
    diagnosis_seq: dict[str, int] = {}
    claim_diagnoses = []
    for dx in suggestion.icd10:
        if dx.code in diagnosis_seq:
            continue
        diagnosis_seq[dx.code] = len(diagnosis_seq) + 1
        claim_diagnoses.append({"sequence": diagnosis_seq[dx.code],
                                "diagnosisCodeableConcept": _concept(ICD10CM_SYSTEM, dx.code, dx.description)})  # fmt: skip
    items = []
    claim_procedures = []
    for i, line in enumerate(suggestion.cpt, start=1):
        proc_url, proc_entry = _entry(_procedure(line))
        entries.append(proc_entry)
        claim_procedures.append({"sequence": i, "procedureReference": {"reference": proc_url}})
        item = {
            "sequence": i,
            "productOrService": _concept(_code_system(line.code), line.code, line.description),
            "quantity": {"value": line.units},
            "procedureSequence": [i],
        }
        if line.modifiers:
            item["modifier"] = [_concept(_modifier_system(m), m) for m in line.modifiers]
        pointers = [diagnosis_seq[d] for d in dict.fromkeys(line.diagnoses) if d in diagnosis_seq]
        if pointers:
            item["diagnosisSequence"] = pointers
        items.append(item)
    for dx in suggestion.icd10:
        entries.append(_entry(_condition(dx.code, dx.description))[1])

    claim: dict = {
        "resourceType": "Claim",
        "status": "active",
        "type": _concept(f"{TERMINOLOGY}/claim-type", "professional"),
        "use": "claim",
        "patient": PATIENT_PLACEHOLDER,
        "created": now,
        "provider": PROVIDER_PLACEHOLDER,
        "priority": _concept(f"{TERMINOLOGY}/processpriority", "normal"),
        "insurance": [{"sequence": 1, "focal": True, "coverage": COVERAGE_PLACEHOLDER}],
    }
    if audit_id:
        claim["identifier"] = [{"system": AUDIT_SYSTEM, "value": audit_id}]
    if claim_diagnoses:
        claim["diagnosis"] = claim_diagnoses
    if claim_procedures:
        claim["procedure"] = claim_procedures
    if items:
        claim["item"] = items
    _, claim_entry = _entry(claim)
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "timestamp": now,
        "identifier": {"system": NOTE_SYSTEM, "value": note_id},
        "entry": [claim_entry, *entries],
    }


def suggestions_to_bundles(in_path: str | Path, out_path: str | Path) -> int:
    """Rewrite a suggestions JSONL file (contracts section 2) as one FHIR Bundle per line."""
    count = 0
    with Path(in_path).open(encoding="utf-8") as src, Path(out_path).open("w", encoding="utf-8") as dst:
        for line in src:
            if not line.strip():
                continue
            suggestion = Suggestion.model_validate_json(line)
            dst.write(json.dumps(suggestion_to_bundle(suggestion, suggestion.id), ensure_ascii=False) + "\n")
            count += 1
    return count
