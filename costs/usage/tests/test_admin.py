"""The admin's usage rows (UsageSnapshot): the allocated wastes beside the other figures, read only, sortable."""

import re
from decimal import Decimal

from django.urls import reverse

from costs.billing.tests.factories import CostSnapshotFactory
from costs.usage.models import UsageSnapshot
from costs.usage.services.rollup import usage_rollup
from costs.usage.tests.test_allocated_waste import four_jobs
from costs.usage.tests.test_job_costs import D10, D11, NOW

CHANGELIST = reverse("admin:costs_usagesnapshot_changelist")


def rows(page: str) -> list[list[str]]:
    """The changelist's rows, each as its cells' texts (tags stripped)."""
    body = page.split('<table id="result_list">')[1].split("<tbody>")[1].split("</tbody>")[0]
    return [[re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row, re.S)]
            for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S)]  # fmt: skip


def test_usage_rows_show_both_allocated_wastes_sortable_and_read_only(db, staff_client):
    four_jobs()  # vision $70.00 estimated ($32.50 wasted), speech $20.00 ($10.00 wasted), H100 on aws
    CostSnapshotFactory(date=D10, cost_usd=Decimal("100.00"))  # above the $90.00 estimated: $10.00 idle
    usage_rollup(start=D10, end=D11, now=NOW)
    # Kept apart: allocated = estimated, so allocated waste = waste: $32.50 and $10.00. Shared by GPU-hours: vision
    # $100 x 28/36 = $77.78 x (22 - 9) / 28 idle = $36.11, speech $22.22 x (8 - 4) / 8 = $11.11.

    listing = staff_client.get(f"{CHANGELIST}?o=-10")  # 10th column: allocated waste, most first

    page = listing.content.decode()
    headers = re.findall(r'<th scope="col"[^>]*>.*?<a href="[^"]*">(.*?)</a>', page, re.S)
    assert headers[-2:] == ["Allocated waste usd", "Allocated shared waste usd"]
    assert [row[1:] for row in rows(page)] == [  # after the checkbox
        ["March 10, 2025", "vision", "AWS", "H100", "28.0000", "70.00", "3", "0.0000", "0", "32.50", "36.11"],
        ["March 10, 2025", "speech", "AWS", "H100", "8.0000", "20.00", "1", "0.0000", "0", "10.00", "11.11"],
    ]
    ascending = staff_client.get(f"{CHANGELIST}?o=11").content.decode()  # by the shared one, least first
    assert [row[2] for row in rows(ascending)] == ["speech", "vision"]
    row = UsageSnapshot.objects.get(team__name="vision")
    form = staff_client.get(reverse("admin:costs_usagesnapshot_change", args=[row.pk])).content.decode()
    assert 'name="allocated_waste_usd"' not in form
    assert 'name="allocated_shared_waste_usd"' not in form
    assert '<div class="readonly">32.50</div>' in form
    assert '<div class="readonly">36.11</div>' in form
