"""Comorbidity, status and long-term drug codes for a billed E/M (data: tables/comorbidities.json).

The annotation guide lists them only when a separately reported E/M addresses the condition
(evaluates it, manages its treatment, counsels on it): "2. DM2 w/o complications - A1c 6.9,
at goal. Continue metformin 1000 mg BID" -> E11.9 and Z79.84. A condition named only in the
history or a medication list ("PMH: DM2 (metformin, followed by PCP)") is not addressed, and
a drug started, added or stopped today is no long-term therapy (guideline I.C.21.c.3).

A problem the E/M addresses is read from the note's assessment: the lines under an
assessment/plan heading, a numbered or bulleted problem line, or a paragraph headed by the
problem ("Diabetes: Type 2 diabetes on metformin ... continue metformin").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from pydantic import BaseModel, ConfigDict, Field

from dermcoder.coding import icd
from dermcoder.coding.adverse_effects import DrugEntry  # the same record: what the drugs are, their name patterns
from dermcoder.coding.tables import read_data_table
from dermcoder.errors import TableError


class ConditionEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str
    what: str
    patterns: list[str]
    with_: str | None = Field(default=None, alias="with")  # the item must also say this ("above goal" for E11.65)
    unless: str | None = None  # ... and must not say this (a complication with a code of its own)


class ComorbidityFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    provenance: dict[str, str]
    conditions: list[ConditionEntry]
    drugs: dict[str, DrugEntry]


@dataclass(frozen=True)
class Condition:
    code: str
    pattern: re.Pattern
    with_: re.Pattern | None
    unless: re.Pattern | None


@dataclass(frozen=True)
class Found:
    """A code and the words of the note that name what it codes."""

    code: str
    start: int
    end: int
    text: str


def _compile(pattern: str, where: str, problems: list[str]) -> re.Pattern | None:
    try:
        return re.compile(pattern, re.IGNORECASE)
    except re.error as exc:
        problems.append(f"{where}: bad pattern {pattern!r}: {exc}")
        return None


@lru_cache(maxsize=1)
def comorbidity_table() -> tuple[tuple[Condition, ...], tuple[tuple[re.Pattern, str], ...]]:
    """(conditions in table order, (drug pattern, Z79 code) pairs); raises TableError listing every problem."""
    path, data = read_data_table("comorbidities.json", ComorbidityFile)
    problems: list[str] = []
    conditions: list[Condition] = []
    for i, entry in enumerate(data.conditions):
        msg = icd.check_billable(entry.code)
        if msg:
            problems.append(f"conditions[{i}] {entry.code}: {msg}")
        pattern = _compile("|".join(f"(?:{p})" for p in entry.patterns), f"conditions[{i}]", problems)
        with_ = _compile(entry.with_, f"conditions[{i}].with", problems) if entry.with_ else None
        unless = _compile(entry.unless, f"conditions[{i}].unless", problems) if entry.unless else None
        if pattern is not None:
            conditions.append(Condition(entry.code, pattern, with_, unless))
    drugs: list[tuple[re.Pattern, str]] = []
    for code, entry in data.drugs.items():
        msg = icd.check_billable(code)
        if msg:
            problems.append(f"drugs.{code}: {msg}")
        pattern = _compile(r"\b(?:" + "|".join(entry.patterns) + r")\b", f"drugs.{code}", problems)
        if pattern is not None:
            drugs.append((pattern, code))
    if problems:
        raise TableError(str(path), problems)
    return tuple(conditions), tuple(drugs)


AP_HEADING = re.compile(r"^[ \t]*(?:A[ \t]*/[ \t]*P|A&P|assessment(?:[ \t]*(?:and|&|/)[ \t]*plan)?|impression(?:[ \t]*(?:and|&|/)[ \t]*plan)?|"
                        r"diagnos[ie]s|problems addressed)\b[^\n:]{0,12}:?", re.IGNORECASE)  # fmt: skip
# where the assessment ends: the procedure, the visit level, billing, signatures, addenda
AP_ENDS = re.compile(r"^[ \t]*(?:procedures?|proc\b|operative|mdm\b|medical decision|billing|codes?\b|charges?|e/m\b|rtc\b|f/u\b|follow[- ]?up\b|"
                     r"attending|attestation|e-?signed|electronically|signed|path(?:ology)?\b|addendum|time\b|total time)", re.IGNORECASE)  # fmt: skip
ITEM = re.compile(r"^[ \t]*(?:#?\d{1,2}[.)]|[-*\u2022]|(?:one|two|three|four|five)[.,])[ \t]*", re.IGNORECASE)
# "Diabetes: Type 2 diabetes on metformin ...": a paragraph headed by the problem itself
PROBLEM_HEADED = re.compile(r"^[ \t]*(?:diabetes|dm ?2?|hypertension|htn|blood pressure|a-?fib|atrial fibrillation|transplant)[ \t]*:", re.IGNORECASE)
# the history, medication and review parts of a note: naming a condition there addresses nothing
NOT_ADDRESSED_LINE = re.compile(r"^[ \t]*(?:[-*\u2022][ \t]*)?(?:pmh|psh|past (?:medical|surgical)|medical history|problem list|meds?\b|medications?|hpi|history|ros\b|"
                                r"review of systems|allerg|fhx?|family|social|shx|cc\b|chief complaint|reason for)", re.IGNORECASE)  # fmt: skip
# "3. DM2 - per PCP", "HTN, followed by cardiology": named, managed elsewhere
ELSEWHERE = re.compile(r"\b(?:per|followed by|managed by|deferred to|defer to|by (?:her|his|their) )[ \t]*(?:pcp|primary|cardiolog|endocrin|nephrolog|transplant|oncolog)", re.IGNORECASE)
NEGATED_BEFORE = re.compile(r"\b(?:no|denies|without|w/o|negative for|not|r/o|rule out|h/o|history of|family history of|fh of)[ \t]+(?:\w+[ \t]+){0,2}$", re.IGNORECASE)
# the drug kept in the regimen today
# (a taper or a new dose keeps the drug in the regimen: "Taper prednisone to 5 mg daily")
CONTINUED = re.compile(r"\b(?:continue[ds]?|continuing|cont\.?|remains? on|stay on|refill(?:ed)?|renewed|tolerating|no changes?|"
                       r"taper(?:ed|ing)?(?![ \t]+off)|increase[ds]?|decrease[ds]?|reduce[ds]?)\b", re.IGNORECASE)
# started, added, stopped or held today (closest to the drug, before it)
CHANGED_BEFORE = re.compile(r"\b(?:start(?:ed|ing)?|begin|began|add(?:ed|ing)?|initiat\w*|new|stop(?:ped)?|discontinu\w*|d/c|hold(?:ing)?|held|"
                            r"taper(?:ing)? off|switch(?:ed)? (?:from|to)|change[ds]? (?:from|to))[ \t]+(?:[\w/-]+[ \t]+){0,2}$", re.IGNORECASE)  # fmt: skip
SENTENCE_END = re.compile(r"[.;](?=\s)|\n")
# a sub-item under a problem ("1. Juvenile dermatomyositis ...\n - Continue MTX 20 mg weekly")
SUB_ITEM = re.compile(r"^[ \t]*[-*\u2022][ \t]")
# "continue tacrolimus 0.1% oint", "topical methotrexate": a skin-applied form is no systemic therapy
TOPICAL_AFTER = re.compile(r"[ \t]*(?:\d+(?:\.\d+)?[ \t]*%|oint|ointment|cream|gel|lotion|solution|foam|topical)", re.IGNORECASE)
TOPICAL_BEFORE = re.compile(r"\btopical[ \t]+$", re.IGNORECASE)


def addressed_items(text: str) -> list[tuple[int, int]]:
    """(start, end) of each line of the note that states a problem the visit addresses."""
    items: list[tuple[int, int]] = []
    in_ap = False
    pos = 0
    for line in text.splitlines(keepends=True):
        start, end = pos, pos + len(line.rstrip("\r\n"))
        pos += len(line)
        body = text[start:end]
        if not body.strip():
            continue
        if AP_HEADING.match(body):
            in_ap = True
            items.append((start, end))  # "Assessment: Actinic keratosis ..." on its heading line
            continue
        if in_ap and AP_ENDS.match(body):
            in_ap = False
        if NOT_ADDRESSED_LINE.match(body):
            continue
        if in_ap or ITEM.match(body) or PROBLEM_HEADED.match(body):
            items.append((start, end))
    return items


def _sentence(text: str, start: int, end: int, lo: int, hi: int) -> tuple[int, int]:
    """The sentence (or clause after a semicolon) of text[start:end], inside the line lo..hi."""
    left = lo
    for m in SENTENCE_END.finditer(text, lo, start):
        left = m.end()
    m = SENTENCE_END.search(text, end, hi)
    return left, m.start() if m else hi


def comorbidity_codes(text: str, diagnoses: list[tuple[int, int]] = ()) -> list[Found]:
    """The conditions and long-term drugs the note's addressed problems name, in text order.

    A drug counts only on a problem line that names what it treats: a condition of the table
    or one of `diagnoses` ((start, end) of the note's diagnoses, "1. Psoriasis vulgaris ...
    Continue MTX"); "decision to proceed with excision and flap today, continuing warfarin"
    keeps the drug for the surgery, it does not manage the condition behind it."""
    conditions, drugs = comorbidity_table()
    found: list[Found] = []
    seen: set[str] = set()
    problem_named = False  # the problem line a sub-item stands under names what it treats
    for lo, hi in addressed_items(text):
        line = text[lo:hi]
        if ELSEWHERE.search(line):
            continue
        sub_item = SUB_ITEM.match(line) is not None
        named = any(lo <= a < hi for a, _ in diagnoses) or (sub_item and problem_named)
        for cond in conditions:
            for m in cond.pattern.finditer(text, lo, hi):
                s, e = _sentence(text, m.start(), m.end(), lo, hi)
                if NEGATED_BEFORE.search(text, max(lo, m.start() - 40), m.start()):
                    continue
                named = True
                if (cond.with_ is not None and not cond.with_.search(text, s, e)) or (cond.unless is not None and cond.unless.search(text, s, e)):
                    continue
                if cond.code not in seen and not any(f.code.split(".")[0] == cond.code.split(".")[0] for f in found):
                    seen.add(cond.code)
                    found.append(Found(cond.code, m.start(), m.end(), m.group(0)))
                break
        if not sub_item:
            problem_named = named
        for pattern, code in drugs:
            if not named:
                break
            for m in pattern.finditer(text, lo, hi):
                s, e = _sentence(text, m.start(), m.end(), lo, hi)
                if not CONTINUED.search(text, s, e) or CHANGED_BEFORE.search(text, max(s, m.start() - 30), m.start()):
                    continue
                if TOPICAL_AFTER.match(text, m.end()) or TOPICAL_BEFORE.search(text, max(s, m.start() - 12), m.start()):
                    continue
                if code not in seen:
                    seen.add(code)
                    found.append(Found(code, m.start(), m.end(), m.group(0)))
                break
    return sorted(found, key=lambda f: f.start)
