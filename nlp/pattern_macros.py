"""Shared regular-expression pieces ({{NAME}} in a resource file's patterns).

A cue such as "biopsied three weeks ago" is read by two resources (a ConText rule and a
lexicon form); the time expression lives once in `shared_patterns.json` and each file
names it. Expansion works on the file's JSON text, before it is parsed, so every loader
gets plain patterns.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

MACRO = re.compile(r"\{\{([A-Z][A-Z0-9_]*)\}\}")
FILE = "shared_patterns.json"


def load_macros(directory: Path) -> dict[str, str]:
    """The named pieces of `directory/shared_patterns.json` (none when the file is absent)."""
    path = Path(directory) / FILE
    if not path.exists():
        return {}
    return dict(json.loads(path.read_text(encoding="utf-8"))["patterns"])


def expand_json_text(raw: str, macros: dict[str, str], where: str) -> str:
    """`raw` JSON text with every {{NAME}} replaced by its piece; ValueError naming unknown ones."""
    unknown = sorted({m.group(1) for m in MACRO.finditer(raw)} - set(macros))
    if unknown:
        raise ValueError(f"{where}: unknown pattern piece(s) {', '.join(unknown)} (not in {FILE})")
    # the piece goes inside a JSON string: escaped as JSON escapes it
    return MACRO.sub(lambda m: json.dumps(macros[m.group(1)])[1:-1], raw)


def read_resource(directory: Path, name: str) -> dict:
    """A resource file of `directory`, parsed, with its shared pieces put in."""
    directory = Path(directory)
    raw = (directory / name).read_text(encoding="utf-8")
    return json.loads(expand_json_text(raw, load_macros(directory), name))
