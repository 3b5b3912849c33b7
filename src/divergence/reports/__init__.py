"""The divergence report: PNG figures, one self-contained HTML page, MLflow artifacts.

:func:`write_report` runs :func:`divergence.analysis.analyse` on a loaded snapshot and
writes, atomically (a failure leaves the previous report untouched), into ``out_dir``:

- ``report.html``: table of contents and sections in reading order, figures embedded as
  base64 PNG, long tables collapsed and linked as CSV; the sentences are generated from the
  computed numbers (:mod:`~divergence.reports.sentences`);
- ``*.png``: the figures (:mod:`~divergence.reports.figures`);
- ``findings.json``: the headline numbers with their intervals and n;
- ``headline.md``: the sentences (the README block, :mod:`~divergence.reports.readme`);
- ``inputs.json``: the input key (snapshot content hash, champion digest, code hash,
  bootstrap settings); when it matches the existing report, the report is not rebuilt;
- ``tables/*.csv``: the full tables behind the figures.

``out_dir`` is replaced as a whole, so it must be absent, empty, or a previous report
(holding ``findings.json`` and ``report.html``); anything else is refused.

With ``log_to_mlflow``, the files are logged as artifacts under ``report/`` and the
numeric findings as metrics ``report.<path>`` to the active MLflow run, or to a new run
of experiment ``divergence-report`` in the current tracking URI when none is active.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from divergence.analysis import Analysis, analyse
from divergence.analysis.champion import Champion, load_champion
from divergence.atomic import atomic_dir
from divergence.errors import DivergenceError
from divergence.reports.figures import FIGURES
from divergence.reports.html import render_html
from divergence.reports.readme import README_END, README_FIGURES, README_START, update_readme
from divergence.reports.sentences import fmt_ci, headline_sentences, short

__all__ = [
    "FIGURES",
    "README_END",
    "README_FIGURES",
    "README_START",
    "fmt_ci",
    "headline_sentences",
    "input_key",
    "log_to_mlflow_run",
    "render_html",
    "render_report",
    "short",
    "update_readme",
    "write_files",
    "write_report",
]

MARKERS = ("findings.json", "report.html")
EXPERIMENT = "divergence-report"


def jsonable(x: Any) -> Any:
    """Strict-JSON version of ``x`` (NaN/inf -> None, numpy scalars -> Python)."""
    if isinstance(x, dict):
        return {str(k): jsonable(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [jsonable(v) for v in x]
    if isinstance(x, np.generic):
        x = x.item()
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, pd.Timestamp):
        return str(x.date())
    return x


def flatten_metrics(findings: dict[str, Any], prefix: str = "report") -> dict[str, float]:
    """Numeric leaves of ``findings`` as MLflow metric names (``report.a.b``), finite only."""
    out: dict[str, float] = {}

    def walk(obj: Any, path: str) -> None:
        if isinstance(obj, dict):
            for k, v in obj.items():
                walk(v, f"{path}.{re.sub(r'[^A-Za-z0-9_.-]+', '_', str(k))}")
        elif isinstance(obj, bool):
            return
        elif isinstance(obj, int | float | np.integer | np.floating) and math.isfinite(float(obj)):
            out[path[:250]] = float(obj)

    walk(findings, prefix)
    return out


def _check_out_dir(out_dir: Path) -> None:
    if out_dir.exists():
        if not out_dir.is_dir():
            raise DivergenceError(f"{out_dir}: report output exists and is not a directory")
        entries = [p.name for p in out_dir.iterdir()]
        if entries and not all((out_dir / m).exists() for m in MARKERS):
            raise DivergenceError(
                f"{out_dir}: not empty and not a previous divergence report; "
                "refusing to replace it (choose another --out)"
            )


def _code_hash() -> str:
    h = hashlib.sha256()
    root = Path(__file__).resolve().parents[1]
    for sub in ["analysis", "reports"]:
        for p in sorted((root / sub).glob("*.py")):
            h.update(p.name.encode())
            h.update(p.read_bytes())
    for name in ["model.py", "targets.py", "features/build.py", "features/spec.py"]:
        p = root / name
        if p.exists():
            h.update(p.read_bytes())
    return h.hexdigest()


def _tables_hash(tables: dict[str, pd.DataFrame]) -> str:
    h = hashlib.sha256()
    for name in sorted(tables):
        t = tables[name]
        if isinstance(t, pd.DataFrame):
            h.update(name.encode())
            h.update(",".join(map(str, t.columns)).encode())
            h.update(pd.util.hash_pandas_object(t, index=False).to_numpy().tobytes())
    return h.hexdigest()


def input_key(
    tables: dict[str, pd.DataFrame],
    champion: Champion,
    n_boot: int,
    seed: int,
    domains_sha256: str | None = None,
) -> dict[str, Any]:
    """What the report depends on: snapshot content, champion model, code, bootstrap
    settings, and the domain manifest of the per-domain predictor (None: none found)."""
    return {
        "snapshot_sha256": _tables_hash(tables),
        "model_sha256": champion.digest,
        "model_source": champion.source,
        "code_sha256": _code_hash(),
        "n_boot": int(n_boot),
        "seed": int(seed),
        "domains_sha256": domains_sha256,
    }


def write_files(
    a: Analysis,
    tmp: Path,
    key: dict[str, Any] | None = None,
    tables_in: dict[str, pd.DataFrame] | None = None,
    domain_predictor: Any = None,
) -> dict[str, Any]:
    """Write figures, HTML, findings and tables into ``tmp``; return relative names.

    With ``tables_in`` (the snapshot) and a ``domain_predictor``, the domain profile
    (:mod:`divergence.reports.domains`) goes to ``tmp/domains/`` and into the HTML.
    """
    from divergence.reports.domains import section_html, write_domain_files
    from divergence.reports.html import img, table

    figs: dict[str, Path] = {}
    for name, fn in FIGURES:
        figs[name] = fn(a, tmp / name)
    dom = write_domain_files(domain_predictor, tables_in, tmp) if tables_in is not None else {}
    domains_html = section_html(dom, domain_predictor, img, table)
    tables = tmp / "tables"
    tables.mkdir()
    frames = {
        "divergence": a.divergence.reset_index(),
        "divergence_drift": a.drift,
        "domain_divergence": a.domain_divergence.reset_index(),
        "open_closed_by_domain": a.open_closed,
        "frontier": a.frontier,
        "frontier_summary": a.frontier_summary,
        "calibration": a.calibration,
        "reliability": a.reliability,
        "reliability_panel": a.reliability_panel,
        "reliability_changes": a.reliability_changes,
        "claimed_pairs": a.claimed,
        "claimed_by_org": a.claimed_by_org,
        "claimed_by_benchmark": a.claimed_by_benchmark,
        "sensitivity": a.sensitivity,
    }
    for name, df in frames.items():
        df.to_csv(tables / f"{name}.csv", index=False, float_format="%.6g", lineterminator="\n")
    (tmp / "findings.json").write_text(
        json.dumps(jsonable(a.findings), indent=1, sort_keys=True, allow_nan=False) + "\n"
    )
    status = (
        f"Inputs: snapshot {key['snapshot_sha256'][:12]}, model {key['model_sha256'][:12]}, "
        f"code {key['code_sha256'][:12]}; rebuilt only when one of them changes."
        if key
        else ""
    )
    (tmp / "report.html").write_text(render_html(a, figs, status, domains_html), encoding="utf-8")
    (tmp / "headline.md").write_text(
        "".join(f"- {line}\n" for line in headline_sentences(a)), encoding="utf-8"
    )
    if key:
        (tmp / "inputs.json").write_text(json.dumps(key, indent=1, sort_keys=True) + "\n")
    names = [*figs, *(f"domains/{p.name}" for k, p in dom.get("paths", {}).items() if "png" in k)]
    tables_out = [f"tables/{n}.csv" for n in frames]
    tables_out += [f"domains/{p.name}" for k, p in dom.get("paths", {}).items() if "csv" in k]
    return {"figures": names, "tables": tables_out}


def log_to_mlflow_run(out_dir: Path, findings: dict[str, Any]) -> str:
    """Log the report directory and numeric findings to MLflow; return the run id."""
    import mlflow

    from divergence.config import default_tracking_uri

    run = mlflow.active_run()
    ctx: contextlib.AbstractContextManager
    if run is None:
        if not mlflow.tracking.is_tracking_uri_set():
            mlflow.set_tracking_uri(default_tracking_uri())
        if not os.environ.get("MLFLOW_EXPERIMENT_ID") and not os.environ.get("MLFLOW_RUN_ID"):
            mlflow.set_experiment(EXPERIMENT)
        ctx = mlflow.start_run(run_name="divergence-report")
    else:
        ctx = contextlib.nullcontext(run)
    with ctx as active:
        mlflow.log_artifacts(str(out_dir), artifact_path="report")
        items = sorted(flatten_metrics(findings).items())
        for i in range(0, len(items), 500):  # stay under the tracking store's batch limit
            mlflow.log_metrics(dict(items[i : i + 500]))
        return active.info.run_id


def _result(out_dir: Path, findings: dict[str, Any], names: dict[str, Any]) -> dict[str, Any]:
    return {
        "html": out_dir / "report.html",
        "figures": [out_dir / n for n in names["figures"]],
        "findings": findings,
        "findings_json": out_dir / "findings.json",
        "tables": [out_dir / n for n in names["tables"]],
        "dir": out_dir,
        "run_id": None,
        "rebuilt": True,
    }


def render_report(
    a: Analysis,
    out_dir: str | Path,
    log_to_mlflow: bool = True,
    key: dict[str, Any] | None = None,
    tables: dict[str, pd.DataFrame] | None = None,
    domain_predictor: Any = None,
) -> dict[str, Any]:
    """Write an analysed report to ``out_dir`` atomically (and log it to MLflow).

    ``tables`` and ``domain_predictor``: see :func:`write_files`.

    Returns
    -------
    dict
        ``html`` (Path), ``figures`` (list of Path), ``findings`` (dict), ``findings_json``,
        ``tables`` (list of Path), ``dir`` (Path), ``run_id`` (str or None), ``rebuilt``.
    """
    out_dir = Path(out_dir)
    _check_out_dir(out_dir)
    with atomic_dir(out_dir) as tmp:
        kw = {"tables_in": tables, "domain_predictor": domain_predictor} if tables else {}
        names = write_files(a, tmp, key, **kw) if key else write_files(a, tmp, **kw)
    result = _result(out_dir, jsonable(a.findings), names)
    if log_to_mlflow:
        result["run_id"] = log_to_mlflow_run(out_dir, result["findings"])
    return result


def _up_to_date(out_dir: Path, key: dict[str, Any]) -> bool:
    try:
        old = json.loads((out_dir / "inputs.json").read_text())
    except (OSError, ValueError):
        return False
    return old == key and all((out_dir / m).is_file() for m in [*MARKERS, "headline.md"])


def write_report(
    tables: dict[str, pd.DataFrame],
    out_dir: str | Path,
    log_to_mlflow: bool = True,
    n_boot: int = 1000,
    seed: int = 0,
    champion: Champion | None = None,
    force: bool = False,
) -> dict[str, Any]:
    """Analyse a snapshot and write the divergence report, unless it is up to date.

    Parameters
    ----------
    tables : dict of DataFrame
        :func:`divergence.snapshot.load_snapshot` output.
    out_dir : path
        Report directory (replaced atomically; must be absent, empty or a previous report).
    log_to_mlflow : bool
        Log the files and numeric findings to the active MLflow run (or a new run of
        experiment ``divergence-report`` in the current tracking URI).
    n_boot, seed : int
        Bootstrap replicates and seed of every interval.
    champion : Champion, optional
        Tuned parameters and metrics (default: the shipped champion's card).
    force : bool
        Rebuild even when ``inputs.json`` matches the current inputs.

    Returns
    -------
    dict
        See :func:`render_report`; ``rebuilt`` is False when the existing report was kept.

    Raises
    ------
    DivergenceError
        On unusable input (e.g. an empty ratings table) or an unsafe ``out_dir``.
    """
    out_dir = Path(out_dir)
    _check_out_dir(out_dir)
    from divergence.analysis.common import check_tables

    check_tables(tables)
    champ = champion or load_champion()
    from divergence.reports.domains import find_domain_predictor, manifest_digest

    dp = find_domain_predictor()
    key = input_key(tables, champ, n_boot, seed, manifest_digest(dp))
    if not force and _up_to_date(out_dir, key):
        findings = json.loads((out_dir / "findings.json").read_text())
        names = {
            "figures": [n for n, _ in FIGURES if (out_dir / n).exists()],
            "tables": sorted(f"tables/{p.name}" for p in (out_dir / "tables").glob("*.csv")),
        }
        result = _result(out_dir, findings, names)
        result["rebuilt"] = False
        if log_to_mlflow:
            result["run_id"] = log_to_mlflow_run(out_dir, findings)
        return result
    a = analyse(tables, n_boot=n_boot, seed=seed, champion=champ)
    return render_report(
        a, out_dir, log_to_mlflow=log_to_mlflow, key=key, tables=tables, domain_predictor=dp
    )
