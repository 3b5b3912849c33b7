"""Out-of-time evaluation: metrics with bootstrap CIs (splits live in :mod:`divergence.splits`).

The data are small (a few hundred models ordered by release date), so every
prediction is made out of time and every metric carries a bootstrap interval.

Metrics
-------
:func:`evaluate` reports, per metric, the point value, a percentile bootstrap
interval (rows = models resampled with replacement) and ``n``, the number of
models that enter the metric:

- ``rmse``, ``mae``: of ``y_pred - y_true``.
- ``spearman``, ``kendall``: rank correlations (average ranks; Kendall tau-b).
  NaN when one side is constant.
- ``pairwise_acc``: over model pairs whose true values differ, the share
  ordered the same way by prediction and truth; a tied prediction scores 1/2
  (Harrell's concordance index: a constant predictor scores 0.5).
- ``pairwise_acc_sep``: the same over pairs the arena itself separates,
  ``|y_i - y_j| > y_err_i + y_err_j`` (non-overlapping CIs; ``y_err`` is the
  half-width of the truth's CI). NaN when ``y_err`` is None.
- ``coverage``: share of ``y_true`` inside ``[lower, upper]`` (bounds
  included), over models with both bounds; NaN when no interval is given.

Rows whose ``y_true`` or ``y_pred`` is NaN are dropped (``n`` says how many
remain); infinite values raise ``ValueError``. With fewer than 3 models the
rank metrics are NaN and all intervals are NaN; error metrics are still
reported for ``n >= 1``. Bootstrap replicates where a statistic is undefined
(e.g. a resample with constant predictions) are left out of its percentiles.

The bootstrap draws ``numpy.random.default_rng(seed).integers(0, n,
size=(n_boot, n))``: the same resamples for every metric of a call and for
:func:`bootstrap_ci`, so results are reproducible exactly. :func:`evaluate`
computes all replicates at once from per-model resample counts (pair
statistics as quadratic forms), which equals recomputing each metric on the
resampled rows.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from divergence.splits import (  # re-exported: the splits' old home
    Split,
    _check_int,
    assert_no_future_leak,
    rolling_origin_quarterly,
    walk_forward_splits,
)

__all__ = [
    "METRICS",
    "MIN_N",
    "Split",
    "assert_no_future_leak",
    "bootstrap_ci",
    "evaluate",
    "paired_difference",
    "rolling_origin_quarterly",
    "walk_forward_splits",
]

METRICS: tuple[str, ...] = (
    "rmse",
    "mae",
    "spearman",
    "kendall",
    "pairwise_acc",
    "pairwise_acc_sep",
    "coverage",
)
"""Row labels of :func:`evaluate`, in order."""

MIN_N: int = 3
"""Fewer models than this: rank metrics and all bootstrap intervals are NaN."""


# --------------------------------------------------------------------------- bootstrap


def _draw(n: int, n_boot: int, seed: int) -> np.ndarray:
    """Bootstrap row indices, shape ``(n_boot, n)``."""
    return np.random.default_rng(seed).integers(0, n, size=(n_boot, n))


def _percentiles(reps: np.ndarray, alpha: float) -> tuple[float, float]:
    """Percentile interval of the finite replicates (NaN if none)."""
    finite = reps[np.isfinite(reps)]
    if finite.size == 0:
        return np.nan, np.nan
    lo, hi = np.quantile(finite, [alpha / 2, 1 - alpha / 2])
    return float(lo), float(hi)


def _check_boot(n_boot: int, alpha: float) -> None:
    """Validate bootstrap parameters."""
    _check_int(n_boot, "n_boot", 0)
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha!r}")


def bootstrap_ci(
    stat_fn: Callable[..., float],
    *arrays: Any,
    n_boot: int = 2000,
    seed: int = 0,
    alpha: float = 0.05,
) -> tuple[float, float, float]:
    """Percentile bootstrap interval of a statistic, resampling rows jointly.

    Parameters
    ----------
    stat_fn : callable
        ``stat_fn(*arrays) -> float``.
    *arrays : array-like
        Arrays with the same length along axis 0 (rows = models).
    n_boot : int, default 2000
        Number of resamples; 0 gives NaN bounds.
    seed : int, default 0
        Seed of :func:`numpy.random.default_rng`.
    alpha : float, default 0.05
        Two-sided level: bounds are the ``alpha/2`` and ``1 - alpha/2``
        quantiles of the finite replicates.

    Returns
    -------
    value, lo, hi : float
        ``stat_fn`` on the full data and the interval; all NaN with no rows,
        NaN bounds with fewer than 3 rows.
    """
    _check_boot(n_boot, alpha)
    if not arrays:
        raise ValueError("bootstrap_ci needs at least one array")
    arrs = [np.asarray(a) for a in arrays]
    n = len(arrs[0])
    if any(len(a) != n for a in arrs):
        raise ValueError("bootstrap_ci arrays differ in length")
    if n == 0:
        return np.nan, np.nan, np.nan
    value = float(stat_fn(*arrs))
    if n < MIN_N or n_boot == 0:
        return value, np.nan, np.nan
    reps = np.array([stat_fn(*(a[i] for a in arrs)) for i in _draw(n, n_boot, seed)], dtype=float)
    lo, hi = _percentiles(reps, alpha)
    return value, lo, hi


# --------------------------------------------------------------------------- metrics


def _vector(x: Any, name: str) -> np.ndarray:
    """1-D float64 copy of ``x`` (pandas NA -> NaN); ``ValueError`` on inf."""
    try:
        if isinstance(x, pd.Series | pd.Index):
            a = x.to_numpy(dtype=np.float64, na_value=np.nan)
        else:
            a = np.array(x, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be numeric: {exc}") from None
    if a.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {a.shape}")
    if np.isinf(a).any():
        raise ValueError(f"{name} contains infinite values")
    return a


def _quad(c: np.ndarray, m: np.ndarray) -> np.ndarray:
    """``c_b^T m c_b`` for each row ``c_b`` of ``c``."""
    return np.einsum("bi,bi->b", c @ m, c)


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """``num / den`` with NaN where ``den`` is 0."""
    out = np.full(num.shape, np.nan)
    np.divide(num, den, out=out, where=den > 0)
    return out


def _spearman_counts(c: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Spearman rho of each resample given as per-row counts ``c``."""
    m = c.sum(axis=1, keepdims=True)

    def midranks(v: np.ndarray) -> np.ndarray:
        below = (v[None, :] < v[:, None]).astype(float)  # [i, j] = v_j < v_i
        same = (v[None, :] == v[:, None]).astype(float)
        return c @ below.T + (c @ same.T + 1.0) / 2.0

    rx, ry = midranks(x), midranks(y)
    dx = rx - (c * rx).sum(axis=1, keepdims=True) / m
    dy = ry - (c * ry).sum(axis=1, keepdims=True) / m
    sxy = (c * dx * dy).sum(axis=1)
    sxx = (c * dx * dx).sum(axis=1)
    syy = (c * dy * dy).sum(axis=1)
    # a non-constant resample has sum of squares >= m(m-1)/4; below 1e-9 m^2 is rounding
    den = np.sqrt(sxx * syy)
    den = np.where(np.minimum(sxx, syy) > 1e-9 * m[:, 0] ** 2, den, 0.0)
    return np.clip(_ratio(sxy, den), -1.0, 1.0)


def _kendall_counts(c: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Kendall tau-b of each resample given as per-row counts ``c``."""
    m = c.sum(axis=1)
    sx = np.sign(x[:, None] - x[None, :])
    sy = np.sign(y[:, None] - y[None, :])
    total = m * (m - 1) / 2
    tied_x = (_quad(c, (x[:, None] == x[None, :]).astype(float)) - m) / 2
    tied_y = (_quad(c, (y[:, None] == y[None, :]).astype(float)) - m) / 2
    num = _quad(c, sx * sy) / 2
    den = np.sqrt(np.maximum(total - tied_x, 0) * np.maximum(total - tied_y, 0))
    return np.clip(_ratio(num, den), -1.0, 1.0)


def _pair_matrices(
    y: np.ndarray, p: np.ndarray, err: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Pair score (1 same order, 1/2 tied prediction), ordered-pair and separated-pair masks."""
    dy = y[:, None] - y[None, :]
    dp = p[:, None] - p[None, :]
    ordered = (dy != 0).astype(float)
    score = ((dy * dp) > 0).astype(float) + 0.5 * ((dp == 0) & (dy != 0))
    sep = None
    if err is not None:
        with np.errstate(invalid="ignore"):
            sep = (np.abs(dy) > err[:, None] + err[None, :]).astype(float)
    return score, ordered, sep


def _metric_table(
    y: np.ndarray,
    p: np.ndarray,
    lower: np.ndarray | None,
    upper: np.ndarray | None,
    err: np.ndarray | None,
    c: np.ndarray,
) -> dict[str, np.ndarray]:
    """Every metric for every resample (rows of counts ``c``)."""
    n = y.size
    m = c.sum(axis=1)
    resid = p - y
    out = {
        "rmse": np.sqrt(_ratio(c @ resid**2, m)),
        "mae": _ratio(c @ np.abs(resid), m),
    }
    nan = np.full(c.shape[0], np.nan)
    if n >= MIN_N:
        score, ordered, sep = _pair_matrices(y, p, err)
        out["spearman"] = _spearman_counts(c, p, y)
        out["kendall"] = _kendall_counts(c, p, y)
        out["pairwise_acc"] = _ratio(_quad(c, score), _quad(c, ordered))
        out["pairwise_acc_sep"] = (
            nan if sep is None else _ratio(_quad(c, score * sep), _quad(c, sep))
        )
    else:
        out.update(spearman=nan, kendall=nan, pairwise_acc=nan, pairwise_acc_sep=nan)
    if lower is None or upper is None:
        out["coverage"] = nan
    else:
        has = (~np.isnan(lower) & ~np.isnan(upper)).astype(float)
        inside = has * ((y >= np.nan_to_num(lower)) & (y <= np.nan_to_num(upper)))
        out["coverage"] = _ratio(c @ inside, c @ has)
    return {k: out[k] for k in METRICS}


def _count_rows(n: int, n_boot: int, seed: int) -> np.ndarray:
    """Counts matrix: row 0 all ones (full data), then one row per resample."""
    rows = np.ones((1, n))
    if n < MIN_N or n_boot == 0:
        return rows
    idx = _draw(n, n_boot, seed) + (np.arange(n_boot) * n)[:, None]
    counts = np.bincount(idx.ravel(), minlength=n_boot * n).reshape(n_boot, n)
    return np.vstack([rows, counts.astype(float)])


def evaluate(
    y_true: Any,
    y_pred: Any,
    lower: Any = None,
    upper: Any = None,
    y_err: Any = None,
    n_boot: int = 2000,
    seed: int = 0,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Prediction metrics with percentile bootstrap intervals.

    Parameters
    ----------
    y_true, y_pred : array-like of float
        Truth and prediction per model, aligned by position.
    lower, upper : array-like of float, optional
        Prediction interval per model, for ``coverage`` (give both or none).
    y_err : array-like of float, optional
        Half-width of the truth's CI per model, for ``pairwise_acc_sep``.
    n_boot : int, default 2000
        Number of bootstrap resamples of the models; 0 gives NaN intervals.
    seed : int, default 0
        Bootstrap seed.
    alpha : float, default 0.05
        Two-sided level of the intervals.

    Returns
    -------
    pandas.DataFrame
        Index :data:`METRICS` (named ``metric``); columns ``value``, ``ci_lo``,
        ``ci_hi`` (float64) and ``n`` (int64, models entering the metric).

    Raises
    ------
    ValueError
        On length mismatch, infinite values, negative ``y_err``, only one
        interval bound given, or ``lower > upper``.
    """
    _check_boot(n_boot, alpha)
    y, p = _vector(y_true, "y_true"), _vector(y_pred, "y_pred")
    extra = {"lower": lower, "upper": upper, "y_err": y_err}
    arrs = {k: None if v is None else _vector(v, k) for k, v in extra.items()}
    if (lower is None) != (upper is None):
        raise ValueError("give both lower and upper, or neither")
    for k, a in [("y_pred", p), *arrs.items()]:
        if a is not None and a.size != y.size:
            raise ValueError(f"{k} has length {a.size}, y_true has {y.size}")
    if arrs["y_err"] is not None and (arrs["y_err"] < 0).any():
        raise ValueError("y_err must be >= 0 (half-width of the truth's CI)")
    lo_chk, up_chk = arrs["lower"], arrs["upper"]
    if lo_chk is not None and up_chk is not None:  # both or neither (checked above)
        with np.errstate(invalid="ignore"):
            if (lo_chk > up_chk).any():
                raise ValueError("lower > upper for some model")

    keep = ~np.isnan(y) & ~np.isnan(p)
    y, p = y[keep], p[keep]
    lo_arr, up_arr, err = (None if a is None else a[keep] for a in arrs.values())
    n = int(y.size)
    table = _metric_table(y, p, lo_arr, up_arr, err, _count_rows(n, n_boot, seed))

    counts = dict.fromkeys(METRICS, n)
    counts["pairwise_acc_sep"] = 0 if err is None else int((~np.isnan(err)).sum())
    counts["coverage"] = (
        0
        if lo_arr is None or up_arr is None
        else int((~np.isnan(lo_arr) & ~np.isnan(up_arr)).sum())
    )
    rows = []
    for name in METRICS:
        reps = table[name]
        ci = _percentiles(reps[1:], alpha) if reps.size > 1 else (np.nan, np.nan)
        rows.append((float(reps[0]), *ci, counts[name]))
    out = pd.DataFrame(
        rows, columns=["value", "ci_lo", "ci_hi", "n"], index=pd.Index(METRICS, name="metric")
    )
    return out.astype({"value": "float64", "ci_lo": "float64", "ci_hi": "float64", "n": "int64"})


def paired_difference(
    y_true: Any,
    pred_a: Any,
    pred_b: Any,
    n_boot: int = 2000,
    seed: int = 0,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Paired bootstrap of the error difference between two predictors.

    Parameters
    ----------
    y_true : array-like of float
        Truth per model.
    pred_a, pred_b : array-like of float
        Predictions of model A (e.g. the candidate) and B (e.g. a baseline),
        aligned by position. Rows with any NaN are dropped.
    n_boot : int, default 2000
        Number of resamples (the same models for A and B in each).
    seed : int, default 0
        Bootstrap seed.
    alpha : float, default 0.05
        Two-sided level of the interval.

    Returns
    -------
    pandas.DataFrame
        Index ``rmse``, ``mae`` (named ``metric``); columns ``a``, ``b`` (the
        metric of each), ``value`` (``a - b``: negative means A is better),
        ``ci_lo``, ``ci_hi`` (interval of ``a - b``) and ``n``. An interval
        entirely below 0 says A beats B at level ``alpha``.
    """
    _check_boot(n_boot, alpha)
    y = _vector(y_true, "y_true")
    a, b = _vector(pred_a, "pred_a"), _vector(pred_b, "pred_b")
    if not a.size == b.size == y.size:
        raise ValueError(f"lengths differ: y_true {y.size}, pred_a {a.size}, pred_b {b.size}")
    keep = ~(np.isnan(y) | np.isnan(a) | np.isnan(b))
    y, a, b = y[keep], a[keep], b[keep]
    n = int(y.size)
    c = _count_rows(n, n_boot, seed)
    m = c.sum(axis=1)
    ea, eb = a - y, b - y
    stats = {
        "rmse": (np.sqrt(_ratio(c @ ea**2, m)), np.sqrt(_ratio(c @ eb**2, m))),
        "mae": (_ratio(c @ np.abs(ea), m), _ratio(c @ np.abs(eb), m)),
    }
    rows = []
    for sa, sb in stats.values():
        diff = sa - sb
        ci = _percentiles(diff[1:], alpha) if diff.size > 1 else (np.nan, np.nan)
        rows.append((float(sa[0]), float(sb[0]), float(diff[0]), *ci, n))
    out = pd.DataFrame(
        rows,
        columns=["a", "b", "value", "ci_lo", "ci_hi", "n"],
        index=pd.Index(list(stats), name="metric"),
    )
    return out.astype({"n": "int64"})
