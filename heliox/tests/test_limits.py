"""Limits hold across processes: throttle counters live in a shared cache, not in each worker."""

import os
import socket
import sqlite3
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]

# One process, as one gunicorn worker would: `tries` anonymous API requests from `ip` through
# DRF's throttle; prints how many it let through.
WORKER = """
import sys
import django
django.setup()
from django.test import RequestFactory
from rest_framework.request import Request
from heliox.throttling import AnonRateThrottle
ip, tries = sys.argv[1], int(sys.argv[2])
allowed = sum(
    AnonRateThrottle().allow_request(Request(RequestFactory().get("/api/schema/", REMOTE_ADDR=ip)), None)
    for _ in range(tries)
)
print(allowed)
"""


def _environment(**env: str) -> dict:
    names = {"DEBUG", "SECRET_KEY", "DATABASE_URL", "CACHE_URL", "REDIS_URL", "API_THROTTLE_ANON"}
    environment = {key: value for key, value in os.environ.items() if key not in names}
    return {**environment, "DEBUG": "on", "DJANGO_SETTINGS_MODULE": "heliox.settings", **env}


def _allowed_by_two_workers(**env: str) -> list[int]:
    """Two processes in turn, 40 requests each from one new address, at 60/minute."""
    ip = f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}"
    results = []
    for _ in range(2):
        done = subprocess.run(
            [sys.executable, "-c", WORKER, ip, "40"], cwd=ROOT, capture_output=True, text=True, timeout=120,
            env=_environment(API_THROTTLE_ANON="60/minute", **env),
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        results.append(int(done.stdout.strip()))
    return results


def _database_url() -> str:
    settings = connection.settings_dict
    return (f"postgres://{settings['USER']}:{settings['PASSWORD']}@{settings['HOST'] or '127.0.0.1'}:"
            f"{settings['PORT'] or 5432}/{settings['NAME']}")  # fmt: skip


def test_the_anonymous_rate_holds_across_processes_with_the_database_cache(db, postgres_only):
    # The default cache: a table in the database that every worker reads (here: the test database).
    assert _allowed_by_two_workers(DATABASE_URL=_database_url()) == [40, 20]


def _redis_up() -> bool:
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=1).close()
    except OSError:
        return False
    return True


@pytest.mark.skipif(not _redis_up(), reason="no Redis on 127.0.0.1:6379 (apt-get install redis-server)")
def test_the_anonymous_rate_holds_across_processes_with_redis(tmp_path):
    env = {"REDIS_URL": "redis://127.0.0.1:6379/1", "DATABASE_URL": f"sqlite:///{tmp_path / 'unused.sqlite3'}"}
    assert _allowed_by_two_workers(**env) == [40, 20]


def _cache_setting(**env: str) -> str:
    code = "import django; django.setup(); from django.conf import settings; print(settings.CACHES['default'])"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=_environment(**env), capture_output=True,
                          text=True, timeout=60)  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_the_cache_is_the_database_by_default_and_redis_or_any_url_when_set():
    assert _cache_setting() == str({"BACKEND": "django.core.cache.backends.db.DatabaseCache",
                                    "LOCATION": "heliox_cache", "OPTIONS": {"MAX_ENTRIES": 10_000},
                                    "KEY_PREFIX": "heliox"})  # fmt: skip
    assert _cache_setting(REDIS_URL="redis://cache:6379/2") == str(
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://cache:6379/2",
         "KEY_PREFIX": "heliox"}
    )  # fmt: skip
    assert _cache_setting(REDIS_URL="redis://cache:6379/2", CACHE_URL="locmemcache://") == str(
        {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "", "KEY_PREFIX": "heliox"}
    )


def test_migrate_creates_the_cache_table(tmp_path):
    database = tmp_path / "fresh.sqlite3"
    done = subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "--verbosity", "0"], cwd=ROOT, capture_output=True,
        text=True, timeout=300, env=_environment(DATABASE_URL=f"sqlite:///{database}"),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    with sqlite3.connect(database) as sqlite:
        tables = {name for (name,) in sqlite.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert "heliox_cache" in tables


def test_a_forged_forwarded_for_header_does_not_reset_the_anonymous_rate(db, monkeypatch):
    from django.core.cache import cache
    from rest_framework.test import APIClient

    from heliox.throttling import AnonRateThrottle

    monkeypatch.setattr(AnonRateThrottle, "THROTTLE_RATES", {**AnonRateThrottle.THROTTLE_RATES, "anon": "2/minute"})
    cache.clear()
    client = APIClient(REMOTE_ADDR="192.0.2.7")
    codes = [client.get("/api/schema/", HTTP_X_FORWARDED_FOR=f"198.51.100.{n}").status_code for n in range(3)]
    cache.clear()
    assert codes == [200, 200, 429]
