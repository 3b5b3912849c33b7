"""Feature-column vocabulary: prefixes, kinds, leakage, and the declared scale of each column.

A feature column is ``<source>.<benchmark>`` for a benchmark score, ``adopt.<signal>`` for
an adoption signal and ``meta.<field>`` for metadata. Every column has a declared scale
(:func:`column_scale`): the range a value must lie in to be a plausible input. The
predictor refuses values outside it (a 0–1 accuracy given as 85, a negative count, an
index of 1e6) instead of extrapolating from them.

The scales come from the upstream documentation of each source and are checked against
the bundled snapshot's observed ranges (``scripts/column_scales.py`` prints them;
``tests/test_columns.py`` asserts every observed value lies inside its scale):

- Artificial Analysis reports accuracies as fractions (0–1) and its three indices on
  0–100;
- Epoch AI's benchmark hub reports fractions, except the Epoch Capabilities Index
  (an Elo-like index, ~60–160 in the snapshot), Lech Mazur's writing score (0–10), the
  Aider polyglot score, LiveBench average and OSWorld (percent) and the METR time
  horizon (minutes, unbounded);
- Aider, ARC Prize, SWE-bench and WeirdML publish percentages (0–100);
- LiveBench columns are z-scores within one LiveBench release (``first_release_z`` in
  the feature sets): unbounded;
- llm-stats (self-reported) scores are fractions, except CodeForces ratings (Elo-like).
"""

from __future__ import annotations

import fnmatch
import math
from dataclasses import dataclass

ADOPTION_PREFIX = "adopt."
META_PREFIX = "meta."
BENCH_PREFIXES = (ADOPTION_PREFIX, META_PREFIX)

# Anything derived from the arena is leakage when an arena rating is the target.
LEAKY_PATTERNS = [
    "*arena*",
    "*lmsys*",
    "*mt_bench*",
    "*mt-bench*",
    "*mtbench*",
    "*chatbot*",
    "*elo*",
    "*votes*",
]


def is_benchmark_column(col: str) -> bool:
    """Benchmark columns are all columns not prefixed ``adopt.`` or ``meta.``."""
    return not col.startswith(BENCH_PREFIXES)


def is_adoption_column(col: str) -> bool:
    """Adoption-signal columns (``adopt.*``)."""
    return col.startswith(ADOPTION_PREFIX)


def is_meta_column(col: str) -> bool:
    """Metadata columns (``meta.*``)."""
    return col.startswith(META_PREFIX)


def is_leaky(column: str) -> bool:
    """True if a feature column is derived from the arena."""
    return any(fnmatch.fnmatch(column.lower(), p) for p in LEAKY_PATTERNS)


@dataclass(frozen=True)
class Scale:
    """A declared value range (inclusive; infinite bounds = unbounded on that side)."""

    name: str
    lo: float
    hi: float

    def describe(self) -> str:
        """Human-readable range, e.g. ``0 to 1 (fraction)``."""

        def f(v: float) -> str:
            return "unbounded" if math.isinf(v) else f"{v:g}"

        if math.isinf(self.lo) and math.isinf(self.hi):
            return f"any finite value ({self.name})"
        if math.isinf(self.hi):
            return f">= {f(self.lo)} ({self.name})"
        return f"{f(self.lo)} to {f(self.hi)} ({self.name})"


UNIT = Scale("fraction", 0.0, 1.0)
PERCENT = Scale("percent", 0.0, 100.0)
TEN = Scale("0-10 score", 0.0, 10.0)
# Elo-like indices (ECI ~60-160, CodeForces ratings ~0-4000): positive, below 5000.
ELO = Scale("Elo-like index", 0.0, 5000.0)
NONNEG = Scale("non-negative", 0.0, math.inf)
UNBOUNDED = Scale("unbounded", -math.inf, math.inf)

# Exact columns whose scale differs from their source's rule below.
_EXACT: dict[str, Scale] = {
    "aa.artificial_analysis_coding_index": PERCENT,
    "aa.artificial_analysis_intelligence_index": PERCENT,
    "aa.artificial_analysis_math_index": PERCENT,
    "epoch.eci": ELO,
    "epoch.lech_mazur_writing": TEN,
    "epoch.aider_polyglot": PERCENT,
    "epoch.livebench": PERCENT,
    "epoch.os_world": PERCENT,
    "epoch.metr_time_horizon": NONNEG,
    "metr.average_score": UNIT,
    "llmstats.cfeval": ELO,
    "llmstats.codeforces": ELO,
    "meta.log10_params_b": UNBOUNDED,
    "meta.release_days": UNBOUNDED,
    "adopt.openrouter_token_share_daily_90d": UNIT,
}
# First matching pattern wins.
_RULES: list[tuple[str, Scale]] = [
    ("aa.*", UNIT),
    ("epoch.*", UNIT),
    ("epoch-external.*", UNIT),
    ("aider.*", PERCENT),
    ("arcagi.*", PERCENT),
    ("swebench.*", PERCENT),
    ("weirdml.*", PERCENT),
    ("livebench.*", UNBOUNDED),
    ("metr.*_minutes", NONNEG),
    ("llmstats.*", UNIT),
    ("adopt.*share*", UNIT),
    ("adopt.*", NONNEG),
    ("meta.open_weights", UNIT),
    ("meta.reasoning", UNIT),
    ("meta.org_*", UNIT),
]


def column_scale(column: str) -> Scale | None:
    """The declared scale of a feature column, or None if it has none."""
    hit = _EXACT.get(column)
    if hit is not None:
        return hit
    for pattern, scale in _RULES:
        if fnmatch.fnmatchcase(column, pattern):
            return scale
    return None


def scale_table(columns: list[str]) -> dict[str, dict[str, float | str]]:
    """``{column: {"scale", "lo", "hi"}}`` for every column with a declared scale."""
    out: dict[str, dict[str, float | str]] = {}
    for c in columns:
        s = column_scale(c)
        if s is not None:
            out[c] = {"scale": s.name, "lo": s.lo, "hi": s.hi}
    return out
