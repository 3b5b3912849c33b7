"""Evaluate a saved xgboost tree ensemble with NumPy, without importing xgboost.

Importing xgboost imports scikit-learn and SciPy (over a second of start-up), which
dominates the cold load of a predictor that then scores a handful of models.
:func:`read_ubjson` reads xgboost's native UBJSON model file and :class:`TreeEnsemble`
evaluates its trees on small batches with the same arithmetic as xgboost's CPU predictor:
inputs cast to float32, ``x < split_condition`` goes left, a missing value follows
``default_left``, leaf values added to the base margin in float32, tree by tree.
Only what :class:`divergence.model.UtilityRegressor` trains is supported (``gbtree``,
numerical splits, one output, identity link); anything else raises
:class:`UnsupportedModel` and the caller uses xgboost itself.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

import numpy as np

_SCALARS: dict[int, tuple[str, int]] = {  # marker byte -> (numpy dtype, size)
    ord("i"): (">i1", 1),
    ord("U"): (">u1", 1),
    ord("I"): (">i2", 2),
    ord("l"): (">i4", 4),
    ord("L"): (">i8", 8),
    ord("d"): (">f4", 4),
    ord("D"): (">f8", 8),
}
_STRUCT = {m: struct.Struct(">" + f) for m, f in zip(_SCALARS, "bBhiqfd", strict=True)}
_INT64_MARKER, _INT64 = ord("L"), _STRUCT[ord("L")]
_FLOATS = (ord("d"), ord("D"))
_NOOP, _STR, _HIGH, _CHAR, _TRUE, _FALSE, _NULL = (ord(c) for c in "NSHCTFZ")
_OPEN_A, _CLOSE_A, _OPEN_O, _CLOSE_O, _TYPE, _COUNT = (ord(c) for c in "[]{}$#")


class UnsupportedModel(ValueError):
    """The model file is valid but uses a feature :class:`TreeEnsemble` does not evaluate."""


def read_ubjson(data: bytes) -> Any:
    """Decode UBJSON; typed numeric arrays come back as NumPy arrays.

    Raises
    ------
    ValueError
        On malformed or truncated input, or trailing bytes.
    """
    size = len(data)
    pos = 0  # the read position, shared by the nested functions below

    def need(n: int) -> None:
        if n < 0 or pos + n > size:
            raise ValueError(f"truncated at byte {pos}")

    def marker() -> int:
        nonlocal pos
        while pos < size and data[pos] == _NOOP:
            pos += 1
        need(1)
        pos += 1
        return data[pos - 1]

    def scalar(m: int) -> Any:
        nonlocal pos
        st = _STRUCT[m]
        need(st.size)
        (v,) = st.unpack_from(data, pos)
        pos += st.size
        return v

    def integer() -> int:
        m = marker()
        if m not in _STRUCT or m in _FLOATS:
            raise ValueError(f"expected an integer marker at byte {pos - 1}, got {chr(m)!r}")
        return int(scalar(m))

    def string() -> str:
        nonlocal pos
        if pos + 9 <= size and data[pos] == _INT64_MARKER:  # xgboost's length prefix
            (n,) = _INT64.unpack_from(data, pos + 1)
            pos += 9
        else:
            n = integer()
        need(n)
        pos += n
        return data[pos - n : pos].decode("utf-8")

    def header() -> tuple[int | None, int | None]:
        nonlocal pos
        kind = count = None
        if pos < size and data[pos] == _TYPE:
            pos += 1
            kind = marker()
        if pos < size and data[pos] == _COUNT:
            pos += 1
            count = integer()
            if count < 0:
                raise ValueError(f"negative count at byte {pos}")
        if kind is not None and count is None:
            raise ValueError(f"typed container without a count at byte {pos}")
        return kind, count

    def value(m: int, depth: int) -> Any:
        nonlocal pos
        if depth > 64:
            raise ValueError("nested too deeply")
        if m in _STRUCT:
            return scalar(m)
        if m == _STR or m == _HIGH:
            return string()
        if m == _OPEN_O:
            kind, count = header()
            obj: dict[str, Any] = {}
            if count is not None:
                for _ in range(count):
                    key = string()
                    obj[key] = value(marker() if kind is None else kind, depth + 1)
                return obj
            while True:
                if pos < size and data[pos] == _CLOSE_O:
                    pos += 1
                    return obj
                key = string()
                obj[key] = value(marker(), depth + 1)
        if m == _OPEN_A:
            kind, count = header()
            if kind in _SCALARS and count is not None:  # typed numeric array: one block read
                dtype, width = _SCALARS[kind]
                need(width * count)
                arr = np.frombuffer(data, dtype=dtype, count=count, offset=pos)
                pos += width * count
                return arr
            out: list[Any] = []
            if count is not None:
                for _ in range(count):
                    out.append(value(marker() if kind is None else kind, depth + 1))
                return out
            while True:
                m2 = marker()
                if m2 == _CLOSE_A:
                    return out
                out.append(value(m2, depth + 1))
        if m == _CHAR:
            need(1)
            pos += 1
            return chr(data[pos - 1])
        if m == _TRUE or m == _FALSE:
            return m == _TRUE
        if m == _NULL:
            return None
        raise ValueError(f"unknown UBJSON marker {chr(m)!r} at byte {pos - 1}")

    try:
        doc = value(marker(), 0)
    except (struct.error, UnicodeDecodeError, IndexError) as exc:
        raise ValueError(f"malformed UBJSON ({exc})") from None
    if pos != size:
        raise ValueError(f"trailing bytes after the UBJSON value at byte {pos}")
    return doc


_NODE_ARRAYS: dict[str, Any] = {  # per-node arrays of a tree and their dtypes
    "left_children": np.int64,
    "right_children": np.int64,
    "split_indices": np.int64,
    "split_conditions": np.float32,
    "default_left": np.bool_,
    "split_type": np.int64,
}


class TreeEnsemble:
    """The trees of one xgboost ``gbtree`` regressor as flat NumPy arrays.

    Parameters
    ----------
    model : dict
        xgboost's model document (:func:`read_ubjson` of a ``.ubj`` file).

    Raises
    ------
    UnsupportedModel
        For another booster, objective, categorical splits, several outputs or
        parallel trees.
    ValueError
        If the document is not an xgboost model (missing keys, inconsistent trees).
    """

    def __init__(self, model: dict[str, Any]) -> None:
        try:
            learner = model["learner"]
            booster = learner["gradient_booster"]
            if booster.get("name") != "gbtree":
                raise UnsupportedModel(f"booster {booster.get('name')!r} (only gbtree)")
            objective = learner["objective"]["name"]
            if objective != "reg:squarederror":
                raise UnsupportedModel(f"objective {objective!r} (only reg:squarederror)")
            param = learner["learner_model_param"]
            if int(param.get("num_target", "1")) > 1 or int(param.get("num_class", "0")) > 1:
                raise UnsupportedModel("several outputs")
            self.n_features = int(param["num_feature"])
            gbm = booster["model"]
            if int(gbm["gbtree_model_param"].get("num_parallel_tree", "1")) != 1:
                raise UnsupportedModel("parallel trees (random forest)")
            trees = gbm["trees"]
            cols: dict[str, list[Any]] = {k: [] for k in _NODE_ARRAYS}
            for t in trees:
                if int(t["tree_param"].get("size_leaf_vector", "1")) > 1:
                    raise UnsupportedModel("vector leaves")
                for k in _NODE_ARRAYS:
                    cols[k].append(t[k])
        except (KeyError, TypeError, AttributeError) as exc:
            raise ValueError(
                f"not an xgboost model document ({type(exc).__name__}: {exc})"
            ) from None
        sizes = np.array([len(v) for v in cols["left_children"]], dtype=np.int64)
        for k in _NODE_ARRAYS:
            if any(len(v) != n for v, n in zip(cols[k], sizes, strict=True)) or np.any(sizes == 0):
                raise ValueError(f"trees: inconsistent node arrays ({k})")
        a = {k: _cat(cols[k], _NODE_ARRAYS[k]) for k in _NODE_ARRAYS}
        if np.any(a["split_type"] != 0):
            raise UnsupportedModel("categorical splits")
        base = np.repeat(np.cumsum(sizes) - sizes, sizes)  # each node's tree offset
        local = np.arange(len(base)) - base
        lc, rc, idx = a["left_children"], a["right_children"], a["split_indices"]
        leaf = lc < 0
        size_of = np.repeat(sizes, sizes)
        inner = ~leaf
        if np.any((lc[inner] >= size_of[inner]) | (rc[inner] >= size_of[inner]) | (rc[inner] < 0)):
            raise ValueError("trees: child index out of range")
        if np.any((idx[inner] < 0) | (idx[inner] >= self.n_features)):
            raise ValueError("trees: split feature out of range")
        self.roots = (np.cumsum(sizes) - sizes).astype(np.int64)
        self.left = np.where(leaf, local, lc) + base  # a leaf's children are itself
        self.right = np.where(leaf, local, rc) + base
        self.feature = np.where(leaf, 0, idx).astype(np.int64)
        self.value = a["split_conditions"].astype(np.float32)
        self.default_left = a["default_left"].astype(bool)
        self.depth = _depth(self.roots, self.left, self.right, leaf)

    @classmethod
    def from_file(cls, path: str | Path) -> TreeEnsemble:
        """Read an xgboost ``.ubj`` model file."""
        return cls(read_ubjson(Path(path).read_bytes()))

    @property
    def n_trees(self) -> int:
        """Number of trees."""
        return len(self.roots)

    def predict(self, X: np.ndarray, base_margin: np.ndarray) -> np.ndarray:
        """Base margin plus the sum of the trees' leaf values (float32 arithmetic).

        Parameters
        ----------
        X : ndarray, shape (n, n_features)
            Inputs (NaN = missing).
        base_margin : ndarray, shape (n,)

        Returns
        -------
        ndarray of float32, shape (n,)
        """
        X32 = np.asarray(X, dtype=np.float32)
        if X32.ndim != 2 or X32.shape[1] != self.n_features:
            raise ValueError(f"expected {self.n_features} columns, got shape {X32.shape}")
        out = np.asarray(base_margin, dtype=np.float32).reshape(-1, 1)
        if not self.n_trees or not len(X32):
            return out[:, 0].copy()
        rows = np.arange(len(X32))[:, None]
        node = np.broadcast_to(self.roots, (len(X32), self.n_trees))
        for _ in range(self.depth):
            x = X32[rows, self.feature[node]]
            go_left = np.where(np.isnan(x), self.default_left[node], x < self.value[node])
            node = np.where(go_left, self.left[node], self.right[node])
        # xgboost adds tree by tree to the margin: a sequential float32 cumulative sum
        total = np.cumsum(np.hstack([out, self.value[node]]), axis=1, dtype=np.float32)
        return total[:, -1]


def _cat(parts: list[np.ndarray], dtype: Any) -> np.ndarray:
    return np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype=dtype)


def _depth(roots: np.ndarray, left: np.ndarray, right: np.ndarray, leaf: np.ndarray) -> int:
    """Number of splits on the longest root-to-leaf path of any tree."""
    level, depth = roots, 0
    while True:
        level = level[~leaf[level]]
        if not len(level):
            return depth
        depth += 1
        if depth > len(leaf):
            raise ValueError("trees: children form a cycle")
        level = np.concatenate([left[level], right[level]])
