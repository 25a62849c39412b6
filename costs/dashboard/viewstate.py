"""The view a spend page shows, as it lives in the URL: range, step, idle mode, currency and filters.

A link that changes one of them keeps all the others, so that a link (or a saved view)
shows a colleague the same page. Parameters come out in one order (range, view,
filters, then the page's own), so the same view is always the same URL.
"""

from urllib.parse import urlencode
from uuid import UUID

from django.http import QueryDict

from costs.usage.api.params import FILTER_PARAMS

RANGE_PARAMS = ("range", "start", "end")
VIEW_PARAMS = ("idle", "interval", "currency")
VIEW_DEFAULTS = {"idle": "separate", "interval": "day", "currency": "USD"}
# A link to another view of the page starts again on its first page, as HTML.
TRANSIENT = ("page", "p", "format", "e")
ORDER = (*RANGE_PARAMS, *VIEW_PARAMS, *FILTER_PARAMS)


def query_with(params: QueryDict, **changes: str | None) -> str:
    """`params` as a query string with `changes` applied: a value sets its parameter, None (or a view
    parameter's default) removes it. Paging and the format are dropped; empty values are left out."""
    values: dict[str, list[str]] = {name: list(found) for name, found in params.lists() if name not in TRANSIENT}
    for name, value in changes.items():
        if value is None or VIEW_DEFAULTS.get(name) == value:
            values.pop(name, None)
        else:
            values[name] = [value]
    known = [name for name in ORDER if name in values]
    others = [name for name in values if name not in ORDER]
    return urlencode([(name, value) for name in (*known, *others) for value in values[name] if value.strip()])


def range_links(params: QueryDict, presets: dict[str, str], current: str) -> list[dict]:
    """The range presets as links that keep the rest of the view (a custom start/end gives way to the preset)."""
    return [
        {"label": label, "href": "?" + query_with(params, range=key, start=None, end=None), "active": key == current}
        for key, label in presets.items()
    ]


def choice_links(params: QueryDict, name: str, choices: list[tuple[str, str]], current: str) -> list[dict]:
    """One link per value of a view parameter (step, idle mode, currency), each keeping everything else."""
    return [
        {"label": label, "href": "?" + query_with(params, **{name: value}), "active": value == current}
        for value, label in choices
    ]


def kept_fields(params: QueryDict) -> list[tuple[str, str]]:
    """The hidden fields of the custom range form: every parameter but the range (and paging)."""
    return [(name, value) for name, values in params.lists() for value in values
            if name not in (*RANGE_PARAMS, *TRANSIENT)]  # fmt: skip


def filter_bar(params: QueryDict, teams: list[tuple[UUID, str]]) -> dict:
    """The filter bar's context: the teams one may pick, the values shown, the hidden fields that keep the rest
    of the view, a link removing each filter in use, and one removing them all."""
    values = {name: params.get(name, "").strip() for name in FILTER_PARAMS}
    names = {str(pk): name for pk, name in teams}
    chips = [
        {"name": name, "value": names.get(value, value) if name == "team" else value,
         "href": "?" + query_with(params, **{name: None})}
        for name, value in values.items() if value
    ]  # fmt: skip
    hidden = [(name, value) for name, found in params.lists() for value in found
              if name not in (*FILTER_PARAMS, *TRANSIENT)]  # fmt: skip
    return {"filter_teams": [(str(pk), name) for pk, name in teams], "filter_values": values,
            "filter_kept": hidden, "filter_chips": chips,
            "filter_clear": "?" + query_with(params, **dict.fromkeys(FILTER_PARAMS))}  # fmt: skip
