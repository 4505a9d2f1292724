"""POST /v1/suggest codes one note at a time per process, in arrival order (service/coding_lane.py)."""

from __future__ import annotations

import inspect
import threading
import time

from dermcoder.service import deps

NOTE = "Shave biopsy of a 0.6 cm pigmented papule on the left upper back. Hemostasis with AlCl3."


def test_concurrent_requests_are_coded_one_at_a_time(client, engine, monkeypatch):
    coding = 0
    most = 0
    lock = threading.Lock()
    real_suggest = engine.suggest

    def counting_suggest(text, note_id="note"):
        nonlocal coding, most
        with lock:
            coding += 1
            most = max(most, coding)
        try:
            time.sleep(0.05)  # long enough for the other requests to arrive meanwhile
            return real_suggest(text, note_id)
        finally:
            with lock:
                coding -= 1

    monkeypatch.setattr(engine, "suggest", counting_suggest)
    statuses: list[int] = []

    def post(k: int) -> None:
        statuses.append(client.post("/v1/suggest", json={"id": f"c{k}", "text": NOTE}).status_code)

    threads = [threading.Thread(target=post, args=(k,)) for k in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert statuses == [200] * 6
    assert most == 1


def test_the_lane_is_one_note_wide(client):
    lane = client.app.state.coding_lane
    assert lane.total_tokens == 1


def test_route_dependencies_run_on_the_event_loop():
    """A plain `def` provider would cost a thread-pool hop per request (waiting for the GIL)."""
    for provider in (deps._engine, deps._store, deps._settings):
        assert inspect.iscoroutinefunction(provider)
