"""Domain profile: predicted utility per domain for the newest models, and the open − closed
frontier gap per domain over time.

Written by ``divergence sweep`` under ``reports/domains/`` (and logged to its MLflow run):

- ``domain_profile.csv`` / ``.png``: for the newest open-weight and closed models (one per
  organisation, including models released after the last arena snapshot and never rated),
  the predicted utility in every served domain with its 90% interval, and the measured
  rating where the arena has one;
- ``domain_gap.csv`` / ``.png``: per domain and month, best open minus best closed rating
  among models released by the month's end, with a 95% interval. Up to the last arena
  snapshot the ratings are *measured* (``kind = measured``; interval from the ratings' own
  95% intervals); after it, models released since are added with their *predicted*
  utility (``kind = predicted``; interval from the conformal 90% half-width), drawn dashed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from divergence.domains import SERVED, DomainPredictor
from divergence.targets import target_frame

Z95, Z90 = 1.959964, 1.644854


def _models(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    m = tables["models"].set_index("model_id")
    out = m[["organization", "release_date", "open_weights"]].copy()
    out["release_date"] = pd.to_datetime(out["release_date"])
    return out


def predictions(dp: DomainPredictor) -> pd.DataFrame:
    """Wide predictions for every model in the predictor's feature table (index model_id)."""
    feats = dp._feature_rows()
    return dp.predict(feats[[c for c in dp.input_columns if c in feats.columns]])


def measured(dp: DomainPredictor, tables: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """Per served domain: latest rating (``target``) and 95% half-width (``target_err``)."""
    out = {}
    for e in dp.manifest["domains"]:
        if e["status"] not in SERVED:
            continue
        t = target_frame(tables, e["category"], e["board"], True)
        out[e["domain"]] = t[["target", "target_err"]]
    return out


MIN_BENCHMARKS = 5


def newest_models(
    models: pd.DataFrame,
    pred: pd.DataFrame,
    ref_col: str,
    n: int = 4,
    n_benchmarks: pd.Series | None = None,
) -> pd.DataFrame:
    """The ``n`` newest open and ``n`` newest closed models with a prediction, one per org.

    With ``n_benchmarks`` (benchmark scores per model) only models with at least
    :data:`MIN_BENCHMARKS` scores qualify: a profile from one or two scores is extrapolation.
    """
    have = pred.index[pred[ref_col].notna()]
    if n_benchmarks is not None:
        have = have[n_benchmarks.reindex(have).fillna(0).to_numpy() >= MIN_BENCHMARKS]
    m = models.loc[models.index.intersection(have)].dropna(subset=["release_date"])
    m = m[m["open_weights"].isin([True, False])].copy()
    m["ref"] = pred.loc[m.index, ref_col]
    m = m.sort_values(["release_date", "ref"], ascending=[False, False], kind="mergesort")
    keep = []
    for flag in (True, False):
        g = m[m["open_weights"] == flag].drop_duplicates("organization")
        keep.append(g.head(n))
    return pd.concat(keep)


def profile_table(dp: DomainPredictor, tables: dict[str, pd.DataFrame], n: int = 4) -> pd.DataFrame:
    """One row per (newest model, domain): predicted with 90% interval, measured if rated.

    The models: :func:`newest_models` with at least :data:`MIN_BENCHMARKS` benchmark scores.
    """
    models = _models(tables)
    pred = predictions(dp)
    meas = measured(dp, tables)
    served = [d for d in dp.domains if d in meas]
    ref = next((e["domain"] for e in dp.manifest["domains"] if e["category"] == "full"), served[0])
    ref = ref if ref in served else served[0]
    from divergence.model import is_benchmark_column

    feats = dp._feature_rows()
    nb = feats[[c for c in feats.columns if is_benchmark_column(c)]].notna().sum(axis=1)
    pick = newest_models(models, pred, f"predicted_{ref}", n, nb)
    rows = []
    for mid, m in pick.iterrows():
        for d in served:
            rated = mid in meas[d].index
            rows.append(
                {
                    "model_id": mid,
                    "organization": m["organization"],
                    "open_weights": bool(m["open_weights"]),
                    "release_date": m["release_date"].date(),
                    "domain": d,
                    "predicted": pred.at[mid, f"predicted_{d}"],
                    "lower_90": pred.at[mid, f"lower_90_{d}"],
                    "upper_90": pred.at[mid, f"upper_90_{d}"],
                    "measured": meas[d].at[mid, "target"] if rated else np.nan,
                    "measured_err95": meas[d].at[mid, "target_err"] if rated else np.nan,
                }
            )
    return pd.DataFrame(rows)


def _frontier_draws(
    values: np.ndarray, sd: np.ndarray, release: np.ndarray, months: pd.DatetimeIndex, rng, B: int
) -> np.ndarray:
    """Best value among models released by each month end: (len(months), B) draws."""
    order = np.argsort(release, kind="mergesort")
    draws = values[order, None] + sd[order, None] * rng.standard_normal((len(values), B))
    run = np.maximum.accumulate(draws, axis=0) if len(values) else draws
    pos = np.searchsorted(release[order], months.to_numpy(), side="right") - 1
    out = np.full((len(months), B), np.nan)
    ok = pos >= 0
    out[ok] = run[pos[ok]]
    return out


def gap_table(
    dp: DomainPredictor,
    tables: dict[str, pd.DataFrame],
    start: str = "2024-01-01",
    n_boot: int = 500,
    seed: int = 0,
) -> pd.DataFrame:
    """Open − closed frontier gap per domain and month with a 95% interval (see module doc)."""
    models = _models(tables)
    pred = predictions(dp)
    meas = measured(dp, tables)
    last = pd.to_datetime(tables["ratings"]["snapshot_date"]).max()
    end = models.loc[models.index.intersection(pred.index), "release_date"].max()
    months = pd.date_range(pd.Timestamp(start), max(end, last), freq="ME")
    rng = np.random.default_rng(seed)
    rows = []
    for d, t in meas.items():
        q90 = dp.predictors[d].intervals["q90"]
        med_err = float(np.nanmedian(t["target_err"])) if t["target_err"].notna().any() else 0.0
        rated = t.join(models, how="inner").dropna(subset=["release_date"])
        new = pred[[f"predicted_{d}"]].join(models, how="inner")
        new = new[~new.index.isin(t.index) & (new["release_date"] > last) & new.iloc[:, 0].notna()]
        for kind, pool_new in (("measured", None), ("predicted", new)):
            ms = months[months <= last] if kind == "measured" else months[months > last]
            if len(ms) == 0:
                continue
            best = {}
            for flag in (True, False):
                r = rated[rated["open_weights"] == flag]
                vals = r["target"].to_numpy(float)
                sd = r["target_err"].fillna(med_err).to_numpy(float) / Z95
                rel = r["release_date"].to_numpy()
                if pool_new is not None:
                    p = pool_new[pool_new["open_weights"] == flag]
                    vals = np.concatenate([vals, p.iloc[:, 0].to_numpy(float)])
                    sd = np.concatenate([sd, np.full(len(p), q90 / Z90)])
                    rel = np.concatenate([rel, p["release_date"].to_numpy()])
                best[flag] = _frontier_draws(vals, sd, rel, ms, rng, n_boot)
            g = best[True] - best[False]
            for i, mo in enumerate(ms):
                v = g[i]
                if np.isnan(v).all():
                    continue
                rows.append(
                    {
                        "domain": d,
                        "month": mo.date(),
                        "kind": kind,
                        "gap": float(np.nanmedian(v)),
                        "ci_lo": float(np.nanpercentile(v, 2.5)),
                        "ci_hi": float(np.nanpercentile(v, 97.5)),
                    }
                )
    return pd.DataFrame(rows)


def plot_profile(prof: pd.DataFrame, path: Path) -> None:
    """Dot plot: domains down, predicted utility with 90% intervals across, one mark per model."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    domains = list(dict.fromkeys(prof["domain"]))
    models = list(dict.fromkeys(prof["model_id"]))
    fig, ax = plt.subplots(figsize=(10, 0.45 * len(domains) * max(1, len(models) / 4) + 3))
    step = 0.8 / max(1, len(models))
    opens = [m for m in models if prof.loc[prof["model_id"] == m, "open_weights"].iloc[0]]
    for k, mid in enumerate(models):
        g = prof[prof["model_id"] == mid].set_index("domain").reindex(domains)
        y = np.arange(len(domains)) - 0.4 + step * (k + 0.5)
        is_open = mid in opens
        color = (
            plt.cm.Blues(0.5 + 0.5 * opens.index(mid) / max(1, len(opens)))
            if is_open
            else (plt.cm.Oranges(0.5 + 0.5 * (k - len(opens)) / max(1, len(models) - len(opens))))
        )
        rel = g["release_date"].dropna().iloc[0] if g["release_date"].notna().any() else ""
        ax.errorbar(
            g["predicted"],
            y,
            xerr=[g["predicted"] - g["lower_90"], g["upper_90"] - g["predicted"]],
            fmt="o" if is_open else "s",
            color=color,
            ms=4,
            lw=1,
            label=f"{mid} ({'open' if is_open else 'closed'}, {rel})",
        )
        ax.scatter(g["measured"], y, marker="x", color="k", s=18, zorder=3)
    ax.set_yticks(np.arange(len(domains)), domains)
    ax.invert_yaxis()
    ax.set_xlabel("arena rating (predicted, 90% interval; x = measured where rated)")
    ax.set_title("Domain profile of the newest open and closed models")
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.08), ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_gap(gap: pd.DataFrame, path: Path, last_snapshot: pd.Timestamp) -> None:
    """Small multiples: open − closed frontier gap per domain; predicted months dashed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    domains = list(dict.fromkeys(gap["domain"]))
    ncol = 4
    nrow = int(np.ceil(len(domains) / ncol))
    fig, axes = plt.subplots(nrow, ncol, figsize=(14, 2.6 * nrow), sharex=True, sharey=True)
    axes = np.atleast_1d(axes).ravel()
    for ax, d in zip(axes, domains, strict=False):
        for kind, style, alpha in (("measured", "-", 0.25), ("predicted", "--", 0.12)):
            g = gap[(gap["domain"] == d) & (gap["kind"] == kind)]
            if g.empty:
                continue
            x = pd.to_datetime(g["month"])
            ax.plot(x, g["gap"], style, color="C0" if kind == "measured" else "C3", lw=1.3)
            ax.fill_between(
                x, g["ci_lo"], g["ci_hi"], color="C0" if kind == "measured" else "C3", alpha=alpha
            )
        ax.axhline(0, color="k", lw=0.8)
        ax.axvline(last_snapshot, color="grey", lw=0.8, ls=":")
        ax.set_title(d, fontsize=9)
    for ax in axes[len(domains) :]:
        ax.set_visible(False)
    fig.suptitle(
        "Best open − best closed arena rating by domain (95% interval); "
        "red dashed = PREDICTED for models released after the last snapshot",
        fontsize=10,
    )
    fig.autofmt_xdate()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def summary_markdown(prof: pd.DataFrame, gap: pd.DataFrame) -> str:
    """Markdown: the latest measured and the latest predicted gap per domain, and the profile."""
    lines = [
        "| domain | gap, last measured month | gap, last predicted month |",
        "|---|---|---|",
    ]
    for d, g in gap.groupby("domain", sort=False):
        cells = []
        for kind in ("measured", "predicted"):
            k = g[g["kind"] == kind]
            if k.empty:
                cells.append("–")
            else:
                r = k.iloc[-1]
                cells.append(
                    f"{r['gap']:+.1f} [{r['ci_lo']:+.1f}, {r['ci_hi']:+.1f}] ({r['month']})"
                )
        lines.append(f"| {d} | " + " | ".join(cells) + " |")
    lines += ["", "| model | open | released | " + " | ".join(dict.fromkeys(prof["domain"])) + " |"]
    lines.append("|---|---|---|" + "---|" * prof["domain"].nunique())
    for mid, g in prof.groupby("model_id", sort=False):
        cells = [f"{r.predicted:.0f} [{r.lower_90:.0f}, {r.upper_90:.0f}]" for r in g.itertuples()]
        r0 = g.iloc[0]
        lines.append(
            f"| {mid} | {'yes' if r0['open_weights'] else 'no'} | {r0['release_date']} | "
            + " | ".join(cells)
            + " |"
        )
    return "\n".join(lines) + "\n"


def write_domain_report(
    dp: DomainPredictor, tables: dict[str, pd.DataFrame], out: str | Path, n_models: int = 4
) -> dict[str, Any]:
    """Write the profile and gap tables and figures into ``out``; returns their paths."""
    from divergence.atomic import atomic_file

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    prof = profile_table(dp, tables, n_models)
    gap = gap_table(dp, tables)
    paths = {
        "profile_csv": out / "domain_profile.csv",
        "gap_csv": out / "domain_gap.csv",
        "profile_png": out / "domain_profile.png",
        "gap_png": out / "domain_gap.png",
        "summary_md": out / "domain_profile.md",
    }
    with atomic_file(paths["profile_csv"], "w") as fh:
        prof.to_csv(fh, index=False, float_format="%.2f")
    with atomic_file(paths["gap_csv"], "w") as fh:
        gap.to_csv(fh, index=False, float_format="%.2f")
    with atomic_file(paths["summary_md"], "w") as fh:
        fh.write(summary_markdown(prof, gap))
    last = pd.to_datetime(tables["ratings"]["snapshot_date"]).max()
    plot_profile(prof, paths["profile_png"])
    plot_gap(gap, paths["gap_png"], last)
    return {"paths": paths, "profile": prof, "gap": gap}
