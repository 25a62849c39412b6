"""The admin login locks a username out from an address after repeated wrong passwords (django-axes)."""

from io import StringIO

import pytest
from axes.models import AccessAttempt
from django.core.management import call_command
from django.test import Client
from rest_framework.test import APIClient

LOGIN = "/admin/login/?next=/admin/"
PASSWORD = "correct-horse-battery"


@pytest.fixture
def admin_user(django_user_model):
    return django_user_model.objects.create_superuser("boss", "boss@example.com", PASSWORD)


def login(client: Client, password: str, username: str = "boss", **headers):
    return client.post(LOGIN, {"username": username, "password": password}, **headers)


def logged_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def test_five_wrong_passwords_lock_the_login_even_with_the_right_password(admin_user, client, settings):
    assert settings.AXES_FAILURE_LIMIT == 5
    for _ in range(4):
        response = login(client, "wrong")
        assert response.status_code == 200  # the form again, with its error
        assert b"Please enter the correct username and password" in response.content
    locked = login(client, "wrong")
    assert locked.status_code == 429

    response = login(client, PASSWORD)
    assert response.status_code == 429
    assert not logged_in(client)
    page = response.content.decode()
    assert "Login locked" in page
    assert "Too many failed logins for <strong>boss</strong> from your address" in page
    assert "Try again in 0:30:00" in page
    assert "manage.py axes_reset_username boss" in page


def test_reset_command_unlocks_the_login(admin_user, client):
    for _ in range(5):
        login(client, "wrong")
    assert login(client, PASSWORD).status_code == 429

    call_command("axes_reset_username", "boss", verbosity=0)
    response = login(client, PASSWORD)
    assert response.status_code == 302
    assert response["Location"] == "/admin/"
    assert logged_in(client)


def test_an_admin_unlocks_the_login_by_deleting_the_access_attempt(admin_user, client, django_user_model):
    for _ in range(5):
        login(client, "wrong", username="bob")
    attempt = AccessAttempt.objects.get(username="bob")
    assert attempt.failures_since_start == 5

    client.force_login(admin_user)
    changelist = client.get("/admin/axes/accessattempt/")
    assert changelist.status_code == 200
    assert b"bob" in changelist.content
    response = client.post(f"/admin/axes/accessattempt/{attempt.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not AccessAttempt.objects.exists()


def test_the_lockout_is_per_username_and_address(admin_user, client):
    for _ in range(5):
        login(client, "wrong")
    assert login(client, PASSWORD).status_code == 429
    # The same user from another address, and another user from this one, are not locked.
    other = Client(REMOTE_ADDR="10.0.0.9")
    assert login(other, PASSWORD).status_code == 302
    assert login(Client(), "wrong", username="carol").status_code == 200


def test_a_forged_forwarded_for_header_does_not_escape_the_lockout(admin_user, client):
    for n in range(5):
        login(client, "wrong", HTTP_X_FORWARDED_FOR=f"198.51.100.{n}")
    assert login(client, PASSWORD, HTTP_X_FORWARDED_FOR="198.51.100.99").status_code == 429


def test_fewer_wrong_passwords_than_the_limit_do_not_lock_and_a_success_starts_over(admin_user, client):
    for _ in range(4):
        login(client, "wrong")
    assert login(client, PASSWORD).status_code == 302
    client.logout()
    for _ in range(4):
        login(client, "wrong")
    assert login(client, PASSWORD).status_code == 302


def test_api_tokens_and_forced_logins_are_not_affected_by_a_lockout(admin_user, client):
    for _ in range(5):
        login(client, "wrong")
    assert login(client, PASSWORD).status_code == 429
    out = StringIO()
    call_command("create_api_token", "boss", stdout=out)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {out.getvalue().strip()}")
    assert api.get("/api/v1/teams/").status_code == 200
    client.force_login(admin_user)
    assert client.get("/admin/").status_code == 200
