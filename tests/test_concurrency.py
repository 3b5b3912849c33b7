"""Concurrency on one machine: parallel pipelines on one SQLite store, parallel Optuna workers.

- Two ``python -m divergence train`` processes started at once on a *fresh* SQLite store: MLflow
  creates the schema on first access and two processes doing so at once used to crash
  (alembic "Online migration expected to match one row"); :func:`divergence.runs.init_store`
  serialises that first access with a file lock.
- Two ``mlflow run`` processes at once on one (initialised) SQLite store.
- ``divergence tune --storage <file>.journal --workers 2``: Optuna's JournalFileBackend, no
  "database is locked", every trial recorded once in the journal and in MLflow.

PostgreSQL (several machines) is covered by ``tests/test_distributed.py``.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import REPO, SMALL_EXPERIMENT, cli_env

EXPERIMENT = "divergence/test-small"
LOCK_ERRORS = ("database is locked", "Online migration expected", "Traceback", "OperationalError")


def _start(cmd: list[str], env: dict[str, str], cwd: Path, name: str) -> subprocess.Popen:
    return subprocess.Popen(
        cmd,
        cwd=cwd,
        env=env,
        stdout=open(cwd / f"{name}.out", "w"),
        stderr=open(cwd / f"{name}.err", "w"),
        text=True,
    )


def _finish(procs: dict[str, subprocess.Popen], cwd: Path, timeout: float = 900) -> dict[str, str]:
    errs = {}
    deadline = time.monotonic() + timeout
    for name, p in procs.items():
        try:
            p.wait(timeout=max(1.0, deadline - time.monotonic()))
        finally:
            if p.poll() is None:
                p.kill()
        errs[name] = (cwd / f"{name}.err").read_text()
        assert p.returncode == 0, f"{name} exited {p.returncode}:\n{errs[name][-3000:]}"
    for name, err in errs.items():
        for bad in LOCK_ERRORS:
            assert bad not in err, f"{name}: {bad!r} in stderr:\n{err[-3000:]}"
    return errs


def _runs(uri: str):
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    exp = client.get_experiment_by_name(EXPERIMENT)
    assert exp is not None
    return client, client.search_runs([exp.experiment_id], max_results=1000)


def _check_pipelines(uri: str, tops: list) -> None:
    """Each top-level run finished with its own evaluate/train children and metrics."""
    client, runs = _runs(uri)
    assert len(tops) == 2
    children: dict[str, list[str]] = {t.info.run_id: [] for t in tops}
    for r in runs:
        parent = r.data.tags.get("mlflow.parentRunId")
        if parent in children:
            children[parent].append(r.data.tags.get("divergence.stage"))
            assert r.info.status == "FINISHED", r.info.run_name
    for t in tops:
        assert t.info.status == "FINISHED"
        assert sorted(children[t.info.run_id]) == ["evaluate", "train"]
        assert "walkforward_rmse" in t.data.metrics
    # same config, same data, same seed: the two concurrent runs agree exactly
    assert tops[0].data.metrics["walkforward_rmse"] == tops[1].data.metrics["walkforward_rmse"]
    versions = client.search_model_versions("name='divergence-utility'")
    assert sorted(int(v.version) for v in versions) == [1, 2]
    assert all(v.status == "READY" for v in versions)
    assert {v.run_id for v in versions} == {
        r.info.run_id for r in runs if r.data.tags.get("divergence.stage") == "train"
    }


@pytest.mark.slow
def test_two_pipelines_at_once_on_a_fresh_sqlite_store(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    env = cli_env(uri)
    cmd = [sys.executable, "-m", "divergence", "train", "--experiment", str(SMALL_EXPERIMENT)]
    _finish({"a": _start(cmd, env, tmp_path, "a"), "b": _start(cmd, env, tmp_path, "b")}, tmp_path)
    _client, runs = _runs(uri)
    tops = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    _check_pipelines(uri, tops)


@pytest.mark.slow
def test_two_mlflow_runs_at_once(tmp_path: Path) -> None:
    """``mlflow run`` twice at once on one SQLite store (as on the default ``mlflow.db``).

    ``mlflow run`` itself opens the store before our code runs; on a store that does not
    exist yet two such parents race in MLflow's own schema creation, which no entry point
    can prevent, so the store is created first, as the default store is after its first use.
    """
    from mlflow import MlflowClient

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    MlflowClient(tracking_uri=uri).create_experiment(
        EXPERIMENT, artifact_location=str(tmp_path / "artifacts")
    )
    bindir = str(Path(sys.executable).parent)
    env = cli_env(uri, PATH=bindir + ":" + cli_env()["PATH"])
    cmd = [
        str(Path(bindir) / "mlflow"),
        "run",
        str(REPO),
        "-e",
        "train",
        "--env-manager",
        "local",
        "-P",
        f"experiment={SMALL_EXPERIMENT}",
        "--experiment-name",
        EXPERIMENT,
    ]
    _finish({"a": _start(cmd, env, tmp_path, "a"), "b": _start(cmd, env, tmp_path, "b")}, tmp_path)
    _client, runs = _runs(uri)
    tops = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    assert all(
        r.data.tags.get("mlflow.source.type") == "PROJECT" for r in tops
    )  # created by mlflow run
    _check_pipelines(uri, tops)


@pytest.mark.slow
def test_parallel_optuna_workers_with_journal_file(tmp_path: Path) -> None:
    import optuna
    from optuna.storages.journal import JournalFileBackend, JournalStorage

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    journal = tmp_path / "optuna.journal"
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "divergence",
            "tune",
            "--experiment",
            str(SMALL_EXPERIMENT),
            "--storage",
            str(journal),
            "--workers",
            "2",
            "--n-trials",
            "4",
        ],
        cwd=tmp_path,
        env=cli_env(uri),
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert res.returncode == 0, res.stderr[-3000:]
    for bad in LOCK_ERRORS:
        assert bad not in res.stderr, res.stderr[-3000:]
    storage = JournalStorage(JournalFileBackend(str(journal)))
    studies = optuna.get_all_study_summaries(storage)
    assert len(studies) == 1
    study = optuna.load_study(study_name=studies[0].study_name, storage=storage)
    done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(study.trials) == len(done) == 4
    assert len({t.number for t in done}) == 4
    assert (
        len({tuple(sorted(t.params.items())) for t in done}) == 4
    )  # workers did not repeat samples

    client, runs = _runs(uri)
    tune = [r for r in runs if r.data.tags.get("divergence.stage") == "tune"]
    assert len(tune) == 1 and tune[0].data.params["workers"] == "2"
    trials = [r for r in runs if r.info.run_name.startswith("trial-")]
    assert len(trials) == 4
    assert all(r.data.tags["mlflow.parentRunId"] == tune[0].info.run_id for r in trials)
    assert sorted(r.data.metrics["inner_cv_rmse"] for r in trials) == sorted(t.value for t in done)
