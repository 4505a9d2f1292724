"""The floor DermCoder is compared with: what the cheapest useful clinical spaCy pass costs.

Exactly this, and nothing more:

1. `spacy.blank("en")`: spaCy's rule tokenizer, no trained components;
2. spaCy's rule `sentencizer`;
3. medspaCy's `medspacy_target_matcher` with the TARGET_RULES below (30 literal
   dermatology terms: procedures, histologies, repairs, a few sites), so ConText has
   entities to work on;
4. medspaCy's `medspacy_context` with its default English rules (negation, history,
   hypothetical, family, uncertainty).

No sections, no measurements, no frames, no coding rules, no scorer, no JSON output.
DermCoder does all of that on top of a similar tokenize + ConText pass, so
"DermCoder time / floor time" says how much the rest costs.
"""

from __future__ import annotations

TARGET_RULES = [
    ("excision", "PROCEDURE"), ("excised", "PROCEDURE"), ("shave biopsy", "PROCEDURE"), ("punch biopsy", "PROCEDURE"),
    ("biopsy", "PROCEDURE"), ("shave removal", "PROCEDURE"), ("cryotherapy", "PROCEDURE"), ("destruction", "PROCEDURE"),
    ("curettage", "PROCEDURE"), ("mohs", "PROCEDURE"), ("incision and drainage", "PROCEDURE"), ("debridement", "PROCEDURE"),
    ("basal cell carcinoma", "HISTOLOGY"), ("squamous cell carcinoma", "HISTOLOGY"), ("melanoma", "HISTOLOGY"),
    ("seborrheic keratosis", "HISTOLOGY"), ("actinic keratosis", "HISTOLOGY"), ("nevus", "HISTOLOGY"),
    ("cyst", "HISTOLOGY"), ("wart", "HISTOLOGY"), ("lipoma", "HISTOLOGY"),
    ("intermediate repair", "REPAIR"), ("complex repair", "REPAIR"), ("layered closure", "REPAIR"),
    ("flap", "REPAIR"), ("graft", "REPAIR"),
    ("nose", "SITE"), ("cheek", "SITE"), ("back", "SITE"), ("scalp", "SITE"),
]  # fmt: skip


def build_floor():
    """The floor pipeline (see the module docstring)."""
    import spacy
    from medspacy.ner import TargetRule

    from dermcoder.nlp.pipeline import quiet_third_party_logs

    quiet_third_party_logs()
    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    matcher = nlp.add_pipe("medspacy_target_matcher")
    matcher.add([TargetRule(literal, label) for literal, label in TARGET_RULES])
    nlp.add_pipe("medspacy_context")
    return nlp


def describe() -> str:
    return (f'spacy.blank("en") + sentencizer + medspacy_target_matcher ({len(TARGET_RULES)} literal rules) '
            "+ medspacy_context (default rules)")  # fmt: skip
