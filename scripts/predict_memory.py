"""Peak memory of ``divergence predict --input`` on a large CSV (not a timed test).

Writes a CSV of ``--rows`` rows (features of the shipped champion, cycled), runs
``divergence predict`` on it and on a one-row copy in fresh processes, and prints the
peak resident set of each (``ru_maxrss`` of the child). The one-row run is the cost of
the interpreter, libraries and model; the target is ``peak(big) < 2 x file + peak(one row)``.

    python scripts/predict_memory.py --rows 1000000
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _run(args: list[str]) -> tuple[float, float]:
    """(peak RSS in MB, wall seconds) of ``python -m divergence ARGS`` in a fresh process."""
    code = (
        "import resource, subprocess, sys, time; t = time.perf_counter();"
        "r = subprocess.run([sys.executable, '-m', 'divergence', *sys.argv[1:]]);"
        "w = time.perf_counter() - t;"
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, w, r.returncode)"
    )
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO / "src")}
    out = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, check=True
    )
    kb, wall, rc = out.stdout.split()[-3:]
    if rc != "0":
        raise SystemExit(f"predict failed: {out.stderr[-2000:]}")
    return int(kb) / 1024, float(wall)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--model-uri", default=str(REPO / "models" / "divergence-utility"))
    ap.add_argument("--columns", type=int, default=20, help="feature columns in the CSV")
    a = ap.parse_args()
    import numpy as np
    import pandas as pd

    from divergence.predictor import load_predictor

    pred = load_predictor(a.model_uri)
    feats = pd.read_csv(pred.directory / "features.csv.gz", dtype={"model_id": str})
    cols = [c for c in pred.input_columns if feats[c].notna().mean() > 0.05][: a.columns]
    base = feats[cols].to_numpy()
    base = base[~np.isnan(base).all(axis=1)]  # rows with at least one value
    base = base[np.argsort(-(~np.isnan(base)).sum(axis=1), kind="stable")]
    with tempfile.TemporaryDirectory() as td:
        d = Path(td)
        big, one = d / "big.csv", d / "one.csv"
        with open(big, "w") as fh:
            fh.write(",".join(cols) + "\n")
            for start in range(0, a.rows, 100_000):
                n = min(100_000, a.rows - start)
                block = base[np.arange(start, start + n) % len(base)]
                pd.DataFrame(block, columns=cols).to_csv(
                    fh, header=False, index=False, float_format="%.6g"
                )
        pd.DataFrame(base[:1], columns=cols).to_csv(one, index=False, float_format="%.6g")
        size_mb = big.stat().st_size / 2**20
        rss_one, _ = _run(
            [
                "predict",
                "--input",
                str(one),
                "--output",
                str(d / "o1.csv"),
                "--model-uri",
                a.model_uri,
            ]
        )
        rss_big, wall = _run(
            [
                "predict",
                "--input",
                str(big),
                "--output",
                str(d / "ob.csv"),
                "--model-uri",
                a.model_uri,
            ]
        )
        with open(d / "ob.csv") as fh:
            rows_out = sum(1 for _ in fh) - 1
        res = {
            "rows": a.rows,
            "columns": len(cols),
            "file_mb": round(size_mb, 1),
            "peak_rss_one_row_mb": round(rss_one, 1),
            "peak_rss_big_mb": round(rss_big, 1),
            "big_minus_one_row_mb": round(rss_big - rss_one, 1),
            "ratio_to_file": round((rss_big - rss_one) / size_mb, 2),
            "target_met": rss_big < 2 * size_mb + rss_one,
            "wall_s": round(wall, 1),
            "rows_written": rows_out,
        }
    print(json.dumps(res, indent=1))
    return 0 if res["target_met"] else 1


if __name__ == "__main__":
    sys.exit(main())
