"""ECE, best coverage and the reliability plot, on items whose numbers are worked out below."""

from __future__ import annotations

import pytest

from dermcoder.contracts import LabeledNote, PredictionIn
from dermcoder.training.calibration import best_coverage, expected_calibration_error, reliability_bins, reliability_plot
from dermcoder.training.evaluate import calibration_items, evaluate


def test_ece_by_hand():
    # bin [0.9, 1.0]: confidences 0.95, 0.95 -> mean 0.95, accuracy 1/2 -> gap 0.45, share 2/4
    # bin [0.2, 0.3): confidences 0.25, 0.25 -> mean 0.25, accuracy 0/2 -> gap 0.25, share 2/4
    ece = expected_calibration_error([0.95, 0.95, 0.25, 0.25], [1, 0, 0, 0])
    assert ece == pytest.approx(0.5 * 0.45 + 0.5 * 0.25)


def test_perfectly_calibrated_items_have_zero_ece():
    assert expected_calibration_error([1.0, 1.0, 0.0], [1, 1, 0]) == pytest.approx(0.0)


def test_no_items_has_no_ece():
    assert expected_calibration_error([], []) is None


def test_one_point_zero_falls_in_the_last_bin():
    bins = reliability_bins([1.0, 0.0], [1, 0])
    assert bins[-1].count == 1 and bins[0].count == 1


def test_best_coverage_picks_the_widest_cut_meeting_the_target():
    # sorted by confidence: 0.9 right, 0.8 right, 0.7 wrong, 0.6 right
    # cut 0.8 -> 2/2 right, coverage 0.5; cut 0.7 -> 2/3 (< 0.97); cut 0.6 -> 3/4
    coverage, exact = best_coverage([0.9, 0.8, 0.7, 0.6], [1, 1, 0, 1])
    assert coverage == pytest.approx(0.5) and exact == pytest.approx(1.0)


def test_calibration_items_and_report_fields():
    gold = [LabeledNote(id="a", text="t", cpt=[{"code": "11102"}]),
            LabeledNote(id="b", text="t", cpt=[{"code": "17000"}, {"code": "17003", "units": 3}])]  # fmt: skip
    pred = [PredictionIn(id="a", cpt=[{"code": "11102", "units": 1, "confidence": 0.9}], note_confidence=0.9),
            PredictionIn(id="b", cpt=[{"code": "17000", "units": 1, "confidence": 0.8},
                                      {"code": "17003", "units": 2, "confidence": 0.6}], note_confidence=0.5)]  # fmt: skip
    items = calibration_items(gold, pred)
    assert items.line_right == [1, 1, 0]  # 17003 has the wrong units
    assert items.note_exact == [1, 0]
    report = evaluate(gold, pred)
    # note bins: 0.9 right (gap 0.1), 0.5 wrong (gap 0.5) -> ECE 0.3
    assert report.note_ece == pytest.approx(0.3)
    assert report.coverage_at_97 == pytest.approx(0.5)


def test_reliability_plot_writes_a_png(tmp_path):
    path = reliability_plot([0.9, 0.2, 0.6], [1, 0, 1], tmp_path / "sub" / "plot.png", "test")
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000
