"""Models-from-code entry: MLflow executes this file to build the pyfunc."""

import mlflow

from divergence.serving import DivergencePyfunc

mlflow.models.set_model(DivergencePyfunc())
