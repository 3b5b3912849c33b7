"""Export a registered model with a model card (``divergence export``)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from divergence.atomic import atomic_dir, check_output_dir
from divergence.config import project_root, valid_name
from divergence.errors import DivergenceError
from divergence.predictor import load_predictor


def model_card(card: dict) -> str:
    """Markdown model card from the card JSON written at training time."""
    m = card.get("walkforward_metrics", {})

    def fmt(key: str) -> str:
        if key not in m:
            return "n/a"
        lo, hi = m.get(f"{key}_ci_lo"), m.get(f"{key}_ci_hi")
        ci = f" (95% CI {lo:.3g} to {hi:.3g})" if lo is not None and hi is not None else ""
        return f"{m[key]:.3g}{ci}"

    baselines = sorted(
        {k.split("_walkforward_")[0] for k in m if k.startswith("baseline_")},
        key=lambda b: m.get(f"{b}_walkforward_rmse", float("inf")),
    )
    base_rows = "\n".join(
        f"| {b.removeprefix('baseline_')} | {fmt(f'{b}_walkforward_rmse')} | "
        f"{fmt(f'{b}_walkforward_spearman')} | {fmt(f'{b}_walkforward_this_minus_reference_rmse')} |"
        for b in baselines
    )
    params = card.get("params", {})
    base = params.get("base", "?")
    margin = {
        "latent": f"a ridge on {params.get('n_factors', 1) if not params.get('monotone') else 1} "
        "latent benchmark factor(s), release date, coverage and source indicators",
        "factor": "a ridge on the general benchmark factor and release date",
        "linear": "a ridge on every engineered (factor, family, metadata) feature",
        "ridge": "a ridge on every standardised benchmark and engineered feature",
    }.get(base)
    if margin:
        how = (
            f"xgboost ({params.get('n_estimators')} trees) on the residual of a linear base "
            f"margin, {margin}, with missing-value indicators; the margin extrapolates "
            "beyond the training range, the trees do not."
        )
    else:
        how = (
            f"plain xgboost ({params.get('n_estimators')} trees, no base margin): it cannot "
            "predict above the highest training rating."
        )
    exp = card.get("experiment", {})
    q = card.get("intervals", {})
    edges = [-float("inf"), *q.get("bin_edges", []), float("inf")]
    hw = q.get("half_widths", {})
    bins = "; ".join(
        f"{'fewer than ' + format(hi, 'g') if lo == -float('inf') else (format(lo, 'g') + ' or more' if hi == float('inf') else format(lo, 'g') + '–' + format(hi, 'g'))} inputs "
        f"±{hw.get('0.8', [float('nan')] * len(edges))[i]:.0f} (80%) / ±{hw.get('0.9', [float('nan')] * len(edges))[i]:.0f} (90%)"
        if len(edges) > 2
        else f"±{hw.get('0.8', [float('nan')])[0]:.0f} (80%) / ±{hw.get('0.9', [float('nan')])[0]:.0f} (90%) for every row"
        for i, (lo, hi) in enumerate(zip(edges[:-1], edges[1:], strict=True))
    )
    return f"""# Model card: {card.get("registered_model")}

## What it predicts
{card.get("target")} (LMArena human-preference rating, normalised to the scale of the
latest snapshot), from benchmark scores, adoption signals and metadata. Also returns a
benchmarks-only prediction (`benchmark_implied`) and `divergence` = difference of the two.

## Training data
- Models: {card.get("training_models")} rated models released {card.get("training_release_range", ["?", "?"])[0]}
  to {card.get("training_release_range", ["?", "?"])[1]}.
- Snapshot sha256: `{card.get("snapshot_sha256")}`; code commit `{card.get("git_commit")}`.
- Feature set `{exp.get("feature_set")}` ({len(card.get("features_main", []))} columns), benchmarks-only set
  `{exp.get("benchmark_feature_set")}` ({len(card.get("features_benchmarks_only", []))} columns).

## Model
{how} Tuned parameters: `{json.dumps(params, sort_keys=True)}`.

## Walk-forward evaluation (newest {exp.get("n_test")} models, each predicted from older models only)
The seed with the median RMSE over {exp.get("n_seeds", 1)} xgboost seeds; 95% bootstrap CIs; last
column: paired bootstrap difference of RMSE against the strong ridge baseline (negative = better).

| predictor | RMSE | Spearman | − strong ridge RMSE |
|---|---|---|---|
| ours | {fmt("walkforward_rmse")} | {fmt("walkforward_spearman")} | {fmt("walkforward_this_minus_reference_rmse")} |
| ours, benchmarks only | {fmt("benchmarks_only_walkforward_rmse")} | {fmt("benchmarks_only_walkforward_spearman")} | {fmt("benchmarks_only_walkforward_this_minus_reference_rmse")} |
{base_rows}

Seed spread of ours: RMSE {fmt("walkforward_rmse_seed_min")} to {fmt("walkforward_rmse_seed_max")}
(median {fmt("walkforward_rmse_seed_median")}); MAE {fmt("walkforward_mae")}.
90% interval coverage {fmt("walkforward_coverage")} on the walk-forward,
{fmt("rolling_interval_coverage_90")} on the rolling origin; median 90% width
{fmt("walkforward_interval_median_width_90")} rating points (90th percentile of the absolute
walk-forward error: {fmt("walkforward_interval_p90_abs_error")}).

Prediction intervals: split-conformal on one-step-ahead residuals (tuning folds and the
walk-forward), normalised score with one scale per bin of observed benchmark inputs: {bins}.

## Intended use
Estimating the arena standing of a model that has benchmark scores but no (or few) arena
votes yet, and measuring where benchmarks and human preference disagree.

## Known limits
- Small n (hundreds of models); CIs above are wide and honest about it.
- Trees cannot extrapolate; only the linear base margin (if any, see Model) carries a
  model beyond the training range, so frontier models remain the least certain.
- Arena ratings re-anchor between snapshots; targets are normalised by anchor models.
- Adoption signals exist only for recent models (sources start 2024-2026), so for older
  models the adoption features are missing by construction.
- Benchmark coverage is uneven by source and era; a model with few benchmarks gets a
  prediction dominated by its metadata and the training mean, and a wider interval.
- Not a measure of safety, cost-effectiveness or any specific user's utility.

## Inputs
Every column is optional (missing = unknown). Columns: see `input_columns.json`.
"""


PREDICTOR_FILES = [
    "main.json",
    "main.ubj",
    "bench.json",
    "bench.ubj",
    "intervals.json",
    "features.csv.gz",
    "aliases.csv.gz",
    "card.json",
    "training_ids.json",  # optional: the final fit's models (divergence_basis)
]


def check_model_name(name: object, source: str) -> str:
    """A registered-model name usable as one directory name under ``models/``."""
    if not valid_name(name):
        raise DivergenceError(
            f"{source}: registered model name {name!r} is not a valid registry name "
            "(letters, digits, '.', '_', '-'; no path separators)"
        )
    return str(name)


def export_target(name: str, out: str | Path | None = None) -> Path:
    """The export directory: ``models/<name>`` or ``out``, which must lie below ``models/``."""
    models = (project_root() / "models").resolve()
    target = Path(out) if out else models / name
    check_output_dir(target, what="export directory")
    resolved = target.resolve()
    if resolved == models or not resolved.is_relative_to(models):
        raise DivergenceError(f"{target}: exports go only below the project's {models}/")
    return target


def export_model(uri: str | None = None, out: str | Path | None = None) -> Path:
    """Copy a registered model's predictor files and write MODEL_CARD.md.

    The registered name comes from the model's ``card.json`` and is validated as a
    registry name before it becomes a directory name; the target (default
    ``models/<name>``, or ``out``) must lie below the project's ``models/`` directory.

    Returns
    -------
    Path
        The export directory.
    """
    if out is not None:
        export_target("divergence-utility", out)  # refuse a bad --out before loading anything
    pred = load_predictor(uri)
    name = check_model_name(
        pred.card.get("registered_model", "divergence-utility"), str(pred.directory / "card.json")
    )
    target = export_target(name, out)
    with atomic_dir(target) as tmp:
        _write_predictor(pred, tmp)
    return target


def _write_predictor(pred: Any, dest: Path) -> None:
    """``dest/predictor/`` (the predictor's own files, never links), MODEL_CARD.md and
    input_columns.json: one exported model, loadable with ``load_predictor(dest)``."""
    (dest / "predictor").mkdir(parents=True)
    for f in PREDICTOR_FILES:
        src = pred.directory / f
        if src.is_file() and not src.is_symlink():
            shutil.copy2(src, dest / "predictor" / f)
    (dest / "MODEL_CARD.md").write_text(model_card(pred.card))
    (dest / "input_columns.json").write_text(json.dumps(pred.input_columns, indent=1))


def domains_card(manifest: dict[str, Any]) -> str:
    """Markdown card of a multi-target export: which domains are served, and why not."""
    from divergence.domains import SERVED

    rows = []
    for e in manifest["domains"]:
        served = f"`{e['domain']}/`" if e["status"] in SERVED else "–"
        rows.append(
            f"| {e['domain']} | {e.get('category', '')} | {e['status']} | "
            f"{e.get('registered_model') or '–'} | {e.get('version') or '–'} | "
            f"{e.get('n_rated', '–')} | {e.get('min_rated', '–')} | {served} |"
        )
    table = "\n".join(rows)
    return f"""# Model card: {manifest.get("domains_model", {}).get("name", "divergence-utility-domains")}

Every domain's predictor in one directory (`divergence export --domains`): overall, each
arena category and occupational board. Load it without MLflow:

```python
from divergence import load_predictor
dp = load_predictor("models/divergence-utility-domains", targets="all")
dp.predict_models(["claude-opus-4-6"])          # predicted_<domain>, intervals, benchmark_implied_<domain>
```

A domain whose target had fewer rated models than the minimum (`min_rated` =
`min_train + n_test + inner_folds`) is never trained and never predicted (its columns are
empty); each served domain has its own model card in its directory.

| domain | category | status | registered model | version | rated models | minimum | directory |
|---|---|---|---|---|---|---|---|
{table}
"""


def export_domains(uri: str | None = None, out: str | Path | None = None) -> Path:
    """Export the multi-target predictor (every domain) below ``models/``.

    Layout: ``domains.json`` (the manifest), ``MODEL_CARD.md`` and one single-target export
    per served domain in ``<domain>/`` (:func:`export_model`'s layout).
    ``load_predictor(<dir>, targets="all")`` loads it without MLflow.

    Returns
    -------
    Path
        The export directory (default ``models/divergence-utility-domains``).
    """
    from divergence.domains import DOMAINS_MODEL, MANIFEST, load_domain_predictor

    if out is not None:
        export_target(DOMAINS_MODEL, out)  # refuse a bad --out before loading anything
    dp = load_domain_predictor(uri)
    for d in dp.predictors:
        check_model_name(d, f"{MANIFEST}: domain")
    target = export_target(DOMAINS_MODEL, out)
    with atomic_dir(target) as tmp:
        for d, pred in dp.predictors.items():
            _write_predictor(pred, tmp / d)
        (tmp / MANIFEST).write_text(json.dumps(dp.manifest, indent=1, sort_keys=True))
        (tmp / "MODEL_CARD.md").write_text(domains_card(dp.manifest))
        (tmp / "input_columns.json").write_text(json.dumps(dp.input_columns, indent=1))
    return target
