"""Benchmark: speed, memory and accuracy of the whole project in one run.

``python -m divergence.bench [--quick] [--out bench.json]`` measures, on this machine:

- ``data_build_s``: ``divergence data build`` from ``../shared/data/raw`` into a temporary
  directory (skipped, with a note, when the raw data is absent or with ``--quick``);
- ``pipeline_s``: ``divergence main`` (tune → evaluate → train → register → report) in a
  subprocess, on the committed snapshot, with a temporary SQLite MLflow store and the
  experiment's default ``n_trials`` (``--quick``: 2 trials, 200 bootstrap draws, 10
  walk-forward models, no rolling origin: a smoke run, not a benchmark);
- ``peak_rss_mb``: peak resident memory of that pipeline process (``os.wait4`` rusage);
- ``load_s``: cold ``from divergence import load_predictor; load_predictor()`` in a fresh
  process (the champion, or the newest registered version when no champion was promoted);
  ``load_dir_s`` is the same from an exported directory;
- ``predict_1row_p50_ms`` / ``predict_1row_p99_ms``: single-row ``Predictor.predict``
  latency over real feature rows; ``predict_100k_s``: one 100,000-row batch made by
  repeating the real rows (median of 3; ``serve_detail.predict_100k_first_s`` is the
  first, which imports xgboost: smaller batches are scored without it, see
  :mod:`divergence.inference`); ``serve_detail.predict_100k_all_cores_s``: the same batch
  with ``OMP_NUM_THREADS`` = the CPU count (when the bench runs with fewer threads);
- ``sweep_s`` / ``sweep_peak_rss_mb``: ``divergence sweep`` over every target config
  (``--quick``: two targets, quick settings; ``--no-sweep`` skips it) with
  ``--sweep-workers`` processes;
- ``domains_load_s``, ``domains_predict_1row_p50_ms`` / ``_p99_ms``,
  ``domains_predict_100k_s``, ``domains_peak_rss_mb``: the same cold load and latency for
  ``load_predictor(targets="all")`` (every domain per call);
- ``accuracy``: the walk-forward table (ours vs every baseline, with bootstrap CIs) from
  the ``walkforward_metrics.csv`` artifact of the pipeline's ``evaluate`` run;
- ``sklearn``: the same timings for a plain scikit-learn pipeline
  (``SimpleImputer(median)`` + ``Ridge``) fitted on the same rows and features, and
  ``ratios`` = ours / sklearn.

Every timed step runs in its own process, so nothing is warm that a user would not
have warm. Results go to ``bench.json`` (``--out``) and a table on stdout with PASS/MISS
against the targets in :data:`TARGETS`. The exit code is 1 when a step failed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

# Targets on a 2-core machine: name -> (limit, unit). Lower is better for all of them.
TARGETS: dict[str, tuple[float, str]] = {
    "pipeline_s": (300.0, "s"),
    "load_s": (1.0, "s"),
    "predict_1row_p50_ms": (2.0, "ms"),
    "predict_100k_s": (0.3, "s"),
    "peak_rss_mb": (1000.0, "MB"),
    # every target (``divergence sweep``) and the per-domain predictor
    "sweep_s": (600.0, "s"),
    "domains_load_s": (2.0, "s"),
    "domains_predict_100k_s": (2.0, "s"),
    "domains_peak_rss_mb": (1000.0, "MB"),
}
DOMAIN_TIMED = [
    "sweep_s",
    "sweep_peak_rss_mb",
    "domains_load_s",
    "domains_predict_1row_p50_ms",
    "domains_predict_1row_p99_ms",
    "domains_predict_100k_s",
    "domains_peak_rss_mb",
]
TIMED = [
    "pipeline_s",
    "peak_rss_mb",
    "load_s",
    "predict_1row_p50_ms",
    "predict_1row_p99_ms",
    "predict_100k_s",
]
ACCURACY_METRICS = ["rmse", "mae", "spearman", "pairwise_acc", "coverage"]
N_BIG = 100_000


# ---- subprocess helpers --------------------------------------------------------------
def _run(
    cmd: list[str],
    env: dict[str, str],
    cwd: Path,
    log_dir: Path,
    name: str,
    timeout: float = 7200.0,
) -> dict[str, Any]:
    """Run ``cmd``; wall time, exit code and the peak RSS of that process (and its children)."""
    out_path, err_path = log_dir / f"{name}.out", log_dir / f"{name}.err"
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=err)
        timer = threading.Timer(timeout, lambda: proc.send_signal(signal.SIGKILL))
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    scale = (
        1024 * 1024 if sys.platform == "darwin" else 1024
    )  # ru_maxrss: bytes on macOS, KiB on Linux
    stderr = err_path.read_text(errors="replace")
    lines = [ln for ln in stderr.strip().splitlines() if ln.strip()]
    return {
        "rc": proc.returncode,
        "wall_s": wall,
        "peak_rss_mb": usage.ru_maxrss / scale,
        "stdout": out_path.read_text(errors="replace"),
        "stderr_tail": lines[-1] if lines else "",
    }


def _worker(
    py: str,
    worker: str,
    env: dict[str, str],
    cwd: Path,
    log_dir: Path,
    log_name: str | None = None,
    **options: Any,
) -> dict[str, Any]:
    """Run ``python -m divergence.bench --worker <worker> --<option> <value> ...`` with
    :func:`_run` (log files ``<log_name>.out/.err``, default the worker's name; None
    options are left out)."""
    cmd = [py, "-m", "divergence.bench", "--worker", worker]
    for k, v in options.items():
        if v is not None:
            cmd += [f"--{k.replace('_', '-')}", str(v)]
    return _run(cmd, env, cwd, log_dir, log_name or worker.replace("-", "_"))


def _last_json(text: str) -> dict[str, Any]:
    for line in reversed(text.strip().splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    raise ValueError("worker printed no JSON result")


def _percentile(values: list[float], q: float) -> float:
    s = sorted(values)
    k = (len(s) - 1) * q
    lo = int(k)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def _latency(predict, rows: list, warmup: int = 5) -> dict[str, float]:
    for r in rows[:warmup]:
        predict(r)
    times = []
    for r in rows:
        t = time.perf_counter_ns()
        predict(r)
        times.append((time.perf_counter_ns() - t) / 1e6)
    return {
        "predict_1row_p50_ms": _percentile(times, 0.5),
        "predict_1row_p99_ms": _percentile(times, 0.99),
        "predict_1row_mean_ms": sum(times) / len(times),
        "n_calls": len(times),
    }


def _big(predict, frame, repeats: int) -> dict[str, Any]:
    runs = []
    for _ in range(repeats):
        t = time.perf_counter()
        predict(frame)
        runs.append(time.perf_counter() - t)
    return {
        "predict_100k_s": sorted(runs)[len(runs) // 2],
        "predict_100k_runs_s": runs,
        "predict_100k_first_s": runs[0] if runs else None,  # includes importing xgboost
    }


# ---- workers (run in fresh processes: ``python -m divergence.bench --worker ...``) ----
def _worker_serve(args: argparse.Namespace) -> dict[str, Any]:
    """Cold-load our predictor, then time single rows and a 100k batch."""
    t0 = time.perf_counter()
    from divergence import load_predictor

    pred = load_predictor(args.model_uri) if args.model_uri else load_predictor()
    res: dict[str, Any] = {
        "load_s": time.perf_counter() - t0,
        "mlflow_imported": "mlflow" in sys.modules,
        "xgboost_imported": "xgboost" in sys.modules,
    }
    if args.calls <= 0:
        return res
    import numpy as np
    import pandas as pd

    feats = pd.read_csv(pred.directory / "features.csv.gz", dtype={"model_id": str})
    feats = feats.drop(columns=["model_id"])[pred.input_columns].astype("float64")
    rows = [feats.iloc[[i % len(feats)]] for i in range(args.calls)]
    res.update(_latency(pred.predict, rows))
    res["xgboost_imported_after_1row"] = "xgboost" in sys.modules
    res["sklearn_imported_after_1row"] = "sklearn" in sys.modules
    big = feats.iloc[np.arange(N_BIG) % len(feats)].reset_index(drop=True)
    res.update(_big(pred.predict, big, args.repeats))
    res["n_feature_rows"] = len(feats)
    res["omp_num_threads"] = os.environ.get("OMP_NUM_THREADS")
    return res


def _worker_sklearn_fit(args: argparse.Namespace) -> dict[str, Any]:
    """Fit SimpleImputer(median) + Ridge; save it as plain arrays (JSON + ``.npy``, no pickle)."""
    import numpy as np
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import make_pipeline

    from divergence.experiment import load_experiment
    from divergence.pipeline import prepare
    from divergence.snapshot import load_snapshot

    t0 = time.perf_counter()
    p = prepare(load_experiment(args.experiment), load_snapshot(args.snapshot))
    t1 = time.perf_counter()
    # keep_empty_features: an all-missing training column is imputed 0 (a constant, coefficient
    # 0) instead of being dropped, so the saved arrays line up with the columns.
    imp = SimpleImputer(strategy="median", keep_empty_features=True)
    pipe = make_pipeline(imp, Ridge(alpha=1.0)).fit(p.X, p.y)
    t2 = time.perf_counter()
    imputer, ridge = pipe[0], pipe[1]
    out = Path(args.save)
    out.mkdir(parents=True, exist_ok=True)
    state = {
        "format": "divergence-bench-ridge/1",
        "columns": [str(c) for c in p.X.columns],
        "medians": [float(v) for v in imputer.statistics_],
        "coef": [float(v) for v in ridge.coef_],
        "intercept": float(ridge.intercept_),
    }
    (out / "ridge.json").write_text(json.dumps(state))
    rows = p.X_all[list(p.X.columns)].to_numpy(dtype="float64")
    np.save(out / "rows.npy", rows, allow_pickle=False)
    return {"prepare_s": t1 - t0, "fit_s": t2 - t1, "n_rows": len(p.y), "n_features": p.X.shape[1]}


def load_ridge(directory: str | Path):
    """Rebuild the reference sklearn pipeline from ``ridge.json`` (plain numbers only).

    Returns the fitted pipeline and the rows (``rows.npy``, read with
    ``allow_pickle=False``) as a DataFrame. Nothing in the directory is unpickled or
    executed: any other content is an error.
    """
    import numpy as np
    import pandas as pd
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import make_pipeline

    from divergence.errors import SourceError
    from divergence.sources._io import read_json

    d = Path(directory)
    state = read_json(d / "ridge.json")
    try:
        if state.get("format") != "divergence-bench-ridge/1":
            raise ValueError("unknown format")
        cols = [str(c) for c in state["columns"]]
        med = np.asarray(state["medians"], dtype="float64")
        coef = np.asarray(state["coef"], dtype="float64")
        intercept = float(state["intercept"])
        if not (len(cols) == len(med) == len(coef)) or not np.isfinite([*med, *coef]).all():
            raise ValueError("inconsistent or non-finite arrays")
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        raise SourceError(d / "ridge.json", f"not a saved ridge model ({exc})") from None
    try:
        rows = np.load(d / "rows.npy", allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise SourceError(d / "rows.npy", f"not a plain array file ({exc})") from None
    if rows.ndim != 2 or rows.shape[1] != len(cols) or rows.dtype.kind != "f":
        raise SourceError(d / "rows.npy", f"expected a float matrix with {len(cols)} columns")
    # Fit on a two-row stand-in of the right shape, then set the saved coefficients.
    dummy = pd.DataFrame(np.zeros((2, len(cols))), columns=cols)
    imp = SimpleImputer(strategy="median", keep_empty_features=True)
    pipe = make_pipeline(imp, Ridge(alpha=1.0)).fit(dummy, [0.0, 1.0])
    pipe[0].statistics_ = med
    pipe[1].coef_ = coef
    pipe[1].intercept_ = intercept
    return pipe, pd.DataFrame(rows, columns=cols)


def _worker_sklearn_serve(args: argparse.Namespace) -> dict[str, Any]:
    """Cold-load the saved sklearn pipeline (plain arrays), then the same latency measures."""
    t0 = time.perf_counter()
    pipe, feats = load_ridge(args.model_uri)
    import numpy as np

    res: dict[str, Any] = {"load_s": time.perf_counter() - t0}
    rows = [feats.iloc[[i % len(feats)]] for i in range(args.calls)]
    res.update(_latency(pipe.predict, rows))
    big = feats.iloc[np.arange(N_BIG) % len(feats)].reset_index(drop=True)
    res.update(_big(pipe.predict, big, args.repeats))
    return res


def _worker_serve_domains(args: argparse.Namespace) -> dict[str, Any]:
    """Cold-load every domain's predictor, then time single rows and a 100k batch (all domains)."""
    t0 = time.perf_counter()
    from divergence import load_predictor

    dp = load_predictor(args.model_uri, targets="all")
    res: dict[str, Any] = {
        "load_s": time.perf_counter() - t0,
        "mlflow_imported": "mlflow" in sys.modules,
        "n_domains": len(dp.domains),
        "n_served": len(dp.predictors),
    }
    import numpy as np

    feats = dp._feature_rows()[dp.input_columns].reset_index(drop=True)
    rows = [feats.iloc[[i % len(feats)]] for i in range(args.calls)]
    res.update(_latency(dp.predict, rows))
    big = feats.iloc[np.arange(N_BIG) % len(feats)].reset_index(drop=True)
    res.update(_big(dp.predict, big, args.repeats))
    return res


def _sweep_dir(root: Path, dest: Path, quick: bool) -> int:
    """Target configs for the sweep step: every ``experiments/*.yaml``, or two quick ones."""
    import yaml

    dest.mkdir(parents=True, exist_ok=True)
    files = sorted((root / "experiments").glob("*.yaml"))
    if quick:
        files = [f for f in files if f.stem in {"overall", "legal"}]
    for f in files:
        raw = yaml.safe_load(f.read_text())
        if quick:
            raw.setdefault("tuning", {})["n_trials"] = 2
            raw.setdefault("evaluation", {})["n_boot"] = 200
            raw.setdefault("split", {})["n_test"] = 10
            raw["split"]["rolling_min_train"] = 1_000_000
        (dest / f.name).write_text(yaml.safe_dump(raw, sort_keys=False))
    return len(files)


WORKERS = {
    "serve": _worker_serve,
    "serve-domains": _worker_serve_domains,
    "sklearn-fit": _worker_sklearn_fit,
    "sklearn-serve": _worker_sklearn_serve,
}


# ---- the benchmark -------------------------------------------------------------------
def machine() -> dict[str, Any]:
    """Platform, CPUs, memory and library versions."""
    import importlib.metadata as md

    info: dict[str, Any] = {
        "platform": platform.platform(),
        "machine": platform.machine(),
        "processor": platform.processor() or None,
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS", "1"),
    }
    if hasattr(os, "getloadavg"):
        info["loadavg_start"] = [round(v, 2) for v in os.getloadavg()]
    try:
        info["cpus_available"] = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        pass
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu_model"] = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                info["memory_gb"] = round(int(line.split()[1]) / 1024**2, 1)
                break
    except OSError:
        pass
    for pkg in ["divergence", "xgboost", "mlflow", "scikit-learn", "pandas", "numpy", "optuna"]:
        try:
            info[pkg.replace("-", "_")] = md.version(pkg)
        except md.PackageNotFoundError:
            info[pkg.replace("-", "_")] = None
    return info


def _env(tracking_uri: str, home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    env.update(
        {
            "MLFLOW_TRACKING_URI": tracking_uri,
            "DIVERGENCE_HOME": str(home),
            "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1"),
            "PYTHONHASHSEED": "0",
            "GIT_PYTHON_REFRESH": "quiet",
        }
    )
    src = str(Path(__file__).resolve().parents[1])
    env["PYTHONPATH"] = src + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def _experiment_file(src: Path, dest: Path, quick: bool) -> dict[str, Any]:
    """Copy the experiment config; ``--quick``: 2 trials, 200 bootstrap draws, the 10
    newest models in the walk-forward and no rolling-origin evaluation."""
    import yaml

    raw = yaml.safe_load(src.read_text())
    if quick:
        raw.setdefault("tuning", {})["n_trials"] = 2
        raw.setdefault("evaluation", {})["n_boot"] = 200
        raw.setdefault("split", {})["n_test"] = 10
        raw["split"]["rolling_min_train"] = (
            1_000_000  # no quarter qualifies: rolling origin skipped
        )
    dest.write_text(yaml.safe_dump(raw, sort_keys=False))
    from divergence.experiment import load_experiment

    return load_experiment(dest).to_dict()


def _model_to_load(tracking_uri: str, name: str) -> tuple[str | None, str]:
    """URI of the champion, else the newest registered version (with a note)."""
    from mlflow import MlflowClient

    from divergence.registry import newest_version

    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    try:
        client.get_model_version_by_alias(name, "champion")
        return None, f"models:/{name}@champion"
    except Exception:  # no alias / no model: fall through
        pass
    v = newest_version(client, name)
    if v is None:
        return "", "no registered model"
    return f"models:/{name}/{v}", f"no champion alias (not promoted); loaded version {v}"


def _accuracy(tracking_uri: str, exp_name: str) -> dict[str, Any]:
    """The walk-forward table from the newest ``evaluate`` run's artifact."""
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    import mlflow
    import pandas as pd
    from mlflow import MlflowClient

    from divergence.stages.shell import STAGE_TAG

    client = MlflowClient(tracking_uri=tracking_uri)
    exp = client.get_experiment_by_name(f"divergence/{exp_name}")
    if exp is None:
        return {"error": f"no MLflow experiment divergence/{exp_name}"}
    runs = client.search_runs(
        [exp.experiment_id],
        f"tags.`{STAGE_TAG}` = 'evaluate'",
        order_by=["attributes.start_time DESC"],
        max_results=1,
    )
    if not runs:
        return {"error": "no evaluate run"}
    run_id = runs[0].info.run_id
    with tempfile.TemporaryDirectory() as td:
        path = mlflow.artifacts.download_artifacts(
            run_id=run_id,
            artifact_path="walkforward_metrics.csv",
            dst_path=td,
            tracking_uri=tracking_uri,
        )
        df = pd.read_csv(path)
    rows = []
    r: Any  # itertuples rows: pandas-stubs types their fields as the Scalar union
    for r in df.itertuples(index=False):
        rows.append(
            {
                "method": r.method,
                "metric": r.metric,
                **{
                    k: (None if pd.isna(getattr(r, k, None)) else float(getattr(r, k)))
                    for k in ["value", "ci_lo", "ci_hi"]
                },
            }
        )
    table: dict[str, dict[str, Any]] = {}
    for r in rows:
        if r["metric"] in ACCURACY_METRICS:
            table.setdefault(r["method"], {})[r["metric"]] = [r["value"], r["ci_lo"], r["ci_hi"]]
    return {
        "source": f"run {run_id} artifact walkforward_metrics.csv",
        "table": table,
        "rows": rows,
    }


def _status(name: str, value: Any) -> dict[str, Any]:
    limit, unit = TARGETS[name]
    ok = value is not None and value <= limit
    return {
        "value": value,
        "limit": limit,
        "unit": unit,
        "status": "n/a" if value is None else ("PASS" if ok else "MISS"),
    }


def run_bench(
    quick: bool = False,
    raw: Path | None = None,
    snapshot: Path | None = None,
    experiment: Path | None = None,
    n_trials: int | None = None,
    keep: Path | None = None,
    calls: int | None = None,
    sweep: bool = True,
    sweep_workers: int = 2,
) -> dict[str, Any]:
    """Run every measurement; returns the ``bench.json`` content (see module docstring)."""
    from divergence.config import default_raw_dir, project_root

    root = project_root()
    raw = raw or default_raw_dir()
    snapshot = (snapshot or root / "data" / "snapshot").resolve()
    experiment = experiment or root / "experiments" / "overall.yaml"
    calls = calls or (50 if quick else 200)
    repeats = 1 if quick else 3
    work = Path(keep) if keep else Path(tempfile.mkdtemp(prefix="divergence-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    if keep and any(work.iterdir()):
        raise SystemExit(
            f"error: --keep {work}: directory not empty (a fresh MLflow store is needed)"
        )
    home = work / "home"
    logs = work / "logs"
    for d in (home, logs):
        d.mkdir(exist_ok=True)
    for sub in ["features", "experiments"]:
        if (root / sub).is_dir() and not (home / sub).exists():
            shutil.copytree(root / sub, home / sub)
    (home / "experiments").mkdir(exist_ok=True)
    exp_path = home / "experiments" / "bench.yaml"
    exp = _experiment_file(Path(experiment), exp_path, quick)
    if n_trials is not None:
        exp["n_trials"] = n_trials
    tracking = f"sqlite:///{(work / 'mlflow.db').resolve()}"
    env = _env(tracking, home)
    py = sys.executable
    notes: list[str] = []
    failed: list[str] = []
    out: dict[str, Any] = {
        "schema": 1,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "quick": quick,
        "machine": machine(),
        "config": {
            "experiment": str(experiment),
            "snapshot": str(snapshot),
            "n_trials": exp["n_trials"],
            "n_boot": exp["n_boot"],
            "n_test": exp["n_test"],
            "latency_calls": calls,
            "batch_rows": N_BIG,
            "batch_repeats": repeats,
        },
        "n_trials": exp["n_trials"],
    }
    from divergence.progress import log

    # 1. data build
    out["data_build_s"] = None
    if quick:
        notes.append("data_build_s: skipped (--quick)")
    elif not Path(raw).is_dir():
        notes.append(f"data_build_s: skipped, raw data not found at {raw}")
    else:
        log(f"bench: data build from {raw}")
        r = _run(
            [
                py,
                "-m",
                "divergence",
                "data",
                "build",
                "--raw",
                str(raw),
                "--out",
                str(work / "snapshot"),
            ],
            env,
            home,
            logs,
            "data_build",
        )
        if r["rc"] == 0:
            out["data_build_s"] = r["wall_s"]
            out["data_build_peak_rss_mb"] = r["peak_rss_mb"]
            try:
                built = json.loads((work / "snapshot" / "manifest.json").read_text())["tables"]
                ref = json.loads((snapshot / "manifest.json").read_text())["tables"]
                same = {k: v["sha256"] for k, v in built.items()} == {
                    k: v["sha256"] for k, v in ref.items()
                }
                out["data_build_matches_snapshot"] = same
                if not same:
                    notes.append(
                        "the rebuilt snapshot differs from the committed one (pipeline uses the committed one)"
                    )
            except (OSError, KeyError, ValueError) as exc:
                notes.append(f"cannot compare manifests: {exc}")
        else:
            failed.append("data_build")
            notes.append(f"data build failed (rc {r['rc']}): {r['stderr_tail']}")

    # 2. pipeline
    log(f"bench: divergence main, {exp['n_trials']} trials")
    cmd = [
        py,
        "-m",
        "divergence",
        "main",
        "--experiment",
        str(exp_path),
        "--snapshot",
        str(snapshot),
    ]
    if n_trials is not None:
        cmd += ["--n-trials", str(n_trials)]
    r = _run(cmd, env, home, logs, "pipeline")
    out["pipeline_s"], out["peak_rss_mb"] = r["wall_s"], r["peak_rss_mb"]
    out["pipeline_returncode"] = r["rc"]
    if r["rc"] != 0:
        failed.append("pipeline")
        notes.append(f"pipeline failed (rc {r['rc']}): {r['stderr_tail']}")
    champion_line = [ln for ln in r["stdout"].splitlines() if ln.startswith("registered ")]
    if champion_line:
        out["registered"] = champion_line[-1]
    try:  # read now: the sweep below adds newer evaluate runs to the same experiment
        accuracy = _accuracy(tracking, exp["name"])
    except Exception as exc:  # report, do not crash after all the timing
        accuracy = {"error": f"{type(exc).__name__}: {exc}"}

    # 3. sklearn reference (same rows and features)
    log("bench: scikit-learn reference")
    skl_dir = work / "sklearn"
    run_in = (env, home, logs)
    s = _worker(py, "sklearn-fit", *run_in, experiment=exp_path, snapshot=snapshot, save=skl_dir)
    sk: dict[str, Any] = {"model": "SimpleImputer(strategy='median') + Ridge(alpha=1.0)"}
    if s["rc"] == 0:
        sk.update(_last_json(s["stdout"]))
        sk["pipeline_s"], sk["peak_rss_mb"] = s["wall_s"], s["peak_rss_mb"]
        s = _worker(py, "sklearn-serve", *run_in, model_uri=skl_dir, calls=calls, repeats=repeats)
        if s["rc"] == 0:
            sk.update(_last_json(s["stdout"]))
        else:
            failed.append("sklearn_serve")
            notes.append(f"sklearn serve failed: {s['stderr_tail']}")
    else:
        failed.append("sklearn_fit")
        notes.append(f"sklearn fit failed: {s['stderr_tail']}")
    out["sklearn"] = sk

    # 4. our predictor: cold load + latency, from the registry and from an exported directory
    from divergence.experiment import load_experiment
    from divergence.runs import model_name

    registered = model_name(load_experiment(exp_path))
    uri, why = _model_to_load(tracking, registered)
    out["model_uri"] = uri or f"models:/{registered}@champion"
    for k in ["load_s", "predict_1row_p50_ms", "predict_1row_p99_ms", "predict_100k_s"]:
        out[k] = None
    if uri == "":
        failed.append("load")
        notes.append("no registered model to load")
    else:
        if uri is not None:
            notes.append(why)
        log(f"bench: cold load + predict ({out['model_uri']})")
        s = _worker(py, "serve", *run_in, calls=calls, repeats=repeats, model_uri=uri or None)
        if s["rc"] == 0:
            res = _last_json(s["stdout"])
            out.update(
                {
                    k: res[k]
                    for k in [
                        "load_s",
                        "predict_1row_p50_ms",
                        "predict_1row_p99_ms",
                        "predict_100k_s",
                    ]
                }
            )
            out["serve_detail"] = {
                **{k: v for k, v in res.items() if k not in out},
                "serve_peak_rss_mb": s["peak_rss_mb"],
            }
        else:
            failed.append("serve")
            notes.append(f"serve failed: {s['stderr_tail']}")
        cores = str(os.cpu_count() or 1)
        if s["rc"] == 0 and env.get("OMP_NUM_THREADS") != cores:
            log(f"bench: 100k rows on all {cores} cores")
            env_all = {**env, "OMP_NUM_THREADS": cores}
            s2 = _worker(
                py,
                "serve",
                env_all,
                home,
                logs,
                log_name="serve_all_cores",
                calls=10,
                repeats=repeats,
                model_uri=uri or None,
            )
            if s2["rc"] == 0:
                out["serve_detail"]["predict_100k_all_cores_s"] = _last_json(s2["stdout"])[
                    "predict_100k_s"
                ]
                out["serve_detail"]["all_cores"] = int(cores)
        export_dir = home / "models" / "bench-export"  # exports go only below models/
        s = _run(
            [
                py,
                "-m",
                "divergence",
                "export",
                "--model-uri",
                out["model_uri"],
                "--out",
                str(export_dir),
            ],
            env,
            home,
            logs,
            "export",
        )
        if s["rc"] == 0:
            s = _worker(py, "serve", *run_in, calls=0, model_uri=export_dir, log_name="serve_dir")
            if s["rc"] == 0:
                res = _last_json(s["stdout"])
                out["load_dir_s"] = res["load_s"]
                out["load_dir_process_s"] = s["wall_s"]  # including interpreter start-up
                out["load_dir_mlflow_imported"] = res["mlflow_imported"]
        if s["rc"] != 0:
            notes.append(f"load from exported directory failed: {s['stderr_tail']}")

    # 4b. every target (sweep) and the per-domain predictor
    for k in DOMAIN_TIMED:
        out[k] = None
    if not sweep:
        notes.append("sweep_s and domains_*: skipped (--no-sweep)")
    else:
        n_targets = _sweep_dir(root, home / "sweep_experiments", quick)
        log(f"bench: divergence sweep, {n_targets} targets, {sweep_workers} workers")
        cmd = [
            py,
            "-m",
            "divergence",
            "sweep",
            "--experiments",
            str(home / "sweep_experiments"),
            "--workers",
            str(sweep_workers),
            "--snapshot",
            str(snapshot),
            "--out",
            str(work / "domains"),
        ]
        if n_trials is not None:
            cmd += ["--n-trials", str(n_trials)]
        r = _run(cmd, env, home, logs, "sweep")
        out["sweep_targets"], out["sweep_workers"] = n_targets, sweep_workers
        out["sweep_s"], out["sweep_peak_rss_mb"] = r["wall_s"], r["peak_rss_mb"]
        if r["rc"] != 0:
            failed.append("sweep")
            notes.append(f"sweep failed (rc {r['rc']}): {r['stderr_tail']}")
        else:
            log("bench: cold load + predict, every domain")
            s = _worker(py, "serve-domains", *run_in, calls=calls, repeats=repeats)
            if s["rc"] == 0:
                res = _last_json(s["stdout"])
                out["domains_load_s"] = res["load_s"]
                out["domains_predict_1row_p50_ms"] = res["predict_1row_p50_ms"]
                out["domains_predict_1row_p99_ms"] = res["predict_1row_p99_ms"]
                out["domains_predict_100k_s"] = res["predict_100k_s"]
                out["domains_peak_rss_mb"] = s["peak_rss_mb"]
                out["domains_detail"] = {
                    k: res[k] for k in ["n_domains", "n_served", "mlflow_imported"]
                }
            else:
                failed.append("serve_domains")
                notes.append(f"serve domains failed: {s['stderr_tail']}")

    out["ratios"] = {
        k: (out[k] / sk[k] if out.get(k) is not None and sk.get(k) else None) for k in TIMED
    }
    # per-domain predictor vs the scikit-learn pipeline (one target) in this run
    out["ratios"]["domains_predict_100k_s"] = (
        out["domains_predict_100k_s"] / sk["predict_100k_s"]
        if out.get("domains_predict_100k_s") is not None and sk.get("predict_100k_s")
        else None
    )
    out["targets"] = {k: _status(k, out.get(k)) for k in TARGETS}
    if quick:
        out["targets"]["pipeline_s"]["status"] = "n/a (quick)"
        out["targets"]["sweep_s"]["status"] = "n/a (quick)"

    # 5. accuracy (of the pipeline's evaluate run, read right after it)
    out["accuracy"] = accuracy
    if "error" in out["accuracy"]:
        failed.append("accuracy")
        notes.append(f"accuracy: {out['accuracy']['error']}")
    if hasattr(os, "getloadavg"):
        out["machine"]["loadavg_end"] = [round(v, 2) for v in os.getloadavg()]
        if max(out["machine"]["loadavg_start"][0], out["machine"]["loadavg_end"][0]) > (
            os.cpu_count() or 1
        ):
            notes.append(
                "the machine was busy (load average above the CPU count): timings are inflated"
            )
    out["notes"] = notes
    out["failed"] = failed
    out["work_dir"] = str(work) if keep else None
    if not keep:
        shutil.rmtree(work, ignore_errors=True)
    return out


def _fmt(v: Any, digits: int = 3) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:.{digits}g}" if abs(v) < 1000 else f"{v:.0f}"
    return str(v)


def format_table(res: dict[str, Any]) -> str:
    """The printed summary: timings with sklearn ratio and target status, then accuracy."""
    sk, ratios, targets = res.get("sklearn", {}), res.get("ratios", {}), res.get("targets", {})
    lines = [
        f"{'measure':<22} {'ours':>10} {'sklearn':>10} {'ratio':>8} {'target':>10}  status",
        "-" * 70,
    ]
    for k in ["data_build_s", *TIMED]:
        t = targets.get(k)
        tgt = f"<= {t['limit']:g}" if t else ""
        label = f"{k} ({res.get('n_trials')} trials)" if k == "pipeline_s" else k
        lines.append(
            f"{label:<22} {_fmt(res.get(k)):>10} {_fmt(sk.get(k)):>10} {_fmt(ratios.get(k)):>8} "
            f"{tgt:>10}  {t['status'] if t else ''}"
        )
    if res.get("load_dir_s") is not None:
        lines.append(f"{'load_dir_s':<22} {_fmt(res['load_dir_s']):>10}")
    detail = res.get("serve_detail") or {}
    if detail.get("predict_100k_first_s") is not None:
        lines.append(
            f"{'predict_100k_first_s':<22} {_fmt(detail['predict_100k_first_s']):>10}"
            "  (first batch: imports xgboost)"
        )
    if detail.get("predict_100k_all_cores_s") is not None:
        lines.append(
            f"{'predict_100k_s, ' + str(detail['all_cores']) + ' cores':<22} "
            f"{_fmt(detail['predict_100k_all_cores_s']):>10}"
        )
    if any(res.get(k) is not None for k in DOMAIN_TIMED):
        for k in DOMAIN_TIMED:
            t = targets.get(k)
            tgt = f"<= {t['limit']:g}" if t else ""
            label = k
            if k == "sweep_s":
                label = f"sweep_s ({res.get('sweep_targets')} targets)"
            sk_v = sk.get("predict_100k_s") if k == "domains_predict_100k_s" else None
            lines.append(
                f"{label:<22} {_fmt(res.get(k)):>10} {_fmt(sk_v):>10} "
                f"{_fmt(ratios.get(k)):>8} {tgt:>10}  {t['status'] if t else ''}"
            )
    m = res.get("machine", {})
    lines.append(
        f"\nmachine: {m.get('cpu_model') or m.get('machine')}, {m.get('cpu_count')} cpus, "
        f"{m.get('memory_gb')} GB, Python {m.get('python')}, xgboost {m.get('xgboost')}, "
        f"mlflow {m.get('mlflow')}, OMP_NUM_THREADS={m.get('omp_num_threads')}"
    )
    acc = res.get("accuracy", {})
    if acc.get("table"):
        lines.append(f"\nwalk-forward accuracy ({acc['source']}):")
        lines.append("| method | " + " | ".join(ACCURACY_METRICS) + " |")
        lines.append("|---|" + "---|" * len(ACCURACY_METRICS))
        for method, mets in acc["table"].items():
            cells = []
            for k in ACCURACY_METRICS:
                v = mets.get(k)
                cells.append(
                    "–" if v is None or v[0] is None else f"{v[0]:.3g} [{_fmt(v[1])}, {_fmt(v[2])}]"
                )
            lines.append(f"| {method} | " + " | ".join(cells) + " |")
    for n in res.get("notes", []):
        lines.append(f"note: {n}")
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    """Arguments of ``python -m divergence.bench``."""
    ap = argparse.ArgumentParser(
        prog="python -m divergence.bench", description=__doc__.splitlines()[0]
    )
    ap.add_argument(
        "--quick",
        action="store_true",
        help="smoke run: no data build, 2 trials, 200 bootstrap draws, 10 walk-forward models",
    )
    ap.add_argument(
        "--out", default="bench.json", help="where to write the JSON results (default bench.json)"
    )
    ap.add_argument("--raw", default=None, help="raw data directory (default ../shared/data/raw)")
    ap.add_argument(
        "--snapshot", default=None, help="snapshot the pipeline reads (default data/snapshot)"
    )
    ap.add_argument(
        "--experiment", default=None, help="experiment config (default experiments/overall.yaml)"
    )
    ap.add_argument("--n-trials", type=int, default=None, help="override the experiment's n_trials")
    ap.add_argument(
        "--keep", default=None, help="keep the work directory (MLflow store, logs) here"
    )
    ap.add_argument(
        "--no-sweep", action="store_true", help="skip the sweep of every target and domains_*"
    )
    ap.add_argument(
        "--sweep-workers", type=int, default=2, help="worker processes of the sweep (default 2)"
    )
    # internal: worker processes
    ap.add_argument("--worker", choices=sorted(WORKERS), help=argparse.SUPPRESS)
    ap.add_argument("--model-uri", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--calls", type=int, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--repeats", type=int, default=3, help=argparse.SUPPRESS)
    ap.add_argument("--save", default=None, help=argparse.SUPPRESS)
    return ap


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit code (2 with one ``error:`` line on bad input)."""
    from divergence.atomic import atomic_file, check_output_file
    from divergence.errors import DivergenceError

    args = build_parser().parse_args(argv)
    try:
        if args.worker:
            if args.calls is None:
                args.calls = 200
            print(json.dumps(WORKERS[args.worker](args)), flush=True)
            return 0
        out = check_output_file(args.out, what="--out")  # before minutes of work
        res = run_bench(
            quick=args.quick,
            raw=Path(args.raw) if args.raw else None,
            snapshot=Path(args.snapshot) if args.snapshot else None,
            experiment=Path(args.experiment) if args.experiment else None,
            n_trials=args.n_trials,
            keep=Path(args.keep) if args.keep else None,
            calls=args.calls,
            sweep=not args.no_sweep,
            sweep_workers=args.sweep_workers,
        )
        with atomic_file(out, "w") as fh:
            fh.write(json.dumps(res, indent=1, default=str) + "\n")
    except DivergenceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    print(format_table(res))
    print(f"\nwrote {out}")
    return 1 if res["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
