"""Black-box tests of the LMArena reader on the real raw files and on malformed copies."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import RAW, needs_full_raw, one_row
from divergence.errors import SourceError
from divergence.schema import READER_SCHEMAS, validate
from divergence.sources.arena import list_arena_keys, open_weights_from_license, read_arena

ARENA = RAW / "arena"
KEYS = ["source", "model_key", "board", "category", "snapshot_date"]


CATALOG_TEXT = "lmarena-arena-catalog/text/leaderboard-data_2025-02-06_52fbb4ec6.json"
CATALOG_STYLE = (
    "lmarena-arena-catalog/text_style_control/"
    "leaderboard-text-style-control_2025-05-21_6dddc5f35.json"
)
SCRAPE_TEXT = "arena-ai-scrape/leaderboard-text/leaderboard-text_2026-03-27_34a1804.json"
SCRAPE_STYLE = (
    "arena-ai-scrape/leaderboard-text-style-control/"
    "leaderboard-text-style-control_2026-03-27_34a1804.json"
)
JASON = "jasontrigg0-chatbot-arena-history/alltime.csv"
JASON_K2M = "jasontrigg0-chatbot-arena-history/key_to_model.csv"
NAKASYOU = "nakasyou-lmarena-history/result.csv"
FBOULNOIS = "fboulnois-llm-leaderboard-csv/lmsys_history/lmsys_2024.06.19.csv"
FBOULNOIS_LATEST = "fboulnois-llm-leaderboard-csv/lmarena_latest/lmarena_text_2025.08.04.csv"
UTTERSTEP = (
    "utterstep-chatbot-arena-leaderboard-vis/leaderboard_tables/leaderboard_table_20250511.csv"
)
MAYERWIN = "mayerwin-AI-Arena-History/flagship_elo_history.csv"
MINI_FILES = [
    CATALOG_TEXT,
    CATALOG_STYLE,
    SCRAPE_TEXT,
    SCRAPE_STYLE,
    JASON,
    JASON_K2M,
    NAKASYOU,
    FBOULNOIS,
    FBOULNOIS_LATEST,
    UTTERSTEP,
    MAYERWIN,
]


# ------------------------------------------------------------------ real data


@pytest.fixture(scope="module")
def arena() -> dict[str, pd.DataFrame]:
    return read_arena(RAW)


@pytest.fixture(scope="module")
def ratings(arena: dict[str, pd.DataFrame]) -> pd.DataFrame:
    return arena["ratings"]


def test_schema_and_order(arena: dict[str, pd.DataFrame]) -> None:
    assert set(arena) == {"ratings", "meta"}
    for kind, df in arena.items():
        assert list(df.columns) == list(READER_SCHEMAS[kind])
        pd.testing.assert_frame_equal(validate(df, kind), df)
    r = arena["ratings"]
    assert not r.duplicated(KEYS).any()
    pd.testing.assert_frame_equal(r, r.sort_values(KEYS).reset_index(drop=True))
    assert np.isfinite(r["rating"]).all()
    assert r["rating"].between(0, 3000).all()
    assert set(r["board"]) == {"raw", "style"}
    assert set(r["source"]) == {
        "lmarena-catalog",
        "arena-ai-scrape",
        "jasontrigg0",
        "nakasyou",
        "fboulnois",
        "mayerwin",
    }
    m = arena["meta"]
    assert not m.duplicated(["source", "source_model"]).any()
    assert set(m["source"]) == {"jasontrigg0", "utterstep", "fboulnois"}


def test_catalog_known_value(ratings: pd.DataFrame) -> None:
    row = one_row(
        ratings,
        source="lmarena-catalog",
        model_key="gpt-4o-2024-05-13",
        board="style",
        category="full",
        snapshot_date=pd.Timestamp("2025-05-21"),
    )
    assert row["rating"] == pytest.approx(1323.6640217640936)
    assert row["rating_lo"] == pytest.approx(1322.1840676939228)
    assert row["rating_hi"] == pytest.approx(1325.8546927892885)


@needs_full_raw
def test_catalog_categories(ratings: pd.DataFrame) -> None:
    cat = ratings[ratings["source"] == "lmarena-catalog"]
    late = set(cat.loc[cat["snapshot_date"] >= "2025-11-06", "category"])
    assert "expert" in late
    assert len({c for c in late if c.startswith("industry_")}) == 8
    early = set(cat.loc[cat["snapshot_date"] < "2025-11-05", "category"])
    assert "expert" not in early
    assert {"full", "coding", "math", "hard_6", "no_refusal", "japanese"} <= early
    row = one_row(
        cat,
        model_key="gemini-3-pro",
        board="raw",
        category="industry_legal_and_government",
        snapshot_date=pd.Timestamp("2025-12-11"),
    )
    assert row["rating"] == pytest.approx(1492.805813397903)
    assert cat["snapshot_date"].nunique() == 22


def test_catalog_style_in_early_text_files(ratings: pd.DataFrame) -> None:
    # leaderboard-data_2025-01-28: "full" is the style-controlled board, "coding" the raw one
    cat = ratings[
        (ratings["source"] == "lmarena-catalog")
        & (ratings["snapshot_date"] == pd.Timestamp("2025-01-28"))
    ]
    full = one_row(cat, model_key="gpt-4o-2024-05-13", category="full")
    assert full["board"] == "style" and full["rating"] == pytest.approx(1263.4682733987736)
    coding = one_row(cat, model_key="gpt-4o-2024-05-13", category="coding")
    assert coding["board"] == "raw"


def test_scrape_seed_and_stale_categories(ratings: pd.DataFrame) -> None:
    scr = ratings[ratings["source"] == "arena-ai-scrape"]
    assert not {"no_refusal", "no_short"} & set(scr["category"])
    assert "expert" in set(scr["category"])
    # 2026-02-27: 81f862c (1503) is kept, the seed eeff8dc (1504) dropped
    row = one_row(
        scr,
        model_key="claude-opus-4-6",
        board="style",
        category="full",
        snapshot_date=pd.Timestamp("2026-02-27"),
    )
    assert row["rating"] == 1503.0 and row["rating_lo"] == 1496.0 and row["rating_hi"] == 1510.0
    assert scr["snapshot_date"].max() == pd.Timestamp("2026-03-27")


def test_jasontrigg0_known_value_and_online_elo_dropped(ratings: pd.DataFrame) -> None:
    jt = ratings[ratings["source"] == "jasontrigg0"]
    row = one_row(jt, model_key="gpt-4o-2024-05-13", snapshot_date=pd.Timestamp("2024-05-15"))
    assert row["rating"] == pytest.approx(1289.1649796223994)
    assert np.isnan(row["rating_lo"]) and np.isnan(row["rating_hi"])
    assert (jt["board"] == "raw").all() and (jt["category"] == "full").all()
    assert jt["snapshot_date"].min() == pd.Timestamp("2024-03-27")
    # a 2023 model has history targets
    vic = one_row(jt, model_key="vicuna-13b", snapshot_date=pd.Timestamp("2024-03-27"))
    assert vic["rating"] == pytest.approx(1037.6085899592294)


@needs_full_raw
def test_nakasyou_and_fboulnois(ratings: pd.DataFrame) -> None:
    nk = one_row(
        ratings,
        source="nakasyou",
        model_key="gpt-4o-2024-05-13",
        snapshot_date=pd.Timestamp("2024-06-29"),
    )
    assert nk["rating"] == pytest.approx(1287.0196469719676)
    assert ratings.loc[ratings["source"] == "nakasyou", "snapshot_date"].min() == pd.Timestamp(
        "2024-06-29"
    )
    fb = one_row(
        ratings,
        source="fboulnois",
        model_key="gpt-4o-2024-05-13",
        snapshot_date=pd.Timestamp("2024-06-19"),
    )
    assert (fb["rating"], fb["rating_lo"], fb["rating_hi"]) == (1287.0, 1284.0, 1290.0)
    # renamed key resolved by date: "Gemini-1.5-Pro-001" was gemini-1.5-pro-api-0514 in 2024-08
    fbs = ratings[ratings["source"] == "fboulnois"]
    aug = fbs[
        fbs["snapshot_date"] == fbs.loc[fbs["snapshot_date"] >= "2024-08-07", "snapshot_date"].min()
    ]
    assert "gemini-1.5-pro-api-0514" in set(aug["model_key"])
    assert "gemini-1.5-pro-001" not in set(aug["model_key"])


@needs_full_raw
def test_mayerwin_variants(ratings: pd.DataFrame) -> None:
    mw = ratings[ratings["source"] == "mayerwin"]
    row = one_row(mw, model_key="gpt-5-high", snapshot_date=pd.Timestamp("2025-08-07"))
    assert row["rating"] == pytest.approx(1461.812973501465)
    # "gpt-5.4" merges gpt-5.4 and gpt-5.4-high upstream: ambiguous, dropped
    assert not {"gpt-5", "gpt-5.4", "claude-opus-4-6"} & set(mw["model_key"])
    gap = mw[(mw["snapshot_date"] > "2025-08-05") & (mw["snapshot_date"] < "2025-11-05")]
    assert gap["model_key"].nunique() >= 10
    assert mw["snapshot_date"].min() == pd.Timestamp("2024-01-09")


def test_meta(arena: dict[str, pd.DataFrame]) -> None:
    meta = arena["meta"].set_index(["source", "source_model"])
    gpt = meta.loc[("jasontrigg0", "gpt-4o-2024-05-13")]
    assert gpt["display_name"] == "GPT-4o-2024-05-13" and gpt["organization"] == "OpenAI"
    assert gpt["open_weights"] is False
    assert meta.loc[("utterstep", "llama-2-70b-chat"), "open_weights"] is True
    assert meta.loc[("fboulnois", "internlm2_5-20b-chat"), "open_weights"] is None  # "Other"
    assert meta.loc[("jasontrigg0", "claude-v1"), "display_name"] == "Claude 1"  # key_to_model
    assert meta["release_date"].isna().all() and meta["reasoning"].isna().all()


@needs_full_raw
def test_list_arena_keys(ratings: pd.DataFrame) -> None:
    keys = list_arena_keys(ratings)
    assert list(keys.columns) == ["model_key", "first_seen", "last_seen", "n_snapshots"]
    assert keys["model_key"].is_unique and keys["model_key"].is_monotonic_increasing
    assert set(keys["model_key"]) == set(ratings["model_key"])
    assert (keys["first_seen"] <= keys["last_seen"]).all()
    gpt = keys.set_index("model_key").loc["gpt-4o-2024-05-13"]
    assert gpt["first_seen"] == pd.Timestamp("2024-05-15")
    assert gpt["n_snapshots"] > 100
    assert keys["n_snapshots"].dtype == np.int64


@pytest.mark.parametrize(
    ("label", "expected"),
    [
        ("Proprietary", False),
        ("Propretary", False),
        ("Apache 2.0", True),
        ("MIT", True),
        ("Llama 3.1 Community", True),
        ("CC-BY-NC-4.0", True),
        ("Qianwen LICENSE", True),
        ("Non-commercial", True),
        ("Other", None),
        ("-", None),
        (None, None),
        ("", None),
    ],
)
def test_open_weights_rule(label: str | None, expected: bool | None) -> None:
    assert open_weights_from_license(label) is expected


# ------------------------------------------------------------- malformed copies


@pytest.fixture()
def mini(tmp_path: Path) -> Path:
    """A raw tree with one real file per source (symlinks), which tests may overwrite."""
    for rel in MINI_FILES:
        dest = tmp_path / "arena" / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.symlink_to(ARENA / rel)
    return tmp_path


def _write(mini: Path, rel: str, text: str) -> Path:
    path = mini / "arena" / rel
    path.unlink()
    path.write_text(text, encoding="utf-8")
    return path


def _edit_json(mini: Path, rel: str, edit) -> Path:
    data = json.loads((ARENA / rel).read_text(encoding="utf-8"))
    edit(data)
    return _write(mini, rel, json.dumps(data))


def _raises(mini: Path, path: Path, *fragments: str) -> None:
    with pytest.raises(SourceError) as info:
        read_arena(mini)
    msg = str(info.value)
    assert str(path) in msg and "\n" not in msg
    for frag in fragments:
        assert frag in msg


def test_mini_tree_reads_and_is_deterministic(mini: Path) -> None:
    first = read_arena(mini)
    second = read_arena(mini)
    for kind in first:
        pd.testing.assert_frame_equal(first[kind], second[kind])
    assert len(first["ratings"]) > 1000


def test_truncated_json(mini: Path) -> None:
    text = (ARENA / CATALOG_TEXT).read_text(encoding="utf-8")
    path = _write(mini, CATALOG_TEXT, text[: len(text) // 2])
    _raises(mini, path, "invalid JSON")


def test_rating_as_text(mini: Path) -> None:
    def edit(d: dict) -> None:
        d["full"]["claude-opus-4-6"]["rating"] = "high"

    path = _edit_json(mini, SCRAPE_TEXT, edit)
    _raises(mini, path, "'rating'", "full/claude-opus-4-6", "non-numeric")


def test_missing_rating_key(mini: Path) -> None:
    def edit(d: dict) -> None:
        del d["coding"]["gpt-4o-2024-05-13"]["rating_q975"]

    path = _edit_json(mini, CATALOG_STYLE, edit)
    _raises(mini, path, "'rating_q975'", "coding/gpt-4o-2024-05-13", "missing key")


def test_rating_out_of_range_and_infinite(mini: Path) -> None:
    def edit(d: dict) -> None:
        d["math"]["gpt-4o-2024-05-13"]["rating"] = 5000

    path = _edit_json(mini, CATALOG_TEXT, edit)
    _raises(mini, path, "out of range")
    _write(
        mini,
        CATALOG_TEXT,
        '{"full": {"a": {"rating": Infinity, "rating_q025": 1, "rating_q975": 2}}}',
    )
    _raises(mini, path, "non-finite")


def test_duplicate_json_key(mini: Path) -> None:
    rec = '{"rating": 1200.0, "rating_q025": 1190.0, "rating_q975": 1210.0}'
    path = _write(mini, SCRAPE_STYLE, f'{{"full": {{"m-1": {rec}, "m-1": {rec}}}}}')
    _raises(mini, path, "duplicate JSON key", "m-1")


def test_json_without_full_board(mini: Path) -> None:
    path = _edit_json(mini, SCRAPE_TEXT, lambda d: d.pop("full"))
    _raises(mini, path, "'full'")


def test_csv_renamed_column(mini: Path) -> None:
    text = (ARENA / JASON).read_text(encoding="utf-8")
    path = _write(mini, JASON, text.replace("key,Model,rating,", "key,Model,score,", 1))
    _raises(mini, path, "missing column", "'rating'")


def test_csv_non_numeric_score(mini: Path) -> None:
    lines = (ARENA / FBOULNOIS).read_text(encoding="utf-8").splitlines()
    cells = lines[3].split(",")
    cells[2] = "n/a-score"
    lines[3] = ",".join(cells)
    path = _write(mini, FBOULNOIS, "\n".join(lines) + "\n")
    _raises(mini, path, "'arena_elo'", "row 4", "non-numeric")


def test_csv_malformed_ci(mini: Path) -> None:
    text = (ARENA / FBOULNOIS_LATEST).read_text(encoding="utf-8")
    path = _write(mini, FBOULNOIS_LATEST, text.replace("+5/-5", "5 either way", 1))
    _raises(mini, path, "'95_pct_ci'", "malformed CI")


def test_wide_csv_bad_cell(mini: Path) -> None:
    lines = (ARENA / NAKASYOU).read_text(encoding="utf-8").splitlines()
    cells = lines[5].split(",")
    cells[3] = "oops"
    lines[5] = ",".join(cells)
    path = _write(mini, NAKASYOU, "\n".join(lines) + "\n")
    _raises(mini, path, "non-numeric", "row 6")


def test_history_csv_renamed_key_column(mini: Path) -> None:
    text = (ARENA / MAYERWIN).read_text(encoding="utf-8")
    path = _write(mini, MAYERWIN, text.replace("model_name", "model", 1))
    _raises(mini, path, "'model_name'")
    text = (ARENA / UTTERSTEP).read_text(encoding="utf-8-sig")
    path = _write(mini, UTTERSTEP, text.replace("key,", "id,", 1))
    _write(mini, MAYERWIN, (ARENA / MAYERWIN).read_text(encoding="utf-8"))
    _raises(mini, path, "'key'")


def test_empty_file_and_missing_folder(mini: Path) -> None:
    path = _write(mini, JASON_K2M, "")
    _raises(mini, path, "empty file")
    shutil.rmtree(mini / "arena" / "mayerwin-AI-Arena-History")
    _write(mini, JASON_K2M, (ARENA / JASON_K2M).read_text(encoding="utf-8"))
    _raises(
        mini,
        mini / "arena" / "mayerwin-AI-Arena-History" / "flagship_elo_history.csv",
        "file not found",
    )
