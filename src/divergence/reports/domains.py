"""The domain profile section of the report (:mod:`divergence.domain_report`).

The per-domain predictor comes from, in order: an export in
``<project>/models/divergence-utility-domains`` (``divergence export --domains``), else
``models:/divergence-utility-domains@champion`` in the local tracking store (a
``divergence sweep``). Without either, or without a served domain, the section says how
to produce one. Predicted and measured values are kept apart: the profile table has a
``kind`` column per value, the gap figure draws predicted months dashed in red.
"""

from __future__ import annotations

import hashlib
import html
import json
from pathlib import Path
from typing import Any

import pandas as pd

from divergence.errors import DivergenceError

SECTION = ("domains", "Domain profile: predicted utility per domain")


def find_domain_predictor() -> Any:
    """The exported or registered per-domain predictor, or None when there is none."""
    from divergence.config import project_root
    from divergence.domains import DOMAINS_MODEL, MANIFEST, load_domain_predictor

    exported = project_root() / "models" / DOMAINS_MODEL
    try:
        if (exported / MANIFEST).is_file():
            return load_domain_predictor(exported)
        from divergence.config import default_tracking_uri

        uri = default_tracking_uri()
        if not uri.startswith("sqlite:///") or not Path(uri.removeprefix("sqlite:///")).is_file():
            return None  # no local store: do not create one, do not reach a server
        from divergence.registry import sqlite_registry_dir

        champion = f"models:/{DOMAINS_MODEL}@champion"
        if sqlite_registry_dir(champion, uri, marker=MANIFEST) is None:
            return None
        return load_domain_predictor(f"models:/{DOMAINS_MODEL}@champion", uri)
    except DivergenceError:
        return None


def manifest_digest(dp: Any) -> str | None:
    """Digest of the domain manifest (part of the report's input key)."""
    if dp is None:
        return None
    return hashlib.sha256(json.dumps(dp.manifest, sort_keys=True).encode()).hexdigest()


def write_domain_files(dp: Any, tables: dict[str, pd.DataFrame], tmp: Path) -> dict[str, Any]:
    """Domain profile tables and figures into ``tmp/domains/``; {} when nothing is served."""
    if dp is None or not dp.predictors:
        return {}
    from divergence.domain_report import write_domain_report

    return write_domain_report(dp, tables, tmp / "domains")


def _profile_long(prof: pd.DataFrame) -> pd.DataFrame:
    """One row per (model, domain, kind): ``predicted`` (90% interval) or ``measured``."""
    rows = []
    for r in prof.itertuples(index=False):
        base = {
            "model": r.model_id,
            "open weights": "yes" if r.open_weights else "no",
            "released": str(r.release_date),
            "domain": r.domain,
        }
        rows.append(
            {
                **base,
                "kind": "PREDICTED",
                "rating": r.predicted,
                "interval": f"90%: {r.lower_90:.0f} to {r.upper_90:.0f}",
            }
        )
        if pd.notna(r.measured):
            rows.append(
                {
                    **base,
                    "kind": "measured (arena)",
                    "rating": r.measured,
                    "interval": f"95%: ±{r.measured_err95:.0f}",
                }
            )
    return pd.DataFrame(rows)


def section_html(res: dict[str, Any], dp: Any, img: Any, table: Any) -> str:
    """The section's HTML (``img``/``table``: the report's figure and table helpers)."""
    from divergence.domains import SERVED

    if not res:
        why = (
            "no domain has a served model (see the sweep's domain table)"
            if dp is not None
            else "no per-domain predictor found"
        )
        return (
            f'<p class="note">Not shown: {html.escape(why)}. Run <code>divergence sweep</code> '
            "(every target) or <code>divergence export --domains</code>, then rebuild the "
            "report.</p>"
        )
    status = dp.status
    unserved = status[~status["status"].isin(SERVED)]
    skipped = (
        "Domains not predicted (never from noise): "
        + "; ".join(
            f"{html.escape(str(r.domain))} ({html.escape(str(r.status))})"
            for r in unserved.itertuples()
        )
        + ". "
        if len(unserved)
        else ""
    )
    paths = res["paths"]
    prof = _profile_long(res["profile"])
    gap = res["gap"].copy()
    gap["kind"] = gap["kind"].map({"measured": "measured", "predicted": "PREDICTED"})
    last = gap.loc[gap["kind"] == "measured"].groupby("domain").tail(1)
    nxt = gap.loc[gap["kind"] == "PREDICTED"].groupby("domain").tail(1)
    gaps = pd.concat([last, nxt]).sort_values(["domain", "month"])
    return (
        '<p class="note"><b>PREDICTED values are model outputs, not arena measurements.</b> '
        "The profile shows, for the newest open-weight and closed models (including models "
        "released after the last arena snapshot, never rated), the predicted rating in every "
        "served domain with its 90% conformal interval; a black × (and a "
        "<i>measured (arena)</i> row below) marks the arena rating where one exists. "
        f"{skipped}</p>"
        + img(paths["profile_png"], "domain profile: predicted utility per domain")
        + table(prof, 0)
        + '<p class="note">Open − closed frontier gap per domain: solid blue = measured from '
        "arena ratings (95% interval from the ratings' own intervals); red dashed = "
        "PREDICTED, adding models released after the last snapshot with their predicted "
        "utility (interval from the conformal half-width).</p>"
        + img(paths["gap_png"], "open minus closed frontier gap per domain, measured and predicted")
        + table(gaps[["domain", "month", "kind", "gap", "ci_lo", "ci_hi"]], 1)
        + '<p class="note">Tables: <a href="domains/domain_profile.csv">domain_profile.csv</a>, '
        '<a href="domains/domain_gap.csv">domain_gap.csv</a>.</p>'
    )
