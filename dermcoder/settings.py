"""Run-time settings, read from the environment with the DERMCODER_ prefix."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache


def _int_env(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise SystemExit(f"error: {name}={raw!r} is not an integer") from None


@dataclass(frozen=True)
class Settings:
    """Settings shared by every surface (CLI, service, batch)."""

    # Notes above this many characters are refused with a clear message rather than
    # tying up a worker; 2 M characters is far beyond any real procedure note.
    max_note_chars: int = 2_000_000
    batch_max_notes: int = 100


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Settings from the environment (cached: read once per process)."""
    return Settings(
        max_note_chars=_int_env("DERMCODER_MAX_NOTE_CHARS", Settings.max_note_chars),
        batch_max_notes=_int_env("DERMCODER_BATCH_MAX_NOTES", Settings.batch_max_notes),
    )
