"""Per-domain predictor: every target's model served together.

``divergence sweep`` registers a *domain manifest* as the MLflow model
``divergence-utility-domains`` (alias ``champion`` = the newest complete sweep). For each
domain (overall, each category, each occupational board) it records the registered model
version that serves it, or why none does:

- ``ok``: served by ``models:/divergence-utility-<category>/<version>``, the target's
  champion when the sweep ended;
- ``not_promoted``: trained and registered, but no version passed the promotion gate
  (:func:`divergence.registry.promote`: significantly better than every baseline out of
  time); served by the newest version, and the status says it is not vetted;
- ``insufficient_ratings``: fewer rated models than :func:`divergence.sweep.min_rated_models`
  (``min_train + n_test + inner_folds``, 69 with the default configs): never trained, never
  predicted;
- ``no_champion``: trained, but no version is registered (nothing to serve);
- ``failed``: training failed in the sweep.

:func:`load_domain_predictor` (also ``divergence.load_predictor(targets="all")``) loads it;
:meth:`DomainPredictor.predict` returns a wide frame with ``predicted_<domain>``,
``lower_80_<domain>`` … ``upper_90_<domain>`` and ``benchmark_implied_<domain>`` (NaN for
domains that are not served, i.e. not in :data:`SERVED`); ``long=True`` gives one row per
(model, domain) with a ``domain_status`` column.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from divergence.errors import DivergenceError
from divergence.registry import download_model_artifacts, newest_version, sqlite_registry_dir

DOMAINS_MODEL = "divergence-utility-domains"
MANIFEST = "domains.json"
DOMAIN_FIELDS = ["predicted", "lower_80", "upper_80", "lower_90", "upper_90", "benchmark_implied"]
STATUSES = ("ok", "not_promoted", "insufficient_ratings", "no_champion", "failed", "not_trained")
SERVED = ("ok", "not_promoted")
"""Statuses whose domain is predicted (``not_promoted``: the newest version, not vetted)."""


def domain_columns(domain: str) -> list[str]:
    """Wide output columns of one domain."""
    return [f"{f}_{domain}" for f in DOMAIN_FIELDS]


# ---- manifest (written by the sweep) -----------------------------------------------------
def build_manifest(
    targets: list, results: dict[str, dict[str, Any]], snapshot_sha256: str
) -> dict[str, Any]:
    """Which registered version serves each domain, resolved from the registry now.

    ``results`` maps target name → the sweep's record (``status``, ``n_rated``,
    ``min_rated``); a target missing there (another shard) is looked up in the registry.
    """
    from mlflow import MlflowClient

    from divergence.runs import model_name
    from divergence.sweep import min_rated_models

    client = MlflowClient()
    domains = []
    for exp in targets:
        r = results.get(exp.name, {})
        name = model_name(exp)
        entry: dict[str, Any] = {
            "domain": exp.name,
            "board": exp.board,
            "category": exp.category,
            "registered_model": name,
            "n_rated": r.get("n_rated"),
            "min_rated": r.get("min_rated", min_rated_models(exp)),
            "model_uri": None,
            "version": None,
        }
        status = r.get("status")
        if status in ("insufficient_ratings", "failed"):
            entry["status"] = status
        else:
            try:
                v = client.get_model_version_by_alias(name, "champion")
                entry.update(
                    status="ok", version=str(v.version), model_uri=f"models:/{name}/{v.version}"
                )
            except Exception:  # no such model or alias
                newest = newest_version(client, name)
                if newest is not None:
                    entry.update(
                        status="not_promoted",
                        version=newest,
                        model_uri=f"models:/{name}/{newest}",
                    )
                else:
                    entry["status"] = "no_champion" if status == "trained" else "not_trained"
        domains.append(entry)
    return {"schema": 1, "snapshot_sha256": snapshot_sha256, "domains": domains}


def register_manifest(manifest: dict[str, Any]) -> dict[str, Any]:
    """Log the manifest as a pyfunc, register it as :data:`DOMAINS_MODEL`, alias ``champion``.

    Needs an active MLflow run. The alias moves when at least one domain is served
    (:data:`SERVED`).
    """
    import mlflow
    from mlflow import MlflowClient

    from divergence.config import PACKAGE_DIR
    from divergence.runs import pip_requirements

    with tempfile.TemporaryDirectory() as td:
        path = Path(td) / MANIFEST
        path.write_text(json.dumps(manifest, indent=1, sort_keys=True))
        info = mlflow.pyfunc.log_model(
            name="domains",
            python_model=str(PACKAGE_DIR / "pyfunc_domains_entry.py"),
            artifacts={"domains_json": str(path)},
            code_paths=[str(PACKAGE_DIR)],
            pip_requirements=pip_requirements(),
            registered_model_name=DOMAINS_MODEL,
        )
    version = str(info.registered_model_version)
    n_ok = sum(d["status"] in SERVED for d in manifest["domains"])
    client = MlflowClient()
    client.set_model_version_tag(DOMAINS_MODEL, version, "domains_ok", str(n_ok))
    if n_ok:
        client.set_registered_model_alias(DOMAINS_MODEL, "champion", version)
    return {"name": DOMAINS_MODEL, "version": version, "champion": bool(n_ok)}


# ---- loading -------------------------------------------------------------------------
def _manifest_dir(uri: str, tracking_uri: str) -> Path:
    local = sqlite_registry_dir(uri, tracking_uri, marker=MANIFEST)
    if local is not None:
        return local
    art = download_model_artifacts(uri, tracking_uri, hint=" (run `divergence sweep` first)")
    if not (art / MANIFEST).is_file():
        raise DivergenceError(f"{uri}: not a domain manifest (no artifacts/{MANIFEST})")
    return art


def load_domain_predictor(
    uri: str | Path | None = None, tracking_uri: str | None = None
) -> DomainPredictor:
    """Load the per-domain predictor.

    Parameters
    ----------
    uri : str or path, optional
        ``models:/divergence-utility-domains@champion`` (default), another ``models:/`` URI
        of that model, or a directory holding ``domains.json`` with one exported predictor
        per served domain in ``<directory>/<domain>/`` (:meth:`DomainPredictor.save`).
    tracking_uri : str, optional
        Default :func:`divergence.config.default_tracking_uri`.

    Returns
    -------
    DomainPredictor
    """
    from divergence.config import default_tracking_uri

    uri = str(uri) if uri is not None else f"models:/{DOMAINS_MODEL}@champion"
    if not uri.startswith("models:/"):
        d = Path(uri)
        if not (d / MANIFEST).is_file():
            raise DivergenceError(f"{d / MANIFEST}: domain manifest not found")
        return from_manifest(_read_manifest(d / MANIFEST), directory=d)
    tracking_uri = tracking_uri or default_tracking_uri()
    manifest = _read_manifest(_manifest_dir(uri, tracking_uri) / MANIFEST)
    return from_manifest(manifest, tracking_uri)


def from_manifest(
    manifest: dict[str, Any], tracking_uri: str | None = None, directory: Path | None = None
) -> DomainPredictor:
    """A :class:`DomainPredictor` over the served (:data:`SERVED`) entries of a manifest.

    Each entry loads from ``directory / <domain>`` (an exported directory) when
    ``directory`` is given, else from its ``model_uri`` in ``tracking_uri``.
    """
    from divergence.predictor import load_predictor

    preds = {
        e["domain"]: (
            load_predictor(directory / e["domain"])
            if directory is not None
            else load_predictor(e["model_uri"], tracking_uri)
        )
        for e in manifest["domains"]
        if e["status"] in SERVED
    }
    return DomainPredictor(manifest, preds)


def _read_manifest(path: Path) -> dict[str, Any]:
    try:
        m = json.loads(path.read_text())
        domains = m["domains"]
        for i, e in enumerate(domains):
            if e["status"] not in STATUSES or not isinstance(e["domain"], str):
                raise ValueError(f"domain {i + 1}: bad status or name")
            if e["status"] in SERVED and not e.get("model_uri"):
                raise ValueError(f"domain {e['domain']!r}: status {e['status']} without model_uri")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DivergenceError(f"{path}: invalid domain manifest ({exc})") from None
    return m


class DomainPredictor:
    """Every domain's predictor behind one ``predict``.

    Parameters
    ----------
    manifest : dict
        The domain manifest (see the module docstring).
    predictors : dict of str to Predictor
        One loaded :class:`~divergence.predictor.Predictor` per served domain.
    """

    def __init__(self, manifest: dict[str, Any], predictors: dict[str, Any]) -> None:
        self.manifest = manifest
        self.predictors = predictors
        self.domains = [e["domain"] for e in manifest["domains"]]
        missing = [
            e["domain"]
            for e in manifest["domains"]
            if e["status"] in SERVED and e["domain"] not in predictors
        ]
        if missing:
            status_of = {e["domain"]: e["status"] for e in manifest["domains"]}
            raise DivergenceError(
                f"domain {missing[0]!r}: status {status_of[missing[0]]} but no predictor loaded"
            )
        self._features: pd.DataFrame | None = None

    @property
    def status(self) -> pd.DataFrame:
        """One row per domain: status, registered model, version, rated models, minimum."""
        cols = [
            "domain",
            "category",
            "status",
            "registered_model",
            "version",
            "n_rated",
            "min_rated",
        ]
        return pd.DataFrame([{c: e.get(c) for c in cols} for e in self.manifest["domains"]])

    @property
    def reference(self):
        """The predictor used for id lookup: overall if served, else the first served one."""
        if not self.predictors:
            raise DivergenceError("no domain has a served model (see DomainPredictor.status)")
        for e in self.manifest["domains"]:
            if e["category"] == "full" and e["domain"] in self.predictors:
                return self.predictors[e["domain"]]
        return next(iter(self.predictors.values()))

    @property
    def input_columns(self) -> list[str]:
        """Union of every served domain's input columns (every one optional)."""
        cols: list[str] = []
        for p in self.predictors.values():
            cols += p.input_columns
        return list(dict.fromkeys(cols))

    def predict(self, df: pd.DataFrame, long: bool = False) -> pd.DataFrame:
        """Predict every domain for rows of raw inputs.

        Returns
        -------
        DataFrame
            Wide (default): same index as ``df``, :func:`domain_columns` of every domain in
            manifest order (NaN for domains that are not served). ``long=True``: columns
            ``row``, ``domain``, ``domain_status`` and the :data:`DOMAIN_FIELDS`.
        """
        wide = self._predict_wide(df)
        return self._to_long(wide) if long else wide

    def _predict_wide(self, df: pd.DataFrame) -> pd.DataFrame:
        # Validate once with the predictor that knows every column, then feed matrices.
        union = self.input_columns
        full = next(
            (p for p in self.predictors.values() if len(p.input_columns) == len(union)), None
        )
        n = len(df)
        out: dict[str, np.ndarray] = {}
        if full is not None:
            cols, block = full._validate(df)
            mats: dict[tuple, np.ndarray] = {}
        for e in self.manifest["domains"]:
            d = e["domain"]
            names = domain_columns(d)
            p = self.predictors.get(d)
            if p is None or n == 0:
                for c in names:
                    out[c] = np.full(n, np.nan)
                continue
            if full is None:  # domains disagree on columns: each validates its own
                r = p.predict(df).to_numpy()
                vals = [r[:, 0], r[:, 1], r[:, 2], r[:, 3], r[:, 4], r[:, 5]]
            else:  # the same intervals as the domain's own Predictor.predict (evidence bins)
                r = p.predict_block(cols, block, mats)
                vals = [r[:, 0], r[:, 1], r[:, 2], r[:, 3], r[:, 4], r[:, 5]]
            for c, v in zip(names, vals, strict=True):
                out[c] = v
        return pd.DataFrame(out, index=df.index)

    def _to_long(self, wide: pd.DataFrame) -> pd.DataFrame:
        status = {e["domain"]: e["status"] for e in self.manifest["domains"]}
        parts = []
        for d in self.domains:
            part = wide[domain_columns(d)].copy()
            part.columns = DOMAIN_FIELDS
            part.insert(0, "domain_status", status[d])
            part.insert(0, "domain", d)
            part.insert(0, "row", np.arange(len(wide)))
            parts.append(part)
        if not parts:
            return pd.DataFrame(columns=["row", "domain", "domain_status", *DOMAIN_FIELDS])
        return pd.concat(parts, ignore_index=True).sort_values(["row"], kind="mergesort")

    def _feature_rows(self) -> pd.DataFrame:
        if self._features is None:
            f = pd.read_csv(self.reference.directory / "features.csv.gz", dtype={"model_id": str})
            self._features = f.set_index("model_id").astype("float64")
        return self._features

    def predict_models(self, queries: list[str], long: bool = False) -> pd.DataFrame:
        """Predict every domain for models known to the training snapshot (id or alias).

        Returns
        -------
        DataFrame
            The id columns of :meth:`Predictor.predict_models` (``query``, ``model_id``,
            ``status`` ...) then the wide domain columns; ``long=True``: one row per
            (model, domain) with ``domain_status``.
        """
        from divergence.predictor import OUTPUT_COLUMNS

        ids = self.reference.predict_models(list(queries))
        ids = ids[[c for c in ids.columns if c not in OUTPUT_COLUMNS]].reset_index(drop=True)
        feats = self._feature_rows()
        known = ids["model_id"].notna() & ids["model_id"].isin(feats.index)
        rows = feats.reindex(ids.loc[known, "model_id"]).reset_index(drop=True)
        wide = pd.DataFrame(
            np.nan, index=ids.index, columns=[c for d in self.domains for c in domain_columns(d)]
        )
        if known.any():
            pred = self._predict_wide(rows)
            wide.loc[known.to_numpy(), :] = pred.to_numpy()
        if not long:
            return pd.concat([ids, wide], axis=1)
        lg = self._to_long(wide)
        return (
            ids.iloc[lg["row"].to_numpy()]
            .reset_index(drop=True)
            .join(lg.drop(columns="row").reset_index(drop=True))
        )

    def save(self, directory: str | Path) -> Path:
        """Export: ``domains.json`` plus each served domain's predictor files in ``<domain>/``."""
        import shutil

        from divergence.atomic import atomic_dir

        with atomic_dir(directory) as tmp:
            for d, p in self.predictors.items():
                shutil.copytree(p.directory, tmp / d)
            (tmp / MANIFEST).write_text(json.dumps(self.manifest, indent=1, sort_keys=True))
        return Path(directory)
