"""Snapshot build: determinism, known values, coverage, bad raw input."""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest

from conftest import SNAPSHOT, needs_full_raw, run_cli
from divergence.snapshot import TABLES, load_snapshot


@pytest.fixture(scope="module")
def fresh(tmp_path_factory, raw_dir):
    out = tmp_path_factory.mktemp("snap") / "snapshot"
    res = run_cli(["data", "build", "--raw", str(raw_dir), "--out", str(out)])
    assert res.returncode == 0, res.stderr[-2000:]
    return out


@pytest.mark.slow
@needs_full_raw
def test_rebuild_is_identical_to_committed_snapshot(fresh):
    """Same raw data -> byte-identical tables (and the committed snapshot is up to date)."""
    a = json.loads((SNAPSHOT / "manifest.json").read_text())
    b = json.loads((fresh / "manifest.json").read_text())
    for t in TABLES:
        assert a["tables"][t]["sha256"] == b["tables"][t]["sha256"], (
            f"{t} differs: rebuild data/snapshot"
        )
    assert (fresh / "SOURCES.md").read_text() == (SNAPSHOT / "SOURCES.md").read_text()
    for name in ["conflicts_release.csv", "conflicts_open_weights.csv"]:
        assert (fresh / name).read_bytes() == (SNAPSHOT / name).read_bytes(), name


def test_manifest_has_attribution_and_counts(snapshot):
    m = json.loads((SNAPSHOT / "manifest.json").read_text())
    for t in TABLES:
        assert m["tables"][t]["rows"] == len(snapshot[t]) > 0
    folders = {s["folder"] for s in m["sources"]}
    assert "benchmarks/artificial-analysis" in folders and "arena/lmarena-arena-catalog" in folders
    assert all(s["license"] for s in m["sources"])
    assert all(s["raw_sha256"] for s in m["sources"] if s["raw_files"])


def test_known_ratings(snapshot):
    r = snapshot["ratings"]
    row = r[
        (r["model_id"] == "gpt-4o-2024-05-13")
        & (r["board"] == "style")
        & (r["category"] == "full")
        & (r["snapshot_date"] == "2025-01-28")
        & (r["source"] == "lmarena-catalog")
    ]
    assert len(row) == 1
    assert row["rating"].iloc[0] == pytest.approx(1263.468273, abs=1e-3)
    assert row["rating_lo"].iloc[0] < row["rating"].iloc[0] < row["rating_hi"].iloc[0]
    keys = ["model_id", "board", "category", "snapshot_date", "source"]
    assert not r.duplicated(keys).any()
    assert {"expert", "industry_legal_and_government", "industry_medicine_and_healthcare"} <= set(
        r["category"]
    )
    # rating_norm: the newest snapshot of a board/category is the reference scale
    full = r[(r["board"] == "style") & (r["category"] == "full")]
    newest = full[full["snapshot_date"] == full["snapshot_date"].max()]
    assert (newest["rating_norm"] - newest["rating"]).abs().max() < 1e-6


def test_known_benchmark_scores(snapshot):
    b = snapshot["benchmarks"]
    gpqa = b[(b["model_id"] == "gpt-oss-120b") & (b["benchmark"] == "aa:gpqa")]
    assert gpqa["score"].tolist() == [pytest.approx(0.782)]
    assert not gpqa["self_reported"].iloc[0]
    assert (
        b.loc[b["source"] == "llm-stats", "self_reported"].astype(bool).mean() > 0.95
    )  # ~99% vendor claims


def test_aliases_resolve_both_ways(snapshot):
    a = snapshot["aliases"]
    amap = {(s, x): m for s, x, m in zip(a["source"], a["alias"], a["model_id"], strict=True)}
    assert amap[("artificial-analysis", "gpt-oss-120b")] == "gpt-oss-120b"
    assert amap[("lmarena", "gpt-4o-2024-05-13")] == "gpt-4o-2024-05-13"
    assert amap[("epoch", "o3-2025-04-16_high")] == "o3-2025-04-16"
    back = a[a["model_id"] == "o3-2025-04-16"]
    assert {"lmarena", "epoch"} <= set(back["source"])


def test_models_table(snapshot):
    m = snapshot["models"]
    assert m["model_id"].is_unique
    arena = m[m["on_arena"].astype(bool)]
    assert arena["release_date"].notna().all()
    assert (arena["release_date"] >= pd.Timestamp("2022-01-01")).all()
    row = m.set_index("model_id").loc["gpt-4o-2024-05-13"]
    assert row["organization"] == "OpenAI" and row["open_weights"] is False
    assert row["release_date"] == pd.Timestamp("2024-05-13")


def test_coverage_command():
    res = run_cli(["data", "coverage"])
    assert res.returncode == 0, res.stderr
    assert "artificial-analysis" in res.stdout
    assert "without an Artificial Analysis match" in res.stdout


@pytest.mark.slow
def test_bad_raw_file_keeps_previous_snapshot(tmp_path, raw_dir):
    """A truncated raw JSON stops the build with one line; the old snapshot is untouched."""
    raw = tmp_path / "raw"
    shutil.copytree(raw_dir, raw, symlinks=False, ignore=shutil.ignore_patterns("*.gz"))
    for p in raw.rglob("*"):
        p.chmod(0o755 if p.is_dir() else 0o644)
    victim = raw / "benchmarks" / "artificial-analysis" / "aa_api_live.json"
    victim.write_text(victim.read_text()[:5000])
    out = tmp_path / "snapshot"
    shutil.copytree(SNAPSHOT, out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    res = run_cli(["data", "build", "--raw", str(raw), "--out", str(out)])
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert lines[-1].startswith("error: ") and "aa_api_live.json" in lines[-1]
    assert "Traceback" not in res.stderr
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".snapshot")]


def test_load_snapshot_detects_corruption(tmp_path):
    from divergence.errors import SourceError

    out = tmp_path / "snap"
    shutil.copytree(SNAPSHOT, out)
    (out / "models.csv.gz").write_bytes(b"garbage")
    with pytest.raises(SourceError, match=r"models\.csv\.gz.*hash"):
        load_snapshot(out)


def test_slices_build_a_coherent_snapshot(slice_raw_dir):
    """The committed slices (always, with or without ../shared) build a usable snapshot."""
    import re

    from divergence.dataset import build

    tables, prov, _conflicts = build(slice_raw_dir)
    m = tables["models"].set_index("model_id")
    r = tables["ratings"]
    rated = set(r["model_id"])
    # the chosen models: arena-rated ones, reasoning variants as distinct rated models ...
    for key in ("gpt-4o-2024-05-13", "claude-3-7-sonnet-20250219-thinking-32k", "deepseek-r1"):
        assert key in rated, key
    assert m.loc["claude-3-7-sonnet-20250219-thinking-32k", "reasoning"] == True  # noqa: E712
    # ... and models released after the arena cut-off: benchmarks, no rating
    b = tables["benchmarks"]
    for key in ("glm-5-1", "kimi-k2-6", "deepseek-v4-pro"):
        assert m.loc[key, "release_date"] > pd.Timestamp("2026-03-31") and key not in rated
        assert (b["model_id"] == key).any(), key
    # real values, unchanged by slicing (same row as on the full tree)
    row = r[
        (r["model_id"] == "gpt-4o-2024-05-13")
        & (r["board"] == "style")
        & (r["category"] == "full")
        & (r["snapshot_date"] == "2025-01-28")
        & (r["source"] == "lmarena-catalog")
    ]
    assert row["rating"].tolist() == [pytest.approx(1263.468273, abs=1e-3)]
    # every source folder is present in the slices and attributed in their SOURCES.md
    sources_md = (slice_raw_dir / "SOURCES.md").read_text(encoding="utf-8")
    for src in prov:
        assert src["raw_files"] > 0, src["folder"]
        assert re.search(
            rf"\| `{re.escape(src['folder'])}` \|[^|]+\| {re.escape(src['license'])} \|", sources_md
        )
