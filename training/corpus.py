"""The labeled corpus: checking it, counting its coverage, and assigning splits.

`check_corpus` validates every line (schema, unique ids, codes in our tables with legal
units and modifiers, billable ICD codes, aligned spans) and counts notes per family,
style and split. Coverage targets (issue: 300 written notes, 8 per family, 25 per
style, >= 25% test, >= 40% with traps, >= 120 span-annotated) are checked too.
"""

from __future__ import annotations

import json
import random
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path

from dermcoder.coding import icd
from dermcoder.coding.tables import CodeTables, load_tables
from dermcoder.contracts import LabeledNote
from dermcoder.jsonl import iter_jsonl
from dermcoder.training.markup import convert_record

STYLES = (
    "ehr_template", "dictated", "terse", "abbreviation_heavy", "multi_procedure",
    "mohs_report", "path_addendum", "messy_copy_paste",
)  # fmt: skip
ENTITY_LABELS = (
    "SIZE", "MARGIN", "AREA", "COUNT", "SITE", "LATERALITY", "HISTOLOGY", "PROCEDURE",
    "REPAIR", "MOHS_STAGE", "MOHS_BLOCKS",
)  # fmt: skip
# Gold context of a HISTOLOGY/PROCEDURE/REPAIR mention (entity field `context`): `current`
# or the reason the note does not assert it for today (annotation-guide.md, "Context").
CONTEXT_STATUSES = (
    "current", "negated", "uncertain", "historical", "hypothetical", "family", "declined", "cancelled",
    "copied_forward",
)  # fmt: skip
CONTEXT_LABELS = ("HISTOLOGY", "PROCEDURE", "REPAIR")
MODIFIERS = {"25", "57", "58", "59", "76", "77", "78", "79", "XE", "XP", "XS", "XU", "RT", "LT", "50", "51", "52"}
DISTINCT = {"59", "XE", "XP", "XS", "XU"}
# Coverage families: table families, with the two graft families counted together.
COVERAGE_ALIASES = {"graft_stsg": "graft", "graft_ftsg": "graft"}
REQUIRED_FAMILIES = (
    "biopsy", "shave_removal", "excision_benign", "excision_malignant", "repair_intermediate",
    "repair_complex", "repair_simple", "att", "graft", "destruction_premalignant", "destruction_benign",
    "destruction_malignant", "skin_tags", "mohs", "incision_drainage", "nail", "intralesional", "excimer",
    "pdt", "phototherapy", "em", "hcpcs_drug", "nothing_billable",
)  # fmt: skip
TARGETS = {"written_notes": 300, "per_family": 8, "per_style": 25, "test_share": 0.25, "trap_share": 0.40, "annotated": 120}


@dataclass
class CorpusCheck:
    """The result of checking a corpus file."""

    path: str
    notes: int = 0
    written: int = 0
    generated: int = 0
    annotated: int = 0
    with_traps: int = 0
    by_family: dict[str, dict[str, int]] = field(default_factory=dict)
    by_style: dict[str, dict[str, int]] = field(default_factory=dict)
    by_split: dict[str, int] = field(default_factory=dict)
    targets: list[dict] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


def note_families(note: LabeledNote, tables: CodeTables) -> list[str]:
    """Coverage families of a note's gold codes ('nothing_billable' when it has none)."""
    fams: list[str] = []
    for line in note.cpt:
        rec = tables.cpt(line.code)
        if rec is None:
            continue
        fam = COVERAGE_ALIASES.get(rec.family, rec.family)
        if fam not in fams:
            fams.append(fam)
    return fams or ["nothing_billable"]


def check_note(note: LabeledNote, where: str, tables: CodeTables) -> list[str]:
    """Every problem of one labeled note (codes, units, modifiers, ICD, spans)."""
    problems: list[str] = []
    seen: set[str] = set()
    for i, line in enumerate(note.cpt):
        loc = f"{where}: cpt[{i}] {line.code}"
        rec = tables.cpt(line.code)
        if rec is None:
            problems.append(f"{loc}: code not in the code tables")
            continue
        if line.code in seen:
            problems.append(f"{loc}: code on two lines; use one line with units")
        seen.add(line.code)
        if rec.unit_rule in ("per_session", "per_day", "per_visit") and not rec.add_on and line.units != 1:
            problems.append(f"{loc}: {rec.unit_rule.replace('_', ' ')} code must carry 1 unit, not {line.units}")
        mue = tables.mue.get(line.code)
        if mue and mue.mai == 2 and line.units > mue.value:
            problems.append(f"{loc}: {line.units} units exceed the MAI 2 MUE of {mue.value}")
        for mod in line.modifiers:
            if mod not in MODIFIERS:
                problems.append(f"{loc}: unknown modifier {mod!r}")
            if rec.add_on and mod in DISTINCT | {"51"}:
                problems.append(f"{loc}: modifier {mod} on an add-on code")
        if len(set(line.modifiers) & DISTINCT) > 1:
            problems.append(f"{loc}: 59 and an X modifier on one line")
    codes = [line.code for line in note.cpt]
    for a in codes:
        for b in codes:
            edit = tables.edit(a, b)
            if edit and edit.modifier_indicator == "0":
                problems.append(f"{where}: {a} and {b} never go together (NCCI indicator 0)")
    for code in note.icd10:
        msg = icd.check_billable(code)
        if msg:
            problems.append(f"{where}: icd10 {msg}")
    for j, ent in enumerate(note.entities or []):
        loc = f"{where}: entities[{j}]"
        if ent.label not in ENTITY_LABELS:
            problems.append(f"{loc}: unknown label {ent.label!r} (allowed: {', '.join(ENTITY_LABELS)})")
        if not 0 <= ent.start < ent.end <= len(note.text):
            problems.append(f"{loc}: offsets {ent.start}-{ent.end} outside the note ({len(note.text)} chars)")
            continue
        surface = getattr(ent, "text", None)
        if surface is not None and note.text[ent.start : ent.end] != surface:
            problems.append(f"{loc}: text {surface!r} != note[{ent.start}:{ent.end}] {note.text[ent.start:ent.end]!r}")
        status = getattr(ent, "context", None)
        if status is not None and (status not in CONTEXT_STATUSES or ent.label not in CONTEXT_LABELS):
            problems.append(f"{loc}: context {status!r} (allowed on {'/'.join(CONTEXT_LABELS)}: {', '.join(CONTEXT_STATUSES)})")
    extra = note.model_extra or {}
    if extra.get("style") is not None and extra["style"] not in STYLES:
        problems.append(f"{where}: style {extra['style']!r} not one of {', '.join(STYLES)}")
    if note.source == "generated" and note.split in ("dev", "test"):
        problems.append(f"{where}: generated notes may only be in train, not {note.split}")
    return problems


def check_corpus(path: str | Path, targets: bool = True) -> CorpusCheck:
    """Validate a corpus file and count its coverage; `targets` also checks the issue's minimums."""
    tables = load_tables()
    result = CorpusCheck(path=str(path))
    ids: dict[str, int] = {}
    fam = defaultdict(Counter)
    sty = defaultdict(Counter)
    split = Counter()
    for line in iter_jsonl(path, LabeledNote):
        if line.record is None:
            result.problems.append(line.error or f"{path}:{line.line}: unreadable")
            continue
        note = line.record
        where = f"{path}:{line.line} ({note.id})"
        if note.id in ids:
            result.problems.append(f"{where}: duplicate id (first on line {ids[note.id]})")
        ids.setdefault(note.id, line.line)
        result.problems.extend(check_note(note, where, tables))
        extra = note.model_extra or {}
        result.notes += 1
        is_generated = note.source == "generated"
        result.generated += is_generated
        result.written += not is_generated
        if is_generated:
            continue  # generated notes never count toward coverage
        result.annotated += bool(note.entities)
        result.with_traps += bool(extra.get("traps"))
        s = note.split or "unassigned"
        split[s] += 1
        for f in note_families(note, tables):
            fam[f][s] += 1
            fam[f]["total"] += 1
        style = extra.get("style") or "unspecified"
        sty[style][s] += 1
        sty[style]["total"] += 1
        if not extra.get("rationale"):
            result.problems.append(f"{where}: rationale is missing")
        if note.split is None:
            result.problems.append(f"{where}: split is missing (run `dermcoder corpus split`)")
    if result.notes == 0 and not result.problems:
        result.problems.append(f"{path}: file is empty")
    result.by_family = {k: dict(v) for k, v in sorted(fam.items())}
    result.by_style = {k: dict(v) for k, v in sorted(sty.items())}
    result.by_split = dict(split)
    if targets:
        _check_targets(result)
    return result


def _check_targets(result: CorpusCheck) -> None:
    written = max(result.written, 1)
    rows = [("written notes", result.written, TARGETS["written_notes"])]
    rows += [(f"family {f}", result.by_family.get(f, {}).get("total", 0), TARGETS["per_family"]) for f in REQUIRED_FAMILIES]
    rows += [(f"style {s}", result.by_style.get(s, {}).get("total", 0), TARGETS["per_style"]) for s in STYLES]
    rows.append(("test share", round(result.by_split.get("test", 0) / written, 3), TARGETS["test_share"]))
    rows.append(("notes with traps (share)", round(result.with_traps / written, 3), TARGETS["trap_share"]))
    rows.append(("span-annotated notes", result.annotated, TARGETS["annotated"]))
    for name, value, target in rows:
        ok = value >= target
        result.targets.append({"target": name, "value": value, "minimum": target, "ok": ok})
        if not ok:
            result.problems.append(f"coverage: {name} is {value}, below the minimum {target}")


def render_coverage(result: CorpusCheck, console) -> None:
    """Print the coverage tables (family x split, style x split, targets) with rich."""
    from rich.table import Table

    console.print(
        f"{result.path}: {result.notes} notes ({result.written} written, {result.generated} generated), "
        f"{result.annotated} span-annotated, {result.with_traps} with traps",
        highlight=False,
    )
    for title, data in (("family", result.by_family), ("style", result.by_style)):
        table = Table(title=f"Notes per {title} and split")
        table.add_column(title)
        for col in ("train", "dev", "test", "total"):
            table.add_column(col, justify="right")
        for key, counts in data.items():
            table.add_row(key, *(str(counts.get(c, 0)) for c in ("train", "dev", "test", "total")))
        console.print(table)
    console.print(f"splits: {result.by_split}", highlight=False)
    if result.targets:
        table = Table(title="Coverage targets")
        for col in ("target", "value", "minimum", "ok"):
            table.add_column(col)
        for row in result.targets:
            table.add_row(row["target"], str(row["value"]), str(row["minimum"]), "yes" if row["ok"] else "NO")
        console.print(table)


SMALLEST_STRATUM = 3  # fewest new notes of one family that get a test note of their own
POOLED = "~pooled small families"


def assign_splits(path: str | Path, seed: int = 13, test_share: float = 0.3, dev_share: float = 0.2) -> dict[str, int]:
    """Give every written note without a split one, stratified by its primary family.

    Existing splits are never changed (a note that was `test` stays `test`), and
    generated notes always go to train. The file is rewritten in place, line order kept.
    """
    tables = load_tables()
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    records = [json.loads(line) for line in lines if line.strip()]
    strata: dict[str, list[int]] = defaultdict(list)
    for i, rec in enumerate(records):
        if rec.get("source") == "generated":
            rec["split"] = "train"
        elif not rec.get("split"):
            note = LabeledNote.model_validate(rec)
            strata[note_families(note, tables)[0]].append(i)
    # A family with one or two new notes cannot be split on its own; left to train, a varied
    # batch would put its rarer families (and most of its notes) in train only. They are
    # split together instead, as one mixed stratum.
    small = sorted(f for f in strata if len(strata[f]) < SMALLEST_STRATUM)
    if len(small) > 1:
        strata[POOLED] = [i for f in small for i in strata.pop(f)]
    rng = random.Random(seed)
    for family in sorted(strata):
        members = strata[family]
        rng.shuffle(members)
        n = len(members)
        n_test = max(1, round(n * test_share)) if n >= SMALLEST_STRATUM else 0
        n_dev = max(1, round(n * dev_share)) if n >= SMALLEST_STRATUM + 1 else 0
        for rank, i in enumerate(members):
            records[i]["split"] = "test" if rank < n_test else "dev" if rank < n_test + n_dev else "train"
    Path(path).write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return dict(Counter(r["split"] for r in records))


def import_marked(parts: list[Path], out_path: Path) -> int:
    """Convert marked-up note files (`[[text|LABEL]]`) and append them to the corpus.

    Ids already in the corpus are refused, so re-running an import cannot duplicate notes.
    """
    existing: set[str] = set()
    if out_path.exists():
        existing = {json.loads(line)["id"] for line in out_path.read_text(encoding="utf-8").splitlines() if line.strip()}
    new: list[dict] = []
    for part in parts:
        for number, line in enumerate(part.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            rec = convert_record(json.loads(line))
            if rec["id"] in existing:
                raise ValueError(f"{part}:{number}: id {rec['id']} is already in {out_path}")
            existing.add(rec["id"])
            new.append(rec)
    with out_path.open("a", encoding="utf-8") as fh:
        for rec in new:
            fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
    return len(new)
