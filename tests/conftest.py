"""Shared fixtures: paths to the real data and one trained model per test session.

Raw data: ``RAW`` is the full public tree ``../shared/data/raw`` beside the repo when it exists,
else the committed real slices ``tests/data/raw`` (cut by ``scripts/cut_test_slices.py``).
``DIVERGENCE_TEST_RAW=slices`` forces the slices. Tests whose expectations hold only on the
full tree (exact counts, coverage figures, snapshot byte-identity) use ``needs_full_raw`` or
the ``full_raw_dir`` fixture and are skipped, with one reason, on the slices.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
FULL_RAW = REPO.parent / "shared" / "data" / "raw"
SLICE_RAW = REPO / "tests" / "data" / "raw"
ON_SLICES = os.environ.get("DIVERGENCE_TEST_RAW") == "slices" or not FULL_RAW.is_dir()
RAW = SLICE_RAW if ON_SLICES else FULL_RAW
FULL_RAW_REASON = (
    "needs the full raw tree ../shared/data/raw (absent or DIVERGENCE_TEST_RAW=slices); "
    "the committed slices in tests/data/raw cannot give its exact figures"
)
needs_full_raw = pytest.mark.skipif(ON_SLICES, reason=FULL_RAW_REASON)
SNAPSHOT = REPO / "data" / "snapshot"
SMALL_EXPERIMENT = REPO / "tests" / "data" / "experiment_small.yaml"

os.environ.setdefault("OMP_NUM_THREADS", "1")


def cli_env(tracking_uri: str | None = None, **extra: str) -> dict[str, str]:
    """Environment for CLI subprocesses: fixed threads, isolated tracking store."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    env["OMP_NUM_THREADS"] = "1"
    env["PYTHONHASHSEED"] = "0"
    if tracking_uri:
        env["MLFLOW_TRACKING_URI"] = tracking_uri
    env.update(extra)
    return env


def run_cli(
    args: list[str],
    tracking_uri: str | None = None,
    cwd: Path | None = None,
    timeout: float = 600,
    **extra: str,
) -> subprocess.CompletedProcess:
    """Run ``python -m divergence ARGS`` and capture its output."""
    return subprocess.run(
        [sys.executable, "-m", "divergence", *args],
        cwd=cwd or REPO,
        env=cli_env(tracking_uri, **extra),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def one_row(df, **where):
    """The single row of ``df`` matching all ``column=value`` pairs (asserts exactly one)."""
    import numpy as np

    mask = np.ones(len(df), dtype=bool)
    for col, val in where.items():
        mask &= (df[col] == val).to_numpy()
    rows = df[mask]
    assert len(rows) == 1, f"{len(rows)} rows match {where}"
    return rows.iloc[0]


@pytest.fixture(scope="session")
def raw_dir() -> Path:
    """The full raw tree if present, else the committed slices."""
    return RAW


@pytest.fixture(scope="session")
def full_raw_dir() -> Path:
    """The full raw tree; skips (one reason) when only the slices are available."""
    if ON_SLICES:
        pytest.skip(FULL_RAW_REASON)
    return FULL_RAW


@pytest.fixture(scope="session")
def slice_raw_dir() -> Path:
    """The committed slices, whether or not the full tree is present."""
    return SLICE_RAW


@pytest.fixture(scope="session")
def snapshot():
    from divergence.snapshot import load_snapshot

    return load_snapshot(SNAPSHOT)


@pytest.fixture(scope="session")
def trained(tmp_path_factory) -> dict:
    """Train and register one model (small experiment, no tuning) in a temp SQLite store."""
    d = tmp_path_factory.mktemp("trained")
    uri = f"sqlite:///{d / 'mlflow.db'}"
    # cwd=d: the experiment's default artifact root (./mlruns) lands in the temp dir, not the repo
    res = run_cli(
        ["train", "--experiment", str(SMALL_EXPERIMENT)], tracking_uri=uri, cwd=d, timeout=900
    )
    assert res.returncode == 0, res.stderr[-3000:]
    return {
        "dir": d,
        "tracking_uri": uri,
        "model_uri": "models:/divergence-utility/1",
        "stdout": res.stdout,
        "stderr": res.stderr,
    }


@pytest.fixture(scope="session")
def predictor_dir(trained, tmp_path_factory) -> Path:
    """An exported-style directory (``<dir>/predictor/...``) with the trained model's files.

    Loads without MLflow (``load_predictor(path)``), so CLI tests on it are fast.
    """
    import shutil

    from divergence.predictor import load_predictor

    pred = load_predictor(trained["model_uri"], tracking_uri=trained["tracking_uri"])
    out = tmp_path_factory.mktemp("predictor") / "export"
    shutil.copytree(pred.directory, out / "predictor")
    return out
