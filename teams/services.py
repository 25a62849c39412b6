"""Writes about teams' users: their API tokens (django-rest-knox; only a hash is stored)."""

from datetime import timedelta

from django.db import transaction
from knox.models import AuthToken

MAX_TOKEN_DAYS = 3650


@transaction.atomic
def api_token_create(*, user, days: int) -> tuple[AuthToken, str]:
    """A token for `user` expiring in `days` days (0: never). Returns the row and the token, shown once."""
    if days < 0 or days > MAX_TOKEN_DAYS:
        raise ValueError(f"expires: 0 (never) or 1 to {MAX_TOKEN_DAYS} days, got {days}")
    return AuthToken.objects.create(user=user, expiry=timedelta(days=days) if days else None)


@transaction.atomic
def api_token_revoke(*, user, token_key: str) -> bool:
    """Delete `user`'s token whose key (the token's first characters) is `token_key`; False if none is theirs."""
    deleted, _ = AuthToken.objects.filter(user=user, token_key=token_key).delete()
    return bool(deleted)
