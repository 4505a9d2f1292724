"""Loading and validating the NLP lexicons in `nlp/resources/` (data, not code).

Every lexicon is checked with a pydantic schema (`extra="forbid"`) and every regular
expression is compiled at load time; all problems are collected before failing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from dermcoder.errors import TableError
from dermcoder.nlp.pattern_macros import read_resource
from dermcoder.nlp.typos import TypoVocabulary, vocabulary


class HistologyEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # malignant | in_situ | premalignant | benign | uncertain | infection | inflammatory | nail | injury | unknown
    cls: str = ""
    icd: str
    patterns: list[str]
    cs: list[str] = []


class SiteLexiconFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    provenance: str
    sites: dict[str, list[str]]
    # Broad regions a note names in passing ("on the trunk at this size"), each with the
    # canonical sites inside it: the region word and a site inside it can name one lesion.
    regions: dict[str, list[str]] = {}


class FindingsFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    provenance: str
    histology: dict[str, dict]
    procedure: dict[str, list[str]]
    # Procedure words that support a frame but are not the procedure's name a coder marks
    # ("ellipse", "E/M", a PDT drug, "biopsy" of "biopsy-proven"): their spans get role
    # "supporting" and stay out of the PROCEDURE entities shown and scored.
    supporting_words: list[str] = []
    repair: dict[str, list[str]]


@dataclass(frozen=True)
class Lexicon:
    """Compiled surface forms -> canonical concept. At each position the longest surface
    form wins ("squamous cell carcinoma in situ" over "squamous cell carcinoma")."""

    scanner: re.Pattern  # one alternation of every form: finds where a match starts
    forms: tuple[tuple[re.Pattern, str], ...]  # each form alone, with its canonical
    # Speed (same matches): profiling showed the one big alternation tried at every word
    # start and every form tried at every match, ~25% of the time per note. `by_first` holds,
    # per ASCII character, the forms a match can start with (in `forms` order), with their
    # own alternation; `starts` finds the only positions where a match can begin.
    by_first: dict[str, tuple[re.Pattern | None, tuple[tuple[re.Pattern, str], ...]]] | None = None
    starts: re.Pattern | None = None
    anchored: re.Pattern | None = None  # the alternation without the look-behind, for non-ASCII starts

    def finditer(self, text: str):
        """Yield (start, end, canonical) for the longest non-overlapping matches, in text order."""
        if self.by_first is None or self.starts is None:
            yield from self._finditer_plain(text)
            return
        by_first, starts = self.by_first, self.starts
        pos = 0
        while True:
            c = starts.search(text, pos)
            if c is None:
                return
            start = c.start()
            ch = text[start]
            scanner, forms = by_first[ch] if ch.isascii() else (self.anchored, self.forms)
            m = scanner.match(text, start) if scanner is not None else None
            if m is None:
                pos = start + 1
                continue
            best_end, best = m.end(), None
            for form, canonical in forms:
                hit = form.match(text, start)
                if hit and (best is None or hit.end() > best_end):
                    best_end, best = hit.end(), canonical
            if best is None or best_end <= start:
                pos = m.end() if m.end() > start else start + 1
                continue
            yield start, best_end, best
            pos = best_end

    def _finditer_plain(self, text: str):
        """The reference algorithm: the big alternation, then every form at each match."""
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


@lru_cache(maxsize=1)
def resources_dir() -> Path:
    """The packaged resource folder. Cached: the coding rules ask for the default lexicons
    several times per note, and importlib.resources + pathlib made that ~5% of the time to
    code a note (cProfile over the corpus)."""
    return Path(str(resources.files("dermcoder.nlp") / "resources"))


def _compile(entries: dict[str, list[str]], flags: int, problems: list[str], where: str, after_slash: bool = False) -> Lexicon | None:
    """`after_slash`: a form may start right after a "/" (site lists "cheek/nose/chin"); other
    lexicons keep "/" as a word character so "s/p", "c/w" and "I/D" never split."""
    before = r"[\w&]" if after_slash else r"[\w/&]"
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
    scanner = re.compile(rf"(?<!{before})(?:{'|'.join(f'(?:{p})' for p, _ in forms)})(?![\w&])", flags)
    compiled = tuple((re.compile(rf"(?:{p})(?![\w&])", flags), c) for p, c in forms)
    firsts = [first_ascii_chars(p, flags) for p, _ in forms]
    if any(first is None for first in firsts):
        return Lexicon(scanner, compiled)  # some form may start anywhere: no pre-filter
    by_first = {}
    for code in range(128):
        ch = chr(code)
        mine = [(p, f) for (p, _), f, first in zip(forms, compiled, firsts) if ch in first]
        alternation = re.compile(rf"(?:{'|'.join(f'(?:{p})' for p, _ in mine)})(?![\w&])", flags) if mine else None
        by_first[ch] = (alternation, tuple(f for _, f in mine))
    union = "".join(sorted(re.escape(ch) for ch in set().union(*firsts)))
    starts = re.compile(rf"(?<!{before})[{union}\x80-\U0010ffff]", flags)
    anchored = re.compile(rf"(?:{'|'.join(f'(?:{p})' for p, _ in forms)})(?![\w&])", flags)
    return Lexicon(scanner, compiled, by_first, starts, anchored)


def first_ascii_chars(pattern: str, flags: int = 0) -> frozenset[str] | None:
    """The ASCII characters a match of `pattern` can start with (both cases where case is
    ignored), or None when that is not certain (a negated class, a non-ASCII letter, an
    item that may be empty at the end...). A superset is safe: it only costs speed."""
    try:
        from re import _constants as c
        from re import _parser
    except ImportError:  # pragma: no cover - another Python's internals: no pre-filter
        return None
    try:
        parsed = _parser.parse(pattern, flags)
    except re.error:
        return None
    categories = {
        c.CATEGORY_DIGIT: r"\d", c.CATEGORY_NOT_DIGIT: r"\D", c.CATEGORY_SPACE: r"\s",
        c.CATEGORY_NOT_SPACE: r"\S", c.CATEGORY_WORD: r"\w", c.CATEGORY_NOT_WORD: r"\W",
    }  # fmt: skip

    def literal(codes, ignore_case: bool) -> set[str] | None:
        if any(code >= 128 for code in codes):
            return None
        out = set()
        for code in codes:
            ch = chr(code)
            out |= {ch, ch.lower(), ch.upper()} if ignore_case else {ch}
        return {x for x in out if x.isascii()}

    def item(op, av, ignore_case: bool) -> tuple[set[str] | None, bool]:
        """(first characters, may match the empty string)."""
        if op is c.LITERAL:
            return literal({av}, ignore_case), False
        if op is c.IN:
            out: set[str] = set()
            for kind, value in av:
                if kind is c.LITERAL:
                    got = literal({value}, ignore_case)
                elif kind is c.RANGE and value[1] < 128:
                    got = literal(set(range(value[0], value[1] + 1)), ignore_case)
                elif kind is c.CATEGORY and value in categories:
                    got = {chr(i) for i in range(128) if re.match(categories[value], chr(i))}
                else:
                    return None, False  # NEGATE, non-ASCII range, ...
                if got is None:
                    return None, False
                out |= got
            return out, False
        if op is c.BRANCH:
            out, empty = set(), False
            for alternative in av[1]:
                got, alt_empty = sequence(alternative, ignore_case)
                if got is None:
                    return None, False
                out |= got
                empty = empty or alt_empty
            return out, empty
        if op is c.SUBPATTERN:
            _group, add_flags, del_flags, sub = av
            if (add_flags | del_flags) & ~re.IGNORECASE:
                return None, False
            inner = (ignore_case or bool(add_flags & re.IGNORECASE)) and not del_flags & re.IGNORECASE
            return sequence(sub, inner)
        if op in (c.MAX_REPEAT, c.MIN_REPEAT, c.POSSESSIVE_REPEAT):
            low, _high, sub = av
            got, empty = sequence(sub, ignore_case)
            return got, empty or low == 0
        if op in (c.AT, c.ASSERT, c.ASSERT_NOT):
            return set(), True  # zero-width: the next item starts the match
        return None, False  # ANY, group references, ...

    def sequence(items, ignore_case: bool) -> tuple[set[str] | None, bool]:
        out: set[str] = set()
        for op, av in items:
            got, empty = item(op, av, ignore_case)
            if got is None:
                return None, False
            out |= got
            if not empty:
                return out, False
        return out, True

    first, empty = sequence(parsed, bool(parsed.state.flags & re.IGNORECASE))
    return None if first is None or empty else frozenset(first)


@dataclass(frozen=True)
class Lexicons:
    sites: Lexicon
    histology: Lexicon
    histology_cs: Lexicon
    histology_info: dict[str, HistologyEntry]
    procedures: Lexicon
    procedures_cs: Lexicon
    repairs: Lexicon
    site_typos: TypoVocabulary  # near-miss spellings of the site words ("sholder")
    finding_typos: TypoVocabulary  # ... of the procedure and repair words ("exicision")
    supporting: tuple[re.Pattern, ...] = ()  # procedure words that only support a frame
    regions: dict[str, frozenset[str]] = field(default_factory=dict)  # region -> canonical sites inside it


_CS_PROCEDURES = {"WLE", "MMS", "LN2", "LN-2", "EDC", "TCA", "PDL", "PDT", "PUVA", "ILK", "XTRAC", "FTSG", "STSG",
                  "SR(?=\\s+(?:w/|with|x\\s?\\d|of)|,)", "SBx", "SBX", "TBx", "PBx", "PBX", "IBx", "IBX"}


def validate_lexicons(directory: Path | None = None) -> tuple[Lexicons | None, list[str]]:
    """Load and compile every lexicon; return (lexicons or None, all problems)."""
    d = directory or resources_dir()
    problems: list[str] = []
    try:
        sites = SiteLexiconFile.model_validate(read_resource(d, "site_lexicon.json"))
        findings = FindingsFile.model_validate(read_resource(d, "findings_lexicon.json"))
    except (OSError, ValidationError, ValueError) as exc:  # ValueError: bad JSON or an unknown {{piece}}
        return None, [f"{d}: {exc}"]
    info: dict[str, HistologyEntry] = {}
    for name, raw in findings.histology.items():
        raw = dict(raw)
        raw["cls"] = raw.pop("class", "")
        try:
            info[name] = HistologyEntry.model_validate(raw)
        except ValidationError as exc:
            problems.append(f"findings_lexicon.json: histology.{name}: {exc}")
    # Every site word may be plural ("knees", "thighs"): a plural is the same site.
    site_entries = {k: [re.escape(s).replace(r"\ ", r"[\s-]+") + ("" if s.endswith("s") else "(?:e?s)?") for s in v]
                    for k, v in sites.sites.items()}
    site_lex = _compile(site_entries, re.IGNORECASE, problems, "site_lexicon.json: sites", after_slash=True)
    for region, inside in sites.regions.items():
        for name in [region, *inside]:
            if name not in sites.sites:
                problems.append(f"site_lexicon.json: regions.{region}: {name!r} is not a canonical site")
    hist_lex = _compile({k: v.patterns for k, v in info.items()}, re.IGNORECASE, problems, "histology")
    hist_cs = _compile({k: v.cs for k, v in info.items() if v.cs}, 0, problems, "histology(cs)")
    proc_ci = {k: [p for p in v if p not in _CS_PROCEDURES] for k, v in findings.procedure.items()}
    proc_cs = {k: [p for p in v if p in _CS_PROCEDURES] for k, v in findings.procedure.items()}
    proc_lex = _compile(proc_ci, re.IGNORECASE, problems, "procedure")
    proc_cs_lex = _compile({k: v for k, v in proc_cs.items() if v}, 0, problems, "procedure(cs)")
    rep_lex = _compile(findings.repair, re.IGNORECASE, problems, "repair")
    if problems or None in (site_lex, hist_lex, hist_cs, proc_lex, proc_cs_lex, rep_lex):
        return None, problems or ["an empty lexicon"]
    supporting = []
    for j, pattern in enumerate(findings.supporting_words):
        try:
            supporting.append(re.compile(pattern, re.IGNORECASE))
        except re.error as exc:
            problems.append(f"findings_lexicon.json: supporting_words[{j}]: bad pattern {pattern!r}: {exc}")
    if problems:
        return None, problems
    site_typos = vocabulary((("SITE", tuple((k, tuple(v)) for k, v in sites.sites.items())),))
    finding_typos = vocabulary(tuple(
        (label, tuple((k, tuple(v)) for k, v in section.items()))
        for label, section in (("PROCEDURE", findings.procedure), ("REPAIR", findings.repair))
    ))  # fmt: skip
    regions = {k: frozenset(v) for k, v in sites.regions.items()}
    return Lexicons(site_lex, hist_lex, hist_cs, info, proc_lex, proc_cs_lex, rep_lex, site_typos, finding_typos, tuple(supporting), regions), []


def load_lexicons(directory: Path | None = None) -> Lexicons:
    """The lexicons (packaged by default), compiled once per directory; raises TableError listing every problem."""
    # The pipeline asks for its resource folder by path and the coding rules for the default:
    # one cache entry for both (else the first note whose rules read the lexicons compiled
    # them all again, ~0.4 s in the middle of a request).
    return _load_lexicons(resources_dir() if directory is None else Path(directory))


@lru_cache(maxsize=4)
def _load_lexicons(directory: Path) -> Lexicons:
    lex, problems = validate_lexicons(directory)
    if lex is None:
        raise TableError(str(directory), problems)
    return lex
