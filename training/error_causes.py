"""The errors that remain, grouped by cause: what an auditor reads after the metrics.

Every gold/predicted difference of a note is put in exactly one group, so the counts add
up to the differences the metrics see:

CPT, per code family (cpt_codes.json), in this order of precedence:
- ``missed family``: gold bills the family, the prediction has none of its codes;
- ``extra family``: the prediction bills a family gold does not;
- ``different codes``: both bill the family, with codes that differ (band, site group, stage,
  benign vs malignant, a line of the family missing or added...);
- ``units``: the same codes, different units;
- ``modifiers``: the same codes and units, different modifiers (XE/XP/XS/XU = 59).

ICD-10-CM, per kind of diagnosis (the first characters of the code):
- ``missed`` / ``extra``: no code of that 3-character category on the other side;
- ``specificity``: both sides have the category with different codes (site, side,
  eyelid, type, 4th-7th characters).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field

from dermcoder.contracts import LabeledNote, PredictionIn
from dermcoder.training.claim_lines import cpt_modifiers, cpt_units, icd_codes

MAX_EXAMPLES = 5

# (first characters, kind of diagnosis): the longest matching prefix wins
ICD_KINDS = (
    ("C", "malignant neoplasm"),
    ("D0", "in situ neoplasm"),
    ("D1", "benign neoplasm"), ("D2", "benign neoplasm"), ("D30", "benign neoplasm"), ("D31", "benign neoplasm"),
    ("D32", "benign neoplasm"), ("D33", "benign neoplasm"), ("D34", "benign neoplasm"), ("D35", "benign neoplasm"),
    ("D36", "benign neoplasm"), ("D37", "uncertain or unspecified behaviour"), ("D38", "uncertain or unspecified behaviour"),
    ("D39", "uncertain or unspecified behaviour"), ("D4", "uncertain or unspecified behaviour"),
    ("L", "skin disease"), ("A", "infection"), ("B", "infection"),
    ("T", "injury, adverse effect"), ("S", "injury, adverse effect"),
    ("Z", "status, history, encounter"),
)  # fmt: skip


def icd_kind(code: str) -> str:
    """The kind of diagnosis a code belongs to, for grouping ("C44.311" -> "malignant neoplasm")."""
    best = ""
    kind = "other"
    for prefix, name in ICD_KINDS:
        if code.startswith(prefix) and len(prefix) > len(best):
            best, kind = prefix, name
    return kind


@dataclass
class CauseGroup:
    """One group of differences: how many, in how many notes, and a few note ids to read."""

    system: str  # "CPT" | "ICD-10-CM"
    group: str  # the code family (CPT) or kind of diagnosis (ICD)
    cause: str
    differences: int = 0
    notes: int = 0
    examples: list[str] = field(default_factory=list)

    def add(self, note_id: str, differences: int) -> None:
        self.differences += differences
        if not self.examples or self.examples[-1] != note_id:
            self.notes += 1
            if len(self.examples) < MAX_EXAMPLES:
                self.examples.append(note_id)

    def to_dict(self) -> dict:
        return asdict(self)


def _lines(lines: Iterable[dict | object]) -> dict[str, tuple[int, frozenset[str]]]:
    """code -> (units, normalized modifiers); several lines of one code add their units."""
    units, mods = cpt_units(lines), cpt_modifiers(lines)
    return {code: (n, mods.get(code, frozenset())) for code, n in units.items()}


def error_causes(gold: list[LabeledNote], predictions: list[PredictionIn], family_of: Callable[[str], str]) -> list[CauseGroup]:
    """Every difference between gold and predictions, grouped (module docstring); largest groups first.

    `family_of` maps a CPT/HCPCS code to its family; a gold note without a prediction is
    compared with an empty one, as the metrics do.
    """
    by_id: dict[str, PredictionIn] = {}
    for p in predictions:
        by_id.setdefault(p.id, p)
    groups: dict[tuple[str, str, str], CauseGroup] = {}

    def note(system: str, group: str, cause: str, note_id: str, n: int) -> None:
        key = (system, group, cause)
        if key not in groups:
            groups[key] = CauseGroup(system, group, cause)
        groups[key].add(note_id, n)

    for g in gold:
        p = by_id.get(g.id)
        g_lines, p_lines = _lines(g.cpt), _lines(p.cpt if p is not None else [])
        families = sorted({family_of(c) for c in g_lines} | {family_of(c) for c in p_lines})
        for fam in families:
            gf = {c: v for c, v in g_lines.items() if family_of(c) == fam}
            pf = {c: v for c, v in p_lines.items() if family_of(c) == fam}
            if gf == pf:
                continue
            if not pf:
                note("CPT", fam, "missed family", g.id, len(gf))
            elif not gf:
                note("CPT", fam, "extra family", g.id, len(pf))
            elif set(gf) != set(pf):
                note("CPT", fam, "different codes", g.id, len(set(gf) ^ set(pf)))
            elif any(gf[c][0] != pf[c][0] for c in gf):
                note("CPT", fam, "units", g.id, sum(gf[c][0] != pf[c][0] for c in gf))
            else:
                note("CPT", fam, "modifiers", g.id, sum(gf[c][1] != pf[c][1] for c in gf))
        g_icd, p_icd = icd_codes(g.icd10), icd_codes(p.icd10 if p is not None else [])
        g_cat, p_cat = {c[:3] for c in g_icd}, {c[:3] for c in p_icd}
        for code in sorted(g_icd ^ p_icd):
            kind = icd_kind(code)
            if code[:3] in g_cat and code[:3] in p_cat:
                if code in g_icd:  # one difference per gold code of the category
                    note("ICD-10-CM", kind, "specificity", g.id, 1)
            elif code in g_icd:
                note("ICD-10-CM", kind, "missed", g.id, 1)
            else:
                note("ICD-10-CM", kind, "extra", g.id, 1)
    return sorted(groups.values(), key=lambda x: (x.system, -x.differences, -x.notes, x.group, x.cause))


def cpt_family_of() -> Callable[[str], str]:
    """The family of a CPT/HCPCS code from the shipped code table ("unknown code" if absent)."""
    from dermcoder.coding.tables import load_tables

    tables = load_tables()

    def family(code: str) -> str:
        rec = tables.cpt(code)
        return rec.family if rec is not None else "unknown code"

    return family
