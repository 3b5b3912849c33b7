"""Red-team probes of the CLI: every operator error is one line, nothing outside the output changes.

Each probe runs ``divergence.cli.main`` in-process on the shipped champion
(``models/divergence-utility``, no MLflow needed) or a crafted copy of it, with a fresh
working directory. A probe passes when the exit code is the expected one, stderr holds
no traceback and exactly one ``error:`` line containing the expected fragments (for
refusals), and no file outside the declared output changed: the working directory, the
repository's ``models/`` and ``data/snapshot/`` are fingerprinted before and after.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pytest

from divergence import cli

REPO = Path(__file__).resolve().parents[1]
MODEL = REPO / "models" / "divergence-utility"
SMALL = REPO / "tests" / "data" / "experiment_small.yaml"
WATCHED = [REPO / "models", REPO / "data" / "snapshot"]


def fingerprint(*roots: Path) -> dict[str, tuple]:
    """Path -> (kind, size, mtime_ns) of everything under ``roots`` (links not followed)."""
    out: dict[str, tuple] = {}
    for root in roots:
        if not root.exists() and not root.is_symlink():
            continue
        for p in [root, *root.rglob("*")]:
            st = p.lstat()
            if p.is_dir() and not p.is_symlink():  # a directory: only its existence counts
                out[str(p)] = ("dir",)
            else:
                out[str(p)] = (st.st_mode >> 12, st.st_size, st.st_mtime_ns)
    return out


@dataclass
class Probe:
    """One probe: ``setup(tmp)`` returns the argv; the outcome is checked against the rest."""

    setup: Callable[[Path], list[str]]
    rc: int = 2
    fragments: tuple[str, ...] = ()
    output: str | None = None  # relative to tmp: the only path allowed to change
    check: Callable[[Path], None] | None = None
    env: dict[str, str] = field(default_factory=dict)


def _model_copy(tmp: Path, edit: Callable[[Path], None] | None = None) -> Path:
    d = tmp / "model" / "predictor"
    shutil.copytree(MODEL / "predictor", d)
    if edit:
        edit(d)
    return d.parent


def _csv(tmp: Path, text: str | bytes, name: str = "in.csv") -> Path:
    p = tmp / name
    if isinstance(text, bytes):
        p.write_bytes(text)
    else:
        p.write_text(text)
    return p


def _predict(tmp: Path, inp: Path | str, out: str = "out.csv", model: Path = MODEL) -> list[str]:
    return ["predict", "--input", str(inp), "--output", str(tmp / out), "--model-uri", str(model)]


def _predict_models(tmp: Path, *ids: str, model: Path = MODEL) -> list[str]:
    return ["predict", "--model", *ids, "--output", str(tmp / "out.csv"), "--model-uri", str(model)]


def _card(d: Path, **changes) -> None:
    card = json.loads((d / "card.json").read_text())
    card.update(changes)
    (d / "card.json").write_text(json.dumps(card))


def _gzip_csv(d: Path, name: str, text: str) -> None:
    (d / name).write_bytes(gzip.compress(text.encode()))


def _truncate(d: Path, name: str) -> None:
    data = (d / name).read_bytes()
    (d / name).write_bytes(data[: len(data) // 2])


def _out_rows(tmp: Path) -> pd.DataFrame:
    return pd.read_csv(tmp / "out.csv")


def _lookup_matches_model(tmp: Path) -> None:
    df = _out_rows(tmp)
    assert df["status"].tolist() == ["ok", "unknown"], df
    assert df.loc[0, "model_id"] == "gpt-4o-2024-05-13"
    from divergence.predictor import load_predictor

    ref = load_predictor(MODEL).predict_models(["gpt-4o-2024-05-13"])
    assert abs(df.loc[0, "predicted_utility"] - ref.loc[0, "predicted_utility"]) < 0.01


GOOD = "aa.gpqa,aa.mmlu_pro\n0.6,0.7\n0.3,\n"
CHUNKED = "aa.gpqa\n" + "0.5\n" * 24 + "1.7\n"  # bad value on row 25, chunks of 10 rows


HOME = {"DIVERGENCE_HOME": "{tmp}/home"}


def _export_card_name(name: Callable[[Path], object]) -> Probe:
    """Export a model copy whose card names ``name(tmp)`` as its registered model: refused."""
    return Probe(
        lambda t: [
            "export",
            "--model-uri",
            str(_model_copy(t, lambda d: _card(d, registered_model=name(t)))),
        ],
        fragments=("not a valid registry name",),
        env=HOME,
    )


def _export_out(rel: str) -> Probe:
    """Export the shipped model to ``--out tmp/rel``, which is not below ``models/``: refused."""
    return Probe(
        lambda t: ["export", "--model-uri", str(MODEL), "--out", str(t / rel)],
        fragments=("only below",),
        env=HOME,
    )


def _bad_input(text: str | bytes, *fragments: str) -> Probe:
    """Predict an ``--input`` file holding ``text`` with the shipped model: refused."""
    return Probe(lambda t: _predict(t, _csv(t, text)), fragments=fragments)


def _bad_model(edit: Callable[[Path], None], *fragments: str) -> Probe:
    """Predict :data:`GOOD` with a copy of the shipped model changed by ``edit``: refused."""
    return Probe(
        lambda t: _predict(t, _csv(t, GOOD), model=_model_copy(t, edit)), fragments=fragments
    )


PROBES: dict[str, Probe] = {
    # ---- predict: input file
    "input-directory": Probe(lambda t: _predict(t, t), fragments=("is a directory",)),
    "input-missing": Probe(lambda t: _predict(t, t / "nope.csv"), fragments=("file not found",)),
    "input-device": Probe(lambda t: _predict(t, "/dev/zero"), fragments=("not a regular file",)),
    "input-binary-nul": _bad_input(b"aa.gpqa\n0.5\x00\n", "NUL byte"),
    "input-utf16": _bad_input(GOOD.encode("utf-16"), "not valid UTF-8"),
    "input-latin1": _bad_input(
        "model_id,aa.gpqa\nmod\xe8le,0.5\n".encode("latin-1"), "not valid UTF-8"
    ),
    "input-truncated-multibyte": _bad_input(
        "model_id,aa.gpqa\nmodè".encode()[:-1], "not valid UTF-8"
    ),
    "input-empty": _bad_input("", "empty file"),
    "input-header-only": _bad_input("aa.gpqa\n", "no data rows"),
    "input-ragged": _bad_input("aa.gpqa\n0.5,0.6\n", "malformed CSV"),
    "input-duplicate-header": _bad_input("aa.gpqa,aa.gpqa\n0.5,0.6\n", "duplicate"),
    "input-unknown-column": _bad_input("nope\n1\n", "'nope'", "unknown"),
    "input-text-value": _bad_input("aa.gpqa\n0.5\nhigh\n", "'aa.gpqa'", "row 2", "non-numeric"),
    "input-inf": _bad_input("aa.gpqa\ninf\n", "row 1", "infinite"),
    "input-fraction-as-percent": _bad_input("aa.gpqa\n0.5\n85\n", "'aa.gpqa'", "row 2", "0 to 1"),
    "input-negative-fraction": _bad_input("aa.hle\n-0.2\n", "'aa.hle'", "row 1", "0 to 1"),
    "input-negative-percent": _bad_input("aider.polyglot\n-5\n", "0 to 100"),
    "input-percent-1e6": _bad_input("swebench.verified\n1e6\n", "0 to 100"),
    # a 0-10 score given as a percentage (Elo-like ranges: tests/test_columns.py; the shipped
    # model has no Elo-like input column)
    "input-ten-as-percent": _bad_input(
        "epoch.lech_mazur_writing\n7.5\n75\n", "'epoch.lech_mazur_writing'", "row 2", "0 to 10"
    ),
    "input-negative-count": _bad_input("adopt.providers_90d\n-1\n", "non-negative"),
    "input-binary-flag-2": _bad_input("meta.open_weights\n2\n", "meta.open_weights"),
    "input-huge": _bad_input("meta.release_days\n1e300\n", "out of range"),
    "input-row-without-anything": _bad_input(
        "model_id,aa.gpqa\nx,0.5\n,\n", "row 2", "nothing to predict"
    ),
    "input-error-row-across-chunks": _bad_input(CHUNKED, "row 25", "0 to 1"),
    "input-id-only-unknown": _bad_input("model_id\nno-such-model-zz\n", "no model resolved"),
    "input-id-only-lookup": Probe(
        lambda t: _predict(t, _csv(t, "model_id\ngpt-4o-2024-05-13\nno-such-model-zz\n")),
        rc=0,
        output="out.csv",
        check=_lookup_matches_model,
    ),
    "input-good": Probe(
        lambda t: _predict(t, _csv(t, GOOD)),
        rc=0,
        output="out.csv",
        check=lambda t: (
            None if _out_rows(t)["status"].eq("ok").all() and len(_out_rows(t)) == 2 else 1 / 0
        ),
    ),
    "input-bom-crlf": Probe(
        lambda t: _predict(t, _csv(t, ("\ufeff" + GOOD).replace("\n", "\r\n").encode())),
        rc=0,
        output="out.csv",
    ),
    # ---- predict: output path
    "output-directory": Probe(
        lambda t: _predict(t, _csv(t, GOOD), out="d") if (t / "d").mkdir() is None else [],
        fragments=("is a directory",),
    ),
    "output-device": Probe(
        lambda t: [*_predict(t, _csv(t, GOOD))[:-3], "/dev/null", "--model-uri", str(MODEL)],
        fragments=("not a regular file",),
    ),
    "output-symlink": Probe(
        lambda t: (
            (t / "real.csv").write_text("keep"),
            (t / "out.csv").symlink_to(t / "real.csv"),
            _predict(t, _csv(t, GOOD)),
        )[-1],
        fragments=("symbolic link",),
        check=lambda t: None if (t / "real.csv").read_text() == "keep" else 1 / 0,
    ),
    "output-dangling-symlink": Probe(
        lambda t: (
            ((t / "out.csv").symlink_to(t / "nowhere" / "x.csv"), _predict(t, "x"))[-1]
            if _csv(t, GOOD, "x")
            else []
        ),
        fragments=("symbolic link",),
    ),
    "output-equals-input": Probe(
        lambda t: _predict(t, _csv(t, GOOD, "out.csv")), fragments=("same file as the input",)
    ),
    "output-hardlink-of-input": Probe(
        lambda t: (os.link(_csv(t, GOOD), t / "out.csv"), _predict(t, t / "in.csv"))[-1],
        fragments=("same file",),
    ),
    "output-inside-model-dir": Probe(
        lambda t: _predict(t, _csv(t, GOOD), out="model/predictor/main.json", model=_model_copy(t)),
        fragments=("inside the input directory",),
    ),
    "output-parent-is-file": Probe(
        lambda t: _predict(t, _csv(t, GOOD), out="in.csv/out.csv"),
        fragments=("not a directory",),
    ),
    "output-nul-in-name": Probe(
        lambda t: _predict(t, _csv(t, GOOD), out="a\0b.csv"), fragments=("not a valid",)
    ),
    # ---- predict --model
    "model-invalid-utf8": Probe(
        lambda t: _predict_models(t, "gpt\udcff"), fragments=("not valid UTF-8",)
    ),
    "model-empty-string": Probe(lambda t: _predict_models(t, ""), fragments=("empty",)),
    "model-control-chars": Probe(lambda t: _predict_models(t, "gpt\n4o"), fragments=("control",)),
    "model-all-unknown": Probe(
        lambda t: _predict_models(t, "no-such-model-zz"), fragments=("no model resolved",)
    ),
    "model-known-and-unknown": Probe(
        lambda t: _predict_models(t, "gpt-4o-2024-05-13", "no-such-model-zz"),
        rc=0,
        output="out.csv",
        check=lambda t: None if _out_rows(t)["status"].tolist() == ["ok", "unknown"] else 1 / 0,
    ),
    # ---- predict --model-uri: bad model directories
    "model-uri-missing": Probe(
        lambda t: _predict(t, _csv(t, GOOD), model=t / "nope"), fragments=("nope",)
    ),
    "model-uri-file": Probe(
        lambda t: _predict(t, _csv(t, GOOD), model=_csv(t, "x", "m")), fragments=("m",)
    ),
    "model-truncated-features": _bad_model(
        lambda d: _truncate(d, "features.csv.gz"), "features.csv.gz", "truncated"
    ),
    "model-aliases-missing-column": _bad_model(
        lambda d: _gzip_csv(d, "aliases.csv.gz", "name,id\na,b\n"), "aliases.csv.gz", "'alias'"
    ),
    "model-aliases-not-gzip": _bad_model(
        lambda d: (d / "aliases.csv.gz").write_text("alias,model_id\n"), "aliases.csv.gz"
    ),
    "model-intervals-invalid-json": _bad_model(
        lambda d: (d / "intervals.json").write_text('{"q80": '), "intervals.json", "invalid JSON"
    ),
    "model-intervals-negative": _bad_model(
        lambda d: (d / "intervals.json").write_text('{"q80": -5, "q90": 3}'),
        "intervals.json",
        "q80",
    ),
    "model-intervals-nan": _bad_model(
        lambda d: (d / "intervals.json").write_text('{"q80": NaN, "q90": 3}'),
        "intervals.json",
        "NaN",
    ),
    "model-intervals-list": _bad_model(
        lambda d: (d / "intervals.json").write_text("[]"), "intervals.json", "object"
    ),
    "model-garbage-booster": _bad_model(
        lambda d: (d / "main.ubj").write_bytes(b"\x00" * 9), "main"
    ),
    "model-utf16-json": _bad_model(
        lambda d: (d / "main.json").write_bytes((d / "main.json").read_text().encode("utf-16")),
        "main",
    ),
    "model-card-list": _bad_model(lambda d: (d / "card.json").write_text("[1]"), "card.json"),
    "model-symlinked-file": _bad_model(
        lambda d: (
            (d / "card.json").unlink(),
            (d / "card.json").symlink_to("/etc/hostname"),
        ),
        "card.json",
        "not a regular file",
    ),
    # ---- export
    "export-card-name-traversal": _export_card_name(lambda t: "../../victim"),
    "export-card-name-absolute": _export_card_name(lambda t: str(t / "victim")),
    "export-card-name-not-string": _export_card_name(lambda t: ["x"]),
    "export-out-outside-models": _export_out("elsewhere"),
    "export-out-is-models-root": _export_out("home/models"),
    "export-out-dotdot-escape": _export_out("home/models/../x"),
    "export-out-is-file": Probe(
        lambda t: (
            (t / "home" / "models").mkdir(parents=True),
            (t / "home" / "models" / "f").write_text("keep"),
            ["export", "--model-uri", str(MODEL), "--out", str(t / "home/models/f")],
        )[-1],
        fragments=("not a directory",),
        env={"DIVERGENCE_HOME": "{tmp}/home"},
    ),
    "export-good": Probe(
        lambda t: ["export", "--model-uri", str(MODEL)],
        rc=0,
        output="home/models",
        env={"DIVERGENCE_HOME": "{tmp}/home"},
        check=lambda t: (
            None if (t / "home/models/divergence-utility/predictor/main.ubj").is_file() else 1 / 0
        ),
    ),
    # ---- run commands: configs and arguments (refused before any MLflow store is created)
    "run-experiment-directory": Probe(
        lambda t: ["evaluate", "--experiment", str(t)], fragments=("not a regular file",)
    ),
    "run-experiment-missing": Probe(
        lambda t: ["evaluate", "--experiment", str(t / "x.yaml")], fragments=("not found",)
    ),
    "run-experiment-utf16": Probe(
        lambda t: [
            "evaluate",
            "--experiment",
            str(_csv(t, SMALL.read_text().encode("utf-16"), "e.yaml")),
        ],
        fragments=("e.yaml", "UTF-8"),
    ),
    "run-params-directory": Probe(
        lambda t: ["evaluate", "--experiment", str(SMALL), "--params", str(t)],
        fragments=("not a regular file",),
    ),
    "run-params-bad-json": Probe(
        lambda t: ["train", "--experiment", str(SMALL), "--params", str(_csv(t, "{", "p.json"))],
        fragments=("p.json", "invalid JSON"),
    ),
    "run-seed-negative": Probe(
        lambda t: ["evaluate", "--experiment", str(SMALL), "--seed", "-1"], fragments=("--seed",)
    ),
    "run-snapshot-file": Probe(
        lambda t: ["evaluate", "--experiment", str(SMALL), "--snapshot", str(SMALL)],
        fragments=("not a directory",),
    ),
    "run-storage-directory": Probe(
        lambda t: ["tune", "--experiment", str(SMALL), "--storage", str(t)],
        fragments=("directory",),
    ),
    # ---- data / report
    "data-build-raw-missing": Probe(
        lambda t: ["data", "build", "--raw", str(t / "raw"), "--out", str(t / "snap")],
        fragments=("raw data directory not found",),
    ),
    "data-build-out-is-file": Probe(
        lambda t: (
            (t / "raw").mkdir(),
            ["data", "build", "--raw", str(t / "raw"), "--out", str(_csv(t, "x", "f"))],
        )[-1],
        fragments=("not a directory",),
    ),
    "data-build-out-inside-raw": Probe(
        lambda t: (
            (t / "raw").mkdir(),
            ["data", "build", "--raw", str(t / "raw"), "--out", str(t / "raw" / "snap")],
        )[-1],
        fragments=("inside the input directory",),
    ),
    "data-build-out-symlink": Probe(
        lambda t: (
            (t / "raw").mkdir(),
            (t / "real").mkdir(),
            (t / "snap").symlink_to(t / "real"),
            ["data", "build", "--raw", str(t / "raw"), "--out", str(t / "snap")],
        )[-1],
        fragments=("symbolic link",),
    ),
    "report-out-is-file": Probe(
        lambda t: ["report", "--no-mlflow", "--out", str(_csv(t, "x", "r"))],
        fragments=("not a directory",),
    ),
    "report-snapshot-missing": Probe(
        lambda t: ["report", "--no-mlflow", "--snapshot", str(t / "s"), "--out", str(t / "r")],
        fragments=("not a snapshot directory",),
    ),
}


@pytest.mark.parametrize("name", list(PROBES))
def test_probe(name: str, tmp_path: Path, monkeypatch, capsys) -> None:
    probe = PROBES[name]
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{work / 'mlflow.db'}")
    for k, v in probe.env.items():
        value = v.replace("{tmp}", str(work))
        Path(value).mkdir(parents=True, exist_ok=True)
        monkeypatch.setenv(k, value)
    monkeypatch.setattr(cli, "CHUNK_ROWS", 10)
    argv = probe.setup(work)
    before = fingerprint(work, *WATCHED)
    rc = cli.main(argv)  # an exception escaping here is a traceback: the probe fails
    err = capsys.readouterr().err
    assert "Traceback" not in err, err
    errors = [ln for ln in err.splitlines() if ln.startswith("error:")]
    assert rc == probe.rc, err
    if probe.rc != 0:
        assert len(errors) == 1, err
        for frag in probe.fragments:
            assert frag in errors[0], errors[0]
    else:
        assert errors == [], err
    after = fingerprint(work, *WATCHED)
    allowed = str(work / probe.output) if probe.output else None
    changed = {
        p
        for p in set(before) | set(after)
        if before.get(p) != after.get(p) and not (allowed and p.startswith(allowed))
    }
    assert changed == set(), f"files changed outside the output: {sorted(changed)}"
    if probe.check:
        probe.check(work)


def test_probe_file_too_large_is_one_line(tmp_path: Path) -> None:
    """EFBIG: a file-size limit below the output size (subprocess with RLIMIT_FSIZE)."""
    inp = tmp_path / "in.csv"
    inp.write_text("aa.gpqa\n" + "0.5\n" * 3000)
    code = (
        "import resource, sys; resource.setrlimit(resource.RLIMIT_FSIZE, (50000, 50000));"
        "from divergence.cli import main; sys.exit(main(sys.argv[1:]))"
    )
    res = subprocess.run(
        [sys.executable, "-c", code, *_predict(tmp_path, inp)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert res.returncode == 2, res.stderr
    assert "Traceback" not in res.stderr
    errors = [ln for ln in res.stderr.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1 and "EFBIG" in errors[0], res.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv"]  # no partial output


def test_probe_corrupt_mlflow_store_is_one_line(tmp_path: Path, monkeypatch, capsys) -> None:
    db = tmp_path / "mlflow.db"
    db.write_bytes(b"this is not a sqlite database" * 100)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{db}")
    monkeypatch.chdir(tmp_path)
    before = db.read_bytes()
    rc = cli.main(["evaluate", "--experiment", str(SMALL)])
    err = capsys.readouterr().err
    errors = [ln for ln in err.splitlines() if ln.startswith("error:")]
    assert rc == 2 and len(errors) == 1 and "MLflow tracking store" in errors[0], err
    assert db.read_bytes() == before
