"""The health probes: /healthz (liveness), /readyz (the database, the cache and the broker, when one is configured)
and the middleware that answers them before the Host check.

Each answers "ok" or what is wrong in one word; the cause goes to the log, never to the
unauthenticated caller.
"""

import logging
import secrets

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

logger = logging.getLogger(__name__)
# A probe answers within a load balancer's timeout even when the broker hangs.
BROKER_TIMEOUT = 2.0


def database_status() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception:  # any database failure means "not ready"
        logger.warning("readiness: the database does not answer", exc_info=True)
        return "unreachable"
    return "ok"


def cache_status() -> str:
    """The shared cache (the throttle counters) takes a write and gives it back."""
    key, value = "heliox:readyz", secrets.token_hex(8)
    try:
        cache.set(key, value, timeout=10)
        if cache.get(key) != value:
            logger.warning("readiness: the cache did not return what was just written")
            return "unreachable"
    except Exception:  # any cache failure means "not ready"
        logger.warning("readiness: the cache does not answer", exc_info=True)
        return "unreachable"
    return "ok"


def broker_status() -> str:
    """ "embedded" when tasks run in-process (no CELERY_BROKER_URL); else whether the broker takes a connection."""
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return "embedded"
    from kombu import Connection

    options = {**settings.CELERY_BROKER_TRANSPORT_OPTIONS, "socket_timeout": BROKER_TIMEOUT,
               "socket_connect_timeout": BROKER_TIMEOUT}  # fmt: skip
    try:
        with Connection(settings.CELERY_BROKER_URL, transport_options=options) as broker:
            broker.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=BROKER_TIMEOUT)
    except Exception:  # any broker failure means "not ready"
        logger.warning("readiness: the broker does not answer", exc_info=True)
        return "unreachable"
    return "ok"


def readiness() -> tuple[bool, dict[str, str]]:
    """(ready, {"database": ..., "cache": ..., "broker": ...})."""
    checks = {"database": database_status(), "cache": cache_status(), "broker": broker_status()}
    return all(status in ("ok", "embedded") for status in checks.values()), checks


@never_cache
@require_GET
def healthz(request):
    """Liveness: the process answers requests. Touches nothing else (a database outage must not restart web)."""
    return JsonResponse({"status": "ok"})


@never_cache
@require_GET
def readyz(request):
    """Readiness: 200 when the database, the cache and the broker (if configured) answer, else 503.

    The body names each check: {"status": "ok", "database": "ok", "cache": "ok", "broker": "embedded"};
    on 503, "failed" lists the checks that failed. Unauthenticated on purpose (load balancers and the
    compose healthcheck call it); it reveals nothing but those words. /health/ is the same view (its
    old name, kept for existing probes).
    """
    ready, checks = readiness()
    if ready:
        return JsonResponse({"status": "ok", **checks})
    failed = [name for name, status in checks.items() if status not in ("ok", "embedded")]
    return JsonResponse({"status": "unavailable", **checks, "failed": failed}, status=503)


class ProbeMiddleware:
    """Answers the health probes before the Host header is checked against ALLOWED_HOSTS.

    Load balancers and orchestrators probe a container by its address (Host: 10.0.3.7:8000),
    which no ALLOWED_HOSTS lists: Django would answer 400 and the instance would count as down.
    The probes build no URL from the host, so the check protects nothing there. Placed after
    SecurityMiddleware and the CSP middleware, so their headers still apply.
    """

    def __init__(self, get_response):
        self.get_response = get_response
        self.probes = {"/healthz": healthz, "/readyz": readyz, "/health/": readyz}

    def __call__(self, request):
        probe = self.probes.get(request.path_info)
        return probe(request) if probe is not None else self.get_response(request)
