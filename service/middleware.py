"""ASGI middleware guarding every response: request size limit and security headers.

Both are plain ASGI (no BaseHTTPMiddleware): the size limit must act while the body is
read, before anything buffers it, and the headers must reach every answer, including the
413 below and the 500 of SafeErrors.
"""

from __future__ import annotations

import json

# The coder's page loads only its own script and stylesheet (no inline script or style;
# app.js sets styles through the CSSOM, which CSP allows) and fetches only this origin.
PAGE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
# FastAPI's /docs and /redoc pages are built from a CDN script and an inline one; they get
# the other headers but not a CSP that would blank them.
NO_CSP_PATHS = ("/docs", "/redoc")
# Static assets hold no PHI and may be cached; every other answer may carry a note's codes
# or evidence quotes.
CACHEABLE_PREFIX = "/static/"


def _json_response(status: int, detail: str) -> tuple[dict, dict]:
    body = json.dumps({"detail": detail}).encode()
    start = {"type": "http.response.start", "status": status,
             "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]}  # fmt: skip
    return start, {"type": "http.response.body", "body": body}


class BodyLimit:
    """Answer 413 to a request body over `max_bytes` (DERMCODER_MAX_BODY_BYTES).

    A declared Content-Length over the limit is refused before the body is read; otherwise
    the body is read here, at most `max_bytes` of it (a chunked body is refused as soon as
    it passes the limit), and handed on whole. The app would buffer it anyway; reading it
    here keeps the refusal out of the route's own body parsing, which turns errors into 400.
    """

    def __init__(self, app, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    async def _refuse(self, send) -> None:
        for message in _json_response(413, f"request body over {self.max_bytes:,} bytes (DERMCODER_MAX_BODY_BYTES)"):
            await send(message)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length" and value.isdigit() and int(value) > self.max_bytes:
                await self._refuse(send)
                return
        chunks: list[bytes] = []
        seen = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away before sending its body
            chunk = message.get("body", b"")
            seen += len(chunk)
            if seen > self.max_bytes:
                await self._refuse(send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay():
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


class SecurityHeaders:
    """Security headers on every HTTP answer (page, API, errors)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        extra = [
            (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"no-referrer"),
            (b"x-frame-options", b"DENY"),
            (b"cross-origin-opener-policy", b"same-origin"),
            (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), interest-cohort=()"),
        ]
        if not path.startswith(NO_CSP_PATHS):
            extra.append((b"content-security-policy", PAGE_CSP.encode()))
        if not path.startswith(CACHEABLE_PREFIX):
            extra.append((b"cache-control", b"no-store"))

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                names = {extra_name for extra_name, _ in extra}
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() not in names]
                message = {**message, "headers": headers + extra}
            await send(message)

        await self.app(scope, receive, send_with_headers)
