"""divergence: how far LLM benchmark scores diverge from real-world utility."""

from __future__ import annotations

__version__ = "0.1.0"
__all__ = ["__version__", "load_predictor"]


def load_predictor(uri=None, tracking_uri=None):
    """Load the utility predictor (see :func:`divergence.predictor.load_predictor`)."""
    from divergence.predictor import load_predictor as _load

    return _load(uri, tracking_uri)
