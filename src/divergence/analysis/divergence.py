"""Per-model divergence: arena rating minus the out-of-time benchmark-implied rating.

Actual = the style-controlled arena rating of the category
(:func:`divergence.targets.target_frame`). Benchmark-implied = prediction of a
``UtilityRegressor`` on the ``benchmarks_only`` feature frame, refitted on every rated
model released strictly before the first day of the model's release *month* (expanding
window, one month at a time, at least ``min_train`` earlier models; earlier models get no
implied value). The overall divergence uses the champion's tuned parameters
(:mod:`divergence.analysis.champion`, the same refit the pipeline's walk-forward does,
refitted monthly rather than per model to keep the report cheap); the domain boards use
the factor base margin alone (ridge on the general factor and release date, refitted per
quarter), which is cheap enough for several boards.

Divergence ``d = actual - implied`` (positive: the arena likes the model more than its
benchmarks imply). Forecast drift is removed: ``d_adj = d - mean(d of the models released
in the same quarter)``; the raw quarterly means are kept (``drift``) and shown. A model is
*flagged* only when

- it has at least :data:`MIN_SCORES` benchmark scores (below that the out-of-time error
  is markedly larger, see ``error_by_scores``), and
- ``d_adj`` exceeds arena noise plus the implied model's predictive spread: with
  ``sigma^2 = (h_arena / 1.96)^2 + s^2`` (``h_arena`` the arena's 95% half-width, ``s`` the
  robust spread, 1.4826 MAD, of the eligible models' ``d_adj``), the normal p-value of
  ``d_adj / sigma`` is significant after Benjamini–Hochberg over the eligible models.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import norm

from divergence.analysis.common import FDR, bh, n_scores, open_flags, stat
from divergence.evaluation import assert_no_future_leak
from divergence.model import UtilityRegressor, is_benchmark_column
from divergence.targets import target_frame
from divergence.tuning import DEFAULT_PARAMS

MIN_SCORES = 5
"""K: benchmark scores a model needs before it can be flagged."""
MIN_TRAIN = 30
CATEGORY_PARAMS: dict[str, Any] = {
    **DEFAULT_PARAMS,
    "base": "factor",
    "n_estimators": 0,
    "monotone": False,
}
"""Domain boards: the factor base margin alone (fast enough for several boards)."""


def period_splits(
    release: pd.Series, freq: str = "M", min_train: int = MIN_TRAIN
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Expanding-window splits by calendar period (``"M"`` months, ``"Q"`` quarters).

    Test = the models released in the period; train = every model released before its
    first day; periods with fewer than ``min_train`` earlier models are skipped.
    """
    r = pd.to_datetime(pd.Series(release).reset_index(drop=True))
    per = r.dt.to_period(freq)
    splits = []
    for q in sorted(per.dropna().unique()):
        te = np.flatnonzero((per == q).to_numpy())
        tr = np.flatnonzero((r < q.start_time).to_numpy())
        if len(tr) >= min_train:
            splits.append((tr.astype(np.intp), te.astype(np.intp)))
    if splits:
        assert_no_future_leak(r, splits)
    return splits


def out_of_time_implied(
    target: pd.DataFrame,
    Xb: pd.DataFrame,
    params: dict[str, Any],
    freq: str = "M",
    min_train: int = MIN_TRAIN,
    seed: int = 0,
) -> pd.DataFrame:
    """Benchmark-implied rating of every rated model from models released before its period.

    Returns
    -------
    DataFrame
        Index ``model_id``; ``actual``, ``actual_err``, ``implied``, ``n_train``,
        ``release_date``; only models that received a prediction.
    """
    bench_cols = [c for c in Xb.columns if is_benchmark_column(c)]
    has = Xb[bench_cols].notna().any(axis=1)
    t = target[target.index.isin(has[has].index)]
    X = Xb.loc[t.index]
    y = t["target"].to_numpy(dtype="float64")
    rows = []
    for tr, te in period_splits(t["release_date"], freq, min_train):
        est = UtilityRegressor(**params, random_state=seed, n_jobs=1).fit(X.iloc[tr], y[tr])
        rows.append(
            pd.DataFrame(
                {"model_id": t.index[te], "implied": est.predict(X.iloc[te]), "n_train": len(tr)}
            )
        )
    cols = ["actual", "actual_err", "implied", "n_train", "release_date"]
    if not rows:
        return pd.DataFrame(columns=cols, index=pd.Index([], name="model_id"))
    p = pd.concat(rows).set_index("model_id")
    return pd.DataFrame(
        {
            "actual": t.loc[p.index, "target"],
            "actual_err": t.loc[p.index, "target_err"],
            "implied": p["implied"],
            "n_train": p["n_train"],
            "release_date": t.loc[p.index, "release_date"],
        }
    )


def flag(d: pd.DataFrame, min_scores: int = MIN_SCORES, fdr: float = FDR) -> pd.DataFrame:
    """Drift removal, bands, p-values and BH flags (module docstring)."""
    d = d.copy()
    d["divergence"] = d["actual"] - d["implied"]
    d["quarter"] = pd.to_datetime(d["release_date"]).dt.to_period("Q").astype(str)
    d["drift"] = d.groupby("quarter")["divergence"].transform("mean")
    d["divergence_adj"] = d["divergence"] - d["drift"]
    med_err = float(d["actual_err"].median()) if d["actual_err"].notna().any() else 0.0
    h = d["actual_err"].fillna(med_err)
    elig = d["n_scores"] >= min_scores
    r = d.loc[elig, "divergence_adj"].to_numpy()
    s = float(1.4826 * np.median(np.abs(r - np.median(r)))) if len(r) else np.nan
    sigma = np.sqrt((h / 1.96) ** 2 + s**2)
    d["arena_half_width"] = h
    d["spread"] = s
    d["ci_lo"] = d["divergence_adj"] - 1.96 * sigma
    d["ci_hi"] = d["divergence_adj"] + 1.96 * sigma
    d["p"] = 2 * norm.sf(np.abs(d["divergence_adj"]) / sigma)
    d["eligible"] = elig
    q = np.full(len(d), np.nan)
    q[elig.to_numpy()] = bh(d.loc[elig, "p"].to_numpy())
    d["q"] = q
    d["flagged"] = elig & (d["q"] < fdr)
    return d


def model_divergence(
    tables: dict[str, pd.DataFrame],
    Xb: pd.DataFrame,
    category: str = "full",
    params: dict[str, Any] | None = None,
    freq: str = "M",
    min_train: int = MIN_TRAIN,
    seed: int = 0,
    min_scores: int = MIN_SCORES,
) -> pd.DataFrame:
    """Per-model divergence for one arena category (style board).

    Returns
    -------
    DataFrame
        Index ``model_id``; ``display_name``, ``organization``, ``open_weights`` (1/0/NaN),
        ``n_scores``, ``release_date``, ``actual``, ``actual_err``, ``implied``,
        ``n_train``, ``divergence``, ``quarter``, ``drift``, ``divergence_adj``,
        ``arena_half_width``, ``spread``, ``ci_lo``, ``ci_hi`` (of ``divergence_adj``),
        ``p``, ``eligible``, ``q``, ``flagged``, ``category``; sorted by ``divergence_adj``.
    """
    target = target_frame(tables, category, "style")
    d = out_of_time_implied(target, Xb, params or CATEGORY_PARAMS, freq, min_train, seed)
    d["n_scores"] = n_scores(Xb).reindex(d.index).fillna(0).astype(int)
    d = flag(d, min_scores)
    models = tables["models"].set_index("model_id")
    d.insert(0, "display_name", models["display_name"].reindex(d.index).fillna(d.index.to_series()))
    d.insert(1, "organization", models["organization"].reindex(d.index))
    d.insert(2, "open_weights", open_flags(tables["models"]).reindex(d.index))
    d["category"] = category
    d.index.name = "model_id"
    return d.sort_values(["divergence_adj"], ascending=False, kind="mergesort")


def rmse(x: pd.Series | np.ndarray) -> float:
    """Root mean square of the finite values."""
    v = np.asarray(x, dtype=float)
    v = v[np.isfinite(v)]
    return float(np.sqrt(np.mean(v**2))) if v.size else np.nan


def implied_error(d: pd.DataFrame, n_newest: int = 25, min_scores: int = MIN_SCORES) -> dict:
    """Out-of-time error of the benchmark-implied rating (points).

    ``rmse`` over every predicted model, ``rmse_newest`` over the ``n_newest`` newest (the
    main model's walk-forward test set), ``rmse_eligible`` over models with at least
    ``min_scores`` scores, ``rmse_adj`` after drift removal, ``drift_range`` the range of
    the quarterly mean divergence; ``error_by_scores`` the RMSE per score-count band.
    """
    newest = d.sort_values("release_date", kind="mergesort").tail(n_newest)
    bands = pd.cut(
        d["n_scores"], [0, 2, 4, 8, 15, 1000], labels=["1-2", "3-4", "5-8", "9-15", ">15"]
    )
    by = d.groupby(bands, observed=False)["divergence"]
    drift = d.groupby("quarter")["divergence"].mean()
    return {
        "n": int(len(d)),
        "rmse": rmse(d["divergence"]),
        "rmse_newest": rmse(newest["divergence"]),
        "n_newest": int(len(newest)),
        "rmse_eligible": rmse(d.loc[d["n_scores"] >= min_scores, "divergence"]),
        "n_eligible": int((d["n_scores"] >= min_scores).sum()),
        "rmse_adj": rmse(d["divergence_adj"]),
        "bias": float(d["divergence"].mean()) if len(d) else np.nan,
        "drift_min": float(drift.min()) if len(drift) else np.nan,
        "drift_max": float(drift.max()) if len(drift) else np.nan,
        "error_by_scores": {str(k): {"n": int(v.size), "rmse": rmse(v)} for k, v in by if v.size},
    }


def drift_table(d: pd.DataFrame, n_boot: int, rng: np.random.Generator) -> pd.DataFrame:
    """Mean raw divergence per release quarter (the drift that ``divergence_adj`` removes).

    Returns
    -------
    DataFrame
        ``quarter``, ``group`` (``all``/``open``/``closed``), ``value``, ``ci_lo``, ``ci_hi``,
        ``p``, ``n``.
    """
    rows = []
    for qtr, sub in d.groupby("quarter", sort=True):
        for grp, mask in [
            ("all", np.ones(len(sub), bool)),
            ("open", (sub["open_weights"] == 1.0).to_numpy()),
            ("closed", (sub["open_weights"] == 0.0).to_numpy()),
        ]:
            x = sub["divergence"].to_numpy()[mask]
            reps = (
                x[rng.integers(0, len(x), size=(n_boot, len(x)))].mean(axis=1)
                if len(x) >= 3
                else None
            )
            rows.append(
                {"quarter": qtr, "group": grp, **stat(x.mean() if len(x) else np.nan, reps, len(x))}
            )
    return pd.DataFrame(rows, columns=["quarter", "group", "value", "ci_lo", "ci_hi", "p", "n"])


def open_overstatement(
    d: pd.DataFrame, n_boot: int, rng: np.random.Generator, column: str = "divergence_adj"
) -> tuple[dict[str, Any], np.ndarray | None]:
    """How much benchmarks overstate open models on average: ``mean(closed) - mean(open)``.

    Uses the drift-removed divergence (so quarters with many open releases do not
    dominate); positive = the arena rates open models lower, relative to their benchmarks,
    than closed ones. Each group is resampled independently.

    Returns
    -------
    stat : dict
        ``value``, ``ci_lo``, ``ci_hi``, ``p``, ``n`` plus ``n_open``, ``n_closed``.
    reps : ndarray or None
        The bootstrap replicates.
    """
    o = d.loc[d["open_weights"] == 1.0, column].to_numpy(dtype=float)
    c = d.loc[d["open_weights"] == 0.0, column].to_numpy(dtype=float)
    reps = None
    if len(o) >= 2 and len(c) >= 2:
        io = rng.integers(0, len(o), size=(n_boot, len(o)))
        ic = rng.integers(0, len(c), size=(n_boot, len(c)))
        reps = c[ic].mean(axis=1) - o[io].mean(axis=1)
    value = c.mean() - o.mean() if len(o) and len(c) else np.nan
    out = stat(value, reps, len(o) + len(c))
    out.update({"n_open": int(len(o)), "n_closed": int(len(c))})
    return out, reps


def general_factor(Xb: pd.DataFrame, target: pd.DataFrame, min_sources: int = 3) -> pd.Series:
    """General benchmark factor of every model, loadings fitted on the rated models.

    LiveBench columns are left out: they are z-scores within each LiveBench release,
    relative to a model's contemporaries, so they carry no level comparable across time
    (which a frontier needs). Models observed on fewer than ``min_sources`` benchmark
    sources (column prefixes such as ``aa``, ``epoch``) get NaN: a factor projected from
    one or two sources is not comparable with a broad one.
    """
    Xb = Xb[[c for c in Xb.columns if not c.startswith("livebench.")]]
    bench_cols = [c for c in Xb.columns if is_benchmark_column(c)]
    has = Xb[bench_cols].notna().any(axis=1)
    t = target[target.index.isin(has[has].index)]
    est = UtilityRegressor(**CATEGORY_PARAMS, random_state=0).fit(
        Xb.loc[t.index], t["target"].to_numpy()
    )
    eng = est.engineer(Xb)
    obs = Xb[bench_cols].notna()
    prefixes = pd.Index([c.split(".")[0] for c in bench_cols])
    n_src = obs.T.groupby(prefixes).any().sum(axis=0)
    f = eng["eng.general_factor"].where(n_src.reindex(eng.index) >= min_sources)
    return f.rename("eng.general_factor")
