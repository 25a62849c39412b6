"""Fixtures shared by every app's tests."""

import socket

import pytest
from django.db import connection

# Redis, Celery worker and beat fixtures for tests of background work (see ops/testing.py).
pytest_plugins = ["ops.testing"]

# The tests' DNS: no test depends on the network. A value may be a callable (an answer that changes).
FAKE_DNS = {
    "hooks.example.com": ["93.184.215.14"],
    "hooks.slack.com": ["2600:1f18:24e6:b900::1", "54.84.61.11"],
    "localhost": ["127.0.0.1", "::1"],
    "metadata.example.com": ["169.254.169.254"],
    "intranet.example.com": ["10.1.2.3"],
}


@pytest.fixture(autouse=True)
def fake_dns(monkeypatch):
    """Host name -> addresses for heliox.net (webhook checks); edit the returned dict to change answers."""
    table = dict(FAKE_DNS)

    def resolve(host: str, port: int) -> list[str]:
        if host not in table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        answer = table[host]
        return list(answer() if callable(answer) else answer)

    monkeypatch.setattr("heliox.net.resolve", resolve)
    return table


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path_factory):
    """Uploaded files (imports waiting for a worker) go to a folder of the test's own, not the project's media/."""
    settings.MEDIA_ROOT = str(tmp_path_factory.mktemp("media"))
    return settings.MEDIA_ROOT


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """PBKDF2 is slow on purpose; tests hash dozens of passwords."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


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


@pytest.fixture
def org(db):
    """Two teams with jobs, prices, a bill and rollups; users of each role.

    staff: staff with every permission on Heliox's data (teams, jobs, costs); dave: no team.
    nlp (alice manager, bob member): llama 4 x H100 aws 1:00-3:00 on 2025-03-10 -> 8 GPU-h, $32.
    vision (carol manager): vit 2 x H100 aws 1:00-2:00 -> 2 GPU-h, $8.
    Bill for aws H100 that day: $50.00, so $10.00 idle.
    """
    from datetime import UTC, date, datetime
    from decimal import Decimal

    from django.contrib.auth.models import Permission

    from costs.billing.tests.factories import CostSnapshotFactory
    from costs.catalog.tests.factories import GpuPriceFactory
    from costs.usage.services.rollup import usage_rollup
    from jobs.tests.factories import JobFactory
    from teams.tests.factories import MembershipFactory, TeamFactory, UserFactory

    nlp, vision = TeamFactory(name="nlp"), TeamFactory(name="vision")
    users = {name: UserFactory(username=name) for name in ("alice", "bob", "carol", "dave")}
    users["staff"] = UserFactory(username="staff", is_staff=True)
    heliox_data = Permission.objects.filter(content_type__app_label__in=["teams", "jobs", "costs"])
    users["staff"].user_permissions.set(heliox_data)
    MembershipFactory(user=users["alice"], team=nlp, role="manager")
    MembershipFactory(user=users["bob"], team=nlp, role="member")
    MembershipFactory(user=users["carol"], team=vision, role="manager")
    GpuPriceFactory(usd_per_gpu_hour=Decimal("4.0000"))
    day = datetime(2025, 3, 10, tzinfo=UTC)
    jobs = {
        "llama": JobFactory(team=nlp, model_name="llama", gpu_count=4, start_time=day.replace(hour=1),
                            end_time=day.replace(hour=3), external_id="nlp-1"),
        "vit": JobFactory(team=vision, model_name="vit", gpu_count=2, start_time=day.replace(hour=1),
                          end_time=day.replace(hour=2), external_id="vision-1"),
    }  # fmt: skip
    CostSnapshotFactory(date=date(2025, 3, 10), cost_usd=Decimal("50.00"))
    usage_rollup(start=date(2025, 3, 10), end=date(2025, 3, 11), now=datetime(2025, 3, 11, tzinfo=UTC))
    return {"teams": {"nlp": nlp, "vision": vision}, "users": users, "jobs": jobs}


@pytest.fixture
def api():
    """An API client; `api.as_user(user)` logs in with a session."""
    from rest_framework.test import APIClient

    client = APIClient()

    def as_user(user):
        client.force_authenticate(user=user)
        return client

    client.as_user = as_user
    return client
