"""Pipeline: features, targets, tuning objective, walk-forward without leaks, end to end."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import optuna
import pandas as pd
import pytest

from conftest import REPO, SMALL_EXPERIMENT, cli_env, run_cli
from divergence.errors import ConfigError
from divergence.experiment import load_experiment
from divergence.features import is_leaky, load_spec, model_frame
from divergence.pipeline import prepare, walk_forward
from divergence.targets import target_frame
from divergence.tuning import DEFAULT_PARAMS, inner_splits, make_objective


@pytest.fixture(scope="module")
def prepared(snapshot):
    return prepare(load_experiment(SMALL_EXPERIMENT), snapshot)


def test_feature_sets_have_no_arena_leakage(snapshot):
    for name in ["benchmarks_only", "benchmarks_adoption"]:
        X = model_frame(snapshot, load_spec(name))
        assert not [c for c in X.columns if is_leaky(c)]
        assert X.dtypes.eq("float64").all()
        assert X.index.is_unique


def test_adoption_features_respect_as_of(snapshot):
    """A model's 90-day adoption uses nothing dated after release + 90 days."""
    spec = load_spec("benchmarks_adoption")
    X = model_frame(snapshot, spec)
    col = "adopt.ollama_pulls_90d"
    models = snapshot["models"].set_index("model_id")
    ad = snapshot["adoption"]
    ad = ad[ad["signal"] == "ollama_pulls"]
    have = X[col].dropna()
    assert len(have) > 0
    for mid in have.index[:20]:
        cutoff = models.loc[mid, "release_date"] + pd.Timedelta(days=90)
        rows = ad[(ad["model_id"] == mid) & (ad["date"] <= cutoff)]
        assert have[mid] == rows.groupby("date")["value"].max().iloc[-1]


def test_targets_default_and_categories(snapshot):
    t = target_frame(snapshot)
    assert len(t) > 300
    assert t["release_date"].is_monotonic_increasing
    assert t.loc["gpt-4o-2024-05-13", "target"] > 1200
    for cat in ["coding", "expert", "industry_legal_and_government"]:
        assert len(target_frame(snapshot, cat)) > 50
    with pytest.raises(ConfigError, match="not on the style board"):
        target_frame(snapshot, "no-such-category")


def test_objective_with_fixed_trial(prepared):
    win = np.arange(80)
    rel = prepared.release.iloc[win].reset_index(drop=True)
    obj = make_objective(prepared.X.iloc[win], prepared.y[win], rel, seed=0, n_folds=3)
    params = dict(DEFAULT_PARAMS)
    params["n_estimators"] = 50
    value = obj(optuna.trial.FixedTrial(params))
    assert np.isfinite(value) and 0 < value < 200
    assert value == obj(optuna.trial.FixedTrial(params))  # seeded: repeatable


def test_inner_splits_are_release_ordered(prepared):
    rel = prepared.release
    for tr, te in inner_splits(rel, n_folds=4):
        assert rel.iloc[tr].max() < rel.iloc[te].min()


def test_walk_forward_never_trains_on_future(prepared, monkeypatch):
    """Every fit in the walk-forward sees only models released before the predicted one."""
    import divergence.pipeline as pl

    seen: list[pd.Index] = []
    orig = pl.UtilityRegressor.fit

    def spy(self, X, y):
        seen.append(X.index)
        return orig(self, X, y)

    monkeypatch.setattr(pl.UtilityRegressor, "fit", spy)
    q = {"q80": 10.0, "q90": 15.0}
    preds = walk_forward(prepared, {**DEFAULT_PARAMS, "n_estimators": 30}, q, baselines=False)
    release = prepared.target["release_date"]
    ours = preds[preds["method"] == "ours"].reset_index(drop=True)
    assert len(ours) == prepared.exp.n_test
    assert len(seen) == 2 * len(ours)
    for i, row in ours.iterrows():
        for train_ids in seen[2 * i : 2 * i + 2]:
            assert release.loc[train_ids].max() < row["release_date"]
            assert row["model_id"] not in train_ids


def test_walk_forward_intervals_per_seed(prepared):
    """A dict of calibrations by seed: each seed's rows get its own widths; seed table has p90."""
    from divergence.conformal import ConformalIntervals
    from divergence.pipeline import seed_table, walk_forward_splits

    splits = walk_forward_splits(prepared.release, n_test=2, min_train=40)
    cal = {
        s: ConformalIntervals((0.8, 0.9), n_bins=1).fit(np.linspace(-w, w, 41))
        for s, w in [(1, 10.0), (2, 40.0)]
    }
    params = {**DEFAULT_PARAMS, "n_estimators": 10}
    preds = walk_forward(prepared, params, cal, splits=splits, baselines=False, seeds=[1, 2])
    ours = preds[preds["method"] == "ours"]
    half = (ours["upper_90"] - ours["pred"]).groupby(ours["seed"]).unique()
    assert [list(v) for v in half] == [[cal[1].pooled_["0.9"]], [cal[2].pooled_["0.9"]]]
    table = seed_table(ours).set_index("seed")
    err = (ours["pred"] - ours["y"]).abs().groupby(ours["seed"]).quantile(0.9)
    assert np.allclose(table["p90_abs_error"], err)
    assert (preds.loc[preds["method"] != "ours", "lower_90"].isna()).all()


def test_experiment_config_errors(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\ntarget: {board: sideways}\n")
    with pytest.raises(ConfigError, match="board"):
        load_experiment(bad)
    bad.write_text("name: x\nsurprise: 1\n")
    with pytest.raises(ConfigError, match="unknown key 'surprise'"):
        load_experiment(bad)
    with pytest.raises(ConfigError, match="not found"):
        load_experiment(tmp_path / "missing.yaml")


@pytest.mark.slow
def test_train_registers_and_logs(trained):
    import mlflow
    from mlflow import MlflowClient

    mlflow.set_tracking_uri(trained["tracking_uri"])
    client = MlflowClient()
    exp = client.get_experiment_by_name("divergence/test-small")
    runs = client.search_runs([exp.experiment_id])
    by_stage = {r.data.tags.get("divergence.stage"): r for r in runs}
    assert sorted(by_stage) == ["evaluate", "pipeline", "train"] and len(runs) == 3
    # names say what each run did, set once its result is known (issue 17)
    top = by_stage["pipeline"]
    assert top.info.run_name.startswith("test-small: evaluate → train, RMSE ")
    assert by_stage["evaluate"].info.run_name.startswith(
        "evaluate test-small: walk-forward 8 models"
    )
    assert by_stage["train"].info.run_name.startswith("train test-small: divergence-utility v1")
    for key in [
        "walkforward_rmse",
        "walkforward_spearman",
        "walkforward_mae",
        "baseline_mean_walkforward_rmse",
        "baseline_median_ridge_walkforward_spearman",
        "baseline_aa_index_linear_walkforward_rmse",
        "baseline_best_single_walkforward_rmse",
        "baseline_factor_linear_walkforward_rmse",
        "walkforward_rmse_ci_lo",
    ]:
        assert key in top.data.metrics, key
    ev = by_stage["evaluate"]
    arts = {a.path for a in client.list_artifacts(ev.info.run_id)}
    assert {"walkforward_metrics.csv", "predicted_vs_actual.png", "walkforward_table.md"} <= arts
    mv = client.get_model_version("divergence-utility", "1")
    assert mv.tags["beats_all_baselines"] in {"true", "false"}
    assert "champion_decision" in mv.tags


@pytest.mark.slow
def test_registered_model_loads_in_fresh_process(trained, tmp_path):
    """Load via pyfunc and via load_predictor in a new interpreter, another working directory."""
    code = f"""
import json, mlflow, pandas as pd
mlflow.set_tracking_uri({trained["tracking_uri"]!r})
m = mlflow.pyfunc.load_model({trained["model_uri"]!r})
from divergence import load_predictor
p = load_predictor({trained["model_uri"]!r}, tracking_uri={trained["tracking_uri"]!r})
df = pd.DataFrame({{"aa.artificial_analysis_intelligence_index": [60.0, 30.0], "meta.release_days": [1100.0, 1100.0]}})
out = m.predict(df)
out2 = p.predict(df)
ids = p.predict_models(["gpt-4o-2024-05-13", "claude-opus-4-6", "not-a-model"])
print(json.dumps({{"cols": list(out.columns), "pred": out["predicted_utility"].tolist(),
                  "pred2": out2["predicted_utility"].tolist(), "status": ids["status"].tolist(),
                  "lo": out["lower_90"].tolist(), "hi": out["upper_90"].tolist()}}))
"""
    res = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert res.returncode == 0, res.stderr[-3000:]
    out = json.loads(res.stdout.strip().splitlines()[-1])
    assert out["cols"] == [
        "predicted_utility",
        "lower_80",
        "upper_80",
        "lower_90",
        "upper_90",
        "benchmark_implied",
        "divergence",
    ]
    assert out["pred"] == pytest.approx(out["pred2"])
    assert out["pred"][0] > out["pred"][1]  # higher intelligence index, higher utility
    assert all(lo < p < hi for lo, p, hi in zip(out["lo"], out["pred"], out["hi"], strict=True))
    assert out["status"] == ["ok", "ok", "unknown"]


@pytest.mark.slow
def test_predict_cli(trained, tmp_path):
    out = tmp_path / "preds.csv"
    res = run_cli(
        [
            "predict",
            "--model",
            "gpt-4o-2024-05-13",
            "nonexistent-model-xyz",
            "--output",
            str(out),
            "--model-uri",
            trained["model_uri"],
        ],
        tracking_uri=trained["tracking_uri"],
    )
    assert res.returncode == 0, res.stderr
    assert "unknown model: nonexistent-model-xyz" in res.stderr
    df = pd.read_csv(out)
    assert list(df.columns[:3]) == ["query", "model_id", "status"]
    assert df["status"].tolist() == ["ok", "unknown"]
    out2 = tmp_path / "none.csv"
    res = run_cli(
        [
            "predict",
            "--model",
            "nonexistent-model-xyz",
            "--output",
            str(out2),
            "--model-uri",
            trained["model_uri"],
        ],
        tracking_uri=trained["tracking_uri"],
    )
    assert res.returncode == 2
    assert not out2.exists()
    rows = tmp_path / "rows.csv"
    rows.write_text("model_id,aa.gpqa,meta.open_weights\nmy-model,0.8,1\n")
    res = run_cli(
        [
            "predict",
            "--input",
            str(rows),
            "--output",
            str(out),
            "--model-uri",
            trained["model_uri"],
        ],
        tracking_uri=trained["tracking_uri"],
    )
    assert res.returncode == 0, res.stderr
    assert pd.read_csv(out)["predicted_utility"].notna().all()


@pytest.mark.slow
def test_export_writes_model_card(trained, tmp_path):
    dest = tmp_path / "models" / "exported"  # exports go only below the project's models/
    res = run_cli(
        ["export", "--model-uri", trained["model_uri"], "--out", str(dest)],
        tracking_uri=trained["tracking_uri"],
        DIVERGENCE_HOME=str(tmp_path),
    )
    assert res.returncode == 0, res.stderr
    card = (dest / "MODEL_CARD.md").read_text()
    for section in ["Training data", "Walk-forward evaluation", "Intended use", "Known limits"]:
        assert section in card
    from divergence import load_predictor

    p = load_predictor(dest)
    assert len(p.predict_models(["gpt-4o-2024-05-13"])) == 1


@pytest.mark.slow
def test_mlflow_run_main_entry_point(tmp_path):
    """`mlflow run . --env-manager local` on the bundled snapshot, small config."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    bindir = str(Path(sys.executable).parent)
    env = cli_env(uri, PATH=bindir + ":" + cli_env()["PATH"])
    res = subprocess.run(
        [
            str(Path(bindir) / "mlflow"),
            "run",
            str(REPO),
            "--env-manager",
            "local",
            "-P",
            f"experiment={SMALL_EXPERIMENT}",
            "-P",
            "n_trials=2",
            "--experiment-name",
            "divergence-e2e",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert res.returncode == 0, res.stderr[-4000:]
    import mlflow
    from mlflow import MlflowClient

    mlflow.set_tracking_uri(uri)
    client = MlflowClient()
    exp = client.get_experiment_by_name("divergence-e2e")
    runs = client.search_runs([exp.experiment_id])
    names = [r.info.run_name for r in runs]
    assert [r.data.tags.get("divergence.stage") for r in runs].count("tune") == 1
    assert sum(n.startswith("trial-") for n in names) == 2
    tune = next(r for r in runs if r.data.tags.get("divergence.stage") == "tune")
    assert tune.info.run_name.startswith("tune ")
    trial = next(r for r in runs if r.info.run_name == "trial-000")
    assert trial.data.tags["mlflow.parentRunId"] == tune.info.run_id
    assert "best_inner_cv_rmse" in tune.data.metrics
    top = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    assert len(top) == 1 and "walkforward_rmse" in top[0].data.metrics
    assert client.get_registered_model("divergence-utility").name == "divergence-utility"


@pytest.mark.slow
def test_predictor_rejects_bad_columns(trained):
    from divergence import load_predictor
    from divergence.errors import DivergenceError

    p = load_predictor(trained["model_uri"], tracking_uri=trained["tracking_uri"])
    ok = p.predict(pd.DataFrame({"aa.gpqa": [0.7]}))  # every column optional
    assert ok.shape == (1, 7) and ok.notna().all().all()
    with pytest.raises(DivergenceError, match=r"input column 'aa\.gpqq': unknown feature"):
        p.predict(pd.DataFrame({"aa.gpqq": [0.7]}))
    with pytest.raises(
        DivergenceError, match=r"input column 'aa\.gpqa' row 2: non-numeric value 'high'"
    ):
        p.predict(pd.DataFrame({"aa.gpqa": [0.7, "high"]}))
    with pytest.raises(DivergenceError, match="infinite"):
        p.predict(pd.DataFrame({"aa.gpqa": [float("inf")]}))
    with pytest.raises(DivergenceError, match="DataFrame"):
        p.predict([[0.7]])


def test_shipped_champion_loads_and_predicts():
    """The exported model in models/ works on a fresh clone, without any training."""
    from divergence import load_predictor

    p = load_predictor(REPO / "models" / "divergence-utility")
    out = p.predict_models(["gpt-4o-2024-05-13", "claude-opus-4-6", "no-such-model"])
    assert out["status"].tolist() == ["ok", "ok", "unknown"]
    # training_ids.json ships with the export: a rated model is in-sample, a newer one is not
    assert out["divergence_basis"].tolist()[:2] == ["in_sample", "in_sample"]
    new = p.predict_models(["Kimi K2.6 (Reasoning)"])
    assert new["status"].tolist() == ["ok"] and new["divergence_basis"].tolist() == [
        "out_of_sample"
    ]
    ok = out[out["status"] == "ok"]
    assert (
        (ok["lower_90"] < ok["predicted_utility"]) & (ok["predicted_utility"] < ok["upper_90"])
    ).all()
    assert (ok["divergence"] == ok["predicted_utility"] - ok["benchmark_implied"]).all()
    assert (REPO / "models" / "divergence-utility" / "MODEL_CARD.md").exists()
