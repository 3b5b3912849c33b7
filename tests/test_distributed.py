"""Beyond one machine: Optuna workers sharing a PostgreSQL study, MLflow server on PostgreSQL.

The slow tests start a throwaway PostgreSQL cluster (``scripts/postgres.sh``: installs the
Debian package ``postgresql`` when missing) and an ``mlflow server`` backed by it, then run
concurrently, against one study:

- worker A: ``python -m divergence tune --storage postgresql://... --workers 2`` (CLI, two
  spawned worker processes);
- worker B: the pipeline (``runs.run`` with tune, evaluate, train) with the same storage.

They check that every trial is in the study exactly once and logged to MLflow exactly once,
that the best params lie in the single-process search space, and that the pipeline's runs
and model version are recorded exactly once. The fast tests cover storage URLs and the
trial-seeded sampler without a database.
"""

from __future__ import annotations

import collections
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import warnings
from pathlib import Path

import optuna
import pytest

from conftest import REPO, SMALL_EXPERIMENT, SNAPSHOT, cli_env
from divergence.errors import DivergenceError
from divergence.tuning import (
    TrialSeededTPESampler,
    _rdb_storage,
    _storage,
    database_url,
    is_database_url,
    redact,
    search_space,
)

optuna.logging.set_verbosity(optuna.logging.WARNING)

PG_SCRIPT = REPO / "scripts" / "postgres.sh"
TRIALS_A, WORKERS_A = 4, 2  # CLI `divergence tune --workers 2`
TRIALS_B = 2  # pipeline run: tune + evaluate + train
EXPERIMENT = "test-small"  # name in SMALL_EXPERIMENT
SEED = 7  # seed in SMALL_EXPERIMENT


# --------------------------------------------------------------------------- fast tests


def test_database_url_detection():
    assert is_database_url("postgresql://u@h:5432/db")
    assert is_database_url("postgresql+psycopg2://u@h/db")
    assert is_database_url("postgres://u@h/db")
    assert is_database_url("sqlite:///x.db")
    assert not is_database_url("runs/optuna.journal")
    assert not is_database_url("postgresql_study.log")


def test_database_url_gets_installed_driver():
    url = database_url("postgresql://u:secret@h:1/db")
    assert url.startswith(("postgresql+psycopg2://", "postgresql+psycopg://"))
    assert url.endswith("u:secret@h:1/db")
    assert database_url("postgres://h/db").startswith("postgresql+")
    assert database_url("sqlite:///a.db") == "sqlite:///a.db"
    assert "secret" not in redact("postgresql://u:secret@h:1/db")


def test_unreachable_database_is_one_line_error():
    with pytest.raises(
        DivergenceError, match=r"127\.0\.0\.1:1/nodb: cannot use Optuna storage"
    ) as e:
        _rdb_storage("postgresql://postgres:pw@127.0.0.1:1/nodb", attempts=1)
    assert "pw" not in str(e.value) and "\n" not in str(e.value)


def _cheap(trial: optuna.trial.BaseTrial) -> float:
    p = search_space(trial)
    return (p["learning_rate"] - 0.05) ** 2 + p["max_depth"] / 100


def test_trial_seeded_sampler_is_reproducible_in_one_process():
    runs = []
    for _ in range(2):
        st = optuna.create_study(sampler=TrialSeededTPESampler(seed=3, multivariate=True))
        st.optimize(_cheap, n_trials=12)
        runs.append([t.params for t in st.trials])
    assert runs[0] == runs[1]


def test_workers_sharing_a_study_draw_distinct_trials(tmp_path):
    """Two workers with the same seed on one storage never repeat each other's samples."""
    storage = _storage(str(tmp_path / "study.journal"))
    optuna.create_study(study_name="s", storage=storage)
    workers = [
        optuna.load_study(
            study_name="s",
            storage=storage,
            sampler=TrialSeededTPESampler(seed=3, multivariate=True, constant_liar=True),
        )
        for _ in range(2)
    ]
    for _ in range(4):
        for w in workers:
            t = w.ask()
            w.tell(t, _cheap(t))
    trials = optuna.load_study(study_name="s", storage=storage).trials
    assert sorted(t.number for t in trials) == list(range(8))
    assert len({tuple(sorted(t.params.items())) for t in trials}) == 8


# --------------------------------------------------------------------------- PostgreSQL


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _have_postgres() -> bool:
    return (
        any(Path("/usr/lib/postgresql").glob("*/bin/initdb")) or shutil.which("initdb") is not None
    )


@pytest.fixture(scope="session")
def postgres():
    """A throwaway cluster on 127.0.0.1 with databases ``optuna`` and ``mlflow``."""
    if not _have_postgres() and shutil.which("apt-get") is None:
        pytest.skip("PostgreSQL is not installed and apt-get is unavailable to install it")
    t0 = time.perf_counter()
    res = subprocess.run(
        ["bash", str(PG_SCRIPT), "start"], capture_output=True, text=True, timeout=900
    )
    if res.returncode != 0:
        pytest.fail(f"scripts/postgres.sh start failed:\n{res.stdout}\n{res.stderr[-4000:]}")
    info = dict(line.split("=", 1) for line in res.stdout.splitlines() if "=" in line)
    try:
        made = subprocess.run(
            ["bash", str(PG_SCRIPT), "createdb", info["PGDIR"], "optuna", "mlflow"],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert made.returncode == 0, made.stderr
        info["startup_s"] = f"{time.perf_counter() - t0:.1f}"
        yield info
    finally:
        subprocess.run(
            ["bash", str(PG_SCRIPT), "stop", info["PGDIR"], "--rm"],
            capture_output=True,
            text=True,
            timeout=120,
        )


def _url(pg: dict, db: str) -> str:
    return f"{pg['PGURL']}/{db}"


def _stop(proc: subprocess.Popen, grace: float = 3) -> None:
    """Stop a process started with ``start_new_session`` and everything left in its group."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)  # group id == leader pid
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # stragglers: uvicorn workers, job consumers
    except ProcessLookupError:
        pass
    proc.wait(timeout=grace)


@pytest.fixture(scope="session")
def mlflow_server(postgres, tmp_path_factory):
    """``mlflow server`` with a PostgreSQL backend store and a local artifact root."""
    d = tmp_path_factory.mktemp("mlflow-server")
    port = _free_port()
    backend = database_url(_url(postgres, "mlflow"))  # postgresql+psycopg2://...
    log = open(d / "server.log", "w")  # noqa: SIM115 (the server outlives this block)
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mlflow",
            "server",
            "--backend-store-uri",
            backend,
            "--default-artifact-root",
            str(d / "artifacts"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "2",
        ],
        cwd=d,
        env=cli_env(),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    uri = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                with urllib.request.urlopen(f"{uri}/health", timeout=5) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                log.flush()
                pytest.fail(
                    f"mlflow server did not become healthy:\n{(d / 'server.log').read_text()[-4000:]}"
                )
            time.sleep(1)
        yield {"uri": uri, "dir": d, "startup_s": f"{time.perf_counter() - t0:.1f}"}
    finally:
        _stop(proc)
        log.close()


PIPELINE = """
import sys
from divergence.experiment import load_experiment
from divergence.runs import run
out = run(load_experiment(sys.argv[1], n_trials=int(sys.argv[2])), ("tune", "evaluate", "train"),
          storage=sys.argv[3])
print("RUN_ID", out["run_id"])
"""


@pytest.fixture(scope="session")
def distributed(postgres, mlflow_server, tmp_path_factory):
    """Run worker A (CLI tune, 2 processes) and B (pipeline) concurrently on one study."""
    d = tmp_path_factory.mktemp("distributed")
    storage = _url(postgres, "optuna")  # bare postgresql:// URL, as a user would type it
    env = cli_env(mlflow_server["uri"])
    cmds = {
        "A": [
            sys.executable,
            "-m",
            "divergence",
            "tune",
            "--experiment",
            str(SMALL_EXPERIMENT),
            "--storage",
            storage,
            "--n-trials",
            str(TRIALS_A),
            "--workers",
            str(WORKERS_A),
        ],
        "B": [sys.executable, "-c", PIPELINE, str(SMALL_EXPERIMENT), str(TRIALS_B), storage],
    }
    t0 = time.perf_counter()
    procs, logs = {}, {}
    try:
        for k, cmd in cmds.items():
            logs[k] = (open(d / f"{k}.out", "w"), open(d / f"{k}.err", "w"))  # noqa: SIM115
            procs[k] = subprocess.Popen(
                cmd, cwd=REPO, env=env, stdout=logs[k][0], stderr=logs[k][1], start_new_session=True
            )
        for k, p in procs.items():
            try:
                p.wait(timeout=420)
            except subprocess.TimeoutExpired:
                pytest.fail(f"worker {k} timed out")
    finally:
        for p in procs.values():
            _stop(p)
        for fh in logs.values():
            fh[0].close()
            fh[1].close()
    elapsed = time.perf_counter() - t0
    out = {k: ((d / f"{k}.out").read_text(), (d / f"{k}.err").read_text()) for k in cmds}
    for k, p in procs.items():
        assert p.returncode == 0, f"worker {k} failed:\n{out[k][1][-4000:]}"
    top_b = re.search(r"RUN_ID (\w+)", out["B"][0])
    assert top_b, out["B"]
    print(
        f"\n[distributed] postgres {postgres['startup_s']}s, mlflow server {mlflow_server['startup_s']}s, "
        f"workers {elapsed:.1f}s"
    )
    return {
        "storage": storage,
        "tracking_uri": mlflow_server["uri"],
        "top_b": top_b.group(1),
        "out": out,
    }


def _study(distributed) -> optuna.Study:
    storage = _storage(distributed["storage"])
    names = optuna.get_all_study_names(storage)
    assert len(names) == 1, names  # both workers joined ONE study
    return optuna.load_study(study_name=names[0], storage=storage)


@pytest.mark.slow
def test_workers_share_one_study_named_by_experiment_seed_snapshot(distributed):
    from divergence.snapshot import snapshot_hash

    study = _study(distributed)
    from divergence.experiment import load_experiment
    from divergence.runs import config_tag

    tag = config_tag(load_experiment(SMALL_EXPERIMENT))
    assert study.study_name == f"{EXPERIMENT}-seed{SEED}-{snapshot_hash(SNAPSHOT)[:12]}-{tag}"


@pytest.mark.slow
def test_every_trial_recorded_once_in_study(distributed):
    trials = _study(distributed).trials
    numbers = [t.number for t in trials]
    assert len(trials) == TRIALS_A + TRIALS_B
    assert sorted(numbers) == list(range(TRIALS_A + TRIALS_B))
    assert all(t.state == optuna.trial.TrialState.COMPLETE for t in trials)
    sessions = collections.Counter(t.user_attrs["session"] for t in trials)
    assert sorted(sessions.values()) == sorted([TRIALS_A, TRIALS_B])
    # same seed everywhere, yet no worker repeated another's parameters
    assert len({tuple(sorted(t.params.items())) for t in trials}) == len(trials)


@pytest.mark.slow
def test_best_params_lie_in_single_process_search_space(distributed):
    study = _study(distributed)
    ref = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    ref.optimize(lambda t: float(len(search_space(t))), n_trials=1)
    space = ref.trials[0].distributions
    for t in study.trials:
        assert t.distributions == space
    best = study.best_params
    assert set(best) == set(space)
    for k, v in best.items():
        assert space[k]._contains(space[k].to_internal_repr(v)), (k, v)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # FixedTrial warns on out-of-range values
        assert search_space(optuna.trial.FixedTrial(best)) == best
    assert study.best_value == min(t.value for t in study.trials)


def _runs(distributed):
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=distributed["tracking_uri"])
    exp = client.get_experiment_by_name(f"divergence/{EXPERIMENT}")
    assert exp is not None
    runs = client.search_runs([exp.experiment_id], max_results=1000)
    default = client.get_experiment_by_name("Default")
    if default is not None:
        assert client.search_runs([default.experiment_id]) == []
    return client, runs


def _stage(run) -> str | None:
    """The pipeline stage a run belongs to (its name says what it did)."""
    return run.data.tags.get("divergence.stage")


@pytest.mark.slow
def test_mlflow_runs_recorded_once(distributed):
    client, runs = _runs(distributed)
    by_id = {r.info.run_id: r for r in runs}
    parent = {r.info.run_id: r.data.tags.get("mlflow.parentRunId") for r in runs}
    names = collections.Counter(_stage(r) for r in runs)
    assert all(r.info.status == "FINISHED" for r in runs)
    top = [r for r in runs if parent[r.info.run_id] is None]
    assert len(top) == 2 and all(r.info.run_name.startswith(f"{EXPERIMENT}: ") for r in top)
    assert distributed["top_b"] in {r.info.run_id for r in top}
    assert names["tune"] == 2 and names["evaluate"] == 1 and names["train"] == 1
    for r in runs:
        if _stage(r) in {"tune", "evaluate", "train"}:
            assert parent[r.info.run_id] in {t.info.run_id for t in top}
            assert r.info.run_name.startswith(f"{_stage(r)} {EXPERIMENT}: ")  # says what it did
    for name in ["evaluate", "train"]:
        run = next(r for r in runs if _stage(r) == name)
        assert parent[run.info.run_id] == distributed["top_b"]
    # every trial logged exactly once, under the tune run of the worker that ran it
    trial_runs = [r for r in runs if r.info.run_name.startswith("trial-")]
    numbers = [int(r.data.tags["optuna.trial_number"]) for r in trial_runs]
    assert sorted(numbers) == list(range(TRIALS_A + TRIALS_B))
    study = _study(distributed)
    session_of = {t.number: t.user_attrs["session"] for t in study.trials}
    for r in trial_runs:
        tune = by_id[parent[r.info.run_id]]
        assert _stage(tune) == "tune"
        assert (
            tune.data.tags["optuna.session"] == session_of[int(r.data.tags["optuna.trial_number"])]
        )
        assert r.info.run_name == f"trial-{int(r.data.tags['optuna.trial_number']):03d}"
    for tune in (r for r in runs if _stage(r) == "tune"):
        assert tune.data.tags["optuna.study"] == study.study_name
        assert tune.data.metrics["n_trials"] in {TRIALS_A, TRIALS_B}
    tune_b = next(
        r for r in runs if _stage(r) == "tune" and parent[r.info.run_id] == distributed["top_b"]
    )
    assert tune_b.data.metrics["n_trials"] == TRIALS_B
    assert tune_b.data.params["workers"] == "1"


@pytest.mark.slow
def test_model_version_registered_once(distributed):
    client, runs = _runs(distributed)
    train = next(r for r in runs if _stage(r) == "train")
    versions = client.search_model_versions("name='divergence-utility'")
    assert len(versions) == 1
    assert versions[0].run_id == train.info.run_id and versions[0].status == "READY"
    assert versions[0].tags["champion_decision"]
