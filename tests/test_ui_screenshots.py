"""What a reviewer sees in the MLflow UI: the experiment, the evaluate run, the registered model.

Starts ``mlflow ui`` on 127.0.0.1 (a free port) against the session's trained store and renders
three pages with headless Chromium: ``--dump-dom`` for the text checks, ``--screenshot`` for a
PNG under the test's temp directory. Chromium is installed with apt-get only under CI
(``CI=true``, as root); elsewhere the test is skipped with the reason when it is missing.
"""

from __future__ import annotations

import html
import os
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import cli_env

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
PAGE_TIMEOUT = 180  # s per page; the machine may be loaded


def _chromium() -> str:
    for name in BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    if os.environ.get("CI") == "true" and shutil.which("apt-get") and os.geteuid() == 0:
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        for cmd in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "chromium"]):
            subprocess.run(cmd, env=env, capture_output=True, timeout=600, check=False)
        for name in BROWSERS:
            found = shutil.which(name)
            if found:
                return found
        pytest.skip("chromium could not be installed with apt-get")
    pytest.skip("no chromium on PATH (installed automatically only under CI=true as root)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _text(dom: str) -> str:
    dom = re.sub(r"<(script|style)\b.*?</\1>", " ", dom, flags=re.S)
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", dom)))


def _render(browser: str, url: str, png: Path) -> str:
    base = [
        browser,
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=1500,1100",
        "--virtual-time-budget=20000",
    ]
    dom = subprocess.run(
        [*base, "--dump-dom", url], capture_output=True, text=True, timeout=PAGE_TIMEOUT
    ).stdout
    subprocess.run([*base, f"--screenshot={png}", url], capture_output=True, timeout=PAGE_TIMEOUT)
    return _text(dom)


@pytest.mark.slow
def test_mlflow_ui_shows_headline_metrics_figures_and_gate(trained, tmp_path):
    browser = _chromium()
    db = trained["dir"] / "mlflow.db"
    with sqlite3.connect(db) as con:
        (exp_id,) = con.execute(
            "SELECT experiment_id FROM experiments WHERE name = 'divergence/test-small'"
        ).fetchone()
        (run_id,) = con.execute(
            "SELECT r.run_uuid FROM runs r JOIN tags t ON t.run_uuid = r.run_uuid "
            "WHERE t.key = 'divergence.stage' AND t.value = 'evaluate' AND r.experiment_id = ?",
            (exp_id,),
        ).fetchone()
        (kind,) = con.execute(
            "SELECT value FROM experiment_tags WHERE experiment_id = ? AND key = ?",
            (exp_id, "mlflow.experimentKind"),
        ).fetchone()
    assert kind == "custom_model_development"
    port = _free_port()
    mlflow_bin = str(Path(sys.executable).parent / "mlflow")
    server = subprocess.Popen(
        [
            mlflow_bin,
            "ui",
            "--backend-store-uri",
            trained["tracking_uri"],
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
        ],
        cwd=trained["dir"],
        env=cli_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        import urllib.request

        deadline = time.monotonic() + 240
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            assert server.poll() is None, "mlflow ui exited"
            assert time.monotonic() < deadline, "mlflow ui did not answer within 240 s"
            time.sleep(2)
        root = f"http://127.0.0.1:{port}/#"
        ml = "?workflowType=machine_learning"
        pages = {
            "experiment": f"{root}/experiments/{exp_id}/runs{ml}",
            "evaluate": f"{root}/experiments/{exp_id}/runs/{run_id}{ml}",
            "artifacts": f"{root}/experiments/{exp_id}/runs/{run_id}/artifacts{ml}",
            "model": f"{root}/models/divergence-utility/versions/1",
        }
        text = {k: _render(browser, url, tmp_path / f"{k}.png") for k, url in pages.items()}
    finally:
        os.killpg(server.pid, 15)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:  # uvicorn workers may ignore SIGTERM while busy
            os.killpg(server.pid, 9)
            server.wait(timeout=30)
    print("screenshots:", sorted(str(p) for p in tmp_path.glob("*.png")))
    assert "divergence/test-small" in text["experiment"]
    assert "evaluate" in text["experiment"] and "train" in text["experiment"]
    for needle in [
        "Walk-forward",
        "walkforward_rmse",
        "walkforward_spearman",
        "divergence-snapshot",
    ]:
        assert needle in text["evaluate"], needle
    assert "predicted_vs_actual.png" in text["artifacts"]
    assert "walkforward_metrics.json" in text["artifacts"]
    for needle in ["Model card", "Gate:", "gate.decision"]:
        assert needle in text["model"], needle
    assert any(p.stat().st_size > 10_000 for p in tmp_path.glob("*.png"))
