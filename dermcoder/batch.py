"""Batch coding of a JSONL file: one output line per input line, same id, same order."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from dermcoder.contracts import NoteIn, Suggestion
from dermcoder.engine import Engine, get_engine
from dermcoder.errors import DermCoderError
from dermcoder.jsonl import iter_jsonl, open_checked


@dataclass
class BatchStats:
    """What a batch run did."""

    lines: int = 0
    coded: int = 0
    errors: int = 0


def error_record(engine: Engine, line: int, message: str, raw_id: str | None) -> Suggestion:
    """The line kept in the output for an input line that could not be coded."""
    return Suggestion(id=raw_id or f"line-{line}", model=engine.model_info, error=message, line=line)


def run_batch(
    in_path: str | Path,
    out_path: str | Path,
    engine: Engine | None = None,
    on_line: Callable[[BatchStats], None] | None = None,
) -> BatchStats:
    """Code every line of `in_path` into `out_path` (contracts section 2, one line per input line)."""
    engine = engine or get_engine()
    stats = BatchStats()
    open_checked(in_path)  # a missing input must fail before the output file is created
    results = iter_jsonl(in_path, NoteIn)
    out = Path(out_path)
    with out.open("w", encoding="utf-8") as fh:
        for result in results:
            stats.lines += 1
            if result.record is None:
                suggestion = error_record(engine, result.line, result.error or "unreadable line", result.raw_id)
                stats.errors += 1
            else:
                try:
                    suggestion = engine.suggest(result.record.text, result.record.id)
                    stats.coded += 1
                except DermCoderError as exc:
                    suggestion = error_record(engine, result.line, f"{in_path}:{result.line}: {exc}", result.record.id)
                    stats.errors += 1
            fh.write(json.dumps(suggestion.model_dump(exclude_none=True), ensure_ascii=False) + "\n")
            if on_line:
                on_line(stats)
    return stats
