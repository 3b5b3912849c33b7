"""Targets: one arena rating per model for a chosen board and category.

The target of a model is its ``rating_norm`` (see :mod:`divergence.dataset`) in the most
recent snapshot of the chosen board and category that lists it: the latest, most-voted
estimate on the scale of the newest snapshot. ``target_err`` is the half-width of that
snapshot's 95% interval (NaN when the source gives none).

With ``fallback_raw`` (default for the style board), a model that never appeared on the
style-controlled board gets its raw-board ``rating_norm`` shifted by the median
(style − raw) difference over models that have both; ``target_board`` records which.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from divergence.errors import ConfigError

MIN_BOTH = 10


def _latest(ratings: pd.DataFrame, board: str, category: str) -> pd.DataFrame:
    r = ratings[(ratings["board"] == board) & (ratings["category"] == category)].dropna(
        subset=["rating_norm"]
    )
    r = r.sort_values(["model_id", "snapshot_date", "source"], kind="mergesort")
    last = r.drop_duplicates("model_id", keep="last").set_index("model_id")
    err = (last["rating_hi"] - last["rating_lo"]) / 2.0
    return pd.DataFrame(
        {
            "target": last["rating_norm"],
            "target_err": err,
            "target_date": last["snapshot_date"],
            "target_source": last["source"],
        }
    )


def categories(ratings: pd.DataFrame, board: str = "style") -> list[str]:
    """Categories available on a board."""
    return sorted(ratings.loc[ratings["board"] == board, "category"].unique())


def target_frame(
    tables: dict[str, pd.DataFrame],
    category: str = "full",
    board: str = "style",
    fallback_raw: bool = True,
) -> pd.DataFrame:
    """Per-model target for ``board``/``category``.

    Returns
    -------
    DataFrame
        Index ``model_id``; columns ``target``, ``target_err``, ``target_date``,
        ``target_source``, ``target_board``, ``release_date``; only models with a
        target and a release date, sorted by release date then id.
    """
    ratings = tables["ratings"]
    if board not in {"raw", "style"}:
        raise ConfigError(f"target board must be 'raw' or 'style', got {board!r}")
    avail = categories(ratings, board)
    if category not in avail:
        raise ConfigError(
            f"target category {category!r} not on the {board} board; available: {', '.join(avail)}"
        )
    t = _latest(ratings, board, category).assign(target_board=board)
    if fallback_raw and board == "style":
        raw = _latest(ratings, "raw", category)
        both = t.index.intersection(raw.index)
        if len(both) >= MIN_BOTH:
            shift = float(np.median(t.loc[both, "target"] - raw.loc[both, "target"]))
            extra = raw.loc[raw.index.difference(t.index)].copy()
            extra["target"] = extra["target"] + shift
            extra["target_board"] = "raw+shift"
            t = pd.concat([t, extra])
    models = tables["models"].set_index("model_id")
    t["release_date"] = models["release_date"].reindex(t.index)
    t = t.dropna(subset=["target", "release_date"])
    t.index.name = "model_id"
    return (
        t.reset_index()
        .sort_values(["release_date", "model_id"], kind="mergesort")
        .set_index("model_id")
    )
