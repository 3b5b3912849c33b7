"""Bad input everywhere: one clear line naming file/column/row, never a traceback, nothing half-written.

Covers every source reader (a malformed copy of one of its real files in an otherwise real raw
tree), ``divergence data build`` (a raw directory holding a malformed copy), ``divergence predict
--input`` and the Python predictor. The file-independent bad files are the corpus in
``tests/bad_inputs/`` (see its README); file-specific defects (renamed columns, text/inf/negative/
out-of-range scores, future dates, header-only tables) are derived here from the real files.
"""

from __future__ import annotations

import csv
import hashlib
import importlib
import io
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import RAW
from divergence.errors import DivergenceError, SourceError

REPO = Path(__file__).resolve().parents[1]
CORPUS = Path(__file__).resolve().parent / "bad_inputs"
SNAPSHOT = REPO / "data" / "snapshot"


# The arena reader needs one file per sub-source; a tree of these (symlinked) reads ~20x faster.
ARENA_MINI = [
    "arena/lmarena-arena-catalog/text/leaderboard-data_2025-02-06_52fbb4ec6.json",
    "arena/lmarena-arena-catalog/text_style_control/leaderboard-text-style-control_2025-05-21_6dddc5f35.json",
    "arena/arena-ai-scrape/leaderboard-text/leaderboard-text_2026-03-27_34a1804.json",
    "arena/arena-ai-scrape/leaderboard-text-style-control/leaderboard-text-style-control_2026-03-27_34a1804.json",
    "arena/jasontrigg0-chatbot-arena-history/alltime.csv",
    "arena/jasontrigg0-chatbot-arena-history/key_to_model.csv",
    "arena/nakasyou-lmarena-history/result.csv",
    "arena/fboulnois-llm-leaderboard-csv/lmsys_history/lmsys_2024.06.19.csv",
    "arena/fboulnois-llm-leaderboard-csv/lmarena_latest/lmarena_text_2025.08.04.csv",
    "arena/utterstep-chatbot-arena-leaderboard-vis/leaderboard_tables/leaderboard_table_20250511.csv",
    "arena/mayerwin-AI-Arena-History/flagship_elo_history.csv",
]
CATALOG_TEXT, CATALOG_STYLE, SCRAPE_TEXT = ARENA_MINI[0], ARENA_MINI[1], ARENA_MINI[2]
JASON, NAKASYOU, FBOULNOIS, UTTERSTEP, MAYERWIN = (ARENA_MINI[i] for i in (4, 6, 7, 9, 10))

AA_API = "benchmarks/artificial-analysis/aa_api_live.json"
AA_TYPES = "benchmarks/artificial-analysis/aa_model_data.csv"
EPOCH_DB = "benchmarks/epoch-all-ai-models-snapshot/all_ai_models.csv"
EPOCH_RUNS = "benchmarks/epoch-benchmark-stitching/benchmarks_runs.csv"
EPOCH_VERSIONS = "benchmarks/epoch-benchmark-stitching/model_versions.csv"
EPOCH_EXT = "benchmarks/epoch-benchmark-stitching/external_benchmark_weirdml.csv"
EPOCH_ECI = "benchmarks/epoch-eci-via-metr_graph/epoch_capabilities_index.csv"
EPOCH_METR = "benchmarks/epoch-eci-via-metr_graph/benchmark_results_1_1.yaml"
LLMSTATS_MODEL = "benchmarks/llm-stats/data/organizations/openai/models/gpt-4o-2024-05-13"
LLMSTATS_BENCH = f"{LLMSTATS_MODEL}/benchmarks.json"
LLMSTATS_META = f"{LLMSTATS_MODEL}/model.json"
LLMSTATS_FIRST_BENCH = (
    "benchmarks/llm-stats/data/organizations/ai21/models/jamba-1.5-large/benchmarks.json"
)
LLMSTATS_CATALOGUE = "benchmarks/llm-stats/data/benchmarks/gpqa.json"
LB_TABLE = "benchmarks/livebench/table_2024_06_24.csv"
LB_CATS = "benchmarks/livebench/categories_2024_06_24.json"
WEIRDML = "benchmarks/weirdml/weirdml_results.json"
ARC = "benchmarks/arc-agi/leaderboard_v2.json"
AIDER = "benchmarks/aider/polyglot_leaderboard.yml"
SWE = "benchmarks/swe-bench/leaderboards.json"
OR_DAILY = "adoption/openrouter-rankings-daily-combined/openrouter_rankings_daily_2026-05-20_2026-08-21.csv"
OR_WEEKLY = "adoption/johnbean393-openrouter-inference-stats/2025-11-16.json"
OR_CATALOG = "adoption/uyhcire-openrouter-catalog-snapshots/openrouter_2025-10-02.json"
OR_PRICES = "adoption/casualstudy-openrouter/openrouter-prices.json"
OR_YAML = "adoption/wyl2607-llm-carbon-index/model_crosswalk.yaml"
OLLAMA = "adoption/auditomatic-ollama-models-registry/ollama_pullcounts_all_versions.csv"
OLLAMA_D3 = "adoption/d3rhami-ollama-gallery/ollama_pulls_all_versions.csv"
MODELSDEV = "adoption/models.dev/models_dev_provider_model_monthly.csv"
MODELSDEV_HEAD = "adoption/models.dev/models_dev_flat_HEAD.csv"
LITELLM = "adoption/litellm-prices-history/from_auditomatic_2025-08_to_2026-08/2025-08-30_litellm_model_prices_and_context_window.json"
LITELLM_SEEN = "adoption/litellm-prices-history/litellm_keys_first_last_seen.csv"
PYDANTIC = "adoption/pydantic-genai-prices/2025-06-23_data.json"
SIMONW = "adoption/simonw-llm-prices/amazon.json"

# Which callable reads a file: the registered reader, or (for files a reader opens only after
# seconds of other work) its public per-file-family function, to keep the suite fast.
READ_WITH = {
    OR_CATALOG: "divergence.sources.openrouter:read_catalog",
    OR_PRICES: "divergence.sources.openrouter:read_blended_prices",
    OR_YAML: "divergence.sources.openrouter:read_open_closed",
    OR_DAILY: "divergence.sources.openrouter:read_daily",
    LITELLM: "divergence.sources.catalogs:read_litellm",
    LITELLM_SEEN: "divergence.sources.catalogs:read_litellm",
    PYDANTIC: "divergence.sources.catalogs:read_pydantic",
    SIMONW: "divergence.sources.catalogs:read_simonw",
    MODELSDEV_HEAD: "divergence.sources.catalogs:read_models_dev",
    SWE: "divergence.sources.leaderboards:read_swebench",
}


def _reader_name(rel: str) -> str:
    parts = rel.split("/")
    if parts[0] == "arena":
        return "arena"
    folder = parts[1]
    for prefix, name in [
        ("artificial-analysis", "artificial-analysis"),
        ("epoch-", "epoch"),
        ("llm-stats", "llm-stats"),
        ("livebench", "livebench"),
        ("weirdml", "leaderboards"),
        ("arc-agi", "leaderboards"),
        ("aider", "leaderboards"),
        ("swe-bench", "leaderboards"),
        ("auditomatic", "ollama"),
        ("d3rhami", "ollama"),
        ("models.dev", "catalogs"),
        ("litellm", "catalogs"),
        ("pydantic", "catalogs"),
        ("simonw", "catalogs"),
    ]:
        if folder.startswith(prefix):
            return name
    return "openrouter"


def _read(rel: str, raw: Path) -> object:
    target = READ_WITH.get(rel)
    if target is None:
        from divergence.sources import reader

        return reader(_reader_name(rel))(raw)
    module, func = target.split(":")
    return getattr(importlib.import_module(module), func)(raw)


# --------------------------------------------------------------------------- raw trees


def _link_tree(src: Path, dst: Path) -> None:
    """Mirror ``src`` as real directories holding symlinks to its files."""
    for root, _dirs, files in os.walk(src):
        out = dst / Path(root).relative_to(src)
        out.mkdir(parents=True, exist_ok=True)
        for f in files:
            (out / f).symlink_to(Path(root) / f)


def make_raw(tmp: Path, rel: str, data: bytes, *, full: bool = False) -> Path:
    """A raw tree in which ``rel`` holds ``data`` and every other file is the real one.

    Top-level source folders not containing ``rel`` are symlinked whole; the one that does is
    mirrored file by file (readers glob it). Arena files get the mini tree unless ``full``.
    Returns the path of the malformed file.
    """
    raw = tmp / "raw"
    parts = rel.split("/")
    raw.mkdir(parents=True)
    if parts[0] == "arena" and not full:
        for f in ARENA_MINI:
            (raw / f).parent.mkdir(parents=True, exist_ok=True)
            (raw / f).symlink_to(RAW / f)
    else:
        for top in RAW.iterdir():
            if top.name != parts[0]:
                (raw / top.name).symlink_to(top)
        (raw / parts[0]).mkdir()
        for sub in (RAW / parts[0]).iterdir():
            if sub.name != parts[1]:
                (raw / parts[0] / sub.name).symlink_to(sub)
        _link_tree(RAW / parts[0] / parts[1], raw / parts[0] / parts[1])
    target = raw / rel
    assert target.is_symlink(), f"{rel} is not a file the tree holds"
    target.unlink()
    target.write_bytes(data)
    return target


def assert_one_line_error(exc: BaseException, path: Path, *fragments: str) -> str:
    """The message is one line, names the file and contains every fragment."""
    msg = str(exc)
    assert "\n" not in msg, msg
    assert str(path) in msg or path.name in msg, f"file not named: {msg}"
    for frag in fragments:
        assert frag in msg, f"{frag!r} not in {msg!r}"
    return msg


def expect_source_error(tmp: Path, rel: str, data: bytes, *fragments: str) -> str:
    path = make_raw(tmp, rel, data)
    with pytest.raises(SourceError) as info:
        _read(rel, tmp / "raw")
    return assert_one_line_error(info.value, path, *fragments)


# --------------------------------------------------------------------------- mutations


def _csv_rows(rel: str) -> tuple[str, list[list[str]]]:
    raw = (RAW / rel).read_bytes()
    bom = "\ufeff" if raw.startswith(b"\xef\xbb\xbf") else ""
    return bom, list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline="")))


def _csv_bytes(bom: str, rows: list[list[str]]) -> bytes:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    return (bom + buf.getvalue()).encode("utf-8")


def csv_set(rel: str, column: str, value: str, which: str = "last") -> tuple[bytes, int]:
    """Set ``column`` in the first/last data row where it is non-blank; returns (bytes, line)."""
    bom, rows = _csv_rows(rel)
    j = rows[0].index(column)
    cands = [i for i in range(1, len(rows)) if len(rows[i]) > j and rows[i][j].strip()]
    i = cands[-1] if which == "last" else cands[0]
    rows[i][j] = value
    return _csv_bytes(bom, rows), i + 1


def csv_rename(rel: str, column: str, new: str = "renamed_column") -> bytes:
    bom, rows = _csv_rows(rel)
    rows[0][rows[0].index(column)] = new
    return _csv_bytes(bom, rows)


def csv_header_only(rel: str) -> bytes:
    bom, rows = _csv_rows(rel)
    return _csv_bytes(bom, rows[:1])


def csv_duplicate_header(rel: str) -> bytes:
    bom, rows = _csv_rows(rel)
    rows[0][-1] = rows[0][0]
    return _csv_bytes(bom, rows)


def json_set(rel: str, edit: Callable[[object], None]) -> bytes:
    """Apply ``edit`` to the parsed file; the string ``"__INF__"`` becomes the literal ``1e999``."""
    doc = json.loads((RAW / rel).read_bytes().decode("utf-8-sig"))
    edit(doc)
    return json.dumps(doc).replace('"__INF__"', "1e999").encode()


def text_replace(rel: str, old: str, new: str) -> bytes:
    text = (RAW / rel).read_bytes().decode("utf-8-sig")
    assert old in text, f"{old!r} not in {rel}"
    return text.replace(old, new, 1).encode()


def truncated(rel: str) -> bytes:
    data = (RAW / rel).read_bytes()
    return data[: len(data) * 6 // 10]


def first_key(d: dict, pred: Callable[[object], bool] = lambda v: True) -> str:
    return next(k for k, v in d.items() if pred(v))


# --------------------------------------------------------------------------- corpus x readers

# One early-read file per reader and format; every corpus file of that format replaces it.
CORPUS_TARGETS = {
    "json": [CATALOG_TEXT, AA_API, LLMSTATS_FIRST_BENCH, LB_CATS, WEIRDML, OR_WEEKLY, SIMONW],
    "csv": [JASON, AA_TYPES, EPOCH_DB, LB_TABLE, OR_DAILY, OLLAMA, MODELSDEV],
    "yaml": [EPOCH_METR, AIDER, OR_YAML],
}
# Corpus files that are valid content for a given target (documented, not silently skipped).
VALID_FOR = {
    # A model folder whose benchmarks.json lists no results is a model without scores (two
    # llm-stats folders have no benchmarks.json at all): kept in meta, no benchmark rows.
    (LLMSTATS_FIRST_BENCH, "list_toplevel.json"),
}


def _corpus_cases() -> list:
    out = []
    for fmt, targets in CORPUS_TARGETS.items():
        for bad in sorted((CORPUS / fmt).iterdir()):
            for rel in targets:
                if (rel, bad.name) in VALID_FOR:
                    continue
                out.append(
                    pytest.param(rel, bad, id=f"{_reader_name(rel)}:{Path(rel).name}<-{bad.name}")
                )
    return out


@pytest.mark.parametrize(("rel", "bad"), _corpus_cases())
def test_corpus_file_in_place_of_real_input(tmp_path: Path, rel: str, bad: Path) -> None:
    expect_source_error(tmp_path, rel, bad.read_bytes())


# --------------------------------------------------------------------------- file-specific defects


@dataclass(frozen=True)
class Defect:
    rel: str
    what: str
    make: Callable[[], bytes | tuple[bytes, int]]
    expect: tuple[str, ...] = ()


def _arena_rating(value: object) -> Callable[[dict], None]:
    def edit(d: dict) -> None:
        d["full"][first_key(d["full"])]["rating"] = value

    return edit


def _arena_drop_rating(d: dict) -> None:
    del d["full"][first_key(d["full"])]["rating"]


def _aa(field: str, value: object) -> Callable[[dict], None]:
    def edit(d: dict) -> None:
        rec = d["data"][0]
        if field.startswith("evaluations."):
            rec["evaluations"][field.split(".", 1)[1]] = value
        elif field.startswith("pricing."):
            rec["pricing"][field.split(".", 1)[1]] = value
        elif value is KeyError:
            del rec[field]
        else:
            rec[field] = value

    return edit


def _llmstats_score(value: object) -> Callable[[list], None]:
    def edit(d: list) -> None:
        if value is KeyError:
            del d[0]["model_id"]
        else:
            d[0]["score"] = value

    return edit


def _weirdml(value: object) -> Callable[[dict], None]:
    def edit(d: dict) -> None:
        d["models"][first_key(d["models"])]["aggregate_scores"]["avg_acc"] = value

    return edit


def _weirdml_release(value: object) -> Callable[[dict], None]:
    def edit(d: dict) -> None:
        d["models"][first_key(d["models"])]["release_date"] = value

    return edit


def _or_created(value: object) -> Callable[[dict], None]:
    def edit(d: dict) -> None:
        d["data"][0]["created"] = value

    return edit


def _arc(value: object) -> Callable[[dict], None]:
    def edit(d: dict) -> None:
        e = next(
            e
            for e in d["evaluations"]
            if e["datasetId"].endswith("_Semi_Private")
            and e.get("modelType") in ("CoT", "Base LLM")
        )
        e["score"] = value

    return edit


def _swe(value: object) -> Callable[[dict], None]:
    def edit(d: dict) -> None:
        d["leaderboards"][0]["results"][0]["resolved"] = value

    return edit


def _weekly(field: str, value: object) -> Callable[[dict], None]:
    def edit(d: dict) -> None:
        d["models"][0][field] = value

    return edit


def _or_catalog(value: object) -> Callable[[dict], None]:
    def edit(d: dict) -> None:
        d["data"][0]["pricing"]["prompt"] = value

    return edit


def _or_prices(value: object) -> Callable[[dict], None]:
    def edit(d: dict) -> None:
        day = d[first_key(d)]
        day[first_key(day, lambda v: isinstance(v, (int, float)) and v > 0)] = value

    return edit


def _litellm(field: str, value: object) -> Callable[[dict], None]:
    def edit(d: dict) -> None:
        key = first_key(
            d,
            lambda v: (
                isinstance(v, dict)
                and v.get("mode") == "chat"
                and isinstance(v.get(field), (int, float))
            ),
        )
        d[key][field] = value

    return edit


def _pydantic(value: object) -> Callable[[list], None]:
    def edit(d: list) -> None:
        m = next(
            m
            for p in d
            for m in p["models"]
            if isinstance(m.get("prices"), dict)
            and isinstance(m["prices"].get("input_mtok"), (int, float))
        )
        m["prices"]["input_mtok"] = value

    return edit


def _simonw(value: object) -> Callable[[dict], None]:
    def edit(d: dict) -> None:
        d["models"][0]["price_history"][0]["input"] = value

    return edit


def _cats(d: dict) -> None:
    d[first_key(d)] = 42


TEXT, INF, OUT = "non-numeric", "out of range", "out of range"


def json_value_defects(
    rel: str, noun: str, edit: Callable[[object], Callable[[dict], None]], field: str, low: float
) -> list[Defect]:
    """A JSON field's value as text, as 1e999 and below its range (``low``): three defects."""
    return [
        Defect(rel, f"{noun} as text", lambda: json_set(rel, edit("high")), (field, TEXT)),
        Defect(rel, f"{noun} 1e999", lambda: json_set(rel, edit("__INF__")), (field, INF)),
        Defect(rel, f"negative {noun}", lambda: json_set(rel, edit(low)), (field, OUT)),
    ]


DEFECTS: list[Defect] = [
    # arena
    *json_value_defects(CATALOG_TEXT, "rating", _arena_rating, "'rating'", -5),
    Defect(
        CATALOG_STYLE,
        "rating 1e6",
        lambda: json_set(CATALOG_STYLE, _arena_rating(1e6)),
        ("'rating'", OUT),
    ),
    Defect(
        SCRAPE_TEXT,
        "missing rating key",
        lambda: json_set(SCRAPE_TEXT, _arena_drop_rating),
        ("'rating'", "missing"),
    ),
    Defect(SCRAPE_TEXT, "truncated", lambda: truncated(SCRAPE_TEXT), ("invalid JSON",)),
    Defect(
        JASON,
        "renamed rating column",
        lambda: csv_rename(JASON, "rating"),
        ("'rating'", "missing column"),
    ),
    Defect(JASON, "rating as text", lambda: csv_set(JASON, "rating", "abc"), ("'rating'", TEXT)),
    Defect(JASON, "rating inf", lambda: csv_set(JASON, "rating", "inf"), ("'rating'", INF)),
    Defect(JASON, "negative rating", lambda: csv_set(JASON, "rating", "-1"), ("'rating'", OUT)),
    Defect(
        JASON,
        "date in the future",
        lambda: csv_set(JASON, "date", "20990101"),
        ("'date'", "future"),
    ),
    Defect(JASON, "header only", lambda: csv_header_only(JASON), ("no data rows",)),
    Defect(NAKASYOU, "cell as text", lambda: csv_set(NAKASYOU, "gpt-4-0314", "abc"), (TEXT,)),
    Defect(
        FBOULNOIS,
        "score as text",
        lambda: csv_set(FBOULNOIS, "arena_elo", "n/a-score"),
        ("'arena_elo'", TEXT),
    ),
    Defect(FBOULNOIS, "duplicate header", lambda: csv_duplicate_header(FBOULNOIS), ()),
    Defect(UTTERSTEP, "renamed key column", lambda: csv_rename(UTTERSTEP, "key"), ("'key'",)),
    Defect(MAYERWIN, "rating inf", lambda: csv_set(MAYERWIN, "rating", "inf"), ("'rating'", INF)),
    Defect(
        MAYERWIN,
        "date in the future",
        lambda: csv_set(MAYERWIN, "date", "2099-01-01"),
        ("'date'", "future"),
    ),
    # Artificial Analysis
    *json_value_defects(
        AA_API, "score", lambda v: _aa("evaluations.gpqa", v), "evaluations.gpqa", -0.2
    ),
    Defect(
        AA_API,
        "score above 100",
        lambda: json_set(AA_API, _aa("evaluations.artificial_analysis_intelligence_index", 250)),
        ("artificial_analysis_intelligence_index", OUT),
    ),
    Defect(
        AA_API,
        "negative price",
        lambda: json_set(AA_API, _aa("pricing.price_1m_input_tokens", -1)),
        ("price_1m_input_tokens", OUT),
    ),
    Defect(
        AA_API,
        "release in the future",
        lambda: json_set(AA_API, _aa("release_date", "2099-01-01")),
        ("release_date", "future"),
    ),
    Defect(
        AA_API,
        "missing slug",
        lambda: json_set(AA_API, _aa("slug", KeyError)),
        ("'slug'", "missing"),
    ),
    Defect(AA_TYPES, "header only", lambda: csv_header_only(AA_TYPES), ("no data rows",)),
    Defect(
        AA_TYPES, "unknown type", lambda: csv_set(AA_TYPES, "type", "Sort of open"), ("'type'",)
    ),
    # Epoch
    Defect(
        EPOCH_RUNS,
        "score as text",
        lambda: csv_set(EPOCH_RUNS, "Best score (across scorers)", "abc"),
        ("Best score", TEXT),
    ),
    Defect(
        EPOCH_RUNS,
        "score inf",
        lambda: csv_set(EPOCH_RUNS, "Best score (across scorers)", "inf"),
        ("Best score", INF),
    ),
    Defect(
        EPOCH_RUNS,
        "score above 1",
        lambda: csv_set(EPOCH_RUNS, "Best score (across scorers)", "1.5"),
        ("Best score", OUT),
    ),
    Defect(
        EPOCH_RUNS,
        "negative score",
        lambda: csv_set(EPOCH_RUNS, "Best score (across scorers)", "-0.1"),
        ("Best score", OUT),
    ),
    Defect(
        EPOCH_RUNS,
        "run in the future",
        lambda: csv_set(EPOCH_RUNS, "started_at", "01 January 2099 10:00AM"),
        ("started_at", "future"),
    ),
    Defect(
        EPOCH_RUNS,
        "renamed task column",
        lambda: csv_rename(EPOCH_RUNS, "task"),
        ("'task'", "missing column"),
    ),
    Defect(EPOCH_RUNS, "header only", lambda: csv_header_only(EPOCH_RUNS), ("no data rows",)),
    Defect(
        EPOCH_VERSIONS,
        "release year 1",
        lambda: csv_set(EPOCH_VERSIONS, "Version release date", "0001-01-01"),
        ("Version release date",),
    ),
    Defect(
        EPOCH_EXT,
        "accuracy as text",
        lambda: csv_set(EPOCH_EXT, "Accuracy", "most"),
        ("'Accuracy'", TEXT),
    ),
    Defect(
        EPOCH_EXT,
        "accuracy 150%",
        lambda: csv_set(EPOCH_EXT, "Accuracy", "150%"),
        ("'Accuracy'", OUT),
    ),
    Defect(
        EPOCH_ECI,
        "ECI as text",
        lambda: csv_set(EPOCH_ECI, "ECI Score", "abc"),
        ("'ECI Score'", TEXT),
    ),
    Defect(
        EPOCH_ECI,
        "ECI negative",
        lambda: csv_set(EPOCH_ECI, "ECI Score", "-5"),
        ("'ECI Score'", OUT),
    ),
    Defect(
        EPOCH_DB,
        "parameters as text",
        lambda: csv_set(EPOCH_DB, "Parameters", "many", "first"),
        ("'Parameters'", TEXT),
    ),
    Defect(
        EPOCH_DB,
        "publication year 1",
        lambda: csv_set(EPOCH_DB, "Publication date", "0001-01-01", "first"),
        ("'Publication date'",),
    ),
    Defect(
        EPOCH_METR,
        "horizon as text",
        lambda: text_replace(EPOCH_METR, "estimate: 11.395377", "estimate: eleven"),
        ("p50_horizon_length", "'eleven'"),
    ),
    # llm-stats
    *json_value_defects(LLMSTATS_BENCH, "score", _llmstats_score, "'score'", -1),
    Defect(
        LLMSTATS_BENCH,
        "missing model_id",
        lambda: json_set(LLMSTATS_BENCH, _llmstats_score(KeyError)),
        ("model_id",),
    ),
    Defect(
        LLMSTATS_META,
        "release in the future",
        lambda: text_replace(
            LLMSTATS_META, '"release_date": "2024-05-13"', '"release_date": "2099-05-13"'
        ),
        ("release_date", "future"),
    ),
    Defect(
        LLMSTATS_META,
        "param_count as text",
        lambda: text_replace(LLMSTATS_META, '"param_count": null', '"param_count": "huge"'),
        ("param_count", TEXT),
    ),
    Defect(
        LLMSTATS_CATALOGUE,
        "max_score as text",
        lambda: json_set(LLMSTATS_CATALOGUE, lambda d: d.update(max_score="one")),
        ("max_score", TEXT),
    ),
    # LiveBench
    Defect(
        LB_TABLE,
        "task score as text",
        lambda: csv_set(LB_TABLE, "connections", "abc"),
        ("'connections'", TEXT),
    ),
    Defect(
        LB_TABLE,
        "task score inf",
        lambda: csv_set(LB_TABLE, "connections", "inf"),
        ("'connections'", INF),
    ),
    Defect(
        LB_TABLE,
        "task score 101",
        lambda: csv_set(LB_TABLE, "connections", "101"),
        ("'connections'", OUT),
    ),
    Defect(
        LB_TABLE,
        "negative task score",
        lambda: csv_set(LB_TABLE, "connections", "-3"),
        ("'connections'", OUT),
    ),
    Defect(
        LB_TABLE,
        "renamed model column",
        lambda: csv_rename(LB_TABLE, "model"),
        ("'model'", "missing column"),
    ),
    Defect(LB_CATS, "category is a number", lambda: json_set(LB_CATS, _cats), ()),
    # leaderboards
    Defect(
        WEIRDML, "accuracy as text", lambda: json_set(WEIRDML, _weirdml("high")), ("avg_acc", TEXT)
    ),
    Defect(WEIRDML, "accuracy 1.5", lambda: json_set(WEIRDML, _weirdml(1.5)), ("avg_acc", OUT)),
    Defect(
        WEIRDML, "accuracy 1e999", lambda: json_set(WEIRDML, _weirdml("__INF__")), ("avg_acc", INF)
    ),
    Defect(
        WEIRDML,
        "release in year 1",
        lambda: json_set(WEIRDML, _weirdml_release("0001-01-01")),
        ("release_date", "1900"),
    ),
    Defect(
        WEIRDML,
        "release in the future",
        lambda: json_set(WEIRDML, _weirdml_release("2099-01-01")),
        ("release_date", "future"),
    ),
    Defect(ARC, "score as text", lambda: json_set(ARC, _arc("high")), ("'score'", TEXT)),
    Defect(ARC, "negative score", lambda: json_set(ARC, _arc(-0.5)), ("'score'", OUT)),
    Defect(
        AIDER,
        "pass rate as text",
        lambda: text_replace(AIDER, "pass_rate_2: 35.6", "pass_rate_2: lots"),
        ("pass_rate_2", TEXT),
    ),
    Defect(
        AIDER,
        "pass rate 1e999",
        lambda: text_replace(AIDER, "pass_rate_2: 35.6", "pass_rate_2: .inf"),
        ("pass_rate_2", INF),
    ),
    Defect(SWE, "resolved 101", lambda: json_set(SWE, _swe(101)), ("resolved", OUT)),
    Defect(SWE, "resolved as text", lambda: json_set(SWE, _swe("most")), ("resolved", TEXT)),
    # OpenRouter
    Defect(
        OR_DAILY,
        "tokens as text",
        lambda: csv_set(OR_DAILY, "total_tokens", "many"),
        ("'total_tokens'", TEXT),
    ),
    Defect(
        OR_DAILY,
        "negative tokens",
        lambda: csv_set(OR_DAILY, "total_tokens", "-5"),
        ("'total_tokens'", OUT),
    ),
    Defect(
        OR_DAILY,
        "tokens inf",
        lambda: csv_set(OR_DAILY, "total_tokens", "inf"),
        ("'total_tokens'", INF),
    ),
    Defect(
        OR_DAILY,
        "date in the future",
        lambda: csv_set(OR_DAILY, "date", "2099-01-01"),
        ("'date'", "future"),
    ),
    Defect(
        OR_DAILY,
        "renamed permaslug column",
        lambda: csv_rename(OR_DAILY, "model_permaslug"),
        ("'model_permaslug'", "missing column"),
    ),
    Defect(
        OR_WEEKLY,
        "tokens as text",
        lambda: json_set(OR_WEEKLY, _weekly("total_tokens", "many")),
        ("total_tokens", TEXT),
    ),
    Defect(
        OR_WEEKLY,
        "negative tokens",
        lambda: json_set(OR_WEEKLY, _weekly("total_tokens", -5)),
        ("total_tokens", OUT),
    ),
    Defect(
        OR_CATALOG,
        "price as text",
        lambda: json_set(OR_CATALOG, _or_catalog("cheap")),
        ("prompt", TEXT),
    ),
    Defect(
        OR_CATALOG,
        "created 1e20 seconds",
        lambda: json_set(OR_CATALOG, _or_created(1e20)),
        ("created",),
    ),
    Defect(
        OR_CATALOG,
        "created year 1",
        lambda: json_set(OR_CATALOG, _or_created(-62135596800)),
        ("created",),
    ),
    Defect(OR_PRICES, "price as text", lambda: json_set(OR_PRICES, _or_prices("cheap")), (TEXT,)),
    Defect(OR_PRICES, "price 1e999", lambda: json_set(OR_PRICES, _or_prices("__INF__")), (INF,)),
    Defect(
        OR_YAML,
        "params as text",
        lambda: text_replace(OR_YAML, "params_b: ", "params_b: lots #"),
        ("params_b", TEXT),
    ),
    # Ollama
    Defect(
        OLLAMA,
        "count as text",
        lambda: csv_set(OLLAMA, "pullCount_num", "lots"),
        ("pullCount_num",),
    ),
    Defect(
        OLLAMA, "negative count", lambda: csv_set(OLLAMA, "pullCount_num", "-5"), ("pullCount_num",)
    ),
    Defect(
        OLLAMA, "count inf", lambda: csv_set(OLLAMA, "pullCount_num", "inf"), ("pullCount_num",)
    ),
    Defect(
        OLLAMA,
        "commit in the future",
        lambda: csv_set(OLLAMA, "commit_date", "2099-01-01T00:00:00+00:00"),
        ("commit_date", "future"),
    ),
    Defect(
        OLLAMA,
        "commit in year 1",
        lambda: csv_set(OLLAMA, "commit_date", "0001-01-01T00:00:00+00:00"),
        ("commit_date", "1900"),
    ),
    Defect(
        OLLAMA,
        "commit in year 9999",
        lambda: csv_set(OLLAMA, "commit_date", "9999-12-31T00:00:00+00:00"),
        ("commit_date", "future"),
    ),
    Defect(
        OLLAMA_D3,
        "renamed model column",
        lambda: csv_rename(OLLAMA_D3, "model"),
        ("'model'", "missing column"),
    ),
    # catalogues
    Defect(
        MODELSDEV,
        "commit in the future",
        lambda: csv_set(MODELSDEV, "snapshot_commit_date", "2099-01-01T00:00:00+00:00"),
        ("snapshot_commit_date", "future"),
    ),
    Defect(
        MODELSDEV,
        "commit in year 1",
        lambda: csv_set(MODELSDEV, "snapshot_commit_date", "0001-01-01T00:00:00+00:00"),
        ("snapshot_commit_date", "1900"),
    ),
    Defect(
        MODELSDEV,
        "renamed model_id column",
        lambda: csv_rename(MODELSDEV, "model_id"),
        ("'model_id'", "missing column"),
    ),
    Defect(MODELSDEV, "header only", lambda: csv_header_only(MODELSDEV), ("no data rows",)),
    Defect(
        MODELSDEV_HEAD,
        "release date as text",
        lambda: csv_set(MODELSDEV_HEAD, "release_date", "soon"),
        ("release_date",),
    ),
    Defect(
        LITELLM,
        "price as text",
        lambda: json_set(LITELLM, _litellm("input_cost_per_token", "cheap")),
        ("input_cost_per_token", TEXT),
    ),
    Defect(
        LITELLM,
        "negative price",
        lambda: json_set(LITELLM, _litellm("input_cost_per_token", -1)),
        ("input_cost_per_token", OUT),
    ),
    Defect(
        LITELLM,
        "price 1e999",
        lambda: json_set(LITELLM, _litellm("output_cost_per_token", "__INF__")),
        ("output_cost_per_token", INF),
    ),
    Defect(
        LITELLM_SEEN,
        "first seen in the future",
        lambda: csv_set(LITELLM_SEEN, "first_seen", "2099-01-01T00:00:00+00:00"),
        ("first_seen", "future"),
    ),
    Defect(
        PYDANTIC,
        "price as text",
        lambda: json_set(PYDANTIC, _pydantic("cheap")),
        ("input_mtok", TEXT),
    ),
    Defect(SIMONW, "price as text", lambda: json_set(SIMONW, _simonw("cheap")), ("input", TEXT)),
    Defect(SIMONW, "negative price", lambda: json_set(SIMONW, _simonw(-2)), ("input", OUT)),
]


@pytest.mark.parametrize(
    "defect",
    [pytest.param(d, id=f"{_reader_name(d.rel)}:{Path(d.rel).name}:{d.what}") for d in DEFECTS],
)
def test_file_specific_defect(tmp_path: Path, defect: Defect) -> None:
    made = defect.make()
    data, line = made if isinstance(made, tuple) else (made, None)
    msg = expect_source_error(tmp_path, defect.rel, data, *defect.expect)
    if (
        line is not None
        and defect.rel.endswith(".csv")
        and "column" in msg
        and defect.rel != NAKASYOU
    ):
        assert f"row {line}" in msg, f"row {line} not named: {msg}"


# --------------------------------------------------------------------------- data build


def _tree_digest(d: Path) -> dict[str, str]:
    return {
        str(p.relative_to(d)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(d.rglob("*"))
        if p.is_file()
    }


def _cli(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess:
    e = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    e.update(OMP_NUM_THREADS="1", **env)
    return subprocess.run(
        [sys.executable, "-m", "divergence", *args],
        cwd=cwd,
        env=e,
        capture_output=True,
        text=True,
        timeout=600,
    )


def _error_lines(stderr: str) -> list[str]:
    return [ln for ln in stderr.splitlines() if ln.startswith("error:")]


@pytest.fixture()
def snapshot_copy(tmp_path: Path) -> Path:
    out = tmp_path / "data" / "snapshot"
    shutil.copytree(SNAPSHOT, out)
    return out


def test_data_build_on_malformed_raw_keeps_previous_snapshot(
    tmp_path: Path, snapshot_copy: Path
) -> None:
    before = _tree_digest(snapshot_copy)
    bad = make_raw(tmp_path, CATALOG_TEXT, json_set(CATALOG_TEXT, _arena_rating("high")), full=True)
    res = _cli(
        ["data", "build", "--raw", str(tmp_path / "raw"), "--out", str(snapshot_copy)], tmp_path
    )
    assert res.returncode == 2, res.stderr[-2000:]
    assert "Traceback" not in res.stderr
    errors = _error_lines(res.stderr)
    assert len(errors) == 1, res.stderr
    assert str(bad) in errors[0] and "'rating'" in errors[0] and "non-numeric" in errors[0]
    assert _tree_digest(snapshot_copy) == before
    assert sorted(p.name for p in snapshot_copy.parent.iterdir()) == ["snapshot"]  # no temp left

    res = _cli(
        ["--debug", "data", "build", "--raw", str(tmp_path / "raw"), "--out", str(snapshot_copy)],
        tmp_path,
    )
    assert res.returncode != 0 and "Traceback" in res.stderr and "SourceError" in res.stderr
    assert _tree_digest(snapshot_copy) == before


def test_data_build_late_reader_failure_in_process(
    tmp_path: Path, snapshot_copy: Path, capsys
) -> None:
    from divergence.cli import main

    before = _tree_digest(snapshot_copy)
    data, line = csv_set(OLLAMA, "pullCount_num", "-5")
    bad = make_raw(tmp_path, OLLAMA, data, full=True)
    assert main(["data", "build", "--raw", str(tmp_path / "raw"), "--out", str(snapshot_copy)]) == 2
    errors = _error_lines(capsys.readouterr().err)
    assert len(errors) == 1 and str(bad) in errors[0] and f"row {line}" in errors[0]
    assert _tree_digest(snapshot_copy) == before


def test_data_build_missing_raw_dir(tmp_path: Path, capsys) -> None:
    from divergence.cli import main

    out = tmp_path / "snap"
    assert main(["data", "build", "--raw", str(tmp_path / "nope"), "--out", str(out)]) == 2
    errors = _error_lines(capsys.readouterr().err)
    assert len(errors) == 1 and "nope" in errors[0]
    assert not out.exists()


# --------------------------------------------------------------------------- predictor


@pytest.fixture(scope="module")
def model_dir(predictor_dir: Path) -> Path:
    """The session's trained model as an exported directory (conftest ``predictor_dir``)."""
    return predictor_dir


@pytest.fixture(scope="module")
def predictor(model_dir: Path):
    from divergence.predictor import load_predictor

    return load_predictor(model_dir)


PREDICT_CASES = {  # corpus file -> fragments of the one error line
    "unknown_column.csv": ("'not_a_feature'", "unknown"),
    "text_in_numeric.csv": ("'aa.gpqa'", "row 2", "non-numeric"),
    "empty.csv": ("empty file",),
    "header_only.csv": ("no data rows",),
    "inf.csv": ("'aa.mmlu_pro'", "row 2", "infinite"),
    "negative_inf.csv": ("'aa.gpqa'", "row 1", "infinite"),
    "huge_value.csv": ("'adopt.openrouter_tokens_weekly_90d'", "row 1", "out of range"),
    "latin1.csv": ("not valid UTF-8",),
    "utf16.csv": ("not valid UTF-8",),
    "duplicate_column.csv": ("'aa.gpqa'", "duplicate"),
    "ragged.csv": ("malformed CSV",),
}


@pytest.mark.parametrize("name", sorted(PREDICT_CASES))
def test_predict_cli_bad_input(name: str, model_dir: Path, tmp_path: Path, capsys) -> None:
    from divergence.cli import main

    src = CORPUS / "predict" / name
    out = tmp_path / "pred.csv"
    rc = main(["predict", "--input", str(src), "--output", str(out), "--model-uri", str(model_dir)])
    err = capsys.readouterr().err
    assert rc == 2, err
    errors = _error_lines(err)
    assert len(errors) == 1, err
    assert str(src) in errors[0], errors[0]
    for frag in PREDICT_CASES[name]:
        assert frag in errors[0], errors[0]
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []


def test_predict_cli_subprocess_exit_code_and_previous_output(
    model_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "pred.csv"
    out.write_text("previous,content\n")
    src = CORPUS / "predict" / "text_in_numeric.csv"
    res = _cli(
        ["predict", "--input", str(src), "--output", str(out), "--model-uri", str(model_dir)],
        tmp_path,
    )
    assert res.returncode == 2
    assert "Traceback" not in res.stderr
    assert len(_error_lines(res.stderr)) == 1 and str(src) in res.stderr
    assert out.read_text() == "previous,content\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pred.csv"]
    res = _cli(
        [
            "--debug",
            "predict",
            "--input",
            str(src),
            "--output",
            str(out),
            "--model-uri",
            str(model_dir),
        ],
        tmp_path,
    )
    assert res.returncode != 0 and "Traceback" in res.stderr


def test_predict_cli_good_input_still_works(model_dir: Path, tmp_path: Path, capsys) -> None:
    from divergence.cli import main

    src = tmp_path / "ok.csv"
    src.write_text("model_id,aa.gpqa,aa.mmlu_pro\nm1,0.6,0.7\nm2,,0.5\n")
    out = tmp_path / "pred.csv"
    assert (
        main(["predict", "--input", str(src), "--output", str(out), "--model-uri", str(model_dir)])
        == 0
    )
    df = pd.read_csv(out)
    assert len(df) == 2 and df["predicted_utility"].notna().all()


def test_predict_cli_output_dash_is_stdout(model_dir: Path, tmp_path: Path, capsys) -> None:
    from divergence.cli import main

    src = tmp_path / "ok.csv"
    src.write_text("model_id,aa.gpqa,aa.mmlu_pro\nm1,0.6,0.7\nm2,,0.5\n")
    args = ["predict", "--input", str(src), "--output", "-", "--model-uri", str(model_dir)]
    assert main(args) == 0
    cap = capsys.readouterr()
    df = pd.read_csv(io.StringIO(cap.out))
    assert df["query"].tolist() == ["m1", "m2"] and df["predicted_utility"].notna().all()
    assert "wrote 2 rows to -" in cap.err
    assert not (Path.cwd() / "-").exists()
    # a failure on the last rows writes nothing to stdout either
    src.write_text("model_id,aa.gpqa\nm1,0.6\nm2,abc\n")
    assert main(args) != 0
    cap = capsys.readouterr()
    assert cap.out == "" and "aa.gpqa" in cap.err


def _frame(predictor, **cols: object) -> pd.DataFrame:
    base = {c: [np.nan] for c in predictor.input_columns[:3]}
    base.update({k: [v] for k, v in cols.items()})
    return pd.DataFrame(base)


@pytest.mark.parametrize(
    ("make", "fragments"),
    [
        (lambda p: _frame(p, not_a_feature=1.0), ("'not_a_feature'", "unknown")),
        (lambda p: _frame(p, **{"aa.gpqa": "high"}), ("'aa.gpqa'", "row 1", "non-numeric")),
        (lambda p: _frame(p, **{"aa.gpqa": np.inf}), ("'aa.gpqa'", "row 1", "infinite")),
        (lambda p: _frame(p, **{"aa.gpqa": -np.inf}), ("'aa.gpqa'", "row 1", "infinite")),
        (lambda p: _frame(p, **{"aa.gpqa": 1e308}), ("'aa.gpqa'", "row 1", "out of range")),
        (
            lambda p: _frame(p, **{"aa.gpqa": pd.Timestamp("2025-01-01")}),
            ("'aa.gpqa'", "row 1", "non-numeric"),
        ),
        (lambda p: _frame(p, **{"aa.gpqa": [1, 2]}), ("'aa.gpqa'", "row 1", "non-numeric")),
        (
            lambda p: pd.DataFrame([[0.5, 0.6]], columns=["aa.gpqa", "aa.gpqa"]),
            ("'aa.gpqa'", "duplicate"),
        ),
        (lambda p: "aa.gpqa=0.5", ("DataFrame",)),
        (lambda p: pd.DataFrame({0: [1.0]}), ("0", "unknown")),
    ],
    ids=[
        "unknown-column",
        "text",
        "inf",
        "minus-inf",
        "huge",
        "timestamp",
        "list",
        "duplicate-column",
        "not-a-frame",
        "integer-column-name",
    ],
)
def test_python_predictor_bad_frame(predictor, make, fragments) -> None:
    with pytest.raises(DivergenceError) as info:
        predictor.predict(make(predictor))
    msg = str(info.value)
    assert "\n" not in msg
    for frag in fragments:
        assert frag in msg, msg


def test_python_predictor_lookup_bad_queries(predictor) -> None:
    from divergence.errors import UnknownModelError

    out = predictor.predict_models(["no-such-model-xyz", "", None])  # type: ignore[list-item]
    assert list(out["status"]) == ["unknown"] * 3
    with pytest.raises(UnknownModelError) as info:
        predictor.predict_models(["no-such-model-xyz"], strict=True)
    assert "no-such-model-xyz" in str(info.value) and "\n" not in str(info.value)


def test_python_predictor_empty_and_all_missing(predictor) -> None:
    assert predictor.predict(pd.DataFrame(columns=["aa.gpqa"])).empty
    out = predictor.predict(pd.DataFrame({"aa.gpqa": [np.nan]}))
    assert np.isfinite(out.to_numpy()).all()


# --------------------------------------------------------------------------- safe loading

PICKLE_SUFFIXES = {".pkl", ".pickle", ".joblib", ".cloudpickle", ".pt", ".pth", ".sav"}


def _looks_pickled(path: Path) -> bool:
    head = path.read_bytes()[:2]
    return len(head) == 2 and head[0] == 0x80 and head[1] in range(2, 6)  # pickle protocols 2-5


class _Exploit:
    """Unpickling this runs code: creates a file next to the pickle."""

    def __init__(self, flag: Path) -> None:
        self.flag = flag

    def __reduce__(self):
        return (Path.touch, (self.flag,))


@pytest.mark.parametrize(
    "make", ["empty", "pickle-only", "garbage-json", "garbage-booster", "file"]
)
def test_load_predictor_refuses_non_model_directory(
    tmp_path: Path, make: str, predictor_dir: Path
) -> None:
    import pickle

    from divergence.predictor import load_predictor

    d = tmp_path / "model"
    flag = tmp_path / "pwned"
    if make == "file":
        d.write_text("not a directory")
    elif make == "empty":
        d.mkdir()
    elif make == "pickle-only":
        d.mkdir()
        (d / "model.pkl").write_bytes(pickle.dumps(_Exploit(flag)))
        (d / "main.pkl").write_bytes(pickle.dumps(_Exploit(flag)))
    else:
        shutil.copytree(predictor_dir / "predictor", d)
        if make == "garbage-json":
            (d / "main.json").write_text('{"params": ')
        else:
            (d / "main.ubj").write_bytes(pickle.dumps(_Exploit(flag)))
    with pytest.raises(DivergenceError) as info:
        load_predictor(d)
    msg = str(info.value)
    assert "\n" not in msg and str(d) in msg
    assert not flag.exists(), "something was unpickled"


@pytest.mark.parametrize(
    "uri",
    [
        "runs:/0123456789abcdef/model",
        "https://example.com/model",
        "s3://bucket/model",
        "file:///etc",
        "models:/no-such-model@champion",
    ],
)
def test_load_predictor_refuses_other_locations(uri: str, trained) -> None:
    from divergence.predictor import load_predictor

    with pytest.raises(DivergenceError) as info:
        load_predictor(uri, tracking_uri=trained["tracking_uri"])
    assert "\n" not in str(info.value) and uri in str(info.value)


def test_registered_model_artifacts_hold_no_pickle(trained, tmp_path: Path) -> None:
    import mlflow

    mlflow.set_tracking_uri(trained["tracking_uri"])
    local = Path(
        mlflow.artifacts.download_artifacts(
            artifact_uri=trained["model_uri"], dst_path=str(tmp_path)
        )
    )
    files = [p for p in local.rglob("*") if p.is_file()]
    assert any(p.name == "main.ubj" for p in files) and any(p.name == "MLmodel" for p in files)
    assert [p for p in files if p.suffix in PICKLE_SUFFIXES or _looks_pickled(p)] == []
    import yaml

    flavor = yaml.safe_load((local / "MLmodel").read_text())["flavors"]["python_function"]
    assert flavor["loader_module"] == "mlflow.pyfunc.loaders.code_model"  # models from code
    assert "python_model" not in flavor  # no cloudpickled PythonModel instance


# Behavioural replacements of the former import scan and documentation check (a crafted
# directory that would run code if unpickled; the bind address of a started server):
# tests/test_security.py
