"""Validated readers shared by all source modules.

Every function raises :class:`divergence.errors.SourceError` with the file, column and
row at fault instead of letting pandas/json tracebacks escape.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal, overload

import numpy as np
import pandas as pd
import yaml

from divergence.errors import SourceError
from divergence.schema import READER_SCHEMAS, validate

META_COLUMNS: list[str] = list(READER_SCHEMAS["meta"])
"""Columns of a reader's ``meta`` table, in schema order."""


def validated_tables(origin: str, **frames: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """``{kind: frame}`` with each frame checked against its reader schema ``kind``.

    Raises
    ------
    SourceError
        Naming ``origin``, the column and the first bad row.
    """
    return {kind: validate(df, kind, origin) for kind, df in frames.items()}


def _reject_duplicates(path: Path):
    def hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        seen: dict[str, Any] = {}
        for key, value in pairs:
            if key in seen:
                raise SourceError(path, "duplicate JSON key", row=repr(key))
            seen[key] = value
        return seen

    return hook


def _read_text(path: Path) -> str:
    """UTF-8 text of a file (BOM allowed); SourceError if missing, undecodable or empty."""
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except FileNotFoundError:
        raise SourceError(path, "file not found") from None
    except IsADirectoryError:
        raise SourceError(path, "is a directory, expected a file") from None
    except UnicodeDecodeError as exc:
        raise SourceError(path, f"not valid UTF-8 at byte {exc.start}") from None
    if not text.strip():
        raise SourceError(path, "empty file")
    return text


class _UniqueKeyLoader(yaml.SafeLoader):
    """Safe YAML loader (no Python tags) that rejects duplicate mapping keys."""


def _unique_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    loader.flatten_mapping(node)
    seen: set = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _unique_mapping)


def read_yaml(path: str | Path) -> Any:
    """Parse a YAML file strictly (UTF-8, safe tags only, no duplicate keys).

    Parameters
    ----------
    path : str or Path
        File to read.

    Returns
    -------
    object
        The decoded YAML document.
    """
    path = Path(path)
    text = _read_text(path)
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader)  # SafeLoader subclass
    except RecursionError:
        raise SourceError(path, "invalid YAML: nested too deeply") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        row = f"line {mark.line + 1}" if mark is not None else None
        raise SourceError(path, f"invalid YAML: {problem}", row=row) from None


def read_json(path: str | Path) -> Any:
    """Parse a JSON file strictly (UTF-8, no duplicate keys, no NaN literals).

    Parameters
    ----------
    path : str or Path
        File to read.

    Returns
    -------
    object
        The decoded JSON value.
    """
    path = Path(path)
    text = _read_text(path)

    def bad_constant(name: str) -> float:
        raise SourceError(path, f"non-finite JSON number {name}")

    try:
        return json.loads(
            text, object_pairs_hook=_reject_duplicates(path), parse_constant=bad_constant
        )
    except json.JSONDecodeError as exc:
        raise SourceError(path, f"invalid JSON: {exc.msg}", row=f"line {exc.lineno}") from None
    except RecursionError:
        raise SourceError(path, "invalid JSON: nested too deeply") from None


def read_csv(
    path: str | Path,
    required: Iterable[str] = (),
    allow_empty: bool = False,
    **kwargs: Any,
) -> pd.DataFrame:
    """Read a CSV file and check that required columns exist.

    Parameters
    ----------
    path : str or Path
        File to read.
    required : iterable of str
        Columns that must be present.
    allow_empty : bool
        Accept a file with a header but no data rows (by default it raises: an
        upstream table cut to its header must not pass as "no models").
    **kwargs
        Passed to :func:`pandas.read_csv`.

    Returns
    -------
    pandas.DataFrame
    """
    path = Path(path)
    if not path.exists():
        raise SourceError(path, "file not found")
    try:
        raw = path.read_bytes()
        raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SourceError(path, f"not valid UTF-8 at byte {exc.start}") from None
    if not raw.strip():
        raise SourceError(path, "empty file")
    kwargs.setdefault("encoding", "utf-8-sig")
    kwargs.setdefault("low_memory", False)
    try:
        df = pd.read_csv(path, **kwargs)
    except (pd.errors.ParserError, csv.Error, ValueError) as exc:
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise SourceError(path, f"malformed CSV: {msg}") from None
    require_columns(df, required, path)
    if df.empty and not allow_empty:
        raise SourceError(path, "no data rows")
    if kwargs.get("header", "infer") == "infer" and "names" not in kwargs:
        sep = kwargs.get("sep", ",")
        first = raw.decode("utf-8-sig").splitlines()[0] if raw else ""
        header = next(csv.reader([first], delimiter=sep)) if first else []
        seen: set[str] = set()
        for col in header:
            if col in seen:
                raise SourceError(path, "duplicate column header", column=col)
            seen.add(col)
    return df


def require_columns(df: pd.DataFrame, required: Iterable[str], path: str | Path) -> None:
    """Raise if any required column is missing."""
    for col in required:
        if col not in df.columns:
            raise SourceError(path, "missing column", column=col)


def require_keys(record: dict, keys: Iterable[str], path: str | Path, row: Any = None) -> None:
    """Raise if a JSON record lacks any of ``keys``."""
    if not isinstance(record, dict):
        raise SourceError(path, f"expected an object, got {type(record).__name__}", row=row)
    for key in keys:
        if key not in record:
            raise SourceError(path, "missing key", column=key, row=row)


def numeric_column(
    df: pd.DataFrame,
    col: str,
    path: str | Path,
    *,
    allow_missing: bool = True,
    lo: float | None = None,
    hi: float | None = None,
    row_offset: int = 2,
) -> pd.Series:
    """Convert a column to float64, naming the first bad row on failure.

    Blank cells become NaN when ``allow_missing``; any other non-numeric text, +-inf,
    or a value outside ``[lo, hi]`` raises. ``row_offset`` converts the 0-based
    position into the file's line number (2 for a CSV with one header line).
    """
    s = df[col]
    out = pd.to_numeric(s, errors="coerce").astype("float64")
    blank = s.isna() | s.astype(str).str.strip().isin(
        ["", "nan", "NaN", "None", "null", "-", "N/A", "n/a"]
    )
    bad = out.isna() & ~blank
    if bad.any():
        pos = int(np.flatnonzero(bad.to_numpy())[0])
        raise SourceError(
            path, f"non-numeric value {s.iloc[pos]!r}", column=col, row=pos + row_offset
        )
    if not allow_missing and out.isna().any():
        pos = int(np.flatnonzero(out.isna().to_numpy())[0])
        raise SourceError(path, "missing value", column=col, row=pos + row_offset)
    check_range(out, col, path, lo=lo, hi=hi, row_offset=row_offset)
    return out


def _bounds(lo: float | None, hi: float | None) -> str:
    if lo is not None and hi is not None:
        return f"out of range [{lo}, {hi}]"
    if lo is not None:
        return f"out of range (minimum {lo})"
    if hi is not None:
        return f"out of range (maximum {hi})"
    return "out of range (not finite)"


def check_range(
    values: pd.Series,
    col: str,
    path: str | Path,
    *,
    lo: float | None = None,
    hi: float | None = None,
    row_offset: int = 2,
) -> None:
    """Raise on +-inf or values outside ``[lo, hi]`` (NaN is allowed)."""
    arr = values.to_numpy(dtype="float64")
    bad = np.isinf(arr)
    if lo is not None:
        bad |= arr < lo
    if hi is not None:
        bad |= arr > hi
    if bad.any():
        pos = int(np.flatnonzero(bad)[0])
        raise SourceError(
            path, f"value {float(arr[pos])} {_bounds(lo, hi)}", column=col, row=pos + row_offset
        )


def as_float(
    value: Any,
    path: str | Path,
    column: str,
    row: Any,
    *,
    lo: float | None = None,
    hi: float | None = None,
) -> float:
    """Convert one JSON scalar to float (None -> NaN); raise on text, bool, inf, range."""
    if value is None:
        return math.nan
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise SourceError(path, f"non-numeric value {value!r}", column=column, row=row)
    try:
        out = float(value)
    except ValueError:
        if isinstance(value, str) and value.strip() == "":
            return math.nan
        raise SourceError(path, f"non-numeric value {value!r}", column=column, row=row) from None
    if math.isinf(out) or (lo is not None and out < lo) or (hi is not None and out > hi):
        raise SourceError(path, f"value {out!r} {_bounds(lo, hi)}", column=column, row=row)
    return out


EARLIEST_DATE = "1900-01-01"
# A date may lie at most this far after the build day (time zones, pre-dated releases).
FUTURE_MARGIN_DAYS = 14
ADOPTION_KEYS = ["source", "source_model", "signal", "date"]


def warn(origin: str | Path, message: str) -> None:
    """One-line build warning on stderr (``[data build] warning: <origin>: <message>``)."""
    import sys

    print(f"[data build] warning: {origin}: {message}", file=sys.stderr, flush=True)


def resolve_duplicates(
    df: pd.DataFrame,
    keys: list[str],
    values: list[str],
    origin: str | Path,
    rule: str,
    keep: Literal["first", "last"] = "first",
) -> pd.DataFrame:
    """Drop exact duplicates; on rows sharing ``keys`` with different ``values`` keep one.

    The kept row is the first (``keep="first"``) or last in ``df``'s current order, which
    the caller sorts to implement ``rule``. Conflicts are reported, not silent: one
    warning per call naming ``origin``, the rule, the count and the first conflict with
    every value it had.

    Returns
    -------
    DataFrame
        ``df`` with one row per ``keys``.
    """
    dedup = df.drop_duplicates(subset=[*keys, *values])
    dup = dedup.duplicated(subset=keys, keep=False)
    if dup.any():
        clash = dedup[dup]
        first = clash.iloc[0]
        same = clash[(clash[keys] == first[keys]).all(axis=1)]
        shown = ", ".join("/".join(str(v) for v in r) for r in same[values].itertuples(index=False))
        n = int(clash.groupby(keys, sort=False).ngroups)
        warn(
            origin,
            f"{n} conflicting duplicate {tuple(keys)}; rule '{rule}' keeps the {keep} "
            f"(e.g. {'/'.join(str(first[k]) for k in keys)}: {', '.join(values)} = {shown})",
        )
    return dedup.drop_duplicates(subset=keys, keep=keep)


def latest_date() -> str:
    """The latest acceptable date: today (UTC) plus :data:`FUTURE_MARGIN_DAYS`.

    Readers pass a tighter bound (the file's own scrape date) where the file has one.
    """
    today = pd.Timestamp.now(tz="UTC").tz_convert(None).normalize()
    return str((today + pd.Timedelta(days=FUTURE_MARGIN_DAYS)).date())


def files(folder: str | Path, pattern: str) -> list[Path]:
    """Sorted regular files matching ``pattern`` in ``folder``; raise if there are none."""
    folder = Path(folder)
    if not folder.is_dir():
        raise SourceError(folder, "folder not found")
    out = sorted(p for p in folder.glob(pattern) if p.is_file())
    if not out:
        raise SourceError(folder, f"no files matching {pattern!r}")
    return out


def files_under(folder: str | Path, pattern: str) -> list[Path]:
    """Sorted regular files matching ``pattern`` anywhere below ``folder`` (may be empty)."""
    return sorted(p for p in Path(folder).rglob(pattern) if p.is_file())


@overload
def text_field(
    record: dict, key: str, path: str | Path, row: Any, *, required: Literal[True] = ...
) -> str: ...


@overload
def text_field(
    record: dict, key: str, path: str | Path, row: Any, *, required: bool
) -> str | None: ...


def text_field(
    record: dict, key: str, path: str | Path, row: Any, *, required: bool = True
) -> str | None:
    """A JSON record's string field; None if absent/null and not ``required``.

    Raises
    ------
    SourceError
        Naming the file, key and record when the value is not a non-empty string.
    """
    value = record.get(key) if isinstance(record, dict) else None
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        raise SourceError(path, f"expected a non-empty string, got {value!r}", column=key, row=row)
    return value


def check_dates(
    days: pd.Series,
    raw: pd.Series,
    col: str,
    path: str | Path,
    *,
    row_offset: int = 2,
    latest: str | pd.Timestamp | None = None,
) -> None:
    """Raise on a date after ``latest`` or before :data:`EARLIEST_DATE`.

    ``latest`` defaults to :func:`latest_date` (today plus a small margin); pass the
    file's own scrape date where it has one (nothing in a file can postdate its scrape).

    ``days`` are parsed (tz-naive) dates, ``raw`` the text they came from (for the
    message). Run it before converting to ``datetime64[ns]``: it also keeps that
    conversion within bounds (years 1677-2262).
    """
    limit = pd.Timestamp(latest if latest is not None else latest_date())
    for bad, what in [
        (days > limit, f"is in the future (after {limit.date()})"),
        (days < pd.Timestamp(EARLIEST_DATE), f"is before {EARLIEST_DATE}"),
    ]:
        if bad.any():
            pos = int(np.flatnonzero(bad.to_numpy())[0])
            raise SourceError(
                path, f"date {raw.iloc[pos]!r} {what}", column=col, row=pos + row_offset
            )


def parse_dates(
    s: pd.Series,
    col: str,
    path: str | Path,
    *,
    row_offset: int = 2,
    fmt: str | None = None,
    latest: str | pd.Timestamp | None = None,
) -> pd.Series:
    """Parse a date column to ``datetime64[ns]`` (normalised to day).

    Blank cells become NaT; unparseable text, or a date later than ``latest``
    (a date in the future relative to the data), raises naming the row.
    """
    blank = s.isna() | s.astype(str).str.strip().isin(["", "nan", "NaT", "None", "null"])
    try:
        out = pd.to_datetime(s.where(~blank), errors="coerce", format=fmt)
    except ValueError:  # mixed time-zone offsets: compare in UTC
        out = pd.to_datetime(s.where(~blank), errors="coerce", format=fmt, utc=True)
    if getattr(out.dt, "tz", None) is not None:
        out = out.dt.tz_convert(None)
    out = out.dt.normalize()
    bad = out.isna() & ~blank
    if bad.any():
        pos = int(np.flatnonzero(bad.to_numpy())[0])
        raise SourceError(
            path, f"unparseable date {s.iloc[pos]!r}", column=col, row=pos + row_offset
        )
    check_dates(out, s, col, path, row_offset=row_offset, latest=latest)
    return out.astype("datetime64[ns]")


def file_date(path: str | Path) -> pd.Timestamp:
    """Date embedded in a dated file name such as ``leaderboard-text_2025-05-21_6dddc5f35.json``."""
    import re

    m = re.search(r"(\d{4})[-._]?(\d{2})[-._]?(\d{2})", Path(path).name)
    if not m:
        raise SourceError(path, "no YYYY-MM-DD date in file name")
    try:
        return pd.Timestamp(f"{m.group(1)}-{m.group(2)}-{m.group(3)}")
    except ValueError:
        raise SourceError(path, "invalid date in file name") from None
