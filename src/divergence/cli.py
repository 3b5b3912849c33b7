"""Command-line interface: ``divergence <command>``.

Errors on bad input are one line on stderr naming the file/column/row, with exit code 2
(no traceback unless ``--debug``).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import re
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

from divergence.errors import DivergenceError, NotPromotedWarning


def _int(text: str) -> int:
    """Integer argument that also accepts MLflow's float rendering (``"5.0"``)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if value != int(value):
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}")
    return int(value)


def _common_run_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--experiment", default="experiments/overall.yaml", help="experiment config (path or name)"
    )
    p.add_argument(
        "--n-trials", type=_int, default=None, help="Optuna trials (overrides the config)"
    )
    p.add_argument("--seed", type=_int, default=None, help="random seed (overrides the config)")
    p.add_argument("--snapshot", default=None, help="snapshot directory (default data/snapshot)")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for docs and tests)."""
    ap = argparse.ArgumentParser(prog="divergence", description=__doc__.splitlines()[0])
    ap.add_argument("--debug", action="store_true", help="show tracebacks")
    sub = ap.add_subparsers(dest="command", required=True)

    data = sub.add_parser("data", help="build or inspect the snapshot")
    dsub = data.add_subparsers(dest="data_command", required=True)
    b = dsub.add_parser("build", help="build data/snapshot from the raw public data")
    b.add_argument("--raw", default=None, help="raw data directory (default ../shared/data/raw)")
    b.add_argument("--out", default=None, help="snapshot directory (default data/snapshot)")
    b.add_argument(
        "--arena-until",
        default=None,
        metavar="YYYY-MM-DD",
        help="leave out arena snapshots after this day (time-travel test of identity)",
    )
    b.add_argument(
        "--exclude-source",
        action="append",
        default=None,
        metavar="NAME",
        help="build without this source (a snapshot 'source' value such as swe-bench, or a "
        "reader name); repeatable; licenses per source in data/snapshot/SOURCES.md",
    )
    c = dsub.add_parser("coverage", help="per-source coverage of arena models")
    c.add_argument("--snapshot", default=None)
    c.add_argument("--since", default="2024-06-01")
    c.add_argument(
        "--unmatched",
        action="store_true",
        help="list arena models without AA scores: 3 nearest AA candidates and a reason",
    )

    rs = sub.add_parser("resolve", help="show what model names resolve to, and why")
    rs.add_argument("names", nargs="+", metavar="NAME")
    rs.add_argument("--snapshot", default=None, help="snapshot directory (default data/snapshot)")

    idp = sub.add_parser("identity", help="evaluate model identity resolution")
    isub = idp.add_subparsers(dest="identity_command", required=True)
    ie = isub.add_parser("eval", help="precision/recall on the labelled identity set")
    ie.add_argument("--snapshot", default=None)
    ie.add_argument(
        "--labels", default=None, help="labelled CSV (default data/identity/labels.csv)"
    )
    it = isub.add_parser(
        "time-travel", help="rebuild as if the arena ended on a day; resolve later arena keys"
    )
    it.add_argument("--until", default="2025-12-17")
    it.add_argument("--raw", default=None)
    it.add_argument("--snapshot", default=None, help="full snapshot (default data/snapshot)")
    it.add_argument("--out", default=None, help="where to build the past snapshot (default: temp)")

    for name, helptext in [
        ("tune", "tune hyper-parameters (Optuna)"),
        ("evaluate", "walk-forward evaluation with baselines"),
        ("train", "train the final model on an evaluation's residuals and register it"),
        ("main", "build snapshot if missing, tune, evaluate, train, register, report"),
    ]:
        p = sub.add_parser(name, help=helptext)
        _common_run_args(p)
        if name in {"tune", "main"}:
            p.add_argument(
                "--storage",
                default=None,
                help="Optuna storage: journal file path or postgresql:// URL (needed for --workers > 1)",
            )
            p.add_argument(
                "--workers", type=_int, default=1, help="parallel tuning worker processes"
            )
        if name in {"evaluate", "train"}:
            p.add_argument(
                "--params",
                default=None,
                help="JSON file of model params (default: untuned defaults)",
            )
            p.add_argument(
                "--tune-run", default=None, help="take the params of this finished `tune` run"
            )
        if name == "train":
            p.add_argument(
                "--evaluate-run",
                default=None,
                help="train on the residuals of this finished `evaluate` run (default: the "
                "newest finished one of the same inputs, else evaluate first)",
            )

    sw = sub.add_parser("sweep", help="tune, evaluate, train and register every target config")
    sw.add_argument(
        "--experiments", default=None, help="directory of target configs (default experiments/)"
    )
    sw.add_argument("--n-trials", type=_int, default=None, help="Optuna trials per study")
    sw.add_argument("--seed", type=_int, default=None, help="random seed (overrides the configs)")
    sw.add_argument("--snapshot", default=None, help="snapshot directory (default data/snapshot)")
    sw.add_argument(
        "--tuning",
        choices=["shared", "per-target"],
        default="shared",
        help="tune once on overall and reuse (default), or tune every target",
    )
    sw.add_argument("--workers", type=_int, default=1, help="parallel worker processes")
    sw.add_argument(
        "--storage",
        default=None,
        help="Optuna storage: journal file path or postgresql:// URL (studies are topped up)",
    )
    sw.add_argument(
        "--shard",
        default=None,
        help="K/N: train every N-th target from the K-th (several machines)",
    )
    sw.add_argument(
        "--collect",
        action="store_true",
        help="train nothing; register the domain manifest from the current champions",
    )
    sw.add_argument("--out", default=None, help="table directory (default reports/domains)")

    pr = sub.add_parser("predict", help="predict utility for rows or known models")
    g = pr.add_mutually_exclusive_group(required=True)
    g.add_argument("--input", help="CSV of raw model-level inputs (columns: see the model card)")
    g.add_argument(
        "--model",
        nargs="+",
        metavar="NAME",
        help="model names: arena keys, AA slugs or display names, OpenRouter/HF/Ollama ids",
    )
    pr.add_argument(
        "--allow-prior",
        action="store_true",
        help="also predict models without benchmark scores (metadata/adoption only)",
    )
    pr.add_argument("--output", required=True, help="CSV to write ('-': standard output)")
    pr.add_argument(
        "--model-uri", default=None, help="models:/ URI or exported directory (default champion)"
    )
    pr.add_argument(
        "--domains",
        action="store_true",
        help="every domain (overall, categories, boards): the sweep's divergence-utility-domains",
    )
    pr.add_argument(
        "--long", action="store_true", help="with --domains: one row per (model, domain)"
    )

    ex = sub.add_parser("export", help="export the champion with a model card to models/<name>/")
    ex.add_argument("--model-uri", default=None)
    ex.add_argument("--out", default=None)
    ex.add_argument(
        "--domains",
        action="store_true",
        help="every domain (divergence-utility-domains) to models/divergence-utility-domains/",
    )

    rp = sub.add_parser("report", help="write the divergence report (PNG + HTML) under reports/")
    rp.add_argument("--snapshot", default=None)
    rp.add_argument("--out", default="reports")
    rp.add_argument("--no-mlflow", action="store_true", help="do not log the report to MLflow")
    rp.add_argument(
        "--force",
        action="store_true",
        help="rebuild even if snapshot, model and code are unchanged",
    )
    rp.add_argument(
        "--update-readme",
        action="store_true",
        help="also rewrite README.md's findings block and docs/figures/ from this report",
    )
    return ap


def _cmd_data(args: argparse.Namespace) -> int:
    from divergence.config import default_raw_dir, default_snapshot_dir

    if args.data_command == "build":
        from divergence.atomic import check_output_dir
        from divergence.dataset import check_exclude
        from divergence.stages import build_data as build_stage

        check_exclude(args.exclude_source)  # a bad option first, whatever the raw data
        raw = Path(args.raw) if args.raw else default_raw_dir()
        if not raw.is_dir():
            raise DivergenceError(f"{raw}: raw data directory not found (--raw)")
        out = Path(args.out) if args.out else default_snapshot_dir()
        check_output_dir(out, inputs=[raw], what="--out")
        built = build_stage.build_data(
            raw, out, arena_until=args.arena_until, exclude=args.exclude_source
        )
        build_stage.log(built)  # only under `mlflow run -e build_data`
        for name, t in built.manifest["tables"].items():
            print(f"{name:<11} {t['rows']:>8} rows  sha256 {t['sha256'][:12]}")
        print(f"snapshot written to {out}")
        return 0
    from divergence.coverage import coverage
    from divergence.snapshot import load_snapshot

    _check_snapshot(args.snapshot)
    tables = load_snapshot(args.snapshot)
    per, unmatched = coverage(tables, args.since)
    import pandas as pd

    with pd.option_context(
        "display.width", 200, "display.max_rows", 500, "display.max_colwidth", 80
    ):
        print(per.to_string(index=False, float_format=lambda v: f"{v:.1%}"))
        print(
            f"\narena models released since {args.since} without an Artificial Analysis match: {len(unmatched)}"
        )
        if args.unmatched:
            from divergence.coverage import explain_unmatched

            table = explain_unmatched(tables, unmatched)
            print(table.to_string(index=False))
            n_bad = int((table["reason"] == "UNEXPLAINED").sum())
            print(f"unexplained misses: {n_bad}")
        else:
            print(unmatched.to_string(index=False))
    return 0


def _cmd_resolve(args: argparse.Namespace) -> int:
    from divergence.query import QueryIndex, check_queries
    from divergence.snapshot import load_snapshot

    check_queries(args.names)
    index = QueryIndex.from_snapshot(load_snapshot(args.snapshot))
    for r in index.resolve_many(args.names, each=True):
        target = r.model_id or ("; ".join(r.candidates) if r.candidates else "-")
        print(f"{r.query}\t-> {target}\t[{r.status}; rule {r.rule or '-'}; {r.evidence or '-'}]")
        for m, why in r.rejected:
            print(f"\trejected: {m} ({why})")
        if r.status == "unknown" and r.suggestions:
            print(f"\tdid you mean: {', '.join(r.suggestions)}")
        if r.status == "no_benchmarks" and r.candidates:
            print(f"\tscored namesakes: {', '.join(r.candidates)}")
    return 0


def _cmd_identity(args: argparse.Namespace) -> int:
    from divergence import identity_eval

    if args.identity_command == "eval":
        out = identity_eval.evaluate_labels(args.snapshot, args.labels)
        print(identity_eval.format_eval(out))
        return 0
    out = identity_eval.time_travel(args.until, args.raw, args.snapshot, args.out)
    print(identity_eval.format_time_travel(out))
    return 0


def _check_snapshot(snapshot: str | None, may_build: bool = False) -> None:
    """A ``--snapshot`` must be a snapshot directory (with ``manifest.json``)."""
    from divergence.config import default_snapshot_dir

    snap = Path(snapshot) if snapshot else default_snapshot_dir()
    if snap.exists() and not snap.is_dir():
        raise DivergenceError(f"{snap}: --snapshot is not a directory")
    if not (snap / "manifest.json").is_file() and not (may_build and not snap.exists()):
        raise DivergenceError(f"{snap}: not a snapshot directory (no manifest.json)")


def _load_params(path: str | None) -> dict | None:
    """Validate a ``--params`` JSON file: an object of known, finite model parameters."""
    if path is None:
        return None
    import math

    from divergence.errors import ConfigError
    from divergence.sources._io import read_json
    from divergence.tuning import DEFAULT_PARAMS

    p = Path(path)
    if p.exists() and not p.is_file():
        raise ConfigError(f"{p}: --params is not a regular file")
    raw = read_json(p)
    if not isinstance(raw, dict):
        raise ConfigError(f"{p}: --params must be a JSON object of model parameters")
    for key, value in raw.items():
        if key not in DEFAULT_PARAMS:
            raise ConfigError(f"{p}: unknown model parameter {key!r}")
        default = DEFAULT_PARAMS[key]
        if isinstance(default, bool) or not isinstance(default, (int, float)):
            if type(value) is not type(default):
                raise ConfigError(
                    f"{p}: parameter {key!r} must be {type(default).__name__}, got {value!r}"
                )
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{p}: parameter {key!r} must be a number, got {value!r}")
        if not math.isfinite(value) or value < 0:
            raise ConfigError(f"{p}: parameter {key!r} must be finite and >= 0, got {value!r}")
        if key in {"subsample", "colsample_bytree", "min_coverage"} and not 0 < value <= 1:
            raise ConfigError(f"{p}: parameter {key!r} must be in (0, 1], got {value!r}")
        if isinstance(default, int) and value != int(value):
            raise ConfigError(f"{p}: parameter {key!r} must be a whole number, got {value!r}")
    return raw


def _check_feature_set(name: str) -> None:
    """Read a feature-set spec strictly (encoding, YAML) before any run starts."""
    from divergence.config import project_root
    from divergence.features.spec import load_spec
    from divergence.sources._io import read_yaml

    p = Path(name)
    if not p.suffix:
        p = project_root() / "features" / f"{name}.yaml"
    if p.exists():
        read_yaml(p)
    load_spec(name)


def _validate_run_args(args: argparse.Namespace):
    """Everything a run command needs, checked before MLflow is touched."""
    from divergence.errors import ConfigError
    from divergence.experiment import load_experiment

    if args.seed is not None and not 0 <= args.seed < 2**32:
        raise ConfigError(f"--seed {args.seed}: must be in 0 .. 2**32-1")
    if args.n_trials is not None and args.n_trials < 0:
        raise ConfigError(f"--n-trials {args.n_trials}: must be >= 0")
    workers = getattr(args, "workers", 1)
    if workers < 1 or workers > 256:
        raise ConfigError(f"--workers {workers}: must be in 1 .. 256")
    exp = load_experiment(args.experiment, n_trials=args.n_trials, seed=args.seed)
    _check_feature_set(exp.feature_set)
    _check_feature_set(exp.benchmark_feature_set)
    _check_snapshot(args.snapshot, may_build=args.command == "main")
    _load_params(getattr(args, "params", None))
    for flag in ("tune_run", "evaluate_run"):
        value = _run_id(getattr(args, flag, None))
        setattr(args, flag, value)
        if value is not None and not re.fullmatch(r"[0-9a-f]{32}", value):
            raise ConfigError(f"--{flag.replace('_', '-')} {value!r}: not an MLflow run id")
    storage = getattr(args, "storage", None)
    if isinstance(storage, str) and storage not in ("", "none"):
        from divergence.tuning import is_database_url

        if not is_database_url(storage):
            from divergence.atomic import check_output_file

            check_output_file(storage, what="--storage journal file")
    return exp


def _run_id(value: str | None) -> str | None:
    """A run id argument; ``none`` or empty (the MLproject default) means absent."""
    return None if value in (None, "", "none") else str(value)


def _cmd_run(args: argparse.Namespace) -> int:
    from divergence.runs import run

    exp = _validate_run_args(args)
    steps = {
        "tune": ("tune",),
        "evaluate": ("evaluate",),
        "train": ("train",),
        "main": ("tune", "evaluate", "train"),
    }[args.command]
    if args.command == "main":
        from divergence.config import default_raw_dir, default_snapshot_dir

        snap = Path(args.snapshot) if args.snapshot else default_snapshot_dir()
        if not (snap / "manifest.json").exists():
            from divergence.dataset import build_snapshot

            build_snapshot(default_raw_dir(), snap)
    storage = getattr(args, "storage", None)
    storage = None if storage in (None, "", "none") else storage
    out = run(
        exp,
        steps,
        snapshot_dir=args.snapshot,
        params_path=getattr(args, "params", None),
        storage=storage,
        workers=getattr(args, "workers", 1),
        report=args.command == "main",
        tune_run=getattr(args, "tune_run", None),
        evaluate_run=getattr(args, "evaluate_run", None),
    )
    if "walkforward_metrics" in out:
        from divergence.runs import markdown_table

        print(markdown_table(out["walkforward_metrics"]))
    if "model" in out:
        m = out["model"]
        print(f"registered {m.name} version {m.version}: {m.champion_reason}")
    if args.command == "tune":
        import json

        print(json.dumps(out["params"], indent=1))
    return 0


def _cmd_sweep(args: argparse.Namespace) -> int:
    from divergence.sweep import parse_shard, sweep

    storage = None if args.storage in (None, "", "none") else args.storage
    out = sweep(
        experiments_dir=args.experiments,
        n_trials=args.n_trials,
        seed=args.seed,
        tuning=args.tuning,
        workers=args.workers,
        storage=storage,
        snapshot_dir=args.snapshot,
        shard=parse_shard(None if args.shard in (None, "", "none") else args.shard),
        collect=args.collect,
        out_dir=args.out,
    )
    print(out["markdown"])
    m = out.get("manifest")
    if m:
        from divergence.domains import SERVED

        ok = [d["domain"] for d in m["domains"] if d["status"] in SERVED]
        other = [
            f"{d['domain']} ({d['status']})" for d in m["domains"] if d["status"] not in SERVED
        ]
        print(f"domains served: {len(ok)}; not served: {', '.join(other) or 'none'}")
        print(f"registered {m['domains_model']['name']} version {m['domains_model']['version']}")
    print(f"sweep: {len(out['results'])} targets in {out['seconds']:.0f} s")
    return 1 if any(r["status"] == "failed" for r in out["results"]) else 0


def _cmd_predict_domains(args: argparse.Namespace) -> int:
    import pandas as pd

    from divergence.domains import load_domain_predictor
    from divergence.sources._io import read_csv

    pred = load_domain_predictor(args.model_uri)
    for r in pred.status.itertuples(index=False):
        if r.status == "not_promoted":
            print(
                f"domain {r.domain}: not_promoted (newest version {r.version}; it did not "
                "pass the promotion gate)",
                file=sys.stderr,
            )
        elif r.status != "ok":
            print(f"domain {r.domain}: {r.status} (not predicted)", file=sys.stderr)
    if args.model:
        out = pred.predict_models(args.model, long=args.long)
    else:
        df = read_csv(args.input)
        if df.empty:
            raise DivergenceError(f"{args.input}: no data rows")
        ident = next((c for c in ("model_id", "query", "model") if c in df.columns), None)
        try:
            res = pred.predict(df, long=args.long)
        except DivergenceError as exc:
            from divergence.errors import SourceError

            raise SourceError(args.input, str(exc)) from None
        query = (
            df[ident].astype(str) if ident else pd.Series([f"row{i + 1}" for i in range(len(df))])
        )
        head = pd.DataFrame({"query": query.to_numpy(), "status": "ok"})
        if args.long:
            out = (
                head.iloc[res["row"].to_numpy()]
                .reset_index(drop=True)
                .join(res.drop(columns="row").reset_index(drop=True))
            )
        else:
            out = pd.concat([head, res.reset_index(drop=True)], axis=1)
    unknown = out.loc[out["status"] == "unknown", "query"].drop_duplicates().tolist()
    for q in unknown:
        print(f"unknown model: {q}", file=sys.stderr)
    if len(unknown) == out["query"].nunique():
        print("error: no model resolved; nothing written", file=sys.stderr)
        return 2
    with _csv_output(args.output) as fh:
        out.to_csv(fh, index=False, float_format="%.2f")
    _summary(f"wrote {len(out)} rows to {args.output} ({len(unknown)} unknown)", args.output)
    return 0


# Rows per chunk of ``predict --input``: bounds memory to a few tens of MB whatever the file size.
CHUNK_ROWS = 20_000


def _check_text_file(path: Path) -> list[str]:
    """Stream-check a CSV: regular file, UTF-8, no NUL byte, not blank; returns its header."""
    import codecs
    import csv

    from divergence.errors import SourceError

    if not path.exists():
        raise SourceError(path, "file not found")
    if path.is_dir():
        raise SourceError(path, "is a directory, expected a file")
    if not path.is_file():
        raise SourceError(path, "not a regular file (device, FIFO or socket)")
    dec = codecs.getincrementaldecoder("utf-8-sig")()
    first = ""
    blank, offset = True, 0
    with open(path, "rb") as fh:
        while block := fh.read(1 << 20):
            try:
                text = dec.decode(block)
            except UnicodeDecodeError as exc:
                raise SourceError(path, f"not valid UTF-8 at byte {offset + exc.start}") from None
            nul = block.find(b"\0")
            if nul >= 0:
                raise SourceError(path, f"binary content (NUL byte at byte {offset + nul})")
            if blank and text.strip():
                blank = False
            if "\n" not in first:
                first += text[: 1 << 20]
            offset += len(block)
        try:
            dec.decode(b"", final=True)
        except UnicodeDecodeError:
            raise SourceError(path, f"not valid UTF-8 at byte {offset} (truncated)") from None
    if blank:
        raise SourceError(path, "empty file")
    line = first.lstrip("\r\n").splitlines()[0] if first.strip() else ""
    header = next(csv.reader([line])) if line else []
    seen: set[str] = set()
    for col in header:
        if col in seen:
            raise SourceError(path, "duplicate column header", column=col)
        seen.add(col)
    return header


def _predict_chunks(pred, path: Path, chunk_rows: int | None = None, allow_prior: bool = False):
    """Yield output frames of ``predict --input``, one per chunk of the CSV."""
    import warnings

    import numpy as np
    import pandas as pd

    from divergence.errors import InputError, SourceError
    from divergence.predictor import ID_COLUMNS, OUTPUT_COLUMNS

    header = _check_text_file(path)
    ident = next((c for c in ID_COLUMNS if c in header), None)
    dtype = {c: str for c in ID_COLUMNS if c in header}
    try:
        # index_col=False: a row with more fields than the header is an error (below), not
        # silently shifted into an index column
        reader = pd.read_csv(
            path,
            encoding="utf-8-sig",
            dtype=dtype,
            chunksize=chunk_rows or CHUNK_ROWS,
            index_col=False,
        )
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as exc:
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise SourceError(path, f"malformed CSV: {msg}") from None
    offset = 0
    with reader:
        while True:
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("error", pd.errors.ParserWarning)
                    df = next(reader)
            except StopIteration:
                break
            except pd.errors.ParserWarning:
                raise SourceError(
                    path, "malformed CSV: a row has more fields than the header"
                ) from None
            except (pd.errors.ParserError, ValueError) as exc:
                msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                raise SourceError(path, f"malformed CSV: {msg}") from None
            df = df.reset_index(drop=True)
            try:
                res = pred.predict(df)
            except InputError as exc:
                raise SourceError(path, exc.problem, exc.column, offset + exc.row) from None
            except DivergenceError as exc:  # unknown or duplicate column
                raise SourceError(path, str(exc)) from None
            feats = [c for c in df.columns if c not in ID_COLUMNS]
            has_feature = (
                df[feats].notna().any(axis=1).to_numpy() if feats else np.zeros(len(df), bool)
            )
            ids = df[ident] if ident else pd.Series([None] * len(df))
            has_id = ids.notna().to_numpy() & (ids.astype(str).str.strip() != "").to_numpy()
            nothing = ~has_feature & ~has_id
            if nothing.any():
                i = int(np.flatnonzero(nothing)[0])
                raise SourceError(
                    path,
                    "no feature value and no model id: nothing to predict from",
                    row=offset + i + 1,
                )
            out = pd.DataFrame(
                {
                    "query": ids.astype(str).where(has_id, None)
                    if ident
                    else [f"row{offset + i + 1}" for i in range(len(df))],
                    "model_id": [
                        pred.resolve(str(q)) if h else None
                        for q, h in zip(ids, has_id & has_feature, strict=True)
                    ],
                    "status": "ok",
                }
            )
            out = pd.concat([out, res.reset_index(drop=True)], axis=1)
            lookup = ~has_feature & has_id
            if lookup.any():  # an id and no features: look the model up, never predict from nothing
                found = pred.predict_models(
                    ids[lookup].astype(str).str.strip().tolist(), allow_prior=allow_prior
                )
                found.index = np.flatnonzero(lookup)
                found["query"] = ids[lookup].astype(str).to_numpy()
                for c in found.columns:
                    if c not in out.columns:
                        out[c] = None
                out = out.astype(dict.fromkeys(("model_id", "status"), object))
                out.loc[found.index, found.columns] = found
            for c in OUTPUT_COLUMNS:
                out[c] = pd.to_numeric(out[c])
            offset += len(df)
            yield out
    if offset == 0:
        raise SourceError(path, "no data rows")


def _check_model_queries(queries: list[str]) -> None:
    for i, q in enumerate(queries, 1):
        try:
            q.encode("utf-8")
        except UnicodeEncodeError:
            shown = q.encode("utf-8", "backslashreplace").decode("ascii", "replace")
            raise DivergenceError(f"--model argument {i} ({shown}): not valid UTF-8") from None
        if not q.strip() or any(ord(ch) < 32 for ch in q):
            raise DivergenceError(f"--model argument {i} ({q!r}): empty or control characters")


def _report_names(pred, args: argparse.Namespace) -> None:
    """One stderr line per ``--model`` name that did not give a prediction."""
    for r in pred.resolve_names(args.model):
        if r.status == "unknown":
            hint = f"; did you mean: {', '.join(r.suggestions)}" if r.suggestions else ""
            print(f"unknown model: {r.query}{hint}", file=sys.stderr)
        elif r.status == "ambiguous":
            print(
                f"ambiguous model: {r.query} (candidates: {', '.join(r.candidates)})",
                file=sys.stderr,
            )
        elif r.status == "no_benchmarks" and not args.allow_prior:
            near = f"; scored namesakes: {', '.join(r.candidates)}" if r.candidates else ""
            print(
                f"no benchmark scores: {r.query} -> {r.model_id} (no prediction; "
                f"--allow-prior to predict anyway{near})",
                file=sys.stderr,
            )


@contextlib.contextmanager
def _csv_output(target: str) -> Iterator[TextIO]:
    """A text handle for ``--output``: an atomic file, or (``-``) standard output.

    Standard output gets the whole CSV at the end, so a failure writes nothing there either.
    """
    if target == "-":
        buf = io.StringIO(newline="")
        yield buf
        sys.stdout.write(buf.getvalue())
        sys.stdout.flush()
        return
    from divergence.atomic import atomic_file

    with atomic_file(target, "w", encoding="utf-8", newline="") as fh:
        yield fh


def _summary(line: str, target: str) -> None:
    """The closing 'wrote ...' line: on stderr when the CSV itself goes to stdout."""
    print(line, file=sys.stderr if target == "-" else sys.stdout)


def _cmd_predict(args: argparse.Namespace) -> int:
    from divergence.atomic import check_output_file
    from divergence.predictor import OUTPUT_COLUMNS, load_predictor

    inputs = [args.input] if args.input else []
    if args.model_uri and Path(args.model_uri).is_dir():
        inputs.append(args.model_uri)
    if args.model:
        from divergence.query import check_queries

        _check_model_queries(args.model)
        check_queries(args.model)
    else:
        _check_text_file(Path(args.input))
    if args.output != "-":
        check_output_file(args.output, inputs=inputs, what="--output")
    if args.domains:
        return _cmd_predict_domains(args)
    if args.long:
        raise DivergenceError("--long needs --domains")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", NotPromotedWarning)
        pred = load_predictor(args.model_uri)
    for w in caught:
        print(f"note: {w.message}", file=sys.stderr)
    n = n_unknown = 0
    with _csv_output(args.output) as fh:
        if args.model:
            chunks = iter([pred.predict_models(args.model, allow_prior=args.allow_prior)])
        else:
            chunks = _predict_chunks(pred, Path(args.input), allow_prior=args.allow_prior)
        columns = None
        for out in chunks:
            if columns is None:
                base = ["query", "model_id", "status", *OUTPUT_COLUMNS]
                columns = list(dict.fromkeys([*base, *out.columns]))
            unknown = out.loc[out["status"] == "unknown", "query"].tolist()
            if not args.model:
                for q in unknown:
                    print(f"unknown model: {q}", file=sys.stderr)
            out.reindex(columns=columns).to_csv(fh, index=False, float_format="%.2f", header=n == 0)
            n, n_unknown = n + len(out), n_unknown + len(unknown)
        if args.model:
            _report_names(pred, args)
        if n_unknown == n:
            raise DivergenceError("no model resolved; nothing written")
    _summary(f"wrote {n} rows to {args.output} ({n_unknown} unknown)", args.output)
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    from divergence.atomic import check_output_dir
    from divergence.reports import write_report
    from divergence.snapshot import load_snapshot

    _check_snapshot(args.snapshot)
    check_output_dir(args.out, inputs=[args.snapshot], what="--out")
    paths = write_report(
        load_snapshot(args.snapshot),
        Path(args.out),
        log_to_mlflow=not args.no_mlflow,
        force=args.force,
    )
    if paths.get("rebuilt", True):
        print(f"report written: {paths['html']}")
    else:
        print(f"report up to date (snapshot, model and code unchanged): {paths['html']}")
    if args.update_readme:
        from divergence.config import project_root
        from divergence.reports import update_readme

        root = project_root()
        update_readme(Path(args.out), root / "README.md", root / "docs" / "figures")
        print(f"updated {root / 'README.md'} and {root / 'docs' / 'figures'}")
    return 0


def _files_of(args: argparse.Namespace) -> str:
    """The files a command reads, to name in a message about an unattributed failure."""
    names = []
    for attr in ("input", "experiment", "params", "model_uri", "snapshot", "raw", "storage"):
        v = getattr(args, attr, None)
        if v:
            names.append(str(v))
    return ", ".join(names) or args.command


def describe_error(exc: BaseException, args: argparse.Namespace) -> tuple[str, int]:
    """One line (and an exit code) for an anticipated failure; ``("", 0)`` if unanticipated."""
    import errno
    import json
    import zlib

    def first(e: BaseException) -> str:
        text = str(e).strip()
        return text.splitlines()[0][:300] if text else type(e).__name__

    mod = type(exc).__module__.split(".")[0]
    if isinstance(exc, DivergenceError):
        return str(exc), exc.exit_code
    if isinstance(exc, (EOFError, zlib.error)) or type(exc).__name__ == "BadGzipFile":
        return f"{_files_of(args)}: truncated or corrupt compressed file ({first(exc)})", 2
    if isinstance(exc, UnicodeError):
        what = "text is not valid UTF-8" if isinstance(exc, UnicodeDecodeError) else "encoding"
        return f"{_files_of(args)}: {what} ({first(exc)})", 2
    if isinstance(exc, OSError) and mod not in {"mlflow", "sqlalchemy"}:
        code = errno.errorcode.get(exc.errno or 0, "")
        reason = exc.strerror or first(exc)
        name = exc.filename if exc.filename is not None else _files_of(args)
        if exc.filename2 is not None:
            name = f"{name} -> {exc.filename2}"
        return f"{name}: {reason}" + (f" [{code}]" if code else ""), 2
    if isinstance(exc, json.JSONDecodeError):
        return f"{_files_of(args)}: invalid JSON ({first(exc)})", 2
    if mod == "yaml":
        return f"{_files_of(args)}: invalid YAML ({first(exc)})", 2
    if mod in {"mlflow", "sqlalchemy", "alembic", "sqlite3"}:
        from divergence.config import default_tracking_uri

        return f"MLflow tracking store {default_tracking_uri()}: {first(exc)}", 2
    if mod == "xgboost":
        return f"{_files_of(args)}: xgboost: {first(exc)}", 2
    if mod == "pandas" and "errors" in type(exc).__module__:
        return f"{_files_of(args)}: malformed table ({first(exc)})", 2
    if mod == "optuna":
        return f"{_files_of(args)}: optuna: {first(exc)}", 2
    if isinstance(exc, MemoryError):
        return f"{_files_of(args)}: out of memory", 2
    if isinstance(exc, RecursionError):
        return f"{_files_of(args)}: input nested too deeply", 2
    return "", 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``divergence`` console script.

    Every anticipated failure (bad input, OS errors such as a read-only or full disk,
    encoding, YAML/JSON, MLflow store, xgboost file) is one ``error:`` line naming the
    file and the cause, exit code 2; anything else is one ``internal error`` line, exit
    code 1. ``--debug`` re-raises with the traceback.
    """
    os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")
    # stdout carries results (tune prints JSON): no MLflow run links there with a tracking server.
    os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")
    for stream in (sys.stdout, sys.stderr):  # names that are not valid UTF-8 still print
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            try:
                reconfigure(errors="backslashreplace")
            except (ValueError, OSError):
                pass
    args = build_parser().parse_args(argv)
    try:
        if args.command == "data":
            return _cmd_data(args)
        if args.command in {"tune", "evaluate", "train", "main"}:
            return _cmd_run(args)
        if args.command == "predict":
            return _cmd_predict(args)
        if args.command == "resolve":
            return _cmd_resolve(args)
        if args.command == "identity":
            return _cmd_identity(args)
        if args.command == "sweep":
            return _cmd_sweep(args)
        if args.command == "export":
            from divergence.export import export_domains, export_model

            export = export_domains if args.domains else export_model
            path = export(args.model_uri, args.out)
            print(f"exported to {path}")
            return 0
        if args.command == "report":
            return _cmd_report(args)
    except KeyboardInterrupt:
        if args.debug:
            raise
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if args.debug:
            raise
        msg, code = describe_error(exc, args)
        if not msg:
            msg = (
                f"internal error in '{args.command}' ({type(exc).__name__}: "
                f"{str(exc).strip()[:300] or '-'}); rerun with --debug for the traceback"
            )
            code = 1
        print(f"error: {' '.join(msg.split())}", file=sys.stderr)
        return code
    return 1


if __name__ == "__main__":
    sys.exit(main())
