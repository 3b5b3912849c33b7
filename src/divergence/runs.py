"""MLflow orchestration of the pipeline stages (what ``mlflow run`` entry points call).

The stages themselves (computation, logging, loading back) are in
:mod:`divergence.stages`; this module points MLflow at the store and the experiment and
chains the stages under one top-level run (:func:`run`).

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

Every run carries a Markdown description (``mlflow.note.content``) and, once its result
is known, a name saying what it did and its headline result (e.g. ``evaluate overall:
walk-forward 25 models, RMSE 25.3``); the tag ``divergence.stage`` says which stage it is.
``train`` without ``evaluate`` reads the residuals of a finished ``evaluate`` run of the
same inputs (or the one given by ``--evaluate-run``) instead of re-evaluating. An ``mlflow run`` launched without ``--experiment-name`` starts its
run in "Default"; the pipeline then runs in ``divergence/<name>`` and that launcher run
only points to it.
"""

from __future__ import annotations

import json
import os
import platform
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from divergence import recovery
from divergence.config import default_snapshot_dir, default_tracking_uri
from divergence.errors import ConfigError
from divergence.experiment import Experiment
from divergence.pipeline import Prepared, prepare
from divergence.progress import log
from divergence.registry import (
    EXPERIMENT_KIND,
    EXPERIMENT_KIND_TAG,
    NOTE_TAG,
    experiment_name,
    model_name,
    store_lock,
    sweep_temp_locks,
)
from divergence.snapshot import load_snapshot, snapshot_hash
from divergence.stages import evaluate as evaluate_stage
from divergence.stages import report as report_stage
from divergence.stages import train as train_stage
from divergence.stages import tune as tune_stage
from divergence.stages.evaluate import EvaluationResult
from divergence.stages.shell import (
    STAGE_TAG,
    best_baseline,
    ci,
    config_tag,
    finished_run,
    git_commit,
    headline_metrics,
    inputs_key,
    markdown_table,
    note,
    pip_requirements,
    rename_run,
    snapshot_tag,
)
from divergence.stages.tune import TuneResult
from divergence.tuning import DEFAULT_PARAMS

__all__ = [
    "config_tag",
    "experiment_name",
    "headline_metrics",
    "markdown_table",
    "model_name",
    "pip_requirements",
    "run",
    "snapshot_tag",
]


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
    sweep_temp_locks()  # lock files of earlier versions in the temp directory


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
    if not todo:
        return
    with store_lock(uri):  # SQLite: concurrent first runs would race on the same tag rows
        for k, v in todo.items():
            try:
                client.set_experiment_tag(experiment_id, k, v)
            except Exception:
                # PostgreSQL has no lock here: another worker may have inserted the same
                # tag row a moment ago (unique violation). That is fine once the tag is
                # there; anything else is a real error.
                if k not in client.get_experiment(experiment_id).tags:
                    raise


_SET_HERE: set[str] = set()
"""Experiment ids :func:`setup` activated in this process. ``mlflow.set_experiment`` also
exports ``MLFLOW_EXPERIMENT_ID``; without this, a sweep worker's second target would take
the first target's id for a caller's choice and log into that experiment."""


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
    if chosen in _SET_HERE:  # set_experiment exports the id: our own earlier choice
        chosen = None
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
    _SET_HERE.add(str(found.experiment_id))
    _mark_experiment(client, found.experiment_id, exp, uri)
    return launcher


def _tags(snapshot_dir: Path) -> dict[str, str]:
    import xgboost as xgb

    info = xgb.build_info()
    return {
        "git_commit": git_commit(),
        "snapshot_sha256": snapshot_hash(snapshot_dir),
        "xgboost_version": xgb.__version__,
        "xgboost_build": json.dumps(
            {k: info.get(k) for k in ["USE_OPENMP", "USE_CUDA", "GCC_VERSION"] if k in info}
        ),
        "python": platform.python_version(),
        "machine": f"{platform.machine()} {os.cpu_count()} cpus",
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS", ""),
    }


# ---------------------------------------------------------------------------- the pipeline
def _top_note(exp: Experiment, steps: tuple[str, ...], out: dict[str, Any]) -> str:
    lines = [f"**{' → '.join(steps)}** for `{experiment_name(exp)}` ({exp.board}/{exp.category})."]
    m = out.get("metrics")
    if m:
        best = best_baseline(m)
        line = f"Walk-forward RMSE **{ci(m, 'walkforward_rmse')}**, Spearman {ci(m, 'walkforward_spearman')}"
        if best is not None:
            line += f"; best baseline {best[0]} RMSE {best[1]:.3g}"
        lines.append(line + ".")
    if out.get("evaluate_run"):
        lines.append(f"Evaluation read from the finished `evaluate` run {out['evaluate_run']}.")
    mod = out.get("model")
    if mod is not None and mod.version is not None:
        lines.append(f"Registered `{mod.name}` v{mod.version}: {mod.champion_reason}.")
    if out.get("params") is not None and "tune" in steps:
        lines.append("Tuned parameters: `params.json`; Optuna figures on the `tune` run.")
    if "report" in out:
        lines.append("Report: nested `report` run.")
    return "\n\n".join(lines)


def _top_title(exp: Experiment, steps: tuple[str, ...], out: dict[str, Any]) -> str:
    """Name of the top-level run: the stages it ran and the headline result."""
    title = f"{exp.name}: {' → '.join(steps) or 'nothing'}"
    tuned = out.get("tune")
    if "tune" in steps and tuned is not None and tuned.best_value is not None:
        title += f", inner-CV RMSE {tuned.best_value:.1f}"
    m = out.get("metrics") or {}
    if "walkforward_rmse" in m:
        title += f", RMSE {m['walkforward_rmse']:.1f}"
    mod = out.get("model")
    if mod is not None and mod.version is not None:
        title += f", v{mod.version} " + ("@champion" if mod.champion else "not promoted")
    return title


def run(
    exp: Experiment,
    steps: tuple[str, ...] = ("tune", "evaluate", "train"),
    snapshot_dir: str | Path | None = None,
    params_path: str | Path | None = None,
    storage: str | None = None,
    workers: int = 1,
    report: bool = False,
    tune_run: str | None = None,
    evaluate_run: str | None = None,
) -> dict[str, Any]:
    """Run pipeline stages under one top-level MLflow run.

    Parameters
    ----------
    exp : Experiment
        The experiment config.
    steps : tuple of str
        Subset of ``tune``, ``evaluate``, ``train``. ``train`` without ``evaluate`` reads
        a finished ``evaluate`` run: ``evaluate_run``, else the newest one of the same
        inputs (config, parameters, snapshot, code) in the experiment, else it
        evaluates first.
    snapshot_dir : path, optional
        Snapshot to read (default: ``data/snapshot``).
    params_path : path, optional
        JSON of model parameters when not tuning (default: untuned defaults).
    storage, workers
        Optuna storage and worker processes for ``tune``.
    report : bool
        Also write the divergence report (``main``), logged to a nested ``report`` run.
    tune_run : str, optional
        Take the parameters of this finished ``tune`` run (instead of ``params_path``).
    evaluate_run : str, optional
        Train on the evaluation of this finished ``evaluate`` run (its parameters too).

    Returns
    -------
    dict
        ``params``, ``metrics``, ``walkforward_metrics``, ``rolling_metrics``,
        ``walkforward``, ``evaluation`` (:class:`EvaluationResult`), ``model``
        (:class:`~divergence.stages.train.TrainResult`), ``report``, ``run_id``.
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
    sources = _Sources(params_path, tune_run, evaluate_run, storage, workers, report)
    try:
        out = _run_steps(p, steps, tables, launcher, sources)
    except BaseException as exc:
        if launcher:
            recovery.finish_launcher(
                launcher, "KILLED" if isinstance(exc, KeyboardInterrupt) else "FAILED"
            )
        raise
    if launcher:
        recovery.finish_launcher(launcher, "FINISHED")
    return out


def _params(
    p: Prepared,
    steps: tuple[str, ...],
    params_path: str | Path | None,
    storage: str | None,
    workers: int,
    tune_run: str | None,
) -> tuple[dict[str, Any], TuneResult | None]:
    """The model parameters: tuned now, from a ``tune`` run, from a file, or the defaults;
    and the tuning result they came from (None for a file or the defaults)."""
    if "tune" in steps:
        res = tune_stage.step(p, p.exp.n_trials, storage=storage, workers=workers)
        return res.params, res
    if tune_run:
        res = tune_stage.load(tune_run)
        return res.params, res
    if params_path:
        return {**DEFAULT_PARAMS, **json.loads(Path(params_path).read_text())}, None
    return dict(DEFAULT_PARAMS), None


def _evaluation(
    p: Prepared, params: dict[str, Any], steps: tuple[str, ...]
) -> tuple[EvaluationResult, str | None]:
    """Evaluate now, or (``train`` alone) read the newest finished ``evaluate`` run of the
    same inputs; returns the evaluation and the id of the run it was read from (or None)."""
    if "evaluate" not in steps:
        rid = finished_run(p, "evaluate", inputs_key(p, params))
        if rid:
            log(f"{p.exp.name}: reading the evaluation of finished run {rid}")
            return evaluate_stage.load(rid), rid
    return evaluate_stage.step(p, params), None


@dataclass(frozen=True)
class _Sources:
    """Where :func:`run` takes parameters and evaluation from, and what else it does."""

    params_path: str | Path | None
    tune_run: str | None
    evaluate_run: str | None
    storage: str | None
    workers: int
    report: bool


def _run_steps(
    p: Prepared,
    steps: tuple[str, ...],
    tables: dict[str, pd.DataFrame],
    launcher: str | None,
    sources: _Sources,
) -> dict[str, Any]:
    """The body of :func:`run`: one top-level run with the nested stage runs."""
    import mlflow

    exp = p.exp
    params_path, tune_run, evaluate_run = (
        sources.params_path,
        sources.tune_run,
        sources.evaluate_run,
    )
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
        mlflow.set_tags({**_tags(p.extra["snapshot_dir"]), STAGE_TAG: "pipeline"})
        recovery.tag_and_recover()  # runs of killed processes
        mlflow.log_params({f"exp_{k}": v for k, v in exp.to_dict().items()})
        mlflow.log_params(
            {"n_rated_models": len(p.y), "n_features": p.X.shape[1], "steps": ",".join(steps)}
        )
        given = None
        if evaluate_run and "evaluate" not in steps and "train" in steps:
            if params_path or tune_run or "tune" in steps:
                raise ConfigError(
                    "--evaluate-run: the evaluation fixes the parameters; "
                    "give no --params, --tune-run or tuning with it"
                )
            given = evaluate_stage.load(evaluate_run)
            params = dict(given.params)
        else:
            params, out["tune"] = _params(
                p, steps, params_path, sources.storage, sources.workers, tune_run
            )
            if tune_run:
                mlflow.set_tag("divergence.tune_run_id", tune_run)
        out["params"] = params
        mlflow.log_dict(params, "params.json")
        done = [s for s in steps if s == "tune"]
        if "evaluate" in steps or "train" in steps:
            ev, read_from = (given, evaluate_run) if given else _evaluation(p, params, steps)
            mlflow.log_metrics(headline_metrics(ev.metrics))
            out.update(
                evaluation=ev,
                metrics=ev.metrics,
                walkforward_metrics=ev.walkforward_metrics,
                rolling_metrics=ev.rolling_metrics,
                walkforward=ev.predictions,
            )
            if read_from:
                out["evaluate_run"] = read_from
                p.extra["evaluate_run"] = read_from
                mlflow.set_tag("divergence.evaluate_run_id", read_from)
            else:
                done.append("evaluate")
            if "train" in steps:
                out["model"] = train_stage.step(p, params, ev, tables)
                done.append("train")
                if out["model"].version is not None:
                    mlflow.set_tag("champion_decision", out["model"].champion_reason)
        if sources.report:
            out["report"] = report_stage.step(tables)
            done.append("report")
        note(_top_note(exp, tuple(done), out))
        rename_run(_top_title(exp, tuple(done), out))
        out["run_id"] = top.info.run_id
    return out
