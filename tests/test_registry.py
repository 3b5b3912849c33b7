"""The champion gate and the registry lookups (divergence.registry)."""

from __future__ import annotations

import json
import multiprocessing as mp
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from divergence.registry import (
    CHAMPION,
    baseline_checks,
    champion_check,
    gate,
    promote,
    sqlite_registry_dir,
)

N = 25


def _walkforward(ours_noise: float, seed: int = 0, ids: list[str] | None = None) -> pd.DataFrame:
    """Long walk-forward predictions: ours with ``ours_noise``, baselines noisier/biased."""
    rng = np.random.default_rng(seed)
    ids = ids or [f"m{i:02d}" for i in range(N)]
    y = np.linspace(1200, 1450, len(ids))
    noise = {
        "ours": ours_noise,
        "baseline_mean": None,
        "baseline_ridge": 40.0,
        "baseline_factor": 35.0,
    }
    rows = []
    for method, sd in noise.items():
        pred = (
            np.full(len(ids), y.mean())
            if sd is None
            else y + rng.normal(0, sd, len(ids)) + (0 if method == "ours" else 10)
        )
        rows.append(pd.DataFrame({"model_id": ids, "method": method, "y": y, "pred": pred}))
    return pd.concat(rows, ignore_index=True)


def test_good_candidate_passes_every_baseline_check():
    checks = baseline_checks(_walkforward(5.0), n_boot=500, seed=1)
    names = [c.name for c in checks]
    assert names[:3] == ["rmse_vs_factor", "rmse_vs_mean", "rmse_vs_ridge"]
    assert len(names) == 4 and names[3] in {"spearman_vs_factor", "spearman_vs_ridge"}
    assert all(c.passed for c in checks), [c.text for c in checks]
    for c in checks[:3]:
        assert c.ci_hi < 0 and c.ci_lo <= c.value <= c.ci_hi
    res = gate(checks, None, None)
    assert res.promote and res.beats_baselines and "no current champion" in res.reason


def test_candidate_no_better_than_a_baseline_is_refused():
    wf = _walkforward(38.0, seed=3)  # as noisy as the baselines: CIs straddle 0
    checks = baseline_checks(wf, n_boot=500, seed=1)
    res = gate(checks, None, None)
    assert not res.promote and not res.beats_baselines
    assert "failed rmse_vs_" in res.reason
    assert "| rmse_vs_ridge | fail: RMSE ours − ridge" in res.markdown()


def test_spearman_worse_than_the_best_baseline_fails_even_with_lower_rmse():
    """Low RMSE but ranks scrambled among close models: Spearman check must fail."""
    ids = [f"m{i:02d}" for i in range(N)]
    y = np.linspace(1300, 1310, N)  # tightly packed: ranking is all that Spearman sees
    good_rank = y + 0.01 * np.arange(N) + 30  # perfect order, constant offset (RMSE ~30)
    scrambled = y[::-1] + 0.0  # reversed order, RMSE ~6
    wf = pd.concat(
        [
            pd.DataFrame({"model_id": ids, "method": "ours", "y": y, "pred": scrambled}),
            pd.DataFrame({"model_id": ids, "method": "baseline_rank", "y": y, "pred": good_rank}),
        ]
    )
    checks = baseline_checks(wf, n_boot=500, seed=0)
    by = {c.name: c for c in checks}
    assert by["rmse_vs_rank"].passed  # ours has the lower RMSE ...
    assert not by["spearman_vs_rank"].passed  # ... but orders the models backwards
    assert not gate(checks, None, None).promote


def test_champion_check_pairs_on_common_models_and_detects_a_worse_candidate():
    champ = _walkforward(5.0, seed=10).query("method == 'ours'")
    worse = _walkforward(15.0, seed=11).query("method == 'ours'")
    better = champ.assign(pred=champ["y"] + 0.5 * (champ["pred"] - champ["y"]))
    c = champion_check(worse, champ, n_boot=300)
    assert c is not None and not c.passed and c.value > 0
    c = champion_check(better, champ, n_boot=300)
    assert c is not None and c.passed and c.value < 0
    assert champion_check(champ, champ, n_boot=300).passed is False  # equal is not better
    other = _walkforward(5.0, ids=[f"x{i}" for i in range(N)]).query("method == 'ours'")
    assert champion_check(other, champ) is None  # another test set: not comparable
    checks = baseline_checks(_walkforward(5.0), n_boot=200)
    res = gate(checks, None, "3")
    assert res.promote and "not comparable" in res.reason
    res = gate(checks, champion_check(worse, champ, n_boot=300), "3")
    assert not res.promote and "vs_champion" in res.reason


def test_gate_needs_the_prediction_columns():
    from divergence.errors import DivergenceError

    with pytest.raises(DivergenceError, match="column 'pred' missing"):
        baseline_checks(pd.DataFrame({"model_id": ["a"], "method": ["ours"], "y": [1.0]}))


# ---------------------------------------------------------------------------- promote()
def _register(uri: str, wf: pd.DataFrame) -> str:
    """One model version whose run carries the walk-forward the gate reads."""
    import mlflow
    from mlflow import MlflowClient

    from divergence.registry import WALKFORWARD_ARTIFACT

    mlflow.set_tracking_uri(uri)
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    exp = client.get_experiment_by_name("gate-test")
    exp_id = exp.experiment_id if exp else client.create_experiment("gate-test")
    with mlflow.start_run(experiment_id=exp_id) as run:
        ours = wf.query("method == 'ours'")[["model_id", "y", "pred"]]
        mlflow.log_dict(ours.to_dict(orient="list"), WALKFORWARD_ARTIFACT)
    try:
        client.create_registered_model("m")
    except Exception:
        pass
    mv = client.create_model_version("m", f"runs:/{run.info.run_id}/model", run.info.run_id)
    return str(mv.version)


def _promote(uri: str, version: str, wf: pd.DataFrame) -> bool:
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    card = {"registered_model": "m", "target": "test target", "walkforward_metrics": {}}
    return promote(client, "m", version, wf, card, uri, n_boot=200, seed=0).promote


def _champion(uri: str) -> str:
    from mlflow import MlflowClient

    return str(MlflowClient(tracking_uri=uri).get_model_version_by_alias("m", CHAMPION).version)


@pytest.mark.slow
def test_promote_keeps_the_better_champion_and_records_the_decision(tmp_path: Path):
    from mlflow import MlflowClient

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    good, worse = _walkforward(5.0, seed=1), _walkforward(12.0, seed=2)
    v1 = _register(uri, good)
    v2 = _register(uri, worse)
    assert _promote(uri, v1, good)
    assert not _promote(uri, v2, worse)  # passes the baselines, loses to the champion
    assert _champion(uri) == v1
    client = MlflowClient(tracking_uri=uri)
    mv = client.get_model_version("m", v2)
    assert mv.tags["gate.decision"] == "not promoted"
    assert mv.tags["gate.vs_champion"].startswith("fail: RMSE candidate − champion +")
    assert mv.tags["gate.rmse_vs_ridge"].startswith("pass:")
    assert "Gate: not promoted" in mv.description and "test target" in mv.description
    assert f"Champion: version {v1}" in client.get_registered_model("m").description


def _race(uri: str, version: str, noise: float, seed: int, delay: float, barrier) -> None:
    """Promote after ``delay`` s; reading the champion takes 1.5 s (a wide race window)."""
    import time

    import divergence.registry as reg

    read = reg.champion_version

    def slow_read(client, name):
        out = read(client, name)
        time.sleep(1.5)
        return out

    reg.champion_version = slow_read
    wf = _walkforward(noise, seed=seed)
    barrier.wait()
    time.sleep(delay)
    _promote(uri, version, wf)


@pytest.mark.slow
def test_concurrent_promotions_leave_the_best_as_champion(tmp_path: Path):
    """Two gates at once (two `main` runs finishing together), the worse one last.

    Without the lock both would read "no champion" and the worse, writing last, would
    take the alias.
    """
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    v_good = _register(uri, _walkforward(4.0, seed=5))
    v_worse = _register(uri, _walkforward(12.0, seed=6))
    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(2)
    procs = [
        ctx.Process(target=_race, args=(uri, v_good, 4.0, 5, 0.0, barrier)),
        ctx.Process(target=_race, args=(uri, v_worse, 12.0, 6, 0.5, barrier)),
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=300)
        assert p.exitcode == 0
    assert _champion(uri) == v_good


def test_fast_lookup_declines_what_it_cannot_read(tmp_path: Path):
    db = tmp_path / "mlflow.db"
    uri = f"sqlite:///{db}"
    assert sqlite_registry_dir("models:/m@champion", uri) is None  # no database
    db.write_bytes(b"not a database")
    assert sqlite_registry_dir("models:/m@champion", uri) is None
    assert sqlite_registry_dir("models:/m/latest", uri) is None
    assert sqlite_registry_dir("runs:/abc/model", uri) is None
    assert sqlite_registry_dir("models:/m/1", "postgresql://h/db") is None


@pytest.mark.slow
def test_default_predictor_falls_back_to_the_newest_version_without_champion(trained, tmp_path):
    """No version passed the gate: ``load_predictor()`` serves the newest one and says so."""
    import shutil
    import subprocess
    import sys

    from mlflow import MlflowClient

    from conftest import cli_env, run_cli

    db = tmp_path / "mlflow.db"  # a copy of the store (artifacts stay where they are)
    shutil.copy(Path(trained["dir"]) / "mlflow.db", db)
    uri = f"sqlite:///{db}"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    try:
        client.delete_registered_model_alias("divergence-utility", CHAMPION)
    except Exception:  # the gate had refused it already
        pass
    code = (
        "import warnings, json\n"
        "from divergence import load_predictor\n"
        "with warnings.catch_warnings(record=True) as w:\n"
        "    warnings.simplefilter('always')\n"
        "    p = load_predictor()\n"
        "print(json.dumps([p.model_uri, p.promoted, [type(x.message).__name__ for x in w]]))\n"
    )
    res = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=cli_env(uri), capture_output=True,
        text=True, timeout=300,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr[-2000:]
    served, promoted, warned = json.loads(res.stdout.strip().splitlines()[-1])
    assert (served, promoted) == ("models:/divergence-utility/1", False)
    assert "NotPromotedWarning" in warned
    out = tmp_path / "p.csv"
    cli = run_cli(
        ["predict", "--model", "claude-opus-4-6", "--output", str(out)], tracking_uri=uri,
        cwd=tmp_path,
    )  # fmt: skip
    assert cli.returncode == 0, cli.stderr[-2000:]
    assert "note: divergence-utility has no @champion" in cli.stderr
    assert "not promoted" in cli.stderr and out.is_file()
    # an empty store: still a one-line error, not a fallback to nothing
    empty = f"sqlite:///{tmp_path / 'empty.db'}"
    bad = run_cli(
        ["predict", "--model", "claude-opus-4-6", "--output", str(tmp_path / "q.csv")],
        tracking_uri=empty, cwd=tmp_path,
    )  # fmt: skip
    assert bad.returncode != 0 and "Traceback" not in bad.stderr
    assert [ln for ln in bad.stderr.splitlines() if ln.startswith("error:")]
    assert not (tmp_path / "q.csv").exists()
