"""Open vs closed by domain: where do benchmarks overstate open models relative to the arena?

One table, two views per domain (:data:`divergence.analysis.common.DOMAINS`), both signed
so that a positive value means *benchmarks overstate open models* relative to the arena:

- *on average*: ``mean(closed d_adj) - mean(open d_adj)`` over the domain board's rated
  models, ``d_adj`` the drift-removed divergence of
  :mod:`divergence.analysis.divergence` (points);
- *at the frontier*: arena lag - benchmark-composite lag of open models (months,
  :mod:`divergence.analysis.frontier`).

Each view is one family: Benjamini–Hochberg ``q`` over its domains and FCR-adjusted
intervals; the overall rows (overall arena, champion-tuned implied model; AA intelligence
index at the frontier) are reported beside the domains but are not part of the family.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from divergence.analysis.common import AA_INDEX, DOMAINS, add_multiplicity


def domain_table(
    averages: dict[str, tuple[dict[str, Any], np.ndarray | None]],
    implied_rmse: dict[str, float],
    summary: pd.DataFrame,
    reps: dict[tuple, np.ndarray | None],
) -> pd.DataFrame:
    """The open-vs-closed-by-domain table.

    Parameters
    ----------
    averages : dict
        Domain (``overall`` included) -> (:func:`open_overstatement` stat, replicates).
    implied_rmse : dict
        Domain -> out-of-time RMSE of its benchmark-implied rating.
    summary, reps : DataFrame, dict
        :func:`divergence.analysis.frontier.frontier_tables` summary and replicates.

    Returns
    -------
    DataFrame
        One row per domain: ``domain``, ``view`` (``average``/``frontier``), ``unit``,
        ``value``, ``ci_lo``, ``ci_hi``, ``p``, ``q``, ``significant``, ``adj_lo``,
        ``adj_hi``, ``n`` (models or quarters), ``n_open``, ``n_closed``, ``n_models``,
        ``implied_rmse``, ``reference``.
    """
    rows, rr = [], []
    for dom in ["overall", *DOMAINS]:
        if dom not in averages:
            continue
        st, rp = averages[dom]
        rows.append(
            {
                "domain": dom,
                "view": "average",
                "unit": "points",
                **st,
                "n_models": st["n"],
                "implied_rmse": implied_rmse.get(dom, np.nan),
                "reference": "benchmarks-only model",
            }
        )
        rr.append(rp)
    over = summary[summary["statistic"] == "overstatement_months"] if len(summary) else summary
    for _, r in over.iterrows():
        if r["domain"] == "overall" and r["reference"] != AA_INDEX:
            continue
        rows.append(
            {
                "domain": r["domain"],
                "view": "frontier",
                "unit": "months",
                **{k: r[k] for k in ["value", "ci_lo", "ci_hi", "p", "n", "n_models"]},
                "reference": r["reference"],
            }
        )
        rr.append(reps.get((r["measure"], r["statistic"], r["reference"])))
    t = pd.DataFrame(rows)
    if t.empty:
        return t
    t["q"], t["significant"], t["adj_lo"], t["adj_hi"] = np.nan, False, np.nan, np.nan
    for view in ["average", "frontier"]:
        fam = (t["view"] == view) & (t["domain"] != "overall")
        sub = t[fam].copy()
        add_multiplicity(sub, [rr[i] for i in np.flatnonzero(fam.to_numpy())])
        t.loc[fam, ["q", "significant", "adj_lo", "adj_hi"]] = sub[
            ["q", "significant", "adj_lo", "adj_hi"]
        ].to_numpy()
        t.attrs[f"fcr_level_{view}"] = sub.attrs.get("fcr_level")
    t["significant"] = t["significant"].astype(bool)
    return t
