"""The README's first two commands are what CI runs and what a new user runs, as written."""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess

import pytest

from conftest import REPO

README = REPO / "README.md"
CI = REPO / ".ci" / "run"


def readme_commands() -> list[str]:
    """The shell commands of the README's ```bash blocks, in order."""
    blocks = re.findall(r"```bash\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)
    return [b.strip() for b in blocks]


def test_readme_starts_with_the_two_commands() -> None:
    text = README.read_text(encoding="utf-8")
    main, tests = readme_commands()[:2]
    assert "mlflow run . --env-manager local" in main
    assert "python -m pytest" in tests
    # nothing but prose precedes them: they are the first two code blocks of the README
    assert text.index(main) < text.index(tests) < text.index("```", text.index(tests) + len(tests))
    assert text.count("```") >= 4 and text.split("```")[1].startswith("bash\n" + main)


def test_ci_runs_the_readme_test_command_exactly() -> None:
    tests = readme_commands()[1]
    lines = [ln for ln in CI.read_text(encoding="utf-8").splitlines() if "pytest" in ln]
    assert lines == [tests], f".ci/run must contain exactly the README test command: {tests}"
    assert "set -euo pipefail" in CI.read_text(encoding="utf-8")


@pytest.mark.slow
def test_readme_main_command_on_a_fresh_clone(tmp_path) -> None:
    """Clone the committed HEAD and run the README's main-job command exactly as written."""
    if shutil.which("git") is None or not (REPO / ".git").exists():
        pytest.skip("not a git checkout: nothing to clone")
    main = readme_commands()[0]
    clone = tmp_path / "main"  # no ../shared beside it: the committed snapshot is used
    subprocess.run(["git", "clone", "-q", str(REPO), str(clone)], check=True, timeout=300)
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("MLFLOW_", "VIRTUAL_ENV", "PYTHONPATH", "DIVERGENCE_"))
    }
    res = subprocess.run(
        ["bash", "-c", main],
        cwd=clone,
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert res.returncode == 0, (res.stdout[-2000:], res.stderr[-3000:])
    with sqlite3.connect(clone / "mlflow.db") as db:
        names = {n for (n,) in db.execute("select name from registered_models")}
        versions = db.execute(
            "select count(*) from model_versions where name = 'divergence-utility'"
        ).fetchone()[0]
    assert "divergence-utility" in names and versions >= 1
