"""Measure identity resolution: a labelled set and a time-travel test.

Labelled set (``data/identity/labels.csv``): hand-reviewed rows ``source, name, model,
note``: ``name`` as the source writes it, ``model`` a label naming the true model (the
arena key when the model is on the arena, otherwise a readable label such as
``Claude Opus 4.7 (Adaptive Reasoning, Max Effort)``). Rows with one label are one
model; rows with different labels are different models (variants included).

Scores are pairwise, the usual measure of entity resolution: over all pairs of
labelled rows, *precision* = pairs the resolver puts on one id that are labelled one
model / pairs it puts on one id; *recall* = pairs labelled one model that the resolver
puts on one id / pairs labelled one model. A row whose label is an arena key must, in
addition, resolve to that key (otherwise it counts as a wrong id: split from its
label). Two resolvers are scored: ``snapshot`` (the id the snapshot's alias table gives
the ``(source, name)`` pair, i.e. entity resolution) and ``query`` (what
:class:`divergence.query.QueryIndex` answers for ``name`` alone, the path of
``predict --model``; ``ambiguous``/``unknown`` answers join nothing).

Time travel (:func:`time_travel`): rebuild the snapshot with the arena data cut at a
day, resolve the arena keys first seen after it as queries, and compare with the
full-data snapshot: the share that resolve with benchmark evidence, and the share that
resolve to the same model (the past id's AA alias, else any of its aliases, maps to
the key in the full snapshot). Keys that no other source lists even in the full data
(``full_other_sources`` 0: anonymous or arena-only builds) cannot resolve in the past;
they stay in both shares and are also counted apart.
"""

from __future__ import annotations

import tempfile
from itertools import combinations
from pathlib import Path
from typing import Any

import pandas as pd

from divergence.errors import SourceError

LABEL_COLUMNS = ["source", "name", "model", "note"]


def default_labels_path() -> Path:
    from divergence.config import project_root

    return project_root() / "data" / "identity" / "labels.csv"


def load_labels(path: str | Path | None = None) -> pd.DataFrame:
    """Read the labelled identity set (columns source, name, model, note).

    Raises
    ------
    SourceError
        Missing file or column, empty cell, or one (source, name) labelled twice.
    """
    from divergence.sources._io import read_csv

    p = Path(path) if path is not None else default_labels_path()
    df = read_csv(p, required=LABEL_COLUMNS, dtype=str, keep_default_na=False, comment="#")
    for col in ["source", "name", "model"]:
        blank = df[col].str.strip() == ""
        if blank.any():
            raise SourceError(p, "empty value", column=col, row=int(blank.to_numpy().argmax()) + 2)
    dup = df.duplicated(["source", "name"])
    if dup.any():
        raise SourceError(
            p, "pair labelled twice", column="name", row=int(dup.to_numpy().argmax()) + 2
        )
    return df[LABEL_COLUMNS].reset_index(drop=True)


def pairwise_scores(labels: list[str], ids: list[str | None]) -> dict[str, float]:
    """Pairwise precision and recall of predicted ids against true labels (None joins nothing)."""
    tp = fp = fn = 0
    for i, j in combinations(range(len(labels)), 2):
        same_true = labels[i] == labels[j]
        same_pred = ids[i] is not None and ids[i] == ids[j]
        tp += same_true and same_pred
        fp += same_pred and not same_true
        fn += same_true and not same_pred
    return {
        "precision": tp / (tp + fp) if tp + fp else 1.0,
        "recall": tp / (tp + fn) if tp + fn else 1.0,
        "pairs_true": tp + fn,
        "pairs_pred": tp + fp,
    }


def evaluate_labels(
    snapshot: str | Path | None = None, labels: str | Path | None = None
) -> dict[str, Any]:
    """Score both resolvers on the labelled set (module docstring)."""
    from divergence.query import QueryIndex
    from divergence.snapshot import load_snapshot

    lab = load_labels(labels)
    tables = load_snapshot(snapshot)
    arena_keys = set(tables["aliases"].loc[tables["aliases"]["source"] == "lmarena", "alias"])
    a = tables["aliases"]
    by_pair = dict(zip(zip(a["source"], a["alias"], strict=True), a["model_id"], strict=True))
    index = QueryIndex.from_snapshot(tables)
    snap_ids: list[str | None] = []
    query_ids: list[str | None] = []
    statuses: list[str] = []
    wrong = []
    for r in lab.itertuples(index=False):
        name, source = str(r.name), str(r.source)
        sid: str | None = name if source == "lmarena" else by_pair.get((source, name))
        res = index.resolve(name)
        qid = res.model_id if res.status in ("ok", "no_benchmarks") else None
        if r.model in arena_keys:  # an arena label must land on its own key
            sid = sid if sid == r.model else (f"WRONG:{sid}" if sid else None)
            qid = qid if qid == r.model else (f"WRONG:{qid}" if qid else None)
        snap_ids.append(sid)
        query_ids.append(qid)
        statuses.append(res.status)
        if (
            sid is None
            or str(sid).startswith("WRONG:")
            or qid is None
            or str(qid).startswith("WRONG:")
        ):
            wrong.append((r.source, r.name, r.model, sid, qid, res.status))
    labels_list = lab["model"].tolist()
    return {
        "rows": len(lab),
        "models": lab["model"].nunique(),
        "sources": lab["source"].nunique(),
        "snapshot": pairwise_scores(labels_list, snap_ids),
        "query": pairwise_scores(labels_list, query_ids),
        "query_status": pd.Series(statuses).value_counts().to_dict(),
        "misses": wrong,
    }


def format_eval(out: dict[str, Any]) -> str:
    lines = [
        f"labelled set: {out['rows']} (source, name) rows, {out['models']} models, "
        f"{out['sources']} sources",
    ]
    for kind in ("snapshot", "query"):
        s = out[kind]
        lines.append(
            f"{kind:<8} precision {s['precision']:.3f}  recall {s['recall']:.3f}  "
            f"(pairs labelled same {s['pairs_true']}, resolved same {s['pairs_pred']})"
        )
    lines.append(f"query statuses: {out['query_status']}")
    for m in out["misses"][:40]:
        lines.append("  miss: " + " | ".join(str(x) for x in m))
    return "\n".join(lines)


def time_travel(
    until: str = "2025-12-17",
    raw: str | Path | None = None,
    snapshot: str | Path | None = None,
    out: str | Path | None = None,
) -> dict[str, Any]:
    """Resolve the arena keys first seen after ``until`` against a snapshot cut there."""
    from divergence.config import default_raw_dir
    from divergence.dataset import build_snapshot
    from divergence.query import QueryIndex
    from divergence.snapshot import load_snapshot

    full = load_snapshot(snapshot)
    with tempfile.TemporaryDirectory() as td:
        past_dir = Path(out) if out is not None else Path(td) / "past"
        if not (past_dir / "manifest.json").exists():
            build_snapshot(Path(raw) if raw else default_raw_dir(), past_dir, arena_until=until)
        past = load_snapshot(past_dir)
    first = full["ratings"].groupby("model_id")["snapshot_date"].min()
    keys = sorted(first[first > pd.Timestamp(until)].index)
    index = QueryIndex.from_snapshot(past)
    fa = full["aliases"]
    full_id = dict(zip(zip(fa["source"], fa["alias"], strict=True), fa["model_id"], strict=True))
    pa = past["aliases"]
    pa = pa[(pa["source"] != "lmarena") & ~pa["source"].str.endswith(":display")]
    members: dict[str, list[tuple[str, str]]] = {}
    for s, al, m in zip(pa["source"], pa["alias"], pa["model_id"], strict=True):
        members.setdefault(m, []).append((s, al))
    full_index = QueryIndex.from_snapshot(full)
    others = fa[(fa["source"] != "lmarena") & ~fa["source"].str.endswith(":display")]
    n_other = others.groupby("model_id")["alias"].size()
    rows = []
    for key in keys:
        r = index.resolve(key)
        same = False
        full_ev = full_index.resolve(key).status == "ok"
        if r.model_id is not None:
            mem = members.get(r.model_id, [])
            aa = [m for m in mem if m[0] == "artificial-analysis"]
            pool = aa or mem
            ids = pd.Series([full_id.get(m) for m in pool]).dropna()
            same = not ids.empty and ids.value_counts().index[0] == key
        rows.append(
            {
                "key": key,
                "first_seen": first[key].date(),
                "status": r.status,
                "model_id": r.model_id,
                "rule": r.rule,
                "candidates": ";".join(r.candidates),
                "same_as_full": same,
                "full_has_benchmarks": full_ev,
                "full_other_sources": int(n_other.get(key, 0)),
            }
        )
    df = pd.DataFrame(rows)
    return {
        "until": until,
        "table": df,
        "n": len(df),
        "share_evidence": float((df["status"] == "ok").mean()) if len(df) else float("nan"),
        "share_same": float(df["same_as_full"].mean()) if len(df) else float("nan"),
        "n_full_evidence": int(df["full_has_benchmarks"].sum()) if len(df) else 0,
        "n_arena_only": int((df["full_other_sources"] == 0).sum()) if len(df) else 0,
    }


def format_time_travel(out: dict[str, Any]) -> str:
    df = out["table"]
    with pd.option_context("display.width", 200, "display.max_rows", 500):
        body = df.to_string(index=False)
    sub = df[df["full_has_benchmarks"]] if len(df) else df
    share_sub = float((sub["status"] == "ok").mean()) if len(sub) else float("nan")
    same_sub = float(sub["same_as_full"].mean()) if len(sub) else float("nan")
    lines = [
        f"{body}\n\narena keys first seen after {out['until']}: {out['n']}",
        f"resolved with benchmark evidence: {out['share_evidence']:.1%}",
        f"same model as the full-data resolver: {out['share_same']:.1%}",
        f"among the {len(sub)} keys the full data gives benchmark scores: "
        f"evidence {share_sub:.1%}, same model {same_sub:.1%}",
    ]
    if len(df):
        alone = df[df["full_other_sources"] == 0]
        rest = df[df["full_other_sources"] > 0]
        lines.append(
            f"{len(alone)} keys no other source lists even in the full data (arena only: "
            f"no evidence possible, 'unknown' is right): {int((alone['status'] == 'unknown').sum())}"
            f" unknown; among the other {len(rest)}: evidence "
            f"{float((rest['status'] == 'ok').mean()) if len(rest) else float('nan'):.1%}, "
            f"same model {float(rest['same_as_full'].mean()) if len(rest) else float('nan'):.1%}"
        )
    return "\n".join(lines)
