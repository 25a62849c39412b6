"""API throttles: DRF's sliding window, kept small enough to live in a shared cache.

DRF's throttles store one timestamp per request in the window, so a client at 6,000 a
minute has an entry of 6,000 floats (~70 KB pickled) that every request reads and writes
back. In each process's memory that went unnoticed; in the shared cache (a database
table by default) it was a 70 KB write per API request. These throttles count requests
in 60 buckets per window instead: an entry is at most 60 small pairs whatever the rate,
and a request leaves the count when its bucket leaves the window, 59 to 60 seconds later
for a per-minute rate (the limit is exact to 1/60 of the period).
"""

import math

from rest_framework import throttling


class BucketedRateThrottleMixin:
    """`allow_request` and `wait` of a SimpleRateThrottle, over {bucket: requests} in the cache."""

    BUCKETS = 60

    def allow_request(self, request, view) -> bool:
        if self.rate is None:
            return True
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        self.now = self.timer()
        width = self.duration / self.BUCKETS
        current = math.floor(self.now / width)
        oldest = current - self.BUCKETS + 1
        self.buckets = {bucket: count for bucket, count in self.cache.get(self.key, {}).items() if bucket >= oldest}
        if sum(self.buckets.values()) >= self.num_requests:
            return self.throttle_failure()
        self.buckets[current] = self.buckets.get(current, 0) + 1
        self.cache.set(self.key, self.buckets, self.duration)
        return True

    def wait(self) -> float:
        """Seconds until the oldest counted requests leave the window (the Retry-After header)."""
        buckets = getattr(self, "buckets", None)
        if not buckets:
            return float(self.duration)
        width = self.duration / self.BUCKETS
        return max(0.0, (min(buckets) + self.BUCKETS) * width - self.now)


class AnonRateThrottle(BucketedRateThrottleMixin, throttling.AnonRateThrottle):
    """API_THROTTLE_ANON per client address (REMOTE_ADDR, or X-Forwarded-For behind NUM_PROXIES)."""


class UserRateThrottle(BucketedRateThrottleMixin, throttling.UserRateThrottle):
    """API_THROTTLE_USER per user (session or token)."""
