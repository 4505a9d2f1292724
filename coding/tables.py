"""Code tables as validated data: CPT/HCPCS codes, anatomic groups, NCCI PTP pairs, MUEs.

The tables live in `coding/tables/` and ship inside the package. Each file is checked
against a pydantic schema with `extra="forbid"` when loaded, and every problem
(file, record, field, message) is collected before failing, so one run shows all of
them. Nothing else in DermCoder holds a copy of a code, a band or a group.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from dermcoder.contracts import CPT_CODE
from dermcoder.errors import TableError

FAMILIES = (
    "biopsy", "shave_removal", "excision_benign", "excision_malignant", "hidradenitis",
    "repair_simple", "repair_intermediate", "repair_complex", "att", "graft_stsg", "graft_ftsg",
    "destruction_premalignant", "destruction_benign", "destruction_vascular", "destruction_malignant",
    "skin_tags", "mohs", "incision_drainage", "acne_surgery", "paring", "nail", "intralesional",
    "phototherapy", "excimer", "pdt", "chemical_peel", "chemodenervation", "pathology", "em", "em_hospital",
    "hcpcs_drug",
)  # fmt: skip

UNIT_RULES = (
    "per_lesion", "per_session", "per_day", "per_visit", "per_nail", "per_region", "per_group_sum",
    "per_5_cm", "per_defect", "per_30_sq_cm", "per_graft", "per_20_sq_cm", "per_100_sq_cm",
    "per_10_tags", "per_tumor", "per_stage", "per_block", "per_specimen", "per_stain",
    "per_antibody", "per_10_mg", "per_354_mg",
)  # fmt: skip

TABLE_FILES = {
    "cpt": "cpt_codes.json",
    "sites": "sites.json",
    "ptp": "ncci_ptp_practitioner_2024q2.csv",
    "mue": "ncci_mue_practitioner_2024q2.csv",
}
NCCI_QUARTER = "2024Q2 (effective 2024-04-01)"


class CptCode(BaseModel):
    """One CPT/HCPCS code: our own short description, family, unit rule, band, group."""

    model_config = ConfigDict(extra="forbid")

    code: str = Field(pattern=CPT_CODE.pattern)
    family: Literal[FAMILIES]  # type: ignore[valid-type]
    description: str = Field(min_length=5, max_length=140)
    add_on: bool
    parent: str | None
    unit_rule: Literal[UNIT_RULES]  # type: ignore[valid-type]
    band_low: float | None
    band_high: float | None
    band_unit: Literal["cm", "sq cm", "lesions", "nails"] | None
    anatomic_scheme: str | None
    anatomic_group: str | None
    code_set_year: int = Field(ge=2019, le=2030)
    global_days: int | None = None


class CptTableFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    provenance: dict[str, str]
    codes: list[dict]


class Scheme(BaseModel):
    model_config = ConfigDict(extra="forbid")

    families: list[str]
    groups: dict[str, str]


class Site(BaseModel):
    """A canonical anatomic site and its group in each family's anatomic scheme."""

    model_config = ConfigDict(extra="forbid")

    groups: dict[str, str]
    icd_axis: str
    lateral: bool
    uncertain: str | None = None


class SitesFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    provenance: dict[str, str | int]
    schemes: dict[str, Scheme]
    icd_axes: list[str]
    sites: dict[str, dict]


@dataclass(frozen=True)
class PtpEdit:
    """An active NCCI procedure-to-procedure edit: column 2 is denied with column 1."""

    column_1: str
    column_2: str
    modifier_indicator: str  # "0" never together, "1" a modifier may bypass, "9" n/a
    rationale: str


@dataclass(frozen=True)
class Mue:
    """A practitioner MUE value and its adjudication indicator (MAI 2 = hard cap)."""

    code: str
    value: int
    mai: int
    rationale: str


@dataclass
class CodeTables:
    """Every table DermCoder reads at run time, validated."""

    codes: dict[str, CptCode]
    schemes: dict[str, Scheme]
    sites: dict[str, Site]
    icd_axes: list[str]
    ptp: dict[tuple[str, str], PtpEdit]
    mue: dict[str, Mue]
    provenance: dict[str, dict] = field(default_factory=dict)

    def cpt(self, code: str) -> CptCode | None:
        """The table record of a code, or None if we do not know it."""
        return self.codes.get(code)

    def edit(self, column_1: str, column_2: str) -> PtpEdit | None:
        """The active PTP edit for this ordered pair, if any."""
        return self.ptp.get((column_1, column_2))

    def family_codes(self, family: str) -> list[CptCode]:
        """The codes of one family, in table order."""
        return [c for c in self.codes.values() if c.family == family]

    def band_code(self, family: str, value: float, group: str | None = None) -> CptCode | None:
        """The primary code of `family` (and anatomic `group`) whose band holds `value`.

        Bands are written to 0.1 (cm, sq cm) or to whole counts, so a value between two
        bands (e.g. 1.05 cm) matches none and returns None: the caller must query rather
        than round (reference section 0, band edges).
        """
        for code in self.family_codes(family):
            if code.add_on or code.band_low is None or (group is not None and code.anatomic_group != group):
                continue
            high = code.band_high if code.band_high is not None else float("inf")
            low = code.band_low
            # "over 2.0 cm" is stored as low 2.1; anything above the previous band's top belongs to it.
            if code.band_high is None:
                prev = max((c.band_high for c in self.family_codes(family)
                            if c.band_high is not None and c.anatomic_group == code.anatomic_group
                            and c.band_unit == code.band_unit and not c.add_on), default=None)  # fmt: skip
                if prev is not None and value > prev:
                    return code
            if low <= value <= high:
                return code
        return None


def _tables_dir() -> Path:
    return Path(str(resources.files("dermcoder.coding") / "tables"))


SchemaT = TypeVar("SchemaT", bound=BaseModel)


def read_data_table(name: str, schema: type[SchemaT]) -> tuple[Path, SchemaT]:
    """A JSON table of coding/tables/ read and validated by its schema: (its path, the record).
    Raises TableError naming the file when it is not JSON or breaks the schema."""
    path = _tables_dir() / name
    try:
        return path, schema.model_validate(json.loads(path.read_text(encoding="utf-8")))
    except (ValueError, ValidationError) as exc:
        raise TableError(str(path), [str(exc)]) from exc


def _loc(err: dict) -> str:
    return ".".join(str(p) for p in err["loc"])


def _validate_cpt(path: Path, problems: list[str]) -> dict[str, CptCode]:
    try:
        raw = CptTableFile.model_validate(json.loads(path.read_text(encoding="utf-8")))
    except (ValidationError, json.JSONDecodeError) as exc:
        problems.append(f"{path.name}: {exc}")
        return {}
    codes: dict[str, CptCode] = {}
    for i, rec in enumerate(raw.codes):
        where = f"{path.name}: codes[{i}] ({rec.get('code', '?')})"
        try:
            code = CptCode.model_validate(rec)
        except ValidationError as exc:
            problems.extend(f"{where}.{_loc(e)}: {e['msg']}" for e in exc.errors())
            continue
        if code.code in codes:
            problems.append(f"{where}: duplicate code {code.code}")
            continue
        if (code.band_low is None) != (code.band_unit is None) and code.band_high is None:
            problems.append(f"{where}: band has a unit but no bounds, or bounds but no unit")
        if code.band_low is not None and code.band_high is not None and code.band_low > code.band_high:
            problems.append(f"{where}: band_low {code.band_low} > band_high {code.band_high}")
        codes[code.code] = code
    return codes


def _check_cross(codes: dict[str, CptCode], schemes: dict[str, Scheme], problems: list[str], name: str) -> None:
    for code in codes.values():
        where = f"{name}: {code.code}"
        if code.parent:
            for parent in code.parent.split("|"):
                if parent not in codes:
                    problems.append(f"{where}: parent {parent} is not in the table")
        if code.add_on and not code.parent:
            problems.append(f"{where}: add-on code without a parent")
        if code.anatomic_scheme is not None:
            scheme = schemes.get(code.anatomic_scheme)
            if scheme is None:
                problems.append(f"{where}: unknown anatomic scheme '{code.anatomic_scheme}'")
            elif code.anatomic_group not in scheme.groups:
                problems.append(
                    f"{where}: unknown anatomic group '{code.anatomic_group}' for scheme "
                    f"'{code.anatomic_scheme}' (allowed: {', '.join(scheme.groups)})"
                )
    # Bands of primary codes must not overlap within one family, scheme and group.
    buckets: dict[tuple, list[CptCode]] = {}
    for code in codes.values():
        if code.add_on or code.band_unit is None or code.band_low is None:
            continue
        buckets.setdefault((code.family, code.anatomic_scheme, code.anatomic_group, code.band_unit), []).append(code)
    for key, group in buckets.items():
        group.sort(key=lambda c: c.band_low)
        for a, b in zip(group, group[1:]):
            a_high = a.band_high if a.band_high is not None else float("inf")
            if b.band_low <= a_high:
                problems.append(
                    f"{name}: band overlap in {key[0]}/{key[2] or 'no group'}: {a.code} "
                    f"({a.band_low}-{a.band_high}) and {b.code} ({b.band_low}-{b.band_high})"
                )


def _validate_sites(path: Path, problems: list[str]) -> tuple[dict[str, Scheme], dict[str, Site], list[str], dict]:
    try:
        raw = SitesFile.model_validate(json.loads(path.read_text(encoding="utf-8")))
    except (ValidationError, json.JSONDecodeError) as exc:
        problems.append(f"{path.name}: {exc}")
        return {}, {}, [], {}
    sites: dict[str, Site] = {}
    for name, rec in raw.sites.items():
        where = f"{path.name}: sites.{name}"
        try:
            site = Site.model_validate(rec)
        except ValidationError as exc:
            problems.extend(f"{where}.{_loc(e)}: {e['msg']}" for e in exc.errors())
            continue
        for scheme_name, group in site.groups.items():
            scheme = raw.schemes.get(scheme_name)
            if scheme is None:
                problems.append(f"{where}.groups.{scheme_name}: unknown scheme")
            elif group not in scheme.groups:
                problems.append(f"{where}.groups.{scheme_name}: unknown group '{group}'")
        if site.icd_axis not in raw.icd_axes:
            problems.append(f"{where}.icd_axis: unknown axis '{site.icd_axis}'")
        sites[name] = site
    return raw.schemes, sites, raw.icd_axes, dict(raw.provenance)


def _validate_ptp(path: Path, problems: list[str]) -> dict[tuple[str, str], PtpEdit]:
    edits: dict[tuple[str, str], PtpEdit] = {}
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        need = {"column_1", "column_2", "deletion_date", "modifier_indicator", "ptp_edit_rationale"}
        missing = need - set(reader.fieldnames or [])
        if missing:
            problems.append(f"{path.name}: missing columns {sorted(missing)}")
            return edits
        for line, row in enumerate(reader, start=2):
            if row["deletion_date"] != "*":
                continue  # deleted edits are kept in the file for history only
            if not (CPT_CODE.match(row["column_1"]) and CPT_CODE.match(row["column_2"])):
                problems.append(f"{path.name}:{line}: malformed code pair {row['column_1']}/{row['column_2']}")
                continue
            if row["modifier_indicator"] not in {"0", "1", "9"}:
                problems.append(f"{path.name}:{line}: modifier_indicator must be 0, 1 or 9")
                continue
            key = (row["column_1"], row["column_2"])
            edits[key] = PtpEdit(key[0], key[1], row["modifier_indicator"], row["ptp_edit_rationale"])
    return edits


def _validate_mue(path: Path, problems: list[str]) -> dict[str, Mue]:
    mues: dict[str, Mue] = {}
    with path.open(encoding="utf-8", newline="") as fh:
        for line, row in enumerate(csv.DictReader(fh), start=2):
            try:
                mue = Mue(row["hcpcs_cpt_code"], int(row["practitioner_mue_value"]), int(row["mai"]), row["mue_rationale"])
            except (KeyError, ValueError) as exc:
                problems.append(f"{path.name}:{line}: {exc}")
                continue
            if mue.mai not in (1, 2, 3):
                problems.append(f"{path.name}:{line}: MAI must be 1, 2 or 3")
            if mue.code in mues:
                problems.append(f"{path.name}:{line}: duplicate MUE for {mue.code}")
            mues[mue.code] = mue
    return mues


def validate_tables(directory: Path | None = None) -> tuple[CodeTables | None, list[str]]:
    """Load and check every table in `directory`; return (tables or None, all problems)."""
    d = directory or _tables_dir()
    problems: list[str] = []
    for key, name in TABLE_FILES.items():
        if not (d / name).is_file():
            problems.append(f"{name}: missing from {d}")
    if problems:
        return None, problems
    codes = _validate_cpt(d / TABLE_FILES["cpt"], problems)
    schemes, sites, axes, site_prov = _validate_sites(d / TABLE_FILES["sites"], problems)
    _check_cross(codes, schemes, problems, TABLE_FILES["cpt"])
    ptp = _validate_ptp(d / TABLE_FILES["ptp"], problems)
    mue = _validate_mue(d / TABLE_FILES["mue"], problems)
    if problems:
        return None, problems
    cpt_prov = json.loads((d / TABLE_FILES["cpt"]).read_text(encoding="utf-8"))["provenance"]
    prov = {"cpt": cpt_prov, "sites": site_prov, "ncci": {"quarter": NCCI_QUARTER, "source": "CMS NCCI practitioner PTP v30.1 r0 and MUE tables"}}
    return CodeTables(codes, schemes, sites, axes, ptp, mue, prov), []


@lru_cache(maxsize=1)
def load_tables() -> CodeTables:
    """The packaged tables, validated once per process; raises TableError listing every problem."""
    tables, problems = validate_tables()
    if tables is None:
        raise TableError(str(_tables_dir()), problems)
    return tables
