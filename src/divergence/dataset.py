"""Build the model-level snapshot from the raw public sources.

Steps: run every reader (:mod:`divergence.sources`) → resolve every source id to a
canonical ``model_id`` (:mod:`divergence.identity`) → merge per-model metadata with a
fixed source priority → normalise arena ratings across snapshots → write the snapshot
atomically (:mod:`divergence.snapshot`).

Conflict rules for model metadata (first non-missing value wins, in this order):

- ``release_date``: date embedded in the arena key (``-20241022``, ``-2024-05-13``,
  ``-0513`` with a year elsewhere) → Artificial Analysis → Epoch (model versions, ECI,
  database) → llm-stats → LiveBench → SWE-bench/WeirdML → models.dev → the first arena
  snapshot listing the model. The result is then capped at the first arena appearance
  (a model is public by the time it is rated).
- ``organization``: arena metadata → Artificial Analysis → Epoch → llm-stats →
  LiveBench → models.dev → others, canonicalised by :func:`canonical_org`.
- ``open_weights``: Epoch accessibility → arena license → models.dev → LiveBench →
  llm-stats → OpenRouter crosswalk → others.
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

import numpy as np
import pandas as pd

from divergence.errors import SourceError
from divergence.identity import canonical_org
from divergence.schema import READER_SCHEMAS, SNAPSHOT_SCHEMAS, coerce, validate
from divergence.sources import READERS, SOURCES, reader

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


def provenance(raw: Path) -> list[dict]:
    """Attribution plus a content hash of every raw source folder."""
    out = []
    for src in SOURCES:
        folder = raw / src["folder"]
        entry = dict(src)
        if folder.exists():
            entry["raw_sha256"], entry["raw_files"] = _hash_folder(folder)
        else:
            entry["raw_sha256"], entry["raw_files"] = None, 0
        out.append(entry)
    return out


def run_readers(raw: Path, names: list[str] | None = None) -> dict[str, pd.DataFrame]:
    """Run readers and concatenate their frames per kind (validated)."""
    if not raw.is_dir():
        raise SourceError(raw, "raw data directory not found")
    frames: dict[str, list[pd.DataFrame]] = {k: [] for k in [*READER_SCHEMAS, "crosswalk"]}
    for name in names or list(READERS):
        t0 = time.perf_counter()
        result = reader(name)(raw)
        for kind, df in result.items():
            if kind in READER_SCHEMAS:
                frames[kind].append(validate(df, kind, origin=f"reader {name}"))
            elif kind == "crosswalk":
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
        keys = sorted(snaps.groups, key=lambda k: (k[0], k[1]), reverse=True)
        aligned: dict[str, float] = {}
        for k in keys:
            idx = snaps.groups[k]
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


def build_models(
    meta: pd.DataFrame, ratings: pd.DataFrame, ids_by_source: pd.DataFrame
) -> pd.DataFrame:
    """One row per model_id with merged metadata (rules in the module docstring)."""
    meta = meta.assign(
        source_group=meta["source"].map(_source_group),
        organization=meta["organization"].map(canonical_org),
    )
    all_ids = sorted(set(ids_by_source["model_id"]) | set(ratings["model_id"]))
    models = pd.DataFrame({"model_id": all_ids})
    for field in [
        "display_name",
        "organization",
        "open_weights",
        "reasoning",
        "params_b",
        "release_date",
    ]:
        models = models.merge(_pick(meta, field, META_PRIORITY[field]), on="model_id", how="left")
    first_seen = ratings.groupby("model_id")["snapshot_date"].min()
    key_dates = pd.Series({m: date_from_key(m) for m in all_ids}, dtype="datetime64[ns]")
    rd = models["release_date"].astype("datetime64[ns]")
    src = models["release_date_source"].astype(object)
    kd = models["model_id"].map(key_dates)
    use_key = kd.notna()
    rd = rd.where(~use_key, kd)
    src = src.where(~use_key, "model_id")
    fs = models["model_id"].map(first_seen)
    fill = rd.isna() & fs.notna()
    rd = rd.where(~fill, fs)
    src = src.where(~fill, "arena_first_seen")
    cap = rd.notna() & fs.notna() & (rd > fs)
    rd = rd.where(~cap, fs)
    src = src.where(~cap, src.astype(str) + "+capped_at_arena_first_seen")
    models["release_date"] = rd
    models["release_date_source"] = src
    think = models["model_id"].str.contains(
        r"thinking|reasoning|-r1\b|(?:^|-)r1(?:-|$)", regex=True
    )
    models["reasoning"] = [
        True if t else r for t, r in zip(think, models["reasoning"], strict=True)
    ]
    models["on_arena"] = models["model_id"].isin(set(ratings["model_id"]))
    srcs = ids_by_source.groupby("model_id")["source"].agg(lambda s: ";".join(sorted(set(s))))
    models["sources"] = models["model_id"].map(srcs)
    return coerce(models, "models", SNAPSHOT_SCHEMAS)


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
    parts = []
    for h, grp in adoption.groupby(how, sort=True):
        parts.append(grp.groupby(keys, as_index=False)["value"].agg(h))
    return pd.concat(parts, ignore_index=True)


def build(
    raw: str | Path, readers: list[str] | None = None, arena_until: str | None = None
) -> tuple[dict[str, pd.DataFrame], list[dict]]:
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

    Returns
    -------
    tables : dict of DataFrame
        ``models``, ``ratings``, ``benchmarks``, ``adoption``, ``aliases``.
    provenance : list of dict
        Source attribution with raw content hashes.
    """
    from divergence.identity import Resolver, load_alias_table
    from divergence.sources.arena import list_arena_keys

    raw = Path(raw)
    t0 = time.perf_counter()
    frames = run_readers(raw, readers)
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
    models = build_models(meta_all, ratings, ids_by_source)
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
    return tables, provenance(raw)


def build_snapshot(
    raw: str | Path,
    out: str | Path,
    readers: list[str] | None = None,
    arena_until: str | None = None,
) -> dict:
    """Build the snapshot and write it atomically; returns the manifest."""
    from divergence.snapshot import write_snapshot

    tables, prov = build(raw, readers, arena_until=arena_until)
    return write_snapshot(tables, out, prov)
