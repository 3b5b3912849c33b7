"""Stage ``report`` (run by the ``main`` entry point): the divergence report.

:func:`report` writes the report (a :class:`ReportResult`; kept as is when its inputs did
not change); :func:`step` runs it inside a nested ``report`` run and logs the files under
``report/`` and its numbers as one table ``report_findings.json`` (not as metrics);
:func:`load` reads the result back from a finished run.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from divergence.config import project_root
from divergence.stages.shell import load_result, log_table, note, rename_run, save_result, set_stage


@dataclass
class ReportResult:
    """A written report.

    Attributes
    ----------
    directory : str
        Where the report's files are.
    findings : list of (str, float)
        Every finite number of ``findings.json``, by dotted path.
    headline : str
        The report's headline paragraph (Markdown), or "".
    rebuilt : bool
        False when an up-to-date report was kept.
    details : dict
        What :func:`divergence.reports.write_report` returned (empty when loaded).
    """

    directory: str
    findings: list[tuple[str, float]]
    headline: str
    rebuilt: bool
    details: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def title(self) -> str:
        """Run name: what the run did."""
        what = "rebuilt" if self.rebuilt else "up to date, kept"
        return f"report: {len(self.findings)} findings ({what})"


def _flatten(obj: Any, path: str = "") -> list[tuple[str, Any]]:
    """``(dotted path, scalar)`` pairs of a nested JSON-like object."""
    if isinstance(obj, dict):
        return [kv for k, v in obj.items() for kv in _flatten(v, f"{path}.{k}" if path else str(k))]
    if isinstance(obj, (list, tuple)):
        return [kv for i, v in enumerate(obj) for kv in _flatten(v, f"{path}.{i}")]
    return [(path, obj)]


def report(tables: dict[str, pd.DataFrame], out_dir: Path | None = None) -> ReportResult:
    """Write the divergence report to ``out_dir`` (default ``reports/``; no MLflow)."""
    from divergence.reports import write_report

    out_dir = Path(out_dir) if out_dir else project_root() / "reports"
    res = write_report(tables, out_dir, log_to_mlflow=False)
    d = Path(res.get("dir", out_dir))
    findings = res.get("findings")
    if findings is None and (d / "findings.json").is_file():
        findings = json.loads((d / "findings.json").read_text())
    rows = [
        (k, float(v))
        for k, v in _flatten(findings or {})
        if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
    ]
    head = (d / "headline.md").read_text(encoding="utf-8") if (d / "headline.md").is_file() else ""
    return ReportResult(str(d), rows, head, bool(res.get("rebuilt", True)), res)


def log(res: ReportResult) -> None:
    """Log a result on the active ``report`` run: files, findings table, note, name."""
    import mlflow

    mlflow.log_artifacts(res.directory, artifact_path="report")
    if res.findings:
        log_table(pd.DataFrame(res.findings, columns=["finding", "value"]), "report_findings.json")
    save_result({}, {k: v for k, v in vars(res).items() if k != "details"})
    note(
        f"**Divergence report** ({len(res.findings)} numbers in `report_findings.json`; HTML at "
        f"`report/report.html`).\n\n{res.headline}"
    )
    rename_run(res.title())


def step(tables: dict[str, pd.DataFrame], out_dir: Path | None = None) -> ReportResult:
    """Write the report under a nested ``report`` run and log it."""
    import mlflow

    with mlflow.start_run(run_name="report", nested=True) as run:
        set_stage("report")
        res = report(tables, out_dir)
        log(res)
        res.details["run_id"] = run.info.run_id
    return res


def load(run_id: str) -> ReportResult:
    """The :class:`ReportResult` of a finished ``report`` run."""
    _, values = load_result(run_id, "report")
    values["findings"] = [tuple(x) for x in values["findings"]]
    return ReportResult(**values)
