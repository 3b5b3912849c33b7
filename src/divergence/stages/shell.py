"""The MLflow shell shared by the stages: how a stage's run is tagged, named, described,
and how its result is stored on the run and read back by a later stage.

A stage's result lives under the run's ``stage/`` artifacts: frames as Parquet (exact
float64 and dates, no pickling), scalars as JSON. The run carries ``divergence.stage``
(its entry point) and ``divergence.inputs`` (a hash of the experiment config, the model
parameters, the snapshot and the package code), so a later stage can find a finished run
of the same inputs (MLflow's multistep-workflow pattern) instead of recomputing it.
"""

from __future__ import annotations

import hashlib
import json
import math
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from divergence.config import PACKAGE_DIR
from divergence.experiment import Experiment
from divergence.pipeline import Prepared
from divergence.registry import NOTE_TAG
from divergence.snapshot import snapshot_hash

STAGE_TAG = "divergence.stage"


DISPLAY = {
    "ours": "ours",
    "ours_benchmarks_only": "ours, benchmarks only",
    "baseline_factor_linear": "baseline: general factor, linear",
    "baseline_median_ridge": "baseline: median impute + ridge",
    "baseline_aa_index_linear": "baseline: AA intelligence index, linear",
    "baseline_best_single": "baseline: best single benchmark",
    "baseline_mean": "baseline: mean",
}


# The headline metrics of a run (read defensively: a name the pipeline does not produce is
# skipped). Everything else is in the metrics table logged with ``log_table``.
HEADLINE_OURS = [
    "walkforward_rmse",
    "walkforward_rmse_ci_lo",
    "walkforward_rmse_ci_hi",
    "walkforward_mae",
    "walkforward_spearman",
    "walkforward_spearman_ci_lo",
    "walkforward_spearman_ci_hi",
    "walkforward_pairwise_acc",
    "walkforward_coverage",
    "benchmarks_only_walkforward_rmse",
]


HEADLINE_BASELINE = ["rmse", "spearman"]


def git_commit() -> str:
    try:
        return (
            subprocess.run(
                ["git", "rev-parse", "HEAD"],
                cwd=PACKAGE_DIR,
                capture_output=True,
                text=True,
                timeout=5,
            ).stdout.strip()
            or "unknown"
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def config_tag(exp: Experiment) -> str:
    """Short hash of everything that changes the tuning objective (not trials or bootstrap)."""
    import hashlib

    d = {
        k: v
        for k, v in exp.to_dict().items()
        if k not in {"n_trials", "n_boot", "registered_model"}
    }
    return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:8]


def snapshot_tag(p: Prepared) -> str:
    return str(p.extra.get("snapshot_sha256", ""))[:12]


def pip_requirements() -> list[str]:
    """Runtime requirements of the logged model (explicit: no slow inference)."""
    import importlib.metadata as md

    pins = []
    for pkg in ["mlflow", "xgboost", "pandas", "numpy", "scikit-learn", "scipy", "pyyaml"]:
        try:
            pins.append(f"{pkg}=={md.version(pkg)}")
        except md.PackageNotFoundError:
            continue
    return pins


def log_frame(df: pd.DataFrame, name: str, d: Path) -> None:
    import mlflow

    path = d / name
    df.to_csv(path, index=False, float_format="%.4f")
    mlflow.log_artifact(str(path))


def log_table(df: pd.DataFrame, name: str) -> None:
    """A DataFrame as an MLflow table (viewable and comparable in the UI)."""
    import mlflow

    out = df.copy()
    for c in out.columns:
        if pd.api.types.is_datetime64_any_dtype(out[c]):
            out[c] = out[c].dt.strftime("%Y-%m-%d")
    mlflow.log_table(out, artifact_file=name)


def note(text: str) -> None:
    """Markdown description of the active run (MLflow truncates tags at 8000 characters)."""
    import mlflow

    mlflow.set_tag(NOTE_TAG, text if len(text) <= 7900 else text[:7880] + "\n\n(truncated)")


def ci(metrics: dict[str, float], key: str, digits: int = 3) -> str:
    """``value [lo, hi]`` of a summary metric, or ``n/a``."""
    if key not in metrics:
        return "n/a"
    lo, hi = metrics.get(f"{key}_ci_lo"), metrics.get(f"{key}_ci_hi")
    ci = f" [{lo:.{digits}g}, {hi:.{digits}g}]" if lo is not None and hi is not None else ""
    return f"{metrics[key]:.{digits}g}{ci}"


def _baselines_in(metrics: dict[str, float]) -> list[str]:
    """Baseline names present in summary metrics (``baseline_<name>_walkforward_rmse``)."""
    return sorted(
        k.removeprefix("baseline_").removesuffix("_walkforward_rmse")
        for k in metrics
        if k.startswith("baseline_") and k.endswith("_walkforward_rmse")
    )


def best_baseline(metrics: dict[str, float]) -> tuple[str, float] | None:
    """The baseline with the lowest walk-forward RMSE and that RMSE, or None."""
    vals = [(b, metrics[f"baseline_{b}_walkforward_rmse"]) for b in _baselines_in(metrics)]
    vals = [(b, v) for b, v in vals if v is not None and math.isfinite(v)]
    return min(vals, key=lambda t: t[1]) if vals else None


def headline_metrics(metrics: dict[str, float]) -> dict[str, float]:
    """The small stable set of metrics logged on a run, from :func:`summary_metrics`.

    Ours: RMSE (with CI), MAE, Spearman (with CI), pairwise accuracy, 90% coverage;
    benchmarks-only RMSE; RMSE and Spearman of each baseline.
    """
    keys = list(HEADLINE_OURS) + [
        f"baseline_{b}_walkforward_{m}" for b in _baselines_in(metrics) for m in HEADLINE_BASELINE
    ]
    out = {}
    for k in keys:
        v = metrics.get(k)
        if v is not None and math.isfinite(float(v)):
            out[k] = float(v)
    return out


def markdown_table(metrics: pd.DataFrame) -> str:
    """Walk-forward comparison table as Markdown: ours first, then by RMSE (best first)."""
    keep = ["rmse", "mae", "spearman", "pairwise_acc", "coverage"]
    rows = ["| method | " + " | ".join(keep) + " |", "|---|" + "---|" * len(keep)]
    groups = {str(m): g.set_index("metric") for m, g in metrics.groupby("method", sort=False)}

    def order(method: str) -> tuple[int, float]:
        g = groups[method]
        rmse = g.loc["rmse", "value"] if "rmse" in g.index else np.nan
        return (0 if method == "ours" else 1, np.inf if pd.isna(rmse) else float(rmse))  # type: ignore[arg-type]

    for method in sorted(groups, key=order):
        g = groups[method]
        cells = []
        for m in keep:
            if m not in g.index or pd.isna(g.loc[m, "value"]):
                cells.append("–")
            else:
                r = g.loc[m]
                cells.append(f"{r['value']:.3g} [{r['ci_lo']:.3g}, {r['ci_hi']:.3g}]")
        rows.append(f"| {DISPLAY.get(method, method)} | " + " | ".join(cells) + " |")
    return "\n".join(rows) + "\n"


def snapshot_dataset(p: Prepared, snapshot_dir: Path) -> Any:
    """The experiment's training frame as an MLflow dataset.

    Digest: the snapshot's content hash (first 36 hex digits, MLflow's limit; the full
    hash is the input tag ``snapshot_sha256``); source: the snapshot manifest, which lists
    every raw source with its hash.
    """
    import mlflow.data.sources
    from mlflow.data.pandas_dataset import from_pandas

    if "dataset" not in p.extra:
        frame = p.X.copy()
        frame.insert(0, "target", p.y)
        frame.insert(1, "release_date", p.target["release_date"].dt.strftime("%Y-%m-%d").values)
        frame.index.name = "model_id"
        sha = str(p.extra.get("snapshot_sha256", "")) or snapshot_hash(snapshot_dir)
        local_source = getattr(mlflow.data.sources, "LocalArtifactDatasetSource")  # noqa: B009
        source = local_source(str((Path(snapshot_dir) / "manifest.json").resolve()))
        p.extra["dataset"] = from_pandas(
            frame.reset_index(),
            source=source,
            targets="target",
            name=f"divergence-snapshot-{p.exp.name}",
            digest=sha[:36],
        )
    return p.extra["dataset"]


def log_dataset(p: Prepared, context: str) -> None:
    import mlflow

    snap = p.extra.get("snapshot_dir")
    if snap is None:
        return
    dataset = snapshot_dataset(p, Path(snap))
    tags = {"snapshot_sha256": str(p.extra.get("snapshot_sha256", ""))}
    for attempt in range(3):
        try:
            mlflow.log_input(dataset, context=context, tags=tags)
            return
        except Exception as e:
            # Workers sharing a PostgreSQL store can insert the same dataset row at once
            # (unique violation on ``dataset_pk``); the row then exists and a retry links it.
            if attempt == 2 or "dataset_pk" not in str(e):
                raise
            time.sleep(0.2 * (attempt + 1))


def set_stage(name: str) -> None:
    import mlflow

    mlflow.set_tag(STAGE_TAG, name)


# ---------------------------------------------------------------------------- stage results
INPUTS_TAG = "divergence.inputs"
RESULT_DIR = "stage"
"""Artifact folder of a stage's stored result."""


def code_digest() -> str:
    """SHA-256 of the package's Python sources (path and bytes, in path order)."""
    h = hashlib.sha256()
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        h.update(str(path.relative_to(PACKAGE_DIR)).encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


def inputs_key(p: Prepared, params: dict[str, Any]) -> str:
    """Hash of what a stage's result depends on: config, parameters, snapshot, code."""
    d = {
        "experiment": p.exp.to_dict(),
        "params": params,
        "snapshot_sha256": str(p.extra.get("snapshot_sha256", "")),
        "code": code_digest(),
    }
    return hashlib.sha256(json.dumps(d, sort_keys=True, default=str).encode()).hexdigest()[:32]


def rename_run(name: str) -> None:
    """Give the active run a name that says what it did (set once the result is known)."""
    import mlflow
    from mlflow import MlflowClient

    run = mlflow.active_run()
    if run is not None:
        MlflowClient().update_run(run.info.run_id, name=name[:250])


def save_result(frames: dict[str, pd.DataFrame], values: dict[str, Any]) -> None:
    """Store a stage's result on the active run: ``stage/<name>.parquet`` and ``stage/result.json``."""
    import mlflow

    with tempfile.TemporaryDirectory() as td:
        d = Path(td)
        for name, df in frames.items():
            if df.shape[1]:  # a frame without columns reads back as absent (an empty frame)
                df.reset_index(drop=True).to_parquet(d / f"{name}.parquet", index=False)
        (d / "result.json").write_text(json.dumps(values, indent=1, sort_keys=True, default=str))
        mlflow.log_artifacts(td, artifact_path=RESULT_DIR)


def finished_stage_run(run_id: str, stage: str) -> Any:
    """The MLflow run ``run_id``, checked to be a finished run of ``stage``.

    Raises
    ------
    DivergenceError
        Unknown run, or not a finished run of ``stage``.
    """
    import os

    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    from divergence.errors import DivergenceError

    try:
        run = MlflowClient().get_run(run_id)
    except MlflowException as exc:
        raise DivergenceError(f"run {run_id}: {str(exc).splitlines()[0]}") from None
    if run.data.tags.get(STAGE_TAG) != stage or run.info.status != "FINISHED":
        raise DivergenceError(
            f"run {run_id}: not a finished `{stage}` run (stage "
            f"{run.data.tags.get(STAGE_TAG, 'none')}, status {run.info.status})"
        )
    return run


def load_result(run_id: str, stage: str) -> tuple[dict[str, pd.DataFrame], dict[str, Any]]:
    """The frames and values :func:`save_result` stored on a finished ``stage`` run.

    Raises
    ------
    DivergenceError
        The run is not a finished run of ``stage``, or holds no stored result.
    """
    import mlflow
    from mlflow.exceptions import MlflowException

    from divergence.errors import DivergenceError

    finished_stage_run(run_id, stage)
    with tempfile.TemporaryDirectory() as td:
        try:
            local = Path(
                mlflow.artifacts.download_artifacts(
                    run_id=run_id, artifact_path=RESULT_DIR, dst_path=td
                )
            )
        except (MlflowException, OSError) as exc:
            raise DivergenceError(f"run {run_id}: no stored {stage} result ({exc})") from None
        if not (local / "result.json").is_file():
            raise DivergenceError(f"run {run_id}: no stored {stage} result (stage/result.json)")
        values = json.loads((local / "result.json").read_text())
        frames = {p.stem: pd.read_parquet(p) for p in sorted(local.glob("*.parquet"))}
    return frames, values


def finished_run(p: Prepared, stage: str, key: str) -> str | None:
    """Id of the newest finished ``stage`` run of the active experiment with inputs ``key``."""
    import mlflow
    from mlflow import MlflowClient

    run = mlflow.active_run()
    if run is None:
        return None
    hits = MlflowClient().search_runs(
        [run.info.experiment_id],
        f"tags.`{STAGE_TAG}` = '{stage}' and tags.`{INPUTS_TAG}` = '{key}' "
        "and attributes.status = 'FINISHED'",
        order_by=["attributes.start_time DESC"],
        max_results=1,
    )
    return hits[0].info.run_id if hits else None
