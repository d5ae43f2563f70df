"""Haar-distributed orthonormal matrices from matrix products.

Householder QR is slow on CPU in TensorFlow and slower still on GPUs and
TPUs. CholeskyQR builds the same factor from a Gram matrix, a Cholesky
factorisation and a triangular solve, which run at matmul speed.

Exactness: the Cholesky factor has a positive diagonal, so `Q = A R^-1` is
the unique QR factor with a positive diagonal R. For a Gaussian `A` that Q
is Haar-distributed (Mezzadri, 2007). Running CholeskyQR twice (CholQR2)
multiplies two such R's and keeps the property, while bringing the loss of
orthogonality down to rounding level.

Conditioning: CholeskyQR squares the condition number, so it is only
accurate on well-conditioned blocks. A Gaussian n-by-b block with
b <= n/2 has condition number around 6; a square one around n. The columns
are therefore taken in blocks of at most half the remaining dimension
(block Gram-Schmidt, which gives the same Q in exact arithmetic), and the
last few columns, whose block is nearly square, are done in float64.
"""

import keras
from keras import ops

# Below this many remaining dimensions the last block is done in float64:
# it is nearly square, hence ill-conditioned, but small.
_PRECISE_DIM = 256


def _cholesky_qr(a):
    gram = ops.matmul(ops.transpose(a), a)
    lower = ops.cholesky(gram)
    # Q^T = L^-1 A^T, a triangular solve rather than an explicit inverse.
    q_t = ops.solve_triangular(lower, ops.transpose(a), lower=True)
    return ops.transpose(q_t)


def _cholesky_qr2(a):
    return _cholesky_qr(_cholesky_qr(a))


def _project_out(basis, block):
    return block - ops.matmul(basis, ops.matmul(ops.transpose(basis), block))


def orthonormal_columns(a):
    """Returns the Q factor (positive-diagonal R) of a tall matrix `a`.

    `a` must have at least as many rows as columns and full column rank;
    it is float32 or float64, and so is the result.
    """
    n, k = a.shape
    dtype = keras.backend.standardize_dtype(a.dtype)
    blocks = []
    start = 0
    while start < k:
        remaining = n - start
        precise = remaining <= _PRECISE_DIM or remaining < 2 * (k - start)
        width = k - start if remaining <= _PRECISE_DIM else remaining // 2
        width = min(width, k - start)
        block = a[:, start : start + width]
        if precise and remaining <= _PRECISE_DIM:
            block = ops.cast(block, "float64")
        if blocks:
            basis = ops.concatenate(blocks, axis=1)
            basis = ops.cast(basis, block.dtype)
            # Twice is enough (Giraud et al., 2005): one pass leaves
            # rounding-level components along the basis, two remove them.
            block = _project_out(basis, _project_out(basis, block))
        q = _cholesky_qr2(block)
        blocks.append(ops.cast(q, dtype))
        start += width
    if len(blocks) == 1:
        return blocks[0]
    return ops.concatenate(blocks, axis=1)


def haar_orthonormal(rows, cols, seed, dtype):
    """Returns a Haar-distributed `rows x cols` matrix with orthonormal
    columns (rows >= cols) or orthonormal rows (rows < cols).

    float16 and bfloat16 are computed in float32 and cast at the end;
    TensorFlow has no bfloat16 Cholesky or QR kernels.
    """
    compute = "float64" if dtype == "float64" else "float32"
    n, k = max(rows, cols), min(rows, cols)
    a = keras.random.normal((n, k), seed=seed, dtype=compute)
    q = orthonormal_columns(a)
    if rows < cols:
        q = ops.transpose(q)
    return ops.cast(q, dtype)
