"""Epoch AI: own benchmark runs, external benchmark tables, ECI, METR horizons, model databases.

Sources
-------
``raw/benchmarks/epoch-benchmark-stitching/`` (github.com/epoch-research/benchmark-stitching,
MIT, data of 2025-11-21)

- ``benchmarks_runs.csv``: Epoch's own evaluation runs (GPQA diamond, MATH level 5, OTIS
  Mock AIME, FrontierMath public/private/tier 4, SWE-bench verified). Kept: ``model``,
  ``task``, ``Best score (across scorers)`` (0-1), ``started_at`` -> source ``"epoch"``,
  benchmark ``"epoch:<task slug>"`` (``epoch:gpqa_diamond``), ``self_reported`` False.
- 37 ``external_benchmark_*.csv``: scores Epoch collected from leaderboards and papers,
  one primary score column per table (:data:`EXTERNAL`, the column Epoch's stitching code
  uses) -> source ``"epoch-external"``, benchmark ``"epoch:<table name>"``. Rows with a
  blank ``Model version`` (systems Epoch did not link to a model version: agent
  scaffolds, papers' baselines) and rows with a blank score are skipped. A table not
  listed in :data:`EXTERNAL` raises instead of being skipped. ``self_reported`` is
  False when ``Source`` names a leaderboard or other independent evaluator, None for
  papers (vendor reports mix their own and other vendors' models).
- ``model_versions.csv``: one row per model version id -> meta source ``"epoch"``
  (``Version release date``; ``Display name``, else ``Unique display name``;
  organization, accessibility and parameters through the version's ``Model``, which
  links to the model databases below).

``raw/benchmarks/epoch-eci-via-metr_graph/`` (third-party copy, no license stated; Epoch
publishes the ECI under CC BY)

- ``epoch_capabilities_index.csv``: Epoch Capabilities Index -> benchmark ``"epoch:eci"``
  and meta (organization, release date, ``Model accessibility``), source ``"epoch-eci"``.
  ``Training compute (FLOP)`` is not kept (no column for it in the meta contract); there
  is no parameter count.
- ``benchmark_results_1_1.yaml``: METR time horizons (METR-Horizon-v1.1) under METR's own
  ids (``claude_3_7_sonnet_inspect``) -> source ``"metr"``, benchmarks
  ``metr:p50_horizon_minutes``, ``metr:p80_horizon_minutes``, ``metr:average_score``;
  meta holds the release date. A separate source because the ids are a separate namespace.
- The copy is undated: ``as_of`` for both files is the latest release date they list
  (2026-04-08), a lower bound of the pull date.

``raw/benchmarks/epoch-all-ai-models-snapshot/all_ai_models.csv`` (to 2025-03) and
``raw/benchmarks/epoch-open-model-trends/All ML Systems - full view.csv`` (to 2024-09):
Epoch's model databases (Epoch publishes them under CC BY) -> meta source
``"epoch-models"``, ``source_model`` = the model name. Only rows whose ``Domain`` lists
``Language`` are kept (language and multimodal language models); the newer database
wins for a name present in both.

Scales and conversions
----------------------
Scores keep their native scale per benchmark. Cells written as percentages (``"42%"``)
are read as fractions (0.42); in such a column a bare number is also a percentage.
Bare-number columns stay as written (Aider ``Percent correct`` 0-100, LiveBench 0-100,
OS-World 0-100, Lech Mazur writing 0-10, METR horizons in minutes, arena scores).
``Model accessibility`` "Open weights (...)" -> True; "API access", "Hosted access (no
API)", "Unreleased" -> False. ``Parameters`` (a count) -> ``params_b`` in billions.
``reasoning`` is True for ids with a reasoning-effort or thinking-budget suffix
(``_high``, ``_medium``, ``_16K``), None otherwise.

Known defects handled
---------------------
- ``as_of``: the run's ``started_at`` (own runs) or the table's ``Date added``/``Date``
  (day-first), else 2025-11-21; never earlier than the version's release date in
  ``model_versions.csv`` (BALROG lists ``grok-4-0709`` as added "23/7/2024").
- Two ids carry a trailing space (``"Llama-2-70b-hf "``) in every file: surrounding
  whitespace is stripped from ids and names.
- Many external tables give several rows per model (shots, scaffolds, sources):
  exact duplicate rows are dropped and, per (source, model, benchmark, as_of), the
  highest score is kept (the best result reported), with that row's flags.
- Duplicate ids or names in the metadata tables keep the first row in file order.

Every malformed input raises :class:`~divergence.errors.SourceError` naming the file,
column and row.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from divergence.errors import SourceError
from divergence.sources._io import (
    META_COLUMNS,
    numeric_column,
    parse_dates,
    read_csv,
    read_yaml,
    validated_tables,
)
from divergence.sources.base import Source, Upstream

STITCHING = Path("benchmarks") / "epoch-benchmark-stitching"
ECI_DIR = Path("benchmarks") / "epoch-eci-via-metr_graph"
MODELS_DB = [
    (Path("benchmarks") / "epoch-all-ai-models-snapshot" / "all_ai_models.csv", "Model"),
    (Path("benchmarks") / "epoch-open-model-trends" / "All ML Systems - full view.csv", "System"),
]
DATA_DATE = pd.Timestamp("2025-11-21")

# table name (file stem after "external_benchmark_") -> (benchmark name, score column, date column)
EXTERNAL: dict[str, tuple[str, str, str | None]] = {
    "aider_polyglot": ("aider_polyglot", "Percent correct", None),
    "anli": ("anli", "Score", None),
    "arc_agi": ("arc_agi", "Score", None),
    "arc_ai2": ("arc_ai2", "Challenge score", None),
    "balrog": ("balrog", "Average progress", "Date added"),
    "bbh": ("bbh", "Average", None),
    "boolq": ("boolq", "Score", None),
    "cadeval": ("cadeval", "Overall pass (%)", None),
    "csqa2": ("csqa2", "Score", None),
    "cybench": ("cybench", "Unguided % Solved", None),
    "deepresearch": ("deepresearch_bench", "Average score", None),
    "factorio_learning_environment": (
        "factorio_learning_environment",
        "Lab Success %",
        "Date added",
    ),
    "fictionlivebench": ("fictionlivebench", "16k token score", None),
    "geobench": ("geobench", "ACW Country %", None),
    "gsm8k": ("gsm8k", "EM", None),
    "gso_bench": ("gso_bench", "Score OPT@1", None),
    "hellaswag": ("hellaswag", "Overall accuracy", None),
    "lambada": ("lambada", "Score", None),
    "lech_mazur_writing": ("lech_mazur_writing", "Mean score", None),
    "livebench": ("livebench", "Global average", None),
    "mcbench": ("mcbench", "Win rate", None),
    "metr": ("metr_time_horizon", "Time horizon", None),
    "mmlu": ("mmlu", "EM", None),
    "openbookqa": ("openbookqa", "Accuracy", None),
    "os_world": ("os_world", "Score", "Date added"),
    "osuniverse": ("osuniverse", "Weighted Score", None),
    "piqa": ("piqa", "Score", None),
    "scienceqa": ("scienceqa", "Score", None),
    "simple_bench": ("simple_bench", "Score (AVG@5)", None),
    "superglue": ("superglue", "Score", None),
    "terminal_bench": ("terminal_bench", "Accuracy mean", None),
    "the_agent_company": ("the_agent_company", "% Resolved", "Date"),
    "triviaqa": ("triviaqa", "EM", None),
    "videomme": ("videomme", "Overall (no subtitles)", None),
    "vpct": ("vpct", "Correct", None),
    "webdevarena__from_144e244": ("webdevarena", "Arena Score", "Date"),
    "weirdml": ("weirdml", "Accuracy", None),
    "winogrande": ("winogrande", "Accuracy", None),
}

_INDEPENDENT = re.compile(
    r"leaderboard|dashboard|helm|crfm|website|github repository|measuring ai ability|release notes"
    r"|osuniverse paper",
    re.IGNORECASE,
)
_EFFORT = re.compile(r"_(?:minimal|low|medium|high|xhigh|max|\d+K)$", re.IGNORECASE)
_BENCH_KEYS = ["source", "source_model", "benchmark", "as_of"]


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


def _strip(s: pd.Series) -> pd.Series:
    """Strip surrounding whitespace; blank cells become None."""
    vals = [v.strip() if isinstance(v, str) else None for v in s.tolist()]
    return pd.Series([v if v else None for v in vals], index=s.index, dtype=object)


def _reasoning(ids: pd.Series) -> pd.Series:
    return ids.map(lambda i: True if isinstance(i, str) and _EFFORT.search(i) else None)


def accessibility_open(s: pd.Series, col: str, path: Path) -> pd.Series:
    """Map Epoch ``Model accessibility`` to open weights (True/False/None).

    Parameters
    ----------
    s : Series
        Accessibility labels.
    col, path
        Column and file, for error messages.

    Returns
    -------
    Series of object
        True for "Open weights (...)", False for "API access", "Hosted access (no
        API)" and "Unreleased", None when blank.
    """
    vals = _strip(s)
    closed = {"API access", "Hosted access (no API)", "Unreleased"}
    out: list[bool | None] = []
    for pos, v in enumerate(vals):
        if v is None:
            out.append(None)
        elif str(v).startswith("Open weights"):
            out.append(True)
        elif v in closed:
            out.append(False)
        else:
            raise SourceError(path, f"unknown accessibility {v!r}", column=col, row=pos + 2)
    return pd.Series(out, index=s.index, dtype=object)


def _scores(df: pd.DataFrame, col: str, path: Path, *, allow_missing: bool = True) -> pd.Series:
    """Parse a score column; percentage cells become fractions (see module docstring)."""
    text = _strip(df[col])
    pct = text.map(lambda v: isinstance(v, str) and v.endswith("%"))
    if pct.any():
        tmp = pd.DataFrame(
            {
                col: text.map(
                    lambda v: v[:-1].strip() if isinstance(v, str) and v.endswith("%") else v
                )
            }
        )
        return numeric_column(tmp, col, path, allow_missing=allow_missing, lo=0.0, hi=100.0) / 100.0
    return numeric_column(pd.DataFrame({col: text}), col, path, allow_missing=allow_missing, lo=0.0)


def _dedupe_max(df: pd.DataFrame, keys: list[str], value: str) -> pd.DataFrame:
    """Drop exact duplicates; on conflicting keys keep the highest ``value``; sort by keys."""
    df = df.drop_duplicates()
    df = df.sort_values([*keys, value], ascending=[True] * len(keys) + [False], kind="mergesort")
    return df.drop_duplicates(keys).reset_index(drop=True)


def _first_per_key(df: pd.DataFrame) -> pd.DataFrame:
    """Meta rows: first row per (source, source_model) in input order, then sorted."""
    df = df.drop_duplicates(["source", "source_model"], keep="first")
    return df.sort_values(["source", "source_model"], kind="mergesort").reset_index(drop=True)


# --------------------------------------------------------------------------- models databases


def _models_db(raw: Path) -> pd.DataFrame:
    """Language models of both Epoch databases, newest database first (one row per name)."""
    parts = []
    for rel, name_col in MODELS_DB:
        path = raw / rel
        cols = [
            name_col,
            "Domain",
            "Organization",
            "Publication date",
            "Parameters",
            "Model accessibility",
        ]
        df = read_csv(path, required=cols, dtype=str, keep_default_na=False, na_values=[""])
        params = numeric_column(df, "Parameters", path, lo=0.0)
        dates = parse_dates(df["Publication date"], "Publication date", path)
        openw = accessibility_open(df["Model accessibility"], "Model accessibility", path)
        domain = (
            df["Domain"].fillna("").map(lambda d: "Language" in [x.strip() for x in d.split(",")])
        )
        out = pd.DataFrame(
            {
                "source_model": _strip(df[name_col]),
                "organization": _strip(df["Organization"]),
                "release_date": dates,
                "open_weights": openw,
                "params_b": params / 1e9,
            }
        )
        parts.append(out[domain.to_numpy() & out["source_model"].notna().to_numpy()])
    db = pd.concat(parts, ignore_index=True)
    return db.drop_duplicates("source_model", keep="first").reset_index(drop=True)


# --------------------------------------------------------------------------- stitching


def _release_dates(raw: Path) -> tuple[pd.DataFrame, pd.Series]:
    """``model_versions.csv`` as a frame, and id -> release date."""
    path = raw / STITCHING / "model_versions.csv"
    cols = ["id", "Model", "Version release date", "Display name", "Unique display name"]
    df = read_csv(path, required=cols, dtype=str, keep_default_na=False, na_values=[""])
    ids = _strip(df["id"])
    if ids.isna().any():
        pos = int(np.flatnonzero(ids.isna().to_numpy())[0])
        raise SourceError(path, "missing value", column="id", row=pos + 2)
    rel = parse_dates(df["Version release date"], "Version release date", path)
    frame = pd.DataFrame(
        {
            "source_model": ids,
            "model": _strip(df["Model"]),
            "display_name": _strip(df["Display name"]).fillna(_strip(df["Unique display name"])),
            "release_date": rel,
        }
    )
    frame = frame.drop_duplicates("source_model", keep="first").reset_index(drop=True)
    return frame, frame.set_index("source_model")["release_date"]


def _own_runs(raw: Path) -> pd.DataFrame:
    path = raw / STITCHING / "benchmarks_runs.csv"
    col = "Best score (across scorers)"
    df = read_csv(
        path,
        required=["task", "model", col, "started_at"],
        dtype=str,
        keep_default_na=False,
        na_values=[""],
    )
    for c in ("task", "model"):
        v = _strip(df[c])
        if v.isna().any():
            pos = int(np.flatnonzero(v.isna().to_numpy())[0])
            raise SourceError(path, "missing value", column=c, row=pos + 2)
    score = numeric_column(df, col, path, allow_missing=False, lo=0.0, hi=1.0)
    when = parse_dates(df["started_at"], "started_at", path, fmt="%d %B %Y %I:%M%p")
    return pd.DataFrame(
        {
            "source": "epoch",
            "source_model": _strip(df["model"]),
            "benchmark": "epoch:" + _strip(df["task"]).map(_slug),
            "score": score,
            "as_of": when.fillna(DATA_DATE),
            "self_reported": False,
        }
    )


def _external(raw: Path) -> pd.DataFrame:
    folder = raw / STITCHING
    found = sorted(p.name for p in folder.glob("external_benchmark_*.csv"))
    expected = sorted(f"external_benchmark_{k}.csv" for k in EXTERNAL)
    for name in found:
        if name not in expected:
            raise SourceError(
                folder / name, "external benchmark table not mapped in epoch.EXTERNAL"
            )
    parts = []
    for stem, (bench, col, date_col) in sorted(EXTERNAL.items()):
        path = folder / f"external_benchmark_{stem}.csv"
        required = ["Model version", col, "Source"] + ([date_col] if date_col else [])
        df = read_csv(path, required=required, dtype=str, keep_default_na=False, na_values=[""])
        score = _scores(df, col, path)
        if date_col:
            as_of = parse_dates(df[date_col], date_col, path, fmt="%d/%m/%Y").fillna(DATA_DATE)
        else:
            as_of = pd.Series(DATA_DATE, index=df.index, dtype="datetime64[ns]")
        source_text = _strip(df["Source"])
        part = pd.DataFrame(
            {
                "source": "epoch-external",
                "source_model": _strip(df["Model version"]),
                "benchmark": f"epoch:{bench}",
                "score": score,
                "as_of": as_of,
                "self_reported": source_text.map(
                    lambda s: False if isinstance(s, str) and _INDEPENDENT.search(s) else None
                ),
            }
        )
        parts.append(part[part["source_model"].notna() & part["score"].notna()])
    return pd.concat(parts, ignore_index=True)


# --------------------------------------------------------------------------- ECI and METR


def _eci(raw: Path) -> tuple[pd.DataFrame, pd.DataFrame, pd.Timestamp]:
    path = raw / ECI_DIR / "epoch_capabilities_index.csv"
    cols = [
        "Model version",
        "ECI Score",
        "Release date",
        "Organization",
        "Model accessibility",
        "Model name",
        "Display name",
    ]
    df = read_csv(path, required=cols, dtype=str, keep_default_na=False, na_values=[""])
    ids = _strip(df["Model version"])
    if ids.isna().any():
        pos = int(np.flatnonzero(ids.isna().to_numpy())[0])
        raise SourceError(path, "missing value", column="Model version", row=pos + 2)
    score = numeric_column(df, "ECI Score", path, lo=0.0, hi=500.0)
    rel = parse_dates(df["Release date"], "Release date", path)
    meta = pd.DataFrame(
        {
            "source": "epoch-eci",
            "source_model": ids,
            "display_name": _strip(df["Display name"]).fillna(_strip(df["Model name"])),
            "organization": _strip(df["Organization"]),
            "release_date": rel,
            "open_weights": accessibility_open(
                df["Model accessibility"], "Model accessibility", path
            ),
            "reasoning": _reasoning(ids),
            "params_b": np.nan,
        }
    )
    bench = pd.DataFrame(
        {
            "source": "epoch-eci",
            "source_model": ids,
            "benchmark": "epoch:eci",
            "score": score,
            "self_reported": False,
        }
    )
    latest = rel.max()
    if pd.isna(latest):
        raise SourceError(path, "no release dates: cannot date the copy", column="Release date")
    return bench[bench["score"].notna()], meta, latest


def _metr(raw: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    path = raw / ECI_DIR / "benchmark_results_1_1.yaml"
    doc = read_yaml(path)
    if not isinstance(doc, dict) or "results" not in doc:
        raise SourceError(path, "missing key", column="results")
    results = doc["results"]
    if not isinstance(results, dict) or not results:
        raise SourceError(path, "expected a non-empty mapping", column="results")
    rows, meta = [], []
    metrics = {
        "p50_horizon_length": "p50_horizon_minutes",
        "p80_horizon_length": "p80_horizon_minutes",
        "average_score": "average_score",
    }
    for key, rec in results.items():
        mid = str(key)
        if not isinstance(rec, dict) or not isinstance(rec.get("metrics"), dict):
            raise SourceError(path, "missing key", column="metrics", row=mid)
        if "p50_horizon_length" not in rec["metrics"]:
            raise SourceError(path, "missing key", column="metrics.p50_horizon_length", row=mid)
        for mkey, bname in metrics.items():
            if mkey not in rec["metrics"]:
                continue
            m = rec["metrics"][mkey]
            if not isinstance(m, dict) or "estimate" not in m:
                raise SourceError(path, "missing key", column=f"metrics.{mkey}.estimate", row=mid)
            v = m["estimate"]
            if (
                isinstance(v, bool)
                or not isinstance(v, (int, float))
                or not np.isfinite(v)
                or v < 0
            ):
                raise SourceError(
                    path, f"invalid value {v!r}", column=f"metrics.{mkey}.estimate", row=mid
                )
            rows.append((mid, f"metr:{bname}", float(v)))
        meta.append((mid, rec.get("release_date")))
    bench = pd.DataFrame(rows, columns=["source_model", "benchmark", "score"]).assign(
        source="metr", self_reported=False
    )
    mframe = pd.DataFrame(meta, columns=["source_model", "release_date"])
    mframe["release_date"] = parse_dates(
        mframe["release_date"].astype(object).map(lambda d: None if d is None else str(d)),
        "release_date",
        path,
        row_offset=0,
    )
    mframe = mframe.assign(
        source="metr",
        display_name=None,
        organization=None,
        open_weights=None,
        reasoning=None,
        params_b=np.nan,
    )
    return bench, mframe


# --------------------------------------------------------------------------- entry point


def read(raw: Path) -> dict[str, pd.DataFrame]:
    """Read every Epoch source (stitching, ECI, METR horizons, model databases).

    Parameters
    ----------
    raw : Path
        The ``raw/`` directory of the shared data.

    Returns
    -------
    dict of DataFrame
        ``"benchmarks"`` (sources ``epoch``, ``epoch-external``, ``epoch-eci``,
        ``metr``) and ``"meta"`` (sources ``epoch``, ``epoch-eci``, ``metr``,
        ``epoch-models``), matching :data:`divergence.schema.READER_SCHEMAS`, sorted by
        their key columns.
    """
    raw = Path(raw)
    db = _models_db(raw)
    versions, released = _release_dates(raw)

    stitched = pd.concat([_own_runs(raw), _external(raw)], ignore_index=True)
    floor = stitched["source_model"].map(released)
    late = floor.notna() & (stitched["as_of"] < floor)
    stitched.loc[late, "as_of"] = floor[late]

    eci_bench, eci_meta, eci_latest = _eci(raw)
    metr_bench, metr_meta = _metr(raw)
    folder_as_of = max(eci_latest, metr_meta["release_date"].max())
    eci_bench = eci_bench.assign(as_of=folder_as_of)
    metr_bench = metr_bench.assign(as_of=folder_as_of)

    bench = pd.concat([stitched, eci_bench, metr_bench], ignore_index=True)
    bench = _dedupe_max(
        bench[["source", "source_model", "benchmark", "score", "as_of", "self_reported"]],
        _BENCH_KEYS,
        "score",
    )

    dbi = db.set_index("source_model")
    version_meta = pd.DataFrame(
        {
            "source": "epoch",
            "source_model": versions["source_model"],
            "display_name": versions["display_name"],
            "organization": versions["model"].map(dbi["organization"]),
            "release_date": versions["release_date"],
            "open_weights": versions["model"].map(dbi["open_weights"]),
            "reasoning": _reasoning(versions["source_model"]),
            "params_b": versions["model"].map(dbi["params_b"]),
        }
    )
    models_meta = db.assign(source="epoch-models", display_name=db["source_model"], reasoning=None)
    meta = pd.concat(
        [
            version_meta[META_COLUMNS],
            eci_meta[META_COLUMNS],
            metr_meta[META_COLUMNS],
            models_meta[META_COLUMNS],
        ],
        ignore_index=True,
    )
    meta = _first_per_key(meta)
    origin = str(raw / "benchmarks" / "epoch-*")
    return validated_tables(origin, benchmarks=bench, meta=meta)


# Attribution and terms of the folders this reader reads (shipped in SOURCES.md).
SPEC = Source(
    name="epoch",
    upstreams=(
        Upstream(
            folder="benchmarks/epoch-benchmark-stitching",
            upstream="github.com/epoch-research/benchmark-stitching",
            license="MIT",
            what="Epoch runs, external benchmarks, model versions (2025-11-21)",
            feeds=("epoch", "epoch-external"),
        ),
        Upstream(
            folder="benchmarks/epoch-eci-via-metr_graph",
            upstream="Epoch Capabilities Index (third-party copy)",
            license="CC-BY (Epoch AI)",
            what="ECI, organisation, accessibility; METR time horizons (source 'metr')",
            feeds=("epoch-eci", "metr"),
        ),
        Upstream(
            folder="benchmarks/epoch-all-ai-models-snapshot",
            upstream="Epoch AI models database",
            license="not stated in the copy; see upstream",
            what="model metadata",
            feeds=("epoch-models",),
        ),
        Upstream(
            folder="benchmarks/epoch-open-model-trends",
            upstream="Epoch AI open model trends",
            license="not stated in the copy; see upstream",
            what="model metadata (accessibility, dates)",
            feeds=("epoch-models",),
        ),
    ),
    reader=read,
)
