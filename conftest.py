"""Fixtures shared by every app's tests."""

import pytest
from django.db import connection


@pytest.fixture
def staff_client(client, django_user_model):
    """A logged-in superuser (staff with every permission)."""
    user = django_user_model.objects.create_superuser("boss", "boss@example.com", "correct-horse-battery")
    client.force_login(user)
    return client


@pytest.fixture
def postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (set DATABASE_URL=postgres://...)")
