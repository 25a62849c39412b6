from unittest import mock

import pytest
from django.db.utils import OperationalError


def test_healthz_answers_without_the_database(client, db, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get("/healthz")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})
    assert "no-cache" in response["Cache-Control"]
    # A database outage makes the process not ready, not dead: restarting it would not help.
    with mock.patch("django.db.backends.base.base.BaseDatabaseWrapper.cursor", side_effect=OperationalError("down")):
        assert client.get("/healthz").status_code == 200


def test_readyz_checks_the_database_and_the_cache_and_says_tasks_run_in_process(client, db, settings):
    assert settings.CELERY_TASK_ALWAYS_EAGER  # no CELERY_BROKER_URL in the tests
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "cache": "ok", "broker": "embedded"}


@pytest.mark.parametrize("url", ["/readyz", "/health/"])
def test_readyz_is_503_naming_the_database_when_it_is_down(client, db, url):
    with mock.patch("heliox.health.connection.cursor", side_effect=OperationalError("down")):
        response = client.get(url)
    assert response.status_code == 503
    # The default cache is a table in that database: it is down too.
    assert response.json() == {
        "status": "unavailable",
        "database": "unreachable",
        "cache": "unreachable",
        "broker": "embedded",
        "failed": ["database", "cache"],
    }


def test_readyz_is_503_when_the_cache_does_not_keep_a_write(client, db):
    with mock.patch("heliox.health.cache.get", return_value=None):
        response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["failed"] == ["cache"]
    assert response.json()["cache"] == "unreachable"


def test_readyz_checks_a_configured_broker(client, db, settings):
    """A broker that refuses connections (nothing listens on that port) makes the web process not ready."""
    from ops.testing import free_port

    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{free_port()}/0"
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json() == {
        "status": "unavailable",
        "database": "ok",
        "cache": "ok",
        "broker": "unreachable",
        "failed": ["broker"],
    }


def test_health_is_the_old_name_of_readyz(client, db):
    response = client.get("/health/")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "cache": "ok", "broker": "embedded"}


@pytest.mark.parametrize("url", ["/healthz", "/readyz", "/health/"])
def test_probes_are_not_redirected_to_https(client, db, settings, url):
    """Probes come over plain HTTP inside the container network, even with the TLS redirect on."""
    settings.SECURE_SSL_REDIRECT = True
    assert client.get(url).status_code == 200
    assert client.get("/admin/login/").status_code == 301


@pytest.mark.parametrize("url", ["/healthz", "/readyz", "/health/"])
def test_probes_answer_a_load_balancer_that_asks_by_address(client, db, settings, url):
    """A probe's Host is the container's address, which ALLOWED_HOSTS does not list; pages still refuse it."""
    settings.ALLOWED_HOSTS = ["heliox.example.com"]
    assert client.get(url, HTTP_HOST="10.0.3.7:8000").status_code == 200
    assert client.get("/admin/login/", HTTP_HOST="10.0.3.7:8000").status_code == 400
    assert client.get("/readyz/", HTTP_HOST="10.0.3.7:8000").status_code == 400  # only the probes themselves


@pytest.mark.parametrize("url", ["/healthz", "/readyz"])
def test_probes_answer_get_only(client, db, url):
    assert client.post(url).status_code == 405


def test_favicon_redirects_to_the_static_icon(client, db):
    response = client.get("/favicon.ico")
    assert (response.status_code, response["Location"]) == (301, "/static/heliox/favicon.svg")
