"""Column contracts for source-reader outputs and snapshot tables.

Each reader in :mod:`divergence.sources` returns a dict of DataFrames whose keys and
columns are listed here; :func:`validate` enforces them (names, order, dtypes, no
inf, required non-null columns) and is used both by the build and by the tests.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from divergence.errors import SourceError

# dtype codes: "str" object/string; "float" float64; "date" datetime64[ns]; "bool" object
# holding True/False/None (nullable); "int" int64.
READER_SCHEMAS: dict[str, dict[str, str]] = {
    # one row per (source, model_key, board, category, snapshot_date)
    "ratings": {
        "source": "str",
        "model_key": "str",  # LMArena model key (history sources: key resolved from display name)
        "board": "str",  # "raw" or "style" (style-controlled)
        "category": "str",  # "full" = overall; "coding", "expert", "industry_legal...", ...
        "snapshot_date": "date",
        "rating": "float",
        "rating_lo": "float",  # lower CI bound (NaN when the source has none)
        "rating_hi": "float",
    },
    # one row per (source, source_model, benchmark, as_of)
    "benchmarks": {
        "source": "str",
        "source_model": "str",  # the source's own model id, verbatim
        "benchmark": "str",  # "<family>:<name>", e.g. "aa:gpqa", "epoch:frontiermath"
        "score": "float",
        "as_of": "date",  # when the score was published/measured (file date if unknown)
        "self_reported": "bool",
    },
    # one row per (source, source_model, signal, date)
    "adoption": {
        "source": "str",
        "source_model": "str",
        "signal": "str",  # e.g. "openrouter_tokens_daily", "ollama_pulls", "providers"
        "date": "date",
        "value": "float",
    },
    # one row per (source, source_model): what a source says about a model
    "meta": {
        "source": "str",
        "source_model": "str",
        "display_name": "str",
        "organization": "str",
        "release_date": "date",
        "open_weights": "bool",
        "reasoning": "bool",
        "params_b": "float",  # total parameters, billions
    },
}

SNAPSHOT_SCHEMAS: dict[str, dict[str, str]] = {
    "models": {
        "model_id": "str",
        "display_name": "str",
        "organization": "str",
        "release_date": "date",
        "open_weights": "bool",
        "reasoning": "bool",
        "params_b": "float",
        "on_arena": "bool",
        "sources": "str",  # ";"-joined sources that know this model
        "release_date_source": "str",
        "organization_source": "str",
        "open_weights_source": "str",
    },
    "ratings": {
        "model_id": "str",
        "board": "str",
        "category": "str",
        "snapshot_date": "date",
        "source": "str",
        "rating": "float",
        "rating_lo": "float",
        "rating_hi": "float",
        "rating_norm": "float",
    },
    "benchmarks": {
        "model_id": "str",
        "source": "str",
        "benchmark": "str",
        "score": "float",
        "as_of": "date",
        "self_reported": "bool",
    },
    "adoption": {
        "model_id": "str",
        "source": "str",
        "signal": "str",
        "date": "date",
        "value": "float",
    },
    "aliases": {
        "alias": "str",
        "source": "str",
        "model_id": "str",
        "rule": "str",
    },
}


def empty(kind: str, schemas: dict[str, dict[str, str]] = READER_SCHEMAS) -> pd.DataFrame:
    """An empty frame with the columns and dtypes of ``kind``."""
    return coerce(pd.DataFrame({c: [] for c in schemas[kind]}), kind, schemas)


def coerce(
    df: pd.DataFrame, kind: str, schemas: dict[str, dict[str, str]] = READER_SCHEMAS
) -> pd.DataFrame:
    """Return ``df`` restricted to, ordered by and cast to the schema of ``kind``."""
    cols = schemas[kind]
    out = pd.DataFrame(index=df.index)
    for col, typ in cols.items():
        s = df[col] if col in df.columns else pd.Series([None] * len(df), index=df.index)
        if typ == "str":
            out[col] = s.astype(object).where(s.notna(), None)
        elif typ == "float":
            out[col] = pd.to_numeric(s, errors="raise").astype("float64")
        elif typ == "date":
            out[col] = pd.to_datetime(s).astype("datetime64[ns]")
        elif typ == "bool":
            out[col] = pd.Series(
                [
                    None
                    if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NA
                    else bool(v)
                    for v in s.astype(object)
                ],
                index=s.index,
                dtype=object,
            )
        elif typ == "int":
            out[col] = s.astype("int64")
    return out.reset_index(drop=True)


REQUIRED = {
    "ratings": ["source", "model_key", "board", "category", "snapshot_date", "rating"],
    "benchmarks": ["source", "source_model", "benchmark", "score"],
    "adoption": ["source", "source_model", "signal", "date", "value"],
    "meta": ["source", "source_model"],
}


# Physical bounds of an arena rating. Ratings are Bradley-Terry strengths on the Elo
# scale (400/ln 10 points per logit) anchored near 1000-1300, so a gap of 1000 points is a
# 99.7% win probability: no board measures beyond that. The overall ("full") category of
# either board has held 795-1505 (raw) and 858-1505 (style) in 2023-2026; sub-categories
# and "no_tie" spread wider (470-1622). A value outside these is a truncated or corrupt cell.
RATING_BOUNDS: dict[tuple[str, str], tuple[float, float]] = {
    ("raw", "full"): (700.0, 1800.0),
    ("style", "full"): (750.0, 1800.0),
}
RATING_BOUNDS_OTHER = (300.0, 2200.0)


def check_ratings(out: pd.DataFrame, origin: str) -> None:
    """Raise on a rating outside its board's bounds or outside its own interval.

    Raises
    ------
    SourceError
        Naming ``origin``, the column, the row and the row's source, key and date.
    """
    lo = np.full(len(out), RATING_BOUNDS_OTHER[0])
    hi = np.full(len(out), RATING_BOUNDS_OTHER[1])
    for (board, cat), (a, b) in RATING_BOUNDS.items():
        sel = ((out["board"] == board) & (out["category"] == cat)).to_numpy()
        lo[sel], hi[sel] = a, b
    r = out["rating"].to_numpy(dtype="float64")
    rlo = out["rating_lo"].to_numpy(dtype="float64")
    rhi = out["rating_hi"].to_numpy(dtype="float64")
    checks = [
        (
            "rating",
            (r < lo) | (r > hi),
            lambda i: f"rating {r[i]:g} outside [{lo[i]:g}, {hi[i]:g}] for its board",
        ),
        (
            "rating_lo",
            rlo > r + 1e-6,
            lambda i: f"interval lower bound {rlo[i]:g} above the rating {r[i]:g}",
        ),
        (
            "rating_hi",
            rhi < r - 1e-6,
            lambda i: f"interval upper bound {rhi[i]:g} below the rating {r[i]:g}",
        ),
    ]
    for col, bad, msg in checks:
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            row = out.iloc[i]
            raise SourceError(
                origin,
                f"{msg(i)} ({row['source']} {row['model_key']} {row['board']}/"
                f"{row['category']} {row['snapshot_date']:%Y-%m-%d})",
                column=col,
                row=i,
            )


def validate(
    df: pd.DataFrame,
    kind: str,
    origin: str = "<reader>",
    schemas: dict[str, dict[str, str]] = READER_SCHEMAS,
    required: dict[str, list[str]] | None = None,
) -> pd.DataFrame:
    """Check that ``df`` matches the schema ``kind``; return it coerced.

    Raises
    ------
    SourceError
        Naming ``origin``, the column and the first bad row.
    """
    required = REQUIRED if required is None else required
    cols = schemas[kind]
    for col in cols:
        if col not in df.columns:
            raise SourceError(origin, f"{kind} table lacks column", column=col)
    try:
        out = coerce(df, kind, schemas)
    except (ValueError, TypeError) as exc:
        raise SourceError(origin, f"{kind} table has wrong types: {exc}") from None
    for col in required.get(kind, []):
        bad = out[col].isna().to_numpy()
        if bad.any():
            raise SourceError(
                origin,
                f"{kind} table has missing values",
                column=col,
                row=int(np.flatnonzero(bad)[0]),
            )
    for col, typ in cols.items():
        if typ == "float":
            arr = out[col].to_numpy()
            if np.isinf(arr).any():
                raise SourceError(
                    origin,
                    f"{kind} table has infinite values",
                    column=col,
                    row=int(np.flatnonzero(np.isinf(arr))[0]),
                )
    if kind == "ratings":
        bad = (~out["board"].isin(["raw", "style"])).to_numpy()
        if bad.any():
            raise SourceError(
                origin,
                "board must be 'raw' or 'style'",
                column="board",
                row=int(np.flatnonzero(bad)[0]),
            )
        check_ratings(out, origin)
    return out
