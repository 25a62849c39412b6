"""Who is asking: one rule for the client's address, shared by the API throttles and the login lockout."""

from django.http import HttpRequest
from rest_framework.throttling import BaseThrottle


def client_ip(request: HttpRequest) -> str:
    """REMOTE_ADDR, or the address NUM_PROXIES trusted proxies put in X-Forwarded-For (DRF's rule)."""
    return BaseThrottle().get_ident(request)
