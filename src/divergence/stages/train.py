"""Stage ``train`` (MLproject entry point ``train``): the final model, registered.

:func:`train` is the computation (a :class:`TrainResult`: the main and benchmarks-only
models refitted on every rated model, intervals calibrated on an evaluation's
residuals); :func:`step` runs it inside a nested ``train`` run, logs the pyfunc model,
registers it and runs the champion gate of :mod:`divergence.registry`. The evaluation
comes in memory (``main``) or from a finished ``evaluate`` run
(:func:`divergence.stages.evaluate.load`), so ``train`` alone does not re-evaluate.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from divergence.config import PACKAGE_DIR, default_tracking_uri
from divergence.model import UtilityRegressor
from divergence.pipeline import Prepared, train_final
from divergence.registry import WALKFORWARD_ARTIFACT, model_name, promote
from divergence.stages.evaluate import EvaluationResult
from divergence.stages.shell import (
    INPUTS_TAG,
    ci,
    finished_stage_run,
    git_commit,
    headline_metrics,
    inputs_key,
    log_dataset,
    note,
    pip_requirements,
    rename_run,
    set_stage,
)

MODEL_URI_TAG = "divergence.model_uri"
"""Tag of a ``train`` run: the URI of the pyfunc model it logged."""


@dataclass
class TrainResult:
    """The final model and, once logged, where it went.

    Attributes
    ----------
    main, bench : UtilityRegressor
        Main and benchmarks-only models fitted on every rated model.
    intervals : dict
        Their conformal calibration (:meth:`ConformalIntervals.to_dict`).
    card : dict
        The model card (experiment, parameters, training range, walk-forward metrics, ...).
    features : DataFrame
        Feature table of every snapshot model (the predictor's lookup table).
    name : str
        Registered model name.
    run_id, model_uri, version : str or None
        The ``train`` run, the logged model and its registered version (None until logged
        or without registration).
    champion : bool or None
        Whether the gate moved ``@champion`` to this version.
    champion_reason : str
        The gate's decision in words.
    gate : GateResult or None
        The gate's checks.
    """

    main: UtilityRegressor
    bench: UtilityRegressor
    intervals: dict[str, Any]
    card: dict[str, Any]
    features: pd.DataFrame = field(repr=False)
    name: str
    run_id: str | None = None
    model_uri: str | None = None
    version: str | None = None
    champion: bool | None = None
    champion_reason: str = ""
    gate: Any = field(default=None, repr=False)

    @property
    def columns(self) -> list[str]:
        """Input columns of the two models (main first)."""
        names = [*self.main.feature_names_in_, *self.bench.feature_names_in_]
        return list(dict.fromkeys(names))

    def title(self, experiment: str) -> str:
        """Run name: what the run did and its result."""
        n = self.card["training_models"]
        if self.version is None:
            return f"train {experiment}: {self.name} on {n} models (not registered)"
        verdict = "@champion" if self.champion else "not promoted"
        return f"train {experiment}: {self.name} v{self.version} on {n} models, {verdict}"


def train(p: Prepared, params: dict[str, Any], evaluation: EvaluationResult) -> TrainResult:
    """Fit the final models; intervals from ``evaluation``'s residuals (no MLflow)."""
    final = train_final(p, params, evaluation.residuals)
    name = model_name(p.exp)
    card = {
        "registered_model": name,
        "experiment": p.exp.to_dict(),
        "params": params,
        "training_models": len(p.y),
        "training_release_range": [str(p.release.min().date()), str(p.release.max().date())],
        "target": f"LMArena {p.exp.board} board, category {p.exp.category}, latest normalised rating",
        "walkforward_metrics": evaluation.metrics,
        "intervals": final["q"],
        "features_main": list(final["main"].feature_names_in_),
        "features_benchmarks_only": list(final["bench"].feature_names_in_),
        "snapshot_sha256": p.extra.get("snapshot_sha256"),
        "git_commit": git_commit(),
    }
    res = TrainResult(final["main"], final["bench"], final["q"], card, pd.DataFrame(), name)
    features = pd.concat([p.X_all, p.Xb_all], axis=1)
    res.features = features.loc[:, ~features.columns.duplicated()][res.columns]
    return res


def _train_note(p: Prepared, res: TrainResult, evaluation: EvaluationResult) -> str:
    first, last = res.card["training_release_range"]
    lines = [
        f"**Trained** `{res.name}` on all {len(p.y)} rated models (released {first} to "
        f"{last}); walk-forward RMSE {ci(evaluation.metrics, 'walkforward_rmse')}, conformal "
        f"half-widths ±{res.intervals.get('q80', float('nan')):.1f} (80%) / "
        f"±{res.intervals.get('q90', float('nan')):.1f} (90%).",
        "",
    ]
    if "evaluate_run" in p.extra:
        lines += [
            f"Intervals calibrated on the residuals of `evaluate` run {p.extra['evaluate_run']}.",
            "",
        ]
    if res.version is not None and res.gate is not None:
        lines += [f"Registered as version {res.version}.", "", res.gate.markdown()]
    return "\n".join(lines)


def log(
    p: Prepared,
    res: TrainResult,
    evaluation: EvaluationResult,
    tables: dict[str, pd.DataFrame],
    register: bool = True,
) -> None:
    """Log a result on the active ``train`` run: the pyfunc model, its registration and gate."""
    import mlflow
    from mlflow import MlflowClient
    from mlflow.models import infer_signature
    from mlflow.types.schema import ColSpec, Schema

    from divergence.predictor import OUTPUT_COLUMNS, Predictor, save_predictor_files

    cols = res.columns
    with tempfile.TemporaryDirectory() as td:
        d = Path(td) / "predictor"
        artifacts = save_predictor_files(
            d,
            res.main,
            res.bench,
            res.intervals,
            res.features,
            tables["aliases"],
            res.card,
            training_ids=list(p.target.index),
        )
        example = res.features.loc[p.target.index[-3:], cols].astype("float64")
        signature = infer_signature(example, Predictor(d).predict(example))
        signature = type(signature)(
            inputs=Schema([ColSpec("double", c, required=False) for c in cols]),
            outputs=Schema([ColSpec("double", c) for c in OUTPUT_COLUMNS]),
        )
        mlflow.log_params({f"param_{k}": v for k, v in res.card["params"].items()})
        mlflow.log_metrics({f"conformal_{k}": res.intervals[k] for k in ("q80", "q90")})
        mlflow.log_metrics(headline_metrics(evaluation.metrics))
        ours = evaluation.predictions.query("method == 'ours'")[["model_id", "y", "pred"]]
        mlflow.log_dict(
            {str(k): v for k, v in ours.to_dict(orient="list").items()}, WALKFORWARD_ARTIFACT
        )
        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=str(PACKAGE_DIR / "pyfunc_entry.py"),
            artifacts=artifacts,
            code_paths=[str(PACKAGE_DIR)],
            signature=signature,
            input_example=example,
            pip_requirements=pip_requirements(),
            registered_model_name=res.name if register else None,
        )
    active = mlflow.active_run()
    res.run_id = active.info.run_id if active is not None else None
    res.model_uri = info.model_uri
    mlflow.set_tag(MODEL_URI_TAG, info.model_uri)  # what :func:`load` reads back
    if register:
        res.version = str(info.registered_model_version)
        res.gate = promote(
            MlflowClient(),
            res.name,
            res.version,
            evaluation.predictions,
            res.card,
            default_tracking_uri(),
            n_boot=p.exp.n_boot,
            seed=p.exp.seed,
        )
        res.champion = bool(res.gate.promote)
        verdict = "new @champion" if res.champion else "NOT promoted"
        res.champion_reason = f"{verdict}: {res.gate.reason}"
        mlflow.set_tags(
            {
                "champion_decision": res.gate.reason,
                "registered_version": res.version,
                "gate.decision": "promoted" if res.champion else "not promoted",
            }
        )
    note(_train_note(p, res, evaluation))
    rename_run(res.title(p.exp.name))


def load(run_id: str) -> TrainResult:
    """The :class:`TrainResult` of a finished ``train`` run (its logged model read back).

    Raises
    ------
    DivergenceError
        Not a finished ``train`` run, or its model cannot be read.
    """
    import mlflow

    from divergence.errors import DivergenceError
    from divergence.predictor import Predictor
    from divergence.registry import model_directory

    tags = finished_stage_run(run_id, "train").data.tags
    uri = tags.get(MODEL_URI_TAG)
    if not uri:
        raise DivergenceError(f"run {run_id}: no logged model (tag {MODEL_URI_TAG})")
    pred = Predictor(model_directory(uri, mlflow.get_tracking_uri()))
    features = pd.read_csv(pred.directory / "features.csv.gz", dtype={"model_id": str})
    version = tags.get("registered_version")
    decision = tags.get("gate.decision")
    return TrainResult(
        main=UtilityRegressor.load(pred.directory, "main"),
        bench=UtilityRegressor.load(pred.directory, "bench"),
        intervals=dict(pred.intervals),
        card=dict(pred.card),
        features=features.set_index("model_id"),
        name=str(pred.card.get("registered_model", "")),
        run_id=run_id,
        model_uri=uri,
        version=version,
        champion=None if decision is None else decision == "promoted",
        champion_reason=tags.get("champion_decision", ""),
    )


def step(
    p: Prepared,
    params: dict[str, Any],
    evaluation: EvaluationResult,
    tables: dict[str, pd.DataFrame],
    register: bool = True,
) -> TrainResult:
    """Train under a nested ``train`` run (open while it works) and log, register, gate."""
    import mlflow

    with mlflow.start_run(run_name="train", nested=True):
        set_stage("train")
        mlflow.set_tag(INPUTS_TAG, inputs_key(p, params))
        if "evaluate_run" in p.extra:
            mlflow.set_tag("divergence.evaluate_run_id", str(p.extra["evaluate_run"]))
        log_dataset(p, "training")
        res = train(p, params, evaluation)
        log(p, res, evaluation, tables, register=register)
    return res
