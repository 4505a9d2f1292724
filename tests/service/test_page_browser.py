"""End to end: the coder's page in Debian's headless Chromium against the real service.

The service runs with uvicorn in a subprocess on a free 127.0.0.1 port with a temporary
SQLite feedback store; every expectation about codes and evidence comes from a direct call
to the same service, never from a hard-coded string. Chromium is installed by
tests/setup/install_chromium.sh when missing; if that fails the test FAILS, unless
DERMCODER_SKIP_BROWSER=1 asks to skip it.
"""

from __future__ import annotations

import os

import pytest

from tests.service.browser_support import (
    LAPTOP,
    BrowserUnavailable,
    corpus_note,
    ensure_chromium,
    launch_chromium,
    live_service,
    merged_ranges,
)

if os.environ.get("DERMCODER_SKIP_BROWSER") == "1":
    pytest.skip("browser test skipped: DERMCODER_SKIP_BROWSER=1", allow_module_level=True)

from playwright.sync_api import Page, expect, sync_playwright  # noqa: E402 - after the opt-out

# A dev note with two excisions, two repairs and two diagnoses whose evidence overlaps.
MULTI_CODE_NOTE = "h2-016"
# A train note whose suggestion carries questions for the provider.
QUERY_NOTE = "h9-023"
MAX_NOTE_CHARS = 20_000

# Untrusted markup in a note must show as text. The emoji before the evidence makes Python's
# code-point offsets differ from JavaScript's UTF-16 indices.
HOSTILE_NOTE = (
    "\U0001f600 Note for <b>bold</b> &amp; <script>window.__pwned = 1</script>\n"
    "Procedure: shave removal of a 0.6 cm seborrheic keratosis on the left cheek "
    '<img src=x onerror="window.__pwned = 2">. Hemostasis with aluminum chloride.\n'
)


# ---------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def chromium_path():
    try:
        return ensure_chromium()
    except BrowserUnavailable as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    with live_service(tmp_path_factory.mktemp("page"), {"DERMCODER_MAX_NOTE_CHARS": str(MAX_NOTE_CHARS)}) as svc:
        yield svc


@pytest.fixture(scope="module")
def browser(chromium_path):
    with sync_playwright() as pw:
        browser = launch_chromium(pw, chromium_path)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, service):
    """A fresh laptop-sized page on the coder's page; fails the test on any request that
    leaves the service and on any script error."""
    context = browser.new_context(viewport=LAPTOP)
    page = context.new_page()
    page.set_default_timeout(20_000)
    outside: list[str] = []
    errors: list[str] = []
    page.on("request", lambda r: None if r.url.startswith((service.base_url, "data:")) else outside.append(r.url))
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(service.base_url + "/")
    yield page
    context.close()
    assert not outside, f"the page requested something outside the service: {outside}"
    assert not errors, f"script errors on the page: {errors}"


# ---------------------------------------------------------------- helpers


def suggest_via_api(service, text: str) -> dict:
    status, body = service.post_json("/v1/suggest", {"id": "direct", "text": text})
    assert status == 200, body
    return body


def code_in_page(page: Page, text: str) -> dict:
    """Paste the note, press the button; return the suggestion the page received."""
    page.fill("#note-text", text)
    with page.expect_response(lambda r: r.url.endswith("/v1/suggest")) as answer:
        page.click("#suggest")
    body = answer.value.json()
    expect(page.locator("#output")).to_be_visible()
    return body


def marked_texts(page: Page) -> list[str]:
    return page.locator("#note-view mark.sel").all_text_contents()


def expected_marks(text: str, evidence: list[dict]) -> list[str]:
    return [text[a:b] for a, b in merged_ranges(evidence)]


def row(page: Page, system: str, code: str):
    return page.locator(f'.code-row[data-system="{system}"][data-code="{code}"]')


def mark_pieces(page: Page) -> list[tuple[int, int, list[str]]]:
    """Each <mark> in the note view: its offsets in the note and the keys of the codes it shows."""
    return page.eval_on_selector(
        "#note-view",
        """v => { let at = 0; const out = [];
                 for (const n of v.childNodes) { const len = n.textContent.length;
                   if (n.nodeName === 'MARK') out.push([at, at + len, n.dataset.keys.split(' ')]);
                   at += len; }
                 return out; }""",
    )


def stored_decisions(service, audit_id: str) -> list[dict]:
    status, body = service.get_json(f"/v1/feedback/{audit_id}")
    assert status == 200, body
    return body["decisions"]


def tab_to(page: Page, selector: str, limit: int = 40, back: bool = False) -> None:
    """Press Tab (or Shift+Tab) until the focused element matches `selector`."""
    for _ in range(limit):
        if page.evaluate("s => !!document.activeElement && document.activeElement.matches(s)", selector):
            return
        page.keyboard.press("Shift+Tab" if back else "Tab")
    raise AssertionError(f"{selector} not reached with the keyboard in {limit} presses")


# ---------------------------------------------------------------- tests


def test_page_browser_codes_a_note_and_highlights_each_codes_evidence(page, service):
    note = corpus_note(MULTI_CODE_NOTE)
    direct = suggest_via_api(service, note["text"])
    assert len(direct["cpt"]) >= 2 and direct["icd10"], "the multi-code note should give several codes"

    shown = code_in_page(page, note["text"])
    assert shown["audit_id"]

    cpt_rows = page.locator('.code-row[data-system="CPT"]')
    icd_rows = page.locator('.code-row[data-system="ICD10CM"]')
    assert cpt_rows.evaluate_all("rs => rs.map(r => r.dataset.code)") == [c["code"] for c in direct["cpt"]]
    assert icd_rows.evaluate_all("rs => rs.map(r => r.dataset.code)") == [c["code"] for c in direct["icd10"]]
    first = direct["cpt"][0]
    head = cpt_rows.first.inner_text()
    assert first["code"] in head and f"{round(first['confidence'] * 100)}%" in head and f"× {first['units']}" in head
    assert first["description"] in cpt_rows.first.inner_text()
    expect(page.locator("#st-badge")).to_have_text("Straight-through" if direct["straight_through"] else "Coder review")

    # Selecting each code marks exactly its evidence, as offsets into the note the API returned.
    for system, line in [("CPT", c) for c in direct["cpt"]] + [("ICD10CM", c) for c in direct["icd10"]]:
        row(page, system, line["code"]).locator(".code-btn").click()
        expect(row(page, system, line["code"]).locator(".code-btn")).to_have_attribute("aria-pressed", "true")
        marks = marked_texts(page)
        assert marks == expected_marks(note["text"], line["evidence"]), line["code"]
        joined = "\n".join(marks)
        assert all(e["text"] in joined for e in line["evidence"])
    assert page.locator("#note-view").text_content() == note["text"]
    assert page.evaluate("localStorage.length + sessionStorage.length") == 0, "the note must not be kept in the browser"

    # Evidence for all codes: every code's marks cover exactly its own spans, overlaps included.
    page.check("#show-all")
    pieces = mark_pieces(page)
    items = [(f"cpt-{i}", c) for i, c in enumerate(direct["cpt"])] + [(f"icd-{i}", c) for i, c in enumerate(direct["icd10"])]
    for key, line in items:
        covered = merged_ranges([{"start": a, "end": b} for a, b, keys in pieces if key in keys])
        assert covered == merged_ranges(line["evidence"]), line["code"]
    assert any(len(keys) > 1 for _, _, keys in pieces), "the note's shared evidence should show as one striped mark"

    # The size arithmetic per lesion: lesion + 2 x margin = excised diameter.
    lesions = page.locator("#lesions > li")
    frames = [f for f in direct["lesions"] if f.get("excised_diameter_cm") is not None]
    assert frames
    for i, frame in enumerate(direct["lesions"]):
        if frame.get("excised_diameter_cm") is None:
            continue
        text = lesions.nth(i).inner_text()
        assert f"{frame['lesion_size_cm']:g} cm lesion + 2 × {frame['narrowest_margin_cm']:g} cm margin = {frame['excised_diameter_cm']:g} cm" in text


def test_page_browser_accept_and_override_are_stored(page, service):
    note = corpus_note(MULTI_CODE_NOTE)
    page.fill("#coder", "TST")
    shown = code_in_page(page, note["text"])
    audit_id = shown["audit_id"]
    accepted, overridden = shown["cpt"][0], shown["cpt"][1]
    assert stored_decisions(service, audit_id) == []

    row(page, "CPT", accepted["code"]).locator('[data-action="accept"]').click()
    expect(row(page, "CPT", accepted["code"]).locator(".decision-badge.accepted")).to_be_visible()
    expect(page.locator("#status")).to_contain_text("Stored")

    target = row(page, "CPT", overridden["code"])
    target.locator('[data-action="override"]').click()
    code_input = target.locator('input[name="replacement_code"]')
    expect(code_input).to_be_focused()
    # A malformed code is refused in the row, and nothing is sent.
    code_input.fill("12")
    target.get_by_role("button", name="Save override").click()
    expect(target.locator(".field-error")).to_contain_text("five characters")
    expect(code_input).to_have_attribute("aria-invalid", "true")
    replacement = next(a["code"] for a in shown["alternatives"] if a["system"] == "CPT" and a["code"] != overridden["code"])
    code_input.fill(replacement.lower())
    target.get_by_role("button", name="Save override").click()
    expect(target.locator(".decision-badge.overridden")).to_contain_text(replacement)

    decisions = stored_decisions(service, audit_id)
    assert [(d["system"], d["code"], d["decision"]) for d in decisions] == [
        ("CPT", accepted["code"], "accepted"),
        ("CPT", overridden["code"], "overridden"),
    ]
    assert decisions[0]["coder"] == "TST" and decisions[0]["units"] == accepted["units"]
    assert decisions[1]["replacement_code"] == replacement


def test_page_browser_accept_all_stores_every_open_code(page, service):
    note = corpus_note(QUERY_NOTE)
    shown = code_in_page(page, note["text"])
    # Questions for the provider are shown in words, with what is missing.
    assert shown["queries"], "the query note should raise a question"
    issues = page.locator("#issues")
    for query in shown["queries"]:
        expect(issues).to_contain_text(query["message"])
    page.click("#accept-all")
    expect(page.locator(".decision-badge.accepted")).to_have_count(len(shown["cpt"]) + len(shown["icd10"]))
    expect(page.locator("#accept-all")).to_be_hidden()
    stored = stored_decisions(service, shown["audit_id"])
    assert sorted((d["system"], d["code"]) for d in stored) == sorted(
        [("CPT", c["code"]) for c in shown["cpt"]] + [("ICD10CM", c["code"]) for c in shown["icd10"]]
    )
    assert {d["decision"] for d in stored} == {"accepted"}


def test_page_browser_partly_overlapping_spans(page, service):
    """Spans that overlap in part, within one code and across codes, are cut into pieces that
    each know every code covering them. The real answer is reshaped so that its spans overlap."""
    text = corpus_note(MULTI_CODE_NOTE)["text"]
    answer = suggest_via_api(service, text)

    def span(a: int, b: int) -> dict:
        return {"start": a, "end": b, "text": text[a:b], "label": "TEST"}

    answer["cpt"][0]["evidence"] = [span(40, 70), span(60, 90), span(120, 130)]
    answer["icd10"][0]["evidence"] = [span(50, 65), span(85, 125)]
    page.route("**/v1/suggest", lambda route: route.fulfill(json=answer))
    code_in_page(page, text)

    row(page, "CPT", answer["cpt"][0]["code"]).locator(".code-btn").click()
    assert marked_texts(page) == [text[40:90], text[120:130]]
    page.check("#show-all")
    pieces = mark_pieces(page)
    for key, line in (("cpt-0", answer["cpt"][0]), ("icd-0", answer["icd10"][0])):
        covered = merged_ranges([{"start": a, "end": b} for a, b, keys in pieces if key in keys])
        assert covered == merged_ranges(line["evidence"]), key
    shared = [(a, b) for a, b, keys in pieces if {"cpt-0", "icd-0"} <= set(keys)]
    assert shared == [(50, 65), (85, 90), (120, 125)]
    assert page.locator('#note-view mark.multi[data-keys~="cpt-0"][data-keys~="icd-0"]').count() == len(shared)


def test_page_browser_untrusted_note_renders_as_text(page, service):
    direct = suggest_via_api(service, HOSTILE_NOTE)
    assert direct["cpt"], "the hostile note should still be coded"
    code_in_page(page, HOSTILE_NOTE)
    view = page.locator("#note-view")
    assert view.text_content() == HOSTILE_NOTE
    assert view.locator("script, img, b").count() == 0
    assert page.locator("img").count() == 0
    assert page.evaluate("window.__pwned === undefined")
    # Offsets are code points: the marks still fall on the evidence after the emoji.
    first = direct["cpt"][0]
    row(page, "CPT", first["code"]).locator(".code-btn").click()
    assert marked_texts(page) == expected_marks(HOSTILE_NOTE, first["evidence"])


def test_page_browser_keyboard_only(page, service):
    note = corpus_note(MULTI_CODE_NOTE)
    direct = suggest_via_api(service, note["text"])
    tab_to(page, "#note-text")
    page.keyboard.insert_text(note["text"])
    tab_to(page, "#suggest", back=True)
    with page.expect_response(lambda r: r.url.endswith("/v1/suggest")) as answer:
        page.keyboard.press("Enter")
    audit_id = answer.value.json()["audit_id"]
    expect(page.locator(".code-row").first).to_be_visible()

    tab_to(page, ".code-btn")
    page.keyboard.press("ArrowDown")
    second = direct["cpt"][1]
    focused = page.evaluate("document.activeElement.closest('.code-row').dataset.code")
    assert focused == second["code"]
    expect(row(page, "CPT", second["code"]).locator(".code-btn")).to_have_attribute("aria-pressed", "true")
    assert marked_texts(page) == expected_marks(note["text"], second["evidence"])

    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.dataset.action") == "accept"
    assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") != "none", "focus must be visible"
    page.keyboard.press("Enter")
    expect(row(page, "CPT", second["code"]).locator(".decision-badge.accepted")).to_be_visible()
    assert [(d["code"], d["decision"]) for d in stored_decisions(service, audit_id)] == [(second["code"], "accepted")]


def test_page_browser_service_errors_are_shown(page, service):
    # Nothing to code: said on the page, in view even with the results scrolled, nothing sent.
    code_in_page(page, corpus_note(QUERY_NOTE)["text"])
    page.eval_on_selector("#results", "r => { r.scrollTop = r.scrollHeight; }")
    page.click("#edit-note")
    page.fill("#note-text", "   \n ")
    page.click("#suggest")
    expect(page.locator("#error")).to_contain_text("no text to code")
    expect(page.locator("#error")).to_be_in_viewport()
    # Over the service's limit: the service's 413 is shown in words, the note is kept.
    long_note = corpus_note(MULTI_CODE_NOTE)["text"] * (MAX_NOTE_CHARS // 500)
    assert len(long_note) > MAX_NOTE_CHARS
    page.fill("#note-text", long_note)
    with page.expect_response(lambda r: r.url.endswith("/v1/suggest")) as answer:
        page.click("#suggest")
    assert answer.value.status == 413
    error = page.locator("#error")
    expect(error).to_be_visible()
    expect(error).to_contain_text("too long")
    expect(error).to_have_attribute("role", "alert")
    expect(page.locator("#note-text")).to_have_value(long_note)
    expect(page.locator("#suggest")).to_be_enabled()


def test_page_browser_opens_a_text_file(page, service, tmp_path):
    note = corpus_note(QUERY_NOTE)
    path = tmp_path / "note.txt"
    path.write_text(note["text"], encoding="utf-8")
    page.set_input_files("#note-file", str(path))
    expect(page.locator("#note-text")).to_have_value(note["text"])


def test_page_browser_fits_a_laptop_screen(page, service):
    code_in_page(page, corpus_note(MULTI_CODE_NOTE)["text"])
    size = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.scrollHeight]")
    assert size[0] <= LAPTOP["width"] and size[1] <= LAPTOP["height"], size
    for selector in ("#suggest", ".code-row >> nth=0", "#note-view mark.sel >> nth=0"):
        box = page.locator(selector).bounding_box()
        assert box and box["y"] >= 0 and box["y"] + box["height"] <= LAPTOP["height"], selector


def test_page_browser_service_log_holds_no_note_text(page, service):
    note = corpus_note(MULTI_CODE_NOTE)
    code_in_page(page, note["text"])
    log = service.log.read_text(errors="replace")
    assert "/v1/suggest" in log, "the access log should be on, or this check proves nothing"
    for line in note["text"].splitlines():
        if len(line.strip()) >= 20:
            assert line.strip() not in log
