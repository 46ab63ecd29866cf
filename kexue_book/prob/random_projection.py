r"""Random projections: the Johnson–Lindenstrauss lemma, sign hashing and randomized SVD.

A Gaussian random matrix :math:`A \in \mathbb{R}^{n\times m}` with i.i.d. entries
:math:`N(0, 1/n)` maps every fixed unit vector :math:`u` to :math:`Au \sim N(0, I_n/n)`, so
:math:`n\|Au\|^2 \sim \chi^2_n` and :math:`\|Au\|^2` concentrates at 1 with an exponential
tail. A union bound over the :math:`N(N-1)/2` pairs of a point set then gives the
Johnson–Lindenstrauss (JL) lemma: :math:`n > 24\ln N/\varepsilon^2` dimensions keep every
squared distance within a factor :math:`1\pm\varepsilon` with probability at least
:math:`(N-1)/N`.

This module holds the pieces chapters 02 and 03 of the book derive and test:

- the projection itself (:func:`gaussian_projection`) and the dimension bounds
  (:func:`jl_min_dim`, :func:`dasgupta_gupta_min_dim`);
- the three tails of :math:`\|u\|^2 - 1` (exact chi-square, Cramér–Chernoff, and the
  simplified :math:`2e^{-\varepsilon^2 n/8}`), and the exact and bounded tails of
  :math:`\langle u, v\rangle`;
- the distortion of a projected point set (:func:`max_sq_distance_distortion`,
  :func:`max_inner_product_error`, :func:`jl_distortion_trials`);
- sign random projections (SimHash): :func:`sign_lsh`, :func:`code_cosine`,
  :func:`expected_sign_cosine` and its inverse;
- the Halko–Martinsson–Tropp randomized SVD (:func:`randomized_svd`) and, for the
  demonstration in chapter 03 only, the post's flawed recipe (:func:`post_random_svd`).

Tensors in, tensors out (torch); the scalar tail probabilities use NumPy/SciPy.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch

from scipy import integrate as _integrate
from scipy import optimize as _optimize
from scipy import special as _special
from scipy import stats as _stats

from kexue_book._checks import all_finite

__all__ = [
    "code_cosine",
    "cosine_from_sign_cosine",
    "dasgupta_gupta_min_dim",
    "entropy_dim_formula",
    "expected_sign_cosine",
    "gaussian_projection",
    "inner_product_tail_bound",
    "inner_product_tail_exact",
    "jl_distortion_trials",
    "jl_min_dim",
    "max_inner_product_error",
    "max_sq_distance_distortion",
    "norm_tail_bound",
    "norm_tail_chernoff",
    "norm_tail_exact",
    "pairwise_sq_distance_ratios",
    "post_random_svd",
    "predicted_jl_dim",
    "predicted_max_distortion",
    "randomized_svd",
    "sign_lsh",
    "sq_gaussian_mgf",
]

_SIDES = ("both", "upper", "lower")
_COS_TOL = 1e-12


# --------------------------------------------------------------------------- validation
def _check_int(value: Any, name: str, minimum: int) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name}={value!r} ({type(value).__name__}): expected an integer >= {minimum}")
    value = int(value)
    if value < minimum:
        raise ValueError(f"{name}={value}: expected an integer >= {minimum}")
    return value


def _check_positive_finite(value: Any, name: str) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name}={value!r}: expected a positive finite number")
    value = float(value)
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name}={value}: expected a positive finite number")
    return value


def _as_float_array(x: Any, name: str) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    try:
        arr = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name}={x!r} is not numeric") from exc
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite, got {x!r}")
    return arr


def _check_eps_array(eps: Any) -> np.ndarray:
    arr = _as_float_array(eps, "eps")
    if np.any((arr <= 0) | (arr >= 1)):
        raise ValueError(f"eps={eps!r}: every value must lie in the open interval (0, 1)")
    return arr


def _check_dim_array(n: Any, name: str = "n") -> np.ndarray:
    arr = _as_float_array(n, name)
    if np.any(arr < 1) or np.any(arr != np.round(arr)):
        raise ValueError(f"{name}={n!r}: every value must be an integer >= 1")
    return arr


def _check_num_points(num_points: Any) -> np.ndarray:
    """``num_points`` as a float array of integers >= 2 (the :math:`N` of the JL bounds)."""
    big_n = _as_float_array(num_points, "num_points")
    if np.any(big_n < 2) or np.any(big_n != np.round(big_n)):
        raise ValueError(f"num_points={num_points!r}: expected integers >= 2")
    return big_n


def _maybe_scalar(arr: np.ndarray) -> float | np.ndarray:
    return float(arr) if arr.ndim == 0 else arr


def _check_side(side: str) -> str:
    if side not in _SIDES:
        raise ValueError(f"side={side!r}: expected one of {list(_SIDES)}")
    return side


def _check_tail_args(n: Any, eps: Any, side: str) -> tuple[np.ndarray, np.ndarray]:
    """The dimension and ``eps`` arrays of a norm-tail function, after checking ``side``."""
    n_a, e = _check_dim_array(n), _check_eps_array(eps)
    _check_side(side)
    return n_a, e


def _sided(up: np.ndarray, lo: np.ndarray, side: str) -> float | np.ndarray:
    """The upper tail, the lower tail or their sum, as :func:`_maybe_scalar` returns it."""
    out = {"upper": up, "lower": lo, "both": up + lo}[side]
    return _maybe_scalar(np.asarray(out, dtype=np.float64))


def _check_matrix(x: Any, name: str, *, finite: bool = True) -> torch.Tensor:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if x.ndim != 2:
        raise ValueError(f"{name} must be 2-D (rows x features), got shape {tuple(x.shape)}")
    if not x.is_floating_point():
        raise TypeError(f"{name} must have a floating dtype, got {x.dtype}")
    if x.shape[0] == 0 or x.shape[1] == 0:
        raise ValueError(f"{name} must be non-empty, got shape {tuple(x.shape)}")
    if finite and not all_finite(x):
        raise ValueError(f"{name} contains NaN or infinite entries")
    return x


def _check_float_dtype(dtype: Any) -> torch.dtype:
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise TypeError(f"dtype={dtype!r}: expected a floating torch dtype")
    return dtype


# --------------------------------------------------------------------------- projection
def gaussian_projection(
    in_dim: int,
    out_dim: int,
    *,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
    batch: int | None = None,
) -> torch.Tensor:
    r"""A Gaussian random projection matrix :math:`A` with i.i.d. :math:`N(0, 1/n)` entries.

    ``x @ A.T`` (or ``A @ x`` for a column vector) maps :math:`\mathbb{R}^m` to
    :math:`\mathbb{R}^n`, :math:`m` = ``in_dim``, :math:`n` = ``out_dim``. For a fixed unit
    vector :math:`u`, :math:`Au \sim N(0, I_n/n)` (equation E9 of chapter 02), so
    :math:`E\|Au\|^2 = \|u\|^2`. This is the distribution scikit-learn's
    ``GaussianRandomProjection`` uses for ``components_``.

    Parameters
    ----------
    in_dim, out_dim
        :math:`m` and :math:`n`, integers >= 1.
    generator
        A torch generator; the matrix is created on its device unless ``device`` is given.
    device, dtype
        Where and in which floating dtype to create the matrix.
    batch
        If given (an integer >= 1), draw that many independent matrices at once.

    Returns
    -------
    torch.Tensor
        Shape ``(out_dim, in_dim)``, or ``(batch, out_dim, in_dim)``.

    Raises
    ------
    TypeError
        If a dimension or ``batch`` is not an integer or ``dtype`` is not a floating dtype.
    ValueError
        If a dimension or ``batch`` is below 1.
    """
    m = _check_int(in_dim, "in_dim", 1)
    n = _check_int(out_dim, "out_dim", 1)
    shape = (n, m) if batch is None else (_check_int(batch, "batch", 1), n, m)
    dtype = _check_float_dtype(dtype)
    if device is None and generator is not None:
        device = generator.device
    a = torch.randn(shape, generator=generator, device=device, dtype=dtype)
    return a.mul_(1.0 / math.sqrt(n))


def jl_min_dim(num_points: Any, eps: Any, constant: float = 24.0) -> int | np.ndarray:
    r"""Smallest integer :math:`n > c\,\ln N/\varepsilon^2` (the post's JL dimension).

    With :math:`c = 24` (the default) the union bound of chapter 02 (equation E10)
    guarantees that a Gaussian projection to :math:`n` dimensions keeps all squared
    distances of :math:`N` points within :math:`1 \pm \varepsilon` with probability at
    least :math:`(N-1)/N`; with :math:`c = 16` (E12) the probability is only positive.
    scikit-learn's ``johnson_lindenstrauss_min_dim`` uses the sharper Dasgupta–Gupta
    bound instead, see :func:`dasgupta_gupta_min_dim`.

    Parameters
    ----------
    num_points
        :math:`N`, an integer >= 2 (or an array of them).
    eps
        :math:`\varepsilon \in (0, 1)` (or an array; broadcast against ``num_points``).
    constant
        :math:`c > 0`.

    Returns
    -------
    int or numpy.ndarray
        :math:`\lfloor c\ln N/\varepsilon^2\rfloor + 1`, an ``int`` for scalar input.

    Raises
    ------
    ValueError
        If ``num_points < 2``, ``eps`` is outside (0, 1) or ``constant`` is not positive.
    """
    big_n = _check_num_points(num_points)
    e = _check_eps_array(eps)
    c = _check_positive_finite(constant, "constant")
    out = np.floor(c * np.log(big_n) / e**2).astype(np.int64) + 1
    return int(out) if out.ndim == 0 else out


def dasgupta_gupta_min_dim(num_points: Any, eps: Any) -> int | np.ndarray:
    r"""Smallest integer :math:`n \ge 4\ln N / (\varepsilon^2/2 - \varepsilon^3/3)` (Dasgupta–Gupta).

    This is the bound behind scikit-learn's ``johnson_lindenstrauss_min_dim``. It is the
    existence version of the JL lemma (success probability :math:`> 0`, as in E12 of
    chapter 02) with the sharper exponent :math:`\ln(1+\varepsilon) - \varepsilon \le
    -\varepsilon^2/2 + \varepsilon^3/3` in place of :math:`-\varepsilon^2/4`. scikit-learn
    truncates the real bound to an integer, so its value can be one below ours.

    Parameters
    ----------
    num_points
        :math:`N`, an integer >= 2 (or an array of them).
    eps
        :math:`\varepsilon \in (0, 1)` (or an array).

    Returns
    -------
    int or numpy.ndarray
        :math:`\lceil 4\ln N/(\varepsilon^2/2 - \varepsilon^3/3)\rceil`.

    Raises
    ------
    ValueError
        If ``num_points < 2`` or ``eps`` is outside (0, 1).
    """
    big_n = _check_num_points(num_points)
    e = _check_eps_array(eps)
    out = np.ceil(4.0 * np.log(big_n) / (e**2 / 2 - e**3 / 3)).astype(np.int64)
    return int(out) if out.ndim == 0 else out


# --------------------------------------------------------------------------- tails
def sq_gaussian_mgf(lam: Any, n: Any) -> float | np.ndarray:
    r"""Moment generating function of :math:`u^2` for :math:`u \sim N(0, 1/n)` (E3 of chapter 02).

    .. math:: E\,e^{\lambda u^2} = (1 - 2\lambda/n)^{-1/2}, \qquad \lambda < n/2 .

    For :math:`\lambda \ge n/2` the expectation is infinite.

    Parameters
    ----------
    lam
        :math:`\lambda`, finite, strictly below :math:`n/2` (array-like allowed).
    n
        The variance parameter :math:`n \ge 1` (need not be an integer here).

    Raises
    ------
    ValueError
        If some :math:`\lambda \ge n/2` (the expectation diverges) or inputs are not finite.
    """
    lam_a = _as_float_array(lam, "lam")
    n_a = _as_float_array(n, "n")
    if np.any(n_a <= 0):
        raise ValueError(f"n={n!r}: expected positive values")
    if np.any(lam_a >= n_a / 2):
        raise ValueError(f"lam={lam!r}: E exp(lam u^2) is finite only for lam < n/2")
    return _maybe_scalar(np.exp(-0.5 * np.log1p(-2.0 * lam_a / n_a)))


def norm_tail_exact(n: Any, eps: Any, side: str = "both") -> float | np.ndarray:
    r"""Exact tail of :math:`\|u\|^2 - 1` for :math:`u \sim N(0, I_n/n)`, from :math:`n\|u\|^2 \sim \chi^2_n`.

    ``side="upper"``: :math:`P(\|u\|^2 - 1 \ge \varepsilon)`; ``"lower"``:
    :math:`P(1 - \|u\|^2 \ge \varepsilon)`; ``"both"``: their sum
    :math:`P(|\|u\|^2 - 1| \ge \varepsilon)` (E7 of chapter 02).

    Parameters
    ----------
    n
        Dimension(s), integers >= 1.
    eps
        :math:`\varepsilon \in (0, 1)`, broadcast against ``n``.
    side
        ``"both"``, ``"upper"`` or ``"lower"``.

    Raises
    ------
    ValueError
        On a bad ``n``, ``eps`` or ``side``.
    """
    n_a, e = _check_tail_args(n, eps, side)
    up = _stats.chi2.sf(n_a * (1 + e), n_a)
    lo = _stats.chi2.cdf(n_a * (1 - e), n_a)
    return _sided(up, lo, side)


def norm_tail_chernoff(n: Any, eps: Any, side: str = "both") -> float | np.ndarray:
    r"""Cramér–Chernoff bounds on the tails of :math:`\|u\|^2 - 1` (E4 and E6 of chapter 02).

    .. math::

        P(\|u\|^2-1\ge\varepsilon) \le e^{\frac n2(\ln(1+\varepsilon)-\varepsilon)},\qquad
        P(1-\|u\|^2\ge\varepsilon) \le e^{\frac n2(\ln(1-\varepsilon)+\varepsilon)},

    the optimum over :math:`\lambda` of :math:`e^{-\lambda a}E e^{\lambda x}`; ``"both"``
    returns the sum of the two.

    Parameters
    ----------
    n, eps, side
        As in :func:`norm_tail_exact`.
    """
    n_a, e = _check_tail_args(n, eps, side)
    up = np.exp(0.5 * n_a * (np.log1p(e) - e))
    lo = np.exp(0.5 * n_a * (np.log1p(-e) + e))
    return _sided(up, lo, side)


def norm_tail_bound(n: Any, eps: Any, side: str = "both") -> float | np.ndarray:
    r"""The post's simplified bound :math:`P(|\|u\|^2-1|\ge\varepsilon) \le 2e^{-\varepsilon^2 n/8}` (E7).

    Each one-sided tail is bounded by :math:`e^{-\varepsilon^2 n/8}`; ``"both"`` doubles it.

    Parameters
    ----------
    n, eps, side
        As in :func:`norm_tail_exact`.
    """
    n_a, e = _check_tail_args(n, eps, side)
    one = np.exp(-(e**2) * n_a / 8)
    return _maybe_scalar(np.asarray(2 * one if side == "both" else one, dtype=np.float64))


def inner_product_tail_exact(n: int, eps: float) -> float:
    r"""Exact :math:`P(|\langle u, v\rangle| \ge \varepsilon)` for independent :math:`u, v \sim N(0, I_n/n)`.

    Given :math:`v`, :math:`\langle u, v\rangle \sim N(0, \|v\|^2/n)`; with
    :math:`R = n\|v\|^2 \sim \chi^2_n`,

    .. math::

        P(|\langle u,v\rangle|\ge\varepsilon)
        = 2\,E\big[\bar\Phi(\varepsilon n/\sqrt R)\big]
        = 2\int_0^\infty f_{\chi^2_n}(r)\,\bar\Phi(\varepsilon n/\sqrt r)\,dr,

    evaluated by adaptive quadrature on the log scale (relative accuracy about 1e-10).

    Parameters
    ----------
    n
        Dimension, an integer >= 1.
    eps
        :math:`\varepsilon > 0` (finite; values >= 1 are allowed here).

    Raises
    ------
    ValueError
        If ``n < 1`` or ``eps`` is not positive and finite.
    """
    n = _check_int(n, "n", 1)
    e = _check_positive_finite(eps, "eps")
    half = 0.5 * n
    log_norm = -half * math.log(2.0) - math.lgamma(half)

    def integrand(r: float) -> float:
        # chi^2_n log-density plus log of the normal upper tail, in log space
        if r <= 0.0:
            return 0.0
        return math.exp(log_norm + (half - 1) * math.log(r) - 0.5 * r + _special.log_ndtr(-e * n / math.sqrt(r)))

    chi = _stats.chi2(n)
    lo, hi = 0.0, float(chi.isf(1e-300))
    pts = [p for p in (max(n - 2.0, 0.0), float(n), (e * n) ** 2 / 4) if lo < p < hi]
    val, _ = _integrate.quad(integrand, lo, hi, points=sorted(set(pts)) or None, limit=400,
                             epsabs=0.0, epsrel=1e-11)
    return float(2 * val)


def inner_product_tail_bound(n: Any, eps: Any) -> float | np.ndarray:
    r"""The orthogonality lemma's bound :math:`P(|\langle u,v\rangle|\ge\varepsilon)\le 4e^{-\varepsilon^2 n/8}` (E8).

    Parameters
    ----------
    n, eps
        As in :func:`norm_tail_exact`.
    """
    n_a, e = _check_dim_array(n), _check_eps_array(eps)
    return _maybe_scalar(np.asarray(4 * np.exp(-(e**2) * n_a / 8), dtype=np.float64))


def _abs_tail_any(n: float, d: float) -> float:
    """P(|chi2_n/n - 1| >= d) for any d > 0 (the lower tail is empty once d >= 1)."""
    up = float(_stats.chi2.sf(n * (1 + d), n))
    return up + (float(_stats.chi2.cdf(n * (1 - d), n)) if d < 1 else 0.0)


def _check_success(success: Any) -> float:
    s = _check_positive_finite(success, "success")
    if s >= 1:
        raise ValueError(f"success={s}: expected a probability in (0, 1)")
    return s


def predicted_max_distortion(num_points: int, n: int, success: float = 0.5) -> float:
    r"""Worst squared-distance distortion of :math:`N` points reached with probability ``1 - success``, treating pairs as independent.

    Solves :math:`\tfrac{N(N-1)}{2}\,P\big(|\chi^2_n/n-1|\ge d\big) = -\ln(\text{success})`
    for :math:`d`, with the exact chi-square tail. If the :math:`M=N(N-1)/2` pair distortions
    were independent, :math:`P(\max \le d) = (1-p)^M \approx e^{-Mp}`, so ``success=0.5``
    gives the median of the worst distortion. Pairs that share a point are positively
    correlated, which makes the true worst case slightly milder: chapter 02 measures values
    up to about 10 % below this prediction.

    Parameters
    ----------
    num_points
        :math:`N \ge 2`.
    n
        Target dimension, an integer >= 1.
    success
        Probability in (0, 1) that the worst distortion stays below the returned value.

    Raises
    ------
    TypeError, ValueError
        On non-integer or out-of-range ``num_points``, ``n`` or ``success``.
    """
    big_n = _check_int(num_points, "num_points", 2)
    nn = _check_int(n, "n", 1)
    target = -math.log(_check_success(success)) / (big_n * (big_n - 1) / 2)
    hi = 1.0
    while _abs_tail_any(nn, hi) > target:
        hi *= 2
        if hi > 1e12:  # pragma: no cover - the tail decays for every n >= 1
            raise ValueError("no finite distortion reaches the requested probability")
    return float(_optimize.brentq(lambda d: _abs_tail_any(nn, d) - target, 1e-15, hi, xtol=1e-14, rtol=1e-12))


def predicted_jl_dim(num_points: int, eps: float, success: float = 0.5) -> int:
    r"""Smallest :math:`n` at which the worst distortion of :math:`N` points is :math:`\le\varepsilon` with probability ``success``, pairs treated as independent.

    The smallest integer :math:`n` with :math:`\tfrac{N(N-1)}{2}P(|\chi^2_n/n-1|\ge\varepsilon)
    \le -\ln(\text{success})`: the union-bound argument of the JL lemma run with the exact
    tail and a target success probability instead of :math:`1-1/N` (see
    :func:`predicted_max_distortion`). It grows like :math:`\ln N` and is 2.3–4 times
    smaller than :math:`24\ln N/\varepsilon^2`.

    Parameters
    ----------
    num_points
        :math:`N \ge 2`.
    eps
        :math:`\varepsilon \in (0, 1)`.
    success
        Target probability in (0, 1).

    Raises
    ------
    TypeError, ValueError
        On out-of-range arguments.
    """
    big_n = _check_int(num_points, "num_points", 2)
    e = float(_check_eps_array(eps))
    target = -math.log(_check_success(success)) / (big_n * (big_n - 1) / 2)
    lo, hi = 0, 1
    while _abs_tail_any(hi, e) > target:
        lo, hi = hi, hi * 2
    while hi - lo > 1:  # invariant: tail(lo) > target >= tail(hi); the tail decreases in n
        mid = (lo + hi) // 2
        if _abs_tail_any(mid, e) > target:
            lo = mid
        else:
            hi = mid
    return hi


# --------------------------------------------------------------------------- distortion
def _check_pair(x: Any, y: Any) -> tuple[torch.Tensor, torch.Tensor]:
    x, y = _check_matrix(x, "X"), _check_matrix(y, "Y")
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"X and Y must have the same number of rows (points), got {x.shape[0]} and {y.shape[0]}")
    if x.shape[0] < 2:
        raise ValueError(f"X must hold at least 2 points (rows), got {x.shape[0]}")
    if y.device != x.device:
        raise ValueError(f"X and Y must be on the same device, got {x.device} and {y.device}")
    return x, y


def _check_chunk(chunk_size: Any) -> int:
    return _check_int(chunk_size, "chunk_size", 1)


def _row_blocks(n: int, chunk_size: int, device: torch.device) -> Iterator[tuple[int, int, torch.Tensor]]:
    """Yield (r0, r1, mask): row blocks [r0, r1) and the mask of their pairs i < j."""
    cols = torch.arange(n, device=device)
    for r0 in range(0, n - 1, chunk_size):
        r1 = min(r0 + chunk_size, n - 1)
        yield r0, r1, cols[None, :] > torch.arange(r0, r1, device=device)[:, None]


def _centred64(z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    z = z.to(torch.float64)
    z = z - z.mean(0)
    return z, (z * z).sum(1)


def _block_sq_dists(z: torch.Tensor, nz: torch.Tensor, r0: int, r1: int) -> torch.Tensor:
    return (nz[r0:r1, None] + nz[None, :] - 2 * (z[r0:r1] @ z.T)).clamp_min_(0)


def _x_sq_dist_blocks(x: torch.Tensor, chunk_size: int) -> list[tuple[int, int, torch.Tensor, torch.Tensor]]:
    """Squared distances of the pairs i < j of ``x`` by row block, checked for duplicates.

    Points are centred first (distances are translation invariant) to reduce cancellation
    in |a|^2 + |b|^2 - 2<a, b>; all in float64.
    """
    xc, nx = _centred64(x)
    tiny = 64 * torch.finfo(torch.float64).eps
    out = []
    for r0, r1, mask in _row_blocks(x.shape[0], chunk_size, x.device):
        dx = _block_sq_dists(xc, nx, r0, r1)
        bad = (dx <= tiny * (nx[r0:r1, None] + nx[None, :])) & mask
        if bool(bad.any()):
            i, j = torch.nonzero(bad)[0].tolist()
            raise ValueError(
                f"X has duplicate (or numerically identical) rows {r0 + i} and {j}: their distance is 0, "
                "so the distortion ratio is undefined; remove duplicates first"
            )
        out.append((r0, r1, mask, dx[mask]))
    return out


def _ratio_blocks(
    xblocks: list[tuple[int, int, torch.Tensor, torch.Tensor]], y: torch.Tensor
) -> Iterator[torch.Tensor]:
    yc, ny = _centred64(y)
    for r0, r1, mask, dx in xblocks:
        yield _block_sq_dists(yc, ny, r0, r1)[mask] / dx


def _max_distortion(xblocks: list[tuple[int, int, torch.Tensor, torch.Tensor]], y: torch.Tensor) -> float:
    worst = torch.zeros((), dtype=torch.float64, device=y.device)
    for r in _ratio_blocks(xblocks, y):
        worst = torch.maximum(worst, (r - 1).abs().max())
    return float(worst)


def _gram_blocks(x: torch.Tensor, chunk_size: int) -> list[tuple[int, int, torch.Tensor, torch.Tensor]]:
    x = x.to(torch.float64)
    return [(r0, r1, mask, (x[r0:r1] @ x.T)[mask]) for r0, r1, mask in _row_blocks(x.shape[0], chunk_size, x.device)]


def _max_gram_error(xblocks: list[tuple[int, int, torch.Tensor, torch.Tensor]], y: torch.Tensor) -> float:
    y = y.to(torch.float64)
    worst = torch.zeros((), dtype=torch.float64, device=y.device)
    for r0, r1, mask, gx in xblocks:
        worst = torch.maximum(worst, ((y[r0:r1] @ y.T)[mask] - gx).abs().max())
    return float(worst)


def pairwise_sq_distance_ratios(X: torch.Tensor, Y: torch.Tensor, *, chunk_size: int = 1024) -> torch.Tensor:
    r"""All ratios :math:`\|y_i-y_j\|^2 / \|x_i-x_j\|^2` for :math:`i<j`, in row-major pair order.

    Memory grows as :math:`N^2/2`; for the maximum alone use :func:`max_sq_distance_distortion`.
    Squared distances come from the Gram matrix of the centred points in float64, so each
    carries an absolute error of a few units of :math:`10^{-16}(\|x_i\|^2 + \|x_j\|^2)`
    (centred norms); ratios of pairs far closer together than the cloud's size are only as
    accurate as that.

    Parameters
    ----------
    X, Y
        Shape ``(N, m)`` and ``(N, n)``: the points before and after the map, finite, on one
        device, no duplicate rows in ``X``.
    chunk_size
        Rows per block.

    Returns
    -------
    torch.Tensor
        Shape ``(N*(N-1)/2,)``, float64.

    Raises
    ------
    TypeError, ValueError
        On non-tensors, wrong shapes, different row counts, non-finite entries or
        duplicate rows in ``X``.
    """
    x, y = _check_pair(X, Y)
    c = _check_chunk(chunk_size)
    return torch.cat(list(_ratio_blocks(_x_sq_dist_blocks(x, c), y)))


def max_sq_distance_distortion(X: torch.Tensor, Y: torch.Tensor, *, chunk_size: int = 1024) -> float:
    r"""Largest relative change of a squared pairwise distance, :math:`\max_{i<j}\big|\frac{\|y_i-y_j\|^2}{\|x_i-x_j\|^2}-1\big|`.

    A projection satisfies the distance form of the JL lemma (E10 of chapter 02) with
    tolerance :math:`\varepsilon` exactly when this number is at most :math:`\varepsilon`.
    Computed block by block in float64 (memory ``chunk_size * N``).

    Parameters
    ----------
    X, Y
        As in :func:`pairwise_sq_distance_ratios`.
    chunk_size
        Rows per block.

    Raises
    ------
    TypeError, ValueError
        As in :func:`pairwise_sq_distance_ratios`.
    """
    x, y = _check_pair(X, Y)
    c = _check_chunk(chunk_size)
    return _max_distortion(_x_sq_dist_blocks(x, c), y)


def max_inner_product_error(X: torch.Tensor, Y: torch.Tensor, *, chunk_size: int = 1024) -> float:
    r"""Largest change of a pairwise inner product, :math:`\max_{i<j} |\langle y_i,y_j\rangle - \langle x_i,x_j\rangle|`.

    For unit vectors :math:`x_i` this is the quantity bounded by :math:`\varepsilon` in the
    inner-product form of the JL lemma (E11 of chapter 02). Computed in float64, block by
    block.

    Parameters
    ----------
    X, Y
        Shape ``(N, m)`` and ``(N, n)``, finite, same number of rows ``N >= 2``.
    chunk_size
        Rows per block.

    Raises
    ------
    TypeError, ValueError
        On non-tensors, wrong shapes, different row counts or non-finite entries.
    """
    x, y = _check_pair(X, Y)
    c = _check_chunk(chunk_size)
    return _max_gram_error(_gram_blocks(x, c), y)


def jl_distortion_trials(
    X: torch.Tensor,
    out_dim: int,
    trials: int,
    *,
    kind: str = "distance",
    generator: torch.Generator | None = None,
    dtype: torch.dtype | None = None,
    chunk_size: int = 1024,
    batch: int | None = None,
) -> torch.Tensor:
    r"""Project ``X`` with ``trials`` independent Gaussian matrices; return each trial's worst distortion.

    Each trial draws :math:`A` with :func:`gaussian_projection` (``out_dim`` rows) and
    records :func:`max_sq_distance_distortion` (``kind="distance"``) or
    :func:`max_inner_product_error` (``kind="inner"``) between ``X`` and ``X @ A.T``.
    A trial satisfies the JL lemma at tolerance :math:`\varepsilon` iff its value is
    :math:`\le\varepsilon`.

    Small problems run ``batch`` trials at once (batched matrix products, a few large
    operations instead of many small ones); large ones run one trial at a time with the
    pairs processed in row blocks of ``chunk_size``, so memory stays at about
    ``chunk_size * N`` numbers. The squared distances (or inner products) of ``X`` are
    computed once.

    Parameters
    ----------
    X
        Points, shape ``(N, m)``, ``N >= 2``, finite, no duplicate rows for ``"distance"``.
    out_dim
        Target dimension :math:`n \ge 1`.
    trials
        Number of independent projections, >= 1.
    kind
        ``"distance"`` or ``"inner"``.
    generator
        Torch generator on ``X``'s device.
    dtype
        dtype of the projection and the product (default: ``X.dtype``); the distortion is
        always evaluated in float64.
    chunk_size
        Rows per block in the one-trial-at-a-time path.
    batch
        Trials per batch (>= 1). ``None`` picks the largest batch whose intermediates hold
        at most :math:`2^{24}` numbers (1 when a single trial is already larger). Matrices
        of one batch are drawn together, so results depend on ``batch`` through the order
        in which random numbers are consumed, not in distribution.

    Returns
    -------
    torch.Tensor
        Shape ``(trials,)``, float64, on the CPU.

    Raises
    ------
    TypeError, ValueError
        On a bad ``X``, ``out_dim``, ``trials``, ``kind``, ``dtype``, ``chunk_size`` or ``batch``.
    """
    x = _check_matrix(X, "X")
    if x.shape[0] < 2:
        raise ValueError(f"X must hold at least 2 points (rows), got {x.shape[0]}")
    n = _check_int(out_dim, "out_dim", 1)
    t = _check_int(trials, "trials", 1)
    if kind not in ("distance", "inner"):
        raise ValueError(f"kind={kind!r}: expected 'distance' or 'inner'")
    dt = x.dtype if dtype is None else _check_float_dtype(dtype)
    c = _check_chunk(chunk_size)
    big_n, m = x.shape
    per_trial = big_n * (big_n + n) + n * m
    b = max(1, min(t, 2**24 // per_trial)) if batch is None else min(t, _check_int(batch, "batch", 1))
    xd = x.to(dt)
    out = torch.empty(t, dtype=torch.float64)
    if b == 1:
        if kind == "distance":
            blocks, measure = _x_sq_dist_blocks(x, c), _max_distortion
        else:
            blocks, measure = _gram_blocks(x, c), _max_gram_error
        for k in range(t):
            a = gaussian_projection(m, n, generator=generator, device=x.device, dtype=dt)
            out[k] = measure(blocks, xd @ a.T)
        return out
    iu, ju = torch.triu_indices(big_n, big_n, 1, device=x.device)
    if kind == "distance":
        ref = torch.cat([d for *_, d in _x_sq_dist_blocks(x, c)])  # checks duplicates; row-major i < j
    else:
        x64 = x.to(torch.float64)
        ref = (x64 @ x64.T)[iu, ju]
    for k0 in range(0, t, b):
        bb = min(b, t - k0)
        a = gaussian_projection(m, n, generator=generator, device=x.device, dtype=dt, batch=bb)
        y = (xd @ a.mT).to(torch.float64)  # (bb, N, n)
        if kind == "distance":
            y = y - y.mean(1, keepdim=True)
            ny = (y * y).sum(-1)
            d = (ny[:, :, None] + ny[:, None, :] - 2 * (y @ y.mT)).clamp_min_(0)[:, iu, ju]
            worst = (d / ref - 1).abs().amax(1)
        else:
            worst = ((y @ y.mT)[:, iu, ju] - ref).abs().amax(1)
        out[k0:k0 + bb] = worst.cpu()
    return out


# --------------------------------------------------------------------------- sign hashing
def sign_lsh(X: torch.Tensor, A: torch.Tensor, *, dtype: torch.dtype | None = None) -> torch.Tensor:
    r"""Sign random projection codes :math:`s = \mathrm{sign}(Ax)` (SimHash), with :math:`\mathrm{sign}(0) := +1`.

    For Gaussian rows :math:`a`, :math:`P[\mathrm{sign}(a^\top x)\ne\mathrm{sign}(a^\top y)]
    = \theta/\pi`, :math:`\theta` the angle between :math:`x` and :math:`y` (equation
    ``c03-eq-collision`` of chapter 03).

    Parameters
    ----------
    X
        Points, shape ``(N, m)`` (or one point, shape ``(m,)``), finite.
    A
        Projection, shape ``(n, m)``, finite; any scale (only signs matter).
    dtype
        dtype of the returned codes (default ``X.dtype``), e.g. ``torch.float16`` to halve memory.

    Returns
    -------
    torch.Tensor
        :math:`\pm1` codes, shape ``(N, n)`` (or ``(n,)``).

    Raises
    ------
    TypeError, ValueError
        On non-tensors, non-floating or non-finite input, or if ``A.shape[1]`` differs from
        the number of features of ``X``.
    """
    one_d = isinstance(X, torch.Tensor) and X.ndim == 1
    x = _check_matrix(X[None] if one_d else X, "X")
    a = _check_matrix(A, "A")
    if a.shape[1] != x.shape[1]:
        raise ValueError(f"A has {a.shape[1]} columns but X has {x.shape[1]} features; they must match")
    dt = x.dtype if dtype is None else _check_float_dtype(dtype)
    proj = x @ a.to(x.dtype).T
    codes = torch.where(proj >= 0, 1.0, -1.0).to(dt)
    return codes[0] if one_d else codes


def code_cosine(S1: torch.Tensor, S2: torch.Tensor) -> torch.Tensor:
    r"""Cosine between :math:`\pm1` codes, :math:`\frac1n S_1 S_2^\top` (:math:`\|s\|^2 = n` for such codes).

    Parameters
    ----------
    S1, S2
        Codes of shape ``(N1, n)`` and ``(N2, n)``, or 1-D of shape ``(n,)``.

    Returns
    -------
    torch.Tensor
        Shape ``(N1, N2)``; dimensions of 1-D inputs are dropped (two 1-D inputs give a scalar).

    Raises
    ------
    TypeError, ValueError
        On non-tensors, non-finite entries, or different code lengths.
    """
    for name, s in (("S1", S1), ("S2", S2)):
        if not isinstance(s, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(s).__name__}")
        if s.ndim not in (1, 2) or s.shape[-1] == 0:
            raise ValueError(f"{name} must be 1-D or 2-D and non-empty, got shape {tuple(s.shape)}")
        if s.is_floating_point() and not all_finite(s):
            raise ValueError(f"{name} contains NaN or infinite entries")
    if S1.shape[-1] != S2.shape[-1]:
        raise ValueError(f"code lengths differ: S1 has {S1.shape[-1]} bits, S2 has {S2.shape[-1]}")
    dt = torch.promote_types(S1.dtype, S2.dtype)
    if not dt.is_floating_point:
        dt = torch.float32
    s2 = S2.to(dt)
    return (S1.to(dt) @ (s2 if s2.ndim == 1 else s2.mT)) / S1.shape[-1]


def _cos_like(x: Any, name: str) -> tuple[torch.Tensor, bool]:
    is_tensor = isinstance(x, torch.Tensor)
    t = x if is_tensor else torch.as_tensor(_as_float_array(x, name))
    if not t.is_floating_point():
        t = t.to(torch.float64)
    if not all_finite(t):
        raise ValueError(f"{name} must be finite")
    if bool((t.abs() > 1 + _COS_TOL).any()):
        raise ValueError(f"{name}: every value must lie in [-1, 1] (tolerance {_COS_TOL:g})")
    return t.clamp(-1.0, 1.0), is_tensor


def expected_sign_cosine(cos: Any) -> Any:
    r"""Expected cosine of sign codes, :math:`1 - \frac{2\theta}{\pi} = \frac{2}{\pi}\arcsin(\cos\theta)`.

    Equation ``c03-eq-sign-cosine`` of chapter 03.

    Parameters
    ----------
    cos
        :math:`\cos\theta \in [-1, 1]` (tensor, array or number; values beyond by at most
        1e-12 are clipped).

    Returns
    -------
    Same kind as the input: a tensor for a tensor, a float for a scalar, else an array.

    Raises
    ------
    ValueError
        If some :math:`|\cos\theta| > 1 + 10^{-12}` or a value is not finite.
    """
    t, is_tensor = _cos_like(cos, "cos")
    out = 1.0 - 2.0 * torch.arccos(t) / math.pi
    if is_tensor:
        return out
    arr = out.numpy()
    return float(arr) if arr.ndim == 0 else arr


def cosine_from_sign_cosine(c: Any) -> Any:
    r"""Invert :func:`expected_sign_cosine`: :math:`\cos\theta = \cos\big(\tfrac{\pi}{2}(1-c)\big) = \sin(\pi c/2)`.

    Applied to a measured code cosine :math:`c`, this is a consistent estimator of the
    true cosine.

    Parameters
    ----------
    c
        Code cosine(s) in :math:`[-1, 1]`.

    Returns
    -------
    Same kind as the input.

    Raises
    ------
    ValueError
        If some :math:`|c| > 1 + 10^{-12}` or a value is not finite.
    """
    t, is_tensor = _cos_like(c, "c")
    out = torch.sin(0.5 * math.pi * t)
    if is_tensor:
        return out
    arr = out.numpy()
    return float(arr) if arr.ndim == 0 else arr


# --------------------------------------------------------------------------- randomized SVD
def randomized_svd(
    M: torch.Tensor,
    rank: int,
    *,
    oversample: int = 10,
    power_iters: int = 0,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    r"""Truncated SVD :math:`M \approx U\,\mathrm{diag}(S)\,V_h` by the Halko–Martinsson–Tropp method.

    With :math:`\ell` = ``rank + oversample`` (equation ``c03-eq-hmt`` of chapter 03):

    1. draw :math:`\Omega \in \mathbb{R}^{n\times\ell}` Gaussian and form :math:`Y = M\Omega`;
    2. optionally ``power_iters`` times :math:`Y \leftarrow M (M^\top Y)`, re-orthonormalising
       after each product by Householder QR (subspace iteration, stable for any spectrum);
    3. :math:`Q = \mathrm{orth}(Y)` (Householder QR), :math:`B = Q^\top M`;
    4. :math:`B = \tilde U \Sigma V_h` (small exact SVD), :math:`U = Q\tilde U`; keep ``rank`` terms.

    If :math:`M` is wide, the method runs on :math:`M^\top` (cheaper QR and SVD) and the
    factors are swapped back. When :math:`\mathrm{rank}(M) \le \ell` the result is exact up
    to rounding. The dtype and device of ``M`` are kept. The cost is :math:`2q + 2`
    products of :math:`M` with an :math:`\ell`-column matrix, as in scikit-learn's
    ``randomized_svd``; on the CPU they run through NumPy's BLAS (see ``benchmarks/``).

    Parameters
    ----------
    M
        Finite floating matrix, shape ``(m, n)``.
    rank
        Number of singular triplets to return, >= 1.
    oversample
        Extra random directions :math:`p \ge 0`; ``rank + oversample <= min(m, n)``.
    power_iters
        Number of subspace (power) iterations :math:`q \ge 0`.
    generator
        Torch generator on ``M``'s device, for :math:`\Omega`.

    Returns
    -------
    U, S, Vh
        Shapes ``(m, rank)``, ``(rank,)``, ``(rank, n)``; ``S`` is non-increasing.

    Raises
    ------
    TypeError, ValueError
        If ``M`` is not a finite 2-D float32/float64 tensor, if :math:`M\Omega` overflows
        (entries too large for the dtype), or if ``rank``, ``oversample`` or ``power_iters``
        are out of range.
    """
    # Finiteness is checked on the first product below instead of by a separate pass over M.
    a = _check_matrix(M, "M", finite=False)
    if a.dtype not in (torch.float32, torch.float64):
        raise TypeError(f"M must be float32 or float64 (LAPACK's QR and SVD), got {a.dtype}")
    k = _check_int(rank, "rank", 1)
    p = _check_int(oversample, "oversample", 0)
    q = _check_int(power_iters, "power_iters", 0)
    m, n = a.shape
    ell = k + p
    if ell > min(m, n):
        raise ValueError(
            f"rank + oversample = {ell} exceeds min(M.shape) = {min(m, n)}; lower rank or oversample"
        )
    transpose = m < n
    if transpose:
        a = a.mT  # a view: BLAS handles the transposed layout without a copy
        m, n = n, m
    # Y = M Omega with Omega drawn as its transpose (ell x n), then subspace iteration.
    omega_t = torch.randn(ell, n, generator=generator, device=a.device, dtype=a.dtype)
    y = _matmul(a, omega_t.mT)  # M Omega, m x ell
    if not bool(torch.isfinite(y).all()):
        # Every entry of M enters some entry of Y with a nonzero Gaussian weight, so a NaN or
        # an infinity in M always shows in Y; a finite M can still overflow the product.
        if not all_finite(a):
            raise ValueError("M contains NaN or infinite entries")
        raise ValueError(f"M @ Omega overflows {a.dtype}: M's entries are too large; rescale M")
    for _ in range(q):
        zt = _matmul(torch.linalg.qr(y).Q.mT, a)  # (M^T orth(Y))^T, ell x n
        y = _matmul(a, torch.linalg.qr(zt.mT).Q)  # M orth(M^T orth(Y)), m x ell
    qmat = torch.linalg.qr(y).Q  # orthonormal basis of range(Y), m x ell
    b = _matmul(qmat.mT, a)  # B = Q^T M, ell x n
    w, s, zh = torch.linalg.svd(b.mT, full_matrices=False)  # SVD of the tall B^T = W S Z^T
    u = qmat @ zh[:k].mT
    s, vh = s[:k], w[:, :k].mT
    if transpose:
        return vh.mT, s, u.mT
    return u, s, vh


def _matmul(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """``x @ y``; on the CPU through NumPy's BLAS, which runs these skinny products faster.

    The big products with :math:`M` dominate :func:`randomized_svd`. On CPUs where the
    BLAS bundled with torch is slow for them (measured on an AMD EPYC with MKL, one thread:
    a 4000 x 2000 by 2000 x 30 float64 product took 56 ms in torch, 21 ms in NumPy's
    OpenBLAS), NumPy computes them on zero-copy views of the same memory. Tensors that need
    autograd, or live on another device, use ``torch.matmul``.
    """
    if x.device.type == "cpu" and y.device.type == "cpu" and not (x.requires_grad or y.requires_grad):
        with np.errstate(all="ignore"):  # like torch: non-finite results are checked by the caller
            return torch.from_numpy(x.numpy() @ y.numpy())
    return x @ y


def post_random_svd(
    M: torch.Tensor,
    k: int,
    *,
    orthonormalize: bool = False,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    r"""The post's randomized-SVD recipe, kept only to show that it fails. **Not a valid SVD approximation.**

    Draws :math:`Q \in \mathbb{R}^{n\times k}` with i.i.d. :math:`N(0, 1/k)` entries
    (optionally orthonormalised by QR), takes :math:`B = MQ = U_B\Sigma_B V_B^\top` and
    returns the factors of :math:`U_B\Sigma_B(QV_B)^\top`, i.e. of :math:`MQQ^\top`. Because
    :math:`QQ^\top` has rank :math:`k` and is far from the identity in operator norm,
    :math:`MQQ^\top` is far from :math:`M` even when :math:`\mathrm{rank}(M) \le k` (equations
    ``c03-eq-post-rsvd`` and ``c03-eq-qqt-error`` of chapter 03). :math:`U_B` itself does span
    the column space in that case: use :func:`randomized_svd` for a correct method.

    Parameters
    ----------
    M
        Finite floating matrix, shape ``(m, n)``.
    k
        Number of random columns, ``1 <= k <= n``.
    orthonormalize
        Replace :math:`Q` by the orthonormal factor of its QR decomposition.
    generator
        Torch generator on ``M``'s device.

    Returns
    -------
    U, S, Vh
        :math:`U_B`, :math:`\Sigma_B` and :math:`(QV_B)^\top`, shapes ``(m, r)``, ``(r,)``,
        ``(r, n)`` with :math:`r = \min(m, k)`.

    Raises
    ------
    TypeError, ValueError
        If ``M`` is not a finite 2-D floating tensor or ``k`` is out of range.
    """
    a = _check_matrix(M, "M")
    kk = _check_int(k, "k", 1)
    if kk > a.shape[1]:
        raise ValueError(f"k={kk} exceeds the number of columns of M ({a.shape[1]})")
    qmat = torch.randn(a.shape[1], kk, generator=generator, device=a.device, dtype=a.dtype) / math.sqrt(kk)
    if orthonormalize:
        qmat = torch.linalg.qr(qmat).Q
    u_b, s_b, vh_b = torch.linalg.svd(a @ qmat, full_matrices=False)
    return u_b, s_b, vh_b @ qmat.mT


def entropy_dim_formula(num_points: Any, coef: float = 8.33) -> float | np.ndarray:
    r"""The entropy-based embedding-size rule :math:`n > c\ln N` (default :math:`c = 8.33`).

    Equation ``c03-eq-entropy-dim`` of chapter 03. The coefficient comes from the author's
    minimum-entropy argument (kexue.fm post 7695); it is quoted, not derived, in chapter 03.

    Parameters
    ----------
    num_points
        :math:`N \ge 2` (vocabulary size or sequence length), scalar or array.
    coef
        :math:`c > 0`.

    Returns
    -------
    float or numpy.ndarray
        :math:`c\ln N`.

    Raises
    ------
    ValueError
        If some ``num_points < 2`` or ``coef`` is not positive and finite.
    """
    big_n = _as_float_array(num_points, "num_points")
    if np.any(big_n < 2):
        raise ValueError(f"num_points={num_points!r}: expected values >= 2")
    c = _check_positive_finite(coef, "coef")
    return _maybe_scalar(c * np.log(big_n))
