"""Open vs closed frontier per quarter and the lag of open models, with honest intervals.

Per calendar quarter, the best open-weight and the best closed model released on or before
the quarter's last day, among models the arena rated on the board (like for like), on an
arena category or on a benchmark measure. Gap = open - closed in native points. Months
of lag: if open trails, the time from the first closed release that reached the open
frontier's level to the quarter end; if open leads, minus the same with roles swapped. A
lag that reaches back to the first model of its group is censored (a lower bound): shown,
but left out of the averages.

Uncertainty: arena ratings are redrawn from their 95% intervals (normal, ``h / 1.96``);
benchmark scores carry no published error and are taken as exact. Averages over quarters
resample *blocks* of consecutive quarters (circular moving-block bootstrap,
:func:`divergence.analysis.common.block_indices`, block length :data:`BLOCK`), because a
quarter's lag shares most of its models with the next quarter's; an arena noise draw and a
block resample go together in each replicate.

Domains (:data:`divergence.analysis.common.DOMAINS`): the lag on the domain's arena board
and on its benchmark composite; "overstatement of open models by benchmarks" = arena lag
- benchmark lag (months), positive when benchmarks show open models closer to the closed
frontier than the arena does.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from divergence.analysis.common import (
    BENCH_MEASURES,
    DAYS_PER_MONTH,
    DOMAINS,
    FIRST_QUARTER,
    block_indices,
    ci,
    open_flags,
    stat,
)
from divergence.targets import target_frame

BLOCK = 3
"""Block length (quarters) of the moving-block bootstrap."""
SINCE = "2024Q1"
"""First quarter of the averages."""


def quarters_until(last: pd.Period) -> list[pd.Period]:
    """Quarters from :data:`FIRST_QUARTER` to ``last``."""
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
        ``lag_months``, ``lag_ci_lo``, ``lag_ci_hi``, ``lag_censored``, ``n_models``.
    reps : dict
        ``{"gap": (1 + B, Q), "lag": (1 + B, Q)}``: row 0 the point values, then one row
        per noise replicate (no replicate rows without ``err``); censored lags are NaN.
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
            rows.append({"quarter": str(q), "n_models": int(avail.sum())})
            continue
        Lo = np.where(mo[None, :], V, -np.inf).max(axis=1)
        Lc = np.where(mc[None, :], V, -np.inf).max(axis=1)
        gaps[:, k] = Lo - Lc
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
        glo, ghi = ci(gaps[1:, k]) if V.shape[0] > 1 else (np.nan, np.nan)
        llo, lhi = ci(lags[1:, k]) if V.shape[0] > 1 else (np.nan, np.nan)
        point_lag = float(lags[0, k])
        if censored:
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
                "n_models": int(avail.sum()),
            }
        )
    return pd.DataFrame(rows), {"gap": gaps, "lag": lags}


def composite(Xb: pd.DataFrame, cols: list[str]) -> pd.Series:
    """Mean z-score of ``cols`` (a model needs all of them); the column itself when one."""
    have = [c for c in cols if c in Xb.columns]
    if len(have) != len(cols):
        return pd.Series(np.nan, index=Xb.index)
    if len(cols) == 1:
        return Xb[cols[0]].astype(float)
    z = (Xb[cols] - Xb[cols].mean()) / Xb[cols].std()
    return z.mean(axis=1, skipna=False)


def block_mean(
    a: np.ndarray, n_boot: int, rng: np.random.Generator, block: int = BLOCK
) -> tuple[float, np.ndarray | None, int]:
    """Mean over quarters of row 0 of ``a`` (1 + B', Q) and its block-bootstrap replicates.

    Quarters where the point value is NaN are dropped first. Replicate ``b`` uses noise
    row ``1 + (b mod B')`` (row 0 when there are none) and one block resample of quarters.
    """
    ok = np.isfinite(a[0])
    if not ok.any():
        return np.nan, None, 0
    a = a[:, ok]
    nq = a.shape[1]
    value = float(a[0].mean())
    if nq < 2:
        return value, None, nq
    src = a[1:] if a.shape[0] > 1 else a[:1]
    rows = src[np.arange(n_boot) % src.shape[0]]
    qi = block_indices(nq, n_boot, rng, block)
    boot = np.nanmean(np.take_along_axis(rows, qi, axis=1), axis=1)
    return value, boot, nq


def arena_measure(
    tables: dict[str, pd.DataFrame],
    category: str,
    quarters: list[pd.Period],
    n_boot: int,
    rng: np.random.Generator,
) -> tuple[pd.DataFrame, dict, pd.DataFrame]:
    """:func:`frontier_measure` on an arena board; also returns its target frame."""
    t = target_frame(tables, category, "style")
    is_open = open_flags(tables["models"]).reindex(t.index)
    tab, rp = frontier_measure(
        t["target"], t["target_err"], t["release_date"], is_open, quarters, n_boot, rng
    )
    return tab, rp, t


def frontier_tables(
    tables: dict[str, pd.DataFrame],
    Xb: pd.DataFrame,
    factor: pd.Series,
    cats: list[str],
    n_boot: int,
    rng: np.random.Generator,
    since: str = SINCE,
    block: int = BLOCK,
    domains: bool = True,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, dict[tuple[str, str, str], Any]]:
    """Frontier per quarter on arena boards, overall benchmark measures and domain composites.

    Returns
    -------
    frontier : DataFrame
        Rows per (``measure``, ``quarter``); ``kind`` is ``arena``, ``benchmark`` or
        ``composite``; ``domain`` names the domain for domain rows.
    summary : DataFrame
        Per measure: ``mean_lag`` and ``mean_gap`` since ``since``; ``overstatement_months``
        rows (arena lag - benchmark lag) for the overall arena vs each overall measure and
        for every domain vs its composite. Columns ``measure``, ``statistic``,
        ``reference``, ``domain``, ``value``, ``ci_lo``, ``ci_hi``, ``p``, ``n``
        (quarters), ``n_models``.
    calibration : DataFrame
        OLS slope of the overall arena rating on each overall benchmark measure.
    reps : dict
        Bootstrap replicates of every summary row, keyed like the rows.
    """
    models = tables["models"].set_index("model_id")
    is_open = open_flags(tables["models"])
    overall = target_frame(tables, "full", "style")
    quarters = quarters_until(overall["release_date"].max().to_period("Q"))
    keep = np.array([q >= pd.Period(since, freq="Q") for q in quarters])
    rel = models["release_date"]
    frames, series = [], {}
    domain_of = {spec["category"]: dom for dom, spec in DOMAINS.items()}
    rated: dict[str, pd.Index] = {}
    for cat in cats:
        tab, rp, t = arena_measure(tables, cat, quarters, n_boot, rng)
        tab.insert(0, "measure", f"arena:{cat}")
        tab.insert(1, "kind", "arena")
        tab["domain"] = domain_of.get(cat, "overall" if cat == "full" else "")
        frames.append(tab)
        series[f"arena:{cat}"] = rp
        rated[cat] = t.index
    bench = pd.concat(
        [Xb[[c for c in BENCH_MEASURES if c in Xb.columns]], factor.rename("eng.general_factor")],
        axis=1,
    )
    bench = bench.loc[:, ~bench.columns.duplicated(keep="last")]
    calib = calibration_slopes(overall["target"], bench.reindex(overall.index))
    bench_specs = [(m, m, "benchmark", "overall", rated["full"]) for m in BENCH_MEASURES]
    for dom, spec in DOMAINS.items() if domains else []:
        if spec["category"] in rated:
            name = f"composite:{dom}"
            bench = bench.assign(**{name: composite(Xb, spec["benchmarks"])})
            bench_specs.append((name, name, "composite", dom, rated[spec["category"]]))
    for m, col, kind, dom, ids in bench_specs:
        if col not in bench.columns:
            continue
        vals = bench[col].reindex(ids).dropna()
        tab, rp = frontier_measure(
            vals, None, rel.reindex(vals.index), is_open.reindex(vals.index), quarters, 0, rng
        )
        tab.insert(0, "measure", m)
        tab.insert(1, "kind", kind)
        tab["domain"] = dom
        frames.append(tab)
        series[m] = rp
    frontier = pd.concat(frames, ignore_index=True)
    slope = calib.set_index("measure")["slope"]
    frontier["gap_rating_points"] = frontier["gap"] * frontier["measure"].map(slope)
    rows, reps = [], {}

    def add(meas: str, statistic: str, ref: str, dom: str, a: np.ndarray, n_models: int) -> None:
        value, boot, nq = block_mean(a[:, keep], n_boot, rng, block)
        if nq == 0:
            return
        rows.append(
            {
                "measure": meas,
                "statistic": statistic,
                "reference": ref,
                "domain": dom,
                **stat(value, boot, nq),
                "n_models": n_models,
            }
        )
        reps[(meas, statistic, ref)] = boot

    n_of = frontier.groupby("measure")["n_models"].max()
    dom_of = frontier.groupby("measure")["domain"].first()
    for meas, rp in series.items():
        for what in ["gap", "lag"]:
            add(meas, f"mean_{what}", "", dom_of[meas], rp[what], int(n_of[meas]))
    pairs = [("arena:full", m, "overall") for m in BENCH_MEASURES if m in series]
    pairs += [
        (f"arena:{spec['category']}", f"composite:{dom}", dom)
        for dom, spec in DOMAINS.items()
        if f"composite:{dom}" in series and f"arena:{spec['category']}" in series
    ]
    for arena_m, bench_m, dom in pairs:
        A = series[arena_m]["lag"]
        B = series[bench_m]["lag"][0]
        add(
            arena_m,
            "overstatement_months",
            bench_m,
            dom,
            A - B[None, :],
            int(max(n_of[arena_m], n_of[bench_m])),
        )
    summary = pd.DataFrame(rows)
    summary.attrs["quarters"] = [str(q) for q in np.array(quarters)[keep]]
    summary.attrs["block"] = block
    summary.attrs["since"] = since
    return frontier, summary, calib, reps


def calibration_slopes(arena: pd.Series, X: pd.DataFrame) -> pd.DataFrame:
    """OLS slope of the overall arena rating on each measure (rating points per unit)."""
    rows = []
    for m in X.columns:
        j = pd.DataFrame({"y": arena, "x": X[m]}).dropna()
        x, y = j["x"].to_numpy(), j["y"].to_numpy()
        slope = float(np.polyfit(x, y, 1)[0]) if len(j) >= 5 and np.std(x) > 0 else np.nan
        rows.append({"measure": m, "slope": slope, "n": len(j)})
    return pd.DataFrame(rows, columns=["measure", "slope", "n"])


def plain_bootstrap_mean_lag(
    frontier: pd.DataFrame, measure: str, n_boot: int, rng: np.random.Generator, since: str = SINCE
) -> tuple[float, float, float]:
    """The old interval: quarters resampled independently (kept for the old-vs-new comparison)."""
    f = frontier[(frontier["measure"] == measure) & (frontier["quarter"] >= since)]
    lag = f.loc[~f["lag_censored"].fillna(True).astype(bool), "lag_months"].to_numpy(dtype=float)
    if len(lag) < 2:
        return np.nan, np.nan, np.nan
    boot = lag[rng.integers(0, len(lag), size=(n_boot, len(lag)))].mean(axis=1)
    lo, hi = ci(boot)
    return float(lag.mean()), lo, hi
