"""The rule records (tables/rules.json) and the small engine that applies them.

Each record says what it does in our words, which code-set year it reflects and which
frame facts it reads; its `handler` names the function that does the arithmetic. The
engine runs every rule in file order over one `CodingContext`; rationales cite the
rule id. Loading checks that every record has a handler and every handler a record.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Callable

from pydantic import BaseModel, ConfigDict, ValidationError

from dermcoder.coding.tables import CodeTables, load_tables
from dermcoder.errors import TableError
from dermcoder.nlp.frames import Frame, Mention


class RuleRecord(BaseModel):
    """One coding rule as data."""

    model_config = ConfigDict(extra="forbid")

    id: str
    code_set_year: int
    family: str
    handler: str
    description: str
    reads: list[str]


@dataclass
class Candidate:
    """A proposed CPT/HCPCS line, before claim assembly."""

    code: str
    units: int
    rule_id: str
    rationale: str
    evidence: list[Mention] = field(default_factory=list)
    frames: list[int] = field(default_factory=list)
    modifiers: list[str] = field(default_factory=list)
    confidence: float = 0.9
    diagnoses: list[str] = field(default_factory=list)
    alternatives: list[tuple[str, float, str]] = field(default_factory=list)
    site: str | None = None  # canonical site, for distinct-lesion reasoning


@dataclass
class QueryOut:
    fact: str
    message: str
    evidence: list[Mention] = field(default_factory=list)


@dataclass
class WarningOut:
    code: str
    message: str
    evidence: list[Mention] = field(default_factory=list)


@dataclass
class CodingContext:
    """Everything the rules read, and what they produce."""

    text: str
    frames: list[Frame]
    mentions: list[Mention]
    tables: CodeTables
    candidates: list[Candidate] = field(default_factory=list)
    queries: list[QueryOut] = field(default_factory=list)
    warnings: list[WarningOut] = field(default_factory=list)
    frame_dx: dict[int, list[tuple[str, Mention | None, float]]] = field(default_factory=dict)
    note_dx: list[tuple[str, Mention | None, float]] = field(default_factory=list)
    consumed: set[int] = field(default_factory=set)  # frames whose excision is included elsewhere (ATT)

    def query(self, fact: str, message: str, evidence: list[Mention] | None = None) -> None:
        if not any(q.fact == fact and q.message == message for q in self.queries):
            self.queries.append(QueryOut(fact, message, evidence or []))

    def warn(self, code: str, message: str, evidence: list[Mention] | None = None) -> None:
        if not any(w.code == code and w.message == message for w in self.warnings):
            self.warnings.append(WarningOut(code, message, evidence or []))

    def add(self, cand: Candidate) -> Candidate:
        self.candidates.append(cand)
        return cand


HANDLERS: dict[str, Callable[[CodingContext, RuleRecord], None]] = {}


def handler(name: str):
    """Register a rule handler under the name rule records use."""

    def register(fn):
        HANDLERS[name] = fn
        return fn

    return register


@lru_cache(maxsize=1)
def load_rules() -> list[RuleRecord]:
    """The rule records, validated; every handler they name must exist (and be used)."""
    # Importing the handler modules registers them.
    from dermcoder.coding import claim, diagnoses, lesions, mohs, no_charge, repairs, sessions  # noqa: F401

    path = Path(str(resources.files("dermcoder.coding") / "tables" / "rules.json"))
    raw = json.loads(path.read_text(encoding="utf-8"))
    problems: list[str] = []
    rules: list[RuleRecord] = []
    for i, rec in enumerate(raw["rules"]):
        try:
            rule = RuleRecord.model_validate(rec)
        except ValidationError as exc:
            problems.append(f"rules.json: rules[{i}]: {exc}")
            continue
        if rule.handler not in HANDLERS:
            problems.append(f"rules.json: rules[{i}] ({rule.id}): no handler named {rule.handler!r}")
        rules.append(rule)
    ids = [r.id for r in rules]
    for dup in {i for i in ids if ids.count(i) > 1}:
        problems.append(f"rules.json: duplicate rule id {dup}")
    unused = set(HANDLERS) - {r.handler for r in rules}
    for name in sorted(unused):
        problems.append(f"rules.json: handler {name!r} has no rule record")
    if problems:
        raise TableError(str(path), problems)
    return rules


def run_rules(text: str, frames: list[Frame], mentions: list[Mention], tables: CodeTables | None = None) -> CodingContext:
    """Apply every rule, in file order, to one note's frames."""
    ctx = CodingContext(text=text, frames=frames, mentions=mentions, tables=tables or load_tables())
    for rule in load_rules():
        HANDLERS[rule.handler](ctx, rule)
    return ctx
