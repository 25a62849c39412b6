"""Cost of the API throttle per request, in the shared cache, for a client at 100 requests a second.

    .venv/bin/python bench/bench_throttle.py [--requests 500]

Fills one user's window with 6,000 requests (a minute at 100 a second, a simulated clock),
then times `--requests` more through Heliox's bucketed UserRateThrottle and through DRF's,
in the database cache (the default) and in Redis when one answers on 127.0.0.1:6379 (db 1).
Prints ms per request and the size of the cache entry. The ratio of the two throttles in
one run is the figure: DRF's entry grows with the rate, the bucketed one does not.
"""

import argparse
import pickle
import socket
import time

from common import setup_django

WINDOW = 6_000  # requests in the last minute


def measure(throttle_class, cache, user, requests: int) -> tuple[float, int]:
    from django.test import RequestFactory
    from rest_framework.request import Request

    clock = {"now": 1_700_000_000.0}

    class Timed(throttle_class):
        THROTTLE_RATES = {"user": "100000/minute"}
        timer = staticmethod(lambda: clock["now"])

    Timed.cache = cache
    cache.clear()

    def one() -> None:
        clock["now"] += 0.01
        request = Request(RequestFactory().get("/"))
        request.user = user
        Timed().allow_request(request, None)

    for _ in range(WINDOW):
        one()
    started = time.perf_counter()
    for _ in range(requests):
        one()
    elapsed = (time.perf_counter() - started) / requests * 1000
    key = Timed().get_cache_key(type("R", (), {"user": user})(), None)
    size = len(pickle.dumps(cache.get(key)))
    cache.clear()
    return elapsed, size


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=500)
    args = parser.parse_args()
    setup_django()
    from django.contrib.auth import get_user_model
    from django.core.cache import caches
    from django.core.cache.backends.redis import RedisCache
    from rest_framework.throttling import UserRateThrottle as DrfUserRateThrottle

    from heliox.throttling import UserRateThrottle

    user, _ = get_user_model().objects.get_or_create(username="bench-throttle")
    backends = {"database cache": caches["default"]}
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=1).close()
        backends["Redis"] = RedisCache("redis://127.0.0.1:6379/1", {"KEY_PREFIX": "bench"})
    except OSError:
        print("no Redis on 127.0.0.1:6379: database cache only")
    for name, cache in backends.items():
        for label, throttle in (("bucketed (Heliox)", UserRateThrottle), ("DRF", DrfUserRateThrottle)):
            elapsed, size = measure(throttle, cache, user, args.requests)
            print(f"{name}, {label}: {elapsed:.2f} ms per request, entry {size:,} bytes (pickled)", flush=True)


if __name__ == "__main__":
    main()
