"""Recovery from killed processes: stale temporary folders and MLflow runs left RUNNING.

Every temporary folder or file written by :mod:`divergence.atomic` and every top-level
MLflow run carries the host name and process id of its writer (plus the process start
time for runs). A later process on the same host removes the folder, or marks the run
``KILLED``, once that process is gone, or the pid now belongs to a process started after
the writer (pid reuse). Entries from another host are never touched: their process
cannot be checked from here.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import time
from pathlib import Path
from typing import Any

from divergence.progress import log

TAG_HOST = "divergence.host"
TAG_PID = "divergence.pid"
TAG_PID_START = "divergence.pid_start"
DEFAULT_EXPERIMENT_ID = "0"
# Temporary names written before host/pid tags existed are removed once this old (s).
LEGACY_TMP_AGE_S = 6 * 3600


def host() -> str:
    """This machine's name, restricted to ``[A-Za-z0-9.]`` (safe inside file names)."""
    return re.sub(r"[^A-Za-z0-9.]", "_", socket.gethostname() or "localhost")


def process_start(pid: int) -> float | None:
    """Start time of process ``pid`` (epoch seconds), or None where it cannot be read."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        ticks = int(stat.rsplit(")", 1)[1].split()[19])
        for line in Path("/proc/stat").read_text().splitlines():
            if line.startswith("btime "):
                return int(line.split()[1]) + ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None
    return None


def process_alive(pid: int, started_before: float | None = None) -> bool:
    """Whether process ``pid`` on this host exists (and, if given, started by that time).

    A live pid whose process started after ``started_before`` (plus a second of slack)
    is a different process that reused the number: reported as not alive.
    """
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        pass
    except OSError:
        return True
    if started_before is not None:
        start = process_start(pid)
        if start is not None and start > started_before + 1.0:
            return False
    return True


def tmp_tag() -> str:
    """``<host>-<pid>`` as embedded in temporary names."""
    return f"{host()}-{os.getpid()}"


_TAGGED = re.compile(r"\.tmp-(?P<host>[A-Za-z0-9._]+)-(?P<pid>\d+)-[A-Za-z0-9_]+$")
_OLD = re.compile(r"\.old-(?P<host>[A-Za-z0-9._]+)-(?P<pid>\d+)$")
_LEGACY = re.compile(r"\.(tmp-[A-Za-z0-9_]+|old-\d+)$")


def sweep_stale(target: str | Path) -> list[Path]:
    """Remove temporary siblings of ``target`` left by killed writers; returns them.

    Looks for ``.<name>.tmp-<host>-<pid>-*`` and ``.<name>.old-<host>-<pid>`` beside
    ``target`` whose writer (this host) is gone or whose pid was reused, and for untagged
    names of older versions (``.<name>.tmp-*``) older than :data:`LEGACY_TMP_AGE_S`.
    """
    target = Path(target)
    parent = target.parent
    prefix = f".{target.name}."
    removed: list[Path] = []
    try:
        entries = list(os.scandir(parent))
    except OSError:
        return removed
    me, now = host(), time.time()
    for e in entries:
        if not e.name.startswith(prefix):
            continue
        rest = e.name[len(target.name) + 1 :]
        try:
            st = e.stat(follow_symlinks=False)
        except OSError:
            continue
        m = _TAGGED.fullmatch(rest) or _OLD.fullmatch(rest)
        if m:
            if m["host"] != me or process_alive(int(m["pid"]), started_before=st.st_mtime):
                continue
        elif not _LEGACY.fullmatch(rest) or now - st.st_mtime < LEGACY_TMP_AGE_S:
            continue
        path = Path(e.path)
        if e.is_dir(follow_symlinks=False):
            shutil.rmtree(path, ignore_errors=True)
        else:
            try:
                path.unlink()
            except OSError:
                continue
        if not path.exists():
            removed.append(path)
    if removed:
        log(f"removed {len(removed)} stale temporary file(s) of killed writers beside {target}")
    return removed


def process_tags() -> dict[str, str]:
    """Tags identifying this process on a run (host, pid, process start time)."""
    start = process_start(os.getpid())
    return {
        TAG_HOST: host(),
        TAG_PID: str(os.getpid()),
        TAG_PID_START: f"{start:.0f}" if start is not None else "",
    }


def _stale(run, parents: dict) -> bool:
    """Whether a RUNNING run (or its nearest tagged ancestor) belongs to a dead process."""
    seen = set()
    r = run
    while r is not None and r.info.run_id not in seen:
        seen.add(r.info.run_id)
        tags = r.data.tags
        if TAG_PID in tags:
            if tags.get(TAG_HOST) != host():
                return False
            try:
                pid = int(tags[TAG_PID])
            except ValueError:
                return False
            started = r.info.start_time / 1000.0 if r.info.start_time else None
            return not process_alive(pid, started_before=started)
        r = parents.get(tags.get("mlflow.parentRunId"))
    return False


def mark_killed_runs(experiment_ids: list[str] | None = None) -> list[str]:
    """Mark RUNNING runs of dead processes on this host ``KILLED``; returns their ids.

    Call with an active run tagged by :func:`process_tags` (the run and its ancestors
    are skipped); by default the active run's experiment and "Default" (where ``mlflow
    run`` puts its launcher run) are searched. Nested runs (tune/evaluate/train, trials) are judged by their nearest
    ancestor carrying the tags. Runs of live processes, of other hosts, or without tags
    anywhere up their chain are left alone.
    """
    import mlflow
    from mlflow import MlflowClient

    active = mlflow.active_run()
    client = MlflowClient()
    if experiment_ids is None:
        if active is None:
            return []
        # "Default" too: the launcher run of an ``mlflow run`` without --experiment-name
        experiment_ids = list(dict.fromkeys([active.info.experiment_id, DEFAULT_EXPERIMENT_ID]))
    runs = client.search_runs(experiment_ids, "attributes.status = 'RUNNING'", max_results=5000)
    parents = {r.info.run_id: r for r in runs}
    mine: set[str] = set()
    r: Any = active
    while r is not None:
        mine.add(r.info.run_id)
        pid = r.data.tags.get("mlflow.parentRunId")
        r = parents.get(pid) if pid else None
    killed = []
    for run in runs:
        if run.info.run_id in mine or not _stale(run, parents):
            continue
        client.set_terminated(run.info.run_id, status="KILLED")
        client.set_tag(run.info.run_id, "divergence.recovered", "writer process gone")
        killed.append(run.info.run_id)
    if killed:
        log(f"marked {len(killed)} run(s) of killed processes KILLED")
    return killed


def finish_launcher(run_id: str, status: str) -> None:
    """Terminate an ``mlflow run`` launcher run with ``status`` unless already terminated.

    The launcher process does the same when its child exits; doing it here as well means
    a launcher killed after the pipeline's end still shows the pipeline's outcome.
    """
    from mlflow import MlflowClient
    from mlflow.entities import RunStatus

    client = MlflowClient()
    if not RunStatus.is_terminated(client.get_run(run_id).info.status):
        client.set_terminated(run_id, status=status)


def tag_and_recover() -> list[str]:
    """Tag the active run with this process, then mark runs of dead processes KILLED."""
    import mlflow

    mlflow.set_tags(process_tags())
    return mark_killed_runs()
