"""Experiment configs (``experiments/*.yaml``): target, feature sets, split, trials."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from divergence.config import project_root, valid_name
from divergence.errors import ConfigError
from divergence.sources._io import read_yaml


@dataclass(frozen=True)
class Experiment:
    """One experiment: what to predict, from which features, evaluated how."""

    name: str = "overall"
    board: str = "style"
    category: str = "full"
    fallback_raw: bool = True
    feature_set: str = "benchmarks_adoption"
    benchmark_feature_set: str = "benchmarks_only"
    n_test: int = 25
    min_train: int = 40
    inner_folds: int = 6
    tune_recent: int = 60
    rolling_min_train: int = 60
    n_trials: int = 30
    n_boot: int = 2000
    n_seeds: int = 1
    seed: int = 42
    registered_model: str = "divergence-utility"

    def to_dict(self) -> dict[str, Any]:
        """Flat dict (for MLflow params)."""
        return asdict(self)


_LAYOUT = {
    "target": {"board": "board", "category": "category", "fallback_raw": "fallback_raw"},
    "split": {
        "n_test": "n_test",
        "min_train": "min_train",
        "inner_folds": "inner_folds",
        "tune_recent": "tune_recent",
        "rolling_min_train": "rolling_min_train",
    },
    "tuning": {"n_trials": "n_trials"},
    "evaluation": {"n_boot": "n_boot", "n_seeds": "n_seeds"},
}
_TOP = {"name", "feature_set", "benchmark_feature_set", "seed", "registered_model"}


def load_experiment(path: str | Path, **overrides: Any) -> Experiment:
    """Read an experiment YAML; ``overrides`` (e.g. ``n_trials``, ``seed``) win when not None."""
    p = Path(path)
    if not p.exists() and not p.suffix:
        p = project_root() / "experiments" / f"{path}.yaml"
    elif not p.exists() and not p.is_absolute() and (project_root() / p).exists():
        p = project_root() / p  # e.g. MLproject's default "experiments/overall.yaml" from elsewhere
    if not p.exists():
        raise ConfigError(f"{p}: experiment config not found")
    if not p.is_file():
        raise ConfigError(f"{p}: experiment config is not a regular file")
    # strict reader: UTF-8 only, safe tags, no duplicate keys; an empty file means defaults
    raw = read_yaml(p) if p.stat().st_size else {}
    raw = {} if raw is None else raw
    if not isinstance(raw, dict):
        raise ConfigError(f"{p}: experiment must be a mapping")
    flat: dict[str, Any] = {}
    for key, value in raw.items():
        if key in _TOP:
            flat[key] = value
        elif key in _LAYOUT:
            if not isinstance(value, dict):
                raise ConfigError(f"{p}: {key!r} must be a mapping")
            for k, v in value.items():
                if k not in _LAYOUT[key]:
                    raise ConfigError(f"{p}: unknown key {key}.{k}")
                flat[_LAYOUT[key][k]] = v
        else:
            raise ConfigError(f"{p}: unknown key {key!r}")
    flat.update({k: v for k, v in overrides.items() if v is not None})
    try:
        exp = Experiment(**flat)
        ints = [
            "n_test",
            "min_train",
            "inner_folds",
            "tune_recent",
            "rolling_min_train",
            "n_trials",
            "n_boot",
            "n_seeds",
            "seed",
        ]
        exp = Experiment(**{**exp.to_dict(), **{k: int(getattr(exp, k)) for k in ints}})
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{p}: {exc}") from None
    for key in ("name", "registered_model"):
        if not valid_name(getattr(exp, key)):
            raise ConfigError(
                f"{p}: {key} {getattr(exp, key)!r} is not a valid name "
                "(letters, digits, '.', '_', '-'; no path separators)"
            )
    if exp.board not in {"raw", "style"}:
        raise ConfigError(f"{p}: target.board must be 'raw' or 'style'")
    if exp.n_test < 1 or exp.n_trials < 0 or exp.min_train < 10:
        raise ConfigError(f"{p}: n_test >= 1, n_trials >= 0 and min_train >= 10 required")
    if exp.n_seeds < 1 or exp.inner_folds < 1 or exp.tune_recent < 1:
        raise ConfigError(f"{p}: n_seeds, inner_folds and tune_recent must be >= 1")
    return exp
