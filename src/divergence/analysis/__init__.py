"""Divergence analysis: where benchmarks and the arena part ways (computations only).

One module per analysis; :func:`analyse` runs them all on a loaded snapshot and
:mod:`divergence.reports` turns the result into figures, HTML and the README block.

- :mod:`~divergence.analysis.divergence`: per-model divergence from the out-of-time
  benchmark-implied rating (champion's tuned parameters, monthly expanding window), drift
  removed, flagged with ≥ K scores and Benjamini–Hochberg;
- :mod:`~divergence.analysis.frontier`: open vs closed frontier and lag per quarter,
  block bootstrap over quarters, per domain on arena boards and benchmark composites;
- :mod:`~divergence.analysis.open_closed`: the open-vs-closed-by-domain table;
- :mod:`~divergence.analysis.reliability`: fixed-panel reliability trend with
  restriction-of-range correction and change tests;
- :mod:`~divergence.analysis.claimed`: vendor-claimed vs independent scores;
- :mod:`~divergence.analysis.sensitivity`: each headline under drop-one-source and
  moved-boundary variants;
- :mod:`~divergence.analysis.common`: intervals, bootstraps, BH and FCR intervals.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from divergence.analysis.champion import Champion, load_champion
from divergence.analysis.claimed import CLAIM_PAIRS, claimed_pairs, claimed_vs_independent
from divergence.analysis.common import (
    AA_INDEX,
    BENCH_MEASURES,
    DOMAINS,
    ECI,
    FACTOR,
    FDR,
    check_tables,
    half_year,
    spearman,
)
from divergence.analysis.divergence import (
    CATEGORY_PARAMS,
    MIN_SCORES,
    drift_table,
    general_factor,
    implied_error,
    model_divergence,
    open_overstatement,
    rmse,
)
from divergence.analysis.frontier import BLOCK, frontier_tables, plain_bootstrap_mean_lag
from divergence.analysis.open_closed import domain_table
from divergence.analysis.reliability import reliability_cells, reliability_trend
from divergence.analysis.sensitivity import sensitivity_table
from divergence.features import load_spec, model_frame
from divergence.targets import categories, target_frame

__all__ = [
    "AA_INDEX",
    "BENCH_MEASURES",
    "CLAIM_PAIRS",
    "DOMAINS",
    "ECI",
    "FACTOR",
    "Analysis",
    "analyse",
    "claimed_pairs",
    "half_year",
    "spearman",
]


@dataclass
class Analysis:
    """Every table of the report (see the analysis modules)."""

    divergence: pd.DataFrame
    drift: pd.DataFrame
    domain_divergence: pd.DataFrame
    open_closed: pd.DataFrame
    frontier: pd.DataFrame
    frontier_summary: pd.DataFrame
    calibration: pd.DataFrame
    reliability: pd.DataFrame
    reliability_panel: pd.DataFrame
    reliability_changes: pd.DataFrame
    claimed: pd.DataFrame
    claimed_by_org: pd.DataFrame
    claimed_by_benchmark: pd.DataFrame
    sensitivity: pd.DataFrame
    champion: Champion
    names: pd.Series
    findings: dict[str, Any] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)

    def name(self, model_id: Any) -> str:
        """Display name of a model id (the id when unknown)."""
        n = self.names.get(model_id) if isinstance(model_id, str) else None
        return str(n) if isinstance(n, str) and n else str(model_id)


def arena_categories(tables: dict[str, pd.DataFrame]) -> list[str]:
    """Frontier boards present in the snapshot: overall, hard prompts and the domain boards."""
    avail = set(categories(tables["ratings"], "style"))
    want = ["full", "hard_6", *[spec["category"] for spec in DOMAINS.values()]]
    return [c for c in dict.fromkeys(want) if c in avail]


def analyse(
    tables: dict[str, pd.DataFrame],
    n_boot: int = 1000,
    seed: int = 0,
    min_train: int = 30,
    champion: Champion | None = None,
    sensitivity: bool = True,
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
        Minimum earlier rated models for an out-of-time prediction.
    champion : Champion, optional
        Tuned parameters and walk-forward metrics (default: the shipped champion's card).
    sensitivity : bool
        Also compute the sensitivity appendix.

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
    champ = champion or load_champion()
    Xb = model_frame(tables, load_spec("benchmarks_only"))
    for col in [AA_INDEX, ECI]:
        if col not in Xb.columns:
            Xb[col] = np.nan
    avail = set(categories(tables["ratings"], "style"))
    overall_t = target_frame(tables, "full", "style")
    div = model_divergence(tables, Xb, "full", champ.params, "M", min_train, seed)
    averages = {"overall": open_overstatement(div, n_boot, rng)}
    implied_rmse = {"overall": rmse(div["divergence"])}
    dom_frames = []
    for dom, spec in DOMAINS.items():
        if spec["category"] not in avail:
            continue
        d = model_divergence(tables, Xb, spec["category"], CATEGORY_PARAMS, "Q", min_train, seed)
        if d.empty:
            continue
        d["domain"] = dom
        averages[dom] = open_overstatement(d, n_boot, rng)
        implied_rmse[dom] = rmse(d["divergence"])
        dom_frames.append(d)
    factor = general_factor(Xb, overall_t)
    cats = arena_categories(tables)
    frontier, fsum, calib, freps = frontier_tables(tables, Xb, factor, cats, n_boot, rng)
    release = tables["models"].set_index("model_id")["release_date"]
    arena = overall_t["target"]
    cells, creps = reliability_cells(arena, Xb, release, n_boot, rng)
    panel, changes, rsum = reliability_trend(cells, creps, arena, Xb, release, n_boot, rng)
    pairs, by_org, by_bench, claim_all = claimed_vs_independent(tables, n_boot, rng)
    sens = (
        sensitivity_table(
            tables, Xb, champ.params, factor, arena, release, n_boot, rng, min_train, seed
        )
        if sensitivity
        else pd.DataFrame()
    )
    names = tables["models"].set_index("model_id")["display_name"]
    a = Analysis(
        divergence=div,
        drift=drift_table(div, n_boot, rng),
        domain_divergence=pd.concat(dom_frames) if dom_frames else pd.DataFrame(),
        open_closed=domain_table(averages, implied_rmse, fsum, freps),
        frontier=frontier,
        frontier_summary=fsum,
        calibration=calib,
        reliability=cells,
        reliability_panel=panel,
        reliability_changes=changes,
        claimed=pairs,
        claimed_by_org=by_org,
        claimed_by_benchmark=by_bench,
        sensitivity=sens,
        champion=champ,
        names=names.where(names.notna(), names.index.to_series()),
    )
    a.info = {
        "n_boot": n_boot,
        "seed": seed,
        "min_train": min_train,
        "min_scores": MIN_SCORES,
        "fdr": FDR,
        "block": BLOCK,
        "categories": cats,
        "domains": [d for d in DOMAINS if d in averages],
        "claimed_overall": claim_all,
        "reliability": rsum,
        "implied_error": implied_error(div),
        "old_lag_interval": plain_bootstrap_mean_lag(frontier, "arena:full", n_boot, rng),
        "n_rated": int(len(overall_t)),
        "n_models": int(len(tables["models"])),
        "ratings_until": str(tables["ratings"]["snapshot_date"].max().date()),
    }
    a.findings = headline_findings(a)
    return a


def _fs(row: pd.Series | dict, *extra: str) -> dict[str, Any]:
    out: dict[str, Any] = {
        k: (float(row[k]) if k != "n" else int(row[k])) for k in ["value", "ci_lo", "ci_hi", "n"]
    }
    for k in extra:
        if k in row and row[k] is not None:
            v = row[k]
            out[k] = bool(v) if isinstance(v, bool | np.bool_) else float(v)
    return out


def headline_findings(a: Analysis) -> dict[str, Any]:
    """The numbers the report and README quote, each with its interval and n (JSON-ready)."""
    f: dict[str, Any] = {"n_rated": a.info["n_rated"], "ratings_until": a.info["ratings_until"]}
    m = a.champion.metrics
    f["predictor"] = {
        "source": a.champion.source,
        **{
            k: m[k]
            for k in sorted(m)
            if k.startswith(("walkforward_", "benchmarks_only_walkforward_rmse"))
        },
    }
    d = a.divergence
    err = a.info["implied_error"]
    main_rmse = m.get("walkforward_rmse", np.nan)
    flagged = d[d["flagged"]]
    under, overr = flagged[flagged["divergence_adj"] > 0], flagged[flagged["divergence_adj"] < 0]

    def who(row_id: str) -> dict[str, Any]:
        r = d.loc[row_id].to_dict()
        return {
            "model_id": row_id,
            "name": a.name(row_id),
            "divergence_adj": float(r["divergence_adj"]),
            "n_scores": int(r["n_scores"]),
            "q": float(r["q"]),
        }

    f["divergence"] = {
        "n_models": int(len(d)),
        "min_scores": int(a.info["min_scores"]),
        "n_eligible": int(d["eligible"].sum()),
        "n_flagged": int(len(flagged)),
        "n_flagged_under": int((flagged["divergence_adj"] > 0).sum()),
        "n_flagged_over": int((flagged["divergence_adj"] < 0).sum()),
        "spread_points": float(d["spread"].iloc[0]) if len(d) else np.nan,
        "implied_rmse": err["rmse"],
        "implied_rmse_newest": err["rmse_newest"],
        "implied_rmse_adj": err["rmse_adj"],
        "implied_rmse_eligible": err["rmse_eligible"],
        "n_newest": err["n_newest"],
        "drift_min": err["drift_min"],
        "drift_max": err["drift_max"],
        "main_walkforward_rmse": float(main_rmse),
        "ratio_newest_to_main": float(err["rmse_newest"] / main_rmse),
        "ratio_adj_to_main": float(err["rmse_adj"] / main_rmse),
        "most_underrated": who(under.index[0]) if len(under) else None,
        "most_overrated": who(overr.index[-1]) if len(overr) else None,
    }
    oc = a.open_closed
    f["open_closed_by_domain"] = {
        f"{r['domain']}|{r['view']}": _fs(r, "q", "adj_lo", "adj_hi", "significant")
        for _, r in oc.iterrows()
    }
    fs = a.frontier_summary
    lag = fs[fs["statistic"] == "mean_lag"].set_index("measure")
    f["frontier_mean_lag"] = {
        meas: {**_fs(r, "p"), "n_models": int(r["n_models"])} for meas, r in lag.iterrows()
    }
    old = a.info["old_lag_interval"]
    f["frontier_lag_old_interval"] = {"value": old[0], "ci_lo": old[1], "ci_hi": old[2]}
    over = fs[fs["statistic"] == "overstatement_months"]
    f["frontier_overstatement_months"] = {
        f"{r['domain']}|{r['reference']}": _fs(r, "p") for _, r in over.iterrows()
    }
    rs = a.info["reliability"]
    f["reliability"] = {
        k: v for k, v in rs.items() if k not in {"benchmarks"} and not isinstance(v, pd.DataFrame)
    }
    if len(a.reliability_panel):
        f["reliability_panel"] = {
            r["cohort"]: {
                "median": float(r["median"]),
                "median_corrected": float(r["median_corrected"]),
                "spread": float(r["spread"]),
                "n_models": int(r["n_models"]),
            }
            for _, r in a.reliability_panel.iterrows()
        }
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
    f["claimed_by_benchmark"] = {
        r["benchmark"]: _fs(r, "q", "significant") for _, r in a.claimed_by_benchmark.iterrows()
    }
    f["claimed_by_organization"] = {
        r["organization"]: _fs(r, "q", "significant") for _, r in a.claimed_by_org.iterrows()
    }
    return f
