"""Diagnosis -> ICD-10-CM code by site axis, side and eyelid part (data: tables/icd_map.json).

The table says which code each (diagnosis family, ICD site axis, side) takes; every code
in it is re-checked against simple-icd-10-cm when loaded, so a typo cannot reach a claim.
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from pathlib import Path

from dermcoder.coding import icd
from dermcoder.coding.tables import load_tables
from dermcoder.errors import TableError


def _walk(value, where: str, problems: list[str]) -> None:
    if value is None:
        return
    if isinstance(value, dict):
        for k, v in value.items():
            _walk(v, f"{where}.{k}", problems)
        return
    msg = icd.check_billable(value)
    if msg:
        problems.append(f"icd_map.json: {where}: {msg}")


@lru_cache(maxsize=1)
def load_icd_map() -> dict:
    """The validated diagnosis map; raises TableError listing every non-billable code."""
    path = Path(str(resources.files("dermcoder.coding") / "tables" / "icd_map.json"))
    data = json.loads(path.read_text(encoding="utf-8"))
    problems: list[str] = []
    for section in ("by_axis", "flat", "by_site"):
        _walk(data.get(section, {}), section, problems)
    if problems:
        raise TableError(str(path), problems)
    return data


def _pick(entry, side: str | None, eyelid_part: str | None) -> str | None:
    if entry is None or isinstance(entry, str):
        return entry
    if side in ("left", "right") and eyelid_part in ("upper", "lower"):
        code = entry.get(f"{side}_{eyelid_part}")
        if code:
            return code
    if side in ("left", "right") and side in entry:
        return entry[side]
    return entry.get("unspecified")


def icd_code(key: str, site: str | None, side: str | None = None, eyelid_part: str | None = None) -> str | None:
    """The ICD-10-CM code of diagnosis family `key` at canonical `site` (None if it cannot be told)."""
    data = load_icd_map()
    # a site with a code of its own comes first ("lichen sclerosus" is L90.0, of the vulva N90.4)
    if site and key in data["by_site"] and site in data["by_site"][key]:
        return _pick(data["by_site"][key][site], side, eyelid_part)
    if key in data["flat"]:
        return data["flat"][key]
    if key in data["by_site"] and key not in data["by_axis"]:
        return data["by_site"][key].get("unspecified")  # a site the family has no code for, or none
    axes = data["by_axis"].get(key)
    if axes is None:
        return None
    axis = "unspecified"
    if site:
        rec = load_tables().sites.get(site)
        if rec is not None:
            axis = rec.icd_axis
    return _pick(axes.get(axis), side, eyelid_part)
