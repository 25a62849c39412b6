"""Project-level views that belong to no app."""

from django.http import HttpResponsePermanentRedirect, JsonResponse
from django.templatetags.static import static
from django.urls import Resolver404, resolve
from django.views.decorators.csrf import csrf_exempt


def favicon(request):
    """Browsers ask for /favicon.ico; the icon is a static SVG (resolved per request: hashed names in production)."""
    return HttpResponsePermanentRedirect(static("heliox/favicon.svg"))


@csrf_exempt  # it changes nothing; a CSRF refusal would be an HTML page
def api_not_found(request, rest: str = ""):
    """Any /api/ path that no endpoint serves: a JSON 404 like every other API answer (not an HTML page).

    A GET without its trailing slash is redirected as CommonMiddleware's APPEND_SLASH would.
    """
    if request.method in ("GET", "HEAD") and not request.path.endswith("/"):
        match = resolve_or_none(request.path + "/")
        if match is not None and match.func is not api_not_found:
            query = request.META.get("QUERY_STRING", "")
            return HttpResponsePermanentRedirect(request.path + "/" + (f"?{query}" if query else ""))
    return JsonResponse({"detail": "Not found."}, status=404)


def resolve_or_none(path: str):
    try:
        return resolve(path)
    except Resolver404:
        return None
