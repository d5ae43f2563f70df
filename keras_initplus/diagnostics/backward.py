"""Kernel gradients of one batch's loss, on every Keras backend."""

import keras

from keras_initplus.backend_support import BACKEND


def _loss(model, x, y, y_pred, proxy_loss):
    if y is None:
        return proxy_loss(y_pred)
    return model.compute_loss(x=x, y=y, y_pred=y_pred, training=False)


def kernel_gradients(model, x, y, kernels, proxy_loss):
    """Returns the gradients of the loss with respect to `kernels`.

    The loss is the compiled one when `y` is given, `proxy_loss(y_pred)`
    otherwise. Nothing is assigned: on JAX the forward pass runs in a
    `StatelessScope`, so even a loss that updates a tracker leaves every
    variable as it was.
    """
    if BACKEND == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            y_pred = model(x, training=False)
            loss = _loss(model, x, y, y_pred, proxy_loss)
        return tape.gradient(loss, [k.value for k in kernels])
    if BACKEND == "jax":
        return _jax_gradients(model, x, y, kernels, proxy_loss)
    if BACKEND == "torch":
        import torch

        values = [k.value for k in kernels]
        with torch.enable_grad():
            y_pred = model(x, training=False)
            loss = _loss(model, x, y, y_pred, proxy_loss)
            return torch.autograd.grad(loss, values, allow_unused=True)
    raise ValueError(
        "Argument `backward=True` needs the tensorflow, jax or torch "
        f"backend. Received: backend={BACKEND!r}; pass backward=False."
    )


def _jax_gradients(model, x, y, kernels, proxy_loss):
    import jax

    kernel_ids = {id(k) for k in kernels}
    others = [v for v in model.variables if id(v) not in kernel_ids]

    def loss_of(kernel_values):
        mapping = list(zip(kernels, kernel_values))
        mapping += [(v, v.value) for v in others]
        with keras.StatelessScope(state_mapping=mapping):
            y_pred = model(x, training=False)
            return _loss(model, x, y, y_pred, proxy_loss)

    return jax.grad(loss_of)([k.value for k in kernels])
