"""Inline entity markup used to write corpus notes: `[[surface text|LABEL]]`.

Writers mark entities in place; `unmark` strips the brackets and returns the plain
note with exact character offsets, so `text[start:end] == surface` by construction.
"""

from __future__ import annotations

import re

MARK = re.compile(r"\[\[([^\[\]|]+)\|([A-Z_]+)\]\]")


def unmark(marked: str) -> tuple[str, list[dict]]:
    """Plain text and entity spans ({start, end, label, text}) from a marked-up note."""
    pieces: list[str] = []
    entities: list[dict] = []
    length = 0
    pos = 0
    for m in MARK.finditer(marked):
        before = marked[pos : m.start()]
        pieces.append(before)
        length += len(before)
        surface = m.group(1)
        entities.append({"start": length, "end": length + len(surface), "label": m.group(2), "text": surface})
        pieces.append(surface)
        length += len(surface)
        pos = m.end()
    pieces.append(marked[pos:])
    text = "".join(pieces)
    if "[[" in text or "]]" in text:
        raise ValueError("unbalanced [[...|LABEL]] markup left in the note")
    return text, entities


def convert_record(record: dict) -> dict:
    """A marked-up corpus record -> a labeled note (contracts section 1 + our fields)."""
    rec = dict(record)
    marked = rec.pop("marked")
    text, entities = unmark(marked)
    out = {"id": rec.pop("id"), "text": text, "cpt": rec.pop("cpt"), "icd10": rec.pop("icd10")}
    out.update(rec)
    out["entities"] = entities
    out.setdefault("source", "written")
    return out
