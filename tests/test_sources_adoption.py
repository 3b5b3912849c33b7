"""Adoption readers: OpenRouter, Ollama, models.dev / litellm / price catalogues."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import RAW, needs_full_raw
from divergence.errors import SourceError
from divergence.schema import READER_SCHEMAS, validate
from divergence.sources import catalogs, ollama, openrouter

DAILY = Path(
    "adoption/openrouter-rankings-daily-combined/openrouter_rankings_daily_2026-05-20_2026-08-21.csv"
)
WEEKLY = Path("adoption/johnbean393-openrouter-inference-stats")
CATALOG = Path("adoption/uyhcire-openrouter-catalog-snapshots/openrouter_2025-10-02.json")
YAML = Path("adoption/wyl2607-llm-carbon-index/model_crosswalk.yaml")
AUDITOMATIC = Path("adoption/auditomatic-ollama-models-registry/ollama_pullcounts_all_versions.csv")
D3RHAMI = Path("adoption/d3rhami-ollama-gallery/ollama_pulls_all_versions.csv")
MONTHLY = Path("adoption/models.dev/models_dev_provider_model_monthly.csv")
LITELLM = Path(
    "adoption/litellm-prices-history/from_tokencost_2024-01_to_2025-09/2024-05-14_model_prices.json"
)
PYDANTIC = Path("adoption/pydantic-genai-prices/2025-07-31_data.json")
SIMONW = Path("adoption/simonw-llm-prices/deepseek.json")


@pytest.fixture(scope="module")
def orr() -> dict[str, pd.DataFrame]:
    return openrouter.read(RAW)


@pytest.fixture(scope="module")
def oll() -> dict[str, pd.DataFrame]:
    return ollama.read(RAW)


@pytest.fixture(scope="module")
def cat() -> dict[str, pd.DataFrame]:
    return catalogs.read(RAW)


def value(df: pd.DataFrame, source: str, model: str, signal: str, date: str) -> float:
    """The single adoption value for one key (fails if absent or repeated)."""
    rows = df[
        (df["source"] == source)
        & (df["source_model"] == model)
        & (df["signal"] == signal)
        & (df["date"] == pd.Timestamp(date))
    ]
    assert len(rows) == 1, f"{len(rows)} rows for {source} {model} {signal} {date}"
    return float(rows["value"].iloc[0])


def has(df: pd.DataFrame, **where: object) -> bool:
    mask = np.ones(len(df), dtype=bool)
    for col, val in where.items():
        mask &= (df[col] == (pd.Timestamp(val) if col == "date" else val)).to_numpy()
    return bool(mask.any())


def meta_row(meta: pd.DataFrame, source: str, model: str) -> pd.Series:
    rows = meta[(meta["source"] == source) & (meta["source_model"] == model)]
    assert len(rows) == 1
    return rows.iloc[0]


def mirror(tmp_path: Path, rel: Path, content: str | bytes) -> Path:
    """A ``raw/`` tree in ``tmp_path`` that links to the real data except ``rel``."""
    root = tmp_path / "raw"
    src, dst = RAW, root
    dst.mkdir(parents=True)
    for part in rel.parts:
        for child in sorted(src.iterdir()):
            if child.name != part:
                (dst / child.name).symlink_to(child, target_is_directory=child.is_dir())
        src, dst = src / part, dst / part
        if src.is_dir():
            dst.mkdir()
    if isinstance(content, str):
        content = content.encode("utf-8")
    dst.write_bytes(content)
    return root


def text(rel: Path) -> str:
    return (RAW / rel).read_text(encoding="utf-8")


def expect_error(reader, root: Path, rel: Path, *fragments: str) -> str:
    with pytest.raises(SourceError) as info:
        reader(root)
    msg = str(info.value)
    assert rel.name in msg
    for fragment in fragments:
        assert fragment in msg
    return msg


# ------------------------------------------------------------------ contracts


@pytest.mark.parametrize("name", ["orr", "oll", "cat"])
def test_outputs_follow_schema(name: str, request: pytest.FixtureRequest) -> None:
    out = request.getfixturevalue(name)
    for kind in ("adoption", "meta"):
        df = out[kind]
        assert list(df.columns) == list(READER_SCHEMAS[kind])
        validate(df, kind, name)
    a = out["adoption"]
    keys = ["source", "source_model", "signal", "date"]
    assert not a.duplicated(keys).any()
    assert a[keys].equals(a[keys].sort_values(keys).reset_index(drop=True))
    assert np.isfinite(a["value"]).all() and (a["value"] >= 0).all()
    assert not out["meta"].duplicated(["source", "source_model"]).any()


# ----------------------------------------------------------------- openrouter


@needs_full_raw
def test_openrouter_daily_known_tokens_and_share(orr: dict[str, pd.DataFrame]) -> None:
    a = orr["adoption"]
    m = "anthropic/claude-4.5-haiku-20251001"
    assert value(a, "openrouter-daily", m, "openrouter_tokens_daily", "2026-05-20") == 37164125892
    # day total of the raw file, `other` and :free rows included: 4 432 249 744 178
    share = value(a, "openrouter-daily", m, "openrouter_token_share_daily", "2026-05-20")
    assert share == pytest.approx(37164125892 / 4432249744178)
    assert not has(a, source="openrouter-daily", source_model="other")


@needs_full_raw
def test_openrouter_free_variant_merged(orr: dict[str, pd.DataFrame]) -> None:
    a = orr["adoption"]
    # openai/gpt-oss-120b 66 887 484 863 + openai/gpt-oss-120b:free 22 607 659 483
    assert (
        value(a, "openrouter-daily", "openai/gpt-oss-120b", "openrouter_tokens_daily", "2026-05-20")
        == 66887484863 + 22607659483
    )
    assert not a["source_model"].str.contains(r":(?:free|beta)$").any()
    # :beta in a low-confidence week: claude-3.5-sonnet 176 639 643 672 + :beta 109 974 198 888
    assert (
        value(
            a,
            "openrouter-weekly",
            "anthropic/claude-3.5-sonnet",
            "openrouter_tokens_weekly",
            "2025-02-23",
        )
        == 176639643672 + 109974198888
    )


@needs_full_raw
def test_openrouter_weekly(orr: dict[str, pd.DataFrame]) -> None:
    a = orr["adoption"]
    m, day = "anthropic/claude-4.5-sonnet-20250929", "2026-01-04"
    assert value(a, "openrouter-weekly", m, "openrouter_tokens_weekly", day) == 351603467018
    assert value(a, "openrouter-weekly", m, "openrouter_requests_weekly", day) == 13234528
    assert value(a, "openrouter-weekly", m, "price_input_usd_per_mtok", day) == pytest.approx(3.0)
    assert value(a, "openrouter-weekly", m, "price_output_usd_per_mtok", day) == pytest.approx(15.0)
    # request_count 0 (not reported) in 2025 weeks is missing, not zero
    assert not has(
        a, source="openrouter-weekly", signal="openrouter_requests_weekly", date="2025-02-23"
    )
    # deleted_in_history/2026-02-09 repeats the 2026-02-08 week: ignored
    assert has(a, source="openrouter-weekly", date="2026-02-08")
    assert not has(a, source="openrouter-weekly", date="2026-02-09")


def test_openrouter_catalog_prices_and_crosswalk(orr: dict[str, pd.DataFrame]) -> None:
    a = orr["adoption"]
    m = "anthropic/claude-sonnet-4.5"
    # created 1759161676 = 2025-09-29T16:01:16Z
    assert value(a, "openrouter-catalog", m, "openrouter_listed", "2025-09-29") == 1.0
    assert value(
        a, "openrouter-catalog", m, "price_input_usd_per_mtok", "2025-10-02"
    ) == pytest.approx(3.0)
    assert value(
        a, "openrouter-catalog", m, "price_output_usd_per_mtok", "2025-10-02"
    ) == pytest.approx(15.0)
    # casualstudy blended price on 2026-06-23: 9e-06 per token = (3 + 15) / 2
    assert value(
        a, "openrouter-catalog", m, "price_blended_usd_per_mtok", "2026-06-23"
    ) == pytest.approx(9.0)
    assert not has(
        a,
        source="openrouter-catalog",
        source_model="openrouter/auto",
        signal="price_input_usd_per_mtok",
    )
    cw = orr["crosswalk"]
    assert list(cw.columns) == ["source", "source_model", "other_source", "other_model"]
    hit = cw[(cw["source_model"] == m) & (cw["other_source"] == "openrouter-permaslug")]
    assert hit["other_model"].tolist() == ["anthropic/claude-4.5-sonnet-20250929"]
    hf = cw[(cw["source_model"] == "ai21/jamba-1.6-large") & (cw["other_source"] == "huggingface")]
    assert hf["other_model"].tolist() == ["ai21labs/AI21-Jamba-Large-1.6"]


def test_openrouter_meta(orr: dict[str, pd.DataFrame]) -> None:
    meta = orr["meta"]
    row = meta_row(meta, "openrouter-crosswalk", "minimax/minimax-m2.5")
    assert (
        row["open_weights"] is True
        and row["params_b"] == 230
        and row["display_name"] == "MiniMax M2.5"
    )
    assert meta_row(meta, "openrouter-crosswalk", "openai/gpt-4o")["open_weights"] is False
    row = meta_row(meta, "openrouter-catalog", "anthropic/claude-sonnet-4.5")
    assert (row["organization"], row["display_name"]) == ("Anthropic", "Claude Sonnet 4.5")


def test_openrouter_malformed_daily(tmp_path: Path) -> None:
    good = text(DAILY)
    root = mirror(tmp_path / "a", DAILY, good.replace("total_tokens", "tokens", 1))
    expect_error(openrouter.read, root, DAILY, "total_tokens", "missing column")
    lines = good.splitlines()
    lines[1] = lines[1].replace("37164125892", "lots")
    root = mirror(tmp_path / "b", DAILY, "\n".join(lines) + "\n")
    expect_error(openrouter.read, root, DAILY, "row 2", "non-numeric")
    lines[1] = "2026-05-20,anthropic/claude-4.5-haiku-20251001,-5,x"
    root = mirror(tmp_path / "c", DAILY, "\n".join(lines) + "\n")
    expect_error(openrouter.read, root, DAILY, "row 2", "out of range")
    root = mirror(tmp_path / "d", DAILY, "")
    expect_error(openrouter.read, root, DAILY, "empty")


def test_openrouter_malformed_json(tmp_path: Path) -> None:
    rel = WEEKLY / "2026-01-04.json"
    good = text(rel)
    root = mirror(tmp_path / "a", rel, good[: len(good) // 2])
    expect_error(openrouter.read, root, rel, "invalid JSON")
    root = mirror(tmp_path / "b", rel, '{"date": "2026-01-04", "date": "2026-01-05", "models": []}')
    expect_error(openrouter.read, root, rel, "duplicate JSON key")
    root = mirror(
        tmp_path / "c", rel, good.replace('"total_tokens": 351603467018', '"total_tokens": "many"')
    )
    expect_error(openrouter.read, root, rel, "total_tokens", "non-numeric")
    root = mirror(
        tmp_path / "d", rel, good.replace('"request_count": 13234528', '"request_count": -3')
    )
    expect_error(openrouter.read, root, rel, "request_count", "out of range")
    root = mirror(tmp_path / "e", CATALOG, text(CATALOG).replace('"pricing"', '"prices"', 1))
    expect_error(openrouter.read, root, CATALOG, "pricing", "missing key")


def test_openrouter_malformed_yaml(tmp_path: Path) -> None:
    good = text(YAML)
    root = mirror(
        tmp_path / "a", YAML, good.replace('open_or_closed: "open"', 'open_or_closed: "maybe"', 1)
    )
    expect_error(openrouter.read, root, YAML, "open_or_closed")
    root = mirror(
        tmp_path / "b", YAML, good.replace('  origin: "CN"', '  origin: "CN"\n  origin: "US"', 1)
    )
    expect_error(openrouter.read, root, YAML, "duplicate key")


# --------------------------------------------------------------------- ollama


@needs_full_raw
def test_ollama_known_pulls(oll: dict[str, pd.DataFrame]) -> None:
    a = oll["adoption"]
    assert set(a["source"]) == {"ollama-auditomatic", "ollama-d3rhami"}
    assert set(a["signal"]) == {"ollama_pulls"}
    # auditomatic 2025-12-15T22:50:57Z: llama3.1 107.6M; d3rhami 2025-12-01T02:33Z: 106.7M
    assert value(a, "ollama-auditomatic", "llama3.1", "ollama_pulls", "2025-12-15") == 107_600_000
    assert value(a, "ollama-d3rhami", "llama3.1", "ollama_pulls", "2025-12-01") == 106_700_000
    # 22 d3rhami commits on 2025-09-16 collapse into one row
    assert value(a, "ollama-d3rhami", "qwen3", "ollama_pulls", "2025-09-16") == 8_200_000
    assert oll["meta"].empty


@needs_full_raw
def test_ollama_blank_counts_and_rank_keys_dropped(oll: dict[str, pd.DataFrame]) -> None:
    a = oll["adoption"]
    # mistral-large-3 has blank counts until 2026-01-13: missing, never 0
    rows = a[(a["source"] == "ollama-auditomatic") & (a["source_model"] == "mistral-large-3")]
    assert rows["date"].min() == pd.Timestamp("2026-01-14") and rows["value"].min() > 0
    # the first d3rhami commit keys rows by rank ("1", "-1"): skipped
    assert not a["source_model"].str.fullmatch(r"-?\d+").any()


def test_ollama_parse_count() -> None:
    assert ollama.parse_count("1.2M") == 1_200_000
    assert ollama.parse_count("286.5K") == 286_500
    assert ollama.parse_count("6,517") == 6517
    assert np.isnan(ollama.parse_count(""))
    with pytest.raises(ValueError, match="not a pull count"):
        ollama.parse_count("lots")


def test_ollama_malformed(tmp_path: Path) -> None:
    lines = text(AUDITOMATIC).splitlines()
    header, first = lines[0], lines[1]
    root = mirror(
        tmp_path / "a",
        AUDITOMATIC,
        "\n".join([header.replace("pullCount_num", "pulls")] + lines[1:3]),
    )
    expect_error(ollama.read, root, AUDITOMATIC, "pullCount_num", "missing column")
    root = mirror(
        tmp_path / "b", AUDITOMATIC, "\n".join([header, first.replace(",53400000,", ",many,")])
    )
    expect_error(ollama.read, root, AUDITOMATIC, "row 2", "non-numeric")
    root = mirror(
        tmp_path / "c", AUDITOMATIC, "\n".join([header, first.replace(",53400000,", ",-7,")])
    )
    expect_error(ollama.read, root, AUDITOMATIC, "row 2", "out of range")
    d_header = text(D3RHAMI).splitlines()[0]
    row = "2025-09-20T01:00:00+00:00,llama3.1,5x6,,89,tools,2025-07-15,1"
    root = mirror(tmp_path / "d", D3RHAMI, f"{d_header}\n{row}\n")
    expect_error(ollama.read, root, D3RHAMI, "pull_str", "row 2", "non-numeric")


# ------------------------------------------------------------------- catalogs


@needs_full_raw
def test_models_dev_provider_counts(cat: dict[str, pd.DataFrame]) -> None:
    a = cat["adoption"]
    # UTC day of the 2026-07-02T00:40+08:00 snapshot; gemini-2.5-pro is listed by 15
    # providers, 3 of them not aggregators (google, google-vertex, sap-ai-core)
    assert value(a, "models.dev", "gemini-2.5-pro", "providers", "2026-07-01") == 15
    assert value(a, "models.dev", "gemini-2.5-pro", "providers_non_aggregator", "2026-07-01") == 3
    assert value(a, "models.dev", "kimi-k2.5", "providers", "2026-07-01") == 21
    assert value(a, "models.dev", "kimi-k2.5", "providers_non_aggregator", "2026-07-01") == 13


@needs_full_raw
def test_models_dev_meta(cat: dict[str, pd.DataFrame]) -> None:
    row = meta_row(cat["meta"], "models.dev", "claude-sonnet-4-5-20250929")
    assert row["organization"] == "Anthropic" and row["display_name"] == "Claude Sonnet 4.5"
    assert row["release_date"] == pd.Timestamp("2025-09-29")
    assert row["open_weights"] is False and row["reasoning"] is True
    assert meta_row(cat["meta"], "models.dev", "kimi-k2.5")["open_weights"] is True


def test_litellm(cat: dict[str, pd.DataFrame]) -> None:
    a = cat["adoption"]
    m = "gpt-4o-2024-05-13"
    listed = a[
        (a["source"] == "litellm") & (a["source_model"] == m) & (a["signal"] == "litellm_listed")
    ]
    assert listed["date"].min() == pd.Timestamp("2024-05-14")  # first_seen 2024-05-14T00:46-07:00
    assert value(a, "litellm", m, "price_input_usd_per_mtok", "2024-05-14") == pytest.approx(5.0)
    assert value(a, "litellm", m, "price_output_usd_per_mtok", "2024-05-14") == pytest.approx(15.0)
    assert value(a, "litellm", m, "litellm_providers", "2024-05-14") >= 1
    # day-precise first_seen from the keys CSV: azure/gpt-4o-2024-05-13 2024-10-16T23:28-07:00
    assert has(
        a,
        source="litellm",
        source_model="azure/gpt-4o-2024-05-13",
        signal="litellm_listed",
        date="2024-10-17",
    )
    prices = a[(a["source"] == "litellm") & a["signal"].str.startswith("price_")]
    assert prices["value"].max() <= catalogs.LITELLM_PRICE_MAX


def test_pydantic_and_simonw_prices(cat: dict[str, pd.DataFrame]) -> None:
    a = cat["adoption"]
    # o3: base price 10/40, a start_date 2025-06-10 entry cuts it to 2/8
    assert (
        value(a, "pydantic-genai-prices", "openai/o3", "price_input_usd_per_mtok", "2025-07-31")
        == 2
    )
    assert (
        value(a, "pydantic-genai-prices", "openai/o3", "price_output_usd_per_mtok", "2025-07-31")
        == 8
    )
    assert (
        value(a, "simonw-llm-prices", "deepseek-chat", "price_input_usd_per_mtok", "2025-02-08")
        == 0.27
    )
    assert (
        meta_row(cat["meta"], "simonw-llm-prices", "claude-3.7-sonnet")["organization"]
        == "anthropic"
    )


def test_catalogs_malformed(tmp_path: Path) -> None:
    good = text(PYDANTIC)
    root = mirror(tmp_path / "a", PYDANTIC, good[: len(good) // 3])
    expect_error(catalogs.read, root, PYDANTIC, "invalid JSON")
    root = mirror(tmp_path / "b", LITELLM, '{"gpt-4": {"mode": "chat"}, "gpt-4": {"mode": "chat"}}')
    expect_error(catalogs.read, root, LITELLM, "duplicate JSON key")
    root = mirror(
        tmp_path / "c", LITELLM, '{"gpt-4": {"mode": "chat", "input_cost_per_token": "cheap"}}'
    )
    expect_error(catalogs.read, root, LITELLM, "input_cost_per_token", "non-numeric")
    lines = text(MONTHLY).splitlines()
    root = mirror(
        tmp_path / "d",
        MONTHLY,
        "\n".join(
            ["snapshot_commit_date,model_id"]
            + [ln.rsplit(",", 2)[0] + "," + ln.rsplit(",", 1)[1] for ln in lines[1:4]]
        ),
    )
    expect_error(catalogs.read, root, MONTHLY, "provider", "missing column")
    root = mirror(tmp_path / "e", SIMONW, text(SIMONW).replace('"input": 0.27', '"input": -0.27'))
    expect_error(catalogs.read, root, SIMONW, "input", "out of range")
