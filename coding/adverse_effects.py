"""The drug behind a drug eruption: its ICD-10-CM adverse-effect code (data: tables/adverse_effect_drugs.json).

ICD-10-CM codes an adverse effect of a drug properly taken by its nature first (L27.0, L56.0,
...), then the drug's T36-T50 code with fifth or sixth character 5 (guideline I.C.19.e.5.a).
Only the manifestations whose tabular entry asks for that code take one, and only when the
diagnosis's own line names the drug as the cause: a drug that treats the eruption
("clobetasol ointment BID") is not its cause.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from pydantic import BaseModel, ConfigDict

from dermcoder.coding import icd
from dermcoder.coding.tables import read_data_table
from dermcoder.errors import TableError

# Tabular notes "Use additional code for adverse effect, if applicable, to identify drug
# (T36-T50 with fifth or sixth character 5)" (on L27.0, L27.1, L43.2, L56.0, L56.1 and category L71;
# tests/coding/test_adverse_effects.py re-reads them from simple-icd-10-cm).
# Those whose name already says "drug" may take a drug named beside them without a causal word
# ("A: fixed drug eruption L hand, naproxen - recurrent").
DRUG_NAMED = frozenset({"L27.0", "L27.1", "L43.2", "L56.0", "L56.1"})
MANIFESTATIONS = DRUG_NAMED | {"L71.0"}

# "due to amoxicillin", "2/2 HCTZ", "adverse effect of the topical triamcinolone", "after naproxen"
CAUSAL_BEFORE = re.compile(
    r"(?:due to|d/t|2/2|secondary to|sec(?:ondary)?\.? to|caused by|induced by|from|after|attributed to|"
    r"reaction to|(?:adverse )?(?:effect|reaction) of)(?:\s+(?:the|his|her|a|oral|topical|systemic|recent|prescribed|\w+-\w+))*\s*$",
    re.IGNORECASE,
)
CAUSAL_AFTER = re.compile(r"^[- ]?(?:induced|associated|related|triggered)\b", re.IGNORECASE)
# "start prednisone 40 mg", "continue triamcinolone 0.1% cream": a treatment, not the cause
TREATMENT_BEFORE = re.compile(r"\b(?:start(?:ed)?|continue|cont\.?|rx|begin|apply|use|taper|switch(?:ed)? to|add|prescribed?)\s+(?:\w+\s+){0,2}$", re.IGNORECASE)


class DrugEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    what: str
    patterns: list[str]


class DrugFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    provenance: dict[str, str]
    drugs: dict[str, DrugEntry]


@dataclass(frozen=True)
class DrugCause:
    """The adverse-effect code and the words that name the drug."""

    code: str
    start: int
    end: int
    text: str


@lru_cache(maxsize=1)
def drug_patterns() -> tuple[tuple[re.Pattern, str], ...]:
    """(compiled drug name, T-code) pairs; raises TableError listing every bad entry."""
    path, data = read_data_table("adverse_effect_drugs.json", DrugFile)
    problems: list[str] = []
    compiled: list[tuple[re.Pattern, str]] = []
    for code, entry in data.drugs.items():
        msg = icd.check_billable(code)
        if msg:
            problems.append(f"{code}: {msg}")
        if not re.fullmatch(r"T(?:3[6-9]|4\d|50)\.[0-9A-Z][0-9X]5A", code):  # (T45.A-: checkpoint inhibitors)
            problems.append(f"{code}: not an adverse-effect code (T36-T50, character 5, initial encounter)")
        for pattern in entry.patterns:
            try:
                compiled.append((re.compile(rf"(?<![\w-])(?:{pattern})(?![\w])", re.IGNORECASE), code))
            except re.error as exc:
                problems.append(f"{code}: bad pattern {pattern!r}: {exc}")
    if problems:
        raise TableError(str(path), problems)
    return tuple(compiled)


def _line(text: str, start: int, end: int) -> tuple[int, int]:
    left = text.rfind("\n", 0, start) + 1
    right = text.find("\n", end)
    return left, len(text) if right < 0 else right


def drug_cause(text: str, code: str, start: int, end: int) -> DrugCause | None:
    """The drug the diagnosis line (the mention at start:end, coded `code`) names as its
    cause, with its adverse-effect code; None when the code asks for none or no drug is named."""
    if code not in MANIFESTATIONS:
        return None
    left, right = _line(text, start, end)
    hits = sorted(
        ((m.start(), m.end(), t) for rx, t in drug_patterns() for m in rx.finditer(text, left, right)),
        key=lambda h: (h[0], -h[1]),
    )
    causal, named = None, None
    for s, e, t in hits:
        before, after = text[max(left, s - 40) : s], text[e : min(right, e + 12)]
        if CAUSAL_BEFORE.search(before) or CAUSAL_AFTER.match(after):
            causal = causal or (s, e, t)
        elif named is None and not TREATMENT_BEFORE.search(before):
            named = (s, e, t)
    found = causal or (named if code in DRUG_NAMED else None)
    if found is None:
        return None
    s, e, t = found
    return DrugCause(t, s, e, text[s:e])
