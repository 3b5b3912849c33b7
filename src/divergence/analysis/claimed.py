"""Claimed vs independent: vendor self-reported scores against independent runs.

Vendor self-reported llm-stats scores against independent runs of the same benchmark on
the same model, on a 0-100 scale (see :data:`CLAIM_PAIRS`). Left out on purpose:
Humanity's Last Exam (vendor numbers often use tools, Artificial Analysis does not),
Terminal-Bench (version 1 vs 2 mismatch), the SWE-bench "verified" submissions board
(each submitter's own scaffold, not an independent run). Gap = claimed - independent,
averaged over independent sources per (model, benchmark); per organisation and per
benchmark, the mean gap with a bootstrap over models (cluster bootstrap: a model's pairs
stay together), Benjamini–Hochberg within each family.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from divergence.analysis.common import add_multiplicity, open_flags, stat

CLAIM_PAIRS: dict[str, tuple[str, list[tuple[str, float]]]] = {
    # llm-stats benchmark: (label, [(independent benchmark, factor to a 0-100 scale)])
    "llmstats:gpqa": ("GPQA diamond", [("aa:gpqa", 100.0), ("epoch:gpqa_diamond", 100.0)]),
    "llmstats:mmlu-pro": ("MMLU-Pro", [("aa:mmlu_pro", 100.0)]),
    "llmstats:aime-2024": ("AIME 2024", [("aa:aime", 100.0)]),
    "llmstats:aime-2025": ("AIME 2025", [("aa:aime_25", 100.0)]),
    "llmstats:livecodebench": ("LiveCodeBench", [("aa:livecodebench", 100.0)]),
    "llmstats:math-500": ("MATH-500", [("aa:math_500", 100.0)]),
    "llmstats:swe-bench-verified": (
        "SWE-bench Verified",
        [("epoch:swe_bench_verified", 100.0), ("swebench:bash_only", 1.0)],
    ),
    "llmstats:aider-polyglot": (
        "Aider polyglot",
        [("aider:polyglot", 1.0), ("epoch:aider_polyglot", 1.0)],
    ),
}
CLAIM_SCALE = 100.0  # llm-stats scores are fractions
INDEPENDENT_SOURCES = {"artificial-analysis", "epoch", "swe-bench", "aider", "epoch-external"}


EFFORT_SUFFIX = re.compile(
    r"^-(thinking(-\d+k)?(-bedrock)?|reasoning|high|xhigh|medium|highthinking)$"
)
VARIANT_MAX_DAYS = 60


def effort_variants(model_id: str, models: pd.DataFrame, candidates: set[str]) -> list[str]:
    """``model_id`` and its reasoning-effort variants among ``candidates``.

    A variant is ``<model_id>-thinking[-Nk][-bedrock]``, ``-reasoning``, ``-high``,
    ``-xhigh``, ``-medium`` or ``-highthinking`` released within
    :data:`VARIANT_MAX_DAYS` days of the model (or undated): the same weights run with
    another thinking budget, not a later model such as ``phi-4-reasoning``.
    """
    rel = models["release_date"]
    base = rel.get(model_id)
    out = [model_id]
    for c in sorted(candidates):
        if c.startswith(model_id + "-") and EFFORT_SUFFIX.match(c[len(model_id) :]):
            r = rel.get(c)
            if pd.isna(r) or pd.isna(base) or abs((r - base).days) <= VARIANT_MAX_DAYS:
                out.append(c)
    return out


def _best(ids: list[str], scores: pd.Series) -> str:
    """The id with the highest score (ties: the largest id)."""
    return max(ids, key=lambda v: (float(scores[v]), v))


def claimed_pairs(
    tables: dict[str, pd.DataFrame], exclude_source: str | None = None
) -> pd.DataFrame:
    """Claimed (llm-stats, self-reported) vs independent scores, one row per (model, benchmark).

    Vendors quote their best configuration, so for each independent benchmark the
    independent score is the best over the model and its reasoning-effort variants
    (:func:`effort_variants`); the independent value is then the mean over the
    independent benchmarks paired with the claim. ``exclude_source`` leaves one
    independent source out (sensitivity check).

    Returns
    -------
    DataFrame
        ``model_id``, ``organization``, ``open_weights``, ``benchmark`` (label),
        ``claimed``, ``independent`` (0-100), ``sources`` (";"-joined independent
        benchmarks), ``variants`` (";"-joined model ids whose runs were used),
        ``gap`` (claimed - independent).
    """
    b = tables["benchmarks"]
    first = b.sort_values(["model_id", "benchmark", "as_of", "source"], kind="mergesort")
    claims = first[(first["source"] == "llm-stats") & (first["self_reported"] == True)]  # noqa: E712
    claims = claims.drop_duplicates(["model_id", "benchmark"])
    sources = INDEPENDENT_SOURCES - {exclude_source}
    indep = first[first["source"].isin(sources) & (first["self_reported"] != True)]  # noqa: E712
    indep = indep.drop_duplicates(["model_id", "benchmark"])
    models = tables["models"].set_index("model_id")
    is_open = open_flags(tables["models"])
    rows = []
    for cb, (label, targets) in CLAIM_PAIRS.items():
        c = claims[claims["benchmark"] == cb].set_index("model_id")["score"] * CLAIM_SCALE
        ind = {
            ib: indep[indep["benchmark"] == ib].set_index("model_id")["score"] * factor
            for ib, factor in targets
        }
        for mid in c.index:
            vals, used = {}, set()
            for ib, s in ind.items():
                fam = [v for v in effort_variants(mid, models, set(s.index)) if v in s.index]
                if fam:
                    best = _best(fam, s)
                    vals[ib] = float(s[best])
                    used.add(best)
            if not vals:
                continue
            rows.append(
                {
                    "model_id": mid,
                    "organization": models["organization"].get(mid),
                    "open_weights": is_open.get(mid, np.nan),
                    "benchmark": label,
                    "claimed": float(c[mid]),
                    "independent": float(np.mean(list(vals.values()))),
                    "sources": ";".join(sorted(vals)),
                    "variants": ";".join(sorted(used)),
                }
            )
    out = pd.DataFrame(
        rows,
        columns=[
            "model_id",
            "organization",
            "open_weights",
            "benchmark",
            "claimed",
            "independent",
            "sources",
            "variants",
        ],
    )
    out["gap"] = out["claimed"] - out["independent"]
    out["organization"] = out["organization"].fillna("unknown")
    return out.sort_values(["organization", "model_id", "benchmark"], kind="mergesort").reset_index(
        drop=True
    )


def _cluster_mean(
    gaps: pd.Series, clusters: pd.Series, n_boot: int, rng: np.random.Generator
) -> tuple[dict[str, float], np.ndarray | None]:
    """Mean gap with a bootstrap over clusters (models)."""
    g = (
        pd.DataFrame({"g": gaps.to_numpy(), "c": clusters.to_numpy()})
        .groupby("c")["g"]
        .agg(["sum", "count"])
    )
    sums, cnts = g["sum"].to_numpy(), g["count"].to_numpy()
    k = len(sums)
    value = float(sums.sum() / cnts.sum()) if k else np.nan
    reps = None
    if k >= 2:
        idx = rng.integers(0, k, size=(n_boot, k))
        reps = sums[idx].sum(axis=1) / cnts[idx].sum(axis=1)
    out = stat(value, reps, int(cnts.sum()))
    out["n_models"] = k
    out["median"] = float(np.median(gaps)) if len(gaps) else np.nan
    return out, reps


def claimed_vs_independent(
    tables: dict[str, pd.DataFrame],
    n_boot: int,
    rng: np.random.Generator,
    min_models: int = 3,
    exclude_source: str | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, dict]:
    """Pairs, per-organisation and per-benchmark mean gaps (points on a 0-100 scale).

    Organisations with fewer than ``min_models`` paired models are pooled as ``other``.
    Each per-organisation and per-benchmark table carries BH ``q``, ``significant`` and
    FCR-adjusted ``adj_lo``/``adj_hi`` (its own family).
    """
    pairs = claimed_pairs(tables, exclude_source)
    n_models = pairs.groupby("organization")["model_id"].nunique()
    small = set(n_models[n_models < min_models].index)
    org_of = pairs["organization"].where(~pairs["organization"].isin(small), "other")
    by_org, by_bench, r_org, r_bench = [], [], [], []
    for name, g in pairs.groupby(org_of, sort=True):
        st, reps = _cluster_mean(g["gap"], g["model_id"], n_boot, rng)
        by_org.append({"organization": name, **st})
        r_org.append(reps)
    for label, g in pairs.groupby("benchmark", sort=True):
        st, reps = _cluster_mean(g["gap"], g["model_id"], n_boot, rng)
        by_bench.append({"benchmark": label, **st})
        r_bench.append(reps)
    overall = (
        _cluster_mean(pairs["gap"], pairs["model_id"], n_boot, rng)[0]
        if len(pairs)
        else {**stat(np.nan, None, 0), "n_models": 0, "median": np.nan}
    )
    cols = ["value", "ci_lo", "ci_hi", "p", "n", "n_models", "median"]
    org = pd.DataFrame(by_org, columns=["organization", *cols])
    bench = pd.DataFrame(by_bench, columns=["benchmark", *cols])
    add_multiplicity(org, r_org)
    add_multiplicity(bench, r_bench)
    org = org.sort_values("value", ascending=False, kind="mergesort")
    bench = bench.sort_values("value", ascending=False, kind="mergesort")
    return pairs, org.reset_index(drop=True), bench.reset_index(drop=True), overall
