"""Split-conformal prediction intervals, conditional on evidence.

:class:`ConformalIntervals` turns out-of-sample residuals into symmetric intervals
``pred ± q`` at any ``levels``. The residuals must come from predictions made the way
the intervals will be used: here one-step-ahead (walk-forward) residuals, each model
predicted from models released before it.

Conditional on evidence: a model with two benchmark scores may be harder to place than
one with forty, so the calibration residuals are split into bins by the number of
observed benchmark inputs (``evidence``). The bin edges are the calibration evidence
quantiles (``n_bins`` equal-count bins), and bins with fewer than ``min_bin`` residuals
are merged with their neighbour. A row with less evidence than any calibration row gets
the lowest bin's width. Two conformity scores:

- ``score="normalised"`` (default): ``|residual| / s_b``, where ``s_b`` is the
  root-mean-square residual of the row's bin; *one* conformal quantile ``q`` of the
  normalised scores of all calibration rows, and half-width ``q * s_b``. The bins only
  set the relative widths, so no bin pays the small-sample price of its own high rank
  (with 20 residuals a 90% quantile is the second largest). The scales are estimated on
  the same residuals as ``q`` (one number per bin), so the finite-sample guarantee is
  approximate.
- ``score="absolute"``: Mondrian bins, each with its own conformal quantile of
  ``|residual|`` (exact per-bin guarantee, wide for small bins).

The quantile is the split-conformal one, the ``ceil((n + 1) level)``-th smallest score
of ``n`` (capped at the largest), which gives coverage of at least ``level`` for an
exchangeable new row.

Why not MAPIE or crepes: both calibrate an estimator they wrap (MAPIE v1's
``SplitConformalRegressor`` / crepes' ``WrapRegressor``) on one held-out calibration
set; our residuals come from many refits in time order (each walk-forward step is a
new model), which neither API takes, and crepes' Mondrian bins or normalised scores
would be the same few lines as here. This wrapper takes residuals directly and stores
plain numbers (JSON).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

FORMAT_VERSION = 2
"""``intervals.json`` layout; ``score``/``scales`` are optional keys (absent: absolute score)."""
SCORES = ("normalised", "absolute")


def conformal_quantile(abs_residuals: np.ndarray, level: float) -> float:
    """The ``ceil((n + 1) level)``-th smallest value (capped at the largest); NaN if empty."""
    r = np.sort(np.asarray(abs_residuals, dtype="float64"))
    r = r[~np.isnan(r)]
    if r.size == 0:
        return float("nan")
    k = min(r.size - 1, int(np.ceil((r.size + 1) * level)) - 1)
    return float(r[max(k, 0)])


def _label(level: float) -> str:
    """``0.9`` -> ``"90"`` (column suffix, e.g. ``lower_90``)."""
    return f"{level * 100:g}".replace(".", "_")


class ConformalIntervals:
    """Symmetric conformal intervals at several levels, conditional on evidence.

    Parameters
    ----------
    levels : sequence of float, default (0.8, 0.9)
        Nominal coverage levels, each in (0, 1).
    n_bins : int, default 2
        Number of evidence bins before merging (1 = marginal intervals).
    min_bin : int, default 20
        Minimum residuals per bin; smaller bins are merged with a neighbour.
    score : {"normalised", "absolute"}, default "normalised"
        Conformity score (see the module docstring).

    Attributes
    ----------
    bin_edges_ : list of float
        Evidence thresholds: bin ``i`` holds rows with ``edges[i-1] <= evidence < edges[i]``.
    half_widths_ : dict of str to list of float
        Per level (key ``str(level)``), the half-width of each bin.
    n_calibration_ : list of int
        Calibration residuals per bin.
    scales_ : list of float
        Root-mean-square residual per bin (the normalised score's divisor).
    pooled_ : dict of str to float
        Per level, the half-width from all residuals (the marginal interval).
    """

    def __init__(
        self,
        levels: Sequence[float] = (0.8, 0.9),
        n_bins: int = 2,
        min_bin: int = 20,
        score: str = "normalised",
    ) -> None:
        self.levels = tuple(float(v) for v in levels)
        self.n_bins = n_bins
        self.min_bin = min_bin
        self.score = score

    def fit(self, residuals: Any, evidence: Any = None) -> ConformalIntervals:
        """Calibrate on residuals (``pred - y``) and the evidence of their rows.

        Parameters
        ----------
        residuals : array-like of float
            Out-of-sample residuals; NaN rows are dropped.
        evidence : array-like of float, optional
            Observed benchmark inputs per residual (None: one bin).

        Returns
        -------
        ConformalIntervals
            ``self``.
        """
        if not self.levels or not all(0 < v < 1 for v in self.levels):
            raise ValueError(f"levels must lie in (0, 1), got {self.levels!r}")
        if int(self.n_bins) < 1 or int(self.min_bin) < 1:
            raise ValueError("n_bins and min_bin must be >= 1")
        if self.score not in SCORES:
            raise ValueError(f"score must be one of {SCORES}, got {self.score!r}")
        r = np.abs(np.asarray(residuals, dtype="float64"))
        e = np.zeros(r.size) if evidence is None else np.asarray(evidence, dtype="float64")
        if e.shape != r.shape:
            raise ValueError(f"residuals ({r.size}) and evidence ({e.size}) differ in length")
        keep = ~np.isnan(r) & ~np.isnan(e)
        r, e = r[keep], e[keep]
        edges: list[float] = []
        if evidence is not None and r.size and int(self.n_bins) > 1:
            qs = np.quantile(e, np.linspace(0, 1, int(self.n_bins) + 1)[1:-1])
            edges = sorted({float(q) for q in qs if e.min() < q})
        while True:  # merge the smallest bin below min_bin with its smaller neighbour
            counts = [int(m.sum()) for m in self._masks(e, edges)]
            small = [i for i, c in enumerate(counts) if c < int(self.min_bin)]
            if not small or not edges:
                break
            i = min(small, key=lambda j: counts[j])
            if i == 0:
                drop = 0
            elif i == len(counts) - 1:
                drop = i - 1
            else:
                drop = i - 1 if counts[i - 1] <= counts[i + 1] else i
            edges.pop(drop)
        self.bin_edges_ = edges
        masks = self._masks(e, edges)
        self.n_calibration_ = [int(m.sum()) for m in masks]
        self.scales_ = [float(np.sqrt(np.mean(r[m] ** 2))) if m.any() else np.nan for m in masks]
        if self.score == "absolute":
            self.half_widths_ = {
                str(lv): [conformal_quantile(r[m], lv) for m in masks] for lv in self.levels
            }
        else:
            s = np.zeros(r.size)
            for m, sc in zip(masks, self.scales_, strict=True):
                s[m] = sc
            z = np.divide(r, s, out=np.zeros(r.size), where=s > 0)
            self.half_widths_ = {
                str(lv): [conformal_quantile(z, lv) * sc for sc in self.scales_]
                for lv in self.levels
            }
        self.pooled_ = {str(lv): conformal_quantile(r, lv) for lv in self.levels}
        return self

    @staticmethod
    def _masks(e: np.ndarray, edges: list[float]) -> list[np.ndarray]:
        bounds = [-np.inf, *edges, np.inf]
        return [(e >= lo) & (e < hi) for lo, hi in zip(bounds[:-1], bounds[1:], strict=True)]

    def _bin(self, evidence: Any, n: int) -> np.ndarray:
        if evidence is None:
            return np.zeros(n, dtype=int)
        e = np.nan_to_num(np.asarray(evidence, dtype="float64"), nan=0.0)
        return np.searchsorted(np.asarray(self.bin_edges_, dtype="float64"), e, side="right")

    def half_width(self, level: float, evidence: Any = None, n: int | None = None) -> np.ndarray:
        """Half-width per row at ``level`` (one of ``levels``)."""
        key = str(float(level))
        if key not in self.half_widths_:
            raise ValueError(f"level {level} not calibrated (levels {list(self.levels)})")
        n = len(evidence) if evidence is not None else int(n or 1)
        return np.asarray(self.half_widths_[key], dtype="float64")[self._bin(evidence, n)]

    def intervals(self, pred: Any, evidence: Any = None) -> dict[str, np.ndarray]:
        """``lower_<level>`` / ``upper_<level>`` arrays (e.g. ``lower_90``) around ``pred``."""
        pred = np.asarray(pred, dtype="float64")
        out: dict[str, np.ndarray] = {}
        for lv in self.levels:
            q = self.half_width(lv, evidence, n=pred.size)
            out[f"lower_{_label(lv)}"] = pred - q
            out[f"upper_{_label(lv)}"] = pred + q
        return out

    # ---- persistence -----------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """JSON-ready state (``intervals.json``); ``q80``/``q90`` keys hold pooled widths."""
        d: dict[str, Any] = {
            "format": FORMAT_VERSION,
            "method": (
                "split conformal, |residual| / bin RMS, bins by observed benchmark inputs"
                if self.score == "normalised"
                else "split conformal, |residual|, Mondrian bins by observed benchmark inputs"
            ),
            "score": self.score,
            "levels": list(self.levels),
            "n_bins": int(self.n_bins),
            "min_bin": int(self.min_bin),
            "scales": list(self.scales_),
            "bin_edges": list(self.bin_edges_),
            "half_widths": self.half_widths_,
            "n_calibration": self.n_calibration_,
            "pooled": self.pooled_,
        }
        for lv in self.levels:
            d[f"q{_label(lv)}"] = self.pooled_[str(lv)]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ConformalIntervals:
        """Inverse of :meth:`to_dict`; raises ``ValueError`` on another format."""
        if d.get("format") != FORMAT_VERSION:
            raise ValueError(
                f"intervals format {d.get('format', 1)}, this version reads {FORMAT_VERSION}"
            )
        score = d.get("score", "absolute")
        est = cls(d["levels"], n_bins=d["n_bins"], min_bin=d["min_bin"], score=score)
        est.bin_edges_ = [float(v) for v in d["bin_edges"]]
        est.scales_ = [float(v) for v in d.get("scales", [np.nan] * (len(est.bin_edges_) + 1))]
        est.half_widths_ = {k: [float(x) for x in v] for k, v in d["half_widths"].items()}
        est.n_calibration_ = [int(v) for v in d["n_calibration"]]
        est.pooled_ = {k: float(v) for k, v in d["pooled"].items()}
        return est
