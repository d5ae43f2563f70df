"""Haar-distributed orthonormal matrices from matrix products.

Householder QR is slow on CPU in TensorFlow and slower still on GPUs and
TPUs. CholeskyQR builds the same factor from a Gram matrix, a Cholesky
factorisation and a triangular solve, which run at matmul speed.

Exactness: the Cholesky factor has a positive diagonal, so `Q = A R^-1` is
the unique QR factor with a positive diagonal R. For a Gaussian `A` that Q
is Haar-distributed (Mezzadri, 2007). Running CholeskyQR twice (CholQR2)
multiplies two such R's and keeps the property, while bringing the loss of
orthogonality down to rounding level; matrices 4:1 or taller are so well
conditioned that one pass already gets there.

Conditioning: CholeskyQR squares the condition number, so it is only
accurate on well-conditioned blocks. A Gaussian n-by-b block with
b <= n/2 has condition number around 6; a square one around n. The columns
are therefore taken in blocks of at most half the remaining dimension
(block Gram-Schmidt, which gives the same Q in exact arithmetic), and the
last few columns, whose block is nearly square, are done in float64.
Where the backend has no float64 (JAX without `jax_enable_x64`), that
block is done in float32 by Householder QR, projected and factored twice,
which keeps float32 kernels orthonormal to the same 1e-5 (float64
kernels need float64, hence x64, on JAX).
"""

import keras
from keras import ops

# Below this many remaining dimensions the last block is done in float64:
# it is nearly square, hence ill-conditioned, but small.
_PRECISE_DIM = 256
# Aspect ratio from which a single CholeskyQR pass is accurate enough.
_ONE_PASS_RATIO = 4


def _matmul(a, b):
    # Keras's PyTorch backend returns float32 from a float64 matmul on
    # CPU, which would undo the float64 block; its einsum keeps float64.
    if keras.backend.backend() == "torch":
        return ops.einsum("ij,jk->ik", a, b)
    return ops.matmul(a, b)


def _cholesky_qr(a, scale=1.0):
    # einsum lets the backend read `a` transposed instead of copying it.
    gram = ops.einsum("ij,ik->jk", a, a)
    lower = ops.cholesky(gram)
    # Inverting the small k x k factor and taking one n x k product is
    # faster than a triangular solve against the tall matrix, and lets the
    # scale ride on the small matrix instead of touching all n x k entries.
    eye = ops.eye(a.shape[1], dtype=a.dtype) * ops.cast(scale, a.dtype)
    lower_inv = ops.solve_triangular(lower, eye, lower=True)
    return _matmul(a, ops.transpose(lower_inv))


def _cholesky_qr2(a, scale=1.0):
    return _cholesky_qr(_cholesky_qr(a), scale)


def _householder_q(a):
    # Householder QR is orthonormal to rounding whatever the conditioning;
    # the sign flip makes R's diagonal positive, so Q is the same factor.
    q, r = ops.qr(a)
    signs = ops.where(ops.diagonal(r) < 0, -1.0, 1.0)
    return q * ops.cast(signs, q.dtype)[None, :]


def _precise_float32(basis, block):
    """The last, nearly square block without float64.

    Its columns lie in a small complement of `basis` and are badly
    conditioned there, so the float32 rounding left along `basis` is
    amplified by the inverse of R. A second projection and QR, the
    identity in exact arithmetic, removes it.
    """
    for _ in range(2):
        if basis is not None:
            block = _project_out(basis, _project_out(basis, block))
        block = _householder_q(block)
    return block


def float64_available():
    """Whether the backend computes in float64: JAX truncates it to
    float32 unless `jax_enable_x64` is set."""
    if keras.backend.backend() != "jax":
        return True
    import jax

    return bool(jax.config.jax_enable_x64)


def _project_out(basis, block):
    return block - _matmul(basis, _matmul(ops.transpose(basis), block))


def _block_widths(n, k):
    """Yields (start, width, precise) for each column block of an n x k Q.

    Each block is at most half the dimension left to it, hence well
    conditioned, until that dimension falls to `_PRECISE_DIM`; the rest is
    one float64 block.
    """
    start = 0
    while start < k:
        remaining = n - start
        precise = remaining <= _PRECISE_DIM
        width = k - start if precise else min(k - start, remaining // 2)
        yield start, width, precise
        start += width


def orthonormal_columns(a, scale=1.0):
    """Returns `scale` times the Q factor (positive-diagonal R) of `a`.

    `a` must be tall (rows >= cols), must have full column rank, and is
    float32 or float64; so is the result.
    """
    n, k = a.shape
    dtype = keras.backend.standardize_dtype(a.dtype)
    plan = list(_block_widths(n, k))
    if n >= _ONE_PASS_RATIO * k and not plan[0][2]:
        # At 4:1 or taller a Gaussian block has condition number below
        # about 3, and one CholeskyQR pass is already orthonormal to ~1e-6
        # in float32 (measured up to 16384 x 2048): the second pass would
        # double the cost for no visible gain.
        return _cholesky_qr(a, scale)
    if len(plan) == 1 and not plan[0][2]:
        return _cholesky_qr2(a, scale)
    blocks = []
    wide = float64_available()
    for start, width, precise in plan:
        block = a[:, start : start + width]
        if precise and wide:
            block = ops.cast(block, "float64")
        basis = None
        if blocks:
            basis = ops.cast(ops.concatenate(blocks, axis=1), block.dtype)
        if precise and not wide:
            blocks.append(ops.cast(_precise_float32(basis, block), dtype))
            continue
        if basis is not None:
            # Twice is enough (Giraud et al., 2005): one pass leaves
            # rounding-level components along the basis, two remove them.
            block = _project_out(basis, _project_out(basis, block))
        blocks.append(ops.cast(_cholesky_qr2(block), dtype))
    q = blocks[0] if len(blocks) == 1 else ops.concatenate(blocks, axis=1)
    return q * ops.cast(scale, dtype) if scale != 1.0 else q


def haar_orthonormal(rows, cols, seed, dtype, scale=1.0):
    """Returns `scale` times a Haar-distributed `rows x cols` matrix with
    orthonormal columns (rows >= cols) or orthonormal rows (rows < cols).

    float16 and bfloat16 are computed in float32 and cast at the end;
    TensorFlow has no bfloat16 Cholesky or QR kernels.
    """
    compute = "float64" if dtype == "float64" else "float32"
    n, k = max(rows, cols), min(rows, cols)
    a = keras.random.normal((n, k), seed=seed, dtype=compute)
    q = orthonormal_columns(a, scale)
    if rows < cols:
        q = ops.transpose(q)
    if dtype != compute:
        q = ops.cast(q, dtype)
    return q
