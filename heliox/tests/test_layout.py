"""The code's layout rules hold, and their checks really fail when a rule is broken."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
PACKAGES = ("heliox", "ops", "teams", "jobs", "costs", "web")


def lint_imports(where: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(where / ".importlinter"), "--no-cache"],
        cwd=where, env={"PYTHONPATH": str(where), "PATH": ""}, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


@pytest.fixture(scope="module")
def copy_of_the_code(tmp_path_factory) -> Path:
    """The packages and the contract, copied: violations are planted in the copy, never in the tree."""
    if not LINT_IMPORTS.exists():
        pytest.skip("import-linter is not installed (pip install -r requirements-dev.txt)")
    where = tmp_path_factory.mktemp("layout")
    for package in PACKAGES:
        shutil.copytree(ROOT / package, where / package, ignore=shutil.ignore_patterns("__pycache__", "fixtures"))
    shutil.copy(ROOT / ".importlinter", where)
    return where


def test_the_import_contracts_hold(copy_of_the_code):
    result = lint_imports(copy_of_the_code)
    assert result.returncode == 0, result.stdout
    assert "Contracts: 5 kept, 0 broken." in result.stdout


@pytest.mark.parametrize(
    ("module", "source", "broken"),
    [
        ("jobs/planted.py", "from costs.usage.models import UsageSnapshot\n", ("Apps import one way",)),
        # An upward import inside costs is also a cycle between its domains (usage reads the catalog).
        (
            "costs/catalog/planted.py",
            "from costs.usage.selectors.spend import spend_summary\n",
            ("Inside costs", "No cycles are allowed in costs."),
        ),
        (
            "costs/usage/planted.py",
            "from costs.budgets.selectors import budget_statuses\n",
            ("Inside costs", "No cycles are allowed in costs."),
        ),
        ("heliox/planted.py", "from teams.models import Team\n", ("heliox's helpers import no app",)),
        ("teams/planted.py", "from heliox.urls import urlpatterns\n", ("Apps never import the project's wiring",)),
        ("ops/planted.py", "from jobs.models import Job\n", ("Apps import one way",)),
        ("costs/planted.py", "from web.selectors import visible_jobs\n", ("Apps import one way",)),
    ],
)
def test_a_planted_violation_breaks_its_contract(copy_of_the_code, module, source, broken):
    planted = copy_of_the_code / module
    planted.write_text(source)
    try:
        result = lint_imports(copy_of_the_code)
    finally:
        planted.unlink()
    assert result.returncode == 1
    assert f"{len(broken)} broken" in result.stdout
    assert all(contract in result.stdout.split("Broken contracts")[1] for contract in broken)


@pytest.mark.parametrize(
    ("module", "late_import", "cycle"),
    [
        # top_jobs reads job_costs' parts: job_costs may not reach back, even inside a function.
        ("costs/usage/selectors/job_costs.py", "from costs.usage.selectors import top_jobs",
         "No cycles are allowed in costs.usage.selectors."),
        # jobs.services never reaches back into the jobs package's other modules that import it.
        ("jobs/services/job_rows.py", "from jobs import times", None),
        ("jobs/times.py", "from jobs.services import job_rows", "No cycles are allowed in jobs."),
        ("costs/catalog/services/catalog_rows.py", "from costs.catalog.services import skypilot",
         "No cycles are allowed in costs.catalog.services."),
    ],
)  # fmt: skip
def test_an_import_cycle_breaks_the_contract_even_inside_a_function(copy_of_the_code, module, late_import, cycle):
    planted = copy_of_the_code / module
    original = planted.read_text()
    planted.write_text(original + f"\n\ndef _planted():\n    {late_import}\n")
    try:
        result = lint_imports(copy_of_the_code)
    finally:
        planted.write_text(original)
    if cycle is None:  # a one-way import adds no cycle
        assert result.returncode == 0, result.stdout
        return
    assert result.returncode == 1
    assert "1 broken" in result.stdout
    assert cycle in result.stdout.split("Broken contracts")[1]


def test_no_module_or_function_is_too_long():
    result = subprocess.run([sys.executable, ".ci/code_sizes.py"], cwd=ROOT, capture_output=True, text=True)
    assert (result.returncode, result.stdout) == (0, "")


def test_the_size_check_names_a_long_function_and_a_long_module(tmp_path):
    long_function = tmp_path / "long.py"
    long_function.write_text("def f():\n" + "    x = 1\n" * 60)
    long_module = tmp_path / "big.py"
    long_module.write_text("x = 1\n" * 401)
    result = subprocess.run([sys.executable, str(ROOT / ".ci/code_sizes.py"), str(long_function), str(long_module)],
                            capture_output=True, text=True)  # fmt: skip
    assert result.returncode == 1
    assert f"{long_function}:1: f() has 61 lines (at most 60)" in result.stdout
    assert f"{long_module}: module of 401 lines (at most 400)" in result.stdout
