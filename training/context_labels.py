"""Gold context labels merged into the corpus: each labeled entity gains `context` and `context_cue`.

Label files are JSONL, one object per note: `{"id", "context": [{"start", "end", "label",
"text", "status", "cue"}]}` (the format of corpus/annotation-guide.md, "Context labels").
Every label must name an entity the note already has (same offsets, label and text), so a
label written against an older version of the note is refused, not attached to the wrong
words. Nothing is written unless every file checks out.
"""

from __future__ import annotations

import json
from pathlib import Path

from dermcoder.training.corpus import CONTEXT_LABELS, CONTEXT_STATUSES


def _labels(path: Path) -> list[tuple[str, dict]]:
    out = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if line.strip():
            rec = json.loads(line)
            for lab in rec.get("context") or []:
                out.append((f"{path}:{number}", {"id": rec["id"], **lab}))
    return out


def merge_context_labels(corpus_path: Path, label_files: list[Path]) -> tuple[int, list[str]]:
    """Attach every label to its entity in the corpus (rewritten in place); returns (labeled, problems)."""
    records = [json.loads(line) for line in corpus_path.read_text(encoding="utf-8").splitlines() if line.strip()]
    by_id = {r["id"]: r for r in records}
    problems: list[str] = []
    updates: list[tuple[dict, str, str]] = []
    for path in label_files:
        for where, lab in _labels(path):
            note = by_id.get(lab["id"])
            if note is None:
                problems.append(f"{where}: note {lab['id']} is not in {corpus_path}")
                continue
            if lab.get("status") not in CONTEXT_STATUSES or lab.get("label") not in CONTEXT_LABELS:
                problems.append(f"{where}: {lab['id']} {lab.get('label')} {lab.get('status')!r}: label or status not allowed")
                continue
            match = [e for e in note.get("entities") or []
                     if (e["start"], e["end"], e["label"]) == (lab.get("start"), lab.get("end"), lab["label"])]  # fmt: skip
            if not match or note["text"][lab["start"]:lab["end"]] != lab.get("text"):
                problems.append(f"{where}: {lab['id']} has no {lab['label']} entity {lab.get('text')!r} at {lab.get('start')}-{lab.get('end')}")
                continue
            updates.append((match[0], lab["status"], lab.get("cue") or ""))
    if problems:
        return 0, problems
    for entity, status, cue in updates:
        entity["context"] = status
        if cue:
            entity["context_cue"] = cue
        else:
            entity.pop("context_cue", None)
    corpus_path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return len(updates), []
