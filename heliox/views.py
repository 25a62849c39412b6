"""Project-level views that belong to no app."""

from django.db import connection
from django.http import HttpResponsePermanentRedirect, JsonResponse
from django.templatetags.static import static
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET


@never_cache
@require_GET
def health(request):
    """Liveness and readiness: 200 when the database answers, 503 when it does not.

    Unauthenticated on purpose (load balancers and the compose healthcheck call it);
    it reveals nothing but "ok" or "unavailable".
    """
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception:  # noqa: BLE001 - any database failure means "not ready"
        return JsonResponse({"status": "unavailable", "database": "unreachable"}, status=503)
    return JsonResponse({"status": "ok", "database": "ok"})


def favicon(request):
    """Browsers ask for /favicon.ico; the icon is a static SVG (resolved per request: hashed names in production)."""
    return HttpResponsePermanentRedirect(static("heliox/favicon.svg"))
