"""Paths and defaults shared by every step."""

from __future__ import annotations

import os
import re
from pathlib import Path

# Registered-model and experiment names: also directory names under ``models/``.
REGISTRY_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


def valid_name(name: object) -> bool:
    """Whether ``name`` is a registry name (letters, digits, ``._-``; no path parts)."""
    return isinstance(name, str) and bool(REGISTRY_NAME.fullmatch(name)) and ".." not in name


PACKAGE_DIR = Path(__file__).resolve().parent
# Repository root when running from a checkout (src layout); None when installed elsewhere.
_candidate = PACKAGE_DIR.parents[1]
REPO_ROOT: Path | None = _candidate if (_candidate / "pyproject.toml").exists() else None


def project_root() -> Path:
    """Directory holding ``data/``, ``experiments/``, ``features/`` (checkout or CWD)."""
    env = os.environ.get("DIVERGENCE_HOME")
    if env:
        return Path(env)
    return REPO_ROOT if REPO_ROOT is not None else Path.cwd()


def default_snapshot_dir() -> Path:
    """Snapshot directory: ``$DIVERGENCE_SNAPSHOT`` or ``<project>/data/snapshot``."""
    env = os.environ.get("DIVERGENCE_SNAPSHOT")
    return Path(env) if env else project_root() / "data" / "snapshot"


def default_raw_dir() -> Path:
    """Raw public data: ``$DIVERGENCE_RAW`` or ``<project>/../shared/data/raw``."""
    env = os.environ.get("DIVERGENCE_RAW")
    return Path(env) if env else project_root().parent / "shared" / "data" / "raw"


def default_tracking_uri() -> str:
    """``$MLFLOW_TRACKING_URI`` or a SQLite store in the project root."""
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{project_root() / 'mlflow.db'}"
