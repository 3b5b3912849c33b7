"""Per-source coverage of arena models (``divergence data coverage``)."""

from __future__ import annotations

import pandas as pd

from divergence.dataset import ARENA_SOURCES


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
    aliases = tables["aliases"]
    aliases = aliases[~aliases["source"].isin(ARENA_SOURCES | {"lmarena"})]
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
