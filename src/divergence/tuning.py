"""Hyper-parameter search with Optuna (TPE, seeded), evaluated inside the training window.

The objective is the RMSE of expanding-window, release-ordered inner folds over the
*training* models only (:func:`inner_splits`); test models are never seen. A study is
logged to MLflow as one parent run with one nested child run per trial
(:func:`log_study`), written after the optimisation so that parallel workers
(``JournalFileBackend`` on one machine, PostgreSQL across machines) never write to the
tracking store concurrently.
"""

from __future__ import annotations

import multiprocessing as mp
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import pandas as pd

from divergence.model import UtilityRegressor
from divergence.progress import Progress

DEFAULT_PARAMS: dict[str, Any] = {
    "n_estimators": 300, "learning_rate": 0.05, "max_depth": 3, "min_child_weight": 3.0,
    "subsample": 0.8, "colsample_bytree": 0.8, "reg_lambda": 1.0, "reg_alpha": 0.001,
    "base": "factor", "base_alpha": 1.0, "monotone": True, "min_coverage": 0.1,
}


def search_space(trial: optuna.trial.BaseTrial) -> dict[str, Any]:
    """Sample one parameter set (the names are UtilityRegressor's)."""
    return {
        "n_estimators": trial.suggest_int("n_estimators", 50, 600, step=50),
        "learning_rate": trial.suggest_float("learning_rate", 0.01, 0.3, log=True),
        "max_depth": trial.suggest_int("max_depth", 2, 6),
        "min_child_weight": trial.suggest_float("min_child_weight", 1.0, 20.0, log=True),
        "subsample": trial.suggest_float("subsample", 0.5, 1.0),
        "colsample_bytree": trial.suggest_float("colsample_bytree", 0.3, 1.0),
        "reg_lambda": trial.suggest_float("reg_lambda", 1e-2, 30.0, log=True),
        "reg_alpha": trial.suggest_float("reg_alpha", 1e-3, 10.0, log=True),
        "base": trial.suggest_categorical("base", ["factor", "linear", "none"]),
        "base_alpha": trial.suggest_float("base_alpha", 1e-2, 100.0, log=True),
        "monotone": trial.suggest_categorical("monotone", [True, False]),
        "min_coverage": trial.suggest_float("min_coverage", 0.05, 0.5),
    }


def inner_splits(release: pd.Series, n_folds: int = 4, min_train: int = 40) -> list[tuple[np.ndarray, np.ndarray]]:
    """Expanding-window folds in release order over a training window.

    The last ``n_folds`` blocks of models (by release) are predicted in turn from all
    models released strictly before the block starts.
    """
    order = np.argsort(release.to_numpy(), kind="mergesort")
    dates = release.to_numpy()[order]
    n = len(order)
    if n < min_train + n_folds:
        raise ValueError(f"training window has {n} models; need at least {min_train + n_folds} to tune")
    edges = np.linspace(min_train, n, n_folds + 1).astype(int)
    out = []
    for a, b in zip(edges[:-1], edges[1:], strict=True):
        start = dates[a]
        train = order[dates < start]
        test = order[a:b]
        if len(train) >= 10 and len(test):
            out.append((train, test))
    return out


def cv_predict(params: dict[str, Any], X: pd.DataFrame, y: np.ndarray,
               splits: list[tuple[np.ndarray, np.ndarray]], seed: int) -> np.ndarray:
    """Out-of-fold predictions (NaN for rows never tested)."""
    oof = np.full(len(y), np.nan)
    for tr, te in splits:
        m = UtilityRegressor(**params, random_state=seed, n_jobs=1).fit(X.iloc[tr], y[tr])
        oof[te] = m.predict(X.iloc[te])
    return oof


def make_objective(X: pd.DataFrame, y: np.ndarray, release: pd.Series, seed: int = 0,
                   n_folds: int = 4):
    """Objective: inner-fold RMSE of a sampled parameter set on the training window."""
    splits = inner_splits(release, n_folds=n_folds)

    def objective(trial: optuna.trial.BaseTrial) -> float:
        params = search_space(trial)
        oof = cv_predict(params, X, y, splits, seed)
        mask = ~np.isnan(oof)
        rmse = float(np.sqrt(np.mean((oof[mask] - y[mask]) ** 2)))
        trial.set_user_attr("n_oof", int(mask.sum()))
        return rmse

    return objective


def _storage(storage: str | None):
    if storage is None:
        return None
    if storage.startswith(("postgresql", "mysql", "sqlite")):
        return optuna.storages.RDBStorage(storage, heartbeat_interval=30, grace_period=120,
                                          failed_trial_callback=optuna.storages.RetryFailedTrialCallback(max_retry=1))
    from optuna.storages.journal import JournalFileBackend, JournalStorage

    return JournalStorage(JournalFileBackend(str(Path(storage))))


def create_study(name: str, seed: int, storage: str | None = None) -> optuna.Study:
    """Create (or load) a minimising TPE study."""
    return optuna.create_study(
        study_name=name, direction="minimize", storage=_storage(storage), load_if_exists=True,
        sampler=optuna.samplers.TPESampler(seed=seed, multivariate=True),
    )


def _worker(args: tuple) -> None:
    X, y, release, seed, n_folds, name, storage, n_trials, wid = args
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.load_study(study_name=name, storage=_storage(storage),
                              sampler=optuna.samplers.TPESampler(seed=seed + wid, multivariate=True))
    study.optimize(make_objective(X, y, release, seed, n_folds), n_trials=n_trials)


def tune(X: pd.DataFrame, y: np.ndarray, release: pd.Series, n_trials: int = 30, seed: int = 0,
         storage: str | None = None, study_name: str = "divergence", workers: int = 1,
         n_folds: int = 4) -> optuna.Study:
    """Run the study and return it (``study.best_params`` are UtilityRegressor params).

    With ``workers > 1`` a storage path (journal file) or database URL is required; the
    trials are split among worker processes sharing the study. Reproducible only with
    ``workers == 1``.
    """
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = create_study(study_name, seed, storage)
    if n_trials <= 0:
        return study
    if workers > 1:
        if storage is None:
            raise ValueError("parallel workers need --storage (journal file path or database URL)")
        per = [n_trials // workers + (1 if i < n_trials % workers else 0) for i in range(workers)]
        ctx = mp.get_context("spawn")
        procs = [ctx.Process(target=_worker, args=((X, y, release, seed, n_folds, study_name, storage, k, i),))
                 for i, k in enumerate(per) if k]
        for p in procs:
            p.start()
        for p in procs:
            p.join()
            if p.exitcode != 0:
                raise RuntimeError(f"tuning worker exited with code {p.exitcode}")
        return optuna.load_study(study_name=study_name, storage=_storage(storage))
    bar = Progress("tune", n_trials)
    study.optimize(make_objective(X, y, release, seed, n_folds), n_trials=n_trials,
                   callbacks=[lambda s, t: bar.step(f"rmse={t.value:.2f} best={s.best_value:.2f}")])
    return study


def best_params(study: optuna.Study) -> dict[str, Any]:
    """Best parameters, or the defaults when the study has no finished trial."""
    done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    if not done:
        return dict(DEFAULT_PARAMS)
    return {**DEFAULT_PARAMS, **study.best_params}


def log_study(study: optuna.Study) -> None:
    """Log each trial as a nested MLflow child run of the active run, best params on the parent."""
    import mlflow

    for t in study.trials:
        with mlflow.start_run(run_name=f"trial-{t.number:03d}", nested=True):
            mlflow.log_params(t.params)
            mlflow.set_tag("optuna.trial_state", t.state.name)
            mlflow.set_tag("optuna.study", study.study_name)
            if t.value is not None:
                mlflow.log_metric("inner_cv_rmse", t.value)
            if t.duration is not None:
                mlflow.log_metric("duration_s", t.duration.total_seconds())
    done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    if done:
        mlflow.log_params({f"best_{k}": v for k, v in study.best_params.items()})
        mlflow.log_metric("best_inner_cv_rmse", study.best_value)
    mlflow.log_metric("n_trials", len(study.trials))
