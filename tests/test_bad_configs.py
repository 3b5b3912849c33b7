"""Bad experiment configs and ``--params`` files: one error line, and no MLflow run (or store).

Every file of ``tests/bad_inputs/config/`` and ``tests/bad_inputs/params/`` is given to the
CLI with a fresh tracking URI; the command must fail with exit code 2 and one ``error:`` line
naming the file, before the SQLite store is even created (so no FAILED run can exist).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from divergence.cli import main

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO / "tests" / "bad_inputs"
SMALL = REPO / "tests" / "data" / "experiment_small.yaml"

CONFIG_CASES = {
    "utf16.yaml": "not valid UTF-8",
    "latin1.yaml": "not valid UTF-8",
    "binary.yaml": "not valid UTF-8",
    "python_object.yaml": "invalid YAML",
    "duplicate_key.yaml": "duplicate key",
    "unknown_key.yaml": "unknown key",
    "path_name.yaml": "registered_model",
    "absolute_name.yaml": "name",
    "bad_board.yaml": "board",
    "string_int.yaml": "eight",
    "list.yaml": "mapping",
    "tabs.yaml": "invalid YAML",
    "missing_feature_set.yaml": "no_such_set",
}
PARAMS_CASES = {
    "invalid.json": "invalid JSON",
    "list.json": "JSON object",
    "unknown_key.json": "max_depht",
    "negative.json": "max_depth",
    "nan.json": "NaN",
    "string_number.json": "n_estimators",
    "fraction_depth.json": "whole number",
    "subsample_big.json": "subsample",
    "bool_number.json": "max_depth",
    "duplicate_key.json": "duplicate",
    "utf16.json": "not valid UTF-8",
    "empty.json": "empty file",
    "monotone_string.json": "monotone",
}


def _run(argv: list[str], tmp_path: Path, monkeypatch, capsys) -> tuple[int, list[str]]:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.chdir(tmp_path)
    rc = main(argv)
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.startswith("error:")]
    assert "Traceback" not in err
    assert not (tmp_path / "mlflow.db").exists(), "MLflow store touched before validation"
    assert not (tmp_path / "mlruns").exists()
    assert not (tmp_path / "pwned").exists()
    return rc, lines


@pytest.mark.parametrize("name", sorted(CONFIG_CASES))
def test_bad_experiment_config(name: str, tmp_path: Path, monkeypatch, capsys) -> None:
    assert sorted(CONFIG_CASES) == sorted(p.name for p in (CORPUS / "config").iterdir())
    src = CORPUS / "config" / name
    rc, lines = _run(["evaluate", "--experiment", str(src)], tmp_path, monkeypatch, capsys)
    assert rc == 2 and len(lines) == 1, lines
    assert CONFIG_CASES[name] in lines[0], lines[0]
    assert name in lines[0] or "no_such_set" in lines[0], lines[0]


@pytest.mark.parametrize("name", sorted(PARAMS_CASES))
def test_bad_params_file(name: str, tmp_path: Path, monkeypatch, capsys) -> None:
    assert sorted(PARAMS_CASES) == sorted(p.name for p in (CORPUS / "params").iterdir())
    src = CORPUS / "params" / name
    argv = ["evaluate", "--experiment", str(SMALL), "--params", str(src)]
    rc, lines = _run(argv, tmp_path, monkeypatch, capsys)
    assert rc == 2 and len(lines) == 1, lines
    assert str(src) in lines[0] and PARAMS_CASES[name] in lines[0], lines[0]


@pytest.mark.parametrize(
    "argv, fragment",
    [
        (["--seed", "-1"], "--seed"),
        (["--n-trials", "-3"], "--n-trials"),
        (["--snapshot", str(SMALL)], "not a directory"),
        (["--snapshot", "no/such/snapshot"], "not a snapshot directory"),
        (["--params", str(CORPUS / "params")], "not a regular file"),
        (["--experiment", str(CORPUS / "config")], "not a regular file"),
    ],
)
def test_bad_run_arguments(argv, fragment, tmp_path: Path, monkeypatch, capsys) -> None:
    full = ["evaluate", "--experiment", str(SMALL), *argv]
    rc, lines = _run(full, tmp_path, monkeypatch, capsys)
    assert rc == 2 and len(lines) == 1 and fragment in lines[0], lines


def test_bad_tune_arguments(tmp_path: Path, monkeypatch, capsys) -> None:
    for extra, fragment in [
        (["--workers", "0"], "--workers"),
        (["--storage", str(tmp_path)], "directory"),
    ]:
        rc, lines = _run(
            ["tune", "--experiment", str(SMALL), *extra], tmp_path, monkeypatch, capsys
        )
        assert rc == 2 and len(lines) == 1 and fragment in lines[0], lines
