"""Model identity: canonical model ids and the alias table.

The canonical id of a model is its LMArena model key (``gpt-4o-2024-05-13``,
``claude-3-5-sonnet-20241022``, ``gemini-2.5-pro``) when the model is on the arena. A
model seen only in other sources gets ``normalize(source_model)`` as its id, so a model
released after the last arena snapshot (2026-03-31) still has one stable id.

Resolution order for each ``(source, source_model)`` (the ``rule`` column of
:attr:`Resolver.aliases`):

``arena_key``
    the arena key itself (source ``"lmarena"``).
``alias_table``
    a reviewed row of ``src/divergence/data/aliases.csv`` (source, source_model,
    model_id, note). The table wins over every automatic rule.
``exact``
    ``source_model`` is verbatim an arena key.
``normalized``
    ``normalize(source_model)`` equals the normalised form of exactly one arena key.
``display_name``
    ``normalize(display_name)`` equals the normalised arena key or arena display name
    of exactly one arena key, the organizations and dates do not conflict, and
    ``source_model`` itself carries no date or effort suffix (family-level display
    names such as Epoch's "Mistral Small" would otherwise merge distinct snapshots).
``variant``
    a thinking-budget id ``X_32K`` whose arena key ``X-thinking-32k`` exists; or
    the source reports a reasoning-effort variant (``o3-2025-04-16_high``,
    ``claude-3-7-sonnet-20250219_16K``, ``gpt-oss-120b (high)``) of a model the arena
    lists once: the effort suffix is dropped and the rest must match one arena key.
``dated``
    the source names a model without a snapshot date and the arena has dated keys of
    it: the key whose date (or first_seen) is the closest on or after the source's
    release date, same organization, at most 60 days apart.
``loose``
    the same id spelled differently (:func:`_loose_forms`, :func:`_order_key`): words in
    another order (``claude-4-opus-20250514`` = ``claude-opus-4-20250514``; numbers keep
    their order), ``-hf`` and a vendor prefix (``meta-``, ``nvidia-``) dropped, Claude's
    LiveBench ``-base`` (no thinking) dropped, ``-instruct``/``-chat`` dropped except
    for Qwen3 (non-thinking variant) and GPT (ChatGPT model), a short date given the
    year of the release date (``-0903`` -> ``-20240903``) or a full one shortened.
``undated``
    a dated snapshot id (``o1-mini-2024-09-12``, OpenRouter permaslugs
    ``z-ai/glm-5-20260211``) of a model the arena lists only undated; the date must be
    compatible with the arena key.
``new_model``
    not on the arena: ``normalize(source_model)``; if that string is an arena key (the
    id failed the organization/date checks) the source name is appended, so no implicit
    join bypasses the hard rule. Two sources' aliases of one
    non-arena model share an id when their normalised ids agree or when the alias
    table maps them to one id.

Variants. Thinking/reasoning and effort variants are distinct models; the arena lists
some models once (``gpt-oss-120b``) and some per variant (``gpt-5-high``,
``claude-opus-4-1-20250805-thinking-16k``). A source that reports one variant only is
mapped to the arena key with the same variant when it exists, otherwise to the plain
key (rule ``variant``). Artificial Analysis ``(Reasoning)`` entries map to the arena
``-thinking`` key and ``(Non-reasoning)`` entries to the plain key; these pairs are
reviewed in the alias table.

Effort variants of a model the arena lists per effort (``gpt-5.1`` and ``gpt-5.1-high``)
map only to the same effort; the plain key then means one specific effort. The
``display_name`` rule refuses ids carrying a kind word the key lacks (``base``, ``code``,
``lite``, ``thinking``...). Organization strings listing co-developers
(``"Google DeepMind,Google"``) are split; two models agree when they share one.

Hard rule, checked by :meth:`Resolver.violations`: no alias joins models of two
different organizations, or models whose release dates are more than 60 days apart.
The date of an arena key is the date in the key when it has a full one
(``20240513``/``2024-05-13``), otherwise the window between the previous arena
snapshot and ``first_seen``.

Normalisation decisions (:func:`normalize`): lower case, ASCII only; vendor prefixes
(everything up to the last ``/``) dropped; OpenRouter routing suffixes ``:free``,
``:beta``, ``:extended``, ``:nitro``, ``:floor``, ``:online``, ``:exacto`` dropped, but
``:thinking`` kept as ``-thinking``; every other separator or punctuation (space,
``_``, ``.``, ``@``, ``:``, parentheses, apostrophes) becomes ``-``, so ``3.5`` and
``3-5`` agree (``35`` does not: the alias table covers it); full dates ``2024-05-13``
become ``20240513``; ``-latest`` is kept (``chatgpt-4o-latest`` is its own arena model);
four-digit ``-0513`` suffixes are kept as they are (the year is unknown). Effort
suffixes are normalised (``_16K`` -> ``-16k``, ``(high)`` -> ``-high``), not dropped.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import pandas as pd

from divergence.errors import SourceError
from divergence.sources._io import read_csv

ALIAS_COLUMNS = ["source", "source_model", "model_id", "note"]
ALIAS_OUTPUT_COLUMNS = ["alias", "source", "model_id", "rule"]
MAX_DAYS_APART = 60

_ROUTING_SUFFIX = re.compile(r":(free|beta|extended|nitro|floor|online|exacto)$")
_FULL_DATE = re.compile(r"(?<![0-9])(20[0-9]{2})-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])(?![0-9])")
_EFFORT = re.compile(
    r"-(?:(?:x|extra-)?high|medium|low|minimal|max|default|[0-9]+k|"
    r"reasoning-(?:high|medium|low)|thinking-(?:high|medium|low|minimal)|"
    r"(?:auto-)?(?:x|extra-)?(?:high|medium|low|max)-effort|highthinking)$"
)
# Words that do not name a different model: dropped by the ``loose`` rule.
_NOISE = {"hf"}
# (suffix, families where it does name another model): Claude "-base" is LiveBench's
# no-thinking run (DeepSeek "-base" is a pretrained model); "-chat" of GPT is the
# ChatGPT model; "-instruct" of Qwen3 is the non-thinking variant.
_TRAILING_NOISE = (
    ("-base", r"^(?!claude)"),
    ("-instruct", r"^qwen3"),
    ("-chat", r"^(gpt|chatgpt)"),
    ("-it", r"^$"),
)
_VENDOR_PREFIX = re.compile(r"^(?:meta|nvidia|ibm|amazon|mistralai|google|openai|anthropic)-(?=.)")
_KEY_DATE = re.compile(r"(?<![0-9])(20[0-9]{2})(0[1-9]|1[0-2])(0[1-9]|[12][0-9]|3[01])(?![0-9])")
_DATE_SUFFIX = re.compile(
    r"-(?:20[0-9]{6}|[0-9]{4}|[0-9]{2}-[0-9]{2}|[0-9]{2}-20[0-9]{2}|20[0-9]{2}-[0-9]{2})$"
)

# Canonical organization names: normalised spelling -> canonical.
_ORG_SYNONYMS = {
    "google": "google",
    "googledeepmind": "google",
    "deepmind": "google",
    "openai": "openai",
    "anthropic": "anthropic",
    "meta": "meta",
    "metaai": "meta",
    "facebook": "meta",
    "alibaba": "alibaba",
    "qwen": "alibaba",
    "alibabacloud": "alibaba",
    "zhipu": "zhipu",
    "zhipuai": "zhipu",
    "zaiorg": "zhipu",
    "tsinghua": "zhipu",
    "z": "zhipu",
    "zai": "zhipu",
    "thudm": "zhipu",
    "xai": "xai",
    "spacexai": "xai",
    "deepseek": "deepseek",
    "deepseekai": "deepseek",
    "mistral": "mistral",
    "mistralai": "mistral",
    "nvidia": "nvidia",
    "01": "01ai",
    "01ai": "01ai",
    "ai2": "ai2",
    "allen": "ai2",
    "allenai": "ai2",
    "allenaiuw": "ai2",
    "alleninstituteforai": "ai2",
    "amazon": "amazon",
    "amazonnova": "amazon",
    "cohere": "cohere",
    "cohereforai": "cohere",
    "microsoft": "microsoft",
    "microsoftai": "microsoft",
    "ibm": "ibm",
    "ibmgranite": "ibm",
    "tencent": "tencent",
    "stepfun": "stepfun",
    "minimax": "minimax",
    "moonshot": "moonshot",
    "moonshotai": "moonshot",
    "kimi": "moonshot",
    "xiaomi": "xiaomi",
    "reka": "reka",
    "rekaai": "reka",
    "ai21": "ai21",
    "ai21labs": "ai21",
    "nexusflow": "nexusflow",
    "bytedance": "bytedance",
    "bytedanceseed": "bytedance",
    "baidu": "baidu",
    "meituan": "meituan",
    "longcat": "meituan",
    "inclusionai": "ant",
    "ant": "ant",
    "antgroup": "ant",
    "perplexity": "perplexity",
    "perplexityai": "perplexity",
    "upstage": "upstage",
    "upstageai": "upstage",
    "princeton": "princeton",
    "huggingface": "huggingface",
    "internlm": "internlm",
    "shanghaiailab": "internlm",
    "primeintellect": "primeintellect",
    "inception": "inception",
    "inceptionlabs": "inception",
    "arcee": "arcee",
    "arceeai": "arcee",
    "googlebrain": "google",
    "googleresearch": "google",
    "googleai": "google",
    "facebookairesearch": "meta",
    "fair": "meta",
    "nous": "nousresearch",
    "nousresearch": "nousresearch",
    "liquid": "liquid",
    "liquidai": "liquid",
    "salesforce": "salesforce",
    "salesforceresearch": "salesforce",
    "sarvam": "sarvam",
    "sarvamai": "sarvam",
    "lg": "lg",
    "lgai": "lg",
    "lgairesearch": "lg",
    "tencenthunyuan": "tencent",
    "hunyuan": "tencent",
    "baiduernie": "baidu",
    "lmsys": "lmsys",
    "largemodelsystemsorganization": "lmsys",
    "01ai01": "01ai",
    "abacus": "abacus",
    "abacusai": "abacus",
    "xiaomimimo": "xiaomi",
    "mistralaimistral": "mistral",
    "aws": "amazon",
    "microsoftazure": "microsoft",
    "alibabaqwen": "alibaba",
    "inflection": "inflection",
    "inflectionai": "inflection",
    "kimiai": "moonshot",
    "xaicorp": "xai",
}

# Display spelling of each canonical organization (models.organization, feature one-hots).
ORG_DISPLAY = {
    "openai": "OpenAI",
    "anthropic": "Anthropic",
    "google": "Google",
    "meta": "Meta",
    "alibaba": "Alibaba",
    "zhipu": "Zhipu AI",
    "xai": "xAI",
    "deepseek": "DeepSeek",
    "mistral": "Mistral",
    "nvidia": "NVIDIA",
    "01ai": "01.AI",
    "ai2": "AllenAI",
    "amazon": "Amazon",
    "cohere": "Cohere",
    "microsoft": "Microsoft",
    "ibm": "IBM",
    "tencent": "Tencent",
    "stepfun": "StepFun",
    "minimax": "MiniMax",
    "moonshot": "Moonshot AI",
    "xiaomi": "Xiaomi",
    "reka": "Reka",
    "ai21": "AI21 Labs",
    "nexusflow": "Nexusflow",
    "bytedance": "ByteDance",
    "baidu": "Baidu",
    "meituan": "Meituan",
    "ant": "Ant Group",
    "perplexity": "Perplexity",
    "upstage": "Upstage",
    "princeton": "Princeton",
    "huggingface": "Hugging Face",
    "internlm": "InternLM",
    "primeintellect": "Prime Intellect",
    "inception": "Inception",
    "arcee": "Arcee AI",
    "nousresearch": "Nous Research",
    "liquid": "Liquid AI",
    "salesforce": "Salesforce",
    "sarvam": "Sarvam",
    "lg": "LG AI Research",
    "lmsys": "LMSYS",
    "abacus": "Abacus AI",
    "inflection": "Inflection",
}

# Organization inferred from an arena key when the arena table has none (first match wins).
_KEY_ORGS = [
    (r"nemotron", "nvidia"),
    (r"tulu|olmo|molmo", "ai2"),
    (r"athene", "nexusflow"),
    (r"simpo", "princeton"),
    (r"^(gpt|o[134]|chatgpt)\b", "openai"),
    (r"^claude", "anthropic"),
    (r"^(gemini|gemma)", "google"),
    (r"^(llama|muse)", "meta"),
    (r"^(qwen|qwq)", "alibaba"),
    (r"^deepseek", "deepseek"),
    (r"^grok|^early-grok", "xai"),
    (r"^(mistral|ministral|magistral|mixtral|codestral|devstral)", "mistral"),
    (r"^(glm|chatglm)", "zhipu"),
    (r"^kimi", "moonshot"),
    (r"^minimax", "minimax"),
    (r"^hunyuan", "tencent"),
    (r"^ernie", "baidu"),
    (r"^step", "stepfun"),
    (r"^(amazon|nova)", "amazon"),
    (r"^(phi|mai)\b", "microsoft"),
    (r"granite", "ibm"),
    (r"^(command|c4ai|aya)", "cohere"),
    (r"^jamba", "ai21"),
    (r"^reka", "reka"),
    (r"^yi\b", "01ai"),
    (r"^mimo", "xiaomi"),
    (r"^longcat", "meituan"),
    (r"^(ling|ring)\b", "ant"),
    (r"^intellect", "primeintellect"),
    (r"^mercury", "inception"),
    (r"^(dola|seed|doubao)", "bytedance"),
    (r"^trinity", "arcee"),
]


@functools.lru_cache(maxsize=1 << 16)
def normalize(name: str) -> str:
    """Normalise a model name or id for matching.

    Parameters
    ----------
    name : str
        Any model id or display name.

    Returns
    -------
    str
        Lower-case ASCII, ``[a-z0-9-]`` only, no vendor prefix, no routing suffix,
        full dates as ``YYYYMMDD``. Idempotent: ``normalize(normalize(x)) == normalize(x)``.
    """
    out = str(name)
    for _ in range(20):
        nxt = _normalize_pass(out)
        if nxt == out:
            break
        out = nxt
    return out


def _normalize_pass(s: str) -> str:
    s = unicodedata.normalize("NFKD", s).encode("ascii", "ignore").decode("ascii")
    s = s.lower().strip().strip("/")
    if "/" in s:
        s = s.rsplit("/", 1)[-1]
    s = _ROUTING_SUFFIX.sub("", s.strip())
    s = re.sub(r"[^a-z0-9.-]+", "-", s)
    s = s.replace(".", "-")
    s = re.sub(r"-{2,}", "-", s).strip("-")
    return _FULL_DATE.sub(r"\1\2\3", s)


def _one_org(text: str) -> str | None:
    text = re.sub(r"[^a-z0-9]", "", text.lower())
    if not text:
        return None
    if text in _ORG_SYNONYMS:
        return _ORG_SYNONYMS[text]
    for suffix in ("ai", "labs", "inc", "research", "team", "cloud", "corp"):
        if text.endswith(suffix) and text[: -len(suffix)] in _ORG_SYNONYMS:
            return _ORG_SYNONYMS[text[: -len(suffix)]]
    return text


def _org_parts(org: object) -> list[str]:
    if org is None or (isinstance(org, float) and pd.isna(org)):
        return []
    parts = [_one_org(p) for p in re.split(r"[,/;()&]| and ", str(org))]
    whole = _one_org(str(org))
    return [o for o in dict.fromkeys([whole, *parts]) if o]


def org_key(org: object) -> str | None:
    """Canonical organization key (lower case), None if missing.

    ``"Google DeepMind"`` -> ``"google"``; ``"SpaceXAI"`` -> ``"xai"``; ``"Kimi"`` ->
    ``"moonshot"``. A list of co-developers (Epoch writes ``"Google DeepMind,Google"``,
    ``"Alibaba Cloud / Qwen Team"``) gives its first known member; :func:`org_set` keeps
    all of them. An unknown organization gives its lower-case alphanumeric spelling.
    """
    parts = _org_parts(org)
    if not parts:
        return None
    known = set(_ORG_SYNONYMS.values())
    return next((o for o in parts if o in known), parts[0])


def canonical_org(org: object) -> str | None:
    """Canonical organization name for display and features, None if missing.

    The one organization vocabulary of the project (:func:`org_key` folds case,
    punctuation and synonyms such as ``SpaceXAI``/``xAI``, ``Kimi``/``Moonshot AI``,
    ``DeepSeek AI``/``DeepSeek``); known organizations get the spelling of
    :data:`ORG_DISPLAY` (``"OpenAI"``, ``"Zhipu AI"``), unknown ones keep their own
    (stripped) spelling.
    """
    key = org_key(org)
    if key is None:
        return None
    if key in ORG_DISPLAY:
        return ORG_DISPLAY[key]
    return re.sub(r"\s+", " ", str(org)).strip()


def org_set(org: object) -> frozenset[str]:
    """All canonical organizations named in ``org`` (co-developers split on ``,`` ``/`` ...)."""
    return frozenset(_org_parts(org))


def infer_org(model: str) -> str | None:
    """Organization guessed from a model name's family prefix, None if unknown."""
    n = normalize(model)
    for pattern, org in _KEY_ORGS:
        if re.search(pattern, n):
            return org
    return None


def strip_effort(norm: str) -> str:
    """Drop one trailing reasoning-effort suffix from a normalised name."""
    return _EFFORT.sub("", norm)


def strip_date(norm: str) -> str:
    """Drop one trailing snapshot-date suffix from a normalised name."""
    return _DATE_SUFFIX.sub("", norm)


def key_date(model: str) -> pd.Timestamp | None:
    """The full ``YYYYMMDD`` date inside a model name, None if it has none."""
    m = _KEY_DATE.search(normalize(model))
    if m is None:
        return None
    try:
        return pd.Timestamp(f"{m.group(1)}-{m.group(2)}-{m.group(3)}")
    except ValueError:
        return None


def _short_date(model: str, first_seen: pd.Timestamp | None) -> pd.Timestamp | None:
    """Date of a trailing ``-MMDD``/``-MM-DD`` suffix, the year taken from ``first_seen``."""
    m = re.search(r"-(0[1-9]|1[0-2])-?(0[1-9]|[12][0-9]|3[01])$", normalize(model))
    if m is None or first_seen is None:
        return None
    for year in (first_seen.year, first_seen.year - 1):
        try:
            d = pd.Timestamp(year=year, month=int(m.group(1)), day=int(m.group(2)))
        except ValueError:
            continue
        if d <= first_seen + pd.Timedelta(days=MAX_DAYS_APART):
            return d
    return None


def _default_alias_path() -> Path:
    return Path(str(resources.files("divergence") / "data" / "aliases.csv"))


def load_alias_table(path: str | Path | None = None) -> pd.DataFrame:
    """Read the reviewed alias table.

    Parameters
    ----------
    path : str or Path, optional
        CSV with columns source, source_model, model_id, note; defaults to the
        packaged ``divergence/data/aliases.csv``.

    Returns
    -------
    pandas.DataFrame
        Columns source, source_model, model_id, note (str; note may be empty), sorted
        by source and source_model.

    Raises
    ------
    SourceError
        Missing file or column, blank key cell, or one (source, source_model) mapped to
        two different ids.
    """
    path = Path(path) if path is not None else _default_alias_path()
    df = read_csv(path, required=ALIAS_COLUMNS, dtype=str, keep_default_na=False, comment="#")
    df = df[ALIAS_COLUMNS].copy()
    for col in ["source", "source_model", "model_id"]:
        blank = df[col].str.strip() == ""
        if blank.any():
            raise SourceError(
                path, "empty value", column=col, row=int(blank.to_numpy().argmax()) + 2
            )
    df = df.drop_duplicates()
    dup = df.duplicated(["source", "source_model"], keep=False)
    if dup.any():
        pos = int(dup.to_numpy().argmax())
        raise SourceError(path, "alias mapped to two model ids", column="source_model", row=pos + 2)
    return df.sort_values(["source", "source_model"], kind="mergesort").reset_index(drop=True)


def _clean(value: object) -> str | None:
    if value is None or (isinstance(value, float) and pd.isna(value)) or value is pd.NaT:
        return None
    text = str(value).strip()
    return text or None


def _to_date(value: Any) -> pd.Timestamp | None:
    if value is None or value is pd.NaT or (isinstance(value, float) and pd.isna(value)):
        return None
    try:
        out = pd.Timestamp(value)
    except (ValueError, TypeError):
        return None
    return None if pd.isna(out) else out.tz_localize(None) if out.tzinfo else out


@dataclass
class _ArenaModel:
    key: str
    org: frozenset[str]
    lo: pd.Timestamp | None
    hi: pd.Timestamp | None


@dataclass
class Resolver:
    """Maps aliases from any source to canonical model ids.

    Attributes
    ----------
    aliases : pandas.DataFrame
        Columns alias, source, model_id, rule; one row per (source, alias).
    """

    aliases: pd.DataFrame
    _by_source: dict[tuple[str, str], str] = field(default_factory=dict, repr=False)
    _by_alias: dict[str, str] = field(default_factory=dict, repr=False)
    _by_norm: dict[str, str] = field(default_factory=dict, repr=False)
    _arena: dict[str, _ArenaModel] = field(default_factory=dict, repr=False)
    _ids: set[str] = field(default_factory=set, repr=False)
    _by_order: dict[tuple, str] = field(default_factory=dict, repr=False)
    _thinking: dict[tuple, list[str]] = field(default_factory=dict, repr=False)
    _base_index: dict[str, list[str]] = field(default_factory=dict, repr=False)
    _effort_family: set[str] = field(default_factory=set, repr=False)
    _arena_entity: dict[tuple, list[tuple[str, str]]] = field(default_factory=dict, repr=False)
    _source_info: dict[tuple[str, str], tuple[frozenset[str], pd.Timestamp | None]] = field(
        default_factory=dict, repr=False
    )

    @classmethod
    def build(
        cls,
        arena: pd.DataFrame,
        sources: pd.DataFrame,
        alias_table: pd.DataFrame | None = None,
    ) -> Resolver:
        """Resolve every arena key and every (source, source_model) to a model id.

        Parameters
        ----------
        arena : pandas.DataFrame
            Columns model_key, display_name, organization, first_seen.
        sources : pandas.DataFrame
            Columns source, source_model, display_name, organization, release_date.
        alias_table : pandas.DataFrame, optional
            Reviewed aliases (see :func:`load_alias_table`); the packaged table if None.

        Returns
        -------
        Resolver
        """
        for col in ["model_key", "display_name", "organization", "first_seen"]:
            if col not in arena.columns:
                raise ValueError(f"arena table lacks column {col!r}")
        for col in ["source", "source_model"]:
            if col not in sources.columns:
                raise ValueError(f"sources table lacks column {col!r}")
        if alias_table is None:
            alias_table = load_alias_table()
        res = cls(aliases=pd.DataFrame(columns=ALIAS_OUTPUT_COLUMNS))
        rows: list[tuple[str, str, str, str]] = []

        arena = arena.copy()
        arena["model_key"] = arena["model_key"].astype(str)
        arena["fs_"] = [_to_date(v) for v in arena["first_seen"]]
        arena = arena.sort_values(["model_key", "fs_"], kind="mergesort", na_position="last")
        arena = arena.drop_duplicates("model_key", keep="first")
        names_norm: dict[str, set[str]] = {}
        r: Any  # itertuples rows: pandas-stubs types their fields as the Scalar union
        for r in arena.itertuples(index=False):
            key = r.model_key
            fs = r.fs_
            kd = key_date(key) or _short_date(key, fs)
            lo, hi = (kd, kd) if kd is not None else (None, fs)
            org = _orgs(r.organization, key)
            res._arena[key] = _ArenaModel(key, org, lo, hi)
            rows.append((key, "lmarena", key, "arena_key"))
            res._by_source[("lmarena", key)] = key
            names_norm.setdefault(normalize(key), set()).add(key)
            dn = _clean(r.display_name)
            if dn:
                names_norm.setdefault(normalize(dn), set()).add(key)
        key_norm: dict[str, set[str]] = {}
        for key in res._arena:
            key_norm.setdefault(normalize(key), set()).add(key)
        res._by_norm = {n: next(iter(ks)) for n, ks in key_norm.items() if len(ks) == 1}
        name_index = {n: next(iter(ks)) for n, ks in names_norm.items() if len(ks) == 1}
        for n, key in res._by_norm.items():
            name_index.setdefault(n, key)
        base_index: dict[str, list[str]] = {}
        for key in res._arena:
            base = strip_date(normalize(key))
            if base != normalize(key):
                base_index.setdefault(base, []).append(key)
        res._base_index = base_index
        for key in res._arena:
            n = normalize(key)
            if strip_effort(n) != n and not re.search(r"-[0-9]+k$", n):
                res._effort_family.add(strip_effort(n))
        by_order: dict[tuple, set[str]] = {}
        for key in res._arena:
            n = normalize(key)
            for form in {n, _VENDOR_PREFIX.sub("", n)}:
                by_order.setdefault(_order_key(form), set()).add(key)
            think = re.fullmatch(r"(.+)-thinking(?:-[0-9]+k)?", n)
            if think is not None:
                res._thinking.setdefault(_order_key(think.group(1)), []).append(key)
        res._by_order = {k: next(iter(ks)) for k, ks in by_order.items() if len(ks) == 1}

        from divergence.entity import parse as parse_entity

        for key, info in res._arena.items():
            org_one = next(iter(sorted(info.org)), None)
            ent = parse_entity(key, None, org_one)
            res._arena_entity.setdefault(ent.key, []).append((key, ent.date))

        table = {
            (str(s), str(m)): str(i)
            for s, m, i in zip(
                alias_table["source"],
                alias_table["source_model"],
                alias_table["model_id"],
                strict=True,
            )
        }
        src = sources.copy()
        for col in ["display_name", "organization", "release_date"]:
            if col not in src.columns:
                src[col] = None
        src["source"] = src["source"].astype(str)
        src["source_model"] = src["source_model"].astype(str)
        src = src.sort_values(["source", "source_model"], kind="mergesort")
        src = src.drop_duplicates(["source", "source_model"], keep="first")
        # Reviewed aliases teach the entity rule: their entity (with the AA display
        # variant) denotes the arena key they were reviewed to.
        for r in src.itertuples(index=False):
            key = table.get((r.source, r.source_model))
            if key is None or key not in res._arena:
                continue
            dn = _clean(r.display_name) if r.source == "artificial-analysis" else None
            ent = parse_entity(r.source_model, dn, _first(_orgs(r.organization, r.source_model)))
            known = res._arena_entity.setdefault(ent.key, [])
            if all(k != key for k, _d in known):
                known.append((key, ent.date))
        src_names: dict[tuple[str, str], str | None] = {}
        pending: list[tuple[str, str, str | None]] = []
        for r in src.itertuples(index=False):
            source, model = r.source, r.source_model
            dn = _clean(r.display_name)
            org = _orgs(r.organization, model)
            rel = _to_date(r.release_date)
            res._source_info[(source, model)] = (org, rel)
            src_names[(source, model)] = dn
            hit = res._match(
                model, dn, org, rel, table.get((source, model)), name_index, base_index, source
            )
            if hit is None:
                pending.append((source, model, dn))
                continue
            res._by_source[(source, model)] = hit[0]
            rows.append((model, source, hit[0], hit[1]))
        rows, demoted = _one_variant_per_key(rows)
        for source, model in demoted:
            del res._by_source[(source, model)]
            pending.append((source, model, src_names.get((source, model))))
        pending.sort()
        # Non-arena models: anchor-free clusters (divergence.entity), one id per cluster.
        taken = set(res._arena) | set(res._by_norm)
        for (source, model), mid in _cluster_pending(pending, res._source_info, taken).items():
            res._by_source[(source, model)] = mid
            rows.append((model, source, mid, "new_model"))
        display_rows = _display_rows(src, res._by_source)

        out = pd.DataFrame(rows + display_rows, columns=ALIAS_OUTPUT_COLUMNS).drop_duplicates()
        res.aliases = out.sort_values(["source", "alias"], kind="mergesort").reset_index(drop=True)
        by_alias: dict[str, set[str]] = {}
        for alias, mid in zip(res.aliases["alias"], res.aliases["model_id"], strict=True):
            by_alias.setdefault(alias, set()).add(mid)
        res._ids = set(res.aliases["model_id"])
        res._by_alias = {a: next(iter(ids)) for a, ids in by_alias.items() if len(ids) == 1}
        return res

    def _match(
        self,
        model: str,
        dn: str | None,
        org: frozenset[str],
        rel: pd.Timestamp | None,
        table_id: str | None,
        name_index: dict[str, str],
        base_index: dict[str, list[str]],
        source: str,
    ) -> tuple[str, str] | None:
        if table_id is not None:
            return table_id, "alias_table"
        if model in self._arena and self._compatible(model, org, rel):
            return model, "exact"
        norm = normalize(model)
        if norm in self._by_norm and self._compatible(self._by_norm[norm], org, rel):
            return self._by_norm[norm], "normalized"
        if dn and strip_date(norm) == norm and strip_effort(norm) == norm:
            key = name_index.get(normalize(dn))
            if key is not None and self._compatible(key, org, rel) and _same_kind(norm, key):
                return key, "display_name"
        budget = re.fullmatch(r"(.+)-([0-9]+k)", norm)
        if budget is not None:
            key = self._by_norm.get(f"{budget.group(1)}-thinking-{budget.group(2)}")
            if key is not None and self._compatible(key, org, rel):
                return key, "variant"
        for cand in [norm, normalize(dn) if dn else ""]:
            key = self._variant_lookup(cand, org, rel) if cand else None
            if key is not None:
                return key, "variant"
        if rel is not None and strip_date(norm) == norm:
            best: tuple[pd.Timedelta, str] | None = None
            for key in base_index.get(strip_date(norm), []):
                info = self._arena[key]
                if info.lo is None or info.hi is None or not self._compatible(key, org, rel):
                    continue
                gap = info.hi - rel
                if gap >= pd.Timedelta(0) and (best is None or gap < best[0]):
                    best = (gap, key)
            if best is not None:
                return best[1], "dated"
        hit = self._match_loose(norm, dn, org, rel, base_index)
        if hit is not None:
            return hit
        return self._match_entity(model, dn, org, rel, source)

    def _match_entity(
        self,
        model: str,
        dn: str | None,
        org: frozenset[str],
        rel: pd.Timestamp | None,
        source: str,
    ) -> tuple[str, str] | None:
        """Rule ``entity``: same organization, base, variant and compatible date as one key."""
        from divergence.entity import dates_compatible
        from divergence.entity import parse as parse_entity

        ent = parse_entity(model, dn if source == "artificial-analysis" else None, _first(org))
        hits = [
            key
            for key, date in self._arena_entity.get(ent.key, [])
            if dates_compatible(ent.date, date) and self._compatible(key, org, rel)
        ]
        if len(hits) == 1 and (org or self._arena[hits[0]].org):
            return hits[0], "entity"
        return None

    def _variant_lookup(
        self, form: str, org: frozenset[str], rel: pd.Timestamp | None
    ) -> str | None:
        """Arena key of an effort variant: the same effort if the arena lists it, else the
        plain key when the arena lists no effort variant of the model."""
        m = _EFFORT.search(form)
        if m is None:
            return None
        word, stem = m.group(0), form[: m.start()]
        stems = [stem]
        if re.search(r"-20[0-9]{6}$", stem) and strip_date(stem) not in self._base_index:
            stems.append(strip_date(stem))
        for st in stems:
            key = self._lookup(st + word)
            if key is not None and self._compatible(key, org, rel):
                return key
            if st in self._effort_family:
                continue
            key = self._lookup(st)
            if key is not None and self._compatible(key, org, rel):
                return key
        return None

    def _lookup(self, form: str) -> str | None:
        return self._by_norm.get(form) or self._by_order.get(_order_key(form))

    def _match_loose(
        self,
        norm: str,
        dn: str | None,
        org: frozenset[str],
        rel: pd.Timestamp | None,
        base_index: dict[str, list[str]],
    ) -> tuple[str, str] | None:
        """Rules ``loose``, ``undated``, ``dated`` without a release date, ``variant`` (budgets)."""
        forms = [norm, *_loose_forms(norm, rel)]
        for form in forms:
            key = self._lookup(form)
            if key is not None and self._compatible(key, org, rel):
                return key, "loose"
        full = _KEY_DATE.search(norm)
        if full is not None and norm.endswith(full.group(0)):
            day = key_date(norm)
            base = strip_date(norm)
            for form in [base, *_loose_forms(base, None)]:
                key = self._lookup(form)
                if (
                    key is not None
                    and strip_date(normalize(key)) not in base_index
                    and self._compatible(key, org, rel or day)
                ):
                    return key, "undated"
        if rel is None:
            for form in forms:
                keys = base_index.get(form, []) if strip_date(form) == form else []
                if len(keys) == 1 and self._compatible(keys[0], org, rel):
                    return keys[0], "dated"
        if dn and strip_date(norm) == norm and strip_effort(norm) == norm:
            for form in [normalize(dn), *_loose_forms(normalize(dn), rel)]:
                key = self._lookup(form)
                if key is not None and self._compatible(key, org, rel) and _same_kind(norm, key):
                    return key, "display_name"
        for form in forms:
            key = self._variant_lookup(form, org, rel)
            if key is not None:
                return key, "variant"
            think = re.fullmatch(r"(.+)-thinking(?:-[0-9]+k)?", strip_effort(form))
            if think is not None:
                keys = self._thinking.get(_order_key(think.group(1)), [])
                if len(keys) == 1 and self._compatible(keys[0], org, rel):
                    return keys[0], "variant"
        return None

    def _compatible(self, key: str, org: frozenset[str], rel: pd.Timestamp | None) -> bool:
        info = self._arena.get(key)
        if info is None:
            return True
        if org and info.org and not (org & info.org):
            return False
        return _within(rel, info.lo, info.hi)

    def resolve(self, name: str, source: str | None = None) -> str | None:
        """Canonical id for an alias.

        Parameters
        ----------
        name : str
            A model id or alias as written by any source.
        source : str, optional
            The source it comes from; its own aliases are tried first.

        Returns
        -------
        str or None
            The canonical model id, None if unknown.
        """
        if source is not None and (source, name) in self._by_source:
            return self._by_source[(source, name)]
        if name in self._arena:
            return name
        if name in self._by_alias:
            return self._by_alias[name]
        norm = normalize(name)
        if norm in self._by_norm:
            return self._by_norm[norm]
        if norm in self._by_alias:
            return self._by_alias[norm]
        return norm if norm in self._ids else None

    def violations(self) -> pd.DataFrame:
        """Aliases joining models of different organizations or > 60 days apart.

        Returns
        -------
        pandas.DataFrame
            Columns alias, source, model_id, rule, problem (empty when all is well).
        """
        bad = []
        r: Any  # itertuples rows: pandas-stubs types their fields as the Scalar union
        for r in self.aliases.itertuples(index=False):
            if r.source == "lmarena" or r.model_id not in self._arena:
                continue
            org, rel = self._source_info.get((r.source, r.alias), (frozenset(), None))
            info = self._arena[r.model_id]
            if org and info.org and not (org & info.org):
                bad.append(
                    (*r, f"organization {'/'.join(sorted(org))} != {'/'.join(sorted(info.org))}")
                )
            elif rel is not None and not _within(rel, info.lo, info.hi):
                bad.append((*r, f"release {rel.date()} outside [{info.lo}, {info.hi}] +-60d"))
        return pd.DataFrame(bad, columns=[*ALIAS_OUTPUT_COLUMNS, "problem"])


_EFFORT_RANK = ["xhigh", "high", "max", "medium", "default", "low", "minimal"]


def _effort_rank(alias: str) -> int:
    norm = normalize(alias)
    for i, word in enumerate(_EFFORT_RANK):
        if norm.endswith("-" + word):
            return i
    m = re.search(r"-([0-9]+)k$", norm)
    return -int(m.group(1)) if m else len(_EFFORT_RANK)


def _one_variant_per_key(
    rows: list[tuple[str, str, str, str]],
) -> tuple[list[tuple[str, str, str, str]], list[tuple[str, str]]]:
    """Keep one ``variant`` alias per (source, arena key): the direct match, else the highest effort.

    ``entity`` matches of a one-entry-per-model source (AA) yield to a direct match too.
    """
    direct = {(s, k) for _a, s, k, rule in rows if rule not in ("variant", "entity")}
    # an entity match never takes a key a direct match of the same one-entry-per-model source holds
    clash = [
        r for r in rows if r[3] == "entity" and r[1] in _UNIQUE_SOURCES and (r[1], r[2]) in direct
    ]
    if clash:
        gone = {id(r) for r in clash}
        rows = [r for r in rows if id(r) not in gone]
    best: dict[tuple[str, str], str] = {}
    for alias, source, key, rule in rows:
        if rule == "variant" and (source, key) not in direct:
            cur = best.get((source, key))
            if cur is None or (_effort_rank(alias), alias) < (_effort_rank(cur), cur):
                best[(source, key)] = alias
    kept, demoted = [], [(r[1], r[0]) for r in clash]
    for row in rows:
        alias, source, key, rule = row
        if rule == "variant" and best.get((source, key)) != alias:
            demoted.append((source, alias))
        else:
            kept.append(row)
    return kept, demoted


_DISTINCT = {
    "base",
    "speciale",
    "code",
    "coder",
    "vl",
    "vision",
    "embedding",
    "think",
    "thinking",
    "reasoner",
    "mini",
    "nano",
    "lite",
    "flash",
    "pro",
    "max",
    "plus",
    "turbo",
    "fast",
}


def _same_kind(norm: str, key: str) -> bool:
    """False when the source id has a model-kind word (``base``, ``code``, ``lite``...) the key lacks.

    Guards the ``display_name`` rule: a display name such as "DeepSeek V3" on the id
    ``DeepSeek-V3-Base`` must not join the chat model.
    """
    words = set(normalize(key).split("-"))
    return not (set(norm.split("-")) & _DISTINCT) - words


def _order_key(norm: str) -> tuple:
    """Word-order-free form: sorted words with letters, then the numbers in their order.

    ``claude-4-1-opus-20250805`` and ``claude-opus-4-1-20250805`` agree; ``4-1`` and
    ``1-4`` do not.
    """
    toks = norm.split("-")
    return (
        tuple(sorted(t for t in toks if not t.isdigit())),
        tuple(t for t in toks if t.isdigit()),
    )


def _loose_forms(norm: str, rel: pd.Timestamp | None) -> list[str]:
    """Spellings of one model id: noise words and vendor prefix dropped, date written short/long.

    ``claude-4-opus-20250514-base`` -> ``claude-4-opus-20250514``; ``chatgpt-4o-latest-0903``
    with a 2024 release -> ``chatgpt-4o-latest-20240903``; ``o1-mini-20240912`` ->
    ``o1-mini-0912`` and ``o1-mini-09-12``. Effort and thinking words are never dropped.
    """
    toks = [t for t in norm.split("-") if t not in _NOISE]
    base = _VENDOR_PREFIX.sub("", "-".join(toks))
    forms = [base]
    for suffix, keep in _TRAILING_NOISE:
        if base.endswith(suffix) and len(base) > len(suffix) and not re.search(keep, base):
            forms.append(base[: -len(suffix)])
    out: list[str] = []
    for form in forms:
        out.append(form)
        full = re.search(r"-(20[0-9]{2})(0[1-9]|1[0-2])([0-3][0-9])$", form)
        if full is not None:
            stem = form[: full.start()]
            out += [
                f"{stem}-{full.group(2)}{full.group(3)}",
                f"{stem}-{full.group(2)}-{full.group(3)}",
            ]
        elif rel is not None:
            day = _short_date(form, rel)
            short = re.search(r"-(0[1-9]|1[0-2])-?([0-3][0-9])$", form)
            if day is not None and short is not None:
                out.append(f"{form[: short.start()]}-{day:%Y%m%d}")
    return list(dict.fromkeys(f for f in out if f and f != norm))


def _orgs(org: object, model: str) -> frozenset[str]:
    """Organizations of a model: the named ones, else the one inferred from its name."""
    named = org_set(org)
    if named:
        return named
    guess = infer_org(model) or _path_org(model)
    return frozenset([guess]) if guess else frozenset()


def _within(rel: pd.Timestamp | None, lo: pd.Timestamp | None, hi: pd.Timestamp | None) -> bool:
    if rel is None:
        return True
    slack = pd.Timedelta(days=MAX_DAYS_APART)
    if lo is not None and rel < lo - slack:
        return False
    return not (hi is not None and rel > hi + slack)


def _first(org: frozenset[str]) -> str | None:
    """One organization of a set: the first known one (``Z.ai (Zhipu AI)`` -> ``zhipu``)."""
    known = sorted(o for o in org if o in _KNOWN_ORGS)
    return known[0] if known else (min(org) if org else None)


_KNOWN_ORGS = frozenset(_ORG_SYNONYMS.values())
_SOURCE_RANK = {
    "artificial-analysis": 0,
    "epoch-eci": 1,
    "livebench": 2,
    "llm-stats": 3,
    "openrouter-catalog": 4,
    "litellm": 5,
    "models.dev": 8,
}


def _path_org(model: str) -> str | None:
    """Organization named by a path or Bedrock prefix (``moonshotai/kimi-k2.5``,
    ``us.anthropic.claude-...``), None when no known organization is named."""
    text = str(model)
    segs = text.split("/")[:-1]
    m = re.match(r"^(?:[a-z]{2,8}\.)?([a-z0-9-]+)\.(?=[a-z])", text.rsplit("/", 1)[-1])
    if m:
        segs.append(m.group(1))
    for seg in reversed(segs):
        key = _one_org(seg)
        if key in _KNOWN_ORGS:
            return key
    return None


def _cluster_pending(
    pending: list[tuple[str, str, str | None]],
    info: dict[tuple[str, str], tuple[frozenset[str], pd.Timestamp | None]],
    taken: set[str],
) -> dict[tuple[str, str], str]:
    """Anchor-free clusters of the aliases no arena key claimed; returns their ids.

    Members agree on organization and entity key (:func:`divergence.entity.parse`);
    names differing only in their date are different snapshots; an undated name joins
    the one dated snapshot of its key when there is exactly one within 60 days,
    otherwise undated names are grouped in 60-day release windows. An alias with no
    known organization joins the key's only organization, if it has one.
    """
    from divergence.entity import dates_compatible, within
    from divergence.entity import parse as parse_entity

    members = []
    for source, model, dn in pending:
        org, rel = info.get((source, model), (frozenset(), None))
        org_one = _first(org)
        ent = parse_entity(model, dn if source == "artificial-analysis" else None, org_one)
        members.append((source, model, org_one, rel, ent))
    orgs_of_key: dict[tuple, set[str]] = {}
    for _s, _m, org_one, _r, ent in members:
        if org_one is not None:
            orgs_of_key.setdefault(ent.key, set()).add(org_one)
    groups: dict[tuple, list] = {}
    for source, model, org_one, rel, ent in members:
        if org_one is None:
            known = orgs_of_key.get(ent.key, set())
            org_one = next(iter(known)) if len(known) == 1 else ""
        groups.setdefault((org_one, ent.key), []).append((source, model, rel, ent))

    out: dict[tuple[str, str], str] = {}
    used = set(taken)
    for gkey in sorted(groups, key=str):
        grp = sorted(groups[gkey], key=lambda r: (r[0], r[1]))
        dated: dict[str, list] = {}
        for row in grp:
            d = row[3].date
            if d:
                hit = next((k for k in dated if dates_compatible(k, d)), None)
                dated.setdefault(hit or d, []).append(row)
        clusters: list[list] = list(dated.values())
        undated = [row for row in grp if not row[3].date]
        joined: list[list] = []  # dated clusters an undated name with a release date joined
        if undated and len(clusters) == 1:
            rels = [r[2] for r in clusters[0] if r[2] is not None]
            anchor = min(rels) if rels else None
            fits = [r for r in undated if within(r[2], anchor)]
            clusters[0].extend(fits)
            undated = [r for r in undated if not within(r[2], anchor)]
        elif undated:
            # several dated snapshots: an undated name joins the nearest within 60 days
            anchors = [_cluster_anchor(cl) for cl in clusters]
            rest = []
            for row in undated:
                near = sorted(
                    (abs((row[2] - a).days), i)
                    for i, a in enumerate(anchors)
                    if row[2] is not None and a is not None and within(row[2], a)
                )
                if near:
                    clusters[near[0][1]].append(row)
                    if all(c is not clusters[near[0][1]] for c in joined):
                        joined.append(clusters[near[0][1]])
                else:
                    rest.append(row)
            undated = rest
        if undated:
            with_rel = sorted((r for r in undated if r[2] is not None), key=lambda r: r[2])
            windows: list[list] = []
            for row in with_rel:
                if windows and within(row[2], windows[-1][0][2]):
                    windows[-1].append(row)
                else:
                    windows.append([row])
            no_rel = [r for r in undated if r[2] is None]
            places = joined + windows
            if no_rel and places:
                # an undated name without a release date is the model's main entry: the
                # place of its most authoritative source (AA first), else the largest
                best = min(
                    places,
                    key=lambda cl: (min(_SOURCE_RANK.get(r[0], 6) for r in cl), -len(cl)),
                )
                best.extend(no_rel)
            elif no_rel:
                windows.append(no_rel)
            clusters.extend(windows)
        for cl in _split_unique(clusters):
            # id: the most authoritative spelling that still parses to the cluster's entity
            ranked = sorted(
                cl,
                key=lambda r: (_SOURCE_RANK.get(r[0], 6), not r[3].plain, len(r[1]), r[0], r[1]),
            )
            rep = ranked[0]
            mid = ""
            own = normalize(rep[1])
            if own and parse_entity(own, None, gkey[0] or None).key != rep[3].key:
                # the name hides the variant its display name states (AA's plain slugs)
                mid = rep[3].render()
            for r in [] if mid else ranked:
                cand = normalize(r[1])
                if cand and parse_entity(cand, None, gkey[0] or None).key == rep[3].key:
                    mid = cand
                    break
            if not mid:
                mid = rep[3].render() or normalize(rep[1]) or rep[1]
            if mid in used:
                mid = f"{mid}-{normalize(rep[0])}"
            n = 2
            base_mid = mid
            while mid in used:
                mid = f"{base_mid}-{n}"
                n += 1
            used.add(mid)
            for source, model, _rel, _ent in cl:
                out[(source, model)] = mid
    return out


def _cluster_anchor(cl: list) -> pd.Timestamp | None:
    """Day of a dated cluster: its full ``YYYYMMDD`` date, else its earliest release date."""
    date = cl[0][3].date
    if len(date) == 8:
        try:
            return pd.Timestamp(f"{date[:4]}-{date[4:6]}-{date[6:]}")
        except ValueError:
            pass
    rels = [r[2] for r in cl if r[2] is not None]
    return min(rels) if rels else None


def _display_rows(src: pd.DataFrame, by_source: dict[tuple[str, str], str]) -> list[tuple]:
    """Alias rows for display names (source ``<source>:display``, rule ``display_of``).

    A display name that one source gives to two different models is left out.
    """
    seen: dict[tuple[str, str], set[str]] = {}
    r: Any  # itertuples rows: pandas-stubs types their fields as the Scalar union
    for r in src.itertuples(index=False):
        dn = _clean(r.display_name)
        mid = by_source.get((r.source, r.source_model))
        if dn and mid is not None and dn != r.source_model:
            seen.setdefault((f"{r.source}:display", dn), set()).add(mid)
    return [
        (dn, source, next(iter(ids)), "display_of")
        for (source, dn), ids in sorted(seen.items())
        if len(ids) == 1
    ]


# Sources listing every model once: two of their entries are never one model.
_UNIQUE_SOURCES = frozenset({"artificial-analysis"})


def _split_unique(clusters: list[list]) -> list[list]:
    """Split clusters holding two entries of one :data:`_UNIQUE_SOURCES` source.

    The entry whose name is the shortest (``solar-pro-2`` before ``solar-pro-2-preview``)
    keeps the other sources' members; the rest become clusters of their own.
    """
    out = []
    for cl in clusters:
        extra = []
        for src in _UNIQUE_SOURCES:
            own = sorted((r for r in cl if r[0] == src), key=lambda r: (len(r[1]), r[1]))
            extra += [[r] for r in own[1:]]
        drop = {id(e[0]) for e in extra}
        out.append([r for r in cl if id(r) not in drop])
        out += extra
    return out
