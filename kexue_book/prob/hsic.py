r"""HSIC: the Hilbert–Schmidt independence criterion, its estimators and a permutation test.

For kernels :math:`k` on :math:`x` and :math:`l` on :math:`y`, and independent copies
:math:`(x_1, y_1), (x_2, y_2), (x_3, y_3)` of :math:`(x, y)`,

.. math::

   \mathrm{HSIC} = \mathbb E[k_{12} l_{12}] + \mathbb E[k_{12}]\,\mathbb E[l_{12}]
                   - 2\,\mathbb E[k_{12} l_{13}],
   \qquad k_{ij} = k(x_i, x_j),\; l_{ij} = l(y_i, y_j).

This is ``c06-eq-hsic-pop`` of chapter 06.

For a *characteristic* kernel (Gaussian, Laplacian) on each variable, HSIC vanishes if and
only if :math:`x` and :math:`y` are independent; for the linear kernel it is
:math:`\|\mathrm{Cov}(x, y)\|_F^2` and misses every non-linear dependence.

From a sample of :math:`n` pairs with Gram matrices :math:`K, L` and the centring matrix
:math:`J = I - \mathbf 1\mathbf 1^\top/n` there are three estimators:

* :func:`hsic_v`, the V-statistic :math:`\mathrm{tr}(KJLJ)/n^2` (``c06-eq-hsic-v``; biased,
  :math:`O(1/n)`);
* :func:`hsic_gretton`, :math:`\mathrm{tr}(KJLJ)/(n-1)^2` (Gretton et al. 2005; also the
  kexue.fm post's estimator; biased, :math:`O(1/n)`, although the post calls it unbiased);
* :func:`hsic_u`, the U-statistic of Song et al. (2012) (``c06-eq-hsic-u``), exactly unbiased.

All three run in :math:`O(n^2)` time: the centring matrix is never formed, the Gram matrix
is centred in place of it (:func:`double_center`, :func:`u_center`). Inputs and outputs are
``torch.Tensor``; leading batch dimensions are allowed on Gram matrices and samples.
:func:`gaussian_hsic_moments` gives the population value and every moment needed for the
exact finite-sample means of the estimators (:func:`estimator_means`) when :math:`(x, y)`
is jointly Gaussian and both kernels are Gaussian. Chapter 06 of the book derives every
formula implemented here.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

import numpy as np
import torch

from kexue_book._checks import all_finite, check_generator, check_int

__all__ = [
    "ESTIMATORS",
    "KERNELS",
    "HSICMoments",
    "PermutationTestResult",
    "distance_kernel",
    "double_center",
    "estimator_means",
    "gaussian_hsic_moments",
    "gaussian_hsic_population",
    "gaussian_kernel",
    "gram",
    "hsic",
    "hsic_estimates",
    "hsic_gretton",
    "hsic_literal",
    "hsic_permutation_null",
    "hsic_permutation_test",
    "hsic_u",
    "hsic_v",
    "linear_kernel",
    "sample_gaussian_pairs",
    "u_center",
]

ESTIMATORS: tuple[str, ...] = ("v", "gretton", "u")
"""Estimator names: V-statistic, Gretton et al.'s :math:`(n-1)^{-2}` version, U-statistic."""

KERNELS: tuple[str, ...] = ("gaussian", "linear", "distance")
"""Kernel names understood by :func:`gram`, :func:`hsic` and :func:`hsic_permutation_test`."""

_MIN_N = {"v": 2, "gretton": 2, "u": 4}
_BROADCAST_MAX_DIM = 8  # up to this many features, squared distances by exact differences


# --------------------------------------------------------------------------- validation
def _as_float_tensor(x: Any, name: str) -> torch.Tensor:
    """``x`` as a floating tensor (integers become float64); rejects bool, complex, NaN, Inf."""
    if isinstance(x, torch.Tensor):
        t = x
    else:
        try:
            t = torch.as_tensor(np.asarray(x))
        except (TypeError, ValueError, RuntimeError) as exc:
            raise TypeError(f"{name} must be a tensor or array of real numbers, got {type(x).__name__}") from exc
    if t.dtype == torch.bool or t.is_complex():
        raise TypeError(f"{name} has dtype {t.dtype}; expected real numbers")
    if not t.is_floating_point():
        t = t.to(torch.float64)
    if not all_finite(t):
        raise ValueError(f"{name} contains NaN or Inf; all entries must be finite")
    return t


def _check_positive(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name}={value!r} must be a real number > 0")
    v = float(value)
    if not (math.isfinite(v) and v > 0):
        raise ValueError(f"{name}={value!r} must be finite and > 0")
    return v


def _max_asymmetry(K: torch.Tensor, block: int = 128) -> float:
    """max |K - K^T| over (a batch of) square matrices, by row blocks.

    Comparing row blocks with column blocks keeps the transposed reads cache-friendly and
    the temporaries at ``block x n`` (a full ``K - K.mT`` is an n x n temporary).
    """
    n = K.shape[-1]
    if n <= 2 * block:
        return float((K - K.mT).abs().amax())
    worst = torch.zeros((), dtype=K.dtype, device=K.device)
    for a in range(0, n, block):
        blk = K[..., a : a + block, :] - K[..., :, a : a + block].mT
        worst = torch.maximum(worst, blk.abs_().amax())
    return float(worst)


def _check_gram(K: Any, name: str, min_n: int = 1) -> torch.Tensor:
    """A validated Gram matrix (or batch of them) of shape ``(..., n, n)``."""
    K = _as_float_tensor(K, name)
    if K.ndim < 2 or K.shape[-1] != K.shape[-2]:
        raise ValueError(f"{name} must have shape (..., n, n) (square in its last two dims), got {tuple(K.shape)}")
    n = K.shape[-1]
    if n < min_n:
        raise ValueError(f"{name} is {n}x{n}; this estimator needs n >= {min_n} samples")
    if K.numel():
        scale = max(float(K.amax()), -float(K.amin()))
        asym = _max_asymmetry(K)
        tol = math.sqrt(torch.finfo(K.dtype).eps) * max(scale, 1e-300)
        if asym > tol:
            raise ValueError(f"{name} is not symmetric: max |{name} - {name}^T| = {asym:.3g} > {tol:.3g}")
    return K


def _check_pair(K: Any, L: Any, min_n: int) -> tuple[torch.Tensor, torch.Tensor]:
    K = _check_gram(K, "K", min_n)
    L = _check_gram(L, "L", min_n)
    if K.shape != L.shape:
        raise ValueError(f"K and L must have the same shape (same samples), got {tuple(K.shape)} and {tuple(L.shape)}")
    if K.device != L.device:
        raise ValueError(f"K and L must be on the same device, got {K.device} and {L.device}")
    dtype = torch.promote_types(K.dtype, L.dtype)
    return K.to(dtype), L.to(dtype)


def _check_estimator(estimator: Any) -> str:
    if estimator not in ESTIMATORS:
        raise ValueError(f"estimator={estimator!r}; expected one of {list(ESTIMATORS)}")
    return estimator


def _samples(x: Any, name: str) -> torch.Tensor:
    """Samples as ``(..., n, d)``: a 1-D input of length ``n`` is ``n`` scalar samples."""
    t = _as_float_tensor(x, name)
    if t.ndim == 0:
        raise ValueError(f"{name} must have shape (n,) or (..., n, d), got a scalar")
    if t.ndim == 1:
        t = t[:, None]
    if t.shape[-2] == 0 or t.shape[-1] == 0:
        raise ValueError(f"{name} has shape {tuple(t.shape)}; it needs at least one sample and one feature")
    return t


# --------------------------------------------------------------------------- kernels
def _sq_dists(x: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
    """Squared Euclidean distances between the rows of ``x`` and ``y`` (``y=None``: ``x``)."""
    same = y is None
    y = x if y is None else y
    if x.shape[-1] <= _BROADCAST_MAX_DIM:
        # exact: sum of squared coordinate differences (diagonal exactly 0), in place
        d2 = (x[..., :, 0, None] - y[..., None, :, 0]).square_()
        for c in range(1, x.shape[-1]):
            d2 += (x[..., :, c, None] - y[..., None, :, c]).square_()
        return d2
    xx = (x * x).sum(-1)
    yy = (y * y).sum(-1)
    d2 = (xx[..., :, None] + yy[..., None, :] - 2.0 * (x @ y.transpose(-1, -2))).clamp_min_(0.0)
    if same:
        d2 = 0.5 * (d2 + d2.transpose(-1, -2))
        d2.diagonal(dim1=-2, dim2=-1).zero_()
    return d2


def _kernel_inputs(x: Any, y: Any) -> tuple[torch.Tensor, torch.Tensor | None]:
    xs = _samples(x, "x")
    if y is None:
        return xs, None
    ys = _samples(y, "y")
    if ys.shape[-1] != xs.shape[-1]:
        raise ValueError(f"x and y must have the same number of features, got {xs.shape[-1]} and {ys.shape[-1]}")
    if ys.device != xs.device:
        raise ValueError(f"x and y must be on the same device, got {xs.device} and {ys.device}")
    dtype = torch.promote_types(xs.dtype, ys.dtype)
    return xs.to(dtype), ys.to(dtype)


def gaussian_kernel(x: Any, y: Any = None, sigma: float = 1.0) -> torch.Tensor:
    r"""Gaussian kernel matrix in the kexue.fm post's convention (no factor 2).

    .. math:: K_{ij} = \exp\!\big(-\|x_i - y_j\|^2 / \sigma^2\big)

    This equals the usual :math:`\exp(-d^2/(2s^2))` with :math:`s = \sigma/\sqrt2`, and
    scikit-learn's ``rbf_kernel`` with ``gamma = 1/sigma**2``.

    Parameters
    ----------
    x
        Samples, shape ``(n,)`` (``n`` scalars) or ``(..., n, d)``.
    y
        Second set of samples, shape ``(m,)`` or ``(..., m, d)``; ``None`` means ``x``.
    sigma
        Bandwidth :math:`\sigma > 0`.

    Returns
    -------
    torch.Tensor
        Shape ``(..., n, m)``, on ``x``'s device, in ``x``'s floating dtype (integers
        become float64). With ``y=None`` the diagonal is exactly 1.

    Raises
    ------
    ValueError
        If ``sigma <= 0`` or is not finite, if an input is empty, has NaN/Inf, or the
        feature dimensions differ.
    TypeError
        If ``sigma`` is not a real number or an input is not real-valued.
    """
    s = _check_positive(sigma, "sigma")
    xs, ys = _kernel_inputs(x, y)
    return _sq_dists(xs, ys).mul_(-1.0 / (s * s)).exp_()


def linear_kernel(x: Any, y: Any = None) -> torch.Tensor:
    r"""Linear kernel matrix :math:`K_{ij} = x_i^\top y_j` (not characteristic).

    Parameters
    ----------
    x, y
        As in :func:`gaussian_kernel`.

    Returns
    -------
    torch.Tensor
        Shape ``(..., n, m)``.

    Raises
    ------
    ValueError, TypeError
        As in :func:`gaussian_kernel`.
    """
    xs, ys = _kernel_inputs(x, y)
    ys = xs if ys is None else ys
    return xs @ ys.transpose(-1, -2)


def distance_kernel(x: Any, y: Any = None) -> torch.Tensor:
    r"""Distance-induced kernel :math:`K_{ij} = \tfrac12(\|x_i\| + \|y_j\| - \|x_i - y_j\|)`.

    It is characteristic, and HSIC with it on both variables is one quarter of the squared
    distance covariance (Sejdinovic et al. 2013).

    Parameters
    ----------
    x, y
        As in :func:`gaussian_kernel`.

    Returns
    -------
    torch.Tensor
        Shape ``(..., n, m)``.

    Raises
    ------
    ValueError, TypeError
        As in :func:`gaussian_kernel`.
    """
    xs, ys = _kernel_inputs(x, y)
    d = _sq_dists(xs, ys).sqrt_()
    nx = xs.norm(dim=-1)
    ny = nx if ys is None else ys.norm(dim=-1)
    return 0.5 * (nx[..., :, None] + ny[..., None, :] - d)


_KERNEL_FUNCS: dict[str, Callable[..., torch.Tensor]] = {
    "gaussian": gaussian_kernel,
    "linear": linear_kernel,
    "distance": distance_kernel,
}


def gram(x: Any, kernel: str = "gaussian", sigma: float = 1.0) -> torch.Tensor:
    """Gram matrix of the samples ``x`` under the kernel named ``kernel``.

    Parameters
    ----------
    x
        Samples, shape ``(n,)`` or ``(..., n, d)``.
    kernel
        One of :data:`KERNELS`.
    sigma
        Bandwidth, used by the Gaussian kernel only (still validated for the others).

    Raises
    ------
    ValueError
        For an unknown ``kernel`` and the errors of the kernel functions.
    """
    if kernel not in _KERNEL_FUNCS:
        raise ValueError(f"kernel={kernel!r}; expected one of {list(KERNELS)}")
    s = _check_positive(sigma, "sigma")
    if kernel == "gaussian":
        return gaussian_kernel(x, sigma=s)
    return _KERNEL_FUNCS[kernel](x)


def _grams_xy(xs: torch.Tensor, ys: torch.Tensor, kernel_x: str, kernel_y: str | None,
              sigma_x: float, sigma_y: float | None) -> tuple[torch.Tensor, torch.Tensor]:
    sx = _check_positive(sigma_x, "sigma_x")
    sy = sx if sigma_y is None else _check_positive(sigma_y, "sigma_y")
    if kernel_y is not None and kernel_y not in _KERNEL_FUNCS:
        raise ValueError(f"kernel_y={kernel_y!r}; expected one of {list(KERNELS)}")
    if kernel_x not in _KERNEL_FUNCS:
        raise ValueError(f"kernel_x={kernel_x!r}; expected one of {list(KERNELS)}")
    return gram(xs, kernel_x, sx), gram(ys, kernel_x if kernel_y is None else kernel_y, sy)


# --------------------------------------------------------------------------- centring
def double_center(K: Any) -> torch.Tensor:
    r"""The doubly centred matrix :math:`JKJ`, in :math:`O(n^2)` without forming :math:`J`.

    .. math:: (JKJ)_{ij} = K_{ij} - \bar K_{i\cdot} - \bar K_{\cdot j} + \bar K_{\cdot\cdot}

    with row, column and grand means. Accepts a batch ``(..., n, n)``.

    Raises
    ------
    ValueError, TypeError
        If ``K`` is not a finite real square (batch of) matrix.
    """
    K = _as_float_tensor(K, "K")
    if K.ndim < 2 or K.shape[-1] != K.shape[-2] or K.shape[-1] == 0:
        raise ValueError(f"K must have shape (..., n, n) with n >= 1, got {tuple(K.shape)}")
    row = K.mean(dim=-1, keepdim=True)
    col = K.mean(dim=-2, keepdim=True)
    grand = row.mean(dim=-2, keepdim=True)
    out = K - row
    out -= col - grand  # (n,)-sized temporary only
    return out


def u_center(K: Any) -> torch.Tensor:
    r"""The U-centred matrix :math:`\tilde K` of Székely & Rizzo (2014), in :math:`O(n^2)`.

    With the diagonal of :math:`K` ignored (set to 0), for :math:`i \ne j`

    .. math::

       \tilde K_{ij} = K_{ij} - \frac{K_{i+}}{n-2} - \frac{K_{+j}}{n-2}
                       + \frac{K_{++}}{(n-1)(n-2)},

    and :math:`\tilde K_{ii} = 0` (:math:`+` denotes a sum over the off-diagonal). Then
    :math:`\sum_{ij}\tilde K_{ij}L_{ij}/(n(n-3))` is Song et al.'s unbiased HSIC.

    Raises
    ------
    ValueError, TypeError
        If ``K`` is not a finite real square (batch of) matrix with ``n >= 3``.
    """
    K = _as_float_tensor(K, "K")
    if K.ndim < 2 or K.shape[-1] != K.shape[-2]:
        raise ValueError(f"K must have shape (..., n, n), got {tuple(K.shape)}")
    n = K.shape[-1]
    if n < 3:
        raise ValueError(f"K is {n}x{n}; U-centring needs n >= 3")
    diag = K.diagonal(dim1=-2, dim2=-1)
    row = K.sum(dim=-1) - diag  # off-diagonal row sums
    col = K.sum(dim=-2) - diag
    total = row.sum(dim=-1, keepdim=True)
    out = K - (row / (n - 2))[..., :, None]
    out -= (col / (n - 2) - total / ((n - 1) * (n - 2)))[..., None, :]
    out.diagonal(dim1=-2, dim2=-1).zero_()
    return out


# --------------------------------------------------------------------------- estimators
def _inner(A: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
    r""":math:`\sum_{ij} A_{ij}B_{ij}` over the last two dims, as BLAS dot products (no temporary)."""
    a, b = A.flatten(-2), B.flatten(-2)
    if a.ndim == 1:
        return torch.dot(a, b)
    return (a.unsqueeze(-2) @ b.unsqueeze(-1)).squeeze(-1).squeeze(-1)


def hsic_v(K: Any, L: Any) -> torch.Tensor:
    r"""V-statistic (biased) HSIC, :math:`\mathrm{tr}(KJLJ)/n^2`, in :math:`O(n^2)`.

    Equals the plug-in estimate of the population formula (chapter 06, ``c06-eq-hsic-pop``),
    :math:`\tfrac1{n^2}\mathrm{tr}(KL) + \tfrac1{n^4}\mathbf 1^\top K\mathbf 1\,\mathbf 1^\top L\mathbf 1
    - \tfrac2{n^3}\mathbf 1^\top KL\mathbf 1`, computed as
    :math:`\sum_{ij}(JKJ)_{ij}(JLJ)_{ij}/n^2` (both centred, which keeps the cancellation small).

    Parameters
    ----------
    K, L
        Symmetric Gram matrices of the same ``n`` samples, shape ``(..., n, n)``, ``n >= 2``.

    Returns
    -------
    torch.Tensor
        Shape ``(...)`` (a 0-dim tensor for single matrices).

    Raises
    ------
    ValueError
        If a matrix is not square, not symmetric (beyond :math:`\sqrt{\epsilon}` relative),
        has NaN/Inf, ``n < 2``, or the shapes or devices of ``K`` and ``L`` differ.
    TypeError
        If an input is not real-valued.
    """
    K, L = _check_pair(K, L, _MIN_N["v"])
    n = K.shape[-1]
    return _inner(double_center(K), double_center(L)) / (n * n)


def hsic_gretton(K: Any, L: Any) -> torch.Tensor:
    r"""Gretton et al. (2005)'s :math:`\mathrm{tr}(KJLJ)/(n-1)^2` — the kexue.fm post's estimator.

    The post calls it unbiased; it is not: its bias is :math:`O(1/n)`, e.g. exactly
    :math:`(\mathbb E k_{11} - \mathbb E k_{12})(\mathbb E l_{11} - \mathbb E l_{12})/(n-1)`
    under independence. Use :func:`hsic_u` for an unbiased estimate.

    Parameters, returns and errors as in :func:`hsic_v`.
    """
    K, L = _check_pair(K, L, _MIN_N["gretton"])
    n = K.shape[-1]
    return _inner(double_center(K), double_center(L)) / ((n - 1) * (n - 1))


def hsic_u(K: Any, L: Any) -> torch.Tensor:
    r"""Unbiased U-statistic HSIC of Song et al. (2012), in :math:`O(n^2)` (chapter 06, ``c06-eq-hsic-u``).

    With :math:`\tilde K, \tilde L` the matrices with zeroed diagonals,

    .. math::

       \mathrm{HSIC}_u = \frac{1}{n(n-3)}\Big[\mathrm{tr}(\tilde K\tilde L)
       + \frac{\mathbf 1^\top\tilde K\mathbf 1\,\mathbf 1^\top\tilde L\mathbf 1}{(n-1)(n-2)}
       - \frac{2}{n-2}\mathbf 1^\top\tilde K\tilde L\mathbf 1\Big],

    computed as the inner product of the U-centred matrices (:func:`u_center`) divided by
    :math:`n(n-3)`. Its expectation is the population HSIC exactly; it can be negative.

    Parameters
    ----------
    K, L
        Symmetric Gram matrices of the same ``n`` samples, shape ``(..., n, n)``, ``n >= 4``.

    Returns
    -------
    torch.Tensor
        Shape ``(...)``.

    Raises
    ------
    ValueError
        As in :func:`hsic_v`, with ``n >= 4``.
    TypeError
        If an input is not real-valued.
    """
    K, L = _check_pair(K, L, _MIN_N["u"])
    n = K.shape[-1]
    return _inner(u_center(K), u_center(L)) / (n * (n - 3))


def hsic_estimates(K: Any, L: Any) -> dict[str, torch.Tensor]:
    r"""All three estimators at once (each Gram matrix validated and centred once).

    Parameters
    ----------
    K, L
        Symmetric Gram matrices of the same samples, shape ``(..., n, n)``, ``n >= 4``.

    Returns
    -------
    dict
        ``{"v": ..., "gretton": ..., "u": ...}``, each of shape ``(...)``; identical to
        :func:`hsic_v`, :func:`hsic_gretton` and :func:`hsic_u`.

    Raises
    ------
    ValueError, TypeError
        As in :func:`hsic_u`.
    """
    K, L = _check_pair(K, L, _MIN_N["u"])
    n = K.shape[-1]
    inner_v = _inner(double_center(K), double_center(L))
    return {
        "v": inner_v / (n * n),
        "gretton": inner_v / ((n - 1) * (n - 1)),
        "u": _inner(u_center(K), u_center(L)) / (n * (n - 3)),
    }


_ESTIMATOR_FUNCS: dict[str, Callable[[Any, Any], torch.Tensor]] = {
    "v": hsic_v,
    "gretton": hsic_gretton,
    "u": hsic_u,
}


def hsic(
    x: Any,
    y: Any,
    *,
    kernel_x: str = "gaussian",
    kernel_y: str | None = None,
    sigma_x: float = 1.0,
    sigma_y: float | None = None,
    estimator: str = "u",
) -> torch.Tensor:
    r"""HSIC of paired samples ``x``, ``y``: kernels, then one of the three estimators.

    Parameters
    ----------
    x, y
        Paired samples, shapes ``(n,)`` or ``(..., n, d_x)`` and ``(..., n, d_y)``.
    kernel_x, kernel_y
        Kernel names (:data:`KERNELS`); ``kernel_y=None`` uses ``kernel_x``.
    sigma_x, sigma_y
        Gaussian bandwidths (post's convention :math:`\exp(-d^2/\sigma^2)`);
        ``sigma_y=None`` uses ``sigma_x``.
    estimator
        ``"u"`` (unbiased, default), ``"v"`` or ``"gretton"``.

    Returns
    -------
    torch.Tensor
        Shape ``(...)``.

    Raises
    ------
    ValueError
        If ``x`` and ``y`` have different sample counts or batch shapes, for an unknown
        kernel or estimator, a non-positive bandwidth, NaN/Inf, or too few samples.
    """
    est = _check_estimator(estimator)
    xs, ys = _samples(x, "x"), _samples(y, "y")
    if xs.shape[:-1] != ys.shape[:-1]:
        raise ValueError(
            f"x and y must hold the same number of samples (and batch shape), got {tuple(xs.shape[:-1])} "
            f"and {tuple(ys.shape[:-1])}"
        )
    n = xs.shape[-2]
    if n < _MIN_N[est]:
        raise ValueError(f"x and y hold n={n} samples; estimator={est!r} needs n >= {_MIN_N[est]}")
    K, L = _grams_xy(xs, ys, kernel_x, kernel_y, sigma_x, sigma_y)
    return _ESTIMATOR_FUNCS[est](K, L)


# --------------------------------------------------------------------------- permutation test
class PermutationTestResult(NamedTuple):
    """Result of :func:`hsic_permutation_test`: the statistic and its permutation p-value."""

    #: The HSIC estimate on the observed pairing.
    statistic: float
    #: :math:`(1 + \#\{b: T_b \ge T\})/(1 + B)`.
    p_value: float


@contextlib.contextmanager
def _torch_threads(n: int) -> Iterator[None]:
    """Run a block with ``n`` torch intra-op threads, restoring the previous count after."""
    old = torch.get_num_threads()
    if old != n:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        if old != n:
            torch.set_num_threads(old)


def _use_row_gathers(device: torch.device) -> bool:
    """Per-permutation row/column gathers (CPU) rather than one batched fancy index (GPU)."""
    return device.type == "cpu"


def hsic_permutation_null(
    K: Any,
    L: Any,
    num_permutations: int = 200,
    *,
    estimator: str = "v",
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""The HSIC statistic and its permutation null distribution from two Gram matrices.

    Permuting the :math:`y` sample by :math:`\pi` permutes both indices of :math:`L`;
    centring commutes with that, so every permuted statistic is
    :math:`\sum_{ij}\bar K_{ij}\bar L_{\pi(i)\pi(j)}` with the centred matrices computed once:
    :math:`O(n^2)` per permutation.

    Parameters
    ----------
    K, L
        Symmetric Gram matrices ``(n, n)`` of the same samples (no batch dimension).
    num_permutations
        Number of random permutations, ``>= 1``.
    estimator
        ``"v"`` (default), ``"gretton"`` or ``"u"``.
    generator
        ``torch.Generator`` on the matrices' device, for reproducible permutations.

    Returns
    -------
    (torch.Tensor, torch.Tensor)
        The observed statistic (0-dim) and the ``num_permutations`` permuted statistics.

    Raises
    ------
    ValueError
        As in the estimators; also for batched matrices, ``num_permutations < 1``, or a
        generator on another device.
    TypeError
        If ``num_permutations`` is not an integer or ``generator`` not a generator.
    """
    est = _check_estimator(estimator)
    B = check_int(num_permutations, "num_permutations", 1)
    K, L = _check_pair(K, L, _MIN_N[est])
    if K.ndim != 2:
        raise ValueError(f"K and L must be single (n, n) matrices here, got shape {tuple(K.shape)}")
    check_generator(generator, K.device, "the data are")
    n = K.shape[-1]
    if est == "u":
        Kc, Lc, norm = u_center(K), u_center(L), float(n * (n - 3))
    else:
        Kc, Lc = double_center(K), double_center(L)
        norm = float(n * n) if est == "v" else float((n - 1) * (n - 1))
    stat = _inner(Kc, Lc) / norm
    null = torch.empty(B, dtype=K.dtype, device=K.device)
    perms = [torch.randperm(n, generator=generator, device=K.device) for _ in range(B)]
    if _use_row_gathers(K.device):
        # row then column gathers: contiguous, about 3x faster than a batched fancy index on
        # CPU; single-threaded, since intra-op threads only add overhead to ops this small
        kflat = Kc.reshape(-1)
        with _torch_threads(1):
            for b, p in enumerate(perms):
                null[b] = torch.dot(kflat, Lc.index_select(0, p).index_select(1, p).reshape(-1))
    else:
        chunk = max(1, min(B, 2**25 // (n * n)))
        for start in range(0, B, chunk):
            P = torch.stack(perms[start : start + chunk])
            null[start : start + len(P)] = (Kc * Lc[P[:, :, None], P[:, None, :]]).sum(dim=(-2, -1))
    return stat, null / norm


def hsic_permutation_test(
    x: Any,
    y: Any,
    num_permutations: int = 200,
    *,
    kernel_x: str = "gaussian",
    kernel_y: str | None = None,
    sigma_x: float = 1.0,
    sigma_y: float | None = None,
    estimator: str = "v",
    generator: torch.Generator | None = None,
) -> PermutationTestResult:
    r"""Permutation test of independence of ``x`` and ``y`` with an HSIC statistic.

    The p-value is :math:`(1 + \#\{b : T_b \ge T\})/(1 + B)`, which is valid for any
    finite ``B``: under independence, :math:`P(p \le \alpha) \le \alpha` for every level
    :math:`\alpha`. With a
    characteristic kernel the test is consistent against every alternative; with the
    linear kernel it only sees correlation.

    Parameters
    ----------
    x, y
        Paired samples, shapes ``(n,)`` or ``(n, d)`` (no batch dimension).
    num_permutations
        ``B >= 1``; the smallest attainable p-value is :math:`1/(B+1)`.
    kernel_x, kernel_y, sigma_x, sigma_y, estimator
        As in :func:`hsic` (default estimator here: ``"v"``, as in Gretton et al. 2007).
    generator
        ``torch.Generator`` on the data's device.

    Returns
    -------
    PermutationTestResult
        ``(statistic, p_value)`` as floats.

    Raises
    ------
    ValueError, TypeError
        As in :func:`hsic` and :func:`hsic_permutation_null`.
    """
    est = _check_estimator(estimator)
    B = check_int(num_permutations, "num_permutations", 1)
    xs, ys = _samples(x, "x"), _samples(y, "y")
    if xs.ndim != 2 or ys.ndim != 2:
        raise ValueError(f"x and y must have shape (n,) or (n, d), got {tuple(xs.shape)} and {tuple(ys.shape)}")
    if xs.shape[0] != ys.shape[0]:
        raise ValueError(f"x and y must hold the same number of samples, got {xs.shape[0]} and {ys.shape[0]}")
    n = xs.shape[0]
    if n < _MIN_N[est]:
        raise ValueError(f"x and y hold n={n} samples; estimator={est!r} needs n >= {_MIN_N[est]}")
    K, L = _grams_xy(xs, ys, kernel_x, kernel_y, sigma_x, sigma_y)
    stat, null = hsic_permutation_null(K, L, B, estimator=est, generator=generator)
    # ties: compare with a relative slack so round-off does not decide them
    slack = 1e-12 * max(abs(float(stat)), float(null.abs().max()), 1e-300)
    exceed = int((null >= stat - slack).sum())
    return PermutationTestResult(float(stat), (1 + exceed) / (1 + B))


# --------------------------------------------------------------------------- literal sums
def hsic_literal(K: Any, L: Any, estimator: str = "v") -> float:
    r"""Reference HSIC by literal nested sums over sample indices (slow; for checking).

    * ``"v"``: :math:`\frac1{n^2}\sum_{ij}K_{ij}L_{ij} + \frac1{n^4}\sum_{ij}K_{ij}\sum_{qr}L_{qr}
      - \frac2{n^3}\sum_{ijq}K_{ij}L_{iq}` (a triple loop);
    * ``"gretton"``: the same times :math:`n^2/(n-1)^2`;
    * ``"u"``: each expectation of the population formula averaged over *distinct* index
      tuples, :math:`\frac{1}{(n)_2}\sum_{i\ne j}k_{ij}l_{ij} + \frac{1}{(n)_4}\sum_{i,j,q,r\
      \text{distinct}}k_{ij}l_{qr} - \frac{2}{(n)_3}\sum_{i,j,q\ \text{distinct}}k_{ij}l_{iq}`
      (a quadruple loop), :math:`(n)_m = n(n-1)\cdots(n-m+1)`.

    Parameters
    ----------
    K, L
        Symmetric ``(n, n)`` Gram matrices; ``n <= 200`` for ``"v"``/``"gretton"``,
        ``n <= 40`` for ``"u"`` (the loops are :math:`O(n^3)` and :math:`O(n^4)` in Python).
    estimator
        ``"v"``, ``"gretton"`` or ``"u"``.

    Returns
    -------
    float

    Raises
    ------
    ValueError
        As in the estimators, for batched matrices, or for ``n`` above the limits.
    """
    est = _check_estimator(estimator)
    Kt, Lt = _check_pair(K, L, _MIN_N[est])
    if Kt.ndim != 2:
        raise ValueError(f"K and L must be single (n, n) matrices, got shape {tuple(Kt.shape)}")
    n = Kt.shape[0]
    limit = 40 if est == "u" else 200
    if n > limit:
        raise ValueError(f"n={n}: the literal {est!r} loops are for n <= {limit} (they are O(n^{4 if est == 'u' else 3}))")
    k = Kt.detach().cpu().double().tolist()
    l_ = Lt.detach().cpu().double().tolist()
    idx = range(n)
    if est in ("v", "gretton"):
        s_pair = sum(k[i][j] * l_[i][j] for i in idx for j in idx)
        s_k = sum(k[i][j] for i in idx for j in idx)
        s_l = sum(l_[q][r] for q in idx for r in idx)
        s_shared = sum(k[i][j] * l_[i][q] for i in idx for j in idx for q in idx)
        v = s_pair / n**2 + s_k * s_l / n**4 - 2.0 * s_shared / n**3
        return v if est == "v" else v * n**2 / (n - 1) ** 2
    s_pair = s_four = s_three = 0.0
    for i in idx:
        for j in idx:
            if j == i:
                continue
            s_pair += k[i][j] * l_[i][j]
            for q in idx:
                if q in (i, j):
                    continue
                s_three += k[i][j] * l_[i][q]
                for r in idx:
                    if r in (i, j, q):
                        continue
                    s_four += k[i][j] * l_[q][r]
    n2, n3, n4 = n * (n - 1), n * (n - 1) * (n - 2), n * (n - 1) * (n - 2) * (n - 3)
    return s_pair / n2 + s_four / n4 - 2.0 * s_three / n3


# --------------------------------------------------------------------------- population (Gaussian)
class HSICMoments(NamedTuple):
    r"""The kernel moments that fix HSIC and the means of its estimators.

    Here :math:`(x_i, y_i)` are i.i.d. copies of :math:`(x, y)`, and the kernels
    :math:`k` (on :math:`x`) and :math:`l` (on :math:`y`) have constant diagonals.
    """

    #: :math:`\mathbb E\,k(x_1, x_2)`.
    k_mean: float
    #: :math:`\mathbb E\,l(y_1, y_2)`.
    l_mean: float
    #: :math:`\mathbb E\,k(x_1, x_2)\,l(y_1, y_2)` (two independent pairs).
    kl_pair: float
    #: :math:`\mathbb E\,k(x_1, x_2)\,l(y_1, y_3)` (one pair, :math:`x_2` and :math:`y_3` independent).
    kl_shared: float
    #: :math:`k(x, x)` (1 for the Gaussian kernel).
    k_diag: float = 1.0
    #: :math:`l(y, y)`.
    l_diag: float = 1.0

    @property
    def hsic(self) -> float:
        r"""Population HSIC, :math:`\mathbb E k_{12}l_{12} + \mathbb E k_{12}\mathbb E l_{12} - 2\mathbb E k_{12}l_{13}`."""
        return self.kl_pair + self.k_mean * self.l_mean - 2.0 * self.kl_shared


def _check_cov(cov: Any, dim_x: Any) -> tuple[np.ndarray, int]:
    if isinstance(cov, torch.Tensor):
        cov = cov.detach().cpu().numpy()
    try:
        S = np.asarray(cov)
    except (TypeError, ValueError) as exc:  # pragma: no cover - numpy accepts almost anything
        raise TypeError(f"cov must be a real (d, d) matrix, got {type(cov).__name__}") from exc
    if S.dtype == bool or not (np.issubdtype(S.dtype, np.integer) or np.issubdtype(S.dtype, np.floating)):
        raise TypeError(f"cov has dtype {S.dtype}; expected real numbers")
    S = S.astype(np.float64)
    if S.ndim != 2 or S.shape[0] != S.shape[1] or S.shape[0] < 2:
        raise ValueError(f"cov must be a square (d, d) matrix with d >= 2, got shape {S.shape}")
    if not np.all(np.isfinite(S)):
        raise ValueError("cov contains NaN or Inf; all entries must be finite")
    d = S.shape[0]
    scale = max(float(np.abs(S).max()), 1e-300)
    if float(np.abs(S - S.T).max()) > 1e-10 * scale:
        raise ValueError("cov must be symmetric")
    S = 0.5 * (S + S.T)
    if float(np.linalg.eigvalsh(S).min()) < -1e-10 * scale:
        raise ValueError("cov must be positive semi-definite (a covariance matrix)")
    if isinstance(dim_x, bool) or not isinstance(dim_x, (int, np.integer)):
        raise TypeError(f"dim_x={dim_x!r} must be an integer in [1, {d - 1}]")
    if not 1 <= dim_x <= d - 1:
        raise ValueError(f"dim_x={dim_x!r} must be in [1, {d - 1}] (x is the first dim_x coordinates of cov)")
    return S, int(dim_x)


def _gauss_exp_quadratic(C: np.ndarray, w: np.ndarray) -> float:
    r""":math:`\mathbb E\exp(-z^\top W z)` for :math:`z\sim N(0, C)`, :math:`W=\mathrm{diag}(w)`:
    :math:`\det(I + 2 W^{1/2} C W^{1/2})^{-1/2}`."""
    r = np.sqrt(w)
    M = np.eye(len(w)) + 2.0 * (r[:, None] * C * r[None, :])
    sign, logdet = np.linalg.slogdet(M)
    return float(np.exp(-0.5 * logdet))


def gaussian_hsic_moments(cov: Any, sigma: float = 1.0, *, sigma_y: float | None = None,
                          dim_x: int = 1) -> HSICMoments:
    r"""Exact kernel moments for jointly Gaussian :math:`(x, y)` and Gaussian kernels.

    :math:`(x, y)\sim N(\mu, S)` (the mean does not matter), :math:`x` the first ``dim_x``
    coordinates, kernels :math:`\exp(-\|\cdot\|^2/\sigma_x^2)` and
    :math:`\exp(-\|\cdot\|^2/\sigma_y^2)`, :math:`W = \mathrm{diag}(\sigma_x^{-2}I, \sigma_y^{-2}I)`,
    :math:`D` the block-diagonal part of :math:`S`. From
    :math:`\mathbb E e^{-z^\top W z} = \det(I + 2WC)^{-1/2}` for :math:`z\sim N(0, C)`:

    .. math::

       \mathbb E k_{12}l_{12} = \det(I + 4WS)^{-1/2},\quad
       \mathbb E k_{12}l_{13} = \det(I + 2W(S + D))^{-1/2},\quad
       \mathbb E k_{12} = \det(I + 4S_{xx}/\sigma_x^2)^{-1/2}.

    Parameters
    ----------
    cov
        Covariance :math:`S`, a symmetric positive semi-definite ``(d, d)`` matrix, ``d >= 2``.
    sigma
        :math:`\sigma_x > 0`.
    sigma_y
        :math:`\sigma_y > 0`; ``None`` uses ``sigma``.
    dim_x
        Number of leading coordinates that make up :math:`x`, in ``[1, d-1]``.

    Returns
    -------
    HSICMoments
        Its ``hsic`` property is the population HSIC.

    Raises
    ------
    ValueError
        If ``cov`` is not a finite symmetric PSD ``(d, d)`` matrix with ``d >= 2``, a
        bandwidth is not positive, or ``dim_x`` is out of range.
    TypeError
        If ``cov`` is not real, a bandwidth not a number, ``dim_x`` not an integer.
    """
    S, p = _check_cov(cov, dim_x)
    sx = _check_positive(sigma, "sigma")
    sy = sx if sigma_y is None else _check_positive(sigma_y, "sigma_y")
    d = S.shape[0]
    w = np.r_[np.full(p, 1.0 / sx**2), np.full(d - p, 1.0 / sy**2)]
    D = np.zeros_like(S)
    D[:p, :p] = S[:p, :p]
    D[p:, p:] = S[p:, p:]
    kl_pair = _gauss_exp_quadratic(2.0 * S, w)  # z = (x1-x2, y1-y2) ~ N(0, 2S)
    kl_shared = _gauss_exp_quadratic(S + D, w)  # z = (x1-x2, y1-y3) ~ N(0, S + D)
    k_mean = _gauss_exp_quadratic(2.0 * S[:p, :p], w[:p])
    l_mean = _gauss_exp_quadratic(2.0 * S[p:, p:], w[p:])
    return HSICMoments(k_mean, l_mean, kl_pair, kl_shared, 1.0, 1.0)


def gaussian_hsic_population(cov: Any, sigma: float = 1.0, *, sigma_y: float | None = None,
                             dim_x: int = 1) -> float:
    r"""Population HSIC for jointly Gaussian :math:`(x, y)` with Gaussian kernels.

    :math:`T_1 + T_2 - 2T_3` with :math:`T_1 = \det(I + 4WS)^{-1/2}`,
    :math:`T_2 = \mathbb E k_{12}\,\mathbb E l_{12}`, :math:`T_3 = \det(I + 2W(S+D))^{-1/2}`
    (see :func:`gaussian_hsic_moments`). For scalars with :math:`\sigma = 1` and
    :math:`S = [[1, 1], [1, 1.01]]` it is 0.094523.

    Parameters, errors as in :func:`gaussian_hsic_moments`.
    """
    return gaussian_hsic_moments(cov, sigma, sigma_y=sigma_y, dim_x=dim_x).hsic


def estimator_means(moments: HSICMoments, n: int) -> dict[str, float]:
    r"""Exact expectations of the three estimators at sample size ``n``.

    For kernels with constant diagonals :math:`d_k, d_l`, writing :math:`A` = ``kl_pair``,
    :math:`B` = ``kl_shared``, :math:`m_k, m_l` the kernel means, counting the index
    coincidences in the three sums of the V-statistic gives

    .. math::

       n^4\,\mathbb E\,\mathrm{HSIC}_V = n^2[n d_kd_l + n(n-1)A]
       - 2n[n d_k(d_l + (n-1)m_l) + n(n-1)(m_kd_l + A) + n(n-1)(n-2)B]
       + n^2 d_k(d_l + (n-1)m_l)
       + n(n-1)[n d_l m_k + 2A + 4(n-2)B + (n-2)(n-3)m_km_l].

    The Gretton estimator's mean is :math:`n^2/(n-1)^2` times that; the U-statistic's is
    the population HSIC. Under independence (:math:`A = B = m_km_l`) the V-statistic's mean
    reduces to :math:`(n-1)(d_k-m_k)(d_l-m_l)/n^2`.

    Parameters
    ----------
    moments
        The kernel moments (e.g. from :func:`gaussian_hsic_moments`).
    n
        Sample size, an integer ``>= 4``.

    Returns
    -------
    dict
        ``{"v": ..., "gretton": ..., "u": ...}``.

    Raises
    ------
    TypeError
        If ``moments`` is not an :class:`HSICMoments` or ``n`` not an integer.
    ValueError
        If ``n < 4`` or a moment is not finite.
    """
    if not isinstance(moments, HSICMoments):
        raise TypeError(f"moments must be an HSICMoments, got {type(moments).__name__}")
    if not all(math.isfinite(float(v)) for v in moments):
        raise ValueError(f"moments={moments!r} must all be finite")
    n = check_int(n, "n", 4)
    mk, ml, A, B, dk, dl = (moments.k_mean, moments.l_mean, moments.kl_pair, moments.kl_shared,
                            moments.k_diag, moments.l_diag)
    s_pair = n * dk * dl + n * (n - 1) * A
    s_shared = n * dk * (dl + (n - 1) * ml) + n * (n - 1) * (mk * dl + A) + n * (n - 1) * (n - 2) * B
    s_four = n * n * dk * (dl + (n - 1) * ml) + n * (n - 1) * (
        n * dl * mk + 2 * A + 4 * (n - 2) * B + (n - 2) * (n - 3) * mk * ml
    )
    v = s_pair / n**2 - 2.0 * s_shared / n**3 + s_four / n**4
    return {"v": v, "gretton": v * n * n / (n - 1) ** 2, "u": moments.hsic}


def sample_gaussian_pairs(
    cov: Any,
    n: int,
    batch: tuple[int, ...] = (),
    *,
    dim_x: int = 1,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float64,
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Draw ``n`` pairs :math:`(x, y) \sim N(0, S)` (for each batch index), split into ``x`` and ``y``.

    The covariance may be singular (e.g. :math:`y = x`): samples are
    :math:`S^{1/2}\varepsilon` with the symmetric square root from an eigendecomposition.

    Parameters
    ----------
    cov
        Covariance :math:`S`, a symmetric PSD ``(d, d)`` matrix, ``d >= 2``.
    n
        Pairs per sample, ``>= 1``.
    batch
        Leading batch shape (independent samples): a tuple (or list) of sizes, or one int.
    dim_x
        Number of leading coordinates forming ``x``, in ``[1, d-1]``.
    generator
        ``torch.Generator``; its device is used when ``device`` is ``None``.
    device, dtype
        Where and in which floating dtype to create the samples.

    Returns
    -------
    (torch.Tensor, torch.Tensor)
        ``x`` of shape ``(*batch, n, dim_x)`` and ``y`` of shape ``(*batch, n, d - dim_x)``.

    Raises
    ------
    ValueError
        As in :func:`gaussian_hsic_moments` for ``cov``/``dim_x``; for ``n < 1``, negative
        batch sizes, or a generator on another device.
    TypeError
        If ``n`` or ``batch`` are not integers, ``dtype`` is not floating, or ``generator``
        is not a generator.
    """
    S, p = _check_cov(cov, dim_x)
    n = check_int(n, "n", 1)
    if isinstance(batch, (int, np.integer)) and not isinstance(batch, bool):
        batch = (int(batch),)
    if isinstance(batch, (list, torch.Size)):
        batch = tuple(batch)
    if not isinstance(batch, tuple) or not all(isinstance(b, (int, np.integer)) and not isinstance(b, bool)
                                               for b in batch):
        raise TypeError(f"batch={batch!r} must be a tuple of integers")
    if any(b < 0 for b in batch):
        raise ValueError(f"batch={batch!r} must hold sizes >= 0")
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise TypeError(f"dtype={dtype!r} must be a floating torch dtype")
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator, got {type(generator).__name__}")
    dev = torch.device(device) if device is not None else (generator.device if generator is not None
                                                            else torch.device("cpu"))
    check_generator(generator, dev, "the data are")
    w, V = np.linalg.eigh(S)
    root = torch.as_tensor((V * np.sqrt(np.clip(w, 0.0, None))) @ V.T, dtype=dtype, device=dev)
    eps = torch.randn(*batch, n, S.shape[0], generator=generator, device=dev, dtype=dtype)
    z = eps @ root  # root is symmetric: rows are S^{1/2} eps
    return z[..., :p], z[..., p:]
