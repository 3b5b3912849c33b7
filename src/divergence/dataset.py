"""Build the model-level snapshot from the raw public sources.

Steps: run every reader (:mod:`divergence.sources`) → resolve every source id to a
canonical ``model_id`` (:mod:`divergence.identity`) → merge per-model metadata with a
fixed source priority → normalise arena ratings across snapshots → write the snapshot
atomically (:mod:`divergence.snapshot`).

Conflict rules for model metadata:

- ``release_date``: the *earliest confirmed* date among the sources that state a
  release date (:data:`RELEASE_RELIABLE_ORDER`: the date embedded in the arena key
  ``-20241022``/``-2024-05-13``, Artificial Analysis, Epoch model versions/ECI/database,
  llm-stats, models.dev), where *confirmed* means another source (any source, or the
  first dated arena appearance) gives a date within :data:`CONFLICT_DAYS` days. Single
  catalogue entries are often wrong by months or years (models.dev placeholders such
  as ``2024-01-01`` for ``qwen3-32b``; Epoch's ``2024-01-31`` for ``o3-mini``), and a
  key date is the weights' build date, up to weeks before the public release
  (``claude-haiku-4-5-20251001``, public 2025-10-15): the earliest date a second source
  confirms is the earliest *reliable* one. Without a confirmed date: the first date in
  that order, then the other sources (the day a model was added to a leaderboard:
  LiveBench, SWE-bench, WeirdML, ARC-AGI, METR, Aider), then the first arena snapshot
  listing the model; the source then ends in "(unconfirmed)". The result is capped at
  the first appearance in a dated arena snapshot (:data:`ARENA_DATED`; a model is public
  by the time it is rated). The mayerwin flagship history is not used for the cap: its
  dates precede the release of the models they name (``gemini-3.1-pro-preview`` on
  2026-02-06, released 2026-02-19). Models whose claimed dates (and a dated arena
  appearance before them) spread over more than :data:`CONFLICT_DAYS` days are listed
  in ``conflicts_release.csv`` with every value.
- ``organization``: arena metadata → Artificial Analysis → Epoch → llm-stats →
  LiveBench → models.dev → others, canonicalised by :func:`canonical_org`.
- ``open_weights``: a vote of the reliable sources (:data:`OPEN_WEIGHTS_RELIABLE`: Epoch
  accessibility, Artificial Analysis model type, arena license, llm-stats license,
  OpenRouter catalogue Hugging Face id), one vote per source (the majority of its
  records, none on a tie; models.dev: True if any provider lists open weights), ties
  broken by that order; with no reliable vote, the base model
  (``-thinking``/``-reasoning`` suffix removed) if it has one, else models.dev (True if
  any provider lists open weights) → LiveBench → OpenRouter crosswalk → others.
  models.dev's flag is per provider and LiveBench marks almost every model open, so
  neither can outvote a reliable source. Models on which any two sources disagree are
  listed in ``conflicts_open_weights.csv``.
- ``reasoning``: ``thinking`` in the canonical id → Artificial Analysis name →
  LiveBench → models.dev → others.
- ``params_b``: Epoch → llm-stats → models.dev → others.

``rating_norm`` puts every snapshot of one (board, category) on the scale of the most
recent snapshot of that board and category: snapshots are processed newest first, and
each is shifted by the median difference, over models it shares with the already
aligned ones (at least 5), between the aligned rating and its own. Elo/Bradley–Terry
ratings are defined up to a translation, so a shift is the right invariance; the spread
(400/ln 10 per logit) is fixed by construction.
"""

from __future__ import annotations

import hashlib
import re
import sys
import time
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd

from divergence.errors import SourceError
from divergence.identity import canonical_org
from divergence.schema import READER_SCHEMAS, SNAPSHOT_SCHEMAS, coerce
from divergence.sources import READERS, registry, source_names, spec, upstreams

META_PRIORITY: dict[str, list[str]] = {
    "release_date": [
        "artificial-analysis",
        "epoch",
        "epoch-eci",
        "epoch-models",
        "llm-stats",
        "livebench",
        "swe-bench",
        "weirdml",
        "models.dev",
    ],
    "organization": [
        "arena",
        "artificial-analysis",
        "epoch",
        "epoch-eci",
        "epoch-models",
        "llm-stats",
        "livebench",
        "models.dev",
    ],
    "open_weights": [
        "epoch-eci",
        "epoch-models",
        "epoch",
        "arena",
        "models.dev",
        "livebench",
        "llm-stats",
        "openrouter-crosswalk",
    ],
    "reasoning": ["artificial-analysis", "livebench", "models.dev"],
    "params_b": ["epoch-eci", "epoch-models", "epoch", "llm-stats", "models.dev"],
    "display_name": [
        "arena",
        "artificial-analysis",
        "livebench",
        "llm-stats",
        "epoch",
        "models.dev",
    ],
}
ARENA_SOURCES = {
    "lmarena-catalog",
    "arena-ai-scrape",
    "jasontrigg0",
    "nakasyou",
    "fboulnois",
    "mayerwin",
    "utterstep",
}
MIN_ANCHORS = 5
# Arena sources whose snapshot dates are the day the board was read (the release cap).
ARENA_DATED = {"lmarena-catalog", "arena-ai-scrape", "jasontrigg0", "nakasyou", "fboulnois"}
# Sources that state a model's release date, in fallback order ("model_id" = key date).
RELEASE_RELIABLE_ORDER = [
    "model_id",
    "artificial-analysis",
    "epoch",
    "epoch-eci",
    "epoch-models",
    "llm-stats",
    "models.dev",
]
OPEN_WEIGHTS_RELIABLE = [
    "epoch-eci",
    "epoch-models",
    "epoch",
    "artificial-analysis",
    "arena",
    "llm-stats",
    "openrouter-catalog",
]
OPEN_WEIGHTS_FALLBACK = ["models.dev", "livebench", "openrouter-crosswalk"]
ANY_PROVIDER_OPEN = {"models.dev"}
CONFLICT_DAYS = 7
_VARIANT_SUFFIX = re.compile(r"-(?:thinking|reasoning)(?:-\d+k)?$")

_KEY_DATE = [
    (re.compile(r"(?<!\d)(20\d{2})-?(0[1-9]|1[0-2])-?([0-2]\d|3[01])(?!\d)"), "ymd"),
]


def date_from_key(key: str) -> pd.Timestamp | None:
    """Release date embedded in a model key (``...-20241022`` or ``...-2024-05-13``)."""
    for rx, _ in _KEY_DATE:
        m = rx.search(key)
        if m:
            try:
                ts = pd.Timestamp(f"{m.group(1)}-{m.group(2)}-{m.group(3)}")
            except ValueError:
                continue
            if pd.Timestamp("2022-01-01") <= ts <= pd.Timestamp("2027-01-01"):
                return ts
    return None


def _log(msg: str) -> None:
    print(f"[data build] {msg}", file=sys.stderr, flush=True)


def _hash_folder(folder: Path) -> tuple[str, int]:
    h = hashlib.sha256()
    n = 0
    for p in sorted(folder.rglob("*")):
        if p.is_file():
            h.update(str(p.relative_to(folder)).encode())
            h.update(hashlib.sha256(p.read_bytes()).digest())
            n += 1
    return h.hexdigest(), n


def provenance(raw: Path, exclude: frozenset[str] = frozenset()) -> list[dict]:
    """Attribution, terms and a content hash of every raw source folder.

    A folder all of whose sources are in ``exclude`` is listed with ``excluded: true``
    and no hash (nothing of it is in the snapshot).
    """
    out = []
    for up in upstreams():
        folder = raw / up.folder
        entry: dict = up.as_dict()
        if up.feeds and set(up.feeds) <= exclude:
            entry["excluded"] = True
            entry["raw_sha256"], entry["raw_files"] = None, 0
        elif folder.exists():
            entry["raw_sha256"], entry["raw_files"] = _hash_folder(folder)
        else:
            entry["raw_sha256"], entry["raw_files"] = None, 0
        out.append(entry)
    return out


def check_exclude(names: list[str] | None) -> frozenset[str]:
    """Validate ``--exclude-source`` names (snapshot ``source`` values or reader names).

    A reader name stands for every source it emits.

    Raises
    ------
    ConfigError
        Naming the first unknown name and the known ones.
    """
    from divergence.errors import ConfigError

    known = source_names()
    readers = registry()
    out: set[str] = set()
    for name in names or []:
        if name in readers:
            out |= set(readers[name].feeds)
        elif name in known:
            out.add(name)
        else:
            raise ConfigError(
                f"--exclude-source: unknown source {name!r}; known: {', '.join(known)} "
                f"(or a reader: {', '.join(readers)})"
            )
    if out >= set(known) or ARENA_SOURCES <= out:
        raise ConfigError("--exclude-source: cannot exclude every arena source (no targets)")
    return frozenset(out)


def run_readers(
    raw: Path, names: list[str] | None = None, exclude: frozenset[str] = frozenset()
) -> dict[str, pd.DataFrame]:
    """Run readers and concatenate their validated frames per kind.

    Rows of the sources in ``exclude`` are dropped right after each reader.
    """
    if not raw.is_dir():
        raise SourceError(raw, "raw data directory not found")
    frames: dict[str, list[pd.DataFrame]] = {k: [] for k in [*READER_SCHEMAS, "crosswalk"]}
    for name in names or list(READERS):
        t0 = time.perf_counter()
        result = spec(name).read(raw)
        if exclude:
            result = result.without(set(exclude))
        for kind, df in result.items():
            frames[kind].append(df)
        counts = ", ".join(f"{k}={len(v)}" for k, v in result.items())
        _log(f"read {name}: {counts} ({time.perf_counter() - t0:.1f}s)")
    out = {}
    for kind, lst in frames.items():
        if kind == "crosswalk":
            out[kind] = (
                pd.concat(lst, ignore_index=True)
                if lst
                else pd.DataFrame(columns=["source", "source_model", "other_source", "other_model"])
            )
        else:
            out[kind] = pd.concat(lst, ignore_index=True) if lst else coerce(pd.DataFrame(), kind)
    return out


def normalise_ratings(ratings: pd.DataFrame) -> pd.Series:
    """Anchor-aligned ``rating_norm`` (see module docstring); NaN where unanchored."""
    norm = pd.Series(np.nan, index=ratings.index, dtype="float64")
    for (_board, _cat), grp in ratings.groupby(["board", "category"], sort=True):
        snaps = grp.groupby(["snapshot_date", "source"], sort=True)
        groups = cast("dict[tuple[Any, Any], pd.Index]", snaps.groups)
        keys = sorted(groups, key=lambda k: (k[0], k[1]), reverse=True)
        aligned: dict[str, float] = {}
        for k in keys:
            idx = groups[k]
            part = grp.loc[idx]
            if not aligned:
                shift = 0.0
            else:
                common = [m for m in part["model_id"] if m in aligned]
                if len(common) < MIN_ANCHORS:
                    continue
                own = part.set_index("model_id")["rating"]
                own = own[~own.index.duplicated()]
                shift = float(np.median([aligned[m] - own[m] for m in common]))
            vals = part["rating"] + shift
            norm.loc[idx] = vals.to_numpy()
            for m, v in zip(part["model_id"], vals, strict=True):
                aligned.setdefault(m, float(v))
    return norm


def _pick(meta: pd.DataFrame, field: str, priority: list[str]) -> pd.DataFrame:
    """Per model_id, the first non-missing ``field`` by source priority; returns value and source."""
    m = meta[["model_id", "source_group", field]].dropna(subset=[field])
    if m.empty:
        return pd.DataFrame(columns=["model_id", field, f"{field}_source"])
    rank = {s: i for i, s in enumerate(priority)}
    m = m.assign(_r=m["source_group"].map(rank).fillna(len(rank)))
    m = m.sort_values(["model_id", "_r", "source_group"], kind="mergesort")
    first = m.drop_duplicates("model_id")
    return first.rename(columns={"source_group": f"{field}_source"})[
        ["model_id", field, f"{field}_source"]
    ]


def _source_group(source: str) -> str:
    if source in ARENA_SOURCES:
        return "arena"
    if source in {"epoch-external"}:
        return "epoch"
    return source


def release_dates(
    meta: pd.DataFrame, ratings: pd.DataFrame, all_ids: list[str]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Release date and its source per model, and the release-date conflict table.

    Rules in the module docstring. The conflict table has one row per model whose
    claimed dates spread over more than :data:`CONFLICT_DAYS` days: ``model_id``,
    ``release_date`` and ``release_date_source`` (the choice), ``spread_days`` and
    ``values`` (``source=YYYY-MM-DD`` for every source that gave a date, ``;``-joined).
    """
    ids = pd.Index(all_ids, name="model_id")
    kd = pd.Series([date_from_key(m) for m in ids], index=ids, dtype="datetime64[ns]")
    dated = ratings[ratings["source"].isin(ARENA_DATED)]
    fs = dated.groupby("model_id")["snapshot_date"].min().reindex(ids)
    any_fs = ratings.groupby("model_id")["snapshot_date"].min().reindex(ids)
    vals = meta.dropna(subset=["release_date"])[["model_id", "source_group", "release_date"]]
    vals = pd.concat(
        [
            vals[vals["model_id"].isin(ids)],
            pd.DataFrame(
                {
                    "model_id": kd.dropna().index,
                    "source_group": "model_id",
                    "release_date": kd.dropna(),
                }
            ),
        ],
        ignore_index=True,
    ).drop_duplicates()
    vals["release_date"] = vals["release_date"].astype("datetime64[ns]")
    arena_seen = pd.DataFrame(
        {
            "model_id": fs.dropna().index,
            "source_group": "arena_first_seen",
            "release_date": fs.dropna(),
        }
    )

    # candidates: reliable dates confirmed by another source within CONFLICT_DAYS days
    cand = vals[vals["source_group"].isin(RELEASE_RELIABLE_ORDER)]
    pool = pd.concat([vals, arena_seen], ignore_index=True)
    pairs = cand.merge(pool, on="model_id", suffixes=("", "_o"))
    near = (pairs["source_group"] != pairs["source_group_o"]) & (
        (pairs["release_date"] - pairs["release_date_o"]).abs() <= pd.Timedelta(days=CONFLICT_DAYS)
    )
    ok = pairs[near].drop_duplicates(["model_id", "source_group", "release_date"])
    ok = ok.sort_values(["model_id", "release_date", "source_group"], kind="mergesort")
    first_ok = ok.drop_duplicates("model_id").set_index("model_id")
    # fallback: first date by priority (reliable sources first, then the others)
    order = [
        *RELEASE_RELIABLE_ORDER,
        *[p for p in META_PRIORITY["release_date"] if p not in RELEASE_RELIABLE_ORDER],
    ]
    rank = {g: i for i, g in enumerate(order)}
    fb = vals.assign(_r=vals["source_group"].map(rank).fillna(len(rank)))
    fb = fb.sort_values(["model_id", "_r", "release_date"], kind="mergesort").drop_duplicates(
        "model_id"
    )
    fb = fb.set_index("model_id")
    rd = first_ok["release_date"].reindex(ids).astype("datetime64[ns]")
    src = first_ok["source_group"].reindex(ids).astype(object)
    fill = rd.isna()
    rd = rd.where(~fill, fb["release_date"].reindex(ids).astype("datetime64[ns]"))
    src = src.where(~fill, fb["source_group"].reindex(ids) + " (unconfirmed)")
    src = src.where(rd.notna(), None)
    fill = rd.isna() & any_fs.notna()
    rd, src = rd.where(~fill, any_fs), src.where(~fill, "arena_first_seen")
    cap = rd.notna() & fs.notna() & (rd > fs)
    rd = rd.where(~cap, fs)
    src = src.where(~cap, src.astype(str) + "+capped_at_arena_first_seen")
    out = pd.DataFrame({"release_date": rd, "release_date_source": src}, index=ids)

    # spread of the claimed dates (key, reliable sources); a dated arena appearance
    # counts only when it precedes them (then it is the cap that acts)
    claimed = vals[vals["source_group"].isin(RELEASE_RELIABLE_ORDER)]
    lo_claim = claimed.groupby("model_id")["release_date"].min()
    hi_claim = claimed.groupby("model_id")["release_date"].max()
    lo = pd.concat([lo_claim, fs.dropna()], axis=1).min(axis=1)
    span = (hi_claim.reindex(lo.index).fillna(lo) - lo).dt.days
    bad = sorted(span[span > CONFLICT_DAYS].index)
    shown = pd.concat([vals, arena_seen], ignore_index=True)
    shown = shown[shown["model_id"].isin(bad)].sort_values(
        ["model_id", "release_date", "source_group"], kind="mergesort"
    )
    joined = {
        mid: ";".join(
            f"{s}={d:%Y-%m-%d}" for s, d in zip(g["source_group"], g["release_date"], strict=True)
        )
        for mid, g in shown.groupby("model_id", sort=True)
    }
    conflicts = pd.DataFrame(
        {
            "model_id": bad,
            "release_date": out.loc[bad, "release_date"].dt.strftime("%Y-%m-%d").to_numpy(),
            "release_date_source": out.loc[bad, "release_date_source"].to_numpy(),
            "spread_days": span.reindex(bad).astype("int64").to_numpy(),
            "values": [joined.get(m, "") for m in bad],
        }
    )
    return out, conflicts


def open_weights_flags(meta: pd.DataFrame, all_ids: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Open-weights flag and its source per model, and the open-weights conflict table.

    Rules in the module docstring. The conflict table lists every model on which two
    sources disagree: ``model_id``, ``open_weights`` and ``open_weights_source`` (the
    choice), ``says_open`` and ``says_closed`` (``;``-joined source names).
    """
    ids = pd.Index(all_ids, name="model_id")
    m = meta.dropna(subset=["open_weights"])[["model_id", "source_group", "open_weights"]]
    m = m.assign(open_weights=m["open_weights"].astype(bool))
    # one vote per source group: models.dev flags are per provider (True if any provider
    # lists open weights); elsewhere the majority of its records, abstaining on a tie
    share = m.groupby(["model_id", "source_group"])["open_weights"].mean().reset_index()
    anyp = share["source_group"].isin(ANY_PROVIDER_OPEN)
    share = share[anyp | (share["open_weights"] != 0.5)]
    votes = share.assign(
        open_weights=np.where(
            anyp.loc[share.index], share["open_weights"] > 0, share["open_weights"] > 0.5
        )
    )
    order = {s: i for i, s in enumerate([*OPEN_WEIGHTS_RELIABLE, *OPEN_WEIGHTS_FALLBACK])}
    votes["_r"] = votes["source_group"].map(order).fillna(len(order))
    votes = votes.sort_values(["model_id", "_r", "source_group"], kind="mergesort")
    flag: dict[str, bool] = {}
    source: dict[str, str] = {}
    rel = votes[votes["source_group"].isin(OPEN_WEIGHTS_RELIABLE)]
    for key, g in rel.groupby("model_id", sort=True):
        mid = cast(str, key)
        n_true = int(g["open_weights"].sum())
        n_false = len(g) - n_true
        if n_true != n_false:
            flag[mid] = n_true > n_false
            source[mid] = f"vote {n_true}:{n_false}"
        else:
            flag[mid] = bool(g["open_weights"].iloc[0])
            source[mid] = f"vote {n_true}:{n_false}, tie to {g['source_group'].iloc[0]}"
    rest = votes[~votes["model_id"].isin(flag)].drop_duplicates("model_id")
    fallback = dict(
        zip(
            rest["model_id"],
            zip(rest["open_weights"], rest["source_group"], strict=True),
            strict=True,
        )
    )
    for mid in ids:
        if mid in flag:
            continue
        base = _VARIANT_SUFFIX.sub("", mid)
        if base != mid and base in flag:
            flag[mid], source[mid] = flag[base], f"base model {base}"
        elif mid in fallback:
            flag[mid], source[mid] = bool(fallback[mid][0]), str(fallback[mid][1])
    out = pd.DataFrame(
        {
            "open_weights": [flag.get(mid) for mid in ids],
            "open_weights_source": [source.get(mid) for mid in ids],
        },
        index=ids,
    )
    says = votes[votes["model_id"].isin(ids)].groupby("model_id")
    rows = []
    for key, g in says:
        mid = cast(str, key)
        yes = sorted(g.loc[g["open_weights"], "source_group"])
        no = sorted(g.loc[~g["open_weights"], "source_group"])
        if yes and no:
            rows.append(
                (
                    mid,
                    out.at[mid, "open_weights"],
                    out.at[mid, "open_weights_source"],
                    ";".join(yes),
                    ";".join(no),
                )
            )
    conflicts = pd.DataFrame(
        rows,
        columns=["model_id", "open_weights", "open_weights_source", "says_open", "says_closed"],
    )
    return out, conflicts


def build_models(
    meta: pd.DataFrame, ratings: pd.DataFrame, ids_by_source: pd.DataFrame
) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    """One row per model_id with merged metadata (rules in the module docstring).

    Returns
    -------
    models : DataFrame
        Matching ``SNAPSHOT_SCHEMAS["models"]``.
    conflicts : dict of DataFrame
        ``"release"`` and ``"open_weights"`` conflict tables.
    """
    meta = meta.assign(
        source_group=meta["source"].map(_source_group),
        organization=meta["organization"].map(canonical_org),
    )
    all_ids = sorted(set(ids_by_source["model_id"]) | set(ratings["model_id"]))
    models = pd.DataFrame({"model_id": all_ids})
    for field in ["display_name", "organization", "reasoning", "params_b"]:
        models = models.merge(_pick(meta, field, META_PRIORITY[field]), on="model_id", how="left")
    rd, rd_conflicts = release_dates(meta, ratings, all_ids)
    ow, ow_conflicts = open_weights_flags(meta, all_ids)
    models = models.join(rd, on="model_id").join(ow, on="model_id")
    think = models["model_id"].str.contains(
        r"thinking|reasoning|-r1\b|(?:^|-)r1(?:-|$)", regex=True
    )
    models["reasoning"] = [
        True if t else r for t, r in zip(think, models["reasoning"], strict=True)
    ]
    models["on_arena"] = models["model_id"].isin(set(ratings["model_id"]))
    srcs = ids_by_source.groupby("model_id")["source"].agg(lambda s: ";".join(sorted(set(s))))
    models["sources"] = models["model_id"].map(srcs)
    conflicts = {"release": rd_conflicts, "open_weights": ow_conflicts}
    return coerce(models, "models", SNAPSHOT_SCHEMAS), conflicts


def _dedupe_by_rule(df: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    order = {"arena_key": 0, "exact": 1, "alias_table": 2, "normalized": 3, "display_name": 4}
    df = df.assign(_r=df["rule"].map(order).fillna(9))
    df = df.sort_values([*keys, "_r", "source_model"], kind="mergesort")
    return df.drop_duplicates(keys).drop(columns="_r")


_AGG_MAX = ("providers", "listed")
_AGG_MIN = ("price",)


def _aggregate_adoption(adoption: pd.DataFrame) -> pd.DataFrame:
    keys = ["model_id", "source", "signal", "date"]
    if adoption.empty:
        return adoption[keys + ["value"]]
    how = adoption["signal"].map(
        lambda s: (
            "max"
            if any(t in s for t in _AGG_MAX)
            else "min"
            if any(t in s for t in _AGG_MIN)
            else "sum"
        )
    )
    parts: list[pd.DataFrame] = []
    for h, grp in adoption.groupby(how, sort=True):
        # pandas-stubs: SeriesGroupBy.agg with as_index=False returns a DataFrame, typed Series
        parts.append(grp.groupby(keys, as_index=False)["value"].agg(h))  # type: ignore[arg-type]
    return pd.concat(parts, ignore_index=True)


def build(
    raw: str | Path,
    readers: list[str] | None = None,
    arena_until: str | None = None,
    exclude: list[str] | None = None,
) -> tuple[dict[str, pd.DataFrame], list[dict], dict[str, pd.DataFrame]]:
    """Build all snapshot tables in memory.

    Parameters
    ----------
    raw : path
        The ``raw/`` directory of the shared public data.
    readers : list of str, optional
        Subset of :data:`divergence.sources.READERS` (tests use small subsets).
    arena_until : str, optional
        Leave out arena snapshots dated after this day (``YYYY-MM-DD``), as if the
        arena data ended then; arena keys first seen later are then unknown to the
        snapshot (the time-travel test of :mod:`divergence.identity_eval`).
    exclude : list of str, optional
        Sources to leave out (``--exclude-source``; see :func:`check_exclude`).

    Returns
    -------
    tables : dict of DataFrame
        ``models``, ``ratings``, ``benchmarks``, ``adoption``, ``aliases``.
    provenance : list of dict
        Source attribution with raw content hashes.
    conflicts : dict of DataFrame
        ``"release"`` and ``"open_weights"`` conflict tables (see :func:`build_models`).
    """
    from divergence.identity import Resolver, load_alias_table
    from divergence.sources.arena import list_arena_keys

    raw = Path(raw)
    excluded = check_exclude(exclude)
    t0 = time.perf_counter()
    frames = run_readers(raw, readers, excluded)
    ratings, bench, adoption, meta = (
        frames[k] for k in ["ratings", "benchmarks", "adoption", "meta"]
    )
    alias_table = load_alias_table()
    if arena_until is not None:
        later = set(ratings["model_key"])
        ratings = ratings[ratings["snapshot_date"] <= pd.Timestamp(arena_until)]
        seen = set(ratings["model_key"])
        meta = meta[~meta["source"].isin(ARENA_SOURCES) | meta["source_model"].isin(seen)]
        # reviews of arena keys not yet seen could not have been written then
        alias_table = alias_table[~alias_table["model_id"].isin(later - seen)]

    arena_keys = list_arena_keys(ratings)
    arena_meta = meta[meta["source"].isin(ARENA_SOURCES)].sort_values("source", kind="mergesort")
    arena_meta = arena_meta.drop_duplicates("source_model")
    arena = arena_keys.merge(
        arena_meta[["source_model", "display_name", "organization"]].rename(
            columns={"source_model": "model_key"}
        ),
        on="model_key",
        how="left",
    )
    ids = pd.concat(
        [
            meta.loc[
                ~meta["source"].isin(ARENA_SOURCES),
                ["source", "source_model", "display_name", "organization", "release_date"],
            ],
            bench[["source", "source_model"]].drop_duplicates(),
            adoption[["source", "source_model"]].drop_duplicates(),
        ],
        ignore_index=True,
    )
    ids = ids.sort_values(
        ["source", "source_model", "display_name"], kind="mergesort", na_position="last"
    )
    ids = ids.drop_duplicates(["source", "source_model"]).reset_index(drop=True)
    resolver = Resolver.build(arena, ids, alias_table)
    aliases = coerce(resolver.aliases, "aliases", SNAPSHOT_SCHEMAS)
    _log(f"resolved {len(ids)} source ids to {aliases['model_id'].nunique()} models")

    # display-name rows (source "<source>:display") serve query resolution only
    amap = aliases[~aliases["source"].str.endswith(":display")]
    amap = amap.rename(columns={"alias": "source_model"})[
        ["source", "source_model", "model_id", "rule"]
    ]
    amap = amap.drop_duplicates(["source", "source_model"])

    def attach(df: pd.DataFrame) -> pd.DataFrame:
        out = df.merge(amap, on=["source", "source_model"], how="left")
        missing = out["model_id"].isna()
        if missing.any():
            r = out[missing].iloc[0]
            raise SourceError(
                f"reader {r['source']}",
                "source id not resolved by identity",
                column="source_model",
                row=r["source_model"],
            )
        return out

    bench_m = _dedupe_by_rule(attach(bench), ["model_id", "source", "benchmark", "as_of"])
    adoption_m = _aggregate_adoption(attach(adoption))
    meta_nonarena = attach(meta[~meta["source"].isin(ARENA_SOURCES)])
    meta_arena = meta[meta["source"].isin(ARENA_SOURCES)].assign(
        model_id=lambda d: d["source_model"]
    )
    meta_all = pd.concat([meta_arena, meta_nonarena], ignore_index=True)

    ratings = ratings.rename(columns={"model_key": "model_id"})
    ratings = ratings.sort_values(
        ["board", "category", "snapshot_date", "source", "model_id"], kind="mergesort"
    ).reset_index(drop=True)
    ratings["rating_norm"] = normalise_ratings(ratings)

    ids_by_source = pd.concat(
        [
            amap[["model_id", "source"]],
            ratings[["model_id", "source"]].drop_duplicates(),
        ],
        ignore_index=True,
    )
    models, conflicts = build_models(meta_all, ratings, ids_by_source)
    _log(
        f"conflicts: {len(conflicts['release'])} release dates spread over "
        f"{CONFLICT_DAYS} days, {len(conflicts['open_weights'])} open-weights flags"
    )
    tables = {
        "models": models,
        "ratings": coerce(ratings, "ratings", SNAPSHOT_SCHEMAS),
        "benchmarks": coerce(bench_m, "benchmarks", SNAPSHOT_SCHEMAS),
        "adoption": coerce(adoption_m, "adoption", SNAPSHOT_SCHEMAS),
        "aliases": aliases,
    }
    for name, df in tables.items():
        if df.empty:
            raise SourceError(f"table {name}", "empty after build")
    _log(
        f"built tables in {time.perf_counter() - t0:.1f}s: "
        + ", ".join(f"{k}={len(v)}" for k, v in tables.items())
    )
    return tables, provenance(raw, excluded), conflicts


def build_snapshot(
    raw: str | Path,
    out: str | Path,
    readers: list[str] | None = None,
    arena_until: str | None = None,
    exclude: list[str] | None = None,
) -> dict:
    """Build the snapshot (without the ``exclude`` sources) atomically; returns the manifest."""
    from divergence.snapshot import write_snapshot

    tables, prov, conflicts = build(raw, readers, arena_until=arena_until, exclude=exclude)
    return write_snapshot(tables, out, prov, conflicts)
