"""Divergence report: structure, hand-checkable numbers, atomic writes, bad input (real snapshot)."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr

from conftest import SNAPSHOT, run_cli
from divergence import reports
from divergence.analysis import AA_INDEX, DOMAINS, analyse, half_year
from divergence.errors import DivergenceError
from divergence.reports import render_report, write_report
from divergence.snapshot import load_snapshot, write_snapshot

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
SECTIONS = [
    "findings",
    "predictor",
    "divergence",
    "open-closed",
    "reliability",
    "claimed",
    "domains",
    "coverage",
    "appendix",
]


@pytest.fixture(scope="module")
def tables():
    return load_snapshot(SNAPSHOT)


@pytest.fixture(scope="module")
def analysis(tables):
    return analyse(tables, n_boot=200, seed=0)


@pytest.fixture(scope="module")
def report(analysis, tmp_path_factory):
    out = tmp_path_factory.mktemp("rep") / "report"
    return render_report(analysis, out, log_to_mlflow=False)


def _direct_overall(tables) -> pd.DataFrame:
    """Latest style-board overall rating per model, raw board shifted for the rest (by hand)."""
    r = tables["ratings"]
    r = r[r["category"] == "full"].sort_values(
        ["model_id", "snapshot_date", "source"], kind="mergesort"
    )
    last = {
        b: r[r["board"] == b]
        .drop_duplicates("model_id", keep="last")
        .set_index("model_id")["rating_norm"]
        for b in ["style", "raw"]
    }
    both = last["style"].index.intersection(last["raw"].index)
    shift = float(np.median(last["style"][both] - last["raw"][both]))
    raw_only = last["raw"].drop(last["style"].index, errors="ignore") + shift
    val = pd.concat([last["style"], raw_only]).rename("rating")
    models = tables["models"].set_index("model_id")
    return pd.DataFrame(
        {
            "rating": val,
            "release": models["release_date"].reindex(val.index),
            "open": models["open_weights"].reindex(val.index),
        }
    )


# ---------------------------------------------------------------------------- structure


def test_report_files_and_sections(report):
    d = report["dir"]
    assert report["html"] == d / "report.html" and report["html"].is_file()
    html = report["html"].read_text(encoding="utf-8")
    pos = [html.index(f'id="{sec}"') for sec in SECTIONS]
    assert pos == sorted(pos)  # sections in reading order
    assert all(f'href="#{sec}"' in html for sec in SECTIONS)  # table of contents
    assert len(report["figures"]) == len(reports.FIGURES) >= 8
    for p in report["figures"]:
        data = p.read_bytes()
        assert p.parent == d and data[:8] == PNG_MAGIC
        w, h = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
        assert w >= 600 and h >= 300, p.name
    # self-contained: every figure embedded, nothing loaded from elsewhere
    assert html.count('src="data:image/png;base64,') == len(report["figures"])
    assert not re.search(r'(src|href)="(?!data:|#|tables/)', html)
    assert "<details>" in html and 'href="tables/claimed_pairs.csv"' in html
    for t in report["tables"]:
        assert pd.read_csv(t).shape[0] > 0, t.name


def test_domain_profile_section(report, analysis, tables, tmp_path):
    """Without a per-domain predictor the section says how to get one; with one (two served
    domains from the shipped champion, one unserved) it holds the profile and gap figures,
    predicted and measured rows marked apart, and links its CSVs (files in domains/)."""
    import shutil

    from conftest import REPO
    from divergence.domains import load_domain_predictor

    html = report["html"].read_text(encoding="utf-8")
    sec = html[html.index('id="domains"') : html.index('id="coverage"')]
    assert "divergence sweep" in sec and "<img" not in sec
    src = tmp_path / "dp"
    for d in ["overall", "legal"]:
        shutil.copytree(REPO / "models" / "divergence-utility" / "predictor", src / d)
    entries = [
        {"domain": "overall", "category": "full", "board": "style", "status": "ok"},
        {"domain": "thin", "category": "x", "board": "style", "status": "insufficient_ratings"},
        {
            "domain": "legal",
            "category": "industry_legal_and_government",
            "board": "style",
            "status": "ok",
        },
    ]
    for e in entries:
        e["model_uri"] = "models:/m/1" if e["status"] == "ok" else None
    (src / "domains.json").write_text(json.dumps({"domains": entries}))
    dp = load_domain_predictor(src)
    # the report's own pieces (write_files runs exactly these), without re-rendering its figures
    from divergence.reports.domains import section_html, write_domain_files
    from divergence.reports.html import img, render_html, table

    res = write_domain_files(dp, tables, tmp_path)
    html = render_html(analysis, {}, "", section_html(res, dp, img, table))
    sec = html[html.index('id="domains"') : html.index('id="coverage"')]
    assert sec.count('src="data:image/png;base64,') == 2
    assert "PREDICTED" in sec and "measured (arena)" in sec and "thin (insufficient_ratings)" in sec
    assert not re.search(r'(src|href)="(?!data:|#|tables/|domains/)', html)
    prof = pd.read_csv(tmp_path / "domains" / "domain_profile.csv")
    assert set(prof["domain"]) == {"overall", "legal"}
    assert (prof["lower_90"] <= prof["predicted"]).all()
    gap = pd.read_csv(tmp_path / "domains" / "domain_gap.csv")
    assert set(gap["kind"]) == {"measured", "predicted"}


def test_findings_json_is_strict_and_complete(report):
    f = json.loads(
        report["findings_json"].read_text(), parse_constant=lambda c: pytest.fail(f"non-JSON {c}")
    )
    assert f == report["findings"]
    for key in [
        "divergence",
        "open_closed_by_domain",
        "frontier_mean_lag",
        "frontier_overstatement_months",
        "reliability",
        "claimed_minus_independent_points",
        "claimed_by_organization",
    ]:
        assert f[key], key
    for st in f["open_closed_by_domain"].values():
        assert st["ci_lo"] <= st["value"] <= st["ci_hi"] and st["n"] > 0
    # one number per concept: the headline quotes the table's value
    oc = f["open_closed_by_domain"]["overall|average"]
    c = f["claimed_minus_independent_points"]
    assert c["ci_lo"] <= c["value"] <= c["ci_hi"] and c["n"] >= 100
    assert reports.headline_sentences  # sentences are generated, and appear in the HTML
    html = report["html"].read_text(encoding="utf-8")
    assert f"{c['value']:.1f} [" in html
    assert f"overall {oc['value']:.1f} [{oc['ci_lo']:.1f}, {oc['ci_hi']:.1f}]" in html


def test_frontier_covers_expert_and_industry_boards(analysis):
    measures = set(analysis.frontier["measure"])
    assert {"arena:full", "arena:expert", AA_INDEX, "epoch.eci", "eng.general_factor"} <= measures
    assert any(m.startswith("arena:industry_") for m in measures)
    assert {f"composite:{d}" for d in DOMAINS} <= measures
    q = analysis.frontier["quarter"]
    assert q.min() == "2023Q1" and q.max() >= "2026Q1"


# ---------------------------------------------------------------------------- numbers by hand


@pytest.mark.parametrize("quarter", ["2023Q4", "2024Q4", "2025Q2", "2026Q1"])
def test_best_closed_and_open_of_quarter_equal_direct_max(analysis, tables, quarter):
    direct = _direct_overall(tables)
    end = pd.Period(quarter, freq="Q").end_time
    avail = direct[direct["release"] <= end]
    row = analysis.frontier[
        (analysis.frontier["measure"] == "arena:full") & (analysis.frontier["quarter"] == quarter)
    ].iloc[0]
    closed = avail[avail["open"] == False]["rating"]  # noqa: E712
    opened = avail[avail["open"] == True]["rating"]  # noqa: E712
    assert row["best_closed_value"] == pytest.approx(closed.max())
    assert row["best_closed"] == closed.idxmax()
    assert row["best_open_value"] == pytest.approx(opened.max())
    assert row["gap"] == pytest.approx(opened.max() - closed.max())
    assert row["gap_ci_lo"] <= row["gap"] <= row["gap_ci_hi"]


def test_lag_is_months_since_closed_reached_open_level(analysis, tables):
    direct = _direct_overall(tables)
    row = analysis.frontier[
        (analysis.frontier["measure"] == "arena:full") & (analysis.frontier["quarter"] == "2025Q4")
    ].iloc[0]
    end = pd.Timestamp("2025-12-31")
    closed = direct[(direct["open"] == False) & (direct["release"] <= end)]  # noqa: E712
    first = closed.loc[closed["rating"] >= row["best_open_value"], "release"].min()
    assert row["lag_months"] == pytest.approx((end - first).days / (365.25 / 12))


def test_divergence_is_actual_minus_out_of_time_implied(analysis, tables):
    d = analysis.divergence
    direct = _direct_overall(tables)
    assert len(d) > 150
    np.testing.assert_allclose(d["divergence"], d["actual"] - d["implied"])
    np.testing.assert_allclose(d["actual"], direct["rating"].reindex(d.index))
    # out of time: trained only on rated models released before the model's month
    for mid in ["gpt-4o-2024-05-13", "deepseek-r1"]:
        if mid not in d.index:
            continue
        start = d.loc[mid, "release_date"].to_period("M").start_time
        assert d.loc[mid, "n_train"] <= int((direct["release"] < start).sum())
    # drift removed: the adjusted divergence averages 0 within every release quarter
    assert d.groupby("quarter")["divergence_adj"].mean().abs().max() < 1e-6
    assert (d["ci_lo"] <= d["divergence_adj"]).all() and (d["divergence_adj"] <= d["ci_hi"]).all()
    # flagged only with >= K scores, beyond the band, and after BH
    fl = d[d["flagged"]]
    assert (fl["n_scores"] >= analysis.info["min_scores"]).all()
    assert ((fl["ci_lo"] > 0) | (fl["ci_hi"] < 0)).all()
    assert (fl["q"] < 0.05).all() and d.loc[~d["eligible"], "flagged"].sum() == 0


def test_bh_and_block_bootstrap_by_hand():
    from divergence.analysis.common import bh, block_indices

    q = bh(np.array([0.01, 0.04, 0.03, np.nan, 0.5]))
    np.testing.assert_allclose(q[[0, 1, 2, 4]], [0.04, 0.04 * 4 / 3, 0.04 * 4 / 3, 0.5])
    assert np.isnan(q[3])
    idx = block_indices(8, 50, np.random.default_rng(0), block=3)
    assert idx.shape == (50, 8)
    # consecutive positions (mod 8) inside each block of 3
    assert ((idx[:, 1] - idx[:, 0]) % 8 == 1).all() and ((idx[:, 2] - idx[:, 1]) % 8 == 1).all()


def test_reliability_panel_is_fixed_and_corrected(analysis):
    rs = analysis.info["reliability"]
    cells = analysis.reliability.dropna(subset=["spearman"])
    have = cells[cells["cohort"].isin(rs["cohorts"])].groupby("benchmark")["cohort"].nunique()
    assert set(have[have == len(rs["cohorts"])].index) == set(rs["benchmarks"])
    assert len(analysis.reliability_panel) == len(rs["cohorts"])
    ch = analysis.reliability_changes
    assert set(ch["benchmark"]) == set(rs["benchmarks"])
    assert rs["declines_bh"] == int(((ch["q"] < 0.05) & (ch["change"] < 0)).sum())
    assert isinstance(rs["weakening_holds"], bool)
    # the correction raises a positive correlation when the cohort's spread is restricted
    c = cells[(cells["spread"] < analysis.reliability["spread"].max()) & (cells["spearman"] > 0)]
    assert len(c) and (c["spearman_corrected"] >= c["spearman"] - 1e-12).mean() > 0.5


def test_reliability_spearman_matches_scipy(analysis, tables):
    from divergence.features import load_spec, model_frame

    r = analysis.reliability
    row = r[(r["benchmark"] == AA_INDEX) & r["spearman"].notna()].iloc[-1]
    X = model_frame(tables, load_spec("benchmarks_only"))
    direct = _direct_overall(tables)["rating"]
    rel = tables["models"].set_index("model_id")["release_date"]
    coh = half_year(rel.reindex(X.index))
    j = pd.DataFrame({"x": X[AA_INDEX], "y": direct.reindex(X.index)})[
        coh == row["cohort"]
    ].dropna()
    assert len(j) == row["n"]
    assert row["spearman"] == pytest.approx(spearmanr(j["x"], j["y"]).statistic)
    assert row["ci_lo"] <= row["spearman"] <= row["ci_hi"]
    sat = r.dropna(subset=["saturation"])
    assert sat["saturation"].between(0, 1).all()


def test_claimed_pair_by_hand(analysis, tables):
    b = tables["benchmarks"]
    pairs = analysis.claimed
    mid = "claude-3-5-sonnet-20240620"
    row = pairs[(pairs["model_id"] == mid) & (pairs["benchmark"] == "GPQA diamond")].iloc[0]
    m = b[b["model_id"] == mid].set_index("benchmark")["score"]
    assert row["claimed"] == pytest.approx(100 * m["llmstats:gpqa"])
    assert row["independent"] == pytest.approx(100 * (m["aa:gpqa"] + m["epoch:gpqa_diamond"]) / 2)
    assert row["gap"] == pytest.approx(row["claimed"] - row["independent"])
    # scales harmonised: everything on 0-100
    assert pairs["claimed"].between(0, 100).all() and pairs["independent"].between(0, 100).all()
    # best over reasoning-effort variants: Claude 3.7 Sonnet's AIME is paired with its thinking runs
    c37 = pairs[
        (pairs["model_id"] == "claude-3-7-sonnet-20250219") & (pairs["benchmark"] == "AIME 2024")
    ]
    if len(c37):
        assert "thinking" in c37.iloc[0]["variants"]


# ---------------------------------------------------------------------------- atomicity, safety


def _snapshot_files(d: Path) -> dict[str, bytes]:
    return {str(p.relative_to(d)): p.read_bytes() for p in sorted(d.rglob("*")) if p.is_file()}


def test_failure_mid_write_keeps_previous_report(analysis, report, tmp_path, monkeypatch):
    out = tmp_path / "reports"
    shutil.copytree(report["dir"], out)  # a previous report
    before = _snapshot_files(out)

    def boom(*args, **kwargs):
        raise RuntimeError("disk full while writing the HTML")

    monkeypatch.setattr(reports, "render_html", boom)  # figures are already written by then
    with pytest.raises(RuntimeError, match="disk full"):
        render_report(analysis, out, log_to_mlflow=False)
    assert _snapshot_files(out) == before
    assert [p.name for p in tmp_path.iterdir()] == ["reports"]  # no temporary leftovers


def test_report_is_not_rebuilt_when_inputs_are_unchanged(analysis, tables, tmp_path):
    out = tmp_path / "rep"
    key = reports.input_key(tables, analysis.champion, 200, 0)
    render_report(analysis, out, log_to_mlflow=False, key=key)
    res = write_report(
        tables, out, log_to_mlflow=False, n_boot=200, seed=0, champion=analysis.champion
    )
    assert res["rebuilt"] is False and res["findings"] == json.loads(
        (out / "findings.json").read_text()
    )
    assert key["snapshot_sha256"][:12] in (out / "report.html").read_text(encoding="utf-8")
    other = {**tables, "models": tables["models"].iloc[:-1]}
    assert reports.input_key(other, analysis.champion, 200, 0) != key


def test_refuses_to_replace_a_foreign_directory(analysis, tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    with pytest.raises(DivergenceError, match="refusing to replace"):
        render_report(analysis, out, log_to_mlflow=False)
    assert (out / "notes.txt").read_text() == "keep me"


# ---------------------------------------------------------------------------- bad input


def test_empty_ratings_table_is_a_one_line_error(tables, tmp_path):
    bad = dict(tables)
    bad["ratings"] = tables["ratings"].iloc[:0]
    with pytest.raises(DivergenceError) as exc:
        write_report(bad, tmp_path / "r", log_to_mlflow=False)
    msg = str(exc.value)
    assert "ratings" in msg and "empty" in msg and "\n" not in msg
    assert not (tmp_path / "r").exists()


def test_missing_table_and_missing_overall_board(tables, tmp_path):
    with pytest.raises(DivergenceError, match="benchmarks"):
        write_report(
            {k: v for k, v in tables.items() if k != "benchmarks"},
            tmp_path / "r",
            log_to_mlflow=False,
        )
    r = tables["ratings"]
    bad = {**tables, "ratings": r[r["category"] != "full"]}
    with pytest.raises(DivergenceError, match="overall"):
        write_report(bad, tmp_path / "r", log_to_mlflow=False)


def test_cli_report_on_empty_ratings_exits_2_with_one_line(tables, tmp_path):
    bad = dict(tables)
    bad["ratings"] = tables["ratings"].iloc[:0]
    snap = tmp_path / "snap"
    write_snapshot(bad, snap, provenance={})
    res = run_cli(
        ["report", "--snapshot", str(snap), "--no-mlflow", "--out", str(tmp_path / "out")],
        timeout=120,
    )
    assert res.returncode == 2, res.stderr[-2000:]
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "ratings" in lines[0] and "Traceback" not in res.stderr
    assert not (tmp_path / "out").exists()


# ---------------------------------------------------------------------------- MLflow


def test_logs_html_pngs_and_findings_to_mlflow(analysis, tmp_path, monkeypatch):
    import mlflow
    from mlflow.tracking._tracking_service import utils as tracking_utils

    prev = tracking_utils._tracking_uri
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    for k in ["MLFLOW_RUN_ID", "MLFLOW_EXPERIMENT_ID", "MLFLOW_EXPERIMENT_NAME"]:
        monkeypatch.delenv(k, raising=False)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    mlflow.set_tracking_uri(uri)
    try:
        res = render_report(analysis, tmp_path / "rep", log_to_mlflow=True)
        client = mlflow.MlflowClient(uri)
        run = client.get_run(res["run_id"])
        assert client.get_experiment(run.info.experiment_id).name == "divergence-report"
        names = {a.path for a in client.list_artifacts(res["run_id"], "report")}
        assert {"report/report.html", "report/findings.json", "report/frontier_gap.png"} <= names
        assert run.data.metrics["report.divergence.implied_rmse"] == pytest.approx(
            res["findings"]["divergence"]["implied_rmse"]
        )
        assert "report.claimed_minus_independent_points.ci_lo" in run.data.metrics
    finally:
        mlflow.set_tracking_uri(prev)


def test_update_readme_rewrites_only_the_marked_block(tmp_path):
    """The README findings block is produced from a report, never edited by hand."""
    from divergence.errors import DivergenceError
    from divergence.reports import README_END, README_FIGURES, README_START, update_readme

    rep = tmp_path / "rep"
    rep.mkdir()
    (rep / "headline.md").write_text("- finding one 1.0 [0.5, 1.5]\n")
    png = b"\x89PNG\r\n\x1a\n" + b"0" * 16
    for name in README_FIGURES:
        (rep / name).write_bytes(png)
    readme = tmp_path / "README.md"
    readme.write_text(f"# x\n\nbefore\n{README_START}\nold text\n{README_END}\nafter\n")
    update_readme(rep, readme, tmp_path / "docs" / "figures")
    text = readme.read_text()
    assert "old text" not in text and "- finding one 1.0 [0.5, 1.5]" in text
    assert text.startswith("# x\n\nbefore\n") and text.endswith("after\n")
    assert f"](docs/figures/{README_FIGURES[0]})" in text
    assert (tmp_path / "docs" / "figures" / README_FIGURES[0]).read_bytes() == png
    readme.write_text("no markers\n")
    with pytest.raises(DivergenceError, match="markers not found"):
        update_readme(rep, readme, tmp_path / "docs" / "figures")
