"""`initialize_model`: initialization for a whole model, residual
branches and attention blocks included."""

from keras_initplus.model_init.initialize import initialize_model
from keras_initplus.model_init.report import KernelPlan, ModelInitReport

__all__ = ["KernelPlan", "ModelInitReport", "initialize_model"]
