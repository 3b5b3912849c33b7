"""Reproducibility: same snapshot + config + seed -> identical metrics and identical model bytes.

Two trainings in separate processes (different hash seeds, different tracking stores and working
directories) must give byte-identical model files and walk-forward predictions/metrics; in
process, the estimator is deterministic and the seed actually matters.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import SMALL_EXPERIMENT, SNAPSHOT, run_cli

MODEL_FILES = [
    "main.ubj",
    "main.json",
    "bench.ubj",
    "bench.json",
    "intervals.json",
    "features.csv.gz",
    "aliases.csv.gz",
    "card.json",
]


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _training(tracking_uri: str, model_uri: str, dst: Path) -> dict:
    """Model files, run metrics and walk-forward artifacts of one training."""
    import mlflow
    from mlflow import MlflowClient

    mlflow.set_tracking_uri(tracking_uri)
    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    model_dir = Path(
        mlflow.artifacts.download_artifacts(artifact_uri=model_uri, dst_path=str(dst / "model"))
    )
    art = model_dir / "artifacts"
    exp = client.get_experiment_by_name("divergence/test-small")
    runs = {  # stage runs by their stage tag, trial runs by name (trial-NNN)
        r.data.tags.get("divergence.stage", r.info.run_name): r
        for r in client.search_runs([exp.experiment_id])
    }
    ev = runs["evaluate"]
    wf = Path(client.download_artifacts(ev.info.run_id, "walkforward_metrics.csv", str(dst)))
    preds = Path(client.download_artifacts(ev.info.run_id, "walkforward_predictions.csv", str(dst)))
    return {
        "files": {name: _sha(art / name) for name in MODEL_FILES},
        "metrics": {name: dict(r.data.metrics) for name, r in runs.items()},
        "params": {name: dict(r.data.params) for name, r in runs.items()},
        "snapshot_tag": runs["pipeline"].data.tags.get("snapshot_sha256"),
        "walkforward_metrics": pd.read_csv(wf),
        "walkforward_predictions": pd.read_csv(preds),
    }


@pytest.mark.slow
def test_two_trainings_are_identical(trained, tmp_path: Path) -> None:
    uri_b = f"sqlite:///{tmp_path / 'b' / 'mlflow.db'}"
    (tmp_path / "b").mkdir()
    res = run_cli(
        ["train", "--experiment", str(SMALL_EXPERIMENT)],
        tracking_uri=uri_b,
        cwd=tmp_path / "b",
        timeout=900,
        PYTHONHASHSEED="4321",
    )
    assert res.returncode == 0, res.stderr[-3000:]
    a = _training(trained["tracking_uri"], trained["model_uri"], tmp_path / "a-dl")
    b = _training(uri_b, "models:/divergence-utility/1", tmp_path / "b-dl")

    assert a["snapshot_tag"] == b["snapshot_tag"]
    for name in MODEL_FILES:
        assert a["files"][name] == b["files"][name], (
            f"{name} differs between two identical trainings"
        )
    assert a["params"] == b["params"]
    assert a["metrics"] == b["metrics"]  # every metric of every run, exactly
    pd.testing.assert_frame_equal(
        a["walkforward_metrics"], b["walkforward_metrics"], check_exact=True
    )
    pd.testing.assert_frame_equal(
        a["walkforward_predictions"], b["walkforward_predictions"], check_exact=True
    )
    assert {"walkforward_rmse", "walkforward_spearman"} <= set(a["metrics"]["pipeline"])


@pytest.fixture(scope="module")
def small_problem():
    """A real training matrix: the small experiment's rated models and features."""
    from divergence.experiment import load_experiment
    from divergence.pipeline import prepare
    from divergence.snapshot import load_snapshot

    exp = load_experiment(SMALL_EXPERIMENT)
    p = prepare(exp, load_snapshot(SNAPSHOT))
    return p.X, p.y


def _fit_bytes(X: pd.DataFrame, y: np.ndarray, d: Path, **kw) -> dict[str, str]:
    from divergence.model import UtilityRegressor
    from divergence.tuning import DEFAULT_PARAMS

    params = {**DEFAULT_PARAMS, "n_estimators": 60, **kw}
    m = UtilityRegressor(**params).fit(X, y)
    return {p.name: _sha(p) for p in m.save(d, "m")}


def test_estimator_bytes_depend_only_on_data_params_and_seed(small_problem, tmp_path: Path) -> None:
    X, y = small_problem
    first = _fit_bytes(X, y, tmp_path / "1", random_state=3)
    again = _fit_bytes(X, y, tmp_path / "2", random_state=3)
    assert first == again
    # and the seed is really used: another one changes the (row- and column-subsampled) trees
    other = _fit_bytes(X, y, tmp_path / "3", random_state=4)
    assert other["m.ubj"] != first["m.ubj"]


def test_saved_model_reloads_to_identical_predictions(small_problem, tmp_path: Path) -> None:
    from divergence.model import UtilityRegressor
    from divergence.tuning import DEFAULT_PARAMS

    X, y = small_problem
    m = UtilityRegressor(**{**DEFAULT_PARAMS, "n_estimators": 60}, random_state=1).fit(X, y)
    m.save(tmp_path, "m")
    back = UtilityRegressor.load(tmp_path, "m")
    np.testing.assert_array_equal(m.predict(X), back.predict(X))
    back.save(tmp_path / "again", "m")
    assert _sha(tmp_path / "m.ubj") == _sha(tmp_path / "again" / "m.ubj")
    assert _sha(tmp_path / "m.json") == _sha(tmp_path / "again" / "m.json")
