"""The HTTP service: JSON API, coder feedback, the coder's page (and CDS Hooks, FHIR).

The engine and the feedback store are built once in the lifespan (`app.state.engine`,
`app.state.store`); routers in their own modules only translate HTTP to those calls.
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles

from dermcoder import __version__
from dermcoder.engine import get_engine
from dermcoder.errors import DermCoderError
from dermcoder.service import api, cds_hooks
from dermcoder.service.coding_lane import new_lane
from dermcoder.service.middleware import BodyLimit, SecurityHeaders
from dermcoder.service.jwt_auth import CdsJwtVerifier, check_jwt_setting, load_issuers
from dermcoder.service.safe_errors import SafeErrors
from dermcoder.service.store import FeedbackStore, create_store_from_settings
from dermcoder.settings import Settings, settings_from_env

STATIC_DIR = Path(__file__).resolve().parent / "static"


def _validation_errors(exc: RequestValidationError) -> list[dict]:
    # FastAPI echoes the offending input in each error; for a note that is PHI, so the
    # answer names the field and the problem only.
    out = []
    for e in exc.errors():
        msg = str(e.get("msg", "")).removeprefix("Value error, ")
        if e.get("type") == "json_invalid" and isinstance(e.get("ctx"), dict):
            # json's own reason ("Expecting ',' delimiter") is a fixed phrase, never input text.
            msg = f"{msg}: {e['ctx'].get('error', '')} (send a JSON body with Content-Type: application/json)"
        out.append({"loc": list(e.get("loc", ())), "msg": msg, "type": e.get("type", "")})
    return out


def check_settings(settings: Settings) -> None:
    """Fail before serving anything if a setting is unusable (raises a one-line ConfigError)."""
    check_jwt_setting(settings)
    load_issuers(settings.cds_issuers)


def create_app(settings: Settings | None = None, store: FeedbackStore | None = None) -> FastAPI:
    """Build the FastAPI application.

    `settings` default to the DERMCODER_ environment; `store` defaults to the one the
    settings name (tests pass a temporary SQLite URL through settings).
    """
    settings = settings or settings_from_env()
    check_settings(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        app.state.settings = settings
        app.state.engine = get_engine()
        app.state.store = store or create_store_from_settings(settings)
        app.state.cds_auth = CdsJwtVerifier(settings, app.state.store)
        app.state.coding_lane = new_lane()
        try:
            yield
        finally:
            if store is None:
                app.state.store.close()

    app = FastAPI(
        title="DermCoder",
        version=__version__,
        summary="CPT and ICD-10-CM suggestions, with evidence, from dermatology procedure notes.",
        lifespan=lifespan,
    )
    # Catches what routes and handlers leave before Starlette's error middleware would log
    # it with its message and traceback.
    app.add_middleware(SafeErrors)
    if settings.cors_origins:
        # Only the configured origins; no credentials (the API uses no cookies).
        app.add_middleware(CORSMiddleware, allow_origins=list(settings.cors_origins), allow_methods=["GET", "POST"],
                           allow_headers=["Authorization", "Content-Type"], max_age=600)  # fmt: skip
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    # Outermost: every answer gets the headers, the 413 above and SafeErrors' 500 included.
    app.add_middleware(SecurityHeaders)
    app.include_router(api.router)
    app.include_router(cds_hooks.router)

    @app.exception_handler(RequestValidationError)
    async def _bad_request(_request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(status_code=422, content={"detail": _validation_errors(exc)})

    @app.exception_handler(DermCoderError)
    async def _user_error(_request: Request, exc: DermCoderError) -> JSONResponse:
        return JSONResponse(status_code=400, content={"detail": str(exc)})

    @app.get("/", include_in_schema=False)
    def page() -> Response:
        index = STATIC_DIR / "index.html"
        if not index.is_file():
            return JSONResponse(status_code=404, content={"detail": "the coder's page is not installed"})
        return FileResponse(index, media_type="text/html")

    app.mount("/static", StaticFiles(directory=STATIC_DIR, check_dir=False), name="static")
    return app
