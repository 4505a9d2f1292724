"""A cheap first-character test in front of a pattern that is scanned over whole notes.

Python's regex engine tries a pattern at every position of the text. A case-insensitive
alternation of words ("separately identifiable|separate ...|modifier[- ]25|...") gets no
prefix scan from the compiler (it only builds one for case-sensitive literals), so each
position enters every alternative: the count patterns and the E/M rule's patterns were
~1 ms of the ~9 ms to code a note. A leading look-ahead on the characters a match can
start with rejects almost every position in one step.

The matches are the same: the look-ahead lets through every ASCII character that
`first_ascii_chars` says a match may start with (both cases under IGNORECASE, and it is
compiled with the pattern's own flags, so it folds case exactly as the pattern's first
item does) and every non-ASCII character (`\\d`, `\\w`, case folding of "ſ" or the
Kelvin sign: those are left to the pattern itself). It consumes nothing and captures
nothing, so spans and group numbers do not move. tests/nlp/test_start_filter.py checks
each filtered pattern against its plain form on the corpus.
"""

from __future__ import annotations

import re

from dermcoder.nlp.lexicons import first_ascii_chars


# Global inline flags ("(?i)", "(?im)") must open a pattern: the look-ahead goes after them.
_LEADING_FLAGS = re.compile(r"(?:\(\?[aiLmsux]+\))+")


def start_filtered(pattern: re.Pattern) -> re.Pattern:
    """`pattern` with a look-ahead on its possible first characters; `pattern` itself when
    those are not certain (a match may be empty or start with any character) or when the
    pattern cannot be wrapped. Leading global inline flags ("(?i)", as medspaCy's section
    and ConText rules are written) stay in front (they are already in `pattern.flags`)."""
    source = pattern.pattern
    if not isinstance(source, str):
        return pattern
    lead = _LEADING_FLAGS.match(source)
    head, body = (source[: lead.end()], source[lead.end() :]) if lead else ("", source)
    first = first_ascii_chars(body, pattern.flags)
    if first is None:
        return pattern
    # Every non-ASCII character and the ASCII characters in `first`, written as the negated
    # class of the other ASCII characters, matched case-sensitively ((?-i:...); `first` holds
    # both cases of each letter under IGNORECASE). The positive class [...\x80-\U0010ffff]
    # is the same filter but took 3-7 ms to compile per pattern (~0.3 s for the Sectionizer's
    # and ConText's rules) and ran slower.
    others = _ascii_class_body([code for code in range(128) if chr(code) not in first])
    try:
        return re.compile(rf"{head}(?=(?-i:[^{others}]))(?:{body})", pattern.flags)
    except re.error:
        return pattern


def _ascii_class_body(codes: list[int]) -> str:
    """The inside of a character class holding exactly `codes` (ascending ASCII), as ranges."""
    runs: list[list[int]] = []
    for code in codes:
        if runs and code == runs[-1][1] + 1:
            runs[-1][1] = code
        else:
            runs.append([code, code])
    return "".join(f"\\x{a:02x}" if a == b else f"\\x{a:02x}-\\x{b:02x}" for a, b in runs)


# ---- a required-word gate in front of a pattern scanned over whole notes ---------------------
#
# Most of these patterns find nothing in most notes ("mothers? ... (has|had|...)", "no charge",
# "modifier-25 | separately identifiable | ...") and a scan costs 20-200 us per note even with
# the first-character look-ahead. Every match of such a pattern contains one of a few literal
# words; when the note (lowercased) contains none of them the pattern cannot match, and a
# substring test is ~1 us. Checked only on ASCII notes, where lowercasing is exact and a
# case-insensitive ASCII letter matches only its two ASCII cases; other notes scan as before.


def required_words(pattern: str, flags: int = 0) -> tuple[str, ...] | None:
    """Lowercased ASCII literals at least one of which every match of `pattern` contains (as
    consecutive characters of the match), or None when no such set of 2+ character words is
    certain. Only what a match must consume counts: literal runs, groups, alternations (each
    branch must have its own words) and repeats of at least one; look-arounds, classes and
    anything else are passed over."""
    try:
        from re import _constants as c
        from re import _parser

        parsed = _parser.parse(pattern, flags)
    except Exception:  # noqa: BLE001 - another Python's internals, or a pattern it cannot parse
        return None

    def better(a: frozenset | None, b: frozenset | None) -> frozenset | None:
        if a is None or b is None:
            return a if b is None else b
        return a if (min(map(len, a)), -len(a)) >= (min(map(len, b)), -len(b)) else b

    def sequence(items) -> frozenset | None:
        best, run = None, ""
        for op, av in items:
            if op is c.LITERAL and av < 128:
                run += chr(av).lower()
                continue
            if run:
                best, run = better(best, frozenset([run])), ""
            best = better(best, item(op, av))
        return better(best, frozenset([run])) if run else best

    def item(op, av) -> frozenset | None:
        if op is c.SUBPATTERN:
            return sequence(av[3])
        if op is c.BRANCH:
            words: set[str] = set()
            for alternative in av[1]:
                got = sequence(alternative)
                if got is None:
                    return None
                words |= got
            return frozenset(words)
        if op in (c.MAX_REPEAT, c.MIN_REPEAT, getattr(c, "POSSESSIVE_REPEAT", None)):
            return sequence(av[2]) if av[0] >= 1 else None
        if op is getattr(c, "ATOMIC_GROUP", None):
            return sequence(av)
        return None

    try:
        words = sequence(parsed)
    except Exception:  # noqa: BLE001 - an unexpected parse tree: no gate
        return None
    if not words or min(map(len, words)) < 2:
        return None
    return tuple(sorted(words))


_LAST_LOWERED: tuple[str | None, str | None] = (None, None)


def lowered_ascii(text: str) -> str | None:
    """`text.lower()` when the text is ASCII, else None; the last note's is kept (the gates of
    one note ask for the same text many times)."""
    global _LAST_LOWERED
    last = _LAST_LOWERED  # one read: another thread may replace the pair, never half of it
    if last[0] is text:
        return last[1]
    low = text.lower() if text.isascii() else None
    _LAST_LOWERED = (text, low)
    return low


class WordGated:
    """`pattern` behind its required-word gate: search, match, finditer and findall answer at
    once (nothing) when the text lacks every word; otherwise the pattern runs as before."""

    __slots__ = ("plain", "words")

    def __init__(self, plain: re.Pattern, words: tuple[str, ...]) -> None:
        self.plain, self.words = plain, words

    def absent(self, text: str) -> bool:
        low = lowered_ascii(text)
        return low is not None and not any(w in low for w in self.words)

    def search(self, text: str, *args):
        return None if self.absent(text) else self.plain.search(text, *args)

    def match(self, text: str, *args):
        return None if self.absent(text) else self.plain.match(text, *args)

    def finditer(self, text: str, *args):
        return iter(()) if self.absent(text) else self.plain.finditer(text, *args)

    def findall(self, text: str, *args):
        return [] if self.absent(text) else self.plain.findall(text, *args)

    def __getattr__(self, name: str):
        return getattr(self.plain, name)  # pattern, flags, groups, sub, ...

    def __repr__(self) -> str:
        return f"WordGated({self.plain!r}, {self.words!r})"


class RegexGated(WordGated):
    """`pattern` behind a cheaper pattern (`gate`) that finds something in every text the
    pattern finds something in (built from a part every match must contain): search, match,
    finditer and findall answer at once (nothing) when the gate finds nothing anywhere in the
    text; otherwise the pattern runs as before."""

    __slots__ = ("gate",)

    def __init__(self, plain: re.Pattern | WordGated, gate: re.Pattern) -> None:
        super().__init__(plain, ())
        self.gate = gate

    def absent(self, text: str) -> bool:
        return self.gate.search(text) is None

    def __repr__(self) -> str:
        return f"RegexGated({self.plain!r}, {self.gate!r})"


def word_gated(pattern: re.Pattern) -> re.Pattern | WordGated:
    """`pattern` behind a required-word gate, or `pattern` itself when it has no certain words."""
    words = required_words(pattern.pattern, pattern.flags)
    return pattern if words is None else WordGated(pattern, words)
