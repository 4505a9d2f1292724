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
    # The forms that can start with a given ASCII character (lower-cased when the lexicon
    # ignores case), in `forms` order: profiling showed every form tried at every match
    # (368 site forms), ~15% of the time per note. Other characters try every form.
    by_first: dict[str, tuple[tuple[re.Pattern, str], ...]] | None = None
    ignore_case: bool = False

    def finditer(self, text: str):
        """Yield (start, end, canonical) for the longest non-overlapping matches, in text order."""
        pos = 0
        by_first = self.by_first
        while True:
            m = self.scanner.search(text, pos)
            if m is None:
                return
            best_end, best = m.end(), None
            forms = self.forms
            if by_first is not None and m.start() < len(text):
                ch = text[m.start()]
                if ch.isascii():
                    forms = by_first[ch.lower() if self.ignore_case else ch]
            for form, canonical in forms:
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
    ignore_case = bool(flags & re.IGNORECASE)
    firsts = [first_ascii_chars(p, flags) for p, _ in forms]
    by_first = {}
    for code in range(128):
        ch = chr(code)
        key = ch.lower() if ignore_case else ch
        by_first[ch] = tuple(f for f, first in zip(compiled, firsts) if first is None or key in first)
    return Lexicon(scanner, compiled, by_first, ignore_case)


def first_ascii_chars(pattern: str, flags: int = 0) -> frozenset[str] | None:
    """The ASCII characters a match of `pattern` can start with (lower-cased under IGNORECASE),
    or None when that is not certain (a class like \\w, a non-ASCII letter, an optional first
    item, a lookaround, inline flags...). None only costs speed: the form is then always tried."""
    try:
        from re import _constants as c
        from re import _parser
    except ImportError:  # pragma: no cover - another Python's internals: no pre-filter
        return None
    try:
        parsed = _parser.parse(pattern, flags)
    except re.error:
        return None
    ignore_case = bool(parsed.state.flags & re.IGNORECASE)

    def chars(items) -> frozenset[str] | None:
        for op, av in items:
            if op is c.AT:
                continue  # zero-width: \b, ^
            if op is c.LITERAL:
                return _ascii({av}, ignore_case)
            if op is c.IN:
                codes = set()
                for kind, value in av:
                    if kind is c.LITERAL:
                        codes.add(value)
                    elif kind is c.RANGE and value[1] < 128:
                        codes.update(range(value[0], value[1] + 1))
                    else:
                        return None  # NEGATE, CATEGORY, non-ASCII range
                return _ascii(codes, ignore_case)
            if op is c.BRANCH:
                out: set[str] = set()
                for alternative in av[1]:
                    sub = chars(alternative)
                    if sub is None:
                        return None
                    out |= sub
                return frozenset(out)
            if op is c.SUBPATTERN:
                _group, add_flags, del_flags, sub = av
                return None if add_flags or del_flags else chars(sub)
            if op in (c.MAX_REPEAT, c.MIN_REPEAT, c.POSSESSIVE_REPEAT):
                low, _high, sub = av
                return chars(sub) if low >= 1 else None
            return None  # ANY, CATEGORY, lookaround, group reference...
        return None  # nothing but anchors: may match the empty string

    return chars(parsed)


def _ascii(codes: set[int], ignore_case: bool) -> frozenset[str] | None:
    if any(code >= 128 for code in codes):
        return None
    return frozenset(chr(code).lower() if ignore_case else chr(code) for code in codes)


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
