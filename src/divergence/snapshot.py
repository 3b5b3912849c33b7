"""Read and write the compact, normalised snapshot (``data/snapshot/``).

Each table is a gzip CSV written deterministically (sorted rows, fixed float format,
gzip mtime 0), so rebuilding from the same raw data gives byte-identical files.
``manifest.json`` lists per table the row count and SHA-256, and per upstream source its
attribution and a hash of the raw files read.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from divergence.atomic import atomic_dir
from divergence.errors import SourceError
from divergence.schema import SNAPSHOT_SCHEMAS, coerce

TABLES = list(SNAPSHOT_SCHEMAS)
SORT_KEYS: dict[str, list[str]] = {
    "models": ["model_id"],
    "ratings": ["model_id", "board", "category", "snapshot_date", "source"],
    "benchmarks": ["model_id", "benchmark", "source", "as_of"],
    "adoption": ["model_id", "signal", "source", "date"],
    "aliases": ["source", "alias", "model_id"],
}


def _encode(df: pd.DataFrame, kind: str) -> bytes:
    df = coerce(df, kind, SNAPSHOT_SCHEMAS)
    df = df.sort_values(SORT_KEYS[kind], kind="mergesort", na_position="first").reset_index(
        drop=True
    )
    out = df.copy()
    for col, typ in SNAPSHOT_SCHEMAS[kind].items():
        if typ == "date":
            out[col] = out[col].dt.strftime("%Y-%m-%d")
        elif typ == "bool":
            out[col] = out[col].map({True: "true", False: "false"})
        elif typ == "float":
            out[col] = [("" if np.isnan(v) else repr(round(float(v), 6))) for v in out[col]]
    buf = io.StringIO()
    out.to_csv(buf, index=False, lineterminator="\n")
    raw = buf.getvalue().encode("utf-8")
    gz = io.BytesIO()
    with gzip.GzipFile(fileobj=gz, mode="wb", mtime=0, compresslevel=9, filename="") as fh:
        fh.write(raw)
    return gz.getvalue()


CONFLICT_FILES = {"release": "conflicts_release.csv", "open_weights": "conflicts_open_weights.csv"}


def _conflict_csv(df: pd.DataFrame) -> bytes:
    """A conflict table as plain CSV (rows sorted by model_id; booleans true/false)."""
    out = df.sort_values("model_id", kind="mergesort").astype(object)
    out = out.map(lambda v: "true" if v is True else "false" if v is False else v)
    buf = io.StringIO()
    out.to_csv(buf, index=False, lineterminator="\n")
    return buf.getvalue().encode("utf-8")


def write_snapshot(
    tables: dict[str, pd.DataFrame],
    out_dir: str | Path,
    provenance: Any,
    conflicts: dict[str, pd.DataFrame] | None = None,
) -> dict:
    """Write all tables and the manifest atomically to ``out_dir``.

    Parameters
    ----------
    tables : dict of DataFrame
        One frame per name in :data:`TABLES`, matching ``SNAPSHOT_SCHEMAS``.
    out_dir : path
        Target directory; replaced only when every file was written.
    provenance : list of dict
        Source attribution and raw hashes, stored under ``"sources"`` in the manifest.
    conflicts : dict of DataFrame, optional
        Metadata conflict tables (``"release"``, ``"open_weights"``), written as
        :data:`CONFLICT_FILES` and counted in the manifest under ``"conflicts"``.

    Returns
    -------
    dict
        The manifest.
    """
    manifest: dict[str, Any] = {
        "format": "divergence-snapshot/1",
        "tables": {},
        "sources": provenance,
    }
    with atomic_dir(out_dir) as tmp:
        for name in TABLES:
            blob = _encode(tables[name], name)
            (tmp / f"{name}.csv.gz").write_bytes(blob)
            manifest["tables"][name] = {
                "file": f"{name}.csv.gz",
                "rows": int(len(tables[name])),
                "sha256": hashlib.sha256(blob).hexdigest(),
                "columns": list(SNAPSHOT_SCHEMAS[name]),
            }
        for kind, df in (conflicts or {}).items():
            name = CONFLICT_FILES[kind]
            blob = _conflict_csv(df)
            (tmp / name).write_bytes(blob)
            manifest.setdefault("conflicts", {})[kind] = {
                "file": name,
                "rows": int(len(df)),
                "sha256": hashlib.sha256(blob).hexdigest(),
            }
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
        (tmp / "SOURCES.md").write_text(sources_markdown(provenance))
    return manifest


def sources_markdown(provenance: Any) -> str:
    """Attribution and per-source license table for every upstream the snapshot ships."""
    prov = list(provenance or [])
    lines = [
        "# Sources of the bundled snapshot",
        "",
        "Built by `divergence data build` from public repositories (copied unchanged under",
        "`shared/data/raw`). Figures are the upstreams'; attribution and licenses below.",
        "`feeds` are the values of the snapshot's `source` column each folder's rows carry;",
        "`divergence data build --exclude-source NAME` builds a snapshot without one.",
        "",
        "| folder | upstream | license | terms | feeds | what | raw files | raw sha256 |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for s in prov:
        sha = (s.get("raw_sha256") or "")[:12]
        files = "excluded" if s.get("excluded") else s.get("raw_files", 0)
        lines.append(
            f"| {s['folder']} | {s['upstream']} | {s['license']} | {s.get('terms', '')} | "
            f"{s.get('feeds', '')} | {s['what']} | {files} | {sha} |"
        )
    shipped = [s for s in prov if not s.get("excluded")]

    def feeds(terms: str) -> str:
        names = sorted(
            {f for s in shipped if s.get("terms") == terms for f in s["feeds"].split(";") if f}
        )
        return ", ".join(f"`{n}`" for n in names) or "none"

    excluded = sorted({f for s in prov if s.get("excluded") for f in s["feeds"].split(";") if f})
    lines += [
        "",
        "## License summary",
        "",
        f"- **Non-commercial** (CC BY-NC): {feeds('non-commercial')}. Build with "
        "`--exclude-source` for each before any commercial use of the snapshot or a model "
        "trained on it.",
        f"- **No license stated** (all rights reserved by default; used here for research, "
        f"with attribution): {feeds('none stated')}.",
        f"- **Terms of use of the publisher** (attribution required): {feeds('terms of use')}.",
        f"- **Open licenses** (MIT, Apache-2.0, MPL-2.0, CC BY): {feeds('open')}.",
        "- A source can appear in several lines when its folders differ in terms.",
    ]
    if excluded:
        lines.append(f"- **Excluded from this build**: {', '.join(f'`{n}`' for n in excluded)}.")
    return "\n".join(lines) + "\n"


def read_table(path: str | Path, kind: str) -> pd.DataFrame:
    """Read one snapshot table and check its schema."""
    path = Path(path)
    if not path.exists():
        raise SourceError(path, "snapshot table not found (run `divergence data build`)")
    cols = SNAPSHOT_SCHEMAS[kind]
    dtypes = {c: ("float64" if t == "float" else "string") for c, t in cols.items()}
    try:
        df = pd.read_csv(
            path, dtype=dtypes, keep_default_na=False, na_values={c: [""] for c in cols}
        )
    except (OSError, EOFError, ValueError, pd.errors.ParserError) as exc:
        raise SourceError(path, f"unreadable snapshot table: {str(exc).splitlines()[0]}") from None
    for col in cols:
        if col not in df.columns:
            raise SourceError(path, "missing column", column=col)
    for col, typ in cols.items():
        s = df[col].astype(object).where(df[col].notna(), None)
        if typ == "date":
            df[col] = pd.to_datetime(s, format="%Y-%m-%d")
        elif typ == "bool":
            df[col] = s.map({"true": True, "false": False, None: None})
        elif typ == "str":
            df[col] = s
    return coerce(df, kind, SNAPSHOT_SCHEMAS)


def load_snapshot(
    snapshot_dir: str | Path | None = None, verify: bool = True
) -> dict[str, pd.DataFrame]:
    """Load every snapshot table.

    Parameters
    ----------
    snapshot_dir : path, optional
        Defaults to :func:`divergence.config.default_snapshot_dir`.
    verify : bool
        Check each file's SHA-256 against the manifest.

    Returns
    -------
    dict of DataFrame
        Keyed by table name.
    """
    from divergence.config import default_snapshot_dir

    d = Path(snapshot_dir) if snapshot_dir is not None else default_snapshot_dir()
    manifest_path = d / "manifest.json"
    if not manifest_path.exists():
        raise SourceError(
            manifest_path, "snapshot manifest not found (run `divergence data build`)"
        )
    try:
        manifest = json.loads(manifest_path.read_text())
    except json.JSONDecodeError as exc:
        raise SourceError(manifest_path, f"invalid JSON: {exc.msg}") from None
    out = {}
    for name in TABLES:
        path = d / f"{name}.csv.gz"
        if verify:
            expected = manifest.get("tables", {}).get(name, {}).get("sha256")
            if expected is None:
                raise SourceError(manifest_path, "table missing from manifest", column=name)
            if path.exists() and hashlib.sha256(path.read_bytes()).hexdigest() != expected:
                raise SourceError(
                    path, "content hash differs from manifest (file changed or corrupt)"
                )
        out[name] = read_table(path, name)
    return out


def snapshot_hash(snapshot_dir: str | Path) -> str:
    """SHA-256 over the manifest's table hashes: identifies the data a model was trained on."""
    manifest = json.loads((Path(snapshot_dir) / "manifest.json").read_text())
    joined = "".join(manifest["tables"][t]["sha256"] for t in TABLES)
    return hashlib.sha256(joined.encode()).hexdigest()
