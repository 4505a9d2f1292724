"""Features the classifier reads: one row per candidate code, one row per note.

A candidate is a line the rules proposed (`primary`) or a neighbouring code they offered
as an alternative (`alternative`). Its row holds what a coder weighs when deciding
whether to trust the line: which rule fired and how sure it was, the family, how close
the measured value sits to a band edge, which facts carry evidence, the clinical context
of that evidence, the note's open queries and warnings, and the words around the
evidence. The note row summarises the line probabilities with the same note-level cues;
it feeds the note model whose output is `note_confidence`.

FEATURE_VERSION is written into every artifact's meta.json; a model trained on other
features refuses to load rather than scoring nonsense.

No scikit-learn here: coding a note builds these rows, and a process that only codes
never imports the library (~2 s of its cold start; training/scorer_cache.py). The
fitted transformer that reads them is in training/features.py.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

import numpy as np

from dermcoder.coding.rulebook import Candidate, CodingContext
from dermcoder.nlp.frames import Mention

FEATURE_VERSION = 1

# Characters of note text kept either side of each evidence span for the n-gram features.
WINDOW = 40

_CM_VALUE = re.compile(r"(\d+(?:\.\d+)?)\s*(?:cm|sq cm)\b")


@dataclass
class CandidateRow:
    """One scorable code with its features; `parent` indexes ctx.candidates."""

    code: str
    units: int | None
    kind: str  # "primary" | "alternative"
    parent: int
    features: dict = field(default_factory=dict)
    text: str = ""


def _band_margin(cand_code: str, rationale: str, ctx: CodingContext) -> float | None:
    """Distance (cm or sq cm) from the measured value to the nearer edge of the code's band."""
    rec = ctx.tables.cpt(cand_code)
    if rec is None or rec.band_low is None:
        return None
    values = [float(v) for v in _CM_VALUE.findall(rationale)]
    if not values:
        return None
    value = values[-1]  # rationales end their arithmetic with the total
    high = rec.band_high if rec.band_high is not None else math.inf
    return round(min(abs(value - rec.band_low), abs(high - value)), 2)


def _window(text: str, mentions: list[Mention]) -> str:
    parts = []
    for m in mentions[:6]:
        parts.append(text[max(0, m.start - WINDOW) : m.end + WINDOW])
    return " | ".join(parts)


_FRAME_SLOTS = ("procedures", "sites", "histology", "path_histology", "sizes", "margins", "areas", "repairs", "counts",
                "mohs_stages", "mohs_blocks", "priors")  # fmt: skip


def _mention_cues(ctx: CodingContext) -> dict:
    """Active mentions per label, and those no frame took (orphans): grouping trouble shows here."""
    in_frames = {(m.start, m.end) for f in ctx.frames for slot in _FRAME_SLOTS for m in getattr(f, slot)}
    cues: dict = {}
    for m in ctx.mentions:
        if not m.active:
            cues["inactive_mentions"] = cues.get("inactive_mentions", 0) + 1
            continue
        cues[f"mentions={m.label}"] = cues.get(f"mentions={m.label}", 0) + 1
        if (m.start, m.end) not in in_frames and m.label in ("SIZE", "SITE", "PROCEDURE", "HISTOLOGY", "REPAIR", "MARGIN"):
            cues[f"orphan={m.label}"] = cues.get(f"orphan={m.label}", 0) + 1
    frames = max(1, len(ctx.frames))
    for label in ("SIZE", "SITE", "PROCEDURE"):
        cues[f"per_frame={label}"] = round(cues.get(f"mentions={label}", 0) / frames, 2)
    return cues


def _note_cues(ctx: CodingContext) -> dict:
    return {
        **_mention_cues(ctx),
        "note_queries": len(ctx.queries),
        "note_warnings": len(ctx.warnings),
        "note_frames": len(ctx.frames),
        "note_candidates": len(ctx.candidates),
        "note_labeled_frames": sum(1 for f in ctx.frames if f.label),
        "note_log_chars": round(math.log1p(len(ctx.text)), 2),
        **{f"query={q.fact}": 1 for q in ctx.queries},
        **{f"warning={w.code}": 1 for w in ctx.warnings},
    }


def _candidate_features(cand: Candidate, ctx: CodingContext, code: str, confidence: float, kind: str,
                        note_cues: dict | None = None) -> dict:
    rec = ctx.tables.cpt(code)
    feats: dict = {
        "kind": kind,
        "rule": cand.rule_id,
        "family": rec.family if rec else "unknown",
        "code": code,
        "rule_confidence": confidence,
        "units": cand.units if kind == "primary" else 0,
        "add_on": int(bool(rec and rec.add_on)),
        "modifiers": len(cand.modifiers) if kind == "primary" else 0,
        "evidence": len(cand.evidence),
        "frames": len(cand.frames),
        "has_diagnosis": int(bool(cand.diagnoses)),
    }
    margin = _band_margin(code, cand.rationale, ctx)
    if margin is not None:
        feats["band_margin"] = min(margin, 2.0)
        feats["band_edge_close"] = int(margin <= 0.2)
    for m in cand.evidence:
        feats[f"evidence={m.label}"] = 1
        for c in m.context:
            feats[f"context={c}"] = 1
        if m.section:
            feats[f"section={m.section}"] = 1
    for i in cand.frames:
        if 0 <= i < len(ctx.frames):
            frame = ctx.frames[i]
            feats["frame_labeled"] = int(bool(frame.label))
            feats["frame_has_size"] = int(bool(frame.sizes))
            feats["frame_has_margin"] = int(bool(frame.margins))
            feats["frame_has_pathology"] = int(bool(frame.path_histology))
            feats["frame_has_repair"] = int(bool(frame.repairs))
    feats.update(note_cues if note_cues is not None else _note_cues(ctx))
    return feats


def candidate_rows(ctx: CodingContext, cues: dict | None = None) -> list[CandidateRow]:
    """Rows for every emittable rule line and every distinct alternative code, in rule order.
    `cues`: `_note_cues(ctx)` when the caller has it already."""
    rows: list[CandidateRow] = []
    primary_codes = {c.code for c in ctx.candidates}
    seen_alts: set[str] = set()
    # The same for every row, and a scan of every mention: computed once per note, not per
    # candidate (the number of candidates grows with the note, so that was quadratic).
    if cues is None:
        cues = _note_cues(ctx)
    for i, cand in enumerate(ctx.candidates):
        if not cand.evidence:
            continue  # the engine never emits a line without evidence
        rows.append(CandidateRow(cand.code, cand.units, "primary", i,
                                 _candidate_features(cand, ctx, cand.code, cand.confidence, "primary", cues),
                                 _window(ctx.text, cand.evidence)))  # fmt: skip
    for i, cand in enumerate(ctx.candidates):
        for code, conf, _why in cand.alternatives:
            if code in primary_codes or code in seen_alts:
                continue
            seen_alts.add(code)
            rows.append(CandidateRow(code, None, "alternative", i,
                                     _candidate_features(cand, ctx, code, conf, "alternative", cues),
                                     _window(ctx.text, cand.evidence)))  # fmt: skip
    return rows


def note_row(ctx: CodingContext, line_probs: list[float], alt_probs: list[float], rule_confidences: list[float],
             cues: dict | None = None) -> dict:
    """The note model's input: how sure each line is, plus the note-level cues (`cues`:
    `_note_cues(ctx)` when the caller has it already)."""
    probs = line_probs or [1.0]
    return {
        "lines": len(line_probs),
        "empty": int(not line_probs),
        "min_prob": min(probs),
        "mean_prob": float(np.mean(probs)),
        "log_product": max(-10.0, float(np.sum(np.log(np.clip(probs, 1e-6, 1.0))))),
        "max_alternative_prob": max(alt_probs, default=0.0),
        "min_rule_confidence": min(rule_confidences, default=1.0),
        **(_note_cues(ctx) if cues is None else cues),
    }
