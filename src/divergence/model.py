"""The utility regressor: fitted benchmark transforms + linear base margin + xgboost.

Trees predict a constant outside their training range, and new frontier models sit
exactly there. :class:`UtilityRegressor` therefore fits a linear *base margin* first
(a ridge on latent benchmark factors, on the general factor, or on all engineered
features, with missing-value indicators) and lets xgboost model only the residual via
``base_margin``; a new model with a higher factor than any training model still gets a
higher prediction. With ``base="none"`` nothing extrapolates.

Everything cross-model is fitted on the training rows only, inside :meth:`fit`:

- column filter: benchmark columns with at least ``min_coverage`` observed training rows;
- standardisation of benchmark columns (training mean/std);
- family sub-indices (knowledge, math/reasoning, coding, agentic, long context,
  instruction following): mean of a model's available standardised scores per family;
- latent factors: the first ``n_factors`` principal components of the standardised
  benchmark matrix, estimated with missing entries by iterative rank-k SVD imputation;
  a model's factor scores are the (lightly ridged) least-squares projection on the
  loadings over its *observed* columns; the first is the general factor;
- coverage count (number of observed benchmark columns) and one indicator per
  benchmark source (column prefix, e.g. ``aa``, ``epoch``): which evidence a row has.

The fitted attributes are plain numbers (JSON) plus the booster in xgboost's own UBJSON
format: :meth:`save` / :meth:`load`, no pickle. :class:`UtilityParams` is the one home
of the hyper-parameters, their defaults and the Optuna search space.
"""

from __future__ import annotations

import copy
import fnmatch
import functools
import hashlib
import json
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xgboost as xgb
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from divergence.columns import BENCH_PREFIXES, is_benchmark_column  # noqa: F401 (re-export)
from divergence.inference import (  # noqa: F401 (FORMAT_VERSION re-exported)
    _FITTED,
    FAMILIES,
    FORMAT_VERSION,
    FittedTransforms,
    _source_of,
    read_state,
    set_fitted,
)


@functools.lru_cache(maxsize=4096)
def family_of(col: str) -> list[str]:
    """Families a benchmark column belongs to (may be several, or none)."""
    low = col.lower()
    return [f for f, pats in FAMILIES.items() if any(fnmatch.fnmatch(low, p) for p in pats)]


def _latent_factors(z: np.ndarray, k: int = 1, n_iter: int = 50) -> np.ndarray:
    """Loadings (columns, shape ``(p, k)``) of the first ``k`` principal components of ``z``.

    NaN = missing, imputed by iterating a rank-``k`` SVD reconstruction. Signs are fixed:
    the first component's loadings sum to >= 0, every other component's largest
    absolute loading is positive.
    """
    mask = ~np.isnan(z)
    filled = np.where(mask, z, 0.0)
    k = max(1, min(k, *z.shape))
    V = np.zeros((z.shape[1], k))
    for _ in range(n_iter):
        u, s, vt = np.linalg.svd(filled, full_matrices=False)
        V = vt[:k].T
        recon = (u[:, :k] * s[:k]) @ vt[:k]
        filled = np.where(mask, z, recon)
    if V[:, 0].sum() < 0:
        V[:, 0] = -V[:, 0]
    for j in range(1, k):
        if V[np.argmax(np.abs(V[:, j])), j] < 0:
            V[:, j] = -V[:, j]
    return V


def _varies(x: np.ndarray) -> bool:
    """Whether the observed values of ``x`` are not all equal (``Series.nunique() > 1``)."""
    v = x[~np.isnan(x)]
    return bool(len(v)) and bool((v != v[0]).any())


def _float_frame(X: Any, y: Any) -> tuple[np.ndarray, np.ndarray] | None:
    """``(X, y)`` as float64 arrays when ``X`` is a non-empty all-float64 DataFrame with
    string column names and no infinite value, and ``y`` a finite numeric vector of the same
    length; None otherwise (then sklearn's ``validate_data`` checks and reports)."""
    if not isinstance(X, pd.DataFrame) or X.shape[0] == 0 or X.shape[1] == 0:
        return None
    if not all(isinstance(c, str) for c in X.columns):
        return None
    if not all(isinstance(t, np.dtype) and t == np.float64 for t in X.dtypes):
        return None
    yv = np.asarray(y)
    if yv.ndim != 1 or len(yv) != len(X) or yv.dtype.kind not in "fiu":
        return None
    yv = yv.astype("float64")
    A = X.to_numpy(dtype="float64")
    if not np.isfinite(yv).all() or np.isinf(A).any():
        return None
    return A, yv


_TRANSFORMS: dict[tuple, tuple[dict[str, Any], np.ndarray]] = {}
"""Recently fitted transforms (:meth:`UtilityRegressor._fit_transforms`), by input hash."""
_TRANSFORM_CACHE_SIZE = 8


BASES = ("latent", "factor", "linear", "ridge", "none")
"""Valid base margins (see :class:`UtilityRegressor`)."""
SEARCH_BASES = ("latent", "ridge", "factor")
"""Base margins the tuner chooses from: all extrapolate (``none`` cannot)."""


@dataclass(frozen=True)
class UtilityParams:
    """Hyper-parameters of :class:`UtilityRegressor`: defaults and search space in one place.

    The fields are :class:`UtilityRegressor`'s keyword-only parameters (except
    ``n_jobs`` and ``random_state``); :meth:`search_space` samples them with Optuna.
    """

    n_estimators: int = 300
    learning_rate: float = 0.05
    max_depth: int = 3
    min_child_weight: float = 3.0
    subsample: float = 0.8
    colsample_bytree: float = 0.8
    reg_lambda: float = 1.0
    reg_alpha: float = 0.001
    base: str = "latent"
    base_alpha: float = 10.0
    n_factors: int = 3
    monotone: bool = False
    min_coverage: float = 0.1

    def to_dict(self) -> dict[str, Any]:
        """Plain dict, usable as ``UtilityRegressor(**params.to_dict())``."""
        return asdict(self)

    @classmethod
    def names(cls) -> list[str]:
        """Parameter names, in declaration order."""
        return [f.name for f in fields(cls)]

    @staticmethod
    def search_space(trial: Any) -> dict[str, Any]:
        """Sample one parameter set from an Optuna trial (every field is sampled).

        Narrow, regularised ranges: with a few dozen tuning models a wide space mostly
        fits the folds' noise.
        """
        return {
            "n_estimators": trial.suggest_int("n_estimators", 0, 400, step=50),
            "learning_rate": trial.suggest_float("learning_rate", 0.01, 0.1, log=True),
            "max_depth": trial.suggest_int("max_depth", 2, 4),
            "min_child_weight": trial.suggest_float("min_child_weight", 2.0, 20.0, log=True),
            "subsample": trial.suggest_float("subsample", 0.6, 1.0),
            "colsample_bytree": trial.suggest_float("colsample_bytree", 0.5, 1.0),
            "reg_lambda": trial.suggest_float("reg_lambda", 0.5, 30.0, log=True),
            "reg_alpha": trial.suggest_float("reg_alpha", 1e-3, 10.0, log=True),
            "base": trial.suggest_categorical("base", list(SEARCH_BASES)),
            "base_alpha": trial.suggest_float("base_alpha", 1.0, 300.0, log=True),
            "n_factors": trial.suggest_int("n_factors", 1, 3),
            "monotone": trial.suggest_categorical("monotone", [False, True]),
            "min_coverage": trial.suggest_float("min_coverage", 0.05, 0.3),
        }


DEFAULTS = UtilityParams()


def _ridge_nonneg(A: np.ndarray, y: np.ndarray, pen: np.ndarray, nonneg: np.ndarray) -> np.ndarray:
    """Ridge coefficients, those flagged in ``nonneg`` constrained to be >= 0.

    Active set: solve, fix the most negative constrained coefficient at 0, solve again.
    """
    free = np.ones(A.shape[1], dtype=bool)
    while True:
        if free.all():  # the plain ridge solution (bit-identical to an unconstrained fit)
            beta = np.linalg.solve(A.T @ A + pen, A.T @ y)
        else:
            beta = np.zeros(A.shape[1])
            idx = np.flatnonzero(free)
            beta[idx] = np.linalg.solve(
                A[:, idx].T @ A[:, idx] + pen[np.ix_(idx, idx)], A[:, idx].T @ y
            )
        neg = free & nonneg & (beta < 0)
        if not neg.any():
            return beta
        cand = np.flatnonzero(neg)
        free[cand[np.argmin(beta[cand])]] = False


class UtilityRegressor(FittedTransforms, RegressorMixin, BaseEstimator):
    """Predict an arena rating from a model-level feature frame.

    Parameters
    ----------
    n_estimators : int
        Boosting rounds; 0 fits the linear base margin only.
    learning_rate, max_depth, min_child_weight, subsample, colsample_bytree, \
reg_lambda, reg_alpha
        xgboost hyper-parameters.
    base : {"latent", "factor", "linear", "ridge", "none"}
        Base margin (a ridge on standardised, median-filled inputs plus an indicator
        for every input that is missing in some training row): ``latent`` on the
        latent factors, release date, coverage and source indicators; ``factor`` on the
        general factor and release date; ``linear`` on every ``eng.*`` and ``meta.*``
        column; ``ridge`` on every standardised benchmark and ``eng.*``/``meta.*``
        column; ``none``: plain xgboost from the training mean (cannot extrapolate).
    base_alpha : float
        Ridge penalty of the base margin (on standardised inputs).
    n_factors : int
        Number of latent benchmark factors (1 = the general factor only). With
        ``monotone`` only the general factor is used (the others have no sign).
    monotone : bool
        Constrain predictions to be non-decreasing in every benchmark score, family
        index and the general factor: xgboost monotone constraints, factor loadings
        clipped at 0, and base-margin coefficients on them constrained to be >= 0.
    min_coverage : float
        Minimum share of training rows observed for a benchmark column to be used.
    n_jobs : int
        xgboost threads (fixed for bit-for-bit reproducibility).
    random_state : int
        Seed.

    Attributes
    ----------
    feature_names_in_ : numpy.ndarray
        Columns of the training frame (``x0``, ``x1``, ... for an array).
    n_features_in_ : int
        Their number.
    input_columns_ : list of str
        Columns the model reads, benchmark columns first (:meth:`predict_matrix` order).
    bench_columns_ : list of str
        Benchmark columns used (coverage at least ``min_coverage``, not constant).
    bench_mean_, bench_std_ : numpy.ndarray
        Their training mean and standard deviation (standardisation).
    loadings_ : numpy.ndarray, shape (n_bench, n_factors_used)
        Latent factor loadings; column 0 is the general factor.
    families_ : dict of str to list of str
        Benchmark columns of each family index.
    sources_ : list of str
        Benchmark sources (column prefixes) with an ``eng.has_<source>`` indicator.
    engineered_columns_ : list of str
        Columns of :meth:`engineer`, the trees' inputs.
    base_columns_ : list of str
        Engineered columns of the base margin.
    base_fill_ : numpy.ndarray
        Their training median (fills missing values).
    base_indicators_ : list of str
        Base columns with a missing-value indicator in the margin.
    base_mu_, base_sd_ : numpy.ndarray
        Standardisation of the margin's design (filled columns, then indicators).
    intercept_ : float
        Margin intercept (the training mean when there is no base column).
    coef_ : numpy.ndarray
        Margin coefficients on the standardised design.
    booster_ : xgboost.Booster or None
        The trees on the residual of the margin (None when ``n_estimators == 0``).
    """

    # fitted attribute annotations: inherited from FittedTransforms
    booster_: xgb.Booster | None

    def __init__(
        self,
        *,
        n_estimators: int = DEFAULTS.n_estimators,
        learning_rate: float = DEFAULTS.learning_rate,
        max_depth: int = DEFAULTS.max_depth,
        min_child_weight: float = DEFAULTS.min_child_weight,
        subsample: float = DEFAULTS.subsample,
        colsample_bytree: float = DEFAULTS.colsample_bytree,
        reg_lambda: float = DEFAULTS.reg_lambda,
        reg_alpha: float = DEFAULTS.reg_alpha,
        base: str = DEFAULTS.base,
        base_alpha: float = DEFAULTS.base_alpha,
        n_factors: int = DEFAULTS.n_factors,
        monotone: bool = DEFAULTS.monotone,
        min_coverage: float = DEFAULTS.min_coverage,
        n_jobs: int = 1,
        random_state: int = 0,
    ) -> None:
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.max_depth = max_depth
        self.min_child_weight = min_child_weight
        self.subsample = subsample
        self.colsample_bytree = colsample_bytree
        self.reg_lambda = reg_lambda
        self.reg_alpha = reg_alpha
        self.base = base
        self.base_alpha = base_alpha
        self.n_factors = n_factors
        self.monotone = monotone
        self.min_coverage = min_coverage
        self.n_jobs = n_jobs
        self.random_state = random_state

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags

    def _input_matrix(self, X: Any) -> np.ndarray:
        """``X`` as a float64 matrix in ``input_columns_`` order (validated like sklearn)."""
        check_is_fitted(self, "booster_")
        if isinstance(X, pd.DataFrame) and not hasattr(self, "_array_input"):
            return X.reindex(columns=self.input_columns_).to_numpy(dtype="float64", na_value=np.nan)
        A = validate_data(self, X, reset=False, ensure_all_finite="allow-nan", dtype=np.float64)
        pos = {c: i for i, c in enumerate(self.feature_names_in_)}
        return A[:, [pos[c] for c in self.input_columns_]]

    def engineer(self, X: pd.DataFrame) -> pd.DataFrame:
        """Fitted engineered features: standardised benchmarks, inputs, ``eng.*`` columns."""
        A = self._input_matrix(X)
        index = X.index if isinstance(X, pd.DataFrame) else None
        return pd.DataFrame(self._engineer_matrix(A), index=index, columns=self.engineered_columns_)

    def fit(self, X: Any, y: Any) -> UtilityRegressor:
        """Fit transforms, base margin and boosted trees on training rows.

        Parameters
        ----------
        X : DataFrame or array-like, shape (n, p)
            Model-level features (:func:`divergence.features.model_frame`); NaN =
            missing. Columns prefixed ``adopt.``/``meta.`` are not benchmarks; an
            array's columns (named ``x0``, ``x1``, ...) are all benchmarks.
        y : array-like, shape (n,)
            Arena ratings (finite).

        Returns
        -------
        self
        """
        if self.base not in BASES:
            raise ValueError(f"base must be one of {', '.join(BASES)}, got {self.base!r}")
        self.__dict__.pop("_array_input", None)
        fast = _float_frame(X, y)
        if fast is not None:  # all-float64 frame: sklearn's validation would only copy it
            X_arr, y = fast
            self.feature_names_in_ = np.asarray(X.columns, dtype=object)
            self.n_features_in_ = X_arr.shape[1]
        else:
            X_arr, y = validate_data(
                self, X, y, ensure_all_finite="allow-nan", dtype=np.float64, y_numeric=True
            )
        y = np.asarray(y, dtype="float64")
        if len(y) < 5:
            raise ValueError(f"need at least 5 rows to fit, got n_samples={len(y)}")
        if hasattr(self, "feature_names_in_"):
            cols = [str(c) for c in self.feature_names_in_]
        else:
            cols = [f"x{i}" for i in range(X_arr.shape[1])]
            self.feature_names_in_ = np.array(cols, dtype=object)
            self.__dict__["_array_input"] = True
        X_arr = np.asarray(X_arr, dtype="float64")
        # The transforms do not depend on the seed: the fits of several seeds on the same
        # rows (walk-forward) share them instead of recomputing them.
        key = self._transform_key(X_arr, cols, y)
        cached = _TRANSFORMS.get(key)
        if cached is None:
            E = self._fit_transforms(X_arr, cols, y)
            state = {a: copy.deepcopy(self.__dict__[a]) for a in _FITTED}
            _TRANSFORMS[key] = (state, E)
            while len(_TRANSFORMS) > _TRANSFORM_CACHE_SIZE:
                _TRANSFORMS.pop(next(iter(_TRANSFORMS)))
        else:
            state, E = cached
            for a, v in state.items():
                self.__dict__[a] = copy.deepcopy(v)
        self.__dict__.pop("_layout_cache", None)
        margin = self._margin_array(E)
        bench, names = self.bench_columns_, self.engineered_columns_
        self.booster_ = None
        if int(self.n_estimators) == 0:  # linear base margin only
            return self
        mono = None
        if self.monotone:
            inc = (
                set(bench)
                | {"eng.general_factor"}
                | {c for c in names if c.startswith("eng.family_")}
            )
            mono = tuple(1 if c in inc else 0 for c in names)
        spec = xgb.XGBRegressor(  # the parameters exactly as the sklearn wrapper passes them
            n_estimators=int(self.n_estimators),
            learning_rate=float(self.learning_rate),
            max_depth=int(self.max_depth),
            min_child_weight=float(self.min_child_weight),
            subsample=float(self.subsample),
            colsample_bytree=float(self.colsample_bytree),
            reg_lambda=float(self.reg_lambda),
            reg_alpha=float(self.reg_alpha),
            tree_method="hist",
            max_bin=256,
            monotone_constraints=mono,
            n_jobs=int(self.n_jobs),
            random_state=int(self.random_state),
            base_score=0.0,
        )
        # xgboost's native training on one QuantileDMatrix: the model (and every prediction)
        # is byte-identical to ``XGBRegressor.fit``, without its per-round evaluation hooks.
        params = {k: v for k, v in spec.get_xgb_params().items() if v is not None}
        params["nthread"], params["seed"] = params.pop("n_jobs"), params.pop("random_state")
        dtrain = xgb.QuantileDMatrix(
            E, y, base_margin=margin, missing=np.nan, nthread=int(self.n_jobs), max_bin=256
        )
        self.booster_ = xgb.train(params, dtrain, num_boost_round=int(self.n_estimators))
        return self

    def _transform_key(self, X_arr: np.ndarray, cols: list[str], y: np.ndarray) -> tuple:
        """What the fitted transforms and base margin depend on (not the seed, not the trees)."""
        h = hashlib.blake2b(digest_size=16)
        h.update(np.ascontiguousarray(X_arr).tobytes())
        h.update(np.ascontiguousarray(y).tobytes())
        h.update("\x00".join(cols).encode())
        return (
            X_arr.shape,
            h.hexdigest(),
            str(self.base),
            float(self.base_alpha),
            int(self.n_factors),
            bool(self.monotone),
            float(self.min_coverage),
        )

    def _fit_transforms(self, X_arr: np.ndarray, cols: list[str], y: np.ndarray) -> np.ndarray:
        """Fit every attribute of :data:`_FITTED`; returns the engineered training matrix."""
        pos = {c: j for j, c in enumerate(cols)}
        # Column statistics on the float64 matrix (numpy, NaN-aware; same values as pandas)
        X_arr = np.asarray(X_arr, dtype="float64")
        observed = ~np.isnan(X_arr)
        cover = observed.mean(axis=0) if len(X_arr) else np.zeros(len(cols))
        bench_all = [c for c in cols if is_benchmark_column(c)]
        bench = [
            c for c in bench_all if cover[pos[c]] >= self.min_coverage and _varies(X_arr[:, pos[c]])
        ]
        other = [c for c in cols if not is_benchmark_column(c) and observed[:, pos[c]].any()]
        B = X_arr[:, [pos[c] for c in bench]]
        X = pd.DataFrame(B, columns=bench)
        mean = X.mean().to_numpy()
        std = X.std().replace(0, 1.0).fillna(1.0).to_numpy()
        z = (B - mean) / std
        k = 1 if self.monotone else max(1, int(self.n_factors))
        loadings = _latent_factors(z, k) if bench else np.zeros((0, 1))
        if self.monotone:  # a negative loading would make the factor fall as that score rises
            loadings = np.clip(loadings, 0.0, None)
        k = loadings.shape[1]
        self.__dict__.pop("_layout_cache", None)
        self.input_columns_ = bench + other
        self.bench_columns_ = bench
        self.bench_mean_, self.bench_std_ = mean, std
        self.loadings_ = loadings
        fams = {f: [c for c in bench if f in family_of(c)] for f in FAMILIES}
        self.families_ = {f: c for f, c in fams.items() if c}
        self.sources_ = sorted({_source_of(c) for c in bench})
        self.engineered_columns_ = self._engineered_names(k)
        self.base_columns_, self.base_indicators_ = [], []
        self.base_fill_ = np.zeros(0)
        E = self._engineer_matrix(X_arr[:, [pos[c] for c in self.input_columns_]])
        names = self.engineered_columns_
        factors = ["eng.general_factor", *[f"eng.factor_{j + 1}" for j in range(1, k)]]
        if self.base == "latent":
            base_cols = [*factors, "meta.release_days", "eng.coverage"]
            base_cols += [f"eng.has_{s}" for s in self.sources_]
        elif self.base == "factor":
            base_cols = ["eng.general_factor", "meta.release_days"]
        elif self.base == "linear":
            base_cols = [c for c in names if c.startswith(("eng.", "meta."))]
        elif self.base == "ridge":
            base_cols = [c for c in names if not c.startswith("adopt.")]
        else:
            base_cols = []
        where = {c: i for i, c in enumerate(names)}
        Eb = {c: E[:, where[c]] for c in base_cols if c in where}
        base_cols = [c for c in base_cols if c in Eb and not np.isnan(Eb[c]).all()]
        if base_cols:
            M = np.column_stack([Eb[c] for c in base_cols])
            miss = np.isnan(M)
            fill = np.nanmedian(M, axis=0)
            ind = [c for j, c in enumerate(base_cols) if miss[:, j].any()]
            self.base_columns_, self.base_fill_, self.base_indicators_ = base_cols, fill, ind
            self.__dict__.pop("_layout_cache", None)
            D = np.hstack([np.where(miss, fill, M), miss[:, self._layout()["ind_idx"]]])
            mu, sd = D.mean(axis=0), D.std(axis=0)
            sd = np.where(sd > 0, sd, 1.0)
            A = np.c_[np.ones(len(D)), (D - mu) / sd]
            pen = np.eye(A.shape[1]) * float(self.base_alpha)
            pen[0, 0] = 0.0
            # monotone: the margin must not fall as a score, the factor or a family index rises
            rising = [
                c in set(bench) or c == "eng.general_factor" or c.startswith("eng.family_")
                for c in base_cols
            ]
            nonneg = np.array(
                [False, *(bool(self.monotone) and r for r in rising), *[False] * len(ind)]
            )
            beta = _ridge_nonneg(A, y, pen, nonneg)
            self.base_mu_, self.base_sd_ = mu, sd
            self.intercept_, self.coef_ = float(beta[0]), beta[1:]
        else:
            self.base_mu_, self.base_sd_ = np.zeros(0), np.zeros(0)
            self.intercept_, self.coef_ = float(y.mean()), np.zeros(0)
        return E

    def predict(self, X: Any) -> np.ndarray:
        """Predicted arena rating per row.

        A DataFrame is matched by column name (absent columns = missing, others
        ignored); an array must have the training columns in order.
        """
        return self.predict_matrix(self._input_matrix(X))

    def predict_matrix(self, A: np.ndarray) -> np.ndarray:
        """Predict from a float64 matrix whose columns are ``input_columns_``.

        The fast path behind :meth:`predict` (no pandas): NaN = missing.
        """
        check_is_fitted(self, "booster_")
        return super().predict_matrix(A)

    def _predict_trees(self, E: np.ndarray, margin: np.ndarray) -> np.ndarray:
        if self.booster_ is None:
            return margin
        out = self.booster_.inplace_predict(E, base_margin=margin, missing=np.nan)
        return np.asarray(out, dtype="float64")

    def base_predict(self, X: Any) -> np.ndarray:
        """The linear base margin alone (the extrapolating part)."""
        return self._margin_array(self._engineer_matrix(self._input_matrix(X)))

    def evidence(self, X: Any) -> np.ndarray:
        """Number of observed (used) benchmark inputs per row: what an interval conditions on."""
        return self.evidence_matrix(self._input_matrix(X))

    # ---- persistence (no pickle) ---------------------------------------------
    def save(self, directory: str | Path, prefix: str = "model") -> list[Path]:
        """Write ``<prefix>.ubj`` (xgboost native) and ``<prefix>.json`` (params, fitted)."""
        check_is_fitted(self, "booster_")
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        booster_path = d / f"{prefix}.ubj"
        if self.booster_ is not None:
            self.booster_.save_model(str(booster_path))
        fitted = {
            a: (
                getattr(self, a).tolist()
                if isinstance(getattr(self, a), np.ndarray)
                else getattr(self, a)
            )
            for a in _FITTED
        }
        state = {
            "format": FORMAT_VERSION,
            "params": self.get_params(),
            "fitted": fitted,
            "feature_names_in": list(self.feature_names_in_),
        }
        json_path = d / f"{prefix}.json"
        json_path.write_text(json.dumps(state, indent=1, sort_keys=True))
        return [booster_path, json_path] if self.booster_ is not None else [json_path]

    @classmethod
    def load(cls, directory: str | Path, prefix: str = "model") -> UtilityRegressor:
        """Inverse of :meth:`save`.

        Raises
        ------
        ValueError
            If the file is of another format version (retrain and re-save).
        """
        d = Path(directory)
        meta = read_state(d, prefix)
        est = cls(**meta["params"])
        set_fitted(est, meta)
        est.booster_ = None
        if int(est.n_estimators) > 0:
            est.booster_ = xgb.Booster(model_file=str(d / f"{prefix}.ubj"))
        return est
