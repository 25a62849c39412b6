"""The dashboard in a real browser: headless Chromium driven by Playwright against a live server."""

import os
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connections

CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
RESULTS = Path(__file__).resolve().parents[2] / "test-results"
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason=f"no Chromium at {CHROMIUM} (apt-get install chromium, or set CHROMIUM_PATH); .ci/run installs it",
    ),
]


@pytest.fixture
def page(live_server, transactional_db, django_user_model, monkeypatch):
    """A logged-in admin page in headless Chromium; console errors collected on `page.errors`."""
    playwright_api = pytest.importorskip("playwright.sync_api")
    # Playwright runs an event loop in this thread; the test's own ORM calls are synchronous and safe.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    # The live server answers in threads; persistent connections there would outlive the
    # test and keep PostgreSQL from dropping the test database.
    monkeypatch.setitem(connections.settings["default"], "CONN_MAX_AGE", 0)
    django_user_model.objects.create_superuser("admin", "admin@example.com", "correct-horse-battery")
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run"],
        )  # fmt: skip
        page = browser.new_page(viewport={"width": 1400, "height": 1800})
        page.errors = []
        page.on("console", lambda message: message.type == "error" and page.errors.append(message.text))
        page.on("pageerror", lambda error: page.errors.append(str(error)))
        page.goto(f"{live_server.url}/admin/login/")
        page.fill("#id_username", "admin")
        page.fill("#id_password", "correct-horse-battery")
        page.click("input[type=submit]")
        page.wait_for_url(f"{live_server.url}/admin/")
        page.base = live_server.url
        yield page
        browser.close()
        # Code run inside Playwright's block can get a connection of its own; close it here.
        connections.close_all()


def charts_drawn(page) -> dict:
    return page.evaluate(
        """() => Object.fromEntries(Object.entries(window.helioxCharts || {}).map(([name, chart]) =>
            [name, chart.data.datasets.reduce((n, d) => n + d.data.filter((v) => v > 0).length, 0)]))"""
    )


def test_dashboard_draws_every_chart_and_the_date_picker_changes_totals(page):
    call_command("seed_demo", "--days", "40", "--no-progress")
    page.goto(f"{page.base}/admin/?range=last-30")
    page.wait_for_function("() => window.helioxCharts && Object.keys(window.helioxCharts).length === 5")

    drawn = charts_drawn(page)
    assert sorted(drawn) == ["billed_vs_estimated", "daily_by_provider", "hours_by_gpu", "idle_over_time",
                             "spend_by_team"]  # fmt: skip
    assert all(points > 0 for points in drawn.values()), drawn
    thirty_days = page.text_content("[data-kpi=spend] .hx-value")
    RESULTS.mkdir(exist_ok=True)
    page.screenshot(path=str(RESULTS / "dashboard.png"), full_page=True)

    page.click("text=Last 90 days")
    page.wait_for_url("**range=last-90")
    page.wait_for_function("() => window.helioxCharts && Object.keys(window.helioxCharts).length === 5")
    ninety_days = page.text_content("[data-kpi=spend] .hx-value")
    assert thirty_days.startswith("USD ")
    assert ninety_days != thirty_days

    page.click("#hx-teams a >> nth=0")
    page.wait_for_function("() => window.helioxCharts && window.helioxCharts.team_daily")
    assert charts_drawn(page)["team_daily"] > 0
    page.screenshot(path=str(RESULTS / "team.png"), full_page=True)
    assert page.errors == []


def test_empty_dashboard_renders_without_errors(page):
    page.goto(f"{page.base}/admin/")
    assert page.is_visible("#hx-empty")
    assert page.errors == []
