from datetime import date

import pytest

from heliox.dates import add_months, month_start


@pytest.mark.parametrize(
    ("first", "months", "expected"),
    [
        (date(2025, 1, 1), 1, date(2025, 2, 1)),
        (date(2025, 12, 1), 1, date(2026, 1, 1)),
        (date(2025, 11, 1), 3, date(2026, 2, 1)),
        (date(2025, 1, 1), -1, date(2024, 12, 1)),
        (date(2025, 3, 1), -14, date(2024, 1, 1)),
    ],
)
def test_add_months_crosses_years_both_ways(first, months, expected):
    assert add_months(first, months) == expected


def test_month_start():
    assert month_start(date(2024, 2, 29)) == date(2024, 2, 1)
