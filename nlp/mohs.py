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
from dermcoder.nlp.pipe_tables import pipe_tables
from dermcoder.nlp.spans import add_span

STAGE_NUM = rf"(?:#?\d|i{{1,3}}|iv|vi?|{WORD_PATTERN})"
STAGE = re.compile(
    rf"(?<![\w])(?:(?:stage|stg|layer|st\.?)\s*#?(?P<n>{STAGE_NUM})(?![\w])(?!\s*[-–]\s*0)|(?P<o>first|second|third|fourth|fifth|1st|2nd|3rd|4th|5th)\s+(?:mohs\s+)?(?:stage|layer)"
    rf"|(?:(?m:^[ \t]*)|(?<=[;,] ))[SL](?P<s>[1-9])(?=\s*[:\-–—]|[ \t]+\d{{1,2}}[ \t]*(?:blks?|blocks?)\b))",  # "S1: 3 blks", "L1 3 blks" (layer)
    re.IGNORECASE,
)
BLOCKS = re.compile(rf"(?<![\w.])(?P<b>\d{{1,2}}|{WORD_PATTERN})\s*(?:tissue\s+|frozen\s+)?(?:blocks?|blks?|sections?|pieces?|specimens?|tissue blocks?)\b", re.IGNORECASE)
BLOCKS_AFTER_WORD = re.compile(r"\bblocks?\s*[:=]\s*(?P<b>\d{1,2})\b", re.IGNORECASE)
BLANK_FIELD = re.compile(r"[ \t]*[:\-–—]?[ \t]*_{2,}")
# A table row whose first cell is a stage number and second cell a block count ("1.7 x 1.4 cm"
# is a size: a full stop joins a stage to its count only before a space).
ROW = re.compile(r"(?im)^[ \t]*(?P<st>(?:stage[ \t]*)?(?P<n>\d|I{1,3}|IV|VI?))[ \t]*(?:[|/:)–—-][ \t]*|\.[ \t]+|[ \t]{2,}|\t)(?P<b>\d{1,2})(?![\d.])(?![ \t]*(?:mm|cm|o'?clock|%|x\b))")


STAGE_HEADER = re.compile(r"^\s*(?:stage|layer|stg)\s*#?\s*$", re.IGNORECASE)
BLOCK_HEADER = re.compile(r"^\s*(?:#|no\.?|number of)?\s*(?:tissue\s+|frozen\s+)?(?:blocks?|blks?|sections?)\s*$", re.IGNORECASE)
CELL_STAGE = re.compile(r"^\s*(?:stage\s*)?(\d|i{1,3}|iv|vi?)\s*$", re.IGNORECASE)
CELL_BLOCKS = re.compile(r"^\s*(\d{1,2})(?:\s*(?:blocks?|blks?))?\s*$", re.IGNORECASE)


def _pipe_table_rows(text: str) -> list[tuple[tuple[int, int], int, tuple[int, int], int]]:
    """(stage cell span, stage, blocks cell span, blocks) from pipe tables whose header names a
    Stage and a Blocks column, wherever they stand ("Tumor | Site | Pre-op | Stage | Blocks")."""
    out = []
    for table in pipe_tables(text):
        columns: tuple[int, int] | None = None
        for pos, line in table.rows:
            cells = line.rstrip("\n").split(table.sep)
            if columns is None:
                stage_i = next((i for i, c in enumerate(cells) if STAGE_HEADER.match(c)), None)
                block_i = next((i for i, c in enumerate(cells) if BLOCK_HEADER.match(c)), None)
                if stage_i is not None and block_i is not None:
                    columns = (stage_i, block_i)
                continue
            stage_i, block_i = columns
            if max(stage_i, block_i) >= len(cells):
                continue
            st, bl = CELL_STAGE.match(cells[stage_i]), CELL_BLOCKS.match(cells[block_i])
            stage, blocks = (to_int(st.group(1)) if st else None), (to_int(bl.group(1)) if bl else None)
            if stage and blocks:
                starts = [pos]
                for c in cells[:-1]:
                    starts.append(starts[-1] + len(c) + 1)
                s0 = starts[stage_i] + st.start(1)
                b0 = starts[block_i] + bl.start(1)
                out.append(((s0, s0 + len(st.group(1))), stage, (b0, b0 + len(bl.group(1))), blocks))
    return out


@Language.factory("derm_mohs", assigns=["doc.spans"], default_config={})
def make_mohs(nlp, name):  # untyped: spaCy validates factory signatures
    """Factory for the Mohs stage/block recognizer."""
    return MohsRecognizer()


SENTENCE_END = re.compile(r"\.(?=\s|$)|\n")
SENTENCE_REACH = 240  # characters a dictated stage's sentence is read for its block count


def _blocks_later_in_sentence(text: str, start: int) -> tuple[re.Match | None, int]:
    """The block count in the rest of a stage's sentence, before any other stage; (match, base)."""
    end = SENTENCE_END.search(text, start, start + SENTENCE_REACH)
    rest = text[start : end.start() if end else start + SENTENCE_REACH]
    nxt = STAGE.search(rest)
    rest = rest[: nxt.start()] if nxt else rest
    return BLOCKS.search(rest), start


class MohsRecognizer:
    """Adds MOHS_STAGE and MOHS_BLOCKS spans."""

    def __call__(self, doc: Doc) -> Doc:
        text = note_text(doc)
        if not re.search(r"mohs|micrographic|\bMMS\b|stage\s*(?:I|1)\b", text, re.IGNORECASE):
            return doc
        taken: set[int] = set()
        for stage_span, stage, block_span, blocks in _pipe_table_rows(text):
            add_span(doc, *stage_span, "MOHS_STAGE", value=stage)
            add_span(doc, *block_span, "MOHS_BLOCKS", value=blocks, role=stage)
            taken.update(range(stage_span[0], block_span[1]))
        has_table = not taken and re.search(r"(?im)^\s*(?:stage|layer|stg)\b.{0,20}\bblocks?\b", text) is not None
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
            line_end = text.find("\n", m.end())
            line_end = len(text) if line_end < 0 else line_end
            if BLANK_FIELD.match(text, m.end(), line_end):
                continue  # "Stage III: ___ blocks - ___": a template line left empty is no stage
            add_span(doc, m.start(), m.end(), "MOHS_STAGE", value=stage)
            window = text[m.end() : min(line_end, m.end() + 60)]
            nxt = STAGE.search(window)
            if nxt:
                window = window[: nxt.start()]
            base = m.end()
            b = BLOCKS.search(window) or BLOCKS_AFTER_WORD.search(window)
            if b is None and window.strip(" \t:-–—."):
                # "The first stage was taken as a broad saucer and, because of its size, divided
                # into seven blocks": a dictated stage names its blocks later in its sentence
                b, base = _blocks_later_in_sentence(text, m.end())
            elif b is None:
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
