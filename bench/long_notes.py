"""How coding time grows with note length (the pipeline must stay near-linear).

    python bench/long_notes.py [SIZE ...]      # characters; default 10k 80k 250k 1M

Each note is real corpus text (every note, joined, repeated) cut to the size: dense with
entities, the worst case for the rules. Prints seconds per note and per 100 k characters.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

CORPUS = Path(__file__).resolve().parent.parent / "corpus" / "sample" / "notes.jsonl"


def main() -> None:
    from dermcoder.engine import get_engine

    sizes = [int(s) for s in sys.argv[1:]] or [10_000, 80_000, 250_000, 1_000_000]
    notes = [json.loads(line)["text"] for line in CORPUS.read_text(encoding="utf-8").splitlines() if line.strip()]
    text = "\n\n".join(notes)
    engine = get_engine()
    engine.suggest(notes[0])  # warm up
    for size in sizes:
        note = (text * (size // len(text) + 1))[:size]
        started = time.perf_counter()
        s = engine.suggest(note, "long")
        took = time.perf_counter() - started
        print(f"{size:>9,} chars: {took:7.2f} s ({took / size * 100_000:5.2f} s per 100 k), "
              f"{len(s.lesions)} lesion frames, {len(s.cpt)} CPT lines", flush=True)


if __name__ == "__main__":
    main()
