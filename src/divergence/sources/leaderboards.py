"""Independent leaderboards: WeirdML, ARC-AGI, Aider, SWE-bench.

Every score is in percent (0-100); fractions in the raw files are multiplied by 100.
``self_reported`` is False (each board runs the models itself). Exact duplicate rows are
dropped; several runs of one (model, benchmark) keep the best score, dated by that run
(ties: the earliest run). Rows are sorted by (source, source_model, benchmark, as_of);
meta rows by (source, source_model). Costs are not read.

WeirdML (``raw/benchmarks/weirdml/``, MIT, Håvard Tveit Ihle)
    ``weirdml_results.json``: ``models: {id: {display_name, release_date,
    aggregate_scores: {avg_acc}, tasks, ...}}``. Kept: ``avg_acc`` (mean over the 17 tasks
    of the mean run score) as ``weirdml:accuracy``; the id (the JSON key, e.g.
    ``gpt-5.2:medium``, one per model configuration) verbatim as ``source_model``;
    display name and release date as meta. The file carries no run or snapshot date:
    ``as_of`` is the latest model release date in the file (2026-02-05), the earliest
    date at which this snapshot can have been published. ``summary.json`` (time-horizon
    fits) and ``all_estimates.csv`` (human time estimates per task) are not read.

ARC-AGI (``raw/benchmarks/arc-agi/``, no license stated; ARC Prize Foundation)
    ``leaderboard_v1.json``, ``leaderboard_v2.json``, ``leaderboard_v3.json``:
    ``{generatedAt, evaluations: [{datasetId, modelId, modelDisplayName, modelType,
    providerDisplayName, modelReleaseDate, score (0-1), ...}]}``. Kept: the
    semi-private (official leaderboard) sets ``v<N>_Semi_Private`` as ``arcagi:v<N>``;
    other dataset ids are skipped (``evaluations.json`` and ``models.json`` hold the same
    entries plus public-eval scores and are not read). Rule for LLMs: ``modelType`` is
    ``Base LLM``, ``CoT`` or ``CoT + Synthesis`` (vendor models, incl. o3-pro and
    o3-preview); dropped are human baselines (``modelType`` null: Human Panel, Stem
    Grad, MTurker), Kaggle competition solutions (``Custom``), third-party refinement
    loops around an LLM (``Refinement``) and bespoke non-LLM models such as HRM/TRM
    (empty type). Any other ``modelType`` raises ``SourceError``. Entries hidden on the
    site (``display: false``) are kept. ``source_model`` and ``display_name`` are
    ``modelId`` and ``modelDisplayName`` verbatim (ids are inconsistent, e.g.
    ``Claude 3.7``, ``o1 - high``, ``gpt-4-5-2025-02-27``); ``as_of`` is the file's
    ``generatedAt`` day (entries carry no test date). Meta: provider as organization,
    ``modelReleaseDate`` as release date (sometimes the test date, e.g. Gemini 1.5 Pro
    2025-02-15); ``modelType`` is not used for ``reasoning`` (o3-mini-low is "Base LLM").
    ``gpt-5-2025-08-07-low`` is listed twice on v2 (exact duplicate, dropped).

Aider (``raw/benchmarks/aider/``, Apache-2.0, Aider-AI/aider)
    ``polyglot_leaderboard.yml`` (``aider:polyglot``, 225 exercises) and
    ``edit_leaderboard.yml`` (``aider:edit``, 133 exercises): lists of runs with
    ``model`` (a label), ``command``, ``date``, ``pass_rate_2`` (percent solved after one
    retry with test feedback, the board's headline number), ``test_cases``. Kept: one
    score per (model, benchmark), the best run, ``as_of`` = that run's date. Skipped runs:
    two-model architect/editor runs (``edit_format: architect``, ``editor_model`` or
    ``--architect``/``--editor-model`` in the command), partial runs (fewer than 95 % of
    the exercises: two 33/36-case runs) and a 225-case polyglot run listed on the edit
    board. ``source_model`` is, in order: (1) the label when it is an id, optionally
    followed by a parenthesised run note (``claude-sonnet-4-20250514 (32k thinking)`` ->
    ``claude-sonnet-4-20250514``); (2) the ``--model`` argument of ``command`` verbatim,
    with its litellm provider prefix (``gemini/gemini-2.0-pro-exp-02-05``); (3) the
    label verbatim. Steps 1-2 skip moving aliases (``*-latest``,
    ``deepseek-chat``/``-reasoner``/``-coder``, which pointed to several models over
    time) and aider's shorthands (``sonnet``, ``r1``, ...), so e.g. the four models run
    as ``deepseek/deepseek-chat`` keep their labels. Meta: the label of the best run (the
    later one if both benchmarks have one) as display name, the ``released`` field (when
    given) as release date; the underscore-prefixed ``_released`` key (10 runs,
    apparently disabled upstream) is ignored. ``o1_polyglot_leaderboard.yml`` (a
    subset of the polyglot runs), ``qwen3_leaderboard.yml`` and ``quant.yml``
    (provider/quantisation comparisons labelled by provider) and
    ``refactor_leaderboard.yml`` (another benchmark) are not read.

SWE-bench (``raw/benchmarks/swe-bench/``, CC BY-NC 4.0, non-commercial; swebench.com)
    ``leaderboards.json`` (2025-12-10): ``{leaderboards: [{name, results: [{name, date,
    resolved (percent), tags ["Model: x", "Org: y", "System: Attempts - n"], os_model,
    ...}]}]}`` and ``modelReleaseDates*.json`` ``{model id: YYYYMMDD}``. Kept:
    ``bash-only`` (every model in the same minimal mini-SWE-agent harness) as
    ``swebench:bash_only``; from ``Verified`` and ``Lite`` (``swebench:verified``,
    ``swebench:lite``) only single-model entries, defined as: exactly one ``Model:`` tag
    that is an id (no spaces; drops ``Qwen 2.5`` for SWE-agent-LM-32B), run in one of the
    SWE-bench team's model-agnostic reference harnesses (name starts with ``RAG + ``,
    ``SWE-agent + `` or ``mini-SWE-agent + ``) and no ``System: Attempts - 2``/``2+`` tag.
    Vendor and third-party agent products are dropped: their score measures the agent as
    much as the model. Entries dated before their model's release date are dropped (their
    ``Model:`` tag is wrong: the June-2024 "SWE-agent + Claude 3.5 Sonnet" runs on
    Verified and Lite are tagged ``claude-3-5-sonnet-20241022``). ``Test`` and
    ``Multimodal`` boards are not read. ``source_model`` is the ``Model:`` tag verbatim,
    ``as_of`` the entry date. Meta: display name from the
    bash-only entry (else the entry name without the harness prefix), organization from
    the bash-only ``Org:`` tag, release date from ``modelReleaseDates``. ``open_weights``
    comes only from bash-only ``os_model`` (older boards' flags describe systems and are
    wrong, e.g. SWE-Llama) and is overridden to True for Llama 4 models, which the file
    marks False.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from divergence.errors import SourceError
from divergence.schema import validate
from divergence.sources._io import (
    as_float,
    latest_date,
    read_json,
    read_yaml,
    require_keys,
    text_field,
)
from divergence.sources.base import Source, Upstream

if TYPE_CHECKING:
    from pandas._libs.tslibs.nattype import NaTType

BENCH_KEYS = ["source", "source_model", "benchmark", "as_of"]
_EARLIEST = pd.Timestamp("1900-01-01")  # also keeps datetime64[ns] conversion in bounds
_META_DEFAULT: dict[str, Any] = {
    "display_name": None,
    "organization": None,
    "release_date": pd.NaT,
    "open_weights": None,
    "reasoning": None,
    "params_b": math.nan,
}


# ---------------------------------------------------------------- shared helpers
def _date(value: Any, path: Path, column: str, row: Any) -> pd.Timestamp | NaTType:
    """One JSON/YAML date (ISO text, date, or YYYYMMDD int) -> day Timestamp; None -> NaT."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return pd.NaT
    try:
        if isinstance(value, bool):
            raise ValueError
        if isinstance(value, int):
            ts = pd.to_datetime(str(value), format="%Y%m%d")
        elif isinstance(value, (str, dt.date)):
            ts = pd.Timestamp(value)
        else:
            raise ValueError
    except (ValueError, TypeError):
        raise SourceError(path, f"unparseable date {value!r}", column=column, row=row) from None
    if ts.tzinfo is not None:
        ts = ts.tz_convert(None)
    ts = ts.normalize()
    latest = pd.Timestamp(latest_date())
    if ts > latest:
        raise SourceError(
            path, f"date {value!r} is in the future (after {latest.date()})", column=column, row=row
        )
    if ts < _EARLIEST:
        raise SourceError(
            path, f"date {value!r} is before {_EARLIEST.date()}", column=column, row=row
        )
    return ts


def _best(rows: list[dict]) -> pd.DataFrame:
    """Keep the best score per (source, source_model, benchmark); ties -> earliest as_of."""
    cols = ["source", "source_model", "benchmark", "score", "as_of", "self_reported"]
    df = pd.DataFrame(
        rows, columns=[*cols, *(c for c in (rows[0] if rows else {}) if c not in cols)]
    )
    df = df.drop_duplicates()
    df = df.sort_values(
        ["source", "source_model", "benchmark", "score", "as_of"],
        ascending=[True, True, True, False, True],
        kind="mergesort",
    )
    return df.drop_duplicates(["source", "source_model", "benchmark"])


def _finish(bench: pd.DataFrame, meta: Iterable[dict], origin: Path) -> dict[str, pd.DataFrame]:
    bench = bench.sort_values(BENCH_KEYS, kind="mergesort", na_position="last")
    meta_df = pd.DataFrame(
        [{**_META_DEFAULT, **m} for m in meta], columns=["source", "source_model", *_META_DEFAULT]
    )
    meta_df = meta_df.sort_values(["source", "source_model"], kind="mergesort")
    return {
        "benchmarks": validate(bench, "benchmarks", str(origin)),
        "meta": validate(meta_df, "meta", str(origin)),
    }


# ---------------------------------------------------------------- WeirdML


def read_weirdml(raw: Path) -> dict[str, pd.DataFrame]:
    """Read WeirdML overall accuracy per model configuration.

    Parameters
    ----------
    raw : Path
        The ``raw/`` data root.

    Returns
    -------
    dict of DataFrame
        ``"benchmarks"`` (``weirdml:accuracy``) and ``"meta"``.
    """
    path = Path(raw) / "benchmarks" / "weirdml" / "weirdml_results.json"
    doc = read_json(path)
    require_keys(doc, ["models"], path)
    models = doc["models"]
    if not isinstance(models, dict) or not models:
        raise SourceError(path, "expected a non-empty object", column="models")
    recs = []
    for key, rec in models.items():
        row = repr(key)
        require_keys(rec, ["display_name", "release_date", "aggregate_scores"], path, row=row)
        require_keys(rec["aggregate_scores"], ["avg_acc"], path, row=row)
        score = as_float(rec["aggregate_scores"]["avg_acc"], path, "avg_acc", row, lo=0.0, hi=1.0)
        if math.isnan(score):
            raise SourceError(path, "missing value", column="avg_acc", row=row)
        recs.append(
            (
                key,
                text_field(rec, "display_name", path, row),
                _date(rec["release_date"], path, "release_date", row),
                100.0 * score,
            )
        )
    as_of = max((r[2] for r in recs if not pd.isna(r[2])), default=pd.NaT)
    if pd.isna(as_of):
        raise SourceError(
            path, "no release_date at all: cannot date the snapshot", column="release_date"
        )
    bench = _best(
        [
            {
                "source": "weirdml",
                "source_model": k,
                "benchmark": "weirdml:accuracy",
                "score": s,
                "as_of": as_of,
                "self_reported": False,
            }
            for k, _, _, s in recs
        ]
    )
    meta = [
        {"source": "weirdml", "source_model": k, "display_name": name, "release_date": rd}
        for k, name, rd, _ in recs
    ]
    return _finish(bench, meta, path)


# ---------------------------------------------------------------- ARC-AGI
ARC_KEEP = {"Base LLM", "CoT", "CoT + Synthesis"}
ARC_DROP = {None, "Custom", "Refinement", ""}
_ARC_SET = re.compile(r"v(\d+)_Semi_Private")


def read_arcagi(raw: Path) -> dict[str, pd.DataFrame]:
    """Read ARC-AGI semi-private scores of LLMs.

    Parameters
    ----------
    raw : Path
        The ``raw/`` data root.

    Returns
    -------
    dict of DataFrame
        ``"benchmarks"`` (``arcagi:v1``, ``arcagi:v2``, ``arcagi:v3``) and ``"meta"``.
    """
    folder = Path(raw) / "benchmarks" / "arc-agi"
    files = sorted(folder.glob("leaderboard_v*.json"))
    if not files:
        raise SourceError(folder, "no leaderboard_v*.json files")
    rows: list[dict[str, Any]] = []
    meta: dict[str, dict[str, Any]] = {}
    for path in files:
        doc = read_json(path)
        require_keys(doc, ["generatedAt", "evaluations"], path)
        as_of = _date(doc["generatedAt"], path, "generatedAt", None)
        if pd.isna(as_of):
            raise SourceError(path, "missing value", column="generatedAt")
        if not isinstance(doc["evaluations"], list):
            raise SourceError(path, "expected a list", column="evaluations")
        for i, e in enumerate(doc["evaluations"]):
            row = f"evaluations[{i}]"
            require_keys(
                e,
                [
                    "datasetId",
                    "modelId",
                    "modelDisplayName",
                    "modelType",
                    "providerDisplayName",
                    "modelReleaseDate",
                    "score",
                ],
                path,
                row=row,
            )
            kind = e["modelType"]
            if kind in ARC_DROP:
                continue
            if kind not in ARC_KEEP:
                raise SourceError(
                    path,
                    f"unknown modelType {kind!r} (update the LLM rule)",
                    column="modelType",
                    row=row,
                )
            m = _ARC_SET.fullmatch(str(e["datasetId"]))
            if not m:
                continue
            model = text_field(e, "modelId", path, row)
            score = as_float(e["score"], path, "score", row, lo=0.0, hi=1.0)
            if math.isnan(score):
                raise SourceError(path, "missing value", column="score", row=row)
            rows.append(
                {
                    "source": "arc-agi",
                    "source_model": model,
                    "benchmark": f"arcagi:v{m.group(1)}",
                    "score": 100.0 * score,
                    "as_of": as_of,
                    "self_reported": False,
                }
            )
            meta.setdefault(
                model,
                {
                    "source": "arc-agi",
                    "source_model": model,
                    "display_name": text_field(e, "modelDisplayName", path, row),
                    "organization": e["providerDisplayName"] or None,
                    "release_date": _date(e["modelReleaseDate"], path, "modelReleaseDate", row),
                },
            )
    return _finish(_best(rows), meta.values(), folder)


# ---------------------------------------------------------------- Aider
AIDER_FILES = {
    "aider:polyglot": ("polyglot_leaderboard.yml", 225),
    "aider:edit": ("edit_leaderboard.yml", 133),
}
_AIDER_SHORTHANDS = {
    "sonnet",
    "opus",
    "haiku",
    "r1",
    "flash",
    "deepseek",
    "3",
    "4",
    "4o",
    "35turbo",
    "35-turbo",
    "4-turbo",
    "gemini",
    "gemini-exp",
    "quasar",
    "optimus",
    "grok3",
}
_MOVING = {"deepseek-chat", "deepseek-reasoner", "deepseek-coder"}
_LABEL_ID = re.compile(r"(?P<id>[A-Za-z0-9][\w.:/+-]*)(?: \((?P<note>[^()]*)\))?")
_MODEL_ARG = re.compile(r"--model\s+(\S+)")


def _usable_id(model_id: str) -> bool:
    last = model_id.rsplit("/", 1)[-1]
    if last.endswith("-latest") or last == "latest" or last in _MOVING:
        return False
    return not ("/" not in model_id and model_id in _AIDER_SHORTHANDS)


def aider_model_id(label: str, command: str | None) -> str:
    """The aider run's model id most likely to match provider ids (rule in the module doc)."""
    m = _LABEL_ID.fullmatch(label)
    if m and _usable_id(m.group("id")):
        return m.group("id")
    arg = _MODEL_ARG.search(command or "")
    if arg and _usable_id(arg.group(1)):
        return arg.group(1)
    return label


def _aider_runs(path: Path, benchmark: str, cases: int) -> list[dict]:
    doc = read_yaml(path)
    if not isinstance(doc, list) or not doc:
        raise SourceError(path, "expected a non-empty list of runs")
    runs = []
    for i, rec in enumerate(doc):
        row = f"run {i + 1}"
        require_keys(rec, ["model", "date", "pass_rate_2", "test_cases"], path, row=row)
        label = text_field(rec, "model", path, row)
        command = rec.get("command")
        if command is not None and not isinstance(command, str):
            raise SourceError(path, f"expected text, got {command!r}", column="command", row=row)
        score = as_float(rec["pass_rate_2"], path, "pass_rate_2", row, lo=0.0, hi=100.0)
        n = as_float(rec["test_cases"], path, "test_cases", row, lo=0.0)
        when = _date(rec["date"], path, "date", row)
        if math.isnan(score) or math.isnan(n) or pd.isna(when):
            raise SourceError(path, "missing pass_rate_2, test_cases or date", row=row)
        released = _date(rec.get("released"), path, "released", row)
        architect = (
            rec.get("edit_format") == "architect"
            or "editor_model" in rec
            or re.search(r"--architect\b|--editor-model\b", command or "") is not None
        )
        if architect or not (0.95 * cases <= n <= cases):
            continue
        runs.append(
            {
                "source": "aider",
                "source_model": aider_model_id(label, command),
                "benchmark": benchmark,
                "score": score,
                "as_of": when,
                "self_reported": False,
                "label": label,
                "released": released,
            }
        )
    if not runs:
        raise SourceError(path, "no usable run (all partial, architect or of another suite)")
    return runs


def read_aider(raw: Path) -> dict[str, pd.DataFrame]:
    """Read Aider polyglot and code-editing pass rates (best run per model).

    Parameters
    ----------
    raw : Path
        The ``raw/`` data root.

    Returns
    -------
    dict of DataFrame
        ``"benchmarks"`` (``aider:polyglot``, ``aider:edit``) and ``"meta"``.
    """
    folder = Path(raw) / "benchmarks" / "aider"
    runs = [r for b, (f, n) in AIDER_FILES.items() for r in _aider_runs(folder / f, b, n)]
    bench = _best(runs)
    released = pd.DataFrame(runs).groupby("source_model")["released"].min()
    latest = bench.sort_values(["source_model", "as_of", "benchmark"], kind="mergesort")
    latest = latest.drop_duplicates("source_model", keep="last")
    meta = [
        {"source": "aider", "source_model": m, "display_name": label, "release_date": released[m]}
        for m, label in zip(latest["source_model"], latest["label"], strict=True)
    ]
    return _finish(bench, meta, folder)


# ---------------------------------------------------------------- SWE-bench
SWE_BOARDS = {
    "bash-only": "swebench:bash_only",
    "Verified": "swebench:verified",
    "Lite": "swebench:lite",
}
SWE_HARNESSES = ("mini-SWE-agent + ", "SWE-agent + ", "RAG + ")
_MULTI_ATTEMPT = re.compile(r"System: Attempts - 2")
_LLAMA4 = re.compile(r"llama-?4", re.IGNORECASE)


def _swe_release_dates(folder: Path) -> dict[str, pd.Timestamp | NaTType]:
    found = sorted(folder.glob("modelReleaseDates*.json"))
    if len(found) != 1:
        raise SourceError(
            folder / "modelReleaseDates*.json", f"expected exactly one file, found {len(found)}"
        )
    path = found[0]
    doc = read_json(path)
    if not isinstance(doc, dict):
        raise SourceError(path, "expected an object {model: YYYYMMDD}")
    out = {}
    for key, value in doc.items():
        if isinstance(value, bool) or not isinstance(value, int) or not 10**7 <= value < 10**8:
            raise SourceError(path, f"expected a YYYYMMDD number, got {value!r}", row=repr(key))
        out[key] = _date(value, path, "release date", repr(key))
    return out


def read_swebench(raw: Path) -> dict[str, pd.DataFrame]:
    """Read SWE-bench bash-only, and single-model Verified and Lite entries.

    Parameters
    ----------
    raw : Path
        The ``raw/`` data root.

    Returns
    -------
    dict of DataFrame
        ``"benchmarks"`` (``swebench:bash_only``, ``swebench:verified``, ``swebench:lite``)
        and ``"meta"``.
    """
    folder = Path(raw) / "benchmarks" / "swe-bench"
    path = folder / "leaderboards.json"
    doc = read_json(path)
    require_keys(doc, ["leaderboards"], path)
    boards = doc["leaderboards"]
    if not isinstance(boards, list):
        raise SourceError(path, "expected a list", column="leaderboards")
    by_name: dict[str, list] = {}
    for i, lb in enumerate(boards):
        require_keys(lb, ["name", "results"], path, row=f"leaderboards[{i}]")
        if not isinstance(lb["results"], list):
            raise SourceError(path, "expected a list", column="results", row=f"leaderboards[{i}]")
        if lb["name"] in by_name:
            raise SourceError(path, "duplicate leaderboard", row=repr(lb["name"]))
        by_name[lb["name"]] = lb["results"]
    release = _swe_release_dates(folder)
    rows: list[dict[str, Any]] = []
    names: dict[str, Any] = {}
    bash_meta: dict[str, dict[str, Any]] = {}
    for board, benchmark in SWE_BOARDS.items():
        if board not in by_name:
            raise SourceError(path, "missing leaderboard", row=repr(board))
        for i, r in enumerate(by_name[board]):
            row = f"{board}[{i}]"
            require_keys(r, ["name", "date", "resolved", "tags"], path, row=row)
            name = text_field(r, "name", path, row)
            tags = r["tags"]
            if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
                raise SourceError(path, "expected a list of text tags", column="tags", row=row)
            models = [t.split(":", 1)[1].strip() for t in tags if t.startswith("Model:")]
            if board == "bash-only":
                if len(models) != 1 or not models[0]:
                    raise SourceError(
                        path,
                        "bash-only entry without exactly one Model tag",
                        column="tags",
                        row=row,
                    )
                if not isinstance(r.get("os_model"), bool):
                    raise SourceError(
                        path,
                        f"expected true/false, got {r.get('os_model')!r}",
                        column="os_model",
                        row=row,
                    )
                orgs = [t.split(":", 1)[1].strip() for t in tags if t.startswith("Org:")]
                bash_meta.setdefault(
                    models[0],
                    {
                        "display_name": name,
                        "organization": orgs[0] if orgs else None,
                        "open_weights": True if _LLAMA4.search(models[0]) else r["os_model"],
                    },
                )
            elif (
                len(models) != 1
                or not models[0]
                or re.search(r"\s", models[0])
                or not name.startswith(SWE_HARNESSES)
                or any(_MULTI_ATTEMPT.match(t) for t in tags)
            ):
                continue
            score = as_float(r["resolved"], path, "resolved", row, lo=0.0, hi=100.0)
            when = _date(r["date"], path, "date", row)
            if math.isnan(score) or pd.isna(when):
                raise SourceError(path, "missing resolved or date", row=row)
            if when < release.get(models[0], when):
                continue  # dated before the model existed: the Model tag is wrong
            rows.append(
                {
                    "source": "swe-bench",
                    "source_model": models[0],
                    "benchmark": benchmark,
                    "score": score,
                    "as_of": when,
                    "self_reported": False,
                }
            )
            prefix = next((h for h in SWE_HARNESSES if name.startswith(h)), "")
            names.setdefault(models[0], name[len(prefix) :])
    meta = [
        {
            "source": "swe-bench",
            "source_model": m,
            "display_name": names[m],
            "release_date": release.get(m, pd.NaT),
            **bash_meta.get(m, {}),
        }
        for m in names
    ]
    return _finish(_best(rows), meta, path)


# ---------------------------------------------------------------- all four
def read(raw: Path) -> dict[str, pd.DataFrame]:
    """Read WeirdML, ARC-AGI, Aider and SWE-bench.

    Parameters
    ----------
    raw : Path
        The ``raw/`` data root.

    Returns
    -------
    dict of DataFrame
        ``"benchmarks"`` and ``"meta"`` (``READER_SCHEMAS``) of the four sources,
        sorted by their key columns.
    """
    parts = [f(Path(raw)) for f in (read_weirdml, read_arcagi, read_aider, read_swebench)]
    out = {}
    for kind, keys in (("benchmarks", BENCH_KEYS), ("meta", ["source", "source_model"])):
        df = pd.concat([p[kind] for p in parts], ignore_index=True)
        df = df.sort_values(keys, kind="mergesort", na_position="last")
        out[kind] = validate(df, kind, str(Path(raw) / "benchmarks"))
    return out


# Attribution and terms of the folders this reader reads (shipped in SOURCES.md).
SPEC = Source(
    name="leaderboards",
    upstreams=(
        Upstream(
            folder="benchmarks/weirdml",
            upstream="WeirdML",
            license="MIT",
            what="WeirdML accuracy",
            feeds=("weirdml",),
        ),
        Upstream(
            folder="benchmarks/arc-agi",
            upstream="ARC Prize leaderboard",
            license="none stated",
            what="ARC-AGI scores",
            feeds=("arc-agi",),
        ),
        Upstream(
            folder="benchmarks/aider",
            upstream="github.com/Aider-AI/aider",
            license="Apache-2.0",
            what="Aider polyglot and edit leaderboards",
            feeds=("aider",),
        ),
        Upstream(
            folder="benchmarks/swe-bench",
            upstream="swebench.com",
            license="CC BY-NC 4.0 (non-commercial)",
            what="SWE-bench bash-only, Verified, Lite",
            feeds=("swe-bench",),
        ),
    ),
    reader=read,
)
