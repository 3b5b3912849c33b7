"""Models-from-code entry of the domain manifest (``divergence-utility-domains``)."""

from pathlib import Path

import mlflow
import mlflow.models
import mlflow.pyfunc
import pandas as pd
from mlflow.pyfunc import PythonModel


class DomainPyfunc(PythonModel):
    """Pyfunc around :class:`divergence.domains.DomainPredictor` (wide output)."""

    def load_context(self, context) -> None:
        from divergence.domains import _read_manifest, from_manifest

        self.predictor = from_manifest(_read_manifest(Path(context.artifacts["domains_json"])))

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        return self.predictor.predict(model_input)


mlflow.models.set_model(DomainPyfunc())
