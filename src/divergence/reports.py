"""The divergence report: PNG figures, one self-contained HTML page, MLflow artifacts.

:func:`write_report` runs :func:`divergence.analysis.analyse` on a loaded snapshot and
writes, atomically (a failure leaves the previous report untouched), into ``out_dir``:

- ``report.html``: every section with its figures embedded as base64 PNG and its tables;
  the headline sentences are generated from the computed numbers, never written by hand;
- ``*.png``: the figures (matplotlib, Agg);
- ``findings.json``: the headline numbers with their 95% intervals (the README quotes it);
- ``tables/*.csv``: the full tables behind the figures.

``out_dir`` is replaced as a whole, so it must be absent, empty, or a previous report
(holding ``findings.json`` and ``report.html``); anything else is refused.

With ``log_to_mlflow``, the files are logged as artifacts under ``report/`` and the
numeric findings as metrics ``report.<path>`` to the active MLflow run, or to a new run
of experiment ``divergence-report`` in the current tracking URI when none is active.
"""

from __future__ import annotations

import base64
import contextlib
import html
import json
import math
import os
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from divergence.analysis import AA_INDEX, BENCH_MEASURES, ECI, FACTOR, Analysis, analyse
from divergence.atomic import atomic_dir
from divergence.errors import DivergenceError

MARKERS = ("findings.json", "report.html")
EXPERIMENT = "divergence-report"
DPI = 110
OPEN_C, CLOSED_C, UNKNOWN_C, ARENA_C = "#d95f02", "#1b9e77", "#999999", "#333333"
MEASURE_COLORS = {AA_INDEX: "#7570b3", FACTOR: "#e7298a", ECI: "#66a61e"}


# ---------------------------------------------------------------------------- small helpers


def short(cat: str) -> str:
    """Readable label of an arena category or measure."""
    cat = cat.removeprefix("arena:")
    if cat.startswith("industry_"):
        words = [w.replace("_", " ") for w in cat.removeprefix("industry_").split("_and_")]
        return "ind: " + (", ".join(words[:-1]) + " & " + words[-1] if len(words) > 1 else words[0])
    return {
        "full": "overall",
        "hard_6": "hard prompts",
        "if": "instruction following",
        "long_user": "long queries",
        "creative_writing": "creative writing",
    }.get(cat, BENCH_MEASURES.get(cat, cat))


def fmt_ci(d: dict[str, Any] | pd.Series, digits: int = 1) -> str:
    """``value [lo, hi]`` with ``digits`` decimals."""

    def f(x: Any) -> str:
        return (
            "n/a"
            if x is None or (isinstance(x, float) and not math.isfinite(x))
            else f"{x:.{digits}f}"
        )

    return f"{f(d['value'])} [{f(d['ci_lo'])}, {f(d['ci_hi'])}]"


def _jsonable(x: Any) -> Any:
    """Strict-JSON version of ``x`` (NaN/inf -> None, numpy scalars -> Python)."""
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_jsonable(v) for v in x]
    if isinstance(x, np.generic):
        x = x.item()
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, pd.Timestamp):
        return str(x.date())
    return x


def flatten_metrics(findings: dict[str, Any], prefix: str = "report") -> dict[str, float]:
    """Numeric leaves of ``findings`` as MLflow metric names (``report.a.b``), finite only."""
    out: dict[str, float] = {}

    def walk(obj: Any, path: str) -> None:
        if isinstance(obj, dict):
            for k, v in obj.items():
                walk(v, f"{path}.{re.sub(r'[^A-Za-z0-9_.-]+', '_', str(k))}")
        elif isinstance(obj, bool):
            return
        elif isinstance(obj, int | float | np.integer | np.floating) and math.isfinite(float(obj)):
            out[path[:250]] = float(obj)

    walk(findings, prefix)
    return out


def _new_fig(w: float, h: float):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(w, h), dpi=DPI)
    return fig


def _save(fig, path: Path) -> Path:
    fig.savefig(path, format="png", dpi=DPI, bbox_inches="tight", metadata={"Software": None})
    return path


def _group_color(v: float) -> str:
    return OPEN_C if v == 1.0 else CLOSED_C if v == 0.0 else UNKNOWN_C


def _legend_handles(ax) -> None:
    from matplotlib.lines import Line2D

    hs = [
        Line2D([], [], marker="o", ls="", color=c, label=lab)
        for c, lab in [(OPEN_C, "open weights"), (CLOSED_C, "closed"), (UNKNOWN_C, "unknown")]
    ]
    ax.legend(handles=hs, loc="lower right", fontsize=8, frameon=False)


def _label(a: Analysis, mid: str) -> str:
    d = a.divergence
    name = d["display_name"].get(mid) if mid in d.index else None
    return str(name) if isinstance(name, str) and name else mid


# ---------------------------------------------------------------------------- figures


def fig_divergence_scatter(a: Analysis, path: Path) -> Path:
    """Actual vs benchmark-implied overall rating, flagged models labelled."""
    d = a.divergence
    fig = _new_fig(7.5, 6.5)
    ax = fig.add_subplot()
    ax.scatter(
        d["implied"],
        d["actual"],
        s=16,
        c=[_group_color(v) for v in d["open_weights"]],
        alpha=0.8,
        edgecolors="none",
    )
    lo = float(np.nanmin([d["implied"].min(), d["actual"].min()])) - 10
    hi = float(np.nanmax([d["implied"].max(), d["actual"].max()])) + 10
    ax.plot([lo, hi], [lo, hi], color="k", lw=0.8, ls="--", label="actual = implied")
    s = float(d["oof_spread"].iloc[0]) if len(d) else 0.0
    ax.fill_between(
        [lo, hi],
        [lo - 1.96 * s, hi - 1.96 * s],
        [lo + 1.96 * s, hi + 1.96 * s],
        color="k",
        alpha=0.06,
        lw=0,
    )
    for mid, r in d[d["flagged"]].iterrows():
        ax.annotate(
            _label(a, mid),
            (r["implied"], r["actual"]),
            fontsize=7,
            xytext=(3, 3),
            textcoords="offset points",
        )
    ax.set_xlabel("benchmark-implied rating (out-of-fold, benchmarks-only model)")
    ax.set_ylabel("actual arena rating (style control, overall)")
    ax.set_title(
        f"Arena vs benchmarks: {len(d)} models, {int(d['flagged'].sum())} flagged\n"
        f"(grey band: ±1.96 × out-of-fold spread = ±{1.96 * s:.0f} points)",
        fontsize=10,
    )
    _legend_handles(ax)
    return _save(fig, path)


def fig_divergence_top(a: Analysis, path: Path, k: int = 8) -> Path:
    """Most under- and over-rated models by benchmarks, open and closed side by side."""
    d = a.divergence
    fig = _new_fig(12, 6.5)
    for j, (flag, title) in enumerate([(1.0, "open weights"), (0.0, "closed")]):
        ax = fig.add_subplot(1, 2, j + 1)
        sub = d[d["open_weights"] == flag].sort_values("divergence", kind="mergesort")
        pick = pd.concat([sub.head(k), sub.tail(k)]) if len(sub) > 2 * k else sub
        y = np.arange(len(pick))
        colors = ["#c0392b" if v < 0 else "#2874a6" for v in pick["divergence"]]
        ax.barh(y, pick["divergence"], color=colors, alpha=0.85)
        ax.errorbar(
            pick["divergence"],
            y,
            xerr=[pick["divergence"] - pick["ci_lo"], pick["ci_hi"] - pick["divergence"]],
            fmt="none",
            ecolor="k",
            elinewidth=0.7,
            capsize=2,
        )
        ax.set_yticks(
            y,
            [
                _label(a, m) + (" *" if f else "")
                for m, f in zip(pick.index, pick["flagged"], strict=True)
            ],
            fontsize=7.5,
        )
        ax.axvline(0, color="k", lw=0.8)
        ax.set_xlabel("actual − benchmark-implied (rating points)")
        ax.set_title(
            f"{title}: most over-rated (red) / under-rated (blue) by benchmarks", fontsize=9.5
        )
    fig.suptitle(
        "Divergence with 95% band (arena CI ⊕ out-of-fold spread); * = flagged", fontsize=10
    )
    fig.tight_layout()
    return _save(fig, path)


def fig_divergence_trend(a: Analysis, path: Path) -> Path:
    """Mean divergence per half-year release cohort (all, open, closed)."""
    t = a.divergence_trend
    fig = _new_fig(8, 4.5)
    ax = fig.add_subplot()
    cohorts = sorted(t["cohort"].unique())
    x = np.arange(len(cohorts))
    for off, (grp, color) in zip(
        [-0.2, 0, 0.2], [("open", OPEN_C), ("all", ARENA_C), ("closed", CLOSED_C)], strict=True
    ):
        g = t[t["group"] == grp].set_index("cohort").reindex(cohorts)
        ax.errorbar(
            x + off,
            g["value"],
            yerr=[g["value"] - g["ci_lo"], g["ci_hi"] - g["value"]],
            fmt="o",
            color=color,
            capsize=3,
            label=grp,
        )
    ax.axhline(0, color="k", lw=0.8)
    ax.set_xticks(x, cohorts)
    ax.set_ylabel("mean actual − implied (points)")
    ax.set_title("Is it getting worse? Mean divergence by release half-year (95% CI)", fontsize=10)
    ax.legend(fontsize=8, frameon=False)
    return _save(fig, path)


def fig_open_closed_categories(a: Analysis, path: Path) -> Path:
    """Open minus closed mean divergence per arena category (forest plot)."""
    oc = a.open_closed[a.open_closed["group"] == "open_minus_closed"].iloc[::-1]
    fig = _new_fig(8, 0.38 * len(oc) + 1.5)
    ax = fig.add_subplot()
    y = np.arange(len(oc))
    sig = (oc["ci_hi"] < 0) | (oc["ci_lo"] > 0)
    ax.errorbar(
        oc["value"],
        y,
        xerr=[oc["value"] - oc["ci_lo"], oc["ci_hi"] - oc["value"]],
        fmt="none",
        ecolor="k",
        elinewidth=0.8,
        capsize=2,
    )
    ax.scatter(oc["value"], y, c=["#c0392b" if s else "#555555" for s in sig], zorder=3, s=22)
    ax.set_yticks(y, [short(c) for c in oc["category"]], fontsize=8)
    ax.axvline(0, color="k", lw=0.8)
    ax.set_xlabel("open − closed mean divergence (points); < 0: benchmarks overstate open models")
    ax.set_title(
        "Do benchmarks overstate open models? (all rated models, 95% CI; red = CI excludes 0)",
        fontsize=9.5,
    )
    return _save(fig, path)


def _frontier_series(a: Analysis, measure: str, col: str) -> pd.DataFrame:
    f = a.frontier[a.frontier["measure"] == measure].set_index("quarter")
    return f


def fig_frontier(a: Analysis, path: Path) -> Path:
    """Open vs closed frontier gap per quarter: months of lag and rating points."""
    fig = _new_fig(12, 4.8)
    ax1, ax2 = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    arena = _frontier_series(a, "arena:full", "lag_months")
    quarters = list(arena.index)
    x = np.arange(len(quarters))
    ax1.plot(x, arena["lag_months"], color=ARENA_C, marker="o", label="arena (overall)")
    cens = arena["lag_censored"].fillna(False).astype(bool).to_numpy()
    ax1.scatter(
        x[cens],
        arena["lag_months"].to_numpy(dtype=float)[cens],
        s=60,
        facecolors="white",
        edgecolors=ARENA_C,
        zorder=4,
        label="censored (lower bound)",
    )
    ax1.fill_between(
        x,
        arena["lag_ci_lo"].astype(float),
        arena["lag_ci_hi"].astype(float),
        color=ARENA_C,
        alpha=0.15,
        lw=0,
    )
    ax2.plot(x, arena["gap"], color=ARENA_C, marker="o", label="arena (overall)")
    ax2.fill_between(
        x,
        arena["gap_ci_lo"].astype(float),
        arena["gap_ci_hi"].astype(float),
        color=ARENA_C,
        alpha=0.15,
        lw=0,
    )
    for m, lab in BENCH_MEASURES.items():
        b = _frontier_series(a, m, "lag_months").reindex(quarters)
        c = MEASURE_COLORS[m]
        ax1.plot(x, b["lag_months"].astype(float), color=c, marker="s", ms=4, ls="--", label=lab)
        bc = b["lag_censored"].fillna(False).astype(bool).to_numpy()
        ax1.scatter(
            x[bc],
            b["lag_months"].to_numpy(dtype=float)[bc],
            s=30,
            marker="s",
            facecolors="white",
            edgecolors=c,
            zorder=4,
        )
        ax2.plot(
            x,
            b["gap_rating_points"].astype(float),
            color=c,
            marker="s",
            ms=4,
            ls="--",
            label=f"{lab} (in rating points)",
        )
        ax2.fill_between(
            x,
            b["gap_rating_points_ci_lo"].astype(float),
            b["gap_rating_points_ci_hi"].astype(float),
            color=c,
            alpha=0.10,
            lw=0,
        )
    for ax in (ax1, ax2):
        ax.set_xticks(x, quarters, rotation=45, fontsize=8)
        ax.grid(alpha=0.3)
    ax1.axhline(0, color="k", lw=0.8)
    ax1.set_ylabel("months open trails closed (< 0: open leads)")
    ax1.set_title("Months of lag: best open vs best closed (released by quarter end)", fontsize=9.5)
    ax2.axhline(0, color="k", lw=0.8)
    ax2.set_ylabel("best open − best closed (rating points)")
    ax2.set_title("Gap in rating points (benchmarks converted by OLS slope)", fontsize=9.5)
    ax1.legend(fontsize=8, frameon=False)
    ax2.legend(fontsize=8, frameon=False)
    fig.tight_layout()
    return _save(fig, path)


def fig_frontier_domains(a: Analysis, path: Path, reference: str = AA_INDEX) -> Path:
    """Overstatement of open models by a benchmark measure per arena category."""
    fs = a.frontier_summary
    fig = _new_fig(12, 0.36 * len(a.info.get("categories", [])) + 1.8)
    for j, (stat, xlabel) in enumerate(
        [
            ("overstatement_months", "arena lag − benchmark lag (months)"),
            ("overstatement_points", "benchmark gap − arena gap (rating points)"),
        ]
    ):
        ax = fig.add_subplot(1, 2, j + 1)
        sub = fs[(fs["statistic"] == stat) & (fs["reference"] == reference)].iloc[::-1]
        y = np.arange(len(sub))
        sig = (sub["ci_hi"] < 0) | (sub["ci_lo"] > 0)
        ax.errorbar(
            sub["value"],
            y,
            xerr=[sub["value"] - sub["ci_lo"], sub["ci_hi"] - sub["value"]],
            fmt="none",
            ecolor="k",
            elinewidth=0.8,
            capsize=2,
        )
        ax.scatter(sub["value"], y, c=["#c0392b" if s else "#555555" for s in sig], zorder=3, s=22)
        ax.set_yticks(y, [short(m) for m in sub["measure"]], fontsize=8)
        ax.axvline(0, color="k", lw=0.8)
        ax.set_xlabel(f"{xlabel}; > 0: benchmarks overstate open")
    fig.suptitle(
        f"Frontier overstatement of open models by the {BENCH_MEASURES[reference]}, per arena category "
        "(mean over quarters since 2024Q1, 95% CI; red = excludes 0)",
        fontsize=10,
    )
    fig.tight_layout()
    return _save(fig, path)


def fig_reliability_heatmap(a: Analysis, path: Path) -> Path:
    """Spearman with the arena per benchmark and half-year cohort."""
    r = a.reliability
    piv = r.pivot(index="benchmark", columns="cohort", values="spearman")
    piv = piv.loc[:, [c for c in sorted(piv.columns) if piv[c].notna().any()]]
    fig = _new_fig(1.0 * piv.shape[1] + 4, 0.28 * piv.shape[0] + 1.8)
    ax = fig.add_subplot()
    im = ax.imshow(piv.to_numpy(dtype=float), cmap="RdYlGn", vmin=-0.2, vmax=1.0, aspect="auto")
    ax.set_xticks(np.arange(piv.shape[1]), piv.columns, fontsize=8)
    ax.set_yticks(np.arange(piv.shape[0]), piv.index, fontsize=7.5)
    vals = piv.to_numpy(dtype=float)
    for i in range(vals.shape[0]):
        for j in range(vals.shape[1]):
            if np.isfinite(vals[i, j]):
                ax.text(j, i, f"{vals[i, j]:.2f}", ha="center", va="center", fontsize=6.5)
    fig.colorbar(im, ax=ax, fraction=0.03, pad=0.02, label="Spearman with arena rating")
    ax.set_title(
        "Benchmark reliability by release half-year (cohorts with ≥ 10 rated models)", fontsize=10
    )
    return _save(fig, path)


def fig_reliability_trend(a: Analysis, path: Path) -> Path:
    """Spearman with CI for the main benchmarks, and saturation, by cohort."""
    r = a.reliability
    cohorts = sorted(r.loc[r["spearman"].notna(), "cohort"].unique())
    x = np.arange(len(cohorts))
    fig = _new_fig(12, 4.8)
    ax1, ax2 = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    main = [
        b
        for b in [AA_INDEX, "aa.gpqa", "aa.mmlu_pro", "aa.livecodebench", "aa.hle", ECI]
        if b in set(r["benchmark"])
    ]
    for i, b in enumerate(main):
        g = r[r["benchmark"] == b].set_index("cohort").reindex(cohorts)
        off = (i - len(main) / 2) * 0.06
        ax1.errorbar(
            x + off,
            g["spearman"],
            yerr=[g["spearman"] - g["ci_lo"], g["ci_hi"] - g["spearman"]],
            marker="o",
            ms=4,
            capsize=2,
            label=b,
        )
    ax1.set_xticks(x, cohorts)
    ax1.set_ylabel("Spearman with arena rating (95% CI)")
    ax1.set_title("Rank agreement with the arena, per release cohort", fontsize=9.5)
    ax1.axhline(0, color="k", lw=0.6)
    ax1.legend(fontsize=7, frameon=False)
    sat = r.dropna(subset=["saturation"])
    top = sat.groupby("benchmark")["saturation"].max().sort_values(ascending=False)
    top = list(top[top > 0].index[:8])
    all_c = sorted(sat["cohort"].unique())
    x2 = np.arange(len(all_c))
    for b in top:
        g = sat[sat["benchmark"] == b].set_index("cohort").reindex(all_c)
        ax2.plot(x2, g["saturation"], marker="o", ms=4, label=b)
    ax2.set_xticks(x2, all_c, rotation=45, fontsize=8)
    ax2.set_ylim(-0.02, 1.02)
    ax2.set_ylabel("share of models within 5% of the ceiling")
    ax2.set_title(
        "Saturation by release cohort (benchmarks that reach their ceiling)", fontsize=9.5
    )
    if top:
        ax2.legend(fontsize=7, frameon=False)
    fig.tight_layout()
    return _save(fig, path)


def fig_claimed(a: Analysis, path: Path) -> Path:
    """Claimed minus independent score per organisation and per benchmark."""
    fig = _new_fig(12, 4.8)
    for j, (tab, key, title) in enumerate(
        [
            (a.claimed_by_org, "organization", "per organisation"),
            (a.claimed_by_benchmark, "benchmark", "per benchmark"),
        ]
    ):
        ax = fig.add_subplot(1, 2, j + 1)
        t = tab.iloc[::-1]
        y = np.arange(len(t))
        ax.errorbar(
            t["value"],
            y,
            xerr=[(t["value"] - t["ci_lo"]).fillna(0), (t["ci_hi"] - t["value"]).fillna(0)],
            fmt="o",
            color="#444444",
            capsize=2,
        )
        ax.set_yticks(y, [f"{k} (n={n})" for k, n in zip(t[key], t["n"], strict=True)], fontsize=8)
        ax.axvline(0, color="k", lw=0.8)
        ax.set_xlabel("vendor-claimed − independent (points, 0-100 scale)")
        ax.set_title(f"Claimed vs independent, {title} (95% CI, models resampled)", fontsize=9.5)
    fig.tight_layout()
    return _save(fig, path)


FIGURES = [
    ("divergence_scatter.png", fig_divergence_scatter),
    ("divergence_top.png", fig_divergence_top),
    ("divergence_trend.png", fig_divergence_trend),
    ("open_closed_by_category.png", fig_open_closed_categories),
    ("frontier_gap.png", fig_frontier),
    ("frontier_domains.png", fig_frontier_domains),
    ("reliability_heatmap.png", fig_reliability_heatmap),
    ("reliability_trend.png", fig_reliability_trend),
    ("claimed_vs_independent.png", fig_claimed),
]


# ---------------------------------------------------------------------------- text


def _verdict(st: dict[str, Any], neg: str, pos: str) -> str:
    if st["ci_hi"] is not None and math.isfinite(st["ci_hi"]) and st["ci_hi"] < 0:
        return neg
    if st["ci_lo"] is not None and math.isfinite(st["ci_lo"]) and st["ci_lo"] > 0:
        return pos
    return "no difference distinguishable from noise"


def headline_sentences(a: Analysis) -> list[str]:
    """Plain-language headline findings, generated from :attr:`Analysis.findings`."""
    f = a.findings
    out = []
    dv = f["divergence"]
    out.append(
        f"Out of fold, the benchmarks-only model misses the overall arena rating by {dv['rmse_points']:.0f} "
        f"points RMSE on {dv['n_models']} models (robust spread {dv['oof_spread_points']:.0f}); "
        f"{dv['n_flagged']} models diverge beyond arena noise plus that spread; most under-rated by "
        f"benchmarks: {_label(a, dv['most_underrated_by_benchmarks'])}, most over-rated: "
        f"{_label(a, dv['most_overrated_by_benchmarks'])}."
    )
    oc = f["open_minus_closed_divergence"]
    if "full (xgboost)" in oc:
        st = oc["full (xgboost)"]
        out.append(
            f"Open minus closed mean divergence (overall): {fmt_ci(st)} points: "
            f"{_verdict(st, 'benchmarks overstate open models', 'benchmarks understate open models')}."
        )
    sig_over = [
        c
        for c, st in oc.items()
        if st["ci_hi"] is not None and math.isfinite(st["ci_hi"]) and st["ci_hi"] < 0
    ]
    sig_under = [
        c
        for c, st in oc.items()
        if st["ci_lo"] is not None and math.isfinite(st["ci_lo"]) and st["ci_lo"] > 0
    ]
    out.append(
        "Categories where benchmarks overstate open models (open − closed divergence CI below 0): "
        + (", ".join(f"{short(c)} {fmt_ci(oc[c])}" for c in sig_over) or "none")
        + "; where they understate them: "
        + (", ".join(f"{short(c)} {fmt_ci(oc[c])}" for c in sig_under) or "none")
        + "."
    )
    fm = f.get("frontier_mean_since_2024", {})
    lag = {m: fm.get(f"{m}|mean_lag") for m in ["arena:full", *BENCH_MEASURES]}
    if lag["arena:full"]:
        parts = ", ".join(f"{BENCH_MEASURES[m]} {fmt_ci(lag[m])}" for m in BENCH_MEASURES if lag[m])
        out.append(
            f"Since 2024Q1 the best open-weight model trailed the best closed one by {fmt_ci(lag['arena:full'])} "
            f"months on the arena (overall), versus {parts} months on benchmarks."
        )
    ov = f.get("overstatement_by_benchmarks", {})
    for m in BENCH_MEASURES:
        mo, pt = ov.get(f"arena:full|{m}|months"), ov.get(f"arena:full|{m}|points")
        if mo and pt:
            out.append(
                f"Frontier overstatement of open models by the {BENCH_MEASURES[m]} (overall arena): "
                f"{fmt_ci(mo)} months, {fmt_ci(pt)} rating points ("
                f"{_verdict(mo, 'benchmarks understate open models', 'benchmarks overstate open models')})."
            )
    dom = [(k.split("|")[0], v) for k, v in ov.items() if k.endswith(f"|{AA_INDEX}|points")]
    sig = [
        (c, v)
        for c, v in dom
        if v["ci_lo"] is not None and math.isfinite(v["ci_lo"]) and v["ci_lo"] > 0
    ]
    out.append(
        "Arena categories where the AA index overstates open models at the frontier (points, CI above 0): "
        + (", ".join(f"{short(c)} {fmt_ci(v)}" for c, v in sig) or "none")
        + "."
    )
    med = f.get("reliability_median_spearman_by_cohort", {})
    if med:
        out.append(
            "Median Spearman of benchmarks with the arena by release cohort: "
            + ", ".join(f"{k} {v:.2f}" for k, v in sorted(med.items()))
            + f"; "
            f"{f['reliability_n_benchmarks_declining']} of {f['reliability_n_benchmarks']} benchmarks end "
            "with a latest-cohort CI entirely below their first-cohort value."
        )
    tr = f.get("reliability_trend", {}).get(AA_INDEX)
    if tr:
        out.append(
            f"AA intelligence index vs arena: Spearman {tr['first']:.2f} "
            f"[{tr['first_ci'][0]:.2f}, {tr['first_ci'][1]:.2f}] in {tr['first_cohort']} and {tr['last']:.2f} "
            f"[{tr['last_ci'][0]:.2f}, {tr['last_ci'][1]:.2f}] in {tr['last_cohort']}."
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


def _table(df: pd.DataFrame, digits: int = 1) -> str:
    """An HTML table with rounded floats."""
    d = df.copy()
    for c in d.columns:
        if pd.api.types.is_float_dtype(d[c]):
            d[c] = d[c].map(lambda v: "" if pd.isna(v) else f"{v:.{digits}f}")
        elif pd.api.types.is_datetime64_any_dtype(d[c]):
            d[c] = d[c].dt.strftime("%Y-%m-%d")
    return d.to_html(index=False, escape=True, border=0, classes="t", na_rep="")


def _img(path: Path, alt: str) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<figure><img alt="{html.escape(alt)}" src="data:image/png;base64,{data}"></figure>'


def _divergence_tables(a: Analysis, k: int = 10) -> str:
    d = a.divergence.reset_index()
    cols = [
        "display_name",
        "organization",
        "release_date",
        "actual",
        "implied",
        "divergence",
        "ci_lo",
        "ci_hi",
        "arena_half_width",
        "flagged",
    ]
    parts = []
    for flag, name in [(1.0, "open-weight"), (0.0, "closed")]:
        sub = d[d["open_weights"] == flag].sort_values(
            "divergence", ascending=False, kind="mergesort"
        )
        parts.append(
            f"<h3>{name}: most under-rated by benchmarks (arena higher)</h3>"
            + _table(sub[cols].head(k))
        )
        parts.append(
            f"<h3>{name}: most over-rated by benchmarks (arena lower)</h3>"
            + _table(sub[cols].tail(k).iloc[::-1])
        )
    return "\n".join(parts)


CSS = """body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;
color:#222;line-height:1.45}h1{font-size:1.6em}h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:2em}
figure{margin:1em 0}img{max-width:100%}table.t{border-collapse:collapse;font-size:.82em;margin:.5em 0 1.2em}
table.t th,table.t td{padding:.2em .5em;border-bottom:1px solid #eee;text-align:right}
table.t th{background:#f4f4f4}ul.find li{margin:.3em 0}.note{color:#555;font-size:.9em}"""


def render_html(a: Analysis, figs: dict[str, Path]) -> str:
    """The self-contained HTML report (figures embedded)."""
    info = a.info
    oc = a.open_closed.copy()
    oc["category"] = oc["category"].map(short)
    fr = a.frontier
    arena_full = fr[fr["measure"] == "arena:full"][
        [
            "quarter",
            "best_open",
            "best_open_value",
            "best_closed",
            "best_closed_value",
            "gap",
            "gap_ci_lo",
            "gap_ci_hi",
            "lag_months",
            "lag_ci_lo",
            "lag_ci_hi",
            "lag_censored",
        ]
    ]
    bench_rows = fr[fr["kind"] == "benchmark"].dropna(subset=["gap"])
    bench_tab = bench_rows[
        [
            "measure",
            "quarter",
            "best_open",
            "best_closed",
            "gap",
            "gap_rating_points",
            "gap_rating_points_ci_lo",
            "gap_rating_points_ci_hi",
            "lag_months",
            "lag_censored",
        ]
    ]
    side = fr.dropna(subset=["gap"]).pivot(index="quarter", columns="measure", values="lag_months")
    side = side[
        [
            c
            for c in ["arena:full", "arena:expert", "arena:coding", *BENCH_MEASURES]
            if c in side.columns
        ]
    ]
    side.columns = [short(c) for c in side.columns]
    fs = a.frontier_summary.copy()
    over = fs[fs["statistic"].str.startswith("overstatement")].copy()
    over["measure"] = over["measure"].map(short)
    over["reference"] = over["reference"].map(short)
    rel = a.reliability.pivot(index="benchmark", columns="cohort", values="spearman")
    sat = a.reliability.pivot(index="benchmark", columns="cohort", values="saturation").dropna(
        how="all"
    )
    sentences = "".join(f"<li>{html.escape(s)}</li>" for s in headline_sentences(a))

    def fig(name: str, alt: str) -> str:
        return _img(figs[name], alt) if name in figs else ""

    body = f"""<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">
<title>Divergence report: benchmarks vs the arena</title><style>{CSS}</style></head><body>
<h1>Where benchmarks and the arena part ways</h1>
<p class="note">Computed by <code>divergence report</code> from the snapshot (arena ratings until
{html.escape(str(info.get("ratings_until")))}; {info.get("n_rated")} rated models). Every interval is a 95% bootstrap
interval ({info.get("n_boot")} replicates, seed {info.get("seed")}). Arena = style-controlled rating.</p>
<h2 id="findings">Headline findings</h2><ul class="find">{sentences}</ul>

<h2 id="divergence">1. Divergence per model</h2>
<p class="note">Actual overall arena rating minus the benchmark-implied rating, predicted out of fold by the
benchmarks-only <code>UtilityRegressor</code> fitted on models released before the model's quarter (quarterly
expanding windows, ≥ {info.get("min_train")} training models). Band: arena 95% half-width combined with 1.96 × the
robust out-of-fold spread; flagged when the band excludes 0 (which implies beyond the arena noise floor).
Positive = the arena likes the model more than its benchmarks imply.</p>
{fig("divergence_scatter.png", "actual vs implied")}{fig("divergence_top.png", "top divergences")}
{_divergence_tables(a)}
{fig("divergence_trend.png", "divergence trend")}
<h3>Mean divergence per release half-year</h3>{_table(a.divergence_trend)}
<h3>Open vs closed, per arena category</h3>
<p class="note">Per category the benchmark-implied rating is the factor base margin (ridge on the general factor and
release date) fitted out of fold in the same way; the row "full (xgboost)" uses the full benchmarks-only model of the
table above. open_minus_closed &lt; 0: the arena rates open models lower, relative to their benchmarks, than closed
ones.</p>
{fig("open_closed_by_category.png", "open minus closed by category")}{_table(oc)}

<h2 id="open-closed">2. Open vs closed frontier per quarter</h2>
<p class="note">Best open-weight vs best closed model released by each quarter's end, among arena-rated models. Lag:
months since closed first reached the open frontier's level (negative when open leads). Arena CIs redraw ratings from
their 95% intervals; benchmark scores are taken as exact, their rating-point conversion (OLS slope of the overall arena
rating on the measure) carries a bootstrap CI. "Censored" lags hit the first model of the data and are lower bounds.</p>
{fig("frontier_gap.png", "frontier gap")}
<h3>Months of lag, side by side</h3>{_table(side.reset_index())}
<h3>Arena (overall)</h3>{_table(arena_full)}
<h3>Benchmarks</h3>{_table(bench_tab)}
<h3>Do benchmarks overstate open models, and where?</h3>
<p class="note">Mean over quarters since 2024Q1 of (arena lag − benchmark lag) in months and of (benchmark gap in
rating points − arena gap); &gt; 0 means the benchmark shows open models closer to the closed frontier than the arena
does. Intervals resample quarters together with arena noise and the conversion slope.</p>
{fig("frontier_domains.png", "overstatement by domain")}{_table(over, 2)}
<h3>Rating points per benchmark unit</h3>{_table(a.calibration, 2)}

<h2 id="reliability">3. Benchmark reliability over time</h2>
<p class="note">Spearman correlation of each benchmark with the overall arena rating within each half-year release
cohort (≥ 10 rated models), with bootstrap CIs; saturation = share of all models with the score in the cohort within
5% of the benchmark's ceiling (1, 10 or 100; none for unbounded indices and LiveBench z-scores).</p>
{fig("reliability_heatmap.png", "reliability heatmap")}{fig("reliability_trend.png", "reliability trend")}
<h3>Spearman by cohort</h3>{_table(rel.reset_index(), 2)}
<h3>Saturation by cohort</h3>{_table(sat.reset_index(), 2)}
<h3>All cells with CIs</h3>{_table(a.reliability.dropna(subset=["spearman"]), 2)}

<h2 id="claimed">4. Claimed vs independent</h2>
<p class="note">Vendor self-reported llm-stats scores minus independent runs (Artificial Analysis, Epoch, Aider,
SWE-bench bash-only) of the same benchmark on the same model (best over its reasoning-effort variants), 0-100 scale.
Intervals resample models. Organisations with fewer than 3 paired models are pooled as "other".</p>
{fig("claimed_vs_independent.png", "claimed vs independent")}
<h3>Per organisation</h3>{_table(a.claimed_by_org)}
<h3>Per benchmark</h3>{_table(a.claimed_by_benchmark)}
<h3>All pairs</h3>{_table(a.claimed.drop(columns=["open_weights"]))}
</body></html>
"""
    return body


# ---------------------------------------------------------------------------- writing


def _check_out_dir(out_dir: Path) -> None:
    if out_dir.exists():
        if not out_dir.is_dir():
            raise DivergenceError(f"{out_dir}: report output exists and is not a directory")
        entries = [p.name for p in out_dir.iterdir()]
        if entries and not all((out_dir / m).exists() for m in MARKERS):
            raise DivergenceError(
                f"{out_dir}: not empty and not a previous divergence report; "
                "refusing to replace it (choose another --out)"
            )


def write_files(a: Analysis, tmp: Path) -> dict[str, Any]:
    """Write figures, HTML, findings and tables into ``tmp``; return relative names."""
    figs: dict[str, Path] = {}
    for name, fn in FIGURES:
        figs[name] = fn(a, tmp / name)
    tables = tmp / "tables"
    tables.mkdir()
    frames = {
        "divergence": a.divergence.reset_index(),
        "divergence_trend": a.divergence_trend,
        "category_divergence": a.category_divergence.reset_index(),
        "open_closed": a.open_closed,
        "frontier": a.frontier,
        "frontier_summary": a.frontier_summary,
        "calibration": a.calibration,
        "reliability": a.reliability,
        "claimed_pairs": a.claimed,
        "claimed_by_org": a.claimed_by_org,
        "claimed_by_benchmark": a.claimed_by_benchmark,
    }
    for name, df in frames.items():
        df.to_csv(tables / f"{name}.csv", index=False, float_format="%.6g", lineterminator="\n")
    (tmp / "findings.json").write_text(
        json.dumps(_jsonable(a.findings), indent=1, sort_keys=True, allow_nan=False) + "\n"
    )
    (tmp / "report.html").write_text(render_html(a, figs), encoding="utf-8")
    (tmp / "headline.md").write_text(
        "".join(f"- {line}\n" for line in headline_sentences(a)), encoding="utf-8"
    )
    return {"figures": list(figs), "tables": [f"tables/{n}.csv" for n in frames]}


def log_to_mlflow_run(out_dir: Path, findings: dict[str, Any]) -> str:
    """Log the report directory and numeric findings to MLflow; return the run id."""
    import mlflow

    from divergence.config import default_tracking_uri

    run = mlflow.active_run()
    ctx: contextlib.AbstractContextManager
    if run is None:
        if not mlflow.tracking.is_tracking_uri_set():
            mlflow.set_tracking_uri(default_tracking_uri())
        if not os.environ.get("MLFLOW_EXPERIMENT_ID") and not os.environ.get("MLFLOW_RUN_ID"):
            mlflow.set_experiment(EXPERIMENT)
        ctx = mlflow.start_run(run_name="divergence-report")
    else:
        ctx = contextlib.nullcontext(run)
    with ctx as active:
        mlflow.log_artifacts(str(out_dir), artifact_path="report")
        items = sorted(flatten_metrics(findings).items())
        for i in range(0, len(items), 500):  # stay under the tracking store's batch limit
            mlflow.log_metrics(dict(items[i : i + 500]))
        return active.info.run_id


def render_report(a: Analysis, out_dir: str | Path, log_to_mlflow: bool = True) -> dict[str, Any]:
    """Write an analysed report to ``out_dir`` atomically (and log it to MLflow).

    Returns
    -------
    dict
        ``html`` (Path), ``figures`` (list of Path), ``findings`` (dict), ``findings_json``,
        ``tables`` (list of Path), ``dir`` (Path), ``run_id`` (str or None).
    """
    out_dir = Path(out_dir)
    _check_out_dir(out_dir)
    with atomic_dir(out_dir) as tmp:
        names = write_files(a, tmp)
    result: dict[str, Any] = {
        "html": out_dir / "report.html",
        "figures": [out_dir / n for n in names["figures"]],
        "findings": _jsonable(a.findings),
        "findings_json": out_dir / "findings.json",
        "tables": [out_dir / n for n in names["tables"]],
        "dir": out_dir,
        "run_id": None,
    }
    if log_to_mlflow:
        result["run_id"] = log_to_mlflow_run(out_dir, result["findings"])
    return result


def write_report(
    tables: dict[str, pd.DataFrame],
    out_dir: str | Path,
    log_to_mlflow: bool = True,
    n_boot: int = 1000,
    seed: int = 0,
) -> dict[str, Any]:
    """Analyse a snapshot and write the divergence report.

    Parameters
    ----------
    tables : dict of DataFrame
        :func:`divergence.snapshot.load_snapshot` output.
    out_dir : path
        Report directory (replaced atomically; must be absent, empty or a previous report).
    log_to_mlflow : bool
        Log the files and numeric findings to the active MLflow run (or a new run of
        experiment ``divergence-report`` in the current tracking URI).
    n_boot, seed : int
        Bootstrap replicates and seed of every interval.

    Returns
    -------
    dict
        See :func:`render_report`; ``findings`` holds the headline numbers with CIs.

    Raises
    ------
    DivergenceError
        On unusable input (e.g. an empty ratings table) or an unsafe ``out_dir``.
    """
    _check_out_dir(Path(out_dir))
    a = analyse(tables, n_boot=n_boot, seed=seed)
    return render_report(a, out_dir, log_to_mlflow=log_to_mlflow)


README_START = "<!-- findings:start (written by `divergence report --update-readme`) -->"
README_END = "<!-- findings:end -->"
README_FIGURES = [
    "frontier_gap.png",
    "divergence_top.png",
    "reliability_trend.png",
    "claimed_vs_independent.png",
]


def update_readme(report_dir: str | Path, readme: str | Path, figures_dir: str | Path) -> Path:
    """Replace the findings block of ``readme`` with a report's headline and key figures.

    The block between :data:`README_START` and :data:`README_END` is rewritten from
    ``headline.md``; :data:`README_FIGURES` are copied to ``figures_dir``.
    """
    from divergence.atomic import atomic_file

    report_dir, readme, figures_dir = Path(report_dir), Path(readme), Path(figures_dir)
    text = readme.read_text(encoding="utf-8")
    if README_START not in text or README_END not in text:
        raise DivergenceError(
            f"{readme}: findings markers not found ({README_START!r} ... {README_END!r})"
        )
    figures_dir.mkdir(parents=True, exist_ok=True)
    rel = figures_dir.resolve().relative_to(readme.resolve().parent)
    imgs = []
    for name in README_FIGURES:
        data = (report_dir / name).read_bytes()
        with atomic_file(figures_dir / name) as fh:
            fh.write(data)
        imgs.append(f"![{name[:-4].replace('_', ' ')}]({rel.as_posix()}/{name})")
    head = (report_dir / "headline.md").read_text(encoding="utf-8")
    block = f"{README_START}\n{head}\n" + "\n".join(imgs) + f"\n{README_END}"
    before, rest = text.split(README_START, 1)
    after = rest.split(README_END, 1)[1]
    with atomic_file(readme, "w") as fh:
        fh.write(before + block + after)
    return readme
