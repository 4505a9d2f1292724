"""Reading JSONL files line by line without losing or hiding a bad line.

Every line yields exactly one `LineResult`: either a validated record or an error that
names the file, the line number and the field at fault. Callers decide whether to
stop or go on; nothing is dropped silently. Files are read as bytes and decoded per
line so one non-UTF-8 line does not spoil the rest of the file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, Iterator, TypeVar

from pydantic import BaseModel, ValidationError

from dermcoder.errors import InputError
from dermcoder.settings import get_settings

M = TypeVar("M", bound=BaseModel)


@dataclass
class LineResult(Generic[M]):
    """One input line: a record, or the reason it could not be read."""

    line: int
    record: M | None = None
    error: str | None = None
    raw_id: str | None = None  # the id, when the line had one even though it failed


def describe_validation_error(exc: ValidationError) -> str:
    """One readable sentence per failing field: `cpt.0.code: ...`."""
    parts = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "(record)"
        msg = err["msg"].removeprefix("Value error, ")
        parts.append(f"{loc}: {msg}")
    return "; ".join(parts)


def open_checked(path: str | Path) -> Path:
    """Return the path if it is a readable file, else raise a one-line InputError."""
    p = Path(path)
    if not p.exists():
        raise InputError(f"{p}: file not found")
    if p.is_dir():
        raise InputError(f"{p}: is a directory, expected a JSONL file")
    return p


def iter_jsonl(path: str | Path, model: type[M], max_chars: int | None = None) -> Iterator[LineResult[M]]:
    """Yield one LineResult per non-blank line of a JSONL file, validated as `model`.

    Blank lines are skipped (they hold no record); every other line yields a record or
    an error, in file order. `max_chars` bounds the note `text` (default from settings).
    """
    p = open_checked(path)
    limit = max_chars if max_chars is not None else get_settings().max_note_chars
    with p.open("rb") as fh:
        for number, raw in enumerate(fh, start=1):
            result = parse_line(raw, number, p, model, limit)
            if result is not None:
                yield result


def parse_line(raw: bytes, number: int, source: str | Path, model: type[M], limit: int) -> LineResult[M] | None:
    """One raw JSONL line as a LineResult (None for a blank line). Shared by batch and Spark."""
    p = source
    if not raw.strip():
        return None
    try:
        line = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return LineResult(number, error=f"{p}:{number}: not UTF-8 (byte {exc.start})")
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as exc:
        return LineResult(number, error=f"{p}:{number}: not valid JSON ({exc.msg}, column {exc.colno})")
    if not isinstance(obj, dict):
        return LineResult(number, error=f"{p}:{number}: expected a JSON object, got {type(obj).__name__}")
    raw_id = obj.get("id") if isinstance(obj.get("id"), str) else None
    text = obj.get("text")
    if isinstance(text, str) and len(text) > limit:
        return LineResult(
            number,
            raw_id=raw_id,
            error=f"{p}:{number}: text: note is {len(text):,} characters; the limit is {limit:,} "
            "(DERMCODER_MAX_NOTE_CHARS)",
        )
    try:
        return LineResult(number, record=model.model_validate(obj), raw_id=raw_id)
    except ValidationError as exc:
        return LineResult(number, raw_id=raw_id, error=f"{p}:{number}: {describe_validation_error(exc)}")


def read_jsonl(path: str | Path, model: type[M]) -> tuple[list[M], list[str]]:
    """Read a whole JSONL file: (records, error messages). An empty file is an error."""
    records: list[M] = []
    errors: list[str] = []
    for result in iter_jsonl(path, model):
        if result.record is not None:
            records.append(result.record)
        else:
            errors.append(result.error or f"{path}:{result.line}: unreadable")
    if not records and not errors:
        errors.append(f"{path}: file is empty")
    return records, errors
