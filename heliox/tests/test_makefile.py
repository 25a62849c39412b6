"""`make run` serves on the port asked for and prints the address to open (a dry run: nothing is started)."""

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(shutil.which("make") is None, reason="no make on this machine")
@pytest.mark.parametrize(("args", "port"), [([], "8000"), (["PORT=8001"], "8001")])
def test_make_run_serves_and_prints_the_port_asked_for(args, port):
    plan = subprocess.run(
        ["make", "--no-print-directory", "-n", "run", *args], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    lines = plan.splitlines()
    assert f'echo "Heliox: open http://127.0.0.1:{port}/admin/ (the dashboard; log in as admin)"' in lines
    assert lines[-1].endswith(f"manage.py runserver 127.0.0.1:{port}")
