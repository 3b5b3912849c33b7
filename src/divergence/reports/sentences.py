"""Plain-language sentences generated from :attr:`Analysis.findings` (never written by hand)."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from divergence.analysis import AA_INDEX, BENCH_MEASURES, DOMAINS, Analysis

CATEGORY_NAMES = {
    "full": "overall",
    "hard_6": "hard prompts",
    "if": "instruction following",
    "long_user": "long queries",
    "creative_writing": "creative writing",
}


def short(cat: str) -> str:
    """Readable label of an arena category, benchmark measure or composite."""
    cat = str(cat).removeprefix("arena:")
    if cat.startswith("composite:"):
        dom = cat.removeprefix("composite:")
        cols = DOMAINS.get(dom, {}).get("benchmarks", [])
        return f"{dom} benchmarks ({', '.join(BENCH_MEASURES.get(c, c) for c in cols)})"
    for dom, spec in DOMAINS.items():
        if spec["category"] == cat:
            return dom
    if cat.startswith("industry_"):
        words = [w.replace("_", " ") for w in cat.removeprefix("industry_").split("_and_")]
        return "ind: " + (", ".join(words[:-1]) + " & " + words[-1] if len(words) > 1 else words[0])
    return CATEGORY_NAMES.get(cat, BENCH_MEASURES.get(cat, cat))


def _f(x: Any, digits: int) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "n/a"
    return f"{x:.{digits}f}"


def fmt_ci(
    d: dict[str, Any] | pd.Series, digits: int = 1, lo: str = "ci_lo", hi: str = "ci_hi"
) -> str:
    """``value [lo, hi]`` with ``digits`` decimals."""
    return f"{_f(d['value'], digits)} [{_f(d[lo], digits)}, {_f(d[hi], digits)}]"


def _sig(d: dict[str, Any]) -> bool:
    return bool(d.get("significant"))


def _lag(a: Analysis, measure: str) -> dict[str, Any] | None:
    return a.findings.get("frontier_mean_lag", {}).get(measure)


def headline_sentences(a: Analysis) -> list[str]:
    """The headline findings, one concept per sentence, each number with its CI and n."""
    f = a.findings
    out: list[str] = []
    dv = f["divergence"]
    p = f.get("predictor", {})
    if "walkforward_rmse" in p:
        out.append(
            f"The predictor (benchmarks + adoption) misses the arena rating of the "
            f"{dv['n_newest']} newest models by {p['walkforward_rmse']:.1f} "
            f"[{p['walkforward_rmse_ci_lo']:.1f}, {p['walkforward_rmse_ci_hi']:.1f}] points RMSE "
            f"out of time (Spearman {p.get('walkforward_spearman', float('nan')):.2f})."
        )
    out.append(
        f"Benchmark-implied ratings, out of time (refitted monthly on earlier models), miss by "
        f"{dv['implied_rmse_newest']:.1f} points RMSE on the same {dv['n_newest']} newest models "
        f"({dv['ratio_newest_to_main']:.2f}× the predictor) and by {dv['implied_rmse']:.1f} on all "
        f"{dv['n_models']} (drift by release quarter {dv['drift_min']:+.0f} to {dv['drift_max']:+.0f}; "
        f"{dv['implied_rmse_adj']:.1f} once removed, {dv['ratio_adj_to_main']:.2f}×)."
    )
    flagged = (
        f"{dv['n_flagged']} of {dv['n_eligible']} models with ≥ {dv['min_scores']} benchmark scores "
        f"diverge beyond arena noise plus the implied model's spread (BH, FDR 5%)"
    )
    ex = []
    if dv.get("most_underrated"):
        u = dv["most_underrated"]
        ex.append(
            f"most under-rated by benchmarks: {u['name']} ({u['divergence_adj']:+.0f} points)"
        )
    if dv.get("most_overrated"):
        o = dv["most_overrated"]
        ex.append(f"most over-rated: {o['name']} ({o['divergence_adj']:+.0f})")
    out.append(flagged + (": " + "; ".join(ex) if ex else "") + ".")
    out.append(open_closed_sentence(a))
    lag = _lag(a, "arena:full")
    if lag:
        old = f["frontier_lag_old_interval"]
        lags = {m: _lag(a, m) for m in BENCH_MEASURES}
        parts = [f"{BENCH_MEASURES[m]} {fmt_ci(v)}" for m, v in lags.items() if v is not None]
        out.append(
            f"Since {a.frontier_summary.attrs.get('since', '2024Q1')} the best open-weight model "
            f"trailed the best closed one on the overall arena by {fmt_ci(lag)} months "
            f"({lag['n']} quarters, block bootstrap; quarters resampled independently gave "
            f"[{old['ci_lo']:.1f}, {old['ci_hi']:.1f}]), versus {', '.join(parts)} months on benchmarks."
        )
    rs = f.get("reliability", {})
    if rs.get("first"):
        mc, mr = rs["median_change_corrected"], rs["median_change"]
        verdict = "holds" if rs.get("weakening_holds") else "does not hold"
        out.append(
            f"“Benchmarks grow less reliable” {verdict} on our data: on a fixed panel of "
            f"{rs['n_benchmarks']} benchmarks the median Spearman with the arena changed by "
            f"{fmt_ci(mr, 2)} from {rs['first']} to {rs['last']} and by {fmt_ci(mc, 2)} after "
            f"correcting for the shrinking rating spread; {rs['declines_bh_corrected']} benchmarks "
            f"decline and {rs['increases_bh_corrected']} increase significantly (BH)."
        )
    sat = f.get("saturated_benchmarks_latest_cohort", {})
    if sat:
        out.append(
            "Saturated benchmarks (≥ 25% of their latest cohort within 5% of the ceiling): "
            + ", ".join(f"{b} {v['saturation']:.0%} ({v['cohort']})" for b, v in sat.items())
            + "."
        )
    ca = f.get("claimed_minus_independent_points", {})
    if ca.get("n"):
        by = f.get("claimed_by_benchmark", {})
        top = max(by.items(), key=lambda kv: kv[1]["value"]) if by else None
        out.append(
            f"Vendor-claimed scores exceed independent runs by {fmt_ci(ca)} points on average "
            f"({ca['n']} pairs, {ca['n_models']} models, median {ca['median']:.1f})"
            + (f"; largest on {top[0]}: {fmt_ci(top[1])}." if top else ".")
        )
    return out


def open_closed_sentence(a: Analysis) -> str:
    """The answer to "where do benchmarks overstate open models?" with the numbers."""
    oc = a.open_closed
    if oc.empty:
        return "Open vs closed by domain: not enough rated open and closed models."
    parts = []
    for view, unit, where in [
        ("average", "points", "on average"),
        ("frontier", "months", "at the frontier"),
    ]:
        sub = oc[(oc["view"] == view) & (oc["domain"] != "overall")]
        pos = sub[sub["significant"] & (sub["value"] > 0)]
        neg = sub[sub["significant"] & (sub["value"] < 0)]
        ov = oc[(oc["view"] == view) & (oc["domain"] == "overall")]
        s = f"{where} ({unit}; overall {fmt_ci(ov.iloc[0])}" if len(ov) else f"{where} ({unit}"
        s += ")"
        if len(pos):
            s += " they overstate open models in " + ", ".join(
                f"{r['domain']} {fmt_ci(r)}" for _, r in pos.iterrows()
            )
        else:
            s += " no domain shows a significant overstatement"
        if len(neg):
            s += "; they understate them in " + ", ".join(
                f"{r['domain']} {fmt_ci(r)}" for _, r in neg.iterrows()
            )
        parts.append(s)
    return (
        "Do benchmarks overstate open models relative to the arena (> 0 = yes; BH over "
        f"{len(DOMAINS)} domains)? " + "; ".join(parts) + "."
    )


__all__ = ["AA_INDEX", "fmt_ci", "headline_sentences", "open_closed_sentence", "short"]
