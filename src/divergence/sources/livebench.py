"""LiveBench release tables: per-category and global averages, and model metadata.

Source
------
``raw/benchmarks/livebench/`` (copied from the LiveBench leaderboard site,
github.com/LiveBench/livebench.github.io). No license file in the copy (the LiveBench
code repository is Apache-2.0); attribute LiveBench (White et al., 2024).

- ``table_<YYYY_MM_DD>.csv``: one file per LiveBench release; column ``model`` plus one
  column per task, scores 0-100, blank when the model was not run on the task.
- ``categories_<YYYY_MM_DD>.json``: ``{category: [task, ...]}`` for the same release.
- ``history/table_<release>@<date>_<commit>.csv``: older versions of edited tables. The
  top-level table of each release is its latest version, so ``history/`` is not read.
  Three history-only names (``2024_07_24``, ``2025_01_25``, ``2025_05_17``) are a
  preliminary name of the 2024-07-26 release and unpublished drafts; they have no
  categories file and are not used.
- ``modelLinks*.json`` (the site's ``modelLinks.js``): ``{model: {displayName,
  organization, version, openweight, reasoner, variants: [{rawName, displayName}]}}``.

Output
------
``benchmarks``: one row per (model, category) and per model for ``livebench:global``;
benchmark names are ``livebench:<category slug>`` (``reasoning``, ``coding``,
``agentic_coding``, ``mathematics``, ``data_analysis``, ``language``, ``if``) and
``livebench:global``. Averages follow the site (``src/Table/Averaging.js``): a category
score is the mean of the task scores the model has (blank tasks are left out), the global
score is the mean of the category scores (unrounded here; the site shows two decimals).
A category with no scored task gives no row, and then no global row either. ``as_of``
is the release date in the file name. Scores of different releases are NOT comparable
(tasks and questions change): consumers must use one release or normalise per release.
Models added to a release table after its release date still carry the release date.

``meta``: one row per model id of the tables or of ``modelLinks`` (including variant
``rawName`` ids, which inherit organization, release date, ``openweight`` and
``reasoner`` from their parent entry; a top-level entry wins over a variant of the same
id). ``release_date`` comes from ``version`` when it is a full ``YYYY-MM-DD`` date;
month-only (``2024-08``) and revision tags (``001``) give no date. ``openweight`` and
``reasoner`` are kept only when stated (missing means unknown, not False). Table models
without a ``modelLinks`` entry have only their id.

Defects handled: one blank task cell (``table_2024_11_25.csv``, phi-3-small-8k-instruct,
``connections``) and three in ``table_2026_01_08.csv`` (nemotron-3-super-120b-a12b) are
left out of the averages as on the site. The site's hard-coded global score for
``grok-3-thinking`` (72) is not replicated (that model is in no table). Exact duplicate
model rows are dropped; conflicting duplicate rows for one model raise ``SourceError``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from divergence.errors import SourceError
from divergence.schema import validate
from divergence.sources._io import file_date, latest_date, numeric_column, read_csv, read_json
from divergence.sources.base import Source, Upstream

if TYPE_CHECKING:
    from pandas._libs.tslibs.nattype import NaTType

SOURCE = "livebench"
_TABLE = re.compile(r"table_(\d{4}_\d{2}_\d{2})\.csv")
_CATEGORIES = re.compile(r"categories_(\d{4}_\d{2}_\d{2})\.json")
_FULL_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _slug(category: str) -> str:
    return re.sub(r"[^0-9a-z]+", "_", category.strip().lower()).strip("_")


def _releases(folder: Path) -> dict[str, tuple[Path, Path]]:
    """Map release -> (table, categories); raise on unmatched or odd file names."""
    if not folder.is_dir():
        raise SourceError(folder, "folder not found")
    tables: dict[str, Path] = {}
    for p in sorted(folder.glob("table_*.csv")):
        m = _TABLE.fullmatch(p.name)
        if not m:
            raise SourceError(p, "unexpected table file name (want table_YYYY_MM_DD.csv)")
        tables[m.group(1)] = p
    cats: dict[str, Path] = {}
    for p in sorted(folder.glob("categories_*.json")):
        m = _CATEGORIES.fullmatch(p.name)
        if not m:
            raise SourceError(
                p, "unexpected categories file name (want categories_YYYY_MM_DD.json)"
            )
        cats[m.group(1)] = p
    if not tables:
        raise SourceError(folder, "no table_<release>.csv files")
    for rel, p in cats.items():
        if rel not in tables:
            raise SourceError(p, f"no matching table_{rel}.csv")
    out = {}
    for rel, p in tables.items():
        if rel not in cats:
            raise SourceError(folder / f"categories_{rel}.json", "file not found")
        out[rel] = (p, cats[rel])
    return out


def _read_categories(path: Path) -> dict[str, list[str]]:
    doc = read_json(path)
    if not isinstance(doc, dict) or not doc:
        raise SourceError(path, "expected a non-empty object {category: [task, ...]}")
    out: dict[str, list[str]] = {}
    for cat, tasks in doc.items():
        if not cat.strip():
            raise SourceError(path, "empty category name", row=repr(cat))
        if (
            not isinstance(tasks, list)
            or not tasks
            or not all(isinstance(t, str) and t for t in tasks)
        ):
            raise SourceError(path, "expected a non-empty list of task names", row=repr(cat))
        out[cat] = tasks
    return out


def _release_scores(table: Path, categories: Path) -> pd.DataFrame:
    """Category and global averages of one release, long format."""
    cats = _read_categories(categories)
    tasks = sorted({t for ts in cats.values() for t in ts})
    df = read_csv(table, required=["model", *tasks], dtype=str, keep_default_na=False)
    if df.empty:
        raise SourceError(table, "no data rows")
    models = df["model"]
    blank = models.str.strip() == ""
    if blank.any():
        raise SourceError(
            table, "missing value", column="model", row=int(blank.to_numpy().argmax()) + 2
        )
    scores = pd.DataFrame({t: numeric_column(df, t, table, lo=0.0, hi=100.0) for t in tasks})
    scores.insert(0, "model", models.astype(object))
    scores = scores.drop_duplicates()
    dup = scores["model"].duplicated()
    if dup.any():
        pos = int(dup.to_numpy().argmax())
        raise SourceError(
            table,
            "conflicting duplicate rows for one model",
            column="model",
            row=int(scores.index[pos]) + 2,
        )
    avgs = pd.DataFrame(
        {f"livebench:{_slug(c)}": scores[ts].mean(axis=1, skipna=True) for c, ts in cats.items()}
    )
    avgs["livebench:global"] = avgs.mean(axis=1, skipna=False)
    avgs.insert(0, "source_model", scores["model"])
    long = avgs.melt(id_vars="source_model", var_name="benchmark", value_name="score")
    long = long[long["score"].notna()]
    return long.assign(as_of=file_date(table))


def _links_file(folder: Path) -> Path:
    found = sorted(folder.glob("modelLinks*.json"))
    if len(found) != 1:
        raise SourceError(
            folder / "modelLinks*.json", f"expected exactly one file, found {len(found)}"
        )
    return found[0]


def _flag(entry: dict, key: str, path: Path, row: str) -> bool | None:
    value = entry.get(key)
    if value is None:
        return None
    if not isinstance(value, bool):
        raise SourceError(path, f"expected true/false, got {value!r}", column=key, row=row)
    return value


def _release_date(entry: dict, path: Path, row: str) -> pd.Timestamp | NaTType:
    value = entry.get("version")
    if value is None:
        return pd.NaT
    if not isinstance(value, str):
        raise SourceError(path, f"expected a string, got {value!r}", column="version", row=row)
    if not _FULL_DATE.fullmatch(value):
        return pd.NaT
    try:
        ts = pd.Timestamp(value)
    except ValueError:
        raise SourceError(path, f"invalid date {value!r}", column="version", row=row) from None
    if ts > pd.Timestamp(latest_date()):
        raise SourceError(
            path,
            f"date {value!r} is in the future (after {latest_date()})",
            column="version",
            row=row,
        )
    if ts < pd.Timestamp("1900-01-01"):
        raise SourceError(path, f"date {value!r} is before 1900-01-01", column="version", row=row)
    return ts


def _read_links(path: Path) -> dict[str, dict]:
    """Model id -> meta fields from ``modelLinks``, variants included."""
    doc = read_json(path)
    if not isinstance(doc, dict):
        raise SourceError(path, "expected an object {model: {...}}")
    top: dict[str, dict] = {}
    variants: dict[str, dict] = {}
    for key, entry in doc.items():
        row = repr(key)
        if not isinstance(entry, dict):
            raise SourceError(path, f"expected an object, got {type(entry).__name__}", row=row)
        for field in ("displayName", "organization"):
            if not isinstance(entry.get(field), str):
                raise SourceError(path, "missing or non-text value", column=field, row=row)
        base = {
            "organization": entry["organization"],
            "release_date": _release_date(entry, path, row),
            "open_weights": _flag(entry, "openweight", path, row),
            "reasoning": _flag(entry, "reasoner", path, row),
        }
        top[key] = {**base, "display_name": entry["displayName"]}
        subs = entry.get("variants", [])
        if not isinstance(subs, list):
            raise SourceError(path, "expected a list", column="variants", row=row)
        for sub in subs:
            if not (
                isinstance(sub, dict)
                and isinstance(sub.get("rawName"), str)
                and isinstance(sub.get("displayName"), str)
            ):
                raise SourceError(
                    path, "variant needs text rawName and displayName", column="variants", row=row
                )
            variants.setdefault(sub["rawName"], {**base, "display_name": sub["displayName"]})
    return {**variants, **top}


def read(raw: Path) -> dict[str, pd.DataFrame]:
    """Read the LiveBench release tables and model metadata.

    Parameters
    ----------
    raw : Path
        The ``raw/`` data root.

    Returns
    -------
    dict of DataFrame
        ``"benchmarks"`` and ``"meta"`` (``READER_SCHEMAS``), sorted by their key columns.
    """
    folder = Path(raw) / "benchmarks" / "livebench"
    parts = [_release_scores(t, c) for _, (t, c) in sorted(_releases(folder).items())]
    bench = pd.concat(parts, ignore_index=True).assign(source=SOURCE, self_reported=False)
    bench = bench.sort_values(["source", "source_model", "benchmark", "as_of"], kind="mergesort")
    bench = validate(bench, "benchmarks", str(folder))

    links = _read_links(_links_file(folder))
    ids = sorted(set(links) | set(bench["source_model"]))
    empty = {
        "display_name": None,
        "organization": None,
        "release_date": pd.NaT,
        "open_weights": None,
        "reasoning": None,
        "params_b": float("nan"),
    }
    meta = pd.DataFrame(
        [{"source": SOURCE, "source_model": m, **empty, **links.get(m, {})} for m in ids]
    )
    meta = validate(meta, "meta", str(folder))
    return {"benchmarks": bench, "meta": meta}


# Attribution and terms of the folders this reader reads (shipped in SOURCES.md).
SPEC = Source(
    name="livebench",
    upstreams=(
        Upstream(
            folder="benchmarks/livebench",
            upstream="github.com/LiveBench/LiveBench",
            license="not stated in the copy; see upstream",
            what="LiveBench release tables",
            feeds=("livebench",),
        ),
    ),
    reader=read,
)
