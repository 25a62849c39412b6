"""What every member page shares: the range, the CSV and JSON answers, the 404 for what is not one's own."""

import csv
import re
from collections.abc import Iterable, Sequence
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse, JsonResponse
from django.urls import reverse

from costs.dashboard.views import range_context
from heliox.csv_safety import safe_cell
from heliox.query_guard import wants_data


def member_required(view):
    """login_required for a page; a request for its CSV or JSON without a session is a 401 in plain text, so that
    a script never saves the login page as data."""
    page = login_required(view)

    @wraps(view)
    def guarded(request, *args, **kwargs):
        if not request.user.is_authenticated and wants_data(request):
            return HttpResponse("Log in first: this data needs a session (the API takes a token).\n",
                                status=401, content_type="text/plain")  # fmt: skip
        return page(request, *args, **kwargs)

    return guarded


def found(obj):
    """The object, or a 404: what a user may not see does not exist for them."""
    if obj is None:
        raise Http404
    return obj


def page_context(request) -> dict:
    """The range (the admin dashboard's presets and picker) and the links that keep it."""
    context = range_context(request)
    return {**context, "hx_nav": nav(request.user)}


def nav(user) -> list[tuple[str, str]]:
    links = [("Dashboard", reverse("web:home")), ("Jobs", reverse("web:jobs")), ("Budgets", reverse("web:budgets")),
             ("Saved views", reverse("web:views")),
             ("API tokens", reverse("web:tokens"))]  # fmt: skip
    if user.is_staff:
        links.append(("Admin", reverse("admin:index")))
    return links


def wants(request, what: str) -> bool:
    return request.GET.get("format") == what


def csv_response(*, name: str, columns: Sequence[str], rows: Iterable[Sequence]) -> HttpResponse:
    """A table as CSV: every cell made safe for spreadsheets, unknown values empty (never 0)."""
    response = HttpResponse(content_type="text/csv")
    # Names carry team and label values: only a safe set reaches the header (no quote, newline or path).
    safe_name = re.sub(r"[^\w.-]+", "_", name)[:150]
    response["Content-Disposition"] = f'attachment; filename="{safe_name}.csv"'
    writer = csv.writer(response)
    writer.writerow(columns)
    for row in rows:
        writer.writerow([safe_cell("" if value is None else value) for value in row])
    return response


def chart_response(charts: dict) -> JsonResponse:
    """The charts' series as JSON (floats, for drawing only; the tables show the exact Decimals)."""
    return JsonResponse(charts)
