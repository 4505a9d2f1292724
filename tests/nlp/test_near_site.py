"""`_near_site` by bisection equals the scan of every anchor it replaced."""

from __future__ import annotations

import random

from dermcoder.nlp.sites import _near_site


def _plain(pos: int, anchors: list[int], after: bool, reach: int) -> bool:
    if after:
        return any(0 <= a - pos <= reach for a in anchors)
    return any(0 <= pos - a <= reach for a in anchors)


def test_near_site_equals_the_scan():
    rng = random.Random(9)
    for _ in range(3000):
        anchors = sorted(rng.sample(range(300), rng.randint(0, 25)))
        pos, reach, after = rng.randint(-5, 310), rng.choice([0, 1, 4, 14, 25]), rng.random() < 0.5
        assert _near_site(pos, anchors, after, reach) == _plain(pos, anchors, after, reach), (pos, anchors, after, reach)
