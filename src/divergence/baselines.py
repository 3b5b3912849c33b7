"""Reference predictors of the arena rating, as scikit-learn regressors.

Every model is judged against these baselines (see
:func:`divergence.evaluation.paired_difference`):

- :class:`MeanBaseline`: the training mean (no information).
- :class:`BestSingleBenchmark`: a line on the one column that ranks the
  training models best (highest ``|Spearman|`` with the target).
- :class:`LinearOnColumn`: a line on one named column, e.g. an intelligence
  index or the general factor.
- :class:`MedianRidge`: median imputation + standardisation + ridge on all
  columns, fixed penalty.
- :class:`StrongRidge`: median imputation + missing-value indicators +
  standardisation + ridge, the penalty chosen on one-step-ahead folds in time
  order *inside* the training rows (the strong linear reference).
- :class:`TrailingMean`: the mean of the training models released in the last
  ``window_days`` (a level that follows the trend, no features).

scikit-learn's :class:`~sklearn.ensemble.HistGradientBoostingRegressor` (defaults)
is the strong tree reference; it is used as is.

All follow the scikit-learn estimator contract: ``__init__`` only stores
parameters, ``fit`` validates them and returns ``self``, learned attributes end
in ``_``, ``predict`` returns a float64 array. ``X`` is a pandas DataFrame (or
array) that may hold NaN; the target must be finite. With a DataFrame, columns
are named by label and ``predict`` needs the same columns in the same order as
``fit`` (scikit-learn's feature-name check); with an array (or a DataFrame whose
labels are not all strings), columns are named by position.
Fitting is deterministic (closed-form least squares; ties between equally good
columns go to the first one).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from scipy import stats
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.impute import SimpleImputer
from sklearn.linear_model import Ridge
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_is_fitted, validate_data


def _fit_line(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Least-squares ``(slope, intercept)`` of ``y ~ x``; slope 0 if ``x`` is constant."""
    xm, ym = float(x.mean()), float(y.mean())
    dx = x - xm
    sxx = float(dx @ dx)
    if sxx <= 0.0:
        return 0.0, ym
    slope = float(dx @ (y - ym)) / sxx
    return slope, ym - slope * xm


class _Baseline(RegressorMixin, BaseEstimator):
    """Shared input validation: float X with NaN allowed, finite numeric y."""

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags

    def _fit_data(self, X: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
        """Validate ``X, y`` for ``fit``; set ``n_features_in_`` (and ``feature_names_in_``)."""
        X_arr, y_arr = validate_data(
            self, X, y, ensure_all_finite="allow-nan", dtype=np.float64, y_numeric=True
        )
        return X_arr, np.asarray(y_arr, dtype=np.float64)

    def _predict_data(self, X: Any) -> np.ndarray:
        """Validate ``X`` for ``predict`` against the columns seen in ``fit``."""
        check_is_fitted(self)
        return validate_data(self, X, reset=False, ensure_all_finite="allow-nan", dtype=np.float64)

    def _label(self, pos: int) -> Any:
        """Column label of position ``pos`` (the position itself without names)."""
        names = getattr(self, "feature_names_in_", None)
        return pos if names is None else names[pos]

    def _position(self, column: Any) -> int:
        """Position of ``column`` in the training X; ``ValueError`` if absent."""
        names = getattr(self, "feature_names_in_", None)
        if names is not None:
            hits = [i for i, name in enumerate(names) if name == column]
            if len(hits) == 1:
                return hits[0]
        elif (
            isinstance(column, int | np.integer)
            and not isinstance(column, bool)
            and 0 <= column < self.n_features_in_
        ):
            return int(column)
        raise ValueError(f"column {column!r} is not a column of X")


class MeanBaseline(_Baseline):
    """Predict the training mean of the target for every model.

    Attributes
    ----------
    mean_ : float
        Training mean of ``y``.
    n_features_in_ : int
        Number of columns seen in ``fit``.
    feature_names_in_ : numpy.ndarray
        Column names seen in ``fit`` (only for string-named DataFrames).
    """

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.regressor_tags.poor_score = True
        return tags

    def fit(self, X: Any, y: Any) -> MeanBaseline:
        """Store the training mean.

        Parameters
        ----------
        X : pandas.DataFrame or array-like, shape (n, p)
            Features (only validated).
        y : array-like, shape (n,)
            Finite target.

        Returns
        -------
        MeanBaseline
            ``self``.
        """
        _, y_arr = self._fit_data(X, y)
        self.mean_ = float(y_arr.mean())
        return self

    def predict(self, X: Any) -> np.ndarray:
        """Return the fitted constant ``mean_`` for each row of ``X``.

        Parameters
        ----------
        X : pandas.DataFrame or array-like, shape (m, p)
            Same columns as in ``fit``.

        Returns
        -------
        numpy.ndarray, shape (m,)
        """
        X_arr = self._predict_data(X)
        return np.full(X_arr.shape[0], self.mean_)


class _LineBaseline(_Baseline):
    """A line on one column; rows missing that column get the training mean."""

    def _fit_column(self, X_arr: np.ndarray, y: np.ndarray, pos: int | None) -> None:
        """Fit the line on column ``pos`` (None: predict the mean)."""
        self.fill_value_ = float(y.mean())
        self.coef_, self.intercept_ = 0.0, self.fill_value_
        self.column_index_ = pos
        if pos is None:
            return
        x = X_arr[:, pos]
        ok = ~np.isnan(x)
        if not ok.any():
            warnings.warn(
                f"column {self._label(pos)!r} is all missing in training; predicting the mean",
                UserWarning,
                stacklevel=3,
            )
            return
        self.coef_, self.intercept_ = _fit_line(x[ok], y[ok])

    def predict(self, X: Any) -> np.ndarray:
        """Predict ``intercept_ + coef_ * x``, or ``fill_value_`` where ``x`` is missing.

        Parameters
        ----------
        X : pandas.DataFrame or array-like, shape (m, p)
            Same columns as in ``fit``.

        Returns
        -------
        numpy.ndarray, shape (m,)
        """
        X_arr = self._predict_data(X)
        if self.column_index_ is None:
            return np.full(X_arr.shape[0], self.fill_value_)
        x = X_arr[:, self.column_index_]
        return np.where(np.isnan(x), self.fill_value_, self.intercept_ + self.coef_ * x)


class BestSingleBenchmark(_LineBaseline):
    """Linear regression on the single column that best ranks the training models.

    Among the columns observed in at least ``min_coverage`` of the training
    rows (and with at least 3 observed, non-constant values), pick the one with
    the highest ``|Spearman|`` with ``y`` (on rows where it is observed; ties go
    to the first column), then fit ``y ~ column`` by least squares on those
    rows. Rows where the column is missing are predicted the training mean of
    ``y``. If no column qualifies, a ``UserWarning`` is issued, ``column_`` is
    None and the training mean is predicted.

    Parameters
    ----------
    min_coverage : float, default 0.5
        Minimum share of training rows in which a column must be observed.

    Attributes
    ----------
    column_ : str, int or None
        Chosen column label (position for arrays).
    column_index_ : int or None
        Its position in ``X``.
    spearman_ : numpy.ndarray
        Signed Spearman rho of each column with ``y`` (NaN if not eligible).
    coverage_ : numpy.ndarray
        Share of training rows observed, per column.
    coef_, intercept_ : float
        The fitted line.
    fill_value_ : float
        Training mean of ``y``.
    """

    def __init__(self, min_coverage: float = 0.5) -> None:
        self.min_coverage = min_coverage

    def fit(self, X: Any, y: Any) -> BestSingleBenchmark:
        """Choose the column and fit the line.

        Parameters
        ----------
        X : pandas.DataFrame or array-like, shape (n, p)
            Candidate columns; NaN = missing.
        y : array-like, shape (n,)
            Finite target.

        Returns
        -------
        BestSingleBenchmark
            ``self``.
        """
        if not 0.0 <= float(self.min_coverage) <= 1.0:
            raise ValueError(f"min_coverage must be in [0, 1], got {self.min_coverage!r}")
        X_arr, y_arr = self._fit_data(X, y)
        observed = ~np.isnan(X_arr)
        self.coverage_ = observed.mean(axis=0)
        rho = np.full(X_arr.shape[1], np.nan)
        for j in np.flatnonzero(self.coverage_ >= self.min_coverage):
            ok = observed[:, j]
            x, t = X_arr[ok, j], y_arr[ok]
            if ok.sum() >= 3 and np.ptp(x) > 0 and np.ptp(t) > 0:
                rho[j] = stats.spearmanr(x, t).statistic
        self.spearman_ = rho
        pos: int | None = None
        if np.isfinite(rho).any():
            pos = int(np.nanargmax(np.abs(rho)))
        else:
            warnings.warn(
                f"no column observed in >= {self.min_coverage:.0%} of training rows with a "
                "defined Spearman correlation; predicting the mean",
                UserWarning,
                stacklevel=2,
            )
        self.column_ = None if pos is None else self._label(pos)
        self._fit_column(X_arr, y_arr, pos)
        return self


class LinearOnColumn(_LineBaseline):
    """Linear regression on one named column; missing values get the training mean.

    Parameters
    ----------
    column : str or int
        Column label in the training DataFrame (a position for arrays).

    Attributes
    ----------
    column_index_ : int
        Position of ``column`` in ``X``.
    coef_, intercept_ : float
        Least-squares line fitted on rows where the column is observed.
    fill_value_ : float
        Training mean of ``y``, predicted where the column is missing (and
        everywhere, with a ``UserWarning``, if it is never observed).
    """

    def __init__(self, column: str | int) -> None:
        self.column = column

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.regressor_tags.poor_score = True
        return tags

    def fit(self, X: Any, y: Any) -> LinearOnColumn:
        """Fit ``y ~ X[column]``.

        Parameters
        ----------
        X : pandas.DataFrame or array-like, shape (n, p)
            Must contain ``column``.
        y : array-like, shape (n,)
            Finite target.

        Returns
        -------
        LinearOnColumn
            ``self``.

        Raises
        ------
        ValueError
            If ``column`` is not in ``X``.
        """
        X_arr, y_arr = self._fit_data(X, y)
        self._fit_column(X_arr, y_arr, self._position(self.column))
        return self


class MedianRidge(_Baseline):
    """Median imputation, standardisation and ridge regression on all columns.

    Columns never observed in training are dropped; the rest are imputed with
    their training median, scaled to unit variance and fed to
    :class:`sklearn.linear_model.Ridge` (closed-form, deterministic). If no
    column is observed, a ``UserWarning`` is issued and the training mean is
    predicted.

    Parameters
    ----------
    alpha : float, default 10.0
        Ridge penalty on the standardised coefficients.

    Attributes
    ----------
    columns_ : list
        Labels (positions for arrays) of the columns used.
    column_indices_ : numpy.ndarray
        Their positions in ``X``.
    pipeline_ : sklearn.pipeline.Pipeline or None
        The fitted imputer-scaler-ridge pipeline.
    fill_value_ : float
        Training mean of ``y``.
    """

    def __init__(self, alpha: float = 10.0) -> None:
        self.alpha = alpha

    def fit(self, X: Any, y: Any) -> MedianRidge:
        """Fit the pipeline on the observed columns.

        Parameters
        ----------
        X : pandas.DataFrame or array-like, shape (n, p)
            Features; NaN = missing.
        y : array-like, shape (n,)
            Finite target.

        Returns
        -------
        MedianRidge
            ``self``.
        """
        if not float(self.alpha) >= 0.0:
            raise ValueError(f"alpha must be >= 0, got {self.alpha!r}")
        X_arr, y_arr = self._fit_data(X, y)
        self.fill_value_ = float(y_arr.mean())
        self.column_indices_ = np.flatnonzero(~np.isnan(X_arr).all(axis=0))
        self.columns_ = [self._label(int(j)) for j in self.column_indices_]
        self.pipeline_: Pipeline | None = None
        if self.column_indices_.size == 0:
            warnings.warn(
                "every column is all missing in training; predicting the mean",
                UserWarning,
                stacklevel=2,
            )
            return self
        self.pipeline_ = make_pipeline(
            SimpleImputer(strategy="median"), StandardScaler(), Ridge(alpha=self.alpha)
        ).fit(X_arr[:, self.column_indices_], y_arr)
        return self

    def predict(self, X: Any) -> np.ndarray:
        """Predict with the fitted pipeline.

        Parameters
        ----------
        X : pandas.DataFrame or array-like, shape (m, p)
            Same columns as in ``fit``; NaN allowed.

        Returns
        -------
        numpy.ndarray, shape (m,)
        """
        X_arr = self._predict_data(X)
        if self.pipeline_ is None:
            return np.full(X_arr.shape[0], self.fill_value_)
        return np.asarray(self.pipeline_.predict(X_arr[:, self.column_indices_]), dtype=np.float64)


def _ridge_path(Z: np.ndarray, y: np.ndarray, alphas: np.ndarray) -> np.ndarray:
    """Ridge coefficients (rows) of centred ``y`` on ``Z`` (centred) for every alpha (SVD)."""
    U, sv, Vt = np.linalg.svd(Z, full_matrices=False)
    uy = U.T @ y
    return (sv[None, :] / (sv[None, :] ** 2 + alphas[:, None]) * uy[None, :]) @ Vt


class _ImputeIndicate:
    """Median fill + missing indicators + standardisation, fitted on training rows."""

    def __init__(self, A: np.ndarray) -> None:
        self.keep = np.flatnonzero(~np.isnan(A).all(axis=0))
        A = A[:, self.keep]
        miss = np.isnan(A)
        self.median = np.nanmedian(A, axis=0) if A.shape[1] else np.zeros(0)
        self.ind = np.flatnonzero(miss.any(axis=0))
        D = self._raw(A)
        self.mu = D.mean(axis=0)
        sd = D.std(axis=0)
        self.sd = np.where(sd > 0, sd, 1.0)

    def _raw(self, A: np.ndarray) -> np.ndarray:
        miss = np.isnan(A)
        return np.hstack([np.where(miss, self.median, A), miss[:, self.ind].astype(float)])

    def __call__(self, A: np.ndarray) -> np.ndarray:
        return (self._raw(A[:, self.keep]) - self.mu) / self.sd


class StrongRidge(_Baseline):
    """Ridge on median-imputed, standardised columns plus missing-value indicators.

    Columns never observed in training are dropped; every other column is filled
    with its training median, and each column missing in some training row adds a
    0/1 indicator; all are standardised. The penalty is chosen from ``alphas`` by
    the squared error of one-step-ahead folds in time order *within the training
    rows* (:func:`divergence.splits.time_ordered_folds` on ``time_column``: the
    newest ``n_recent`` rows in ``n_folds`` blocks, each predicted from the rows
    before it), so the choice never sees later models. Without ``time_column`` in
    ``X`` (or with too few rows for a fold) the penalty is chosen by exact
    leave-one-out error instead. Deterministic (closed form).

    Parameters
    ----------
    alphas : sequence of float, default ``numpy.logspace(-1, 3.5, 19)``
        Candidate penalties (on the standardised design).
    time_column : str, default "meta.release_days"
        Column ordering rows in time (its label; NaN = undated).
    n_recent : int, default 40
        Rows predicted by the penalty-choice folds.
    n_folds : int, default 4
        Number of those folds.

    Attributes
    ----------
    alpha_ : float
        The chosen penalty.
    fold_errors_ : numpy.ndarray
        Mean squared error of each candidate on the folds (LOO when no fold).
    coef_ : numpy.ndarray
        Coefficients on the standardised design (columns, then indicators).
    intercept_ : float
        Training mean of ``y``.
    n_indicators_ : int
        Number of missing-value indicators.
    """

    def __init__(
        self,
        alphas: Any = None,
        time_column: str = "meta.release_days",
        n_recent: int = 40,
        n_folds: int = 4,
    ) -> None:
        self.alphas = alphas
        self.time_column = time_column
        self.n_recent = n_recent
        self.n_folds = n_folds

    def _alphas(self) -> np.ndarray:
        a = np.logspace(-1, 3.5, 19) if self.alphas is None else np.asarray(self.alphas, float)
        if a.ndim != 1 or a.size == 0 or not (a > 0).all():
            raise ValueError(f"alphas must be a non-empty sequence of positive floats, got {a!r}")
        return a

    def fit(self, X: Any, y: Any) -> StrongRidge:
        """Choose the penalty on time-ordered folds, then fit on every row.

        Parameters
        ----------
        X : pandas.DataFrame or array-like, shape (n, p)
            Features; NaN = missing.
        y : array-like, shape (n,)
            Finite target.

        Returns
        -------
        StrongRidge
            ``self``.
        """
        from divergence.splits import time_ordered_folds

        alphas = self._alphas()
        X_arr, y_arr = self._fit_data(X, y)
        names = getattr(self, "feature_names_in_", None)
        folds = []
        if names is not None and self.time_column in list(names):
            t = X_arr[:, list(names).index(self.time_column)]
            folds = time_ordered_folds(t, n_recent=self.n_recent, n_folds=self.n_folds)
        if folds:
            err = np.zeros(alphas.size)
            for tr, te in folds:
                tf = _ImputeIndicate(X_arr[tr])
                Z, ym = tf(X_arr[tr]), y_arr[tr].mean()
                B = _ridge_path(Z - Z.mean(axis=0), y_arr[tr] - ym, alphas)
                err += (((tf(X_arr[te]) @ B.T) + ym - y_arr[te][:, None]) ** 2).sum(axis=0)
            self.fold_errors_ = err / sum(len(te) for _, te in folds)
        else:  # exact leave-one-out residuals of ridge via the hat matrix
            tf = _ImputeIndicate(X_arr)
            Z = tf(X_arr)
            U, sv, _ = np.linalg.svd(Z, full_matrices=False)
            yc = y_arr - y_arr.mean()
            uy = U.T @ yc
            errs = []
            for a in alphas:
                shrink = sv**2 / (sv**2 + a)
                fit = U @ (shrink * uy)
                h = (U**2) @ shrink + 1.0 / len(y_arr)
                errs.append(float(np.mean(((yc - fit) / np.clip(1 - h, 1e-9, None)) ** 2)))
            self.fold_errors_ = np.array(errs)
        self.alpha_ = float(alphas[int(np.argmin(self.fold_errors_))])
        self._tf = _ImputeIndicate(X_arr)
        Z = self._tf(X_arr)
        self.intercept_ = float(y_arr.mean())
        self.coef_ = _ridge_path(Z, y_arr - self.intercept_, np.array([self.alpha_]))[0]
        self.n_indicators_ = int(self._tf.ind.size)
        return self

    def predict(self, X: Any) -> np.ndarray:
        """Predict with the fitted ridge.

        Parameters
        ----------
        X : pandas.DataFrame or array-like, shape (m, p)
            Same columns as in ``fit``; NaN allowed.

        Returns
        -------
        numpy.ndarray, shape (m,)
        """
        X_arr = self._predict_data(X)
        return self._tf(X_arr) @ self.coef_ + self.intercept_


class TrailingMean(MeanBaseline):
    """The mean target of the training rows released in the last ``window_days``.

    The window ends at the newest training row (``time_column``, in days); rows
    without a time are left out. Without ``time_column`` in ``X`` (or no dated
    row) the all-row mean is predicted. Prediction is :meth:`MeanBaseline.predict`
    (the constant ``mean_``).

    Parameters
    ----------
    window_days : float, default 365
        Window length.
    time_column : str, default "meta.release_days"
        Column holding release time in days.

    Attributes
    ----------
    mean_ : float
        The predicted constant.
    n_window_ : int
        Number of training rows averaged.
    """

    def __init__(self, window_days: float = 365.0, time_column: str = "meta.release_days") -> None:
        self.window_days = window_days
        self.time_column = time_column

    def fit(self, X: Any, y: Any) -> TrailingMean:
        """Average the training rows of the last ``window_days``.

        Parameters
        ----------
        X : pandas.DataFrame or array-like, shape (n, p)
            Must hold ``time_column`` to use the window.
        y : array-like, shape (n,)
            Finite target.

        Returns
        -------
        TrailingMean
            ``self``.
        """
        if not float(self.window_days) > 0:
            raise ValueError(f"window_days must be > 0, got {self.window_days!r}")
        X_arr, y_arr = self._fit_data(X, y)
        names = getattr(self, "feature_names_in_", None)
        use = np.ones(len(y_arr), dtype=bool)
        if names is not None and self.time_column in list(names):
            t = X_arr[:, list(names).index(self.time_column)]
            if (~np.isnan(t)).any():
                use = t >= np.nanmax(t) - float(self.window_days)
        self.mean_ = float(y_arr[use].mean())
        self.n_window_ = int(use.sum())
        return self
