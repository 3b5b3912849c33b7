"""Trees vs accuracy vs batch-prediction time for the shipped model's parameters.

Usage: ``OMP_NUM_THREADS=1 python scripts/tree_tradeoff.py 350 120 60``

For each tree count the learning budget ``n_estimators * learning_rate`` of the shipped
model (``models/divergence-utility/predictor/main.json``) is kept, the walk-forward of
``experiments/overall.yaml`` on the committed snapshot is run for its seeds (ours only, no
baselines), and one model fitted on every rated row times 100,000 rows of
``predict_matrix`` (best of 3). One JSON line per tree count.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

from divergence.experiment import load_experiment
from divergence.model import UtilityRegressor
from divergence.pipeline import prepare, seed_table, seeds_of, walk_forward
from divergence.snapshot import load_snapshot

REPO = Path(__file__).resolve().parents[1]


def main(counts: list[int]) -> None:
    state = json.loads((REPO / "models/divergence-utility/predictor/main.json").read_text())
    base = {k: v for k, v in state["params"].items() if k not in ("random_state", "n_jobs")}
    p = prepare(
        load_experiment(REPO / "experiments/overall.yaml"), load_snapshot(REPO / "data/snapshot")
    )
    budget = base["n_estimators"] * base["learning_rate"]
    for n in counts:
        params = dict(base, n_estimators=n, learning_rate=budget / n)
        wf = walk_forward(p, params, None, baselines=False, seeds=seeds_of(p.exp))
        st = seed_table(wf)
        ours = st[st["method"] == "ours"]
        m = UtilityRegressor(**params).fit(p.X, p.y)
        A = p.X.reindex(columns=m.input_columns_).to_numpy("float64")
        A = A[np.arange(100_000) % len(A)]
        m.predict_matrix(A)
        times = []
        for _ in range(3):
            t = time.perf_counter()
            m.predict_matrix(A)
            times.append(time.perf_counter() - t)
        row = {
            "n_estimators": n,
            "learning_rate": round(budget / n, 4),
            "rmse_median": float(ours["rmse"].median()),
            "rmse_min": float(ours["rmse"].min()),
            "rmse_max": float(ours["rmse"].max()),
            "spearman_median": float(ours["spearman"].median()),
            "predict_100k_one_model_s": min(times),
        }
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [350, 120, 60])
