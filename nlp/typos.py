"""Near-miss spellings of procedure and repair words ("exicision", "Complx", "curretage").

Clinicians type fast; a misspelt procedure word silently loses the code. The vocabulary is
the lexicon's own single-word forms of at least MIN_LENGTH letters (so it follows the data),
and a word is read as one of them when it is one edit away (insert, delete, substitute or
swap two neighbours). Short words are left alone: at six letters or fewer a single edit
reaches too many ordinary words.
"""

from __future__ import annotations

import re
from functools import lru_cache

MIN_LENGTH = 7
# Six-letter words too common in notes to leave out ("Shave biospy L shoulder"); the
# lexicon writes them as patterns, not as plain words.
EXTRA_WORDS = {"biopsy": ("PROCEDURE", "biopsy")}
# Real words one edit from a vocabulary word: the instrument, not the act ("a 3 mm curette").
NOT_TYPOS = frozenset({"curette", "curettes", "slipped", "excited", "exciting", "excites", "destroys", "layering", "paronychia"})
WORD = re.compile(r"[A-Za-z]{6,}")
_PLAIN = re.compile(r"[a-z]+")


def within_one_edit(a: str, b: str) -> bool:
    """True when a and b differ by at most one insertion, deletion, substitution or swap of
    two neighbouring letters (optimal string alignment distance <= 1)."""
    if a == b:
        return True
    la, lb = len(a), len(b)
    if abs(la - lb) > 1:
        return False
    if la == lb:
        diff = [i for i in range(la) if a[i] != b[i]]
        if len(diff) == 1:
            return True
        return len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]] and a[diff[1]] == b[diff[0]]
    if la > lb:
        a, b = b, a
    i = 0
    while i < len(a) and a[i] == b[i]:
        i += 1
    return a[i:] == b[i + 1 :]


def _deletions(word: str) -> set[str]:
    return {word} | {word[:i] + word[i + 1 :] for i in range(len(word))}


class TypoVocabulary:
    """word -> (label, canonical) for the vocabulary, indexed by single deletions."""

    def __init__(self, words: dict[str, tuple[str, str]]) -> None:
        self.words = words
        self._seen: dict[str, tuple[str, str] | None] = {}
        self.index: dict[str, list[str]] = {}
        for word in words:
            for key in _deletions(word):
                self.index.setdefault(key, []).append(word)

    def lookup(self, token: str) -> tuple[str, str] | None:
        """The (label, canonical) of the vocabulary word one edit away from token, if exactly one is."""
        low = token.lower()
        if low in self._seen:
            return self._seen[low]
        if len(self._seen) > 50_000:  # a bound for a long-running service; words repeat across notes
            self._seen.clear()
        found = self._seen[low] = self._lookup(low)
        return found

    def _lookup(self, low: str) -> tuple[str, str] | None:
        if low in self.words or low in NOT_TYPOS:
            return None  # spelt right (the lexicon itself matches it), or a real word of its own
        found = {self.words[w] for key in _deletions(low) for w in self.index.get(key, ()) if within_one_edit(low, w)}
        return found.pop() if len(found) == 1 else None


@lru_cache(maxsize=4)
def vocabulary(sections: tuple[tuple[str, tuple[tuple[str, tuple[str, ...]], ...]], ...]) -> TypoVocabulary:
    """Build the vocabulary from (label, ((canonical, patterns), ...)) sections of the lexicon."""
    words: dict[str, tuple[str, str]] = {w: v for w, v in EXTRA_WORDS.items() if any(label == v[0] for label, _ in sections)}
    for label, entries in sections:
        for canonical, patterns in entries:
            for p in patterns:
                if _PLAIN.fullmatch(p) and len(p) >= MIN_LENGTH:
                    words.setdefault(p, (label, canonical))
    return TypoVocabulary(words)


def find_typos(text: str, vocab: TypoVocabulary, taken: list[tuple[int, int]]) -> list[tuple[int, int, str, str]]:
    """(start, end, label, canonical) for misspelt vocabulary words outside the spans already taken."""
    taken = sorted(taken)
    out = []
    k = 0
    for m in WORD.finditer(text):
        while k < len(taken) and taken[k][1] <= m.start():
            k += 1
        if k < len(taken) and taken[k][0] < m.end():
            continue
        hit = vocab.lookup(m.group(0))
        if hit is not None:
            out.append((m.start(), m.end(), hit[0], hit[1]))
    return out
