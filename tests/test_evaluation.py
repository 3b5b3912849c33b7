"""Tests of divergence.evaluation (splits, metrics, bootstrap) and divergence.baselines."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from sklearn.base import clone
from sklearn.utils.estimator_checks import parametrize_with_checks

from divergence.baselines import (
    BestSingleBenchmark,
    LinearOnColumn,
    MeanBaseline,
    MedianRidge,
    StrongRidge,
    TrailingMean,
)
from divergence.evaluation import (
    METRICS,
    assert_no_future_leak,
    bootstrap_ci,
    evaluate,
    paired_difference,
    rolling_origin_quarterly,
    walk_forward_splits,
)

# ----------------------------------------------------------------------------- helpers


def daily(n: int, start: str = "2023-01-01") -> pd.Series:
    """``n`` models released on consecutive days."""
    return pd.Series(pd.date_range(start, periods=n, freq="D"))


def rmse(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.sqrt(np.mean((a - b) ** 2)))


def pairwise_acc_loop(y: np.ndarray, p: np.ndarray) -> float:
    """Reference concordance: pairs with distinct truth, tied prediction = 1/2."""
    score = pairs = 0.0
    for i in range(len(y)):
        for j in range(i + 1, len(y)):
            if y[i] != y[j]:
                pairs += 1
                d = (y[i] - y[j]) * (p[i] - p[j])
                score += 1.0 if d > 0 else 0.5 if p[i] == p[j] else 0.0
    return score / pairs


@pytest.fixture(scope="module")
def noisy() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    y = np.round(rng.normal(1200, 50, size=60), 0)  # rounded: ties in truth
    p = np.round(y + rng.normal(0, 40, size=60), -1)  # rounded: ties in prediction
    return y, p


# ----------------------------------------------------------------------------- walk-forward


def test_walk_forward_sizes_and_order() -> None:
    splits = walk_forward_splits(daily(100), n_test=25, min_train=30)
    assert len(splits) == 25
    assert [int(te[0]) for _, te in splits] == list(range(75, 100))
    for train, test in splits:
        assert test.shape == (1,)
        assert np.array_equal(train, np.arange(test[0]))
        assert train.dtype == np.intp


def test_walk_forward_same_day_excluded_and_ties_by_position() -> None:
    # 40 distinct early days, then three models on one day, then one later model
    dates = pd.concat([daily(40), pd.Series(pd.to_datetime(["2024-06-01"] * 3 + ["2024-07-01"]))])
    dates.index = range(100, 144)  # labels are ignored: indices are positional
    splits = walk_forward_splits(dates, n_test=3, min_train=30)
    assert [int(te[0]) for _, te in splits] == [41, 42, 43]  # later position = newer
    for train, _ in splits[:2]:
        assert np.array_equal(
            train, np.arange(40)
        )  # same-day siblings 40..42 never train each other
    assert np.array_equal(splits[2][0], np.arange(43))
    assert_no_future_leak(dates, splits)


def test_walk_forward_same_day_with_times() -> None:
    dates = pd.concat(
        [daily(35), pd.Series(pd.to_datetime(["2024-01-01 08:00", "2024-01-01 20:00"]))]
    )
    ((train, test),) = walk_forward_splits(dates, n_test=1, min_train=30)
    assert test[0] == 36 and 35 not in train


def test_walk_forward_min_train_skips_and_unsorted_input() -> None:
    rng = np.random.default_rng(0)
    base = daily(40)
    perm = rng.permutation(40)
    dates = base.iloc[perm].reset_index(drop=True)
    splits = walk_forward_splits(dates, n_test=25, min_train=30)
    # chronological ranks 30..39 have >= 30 earlier models
    assert len(splits) == 10
    ranks = np.argsort(perm)  # chronological rank -> position
    assert [int(te[0]) for _, te in splits] == [int(ranks[r]) for r in range(30, 40)]
    for train, test in splits:
        assert (dates.iloc[train] < dates.iloc[test[0]]).all()
        assert np.all(np.diff(train) > 0)


def test_walk_forward_ignores_missing_dates() -> None:
    dates = daily(40).astype(object)
    dates.iloc[[3, 39]] = None
    splits = walk_forward_splits(dates, n_test=5, min_train=30)
    assert [int(te[0]) for _, te in splits] == [34, 35, 36, 37, 38]
    assert all(3 not in tr and 39 not in tr for tr, _ in splits)


def test_walk_forward_errors() -> None:
    with pytest.raises(ValueError, match="no walk-forward split"):
        walk_forward_splits(daily(20), n_test=5, min_train=30)
    with pytest.raises(ValueError, match="n_test"):
        walk_forward_splits(daily(50), n_test=0)
    with pytest.raises(TypeError, match="dates"):
        walk_forward_splits(pd.Series(np.arange(50.0)))


@settings(max_examples=40, deadline=None)
@given(
    offsets=st.lists(st.integers(0, 30), min_size=1, max_size=80),
    n_test=st.integers(1, 30),
    min_train=st.integers(1, 10),
)
def test_walk_forward_never_leaks(offsets: list[int], n_test: int, min_train: int) -> None:
    dates = pd.Series(pd.Timestamp("2024-01-01") + pd.to_timedelta(offsets, unit="D"))
    try:
        splits = walk_forward_splits(dates, n_test=n_test, min_train=min_train)
    except ValueError:
        return
    assert len(splits) <= n_test
    days = dates.to_numpy()
    for train, test in splits:
        assert (days[train] < days[test[0]]).all()
        assert len(train) == (days < days[test[0]]).sum() >= min_train
    assert_no_future_leak(dates, splits)


# ----------------------------------------------------------------------------- quarterly


def test_rolling_origin_quarterly() -> None:
    dates = daily(400, start="2023-01-01")
    splits = rolling_origin_quarterly(dates, min_train=30)
    assert_no_future_leak(dates, splits)
    quarters = dates.dt.to_period("Q")
    # 2023Q1 has no history; 2023Q2 starts with 90 earlier models; the last day is 2024-02-04
    assert [str(quarters.iloc[te[0]]) for _, te in splits] == [
        "2023Q2",
        "2023Q3",
        "2023Q4",
        "2024Q1",
    ]
    assert [len(te) for _, te in splits] == [91, 92, 92, 35]
    for train, test in splits:
        q = quarters.iloc[test[0]]
        assert (quarters.iloc[test] == q).all()
        assert np.array_equal(test, np.flatnonzero(quarters == q))
        assert np.array_equal(train, np.flatnonzero(dates < q.start_time))
    assert sum(len(te) for _, te in splits) == 400 - 90


def test_rolling_origin_quarterly_min_train() -> None:
    dates = daily(400, start="2023-01-01")
    splits = rolling_origin_quarterly(dates, min_train=200)
    assert len(splits[0][0]) == 273  # 2023Q4 is the first quarter with >= 200 earlier
    assert rolling_origin_quarterly(dates, min_train=1000) == []
    with pytest.raises(ValueError, match="min_train"):
        rolling_origin_quarterly(dates, min_train=0)


# ----------------------------------------------------------------------------- leak check


def test_assert_no_future_leak_catches_leaks() -> None:
    dates = pd.Series(pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-02", "2024-01-03"]))
    assert_no_future_leak(dates, [(np.array([0]), np.array([1, 2]))])
    with pytest.raises(AssertionError, match="not before"):  # same-day train model
        assert_no_future_leak(dates, [(np.array([0, 1]), np.array([2]))])
    with pytest.raises(AssertionError, match="not before"):  # later train model
        assert_no_future_leak(dates, [(np.array([3]), np.array([1]))])
    with pytest.raises(AssertionError, match="overlap"):
        assert_no_future_leak(dates, [(np.array([0, 1]), np.array([1]))])
    with pytest.raises(AssertionError, match="empty test"):
        assert_no_future_leak(dates, [(np.array([0]), np.array([], dtype=int))])
    with pytest.raises(AssertionError, match="out of range"):
        assert_no_future_leak(dates, [(np.array([0]), np.array([4]))])
    undated = dates.astype(object)
    undated.iloc[0] = None
    with pytest.raises(AssertionError, match="without release date"):
        assert_no_future_leak(undated, [(np.array([0]), np.array([3]))])


# ----------------------------------------------------------------------------- metrics


def test_evaluate_hand_computed() -> None:
    res = evaluate([1, 2, 3], [1, 2, 5], n_boot=200)
    assert list(res.index) == list(METRICS)
    assert list(res.columns) == ["value", "ci_lo", "ci_hi", "n"]
    assert res.loc["rmse", "value"] == pytest.approx(np.sqrt(4 / 3))
    assert res.loc["mae", "value"] == pytest.approx(2 / 3)
    for m in ("spearman", "kendall", "pairwise_acc"):
        assert res.loc[m, "value"] == pytest.approx(1.0)
    assert np.isnan(res.loc["pairwise_acc_sep", "value"])  # no y_err
    assert np.isnan(res.loc["coverage", "value"])  # no interval
    assert res["n"].tolist() == [3, 3, 3, 3, 3, 0, 0]

    rev = evaluate([1, 2, 3], [3, 2, 1], n_boot=0)
    assert rev.loc["spearman", "value"] == pytest.approx(-1.0)
    assert rev.loc["pairwise_acc", "value"] == 0.0
    assert rev[["ci_lo", "ci_hi"]].isna().all().all()  # n_boot=0


def test_pairwise_ties_and_separation() -> None:
    # tied prediction counts 1/2; tied truth is not a pair
    res = evaluate([1, 2, 3, 3], [1, 1, 3, 0], n_boot=0)
    assert res.loc["pairwise_acc", "value"] == pytest.approx((0.5 + 1 + 0 + 1 + 0) / 5)
    # only pairs whose CIs do not overlap count for pairwise_acc_sep
    y, p, err = np.array([0.0, 1.0, 10.0]), np.array([1.0, 0.0, 10.0]), np.ones(3)
    res = evaluate(y, p, y_err=err, n_boot=0)
    assert res.loc["pairwise_acc", "value"] == pytest.approx(2 / 3)
    assert res.loc["pairwise_acc_sep", "value"] == 1.0
    assert res.loc["pairwise_acc_sep", "n"] == 3
    # a constant predictor is at chance and has no rank correlation
    const = evaluate([1, 2, 3, 4], [5, 5, 5, 5], n_boot=50)
    assert const.loc["pairwise_acc", "value"] == 0.5
    assert np.isnan(const.loc["spearman", "value"]) and np.isnan(const.loc["kendall", "value"])


def test_coverage() -> None:
    y = np.array([1.0, 2.0, 3.0, 4.0])
    res = evaluate(y, y, lower=[0, 2, 3.5, np.nan], upper=[2, 3, 5, np.nan], n_boot=0)
    assert res.loc["coverage", "value"] == pytest.approx(2 / 3)  # bounds inclusive, NaN row skipped
    assert res.loc["coverage", "n"] == 3
    with pytest.raises(ValueError, match="both"):
        evaluate(y, y, lower=y)
    with pytest.raises(ValueError, match="lower > upper"):
        evaluate(y, y, lower=y + 1, upper=y)


def test_rank_metrics_match_scipy(noisy: tuple[np.ndarray, np.ndarray]) -> None:
    y, p = noisy
    res = evaluate(y, p, n_boot=0)
    assert res.loc["spearman", "value"] == pytest.approx(stats.spearmanr(p, y).statistic)
    assert res.loc["kendall", "value"] == pytest.approx(stats.kendalltau(p, y).statistic)
    assert res.loc["pairwise_acc", "value"] == pytest.approx(pairwise_acc_loop(y, p))
    assert res.loc["rmse", "value"] == pytest.approx(rmse(p, y))


def test_evaluate_ci_equals_bootstrap_ci_loop(noisy: tuple[np.ndarray, np.ndarray]) -> None:
    """The vectorised bootstrap equals recomputing each metric on the resampled rows."""
    y, p = noisy
    res = evaluate(y, p, n_boot=300, seed=3)
    reference = {
        "rmse": rmse,
        "mae": lambda a, b: float(np.mean(np.abs(a - b))),
        "spearman": lambda a, b: stats.spearmanr(a, b).statistic,
        "kendall": lambda a, b: stats.kendalltau(a, b).statistic,
        "pairwise_acc": lambda a, b: pairwise_acc_loop(b, a),
    }
    for name, fn in reference.items():
        value, lo, hi = bootstrap_ci(fn, p, y, n_boot=300, seed=3)
        assert res.loc[name, ["value", "ci_lo", "ci_hi"]].tolist() == pytest.approx([value, lo, hi])


def test_ci_contains_estimate_and_shrinks_with_n() -> None:
    rng = np.random.default_rng(11)
    widths = {}
    for n in (30, 300):
        y = rng.normal(size=n)
        p = y + rng.normal(scale=0.7, size=n)
        res = evaluate(y, p, lower=p - 1.2, upper=p + 1.2, y_err=np.full(n, 0.2), n_boot=500)
        assert (res["ci_lo"] <= res["value"]).all() and (res["value"] <= res["ci_hi"]).all()
        widths[n] = res["ci_hi"] - res["ci_lo"]
    assert (widths[300] < widths[30]).all()


def test_seeds_reproduce(noisy: tuple[np.ndarray, np.ndarray]) -> None:
    y, p = noisy
    a = evaluate(y, p, y_err=np.full(len(y), 5.0), n_boot=200, seed=5)
    b = evaluate(y, p, y_err=np.full(len(y), 5.0), n_boot=200, seed=5)
    c = evaluate(y, p, y_err=np.full(len(y), 5.0), n_boot=200, seed=6)
    pd.testing.assert_frame_equal(a, b)
    assert not a["ci_lo"].equals(c["ci_lo"])
    assert bootstrap_ci(np.mean, y, n_boot=100, seed=1) == bootstrap_ci(
        np.mean, y, n_boot=100, seed=1
    )


def test_small_n_and_missing_rows() -> None:
    two = evaluate([1.0, 2.0], [1.5, 2.5])
    assert two.loc["rmse", "value"] == pytest.approx(0.5)
    assert two.loc[["spearman", "kendall", "pairwise_acc"], "value"].isna().all()
    assert two[["ci_lo", "ci_hi"]].isna().all().all()
    empty = evaluate([], [])
    assert empty[["value", "ci_lo", "ci_hi"]].isna().all().all() and (empty["n"] == 0).all()
    # NaN rows are dropped (pandas NA too) and counted out of n
    res = evaluate(
        pd.Series([1.0, 2.0, None, 4.0], dtype="Float64"), [1.0, np.nan, 3.0, 4.0], n_boot=0
    )
    assert res.loc["rmse", "n"] == 2 and res.loc["rmse", "value"] == 0.0


def test_evaluate_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="infinite"):
        evaluate([1.0, 2.0, 3.0], [1.0, np.inf, 3.0])
    with pytest.raises(ValueError, match="length"):
        evaluate([1.0, 2.0, 3.0], [1.0, 2.0])
    with pytest.raises(ValueError, match="y_err"):
        evaluate([1.0, 2.0, 3.0], [1.0, 2.0, 3.0], y_err=[1.0, -1.0, 0.0])
    with pytest.raises(ValueError, match="numeric"):
        evaluate(["a", "b", "c"], [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="alpha"):
        evaluate([1.0, 2.0, 3.0], [1.0, 2.0, 3.0], alpha=1.5)


def test_bootstrap_ci_helper() -> None:
    x = np.arange(50.0)
    value, lo, hi = bootstrap_ci(np.mean, x, n_boot=1000, seed=0)
    assert value == 24.5 and lo < value < hi
    narrow = bootstrap_ci(np.mean, x, n_boot=1000, seed=0, alpha=0.5)
    assert lo < narrow[1] < narrow[2] < hi
    assert np.isnan(bootstrap_ci(np.mean, x[:2])[1])
    with pytest.raises(ValueError, match="length"):
        bootstrap_ci(lambda a, b: 0.0, x, x[:3])


def test_paired_difference() -> None:
    rng = np.random.default_rng(2)
    y = rng.normal(size=80)
    good, bad = y + rng.normal(scale=0.3, size=80), np.full(80, y.mean())
    res = paired_difference(y, good, bad, n_boot=500, seed=0)
    assert list(res.index) == ["rmse", "mae"]
    assert res.loc["rmse", "value"] == pytest.approx(rmse(good, y) - rmse(bad, y))
    assert res.loc["rmse", "a"] == pytest.approx(evaluate(y, good, n_boot=0).loc["rmse", "value"])
    assert (res["ci_hi"] < 0).all()  # A is clearly better than the mean baseline
    same = paired_difference(y, good, good, n_boot=100)
    assert (same[["value", "ci_lo", "ci_hi"]] == 0).all().all()


# ----------------------------------------------------------------------------- baselines

ESTIMATORS = [
    MeanBaseline(),
    BestSingleBenchmark(),
    LinearOnColumn(0),
    MedianRidge(),
    StrongRidge(),
    TrailingMean(),
]


@parametrize_with_checks(ESTIMATORS)
def test_sklearn_estimator_contract(estimator, check) -> None:  # noqa: ANN001
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        check(estimator)


@pytest.mark.parametrize(
    "est",
    [
        MeanBaseline(),
        BestSingleBenchmark(min_coverage=0.3),
        LinearOnColumn("aa_index"),
        MedianRidge(alpha=2.5),
        StrongRidge(alphas=[1.0, 10.0], n_recent=30),
        TrailingMean(window_days=180.0),
    ],
)
def test_clone_and_params_round_trip(est) -> None:  # noqa: ANN001
    twin = clone(est)
    assert twin is not est and twin.get_params() == est.get_params()
    assert type(est)(**est.get_params()).get_params() == est.get_params()
    if est.get_params():
        key = next(iter(est.get_params()))
        twin.set_params(**{key: est.get_params()[key]})
        assert twin.get_params() == est.get_params()


@pytest.fixture(scope="module")
def planted() -> tuple[pd.DataFrame, np.ndarray]:
    """y = 1000 + 30 * signal + noise; signal in column 'aa_index' (20% missing)."""
    rng = np.random.default_rng(42)
    n = 300
    X = pd.DataFrame(
        rng.normal(size=(n, 5)), columns=["noise1", "aa_index", "noise2", "weak", "sparse"]
    )
    y = 1000 + 30 * X["aa_index"].to_numpy() + rng.normal(scale=5, size=n)
    X["weak"] = 0.2 * X["aa_index"] + rng.normal(size=n)
    X["sparse"] = y / 30 + rng.normal(scale=0.01, size=n)  # near-perfect but rarely observed
    X.loc[rng.random(n) < 0.8, "sparse"] = np.nan
    X.loc[rng.random(n) < 0.2, "aa_index"] = np.nan
    X.loc[rng.random(n) < 0.3, "noise1"] = np.nan
    return X, y


def test_mean_baseline(planted: tuple[pd.DataFrame, np.ndarray]) -> None:
    X, y = planted
    pred = MeanBaseline().fit(X, y).predict(X.iloc[:7])
    assert pred.shape == (7,) and np.allclose(pred, y.mean())


def test_best_single_benchmark_recovers_signal(planted: tuple[pd.DataFrame, np.ndarray]) -> None:
    X, y = planted
    est = BestSingleBenchmark().fit(X, y)
    assert est.column_ == "aa_index"  # 'sparse' correlates better but is observed in ~20% only
    assert est.coef_ == pytest.approx(30, rel=0.02)
    pred = est.predict(X)
    missing = X["aa_index"].isna().to_numpy()
    assert np.allclose(pred[missing], y.mean())
    assert np.corrcoef(pred[~missing], y[~missing])[0, 1] > 0.98
    assert BestSingleBenchmark(min_coverage=0.1).fit(X, y).column_ == "sparse"


def test_best_single_benchmark_without_eligible_column() -> None:
    X = pd.DataFrame({"a": [np.nan, np.nan, 1.0, np.nan], "b": [1.0, 1.0, 1.0, 1.0]})
    with pytest.warns(UserWarning, match="predicting the mean"):
        est = BestSingleBenchmark().fit(X, [1.0, 2.0, 3.0, 4.0])
    assert est.column_ is None and np.allclose(est.predict(X), 2.5)


def test_linear_on_column(planted: tuple[pd.DataFrame, np.ndarray]) -> None:
    X, y = planted
    est = LinearOnColumn("aa_index").fit(X, y)
    assert est.coef_ == pytest.approx(30, rel=0.02)
    assert est.intercept_ == pytest.approx(1000, abs=2)
    row = X.iloc[[0]].copy()
    row["aa_index"] = np.nan
    assert est.predict(row)[0] == pytest.approx(y.mean())
    weak = LinearOnColumn("weak").fit(X, y)
    assert weak.coef_ < est.coef_
    with pytest.raises(ValueError, match="not a column"):
        LinearOnColumn("general_factor").fit(X, y)


def test_median_ridge(planted: tuple[pd.DataFrame, np.ndarray]) -> None:
    X, y = planted
    X = X.assign(empty=np.nan)
    train, test = slice(0, 200), slice(200, None)
    est = MedianRidge(alpha=1.0).fit(X.iloc[train], y[train])
    assert "empty" not in est.columns_ and len(est.columns_) == 5
    pred = est.predict(X.iloc[test])
    assert np.isfinite(pred).all()
    assert np.corrcoef(pred, y[test])[0, 1] > 0.8
    again = clone(est).fit(X.iloc[train], y[train]).predict(X.iloc[test])
    assert np.array_equal(pred, again)  # deterministic
    # strong penalty shrinks towards the mean
    flat = MedianRidge(alpha=1e6).fit(X.iloc[train], y[train]).predict(X.iloc[test])
    assert np.std(flat) < 0.1 * np.std(pred)


def test_baselines_in_walk_forward(planted: tuple[pd.DataFrame, np.ndarray]) -> None:
    """End to end: every baseline predicts each split; the informative ones beat the mean."""
    X, y = planted
    dates = daily(len(y))
    splits = walk_forward_splits(dates, n_test=40, min_train=30)
    preds: dict[str, np.ndarray] = {}
    for est in ESTIMATORS[:2] + [LinearOnColumn("aa_index"), MedianRidge()]:
        preds[type(est).__name__] = np.concatenate(
            [clone(est).fit(X.iloc[tr], y[tr]).predict(X.iloc[te]) for tr, te in splits]
        )
    truth = y[[te[0] for _, te in splits]]
    for name in ("BestSingleBenchmark", "LinearOnColumn", "MedianRidge"):
        diff = paired_difference(truth, preds[name], preds["MeanBaseline"], n_boot=300)
        assert diff.loc["rmse", "ci_hi"] < 0, name


def test_strong_ridge_chooses_alpha_on_earlier_rows(
    planted: tuple[pd.DataFrame, np.ndarray],
) -> None:
    """The penalty comes from time-ordered folds; indicators carry missingness; beats the mean."""
    X, y = planted
    X = X.assign(**{"meta.release_days": np.arange(len(y), dtype=float)})
    train, test = slice(0, 200), slice(200, None)
    est = StrongRidge().fit(X.iloc[train], y[train])
    assert est.alpha_ in np.logspace(-1, 3.5, 19)
    assert est.fold_errors_.shape == (19,) and np.isfinite(est.fold_errors_).all()
    assert est.n_indicators_ == 3  # noise1, aa_index, sparse have missing values
    pred = est.predict(X.iloc[test])
    assert np.sqrt(np.mean((pred - y[test]) ** 2)) < 0.5 * np.std(y[test])
    # the choice depends only on rows before each fold: later rows do not change the folds
    shuffled = X.iloc[train].sample(frac=1.0, random_state=0)
    twin = StrongRidge().fit(shuffled, y[train][shuffled.index.to_numpy()])
    assert twin.alpha_ == est.alpha_
    # no time column: exact leave-one-out choice
    loo = StrongRidge().fit(X.drop(columns="meta.release_days").iloc[train], y[train])
    assert loo.alpha_ in np.logspace(-1, 3.5, 19)


def test_trailing_mean_uses_the_last_window() -> None:
    X = pd.DataFrame({"meta.release_days": [0.0, 100.0, 400.0, 500.0, np.nan]})
    y = np.array([1.0, 2.0, 10.0, 20.0, 99.0])
    est = TrailingMean(window_days=365.0).fit(X, y)
    assert est.mean_ == pytest.approx(15.0) and est.n_window_ == 2  # 400, 500 (not 100, NaN)
    assert TrailingMean().fit(X[[]].assign(a=1.0), y).mean_ == pytest.approx(y.mean())
    with pytest.raises(ValueError, match="window_days"):
        TrailingMean(window_days=0).fit(X, y)
