"""Recovery from killed processes: stale temporary folders and runs left RUNNING."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from divergence import recovery
from divergence.atomic import atomic_dir, atomic_file


def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def test_next_writer_removes_temporaries_of_a_killed_writer(tmp_path: Path) -> None:
    target = tmp_path / "snapshot"
    dead, me = _dead_pid(), recovery.host()
    stale = tmp_path / f".snapshot.tmp-{me}-{dead}-abc123"
    stale.mkdir()
    (stale / "models.csv.gz").write_bytes(b"partial")
    old = tmp_path / f".snapshot.old-{me}-{dead}"
    old.mkdir()
    live = tmp_path / f".snapshot.tmp-{me}-{os.getpid()}-zzz"  # a live writer: kept
    live.mkdir()
    other = tmp_path / f".snapshot.tmp-otherhost-{dead}-abc"  # another host: kept
    other.mkdir()
    legacy_new = tmp_path / ".snapshot.tmp-k2j3h4"  # untagged, recent: kept
    legacy_new.mkdir()
    legacy_old = tmp_path / ".snapshot.tmp-a1b2c3"  # untagged, old: removed
    legacy_old.mkdir()
    t = time.time() - recovery.LEGACY_TMP_AGE_S - 60
    os.utime(legacy_old, (t, t))
    unrelated = tmp_path / ".snapshotx.tmp-whatever"
    unrelated.mkdir()
    with atomic_dir(target) as tmp:
        (tmp / "ok").write_text("1")
    names = sorted(p.name for p in tmp_path.iterdir())
    assert stale.name not in names and old.name not in names and legacy_old.name not in names
    for kept in (live, other, legacy_new, unrelated, target):
        assert kept.name in names


def test_atomic_file_sweeps_its_own_stale_temporaries(tmp_path: Path) -> None:
    dead = _dead_pid()
    stale = tmp_path / f".out.csv.tmp-{recovery.host()}-{dead}-q1w2e3"
    stale.write_text("half")
    with atomic_file(tmp_path / "out.csv", "w") as fh:
        fh.write("x\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.csv"]


def test_pid_reuse_counts_as_dead() -> None:
    start = recovery.process_start(os.getpid())
    assert start is not None
    assert recovery.process_alive(os.getpid(), started_before=start + 10)
    assert not recovery.process_alive(os.getpid(), started_before=start - 3600)
    assert not recovery.process_alive(_dead_pid())


def test_runs_of_killed_processes_are_marked_killed(tmp_path: Path, monkeypatch) -> None:
    import mlflow
    from mlflow import MlflowClient

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.chdir(tmp_path)
    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(uri)
    try:
        _check_recovery(uri, mlflow, MlflowClient)
    finally:
        mlflow.set_tracking_uri(previous)


def _check_recovery(uri: str, mlflow, MlflowClient) -> None:
    client = MlflowClient(uri)
    exp = client.create_experiment("recovery")
    dead = _dead_pid()

    def run(tags: dict, parent: str | None = None) -> str:
        t = dict(tags)
        if parent:
            t["mlflow.parentRunId"] = parent
        return client.create_run(exp, tags=t).info.run_id

    me = recovery.host()
    killed_top = run({recovery.TAG_HOST: me, recovery.TAG_PID: str(dead)})
    killed_child = run({}, parent=killed_top)
    live_top = run({recovery.TAG_HOST: me, recovery.TAG_PID: str(os.getpid())})
    other_host = run({recovery.TAG_HOST: "elsewhere", recovery.TAG_PID: str(dead)})
    untagged = run({})
    # the launcher run of ``mlflow run`` (in "Default"), its pipeline process killed
    launcher = client.create_run(
        recovery.DEFAULT_EXPERIMENT_ID, tags={recovery.TAG_HOST: me, recovery.TAG_PID: str(dead)}
    ).info.run_id
    with mlflow.start_run(experiment_id=exp):
        ids = recovery.tag_and_recover()
        active = mlflow.active_run().info.run_id
    assert sorted(ids) == sorted([killed_top, killed_child, launcher])
    status = {
        r: client.get_run(r).info.status
        for r in [killed_top, killed_child, live_top, other_host, untagged, launcher]
    }
    assert status[killed_top] == status[killed_child] == status[launcher] == "KILLED"
    assert status[live_top] == status[other_host] == status[untagged] == "RUNNING"
    tags = client.get_run(active).data.tags
    assert tags[recovery.TAG_PID] == str(os.getpid()) and tags[recovery.TAG_HOST] == me


def test_store_lock_lives_beside_the_database_and_old_temp_locks_go(
    tmp_path: Path, monkeypatch
) -> None:
    import fcntl
    import tempfile

    from divergence.registry import store_lock, sweep_temp_locks

    temp = tmp_path / "tmp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    with store_lock(f"sqlite:///{tmp_path / 'store' / 'mlflow.db'}"):  # no such folder: fallback
        pass
    (tmp_path / "db").mkdir()
    with store_lock(f"sqlite:///{tmp_path / 'db' / 'mlflow.db'}"):
        pass
    assert sorted(p.name for p in (tmp_path / "db").iterdir()) == [".mlflow.db.lock"]
    old, held, recent = (temp / f"divergence-mlflow-{k}.lock" for k in ("old", "held", "new"))
    for p in (old, held, recent):
        p.write_text("")
    t = time.time() - 2 * 24 * 3600
    for p in (old, held):
        os.utime(p, (t, t))
    with open(held) as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)  # someone inside: kept
        removed = sweep_temp_locks()
    assert removed == [old]
    fallback = [p for p in temp.iterdir() if p not in (held, recent)]
    assert len(fallback) == 1 and fallback[0].name.startswith("divergence-mlflow-")  # recent: kept
