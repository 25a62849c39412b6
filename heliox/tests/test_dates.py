from datetime import date

import pytest

from heliox.dates import add_months, month_start, period_bounds, period_start, periods_between


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


@pytest.mark.parametrize(
    ("interval", "expected"),
    [
        ("day", (date(2025, 5, 14), date(2025, 5, 15))),
        ("week", (date(2025, 5, 12), date(2025, 5, 19))),
        ("month", (date(2025, 5, 1), date(2025, 6, 1))),
        ("quarter", (date(2025, 4, 1), date(2025, 7, 1))),
    ],
)
def test_period_bounds_of_each_interval(interval, expected):
    assert period_bounds(date(2025, 5, 14), interval) == expected


def test_periods_between_starts_with_the_period_holding_start():
    assert periods_between(date(2025, 1, 8), date(2025, 1, 21), "week") == [
        date(2025, 1, 6),
        date(2025, 1, 13),
        date(2025, 1, 20),
    ]
    assert periods_between(date(2025, 11, 15), date(2026, 2, 1), "quarter") == [date(2025, 10, 1), date(2026, 1, 1)]
    assert periods_between(date(2025, 1, 30), date(2025, 2, 2), "day") == [
        date(2025, 1, 30),
        date(2025, 1, 31),
        date(2025, 2, 1),
    ]


def test_an_unknown_interval_is_refused():
    with pytest.raises(ValueError, match="unknown interval 'year'"):
        period_start(date(2025, 1, 1), "year")
