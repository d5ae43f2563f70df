"""TAT's tailored leaky ReLU: the negative slope chosen from the depth.

Kernel maps. For unit-variance Gaussian pre-activations with correlation
`c`, a layer's "C map" gives the correlation after it. With orthogonal
unit-gain kernels and an activation scaled so that `E[phi(z)^2] = 1`, the
squared lengths stay at 1 and a plain network of `L` such layers has the
C map `C_f = C o C o ... o C` (`L` times). Deep networks fail to train
when `C_f` is almost constant (every pair of inputs looks alike at the
output) and train well when it stays close to the identity.

For the scaled leaky ReLU `sqrt(2 / (1 + s^2)) * max(z, s z)` the C map
is, with `theta = arccos(c)`,

    C(c) = c + (1 - s)^2 / (pi (1 + s^2)) * (sqrt(1 - c^2) - c theta).

TAT (Zhang et al., 2022, section 5) picks `s` so that the whole
network's map sends 0 to a chosen `eta`: `C_f(0) = eta`, 0.9 in the
paper's experiments. A larger slope makes each layer more linear and
`C_f(0)` smaller, so the condition has a single solution, found here by
bisection in float64.
"""

import math

import keras
from keras import ops

from keras_initplus.validation import check_float, check_int

_BISECTION_STEPS = 100
# The paper's experiments use 0.9. On the package's deep-network
# benchmark (plain MLPs of width 64 on digits, SGD with momentum and
# clipping), 0.7 reached 90% in 2-3 epochs at depths 50, 100 and 300 where
# 0.9 needed 5-7, and 0.95 and 0.98 did not get there in 8
# (docs/deep_networks.md, "Choosing eta").
DEFAULT_ETA = 0.7


def leaky_relu_c_map(c, negative_slope):
    """The C map of the unit-second-moment leaky ReLU, at `c` in [-1, 1]."""
    s = negative_slope
    k = (1.0 - s) ** 2 / (math.pi * (1.0 + s * s))
    c = min(1.0, max(-1.0, c))
    return c + k * (math.sqrt(1.0 - c * c) - c * math.acos(c))


def network_c_map_at_zero(negative_slope, depth):
    """`C_f(0)` for `depth` layers of the tailored leaky ReLU."""
    c = 0.0
    for _ in range(depth):
        c = leaky_relu_c_map(c, negative_slope)
    return c


def tat_negative_slope(depth, eta=DEFAULT_ETA):
    """The slope `s` in [0, 1) with `C_f(0) = eta` for `depth` layers.

    Raises if `eta` is out of reach: with slope 0 (ReLU) the network's
    map sends 0 furthest, and a shallow network cannot get it to `eta`.
    """
    depth = check_int(depth, "depth", 1)
    eta = check_float(eta, "eta", low=0.0, high=1.0)
    most = network_c_map_at_zero(0.0, depth)
    if most < eta:
        raise ValueError(
            f"Argument `eta` must be at most {most:.4f} at depth={depth}: "
            "that is C_f(0) for a plain ReLU network (slope 0), the "
            "largest any slope in [0, 1) reaches. "
            f"Received: eta={eta!r}. Lower `eta` or count more layers."
        )
    low, high = 0.0, 1.0  # C_f(0) >= eta at low, < eta at high.
    for _ in range(_BISECTION_STEPS):
        mid = 0.5 * (low + high)
        if network_c_map_at_zero(mid, depth) >= eta:
            low = mid
        else:
            high = mid
    return low


@keras.saving.register_keras_serializable(package="keras_initplus")
class TailoredLeakyReLU:
    """Leaky ReLU whose slope is tailored to the depth (TAT).

    `phi(z) = sqrt(2 / (1 + s^2)) * max(z, s z)`, with the negative slope
    `s = tat_negative_slope(depth, eta)` chosen so that the C map of a
    plain network of `depth` such layers sends 0 to `eta`; see the module
    docstring for the map. The scale gives `E[phi(z)^2] = 1` for
    `z ~ N(0, 1)`, so it goes with unit-gain orthogonal kernels:
    `Orthogonal(gain=1.0)` for Dense layers and `DeltaOrthogonal(1.0)`
    for convolutions (`initializer_for(activation)` returns the former).
    Biases start at zero, as Keras's do.

    Args:
        depth: The number of layers with this activation, an int >= 1.
        eta: `C_f(0)`, in (0, 1). Default 0.7, measured faster than the
            paper's 0.9 on the package's benchmark (see `DEFAULT_ETA`);
            a larger `eta` makes the network more nearly linear.

    Example:

    >>> act = TailoredLeakyReLU(depth=100)
    >>> layer = keras.layers.Dense(
    ...     64, activation=act,
    ...     kernel_initializer=keras_initplus.Orthogonal(gain=1.0))

    Reference:
        - [Zhang et al., 2022, Deep Learning without Shortcuts](
          https://arxiv.org/abs/2203.08120)
        - [Martens et al., 2021, Deep Kernel Shaping](
          https://arxiv.org/abs/2110.01765)
    """

    def __init__(self, depth, eta=DEFAULT_ETA):
        self.negative_slope = tat_negative_slope(depth, eta)
        self.depth = int(depth)
        self.eta = float(eta)
        self.scale = math.sqrt(2.0 / (1.0 + self.negative_slope**2))
        self.__name__ = "tailored_leaky_relu"

    def __call__(self, x):
        return self.scale * ops.leaky_relu(x, self.negative_slope)

    def get_config(self):
        return {"depth": self.depth, "eta": self.eta}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return (
            f"TailoredLeakyReLU(depth={self.depth}, eta={self.eta}, "
            f"negative_slope={self.negative_slope:.6f})"
        )
