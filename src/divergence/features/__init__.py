"""Feature builders and declarative feature-set specs."""

from divergence.features.build import model_frame
from divergence.features.spec import FeatureSpec, is_leaky, load_spec

__all__ = ["FeatureSpec", "is_leaky", "load_spec", "model_frame"]
