"""The fixed formats of contracts.md, as pydantic models.

Section 1 (labeled notes) and section 2 (suggestions). These models are the only
definition of the records that cross a boundary: the CLI, the evaluator, the corpus
checker and the HTTP API all read and write through them. The contracts may be
extended with new fields but never renamed, so every model allows extra fields on
input (an outside evaluation set may carry fields we do not know) while the fields
we produce are declared here.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

CPT_CODE = re.compile(r"^(?:\d{5}|[A-Z]\d{4})$")
MODIFIER = re.compile(r"^[0-9A-Z]{2}$")

QueryFact = Literal[
    "lesion_size",
    "margin",
    "pathology",
    "repair_length",
    "repair_type",
    "area",
    "mohs_blocks",
    "lesion_count",
    "biopsy_technique",
    "laterality",
    "site",
    "id_complexity",
    "measurement_unit",
    "other",
]
QUERY_FACTS: tuple[str, ...] = QueryFact.__args__  # type: ignore[attr-defined]

SPLITS = ("train", "dev", "test")

# A JSON string may carry "\ud800" escapes: a lone UTF-16 surrogate is no character of any
# text, cannot be encoded as UTF-8, and used to crash the tokenizer (UnicodeEncodeError).
_SURROGATE = re.compile("[\ud800-\udfff]")


def text_problem(text: str) -> str | None:
    """Why a note's text cannot be coded (no quote of the text: it is PHI), or None."""
    if not text.strip():
        return "the note has no text"
    bad = _SURROGATE.search(text)
    if bad:
        return (f"the note contains an unpaired surrogate (U+{ord(bad.group()):04X} at character {bad.start()}): "
                "not valid Unicode text; send UTF-8")  # fmt: skip
    return None


class _Open(BaseModel):
    """Records that keep unknown fields: the contracts grow by adding fields."""

    model_config = ConfigDict(extra="allow")


# ---------------------------------------------------------------- section 1


class EntitySpan(_Open):
    """A span annotation of a labeled note (character offsets into `text`)."""

    start: int = Field(ge=0)
    end: int = Field(ge=0)
    label: str


class ExpectedQuery(_Open):
    """A provider query a certified coder would raise for this note."""

    fact: QueryFact
    evidence: str | list | None = ""


class GoldCptLine(_Open):
    """One billed CPT/HCPCS line of a labeled note."""

    code: str
    units: int = Field(default=1, ge=1)
    modifiers: list[str] = Field(default_factory=list)

    @field_validator("code")
    @classmethod
    def _code_shape(cls, value: str) -> str:
        if not CPT_CODE.match(value):
            raise ValueError(f"'{value}' is not a CPT (5 digits) or HCPCS (letter + 4 digits) code")
        return value

    @field_validator("modifiers")
    @classmethod
    def _modifier_shape(cls, value: list[str]) -> list[str]:
        for mod in value:
            if not MODIFIER.match(mod):
                raise ValueError(f"modifier '{mod}' is not two characters (e.g. '25', '59', 'XS')")
        return value


class LabeledNote(_Open):
    """A note with the codes a certified coder would bill (contracts.md section 1)."""

    id: str = Field(min_length=1)
    text: str
    cpt: list[GoldCptLine] = Field(default_factory=list)
    icd10: list[str] = Field(default_factory=list)
    entities: list[EntitySpan] | None = None
    source: str | None = None
    split: Literal["train", "dev", "test"] | None = None
    notes: str | None = None
    expected_queries: list[ExpectedQuery] | None = None

    @field_validator("text")
    @classmethod
    def _has_text(cls, value: str) -> str:
        problem = text_problem(value)
        if problem:
            raise ValueError(problem)
        return value


class NoteIn(_Open):
    """What `batch` and the API need of an input note: an id and its text."""

    id: str = Field(min_length=1)
    text: str

    @field_validator("text")
    @classmethod
    def _has_text(cls, value: str) -> str:
        problem = text_problem(value)
        if problem:
            raise ValueError(problem)
        return value


# ---------------------------------------------------------------- section 2


class Evidence(BaseModel):
    """A span of the original note; `text == note[start:end]` always."""

    start: int = Field(ge=0)
    end: int = Field(ge=0)
    text: str
    label: str


class CptSuggestion(BaseModel):
    """An accepted CPT/HCPCS line."""

    code: str
    units: int = Field(ge=1)
    modifiers: list[str] = Field(default_factory=list)
    confidence: float = Field(ge=0.0, le=1.0)
    description: str
    diagnoses: list[str] = Field(default_factory=list)
    evidence: list[Evidence] = Field(default_factory=list)
    rationale: str = ""
    rule_id: str | None = None
    # "review" when the classifier is not sure enough of this line to bill it unseen.
    decision: Literal["accept", "review"] = "accept"


class IcdSuggestion(BaseModel):
    """An accepted ICD-10-CM code."""

    code: str
    confidence: float = Field(ge=0.0, le=1.0)
    description: str
    evidence: list[Evidence] = Field(default_factory=list)
    rationale: str = ""


class Alternative(BaseModel):
    """A lower-ranked candidate kept for top-k review."""

    system: Literal["CPT", "ICD10CM"]
    code: str
    confidence: float = Field(ge=0.0, le=1.0)
    rationale: str = ""
    units: int | None = None


class Query(BaseModel):
    """A question for the provider about a fact the note lacks or contradicts."""

    fact: QueryFact
    message: str
    evidence: list[Evidence] = Field(default_factory=list)


class Warning(BaseModel):  # noqa: A001 - the contract's own word
    """Something the coder should look at (bundling applied, cosmetic, pending path...)."""

    code: str
    message: str
    evidence: list[Evidence] = Field(default_factory=list)


class LesionFrame(BaseModel):
    """What the pipeline read about one lesion or procedure, every fact with its spans.

    All fields are optional: a frame records what the note says, never a guess.
    """

    model_config = ConfigDict(extra="allow")

    label: str | None = None
    site: str | None = None
    laterality: str | None = None
    anatomic_groups: dict[str, str] = Field(default_factory=dict)
    histology: str | None = None
    histology_source: Literal["clinical", "pathology"] | None = None
    procedure: str | None = None
    lesion_size_cm: float | None = None
    margins_cm: list[float] = Field(default_factory=list)
    narrowest_margin_cm: float | None = None
    excised_diameter_cm: float | None = None
    excised_diameter_arithmetic: str | None = None
    repair_type: str | None = None
    repair_length_cm: float | None = None
    area_sq_cm: float | None = None
    mohs_stages: list[int] = Field(default_factory=list)
    count: int | None = None
    context: list[str] = Field(default_factory=list)
    evidence: list[Evidence] = Field(default_factory=list)


class ModelInfo(BaseModel):
    """Which engine and artifact produced a suggestion."""

    version: str
    pipeline: str
    name: str = "rules"  # the scoring artifact (models/<name>), or "rules" when none is loaded
    artifact_version: str | None = None


class Suggestion(BaseModel):
    """The output for one note (contracts.md section 2)."""

    id: str
    cpt: list[CptSuggestion] = Field(default_factory=list)
    icd10: list[IcdSuggestion] = Field(default_factory=list)
    alternatives: list[Alternative] = Field(default_factory=list)
    queries: list[Query] = Field(default_factory=list)
    warnings: list[Warning] = Field(default_factory=list)
    lesions: list[LesionFrame] = Field(default_factory=list)
    note_confidence: float = Field(default=0.0, ge=0.0, le=1.0)
    straight_through: bool = False
    model: ModelInfo
    # Set only on a batch line whose input could not be read: the line is kept
    # (same id, same position) so nothing is silently dropped.
    error: str | None = None
    line: int | None = None


class PredictionIn(_Open):
    """A suggestion as read back by the evaluator: only the fields metrics need.

    Outside systems may omit fields we always write, so everything but `id` has a default.
    """

    id: str
    cpt: list[dict] = Field(default_factory=list)
    icd10: list[dict | str] = Field(default_factory=list)
    alternatives: list[dict] = Field(default_factory=list)
    queries: list[dict] = Field(default_factory=list)
    straight_through: bool = False
    note_confidence: float | None = None
    error: str | None = None
