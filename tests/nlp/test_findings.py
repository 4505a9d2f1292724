"""Diagnoses, procedures and repair classes from the findings lexicon."""

import pytest

from tests.conftest import mentions

CASES = [
    ("HISTOLOGY", "nodular basal cell carcinoma", "bcc"),
    ("HISTOLOGY", "SCCIS", "sccis"),
    ("HISTOLOGY", "ED&C x2, bx-proven sBCCs", "bcc"),
    ("HISTOLOGY", "purulent drainage consistent with early paronychia", "paronychia"),
    ("HISTOLOGY", "squamous cell carcinoma in situ", "sccis"),
    ("HISTOLOGY", "melanoma in situ", "mis"),
    ("HISTOLOGY", "irritated seborrheic keratosis", "isk"),
    ("HISTOLOGY", "6 AKs", "ak"),
    ("HISTOLOGY", "verruca vulgaris", "common_wart"),
    ("HISTOLOGY", "plantar wart", "plantar_wart"),
    ("HISTOLOGY", "acrochordons", "skin_tag"),
    ("HISTOLOGY", "dysplastic nevus", "atypical_nevus"),
    ("HISTOLOGY", "epidermal inclusion cyst", "epidermoid_cyst"),
    ("HISTOLOGY", "septal panniculitis, consistent with erythema nodosum", "erythema_nodosum"),
    ("HISTOLOGY", "Lichen planopilaris", "lichen_planopilaris"),
    ("HISTOLOGY", "consistent with frontal fibrosing alopecia", "frontal_fibrosing_alopecia"),
    ("HISTOLOGY", "Patchy nonscarring hair loss L parietal", "nonscarring_hair_loss"),
    ("HISTOLOGY", "Morbilliform drug eruption due to amoxicillin", "drug_eruption"),
    ("HISTOLOGY", "lupus erythematosus panniculitis (lupus profundus)", "lupus_panniculitis"),
    ("HISTOLOGY", "annular plaques c/w SCLE", "subacute_cutaneous_lupus"),
    ("HISTOLOGY", "Juvenile dermatomyositis with myopathy - skin mildly active", "juvenile_dermatomyositis_myopathy"),
    ("HISTOLOGY", "amyopathic dermatomyositis", "dermatomyositis_amyopathic"),
    ("HISTOLOGY", "IgA deposits, dermatitis herpetiformis", "dermatitis_herpetiformis"),
    ("HISTOLOGY", "lichenoid drug eruption due to hydrochlorothiazide", "lichenoid_drug_eruption"),
    ("HISTOLOGY", "alopecia areata, ophiasis pattern", "alopecia_areata_ophiasis"),
    ("HISTOLOGY", "contact dermatitis to nickel (jeans snap)", "contact_dermatitis_metals"),
    ("HISTOLOGY", "Dermoid cyst, left lateral eyebrow", "dermoid_cyst"),
    ("HISTOLOGY", "Neurofibroma (S100-positive spindle cells)", "neurofibroma"),
    ("HISTOLOGY", "cutaneous sarcoidosis, lupus pernio type", "cutaneous_sarcoidosis"),
    ("HISTOLOGY", "Path: metastatic clear cell renal cell carcinoma, margins free", "cutaneous_metastasis"),
    ("HISTOLOGY", "fixed drug eruption", "fixed_drug_eruption"),
    ("HISTOLOGY", "primary focal hyperhidrosis, axillae", "hyperhidrosis"),
    ("PROCEDURE", "shave biopsy", "biopsy_tangential"),
    ("PROCEDURE", "punch bx", "biopsy_punch"),
    ("PROCEDURE", "wedge biopsy", "biopsy_incisional"),
    ("PROCEDURE", "shave removal", "shave_removal"),
    ("PROCEDURE", "pilar cyst enucleated thru 1 cm incision", "excision"),
    ("PROCEDURE", "minimal-incision enucleation", "excision"),
    ("PROCEDURE", "ED&C", "ed_c"),
    ("PROCEDURE", "LN2", "cryotherapy"),
    ("PROCEDURE", "Mohs micrographic surgery", "mohs"),
    ("PROCEDURE", "incision and drainage", "incision_drainage"),
    ("PROCEDURE", "biopsy-proven", "prior_biopsy"),
    ("PROCEDURE", "confirmed on punch biopsy", "prior_biopsy"),
    ("REPAIR", "intermediate layered closure", "intermediate"),
    ("REPAIR", "complex repair", "complex"),
    ("REPAIR", "4-0 nylon, interm repair 3.5 cm", "intermediate"),
    ("REPAIR", "bilobed flap", "flap"),
    ("REPAIR", "FTSG", "ftsg"),
    ("PROCEDURE", "I froze three actinic keratoses", "cryotherapy"),
    ("REPAIR", "I closed it in layers", "intermediate"),
    ("HISTOLOGY", "longitudinal melanonychia", "melanonychia"),
    ("HISTOLOGY", "Condyloma acuminatum", "anogenital_wart"),
    ("HISTOLOGY", "excision: irritated (inflamed) seborrheic keratosis, hyperkeratotic", "isk"),
    ("HISTOLOGY", "8 cm inflamed, crusted seborrheic keratosis; rubs on collar", "isk"),
    ("HISTOLOGY", "Part 2: seborrheic keratosis with inflammation", "isk"),
    ("HISTOLOGY", "Inflamed sebaceous cyst R upper back", "sebaceous_cyst"),
    ("HISTOLOGY", "posterior neck furuncle 1.2 cm", "furuncle"),
    ("HISTOLOGY", "Path: #1 discoid lupus erythematosus, PAS neg.", "discoid_lupus"),
    ("HISTOLOGY", "morphea (localized scleroderma), inflammatory stage", "morphea"),
    ("HISTOLOGY", "Current: left cheek, shave biopsy: solar lentigo.", "solar_lentigo"),
    ("PROCEDURE", "Incisional (wedge) biopsy across the active border", "biopsy_incisional"),
    ("HISTOLOGY", "condylomata acuminata", "anogenital_wart"),
]


@pytest.mark.parametrize("label,text,canonical", CASES, ids=[c[1] for c in CASES])
def test_findings_lexicon(nlp, label, text, canonical):
    found = [m.canonical for m in mentions(nlp, f"Today: {text}.") if m.label == label]
    assert canonical in found


def test_findings_frozen_sections_are_not_cryotherapy(nlp):
    assert not [m for m in mentions(nlp, "processed as horizontal frozen sections") if m.canonical == "cryotherapy"]


# (text, PROCEDURE entities a coder marks, procedure words kept only as support)
PROCEDURE_SPANS = [
    ("a 4 mm punch biopsy was done", ["punch biopsy"], []),
    ("- 4 mm punch, one 4-0 nylon suture", ["punch"], []),
    ("a full-thickness ellipse 1.0 x 0.4 cm was excised", ["excised"], ["ellipse"]),
    ("Dx: bx-proven SCC L volar forearm", [], ["bx"]),
    ("E/M: established patient, low MDM", [], ["E/M"]),
    ("Photosensitizer: aminolevulinic acid HCl 20%", [], ["aminolevulinic acid"]),
    ("Mohs surgeon (also interprets slides)", [], ["Mohs"]),
    ("shave biopsy of the left cheek", ["shave biopsy"], []),
    ("Skin tags neck: removed w/ sterile curved iris scissors, AlCl3", ["removed w/ sterile curved iris scissors"], []),
]


@pytest.mark.parametrize("text,entities,supporting", PROCEDURE_SPANS, ids=[c[0] for c in PROCEDURE_SPANS])
def test_procedure_entities_and_supporting_words(nlp, text, entities, supporting):
    procs = [m for m in mentions(nlp, text) if m.label == "PROCEDURE"]
    assert [text[m.start : m.end] for m in procs if m.role != "supporting"] == entities
    assert [text[m.start : m.end] for m in procs if m.role == "supporting"] == supporting


@pytest.mark.parametrize("text, label, canonical", [
    ("History of non-melanoma skin cancer.", "HISTOLOGY", "melanoma"),
    ("Mother had ductal carcinoma in situ of the breast.", "HISTOLOGY", "sccis"),
    ("Atypical keratinocytes confined to the basal cell layer.", "HISTOLOGY", "bcc"),
    ("Worried about hair growth on the chin.", "HISTOLOGY", "growth"),
    ("Path: lichen planus-like keratosis, benign.", "HISTOLOGY", "lichen_planus"),
    ("Takes vitamin C + D daily.", "PROCEDURE", "ed_c"),
    ("The skin will peel over the next week.", "PROCEDURE", "chemical_peel"),
    ("Old avulsion fracture of the finger.", "PROCEDURE", "nail_avulsion"),
    ("Lidocaine was injected into the surrounding skin.", "PROCEDURE", "intralesional"),
    ("Shave removal, hyfrecation for hemostasis.", "PROCEDURE", "destruction"),
    ("6 MM PUNCH used.", "HISTOLOGY", "melanoma"),
    ("Lentigo maligna, right cheek, staged excision.", "HISTOLOGY", "solar_lentigo"),
    ("Morpheaform BCC of the nose.", "HISTOLOGY", "morphea"),
    ("This was a simple I&D of a single furuncle.", "REPAIR", "simple"),
    ("Simple wart, L index finger, cryo x2 cycles.", "REPAIR", "simple"),
    ("10:18 Time-out. Sites confirmed against bx photos.", "PROCEDURE", "biopsy"),
    ("Shingles vaccine series completed last year.", "HISTOLOGY", "herpes_zoster"),
    ("A Burow's triangle was removed at the base and the flap rotated.", "PROCEDURE", "skin_tag_removal"),
    ("Complexity: [x] Simple/single   [ ] Complicated/multiple", "REPAIR", "simple"),
    ("3.0 cm stellate laceration with ragged edges and a small flap of devitalized skin.", "REPAIR", "flap"),
], ids=["non-melanoma", "ductal-cis", "basal-cell-layer", "hair-growth", "lplk", "vitamin-c-d", "will-peel",
        "avulsion-fracture", "lidocaine-injected", "hyfrecation-hemostasis", "mm-unit", "lentigo-maligna", "morpheaform",
        "simple-i-and-d", "simple-wart", "bx-photos", "shingles-vaccine", "burows-triangle", "i-and-d-simple-single",
        "flap-of-devitalized-skin"])  # fmt: skip
def test_findings_ordinary_words_are_no_finding(nlp, text, label, canonical):
    assert canonical not in [m.canonical for m in mentions(nlp, text) if m.label == label]


@pytest.mark.parametrize("text, canonical", [
    ("Dx: Bowen’s disease, R shin.", "sccis"),
    ("mycotic toenails x4", "onychomycosis"),
    ("tricholemmal cyst of the scalp", "trichilemmal_cyst"),
    ("Path: neoplasm of uncertain behavior.", "uncertain"),
    ("verrucae plantares, L sole", "plantar_wart"),
    ("multiple lobular capillary hemangiomas", "pyogenic_granuloma"),
    ("a precancer on the nose", "ak"),
    ("Part B - left shin, punch biopsy: hypertrophic lichen planus.", "lichen_planus_hypertrophic"),
    ("Left shin: lichen planus, hypertrophic type.", "lichen_planus_hypertrophic"),
    ("Impression telogen effluvium, most likely post-febrile.", "telogen_effluvium"),
    ("Assessment: acute allergic contact dermatitis due to poison ivy.", "contact_dermatitis_plants"),
    ("Assessment: allergic contact dermatitis, nickel suspected.", "contact_dermatitis_allergic"),
    ("Hands: irritant contact dermatitis from frequent washing.", "contact_dermatitis_irritant"),
    ("Tense bullae on the thighs; bullous pemphigoid confirmed on DIF.", "bullous_pemphigoid"),
    ("Scaling between the toes, tinea pedis.", "tinea_pedis"),
    ("Dermatomal vesicles: herpes zoster, T6.", "herpes_zoster"),
    ("Yellow umbilicated papules of the forehead, sebaceous hyperplasia.", "sebaceous_hyperplasia"),
    ("Melasma of the malar cheeks.", "melasma"),
    ("Postinflammatory hyperpigmentation after acne.", "postinflammatory_hyperpigmentation"),
    ("Comment: consistent with nummular dermatitis.", "nummular_dermatitis"),
], ids=["bowen-curly", "mycotic-toenails", "tricholemmal", "uncertain-behavior", "verrucae-plantares", "lch-plural", "precancer",
        "hypertrophic-lp", "lp-hypertrophic-type", "telogen-effluvium", "acd-poison-ivy", "acd", "icd-irritant", "bp", "tinea-pedis",
        "zoster", "sebaceous-hyperplasia", "melasma", "pih", "nummular"])  # fmt: skip
def test_findings_common_spellings(nlp, text, canonical):
    assert canonical in [m.canonical for m in mentions(nlp, text) if m.label == "HISTOLOGY"]


@pytest.mark.parametrize("text, label, canonical", [
    ("Pearly umbilicated papules consistent with mollusk um contagious um: 22 total.", "HISTOLOGY", "molluscum"),
    ("curette age of all twenty two lesions", "PROCEDURE", "destruction"),
    ("Moe's micro graphic surgery report.", "PROCEDURE", "mohs"),
    ("injection of the 3 key loids on the chest", "HISTOLOGY", "keloid"),
    ("Provider removed medial sliver of L nail plate; matrix left intact.", "PROCEDURE", "nail_avulsion"),
    ("Number one. In sision and drainage of the cyst.", "PROCEDURE", "incision_drainage"),
    ("Number two. Intra lesion all injection of the 3 keloids.", "PROCEDURE", "intralesional"),
    ("Nail bx. L thumbnail: longitudinal melanonychia 3 mm wide.", "PROCEDURE", "nail_biopsy"),
    ("nodular and infiltrative BCC in stage 1, deeper than the biopsy suggested", "PROCEDURE", "prior_biopsy"),
    ("Dx: BCC, left parietal scalp; outside biopsy report 06/03/2025.", "PROCEDURE", "prior_biopsy"),
], ids=["mollusk-um", "curette-age", "moes", "key-loids", "sliver-of-nail-plate", "in-sision", "intra-lesion-all", "nail-bx", "the-biopsy-suggested", "outside-biopsy-report"])
def test_findings_speech_recognition_and_log_wording(nlp, text, label, canonical):
    assert canonical in [m.canonical for m in mentions(nlp, text) if m.label == label]


@pytest.mark.parametrize("text, label, canonical", [
    ("ILC = intermediate layered closure in my notes.\n#1 excised to fat, ILC 4-0 Vicryl, 6.4 cm.", "REPAIR", "intermediate"),
    ("Complex layered closure (CLC) 5.2 cm. CLC of the second site 2.0 cm.", "REPAIR", "complex"),
    ("Shave removal (SHR) of the nevus; SHR of the other one too.", "PROCEDURE", "shave_removal"),
], ids=["abbr-equals-long-form", "long-form-then-abbr", "procedure-long-form-then-abbr"])
def test_an_abbreviation_the_note_defines_carries_its_long_form(nlp, text, label, canonical):
    """The author's own shorthand, defined once, names the same concept where it is used alone."""
    uses = [m for m in mentions(nlp, text) if m.label == label and m.canonical == canonical and m.text.isupper()]
    assert uses, [(m.label, m.text, m.canonical) for m in mentions(nlp, text)]


def test_a_mohs_center_name_is_the_service(nlp):
    (m,) = [m for m in mentions(nlp, "NORTHGATE MOHS & SKIN CANCER CENTER\nDELAYED REPAIR NOTE") if m.canonical == "mohs"]
    assert m.role == "service"


def test_a_graft_donor_ellipse_is_no_excision(nlp):
    text = "Donor site: right preauricular cheek. An ellipse 3.0 x 1.8 cm was harvested, defatted and trimmed to fit."
    (m,) = [m for m in mentions(nlp, text) if m.text == "ellipse"]
    assert m.role == "donor"


@pytest.mark.parametrize("text", ["Referred by Dr. Lindvall for Mohs evaluation of two cancers.", "E/M (items 1-2, Mohs planning for two cancers)."],
                         ids=["evaluation", "planning"])
def test_mohs_evaluation_and_planning_are_the_service(nlp, text):
    (m,) = [m for m in mentions(nlp, text) if m.canonical == "mohs"]
    assert m.role == "service"


def test_a_mohs_wait_list_is_the_service(nlp):
    (m,) = [m for m in mentions(nlp, "NOTE: Mohs wait-list ~10 wk at this facility; pt chose excision now.") if m.canonical == "mohs"]
    assert m.role == "service"


def test_a_mohs_practice_name_is_the_service_not_a_stage(nlp):
    text = "Referral placed today to Dr. Blackwood at Meridian Mohs Surgery (fictional), who will do the Mohs."
    roles = {m.text: m.role for m in mentions(nlp, text) if m.label == "PROCEDURE"}
    assert roles["Mohs Surgery"] == "service"
    assert roles["Mohs"] != "service"


@pytest.mark.parametrize("text, word, role", [
    ("Proc: punch excision - lesion 3 mm, margin 1 mm, 5 mm punch, into fat.", "punch", "tool"),
    ("Lesion 5 mm. 4 mm punch, sutured.", "punch", None),
], ids=["tool-of-a-punch-excision", "punch-biopsy-by-its-tool"])
def test_a_punch_tool_after_an_excision_opens_no_biopsy(nlp, text, word, role):
    (m,) = [m for m in mentions(nlp, text) if m.label == "PROCEDURE" and m.text == word]
    assert m.role == role


def test_a_base_snipped_is_a_step_not_a_tag_removal(nlp):
    text = "Punch excision into fat, base snipped. Six skin tags snipped at the neck."
    snips = [m for m in mentions(nlp, text) if m.canonical == "skin_tag_removal"]
    assert [m.text for m in snips] == ["snipped"] and snips[0].start > text.index("Six")


def test_a_healed_biopsy_crust_is_the_earlier_biopsy(nlp):
    text = "Left cheek shows a 1.3 x 1.0 cm pearly papule with telangiectatic vessels and a healed biopsy crust."
    assert [m.canonical for m in mentions(nlp, text) if m.label == "PROCEDURE"] == ["prior_biopsy"]


def test_hyfrecation_for_hemostasis_is_a_step_of_the_removal(nlp):
    text = "Lesions removed in entirety by shave removal; hemostasis w/ AlCl3 + light hyfrecation. Both to path."
    (m,) = [m for m in mentions(nlp, text) if m.canonical == "destruction"]
    assert m.role == "tool"


def test_a_residents_initials_are_no_keratoacanthoma(nlp):
    found = [m.canonical for m in mentions(nlp, "Keratin expressed, left open.\nKA PGY-2\nA: KA of the R forearm.") if m.label == "HISTOLOGY"]
    assert found == ["scc"]


@pytest.mark.parametrize("text", ["R forearm skin tear about 4 x 2 cm, flap viable.", "Skin tear: flap rolled back into place with Steri-Strips."],
                         ids=["flap-viable", "flap-rolled-back"])  # fmt: skip
def test_a_skin_tears_flap_is_no_tissue_transfer(nlp, text):
    assert not [m for m in mentions(nlp, text) if m.label == "REPAIR" and m.canonical == "flap"]


@pytest.mark.parametrize("text, abbreviation_read", [
    ("biopsy-proven vulvar LS (punch biopsy left labium minus, 08/2021). LS stable today.", False),
    ("ILC = intermediate layered closure in my notes.\nILC 4-0 Vicryl, 3.1 cm.", True),
], ids=["bracket-after-an-abbreviation", "definition"])  # fmt: skip
def test_an_abbreviation_is_defined_only_by_a_long_form_it_abbreviates(nlp, text, abbreviation_read):
    abbreviation = text.split()[0] if abbreviation_read else "LS"
    uses = [m for m in mentions(nlp, text) if m.text == abbreviation and m.label in ("PROCEDURE", "REPAIR")]
    assert bool(uses) == abbreviation_read
