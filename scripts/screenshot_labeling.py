"""Screenshots of the labeling page and its admin view (docs/labeling.png, docs/labeling-admin.png).

Against a running gateway (`t2ialign serve`, or the one tests/coordinator/test_labeling_page.py starts when
T2IALIGN_SCREENSHOTS=docs is set), in Debian's headless chromium driven by Playwright (no browser download):

    python scripts/screenshot_labeling.py --url http://127.0.0.1:8000 --page label --key <rater key> --round <id> \
        --out docs/labeling.png
    python scripts/screenshot_labeling.py --url http://127.0.0.1:8000 --page admin --key <admin key> \
        --out docs/labeling-admin.png

Opening the label page hands the rater its next tasks, as any visit would; it labels nothing.
"""

from __future__ import annotations

import argparse
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", required=True, help="the gateway, e.g. http://127.0.0.1:8000")
    ap.add_argument("--page", choices=("label", "admin"), required=True)
    ap.add_argument("--key", required=True, help="a rater key (label) or an admin key (admin)")
    ap.add_argument("--round", default="", help="round id for the label page (empty = the current round)")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--width", type=int, default=1180)
    args = ap.parse_args()

    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        page = browser.new_page(viewport={"width": args.width, "height": 900})
        if args.page == "label":
            page.goto(f"{args.url}/label?round={args.round}#key={args.key}")
            page.wait_for_selector("[data-image-key] img")
            page.wait_for_function("[...document.images].every(i => i.complete && i.naturalWidth > 0)")
            first = page.locator("[data-image-key]").first
            first.locator('[data-label="good"]').click()  # one choice made (not sent: the batch is not complete)
        else:
            page.goto(f"{args.url}/label/admin#key={args.key}")
            page.wait_for_selector("[data-round]")
        args.out.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(args.out), full_page=True)
        browser.close()
    print(args.out)


if __name__ == "__main__":
    main()
