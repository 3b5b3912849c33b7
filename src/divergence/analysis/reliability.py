"""Benchmark reliability over time: rank agreement with the arena by release cohort.

Per benchmark column of the ``benchmarks_only`` frame and half-year release cohort
(cohorts with at least ``min_cohort`` rated models): Spearman rank correlation with the
overall arena rating, its bootstrap interval, the within-cell spread (SD) of the arena
rating, and a restriction-of-range corrected Spearman (Thorndike case II,
``r u / sqrt(1 + r^2 (u^2 - 1))`` with ``u`` = SD of the arena rating over all rated models
/ SD within the cell, applied to the rank correlation as an approximation; in each
bootstrap replicate ``u`` is recomputed from the resample). Saturation = share of the
cohort's models (rated or not) within 5% of the benchmark's ceiling (1, 10 or 100 when no
score exceeds it; none for unbounded indices and LiveBench's per-release z-scores).

Trend, on a *fixed panel*: the benchmarks with a Spearman in every cohort from the panel's
first to the latest cohort, the first cohort being the earliest that keeps at least
:data:`MIN_PANEL` benchmarks. Per panel cohort, the median Spearman (raw and corrected)
over the panel with a joint bootstrap (models of a cohort resampled once for all
benchmarks). Change test per panel benchmark: latest - first cohort, replicates of the two
independent cohorts subtracted, two-sided bootstrap p-value, Benjamini–Hochberg over the
panel; declines and increases are counted alike.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import rankdata

from divergence.analysis.common import (
    FDR,
    FIRST_QUARTER,
    bh,
    boot_p,
    boot_spearman_idx,
    ci,
    half_year,
    spearman,
)
from divergence.model import is_benchmark_column

MIN_COHORT = 10
MIN_PANEL = 8
MAX_JOINT_BOOT = 1000


def ceiling(scores: np.ndarray) -> float:
    """The benchmark's ceiling: 1, 10 or 100 if no score exceeds it, else NaN (no ceiling)."""
    mx = float(np.nanmax(scores))
    mn = float(np.nanmin(scores))
    if mn >= 0:
        for c in (1.0, 10.0, 100.0):
            if mx <= c:
                return c
    return np.nan


def corrected(r: np.ndarray | float, u: np.ndarray | float) -> np.ndarray:
    """Thorndike case II correction of a correlation ``r`` for range ratio ``u`` = S / s."""
    r, u = np.asarray(r, dtype=float), np.asarray(u, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        return r * u / np.sqrt(1 + r**2 * (u**2 - 1))


def cohorts_of(release: pd.Series, index: pd.Index, shift_months: int = 0) -> pd.Series:
    """Half-year cohort per model of ``index`` (NaN before :data:`FIRST_QUARTER`)."""
    half = half_year(release.reindex(index), shift_months)
    return half.where(half >= f"{FIRST_QUARTER.year}H1")


def reliability_cells(
    arena: pd.Series,
    Xb: pd.DataFrame,
    release: pd.Series,
    n_boot: int,
    rng: np.random.Generator,
    min_cohort: int = MIN_COHORT,
    shift_months: int = 0,
) -> tuple[pd.DataFrame, dict[tuple[str, str], dict[str, np.ndarray]]]:
    """One row per (benchmark, cohort) with Spearman, spread, corrected Spearman, saturation.

    Returns
    -------
    cells : DataFrame
        ``benchmark``, ``cohort``, ``n``, ``spearman``, ``ci_lo``, ``ci_hi``, ``spread``,
        ``spearman_corrected``, ``corr_ci_lo``, ``corr_ci_hi``, ``n_scored``,
        ``saturation``, ``ceiling``.
    reps : dict
        ``(benchmark, cohort) -> {"raw": reps, "corrected": reps}``.
    """
    bench_cols = [c for c in Xb.columns if is_benchmark_column(c)]
    half = cohorts_of(release, Xb.index, shift_months)
    ref_sd = float(arena.std())
    rows, reps = [], {}
    for col in bench_cols:
        s = Xb[col].dropna()
        if s.empty:
            continue
        ceil_v = np.nan if col.startswith("livebench.") else ceiling(s.to_numpy())
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
                "spearman": np.nan,
                "ci_lo": np.nan,
                "ci_hi": np.nan,
                "spread": float(j["y"].std()) if len(j) > 1 else np.nan,
                "spearman_corrected": np.nan,
                "corr_ci_lo": np.nan,
                "corr_ci_hi": np.nan,
                "n_scored": len(grp),
                "saturation": sat,
                "ceiling": ceil_v,
            }
            if len(j) >= min_cohort:
                x, y = j["x"].to_numpy(), j["y"].to_numpy()
                idx = rng.integers(0, len(x), size=(n_boot, len(x)))
                raw = boot_spearman_idx(x, y, idx)
                with np.errstate(invalid="ignore", divide="ignore"):
                    cor = corrected(raw, ref_sd / y[idx].std(axis=1, ddof=1))
                rec["spearman"] = spearman(x, y)
                rec["ci_lo"], rec["ci_hi"] = ci(raw)
                rec["spearman_corrected"] = float(
                    corrected(rec["spearman"], ref_sd / rec["spread"])
                )
                rec["corr_ci_lo"], rec["corr_ci_hi"] = ci(cor)
                reps[(col, coh)] = {"raw": raw, "corrected": cor}
            rows.append(rec)
    cols = [
        "benchmark",
        "cohort",
        "n",
        "spearman",
        "ci_lo",
        "ci_hi",
        "spread",
        "spearman_corrected",
        "corr_ci_lo",
        "corr_ci_hi",
        "n_scored",
        "saturation",
        "ceiling",
    ]
    out = pd.DataFrame(rows, columns=cols)
    return out.sort_values(["benchmark", "cohort"], kind="mergesort").reset_index(drop=True), reps


def choose_panel(cells: pd.DataFrame, min_panel: int = MIN_PANEL) -> tuple[list[str], list[str]]:
    """Panel cohorts (earliest start keeping ``min_panel`` benchmarks) and panel benchmarks."""
    ok = cells.dropna(subset=["spearman"])
    cohorts = sorted(ok["cohort"].unique())
    best: tuple[list[str], list[str]] = ([], [])
    for i in range(len(cohorts) - 1):
        span = cohorts[i:]
        have = ok[ok["cohort"].isin(span)].groupby("benchmark")["cohort"].nunique()
        bench = sorted(have[have == len(span)].index)
        if len(bench) >= min_panel:
            return span, bench
        if len(span) == 2 and len(bench) >= 2:
            best = (span, bench)
    return best


def masked_spearman(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Row-wise Spearman of ``x`` and ``y`` (B, n) over the entries where ``x`` is finite.

    Also returns nothing for rows with fewer than 3 such entries (NaN there).
    """
    m = np.isfinite(x)
    xr = rankdata(np.where(m, x, np.inf), axis=1)
    yr = rankdata(np.where(m, y, np.inf), axis=1)
    k = m.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        xm = np.where(m, xr, 0).sum(axis=1) / k
        ym = np.where(m, yr, 0).sum(axis=1) / k
        dx = np.where(m, xr - xm[:, None], 0)
        dy = np.where(m, yr - ym[:, None], 0)
        den = np.sqrt((dx**2).sum(axis=1) * (dy**2).sum(axis=1))
        r = np.where((den > 0) & (k >= 3), (dx * dy).sum(axis=1) / den, np.nan)
    return r


def _masked_sd(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    m = np.isfinite(x)
    k = m.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mu = np.where(m, y, 0).sum(axis=1) / k
        return np.sqrt(np.where(m, (y - mu[:, None]) ** 2, 0).sum(axis=1) / (k - 1))


def _joint_median(
    y: np.ndarray, X: np.ndarray, ref_sd: float, n_boot: int, rng: np.random.Generator
) -> tuple[float, float, np.ndarray, np.ndarray]:
    """Median over columns of Spearman(X[:, j], y) (raw, corrected) and joint replicates.

    Row 0 is the sample itself; each replicate resamples the rows once for all columns.
    """
    n = len(y)
    idx = np.vstack([np.arange(n), rng.integers(0, n, size=(n_boot, n))])
    ys = y[idx]
    raw = np.full((idx.shape[0], X.shape[1]), np.nan)
    cor = np.full_like(raw, np.nan)
    for j in range(X.shape[1]):
        xs = X[:, j][idx]
        raw[:, j] = masked_spearman(xs, ys)
        cor[:, j] = corrected(raw[:, j], ref_sd / _masked_sd(xs, ys))
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        mr, mc = np.nanmedian(raw, axis=1), np.nanmedian(cor, axis=1)
    return float(mr[0]), float(mc[0]), mr[1:], mc[1:]


def reliability_trend(
    cells: pd.DataFrame,
    reps: dict[tuple[str, str], dict[str, np.ndarray]],
    arena: pd.Series,
    Xb: pd.DataFrame,
    release: pd.Series,
    n_boot: int,
    rng: np.random.Generator,
    shift_months: int = 0,
    fdr: float = FDR,
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """Fixed-panel medians by cohort, per-benchmark change tests and the verdict.

    Returns
    -------
    panel : DataFrame
        Per panel cohort: ``cohort``, ``n_models``, ``spread``, ``median``, ``ci_lo``,
        ``ci_hi``, ``median_corrected``, ``corr_ci_lo``, ``corr_ci_hi``.
    changes : DataFrame
        Per panel benchmark (latest - first cohort): ``benchmark``, ``first``, ``last``,
        ``change``, ``ci_lo``, ``ci_hi``, ``p``, ``q``, ``change_corrected``,
        ``corr_ci_lo``, ``corr_ci_hi``, ``corr_p``, ``corr_q``, ``non_overlap``.
    summary : dict
        Counts of declines and increases (raw / BH / corrected BH / non-overlap / the
        old rule), the panel median change with its CI, and ``weakening_holds``.
    """
    cohorts, bench = choose_panel(cells)
    summary: dict[str, Any] = {"cohorts": cohorts, "benchmarks": bench, "n_benchmarks": len(bench)}
    if len(cohorts) < 2:
        summary["weakening_holds"] = None
        return pd.DataFrame(), pd.DataFrame(), summary
    half = cohorts_of(release, Xb.index, shift_months)
    ref_sd = float(arena.std())
    rows, boot = [], {}
    nb = min(n_boot, MAX_JOINT_BOOT)
    for coh in cohorts:
        ids = [m for m in half.index[half == coh] if m in arena.index]
        X = Xb.loc[ids, bench].to_numpy(dtype=float)
        keep = np.isfinite(X).any(axis=1)
        y = arena.reindex(ids).to_numpy(dtype=float)[keep]
        X = X[keep]
        vr, vc, br, bc = _joint_median(y, X, ref_sd, nb, rng)
        boot[coh] = (br, bc)
        lo, hi = ci(br)
        clo, chi = ci(bc)
        rows.append(
            {
                "cohort": coh,
                "n_models": int(len(y)),
                "spread": float(np.std(y, ddof=1)),
                "median": vr,
                "ci_lo": lo,
                "ci_hi": hi,
                "median_corrected": vc,
                "corr_ci_lo": clo,
                "corr_ci_hi": chi,
            }
        )
    panel = pd.DataFrame(rows)
    first, last = cohorts[0], cohorts[-1]
    for key, col in [("median_change", 0), ("median_change_corrected", 1)]:
        d = boot[last][col] - boot[first][col]
        v = (
            panel.iloc[-1]["median" if col == 0 else "median_corrected"]
            - panel.iloc[0]["median" if col == 0 else "median_corrected"]
        )
        lo, hi = ci(d)
        summary[key] = {"value": float(v), "ci_lo": lo, "ci_hi": hi, "p": boot_p(d)}
    c = cells.set_index(["benchmark", "cohort"])
    ch = []
    for b in bench:
        f: Any = c.loc[(b, first)]
        la: Any = c.loc[(b, last)]
        rf, rl = reps[(b, first)], reps[(b, last)]
        d, dc = rl["raw"] - rf["raw"], rl["corrected"] - rf["corrected"]
        lo, hi = ci(d)
        clo, chi = ci(dc)
        ch.append(
            {
                "benchmark": b,
                "first": f["spearman"],
                "last": la["spearman"],
                "change": la["spearman"] - f["spearman"],
                "ci_lo": lo,
                "ci_hi": hi,
                "p": boot_p(d),
                "change_corrected": la["spearman_corrected"] - f["spearman_corrected"],
                "corr_ci_lo": clo,
                "corr_ci_hi": chi,
                "corr_p": boot_p(dc),
                "non_overlap": bool(la["ci_hi"] < f["ci_lo"] or la["ci_lo"] > f["ci_hi"]),
                "old_rule_decline": bool(la["ci_hi"] < f["spearman"]),
            }
        )
    changes = pd.DataFrame(ch)
    changes["q"] = bh(changes["p"].to_numpy())
    changes["corr_q"] = bh(changes["corr_p"].to_numpy())
    neg, pos = changes["change"] < 0, changes["change"] > 0
    cneg, cpos = changes["change_corrected"] < 0, changes["change_corrected"] > 0
    sig, csig = changes["q"] < fdr, changes["corr_q"] < fdr
    summary.update(
        {
            "first": first,
            "last": last,
            "declines_ci": int((changes["ci_hi"] < 0).sum()),
            "increases_ci": int((changes["ci_lo"] > 0).sum()),
            "declines_bh": int((sig & neg).sum()),
            "increases_bh": int((sig & pos).sum()),
            "declines_bh_corrected": int((csig & cneg).sum()),
            "increases_bh_corrected": int((csig & cpos).sum()),
            "declines_non_overlap": int((changes["non_overlap"] & neg).sum()),
            "increases_non_overlap": int((changes["non_overlap"] & pos).sum()),
            "declines_old_rule": int(changes["old_rule_decline"].sum()),
        }
    )
    mc = summary["median_change_corrected"]
    summary["weakening_holds"] = bool(
        mc["ci_hi"] < 0 and summary["declines_bh_corrected"] > summary["increases_bh_corrected"]
    )
    return panel, changes, summary
