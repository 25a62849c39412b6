"""Screenshots for the README, from a running `make run`: the admin dashboard, the dashboard filtered (per week,
one provider) with a saved view, the saved views list and a team page at 1440 and 390 px, and a team member's
pages in the member UI (home, team page, a label value's page, a job page).

HELIOX_ADMIN_PASSWORD=... make run        # in one terminal (fresh database: demo data)
.venv/bin/python docs/screenshots.py      # in another; needs Chromium at /usr/bin/chromium

Demo members have no password: the script gives the member it logs in as (HELIOX_MEMBER, default
llm-research-scheduler) a random one in the same database as `make run` (.env's DATABASE_URL), and takes
it away again (an unusable password) when it is done.
"""

import os
import secrets
import sys
from contextlib import contextmanager
from pathlib import Path

import django
from playwright.sync_api import sync_playwright

BASE = os.environ.get("HELIOX_URL", "http://127.0.0.1:8000")
MEMBER = os.environ.get("HELIOX_MEMBER", "llm-research-scheduler")
OUT = Path(__file__).resolve().parent


@contextmanager
def member_password(username: str):
    """A one-off password for a demo member, taken away (unusable) afterwards."""
    sys.path.insert(0, str(OUT.parent))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "heliox.settings")
    django.setup()
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.filter(username=username).first()
    if user is None:
        sys.exit(f"No user {username!r}: run `make run` on a fresh database (demo data) or set HELIOX_MEMBER.")
    password = secrets.token_urlsafe(24)
    user.set_password(password)
    user.save(update_fields=["password"])
    try:
        yield password
    finally:
        user.set_unusable_password()
        user.save(update_fields=["password"])


# Every chart whose series the page carries is drawn (a page without charts, like a job's, has none to wait for).
DRAWN = """() => { const data = document.getElementById('hx-chart-data');
    const names = data ? Object.keys(JSON.parse(data.textContent)) : [];
    return names.every((name) => window.helioxCharts && window.helioxCharts[name]); }"""


def admin_pages(browser, password: str) -> list[Path]:
    """The admin dashboard and its first team's page, at 1440 and 390 px."""
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
        written += [OUT / f"dashboard{suffix}.png", *_filtered(page, suffix)]
        page.goto(f"{BASE}/admin/?range=last-90")
        page.click("#hx-teams a >> nth=0")
        page.wait_for_function(DRAWN)
        page.screenshot(path=str(OUT / f"team{suffix}.png"), full_page=True)
        written += [OUT / f"team{suffix}.png"]
        page.close()
    return written


def member_pages(browser, password: str) -> list[Path]:
    """A member's drill-down by clicking: home -> their team -> a project's page -> its costliest job."""
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    page.goto(f"{BASE}/login/")
    page.fill("#id_username", MEMBER)
    page.fill("#id_password", password)
    page.click("input[type=submit]")
    page.wait_for_url(f"{BASE}/")
    page.goto(f"{BASE}/?range=last-30")
    shots = [
        ("member-home", None),
        ("member-team", "#hx-teams tbody a >> nth=0"),
        ("member-label", "#hx-label-project tbody a >> nth=0"),
        ("member-job", "#hx-label-jobs tbody a >> nth=0"),
    ]
    written = []
    for name, link in shots:
        if link:
            page.click(link)
            page.wait_for_load_state("load")
        page.wait_for_function(DRAWN)
        page.screenshot(path=str(OUT / f"{name}.png"), full_page=True)
        written.append(OUT / f"{name}.png")
    page.close()
    return written


def main() -> None:
    password = os.environ.get("HELIOX_ADMIN_PASSWORD")
    if not password:
        sys.exit("Set HELIOX_ADMIN_PASSWORD to the admin password that make run printed or used.")
    with member_password(MEMBER) as member, sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"),
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        written = admin_pages(browser, password) + member_pages(browser, member)
        browser.close()
    print("wrote " + ", ".join(str(path) for path in written))


def _filtered(page, suffix: str) -> list[Path]:
    """The dashboard per week for one provider, saved as a view (replacing an earlier one), and the views list."""
    page.click("#hx-view >> text=week")
    page.fill("#hx-filters input[name=provider]", "aws")
    page.click("#hx-filters button")
    page.wait_for_url(lambda url: "provider=aws" in url)
    page.fill("#hx-save-view input[name=name]", "AWS per week")
    page.click("#hx-save-view button")
    page.wait_for_function("() => window.helioxCharts && Object.keys(window.helioxCharts).length === 5")
    page.screenshot(path=str(OUT / f"dashboard-filtered{suffix}.png"), full_page=True)
    page.goto(f"{BASE}/views/")
    page.screenshot(path=str(OUT / f"saved-views{suffix}.png"), full_page=True)
    return [OUT / f"dashboard-filtered{suffix}.png", OUT / f"saved-views{suffix}.png"]


if __name__ == "__main__":
    main()
