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


def start_filtered(pattern: re.Pattern) -> re.Pattern:
    """`pattern` with a look-ahead on its possible first characters; `pattern` itself when
    those are not certain (a match may be empty or start with any character) or when the
    pattern cannot be wrapped (global inline flags such as a leading "(?im)")."""
    first = first_ascii_chars(pattern.pattern, pattern.flags)
    if first is None:
        return pattern
    chars = "".join(sorted(re.escape(ch) for ch in first))
    try:
        return re.compile(rf"(?=[{chars}\x80-\U0010ffff])(?:{pattern.pattern})", pattern.flags)
    except re.error:
        return pattern
