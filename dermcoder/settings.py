"""Run-time settings, read from the environment with the DERMCODER_ prefix.

| variable | default | meaning |
|---|---|---|
| DERMCODER_MAX_NOTE_CHARS | 2000000 | longest note accepted |
| DERMCODER_BATCH_MAX_NOTES | 100 | most notes in one POST /v1/batch |
| DERMCODER_MAX_BODY_BYTES | 16777216 | largest HTTP request body (bigger: 413 before it is read) |
| DERMCODER_CORS_ORIGINS | (none) | comma-separated origins allowed to call the API from a browser; none = no CORS headers |
| DERMCODER_DATA_DIR | ~/.local/share/dermcoder | where the default SQLite store lives |
| DERMCODER_DATABASE_URL | sqlite:///<data dir>/dermcoder.db | any SQLAlchemy URL for the store |
| DERMCODER_STORE_NOTE_TEXT | 0 | 1 = keep note text in the store (needed by `feedback export`) |
| DERMCODER_ENV | production | `development` allows DERMCODER_CDS_JWT=off |
| DERMCODER_CDS_JWT | on | CDS Hooks JWT verification |
| DERMCODER_CDS_AUDIENCE | (request URL) | expected `aud` of CDS Hooks JWTs |
| DERMCODER_CDS_ISSUERS | (none) | JSON object iss -> JWKS (inline object or file path), or a path to such a file |
| DERMCODER_MODEL | derm-lr-v1 | the scorer: a shipped artifact name, an artifact folder, or `none` (rules only) |
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _int_env(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise SystemExit(f"error: {name}={raw!r} is not an integer") from None


def _bool_env(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise SystemExit(f"error: {name}={raw!r} is not a switch; use 1/0, true/false, yes/no or on/off")


def _str_env(name: str) -> str | None:
    raw = os.environ.get(name)
    return raw if raw not in (None, "") else None


def _origins_env(name: str) -> tuple[str, ...]:
    raw = os.environ.get(name) or ""
    origins = tuple(o.strip().rstrip("/") for o in raw.split(",") if o.strip())
    for origin in origins:
        if origin == "*" or not origin.startswith(("https://", "http://")) or origin.count("/") != 2:
            raise SystemExit(f"error: {name}: {origin!r} is not an origin; list scheme://host[:port] values "
                             "separated by commas (a wildcard is not allowed: the API answers with PHI)")
    return origins


def default_data_dir() -> Path:
    """Where DermCoder keeps its database when nothing else is set (XDG data home)."""
    xdg = os.environ.get("XDG_DATA_HOME")
    base = Path(xdg) if xdg else Path.home() / ".local" / "share"
    return base / "dermcoder"


@dataclass(frozen=True)
class Settings:
    """Settings shared by every surface (CLI, service, batch)."""

    # Notes above this many characters are refused with a clear message rather than
    # tying up a worker; 2 M characters is far beyond any real procedure note.
    max_note_chars: int = 2_000_000
    batch_max_notes: int = 100
    # 16 MiB: one note at the 2 M character limit still fits as JSON even if every
    # character were escaped (\uXXXX, 6 bytes).
    max_body_bytes: int = 16 * 1024 * 1024
    # Browser origins allowed by CORS; empty = same-origin only (no CORS headers at all).
    cors_origins: tuple[str, ...] = ()
    data_dir: Path = field(default_factory=default_data_dir)
    database_url: str | None = None
    # Notes are PHI: the store keeps only a hash unless this is switched on.
    store_note_text: bool = False
    env: str = "production"
    cds_jwt: bool = True
    cds_audience: str | None = None
    cds_issuers: str | None = None
    model: str | None = None  # None: the shipped default artifact (training/model.py)

    @property
    def store_url(self) -> str:
        """The SQLAlchemy URL of the feedback store (SQLite under the data dir by default)."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'dermcoder.db'}"

    @property
    def development(self) -> bool:
        """True only when DERMCODER_ENV says so explicitly."""
        return self.env.lower() == "development"


def settings_from_env() -> Settings:
    """Read every DERMCODER_ setting from the environment now (not cached)."""
    data_dir = _str_env("DERMCODER_DATA_DIR")
    return Settings(
        max_note_chars=_int_env("DERMCODER_MAX_NOTE_CHARS", Settings.max_note_chars),
        batch_max_notes=_int_env("DERMCODER_BATCH_MAX_NOTES", Settings.batch_max_notes),
        max_body_bytes=_int_env("DERMCODER_MAX_BODY_BYTES", Settings.max_body_bytes),
        cors_origins=_origins_env("DERMCODER_CORS_ORIGINS"),
        data_dir=Path(data_dir).expanduser() if data_dir else default_data_dir(),
        database_url=_str_env("DERMCODER_DATABASE_URL"),
        store_note_text=_bool_env("DERMCODER_STORE_NOTE_TEXT", False),
        env=_str_env("DERMCODER_ENV") or "production",
        cds_jwt=_bool_env("DERMCODER_CDS_JWT", True),
        cds_audience=_str_env("DERMCODER_CDS_AUDIENCE"),
        cds_issuers=_str_env("DERMCODER_CDS_ISSUERS"),
        model=_str_env("DERMCODER_MODEL"),
    )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Settings from the environment (cached: read once per process)."""
    return settings_from_env()
