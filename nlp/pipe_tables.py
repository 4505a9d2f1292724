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
    sep: str = "|"

    @property
    def stage_table(self) -> bool:
        return bool(self.rows) and STAGE_HEADER.match(self.rows[0][1]) is not None


# "SPEC ; FINAL PATH ; SITE ; LAT ; DIAM" over rows with as many ";": an export that separates
# cells with semicolons. Prose has lines with three ";" too, so a run must be a header and at
# least two rows with the same number of them.
MIN_SEMICOLONS = 3
MIN_SEMICOLON_LINES = 3


def pipe_tables(text: str) -> list[PipeTable]:
    """Every pipe (or semicolon) table of the note, in order."""
    if text.count("|") < 2 and text.count(";") < MIN_SEMICOLONS * MIN_SEMICOLON_LINES:
        return []  # no line with two "|", and too few ";" for three lines of three: no walk over the lines
    tables: list[PipeTable] = []
    current: PipeTable | None = None
    pos = 0
    for line in text.splitlines(keepends=True):
        sep = _separator(line)
        if current is not None and (sep != current.sep or (sep == ";" and line.count(";") != current.rows[0][1].count(";"))):
            current.end = pos
            current = None
        if sep is not None:
            if current is None:
                current = PipeTable(sep=sep)
                tables.append(current)
            current.rows.append((pos, line))
        pos += len(line)
    return [t for t in tables if t.sep == "|" or len(t.rows) >= MIN_SEMICOLON_LINES]


def _separator(line: str) -> str | None:
    if line.count("|") >= 2:
        return "|"
    if line.count(";") >= MIN_SEMICOLONS:
        return ";"
    return None


def separator_at(text: str, start: int) -> str | None:
    """The cell separator of the table holding the line at `start`, if it stands in one."""
    if "|" not in text and ";" not in text:
        return None
    for table in pipe_tables(text):
        first = table.rows[0][0]
        last = table.rows[-1][0] + len(table.rows[-1][1])
        if first <= start < last:
            return table.sep
    return None
