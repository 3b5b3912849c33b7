"""The modelling pipeline: prepare → tune → walk-forward evaluate → train final.

Pure computation; MLflow logging lives in :mod:`divergence.runs`.

Protocol (small-n, out of time):

1. *Tuning window*: every rated model released strictly before the first of the
   ``n_test`` newest rated models. Optuna tunes on inner release-ordered folds of this
   window only.
2. *Walk-forward*: each of the ``n_test`` newest models is predicted by a model refitted
   (tuned parameters) on every model released strictly before it. Baselines get the same
   splits. Intervals: conformal, ``pred ± q`` where ``q`` is the 80%/90% quantile of
   absolute inner-fold residuals in the tuning window.
3. *Rolling origin by quarter*: train on everything before a quarter, predict the
   quarter; default (untuned) parameters, so no tuning ever saw these test models.
4. *Final model*: tuned parameters refitted on all rated models; its intervals use the
   absolute out-of-sample residuals of steps 2 and 3.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from divergence.baselines import BestSingleBenchmark, LinearOnColumn, MeanBaseline, MedianRidge
from divergence.evaluation import (
    assert_no_future_leak,
    evaluate,
    paired_difference,
    rolling_origin_quarterly,
    walk_forward_splits,
)
from divergence.experiment import Experiment
from divergence.features import drop_test_era_only, load_spec, model_frame
from divergence.model import UtilityRegressor, is_benchmark_column
from divergence.progress import Progress
from divergence.targets import target_frame
from divergence.tuning import DEFAULT_PARAMS, cv_predict, inner_splits

AA_INDEX = "aa.artificial_analysis_intelligence_index"
BASELINES = ["mean", "best_single", "aa_index_linear", "factor_linear", "median_ridge"]


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


def make_baselines(seed: int) -> dict[str, Any]:
    """Baseline estimators by name (fitted on the benchmarks-only frame)."""
    return {
        "mean": MeanBaseline(),
        "best_single": BestSingleBenchmark(min_coverage=0.5),
        "aa_index_linear": LinearOnColumn(AA_INDEX),
        "factor_linear": UtilityRegressor(
            base="factor", n_estimators=0, monotone=False, random_state=seed
        ),
        "median_ridge": MedianRidge(alpha=10.0),
    }


def _fit_predict_baseline(
    name: str, est: Any, Xtr: pd.DataFrame, ytr: np.ndarray, Xte: pd.DataFrame
) -> np.ndarray:
    Xtr, Xte = _bench_only(Xtr), _bench_only(Xte)
    keep = [c for c in Xtr.columns if Xtr[c].notna().any()]
    if name == "aa_index_linear" and AA_INDEX not in keep:
        return np.full(len(Xte), float(np.mean(ytr)))
    return np.asarray(est.fit(Xtr[keep], ytr).predict(Xte[keep]), dtype="float64")


def conformal_q(residuals: np.ndarray, levels: tuple[float, ...] = (0.8, 0.9)) -> dict[str, float]:
    """Split-conformal half-widths: the ceil((n+1)level)/n quantile of |residual|."""
    r = np.sort(np.abs(residuals[~np.isnan(residuals)]))
    out = {}
    for lv in levels:
        if len(r) == 0:
            out[f"q{int(lv * 100)}"] = float("nan")
            continue
        k = min(len(r) - 1, int(np.ceil((len(r) + 1) * lv)) - 1)
        out[f"q{int(lv * 100)}"] = float(r[k])
    return out


def walk_forward(
    p: Prepared,
    params: dict[str, Any],
    q: dict[str, float],
    splits: list | None = None,
    label: str = "walk-forward",
    baselines: bool = True,
) -> pd.DataFrame:
    """Out-of-time predictions of ours, benchmarks-only ours and baselines.

    Returns
    -------
    DataFrame
        One row per (model, method): model_id, release_date, y, y_err, method, pred,
        lower_80, upper_80, lower_90, upper_90 (intervals for ``ours`` only), n_train.
    """
    y = p.y
    if splits is None:
        splits = walk_forward_splits(p.release, n_test=p.exp.n_test, min_train=p.exp.min_train)
    assert_no_future_leak(p.release, splits)
    seed = p.exp.seed
    rows = []
    bar = Progress(label, len(splits))
    for tr, te in splits:
        ids = p.target.index[te]
        base = {
            "model_id": list(ids),
            "release_date": p.target["release_date"].iloc[te].to_numpy(),
            "y": y[te],
            "y_err": p.target["target_err"].iloc[te].to_numpy(),
            "n_train": len(tr),
        }
        ours = UtilityRegressor(**params, random_state=seed, n_jobs=1).fit(p.X.iloc[tr], y[tr])
        pred = ours.predict(p.X.iloc[te])
        rows.append(
            pd.DataFrame(
                {
                    **base,
                    "method": "ours",
                    "pred": pred,
                    "lower_80": pred - q["q80"],
                    "upper_80": pred + q["q80"],
                    "lower_90": pred - q["q90"],
                    "upper_90": pred + q["q90"],
                }
            )
        )
        bo = UtilityRegressor(**params, random_state=seed, n_jobs=1).fit(p.Xb.iloc[tr], y[tr])
        rows.append(
            pd.DataFrame(
                {**base, "method": "ours_benchmarks_only", "pred": bo.predict(p.Xb.iloc[te])}
            )
        )
        if baselines:
            for name, est in make_baselines(seed).items():
                bp = _fit_predict_baseline(name, est, p.Xb.iloc[tr], y[tr], p.Xb.iloc[te])
                rows.append(pd.DataFrame({**base, "method": f"baseline_{name}", "pred": bp}))
        bar.step(f"{ids[0] if len(ids) == 1 else f'{len(ids)} models'}")
    return pd.concat(rows, ignore_index=True)


def metrics_table(preds: pd.DataFrame, n_boot: int, seed: int) -> pd.DataFrame:
    """Metrics with bootstrap CIs per method, plus the paired RMSE difference vs ours."""
    out = []
    ours = preds[preds["method"] == "ours"].set_index("model_id")
    for method, grp in preds.groupby("method", sort=True):
        g = grp.set_index("model_id")
        lo = g["lower_90"] if method == "ours" else None
        hi = g["upper_90"] if method == "ours" else None
        m = evaluate(
            g["y"], g["pred"], lower=lo, upper=hi, y_err=g["y_err"], n_boot=n_boot, seed=seed
        )
        m = m.reset_index()
        m.insert(0, "method", method)
        out.append(m)
        if method != "ours":
            common = g.index.intersection(ours.index)
            d = paired_difference(
                ours.loc[common, "y"],
                ours.loc[common, "pred"],
                g.loc[common, "pred"],
                n_boot=n_boot,
                seed=seed,
            ).reset_index()
            d = d.rename(columns={d.columns[0]: "metric"})
            d["metric"] = "ours_minus_this_" + d["metric"].astype(str)
            d.insert(0, "method", method)
            out.append(
                d[
                    [
                        c
                        for c in ["method", "metric", "value", "ci_lo", "ci_hi", "n"]
                        if c in d.columns
                    ]
                ]
            )
    return pd.concat(out, ignore_index=True)


def run_evaluation(
    p: Prepared, params: dict[str, Any], inner_residuals: np.ndarray
) -> dict[str, Any]:
    """Walk-forward and rolling-origin evaluation with metrics (see module docstring)."""
    q = conformal_q(inner_residuals)
    wf = walk_forward(p, params, q)
    wf_metrics = metrics_table(wf, p.exp.n_boot, p.exp.seed)
    ro_splits = rolling_origin_quarterly(p.release, min_train=p.exp.rolling_min_train)
    ro = (
        walk_forward(p, dict(DEFAULT_PARAMS), q, splits=ro_splits, label="rolling-origin")
        if ro_splits
        else pd.DataFrame()
    )
    ro_metrics = metrics_table(ro, p.exp.n_boot, p.exp.seed) if len(ro) else pd.DataFrame()
    return {
        "walkforward": wf,
        "walkforward_metrics": wf_metrics,
        "rolling": ro,
        "rolling_metrics": ro_metrics,
        "q_inner": q,
    }


def inner_oof(p: Prepared, params: dict[str, Any]) -> np.ndarray:
    """Inner-fold residuals (pred − y) of ``params`` on the tuning window."""
    win = tuning_window(p)
    X, y = p.X.iloc[win], p.y[win]
    splits = inner_splits(p.release.iloc[win].reset_index(drop=True), n_folds=p.exp.inner_folds)
    oof = cv_predict(params, X, y, splits, p.exp.seed)
    return oof - y


def train_final(p: Prepared, params: dict[str, Any], residuals: np.ndarray) -> dict[str, Any]:
    """Fit the final main and benchmarks-only models on every rated model."""
    seed = p.exp.seed
    main = UtilityRegressor(**params, random_state=seed, n_jobs=1).fit(p.X, p.y)
    bench = UtilityRegressor(**params, random_state=seed, n_jobs=1).fit(p.Xb, p.y)
    return {"main": main, "bench": bench, "q": conformal_q(residuals)}


def summary_metrics(wf_metrics: pd.DataFrame) -> dict[str, float]:
    """Flat MLflow metrics: walkforward_* for ours, baseline_<name>_walkforward_* for baselines."""
    out: dict[str, float] = {}
    for _, r in wf_metrics.iterrows():
        if r["metric"] not in {
            "rmse",
            "mae",
            "spearman",
            "kendall",
            "pairwise_acc",
            "pairwise_acc_sep",
            "coverage",
        }:
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
