"""Stages: a result logged on a run reads back exactly, and ``train`` on a finished
``evaluate`` run gives the same model as ``train`` on the in-memory evaluation."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from divergence.errors import DivergenceError
from divergence.stages import evaluate as evaluate_stage
from divergence.stages.evaluate import EvaluationResult
from divergence.stages.shell import STAGE_TAG

SMALL = Path(__file__).resolve().parent / "data" / "experiment_small.yaml"


def _tiny_result() -> EvaluationResult:
    rng = np.random.default_rng(0)
    dates = pd.to_datetime(["2024-01-02", "2024-03-04", "2024-05-06"])
    preds = pd.DataFrame(
        {
            "model_id": ["a", "b", "c"],
            "release_date": dates,
            "y": rng.normal(size=3),
            "method": "ours",
            "seed": 7,
            "pred": rng.normal(size=3) / 3.0,
            "lower_90": [np.nan, 0.1, 0.2],
        }
    )
    resid = pd.DataFrame(
        {
            "model_id": ["a", "b"],
            "release_date": dates[:2],
            "residual": [0.1 / 3.0, -2.0 / 7.0],
            "evidence": [3.0, 11.0],
            "source": ["tuning_folds", "walk_forward"],
        }
    )
    table = pd.DataFrame({"method": ["ours"], "metric": ["rmse"], "value": [1 / 3.0]})
    return EvaluationResult(
        predictions=preds,
        metrics={"walkforward_rmse": 1 / 3.0, "walkforward_spearman": np.pi / 4},
        residuals=resid,
        intervals={"levels": [0.8, 0.9], "q80": 0.1 / 7.0, "q90": [1e-300, 2.5]},
        walkforward_metrics=table,
        rolling_metrics=pd.DataFrame(),
        params={"max_depth": 3, "learning_rate": 0.1 / 3.0},
    )


@pytest.mark.slow
def test_an_evaluation_reads_back_exactly_from_its_run(trained, tmp_path: Path) -> None:
    """Stored on a run of the session's store (no new store to create), read back to the bit."""
    import mlflow
    from mlflow import MlflowClient

    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(trained["tracking_uri"])
    try:
        exp_id = MlflowClient().create_experiment(
            f"test-stages-{tmp_path.name}", artifact_location=str(tmp_path / "artifacts")
        )
        res = _tiny_result()
        with mlflow.start_run(experiment_id=exp_id) as run:
            mlflow.set_tag(STAGE_TAG, "evaluate")
            evaluate_stage.save(res)
            with pytest.raises(DivergenceError, match="not a finished `evaluate` run"):
                evaluate_stage.load(run.info.run_id)  # still running
        back = evaluate_stage.load(run.info.run_id)
        for name in ["predictions", "residuals", "walkforward_metrics", "rolling_metrics"]:
            pd.testing.assert_frame_equal(getattr(back, name), getattr(res, name), check_exact=True)
        assert (back.metrics, back.intervals, back.params) == (
            res.metrics,
            res.intervals,
            res.params,
        )
        with mlflow.start_run(experiment_id=exp_id) as other:
            mlflow.set_tag(STAGE_TAG, "tune")
        with pytest.raises(DivergenceError, match="stage tune"):
            evaluate_stage.load(other.info.run_id)
    finally:
        mlflow.set_tracking_uri(previous)


@pytest.mark.slow
@contextmanager
def _trained_store(trained: dict) -> Iterator[tuple[Any, str]]:
    """MLflow pointed at the session's trained store: (client, id of its experiment)."""
    import mlflow
    from mlflow import MlflowClient

    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(trained["tracking_uri"])
    try:
        client = MlflowClient(trained["tracking_uri"])
        yield client, client.get_experiment_by_name("divergence/test-small").experiment_id
    finally:
        mlflow.set_tracking_uri(previous)


def test_train_on_a_finished_evaluate_run_gives_the_registered_model(
    trained, snapshot, tmp_path: Path
) -> None:
    """The session's model was trained on its in-memory evaluation; refit from the
    evaluation stored on its ``evaluate`` run: the same predictions, bit for bit."""

    from divergence.experiment import load_experiment
    from divergence.pipeline import prepare
    from divergence.predictor import Predictor, load_predictor, save_predictor_files
    from divergence.stages import train as train_stage

    uri = trained["tracking_uri"]
    with _trained_store(trained) as (client, exp_id):
        (ev_run,) = client.search_runs([exp_id], f"tags.`{STAGE_TAG}` = 'evaluate'", max_results=2)
        evaluation = evaluate_stage.load(ev_run.info.run_id)
    p = prepare(load_experiment(SMALL), snapshot)
    res = train_stage.train(p, evaluation.params, evaluation)
    registered = load_predictor(trained["model_uri"], tracking_uri=uri)
    assert json.loads(json.dumps(res.intervals)) == registered.card["intervals"]
    d = tmp_path / "predictor"
    save_predictor_files(
        d,
        res.main,
        res.bench,
        res.intervals,
        res.features,
        snapshot["aliases"],
        res.card,
        training_ids=list(p.target.index),
    )
    ids = list(p.target.index[-20:]) + ["no-such-model"]
    pd.testing.assert_frame_equal(
        Predictor(d).predict_models(ids), registered.predict_models(ids), check_exact=True
    )


def test_a_training_reads_back_from_its_train_run(trained) -> None:
    """``train.load``: the registered model, its card and gate decision, from the run alone."""

    from divergence.errors import DivergenceError
    from divergence.predictor import load_predictor
    from divergence.stages import train as train_stage

    uri = trained["tracking_uri"]
    with _trained_store(trained) as (client, exp_id):
        (run,) = client.search_runs([exp_id], f"tags.`{STAGE_TAG}` = 'train'")
        back = train_stage.load(run.info.run_id)
        (ev_run,) = client.search_runs([exp_id], f"tags.`{STAGE_TAG}` = 'evaluate'")
        with pytest.raises(DivergenceError, match="not a finished `train` run"):
            train_stage.load(ev_run.info.run_id)
    registered = load_predictor(trained["model_uri"], tracking_uri=uri)
    assert back.name == "divergence-utility" and back.version == "1"
    assert back.champion in (True, False) and back.champion_reason
    assert back.card == registered.card and back.intervals == registered.intervals
    ids = list(back.features.index[-20:])
    X = back.features.loc[ids, registered.main.feature_names_in_]
    np.testing.assert_array_equal(
        back.main.predict(X), registered.predict(X)["predicted_utility"].to_numpy()
    )
