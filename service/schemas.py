"""Request and response bodies of the JSON API (the contracts' models plus what HTTP adds)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from dermcoder.contracts import Suggestion, text_problem
from dermcoder.service.store import Decision


class ErrorItem(BaseModel):
    """One problem of a request: where (`loc`) and what (`msg`); the input is never echoed."""

    loc: list[str | int]
    msg: str
    type: str


class ErrorResponse(BaseModel):
    """Every 4xx body: a one-line message, or (request validation) one item per problem."""

    detail: str | list[ErrorItem]


# The error answers every route may give, documented once for the OpenAPI schema.
ERROR_RESPONSES: dict = {
    413: {"model": ErrorResponse, "description": "request body over DERMCODER_MAX_BODY_BYTES, or a note over "
          "DERMCODER_MAX_NOTE_CHARS"},
    422: {"model": ErrorResponse, "description": "the request is not valid JSON or does not fit the schema"},
}  # fmt: skip


class SuggestRequest(BaseModel):
    """One note to code."""

    id: str = Field(default="note", min_length=1, max_length=200)
    # The pattern documents "not blank" for clients; the validator below answers it in words.
    text: str = Field(min_length=1, json_schema_extra={"pattern": r"\S"})

    @field_validator("text")
    @classmethod
    def _unicode_text(cls, value: str) -> str:
        # Blank text keeps its own 422 in the route; only what cannot be text is refused here.
        problem = text_problem(value) if value.strip() else None
        if problem:
            raise ValueError(problem)
        return value


class SuggestResponse(Suggestion):
    """A suggestion (contracts section 2) with the id of its audit record in the store.

    `audit_id` is what POST /v1/feedback refers to; it is absent on a batch error record.
    """

    audit_id: str | None = None


class FeedbackRequest(BaseModel):
    """Coder decisions on the codes of one stored suggestion."""

    model_config = ConfigDict(extra="forbid")

    audit_id: str = Field(min_length=1, max_length=64)
    decisions: list[Decision] = Field(min_length=1, max_length=200)
    # Which surface the coder used; the page sends "page".
    source: str = Field(default="api", pattern=r"^[a-z][a-z0-9_-]{0,19}$")


class FeedbackStored(BaseModel):
    """How many decisions were stored."""

    stored: int


class StoredDecision(BaseModel):
    """A decision as stored, with who sent it and when."""

    system: str
    code: str
    decision: str
    replacement_code: str | None = None
    units: int | None = None
    modifiers: list[str] | None = None
    coder: str | None = None
    reason: str | None = None
    source: str
    created_at: str


class FeedbackRecord(BaseModel):
    """Every decision stored for one audit id, oldest first."""

    audit_id: str
    decisions: list[StoredDecision]


class Health(BaseModel):
    """Liveness."""

    status: str


class VersionInfo(BaseModel):
    """Versions of the code, code sets and model behind the answers."""

    model_config = ConfigDict(protected_namespaces=())

    dermcoder: str
    cpt_code_set: str
    cpt_year: int
    icd10cm_code_set: str
    icd10cm_fiscal_year: int | None = None
    ncci_quarter: str
    model: dict
    model_card: dict | None = None
