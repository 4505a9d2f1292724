"""`derm_mohs`: Mohs stages and the tissue blocks of each stage.

Reads narrative ("Stage I: 4 blocks", "stage two, three blocks"), dash/pipe/slash
tables ("Stage 1 | 6 | ...", "I    6    ..."), and "N sections/pieces" wording. Each
MOHS_STAGE span's value is the stage number; the MOHS_BLOCKS span that follows it on
the same row gets the block count as value and the stage number as `role`.
"""

from __future__ import annotations

import re

from spacy.language import Language
from spacy.tokens import Doc

from dermcoder.nlp._extensions import note_text
from dermcoder.nlp.numbers import WORD_PATTERN, to_int
from dermcoder.nlp.spans import add_span

STAGE_NUM = rf"(?:#?\d|i{{1,3}}|iv|vi?|{WORD_PATTERN})"
STAGE = re.compile(
    rf"(?<![\w])(?:(?:stage|stg|layer)\s*#?(?P<n>{STAGE_NUM})(?![\w])(?!\s*[-–]\s*0)|(?P<o>first|second|third|fourth|fifth|1st|2nd|3rd|4th|5th)\s+(?:mohs\s+)?(?:stage|layer)"
    rf"|(?m:^[ \t]*)[SL](?P<s>[1-9])(?=\s*[:\-–—]))",  # "S1: 3 blks", "L1: 3 blks" (layer)
    re.IGNORECASE,
)
BLOCKS = re.compile(rf"(?<![\w.])(?P<b>\d{{1,2}}|{WORD_PATTERN})\s*(?:tissue\s+|frozen\s+)?(?:blocks?|blks?|sections?|pieces?|specimens?|tissue blocks?)\b", re.IGNORECASE)
BLOCKS_AFTER_WORD = re.compile(r"\bblocks?\s*[:=]\s*(?P<b>\d{1,2})\b", re.IGNORECASE)
# A table row whose first cell is a stage number and second cell a block count.
ROW = re.compile(r"(?im)^[ \t]*(?P<st>(?:stage[ \t]*)?(?P<n>\d|I{1,3}|IV|VI?))[ \t]*(?:[|/:.)–—-][ \t]*|[ \t]{2,}|\t)(?P<b>\d{1,2})(?![\d.])(?![ \t]*(?:mm|cm|o'?clock|%))")


@Language.factory("derm_mohs", assigns=["doc.spans"], default_config={})
def make_mohs(nlp, name):  # untyped: spaCy validates factory signatures
    """Factory for the Mohs stage/block recognizer."""
    return MohsRecognizer()


class MohsRecognizer:
    """Adds MOHS_STAGE and MOHS_BLOCKS spans."""

    def __call__(self, doc: Doc) -> Doc:
        text = note_text(doc)
        if not re.search(r"mohs|micrographic|\bMMS\b|stage\s*(?:I|1)\b", text, re.IGNORECASE):
            return doc
        taken: set[int] = set()
        has_table = re.search(r"(?im)^\s*stage\b.{0,20}\bblocks?\b", text) is not None
        if has_table:
            for m in ROW.finditer(text):
                stage, blocks = to_int(m.group("n")), to_int(m.group("b"))
                if stage is None or blocks is None or blocks == 0:
                    continue
                add_span(doc, m.start("st"), m.end("st"), "MOHS_STAGE", value=stage)
                b_end = m.end("b")
                word = re.match(r"\s*(?:tissue\s+)?(?:blocks?|blks?)\b", text[b_end:], re.IGNORECASE)
                add_span(doc, m.start("b"), b_end + (word.end() if word else 0), "MOHS_BLOCKS", value=blocks, role=stage)
                taken.update(range(m.start(), m.end()))
        for m in STAGE.finditer(text):
            if m.start() in taken:
                continue
            stage = to_int(m.group("n") or m.group("o") or m.group("s"))
            if stage is None or stage > 9:
                continue
            add_span(doc, m.start(), m.end(), "MOHS_STAGE", value=stage)
            line_end = text.find("\n", m.end())
            line_end = len(text) if line_end < 0 else line_end
            window = text[m.end() : min(line_end, m.end() + 60)]
            nxt = STAGE.search(window)
            if nxt:
                window = window[: nxt.start()]
            base = m.end()
            b = BLOCKS.search(window) or BLOCKS_AFTER_WORD.search(window)
            if b is None and not window.strip(" \t:-–—."):
                # "STAGE 1" alone on its line, then "  Blocks: 12 blocks" below it
                below = text[line_end : line_end + 160]
                nxt = STAGE.search(below)
                below = below[: nxt.start()] if nxt else below
                base = line_end
                b = BLOCKS.search(below) or BLOCKS_AFTER_WORD.search(below)
            if b:
                blocks = to_int(b.group("b"))
                if blocks:
                    s = base + b.start("b")
                    add_span(doc, s, base + b.end(), "MOHS_BLOCKS", value=blocks, role=stage)
        return doc
