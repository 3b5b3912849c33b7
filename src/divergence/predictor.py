"""The predictor users load: benchmark scores + adoption + metadata → utility.

:class:`Predictor` is plain Python over files in a directory (no MLflow needed):

- ``main.ubj`` / ``main.json``: the utility model (xgboost native format + JSON state);
- ``bench.ubj`` / ``bench.json``: the benchmarks-only model (``benchmark_implied``);
- ``intervals.json``: conformal half-widths from one-step-ahead residuals, per level and
  per evidence bin (number of observed benchmark inputs), see
  :class:`divergence.conformal.ConformalIntervals`;
- ``features.csv.gz``: raw features of every model in the training snapshot, so that
  :meth:`Predictor.predict_models` can look models up by id or alias;
- ``aliases.csv.gz``: alias, source → model_id (every source's spelling, display names
  as source ``<source>:display``), the index of :mod:`divergence.query`;
- ``training_ids.json`` (optional): the models of the final fit (``divergence_basis``);
- ``card.json``: training range, metrics, feature list.

:func:`load_predictor` loads it from the MLflow registry (default
``models:/divergence-utility@champion`` in the local SQLite store), any ``models:/``
URI, or an exported directory.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Hashable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from divergence.columns import column_scale, scale_table
from divergence.conformal import ConformalIntervals
from divergence.errors import (
    DivergenceError,
    InputError,
    NotPromotedWarning,
    SourceError,
    UnknownModelError,
)
from divergence.inference import ServingModel

if TYPE_CHECKING:
    from divergence.model import UtilityRegressor

OUTPUT_COLUMNS = [
    "predicted_utility",
    "lower_80",
    "upper_80",
    "lower_90",
    "upper_90",
    "benchmark_implied",
    "divergence",
]
ID_COLUMNS = ("model_id", "query", "model")
# Columns of predict_models before OUTPUT_COLUMNS.
MODEL_COLUMNS = [
    "query",
    "model_id",
    "status",
    "rule",
    "candidates",
    "evidence",
    "divergence_basis",
]
# No feature comes near this (tokens/week ~3e12); larger inputs are errors, not extrapolation
# (1e308 would overflow the standardisation and yield inf predictions).
MAX_ABS_INPUT = 1e15


def _read_json_object(path: Path) -> dict[str, Any]:
    """A JSON object from a predictor file (strict: UTF-8, finite numbers, unique keys)."""
    from divergence.sources._io import read_json

    value = read_json(path)
    if not isinstance(value, dict):
        raise SourceError(path, f"expected a JSON object, got {type(value).__name__}")
    return value


def _read_intervals(path: Path) -> dict[str, Any]:
    """``intervals.json``: an object whose numbers are finite, non-negative half-widths."""
    value = _read_json_object(path)

    def walk(v: Any, key: str) -> None:
        if isinstance(v, bool):
            return
        if isinstance(v, (int, float)):
            if not np.isfinite(v) or v < 0:
                raise SourceError(path, f"interval value {v!r} is not a finite number >= 0", key)
        elif isinstance(v, dict):
            for k, x in v.items():
                walk(x, f"{key}.{k}" if key else str(k))
        elif isinstance(v, list):
            for i, x in enumerate(v):
                walk(x, f"{key}[{i}]")

    walk(value, "")
    for k in ("q80", "q90"):
        if k in value and (isinstance(value[k], bool) or not isinstance(value[k], (int, float))):
            raise SourceError(path, "interval half-width must be a number", k)
    return value


def _check_table(path: Path, required: list[str]) -> None:
    """A complete gzip stream of UTF-8 CSV whose header holds ``required``."""
    import gzip
    import zlib

    try:
        with gzip.open(path, "rb") as fh:
            head = fh.readline()
            while fh.read(1 << 20):
                pass
    except (OSError, EOFError, zlib.error) as exc:
        raise SourceError(path, f"truncated or corrupt gzip file ({exc})") from None
    try:
        header = head.decode("utf-8-sig").strip().split(",")
    except UnicodeDecodeError:
        raise SourceError(path, "header is not valid UTF-8") from None
    for col in required:
        if col not in header:
            raise SourceError(path, "missing column", column=col)


class Predictor:
    """Predict arena utility for rows of raw model-level inputs.

    Parameters
    ----------
    directory : path
        A directory written by :func:`save_predictor_files`.

    Attributes
    ----------
    main, bench : divergence.inference.ServingModel
        The utility model and the benchmarks-only model, loaded for prediction only
        (no scikit-learn or xgboost import until a batch exceeds
        :data:`divergence.inference.SMALL_BATCH` rows);
        :meth:`divergence.model.UtilityRegressor.load` reads the same files as estimators.
    model_uri : str or None
        The registry URI it was loaded from by the default :func:`load_predictor`.
    promoted : bool or None
        Whether that version holds ``@champion`` (None: loaded by explicit URI or path).
    """

    main: ServingModel
    bench: ServingModel
    model_uri: str | None = None
    promoted: bool | None = None

    def __init__(self, directory: str | Path) -> None:
        d = Path(directory)
        if not d.is_dir():
            raise DivergenceError(f"{d}: not a divergence model directory (not a directory)")
        for name in [
            "main.json",
            "main.ubj",
            "bench.json",
            "bench.ubj",
            "intervals.json",
            "features.csv.gz",
            "aliases.csv.gz",
        ]:
            f = d / name
            if not f.exists():
                raise DivergenceError(
                    f"{f}: predictor file missing (not a divergence model directory)"
                )
            if f.is_symlink() or not f.is_file():
                raise DivergenceError(
                    f"{f}: predictor file is not a regular file (links are not followed)"
                )
        card_file = d / "card.json"
        if card_file.is_symlink() or (card_file.exists() and not card_file.is_file()):
            raise DivergenceError(
                f"{card_file}: predictor file is not a regular file (links are not followed)"
            )
        self.directory = d
        for prefix in ("main", "bench"):
            try:
                model = ServingModel(d, prefix)
            except (
                OSError,
                ValueError,
                KeyError,
                TypeError,
                AttributeError,
                IndexError,
                RecursionError,
            ) as exc:
                msg = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
                raise DivergenceError(
                    f"{d / prefix}.json/.ubj: not a valid divergence model directory "
                    f"({type(exc).__name__}: {msg[:200]})"
                ) from None
            setattr(self, prefix, model)
        self.intervals = _read_intervals(d / "intervals.json")
        try:
            self.conformal = ConformalIntervals.from_dict(self.intervals)
        except (ValueError, KeyError, TypeError) as exc:
            raise SourceError(d / "intervals.json", f"not a valid intervals file ({exc})") from None
        self.card = _read_json_object(d / "card.json") if (d / "card.json").exists() else {}
        _check_table(d / "features.csv.gz", ["model_id"])
        _check_table(d / "aliases.csv.gz", ["alias", "model_id"])
        self.scales = scale_table(self.input_columns)
        self._features: pd.DataFrame | None = None
        self._aliases: dict[str, str] | None = None
        self._index: Any = None
        self._training: set[str] | None = None

    @property
    def input_columns(self) -> list[str]:
        """All accepted input columns (every one optional)."""
        cols = list(self.main.feature_names_in_) + list(self.bench.feature_names_in_)
        return list(dict.fromkeys(cols))

    def _check(self, df: pd.DataFrame) -> pd.DataFrame:
        """Validated inputs as a float64 DataFrame (same index, known columns only)."""
        cols, block = self._validate(df)
        return pd.DataFrame(block, index=df.index, columns=cols)

    def _validate(self, df: pd.DataFrame) -> tuple[list[str], np.ndarray]:
        """Check the input columns; returns them with their values as one float64 matrix."""
        if not isinstance(df, pd.DataFrame):
            raise DivergenceError(f"input must be a pandas DataFrame, got {type(df).__name__}")
        known = self.__dict__.get("_known")
        if known is None:
            known = self.__dict__["_known"] = frozenset(self.input_columns)
        all_cols = df.columns.tolist()
        if df.columns.has_duplicates:
            raise DivergenceError(
                f"input column {df.columns[df.columns.duplicated()][0]!r}: duplicate column"
            )
        cols = [c for c in all_cols if c not in ID_COLUMNS]
        unknown = [c for c in cols if c not in known]
        if unknown:
            raise DivergenceError(
                f"input column {unknown[0]!r}: unknown feature (see predictor.input_columns; {len(unknown)} unknown)"
            )
        # Fast path: plain numpy int/float columns are converted in one block; only
        # object/bool/string/extension columns need the per-column checks below.
        dtypes = dict(zip(all_cols, df.dtypes.tolist(), strict=True))
        fast = [c for c in cols if isinstance(dtypes[c], np.dtype) and dtypes[c].kind in "fiu"]
        block = np.zeros((len(df), 0))
        first_inf: dict[str, int] = {}
        if fast:
            block = (df if len(fast) == len(all_cols) else df[fast]).to_numpy(dtype="float64")
            inf = np.isinf(block)
            if inf.any():
                for jf in np.flatnonzero(inf.any(axis=0)):
                    first_inf[fast[jf]] = int(np.flatnonzero(inf[:, jf])[0])
        fast_pos = {c: j for j, c in enumerate(fast)}
        out: dict[str, Any] = {}
        for c in cols:  # in input order, so the first bad column is the one reported
            if c in fast_pos:
                if c in first_inf:
                    raise InputError(c, first_inf[c] + 1, "infinite value")
                out[c] = block[:, fast_pos[c]]
                continue
            s = df[c]
            if (
                s.dtype.kind in "mM" and s.notna().any()
            ):  # to_numeric would turn dates into ns counts
                pos = int(np.flatnonzero(s.notna().to_numpy())[0])
                raise InputError(c, pos + 1, f"non-numeric value {s.iloc[pos]!r}")
            if s.dtype == bool or (
                s.dtype == object and s.map(lambda v: isinstance(v, bool)).any()
            ):
                s = s.astype(object).map(lambda v: float(v) if isinstance(v, bool) else v)
            num = pd.to_numeric(s, errors="coerce")
            bad = num.isna() & s.notna() & ~s.astype(str).str.strip().isin(["", "nan", "NaN"])
            if bad.any():
                pos = int(np.flatnonzero(bad.to_numpy())[0])
                raise InputError(c, pos + 1, f"non-numeric value {s.iloc[pos]!r}")
            arr = num.to_numpy(dtype="float64", na_value=np.nan)
            if np.isinf(arr).any():
                pos = int(np.flatnonzero(np.isinf(arr))[0])
                raise InputError(c, pos + 1, "infinite value")
            out[c] = arr
        if len(fast) == len(cols):
            cols = fast
        else:
            block = np.column_stack([out[c] for c in cols]) if cols else np.zeros((len(df), 0))
        with np.errstate(invalid="ignore"):
            huge = np.abs(block) > MAX_ABS_INPUT
        if huge.any():
            j = int(np.flatnonzero(huge.any(axis=0))[0])
            i = int(np.flatnonzero(huge[:, j])[0])
            raise InputError(
                cols[j], i + 1, f"value {block[i, j]:g} out of range (|x| > {MAX_ABS_INPUT:g})"
            )
        self._check_scales(cols, block)
        return cols, block

    def _check_scales(self, cols: list[str], block: np.ndarray) -> None:
        """Refuse values outside each column's declared scale (:mod:`divergence.columns`)."""
        scales = self.__dict__.get("scales")
        if scales is None:
            scales = self.__dict__["scales"] = scale_table(self.input_columns)
        bounds = self.__dict__.setdefault("_bounds", {})
        key = tuple(cols)
        if key not in bounds:  # per column list: the scaled columns and their lo/hi rows
            idx = [j for j, c in enumerate(cols) if scales.get(c) is not None]
            lo = np.array([float(scales[cols[j]]["lo"]) for j in idx], dtype="float64")
            hi = np.array([float(scales[cols[j]]["hi"]) for j in idx], dtype="float64")
            bounds[key] = (np.array(idx, dtype=np.intp), lo, hi)
        idx, lo, hi = bounds[key]
        if not len(idx):
            return
        sub = block[:, idx] if len(idx) < block.shape[1] else block
        with np.errstate(invalid="ignore"):
            bad = (sub < lo) | (sub > hi)  # NaN compares False: missing is fine
        if not bad.any():
            return
        j = int(np.flatnonzero(bad.any(axis=0))[0])  # first bad column in input order
        i = int(np.flatnonzero(bad[:, j])[0])
        c, v = cols[int(idx[j])], sub[i, j]
        scale = column_scale(c)
        rng = scale.describe() if scale is not None else f"{lo[j]:g} to {hi[j]:g}"
        raise InputError(c, i + 1, f"value {v:g} outside the column's scale {rng}")

    @staticmethod
    def _columns_for(model: ServingModel, cols: list[str], block: np.ndarray) -> np.ndarray:
        """The model's input matrix from the validated columns (absent ones = NaN)."""
        pos = {c: j for j, c in enumerate(cols)}
        names = model.input_columns_
        src = np.array([pos.get(c, -1) for c in names], dtype=int)
        A = np.full((block.shape[0], len(names)), np.nan)
        have = src >= 0
        A[:, have] = block[:, src[have]]
        return A

    def predict(self, df: pd.DataFrame) -> pd.DataFrame:
        """Predict for rows of raw inputs; missing optional columns are treated as unknown.

        Returns
        -------
        DataFrame
            :data:`OUTPUT_COLUMNS`, same index as ``df``.
        """
        cols, block = self._validate(df)
        if len(df) == 0:
            return pd.DataFrame(columns=OUTPUT_COLUMNS, dtype="float64")
        return pd.DataFrame(self.predict_block(cols, block), index=df.index, columns=OUTPUT_COLUMNS)

    def predict_block(
        self, cols: list[str], block: np.ndarray, matrices: dict[tuple, np.ndarray] | None = None
    ) -> np.ndarray:
        """:data:`OUTPUT_COLUMNS` as a matrix from validated inputs (:meth:`_validate` output).

        ``matrices`` (optional) caches each model's input matrix by its column list, so
        several predictors (domains) validating the same rows share them.
        """
        mats = {} if matrices is None else matrices

        def inputs(model: ServingModel) -> np.ndarray:
            key = tuple(model.input_columns_)
            if key not in mats:
                mats[key] = self._columns_for(model, cols, block)
            return mats[key]

        A = inputs(self.main)
        pred = self.main.predict_matrix(A)
        bimp = self.bench.predict_matrix(inputs(self.bench))
        evidence = self.main.evidence_matrix(A)  # intervals widen with fewer benchmark inputs
        q80 = self.conformal.half_width(0.8, evidence)
        q90 = self.conformal.half_width(0.9, evidence)
        return np.column_stack(
            [pred, pred - q80, pred + q80, pred - q90, pred + q90, bimp, pred - bimp]
        )

    # ---- lookup by model id ----------------------------------------------------
    def _load_tables(self) -> None:
        if self._features is None:
            from divergence.query import QueryIndex, evidence_from_features

            f = pd.read_csv(self.directory / "features.csv.gz", dtype={"model_id": str})
            self._features = f.set_index("model_id").astype("float64")
            a = pd.read_csv(self.directory / "aliases.csv.gz", dtype=str, keep_default_na=False)
            self._index = QueryIndex(a, evidence_from_features(self._features))
            t = self.directory / "training_ids.json"
            self._training = set(json.loads(t.read_text())) if t.exists() else None
            self._aliases = {}

    def resolve(self, query: str) -> str | None:
        """Canonical model id for a name users type, or None (unknown or ambiguous).

        Same rules as :meth:`predict_models` (:mod:`divergence.query`).
        """
        from divergence.query import check_query

        self._load_tables()
        if not isinstance(query, str):
            return None
        try:
            q = check_query(query)
        except DivergenceError:
            return None
        return self._index.resolve(q).model_id

    def resolve_names(self, queries: Any) -> list:
        """:class:`divergence.query.Resolution` per query (a single string is one query)."""
        self._load_tables()
        return self._index.resolve_many(queries)

    def predict_models(
        self, queries: Any, strict: bool = False, allow_prior: bool = False
    ) -> pd.DataFrame:
        """Predict for models by any name users type (ids, aliases, display names).

        Parameters
        ----------
        queries : str or list of str
            A single string is one query.
        strict : bool
            Raise :class:`UnknownModelError` unless every query resolves to one model.
        allow_prior : bool
            Also predict for resolved models without any benchmark score (status
            ``no_benchmarks``): the prediction then rests on metadata and adoption only.

        Returns
        -------
        DataFrame
            ``query``, ``model_id``, ``status`` (``ok``/``no_benchmarks``/``ambiguous``/
            ``unknown``), ``rule``, ``candidates`` (``;``-separated: the models an ``ambiguous``
            name fits, or the scored namesakes of a ``no_benchmarks`` answer),
            ``evidence`` (number and sources of benchmark inputs), ``divergence_basis``
            (``in_sample`` for training models, whose divergence is an in-sample
            residual; ``out_of_sample`` otherwise; ``unknown`` for model directories
            that do not list their training models) then :data:`OUTPUT_COLUMNS`.
        """
        self._load_tables()
        assert self._features is not None
        res = self._index.resolve_many(queries)
        if strict:
            bad = [r for r in res if r.status in ("unknown", "ambiguous")]
            if bad:
                raise UnknownModelError(
                    f"{bad[0].status} model {bad[0].query!r} ({len(bad)} not resolved to one model)"
                )
        use = [
            r.model_id is not None
            and r.model_id in self._features.index
            and (r.status == "ok" or (allow_prior and r.status == "no_benchmarks"))
            for r in res
        ]
        ok = [r.model_id for r, u in zip(res, use, strict=True) if u]
        preds = (
            self.predict(self._features.loc[ok].reset_index(drop=True))
            if ok
            else pd.DataFrame(columns=OUTPUT_COLUMNS)
        )
        rows, k = [], 0
        for r, u in zip(res, use, strict=True):
            if r.model_id is None:
                basis = None
            elif self._training is None:
                basis = "unknown"
            else:
                basis = "in_sample" if r.model_id in self._training else "out_of_sample"
            row: dict[Hashable, Any] = {
                "query": r.query,
                "model_id": r.model_id,
                "status": r.status,
                "rule": r.rule,
                "candidates": ";".join(r.candidates) if r.candidates else None,
                "evidence": r.evidence or None,
                "divergence_basis": basis,
            }
            if u:
                row.update(preds.iloc[k].to_dict())
                k += 1
            else:
                row.update(dict.fromkeys(OUTPUT_COLUMNS, np.nan))
            rows.append(row)
        return pd.DataFrame(rows, columns=[*MODEL_COLUMNS, *OUTPUT_COLUMNS])


def save_predictor_files(
    directory: str | Path,
    main: UtilityRegressor,
    bench: UtilityRegressor,
    intervals: dict[str, Any],
    features: pd.DataFrame,
    aliases: pd.DataFrame,
    card: dict[str, Any],
    training_ids: list[str] | None = None,
) -> dict[str, str]:
    """Write every predictor file; returns {artifact name: path} for MLflow.

    ``training_ids`` (the models the final fit saw) go to ``training_ids.json``, so that
    :meth:`Predictor.predict_models` can mark in-sample divergences.
    ``intervals`` is :meth:`divergence.conformal.ConformalIntervals.to_dict` output.
    """
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    paths = [*main.save(d, "main"), *bench.save(d, "bench")]
    (d / "intervals.json").write_text(json.dumps(intervals, indent=1, sort_keys=True))
    f = features.reset_index()
    f.to_csv(
        d / "features.csv.gz",
        index=False,
        float_format="%.6g",
        compression={"method": "gzip", "mtime": 0},
    )
    from divergence.query import entity_columns

    entity_columns(aliases[["alias", "source", "model_id"]]).to_csv(
        d / "aliases.csv.gz", index=False, compression={"method": "gzip", "mtime": 0}
    )
    (d / "card.json").write_text(json.dumps(card, indent=1, sort_keys=True, default=str))
    paths += [d / "intervals.json", d / "features.csv.gz", d / "aliases.csv.gz", d / "card.json"]
    if training_ids is not None:
        (d / "training_ids.json").write_text(json.dumps(sorted(map(str, training_ids)), indent=0))
        paths.append(d / "training_ids.json")
    return {p.name.replace(".", "_"): str(p) for p in paths}


def load_predictor(uri: str | Path | None = None, tracking_uri: str | None = None) -> Predictor:
    """Load the predictor.

    Parameters
    ----------
    uri : str or path, optional
        ``models:/<name>@<alias>`` / ``models:/<name>/<version>`` or an exported
        directory. Default: ``models:/divergence-utility@champion``; when no version has
        passed the promotion gate, the newest version, with a
        :class:`~divergence.errors.NotPromotedWarning` (``promoted`` is then False).
    tracking_uri : str, optional
        Defaults to :func:`divergence.config.default_tracking_uri` (local SQLite store).

    Returns
    -------
    Predictor

    Notes
    -----
    The registry lookup is :func:`divergence.registry.model_directory`: in a local SQLite
    store with artifacts on the disk it does not import MLflow (seconds of start-up).
    """
    if uri is None:
        from divergence.config import default_tracking_uri
        from divergence.registry import serving_directory

        d, served, promoted = serving_directory(
            "divergence-utility", tracking_uri or default_tracking_uri()
        )
        if not promoted:
            warnings.warn(
                f"divergence-utility has no @champion (no version passed the promotion "
                f"gate); serving {served}, not promoted (see its gate.* tags)",
                NotPromotedWarning,
                stacklevel=2,
            )
        pred = Predictor(d)
        pred.model_uri, pred.promoted = served, promoted
        return pred
    p = Path(str(uri))
    if not str(uri).startswith("models:/"):
        if not p.is_dir():
            raise DivergenceError(f"{uri}: not a models:/ URI nor an exported model directory")
        sub = p / "predictor"
        return Predictor(sub if sub.is_dir() else p)
    from divergence.config import default_tracking_uri
    from divergence.registry import model_directory

    return Predictor(model_directory(str(uri), tracking_uri or default_tracking_uri()))
