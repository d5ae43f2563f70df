import math

import pytest

import keras_initplus as k

# (constructor or call, exception, fragments the message must contain)
CASES = [
    (
        lambda: k.Orthogonal(gain=-1.0),
        ValueError,
        ["`gain`", "gain=-1.0", "positive finite"],
    ),
    (lambda: k.Orthogonal(gain=math.inf), ValueError, ["`gain`", "gain=inf"]),
    (lambda: k.Orthogonal(gain=math.nan), ValueError, ["`gain`", "gain=nan"]),
    (lambda: k.Orthogonal(gain=0), ValueError, ["`gain`", "gain=0"]),
    (lambda: k.Orthogonal(gain=True), TypeError, ["`gain`", "gain=True"]),
    (lambda: k.DeltaOrthogonal(gain=-2), ValueError, ["`gain`", "gain=-2"]),
    (
        lambda: k.Orthogonal(gain="relux"),
        ValueError,
        ["`activation`", "'relux'", "'relu'", "'tanh'"],
    ),
    (
        lambda: k.calculate_gain("swishy"),
        ValueError,
        ["`activation`", "'swishy'", "'gelu'"],
    ),
    (lambda: k.calculate_gain(3), TypeError, ["`activation`", "activation=3"]),
    (
        lambda: k.calculate_gain("leaky_relu", "x"),
        ValueError,
        ["`param`", "param='x'"],
    ),
    (
        lambda: k.calculate_gain("tanh", 0.1),
        ValueError,
        ["`param`", "param=0.1"],
    ),
    (
        lambda: k.initializer_for("relux"),
        ValueError,
        ["`activation`", "'relux'", "'relu'"],
    ),
    (
        lambda: k.Orthogonal()((5,)),
        ValueError,
        ["`shape`", "rank at least 2", "(5,)"],
    ),
    (
        lambda: k.DeltaOrthogonal()((3, 3)),
        ValueError,
        ["`shape`", "between 3 and 5", "(3, 3)"],
    ),
    (
        lambda: k.DeltaOrthogonal()((1, 1, 1, 1, 1, 4, 4)),
        ValueError,
        ["`shape`", "rank 7"],
    ),
    (
        lambda: k.DeltaOrthogonal()((3, 3, 8, 4)),
        ValueError,
        ["`shape`", "in_channels=8 > out_channels=4"],
    ),
    (
        lambda: k.HeAvgFanNormal()(()),
        ValueError,
        ["`shape`", "shape=()", "non-empty"],
    ),
    (
        lambda: k.Orthogonal()((0, 4)),
        ValueError,
        ["`shape`", "(0, 4)", "positive"],
    ),
    (
        lambda: k.HeAvgFanUniform()((4, 4), dtype="int32"),
        ValueError,
        ["`dtype`", "'int32'", "'float32'", "'bfloat16'"],
    ),
    (
        lambda: k.Orthogonal()((4, 4), dtype="int8"),
        ValueError,
        ["`dtype`", "'int8'"],
    ),
    (
        lambda: k.DeltaOrthogonal()((3, 4, 4), dtype="bool"),
        ValueError,
        ["`dtype`", "'bool'"],
    ),
    (lambda: k.HeAvgFanNormal(seed=-3), ValueError, ["`seed`", "seed=-3"]),
    (lambda: k.HeAvgFanNormal(seed="abc"), TypeError, ["`seed`", "seed='abc'"]),
    (
        lambda: k.VarianceScaling(mode="fan_sum"),
        ValueError,
        ["`mode`", "'fan_sum'", "'fan_avg'"],
    ),
    (lambda: k.VarianceScaling(scale=-1), ValueError, ["`scale`", "scale=-1"]),
    (
        lambda: k.VarianceScaling(distribution="cauchy"),
        ValueError,
        ["`distribution`", "'cauchy'", "'uniform'"],
    ),
]


@pytest.mark.parametrize("index", range(len(CASES)))
def test_error_names_argument_value_and_allowed(index):
    make, exc, fragments = CASES[index]
    with pytest.raises(exc) as info:
        make()
    message = str(info.value)
    for fragment in fragments:
        assert fragment in message, (fragment, message)
