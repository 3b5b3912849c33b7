"""UtilityRegressor: estimator contract, params object, persistence, extrapolation."""

from __future__ import annotations

import dataclasses
import inspect

import numpy as np
import optuna
import pandas as pd
import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from divergence.model import DEFAULTS, UtilityParams, UtilityRegressor
from divergence.tuning import DEFAULT_PARAMS


@parametrize_with_checks([UtilityRegressor(n_estimators=20, min_coverage=0.0)])
def test_sklearn_estimator_contract(estimator, check) -> None:  # noqa: ANN001
    check(estimator)


def test_params_object_is_the_one_home_of_defaults() -> None:
    sig = inspect.signature(UtilityRegressor.__init__).parameters
    assert all(
        p.kind is inspect.Parameter.KEYWORD_ONLY for name, p in sig.items() if name != "self"
    )
    for name in UtilityParams.names():
        assert sig[name].default == getattr(DEFAULTS, name), name
    assert DEFAULT_PARAMS == DEFAULTS.to_dict()
    assert DEFAULT_PARAMS["reg_alpha"] == UtilityRegressor().reg_alpha
    sampled = UtilityParams.search_space(optuna.trial.FixedTrial(DEFAULT_PARAMS))
    assert sampled == DEFAULT_PARAMS  # the search space covers every field
    with pytest.raises(dataclasses.FrozenInstanceError):
        DEFAULTS.base = "none"  # type: ignore[misc]
    with pytest.raises(TypeError):
        UtilityRegressor(300)  # type: ignore[misc]


def _frame(n: int, rng: np.random.Generator, shift: float = 0.0) -> tuple[pd.DataFrame, np.ndarray]:
    """Two correlated benchmark families + release date; y rises with ability."""
    ability = rng.normal(size=n) + shift
    X = pd.DataFrame(
        {
            "aa.gpqa": ability + rng.normal(scale=0.3, size=n),
            "aa.mmlu_pro": ability + rng.normal(scale=0.3, size=n),
            "epoch.swe_bench_verified": ability + rng.normal(scale=0.3, size=n),
            "livebench.coding": ability + rng.normal(scale=0.3, size=n),
            "meta.release_days": np.linspace(0, 800, n) + shift * 100,
        }
    )
    X = X.mask(rng.random(X.shape) < 0.25)
    X["meta.release_days"] = np.linspace(0, 800, n) + shift * 100
    return X, 1200 + 60 * ability + rng.normal(scale=5, size=n)


@pytest.mark.parametrize("base", ["latent", "factor", "linear", "ridge", "none"])
def test_fitted_attributes_save_load_round_trip(base: str, tmp_path) -> None:
    rng = np.random.default_rng(0)
    X, y = _frame(120, rng)
    m = UtilityRegressor(base=base, n_estimators=40, monotone=False, n_factors=2).fit(X, y)
    for attr in ["input_columns_", "loadings_", "base_columns_", "coef_", "booster_"]:
        assert hasattr(m, attr), attr
    assert not hasattr(m, "state_")
    assert m.loadings_.shape == (4, 2)
    assert set(m.sources_) == {"aa", "epoch", "livebench"}
    if base != "none":
        assert set(m.base_indicators_) <= set(m.base_columns_)
    m.save(tmp_path, "m")
    back = UtilityRegressor.load(tmp_path, "m")
    assert np.array_equal(m.predict(X), back.predict(X))
    assert back.get_params() == m.get_params()
    assert np.array_equal(m.evidence(X), X.drop(columns="meta.release_days").notna().sum(axis=1))


def test_old_format_is_rejected_clearly(tmp_path) -> None:
    (tmp_path / "m.json").write_text('{"params": {}, "state": {}}')
    with pytest.raises(ValueError, match=r"model format 1.*retrain"):
        UtilityRegressor.load(tmp_path, "m")


def test_latent_base_extrapolates_beyond_the_training_maximum() -> None:
    """A new model abler than every training model is predicted above the training max."""
    rng = np.random.default_rng(1)
    X, y = _frame(150, rng)
    Xnew, ynew = _frame(20, rng, shift=3.0)
    top = ynew > y.max()
    assert top.sum() >= 5
    for base in ["latent", "factor", "ridge"]:
        m = UtilityRegressor(base=base, n_estimators=50, base_alpha=1.0).fit(X, y)
        pred = m.predict(Xnew)
        assert (pred[top] > y.max()).mean() > 0.6, base
    flat = UtilityRegressor(base="none", n_estimators=50).fit(X, y).predict(Xnew)
    assert flat.max() <= y.max()  # trees alone cannot
