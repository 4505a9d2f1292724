"""A faster medspaCy RegexMatcher for our Sectionizer and ConText instances (same matches).

medspaCy's `RegexMatcher.__call__` reads `doc.text_with_ws` once per regex rule, and spaCy
rebuilds that string from the tokens on every access: profiling put this at ~10% of the
time to code a note. `SharedTextRegexMatcher` is the same loop (medspaCy 1.3.1, MIT
licence) reading the text once per call, through `note_text`. `share_note_text` swaps it
in on the regex matchers a medspaCy component owns; where medspaCy's internals differ
from what is expected it leaves the component as it is (slower, same results).
"""

from __future__ import annotations

import itertools
import math
import re

from medspacy.common.medspacy_matcher import MedspacyMatcher
from medspacy.common.regex_matcher import RegexMatcher
from medspacy.common.util import get_token_for_char
from spacy.matcher import Matcher
from spacy.tokens import Doc

from dermcoder.nlp._extensions import note_text
from dermcoder.nlp.start_filter import lowered_ascii, required_words, start_filtered


def required_literal(pattern: re.Pattern) -> str | None:
    """The longest run of literal characters every match of `pattern` contains (top-level
    literals in a row, e.g. "mother" in `\\bmothers?'?s? (?:has|had)`), if 3+ long; else None."""
    try:
        from re import _constants as c
        from re import _parser

        parsed = _parser.parse(pattern.pattern, pattern.flags)
    except Exception:  # noqa: BLE001 - another Python's internals, or a pattern it cannot parse
        return None
    best, run = "", ""
    for op, av in parsed:
        if op is c.LITERAL:
            run += chr(av)
            best = max(best, run, key=len)
        else:
            run = ""
    if len(best) < 3 or not best.isascii():
        return None
    return best


class SharedTextRegexMatcher(RegexMatcher):
    """medspaCy's RegexMatcher, with the note text read once per call.

    A pattern whose matches must contain a literal run the note lacks is not run at all
    (it could find nothing): most of ConText's regex rules are family cues ("mothers?'?s?
    (?:has|had|...)") that each cost a scan of the note, ~0.3 ms per note together.
    Case-insensitive literals are only checked that way on an ASCII note, where lowercasing
    is exactly what IGNORECASE compares. A pattern without such a run may still need one of a
    few words ("(?:revised|updated|changed|amended) from", nlp/start_filter.py): on an ASCII
    note it is skipped when the lowercased note has none of them. A pattern that does run is
    scanned behind a look-ahead on its possible first characters (`start_filtered`: same
    matches; the pathology-header rule of the Sectionizer, run on most notes, went from ~0.10
    to ~0.04 ms).
    """

    def __call__(self, doc: Doc) -> list[tuple[int, int, int]]:
        text = note_text(doc)  # == doc.text_with_ws
        lowered = lowered_ascii(text)  # text.lower() on an ASCII note, else None
        literals = self.__dict__.setdefault("_dermcoder_literals", {})
        matches = []
        for match_id, patterns in self._patterns.items():
            for pattern in patterns:
                if pattern not in literals:
                    literal = required_literal(pattern)
                    ignore_case = bool(pattern.flags & re.IGNORECASE)
                    words = None if literal else required_words(pattern.pattern, pattern.flags)
                    literals[pattern] = (literal.lower() if literal and ignore_case else literal, ignore_case, words,
                                         start_filtered(pattern))  # fmt: skip
                literal, ignore_case, words, scan = literals[pattern]
                if literal is not None:
                    if not ignore_case and literal not in text:
                        continue
                    if ignore_case and lowered is not None and literal not in lowered:
                        continue
                elif words is not None and lowered is not None and not any(w in lowered for w in words):
                    continue
                on_match = self._callbacks[match_id]
                for re_match in scan.finditer(text):
                    span = doc.char_span(re_match.start(), re_match.end())
                    if span is None:
                        start = get_token_for_char(doc, re_match.start(), resolve=self.resolve_start)
                        end = get_token_for_char(doc, re_match.end(), resolve=self.resolve_end)
                        end_index = len(doc) if end is None else end.i
                        span = doc[start.i : end_index]
                    if len(span):
                        matches.append((match_id, span.start, span.end))
                    if on_match is not None:
                        on_match(self, doc, len(matches) - 1, matches)
        return matches


def share_note_text(component: object) -> int:
    """Swap SharedTextRegexMatcher in on `component`'s medspaCy regex matchers; how many were swapped."""
    swapped = 0
    for value in vars(component).values():
        if isinstance(value, MedspacyMatcher):
            regex = getattr(value, "_MedspacyMatcher__regex_matcher", None)
            if type(regex) is RegexMatcher:
                regex.__class__ = SharedTextRegexMatcher
                swapped += 1
    return swapped


# ---- ConText's token rules: a set of values per token spelled out as plain patterns ----------

# spaCy's Matcher tests `{"LOWER": {"IN": [...]}}` through a Python predicate at every token
# of the note: ConText's two token rules cost ~0.2 ms per note that way, against ~0.01 ms for
# its 417 literal rules (PhraseMatcher). One plain pattern per combination of the values, under
# the same rule id, finds the same matches natively (~0.09 ms).
SET_ATTRS = {"ORTH", "TEXT", "LOWER"}  # string attributes whose "IN" is a plain equality per value
MAX_SPELLED_OUT = 64


def spelled_out(pattern: list[dict]) -> list[list[dict]] | None:
    """The plain patterns matching exactly what `pattern` matches, its `{"IN": [...]}` values on
    ORTH/TEXT/LOWER taken one at a time; None when it has no such set, another kind of predicate,
    an operator, or too many combinations."""
    tokens = []
    for token in pattern:
        if "OP" in token:
            return None
        options: list[dict] = [{}]
        for key, value in token.items():
            if isinstance(value, dict):
                values = value.get("IN")
                if key.upper() not in SET_ATTRS or set(value) != {"IN"} or not values or not all(isinstance(v, str) for v in values):
                    return None
                options = [{**o, key: v} for o in options for v in dict.fromkeys(values)]
            else:
                options = [{**o, key: value} for o in options]
        tokens.append(options)
    if all(len(options) == 1 for options in tokens) or math.prod(len(o) for o in tokens) > MAX_SPELLED_OUT:
        return None
    return [list(combination) for combination in itertools.product(*tokens)]


def spell_out_token_rules(matcher: object) -> int:
    """Give a MedspacyMatcher's token rules their spelled-out patterns (the rules are added
    again in their own order, each under its own id); how many rules were rewritten."""
    tokens = getattr(matcher, "_MedspacyMatcher__matcher", None)
    if not isinstance(matcher, MedspacyMatcher) or not isinstance(tokens, Matcher):
        return 0
    rules = [(rule_id, rule) for rule_id, rule in matcher.rule_map.items() if isinstance(rule.pattern, list)]
    if any(rule_id not in tokens for rule_id, _ in rules):
        return 0  # not the layout medspaCy 1.3.1 builds: leave it
    patterns = {rule_id: spelled_out(rule.pattern) for rule_id, rule in rules}
    if not any(patterns.values()):
        return 0
    for rule_id, _rule in rules:
        tokens.remove(rule_id)
    for rule_id, rule in rules:
        tokens.add(rule_id, patterns[rule_id] or [rule.pattern], on_match=rule.on_match)
    return sum(1 for p in patterns.values() if p)


# ---- Sectionizer: the per-token section stamp written straight into doc.user_data ----------

from medspacy.section_detection import Sectionizer  # noqa: E402
from medspacy.section_detection.section import Section  # noqa: E402


def _token_key(name: str, idx: int) -> tuple:
    # spaCy 3.7's Underscore key for a Token extension (spacy/tokens/underscore.py, _get_key)
    return ("._.", name, idx, None)


def token_keys_match(doc: Doc) -> bool:
    """True when `token._.section = v` stores exactly `user_data[_token_key("section", token.idx)] = v`
    on this spaCy (checked on a scratch Doc, whose user_data is restored)."""
    if len(doc) == 0:
        return False
    saved = dict(doc.user_data)
    try:
        doc.user_data.clear()
        marker = object()
        doc[-1]._.section = marker
        return doc.user_data == {_token_key("section", doc[-1].idx): marker}
    except Exception:  # noqa: BLE001 - any surprise means: keep medspaCy's own loop
        return False
    finally:
        doc.user_data.clear()
        doc.user_data.update(saved)


class DirectTokenSectionizer(Sectionizer):
    """medspaCy 1.3.1's `Sectionizer.__call__` (MIT licence), the same steps in the same order,
    except that each token's `_.section` is written into `doc.user_data` under spaCy's own key
    instead of through `token._` (a new accessor object per token of the note: ~40% of the
    sectionizer's time). `use_direct_token_sections` swaps it in only after checking the key."""

    def __call__(self, doc: Doc) -> Doc:
        matcher = self._Sectionizer__matcher  # medspaCy keeps its matcher private; pinned version
        matches = matcher(doc)
        if self.require_start_line:
            matches = self.filter_start_lines(doc, matches)
        if self.require_end_line:
            matches = self.filter_end_lines(doc, matches)
        if self._parent_sections:
            matches = self.set_parent_sections(matches)
        doc._.sections = []
        if len(matches) == 0:
            doc._.sections.append(Section(None, 0, 0, 0, len(doc)))
            return doc
        section_list = []
        first_match = matches[0]
        if first_match[1] != 0:
            section_list.append(Section(None, 0, 0, 0, first_match[1]))
        for i, match in enumerate(matches):
            parent = None
            if len(match) == 4:
                (match_id, start, end, parent_idx) = match
                if parent_idx is not None:
                    parent = section_list[parent_idx]
            else:
                (match_id, start, end) = match
            if self._apply_sentence_boundary:
                doc[start].sent_start = True
                if end < len(doc):
                    doc[end].sent_start = True
            rule = matcher.rule_map[self.nlp.vocab.strings[match_id]]
            category = rule.category
            if i == len(matches) - 1:
                if self.max_section_length is None and rule.max_scope is None:
                    section_list.append(Section(category, start, end, end, len(doc), parent, rule))
                else:
                    if rule.max_scope is not None:
                        scope_end = min(end + rule.max_scope, doc[-1].i + 1)
                    else:
                        scope_end = min(end + self.max_section_length, doc[-1].i + 1)
                    section_list.append(Section(category, start, end, end, scope_end, parent, rule))
            else:
                next_match = matches[i + 1]
                if len(match) == 4:
                    _, next_start, _, _ = next_match
                else:
                    _, next_start, _ = next_match
                if self.max_section_length is None and rule.max_scope is None:
                    section_list.append(Section(category, start, end, end, next_start, parent, rule))
                else:
                    if rule.max_scope is not None:
                        scope_end = min(end + rule.max_scope, next_start)
                    else:
                        scope_end = min(end + self.max_section_length, next_start)
                    section_list.append(Section(category, start, end, end, scope_end, parent, rule))
        idx = doc.to_array("IDX").tolist()
        user_data = doc.user_data
        for section in section_list:
            doc._.sections.append(section)
            start, end = section.section_span
            for i in range(*slice(start, end).indices(len(doc))):  # the tokens of doc[start:end]
                user_data[("._.", "section", idx[i], None)] = section
        if self.assertion_attributes_mapping:
            if self._input_span_type.lower() == "ents":
                self.set_assertion_attributes(doc.ents)
            elif self._input_span_type.lower() == "group":
                self.set_assertion_attributes(doc.spans[self._span_group_name])
        return doc


def use_direct_token_sections(sectionizer: object, probe: Doc) -> bool:
    """Make a stock medspaCy Sectionizer a DirectTokenSectionizer when spaCy's key checks out on `probe`."""
    if type(sectionizer) is not Sectionizer or not hasattr(sectionizer, "_Sectionizer__matcher"):
        return False
    if not token_keys_match(probe):
        return False
    sectionizer.__class__ = DirectTokenSectionizer
    return True
