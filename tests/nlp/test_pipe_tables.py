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


GRID = ("Intent: complete removal.\n\nSPEC ; FINAL PATH ; SITE ; LAT ; DIAM ; ACTION\n"
        "A ; intradermal nevus ; upper eyelid, lateral third ; R ; 4 mm ; shave removal\n"
        "B ; irritated seborrheic keratosis ; hemiscrotum ; L ; 7 mm ; shave removal\n"
        "C ; compound nevus ; occipital scalp ; - ; 1.2 cm ; shave removal\n")


def test_a_semicolon_export_is_a_table():
    (table,) = pipe_tables(GRID)
    assert table.sep == ";" and [line.split(" ;")[0] for _, line in table.rows] == ["SPEC", "A", "B", "C"]


def test_prose_with_semicolons_is_no_table():
    text = "Consent; lido w/ epi; AlCl3; bandage.\nLN2 to 4 AKs; 2 cycles; tol well; RTC 3 mo.\nF/u prn."
    assert pipe_tables(text) == []


def test_semicolon_grid_rows_are_lesions_with_their_column_roles(nlp):
    frames = nlp(GRID)._.frames
    assert [(f.block, f.procedure, f.sizes[0].text, f.sizes[0].role, f.laterality[0].canonical if f.laterality else None) for f in frames] == [
        ("A", "shave_removal", "4 mm", "lesion", "right"), ("B", "shave_removal", "7 mm", "lesion", "left"),
        ("C", "shave_removal", "1.2 cm", "lesion", None)]  # fmt: skip
