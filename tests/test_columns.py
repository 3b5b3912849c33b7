"""Declared column scales: complete for the shipped predictor, and true of the bundled data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from divergence import columns
from divergence.features.build import benchmark_column

REPO = Path(__file__).resolve().parents[1]
MODEL = REPO / "models" / "divergence-utility" / "predictor"
SNAPSHOT = REPO / "data" / "snapshot"


def test_every_input_column_of_the_shipped_predictor_has_a_scale() -> None:
    from divergence.predictor import load_predictor

    pred = load_predictor(MODEL)
    missing = [c for c in pred.input_columns if columns.column_scale(c) is None]
    assert missing == []
    assert set(pred.scales) == set(pred.input_columns)


def test_shipped_feature_table_lies_inside_the_declared_scales() -> None:
    f = pd.read_csv(MODEL / "features.csv.gz").drop(columns="model_id")
    for c in f.columns:
        s = columns.column_scale(c)
        v = f[c].dropna().to_numpy()
        assert ((v >= s.lo) & (v <= s.hi)).all(), (c, v.min(), v.max(), s)


def test_snapshot_benchmarks_lie_inside_the_declared_scales() -> None:
    """Raw scores of the snapshot (LiveBench is z-scored before it becomes a feature)."""
    b = pd.read_csv(SNAPSHOT / "benchmarks.csv.gz", usecols=["benchmark", "score"])
    b["column"] = b["benchmark"].map(benchmark_column)
    b = b[~b["column"].str.startswith("livebench.") & ~b["column"].map(columns.is_leaky)]
    bad = []
    for c, g in b.groupby("column"):
        s = columns.column_scale(c)
        assert s is not None, c
        v = g["score"].to_numpy()
        if not ((v >= s.lo) & (v <= s.hi)).all():
            bad.append((c, float(np.min(v)), float(np.max(v)), s.name))
    assert bad == []


@pytest.mark.parametrize(
    "column, value, ok",
    [
        ("aa.gpqa", 0.0, True),
        ("aa.gpqa", 1.0, True),
        ("aa.gpqa", 1.01, False),
        ("aa.artificial_analysis_intelligence_index", 60.0, True),
        ("aa.artificial_analysis_intelligence_index", 101.0, False),
        ("swebench.verified", -0.1, False),
        ("epoch.eci", 150.0, True),
        ("epoch.eci", 1e6, False),
        ("livebench.coding", -3.0, True),
        ("adopt.providers_90d", -1.0, False),
        ("meta.release_days", -20000.0, True),
    ],
)
def test_scale_bounds(column: str, value: float, ok: bool) -> None:
    s = columns.column_scale(column)
    assert (s.lo <= value <= s.hi) is ok


def test_predicates_are_shared() -> None:
    from divergence import model
    from divergence.features import spec

    assert (
        spec.is_leaky is columns.is_leaky
        and model.is_benchmark_column is columns.is_benchmark_column
    )
    assert columns.is_leaky("lmarena.text") and not columns.is_leaky("aa.gpqa")
    assert columns.is_adoption_column("adopt.x") and columns.is_meta_column("meta.x")
    assert not columns.is_benchmark_column("meta.x") and columns.is_benchmark_column("aa.x")
