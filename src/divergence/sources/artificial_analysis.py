"""Artificial Analysis: independent benchmark scores, prices and speed (pull of 2026-07-31).

Source
------
``raw/benchmarks/artificial-analysis/`` (Artificial Analysis, artificialanalysis.ai; no
license stated, the Artificial Analysis terms of use apply and require attribution).

``aa_api_live.json``
    JSON object ``{"status", "prompt_options", "data": [...]}``; one record per model
    configuration with ``slug``, ``name``, ``release_date``, ``model_creator{name, slug}``,
    ``evaluations{<key>: score|null}``, ``pricing{price_1m_blended_3_to_1,
    price_1m_input_tokens, price_1m_output_tokens}`` and
    ``median_output_tokens_per_second``. 589 records.
``aa_model_data.json`` / ``aa_model_data.csv``
    Two exports of one table (38 slugs) whose ``type`` is ``"Open weights"`` or
    ``"Proprietary"``; the only open-weights flag Artificial Analysis publishes.
``aa_models_scraped.json``
    A scrape of 99 reasoning models (``is_reasoning`` is true for all of them).

What is kept
------------
- ``benchmarks``: one row per non-null evaluation, benchmark ``"aa:<evaluation key>"``
  (``aa:artificial_analysis_intelligence_index``, ``aa:gpqa``, ``aa:mmlu_pro``, ...),
  source ``"artificial-analysis"``, ``source_model`` = ``slug``, ``as_of`` 2026-07-31,
  ``self_reported`` False (Artificial Analysis runs every evaluation itself). Null
  scores are omitted. Scales are native: the three indices are 0-100, every other
  evaluation a 0-1 fraction.
- ``adoption``: ``price_blended_usd_per_mtok`` (3:1 input:output blend),
  ``price_input_usd_per_mtok``, ``price_output_usd_per_mtok`` and
  ``output_tokens_per_s`` (median), dated 2026-07-31.
- ``meta``: ``display_name`` = ``name``, ``organization`` = ``model_creator.name``,
  ``release_date``, ``open_weights`` from ``aa_model_data`` (None for the other slugs),
  ``reasoning`` from the name (see :func:`reasoning_from_name`), falling back to
  True for slugs listed in ``aa_models_scraped.json``; ``params_b`` is not published.

Known defects handled
---------------------
- A price or speed of exactly 0 means "not measured / not priced" in this API (e.g.
  ``GPT-5.5 Pro (xhigh)`` and ``Grok-1`` have all-zero prices): such values are
  omitted from ``adoption`` instead of being reported as free or infinitely slow.
- Slugs are unique in this pull. Should several records share a slug, each gets
  ``"<slug>--<slugified name>"`` (and ``"<slug>--<record id>"`` if even that
  collides), so ``source_model`` stays unique and deterministic.
- Scale consistency: within one non-index evaluation, values above 1 among 0-1
  fractions are percentages and are divided by 100 (none in this pull).
- Exact duplicate rows are dropped; rows conflicting on the key keep the highest value.

Every malformed input (invalid JSON, missing key, non-numeric or non-finite score, value
out of range, unknown ``type``, the two ``aa_model_data`` exports disagreeing) raises
:class:`~divergence.errors.SourceError` naming the file, key and record.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from divergence.errors import SourceError
from divergence.schema import validate
from divergence.sources._io import (
    as_float,
    file_date,
    files_under,
    numeric_column,
    parse_dates,
    read_csv,
    read_json,
    require_keys,
    text_field,
)
from divergence.sources.base import Source, Upstream

SOURCE = "artificial-analysis"
AS_OF = pd.Timestamp("2026-07-31")
FOLDER = Path("benchmarks") / "artificial-analysis"
SCRAPES = Path("benchmarks") / "tennisatw-weekly-aa-scrapes"
SOOTHSAYER = Path("benchmarks") / "project-soothsayer" / "benchmarks"

_RECORD_KEYS = [
    "slug",
    "name",
    "release_date",
    "model_creator",
    "evaluations",
    "pricing",
    "median_output_tokens_per_second",
]
_PRICE_SIGNALS = {
    "price_1m_blended_3_to_1": "price_blended_usd_per_mtok",
    "price_1m_input_tokens": "price_input_usd_per_mtok",
    "price_1m_output_tokens": "price_output_usd_per_mtok",
}
_SPEED_SIGNAL = "output_tokens_per_s"
_TYPE = {"Open weights": True, "Proprietary": False}

_NON_REASONING = re.compile(r"non[- ]?reasoning", re.IGNORECASE)
_REASONING = re.compile(
    r"\(\s*(?:adaptive\s+)?reasoning\b"  # "(Reasoning)", "(Adaptive Reasoning, Max Effort)"
    r"|\((?:x?high|medium|low|max|minimal)\)"  # effort labels of reasoning models
    r"|\bthink(?:ing|er)?\b"  # "Thinking", "Think", "Thinker", "Deep Think"
    r"|\breasoning\b"  # "Sonar Reasoning", "Jamba Reasoning 3B"
    r"|\bR1\b|\bQwQ\b"  # DeepSeek R1 and its distills/post-trains, Qwen QwQ
    r"|^o[1-9]\b",  # OpenAI o-series
    re.IGNORECASE,
)


def reasoning_from_name(name: str) -> bool | None:
    """Reasoning flag implied by an Artificial Analysis model name.

    Parameters
    ----------
    name : str
        Display name such as ``"gpt-oss-120b (high)"`` or ``"Kimi K2 (Non-reasoning)"``.

    Returns
    -------
    bool or None
        False for "Non-reasoning"; True for "(Reasoning...)", an effort label
        ("(high)", "(xhigh)", "(minimal)", ...), "Think"/"Thinking"/"Thinker",
        "Reasoning", "R1", "QwQ" or an OpenAI o-series name; None otherwise.
    """
    if _NON_REASONING.search(name):
        return False
    if _REASONING.search(name.strip()):
        return True
    return None


def _slugify(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _open_weights(folder: Path) -> dict[str, bool]:
    """Slug -> open weights from ``aa_model_data.json``, cross-checked with the CSV export."""
    jpath = folder / "aa_model_data.json"
    doc = read_json(jpath)
    if not isinstance(doc, dict) or not doc:
        raise SourceError(jpath, "expected a non-empty object keyed by slug")
    out: dict[str, bool] = {}
    for slug, rec in doc.items():
        require_keys(rec, ["type"], jpath, row=repr(slug))
        if rec["type"] not in _TYPE:
            raise SourceError(jpath, f"unknown type {rec['type']!r}", column="type", row=repr(slug))
        out[slug] = _TYPE[rec["type"]]
    cpath = folder / "aa_model_data.csv"
    csv = read_csv(cpath, required=["slug", "type"], dtype=str, keep_default_na=False)
    for pos, (slug, typ) in enumerate(zip(csv["slug"], csv["type"], strict=True)):
        line = pos + 2
        if typ not in _TYPE:
            raise SourceError(cpath, f"unknown type {typ!r}", column="type", row=line)
        if slug in out and out[slug] != _TYPE[typ]:
            raise SourceError(
                cpath, f"type {typ!r} disagrees with aa_model_data.json", column="type", row=line
            )
        out.setdefault(slug, _TYPE[typ])
    return out


def _scraped_reasoning(folder: Path) -> dict[str, bool]:
    """Slug -> ``is_reasoning`` from ``aa_models_scraped.json``."""
    path = folder / "aa_models_scraped.json"
    doc = read_json(path)
    if not isinstance(doc, list):
        raise SourceError(path, f"expected a list, got {type(doc).__name__}")
    out: dict[str, bool] = {}
    for i, rec in enumerate(doc):
        row = f"[{i}]"
        require_keys(rec, ["slug", "is_reasoning"], path, row=row)
        slug = text_field(rec, "slug", path, row)
        if not isinstance(rec["is_reasoning"], bool):
            raise SourceError(
                path,
                f"expected true/false, got {rec['is_reasoning']!r}",
                column="is_reasoning",
                row=row,
            )
        out[slug] = rec["is_reasoning"]
    return out


def _unique_ids(records: list[dict]) -> list[str]:
    """``source_model`` per record: the slug, disambiguated when slugs repeat."""
    slugs = pd.Series([r["slug"] for r in records])
    ids = slugs.copy()
    dup = slugs.duplicated(keep=False)
    if dup.any():
        ids[dup] = [
            f"{r['slug']}--{_slugify(r['name'])}" for r, d in zip(records, dup, strict=True) if d
        ]
        again = ids.duplicated(keep=False)
        ids[again] = [
            f"{r['slug']}--{r.get('id')}" for r, d in zip(records, again, strict=True) if d
        ]
    return ids.tolist()


def _harmonise_fractions(bench: pd.DataFrame) -> pd.DataFrame:
    """Divide stray percentages by 100 inside evaluations that are 0-1 fractions."""
    frac = ~bench["benchmark"].str.contains("index")
    for _name, grp in bench[frac].groupby("benchmark", sort=True):
        big = grp["score"] > 1
        if big.any() and (~big).sum() > big.sum():
            bench.loc[grp.index[big], "score"] = grp.loc[big, "score"] / 100
    return bench


def read(raw: Path) -> dict[str, pd.DataFrame]:
    """Read the Artificial Analysis API pull.

    Parameters
    ----------
    raw : Path
        The ``raw/`` directory of the shared data.

    Returns
    -------
    dict of DataFrame
        ``"benchmarks"``, ``"adoption"`` and ``"meta"``, each matching
        :data:`divergence.schema.READER_SCHEMAS` and sorted by its key columns.
    """
    folder = Path(raw) / FOLDER
    path = folder / "aa_api_live.json"
    doc = read_json(path)
    require_keys(doc, ["data"], path)
    records = doc["data"]
    if not isinstance(records, list) or not records:
        raise SourceError(path, "expected a non-empty list", column="data")
    for i, rec in enumerate(records):
        row = f"data[{i}]"
        require_keys(rec, _RECORD_KEYS, path, row=row)
        text_field(rec, "slug", path, row)
        text_field(rec, "name", path, row)
        text_field(rec, "release_date", path, row, required=False)
        for key in ("model_creator", "evaluations", "pricing"):
            if not isinstance(rec[key], dict):
                raise SourceError(
                    path, f"expected an object, got {type(rec[key]).__name__}", column=key, row=row
                )
        require_keys(rec["model_creator"], ["name"], path, row=row)
        require_keys(rec["pricing"], list(_PRICE_SIGNALS), path, row=row)

    ids = _unique_ids(records)
    open_w = _open_weights(folder)
    scraped = _scraped_reasoning(folder)

    bench_rows: list[tuple[str, str, float]] = []
    adopt_rows: list[tuple[str, str, float]] = []
    meta_rows: list[dict] = []
    for i, (rec, sid) in enumerate(zip(records, ids, strict=True)):
        row = f"data[{i}] ({rec['slug']})"
        for key, value in rec["evaluations"].items():
            score = as_float(value, path, f"evaluations.{key}", row, lo=0.0, hi=100.0)
            if not np.isnan(score):
                bench_rows.append((sid, f"aa:{key}", score))
        for key, signal in _PRICE_SIGNALS.items():
            v = as_float(rec["pricing"][key], path, f"pricing.{key}", row, lo=0.0)
            if v > 0:
                adopt_rows.append((sid, signal, v))
        v = as_float(
            rec["median_output_tokens_per_second"],
            path,
            "median_output_tokens_per_second",
            row,
            lo=0.0,
        )
        if v > 0:
            adopt_rows.append((sid, _SPEED_SIGNAL, v))
        name = rec["name"]
        reasoning = reasoning_from_name(name)
        if reasoning is None:
            reasoning = scraped.get(rec["slug"])
        meta_rows.append(
            {
                "source_model": sid,
                "display_name": name.strip(),
                "organization": text_field(rec["model_creator"], "name", path, row, required=False),
                "release_date": rec["release_date"],
                "open_weights": open_w.get(rec["slug"]),
                "reasoning": reasoning,
                "params_b": np.nan,
            }
        )

    bench = pd.DataFrame(bench_rows, columns=["source_model", "benchmark", "score"])
    bench = _harmonise_fractions(bench)
    bench = bench.assign(source=SOURCE, as_of=AS_OF, self_reported=False)
    dated = pd.concat(
        [_soothsayer(raw, records, ids), _weekly_scrapes(raw, records, ids)], ignore_index=True
    )
    bench = pd.concat([bench, dated.assign(source=SOURCE, self_reported=False)], ignore_index=True)
    bench = _first_of_each_value(bench)
    bench = _dedupe_max(bench, ["source", "source_model", "benchmark", "as_of"], "score")

    adoption = pd.DataFrame(adopt_rows, columns=["source_model", "signal", "value"])
    adoption = adoption.assign(source=SOURCE, date=AS_OF)
    adoption = _dedupe_max(adoption, ["source", "source_model", "signal", "date"], "value")

    meta = pd.DataFrame(meta_rows)
    meta["release_date"] = parse_dates(
        meta["release_date"].astype(object), "release_date", path, row_offset=0
    )
    meta = meta.assign(source=SOURCE).sort_values(["source", "source_model"], kind="mergesort")
    return {
        "benchmarks": validate(bench, "benchmarks", str(path)),
        "adoption": validate(adoption, "adoption", str(path)),
        "meta": validate(meta.reset_index(drop=True), "meta", str(path)),
    }


def _first_of_each_value(bench: pd.DataFrame) -> pd.DataFrame:
    """Per (model, benchmark) keep a dated value only where it differs from the previous one.

    The features use the earliest ``as_of``; repeating an unchanged value every week adds
    rows and no information, while a changed value (an index re-versioned) is kept.
    Values within the scrapes' rounding (0.05 points on an index, 0.0005 on a fraction)
    count as unchanged.
    """
    bench = bench.sort_values(["source_model", "benchmark", "as_of"], kind="mergesort")
    grp = bench.groupby(["source_model", "benchmark"], sort=False)["score"]
    prev = grp.shift(1)
    # the scrapes round to 0.1 percentage point: closer values are the same measurement
    tol = np.where(bench["benchmark"].str.contains("index"), 0.05, 0.0005) + 1e-9
    keep = prev.isna() | ((bench["score"] - prev).abs() > tol)
    return bench[keep].reset_index(drop=True)


def _api_name_keys(records: list[dict], ids: list[str]) -> dict[tuple[str, bool | None], set[str]]:
    """Matching keys of every API record: (squashed name, reasoning flag) -> source ids.

    A key is the lower-cased name with every non-alphanumeric character removed, taken
    with and without the "(Reasoning...)" / "(Non-reasoning...)" label and without the
    word "Instruct" (the weekly scrapes write "GPT-5.3Codex(xhigh) reasoning" for
    ``GPT-5.3 Codex (xhigh)`` and "Llama 3.3 70B" for ``Llama 3.3 Instruct 70B``).
    """
    out: dict[tuple[str, bool | None], set[str]] = {}
    for rec, sid in zip(records, ids, strict=True):
        name = rec["name"].lower()
        flag = reasoning_from_name(rec["name"])
        stripped = _LABEL.sub("", name)
        for variant in {name, stripped, _INSTRUCT.sub("", stripped)}:
            key = _squash(variant)
            out.setdefault((key, bool(flag)), set()).add(sid)
            out.setdefault((key, None), set()).add(sid)
    return out


_LABEL = re.compile(r"\((?:adaptive\s+)?(?:non-)?reasoning[^)]*\)", re.IGNORECASE)
_INSTRUCT = re.compile(r"\binstruct\b", re.IGNORECASE)
_SCRAPE_BOARDS = {  # leaderboard file stem -> API evaluation key (arena boards left out)
    "gpqadiamond": "gpqa",
    "livecodebench": "livecodebench",
    "lcb": "livecodebench",
    "mmlupro": "mmlu_pro",
    "hle": "hle",
    "aime2025": "aime_25",
    "ifbench": "ifbench",
    "aalcr": "lcr",
    "terminalbenchhard": "terminalbench_hard",
    "terminalbench_hard": "terminalbench_hard",
}
_SCRAPE_DIR = re.compile(r"^(\d{2})-(\d{2})-(\d{2})$")


def _squash(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


_YEAR = re.compile(r"\s*'\s*[0-9]{2}\b")  # "(Jan '25)" -> "(Jan)"


def _subsequence(short: str, long: str) -> bool:
    """``short``'s characters appear in ``long`` in order (``llamanemotronultra`` in
    ``llama31nemotronultra253bv1``)."""
    it = iter(long)
    return all(ch in it for ch in short)


def _base(name: str) -> str:
    """Squashed name without parentheses and the words reasoning/instruct (a loose key)."""
    text = re.sub(r"\([^)]*\)", "", name.lower())
    return _squash(re.sub(r"\b(?:reasoning|instruct)\b", "", text))


def _weekly_scrapes(raw: Path, records: list[dict], ids: list[str]) -> pd.DataFrame:
    """Dated scores from ``tennisatw-weekly-aa-scrapes`` (percent -> fraction).

    Folders ``YY-MM-DD/leaderboards/leaderboard_<board>.csv`` (columns ``Name``,
    ``Score``; some under ``2025/``) are scrapes of the Artificial Analysis evaluation
    pages on that day. A scraped name is matched to an API record by its squashed name
    and reasoning flag (a trailing " reasoning"), then by the squashed name alone; names
    matching several records are left out. Two names of one day that map to one
    record with different scores are both left out (no rule can pick one).

    A name matching no record, not even loosely (:func:`_base`: without parentheses,
    "reasoning", "instruct"; nor as a character subsequence of the loose name of a
    record released by its last day), and absent from the last scrape is a model
    Artificial Analysis delisted before the API pull (``Gemma 2 27B``, ``Aya Expanse
    32B``): its scores are kept under the latest spelling of the name as
    ``source_model``. A name still present on the last day is a spelling of a live
    record and is left out.
    """
    folder = Path(raw) / SCRAPES
    if not folder.is_dir():
        return pd.DataFrame(columns=["source_model", "benchmark", "score", "as_of"])
    keys = _api_name_keys(records, ids)
    bases = {_base(r["name"]) for r in records} | {_squash(r["slug"]) for r in records}
    api = [(_base(r["name"]), pd.Timestamp(r["release_date"] or "2000-01-01")) for r in records]
    rows: list[tuple[str, str, float, pd.Timestamp, str]] = []
    # names matching no API record: (squashed name, reasoning) -> rows, spelling by day
    unlisted: dict[tuple[str, bool], list[tuple[str, float, pd.Timestamp]]] = {}
    spelling: dict[tuple[str, bool], tuple[pd.Timestamp, str]] = {}
    latest = pd.Timestamp.min
    for path in files_under(folder, "leaderboard_*.csv"):
        board = path.stem.removeprefix("leaderboard_")
        m = _SCRAPE_DIR.match(path.parent.parent.name)
        if board not in _SCRAPE_BOARDS or m is None:
            continue
        day = pd.Timestamp(f"20{m.group(1)}-{m.group(2)}-{m.group(3)}")
        latest = max(latest, day)
        df = read_csv(path, required=["Name", "Score"], dtype={"Name": str}, keep_default_na=False)
        score = numeric_column(df, "Score", path, lo=0.0, hi=100.0)
        for name, val in zip(df["Name"], score, strict=True):
            if np.isnan(val) or not name.strip():
                continue
            flag = name.endswith(" reasoning")
            key = _squash(name.removesuffix(" reasoning"))
            hit = keys.get((key, flag)) or keys.get((key, None)) or set()
            if len(hit) == 1:
                rows.append((next(iter(hit)), f"aa:{_SCRAPE_BOARDS[board]}", val / 100, day, name))
            elif not hit and _base(name.removesuffix(" reasoning")) not in bases:
                ukey = (_squash(_YEAR.sub("", name.removesuffix(" reasoning"))), flag)
                unlisted.setdefault(ukey, []).append((f"aa:{_SCRAPE_BOARDS[board]}", val, day))
                if ukey not in spelling or day >= spelling[ukey][0]:
                    spelling[ukey] = (day, name.removesuffix(" reasoning").strip())
    for ukey, got in sorted(unlisted.items()):
        last = max(d for _b, _v, d in got)
        if last >= latest:
            continue  # still listed on the last day: a spelling of a record, not a model
        loose = _base(spelling[ukey][1])
        if any(_subsequence(loose, b) for b, rel in api if rel <= last):
            continue  # a glued or shortened spelling of a record released by then
        sid = spelling[ukey][1] + (" (Reasoning)" if ukey[1] else "")
        rows += [(sid, bench, val / 100, day, sid) for bench, val, day in got]
    df = pd.DataFrame(rows, columns=["source_model", "benchmark", "score", "as_of", "name"])
    per = df.groupby(["source_model", "benchmark", "as_of"])["score"].transform("nunique")
    return df[per == 1].drop(columns="name").drop_duplicates().reset_index(drop=True)


def _soothsayer(raw: Path, records: list[dict], ids: list[str]) -> pd.DataFrame:
    """Dated scores from project-soothsayer's ``artificialanalysis_YYYYMMDD.csv``.

    A copy of the Artificial Analysis API table on the file's date (columns ``id``,
    ``name``, ``eval_<key>``); rows are matched to the API pull by the record ``id``
    (rows whose id is not in the pull are left out). Scales as in the API.
    """
    folder = Path(raw) / SOOTHSAYER
    if not folder.is_dir():
        return pd.DataFrame(columns=["source_model", "benchmark", "score", "as_of"])
    by_id = {r.get("id"): sid for r, sid in zip(records, ids, strict=True) if r.get("id")}
    frames = []
    for path in files_under(folder, "artificialanalysis_*.csv"):
        day = file_date(path)
        df = read_csv(path, required=["id", "name"], dtype={"id": str, "name": str})
        evals = [c for c in df.columns if c.startswith("eval_")]
        sid = df["id"].map(by_id)
        for col in evals:
            hi = 100.0 if "index" in col else 1.0
            val = numeric_column(df, col, path, lo=0.0, hi=hi)
            ok = val.notna() & sid.notna()
            frames.append(
                pd.DataFrame(
                    {
                        "source_model": sid[ok],
                        "benchmark": "aa:" + col.removeprefix("eval_"),
                        "score": val[ok],
                        "as_of": day,
                    }
                )
            )
    if not frames:
        return pd.DataFrame(columns=["source_model", "benchmark", "score", "as_of"])
    return pd.concat(frames, ignore_index=True)


def _dedupe_max(df: pd.DataFrame, keys: list[str], value: str) -> pd.DataFrame:
    """Drop exact duplicates; on conflicting keys keep the highest ``value``; sort by keys."""
    df = df.drop_duplicates()
    df = df.sort_values([*keys, value], ascending=[True] * len(keys) + [False], kind="mergesort")
    return df.drop_duplicates(keys).reset_index(drop=True)


# Attribution and terms of the folders this reader reads (shipped in SOURCES.md).
SPEC = Source(
    name="artificial-analysis",
    upstreams=(
        Upstream(
            folder="benchmarks/artificial-analysis",
            upstream="artificialanalysis.ai API (pull of 2026-07-31)",
            license="Artificial Analysis terms; attribution required",
            what="Intelligence Index and benchmark scores, prices",
            feeds=("artificial-analysis",),
        ),
        Upstream(
            folder="benchmarks/tennisatw-weekly-aa-scrapes",
            upstream="tennisatw weekly scrapes of artificialanalysis.ai evaluation pages",
            license="none stated (Artificial Analysis terms; attribution required)",
            what="dated AA scores 2025-08-17 to 2026-03-29",
            feeds=("artificial-analysis",),
        ),
        Upstream(
            folder="benchmarks/project-soothsayer",
            upstream="project-soothsayer, a peer project (copy of the Artificial Analysis API table)",
            license="MIT (the copy; Alexander King); Artificial Analysis terms for the figures",
            what="AA API table of 2026-03-15",
            feeds=("artificial-analysis",),
        ),
    ),
    reader=read,
)
