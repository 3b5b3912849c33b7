"""Per-source coverage of arena models (``divergence data coverage``)."""

from __future__ import annotations

import difflib
from pathlib import Path

import pandas as pd

from divergence.dataset import ARENA_SOURCES

REASON_COLUMNS = ["model_id", "reason", "note"]
# Reasons a reviewer may give for an arena model AA has no scores for.
REASONS = {
    "anonymous": "anonymous/codename arena entry, never released under that name",
    "experimental": "experimental or preview arena-only build AA never evaluated",
    "not_in_aa": "released model AA does not list (checked by name, organization, date)",
    "aa_other_variant": "AA lists only another variant or snapshot of the model",
}


def _aliases(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    a = tables["aliases"]
    return a[~a["source"].isin(ARENA_SOURCES | {"lmarena"}) & ~a["source"].str.endswith(":display")]


def coverage(
    tables: dict[str, pd.DataFrame], since: str = "2024-06-01"
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Coverage of arena models by each non-arena source.

    Parameters
    ----------
    tables : dict of DataFrame
        A loaded snapshot.
    since : str
        Release-date cut for the "recent" columns and the unmatched list.

    Returns
    -------
    per_source : DataFrame
        source, arena_models, arena_covered, share, recent_arena_models, recent_covered,
        recent_share, ids (distinct source ids), models (distinct model_ids).
    unmatched : DataFrame
        Arena models released since ``since`` without an Artificial Analysis match.
    """
    models = tables["models"]
    arena = models[models["on_arena"].fillna(False).astype(bool)]
    recent = arena[arena["release_date"] >= pd.Timestamp(since)]
    aliases = _aliases(tables)
    rows = []
    for src, grp in aliases.groupby("source", sort=True):
        ids = set(grp["model_id"])
        rows.append(
            {
                "source": src,
                "ids": grp["alias"].nunique(),
                "models": len(ids),
                "arena_covered": len(ids & set(arena["model_id"])),
                "arena_models": len(arena),
                "recent_covered": len(ids & set(recent["model_id"])),
                "recent_arena_models": len(recent),
            }
        )
    per = pd.DataFrame(rows)
    if not per.empty:
        per["share"] = per["arena_covered"] / per["arena_models"]
        per["recent_share"] = per["recent_covered"] / per["recent_arena_models"]
        per = per.sort_values("recent_share", ascending=False, kind="mergesort").reset_index(
            drop=True
        )
    aa = set(aliases.loc[aliases["source"] == "artificial-analysis", "model_id"])
    unmatched = recent[~recent["model_id"].isin(aa)][["model_id", "organization", "release_date"]]
    return per, unmatched.sort_values(["release_date", "model_id"]).reset_index(drop=True)


def default_reasons_path() -> Path:
    from divergence.config import project_root

    return project_root() / "data" / "identity" / "unmatched_reasons.csv"


def load_reasons(path: str | Path | None = None) -> pd.DataFrame:
    """Reviewed reasons for arena models without AA scores (empty if the file is absent).

    Raises
    ------
    SourceError
        Missing column, an unknown reason, or a model listed twice.
    """
    from divergence.errors import SourceError
    from divergence.sources._io import read_csv

    p = Path(path) if path is not None else default_reasons_path()
    if path is None and not p.exists():
        return pd.DataFrame(columns=REASON_COLUMNS)
    df = read_csv(p, required=REASON_COLUMNS, dtype=str, keep_default_na=False, comment="#")
    bad = ~df["reason"].isin(list(REASONS))
    if bad.any():
        pos = int(bad.to_numpy().argmax())
        raise SourceError(
            p, f"unknown reason {df['reason'].iloc[pos]!r}", column="reason", row=pos + 2
        )
    dup = df["model_id"].duplicated()
    if dup.any():
        pos = int(dup.to_numpy().argmax())
        raise SourceError(p, "model listed twice", column="model_id", row=pos + 2)
    return df[REASON_COLUMNS]


def explain_unmatched(
    tables: dict[str, pd.DataFrame], unmatched: pd.DataFrame, reasons: pd.DataFrame | None = None
) -> pd.DataFrame:
    """The unmatched list with the three nearest AA entries and the reviewed reason.

    Returns
    -------
    DataFrame
        model_id, organization, release_date, nearest_aa (``;``-separated AA slugs, same
        organization first), reason (``UNEXPLAINED`` when no reviewed reason exists).
    """
    from divergence.identity import normalize, org_key

    reasons = load_reasons() if reasons is None else reasons
    why = dict(zip(reasons["model_id"], reasons["reason"], strict=True))
    aa = tables["aliases"]
    aa = aa[aa["source"] == "artificial-analysis"]
    models = tables["models"].set_index("model_id")
    org_of = models["organization"].map(org_key)
    slugs = sorted(set(aa["alias"]))
    norm = {normalize(s): s for s in slugs}
    slug_org = {s: org_of.get(m) for s, m in zip(aa["alias"], aa["model_id"], strict=True)}
    out = []
    for r in unmatched.itertuples(index=False):
        key = normalize(r.model_id)
        near = difflib.get_close_matches(key, list(norm), n=12, cutoff=0.3)
        org = org_key(r.organization)
        ranked = sorted(near, key=lambda n: (slug_org.get(norm[n]) != org, near.index(n)))
        out.append(
            {
                "model_id": r.model_id,
                "organization": r.organization,
                "release_date": r.release_date,
                "nearest_aa": ";".join(norm[n] for n in ranked[:3]),
                "reason": why.get(r.model_id, "UNEXPLAINED"),
            }
        )
    cols = ["model_id", "organization", "release_date", "nearest_aa", "reason"]
    return pd.DataFrame(out, columns=cols)
