"""Model-level raw features from a snapshot.

One row per ``model_id``; every column float64. Column families:

- ``<source>.<benchmark>`` (e.g. ``aa.gpqa``, ``livebench.coding``): benchmark scores.
  *As-of rule*: a benchmark score is a property of the model on a fixed test set; the
  first measurement (earliest ``as_of``) is used. LiveBench tables are not comparable
  across releases, so LiveBench scores are z-scored within each release and the model's
  first release is used. Vendor self-reported scores (llm-stats) are excluded unless the
  spec sets ``self_reported: true``. Anything derived from the arena is never a feature
  (:data:`divergence.features.spec.LEAKY_PATTERNS`). Cross-model transforms (family
  sub-indices, the general factor, coverage filters) are *fitted* inside the estimator on
  training rows only (:mod:`divergence.model`), never here.
  *Target date*: with ``as_of`` (the date of the arena snapshot the model's target
  comes from), a score dated after it is not used: no feature may postdate the rating
  it predicts. Dated Artificial Analysis scrapes give most AA scores an ``as_of`` before
  the late API pull (:mod:`divergence.sources.artificial_analysis`).
- ``adopt.<signal>_<age>d``: adoption measured at ``age_days`` after release.
  *As-of rule*: only observations dated on or before the cut-off
  ``min(release_date + age_days, as_of)`` are used: the prediction for a model is made
  at that date, and every training model's features are dated on or before its own
  cut-off. Level signals (cumulative pulls, provider counts) take the last value on or
  before the cut-off; flow signals (tokens) the mean over ``[release, cut-off]``, with 0
  when the source was recording (a top-N list) but the model was absent; prices the
  earliest value before the cut-off; ``first_seen`` signals the days from release to
  first listing (``age_days + 1`` when not yet listed at ``release + age_days``, NaN
  when the source started after the release or the cut-off came earlier and the model
  was not yet listed).
- *Test-era features*: :func:`test_era_only` names columns with no value among models
  released before a date (the first walk-forward test model); the pipeline drops them
  (a column fitted on nothing but test-era rows would be learnt from the test window).
- ``meta.*``: ``open_weights``, ``reasoning`` (0/1), ``log10_params_b``,
  ``release_days`` (days since 2023-01-01; known at release), ``org_<lab>`` one-hots for
  a fixed list of labs (no fitting).
"""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd

from divergence.features.spec import FeatureSpec, is_leaky

EPOCH = pd.Timestamp("2023-01-01")
MAJOR_ORGS = [
    "OpenAI",
    "Anthropic",
    "Google",
    "Meta",
    "xAI",
    "DeepSeek",
    "Alibaba",
    "Mistral",
    "Zhipu AI",
    "Moonshot AI",
]
TOPN_FLOW_SOURCES = ("openrouter",)
AsOf = pd.Timestamp | str | pd.Series | None


def benchmark_column(benchmark: str) -> str:
    """Feature column name for a snapshot benchmark name (``aa:gpqa`` -> ``aa.gpqa``)."""
    return benchmark.replace(":", ".").replace(" ", "_")


def _as_of_series(as_of: AsOf, ids: pd.Index) -> pd.Series:
    """Per-model cut-off dates (NaT = none) from a scalar, a Series or None."""
    if as_of is None:
        return pd.Series(pd.NaT, index=ids, dtype="datetime64[ns]")
    if isinstance(as_of, pd.Series):
        return pd.to_datetime(as_of).astype("datetime64[ns]").reindex(ids)
    return pd.Series(pd.Timestamp(as_of), index=ids).astype("datetime64[ns]")


def benchmark_features(bench: pd.DataFrame, spec: FeatureSpec, as_of: AsOf = None) -> pd.DataFrame:
    """Wide benchmark matrix (model_id x column) following the spec's as-of rule.

    ``as_of`` (a date, or a Series of dates by model_id; NaT/None = no limit) drops
    scores dated after a model's target date before the earliest score is taken.
    """
    b = bench if spec.self_reported else bench[~bench["self_reported"].fillna(False).astype(bool)]
    if as_of is not None:
        limit = _as_of_series(as_of, pd.Index(b["model_id"].unique())).reindex(b["model_id"])
        b = b[~(b["as_of"].to_numpy() > limit.to_numpy())]
    b = b.assign(column=b["benchmark"].map(benchmark_column))
    keep = b["column"].map(lambda c: spec.wants_benchmark(c) and not is_leaky(c))
    b = b[keep]
    if b.empty:
        return pd.DataFrame(index=pd.Index([], name="model_id"))
    is_lb = b["column"].str.startswith("livebench.")
    if spec.livebench == "first_release_z" and is_lb.any():
        lb = b[is_lb].copy()
        grp = lb.groupby(["column", "as_of"])["score"]
        sd = grp.transform("std").replace(0, np.nan)
        lb["score"] = (lb["score"] - grp.transform("mean")) / sd
        b = pd.concat([b[~is_lb], lb.dropna(subset=["score"])])
    b = b.sort_values(
        ["model_id", "column", "as_of", "source"], kind="mergesort", na_position="last"
    )
    first = b.drop_duplicates(["model_id", "column"])
    wide = first.pivot(index="model_id", columns="column", values="score")
    wide.columns.name = None
    return wide.astype("float64").sort_index(axis=1)


def _signal_rows(adoption: pd.DataFrame, signal: str, how: str) -> pd.DataFrame:
    a = adoption[adoption["signal"] == signal]
    if a.empty:
        return a
    return a.groupby(["model_id", "date"], as_index=False).agg(
        value=("value", how), source=("source", "first")
    )


def adoption_features(
    adoption: pd.DataFrame, release: pd.Series, spec: FeatureSpec, as_of: AsOf = None
) -> pd.DataFrame:
    """Adoption at ``age_days`` after release, cut at ``as_of`` (rules in the module docstring)."""
    a = spec.adoption
    out = pd.DataFrame(index=release.index)
    if a is None:
        return out
    age = pd.Timedelta(days=a.age_days)
    suffix = f"_{a.age_days}d"
    full = release + age
    limit = _as_of_series(as_of, release.index)
    cutoff = full.where(~(limit < full), limit)

    def per_model(rows: pd.DataFrame, fn) -> pd.Series:
        vals = {}
        for mid, grp in rows.groupby("model_id", sort=False):
            if mid not in release.index or pd.isna(release[mid]):
                continue
            vals[mid] = fn(grp, release[mid], cutoff[mid])
        return pd.Series(vals, dtype="float64").reindex(release.index)

    for sig in a.level:
        rows = _signal_rows(adoption, sig, "max")
        out[f"adopt.{sig}{suffix}"] = per_model(
            rows,
            lambda g, r, c: (
                g.loc[g["date"] <= c, "value"].iloc[-1] if (g["date"] <= c).any() else np.nan
            ),
        )
    for sig in a.flow:
        rows = _signal_rows(adoption, sig, "max")
        if rows.empty:
            out[f"adopt.{sig}{suffix}"] = np.nan
            continue
        lo, hi = rows["date"].min(), rows["date"].max()
        col = per_model(
            rows, lambda g, r, c: g.loc[(g["date"] >= r) & (g["date"] <= c), "value"].mean()
        )
        topn = any(s.startswith(TOPN_FLOW_SOURCES) for s in rows["source"].unique())
        if topn:
            overlap = (cutoff >= lo) & (release <= hi)
            col = col.where(col.notna() | ~overlap, 0.0)
        out[f"adopt.{sig}{suffix}"] = col
    for sig in a.price:
        rows = _signal_rows(adoption, sig, "min")
        out[f"adopt.{sig}{suffix}"] = per_model(
            rows,
            lambda g, r, c: (
                g.loc[g["date"] <= c, "value"].iloc[0] if (g["date"] <= c).any() else np.nan
            ),
        )
    for sig in a.first_seen:
        rows = _signal_rows(adoption, sig, "max")
        if rows.empty:
            out[f"adopt.{sig}_days_to_first"] = np.nan
            continue
        start = rows["date"].min()
        first = rows.groupby("model_id")["date"].min().reindex(release.index)
        days = (first - release).dt.days.astype("float64").clip(lower=0)
        days = days.where(first <= cutoff, float(a.age_days + 1))
        days = days.where((first <= cutoff) | (cutoff >= full), np.nan)  # censored early
        days = days.where(release >= start, np.nan)
        out[f"adopt.{sig}_days_to_first"] = days
    return out.astype("float64")


def metadata_features(models: pd.DataFrame, spec: FeatureSpec) -> pd.DataFrame:
    """Metadata columns (``meta.*``) for the fields the spec lists."""
    m = models.set_index("model_id")
    out = pd.DataFrame(index=m.index)

    def as01(s: pd.Series) -> pd.Series:
        return s.map(
            lambda v: (
                np.nan if v is None or (isinstance(v, float) and np.isnan(v)) else float(bool(v))
            )
        )

    for f in spec.metadata:
        if f == "open_weights":
            out["meta.open_weights"] = as01(m["open_weights"])
        elif f == "reasoning":
            out["meta.reasoning"] = as01(m["reasoning"])
        elif f == "params_b":
            out["meta.log10_params_b"] = np.log10(m["params_b"].where(m["params_b"] > 0))
        elif f == "release_days":
            out["meta.release_days"] = (m["release_date"] - EPOCH).dt.days.astype("float64")
        elif f == "org_major":
            for org in MAJOR_ORGS:
                col = "meta.org_" + org.lower().replace(" ", "_")
                out[col] = (
                    (m["organization"] == org).astype("float64").where(m["organization"].notna())
                )
    return out.astype("float64")


def test_era_only(X: pd.DataFrame, release: pd.Series, before: pd.Timestamp) -> list[str]:
    """Columns of ``X`` with no value among models released before ``before``.

    Parameters
    ----------
    X : DataFrame
        Feature matrix indexed by model_id.
    release : Series
        Release date by model_id.
    before : Timestamp
        Start of the test window (release date of the first test model).

    Returns
    -------
    list of str
        Such columns, in ``X``'s order (they exist only for test-era models).
    """
    early = release.reindex(X.index) < before
    seen = X[early.to_numpy()].notna().any(axis=0)
    return [c for c in X.columns if not seen[c]]


def drop_test_era_only(
    X: pd.DataFrame, Xb: pd.DataFrame, release: pd.Series, test_start: pd.Timestamp | None
) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """Drop the :func:`test_era_only` columns of both feature frames (``None``: keep all).

    Returns
    -------
    X, Xb : DataFrame
        The frames without those columns.
    dropped : list of str
        The dropped columns (union over both frames, sorted), also logged to stderr.
    """
    if test_start is None:
        return X, Xb, []
    dx, db = test_era_only(X, release, test_start), test_era_only(Xb, release, test_start)
    dropped = sorted(set(dx) | set(db))
    if dropped:
        print(
            f"[features] dropped {len(dropped)} column(s) with no value before the test "
            f"window ({test_start:%Y-%m-%d}): {', '.join(dropped)}",
            file=sys.stderr,
        )
    return X.drop(columns=dx), Xb.drop(columns=db), dropped


def model_frame(
    tables: dict[str, pd.DataFrame],
    spec: FeatureSpec,
    model_ids: list[str] | None = None,
    as_of: AsOf = None,
) -> pd.DataFrame:
    """Raw feature matrix, one row per model.

    Parameters
    ----------
    tables : dict of DataFrame
        A loaded snapshot.
    spec : FeatureSpec
        The feature set.
    model_ids : list of str, optional
        Rows to return (default: every model in the snapshot).
    as_of : date or Series of dates by model_id, optional
        The target's arena snapshot date: no benchmark or adoption value dated after
        it is used (NaT or a missing model: no limit). None: no limit for any model.

    Returns
    -------
    DataFrame
        Index ``model_id``; float64 columns ``<source>.<benchmark>``, ``adopt.*``, ``meta.*``.
    """
    models = tables["models"]
    ids = pd.Index(
        sorted(models["model_id"]) if model_ids is None else list(model_ids), name="model_id"
    )
    release = models.set_index("model_id")["release_date"].reindex(ids)
    bench = benchmark_features(tables["benchmarks"], spec, as_of).reindex(ids)
    adopt = (
        adoption_features(tables["adoption"], release, spec, as_of)
        if spec.adoption
        else pd.DataFrame(index=ids)
    )
    meta = metadata_features(models, spec).reindex(ids)
    frame = pd.concat([bench, adopt, meta], axis=1)
    frame.index.name = "model_id"
    leaky = [c for c in frame.columns if is_leaky(c)]
    if leaky:
        raise AssertionError(f"arena-derived feature columns present: {leaky}")
    return frame.astype("float64")
