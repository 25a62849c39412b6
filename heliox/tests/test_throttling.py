"""The API throttles: DRF's sliding window in 60 buckets, a small entry in the shared cache."""

import pickle

import pytest
from django.core.cache import cache
from django.test import RequestFactory
from rest_framework.request import Request

from heliox.throttling import AnonRateThrottle

START = 1_700_000_040.0  # a minute boundary: bucket widths of 1 s for a per-minute rate


@pytest.fixture
def throttle_at(db, monkeypatch):
    """A throttle for one client at `rate`, whose clock the test sets: throttle_at(seconds) -> allowed."""
    cache.clear()
    clock = {"now": START}
    monkeypatch.setattr(AnonRateThrottle, "timer", lambda self: clock["now"])

    def request_at(seconds: float, rate: str = "3/minute") -> bool:
        clock["now"] = START + seconds
        monkeypatch.setattr(AnonRateThrottle, "THROTTLE_RATES", {"anon": rate})
        throttle = AnonRateThrottle()
        allowed = throttle.allow_request(Request(RequestFactory().get("/", REMOTE_ADDR="192.0.2.1")), None)
        request_at.last = throttle
        return allowed

    yield request_at
    cache.clear()


def test_the_rate_holds_over_a_sliding_window(throttle_at):
    assert [throttle_at(s) for s in (0, 10, 20, 30)] == [True, True, True, False]
    assert throttle_at.last.wait() == 30.0  # the request at 0 s leaves the window at 60 s
    assert throttle_at(59.5) is False
    assert throttle_at(60) is True  # the request at 0 s has left; those at 10 and 20 s still count
    assert throttle_at(65) is False
    assert throttle_at(70) is True


def test_the_cache_entry_stays_small_whatever_the_rate(throttle_at):
    for n in range(6_000):
        assert throttle_at(n * 0.03, rate="100000/minute")  # 6,000 requests over 3 minutes
    entry = cache.get(throttle_at.last.key)
    assert len(entry) == 60
    assert sum(entry.values()) == 2_000  # the last minute's requests
    assert len(pickle.dumps(entry)) < 1_000


def test_a_per_second_rate_uses_buckets_of_a_sixtieth_of_a_second(throttle_at):
    assert [throttle_at(s, rate="2/second") for s in (0, 0.5, 0.9)] == [True, True, False]
    assert throttle_at(1.0, rate="2/second") is True
