"""Rule records are data: every record has a handler, ids are unique, each names its code-set year."""

import json

import pytest

from dermcoder.coding import rulebook
from dermcoder.errors import TableError


def test_rules_records_load_and_cover_handlers():
    rules = rulebook.load_rules()
    assert len({r.id for r in rules}) == len(rules)
    assert {r.handler for r in rules} == set(rulebook.HANDLERS)
    assert all(2019 <= r.code_set_year <= 2030 and r.description and r.reads for r in rules)


def test_rules_unknown_handler_is_reported(tmp_path, monkeypatch):
    import dermcoder.coding as pkg
    from importlib import resources

    src = resources.files(pkg) / "tables" / "rules.json"
    data = json.loads(src.read_text())
    data["rules"][0]["handler"] = "no_such_handler"
    fake = tmp_path / "coding" / "tables"
    fake.mkdir(parents=True)
    (fake / "rules.json").write_text(json.dumps(data))
    monkeypatch.setattr(rulebook.resources, "files", lambda _pkg: tmp_path / "coding")
    rulebook.load_rules.cache_clear()
    try:
        with pytest.raises(TableError, match="no handler named 'no_such_handler'"):
            rulebook.load_rules()
    finally:
        rulebook.load_rules.cache_clear()
        monkeypatch.undo()
        rulebook.load_rules()


def test_shave_without_a_diameter_is_coded_low_with_a_query(engine):
    s = engine.suggest("2. Upper back, papule that bleeds - shave removal, AlCl. Size not recorded.", "q1")
    (line,) = s.cpt
    assert line.code == "11300" and line.confidence < 0.9
    assert any(q.fact == "lesion_size" for q in s.queries)


def test_no_charge_visit_codes_nothing_and_says_why(engine):
    s = engine.suggest("Excision of a 1.0 cm SK of the left back with 0.2 cm margins done. No charge for today.", "q2")
    assert s.cpt == [] and s.icd10 == []
    assert any(w.code == "no_charge" for w in s.warnings)


@pytest.mark.parametrize("text, unsupported", [
    ("I am calling this complex, but the undermining was limited, about a third of the defect width. No retention sutures.", True),
    ("Complex repair: minimal undermining; the helical rim was involved and re-aligned.", False),
    ("Complex closure, limited undermining, cartilage was exposed at the base.", False),
    ("Complex closure with extensive undermining beyond the defect width.", False),
    ("Complex layered closure.", False),
    ("The defect width was 1.9 cm. The edges were undermined approximately 0.5 cm along both sides. Complex closure.", True),
    ("Undermined supraplatysmal ~4 cm both sides (> defect width). Complex closure.", False),
], ids=["limited-only", "free-margin", "exposed-cartilage", "extensive", "nothing-said", "distance-short-of-the-defect-width",
        "beyond-the-defect-width"])  # fmt: skip
def test_complex_needs_a_criterion_when_undermining_is_limited(text, unsupported):
    from dermcoder.coding.repairs import _complex_unsupported

    assert _complex_unsupported(text) == unsupported


def test_undermining_measured_against_the_excised_diameter():
    """ "undermining 0.5 cm along each edge" after a 1.3 cm lesion with 0.4 cm margins (2.1 cm wide): limited."""
    from dermcoder.coding.repairs import _complex_unsupported

    text = "Repair: undermining 0.5 cm along each edge in the subcutaneous plane. No bone, nerve or vessel exposed. Complex closure."
    assert _complex_unsupported(text, 2.1)
    assert not _complex_unsupported(text, 0.4)


@pytest.mark.parametrize("text, mg", [
    ("Triamcinolone 40 mg/mL. Left earlobe keloid: 0.3 mL (12 mg). Chest keloid: 0.5 mL (20 mg). Total 32 mg into two lesions.", 32),
    ("Triamcinolone 40 mg/mL. Earlobe 0.3 mL (12 mg); chest 0.5 mL (20 mg).", 32),
    ("Kenalog 10 mg/mL, 1.5 mL total.", 15),
    ("ILK 10 mg/mL, 0.8 mL = 8 mg", 8),
    ("Proc: ILK (TAC, clinic stock):\n - keloids 3: TAC 40 mg/mL, 0.5 mL total.\n - cysts 5: TAC 2.5 mg/mL (diluted), 0.1 mL ea.", 21.25),
    ("- chest nodules: Kenalog-40 (40 mg/mL), 0.25 mL each, 0.75 mL total = 30 mg\n- R earlobe: Kenalog-10 (10 mg/mL), 0.3 mL = 3 mg\n"
     "Total triamcinolone 33 mg into four keloids.", 33),
    ("Triamcinolone (Kenalog-10, 10 mg/mL, clinic supply) 1.0 mL into each nodule = 2.0 mL / 20 mg.", 20),
    ("ILK to 3 scalp DLE plaques: Kenalog-10 diluted 1:1 with NS = 5 mg/mL (clinic stock); 1.2 mL + 1.0 mL + 0.8 mL = 3.0 mL total (15 mg).", 15),
], ids=["stated-total-wins", "per-site-doses-add", "volume-total", "equals", "two-strengths-volume-each", "the-last-total-wins",
        "equals-volume-and-dose", "strength-is-no-dose-total-in-brackets"])  # fmt: skip
def test_triamcinolone_dose(text, mg):
    from dermcoder.coding.sessions import _triamcinolone_mg

    assert _triamcinolone_mg(text) == pytest.approx(mg)


@pytest.mark.parametrize("text, level", [
    ("MDM: [ ] Straightforward [ ] Low [x] Moderate (chronic illness with exacerbation).", "Moderate"),
    ("MDM: [ ] Straightforward [ ] Low [ ] Moderate", None),
    ("Low complexity MDM.", "Low"),
    ("MDM moderate: new problem with workup.", "moderate"),
    ("MDM for problem 1: moderate (chronic illness with exacerbation). Level 99204.", "moderate"),
], ids=["ticked-box", "no-box-ticked", "words-before", "words-after", "problem-number"])  # fmt: skip
def test_decision_level_reads_the_ticked_box(text, level):
    from dermcoder.coding.sessions import _decision_level

    assert _decision_level(text)[1] == level


@pytest.mark.parametrize("key, site, side, code", [
    ("l02_abscess", "neck", None, "L02.11"),
    ("l02_furuncle", "neck", None, "L02.12"),
    ("l02_furuncle", "axilla", "right", "L02.421"),
    ("l02_carbuncle", "back", None, "L02.232"),
    ("l02_carbuncle", "flank", None, "L02.232"),
    ("l03_paronychia", "toe", "left", "L03.032"),
    ("l03_paronychia", "finger", "right", "L03.011"),
], ids=["abscess-neck", "furuncle-neck", "furuncle-right-axilla", "carbuncle-back", "carbuncle-flank-is-back", "paronychia-left-toe",
        "paronychia-right-finger"])  # fmt: skip
def test_furuncle_and_carbuncle_have_their_own_codes(key, site, side, code):
    from dermcoder.coding.icd_map import icd_code

    assert icd_code(key, site, side) == code


def test_a_furuncle_drained_is_coded_as_a_furuncle(engine):
    s = engine.suggest("Exam: posterior neck furuncle 1.2 cm, pointing. Procedure: simple incision and drainage of furuncle, pus expressed.", "q4")
    assert [c.code for c in s.icd10] == ["L02.12"]


# A code the note supports, beside the one a misreading would give:
# (id, note, "cpt" or "icd10", present, absent).
PRESENT_ABSENT = [
    # the procedure's own sentence names the lesion it treated, over a diagnosis on a findings
    # line grouped into the same frame ("clinically AK" above "cryodestruction of warts")
    ("warts-under-a-findings-ak",
     "Findings:\n- R antihelix: 5 mm keratotic pink papule, clinically AK; not indurated.\n\n"
     "Procedure 1: cryodestruction of warts - all 16 pared then frozen with LN2 x 2 cycles.\n"
     "Procedure 2: LN2 to the AK R antihelix x 1, single 6-sec cycle.",
     "cpt", {"17111", "17000"}, {"17004"}),
    ("nodules-injected-beside-a-drained-abscess",
     "Exam: R axilla - 2.0 cm fluctuant tender abscess. L axilla - 2 inflamed nodules, not fluctuant.\n"
     "Procedure 1: I&D R axilla abscess, stab incision, no loculations, no packing needed.\n"
     "Procedure 2: intralesional kenalog 10 mg/mL into the 2 L axillary nodules, 0.5 mL each (1.0 mL total).",
     "cpt", {"10060"}, {"10061"}),
    ("drainage-the-attending-calls-simple",
     "Exam: posterior neck furuncle 1.2 cm, pointing.\n"
     "Procedure: complicated incision and drainage of furuncle. Pus expressed, dressing.\n"
     "ATTENDING ATTESTATION: this was a simple I&D - one stab incision, no loculations, no packing. "
     'The word "complicated" in the resident\'s note is incorrect.',
     "cpt", {"10060"}, {"10061"}),
    ("addendum-only-one-stage-was-taken",
     "Dx: BCC, R dorsal forearm, bx 06/10. Pre-op 1.0 x 0.8 cm.\nProcedure: Mohs micrographic surgery\n"
     "  Stage 1: 4 blocks - margins clear\n  Stage 2: 2 blocks\nDefect: 1.3 x 1.0 cm\n\n"
     "ADDENDUM: the Stage 2 line above was carried forward from the template in error. Only one stage was taken today.",
     "cpt", {"17313"}, {"17314"}),
    # a relative's melanoma is not the patient's history; the assessment can make it a reason for the visit
    ("relatives-melanoma-addressed-in-the-assessment",
     "New patient. Mother had melanoma at 58. 5 mm pearly papule L cheek.\nA/P:\n1. Pearly papule L cheek, r/o BCC - shave biopsy today.\n"
     "2. Family history of melanoma (mother) - yearly full skin exam.\nE/M: new patient, MDM moderate, separate from the biopsy.",
     "icd10", {"Z80.8"}, {"Z85.820", "Z08"}),
    ("relatives-melanoma-in-the-history-field-only",
     "Est pt, annual skin check. Family history of melanoma in her father; no personal history.\nExam: no suspicious lesions.\nE/M: est, MDM low.",
     "icd10", set(), {"Z80.8", "Z85.820"}),
    # the assessment restating the treated count names the same lesions, not nine more
    ("a-count-the-assessment-restates",
     "Exam: gritty scaly papules c/w AKs: scalp 4, L temple 2, R dorsal hand 3.\nProc: LN2 to 9 AKs as above, 2 FTC ea. Tol well.\n"
     "A/P: AKs x9 - LN2 done. RTC 6 mo.",
     "cpt", {"17000", "17003"}, {"17004"}),
    # "cosmetic, not medically necessary" calls the removal cosmetic; it does not deny it
    ("cosmetic-not-medically-necessary",
     "Wants mole L cheek removed before senior pictures. Exam: 4 mm benign intradermal nevus.\nDiscussed that removal is cosmetic, "
     "not medically necessary; insurance will not be billed.\nShave removal flush w/ DermaBlade after 0.5 mL 1% lido w/ epi.",
     "cpt", set(), {"11310"}),
    # the closure of a cosmetic scar revision is part of the cosmetic service
    ("closure-of-a-cosmetic-revision",
     "Two separate services today: (1) cosmetic scar revision, self-pay; (2) keloid injection, billed to insurance.\n\n"
     "1) Scar revision, left cheek - COSMETIC\nWidened scar 2.8 x 0.5 cm. Fusiform excision of the scar; layered closure 5-0 Monocryl, length 3.4 cm.\n\n"
     "2) Keloid, right upper arm\n1.4 x 1.0 cm. Intralesional injection of this 1 lesion with triamcinolone 40 mg/mL, 0.3 mL, clinic stock.",
     "cpt", {"11900"}, {"12052", "11442"}),
    # a wart pared to take its callus down before freezing: the paring is part of the destruction
    ("wart-paring-before-freezing",
     "On exam: common warts R index finger x3, and two plantar warts L forefoot, larger 7 mm. The plantar warts were pared "
     "with a 15 blade first to take down the callus. Then all 5 warts were treated with liquid nitrogen, 2 FTC each.",
     "cpt", {"17110"}, {"11055", "11056", "11057"}),
    # "eyelid tags not tx, ... cosmetic" speaks of tags left alone, not of the tags removed
    ("cosmetic-said-of-the-untreated-tags",
     "S: skin tags neck + axillae catch on necklace, several bleed.\nO: acrochordons, several inflamed: neck 11, R axilla 5, L axilla 3.\n"
     "P:\n- snip excision w/ iris scissors, all 19 symptomatic tags, AlCl3.\n- eyelid tags not tx, pt aware removal would be cosmetic.",
     "cpt", {"11200", "11201"}, {"17110"}),
    # a matrixectomy of one great toe does not include the avulsion of the other
    ("avulsion-of-the-other-toe",
     "Recurrent ingrown toenail of the left great toe, lateral border. He now also has an early ingrown nail of the right great toe, medial border.\n"
     "Procedure: consent, digital blocks to each toe. Left great toe: the lateral one fifth of the nail plate was freed and removed, "
     "then chemical matrixectomy with 88% phenol, three 30 second applications. Right great toe: partial nail avulsion of the medial "
     "border only, no matrixectomy since this is the first episode. Bulky dressings.",
     "cpt", {"11750", "11730"}, set()),
    # a count equal to the breakdown written above it is that breakdown's total, not five more
    ("injected-total-after-its-breakdown",
     "EXAM\n  Acne cysts: chin 2; right jawline 2; left cheek 1\n\nPROCEDURE: Intralesional injection\n"
     "  Drug: triamcinolone acetonide 10 mg/mL, diluted to 2.5 mg/mL\n  Volume: 0.1 mL per lesion x 5 lesions = 0.5 mL = 1.25 mg total",
     "cpt", {"11900"}, {"11901"}),
    # an AK cryotherapy that took in the exam line of another lesion does not keep its size
    # from that lesion's shave removal (AK destruction is coded by count, not size)
    ("exam-size-the-ak-session-does-not-read",
     "He is here for his actinic keratoses and a spot on his left lower cheek that his razor keeps catching.\n"
     "Exam: actinic keratoses on the forehead seven, scalp six, right ear two, nose two. Left lower cheek: point eight by point six "
     "centimeter stuck-on waxy papule, crusted and inflamed at the base, consistent with an irritated seborrheic keratosis. "
     "Both hands show fissured plaques on the fingertips consistent with chronic hand eczema.\n"
     "Procedures: cryotherapy to all seventeen actinic keratoses listed, one freeze thaw cycle each. Then shave removal of the "
     "cheek lesion, flush with the skin, entire lesion removed, aluminum chloride, sent to pathology.",
     "cpt", {"11311", "17004"}, {"11310"}),
    # a delayed repair of a Mohs defect: the Mohs was another day's
    ("delayed-repair-of-a-mohs-defect",
     "PROCEDURE NOTE  DOS 10/07/2025\nDelayed repair of Mohs defect, nasal tip (BCC cleared 10/06 in 3 stages). No further Mohs stages today.\n"
     "Defect today 1.9 x 1.7 cm. FTSG from R preauricular skin, defatted, bolster.\nRecipient area 3.2 sq cm.",
     "cpt", {"15260"}, {"17311", "17312"}),
    # a Mohs log's label column ("A  L temple ...") keeps three tumours apart
    ("mohs-log-label-column",
     "MOHS LOG  DOS 10/02/2025\nTumors today: 3.\n\nA  L temple  nodular BCC  pre-op 0.8 cm\n   Stage I   3   + block 2\n   Stage II  2   clear\n"
     "   Intermediate layered closure 3.2 cm.\n\nB  R dorsal forearm  SCC in situ  pre-op 0.9 cm\n   Stage I   2   clear\n"
     "   Intermediate layered closure 2.4 cm.\n\nC  L upper back  superficial BCC  pre-op 2.2 cm\n   Stage I   6   + blocks 1, 5\n"
     "   Stage II  1   clear\n   Intermediate layered closure 5.0 cm.",
     "cpt", {"17311", "17312", "17313", "17314", "17315", "12052", "12032"}, set()),
    # the attestation's corrected total wins over the scribe's count
    ("a-corrected-total-in-the-attestation",
     "PROCEDURE(S) PERFORMED:\nProcedure: Destruction of premalignant lesions by cryotherapy (liquid nitrogen)\n"
     "Lesions treated: vertex 4, frontal scalp 2, forehead 4, right cheek 2\nNumber of lesions: 12\nFreeze-thaw cycles: 2 per lesion\n\n"
     "PROVIDER ATTESTATION WITH CORRECTION: I also froze four actinic keratoses on the left dorsal forearm, which were not "
     "captured in the procedure block. Total lesions treated today: 16.",
     "cpt", {"17004"}, {"17000", "17003"}),
    # a numbered assessment item and the lettered procedure line for the same biopsy are one lesion
    ("assessment-item-and-procedure-line-one-biopsy",
     "ASSESSMENT AND PLAN:\n1. Annular plaques, right shin: granuloma annulare vs tinea. Punch biopsy today.\n"
     "2. Papule, left cheek, rule out basal cell carcinoma. Shave biopsy today.\n\nPROCEDURE(S) PERFORMED:\n"
     "A. Punch biopsy, right anterior shin, active border: full-thickness sample, closed with two 4-0 nylon sutures.\n"
     "B. Shave biopsy, left malar cheek: taken to the mid dermis; hemostasis with aluminum chloride.",
     "cpt", {"11104", "11103"}, {"11105"}),
    # a decision-making level written after a long "for the rosacea, documented separately ..." phrase
    ("mdm-level-after-a-long-phrase",
     "Established patient. Rosacea flaring: start doxycycline 40 mg daily. Changing mole L shoulder: shave biopsy performed today, "
     "AlCl3, to path.\nE/M: Established patient. Medical decision making for the rosacea, documented separately from the biopsy "
     "decision: moderate (chronic illness with exacerbation; prescription drug management).",
     "cpt", {"99214", "11102"}, set()),
    ("no-personal-history-of-skin-cancer",
     "Est pt, annual skin check. Patient has no personal history of skin cancer.\nExam: no suspicious lesions.\nE/M: est, MDM low.",
     "icd10", set(), {"Z85.828", "Z85.820", "Z08"}),
    # "the Mohs unit's first opening" names the service, not a Mohs done today: the excision is
    ("the-mohs-unit-is-no-mohs",
     "Date of service: 03/06/2026.\n\nIndication: well-differentiated squamous cell carcinoma of the left parietal scalp, proven on "
     "shave biopsy 02/18/2026. At his last visit I recommended Mohs surgery; the Mohs unit's first opening is in seven weeks and, "
     "having had a fast-growing SCC on the neck in 2023, he declined to wait and asked for excision here.\n\n"
     "Procedure: the tumor measured 1.8 x 1.5 cm. A margin of 6 mm was marked around the clinical edge. The lesion was excised "
     "through the galea. Both sides were undermined for 3.5 cm along the full length of each wound edge, more than the width of "
     "the defect: complex repair, final length 7.2 cm.\n\nPlan: staples out in 10 days. Mohs declined.",
     "cpt", {"11623", "13121"}, {"17311"}),
    # a visit with no procedure and no "follow-up"/"consult" word, coded by the total time it documents
    ("em-by-total-time-alone",
     "Pt: I. M-F (fictional), 85 F, established    DOS 10/08/2025\nItchy coin-shaped plaques on both shins: nummular dermatitis. "
     "Triamcinolone 0.1% ointment bid with wet wraps, Rx sent. Total time on the date of service 34 minutes including review of "
     "her PCP's notes, exam, counseling and documentation.\n\nAssessment:\n1. Nummular dermatitis, bilateral lower legs, flaring.",
     "cpt", {"99214"}, set()),
    # "77 F, est" at a line end is an established patient; xerosis the visit manages is coded
    ("est-at-a-line-end-and-xerosis",
     "Pt: H. A-S (fictional), 77 F, est\n\nPrurigo nodularis of the arms and legs, here for ILK #3. New: dry itchy skin all over, "
     "fine crackle pattern on the shins = xerosis cutis; thick cream bid, ammonium lactate 12% lotion (Rx). MDM low for the xerosis, "
     "separate from the injections.\n\nPROCEDURE LOG\nILK, Kenalog-10 (10 mg/mL, clinic stock), 0.1 mL per nodule:\n- R forearm 3\n"
     "- L forearm 2\n- R thigh 2\n- L shin 2\nTotal 0.9 mL = 9 mg into 9 nodules.",
     "cpt", {"99213", "11901"}, set()),
    # "RN assisted" in brackets after the physician who applied the drug does not make it staff-applied
    ("pdt-applied-by-the-physician-rn-assisting",
     "Indication: multiple actinic keratoses of the face; field therapy.\nPre-treatment curettage/debridement: none (lesions thin).\n"
     "Photosensitizer: ALA HCl 20% topical solution (Levulan Kerastick) x 1 stick, clinic supply.\n"
     "Applied by: Dr. Okonjo-Barrett personally (RN assisted with positioning only).\nIncubation: 60 min.\n"
     "Illumination: blue light 10 J/cm2, 16 min 40 s - set up, started and monitored by Dr. Okonjo-Barrett.",
     "cpt", {"96573", "J7308"}, {"96567", "96574"}),
    # a cosmetic request the patient "decided against" ("None were treated") takes no treated lesion out
    ("cosmetic-request-decided-against",
     "Today I counted and treated eight actinic keratoses on the scalp and six on the forehead, all with liquid nitrogen. Then four "
     "common warts on the left index finger, pared and frozen with liquid nitrogen, two cycles.\n\nShe also asked about the "
     "seborrheic keratoses on her back; removal would be cosmetic and self-pay, and after hearing the cost she decided against it. "
     "None were treated.",
     "cpt", {"17000", "17003", "17110"}, set()),
    # numbered problems and a lettered procedure log name the same two biopsies; "est (daughter drove)"
    ("problems-and-a-procedure-log",
     "Pt: B. Q-A (fictional), 88 M, est (daughter drove)\n\n1) Itchy rash x 6 wk: tense blisters on the thighs. R/o bullous "
     "pemphigoid. Punch biopsy from the edge of a plaque on the left flank for H&E. A second punch for DIF offered, he declined.\n"
     "2) Crusted nodule R helix x 3 mo, 6 mm. R/o SCC vs chondrodermatitis. Shave biopsy.\n3) Greasy scale in the eyebrows = "
     "seborrheic dermatitis; restart ketoconazole 2% cream bid (Rx). MDM low for #3, separate from the biopsies.\n\n"
     "PROCEDURE LOG\nA. Punch bx L flank, 1 suture.\nB. Shave bx R helix, AlCl.",
     "cpt", {"11104", "11103", "99213"}, {"11105"}),
    # cosmetic work kept in an aesthetic block takes out its own lesions only; the impression's
    # "face and neck, cosmetic" restates it
    ("aesthetic-block-and-a-restating-impression",
     "Mr. Osei-Lindqvist comes in because several of his seborrheic keratoses have become irritated, the ones along his belt line and under the chest strap of his heart-rate monitor. They itch, he scratches them until they bleed, and a couple were crusted today. On exam there are nine inflamed, crusted seborrheic keratoses: four on the lower back at the belt line, three on the left flank, and two on the central chest under the monitor strap. He also has eight flat, non-irritated seborrheic keratoses on the forehead and neck that he simply does not like the look of; none of those itch or bleed.\n\nAfter verbal consent I treated the nine irritated lesions with liquid nitrogen, two freeze-thaw cycles each.\n\nAesthetic services, self-pay: at his request the eight asymptomatic forehead and neck keratoses were also treated with cryotherapy, a single light freeze. He understands this part is cosmetic, signed the waiver and paid the aesthetic fee at the front desk; it is not billed to his insurance.\n\nImpression: irritated seborrheic keratoses, trunk, treated. Seborrheic keratoses, face and neck, cosmetic. Follow up as needed. No other problems were addressed.",
     "cpt", {"17110"}, {"17111"}),
    # a cosmetic service of another encounter covers nothing here
    ("cosmetic-encounter-earlier-this-morning",
     "The firm papule on the left anterior shin that she cuts every time she shaves, present two years and now bleeding every week, is clinically a dermatofibroma with a positive dimple sign, 9 mm. She wants it out. After consent and lidocaine with epinephrine, an excision with 2 mm margins was carried to fat along a 3.6 cm ellipse. Closed with interrupted 4-0 nylon, one layer, no deep sutures. Specimen to pathology.\n\nEarlier this morning she had sclerotherapy of spider veins on the bilateral thighs in the Atrium; that was a cosmetic self-pay encounter, separate, and not billed.\n\nPathology March 27: dermatofibroma (benign fibrous histiocytoma), completely excised.",
     "cpt", {"11402"}, set()),
    ("self-pay-filler-two-weeks-ago",
     "Pt: Juniper Halloran-Eze (fictional) 27F. Prev tx: tret 0.05% x 3 mo, minimal response. Had lip filler @ Atrium 2 wk ago (self-pay) - no issues.\nO: flat-topped skin-colored papules c/w flat warts: forehead 7, L cheek 4, R dorsal hand 4, L dorsal hand 3. Perioral/lip area clear.\nProc: LN2 light, 1 FTC, to all 18 flat warts. Verbal consent.\nA: verruca plana x 18 - cryo today.\nP: cont tret qhs to face. RTC 4 wk. If persists -> candida antigen IL.",
     "cpt", {"17111"}, set()),
    # a packing check inside the I&D's global period: "no charge"
    ("post-procedure-visit-within-the-global",
     "S: 2 days after I&D of abscess left medial thigh (04/21/2026, this clinic, complicated, iodoform packing). Pain much better, taking TMP-SMX, no fever. No other concerns.\nO: Left medial thigh: 2.5 cm incision, packing in place, scant serosanguinous drainage. Induration much smaller, no spreading erythema, no cellulitis, no fluctuance.\nP: packing removed; cavity shallow, clean base; small 1/4\" wick placed. Culture: MSSA, sensitive to TMP-SMX - continue to finish 7 days. Home wick removal in 24 h, then daily showers and dry gauze.\nA: abscess left thigh, s/p I&D - improving.\nBilling: post-procedure visit within the 10-day global of 04/21 I&D - no charge.",
     "cpt", set(), {"10060", "10061", "99213"}),
    # "36F est." is an established patient; an E/M-only visit by its decision making
    ("36f-est-at-a-line-end",
     "Pt: Lucinda Abernathy-Okoro (fictional) 36F est.\nS: dusky round spot L dorsal hand again, burning, started 1 day after naproxen for cramps. Same spot did this 11/2025 after Aleve, faded brown.\nO: L dorsal hand 25 mm round violaceous dusky plaque, central dusky bulla forming, residual brown hyperpigmentation at rim. No other lesions. Lips, mouth, genitals clear.\nA: fixed drug eruption L hand, naproxen - recurrent.\nP: stop naproxen; add NSAIDs (propionic acids) to allergy list; acetaminophen for cramps; clobetasol 0.05% oint BID x 7d. Punch biopsy offered to confirm - declined (classic hx, pt prefers not).\nMDM low.",
     "cpt", {"99213"}, set()),
    # "uncomplicated" (of the illness in problem 2) makes no I&D complicated
    ("uncomplicated-is-not-complicated",
     "Patient: Everardo Sundqvist-Ibe (fictional)   50 M   Established\n\nTwo problems today.\n\nPROBLEM 1 - \"boil\" on the back\n  Right lower back, paraspinal: 1.5 x 1.2 cm fluctuant abscess, pointing, minimal surrounding erythema, no cellulitis. Afebrile.\n  PROCEDURE: Incision and drainage, simple. 1% lido w/ epi 2 mL; single stab incision #11 blade; ~2 mL pus; probed, no loculations; no packing. Gauze dressing. No culture (small, uncomplicated). No antibiotic.\n\nPROBLEM 2 - itchy rash arms and face x 3 days, after clearing brush at his lake lot on Saturday\n  Linear streaks of vesicles and edematous papules bilateral forearms, patchy edematous erythema right cheek and periorbital skin, eyes themselves not involved. Intense itch, sleep disrupted.\n  Assessment: allergic contact dermatitis, poison ivy.\n  Plan: prednisone 40 mg daily x 5 days then taper over 10 days (15-day course, avoids rebound); triamcinolone 0.1% cream BID to arms, hydrocortisone 2.5% to face; wash gear and gloves; avoidance counseling.\n  MDM (problem 2): low - acute uncomplicated illness, prescription drug management.\n\nReturn prn; wound check not needed unless redness spreads.",
     "cpt", {"10060", "99213"}, {"10061"}),
    # an auto-populated charge list and an MDM copied from another visit are not this visit's E/M
    ("auto-charges-and-a-copied-mdm",
     "Pt: Kazimierz Oduya-Pellegrini (fictional), 24 M, est\n\nCHARGES (auto-populated from visit template - review before signing):\n  99214-25  Office visit est, moderate\n  10061     I&D, complicated\n\nS: Painful swelling L inner thigh x 5 d, started as a \"pimple\", now the size of a golf ball. No fever. No prior boils. No HS features.\n** copied from 02/18/2026 visit **\nAcne: doing well on doxycycline + adapalene, mild comedones forehead. MDM: moderate (chronic illness, Rx management). Plan: continue regimen, RTC 3 mo.\n** end copy **\nO: L medial thigh 4.5 x 4.0 cm fluctuant tender abscess, erythema confined to the dome, no cellulitis beyond. Inguinal nodes not enlarged.\nPROC: I&D complicated. Consent. Field block 1% lido w/ epi 8 mL. 2.5 cm incision. ~15 mL purulent material. Several loculations broken w/ hemostat, cavity irrigated w/ 100 mL NS, packed w/ 1/2\" iodoform gauze. Cx sent.\nA: abscess L thigh, loculated.\nP: TMP-SMX DS BID x 7 d. RN packing check/removal 48 h. Acne - no change, not discussed today.",
     "cpt", {"10061"}, {"99214", "99213"}),
    # "split and avulsed" in the next sentence goes on about the same nail
    ("one-avulsion-told-in-two-sentences",
     "Reason for visit: (1) painful right ring finger x 4 days; (2) \"my ingrown toenail is back\".\n\nFINDINGS\n1. Right ring finger: acute paronychia of the radial nail fold with a pointing collection. Pulp soft.\n2. Left great toe: ingrown nail, lateral nail fold, with hypertrophic fold and mild granulation; no pus, no paronychia, no cellulitis. Partial avulsion of this border by podiatry 08/2024, recurred.\n\nPROCEDURES (verbal consent for each)\n#1 Incision and drainage of paronychia, right ring finger\n   Digital block 1% lidocaine plain 3 mL. Radial nail fold elevated off the plate with #11 blade; ~1 mL pus drained. No loculations. No packing. Nail plate left in place.\n#2 Partial nail avulsion, left great toe, lateral border\n   Digital block 1% lidocaine plain 4 mL, tourniquet 6 min. Narrow lateral strip of nail plate freed with elevator, split and avulsed. Phenol matrixectomy offered for a permanent result - patient declined (\"not while I'm training for the half marathon\"). Matrix left intact.\n\nDressings, soak instructions. Return for matrixectomy if it recurs again.",
     "cpt", {"10060", "11730"}, {"11732"}),
    # a matrixectomy on the right and the same on the left: two nails
    ("matrixectomy-on-each-side",
     "She has two ingrown toenails, the right great toe lateral border and the left great toe medial border. She has had simple avulsions of both borders before, in 2023 and again in 2025, and they came back each time, so today she wants them fixed permanently. On exam both folds are tender with the nail spicule buried in the fold; there is no drainage, no pus, no paronychia and no cellulitis. Not diabetic, pulses normal.\n\nAfter consent, digital blocks of both great toes with 1% plain lidocaine, 3 mL each, and a finger-glove tourniquet. On the right, a narrow lateral strip of the nail plate was freed, split and avulsed, then 88% phenol was applied to the lateral matrix horn for three 30-second applications and flushed with alcohol - phenol matrixectomy. On the left, the same thing on the medial border: a narrow medial strip of plate avulsed and phenol matrixectomy of the medial matrix horn, three 30-second applications. Tourniquets off, good refill. Silvadene and bulky dressings.\n\nImpression: recurrent ingrown toenails, bilateral great toes, treated with partial nail avulsion and chemical matrixectomy on both sides.\nPlan: soaks twice daily, expect drainage for 2-3 weeks, recheck in 2 weeks.",
     "cpt", {"11750"}, {"11730"}),
    # "biopsy today" in the assessment and "Shave biopsy, right upper back" below: one biopsy
    ("generic-biopsy-and-its-described-technique",
     "Chief complaint: spot on the back that bleeds when she towels off; also wants two \"age spots\" taken off her face.\n\nExam (focused): right upper back: 8 mm pink pearly papule with arborizing vessels and a central crust. Left cheek and right temple: stuck-on tan waxy papules, 5 mm and 6 mm, consistent with seborrheic keratoses; not inflamed, not bleeding, no itch.\n\nAssessment:\n1. Lesion of right upper back, r/o basal cell carcinoma - biopsy today.\n2. Seborrheic keratoses, face, asymptomatic - removal requested for appearance only (cosmetic).\n\nProcedure (medical): Shave biopsy, right upper back. Consent, time-out. 1% lidocaine with epinephrine 1 mL. Tangential sample to mid dermis with a flexible blade; aluminum chloride hemostasis. Specimen A to dermatopathology.\n\nAesthetic services (self-pay):\n- Shave removal x 2, left cheek and right temple seborrheic keratoses. Cosmetic consent and self-pay waiver signed; paid at checkout per the aesthetic fee schedule; not submitted to insurance. Specimens not sent.",
     "cpt", {"11102"}, {"11103", "11310", "11311"}),
    # "A) Biopsies" heads a table of the biopsies; it is no biopsy of its own
    ("a-biopsies-heading-over-its-table",
     "Known tumor: SCC R nasal ala, shave biopsy 02/24/2026 - Mohs booked 03/26/2026 with Dr. Fenwick-Adair (fictional); pre-op instructions reviewed by the coordinator. Not treated today.\n\nPROCEDURES TODAY\nA) Biopsies\nSpec | Site | Lesion | Size | Technique\n1 | L temple | shiny pink patch, r/o BCC | 8 mm | shave biopsy\n2 | L dorsal foot | scaly pink plaque, r/o SCCis vs psoriasis | 1.2 cm | shave biopsy\n\nB) Cryotherapy, LN2, 2 cycles, AKs\nSite | n\nForehead | 5\nScalp | 6\nR cheek | 2\nL cheek | 3\nBiopsied sites not frozen.\n\nNo E/M level documented today (procedure visit).",
     "cpt", {"11102", "11103", "17004"}, set()),
    # dictated labels with a comma ("A, intermediate ... B, intermediate") split a line between lesions
    ("dictated-comma-labels",
     "Lesion A, left dorsal forearm: squamous cell carcinoma on punch biopsy 03/30/2026. Clinical size 1.5 cm. 4 mm margins.\n"
     "Lesion B, right upper back: dysplastic nevus with severe atypia, positive lateral margin on shave biopsy, also 03/30/2026. "
     "Residual pigment 6 mm. 2 mm margins.\n"
     "Both sites anesthetized with lidocaine, both excised full thickness to fat as separate ellipses.\n"
     "Repairs: A, intermediate layered closure 5 cm. B, intermediate layered closure 2.4 cm.\n"
     "Path: A, squamous cell carcinoma, margins clear. B, dysplastic nevus, severe atypia, completely excised.",
     "cpt", {"11603", "11401", "12032"}, {"11601", "12031"}),
]


@pytest.mark.parametrize("text,field,expected,absent", [c[1:] for c in PRESENT_ABSENT], ids=[c[0] for c in PRESENT_ABSENT])
def test_a_code_the_note_supports_and_not_its_misreading(engine, text, field, expected, absent):
    codes = {line.code for line in getattr(engine.suggest(text, "t"), field)}
    assert expected <= codes and not (absent & codes), codes


def test_a_re_excision_with_no_residual_tumour_keeps_the_malignancy_treated_before(engine):
    s = engine.suggest("History: SCC, left dorsal hand, excised here 05/22/2025. Path: invasive squamous cell carcinoma, radial margin involved.\n\n"
                       "Today: re-excision for positive margin.\n  Scar: 2.0 cm linear, well healed.\n  Margin: 5 mm around the entire scar.\n"
                       "  Repair: intermediate layered closure; length 4.6 cm.\n\n"
                       "PATHOLOGY (06/23/2025): Left dorsal hand, re-excision: dermal scar; no residual squamous cell carcinoma.", "q5")
    assert {c.code for c in s.cpt} == {"11623", "12042"}
    assert [c.code for c in s.icd10] == ["C44.629"]


def test_the_eyelid_part_named_in_the_biopsy_report_codes_the_lid_treated_today(engine):
    s = engine.suggest("DOS 08/19/2025.\nDr. Q reviewed the 07/29/2025 shave biopsy report with the patient: basal cell carcinoma, nodular, right lower eyelid, "
                       "medial third, well below the lid margin. No new biopsy was taken today. She measured the tumor at 0.7 x 0.6 cm.\n"
                       "Mohs micrographic surgery was performed under local anesthesia.\nStage 1: 3 blocks, residual BCC.\nStage 2: 1 block, clear.\n"
                       "Final defect 1.2 x 0.9 cm; the lid margin and tarsus were not involved.", "q6")
    assert [c.code for c in s.icd10] == ["C44.1122"]


@pytest.mark.parametrize("text, code", [
    ("Visit type (resident entry): NEW patient. MDM moderate. Intralesional kenalog to 4 cysts.\n"
     "ATTENDING ATTESTATION: one correction: this is not a new patient; she is an established patient. MDM moderate is correct.", "99214"),
    ("New patient, MDM moderate: acne with exacerbation, spironolactone started.", "99204"),
    ("Consultation. 29-year-old man, new to our department. Hidradenitis suppurativa. MDM moderate. Follow-up in 12 weeks.", "99204"),
    ("PROBLEM 2 - seborrheic dermatitis (new to this clinic). Established patient, MDM low.", "99213"),
], ids=["attestation-corrects-to-established", "new-patient", "new-to-our-department", "problem-new-to-the-clinic"])
def test_the_patient_type_follows_a_correction(text, code):
    from dermcoder.coding.sessions import _patient_type

    assert _patient_type(text) == ("established" if code.startswith("9921") else "new")


PDT_MACRO = ("Photodynamic therapy was performed for actinic keratoses of the face and frontal scalp, approximately 20 lesions.\n"
             "Photosensitizer: aminolevulinic acid HCl 20% topical solution, 1 applicator stick, clinic stock.\n"
             "Applied by: C. Okafor, CMA (staff). Incubation: 1 hour.\n"
             "Pre-treatment targeted curettage: [ ] performed   [x] not performed\n"
             "Illumination: blue light, 16 min 40 s.\n"
             "Plan: repeat PDT in 8 weeks; cryotherapy to any resistant lesions at that visit.")


def test_pdt_applied_by_staff_without_the_unticked_curettage(engine):
    s = engine.suggest(PDT_MACRO, "q7")
    assert {c.code for c in s.cpt} == {"96567", "J7308"}


def test_one_diagnosis_for_lesions_shaved_at_several_sites_is_coded_at_each_site(engine):
    s = engine.suggest("Three raised moles, clinically intradermal nevi: right cheek, chin and left side of the neck. "
                       "Measurements: cheek 5 mm, chin 7 mm, neck 4 mm.\nEach was removed by shave removal flush with the skin.\n"
                       "Pathology (06/30/2025): A, B and C, intradermal melanocytic nevus.", "q8")
    assert {c.code for c in s.cpt} == {"11310", "11311", "11305"}
    assert {c.code for c in s.icd10} == {"D22.39", "D22.4"}


def test_a_malignant_destruction_without_a_size_takes_the_smallest_band_and_a_query(engine):
    s = engine.suggest("Biopsy-proven superficial BCC, left upper back: ED&C x3 cycles of the left upper back today.", "q9")
    (line,) = [c for c in s.cpt if c.code.startswith("172")]
    assert line.code == "17260" and line.confidence < 0.5
    assert "lesion_size" in {q.fact for q in s.queries}


def test_a_problem_addressed_beside_a_biopsy_elsewhere_keeps_its_own_site(engine):
    s = engine.suggest("S: 73 F, established. Shave biopsy of the right nasal ala on 01/06/2026 showed nodular basal cell carcinoma.\n"
                       "A:\n 1. Basal cell carcinoma, nodular, right nasal ala (biopsy-proven).\n 2. Neoplasm of skin, L upper back, ddx BCC vs SCC.\n"
                       "P:\n 1. Options reviewed: Mohs surgery recommended. She chose Mohs; referral sent for March. "
                       "Total time on this problem today 24 minutes, not counting the procedure below.\n"
                       " 2. Shave biopsy, L upper back: consent, lidocaine, flexible blade, AlCl3, to pathology.", "q11")
    assert {c.code for c in s.cpt} == {"11102", "99213"}
    assert {c.code for c in s.icd10} == {"C44.311", "D49.2"}


@pytest.mark.parametrize("text, code", [
    ("- Seborrheic keratosis, left inguinal crease, 8 mm, macerated and inflamed from friction, painful: shave removal, AlCl.", "L82.0"),
    ("- Seborrheic keratosis, left inguinal crease, 8 mm, non-inflamed, catches on clothing: shave removal, AlCl.", "L82.1"),
], ids=["inflamed-on-its-line", "non-inflamed"])
def test_a_seborrheic_keratosis_described_as_inflamed_is_coded_inflamed(engine, text, code):
    assert [c.code for c in engine.suggest(text, "q13").icd10] == [code]


SURVEILLANCE_SOAP = ("SUBJECTIVE\nSix-month check. History of melanoma, left calf, excised 2020, no recurrence. One rough spot on the right temple.\n"
                     "OBJECTIVE\nCalf scar flat, no nodes. Waxy stuck-on papules on the back. Right temple: 4 mm scaly papule. "
                     "Nevi on the chest stable against photos.\n"
                     "ASSESSMENT\n1. Personal history of melanoma - no evidence of recurrence\n2. Actinic keratosis, right temple\n"
                     "3. Seborrheic keratoses, back - benign\n"
                     "PLAN\n1. Skin exams every 6 months.\n2. Liquid nitrogen to the actinic keratosis, 2 cycles.\n3. Reassurance.\n"
                     "E/M: established, MDM low - surveillance and the back lesions, separately identifiable from the cryotherapy.")


# Whole notes of this session's kinds, each with the claim a coder would bill:
# (id, note, {(code, units)}).
CLAIMS = [
    ("procedure-named-to-set-the-visit-apart", SURVEILLANCE_SOAP, {("17000", 1), ("99213", 1)}),
    # an unmeasured lesion with 4 mm margins: more than 0.8 cm excised -> the lowest band above it
    ("unmeasured-lesion-coded-by-its-margins",
     "DOS 10/21/2025. Excision of the biopsy-proven nodular BCC, left upper arm: a pearly plaque about the size of a dime "
     "(not measured), marked 4 mm margins, excised as an ellipse 3.8 cm long. Intermediate layered closure 3.8 cm.\n"
     "PATH 10/24/2025: nodular basal cell carcinoma, margins clear.", {("11601", 1), ("12032", 1)}),
    # hospital care: initial (Medicare takes no consult codes), consult codes where the payer takes them, subsequent days
    ("inpatient-consult-initial-hospital-care",
     "DERMATOLOGY CONSULT | Admit 07/01/2025 (UTI)  Consult 07/03/2025 | Requesting: J. Moreau, DO (hospitalist)\n"
     "Coverage: Medicare A/B (consult codes not payable - initial hospital care code)\n"
     "Blisters on legs and arms, bullous pemphigoid suspected. Clobetasol started, labs ordered. MDM: moderate.", {("99222", 1)}),
    ("inpatient-consult-codes-payer",
     "INPATIENT CONSULTATION - DERMATOLOGY | Admit 09/14/2025  Consult 09/16/2025\n"
     "Coverage: MA plan - plan pays inpatient consultation codes per billing office.\n"
     "Stasis dermatitis, not cellulitis; compression and triamcinolone ointment recommended. MDM: moderate.", {("99254", 1)}),
    ("inpatient-follow-up-day",
     "DERMATOLOGY CONSULT - FOLLOW-UP NOTE (hospital day 6) | initial consult by me 06/10/2025\n"
     "Morbilliform drug eruption fading; continue triamcinolone, labs reviewed. MDM moderate.", {("99232", 1)}),
    # the layered closure of the punch excision's own wound: 11440/12051 is an NCCI pair, no distinct site -> 12051 not reported;
    # the "5 mm punch" is the excision's tool and "base snipped" a step, not a biopsy or a tag removal
    ("closure-of-the-same-wound-bundled",
     "Lesion: raised flesh-colored papule L nasal dorsum, clin dermal nevus; rubbed by glasses.\nIntent: complete removal.\n"
     "Proc: punch excision - lesion 3 mm, margin 1 mm, 5 mm punch, into fat, base snipped.\n"
     "Closure: layered, 6-0 Monocryl deep x1, 6-0 Prolene x2; final length 0.9 cm (dog-ear trimmed).\n"
     "Path: intradermal nevus, completely excised.", {("11440", 1)}),
    # a stage cancelled in the note is no stage taken
    ("mohs-stage-cancelled",
     "MOHS OPERATIVE NOTE\nDx: recurrent morpheaform BCC, left temple.\nStage I: 5 blocks - tumor in blocks 2, 3 and 5.\n"
     "Stage II: 4 blocks - tumor at the deep margin.\nFurther resection with head & neck surgery, date TBD. Stage III cancelled.\n"
     "Defect 3.8 x 3.2 cm; no repair performed.", {("17311", 1), ("17312", 1)}),
    # E/M: item numbers before the MDM level, time counted apart from a drainage, a header's "EST"
    ("mdm-of-numbered-items",
     "Visit Note (established)\n1. Acne vulgaris, not at goal: spironolactone increased, tretinoin continued.\n"
     "MDM (items 1-2 only): moderate - chronic illness not at treatment goal; prescription drug management.", {("99214", 1)}),
    ("time-apart-from-the-drainage",
     "New patient. Inflamed cyst L buttock: incision and drainage, loculations broken with a hemostat, packed.\n"
     "Truncal acne evaluated; doxycycline and adapalene/BPO started.\n"
     "Time spent on the acne evaluation, counseling and prescribing, separate from the cyst and its drainage: 32 minutes.",
     {("10061", 1), ("99203", 1)}),
    ("est-in-capitals",
     "CHD  DOS 04/15/25  EST  P. Szabo-Weir MD\nAKs: LN2 to 3 lesions of the scalp.\n"
     "Phototoxic eruption from HCTZ, separate problem: HC 2.5% cream, letter to PCP. MDM low.", {("17000", 1), ("17003", 2), ("99213", 1)}),
    # one punch biopsy told in the story and again in the grid; a consent line names the biopsies described below it
    ("biopsy-in-story-and-grid",
     "Scheduled: excision DF L forearm.\nAlso today: pink scaly 8 x 6 mm patch R shin x 6 mo -> punch bx (separate lesion, separate site).\n\n"
     "| Proc | Site | Lesion | Margin | Exc diam | Closure |\n| Excision | L forearm | 9 mm | 1 mm | 1.1 cm | simple, 4-0 nylon x3 |\n"
     "| Punch bx 4 mm | R shin | 8 x 6 mm | - | - | 4-0 nylon x1 |\n\nPATH: A L forearm: dermatofibroma. B R shin: superficial BCC.",
     {("11402", 1), ("11104", 1)}),
    ("consent-for-biopsies",
     "HCP: daughter - consent for biopsies by phone.\nEXAM: tense bullae of the thighs and forearms.\nPROCEDURES:\n"
     " 1. Punch biopsy 4 mm, edge of a fresh bulla L medial thigh -> H&E.\n 2. Punch biopsy 4 mm, perilesional skin R volar forearm -> DIF.",
     {("11104", 1), ("11105", 1)}),
    ("avulsion-as-a-fraction-of-the-plate",
     "Ingrown toenail, left great toe, lateral border. Digital block. Lateral 1/4 of nail plate freed and avulsed, "
     "then phenol 88% to the lateral matrix 3 x 30 sec for permanent matrixectomy.", {("11750", 1)}),
    ("pdt-by-a-nurse-debridement-unticked",
     "PDT - nursing record. Indication: actinic keratoses of the face, field treatment.\n"
     "Skin prep (RN): acetone degreasing. [ ] Physician curettage / lesion debridement - not performed.\n"
     "Photosensitizer: aminolevulinic acid 10% gel (Ameluz), 1 tube (2 g), applied by RN. Incubation 3 hours.\n"
     "Illumination: red light 635 nm, 10 minutes, delivered by RN.", {("96567", 1), ("J7345", 20)}),
    ("cosmetic-comment-inside-one-labeled-lesion",
     "Lesion #1: Location: right temple. Size: 8 mm. Clinical impression: irritated seborrheic keratosis.\n"
     "Procedure: Shave removal. Hemostasis: aluminum chloride.\n"
     "Lesion #2: Location: left malar cheek. Size: 5 mm. Clinical impression: seborrheic keratosis, asymptomatic.\n"
     "Procedure: Shave removal. Hemostasis: aluminum chloride.\n"
     "Provider comment (Lesion #2): cosmetic request. Self-pay waiver signed.", {("11311", 1)}),
    # "medically necessary" in lesion A's block denies nothing about lesion B's self-pay block
    ("medical-necessity-of-another-labeled-lesion",
     "Procedures:\nA. Right posterior shoulder - shave biopsy (deep saucerization) for diagnosis, medically necessary. "
     "To dermatopathology.\nB. AESTHETIC SERVICES (SELF-PAY): chin intradermal nevus 5 mm - shave removal flush with the skin. "
     "Cosmetic; self-pay waiver signed.", {("11102", 1)}),
    ("i-and-d-default-withdrawn-and-billing-summary",
     "PROCEDURE: Incision and drainage of abscess, right axilla, 1.5 cm.\n"
     "Complexity: [x] Simple/single   [ ] Complicated/multiple\nPacking: 1/4 inch iodoform gauze placed\n"
     "Provider comment: no packing placed - cavity small. Template default not cleared.\n\n"
     "BILLING SUMMARY (auto-generated)\n10061   Incision and drainage of abscess, complicated or multiple   x1", {("10060", 1)}),
    ("digit-field-label",
     "Exam: Right hallux: medial nail fold erythematous; nail plate embedded in the medial fold.\n\n"
     "PROCEDURE: Nail procedure\n[x] Verbal consent   [x] Time-out   [x] Digital block: 1% plain lidocaine, 4 mL\n"
     "Type: [x] Partial nail avulsion   [ ] Complete nail avulsion   [x] Matrixectomy\n"
     "Digit: right great toe (hallux), medial border.\n"
     "Technique: a narrow medial strip of nail plate freed with a nail elevator and removed; "
     "88% phenol applied to the medial matrix, 3 applications of 30 seconds.\n\nDIAGNOSIS AND PLAN\n"
     "1. Ingrowing nail - partial nail avulsion with chemical matrixectomy, right hallux medial border.", {("11750", 1)}),
    ("no-procedure-performed-today",
     "New patient to the practice. Biopsy-proven infiltrative BCC, left nasal sidewall, 8 x 6 mm. Meets appropriate use criteria for "
     "Mohs micrographic surgery; he wishes to proceed with Mohs surgery, scheduled for next month.\n"
     "Medical decision making moderate. No procedures were performed today.", {("99204", 1)}),
    ("no-procedure-other-than",
     "New patient to the practice. Rough papule right temple, actinic keratosis: cryotherapy with liquid nitrogen to 1 lesion.\n"
     "Psoriasis of the elbows, started clobetasol. Medical decision making moderate, separately identifiable. "
     "No procedures were performed today other than the cryotherapy.", {("99204", 1), ("17000", 1)}),
]


@pytest.mark.parametrize("text, lines", [c[1:] for c in CLAIMS], ids=[c[0] for c in CLAIMS])
def test_the_claim_of_a_whole_note(engine, text, lines):
    assert {(c.code, c.units) for c in engine.suggest(text, "q14").cpt} == lines


# (id, note, the ICD-10-CM codes of the visit)
DIAGNOSES = [
    ("new-growth-biopsied-before-a-summary-line",
     "02/14 - here for the planned LN2 + 2 spots of concern\n"
     "- AKs x4: R forehead x2, L nasal sidewall x1, L cutaneous upper lip x1 - LN2 2 FTC\n"
     "- L nasal tip: 4 mm pink growth, not present in Jan photo -> shave bx (spec 1)\n"
     "- R posterior calf: 7 mm dark growth, ugly duckling -> punch bx 4 mm (spec 2)\npathology pending\n\n"
     "Procedure summary: LN2 to 4 lesions; 2 biopsies (1 shave, 1 punch).", {"D49.2", "L57.0"}),
    ("exam-finding-the-assessment-leaves-out", SURVEILLANCE_SOAP, {"L57.0", "L82.1", "Z08", "Z85.820"}),
    ("patients-own-word-in-quotes",
     'Reason for consultation: recurrent painful "boils" of the armpits. New patient.\n'
     "Exam: inflamed nodules, double-ended comedones and sinus tracts in both axillae.\n"
     "Impression: hidradenitis suppurativa, Hurley II. Doxycycline started. MDM moderate.", {"L73.2"}),
    ("laceration-beside-an-old-problem",
     "Walk-in, established (usually sees us for his AKs). Exam: 4.5 cm linear laceration of the left volar forearm, into fat.\n"
     "Extensive cleaning, closed in a single layer, 4.5 cm: intermediate repair for the heavy contamination.\n"
     "His AKs on the face look quiet; will freeze them in April.", {"S51.812A"}),
    ("one-laceration-word-for-every-wound",
     "Exam: clean, linear lacerations: right forearm 2.0 cm, left palm 1.5 cm.\n1. Simple repair right forearm, 2.0 cm.\n"
     "2. Simple repair left palm, 1.5 cm.", {"S51.811A", "S61.412A"}),
    ("biopsy-its-own-line-calls-a-growth",
     "CC: eczema flare + new spot L cheek\nHPI: 40F est pt, lifelong atopic dermatitis, flaring x 4 wk.\n"
     "Also L cheek 5 mm pink papule x 3 mo, bleeds.\nA/P:\n1. Atopic dermatitis, uncontrolled -> start dupilumab. MDM mod.\n"
     "2. Neoplasm L cheek -> shave bx done: lido w/ epi, AlCl3, to path.", {"D49.2", "L20.9"}),
    ("changing-mole-with-a-melanoma-differential",
     "CC: changing mole on the right shoulder.\nExam: 6 mm irregularly pigmented macule, right shoulder; "
     "ddx dysplastic nevus vs early melanoma.\nShave biopsy (saucerization) after lidocaine, AlCl3. Path pending.", {"D49.2"}),
    # a benign problem the assessment manages is the visit's reason, procedure or not
    ("benign-problem-managed-at-an-em-visit",
     "Hemangioma follow-up, established. On propranolol 1 mg/kg/day.\nExam: superficial infantile hemangioma, left cheek, 1.2 x 0.9 cm, softer.\n"
     "Assessment: infantile hemangioma, involuting - increase propranolol for weight gain. MDM moderate.", {"D18.01"}),
    ("iga-vasculitis",
     "New patient. Palpable purpura of both legs x 5 days, arthralgia.\nA/P: IgA vasculitis (HSP) - urinalysis and BP today; "
     "punch biopsy for H&E and DIF done. MDM moderate.", {"D69.0"}),
    ("pityriasis-lichenoides-chronica-on-pathology",
     "Scheduled punch biopsy, L flank, scaly papules. 4 mm punch, one suture.\n"
     "Path addendum: pityriasis lichenoides chronica.", {"L41.1"}),
    ("hand-eczema-is-unspecified-dermatitis",
     "Established. Hand eczema worse since woodworking, fissures on the fingertips.\n"
     "A/P: chronic hand eczema - clobetasol ointment, cotton liners under gloves. MDM moderate.", {"L30.9"}),
    ("xerosis-the-visit-manages",
     "Est pt. Dry itchy skin all over since the furnace came on, crackle pattern on the shins.\n"
     "Assessment: xerosis cutis - ammonium lactate 12% lotion (Rx), thick cream bid. MDM low.", {"L85.3"}),
    ("acanthosis-nigricans-addressed",
     "Teen, established. Velvety hyperpigmented plaques of the neck and axillae.\n"
     "A/P: acanthosis nigricans - fasting glucose and HbA1c ordered, PCP informed. MDM low.", {"L83"}),
]


@pytest.mark.parametrize("text, codes", [c[1:] for c in DIAGNOSES], ids=[c[0] for c in DIAGNOSES])
def test_the_diagnoses_of_a_whole_note(engine, text, codes):
    assert {c.code for c in engine.suggest(text, "q15").icd10} == codes


def test_a_malignant_destruction_takes_the_site_its_numbered_assessment_item_names(engine):
    s = engine.suggest("S: Back to treat the skin cancer on her right shoulder (biopsy 01/10/2025).\n"
                       "A: 1. Superficial BCC, R shoulder, bx-proven.\n   2. AKs, L hand.\n"
                       "P: 1. ED&C done today x3 cycles after lido w/ epi.\n   2. LN2 today to two AKs, L hand.", "q21")
    assert {c.code for c in s.cpt} >= {"17260", "17000"} and "lesion_size" in {q.fact for q in s.queries}


def test_a_lesion_on_the_exam_and_again_in_the_procedure_is_one_lesion(engine):
    """Each shaved lesion is written on the exam and again on its procedure line: one line each,
    and the cosmetic request the note left alone ("nothing was done today") takes nothing out."""
    s = engine.suggest(
        "EXAM:\nRight dorsal foot: 12 x 8 mm verrucous, stuck-on tan papule with hemorrhagic crust.\n"
        "Left nasal sidewall: 6 mm soft, dome-shaped papule under the glasses pad.\n\nASSESSMENT:\n"
        "1. Irritated seborrheic keratosis, right dorsal foot, symptomatic.\n2. Intradermal nevus, left nasal sidewall, symptomatic.\n"
        "3. Solar lentigines, hands: cosmetic concern only. A self-pay laser consultation was offered; nothing was done today.\n\n"
        "PROCEDURE(S) PERFORMED:\nProcedure: Shave removal of two lesions\nA. Right dorsal foot, lesion 12 x 8 mm\n"
        "B. Left nasal sidewall, lesion 6 mm\nEach lesion was removed in its entirety by horizontal shave.", "q33")
    assert sorted((c.code, c.units) for c in s.cpt) == [("11307", 1), ("11311", 1)]


def test_a_flap_talked_over_beside_an_exam_size_is_the_procedures_flap(engine):
    """One flap, coded once by the areas the procedure gives (not again from the exam's 9 x 7 mm)."""
    s = engine.suggest("Established patient.\n" + "Mrs. Vormbrock-Suggs is an 81 yo widowed farm woman I saw at the Tamsworth Bend (fictional) outreach on 09/02 where I did a shave biopsy of a pearly papule on the right nasal ala, path came back nodular basal cell carcinoma (S25-3381, fictional), and since she also had a BCC on the left upper back that I excised in 2022 I am going to call the nose one BCC-1 for the rest of this note so nobody mixes the two up. She came in today to decide what to do about BCC-1 and told the front desk that if it can be done today she would much rather not make the drive again, it is 70 miles each way from the farm and her daughter has to take a day off work to bring her, so we spent a good while on the options: Mohs at the university in Carrow City (fictional), three hours away and usually two trips, which I told her honestly has the best cure rate for a BCC on the nose, or radiation, or excision here with a local flap, and she declined the Mohs referral (firmly, twice) and does not want radiation either (her late husband had it for his throat and she \"won't do that\"), she is on no blood thinners, not diabetic, quit smoking in 1990, heals well per her. Risks of a flap on the ala reviewed at length: bleeding, infection, notching or lifting of the alar rim, trapdooring, scar, recurrence and the chance I will have to go back in if the margins are not clear; she understands and wants to go ahead today, consent signed, so the decision for surgery was made at this visit. MDM moderate (new cancer diagnosis needing definitive treatment, decision for major surgery today, alternatives declined). Exam of the area: BCC-1 is a 9 x 7 mm pearly papule with a rolled border and fine telangiectasia sitting in the right alar crease and running onto the ala, biopsy site healed; the 2022 scar on the left upper back is flat and pale with nothing palpable; no other suspicious lesions on the face, ears, neck or hands.\n\nPROCEDURE: Excision of BCC-1, right nasal ala, with bilobed transposition flap.\nTime out. 1% lidocaine with epi 3.5 mL. BCC-1 marked with 3 mm margins and excised down to the nasalis, specimen tagged at 12 o'clock and sent for permanent sections. Primary defect round, 1.5 x 1.3 cm. Bilobed flap designed off the nasal sidewall and dorsum, lobes incised and elevated in the submuscular plane with wide undermining, flap transposed into the primary defect, secondary defect of the two lobes measured 1.6 x 1.2 cm, tertiary defect closed primarily. Total primary + secondary defect about 3.9 sq cm. 5-0 Monocryl deep, 6-0 nylon cutaneous. Hemostasis with bipolar, EBL minimal, pressure dressing. Tolerated well, daughter drove her home. Suture removal at the Tamsworth Bend clinic 10/07 to spare her the drive.", "q35")
    assert sorted((c.code, c.units) for c in s.cpt) == [("14060", 1), ("99214", 1)]


def test_a_lesion_named_in_the_aesthetic_block_is_not_coded(engine):
    """The mons pubis SK is shaved for symptoms; the cheek DPN snipped in the self-pay block is not billed."""
    s = engine.suggest("S: \"mole\" on mons pubis rubs on waistband, bled x3, itchy. Also dark bumps on cheeks - wants them off, knows it's cosmetic.\nO: mons pubis: 11 mm verrucous stuck-on brown papule, crusted, inflamed base = irritated SK. Bilat malar cheeks: ~12 dark papules 1-3 mm = DPN.\nPlan was shave bx; at bedside elected full removal instead.\nProc: shave removal of mons pubis lesion, entire lesion taken flush w/ dermis, AlCl3. Whole lesion to path.\nAesthetic services (self-pay): snip/hyfrecation of DPN cheeks x 12. Waiver signed, paid.\nPath 3/24: irritated seborrheic keratosis.", "q37")
    assert sorted((c.code, c.units) for c in s.cpt) == [("11307", 1)]


def test_a_matrixectomy_on_each_side_is_two_units(engine):
    text = [c for c in PRESENT_ABSENT if c[0] == "matrixectomy-on-each-side"][0][1]
    assert sorted((c.code, c.units) for c in engine.suggest(text, "q36").cpt) == [("11750", 2)]


def test_a_biopsies_heading_adds_no_biopsy(engine):
    text = [c for c in PRESENT_ABSENT if c[0] == "a-biopsies-heading-over-its-table"][0][1]
    lines = sorted((c.code, c.units) for c in engine.suggest(text, "q34").cpt)
    assert ("11103", 1) in lines and ("11103", 2) not in lines, lines


def test_wound_labels_keep_two_lacerations_apart_and_their_simple_repairs_sum(engine):
    """"Wound 1: ... 1.8 cm" and "Wound 2: ... 2.2 cm" in the same simple-repair group: one 12002 (4.0 cm)."""
    s = engine.suggest("Mechanism: cut left hand on a broken mixing bowl while washing up, ~1 h ago. Tdap 09/2021 - up to date.\nExam:\n  Wound 1: left index finger, volar middle phalanx, 18 mm linear laceration, dermis-deep. Nail not involved. Flexor function and two-point discrimination intact.\n  Wound 2: left palm, thenar crease, 2.2 cm linear laceration, dermis-deep, no tendon exposure.\n  No foreign body seen; no glass found on exploration.\nProcedure: digital block (wound 1) and local infiltration (wound 2), 1% lidocaine plain 5 mL total. Irrigated with 200 mL NS.\n  Wound 1: simple repair, 5-0 nylon simple interrupted x4, length 1.8 cm.\n  Wound 2: simple repair, 5-0 nylon simple interrupted x5, length 2.2 cm.\n  No deep sutures. Bacitracin, nonadherent dressing.\nAssessment: lacerations, left index finger and left palm, repaired.\nPlan: keep dry 24-48 h. Sutures out in 10-12 days. Infection precautions given.\nTime out: 14:15", "q36")
    assert sorted((c.code, c.units) for c in s.cpt) == [("12002", 1)]


@pytest.mark.parametrize("path, expected", [
    ("PATHOLOGY (05/23/2025), A: Skin, right mid back, shave: Basal cell carcinoma, nodular type.", ["17262"]),
    ("PATHOLOGY (05/23/2025), A: Skin, right mid back, shave: Seborrheic keratosis, irritated.", []),
], ids=["malignant-path", "benign-path"])  # fmt: skip
def test_an_edc_after_a_biopsy_of_the_same_site_takes_the_biopsys_pathology(engine, path, expected):
    note = ("Indication: 6 mm pearly papule, R mid back, clinically a basal cell carcinoma.\n"
            "Procedure:\n1. Shave biopsy of the papule for histology -> spec A.\n"
            "2. ED&C of the same site immediately after: curettage and electrodesiccation, three cycles. "
            "Final curetted defect 11 mm in diameter.\n" + path)  # fmt: skip
    s = engine.suggest(note, "edc1")
    malignant = [c for c in s.cpt if c.code.startswith("172")]
    assert [c.code for c in malignant] == expected
    assert not [c for c in s.cpt if c.code == "11102"]
    if expected:
        assert malignant[0].diagnoses == ["C44.519"]


def test_an_unmeasured_lesion_of_a_measured_list_takes_the_lowest_band(engine):
    note = ("Proc: excision of cysts x2. 1% lido w/ epi.\n"
            "#1 R parietal scalp: firm 2.6 cm cyst, dissected free intact, no skin ellipse taken. 4-0 nylon.\n"
            "#2 occipital scalp: second smaller cyst, same technique, excised intact. 4-0 nylon x2.\n"
            "Path: #1 pilar cyst. #2 pilar cyst.")  # fmt: skip
    s = engine.suggest(note, "ex-list")
    assert sorted(c.code for c in s.cpt) == ["11420", "11423"]
    lowest = next(c for c in s.cpt if c.code == "11420")
    assert lowest.confidence <= 0.6 and "lowest band" in lowest.rationale
    assert any(q.fact == "lesion_size" for q in s.queries)


def test_an_unmeasured_excision_alone_is_not_coded(engine):
    s = engine.suggest("Proc: excision of a cyst, occipital scalp, excised intact. 4-0 nylon x2. Path: pilar cyst.", "ex-one")
    assert not [c for c in s.cpt if c.code.startswith("114")]
    assert any(q.fact == "lesion_size" for q in s.queries)


@pytest.mark.parametrize("note, codes, dx, warning", [
    ("Dx: primary focal hyperhidrosis, axillae. Procedure: chemodenervation of eccrine glands, both axillae, "
     "onabotulinumtoxinA 50 U per axilla, 20 points per side.", ["64650"], ["L74.510"], None),
    ("Primary focal hyperhidrosis of axillae and forehead. Procedure one: chemodenervation of the bilateral axillae, 50 units per side. "
     "Procedure two: chemodenervation of the forehead, 40 units total.", ["64650", "64653"], ["L74.510", "L74.511"], None),
    ("Palmar hyperhidrosis. Chemodenervation of both palms with onabotulinumtoxinA after median and ulnar nerve blocks.",
     [], [], "chemodenervation_unlisted"),
    ("Cosmetic visit. Botox injection to the glabellar lines, 20 units, self-pay.", [], [], "chemodenervation_not_hyperhidrosis"),
], ids=["both-axillae-once", "axillae-and-other-area", "palms-unlisted", "cosmetic-botox"])  # fmt: skip
def test_chemodenervation_for_hyperhidrosis(engine, note, codes, dx, warning):
    s = engine.suggest(note, "chemo")
    lines = [c for c in s.cpt if c.code.startswith("646")]
    assert sorted(c.code for c in lines) == codes
    assert all(c.units == 1 for c in lines)
    assert sorted(d for c in lines for d in c.diagnoses) == dx
    if warning:
        assert warning in [w.code for w in s.warnings]


def test_a_lesion_list_before_its_procedure_pairs_each_size_with_its_own_site(engine):
    note = ("Lesions (measured pre-procedure):\n"
            "  A - upper back, midline: 5 mm soft tan dome-shaped papule\n"
            "  B - mid back, just R of midline: 4 mm flesh-colored papule\n"
            "  C - L shoulder (top, bag strap): 6 mm tan papule\n\n"
            "Procedure: Shave removal x3\nEach lesion shaved flush at the dermis. AlCl hemostasis.\n"
            "Path: all three benign nevi.")  # fmt: skip
    lines = {c.code: c.units for c in engine.suggest(note, "shave-list").cpt}
    assert lines == {"11300": 2, "11301": 1}


@pytest.mark.parametrize("procedure, lines", [
    ("Procedure: partial nail avulsion with chemical matrixectomy, three borders on two toes: right hallux medial and lateral "
     "borders, left hallux lateral border.", {"11750": 2}),
    ("Procedure: partial nail avulsion of both borders of the right great toe, chemical matrixectomy with phenol.", {"11750": 1}),
], ids=["borders-on-two-toes", "one-toe"])  # fmt: skip
def test_matrixectomy_counts_nails_not_borders(engine, procedure, lines):
    s = engine.suggest("Dx: ingrown toenails. " + procedure + " Phenol 89% x3 applications. Dressing applied.", "nails")
    assert {c.code: c.units for c in s.cpt if c.code.startswith("117")} == lines


def test_a_procedure_line_ending_in_a_colon_counts_the_list_under_it(engine):
    note = ("CC: AKs f/u.\nExam/Proc:\nAKs - LN2, FTC x2 ea:\n  fhd x4\n  R cheek x3\n  nose x1\n  L helix x2\n"
            "HAKs R dorsal hand x3 - curetted (light) then LN2 x2 cycles\nTol well.\nDx: AK/HAK")  # fmt: skip
    lines = {c.code: c.units for c in engine.suggest(note, "ak-list").cpt}
    assert lines == {"17000": 1, "17003": 12}


def test_counts_of_a_sentence_that_add_up_to_its_first_count_are_its_breakdown(engine):
    note = ("Procedures:\n2. Cryotherapy (LN2) to five AKs: two on the vertex scalp and three on the dorsal hands (R 2, L 1). "
            "1-2 FT cycles.\nDx: actinic keratoses")  # fmt: skip
    lines = {c.code: c.units for c in engine.suggest(note, "ak-breakdown").cpt}
    assert lines == {"17000": 1, "17003": 4}


def test_a_procedure_sentence_that_points_back_treats_the_lesions_counted_before_it(engine):
    note = ("PHOTODYNAMIC THERAPY - TREATMENT RECORD\nIndication: diffuse actinic keratoses, face (field).\n"
            "Photosensitizer: aminolevulinic acid HCl 20% (Levulan Kerastick), clinic stock, 1 stick.\n"
            "Application: by K. Dorsey, CMA. Illumination: BLU-U blue light, 16 min 40 s, by the CMA.\n\n"
            "Dr. B - separate note, same day:\nPt also has 3 scaly AKs on the dorsal hands (R 2, L 1), outside the PDT field. "
            "Treated with LN2 cryotherapy by me, 2 cycles each. Tolerated well.\nDx: AK face (field), AK hands.")  # fmt: skip
    got = {c.code: c.units for c in engine.suggest(note, "ak-back").cpt if c.code.startswith("170")}
    assert got == {"17000": 1, "17003": 2}


def test_an_attestation_correcting_the_measurements_above_replaces_them(engine):
    note = ("Procedure: Re-excision, L mid back\nLesion size (scar): 0.8 cm\nMargins: 0.1 cm\nExcised diameter: 1.0 cm\n"
            "Repair: intermediate layered closure\nFinal repair length: 2.4 cm\n\n"
            "Attending addendum: I was present for the entire procedure. Correction to the measurements above, which were carried "
            "forward from the pre-op template: I measured the scar at 1.0 x 0.6 cm and we excised with 0.3 cm margins "
            "(excised diameter 1.6 cm). After dog-ear removal the final layered closure measured 3.4 cm.\n\n"
            "Path: residual dysplastic compound nevus with moderate atypia, margins free.")  # fmt: skip
    lines = {c.code for c in engine.suggest(note, "corrected").cpt}
    assert lines == {"11402", "12032"}


@pytest.mark.parametrize("first, code", [
    ("1) R great toe, lateral nail fold: 7 mm verrucous papule -> digital block, 3 mm punch biopsy of the lateral nail fold lesion.", "11755"),
    ("1) R great toe, dorsal skin: 7 mm verrucous papule -> 3 mm punch biopsy.", "11104"),
], ids=["nail-fold", "toe-skin"])  # fmt: skip
def test_a_biopsy_of_the_nail_unit_is_the_nail_biopsy_code(engine, first, code):
    note = first + "\n2) L shin: 1.0 cm scaly papule -> shave biopsy, AlCl3.\nPath: A verruca vulgaris. B SCC, invasive."
    codes = {c.code for c in engine.suggest(note, "nailbx").cpt}
    assert code in codes
    assert ("11755" in codes) == (code == "11755")


@pytest.mark.parametrize("samples, lines", [
    ("Punch biopsies today from one intact bulla on the R flank: lesional 4 mm punch at the blister edge for H&E and "
     "perilesional 4 mm punch from the rim of the same bulla for DIF.", {"11104": 1}),
    ("Punch biopsies today: R flank bulla 4 mm punch for H&E, and L thigh plaque 4 mm punch for DIF.", {"11104": 1, "11105": 1}),
], ids=["one-bulla", "two-lesions"])  # fmt: skip
def test_several_samples_of_one_lesion_are_one_biopsy(engine, samples, lines):
    note = ("Exam: Numerous tense bullae 0.5-2.5 cm on urticarial bases over the trunk, bilateral thighs and forearms.\n\n"
            "A/P:\n1. Bullous eruption, r/o bullous pemphigoid vs bullous drug eruption.\n - " + samples + "\n - Labs: CBC.\n"
            "Procedure detail: consent, 1% lido w/ epi; both punches closed w/ 4-0 nylon x1. Specimens A and B.\n"
            "Path: bullous pemphigoid.")  # fmt: skip
    got = {c.code: c.units for c in engine.suggest(note, "bulla").cpt if c.code.startswith("111")}
    assert got == lines


def test_cryotherapy_of_aks_takes_no_malignancy_of_another_lesion(engine):
    note = ("Exam:\n  A) R parietal scalp: 7 mm pearly pink papule w/ arborizing vessels\n"
            "  B) L mid back: 9 mm crusted stuck-on papule, inflamed\n  Also 3 gritty scaly papules on dorsal hands = AKs\n"
            "Procedures:\n1. Shave bx A and B: tangential biopsy w/ DermaBlade. Separate jars A, B.\n"
            "2. LN2 to 3 AKs dorsal hands, 2 cycles each.\n"
            "PATH: A. R parietal scalp, shave: basal cell carcinoma, nodular. B. L mid back: seborrheic keratosis, irritated.")  # fmt: skip
    codes = {c.code for c in engine.suggest(note, "ak-not-bcc").cpt}
    assert not [c for c in codes if c.startswith("172")]
    assert {"17000", "17003"} <= codes


@pytest.mark.parametrize("line, units", [("Shave bx A and B: tangential biopsy w/ DermaBlade. Separate jars A, B.", 1),
                                         ("Shave bx A, B and C: tangential biopsies w/ DermaBlade.", 2),
                                         ("Shave bx of the scalp lesion: tangential biopsy w/ DermaBlade.", 0),
                                         ("L arm and R back atypical lesions - shave biopsies (deep saucerization), spec A and B.", 1)],
                         ids=["two-labels", "three-labels", "one-lesion", "specimens-after-technique"])  # fmt: skip
def test_a_biopsy_naming_lesion_labels_samples_each(engine, line, units):
    s = engine.suggest("Procedures (consent signed):\n1. " + line + "\nWound care sheet.", "bx-labels")
    lines = {c.code: c.units for c in s.cpt}
    assert lines.get("11102") == 1
    assert lines.get("11103", 0) == units


@pytest.mark.parametrize("plan, code", [("Calluses pared bilaterally with #15 blade.", "11056"),
                                        ("Callus pared with #15 blade.", "11055"),
                                        ("3 calluses pared with #15 blade.", "11056")],
                         ids=["plural-uncounted", "singular", "counted"])  # fmt: skip
def test_paring_counts_at_least_two_for_an_uncounted_plural(engine, plan, code):
    exam = "O: hyperkeratotic callus R heel.\nA: callus R heel\n" if plan.startswith("Callus ") else \
        "O: hyperkeratotic calluses both feet at pressure points.\nA: calluses bilateral feet\n"
    s = engine.suggest(exam + "P: " + plan, "paring")
    assert [c.code for c in s.cpt if c.code.startswith("1105")] == [code]
    assert any(q.fact == "lesion_count" for q in s.queries) == (not plan.startswith("3 "))


def test_a_dose_in_copied_text_is_not_todays(engine):
    note = ("--- copied from 09/23/2025 note ---\n \"ILK to 5 nodules (R axilla 3, L axilla 2), Kenalog-10 1.5 mL total. Tolerated.\"\n"
            "--- end copy ---\nTODAY - lesions injected (ILK, Kenalog-10 = 10 mg/mL, office supply):\n  R axilla ....... 3 nodules\n"
            "  L axilla ....... 2 nodules\n  L inguinal fold .. 2 nodules\n  R inframammary .. 2 nodules\n  vol 0.3 cc each -> 2.7 cc total\n"
            "Dx: hidradenitis suppurativa.")  # fmt: skip
    lines = {c.code: c.units for c in engine.suggest(note, "ilk-copy").cpt}
    assert lines.get("J3301") == 3


def test_a_shave_biopsy_then_removal_of_the_rest_bills_the_removal_only(engine):
    note = ("Two lesions addressed today.\nLesion A, left upper back: 0.9 cm raised brown papule. I started with a scoop shave biopsy "
            "of the raised portion; pigment remained in the base, so I went back and shaved off the remainder flush at mid dermis "
            "to remove the lesion completely. Both pieces in jar A.\nLesion B, right anterior shin: 0.8 cm nodule. 4 mm punch "
            "biopsy of the nodule, closed with one 4-0 nylon. Jar B.\nPath: A compound nevus. B prurigo nodularis.")  # fmt: skip
    lines = {c.code: c.units for c in engine.suggest(note, "bx-then-shave").cpt}
    assert lines == {"11104": 1, "11301": 1}


def test_a_generic_total_of_two_kinds_adds_nothing_to_either(engine):
    note = ("Skin: R helix 1 and forehead 2 scaly gritty papules = AKs. L dorsal hand 2 verrucae.\nA/P:\n"
            "2. AKs x3, common warts x2 - froze 5 spots today.\n\nPROCEDURE: LN2 cryotherapy. AKs: R helix x1, forehead x2 - "
            "1 cycle each. Warts: L dorsal hand x2 - 2 cycles each.")  # fmt: skip
    lines = {c.code: c.units for c in engine.suggest(note, "mixed-total").cpt}
    assert lines.get("17003") == 2 and lines.get("17000") == 1 and lines.get("17110") == 1


def test_a_site_the_removal_says_it_did_not_touch_bundles_no_biopsy(engine):
    note = ("Exam: L dorsal forearm: 1.2 cm nodule with central keratin plug. AKs: scalp 3, L ear 2, R dorsal forearm 2.\n\n"
            "Procedures:\n1) Shave biopsy, L dorsal forearm nodule, r/o SCC. Tangential biopsy to deep dermis.\n"
            "2) LN2 cryotherapy to 7 AKs as above, 2 FT cycles. None of the frozen lesions is on the L forearm.\n"
            "Path: well-differentiated SCC, keratoacanthoma type.")  # fmt: skip
    lines = {c.code: c.units for c in engine.suggest(note, "not-touched").cpt}
    assert lines.get("11102") == 1 and lines.get("17003") == 6


@pytest.mark.parametrize("row2, expected", [
    ("| 2 | L lateral neck | pedunculated nevus, catches necklace | --- |", {"11302", "11305", "11311"}),
    ("| 2 | R flank | second irritated SK, told again | 1.2 x 0.9 cm |", {"11302", "11311"}),
], ids=["unmeasured-row", "no-extra-row"])  # fmt: skip
def test_an_unmeasured_row_under_one_procedure_takes_the_lowest_band(engine, row2, expected):
    note = ("HPDCS | Shave removal | DOS 04/15/2025\n3 symptomatic lesions, all sent. Intent: removal flush w/ skin (not bx).\n\n"
            "| # | Site | Clin dx / sx | Diam |\n| 1 | R cheek, near nasolabial fold | raised nevus, bleeds | 6 mm |\n" + row2 + "\n"
            "| 3 | R flank | irritated SK, crusting/itch | 1.2 x 0.9 cm |\n\nPATH: 1. Intradermal nevus. 2. Dermal nevus. 3. Irritated SK.")  # fmt: skip
    assert {c.code for c in engine.suggest(note, "rows").cpt} == expected


def test_the_one_unmeasured_shave_removal_takes_the_lowest_band(engine):
    note = ("S: mole L cheek, catches on her glasses frame and bleeds. Wants it off.\nO: raised tan soft papule L cheek near the zygoma.\n"
            "A: nevus, irritated, L cheek.\nProc: shave removal. Lido 1% w/ epi 0.5 mL. Shaved flush w/ blade, AlCl, bandaid. To path.\n"
            "Path: compound melanocytic nevus, benign.")  # fmt: skip
    s = engine.suggest(note, "one-shave")
    assert [c.code for c in s.cpt] == ["11310"]
    assert any(q.fact == "lesion_size" for q in s.queries)


def test_a_biopsy_pointing_below_is_the_one_described_there(engine):
    note = ("A/P:\n1. Atypical pigmented macule R sole -> punch biopsy today (below).\n2. Tinea pedis - topical.\n\n"
            "PROCEDURE: Punch biopsy, R medial plantar midfoot: 1% lido w/ epi 1 mL; into fat; 4-0 nylon x2. Spec A.")  # fmt: skip
    lines = {c.code: c.units for c in engine.suggest(note, "below").cpt if c.code.startswith("111")}
    assert lines == {"11104": 1}


@pytest.mark.parametrize("text, points", [
    ("2. Changing lesion. Tangential biopsy recommended and performed today (see below).", True),
    ("1. Macule R sole -> punch biopsy today (below).", True),
    ("Shave biopsy as described below.", True),
    ("Shave biopsy today. See the pathology below.", False),
    ("Shave biopsy of the lesion below the knee.", False),
], ids=["see-below-later", "below", "as-described-below", "next-sentence", "anatomy"])  # fmt: skip
def test_a_biopsy_that_points_below(text, points):
    from dermcoder.coding.lesions import _refers_below
    from dermcoder.nlp.frames import Mention

    word = "biopsy"
    start = text.index(word)
    assert _refers_below(text, Mention("PROCEDURE", start, start + len(word), word)) == points


def test_each_shaved_lesion_takes_the_pathology_under_its_own_label(engine):
    # train note h45-030
    note = ("Lesions:\n"
            "A. Upper lip, cutaneous (skin above the vermilion border, just left of the philtrum): 0.4 cm soft "
            "flesh-colored dome papule, irritated by threading. Ddx intradermal nevus vs BCC.\n"
            "B. Left earlobe: 0.7 cm firm tan papule, irritated by earrings. Impression: nevus, irritated.\n"
            "Pt requests removal of both (symptomatic, irritated); sent for pathology.\n"
            "\n"
            "Procedure: Shave removal x 2 (removal intent)\n"
            "1% lidocaine w/ epi. Each lesion removed flush with the skin by horizontal slicing with a flexible "
            "blade; edges feathered; AlCl3 for hemostasis. No sutures. Vermilion not entered.\n"
            "Specimens: A - upper lip (cutaneous); B - L earlobe.\n"
            "\n"
            "ADDENDUM 05/19/2025: Path: A - Intradermal melanocytic nevus. B - Dermatofibroma (benign fibrous "
            "histiocytoma), transected at base. Pt informed; B may persist - observe.")  # fmt: skip
    s = engine.suggest(note, "path-labels")
    by_code = {c.code: c.diagnoses for c in s.cpt}
    assert by_code.get("11311") == ["D23.22"]
    assert by_code.get("11310") == ["D22.0"]


def test_a_plan_pointing_to_the_biopsies_below_is_not_one_of_them(engine):
    note = ("S: HCP consented by phone to skin biopsies.\nO: Tense bullae R forearm. Urticarial plaque L flank.\n"
            "A: Bullous eruption - suspect bullous pemphigoid.\nP: Punch biopsies x 2 separate lesions as below.\n\n"
            "PROCEDURE\n#1 Punch biopsy R forearm, edge of bulla, 4 mm -> formalin.\n"
            "#2 Punch biopsy L flank, urticarial plaque, 4 mm -> Michel's medium.\n\n"
            "PATHOLOGY ADDENDUM\nA. Skin, R forearm: subepidermal bulla, consistent with bullous pemphigoid.\n"
            "B. Skin, L flank: linear IgG and C3 along the BMZ. Consistent with bullous pemphigoid.\n")  # fmt: skip
    s = engine.suggest(note, "bx-as-below")
    assert {(c.code, c.units) for c in s.cpt} == {("11104", 1), ("11105", 1)}
    assert [d.code for d in s.icd10] == ["L12.0"]



@pytest.mark.parametrize("psoralen, code, query", [
    ("Psoralen: med ____ mg   time taken ____", "96900", True),
    ("Psoralen: methoxsalen 30 mg taken 1.5 h before", "96912", False),
], ids=["psoralen-fields-blank", "psoralen-documented"])  # fmt: skip
def test_a_uva_session_with_blank_psoralen_fields_is_not_puva(engine, psoralen, code, query):
    note = ("PHOTOTHERAPY RECORD\nDx: pityriasis lichenoides chronica (bx 01/2026)\nModality: UVA, full-body cabinet\n"
            f"{psoralen}\nDose: 3.5 J/cm2 (tx #8)\nSkin: no erythema.")  # fmt: skip
    s = engine.suggest(note, "puva-blank")
    assert [c.code for c in s.cpt] == [code]
    assert any("psoralen" in q.message for q in s.queries) == query


@pytest.mark.parametrize("line, addons", [
    ("Bx x2: L flank papule, R ant thigh papule. Bx obtained, AlCl3, bandaid. Specimens A, B -> dermpath.", 1),
    ("Proc: punch bx x2 from the same plaque - 4 mm center (H&E) + 4 mm at the edge. Each closed 1 stitch.", 0),
], ids=["bx-x2-two-lesions", "bx-x2-one-plaque"])  # fmt: skip
def test_a_count_written_after_bx(engine, line, addons):
    s = engine.suggest("Imp: r/o PLEVA vs PLC.\n" + line, "bx-x2")
    units = {c.code: c.units for c in s.cpt}
    assert sum(u for code, u in units.items() if code in ("11103", "11105")) == addons


@pytest.mark.parametrize("warts, code", [("six", "17111"), ("three", "17110")], ids=["9+6=15", "9+3=12"])
def test_benign_destruction_of_two_kinds_adds_their_counts(engine, warts, code):
    note = ("PROCEDURE 1: Curettage of molluscum contagiosum\n  - L axilla: 5\n  - L lateral chest wall: 3\n  - R inner thigh: 1\n"
            "  Total 9 lesions curetted with 2 mm ring curette.\n\n"
            "PROCEDURE 2: Cryotherapy (LN2, cryospray) to verruca vulgaris\n  2 freeze-thaw cycles each.\n"
            f"  Total warts treated: {warts}.\n")  # fmt: skip
    assert [c.code for c in engine.suggest(note, "benign-kinds").cpt] == [code]


@pytest.mark.parametrize("header, mohs_coded", [
    ("Referring Mohs surgeon: Dr. Solvang. Mohs completed this AM in her office; pt walked over.", False),
    ("Ref: Dr. Beaumont (Mohs, 08/18/25) - invasive SCC, clear at Stage II.", False),
    ("Dx: SCC R cheek s/p Mohs (outside).", False),
    ("History: BCC of the right cheek treated with Mohs in 2019 at another center. Surgeon and reading pathologist: me.", True),
    ("Referred by Dr. Kaur for Mohs of a nodular BCC. Surgeon and reading pathologist: me.", True),
], ids=["referring-mohs-surgeon", "ref-dr-mohs-date", "s/p-mohs-outside", "earlier-tumours-mohs", "referred-for-mohs"])  # fmt: skip
def test_mohs_done_by_another_surgeon_is_not_coded(engine, header, mohs_coded):
    note = (header + "\nMohs micrographic surgery, R malar cheek: Stage 1: 3 blocks - residual. Stage 2: 1 block - clear.\n"
            "Final defect 1.6 x 1.4 cm. Layered closure, length 4.0 cm.")  # fmt: skip
    codes = {c.code for c in engine.suggest(note, "mohs-other").cpt}
    assert ("17311" in codes) == mohs_coded
    assert "12052" in codes  # the repair is this surgeon's either way


@pytest.mark.parametrize("size, codes", [
    ("The defect is about the size of a quarter; dimensions are in the photo.", {"15240"}),
    ("Recipient defect 5.0 x 5.0 cm = 25 sq cm.", {"15240", "15241"}),
], ids=["unmeasured-lowest-band", "measured"])  # fmt: skip
def test_a_graft_without_its_area_takes_the_lowest_band_with_a_query(engine, size, codes):
    note = ("Referred by Dr. H after Mohs surgery this morning for an SCC of the left medial cheek. " + size +
            " We chose a full-thickness skin graft, harvested from the left supraclavicular region and sewn in with a bolster.")  # fmt: skip
    s = engine.suggest(note, "ftsg")
    assert {c.code for c in s.cpt} == codes
    assert any(q.fact == "area" for q in s.queries) == (codes == {"15240"})


@pytest.mark.parametrize("time_line", [
    "Total time on date for E/M (hx, exam, counseling, Rx, notes), not incl. cryo: 32 min.",
    "Total time today 32 min (counseling/Rx rosacea, documentation), excluding\ntime for cryo procedure.",
], ids=["not-incl-abbreviated", "excluding-across-a-line"])  # fmt: skip
def test_visit_time_counted_apart_from_the_procedure_documents_a_separate_visit(engine, time_line):
    note = ("NEW PATIENT\nCC: red face & flushing x 2 yr; rough spots on scalp.\n1. Rosacea - new dx. Rx metronidazole 0.75% gel bid.\n"
            "2. Actinic keratoses x 3 (scalp 2, R helix 1) - LN2 today, 2 FTC.\n" + time_line)  # fmt: skip
    s = engine.suggest(note, "em-time")
    assert ("99203", ["25"]) in [(c.code, c.modifiers) for c in s.cpt]


def test_a_decision_level_given_for_numbered_problems(engine):
    note = ("Est pt.\n1. Lichen sclerosus, vulva - stable. Continue clobetasol 2x/wk; refill.\n"
            "2. History of VIN 3 - no recurrence; continue 6-month exams.\n"
            "   MDM for 1-2 (separate from today's biopsy decisions): low.\n"
            "3. Pigmented papule R inner thigh - SK favored. -> Shave biopsy, tangential to mid-dermis; AlCl3.")  # fmt: skip
    assert ("99213", ["25"]) in [(c.code, c.modifiers) for c in engine.suggest(note, "mdm-for").cpt]


@pytest.mark.parametrize("payer, code", [
    ("Payer: Keystone Commercial PPO (consultation codes accepted)", "99254"),
    ("Payer: Medicare (consult codes not payable)", "99222"),
], ids=["consult-codes-accepted", "medicare"])  # fmt: skip
def test_an_inpatient_consult_by_payer(engine, payer, code):
    note = ("INPATIENT DERMATOLOGY CONSULTATION, requested by oncology. " + payer + "\n"
            "Morbilliform eruption on day 10 of admission. A/P: drug eruption vs viral exanthem; punch biopsy today.\n"
            "MDM: moderate.\nProcedure: 4 mm punch biopsy, L flank, 1 suture.")  # fmt: skip
    assert code in {c.code for c in engine.suggest(note, "consult").cpt}


def test_a_biopsy_planned_in_the_assessment_and_described_in_the_procedure_is_one(engine):
    note = ("A/P:\n1. Linear morphea, L lateral thigh, active.\n - Incisional (wedge) biopsy of the active border today.\n"
            " - Labs: CBC, CMP, ANA.\n2. No features of systemic sclerosis.\nMDM: moderate. New patient.\n\n"
            "PROCEDURE: Incisional biopsy\nSite: L proximal lateral thigh, active border. Fusiform wedge 1.2 x 0.5 cm into fat. "
            "Closed with 4-0 nylon x3.\n")  # fmt: skip
    codes = {c.code: c.units for c in engine.suggest(note, "bx-plan-proc").cpt}
    assert codes.get("11106") == 1 and "11107" not in codes


def test_a_cutaneous_metastasis_is_excised_with_malignant_codes(engine):
    note = ("Excision of a 0.9 cm nodule, R upper back, with 0.5 cm margins; layered closure 4.0 cm.\n"
            "Path: metastatic clear cell renal cell carcinoma, margins free.")  # fmt: skip
    s = engine.suggest(note, "met")
    assert "11602" in {c.code for c in s.cpt}
    assert "C79.2" in {d.code for d in s.icd10}


def test_a_callus_pared_for_itself_beside_a_pared_wart(engine):
    note = ("Plantar wart of the right heel, 9 mm; the left forefoot lesion is a 1.0 cm callus, not a wart.\n"
            "PROCEDURES: (1) The wart was pared with a #15 blade and then treated with liquid nitrogen, three freeze-thaw cycles. "
            "(2) Separately, the callus on the left foot was pared down with a #15 blade until soft skin was reached.\n"
            "PLAN: Return 3-4 weeks for repeat wart treatment.")  # fmt: skip
    codes = {c.code for c in engine.suggest(note, "callus-and-wart").cpt}
    assert {"17110", "11055"} <= codes
