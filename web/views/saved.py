"""Saved views: save the page one is looking at under a name, list one's own, reopen or delete them."""

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.views.decorators.http import require_POST

from costs.dashboard.models import SavedView
from costs.dashboard.selectors import saved_views
from costs.dashboard.services import saved_view_delete, saved_view_save
from heliox.permissions import sees_organisation_spend
from web.views.common import member_required, page_context


@member_required
def saved_list(request):
    """One's own saved views, each a link that reopens it, with a delete button."""
    return TemplateResponse(request, "web/saved_views.html", {**page_context(request), "title": "Saved views",
                            "views": saved_views(user=request.user)})  # fmt: skip


@member_required
@require_POST
def saved_save(request):
    """Save the posted page and query under the posted name, then reopen it (errors go back as a message)."""
    page = request.POST.get("page", "")
    if page == SavedView.Page.DASHBOARD and not sees_organisation_spend(request.user):
        raise Http404
    try:
        # Whole, never cut: a name or query too long is refused by the service, and nothing is saved.
        view, created = saved_view_save(user=request.user, name=request.POST.get("name", ""), page=page,
                                        query=request.POST.get("query", ""))  # fmt: skip
    except ValueError as error:
        messages.error(request, f"The view was not saved: {error}.")
        return redirect(reverse("web:views"))
    messages.success(request, f"Saved as “{view.name}”." if created else f"“{view.name}” now opens this view.")
    return redirect(view.get_absolute_url())


@member_required
@require_POST
def saved_delete(request, pk):
    """Delete one of one's own views; another user's is a 404, as if it did not exist."""
    if not saved_view_delete(user=request.user, pk=pk):
        raise Http404
    messages.success(request, "The saved view was deleted.")
    return redirect(reverse("web:views"))
