"""Conformal intervals (Mondrian by evidence) and the tuning splits."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from divergence.conformal import ConformalIntervals, conformal_quantile
from divergence.splits import (
    assert_no_future_leak,
    recent_walk_forward_splits,
    time_ordered_folds,
)


def test_conformal_quantile_is_the_finite_sample_rank() -> None:
    r = np.arange(1, 20, dtype=float)  # n = 19: rank ceil(20 * 0.9) = 18
    assert conformal_quantile(r, 0.9) == 18.0
    assert conformal_quantile(r, 0.999) == 19.0  # capped at the largest
    assert np.isnan(conformal_quantile(np.array([np.nan]), 0.9))


def test_mondrian_bins_follow_evidence_and_cover() -> None:
    """Residual spread falls with evidence: bins give narrow and wide intervals, both covering."""
    rng = np.random.default_rng(0)

    def draw(n: int) -> tuple[np.ndarray, np.ndarray]:
        ev = rng.integers(1, 40, size=n).astype(float)
        return rng.normal(scale=np.where(ev < 15, 40.0, 10.0)), ev

    r, ev = draw(400)
    ci = ConformalIntervals(levels=(0.8, 0.9), n_bins=2, min_bin=15).fit(r, ev)
    assert len(ci.bin_edges_) == 1 and sum(ci.n_calibration_) == 400
    lo_ev, hi_ev = ci.half_width(0.9, np.array([2.0, 39.0]))
    assert lo_ev > 2 * hi_ev
    assert ci.half_width(0.8, np.array([39.0]))[0] < hi_ev
    new, new_ev = draw(4000)
    out = ci.intervals(np.zeros(4000), new_ev)
    inside = (new >= out["lower_90"]) & (new <= out["upper_90"])
    assert 0.87 < inside.mean() < 0.94
    edge = ci.bin_edges_[0]
    for mask in (new_ev < edge, new_ev >= edge):  # coverage within each bin too
        assert 0.85 < inside[mask].mean() < 0.96
    assert set(out) == {"lower_80", "upper_80", "lower_90", "upper_90"}


def test_normalised_score_pools_one_quantile_over_bins() -> None:
    """Normalised: widths scale with each bin's RMS; absolute: each bin's own rank."""
    r = np.r_[np.arange(1.0, 11.0) * 4, np.linspace(1.0, 10.0, 30)]  # 10 wide, 30 narrow
    ev = np.r_[np.full(10, 5.0), np.full(30, 30.0)]
    norm = ConformalIntervals(levels=(0.9,), n_bins=2, min_bin=10).fit(r, ev)
    absolute = ConformalIntervals(levels=(0.9,), n_bins=2, min_bin=10, score="absolute").fit(r, ev)
    assert norm.bin_edges_ == [30.0] and norm.n_calibration_ == [10, 30]
    lo, hi = norm.half_width(0.9, np.array([5.0, 30.0]))
    assert lo / hi == pytest.approx(norm.scales_[0] / norm.scales_[1])
    z = np.sort(np.r_[r[:10] / norm.scales_[0], r[10:] / norm.scales_[1]])
    assert lo == pytest.approx(z[36] * norm.scales_[0])  # rank ceil(41 * 0.9) = 37 of 40
    assert lo < 40.0  # below the wide bin's largest residual ...
    assert absolute.half_width(0.9, np.array([5.0]))[0] == 40.0  # ... its own rank 10 of 10
    d = json.loads(json.dumps(norm.to_dict()))
    assert d["score"] == "normalised" and len(d["scales"]) == 2
    back = ConformalIntervals.from_dict(d)
    assert list(back.half_width(0.9, np.array([5.0, 30.0]))) == [lo, hi]
    old = {k: v for k, v in absolute.to_dict().items() if k not in ("score", "scales")}
    assert ConformalIntervals.from_dict(old).score == "absolute"  # files written before
    with pytest.raises(ValueError, match="score"):
        ConformalIntervals(score="relative").fit(r, ev)


def test_small_bins_merge_and_round_trip() -> None:
    r = np.linspace(-30, 30, 24)
    ev = np.r_[np.full(20, 10.0), np.full(4, 30.0)]
    ci = ConformalIntervals(n_bins=3, min_bin=10).fit(r, ev)
    assert ci.bin_edges_ == [] and ci.n_calibration_ == [24]
    back = ConformalIntervals.from_dict(json.loads(json.dumps(ci.to_dict())))
    assert back.to_dict() == ci.to_dict()
    assert ci.to_dict()["q90"] == ci.pooled_["0.9"]
    with pytest.raises(ValueError, match="format 1"):
        ConformalIntervals.from_dict({"q80": 1.0, "q90": 2.0})
    with pytest.raises(ValueError, match="not calibrated"):
        ci.half_width(0.95, np.array([1.0]))
    with pytest.raises(ValueError, match="levels"):
        ConformalIntervals(levels=(1.2,)).fit(r)


def test_recent_walk_forward_splits_are_one_step_ahead() -> None:
    dates = pd.Series(pd.date_range("2024-01-01", periods=100, freq="D"))
    splits = recent_walk_forward_splits(dates, n_recent=40, n_folds=8)
    assert len(splits) == 8
    tested = np.concatenate([te for _, te in splits])
    assert np.array_equal(tested, np.arange(60, 100))
    for tr, te in splits:
        assert np.array_equal(tr, np.arange(te.min()))  # everything before the block
    assert_no_future_leak(dates, splits)
    same_day = pd.Series(pd.to_datetime(["2024-01-01"] * 50 + ["2024-02-01"] * 10))
    for tr, te in recent_walk_forward_splits(same_day, n_recent=10, n_folds=2):
        assert (same_day.iloc[tr] < same_day.iloc[te].min()).all()
    with pytest.raises(ValueError, match="no tuning fold"):
        recent_walk_forward_splits(dates.iloc[:20], n_recent=10, n_folds=2, min_train=30)
    t = np.r_[np.arange(50.0), np.nan]
    folds = time_ordered_folds(t, n_recent=20, n_folds=4)
    assert len(folds) == 4 and all(t[tr].max() < t[te].min() for tr, te in folds)
    assert 50 not in np.concatenate([np.r_[tr, te] for tr, te in folds])
