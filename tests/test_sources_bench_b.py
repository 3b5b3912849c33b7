"""Black-box tests of the LiveBench, WeirdML, ARC-AGI, Aider and SWE-bench readers."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from conftest import RAW, needs_full_raw
from divergence.errors import SourceError
from divergence.schema import READER_SCHEMAS, validate
from divergence.sources import leaderboards, livebench


def _score(bench: pd.DataFrame, model: str, benchmark: str, as_of: str | None = None) -> float:
    sel = (bench["source_model"] == model) & (bench["benchmark"] == benchmark)
    if as_of is not None:
        sel &= bench["as_of"] == pd.Timestamp(as_of)
    assert sel.sum() == 1, (model, benchmark, as_of, int(sel.sum()))
    return float(bench.loc[sel, "score"].iloc[0])


def _meta(meta: pd.DataFrame, model: str) -> pd.Series:
    sel = meta["source_model"] == model
    assert sel.sum() == 1, model
    return meta.loc[sel].iloc[0]


def _check_contract(out: dict[str, pd.DataFrame]) -> None:
    assert set(out) == {"benchmarks", "meta"}
    for kind, df in out.items():
        assert list(df.columns) == list(READER_SCHEMAS[kind])
        validate(df, kind, "test")
    b, m = out["benchmarks"], out["meta"]
    keys = ["source", "source_model", "benchmark", "as_of"]
    assert not b.duplicated(keys).any()
    assert b.equals(b.sort_values(keys, kind="mergesort").reset_index(drop=True))
    assert not m.duplicated(["source", "source_model"]).any()
    assert m.equals(
        m.sort_values(["source", "source_model"], kind="mergesort").reset_index(drop=True)
    )
    assert b["score"].between(0, 100).all()
    assert (
        str(b["as_of"].dtype) == "datetime64[ns]"
        and str(m["release_date"].dtype) == "datetime64[ns]"
    )
    assert all(v is False for v in b["self_reported"])
    assert b["self_reported"].dtype == object
    for col in ("open_weights", "reasoning"):
        assert m[col].dtype == object
        assert all(v is None or v is True or v is False for v in m[col])


# ------------------------------------------------------------------ real data
@pytest.fixture(scope="module")
def lb() -> dict[str, pd.DataFrame]:
    return livebench.read(RAW)


@pytest.fixture(scope="module")
def boards() -> dict[str, pd.DataFrame]:
    return leaderboards.read(RAW)


@needs_full_raw
def test_livebench_real(lb: dict[str, pd.DataFrame]) -> None:
    _check_contract(lb)
    b, m = lb["benchmarks"], lb["meta"]
    assert set(b["source"]) == {"livebench"} and set(m["source"]) == {"livebench"}
    # ten releases (history/ and history-only drafts not used), ~5300 rows
    assert sorted(b["as_of"].dt.strftime("%Y-%m-%d").unique()) == [
        "2024-06-24",
        "2024-07-26",
        "2024-08-31",
        "2024-11-25",
        "2025-04-02",
        "2025-04-25",
        "2025-05-30",
        "2025-11-25",
        "2025-12-23",
        "2026-01-08",
    ]
    assert 5000 < len(b) < 6000 and 300 < len(m) < 400
    assert (b["benchmark"] == "livebench:global").sum() == 717
    # by hand from table_2024_06_24.csv: reasoning = (80 + 48) / 2, global = mean of 6 categories
    sonnet = "claude-3-5-sonnet-20240620"
    assert _score(b, sonnet, "livebench:reasoning", "2024-06-24") == pytest.approx(64.0)
    assert _score(b, sonnet, "livebench:coding", "2024-06-24") == pytest.approx((58.0 + 68.421) / 2)
    assert _score(b, sonnet, "livebench:global", "2024-06-24") == pytest.approx(
        (64.0 + 63.2105 + 53.75 + 56.74 + 56.937 + 72.3) / 6
    )
    # the site's global average (82.35, as copied by Epoch) and a blank cell left out
    assert (
        round(_score(b, "gemini-2.5-pro-exp-03-25", "livebench:global", "2024-11-25"), 2) == 82.35
    )
    assert _score(
        b, "phi-3-small-8k-instruct", "livebench:language", "2024-11-25"
    ) == pytest.approx((15.888 + 10.0) / 2)
    # metadata: variant inherits parent fields; month-only version gives no date
    v = _meta(m, "gpt-5-high")
    assert (v["display_name"], v["organization"], v["reasoning"]) == ("GPT-5 High", "OpenAI", True)
    assert v["release_date"] == pd.Timestamp("2025-08-07") and v["open_weights"] is None
    assert pd.isna(_meta(m, "command-r-08-2024")["release_date"])
    assert _meta(m, "deepseek-r1")["open_weights"] is True
    assert _meta(m, "deepseek-v2-lite-chat")["display_name"] is None  # table model without link


def test_deterministic(lb: dict[str, pd.DataFrame], boards: dict[str, pd.DataFrame]) -> None:
    for fresh, first in ((livebench.read(RAW), lb), (leaderboards.read(RAW), boards)):
        for kind in ("benchmarks", "meta"):
            pd.testing.assert_frame_equal(fresh[kind], first[kind])


@needs_full_raw
def test_leaderboards_real(boards: dict[str, pd.DataFrame]) -> None:
    _check_contract(boards)
    b, m = boards["benchmarks"], boards["meta"]
    counts = b.groupby("benchmark").size().to_dict()
    assert counts["weirdml:accuracy"] == 87
    assert counts["swebench:bash_only"] == 31
    assert (
        140 <= counts["arcagi:v1"] <= 160
        and 140 <= counts["arcagi:v2"] <= 160
        and counts["arcagi:v3"] == 7
    )
    assert 50 <= counts["aider:polyglot"] <= 69 and 80 <= counts["aider:edit"] <= 98
    assert 30 <= counts["swebench:verified"] <= 45 and 5 <= counts["swebench:lite"] <= 12
    assert set(m["source"]) == {"weirdml", "arc-agi", "aider", "swe-bench"}


@needs_full_raw
def test_weirdml_real(boards: dict[str, pd.DataFrame]) -> None:
    b, m = boards["benchmarks"], boards["meta"]
    assert _score(b, "claude-opus-4.6:or_adaptive", "weirdml:accuracy") == pytest.approx(
        77.94985294117648
    )
    assert _score(b, "gpt-5.2:medium", "weirdml:accuracy") == pytest.approx(63.43846405228757)
    assert set(b.loc[b["source"] == "weirdml", "as_of"]) == {pd.Timestamp("2026-02-05")}
    row = _meta(m[m["source"] == "weirdml"], "claude-opus-4.6:or_adaptive")
    assert row["display_name"] == "claude-opus-4.6 (adaptive)"
    assert row["release_date"] == pd.Timestamp("2026-02-05")


@needs_full_raw
def test_arcagi_real(boards: dict[str, pd.DataFrame]) -> None:
    b = boards["benchmarks"]
    arc = b[b["source"] == "arc-agi"]
    assert _score(arc, "Claude 3.7", "arcagi:v1") == pytest.approx(13.6)
    assert _score(arc, "o3-pro-2025-06-10-high", "arcagi:v1") == pytest.approx(59.33)
    assert set(arc["as_of"]) == {pd.Timestamp("2026-06-04")}
    excluded = {
        "2025_human_panel",
        "stem_grad",
        "mturker",
        "ARChitects",
        "Icecuber",
        "NVARC_2025",
        "jeremy_sept_2025",
        "poetiq-arc-agi-gemini-3-d_v1",
        "trm-2025-10-07",
        "hrm-2-2508",
    }
    assert not excluded & set(arc["source_model"])
    meta = _meta(boards["meta"][boards["meta"]["source"] == "arc-agi"], "Claude 3.7 Thinking 16K")
    assert (meta["display_name"], meta["organization"]) == ("Claude 3.7 (16K)", "Anthropic")


@needs_full_raw
def test_aider_real(boards: dict[str, pd.DataFrame]) -> None:
    b = boards["benchmarks"]
    aider = b[b["source"] == "aider"]
    # three gpt-5 runs (high 88.0, medium 86.7, low 81.3): the best is kept with its date
    row = aider[aider["source_model"] == "gpt-5"]
    assert list(row["score"]) == [88.0] and list(row["as_of"]) == [pd.Timestamp("2025-08-23")]
    assert _score(aider, "gpt-4o-mini-2024-07-18", "aider:polyglot") == pytest.approx(3.6)
    assert _score(aider, "claude-3-5-sonnet-20241022", "aider:edit") == pytest.approx(84.2)
    assert _score(aider, "gemini/gemini-2.0-pro-exp-02-05", "aider:polyglot") == pytest.approx(35.6)
    # deepseek/deepseek-chat served four models: each keeps its label
    assert _score(aider, "DeepSeek Chat V2.5", "aider:polyglot") == pytest.approx(17.8)
    assert _score(aider, "DeepSeek V3 (0324)", "aider:polyglot") == pytest.approx(55.1)
    assert not aider["source_model"].str.contains(r"\+").any()  # architect pairs skipped
    meta = _meta(boards["meta"][boards["meta"]["source"] == "aider"], "gpt-5")
    assert meta["display_name"] == "gpt-5 (high)"


def test_aider_model_id_rule() -> None:
    f = leaderboards.aider_model_id
    assert (
        f("claude-sonnet-4-20250514 (32k thinking)", "aider --model claude-sonnet-4-20250514")
        == "claude-sonnet-4-20250514"
    )
    assert (
        f("Gemini 2.0 Pro exp-02-05", "aider --model gemini/gemini-2.0-pro-exp-02-05")
        == "gemini/gemini-2.0-pro-exp-02-05"
    )
    assert (
        f("DeepSeek R1 (0528)", "aider --model deepseek/deepseek-reasoner") == "DeepSeek R1 (0528)"
    )
    assert (
        f("chatgpt-4o-latest (2025-02-15)", "aider --model chatgpt-4o-latest")
        == "chatgpt-4o-latest (2025-02-15)"
    )
    assert (
        f("gemini-1.5-pro-001", "aider --model gemini/gemini-1.5-pro-latest")
        == "gemini-1.5-pro-001"
    )
    assert f("Claude 3 Opus", "aider --opus") == "Claude 3 Opus"
    assert f("Qwen X", "aider --model openai/Qwen/Qwen-X # via hyperbolic") == "openai/Qwen/Qwen-X"


@needs_full_raw
def test_swebench_real(boards: dict[str, pd.DataFrame]) -> None:
    b, m = boards["benchmarks"], boards["meta"]
    swe, swe_meta = b[b["source"] == "swe-bench"], m[m["source"] == "swe-bench"]
    assert _score(
        swe, "claude-opus-4-5-20251101", "swebench:bash_only", "2025-11-24"
    ) == pytest.approx(74.4)
    assert _score(swe, "gpt-4o-20241120", "swebench:bash_only") == pytest.approx(21.62)
    # SWE-agent (66.6) beats mini-SWE-agent (64.93) on Verified for Claude 4 Sonnet
    assert _score(
        swe, "claude-4-sonnet-20250514", "swebench:verified", "2025-05-22"
    ) == pytest.approx(66.6)
    assert _score(swe, "claude-3-opus-20240229", "swebench:lite") == pytest.approx(
        4.33
    )  # RAG baseline
    # agent products and mis-tagged (pre-release) entries are out
    assert "Doubao-Seed-Code" not in set(swe["source_model"]) and "Qwen 2.5" not in set(
        swe["source_model"]
    )
    assert "claude-3-5-sonnet-20241022" not in set(swe["source_model"])
    assert (
        _meta(swe_meta, "llama-4-maverick-instruct")["open_weights"] is True
    )  # os_model says False
    assert _meta(swe_meta, "claude-4-opus-20250514")["open_weights"] is False
    assert _meta(swe_meta, "minimax-m2")["open_weights"] is True
    assert _meta(swe_meta, "claude-4-opus-20250514")["release_date"] == pd.Timestamp("2025-05-22")
    assert _meta(swe_meta, "claude-2")["open_weights"] is None


# ------------------------------------------------------------------ hand-made malformed copies
def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _raises(path: Path, fn, raw: Path, column: str | None = None) -> SourceError:
    with pytest.raises(SourceError) as exc:
        fn(raw)
    assert exc.value.path == str(path), str(exc.value)
    assert str(path) in str(exc.value)
    if column is not None:
        assert exc.value.column == column, str(exc.value)
    return exc.value


LB_TABLE = "model,t1,t2,t3\nm-a,10,20,60\nm-b,50,,90\n"
LB_CATS = '{"Cat One": ["t1", "t2"], "IF": ["t3"]}'
LB_LINKS = json.dumps(
    {
        "m-a": {
            "url": "",
            "organization": "Org",
            "displayName": "Model A",
            "version": "2024-05-01",
            "openweight": True,
            "variants": [{"rawName": "m-a-high", "displayName": "Model A High"}],
        }
    }
)


def _lb_tree(tmp_path: Path) -> Path:
    folder = tmp_path / "benchmarks" / "livebench"
    _write(folder / "table_2025_01_02.csv", LB_TABLE)
    _write(folder / "categories_2025_01_02.json", LB_CATS)
    _write(folder / "modelLinks__x.json", LB_LINKS)
    return folder


def test_livebench_handmade(tmp_path: Path) -> None:
    _lb_tree(tmp_path)
    out = livebench.read(tmp_path)
    _check_contract(out)
    b = out["benchmarks"]
    assert _score(b, "m-a", "livebench:cat_one") == pytest.approx(15.0)
    assert _score(b, "m-b", "livebench:cat_one") == pytest.approx(50.0)  # blank t2 left out
    assert _score(b, "m-a", "livebench:global") == pytest.approx((15.0 + 60.0) / 2)
    assert set(b["as_of"]) == {pd.Timestamp("2025-01-02")}
    m = out["meta"]
    assert list(m["source_model"]) == ["m-a", "m-a-high", "m-b"]
    assert _meta(m, "m-a-high")["release_date"] == pd.Timestamp("2024-05-01")
    assert _meta(m, "m-a-high")["open_weights"] is True


def test_livebench_truncated_json(tmp_path: Path) -> None:
    folder = _lb_tree(tmp_path)
    _truncate(folder / "categories_2025_01_02.json")
    _raises(folder / "categories_2025_01_02.json", livebench.read, tmp_path)


def test_livebench_missing_column(tmp_path: Path) -> None:
    folder = _lb_tree(tmp_path)
    _write(folder / "table_2025_01_02.csv", "model,t1,t3\nm-a,10,60\n")
    _raises(folder / "table_2025_01_02.csv", livebench.read, tmp_path, column="t2")


def test_livebench_non_numeric(tmp_path: Path) -> None:
    folder = _lb_tree(tmp_path)
    _write(folder / "table_2025_01_02.csv", LB_TABLE.replace("90", "ninety"))
    err = _raises(folder / "table_2025_01_02.csv", livebench.read, tmp_path, column="t3")
    assert err.row == 3


def test_livebench_out_of_range(tmp_path: Path) -> None:
    folder = _lb_tree(tmp_path)
    _write(folder / "table_2025_01_02.csv", LB_TABLE.replace("90", "190"))
    _raises(folder / "table_2025_01_02.csv", livebench.read, tmp_path, column="t3")


def test_livebench_duplicate_key(tmp_path: Path) -> None:
    folder = _lb_tree(tmp_path)
    _write(folder / "categories_2025_01_02.json", '{"A": ["t1"], "A": ["t2", "t3"]}')
    _raises(folder / "categories_2025_01_02.json", livebench.read, tmp_path)


def test_livebench_conflicting_duplicate_row(tmp_path: Path) -> None:
    folder = _lb_tree(tmp_path)
    _write(folder / "table_2025_01_02.csv", LB_TABLE + "m-a,11,20,60\n")
    _raises(folder / "table_2025_01_02.csv", livebench.read, tmp_path, column="model")


def test_livebench_missing_categories_and_links(tmp_path: Path) -> None:
    folder = _lb_tree(tmp_path)
    (folder / "categories_2025_01_02.json").unlink()
    _raises(folder / "categories_2025_01_02.json", livebench.read, tmp_path)
    _write(folder / "categories_2025_01_02.json", LB_CATS)
    _truncate(folder / "modelLinks__x.json")
    _raises(folder / "modelLinks__x.json", livebench.read, tmp_path)


def _weirdml(tmp_path: Path, avg: object = 0.5, extra: str = "") -> Path:
    rec = {
        "display_name": "m (high)",
        "release_date": "2025-01-01",
        "aggregate_scores": {"avg_acc": avg},
    }
    doc = {"models": {"m": rec, "n": {**rec, "release_date": "2025-03-01"}}}
    return _write(
        tmp_path / "benchmarks" / "weirdml" / "weirdml_results.json", json.dumps(doc) + extra
    )


def test_weirdml_handmade_and_malformed(tmp_path: Path) -> None:
    path = _weirdml(tmp_path)
    out = leaderboards.read_weirdml(tmp_path)
    _check_contract(out)
    assert _score(out["benchmarks"], "m", "weirdml:accuracy") == pytest.approx(50.0)
    assert set(out["benchmarks"]["as_of"]) == {pd.Timestamp("2025-03-01")}
    _truncate(path)
    _raises(path, leaderboards.read_weirdml, tmp_path)
    _weirdml(tmp_path, avg="abc")
    _raises(path, leaderboards.read_weirdml, tmp_path, column="avg_acc")
    _weirdml(tmp_path, avg=1.5)
    _raises(path, leaderboards.read_weirdml, tmp_path, column="avg_acc")
    _write(path, '{"models": {"m": {"display_name": "x"}, "m": {}}}')
    _raises(path, leaderboards.read_weirdml, tmp_path)
    _write(path, '{"models": {"m": {"display_name": "x", "release_date": null}}}')
    _raises(path, leaderboards.read_weirdml, tmp_path, column="aggregate_scores")


def _arc_entry(**kw: object) -> dict:
    e = {
        "datasetId": "v1_Semi_Private",
        "modelId": "llm-x",
        "modelDisplayName": "LLM X",
        "modelType": "CoT",
        "providerDisplayName": "Lab",
        "modelReleaseDate": "2025-01-01T00:00:00.000Z",
        "score": 0.25,
    }
    return {**e, **kw}


def _arc(tmp_path: Path, *entries: dict) -> Path:
    doc = {"version": "v1", "generatedAt": "2026-01-02T10:00:00.000Z", "evaluations": list(entries)}
    return _write(tmp_path / "benchmarks" / "arc-agi" / "leaderboard_v1.json", json.dumps(doc))


def test_arcagi_handmade_and_malformed(tmp_path: Path) -> None:
    human = _arc_entry(modelId="human", modelType=None, score=0.98)
    kaggle = _arc_entry(modelId="kaggle", modelType="Custom")
    path = _arc(
        tmp_path, _arc_entry(), _arc_entry(), human, kaggle, _arc_entry(datasetId="v1_Public_Eval")
    )
    out = leaderboards.read_arcagi(tmp_path)
    _check_contract(out)
    assert list(out["benchmarks"]["source_model"]) == ["llm-x"]
    assert _score(out["benchmarks"], "llm-x", "arcagi:v1", "2026-01-02") == pytest.approx(25.0)
    _truncate(path)
    _raises(path, leaderboards.read_arcagi, tmp_path)
    _arc(tmp_path, _arc_entry(score="n/a"))
    _raises(path, leaderboards.read_arcagi, tmp_path, column="score")
    _arc(tmp_path, _arc_entry(score=1.5))
    _raises(path, leaderboards.read_arcagi, tmp_path, column="score")
    _arc(tmp_path, _arc_entry(modelType="Robot"))
    _raises(path, leaderboards.read_arcagi, tmp_path, column="modelType")
    bad = _arc_entry()
    del bad["modelId"]
    _arc(tmp_path, bad)
    _raises(path, leaderboards.read_arcagi, tmp_path, column="modelId")


AIDER_RUN = """- dirname: run-{i}
  model: {model}
  command: aider --model {api}
  edit_format: diff
  test_cases: {n}
  pass_rate_2: {score}
  date: 2025-0{i}-01
"""


def _aider(tmp_path: Path, poly: str | None = None) -> Path:
    folder = tmp_path / "benchmarks" / "aider"
    runs = [
        AIDER_RUN.format(i=1, model="m-1 (low)", api="m-1", n=225, score=40.0),
        AIDER_RUN.format(i=2, model="m-1 (high)", api="m-1", n=225, score=55.5),
        AIDER_RUN.format(i=3, model="Partial", api="p", n=30, score=99.0),
        AIDER_RUN.format(i=4, model="X + Y", api="x", n=225, score=70.0).replace(
            "diff", "architect"
        ),
    ]
    _write(folder / "polyglot_leaderboard.yml", poly if poly is not None else "".join(runs))
    _write(
        folder / "edit_leaderboard.yml",
        AIDER_RUN.format(i=5, model="Edit Model", api="deepseek/deepseek-chat", n=133, score=60.0),
    )
    return folder / "polyglot_leaderboard.yml"


def test_aider_handmade_and_malformed(tmp_path: Path) -> None:
    path = _aider(tmp_path)
    out = leaderboards.read_aider(tmp_path)
    _check_contract(out)
    b = out["benchmarks"]
    assert list(zip(b["source_model"], b["benchmark"], b["score"], strict=True)) == [
        ("Edit Model", "aider:edit", 60.0),
        ("m-1", "aider:polyglot", 55.5),
    ]
    assert _score(b, "m-1", "aider:polyglot", "2025-02-01") == pytest.approx(55.5)
    assert _meta(out["meta"], "m-1")["display_name"] == "m-1 (high)"
    _aider(tmp_path, poly="- model: [unclosed\n  date: 2025-01-01\n")
    _raises(path, leaderboards.read_aider, tmp_path)
    _aider(tmp_path, poly=AIDER_RUN.format(i=1, model="m", api="m", n=225, score="abc"))
    _raises(path, leaderboards.read_aider, tmp_path, column="pass_rate_2")
    _aider(
        tmp_path,
        poly=AIDER_RUN.format(i=1, model="m", api="m", n=225, score=1).replace(
            "  pass_rate_2: 1\n", ""
        ),
    )
    _raises(path, leaderboards.read_aider, tmp_path, column="pass_rate_2")
    _aider(
        tmp_path,
        poly=AIDER_RUN.format(i=1, model="m", api="m", n=225, score=1) + "  model: again\n",
    )
    _raises(path, leaderboards.read_aider, tmp_path)
    _aider(tmp_path, poly="")
    _raises(path, leaderboards.read_aider, tmp_path)


def _swe_entry(name: str, model: str, resolved: object = 50.0, **kw: object) -> dict:
    tags = [f"Model: {model}", "Org: Lab", "System: Attempts - 1"]
    return {
        "name": name,
        "date": "2025-06-01",
        "resolved": resolved,
        "tags": tags,
        "os_model": False,
        **kw,
    }


def _swe(
    tmp_path: Path, bash: list[dict], verified: list[dict] | None = None, boards: tuple = ()
) -> Path:
    folder = tmp_path / "benchmarks" / "swe-bench"
    lbs = [
        {"name": "bash-only", "results": bash},
        {"name": "Verified", "results": verified or []},
        {"name": "Lite", "results": []},
    ]
    doc = {"leaderboards": [lb for lb in lbs if lb["name"] not in boards]}
    _write(folder / "modelReleaseDates__x.json", '{"llama-4-x": 20250405, "m-1": 20250101}')
    return _write(folder / "leaderboards.json", json.dumps(doc))


def test_swebench_handmade_and_malformed(tmp_path: Path) -> None:
    verified = [
        _swe_entry("SWE-agent + M1", "m-1", 61.0),
        _swe_entry("Agent Product", "m-1", 80.0),
        _swe_entry("mini-SWE-agent + Two", "m-1", 90.0, tags=["Model: m-1", "Model: m-2"]),
    ]
    path = _swe(
        tmp_path,
        [_swe_entry("M1", "m-1", 40.0), _swe_entry("Llama 4 X", "llama-4-x", 10.0)],
        verified,
    )
    out = leaderboards.read_swebench(tmp_path)
    _check_contract(out)
    b, m = out["benchmarks"], out["meta"]
    assert _score(b, "m-1", "swebench:bash_only") == pytest.approx(40.0)
    assert _score(b, "m-1", "swebench:verified") == pytest.approx(61.0)
    assert _meta(m, "llama-4-x")["open_weights"] is True
    assert _meta(m, "m-1")["release_date"] == pd.Timestamp("2025-01-01")
    _truncate(path)
    _raises(path, leaderboards.read_swebench, tmp_path)
    _swe(tmp_path, [_swe_entry("M1", "m-1", "abc")])
    _raises(path, leaderboards.read_swebench, tmp_path, column="resolved")
    bad = _swe_entry("M1", "m-1")
    del bad["resolved"]
    _swe(tmp_path, [bad])
    _raises(path, leaderboards.read_swebench, tmp_path, column="resolved")
    _swe(tmp_path, [_swe_entry("M1", "m-1")], boards=("bash-only",))
    _raises(path, leaderboards.read_swebench, tmp_path)
    _swe(tmp_path, [_swe_entry("M1", "m-1", date="not a date")])
    _raises(path, leaderboards.read_swebench, tmp_path, column="date")


def test_real_copy_with_one_corrupt_file(tmp_path: Path) -> None:
    """A copy of the real tree with one truncated file fails, naming that file."""
    src = RAW / "benchmarks" / "arc-agi"
    dst = tmp_path / "benchmarks" / "arc-agi"
    shutil.copytree(src, dst)
    _truncate(dst / "leaderboard_v2.json")
    _raises(dst / "leaderboard_v2.json", leaderboards.read_arcagi, tmp_path)
