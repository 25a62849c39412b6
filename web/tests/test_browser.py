"""A member in a real browser: log in, drill from the dashboard to a job by clicking bars and rows."""

import os
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import connections

from jobs.models import UtilSource
from jobs.tests.factories import JobFactory
from jobs.utilisation_curve import Curve

CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
RESULTS = Path(__file__).resolve().parents[2] / "test-results"
PASSWORD = "correct-horse-battery"
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"no Chromium at {CHROMIUM} (set CHROMIUM_PATH)"),
]


@pytest.fixture
def browser_page(live_server, transactional_db, monkeypatch):
    """A headless Chromium page; console errors and CSP violations collected on the page."""
    playwright_api = pytest.importorskip("playwright.sync_api")
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    monkeypatch.setitem(connections.settings["default"], "CONN_MAX_AGE", 0)
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM),
                                             args=["--no-sandbox", "--disable-gpu", "--no-first-run"])  # fmt: skip
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.errors, page.csp_violations = [], []
        page.on("console", lambda message: message.type == "error" and page.errors.append(message.text))
        page.on("pageerror", lambda error: page.errors.append(str(error)))
        page.expose_function("helioxCspViolation", lambda violation: page.csp_violations.append(violation))
        page.add_init_script("document.addEventListener('securitypolicyviolation', (e) => window.helioxCspViolation("
                             "`${e.violatedDirective} blocked ${e.blockedURI}`));")  # fmt: skip
        page.base = live_server.url
        yield page
        browser.close()
        connections.close_all()


def click_bar(page, chart: str, index: int = 0) -> None:
    """Click the `index`th bar of a drawn chart, where it is on the screen."""
    page.wait_for_function(f"() => window.helioxCharts && window.helioxCharts.{chart}")
    x, y = page.evaluate(
        f"""() => {{ const c = window.helioxCharts.{chart}; const bar = c.getDatasetMeta(0).data[{index}];
            const box = c.canvas.getBoundingClientRect();
            return [box.left + (bar.x + bar.base) / 2, box.top + bar.y]; }}"""
    )
    page.mouse.click(x, y)


def test_a_member_logs_in_and_drills_from_the_dashboard_to_a_job(browser_page):
    page = browser_page
    call_command("seed_demo", "--days", "40", "--no-progress")
    member = get_user_model().objects.get(username="llm-research-scheduler")
    member.set_password(PASSWORD)
    member.save()

    page.goto(f"{page.base}/")
    page.wait_for_url("**/login/?next=/")
    page.fill("#id_username", "llm-research-scheduler")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(f"{page.base}/")
    page.click("text=Last 30 days")
    page.wait_for_url("**range=last-30")
    page.wait_for_function("() => window.helioxCharts && window.helioxCharts.spend_by_team")
    assert page.evaluate("() => window.helioxCharts.spend_by_team.data.labels") == ["llm-research"]
    assert page.locator("#hx-teams tbody tr").count() == 1
    RESULTS.mkdir(exist_ok=True)
    page.screenshot(path=str(RESULTS / "member-home.png"), full_page=True)

    click_bar(page, "spend_by_team")  # organisation -> team
    page.wait_for_url("**/teams/*/?start=*")
    assert "llm-research" in page.text_content(".breadcrumbs")
    click_bar(page, "spend_by_model")  # team -> model
    page.wait_for_url("**/model/?model=*")
    assert page.locator("#hx-jobs tbody tr a").count() > 0
    page.click("#hx-jobs tbody tr a >> nth=0")  # model -> job
    page.wait_for_url("**/jobs/*/")
    assert page.is_visible("#hx-job")
    assert "llm-research" in page.text_content(".breadcrumbs")
    assert not page.is_visible("#hx-edit-job")  # a member, not a manager
    page.screenshot(path=str(RESULTS / "member-job.png"), full_page=True)

    page.click(".breadcrumbs a >> nth=0")  # breadcrumbs back home, the range kept
    page.wait_for_url("**/?start=*")
    assert page.errors == []
    assert page.csp_violations == []


def test_a_saved_view_reopens_the_same_figures(browser_page, org):
    page = browser_page
    org["users"]["bob"].set_password(PASSWORD)
    org["users"]["bob"].save()
    page.goto(f"{page.base}/login/")
    page.fill("#id_username", "bob")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(f"{page.base}/")
    view = "/?start=2025-03-09&end=2025-03-11&model=llama"
    page.goto(page.base + "/?start=2025-03-09&end=2025-03-11")
    page.fill("#hx-filters input[name=model]", "llama")
    page.click("#hx-filters button")
    page.wait_for_url(page.base + view)  # only the filters in use, after the range
    shown = page.text_content("[data-kpi=allocated] .hx-value")
    assert shown == "USD 32.00"
    page.fill("#hx-save-view input[name=name]", "llama, two days")
    page.click("#hx-save-view button")
    page.wait_for_url(page.base + view)
    assert "Saved as" in page.text_content(".messagelist")

    page.goto(f"{page.base}/?range=last-90")  # somewhere else, then back through the list
    page.click("nav.hx-nav >> text=Saved views")
    page.wait_for_url("**/views/")
    page.click("#hx-saved-views >> text=llama, two days")
    page.wait_for_url(page.base + view)
    assert page.text_content("[data-kpi=allocated] .hx-value") == shown
    assert page.input_value("#hx-filters input[name=model]") == "llama"
    assert page.errors == []
    assert page.csp_violations == []


def test_the_job_page_draws_its_utilisation_curve(browser_page, org, monkeypatch):
    page = browser_page
    start = datetime(2025, 3, 10, 8, tzinfo=UTC)
    points = [(start + timedelta(minutes=n), Decimal(v)) for n, v in ((0, 90), (1, 90), (3, 30))]  # 08:02: a gap
    monkeypatch.setattr("web.views.jobs.utilisation_curve", lambda job: Curve(points=points, step=60))
    job = JobFactory(team=org["teams"]["nlp"], gpu_util_source=UtilSource.DCGM)
    org["users"]["bob"].set_password(PASSWORD)
    org["users"]["bob"].save()
    page.goto(f"{page.base}/login/")
    page.fill("#id_username", "bob")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(f"{page.base}/")
    page.goto(f"{page.base}/jobs/{job.pk}/")
    page.wait_for_function("() => window.helioxCharts && window.helioxCharts.job_utilisation")
    chart = "window.helioxCharts.job_utilisation"
    assert page.evaluate(f"() => {chart}.data.datasets[0].data") == [90, 90, None, 30]
    assert page.evaluate(f"() => [{chart}.scales.y.min, {chart}.scales.y.max]") == [0, 100]
    assert page.errors == []
    assert page.csp_violations == []
