"""Screenshots of the dashboard and a team page for the README at 1440 and 390 px, from a running `make run`.

HELIOX_ADMIN_PASSWORD=... make run        # in one terminal (fresh database: demo data)
.venv/bin/python docs/screenshots.py      # in another; needs Chromium at /usr/bin/chromium
"""

import os
import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

BASE = os.environ.get("HELIOX_URL", "http://127.0.0.1:8000")
OUT = Path(__file__).resolve().parent


def main() -> None:
    password = os.environ.get("HELIOX_ADMIN_PASSWORD")
    if not password:
        sys.exit("Set HELIOX_ADMIN_PASSWORD to the admin password that make run printed or used.")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"),
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        written = []
        for width, suffix in ((1440, ""), (390, "-390")):
            page = browser.new_page(viewport={"width": width, "height": 900})
            page.goto(f"{BASE}/admin/login/")
            page.fill("#id_username", "admin")
            page.fill("#id_password", password)
            page.click("input[type=submit]")
            page.goto(f"{BASE}/admin/?range=last-90")
            page.wait_for_function("() => window.helioxCharts && Object.keys(window.helioxCharts).length === 5")
            page.screenshot(path=str(OUT / f"dashboard{suffix}.png"), full_page=True)
            page.click("#hx-teams a >> nth=0")
            page.wait_for_function("() => window.helioxCharts && window.helioxCharts.team_daily")
            page.screenshot(path=str(OUT / f"team{suffix}.png"), full_page=True)
            written += [OUT / f"dashboard{suffix}.png", OUT / f"team{suffix}.png"]
            page.close()
        browser.close()
    print("wrote " + ", ".join(str(path) for path in written))


if __name__ == "__main__":
    main()
