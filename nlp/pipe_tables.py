"""Pipe tables in a note ("Site | Dx | Size" / "| Stage | Blocks |"): their rows with offsets.

One walker for every reader of tables: lesion blocks (nlp/frames.py) and Mohs stage rows
(nlp/mohs.py). A row is a line with at least two "|"; a table is a run of rows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# "| Stage | Blocks | Margins |": a Mohs stage table, whose rows are stages of one tumour
STAGE_HEADER = re.compile(r"^[ \t]*\|?[ \t]*(?:stage|stg|layer)\b", re.IGNORECASE)


@dataclass
class PipeTable:
    """One run of table rows: (offset, line) each, header first."""

    rows: list[tuple[int, str]] = field(default_factory=list)
    end: int | None = None  # offset of the first line after the table; None at the end of the note

    @property
    def stage_table(self) -> bool:
        return bool(self.rows) and STAGE_HEADER.match(self.rows[0][1]) is not None


def pipe_tables(text: str) -> list[PipeTable]:
    """Every pipe table of the note, in order."""
    tables: list[PipeTable] = []
    current: PipeTable | None = None
    pos = 0
    for line in text.splitlines(keepends=True):
        if line.count("|") >= 2:
            if current is None:
                current = PipeTable()
                tables.append(current)
            current.rows.append((pos, line))
        elif current is not None:
            current.end = pos
            current = None
        pos += len(line)
    return tables
