"""Everyone's own API tokens: create one (shown once, on the page that created it), list and revoke them."""

from django import forms
from django.contrib import messages
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.views.decorators.http import require_POST

from teams.services import MAX_TOKEN_DAYS, api_token_create, api_token_revoke
from web.selectors import user_tokens
from web.views.common import found, member_required, page_context


class TokenForm(forms.Form):
    expires = forms.IntegerField(label="Expires in (days, 0: never)", min_value=0, max_value=MAX_TOKEN_DAYS,
                                 initial=90)  # fmt: skip


@member_required
def tokens(request):
    """The user's tokens; a POST creates one and shows it in this answer only (only its hash is stored)."""
    form = TokenForm(request.POST or None)
    secret = None
    if request.method == "POST" and form.is_valid():
        _, secret = api_token_create(user=request.user, days=form.cleaned_data["expires"])
        form = TokenForm()
    response = TemplateResponse(request, "web/tokens.html", {
        **page_context(request), "form": form, "secret": secret, "tokens": user_tokens(user=request.user),
        "title": "API tokens",
    })  # fmt: skip
    response["Cache-Control"] = "no-store"  # the secret must not stay in a cache or the back button
    return response


@member_required
@require_POST
def token_revoke(request, key: str):
    """Revoke one of one's own tokens; another user's is a 404."""
    if not api_token_revoke(user=request.user, token_key=key):
        return found(None)
    messages.success(request, f"Token {key}... revoked: requests with it are refused from now on.")
    return redirect("web:tokens")
