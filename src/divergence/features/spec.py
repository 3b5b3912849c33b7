"""Declarative feature-set specs (``features/*.yaml``)."""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from divergence.columns import LEAKY_PATTERNS, is_leaky  # noqa: F401 (re-export)
from divergence.config import project_root
from divergence.errors import ConfigError

METADATA_FIELDS = {"open_weights", "reasoning", "params_b", "release_days", "org_major"}


@dataclass(frozen=True)
class AdoptionSpec:
    """Adoption signals measured at ``age_days`` after release."""

    age_days: int = 90
    level: tuple[str, ...] = ()
    flow: tuple[str, ...] = ()
    price: tuple[str, ...] = ()
    first_seen: tuple[str, ...] = ()


@dataclass(frozen=True)
class FeatureSpec:
    """A named feature set."""

    name: str
    description: str = ""
    include: tuple[str, ...] = ("*",)
    exclude: tuple[str, ...] = ()
    self_reported: bool = False
    livebench: str = "first_release_z"
    adoption: AdoptionSpec | None = None
    metadata: tuple[str, ...] = field(default_factory=tuple)

    def wants_benchmark(self, name: str) -> bool:
        """Whether benchmark column ``name`` (``source.benchmark``) belongs to this set."""
        low = name.lower()
        if any(fnmatch.fnmatch(low, p) for p in LEAKY_PATTERNS):
            return False
        if not any(fnmatch.fnmatch(low, p) for p in self.include):
            return False
        return not any(fnmatch.fnmatch(low, p) for p in self.exclude)


def load_spec(name_or_path: str | Path) -> FeatureSpec:
    """Load a feature-set spec by name (``features/<name>.yaml``) or path."""
    p = Path(name_or_path)
    if not p.suffix:
        p = project_root() / "features" / f"{name_or_path}.yaml"
    if not p.exists():
        raise ConfigError(f"{p}: feature-set spec not found")
    try:
        raw = yaml.safe_load(p.read_text())
    except yaml.YAMLError as exc:
        raise ConfigError(f"{p}: invalid YAML: {str(exc).splitlines()[0]}") from None
    if not isinstance(raw, dict) or "name" not in raw:
        raise ConfigError(f"{p}: spec must be a mapping with a 'name'")
    known = {"name", "description", "benchmarks", "adoption", "metadata"}
    extra = set(raw) - known
    if extra:
        raise ConfigError(f"{p}: unknown key {sorted(extra)[0]!r}")
    b = raw.get("benchmarks") or {}
    a = raw.get("adoption")
    meta = tuple(raw.get("metadata") or ())
    bad = set(meta) - METADATA_FIELDS
    if bad:
        raise ConfigError(f"{p}: unknown metadata field {sorted(bad)[0]!r}")
    adoption = None
    if a:
        try:
            adoption = AdoptionSpec(
                age_days=int(a.get("age_days", 90)),
                level=tuple(a.get("level") or ()),
                flow=tuple(a.get("flow") or ()),
                price=tuple(a.get("price") or ()),
                first_seen=tuple(a.get("first_seen") or ()),
            )
        except (TypeError, ValueError, AttributeError) as exc:
            raise ConfigError(f"{p}: bad adoption block: {exc}") from None
        if adoption.age_days <= 0:
            raise ConfigError(f"{p}: adoption.age_days must be positive")
    return FeatureSpec(
        name=str(raw["name"]),
        description=str(raw.get("description", "")),
        include=tuple(b.get("include") or ("*",)),
        exclude=tuple(b.get("exclude") or ()),
        self_reported=bool(b.get("self_reported", False)),
        livebench=str(b.get("livebench", "first_release_z")),
        adoption=adoption,
        metadata=meta,
    )
