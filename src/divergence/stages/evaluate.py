"""Stage ``evaluate`` (MLproject entry point ``evaluate``): walk-forward and rolling origin.

:func:`evaluate` is the computation (an :class:`EvaluationResult`, from
:func:`divergence.pipeline.run_evaluation`); :func:`step` runs it inside a nested
``evaluate`` run and logs it (headline metrics, tables, figure, the result under
``stage/``); :func:`load` reads the result back from a finished run, so ``train``
calibrates its intervals on the residuals of that run instead of recomputing them.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from divergence.pipeline import Prepared, run_evaluation, summary_metrics
from divergence.stages.shell import (
    INPUTS_TAG,
    best_baseline,
    ci,
    headline_metrics,
    inputs_key,
    load_result,
    log_dataset,
    log_frame,
    log_table,
    markdown_table,
    note,
    rename_run,
    save_result,
    set_stage,
)


@dataclass
class EvaluationResult:
    """An evaluation, as the ``train`` stage and the reports consume it.

    Attributes
    ----------
    predictions : DataFrame
        Walk-forward predictions, the headline seed of every method
        (:func:`divergence.pipeline.walk_forward` columns).
    metrics : dict
        Flat walk-forward metrics (:func:`divergence.pipeline.summary_metrics`).
    residuals : DataFrame
        One-step-ahead residuals of the tuned parameters (tuning folds + walk-forward):
        ``model_id``, ``release_date``, ``residual``, ``evidence``, ``source``; what the
        final model's intervals are calibrated on.
    intervals : dict
        The conformal calibration of the walk-forward (tuning-fold residuals), as
        :meth:`divergence.conformal.ConformalIntervals.to_dict`.
    walkforward_metrics, rolling_metrics : DataFrame
        Metric tables with CIs and paired differences (rolling: empty without quarters).
    params : dict
        The model parameters evaluated.
    details : dict
        Everything else :func:`divergence.pipeline.run_evaluation` returns (seed tables,
        rolling-origin predictions, ...); empty when loaded from a run.
    """

    predictions: pd.DataFrame
    metrics: dict[str, float]
    residuals: pd.DataFrame
    intervals: dict[str, Any]
    walkforward_metrics: pd.DataFrame
    rolling_metrics: pd.DataFrame
    params: dict[str, Any]
    details: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def title(self, experiment: str) -> str:
        """Run name: what the run did and its headline result."""
        n = self.predictions["model_id"].nunique()
        rmse = self.metrics.get("walkforward_rmse", float("nan"))
        return f"evaluate {experiment}: walk-forward {n} models, RMSE {rmse:.1f}"


def evaluate(p: Prepared, params: dict[str, Any]) -> EvaluationResult:
    """Walk-forward and rolling-origin evaluation of ``params`` (no MLflow)."""
    ev = run_evaluation(p, params)
    rolling = ev.get("rolling_metrics")
    return EvaluationResult(
        predictions=ev["walkforward"],
        metrics=summary_metrics(ev["walkforward_metrics"]),
        residuals=ev["calibration"],
        intervals=dict(ev["q_inner"]),
        walkforward_metrics=ev["walkforward_metrics"],
        rolling_metrics=rolling if isinstance(rolling, pd.DataFrame) else pd.DataFrame(),
        params=dict(params),
        details=ev,
    )


def plot_predictions(wf: pd.DataFrame, path: Path, title: str) -> None:
    """Predicted-vs-actual and residual-vs-release figure for the walk-forward."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(12, 5))
    ax = axes[0]
    for method, style in [
        ("ours", dict(color="C0", marker="o")),
        ("ours_benchmarks_only", dict(color="C2", marker="^")),
        ("baseline_strong_ridge", dict(color="C3", marker="x")),
        ("baseline_aa_index_linear", dict(color="C1", marker="s")),
    ]:
        g = wf[wf["method"] == method]
        if g.empty:
            continue
        ax.scatter(g["y"], g["pred"], label=method, alpha=0.7, **style)
    ours = wf[wf["method"] == "ours"]
    if "lower_80" in ours and ours["lower_80"].notna().any():
        ax.errorbar(
            ours["y"],
            ours["pred"],
            yerr=ours["upper_80"] - ours["pred"],
            fmt="none",
            ecolor="C0",
            alpha=0.3,
            label="ours 80% interval",
        )
    lim = [
        np.nanmin(wf[["y", "pred"]].to_numpy()) - 10,
        np.nanmax(wf[["y", "pred"]].to_numpy()) + 10,
    ]
    ax.plot(lim, lim, "k--", lw=1)
    ax.set_xlabel("actual arena rating (normalised)")
    ax.set_ylabel("predicted")
    ax.set_title(title)
    ax.legend(fontsize=8)
    ax = axes[1]
    ax.axhline(0, color="k", lw=1)
    for method, c in [("ours", "C0"), ("baseline_strong_ridge", "C3")]:
        g = wf[wf["method"] == method]
        ax.scatter(
            pd.to_datetime(g["release_date"]), g["pred"] - g["y"], color=c, label=method, alpha=0.7
        )
    ax.set_xlabel("release date")
    ax.set_ylabel("residual (pred − actual)")
    ax.set_title("Residual vs release date (extrapolation check)")
    ax.legend(fontsize=8)
    fig.autofmt_xdate()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _evaluate_note(p: Prepared, res: EvaluationResult) -> str:
    wf, metrics = res.predictions, res.metrics
    dates = pd.to_datetime(wf["release_date"])
    best = best_baseline(metrics)
    lines = [
        f"**Walk-forward** over the {wf['model_id'].nunique()} newest rated models "
        f"(released {dates.min().date()} to {dates.max().date()}), each predicted by a refit "
        "on every model released strictly before it; baselines on the same splits.",
        "",
        f"Ours: RMSE **{ci(metrics, 'walkforward_rmse')}**, Spearman "
        f"**{ci(metrics, 'walkforward_spearman')}**, MAE {ci(metrics, 'walkforward_mae')}, "
        f"90% interval coverage {ci(metrics, 'walkforward_coverage')}.",
    ]
    if best is not None:
        lines.append(f"Best baseline: {best[0]}, RMSE {best[1]:.3g}.")
    lines += ["", markdown_table(res.walkforward_metrics)]
    if len(res.rolling_metrics):
        ro = summary_metrics(res.rolling_metrics)
        lines.append(
            f"Rolling origin by quarter (untuned parameters): RMSE {ci(ro, 'walkforward_rmse')}, "
            f"90% coverage {ci(ro, 'walkforward_coverage')}."
        )
    lines.append(
        "\nTables: `walkforward_predictions.json`, `walkforward_metrics.json` (every metric, "
        "CI and paired ours − baseline difference); figure `predicted_vs_actual.png`; the "
        "result for later stages under `stage/`."
    )
    return "\n".join(lines)


def log(p: Prepared, res: EvaluationResult) -> None:
    """Log a result on the active ``evaluate`` run: metrics, tables, figure, note, name."""
    import mlflow

    mlflow.log_params(
        {f"conformal_{k}_inner": v for k, v in res.intervals.items() if k in ("q80", "q90")}
    )
    mlflow.log_metrics(headline_metrics(res.metrics))
    with tempfile.TemporaryDirectory() as td:
        d = Path(td)
        log_frame(res.predictions, "walkforward_predictions.csv", d)
        log_frame(res.walkforward_metrics, "walkforward_metrics.csv", d)
        log_table(res.predictions, "walkforward_predictions.json")
        log_table(res.walkforward_metrics, "walkforward_metrics.json")
        rolling = res.details.get("rolling")
        if isinstance(rolling, pd.DataFrame) and len(rolling):
            log_frame(rolling, "rolling_origin_predictions.csv", d)
        if len(res.rolling_metrics):
            log_frame(res.rolling_metrics, "rolling_origin_metrics.csv", d)
            ro = summary_metrics(res.rolling_metrics)
            mlflow.log_metrics(
                {
                    k.replace("walkforward", "rolling"): v
                    for k, v in ro.items()
                    if k in {"walkforward_rmse", "walkforward_coverage", "walkforward_spearman"}
                }
            )
        (d / "walkforward_table.md").write_text(markdown_table(res.walkforward_metrics))
        mlflow.log_artifact(str(d / "walkforward_table.md"))
        fig = d / "predicted_vs_actual.png"
        plot_predictions(res.predictions, fig, f"Walk-forward, {p.exp.board}/{p.exp.category}")
        mlflow.log_artifact(str(fig))
    save(res)
    note(_evaluate_note(p, res))
    rename_run(res.title(p.exp.name))


def step(p: Prepared, params: dict[str, Any]) -> EvaluationResult:
    """Evaluate under a nested ``evaluate`` run (open while it works) and log the result."""
    import mlflow

    with mlflow.start_run(run_name="evaluate", nested=True):
        set_stage("evaluate")
        mlflow.set_tag(INPUTS_TAG, inputs_key(p, params))
        log_dataset(p, "evaluation")
        mlflow.log_params({f"param_{k}": v for k, v in params.items()})
        mlflow.log_params({"n_test": p.exp.n_test, "n_rated_models": len(p.y)})
        res = evaluate(p, params)
        log(p, res)
    return res


def save(res: EvaluationResult) -> None:
    """Store ``res`` under the active run's ``stage/`` artifacts, as :func:`load` reads it."""
    save_result(
        {
            "predictions": res.predictions,
            "residuals": res.residuals,
            "walkforward_metrics": res.walkforward_metrics,
            "rolling_metrics": res.rolling_metrics,
        },
        {"metrics": res.metrics, "intervals": res.intervals, "params": res.params},
    )


def load(run_id: str) -> EvaluationResult:
    """The :class:`EvaluationResult` of a finished ``evaluate`` run (``details`` empty)."""
    frames, values = load_result(run_id, "evaluate")
    return EvaluationResult(
        predictions=frames["predictions"],
        metrics={k: float(v) for k, v in values["metrics"].items()},
        residuals=frames["residuals"],
        intervals=values["intervals"],
        walkforward_metrics=frames["walkforward_metrics"],
        rolling_metrics=frames.get("rolling_metrics", pd.DataFrame()),
        params=values["params"],
    )
