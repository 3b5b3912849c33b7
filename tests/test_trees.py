"""NumPy tree evaluation (:mod:`divergence.trees`) against xgboost itself, and the
sklearn-free serving load (:class:`divergence.inference.ServingModel`)."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import xgboost as xgb

from conftest import REPO, cli_env
from divergence.inference import SMALL_BATCH, ServingModel
from divergence.predictor import Predictor
from divergence.trees import TreeEnsemble, UnsupportedModel, read_ubjson

SHIPPED = REPO / "models" / "divergence-utility" / "predictor"


def _booster(params: dict, X: np.ndarray, y: np.ndarray, rounds: int = 40) -> xgb.Booster:
    dm = xgb.DMatrix(X, label=y, missing=np.nan)
    return xgb.train({"nthread": 1, "seed": 0, **params}, dm, num_boost_round=rounds)


def _data(n: int = 300, p: int = 7, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p))
    y = X[:, 0] * 3 + np.sin(X[:, 1]) * 5 + (X[:, 2] > 0.3) * 2 + rng.normal(size=n)
    X[rng.random(X.shape) < 0.2] = np.nan
    return X, y


@pytest.mark.parametrize("depth", [1, 3, 6])
def test_trees_equal_xgboost_bit_for_bit(tmp_path, depth):
    X, y = _data()
    bst = _booster({"max_depth": depth, "eta": 0.3}, X, y)
    path = tmp_path / "m.ubj"
    bst.save_model(str(path))
    te = TreeEnsemble.from_file(path)
    Xt, _ = _data(n=500, seed=1)
    Xt[:5] = np.nan  # rows with nothing observed follow the default directions
    margin = np.linspace(-50, 1500, len(Xt))
    ref = bst.inplace_predict(Xt, base_margin=margin, missing=np.nan)
    got = te.predict(Xt, margin)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, ref)
    assert te.n_trees == 40 and 1 <= te.depth <= depth


def test_shipped_models_equal_xgboost():
    feats = pd.read_csv(SHIPPED / "features.csv.gz", dtype={"model_id": str})
    rng = np.random.default_rng(0)
    for prefix in ("main", "bench"):
        m = ServingModel(SHIPPED, prefix)
        A = feats.reindex(columns=m.input_columns_).to_numpy(dtype="float64")
        masked = A.copy()
        masked[rng.random(A.shape) < 0.5] = np.nan
        E = m._engineer_matrix(np.vstack([A, masked]))
        margin = m._margin_array(E)
        ref = xgb.Booster(model_file=str(SHIPPED / f"{prefix}.ubj")).inplace_predict(
            E, base_margin=margin, missing=np.nan
        )
        np.testing.assert_array_equal(m.trees_.predict(E, margin), ref)


def test_small_and_large_batches_agree():
    """Below SMALL_BATCH rows NumPy scores, above it xgboost: the same numbers."""
    m = ServingModel(SHIPPED, "main")
    feats = pd.read_csv(SHIPPED / "features.csv.gz", dtype={"model_id": str})
    A = feats.reindex(columns=m.input_columns_).to_numpy(dtype="float64")
    A = A[np.arange(SMALL_BATCH + 50) % len(A)]
    big = m.predict_matrix(A)
    small = np.concatenate([m.predict_matrix(A[:SMALL_BATCH]), m.predict_matrix(A[SMALL_BATCH:])])
    np.testing.assert_array_equal(big, small)
    assert m._booster is not None  # the large batch went through xgboost


def test_read_ubjson_matches_xgboost_json(tmp_path):
    X, y = _data()
    bst = _booster({"max_depth": 2}, X, y, rounds=3)
    doc = read_ubjson(bytes(bst.save_raw("ubj")))
    ref = json.loads(bytes(bst.save_raw("json")))

    def same(a, b):
        if isinstance(b, dict):
            assert isinstance(a, dict) and a.keys() == b.keys()
            for k in b:
                same(a[k], b[k])
        elif isinstance(b, list):
            assert len(a) == len(b)
            for u, v in zip(a, b, strict=True):
                same(u, v)
        elif isinstance(b, float):
            assert np.float32(a) == np.float32(b)
        else:
            assert a == b

    same(doc, ref)


@pytest.mark.parametrize(
    "data, match",
    [
        (b"", "truncated"),
        (b"{L\x00\x00\x00\x00\x00\x00\x00\x07lear", "truncated"),
        (b"[$d#i\x05\x00\x00", "truncated"),
        (b"[$d]", "typed container without a count"),
        (b"Q", "unknown UBJSON marker"),
        (b"{}}", "trailing bytes"),
        (b"[" * 100 + b"]" * 100, "nested too deeply"),
    ],
)
def test_read_ubjson_rejects_malformed(data, match):
    with pytest.raises(ValueError, match=match):
        read_ubjson(data)


def test_not_a_model_document():
    with pytest.raises(ValueError, match="not an xgboost model document"):
        TreeEnsemble({"learner": {}})


@pytest.mark.parametrize(
    "params",
    [
        {"booster": "dart", "max_depth": 2},
        {"num_parallel_tree": 3, "max_depth": 2},
        {"objective": "reg:absoluteerror", "max_depth": 2},
    ],
)
def test_unsupported_models_fall_back_to_xgboost(tmp_path, params):
    X, y = _data()
    bst = _booster(params, X, y, rounds=5)
    bst.save_model(str(tmp_path / "m.ubj"))
    with pytest.raises(UnsupportedModel):
        TreeEnsemble.from_file(tmp_path / "m.ubj")


def test_categorical_splits_unsupported(tmp_path):
    rng = np.random.default_rng(0)
    X = pd.DataFrame(
        {"c": pd.Categorical(rng.choice(list("abcd"), 200)), "x": rng.normal(size=200)}
    )
    y = (X["c"] == "b") * 3.0 + X["x"]
    dm = xgb.DMatrix(X, label=y, enable_categorical=True)
    bst = xgb.train({"max_depth": 2, "nthread": 1}, dm, num_boost_round=3)
    bst.save_model(str(tmp_path / "m.ubj"))
    with pytest.raises(UnsupportedModel, match="categorical"):
        TreeEnsemble.from_file(tmp_path / "m.ubj")


def test_predictor_load_imports_no_sklearn_or_xgboost():
    """A fresh process loads the shipped predictor and scores rows without importing
    scikit-learn, SciPy or xgboost; a large batch then imports xgboost and agrees."""
    code = f"""
import json, sys
import numpy as np
from divergence import load_predictor
pred = load_predictor({str(SHIPPED.parent)!r})
out = pred.predict_models(["claude-opus-4-6", "gpt-4o-2024-05-13"])
small = {{m: sys.modules.get(m) is not None for m in ("sklearn", "scipy", "xgboost")}}
rows = pred._features.reset_index(drop=True)
rows = rows.iloc[np.arange({SMALL_BATCH} + 1) % len(rows)][pred.input_columns]
big = pred.predict(rows)["predicted_utility"].to_numpy()
first = pred.predict(rows.iloc[:10])["predicted_utility"].to_numpy()
print(json.dumps({{"small": small, "xgb_after": "xgboost" in sys.modules,
                  "agree": bool(np.array_equal(big[:10], first)),
                  "status": out["status"].tolist()}}))
"""
    res = subprocess.run(
        [sys.executable, "-c", code], env=cli_env(), capture_output=True, text=True, timeout=120
    )
    assert res.returncode == 0, res.stderr
    got = json.loads(res.stdout.strip().splitlines()[-1])
    assert got["small"] == {"sklearn": False, "scipy": False, "xgboost": False}
    assert got["xgb_after"] and got["agree"]
    assert got["status"] == ["ok", "ok"]


def test_corrupt_booster_file_is_a_one_line_error(tmp_path):
    import shutil

    d = tmp_path / "p"
    shutil.copytree(SHIPPED, d)
    raw = (d / "main.ubj").read_bytes()
    (d / "main.ubj").write_bytes(raw[: len(raw) // 2])
    from divergence.errors import DivergenceError

    with pytest.raises(DivergenceError, match=r"main\.json/\.ubj: not a valid divergence model"):
        Predictor(d)
