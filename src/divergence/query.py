"""Resolve what users type to one model id, honestly.

One code path for :meth:`divergence.predictor.Predictor.predict_models`, the CLI
(``divergence predict --model``, ``divergence resolve``) and the pyfunc. Order of rules
(first that answers wins; the ``rule`` of a :class:`Resolution`):

``model_id``
    the query is a model id of the index.
``alias``
    the query (case-insensitive, surrounding space ignored) is an alias of some source:
    arena keys, AA slugs and display names, OpenRouter permaslugs, Hugging Face repo ids,
    Ollama tags, litellm keys, ...; an arena key wins over other sources' spellings, a
    source's own id over display names.
``normalized``
    the same after :func:`divergence.identity.normalize` (case, spacing, punctuation,
    vendor prefix, routing suffix).
``entity``
    the query's entity (:func:`divergence.entity.parse`: organization, base, variant,
    date) equals the entity of the aliases of exactly one model: unseen arena keys
    (``claude-opus-4-7-thinking``) meet AA's ``Claude Opus 4.7 (Adaptive Reasoning,
    Max Effort)``.
``unversioned``
    the query names no version number and no date, has two words or more, and its
    words (organization, variant) are those
    of the aliases of exactly one model (the arena's ``ibm-granite-h-small`` meets AA's
    ``granite-4-0-h-small``); several such models: ``ambiguous``.
``display_variant`` / ``nearest_variant``
    no model has the variant the query names; the model whose AA display name states
    it (AA's plain slug of a reasoning model), else the nearest variant
    (:data:`divergence.entity.VARIANT_FALLBACK`: ``high`` -> ``xhigh``, ``instant`` ->
    ``non-reasoning``), as the reviewed alias table does for the arena.

Several models at one step: status ``ambiguous`` with the candidates; never a silent
pick. Nothing: ``unknown`` with up to three suggestions.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

import pandas as pd

from divergence.entity import VARIANT_FALLBACK, Entity, dates_compatible, parse
from divergence.errors import DivergenceError
from divergence.identity import infer_org, normalize

MAX_QUERY_CHARS = 300
MAX_QUERIES = 5000
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass
class Resolution:
    """The answer for one query.

    Attributes
    ----------
    status : str
        ``ok``, ``no_benchmarks``, ``ambiguous`` or ``unknown``.
    model_id : str or None
    rule : str
        The rule that answered (module docstring), ``""`` when unknown.
    candidates : list of str
        Several models the query fits (``ambiguous``); for ``no_benchmarks``, the
        namesakes the answer was preferred to that do have benchmark scores (a dated
        snapshot of a routing alias, say), for the caller to choose from.
    rejected : list of (str, str)
        (model id, reason) of the models the answer was preferred to.
    suggestions : list of str
        "Did you mean" ids for ``unknown``.
    evidence : str
        ``"<n> benchmarks: <sources>"``.
    """

    query: str
    status: str
    model_id: str | None = None
    rule: str = ""
    candidates: list[str] = field(default_factory=list)
    rejected: list[tuple[str, str]] = field(default_factory=list)
    suggestions: list[str] = field(default_factory=list)
    evidence: str = ""
    n_benchmarks: int = 0


def check_query(q: object, position: int | None = None) -> str:
    """A query string, stripped; one-line DivergenceError on a bad one."""
    where = f"model query {position + 1}" if position is not None else "model query"
    if not isinstance(q, str):
        raise DivergenceError(f"{where}: not a string ({type(q).__name__})")
    text = q.strip()
    if not text:
        raise DivergenceError(f"{where}: empty model name")
    if _CONTROL.search(text):
        raise DivergenceError(f"{where}: control character in model name {text[:40]!r}")
    if len(text) > MAX_QUERY_CHARS:
        raise DivergenceError(f"{where}: model name longer than {MAX_QUERY_CHARS} characters")
    return text


def check_queries(queries: object, each: bool = True) -> list:
    """The query list: a single string is one query; at most :data:`MAX_QUERIES`.

    With ``each`` (the CLI) every name must pass :func:`check_query`; otherwise (the
    Python API) bad names are kept and answered ``unknown``.
    """
    if isinstance(queries, str):
        queries = [queries]
    elif isinstance(queries, pd.Series):
        queries = queries.tolist()
    elif not isinstance(queries, Iterable):
        raise DivergenceError(
            f"model queries: expected a string or a list, got {type(queries).__name__}"
        )
    qs = list(queries)
    if not qs:
        raise DivergenceError("model queries: no model name given")
    if len(qs) > MAX_QUERIES:
        raise DivergenceError(f"model queries: {len(qs)} names, at most {MAX_QUERIES} per call")
    return [check_query(q, i) for i, q in enumerate(qs)] if each else qs


def _entity_of(alias: str, source: str) -> Entity:
    display = alias if source.endswith(":display") or "(" in alias else None
    return parse(alias, display, infer_org(alias))


def _query_entity(q: str) -> tuple[Entity, str | None]:
    """The entity and inferred organization of a query (a "(...)" part is a display variant)."""
    org = infer_org(q)
    return parse(q, q if "(" in q else None, org), org


def _key_text(base: tuple, variant: str) -> str:
    return " ".join(base[0]) + "|" + " ".join(base[1]) + "|" + variant


ENTITY_COLUMNS = ["norm", "ent", "ent_dv", "ent_date", "ent_org"]
# Display names whose entity the ``entity`` rule trusts: AA states the variant in its
# display names; catalogues (models.dev, OpenRouter, ...) often drop it.
ENTITY_DISPLAY_SOURCES = frozenset({"artificial-analysis:display"})


def entity_columns(aliases: pd.DataFrame) -> pd.DataFrame:
    """Precomputed matching columns of an alias table (saves :class:`QueryIndex` the parsing).

    Returns
    -------
    DataFrame
        ``aliases`` plus norm (normalised alias), ent (entity key), ent_dv (key with the
        display-name variant, empty if none), ent_date, ent_org (inferred organization).
    """
    out = aliases.copy()
    rows = []
    for alias, source in zip(out["alias"].astype(str), out["source"].astype(str), strict=True):
        ent = _entity_of(alias, source)
        rows.append(
            (
                normalize(alias),
                _key_text(ent.base, ent.variant) if ent.base_text else "",
                _key_text(ent.base, ent.display_variant) if ent.display_variant else "",
                ent.date,
                infer_org(alias) or "",
            )
        )
    extra = pd.DataFrame(rows, columns=ENTITY_COLUMNS, index=out.index)
    return pd.concat([out.drop(columns=[c for c in ENTITY_COLUMNS if c in out]), extra], axis=1)


class QueryIndex:
    """Query resolution over an alias table.

    Parameters
    ----------
    aliases : DataFrame
        Columns alias, source, model_id (the snapshot's ``aliases`` table, or the
        predictor's ``aliases.csv.gz``), optionally the :data:`ENTITY_COLUMNS` of
        :func:`entity_columns` (otherwise computed on first need).
    evidence : dict, optional
        model_id -> (number of benchmark inputs, sorted list of their sources).
    """

    def __init__(
        self,
        aliases: pd.DataFrame,
        evidence: dict[str, tuple[int, list[str]]] | None = None,
    ) -> None:
        cols = ["alias", "source", "model_id"]
        have = [c for c in ENTITY_COLUMNS if c in aliases.columns]
        a = aliases[cols + have].copy()
        a = a.dropna(subset=cols)
        a[cols] = a[cols].astype(str)
        self.evidence = evidence or {}
        self.ids = set(a["model_id"])
        known = set(zip(a["alias"], a["source"], strict=True))
        ids_rows = pd.DataFrame(
            [(m, "model_id", m) for m in sorted(self.ids) if (m, "model_id") not in known],
            columns=cols,
        )
        self._a = pd.concat([a, ids_rows], ignore_index=True)
        self._exact: dict[str, dict[str, set[str]]] = {}
        for alias, source, mid in zip(
            self._a["alias"], self._a["source"], self._a["model_id"], strict=True
        ):
            self._exact.setdefault(alias.strip().lower(), {}).setdefault(mid, set()).add(source)
        self._norm: dict[str, dict[str, set[str]]] | None = None
        self._entity: dict[str, set[tuple[str, str]]] = {}
        self._display_variant: dict[str, set[tuple[str, str]]] = {}
        self._words: dict[str, set[tuple[str, str]]] = {}
        self._org: dict[str, set[str]] = {}
        self._norm_keys: list[str] = []
        self._base_ids: set[str] = set()

    def _ready(self) -> None:
        """Build the normalised and entity indexes (once, on the first query that needs them)."""
        if self._norm is not None:
            return
        a = self._a
        if not set(ENTITY_COLUMNS) <= set(a.columns) or a[ENTITY_COLUMNS].isna().any().any():
            a = entity_columns(a[["alias", "source", "model_id"]])
        self._norm = {}
        for n, mid, source, ent, dv, date, org in zip(
            a["norm"],
            a["model_id"],
            a["source"],
            a["ent"],
            a["ent_dv"],
            a["ent_date"],
            a["ent_org"],
            strict=True,
        ):
            self._norm.setdefault(str(n), {}).setdefault(mid, set()).add(source)
            if "base" in str(n).split("-"):  # "Llama 3.1 405B (base)": a pretrained model
                self._base_ids.add(mid)
            date = "" if pd.isna(date) else str(date)
            if source.endswith(":display") and source not in ENTITY_DISPLAY_SOURCES:
                continue  # catalogue display names drop variant words ("ERNIE 5.0")
            if isinstance(ent, str) and ent:
                self._entity.setdefault(ent, set()).add((mid, date))
                words, _nums, variant = ent.split("|")
                self._words.setdefault(f"{words}|{variant}", set()).add((mid, date))
            if isinstance(dv, str) and dv:
                self._display_variant.setdefault(dv, set()).add((mid, date))
            if isinstance(org, str) and org:
                self._org.setdefault(mid, set()).add(org)
        self._norm_keys = sorted(self._norm)

    @classmethod
    def from_snapshot(cls, tables: dict[str, pd.DataFrame]) -> QueryIndex:
        """Index over a loaded snapshot; evidence = independent benchmark scores."""
        b = tables["benchmarks"]
        b = b[~b["self_reported"].fillna(False).astype(bool)]
        return cls(tables["aliases"], evidence_from_benchmarks(b))

    def _evidence(self, res: Resolution) -> Resolution:
        if res.model_id is not None:
            n, srcs = self.evidence.get(res.model_id, (0, []))
            res.n_benchmarks = n
            res.evidence = f"{n} benchmarks: {', '.join(srcs)}" if n else "0 benchmarks"
            res.status = "ok" if n else "no_benchmarks"
            if not n and not res.candidates:
                res.candidates = [m for m, _why in res.rejected if self.evidence.get(m, (0, []))[0]]
        return res

    def _pick(self, q: str, hits: dict[str, set[str]], rule: str) -> Resolution | None:
        if not hits:
            return None
        if len(hits) == 1:
            return Resolution(q, "ok", next(iter(hits)), rule)
        arena = [m for m, srcs in hits.items() if "lmarena" in srcs or "model_id" in srcs]
        # a source's own id is stronger than another source's display name
        own = [m for m, srcs in hits.items() if any(not s.endswith(":display") for s in srcs)]
        for best in (arena, own):
            if len(best) == 1:
                rejected = [
                    (m, f"alias of {', '.join(sorted(s))}")
                    for m, s in sorted(hits.items())
                    if m != best[0]
                ]
                return Resolution(q, "ok", best[0], rule, rejected=rejected)
        return Resolution(q, "ambiguous", None, rule, candidates=sorted(hits))

    def resolve(self, query: str) -> Resolution:
        """Resolve one (already checked) query string."""
        q = query.strip()
        if q in self.ids:
            return self._evidence(Resolution(q, "ok", q, "model_id"))
        res = self._pick(q, self._exact.get(q.lower(), {}), "alias")
        if res is not None:
            return self._evidence(res)
        self._ready()
        assert self._norm is not None
        res = self._pick(q, self._norm.get(normalize(q), {}), "normalized")
        if res is None:
            res = self._resolve_entity(q)
        if res is not None:
            return self._evidence(self._base_guard(q, res))
        return Resolution(q, "unknown", suggestions=self.suggest(q))

    def _base_guard(self, q: str, res: Resolution) -> Resolution:
        """``ambiguous`` when a name that does not say "base" found a pretrained base model
        that has a tuned namesake ("Llama 3.1 405B": the base or the instruct model)."""
        if res.model_id not in self._base_ids or "base" in normalize(q).split("-"):
            return res
        ent, org = _query_entity(q)
        if not ent.base_text:
            return res
        found = self._entity.get(_key_text(ent.base, ent.variant), set())
        tuned = self._fits(found, ent, org) - self._base_ids
        if not tuned:
            return res
        return Resolution(q, "ambiguous", None, res.rule, candidates=sorted({res.model_id, *tuned}))

    def _fits(self, found: set[tuple[str, str]], ent: Entity, org: str | None) -> set[str]:
        ids = {m for m, d in found if dates_compatible(ent.date, d)}
        if org:
            ids = {m for m in ids if not self._org.get(m) or org in self._org[m]}
        return ids

    def _resolve_entity(self, q: str) -> Resolution | None:
        ent, org = _query_entity(q)
        if not ent.base_text:
            return None
        ids = self._fits(self._entity.get(_key_text(ent.base, ent.variant), set()), ent, org)
        rule = "entity"
        if not ids and ent.variant:
            dv = self._display_variant.get(_key_text(ent.base, ent.variant), set())
            ids = self._fits(dv, ent, org)
            rule = "display_variant"
            for alt in VARIANT_FALLBACK.get(ent.variant, ()):
                if ids:
                    break
                ids = self._fits(self._entity.get(_key_text(ent.base, alt), set()), ent, org)
                if not ids:
                    dv = self._display_variant.get(_key_text(ent.base, alt), set())
                    ids = self._fits(dv, ent, org)
                rule = "nearest_variant"
        if not ids and not ent.base[1] and len(ent.base[0]) >= 2 and not ent.date:
            # an undated name without a version number but with a family and a kind
            # ("ibm-granite-h-small"): the models whose names differ only by a version
            ids = self._fits(
                self._words.get(f"{' '.join(ent.base[0])}|{ent.variant}", set()), ent, org
            )
            rule = "unversioned"
        if not ids:
            return None
        if len(ids) > 1 and not ent.date:
            # an undated query naming a model with dated snapshots: the undated id, if one
            undated = {m for m in ids if not parse(m).date}
            if len(undated) == 1:
                rej = [(m, "dated snapshot") for m in sorted(ids - undated)]
                return Resolution(q, "ok", next(iter(undated)), rule, rejected=rej)
        if len(ids) == 1:
            return Resolution(q, "ok", next(iter(ids)), rule)
        return Resolution(q, "ambiguous", None, rule, candidates=sorted(ids))

    def suggest(self, q: str, k: int = 3) -> list[str]:
        """Up to ``k`` model ids whose aliases are spelled closest to ``q``."""
        self._ready()
        assert self._norm is not None
        n = normalize(q)
        out: list[str] = []
        for key in difflib.get_close_matches(n, self._norm_keys, n=12, cutoff=0.6):
            for mid in sorted(self._norm[key]):
                if mid not in out:
                    out.append(mid)
        return out[:k]

    def resolve_many(self, queries: object, each: bool = False) -> list[Resolution]:
        """Check and resolve queries (a single string is one query).

        A bad name (empty, not a string, control characters, too long) raises with
        ``each``, otherwise it is answered ``unknown`` with rule ``invalid: <reason>``.
        """
        out = []
        for i, q in enumerate(check_queries(queries, each=each)):
            try:
                text = check_query(q, i)
            except DivergenceError as exc:
                if each:
                    raise
                out.append(Resolution(str(q), "unknown", rule=f"invalid: {exc}"))
                continue
            out.append(self.resolve(text))
        return out


def evidence_from_benchmarks(bench: pd.DataFrame) -> dict[str, tuple[int, list[str]]]:
    """model_id -> (distinct benchmarks, their sources) from a snapshot benchmarks table."""
    out: dict[str, tuple[int, list[str]]] = {}
    if bench.empty:
        return out
    for mid, grp in bench.groupby("model_id", sort=True):
        out[str(mid)] = (int(grp["benchmark"].nunique()), sorted(set(grp["source"])))
    return out


def evidence_from_features(features: pd.DataFrame) -> dict[str, tuple[int, list[str]]]:
    """model_id -> (non-missing benchmark inputs, their sources) from a feature matrix."""
    cols = [c for c in features.columns if not c.startswith(("adopt.", "meta."))]
    out: dict[str, tuple[int, list[str]]] = {}
    if not cols:
        return out
    have = features[cols].notna()
    counts = have.sum(axis=1)
    prefix = [c.split(".", 1)[0] for c in cols]
    for mid, row, n in zip(features.index, have.to_numpy(), counts.to_numpy(), strict=True):
        if n:
            out[str(mid)] = (int(n), sorted({p for p, h in zip(prefix, row, strict=True) if h}))
    return out
