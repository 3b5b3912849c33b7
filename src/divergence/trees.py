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
_FLOATS = (ord("d"), ord("D"))
_NOOP, _STR, _HIGH, _CHAR, _TRUE, _FALSE, _NULL = (ord(c) for c in "NSHCTFZ")
_OPEN_A, _CLOSE_A, _OPEN_O, _CLOSE_O, _TYPE, _COUNT = (ord(c) for c in "[]{}$#")


class UnsupportedModel(ValueError):
    """The model file is valid but uses a feature :class:`TreeEnsemble` does not evaluate."""


class _Reader:
    """Recursive-descent UBJSON reader (the subset xgboost writes, plus the rest of draft 12)."""

    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def _marker(self) -> int:
        data, pos = self.data, self.pos
        while pos < len(data) and data[pos] == _NOOP:
            pos += 1
        if pos >= len(data):
            raise ValueError(f"truncated at byte {pos}")
        self.pos = pos + 1
        return data[pos]

    def _scalar(self, m: int) -> Any:
        st = _STRUCT[m]
        if self.pos + st.size > len(self.data):
            raise ValueError(f"truncated at byte {self.pos}")
        (v,) = st.unpack_from(self.data, self.pos)
        self.pos += st.size
        return v

    def _int(self, m: int) -> int:
        if m not in _STRUCT or m in _FLOATS:
            raise ValueError(f"expected an integer marker at byte {self.pos - 1}, got {chr(m)!r}")
        return int(self._scalar(m))

    def _str(self) -> str:
        n = self._int(self._marker())
        end = self.pos + n
        if n < 0 or end > len(self.data):
            raise ValueError(f"truncated string at byte {self.pos}")
        out, self.pos = self.data[self.pos : end].decode("utf-8"), end
        return out

    def value(self, marker: int | None = None, depth: int = 0) -> Any:
        if depth > 64:
            raise ValueError("nested too deeply")
        m = self._marker() if marker is None else marker
        if m in _STRUCT:
            return self._scalar(m)
        if m == _STR or m == _HIGH:
            return self._str()
        if m == _CHAR:
            self.pos += 1
            if self.pos > len(self.data):
                raise ValueError(f"truncated at byte {self.pos}")
            return chr(self.data[self.pos - 1])
        if m == _TRUE or m == _FALSE:
            return m == _TRUE
        if m == _NULL:
            return None
        if m == _OPEN_A:
            return self._array(depth)
        if m == _OPEN_O:
            return self._object(depth)
        raise ValueError(f"unknown UBJSON marker {chr(m)!r} at byte {self.pos - 1}")

    def _peek(self, m: int) -> bool:
        if self.pos < len(self.data) and self.data[self.pos] == m:
            self.pos += 1
            return True
        return False

    def _header(self) -> tuple[int | None, int | None]:
        """Optimised container header: ``$<type>`` and/or ``#<count>``."""
        kind = count = None
        if self._peek(_TYPE):
            kind = self._marker()
        if self._peek(_COUNT):
            count = self._int(self._marker())
            if count < 0:
                raise ValueError(f"negative count at byte {self.pos}")
        if kind is not None and count is None:
            raise ValueError(f"typed container without a count at byte {self.pos}")
        return kind, count

    def _array(self, depth: int) -> Any:
        kind, count = self._header()
        if kind in _SCALARS and count is not None:  # typed numeric array: one block read
            dtype, size = _SCALARS[kind]
            end = self.pos + size * count
            if end > len(self.data):
                raise ValueError(f"truncated array at byte {self.pos}")
            out_arr = np.frombuffer(self.data, dtype=dtype, count=count, offset=self.pos)
            self.pos = end
            return out_arr
        out: list[Any] = []
        if count is not None:
            for _ in range(count):
                out.append(self.value(kind, depth + 1))
            return out
        while True:
            m = self._marker()
            if m == _CLOSE_A:
                return out
            out.append(self.value(m, depth + 1))

    def _object(self, depth: int) -> dict[str, Any]:
        kind, count = self._header()
        out: dict[str, Any] = {}
        if count is not None:
            for _ in range(count):
                key = self._str()
                out[key] = self.value(kind, depth + 1)
            return out
        while True:
            if self._peek(_CLOSE_O):
                return out
            key = self._str()
            out[key] = self.value(None, depth + 1)


def read_ubjson(data: bytes) -> Any:
    """Decode UBJSON; typed numeric arrays come back as NumPy arrays.

    Raises
    ------
    ValueError
        On malformed or truncated input, or trailing bytes.
    """
    r = _Reader(data)
    try:
        out = r.value()
    except (struct.error, UnicodeDecodeError, IndexError) as exc:
        raise ValueError(f"malformed UBJSON ({exc})") from None
    if r.pos != len(data):
        raise ValueError(f"trailing bytes after the UBJSON value at byte {r.pos}")
    return out


def _ints(tree: dict[str, Any], key: str) -> np.ndarray:
    return np.asarray(tree[key], dtype=np.int64)


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
            offsets: list[int] = []
            feat: list[np.ndarray] = []
            thr: list[np.ndarray] = []
            left: list[np.ndarray] = []
            right: list[np.ndarray] = []
            dleft: list[np.ndarray] = []
            depth, base = 0, 0
            for t in trees:
                if int(t["tree_param"].get("size_leaf_vector", "1")) > 1:
                    raise UnsupportedModel("vector leaves")
                if np.any(np.asarray(t["split_type"]) != 0):
                    raise UnsupportedModel("categorical splits")
                lc, rc = _ints(t, "left_children"), _ints(t, "right_children")
                n = len(lc)
                idx = _ints(t, "split_indices")
                cond = np.asarray(t["split_conditions"], dtype=np.float32)
                dl = np.asarray(t["default_left"]).astype(bool)
                if not (n and len(rc) == n and len(idx) == n and len(cond) == n and len(dl) == n):
                    raise ValueError(f"tree {len(offsets)}: inconsistent node arrays")
                leaf = lc < 0
                if np.any(lc[~leaf] >= n) or np.any(rc[~leaf] >= n) or np.any(rc[~leaf] < 0):
                    raise ValueError(f"tree {len(offsets)}: child index out of range")
                if np.any((idx[~leaf] < 0) | (idx[~leaf] >= self.n_features)):
                    raise ValueError(f"tree {len(offsets)}: split feature out of range")
                self_loop = np.arange(n) + base  # a leaf's children are itself
                left.append(np.where(leaf, self_loop, lc + base))
                right.append(np.where(leaf, self_loop, rc + base))
                feat.append(np.where(leaf, 0, idx))
                thr.append(cond)
                dleft.append(dl)
                offsets.append(base)
                depth = max(depth, _depth(lc, rc))
                base += n
        except (KeyError, TypeError, AttributeError) as exc:
            raise ValueError(
                f"not an xgboost model document ({type(exc).__name__}: {exc})"
            ) from None
        self.roots = np.asarray(offsets, dtype=np.int64)
        self.feature = _cat(feat, np.int64)
        self.value = _cat(thr, np.float32)
        self.left = _cat(left, np.int64)
        self.right = _cat(right, np.int64)
        self.default_left = _cat(dleft, np.bool_)
        self.depth = depth

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


def _depth(left: np.ndarray, right: np.ndarray) -> int:
    """Number of splits on the longest root-to-leaf path."""
    depth, level, seen = 0, [0], 0
    while True:
        nxt = [c for i in level if left[i] >= 0 for c in (int(left[i]), int(right[i]))]
        seen += len(nxt)
        if not nxt:
            return depth
        if seen > len(left):
            raise ValueError("tree children form a cycle")
        depth, level = depth + 1, nxt
