"""Cut the committed test slices ``tests/data/raw/`` from the full public raw tree.

Usage::

    python scripts/cut_test_slices.py [--raw ../shared/data/raw] [--out tests/data/raw]
        [--refresh-names [--snapshot data/snapshot]]

How a slice is taken (deterministic; rerun to refresh):

1. **Which files.** The files the source readers open when they read the full tree (traced
   with an ``open`` audit hook around :func:`divergence.dataset.run_readers`), plus each source
   folder's upstream ``LICENSE*`` file. In a folder holding many dated versions of one file,
   at most ``MAX_VERSIONS`` are kept: the first, the last, the versions named in
   ``KEEP_FILES`` (tests refer to them) and evenly spaced ones between. llm-stats keeps the
   model folders of the chosen models, their ``organization.json`` and the benchmark
   catalogue entries those models use. In the weekly scrape folders (one small file per
   board and day) only the files in ``ONLY_FILES`` are kept.
2. **Which rows.** Only the rows about :data:`MODELS` (a few dozen models: old and new,
   open and closed, reasoning and non-reasoning variants, six released after the arena's
   2026-03-31 cut-off). A row is about a model when one of its text cells, normalised (lower
   case, only ``a-z0-9``; for a ``Key: value`` tag its value), equals one of the model's
   aliases in the snapshot's ``aliases.csv.gz`` (every spelling the identity resolver has seen
   for it) or its display name, or one of :data:`EXTRA_NAMES`. These spellings are committed in
   ``tests/data/slice_names.txt``, so a rerun reproduces the slices byte for byte although the
   identity rules (and so the aliases) move; ``--refresh-names`` derives them again from
   ``--snapshot`` (a name of MODELS that is no longer an id counts by the ids its alias maps to).
   Files under ``WHOLE_BELOW`` bytes are copied whole. CSV: the first ``HEAD_ROWS`` data rows
   and the matching rows (wide ``result.csv``: the matching columns; project-soothsayer's copy
   of the AA API table: the rows whose record ``id`` is in the sliced API pull, as the reader
   matches them). JSON/YAML: in a collection (a list of records, or a dict whose values are all
   records), the first record and the matching ones; a dict keyed by model names keeps the
   matching keys; everything else (metadata, task lists) is kept. Tests that corrupt a real
   file thus find its first rows and the chosen models in it.
3. **Values are never changed** (only the unread fields in ``DROP_KEYS`` are left out): CSV
   cells are copied as text, JSON/YAML values as parsed. JSON keeps the upstream indentation
   style; YAML is re-dumped (comments dropped).

Sources, upstream repositories and licenses: ``tests/data/raw/SOURCES.md``.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import re
import shutil
import sys
from collections import defaultdict
from pathlib import Path

import pandas as pd
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

MAX_VERSIONS = 3
WHOLE_BELOW = 20_000  # bytes: smaller files are copied whole
HEAD_ROWS = 5  # the first data rows of every table are kept (tests corrupt early rows)

# Canonical ids (``data/snapshot/models.csv.gz``) of the models the slices keep.
MODELS = [
    # OpenAI: the anchor, old and new, reasoning and not
    "gpt-4-0314",
    "gpt-3.5-turbo-0125",
    "gpt-4o-2024-05-13",
    "gpt-4o-mini-2024-07-18",
    "gpt-4.1-2025-04-14",
    "o1-2024-12-17",
    "o3-2025-04-16",
    "gpt-5",
    "gpt-5-high",
    "gpt-oss-120b",
    # Anthropic, with thinking variants
    "claude-3-5-sonnet-20240620",
    "claude-3-5-sonnet-20241022",
    "claude-3-5-haiku-20241022",
    "claude-3-7-sonnet-20250219",
    "claude-3-7-sonnet-20250219-thinking-32k",
    "claude-opus-4-1-20250805",
    "claude-opus-4-1-20250805-thinking-16k",
    "claude-sonnet-4-5-20250929",
    "claude-opus-4-6",
    # Google
    "gemini-2.0-flash-001",
    "gemini-2.5-flash",
    "gemini-2.5-pro",
    "gemini-3-pro",
    "gemma-3-27b-it",
    # open weights
    "deepseek-v3",
    "deepseek-r1",
    "deepseek-v3.2",
    "llama-3.1-8b-instruct",
    "llama-3.3-70b-instruct",
    "llama-3.1-nemotron-70b-instruct",
    "qwen2.5-72b-instruct",
    "qwen3-235b-a22b-instruct-2507",
    "qwen3-235b-a22b-thinking-2507",
    "glm-4.5",
    "mistral-large-2411",
    "jamba-1.5-large",
    "vicuna-13b",
    "grok-4-0709",
    # released after 2026-03-31: features, no arena rating
    "glm-5-1",
    "claude-opus-4-7",
    "kimi-k2-6",
    "gpt-5-5",
    "deepseek-v4-pro",
]
# Raw names tests refer to that are not (or not only) aliases of MODELS.
EXTRA_NAMES = [
    "claude-mythos-2026-04-07",
    "gpt-5-5-high",
    "gpt-5.1_medium",
    "o3_inspect",
    "claude_3_7_sonnet_inspect",
    "qwen2.5-vl-7b",
    "openrouter/auto",
    "other",
    "GPT-4",
    "Llama-2-70b-hf",
    "gemini-2.5-pro-preview-06-05",
]
# Dated versions always kept (tests name them).
KEEP_FILES = {
    "leaderboard-data_2025-01-28_d15d54c77.json",
    "leaderboard-data_2025-02-06_52fbb4ec6.json",
    "leaderboard-text-style-control_2025-05-21_6dddc5f35.json",
    "leaderboard-text_2026-03-27_34a1804.json",
    "leaderboard-text-style-control_2026-03-27_34a1804.json",
    "lmsys_2024.06.19.csv",
    "lmarena_text_2025.08.04.csv",
    "leaderboard_table_20250511.csv",
    "2025-11-16.json",
    "openrouter_2025-10-02.json",
    "2025-08-30_litellm_model_prices_and_context_window.json",
    "2025-06-23_data.json",
    "2025-07-31_data.json",
    "2026-01-04.json",
    "2024-05-14_model_prices.json",
}
# Folders whose every traced file is kept (readers pair or require them all).
ALL_VERSIONS = (
    "benchmarks/livebench",
    "benchmarks/epoch-benchmark-stitching",
    "adoption/simonw-llm-prices",
    "arena/fboulnois-llm-leaderboard-csv/lmarena_latest",
)
# Folders of many small files (copied whole) where only the files listed are kept.
SCRAPES = "benchmarks/tennisatw-weekly-aa-scrapes"
ONLY_FILES = {
    # one folder per scrape day, one CSV per board: one board on two days (a ``2025/`` day and a
    # top-level one) exercises the folder-date and board rules
    SCRAPES: {
        f"{SCRAPES}/2025/25-08-17/leaderboards/leaderboard_gpqadiamond.csv",
        f"{SCRAPES}/26-03-01/leaderboards/leaderboard_gpqadiamond.csv",
    },
}
# project-soothsayer's copies of the Artificial Analysis API table are matched to the API pull by
# record id: keep the rows whose id is in the sliced pull (cut before them: paths sort earlier).
AA_API = "benchmarks/artificial-analysis/aa_api_live.json"
SOOTHSAYER_AA = "benchmarks/project-soothsayer/benchmarks/artificialanalysis_"
# Keys kept in model-keyed dicts although they are not model names.
KEEP_KEYS = {"sample_spec"}
# Bulky fields no reader reads (SWE-bench: per-instance results, ~1 MB), dropped everywhere.
DROP_KEYS = {"per_instance_details"}
LLMSTATS = "benchmarks/llm-stats/data"
# The selection: normalised spellings of MODELS and EXTRA_NAMES (see the module docstring),
# committed so that a rerun reproduces the slices although the snapshot's aliases move.
NAMES = REPO / "tests" / "data" / "slice_names.txt"


def norm(s: str) -> str:
    return re.sub(r"[^a-z0-9]+", "", s.lower())


def model_ids(aliases: pd.DataFrame, models: pd.DataFrame) -> set[str]:
    """Snapshot ids of :data:`MODELS`: the id itself, else the ids a raw alias of that name maps to.

    The identity resolver's canonical ids move when its rules change (a raw ``gpt-5-5`` may become
    ``gpt-5-5-xhigh``); a name that is neither an id nor an alias stops the cut.
    """
    known = set(models["model_id"])
    by_alias = aliases.groupby("alias")["model_id"].agg(set).to_dict()
    ids: set[str] = set()
    missing = []
    for m in MODELS:
        found = {m} if m in known else by_alias.get(m, set())
        if not found:
            missing.append(m)
        ids |= found
    if missing:
        raise SystemExit(f"neither a model id nor an alias in data/snapshot: {missing}")
    return ids


def names(snapshot: Path) -> set[str]:
    """Normalised spellings of the chosen models (aliases, display names, extras) in ``snapshot``."""
    aliases = pd.read_csv(snapshot / "aliases.csv.gz", dtype=str)
    models = pd.read_csv(snapshot / "models.csv.gz", dtype=str)
    ids = model_ids(aliases, models)
    out = set(aliases.loc[aliases["model_id"].isin(ids), "alias"])
    out |= set(models.loc[models["model_id"].isin(ids), "display_name"].dropna())
    out |= set(MODELS) | set(EXTRA_NAMES)
    return {norm(s) for s in out if norm(s)}


def read_names(path: Path) -> set[str]:
    """The committed selection (one normalised spelling a line)."""
    if not path.is_file():
        raise SystemExit(f"{path}: missing; run with --refresh-names to derive it from a snapshot")
    return {line for line in path.read_text(encoding="utf-8").splitlines() if line}


def traced_files(raw: Path) -> list[Path]:
    """Files the readers open on the full tree."""
    from divergence.dataset import run_readers

    seen: set[str] = set()
    root = str(raw.resolve())

    def hook(event: str, args: tuple) -> None:
        if event == "open" and isinstance(args[0], str | Path) and str(args[0]).startswith(root):
            seen.add(str(args[0]))

    sys.addaudithook(hook)
    run_readers(raw.resolve())
    return sorted(Path(p).relative_to(root) for p in seen if Path(p).is_file())


def pick_versions(rels: list[Path]) -> list[Path]:
    """At most MAX_VERSIONS dated versions of a file: first, last, KEEP_FILES, evenly spaced.

    Dated versions are the files of one folder whose names differ only in digits.
    """
    groups: dict[tuple[Path, str], list[Path]] = defaultdict(list)
    for r in rels:
        groups[(r.parent, re.sub(r"[0-9a-f]{7,}|\d", "", r.name))].append(r)
    out: list[Path] = []
    for (d, _), files in groups.items():
        files = sorted(files)
        only = next((v for k, v in ONLY_FILES.items() if str(d).startswith(k + "/")), None)
        if only is not None:
            out += [f for f in files if str(f) in only]
            continue
        if str(d).startswith(ALL_VERSIONS) or len(files) <= MAX_VERSIONS:
            out += files
            continue
        keep = {files[0], files[-1]} | {f for f in files if f.name in KEEP_FILES}
        k = len(files) - 1
        for i in range(1, MAX_VERSIONS):
            if len(keep) >= MAX_VERSIONS:
                break
            keep.add(files[round(i * k / MAX_VERSIONS)])
        out += sorted(keep)
    return out


# ------------------------------------------------------------------ filters


def _hit(x: object, wanted: set[str]) -> bool:
    """``x`` names a wanted model (also as the value of a ``"Key: value"`` tag)."""
    if not isinstance(x, str):
        return False
    return norm(x) in wanted or (":" in x and norm(x.split(":", 1)[1]) in wanted)


def _shallow_hit(rec: dict, wanted: set[str]) -> bool:
    """A text field (or a text in a list field) of ``rec`` names a wanted model."""
    return any(
        _hit(v, wanted) or (isinstance(v, list) and any(_hit(t, wanted) for t in v))
        for v in rec.values()
    )


def cut(x: object, wanted: set[str]) -> tuple[object, bool]:
    """Filtered ``x`` and whether it is about a wanted model."""
    if isinstance(x, list):
        if not x or not all(isinstance(v, dict) for v in x):
            return x, False
        kept, any_hit = [], False
        for i, rec in enumerate(x):
            if _shallow_hit(rec, wanted):
                kept.append(rec)
                any_hit = True
                continue
            sub, hit = cut(rec, wanted)
            if hit or i == 0:
                kept.append(sub)
            any_hit |= hit
        return kept, any_hit
    if isinstance(x, dict):
        if any(_hit(k, wanted) for k in x):  # keyed by model name
            return {k: v for k, v in x.items() if _hit(k, wanted) or k in KEEP_KEYS}, True
        records = len(x) >= 3 and all(isinstance(v, dict) for v in x.values())
        out: dict = {}
        hits: dict = {}
        for k, v in x.items():
            if isinstance(v, dict) and records and _shallow_hit(v, wanted):
                out[k], hits[k] = v, True
            elif isinstance(v, dict | list):
                out[k], hits[k] = cut(v, wanted)
            else:
                out[k], hits[k] = v, False
        any_hit = any(hits.values())
        if records:  # a collection of records: keep the matching ones (or the first)
            first = next(iter(x))
            keys = [k for k in x if hits[k] or k == first]
            out = {k: out[k] for k in keys}
        return out, any_hit
    return x, False


def _drop(x: object) -> object:
    if isinstance(x, dict):
        return {k: _drop(v) for k, v in x.items() if k not in DROP_KEYS}
    if isinstance(x, list):
        return [_drop(v) for v in x]
    return x


def cut_csv(data: bytes, wanted: set[str], wide: bool, ids: set[str] | None = None) -> bytes:
    """CSV slice: the first rows and the matching ones (``wide``: columns; ``ids``: by ``id``)."""
    bom = "\ufeff" if data.startswith(b"\xef\xbb\xbf") else ""
    text = data.decode("utf-8-sig")
    eol = "\r\n" if "\r\n" in text[:10000] else "\n"
    rows = list(csv.reader(io.StringIO(text, newline="")))
    if ids is not None:  # rows of the records kept in another slice
        j = rows[0].index("id")
        rows = rows[:1] + [r for r in rows[1:] if r[j] in ids]
    elif wide:  # model names are columns
        cols = [0] + [j for j, h in enumerate(rows[0]) if j and _hit(h, wanted)]
        rows = [[r[j] for j in cols] for r in rows]
    else:
        body = [
            r for i, r in enumerate(rows[1:]) if i < HEAD_ROWS or any(_hit(c, wanted) for c in r)
        ]
        rows = rows[:1] + body
    buf = io.StringIO()
    csv.writer(buf, lineterminator=eol).writerows(rows)
    return (bom + buf.getvalue()).encode("utf-8")


def cut_json(data: bytes, wanted: set[str]) -> bytes:
    bom = data.startswith(b"\xef\xbb\xbf")
    text = data.decode("utf-8-sig")
    doc, _ = cut(_drop(json.loads(text)), wanted)
    m = re.match(r"[\[{]\s*\n( +)", text)
    out = json.dumps(doc, indent=len(m.group(1)) if m else None, ensure_ascii=False)
    return ("\ufeff" if bom else "").encode() + (
        out + ("\n" if text.endswith("\n") else "")
    ).encode()


def cut_yaml(data: bytes, wanted: set[str]) -> bytes:
    doc, _ = cut(yaml.safe_load(data.decode("utf-8-sig")), wanted)
    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=1000).encode()


def llm_stats_files(raw: Path, wanted: set[str]) -> list[Path]:
    """Model folders of the chosen models, their organisations and benchmark catalogue."""
    base = raw / LLMSTATS
    out: list[Path] = []
    used: set[str] = set()
    for model in sorted((base / "organizations").glob("*/models/*")):
        if not _hit(model.name, wanted):
            continue
        out += sorted(p for p in model.iterdir() if p.is_file())
        out.append(model.parents[1] / "organization.json")
        bench = model / "benchmarks.json"
        if bench.is_file():
            used |= {r["benchmark_id"] for r in json.loads(bench.read_text(encoding="utf-8"))}
    used.add("gpqa")
    out += [p for p in sorted((base / "benchmarks").glob("*.json")) if p.stem in used]
    return sorted({p.relative_to(raw) for p in out})


def sources_md(sources: list[dict[str, str]], out: Path) -> str:
    """Attribution table of the slices: upstream, license, what was kept."""
    lines = [
        "# Test slices of the public raw data",
        "",
        "Small real excerpts of every public source the readers parse, in the layout of",
        "`../shared/data/raw`, cut by `scripts/cut_test_slices.py` (its docstring says how: the",
        f"rows about {len(MODELS)} chosen models, the first {HEAD_ROWS} rows of each table, files",
        f"under {WHOLE_BELOW // 1000} kB whole, at most {MAX_VERSIONS} dated versions of a file).",
        "Values are copied unchanged. Each source keeps its upstream license; the figures belong to",
        "their authors, credited below. Upstream `LICENSE` files are copied where the source has one.",
        "These files are test fixtures, not a data product: do not build features from them.",
        "",
        "| folder | upstream | license | files | kB |",
        "|---|---|---|---|---|",
    ]
    for src in sources:
        folder = out / src["folder"]
        files = [p for p in folder.rglob("*") if p.is_file()] if folder.is_dir() else []
        kb = sum(p.stat().st_size for p in files) / 1000
        lines.append(
            f"| `{src['folder']}` | {src['upstream']} | {src['license']} | {len(files)} | {kb:.0f} |"
        )
    lines += [
        "",
        "Models kept (canonical ids when `tests/data/slice_names.txt`, the spellings that select",
        "the rows, was derived): " + ", ".join(f"`{m}`" for m in MODELS) + ".",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--raw", type=Path, default=REPO.parent / "shared" / "data" / "raw")
    ap.add_argument("--out", type=Path, default=REPO / "tests" / "data" / "raw")
    ap.add_argument(
        "--refresh-names",
        action="store_true",
        help=f"derive the selection from --snapshot and rewrite {NAMES.relative_to(REPO)}",
    )
    ap.add_argument("--snapshot", type=Path, default=REPO / "data" / "snapshot")
    args = ap.parse_args(argv)
    raw, out = args.raw, args.out
    if not raw.is_dir():
        raise SystemExit(f"{raw}: no raw tree (pass --raw)")
    if args.refresh_names:
        wanted = names(args.snapshot)
        NAMES.write_text("".join(f"{n}\n" for n in sorted(wanted)), encoding="utf-8")
    wanted = read_names(NAMES)
    rels = [r for r in traced_files(raw) if not str(r).startswith(LLMSTATS + "/")]
    rels = pick_versions(rels) + llm_stats_files(raw, wanted)
    from divergence.sources import upstreams

    sources = [u.as_dict() for u in upstreams()]
    for src in sources:
        rels += [p.relative_to(raw) for p in sorted((raw / src["folder"]).glob("LICENSE*"))]
    if out.exists():
        shutil.rmtree(out)
    total = 0
    for rel in sorted(set(rels)):
        data = (raw / rel).read_bytes()
        if len(data) < WHOLE_BELOW or "LICENSE" in rel.name or str(rel).startswith(LLMSTATS + "/"):
            sliced = data
        elif str(rel).startswith(SOOTHSAYER_AA):
            api = json.loads((out / AA_API).read_text(encoding="utf-8-sig"))["data"]
            sliced = cut_csv(data, wanted, wide=False, ids={r["id"] for r in api if r.get("id")})
        elif rel.suffix == ".csv":
            sliced = cut_csv(data, wanted, wide=rel.name == "result.csv")
        elif rel.suffix == ".json":
            sliced = cut_json(data, wanted)
        elif rel.suffix in (".yml", ".yaml"):
            sliced = cut_yaml(data, wanted)
        else:
            raise SystemExit(f"{rel}: no slicing rule for this file type")
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        (out / rel).write_bytes(sliced)
        total += len(sliced)
    (out / "SOURCES.md").write_text(sources_md(sources, out), encoding="utf-8")
    print(f"{len(set(rels))} files, {total / 1e6:.2f} MB in {out}")


if __name__ == "__main__":
    main()
