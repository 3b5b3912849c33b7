"""Inference from a saved :class:`~divergence.model.UtilityRegressor`, without scikit-learn.

The fitted transforms (standardisation, latent factors, family indices, coverage and
source indicators), the linear base margin and the trees' input layout live here as a
mixin, :class:`FittedTransforms`, shared by the estimator (which adds fitting) and by
:class:`ServingModel`, what :class:`divergence.predictor.Predictor` loads: the same files,
the same arithmetic, but no import of scikit-learn, SciPy or xgboost at load time. Small
batches are scored by :class:`divergence.trees.TreeEnsemble` (NumPy, bit-for-bit equal
to xgboost); batches above :data:`SMALL_BATCH` rows import xgboost, which is faster there.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from divergence.trees import TreeEnsemble, UnsupportedModel

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


def _source_of(col: str) -> str:
    return col.split(".", 1)[0]


FORMAT_VERSION = 2
"""Version of the JSON written by :meth:`UtilityRegressor.save`."""

_FITTED = (
    "input_columns_",
    "bench_columns_",
    "bench_mean_",
    "bench_std_",
    "loadings_",
    "families_",
    "sources_",
    "engineered_columns_",
    "base_columns_",
    "base_fill_",
    "base_indicators_",
    "base_mu_",
    "base_sd_",
    "intercept_",
    "coef_",
)

_ARRAYS = frozenset(
    {"bench_mean_", "bench_std_", "loadings_", "base_fill_", "base_mu_", "base_sd_", "coef_"}
)


class FittedTransforms:
    """Engineered features, base margin and evidence from the fitted attributes.

    Subclasses set the attributes in :data:`_FITTED` (and ``feature_names_in_``) and
    implement :meth:`_predict_trees`.
    """

    feature_names_in_: np.ndarray
    n_features_in_: int
    input_columns_: list[str]
    bench_columns_: list[str]
    bench_mean_: np.ndarray
    bench_std_: np.ndarray
    loadings_: np.ndarray
    families_: dict[str, list[str]]
    sources_: list[str]
    engineered_columns_: list[str]
    base_columns_: list[str]
    base_fill_: np.ndarray
    base_indicators_: list[str]
    base_mu_: np.ndarray
    base_sd_: np.ndarray
    intercept_: float
    coef_: np.ndarray

    def _layout(self) -> dict[str, Any]:
        """Index arrays derived from the fitted attributes (cached: predict runs per row)."""
        key = (id(self.loadings_), id(self.base_columns_), id(self.input_columns_))
        cache = self.__dict__.get("_layout_cache")
        if cache is not None and cache[0] == key:
            return cache[1]
        bench = self.bench_columns_
        pos = {c: i for i, c in enumerate(bench)}
        where = {c: i for i, c in enumerate(self.engineered_columns_)}
        lay = {
            "n_bench": len(bench),
            "load": np.asarray(self.loadings_, dtype="float64").reshape(len(bench), -1),
            "families": [  # FAMILIES order (a JSON round trip sorts the dict's keys)
                np.array([pos[c] for c in self.families_[f]], dtype=np.intp)
                for f in FAMILIES
                if f in self.families_
            ],
            "sources": [
                np.array([i for i, c in enumerate(bench) if _source_of(c) == s], dtype=np.intp)
                for s in self.sources_
            ],
            "base_idx": np.array([where[c] for c in self.base_columns_], dtype=np.intp),
            "ind_idx": np.array(
                [self.base_columns_.index(c) for c in self.base_indicators_], dtype=np.intp
            ),
        }
        self.__dict__["_layout_cache"] = (key, lay)
        return lay

    def _engineered_names(self, k: int) -> list[str]:
        other = self.input_columns_[len(self.bench_columns_) :]
        extra = [f"eng.factor_{j + 1}" for j in range(1, k)]
        fams = [f"eng.family_{f}" for f in FAMILIES if f in self.families_]
        has = [f"eng.has_{s}" for s in self.sources_]
        return [
            *self.bench_columns_,
            *other,
            "eng.general_factor",
            *extra,
            *fams,
            "eng.coverage",
            *has,
        ]

    def _engineer_matrix(self, A: np.ndarray) -> np.ndarray:
        """Engineered matrix from inputs in ``input_columns_`` order (float64, NaN = missing)."""
        lay = self._layout()
        nb = lay["n_bench"]
        z = (np.ascontiguousarray(A[:, :nb]) - self.bench_mean_) / self.bench_std_
        obs = ~np.isnan(z)
        zf = np.where(obs, z, 0.0)
        V = lay["load"]
        k = V.shape[1]
        cols = [z, A[:, nb:]]
        with np.errstate(invalid="ignore", divide="ignore"):
            if k == 1:  # least-squares projection on the observed loadings
                den = obs.astype(float) @ (V[:, 0] ** 2)
                cols.append(np.where(den > 1e-9, (zf @ V[:, 0]) / den, np.nan)[:, None])
            else:  # lightly ridged projection (rows with few scores are ill-posed)
                G = obs.astype(float) @ (V[:, :, None] * V[:, None, :]).reshape(nb, k * k)
                G = G.reshape(-1, k, k) + 0.05 * np.eye(k)
                s = np.linalg.solve(G, (zf @ V)[:, :, None])[:, :, 0]
                s[~obs.any(axis=1)] = np.nan
                cols.append(s)
            for idx in lay["families"]:  # nan-mean of the family's observed scores
                cols.append((zf[:, idx].sum(axis=1) / obs[:, idx].sum(axis=1))[:, None])
        cols.append(obs.sum(axis=1).astype(float)[:, None])
        for idx in lay["sources"]:
            cols.append(obs[:, idx].any(axis=1).astype(float)[:, None])
        return np.hstack(cols)

    def _margin_array(self, E: np.ndarray) -> np.ndarray:
        if not self.base_columns_:
            return np.full(len(E), self.intercept_, dtype="float64")
        M = E[:, self._layout()["base_idx"]]
        miss = np.isnan(M)
        D = np.hstack([np.where(miss, self.base_fill_, M), miss[:, self._layout()["ind_idx"]]])
        return self.intercept_ + ((D - self.base_mu_) / self.base_sd_) @ self.coef_

    def evidence_matrix(self, A: np.ndarray) -> np.ndarray:
        """Number of observed benchmark inputs per row of an ``input_columns_`` matrix."""
        nb = len(self.bench_columns_)
        return (~np.isnan(np.asarray(A, dtype="float64")[:, :nb])).sum(axis=1)

    def _predict_trees(self, E: np.ndarray, margin: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def predict_matrix(self, A: np.ndarray) -> np.ndarray:
        """Predict from a float64 matrix whose columns are ``input_columns_``.

        The fast path (no pandas): NaN = missing.
        """
        A = np.asarray(A, dtype="float64")
        n_cols = len(self.input_columns_)
        if A.ndim != 2 or A.shape[1] != n_cols:
            raise ValueError(f"expected a 2-d matrix with {n_cols} columns, got shape {A.shape}")
        E = self._engineer_matrix(A)
        margin = self._margin_array(E)
        if len(E) == 0:
            return margin
        return self._predict_trees(E, margin)


def read_state(directory: str | Path, prefix: str) -> dict[str, Any]:
    """The JSON half of a saved model (``<prefix>.json``), format-checked.

    Raises
    ------
    ValueError
        If the file is of another format version (retrain and re-save).
    """
    path = Path(directory) / f"{prefix}.json"
    meta = json.loads(path.read_text())
    if not isinstance(meta, dict) or meta.get("format") != FORMAT_VERSION:
        got = meta.get("format", 1) if isinstance(meta, dict) else "unknown"
        raise ValueError(
            f"{path}: model format {got}, this version reads format {FORMAT_VERSION} "
            "(retrain the model)"
        )
    return meta


def set_fitted(model: Any, meta: dict[str, Any]) -> None:
    """Set the fitted attributes of ``model`` from :func:`read_state` output."""
    f = meta["fitted"]
    for a in _FITTED:
        v = f[a]
        model.__dict__[a] = np.asarray(v, dtype="float64") if a in _ARRAYS else v
    model.loadings_ = model.loadings_.reshape(len(model.bench_columns_), -1)
    model.feature_names_in_ = np.array(meta["feature_names_in"], dtype=object)
    model.n_features_in_ = len(model.feature_names_in_)


SMALL_BATCH = 512
"""Largest batch :class:`ServingModel` scores with NumPy trees (above: xgboost)."""


class ServingModel(FittedTransforms):
    """A saved :class:`~divergence.model.UtilityRegressor`, loaded for prediction only.

    Attributes
    ----------
    params : dict
        The estimator's hyper-parameters.
    feature_names_in_ : numpy.ndarray
        Columns of the training frame.
    trees_ : TreeEnsemble or None
        The trees for NumPy evaluation (None without trees, or when the file uses a
        feature :class:`~divergence.trees.TreeEnsemble` does not evaluate).
    """

    def __init__(self, directory: str | Path, prefix: str = "model") -> None:
        d = Path(directory)
        meta = read_state(d, prefix)
        self.params: dict[str, Any] = dict(meta["params"])
        set_fitted(self, meta)
        self._booster_file = d / f"{prefix}.ubj"
        self._booster: Any = None
        self.trees_: TreeEnsemble | None = None
        self.has_trees = int(self.params.get("n_estimators", 0)) > 0
        if self.has_trees:
            try:
                self.trees_ = TreeEnsemble.from_file(self._booster_file)
            except UnsupportedModel:
                self._load_booster()  # xgboost reads what NumPy does not
            if self.trees_ is not None and self.trees_.n_features != len(self.engineered_columns_):
                raise ValueError(
                    f"{self._booster_file}: {self.trees_.n_features} features, the model "
                    f"engineers {len(self.engineered_columns_)}"
                )

    def _load_booster(self) -> Any:
        if self._booster is None:
            import xgboost as xgb

            self._booster = xgb.Booster(model_file=str(self._booster_file))
        return self._booster

    def _predict_trees(self, E: np.ndarray, margin: np.ndarray) -> np.ndarray:
        if not self.has_trees:
            return margin
        if self.trees_ is not None and len(E) <= SMALL_BATCH:
            return self.trees_.predict(E, margin).astype("float64")
        out = self._load_booster().inplace_predict(E, base_margin=margin, missing=np.nan)
        return np.asarray(out, dtype="float64")
