"""llm-stats: vendor-reported benchmark scores and model metadata.

Source
------
``raw/benchmarks/llm-stats/data/`` (llm-stats.com data repository, CC BY 4.0; attribute
"llm-stats.com").

``organizations/<org>/organization.json``
    ``organization_id``, ``name``. ``name`` becomes the meta ``organization`` (None for
    the placeholder organisation "Unknown").
``organizations/<org>/models/<dir>/model.json``
    One per model (169): ``model_id``, ``name``, ``release_date``,
    ``announcement_date``, ``license_id``, ``param_count``, ... -> meta.
``organizations/<org>/models/<dir>/benchmarks.json``
    A list of results: ``benchmark_id``, ``model_id``, ``score``,
    ``is_self_reported``, ``analysis_method``, ``created_at`` ... -> benchmarks.
``benchmarks/<id>.json``
    The benchmark catalogue; its ``max_score`` is used for the scale check.

What is kept
------------
- ``benchmarks``: source ``"llm-stats"``, ``source_model`` = ``model_id`` (verbatim),
  benchmark ``"llmstats:<benchmark_id>"``, ``score`` as published (mostly 0-1
  fractions; ``codeforces`` is stored as rating / 3000, ``cfeval`` as a raw rating),
  ``self_reported`` = the record's ``is_self_reported`` flag (True for 2206 of 2224
  results: the vendors' own claims; a missing flag means True, as the README says 99%
  are vendor-reported).
- ``as_of``: self-reported scores are dated at the model's ``release_date`` (else
  ``announcement_date``), when vendors publish them; other scores at the later of the
  release date and the record's ``created_at``. ``created_at`` alone is unreliable
  (most records carry the database seed date 2025-07-19; some predate the release).
- ``meta``: ``display_name`` = ``name``, ``organization`` (see above),
  ``release_date``, ``open_weights`` False for ``license_id`` "proprietary", None for
  "unknown" or null, True for every other (open-weights) license; ``params_b`` =
  ``param_count`` / 1e9 (the files hold raw parameter counts although the upstream
  schema says billions; values below 1e6 are taken to be billions already).
  ``reasoning`` is not given (None).

Known defects handled
---------------------
- Two model folders (``mistral-small-2409``, ``o3-pro-2025-06-10``) have no
  ``benchmarks.json``: the models are kept in meta with no scores.
- The folder ``nvidia/models/nemotron-nano-9b-v2`` holds ``nvidia-nemotron-nano-9b-v2``;
  the ``model_id`` inside the files is used. A result whose ``model_id`` differs from
  its folder's ``model.json`` raises.
- Scale fixes inside one benchmark: MT-Bench and MM-MT-Bench are 0-10 scales stored as
  score / 10, but two results were stored as score / 100 (``0.0899``, ``0.06``): values
  below 0.1 there are multiplied by 10. A FLEURS result reported as "1 - WER" (others
  are WER) is converted to WER. In a benchmark whose catalogue ``max_score`` is 1, a
  score in (1, 100] is a percentage and is divided by 100 (none in this copy).
- ``nvidia-nemotron-nano-9b-v2`` has ``param_count`` 88 900 000 000, a 10x typo for the
  9B model: ``params_b`` is set to 8.89.
- A model reporting one benchmark several times (with/without tools, several
  settings) keeps the highest score per (model, benchmark, as_of); exact duplicates
  are dropped.

Every malformed input raises :class:`~divergence.errors.SourceError` naming the file,
key and record.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from divergence.errors import SourceError
from divergence.sources._io import (
    META_COLUMNS,
    as_float,
    parse_dates,
    read_json,
    require_keys,
    text_field,
    validated_tables,
)
from divergence.sources.base import Source, Upstream

SOURCE = "llm-stats"
FOLDER = Path("benchmarks") / "llm-stats" / "data"

_MODEL_KEYS = [
    "model_id",
    "name",
    "organization_id",
    "release_date",
    "announcement_date",
    "license_id",
    "param_count",
]
_RESULT_KEYS = ["benchmark_id", "model_id", "score", "is_self_reported", "created_at"]
_TEN_POINT = {"mt-bench", "mm-mt-bench"}
# Documented corrections of single records (value in billions).
_PARAMS_FIX = {"nvidia-nemotron-nano-9b-v2": 8.89}  # file says 88 900 000 000: a 10x typo for 8.89B
_ONE_MINUS_WER = re.compile(r"1\s*-\s*WER", re.IGNORECASE)


def _catalogue(folder: Path) -> dict[str, float]:
    """Benchmark id -> ``max_score`` from ``benchmarks/*.json``."""
    out: dict[str, float] = {}
    for path in sorted((folder / "benchmarks").glob("*.json")):
        rec = read_json(path)
        require_keys(rec, ["benchmark_id", "max_score"], path)
        bid = text_field(rec, "benchmark_id", path, path.stem)
        out[bid] = as_float(rec["max_score"], path, "max_score", bid, lo=0.0)
    if not out:
        raise SourceError(folder / "benchmarks", "no benchmark catalogue files")
    return out


def _organizations(folder: Path) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for path in sorted((folder / "organizations").glob("*/organization.json")):
        rec = read_json(path)
        require_keys(rec, ["organization_id", "name"], path)
        oid = text_field(rec, "organization_id", path, path.parent.name)
        name = text_field(rec, "name", path, oid)
        out[oid] = None if name.strip().lower() == "unknown" else name.strip()
    return out


def _open_weights(license_id: str | None) -> bool | None:
    if license_id is None or license_id == "unknown":
        return None
    return license_id != "proprietary"


def _params_b(count: float) -> float:
    if np.isnan(count):
        return np.nan
    return count / 1e9 if count >= 1e6 else count


def _fix_scale(bench: pd.DataFrame, max_score: dict[str, float]) -> pd.DataFrame:
    """Apply the documented within-benchmark scale fixes."""
    ten = bench["benchmark_id"].isin(_TEN_POINT) & (bench["score"] < 0.1)
    bench.loc[ten, "score"] = bench.loc[ten, "score"] * 10
    wer = (bench["benchmark_id"] == "fleurs") & bench["method"].map(
        lambda m: isinstance(m, str) and bool(_ONE_MINUS_WER.search(m))
    )
    bench.loc[wer, "score"] = 1 - bench.loc[wer, "score"]
    unit = bench["benchmark_id"].map(max_score) == 1.0
    pct = unit & (bench["score"] > 1) & (bench["score"] <= 100)
    bench.loc[pct, "score"] = bench.loc[pct, "score"] / 100
    over = bench["benchmark_id"].map(max_score).fillna(np.inf) < bench["score"]
    if over.any():
        r = bench[over].iloc[0]
        raise SourceError(
            r["path"],
            f"score {r['score']!r} above the benchmark's max_score",
            column="score",
            row=r["benchmark_id"],
        )
    return bench


def read(raw: Path) -> dict[str, pd.DataFrame]:
    """Read the llm-stats model and benchmark files.

    Parameters
    ----------
    raw : Path
        The ``raw/`` directory of the shared data.

    Returns
    -------
    dict of DataFrame
        ``"benchmarks"`` and ``"meta"``, matching :data:`divergence.schema.READER_SCHEMAS`
        and sorted by their key columns.
    """
    folder = Path(raw) / FOLDER
    max_score = _catalogue(folder)
    orgs = _organizations(folder)
    model_dirs = sorted(p for p in (folder / "organizations").glob("*/models/*") if p.is_dir())
    if not model_dirs:
        raise SourceError(folder / "organizations", "no model folders")

    meta_rows: list[dict] = []
    results: list[dict] = []
    for d in model_dirs:
        mpath = d / "model.json"
        model = read_json(mpath)
        require_keys(model, _MODEL_KEYS, mpath)
        mid = text_field(model, "model_id", mpath, d.name)
        org_id = text_field(model, "organization_id", mpath, mid)
        if org_id not in orgs:
            raise SourceError(
                mpath, f"unknown organization {org_id!r}", column="organization_id", row=mid
            )
        license_id = text_field(model, "license_id", mpath, mid, required=False)
        params = as_float(model["param_count"], mpath, "param_count", mid, lo=0.0)
        dates = {}
        for key in ("release_date", "announcement_date"):
            s = pd.Series([text_field(model, key, mpath, mid, required=False)], dtype=object)
            dates[key] = parse_dates(s, key, mpath, row_offset=0).iloc[0]
        release = (
            dates["release_date"] if pd.notna(dates["release_date"]) else dates["announcement_date"]
        )
        meta_rows.append(
            {
                "source_model": mid,
                "display_name": text_field(model, "name", mpath, mid).strip(),
                "organization": orgs[org_id],
                "release_date": release,
                "open_weights": _open_weights(license_id),
                "reasoning": None,
                "params_b": _PARAMS_FIX.get(mid, _params_b(params)),
            }
        )

        bpath = d / "benchmarks.json"
        if not bpath.exists():
            continue
        doc = read_json(bpath)
        if not isinstance(doc, list):
            raise SourceError(bpath, f"expected a list, got {type(doc).__name__}")
        file_rows: list[dict] = []
        for i, rec in enumerate(doc):
            row = f"[{i}]"
            require_keys(rec, _RESULT_KEYS, bpath, row=row)
            bid = text_field(rec, "benchmark_id", bpath, row)
            row = f"[{i}] ({bid})"
            if rec["model_id"] != mid:
                raise SourceError(
                    bpath,
                    f"model_id {rec['model_id']!r} differs from model.json {mid!r}",
                    column="model_id",
                    row=row,
                )
            score = as_float(rec["score"], bpath, "score", row, lo=0.0)
            if np.isnan(score):
                raise SourceError(bpath, "missing score", column="score", row=row)
            flag = rec["is_self_reported"]
            if flag is None:
                flag = True
            if not isinstance(flag, bool):
                raise SourceError(
                    bpath, f"expected true/false, got {flag!r}", column="is_self_reported", row=row
                )
            file_rows.append(
                {
                    "path": str(bpath),
                    "source_model": mid,
                    "benchmark_id": bid,
                    "score": score,
                    "self_reported": flag,
                    "method": rec.get("analysis_method"),
                    "release": release,
                    "created": text_field(rec, "created_at", bpath, row, required=False),
                }
            )
        created = parse_dates(
            pd.Series([r["created"] for r in file_rows], dtype=object),
            "created_at",
            bpath,
            row_offset=0,
        )
        for r, c in zip(file_rows, created, strict=True):
            r["created"] = c
        results.extend(file_rows)

    if not results:
        raise SourceError(folder / "organizations", "no benchmark results")
    bench = pd.DataFrame(results)
    bench = _fix_scale(bench, max_score)
    as_of = bench["release"].where(
        bench["self_reported"], bench[["release", "created"]].max(axis=1)
    )
    as_of = as_of.fillna(bench["created"])
    if as_of.isna().any():
        first = bench[as_of.isna()].iloc[0]
        raise SourceError(
            first["path"],
            "no release date or created_at to date the score",
            row=first["benchmark_id"],
        )
    bench = pd.DataFrame(
        {
            "source": SOURCE,
            "source_model": bench["source_model"],
            "benchmark": "llmstats:" + bench["benchmark_id"],
            "score": bench["score"],
            "as_of": as_of.astype("datetime64[ns]"),
            "self_reported": bench["self_reported"].astype(object),
        }
    )
    keys = ["source", "source_model", "benchmark", "as_of"]
    bench = bench.drop_duplicates()
    bench = bench.sort_values([*keys, "score"], ascending=[True] * 4 + [False], kind="mergesort")
    bench = bench.drop_duplicates(keys).reset_index(drop=True)

    meta = pd.DataFrame(meta_rows).assign(source=SOURCE)[META_COLUMNS]
    dup = meta["source_model"].duplicated(keep=False)
    if dup.any():
        raise SourceError(
            folder / "organizations",
            "model_id used by two model folders",
            column="model_id",
            row=meta.loc[dup, "source_model"].iloc[0],
        )
    meta = meta.sort_values(["source", "source_model"], kind="mergesort").reset_index(drop=True)
    origin = str(folder)
    return validated_tables(origin, benchmarks=bench, meta=meta)


# Attribution and terms of the folders this reader reads (shipped in SOURCES.md).
SPEC = Source(
    name="llm-stats",
    upstreams=(
        Upstream(
            folder="benchmarks/llm-stats",
            upstream="llm-stats.com",
            license="CC BY 4.0",
            what="vendor self-reported scores and metadata",
            feeds=("llm-stats",),
        ),
    ),
    reader=read,
)
