"""Data layer: source contract, license table, raw checks with physical meaning, time-honest features."""

from __future__ import annotations

import pandas as pd
import pytest

from conftest import SNAPSHOT, run_cli
from divergence.errors import ConfigError, SourceError


def test_every_source_meets_the_contract():
    from divergence.sources import registry, source_names

    reg = registry()
    assert list(reg) == ["arena", "artificial-analysis", "epoch", "llm-stats", "livebench",
                         "leaderboards", "openrouter", "ollama", "catalogs"]  # fmt: skip
    folders = [u.folder for s in reg.values() for u in s.upstreams]
    assert len(folders) == len(set(folders))
    for src in reg.values():
        assert callable(src.reader) and src.upstreams
        for up in src.upstreams:
            assert up.license and up.upstream and up.feeds, up.folder
    names = source_names()
    assert {"swe-bench", "artificial-analysis", "lmarena-catalog"} <= set(names)


def test_license_table_names_the_non_commercial_source():
    text = (SNAPSHOT / "SOURCES.md").read_text()
    line = next(t for t in text.splitlines() if t.startswith("- **Non-commercial**"))
    assert "`swe-bench`" in line
    row = next(t for t in text.splitlines() if t.startswith("| benchmarks/swe-bench |"))
    assert "non-commercial" in row


def test_exclude_source_unknown_name_is_one_line_error(tmp_path):
    from divergence.dataset import check_exclude

    with pytest.raises(ConfigError, match="unknown source 'nope'"):
        check_exclude(["nope"])
    assert check_exclude(["leaderboards"]) >= {"swe-bench", "aider"}
    with pytest.raises(ConfigError, match="arena"):
        check_exclude(["arena"])
    res = run_cli(["data", "build", "--out", str(tmp_path / "s"), "--exclude-source", "nope"])
    assert res.returncode != 0
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "nope" in lines[0] and "Traceback" not in res.stderr
    assert not (tmp_path / "s").exists()


def test_reader_output_without_drops_the_source():
    from divergence.sources.base import ReaderOutput

    bench = pd.DataFrame({"source": ["swe-bench", "aider"], "x": [1, 2]})
    out = ReaderOutput(benchmarks=bench).without({"swe-bench"})
    assert out.benchmarks["source"].tolist() == ["aider"]
    assert [k for k, _ in out.items()] == ["benchmarks"]


def _ratings(rating: float, board: str = "raw", category: str = "full") -> pd.DataFrame:
    return pd.DataFrame(
        {
            "source": ["lmarena-catalog"],
            "model_key": ["m"],
            "board": [board],
            "category": [category],
            "snapshot_date": [pd.Timestamp("2025-05-01")],
            "rating": [rating],
            "rating_lo": [float("nan")],
            "rating_hi": [float("nan")],
        }
    )


@pytest.mark.parametrize(
    ("rating", "board", "category", "ok"),
    [
        (14.0, "raw", "full", False),  # a truncated 1400
        (1350.0, "raw", "full", True),
        (600.0, "style", "full", False),  # below any overall rating ever seen
        (600.0, "raw", "no_tie", True),  # sub-categories spread wider
        (2500.0, "style", "coding", False),
    ],
)
def test_rating_bounds_per_board(rating, board, category, ok):
    from divergence.schema import validate

    df = _ratings(rating, board, category)
    if ok:
        assert len(validate(df, "ratings", "f.json")) == 1
    else:
        with pytest.raises(SourceError, match=r"f\.json.*'rating'.*outside"):
            validate(df, "ratings", "f.json")


def test_rating_outside_its_own_interval_fails():
    from divergence.schema import validate

    df = _ratings(1300.0).assign(rating_lo=[1310.0], rating_hi=[1320.0])
    with pytest.raises(SourceError, match="rating_lo"):
        validate(df, "ratings", "f.json")


def test_future_dates_are_relative_to_today_or_the_scrape():
    from divergence.sources._io import parse_dates

    today = pd.Timestamp.now(tz="UTC").tz_convert(None).normalize()
    soon = pd.Series([str((today + pd.Timedelta(days=3)).date())])
    assert parse_dates(soon, "date", "f.csv").notna().all()
    late = pd.Series([str((today + pd.Timedelta(days=40)).date())])
    with pytest.raises(SourceError, match=r"'date'.*future"):
        parse_dates(late, "date", "f.csv")
    with pytest.raises(SourceError, match="future"):
        parse_dates(pd.Series(["2025-01-02"]), "date", "f.csv", latest="2025-01-01")


def test_conflicting_duplicates_are_reported_with_both_values(capsys):
    from divergence.sources._io import resolve_duplicates

    df = pd.DataFrame(
        {"key": ["a", "a", "a", "b"], "date": [1, 1, 1, 1], "rating": [10, 12, 10, 5]}
    )
    out = resolve_duplicates(df, ["key", "date"], ["rating"], "f.csv", "first row in the file")
    assert out["rating"].tolist() == [10, 5]
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert "f.csv" in err[0] and "first row in the file" in err[0] and "10, 12" in err[0]


def _adoption_tables():
    release = pd.Series(
        [pd.Timestamp("2025-01-01"), pd.Timestamp("2025-06-01")],
        index=pd.Index(["old", "new"], name="model_id"),
    )
    days = pd.date_range("2025-01-01", "2025-09-30", freq="D")
    rows = [
        {
            "model_id": m,
            "source": "ollama-x",
            "signal": "ollama_pulls",
            "date": d,
            "value": float(i),
        }
        for m in release.index
        for i, d in enumerate(days)
    ]
    return release, pd.DataFrame(rows)


def test_adoption_is_cut_at_the_target_date():
    from divergence.features.build import adoption_features
    from divergence.features.spec import AdoptionSpec, FeatureSpec

    release, adoption = _adoption_tables()
    spec = FeatureSpec(name="t", adoption=AdoptionSpec(age_days=90, level=("ollama_pulls",)))
    full = adoption_features(adoption, release, spec)["adopt.ollama_pulls_90d"]
    as_of = pd.Series([pd.Timestamp("2025-12-01"), pd.Timestamp("2025-07-01")], index=release.index)
    cut = adoption_features(adoption, release, spec, as_of)["adopt.ollama_pulls_90d"]
    assert cut["old"] == full["old"]  # release + 90 d comes first
    # the new model's target date (2025-07-01) comes before release + 90 d: value of that day
    day = adoption.loc[
        (adoption["model_id"] == "new") & (adoption["date"] == "2025-07-01"), "value"
    ]
    assert cut["new"] == float(day.iloc[0]) < full["new"]


def test_benchmarks_after_the_target_date_are_not_used():
    from divergence.features.build import benchmark_features
    from divergence.features.spec import FeatureSpec

    bench = pd.DataFrame(
        {
            "model_id": ["a", "a", "b"],
            "source": ["artificial-analysis"] * 3,
            "benchmark": ["aa:gpqa"] * 3,
            "score": [0.5, 0.6, 0.7],
            "as_of": pd.to_datetime(["2026-03-01", "2026-07-31", "2026-07-31"]),
            "self_reported": [False] * 3,
        }
    )
    as_of = pd.Series(pd.Timestamp("2026-03-27"), index=["a", "b"])
    wide = benchmark_features(bench, FeatureSpec(name="t"), as_of)
    assert wide.loc["a", "aa.gpqa"] == 0.5
    assert "b" not in wide.index or pd.isna(wide.loc["b", "aa.gpqa"])


def test_columns_only_for_test_era_models_are_dropped():
    from divergence.features import drop_test_era_only

    X = pd.DataFrame({"x": [1.0, 2.0, 3.0], "late": [None, None, 1.0]}, index=["a", "b", "c"])
    release = pd.Series(pd.to_datetime(["2025-01-01", "2025-02-01", "2025-03-01"]), index=X.index)
    X2, Xb2, dropped = drop_test_era_only(X, X, release, pd.Timestamp("2025-03-01"))
    assert dropped == ["late"] and list(X2.columns) == ["x"] == list(Xb2.columns)


def test_snapshot_ships_conflict_tables_and_dated_aa_scores(snapshot):
    rel = pd.read_csv(SNAPSHOT / "conflicts_release.csv")
    ow = pd.read_csv(SNAPSHOT / "conflicts_open_weights.csv")
    assert {"model_id", "release_date", "release_date_source", "spread_days", "values"} <= set(
        rel.columns
    )
    assert (rel["spread_days"] > 7).all()
    assert {"says_open", "says_closed"} <= set(ow.columns)
    models = snapshot["models"].set_index("model_id")
    # released 2026-02-19; one history source listed it on 2026-02-06
    assert models.loc["gemini-3.1-pro-preview", "release_date"] >= pd.Timestamp("2026-02-18")
    aa = snapshot["benchmarks"]
    aa = aa[aa["source"] == "artificial-analysis"]
    assert (aa["as_of"] < pd.Timestamp("2026-07-31")).sum() > 1000
