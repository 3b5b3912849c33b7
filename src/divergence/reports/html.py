"""The self-contained HTML report: table of contents, sections in reading order."""

from __future__ import annotations

import base64
import html
from pathlib import Path

import pandas as pd

from divergence.analysis import Analysis
from divergence.reports.sentences import fmt_ci, headline_sentences, open_closed_sentence, short

CSS = """body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;
color:#222;line-height:1.45}h1{font-size:1.6em}h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:2em}
figure{margin:1em 0}img{max-width:100%}table.t{border-collapse:collapse;font-size:.82em;margin:.5em 0 1.2em}
table.t th,table.t td{padding:.2em .5em;border-bottom:1px solid #eee;text-align:right}
table.t th{background:#f4f4f4}ul.find li{margin:.35em 0}.note{color:#555;font-size:.9em}
nav.toc{background:#f7f7f7;padding:.6em 1.2em;border-radius:4px}nav.toc li{margin:.15em 0}
details{margin:.5em 0 1em}summary{cursor:pointer;color:#1b5e9e}p.answer{font-size:1.05em;background:#fff8e1;
padding:.6em .8em;border-left:4px solid #f0a500}"""

SECTIONS = [
    ("findings", "Headline findings"),
    ("predictor", "How good is the predictor?"),
    ("divergence", "Per-model divergence"),
    ("open-closed", "Open vs closed, by domain and over time"),
    ("reliability", "Benchmark reliability"),
    ("claimed", "Claimed vs independent"),
    ("domains", "Domain profile: predicted utility per domain"),
    ("coverage", "Data coverage and caveats"),
    ("appendix", "Appendix: sensitivity"),
]


def table(df: pd.DataFrame, digits: int = 1) -> str:
    """An HTML table with rounded floats."""
    d = df.copy()
    for c in d.columns:
        if pd.api.types.is_float_dtype(d[c]):
            d[c] = d[c].map(lambda v, k=digits: "" if pd.isna(v) else f"{v:.{k}f}")
        elif pd.api.types.is_datetime64_any_dtype(d[c]):
            d[c] = d[c].dt.strftime("%Y-%m-%d")
    return d.to_html(index=False, escape=True, border=0, classes="t", na_rep="")


def collapsed(title: str, df: pd.DataFrame, csv: str | None = None, digits: int = 1) -> str:
    """A long table inside ``<details>``, with a link to its CSV."""
    link = f' — <a href="tables/{csv}.csv">CSV</a>' if csv else ""
    return (
        f"<details><summary>{html.escape(title)} ({len(df)} rows){link}</summary>"
        f"{table(df, digits)}</details>"
    )


def img(path: Path, alt: str) -> str:
    """A figure embedded as base64 PNG."""
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<figure><img alt="{html.escape(alt)}" src="data:image/png;base64,{data}"></figure>'


def _predictor(a: Analysis) -> str:
    m = a.champion.metrics
    if not m:
        return '<p class="note">No champion card found: the benchmark-implied model used the untuned defaults.</p>'
    rows = []
    names = [
        ("walkforward", "ours (benchmarks + adoption + metadata)"),
        ("benchmarks_only_walkforward", "ours, benchmarks only"),
    ]
    names += [
        (
            k.removesuffix("_rmse"),
            "baseline: " + k.removeprefix("baseline_").removesuffix("_walkforward_rmse"),
        )
        for k in sorted(m)
        if k.startswith("baseline_") and k.endswith("_walkforward_rmse")
    ]
    for pre, label in names:
        r = {"method": label, "_pre": pre}
        for met in ["rmse", "mae", "spearman"]:
            k = f"{pre}_{met}"
            if k in m:
                r[met] = fmt_ci(
                    {"value": m[k], "ci_lo": m.get(k + "_ci_lo"), "ci_hi": m.get(k + "_ci_hi")},
                    2 if met == "spearman" else 1,
                )
        rows.append(r)
    rows.sort(key=lambda r: m.get(f"{r['_pre']}_rmse", float("inf")))
    for r in rows:
        r.pop("_pre")
    info = a.champion.info
    dv = a.findings["divergence"]
    return (
        f'<p class="note">Walk-forward metrics of the model whose tuned parameters the analyses use '
        f"(<code>{html.escape(a.champion.source)}</code>; {info.get('training_models', '?')} training models, "
        f"released {' to '.join(info.get('training_release_range', []))}). Each of the newest rated models is predicted "
        f"from a refit on models released strictly before it; value [95% bootstrap CI], rating points.</p>"
        + table(pd.DataFrame(rows))
        + f"<p>The benchmark-implied rating used for divergence (same tuned parameters, benchmarks only, refitted "
        f"monthly) has out-of-time RMSE {dv['implied_rmse_newest']:.1f} on the same {dv['n_newest']} newest models, "
        f"{dv['implied_rmse']:.1f} on all {dv['n_models']} predicted models and {dv['implied_rmse_adj']:.1f} after removing "
        f"the quarterly drift: {dv['ratio_adj_to_main']:.2f}× the predictor's walk-forward RMSE (goal ≤ 1.5×).</p>"
    )


def _divergence(a: Analysis, fig) -> str:
    d = a.divergence.reset_index()
    err = a.info["implied_error"]
    cols = [
        "display_name",
        "organization",
        "release_date",
        "n_scores",
        "actual",
        "implied",
        "divergence",
        "drift",
        "divergence_adj",
        "ci_lo",
        "ci_hi",
        "q",
        "flagged",
    ]
    fl = d[d["flagged"]][cols]
    bands = pd.DataFrame([{"benchmark scores": k, **v} for k, v in err["error_by_scores"].items()])
    return f"""<p class="note">Divergence = actual overall arena rating − benchmark-implied rating. Implied = the champion's
tuned <code>UtilityRegressor</code> on the benchmarks-only features, refitted on all rated models released before the
model's release month (≥ {a.info["min_train"]} training models). Drift (the mean divergence of the release quarter) is
shown below and removed (<code>divergence_adj</code>). A model is flagged only with ≥ K = {a.info["min_scores"]} benchmark
scores (below that the out-of-time error is larger, table below) and when <code>divergence_adj</code> exceeds arena
noise ⊕ the implied model's robust spread ({a.findings["divergence"]["spread_points"]:.0f} points) after Benjamini–Hochberg
over the {a.findings["divergence"]["n_eligible"]} eligible models (q &lt; {a.info["fdr"]}). Positive = the arena likes the
model more than its benchmarks imply.</p>
{fig("divergence_scatter.png", "actual vs implied")}{fig("divergence_top.png", "top divergences")}
<h3>Flagged models</h3>{table(fl) if len(fl) else "<p>None.</p>"}
<h3>Out-of-time error by number of benchmark scores (why K = {a.info["min_scores"]})</h3>{table(bands)}
{fig("divergence_drift.png", "drift by quarter")}
{collapsed("All models", d[cols + ["eligible", "p"]], "divergence")}
{collapsed("Drift by release quarter", a.drift, "divergence_drift")}"""


def _open_closed(a: Analysis, fig) -> str:
    oc = a.open_closed.copy()
    oc["reference"] = oc["reference"].map(lambda r: short(r) if isinstance(r, str) and r else r)
    cols = [
        "domain",
        "view",
        "unit",
        "value",
        "ci_lo",
        "ci_hi",
        "adj_lo",
        "adj_hi",
        "q",
        "significant",
        "n",
        "n_open",
        "n_closed",
        "n_models",
        "implied_rmse",
        "reference",
    ]
    fr = a.frontier
    side = fr.dropna(subset=["gap"]).pivot(index="quarter", columns="measure", values="lag_months")
    side.columns = [short(c) for c in side.columns]
    arena_full = fr[fr["measure"] == "arena:full"].copy()
    for c in ["best_open", "best_closed"]:
        arena_full[c] = arena_full[c].map(a.name)
    lv = a.frontier_summary
    lv = lv[lv["statistic"] == "mean_lag"].copy()
    lv["measure"] = lv["measure"].map(short)
    return f"""<p class="answer">{html.escape(open_closed_sentence(a))}</p>
<p class="note">Average: closed − open mean of the drift-removed divergence on the domain's arena board (domain boards use
the factor base margin, refitted quarterly; its out-of-time RMSE is the <code>implied_rmse</code> column). Frontier: arena
lag − benchmark-composite lag of the best open model behind the best closed one (months, quarters since
{lv.attrs.get("since", a.frontier_summary.attrs.get("since"))}). Both signed so that &gt; 0 means benchmarks overstate open
models. Within each view the seven domains are one family: BH q and false-coverage-rate adjusted intervals
(adj_lo, adj_hi; Benjamini–Yekutieli); the overall rows are single tests. Legal, medicine and finance have no domain
benchmark: their composite is the AA intelligence index.</p>
{fig("open_closed_by_domain.png", "open vs closed by domain")}{table(oc[cols])}
<h3>Lag over time</h3>
<p class="note">Best open-weight vs best closed model released by each quarter's end, among arena-rated models. Lag: months
since closed first reached the open frontier's level (negative when open leads). Mean lags resample blocks of
{a.info["block"]} consecutive quarters (circular moving-block bootstrap) together with arena noise; censored lags (reaching
the first model of the data) are lower bounds, left out of means.</p>
{fig("frontier_gap.png", "frontier gap")}{fig("frontier_domains.png", "lag per domain")}
<h3>Mean lag per measure</h3>{table(lv[["measure", "domain", "value", "ci_lo", "ci_hi", "n", "n_models"]])}
{collapsed("Months of lag per quarter, side by side", side.reset_index(), "frontier")}
{collapsed("Arena (overall) frontier per quarter", arena_full.drop(columns=["kind", "domain"]), "frontier")}"""


def _reliability(a: Analysis, fig) -> str:
    rs = a.findings.get("reliability", {})
    ch = a.reliability_changes
    verdict = (
        "holds"
        if rs.get("weakening_holds")
        else "does not hold"
        if rs.get("first")
        else "cannot be tested"
    )
    summ = ""
    if rs.get("first"):
        summ = (
            f'<p class="answer">“Weakening correlation” {verdict}: panel {rs["first"]}→{rs["last"]}, '
            f"{rs['n_benchmarks']} benchmarks; median change {fmt_ci(rs['median_change'], 2)} raw, "
            f"{fmt_ci(rs['median_change_corrected'], 2)} corrected for range restriction. Declines / increases: "
            f"{rs['declines_ci']} / {rs['increases_ci']} by their own CI, {rs['declines_bh']} / {rs['increases_bh']} after BH, "
            f"{rs['declines_bh_corrected']} / {rs['increases_bh_corrected']} after BH on corrected values, "
            f"{rs['declines_non_overlap']} / {rs['increases_non_overlap']} by non-overlap of both intervals "
            f"(the old rule, latest CI below the first point, gives {rs['declines_old_rule']}).</p>"
        )
    return f"""{summ}<p class="note">Spearman of each benchmark with the overall arena rating within half-year release cohorts
(≥ 10 rated models). Fixed panel: benchmarks with a Spearman in every cohort compared. Corrected = Thorndike case II
restriction-of-range correction using the overall rating SD over the within-cohort SD. Change test: bootstrap of the
difference between two independent cohorts, two-sided p, BH over the panel; declines and increases alike.</p>
{fig("reliability_trend.png", "reliability trend")}
<h3>Panel by cohort</h3>{table(a.reliability_panel, 2)}
{collapsed("Change per panel benchmark", ch, "reliability_changes", 3) if len(ch) else ""}
{fig("reliability_heatmap.png", "reliability heatmap")}
{collapsed("All cells (Spearman, spread, corrected, saturation)", a.reliability.dropna(subset=["spearman"]), "reliability", 2)}"""


def _claimed(a: Analysis, fig) -> str:
    return f"""<p class="note">Vendor self-reported llm-stats scores minus independent runs (Artificial Analysis, Epoch, Aider,
SWE-bench bash-only) of the same benchmark on the same model (best over its reasoning-effort variants), 0-100 scale.
Intervals resample models; BH within each table with FCR-adjusted intervals. Organisations with fewer than 3 paired
models are pooled as "other".</p>
{fig("claimed_vs_independent.png", "claimed vs independent")}
<h3>Per benchmark</h3>{table(a.claimed_by_benchmark)}
{collapsed("Per organisation", a.claimed_by_org, "claimed_by_org")}
{collapsed("All pairs", a.claimed.drop(columns=["open_weights"]), "claimed_pairs")}"""


def _coverage(a: Analysis) -> str:
    d = a.divergence
    info = a.info
    return f"""<ul><li>{info["n_models"]} models in the snapshot, {info["n_rated"]} with an overall arena rating (style board,
raw board shifted for the rest); {len(d)} received an out-of-time benchmark-implied rating, {int(d["eligible"].sum())} have
≥ {info["min_scores"]} benchmark scores.</li>
<li>Open-weight status known for {int(d["open_weights"].notna().sum())} of them ({int((d["open_weights"] == 1).sum())} open).</li>
<li>Benchmark scores carry no published error and are taken as exact; the arena's 95% intervals are propagated.</li>
<li>The tuned parameters were chosen on inner folds of models older than the 25 newest, so models in that window were
seen by the tuning (not by the fits that predict them).</li>
<li>Quarterly drift removal uses the model's own quarter (contemporaneous, not future, information).</li>
<li>Spearman's range-restriction correction is the Pearson formula applied to ranks (an approximation).</li></ul>"""


def render_html(a: Analysis, figs: dict[str, Path], status: str = "", domains: str = "") -> str:
    """The self-contained HTML report (figures embedded, CSV tables linked).

    ``domains``: the body of the domain profile section (:mod:`divergence.reports.domains`).
    """
    info = a.info

    def fig(name: str, alt: str) -> str:
        return img(figs[name], alt) if name in figs else ""

    toc = "".join(f'<li><a href="#{k}">{html.escape(t)}</a></li>' for k, t in SECTIONS)
    sentences = "".join(f"<li>{html.escape(s)}</li>" for s in headline_sentences(a))
    sens = a.sensitivity
    body = {
        "findings": f'<ul class="find">{sentences}</ul>',
        "predictor": _predictor(a),
        "divergence": _divergence(a, fig),
        "open-closed": _open_closed(a, fig),
        "reliability": _reliability(a, fig),
        "claimed": _claimed(a, fig),
        "domains": domains or '<p class="note">Not computed.</p>',
        "coverage": _coverage(a),
        "appendix": (
            '<p class="note">Each headline number recomputed with one source left out or one boundary moved '
            "(a quarter of the replicates; n = models, quarters or benchmarks behind the number).</p>"
            + (table(sens, 2) if len(sens) else "<p>Not computed.</p>")
        ),
    }
    sections = "\n".join(f'<h2 id="{k}">{html.escape(t)}</h2>\n{body[k]}' for k, t in SECTIONS)
    return f"""<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">
<title>Divergence report: benchmarks vs the arena</title><style>{CSS}</style></head><body>
<h1>Where benchmarks and the arena part ways</h1>
<p class="note">Computed by <code>divergence report</code> from the snapshot (arena ratings until
{html.escape(str(info.get("ratings_until")))}; {info.get("n_rated")} rated models). Every interval is a 95% bootstrap
interval ({info.get("n_boot")} replicates, seed {info.get("seed")}) unless marked FCR-adjusted. Arena = style-controlled
rating. {html.escape(status)}</p>
<nav class="toc"><ol>{toc}</ol></nav>
{sections}
</body></html>
"""
