"""Reading a claim's lines the way contracts.md section 3 counts them, for the metrics and the
error groups alike: lines of one code add their units; XE/XP/XS/XU count as 59.

Lines come as dicts (JSON read back) or as objects with code/units/modifiers attributes.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Iterable

X_MODIFIERS = {"XE", "XP", "XS", "XU"}


def normalize_modifier(mod: str) -> str:
    """XE, XP, XS and XU count as 59 (contracts section 3)."""
    mod = mod.strip().upper()
    return "59" if mod in X_MODIFIERS else mod


def _field(line: dict | object, name: str, default=None):
    return line.get(name, default) if isinstance(line, dict) else getattr(line, name, default)


def cpt_units(lines: Iterable[dict | object]) -> dict[str, int]:
    """code -> units; several lines of one code add their units (one item per code)."""
    units: dict[str, int] = defaultdict(int)
    for line in lines:
        units[str(_field(line, "code"))] += int(_field(line, "units", 1) or 1)
    return dict(units)


def cpt_modifiers(lines: Iterable[dict | object]) -> dict[str, frozenset[str]]:
    """code -> its normalized modifiers (of all its lines)."""
    mods: dict[str, set[str]] = defaultdict(set)
    for line in lines:
        mods[str(_field(line, "code"))] |= {normalize_modifier(m) for m in (_field(line, "modifiers", []) or [])}
    return {code: frozenset(m) for code, m in mods.items()}


def icd_codes(items: Iterable[dict | str]) -> set[str]:
    """The ICD-10-CM codes of a list of codes or code records, upper-cased."""
    return {(i["code"] if isinstance(i, dict) else i).strip().upper() for i in items}
