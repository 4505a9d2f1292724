"""List the mentions whose pipeline context disagrees with the gold label (train or dev only).

    .venv/bin/python scripts/context_disagreements.py --split train [--json OUT] [--status negated]

One row per disagreeing gold mention: note id, mention text and label, gold status + cue,
pipeline status + cue, and the sentence. Matching is that of `dermcoder spans`
(training/context.py): same offsets, else the first overlapping mention of the label.
The test split is refused: it is never read.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

from dermcoder.contracts import LabeledNote
from dermcoder.engine import get_engine
from dermcoder.jsonl import read_jsonl
from dermcoder.nlp.frames import mentions_from_doc
from dermcoder.training.context import CURRENT, mention_categories, primary_status
from dermcoder.training.corpus import CONTEXT_LABELS


def _sentence(doc, start: int, end: int) -> str:
    span = doc.char_span(start, end, alignment_mode="expand")
    if span is None:
        return doc.text[max(0, start - 80) : end + 80]
    return span.sent.text.strip()


def disagreements(notes, nlp, everything=False):
    rows = []
    for note, doc in zip(notes, nlp.pipe(n.text for n in notes)):
        exact, spans = {}, []
        for m in mentions_from_doc(doc):
            if m.label in CONTEXT_LABELS and m.role != "supporting":
                item = (mention_categories(m), m.cue or "", m.canonical or "")
                exact[(m.label, m.start, m.end)] = item
                spans.append((m.label, m.start, m.end, item))
        for ent in note.entities or []:
            gold = getattr(ent, "context", None)
            if not gold:
                continue
            item = exact.get((ent.label, ent.start, ent.end))
            if item is None:
                item = next((it for lab, s, e, it in spans if lab == ent.label and s < ent.end and ent.start < e), None)
            if item is None:
                continue
            cats, cue, canonical = item
            pred = primary_status(cats)
            agree = gold in cats if gold != CURRENT else pred == CURRENT
            if agree and not everything:
                continue
            rows.append({
                "id": note.id, "label": ent.label, "text": note.text[ent.start : ent.end], "start": ent.start,
                "gold": gold, "gold_cue": getattr(ent, "context_cue", "") or "", "pred": pred, "pred_cats": cats,
                "pred_cue": cue, "canonical": canonical, "agree": agree, "sentence": _sentence(doc, ent.start, ent.end),
            })  # fmt: skip
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--gold", default="corpus/sample/notes.jsonl")
    ap.add_argument("--split", required=True, choices=("train", "dev"))
    ap.add_argument("--json", help="also write the rows as JSON here")
    ap.add_argument("--all", action="store_true", help="every matched gold mention, agreeing or not (with --json)")
    ap.add_argument("--status", help="only rows whose gold or predicted status is this")
    args = ap.parse_args()
    notes, problems = read_jsonl(Path(args.gold), LabeledNote)
    if problems:
        sys.exit(f"{len(problems)} unreadable lines")
    notes = [n for n in notes if n.split == args.split]  # never the test split
    rows = disagreements(notes, get_engine().nlp, everything=args.all)
    if args.status:
        rows = [r for r in rows if args.status in (r["gold"], r["pred"])]
    for r in rows:
        if r["agree"]:
            continue
        print(f"{r['id']}\t{r['label']}\t{r['text']!r}\tgold={r['gold']}[{r['gold_cue']}]\tpred={r['pred']}[{r['pred_cue']}]"
              f"{' canon=' + r['canonical'] if r['canonical'] else ''}\n    {r['sentence'][:300]!r}")
    bad = [r for r in rows if not r["agree"]]
    print(Counter((r["gold"], r["pred"]) for r in bad).most_common(), file=sys.stderr)
    print(f"{len(bad)} disagreements", file=sys.stderr)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
