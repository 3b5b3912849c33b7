"""Bounded soak: 1,000 predictions in one process and 4 concurrent ``divergence predict`` runs.

Memory must stay flat over the loop (resident set read from ``/proc``), every repeated
prediction must equal the first, and the four concurrent CLI outputs must be identical.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[1]
MODEL = REPO / "models" / "divergence-utility"


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc")
def test_thousand_predictions_rss_stable_and_identical() -> None:
    from divergence.predictor import load_predictor

    pred = load_predictor(MODEL)
    feats = pd.read_csv(pred.directory / "features.csv.gz", dtype={"model_id": str})
    feats = feats.drop(columns="model_id")[pred.input_columns].head(50).reset_index(drop=True)
    reference = pred.predict(feats).to_numpy()
    rss = []
    for i in range(1000):
        j = i % len(feats)
        out = pred.predict(feats.iloc[[j]]).to_numpy()
        np.testing.assert_array_equal(out[0], reference[j])
        if i in (100, 999):
            rss.append(_rss_mb())
    lookups = pred.predict_models(["gpt-4o-2024-05-13"] * 20)
    assert lookups["predicted_utility"].nunique() == 1
    assert rss[1] - rss[0] < 15, f"RSS grew {rss[1] - rss[0]:.1f} MB over 900 predictions"


@pytest.mark.slow
def test_four_concurrent_predict_processes_agree(tmp_path: Path) -> None:
    from divergence.predictor import load_predictor

    pred = load_predictor(MODEL)
    feats = pd.read_csv(pred.directory / "features.csv.gz", dtype={"model_id": str})
    inp = tmp_path / "in.csv"
    feats.head(300).to_csv(inp, index=False)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONHASHSEED": "0"}
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "divergence", "predict", "--input", str(inp)]
            + ["--output", str(tmp_path / f"out{i}.csv"), "--model-uri", str(MODEL)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
        for i in range(4)
    ]
    for p in procs:
        _, err = p.communicate(timeout=600)
        assert p.returncode == 0, err.decode()[-2000:]
    outs = {(tmp_path / f"out{i}.csv").read_bytes() for i in range(4)}
    assert len(outs) == 1
    df = pd.read_csv(tmp_path / "out0.csv")
    assert len(df) == 300
    # rows of the bundled feature table without a benchmark score answer no_benchmarks, not a number
    ok = df["status"] == "ok"
    assert set(df["status"]) <= {"ok", "no_benchmarks"} and ok.sum() >= 200
    assert df.loc[ok, "predicted_utility"].notna().all()
    assert df.loc[~ok, "predicted_utility"].isna().all()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv"] + [
        f"out{i}.csv" for i in range(4)
    ]
