"""ICD-10-CM titles and billable-leaf checks, straight from simple-icd-10-cm (FY2026).

No hand copy of ICD-10-CM titles exists in DermCoder: this module is the only door.
"""

from __future__ import annotations

import re
from functools import lru_cache

import simple_icd_10_cm as cm

# The contracts write codes with the dot (C44.311); the library also accepts C44311,
# which we refuse so that every emitted code has one spelling.
DOTTED = re.compile(r"^[A-Z][0-9][0-9A-Z](?:\.[0-9A-Z]{1,4})?$")
ICD_CODE_SET = f"ICD-10-CM FY2026 (simple-icd-10-cm {getattr(cm, '__version__', '1.5.0')})"


@lru_cache(maxsize=4096)
def is_billable(code: str) -> bool:
    """True if `code` (with the dot) is a valid ICD-10-CM code that can go on a claim."""
    if not DOTTED.match(code):
        return False
    try:
        return bool(cm.is_valid_item(code) and cm.is_leaf(code))
    except Exception:  # the library raises on malformed input; malformed is not billable
        return False


@lru_cache(maxsize=4096)
def description(code: str) -> str:
    """The official tabular title of a valid code, or '' if the code is unknown."""
    try:
        return cm.get_description(code) if cm.is_valid_item(code) else ""
    except Exception:
        return ""


def check_billable(code: str) -> str | None:
    """None if billable, else a message saying why not."""
    if is_billable(code):
        return None
    if not DOTTED.match(code):
        return f"ICD-10-CM '{code}' is not written as a dotted code (e.g. C44.311)"
    try:
        valid = cm.is_valid_item(code)
    except Exception:
        valid = False
    if valid:
        return f"ICD-10-CM {code} is a category, not a billable code: a longer code is needed"
    return f"ICD-10-CM {code} does not exist in {ICD_CODE_SET}"
