"""Diagnosis selection details: history codes only for surveillance done at this visit."""

import pytest


@pytest.mark.parametrize("text, today", [
    ("F/u h/o melanoma in situ, surveillance skin check: no evidence of recurrence.", True),
    ("H/o MIS: next surveillance as scheduled; no exam today.", False),
    ("Problem list: H/o MIS left calf 2016 (surveillance annual, last 4 months ago)", False),
], ids=["today", "next-time", "last-time"])  # fmt: skip
def test_surveillance_must_be_this_visits(text, today):
    from dermcoder.coding.diagnoses import _surveillance_today

    assert _surveillance_today(text) == today
