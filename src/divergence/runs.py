"""MLflow orchestration of the pipeline steps (what ``mlflow run`` entry points call).

Run layout in the MLflow UI, one experiment per target, ``divergence/<experiment name>``
(tagged as a model-training experiment, so the UI opens on its runs):

- the top-level run (the one ``mlflow run`` creates, or a new one): params, tags (git
  commit, snapshot hash, xgboost build), the headline metrics, a description;
  - ``tune``: the Optuna study, its figures (history, importances, parallel
    coordinates); one nested ``trial-NNN`` run per trial;
  - ``evaluate``: the snapshot as dataset input, headline walk-forward metrics, the
    predictions and metrics tables (``log_table``), figures;
  - ``train``: the final pyfunc model, registered as ``divergence-utility[-<category>]``;
    alias ``champion`` moves only through the gate of :mod:`divergence.registry`;
  - ``report`` (``main`` only): the divergence report as artifacts, its numbers as one
    table (``report_findings.json``), not as metrics.

Every run carries a Markdown description (``mlflow.note.content``) saying what it did and
its headline result. An ``mlflow run`` launched without ``--experiment-name`` starts its
run in "Default"; the pipeline then runs in ``divergence/<name>`` and that launcher run
only points to it.
"""

from __future__ import annotations

import json
import math
import os
import platform
import subprocess
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from divergence import recovery
from divergence.config import PACKAGE_DIR, default_snapshot_dir, default_tracking_uri, project_root
from divergence.experiment import Experiment
from divergence.pipeline import (
    Prepared,
    inner_oof,
    prepare,
    run_evaluation,
    summary_metrics,
    train_final,
    tuning_window,
)
from divergence.progress import log
from divergence.registry import (
    EXPERIMENT_KIND,
    EXPERIMENT_KIND_TAG,
    NOTE_TAG,
    WALKFORWARD_ARTIFACT,
    experiment_name,
    model_name,
    promote,
    store_lock,
)
from divergence.snapshot import load_snapshot, snapshot_hash
from divergence.tuning import DEFAULT_PARAMS, best_params, log_study, tune

__all__ = ["experiment_name", "model_name", "run", "markdown_table", "headline_metrics"]

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
    :func:`divergence.registry.store_lock` serialises this first access; once the tables
    exist it costs one query. Other stores (PostgreSQL) handle concurrency themselves.
    """
    if not uri.startswith("sqlite:///"):
        return
    from mlflow import MlflowClient

    with store_lock(uri):
        MlflowClient(tracking_uri=uri, registry_uri=uri).search_experiments(max_results=1)


def experiment_note(exp: Experiment) -> str:
    """Markdown description of an experiment (what its runs are and how to read them)."""
    target = f"LMArena {exp.board} board, category `{exp.category}`"
    return (
        f"### {experiment_name(exp)}: predicting the {target}\n\n"
        "From public benchmark scores, adoption signals and metadata "
        f"(feature set `{exp.feature_set}`). Each top-level run is one pipeline "
        "invocation; its description gives the headline result. Nested runs:\n\n"
        f"- `tune`: Optuna on {exp.inner_folds} release-ordered inner folds of the training "
        "window only (figures under `optuna/`); one `trial-NNN` run per trial;\n"
        f"- `evaluate`: walk-forward over the {exp.n_test} newest rated models, each "
        "predicted from models released strictly before it, with five baselines on the same "
        "splits (tables `walkforward_*.json`, figure `predicted_vs_actual.png`);\n"
        f"- `train`: refit on every rated model, registered as `{model_name(exp)}`; the alias "
        "`@champion` moves only through the promotion gate (paired-bootstrap CIs against "
        "every baseline and the current champion; see the version's `gate.*` tags);\n"
        "- `report` (`main` only): the divergence report as artifacts.\n\n"
        "RMSE and MAE are in arena rating points; every value has a 95% bootstrap CI."
    )


def _mark_experiment(client: Any, experiment_id: str, exp: Experiment, uri: str) -> None:
    """Tag an experiment as model training (UI opens on its runs) and describe it."""
    current = client.get_experiment(experiment_id).tags
    want = {EXPERIMENT_KIND_TAG: EXPERIMENT_KIND}
    if NOTE_TAG not in current:
        want[NOTE_TAG] = experiment_note(exp)
    todo = {k: v for k, v in want.items() if current.get(k) != v}
    if todo:
        with store_lock(uri):  # concurrent first runs would race on the same tag rows
            for k, v in todo.items():
                client.set_experiment_tag(experiment_id, k, v)


def setup(exp: Experiment) -> str | None:
    """Point MLflow at the tracking store and the experiment ``divergence/<name>``.

    Returns
    -------
    str or None
        The id of an ``mlflow run`` launcher run that was started in "Default" (the
        pipeline then runs in ``divergence/<name>`` instead), else None.
    """
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    import mlflow
    from mlflow import MlflowClient

    uri = default_tracking_uri()
    mlflow.set_tracking_uri(uri)
    init_store(uri)
    client = MlflowClient()
    launcher = os.environ.get("MLFLOW_RUN_ID")
    chosen = os.environ.get("MLFLOW_EXPERIMENT_ID")
    if launcher:
        chosen = client.get_run(launcher).info.experiment_id
    if chosen and client.get_experiment(chosen).name != "Default":
        _mark_experiment(client, chosen, exp, uri)  # the caller chose the experiment
        return None
    os.environ.pop("MLFLOW_RUN_ID", None)
    os.environ.pop("MLFLOW_EXPERIMENT_ID", None)
    found = mlflow.set_experiment(experiment_name(exp))
    # When a concurrent worker creates the experiment first, MLflow returns it without
    # activating it (runs would land in "Default"): activate it by id.
    mlflow.set_experiment(experiment_id=found.experiment_id)
    _mark_experiment(client, found.experiment_id, exp, uri)
    return launcher


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
        ("baseline_strong_ridge", dict(color="C3", marker="x")),
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
    for method, c in [("ours", "C0"), ("baseline_strong_ridge", "C3")]:
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


# ---------------------------------------------------------------------------- small helpers
def _log_df(df: pd.DataFrame, name: str, d: Path) -> None:
    import mlflow

    path = d / name
    df.to_csv(path, index=False, float_format="%.4f")
    mlflow.log_artifact(str(path))


def _log_table(df: pd.DataFrame, name: str) -> None:
    """A DataFrame as an MLflow table (viewable and comparable in the UI)."""
    import mlflow

    out = df.copy()
    for c in out.columns:
        if pd.api.types.is_datetime64_any_dtype(out[c]):
            out[c] = out[c].dt.strftime("%Y-%m-%d")
    mlflow.log_table(out, artifact_file=name)


def _note(text: str) -> None:
    """Markdown description of the active run (MLflow truncates tags at 8000 characters)."""
    import mlflow

    mlflow.set_tag(NOTE_TAG, text if len(text) <= 7900 else text[:7880] + "\n\n(truncated)")


def _ci(metrics: dict[str, float], key: str, digits: int = 3) -> str:
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


def _log_dataset(p: Prepared, context: str) -> None:
    import mlflow

    snap = p.extra.get("snapshot_dir")
    if snap is None:
        return
    mlflow.log_input(
        snapshot_dataset(p, Path(snap)),
        context=context,
        tags={"snapshot_sha256": str(p.extra.get("snapshot_sha256", ""))},
    )


def _stage(name: str) -> None:
    import mlflow

    mlflow.set_tag(STAGE_TAG, name)


# ---------------------------------------------------------------------------- tune
def log_tuning_figures(study: Any, seed: int) -> dict[str, str]:
    """Optimisation history, parameter importances (fANOVA, seeded) and parallel
    coordinates of a study, logged as PNG figures under ``optuna/`` of the active run.

    Returns
    -------
    dict
        ``{artifact path: "logged" or the reason it was skipped}``.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import mlflow
    import optuna
    from optuna.importance import FanovaImportanceEvaluator
    from optuna.visualization import matplotlib as ovm

    done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    top: list[str] | None = None  # parallel coordinates: the 6 most important params only
    if len(done) >= 2:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                imp = optuna.importance.get_param_importances(
                    study, evaluator=FanovaImportanceEvaluator(seed=seed)
                )
                top = list(imp)[:6]
            except (ValueError, RuntimeError, ZeroDivisionError, IndexError):
                top = None
    plots = [
        ("optuna/optimization_history.png", 1, lambda: ovm.plot_optimization_history(study)),
        (
            "optuna/param_importances.png",
            2,
            lambda: ovm.plot_param_importances(
                study, evaluator=FanovaImportanceEvaluator(seed=seed)
            ),
        ),
        (
            "optuna/parallel_coordinate.png",
            2,
            lambda: ovm.plot_parallel_coordinate(study, params=top),
        ),
    ]
    out: dict[str, str] = {}
    for path, need, make in plots:
        if len(done) < need:
            out[path] = f"skipped: {len(done)} completed trial(s), {need} needed"
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # optuna's ExperimentalWarning for matplotlib plots
            try:
                ax = make()
            except (ValueError, RuntimeError, TypeError, ZeroDivisionError, IndexError) as exc:
                out[path] = f"skipped: {type(exc).__name__}: {exc}"
                plt.close("all")
                continue
        fig = np.ravel(ax)[0].figure  # type: ignore[call-overload]
        fig.set_size_inches(12, 5.5)
        fig.tight_layout()
        mlflow.log_figure(fig, path)
        plt.close(fig)
        out[path] = "logged"
    return out


def _tune_note(p: Prepared, study: Any, params: dict[str, Any], figs: dict[str, str]) -> str:
    import optuna

    done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    win = tuning_window(p)
    lines = [
        f"**Tuned** `{p.exp.name}`: Optuna TPE (seed {p.exp.seed}), {len(done)} completed "
        f"trial(s) in study `{study.study_name}`, objective = RMSE of {p.exp.inner_folds} "
        f"release-ordered inner folds over the {len(win)} models released up to "
        f"{p.release.iloc[win].max().date()} (no walk-forward test model seen).",
        "",
    ]
    if done:
        best = min(done, key=lambda t: t.value)
        lines += [
            f"Best inner-CV RMSE **{best.value:.2f}** (trial {best.number}).",
            "",
            "| param | best |",
            "|---|---|",
            *[
                f"| {k} | {v:.4g} |" if isinstance(v, float) else f"| {k} | {v} |"
                for k, v in params.items()
            ],
            "",
        ]
    lines += [f"- `{k}`: {v}" for k, v in figs.items()]
    return "\n".join(lines)


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
        _stage("tune")
        _log_dataset(p, "tuning")
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
            n_recent=p.exp.tune_recent,
        )
        log_study(study)
        params = best_params(study)
        mlflow.log_dict(params, "best_params.json")
        figs = log_tuning_figures(study, p.exp.seed)
        _note(_tune_note(p, study, params, figs))
    return params


# ---------------------------------------------------------------------------- evaluate
def _evaluate_note(p: Prepared, ev: dict[str, Any], metrics: dict[str, float]) -> str:
    wf = ev["walkforward"]
    dates = pd.to_datetime(wf["release_date"])
    best = best_baseline(metrics)
    lines = [
        f"**Walk-forward** over the {wf['model_id'].nunique()} newest rated models "
        f"(released {dates.min().date()} to {dates.max().date()}), each predicted by a refit "
        "on every model released strictly before it; baselines on the same splits.",
        "",
        f"Ours: RMSE **{_ci(metrics, 'walkforward_rmse')}**, Spearman "
        f"**{_ci(metrics, 'walkforward_spearman')}**, MAE {_ci(metrics, 'walkforward_mae')}, "
        f"90% interval coverage {_ci(metrics, 'walkforward_coverage')}.",
    ]
    if best is not None:
        lines.append(f"Best baseline: {best[0]}, RMSE {best[1]:.3g}.")
    lines += ["", markdown_table(ev["walkforward_metrics"])]
    if len(ev.get("rolling", [])):
        ro = summary_metrics(ev["rolling_metrics"])
        lines.append(
            f"Rolling origin by quarter (untuned parameters): RMSE {_ci(ro, 'walkforward_rmse')}, "
            f"90% coverage {_ci(ro, 'walkforward_coverage')}."
        )
    lines.append(
        "\nTables: `walkforward_predictions.json`, `walkforward_metrics.json` (every metric, "
        "CI and paired ours − baseline difference); figure `predicted_vs_actual.png`."
    )
    return "\n".join(lines)


def step_evaluate(p: Prepared, params: dict[str, Any]) -> dict[str, Any]:
    """Walk-forward + rolling-origin evaluation; logs an ``evaluate`` run while it works."""
    import mlflow

    with mlflow.start_run(run_name="evaluate", nested=True), tempfile.TemporaryDirectory() as td:
        d = Path(td)
        _stage("evaluate")
        _log_dataset(p, "evaluation")
        mlflow.log_params({f"param_{k}": v for k, v in params.items()})
        mlflow.log_params({"n_test": p.exp.n_test, "n_rated_models": len(p.y)})
        resid = inner_oof(p, params)
        ev = run_evaluation(p, params, resid)
        metrics = summary_metrics(ev["walkforward_metrics"])
        mlflow.log_params(
            {
                f"conformal_{k}_inner": v
                for k, v in ev.get("q_inner", {}).items()
                if k in ("q80", "q90")
            }
        )
        mlflow.log_metrics(headline_metrics(metrics))
        _log_df(ev["walkforward"], "walkforward_predictions.csv", d)
        _log_df(ev["walkforward_metrics"], "walkforward_metrics.csv", d)
        _log_table(ev["walkforward"], "walkforward_predictions.json")
        _log_table(ev["walkforward_metrics"], "walkforward_metrics.json")
        if len(ev["rolling"]):
            _log_df(ev["rolling"], "rolling_origin_predictions.csv", d)
            _log_df(ev["rolling_metrics"], "rolling_origin_metrics.csv", d)
            ro = summary_metrics(ev["rolling_metrics"])
            mlflow.log_metrics(
                {
                    k.replace("walkforward", "rolling"): v
                    for k, v in ro.items()
                    if k in {"walkforward_rmse", "walkforward_coverage", "walkforward_spearman"}
                }
            )
        md = markdown_table(ev["walkforward_metrics"])
        (d / "walkforward_table.md").write_text(md)
        mlflow.log_artifact(str(d / "walkforward_table.md"))
        fig = d / "predicted_vs_actual.png"
        plot_predictions(ev["walkforward"], fig, f"Walk-forward, {p.exp.board}/{p.exp.category}")
        mlflow.log_artifact(str(fig))
        _note(_evaluate_note(p, ev, metrics))
    ev["metrics"] = metrics
    ev["residuals"] = ev["calibration"]  # one-step-ahead residuals + evidence
    return ev


# ---------------------------------------------------------------------------- train
def step_train(
    p: Prepared,
    params: dict[str, Any],
    ev: dict[str, Any],
    tables: dict[str, pd.DataFrame],
    register: bool = True,
) -> dict[str, Any]:
    """Fit the final model, log it as a pyfunc, register it and run the champion gate."""
    import mlflow
    from mlflow import MlflowClient
    from mlflow.models import infer_signature
    from mlflow.types.schema import ColSpec, Schema

    from divergence.predictor import OUTPUT_COLUMNS, Predictor, save_predictor_files

    name = model_name(p.exp)
    with (
        mlflow.start_run(run_name="train", nested=True) as run,
        tempfile.TemporaryDirectory() as td,
    ):
        _stage("train")
        _log_dataset(p, "training")
        final = train_final(p, params, ev["residuals"])
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
        mlflow.log_metrics({f"conformal_{k}": final["q"][k] for k in ("q80", "q90")})
        mlflow.log_metrics(headline_metrics(ev["metrics"]))
        ours = ev["walkforward"].query("method == 'ours'")[["model_id", "y", "pred"]]
        mlflow.log_dict(ours.to_dict(orient="list"), WALKFORWARD_ARTIFACT)
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
        result: dict[str, Any] = {
            "model_uri": info.model_uri,
            "run_id": run.info.run_id,
            "name": name,
            "card": card,
        }
        note = [
            f"**Trained** `{name}` on all {len(p.y)} rated models (released "
            f"{card['training_release_range'][0]} to {card['training_release_range'][1]}); "
            f"walk-forward RMSE {_ci(ev['metrics'], 'walkforward_rmse')}, conformal "
            f"half-widths ±{final['q'].get('q80', float('nan')):.1f} (80%) / "
            f"±{final['q'].get('q90', float('nan')):.1f} (90%).",
            "",
        ]
        if register:
            version = str(info.registered_model_version)
            gate = promote(
                MlflowClient(),
                name,
                version,
                ev["walkforward"],
                card,
                default_tracking_uri(),
                n_boot=p.exp.n_boot,
                seed=p.exp.seed,
            )
            verdict = "new @champion" if gate.promote else "NOT promoted"
            result.update(
                {
                    "version": version,
                    "champion": gate.promote,
                    "champion_reason": f"{verdict}: {gate.reason}",
                    "gate": gate,
                }
            )
            mlflow.set_tags(
                {
                    "champion_decision": gate.reason,
                    "registered_version": version,
                    "gate.decision": "promoted" if gate.promote else "not promoted",
                }
            )
            note += [f"Registered as version {version}.", "", gate.markdown()]
        _note("\n".join(note))
    return result


# ---------------------------------------------------------------------------- report
def _flatten(obj: Any, path: str = "") -> list[tuple[str, Any]]:
    """``(dotted path, scalar)`` pairs of a nested JSON-like object."""
    if isinstance(obj, dict):
        return [kv for k, v in obj.items() for kv in _flatten(v, f"{path}.{k}" if path else str(k))]
    if isinstance(obj, (list, tuple)):
        return [kv for i, v in enumerate(obj) for kv in _flatten(v, f"{path}.{i}")]
    return [(path, obj)]


def step_report(tables: dict[str, pd.DataFrame], out_dir: Path | None = None) -> dict[str, Any]:
    """Write the divergence report and log it to a nested ``report`` run.

    The report's files go under ``report/``; its numbers as one table
    ``report_findings.json`` (``finding``, ``value``), not as metrics.
    """
    import mlflow

    from divergence.reports import write_report

    out_dir = Path(out_dir) if out_dir else project_root() / "reports"
    with mlflow.start_run(run_name="report", nested=True) as report_run:
        _stage("report")
        res = write_report(tables, out_dir, log_to_mlflow=False)
        d = Path(res.get("dir", out_dir))
        mlflow.log_artifacts(str(d), artifact_path="report")
        findings = res.get("findings")
        if findings is None and (d / "findings.json").is_file():
            findings = json.loads((d / "findings.json").read_text())
        rows = [
            (k, float(v))
            for k, v in _flatten(findings or {})
            if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
        ]
        if rows:
            _log_table(pd.DataFrame(rows, columns=["finding", "value"]), "report_findings.json")
        head = (
            (d / "headline.md").read_text(encoding="utf-8") if (d / "headline.md").is_file() else ""
        )
        _note(
            f"**Divergence report** ({len(rows)} numbers in `report_findings.json`; HTML at "
            f"`report/report.html`).\n\n{head}"
        )
        res["run_id"] = report_run.info.run_id
    return res


# ---------------------------------------------------------------------------- the pipeline
def _top_note(exp: Experiment, steps: tuple[str, ...], out: dict[str, Any]) -> str:
    lines = [f"**{' → '.join(steps)}** for `{experiment_name(exp)}` ({exp.board}/{exp.category})."]
    m = out.get("metrics")
    if m:
        best = best_baseline(m)
        line = f"Walk-forward RMSE **{_ci(m, 'walkforward_rmse')}**, Spearman {_ci(m, 'walkforward_spearman')}"
        if best is not None:
            line += f"; best baseline {best[0]} RMSE {best[1]:.3g}"
        lines.append(line + ".")
    mod = out.get("model")
    if mod and "version" in mod:
        lines.append(f"Registered `{mod['name']}` v{mod['version']}: {mod['champion_reason']}.")
    if out.get("params") is not None and "tune" in steps:
        lines.append("Tuned parameters: `params.json`; Optuna figures on the `tune` run.")
    if "report" in out:
        lines.append("Report: nested `report` run.")
    return "\n\n".join(lines)


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
        Also write the divergence report (``main``), logged to a nested ``report`` run.

    Returns
    -------
    dict
        Params, metrics, and the registered model info.
    """

    snap = Path(snapshot_dir) if snapshot_dir else default_snapshot_dir()
    tables = load_snapshot(snap)
    launcher = setup(exp)
    p = prepare(exp, tables)
    p.extra["snapshot_sha256"] = snapshot_hash(snap)
    p.extra["snapshot_dir"] = snap
    log(
        f"{exp.name}: {len(p.y)} rated models, {p.X.shape[1]} features "
        f"({p.Xb.shape[1]} benchmarks-only), releases {p.release.min().date()} .. {p.release.max().date()}"
    )
    try:
        out = _run_steps(
            exp, steps, p, tables, snap, launcher, params_path, storage, workers, report
        )
    except BaseException as exc:
        if launcher:
            recovery.finish_launcher(
                launcher, "KILLED" if isinstance(exc, KeyboardInterrupt) else "FAILED"
            )
        raise
    if launcher:
        recovery.finish_launcher(launcher, "FINISHED")
    return out


def _run_steps(
    exp: Experiment,
    steps: tuple[str, ...],
    p: Prepared,
    tables: dict[str, pd.DataFrame],
    snap: Path,
    launcher: str | None,
    params_path: str | Path | None,
    storage: str | None,
    workers: int,
    report: bool,
) -> dict[str, Any]:
    """The body of :func:`run`: one top-level run with the nested step runs."""
    import mlflow

    out: dict[str, Any] = {}
    with mlflow.start_run(run_name=f"{exp.name}", nested=mlflow.active_run() is not None) as top:
        if launcher:
            from mlflow import MlflowClient

            client = MlflowClient()
            client.set_tag(
                launcher,
                NOTE_TAG,
                f"Launcher run of `mlflow run` (no `--experiment-name`): the pipeline's runs "
                f"are in experiment `{experiment_name(exp)}`, run `{top.info.run_id}`.",
            )
            for k, v in recovery.process_tags().items():  # a killed launcher is recoverable
                client.set_tag(launcher, k, v)
            mlflow.set_tag("divergence.launcher_run_id", launcher)
        mlflow.set_tags({**_tags(snap), STAGE_TAG: "pipeline"})
        recovery.tag_and_recover()  # runs of killed processes
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
        done = [s for s in steps if s == "tune"]
        if "evaluate" in steps or "train" in steps:
            ev = step_evaluate(p, params)
            mlflow.log_metrics(headline_metrics(ev["metrics"]))
            out["metrics"] = ev["metrics"]
            out["walkforward_metrics"] = ev["walkforward_metrics"]
            out["rolling_metrics"] = ev["rolling_metrics"]
            out["walkforward"] = ev["walkforward"]
            done.append("evaluate")
            if "train" in steps:
                out["model"] = step_train(p, params, ev, tables)
                done.append("train")
                if "champion" in out["model"]:
                    mlflow.set_tag("champion_decision", out["model"]["champion_reason"])
        if report:
            out["report"] = step_report(tables)
            done.append("report")
        _note(_top_note(exp, tuple(done), out))
        out["run_id"] = top.info.run_id
    return out
