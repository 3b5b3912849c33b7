"""Ollama library cumulative pull counts per model family, about daily.

Both sources scrape https://ollama.com/library into git history; each row is one
family (``llama3.1``, ``qwen3``, ``deepseek-r1``) in one commit. ``source_model`` is
the Ollama family name verbatim. Output signal ``ollama_pulls`` (cumulative pulls,
float64) dated by the UTC calendar day of the commit; when several commits fall on one
UTC day, the last commit with a count wins (same-day dedupe). Counts are the
site's rounded human numbers (``"1.2M"`` -> 1 200 000): the numeric column is used
(human notation there is parsed too) and the human string column fills its blanks.
Negative, infinite or unparseable counts raise :class:`SourceError`.

Sources
-------
``adoption/auditomatic-ollama-models-registry/ollama_pullcounts_all_versions.csv``
    auditomatic/ollama-models-registry (no license file), 2025-07-17 to 2026-08-21:
    ``commit_date, model, pullCount_str, pullCount_num, ...``. Source
    ``ollama-auditomatic``. Known defect: blank counts (new families, and a cluster in
    mid-December 2025) are missing values: the row is dropped, never read as 0.
    Not read: ``models-summary_monthly/*.json``, ``*_models.json`` (top-20 / per-tag
    views of commits already in the CSV) and ``openrouter-provider-endpoints.raw.json``
    (not an Ollama signal).
``adoption/d3rhami-ollama-gallery/ollama_pulls_all_versions.csv``
    d3rhami/ollama-gallery (no license file), 2025-08-05 to 2026-07-15:
    ``commit_date, model, pull_str, pull, ...`` with mixed time-zone offsets (converted
    to UTC). Source ``ollama-d3rhami``. Known defect: the first commit
    (2025-08-05T19:07+03:30) keys rows by popularity rank (``1``, ``2``, ``-1``)
    instead of family name; rows whose ``model`` is a bare integer are skipped.
    ``models.json`` is the latest commit of the same CSV and is not read.

The two sources stay separate ``source`` values (no cross-source merge). No meta:
the registries list parameter sizes and tags per family, but a family is not a model,
so nothing is attributed to model ids (``meta`` is empty).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from divergence import schema
from divergence.errors import SourceError
from divergence.sources._io import ADOPTION_KEYS, check_dates, check_range, read_csv
from divergence.sources.base import Source, Upstream

SIGNAL = "ollama_pulls"
AUDITOMATIC = (
    "ollama-auditomatic",
    Path("adoption/auditomatic-ollama-models-registry/ollama_pullcounts_all_versions.csv"),
    "pullCount_num",
    "pullCount_str",
)
D3RHAMI = (
    "ollama-d3rhami",
    Path("adoption/d3rhami-ollama-gallery/ollama_pulls_all_versions.csv"),
    "pull",
    "pull_str",
)

_COUNT = re.compile(r"^([0-9][0-9,]*(?:\.[0-9]+)?)\s*([KMB]?)$", re.IGNORECASE)
_SCALE = {"": 1.0, "K": 1e3, "M": 1e6, "B": 1e9}
_BLANK = {"", "nan", "None", "null", "-", "N/A", "n/a"}


def parse_count(text: str) -> float:
    """Parse a human pull count such as ``"1.2M"``, ``"286.5K"`` or ``"6,517"``.

    Parameters
    ----------
    text : str
        The count as displayed by ollama.com.

    Returns
    -------
    float
        The count (NaN for a blank cell).

    Raises
    ------
    ValueError
        If the text is not a count.
    """
    s = str(text).strip()
    if s in _BLANK:
        return np.nan
    m = _COUNT.match(s)
    if not m:
        raise ValueError(f"not a pull count: {text!r}")
    return float(round(float(m.group(1).replace(",", "")) * _SCALE[m.group(2).upper()]))


def _counts(df: pd.DataFrame, col: str, path: Path, rows: np.ndarray | None = None) -> pd.Series:
    """Column ``col`` as float64 counts (plain or human notation; blank -> NaN).

    Only the boolean mask ``rows`` is parsed (all rows when None); others are NaN.
    """
    text = df[col].astype(str).str.strip()
    todo = ~text.isin(_BLANK).to_numpy()
    if rows is not None:
        todo &= rows
    value = pd.Series(np.nan, index=df.index, dtype="float64")
    value[todo] = pd.to_numeric(text[todo], errors="coerce").astype("float64")
    human = todo & value.isna().to_numpy()
    if human.any():
        parts = text[human].str.extract(_COUNT)
        bad = parts[0].isna().to_numpy()
        if bad.any():
            pos = int(np.flatnonzero(human)[np.flatnonzero(bad)[0]])
            raise SourceError(
                path, f"non-numeric count {text.iloc[pos]!r}", column=col, row=pos + 2
            )
        scale = parts[1].fillna("").str.upper().map(_SCALE).astype("float64")
        value[human] = (
            parts[0].str.replace(",", "", regex=False).astype("float64") * scale
        ).round()
    return value


def read_pulls(raw: Path, source: str, rel: Path, num_col: str, str_col: str) -> pd.DataFrame:
    """Read one pull-count CSV into adoption rows.

    Parameters
    ----------
    raw : Path
        The ``raw/`` root.
    source : str
        Value of the ``source`` column.
    rel : Path
        CSV path relative to ``raw``.
    num_col, str_col : str
        Numeric and human-readable count columns.

    Returns
    -------
    pandas.DataFrame
        Adoption rows, one per (family, UTC day).
    """
    path = Path(raw) / rel
    df = read_csv(
        path, required=["commit_date", "model", num_col, str_col], dtype=str, keep_default_na=False
    )
    if df.empty:
        raise SourceError(path, "no data rows")
    ts = pd.to_datetime(df["commit_date"], utc=True, errors="coerce", format="ISO8601")
    if ts.isna().any():
        pos = int(np.flatnonzero(ts.isna().to_numpy())[0])
        raise SourceError(
            path,
            f"unparseable date {df['commit_date'].iloc[pos]!r}",
            column="commit_date",
            row=pos + 2,
        )
    check_dates(ts.dt.tz_convert(None), df["commit_date"], "commit_date", path)
    model = df["model"].str.strip()
    if (model == "").any():
        raise SourceError(
            path, "missing model", column="model", row=int(np.flatnonzero(model == "")[0]) + 2
        )
    value = _counts(df, num_col, path)
    missing = value.isna().to_numpy()
    if missing.any():
        value = value.where(~missing, _counts(df, str_col, path, missing))
    check_range(value, num_col, path, lo=0)
    out = pd.DataFrame({"ts": ts, "model": model, "value": value})
    out = out[out["value"].notna() & ~out["model"].str.fullmatch(r"-?\d+")]
    out["date"] = out["ts"].dt.tz_convert(None).dt.normalize().astype("datetime64[ns]")
    out = out.sort_values(["model", "ts", "value"], kind="mergesort").drop_duplicates(
        ["model", "date"], keep="last"
    )
    return pd.DataFrame(
        {
            "source": source,
            "source_model": out["model"],
            "signal": SIGNAL,
            "date": out["date"],
            "value": out["value"],
        }
    )


def read(raw: Path) -> dict[str, pd.DataFrame]:
    """Read both Ollama pull-count histories.

    Parameters
    ----------
    raw : Path
        The ``raw/`` root (``.../shared/data/raw``).

    Returns
    -------
    dict of str to pandas.DataFrame
        ``"adoption"`` (READER_SCHEMAS["adoption"]) and an empty ``"meta"``.
    """
    raw = Path(raw)
    df = pd.concat([read_pulls(raw, *AUDITOMATIC), read_pulls(raw, *D3RHAMI)], ignore_index=True)
    df = df.sort_values(ADOPTION_KEYS).reset_index(drop=True)
    return {
        "adoption": schema.validate(df, "adoption", str(raw / "adoption")),
        "meta": schema.empty("meta"),
    }


# Attribution and terms of the folders this reader reads (shipped in SOURCES.md).
SPEC = Source(
    name="ollama",
    upstreams=(
        Upstream(
            folder="adoption/auditomatic-ollama-models-registry",
            upstream="github.com/auditomatic/ollama-models-registry",
            license="none stated",
            what="Ollama pull counts",
            feeds=("ollama-auditomatic",),
        ),
        Upstream(
            folder="adoption/d3rhami-ollama-gallery",
            upstream="github.com/d3rhami/ollama-gallery",
            license="none stated",
            what="Ollama pull counts",
            feeds=("ollama-d3rhami",),
        ),
    ),
    reader=read,
)
