"""Divergence analysis: where benchmarks and the arena part ways (computations only).

Everything here is computed from a loaded snapshot; :mod:`divergence.reports` turns the
result into figures, an HTML report and MLflow artifacts. All intervals are 95%
percentile bootstrap intervals with a fixed seed.

1. *Divergence per model* (:func:`model_divergence`). Actual = the style-controlled arena
   rating of the category (:func:`divergence.targets.target_frame`). Benchmark-implied =
   out-of-fold prediction of ``UtilityRegressor(base="factor")`` fitted on the
   ``benchmarks_only`` feature frame of the rated models released *strictly before the
   model's release quarter* (quarterly expanding windows,
   :func:`divergence.evaluation.rolling_origin_quarterly`, at least ``min_train`` training
   models; earlier models get no implied value). Divergence ``d = actual - implied``
   (positive: the arena likes the model more than its benchmarks imply, i.e. benchmarks
   *under*-rate it). Its band is ``d +/- sqrt(h_arena^2 + (1.96 s)^2)`` with ``h_arena``
   the half-width of the arena's 95% interval and ``s`` the robust spread (1.4826 MAD) of
   all out-of-fold residuals of the category: a model is *flagged* only when the band
   excludes 0, which implies ``|d|`` exceeds the arena noise floor ``h_arena``
   (``beyond_noise_floor`` records that weaker condition alone). Open vs closed: mean
   divergence of open-weight minus closed models, stratified bootstrap over models; a
   negative value means benchmarks overstate open models relative to closed ones.
2. *Open vs closed frontier* (:func:`frontier_table`). Per calendar quarter, the best
   open-weight and the best closed model released on or before the quarter's last day,
   among models the arena rated (like for like), on each arena category and on three
   benchmark measures (AA intelligence index, the general factor of the benchmarks-only
   model (:func:`general_factor`), Epoch ECI). Gap in native points (open - closed); benchmark gaps are also
   converted to rating points by the OLS slope of the overall arena rating on the
   measure. Months of lag: if open trails, the time from the first closed release that
   reached the open frontier's level to the quarter end (how much earlier closed got
   there); if open leads, minus the same with roles swapped. A lag that reaches back to
   the first model of its group in the data is censored (a lower bound): it is shown
   but left out of the averages. Arena intervals come from
   redrawing each rating from its 95% interval (normal, ``h/1.96``); benchmark scores
   carry no published error and are taken as exact (the rating-point conversion carries
   the slope's bootstrap interval). "Overstatement" of open models by benchmarks =
   arena lag - benchmark lag (months), averaged over quarters; its interval resamples
   quarters and arena noise together.
3. *Benchmark reliability* (:func:`reliability_table`). Per benchmark column of the
   ``benchmarks_only`` frame and half-year release cohort: Spearman rank correlation with
   the overall arena rating (cohorts with at least ``min_cohort`` rated models), and
   saturation = share of the cohort's models (all models with the score, rated or not)
   within 5% of the benchmark's ceiling. The ceiling is 1, 10 or 100 when every score is
   at most that (fractions, 0-10 grades, percentages); indices without a ceiling (ECI,
   METR hours) and LiveBench's per-release z-scores get no saturation.
4. *Claimed vs independent* (:func:`claimed_vs_independent`). Vendor self-reported
   llm-stats scores against independent runs of the same benchmark on the same model, on
   a 0-100 scale (see :data:`CLAIM_PAIRS`). Left out on purpose: Humanity's Last Exam
   (vendor numbers often use tools, Artificial Analysis does not), Terminal-Bench
   (version 1 vs 2 mismatch), the SWE-bench "verified" submissions board (each
   submitter's own scaffold, not an independent run). Gap = claimed - independent,
   averaged over independent sources per (model, benchmark); per organisation and per
   benchmark, the mean gap with a bootstrap over models (cluster bootstrap: a model's
   pairs stay together).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import rankdata

from divergence.errors import DivergenceError
from divergence.evaluation import rolling_origin_quarterly
from divergence.features import load_spec, model_frame
from divergence.model import UtilityRegressor, is_benchmark_column
from divergence.targets import categories, target_frame
from divergence.tuning import DEFAULT_PARAMS

# ---------------------------------------------------------------------------- constants

MAIN_CATEGORIES = [
    "full",
    "hard_6",
    "coding",
    "math",
    "creative_writing",
    "if",
    "multiturn",
    "long_user",
    "expert",
]
"""Arena categories analysed (plus every ``industry_*`` board present)."""

AA_INDEX = "aa.artificial_analysis_intelligence_index"
ECI = "epoch.eci"
FACTOR = "eng.general_factor"
BENCH_MEASURES = {AA_INDEX: "AA intelligence index", FACTOR: "general factor", ECI: "Epoch ECI"}

IMPLIED_PARAMS: dict[str, Any] = {**DEFAULT_PARAMS, "base": "factor"}
"""Benchmarks-only model for the overall divergence (the pipeline's untuned defaults)."""
CATEGORY_PARAMS: dict[str, Any] = {
    **DEFAULT_PARAMS,
    "base": "factor",
    "n_estimators": 0,
    "monotone": False,
}
"""Per-category comparison (every category incl. ``full``): the factor base margin alone,
ridge on the general factor and release date (fast enough for ~17 boards)."""

CLAIM_PAIRS: dict[str, tuple[str, list[tuple[str, float]]]] = {
    # llm-stats benchmark: (label, [(independent benchmark, factor to a 0-100 scale)])
    "llmstats:gpqa": ("GPQA diamond", [("aa:gpqa", 100.0), ("epoch:gpqa_diamond", 100.0)]),
    "llmstats:mmlu-pro": ("MMLU-Pro", [("aa:mmlu_pro", 100.0)]),
    "llmstats:aime-2024": ("AIME 2024", [("aa:aime", 100.0)]),
    "llmstats:aime-2025": ("AIME 2025", [("aa:aime_25", 100.0)]),
    "llmstats:livecodebench": ("LiveCodeBench", [("aa:livecodebench", 100.0)]),
    "llmstats:math-500": ("MATH-500", [("aa:math_500", 100.0)]),
    "llmstats:swe-bench-verified": (
        "SWE-bench Verified",
        [("epoch:swe_bench_verified", 100.0), ("swebench:bash_only", 1.0)],
    ),
    "llmstats:aider-polyglot": (
        "Aider polyglot",
        [("aider:polyglot", 1.0), ("epoch:aider_polyglot", 1.0)],
    ),
}
CLAIM_SCALE = 100.0  # llm-stats scores are fractions
INDEPENDENT_SOURCES = {"artificial-analysis", "epoch", "swe-bench", "aider", "epoch-external"}

DAYS_PER_MONTH = 365.25 / 12
FIRST_QUARTER = pd.Period("2023Q1", freq="Q")


@dataclass
class Analysis:
    """Every table of the report (see the module docstring)."""

    divergence: pd.DataFrame
    divergence_trend: pd.DataFrame
    category_divergence: pd.DataFrame
    open_closed: pd.DataFrame
    frontier: pd.DataFrame
    frontier_summary: pd.DataFrame
    calibration: pd.DataFrame
    reliability: pd.DataFrame
    claimed: pd.DataFrame
    claimed_by_org: pd.DataFrame
    claimed_by_benchmark: pd.DataFrame
    findings: dict[str, Any] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)


# ---------------------------------------------------------------------------- helpers


def _ci(reps: np.ndarray) -> tuple[float, float]:
    """95% percentile interval of the finite replicates (NaN if none)."""
    r = np.asarray(reps, dtype=float)
    r = r[np.isfinite(r)]
    if r.size < 2:
        return np.nan, np.nan
    lo, hi = np.quantile(r, [0.025, 0.975])
    return float(lo), float(hi)


def _stat(value: float, reps: np.ndarray | None, n: int) -> dict[str, float]:
    lo, hi = _ci(reps) if reps is not None else (np.nan, np.nan)
    return {"value": float(value), "ci_lo": lo, "ci_hi": hi, "n": int(n)}


def _open_flags(models: pd.DataFrame) -> pd.Series:
    """``open_weights`` as a float series (1 open, 0 closed, NaN unknown) by model_id."""
    s = models.set_index("model_id")["open_weights"]
    return s.map(
        lambda v: np.nan if v is None or (isinstance(v, float) and np.isnan(v)) else float(bool(v))
    )


def _boot_mean_diff(
    a: np.ndarray, b: np.ndarray, n_boot: int, rng: np.random.Generator
) -> np.ndarray:
    """Replicates of ``mean(a) - mean(b)``, resampling each group independently."""
    if len(a) < 2 or len(b) < 2:
        return np.full(n_boot, np.nan)
    ia = rng.integers(0, len(a), size=(n_boot, len(a)))
    ib = rng.integers(0, len(b), size=(n_boot, len(b)))
    return a[ia].mean(axis=1) - b[ib].mean(axis=1)


def _boot_spearman(
    x: np.ndarray, y: np.ndarray, n_boot: int, rng: np.random.Generator
) -> np.ndarray:
    """Spearman replicates over resampled rows (NaN for constant resamples)."""
    idx = rng.integers(0, len(x), size=(n_boot, len(x)))
    rx = rankdata(x[idx], axis=1)
    ry = rankdata(y[idx], axis=1)
    rx = rx - rx.mean(axis=1, keepdims=True)
    ry = ry - ry.mean(axis=1, keepdims=True)
    den = np.sqrt((rx**2).sum(axis=1) * (ry**2).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, (rx * ry).sum(axis=1) / den, np.nan)


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman rank correlation (average ranks); NaN when a side is constant."""
    rx, ry = rankdata(x), rankdata(y)
    rx, ry = rx - rx.mean(), ry - ry.mean()
    den = np.sqrt((rx**2).sum() * (ry**2).sum())
    return float((rx * ry).sum() / den) if den > 0 else np.nan


def check_tables(tables: dict[str, pd.DataFrame]) -> None:
    """Raise :class:`DivergenceError` (one line) unless the snapshot can be analysed."""
    for name in ["models", "ratings", "benchmarks"]:
        if name not in tables or not isinstance(tables[name], pd.DataFrame):
            raise DivergenceError(f"report input lacks the {name!r} table")
        if tables[name].empty:
            raise DivergenceError(
                f"report input: the {name!r} table is empty (run `divergence data build`)"
            )
    r = tables["ratings"]
    need = {
        "model_id",
        "board",
        "category",
        "snapshot_date",
        "rating_norm",
        "rating_lo",
        "rating_hi",
    }
    missing = sorted(need - set(r.columns))
    if missing:
        raise DivergenceError(f"report input: ratings table lacks column(s) {', '.join(missing)}")
    if not ((r["board"] == "style") & (r["category"] == "full")).any():
        raise DivergenceError("report input: no style-controlled overall ('style', 'full') ratings")


# ---------------------------------------------------------------------------- 1. divergence


def oof_implied(
    target: pd.DataFrame,
    Xb: pd.DataFrame,
    params: dict[str, Any],
    min_train: int = 30,
    seed: int = 0,
) -> pd.DataFrame:
    """Out-of-fold benchmark-implied rating by quarterly expanding windows.

    Parameters
    ----------
    target : DataFrame
        :func:`divergence.targets.target_frame` output (release-ordered).
    Xb : DataFrame
        Benchmarks-only features for every model (index ``model_id``).
    params : dict
        ``UtilityRegressor`` parameters.
    min_train : int
        Quarters with fewer earlier rated models get no prediction.
    seed : int
        Random state of the regressor.

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
    release = t["release_date"].reset_index(drop=True)
    rows = []
    for tr, te in rolling_origin_quarterly(release, min_train=min_train):
        est = UtilityRegressor(**params, random_state=seed, n_jobs=1).fit(X.iloc[tr], y[tr])
        rows.append(
            pd.DataFrame(
                {"model_id": t.index[te], "implied": est.predict(X.iloc[te]), "n_train": len(tr)}
            )
        )
    if not rows:
        return pd.DataFrame(
            columns=["actual", "actual_err", "implied", "n_train", "release_date"],
            index=pd.Index([], name="model_id"),
        )
    p = pd.concat(rows).set_index("model_id")
    out = pd.DataFrame(
        {
            "actual": t.loc[p.index, "target"],
            "actual_err": t.loc[p.index, "target_err"],
            "implied": p["implied"],
            "n_train": p["n_train"],
            "release_date": t.loc[p.index, "release_date"],
        }
    )
    return out


def _bands(d: pd.DataFrame) -> pd.DataFrame:
    """Divergence, its band and flags (module docstring, item 1)."""
    d = d.copy()
    d["divergence"] = d["actual"] - d["implied"]
    med_err = float(d["actual_err"].median()) if d["actual_err"].notna().any() else 0.0
    h = d["actual_err"].fillna(med_err)
    resid = d["divergence"].to_numpy()
    s = float(1.4826 * np.median(np.abs(resid - np.median(resid)))) if len(resid) else np.nan
    half = np.sqrt(h**2 + (1.96 * s) ** 2)
    d["arena_half_width"] = h
    d["oof_spread"] = s
    d["ci_lo"] = d["divergence"] - half
    d["ci_hi"] = d["divergence"] + half
    d["beyond_noise_floor"] = d["divergence"].abs() > h
    d["flagged"] = (d["ci_lo"] > 0) | (d["ci_hi"] < 0)
    return d


def model_divergence(
    tables: dict[str, pd.DataFrame],
    Xb: pd.DataFrame,
    category: str = "full",
    params: dict[str, Any] | None = None,
    min_train: int = 30,
    seed: int = 0,
) -> pd.DataFrame:
    """Per-model divergence for one arena category (style board).

    Returns
    -------
    DataFrame
        Index ``model_id``; ``display_name``, ``organization``, ``open_weights`` (1/0/NaN),
        ``release_date``, ``actual``, ``actual_err``, ``implied``, ``n_train``,
        ``divergence``, ``arena_half_width``, ``oof_spread``, ``ci_lo``, ``ci_hi``,
        ``beyond_noise_floor``, ``flagged``, ``category``; sorted by divergence.
    """
    target = target_frame(tables, category, "style")
    d = oof_implied(target, Xb, params or IMPLIED_PARAMS, min_train=min_train, seed=seed)
    d = _bands(d)
    models = tables["models"].set_index("model_id")
    d.insert(0, "display_name", models["display_name"].reindex(d.index))
    d.insert(1, "organization", models["organization"].reindex(d.index))
    d.insert(2, "open_weights", _open_flags(tables["models"]).reindex(d.index))
    d["category"] = category
    d.index.name = "model_id"
    return d.sort_values(["divergence"], ascending=False, kind="mergesort")


def half_year(dates: pd.Series) -> pd.Series:
    """Half-year cohort label (``2024H1``) per date; NaN for NaT."""
    lab = dates.dt.year.astype("Int64").astype(str) + np.where(dates.dt.month <= 6, "H1", "H2")
    return lab.where(dates.notna()).astype(object)


def divergence_trend(div: pd.DataFrame, n_boot: int, rng: np.random.Generator) -> pd.DataFrame:
    """Mean divergence per half-year release cohort, for all, open and closed models.

    Returns
    -------
    DataFrame
        ``cohort``, ``group`` (``all``/``open``/``closed``), ``value``, ``ci_lo``,
        ``ci_hi``, ``n``; a negative mean means the arena rates the cohort below what
        its benchmarks imply.
    """
    coh = half_year(div["release_date"])
    rows = []
    for c in sorted(coh.dropna().unique()):
        sub = div[coh == c]
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
                {"cohort": c, "group": grp, **_stat(x.mean() if len(x) else np.nan, reps, len(x))}
            )
    return pd.DataFrame(rows, columns=["cohort", "group", "value", "ci_lo", "ci_hi", "n"])


def open_closed_difference(
    div: pd.DataFrame, n_boot: int, rng: np.random.Generator
) -> dict[str, Any]:
    """Mean divergence of open and closed models and their difference, with CIs."""
    o = div.loc[div["open_weights"] == 1.0, "divergence"].to_numpy()
    c = div.loc[div["open_weights"] == 0.0, "divergence"].to_numpy()
    out: dict[str, Any] = {}
    for name, arr in [("open", o), ("closed", c)]:
        reps = (
            arr[rng.integers(0, len(arr), size=(n_boot, len(arr)))].mean(axis=1)
            if len(arr) > 1
            else None
        )
        out[name] = _stat(arr.mean() if len(arr) else np.nan, reps, len(arr))
    diff = _boot_mean_diff(o, c, n_boot, rng)
    out["open_minus_closed"] = _stat(
        o.mean() - c.mean() if len(o) and len(c) else np.nan, diff, len(o) + len(c)
    )
    return out


# ---------------------------------------------------------------------------- 2. frontier


def _quarters(last: pd.Period) -> list[pd.Period]:
    return list(pd.period_range(FIRST_QUARTER, last, freq="Q"))


def frontier_measure(
    values: pd.Series,
    err: pd.Series | None,
    release: pd.Series,
    is_open: pd.Series,
    quarters: list[pd.Period],
    n_boot: int,
    rng: np.random.Generator,
) -> tuple[pd.DataFrame, dict]:
    """Open vs closed frontier of one measure per quarter.

    Parameters
    ----------
    values, err, release, is_open : Series
        Indexed by model_id: the measure, the 95% half-width (None: exact), the release
        date and the open-weights flag (1/0; NaN rows are dropped).
    quarters : list of Period
        Quarters to report.
    n_boot : int
        Noise replicates (only when ``err`` is given).
    rng : Generator
        Random source.

    Returns
    -------
    table : DataFrame
        One row per quarter: ``quarter``, ``best_open``, ``best_open_value``,
        ``best_closed``, ``best_closed_value``, ``gap``, ``gap_ci_lo``, ``gap_ci_hi``,
        ``lag_months``, ``lag_ci_lo``, ``lag_ci_hi``, ``lag_censored``.
    reps : dict
        ``{"gap": (B, Q) array, "lag": (B, Q) array}`` replicates (None without ``err``).
    """
    df = pd.DataFrame({"v": values, "r": release, "o": is_open}).dropna()
    df = df.sort_values(["r", "v"], kind="mergesort")
    ids = df.index.to_numpy()
    v = df["v"].to_numpy(dtype=float)
    r = df["r"].to_numpy(dtype="datetime64[ns]")
    o = df["o"].to_numpy() == 1.0
    if err is not None and n_boot > 0:
        e = err.reindex(df.index).to_numpy(dtype=float)
        e = np.where(np.isfinite(e), e, np.nanmedian(e) if np.isfinite(e).any() else 0.0)
        V = np.vstack([v, v + rng.normal(size=(n_boot, len(v))) * (e / 1.96)])
    else:
        V = v[None, :]
    rows = []
    gaps = np.full((V.shape[0], len(quarters)), np.nan)
    lags = np.full((V.shape[0], len(quarters)), np.nan)
    first_o = r[o].min() if o.any() else None
    first_c = r[~o].min() if (~o).any() else None
    for k, q in enumerate(quarters):
        end = np.datetime64((q + 1).start_time.normalize() - pd.Timedelta(days=1), "ns")
        avail = r <= end
        mo, mc = avail & o, avail & ~o
        if not mo.any() or not mc.any():
            rows.append({"quarter": str(q)})
            continue
        Lo = np.where(mo[None, :], V, -np.inf).max(axis=1)
        Lc = np.where(mc[None, :], V, -np.inf).max(axis=1)
        gaps[:, k] = Lo - Lc
        # open behind (Lo <= Lc): first closed release reaching Lo; else first open reaching Lc
        reach_c = mc[None, :] & (V >= Lo[:, None])
        reach_o = mo[None, :] & (V >= Lc[:, None])
        tc = r[np.argmax(reach_c, axis=1)]
        to = r[np.argmax(reach_o, axis=1)]
        behind = Lo <= Lc
        when = np.where(behind, tc, to)
        months = (end - when).astype("timedelta64[D]").astype(float) / DAYS_PER_MONTH
        lags[:, k] = np.where(behind, months, -months)
        io = int(np.flatnonzero(mo)[np.argmax(v[mo])])
        ic = int(np.flatnonzero(mc)[np.argmax(v[mc])])
        censored = bool(when[0] == (first_c if behind[0] else first_o))
        glo, ghi = _ci(gaps[1:, k]) if V.shape[0] > 1 else (np.nan, np.nan)
        llo, lhi = _ci(lags[1:, k]) if V.shape[0] > 1 else (np.nan, np.nan)
        point_lag = float(lags[0, k])
        if censored:  # a lower bound only: kept in the table, left out of the summaries
            lags[:, k] = np.nan
        rows.append(
            {
                "quarter": str(q),
                "best_open": ids[io],
                "best_open_value": v[io],
                "best_closed": ids[ic],
                "best_closed_value": v[ic],
                "gap": gaps[0, k],
                "gap_ci_lo": glo,
                "gap_ci_hi": ghi,
                "lag_months": point_lag,
                "lag_ci_lo": llo,
                "lag_ci_hi": lhi,
                "lag_censored": censored,
            }
        )
    return pd.DataFrame(rows), {"gap": gaps, "lag": lags}


def calibration_slopes(
    arena: pd.Series, X: pd.DataFrame, measures: list[str], n_boot: int, rng: np.random.Generator
) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """OLS slope of the overall arena rating on each benchmark measure (rating points per unit)."""
    rows, reps = [], {}
    for m in measures:
        j = pd.DataFrame({"y": arena, "x": X[m].reindex(arena.index)}).dropna()
        x, y = j["x"].to_numpy(), j["y"].to_numpy()
        if len(j) < 5 or np.std(x) == 0:
            rows.append(
                {"measure": m, "slope": np.nan, "ci_lo": np.nan, "ci_hi": np.nan, "n": len(j)}
            )
            reps[m] = np.full(n_boot, np.nan)
            continue
        slope = float(np.polyfit(x, y, 1)[0])
        idx = rng.integers(0, len(x), size=(n_boot, len(x)))
        xs, ys = x[idx], y[idx]
        xc = xs - xs.mean(axis=1, keepdims=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            b = (xc * (ys - ys.mean(axis=1, keepdims=True))).sum(axis=1) / (xc**2).sum(axis=1)
        reps[m] = b
        lo, hi = _ci(b)
        rows.append({"measure": m, "slope": slope, "ci_lo": lo, "ci_hi": hi, "n": len(j)})
    return pd.DataFrame(rows), reps


def frontier_table(
    tables: dict[str, pd.DataFrame],
    Xb: pd.DataFrame,
    factor: pd.Series,
    cats: list[str],
    n_boot: int,
    rng: np.random.Generator,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """Per-quarter open vs closed frontier on arena categories and benchmark measures.

    Returns
    -------
    frontier : DataFrame
        Rows per (``measure``, ``quarter``); ``kind`` is ``arena`` or ``benchmark``;
        benchmark rows also carry ``gap_rating_points`` (+ CI) via the calibration slope.
    summary : DataFrame
        Per measure: mean gap and mean lag over quarters, and for arena categories the
        overstatement (arena lag - AA-index lag, months) with CIs.
    calibration : DataFrame
        Slopes used to convert benchmark gaps to rating points.
    reps : dict
        Replicates for the findings.
    """
    models = tables["models"].set_index("model_id")
    is_open = _open_flags(tables["models"])
    overall = target_frame(tables, "full", "style")
    last_q = overall["release_date"].max().to_period("Q")
    quarters = _quarters(last_q)
    rated = overall.index
    bench = pd.concat(
        [Xb[[AA_INDEX, ECI]].reindex(rated), factor.reindex(rated).rename(FACTOR)], axis=1
    )
    calib, slope_reps = calibration_slopes(
        overall["target"], bench, list(BENCH_MEASURES), n_boot, rng
    )
    slope = calib.set_index("measure")["slope"]
    frames, reps = [], {}
    for cat in cats:
        t = target_frame(tables, cat, "style")
        tab, rp = frontier_measure(
            t["target"],
            t["target_err"],
            t["release_date"],
            is_open.reindex(t.index),
            quarters,
            n_boot,
            rng,
        )
        tab.insert(0, "measure", f"arena:{cat}")
        tab.insert(1, "kind", "arena")
        frames.append(tab)
        reps[f"arena:{cat}"] = rp
    rel = models["release_date"]
    for m in BENCH_MEASURES:
        vals = bench[m].dropna()
        tab, rp = frontier_measure(
            vals, None, rel.reindex(vals.index), is_open.reindex(vals.index), quarters, 0, rng
        )
        tab.insert(0, "measure", m)
        tab.insert(1, "kind", "benchmark")
        tab["gap_rating_points"] = tab["gap"] * slope.get(m, np.nan)
        g = tab["gap"].to_numpy(dtype=float)
        pts = g[None, :] * slope_reps[m][:, None]
        tab["gap_rating_points_ci_lo"] = [(_ci(pts[:, k])[0]) for k in range(len(g))]
        tab["gap_rating_points_ci_hi"] = [(_ci(pts[:, k])[1]) for k in range(len(g))]
        frames.append(tab)
        reps[m] = {
            "gap": rp["gap"],
            "lag": rp["lag"],
            "slope": slope_reps[m],
            "slope_point": float(slope.get(m, np.nan)),
        }
    frontier = pd.concat(frames, ignore_index=True)
    summary = frontier_summary(frontier, reps, quarters, n_boot, rng)
    return frontier, summary, calib, reps


def frontier_summary(
    frontier: pd.DataFrame,
    reps: dict[str, Any],
    quarters: list[pd.Period],
    n_boot: int,
    rng: np.random.Generator,
    since: str = "2024Q1",
) -> pd.DataFrame:
    """Average gap and lag per measure over quarters since ``since``, and overstatement.

    Overstatement of open models by benchmark ``b`` on arena category ``c``: mean over
    quarters (where both are defined) of ``lag_c - lag_b`` months, and of
    ``gap_b_in_rating_points - gap_c`` points. Replicates resample quarters and redraw
    arena noise (and the calibration slope) jointly.
    """
    qlab = [str(q) for q in quarters]
    keep = np.array([q >= pd.Period(since, freq="Q") for q in quarters])
    rows = []
    for meas, rp in reps.items():
        for what in ["gap", "lag"]:
            a = rp[what][:, keep]
            ok = np.isfinite(a[0])
            if not ok.any():
                continue
            a = a[:, ok]
            value = float(a[0].mean())
            nq = a.shape[1]
            qi = rng.integers(0, nq, size=(n_boot, nq))
            src = a[1:] if a.shape[0] > 1 else np.repeat(a[:1], n_boot, axis=0)
            boot = np.take_along_axis(src, qi, axis=1).mean(axis=1)
            rows.append(
                {
                    "measure": meas,
                    "statistic": f"mean_{what}",
                    "reference": "",
                    **_stat(value, boot, nq),
                }
            )
    arena = [m for m in reps if m.startswith("arena:")]
    for b in BENCH_MEASURES:
        if b not in reps:
            continue
        gb = reps[b]["gap"][0, keep]  # benchmark gaps are exact (no replicates)
        lb = reps[b]["lag"][0, keep]
        sb = reps[b]["slope"]
        for c in arena:
            A_gap, A_lag = reps[c]["gap"][:, keep], reps[c]["lag"][:, keep]
            if A_gap.shape[0] < 2:
                continue
            # positive = benchmarks show open models closer to closed ones than the arena does
            months = A_lag - lb[None, :]
            points = np.vstack([gb * reps[b]["slope_point"], gb[None, :] * sb[:, None]]) - A_gap
            for what, diff in [("months", months), ("points", points)]:
                ok = np.isfinite(diff[0])
                if ok.sum() < 2:
                    continue
                dd = diff[:, ok]
                nq = dd.shape[1]
                qi = rng.integers(0, nq, size=(dd.shape[0] - 1, nq))
                boot = np.take_along_axis(dd[1:], qi, axis=1).mean(axis=1)
                rows.append(
                    {
                        "measure": c,
                        "statistic": f"overstatement_{what}",
                        "reference": b,
                        **_stat(float(dd[0].mean()), boot, nq),
                    }
                )
    out = pd.DataFrame(rows)
    out.attrs["quarters"] = qlab
    return out


# ---------------------------------------------------------------------------- 3. reliability


def ceiling(scores: np.ndarray) -> float:
    """The benchmark's ceiling: 1, 10 or 100 if no score exceeds it, else NaN (no ceiling)."""
    mx = float(np.nanmax(scores))
    mn = float(np.nanmin(scores))
    if mn >= 0:
        for c in (1.0, 10.0, 100.0):
            if mx <= c:
                return c
    return np.nan


def reliability_table(
    arena: pd.Series,
    Xb: pd.DataFrame,
    release: pd.Series,
    n_boot: int,
    rng: np.random.Generator,
    min_cohort: int = 10,
    min_cohorts: int = 2,
) -> pd.DataFrame:
    """Spearman with the arena and saturation per benchmark and half-year cohort.

    Returns
    -------
    DataFrame
        One row per (``benchmark``, ``cohort``): ``n`` rated models, ``spearman``,
        ``ci_lo``, ``ci_hi``, ``n_scored`` (all models with the score in the cohort),
        ``saturation``, ``ceiling``; only benchmarks with at least ``min_cohorts``
        cohorts of ``min_cohort`` rated models.
    """
    bench_cols = [c for c in Xb.columns if is_benchmark_column(c)]
    half = half_year(release.reindex(Xb.index))
    half = half.where(half >= f"{FIRST_QUARTER.year}H1")
    rows = []
    for col in bench_cols:
        s = Xb[col].dropna()
        if s.empty:
            continue
        if col.startswith("livebench."):
            ceil_v = np.nan  # z-scores within a release: no ceiling
        else:
            ceil_v = ceiling(s.to_numpy())
        sub = []
        for coh, grp in s.groupby(half.reindex(s.index)):
            j = pd.DataFrame({"x": grp, "y": arena.reindex(grp.index)}).dropna()
            sat = (
                float((grp >= 0.95 * ceil_v).mean())
                if np.isfinite(ceil_v) and ceil_v > 0
                else np.nan
            )
            rec = {
                "benchmark": col,
                "cohort": coh,
                "n": len(j),
                "n_scored": len(grp),
                "saturation": sat,
                "ceiling": ceil_v,
                "spearman": np.nan,
                "ci_lo": np.nan,
                "ci_hi": np.nan,
            }
            if len(j) >= min_cohort:
                x, y = j["x"].to_numpy(), j["y"].to_numpy()
                rec["spearman"] = spearman(x, y)
                rec["ci_lo"], rec["ci_hi"] = _ci(_boot_spearman(x, y, n_boot, rng))
            sub.append(rec)
        if sum(np.isfinite(r["spearman"]) for r in sub) >= min_cohorts:
            rows.extend(sub)
    out = pd.DataFrame(
        rows,
        columns=[
            "benchmark",
            "cohort",
            "n",
            "spearman",
            "ci_lo",
            "ci_hi",
            "n_scored",
            "saturation",
            "ceiling",
        ],
    )
    return out.sort_values(["benchmark", "cohort"], kind="mergesort").reset_index(drop=True)


# ---------------------------------------------------------------------------- 4. claimed


EFFORT_SUFFIX = re.compile(
    r"^-(thinking(-\d+k)?(-bedrock)?|reasoning|high|xhigh|medium|highthinking)$"
)
VARIANT_MAX_DAYS = 60


def effort_variants(model_id: str, models: pd.DataFrame, candidates: set[str]) -> list[str]:
    """``model_id`` and its reasoning-effort variants among ``candidates``.

    A variant is ``<model_id>-thinking[-Nk][-bedrock]``, ``-reasoning``, ``-high``,
    ``-xhigh``, ``-medium`` or ``-highthinking`` released within
    :data:`VARIANT_MAX_DAYS` days of the model (or undated): the same weights run with
    another thinking budget, not a later model such as ``phi-4-reasoning``.
    """
    rel = models["release_date"]
    base = rel.get(model_id)
    out = [model_id]
    for c in sorted(candidates):
        if c.startswith(model_id + "-") and EFFORT_SUFFIX.match(c[len(model_id) :]):
            r = rel.get(c)
            if pd.isna(r) or pd.isna(base) or abs((r - base).days) <= VARIANT_MAX_DAYS:
                out.append(c)
    return out


def claimed_pairs(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Claimed (llm-stats, self-reported) vs independent scores, one row per (model, benchmark).

    Vendors quote their best configuration, so for each independent benchmark the
    independent score is the best over the model and its reasoning-effort variants
    (:func:`effort_variants`); the independent value is then the mean over the
    independent benchmarks paired with the claim.

    Returns
    -------
    DataFrame
        ``model_id``, ``organization``, ``open_weights``, ``benchmark`` (label),
        ``claimed``, ``independent`` (0-100), ``sources`` (";"-joined independent
        benchmarks), ``variants`` (";"-joined model ids whose runs were used),
        ``gap`` (claimed - independent).
    """
    b = tables["benchmarks"]
    first = b.sort_values(["model_id", "benchmark", "as_of", "source"], kind="mergesort")
    claims = first[(first["source"] == "llm-stats") & (first["self_reported"] == True)]  # noqa: E712
    claims = claims.drop_duplicates(["model_id", "benchmark"])
    indep = first[first["source"].isin(INDEPENDENT_SOURCES) & (first["self_reported"] != True)]  # noqa: E712
    indep = indep.drop_duplicates(["model_id", "benchmark"])
    models = tables["models"].set_index("model_id")
    is_open = _open_flags(tables["models"])
    rows = []
    for cb, (label, targets) in CLAIM_PAIRS.items():
        c = claims[claims["benchmark"] == cb].set_index("model_id")["score"] * CLAIM_SCALE
        ind = {
            ib: indep[indep["benchmark"] == ib].set_index("model_id")["score"] * factor
            for ib, factor in targets
        }
        for mid in c.index:
            vals, used = {}, set()
            for ib, s in ind.items():
                fam = [v for v in effort_variants(mid, models, set(s.index)) if v in s.index]
                if fam:
                    best = max(fam, key=lambda v, s=s: (s[v], v))
                    vals[ib] = float(s[best])
                    used.add(best)
            if not vals:
                continue
            rows.append(
                {
                    "model_id": mid,
                    "organization": models["organization"].get(mid),
                    "open_weights": is_open.get(mid, np.nan),
                    "benchmark": label,
                    "claimed": float(c[mid]),
                    "independent": float(np.mean(list(vals.values()))),
                    "sources": ";".join(sorted(vals)),
                    "variants": ";".join(sorted(used)),
                }
            )
    out = pd.DataFrame(
        rows,
        columns=[
            "model_id",
            "organization",
            "open_weights",
            "benchmark",
            "claimed",
            "independent",
            "sources",
            "variants",
        ],
    )
    out["gap"] = out["claimed"] - out["independent"]
    out["organization"] = out["organization"].fillna("unknown")
    return out.sort_values(["organization", "model_id", "benchmark"], kind="mergesort").reset_index(
        drop=True
    )


def _cluster_mean(
    gaps: pd.Series, clusters: pd.Series, n_boot: int, rng: np.random.Generator
) -> dict[str, float]:
    """Mean gap with a bootstrap over clusters (models)."""
    g = (
        pd.DataFrame({"g": gaps.to_numpy(), "c": clusters.to_numpy()})
        .groupby("c")["g"]
        .agg(["sum", "count"])
    )
    sums, cnts = g["sum"].to_numpy(), g["count"].to_numpy()
    k = len(sums)
    value = float(sums.sum() / cnts.sum()) if k else np.nan
    reps = None
    if k >= 2:
        idx = rng.integers(0, k, size=(n_boot, k))
        reps = sums[idx].sum(axis=1) / cnts[idx].sum(axis=1)
    out = _stat(value, reps, int(cnts.sum()))
    out["n_models"] = k
    out["median"] = float(np.median(gaps)) if len(gaps) else np.nan
    return out


def claimed_vs_independent(
    tables: dict[str, pd.DataFrame], n_boot: int, rng: np.random.Generator, min_models: int = 3
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, dict]:
    """Pairs, per-organisation and per-benchmark mean gaps (points on a 0-100 scale).

    Organisations with fewer than ``min_models`` paired models are pooled as ``other``.
    """
    pairs = claimed_pairs(tables)
    n_models = pairs.groupby("organization")["model_id"].nunique()
    small = set(n_models[n_models < min_models].index)
    org_of = pairs["organization"].where(~pairs["organization"].isin(small), "other")
    by_org, by_bench = [], []
    for org, g in pairs.groupby(org_of, sort=True):
        by_org.append({"organization": org, **_cluster_mean(g["gap"], g["model_id"], n_boot, rng)})
    for bench, g in pairs.groupby("benchmark", sort=True):
        by_bench.append({"benchmark": bench, **_cluster_mean(g["gap"], g["model_id"], n_boot, rng)})
    overall = (
        _cluster_mean(pairs["gap"], pairs["model_id"], n_boot, rng)
        if len(pairs)
        else _stat(np.nan, None, 0)
    )
    cols = ["value", "ci_lo", "ci_hi", "n", "n_models", "median"]
    org = pd.DataFrame(by_org, columns=["organization", *cols]).sort_values(
        "value", ascending=False, kind="mergesort"
    )
    bench = pd.DataFrame(by_bench, columns=["benchmark", *cols]).sort_values(
        "value", ascending=False, kind="mergesort"
    )
    return pairs, org.reset_index(drop=True), bench.reset_index(drop=True), overall


# ---------------------------------------------------------------------------- all


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
    est = UtilityRegressor(**{**CATEGORY_PARAMS}, random_state=0).fit(
        Xb.loc[t.index], t["target"].to_numpy()
    )
    eng = est.engineer(Xb)
    obs = Xb[bench_cols].notna()
    prefixes = pd.Index([c.split(".")[0] for c in bench_cols])
    n_src = obs.T.groupby(prefixes).any().sum(axis=0)
    f = eng[FACTOR].where(n_src.reindex(eng.index) >= min_sources)
    return f.rename(FACTOR)


def arena_categories(tables: dict[str, pd.DataFrame]) -> list[str]:
    """Analysed style-board categories present in the snapshot (overall first)."""
    avail = set(categories(tables["ratings"], "style"))
    main = [c for c in MAIN_CATEGORIES if c in avail]
    return main + sorted(c for c in avail if c.startswith("industry_"))


def analyse(
    tables: dict[str, pd.DataFrame], n_boot: int = 1000, seed: int = 0, min_train: int = 30
) -> Analysis:
    """Run every analysis of the report on a loaded snapshot.

    Parameters
    ----------
    tables : dict of DataFrame
        :func:`divergence.snapshot.load_snapshot` output.
    n_boot : int
        Bootstrap replicates of every interval.
    seed : int
        Seed of every random draw (results are reproducible).
    min_train : int
        Minimum earlier rated models for an out-of-fold prediction.

    Returns
    -------
    Analysis

    Raises
    ------
    DivergenceError
        If the snapshot lacks the tables or ratings the report needs.
    """
    check_tables(tables)
    rng = np.random.default_rng(seed)
    Xb = model_frame(tables, load_spec("benchmarks_only"))
    for col in [AA_INDEX, ECI]:
        if col not in Xb.columns:
            Xb[col] = np.nan
    cats = arena_categories(tables)
    overall_t = target_frame(tables, "full", "style")
    div = model_divergence(tables, Xb, "full", IMPLIED_PARAMS, min_train, seed)
    cat_rows, oc_rows = [], []
    for cat in cats:
        d = model_divergence(tables, Xb, cat, CATEGORY_PARAMS, min_train, seed)
        if d.empty:
            continue
        cat_rows.append(d)
        stats = open_closed_difference(d, n_boot, rng)
        for grp, st in stats.items():
            oc_rows.append({"category": cat, "group": grp, **st})
    oc_rows_full = open_closed_difference(div, n_boot, rng)
    for grp, st in oc_rows_full.items():
        oc_rows.append({"category": "full (xgboost)", "group": grp, **st})
    category_div = pd.concat(cat_rows) if cat_rows else pd.DataFrame()
    open_closed = pd.DataFrame(oc_rows)
    factor = general_factor(Xb, overall_t)
    frontier, fsum, calib, freps = frontier_table(tables, Xb, factor, cats, n_boot, rng)
    rel = tables["models"].set_index("model_id")["release_date"]
    reliability = reliability_table(overall_t["target"], Xb, rel, n_boot, rng)
    pairs, by_org, by_bench, claim_all = claimed_vs_independent(tables, n_boot, rng)
    a = Analysis(
        divergence=div,
        divergence_trend=divergence_trend(div, n_boot, rng),
        category_divergence=category_div,
        open_closed=open_closed,
        frontier=frontier,
        frontier_summary=fsum,
        calibration=calib,
        reliability=reliability,
        claimed=pairs,
        claimed_by_org=by_org,
        claimed_by_benchmark=by_bench,
    )
    a.info = {
        "n_boot": n_boot,
        "seed": seed,
        "min_train": min_train,
        "categories": cats,
        "claimed_overall": claim_all,
        "n_rated": int(len(overall_t)),
        "ratings_until": str(tables["ratings"]["snapshot_date"].max().date()),
    }
    a.findings = headline_findings(a, rng)
    return a


def _fs(row: pd.Series | dict) -> dict[str, float]:
    return {
        k: (float(row[k]) if k != "n" else int(row[k])) for k in ["value", "ci_lo", "ci_hi", "n"]
    }


def headline_findings(a: Analysis, rng: np.random.Generator) -> dict[str, Any]:
    """The numbers the README quotes, each with its interval (JSON-serialisable)."""
    f: dict[str, Any] = {}
    d = a.divergence
    f["divergence"] = {
        "n_models": int(len(d)),
        "n_flagged": int(d["flagged"].sum()),
        "n_beyond_noise_floor": int(d["beyond_noise_floor"].sum()),
        "oof_spread_points": float(d["oof_spread"].iloc[0]) if len(d) else float("nan"),
        "rmse_points": float(np.sqrt((d["divergence"] ** 2).mean())) if len(d) else float("nan"),
        "most_underrated_by_benchmarks": d.index[0] if len(d) else None,
        "most_overrated_by_benchmarks": d.index[-1] if len(d) else None,
    }
    oc = a.open_closed
    sel = oc[(oc["group"] == "open_minus_closed")].set_index("category")
    f["open_minus_closed_divergence"] = {cat: _fs(r) for cat, r in sel.iterrows()}
    fs = a.frontier_summary
    if len(fs):
        over = fs[fs["statistic"].str.startswith("overstatement")]
        f["overstatement_by_benchmarks"] = {
            f"{r['measure']}|{r['reference']}|{r['statistic'].split('_')[1]}": _fs(r)
            for _, r in over.iterrows()
        }
        mean = fs[fs["statistic"].isin(["mean_lag", "mean_gap"])]
        f["frontier_mean_since_2024"] = {
            f"{r['measure']}|{r['statistic']}": _fs(r) for _, r in mean.iterrows()
        }
    fr = a.frontier
    last = fr.dropna(subset=["gap"]).groupby("measure").tail(1)
    f["frontier_latest_quarter"] = {
        r["measure"]: {
            "quarter": r["quarter"],
            "gap": float(r["gap"]),
            "gap_ci_lo": float(r["gap_ci_lo"]),
            "gap_ci_hi": float(r["gap_ci_hi"]),
            "lag_months": float(r["lag_months"]),
            "best_open": r["best_open"],
            "best_closed": r["best_closed"],
        }
        for _, r in last.iterrows()
    }
    rl = a.reliability.dropna(subset=["spearman"])
    if len(rl):
        by = rl.groupby("cohort")["spearman"]
        f["reliability_median_spearman_by_cohort"] = {k: float(v) for k, v in by.median().items()}
        trend = {}
        for b, g in rl.groupby("benchmark"):
            g = g.sort_values("cohort")
            trend[b] = {
                "first_cohort": g["cohort"].iloc[0],
                "first": float(g["spearman"].iloc[0]),
                "first_ci": [float(g["ci_lo"].iloc[0]), float(g["ci_hi"].iloc[0])],
                "last_cohort": g["cohort"].iloc[-1],
                "last": float(g["spearman"].iloc[-1]),
                "last_ci": [float(g["ci_lo"].iloc[-1]), float(g["ci_hi"].iloc[-1])],
            }
        f["reliability_trend"] = trend
        f["reliability_n_benchmarks_declining"] = int(
            sum(1 for t in trend.values() if t["last_ci"][1] < t["first"])
        )
        f["reliability_n_benchmarks"] = len(trend)
        sat = a.reliability.dropna(subset=["saturation"])
        latest = sat.sort_values("cohort").groupby("benchmark").tail(1)
        f["saturated_benchmarks_latest_cohort"] = {
            r["benchmark"]: {"cohort": r["cohort"], "saturation": float(r["saturation"])}
            for _, r in latest[latest["saturation"] >= 0.25].iterrows()
        }
    ca = a.info.get("claimed_overall", {})
    f["claimed_minus_independent_points"] = {
        k: (float(v) if k not in {"n", "n_models"} else int(v)) for k, v in ca.items()
    }
    f["claimed_by_organization"] = {
        r["organization"]: _fs(r) for _, r in a.claimed_by_org.iterrows()
    }
    f["claimed_by_benchmark"] = {
        r["benchmark"]: _fs(r) for _, r in a.claimed_by_benchmark.iterrows()
    }
    return f
