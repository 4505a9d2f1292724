"""Building the DermCoder spaCy pipeline: blank English + our registered components."""

from __future__ import annotations

import logging

import spacy
from spacy.language import Language

# Importing the modules registers their factories with spaCy.
from dermcoder.nlp import _extensions  # noqa: F401
from dermcoder.nlp import context, counts, findings, frames, measurements, mohs, sections, sentences, sites  # noqa: F401

PIPE_NAMES = (
    "derm_sentences", "derm_measurements", "derm_sites", "derm_findings", "derm_counts", "derm_mohs",
    "derm_sections", "derm_context", "derm_frames",
)  # fmt: skip
PIPELINE_VERSION = "derm-rules-0.1"


def quiet_third_party_logs() -> None:
    """Keep note text out of logs: PyRuSH (pulled in by medspaCy) logs tokens at DEBUG via loguru."""
    try:
        from loguru import logger

        logger.remove()
    except ImportError:  # pragma: no cover - loguru comes with medspaCy
        pass
    for name in ("PyRuSH", "medspacy"):
        logging.getLogger(name).setLevel(logging.WARNING)


def build_pipeline() -> Language:
    """A fresh pipeline (blank English tokenizer + DermCoder components)."""
    quiet_third_party_logs()
    nlp = spacy.blank("en")
    for name in PIPE_NAMES:
        nlp.add_pipe(name)
    return nlp


def load_pipeline(path) -> Language:
    """Load a pipeline saved with `nlp.to_disk(path)` (our factories are registered by this module)."""
    quiet_third_party_logs()
    return spacy.load(path)
