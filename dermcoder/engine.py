"""The one engine behind every surface: `suggest(text) -> Suggestion`.

The CLI, the FastAPI app and the Spark job all call `get_engine()` and then
`suggest` / `suggest_many`, so the pipeline, tables and model are built once per
process and speed work happens in one place.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Iterable, Iterator

from dermcoder import __version__
from dermcoder.coding.tables import load_tables
from dermcoder.contracts import ModelInfo, NoteIn, Suggestion, Warning
from dermcoder.errors import InputError
from dermcoder.settings import get_settings

PIPELINE_NAME = "none (coding engine not built yet)"


class Engine:
    """Holds what is expensive to build (tables, pipeline, model) for the life of a process."""

    def __init__(self) -> None:
        self.tables = load_tables()
        self.model_info = ModelInfo(version=__version__, pipeline=PIPELINE_NAME)

    def suggest(self, text: str, note_id: str = "note") -> Suggestion:
        """Code one note. Raises InputError for text that breaks a limit."""
        limit = get_settings().max_note_chars
        if len(text) > limit:
            raise InputError(f"note is {len(text):,} characters; the limit is {limit:,} (DERMCODER_MAX_NOTE_CHARS)")
        # Until the coding engine lands, say so rather than invent a code.
        return Suggestion(
            id=note_id,
            model=self.model_info,
            warnings=[Warning(code="engine_unavailable", message="The coding engine is not built yet: no codes are suggested.")],
        )

    def suggest_many(self, notes: Iterable[NoteIn]) -> Iterator[Suggestion]:
        """Code many notes in order, one Suggestion per note."""
        for note in notes:
            yield self.suggest(note.text, note.id)


@lru_cache(maxsize=1)
def get_engine() -> Engine:
    """The process-wide engine, built on first use."""
    return Engine()
