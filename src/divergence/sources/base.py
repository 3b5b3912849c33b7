"""The contract every source reader meets.

A :class:`Source` names one reader, the raw folders it reads (:class:`Upstream`, with
attribution and license) and its ``read(raw) -> ReaderOutput``. Each reader module
declares its own ``SOURCE`` next to the code that reads it; :mod:`divergence.sources`
lists the modules.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from divergence.schema import READER_SCHEMAS, validate

CROSSWALK_COLUMNS = ["source", "source_model", "other_source", "other_model"]


@dataclass(frozen=True)
class Upstream:
    """One raw folder: where it comes from, under which terms, what it feeds.

    Attributes
    ----------
    folder : str
        Path below ``raw/``.
    upstream : str
        Where the files were taken from (repository or site).
    license : str
        License or terms as stated by the upstream ("none stated" when there is none).
    what : str
        What the folder holds.
    feeds : tuple of str
        Values of the snapshot's ``source`` column that this folder's rows carry.
    """

    folder: str
    upstream: str
    license: str
    what: str
    feeds: tuple[str, ...] = ()

    @property
    def terms(self) -> str:
        """``"non-commercial"``, ``"none stated"``, ``"terms of use"`` or ``"open"``."""
        low = self.license.lower()
        if "nc" in low.replace("-", " ").split() or "non-commercial" in low:
            return "non-commercial"
        if "none stated" in low or "not stated" in low:
            return "none stated"
        if "terms" in low:
            return "terms of use"
        return "open"

    def as_dict(self) -> dict[str, str]:
        """Attribution entry as stored in the snapshot manifest."""
        return {
            "folder": self.folder,
            "upstream": self.upstream,
            "license": self.license,
            "terms": self.terms,
            "feeds": ";".join(self.feeds),
            "what": self.what,
        }


@dataclass(frozen=True)
class ReaderOutput:
    """Frames one reader returns, each matching :data:`divergence.schema.READER_SCHEMAS`.

    ``crosswalk`` (optional) links a source id to another source's id
    (:data:`CROSSWALK_COLUMNS`).
    """

    ratings: pd.DataFrame | None = None
    benchmarks: pd.DataFrame | None = None
    adoption: pd.DataFrame | None = None
    meta: pd.DataFrame | None = None
    crosswalk: pd.DataFrame | None = None

    @classmethod
    def from_mapping(cls, frames: Mapping[str, pd.DataFrame], origin: str) -> ReaderOutput:
        """Validate a ``{kind: frame}`` mapping (unknown kinds raise)."""
        from divergence.errors import SourceError

        out: dict[str, pd.DataFrame] = {}
        for kind, df in frames.items():
            if kind in READER_SCHEMAS:
                out[kind] = validate(df, kind, origin=origin)
            elif kind == "crosswalk":
                out[kind] = df
            else:
                raise SourceError(origin, f"unknown output table {kind!r}")
        return cls(**out)

    def items(self) -> Iterator[tuple[str, pd.DataFrame]]:
        """``(kind, frame)`` for every frame the reader returned."""
        for kind in [*READER_SCHEMAS, "crosswalk"]:
            df = getattr(self, kind)
            if df is not None:
                yield kind, df

    def without(self, sources: set[str]) -> ReaderOutput:
        """The same frames without rows whose ``source`` is in ``sources``."""
        kept = {}
        for kind, df in self.items():
            mask = ~df["source"].isin(sources)
            if kind == "crosswalk":
                mask &= ~df["other_source"].isin(sources)
            kept[kind] = df[mask].reset_index(drop=True)
        return ReaderOutput(**kept)


@dataclass(frozen=True)
class Source:
    """A registered reader: name, upstream folders and the function that reads them."""

    name: str
    upstreams: tuple[Upstream, ...]
    reader: Callable[[Path], Mapping[str, pd.DataFrame]] = field(repr=False)

    @property
    def folders(self) -> tuple[str, ...]:
        """Raw folders (below ``raw/``) this reader reads."""
        return tuple(u.folder for u in self.upstreams)

    @property
    def feeds(self) -> tuple[str, ...]:
        """Snapshot ``source`` values this reader emits (sorted, unique)."""
        return tuple(sorted({f for u in self.upstreams for f in u.feeds}))

    @property
    def license(self) -> str:
        """The licenses of its folders, ``;``-joined (unique, in folder order)."""
        return "; ".join(dict.fromkeys(u.license for u in self.upstreams))

    def read(self, raw: str | Path) -> ReaderOutput:
        """Run the reader on ``raw`` and validate its frames."""
        return ReaderOutput.from_mapping(self.reader(Path(raw)), origin=f"reader {self.name}")
