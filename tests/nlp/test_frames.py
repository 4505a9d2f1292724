"""Frames: one per lesion/procedure, facts attached, pathology matched back, excised diameter arithmetic."""

from dermcoder.nlp.frames import build_frames, mentions_from_doc


def frames(nlp, text):
    doc = nlp(text)
    return build_frames(doc.text, mentions_from_doc(doc))


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
