"""The pipeline's stages, one module per MLproject entry point.

============  ======================================  ===================================
entry point   module                                  result
============  ======================================  ===================================
build_data    :mod:`divergence.stages.build_data`     :class:`~.build_data.BuildResult`
tune          :mod:`divergence.stages.tune`           :class:`~.tune.TuneResult`
evaluate      :mod:`divergence.stages.evaluate`       :class:`~.evaluate.EvaluationResult`
train         :mod:`divergence.stages.train`          :class:`~.train.TrainResult`
report        :mod:`divergence.stages.report`         :class:`~.report.ReportResult`
============  ======================================  ===================================

Each module has a pure function named after the stage that returns its result
(computation only, no MLflow), ``log`` to record a result on the active run, ``step`` to
run the stage inside its own nested MLflow run, and ``load(run_id)`` to read the result of
a finished run back (:mod:`divergence.stages.shell` stores it under the run's ``stage/``
artifacts). So ``train`` can consume a finished ``evaluate`` run, and ``evaluate`` or
``train`` a finished ``tune`` run, instead of recomputing them; :func:`divergence.runs.run`
chains the stages under one top-level run.
"""

from divergence.stages.build_data import BuildResult
from divergence.stages.evaluate import EvaluationResult
from divergence.stages.report import ReportResult
from divergence.stages.train import TrainResult
from divergence.stages.tune import TuneResult

__all__ = ["BuildResult", "EvaluationResult", "ReportResult", "TrainResult", "TuneResult"]
