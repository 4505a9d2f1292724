"""Frames: one per lesion/procedure, facts attached, pathology matched back, excised diameter arithmetic."""

import pytest


def frames(nlp, text):
    return nlp(text)._.frames  # built by derm_frames, with the lexicon's broad regions


def test_frames_labeled_lesions(nlp):
    fs = frames(nlp, "A. R chest - 6 mm papule. Shave biopsy.\nB. L shoulder - 8 mm macule. Punch biopsy.\n")
    assert [(f.block, f.procedure, f.sites[0].canonical) for f in fs] == [("A", "biopsy_tangential", "chest"), ("B", "biopsy_punch", "shoulder")]


def test_frames_preamble_facts_join_first_frame(nlp):
    (f,) = frames(nlp, "Lesion: 0.9 cm pearly papule, left nasal ala.\nProcedure: excision with 3 mm margins.")
    assert f.procedure == "excision" and f.sites[0].canonical == "nose" and f.sizes[0].value == [0.9]


def test_frames_pathology_matched_by_label(nlp):
    text = "#1 Excision, left forehead. Size 1.3 cm.\n#2 Excision, left thigh. Size 0.7 cm.\nPath addendum: (1) BCC, nodular. (2) Dermatofibroma."
    fs = frames(nlp, text)
    assert [f.path_histology[0].canonical for f in fs] == ["bcc", "dermatofibroma"]


def test_frames_numbered_steps_of_one_procedure_merge(nlp):
    text = "Pre-op: BCC right nasal tip.\n1) Mohs micrographic surgery, stage I: 2 blocks.\n2) Repair: full-thickness skin graft, 2.2 sq cm."
    fs = frames(nlp, text)
    assert len([f for f in fs if f.procedure == "mohs"]) == 1


def test_frames_lesion_record_has_excised_diameter_arithmetic(engine):
    s = engine.suggest("Excision of biopsy-proven BCC, left nasal ala. Lesion 0.9 cm, margins 0.3 cm.")
    (frame,) = s.lesions
    assert frame.excised_diameter_cm == 1.5
    assert frame.excised_diameter_arithmetic == "0.9 + 2 x 0.3 = 1.5 cm"
    assert all(s_.text == "Excision of biopsy-proven BCC, left nasal ala. Lesion 0.9 cm, margins 0.3 cm."[s_.start : s_.end] for s_ in frame.evidence)


RUN_ON = ("Starting on the right forearm there is a 6 mm scaly papule and I did a shave biopsy of that one, then "
          "moving over to the left upper back there is a 1.1 x 0.9 cm macule so I took a punch biopsy from the "
          "darkest part, and then up on the scalp there is a pearly 5 mm papule which I also sampled with a shave biopsy.")


def test_frames_run_on_dictation_gives_each_procedure_the_lesion_described_before_it(nlp):
    fs = frames(nlp, RUN_ON)
    assert [(f.procedure, f.sites[0].canonical, f.laterality[0].text if f.laterality else None, f.sizes[0].text)
            for f in fs] == [("biopsy_tangential", "forearm", "right", "6 mm"), ("biopsy_punch", "back", "left", "1.1 x 0.9 cm"),
                             ("biopsy_tangential", "scalp", None, "5 mm")]  # fmt: skip


def test_frames_procedure_naming_its_own_site_leaves_the_sites_before_it_to_the_lesion_before(nlp):
    fs = frames(nlp, "Cryotherapy to AKs of the left cheek, nose and forehead, and a shave biopsy of the right arm.")
    assert [(f.procedure, [s.canonical for s in f.sites]) for f in fs] == [
        ("cryotherapy", ["cheek", "nose", "forehead"]), ("biopsy_tangential", ["arm"])]


def test_frames_lesion_left_untreated_joins_no_frame(nlp):
    text = "Shave biopsy of the right forearm, 6 mm. The spot on her left cheek is a sebaceous hyperplasia and we did not biopsy it."
    (f,) = frames(nlp, text)
    assert [s.canonical for s in f.sites] == ["forearm"] and not f.histology


def test_frames_values_given_per_label_on_one_line_go_to_those_lesions(nlp):
    text = ("PROCEDURE: ED&C, malignant lesions x2\nLesion A - superficial BCC, right upper arm\n"
            "Lesion B - superficial BCC, left upper back\nClinical size: A 0.9 cm; B 1.3 cm\nED&C x3 cycles at each site.")
    sizes = {f.sites[0].text: [m.text for m in f.sizes] for f in frames(nlp, text)}
    assert sizes == {"upper arm": ["0.9 cm"], "upper back": ["1.3 cm"]}


TABLE = ("Technique: each lesion excised as a fusiform ellipse, biopsy-proven BCC.\n\n"
         "Site | Dx | Lesion size | Margin | Closure | Length\n"
         "R nasal ala | BCC | 6 mm | 3 mm | intermediate | 2.2 cm\n"
         "L upper back | BCC | 1.4 cm | 4 mm | simple | 3.5 cm\n\n"
         "Deep layer 5-0 Monocryl on the face.")


def test_frames_table_rows_are_lesions_of_the_procedure_named_above(nlp):
    fs = frames(nlp, TABLE)
    assert [(f.procedure, f.sites[0].canonical, [m.text for m in f.sizes if m.role == "lesion"], [m.text for m in f.margins])
            for f in fs] == [("excision", "nose", ["6 mm"], ["3 mm"]), ("excision", "back", ["1.4 cm"], ["4 mm"])]  # fmt: skip
    assert all(f.histology and f.histology[0].text == "BCC" for f in fs)


@pytest.mark.parametrize(
    "text,expected",
    [
        pytest.param("Procedure 1 - left cheek, BCC (1.2 cm): excision with 4 mm margins.\n"
                     "Procedure 2 - mid upper back, 0.9 cm papule: excision with 2 mm margins.\n"
                     "Path: cheek - BCC, clear. Back - compound nevus.",
                     [["bcc"], ["nevus"]], id="by site inside the last block"),
        pytest.param("1) Excision, left upper back. Scar 0.8 cm; 0.5 cm margins.\n"
                     "2) Excision, right lateral neck. Cyst 1.5 cm.\n3) Punch biopsy, left shin.\n"
                     "Path: A) melanoma in situ, margins clear. B) epidermoid cyst. C) pending.",
                     [["mis"], ["epidermoid_cyst"], []], id="letters for numbered lesions"),
        pytest.param("Specimen 1 - left anterior thigh: 9 cm plaque. Incisional biopsy.\n"
                     "Specimen 2 - right flank: papules. Punch biopsy, 4 mm.\n"
                     "Specimen 3 - left occipital scalp: 6 mm papule. Shave biopsy.\n\n"
                     "Addendum, pathology Feb 4:\n 1 - granuloma annulare\n 2 - lichen planus\n 3 - basal cell carcinoma",
                     [["granuloma_annulare"], ["lichen_planus"], ["bcc"]], id="numbered report lines with a dash"),
        pytest.param("LESION 1 of 2\n  Location: right shoulder\n  Punch biopsy, then excision with 2 mm margins.\n\n"
                     "LESION 2 of 2\n  Location: left cheek\n  Excision of BCC, margins 3 mm.\n\n"
                     "PATH (received Apr 30)\n  1a + 1b: compound dysplastic nevus\n  2: nodular basal cell carcinoma",
                     [["atypical_nevus"], ["atypical_nevus"], ["bcc"]], id="header with a date in brackets, parts 1a + 1b"),
        pytest.param("Shave removal of the R cheek nevus flush with the skin and shave removal of the L upper back lesion, both sent. "
                     "Path 7/16: (A) R cheek intradermal melanocytic nevus, (B) L upper back irritated seborrheic keratosis.",
                     [["nevus"], ["isk"]], id="dated inline report, matched by site"),
        pytest.param("The left cheek lesion is a thicker hyperkeratotic papule, 6 mm.\n"
                     "One. Cryotherapy with liquid nitrogen to the seven actinic keratoses listed above.\n"
                     "Two. Shave biopsy of the left cheek papule. That lesion was not frozen.\n\n"
                     "Pathology, received July 21: left cheek, shave biopsy: squamous cell carcinoma in situ.",
                     [[], ["sccis"]], id="not to a destruction of several lesions sharing the site"),
        pytest.param("First, the left cheek: 0.8 cm papule, excised with 4 mm margins.\n\nSecond, the right upper arm: a 1.0 cm cyst. "
                     "Excised with a 1 mm margin.\n\nPathology. Container 1, right arm: epidermal inclusion cyst. Container 2, "
                     "left cheek: basal cell carcinoma.",
                     [["bcc"], ["epidermoid_cyst"]], id="by a broad region of the frame's site"),
    ],
)
def test_frames_pathology_goes_to_its_lesion(nlp, text, expected):
    assert [[m.canonical for m in f.path_histology] for f in frames(nlp, text)] == expected


def test_frames_lesions_only_reassured_join_no_frame(nlp):
    (f,) = frames(nlp, "LN2 to ISKs x2 L inframammary.\nMultiple benign-appearing SKs on back: reassured, no tx.")
    assert [s.text for s in f.sites] == ["inframammary"] and [h.text for h in f.histology] == ["ISKs"]


@pytest.mark.parametrize("text, n_excisions", [
    ("Excision of biopsy-proven BCC, left upper back. Mohs was discussed, but on the trunk at this size "
     "we went ahead with a standard excision. Lesion 14 x 10 mm, 4 mm margins.", 1),
    ("Two lesions on the face today. Excision of BCC of the nasal dorsum, 0.6 cm, 3 mm margins. "
     "Excision of a nevus of the left upper lip, 0.4 cm, 1 mm margin.", 2),
], ids=["region-after-site-is-that-lesion", "sites-inside-an-earlier-region-are-lesions"])  # fmt: skip
def test_frames_broad_region_named_in_passing(nlp, text, n_excisions):
    fs = nlp(text)._.frames
    assert len([f for f in fs if f.procedure == "excision"]) == n_excisions


def test_site_regions_are_validated(tmp_path):
    import json
    import shutil

    from dermcoder.nlp.lexicons import resources_dir, validate_lexicons

    for name in ("site_lexicon.json", "findings_lexicon.json", "shared_patterns.json"):
        shutil.copy(resources_dir() / name, tmp_path / name)
    data = json.loads((tmp_path / "site_lexicon.json").read_text())
    data["regions"]["trunk"].append("torso_region")
    (tmp_path / "site_lexicon.json").write_text(json.dumps(data))
    lex, problems = validate_lexicons(tmp_path)
    assert lex is None and any("torso_region" in p for p in problems)


@pytest.mark.parametrize("plan, n_biopsies", [
    ("Plan: shave bx both, done today.", 2),
    ("Plan: shave bx of the cheek lesion today.", 1),
], ids=["both-lesions", "one-named"])  # fmt: skip
def test_frames_procedure_said_of_both_labeled_lesions(nlp, plan, n_biopsies):
    text = f"Two spots.\n1. R temple: 5 mm pearly papule.\n2. L cheek: 9 mm scaly patch.\n{plan}\n"
    fs = nlp(text)._.frames
    assert len([f for f in fs if (f.procedure or "").startswith("biopsy")]) == n_biopsies


def test_frames_table_rows_labeled_by_tumour_letter_and_repair_lines(nlp):
    text = ("MOHS SURGERY NOTE\nTumor | Site | Pre-op | Stage | Blocks\n"
            "A BCC | R nasal ala | 0.7 cm | I | 3\nA | | | II | 2\nB SCCIS | L forearm | 1.0 cm | I | 4\n"
            "Repair A: intermediate layered closure, 2.0 cm.\nRepair B: none, second intention.\n")  # fmt: skip
    fs = [f for f in nlp(text)._.frames if f.procedure == "mohs"]
    assert [f.block for f in fs] == ["A", "B"]
    a = fs[0]
    assert [r.canonical for r in a.repairs if r.active] == ["intermediate"]
    assert sorted(m.value for m in a.mohs_stages) == [1, 2]


def test_frames_bracketed_labels_in_one_line_split_its_facts(nlp):
    text = ("Pre-op diagnoses: (A) SCC, left forearm; (B) BCC, right upper back.\n"
            "Site A: tumor 1.0 cm, excised with 5 mm margins.\nSite B: tumor 1.2 cm, excised with 4 mm margins.\n")  # fmt: skip
    fs = [f for f in nlp(text)._.frames if f.procedure == "excision"]
    assert [(f.block, f.sites[0].canonical) for f in fs] == [("A", "forearm"), ("B", "back")]


@pytest.mark.parametrize("text, labels", [
    ("Bx 01/20/26: (1) L breast - BCC; (2) R back - BCC.\n(1) L breast: plaque 0.9 cm. ED&C.\n(2) R back: 0.6 cm. ED&C.\n", {"1", "2"}),
    ("Lesion 1: R temple, 9 mm papule. Shave removal.\nLesions 2-3: low back, 2 SKs. LN2.\n", {"1", "2"}),
    ("Tissue 1, right upper back. Melanoma, wide excision.\n\nTissue 2, left parietal scalp. Shave biopsy.\n", {"1", "2"}),
    ("[X] Shave removal #1 - Site: right shoulder - Dx: SK\n[X] Tangential biopsy (saucerization) #2 - Site: left back\n"
     "[ ] Punch biopsy   [ ] Excision\nSuture #4-0 nylon", {"1", "2"}),
], ids=["a-dated-bx-is-no-label", "lesions-range-is-a-label", "tissue-n", "template-line-numbered-after-its-procedure"])  # fmt: skip
def test_frames_label_markers(text, labels):
    from dermcoder.nlp.frames import find_blocks

    assert {lab for _, lab in find_blocks(text)} == labels


def test_frames_paring_before_a_destruction_in_its_sentence_is_a_step_of_it(nlp):
    fs = frames(nlp, "Three painful plantar warts on the left sole. After paring, each was treated with liquid nitrogen, two freeze-thaw cycles.")
    assert [f.procedure for f in fs] == ["cryotherapy"]
    assert [m.canonical for m in fs[0].histology] == ["plantar_wart"]


def test_frames_an_ordinal_sentence_announces_the_next_lesion(nlp):
    fs = frames(nlp, "First, the left preauricular cheek: a 0.8 cm pink papule. I took 4 mm margins, excised it to fat and did a "
                     "layered closure of 3.5 cm.\n\nSecond, the right upper arm: a 1.0 cm firm cyst with a punctum. Excised with a 1 mm "
                     "margin; layered closure of 3.0 cm.")
    assert [f.sites[0].canonical for f in fs] == ["cheek", "upper_arm"]
    assert [[m.text for m in f.margins] for f in fs] == [["4 mm"], ["1 mm"]]


def test_frames_a_line_headed_by_a_new_site_is_the_next_lesion(nlp):
    text = ("Left arm spot: clinically dysplastic nevus, 6 mm, on the left upper arm. Excised with 3 mm margins, layered closure 2.8 cm.\n"
            "Back lump: right upper back, 1.0 cm. Excised with 2 mm margins, layered closure 3.6 cm.\n")
    fs = frames(nlp, text)
    assert [(f.procedure, f.sites[0].canonical, [m.text for m in f.sizes]) for f in fs] == [
        ("excision", "arm", ["6 mm", "2.8 cm"]), ("excision", "back", ["1.0 cm", "3.6 cm"])]


def test_frames_a_repair_length_corrected_in_an_addendum_joins_the_frame(nlp):
    text = ("Excision, left temple. Lesion 1.0 cm; margins 4 mm. Intermediate repair; length 4.8 cm.\n\n"
            "ADDENDUM 02/19/2025: Correction to the repair length above. The final sutured length was 5.6 cm, not 4.8 cm.\n\n"
            "PATHOLOGY 02/24/2025: Left temple, excision: squamous cell carcinoma in situ, margins clear.")
    (f,) = frames(nlp, text)
    assert [m.text for m in f.sizes if m.active and m.role == "repair_length"] == ["5.6 cm"]


def test_frames_a_nurse_log_labels_lesions_after_its_timestamps(nlp):
    text = ("DOS 03/18/2025\nIndications on file:\n A - sBCC R upper back (shave bx 02/25/25); clin size 1.0 cm\n"
            " B - SCCIS L dorsal hand (shave bx 02/25/25); clin size 0.5 cm\n10:15 Consent signed for ED&C x 2 sites.\n"
            "10:24 A: curettage + ED x3 cycles by prov. Final defect per prov 1.4 cm.\n10:35 B: same, x3 cycles. Final defect per prov 0.9 cm.\n")
    fs = sorted(nlp(text)._.frames, key=lambda f: f.block)
    assert [(f.block, f.procedure, [s.canonical for s in f.sites][:1], [m.text for m in f.sizes if m.role == "defect"]) for f in fs] == [
        ("A", "ed_c", ["back"], ["1.4 cm"]), ("B", "ed_c", ["hand"], ["0.9 cm"])]


def test_frames_a_nail_matrix_biopsy_by_tangential_shave_is_one_procedure(nlp):
    text = ("Nail bx.\nL thumbnail: longitudinal melanonychia 3 mm wide.\nProximal nail fold reflected. "
            "Nail matrix biopsy by tangential shave of the matrix origin of the band. Fold sutured with 5-0.")
    assert [f.procedure for f in nlp(text)._.frames] == ["nail_biopsy"]


def test_frames_a_procedure_opening_the_clause_after_a_new_lesion_is_that_lesions(nlp):
    text = ("Lesion one - on the left pretibial shin there is a 3.5 cm indurated plaque; I elected to do an incisional biopsy. "
            "Lesion two - on the right volar wrist there is a firm 6 mm dermal nodule, rule out dermatofibroma; "
            "a 4 mm punch biopsy was done and closed with a single suture.")
    fs = nlp(text)._.frames
    assert [(f.procedure, f.sites[0].canonical) for f in fs] == [("biopsy_incisional", "lower_leg"), ("biopsy_punch", "wrist")]


def test_frames_a_path_label_with_a_bracketed_note(nlp):
    text = ("Lesion A - right anterior thigh: firm brown papule, 5 mm. A 3 mm punch biopsy was taken, then the lesion was excised with 2 mm margins.\n"
            "Lesion B - left shoulder: pearly papule 6 mm, r/o BCC. Shave biopsy.\n\n"
            "PATH ADDENDUM:\nA (punch + excision): Dermatofibroma, completely excised.\nB: Basal cell carcinoma, nodular type.\n")
    fs = nlp(text)._.frames
    assert {(f.block, f.procedure): [m.canonical for m in f.path_histology] for f in fs}[("A", "excision")] == ["dermatofibroma"]


# A pathology label that is not the lesion's own: a container, a lab number, a specimen letter.
@pytest.mark.parametrize("text, expected", [
    pytest.param("Biopsies by shave technique:\n 1) left dorsal forearm, proximal: scaly pink papule 5 mm\n"
                 " 2) left dorsal forearm, near the wrist: scaly pink papule 7 mm\n 3) right upper lip: pearly papule 4 mm\n"
                 "Specimens 1 and 2 were placed together in container A; specimen 3 in container B.\n\n"
                 "PATHOLOGY (03/31/2025)\nA. Skin, left forearm: squamous cell carcinoma in situ.\n"
                 "B. Skin, right upper lip, shave biopsy: basal cell carcinoma, nodular.",
                 [("1", ["sccis"]), ("2", ["sccis"]), ("3", ["bcc"])], id="container letter holds numbered lesions"),
    pytest.param("(1) Left upper lip: electrodesiccation and curettage, three cycles. The curetted defect measured 1.2 cm.\n"
                 "(2) Right preauricular cheek: shave biopsy to the mid dermis. Specimen labeled A.\n\n"
                 "Addendum: Pathology, specimen A, skin, right preauricular: basal cell carcinoma, nodular type.",
                 [("1", []), ("2", ["bcc"])], id="specimen letter written under a numbered lesion"),
    pytest.param("Shave removals, 3 lesions.\na. L lower eyelid - 4 mm soft papule\nb. L cheek - 8 mm shiny pink papule\n"
                 "c. R upper arm - 1.2 cm stuck-on waxy papule\nShave removal ea., flush with skin.\n----\n"
                 "Path (lab #1-3 = a-c):\n#1 intradermal nevus\n#2 superficial BCC, lateral margin involved\n#3 irritated seborrheic keratosis\n",
                 [("A", ["nevus"]), ("B", ["bcc"]), ("C", ["isk"])], id="lab numbers for the note's letters"),
    pytest.param("Lesions, numbered in exam order:\n #1 R temple - pearly papule 8 mm -> shave biopsy\n"
                 " #2 L shoulder - scaly pink plaque 1.1 x 0.9 cm -> shave biopsy\n #3 mid back - dark brown papule 6 mm -> 4 mm punch biopsy\n\n"
                 "SURGICAL PATHOLOGY REPORT:\n(parts lettered A-C in order of receipt; match by site)\n"
                 "A. SKIN, MID BACK, PUNCH: SEBORRHEIC KERATOSIS.\nB. SKIN, RIGHT TEMPLE, SHAVE: BASAL CELL CARCINOMA, NODULAR.\n"
                 "C. SKIN, LEFT SHOULDER, SHAVE: SQUAMOUS CELL CARCINOMA IN SITU.\n",
                 [("1", ["bcc"]), ("2", ["sccis"]), ("3", ["sk"])], id="lettered parts naming other sites, by site"),
    pytest.param("Procedures today:\n1) AKs - LN2 2 cycles: scalp 9, forehead 4, dorsal hands 3 = 16.\n"
                 "2) Bx A: L nasolabial fold 5 mm pearly papule - shave bx.\n3) Bx B: infraclavicular chest, 1.0 x 0.8 cm scaly pink plaque - shave bx.\n"
                 "ADDENDUM (path): A - basal cell carcinoma, micronodular. B - SCC in situ.",
                 [("1", []), ("2", ["bcc"]), ("3", ["sccis"])], id="bx letters inside numbered items"),
    pytest.param("1. L lower leg, anterior: ulcerated nodule 2.5 cm. Wedge incisional bx from the edge.\n2. L forearm: firm papule 5 mm. 4 mm punch bx.\n"
                 "Ddx 1: SCC vs KA. Ddx 2: DF.\n\n== path back 4/2 ==\n1 (wedge, L leg): invasive SCC, mod diff\n2 (punch, L forearm): DF\n",
                 [("1", ["scc"]), ("2", ["dermatofibroma"])], id="numbered path label with a bracketed note"),
])
def test_frames_pathology_by_a_label_alias_goes_to_its_lesion(nlp, text, expected):
    fs = nlp(text)._.frames
    assert [(f.block, [m.canonical for m in f.path_histology]) for f in fs] == expected


def test_frames_a_procedure_done_to_it_takes_the_lesion_of_the_clause_before(nlp):
    text = ("I froze six actinic keratoses of the forehead with liquid nitrogen. The left temple papule was not frozen; "
            "I performed a shave biopsy of it under local anesthesia.")
    fs = frames(nlp, text)
    biopsy = next(f for f in fs if f.procedure == "biopsy_tangential")
    assert [s.canonical for s in biopsy.sites] == ["temple"] and biopsy.laterality[0].canonical == "left"


def test_frames_the_diagnosis_of_a_title_above_labeled_lesions_is_each_lesions(nlp):
    text = ("PROCEDURE: curettage and electrodesiccation\nDiagnosis (biopsy-proven 09/02/2025): superficial basal cell carcinoma x2\n"
            "Lesion 1\n  Site: right shoulder\n  Size: 0.8 cm\n  Technique: curettage and electrodesiccation, 3 cycles\n"
            "Lesion 2\n  Site: left calf\n  Size: 0.6 cm\n  Technique: curettage and electrodesiccation, 3 cycles\n")
    fs = frames(nlp, text)
    assert [(f.block, [h.canonical for h in f.histology]) for f in fs] == [("1", ["bcc"]), ("2", ["bcc"])]


@pytest.mark.parametrize("billing", [
    "Billing: established 99214-25 for the psoriasis, plus destruction of 5 AKs.",
    "BILLING SUMMARY (auto-generated from procedure template)\n17000   Destruction premalignant lesion, first lesion   x1\n"
    "17003   Destruction premalignant lesion, 2-14 lesions, each   x15",
], ids=["billing-line", "auto-generated-summary"])
def test_frames_a_billing_summary_adds_no_lesions(nlp, billing):
    text = "Two, actinic keratoses of the face. Cryotherapy with liquid nitrogen to five lesions, one cycle each.\n\n" + billing
    fs = frames(nlp, text)
    assert [m.value for f in fs for m in f.counts] == [5]


def test_frames_a_result_told_to_the_patient_is_not_another_lesions_pathology(nlp):
    text = ("A/P:\n (1) r/o BCC R temple - shave bx\n (2) SK vs melanoma, mid back - deep shave bx\n"
            "PATH 3/11/26:\n A. R temple, shave: basal cell carcinoma, nodular type.\n B. Mid back, shave: seborrheic keratosis, pigmented.\n"
            "Called pt 3/12: BCC -> appt for excision.")
    fs = frames(nlp, text)
    assert [[h.canonical for h in f.path_histology] for f in fs] == [["bcc"], ["sk"]]


def test_frames_a_removal_planned_by_number_takes_the_size_the_exam_wrote_at_its_site(nlp):
    text = ("S: Excimer session 4 for psoriasis. Also a rough spot on the right jawline.\n"
            "O: Plaques on the elbows, thinner. R jawline: 7 mm waxy stuck-on papule, inflamed base.\n"
            "A: 1. Plaque psoriasis.\n   2. Irritated seborrheic keratosis, R jawline.\n"
            "P: 1. Excimer laser to elbows, total treated area 120 sq cm.\n   2. Shaved today flush with skin after lidocaine, AlCl3.")
    (shave,) = [f for f in frames(nlp, text) if f.procedure == "shave_removal"]
    assert [m.text for m in shave.sizes] == ["7 mm"]



@pytest.mark.parametrize("text, first", [
    ("A: 1. Superficial BCC, R shoulder.\n   2. AKs, L hand.\nP: 1. ED&C today x3 cycles.\n   2. LN2 to two AKs.", "1"),
    ("A: 1. Neoplasm R cheek. 2. Neoplasm L arm. 3. AKs.\nP:\n 1. Shave bx R cheek.\n 2. Shave bx L arm.", "A"),
], ids=["numbered-after-a-soap-heading", "a-list-on-one-line-after-a-heading"])  # fmt: skip
def test_frames_a_soap_heading_before_a_numbered_item(text, first):
    from dermcoder.nlp.frames import find_blocks

    assert find_blocks(text)[0] == (0, first)


def test_frames_a_lesion_announced_as_an_aside_waits_for_its_procedure(nlp):
    text = ("Mohs micrographic surgery, left nasal ala, nodular BCC. Stage one, 3 blocks: clear.\n\n"
            "Separately: while waiting between stages she showed me a new crusted papule on the left dorsal hand, 7 mm. "
            "Clinically keratoacanthoma versus squamous cell carcinoma. I did a shave biopsy of that lesion for permanent sections.")
    (biopsy,) = [f for f in frames(nlp, text) if f.procedure == "biopsy_tangential"]
    assert [s.canonical for s in biopsy.sites] == ["hand"] and [m.text for m in biopsy.sizes] == ["7 mm"]


@pytest.mark.parametrize("text, n_frames", [
    ("L arm and R back atypical lesions - shave biopsies (deep saucerization), spec A and B.", 1),
    ("Punch bx (4 mm punch biopsy) of the left shin, sutured.", 1),
    ("Shave biopsy of the left arm; punch biopsy of the right back.", 2),
], ids=["technique-in-brackets", "punch-in-brackets", "two-biopsies"])  # fmt: skip
def test_frames_a_technique_named_again_in_brackets_is_the_same_procedure(nlp, text, n_frames):
    frames = nlp(text)._.frames
    assert len([f for f in frames if (f.procedure or "").startswith("biopsy")]) == n_frames


@pytest.mark.parametrize("path_line", ["Path 04/11/2025: A-C, scalp: trichilemmal (pilar) cysts, x 3.",
                                       "PATHOLOGY:\nA through C (scalp): trichilemmal (pilar) cysts."], ids=["after-lead-in", "at-line-start"])  # fmt: skip
def test_frames_a_range_of_specimen_labels_takes_one_result(nlp, path_line):
    text = ("MULTIPLE EXCISION NOTE - SCALP\nDx: multiple pilar cysts, scalp.\n\nPre-op measurements and closures:\n"
            " A  vertex             cyst 1.2 cm   margin 0.1 cm   excised diam 1.4 cm   closure: layered   length 2.0 cm\n"
            " B  L parietal scalp   cyst 0.8 cm   margin 0.1 cm   excised diam 1.0 cm   closure: simple (staples only)   length 1.5 cm\n"
            " C  occipital scalp    cyst 1.6 cm   margin 0.1 cm   excised diam 1.8 cm   closure: layered   length 2.5 cm\n\n"
            "Technique: each cyst removed intact through a small ellipse of overlying skin.\nSpecimens A, B, C separately labeled.\n\n"
            + path_line + "\n")  # fmt: skip
    frames = {f.label: f for f in nlp(text)._.frames}
    for label in "ABC":
        assert [m.canonical for m in frames[label].path_histology] == ["pilar_cyst"], label
