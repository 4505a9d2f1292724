"""Loading and validating the NLP lexicons in `nlp/resources/` (data, not code).

Every lexicon is checked with a pydantic schema (`extra="forbid"`) and every regular
expression is compiled at load time; all problems are collected before failing.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from dermcoder.errors import TableError


class HistologyEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # malignant | in_situ | premalignant | benign | uncertain | infection | inflammatory | nail | unknown
    cls: str = ""
    icd: str
    patterns: list[str]
    cs: list[str] = []


class SiteLexiconFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    provenance: str
    sites: dict[str, list[str]]


class FindingsFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    provenance: str
    histology: dict[str, dict]
    procedure: dict[str, list[str]]
    repair: dict[str, list[str]]


@dataclass(frozen=True)
class Lexicon:
    """Compiled surface forms -> canonical concept. Where matches overlap, the longest wins
    ("squamous cell carcinoma in situ" over "squamous cell carcinoma")."""

    regexes: tuple[tuple[str, re.Pattern], ...]  # (canonical, alternation of its surface forms)

    def finditer(self, text: str):
        """Yield (start, end, canonical) for the longest non-overlapping matches, in text order."""
        found = []
        for canonical, rx in self.regexes:
            for m in rx.finditer(text):
                if m.end() > m.start():
                    found.append((m.start(), m.end(), canonical))
        found.sort(key=lambda x: (-(x[1] - x[0]), x[0]))
        taken: list[tuple[int, int]] = []
        kept = []
        for start, end, canonical in found:
            if any(start < e and s < end for s, e in taken):
                continue
            taken.append((start, end))
            kept.append((start, end, canonical))
        return iter(sorted(kept))


def resources_dir() -> Path:
    return Path(str(resources.files("dermcoder.nlp") / "resources"))


def _compile(entries: dict[str, list[str]], flags: int, problems: list[str], where: str) -> Lexicon | None:
    regexes = []
    for canonical, patterns in entries.items():
        good = []
        for j, pattern in enumerate(patterns):
            try:
                re.compile(pattern)
            except re.error as exc:
                problems.append(f"{where}.{canonical}[{j}]: bad pattern {pattern!r}: {exc}")
                continue
            good.append(pattern)
        # One regex per surface form: alternation would stop at the first alternative that
        # matches, and the longest match must win.
        for p in good:
            regexes.append((canonical, re.compile(rf"(?<![\w/&])(?:{p})(?![\w&])", flags)))
    return Lexicon(tuple(regexes)) if regexes else None


@dataclass(frozen=True)
class Lexicons:
    sites: Lexicon
    histology: Lexicon
    histology_cs: Lexicon
    histology_info: dict[str, HistologyEntry]
    procedures: Lexicon
    procedures_cs: Lexicon
    repairs: Lexicon


_CS_PROCEDURES = {"WLE", "MMS", "LN2", "LN-2", "EDC", "TCA", "PDL", "PDT", "PUVA", "ILK", "XTRAC", "FTSG", "STSG",
                  "SR(?=\\s+(?:w/|with|x\\s?\\d|of)|,)"}


def validate_lexicons(directory: Path | None = None) -> tuple[Lexicons | None, list[str]]:
    """Load and compile every lexicon; return (lexicons or None, all problems)."""
    d = directory or resources_dir()
    problems: list[str] = []
    try:
        sites = SiteLexiconFile.model_validate(json.loads((d / "site_lexicon.json").read_text(encoding="utf-8")))
        findings = FindingsFile.model_validate(json.loads((d / "findings_lexicon.json").read_text(encoding="utf-8")))
    except (OSError, ValidationError, json.JSONDecodeError) as exc:
        return None, [f"{d}: {exc}"]
    info: dict[str, HistologyEntry] = {}
    for name, raw in findings.histology.items():
        raw = dict(raw)
        raw["cls"] = raw.pop("class", "")
        try:
            info[name] = HistologyEntry.model_validate(raw)
        except ValidationError as exc:
            problems.append(f"findings_lexicon.json: histology.{name}: {exc}")
    site_entries = {k: [re.escape(s).replace(r"\ ", r"[\s-]+") for s in v] for k, v in sites.sites.items()}
    site_lex = _compile(site_entries, re.IGNORECASE, problems, "site_lexicon.json: sites")
    hist_lex = _compile({k: v.patterns for k, v in info.items()}, re.IGNORECASE, problems, "histology")
    hist_cs = _compile({k: v.cs for k, v in info.items() if v.cs}, 0, problems, "histology(cs)")
    proc_ci = {k: [p for p in v if p not in _CS_PROCEDURES] for k, v in findings.procedure.items()}
    proc_cs = {k: [p for p in v if p in _CS_PROCEDURES] for k, v in findings.procedure.items()}
    proc_lex = _compile(proc_ci, re.IGNORECASE, problems, "procedure")
    proc_cs_lex = _compile({k: v for k, v in proc_cs.items() if v}, 0, problems, "procedure(cs)")
    rep_lex = _compile(findings.repair, re.IGNORECASE, problems, "repair")
    if problems or None in (site_lex, hist_lex, hist_cs, proc_lex, proc_cs_lex, rep_lex):
        return None, problems or ["an empty lexicon"]
    return Lexicons(site_lex, hist_lex, hist_cs, info, proc_lex, proc_cs_lex, rep_lex), []


@lru_cache(maxsize=4)
def load_lexicons(directory: Path | None = None) -> Lexicons:
    """The lexicons (packaged by default), compiled once per directory; raises TableError listing every problem."""
    lex, problems = validate_lexicons(directory)
    if lex is None:
        raise TableError(str(directory or resources_dir()), problems)
    return lex
