"""The model the analyses borrow: the shipped champion's tuned parameters and its accuracy.

The benchmark-implied rating of :mod:`divergence.analysis.divergence` is fitted with the
champion's tuned ``UtilityRegressor`` parameters (read from its ``card.json``); the
"how good is the predictor" section quotes the champion's walk-forward metrics from the
same card. Without a readable card the pipeline's untuned defaults are used and the report
says so.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from divergence.config import project_root
from divergence.tuning import DEFAULT_PARAMS

CARD = Path("models") / "divergence-utility" / "predictor" / "card.json"


@dataclass
class Champion:
    """Tuned parameters and walk-forward metrics of the model the report relies on.

    Attributes
    ----------
    params : dict
        ``UtilityRegressor`` parameters.
    metrics : dict
        Walk-forward metrics (``walkforward_rmse``, ``benchmarks_only_walkforward_rmse``,
        ``baseline_<name>_walkforward_rmse``, each with ``_ci_lo``/``_ci_hi``); may be empty.
    source : str
        Where they came from (a path, or ``"untuned defaults"``).
    digest : str
        SHA-256 of the parameters and metrics (part of the report's input key).
    info : dict
        Other card fields quoted by the report (training models, release range, commit).
    """

    params: dict[str, Any]
    metrics: dict[str, float] = field(default_factory=dict)
    source: str = "untuned defaults"
    digest: str = ""
    info: dict[str, Any] = field(default_factory=dict)


def _digest(params: dict[str, Any], metrics: dict[str, Any]) -> str:
    blob = json.dumps({"params": params, "metrics": metrics}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def load_champion(card: str | Path | None = None) -> Champion:
    """Read a predictor ``card.json`` (default: the shipped champion's); defaults if unreadable."""
    path = Path(card) if card else project_root() / CARD
    try:
        c = json.loads(path.read_text(encoding="utf-8"))
        params = {k: v for k, v in dict(c["params"]).items() if k not in {"n_jobs", "random_state"}}
        metrics = {
            k: float(v)
            for k, v in dict(c.get("walkforward_metrics", {})).items()
            if isinstance(v, int | float)
        }
    except (OSError, ValueError, KeyError, TypeError):
        params = dict(DEFAULT_PARAMS)
        return Champion(params, {}, "untuned defaults", _digest(params, {}))
    info = {k: c[k] for k in ["training_models", "training_release_range", "git_commit"] if k in c}
    try:
        shown = str(path.resolve().relative_to(project_root().resolve()))
    except ValueError:
        shown = str(path)
    return Champion({**DEFAULT_PARAMS, **params}, metrics, shown, _digest(params, metrics), info)
