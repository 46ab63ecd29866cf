r"""Angles on spheres: the angle between random directions in :math:`\mathbb{R}^n`.

Let :math:`x, y` be independent isotropic random vectors in :math:`\mathbb{R}^n`
(for instance with i.i.d. :math:`N(0, 1)` components) and
:math:`\theta \in [0, \pi]` the angle between them. Only the directions matter,
and by rotation invariance one may take :math:`y = e_1` and :math:`x` uniform on
the unit sphere :math:`S^{n-1}`. Then

.. math::

   p_n(\theta) = c_n \sin^{n-2}\theta, \qquad
   c_n = \frac{|S^{n-2}|}{|S^{n-1}|}
       = \frac{\Gamma(n/2)}{\sqrt{\pi}\,\Gamma((n-1)/2)},

the cosine :math:`\eta = \cos\theta` has density
:math:`c_n (1-\eta^2)^{(n-3)/2}` on :math:`[-1, 1]`, i.e.
:math:`(1+\eta)/2 \sim \mathrm{Beta}(\tfrac{n-1}{2}, \tfrac{n-1}{2})`, and the
variance of the angle has the closed form
:math:`\operatorname{Var}_n(\theta) = \tfrac12 \psi_1(n/2)
= 2\sum_{k\ge0} (n+2k)^{-2}`.

The functions follow torch conventions: tensors in and out,
``generator``/``device``/``dtype`` for samplers. Densities are computed in log
space with ``lgamma``; distribution functions use SciPy's regularised
incomplete beta function. Chapter 01 of the book derives every formula
implemented here.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any

import numpy as np
import torch
from scipy import special as _sp

__all__ = [
    "angle_cdf",
    "angle_log_normaliser",
    "angle_logpdf",
    "angle_normaliser",
    "angle_pdf",
    "angle_variance",
    "angle_variance_asymptotic",
    "angle_variance_laplace",
    "cosine_cdf",
    "cosine_logpdf",
    "cosine_pdf",
    "log_sphere_area",
    "sample_angles",
    "sample_uniform_sphere",
    "sphere_area",
]

_MAX_DIM = 2**53
"""Largest dimension accepted: beyond it ``float(n)`` is no longer exact."""

# Bernoulli numbers B_2, B_4, ..., B_22 (exact), for the variance's series.
_BERNOULLI_EVEN: tuple[Fraction, ...] = (
    Fraction(1, 6),
    Fraction(-1, 30),
    Fraction(1, 42),
    Fraction(-1, 30),
    Fraction(5, 66),
    Fraction(-691, 2730),
    Fraction(7, 6),
    Fraction(-3617, 510),
    Fraction(43867, 798),
    Fraction(-174611, 330),
    Fraction(854513, 138),
)
_MAX_ORDER = 2 * len(_BERNOULLI_EVEN) + 1  # 23: the n^{-23} term uses B_22


# ------------------------------------------------------------------ validation
def _check_dim(n: Any, name: str = "n", minimum: int = 2) -> int:
    """``n`` as an ``int`` if it is an integer ``>= minimum``, else ValueError."""
    if isinstance(n, (bool, np.bool_)) or not isinstance(n, (int, np.integer)):
        raise ValueError(
            f"{name}={n!r} ({type(n).__name__}): the dimension must be an "
            f"integer >= {minimum}"
        )
    n = int(n)
    if n < minimum:
        raise ValueError(
            f"{name}={n}: the dimension must be an integer >= {minimum}"
        )
    if n > _MAX_DIM:
        raise ValueError(
            f"{name}={n}: dimensions above 2**53 are not supported"
        )
    return n


def _check_count(v: Any, name: str) -> int:
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)):
        raise ValueError(
            f"{name}={v!r} ({type(v).__name__}): expected an integer >= 1"
        )
    if v < 1:
        raise ValueError(f"{name}={int(v)}: expected an integer >= 1")
    return int(v)


def _as_real(x: Any, name: str) -> tuple[torch.Tensor, torch.dtype]:
    """``x`` as float64 (same device) and the floating dtype for results.

    Integer inputs give float64 results. Bool, complex and non-numeric inputs
    raise ``TypeError``; NaN or infinite entries raise ``ValueError``.
    """
    if isinstance(x, torch.Tensor):
        if x.dtype == torch.bool or x.is_complex():
            raise TypeError(f"{name} must be a real tensor, got {x.dtype}")
        t = x
        out_dtype = x.dtype if x.is_floating_point() else torch.float64
    else:
        if isinstance(x, (bool, np.bool_)):
            raise TypeError(f"{name}={x!r} is a bool, not a real number")
        arr = np.asarray(x)
        if arr.dtype.kind not in "iuf":
            raise TypeError(
                f"{name} must be real numbers, got {type(x).__name__} "
                f"({arr.dtype})"
            )
        t = torch.as_tensor(arr.astype(np.float64))
        out_dtype = torch.float64
    t64 = t.to(torch.float64)
    if not bool(torch.isfinite(t64).all()):
        raise ValueError(f"{name} must be finite (no NaN or inf entries)")
    return t64, out_dtype


def _resolve_device(
    device: torch.device | str | None, generator: torch.Generator | None
) -> torch.device:
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(
            f"generator must be a torch.Generator, "
            f"got {type(generator).__name__}"
        )
    if device is None:
        return generator.device if generator is not None else torch.device("cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(f"device={device!r} is not a torch device") from exc
    if generator is not None:
        g = generator.device
        same_index = dev.index is None or g.index is None or g.index == dev.index
        if g.type != dev.type or not same_index:
            raise ValueError(
                f"device={dev} does not match the generator's device {g}"
            )
    return dev


def _check_float_dtype(dtype: Any) -> torch.dtype:
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise ValueError(
            f"dtype={dtype!r}: expected a real floating torch dtype such as "
            "torch.float64"
        )
    return dtype


# ------------------------------------------------------------------- constants
def log_sphere_area(n: int) -> float:
    r"""Log of the area of the unit sphere :math:`S^{n-1} \subset \mathbb{R}^n`.

    Implements :math:`\log|S^{n-1}| = \log 2 + \tfrac{n}{2}\log\pi
    - \log\Gamma(n/2)` (equation ``c01-eq-sphere-area`` of chapter 01), in log
    space so that it stays finite for any dimension.

    Parameters
    ----------
    n
        Dimension of the ambient space, an integer ``>= 1`` (``n = 1``: the two
        points :math:`\pm 1`, "area" 2).

    Raises
    ------
    ValueError
        If ``n`` is not an integer ``>= 1``.
    """
    n = _check_dim(n, minimum=1)
    return math.log(2.0) + 0.5 * n * math.log(math.pi) - math.lgamma(0.5 * n)


def sphere_area(n: int) -> float:
    r"""Area :math:`|S^{n-1}| = 2\pi^{n/2}/\Gamma(n/2)` of the unit sphere.

    The sphere is the one in :math:`\mathbb{R}^n`. The area underflows to
    ``0.0`` for very large ``n`` (it tends to zero super-exponentially); use
    :func:`log_sphere_area` there.

    Raises
    ------
    ValueError
        If ``n`` is not an integer ``>= 1``.
    """
    return math.exp(log_sphere_area(n))


def angle_log_normaliser(n: int) -> float:
    r"""Log of the normalising constant :math:`c_n` of the angle density.

    :math:`\log c_n = \log\Gamma(n/2) - \log\Gamma((n-1)/2) - \tfrac12\log\pi`,
    which equals :math:`\log(|S^{n-2}|/|S^{n-1}|)` (equation ``c01-eq-angle-cn`` of
    chapter 01). For :math:`x = (n-1)/2 \ge 50` the difference of log-gammas is
    replaced by its asymptotic series
    :math:`\tfrac12\log x - \tfrac1{8x} + \tfrac1{192x^3} - \dots`, which
    avoids the cancellation of two large numbers (relative error about
    :math:`10^{-16}` at any :math:`n`, against :math:`10^{-10}` for the plain
    difference at :math:`n = 10^6`).

    Raises
    ------
    ValueError
        If ``n`` is not an integer ``>= 2``.
    """
    n = _check_dim(n)
    x = 0.5 * (n - 1)
    if x < 50.0:
        return math.lgamma(x + 0.5) - math.lgamma(x) - 0.5 * math.log(math.pi)
    # log Gamma(x + 1/2) - log Gamma(x) = log(x)/2 - 1/(8x) + 1/(192x^3)
    #   - 1/(640x^5) + 17/(14336x^7) + O(x^-9)
    r = 1.0 / (x * x)
    corr = (-1.0 / 8 + r * (1.0 / 192 + r * (-1.0 / 640 + r * (17.0 / 14336))))
    return 0.5 * math.log(x) + corr / x - 0.5 * math.log(math.pi)


def angle_normaliser(n: int) -> float:
    r"""The constant :math:`c_n = \Gamma(n/2) / (\sqrt{\pi}\,\Gamma((n-1)/2))`.

    Special values: :math:`c_2 = 1/\pi`, :math:`c_3 = 1/2`; it grows like
    :math:`\sqrt{n/(2\pi)}`.

    Raises
    ------
    ValueError
        If ``n`` is not an integer ``>= 2``.
    """
    return math.exp(angle_log_normaliser(n))


# ------------------------------------------------------------------- densities
def angle_logpdf(theta: Any, n: int) -> torch.Tensor:
    r"""Log density of the angle between two isotropic vectors in R^n.

    Implements :math:`\log p_n(\theta) = \log c_n + (n-2)\log\sin\theta` on
    :math:`[0, \pi]` (equation ``c01-eq-angle-pdf`` of chapter 01) and
    :math:`-\infty` outside. For ``n = 2`` the density is the constant
    :math:`1/\pi`, endpoints included.

    Parameters
    ----------
    theta
        Angles in radians: a tensor (any shape, device and real dtype) or
        anything ``numpy.asarray`` accepts. Values outside :math:`[0, \pi]`
        are allowed and get log density :math:`-\infty`.
    n
        Dimension, an integer ``>= 2``.

    Returns
    -------
    torch.Tensor
        Same shape and device as ``theta``; its floating dtype (float64 for
        integer or non-tensor input). Differentiable in ``theta``.

    Raises
    ------
    ValueError
        If ``n`` is not an integer ``>= 2`` or ``theta`` has NaN or infinite
        entries.
    TypeError
        If ``theta`` is not real-valued.
    """
    n = _check_dim(n)
    t, out_dtype = _as_real(theta, "theta")
    # Range test in the caller's dtype, so that float32(pi) counts as pi.
    orig = theta if isinstance(theta, torch.Tensor) else t
    inside = ((orig >= 0) & (orig <= math.pi)).to(t.device)
    # xlogy gives 0 * log(0) = 0, so n = 2 is flat up to the endpoints
    out = angle_log_normaliser(n) + torch.special.xlogy(
        float(n - 2), torch.sin(t).abs()
    )
    out = torch.where(inside, out, torch.full_like(out, -math.inf))
    return out.to(out_dtype)


def angle_pdf(theta: Any, n: int) -> torch.Tensor:
    r"""Density :math:`p_n(\theta) = c_n \sin^{n-2}\theta` on :math:`[0, \pi]`.

    Zero outside :math:`[0, \pi]`; computed as ``exp`` of
    :func:`angle_logpdf`, which describes the arguments. ``n = 2`` gives the
    uniform density :math:`1/\pi`.

    Raises
    ------
    ValueError
        If ``n`` is not an integer ``>= 2`` or ``theta`` has NaN or infinite
        entries.
    TypeError
        If ``theta`` is not real-valued.
    """
    return torch.exp(angle_logpdf(theta, n))


def cosine_logpdf(eta: Any, n: int) -> torch.Tensor:
    r"""Log density of :math:`\eta = \cos\theta`.

    Implements :math:`\log c_n + \tfrac{n-3}{2}\log(1-\eta^2)` on
    :math:`[-1, 1]` (equation ``c01-eq-cos-pdf`` of chapter 01) and
    :math:`-\infty` outside, with :math:`\log(1-\eta^2)` computed as
    ``log1p(-eta) + log1p(eta)``. Special cases: ``n = 3`` is the uniform
    density 1/2 (endpoints included); ``n = 2`` is the arcsine density
    :math:`1/(\pi\sqrt{1-\eta^2})`, which is :math:`+\infty` at
    :math:`\eta = \pm 1`.

    Parameters
    ----------
    eta
        Cosines: a tensor or array-like of real numbers.
    n
        Dimension, an integer ``>= 2``.

    Raises
    ------
    ValueError
        If ``n`` is not an integer ``>= 2`` or ``eta`` has NaN or infinite
        entries.
    TypeError
        If ``eta`` is not real-valued.
    """
    n = _check_dim(n)
    e, out_dtype = _as_real(eta, "eta")
    orig = eta if isinstance(eta, torch.Tensor) else e
    inside = ((orig >= -1) & (orig <= 1)).to(e.device)
    ec = e.clamp(-1.0, 1.0)
    k = 0.5 * (n - 3)
    out = (angle_log_normaliser(n) + torch.special.xlog1py(k, -ec)
           + torch.special.xlog1py(k, ec))
    out = torch.where(inside, out, torch.full_like(out, -math.inf))
    return out.to(out_dtype)


def cosine_pdf(eta: Any, n: int) -> torch.Tensor:
    r"""Density :math:`c_n (1-\eta^2)^{(n-3)/2}` of :math:`\eta=\cos\theta`.

    Zero outside :math:`[-1, 1]`. Equivalently
    :math:`(1+\eta)/2 \sim \mathrm{Beta}(\tfrac{n-1}{2}, \tfrac{n-1}{2})`.
    See :func:`cosine_logpdf` for the arguments and special cases.

    Raises
    ------
    ValueError
        If ``n`` is not an integer ``>= 2`` or ``eta`` has NaN or infinite
        entries.
    TypeError
        If ``eta`` is not real-valued.
    """
    return torch.exp(cosine_logpdf(eta, n))


def _beta_cdf_symmetric(
    x_lo: np.ndarray, x_hi: np.ndarray, use_lo: np.ndarray, a: float
) -> np.ndarray:
    """:math:`I_x(a, a)` with ``x = x_lo`` where ``use_lo``, else ``1 - x_hi``.

    Taking the small argument on each side keeps the tail near 0 accurate.
    """
    out = np.empty(np.shape(x_lo), dtype=np.float64)
    out[use_lo] = _sp.betainc(a, a, x_lo[use_lo])
    hi = ~use_lo
    out[hi] = 1.0 - _sp.betainc(a, a, x_hi[hi])
    return out


def angle_cdf(theta: Any, n: int) -> torch.Tensor:
    r"""Distribution function of the angle, :math:`P_n(\theta \le t)`.

    Implements :math:`P_n(\theta \le t) = I_{\sin^2(t/2)}(a, a)` with
    :math:`a = (n-1)/2` (equation ``c01-eq-angle-cdf`` of chapter 01), where
    :math:`I_x(a, b)` is the regularised incomplete beta function
    (``scipy.special.betainc``). Since :math:`\sin^2(t/2) = (1-\cos t)/2`,
    this equals :math:`1 - I_{(1+\cos t)/2}(a, a)`; for :math:`t > \pi/2` that
    second form is evaluated, so each tail comes from a small argument.
    0 below :math:`t = 0`, 1 above :math:`t = \pi`. Not differentiable through
    autograd.

    Parameters
    ----------
    theta
        Angles in radians: a tensor (any shape, device and real dtype) or
        array-like.
    n
        Dimension, an integer ``>= 2`` (``n = 2`` gives :math:`t/\pi`).

    Raises
    ------
    ValueError
        If ``n`` is not an integer ``>= 2`` or ``theta`` has NaN or infinite
        entries.
    TypeError
        If ``theta`` is not real-valued.
    """
    n = _check_dim(n)
    t, out_dtype = _as_real(theta, "theta")
    tn = t.detach().cpu().numpy()
    half = 0.5 * tn.clip(0.0, math.pi)
    val = _beta_cdf_symmetric(np.sin(half) ** 2, np.cos(half) ** 2,
                              half <= 0.25 * math.pi, 0.5 * (n - 1))
    val = np.where(tn <= 0.0, 0.0, np.where(tn >= math.pi, 1.0, val))
    out = torch.as_tensor(val, dtype=torch.float64)
    return out.to(device=t.device, dtype=out_dtype)


def cosine_cdf(eta: Any, n: int) -> torch.Tensor:
    r"""Distribution function of :math:`\eta = \cos\theta`.

    :math:`P(\eta \le x) = I_{(1+x)/2}(a, a)` with :math:`a = (n-1)/2`
    (equation ``c01-eq-cos-beta`` of chapter 01); 0 below :math:`-1` and 1 above
    :math:`+1`. For :math:`x > 0` it is evaluated as
    :math:`1 - I_{(1-x)/2}(a, a)` (symmetry).

    Raises
    ------
    ValueError
        If ``n`` is not an integer ``>= 2`` or ``eta`` has NaN or infinite
        entries.
    TypeError
        If ``eta`` is not real-valued.
    """
    n = _check_dim(n)
    e, out_dtype = _as_real(eta, "eta")
    en = e.detach().cpu().numpy()
    ec = en.clip(-1.0, 1.0)
    val = _beta_cdf_symmetric(0.5 * (1.0 + ec), 0.5 * (1.0 - ec), ec <= 0.0,
                              0.5 * (n - 1))
    val = np.where(en <= -1.0, 0.0, np.where(en >= 1.0, 1.0, val))
    out = torch.as_tensor(val, dtype=torch.float64)
    return out.to(device=e.device, dtype=out_dtype)


# -------------------------------------------------------------------- variance
def _variance_tail(m: float, terms: int) -> float:
    r""":math:`1/m + 1/m^2 + \sum_{j=1}^{terms} B_{2j} 4^j / m^{2j+1}`."""
    inv = 1.0 / m
    inv2 = inv * inv
    p = inv * inv2  # m^{-3}
    parts = []
    for j in range(1, terms + 1):
        parts.append(float(_BERNOULLI_EVEN[j - 1] * 4**j) * p)
        p *= inv2
    s = 0.0
    for v in reversed(parts):  # smallest first
        s += v
    return s + inv2 + inv


def angle_variance(n: int) -> float:
    r"""Exact variance of the angle, :math:`\tfrac12\psi_1(n/2)`.

    Implements :math:`\operatorname{Var}_n(\theta) = \tfrac12\psi_1(n/2)
    = 2\sum_{k\ge0}(n+2k)^{-2}` (equation ``c01-eq-var-trigamma`` of chapter 01)
    with the two results derived there: the recurrence
    :math:`\operatorname{Var}_n = 2/n^2 + \operatorname{Var}_{n+2}` is applied
    until the dimension reaches :math:`m \ge 40`, then the Euler-Maclaurin
    series :math:`1/m + 1/m^2 + \sum_j B_{2j}4^j/m^{2j+1}` (six terms,
    truncation error below :math:`10^{-18}` relative). Accurate to a few ulp,
    unlike a generic trigamma near small arguments. Special values:
    :math:`\operatorname{Var}_2 = \pi^2/12`,
    :math:`\operatorname{Var}_3 = \pi^2/4 - 2`.

    Parameters
    ----------
    n
        Dimension, an integer ``>= 2``.

    Returns
    -------
    float
        The variance; it lies strictly between :math:`1/n` and
        :math:`1/(n-1)`.

    Raises
    ------
    ValueError
        If ``n`` is not an integer ``>= 2``.
    """
    n = _check_dim(n)
    m = n
    shifts = []
    while m < 40:
        shifts.append(m)
        m += 2
    s = _variance_tail(float(m), 6)
    for k in reversed(shifts):  # smallest terms first
        s += 2.0 / (k * k)
    return s


def angle_variance_asymptotic(n: int, order: int = 3) -> float:
    r"""Large-:math:`n` expansion of the angle variance, truncated.

    .. math::

       \operatorname{Var}_n(\theta) \sim \frac1n + \frac1{n^2}
       + \frac{2}{3n^3} - \frac{8}{15 n^5} + \frac{32}{21 n^7} - \dots
       = \frac1n + \frac1{n^2} + \sum_{j\ge1} \frac{B_{2j}\, 4^j}{n^{2j+1}},

    equation ``c01-eq-var-asymptotic`` of chapter 01 (Euler-Maclaurin applied to
    the series :math:`2\sum_k (n+2k)^{-2}`), truncated after the
    :math:`n^{-\mathrm{order}}` term. The series diverges if summed to
    infinity; truncated after the :math:`1/n^2` term or later, its error is
    below the first omitted term.

    Parameters
    ----------
    n
        Dimension, an integer ``>= 2``.
    order
        Highest power of :math:`1/n` kept, an integer in ``[1, 23]``.
        ``order=1`` gives :math:`1/n`, ``order=2`` gives :math:`1/n + 1/n^2`.

    Raises
    ------
    ValueError
        If ``n`` is not an integer ``>= 2`` or ``order`` is not an integer in
        ``[1, 23]``.
    """
    n = _check_dim(n)
    bad_type = isinstance(order, (bool, np.bool_)) or not isinstance(
        order, (int, np.integer))
    if bad_type or not 1 <= order <= _MAX_ORDER:
        raise ValueError(
            f"order={order!r}: expected an integer in [1, {_MAX_ORDER}]"
        )
    order = int(order)
    if order == 1:
        return 1.0 / n
    terms = (order - 1) // 2  # Bernoulli terms with 2j + 1 <= order
    return _variance_tail(float(n), terms)


def angle_variance_laplace(n: int) -> float:
    r"""The Laplace approximation :math:`1/(n-2)` of the angle variance.

    This is the post's formula, from
    :math:`\log\sin^{n-2}\theta = -\tfrac{n-2}{2}(\theta-\pi/2)^2
    + O((\theta-\pi/2)^4)` (equation ``c01-eq-laplace`` of chapter 01). It always
    *overestimates* the exact variance :func:`angle_variance`, with relative
    error about :math:`1/n`; :math:`1/(n-1)` is an order of :math:`n` more
    accurate.

    Raises
    ------
    ValueError
        If ``n`` is not an integer ``>= 3`` (for ``n = 2`` the approximation is
        undefined).
    """
    n = _check_dim(n, minimum=3)
    return 1.0 / (n - 2)


# -------------------------------------------------------------------- sampling
def sample_uniform_sphere(
    n: int,
    num: int,
    *,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float64,
) -> torch.Tensor:
    r"""Draw ``num`` points uniformly on the unit sphere :math:`S^{n-1}`.

    A standard Gaussian vector :math:`z \in \mathbb{R}^n` is isotropic, so
    :math:`z/\lVert z\rVert` is uniform on the sphere.

    Parameters
    ----------
    n
        Dimension of the ambient space, an integer ``>= 2``.
    num
        Number of points, an integer ``>= 1``.
    generator, device, dtype
        As in :func:`torch.randn`. ``device`` defaults to the generator's
        device (CPU without a generator); giving both with different devices
        is an error.

    Returns
    -------
    torch.Tensor
        Shape ``(num, n)``, rows of unit norm.

    Raises
    ------
    ValueError
        If ``n`` or ``num`` is out of range, ``dtype`` is not a floating dtype,
        or ``device`` does not match the generator.
    TypeError
        If ``generator`` is not a :class:`torch.Generator`.
    """
    n = _check_dim(n)
    num = _check_count(num, "num")
    dtype = _check_float_dtype(dtype)
    dev = _resolve_device(device, generator)
    z = torch.randn(num, n, generator=generator, device=dev, dtype=dtype)
    return z / torch.linalg.vector_norm(z, dim=-1, keepdim=True)


def sample_angles(
    n: int,
    num: int,
    *,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float64,
    chunk: int | None = None,
) -> torch.Tensor:
    r"""Angles between ``num`` independent pairs of Gaussian vectors in R^n.

    Each pair :math:`x, y \sim N(0, I_n)` gives
    :math:`\theta = \arccos\operatorname{clamp}(\cos\theta, -1, 1)` with
    :math:`\cos\theta = \langle x, y\rangle / (\lVert x\rVert\lVert y\rVert)`,
    a draw from :math:`p_n` (equation ``c01-eq-angle-pdf`` of chapter 01). Pairs
    are drawn in blocks of ``chunk`` so that memory stays bounded for large
    ``n * num``; the values depend on ``chunk`` (the random stream is consumed
    block by block).

    Parameters
    ----------
    n
        Dimension, an integer ``>= 2``.
    num
        Number of pairs (angles), an integer ``>= 1``.
    generator, device, dtype
        As in :func:`torch.randn`; ``device`` defaults to the generator's
        device.
    chunk
        Pairs per block, an integer ``>= 1``. Default: about
        :math:`2^{24}/n`, so that each of the two Gaussian matrices of a
        block holds about :math:`2^{24}` numbers (128 MiB in float64).

    Returns
    -------
    torch.Tensor
        Shape ``(num,)``, values in :math:`[0, \pi]`, on ``device`` with
        ``dtype``.

    Raises
    ------
    ValueError
        If ``n``, ``num`` or ``chunk`` is out of range, ``dtype`` is not a
        floating dtype, or ``device`` does not match the generator.
    TypeError
        If ``generator`` is not a :class:`torch.Generator`.
    """
    n = _check_dim(n)
    num = _check_count(num, "num")
    dtype = _check_float_dtype(dtype)
    dev = _resolve_device(device, generator)
    if chunk is None:
        chunk = max(1, 2**24 // n)
    else:
        chunk = _check_count(chunk, "chunk")
    out = torch.empty(num, device=dev, dtype=dtype)
    for start in range(0, num, chunk):
        b = min(chunk, num - start)
        x = torch.randn(b, n, generator=generator, device=dev, dtype=dtype)
        y = torch.randn(b, n, generator=generator, device=dev, dtype=dtype)
        dot = (x * y).sum(dim=-1)
        norms = (torch.linalg.vector_norm(x, dim=-1)
                 * torch.linalg.vector_norm(y, dim=-1))
        cos = (dot / norms).clamp(-1.0, 1.0)
        out[start:start + b] = torch.arccos(cos)
    return out
