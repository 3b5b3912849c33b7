"""Provider and price catalogues: models.dev, litellm, pydantic genai-prices, simonw llm-prices.

``source_model`` is each catalogue's own model key verbatim (pydantic: see below). Prices
are USD per million tokens (signals ``price_input_usd_per_mtok`` and
``price_output_usd_per_mtok``); every value is checked finite and >= 0.

Sources
-------
``adoption/models.dev/models_dev_provider_model_monthly.csv`` (models.dev, MIT)
    ``snapshot_commit_date, provider, model_id``: the provider x model pairs of 14
    monthly commits, 2025-06-27 to 2026-07-02. Dated by the commit's UTC day (the
    2026-06-30T20:46-04:00 and 2026-07-02T00:40+08:00 commits share UTC day 2026-07-01:
    the later commit is kept). Source ``models.dev``, per ``model_id`` and date:
    ``providers`` = distinct providers listing that exact id, and
    ``providers_non_aggregator`` = the same without :data:`AGGREGATORS` (can be 0).
    Provider ids spell models differently (``gemini-2.5-pro``,
    ``google/gemini-2.5-pro``, ``openai.gpt-oss-120b``), so a count covers one
    spelling: combine spellings only after mapping ids to canonical models.
``adoption/models.dev/models_dev_flat_HEAD.csv`` (models.dev, MIT)
    One row per provider x model at HEAD: ``name, release_date, open_weights,
    reasoning``. Meta of source ``models.dev`` per ``model_id``: values from a
    first-party provider (:data:`FIRST_PARTY`, which also gives ``organization``)
    win, otherwise the most frequent value across providers (ties: earliest date,
    alphabetically first name, unknown for a tied boolean). Month-only release dates
    (``2026-01``, mostly reseller placeholders) and impossible calendar dates
    (scaleway ``qwen3-embedding-8b``: ``2025-25-11``) are treated as unknown; any other
    non-date text raises. HEAD prices are undated and not used.
``adoption/litellm-prices-history/`` (BerriAI/litellm price file, MIT)
    Copies of ``model_prices_and_context_window.json`` (``{key: {litellm_provider,
    mode, input_cost_per_token, output_cost_per_token, ...}}``) dated by file name:
    ``from_tokencost_2024-01_to_2025-09/*_model_prices.json`` (via AgentOps-AI/tokencost)
    and ``from_auditomatic_2025-08_to_2026-08/*.json``; on a date present in both, the
    auditomatic entry wins per key and keys of either copy count as listed. Kept: text
    modes ``chat``, ``completion``, ``responses``; skipped: ``sample_spec``, entries
    without ``mode`` (pricing-tier placeholders such as ``together-ai-up-to-3b``) and
    non-text modes (image, embedding, audio, rerank, ...). Source ``litellm``:
    ``litellm_listed`` = 1.0 at every file date where the key is present, plus at the
    key's ``first_seen`` UTC day from ``litellm_keys_first_last_seen.csv`` (computed
    upstream from ~300 commits). First-seen precision is therefore days for keys in
    that CSV and ~6 weeks (the file spacing) otherwise; keys present in the first copy
    (2024-01-30) are left-censored. ``litellm_providers`` = distinct ``litellm_provider``
    values that month among keys with the same base model, the base being the key's
    last ``/`` segment (``bedrock/us.anthropic.x`` and ``anthropic.x`` differ: an
    approximation); not written for the two 2024-01/02 copies that lack
    ``litellm_provider``. Prices: ``*_cost_per_token`` x 1e6; known defect: some
    entries carry per-token costs off by up to 1e6 (``wandb/*`` from 2025-09,
    ``azure_ai/jais-30b-chat``, ``watsonx/*``), so prices above
    :data:`LITELLM_PRICE_MAX` (1000 USD/Mtok; the dearest real list price is o1-pro's
    600) are dropped.
``adoption/pydantic-genai-prices/YYYY-MM-DD_data.json`` (pydantic/genai-prices; no license file in the copy)
    Monthly copies of ``data.json``: ``[{id, models: [{id, name, prices}]}]``.
    ``source_model`` = ``"<provider id>/<model id>"`` (model ids repeat across
    providers with different prices; provider ids contain no ``/``). Prices are a
    number, a tiered ``{"base": x, "tiers": [...]}`` (the base price is kept) or a list
    of conditional prices: time-of-day discounts are ignored and the
    ``start_date``-constrained entry in force at the file date wins.
``adoption/simonw-llm-prices/<vendor>.json`` (simonw/llm-prices, no license file)
    ``{vendor, models: [{id, name, price_history: [{input, output, from_date,
    to_date}]}]}``, an undated snapshot. Price rows are written only for entries with a
    ``from_date`` (dated at it); undated prices are skipped because they cannot be
    placed in time (the same first-party list prices are in pydantic's dated copies).
    Meta: ``display_name`` = ``name``, ``organization`` = vendor id; a repeated id
    (``grok-4-fast``) keeps its first entry.

Duplicates: exact duplicate rows are dropped; conflicting rows for one key, signal and
date keep the largest value (none occur after the rules above).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from divergence import schema
from divergence.errors import SourceError
from divergence.sources._io import (
    ADOPTION_KEYS,
    as_float,
    check_dates,
    file_date,
    files,
    parse_dates,
    read_csv,
    read_json,
    require_keys,
)
from divergence.sources.base import Source, Upstream

SOURCE_MODELS_DEV = "models.dev"
SOURCE_LITELLM = "litellm"
SOURCE_PYDANTIC = "pydantic-genai-prices"
SOURCE_SIMONW = "simonw-llm-prices"

MODELS_DEV_DIR = Path("adoption/models.dev")
LITELLM_DIR = Path("adoption/litellm-prices-history")
LITELLM_FOLDERS = (
    "from_auditomatic_2025-08_to_2026-08",
    "from_tokencost_2024-01_to_2025-09",
)  # priority order
PYDANTIC_DIR = Path("adoption/pydantic-genai-prices")
SIMONW_DIR = Path("adoption/simonw-llm-prices")

PRICE_IN = "price_input_usd_per_mtok"
PRICE_OUT = "price_output_usd_per_mtok"
PER_MTOK = 1e6
LITELLM_TEXT_MODES = frozenset({"chat", "completion", "responses"})
#: litellm prices above this (USD per million tokens) are upstream unit errors and dropped.
LITELLM_PRICE_MAX = 1000.0

#: models.dev providers that resell or route other vendors' hosted APIs (gateways,
#: routers, subscription bundles). Criterion: they list closed models of at least three
#: of Anthropic, OpenAI, Google and xAI without being a cloud that hosts licensed copies
#: (amazon-bedrock, azure, google-vertex, databricks, snowflake-cortex, sap-ai-core and
#: digitalocean are not aggregators), plus routers named as such.
AGGREGATORS = frozenset(
    {
        "302ai",
        "abacus",
        "agentrouter",
        "aihubmix",
        "anyapi",
        "auriko",
        "cloudflare-ai-gateway",
        "cortecs",
        "fastrouter",
        "firmware",
        "freemodel",
        "frogbot",
        "github-copilot",
        "github-models",
        "helicone",
        "jiekou",
        "kilo",
        "llmgateway",
        "merge-gateway",
        "nano-gpt",
        "nearai",
        "neon",
        "opencode",
        "opencode-go",
        "openrouter",
        "orcarouter",
        "perplexity-agent",
        "poe",
        "qihang-ai",
        "qiniu-ai",
        "requesty",
        "routing-run",
        "v0",
        "venice",
        "vercel",
        "vivgrid",
        "zenmux",
    }
)

#: models.dev provider ids that only list their own lab's models -> organization.
FIRST_PARTY = {
    "alibaba": "Alibaba",
    "anthropic": "Anthropic",
    "cohere": "Cohere",
    "deepseek": "DeepSeek",
    "google": "Google",
    "inception": "Inception",
    "llama": "Meta",
    "minimax": "MiniMax",
    "minimax-cn": "MiniMax",
    "mistral": "Mistral AI",
    "moonshotai": "Moonshot AI",
    "moonshotai-cn": "Moonshot AI",
    "openai": "OpenAI",
    "perplexity": "Perplexity",
    "poolside": "Poolside",
    "sakana": "Sakana AI",
    "sarvam": "Sarvam AI",
    "stepfun": "StepFun",
    "upstage": "Upstage",
    "xai": "xAI",
    "xiaomi": "Xiaomi",
    "zai": "Z.ai",
    "zhipuai": "Zhipu AI",
}


def _frame(records: Iterable[dict[str, Any]]) -> pd.DataFrame:
    return pd.DataFrame.from_records(
        list(records), columns=["source", "source_model", "signal", "date", "value"]
    )


def _nonblank(df: pd.DataFrame, col: str, path: Path) -> pd.Series:
    s = df[col].astype(str).str.strip()
    if (s == "").any():
        raise SourceError(
            path, "missing value", column=col, row=int(np.flatnonzero((s == "").to_numpy())[0]) + 2
        )
    return s


def _utc_days(s: pd.Series, col: str, path: Path) -> tuple[pd.Series, pd.Series]:
    """(UTC timestamp, UTC calendar day) of an ISO-8601 column with mixed offsets."""
    ts = pd.to_datetime(s, utc=True, errors="coerce", format="ISO8601")
    if ts.isna().any():
        pos = int(np.flatnonzero(ts.isna().to_numpy())[0])
        raise SourceError(path, f"unparseable date {s.iloc[pos]!r}", column=col, row=pos + 2)
    day = ts.dt.tz_convert(None).dt.normalize()
    check_dates(day, s, col, path)
    return ts, day.astype("datetime64[ns]")


def _price(value: Any, path: Path, column: str, row: Any) -> float:
    """USD per million tokens from a per-mtok number or a tiered ``{"base": x}``."""
    if isinstance(value, dict):
        require_keys(value, ["base"], path, row)
        value = value["base"]
    return as_float(value, path, column, row, lo=0)


# ---------------------------------------------------------------------- models.dev


def read_models_dev(raw: Path) -> dict[str, pd.DataFrame]:
    """models.dev provider counts per model id and month, and model metadata.

    Parameters
    ----------
    raw : Path
        The ``raw/`` root.

    Returns
    -------
    dict of str to pandas.DataFrame
        ``"adoption"`` (signals ``providers``, ``providers_non_aggregator``) and ``"meta"``.
    """
    path = Path(raw) / MODELS_DEV_DIR / "models_dev_provider_model_monthly.csv"
    df = read_csv(
        path,
        required=["snapshot_commit_date", "provider", "model_id"],
        dtype=str,
        keep_default_na=False,
    )
    if df.empty:
        raise SourceError(path, "no data rows")
    ts, day = _utc_days(df["snapshot_commit_date"], "snapshot_commit_date", path)
    df = pd.DataFrame(
        {
            "ts": ts,
            "date": day,
            "provider": _nonblank(df, "provider", path),
            "model": _nonblank(df, "model_id", path),
        }
    )
    last = df.groupby("date")["ts"].transform("max")
    df = df[df["ts"] == last].drop_duplicates(["date", "provider", "model"])
    df["agg"] = df["provider"].isin(AGGREGATORS)
    g = df.groupby(["date", "model"], as_index=False).agg(
        providers=("provider", "nunique"),
        own=("agg", lambda s: int((~s).sum())),
    )
    adoption = pd.concat(
        [
            pd.DataFrame(
                {
                    "source": SOURCE_MODELS_DEV,
                    "source_model": g["model"],
                    "signal": "providers",
                    "date": g["date"],
                    "value": g["providers"].astype("float64"),
                }
            ),
            pd.DataFrame(
                {
                    "source": SOURCE_MODELS_DEV,
                    "source_model": g["model"],
                    "signal": "providers_non_aggregator",
                    "date": g["date"],
                    "value": g["own"].astype("float64"),
                }
            ),
        ],
        ignore_index=True,
    )
    return {
        "adoption": adoption,
        "meta": _models_dev_meta(Path(raw) / MODELS_DEV_DIR / "models_dev_flat_HEAD.csv"),
    }


def _bool_column(df: pd.DataFrame, col: str, path: Path) -> pd.Series:
    s = df[col].astype(str).str.strip()
    mapping = {"True": True, "true": True, "False": False, "false": False, "": None}
    bad = ~s.isin(list(mapping))
    if bad.any():
        pos = int(np.flatnonzero(bad.to_numpy())[0])
        raise SourceError(
            path, f"expected True/False, got {s.iloc[pos]!r}", column=col, row=pos + 2
        )
    return s.map(mapping).astype(object)


def _vote(t: pd.DataFrame, col: str) -> pd.Series:
    """Per model, the most frequent non-null ``col`` value; ties -> smallest value,
    except tied booleans -> unknown (None)."""
    v = t[["model", col]].dropna()
    if v.empty:
        return pd.Series(dtype=object)
    cnt = v.groupby(["model", col], sort=False).size().rename("n").reset_index()
    cnt = cnt.sort_values(["model", "n", col], ascending=[True, False, True], kind="mergesort")
    top = cnt.drop_duplicates("model", keep="first").set_index("model")
    nmax = cnt.groupby("model")["n"].transform("max")
    ties = cnt[cnt["n"] == nmax].groupby("model").size()
    out = top[col].astype(object)
    if all(isinstance(x, (bool, np.bool_)) for x in out):
        out[ties.reindex(out.index).to_numpy() > 1] = None
    return out


def _models_dev_meta(path: Path) -> pd.DataFrame:
    cols = ["provider", "model_id", "name", "release_date", "open_weights", "reasoning"]
    df = read_csv(path, required=cols, dtype=str, keep_default_na=False)
    if df.empty:
        raise SourceError(path, "no data rows")
    rel = df["release_date"].astype(str).str.strip()
    month_only = rel.str.fullmatch(r"\d{4}-\d{2}")
    shaped = rel.str.fullmatch(r"\d{4}-\d{2}-\d{2}")
    impossible = (
        shaped & pd.to_datetime(rel.where(shaped), format="%Y-%m-%d", errors="coerce").isna()
    )
    release = parse_dates(
        rel.where(~(month_only | impossible), ""), "release_date", path, fmt="%Y-%m-%d"
    )
    name = df["name"].astype(str).str.strip()
    t = pd.DataFrame(
        {
            "provider": _nonblank(df, "provider", path),
            "model": _nonblank(df, "model_id", path),
            "name": name.where(name != "", None),
            "release": release,
            "open": _bool_column(df, "open_weights", path),
            "reasoning": _bool_column(df, "reasoning", path),
        }
    )
    t["org"] = t["provider"].map(FIRST_PARTY)
    t = t.sort_values(["model", "provider"], kind="mergesort")
    own = t[t["org"].notna()].groupby("model")
    models = pd.Index(sorted(t["model"].unique()), name="model")
    out = pd.DataFrame(index=models)
    out["organization"] = own["org"].first().reindex(models)
    for out_col, col in [
        ("display_name", "name"),
        ("release_date", "release"),
        ("open_weights", "open"),
        ("reasoning", "reasoning"),
    ]:
        first_party = own[col].first().reindex(models)
        voted = _vote(t, col).reindex(models)
        out[out_col] = first_party.astype(object).where(first_party.notna(), voted.astype(object))
    out = out.reset_index().rename(columns={"model": "source_model"})
    out.insert(0, "source", SOURCE_MODELS_DEV)
    return out


# ------------------------------------------------------------------------- litellm


def read_litellm(raw: Path) -> pd.DataFrame:
    """litellm price-file history: listing, provider counts and prices per key.

    Parameters
    ----------
    raw : Path
        The ``raw/`` root.

    Returns
    -------
    pandas.DataFrame
        Adoption rows of source ``litellm``.
    """
    folder = Path(raw) / LITELLM_DIR
    recs = []
    for priority, sub in enumerate(LITELLM_FOLDERS):
        for path in files(folder / sub, "*.json"):
            date = file_date(path)
            doc = read_json(path)
            if not isinstance(doc, dict) or not doc:
                raise SourceError(path, "expected a non-empty object {model key: entry}")
            for key, entry in doc.items():
                if key == "sample_spec":
                    continue
                if not isinstance(entry, dict):
                    raise SourceError(
                        path, f"expected an object, got {type(entry).__name__}", row=repr(key)
                    )
                mode = entry.get("mode")
                if mode not in LITELLM_TEXT_MODES:
                    continue
                provider = entry.get("litellm_provider")
                if provider is not None and not (isinstance(provider, str) and provider.strip()):
                    raise SourceError(
                        path,
                        f"invalid provider {provider!r}",
                        column="litellm_provider",
                        row=repr(key),
                    )
                recs.append(
                    {
                        "priority": priority,
                        "date": date,
                        "key": key,
                        "provider": provider,
                        "price_in": as_float(
                            entry.get("input_cost_per_token"),
                            path,
                            "input_cost_per_token",
                            repr(key),
                            lo=0,
                        )
                        * PER_MTOK,
                        "price_out": as_float(
                            entry.get("output_cost_per_token"),
                            path,
                            "output_cost_per_token",
                            repr(key),
                            lo=0,
                        )
                        * PER_MTOK,
                    }
                )
    df = pd.DataFrame.from_records(recs)
    present = df[["date", "key"]].drop_duplicates()
    df = df.sort_values(["date", "key", "priority"]).drop_duplicates(["date", "key"], keep="first")
    df["base"] = df["key"].str.rsplit("/", n=1).str[-1]
    known = df[df["provider"].notna()]
    nprov = known.groupby(["date", "base"])["provider"].nunique().rename("n").reset_index()
    known = known.merge(nprov, on=["date", "base"], how="left")
    out = [
        pd.DataFrame(
            {
                "source": SOURCE_LITELLM,
                "source_model": present["key"],
                "signal": "litellm_listed",
                "date": present["date"],
                "value": 1.0,
            }
        ),
        pd.DataFrame(
            {
                "source": SOURCE_LITELLM,
                "source_model": known["key"],
                "signal": "litellm_providers",
                "date": known["date"],
                "value": known["n"].astype("float64"),
            }
        ),
        _first_seen(folder / "litellm_keys_first_last_seen.csv"),
    ]
    for signal, col in [(PRICE_IN, "price_in"), (PRICE_OUT, "price_out")]:
        part = pd.DataFrame(
            {
                "source": SOURCE_LITELLM,
                "source_model": df["key"],
                "signal": signal,
                "date": df["date"],
                "value": df[col],
            }
        )
        out.append(part[part["value"].notna() & (part["value"] <= LITELLM_PRICE_MAX)])
    return pd.concat(out, ignore_index=True)


def _first_seen(path: Path) -> pd.DataFrame:
    df = read_csv(path, required=["key", "mode", "first_seen"], dtype=str, keep_default_na=False)
    if df.empty:
        raise SourceError(path, "no data rows")
    key = _nonblank(df, "key", path)
    _, day = _utc_days(df["first_seen"], "first_seen", path)
    keep = df["mode"].str.strip().isin(LITELLM_TEXT_MODES)
    return pd.DataFrame(
        {
            "source": SOURCE_LITELLM,
            "source_model": key[keep],
            "signal": "litellm_listed",
            "date": day[keep],
            "value": 1.0,
        }
    )


# ------------------------------------------------------------------------ pydantic


def _pydantic_prices(prices: Any, date: pd.Timestamp, path: Path, row: str) -> dict[str, Any]:
    """The unconditional price dict in force on ``date``."""
    if isinstance(prices, dict):
        return prices
    if not isinstance(prices, list) or not prices:
        raise SourceError(path, "expected an object or a non-empty list", column="prices", row=row)
    best, best_start = None, None
    for i, option in enumerate(prices):
        require_keys(option, ["prices"], path, f"{row} prices[{i}]")
        constraint = option.get("constraint") or {}
        if not isinstance(constraint, dict):
            raise SourceError(path, "expected an object", column="constraint", row=row)
        if set(constraint) - {"start_date"}:
            continue  # time-of-day discounts and other conditional prices
        start = pd.Timestamp.min
        if "start_date" in constraint:
            start = parse_dates(
                pd.Series([constraint["start_date"]]), "start_date", path, row_offset=0
            ).iloc[0]
            if pd.isna(start) or start > date:
                continue
        if best_start is None or start >= best_start:
            best, best_start = option["prices"], start
    if not isinstance(best, dict):
        raise SourceError(path, "no unconditional price", column="prices", row=row)
    return best


def read_pydantic(raw: Path) -> pd.DataFrame:
    """pydantic genai-prices monthly snapshots: input/output prices per provider/model.

    Parameters
    ----------
    raw : Path
        The ``raw/`` root.

    Returns
    -------
    pandas.DataFrame
        Adoption rows of source ``pydantic-genai-prices``.
    """
    recs = []
    for path in files(Path(raw) / PYDANTIC_DIR, "*_data.json"):
        date = file_date(path)
        doc = read_json(path)
        if not isinstance(doc, list) or not doc:
            raise SourceError(path, "expected a non-empty list of providers")
        for i, prov in enumerate(doc):
            require_keys(prov, ["id", "models"], path, f"providers[{i}]")
            if not isinstance(prov["models"], list):
                raise SourceError(path, "expected a list", column="models", row=prov["id"])
            for j, model in enumerate(prov["models"]):
                row = f"{prov['id']} models[{j}]"
                require_keys(model, ["id", "prices"], path, row)
                prices = _pydantic_prices(model["prices"], date, path, row)
                sm = f"{prov['id']}/{model['id']}"
                for signal, k in [(PRICE_IN, "input_mtok"), (PRICE_OUT, "output_mtok")]:
                    if k in prices:
                        v = _price(prices[k], path, f"prices.{k}", row)
                        if not np.isnan(v):
                            recs.append(
                                {
                                    "source": SOURCE_PYDANTIC,
                                    "source_model": sm,
                                    "signal": signal,
                                    "date": date,
                                    "value": v,
                                }
                            )
    return _frame(recs)


# -------------------------------------------------------------------------- simonw


def read_simonw(raw: Path) -> dict[str, pd.DataFrame]:
    """simonw llm-prices: dated price changes and display names.

    Parameters
    ----------
    raw : Path
        The ``raw/`` root.

    Returns
    -------
    dict of str to pandas.DataFrame
        ``"adoption"`` (source ``simonw-llm-prices``) and ``"meta"``.
    """
    recs, meta = [], []
    for path in files(Path(raw) / SIMONW_DIR, "*.json"):
        doc = read_json(path)
        require_keys(doc, ["vendor", "models"], path)
        if not isinstance(doc["models"], list):
            raise SourceError(path, "expected a list", column="models")
        for i, model in enumerate(doc["models"]):
            row = f"models[{i}]"
            require_keys(model, ["id", "price_history"], path, row)
            mid = model["id"]
            if not isinstance(mid, str) or not mid.strip():
                raise SourceError(path, "missing model id", column="id", row=row)
            name = model.get("name")
            meta.append(
                {
                    "source": SOURCE_SIMONW,
                    "source_model": mid.strip(),
                    "display_name": name.strip()
                    if isinstance(name, str) and name.strip()
                    else None,
                    "organization": doc["vendor"] if isinstance(doc["vendor"], str) else None,
                }
            )
            if not isinstance(model["price_history"], list):
                raise SourceError(path, "expected a list", column="price_history", row=row)
            for k, entry in enumerate(model["price_history"]):
                where = f"{row} price_history[{k}]"
                require_keys(entry, ["input", "output", "from_date"], path, where)
                p_in = as_float(entry["input"], path, "input", where, lo=0)
                p_out = as_float(entry["output"], path, "output", where, lo=0)
                if entry["from_date"] is None:
                    continue
                date = parse_dates(
                    pd.Series([entry["from_date"]]), "from_date", path, row_offset=0
                ).iloc[0]
                for signal, v in [(PRICE_IN, p_in), (PRICE_OUT, p_out)]:
                    if not np.isnan(v):
                        recs.append(
                            {
                                "source": SOURCE_SIMONW,
                                "source_model": mid.strip(),
                                "signal": signal,
                                "date": date,
                                "value": v,
                            }
                        )
    return {"adoption": _frame(recs), "meta": pd.DataFrame(meta)}


# --------------------------------------------------------------------------- entry


def read(raw: Path) -> dict[str, pd.DataFrame]:
    """Read models.dev, litellm, pydantic genai-prices and simonw llm-prices.

    Parameters
    ----------
    raw : Path
        The ``raw/`` root (``.../shared/data/raw``).

    Returns
    -------
    dict of str to pandas.DataFrame
        ``"adoption"`` (READER_SCHEMAS["adoption"]) and ``"meta"`` (READER_SCHEMAS["meta"]).
    """
    raw = Path(raw)
    models_dev = read_models_dev(raw)
    simonw = read_simonw(raw)
    frames = [
        f
        for f in [models_dev["adoption"], read_litellm(raw), read_pydantic(raw), simonw["adoption"]]
        if len(f)
    ]
    adoption = pd.concat(frames, ignore_index=True)
    adoption["date"] = pd.to_datetime(adoption["date"]).astype("datetime64[ns]")
    adoption["value"] = adoption["value"].astype("float64")
    adoption = adoption.drop_duplicates()
    adoption = adoption.sort_values(ADOPTION_KEYS + ["value"]).drop_duplicates(
        ADOPTION_KEYS, keep="last"
    )
    adoption = adoption.sort_values(ADOPTION_KEYS).reset_index(drop=True)
    meta = pd.concat(
        [schema.coerce(m, "meta") for m in (models_dev["meta"], simonw["meta"]) if len(m)],
        ignore_index=True,
    )
    meta = meta.drop_duplicates(["source", "source_model"], keep="first")
    meta = meta.sort_values(["source", "source_model"]).reset_index(drop=True)
    origin = str(raw / "adoption")
    return {
        "adoption": schema.validate(adoption, "adoption", origin),
        "meta": schema.validate(meta, "meta", origin),
    }


# Attribution and terms of the folders this reader reads (shipped in SOURCES.md).
SPEC = Source(
    name="catalogs",
    upstreams=(
        Upstream(
            folder="adoption/models.dev",
            upstream="github.com/sst/models.dev",
            license="not stated in the copy; see upstream",
            what="provider x model catalogue",
            feeds=("models.dev",),
        ),
        Upstream(
            folder="adoption/litellm-prices-history",
            upstream="github.com/BerriAI/litellm (model_prices_and_context_window.json history)",
            license="not stated in the copy; see upstream",
            what="first-seen dates, providers, prices",
            feeds=("litellm",),
        ),
        Upstream(
            folder="adoption/pydantic-genai-prices",
            upstream="github.com/pydantic/genai-prices",
            license="not stated in the copy; see upstream",
            what="prices",
            feeds=("pydantic-genai-prices",),
        ),
        Upstream(
            folder="adoption/simonw-llm-prices",
            upstream="github.com/simonw/llm-prices",
            license="not stated in the copy; see upstream",
            what="prices",
            feeds=("simonw-llm-prices",),
        ),
    ),
    reader=read,
)
