"""Unexpected errors answered with a plain 500 and logged without their message.

An exception raised while coding a note may carry pieces of the note in its message
(notes are PHI), and the default server log prints message and traceback. This ASGI
middleware catches what no route handled, logs the method, path and exception type only
(the traceback only with DERMCODER_DEBUG=1), and answers {"detail": "internal error"}.
"""

from __future__ import annotations

import json
import logging
import os

log = logging.getLogger("dermcoder.service")


class SafeErrors:
    """ASGI middleware: no stack trace or exception message leaves the process by default."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message):
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:  # noqa: BLE001 - the last line of defence for PHI in logs
            log.error("internal error in %s %s: %s", scope.get("method"), scope.get("path"), type(exc).__name__,
                      exc_info=bool(os.environ.get("DERMCODER_DEBUG")))  # fmt: skip
            if started:
                return
            body = json.dumps({"detail": "internal error"}).encode()
            await send({"type": "http.response.start", "status": 500,
                        "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
            await send({"type": "http.response.body", "body": body})
