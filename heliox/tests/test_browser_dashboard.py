"""The dashboard a FinOps lead reads at a glance, in headless Chromium (issue 16).

Unknown figures drawn as unknown, CSVs that add up to the page, paging to the end of
the job list, saved views, and axe-core on the pages at desktop and phone widths.
"""

from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from heliox.tests.test_browser import CHROMIUM, page  # noqa: F401 - the logged-in page fixture

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"no Chromium at {CHROMIUM} (apt-get install chromium)"),
]
RANGE = "start=2025-03-10&end=2025-03-12"


@pytest.fixture
def unknowns(transactional_db):
    """Priced aws H100 usage with a $50.00 bill on 2025-03-10; unpriced on-prem A100 usage, no bill, on 2025-03-11."""
    from costs.billing.tests.factories import CostSnapshotFactory
    from costs.catalog.tests.factories import GpuPriceFactory
    from costs.usage.services.rollup import usage_rollup
    from jobs.tests.factories import JobFactory
    from teams.tests.factories import TeamFactory

    nlp, vision = TeamFactory(name="nlp"), TeamFactory(name="vision")
    GpuPriceFactory(usd_per_gpu_hour=Decimal("4.0000"))
    day = datetime(2025, 3, 10, tzinfo=UTC)
    JobFactory(team=nlp, gpu_count=4, start_time=day.replace(hour=1), end_time=day.replace(hour=3))
    JobFactory(team=vision, provider="on-prem", gpu_type="A100", gpu_count=3, model_name="seg",
               start_time=day.replace(day=11, hour=1), end_time=day.replace(day=11, hour=5))  # fmt: skip
    CostSnapshotFactory(date=date(2025, 3, 10), cost_usd=Decimal("50.00"))
    usage_rollup(start=date(2025, 3, 10), end=date(2025, 3, 12), now=datetime(2025, 3, 12, tzinfo=UTC))
    return {"vision": vision}


def test_unknown_is_drawn_as_unknown_never_as_zero(page, unknowns):  # noqa: F811
    page.goto(f"{page.base}/admin/?{RANGE}")
    page.wait_for_function("() => window.helioxCharts && window.helioxCharts.idle_over_time")
    charts = page.evaluate(
        """() => ({
            idle: window.helioxCharts.idle_over_time.data.datasets[0].data,
            billed: window.helioxCharts.billed_vs_estimated.data.datasets.map((d) => [d.label, d.data]),
            labels: window.helioxCharts.billed_vs_estimated.data.labels,
        })"""
    )
    assert charts["idle"] == [18, None]  # a gap on the day with no bill, not 0
    # on-prem: no GPU-hour priced, so no estimate (a gap, labelled), not a bar of 0
    assert charts["billed"] == [["Billed", [50, None]], ["Estimated from catalog", [32, None]],
                                ["No bill yet", [None, None]]]  # fmt: skip
    assert charts["labels"] == ["aws", ["on-prem", "(unpriced)", "(no bill yet)"]]
    onprem = page.text_content("#hx-providers tbody tr:has-text('on-prem')")
    assert onprem.count("no bill yet") == 2
    assert "0.00" not in onprem
    vision = page.text_content("#hx-teams tbody tr:has-text('vision')")
    # estimated, allocated and total: 12 GPU-hours without a catalog price (the LLM column's 0.00 is real)
    assert vision.count("unpriced") == 3
    page.goto(f"{page.base}/admin/dashboard/team/{unknowns['vision'].pk}/?{RANGE}")
    a100 = page.text_content("#hx-team-gpus tbody tr:has-text('A100')")
    assert "12.0" in a100
    assert "unpriced" in a100
    assert "0.00" not in a100
    assert page.errors == []


AXE = Path(__file__).resolve().parent / "vendor" / "axe-4.14.1.min.js"  # see vendor/README.md


def axe_violations(shown) -> list[str]:
    """axe-core's serious and critical violations of the page shown, as 'rule: target' strings."""
    shown.evaluate(AXE.read_text())  # through the DevTools protocol: the page's CSP allows no injected script tag
    result = shown.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return [
        f"{violation['id']} ({violation['impact']}): {node['target']} {node.get('failureSummary', '')[:160]}"
        for violation in result["violations"]
        if violation["impact"] in ("serious", "critical")
        for node in violation["nodes"]
    ]


# The dates and times in tables whose text runs over more than one line ("2025-03-" / "10 01:00").
BROKEN_TIMES = """() => [...document.querySelectorAll('td.hx-time')].filter((cell) => {
    const range = document.createRange();
    range.selectNodeContents(cell);
    return new Set([...range.getClientRects()].map((box) => Math.round(box.top))).size > 1;
}).map((cell) => cell.textContent)"""


@pytest.fixture
def wide(unknowns):
    """The unknowns, plus what draws the widest tables: LLM calls and a team's budget."""
    from costs.budgets.tests.factories import BudgetFactory
    from costs.llm.services.rollup import llm_rollup_day
    from costs.llm.tests.factories import LlmCallFactory
    from jobs.models import Job

    LlmCallFactory(team=unknowns["vision"], cost_picousd=25_000_000)
    LlmCallFactory(team=unknowns["vision"], provider="vllm", model="llama-3-70b")
    llm_rollup_day(day=date(2025, 3, 10))
    BudgetFactory(team=unknowns["vision"], amount_usd=Decimal("380900.66"))
    return unknowns | {"job": Job.objects.get(team=unknowns["vision"])}


@pytest.mark.parametrize("width", [1440, 390])
def test_axe_finds_no_serious_violation_on_the_dashboard_a_team_page_and_the_job_list(page, wide, width):  # noqa: F811
    """Both UIs, admin and member: no serious violation, and no page wider than the window."""
    page.set_viewport_size({"width": width, "height": 1000})
    team = wide["vision"].pk
    urls = {
        "dashboard": f"/admin/?{RANGE}",
        "team page": f"/admin/dashboard/team/{team}/?{RANGE}",
        "job list": "/admin/jobs/job/",
        "member dashboard": f"/?{RANGE}",
        "member team page": f"/teams/{team}/?{RANGE}",
        "member job list": "/jobs/",
        "member job": f"/jobs/{wide['job'].pk}/",
        "member budgets": "/budgets/",
    }
    found = {}
    for theme in ("light", "dark"):
        page.emulate_media(color_scheme=theme)
        for name, url in urls.items():
            page.goto(page.base + url)
            page.wait_for_load_state("load")
            found[f"{name}, {theme}"] = axe_violations(page)
            overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 0, f"{name} at {width} px ({theme}) is {overflow} px wider than the window"
            broken = page.evaluate(BROKEN_TIMES)
            assert broken == [], f"{name} at {width} px ({theme}) breaks times across lines: {broken}"
    assert found == {name: [] for name in found}


def test_the_job_list_pages_to_the_last_page_past_the_counted_bound(page, transactional_db, monkeypatch):  # noqa: F811
    from heliox.admin_utils import BoundedCountPaginator
    from jobs.admin import JobAdmin
    from jobs.tests.factories import JobFactory

    monkeypatch.setattr(BoundedCountPaginator, "COUNT_LIMIT", 4)
    monkeypatch.setattr(JobAdmin, "list_per_page", 3)
    JobFactory.create_batch(11)  # pages of 3: the 4th and last has 2
    page.goto(f"{page.base}/admin/jobs/job/")
    counted = page.text_content(".paginator")
    assert "more than 4 jobs" in counted or "jobs (estimated)" in counted  # SQLite's bound, PostgreSQL's estimate
    for number in (2, 3, 4):
        page.click("a.hx-next-page")
        page.wait_for_url(f"**p={number}")
    assert page.locator("#result_list tbody tr").count() == 2
    assert "11 jobs" in page.text_content(".paginator")  # the last page fixes the count
    assert page.locator("a.hx-next-page").count() == 0
    assert "?e=1" not in page.url
    assert page.errors == []


def test_each_csv_adds_up_to_the_total_shown_on_the_page(page, unknowns):  # noqa: F811
    import csv

    page.goto(f"{page.base}/admin/?{RANGE}")
    for table, column, csv_column in (("teams", 6, "total_usd"), ("providers", 3, "billed_usd")):
        shown = page.text_content(f"#hx-{table} tfoot td:nth-child({column + 1})").strip()
        href = page.get_attribute(f"#hx-{table} >> xpath=ancestor::section//a[contains(@class, 'hx-export')]", "href")
        body = page.request.get(page.base + href).text()
        rows = list(csv.DictReader(body.splitlines()))
        total = rows.pop()
        assert total[rows and next(iter(total))] == "TOTAL"
        assert f"{Decimal(total[csv_column]):,}" == shown, (table, shown, total)
        assert sum(Decimal(row[csv_column] or "0") for row in rows) == Decimal(total[csv_column])


def test_an_upload_in_the_admin_reaches_the_dashboard(page, unknowns, media_root, tmp_path):  # noqa: F811
    """Item 1: a jobs CSV uploaded through the admin is imported and rolled up; the dashboard shows it."""
    page.goto(f"{page.base}/admin/?{RANGE}")
    nlp = "#hx-teams tbody tr:has-text('nlp')"
    assert [cell.strip() for cell in page.locator(f"{nlp} td").all_text_contents()[:3]] == ["nlp", "8.0", "32.00"]
    jobs = tmp_path / "more-nlp.csv"
    jobs.write_text("team,provider,gpu_type,gpu_count,start_time,end_time,external_id\n"
                    "nlp,aws,H100,2,2025-03-11T00:00:00Z,2025-03-11T03:00:00Z,uploaded-1\n")  # fmt: skip
    page.goto(f"{page.base}/admin/jobs/importrecord/upload/")
    page.set_input_files("input[name=file]", str(jobs))
    page.select_option("select[name=kind]", "jobs")
    page.select_option("select[name=format]", "csv")
    page.click("input[type=submit]")
    page.wait_for_url("**/change/")  # the import's own page, which follows it
    page.wait_for_function("() => document.querySelector('[data-field=status_display]').textContent === 'Succeeded'")
    assert page.text_content("[data-field=summary]") == (
        "Imported more-nlp.csv: 1 GPU jobs (1 new, 0 updated, 0 unchanged), 0 skipped."
        " Rolled up 1 day(s): [2025-03-11, 2025-03-12)."
    )
    page.goto(f"{page.base}/admin/?{RANGE}")  # 6 more GPU-hours at $4.0000: 14.0 and $56.00, no rollup to run
    assert [cell.strip() for cell in page.locator(f"{nlp} td").all_text_contents()[:3]] == ["nlp", "14.0", "56.00"]
    assert page.errors == []


def test_the_charts_read_at_a_glance(page, unknowns):  # noqa: F811
    """Hard to read, charts: whole compact ticks, a colour per team, the day's total in the daily tooltip."""
    page.goto(f"{page.base}/admin/?{RANGE}")
    page.wait_for_function("() => window.helioxCharts && window.helioxCharts.daily_by_provider")
    shown = page.evaluate(
        """() => {
            const team = window.helioxCharts.spend_by_team, daily = window.helioxCharts.daily_by_provider;
            daily.tooltip.setActiveElements(daily.data.datasets.map((d, i) => ({datasetIndex: i, index: 0})),
                                            {x: 0, y: 0});
            daily.update();
            return {colours: team.data.datasets[0].backgroundColor, ticks: team.scales.x.ticks.map((t) => t.label),
                    large: [100000, 2500].map((v) => team.options.scales.x.ticks.callback(v)),
                    tooltip: [daily.tooltip.body.map((b) => b.lines[0]), daily.tooltip.footer]};
        }"""
    )
    assert shown == {
        "colours": ["#0072B2", "#E69F00"],
        "ticks": ["$0", "$10", "$20", "$30", "$40"],
        "large": ["$100K", "$2.5K"],
        "tooltip": [["aws: $50.00", "on-prem: $0.00"], ["Total: $50.00"]],
    }
    assert page.errors == []


def test_an_import_page_follows_its_import_without_a_reload(page, transactional_db):  # noqa: F811
    """Issue 17: queued, running with the rows read, then succeeded, as a worker writes them, on the page as it is."""
    from jobs.models import ImportRecord

    record = ImportRecord.objects.create(kind="jobs", file_name="big.csv", sha256="0" * 64, format="csv",
                                         status="queued", progress_total=200_000)  # fmt: skip
    page.goto(f"{page.base}/admin/jobs/importrecord/{record.pk}/change/")
    shown = "() => document.querySelector('#import-status').innerText.replace(/\\s+/g, ' ').trim()"
    page.wait_for_function(f"() => ({shown})().includes('Queued')")
    page.evaluate("() => { window.notReloaded = true; }")
    ImportRecord.objects.filter(pk=record.pk).update(status="running", rows_read=50_000)
    page.wait_for_function(f"() => ({shown})().includes('50,000 row(s) read')")
    assert page.evaluate(shown) == "Status Running 50,000 row(s) read of about 200,000 (25 %)"
    ImportRecord.objects.filter(pk=record.pk).update(status="succeeded", rows_read=200_000, summary="Imported big.csv.")
    page.wait_for_function(f"() => ({shown})().includes('Succeeded')")
    assert page.evaluate(shown) == "Status Succeeded 200,000 row(s) read of about 200,000 (100 %) Imported big.csv."
    assert page.evaluate("() => window.notReloaded") is True
    assert page.errors == []
