"""MLflow pyfunc wrapper (logged as *models from code*: nothing is cloudpickled)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from mlflow.pyfunc import PythonModel


class DivergencePyfunc(PythonModel):
    """Pyfunc around :class:`divergence.predictor.Predictor`; artifacts hold every file."""

    def load_context(self, context) -> None:
        from divergence.predictor import Predictor

        any_path = Path(next(iter(context.artifacts.values())))
        self.predictor = Predictor(any_path.parent)

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        return self.predictor.predict(model_input)
