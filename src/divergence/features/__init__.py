"""Feature builders and declarative feature-set specs."""

from divergence.features.build import drop_test_era_only, model_frame
from divergence.features.spec import FeatureSpec, is_leaky, load_spec

__all__ = ["FeatureSpec", "drop_test_era_only", "is_leaky", "load_spec", "model_frame"]
