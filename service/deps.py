"""What routes receive from the lifespan: the engine, the store and the settings."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from dermcoder.engine import Engine
from dermcoder.service.store import FeedbackStore
from dermcoder.settings import Settings


def _engine(request: Request) -> Engine:
    return request.app.state.engine


def _store(request: Request) -> FeedbackStore:
    return request.app.state.store


def _settings(request: Request) -> Settings:
    return request.app.state.settings


EngineDep = Annotated[Engine, Depends(_engine)]
StoreDep = Annotated[FeedbackStore, Depends(_store)]
SettingsDep = Annotated[Settings, Depends(_settings)]
