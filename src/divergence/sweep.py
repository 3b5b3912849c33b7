"""Train every target (overall, categories, occupational boards) in one call: ``divergence sweep``.

Steps:

1. *Targets*: every ``experiments/*.yaml`` (one per board/category; the first config of a
   board/category wins), overall first. A target with fewer than :func:`min_rated_models`
   rated models is not trained and is reported as ``insufficient_ratings``.
2. *Features once*: the feature frames do not depend on the target, so they are built once
   for all targets (:func:`shared_features`), not once per target.
3. *Tuning*: ``shared`` (default) tunes once on the overall target (its tuning window only)
   and reuses the parameters for every target; ``per-target`` tunes each target on its own
   window. With a ``storage`` (journal file or database URL) a study is topped up to
   ``n_trials`` finished trials, so a re-run (or a second machine) resumes instead of
   repeating trials.
4. *Evaluate, train, register* each target as ``divergence run`` does (its own MLflow
   experiment ``divergence-<name>``, registered ``divergence-utility-<category>``, champion
   policy unchanged), in a pool of ``workers`` processes. ``shard=(k, n)`` keeps every
   ``n``-th target starting at the ``k``-th, so several machines sharing one tracking server
   and one Optuna database split the targets between them.
5. *Collect*: one walk-forward table across targets (ours vs the best baseline per target,
   paired-bootstrap difference), logged to the ``divergence-sweep`` MLflow run; and the
   domain manifest (which registered version serves each domain, or why none does),
   registered as ``divergence-utility-domains`` (see :mod:`divergence.domains`).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
import traceback
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from divergence.config import default_snapshot_dir, project_root
from divergence.errors import ConfigError
from divergence.experiment import Experiment, load_experiment
from divergence.progress import log

DOMAINS_MODEL = "divergence-utility-domains"
TUNING_MODES = ("shared", "per-target")


def min_rated_models(exp: Experiment) -> int:
    """Fewest rated models a target needs: ``min_train + n_test + inner_folds``.

    Below this the protocol cannot run honestly: the tuning window (models released before
    the ``n_test`` walk-forward models) must hold ``min_train`` models plus one per inner
    fold, so with fewer there is neither a tuned model nor an out-of-time test showing it
    beats a baseline. With the default configs: 40 + 25 + 4 = 69.
    """
    return int(exp.min_train + exp.n_test + exp.inner_folds)


def is_overall(exp: Experiment) -> bool:
    """Whether ``exp`` targets the overall style-controlled rating."""
    return exp.category == "full" and exp.board == "style"


def discover_targets(directory: str | Path | None = None, **overrides: Any) -> list[Experiment]:
    """Every experiment config in ``directory`` (default ``experiments/``), overall first.

    Configs naming the same (board, category) as an earlier file (sorted by name) are
    dropped; ``overrides`` (``n_trials``, ``seed``) are applied to each.
    """
    d = Path(directory) if directory else project_root() / "experiments"
    files = sorted(d.glob("*.yaml"))
    if not files:
        raise ConfigError(f"{d}: no experiment configs (*.yaml)")
    out: list[Experiment] = []
    seen: dict[tuple[str, str], str] = {}
    names: set[str] = set()
    for f in files:
        exp = load_experiment(f, **overrides)
        key = (exp.board, exp.category)
        if key in seen:
            log(f"sweep: {f.name} skipped: same target as {seen[key]}")
            continue
        if exp.name in names:
            raise ConfigError(f"{f}: experiment name {exp.name!r} used by another config")
        seen[key] = f.name
        names.add(exp.name)
        out.append(exp)
    out.sort(key=lambda e: (not is_overall(e), e.name))
    return out


@contextlib.contextmanager
def shared_features():
    """Memoise :func:`divergence.features.model_frame` inside :func:`pipeline.prepare`.

    ``prepare`` builds the same two feature frames for every target; building them once
    saves most of a sweep's preparation time and leaves ``prepare`` itself unchanged.
    """
    import divergence.pipeline as pipeline

    original = pipeline.model_frame
    cache: dict[tuple[int, str, str], pd.DataFrame] = {}

    def cached(tables, spec, model_ids=None, as_of=None):
        if model_ids is not None:
            return original(tables, spec, model_ids, as_of=as_of)
        key = (id(tables), repr(spec), repr(as_of))
        if key not in cache:
            cache[key] = original(tables, spec, as_of=as_of)
        return cache[key]

    pipeline.model_frame = cached
    try:
        yield
    finally:
        pipeline.model_frame = original


_ENTITY: dict[str, pd.DataFrame] = {}
_ENTITY_ORIGINAL: list[Any] = []


def _entity_columns_once(aliases: pd.DataFrame) -> pd.DataFrame:
    """:func:`divergence.query.entity_columns`, computed once per distinct alias table."""
    import hashlib

    h = hashlib.blake2b(digest_size=16)
    h.update(repr(list(aliases.columns)).encode())
    h.update(pd.util.hash_pandas_object(aliases, index=True).to_numpy().tobytes())
    key = h.hexdigest()
    if key not in _ENTITY:
        if len(_ENTITY) >= 2:
            _ENTITY.clear()
        _ENTITY[key] = _ENTITY_ORIGINAL[0](aliases)
    return _ENTITY[key].copy()


@contextlib.contextmanager
def shared_aliases():
    """Parse the alias table once for all targets (every predictor saves the same one).

    While the context is active :func:`divergence.query.entity_columns` is memoised on the
    table's content (the memo outlives the context within a worker process); the saved
    ``aliases.csv.gz`` is unchanged.
    """
    import divergence.query as query

    if _ENTITY_ORIGINAL:  # already active (nested)
        yield
        return
    _ENTITY_ORIGINAL.append(query.entity_columns)
    query.entity_columns = _entity_columns_once
    try:
        yield
    finally:
        query.entity_columns = _ENTITY_ORIGINAL.pop()


def parse_shard(text: str | None) -> tuple[int, int]:
    """``"K/N"`` (1-based) → (K, N); None → (1, 1)."""
    if not text:
        return 1, 1
    try:
        k, n = (int(x) for x in str(text).split("/"))
    except ValueError:
        raise ConfigError(f"--shard {text!r}: expected K/N, e.g. 1/3") from None
    if not 1 <= k <= n:
        raise ConfigError(f"--shard {text!r}: need 1 <= K <= N")
    return k, n


# ---- tuning ----------------------------------------------------------------------------
def _study_name(p) -> str:
    from divergence.runs import config_tag, snapshot_tag

    return f"{p.exp.name}-seed{p.exp.seed}-{snapshot_tag(p)}-{config_tag(p.exp)}"


def tune_target(p, n_trials: int, storage: str | None = None, workers: int = 1) -> dict[str, Any]:
    """Tune ``p``'s target inside its tuning window (a nested MLflow ``tune`` run).

    With ``storage`` the study is topped up: only the trials missing to reach ``n_trials``
    finished ones are run. ``workers > 1`` without a storage uses a temporary journal file.
    """
    import optuna

    from divergence.stages import tune as tune_stage
    from divergence.tuning import create_study

    with tempfile.TemporaryDirectory(prefix="divergence-sweep-") as td:
        if storage is None and workers > 1:
            storage = str(Path(td) / "optuna.journal")
        elif storage is not None:
            study = create_study(_study_name(p), p.exp.seed, storage)
            done = sum(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials)
            if done:
                log(f"sweep: {p.exp.name}: study has {done} finished trials")
            n_trials = max(0, n_trials - done)
        return tune_stage.step(p, n_trials, storage=storage, workers=workers).params


# ---- one target (runs in a pool worker) -------------------------------------------------
_STATE: dict[str, Any] = {}


def _init_worker(tables: dict[str, pd.DataFrame], snapshot_dir: str) -> None:
    # A worker must never resume the parent's run (``mlflow run`` sets these).
    for k in ("MLFLOW_RUN_ID", "MLFLOW_EXPERIMENT_ID", "MLFLOW_EXPERIMENT_NAME"):
        os.environ.pop(k, None)
    os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")
    _STATE["tables"] = tables
    _STATE["snapshot_dir"] = snapshot_dir


def train_target(
    p,
    params: dict[str, Any] | None,
    n_trials: int,
    storage: str | None,
    sweep_run_id: str | None,
    register: bool = True,
) -> dict[str, Any]:
    """Tune (if ``params`` is None), evaluate, train and register one target.

    Logs one top-level run in experiment ``divergence-<name>`` tagged with the sweep run.
    """
    import mlflow

    from divergence import runs
    from divergence.stages import evaluate as evaluate_stage
    from divergence.stages import train as train_stage

    tables, snap = _STATE["tables"], Path(_STATE["snapshot_dir"])
    t0 = time.perf_counter()
    exp = p.exp
    runs.setup(exp)
    # In-process (one worker) the sweep run is active: the target run nests under it.
    with mlflow.start_run(run_name=exp.name, nested=mlflow.active_run() is not None) as top:
        tags = runs._tags(snap)
        if sweep_run_id:
            tags["divergence.sweep_run_id"] = sweep_run_id
        mlflow.set_tags(tags)
        mlflow.log_params({f"exp_{k}": v for k, v in exp.to_dict().items()})
        mlflow.log_params(
            {
                "n_rated_models": len(p.y),
                "n_features": p.X.shape[1],
                "tuning": "per-target" if params is None else "shared",
            }
        )
        if params is None:
            params = tune_target(p, n_trials, storage=storage, workers=1)
        mlflow.log_dict(params, "params.json")
        ev = evaluate_stage.step(p, params)
        mlflow.log_metrics(ev.metrics)
        model = train_stage.step(p, params, ev, tables, register=register)
        run_id = top.info.run_id
    return {
        "name": exp.name,
        "status": "trained",
        "run_id": run_id,
        "params": params,
        "metrics": ev.metrics,
        "walkforward_metrics": ev.walkforward_metrics,
        "registered_model": model.name,
        "version": model.version,
        "champion": model.champion,
        "champion_reason": model.champion_reason or None,
        "seconds": time.perf_counter() - t0,
    }


def _job(args: tuple) -> dict[str, Any]:
    p = args[0]
    try:
        with shared_aliases():
            return train_target(*args)
    except Exception as exc:  # one failing target must not lose the others
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        return {
            "name": p.exp.name,
            "status": "failed",
            "error": f"{type(exc).__name__}: {msg}",
            "traceback": traceback.format_exc(),
        }


# ---- the cross-target table -------------------------------------------------------------
def domain_table(results: list[dict[str, Any]]) -> pd.DataFrame:
    """One row per target: ours vs the best baseline on the walk-forward RMSE.

    Columns: domain, category, n_rated, status, ours_rmse (+ ``_lo``/``_hi``), best_baseline,
    baseline_rmse, diff_rmse (+ ``_lo``/``_hi``: paired bootstrap ours − best baseline),
    ours_spearman (+ CI), coverage_90, champion, version.
    """
    rows = []
    for r in results:
        row: dict[str, Any] = {
            "domain": r["name"],
            "category": r.get("category"),
            "n_rated": r.get("n_rated"),
            "status": r["status"],
        }
        m = r.get("walkforward_metrics")
        if m is not None and len(m):
            m = m.set_index(["method", "metric"])

            def get(method: str, metric: str, m=m) -> tuple[float, float, float]:
                if (method, metric) not in m.index:
                    return (np.nan, np.nan, np.nan)
                v = m.loc[(method, metric)]
                return float(v["value"]), float(v["ci_lo"]), float(v["ci_hi"])

            ours = get("ours", "rmse")
            bases = {
                meth: get(meth, "rmse")[0]
                for meth in m.index.get_level_values(0).unique()
                if str(meth).startswith("baseline_")
            }
            best = min(bases, key=lambda k: bases[k]) if bases else None
            diff = get(best, "ours_minus_this_rmse") if best else (np.nan,) * 3
            sp = get("ours", "spearman")
            row.update(
                {
                    "ours_rmse": ours[0],
                    "ours_rmse_lo": ours[1],
                    "ours_rmse_hi": ours[2],
                    "best_baseline": best.removeprefix("baseline_") if best else None,
                    "baseline_rmse": bases.get(best, np.nan) if best else np.nan,
                    "diff_rmse": diff[0],
                    "diff_rmse_lo": diff[1],
                    "diff_rmse_hi": diff[2],
                    "ours_spearman": sp[0],
                    "ours_spearman_lo": sp[1],
                    "ours_spearman_hi": sp[2],
                    "coverage_90": get("ours", "coverage")[0],
                }
            )
        row["champion"] = r.get("champion")
        row["version"] = r.get("version")  # the registered version this sweep trained
        rows.append(row)
    return pd.DataFrame(rows)


def table_markdown(t: pd.DataFrame) -> str:
    """The cross-target walk-forward table as Markdown (RMSE in rating points)."""

    def ci(v, lo, hi, fmt="{:.1f}") -> str:
        if pd.isna(v):
            return "–"
        return f"{fmt.format(v)} [{fmt.format(lo)}, {fmt.format(hi)}]"

    lines = [
        "| target | rated models | ours RMSE | best baseline | baseline RMSE "
        "| ours − best baseline | ours Spearman | champion |",
        "|---|---|---|---|---|---|---|---|",
    ]
    r: Any  # itertuples rows: pandas-stubs types their fields as the Scalar union
    for r in t.itertuples(index=False):
        if r.status != "trained":
            lines.append(f"| {r.domain} | {r.n_rated} | {r.status} | – | – | – | – | – |")
            continue
        sig = " *" if float(r.diff_rmse_hi) < 0 else ""
        lines.append(
            f"| {r.domain} | {r.n_rated} | {ci(r.ours_rmse, r.ours_rmse_lo, r.ours_rmse_hi)} "
            f"| {r.best_baseline} | {r.baseline_rmse:.1f} "
            f"| {ci(r.diff_rmse, r.diff_rmse_lo, r.diff_rmse_hi)}{sig} "
            f"| {ci(r.ours_spearman, r.ours_spearman_lo, r.ours_spearman_hi, '{:.2f}')} "
            f"| {'yes' if r.champion else 'no'} |"
        )
    return "\n".join(lines) + "\n"


# ---- the sweep ----------------------------------------------------------------------
def sweep(
    targets: list[Experiment] | None = None,
    *,
    experiments_dir: str | Path | None = None,
    n_trials: int | None = None,
    seed: int | None = None,
    tuning: str = "shared",
    workers: int = 1,
    storage: str | None = None,
    snapshot_dir: str | Path | None = None,
    shard: tuple[int, int] = (1, 1),
    register: bool = True,
    out_dir: str | Path | None = None,
    collect: bool = False,
) -> dict[str, Any]:
    """Train every target; see the module docstring.

    Parameters
    ----------
    targets : list of Experiment, optional
        Default: :func:`discover_targets` of ``experiments_dir``.
    n_trials, seed : int, optional
        Override every config's value.
    tuning : {"shared", "per-target"}
        Tune once on the overall target and reuse, or tune each target.
    workers : int
        Processes (targets trained in parallel; shared tuning uses them too).
    storage : str, optional
        Optuna storage (journal file path or database URL) for the studies.
    snapshot_dir : path, optional
        Default ``data/snapshot``.
    shard : (int, int)
        ``(k, n)``: train only targets ``k-1, k-1+n, ...`` of the list (several machines).
    register : bool
        Register each model and the domain manifest.
    out_dir : path, optional
        Where to write ``domains_walkforward.csv``/``.md`` (default ``reports/domains``).
    collect : bool
        Train nothing: register the domain manifest from the registry's current champions
        (after every shard of a multi-machine sweep is done).

    Returns
    -------
    dict
        ``results`` (per target), ``table`` (DataFrame), ``manifest``, ``seconds``,
        ``sweep_run_id``.
    """
    import mlflow

    from divergence import runs
    from divergence.pipeline import prepare
    from divergence.snapshot import load_snapshot, snapshot_hash

    if tuning not in TUNING_MODES:
        raise ConfigError(f"tuning {tuning!r}: expected one of {', '.join(TUNING_MODES)}")
    if workers < 1:
        raise ConfigError(f"workers {workers}: must be >= 1")
    t_start = time.perf_counter()
    overrides: dict[str, Any] = {"n_trials": n_trials, "seed": seed}
    if targets is None:
        targets = discover_targets(experiments_dir, **overrides)
    else:
        from dataclasses import replace

        targets = [
            replace(e, **{k: v for k, v in overrides.items() if v is not None}) for e in targets
        ]
    k, n = (1, 1) if collect else shard
    mine = targets[k - 1 :: n]
    snap = Path(snapshot_dir) if snapshot_dir else default_snapshot_dir()
    tables = load_snapshot(snap)
    sha = snapshot_hash(snap)
    preps: dict[str, Any] = {}
    results: dict[str, dict[str, Any]] = {}
    t0 = time.perf_counter()
    with shared_features():
        for exp in mine:
            p = prepare(exp, tables)
            p.extra["snapshot_sha256"] = sha
            need = min_rated_models(exp)
            base = {"name": exp.name, "category": exp.category, "n_rated": len(p.y)}
            if len(p.y) < need:
                results[exp.name] = {
                    **base,
                    "status": "insufficient_ratings",
                    "min_rated": need,
                }
                log(f"sweep: {exp.name}: {len(p.y)} rated models < {need}: not trained")
                continue
            results[exp.name] = {**base, "status": "pending", "min_rated": need}
            preps[exp.name] = p
    prepare_s = time.perf_counter() - t0
    log(f"sweep: {len(mine)} targets prepared in {prepare_s:.1f} s ({len(preps)} to train)")

    runs.setup(Experiment(name="sweep"))
    with mlflow.start_run(run_name="sweep", nested=mlflow.active_run() is not None) as top:
        sweep_id = top.info.run_id
        mlflow.set_tags(runs._tags(snap))
        mlflow.log_params(
            {
                "tuning": tuning,
                "workers": workers,
                "n_targets": len(mine),
                "shard": f"{k}/{n}",
                "n_trials": mine[0].n_trials if mine else 0,
                "storage": "none" if storage is None else _redact(storage),
            }
        )
        shared_params: dict[str, Any] | None = None
        tune_s = 0.0
        if collect:
            for r in results.values():
                if r["status"] == "pending":
                    r["status"] = "registry"
            preps = {}
        if tuning == "shared" and preps:
            ref = next(
                (e for e in targets if is_overall(e)), next(e for e in targets if e.name in preps)
            )
            t0 = time.perf_counter()
            p_ref = preps.get(ref.name)
            if p_ref is None:  # the reference target belongs to another shard
                with shared_features():
                    p_ref = prepare(ref, tables)
                p_ref.extra["snapshot_sha256"] = sha
            shared_params = tune_target(p_ref, ref.n_trials, storage=storage, workers=workers)
            tune_s = time.perf_counter() - t0
            mlflow.log_dict(shared_params, "shared_params.json")
            mlflow.set_tag("shared_params_from", ref.name)
            log(f"sweep: shared parameters tuned on {ref.name} in {tune_s:.1f} s")
        t0 = time.perf_counter()
        jobs = [
            (p, shared_params, p.exp.n_trials, storage, sweep_id, register) for p in preps.values()
        ]
        done = _run_jobs(jobs, tables, snap, workers)
        for r in done:
            results[r["name"]].update(r)
            if r["status"] == "failed":
                log(f"sweep: {r['name']} FAILED: {r['error']}")
        train_s = time.perf_counter() - t0
        ordered = [results[e.name] for e in mine]
        table = domain_table(ordered)
        total = time.perf_counter() - t_start
        mlflow.log_metrics(
            {
                "sweep_s": total,
                "prepare_s": prepare_s,
                "shared_tune_s": tune_s,
                "train_s": train_s,
                "n_trained": sum(r["status"] == "trained" for r in ordered),
                "n_failed": sum(r["status"] == "failed" for r in ordered),
            }
        )
        row: Any  # itertuples rows: pandas-stubs types their fields as the Scalar union
        for row in table.itertuples(index=False):
            if row.status == "trained":
                mlflow.log_metrics(
                    {
                        f"{row.domain}_walkforward_rmse": float(row.ours_rmse),
                        f"{row.domain}_minus_best_baseline_rmse": float(row.diff_rmse),
                    }
                )
        md = table_markdown(table)
        out = Path(out_dir) if out_dir else project_root() / "reports" / "domains"
        _write_table(table, md, out)
        mlflow.log_artifact(str(out / "domains_walkforward.csv"))
        mlflow.log_artifact(str(out / "domains_walkforward.md"))
        manifest = None
        if register and ((k, n) == (1, 1) or collect):
            from divergence.domains import SERVED, build_manifest, register_manifest

            manifest = build_manifest(targets, results, sha)
            manifest["domains_model"] = register_manifest(manifest)
            if any(d["status"] in SERVED for d in manifest["domains"]):
                try:
                    _domain_report(manifest, tables, out)
                except Exception as exc:  # the models are registered: report, do not fail
                    log(f"sweep: domain profile not written: {type(exc).__name__}: {exc}")
        elif register:
            log(
                "sweep: shard run: domain manifest not registered (run `divergence sweep "
                "--collect` once every shard is done)"
            )
    return {
        "results": ordered,
        "table": table,
        "markdown": md,
        "manifest": manifest,
        "seconds": total,
        "prepare_s": prepare_s,
        "shared_tune_s": tune_s,
        "train_s": train_s,
        "sweep_run_id": sweep_id,
    }


def _domain_report(manifest: dict[str, Any], tables: dict[str, pd.DataFrame], out: Path) -> None:
    """Domain profile and frontier gap (:mod:`divergence.domain_report`), logged to the run."""
    import mlflow

    from divergence.domain_report import write_domain_report
    from divergence.domains import from_manifest

    rep = write_domain_report(from_manifest(manifest, mlflow.get_tracking_uri()), tables, out)
    for path in rep["paths"].values():
        mlflow.log_artifact(str(path), artifact_path="domains")
    log(f"sweep: domain profile written to {out}")


def _redact(storage: str) -> str:
    from divergence.tuning import is_database_url, redact

    return redact(storage) if is_database_url(storage) else storage


def _write_table(table: pd.DataFrame, md: str, out: Path) -> None:
    from divergence.atomic import atomic_file

    out.mkdir(parents=True, exist_ok=True)
    with atomic_file(out / "domains_walkforward.csv", "w") as fh:
        table.to_csv(fh, index=False, float_format="%.4f")
    with atomic_file(out / "domains_walkforward.md", "w") as fh:
        fh.write(md)


def _run_jobs(
    jobs: list[tuple], tables: dict[str, pd.DataFrame], snap: Path, workers: int
) -> list[dict[str, Any]]:
    """Run target jobs in-process (``workers == 1``) or in a spawn process pool."""
    if not jobs:
        return []
    if workers == 1 or len(jobs) == 1:
        saved = dict(_STATE)
        _STATE.update({"tables": tables, "snapshot_dir": str(snap)})
        try:
            out = []
            for j in jobs:
                out.append(_job(j))
                _log_done(out[-1], len(out), len(jobs))
            return out
        finally:
            _STATE.clear()
            _STATE.update(saved)
    import multiprocessing as mp

    out = []
    with ProcessPoolExecutor(
        max_workers=min(workers, len(jobs)),
        mp_context=mp.get_context("spawn"),
        initializer=_init_worker,
        initargs=(tables, str(snap)),
    ) as pool:
        futs = [pool.submit(_job, j) for j in jobs]
        for f in as_completed(futs):
            out.append(f.result())
            _log_done(out[-1], len(out), len(jobs))
    return out


def _log_done(r: dict[str, Any], i: int, n: int) -> None:
    if r["status"] == "trained":
        rmse = r["metrics"].get("walkforward_rmse", float("nan"))
        log(f"sweep: [{i}/{n}] {r['name']}: walk-forward RMSE {rmse:.1f} ({r['seconds']:.0f} s)")
    else:
        log(f"sweep: [{i}/{n}] {r['name']}: {r['status']}")
