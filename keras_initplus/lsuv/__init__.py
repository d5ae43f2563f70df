"""LSUV: layer-sequential unit-variance initialization for Keras 3."""

from keras_initplus.lsuv.callback import LSUVCallback
from keras_initplus.lsuv.initializer import LSUV
from keras_initplus.lsuv.report import LayerResult, LSUVReport
from keras_initplus.lsuv.run import lsuv_init

__all__ = ["LSUV", "LSUVCallback", "LSUVReport", "LayerResult", "lsuv_init"]
