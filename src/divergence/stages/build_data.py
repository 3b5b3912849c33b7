"""Stage ``build_data`` (MLproject entry point ``build_data``): the snapshot from raw data.

:func:`build_data` builds ``data/snapshot`` (a :class:`BuildResult`); :func:`log` records
it on the run ``mlflow run -e build_data`` started (``MLFLOW_RUN_ID``): the snapshot hash
as tag, the table sizes as parameters, the manifest as artifact; ``divergence data build``
outside ``mlflow run`` touches no tracking store. :func:`load` reads it back.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from divergence.stages.shell import load_result, note, rename_run, save_result, set_stage


@dataclass
class BuildResult:
    """A built snapshot.

    Attributes
    ----------
    directory : str
        The snapshot directory.
    sha256 : str
        Its content hash (:func:`divergence.snapshot.snapshot_hash`).
    manifest : dict
        Its ``manifest.json`` (tables with rows and hashes, raw sources).
    """

    directory: str
    sha256: str
    manifest: dict[str, Any]

    @property
    def rows(self) -> dict[str, int]:
        """Rows per table."""
        return {k: int(t["rows"]) for k, t in self.manifest.get("tables", {}).items()}

    def title(self) -> str:
        """Run name: what the run did."""
        return f"build_data: snapshot {self.sha256[:12]}, {self.rows.get('models', 0)} models"


def build_data(
    raw: str | Path,
    out: str | Path,
    arena_until: str | None = None,
    exclude: list[str] | None = None,
) -> BuildResult:
    """Build the snapshot ``out`` from the raw tree ``raw`` (atomically; no MLflow)."""
    from divergence.dataset import build_snapshot
    from divergence.snapshot import snapshot_hash

    manifest = build_snapshot(raw, out, arena_until=arena_until, exclude=exclude)
    return BuildResult(str(out), snapshot_hash(Path(out)), manifest)


def log(res: BuildResult) -> None:
    """Record ``res`` on the ``mlflow run`` launcher run, if this process has one."""
    import os

    run_id = os.environ.get("MLFLOW_RUN_ID")
    if not run_id:
        return
    import mlflow

    from divergence.config import default_tracking_uri

    mlflow.set_tracking_uri(default_tracking_uri())
    with mlflow.start_run(run_id=run_id):
        set_stage("build_data")
        mlflow.set_tag("snapshot_sha256", res.sha256)
        mlflow.log_params({f"rows_{k}": v for k, v in res.rows.items()})
        save_result({}, vars(res))
        note(
            f"**Snapshot built** in `{res.directory}` (sha256 `{res.sha256[:16]}…`): "
            + ", ".join(f"{k} {v}" for k, v in res.rows.items())
            + "."
        )
        rename_run(res.title())


def load(run_id: str) -> BuildResult:
    """The :class:`BuildResult` of a finished ``build_data`` run."""
    _, values = load_result(run_id, "build_data")
    return BuildResult(**values)
