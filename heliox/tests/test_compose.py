"""docker-compose.yml, checked where Docker cannot run: against the Compose Specification's schema, then
for what Heliox needs of it. (ops/tests/test_worker.py runs the worker and beat healthchecks for real.)"""

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
HELIOX = ("migrate", "web", "worker", "beat")  # the services that run the Heliox image


def test_the_file_is_valid_against_the_compose_specification():
    checker = Path(sys.executable).parent / "check-jsonschema"
    result = subprocess.run([checker, "--builtin-schema", "vendor.compose-spec", ROOT / "docker-compose.yml"],
                            capture_output=True, text=True, timeout=120)  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


def test_redis_worker_and_beat_run_beside_db_and_web():
    assert set(SERVICES) == {"db", "redis", "migrate", "web", "worker", "beat"}
    assert SERVICES["worker"]["command"] == ["celery", "-A", "heliox", "worker", "--loglevel", "INFO"]
    assert SERVICES["beat"]["command"] == ["celery", "-A", "heliox", "beat", "--loglevel", "INFO"]
    assert SERVICES["redis"]["image"].startswith("redis:")


@pytest.mark.parametrize("service", HELIOX)
def test_every_heliox_service_shares_the_database_the_broker_and_the_cache(service):
    env = SERVICES[service]["environment"]
    assert env["DATABASE_URL"] == "postgres://heliox:heliox@db:5432/heliox"
    assert env["CELERY_BROKER_URL"] == "redis://redis:6379/0"
    assert env["REDIS_URL"] == "redis://redis:6379/1"
    assert SERVICES[service]["env_file"] == ".env"


@pytest.mark.parametrize("service", ["web", "worker", "beat"])
def test_web_workers_and_beat_start_after_a_healthy_database_and_redis_and_the_migration(service):
    assert SERVICES[service]["depends_on"] == {
        "db": {"condition": "service_healthy"},
        "redis": {"condition": "service_healthy"},
        "migrate": {"condition": "service_completed_successfully"},
    }


@pytest.mark.parametrize("service", ["db", "redis", "web", "worker", "beat"])
def test_every_long_running_service_has_a_healthcheck(service):
    assert SERVICES[service]["healthcheck"]["test"]


def test_workers_can_be_scaled():
    """`docker compose up --scale worker=4`: no fixed container name or host port to collide."""
    assert "container_name" not in SERVICES["worker"]
    assert "ports" not in SERVICES["worker"]


def test_the_web_healthcheck_asks_readyz(live_server):
    command = SERVICES["web"]["healthcheck"]["test"]
    assert command[:3] == ["CMD", "python", "-c"]
    assert "http://127.0.0.1:8000/readyz" in command[3]
    code = command[3].replace("http://127.0.0.1:8000", live_server.url)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    down = command[3].replace("http://127.0.0.1:8000/readyz", f"{live_server.url}/no-such-page")
    assert subprocess.run([sys.executable, "-c", down], capture_output=True, timeout=60).returncode != 0
