"""Forward and backward signal diagnostics for an initialized model."""

from keras_initplus.diagnostics.diagnose import diagnose
from keras_initplus.diagnostics.report import DiagnosisReport

__all__ = ["DiagnosisReport", "diagnose"]
