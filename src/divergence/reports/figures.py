"""The report's figures (matplotlib, Agg, PNG); display names everywhere, few labels."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from divergence.analysis import AA_INDEX, BENCH_MEASURES, ECI, FACTOR, Analysis

DPI = 110
OPEN_C, CLOSED_C, UNKNOWN_C, ARENA_C = "#d95f02", "#1b9e77", "#999999", "#333333"
MEASURE_COLORS = {AA_INDEX: "#7570b3", FACTOR: "#e7298a", ECI: "#66a61e"}
SIG_C, NS_C = "#c0392b", "#555555"


def _new_fig(w: float, h: float):
    from matplotlib.figure import Figure

    return Figure(figsize=(w, h), dpi=DPI)


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


def place_labels(xy: np.ndarray, min_dy: float) -> np.ndarray:
    """Label y positions: sorted by y, pushed apart to at least ``min_dy`` (no overlap)."""
    order = np.argsort(xy[:, 1], kind="mergesort")
    ys = xy[order, 1].astype(float).copy()
    for i in range(1, len(ys)):
        ys[i] = max(ys[i], ys[i - 1] + min_dy)
    out = np.empty(len(ys))
    out[order] = ys
    return out


def fig_divergence_scatter(a: Analysis, path: Path, k: int = 10) -> Path:
    """Actual vs benchmark-implied overall rating; the ``k`` largest flagged models labelled."""
    d = a.divergence
    fig = _new_fig(8.5, 6.5)
    ax = fig.add_subplot()
    ax.scatter(
        d["implied"],
        d["actual"],
        s=[22 if e else 8 for e in d["eligible"]],
        c=[_group_color(v) for v in d["open_weights"]],
        alpha=0.8,
        edgecolors="none",
    )
    lo = float(np.nanmin([d["implied"].min(), d["actual"].min()])) - 10
    hi = float(np.nanmax([d["implied"].max(), d["actual"].max()])) + 10
    ax.plot([lo, hi], [lo, hi], color="k", lw=0.8, ls="--")
    fl = d[d["flagged"]].reindex(d.loc[d["flagged"], "divergence_adj"].abs().sort_values().index)
    fl = fl.iloc[::-1].head(k)
    if len(fl):
        xy = fl[["implied", "actual"]].to_numpy(dtype=float)
        ax.scatter(xy[:, 0], xy[:, 1], s=50, facecolors="none", edgecolors="k", lw=0.8)
        ly = place_labels(xy, (hi - lo) / 35)
        lx = hi - (hi - lo) * 0.02
        left = xy[:, 1] > xy[:, 0]
        for (x, y), yy, name, le in zip(xy, ly, fl.index, left, strict=True):
            tx = lo + (hi - lo) * 0.02 if le else lx
            ax.annotate(
                a.name(name),
                (x, y),
                xytext=(tx, yy),
                fontsize=7,
                ha="left" if le else "right",
                arrowprops={"arrowstyle": "-", "lw": 0.4, "color": "#777777"},
            )
    ax.set_xlabel("benchmark-implied rating (out of time, refitted monthly on earlier models)")
    ax.set_ylabel("actual arena rating (style control, overall)")
    ax.set_title(
        f"Arena vs benchmarks: {len(d)} models, {int(d['flagged'].sum())} flagged (circled; BH)\n"
        f"small dots: < {a.info['min_scores']} benchmark scores (never flagged)",
        fontsize=10,
    )
    _legend_handles(ax)
    return _save(fig, path)


def fig_divergence_top(a: Analysis, path: Path, k: int = 8) -> Path:
    """Largest drift-removed divergences among eligible models, open and closed side by side."""
    d = a.divergence[a.divergence["eligible"]]
    fig = _new_fig(12, 6.5)
    for j, (flag, title) in enumerate([(1.0, "open weights"), (0.0, "closed")]):
        ax = fig.add_subplot(1, 2, j + 1)
        sub = d[d["open_weights"] == flag].sort_values("divergence_adj", kind="mergesort")
        pick = pd.concat([sub.head(k), sub.tail(k)]) if len(sub) > 2 * k else sub
        y = np.arange(len(pick))
        colors = ["#c0392b" if v < 0 else "#2874a6" for v in pick["divergence_adj"]]
        ax.barh(y, pick["divergence_adj"], color=colors, alpha=0.85)
        ax.errorbar(
            pick["divergence_adj"],
            y,
            xerr=[pick["divergence_adj"] - pick["ci_lo"], pick["ci_hi"] - pick["divergence_adj"]],
            fmt="none",
            ecolor="k",
            elinewidth=0.7,
            capsize=2,
        )
        ax.set_yticks(
            y,
            [
                a.name(m) + (" *" if f else "")
                for m, f in zip(pick.index, pick["flagged"], strict=True)
            ],
            fontsize=7.5,
        )
        ax.axvline(0, color="k", lw=0.8)
        ax.set_xlabel("actual − implied − quarter mean (rating points)")
        ax.set_title(f"{title}: over-rated (red) / under-rated (blue) by benchmarks", fontsize=9.5)
    fig.suptitle(
        f"Drift-removed divergence, models with ≥ {a.info['min_scores']} scores; 95% band = arena "
        "noise ⊕ implied spread; * = flagged (BH)",
        fontsize=10,
    )
    fig.tight_layout()
    return _save(fig, path)


def fig_drift(a: Analysis, path: Path) -> Path:
    """Mean raw divergence by release quarter (the forecast drift) for all, open, closed."""
    t = a.drift
    fig = _new_fig(9, 4.5)
    ax = fig.add_subplot()
    qs = sorted(t["quarter"].unique())
    x = np.arange(len(qs))
    for off, (grp, color) in zip(
        [-0.2, 0, 0.2], [("open", OPEN_C), ("all", ARENA_C), ("closed", CLOSED_C)], strict=True
    ):
        g = t[t["group"] == grp].set_index("quarter").reindex(qs)
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
    ax.set_xticks(x, qs, rotation=45, fontsize=8)
    ax.set_ylabel("mean actual − implied (points)")
    ax.set_title(
        "Forecast drift: mean divergence by release quarter (95% CI); removed from d_adj",
        fontsize=10,
    )
    ax.legend(fontsize=8, frameon=False)
    return _save(fig, path)


def _forest(ax, sub: pd.DataFrame, labels: list[str], xlabel: str) -> None:
    y = np.arange(len(sub))
    ax.errorbar(
        sub["value"],
        y,
        xerr=[
            (sub["value"] - sub["adj_lo"]).clip(lower=0),
            (sub["adj_hi"] - sub["value"]).clip(lower=0),
        ],
        fmt="none",
        ecolor="k",
        elinewidth=0.8,
        capsize=2,
    )
    ax.scatter(
        sub["value"], y, c=[SIG_C if s else NS_C for s in sub["significant"]], zorder=3, s=26
    )
    ax.set_yticks(y, labels, fontsize=8.5)
    ax.axvline(0, color="k", lw=0.8)
    ax.set_xlabel(xlabel, fontsize=8.5)


def fig_open_closed_domains(a: Analysis, path: Path) -> Path:
    """Benchmarks' overstatement of open models per domain: on average and at the frontier."""
    oc = a.open_closed
    fig = _new_fig(12, 4.6)
    for j, (view, xlabel) in enumerate(
        [
            ("average", "closed − open drift-removed divergence (points)"),
            ("frontier", "arena lag − benchmark lag of open models (months)"),
        ]
    ):
        ax = fig.add_subplot(1, 2, j + 1)
        sub = oc[oc["view"] == view].iloc[::-1].copy()
        ov = sub["domain"] == "overall"
        sub.loc[ov, ["adj_lo", "adj_hi"]] = sub.loc[ov, ["ci_lo", "ci_hi"]].to_numpy()
        labels = [f"{d} (n={int(n)})" for d, n in zip(sub["domain"], sub["n_models"], strict=True)]
        _forest(ax, sub, labels, xlabel + "; > 0: benchmarks overstate open")
        ax.set_title(f"{view} (FCR-adjusted CIs; red = significant, BH)", fontsize=9.5)
    fig.suptitle(
        "Where do benchmarks overstate open-weight models relative to the arena?", fontsize=10.5
    )
    fig.tight_layout()
    return _save(fig, path)


def fig_frontier(a: Analysis, path: Path) -> Path:
    """Open vs closed frontier per quarter: months of lag and gap in rating points."""
    fig = _new_fig(12, 4.8)
    ax1, ax2 = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    fr = a.frontier
    arena = fr[fr["measure"] == "arena:full"].set_index("quarter")
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
        b = fr[fr["measure"] == m].set_index("quarter").reindex(quarters)
        c = MEASURE_COLORS[m]
        ax1.plot(x, b["lag_months"].astype(float), color=c, marker="s", ms=4, ls="--", label=lab)
        ax2.plot(
            x,
            b["gap_rating_points"].astype(float),
            color=c,
            marker="s",
            ms=4,
            ls="--",
            label=f"{lab} (rating points)",
        )
    for ax in (ax1, ax2):
        ax.set_xticks(x, quarters, rotation=45, fontsize=8)
        ax.grid(alpha=0.3)
        ax.axhline(0, color="k", lw=0.8)
        ax.legend(fontsize=8, frameon=False)
    ax1.set_ylabel("months open trails closed (< 0: open leads)")
    ax1.set_title("Months of lag: best open vs best closed (released by quarter end)", fontsize=9.5)
    ax2.set_ylabel("best open − best closed (rating points)")
    ax2.set_title("Gap in rating points (benchmarks converted by OLS slope)", fontsize=9.5)
    fig.tight_layout()
    return _save(fig, path)


def fig_frontier_domains(a: Analysis, path: Path) -> Path:
    """Mean lag of open models per domain: arena board vs benchmark composite (block-bootstrap CIs)."""
    fs = a.frontier_summary
    lag = fs[fs["statistic"] == "mean_lag"]
    doms = [d for d in ["overall", *a.info.get("domains", [])] if d in set(lag["domain"])]
    fig = _new_fig(10, 0.55 * len(doms) + 1.8)
    ax = fig.add_subplot()
    y = np.arange(len(doms))[::-1]
    for off, kind, color, lab in [
        (0.17, "arena", ARENA_C, "arena board"),
        (-0.17, "bench", MEASURE_COLORS[AA_INDEX], "benchmark composite (overall: AA index)"),
    ]:
        vals, los, his = [], [], []
        for dom in doms:
            sub = lag[lag["domain"] == dom]
            if kind == "arena":
                r = sub[sub["measure"].str.startswith("arena:")]
                r = r[r["measure"] == "arena:full"] if dom == "overall" else r
            else:
                r = (
                    sub[sub["measure"] == AA_INDEX]
                    if dom == "overall"
                    else sub[sub["measure"].str.startswith("composite:")]
                )
            r = r.iloc[0] if len(r) else None
            vals.append(np.nan if r is None else r["value"])
            los.append(np.nan if r is None else r["ci_lo"])
            his.append(np.nan if r is None else r["ci_hi"])
        v, lo_, hi_ = np.array(vals), np.array(los), np.array(his)
        ax.errorbar(v, y + off, xerr=[v - lo_, hi_ - v], fmt="o", color=color, capsize=2, label=lab)
    ax.set_yticks(y, doms, fontsize=9)
    ax.axvline(0, color="k", lw=0.8)
    ax.set_xlabel(
        f"months open trails closed, mean since {fs.attrs.get('since', '2024Q1')} (95% block-bootstrap CI)"
    )
    ax.set_title("Lag of open-weight models per domain: arena vs benchmarks", fontsize=10)
    ax.legend(fontsize=8, frameon=False, loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=2)
    ax.grid(alpha=0.3, axis="x")
    return _save(fig, path)


def fig_reliability_trend(a: Analysis, path: Path) -> Path:
    """Fixed-panel median Spearman (raw and corrected) and rating spread by cohort; changes."""
    p, ch = a.reliability_panel, a.reliability_changes
    fig = _new_fig(12, 4.8)
    ax1, ax3 = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    if len(p):
        x = np.arange(len(p))
        for off, col, lo, hi, lab, c in [
            (-0.06, "median", "ci_lo", "ci_hi", "median Spearman", "#2874a6"),
            (
                0.06,
                "median_corrected",
                "corr_ci_lo",
                "corr_ci_hi",
                "range-restriction corrected",
                "#c0392b",
            ),
        ]:
            ax1.errorbar(
                x + off,
                p[col],
                yerr=[p[col] - p[lo], p[hi] - p[col]],
                marker="o",
                capsize=3,
                color=c,
                label=lab,
            )
        ax1.set_xticks(
            x,
            [f"{c}\n(n={n})" for c, n in zip(p["cohort"], p["n_models"], strict=True)],
            fontsize=8,
        )
        ax1.set_ylabel("Spearman with arena (fixed panel, 95% CI)")
        ax2 = ax1.twinx()
        ax2.plot(x, p["spread"], color="#777777", ls=":", marker="x", label="rating SD in cohort")
        ax2.set_ylabel("arena rating SD within cohort", color="#777777")
        ax1.legend(fontsize=7.5, frameon=False, loc="lower left")
        ax2.legend(fontsize=7.5, frameon=False, loc="lower right")
        ax1.set_title(
            f"Fixed panel of {int(a.findings['reliability']['n_benchmarks'])} benchmarks",
            fontsize=9.5,
        )
    if len(ch):
        cc = ch.sort_values("change_corrected").reset_index(drop=True)
        y = np.arange(len(cc))
        ax3.errorbar(
            cc["change_corrected"],
            y,
            xerr=[
                cc["change_corrected"] - cc["corr_ci_lo"],
                cc["corr_ci_hi"] - cc["change_corrected"],
            ],
            fmt="none",
            ecolor="k",
            elinewidth=0.8,
            capsize=2,
        )
        ax3.scatter(
            cc["change_corrected"],
            y,
            c=[SIG_C if q < 0.05 else NS_C for q in cc["corr_q"]],
            zorder=3,
            s=24,
        )
        ax3.set_yticks(y, cc["benchmark"], fontsize=7.5)
        ax3.axvline(0, color="k", lw=0.8)
        rs = a.findings["reliability"]
        ax3.set_xlabel(
            f"corrected Spearman, {rs['last']} − {rs['first']} (95% CI; red = BH significant)"
        )
        ax3.set_title("Change per panel benchmark", fontsize=9.5)
    fig.tight_layout()
    return _save(fig, path)


def fig_reliability_heatmap(a: Analysis, path: Path) -> Path:
    """Spearman with the arena per benchmark and half-year cohort."""
    r = a.reliability
    piv = r.pivot(index="benchmark", columns="cohort", values="spearman").dropna(how="all")
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
        "Benchmark reliability by release half-year (cells with ≥ 10 rated models)", fontsize=10
    )
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
        t = tab.iloc[::-1].copy()
        t["adj_lo"] = t["adj_lo"].fillna(t["value"])
        t["adj_hi"] = t["adj_hi"].fillna(t["value"])
        _forest(
            ax,
            t,
            [f"{k} (n={n})" for k, n in zip(t[key], t["n"], strict=True)],
            "vendor-claimed − independent (points, 0-100)",
        )
        ax.set_title(f"Claimed vs independent, {title} (FCR CIs; red = BH)", fontsize=9.5)
    fig.tight_layout()
    return _save(fig, path)


FIGURES = [
    ("divergence_scatter.png", fig_divergence_scatter),
    ("divergence_top.png", fig_divergence_top),
    ("divergence_drift.png", fig_drift),
    ("open_closed_by_domain.png", fig_open_closed_domains),
    ("frontier_gap.png", fig_frontier),
    ("frontier_domains.png", fig_frontier_domains),
    ("reliability_trend.png", fig_reliability_trend),
    ("reliability_heatmap.png", fig_reliability_heatmap),
    ("claimed_vs_independent.png", fig_claimed),
]
