"""OpenRouter adoption signals: daily and weekly token volumes, listing dates, prices.

All paths are relative to the ``raw/`` root. Every output row keeps the OpenRouter
identifier verbatim, except that the ``:free`` / ``:beta`` variant suffix is removed
(see "Variant merge" below). Two id spaces exist: *permaslugs*
(``anthropic/claude-4.5-sonnet-20250929``; sources ``openrouter-daily`` and
``openrouter-weekly``) and *API ids* (``anthropic/claude-sonnet-4.5``; source
``openrouter-catalog``). The ``crosswalk`` table links them.

Sources
-------
``adoption/openrouter-rankings-daily-combined/openrouter_rankings_daily_*.csv``
    Official OpenRouter daily rankings (CC BY 4.0): columns ``date``,
    ``model_permaslug``, ``total_tokens`` (``first_source`` is ignored), top 50 models
    plus one ``other`` row per day, 2026-05-20 to 2026-08-21. Kept as source
    ``openrouter-daily``, signals ``openrouter_tokens_daily`` and
    ``openrouter_token_share_daily`` (tokens / sum of all rows of that day, ``other``
    and variants included). The ``other`` row is used for the day total, then dropped.
``adoption/johnbean393-openrouter-inference-stats/*.json`` and ``deleted_in_history/*.json``
    Weekly top ~10 (``{"date", "models": [{slug, name, total_tokens, request_count,
    prompt_price, completion_price, ...}]}``), 2025-02 to 2026-05, no license file.
    Source ``openrouter-weekly``, signals ``openrouter_tokens_weekly``,
    ``openrouter_requests_weekly``, ``price_input_usd_per_mtok``,
    ``price_output_usd_per_mtok``, dated by the file's ``date`` field (the week label
    used by the source). Known defects: ``request_count`` is 0 when the source had no
    count (every 2025 week, some free models): 0 is treated as missing and no row is
    written; tokens are rounded to 1e9 from 2026-02; files in ``deleted_in_history/``
    (removed upstream, lower confidence) are used only when no main file lies within
    3 days of their date (``2026-02-09`` duplicates the ``2026-02-08`` week and is
    dropped). Prices come only from rows without a variant suffix.
``adoption/uyhcire-openrouter-catalog-snapshots/openrouter_YYYY-MM-DD.json``
    OpenRouter ``/models`` API snapshots 2025-10-02 to 2025-12-06 (no license file).
    Source ``openrouter-catalog`` keyed by API id: signal ``openrouter_listed`` = 1.0 at
    the UTC date of ``created`` (OpenRouter listing date, earliest over snapshots and
    variants: not a release date) and per-snapshot ``price_input_usd_per_mtok`` /
    ``price_output_usd_per_mtok`` (``pricing.prompt`` / ``pricing.completion`` are USD
    per token, times 1e6). Price ``-1`` (variable-price routers such as
    ``openrouter/auto``) is skipped. Meta: ``name`` ``"Org: Model"`` is split into
    organization and display name; ``open_weights`` is True when the entry has a
    Hugging Face id, else unknown. ``historical_pricing.json`` is a flattened copy of
    the same snapshots and is not read.
``adoption/uyhcire-openrouter-catalog-snapshots/openrouter_id_crosswalk_*.csv``
    API id -> ``canonical_slug`` (permaslug) and ``hugging_face_id``; returned as the
    ``crosswalk`` table: ``source="openrouter-catalog"``, ``source_model`` = API id
    (variant suffix removed), ``other_source`` = ``"openrouter-permaslug"`` or
    ``"huggingface"``, ``other_model`` verbatim.
``adoption/casualstudy-openrouter/openrouter-prices.json``
    ``{date: {api_id: usd_per_token}}`` daily 2026-05-24 to 2026-08-22 (no license
    file). The single number is the mean of the input and output list prices (checked
    against known prices), kept as source ``openrouter-catalog``, signal
    ``price_blended_usd_per_mtok``. ``-1`` sentinels and ``:free``/``:beta`` ids are
    skipped.
``adoption/wyl2607-llm-carbon-index/model_crosswalk.yaml``
    58 hand-curated OpenRouter slugs with ``display_name``, ``open_or_closed``,
    ``params_b`` (no license file): meta source ``openrouter-crosswalk``.
Not read: ``wyl2607-llm-carbon-index/*_openrouter.json``,
``casualstudy-openrouter/openrouter-usage*.{json,csv}`` (the inputs of the combined
table: every date is already in it) and ``casualstudy-openrouter/openrouter-global.json``
(its id-to-token pairing is inconsistent, e.g. ``google/gemini-3.5-flash`` matched to
``google/gemini-2.0-flash-001`` tokens).

Variant merge
-------------
``:free`` and ``:beta`` are billing variants of one model: their tokens/requests are
summed into the base id (suffix stripped) per day/week, and their price rows are dropped
(a free variant's 0 is not the model's price). Other suffixes (``:thinking``) are
distinct models on the arena and are kept verbatim.

Duplicates
----------
Exact duplicate rows are dropped. Conflicting duplicates of one id on one date within
a source (none in the current data) keep the largest value.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from divergence import schema
from divergence.errors import SourceError
from divergence.sources._io import (
    ADOPTION_KEYS,
    as_float,
    file_date,
    files,
    numeric_column,
    parse_dates,
    read_csv,
    read_json,
    read_yaml,
    require_keys,
)
from divergence.sources.base import Source, Upstream

SOURCE_DAILY = "openrouter-daily"
SOURCE_WEEKLY = "openrouter-weekly"
SOURCE_CATALOG = "openrouter-catalog"
SOURCE_CROSSWALK = "openrouter-crosswalk"

DAILY_DIR = Path("adoption/openrouter-rankings-daily-combined")
WEEKLY_DIR = Path("adoption/johnbean393-openrouter-inference-stats")
CATALOG_DIR = Path("adoption/uyhcire-openrouter-catalog-snapshots")
PRICES_FILE = Path("adoption/casualstudy-openrouter/openrouter-prices.json")
CROSSWALK_YAML = Path("adoption/wyl2607-llm-carbon-index/model_crosswalk.yaml")

CROSSWALK_COLUMNS = ["source", "source_model", "other_source", "other_model"]
PER_MTOK = 1e6
DELETED_WINDOW_DAYS = 3
_VARIANT = re.compile(r":(free|beta)$")


def base_id(model_id: str) -> str:
    """Strip a trailing ``:free`` / ``:beta`` variant suffix.

    Parameters
    ----------
    model_id : str
        OpenRouter permaslug or API id.

    Returns
    -------
    str
    """
    return _VARIANT.sub("", model_id)


def _rows(records: list[dict[str, Any]]) -> pd.DataFrame:
    cols = ["source", "source_model", "signal", "date", "value"]
    return (
        pd.DataFrame.from_records(records, columns=cols) if records else pd.DataFrame(columns=cols)
    )


def _finish_adoption(frames: list[pd.DataFrame], origin: str | Path) -> pd.DataFrame:
    frames = [f for f in frames if len(f)]
    if not frames:
        return schema.empty("adoption")
    df = pd.concat(frames, ignore_index=True)
    df["date"] = pd.to_datetime(df["date"]).astype("datetime64[ns]")
    df["value"] = df["value"].astype("float64")
    df = df.drop_duplicates()
    df = df.sort_values(ADOPTION_KEYS + ["value"]).drop_duplicates(ADOPTION_KEYS, keep="last")
    df = df.sort_values(ADOPTION_KEYS).reset_index(drop=True)
    return schema.validate(df, "adoption", str(origin))


def _finish_meta(frames: list[pd.DataFrame], origin: str | Path) -> pd.DataFrame:
    frames = [f for f in frames if len(f)]
    if not frames:
        return schema.empty("meta")
    df = pd.concat(frames, ignore_index=True)
    df = schema.coerce(df, "meta")
    df = df.drop_duplicates(["source", "source_model"], keep="first")
    df = df.sort_values(["source", "source_model"]).reset_index(drop=True)
    return schema.validate(df, "meta", str(origin))


def _split_name(name: Any) -> tuple[str | None, str | None]:
    """``"Anthropic: Claude Sonnet 4.5"`` -> (organization, display name)."""
    if not isinstance(name, str) or not name.strip():
        return None, None
    org, sep, rest = name.partition(": ")
    if sep and org.strip() and rest.strip():
        return org.strip(), rest.strip()
    return None, name.strip()


# --------------------------------------------------------------------------- daily


def read_daily(raw: Path) -> pd.DataFrame:
    """Daily token counts per permaslug from the official combined rankings.

    Parameters
    ----------
    raw : Path
        The ``raw/`` root.

    Returns
    -------
    pandas.DataFrame
        Adoption rows of source ``openrouter-daily``.
    """
    frames = []
    for path in files(Path(raw) / DAILY_DIR, "openrouter_rankings_daily_*.csv"):
        df = read_csv(
            path,
            required=["date", "model_permaslug", "total_tokens"],
            dtype=str,
            keep_default_na=False,
        )
        if df.empty:
            raise SourceError(path, "no data rows")
        date = parse_dates(df["date"], "date", path)
        if date.isna().any():
            raise SourceError(
                path, "missing date", column="date", row=int(np.flatnonzero(date.isna())[0]) + 2
            )
        slug = df["model_permaslug"].str.strip()
        if (slug == "").any():
            raise SourceError(
                path,
                "missing model id",
                column="model_permaslug",
                row=int(np.flatnonzero(slug == "")[0]) + 2,
            )
        tokens = numeric_column(df, "total_tokens", path, allow_missing=False, lo=0)
        frames.append(pd.DataFrame({"date": date, "slug": slug, "tokens": tokens}))
    df = pd.concat(frames, ignore_index=True).drop_duplicates()
    df = df.sort_values(["date", "slug", "tokens"]).drop_duplicates(["date", "slug"], keep="last")
    total = df.groupby("date")["tokens"].transform("sum")
    df = df.assign(total=total)[df["slug"] != "other"]
    df["base"] = df["slug"].map(base_id)
    g = df.groupby(["date", "base"], as_index=False).agg(
        tokens=("tokens", "sum"), total=("total", "first")
    )
    share = g["tokens"] / g["total"].where(g["total"] > 0)
    out = pd.concat(
        [
            pd.DataFrame(
                {
                    "source": SOURCE_DAILY,
                    "source_model": g["base"],
                    "signal": "openrouter_tokens_daily",
                    "date": g["date"],
                    "value": g["tokens"],
                }
            ),
            pd.DataFrame(
                {
                    "source": SOURCE_DAILY,
                    "source_model": g["base"],
                    "signal": "openrouter_token_share_daily",
                    "date": g["date"],
                    "value": share,
                }
            ),
        ],
        ignore_index=True,
    )
    return out[out["value"].notna()]


# -------------------------------------------------------------------------- weekly


def _read_week(path: Path) -> tuple[pd.Timestamp, list[dict[str, Any]]]:
    doc = read_json(path)
    require_keys(doc, ["date", "models"], path)
    date = parse_dates(pd.Series([doc["date"]]), "date", path, row_offset=0).iloc[0]
    if pd.isna(date):
        raise SourceError(path, "missing date", column="date")
    if not isinstance(doc["models"], list):
        raise SourceError(path, "expected a list", column="models")
    rows = []
    for i, m in enumerate(doc["models"]):
        where = f"models[{i}]"
        require_keys(
            m,
            ["slug", "total_tokens", "request_count", "prompt_price", "completion_price"],
            path,
            where,
        )
        slug = m["slug"]
        if not isinstance(slug, str) or not slug.strip():
            raise SourceError(path, "missing model id", column="slug", row=where)
        requests = as_float(m["request_count"], path, "request_count", where, lo=0)
        tokens = as_float(m["total_tokens"], path, "total_tokens", where, lo=0)
        if np.isnan(tokens):
            raise SourceError(path, "missing value", column="total_tokens", row=where)
        rows.append(
            {
                "slug": slug.strip(),
                "name": m.get("name"),
                "tokens": tokens,
                "requests": np.nan if requests == 0 else requests,
                "price_in": as_float(m["prompt_price"], path, "prompt_price", where, lo=0),
                "price_out": as_float(m["completion_price"], path, "completion_price", where, lo=0),
            }
        )
    return date, rows


def read_weekly(raw: Path) -> dict[str, pd.DataFrame]:
    """Weekly top-10 tokens, requests and prices (johnbean393 snapshots).

    Parameters
    ----------
    raw : Path
        The ``raw/`` root.

    Returns
    -------
    dict of str to pandas.DataFrame
        ``"adoption"`` rows of source ``openrouter-weekly`` and ``"meta"`` display names.
    """
    folder = Path(raw) / WEEKLY_DIR
    main = [_read_week(p) for p in files(folder, "*.json")]
    deleted_dir = folder / "deleted_in_history"
    deleted = (
        [_read_week(p) for p in sorted(deleted_dir.glob("*.json"))] if deleted_dir.exists() else []
    )
    main_dates = [d for d, _ in main]
    weeks = list(main)
    for date, rows in deleted:
        if not any(abs((date - d).days) <= DELETED_WINDOW_DAYS for d in main_dates):
            weeks.append((date, rows))
    recs = [dict(r, date=date) for date, rows in weeks for r in rows]
    if not recs:
        return {"adoption": schema.empty("adoption"), "meta": schema.empty("meta")}
    df = pd.DataFrame.from_records(recs)
    df["base"] = df["slug"].map(base_id)
    g = df.groupby(["date", "base"], as_index=False).agg(
        tokens=("tokens", "sum"),
        requests=("requests", lambda s: s.sum() if s.notna().all() else np.nan),
    )
    plain = df[df["slug"] == df["base"]]
    out = []
    for signal, frame, col in [
        ("openrouter_tokens_weekly", g, "tokens"),
        ("openrouter_requests_weekly", g, "requests"),
        ("price_input_usd_per_mtok", plain, "price_in"),
        ("price_output_usd_per_mtok", plain, "price_out"),
    ]:
        scale = PER_MTOK if signal.startswith("price_") else 1.0
        part = pd.DataFrame(
            {
                "source": SOURCE_WEEKLY,
                "source_model": frame["base"],
                "signal": signal,
                "date": frame["date"],
                "value": frame[col] * scale,
            }
        )
        out.append(part[part["value"].notna()])
    latest = df.sort_values(["date", "slug"]).assign(plain=df["slug"] == df["base"])
    latest = latest.sort_values(["plain", "date", "slug"]).drop_duplicates("base", keep="last")
    meta_rows = []
    for base, name in zip(latest["base"], latest["name"], strict=True):
        org, display = _split_name(name)
        meta_rows.append(
            {
                "source": SOURCE_WEEKLY,
                "source_model": base,
                "display_name": display,
                "organization": org,
            }
        )
    return {"adoption": pd.concat(out, ignore_index=True), "meta": pd.DataFrame(meta_rows)}


# ------------------------------------------------------------------------- catalog


def read_catalog(raw: Path) -> dict[str, pd.DataFrame]:
    """OpenRouter catalogue snapshots: listing dates, prices, names and id crosswalk.

    Parameters
    ----------
    raw : Path
        The ``raw/`` root.

    Returns
    -------
    dict of str to pandas.DataFrame
        ``"adoption"`` (source ``openrouter-catalog``), ``"meta"`` and ``"crosswalk"``.
    """
    folder = Path(raw) / CATALOG_DIR
    recs = []
    for path in files(folder, "openrouter_????-??-??.json"):
        snap = file_date(path)
        doc = read_json(path)
        require_keys(doc, ["data"], path)
        if not isinstance(doc["data"], list):
            raise SourceError(path, "expected a list", column="data")
        for i, m in enumerate(doc["data"]):
            where = f"data[{i}]"
            require_keys(m, ["id", "name", "created", "pricing"], path, where)
            require_keys(m["pricing"], ["prompt", "completion"], path, where)
            mid = m["id"]
            if not isinstance(mid, str) or not mid.strip():
                raise SourceError(path, "missing model id", column="id", row=where)
            created = as_float(m["created"], path, "created", where, lo=0)
            if np.isnan(created):
                raise SourceError(path, "missing value", column="created", row=where)
            if created > 4102444800:  # 2100-01-01: also keeps the Timestamp in bounds
                raise SourceError(
                    path,
                    f"value {created!r} out of range (Unix seconds)",
                    column="created",
                    row=where,
                )
            listed = pd.Timestamp(int(created), unit="s").normalize()
            if listed > snap:
                raise SourceError(
                    path,
                    f"created date {listed.date()} after snapshot",
                    column="created",
                    row=where,
                )
            prices = []
            for key in ("prompt", "completion"):
                v = as_float(m["pricing"][key], path, f"pricing.{key}", where)
                if v < 0 and v != -1:
                    raise SourceError(
                        path, f"negative price {v!r}", column=f"pricing.{key}", row=where
                    )
                prices.append(np.nan if v == -1 else v * PER_MTOK)
            hf = m.get("hugging_face_id")
            recs.append(
                {
                    "snap": snap,
                    "id": mid.strip(),
                    "base": base_id(mid.strip()),
                    "name": m["name"],
                    "listed": listed,
                    "price_in": prices[0],
                    "price_out": prices[1],
                    "hf": hf if isinstance(hf, str) and hf.strip() else None,
                }
            )
    df = pd.DataFrame.from_records(recs)
    first_listed = df.groupby("base", as_index=False)["listed"].min()
    plain = df[df["id"] == df["base"]]
    adoption = [
        pd.DataFrame(
            {
                "source": SOURCE_CATALOG,
                "source_model": first_listed["base"],
                "signal": "openrouter_listed",
                "date": first_listed["listed"],
                "value": 1.0,
            }
        )
    ]
    for signal, col in [
        ("price_input_usd_per_mtok", "price_in"),
        ("price_output_usd_per_mtok", "price_out"),
    ]:
        part = pd.DataFrame(
            {
                "source": SOURCE_CATALOG,
                "source_model": plain["id"],
                "signal": signal,
                "date": plain["snap"],
                "value": plain[col],
            }
        )
        adoption.append(part[part["value"].notna()])
    latest = df.assign(plain=df["id"] == df["base"]).sort_values(["plain", "snap", "id"])
    latest = latest.drop_duplicates("base", keep="last")
    has_hf = set(df.loc[df["hf"].notna(), "base"])
    meta = []
    for base, name in zip(latest["base"], latest["name"], strict=True):
        org, display = _split_name(name)
        meta.append(
            {
                "source": SOURCE_CATALOG,
                "source_model": base,
                "display_name": display,
                "organization": org,
                "open_weights": True if base in has_hf else None,
            }
        )
    return {
        "adoption": pd.concat(adoption, ignore_index=True),
        "meta": pd.DataFrame(meta),
        "crosswalk": _read_id_crosswalk(folder),
    }


def _read_id_crosswalk(folder: Path) -> pd.DataFrame:
    frames = []
    for path in files(folder, "openrouter_id_crosswalk_*.csv"):
        df = read_csv(
            path,
            required=["id", "canonical_slug", "hugging_face_id"],
            dtype=str,
            keep_default_na=False,
        )
        if df.empty:
            raise SourceError(path, "no data rows")
        ids = df["id"].str.strip()
        if (ids == "").any():
            raise SourceError(
                path, "missing model id", column="id", row=int(np.flatnonzero(ids == "")[0]) + 2
            )
        api = ids.map(base_id)
        for other_source, col in [
            ("openrouter-permaslug", "canonical_slug"),
            ("huggingface", "hugging_face_id"),
        ]:
            other = df[col].str.strip()
            part = pd.DataFrame(
                {
                    "source": SOURCE_CATALOG,
                    "source_model": api,
                    "other_source": other_source,
                    "other_model": other,
                }
            )
            frames.append(part[other != ""])
    out = pd.concat(frames, ignore_index=True).drop_duplicates()
    return (
        out.sort_values(CROSSWALK_COLUMNS).reset_index(drop=True)[CROSSWALK_COLUMNS].astype(object)
    )


def read_blended_prices(raw: Path) -> pd.DataFrame:
    """Daily blended (mean of input and output) prices per API id (casualstudy).

    Parameters
    ----------
    raw : Path
        The ``raw/`` root.

    Returns
    -------
    pandas.DataFrame
        Adoption rows of source ``openrouter-catalog``, signal ``price_blended_usd_per_mtok``.
    """
    path = Path(raw) / PRICES_FILE
    doc = read_json(path)
    if not isinstance(doc, dict) or not doc:
        raise SourceError(path, "expected a non-empty object {date: {model: price}}")
    recs = []
    for day, prices in doc.items():
        date = parse_dates(pd.Series([day]), "date", path, row_offset=0).iloc[0]
        if pd.isna(date):
            raise SourceError(path, "missing date", row=repr(day))
        if not isinstance(prices, dict):
            raise SourceError(path, "expected an object of prices", row=day)
        for mid, price in prices.items():
            v = as_float(price, path, mid, day)
            if v == -1 or np.isnan(v) or _VARIANT.search(mid):
                continue
            if v < 0:
                raise SourceError(path, f"negative price {v!r}", column=mid, row=day)
            recs.append(
                {
                    "source": SOURCE_CATALOG,
                    "source_model": mid,
                    "signal": "price_blended_usd_per_mtok",
                    "date": date,
                    "value": v * PER_MTOK,
                }
            )
    return _rows(recs)


# ---------------------------------------------------------------------- crosswalk


def read_open_closed(raw: Path) -> pd.DataFrame:
    """Open/closed crosswalk of OpenRouter slugs (wyl2607 ``model_crosswalk.yaml``).

    Parameters
    ----------
    raw : Path
        The ``raw/`` root.

    Returns
    -------
    pandas.DataFrame
        Meta rows of source ``openrouter-crosswalk``.
    """
    path = Path(raw) / CROSSWALK_YAML
    doc = read_yaml(path)
    if not isinstance(doc, list) or not doc:
        raise SourceError(path, "expected a non-empty list of models")
    rows = []
    for i, entry in enumerate(doc):
        where = f"entry {i + 1}"
        require_keys(
            entry, ["openrouter_slug", "display_name", "open_or_closed", "params_b"], path, where
        )
        slug = entry["openrouter_slug"]
        if not isinstance(slug, str) or not slug.strip():
            raise SourceError(path, "missing model id", column="openrouter_slug", row=where)
        kind = entry["open_or_closed"]
        if kind not in ("open", "closed"):
            raise SourceError(
                path,
                f"expected 'open' or 'closed', got {kind!r}",
                column="open_or_closed",
                row=where,
            )
        params = as_float(entry["params_b"], path, "params_b", where, lo=0)
        name = entry["display_name"]
        rows.append(
            {
                "source": SOURCE_CROSSWALK,
                "source_model": slug.strip(),
                "display_name": name.strip() if isinstance(name, str) and name.strip() else None,
                "open_weights": kind == "open",
                "params_b": params,
            }
        )
    df = pd.DataFrame(rows)
    dup = df["source_model"].duplicated(keep=False)
    if dup.any():
        conflicting = df[dup].drop_duplicates().duplicated("source_model", keep=False)
        if conflicting.any():
            raise SourceError(
                path,
                "conflicting entries for one slug",
                column="openrouter_slug",
                row=repr(df[dup].iloc[0]["source_model"]),
            )
    return df


# --------------------------------------------------------------------------- entry


def read(raw: Path) -> dict[str, pd.DataFrame]:
    """Read every OpenRouter adoption source.

    Parameters
    ----------
    raw : Path
        The ``raw/`` root (``.../shared/data/raw``).

    Returns
    -------
    dict of str to pandas.DataFrame
        ``"adoption"`` (READER_SCHEMAS["adoption"]), ``"meta"`` (READER_SCHEMAS["meta"])
        and ``"crosswalk"`` (columns source, source_model, other_source, other_model).
    """
    raw = Path(raw)
    weekly = read_weekly(raw)
    catalog = read_catalog(raw)
    adoption = _finish_adoption(
        [read_daily(raw), weekly["adoption"], catalog["adoption"], read_blended_prices(raw)],
        raw / "adoption",
    )
    meta = _finish_meta([weekly["meta"], catalog["meta"], read_open_closed(raw)], raw / "adoption")
    return {"adoption": adoption, "meta": meta, "crosswalk": catalog["crosswalk"]}


# Attribution and terms of the folders this reader reads (shipped in SOURCES.md).
SPEC = Source(
    name="openrouter",
    upstreams=(
        Upstream(
            folder="adoption/openrouter-rankings-daily-combined",
            upstream="OpenRouter rankings",
            license="CC BY 4.0",
            what="daily tokens per model",
            feeds=("openrouter-daily",),
        ),
        Upstream(
            folder="adoption/johnbean393-openrouter-inference-stats",
            upstream="github.com/johnbean393/openrouter-inference-stats",
            license="none stated",
            what="weekly OpenRouter top models",
            feeds=("openrouter-weekly",),
        ),
        Upstream(
            folder="adoption/casualstudy-openrouter",
            upstream="casualstudy OpenRouter scrape",
            license="none stated",
            what="OpenRouter usage and prices",
            feeds=("openrouter-catalog",),
        ),
        Upstream(
            folder="adoption/wyl2607-llm-carbon-index",
            upstream="github.com/wyl2607/llm-carbon-index",
            license="none stated",
            what="OpenRouter usage, open/closed crosswalk",
            feeds=("openrouter-crosswalk",),
        ),
        Upstream(
            folder="adoption/uyhcire-openrouter-catalog-snapshots",
            upstream="github.com/uyhcire/openrouter-catalog-snapshots",
            license="none stated",
            what="OpenRouter catalogue snapshots, id crosswalk",
            feeds=("openrouter-catalog",),
        ),
    ),
    reader=read,
)
