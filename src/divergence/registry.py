"""The model registry: names, the champion policy, alias lookups.

- :func:`experiment_name` / :func:`model_name`: where an experiment's runs and models go
  (``divergence/<experiment>``, ``divergence-utility[-<category>]``).
- :func:`model_directory`: the local predictor directory of a ``models:/`` URI. In a local
  SQLite store it is read with two indexed SQL lookups without importing MLflow
  (:func:`sqlite_registry_dir`, the fast cold load); anything else goes through MLflow.
- :func:`gate` and :func:`promote`: the champion policy. A new version takes the alias
  ``champion`` only if, on the walk-forward,

  1. the paired-bootstrap 95% CI of RMSE(ours) − RMSE(baseline) lies below 0 for every
     baseline;
  2. its Spearman is not worse than the best baseline's beyond that baseline's CI
     (ours ≥ the CI's lower end, and the paired CI of Spearman(ours) − Spearman(best)
     is not entirely below 0);
  3. it beats the current champion on the same walk-forward: paired RMSE difference
     (candidate − champion) below 0 on the test models both predicted with the same
     target. A champion whose walk-forward shares fewer than half of the candidate's
     test models (another snapshot) is not comparable; the candidate is then judged on
     1 and 2 alone, and the decision says so.

  The champion is re-read and the alias set under an exclusive lock on the SQLite store,
  so of two concurrent ``main`` runs the worse one cannot take the alias last.

Why not :func:`mlflow.validate_evaluation_results`: it compares point values of two
evaluation results against thresholds (``MetricThreshold``), with no interval, no paired
resampling and no way to say "below 0 with 95% confidence"; and ``mlflow.models.evaluate``
scores one model on one dataset, whereas each walk-forward prediction comes from its own
refit. The gate's numbers are on the version's tags (``gate.*``) and in its description.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from divergence.errors import DivergenceError, SourceError

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from divergence.experiment import Experiment

CHAMPION = "champion"
EXPERIMENT_PREFIX = "divergence/"
# MLflow 3 UI: experiments tagged with this kind open on "Training runs", not GenAI traces.
EXPERIMENT_KIND_TAG = "mlflow.experimentKind"
EXPERIMENT_KIND = "custom_model_development"
NOTE_TAG = "mlflow.note.content"
WALKFORWARD_ARTIFACT = "walkforward_ours.json"  # on the train run: what the gate pairs on
MIN_COMMON_SHARE = 0.5
_DESCRIPTION_MAX = 5000  # MLflow's SQL column size for (registered) model descriptions


def experiment_name(exp: Experiment | str) -> str:
    """MLflow experiment of an experiment config: ``divergence/<name>``."""
    return EXPERIMENT_PREFIX + (exp if isinstance(exp, str) else exp.name)


def model_name(exp: Experiment) -> str:
    """Registered model name: ``divergence-utility`` or ``divergence-utility-<category>``."""
    base = exp.registered_model
    if exp.category == "full" and exp.board == "style":
        return base
    suffix = exp.category if exp.board == "style" else f"{exp.category}-raw"
    return f"{base}-{suffix}".replace("_", "-")


# ---------------------------------------------------------------------------- store lock
def _sqlite_path(uri: str) -> Path | None:
    if not uri.startswith("sqlite:///"):
        return None
    return Path(uri.removeprefix("sqlite:///").split("?", 1)[0]).resolve()


@contextlib.contextmanager
def store_lock(uri: str) -> Iterator[None]:
    """Exclusive inter-process lock on a SQLite store (no-op for other stores).

    An ``flock`` on ``.<database name>.lock`` beside the database (the same file the
    first-access schema lock uses), so it lives and goes with the store instead of piling
    up in the temp directory; where that directory cannot take the file (read-only, not
    yet created) the lock falls back to one file per database in the temp directory.
    Other stores (PostgreSQL) get no lock: there the champion check-and-set re-reads the
    alias just before setting it, which narrows but does not close the race.
    """
    db = _sqlite_path(uri)
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: run one process at a time
        db = None
    if db is None:
        yield
        return
    try:
        fh = open(db.parent / f".{db.name}.lock", "a")  # noqa: SIM115 (closed below)
    except OSError:
        key = hashlib.sha256(str(db).encode()).hexdigest()[:16]
        fh = open(Path(tempfile.gettempdir()) / f"divergence-mlflow-{key}.lock", "a")  # noqa: SIM115
    with fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


LEGACY_LOCK_AGE_S = 24 * 3600


def sweep_temp_locks(max_age_s: float = LEGACY_LOCK_AGE_S) -> list[Path]:
    """Remove ``divergence-mlflow-*.lock`` files from the temp directory; returns them.

    Earlier versions kept one lock file per store there, and they piled up. A file is
    removed only if older than ``max_age_s`` and not locked now (taken without waiting,
    removed while held, so no process can be inside it).
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        return []
    removed: list[Path] = []
    now = time.time()
    for path in Path(tempfile.gettempdir()).glob("divergence-mlflow-*.lock"):
        try:
            if now - path.stat().st_mtime < max_age_s:
                continue
            with open(path, "a") as fh:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                path.unlink()
            removed.append(path)
        except OSError:  # locked, gone, or not ours
            continue
    return removed


# ---------------------------------------------------------------------------- lookups
def sqlite_registry_dir(uri: str, tracking_uri: str, marker: str = "main.json") -> Path | None:
    """Artifact directory of a ``models:/`` URI read straight from a local SQLite registry.

    Importing MLflow takes seconds; for the common case (SQLite tracking store, artifacts
    on the local disk) the registry is two indexed lookups. Anything unexpected (another
    store, remote artifacts, an unknown schema, a missing alias or version, no file
    ``marker`` in the directory) returns None and the caller goes through MLflow, which
    also produces the proper error message. ``marker``: ``main.json`` for a predictor,
    ``domains.json`` for the per-domain manifest.
    """
    prefix = "sqlite:///"
    if not tracking_uri.startswith(prefix) or "?" in tracking_uri or not uri.startswith("models:/"):
        return None
    db = Path(tracking_uri[len(prefix) :])
    spec = uri[len("models:/") :]
    if "@" in spec:
        name, alias = spec.split("@", 1)
        version: str | None = None
    elif spec.count("/") == 1:
        name, version = spec.split("/")
        alias = None
        if not version.isdigit():
            return None
    else:
        return None
    registry = os.environ.get("MLFLOW_REGISTRY_URI")
    if (
        not db.is_file()
        or not name
        or (registry and registry != tracking_uri)
        or os.environ.get("MLFLOW_WORKSPACE")
    ):
        return None
    import sqlite3

    try:
        con = sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True)
        try:
            if alias is not None:
                hits = con.execute(
                    "SELECT version FROM registered_model_aliases WHERE name = ? AND alias = ?",
                    (name, alias),
                ).fetchall()
                if len(hits) != 1:
                    return None
                version = str(hits[0][0])
            rows = con.execute(
                "SELECT storage_location, status FROM model_versions WHERE name = ? AND version = ?",
                (name, int(str(version))),
            ).fetchall()
        finally:
            con.close()
    except (sqlite3.Error, ValueError):
        return None
    if len(rows) != 1 or rows[0][1] != "READY" or not rows[0][0]:
        return None
    location = str(rows[0][0])
    if location.startswith("file://"):
        from urllib.parse import unquote, urlparse

        parsed = urlparse(location)
        if parsed.netloc not in ("", "localhost"):
            return None
        location = unquote(parsed.path)
    elif "://" in location or location.startswith(("models:", "runs:")):
        return None
    art = Path(location) / "artifacts"
    return art if (art / marker).is_file() else None


def download_model_artifacts(uri: str, tracking_uri: str, hint: str = "") -> Path:
    """``<local copy>/artifacts`` of a ``models:/`` URI, downloaded through MLflow.

    Raises
    ------
    DivergenceError
        Unknown model, version or alias, or an unreachable store (``hint`` appended).
    """
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    import mlflow

    mlflow.set_tracking_uri(tracking_uri)
    try:
        local = mlflow.artifacts.download_artifacts(artifact_uri=uri)
    except Exception as exc:  # mlflow raises several types for a missing model/alias
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DivergenceError(f"{uri}: cannot load from {tracking_uri}: {msg}{hint}") from None
    return Path(local) / "artifacts"


def model_directory(uri: str, tracking_uri: str) -> Path:
    """Local directory of the predictor files of a ``models:/`` URI.

    The fast path (:func:`sqlite_registry_dir`) first; otherwise MLflow downloads the
    model's artifacts (no progress bar).

    Raises
    ------
    DivergenceError
        Unknown model, version or alias, or an unreachable store.
    SourceError
        The model is not a divergence model (no ``artifacts/`` directory).
    """
    local_dir = sqlite_registry_dir(str(uri), tracking_uri)
    if local_dir is not None:
        return local_dir
    art = download_model_artifacts(str(uri), tracking_uri)
    if not art.is_dir():
        raise SourceError(art.parent, "not a divergence model (no artifacts/ directory)")
    return art


def newest_version(client: Any, name: str) -> str | None:
    """Highest version number of a registered model, or None (no such model)."""
    try:
        versions = client.search_model_versions(f"name = '{name}'")
    except Exception:  # no such model
        return None
    return str(max(int(v.version) for v in versions)) if versions else None


def serving_directory(name: str, tracking_uri: str) -> tuple[Path, str, bool]:
    """Predictor files of ``@champion``, else of the newest version (not promoted).

    Returns
    -------
    (directory, uri, promoted)

    Raises
    ------
    DivergenceError
        No such registered model (or an unreachable store).
    """
    uri = f"models:/{name}@{CHAMPION}"
    try:
        return model_directory(uri, tracking_uri), uri, True
    except DivergenceError as exc:
        if "alias" not in str(exc).lower():
            raise
        from mlflow import MlflowClient

        newest = newest_version(MlflowClient(tracking_uri=tracking_uri), name)
        if newest is None:
            raise
    uri = f"models:/{name}/{newest}"
    return model_directory(uri, tracking_uri), uri, False


def champion_version(client: Any, name: str) -> str | None:
    """Version number holding alias ``champion``, or None (no model or no alias)."""
    from mlflow.exceptions import MlflowException

    try:
        return str(client.get_model_version_by_alias(name, CHAMPION).version)
    except MlflowException:
        return None


# ---------------------------------------------------------------------------- the gate
@dataclass(frozen=True)
class Check:
    """One test of the gate: an estimate with its 95% CI and whether it passed."""

    name: str
    passed: bool
    value: float
    ci_lo: float
    ci_hi: float
    text: str

    def tag(self) -> str:
        """Short form for a model-version tag."""
        return f"{'pass' if self.passed else 'fail'}: {self.text}"


@dataclass
class GateResult:
    """The champion decision and every check behind it."""

    promote: bool
    reason: str
    checks: list[Check] = field(default_factory=list)
    champion_before: str | None = None

    @property
    def beats_baselines(self) -> bool:
        """Whether every RMSE-vs-baseline check passed."""
        rm = [c for c in self.checks if c.name.startswith("rmse_vs_")]
        return bool(rm) and all(c.passed for c in rm)

    def markdown(self) -> str:
        """The decision and its checks as a Markdown section."""
        head = "promoted to @champion" if self.promote else "not promoted"
        lines = [f"**Gate: {head}.** {self.reason}", "", "| check | result |", "|---|---|"]
        lines += [f"| {c.name} | {c.tag()} |" for c in self.checks]
        return "\n".join(lines) + "\n"


def _fmt(v: float, lo: float, hi: float) -> str:
    return f"{v:+.2f} [{lo:+.2f}, {hi:+.2f}]"


def _ours_and_others(wf: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """Walk-forward predictions wide (one column per method, rows = test models)."""
    for col in ("model_id", "method", "y", "pred"):
        if col not in wf.columns:
            raise DivergenceError(f"walk-forward predictions: column {col!r} missing")
    wide = wf.pivot_table(index="model_id", columns="method", values="pred", aggfunc="first")
    y = wf.groupby("model_id")["y"].first()
    wide.insert(0, "_y", y.reindex(wide.index))
    if "ours" not in wide.columns:
        raise DivergenceError("walk-forward predictions: no rows for method 'ours'")
    return wide, sorted(c for c in wide.columns if str(c).startswith("baseline_"))


def _rank_rows(a: Any) -> Any:
    from scipy.stats import rankdata

    return rankdata(a, axis=1)


def _spearman_rows(y: Any, p: Any) -> Any:
    """Spearman correlation of each row pair (rows = bootstrap resamples)."""
    import numpy as np

    ry, rp = _rank_rows(y), _rank_rows(p)
    ry = ry - ry.mean(axis=1, keepdims=True)
    rp = rp - rp.mean(axis=1, keepdims=True)
    den = np.sqrt((ry**2).sum(axis=1) * (rp**2).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return (ry * rp).sum(axis=1) / den


def baseline_checks(wf: pd.DataFrame, n_boot: int = 2000, seed: int = 0) -> list[Check]:
    """Checks 1 and 2 of the policy (see the module docstring) on walk-forward predictions.

    Parameters
    ----------
    wf : DataFrame
        Long predictions: ``model_id``, ``method`` (``ours``, ``baseline_<name>``, ...),
        ``y``, ``pred``.
    n_boot, seed : int
        Paired bootstrap resamples (the same test models for every method) and seed.

    Returns
    -------
    list of Check
        ``rmse_vs_<baseline>`` per baseline, then ``spearman_vs_<best baseline>``.
    """
    import numpy as np

    from divergence.evaluation import paired_difference

    wide, baselines = _ours_and_others(wf)
    checks: list[Check] = []
    for b in baselines:
        g = wide[["_y", "ours", b]].dropna()
        d = paired_difference(g["_y"], g["ours"], g[b], n_boot=n_boot, seed=seed).loc["rmse"]
        v, lo, hi = float(d.at["value"]), float(d["ci_lo"]), float(d["ci_hi"])  # type: ignore[arg-type]
        ok = bool(hi < 0)
        checks.append(
            Check(
                f"rmse_vs_{b.removeprefix('baseline_')}",
                ok,
                v,
                lo,
                hi,
                f"RMSE ours − {b.removeprefix('baseline_')} {_fmt(v, lo, hi)}"
                + (" (CI below 0)" if ok else " (CI not below 0)"),
            )
        )
    if not baselines:
        return checks
    from scipy.stats import spearmanr

    g = wide.dropna(subset=["_y", "ours", *baselines])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a constant baseline (the mean) has no Spearman
        rho = {m: float(spearmanr(g["_y"], g[m]).statistic) for m in ["ours", *baselines]}
    best = max(baselines, key=lambda m: -np.inf if np.isnan(rho[m]) else rho[m])
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(g), size=(n_boot, len(g)))
    y = g["_y"].to_numpy()[idx]
    s_ours = _spearman_rows(y, g["ours"].to_numpy()[idx])
    s_best = _spearman_rows(y, g[best].to_numpy()[idx])
    b_lo, b_hi = np.nanpercentile(s_best, [2.5, 97.5])
    d_lo, d_hi = np.nanpercentile(s_ours - s_best, [2.5, 97.5])
    ok = bool(rho["ours"] >= b_lo and d_hi >= 0)
    name = best.removeprefix("baseline_")
    checks.append(
        Check(
            f"spearman_vs_{name}",
            ok,
            rho["ours"] - rho[best],
            float(d_lo),
            float(d_hi),
            f"Spearman ours {rho['ours']:.3f} vs best baseline {name} {rho[best]:.3f} "
            f"[{b_lo:.3f}, {b_hi:.3f}]; paired ours − {name} "
            f"{_fmt(rho['ours'] - rho[best], float(d_lo), float(d_hi))}"
            + ("" if ok else " (worse beyond the CI)"),
        )
    )
    return checks


def champion_check(
    candidate: pd.DataFrame, champion: pd.DataFrame | None, n_boot: int = 2000, seed: int = 0
) -> Check | None:
    """Check 3: paired RMSE difference candidate − champion on their common test models.

    Both frames hold ``model_id``, ``y``, ``pred`` (the ``ours`` walk-forward rows). Returns
    None when the champion's walk-forward is not comparable (fewer than
    :data:`MIN_COMMON_SHARE` of the candidate's test models with the same target).
    """
    import numpy as np

    from divergence.evaluation import paired_difference

    if champion is None or champion.empty:
        return None
    a = candidate.set_index("model_id")[["y", "pred"]].dropna()
    b = champion.set_index("model_id")[["y", "pred"]].dropna()
    common = a.index.intersection(b.index)
    same = common[np.isclose(a.loc[common, "y"], b.loc[common, "y"], rtol=0, atol=1e-6)]
    if len(same) < max(2, MIN_COMMON_SHARE * len(a)):
        return None
    d = paired_difference(
        a.loc[same, "y"], a.loc[same, "pred"], b.loc[same, "pred"], n_boot=n_boot, seed=seed
    ).loc["rmse"]
    v, lo, hi = float(d.at["value"]), float(d["ci_lo"]), float(d["ci_hi"])  # type: ignore[arg-type]
    ok = bool(v < 0)
    return Check(
        "vs_champion",
        ok,
        v,
        lo,
        hi,
        f"RMSE candidate − champion {_fmt(v, lo, hi)} on {len(same)} common test models"
        + ("" if ok else " (not better)"),
    )


def gate(checks: list[Check], champion: Check | None, champion_before: str | None) -> GateResult:
    """Combine the checks into the decision (see the module docstring)."""
    all_checks = list(checks) + ([champion] if champion is not None else [])
    failed = [c.name for c in all_checks if not c.passed]
    if not checks:
        return GateResult(False, "no baseline to compare with", all_checks, champion_before)
    if champion_before is None:
        ctx = "no current champion"
    elif champion is None:
        ctx = (
            f"champion v{champion_before} not comparable (another walk-forward test set): "
            "judged on the baselines alone"
        )
    else:
        ctx = f"compared with champion v{champion_before} on the same walk-forward"
    if failed:
        return GateResult(False, f"failed {', '.join(failed)}; {ctx}", all_checks, champion_before)
    return GateResult(
        True,
        f"beats every baseline (paired RMSE CI below 0), Spearman not worse; {ctx}",
        all_checks,
        champion_before,
    )


def _load_walkforward(client: Any, version: Any) -> pd.DataFrame | None:
    """The ``ours`` walk-forward a version's train run logged, or None."""
    import pandas as pd

    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    try:
        with tempfile.TemporaryDirectory() as td:
            path = client.download_artifacts(version.run_id, WALKFORWARD_ARTIFACT, td)
            data = json.loads(Path(path).read_text())
    except Exception:  # missing artifact (older version) or unreadable: not comparable
        return None
    try:
        return pd.DataFrame(data)[["model_id", "y", "pred"]]
    except (KeyError, ValueError, TypeError):
        return None


def card_summary(card: dict[str, Any]) -> str:
    """The model card down to (excluding) its "Intended use" section."""
    try:
        from divergence.export import model_card

        text = model_card(card)
    except Exception:  # the card is informative only; never block registration on it
        text = f"# Model card: {card.get('registered_model')}\n\n{card.get('target', '')}\n"
    return text.split("## Intended use", 1)[0].rstrip() + "\n"


def _clip(text: str, limit: int = _DESCRIPTION_MAX) -> str:
    return text if len(text) <= limit else text[: limit - 20].rstrip() + "\n\n(truncated)\n"


def promote(
    client: Any,
    name: str,
    version: str,
    walkforward: pd.DataFrame,
    card: dict[str, Any],
    tracking_uri: str,
    n_boot: int = 2000,
    seed: int = 0,
) -> GateResult:
    """Run the gate for a new version and move ``@champion`` if it passes.

    Tags the version with the decision and every check (``gate.*``, plus
    ``beats_all_baselines``, ``champion_decision``), writes the version description (model
    card summary + gate) and the registered model's description. The champion is re-read
    and the alias set under :func:`store_lock`.
    """
    checks = baseline_checks(walkforward, n_boot=n_boot, seed=seed)
    ours = walkforward[walkforward["method"] == "ours"][["model_id", "y", "pred"]]
    with store_lock(tracking_uri):
        before = champion_version(client, name)
        champ = None
        if before is not None and before != str(version):
            mv = client.get_model_version(name, before)
            champ = champion_check(ours, _load_walkforward(client, mv), n_boot=n_boot, seed=seed)
        result = gate(checks, champ, before)
        if result.promote:
            client.set_registered_model_alias(name, CHAMPION, str(version))
    tags = {
        "gate.decision": "promoted" if result.promote else "not promoted",
        "gate.champion_before": before or "none",
        "beats_all_baselines": str(result.beats_baselines).lower(),
        "champion_decision": result.reason,
        **{f"gate.{c.name}": c.tag() for c in result.checks},
    }
    for k, v in tags.items():
        client.set_model_version_tag(name, str(version), k, v[:5000])
    summary = card_summary(card)
    client.update_model_version(
        name, str(version), description=_clip(summary + "\n" + result.markdown())
    )
    current = str(version) if result.promote else before
    head = (
        f"Champion: version {current} (alias `@{CHAMPION}`)."
        if current
        else "No champion yet: no version has passed the gate."
    )
    policy = (
        "A version becomes champion only if, on the walk-forward, the paired-bootstrap CI of "
        "RMSE (ours − baseline) is below 0 for every baseline, its Spearman is not worse than "
        "the best baseline's beyond that CI, and it beats the current champion on the same "
        "test models (see each version's `gate.*` tags)."
    )
    if result.promote or before is None:
        client.update_registered_model(name, description=_clip(f"{head}\n\n{policy}\n\n{summary}"))
    return result
