"""Calibration: expected calibration error, coverage at a target exactness, reliability plots.

A confidence is calibrated when, of all the lines given 0.8, about 80% are right. ECE is
the bin-weighted mean gap |accuracy - mean confidence| over equal-width bins; the
reliability plot draws the same bins against the diagonal.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

BINS = 10


@dataclass
class ReliabilityBin:
    low: float
    high: float
    count: int
    mean_confidence: float | None
    accuracy: float | None


def reliability_bins(confidences, outcomes, bins: int = BINS) -> list[ReliabilityBin]:
    """Equal-width bins over [0, 1]; the last bin includes 1.0."""
    conf = np.asarray(confidences, dtype=float)
    hit = np.asarray(outcomes, dtype=float)
    edges = np.linspace(0.0, 1.0, bins + 1)
    index = np.clip(np.digitize(conf, edges[1:-1], right=False), 0, bins - 1)
    out = []
    for b in range(bins):
        mask = index == b
        n = int(mask.sum())
        out.append(ReliabilityBin(float(edges[b]), float(edges[b + 1]), n,
                                  float(conf[mask].mean()) if n else None, float(hit[mask].mean()) if n else None))  # fmt: skip
    return out


def expected_calibration_error(confidences, outcomes, bins: int = BINS) -> float | None:
    """Sum over bins of (bin share) x |accuracy - mean confidence|; None with no items."""
    total = len(confidences)
    if total == 0:
        return None
    return float(sum(b.count / total * abs(b.accuracy - b.mean_confidence)
                     for b in reliability_bins(confidences, outcomes, bins) if b.count))  # fmt: skip


def lowest_threshold(confidences, outcomes, target: float) -> float | None:
    """The lowest confidence t at which the items with confidence >= t are at least `target`
    right (None when no cut-off reaches it). The widest cut-off meeting the target."""
    conf = np.asarray(confidences, dtype=float)
    hit = np.asarray(outcomes, dtype=float)
    best = None
    for t in np.unique(conf)[::-1]:
        if hit[conf >= t].mean() >= target:
            best = float(t)
    return best


def best_coverage(confidences, outcomes, target: float = 0.97) -> tuple[float, float | None]:
    """Largest share of items above one confidence cut-off whose accuracy is >= target.

    An oracle on the scored set itself: it says how well the confidences *rank* notes,
    while the artifact's own dev-tuned threshold says what an operator would get.
    """
    t = lowest_threshold(confidences, outcomes, target)
    if t is None:
        return 0.0, None
    conf = np.asarray(confidences, dtype=float)
    above = conf >= t
    return float(above.mean()), float(np.asarray(outcomes, dtype=float)[above].mean())


def reliability_plot(confidences, outcomes, path: Path, title: str) -> Path:
    """Write a reliability diagram (PNG): accuracy per confidence bin against the diagonal."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    bins = reliability_bins(confidences, outcomes)
    ece = expected_calibration_error(confidences, outcomes)
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(5, 6), gridspec_kw={"height_ratios": [3, 1]}, sharex=True)
    top.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfect calibration")
    filled = [b for b in bins if b.count]
    top.bar([(b.low + b.high) / 2 for b in filled], [b.accuracy for b in filled], width=1 / BINS * 0.9,
            color="#3b6ea8", alpha=0.8, label="observed accuracy")  # fmt: skip
    top.plot([b.mean_confidence for b in filled], [b.accuracy for b in filled], "o", color="#c0392b", label="accuracy at the bin's mean confidence")
    top.set_ylim(0, 1)
    top.set_ylabel("share right")
    top.set_title(f"{title}\nECE {ece:.3f} over {len(confidences)} items" if ece is not None else title)
    top.legend(loc="upper left", fontsize=8)
    bottom.bar([(b.low + b.high) / 2 for b in bins], [b.count for b in bins], width=1 / BINS * 0.9, color="#7f8c8d")
    bottom.set_xlim(0, 1)
    bottom.set_xlabel("confidence")
    bottom.set_ylabel("items")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
