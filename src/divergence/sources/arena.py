"""LMArena (Chatbot Arena, arena.ai) human-preference ratings and model metadata.

The target side of the project. :func:`read_arena` returns ``"ratings"`` (one row per
``(source, model_key, board, category, snapshot_date)``) and ``"meta"`` (one row per
``(source, source_model)``, ``source_model`` being the LMArena model key), in the contracts of
:data:`divergence.schema.READER_SCHEMAS`. ``model_key`` is the LMArena key verbatim
(``RWKV-4-Raven-14B`` keeps its capitals); sources with display names only get it through the
crosswalk below. ``board`` is ``"raw"`` (no style control) or ``"style"``; ``category``
``"full"`` is the overall board. Ratings and CI bounds must be finite and in ``[0, 3000]``.
Any malformed file raises :class:`~divergence.errors.SourceError` naming file, column/key, row.
Rows dropped by rule are counted in :data:`LAST_DROPPED`.

Sources (under ``raw/arena``)
-----------------------------
``lmarena-arena-catalog/`` -> ``"lmarena-catalog"`` (lmarena/arena-catalog, official; no
    license file; 2025-01-28 to 2025-12-17). ``text/*.json`` (``raw``) and
    ``text_style_control/*.json`` (``style``), every dated version (``leaderboard-data*`` before
    2025-03-07); snapshot date from the file name. Format ``{category: {model_key: {rating,
    rating_q025, rating_q975}}}``, every category kept (``full``, ``coding``, ``math``,
    ``hard_6``, languages, ``no_refusal``, ..., from 2025-11-06 ``expert`` and 8 ``industry_*``);
    lo/hi = q025/q975. Defect handled: in ``text/`` of 2025-01-28 and 2025-02-05, ``full`` and
    ``hard_6`` are the style-controlled boards (within 0.3 of the 2025-02-28 style file, 17
    points off the raw one; other categories are raw), so those rows get board ``style``.
    2025-05-20 and 2025-05-21 are identical upstream (both kept); style ratings re-anchor on
    2025-05-20. ``vision*/``, ``image/``, ``pricing/`` are not text boards: not read.
``arena-ai-scrape/`` -> ``"arena-ai-scrape"`` (SmallAi-API/LLM-Ranking, scraper of arena.ai;
    no license file; 2026-02-27 to 2026-03-27). ``leaderboard-text/`` (``raw``) and
    ``leaderboard-text-style-control/`` (``style``), same format, integer ratings, symmetric
    CIs. Categories ``no_refusal`` and ``no_short`` (stale copies from 2025-12) are dropped. Two
    versions share 2026-02-27: ``eeff8dc`` is the repository's initial commit (the seed, no
    stated scrape date, 3 entries fewer than ``81f862c``) and is dropped.
    ``leaderboard-vision*`` is not read.
``jasontrigg0-chatbot-arena-history/`` -> ``"jasontrigg0"`` (no license file). ``alltime.csv``
    (``key, Model, rating, License, Organization, date`` as ``YYYYMMDD``): overall board
    (``raw``/``full``), no CI. Its 96 repeated ``(key, date)`` rows are exact duplicates, dropped
    (a conflicting repeat would keep the first row in file order). Online-Elo snapshots are
    dropped: every date before 2024-03-27 (not only the two oldest) equals nakasyou's online Elo
    value for value and not the published rating (gpt-4-0314: 1125 on 2023-12-06, published
    1201; from 2024-03-27 the values match fboulnois within rounding). No model is lost: every
    earlier key reappears later except renamed aliases (``gpt-4``, ``claude-v1``, ...).
    ``key_to_model.csv`` and the ``(key, Model)`` pairs of ``alltime.csv`` (all dates) form the
    crosswalk. Meta: latest ``alltime`` row per key, ``key_to_model`` for keys absent there.
    ``alltime_by_org.csv`` (per-organisation maxima) is not read.
``nakasyou-lmarena-history/result.csv`` -> ``"nakasyou"`` (MIT). Wide: first column the date
    (``YYYYMMDD``), one column per key, ``0.0`` = absent; ``raw``/``full``, no CI. Dates before
    2024-06-29 hold the online Elo (2024-03-27..06-26 they sit 60-100 points under jasontrigg0,
    Spearman ~0.85) and are dropped; later dates equal jasontrigg0. A repeated date keeps its
    first row. (The header is checked here: keys like ``claude-2.0`` beside ``claude-2`` trip
    the shared duplicate-header heuristic.)
``fboulnois-llm-leaderboard-csv/`` -> ``"fboulnois"`` (MPL-2.0). ``lmsys_history/lmsys_<date>.csv``
    and ``lmarena_latest/lmarena_text_<date>.csv`` (same columns, to 2025-08-04; image and
    vision files not read): ``model`` (display name), ``arena_score`` (``arena_elo`` in the
    oldest file), ``95_pct_ci`` ``+p/-m`` -> lo/hi = score - m / score + p; overall board
    without style control (``raw``/``full``). ``rank_stylectrl`` is only a rank: ignored.
    Display name -> key (case-insensitive): pairs from jasontrigg0 ``alltime.csv`` first, then
    ``key_to_model.csv``, then utterstep tables; a name paired with several keys (renamed keys,
    e.g. ``Gemini-1.5-Pro-001`` was ``gemini-1.5-pro-api-0514`` until 2024-10) takes the pairing
    nearest in date to the snapshot (ties: later pairing, then smaller key). Otherwise a name
    equal to a known arena key (exactly, else case-insensitively and uniquely) is that key.
    Unmapped rows are dropped: 64 rows, 6 names (``Claude Opus 4 (20250514)``, ``Claude Sonnet
    4 (20250514)``, their thinking variants, ``Gemini-2.5-Pro-Preview-06-05``, ``Mistral
    Medium 3``). Rows of one file mapping to one key (``Yi-34B-Chat`` listed twice upstream)
    keep the first. Mapped ratings agree with jasontrigg0/catalog within 4 points.
``mayerwin-AI-Arena-History/flagship_elo_history.csv`` -> ``"mayerwin"`` (MIT). ``mode, lab,
    date, model_name, rating``: top flagship per lab and date from lmarena-ai's
    leaderboard-dataset (``overall``, no style control -> ``raw``/``full``); the only source
    spanning 2025-08 to 2025-11. Both modes repeat identical ``(model_name, date)`` ratings:
    deduplicated (a conflict keeps ``highest``). Upstream folds inference-mode variants
    (``-thinking[-Nk]``, ``-[fast-]reasoning``, OpenAI ``-high/-medium/-low``) into a base name
    carrying the best variant's rating (``gpt-5.4`` is really ``gpt-5.4-high``), so names are
    resolved with the same rule over the keys of the other sources: one known variant -> that
    key (``gpt-5`` -> ``gpt-5-high``); none -> name verbatim; several -> row dropped (unknown
    which was rated). Dates before 2024-01-09 equal jasontrigg0's online Elo: dropped. No meta
    (``lab`` is a coarse grouping, not an organisation).
``utterstep-chatbot-arena-leaderboard-vis/leaderboard_tables/leaderboard_table_<YYYYMMDD>.csv``
    -> ``"utterstep"`` (no license file): meta and crosswalk only. LMArena's metadata tables;
    from 2024 on with ``key, Model, ..., License, Organization`` (the 2023 tables have no key
    column and are not read). Latest table wins per key (first row within a table).
    ``elo_data.json`` and ``arena_hard_auto_leaderboard_v0.1.csv`` are not read.

Meta: ``display_name`` and ``organization`` verbatim (blank -> None). ``open_weights`` from the
license label: ``Proprietary`` (and typo ``Propretary``) -> False; a named open or community
license (Apache 2.0, MIT, Llama*, Gemma, Qwen/Qianwen, DeepSeek, Yi, CC-BY-NC*, CC-BY-SA,
Falcon, DBRX, Jamba Open, MRL/Mistral Research, NVIDIA, NexusFlow, AI2 ImpACT, and
``Non-commercial``, which LMArena gives the 2023 LLaMA-derived weight releases) -> True;
``Other``, ``-``, blank or unlisted -> None. ``release_date``, ``reasoning``, ``params_b``:
None (no source states them). The catalog, scrape, nakasyou and mayerwin give no meta rows.

Conflicts: each source yields unique rating keys by the rules above; two files of one source
with the same board and date keep the one with more rows (ties: the later file name).
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from divergence.errors import SourceError
from divergence.schema import RATING_BOUNDS_OTHER, READER_SCHEMAS, validate
from divergence.sources._io import (
    file_date,
    files,
    numeric_column,
    parse_dates,
    read_csv,
    read_json,
    require_columns,
    resolve_duplicates,
)
from divergence.sources.base import Source, Upstream

# Parse-time bounds for any arena rating cell (board-specific ones in
# :data:`divergence.schema.RATING_BOUNDS`): outside them a cell cannot be an Elo-scale rating.
RATING_LO, RATING_HI = RATING_BOUNDS_OTHER
# Interval bounds of a model with a handful of votes can be far wider than any rating.
CI_BOUNDS = (0.0, 3000.0)

SOURCE_CATALOG = "lmarena-catalog"
SOURCE_SCRAPE = "arena-ai-scrape"
SOURCE_JASON = "jasontrigg0"
SOURCE_NAKASYOU = "nakasyou"
SOURCE_FBOULNOIS = "fboulnois"
SOURCE_MAYERWIN = "mayerwin"
SOURCE_UTTERSTEP = "utterstep"

RATING_KEYS = ["source", "model_key", "board", "category", "snapshot_date"]

_CATALOG_STYLE_IN_TEXT = (pd.Timestamp("2025-01-28"), pd.Timestamp("2025-02-05"))
_CATALOG_STYLE_CATEGORIES = ("full", "hard_6")
_SCRAPE_DROP_CATEGORIES = frozenset({"no_refusal", "no_short"})
_SCRAPE_SEED_COMMITS = frozenset({"eeff8dc"})
_JASON_FIRST_BT = pd.Timestamp("2024-03-27")
_NAKASYOU_FIRST_BT = pd.Timestamp("2024-06-29")
_MAYERWIN_FIRST_BT = pd.Timestamp("2024-01-09")
_UTTERSTEP_FIRST_KEYED = pd.Timestamp("2024-01-01")

_CLOSED_LICENSES = frozenset({"proprietary", "propretary"})
_OPEN_LICENSES = frozenset(
    {
        "ai2 impact low-risk",
        "apache 2.0",
        "apache-2.0",
        "cc-by-nc-4.0",
        "cc-by-nc-sa-4.0",
        "cc-by-sa 3.0",
        "cogvlm2",
        "dbrx license",
        "deepseek",
        "deepseek license",
        "falcon-180b tii license",
        "flux-1-dev",
        "gemma",
        "gemma license",
        "jamba open",
        "llama",
        "llama 2 community",
        "llama 3 community",
        "llama 3.1",
        "llama 3.1 community",
        "llama 3.2",
        "llama 4",
        "llama-3.3",
        "mistral research",
        "mit",
        "modified mit",
        "mrl",
        "nexusflow",
        "non-commercial",
        "nvidia",
        "nvidia open model",
        "open",
        "qianwen license",
        "qwen",
        "stability ai",
        "yi license",
    }
)

_CI_RE = re.compile(r"^\s*\+\s*(\d+(?:\.\d+)?)\s*/\s*-\s*(\d+(?:\.\d+)?)\s*$")
_COMMIT_RE = re.compile(r"_\d{4}-\d{2}-\d{2}_([0-9a-fA-F]+)\.json$")

#: Rows dropped by the last :func:`read_arena` call, by reason (for reports and tests).
LAST_DROPPED: dict[str, int] = {}


# ----------------------------------------------------------------------------- helpers


def _count(reason: str, n: int = 1) -> None:
    """Add ``n`` to the :data:`LAST_DROPPED` counter of ``reason``."""
    LAST_DROPPED[reason] = LAST_DROPPED.get(reason, 0) + n


def _score(
    value: object,
    path: Path,
    column: str,
    row: str,
    required: bool,
    lo: float = RATING_LO,
    hi: float = RATING_HI,
) -> float:
    """One JSON rating value as float; raise on text, bool, null (if required), inf, range."""
    if type(value) is float or type(value) is int:
        out = float(value)
    elif value is None and not required:
        return math.nan
    else:
        problem = "missing value" if value is None else f"non-numeric value {value!r}"
        raise SourceError(path, problem, column=column, row=row)
    if not lo <= out <= hi:  # also rejects NaN/inf
        raise SourceError(path, f"value {out!r} out of range [{lo}, {hi}]", column=column, row=row)
    return out


def _frame(
    rows: Mapping[str, list[Any] | np.ndarray] | pd.DataFrame,
    source: str,
    board: str | None = None,
    category: str | None = None,
    snapshot_date: pd.Timestamp | None = None,
) -> pd.DataFrame:
    """Build a ratings frame from columns, filling the constant ones given."""
    df = pd.DataFrame(rows)
    df["source"] = source
    for col, value in (("board", board), ("category", category), ("snapshot_date", snapshot_date)):
        if value is not None:
            df[col] = value
    for col in ("rating_lo", "rating_hi"):
        if col not in df.columns:
            df[col] = np.nan
    return df[list(READER_SCHEMAS["ratings"])]


def _blank_to_none(s: pd.Series) -> pd.Series:
    """Strip strings; blank or missing cells become None (object dtype)."""
    out = s.astype(object).where(s.notna(), None)
    return out.map(lambda v: None if v is None or not str(v).strip() else str(v).strip())


def _required_text(df: pd.DataFrame, col: str, path: Path, row_offset: int = 2) -> pd.Series:
    """A text column with no blank cell, stripped, as object dtype."""
    out = _blank_to_none(df[col])
    bad = out.isna().to_numpy()
    if bad.any():
        raise SourceError(
            path, "missing value", column=col, row=int(np.flatnonzero(bad)[0]) + row_offset
        )
    return out


def open_weights_from_license(label: object) -> bool | None:
    """Open-weights flag from an LMArena license label.

    Parameters
    ----------
    label : str or None
        License label as printed by LMArena (``"Proprietary"``, ``"Apache 2.0"``, ...).

    Returns
    -------
    bool or None
        False for proprietary, True for a named open/community license, None otherwise.
    """
    if label is None or (isinstance(label, float) and math.isnan(label)):
        return None
    norm = " ".join(str(label).strip().lower().split())
    if norm in _CLOSED_LICENSES:
        return False
    if norm in _OPEN_LICENSES:
        return True
    return None


def _meta_frame(df: pd.DataFrame, source: str) -> pd.DataFrame:
    """Meta rows from columns ``key, name, org, license`` (one row per key already)."""
    out = pd.DataFrame(
        {
            "source": source,
            "source_model": df["key"].to_numpy(dtype=object),
            "display_name": _blank_to_none(df["name"]).to_numpy(dtype=object),
            "organization": _blank_to_none(df["org"]).to_numpy(dtype=object),
            "open_weights": [open_weights_from_license(v) for v in _blank_to_none(df["license"])],
        }
    )
    out["release_date"] = pd.NaT
    out["reasoning"] = None
    out["params_b"] = np.nan
    return out[list(READER_SCHEMAS["meta"])]


# ----------------------------------------------------------------- JSON leaderboards


def _read_board_json(path: Path, drop: Iterable[str] = ()) -> dict[str, list]:
    """Rows of one ``{category: {key: {rating, rating_q025, rating_q975}}}`` file."""
    data = read_json(path)
    if not isinstance(data, dict):
        raise SourceError(path, f"expected an object of categories, got {type(data).__name__}")
    if "full" not in data:
        raise SourceError(path, "missing key", column="full")
    drop = set(drop)
    keys: list[str] = []
    cats: list[str] = []
    rating: list[float] = []
    lo: list[float] = []
    hi: list[float] = []
    for cat, models in data.items():
        if cat in drop:
            continue
        if not isinstance(models, dict):
            raise SourceError(
                path, f"expected an object of models, got {type(models).__name__}", row=repr(cat)
            )
        for key, rec in models.items():
            where = f"{cat}/{key}"
            if not isinstance(rec, dict):
                raise SourceError(path, f"expected an object, got {type(rec).__name__}", row=where)
            for name in ("rating", "rating_q025", "rating_q975"):
                if name not in rec:
                    raise SourceError(path, "missing key", column=name, row=where)
            if not key.strip():
                raise SourceError(path, "empty model key", row=repr(cat))
            keys.append(key)
            cats.append(cat)
            rating.append(_score(rec["rating"], path, "rating", where, True))
            lo.append(_score(rec["rating_q025"], path, "rating_q025", where, False, *CI_BOUNDS))
            hi.append(_score(rec["rating_q975"], path, "rating_q975", where, False, *CI_BOUNDS))
    if not keys:
        raise SourceError(path, "no ratings in file")
    return {"model_key": keys, "category": cats, "rating": rating, "rating_lo": lo, "rating_hi": hi}


def _read_boards(
    folders: dict[str, Path],
    source: str,
    drop: Iterable[str] = (),
    skip_commits: frozenset[str] = frozenset(),
) -> pd.DataFrame:
    """Read dated leaderboard JSON files (``board -> folder``), one file per board and date."""
    frames: list[pd.DataFrame] = []
    for board, folder in folders.items():
        chosen: dict[pd.Timestamp, tuple[int, str, pd.DataFrame]] = {}
        for path in files(folder, "*.json"):
            m = _COMMIT_RE.search(path.name)
            if m and m.group(1).lower() in skip_commits:
                _count(f"{source}: seed files")
                continue
            date = file_date(path)
            df = _frame(_read_board_json(path, drop), source, board=board, snapshot_date=date)
            cand = (len(df), path.name, df)
            if date in chosen:
                _count(f"{source}: files superseded by a same-date file")
            if date not in chosen or cand[:2] > chosen[date][:2]:
                chosen[date] = cand
        frames.extend(v[2] for v in chosen.values())
    return pd.concat(frames, ignore_index=True)


def _read_catalog(raw: Path) -> pd.DataFrame:
    """lmarena-arena-catalog: text (raw) and text_style_control (style) boards."""
    base = raw / "arena" / "lmarena-arena-catalog"
    df = _read_boards({"raw": base / "text", "style": base / "text_style_control"}, SOURCE_CATALOG)
    mislabelled = (
        (df["board"] == "raw")
        & df["snapshot_date"].isin(_CATALOG_STYLE_IN_TEXT)
        & df["category"].isin(_CATALOG_STYLE_CATEGORIES)
    )
    df.loc[mislabelled, "board"] = "style"
    return df


def _read_scrape(raw: Path) -> pd.DataFrame:
    """arena-ai-scrape: text boards without stale categories and without the seed commit."""
    base = raw / "arena" / "arena-ai-scrape"
    return _read_boards(
        {"raw": base / "leaderboard-text", "style": base / "leaderboard-text-style-control"},
        SOURCE_SCRAPE,
        drop=_SCRAPE_DROP_CATEGORIES,
        skip_commits=_SCRAPE_SEED_COMMITS,
    )


# ---------------------------------------------------------------------- jasontrigg0


def _read_jasontrigg0(raw: Path) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """jasontrigg0 history: (ratings, meta, crosswalk evidence)."""
    base = raw / "arena" / "jasontrigg0-chatbot-arena-history"
    path = base / "alltime.csv"
    cols = ["key", "Model", "rating", "License", "Organization", "date"]
    df = read_csv(path, required=cols, dtype=str, keep_default_na=False)
    df = df[cols].copy()
    df["key"] = _required_text(df, "key", path)
    df["rating"] = numeric_column(
        df, "rating", path, allow_missing=False, lo=RATING_LO, hi=RATING_HI
    )
    df["date"] = parse_dates(df["date"], "date", path, fmt="%Y%m%d")
    if df["date"].isna().any():
        raise SourceError(
            path,
            "missing value",
            column="date",
            row=int(np.flatnonzero(df["date"].isna().to_numpy())[0]) + 2,
        )
    if df.empty:
        raise SourceError(path, "no data rows")
    df["order"] = np.arange(len(df))
    n = len(df)
    df = df.drop_duplicates(subset=cols)
    LAST_DROPPED[f"{SOURCE_JASON}: exact duplicate rows"] = n - len(df)
    n = len(df)
    df = resolve_duplicates(df, ["key", "date"], ["rating"], path, "first row in the file")
    LAST_DROPPED[f"{SOURCE_JASON}: conflicting duplicate (key, date)"] = n - len(df)

    keep = df["date"] >= _JASON_FIRST_BT
    LAST_DROPPED[f"{SOURCE_JASON}: online-Elo rows before 2024-03-27"] = int((~keep).sum())
    kept = df[keep]
    ratings = _frame(
        {
            "model_key": kept["key"].to_numpy(object),
            "snapshot_date": kept["date"].to_numpy(),
            "rating": kept["rating"].to_numpy(),
        },
        SOURCE_JASON,
        board="raw",
        category="full",
    )

    k2m_path = base / "key_to_model.csv"
    k2m_cols = ["key", "Model", "License", "Organization"]
    k2m = read_csv(k2m_path, required=k2m_cols, dtype=str, keep_default_na=False)
    k2m["key"] = _required_text(k2m, "key", k2m_path)
    k2m = k2m.drop_duplicates(subset=["key"], keep="first")

    latest = df.sort_values(["date", "order"]).drop_duplicates("key", keep="last")
    meta_src = pd.concat(
        [
            latest.rename(columns={"Model": "name", "Organization": "org", "License": "license"}),
            k2m[~k2m["key"].isin(latest["key"])].rename(
                columns={"Model": "name", "Organization": "org", "License": "license"}
            ),
        ],
        ignore_index=True,
    )
    meta = _meta_frame(meta_src, SOURCE_JASON)

    evidence = pd.concat(
        [
            pd.DataFrame(
                {
                    "name": _blank_to_none(df["Model"]).to_numpy(object),
                    "key": df["key"].to_numpy(object),
                    "date": df["date"].to_numpy(),
                    "tier": 0,
                }
            ),
            pd.DataFrame(
                {
                    "name": _blank_to_none(k2m["Model"]).to_numpy(object),
                    "key": k2m["key"].to_numpy(object),
                    "date": pd.NaT,
                    "tier": 1,
                }
            ),
        ],
        ignore_index=True,
    )
    return ratings, meta, evidence


# ------------------------------------------------------------------------ nakasyou


def _read_nakasyou(raw: Path) -> pd.DataFrame:
    """nakasyou wide history (dates x keys, 0.0 = absent)."""
    path = raw / "arena" / "nakasyou-lmarena-history" / "result.csv"
    # header=None: model keys such as "claude-2.0" next to "claude-2" would trip the
    # shared duplicate-header heuristic, so the header row is checked here instead.
    grid = read_csv(path, header=None, dtype=str, keep_default_na=False)
    if len(grid) < 2 or grid.shape[1] < 2:
        raise SourceError(path, "no data rows or no model columns")
    header = [str(v).strip() for v in grid.iloc[0].tolist()]
    keys = header[1:]
    seen: set[str] = set()
    for i, key in enumerate(keys, start=2):
        if not key:
            raise SourceError(path, "empty model key in header", row=1, column=f"#{i}")
        if key in seen:
            raise SourceError(path, "duplicate column header", column=key)
        seen.add(key)
    body = grid.iloc[1:].reset_index(drop=True)
    body.columns = ["date", *keys]
    dates = parse_dates(body["date"], "date", path, fmt="%Y%m%d")
    if dates.isna().any():
        raise SourceError(
            path,
            "missing value",
            column="date",
            row=int(np.flatnonzero(dates.isna().to_numpy())[0]) + 2,
        )
    values = np.column_stack(
        [
            numeric_column(body, key, path, allow_missing=False, lo=0.0, hi=RATING_HI).to_numpy()
            for key in keys
        ]
    )
    low = (values > 0.0) & (values < RATING_LO)  # 0 marks "not on the board that day"
    if low.any():
        r, c = (int(v[0]) for v in np.nonzero(low))
        raise SourceError(
            path,
            f"value {values[r, c]!r} out of range [{RATING_LO}, {RATING_HI}] (0 = absent)",
            column=keys[c],
            row=r + 2,
        )
    dup = dates.duplicated(keep="first").to_numpy()
    LAST_DROPPED[f"{SOURCE_NAKASYOU}: repeated date rows"] = int(dup.sum())
    keep_row = ~dup & (dates >= _NAKASYOU_FIRST_BT).to_numpy()
    present = values > 0.0
    LAST_DROPPED[f"{SOURCE_NAKASYOU}: online-Elo values before 2024-06-29"] = int(
        (present & ~dup[:, None] & ~keep_row[:, None]).sum()
    )
    rows, cols = np.nonzero(present & keep_row[:, None])
    return _frame(
        {
            "model_key": np.asarray(keys, dtype=object)[cols],
            "snapshot_date": dates.to_numpy()[rows],
            "rating": values[rows, cols],
        },
        SOURCE_NAKASYOU,
        board="raw",
        category="full",
    )


# ----------------------------------------------------------------------- utterstep


def _read_utterstep(raw: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """utterstep metadata tables: (meta, crosswalk evidence)."""
    folder = raw / "arena" / "utterstep-chatbot-arena-leaderboard-vis" / "leaderboard_tables"
    cols = ["key", "Model", "License", "Organization"]
    parts = []
    for path in files(folder, "leaderboard_table_*.csv"):
        date = file_date(path)
        if date < _UTTERSTEP_FIRST_KEYED:
            continue  # 2023 tables: display names only, no key column (documented)
        df = read_csv(path, required=cols, dtype=str, keep_default_na=False)
        if df.empty:
            raise SourceError(path, "no data rows")
        df = df[cols].copy()
        df["key"] = _required_text(df, "key", path)
        df["date"] = date
        df["order"] = np.arange(len(df))
        parts.append(df)
    if not parts:
        raise SourceError(folder, "no keyed leaderboard tables")
    tables = pd.concat(parts, ignore_index=True)
    latest = tables.sort_values(["date", "order"], ascending=[False, True]).drop_duplicates(
        "key", keep="first"
    )
    meta = _meta_frame(
        latest.rename(columns={"Model": "name", "Organization": "org", "License": "license"}),
        SOURCE_UTTERSTEP,
    )
    evidence = pd.DataFrame(
        {
            "name": _blank_to_none(tables["Model"]).to_numpy(object),
            "key": tables["key"].to_numpy(object),
            "date": tables["date"].to_numpy(),
            "tier": 2,
        }
    )
    return meta, evidence


# ----------------------------------------------------------------------- fboulnois


class _NameResolver:
    """Display name -> LMArena key, date-aware for names paired with several keys."""

    def __init__(self, evidence: pd.DataFrame, known_keys: Iterable[str]) -> None:
        ev = evidence.dropna(subset=["name", "key"])
        by_name: dict[str, set[tuple[int, pd.Timestamp, str]]] = defaultdict(set)
        for name, key, date, tier in zip(
            ev["name"], ev["key"], ev["date"], ev["tier"], strict=True
        ):
            by_name[name.casefold()].add((int(tier), date, key))
        self._single: dict[str, str] = {}
        self._several: dict[str, list[tuple[pd.Timestamp, str]]] = {}
        for name, cands in by_name.items():
            keys = {c[2] for c in cands}
            if len(keys) == 1:
                self._single[name] = keys.pop()
            else:
                tier = min(c[0] for c in cands)
                self._several[name] = [(d, k) for t, d, k in cands if t == tier]
        self._known = set(known_keys)
        folded: dict[str, set[str]] = defaultdict(set)
        for key in self._known:
            folded[key.casefold()].add(key)
        self._folded = {k: next(iter(v)) for k, v in folded.items() if len(v) == 1}
        self._cache: dict[tuple[str, pd.Timestamp], str | None] = {}

    def resolve(self, name: str, date: pd.Timestamp) -> str | None:
        """Key for ``name`` on ``date``, or None when unknown."""
        folded = name.casefold()
        if folded in self._single:
            return self._single[folded]
        if (folded, date) in self._cache:
            return self._cache[(folded, date)]
        cands = self._several.get(folded)
        if cands:
            best = None
            for d, key in cands:
                gap = math.inf if pd.isna(d) else abs((d - date).days)
                stamp = -math.inf if pd.isna(d) else d.value
                rank = (gap, -stamp, key)
                if best is None or rank < best[0]:
                    best = (rank, key)
            assert best is not None  # cands is non-empty
            out: str | None = best[1]
        elif name in self._known:
            out = name
        else:
            out = self._folded.get(folded)
        self._cache[(folded, date)] = out
        return out


def _read_fboulnois(raw: Path, resolver: _NameResolver) -> tuple[pd.DataFrame, pd.DataFrame]:
    """fboulnois overall-board CSVs: (ratings, meta) after display name -> key mapping."""
    base = raw / "arena" / "fboulnois-llm-leaderboard-csv"
    paths = files(base / "lmsys_history", "lmsys_*.csv") + files(
        base / "lmarena_latest", "lmarena_text_*.csv"
    )
    ratings, metas = [], []
    unmapped_rows = 0
    unmapped_names: set[str] = set()
    chosen: dict[pd.Timestamp, tuple[int, str, pd.DataFrame]] = {}
    for order, path in enumerate(paths):
        date = file_date(path)
        df = read_csv(
            path,
            required=["model", "95_pct_ci", "organization", "license"],
            dtype=str,
            keep_default_na=False,
        )
        # the oldest file calls the score "arena_elo"
        score_col = "arena_elo" if "arena_elo" in df.columns else "arena_score"
        require_columns(df, [score_col], path)
        if df.empty:
            raise SourceError(path, "no data rows")
        name = _required_text(df, "model", path)
        score = numeric_column(df, score_col, path, allow_missing=False, lo=RATING_LO, hi=RATING_HI)
        ci = df["95_pct_ci"].astype(str).str.strip()
        blank = ci.isin(["", "-", "nan", "N/A"]).to_numpy()
        parts = ci.str.extract(_CI_RE)
        bad = parts[0].isna().to_numpy() & ~blank
        if bad.any():
            pos = int(np.flatnonzero(bad)[0])
            raise SourceError(
                path,
                f"malformed CI {ci.iloc[pos]!r} (expected '+p/-m')",
                column="95_pct_ci",
                row=pos + 2,
            )
        hi = score.to_numpy() + pd.to_numeric(parts[0]).to_numpy(dtype=float, na_value=np.nan)
        lo = score.to_numpy() - pd.to_numeric(parts[1]).to_numpy(dtype=float, na_value=np.nan)
        keys = [resolver.resolve(n, date) for n in name]
        mapped = np.array([k is not None for k in keys])
        unmapped_rows += int((~mapped).sum())
        unmapped_names.update(n for n, k in zip(name, keys, strict=True) if k is None)
        part = pd.DataFrame(
            {
                "model_key": np.asarray(keys, dtype=object),
                "rating": score.to_numpy(),
                "rating_lo": lo,
                "rating_hi": hi,
                "name": name.to_numpy(object),
                "org": df["organization"].to_numpy(object),
                "license": df["license"].to_numpy(object),
            }
        )[mapped]
        part = part.drop_duplicates("model_key", keep="first")
        part["snapshot_date"] = date
        part["order"] = order
        cand = (len(part), path.name, part)
        if date not in chosen or cand[:2] > chosen[date][:2]:
            chosen[date] = cand
    for _, _, part in chosen.values():
        ratings.append(
            _frame(
                part.drop(columns=["name", "org", "license", "order"]),
                SOURCE_FBOULNOIS,
                board="raw",
                category="full",
            )
        )
        metas.append(part)
    LAST_DROPPED[f"{SOURCE_FBOULNOIS}: rows with unmapped display names"] = unmapped_rows
    LAST_DROPPED[f"{SOURCE_FBOULNOIS}: distinct unmapped display names"] = len(unmapped_names)
    allparts = pd.concat(metas, ignore_index=True)
    latest = (
        allparts.sort_values(["snapshot_date", "order"])
        .drop_duplicates("model_key", keep="last")
        .rename(columns={"model_key": "key"})
    )
    return pd.concat(ratings, ignore_index=True), _meta_frame(latest, SOURCE_FBOULNOIS)


# ------------------------------------------------------------------------ mayerwin


def _base_model_name(name: str) -> str:
    """Upstream mayerwin rule merging inference-mode variants into a base name."""
    n = re.sub(r"-thinking(?:-\d+k)?$", "", name, flags=re.IGNORECASE)
    n = re.sub(r"-(?:fast-)?reasoning(?:-\d+)?$", "", n, flags=re.IGNORECASE)
    if re.match(r"^(?:gpt-|o\d)", n, flags=re.IGNORECASE):
        n = re.sub(r"-(?:high|medium|low)$", "", n, flags=re.IGNORECASE)
    return n


def _read_mayerwin(raw: Path, known_keys: Iterable[str]) -> pd.DataFrame:
    """mayerwin flagship history with base names resolved to keys where unambiguous."""
    path = raw / "arena" / "mayerwin-AI-Arena-History" / "flagship_elo_history.csv"
    cols = ["mode", "lab", "date", "model_name", "rating"]
    df = read_csv(path, required=cols, dtype=str, keep_default_na=False)
    if df.empty:
        raise SourceError(path, "no data rows")
    df = df[cols].copy()
    df["model_name"] = _required_text(df, "model_name", path)
    df["rating"] = numeric_column(
        df, "rating", path, allow_missing=False, lo=RATING_LO, hi=RATING_HI
    )
    df["date"] = parse_dates(df["date"], "date", path)
    if df["date"].isna().any():
        raise SourceError(
            path,
            "missing value",
            column="date",
            row=int(np.flatnonzero(df["date"].isna().to_numpy())[0]) + 2,
        )
    df["pref"] = (df["mode"].str.strip() != "highest").astype(int)
    df["order"] = np.arange(len(df))
    df = resolve_duplicates(
        df.sort_values(["pref", "order"]),
        ["model_name", "date"],
        ["rating"],
        path,
        "mode 'highest' first, then file order",
    )

    variants: dict[str, set[str]] = defaultdict(set)
    for key in known_keys:
        variants[_base_model_name(key)].add(key)
    resolved = {}
    for name in df["model_name"].unique():
        found = variants.get(name, set())
        resolved[name] = name if not found else (next(iter(found)) if len(found) == 1 else None)
    df["model_key"] = df["model_name"].map(resolved)
    ambiguous = df["model_key"].isna()
    LAST_DROPPED[f"{SOURCE_MAYERWIN}: base names with several known variants"] = int(
        ambiguous.sum()
    )
    early = df["date"] < _MAYERWIN_FIRST_BT
    LAST_DROPPED[f"{SOURCE_MAYERWIN}: online-Elo rows before 2024-01-09"] = int(
        (early & ~ambiguous).sum()
    )
    df = df[~ambiguous & ~early]
    # two base names can only share a key if both are verbatim keys: keep the first
    df = resolve_duplicates(
        df.sort_values(["date", "order"]),
        ["model_key", "date"],
        ["rating"],
        path,
        "first row in the file",
    )
    return _frame(
        {
            "model_key": df["model_key"].to_numpy(object),
            "snapshot_date": df["date"].to_numpy(),
            "rating": df["rating"].to_numpy(),
        },
        SOURCE_MAYERWIN,
        board="raw",
        category="full",
    )


# -------------------------------------------------------------------------- public


def read_arena(raw: str | Path) -> dict[str, pd.DataFrame]:
    """Read every LMArena rating source and the arena model metadata.

    Parameters
    ----------
    raw : str or Path
        The raw data root (the folder holding ``arena/``).

    Returns
    -------
    dict of str to pandas.DataFrame
        ``"ratings"`` (``READER_SCHEMAS["ratings"]``, unique and sorted by source, model_key,
        board, category, snapshot_date) and ``"meta"`` (``READER_SCHEMAS["meta"]``, one row
        per source and LMArena key, sorted).

    Raises
    ------
    SourceError
        On any missing or malformed input file, naming the file (and column/row).
    """
    raw = Path(raw)
    LAST_DROPPED.clear()
    catalog = _read_catalog(raw)
    scrape = _read_scrape(raw)
    jason, jason_meta, jason_ev = _read_jasontrigg0(raw)
    nakasyou = _read_nakasyou(raw)
    utter_meta, utter_ev = _read_utterstep(raw)

    known = set(catalog["model_key"]) | set(scrape["model_key"]) | set(jason["model_key"])
    known |= set(nakasyou["model_key"]) | set(jason_ev["key"].dropna())
    known |= set(utter_ev["key"].dropna())
    resolver = _NameResolver(pd.concat([jason_ev, utter_ev], ignore_index=True), known)
    fboulnois, fb_meta = _read_fboulnois(raw, resolver)
    mayerwin = _read_mayerwin(raw, known)

    ratings = pd.concat([catalog, scrape, jason, nakasyou, fboulnois, mayerwin], ignore_index=True)
    ratings = validate(ratings, "ratings", origin=str(raw / "arena"))
    dup = ratings.duplicated(RATING_KEYS)
    if dup.any():
        row = ratings[dup].iloc[0]
        raise SourceError(
            raw / "arena",
            "duplicate rating key after resolution",
            row=f"{row['source']}/{row['model_key']}/{row['category']}",
        )
    ratings = ratings.sort_values(RATING_KEYS, kind="mergesort").reset_index(drop=True)

    meta = pd.concat([jason_meta, utter_meta, fb_meta], ignore_index=True)
    meta = validate(meta, "meta", origin=str(raw / "arena"))
    meta = meta.sort_values(["source", "source_model"], kind="mergesort").reset_index(drop=True)
    return {"ratings": ratings, "meta": meta}


def list_arena_keys(ratings: pd.DataFrame) -> pd.DataFrame:
    """One row per LMArena key seen in ``ratings``.

    Parameters
    ----------
    ratings : pandas.DataFrame
        The ``"ratings"`` table of :func:`read_arena`.

    Returns
    -------
    pandas.DataFrame
        Columns ``model_key`` (str), ``first_seen`` / ``last_seen`` (earliest / latest
        ``snapshot_date`` over all sources, boards and categories) and ``n_snapshots``
        (int64: distinct snapshot dates), sorted by ``model_key``.
    """
    if ratings.empty:
        return pd.DataFrame(
            {
                "model_key": pd.Series([], dtype=object),
                "first_seen": pd.Series([], dtype="datetime64[ns]"),
                "last_seen": pd.Series([], dtype="datetime64[ns]"),
                "n_snapshots": pd.Series([], dtype="int64"),
            }
        )
    g = ratings.groupby("model_key", sort=True)["snapshot_date"]
    out = pd.DataFrame(
        {
            "first_seen": g.min(),
            "last_seen": g.max(),
            "n_snapshots": g.nunique().astype("int64"),
        }
    ).reset_index()
    out["model_key"] = out["model_key"].astype(object)
    out["first_seen"] = out["first_seen"].astype("datetime64[ns]")
    out["last_seen"] = out["last_seen"].astype("datetime64[ns]")
    return out[["model_key", "first_seen", "last_seen", "n_snapshots"]]


__all__ = ["read_arena", "list_arena_keys", "open_weights_from_license"]


# Attribution and terms of the folders this reader reads (shipped in SOURCES.md).
SPEC = Source(
    name="arena",
    upstreams=(
        Upstream(
            folder="arena/lmarena-arena-catalog",
            upstream="github.com/lmarena/arena-catalog",
            license="none stated (LMArena terms)",
            what="official leaderboard JSON versions 2025-01-28 to 2025-12-17",
            feeds=("lmarena-catalog",),
        ),
        Upstream(
            folder="arena/arena-ai-scrape",
            upstream="github.com/SmallAi-API/LLM-Ranking",
            license="none stated (arena.ai terms)",
            what="scrapes of arena.ai text boards 2026-02-27 to 2026-03-27",
            feeds=("arena-ai-scrape",),
        ),
        Upstream(
            folder="arena/jasontrigg0-chatbot-arena-history",
            upstream="github.com/jasontrigg0/chatbot-arena-history",
            license="none stated",
            what="overall rating history 2023-05 to 2025-03, key crosswalk",
            feeds=("jasontrigg0",),
        ),
        Upstream(
            folder="arena/nakasyou-lmarena-history",
            upstream="github.com/nakasyou/lmarena-history",
            license="MIT",
            what="overall rating history 2023-05 to 2025-02",
            feeds=("nakasyou",),
        ),
        Upstream(
            folder="arena/fboulnois-llm-leaderboard-csv",
            upstream="github.com/fboulnois/llm-leaderboard-csv",
            license="MPL-2.0",
            what="LMSYS leaderboard CSV snapshots 2024-06 to 2025-08",
            feeds=("fboulnois",),
        ),
        Upstream(
            folder="arena/utterstep-chatbot-arena-leaderboard-vis",
            upstream="github.com/utterstep/chatbot-arena-leaderboard-vis",
            license="none stated",
            what="LMArena model metadata tables",
            feeds=("utterstep",),
        ),
        Upstream(
            folder="arena/mayerwin-AI-Arena-History",
            upstream="github.com/mayerwin/AI-Arena-History",
            license="MIT",
            what="flagship overall ratings 2023-12 to 2026-03",
            feeds=("mayerwin",),
        ),
    ),
    reader=read_arena,
)
