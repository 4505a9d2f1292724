"""The pipe-table walker: rows grouped by table, offsets into the note, the line after each table."""

from dermcoder.nlp.pipe_tables import pipe_tables


def test_two_tables_with_offsets_and_ends():
    text = "Lesions:\nSite | Dx | Size\nnose | BCC | 6 mm\n\n| Stage | Blocks |\n| 1 | 3 |"
    tables = pipe_tables(text)
    assert len(tables) == 2
    first, second = tables
    assert [text[p : p + 4] for p, _ in first.rows] == ["Site", "nose"]
    assert first.end == text.index("\n\n") + 1 and not first.stage_table
    assert second.stage_table and second.end is None  # runs to the end of the note
    assert all(text[p : p + len(line)] == line for t in tables for p, line in t.rows)


def test_one_pipe_is_no_table():
    assert pipe_tables("BCC | nose\nSCC | hand") == []
