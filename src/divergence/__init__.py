"""divergence: how far LLM benchmark scores diverge from real-world utility."""

from __future__ import annotations

__version__ = "0.1.0"
__all__ = ["__version__", "load_predictor"]


def load_predictor(uri=None, tracking_uri=None, targets=None):
    """Load the utility predictor (see :func:`divergence.predictor.load_predictor`).

    ``targets="all"`` loads every domain instead (the sweep's ``divergence-utility-domains``;
    ``uri`` then names that model or an exported directory): see
    :func:`divergence.domains.load_domain_predictor`.
    """
    if targets is not None:
        if targets != "all":
            from divergence.errors import DivergenceError

            raise DivergenceError(f"targets={targets!r}: only 'all' is supported")
        from divergence.domains import load_domain_predictor

        return load_domain_predictor(uri, tracking_uri)
    from divergence.predictor import load_predictor as _load

    return _load(uri, tracking_uri)
