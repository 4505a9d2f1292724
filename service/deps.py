"""What routes receive from the lifespan: the engine, the store and the settings.

The providers are `async def` although they only read app.state: FastAPI sends a plain
`def` dependency to its thread pool, three thread hops per request for nothing, each
waiting for the GIL while a note is being coded.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from dermcoder.engine import Engine
from dermcoder.service.store import FeedbackStore
from dermcoder.settings import Settings


async def _engine(request: Request) -> Engine:
    return request.app.state.engine


async def _store(request: Request) -> FeedbackStore:
    return request.app.state.store


async def _settings(request: Request) -> Settings:
    return request.app.state.settings


EngineDep = Annotated[Engine, Depends(_engine)]
StoreDep = Annotated[FeedbackStore, Depends(_store)]
SettingsDep = Annotated[Settings, Depends(_settings)]
