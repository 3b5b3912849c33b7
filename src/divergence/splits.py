"""Every split of the project: walk-forward, rolling origin, tuning folds.

All split functions take the models' release dates as a :class:`pandas.Series`
and return *positional* index arrays (``numpy.intp``, ascending) into it, i.e.
use them with ``X.iloc[train]``.

- Dates are compared at day resolution: two models released the same calendar
  day are simultaneous (times of day and time zones are dropped).
- A training model is always released strictly before the earliest test model
  of its split; same-day releases never train each other.
- Models without a release date (NaT) are in no split, neither train nor test:
  their position in time is unknown, so they could leak.

Functions
---------
- :func:`walk_forward_splits`: the test protocol, one newest model at a time.
- :func:`rolling_origin_quarterly`: train before a calendar quarter, test the quarter.
- :func:`recent_walk_forward_splits`: the tuning folds, one-step-ahead blocks over the
  newest part of a training window (the same shape of split as the test).
- :func:`inner_splits`: expanding-window blocks over a whole window (older protocol).
- :func:`time_ordered_folds`: the same one-step-ahead blocks from a numeric time column
  (used inside estimators, e.g. to choose a ridge penalty within ``fit``).
- :func:`assert_no_future_leak`: the check every split passes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

Split = tuple[np.ndarray, np.ndarray]


def _days(release_dates: pd.Series | Sequence[Any]) -> np.ndarray:
    """Release dates as ``datetime64[ns]`` truncated to the day (NaT kept)."""
    s = pd.Series(release_dates)
    if s.ndim != 1:
        raise ValueError("release_dates must be one-dimensional")
    if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s) and s.notna().any():
        raise TypeError("release_dates must hold dates, not numbers")
    try:
        d = pd.to_datetime(s.reset_index(drop=True))
    except (ValueError, TypeError) as exc:
        raise ValueError(f"release_dates must hold dates: {exc}") from None
    if d.dt.tz is not None:
        d = d.dt.tz_localize(None)
    return d.dt.normalize().to_numpy(dtype="datetime64[ns]")


def _check_int(value: int, name: str, minimum: int) -> None:
    """Raise ``ValueError`` unless ``value`` is an int >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")


def walk_forward_splits(
    release_dates: pd.Series, n_test: int = 25, min_train: int = 30
) -> list[Split]:
    """One-model-at-a-time walk-forward splits over the newest models.

    Parameters
    ----------
    release_dates : pandas.Series
        Release date per model (anything :func:`pandas.to_datetime` accepts).
    n_test : int, default 25
        Number of newest models to predict. Models are ordered by release day,
        ties by position, so among same-day models the later position is newer.
    min_train : int, default 30
        Test models with fewer strictly-earlier models are skipped.

    Returns
    -------
    list of (numpy.ndarray, numpy.ndarray)
        ``(train_idx, test_idx)`` positional pairs, oldest test model first;
        ``test_idx`` has length 1, ``train_idx`` is every dated model released
        on an earlier day.

    Raises
    ------
    ValueError
        If the parameters are invalid or no test model has ``min_train``
        earlier models.
    """
    _check_int(n_test, "n_test", 1)
    _check_int(min_train, "min_train", 1)
    days = _days(release_dates)
    known = np.flatnonzero(~np.isnat(days))
    order = known[np.argsort(days[known], kind="stable")]
    splits: list[Split] = []
    for pos in order[-n_test:]:
        train = known[days[known] < days[pos]].astype(np.intp)
        if train.size >= min_train:
            splits.append((train, np.array([pos], dtype=np.intp)))
    if not splits:
        raise ValueError(
            f"no walk-forward split: no test model has {min_train} models released before it"
        )
    assert_no_future_leak(release_dates, splits)
    return splits


def rolling_origin_quarterly(release_dates: pd.Series, min_train: int = 30) -> list[Split]:
    """Rolling-origin splits by calendar quarter.

    Parameters
    ----------
    release_dates : pandas.Series
        Release date per model.
    min_train : int, default 30
        Quarters with fewer models released before the quarter starts are
        skipped.

    Returns
    -------
    list of (numpy.ndarray, numpy.ndarray)
        One ``(train_idx, test_idx)`` pair per quarter with releases, oldest
        first: test = models released in the quarter, train = models released
        before its first day. Empty if no quarter has ``min_train`` earlier
        models.

    Raises
    ------
    ValueError
        If ``min_train`` is invalid.
    """
    _check_int(min_train, "min_train", 1)
    days = _days(release_dates)
    known = np.flatnonzero(~np.isnat(days))
    quarters = pd.DatetimeIndex(days[known]).to_period("Q")
    splits: list[Split] = []
    for q in quarters.unique().sort_values():
        start = q.start_time.to_datetime64()
        train = known[days[known] < start].astype(np.intp)
        if train.size >= min_train:
            test = known[np.asarray(quarters == q)].astype(np.intp)
            splits.append((train, test))
    assert_no_future_leak(release_dates, splits)
    return splits


def assert_no_future_leak(release_dates: pd.Series, splits: Sequence[Split]) -> None:
    """Check that no split trains on a model released on/after its test models.

    Parameters
    ----------
    release_dates : pandas.Series
        Release date per model (compared at day resolution).
    splits : sequence of (array-like, array-like)
        Positional ``(train_idx, test_idx)`` pairs.

    Raises
    ------
    AssertionError
        If a train model is released on or after the earliest test model of
        its split, a split has an empty test set, overlapping train and test,
        an index out of range or a model without release date.
    """
    days = _days(release_dates)
    n = days.size
    for k, (train, test) in enumerate(splits):
        parts = {"train": np.asarray(train), "test": np.asarray(test)}
        for name, idx in parts.items():
            if idx.ndim != 1 or (idx.size and not np.issubdtype(idx.dtype, np.integer)):
                raise AssertionError(f"split {k}: {name} indices must be a 1-D integer array")
            if idx.size and (idx.min() < 0 or idx.max() >= n):
                raise AssertionError(f"split {k}: {name} index out of range 0..{n - 1}")
            if np.isnat(days[idx.astype(np.intp)]).any():
                raise AssertionError(f"split {k}: {name} holds a model without release date")
        tr, te = parts["train"].astype(np.intp), parts["test"].astype(np.intp)
        if te.size == 0:
            raise AssertionError(f"split {k}: empty test set")
        if np.intersect1d(tr, te).size:
            raise AssertionError(f"split {k}: train and test overlap")
        if tr.size == 0:
            continue
        first_test = days[te].min()
        late = tr[days[tr] >= first_test]
        if late.size:
            raise AssertionError(
                f"split {k}: train model at position {int(late[0])} released "
                f"{np.datetime_as_string(days[late[0]], unit='D')}, not before the first "
                f"test model ({np.datetime_as_string(first_test, unit='D')})"
            )


def _recent_blocks(
    t: np.ndarray, known: np.ndarray, n_recent: int, n_folds: int, min_train: int
) -> list[Split]:
    """One-step-ahead blocks over the newest ``n_recent`` of the ``known`` positions."""
    order = known[np.argsort(t[known], kind="stable")]
    recent = order[-min(n_recent, order.size) :]
    splits: list[Split] = []
    for block in np.array_split(recent, min(n_folds, recent.size)):
        if block.size == 0:
            continue
        train = known[t[known] < t[block].min()].astype(np.intp)
        if train.size >= min_train:
            splits.append((train, np.sort(block).astype(np.intp)))
    return splits


def recent_walk_forward_splits(
    release_dates: pd.Series, n_recent: int = 40, n_folds: int = 8, min_train: int = 30
) -> list[Split]:
    """One-step-ahead folds over the newest models of a training window (tuning folds).

    The newest ``n_recent`` dated models are cut, in release order, into ``n_folds``
    consecutive blocks; each block is predicted from every model released on an
    earlier day. This is the walk-forward test protocol in blocks (a block of a few
    models instead of one), so tuning and calibration see the same kind of split as the
    test.

    Parameters
    ----------
    release_dates : pandas.Series
        Release date per model of the window.
    n_recent : int, default 40
        Number of newest models predicted (all dated models if fewer).
    n_folds : int, default 8
        Number of blocks.
    min_train : int, default 30
        Blocks with fewer strictly-earlier models are skipped.

    Returns
    -------
    list of (numpy.ndarray, numpy.ndarray)
        ``(train_idx, test_idx)`` positional pairs, oldest block first.

    Raises
    ------
    ValueError
        If the parameters are invalid or no block has ``min_train`` earlier models.
    """
    _check_int(n_recent, "n_recent", 1)
    _check_int(n_folds, "n_folds", 1)
    _check_int(min_train, "min_train", 1)
    days = _days(release_dates)
    known = np.flatnonzero(~np.isnat(days))
    splits = _recent_blocks(days.astype("int64"), known, n_recent, n_folds, min_train)
    if not splits:
        raise ValueError(
            f"no tuning fold: no block of the newest {n_recent} models has {min_train} "
            f"models released before it ({known.size} dated models)"
        )
    assert_no_future_leak(release_dates, splits)
    return splits


def time_ordered_folds(
    t: np.ndarray, n_recent: int = 40, n_folds: int = 4, min_train: int = 10
) -> list[Split]:
    """:func:`recent_walk_forward_splits` on a numeric time column (NaN = undated).

    For estimators that see time only as a feature (e.g. ``meta.release_days``) and
    choose a hyper-parameter inside ``fit``; empty when no block has ``min_train``
    earlier rows.
    """
    t = np.asarray(t, dtype="float64")
    known = np.flatnonzero(~np.isnan(t))
    return _recent_blocks(np.floor(t), known, n_recent, n_folds, min_train)


def inner_splits(release: pd.Series, n_folds: int = 4, min_train: int = 40) -> list[Split]:
    """Expanding-window folds in release order over a whole training window.

    The last ``n_folds`` blocks of models (by release, from position ``min_train``
    on) are predicted in turn from all models released strictly before the block
    starts.

    Raises
    ------
    ValueError
        If the window has fewer than ``min_train + n_folds`` models.
    """
    order = np.argsort(release.to_numpy(), kind="mergesort")
    dates = release.to_numpy()[order]
    n = len(order)
    if n < min_train + n_folds:
        raise ValueError(
            f"training window has {n} models; need at least {min_train + n_folds} to tune"
        )
    edges = np.linspace(min_train, n, n_folds + 1).astype(int)
    out = []
    for a, b in zip(edges[:-1], edges[1:], strict=True):
        start = dates[a]
        train = order[dates < start]
        test = order[a:b]
        if len(train) >= 10 and len(test):
            out.append((train, test))
    return out
