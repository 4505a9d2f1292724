"""The pipeline as a whole: registered factories, save/load round trip, and no note text in logs."""

import logging

from dermcoder.nlp.frames import mentions_from_doc
from dermcoder.nlp.pipeline import PIPE_NAMES, build_pipeline, load_pipeline

NOTE = "PHIMARKER-7731 Shave biopsy of a 6 mm papule, left nasal ala; r/o BCC. No hx of melanoma."


def test_pipeline_components_are_registered_factories(nlp):
    assert tuple(nlp.pipe_names) == PIPE_NAMES


def test_pipeline_round_trip_to_disk(tmp_path, nlp):
    nlp.to_disk(tmp_path / "pipe")
    assert (tmp_path / "pipe" / "derm_context" / "context_rules.json").exists()
    loaded = load_pipeline(tmp_path / "pipe")
    before = [(m.label, m.start, m.end, m.canonical, tuple(m.context)) for m in mentions_from_doc(nlp(NOTE))]
    after = [(m.label, m.start, m.end, m.canonical, tuple(m.context)) for m in mentions_from_doc(loaded(NOTE))]
    assert before == after and before


def test_pipeline_loads_its_own_saved_data(tmp_path, nlp):
    import json

    nlp.to_disk(tmp_path / "pipe")
    rules = tmp_path / "pipe" / "derm_context" / "context_rules.json"
    data = json.loads(rules.read_text())
    data["context_rules"] = [r for r in data["context_rules"] if r["literal"] != "r/o"]
    rules.write_text(json.dumps(data))
    loaded = load_pipeline(tmp_path / "pipe")
    bcc = [m for m in mentions_from_doc(loaded(NOTE)) if m.text == "BCC"][0]
    assert "uncertain" not in bcc.context  # the saved copy, not the packaged one, was used


def test_pipeline_writes_no_note_text_to_logs(caplog, capfd):
    from loguru import logger

    sink: list[str] = []
    caplog.set_level(logging.DEBUG)
    nlp = build_pipeline()  # removes loguru's default sink (PyRuSH logs tokens at DEBUG)
    handler_id = logger.add(lambda msg: sink.append(str(msg)), level="DEBUG")
    try:
        nlp(NOTE)
    finally:
        logger.remove(handler_id)
    captured = capfd.readouterr()
    assert "PHIMARKER" not in caplog.text
    assert "PHIMARKER" not in captured.err and "PHIMARKER" not in captured.out
    assert not any("PHIMARKER" in s for s in sink)
