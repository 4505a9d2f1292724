"""The HTTP service (minimal for now): health, version and one-note suggestion.

The engine is built once in the lifespan; routes only translate HTTP to engine calls.
"""

from __future__ import annotations

from contextlib import asynccontextmanager

from fastapi import FastAPI, HTTPException, Request
from pydantic import BaseModel, Field

from dermcoder import __version__
from dermcoder.coding.icd import ICD_CODE_SET
from dermcoder.coding.tables import NCCI_QUARTER
from dermcoder.contracts import Suggestion
from dermcoder.engine import get_engine
from dermcoder.errors import InputError


class SuggestRequest(BaseModel):
    """One note to code."""

    id: str = Field(default="note", min_length=1, max_length=200)
    text: str = Field(min_length=1)


@asynccontextmanager
async def lifespan(app: FastAPI):
    app.state.engine = get_engine()
    yield


def create_app() -> FastAPI:
    """Build the FastAPI application."""
    app = FastAPI(title="DermCoder", version=__version__, lifespan=lifespan)

    @app.get("/health")
    def health() -> dict:
        return {"status": "ok"}

    @app.get("/version")
    def version(request: Request) -> dict:
        engine = request.app.state.engine
        return {
            "dermcoder": __version__,
            "cpt_code_set": "CPT 2025",
            "icd10cm_code_set": ICD_CODE_SET,
            "ncci_quarter": NCCI_QUARTER,
            "model": engine.model_info.model_dump(),
        }

    @app.post("/v1/suggest", response_model=Suggestion)
    def suggest(body: SuggestRequest, request: Request) -> Suggestion:
        if not body.text.strip():
            raise HTTPException(status_code=422, detail="the note has no text")
        try:
            return request.app.state.engine.suggest(body.text, body.id)
        except InputError as exc:
            raise HTTPException(status_code=413, detail=str(exc)) from None

    return app
