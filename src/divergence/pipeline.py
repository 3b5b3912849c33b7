"""The modelling pipeline: prepare → tune → walk-forward evaluate → train final.

Pure computation; MLflow logging lives in :mod:`divergence.runs`.

Protocol (small-n, out of time):

1. *Tuning window*: every rated model released strictly before the first of the
   ``n_test`` newest rated models. Optuna tunes on one-step-ahead folds over the newest
   ``tune_recent`` models of this window
   (:func:`divergence.splits.recent_walk_forward_splits`), the same kind of split as
   the test.
2. *Walk-forward*: each of the ``n_test`` newest models is predicted by a model refitted
   (tuned parameters) on every model released strictly before it, once per xgboost seed
   (``n_seeds`` seeds from ``seed``); the headline is the seed with the median RMSE, the
   spread over seeds is reported. Baselines get the same splits and the same inputs as
   "ours, benchmarks only" (benchmarks + release date). Intervals: conformal
   (:class:`divergence.conformal.ConformalIntervals`, normalised score, scale per bin of
   observed benchmark inputs) on the one-step-ahead residuals of the tuning folds — no
   test model.
3. *Rolling origin by quarter*: train on everything before a quarter, predict the
   quarter; default (untuned) parameters, so no tuning ever saw these test models; the
   same seeds and headline rule as the walk-forward. Intervals: calibrated on the
   rolling-origin residuals (first seed) of earlier quarters only (none until
   :data:`MIN_CALIBRATION` exist).
4. *Final model*: tuned parameters refitted on all rated models; its intervals are
   calibrated on the one-step-ahead residuals of steps 1 and 2 (tuning folds +
   walk-forward, all with the tuned parameters).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingRegressor

from divergence.baselines import (
    BestSingleBenchmark,
    LinearOnColumn,
    MeanBaseline,
    MedianRidge,
    StrongRidge,
    TrailingMean,
)
from divergence.conformal import ConformalIntervals
from divergence.evaluation import evaluate, paired_difference
from divergence.experiment import Experiment
from divergence.features import drop_test_era_only, load_spec, model_frame
from divergence.model import UtilityRegressor, is_benchmark_column
from divergence.progress import Progress
from divergence.splits import (
    assert_no_future_leak,
    recent_walk_forward_splits,
    rolling_origin_quarterly,
    walk_forward_splits,
)
from divergence.targets import target_frame
from divergence.tuning import DEFAULT_PARAMS

AA_INDEX = "aa.artificial_analysis_intelligence_index"
BASELINES = [
    "mean",
    "trailing_mean",
    "best_single",
    "aa_index_linear",
    "factor_linear",
    "median_ridge",
    "strong_ridge",
    "hist_gbm",
]
STRONG_BASELINE = "strong_ridge"
"""The reference of the paired differences (``this_minus_reference_*``)."""
LEVELS = (0.8, 0.9)
MIN_CALIBRATION = 20
"""Fewest residuals a rolling-origin quarter's intervals are calibrated on."""
FRONTIER_N = 8
"""Highest-rated test models whose RMSE is the frontier check."""


@dataclass
class Prepared:
    """Aligned inputs for one experiment."""

    exp: Experiment
    target: pd.DataFrame  # index model_id: target, target_err, release_date, ...
    X: pd.DataFrame  # main feature set, rows = rated models (release order)
    Xb: pd.DataFrame  # benchmarks-only feature set, same rows
    X_all: pd.DataFrame  # main feature set, every model in the snapshot
    Xb_all: pd.DataFrame
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def y(self) -> np.ndarray:
        return self.target["target"].to_numpy(dtype="float64")

    @property
    def release(self) -> pd.Series:
        return self.target["release_date"].reset_index(drop=True)


def prepare(exp: Experiment, tables: dict[str, pd.DataFrame]) -> Prepared:
    """Targets and feature frames for an experiment."""
    target = target_frame(tables, exp.category, exp.board, exp.fallback_raw)
    spec, bspec = load_spec(exp.feature_set), load_spec(exp.benchmark_feature_set)
    X_all = model_frame(tables, spec, as_of=target["target_date"])
    Xb_all = model_frame(tables, bspec, as_of=target["target_date"])
    has_bench = Xb_all[[c for c in Xb_all.columns if is_benchmark_column(c)]].notna().any(axis=1)
    target = target[target.index.isin(has_bench[has_bench].index)]
    ids = list(target.index)
    test_start = target["release_date"].iloc[-exp.n_test] if len(ids) > exp.n_test else None
    X_all, Xb_all, dropped = drop_test_era_only(X_all, Xb_all, target["release_date"], test_start)
    return Prepared(
        exp, target, X_all.loc[ids], Xb_all.loc[ids], X_all, Xb_all, {"dropped_features": dropped}
    )


def tuning_window(p: Prepared) -> np.ndarray:
    """Positions of models released before the first walk-forward test model."""
    splits = walk_forward_splits(p.release, n_test=p.exp.n_test, min_train=p.exp.min_train)
    return splits[0][0]


def _bench_only(X: pd.DataFrame) -> pd.DataFrame:
    return X[[c for c in X.columns if is_benchmark_column(c)]]


def baseline_inputs(X: pd.DataFrame) -> pd.DataFrame:
    """The baselines' inputs: benchmark columns and the release date (as "ours, benchmarks only")."""
    return X[[c for c in X.columns if is_benchmark_column(c) or c == "meta.release_days"]]


SINGLE_COLUMN = frozenset({"best_single", "aa_index_linear"})
"""Baselines restricted to benchmark columns (a line on one benchmark)."""


def make_baselines(seed: int) -> dict[str, Any]:
    """Baseline estimators by name (fitted on :func:`baseline_inputs`)."""
    return {
        "mean": MeanBaseline(),
        "trailing_mean": TrailingMean(window_days=365.0),
        "best_single": BestSingleBenchmark(min_coverage=0.5),
        "aa_index_linear": LinearOnColumn(AA_INDEX),
        "factor_linear": UtilityRegressor(
            base="factor", n_estimators=0, monotone=False, n_factors=1, random_state=seed
        ),
        "median_ridge": MedianRidge(alpha=10.0),
        "strong_ridge": StrongRidge(),
        "hist_gbm": HistGradientBoostingRegressor(random_state=seed),
    }


def _fit_predict_baseline(
    name: str, est: Any, Xtr: pd.DataFrame, ytr: np.ndarray, Xte: pd.DataFrame
) -> np.ndarray:
    pick = _bench_only if name in SINGLE_COLUMN else baseline_inputs
    Xtr, Xte = pick(Xtr), pick(Xte)
    keep = Xtr.columns[Xtr.notna().any().to_numpy()].tolist()  # one pass, not one per column
    if name == "aa_index_linear" and AA_INDEX not in keep:
        return np.full(len(Xte), float(np.mean(ytr)))
    return np.asarray(est.fit(Xtr[keep], ytr).predict(Xte[keep]), dtype="float64")


def conformal_q(residuals: np.ndarray, levels: tuple[float, ...] = LEVELS) -> dict[str, float]:
    """Marginal split-conformal half-widths ``{"q80": ..., "q90": ...}`` of residuals."""
    ci = ConformalIntervals(levels, n_bins=1).fit(residuals)
    return {k: v for k, v in ci.to_dict().items() if k.startswith("q")}


def seeds_of(exp: Experiment) -> list[int]:
    """The xgboost seeds of the walk-forward: ``seed, seed + 1, ...`` (``n_seeds`` of them)."""
    return [exp.seed + k for k in range(exp.n_seeds)]


def tuning_folds(p: Prepared) -> list[tuple[np.ndarray, np.ndarray]]:
    """The tuning folds, as positions into ``p`` (not into the tuning window)."""
    win = tuning_window(p)
    rel = p.release.iloc[win].reset_index(drop=True)
    folds = recent_walk_forward_splits(rel, n_recent=p.exp.tune_recent, n_folds=p.exp.inner_folds)
    return [(win[tr], win[te]) for tr, te in folds]


def one_step_residuals(
    p: Prepared, params: dict[str, Any], seed: int | None = None
) -> pd.DataFrame:
    """One-step-ahead residuals of ``params`` on the tuning folds (no test model).

    ``seed``: the xgboost seed (default ``exp.seed``).

    Returns
    -------
    DataFrame
        ``model_id``, ``release_date``, ``residual`` (pred − y), ``evidence`` (observed
        benchmark inputs the fitted model uses), ``source`` = ``"tuning_folds"``.
    """
    rows = []
    seed = p.exp.seed if seed is None else seed
    for tr, te in tuning_folds(p):
        m = UtilityRegressor(**params, random_state=seed, n_jobs=1).fit(p.X.iloc[tr], p.y[tr])
        Xte = p.X.iloc[te]
        rows.append(
            pd.DataFrame(
                {
                    "model_id": p.target.index[te],
                    "release_date": p.target["release_date"].iloc[te].to_numpy(),
                    "residual": m.predict(Xte) - p.y[te],
                    "evidence": m.evidence(Xte),
                    "source": "tuning_folds",
                }
            )
        )
    return pd.concat(rows, ignore_index=True)


def inner_oof(p: Prepared, params: dict[str, Any]) -> pd.DataFrame:
    """One-step-ahead residuals on the tuning folds (:func:`one_step_residuals`)."""
    return one_step_residuals(p, params)


def _interval_columns(
    intervals: Any, pred: np.ndarray, evidence: np.ndarray
) -> dict[str, np.ndarray]:
    """``lower_80 ... upper_90`` from a fitted wrapper, fixed half-widths, or NaN."""
    if isinstance(intervals, ConformalIntervals):
        return intervals.intervals(pred, evidence)
    out = {}
    for lv in LEVELS:
        q = float(intervals[f"q{int(lv * 100)}"]) if isinstance(intervals, dict) else np.nan
        out[f"lower_{int(lv * 100)}"] = pred - q
        out[f"upper_{int(lv * 100)}"] = pred + q
    return out


def walk_forward(
    p: Prepared,
    params: dict[str, Any],
    intervals: Any = None,
    splits: list | None = None,
    label: str = "walk-forward",
    baselines: bool = True,
    seeds: list[int] | None = None,
) -> pd.DataFrame:
    """Out-of-time predictions of ours, benchmarks-only ours and baselines.

    Parameters
    ----------
    p : Prepared
        Inputs.
    params : dict
        ``UtilityRegressor`` parameters.
    intervals : ConformalIntervals, dict, "sequential" or None
        Intervals of ``ours``: a fitted wrapper; a dict of fitted wrappers by seed (each
        seed's intervals from its own calibration); fixed half-widths ``{"q80", "q90"}``;
        ``"sequential"``: calibrated at each split on the residuals (first seed) of the
        earlier splits, once :data:`MIN_CALIBRATION` exist; None: no intervals.
    splits : list, optional
        Default: the walk-forward over the ``n_test`` newest models.
    seeds : list of int, optional
        xgboost seeds of ours (default ``[exp.seed]``); "ours, benchmarks only" uses the
        first, baselines ``exp.seed``.

    Returns
    -------
    DataFrame
        One row per (model, method, seed): model_id, release_date, y, y_err, n_train,
        train_max (highest training target), method, seed, pred, evidence, lower_80,
        upper_80, lower_90, upper_90 (intervals for ``ours`` only).
    """
    y = p.y
    if splits is None:
        splits = walk_forward_splits(p.release, n_test=p.exp.n_test, min_train=p.exp.min_train)
    assert_no_future_leak(p.release, splits)
    seeds = list(seeds) if seeds else [p.exp.seed]
    rows = []
    past: list[pd.DataFrame] = []
    bar = Progress(label, len(splits))
    for tr, te in splits:
        ids = p.target.index[te]
        base = {
            "model_id": list(ids),
            "release_date": p.target["release_date"].iloc[te].to_numpy(),
            "y": y[te],
            "y_err": p.target["target_err"].iloc[te].to_numpy(),
            "n_train": len(tr),
            "train_max": float(np.max(y[tr])),
        }
        ivl = intervals
        if isinstance(intervals, str) and intervals == "sequential":
            prev = pd.concat(past, ignore_index=True) if past else None
            ivl = None
            if prev is not None and len(prev) >= MIN_CALIBRATION:
                ivl = ConformalIntervals(LEVELS).fit(prev["pred"] - prev["y"], prev["evidence"])
        for k, seed in enumerate(seeds):
            ours = UtilityRegressor(**params, random_state=seed, n_jobs=1).fit(p.X.iloc[tr], y[tr])
            Xte = p.X.iloc[te]
            pred = ours.predict(Xte)
            ev = ours.evidence(Xte).astype("float64")
            per_seed = isinstance(ivl, dict) and "q90" not in ivl
            ivl_seed = ivl.get(seed) if per_seed and isinstance(ivl, dict) else ivl
            df = pd.DataFrame(
                {
                    **base,
                    "method": "ours",
                    "seed": seed,
                    "pred": pred,
                    "evidence": ev,
                    **_interval_columns(ivl_seed, pred, ev),
                }
            )
            rows.append(df)
            if k == 0:
                past.append(df)
            if k > 0:  # benchmarks-only: the first seed only (its spread is not a headline)
                continue
            bo = UtilityRegressor(**params, random_state=seed, n_jobs=1).fit(p.Xb.iloc[tr], y[tr])
            rows.append(
                pd.DataFrame(
                    {
                        **base,
                        "method": "ours_benchmarks_only",
                        "seed": seed,
                        "pred": bo.predict(p.Xb.iloc[te]),
                    }
                )
            )
        if baselines:
            for name, est in make_baselines(p.exp.seed).items():
                bp = _fit_predict_baseline(name, est, p.Xb.iloc[tr], y[tr], p.Xb.iloc[te])
                rows.append(
                    pd.DataFrame(
                        {**base, "method": f"baseline_{name}", "seed": p.exp.seed, "pred": bp}
                    )
                )
        bar.step(f"{ids[0] if len(ids) == 1 else f'{len(ids)} models'}")
    out = pd.concat(rows, ignore_index=True)
    for c in ["evidence", "lower_80", "upper_80", "lower_90", "upper_90"]:
        if c not in out:
            out[c] = np.nan
    return out


def _rmse(g: pd.DataFrame) -> float:
    return float(np.sqrt(np.mean((g["pred"] - g["y"]) ** 2)))


def headline(preds: pd.DataFrame) -> pd.DataFrame:
    """One seed per method: the seed whose RMSE is the median over seeds (lower middle)."""
    keep = []
    for _, g in preds.groupby("method", sort=False):
        by_seed = {s: _rmse(gs) for s, gs in g.groupby("seed")}
        order = sorted(by_seed, key=lambda s: (by_seed[s], s))
        keep.append(g[g["seed"] == order[(len(order) - 1) // 2]])
    return pd.concat(keep, ignore_index=True)


def seed_table(preds: pd.DataFrame) -> pd.DataFrame:
    """Per method and seed: RMSE, MAE, Spearman, 90% coverage, median 90% width, p90 |error|."""
    rows = []
    for (method, seed), g in preds.groupby(["method", "seed"], sort=True):
        m = evaluate(g["y"], g["pred"], n_boot=0)["value"]
        has = g["lower_90"].notna()
        rows.append(
            {
                "method": method,
                "seed": int(seed),  # type: ignore[call-overload]
                "rmse": m["rmse"],
                "mae": m["mae"],
                "spearman": m["spearman"],
                "p90_abs_error": float(np.quantile((g["pred"] - g["y"]).abs(), 0.9)),
                "coverage_90": float(
                    ((g["y"] >= g["lower_90"]) & (g["y"] <= g["upper_90"]))[has].mean()
                )
                if has.any()
                else np.nan,
                "median_width_90": float((g["upper_90"] - g["lower_90"])[has].median())
                if has.any()
                else np.nan,
            }
        )
    return pd.DataFrame(rows)


def seed_summary(seeds: pd.DataFrame) -> pd.DataFrame:
    """Median, min and max over seeds of every :func:`seed_table` measure, per method."""
    out = []
    for method, g in seeds.groupby("method", sort=False):
        for col in ["rmse", "mae", "spearman", "p90_abs_error", "coverage_90", "median_width_90"]:
            v = g[col].dropna()
            if len(v):
                out.append(
                    {
                        "method": method,
                        "metric": col,
                        "median": float(v.median()),
                        "min": float(v.min()),
                        "max": float(v.max()),
                        "n_seeds": int(len(v)),
                    }
                )
    return pd.DataFrame(out)


def interval_summary(preds: pd.DataFrame) -> dict[str, float]:
    """Coverage (80%, 90%), median 90% width and the 90th-percentile |error| of ``ours``.

    ``width_ratio_90`` is the median *full* 90% width (upper − lower) over the
    90th-percentile absolute error, ``half_width_ratio_90`` the median half-width over it
    (a symmetric interval that covers 90% has a half-width near that error, so the full
    ratio of a calibrated interval is near 2).
    """
    g = preds[(preds["method"] == "ours") & preds["lower_90"].notna()]
    err = (
        preds.loc[preds["method"] == "ours", "pred"] - preds.loc[preds["method"] == "ours", "y"]
    ).abs()
    out = {"p90_abs_error": float(np.quantile(err, 0.9)) if len(err) else np.nan}
    if len(g):
        w90 = g["upper_90"] - g["lower_90"]
        out.update(
            {
                "n_with_interval": int(len(g)),
                "coverage_80": float(
                    ((g["y"] >= g["lower_80"]) & (g["y"] <= g["upper_80"])).mean()
                ),
                "coverage_90": float(
                    ((g["y"] >= g["lower_90"]) & (g["y"] <= g["upper_90"])).mean()
                ),
                "median_width_90": float(w90.median()),
                "min_width_90": float(w90.min()),
                "max_width_90": float(w90.max()),
            }
        )
        out["width_ratio_90"] = out["median_width_90"] / out["p90_abs_error"]
        out["half_width_ratio_90"] = out["width_ratio_90"] / 2
    return out


def extrapolation_table(preds: pd.DataFrame) -> pd.DataFrame:
    """Per method: predicted vs actual maximum, and the residual's trend over release date.

    Columns: ``pred_max``, ``actual_max``, ``pred_of_actual_max`` (prediction for the
    highest-rated test model), ``n_above_train_max`` (predictions above every training
    target; ``n_actual_above_train_max`` for the truth), ``frontier_rmse`` (RMSE on the
    :data:`FRONTIER_N` highest-rated test models), ``resid_slope_per_100d`` (OLS slope of
    pred − y on release date) and ``resid_release_spearman``.
    """
    rows = []
    for method, g in preds.groupby("method", sort=False):
        r = (g["pred"] - g["y"]).to_numpy()
        t = (pd.to_datetime(g["release_date"]) - pd.Timestamp("2020-01-01")).dt.days.to_numpy()
        slope = float(np.polyfit(t, r, 1)[0] * 100) if np.ptp(t) > 0 else np.nan
        top = g.iloc[int(np.argmax(g["y"].to_numpy()))]
        frontier = g.nlargest(FRONTIER_N, "y")
        rows.append(
            {
                "method": method,
                "pred_max": float(g["pred"].max()),
                "actual_max": float(g["y"].max()),
                "pred_of_actual_max": float(top["pred"]),
                "actual_max_model": str(top["model_id"]),
                "n_above_train_max": int((g["pred"] > g["train_max"]).sum()),
                "n_actual_above_train_max": int((g["y"] > g["train_max"]).sum()),
                "frontier_rmse": _rmse(frontier),
                "resid_slope_per_100d": slope,
                "resid_release_spearman": float(pd.Series(r).corr(pd.Series(t), method="spearman")),
            }
        )
    return pd.DataFrame(rows)


def metrics_table(
    preds: pd.DataFrame, n_boot: int, seed: int, reference: str = f"baseline_{STRONG_BASELINE}"
) -> pd.DataFrame:
    """Metrics with bootstrap CIs per method, plus paired RMSE/MAE differences.

    ``ours_minus_this_*`` rows compare ours with each method; ``this_minus_reference_*``
    rows compare each method with ``reference`` (the strong ridge). ``preds`` holds one
    seed per method (see :func:`headline`).
    """
    out = []
    ours = preds[preds["method"] == "ours"].set_index("model_id")
    ref = preds[preds["method"] == reference].set_index("model_id")
    for method, grp in preds.groupby("method", sort=True):
        g = grp.set_index("model_id")
        has = method == "ours" and g["lower_90"].notna().any()
        m = evaluate(
            g["y"],
            g["pred"],
            lower=g["lower_90"] if has else None,
            upper=g["upper_90"] if has else None,
            y_err=g["y_err"],
            n_boot=n_boot,
            seed=seed,
        ).reset_index()
        m.insert(0, "method", method)
        out.append(m)
        pairs = []
        if method != "ours" and len(ours):
            pairs.append(("ours_minus_this_", ours, g, True))
        if method != reference and len(ref):
            pairs.append(("this_minus_reference_", g, ref, False))
        for prefix, a, b, _ in pairs:
            common = a.index.intersection(b.index)
            d = paired_difference(
                a.loc[common, "y"],
                a.loc[common, "pred"],
                b.loc[common, "pred"],
                n_boot=n_boot,
                seed=seed,
            ).reset_index()
            d["metric"] = prefix + d["metric"].astype(str)
            d.insert(0, "method", method)
            out.append(d[["method", "metric", "value", "ci_lo", "ci_hi", "n"]])
    return pd.concat(out, ignore_index=True)


def run_evaluation(
    p: Prepared, params: dict[str, Any], inner_residuals: Any = None
) -> dict[str, Any]:
    """Walk-forward and rolling-origin evaluation with metrics (see module docstring).

    ``inner_residuals``: :func:`one_step_residuals` output for ``exp.seed`` (computed
    when None). Each walk-forward seed's intervals are calibrated on that seed's own
    tuning-fold residuals.
    """
    cal = inner_residuals
    if not isinstance(cal, pd.DataFrame):
        cal = one_step_residuals(p, params)
    ci = ConformalIntervals(LEVELS).fit(cal["residual"], cal["evidence"])
    by_seed = {p.exp.seed: ci}
    for seed in seeds_of(p.exp):
        if seed not in by_seed:
            r = one_step_residuals(p, params, seed=seed)
            by_seed[seed] = ConformalIntervals(LEVELS).fit(r["residual"], r["evidence"])
    wf = walk_forward(p, params, by_seed, seeds=seeds_of(p.exp))
    head = headline(wf)
    wf_metrics = metrics_table(head, p.exp.n_boot, p.exp.seed)
    seeds = seed_table(wf)
    ro_splits = rolling_origin_quarterly(p.release, min_train=p.exp.rolling_min_train)
    ro_all = (
        walk_forward(
            p,
            dict(DEFAULT_PARAMS),
            "sequential",
            splits=ro_splits,
            label="rolling-origin",
            seeds=seeds_of(p.exp),
        )
        if ro_splits
        else pd.DataFrame()
    )
    ro = headline(ro_all) if len(ro_all) else ro_all
    ro_seeds = seed_summary(seed_table(ro_all)) if len(ro_all) else pd.DataFrame()
    ro_metrics = metrics_table(ro, p.exp.n_boot, p.exp.seed) if len(ro) else pd.DataFrame()
    own = wf[(wf["method"] == "ours") & (wf["seed"] == p.exp.seed)]
    calibration = pd.concat(
        [
            cal,
            pd.DataFrame(
                {
                    "model_id": own["model_id"],
                    "release_date": own["release_date"],
                    "residual": own["pred"] - own["y"],
                    "evidence": own["evidence"],
                    "source": "walk_forward",
                }
            ),
        ],
        ignore_index=True,
    )
    return {
        "walkforward": head,
        "walkforward_all_seeds": wf,
        "walkforward_metrics": wf_metrics,
        "seed_table": seeds,
        "seed_summary": seed_summary(seeds),
        "intervals": interval_summary(head),
        "extrapolation": extrapolation_table(head),
        "rolling": ro,
        "rolling_metrics": ro_metrics,
        "rolling_intervals": interval_summary(ro) if len(ro) else {},
        "rolling_all_seeds": ro_all,
        "rolling_seed_summary": ro_seeds,
        "q_inner": ci.to_dict(),
        "calibration": calibration,
        "extra_metrics": extra_metrics(seed_summary(seeds), interval_summary(head), ro, ro_seeds),
    }


def extra_metrics(
    seeds: pd.DataFrame,
    intervals: dict[str, float],
    rolling: pd.DataFrame,
    rolling_seeds: pd.DataFrame | None = None,
) -> dict[str, float]:
    """Flat MLflow metrics: seed spread, interval coverage and width (walk-forward, rolling)."""
    out: dict[str, float] = {}
    for kind, table in [("walkforward", seeds), ("rolling", rolling_seeds)]:
        if table is None or not len(table):
            continue
        prefix = {"ours": kind, "ours_benchmarks_only": f"benchmarks_only_{kind}"}
        for _, r in table.iterrows():
            if r["method"] in prefix:
                for stat in ["median", "min", "max"]:
                    out[f"{prefix[r['method']]}_{r['metric']}_seed_{stat}"] = r[stat]
    for k, v in intervals.items():
        out[f"walkforward_interval_{k}"] = float(v)
    if len(rolling):
        for k, v in interval_summary(rolling).items():
            out[f"rolling_interval_{k}"] = float(v)
    return {k: v for k, v in out.items() if pd.notna(v)}


def train_final(p: Prepared, params: dict[str, Any], residuals: Any) -> dict[str, Any]:
    """Fit the final main and benchmarks-only models on every rated model.

    ``residuals``: the calibration frame of :func:`run_evaluation` (``residual``,
    ``evidence``) or a plain array of residuals (marginal intervals).
    """
    seed = p.exp.seed
    main = UtilityRegressor(**params, random_state=seed, n_jobs=1).fit(p.X, p.y)
    bench = UtilityRegressor(**params, random_state=seed, n_jobs=1).fit(p.Xb, p.y)
    if isinstance(residuals, pd.DataFrame):
        ci = ConformalIntervals(LEVELS).fit(residuals["residual"], residuals["evidence"])
    else:
        ci = ConformalIntervals(LEVELS, n_bins=1).fit(np.asarray(residuals, dtype="float64"))
    return {"main": main, "bench": bench, "q": ci.to_dict()}


def summary_metrics(wf_metrics: pd.DataFrame) -> dict[str, float]:
    """Flat MLflow metrics: walkforward_* for ours, baseline_<name>_walkforward_* for baselines.

    Paired differences are logged as ``<prefix>_ours_minus_this_rmse`` and
    ``<prefix>_this_minus_reference_rmse`` (reference: the strong ridge).
    """
    out: dict[str, float] = {}
    keep = {
        "rmse",
        "mae",
        "spearman",
        "kendall",
        "pairwise_acc",
        "pairwise_acc_sep",
        "coverage",
        "ours_minus_this_rmse",
        "this_minus_reference_rmse",
    }
    for _, r in wf_metrics.iterrows():
        if r["metric"] not in keep:
            continue
        if r["method"] == "ours":
            prefix = "walkforward"
        elif r["method"] == "ours_benchmarks_only":
            prefix = "benchmarks_only_walkforward"
        else:
            prefix = f"{r['method']}_walkforward"
        for col, suf in [("value", ""), ("ci_lo", "_ci_lo"), ("ci_hi", "_ci_hi")]:
            v = r[col]
            if pd.notna(v):
                out[f"{prefix}_{r['metric']}{suf}"] = float(v)
    return out


LABELS = {
    "ours": "**ours** (benchmarks + adoption + metadata)",
    "ours_benchmarks_only": "ours, benchmarks only",
    "baseline_strong_ridge": "baseline: ridge, median impute + missing indicators, alpha on inner folds",
    "baseline_hist_gbm": "baseline: HistGradientBoosting (defaults)",
    "baseline_median_ridge": "baseline: median impute + ridge (alpha 10)",
    "baseline_factor_linear": "baseline: general factor + release date, linear",
    "baseline_aa_index_linear": "baseline: AA intelligence index, linear",
    "baseline_best_single": "baseline: best single benchmark",
    "baseline_trailing_mean": "baseline: trailing 365-day mean",
    "baseline_mean": "baseline: all-time mean",
}


def _fmt(v: float) -> str:
    if pd.isna(v):
        return "–"
    return f"{v:.2f}" if abs(v) < 10 else f"{v:.1f}"


def _cell(m: pd.DataFrame, method: str, metric: str) -> str:
    r = m[(m["method"] == method) & (m["metric"] == metric)]
    if r.empty or pd.isna(r["value"].iloc[0]):
        return "–"
    row = r.iloc[0]
    return f"{_fmt(float(row['value']))} [{_fmt(float(row['ci_lo']))}, {_fmt(float(row['ci_hi']))}]"


def markdown_report(ev: dict[str, Any]) -> str:
    """The README/model-card tables of one evaluation (walk-forward, seeds, intervals)."""
    m = ev["walkforward_metrics"]
    order = [k for k in LABELS if k in set(m["method"])]
    lines = [
        "| method | RMSE | MAE | Spearman | pairwise acc. | − strong ridge RMSE (paired) |",
        "|---|---|---|---|---|---|",
    ]
    for k in order:
        diff = "–" if k == "baseline_strong_ridge" else _cell(m, k, "this_minus_reference_rmse")
        cells = [_cell(m, k, x) for x in ["rmse", "mae", "spearman", "pairwise_acc"]]
        lines.append(f"| {LABELS[k]} | " + " | ".join(cells) + f" | {diff} |")
    lines += [
        "",
        "| over seeds (ours) | walk-forward median | min | max | rolling origin median | min | max |",
        "|---|---|---|---|---|---|---|",
    ]
    s = ev["seed_summary"].query("method == 'ours'").set_index("metric")
    rs = ev.get("rolling_seed_summary", pd.DataFrame())
    rs = rs.query("method == 'ours'").set_index("metric") if len(rs) else pd.DataFrame()
    for metric, r in s.iterrows():
        cells = [_fmt(r["median"]), _fmt(r["min"]), _fmt(r["max"])]
        q = rs.loc[metric] if metric in rs.index else None
        cells += ["–"] * 3 if q is None else [_fmt(q["median"]), _fmt(q["min"]), _fmt(q["max"])]
        lines.append(f"| {metric} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "| intervals (ours, headline seed) | 80% coverage | 90% coverage | median 90% width | "
        "90th pct. abs. error | full width / that error | half-width / that error |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, iv in [
        ("walk-forward", ev["intervals"]),
        ("rolling origin", ev["rolling_intervals"]),
    ]:
        if iv.get("n_with_interval"):
            lines.append(
                f"| {name} ({iv['n_with_interval']} models) | {_fmt(iv['coverage_80'])} | "
                f"{_fmt(iv['coverage_90'])} | {_fmt(iv['median_width_90'])} | "
                f"{_fmt(iv['p90_abs_error'])} | {_fmt(iv['width_ratio_90'])} | "
                f"{_fmt(iv['half_width_ratio_90'])} |"
            )
    x = ev["extrapolation"].set_index("method")
    lines += [
        "",
        "| extrapolation | predicted max | actual max | prediction for the top model | "
        f"predictions above training max | RMSE on the {FRONTIER_N} top models | "
        "residual slope per 100 days |",
        "|---|---|---|---|---|---|---|",
    ]
    for k in [k for k in order if k in x.index]:
        r = x.loc[k]
        lines.append(
            f"| {LABELS[k].replace('**', '')} | {r['pred_max']:.0f} | {r['actual_max']:.0f} | "
            f"{r['pred_of_actual_max']:.0f} | {int(r['n_above_train_max'])} "
            f"(actual {int(r['n_actual_above_train_max'])}) | {_fmt(r['frontier_rmse'])} | "
            f"{r['resid_slope_per_100d']:+.1f} |"
        )
    return "\n".join(lines) + "\n"
