"""Security behaviour, checked on running code (not on source text or documentation).

- A crafted model directory whose every file is a pickle that would create a flag file
  when unpickled is given to every loader (``load_predictor``, ``predict``, ``export``,
  the benchmark's scikit-learn worker): each refuses it and the flag never appears.
- The MLflow server started with the command of ``docs/security.md`` listens on
  127.0.0.1 only (read from the kernel's socket table of the started process).
"""

from __future__ import annotations

import os
import pickle
import shlex
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from divergence.cli import main

REPO = Path(__file__).resolve().parents[1]
FILES = [
    "main.json",
    "main.ubj",
    "bench.json",
    "bench.ubj",
    "intervals.json",
    "features.csv.gz",
    "aliases.csv.gz",
    "card.json",
    "model.pkl",
    "rows.pkl",
    "ridge.json",
    "rows.npy",
    "MLmodel",
    "python_model.pkl",
]


class _Exploit:
    """Unpickling this runs code: it creates ``flag``."""

    def __init__(self, flag: Path) -> None:
        self.flag = flag

    def __reduce__(self):
        return (Path.touch, (self.flag,))


@pytest.fixture
def evil(tmp_path: Path) -> tuple[Path, Path]:
    d = tmp_path / "evil" / "predictor"
    d.mkdir(parents=True)
    flag = tmp_path / "pwned"
    blob = pickle.dumps(_Exploit(flag))
    assert not flag.exists()
    pickle.loads(blob)  # the payload works: unpickling it does create the flag
    assert flag.exists()
    flag.unlink()
    for name in FILES:
        (d / name).write_bytes(blob)
    return d.parent, flag


def test_crafted_model_dir_is_never_unpickled_in_process(evil, tmp_path, capsys) -> None:
    from divergence.errors import DivergenceError
    from divergence.predictor import Predictor, load_predictor

    model, flag = evil
    for target in (model, model / "predictor"):
        with pytest.raises(DivergenceError):
            load_predictor(target)
        with pytest.raises(DivergenceError):
            Predictor(model / "predictor")
    out = tmp_path / "out.csv"
    inp = tmp_path / "in.csv"
    inp.write_text("aa.gpqa\n0.5\n")
    for argv in (
        ["predict", "--input", str(inp), "--output", str(out), "--model-uri", str(model)],
        ["predict", "--model", "gpt-4o", "--output", str(out), "--model-uri", str(model)],
        ["export", "--model-uri", str(model)],
    ):
        assert main(argv) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.count("error:") == 3, err
    assert not flag.exists(), "a model file was unpickled"
    assert not out.exists()


def test_bench_sklearn_worker_never_unpickles(evil) -> None:
    model, flag = evil
    for d in (model, model / "predictor"):
        res = subprocess.run(
            [sys.executable, "-m", "divergence.bench", "--worker", "sklearn-serve"]
            + ["--model-uri", str(d), "--calls", "1", "--repeats", "1"],
            capture_output=True,
            text=True,
            timeout=300,
            env={**os.environ, "OMP_NUM_THREADS": "1"},
        )
        assert res.returncode == 2, res.stderr
        assert "Traceback" not in res.stderr and "error:" in res.stderr
    assert not flag.exists(), "the benchmark unpickled a file"


def _listening(pid_tree: set[int], port: int) -> list[str]:
    """Local addresses (``ip:port``) of TCP sockets in LISTEN state on ``port``."""
    inodes: set[str] = set()
    for pid in pid_tree:
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                link = os.readlink(f"/proc/{pid}/fd/{fd}")
                if link.startswith("socket:["):
                    inodes.add(link[8:-1])
        except OSError:
            continue
    found = []
    for table, v6 in (("/proc/net/tcp", False), ("/proc/net/tcp6", True)):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for ln in lines:
            f = ln.split()
            local, state, inode = f[1], f[3], f[9]
            addr, p = local.split(":")
            if state != "0A" or int(p, 16) != port or inode not in inodes:
                continue
            raw = bytes.fromhex(addr)
            if v6:
                ip = socket.inet_ntop(
                    socket.AF_INET6, b"".join(raw[i : i + 4][::-1] for i in range(0, 16, 4))
                )
            else:
                ip = socket.inet_ntoa(raw[::-1])
            found.append(f"{ip}:{port}")
    return found


def _descendants(pid: int) -> set[int]:
    out, todo = {pid}, [pid]
    while todo:
        p = todo.pop()
        try:
            kids = Path(f"/proc/{p}/task/{p}/children").read_text().split()
        except OSError:
            continue
        for k in map(int, kids):
            if k not in out:
                out.add(k)
                todo.append(k)
    return out


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="needs Linux /proc")
def test_documented_mlflow_server_listens_on_loopback_only(tmp_path: Path) -> None:
    doc = (REPO / "docs" / "security.md").read_text()
    cmd = next(ln.strip() for ln in doc.splitlines() if ln.strip().startswith("mlflow server"))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    argv = shlex.split(cmd)
    argv[argv.index("--port") + 1] = str(port)
    argv[0] = str(Path(sys.executable).parent / "mlflow")
    argv += ["--workers", "1"] if "--workers" not in argv else []
    proc = subprocess.Popen(
        argv,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        start_new_session=True,
    )
    try:
        addrs: list[str] = []
        deadline = time.time() + 120
        while time.time() < deadline and not addrs and proc.poll() is None:
            time.sleep(0.5)
            addrs = _listening(_descendants(proc.pid), port)
        assert addrs, (
            f"server never listened: {proc.poll()} {proc.stderr.read1(4000) if proc.poll() is not None else ''}"
        )
        time.sleep(1.0)  # let every worker bind
        addrs = _listening(_descendants(proc.pid), port)
        assert set(addrs) == {f"127.0.0.1:{port}"}, addrs
    finally:
        os.killpg(proc.pid, 15)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
