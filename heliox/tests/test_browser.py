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
        page.errors, page.csp_violations, page.csp_headers = [], [], {}
        page.on("console", lambda message: message.type == "error" and page.errors.append(message.text))
        page.on("pageerror", lambda error: page.errors.append(str(error)))
        # Every Content-Security-Policy violation of every page, and the policy each page was sent with.
        page.expose_function("helioxCspViolation", lambda violation: page.csp_violations.append(violation))
        page.add_init_script(
            "document.addEventListener('securitypolicyviolation', (e) => window.helioxCspViolation("
            "`${e.violatedDirective} blocked ${e.blockedURI} in ${e.documentURI}`));"
        )
        page.on("response", lambda response: response.request.resource_type == "document" and page.csp_headers
                .__setitem__(response.url, response.headers.get("content-security-policy")))  # fmt: skip
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
    assert page.csp_violations == []
    assert all(policy and "script-src 'self'" in policy for policy in page.csp_headers.values()), page.csp_headers


def test_empty_dashboard_renders_without_errors(page):
    page.goto(f"{page.base}/admin/")
    assert page.is_visible("#hx-empty")
    assert page.errors == []


def test_swagger_ui_and_the_browsable_api_run_under_the_content_security_policy(page):
    page.goto(f"{page.base}/api/docs/")
    page.wait_for_selector(".swagger-ui .opblock-tag", timeout=30_000)  # the schema was fetched and drawn
    page.click("text=costs >> nth=0")
    page.wait_for_selector(".opblock-summary-path", timeout=10_000)
    page.goto(f"{page.base}/api/v1/teams/")
    page.wait_for_selector("text=Team List")
    assert page.errors == []
    assert page.csp_violations == []
    docs = page.csp_headers[f"{page.base}/api/docs/"]
    assert "script-src 'self'" in docs
    assert "style-src 'self'" in docs
