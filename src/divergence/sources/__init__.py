"""One reader per public source family, each behind the :class:`~divergence.sources.base.Source` contract.

Every module listed in :data:`MODULES` defines ``SPEC``: the reader's name, the raw
folders it reads with attribution and license (:class:`~divergence.sources.base.Upstream`),
and ``read(raw) -> ReaderOutput``. The snapshot build runs them in this order and copies
the attribution into the manifest and ``SOURCES.md``. Shared parsing helpers live in
:mod:`divergence.sources._io`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from divergence.errors import ConfigError
from divergence.sources.base import ReaderOutput, Source, Upstream

# reader name -> module (the build's order)
MODULES: dict[str, str] = {
    "arena": "divergence.sources.arena",
    "artificial-analysis": "divergence.sources.artificial_analysis",
    "epoch": "divergence.sources.epoch",
    "llm-stats": "divergence.sources.llm_stats",
    "livebench": "divergence.sources.livebench",
    "leaderboards": "divergence.sources.leaderboards",
    "openrouter": "divergence.sources.openrouter",
    "ollama": "divergence.sources.ollama",
    "catalogs": "divergence.sources.catalogs",
}
READERS = list(MODULES)

__all__ = [
    "MODULES",
    "READERS",
    "ReaderOutput",
    "Source",
    "Upstream",
    "reader",
    "registry",
    "source_names",
    "spec",
    "upstreams",
]


def spec(name: str) -> Source:
    """The :class:`Source` registered as ``name``."""
    if name not in MODULES:
        raise ConfigError(f"unknown reader {name!r}; known: {', '.join(MODULES)}")
    src = importlib.import_module(MODULES[name]).SPEC
    if src.name != name:  # a module registered under the wrong name
        raise ConfigError(f"{MODULES[name]}: SPEC.name is {src.name!r}, registered as {name!r}")
    return src


def registry() -> dict[str, Source]:
    """Every registered source, in build order."""
    return {name: spec(name) for name in MODULES}


def upstreams() -> list[Upstream]:
    """Every raw folder read by some reader, in build order."""
    return [u for s in registry().values() for u in s.upstreams]


def source_names() -> list[str]:
    """Every value of the snapshot's ``source`` column some reader emits (sorted)."""
    return sorted({f for s in registry().values() for f in s.feeds})


def reader(name: str) -> Callable[[Path], dict[str, pd.DataFrame]]:
    """The raw reader function registered as ``name`` (unvalidated frames)."""
    return spec(name).reader  # type: ignore[return-value]
