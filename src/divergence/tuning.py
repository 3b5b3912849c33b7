"""Hyper-parameter search with Optuna (TPE, seeded), evaluated inside the training window.

The objective is the RMSE of one-step-ahead (walk-forward) folds over the newest
models of the *training* window only (:func:`divergence.splits.recent_walk_forward_splits`:
the newest ``n_recent`` training models in ``n_folds`` release-ordered blocks, each
predicted from every model released before it), i.e. the same kind of split as the
walk-forward test; test models are never seen. The search space and the defaults are
:class:`divergence.model.UtilityParams`. A study is
logged to MLflow as one parent run with one nested child run per trial
(:func:`log_study`), written after the optimisation so that parallel workers
(``JournalFileBackend`` on one machine, PostgreSQL across machines) never write to the
tracking store concurrently.

Several processes, possibly on several machines, may share one study (same study name,
same storage). Each :func:`tune` call tags its trials with a random *session* id and
:func:`log_study` logs only that session's trials, so across all workers' MLflow runs
every trial appears exactly once. The sampler draws trial ``k``'s random numbers from
``seed`` and ``k`` (:class:`TrialSeededTPESampler`): one process is reproducible, and
concurrent workers, which get distinct trial numbers from the storage, never repeat
each other's start-up samples.
"""

from __future__ import annotations

import importlib.util
import inspect
import multiprocessing as mp
import time
import uuid
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import pandas as pd

from divergence.errors import DivergenceError
from divergence.model import UtilityParams, UtilityRegressor
from divergence.progress import Progress
from divergence.splits import inner_splits, recent_walk_forward_splits

__all__ = [
    "DEFAULT_PARAMS",
    "best_params",
    "cv_predict",
    "inner_splits",
    "log_study",
    "make_objective",
    "search_space",
    "tune",
]

DEFAULT_PARAMS: dict[str, Any] = UtilityParams().to_dict()
"""Untuned parameters (:class:`divergence.model.UtilityParams` defaults)."""

search_space = UtilityParams.search_space


def cv_predict(
    params: dict[str, Any],
    X: pd.DataFrame,
    y: np.ndarray,
    splits: list[tuple[np.ndarray, np.ndarray]],
    seed: int,
) -> np.ndarray:
    """Out-of-fold predictions (NaN for rows never tested)."""
    oof = np.full(len(y), np.nan)
    for tr, te in splits:
        m = UtilityRegressor(**params, random_state=seed, n_jobs=1).fit(X.iloc[tr], y[tr])
        oof[te] = m.predict(X.iloc[te])
    return oof


def make_objective(
    X: pd.DataFrame,
    y: np.ndarray,
    release: pd.Series,
    seed: int = 0,
    n_folds: int = 5,
    session: str | None = None,
    n_recent: int = 40,
):
    """Objective: one-step-ahead RMSE of a sampled parameter set on the training window.

    The folds are :func:`divergence.splits.recent_walk_forward_splits` (``n_recent``
    newest models, ``n_folds`` blocks). ``session`` is stored as the trial's ``session``
    user attribute (see :func:`log_study`).
    """
    splits = recent_walk_forward_splits(release, n_recent=n_recent, n_folds=n_folds)

    def objective(trial: optuna.trial.BaseTrial) -> float:
        if session is not None:
            trial.set_user_attr("session", session)
        params = UtilityParams.search_space(trial)
        oof = cv_predict(params, X, y, splits, seed)
        mask = ~np.isnan(oof)
        rmse = float(np.sqrt(np.mean((oof[mask] - y[mask]) ** 2)))
        trial.set_user_attr("n_oof", int(mask.sum()))
        return rmse

    return objective


RDB_SCHEMES = frozenset({"postgresql", "postgres", "mysql", "sqlite"})


def is_database_url(storage: str) -> bool:
    """Whether ``storage`` is a database URL such as ``postgresql://...`` (else a journal file path)."""
    scheme, sep, _ = storage.partition("://")
    return bool(sep) and scheme.split("+")[0].lower() in RDB_SCHEMES


def redact(url: str) -> str:
    """The URL with any password replaced by ``***`` (for logs and error messages)."""
    try:
        import sqlalchemy

        return sqlalchemy.engine.make_url(url).render_as_string(hide_password=True)
    except Exception:  # never fail while reporting
        return url.split("@")[-1]


def database_url(url: str) -> str:
    """``url`` with an explicit, installed PostgreSQL driver.

    SQLAlchemy 2.1 maps a bare ``postgresql://`` to psycopg 3, 2.0 to psycopg2; the
    ``postgres`` extra installs psycopg2, so a bare URL gets whichever driver is present.
    """
    scheme, sep, rest = url.partition("://")
    if sep and scheme.lower() in {"postgresql", "postgres"}:
        for module in ("psycopg2", "psycopg"):
            if importlib.util.find_spec(module) is not None:
                return f"postgresql+{module}://{rest}"
        return f"postgresql://{rest}"
    return url


def _rdb_storage(url: str, attempts: int = 6) -> optuna.storages.RDBStorage:
    """RDBStorage with heartbeats; retries the table-creation race of concurrent first workers."""
    import sqlalchemy.exc

    given, url = url, database_url(url)
    storages = optuna.storages
    params = inspect.signature(storages.RDBStorage).parameters
    key = (
        "heartbeat_stale_trial_callback"
        if "heartbeat_stale_trial_callback" in params
        else "failed_trial_callback"
    )
    retry_cls = (
        getattr(storages, "RetryHeartbeatStaleTrialCallback", None)
        or storages.RetryFailedTrialCallback
    )
    for attempt in range(attempts):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                callback: dict[str, Any] = {key: retry_cls(max_retry=1)}
                return optuna.storages.RDBStorage(
                    url,
                    engine_kwargs={"pool_pre_ping": True},
                    heartbeat_interval=30,
                    grace_period=120,
                    **callback,
                )
        except ImportError:
            raise DivergenceError(
                f"{redact(given)}: database driver not installed "
                "(pip install 'divergence[postgres]' for PostgreSQL)"
            ) from None
        except sqlalchemy.exc.DBAPIError as exc:
            # Workers starting together on an empty database race to create Optuna's tables
            # (integrity error or deadlock), and a database may still be starting: back off.
            if attempt < attempts - 1:
                time.sleep(0.2 * 2**attempt)
                continue
            lines = str(exc.orig if exc.orig is not None else exc).strip().splitlines()
            raise DivergenceError(
                f"{redact(given)}: cannot use Optuna storage: "
                f"{lines[0] if lines else type(exc).__name__}"
            ) from None
    raise AssertionError("unreachable")


def _storage(storage: str | None):
    if storage is None:
        return None
    if is_database_url(storage):
        return _rdb_storage(storage)
    from optuna.storages.journal import JournalFileBackend, JournalStorage

    return JournalStorage(JournalFileBackend(str(Path(storage))))


class TrialSeededTPESampler(optuna.samplers.TPESampler):
    """TPE whose random draws for trial ``k`` are seeded from ``(seed, k)``.

    Trial numbers are unique within a study (the storage assigns them), so workers sharing
    a study never repeat each other's random start-up trials, while one process alone is
    reproducible.
    """

    def __init__(self, seed: int, **kwargs: Any) -> None:
        super().__init__(seed=seed, **kwargs)
        self._base_seed = int(seed)

    def before_trial(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        """Re-seed the TPE and start-up random generators for this trial."""
        super().before_trial(study, trial)
        trial_seed = int(
            np.random.SeedSequence([self._base_seed, trial.number]).generate_state(1)[0]
        )
        rng = getattr(self, "_rng", None)
        rand = getattr(getattr(self, "_random_sampler", None), "_rng", None)
        if rng is None or rand is None:  # private layout changed: fall back to fresh randomness
            self.reseed_rng()
            return
        rng.rng.seed(trial_seed)
        rand.rng.seed((trial_seed + 1) % 2**32)


def make_sampler(seed: int, shared: bool = False) -> TrialSeededTPESampler:
    """The study's sampler; ``shared`` (a storage other workers may use) enables the constant liar."""
    return TrialSeededTPESampler(seed=seed, multivariate=True, constant_liar=shared)


def create_study(name: str, seed: int, storage: str | None = None) -> optuna.Study:
    """Create (or load) a minimising TPE study."""
    return optuna.create_study(
        study_name=name,
        direction="minimize",
        storage=_storage(storage),
        load_if_exists=True,
        sampler=make_sampler(seed, shared=storage is not None),
    )


def _worker(args: tuple) -> None:
    X, y, release, seed, n_folds, name, storage, n_trials, session, n_recent = args
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.load_study(
        study_name=name, storage=_storage(storage), sampler=make_sampler(seed, shared=True)
    )
    objective = make_objective(X, y, release, seed, n_folds, session=session, n_recent=n_recent)
    study.optimize(objective, n_trials=n_trials)


def _progress_note(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> str:
    if trial.value is None:
        return trial.state.name.lower()
    return f"rmse={trial.value:.2f} best={study.best_value:.2f}"


def tune(
    X: pd.DataFrame,
    y: np.ndarray,
    release: pd.Series,
    n_trials: int = 30,
    seed: int = 0,
    storage: str | None = None,
    study_name: str = "divergence",
    workers: int = 1,
    n_folds: int = 5,
    n_recent: int = 40,
) -> optuna.Study:
    """Run ``n_trials`` more trials of the study and return it.

    ``study.best_params`` are UtilityRegressor params (best over the whole study, which
    may hold trials of other workers or earlier runs when ``storage`` is shared). The
    returned study's ``divergence_session`` attribute identifies this call's trials.

    With ``workers > 1`` a storage path (journal file) or database URL is required; the
    trials are split among worker processes sharing the study. Other processes (other
    machines) may run ``tune`` on the same study and storage at the same time.
    Reproducible only with one process and a fresh (or no) storage.
    """
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    session = uuid.uuid4().hex[:12]
    study = create_study(study_name, seed, storage)
    study.divergence_session = session  # type: ignore[attr-defined]  # our tag on optuna's Study
    if n_trials <= 0:
        return study
    if storage is None and not study.trials:
        # one process: the untuned defaults are trial 0, so tuning can only improve on them
        # (not with a shared storage: concurrent workers would each enqueue them)
        study.enqueue_trial(DEFAULT_PARAMS)
    if workers > 1:
        if storage is None:
            raise ValueError("parallel workers need --storage (journal file path or database URL)")
        per = [n_trials // workers + (1 if i < n_trials % workers else 0) for i in range(workers)]
        ctx = mp.get_context("spawn")
        procs = [
            ctx.Process(
                target=_worker,
                args=((X, y, release, seed, n_folds, study_name, storage, k, session, n_recent),),
            )
            for k in per
            if k
        ]
        for p in procs:
            p.start()
        failed = []
        for p in procs:
            p.join()
            if p.exitcode != 0:
                failed.append(p.exitcode)
        if failed:
            raise RuntimeError(f"tuning worker(s) exited with code(s) {failed}")
        study = optuna.load_study(study_name=study_name, storage=_storage(storage))
        study.divergence_session = session  # type: ignore[attr-defined]  # our tag on optuna's Study
        return study
    bar = Progress("tune", n_trials)
    study.optimize(
        make_objective(X, y, release, seed, n_folds, session=session, n_recent=n_recent),
        n_trials=n_trials,
        callbacks=[lambda s, t: bar.step(_progress_note(s, t))],
    )
    return study


def best_params(study: optuna.Study) -> dict[str, Any]:
    """Best parameters, or the defaults when the study has no finished trial."""
    done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    if not done:
        return dict(DEFAULT_PARAMS)
    return {**DEFAULT_PARAMS, **{k: v for k, v in study.best_params.items() if k in DEFAULT_PARAMS}}


def log_study(study: optuna.Study, session: str | None = None) -> None:
    """Log trials as nested MLflow child runs of the active run, best params on the parent.

    Only the trials of ``session`` (default: the study's ``divergence_session`` set by
    :func:`tune`; all trials when unset) are logged, so workers sharing a study log each
    trial once. The best params/value are the whole study's.
    """
    import mlflow

    session = session or getattr(study, "divergence_session", None)
    trials = [t for t in study.trials if session is None or t.user_attrs.get("session") == session]
    mlflow.set_tag("optuna.study", study.study_name)
    if session is not None:
        mlflow.set_tag("optuna.session", session)
    for t in trials:
        with mlflow.start_run(run_name=f"trial-{t.number:03d}", nested=True):
            mlflow.log_params(t.params)
            mlflow.set_tag("optuna.trial_state", t.state.name)
            mlflow.set_tag("optuna.trial_number", str(t.number))
            mlflow.set_tag("optuna.study", study.study_name)
            if t.value is not None:
                mlflow.log_metric("inner_cv_rmse", t.value)
            if t.duration is not None:
                mlflow.log_metric("duration_s", t.duration.total_seconds())
    done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    if done:
        mlflow.log_params({f"best_{k}": v for k, v in study.best_params.items()})
        mlflow.log_metric("best_inner_cv_rmse", study.best_value)
    mlflow.log_metric("n_trials", len(trials))
    mlflow.log_metric("n_trials_study", len(study.trials))
