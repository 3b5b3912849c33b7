"""Query resolution (divergence.query) and entity parsing (divergence.entity)."""

from __future__ import annotations

import pandas as pd
import pytest

from divergence.entity import parse
from divergence.errors import DivergenceError
from divergence.query import QueryIndex, check_queries, entity_columns


@pytest.mark.parametrize(
    "a, da, oa, b, db, ob",
    [
        # AA display names decide the variant; arena -thinking = AA adaptive max effort
        (
            "claude-opus-4-6-adaptive",
            "Claude Opus 4.6 (Adaptive Reasoning, Max Effort)",
            "anthropic",
            "claude-opus-4-6-thinking",
            None,
            "anthropic",
        ),
        # quantisation, Bedrock packaging, routing suffixes: the same model
        ("nvidia-nemotron-3-nano-30b-a3b-bf16", None, None, "nemotron-3-nano-30b-a3b", None, None),
        ("us.anthropic.claude-opus-4-6-v1:0", None, None, "claude-opus-4-6", None, None),
        ("anthropic/claude-opus-4.7:batch", None, None, "claude-opus-4-7", None, None),
        ("llama3.1:405b", None, None, "meta-llama/Llama-3.1-405B-Instruct", None, None),
        ("zai-org/GLM-5.1-FP8", None, None, "glm-5.1", None, None),
        # a version dot is no Bedrock vendor prefix; a vendor dot is
        ("MiniMax-M2.5", None, None, "minimax-m2-5", None, None),
        ("minimax.minimax-m2.5", None, None, "minimax-m2-5", None, None),
        ("cerebras/zai-glm-4.7", None, None, "glm-4-7", None, None),
    ],
)
def test_same_entity(a, da, oa, b, db, ob):
    assert parse(a, da, oa).key == parse(b, db, ob).key


@pytest.mark.parametrize(
    "a, da, b, db",
    [
        ("gpt-5-2", "GPT-5.2 (xhigh)", "gpt-5.2-high", None),
        ("glm-4-7", "GLM-4.7 (Reasoning)", "glm-4-7-non-reasoning", "GLM-4.7 (Non-reasoning)"),
        ("qwen3-235b-a22b-instruct-2507", None, "qwen3-235b-a22b-thinking-2507", None),
        ("claude-opus-4-6-thinking-120K-low", None, "claude-opus-4-6-thinking-120K-medium", None),
        ("gpt-4o-2024-05-13", None, "gpt-4o-2024-08-06", None),
        ("gpt-3.5-turbo-instruct", None, "gpt-3.5-turbo", None),
    ],
)
def test_distinct_variants_stay_distinct(a, da, b, db):
    ea, eb = parse(a, da), parse(b, db)
    assert (ea.key, ea.date) != (eb.key, eb.date)


def _index():
    aliases = pd.DataFrame(
        [
            ("claude-opus-4-6-thinking", "lmarena", "claude-opus-4-6-thinking"),
            ("claude-opus-4-7-adaptive", "artificial-analysis", "claude-opus-4-7-thinking"),
            (
                "Claude Opus 4.7 (Adaptive Reasoning, Max Effort)",
                "artificial-analysis:display",
                "claude-opus-4-7-thinking",
            ),
            ("claude-opus-4-7", "litellm", "claude-opus-4-7"),
            ("gpt-4o", "artificial-analysis", "chatgpt-4o-latest-20241120"),
            ("gpt-4o", "litellm", "gpt-4o-20241120"),
            ("gpt-4o-2024-05-13", "lmarena", "gpt-4o-2024-05-13"),
            ("kimi-k2-5-non-reasoning", "artificial-analysis", "kimi-k2-5-non-reasoning"),
        ],
        columns=["alias", "source", "model_id"],
    )
    ev = {
        "claude-opus-4-7-thinking": (11, ["artificial-analysis"]),
        "gpt-4o-2024-05-13": (5, ["aa"]),
    }
    return QueryIndex(aliases, ev)


def test_statuses_rules_and_unseen_keys():
    idx = _index()
    r = idx.resolve("Claude Opus 4.7 (Adaptive Reasoning, Max Effort)")
    assert (r.status, r.model_id, r.rule) == ("ok", "claude-opus-4-7-thinking", "alias")
    assert "11 benchmarks" in r.evidence
    # an arena key the index has never seen meets AA's display-name variant
    r = idx.resolve("claude-opus-4-7-thinking")
    assert r.model_id == "claude-opus-4-7-thinking"
    r = idx.resolve("  CLAUDE-OPUS-4-7 ")
    assert (r.status, r.model_id) == ("no_benchmarks", "claude-opus-4-7")
    r = idx.resolve("GPT-4o")
    assert r.status == "ambiguous" and r.model_id is None and len(r.candidates) >= 2
    r = idx.resolve("kimi-k2.5-instant")
    assert (r.model_id, r.rule) == ("kimi-k2-5-non-reasoning", "nearest_variant")
    r = idx.resolve("claude-opus-4-7-thinkng")
    assert r.status in {"unknown", "ok"}
    r = idx.resolve("zzz-not-a-model-at-all")
    assert r.status == "unknown" and len(r.suggestions) <= 3


def test_precomputed_columns_give_the_same_answers():
    idx = _index()
    pre = QueryIndex(entity_columns(idx._a[idx._a["source"] != "model_id"]), idx.evidence)
    for q in ["claude-opus-4-7-thinking", "GPT-4o", "kimi-k2.5-instant", "gpt-4o-2024-05-13"]:
        a, b = idx.resolve(q), pre.resolve(q)
        assert (a.status, a.model_id, a.candidates) == (b.status, b.model_id, b.candidates)


@pytest.mark.parametrize(
    "bad, match",
    [
        ([""], "empty"),
        (["  "], "empty"),
        (["gpt\x00-4o"], "control character"),
        (["a" * 1000], "longer than"),
        ([f"m{i}" for i in range(10_000)], "at most"),
        ([], "no model"),
        ([3], "not a string"),
    ],
)
def test_bad_queries_one_line_error(bad, match):
    with pytest.raises(DivergenceError, match=match) as exc:
        check_queries(bad)  # the CLI checks every name
    assert "\n" not in str(exc.value)


def test_single_string_is_one_query():
    assert check_queries("claude-opus-4-6") == ["claude-opus-4-6"]


def test_snapshot_resolves_aa_display_names(snapshot):
    idx = QueryIndex.from_snapshot(snapshot)
    for q, want in [
        ("Claude Opus 4.6 (Adaptive Reasoning, Max Effort)", "claude-opus-4-6-thinking"),
        ("Kimi K2.5 (Reasoning)", "kimi-k2.5-thinking"),
        ("claude-opus-4-6", "claude-opus-4-6"),
    ]:
        r = idx.resolve(q)
        assert (r.status, r.model_id) == ("ok", want), (q, r)
    # never the silent pick of old (gpt-4o -> chatgpt-4o-latest-20241120)
    r = idx.resolve("GPT-4o")
    assert r.status in {"ambiguous", "no_benchmarks"}
    assert r.model_id != "chatgpt-4o-latest-20241120"
    if r.status == "no_benchmarks":  # the routing alias: its scored namesakes are offered
        assert r.candidates and all(idx.evidence[m][0] > 0 for m in r.candidates)
        assert r.model_id not in r.candidates


def test_snapshot_base_model_is_not_a_silent_pick(snapshot):
    idx = QueryIndex.from_snapshot(snapshot)
    r = idx.resolve("Llama 3.1 405B")  # the base or the instruct model?
    assert r.status == "ambiguous" and r.model_id is None
    assert {"llama-3-1-405b", "llama-3.1-405b-instruct"} <= set(r.candidates)
    assert idx.resolve("Llama 3.1 405B (base)").model_id == "llama-3-1-405b"
    assert idx.resolve("Llama 3.1 405B Instruct").model_id == "llama-3.1-405b-instruct"


def test_base_guard_only_acts_on_a_base_model_with_a_tuned_namesake():
    aliases = pd.DataFrame(
        [
            ("Foo 2 70B (base)", "openrouter-catalog:display", "foo-2-70b"),
            ("foo-2-70b", "models.dev", "foo-2-70b"),
            ("foo-2-70b-instruct", "lmarena", "foo-2-70b-instruct"),
            ("Bar 3 8B (base)", "openrouter-catalog:display", "bar-3-8b"),
            ("bar-3-8b", "models.dev", "bar-3-8b"),
        ],
        columns=["alias", "source", "model_id"],
    )
    idx = QueryIndex(aliases, {"foo-2-70b-instruct": (3, ["aa"]), "bar-3-8b": (2, ["aa"])})
    r = idx.resolve("Foo 2 70B")
    assert (r.status, r.candidates) == ("ambiguous", ["foo-2-70b", "foo-2-70b-instruct"])
    assert idx.resolve("foo 2 70b base").model_id == "foo-2-70b"
    assert idx.resolve("foo-2-70b").model_id == "foo-2-70b"  # a source's own id is explicit
    r = idx.resolve("Bar 3 8B")  # no tuned namesake: the base model is the answer
    assert (r.status, r.model_id) == ("ok", "bar-3-8b")


def test_api_answers_bad_names_unknown():
    rs = _index().resolve_many(["claude-opus-4-7", "", None, "x\x07"])
    assert [r.status for r in rs] == ["no_benchmarks", "unknown", "unknown", "unknown"]
    assert rs[1].rule.startswith("invalid")


def test_labelled_identity_set_targets():
    from divergence.identity_eval import evaluate_labels

    out = evaluate_labels()
    assert out["rows"] >= 300
    assert out["snapshot"]["precision"] >= 0.99 and out["snapshot"]["recall"] >= 0.95
    assert out["query"]["precision"] >= 0.98 and out["query"]["recall"] >= 0.95


def test_every_aa_miss_is_explained(snapshot):
    from divergence.coverage import coverage, explain_unmatched

    _per, unmatched = coverage(snapshot)
    table = explain_unmatched(snapshot, unmatched)
    assert (table["reason"] != "UNEXPLAINED").all(), table[table["reason"] == "UNEXPLAINED"]
    assert table["nearest_aa"].str.len().gt(0).all()


def test_ids_beat_display_names_and_unversioned_names():
    aliases = pd.DataFrame(
        [
            # a display name of one source equals another source's id
            ("gpt-9", "litellm", "gpt-9-non-reasoning"),
            ("gpt-9", "models.dev", "gpt-9-non-reasoning"),
            ("GPT-9", "arc-agi:display", "gpt-9-20260101-thinking-none"),
            # a catalogue display name drops the variant word of its id
            ("acme/ernie-9-thinking-preview", "models.dev", "ernie-9-thinking"),
            ("ERNIE 9", "models.dev:display", "ernie-9-thinking"),
            ("granite-9-0-h-small", "artificial-analysis", "granite-9-0-h-small"),
            ("watsonx/ibm/granite-9-h-small", "litellm", "granite-9-0-h-small"),
            ("nova-9", "artificial-analysis", "nova-9"),
            ("nova-8", "artificial-analysis", "nova-8"),
        ],
        columns=["alias", "source", "model_id"],
    )
    idx = QueryIndex(aliases, {})
    r = idx.resolve("GPT-9")
    assert (r.model_id, r.rule) == ("gpt-9-non-reasoning", "alias")
    assert any(m.startswith("gpt-9-20260101-thinking-none") for m, _why in r.rejected)
    assert idx.resolve("ernie-9-1022").status == "unknown"
    # no version number: the one model whose words match
    r = idx.resolve("ibm-granite-h-small")
    assert (r.model_id, r.rule) == ("granite-9-0-h-small", "unversioned")
    # never for a dated name or a bare family word
    assert idx.resolve("amazon-nova-experimental-chat-11-10").status == "unknown"
    assert idx.resolve("nova").status in ("unknown", "ambiguous")


def test_time_travel_report_counts_arena_only_keys_apart():
    from divergence.identity_eval import format_time_travel

    table = pd.DataFrame(
        {
            "key": ["a", "b", "c", "d"],
            "status": ["ok", "ok", "no_benchmarks", "unknown"],
            "same_as_full": [True, False, True, False],
            "full_has_benchmarks": [True, True, False, False],
            "full_other_sources": [5, 3, 2, 0],
        }
    )
    out = {"until": "2025-12-17", "table": table, "n": 4, "share_evidence": 0.5, "share_same": 0.5}
    text = format_time_travel(out)
    assert "resolved with benchmark evidence: 50.0%" in text
    assert "1 keys no other source lists" in text and ": 1 unknown; among the other 3" in text
    assert "evidence 66.7%, same model 66.7%" in text
