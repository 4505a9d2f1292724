"""The one engine behind every surface: `suggest(text) -> Suggestion`.

note text -> nlp pipeline (entities, context, frames) -> coding rules (candidates,
claim assembly) -> Suggestion. The CLI, the FastAPI app and the Spark job all call
`get_engine()` and then `suggest` / `suggest_many`, so the pipeline, tables and rules
are built once per process and speed work happens in one place.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Iterable, Iterator

from spacy.tokens import Doc

from dermcoder import __version__
from dermcoder.coding import facts, icd
from dermcoder.coding.icd_map import load_icd_map
from dermcoder.coding.rulebook import CodingContext, load_rules, run_rules
from dermcoder.coding.tables import load_tables
from dermcoder.contracts import (
    Alternative,
    CptSuggestion,
    Evidence,
    IcdSuggestion,
    LesionFrame,
    ModelInfo,
    NoteIn,
    text_problem,
    Query,
    Suggestion,
    Warning,
)
from dermcoder.errors import InputError, NoteTooLongError
from dermcoder.nlp._extensions import make_doc, note_text
from dermcoder.nlp.frames import Frame, Mention, pipeline_mentions
from dermcoder.nlp.pipeline import PIPELINE_VERSION, build_pipeline
from dermcoder.settings import get_settings
from dermcoder.training.model import RULES_ONLY, CodeScorer, NoteScores, load_model, model_name_from_env

# Rules only (DERMCODER_MODEL=none): a note is billed straight through only when every
# line is at least this confident. A trained artifact replaces it with its dev-tuned threshold.
STRAIGHT_THROUGH = 0.85
# A rule that codes around a missing fact marks its line at or below this confidence.
GUESSED = 0.4
MAX_RUN = 1_000
LONG_RUN = re.compile(rf"\S{{{MAX_RUN + 1}}}")


def _evidence(mentions: Iterable[Mention]) -> list[Evidence]:
    out: list[Evidence] = []
    seen: set[tuple[int, int]] = set()
    for m in mentions:
        if m is None or (m.start, m.end) in seen:
            continue
        seen.add((m.start, m.end))
        out.append(Evidence(start=m.start, end=m.end, text=m.text, label=m.label))
    return out


def _frame_record(frame: Frame, ctx: CodingContext, index: int) -> LesionFrame:
    site = facts.site_fact(frame)
    side = facts.side_fact(frame, site.evidence[0] if site else None)
    hist, source = facts.histology(frame)
    size = facts.lesion_size(frame)
    margin = facts.narrowest_margin(frame)
    rep = facts.repair_class(frame)
    length = facts.repair_length(frame)
    area = facts.defect_area(frame, ctx.text)
    groups = {}
    if site and site.value in ctx.tables.sites:
        groups = dict(ctx.tables.sites[site.value].groups)
    excised = None
    arithmetic = None
    if size and margin:
        excised = round(size.value + 2 * margin.value, 2)
        arithmetic = f"{size.value:g} + 2 x {margin.value:g} = {excised:g} cm"
    mentions = frame.procedures + frame.sites + frame.laterality + frame.histology + frame.path_histology + frame.sizes + frame.margins
    mentions += frame.areas + frame.repairs + frame.counts + frame.mohs_stages + frame.mohs_blocks
    stages: dict[int, int] = {}
    for m in frame.mohs_blocks:
        if m.role is not None:
            stages[int(m.role)] = int(m.value)
    return LesionFrame(
        label=frame.label or str(index + 1),
        site=site.value if site else None,
        laterality=side.value if side else None,
        anatomic_groups=groups,
        histology=hist.canonical if hist else None,
        histology_source="pathology" if source == "pathology" else ("clinical" if hist else None),
        procedure=frame.procedure,
        lesion_size_cm=size.value if size else None,
        margins_cm=[min(m.value) for m in frame.margins if m.active and m.value],
        narrowest_margin_cm=margin.value if margin else None,
        excised_diameter_cm=excised,
        excised_diameter_arithmetic=arithmetic,
        repair_type=rep.value if rep else None,
        repair_length_cm=length.value if length else None,
        area_sq_cm=area.value if area else None,
        mohs_stages=[stages[k] for k in sorted(stages)],
        count=None,
        context=sorted({c for m in mentions for c in m.context}),
        evidence=_evidence(sorted(mentions, key=lambda m: m.start)),
    )


class Engine:
    """Holds what is expensive to build (pipeline, tables, rules, scorer) for the life of a process.

    `model` is a shipped artifact name, an artifact folder, or "none" for rules only;
    None reads DERMCODER_MODEL (default: the shipped artifact).
    """

    def __init__(self, model: str | None = None) -> None:
        self.tables = load_tables()
        icd.warm()  # the ICD-10-CM index, before the first note
        load_icd_map()
        load_rules()
        self.nlp = build_pipeline()
        name = model if model is not None else model_name_from_env()
        self.scorer: CodeScorer | None = None if name == RULES_ONLY else load_model(name)
        self.model_info = ModelInfo(
            version=__version__, pipeline=PIPELINE_VERSION,
            name=self.scorer.name if self.scorer else "rules",
            artifact_version=self.scorer.version if self.scorer else None,
        )  # fmt: skip

    def _check(self, text: str) -> None:
        limit = get_settings().max_note_chars
        if len(text) > limit:
            raise NoteTooLongError(f"note is {len(text):,} characters; the limit is {limit:,} (DERMCODER_MAX_NOTE_CHARS)")
        # spaCy's own 1 M character guard protects parser/NER memory; this pipeline has
        # neither, so our setting is the only limit (else a 1-2 M note raised ValueError E088).
        if self.nlp.max_length < limit:
            self.nlp.max_length = limit
        problem = text_problem(text) if text.strip() else None  # an empty note is a valid, empty suggestion
        if problem:
            raise InputError(problem)
        # spaCy's tokenizer peels punctuation off a space-free run one character at a time
        # (quadratic: 10,000 "*" take 40 s); no clinical note has such a run, a pasted blob does.
        run = LONG_RUN.search(text)
        if run:
            raise InputError(f"note has more than {MAX_RUN:,} characters without a space or line break "
                             f"(from character {run.start():,}); that is not note text: check what was pasted")  # fmt: skip

    def suggest(self, text: str, note_id: str = "note") -> Suggestion:
        """Code one note. Raises InputError for text that breaks a limit or is not Unicode text."""
        self._check(text)
        return self._from_doc(self.nlp(make_doc(self.nlp, text)), note_id)

    def suggest_many(self, notes: Iterable[NoteIn], batch_size: int = 32) -> Iterator[Suggestion]:
        """Code many notes in order, one Suggestion per note (nlp.pipe batching)."""
        notes = list(notes)
        for note in notes:
            self._check(note.text)
        # Rules per note, then the scorer once for the whole batch: its fixed cost per call
        # was a third of the time per note (training/model.py, score_many).
        for start in range(0, len(notes), batch_size):
            part = notes[start : start + batch_size]
            docs = (make_doc(self.nlp, n.text) for n in part)
            ctxs = [self._context(doc) for doc in self.nlp.pipe(docs, batch_size=batch_size)]
            scores = self.scorer.score_many(ctxs) if self.scorer else [None] * len(ctxs)
            for note, ctx, score in zip(part, ctxs, scores):
                yield self._suggestion(ctx, note.id, score)

    def coding_context(self, text: str) -> CodingContext:
        """The rules' view of one note (frames, candidates, queries), before scoring."""
        self._check(text)
        return self._context(self.nlp(make_doc(self.nlp, text)))

    def _context(self, doc: Doc) -> CodingContext:
        frames: list[Frame] = doc._.frames or []
        return run_rules(note_text(doc), frames, pipeline_mentions(doc), self.tables)

    def _from_doc(self, doc: Doc, note_id: str) -> Suggestion:
        return self._suggestion(self._context(doc), note_id)

    def _suggestion(self, ctx: CodingContext, note_id: str, scores: NoteScores | None = None) -> Suggestion:
        if scores is None and self.scorer is not None:
            scores = self.scorer.score(ctx)
        penalty = 0.08 * len(ctx.queries)
        cpt: list[CptSuggestion] = []
        alternatives: list[Alternative] = []
        accepted = set()
        for i, cand in enumerate(ctx.candidates):
            rec = self.tables.cpt(cand.code)
            evidence = _evidence(cand.evidence)
            if not evidence:
                continue  # contract: every accepted suggestion carries evidence
            decision = "accept"
            if scores is None:
                confidence = max(0.05, min(0.99, cand.confidence - penalty))
            else:
                confidence = scores.line_probs[i]
                if confidence < self.scorer.thresholds.reject:
                    alternatives.append(Alternative(system="CPT", code=cand.code, confidence=confidence, units=cand.units,
                                                    rationale=f"set aside by the classifier: {cand.rationale}"))  # fmt: skip
                    continue
                if confidence < self.scorer.thresholds.review:
                    decision = "review"
                if cand.confidence <= GUESSED:
                    # the rule coded around a missing fact (its query is open): the classifier
                    # may agree with the conservative choice, but the line still needs a person
                    confidence, decision = min(confidence, cand.confidence), "review"
            cpt.append(CptSuggestion(
                code=cand.code, units=cand.units, modifiers=cand.modifiers, confidence=round(confidence, 4),
                description=rec.description if rec else cand.code, diagnoses=cand.diagnoses, evidence=evidence,
                rationale=cand.rationale, rule_id=cand.rule_id, decision=decision,
            ))  # fmt: skip
            accepted.add(cand.code)
        for cand in ctx.candidates:
            for code, conf, why in cand.alternatives:
                if code not in accepted and all(a.code != code for a in alternatives):
                    if scores is not None:
                        conf = scores.alternative_probs.get(code, conf)
                    alternatives.append(Alternative(system="CPT", code=code, confidence=round(conf, 4), rationale=why))
        alternatives.sort(key=lambda a: -a.confidence)
        icd_out: list[IcdSuggestion] = []
        seen_icd: set[str] = set()
        dx_sources = [d for i in sorted(ctx.frame_dx) for d in ctx.frame_dx[i]] + ctx.note_dx
        linked = {d for c in cpt for d in c.diagnoses}
        for code, mention, conf in dx_sources:
            if code in seen_icd or code not in linked or not icd.is_billable(code):
                continue
            seen_icd.add(code)
            evidence = _evidence([mention]) if mention is not None else []
            if not evidence:
                evidence = cpt[0].evidence[:1] if cpt else []
            if not evidence:
                continue
            icd_out.append(IcdSuggestion(code=code, confidence=conf, description=icd.description(code), evidence=evidence,
                                         rationale="final pathology" if conf >= 0.9 else "clinical diagnosis"))  # fmt: skip
        if scores is None:
            note_conf = min([c.confidence for c in cpt], default=0.9 if not ctx.queries else 0.5)
            straight = note_conf >= STRAIGHT_THROUGH and not ctx.queries
        else:
            note_conf = scores.note_confidence
            straight = note_conf >= self.scorer.thresholds.straight_through
        return Suggestion(
            id=note_id,
            cpt=cpt,
            icd10=icd_out,
            alternatives=alternatives[:10],
            queries=[Query(fact=q.fact, message=q.message, evidence=_evidence(q.evidence)) for q in ctx.queries],
            warnings=[Warning(code=w.code, message=w.message, evidence=_evidence(w.evidence)) for w in ctx.warnings],
            lesions=[_frame_record(f, ctx, i) for i, f in enumerate(ctx.frames)],
            note_confidence=round(note_conf, 4),
            straight_through=straight,
            model=self.model_info,
        )


@lru_cache(maxsize=1)
def get_engine() -> Engine:
    """The process-wide engine, built on first use."""
    return Engine()
