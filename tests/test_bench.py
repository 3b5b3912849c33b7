"""Benchmark script: a smoke run of ``--quick`` and the structure of ``bench.json``.

Not a timing test: the figures depend on the machine; only their presence, types and
the PASS/MISS bookkeeping are checked.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from divergence import bench

BASELINES = ["mean", "best_single", "aa_index_linear", "factor_linear", "median_ridge"]


def _number(v) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


@pytest.fixture(scope="module")
def quick(tmp_path_factory) -> dict:
    d = tmp_path_factory.mktemp("bench")
    out = d / "bench.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    env["OMP_NUM_THREADS"] = "1"
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "divergence.bench",
            "--quick",
            "--out",
            str(out),
            "--keep",
            str(d / "work"),
        ],
        cwd=d,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    return {"res": res, "json": json.loads(out.read_text()) if out.exists() else None, "dir": d}


@pytest.mark.slow
def test_quick_bench_writes_complete_json(quick):
    res, b = quick["res"], quick["json"]
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-3000:]
    assert b is not None
    assert b["quick"] is True and b["failed"] == []
    for k in [
        "pipeline_s",
        "peak_rss_mb",
        "load_s",
        "predict_1row_p50_ms",
        "predict_1row_p99_ms",
        "predict_100k_s",
        "load_dir_s",
    ]:
        assert _number(b[k]) and b[k] > 0, k
    assert b["predict_1row_p50_ms"] <= b["predict_1row_p99_ms"]
    assert b["data_build_s"] is None and any("data_build_s" in n for n in b["notes"])
    assert b["n_trials"] == 2 and b["config"]["batch_rows"] == 100_000
    # machine description
    for k in ["platform", "cpu_count", "python", "xgboost", "mlflow", "scikit_learn"]:
        assert b["machine"][k], k
    # sklearn reference and ratios
    sk = b["sklearn"]
    for k in ["pipeline_s", "peak_rss_mb", "load_s", "predict_1row_p50_ms", "predict_100k_s"]:
        assert _number(sk[k]), k
        assert b["ratios"][k] == pytest.approx(b[k] / sk[k])
    # targets: every one evaluated, pipeline and sweep not judged on a quick run
    assert set(b["targets"]) == set(bench.TARGETS)
    for k, t in b["targets"].items():
        assert t["limit"] == bench.TARGETS[k][0]
        if k in {"pipeline_s", "sweep_s"}:  # a quick run is not the sized job
            assert t["status"] == "n/a (quick)"
        else:
            assert t["status"] == ("PASS" if t["value"] <= t["limit"] else "MISS"), k
    # accuracy table: ours and every baseline, metric = [value, ci_lo, ci_hi]
    table = b["accuracy"]["table"]
    assert {"ours", "ours_benchmarks_only", *(f"baseline_{n}" for n in BASELINES)} <= set(table)
    rmse = table["ours"]["rmse"]
    assert len(rmse) == 3 and rmse[1] <= rmse[0] <= rmse[2]
    assert table["ours"]["coverage"][0] is not None
    # the printed table
    assert "predict_100k_s" in res.stdout and ("PASS" in res.stdout or "MISS" in res.stdout)
    assert "| ours |" in res.stdout


@pytest.mark.slow
def test_quick_bench_loads_without_mlflow(quick):
    """The cold load resolves the registry without importing MLflow, to the same files."""
    b = quick["json"]
    assert b["serve_detail"]["mlflow_imported"] is False
    assert b["load_dir_mlflow_imported"] is False
    import mlflow

    from divergence.registry import sqlite_registry_dir as _sqlite_registry_dir

    tracking = f"sqlite:///{quick['dir'] / 'work' / 'mlflow.db'}"
    fast = _sqlite_registry_dir(b["model_uri"], tracking)
    assert fast is not None
    mlflow.set_tracking_uri(tracking)
    try:
        slow = mlflow.artifacts.download_artifacts(artifact_uri=b["model_uri"])
    finally:
        mlflow.set_tracking_uri(None)
    assert fast.resolve() == (Path(slow) / "artifacts").resolve()
    # anything the fast path does not understand falls back (None) to MLflow
    assert _sqlite_registry_dir("models:/divergence-utility@nope", tracking) is None
    assert _sqlite_registry_dir("models:/divergence-utility/999", tracking) is None
    assert _sqlite_registry_dir("models:/divergence-utility/latest", tracking) is None
    assert _sqlite_registry_dir(b["model_uri"], "postgresql://x/y") is None
    assert _sqlite_registry_dir(b["model_uri"], f"sqlite:///{quick['dir'] / 'missing.db'}") is None


def test_percentile_and_table_format():
    assert bench._percentile([3.0, 1.0, 2.0], 0.5) == 2.0
    assert bench._percentile([1.0, 2.0], 0.99) == pytest.approx(1.99)
    fake = {
        "n_trials": 30,
        "pipeline_s": 100.0,
        "load_s": 3.0,
        "sklearn": {"load_s": 1.0},
        "ratios": {"load_s": 3.0},
        "targets": {
            k: bench._status(k, v)
            for k, v in [
                ("pipeline_s", 100.0),
                ("load_s", 3.0),
                ("predict_1row_p50_ms", None),
                ("predict_100k_s", 0.25),
                ("peak_rss_mb", 800.0),
            ]
        },
        "machine": {"cpu_count": 2},
        "accuracy": {},
        "notes": ["x"],
    }
    text = bench.format_table(fake)
    assert "pipeline_s (30 trials)" in text and "note: x" in text
    lines = {ln.split()[0]: ln for ln in text.splitlines() if ln and ln.split()[0] in bench.TARGETS}
    assert lines["load_s"].endswith("MISS") and lines["predict_100k_s"].endswith("PASS")
    assert fake["targets"]["predict_1row_p50_ms"]["status"] == "n/a"
