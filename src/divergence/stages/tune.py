"""Stage ``tune`` (MLproject entry point ``tune``): Optuna inside the tuning window.

:func:`tune` is the computation (a :class:`TuneResult`); :func:`step` runs it inside a
nested ``tune`` run and logs it (trials as nested ``trial-NNN`` runs, figures under
``optuna/``, the result under ``stage/``); :func:`load` reads the result back from a
finished run, so ``evaluate`` or ``train`` can take its parameters (``--tune-run``).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np

from divergence.pipeline import Prepared, tuning_window
from divergence.stages.shell import (
    INPUTS_TAG,
    config_tag,
    inputs_key,
    load_result,
    log_dataset,
    note,
    rename_run,
    save_result,
    set_stage,
    snapshot_tag,
)
from divergence.tuning import best_params, log_study
from divergence.tuning import tune as run_study


@dataclass
class TuneResult:
    """What tuning found.

    Attributes
    ----------
    params : dict
        Best ``UtilityRegressor`` parameters (defaults filled in).
    study_name : str
        The Optuna study.
    n_trials : int
        Trials requested of this stage.
    n_complete : int
        Completed trials in the study.
    best_value, best_trial : float or None, int or None
        Best inner-CV RMSE and its trial number (None without a completed trial).
    window_models : int
        Models in the tuning window.
    window_end : str
        Release date of the window's newest model.
    study : optuna.Study or None
        The study itself (None when loaded from a run).
    """

    params: dict[str, Any]
    study_name: str
    n_trials: int
    n_complete: int
    best_value: float | None
    best_trial: int | None
    window_models: int
    window_end: str
    study: Any = field(default=None, repr=False, compare=False)

    def title(self, experiment: str) -> str:
        """Run name: what the run did and its headline result."""
        best = "" if self.best_value is None else f", best inner-CV RMSE {self.best_value:.1f}"
        return f"tune {experiment}: {self.n_complete} trials on {self.window_models} models{best}"


def study_name(p: Prepared, storage: str | None) -> str:
    """``<experiment>-seed<seed>``, plus snapshot and config tags with a shared storage."""
    name = f"{p.exp.name}-seed{p.exp.seed}"
    return name + (f"-{snapshot_tag(p)}-{config_tag(p.exp)}" if storage else "")


def tune(p: Prepared, n_trials: int, storage: str | None = None, workers: int = 1) -> TuneResult:
    """Tune ``p``'s model on the inner folds of its tuning window (no MLflow)."""
    import optuna

    win = tuning_window(p)
    study = run_study(
        p.X.iloc[win],
        p.y[win],
        p.release.iloc[win].reset_index(drop=True),
        n_trials=n_trials,
        seed=p.exp.seed,
        storage=storage,
        study_name=study_name(p, storage),
        workers=workers,
        n_folds=p.exp.inner_folds,
        n_recent=p.exp.tune_recent,
    )
    done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    best = min(done, key=lambda t: cast(float, t.value)) if done else None
    return TuneResult(
        params=best_params(study),
        study_name=study.study_name,
        n_trials=n_trials,
        n_complete=len(done),
        best_value=None if best is None else float(cast(float, best.value)),
        best_trial=None if best is None else int(best.number),
        window_models=len(win),
        window_end=str(p.release.iloc[win].max().date()),
        study=study,
    )


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


def _tune_note(p: Prepared, res: TuneResult, figs: dict[str, str]) -> str:
    lines = [
        f"**Tuned** `{p.exp.name}`: Optuna TPE (seed {p.exp.seed}), {res.n_complete} completed "
        f"trial(s) in study `{res.study_name}`, objective = RMSE of {p.exp.inner_folds} "
        f"release-ordered inner folds over the {res.window_models} models released up to "
        f"{res.window_end} (no walk-forward test model seen).",
        "",
    ]
    if res.best_value is not None:
        lines += [
            f"Best inner-CV RMSE **{res.best_value:.2f}** (trial {res.best_trial}).",
            "",
            "| param | best |",
            "|---|---|",
            *[
                f"| {k} | {v:.4g} |" if isinstance(v, float) else f"| {k} | {v} |"
                for k, v in res.params.items()
            ],
            "",
        ]
    lines += [f"- `{k}`: {v}" for k, v in figs.items()]
    return "\n".join(lines)


def log(p: Prepared, res: TuneResult) -> None:
    """Log a result on the active ``tune`` run: trials, best parameters, figures, note, name."""
    import mlflow

    if res.study is not None:
        log_study(res.study)
    mlflow.log_dict(res.params, "best_params.json")
    figs = log_tuning_figures(res.study, p.exp.seed) if res.study is not None else {}
    values = {k: v for k, v in vars(res).items() if k != "study"}
    save_result({}, values)
    note(_tune_note(p, res, figs))
    rename_run(res.title(p.exp.name))


def step(p: Prepared, n_trials: int, storage: str | None = None, workers: int = 1) -> TuneResult:
    """Tune inside the tuning window under a nested ``tune`` run (open while it works)."""
    import mlflow

    win = tuning_window(p)
    with mlflow.start_run(run_name="tune", nested=True):
        set_stage("tune")
        mlflow.set_tag(INPUTS_TAG, inputs_key(p, {"n_trials": n_trials}))
        log_dataset(p, "tuning")
        mlflow.log_params(
            {
                "n_trials": n_trials,
                "tuning_window_models": len(win),
                "tuning_window_end": str(p.release.iloc[win].max().date()),
                "inner_folds": p.exp.inner_folds,
                "workers": workers,
            }
        )
        res = tune(p, n_trials, storage=storage, workers=workers)
        log(p, res)
    return res


def load(run_id: str) -> TuneResult:
    """The :class:`TuneResult` of a finished ``tune`` run (without the study object)."""
    _, values = load_result(run_id, "tune")
    return TuneResult(**values)
