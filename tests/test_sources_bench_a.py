"""Readers for Artificial Analysis, Epoch (stitching, ECI, METR, model databases) and llm-stats."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import RAW, needs_full_raw, one_row
from divergence.errors import SourceError
from divergence.schema import READER_SCHEMAS, validate
from divergence.sources import artificial_analysis, epoch, llm_stats

AA = Path("benchmarks/artificial-analysis")
STITCH = Path("benchmarks/epoch-benchmark-stitching")
ECI = Path("benchmarks/epoch-eci-via-metr_graph")
LLMS = Path("benchmarks/llm-stats/data")
QWEN_VL = LLMS / "organizations/qwen/models/qwen2.5-vl-7b"


@pytest.fixture(scope="module")
def aa() -> dict[str, pd.DataFrame]:
    return artificial_analysis.read(RAW)


@pytest.fixture(scope="module")
def ep() -> dict[str, pd.DataFrame]:
    return epoch.read(RAW)


@pytest.fixture(scope="module")
def ls() -> dict[str, pd.DataFrame]:
    return llm_stats.read(RAW)


def mirror(tmp_path: Path, rel: Path, content: str | bytes) -> Path:
    """A ``raw/`` tree in ``tmp_path`` that links to the real data except ``rel``.

    Every directory on the way to ``rel`` is real; its other entries are symlinks to
    the shared files, and ``rel`` itself is written with ``content``.
    """
    root = tmp_path / "raw"
    src, dst = RAW, root
    dst.mkdir(parents=True)
    for part in rel.parts:
        for entry in src.iterdir():
            if entry.name != part and not (dst / entry.name).exists():
                os.symlink(entry, dst / entry.name)
        src, dst = src / part, dst / part
        if src.is_dir():
            dst.mkdir()
    if isinstance(content, str):
        content = content.encode("utf-8")
    dst.write_bytes(content)
    return root


def raw_text(rel: Path) -> str:
    return (RAW / rel).read_text(encoding="utf-8-sig")


def check_contract(result: dict[str, pd.DataFrame], kinds: set[str]) -> None:
    assert set(result) == kinds
    keys = {
        "benchmarks": ["source", "source_model", "benchmark", "as_of"],
        "adoption": ["source", "source_model", "signal", "date"],
        "meta": ["source", "source_model"],
    }
    for kind, df in result.items():
        assert list(df.columns) == list(READER_SCHEMAS[kind])
        validate(df, kind, "test")
        assert not df.duplicated(keys[kind]).any(), kind
        assert df.equals(df.sort_values(keys[kind], kind="mergesort").reset_index(drop=True)), kind
    if "benchmarks" in result:
        assert np.isfinite(result["benchmarks"]["score"]).all()


# --------------------------------------------------------------------------- Artificial Analysis


@needs_full_raw
def test_aa_contract_and_known_values(aa):
    check_contract(aa, {"benchmarks", "adoption", "meta"})
    b = aa["benchmarks"]
    assert one_row(b, source_model="gpt-oss-120b", benchmark="aa:gpqa")["score"] == pytest.approx(
        0.782
    )
    index = "aa:artificial_analysis_intelligence_index"
    row = one_row(b, source_model="gpt-oss-120b", benchmark=index, as_of=pd.Timestamp("2026-07-31"))
    assert row["score"] == pytest.approx(23.8) and row["self_reported"] is False
    # the same index on 2026-03-15 (project-soothsayer's copy of the API table), before
    # the index was re-versioned: a dated earlier value, matched by record id
    early = one_row(
        b, source_model="gpt-oss-120b", benchmark=index, as_of=pd.Timestamp("2026-03-15")
    )
    assert early["score"] == pytest.approx(33.3)
    # null evaluations are omitted, not NaN rows (math_500 is null for gpt-oss-120b)
    assert b[(b.source_model == "gpt-oss-120b") & (b.benchmark == "aa:math_500")].empty
    assert len(aa["meta"]) == 589 and aa["meta"]["source_model"].is_unique
    assert b["source"].eq("artificial-analysis").all()


@needs_full_raw
def test_aa_meta_and_prices(aa):
    m = aa["meta"]
    g = one_row(m, source_model="gpt-oss-120b")
    assert g["display_name"] == "gpt-oss-120b (high)" and g["organization"] == "OpenAI"
    assert g["release_date"] == pd.Timestamp("2025-08-05")
    assert g["reasoning"] is True and g["open_weights"] is True
    assert one_row(m, source_model="gpt-5-5-high")["open_weights"] is False
    assert one_row(m, source_model="gpt-4o-mini")["open_weights"] is None
    non = m[m["display_name"].str.contains("(Non-reasoning)", regex=False)]
    assert len(non) > 50 and non["reasoning"].map(lambda v: v is False).all()
    a = aa["adoption"]
    assert one_row(a, source_model="gpt-oss-120b", signal="price_input_usd_per_mtok")[
        "value"
    ] == pytest.approx(0.15)
    assert one_row(a, source_model="gpt-oss-120b", signal="output_tokens_per_s")[
        "value"
    ] == pytest.approx(193.41)
    assert (a["value"] > 0).all()  # zero = "not priced/measured" is omitted
    assert a[a.source_model == "grok-1"].empty


@pytest.mark.parametrize(
    "name, expected",
    [
        ("Claude 4.5 Sonnet (Reasoning)", True),
        ("GPT-5 (minimal)", True),
        ("Kimi K2 Thinking", True),
        ("o3-mini", True),
        ("Kimi K2 (Non-reasoning)", False),
        ("GPT-5.5 (Non-reasoning, High Effort)", False),
        ("Llama 3.3 Instruct 70B", None),
        ("Gemini 2.0 Flash (experimental)", None),
    ],
)
def test_aa_reasoning_from_name(name, expected):
    assert artificial_analysis.reasoning_from_name(name) is expected


def test_aa_truncated_json(tmp_path):
    text = raw_text(AA / "aa_api_live.json")
    raw = mirror(tmp_path, AA / "aa_api_live.json", text[: len(text) // 2])
    with pytest.raises(SourceError, match=r"aa_api_live\.json.*invalid JSON"):
        artificial_analysis.read(raw)


def test_aa_missing_evaluations(tmp_path):
    doc = json.loads(raw_text(AA / "aa_api_live.json"))
    del doc["data"][3]["evaluations"]
    raw = mirror(tmp_path, AA / "aa_api_live.json", json.dumps(doc))
    with pytest.raises(
        SourceError, match=r"aa_api_live\.json, column 'evaluations', row data\[3\]: missing key"
    ):
        artificial_analysis.read(raw)


def test_aa_non_numeric_and_duplicate_key(tmp_path):
    doc = json.loads(raw_text(AA / "aa_api_live.json"))
    doc["data"][0]["evaluations"]["gpqa"] = "n/a"
    raw = mirror(tmp_path / "a", AA / "aa_api_live.json", json.dumps(doc))
    with pytest.raises(
        SourceError, match=r"aa_api_live\.json, column 'evaluations\.gpqa'.*non-numeric"
    ):
        artificial_analysis.read(raw)
    dup = '{"status": 200, "data": [], "data": []}'
    raw = mirror(tmp_path / "b", AA / "aa_api_live.json", dup)
    with pytest.raises(SourceError, match=r"aa_api_live\.json.*duplicate JSON key"):
        artificial_analysis.read(raw)


def test_aa_model_data_bad_type(tmp_path):
    text = raw_text(AA / "aa_model_data.csv").replace(",Open weights,", ",Open-ish,", 1)
    raw = mirror(tmp_path, AA / "aa_model_data.csv", text)
    with pytest.raises(SourceError, match=r"aa_model_data\.csv, column 'type'"):
        artificial_analysis.read(raw)


# --------------------------------------------------------------------------- Epoch


def test_epoch_contract_and_sources(ep):
    check_contract(ep, {"benchmarks", "meta"})
    assert set(ep["benchmarks"]["source"]) == {"epoch", "epoch-external", "epoch-eci", "metr"}
    assert set(ep["meta"]["source"]) == {"epoch", "epoch-eci", "epoch-models", "metr"}
    assert ep["benchmarks"]["benchmark"].str.match(r"^(epoch|metr):[a-z0-9_]+$").all()


def test_epoch_known_values(ep):
    b = ep["benchmarks"]
    run = one_row(b, source="epoch", source_model="gpt-5.1_medium", benchmark="epoch:gpqa_diamond")
    assert run["score"] == pytest.approx(0.85) and run["as_of"] == pd.Timestamp("2025-11-17")
    assert run["self_reported"] is False
    # "62.4%" -> 0.624; bare "Percent correct" 88.000 keeps its 0-100 scale
    assert one_row(b, source_model="gemini-2.5-pro-preview-06-05", benchmark="epoch:simple_bench")[
        "score"
    ] == pytest.approx(0.624)
    assert one_row(b, source_model="gpt-5-2025-08-07_high", benchmark="epoch:aider_polyglot")[
        "score"
    ] == pytest.approx(88.0)
    assert one_row(b, source_model="claude-mythos-2026-04-07", benchmark="epoch:eci")[
        "score"
    ] == pytest.approx(161.0)
    assert one_row(
        b, source_model="claude_3_7_sonnet_inspect", benchmark="metr:p50_horizon_minutes"
    )["score"] == pytest.approx(60.388937)
    # BALROG "Date added" 23/7/2024 precedes grok-4-0709's release: floored to 2025-07-09
    assert one_row(b, source_model="grok-4-0709", benchmark="epoch:balrog")[
        "as_of"
    ] == pd.Timestamp("2025-07-09")
    # trailing space in the raw id is stripped
    assert "Llama-2-70b-hf" in set(b["source_model"]) and "Llama-2-70b-hf " not in set(
        b["source_model"]
    )
    # several rows per model in a table: one row per key, the highest score
    tb = b[
        (b.source_model == "claude-sonnet-4-5-20250929") & (b.benchmark == "epoch:terminal_bench")
    ]
    assert len(tb) == 1 and tb["score"].iloc[0] == pytest.approx(0.645)


@needs_full_raw
def test_epoch_meta(ep):
    m = ep["meta"]
    o3 = one_row(m, source="epoch", source_model="o3-2025-04-16_high")
    assert o3["release_date"] == pd.Timestamp("2025-04-16") and o3["display_name"] == "o3 (high)"
    assert o3["organization"] == "OpenAI" and o3["reasoning"] is True
    llama = one_row(m, source="epoch", source_model="Llama-2-70b-hf")
    assert llama["open_weights"] is True and llama["params_b"] == pytest.approx(70.0)
    gpt4 = one_row(m, source="epoch-models", source_model="GPT-4")
    assert gpt4["organization"] == "OpenAI" and gpt4["open_weights"] is False
    assert (
        one_row(m, source="epoch-eci", source_model="claude-mythos-2026-04-07")["organization"]
        == "Anthropic"
    )
    assert one_row(m, source="metr", source_model="o3_inspect")["release_date"] == pd.Timestamp(
        "2025-04-16"
    )


def test_epoch_non_numeric_score(tmp_path):
    rel = STITCH / "benchmarks_runs.csv"
    lines = raw_text(rel).splitlines(keepends=True)
    lines[3] = lines[3].replace(",0.187,", ",high,", 1)
    raw = mirror(tmp_path, rel, "".join(lines))
    with pytest.raises(
        SourceError,
        match=r"benchmarks_runs\.csv, column 'Best score \(across scorers\)', row 4: non-numeric",
    ):
        epoch.read(raw)


def test_epoch_missing_column(tmp_path):
    rel = STITCH / "model_versions.csv"
    raw = mirror(tmp_path, rel, raw_text(rel).replace("Version release date", "Released", 1))
    with pytest.raises(
        SourceError, match=r"model_versions\.csv, column 'Version release date': missing column"
    ):
        epoch.read(raw)


def test_epoch_percent_and_inf(tmp_path):
    rel = STITCH / "external_benchmark_weirdml.csv"
    raw = mirror(tmp_path / "a", rel, raw_text(rel).replace(",56.3%,", ",156.3%,", 1))
    with pytest.raises(
        SourceError, match=r"external_benchmark_weirdml\.csv, column 'Accuracy'.*out of range"
    ):
        epoch.read(raw)
    rel = STITCH / "external_benchmark_lech_mazur_writing.csv"
    raw = mirror(tmp_path / "b", rel, raw_text(rel).replace(",8.39,", ",inf,", 1))
    with pytest.raises(
        SourceError, match=r"external_benchmark_lech_mazur_writing\.csv, column 'Mean score'"
    ):
        epoch.read(raw)


def test_epoch_unmapped_table_is_not_skipped(tmp_path):
    rel = STITCH / "external_benchmark_newbench.csv"
    raw = mirror(tmp_path, rel, "id,Model version,Score,Source\nr1,gpt-4o-2024-05-13,50%,X\n")
    with pytest.raises(SourceError, match=r"external_benchmark_newbench\.csv.*not mapped"):
        epoch.read(raw)


def test_epoch_yaml_duplicate_key_and_truncation(tmp_path):
    rel = ECI / "benchmark_results_1_1.yaml"
    text = raw_text(rel)
    dup = text.replace("results:\n", "results:\n  gpt2:\n    release_date: 2019-02-14\n", 1)
    raw = mirror(tmp_path / "a", rel, dup)
    with pytest.raises(
        SourceError, match=r"benchmark_results_1_1\.yaml, row line \d+: invalid YAML: duplicate key"
    ):
        epoch.read(raw)
    raw = mirror(
        tmp_path / "b", rel, text[: text.index("p50_horizon_length")] + "p50_horizon_length: [\n"
    )
    with pytest.raises(SourceError, match=r"benchmark_results_1_1\.yaml.*invalid YAML"):
        epoch.read(raw)


# --------------------------------------------------------------------------- llm-stats


@needs_full_raw
def test_llm_stats_contract_and_known_values(ls):
    check_contract(ls, {"benchmarks", "meta"})
    b = ls["benchmarks"]
    row = one_row(b, source_model="qwen2.5-vl-7b", benchmark="llmstats:aitz-em")
    assert row["score"] == pytest.approx(0.819) and row["self_reported"] is True
    assert row["as_of"] == pd.Timestamp("2025-01-26")
    # an independent (not self-reported) score keeps its flag
    assert (
        one_row(b, source_model="gpt-3.5-turbo-0125", benchmark="llmstats:gpqa")["self_reported"]
        is False
    )
    # MT-Bench stored as score/100 for one model: fixed to the benchmark's score/10 scale
    assert one_row(
        b, source_model="llama-3.1-nemotron-70b-instruct", benchmark="llmstats:mt-bench"
    )["score"] == pytest.approx(0.899)
    # several results for one benchmark: the highest is kept
    assert one_row(b, source_model="gpt-oss-120b", benchmark="llmstats:humanity's-last-exam")[
        "score"
    ] == pytest.approx(0.19)
    assert len(ls["meta"]) == 169


@needs_full_raw
def test_llm_stats_meta(ls):
    m = ls["meta"]
    q = one_row(m, source_model="qwen2.5-vl-7b")
    assert q["release_date"] == pd.Timestamp("2025-01-26") and q["open_weights"] is True
    assert q["params_b"] == pytest.approx(8.29) and q["display_name"] == "Qwen2.5 VL 7B Instruct"
    c = one_row(m, source_model="claude-3-5-haiku-20241022")
    assert (
        c["open_weights"] is False and c["organization"] == "Anthropic" and np.isnan(c["params_b"])
    )
    assert "o3-pro-2025-06-10" in set(m["source_model"])  # no benchmarks.json, still in meta


def test_llm_stats_truncated_and_duplicate_key(tmp_path):
    rel = QWEN_VL / "benchmarks.json"
    text = raw_text(rel)
    raw = mirror(tmp_path / "a", rel, text[:300])
    with pytest.raises(SourceError, match=r"qwen2\.5-vl-7b/benchmarks\.json.*invalid JSON"):
        llm_stats.read(raw)
    dup = text.replace('"score": 0.819,', '"score": 0.819, "score": 0.5,', 1)
    raw = mirror(tmp_path / "b", rel, dup)
    with pytest.raises(SourceError, match=r"qwen2\.5-vl-7b/benchmarks\.json.*duplicate JSON key"):
        llm_stats.read(raw)


def test_llm_stats_bad_score_and_missing_key(tmp_path):
    rel = QWEN_VL / "benchmarks.json"
    doc = json.loads(raw_text(rel))
    doc[0]["score"] = "0.8x"
    raw = mirror(tmp_path / "a", rel, json.dumps(doc))
    with pytest.raises(
        SourceError, match=r"benchmarks\.json, column 'score', row \[0\] \(aitz-em\): non-numeric"
    ):
        llm_stats.read(raw)
    rel = QWEN_VL / "model.json"
    doc = json.loads(raw_text(rel))
    del doc["release_date"]
    raw = mirror(tmp_path / "b", rel, json.dumps(doc))
    with pytest.raises(
        SourceError, match=r"qwen2\.5-vl-7b/model\.json, column 'release_date': missing key"
    ):
        llm_stats.read(raw)


def test_aa_scrapes_keep_delisted_models_only(tmp_path):
    """A scraped name matching no API record and gone from the last scrape is a delisted
    model (kept); a name still listed on the last day, or a glued spelling of a record,
    is not a model of its own (left out)."""
    boards = tmp_path / artificial_analysis.SCRAPES
    days = {
        "25-08-17": "Gemma 9 27B,50.0\nLlamaNemotronUltra,60.0\nAcme Nine,40.0\n",
        "26-03-29": "Acme Nine,41.0\nLlama 9 Nemotron Ultra (Reasoning) reasoning,61.0\n",
    }
    for day, rows in days.items():
        (boards / day / "leaderboards").mkdir(parents=True)
        (boards / day / "leaderboards" / "leaderboard_gpqadiamond.csv").write_text(
            "Name,Score\n" + rows
        )
    records = [
        {
            "name": "Llama 9 Nemotron Ultra (Reasoning)",
            "slug": "llama-9-nemotron-ultra",
            "release_date": "2025-04-07",
        }
    ]
    out = artificial_analysis._weekly_scrapes(tmp_path, records, ["llama-9-nemotron-ultra"])
    got = {(r.source_model, r.as_of.strftime("%y-%m-%d")) for r in out.itertuples()}
    assert got == {("Gemma 9 27B", "25-08-17"), ("llama-9-nemotron-ultra", "26-03-29")}
    assert out.loc[out["source_model"] == "Gemma 9 27B", "score"].iloc[0] == pytest.approx(0.5)
