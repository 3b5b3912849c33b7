"""MLflow orchestration of the pipeline steps (what ``mlflow run`` entry points call).

Run layout in the MLflow UI, under experiment ``divergence-<experiment name>``:

- the top-level run (the one ``mlflow run`` creates, or a new one): params, tags (git
  commit, snapshot hash, xgboost build), summary metrics;
  - ``tune``: the Optuna study; one nested ``trial-NNN`` run per trial;
  - ``evaluate``: walk-forward and rolling-origin metrics with CIs, tables, figures;
  - ``train``: the final pyfunc model, registered as ``divergence-utility[-<category>]``;
    alias ``champion`` moves only if it beats every baseline on walk-forward RMSE.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from divergence.config import PACKAGE_DIR, default_snapshot_dir, default_tracking_uri, project_root
from divergence.experiment import Experiment
from divergence.pipeline import (
    BASELINES,
    Prepared,
    inner_oof,
    prepare,
    run_evaluation,
    summary_metrics,
    train_final,
    tuning_window,
)
from divergence.progress import log
from divergence.snapshot import load_snapshot, snapshot_hash
from divergence.tuning import DEFAULT_PARAMS, best_params, log_study, tune


def model_name(exp: Experiment) -> str:
    """Registered model name: ``divergence-utility`` or ``divergence-utility-<category>``."""
    base = exp.registered_model
    if exp.category == "full" and exp.board == "style":
        return base
    suffix = exp.category if exp.board == "style" else f"{exp.category}-raw"
    return f"{base}-{suffix}".replace("_", "-")


def _git_commit() -> str:
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


def init_store(uri: str) -> None:
    """Create or upgrade a SQLite tracking store under an inter-process lock.

    MLflow creates the schema of a new SQLite store on first access, and two processes
    doing that at once fail (alembic: "Online migration expected to match one row ...").
    An exclusive ``flock`` on a file in the temp directory, keyed by the database path,
    serialises this first access; once the tables exist it costs one query. Other stores
    (PostgreSQL) handle concurrency themselves and are left to MLflow.
    """
    if not uri.startswith("sqlite:///"):
        return
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: no lock, run one process at a time
        return
    from mlflow import MlflowClient

    db = Path(uri.removeprefix("sqlite:///").split("?", 1)[0]).resolve()
    key = hashlib.sha256(str(db).encode()).hexdigest()[:16]
    with open(Path(tempfile.gettempdir()) / f"divergence-mlflow-{key}.lock", "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            MlflowClient(tracking_uri=uri, registry_uri=uri).search_experiments(max_results=1)
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def setup(exp: Experiment) -> None:
    """Point MLflow at the tracking store and experiment."""
    import mlflow

    mlflow.set_tracking_uri(default_tracking_uri())
    init_store(default_tracking_uri())
    if not os.environ.get("MLFLOW_EXPERIMENT_ID") and not os.environ.get("MLFLOW_RUN_ID"):
        found = mlflow.set_experiment(f"divergence-{exp.name}")
        # When a concurrent worker creates the experiment first, MLflow returns it without
        # activating it (runs would land in "Default"): activate it by id.
        mlflow.set_experiment(experiment_id=found.experiment_id)


def _tags(snapshot_dir: Path) -> dict[str, str]:
    import xgboost as xgb

    info = xgb.build_info()
    return {
        "git_commit": _git_commit(),
        "snapshot_sha256": snapshot_hash(snapshot_dir),
        "xgboost_version": xgb.__version__,
        "xgboost_build": json.dumps(
            {k: info.get(k) for k in ["USE_OPENMP", "USE_CUDA", "GCC_VERSION"] if k in info}
        ),
        "python": platform.python_version(),
        "machine": f"{platform.machine()} {os.cpu_count()} cpus",
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS", ""),
    }


def _log_df(df: pd.DataFrame, name: str, d: Path) -> None:
    import mlflow

    path = d / name
    df.to_csv(path, index=False, float_format="%.4f")
    mlflow.log_artifact(str(path))


def plot_predictions(wf: pd.DataFrame, path: Path, title: str) -> None:
    """Predicted-vs-actual and residual-vs-release figure for the walk-forward."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(12, 5))
    ax = axes[0]
    for method, style in [
        ("ours", dict(color="C0", marker="o")),
        ("ours_benchmarks_only", dict(color="C2", marker="^")),
        ("baseline_median_ridge", dict(color="C3", marker="x")),
        ("baseline_aa_index_linear", dict(color="C1", marker="s")),
    ]:
        g = wf[wf["method"] == method]
        if g.empty:
            continue
        ax.scatter(g["y"], g["pred"], label=method, alpha=0.7, **style)
    ours = wf[wf["method"] == "ours"]
    if "lower_80" in ours and ours["lower_80"].notna().any():
        ax.errorbar(
            ours["y"],
            ours["pred"],
            yerr=ours["upper_80"] - ours["pred"],
            fmt="none",
            ecolor="C0",
            alpha=0.3,
            label="ours 80% interval",
        )
    lim = [
        np.nanmin(wf[["y", "pred"]].to_numpy()) - 10,
        np.nanmax(wf[["y", "pred"]].to_numpy()) + 10,
    ]
    ax.plot(lim, lim, "k--", lw=1)
    ax.set_xlabel("actual arena rating (normalised)")
    ax.set_ylabel("predicted")
    ax.set_title(title)
    ax.legend(fontsize=8)
    ax = axes[1]
    ax.axhline(0, color="k", lw=1)
    for method, c in [("ours", "C0"), ("baseline_median_ridge", "C3")]:
        g = wf[wf["method"] == method]
        ax.scatter(
            pd.to_datetime(g["release_date"]), g["pred"] - g["y"], color=c, label=method, alpha=0.7
        )
    ax.set_xlabel("release date")
    ax.set_ylabel("residual (pred − actual)")
    ax.set_title("Residual vs release date (extrapolation check)")
    ax.legend(fontsize=8)
    fig.autofmt_xdate()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def markdown_table(metrics: pd.DataFrame) -> str:
    """Walk-forward comparison table (RMSE, MAE, Spearman, pairwise acc.) as Markdown."""
    keep = ["rmse", "mae", "spearman", "pairwise_acc", "coverage"]
    rows = ["| method | " + " | ".join(keep) + " |", "|---|" + "---|" * len(keep)]
    for method, g in metrics.groupby("method", sort=False):
        g = g.set_index("metric")
        cells = []
        for m in keep:
            if m not in g.index or pd.isna(g.loc[m, "value"]):
                cells.append("–")
            else:
                r = g.loc[m]
                cells.append(f"{r['value']:.3g} [{r['ci_lo']:.3g}, {r['ci_hi']:.3g}]")
        rows.append(f"| {method} | " + " | ".join(cells) + " |")
    return "\n".join(rows) + "\n"


def step_tune(
    p: Prepared, n_trials: int, storage: str | None = None, workers: int = 1
) -> dict[str, Any]:
    """Tune inside the tuning window; logs a ``tune`` parent run with nested trials."""
    import mlflow

    win = tuning_window(p)
    release = p.release.iloc[win].reset_index(drop=True)
    name = f"{p.exp.name}-seed{p.exp.seed}"
    if storage:
        name += f"-{snapshot_tag(p)}-{config_tag(p.exp)}"
    with mlflow.start_run(run_name="tune", nested=True):
        mlflow.log_params(
            {
                "n_trials": n_trials,
                "tuning_window_models": len(win),
                "tuning_window_end": str(p.release.iloc[win].max().date()),
                "inner_folds": p.exp.inner_folds,
                "workers": workers,
            }
        )
        study = tune(
            p.X.iloc[win],
            p.y[win],
            release,
            n_trials=n_trials,
            seed=p.exp.seed,
            storage=storage,
            study_name=name,
            workers=workers,
            n_folds=p.exp.inner_folds,
        )
        log_study(study)
        params = best_params(study)
        mlflow.log_dict(params, "best_params.json")
    return params


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


def step_evaluate(p: Prepared, params: dict[str, Any]) -> dict[str, Any]:
    """Walk-forward + rolling-origin evaluation; logs an ``evaluate`` run."""
    import mlflow

    resid = inner_oof(p, params)
    ev = run_evaluation(p, params, resid)
    metrics = summary_metrics(ev["walkforward_metrics"])
    with mlflow.start_run(run_name="evaluate", nested=True), tempfile.TemporaryDirectory() as td:
        d = Path(td)
        mlflow.log_params({f"param_{k}": v for k, v in params.items()})
        mlflow.log_params(
            {
                "n_test": p.exp.n_test,
                "n_rated_models": len(p.y),
                "conformal_q80_inner": ev["q_inner"]["q80"],
                "conformal_q90_inner": ev["q_inner"]["q90"],
            }
        )
        mlflow.log_metrics(metrics)
        _log_df(ev["walkforward"], "walkforward_predictions.csv", d)
        _log_df(ev["walkforward_metrics"], "walkforward_metrics.csv", d)
        if len(ev["rolling"]):
            _log_df(ev["rolling"], "rolling_origin_predictions.csv", d)
            _log_df(ev["rolling_metrics"], "rolling_origin_metrics.csv", d)
            ro = summary_metrics(ev["rolling_metrics"])
            mlflow.log_metrics({k.replace("walkforward", "rolling"): v for k, v in ro.items()})
        md = markdown_table(ev["walkforward_metrics"])
        (d / "walkforward_table.md").write_text(md)
        mlflow.log_artifact(str(d / "walkforward_table.md"))
        fig = d / "predicted_vs_actual.png"
        plot_predictions(ev["walkforward"], fig, f"Walk-forward, {p.exp.board}/{p.exp.category}")
        mlflow.log_artifact(str(fig))
    ev["metrics"] = metrics
    ev["residuals"] = np.concatenate(
        [
            (
                ev["walkforward"].query("method == 'ours'")["pred"]
                - ev["walkforward"].query("method == 'ours'")["y"]
            ).to_numpy(),
            (
                ev["rolling"].query("method == 'ours'")["pred"]
                - ev["rolling"].query("method == 'ours'")["y"]
            ).to_numpy()
            if len(ev["rolling"])
            else np.zeros(0),
        ]
    )
    return ev


def champion_decision(metrics: dict[str, float]) -> tuple[bool, str]:
    """Whether ours beats every baseline on walk-forward RMSE, and why not."""
    ours = metrics.get("walkforward_rmse")
    if ours is None:
        return False, "no walk-forward RMSE"
    losers = []
    for b in BASELINES:
        v = metrics.get(f"baseline_{b}_walkforward_rmse")
        if v is not None and not ours < v:
            losers.append(f"{b} ({v:.2f} <= {ours:.2f})")
    if losers:
        return False, "walk-forward RMSE not better than baseline " + ", ".join(losers)
    return True, f"walk-forward RMSE {ours:.2f} beats every baseline"


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


def step_train(
    p: Prepared,
    params: dict[str, Any],
    ev: dict[str, Any],
    tables: dict[str, pd.DataFrame],
    register: bool = True,
) -> dict[str, Any]:
    """Fit the final model, log it as a pyfunc, register it and decide the champion."""
    import mlflow
    from mlflow.models import infer_signature
    from mlflow.types.schema import ColSpec, Schema

    from divergence.predictor import OUTPUT_COLUMNS, Predictor, save_predictor_files

    final = train_final(p, params, ev["residuals"])
    name = model_name(p.exp)
    cols = list(
        dict.fromkeys([*final["main"].feature_names_in_, *final["bench"].feature_names_in_])
    )
    features = pd.concat([p.X_all, p.Xb_all], axis=1)
    features = features.loc[:, ~features.columns.duplicated()][cols]
    card = {
        "registered_model": name,
        "experiment": p.exp.to_dict(),
        "params": params,
        "training_models": len(p.y),
        "training_release_range": [str(p.release.min().date()), str(p.release.max().date())],
        "target": f"LMArena {p.exp.board} board, category {p.exp.category}, latest normalised rating",
        "walkforward_metrics": ev["metrics"],
        "intervals": final["q"],
        "features_main": list(final["main"].feature_names_in_),
        "features_benchmarks_only": list(final["bench"].feature_names_in_),
        "snapshot_sha256": p.extra.get("snapshot_sha256"),
        "git_commit": _git_commit(),
    }
    with (
        mlflow.start_run(run_name="train", nested=True) as run,
        tempfile.TemporaryDirectory() as td,
    ):
        d = Path(td) / "predictor"
        artifacts = save_predictor_files(
            d,
            final["main"],
            final["bench"],
            final["q"],
            features,
            tables["aliases"],
            card,
            training_ids=list(p.target.index),
        )
        pred = Predictor(d)
        example = features.loc[p.target.index[-3:], cols].astype("float64")
        out = pred.predict(example)
        signature = infer_signature(example, out)
        signature = type(signature)(
            inputs=Schema([ColSpec("double", c, required=False) for c in cols]),
            outputs=Schema([ColSpec("double", c) for c in OUTPUT_COLUMNS]),
        )
        mlflow.log_params({f"param_{k}": v for k, v in params.items()})
        mlflow.log_metrics({"conformal_q80": final["q"]["q80"], "conformal_q90": final["q"]["q90"]})
        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=str(PACKAGE_DIR / "pyfunc_entry.py"),
            artifacts=artifacts,
            code_paths=[str(PACKAGE_DIR)],
            signature=signature,
            input_example=example,
            pip_requirements=pip_requirements(),
            registered_model_name=name if register else None,
        )
        result = {
            "model_uri": info.model_uri,
            "run_id": run.info.run_id,
            "name": name,
            "card": card,
        }
        if register:
            result.update(decide_champion(name, info.registered_model_version, ev["metrics"]))
    return result


def decide_champion(
    name: str, version: int | str | None, metrics: dict[str, float]
) -> dict[str, Any]:
    """Move alias ``champion`` to ``version`` only if it beats every baseline."""
    import mlflow
    from mlflow import MlflowClient

    client = MlflowClient()
    ok, why = champion_decision(metrics)
    version = str(version)
    client.set_model_version_tag(name, version, "beats_all_baselines", str(ok).lower())
    client.set_model_version_tag(name, version, "champion_decision", why)
    for k in ["walkforward_rmse", "walkforward_spearman"]:
        if k in metrics:
            client.set_model_version_tag(name, version, k, f"{metrics[k]:.4f}")
    if ok:
        client.set_registered_model_alias(name, "champion", version)
        log(f"{name} v{version} is the new champion: {why}")
    else:
        log(f"{name} v{version} NOT promoted: {why}")
    mlflow.set_tag("champion_decision", why)
    return {"version": version, "champion": ok, "champion_reason": why}


def run(
    exp: Experiment,
    steps: tuple[str, ...] = ("tune", "evaluate", "train"),
    snapshot_dir: str | Path | None = None,
    params_path: str | Path | None = None,
    storage: str | None = None,
    workers: int = 1,
    report: bool = False,
) -> dict[str, Any]:
    """Run pipeline steps under one top-level MLflow run.

    Parameters
    ----------
    exp : Experiment
        The experiment config.
    steps : tuple of str
        Subset of ``tune``, ``evaluate``, ``train`` (``train`` implies ``evaluate``).
    snapshot_dir : path, optional
        Snapshot to read (default: ``data/snapshot``).
    params_path : path, optional
        JSON of model parameters when not tuning (default: untuned defaults).
    storage, workers
        Optuna storage and worker processes for ``tune``.
    report : bool
        Also write the divergence report (``main``).

    Returns
    -------
    dict
        Params, metrics, and the registered model info.
    """
    import mlflow

    snap = Path(snapshot_dir) if snapshot_dir else default_snapshot_dir()
    tables = load_snapshot(snap)
    setup(exp)
    p = prepare(exp, tables)
    p.extra["snapshot_sha256"] = snapshot_hash(snap)
    log(
        f"{exp.name}: {len(p.y)} rated models, {p.X.shape[1]} features "
        f"({p.Xb.shape[1]} benchmarks-only), releases {p.release.min().date()} .. {p.release.max().date()}"
    )
    out: dict[str, Any] = {}
    with mlflow.start_run(run_name=f"{exp.name}", nested=mlflow.active_run() is not None) as top:
        mlflow.set_tags(_tags(snap))
        mlflow.log_params({f"exp_{k}": v for k, v in exp.to_dict().items()})
        mlflow.log_params(
            {"n_rated_models": len(p.y), "n_features": p.X.shape[1], "steps": ",".join(steps)}
        )
        if "tune" in steps:
            params = step_tune(p, exp.n_trials, storage=storage, workers=workers)
        elif params_path:
            params = {**DEFAULT_PARAMS, **json.loads(Path(params_path).read_text())}
        else:
            params = dict(DEFAULT_PARAMS)
        out["params"] = params
        mlflow.log_dict(params, "params.json")
        if "evaluate" in steps or "train" in steps:
            ev = step_evaluate(p, params)
            mlflow.log_metrics(ev["metrics"])
            out["metrics"] = ev["metrics"]
            out["walkforward_metrics"] = ev["walkforward_metrics"]
            out["rolling_metrics"] = ev["rolling_metrics"]
            out["walkforward"] = ev["walkforward"]
            if "train" in steps:
                out["model"] = step_train(p, params, ev, tables)
        if report:
            from divergence.reports import write_report

            out["report"] = write_report(tables, project_root() / "reports", log_to_mlflow=True)
        out["run_id"] = top.info.run_id
    return out
