"""Shared pieces of the analyses: constants, intervals, bootstraps, multiplicity.

Intervals are 95% percentile bootstrap intervals with a fixed seed. Wherever several
intervals are flagged at once, the flag is the Benjamini–Hochberg decision at a false
discovery rate of 5% on bootstrap p-values (:func:`boot_p`, :func:`bh`), and the interval
shown next to it is the false-coverage-rate adjusted interval of Benjamini & Yekutieli
(2005): level ``1 - R q / m`` for ``R`` discoveries among ``m`` (:func:`fcr_level`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import rankdata

from divergence.errors import DivergenceError
from divergence.model import is_benchmark_column

AA_INDEX = "aa.artificial_analysis_intelligence_index"
ECI = "epoch.eci"
FACTOR = "eng.general_factor"
BENCH_MEASURES = {AA_INDEX: "AA intelligence index", FACTOR: "general factor", ECI: "Epoch ECI"}

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
"""Arena categories of the frontier table (plus every ``industry_*`` board present)."""

DOMAINS: dict[str, dict[str, Any]] = {
    "coding": {"category": "coding", "benchmarks": ["aa.artificial_analysis_coding_index"]},
    "math": {"category": "math", "benchmarks": ["aa.artificial_analysis_math_index"]},
    "expert": {"category": "expert", "benchmarks": ["aa.gpqa", "aa.hle", "aa.mmlu_pro"]},
    "legal": {"category": "industry_legal_and_government", "benchmarks": [AA_INDEX]},
    "medicine": {"category": "industry_medicine_and_healthcare", "benchmarks": [AA_INDEX]},
    "finance": {
        "category": "industry_business_and_management_and_financial_operations",
        "benchmarks": [AA_INDEX],
    },
    "creative writing": {
        "category": "creative_writing",
        "benchmarks": ["epoch.lech_mazur_writing"],
    },
}
"""Domains of the open-vs-closed comparison: arena category and benchmark composite.

The composite is the mean of the listed benchmarks' z-scores (standardised over every
model that has the score; a model needs all of them), or the benchmark itself when one
is listed. Legal, medicine and finance have no domain benchmark in the data: their
composite is the AA intelligence index, so they compare a domain arena with general
benchmarks."""

FDR = 0.05
"""False discovery rate of every Benjamini–Hochberg decision."""
DAYS_PER_MONTH = 365.25 / 12
FIRST_QUARTER = pd.Period("2023Q1", freq="Q")


def ci(reps: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    """Percentile interval of the finite replicates at ``level`` (NaN if fewer than 2)."""
    r = np.asarray(reps, dtype=float)
    r = r[np.isfinite(r)]
    if r.size < 2:
        return np.nan, np.nan
    a = (1 - level) / 2
    lo, hi = np.quantile(r, [a, 1 - a])
    return float(lo), float(hi)


def stat(value: float, reps: np.ndarray | None, n: int) -> dict[str, float]:
    """``value``, 95% ``ci_lo``/``ci_hi`` of ``reps``, two-sided bootstrap ``p`` and ``n``."""
    lo, hi = ci(reps) if reps is not None else (np.nan, np.nan)
    p = boot_p(reps) if reps is not None else np.nan
    return {"value": float(value), "ci_lo": lo, "ci_hi": hi, "p": p, "n": int(n)}


def boot_p(reps: np.ndarray | None) -> float:
    """Two-sided bootstrap p-value of ``value = 0``: twice the smaller tail share (+1 smoothed)."""
    if reps is None:
        return np.nan
    r = np.asarray(reps, dtype=float)
    r = r[np.isfinite(r)]
    if r.size < 2:
        return np.nan
    tail = min((r <= 0).sum(), (r >= 0).sum())
    return float(min(1.0, 2 * (tail + 1) / (r.size + 1)))


def bh(p: np.ndarray | pd.Series) -> np.ndarray:
    """Benjamini–Hochberg adjusted p-values (q-values); NaN stays NaN."""
    p = np.asarray(p, dtype=float)
    q = np.full(p.shape, np.nan)
    ok = np.flatnonzero(np.isfinite(p))
    m = ok.size
    if m == 0:
        return q
    order = ok[np.argsort(p[ok], kind="mergesort")]
    adj = p[order] * m / np.arange(1, m + 1)
    adj = np.minimum.accumulate(adj[::-1])[::-1]
    q[order] = np.minimum(adj, 1.0)
    return q


def fcr_level(q: np.ndarray, fdr: float = FDR) -> float:
    """Coverage level of FCR-adjusted intervals: ``1 - R fdr / m`` (``1 - fdr`` when R = 0)."""
    q = np.asarray(q, dtype=float)
    m = int(np.isfinite(q).sum())
    r = int((q < fdr).sum())
    return 1 - fdr * max(r, 1) / max(m, 1)


def add_multiplicity(df: pd.DataFrame, reps: list[np.ndarray | None], fdr: float = FDR) -> None:
    """Add ``q`` (BH), ``significant`` and FCR-adjusted ``adj_lo``/``adj_hi`` to ``df`` in place.

    ``reps`` holds each row's bootstrap replicates (None: no interval); the rows of ``df``
    are one family.
    """
    q = bh(df["p"].to_numpy(dtype=float)) if len(df) else np.array([])
    level = fcr_level(q, fdr)
    df["q"] = q
    df["significant"] = q < fdr
    adj = [ci(r, level) if r is not None else (np.nan, np.nan) for r in reps]
    df["adj_lo"] = [a[0] for a in adj]
    df["adj_hi"] = [a[1] for a in adj]
    df.attrs["fcr_level"] = level


def open_flags(models: pd.DataFrame) -> pd.Series:
    """``open_weights`` as a float series (1 open, 0 closed, NaN unknown) by model_id."""
    s = models.set_index("model_id")["open_weights"]
    return s.map(
        lambda v: np.nan if v is None or (isinstance(v, float) and np.isnan(v)) else float(bool(v))
    )


def display_names(tables: dict[str, pd.DataFrame]) -> pd.Series:
    """Display name by model_id (the id where the name is missing)."""
    m = tables["models"].set_index("model_id")["display_name"]
    return m.where(m.notna() & (m.astype(str) != ""), pd.Series(m.index, index=m.index))


def boot_spearman_idx(x: np.ndarray, y: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """Spearman of ``x[idx[b]]`` with ``y[idx[b]]`` per row ``b`` (NaN for constant resamples)."""
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


def block_indices(n: int, n_boot: int, rng: np.random.Generator, block: int = 3) -> np.ndarray:
    """Circular moving-block bootstrap indices, shape ``(n_boot, n)``.

    Consecutive runs of ``block`` positions (wrapping at the end) are drawn with
    replacement until ``n`` positions are filled, so autocorrelation within a block is kept.
    """
    block = max(1, min(block, n))
    k = -(-n // block)
    starts = rng.integers(0, n, size=(n_boot, k))
    idx = (starts[:, :, None] + np.arange(block)[None, None, :]) % n
    return idx.reshape(n_boot, -1)[:, :n]


def half_year(dates: pd.Series, shift_months: int = 0) -> pd.Series:
    """Half-year cohort label (``2024H1``) per date, NaN for NaT.

    ``shift_months`` moves the boundary: 3 labels April–September as ``H1`` (of the same
    year) and October–March as ``H2`` (of the October's year), for a sensitivity check.
    """
    d = dates - pd.DateOffset(months=shift_months) if shift_months else dates
    lab = d.dt.year.astype("Int64").astype(str) + np.where(d.dt.month <= 6, "H1", "H2")
    return lab.where(dates.notna()).astype(object)


def n_scores(Xb: pd.DataFrame) -> pd.Series:
    """Number of benchmark scores per model (benchmark columns only)."""
    cols = [c for c in Xb.columns if is_benchmark_column(c)]
    return Xb[cols].notna().sum(axis=1)


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
