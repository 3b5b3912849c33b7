"""``divergence sweep`` and the per-domain predictor.

One small sweep (three targets, 2 trials, 8 walk-forward models, no rolling origin) in two
worker processes: two targets are trained and registered, the third needs more rated
models than the snapshot has and must be reported as ``insufficient_ratings``, never
predicted. The domain predictor is then loaded in a fresh process and checked against the
single-target predictors.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import REPO, SNAPSHOT, cli_env, run_cli

SMALL = {
    "target": {"board": "style", "category": "full", "fallback_raw": True},
    "feature_set": "benchmarks_adoption",
    "benchmark_feature_set": "benchmarks_only",
    "split": {"n_test": 8, "min_train": 40, "inner_folds": 3, "rolling_min_train": 1_000_000},
    "tuning": {"n_trials": 2},
    "evaluation": {"n_boot": 200},
    "seed": 7,
}
TARGETS = {
    "sw-overall": ("full", 40),
    "sw-legal": ("industry_legal_and_government", 40),
    "sw-coding": ("coding", 100_000),  # needs > 100k rated models: insufficient
}


@pytest.fixture(scope="module")
def swept(tmp_path_factory) -> dict:
    d = tmp_path_factory.mktemp("sweep")
    exps = d / "experiments"
    exps.mkdir()
    for name, (cat, min_train) in TARGETS.items():
        cfg = json.loads(json.dumps(SMALL))
        cfg["name"] = name
        cfg["target"]["category"] = cat
        cfg["split"]["min_train"] = min_train
        (exps / f"{name}.yaml").write_text(yaml.safe_dump(cfg))
    uri = f"sqlite:///{d / 'mlflow.db'}"
    res = run_cli(
        [
            "sweep",
            "--experiments",
            str(exps),
            "--workers",
            "2",
            "--snapshot",
            str(SNAPSHOT),
            "--out",
            str(d / "out"),
        ],
        tracking_uri=uri,
        cwd=d,
        timeout=1800,
    )
    return {"dir": d, "uri": uri, "res": res}


def _promoted(table: pd.DataFrame) -> set[str]:
    """Trained domains whose registered model has a champion (passed the promotion gate)."""
    champ = table["champion"].map(lambda v: str(v).strip().lower() in {"true", "1", "yes"})
    return set(table.index[champ & (table["status"] == "trained")])


def _expected_status(table: pd.DataFrame, domain: str) -> str:
    """``ok`` (champion) or ``not_promoted`` (newest version served, gate refused)."""
    return "ok" if domain in _promoted(table) else "not_promoted"


def _walkforward(swept: dict) -> pd.DataFrame:
    return pd.read_csv(swept["dir"] / "out" / "domains_walkforward.csv").set_index("domain")


@pytest.mark.slow
def test_sweep_trains_every_target_and_reports_insufficient(swept):
    res = swept["res"]
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-3000:]
    t = _walkforward(swept)
    assert t.index.tolist() == ["sw-overall", "sw-coding", "sw-legal"]  # overall first
    assert t.loc["sw-coding", "status"] == "insufficient_ratings"
    assert np.isnan(t.loc["sw-coding", "ours_rmse"])
    for d in ["sw-overall", "sw-legal"]:
        r = t.loc[d]
        assert r["status"] == "trained"
        assert r["ours_rmse_lo"] <= r["ours_rmse"] <= r["ours_rmse_hi"]
        assert r["diff_rmse_lo"] <= r["diff_rmse"] <= r["diff_rmse_hi"]
        assert r["best_baseline"] in {
            "mean",
            "best_single",
            "aa_index_linear",
            "factor_linear",
            "median_ridge",
        }
        # the paired difference is ours minus the best baseline's RMSE (same 8 models)
        assert r["diff_rmse"] == pytest.approx(r["ours_rmse"] - r["baseline_rmse"], abs=0.01)
    assert "insufficient_ratings" in res.stdout and "sw-coding" in res.stdout
    # every trained domain is served (champion, or newest version marked not_promoted)
    assert "sw-coding" not in _promoted(t)
    # domain profile and frontier gap: served domains only; measured, then predicted months
    prof = pd.read_csv(swept["dir"] / "out" / "domain_profile.csv")
    assert set(prof["domain"]) == {"sw-overall", "sw-legal"}
    assert (prof["lower_90"] <= prof["predicted"]).all()
    assert (prof["predicted"] <= prof["upper_90"]).all()
    assert prof.groupby("model_id")["open_weights"].first().nunique() == 2  # open and closed
    gap = pd.read_csv(swept["dir"] / "out" / "domain_gap.csv", parse_dates=["month"])
    last = gap.loc[gap["kind"] == "measured", "month"].max()
    assert set(gap["kind"]) == {"measured", "predicted"}
    assert (gap.loc[gap["kind"] == "predicted", "month"] > last).all()
    assert ((gap["ci_lo"] <= gap["gap"]) & (gap["gap"] <= gap["ci_hi"])).all()
    assert (swept["dir"] / "out" / "domain_gap.png").stat().st_size > 10_000


@pytest.mark.slow
def test_domain_predictor_fresh_process_matches_single_targets(swept, tmp_path):
    assert swept["res"].returncode == 0, swept["res"].stderr[-3000:]
    code = """
import json, sys
import numpy as np
from divergence import load_predictor
dp = load_predictor(targets="all")
wide = dp.predict_models(["claude-opus-4-6", "no-such-model-xyz"])
single = {}
names = {"sw-overall": "divergence-utility",
         "sw-legal": "divergence-utility-industry-legal-and-government"}
for d, ref in zip(names, sys.argv[1].split(",")):
    p = load_predictor(f"models:/{names[d]}{ref}")
    single[d] = p.predict_models(["claude-opus-4-6"]).iloc[0].to_dict()
print(json.dumps({
    "mlflow": "mlflow" in sys.modules,
    "status": dp.status.to_dict("records"),
    "wide": json.loads(wide.to_json(orient="records")),
    "single": single,
}))
"""
    t = _walkforward(swept)
    refs = [f"/{int(t.loc[d, 'version'])}" for d in ["sw-overall", "sw-legal"]]
    res = subprocess.run(
        [sys.executable, "-c", code, ",".join(refs)],
        cwd=tmp_path,
        env=cli_env(swept["uri"]),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert res.returncode == 0, res.stderr[-3000:]
    out = json.loads(res.stdout.strip().splitlines()[-1])
    assert out["mlflow"] is False  # local SQLite registry: no MLflow import
    status = {s["domain"]: s for s in out["status"]}
    assert status["sw-coding"]["status"] == "insufficient_ratings"
    assert status["sw-coding"]["min_rated"] == 100_000 + 8 + 3
    for d in ["sw-overall", "sw-legal"]:  # trained: ok when the gate passed, else not_promoted
        assert status[d]["status"] == _expected_status(t, d), status[d]
    known, unknown = out["wide"]
    assert unknown["status"] == "unknown" and unknown["predicted_sw-overall"] is None
    assert known["status"] == "ok"
    for field in ["predicted", "lower_90", "upper_90", "benchmark_implied"]:
        assert known[f"{field}_sw-coding"] is None  # not predicted from noise
    for d, s in out["single"].items():
        assert known[f"predicted_{d}"] == pytest.approx(s["predicted_utility"], abs=1e-3)
        assert known[f"upper_80_{d}"] == pytest.approx(s["upper_80"], abs=1e-3)
        assert known[f"benchmark_implied_{d}"] == pytest.approx(s["benchmark_implied"], abs=1e-3)
    assert known["predicted_sw-overall"] != known["predicted_sw-legal"]


@pytest.mark.slow
def test_predict_domains_cli_long(swept, tmp_path):
    assert swept["res"].returncode == 0, swept["res"].stderr[-3000:]
    out = tmp_path / "p.csv"
    res = run_cli(
        ["predict", "--domains", "--long", "--model", "claude-opus-4-6", "--output", str(out)],
        tracking_uri=swept["uri"],
        cwd=tmp_path,
    )
    assert res.returncode == 0, res.stderr[-2000:]
    assert "sw-coding: insufficient_ratings" in res.stderr
    df = pd.read_csv(out)
    assert df["domain"].tolist() == ["sw-overall", "sw-coding", "sw-legal"]
    t = _walkforward(swept)
    want = [_expected_status(t, "sw-overall"), "insufficient_ratings"]
    assert df["domain_status"].tolist() == [*want, _expected_status(t, "sw-legal")]
    assert df.loc[df["domain"] == "sw-coding", "predicted"].isna().all()
    assert df.loc[df["domain"] != "sw-coding", "predicted"].notna().all()
    bad = run_cli(
        ["predict", "--long", "--model", "x", "--output", str(tmp_path / "q.csv")],
        tracking_uri=swept["uri"],
        cwd=tmp_path,
    )
    assert bad.returncode == 2 and "--long needs --domains" in bad.stderr


def test_manifest_errors_are_one_line(tmp_path):
    from divergence.domains import load_domain_predictor
    from divergence.errors import DivergenceError

    with pytest.raises(DivergenceError, match="domain manifest not found"):
        load_domain_predictor(tmp_path)
    (tmp_path / "domains.json").write_text(
        json.dumps({"domains": [{"domain": "x", "status": "ok", "model_uri": None}]})
    )
    with pytest.raises(DivergenceError, match="status ok without model_uri"):
        load_domain_predictor(tmp_path)
    (tmp_path / "domains.json").write_text(
        json.dumps({"domains": [{"domain": "x", "status": "?"}]})
    )
    with pytest.raises(DivergenceError, match="bad status"):
        load_domain_predictor(tmp_path)


def test_discover_targets_and_shards(tmp_path):
    from divergence.errors import ConfigError
    from divergence.sweep import discover_targets, min_rated_models, parse_shard

    exps = discover_targets(REPO / "experiments")
    assert exps[0].category == "full" and exps[0].board == "style"
    keys = [(e.board, e.category) for e in exps]
    assert len(keys) == len(set(keys)) >= 16
    assert all(min_rated_models(e) == e.min_train + e.n_test + e.inner_folds for e in exps)
    assert parse_shard("2/3") == (2, 3) and parse_shard(None) == (1, 1)
    for bad in ["0/2", "3/2", "x"]:
        with pytest.raises(ConfigError, match="--shard"):
            parse_shard(bad)
    (tmp_path / "a.yaml").write_text(yaml.safe_dump({**SMALL, "name": "a"}))
    (tmp_path / "b.yaml").write_text(yaml.safe_dump({**SMALL, "name": "b"}))  # same target
    assert [e.name for e in discover_targets(tmp_path)] == ["a"]
    with pytest.raises(ConfigError, match="no experiment configs"):
        discover_targets(tmp_path / "empty")


def test_domain_export_loads_from_its_directory_and_matches(tmp_path, monkeypatch):
    """``divergence export --domains``: every served domain below models/, loadable from the
    directory alone; a domain without enough ratings stays unserved (empty columns)."""
    import shutil

    from divergence import load_predictor
    from divergence.cli import main
    from divergence.errors import DivergenceError
    from divergence.export import export_domains

    shipped = REPO / "models" / "divergence-utility" / "predictor"
    src = tmp_path / "src"
    for d in ["over", "legal"]:
        shutil.copytree(shipped, src / d)
    entries = [
        {"domain": "over", "category": "full", "status": "ok", "model_uri": "models:/a/1"},
        {"domain": "thin", "category": "x", "status": "insufficient_ratings", "min_rated": 69},
        {"domain": "legal", "category": "legal", "status": "ok", "model_uri": "models:/b/2"},
    ]
    (src / "domains.json").write_text(json.dumps({"domains": entries}))
    home = tmp_path / "home"
    (home / "models").mkdir(parents=True)
    monkeypatch.setenv("DIVERGENCE_HOME", str(home))
    with pytest.raises(DivergenceError, match="exports go only below"):
        export_domains(str(src), tmp_path / "elsewhere")
    assert main(["export", "--domains", "--model-uri", str(src)]) == 0
    out = home / "models" / "divergence-utility-domains"
    assert sorted(p.name for p in out.iterdir()) == [
        "MODEL_CARD.md",
        "domains.json",
        "input_columns.json",
        "legal",
        "over",
    ]
    assert "| thin | x | insufficient_ratings |" in (out / "MODEL_CARD.md").read_text()
    dp = load_predictor(out, targets="all")
    wide = dp.predict_models(["claude-opus-4-6"])
    single = load_predictor(shipped).predict_models(["claude-opus-4-6"]).iloc[0]
    for d in ["over", "legal"]:
        assert wide.loc[0, f"predicted_{d}"] == single["predicted_utility"]
        assert wide.loc[0, f"lower_90_{d}"] == single["lower_90"]
        assert wide.loc[0, f"benchmark_implied_{d}"] == single["benchmark_implied"]
    assert np.isnan(wide.loc[0, "predicted_thin"])


def test_each_target_logs_into_its_own_experiment(tmp_path, monkeypatch):
    """One process, two targets in a row (a sweep worker): each in ``divergence/<name>``."""
    import mlflow

    from divergence import runs
    from divergence.experiment import load_experiment

    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.delenv("MLFLOW_EXPERIMENT_ID", raising=False)
    monkeypatch.delenv("MLFLOW_RUN_ID", raising=False)
    monkeypatch.chdir(tmp_path)
    for name in ["sw-a", "sw-b"]:
        cfg = tmp_path / f"{name}.yaml"
        cfg.write_text(yaml.safe_dump({**SMALL, "name": name}))
        runs.setup(load_experiment(cfg))
        with mlflow.start_run() as run:
            pass
        got = mlflow.get_experiment(run.info.experiment_id).name
        assert got == f"divergence/{name}", got
