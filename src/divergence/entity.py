"""Anchor-free entity keys: what model a name denotes, whatever source wrote it.

:func:`parse` reduces a model name (and, for Artificial Analysis, its display name) to an
:class:`Entity`: organization, *base* (family + version + size, as a word-order-free
token tuple), *variant* and snapshot *date*. Two aliases denote the same model when
their organizations agree, their bases and variants are equal and their dates are
compatible (:func:`cluster`, hard rules: never across organizations, never more than
60 days apart, distinct variants stay distinct).

Decisions (each one is a rule of :func:`parse`):

- spelling: :func:`divergence.identity.normalize`, then a letter run glued to a number
  is split (``qwen3`` = ``qwen-3``, ``llama3.1`` = ``llama-3-1``, ``molmo2`` =
  ``molmo-2``; sizes such as ``a3b``/``30b`` stay whole); version ``N.0`` is ``N``;
- same weights, other packaging: quantisation (``-fp8``, ``-bf16``, ``-int4``, ``-awq``,
  ``-gguf``, ``-q4-k-m``, ``-mlx``), ``-hf``, ``-it``, ``-instruct``/``-chat`` (except
  where they name a variant: Qwen3 ``-instruct`` is the non-thinking model, GPT
  ``-chat`` the ChatGPT model), ``-preview``/``-beta``/``-exp`` release tags, Bedrock
  packaging (``us.anthropic.``, ``-v1:0``) and provider routing suffixes (``:free``,
  ``:batch``, ...);
- variant: ``""`` (the plain model), ``thinking``, an effort ``minimal``/``low``/
  ``medium``/``high``/``xhigh``, a thinking budget ``16k``/``32k``/..., ``non-reasoning``
  or ``instant``. From the name suffix (``-thinking``, ``-reasoning``, ``-high``,
  ``_32K``, ``(thinking-minimal)``, ``-non-reasoning``, ``-nothinking``, ``-instant``)
  or, for AA, from the display name (``(Reasoning)``, ``(Non-reasoning)``,
  ``(Adaptive Reasoning, Max Effort)`` = ``thinking``, ``(Reasoning, High Effort)`` =
  ``high``, ``(high)``, ``(xhigh)``, ``(max)`` = ``thinking``);
- AA's slug convention changed: for older models the plain slug is the non-reasoning
  model, for newer ones the plain slug is the reasoning (max-effort) model and
  ``-non-reasoning`` is the suffix. The display name decides. The plain model of an
  organization that ships reasoning as an option (OpenAI GPT-5.x: API default effort
  none; Anthropic: thinking off) is its non-reasoning variant; for everyone else the
  plain name is the model's default mode, i.e. AA's plain slug (``display_variant``
  keeps what AA says it is);
- date: a full date in the name (``-20250514``, ``-2025-05-14``) or a short
  ``-MMDD`` suffix; names differing only in their date are different snapshots.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pandas as pd

MAX_DAYS_APART = 60

# Organizations whose plain API model is the non-reasoning one (reasoning is an option).
PLAIN_IS_NON_REASONING = frozenset({"openai", "anthropic"})

_EFFORTS = ("minimal", "low", "medium", "high", "xhigh")
_QUANT = re.compile(
    r"^(?:fp8|fp16|bf16|fp4|nvfp4|int4|int8|w4a16|w8a8|awq|gptq|gguf|mlx|4bit|8bit|"
    r"q[2-8](?:-k)?(?:-[sml])?|q[2-8]-0|hf|it|exl2|dynamic|turbo-fp8)$"
)
_NOISE_TOKENS = {"preview", "beta", "exp", "experimental", "latest-preview"}
_REGION = re.compile(r"^(?:us|eu|apac|au|jp|ca|global|regional|us-gov)-(?=[a-z])")
_BEDROCK_VENDOR = re.compile(
    r"^(?:anthropic|amazon|meta|mistral|cohere|ai21|deepseek|openai|qwen|writer|moonshotai|"
    r"minimax|google|nvidia|zai|xai|twelvelabs)-(?=[a-z0-9])"
)
# Bedrock ids name the vendor before a dot (``minimax.minimax-m2.5``,
# ``us.anthropic.claude-...``); a version dot (``MiniMax-M2.5``) is no vendor prefix.
_BEDROCK_DOT = re.compile(
    r"^(?:[a-z]{2,8}\.)?(?:anthropic|amazon|meta|mistral|cohere|ai21|deepseek|openai|qwen|"
    r"writer|moonshotai|minimax|google|nvidia|zai|xai|twelvelabs)\."
)
_VENDOR_WORD = re.compile(
    r"^(?:meta|nvidia|ibm|amazon|mistralai|google|openai|anthropic|deepseek-ai|moonshotai|"
    r"zai-org|zai|x-ai|xai|z-ai|qwen|microsoft|allenai|ai21labs|cohereforai|c4ai|tiiuae|arcee-ai|"
    r"arcee)-(?=[a-z])"
)
_GLUED = re.compile(r"^([a-z]{3,})([0-9]+)$")
_FULL = re.compile(r"^(20[0-9]{2})(0[1-9]|1[0-2])(0[1-9]|[12][0-9]|3[01])$")
_SHORT = re.compile(r"^(0[1-9]|1[0-2])(0[1-9]|[12][0-9]|3[01])$")
_BUDGET = re.compile(r"^([0-9]+)k$")
_DISPLAY_PAREN = re.compile(r"\(([^()]*)\)")


@dataclass(frozen=True)
class Entity:
    """What a name denotes: organization, base, variant, snapshot date.

    Attributes
    ----------
    base : tuple
        Word-order-free base (sorted words, then the numbers in their order).
    base_text : str
        The base in its written order (``claude-opus-4-6``), used to render ids.
    variant : str
        ``""``, ``thinking``, an effort, a budget (``32k``), ``non-reasoning``, ``instant``.
    display_variant : str
        The variant the display name states ("" when it states none).
    plain : bool
        The name itself carries no variant suffix.
    date : str
        ``YYYYMMDD``, ``MMDD`` (short date, year unknown) or ``""``.
    """

    base: tuple
    base_text: str
    variant: str
    display_variant: str
    plain: bool
    date: str

    @property
    def key(self) -> tuple:
        return (self.base, self.variant)

    def render(self) -> str:
        """A readable id: base, date, variant (``claude-opus-4-7-thinking``)."""
        parts = [self.base_text]
        if self.date:
            parts.append(self.date)
        if self.variant:
            parts.append(self.variant)
        return "-".join(p for p in parts if p)


def _tokens(name: str) -> list[str]:
    from divergence.identity import normalize

    raw = str(name)
    n = normalize(raw)
    n = re.sub(r"-batch$", "", n)  # OpenRouter ":batch" routing
    n = _REGION.sub("", n)
    if _BEDROCK_DOT.match(raw.rsplit("/", 1)[-1].split(":")[0].lower()) and _BEDROCK_VENDOR.match(
        n
    ):
        n = _BEDROCK_VENDOR.sub("", n)
        n = re.sub(r"-v[0-9]+(?:-[0-9]+)?$", "", n)
    n = re.sub(r"-v[0-9]+-0$", "", n)
    n = _VENDOR_WORD.sub("", n)
    toks: list[str] = []
    for t in n.split("-"):
        if not t:
            continue
        m = _GLUED.match(t)
        if m:
            toks += [m.group(1), m.group(2)]
        else:
            toks.append(t)
    return toks


def _display_variant(display_name: str | None) -> str | None:
    """Variant stated by an AA-style display name, None when it states none."""
    if not display_name:
        return None
    found: str | None = None
    for inner in _DISPLAY_PAREN.findall(str(display_name)):
        text = inner.lower().replace("-", " ").replace("_", " ")
        words = re.split(r"[ ,]+", text)
        effort = next(
            (e for e in ("xhigh", "high", "medium", "low", "minimal") if e in words), None
        )
        if "max" in words:
            effort = "max"
        if ("non" in words and ("reasoning" in words or "thinking" in words)) or (
            "nonreasoning" in words or "nothinking" in words
        ):
            found = "non-reasoning" + (f"-{effort}" if effort not in (None, "high", "max") else "")
        elif "reasoning" in words or "thinking" in words:
            found = "thinking" if effort in (None, "max") else effort
        elif effort is not None and len(words) <= 2:
            found = "thinking" if effort == "max" else effort
    return found


def _split_variant(toks: list[str]) -> tuple[list[str], str, bool]:
    """Strip trailing variant/noise tokens; returns (base tokens, variant, plain)."""
    variant = ""
    effort = ""
    budget = ""
    thinking = False
    non = False
    instant = False
    effort_word = False
    plain = True
    toks = list(toks)
    changed = True
    while toks and changed:
        changed = False
        last = toks[-1]
        two = "-".join(toks[-2:]) if len(toks) >= 2 else ""
        if two in {"non-reasoning", "non-thinking", "no-thinking", "no-reasoning"}:
            non, plain = True, False
            toks = toks[:-2]
            changed = True
        elif last in {"nothinking", "nonthinking", "nonreasoning"}:
            non, plain = True, False
            toks.pop()
            changed = True
        elif last in {"thinking", "reasoning", "reasoner", "think", "adaptive"} and len(toks) > 1:
            thinking, plain = True, False
            toks.pop()
            changed = True
        elif last == "effort" and len(toks) > 2 and toks[-2] in (*_EFFORTS, "max"):
            effort = effort or toks[-2]
            effort_word = True
            plain = False
            toks = toks[:-2]
            if toks and toks[-1] == "auto":
                toks.pop()
            changed = True
        elif last in _EFFORTS and len(toks) > 1:
            effort = effort or last
            plain = False
            toks.pop()
            changed = True
        elif last == "highthinking":
            effort, thinking, plain = "high", True, False
            toks.pop()
            changed = True
        elif _BUDGET.match(last) and len(toks) > 1 and not re.match(r"^[0-9]+$", toks[-2]):
            budget = last
            plain = False
            toks.pop()
            changed = True
        elif last == "instant" and len(toks) > 1:
            instant, plain = True, False
            toks.pop()
            changed = True
        elif (_QUANT.match(last) or last in _NOISE_TOKENS) and len(toks) > 1:
            toks.pop()
            changed = True
    if non:
        variant = "non-reasoning" + (f"-{effort}" if effort not in ("", "high", "max") else "")
    elif instant:
        variant = "instant"
    else:
        parts = [budget] if budget else []
        if effort and effort != "max":
            parts.append(effort if thinking or not effort_word else f"{effort}-effort")
        if not parts and (thinking or effort == "max"):
            parts.append("thinking")
        variant = "-".join(parts)
    return toks, variant, plain


def _drop_inner_noise(toks: list[str], family: str) -> list[str]:
    out = []
    for i, t in enumerate(toks):
        last = i == len(toks) - 1
        if t in _NOISE_TOKENS or (_QUANT.match(t) and i > 0):
            continue
        if t == "instruct" and not family.startswith(("qwen-3", "gpt")):
            continue
        if t == "chat" and not (family.startswith("gpt") or family.startswith("chatgpt")):
            continue
        if t == "it" and last:
            continue
        out.append(t)
    return out or toks


def _drop_zero_minor(toks: list[str]) -> list[str]:
    """Version ``N.0`` is version ``N`` (``granite-4.0-h-small`` = ``granite-4-h-small``).

    A ``0`` after a number is dropped unless a number-led token follows (``0.5b``).
    """
    out = []
    for i, t in enumerate(toks):
        nxt = toks[i + 1] if i + 1 < len(toks) else ""
        if t == "0" and i > 0 and toks[i - 1].isdigit() and not nxt[:1].isdigit():
            continue
        out.append(t)
    return out


def _order(toks: list[str]) -> tuple:
    return (
        tuple(sorted(t for t in toks if not t.isdigit())),
        tuple(t for t in toks if t.isdigit()),
    )


def parse(name: str, display_name: str | None = None, org: str | None = None) -> Entity:
    """The :class:`Entity` a model name denotes.

    Parameters
    ----------
    name : str
        A model id as any source writes it (arena key, AA slug, permaslug, repo id, tag).
    display_name : str, optional
        Display name; its parenthesised variant (AA) overrides the slug's suffix.
    org : str, optional
        Canonical organization key (:func:`divergence.identity.org_key`).

    Returns
    -------
    Entity
    """
    toks = _tokens(name)
    date = ""
    body = list(toks)
    # a date near the end (possibly before a variant suffix: o1-20241217-high)
    if len(body) >= 3 and re.fullmatch(r"(0[1-9]|1[0-2])", body[-2]):
        if re.fullmatch(r"20[0-9]{2}", body[-1]):  # command-r-08-2024
            date = body[-1] + body[-2]
            body = body[:-2]
    for i in range(len(body) - 1, max(len(body) - 4, 0), -1):
        if date:
            break
        t = body[i]
        if _FULL.match(t) or (re.fullmatch(r"[0-9]{4}", t) and i == len(body) - 1):
            date = t
            del body[i]
    if not date and len(body) >= 3 and re.fullmatch(r"(0[1-9]|1[0-2])", body[-2]):
        if re.fullmatch(r"(0[1-9]|[12][0-9]|3[01])", body[-1]) and not body[-3].isdigit():
            date = body[-2] + body[-1]
            body = body[:-2]
    base, variant, plain = _split_variant(body)
    family = "-".join(base)
    if family.startswith("qwen-3") and base and base[-1] == "instruct":
        base = base[:-1]
        variant = variant or "non-reasoning"
        plain = False
    base = _drop_inner_noise(base, family)
    base = _drop_zero_minor(base)
    if not date:
        for i, t in enumerate(base):
            if _FULL.match(t):
                date = t
                base = base[:i] + base[i + 1 :]
                break
    shown = _display_variant(display_name)
    display_variant = shown or ""
    if shown is not None:
        if plain and org not in PLAIN_IS_NON_REASONING and not shown.startswith("non-reasoning-"):
            # AA's plain slug: the model's default mode, whatever AA says it is.
            variant = "" if shown in ("thinking", "non-reasoning") else shown
        elif shown == "non-reasoning" and org in PLAIN_IS_NON_REASONING:
            variant = ""
        else:
            variant = shown
    elif variant == "non-reasoning" and org in PLAIN_IS_NON_REASONING:
        variant = ""
    return Entity(
        base=_order(base),
        base_text="-".join(base),
        variant=variant,
        display_variant=display_variant,
        plain=plain,
        date=date,
    )


def dates_compatible(a: str, b: str) -> bool:
    """Two entity dates denote the same snapshot (equal, or equal month-day)."""
    if not a or not b:
        return True
    if len(a) == len(b):
        return a == b
    return a[-4:] == b[-4:]


def within(a: pd.Timestamp | None, b: pd.Timestamp | None, days: int = MAX_DAYS_APART) -> bool:
    """Release dates at most ``days`` apart (unknown dates are compatible)."""
    if a is None or b is None:
        return True
    return abs((a - b).days) <= days


# Query fallbacks: a variant the query names that no candidate has -> the next ones to try.
VARIANT_FALLBACK = {
    "high": ("xhigh", "thinking"),
    "xhigh": ("high", "thinking"),
    "thinking": ("xhigh", "high"),
    "instant": ("non-reasoning", ""),
    "non-reasoning": ("instant",),
    "minimal": ("non-reasoning",),
}
