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
    """Compiled surface forms -> canonical concept. At each position the longest surface
    form wins ("squamous cell carcinoma in situ" over "squamous cell carcinoma")."""

    scanner: re.Pattern  # one alternation of every form: finds where a match starts, fast
    forms: tuple[tuple[re.Pattern, str], ...]  # each form alone, with its canonical

    def finditer(self, text: str):
        """Yield (start, end, canonical) for the longest non-overlapping matches, in text order."""
        pos = 0
        while True:
            m = self.scanner.search(text, pos)
            if m is None:
                return
            best_end, best = m.end(), None
            for form, canonical in self.forms:
                hit = form.match(text, m.start())
                if hit and (best is None or hit.end() > best_end):
                    best_end, best = hit.end(), canonical
            if best is None or best_end <= m.start():
                pos = m.end() if m.end() > m.start() else m.start() + 1
                continue
            yield m.start(), best_end, best
            pos = best_end


def resources_dir() -> Path:
    return Path(str(resources.files("dermcoder.nlp") / "resources"))


def _compile(entries: dict[str, list[str]], flags: int, problems: list[str], where: str) -> Lexicon | None:
    forms: list[tuple[str, str]] = []
    for canonical, patterns in entries.items():
        for j, pattern in enumerate(patterns):
            try:
                re.compile(pattern)
            except re.error as exc:
                problems.append(f"{where}.{canonical}[{j}]: bad pattern {pattern!r}: {exc}")
                continue
            forms.append((pattern, canonical))
    if not forms:
        return None
    forms.sort(key=lambda f: -len(f[0]))
    scanner = re.compile(rf"(?<![\w/&])(?:{'|'.join(f'(?:{p})' for p, _ in forms)})(?![\w&])", flags)
    compiled = tuple((re.compile(rf"(?:{p})(?![\w&])", flags), c) for p, c in forms)
    return Lexicon(scanner, compiled)


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
                  "SR(?=\\s+(?:w/|with|x\\s?\\d|of)|,)", "SBx", "SBX", "TBx", "PBx", "PBX", "IBx", "IBX"}


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
