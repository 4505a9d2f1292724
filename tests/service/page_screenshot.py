"""Make the README's screenshot of the coder's page: `python -m tests.service.page_screenshot`.

Starts the real service on a free port with a throw-away feedback store, codes a train/dev
corpus note in Debian's headless Chromium at 1366x768, accepts the first code, selects one
and saves docs/coder-page.png.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright

from tests.service.browser_support import LAPTOP, REPO, corpus_note, ensure_chromium, launch_chromium, live_service


def make_screenshot(out: Path, note_id: str, select: int, accept: int | None) -> Path:
    """Code `note_id` on the page, accept CPT line `accept`, select CPT line `select`, save `out`."""
    note = corpus_note(note_id)
    chromium = ensure_chromium()
    with tempfile.TemporaryDirectory() as tmp, live_service(Path(tmp)) as service, sync_playwright() as pw:
        browser = launch_chromium(pw, chromium)
        page = browser.new_page(viewport=LAPTOP)
        page.goto(service.base_url + "/")
        page.fill("#coder", "AB")
        page.fill("#note-text", note["text"])
        page.click("#suggest")
        rows = page.locator('.code-row[data-system="CPT"]')
        rows.first.wait_for()
        if accept is not None:
            rows.nth(accept).locator('[data-action="accept"]').click()
            rows.nth(accept).locator(".decision-badge").wait_for()
        rows.nth(select).locator(".code-btn").click()
        page.mouse.move(0, LAPTOP["height"] - 1)  # no hover effect in the picture
        page.wait_for_timeout(800)  # the note view's smooth scroll settles
        out.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(out))
        browser.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "coder-page.png")
    parser.add_argument("--note", default="h9-023", help="train/dev corpus note id")
    parser.add_argument("--select", type=int, default=0, help="CPT line to select (0 = first)")
    parser.add_argument("--accept", type=int, default=None, help="CPT line to accept first")
    args = parser.parse_args()
    print(make_screenshot(args.out, args.note, args.select, args.accept))


if __name__ == "__main__":
    main()
