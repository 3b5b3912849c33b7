"""One reader per public source family.

``SOURCES`` documents every upstream (folder under ``raw/``, repository, license) and is
copied into the snapshot manifest; ``READERS`` lists the reader functions the snapshot
build calls, each returning a dict of frames keyed like :data:`divergence.schema.READER_SCHEMAS`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path

import pandas as pd

# (module, function) per reader; each returns {"ratings"|"benchmarks"|"adoption"|"meta"|...: DataFrame}
READERS: dict[str, tuple[str, str]] = {
    "arena": ("divergence.sources.arena", "read_arena"),
    "artificial-analysis": ("divergence.sources.artificial_analysis", "read"),
    "epoch": ("divergence.sources.epoch", "read"),
    "llm-stats": ("divergence.sources.llm_stats", "read"),
    "livebench": ("divergence.sources.livebench", "read"),
    "leaderboards": ("divergence.sources.leaderboards", "read"),
    "openrouter": ("divergence.sources.openrouter", "read"),
    "ollama": ("divergence.sources.ollama", "read"),
    "catalogs": ("divergence.sources.catalogs", "read"),
}

# Upstream attribution, shipped in the snapshot manifest and SOURCES.md.
SOURCES: list[dict[str, str]] = [
    {
        "folder": "arena/lmarena-arena-catalog",
        "upstream": "github.com/lmarena/arena-catalog",
        "license": "none stated (LMArena terms)",
        "what": "official leaderboard JSON versions 2025-01-28 to 2025-12-17",
    },
    {
        "folder": "arena/arena-ai-scrape",
        "upstream": "github.com/SmallAi-API/LLM-Ranking",
        "license": "none stated (arena.ai terms)",
        "what": "scrapes of arena.ai text boards 2026-02-27 to 2026-03-27",
    },
    {
        "folder": "arena/jasontrigg0-chatbot-arena-history",
        "upstream": "github.com/jasontrigg0/chatbot-arena-history",
        "license": "none stated",
        "what": "overall rating history 2023-05 to 2025-03, key crosswalk",
    },
    {
        "folder": "arena/nakasyou-lmarena-history",
        "upstream": "github.com/nakasyou/lmarena-history",
        "license": "MIT",
        "what": "overall rating history 2023-05 to 2025-02",
    },
    {
        "folder": "arena/fboulnois-llm-leaderboard-csv",
        "upstream": "github.com/fboulnois/llm-leaderboard-csv",
        "license": "MPL-2.0",
        "what": "LMSYS leaderboard CSV snapshots 2024-06 to 2025-08",
    },
    {
        "folder": "arena/utterstep-chatbot-arena-leaderboard-vis",
        "upstream": "github.com/utterstep/chatbot-arena-leaderboard-vis",
        "license": "none stated",
        "what": "LMArena model metadata tables",
    },
    {
        "folder": "arena/mayerwin-AI-Arena-History",
        "upstream": "github.com/mayerwin/AI-Arena-History",
        "license": "MIT",
        "what": "flagship overall ratings 2023-12 to 2026-03",
    },
    {
        "folder": "benchmarks/artificial-analysis",
        "upstream": "artificialanalysis.ai API (pull of 2026-07-31)",
        "license": "Artificial Analysis terms; attribution required",
        "what": "Intelligence Index and benchmark scores, prices",
    },
    {
        "folder": "benchmarks/epoch-benchmark-stitching",
        "upstream": "github.com/epoch-research/benchmark-stitching",
        "license": "MIT",
        "what": "Epoch runs, external benchmarks, model versions (2025-11-21)",
    },
    {
        "folder": "benchmarks/epoch-eci-via-metr_graph",
        "upstream": "Epoch Capabilities Index (third-party copy)",
        "license": "CC-BY (Epoch AI)",
        "what": "ECI, organisation, accessibility; METR time horizons (source 'metr')",
    },
    {
        "folder": "benchmarks/epoch-all-ai-models-snapshot",
        "upstream": "Epoch AI models database",
        "license": "not stated in the copy; see upstream",
        "what": "model metadata",
    },
    {
        "folder": "benchmarks/epoch-open-model-trends",
        "upstream": "Epoch AI open model trends",
        "license": "not stated in the copy; see upstream",
        "what": "model metadata (accessibility, dates)",
    },
    {
        "folder": "benchmarks/livebench",
        "upstream": "github.com/LiveBench/LiveBench",
        "license": "not stated in the copy; see upstream",
        "what": "LiveBench release tables",
    },
    {
        "folder": "benchmarks/llm-stats",
        "upstream": "llm-stats.com",
        "license": "CC BY 4.0",
        "what": "vendor self-reported scores and metadata",
    },
    {
        "folder": "benchmarks/weirdml",
        "upstream": "WeirdML",
        "license": "MIT",
        "what": "WeirdML accuracy",
    },
    {
        "folder": "benchmarks/arc-agi",
        "upstream": "ARC Prize leaderboard",
        "license": "none stated",
        "what": "ARC-AGI scores",
    },
    {
        "folder": "benchmarks/aider",
        "upstream": "github.com/Aider-AI/aider",
        "license": "Apache-2.0",
        "what": "Aider polyglot and edit leaderboards",
    },
    {
        "folder": "benchmarks/swe-bench",
        "upstream": "swebench.com",
        "license": "CC BY-NC 4.0 (non-commercial)",
        "what": "SWE-bench bash-only, Verified, Lite",
    },
    {
        "folder": "adoption/openrouter-rankings-daily-combined",
        "upstream": "OpenRouter rankings",
        "license": "CC BY 4.0",
        "what": "daily tokens per model",
    },
    {
        "folder": "adoption/johnbean393-openrouter-inference-stats",
        "upstream": "github.com/johnbean393/openrouter-inference-stats",
        "license": "none stated",
        "what": "weekly OpenRouter top models",
    },
    {
        "folder": "adoption/casualstudy-openrouter",
        "upstream": "casualstudy OpenRouter scrape",
        "license": "none stated",
        "what": "OpenRouter usage and prices",
    },
    {
        "folder": "adoption/wyl2607-llm-carbon-index",
        "upstream": "github.com/wyl2607/llm-carbon-index",
        "license": "none stated",
        "what": "OpenRouter usage, open/closed crosswalk",
    },
    {
        "folder": "adoption/uyhcire-openrouter-catalog-snapshots",
        "upstream": "github.com/uyhcire/openrouter-catalog-snapshots",
        "license": "none stated",
        "what": "OpenRouter catalogue snapshots, id crosswalk",
    },
    {
        "folder": "adoption/auditomatic-ollama-models-registry",
        "upstream": "github.com/auditomatic/ollama-models-registry",
        "license": "none stated",
        "what": "Ollama pull counts",
    },
    {
        "folder": "adoption/d3rhami-ollama-gallery",
        "upstream": "github.com/d3rhami/ollama-gallery",
        "license": "none stated",
        "what": "Ollama pull counts",
    },
    {
        "folder": "adoption/models.dev",
        "upstream": "github.com/sst/models.dev",
        "license": "not stated in the copy; see upstream",
        "what": "provider x model catalogue",
    },
    {
        "folder": "adoption/litellm-prices-history",
        "upstream": "github.com/BerriAI/litellm (model_prices_and_context_window.json history)",
        "license": "not stated in the copy; see upstream",
        "what": "first-seen dates, providers, prices",
    },
    {
        "folder": "adoption/pydantic-genai-prices",
        "upstream": "github.com/pydantic/genai-prices",
        "license": "not stated in the copy; see upstream",
        "what": "prices",
    },
    {
        "folder": "adoption/simonw-llm-prices",
        "upstream": "github.com/simonw/llm-prices",
        "license": "not stated in the copy; see upstream",
        "what": "prices",
    },
]


def reader(name: str) -> Callable[[Path], dict[str, pd.DataFrame]]:
    """Return the reader function registered as ``name``."""
    module, func = READERS[name]
    return getattr(importlib.import_module(module), func)
