"""Writes of the dashboard: users' saved views."""

from django.db import transaction
from django.http import QueryDict

from costs.dashboard.models import SavedView
from costs.dashboard.viewstate import query_with


@transaction.atomic
def saved_view_save(*, user, name: str, page: str, query: str) -> tuple[SavedView, bool]:
    """Save the page's view under `name` (the user's own: the same name again replaces it). Returns the view and
    whether it was created. The query is kept in one order, without paging or format (viewstate.query_with)."""
    if page not in SavedView.Page.values:
        raise ValueError(f"unknown page {page!r}; use {', '.join(SavedView.Page.values)}")
    name = name.strip()
    if not name:
        raise ValueError("a saved view needs a name")
    kept = query_with(QueryDict(query.lstrip("?")))
    limits = ((name, "name", 100), (kept, "view's address", 2000))  # SavedView.name and .query max_length
    for text, what, most in limits:
        if len(text) > most:
            raise ValueError(f"the {what} is too long to save ({len(text):,} characters; at most {most:,})")
        if "\x00" in text:
            raise ValueError(f"the {what} holds a NUL character")
    return SavedView.objects.update_or_create(user=user, name=name, defaults={"page": page, "query": kept})


def saved_view_delete(*, user, pk) -> bool:
    """Delete one of the user's own views; False when the user has none with that id (another's is not theirs)."""
    deleted, _ = SavedView.objects.filter(user=user, pk=pk).delete()
    return bool(deleted)
