"""One guard for every query string: a parameter no column can hold never reaches a query.

PostgreSQL text holds no NUL character, so `?model=%00` (or a NUL in any filter, currency,
search or sort) raised DataError: a 500 on every page and export that read the parameter. The
guard runs before every view (member pages, the admin, the API), so a new parameter cannot
forget it. Data (CSV, JSON, the API) gets a 400 naming the parameter; a page is sent again
without it, with a message saying why. A NUL in the path is a 404.
"""

import csv

from django.contrib import messages
from django.http import Http404, HttpResponse, HttpResponseBadRequest, HttpResponseRedirect, JsonResponse

from heliox.csv_safety import safe_cell
from heliox.validation import text_problem

DATA_FORMATS = ("csv", "json")


def wants_data(request) -> bool:
    """Whether the request asks for CSV or JSON (a script, not a person): `?format=`, a .csv/.json path, the API."""
    path = request.path_info
    return request.GET.get("format") in DATA_FORMATS or path.endswith((".csv", ".json")) or path.startswith("/api/")


def refusal(request, errors: dict) -> HttpResponse | None:
    """A request for data (wants_data) with bad parameters: a 400 naming each, never other figures instead
    (a file cannot say "this month's, not the range you asked for"). JSON is {"start": ["..."]}; CSV has
    `field,message` rows, as the API's. None when nothing is wrong or for a page, which shows the errors."""
    if not errors or not wants_data(request):
        return None
    errors = {name: [str(why) for why in whys] for name, whys in errors.items()}
    if request.GET.get("format") == "json":
        return JsonResponse(errors, status=400)
    response = HttpResponse(content_type="text/csv", status=400)
    writer = csv.writer(response, lineterminator="\n")
    writer.writerow(("field", "message"))
    writer.writerows((name, safe_cell(why)) for name, whys in errors.items() for why in whys)
    return response


def query_problems(request) -> dict[str, str]:
    """Each query parameter whose name or value cannot be stored, with why (text_problem)."""
    problems = {}
    for name, values in request.GET.lists():
        problem = text_problem(name) or next((why for value in values if (why := text_problem(value))), "")
        if problem:
            problems[name.replace("\x00", "\\x00")] = problem
    return problems


class QueryGuardMiddleware:
    """Refuses query parameters that contain a NUL character (after MessageMiddleware, for the page's message), and
    paths that do: a 404, as no object has such a key (`/tokens/%00/revoke/` was a 500 on PostgreSQL)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if text_problem(request.path_info):  # a text key in the path (knox's token key) reaches a query
            raise Http404("No page has a NUL character in its address.")
        problems = query_problems(request)
        if not problems:
            return self.get_response(request)
        text = "; ".join(f"{name}: {why}" for name, why in problems.items())
        if request.path_info.startswith("/api/"):
            return JsonResponse({name: [f"Parameter {why}."] for name, why in problems.items()}, status=400)
        if wants_data(request) or request.method not in ("GET", "HEAD"):
            return HttpResponseBadRequest(f"Bad query parameter: {text}.\n", content_type="text/plain")
        kept = request.GET.copy()
        for name in list(kept):
            if text_problem(name) or any(text_problem(value) for value in kept.getlist(name)):
                del kept[name]
        messages.error(request, f"Left out the query parameter {text}.")
        query = kept.urlencode()
        return HttpResponseRedirect(request.path + (f"?{query}" if query else ""))
