"""Settings fail fast and safe: checked in a fresh interpreter with a controlled environment."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _load_settings(**env: str) -> subprocess.CompletedProcess:
    environment = {key: value for key, value in os.environ.items() if key not in {"DEBUG", "SECRET_KEY"}}
    environment.update(env, DJANGO_SETTINGS_MODULE="heliox.settings")
    code = "import django; django.setup(); from django.conf import settings; print(settings.SECURE_SSL_REDIRECT)"
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=60
    )


def test_no_secret_key_with_debug_off_fails_fast_with_a_readable_message():
    result = _load_settings(DEBUG="off")
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr


def test_debug_off_turns_on_the_secure_defaults():
    result = _load_settings(DEBUG="off", SECRET_KEY="x" * 60, ALLOWED_HOSTS="heliox.example.com")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "True"


def test_secure_redirect_can_be_turned_off_for_a_tls_proxy():
    result = _load_settings(DEBUG="off", SECRET_KEY="x" * 60, SECURE_SSL_REDIRECT="off")
    assert result.stdout.strip() == "False"


def test_debug_on_runs_with_a_development_key():
    result = _load_settings(DEBUG="on")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_every_variable_the_settings_read_is_in_env_example_and_the_readme():
    import re

    names = set(re.findall(r"\benv(?:\.\w+)?\(\s*\"([A-Z][A-Z0-9_]+)\"", (ROOT / "heliox" / "settings.py").read_text()))
    assert {"DEBUG", "SECRET_KEY", "REDIS_URL", "AXES_FAILURE_LIMIT", "CSP_REPORT_ONLY"} <= names
    example = set(re.findall(r"^([A-Z][A-Z0-9_]+)=", (ROOT / ".env.example").read_text(), flags=re.MULTILINE))
    readme = (ROOT / "README.md").read_text()
    configuration = readme[readme.index("## Configuration") : readme.index("## Data model")]
    assert sorted(names - example) == []
    assert sorted(name for name in names if f"`{name}`" not in configuration) == []
