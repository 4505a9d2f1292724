"""One note coded at a time per server process: the lane POST /v1/suggest codes in.

Coding a note is CPU-bound Python. FastAPI runs a plain `def` route in a pool of 40
threads, so ten kept-alive clients on one worker meant ten notes coded at once, taking
turns on the GIL every 5 ms: each took about ten times its own coding time, and the
switching cost CPU of its own (per request, 19-23 ms of server CPU at 20 clients against
16-19 ms at 1 client in the same runs). Through a limiter of one the notes are coded one
after another, in arrival order (anyio wakes a limiter's waiters first come, first
served): the same work with fewer switches, and a request waits for the notes queued
ahead of it rather than sharing the core with all of them, which cuts the slow tail.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TypeVar

import anyio
from fastapi import Request

T = TypeVar("T")

# Notes coded at once per process: one, since the GIL runs one thread's Python at a time.
LANE_WIDTH = 1


def new_lane() -> anyio.CapacityLimiter:
    """The limiter of a server process (made in the lifespan, inside its event loop)."""
    return anyio.CapacityLimiter(LANE_WIDTH)


async def in_lane(request: Request, fn: Callable[..., T], *args: object) -> T:
    """Run fn(*args) in a worker thread once the app's coding lane is free; its result or its exception."""
    return await anyio.to_thread.run_sync(partial(fn, *args), limiter=request.app.state.coding_lane)
