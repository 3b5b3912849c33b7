"""Property-based tests (hypothesis): identity normalisation, feature builders, monotonicity.

- ``normalize`` is idempotent and never merges two distinct arena models: every spelling it
  claims to ignore (case, separators, vendor prefix, routing suffix, dashed dates) of an arena
  key (the snapshot's aliases with rule ``arena_key``) resolves back to that key and no other.
- Feature builders keep row counts and row identity, never look past a model's cut-off, are
  invariant to input row order, and adoption levels/flows are monotone in the observations.
- ``UtilityRegressor(monotone=True)`` predictions never decrease when one benchmark score rises.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import SMALL_EXPERIMENT
from divergence.identity import Resolver, normalize

# Arena keys that are one model listed under two keys by different arena snapshots (renamed key):
# normalising them to one id is right. Any other collision is a bug.
KNOWN_SAME_MODEL = [{"chatgpt-4o-latest-2024-08-08", "chatgpt-4o-latest-20240808"}]
SAME = {k: g for g in KNOWN_SAME_MODEL for k in g}

SETTINGS = settings(
    deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)


@pytest.fixture(scope="module")
def tables(snapshot):
    return snapshot


@pytest.fixture(scope="module")
def arena_keys(tables) -> list[str]:
    al = tables["aliases"]
    keys = sorted(al.loc[al["rule"] == "arena_key", "alias"])
    assert len(keys) > 300
    return keys


class _Quiet:
    """Fixture values hypothesis prints in a falsifying example: keep the report short."""

    def __init__(self, **kw: object) -> None:
        self.__dict__.update(kw)

    def __repr__(self) -> str:
        return f"<{', '.join(self.__dict__)}>"


@pytest.fixture(scope="module")
def ident(arena_keys, resolver) -> _Quiet:
    return _Quiet(keys=arena_keys, resolve=resolver.resolve)


@pytest.fixture(scope="module")
def resolver(tables, arena_keys) -> Resolver:
    m = tables["models"].set_index("model_id")
    first = tables["ratings"].groupby("model_id")["snapshot_date"].min()
    arena = pd.DataFrame(
        {
            "model_key": arena_keys,
            "display_name": m["display_name"].reindex(arena_keys).to_numpy(),
            "organization": m["organization"].reindex(arena_keys).to_numpy(),
            "first_seen": first.reindex(arena_keys).to_numpy(),
        }
    )
    none = pd.DataFrame(
        columns=["source", "source_model", "display_name", "organization", "release_date"]
    )
    return Resolver.build(arena, none)


# --------------------------------------------------------------------------- identity


def test_normalize_idempotent_on_every_snapshot_name(tables) -> None:
    names = (
        set(tables["aliases"]["alias"])
        | set(tables["aliases"]["model_id"])
        | set(tables["models"]["model_id"])
    )
    for name in names:
        once = normalize(name)
        assert normalize(once) == once, name
        assert re.fullmatch(r"[a-z0-9-]*", once), name


def test_arena_keys_have_distinct_normal_forms(arena_keys) -> None:
    groups: dict[str, set[str]] = {}
    for k in arena_keys:
        groups.setdefault(normalize(k), set()).add(k)
    merged = [g for g in groups.values() if len(g) > 1]
    assert all(g in KNOWN_SAME_MODEL for g in merged), merged


def test_alias_table_is_a_function_and_arena_keys_map_to_themselves(tables) -> None:
    al = tables["aliases"]
    assert not al.duplicated(["source", "alias"]).any()
    ak = al[al["rule"] == "arena_key"]
    assert (ak["alias"] == ak["model_id"]).all()
    assert ak["model_id"].is_unique


def _dash_date(s: str) -> str:
    return re.sub(
        r"(?<![0-9])(20[0-9]{2})(0[1-9]|1[0-2])([0-2][0-9]|3[01])(?![0-9])", r"\1-\2-\3", s
    )


DECORATIONS = {  # spellings normalize() documents as equivalent; applied in this order
    "upper": str.upper,
    "title": str.title,
    "dashed-date": _dash_date,
    "parenthesised": lambda s: s.replace("-", " (", 1) + ")" if "-" in s else s,
    "spaces": lambda s: s.replace("-", " "),
    "underscores": lambda s: s.replace("-", "_"),
    "dots": lambda s: s.replace("-", "."),
    "double-dash": lambda s: s.replace("-", "--"),
    "vendor-prefix": lambda s: "some-vendor/" + s,
    "routing-suffix": lambda s: s + ":free",
    "padding": lambda s: f"  {s}\t",
}


@SETTINGS
@given(data=st.data(), ops=st.sets(st.sampled_from(sorted(DECORATIONS)), min_size=1, max_size=5))
def test_spellings_of_an_arena_key_resolve_to_that_key(ident, data, ops) -> None:
    key = data.draw(st.sampled_from(ident.keys), label="key")
    name = key
    for op in DECORATIONS:  # in a fixed order: suffixes and padding go on last
        if op in ops:
            name = DECORATIONS[op](name)
    assert normalize(normalize(name)) == normalize(name)
    assert normalize(name) == normalize(key), (key, name)
    got = ident.resolve(name)
    assert got == key or got in SAME.get(key, ()), (key, name, got)


# --------------------------------------------------------------------------- feature builders


@pytest.fixture(scope="module")
def specs():
    from divergence.features import load_spec

    return {name: load_spec(name) for name in ["benchmarks_only", "benchmarks_adoption"]}


@pytest.fixture(scope="module")
def full_frames(tables, specs):
    from divergence.features import model_frame

    return {name: model_frame(tables, spec) for name, spec in specs.items()}


@settings(deadline=None, max_examples=12, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_model_frame_keeps_rows_and_each_row_is_independent(
    tables, specs, full_frames, data
) -> None:
    from divergence.features import model_frame

    name = data.draw(st.sampled_from(sorted(specs)), label="spec")
    full = full_frames[name]
    ids = data.draw(
        st.lists(st.sampled_from(list(full.index)), min_size=1, max_size=25, unique=True),
        label="ids",
    )
    unknown = data.draw(
        st.lists(st.from_regex(r"zz-unknown-[a-z]{1,6}", fullmatch=True), max_size=2, unique=True)
    )
    ids = ids + unknown
    order = data.draw(st.permutations(ids), label="order")
    sub = model_frame(tables, specs[name], model_ids=list(order))
    assert list(sub.index) == list(order)  # one row per requested id, in order
    assert list(sub.columns) == list(full.columns)
    known = [i for i in order if i in full.index]
    pd.testing.assert_frame_equal(sub.loc[known], full.loc[known])  # no cross-model leakage
    assert sub.loc[unknown].isna().all().all()


def test_metadata_and_benchmark_builders_keep_row_counts(tables, specs, full_frames) -> None:
    from divergence.features.build import benchmark_features, metadata_features

    spec = specs["benchmarks_adoption"]
    assert len(metadata_features(tables["models"], spec)) == len(tables["models"])
    assert len(full_frames["benchmarks_adoption"]) == tables["models"]["model_id"].nunique()
    wide = benchmark_features(tables["benchmarks"], spec)
    assert wide.index.is_unique and set(wide.index) <= set(tables["models"]["model_id"])


@settings(deadline=None, max_examples=8, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_adoption_features_never_use_observations_after_the_cutoff(tables, specs, data) -> None:
    from divergence.features.build import adoption_features

    spec = specs["benchmarks_adoption"]
    models = tables["models"].set_index("model_id")["release_date"]
    adopted = sorted(
        set(tables["adoption"]["model_id"]) & set(models[models >= "2024-06-01"].index)
    )
    mid = data.draw(st.sampled_from(adopted), label="model")
    release = models.loc[[mid]]
    cutoff = release.iloc[0] + pd.Timedelta(days=spec.adoption.age_days)
    adoption = tables["adoption"]
    full = adoption_features(adoption, release, spec)
    seen = adoption_features(adoption[adoption["date"] <= cutoff], release, spec)
    pd.testing.assert_frame_equal(full, seen)


def _synthetic_adoption(draw, signal: str, n_models: int) -> tuple[pd.DataFrame, pd.Series]:
    ids = [f"m{i}" for i in range(n_models)]
    release = pd.Series(
        pd.to_datetime("2025-01-01")
        + pd.to_timedelta(
            draw(st.lists(st.integers(0, 120), min_size=n_models, max_size=n_models)), unit="D"
        ),
        index=ids,
    )
    rows = draw(
        st.lists(
            st.tuples(
                st.sampled_from(ids), st.integers(-30, 250), st.floats(0, 1e9, allow_nan=False)
            ),
            min_size=1,
            max_size=40,
        )
    )
    adoption = pd.DataFrame(
        {
            "model_id": [r[0] for r in rows],
            "source": "synthetic",
            "signal": signal,
            "date": pd.to_datetime("2025-01-01") + pd.to_timedelta([r[1] for r in rows], unit="D"),
            "value": [r[2] for r in rows],
        }
    )
    return adoption, release


@SETTINGS
@given(
    data=st.data(),
    kind=st.sampled_from(["level", "flow", "price", "first_seen"]),
    n_models=st.integers(1, 5),
    factor=st.floats(1.0, 100.0),
)
def test_adoption_builder_rows_order_and_monotone(data, kind, n_models, factor) -> None:
    from divergence.features.build import adoption_features
    from divergence.features.spec import AdoptionSpec, FeatureSpec

    adoption, release = _synthetic_adoption(data.draw, "sig", n_models)
    spec = FeatureSpec(name="t", adoption=AdoptionSpec(age_days=90, **{kind: ("sig",)}))
    out = adoption_features(adoption, release, spec)
    assert list(out.index) == list(release.index) and out.shape[1] == 1  # one row per model
    shuffled = adoption.sample(frac=1.0, random_state=data.draw(st.integers(0, 2**16)))
    pd.testing.assert_frame_equal(
        out, adoption_features(shuffled, release, spec)
    )  # row order irrelevant
    if kind in ("level", "flow"):  # more usage never lowers a usage feature
        more = adoption.assign(value=adoption["value"] * factor)
        bigger = adoption_features(more, release, spec)
        a, b = out.iloc[:, 0].to_numpy(), bigger.iloc[:, 0].to_numpy()
        assert (np.isnan(a) == np.isnan(b)).all()
        assert (b[~np.isnan(a)] >= a[~np.isnan(a)] * (1 - 1e-12)).all()


@SETTINGS
@given(
    rows=st.lists(
        st.tuples(
            st.sampled_from(["m1", "m2", "m3"]),
            st.sampled_from(["aa:gpqa", "epoch:math"]),
            st.integers(0, 400),
            st.floats(0, 1, allow_nan=False),
        ),
        min_size=1,
        max_size=30,
    ),
    seed=st.integers(0, 2**16),
)
def test_benchmark_builder_first_measurement_and_order(rows, seed) -> None:
    from divergence.features.build import benchmark_features
    from divergence.features.spec import FeatureSpec

    bench = pd.DataFrame(
        {
            "model_id": [r[0] for r in rows],
            "benchmark": [r[1] for r in rows],
            "source": "s",
            "as_of": pd.to_datetime("2025-01-01") + pd.to_timedelta([r[2] for r in rows], unit="D"),
            "score": [r[3] for r in rows],
            "self_reported": False,
        }
    )
    spec = FeatureSpec(name="t")
    wide = benchmark_features(bench, spec)
    assert sorted(wide.index) == sorted(set(bench["model_id"]))  # one row per model
    for (m, b), grp in bench.groupby(["model_id", "benchmark"]):
        earliest = grp.loc[grp["as_of"] == grp["as_of"].min(), "score"]
        assert wide.loc[m, b.replace(":", ".")] in set(earliest)  # the first measurement is used
    wide2 = benchmark_features(bench.sample(frac=1.0, random_state=seed), spec)
    if bench.duplicated(["model_id", "benchmark", "as_of"]).any():
        return  # ties on one day: any of them is a first measurement
    pd.testing.assert_frame_equal(wide, wide2)


# --------------------------------------------------------------------------- monotone regressor


def _grid_is_monotone(model, row: pd.DataFrame, col: str, lo: float, hi: float) -> float:
    """Largest decrease of the prediction along a grid of ``col`` (0 if non-decreasing)."""
    grid = np.linspace(lo, hi, 15)
    X = pd.concat([row] * len(grid), ignore_index=True)
    X[col] = grid
    pred = model.predict(X)
    return float(max(0.0, -np.diff(pred).min()))


@settings(deadline=None, max_examples=30, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=st.data(),
    n=st.integers(25, 70),
    k=st.integers(2, 5),
    base=st.sampled_from(["factor", "linear", "none"]),
    slope=st.floats(-50, 50),
    seed=st.integers(0, 10_000),
)
def test_monotone_regressor_is_non_decreasing_in_every_benchmark(
    data, n, k, base, slope, seed
) -> None:
    from divergence.model import UtilityRegressor

    rng = np.random.default_rng(seed)
    f = rng.normal(size=n)
    signs = data.draw(st.lists(st.sampled_from([-1.0, 1.0]), min_size=k, max_size=k), label="signs")
    cols = [f"aa.bench{j}" for j in range(k)]
    X = pd.DataFrame(
        {c: s * f + 0.4 * rng.normal(size=n) for c, s in zip(cols, signs, strict=True)}
    )
    X = X.mask(rng.random(X.shape) < 0.15)  # missing scores, as in the real data
    X["meta.release_days"] = rng.uniform(0, 1000, n)
    y = 1200 + slope * f + 5 * rng.normal(size=n)
    model = UtilityRegressor(
        n_estimators=30, max_depth=3, monotone=True, base=base, min_coverage=0.1, random_state=seed
    ).fit(X, y)
    i = data.draw(st.integers(0, n - 1), label="row")
    col = data.draw(st.sampled_from(cols), label="column")
    row = X.iloc[[i]].reset_index(drop=True)
    drop = _grid_is_monotone(model, row, col, -4.0, 4.0)
    assert drop <= 1e-6 * max(1.0, abs(float(np.mean(y)))), (col, drop)


@pytest.fixture(scope="module")
def real_models(tables):
    from divergence.experiment import load_experiment
    from divergence.model import UtilityRegressor
    from divergence.pipeline import prepare
    from divergence.tuning import DEFAULT_PARAMS

    p = prepare(load_experiment(SMALL_EXPERIMENT), tables)
    models = [
        UtilityRegressor(**{**DEFAULT_PARAMS, "base": base, "monotone": True}, random_state=0).fit(
            p.X, p.y
        )
        for base in ["factor", "linear"]
    ]
    return p.X, models


@settings(deadline=None, max_examples=25, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_monotone_regressor_on_real_data(real_models, data) -> None:
    X, models = real_models
    model = data.draw(st.sampled_from(models), label="model")
    col = data.draw(st.sampled_from(model.bench_columns_), label="column")
    i = data.draw(st.integers(0, len(X) - 1), label="row")
    lo, hi = np.nanmin(X[col]), np.nanmax(X[col])
    span = hi - lo
    assert (
        _grid_is_monotone(
            model, X.iloc[[i]].reset_index(drop=True), col, lo - span / 2, hi + span / 2
        )
        <= 1e-6
    )
