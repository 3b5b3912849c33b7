"""Atomic writes: a failure (exception or kill) mid-write leaves the previous version intact.

Covers the snapshot (``write_snapshot``), the report directory, exported models and the
``predict --output`` file, by injecting failures into each writer, plus the primitives in
:mod:`divergence.atomic` (swap, fallback, permissions, readers never seeing a gap).
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pandas as pd
import pytest

from divergence import atomic
from divergence.atomic import atomic_dir, atomic_file

REPO = Path(__file__).resolve().parents[1]
SNAPSHOT = REPO / "data" / "snapshot"


def digest(d: Path) -> dict[str, str]:
    """Relative path -> SHA-256 of every file under ``d``."""
    return {
        str(p.relative_to(d)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(d.rglob("*"))
        if p.is_file()
    }


def leftovers(parent: Path, keep: set[str]) -> list[str]:
    """Entries of ``parent`` other than ``keep`` (temporary files or directories left behind)."""
    return sorted(p.name for p in parent.iterdir() if p.name not in keep)


class Boom(RuntimeError):
    """The injected failure."""


# --------------------------------------------------------------------------- primitives


def test_atomic_dir_replaces_whole_directory(tmp_path: Path) -> None:
    target = tmp_path / "t"
    target.mkdir()
    (target / "old.txt").write_text("old")
    with atomic_dir(target) as tmp:
        (tmp / "new.txt").write_text("new")
    assert sorted(p.name for p in target.iterdir()) == ["new.txt"]
    assert leftovers(tmp_path, {"t"}) == []


def test_atomic_dir_exception_keeps_old(tmp_path: Path) -> None:
    target = tmp_path / "t"
    target.mkdir()
    (target / "a.txt").write_text("old")
    with pytest.raises(Boom), atomic_dir(target) as tmp:
        (tmp / "a.txt").write_text("half")
        raise Boom
    assert (target / "a.txt").read_text() == "old"
    assert leftovers(tmp_path, {"t"}) == []


@pytest.mark.parametrize("exchange", [True, False], ids=["renameat2-exchange", "two-renames"])
def test_atomic_dir_both_swap_paths(tmp_path: Path, monkeypatch, exchange: bool) -> None:
    if not exchange:
        monkeypatch.setattr(atomic, "_exchange", lambda a, b: False)
    target = tmp_path / "t"
    for version in ["v1", "v2", "v3"]:
        with atomic_dir(target) as tmp:
            (tmp / "version").write_text(version)
        assert (target / "version").read_text() == version
        assert leftovers(tmp_path, {"t"}) == []


def test_atomic_dir_failed_final_rename_restores_old(tmp_path: Path, monkeypatch) -> None:
    """Fallback path: the old directory is moved aside, then the final rename fails."""
    monkeypatch.setattr(atomic, "_exchange", lambda a, b: False)
    target = tmp_path / "t"
    target.mkdir()
    (target / "a.txt").write_text("old")
    real_replace = os.replace
    calls = []

    def flaky_replace(src, dst):
        calls.append((src, dst))
        if len(calls) == 2:  # the move of the new version into place
            raise OSError("injected rename failure")
        return real_replace(src, dst)

    monkeypatch.setattr(atomic.os, "replace", flaky_replace)
    with pytest.raises(OSError, match="injected"), atomic_dir(target) as tmp:
        (tmp / "a.txt").write_text("new")
    assert (target / "a.txt").read_text() == "old"
    assert leftovers(tmp_path, {"t"}) == []


def test_readers_never_see_a_missing_directory(tmp_path: Path) -> None:
    """While one thread replaces the directory repeatedly, another never finds it absent."""
    a, b = tmp_path / "probe-a", tmp_path / "probe-b"
    a.mkdir()
    b.mkdir()
    if not atomic._exchange(a, b):
        pytest.skip("no atomic directory exchange on this platform (two-rename fallback)")
    target = tmp_path / "t"
    with atomic_dir(target) as tmp:
        (tmp / "manifest.json").write_text("0")
    stop = threading.Event()
    misses = []

    def watch() -> None:
        while not stop.is_set():
            try:
                (target / "manifest.json").read_text()
            except FileNotFoundError:
                misses.append(1)

    th = threading.Thread(target=watch)
    th.start()
    try:
        for i in range(200):
            with atomic_dir(target) as tmp:
                (tmp / "manifest.json").write_text(str(i))
    finally:
        stop.set()
        th.join()
    assert misses == []


def test_atomic_file_failure_keeps_old_and_permissions(tmp_path: Path) -> None:
    target = tmp_path / "out.csv"
    target.write_text("old\n")
    with pytest.raises(Boom), atomic_file(target, "w") as fh:
        fh.write("partial")
        raise Boom
    assert target.read_text() == "old\n"
    assert leftovers(tmp_path, {"out.csv"}) == []
    with atomic_file(target, "w") as fh:
        fh.write("new\n")
    assert target.read_text() == "new\n"
    mask = os.umask(0o022)
    os.umask(mask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~mask  # not mkstemp's private 0600


# --------------------------------------------------------------------------- snapshot


@pytest.fixture(scope="module")
def tables():
    from divergence.snapshot import load_snapshot

    return load_snapshot(SNAPSHOT)


@pytest.fixture()
def snap(tmp_path: Path) -> Path:
    import shutil

    out = tmp_path / "data" / "snapshot"
    shutil.copytree(SNAPSHOT, out)
    return out


def test_snapshot_write_failure_keeps_previous(tables, snap: Path, monkeypatch) -> None:
    from divergence import snapshot

    before = digest(snap)
    real = snapshot._encode

    def failing(df: pd.DataFrame, kind: str) -> bytes:
        if kind == "benchmarks":  # after models and ratings were written
            raise Boom("disk full")
        return real(df, kind)

    monkeypatch.setattr(snapshot, "_encode", failing)
    with pytest.raises(Boom):
        snapshot.write_snapshot(tables, snap, provenance=[])
    assert digest(snap) == before
    assert leftovers(snap.parent, {"snapshot"}) == []
    snapshot.load_snapshot(snap)  # hashes still match the manifest


def test_snapshot_rewrite_is_byte_identical(tables, snap: Path) -> None:
    import json

    from divergence.snapshot import write_snapshot

    manifest = json.loads((snap / "manifest.json").read_text())
    before = digest(snap)
    write_snapshot(tables, snap, provenance=manifest["sources"])
    after = digest(snap)
    assert {k: v for k, v in after.items() if k.endswith(".csv.gz")} == {
        k: v for k, v in before.items() if k.endswith(".csv.gz")
    }


KILL_SCRIPT = textwrap.dedent("""
    import sys, time
    from divergence import snapshot
    real = snapshot._encode
    def slow(df, kind):
        if kind == "benchmarks":
            print("writing", flush=True)
            time.sleep(60)
        return real(df, kind)
    snapshot._encode = slow
    tables = snapshot.load_snapshot(sys.argv[1])
    snapshot.write_snapshot(tables, sys.argv[2], provenance=[])
""")


@pytest.mark.slow
def test_snapshot_killed_mid_write_keeps_previous(snap: Path, tmp_path: Path) -> None:
    from divergence.snapshot import load_snapshot

    before = digest(snap)
    proc = subprocess.Popen(
        [sys.executable, "-c", KILL_SCRIPT, str(SNAPSHOT), str(snap)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    try:
        line = proc.stdout.readline()
        assert line.strip() == "writing", proc.stderr.read()
        tmp_dirs = [p for p in snap.parent.iterdir() if p.name.startswith(".snapshot.tmp-")]
        assert tmp_dirs and (tmp_dirs[0] / "models.csv.gz").exists()  # genuinely mid-write
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert digest(snap) == before
    load_snapshot(snap)
    # the dead writer's temporary directory is the only trace, and it is not the snapshot
    assert all(
        p.name.startswith(".snapshot.tmp-") for p in snap.parent.iterdir() if p.name != "snapshot"
    )


# --------------------------------------------------------------------------- report


def test_report_failure_keeps_previous_report(tmp_path: Path, monkeypatch) -> None:
    from divergence import reports

    out = tmp_path / "reports"
    out.mkdir()
    for name in reports.MARKERS:
        (out / name).write_text(f"previous {name}")
    (out / "figure.png").write_bytes(b"previous png")
    before = digest(out)

    def failing_write_files(a, tmp: Path) -> dict:
        (tmp / "report.html").write_text("<html>half")
        (tmp / "findings.json").write_text("{")
        raise Boom("figure rendering failed")

    monkeypatch.setattr(reports, "write_files", failing_write_files)
    with pytest.raises(Boom):
        reports.render_report(object(), out, log_to_mlflow=False)
    assert digest(out) == before
    assert leftovers(tmp_path, {"reports"}) == []


# --------------------------------------------------------------------------- export, predict


@pytest.mark.slow
def test_export_failure_keeps_previous_export(trained, tmp_path: Path, monkeypatch) -> None:
    from divergence import export

    monkeypatch.setenv("MLFLOW_TRACKING_URI", trained["tracking_uri"])
    monkeypatch.setenv("DIVERGENCE_HOME", str(tmp_path))  # exports go only below models/
    out = tmp_path / "models" / "divergence-utility"
    export.export_model(trained["model_uri"], out)
    assert (out / "MODEL_CARD.md").exists() and (out / "predictor" / "main.json").exists()
    before = digest(out)

    def failing_card(card: dict) -> str:
        raise Boom("card template error")

    monkeypatch.setattr(export, "model_card", failing_card)
    with pytest.raises(Boom):
        export.export_model(trained["model_uri"], out)
    assert digest(out) == before
    assert leftovers(out.parent, {"divergence-utility"}) == []


def test_predict_output_failure_keeps_previous(
    predictor_dir: Path, tmp_path: Path, monkeypatch, capsys
) -> None:
    from divergence.cli import main

    src = tmp_path / "in.csv"
    src.write_text("model_id,aa.gpqa\nm1,0.5\nm2,0.6\n")
    out = tmp_path / "pred.csv"
    out.write_text("previous\n")
    real = pd.DataFrame.to_csv

    def failing_to_csv(self, path_or_buf=None, *args, **kwargs):
        if hasattr(path_or_buf, "write"):
            path_or_buf.write("query,model_id\nm1,")  # half a file
            raise Boom("disk full")
        return real(self, path_or_buf, *args, **kwargs)

    monkeypatch.setattr(pd.DataFrame, "to_csv", failing_to_csv)
    rc = main(
        ["predict", "--input", str(src), "--output", str(out), "--model-uri", str(predictor_dir)]
    )
    assert rc == 1
    assert "internal error in 'predict' (Boom: disk full)" in capsys.readouterr().err
    assert out.read_text() == "previous\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv", "pred.csv"]
    assert leftovers(tmp_path, {"in.csv", "pred.csv"}) == []
    monkeypatch.setattr(pd.DataFrame, "to_csv", real)
    assert (
        main(
            [
                "predict",
                "--input",
                str(src),
                "--output",
                str(out),
                "--model-uri",
                str(predictor_dir),
            ]
        )
        == 0
    )
    assert len(pd.read_csv(out)) == 2


def test_no_partial_output_is_visible_during_a_slow_write(tmp_path: Path) -> None:
    """A reader polling the target sees the old content until the new one is complete."""
    target = tmp_path / "big.csv"
    target.write_text("old\n")
    seen = set()
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            seen.add(target.read_text())

    th = threading.Thread(target=watch)
    th.start()
    try:
        with atomic_file(target, "w") as fh:
            for i in range(50):
                fh.write(f"row{i}\n")
                fh.flush()
                time.sleep(0.002)
    finally:
        stop.set()
        th.join()
    complete = "".join(f"row{i}\n" for i in range(50))
    assert seen <= {"old\n", complete}
