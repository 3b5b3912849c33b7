"""The utility regressor: fitted benchmark transforms + linear base margin + xgboost.

Trees predict a constant outside their training range, and new frontier models sit
exactly there. :class:`UtilityRegressor` therefore fits a linear *base margin* first
(on the general capability factor, or on all engineered features) and lets xgboost
model only the residual via ``base_margin``; a new model with a higher factor than any
training model still gets a higher prediction.

Everything cross-model is fitted on the training rows only, inside :meth:`fit`:

- column filter: benchmark columns with at least ``min_coverage`` observed training rows;
- standardisation of benchmark columns (training mean/std);
- family sub-indices (knowledge, math/reasoning, coding, agentic, long context,
  instruction following): mean of a model's available standardised scores per family;
- a general factor: first principal component of the standardised benchmark matrix,
  estimated with missing entries by iterative rank-1 SVD imputation; a model's factor
  score is the least-squares projection on the loadings over its *observed* columns;
- coverage count: number of observed benchmark columns.

The fitted state is plain numbers (JSON) plus the booster in xgboost's own UBJSON
format: :meth:`save` / :meth:`load`, no pickle.
"""

from __future__ import annotations

import fnmatch
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xgboost as xgb
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils.validation import check_is_fitted

from divergence.columns import BENCH_PREFIXES, is_benchmark_column  # noqa: F401 (re-export)

FAMILIES: dict[str, list[str]] = {
    "knowledge": [
        "*mmlu*",
        "*gpqa*",
        "*hle*",
        "*simpleqa*",
        "*simple_bench*",
        "*simplebench*",
        "*knowledge*",
        "*eci*",
        "livebench.data_analysis",
        "*omniscience*",
    ],
    "math": [
        "*math*",
        "*aime*",
        "*frontiermath*",
        "*otis*",
        "arcagi.*",
        "livebench.reasoning",
        "*reasoning*",
        "*weirdml*",
    ],
    "coding": [
        "*code*",
        "*coding*",
        "*livecodebench*",
        "*scicode*",
        "aider.*",
        "swebench.*",
        "*swe*",
    ],
    "agentic": ["*terminal*", "*tau*", "*metr*", "swebench.bash_only", "*agent*", "*osworld*"],
    "long_context": ["*lcr*", "*long*", "*fiction*", "*context*"],
    "instruction": ["*ifbench*", "*ifeval*", "*instruction*", "*if_*"],
}


def family_of(col: str) -> list[str]:
    """Families a benchmark column belongs to (may be several, or none)."""
    low = col.lower()
    return [f for f, pats in FAMILIES.items() if any(fnmatch.fnmatch(low, p) for p in pats)]


def _rank1_factor(z: np.ndarray, n_iter: int = 50) -> np.ndarray:
    """Loadings of the first principal component of ``z`` (NaN = missing)."""
    mask = ~np.isnan(z)
    filled = np.where(mask, z, 0.0)
    v = np.ones(z.shape[1]) / np.sqrt(z.shape[1])
    for _ in range(n_iter):
        u, s, vt = np.linalg.svd(filled, full_matrices=False)
        v = vt[0]
        recon = s[0] * np.outer(u[:, 0], v)
        filled = np.where(mask, z, recon)
    if v.sum() < 0:
        v = -v
    return v


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


class UtilityRegressor(RegressorMixin, BaseEstimator):
    """Predict an arena rating from a model-level feature frame.

    Parameters
    ----------
    n_estimators : int
        Boosting rounds; 0 fits the linear base margin only.
    learning_rate, max_depth, min_child_weight, subsample,
    colsample_bytree, reg_lambda, reg_alpha : xgboost hyper-parameters.
    base : {"factor", "linear", "none"}
        Base margin: ridge on the general factor and the time trend, ridge on all
        engineered features, or none (plain xgboost from the training mean).
    base_alpha : float
        Ridge penalty of the base margin (on standardised inputs).
    monotone : bool
        Constrain predictions to be non-decreasing in every benchmark score,
        family index and the general factor: xgboost monotone constraints, factor
        loadings clipped at 0, and base-margin coefficients on the factor and family
        indices constrained to be >= 0.
    min_coverage : float
        Minimum share of training rows observed for a benchmark column to be used.
    n_jobs : int
        xgboost threads (fixed for bit-for-bit reproducibility).
    random_state : int
        Seed.
    """

    def __init__(
        self,
        n_estimators: int = 300,
        learning_rate: float = 0.05,
        max_depth: int = 3,
        min_child_weight: float = 3.0,
        subsample: float = 0.8,
        colsample_bytree: float = 0.8,
        reg_lambda: float = 1.0,
        reg_alpha: float = 0.0,
        base: str = "factor",
        base_alpha: float = 1.0,
        monotone: bool = True,
        min_coverage: float = 0.1,
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
        self.monotone = monotone
        self.min_coverage = min_coverage
        self.n_jobs = n_jobs
        self.random_state = random_state

    # ---- engineered features -------------------------------------------------
    def _engineered_names(self) -> list[str]:
        st = self.state_
        other = [c for c in st["input_columns"] if c not in st["bench_columns"]]
        fams = [
            f"eng.family_{f}" for f in FAMILIES if f in st["families"]
        ]  # fixed order (JSON may sort keys)
        return [*st["bench_columns"], *other, "eng.general_factor", *fams, "eng.coverage"]

    def _layout(self) -> dict[str, Any]:
        """Index arrays derived from the fitted state (cached: predict is called per row)."""
        cache = self.__dict__.get("_layout_cache")
        if cache is not None and cache[0] is self.state_:
            return cache[1]
        st = self.state_
        bench = st["bench_columns"]
        pos = {c: i for i, c in enumerate(bench)}
        names = self._engineered_names()
        where = {c: i for i, c in enumerate(names)}
        lay = {
            "n_bench": len(bench),
            "mean": np.array(st["mean"], dtype="float64"),
            "std": np.array(st["std"], dtype="float64"),
            "load": np.array(st["loadings"], dtype="float64"),
            "families": [
                np.array([pos[c] for c in st["families"][f]], dtype=int)
                for f in FAMILIES
                if f in st["families"]
            ],
            "names": names,
            "base_idx": np.array([where[c] for c in st.get("base_columns", [])], dtype=int),
        }
        # bench columns come first in input_columns (see fit), so one reindex serves both parts
        assert st["input_columns"][: len(bench)] == bench
        self.__dict__["_layout_cache"] = (self.state_, lay)
        return lay

    def _engineer_array(self, X: pd.DataFrame) -> np.ndarray:
        """Engineered matrix, columns in :meth:`_engineered_names` order (float64)."""
        A = X.reindex(columns=self.state_["input_columns"]).to_numpy(
            dtype="float64", na_value=np.nan
        )
        return self._engineer_matrix(A)

    def _engineer_matrix(self, A: np.ndarray) -> np.ndarray:
        lay = self._layout()
        nb = lay["n_bench"]
        z = (np.ascontiguousarray(A[:, :nb]) - lay["mean"]) / lay["std"]
        obs = ~np.isnan(z)
        num = np.where(obs, z, 0.0) @ lay["load"]
        den = obs.astype(float) @ (lay["load"] ** 2)
        cols = [z, A[:, nb:]]
        with np.errstate(invalid="ignore", divide="ignore"):
            cols.append(np.where(den > 1e-9, num / den, np.nan)[:, None])
        zf = np.where(obs, z, 0.0)
        for idx in lay["families"]:  # nan-mean of the family's observed scores (as np.nanmean)
            with np.errstate(invalid="ignore", divide="ignore"):
                cols.append((zf[:, idx].sum(axis=1) / obs[:, idx].sum(axis=1))[:, None])
        cols.append(obs.sum(axis=1).astype(float)[:, None])
        return np.hstack(cols)

    def engineer(self, X: pd.DataFrame) -> pd.DataFrame:
        """Fitted engineered features: standardised benchmarks, inputs, ``eng.*`` columns."""
        check_is_fitted(self, "state_")
        return self._engineer(X.astype("float64"))

    def _engineer(self, X: pd.DataFrame) -> pd.DataFrame:
        return pd.DataFrame(
            self._engineer_array(X), index=X.index, columns=self._engineered_names()
        )

    def _margin_array(self, E: np.ndarray) -> np.ndarray:
        st = self.state_
        if not st["base_columns"]:
            return np.full(len(E), st["intercept"], dtype="float64")
        M = E[:, self._layout()["base_idx"]]
        M = np.where(np.isnan(M), np.array(st["base_fill"]), M)
        M = (M - np.array(st["base_mu"])) / np.array(st["base_sd"])
        return st["intercept"] + M @ np.array(st["coef"])

    def fit(self, X: pd.DataFrame, y: Any) -> UtilityRegressor:
        """Fit transforms, base margin and boosted trees on training rows.

        Parameters
        ----------
        X : DataFrame
            Model-level features (:func:`divergence.features.model_frame`).
        y : array-like
            Arena ratings.

        Returns
        -------
        self
        """
        if not isinstance(X, pd.DataFrame):
            raise TypeError("X must be a pandas DataFrame with named feature columns")
        if self.base not in {"factor", "linear", "none"}:
            raise ValueError(f"base must be 'factor', 'linear' or 'none', got {self.base!r}")
        y = np.asarray(y, dtype="float64")
        if len(y) != len(X) or len(y) < 5:
            raise ValueError(
                f"need at least 5 rows with matching X and y, got X={len(X)} y={len(y)}"
            )
        if not np.isfinite(y).all():
            raise ValueError("y contains NaN or infinite values")
        X = X.astype("float64")
        cols = list(X.columns)
        bench_all = [c for c in cols if is_benchmark_column(c)]
        cover = X[bench_all].notna().mean()
        bench = [c for c in bench_all if cover[c] >= self.min_coverage and X[c].nunique() > 1]
        other = [c for c in cols if not is_benchmark_column(c) and X[c].notna().any()]
        mean = X[bench].mean().to_numpy()
        std = X[bench].std().replace(0, 1.0).fillna(1.0).to_numpy()
        z = (X[bench].to_numpy() - mean) / std
        loadings = _rank1_factor(z) if bench else np.zeros(0)
        if self.monotone:  # a negative loading would make the factor fall as that score rises
            loadings = np.clip(loadings, 0.0, None)
        fams = {f: [c for c in bench if f in family_of(c)] for f in FAMILIES}
        self.__dict__.pop("_layout_cache", None)
        self.state_: dict[str, Any] = {
            "input_columns": bench + other,
            "bench_columns": bench,
            "mean": mean.tolist(),
            "std": std.tolist(),
            "loadings": loadings.tolist(),
            "families": {f: c for f, c in fams.items() if c},
        }
        E = self._engineer(X)
        if self.base == "factor":
            base_cols = [c for c in ["eng.general_factor", "meta.release_days"] if c in E.columns]
        elif self.base == "linear":
            base_cols = [c for c in E.columns if c.startswith(("eng.", "meta."))]
        else:
            base_cols = []
        base_cols = [c for c in base_cols if E[c].notna().any()]
        fill = E[base_cols].median().to_numpy() if base_cols else np.zeros(0)
        self.state_.update({"base_columns": base_cols, "base_fill": fill.tolist()})
        if base_cols:
            M = np.where(np.isnan(E[base_cols].to_numpy()), fill, E[base_cols].to_numpy())
            mu, sd = M.mean(axis=0), M.std(axis=0)
            sd = np.where(sd > 0, sd, 1.0)
            self.state_.update({"base_mu": mu.tolist(), "base_sd": sd.tolist()})
            Zb = (M - mu) / sd
            A = np.c_[np.ones(len(Zb)), Zb]
            pen = np.eye(A.shape[1]) * self.base_alpha
            pen[0, 0] = 0.0
            # monotone: the margin must not fall as the factor or a family index rises
            nonneg = np.array(
                [False]
                + [
                    bool(self.monotone) and c.startswith("eng.") and c != "eng.coverage"
                    for c in base_cols
                ]
            )
            beta = _ridge_nonneg(A, y, pen, nonneg)
            self.state_.update({"intercept": float(beta[0]), "coef": beta[1:].tolist()})
        else:
            self.state_.update(
                {"base_mu": [], "base_sd": [], "intercept": float(y.mean()), "coef": []}
            )
        self.__dict__.pop("_layout_cache", None)  # base columns are known now
        margin = self._margin_array(E.to_numpy(dtype="float64"))
        self.feature_names_in_ = np.array(cols, dtype=object)
        self.engineered_columns_ = list(E.columns)
        mono = None
        if self.monotone:
            inc = set(bench) | {
                c for c in E.columns if c.startswith("eng.") and c != "eng.coverage"
            }
            mono = {c: (1 if c in inc else 0) for c in E.columns}
        self.n_features_in_ = len(cols)
        if int(self.n_estimators) == 0:  # linear base margin only (used as a baseline)
            self.booster_ = None
            return self
        self.booster_ = xgb.XGBRegressor(
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
        self.booster_.fit(E, y, base_margin=margin, verbose=False)
        return self

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """Predicted arena rating per row."""
        check_is_fitted(self, "state_")
        if not isinstance(X, pd.DataFrame):
            raise TypeError("X must be a pandas DataFrame with named feature columns")
        A = X.reindex(columns=self.state_["input_columns"]).to_numpy(
            dtype="float64", na_value=np.nan
        )
        return self.predict_matrix(A)

    def predict_matrix(self, A: np.ndarray) -> np.ndarray:
        """Predict from a float64 matrix whose columns are ``state_["input_columns"]``.

        The fast path behind :meth:`predict` (no pandas): NaN = missing.
        """
        check_is_fitted(self, "state_")
        A = np.asarray(A, dtype="float64")
        n_cols = len(self.state_["input_columns"])
        if A.ndim != 2 or A.shape[1] != n_cols:
            raise ValueError(f"expected a 2-d matrix with {n_cols} columns, got shape {A.shape}")
        E = self._engineer_matrix(A)
        margin = self._margin_array(E)
        if self.booster_ is None:
            return margin
        if len(E) == 0:
            return np.zeros(0)
        # numpy straight into the booster: the columns are in training order by construction
        out = self.booster_.get_booster().inplace_predict(E, base_margin=margin, missing=np.nan)
        return np.asarray(out, dtype="float64")

    def base_predict(self, X: pd.DataFrame) -> np.ndarray:
        """The linear base margin alone (the extrapolating part)."""
        check_is_fitted(self, "state_")
        return self._margin_array(self._engineer_array(X))

    # ---- persistence (no pickle) ---------------------------------------------
    def save(self, directory: str | Path, prefix: str = "model") -> list[Path]:
        """Write ``<prefix>.ubj`` (xgboost native) and ``<prefix>.json`` (state, params)."""
        check_is_fitted(self, "state_")
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        booster_path = d / f"{prefix}.ubj"
        if self.booster_ is not None:
            self.booster_.get_booster().save_model(str(booster_path))
        state = {
            "params": self.get_params(),
            "state": self.state_,
            "feature_names_in": list(self.feature_names_in_),
            "engineered_columns": self.engineered_columns_,
        }
        json_path = d / f"{prefix}.json"
        json_path.write_text(json.dumps(state, indent=1, sort_keys=True))
        return [booster_path, json_path] if self.booster_ is not None else [json_path]

    @classmethod
    def load(cls, directory: str | Path, prefix: str = "model") -> UtilityRegressor:
        """Inverse of :meth:`save`."""
        d = Path(directory)
        meta = json.loads((d / f"{prefix}.json").read_text())
        est = cls(**meta["params"])
        est.state_ = meta["state"]
        est.feature_names_in_ = np.array(meta["feature_names_in"], dtype=object)
        est.engineered_columns_ = meta["engineered_columns"]
        est.n_features_in_ = len(est.feature_names_in_)
        est.booster_ = None
        if int(est.n_estimators) > 0:
            booster = xgb.XGBRegressor()
            booster.load_model(str(d / f"{prefix}.ubj"))
            est.booster_ = booster
        return est
