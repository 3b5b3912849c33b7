"""Sensitivity of the headline findings: drop one source, move a boundary, change a knob.

Each row re-computes one headline number under one variant (the baseline first), with its
interval and number of models, so the appendix shows whether a finding rests on one
source or one arbitrary boundary. Variants:

- per-model divergence and the average open-model overstatement: benchmarks of one source
  left out (``aa``, ``epoch``), refitted per quarter instead of per month (the variants
  are refitted per quarter too, so compare them with the quarterly row);
- frontier lag and its overstatement: averages from 2024Q3 instead of 2024Q1, block
  length 2 or 4 quarters;
- reliability trend: cohort boundary moved by three months, benchmarks of one source out
  (``aa``, ``epoch``, ``livebench``);
- claimed vs independent: one independent source out.

Sensitivity runs use a quarter of the bootstrap replicates (at least 200).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from divergence.analysis.claimed import claimed_vs_independent
from divergence.analysis.divergence import implied_error, model_divergence, open_overstatement
from divergence.analysis.frontier import frontier_tables
from divergence.analysis.reliability import reliability_cells, reliability_trend

SOURCES = ["aa", "epoch", "livebench"]
DIV_SOURCES = ["aa", "epoch"]
CLAIM_SOURCES = ["artificial-analysis", "epoch"]


def _drop(Xb: pd.DataFrame, prefix: str) -> pd.DataFrame:
    return Xb[[c for c in Xb.columns if not c.startswith(prefix + ".")]]


def _row(finding: str, variant: str, st: dict[str, Any], unit: str, **extra: Any) -> dict:
    return {
        "finding": finding,
        "variant": variant,
        "value": st.get("value", np.nan),
        "ci_lo": st.get("ci_lo", np.nan),
        "ci_hi": st.get("ci_hi", np.nan),
        "n": st.get("n", np.nan),
        "unit": unit,
        **extra,
    }


def sensitivity_table(
    tables: dict[str, pd.DataFrame],
    Xb: pd.DataFrame,
    params: dict[str, Any],
    factor: pd.Series,
    arena: pd.Series,
    release: pd.Series,
    n_boot: int,
    rng: np.random.Generator,
    min_train: int,
    seed: int,
) -> pd.DataFrame:
    """Headline numbers under each variant (module docstring); baseline rows first.

    Returns
    -------
    DataFrame
        ``finding``, ``variant``, ``value``, ``ci_lo``, ``ci_hi``, ``n``, ``unit`` and,
        for divergence rows, ``implied_rmse`` and ``n_flagged``.
    """
    nb = max(200, n_boot // 4)
    rows: list[dict] = []
    div_variants = [("quarterly refit", Xb)] + [
        (f"without {s}.*", _drop(Xb, s)) for s in DIV_SOURCES
    ]
    for name, X in div_variants:
        d = model_divergence(tables, X, "full", params, "Q", min_train, seed)
        err = implied_error(d)
        st, _ = open_overstatement(d, nb, rng)
        rows.append(
            _row(
                "open overstatement, average (overall)",
                name,
                st,
                "points",
                implied_rmse=err["rmse"],
                n_flagged=int(d["flagged"].sum()),
            )
        )
    for name, since, block in [
        ("since 2024Q3", "2024Q3", 3),
        ("block length 2", "2024Q1", 2),
        ("block length 4", "2024Q1", 4),
    ]:
        _, fs, _, _ = frontier_tables(
            tables, Xb, factor, ["full"], nb, rng, since, block, domains=False
        )
        for stat_name, ref, finding in [
            ("mean_lag", "", "frontier lag, arena (overall)"),
            (
                "overstatement_months",
                "aa.artificial_analysis_intelligence_index",
                "open overstatement at the frontier, AA index (overall)",
            ),
        ]:
            r = fs[
                (fs["measure"] == "arena:full")
                & (fs["statistic"] == stat_name)
                & (fs["reference"] == ref)
            ]
            if len(r):
                rows.append(
                    _row(finding, name, {str(k): v for k, v in r.iloc[0].items()}, "months")
                )
    rel_variants = [("cohorts shifted 3 months", Xb, 3)] + [
        (f"without {s}.*", _drop(Xb, s), 0) for s in SOURCES
    ]
    for name, X, shift in rel_variants:
        cells, reps = reliability_cells(arena, X, release, nb, rng, shift_months=shift)
        _, _, summ = reliability_trend(cells, reps, arena, X, release, nb, rng, shift)
        mc = summ.get("median_change_corrected")
        if mc:
            rows.append(
                _row(
                    "reliability: panel median Spearman change (corrected)",
                    f"{name} ({summ['first']}→{summ['last']}, {summ['n_benchmarks']} benchmarks)",
                    {**mc, "n": summ["n_benchmarks"]},
                    "Spearman",
                )
            )
    for src in CLAIM_SOURCES:
        _, _, _, overall = claimed_vs_independent(tables, nb, rng, exclude_source=src)
        rows.append(_row("claimed − independent (all pairs)", f"without {src}", overall, "points"))
    return pd.DataFrame(rows)
