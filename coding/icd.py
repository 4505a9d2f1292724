"""ICD-10-CM titles and billable-leaf checks, straight from simple-icd-10-cm (FY2026).

The library's answers are read through an index cached per library version (see `_index`).

No hand copy of ICD-10-CM titles exists in DermCoder: this module is the only door.
"""

from __future__ import annotations

import json
import os
import re
from functools import lru_cache
from importlib import metadata
from pathlib import Path

# The contracts write codes with the dot (C44.311); the library also accepts C44311,
# which we refuse so that every emitted code has one spelling.
DOTTED = re.compile(r"^[A-Z][0-9][0-9A-Z](?:\.[0-9A-Z]{1,4})?$")
LIBRARY_VERSION = metadata.version("simple-icd-10-cm")
ICD_CODE_SET = f"ICD-10-CM FY2026 (simple-icd-10-cm {LIBRARY_VERSION})"
INDEX_FORMAT = 1


def _library():
    import simple_icd_10_cm as cm

    return cm


def cache_dir() -> Path:
    """Where the ICD-10-CM index is kept (XDG cache home)."""
    base = os.environ.get("XDG_CACHE_HOME")
    return (Path(base) if base else Path.home() / ".cache") / "dermcoder"


@lru_cache(maxsize=1)
def _index() -> dict[str, list] | None:
    """Every item of the library (dotted code -> [is leaf, title]), cached on disk per library version.

    Importing simple-icd-10-cm parses all of ICD-10-CM: ~2 s and ~180 MB on every start,
    the largest part of the cold start and of peak RSS in `make bench`. The index holds the
    library's own answers, written once per machine and library version (atomically), and
    loads in ~0.2 s. Without a writable cache it is built in memory from the library.
    """
    path = cache_dir() / f"icd10cm-index-v{INDEX_FORMAT}-{LIBRARY_VERSION}.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))["items"]
    except (OSError, ValueError, KeyError, TypeError):
        pass
    cm = _library()
    items = {code: [bool(cm.is_leaf(code)), cm.get_description(code)] for code in cm.get_all_codes(True)}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps({"library": LIBRARY_VERSION, "items": items}), encoding="utf-8")
        os.replace(tmp, path)
    except OSError:
        pass  # read-only home: the in-memory index still serves this process
    return items


def _valid(code: str) -> bool:
    """simple-icd-10-cm's is_valid_item: from the index for codes it holds, else the library."""
    if code in _index():
        return True
    if DOTTED.match(code):
        return False  # every valid dotted code is in the index
    try:
        return bool(_library().is_valid_item(code))  # undotted spellings: the library decides
    except Exception:
        return False


@lru_cache(maxsize=4096)
def is_billable(code: str) -> bool:
    """True if `code` (with the dot) is a valid ICD-10-CM code that can go on a claim."""
    if not DOTTED.match(code):
        return False
    item = _index().get(code)
    return bool(item and item[0])


@lru_cache(maxsize=4096)
def description(code: str) -> str:
    """The official tabular title of a valid code, or '' if the code is unknown."""
    item = _index().get(code)
    if item is not None:
        return item[1]
    if DOTTED.match(code):
        return ""
    try:
        cm = _library()
        return cm.get_description(code) if cm.is_valid_item(code) else ""
    except Exception:
        return ""


def warm() -> None:
    """Load the index now (the engine calls this, so the first note does not pay for it)."""
    _index()


def check_billable(code: str) -> str | None:
    """None if billable, else a message saying why not."""
    if is_billable(code):
        return None
    if not DOTTED.match(code):
        return f"ICD-10-CM '{code}' is not written as a dotted code (e.g. C44.311)"
    if _valid(code):
        return f"ICD-10-CM {code} is a category, not a billable code: a longer code is needed"
    return f"ICD-10-CM {code} does not exist in {ICD_CODE_SET}"
