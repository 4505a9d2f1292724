"""Counts (not freeze-thaw cycles) and Mohs stages with their blocks."""

import pytest

from tests.conftest import mentions

COUNTS = [
    ("Cryotherapy to 18 AKs", [18]),
    (" - dorsal hands: R 3, L 1", [3, 1]),
    ("Pt: Haverford-Nguyen, Lila   est pt   33 F\n\nKnown epidermoid cyst of the upper back", []),
    (" - dorsal hands: R 3 mm, L 1 mm", []),
    ("six warts on the hands", [6]),
    ("AKs x 14 treated", [14]),
    ("Number of lesions treated: 23", [23]),
    ("R axilla: five. L axilla: four.", [5, 4]),
    ("22 total removed", [22]),
    ("LN2 to 3 AKs, 2 FTC each", [3]),
    ("double freeze, 2 cycles", []),
    ("LN2 to AKs: twelve on face (forehead, nose), three on scalp = fifteen total", [12, 3, 15]),
    ("Pt has ~25 total but time allowed only part today: 15 removed by snip excision.", [25, 15]),
    ("Also actinic keratoses, three, dorsal forearms - cryotherapy", [3]),
    ("AKs: left forehead 1, right temple 1, scalp 1 - cryotherapy, 3 lesions total", [1, 1, 1, 3]),
    ("Tender crusted bump L forearm x6 wk. LN2 to AKs: forehead x2, nasal dorsum x1.", [2, 1]),
    ("Snip excision, RN tally:\n  neck, front and sides ........ 9\n  L axilla ........ 8\n14:28  Two largest tags to path.", [9, 8, 2]),
    (" site 2 - AKs: right antihelix 2, left helix 1. LN2 2 cycles.", [2, 1]),
    ("3. Hx BCC: no recurrence; routine total body check at 6-month visit.", []),
    ("Procedure 2 - Cryotherapy of actinic keratoses, right dorsal forearm\nLN2, two cycles to each of two lesions.", [2]),
    ("| 4 | dorsal hands, bilateral (2 R, 1 L) | 3-5 mm each | LN2 cryotherapy |", [2, 1]),
    ("| Right axilla | 8 | snip excision |\n| Inframammary folds, bilateral | 5 | snip excision |", [8, 5]),
    ("2. Actinic keratoses, five: forehead two, nose one, scalp two - cryotherapy LN2 x2 cycles each.", [5, 2, 1, 2]),
    ("ASSESSMENT\n1. Actinic keratosis, right dorsal hand\n2. Seborrheic keratoses, back - benign", []),
    ("Lateral 1/5 of nail plate freed and avulsed, then phenol to the lateral matrix.", []),
    ("A/P:\n1. Irritated SKs x3 - LN2, two cycles each.", [3]),
    ("I counted eight on the scalp, four across the forehead and two on the right hand.", [8, 4, 2]),
    ("LN2 to AKs - R temple two, L forehead one, nasal dorsum one (2 FTC each).", [2, 1, 1]),
    ("Technique: LN2 cryospray, 2 FT cycles per lesion.", []),
    ("AKs: LN2 to 3 lesions (2 scalp, 1 hand).", [3]),
    ("2. AKs: scalp 3, forehead 2 -> LN2 x 5 lesions, 2 FTC.", [3, 2, 5]),
    ("Scalp: 0.1 mL per point - #1 14 pts, #2 10 pts, #3 8 pts, #4 4 pts = 36 points = 3.6 mL.", []),
    ("All of the lesions, the eleven on the scalp and the two on each forearm, were treated with liquid nitrogen.", [11, 4]),
    ("Face: 5 gritty erythematous papules (L forehead 2, R temple 1, nasal dorsum 1, L cheek 1) c/w AK.", [5]),
    ("Strength 5/5 proximal and distal, all 4 extremities.", []),
    ("Injected: L cheek x2, R jawline x1, chin x1  (= 4). Kenalog 2.5 mg/mL", [2, 1, 1, 4]),
    (" SITE    #\n forehead   4\n nose   2\n -----\n TOTAL   l5\n", [4, 2, 15]),
    ("Bx x2: L flank papule, R ant thigh papule. Bx #2 to dermpath.", [2]),
    ("Four indurated papules: L nasal ala 0.9 cm, R cheek 1.1 cm. Triamcinolone 0.2 mL into each of the four lesions.", [4, 4]),
    ("Moves all four limbs; 2 quadrants of the abdomen tender.", []),
]


@pytest.mark.parametrize("text,values", COUNTS, ids=[c[0] for c in COUNTS])
def test_counts(nlp, text, values):
    assert [m.value for m in mentions(nlp, text) if m.label == "COUNT"] == values


MOHS = [
    ("Mohs surgery.\nStage I: 4 blocks, clear.", {1: 4}),
    ("MOHS MICROGRAPHIC SURGERY\nSTAGE 1\n  Blocks: 12 blocks\n  Result: positive\nSTAGE 2\n  Blocks: 7 blocks", {1: 12, 2: 7}),
    ("Mohs.\nStage | Blocks | Result\n1 | 6 | positive\n2 | 2 | clear", {1: 6, 2: 2}),
    ("Mohs.\nSTAGE   BLOCKS\nStage 1  6\nStage 2  2\nStage 3  1", {1: 6, 2: 2, 3: 1}),
    ("MMS.\n S1: 3 blks, deep +\n S2: 2 blks, clear", {1: 3, 2: 2}),
    ("MMS L nasal sidewall.\nL1: 3 blks, + sup.\nL2: 2 blks, neg.", {1: 3, 2: 2}),
    ("MMS - R malar cheek.\nS1 4 blks + sup/lat\nS2 3 blks + focal lat\nS3 2 blks neg", {1: 4, 2: 3, 3: 2}),
    ("MOHS MICROGRAPHIC SURGERY REPORT\n\n| Stage | # blocks | Residual tumor |\n| I | 6 | yes - deep |\n| II | 2 | none |", {1: 6, 2: 2}),
    ("Mohs.\nTumor | Site | Pre-op | Stage | Blocks | Margin status\nA BCC | L helix | 0.6 cm | I | 3 | + superior\nA | | | II | 2 | clear",
     {1: 3, 2: 2}),
    ("Mohs micrographic surgery. Stage one, three blocks; stage two, two blocks.", {1: 3, 2: 2}),
    ("MMS R alar rim - BCC.\nSt I: 3 blk +. St II: 1 blk +. St III: 1 blk clr.", {1: 3, 2: 1, 3: 1}),
    ("SCC, L dorsal hand. Mohs st 1 4 blocks, + at ulnar edge; st 2 2 blocks, clear.", {1: 4, 2: 2}),
    ("MMS x2.\n(A) R temple BCC\n   S1 3 blk (+) sup; S2 2 blk neg", {1: 3, 2: 2}),
    ("Mohs surgery record.\n Layer            Tissue blocks    Margin status\n Stage 1          7                positive\n"
     " Stage 2          5                negative", {1: 7, 2: 5}),
    ("MOHS REPORT\nStage          Blocks    Result\nStage I        6         tumour\nStage II       2         clear\n\nFINAL DEFECT\n1.7 x 1.4 cm.",
     {1: 6, 2: 2}),
    ("Mohs micrographic surgery:\n| Stage | Tissue blocks | Frozen-section result |\n|---|---|---|\n| Stage I | 6 | residual BCC |\n"
     "| Stage II | 3 | residual BCC |\n| Stage III | 1 | clear |", {1: 6, 2: 3, 3: 1}),
    ("MOHS NOTE\nStage I: 3 blocks - residual tumor\nStage II: 2 blocks - clear\nStage III: ___ blocks - ___\nStage IV: ___ blocks - ___", {1: 3, 2: 2}),
    # dictated: the stage's sentence names its blocks well after the stage
    ("Mohs surgery. The first stage was taken as a broad saucer and, because of its size, divided into seven blocks, each inked. "
     "A second stage was taken over the deep surface down to the paratenon, which was preserved; this broad layer was processed as "
     "six blocks. The third stage, two blocks, was clear.", {1: 7, 2: 6, 3: 2}),
]


@pytest.mark.parametrize("text,stages", MOHS, ids=[f"mohs-{i}" for i in range(len(MOHS))])
def test_mohs_stages_and_blocks(nlp, text, stages):
    got = {int(m.role): int(m.value) for m in mentions(nlp, text) if m.label == "MOHS_BLOCKS"}
    assert got == stages


def test_mohs_suture_size_is_not_a_stage(nlp):
    assert not [m for m in mentions(nlp, "Mohs repair: deep layer 5-0 Vicryl") if m.label == "MOHS_STAGE"]


def test_mohs_template_stage_left_blank_is_no_stage(nlp):
    text = "MOHS NOTE\nStage I: 3 blocks - residual tumor\nStage II: 2 blocks - clear\nStage III: ___ blocks - ___\nStage IV: ___ blocks - ___"
    assert sorted(int(m.value) for m in mentions(nlp, text) if m.label == "MOHS_STAGE") == [1, 2]


def test_a_count_above_a_total_line_is_the_sites_own(nlp):
    text = "Sites and number of lesions:\n  - forehead ........ 4\n  - left dorsal forearm ..... 2\nTotal lesions: (field not completed)"
    assert [m.role for m in mentions(nlp, text) if m.label == "COUNT"] == ["item", "item"]


def test_each_of_the_n_lesions_counts_the_lesions_again(nlp):
    text = "Four indurated papules: L nasal ala 0.9 cm, R cheek 1.1 cm. Triamcinolone 0.2 mL into each of the four lesions."
    counts = [m for m in mentions(nlp, text) if m.label == "COUNT"]
    assert [(m.value, m.role) for m in counts] == [(4, "item"), (4, "total")]


def test_intralesional_injection_of_lesions_counted_twice_is_one_band(engine):
    note = ("Here today for intralesional injection only.\nFour indurated violaceous papules and plaques: left nasal ala 0.9 cm, "
            "right nasal sidewall 0.6 cm, right medial cheek 1.1 cm and left malar cheek 0.7 cm. After consent, triamcinolone "
            "acetonide 5 mg/mL from our stock, 0.2 mL into each of the four lesions, total 0.8 mL, equal to 4 mg.")  # fmt: skip
    assert {c.code for c in engine.suggest(note, "il-each").cpt} == {"11900", "J3301"}
