"""EHR check boxes: a statement in a box left unticked ("[ ] patient supplied") says nothing."""

from __future__ import annotations

import re

UNCHECKED_BOX = re.compile(r"\[\s?\]\s*[^\[\]\n]{0,24}$")


def in_unticked_box(text: str, pos: int) -> bool:
    """The words at `pos` are the label of an unticked box on their line."""
    return UNCHECKED_BOX.search(text, text.rfind("\n", 0, pos) + 1, pos) is not None


def stated(pattern: re.Pattern, text: str, start: int = 0, end: int | None = None) -> re.Match | None:
    """The first match of `pattern` that the note states (not an unticked box's label)."""
    for m in pattern.finditer(text, start, len(text) if end is None else end):
        if not in_unticked_box(text, m.start()):
            return m
    return None
