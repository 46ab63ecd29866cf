"""Smooth approximations of non-smooth functions by convolution with a nascent delta.

A *nascent delta* is a family of probability densities :math:`\\varphi_w` that concentrates
at 0 as its width :math:`w \\to 0`. Convolving a non-smooth :math:`f` with it,

.. math:: g(x) = (f * \\varphi_w)(x) = \\int f(x-u)\\,\\varphi_w(u)\\,du
          = \\mathbb{E}\\,f(x - wY),\\qquad Y \\sim \\varphi_1,

gives a function as smooth as :math:`\\varphi_w` that tends to :math:`f` at its continuity
points (chapter *07 · Dirac smoothing*). This module holds the kernels, a generic numerical
convolution and the closed forms the chapter derives:

* kernels (``c07-eq-delta-logistic``, ``c07-eq-delta-gauss``, ``c07-eq-delta-lorentz``):
  :func:`logistic_delta`, :func:`gaussian_delta`, :func:`lorentz_delta`, with
  their CDFs :func:`kernel_cdf` and absolute moments :func:`kernel_abs_moment` (a kernel can
  smooth a function growing like :math:`|x|^p` only if its :math:`p`-th absolute moment is
  finite; the Lorentzian has none of order :math:`\\ge 1`);
* :func:`mollify`, a quadrature of the convolution integral (``c07-eq-mollify``), for tests and figures;
* ReLU smoothed by convolution: :func:`smooth_relu_logistic` (softplus, ``c07-eq-softplus``)
  and :func:`smooth_relu_gaussian` (``c07-eq-gauss-relu``); ReLU smoothed through its step, :math:`x\\,\\Phi(x)`:
  :func:`swish` and :func:`gelu_sigma` (``c07-eq-product-route``);
* the floor function smoothed by a finite sum of shifted CDFs: :func:`smooth_floor`
  (``c07-eq-floor-truncated``, derived from ``c07-eq-floor-conv``).

Widths are plain Python or NumPy real numbers; they must be finite and positive. Inputs
``x`` are tensors (array-likes become ``float64`` tensors, integer tensors the default
float dtype); outputs keep the shape, dtype and device of ``x``. Bad input raises
:class:`ValueError` or :class:`TypeError` naming the argument.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F

__all__ = [
    "KERNELS",
    "logistic_delta",
    "gaussian_delta",
    "lorentz_delta",
    "kernel_density",
    "kernel_cdf",
    "kernel_abs_moment",
    "mollify",
    "smooth_relu_logistic",
    "smooth_relu_gaussian",
    "swish",
    "gelu_sigma",
    "smooth_floor",
]

Kernel = Literal["gaussian", "logistic", "lorentz"]
KERNELS: tuple[str, ...] = ("gaussian", "logistic", "lorentz")
"""Names of the nascent deltas known to :func:`kernel_density`, :func:`kernel_cdf`, :func:`mollify`."""

_SQRT2 = math.sqrt(2.0)
_SQRT2PI = math.sqrt(2.0 * math.pi)
_MAX_NODES = 1024


# --------------------------------------------------------------------------- validation
def _real(value: Any, name: str, *, positive: bool) -> float:
    """A finite real scalar (not bool), ``> 0`` if ``positive`` else ``>= 0``, as a float."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name}={value!r} must be a real number (int or float), got {type(value).__name__}")
    v = float(value)
    if not math.isfinite(v) or (v <= 0.0 if positive else v < 0.0):
        raise ValueError(f"{name}={value!r} must be finite and {'>' if positive else '>='} 0")
    return v


def _width(value: Any, name: str) -> float:
    """A finite, strictly positive real scalar."""
    return _real(value, name, positive=True)


def _as_float_tensor(x: Any, name: str = "x") -> torch.Tensor:
    """A floating tensor: tensors keep dtype/device (integers -> default float), array-likes -> float64."""
    if isinstance(x, torch.Tensor):
        t = x
    else:
        try:
            arr = np.asarray(x)
        except (TypeError, ValueError) as exc:  # pragma: no cover - numpy accepts almost anything
            raise TypeError(f"{name} must be a tensor or an array-like of real numbers") from exc
        if arr.dtype.kind not in "iuf":
            raise TypeError(f"{name} has dtype {arr.dtype}; expected real numbers")
        t = torch.from_numpy(np.array(arr, dtype=np.float64))
    if t.dtype == torch.bool or t.is_complex():
        raise TypeError(f"{name} has dtype {t.dtype}; expected a real floating-point tensor")
    if not t.is_floating_point():
        t = t.to(torch.get_default_dtype())
    return t


def _kernel_name(kernel: Any) -> str:
    if not isinstance(kernel, str) or kernel not in KERNELS:
        raise ValueError(f"kernel={kernel!r} is not a known kernel; expected one of {list(KERNELS)}")
    return kernel


def _ndtr(z: torch.Tensor) -> torch.Tensor:
    """Standard normal CDF, accurate in both tails.

    ``torch.special.ndtr`` (torch 2.13, CPU) evaluates :math:`(1+\\operatorname{erf})/2` and
    returns exactly 0 below about -8.3; ``erfc`` keeps the relative accuracy.
    """
    return 0.5 * torch.special.erfc(-z / _SQRT2)


# ------------------------------------------------- kernels (chapter 07, c07-eq-delta-*)
def logistic_delta(u: Any, t: float = 1.0) -> torch.Tensor:
    """Logistic nascent delta :math:`t\\,\\sigma(tu)\\,(1-\\sigma(tu)) = \\tfrac{d}{du}\\sigma(tu)` (chapter 07, ``c07-eq-delta-logistic``).

    The density of a logistic variable of scale :math:`1/t`; tends to :math:`\\delta` as
    :math:`t \\to \\infty`. Evaluated as ``t * sigmoid(t*u) * sigmoid(-t*u)``, which neither
    overflows nor loses relative accuracy in the tails.

    Parameters
    ----------
    u
        Points (tensor or array-like).
    t
        Sharpness, finite and > 0 (the width is :math:`1/t`).

    Raises
    ------
    ValueError
        If ``t`` is not finite and > 0.
    TypeError
        If ``t`` is not a real number or ``u`` is not real.
    """
    t = _width(t, "t")
    u = _as_float_tensor(u, "u")
    tu = t * u
    return t * torch.sigmoid(tu) * torch.sigmoid(-tu)


def gaussian_delta(u: Any, sigma: float = 1.0) -> torch.Tensor:
    """Gaussian nascent delta :math:`e^{-u^2/2\\sigma^2}/(\\sqrt{2\\pi}\\,\\sigma)` (chapter 07, ``c07-eq-delta-gauss``).

    Parameters
    ----------
    u
        Points (tensor or array-like).
    sigma
        Standard deviation, finite and > 0.

    Raises
    ------
    ValueError
        If ``sigma`` is not finite and > 0.
    TypeError
        If ``sigma`` is not a real number or ``u`` is not real.
    """
    sigma = _width(sigma, "sigma")
    z = _as_float_tensor(u, "u") / sigma
    return torch.exp(-0.5 * z * z) / (_SQRT2PI * sigma)


def lorentz_delta(u: Any, a: float = 1.0) -> torch.Tensor:
    """Lorentzian (Cauchy) nascent delta :math:`\\frac{1}{\\pi}\\frac{a}{u^2+a^2}` (chapter 07, ``c07-eq-delta-lorentz``).

    A valid nascent delta, but with tails so heavy that it has no finite mean: convolving it
    with any function that grows at least linearly (ReLU, the floor function) diverges. See
    :func:`kernel_abs_moment`.

    Parameters
    ----------
    u
        Points (tensor or array-like).
    a
        Half width at half maximum, finite and > 0.

    Raises
    ------
    ValueError
        If ``a`` is not finite and > 0.
    TypeError
        If ``a`` is not a real number or ``u`` is not real.
    """
    a = _width(a, "a")
    z = _as_float_tensor(u, "u") / a
    return 1.0 / (math.pi * a * (1.0 + z * z))


def kernel_density(u: Any, kernel: Kernel = "gaussian", width: float = 1.0) -> torch.Tensor:
    """Density :math:`\\varphi_w(u) = \\varphi_1(u/w)/w` of a named kernel of scale ``width``.

    ``"gaussian"``: :func:`gaussian_delta` with ``sigma=width``; ``"logistic"``:
    :func:`logistic_delta` with ``t=1/width``; ``"lorentz"``: :func:`lorentz_delta` with
    ``a=width``.

    Raises
    ------
    ValueError
        If ``kernel`` is not in :data:`KERNELS` or ``width`` is not finite and > 0.
    """
    kernel = _kernel_name(kernel)
    w = _width(width, "width")
    if kernel == "gaussian":
        return gaussian_delta(u, w)
    if kernel == "logistic":
        return logistic_delta(u, 1.0 / w)
    return lorentz_delta(u, w)


def kernel_cdf(u: Any, kernel: Kernel = "gaussian", width: float = 1.0) -> torch.Tensor:
    """CDF :math:`\\Phi_w(u) = \\int_{-\\infty}^u \\varphi_w`, the smoothed unit step (chapter 07:
    the steps whose derivatives are ``c07-eq-delta-gauss``, ``c07-eq-delta-logistic`` and
    ``c07-eq-delta-lorentz``; the terms of the floor sum ``c07-eq-floor-conv``).

    ``"gaussian"``: :math:`\\tfrac12\\operatorname{erfc}(-u/(\\sqrt2 w))`; ``"logistic"``:
    :math:`\\sigma(u/w)`; ``"lorentz"``: :math:`\\tfrac12 + \\arctan(u/w)/\\pi`. Each tends to
    the unit step :math:`\\theta(u)` as ``width`` :math:`\\to 0`.

    Raises
    ------
    ValueError
        If ``kernel`` is not in :data:`KERNELS` or ``width`` is not finite and > 0.
    """
    kernel = _kernel_name(kernel)
    w = _width(width, "width")
    z = _as_float_tensor(u, "u") / w
    if kernel == "gaussian":
        return _ndtr(z)
    if kernel == "logistic":
        return torch.sigmoid(z)
    return 0.5 + torch.atan(z) / math.pi


def kernel_abs_moment(kernel: Kernel = "gaussian", width: float = 1.0, p: float = 1.0) -> float:
    """Absolute moment :math:`\\int |u|^p \\varphi_w(u)\\,du` of a named kernel (``math.inf`` if infinite).

    The convolution :math:`f * \\varphi_w` of a function with :math:`|f(y)| \\le C(1+|y|)^p`
    is finite when this moment is; for ReLU (:math:`p = 1`) and a symmetric kernel it is
    finite *exactly* when the first absolute moment is (chapter 07, Erratum 1).

    * Gaussian: :math:`w^p\\, 2^{p/2}\\,\\Gamma(\\tfrac{p+1}{2})/\\sqrt\\pi`;
    * logistic: :math:`2\\,w^p\\,\\Gamma(p+1)\\,\\eta(p)` with the Dirichlet eta function
      :math:`\\eta(p) = (1-2^{1-p})\\zeta(p)`, :math:`\\eta(1)=\\log 2`, :math:`\\eta(0)=1/2`;
    * Lorentzian: :math:`w^p / \\cos(p\\pi/2)` for :math:`p < 1`, infinite for :math:`p \\ge 1`.

    Parameters
    ----------
    kernel
        One of :data:`KERNELS`.
    width
        Scale, finite and > 0.
    p
        Order, finite and >= 0.

    Raises
    ------
    ValueError
        If ``kernel`` is unknown, ``width`` is not finite and > 0, or ``p`` is not finite and >= 0.
    """
    kernel = _kernel_name(kernel)
    w = _width(width, "width")
    p = _real(p, "p", positive=False)
    if p == 0:
        return 1.0
    if kernel == "gaussian":
        return w**p * 2.0 ** (p / 2) * math.gamma((p + 1) / 2) / math.sqrt(math.pi)
    if kernel == "logistic":
        if p == 1.0:
            eta = math.log(2.0)  # the limit of (1 - 2^(1-p)) zeta(p) at the pole of zeta
        else:
            from scipy.special import zeta

            eta = (1.0 - 2.0 ** (1.0 - p)) * float(zeta(p))
        return 2.0 * w**p * math.gamma(p + 1) * eta
    if p >= 1.0:
        return math.inf
    return w**p / math.cos(p * math.pi / 2)


# -------------------------------------------------- mollify (chapter 07, c07-eq-mollify)
def _nodes(kernel: str, nodes: int, dtype: torch.dtype, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Quadrature points u_i of the unit-width kernel and weights w_i (sum 1): E f(x - Y) ~ sum w_i f(x - u_i)."""
    from scipy.special import roots_hermite, roots_legendre  # stable for large n (numpy's overflow)

    if kernel == "gaussian":
        z, w = roots_hermite(nodes)
        u, wt = _SQRT2 * z, w / math.sqrt(math.pi)
    else:
        q, w = roots_legendre(nodes)
        pr, wt = (q + 1.0) / 2.0, w / 2.0
        if kernel == "logistic":
            u = np.log(pr) - np.log1p(-pr)  # logit: the logistic quantile function
        else:
            u = np.tan(np.pi * (pr - 0.5))  # the Cauchy quantile function
    return (torch.as_tensor(u, dtype=dtype, device=device), torch.as_tensor(wt, dtype=dtype, device=device))


def mollify(
    f: Callable[[torch.Tensor], torch.Tensor],
    x: Any,
    kernel: Kernel = "gaussian",
    width: float = 1.0,
    *,
    nodes: int = 64,
    growth: float = 0.0,
) -> torch.Tensor:
    """Numerical convolution :math:`(f*\\varphi_w)(x) = \\mathbb{E}\\,f(x - wY)` (chapter 07, ``c07-eq-mollify``), for tests and figures.

    The expectation over the unit kernel :math:`Y` is a fixed quadrature rule:
    Gauss–Hermite for the Gaussian kernel (exact for polynomials of degree below
    ``2*nodes``), Gauss–Legendre in the probability variable :math:`p = \\Phi(Y)` for the
    logistic and Lorentzian kernels (:math:`Y = \\operatorname{logit} p` and
    :math:`Y = \\tan(\\pi(p - 1/2))`). Smooth ``f`` converge quickly; a kink (ReLU) or a jump
    (floor) makes the error decay only algebraically in ``nodes`` (about ``5e-3`` for ReLU
    with the Gaussian rule at 64 nodes), and a jump turns into a staircase with one step per
    node. Use the closed forms of this module when they exist (a jump of height 1 at ``c``
    is exactly ``kernel_cdf(x - c, kernel, width)``).

    Parameters
    ----------
    f
        Elementwise function: a tensor in, a tensor of the same shape out.
    x
        Where to evaluate the convolution (tensor or array-like); ``f`` is called on a tensor
        of shape ``x.shape + (nodes,)``.
    kernel
        ``"gaussian"``, ``"logistic"`` or ``"lorentz"`` (see :func:`kernel_density`).
    width
        Kernel scale :math:`w`, finite and > 0.
    nodes
        Number of quadrature nodes, an integer in ``[2, 1024]``.
    growth
        The exponent :math:`p \\ge 0` with :math:`|f(y)| \\le C (1+|y|)^p` (0 for bounded
        ``f``, 1 for ReLU). The convolution is finite when the kernel's :math:`p`-th absolute
        moment is (:func:`kernel_abs_moment`); the Lorentzian kernel is refused for
        :math:`p \\ge 1`, where the integral diverges and any finite quadrature would return a
        meaningless number. As a safety net the Lorentzian path also probes ``f`` at
        :math:`\\pm 10^4 w` and :math:`\\pm 10^8 w` and refuses an ``f`` that visibly grows
        like :math:`|y|^{0.9}` or faster.

    Returns
    -------
    torch.Tensor
        The convolution at ``x``, same shape, dtype and device as ``x``.

    Raises
    ------
    ValueError
        Unknown ``kernel``; ``width`` not finite and > 0; ``nodes`` outside ``[2, 1024]``;
        ``growth`` negative or not finite; the Lorentzian kernel with ``growth >= 1`` or an
        ``f`` that grows that fast; a non-finite result at finite ``x`` (``f`` overflowed at the
        nodes, e.g. ``exp(y**4)``). ``f`` is trusted to grow at most polynomially: a faster
        growth that stays finite at the nodes (``exp(y**2)`` with the Gaussian kernel) is
        not detected.
    TypeError
        If ``f`` is not callable or does not return a tensor of the right shape.
    """
    if not callable(f):
        raise TypeError(f"f must be callable, got {type(f).__name__}")
    kernel = _kernel_name(kernel)
    w = _width(width, "width")
    if isinstance(nodes, (bool, np.bool_)) or not isinstance(nodes, (int, np.integer)):
        raise TypeError(f"nodes={nodes!r} must be an integer")
    if not 2 <= int(nodes) <= _MAX_NODES:
        raise ValueError(f"nodes={nodes!r} must be an integer in [2, {_MAX_NODES}]")
    _real(growth, "growth", positive=False)
    if kernel == "lorentz" and growth >= 1:
        raise ValueError(
            f"kernel='lorentz' with growth={growth}: the Lorentzian has no finite absolute moment of "
            "order >= 1, so the convolution of a function growing like |y|^p, p >= 1, diverges"
        )
    x = _as_float_tensor(x, "x")
    if kernel == "lorentz":
        _probe_growth(f, w, x.dtype, x.device)
    u, wt = _nodes(kernel, int(nodes), x.dtype, x.device)
    y = x.unsqueeze(-1) - w * u
    fy = f(y)
    if not isinstance(fy, torch.Tensor) or fy.shape != y.shape:
        raise TypeError("f must map a tensor to a tensor of the same shape (it is applied elementwise)")
    out = (fy.to(x.dtype) * wt).sum(-1)
    bad = ~torch.isfinite(out) & torch.isfinite(x)
    if bool(bad.any()):
        raise ValueError(
            "the convolution is not finite at some finite x: f grows too fast for this kernel "
            "(its integral against the kernel diverges)"
        )
    return out


def _probe_growth(f: Callable[[torch.Tensor], torch.Tensor], w: float, dtype: torch.dtype,
                  device: torch.device) -> None:
    r1, r2 = 1e4 * w, 1e8 * w
    pts = torch.tensor([r1, r2, -r1, -r2], dtype=dtype, device=device)
    with torch.no_grad():
        vals = f(pts)
    if not isinstance(vals, torch.Tensor) or vals.shape != pts.shape:
        raise TypeError("f must map a tensor to a tensor of the same shape (it is applied elementwise)")
    v = vals.detach().to(torch.float64).abs().cpu().tolist()
    for near, far in ((v[0], v[1]), (v[2], v[3])):
        if not math.isfinite(far):
            raise ValueError("f is not finite far from 0; its Lorentzian convolution diverges")
        if far > 0 and near > 0 and math.log(far / near) / math.log(r2 / r1) >= 0.9:
            raise ValueError(
                "f grows at least like |y|^0.9 far from 0 (probed at 1e4 and 1e8 widths); the "
                "Lorentzian kernel has no finite first moment, so the convolution diverges. Use the "
                "gaussian or logistic kernel"
            )
        if far > 0 and near == 0 and far > 1e6:
            raise ValueError("f grows without bound far from 0; its Lorentzian convolution diverges")


# --------------------------------------------------------------------------- smoothed ReLU
def smooth_relu_logistic(x: Any, t: float = 1.0) -> torch.Tensor:
    """ReLU convolved with the logistic kernel: :math:`\\log(1+e^{tx})/t` (chapter 07, ``c07-eq-softplus``), i.e. softplus.

    .. math:: \\int_0^\\infty t\\,\\sigma'(t(x-y))\\,y\\,dy = \\frac{\\log(1+e^{tx})}{t}.

    Evaluated with ``torch.nn.functional.softplus(x, beta=t, threshold=T)``, where ``T``
    (40 for float64, 20 otherwise) is the point beyond which :math:`\\log(1+e^{s})` equals
    :math:`s` to the dtype's precision. torch's default ``threshold=20`` switches to the
    linear branch too early for float64: its absolute error there reaches
    :math:`\\log(1+e^{-20})/t \\approx 2.1\\times10^{-9}/t`.

    Parameters
    ----------
    x
        Input tensor (or array-like).
    t
        Sharpness, finite and > 0; ``t=1`` is softplus.

    Raises
    ------
    ValueError
        If ``t`` is not finite and > 0.
    TypeError
        If ``t`` is not a real number or ``x`` is not real.
    """
    t = _width(t, "t")
    x = _as_float_tensor(x)
    threshold = 40.0 if x.dtype == torch.float64 else 20.0
    return F.softplus(x, beta=t, threshold=threshold)


def _h_neg(y: torch.Tensor) -> torch.Tensor:
    """:math:`h(-y) = \\varphi(y) - y\\,\\Phi(-y)` for :math:`y \\ge 0`, where :math:`h(z) = z\\Phi(z) + \\varphi(z)`.

    The two terms nearly cancel for large :math:`y` (the value is about
    :math:`\\varphi(y)/y^2`). For :math:`y \\le 2` the direct formula loses at most a factor 5.
    Beyond, :math:`h(-y) = \\varphi(y)(1 - yR(y))` with the Mills ratio
    :math:`R(y) = \\sqrt{\\pi/2}\\operatorname{erfcx}(y/\\sqrt2)` for :math:`y \\le 10`, and
    Laplace's continued fraction :math:`R(y) = 1/T_1`, :math:`T_k = y + k/T_{k+1}`, for
    :math:`y > 10`: then :math:`1 - yR(y) = 1/(T_1 T_2)`, with no cancellation at all (20
    levels reach float64 accuracy there). The relative error stays within a few times
    :math:`y^2\\epsilon`, the condition number of the function itself.
    """
    out = torch.exp(-0.5 * y * y) / _SQRT2PI - y * _ndtr(-y)
    m = y > 2.0
    if bool(m.any()):
        ym = y[m]
        yn = torch.clamp(ym, max=10.0)
        mills = math.sqrt(math.pi / 2) * torch.special.erfcx(yn / _SQRT2)
        near = torch.exp(-0.5 * yn * yn) / _SQRT2PI * (1.0 - yn * mills)
        yf = torch.clamp(ym, min=10.0)
        tk = yf.clone()
        t2 = yf
        for k in range(20, 0, -1):
            tk = yf + k / tk
            if k == 2:
                t2 = tk
        far = torch.exp(-0.5 * yf * yf) / _SQRT2PI / (tk * t2)
        out[m] = torch.where(ym <= 10.0, near, far)
    return out


class _SmoothReluGaussian(torch.autograd.Function):
    """x Phi(x/s) + s phi(x/s) with the exact derivative Phi(x/s) (chapter 07, ``c07-eq-gauss-relu``)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, sigma: float) -> torch.Tensor:  # type: ignore[override]
        ctx.save_for_backward(x)
        ctx.sigma = sigma
        # h(z) = z + h(-z): relu(x) plus a non-negative correction, accurate on both sides
        return torch.relu(x) + sigma * _h_neg(x.abs() / sigma)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None]:  # type: ignore[override]
        (x,) = ctx.saved_tensors
        return grad * _ndtr(x / ctx.sigma), None


def smooth_relu_gaussian(x: Any, sigma: float = 1.0) -> torch.Tensor:
    """ReLU convolved with the Gaussian kernel (chapter 07, ``c07-eq-gauss-relu``).

    .. math:: \\int_0^\\infty \\frac{e^{-(x-y)^2/2\\sigma^2}}{\\sqrt{2\\pi}\\sigma}\\,y\\,dy
              = x\\,\\Phi(x/\\sigma) + \\sigma\\,\\varphi(x/\\sigma)
              = \\tfrac12\\Big[x\\operatorname{erf}\\big(\\tfrac{x}{\\sqrt2\\sigma}\\big) + x
                + \\sqrt{\\tfrac2\\pi}\\,\\sigma e^{-x^2/2\\sigma^2}\\Big],

    with :math:`\\Phi, \\varphi` the standard normal CDF and density; its derivative is
    :math:`\\Phi(x/\\sigma)`. For :math:`x < 0` the two terms nearly cancel (the value is
    about :math:`\\sigma\\varphi(z)/z^2`, :math:`z = x/\\sigma`), so the left tail is evaluated
    as :math:`\\mathrm{relu}(x) + \\sigma\\,h(-|x|/\\sigma)` (from :math:`h(z) = z + h(-z)`),
    with :math:`h(-y)` computed through the Mills ratio (``erfcx``) and, beyond :math:`y=10`,
    Laplace's continued fraction: the relative error stays within a few times
    :math:`z^2\\epsilon` (the condition number of the function itself) down to underflow,
    and the result is never below ``relu(x)``. Autograd uses the
    exact derivative :math:`\\Phi(x/\\sigma)` (twice differentiable).

    Parameters
    ----------
    x
        Input tensor (or array-like).
    sigma
        Kernel standard deviation, finite and > 0.

    Raises
    ------
    ValueError
        If ``sigma`` is not finite and > 0.
    TypeError
        If ``sigma`` is not a real number or ``x`` is not real.
    """
    sigma = _width(sigma, "sigma")
    x = _as_float_tensor(x)
    return _SmoothReluGaussian.apply(x, sigma)


def swish(x: Any, t: float = 1.0) -> torch.Tensor:
    """Swish :math:`x\\,\\sigma(tx)`: ReLU written as :math:`x\\,\\theta(x)` with a logistic step (chapter 07, ``c07-eq-product-route``).

    ``t=1`` is SiLU and calls ``torch.nn.functional.silu``. Not a convolution of ReLU:
    it dips below zero (minimum :math:`\\approx -0.278/t` at :math:`x \\approx -1.278/t`).

    Parameters
    ----------
    x
        Input tensor (or array-like).
    t
        Sharpness, finite and > 0.

    Raises
    ------
    ValueError
        If ``t`` is not finite and > 0.
    TypeError
        If ``t`` is not a real number or ``x`` is not real.
    """
    t = _width(t, "t")
    x = _as_float_tensor(x)
    if t == 1.0:
        return F.silu(x)
    return x * torch.sigmoid(t * x)


def gelu_sigma(x: Any, sigma: float = 1.0) -> torch.Tensor:
    """:math:`x\\,\\Phi(x/\\sigma)`: ReLU as :math:`x\\,\\theta(x)` with a Gaussian step (chapter 07, ``c07-eq-product-route``); GELU at ``sigma=1``.

    Computed as ``x * erfc(-x / (sqrt(2) sigma)) / 2``, which keeps relative accuracy for
    very negative ``x`` (``torch.nn.functional.gelu`` returns ``-0.0`` below about ``-8.3``
    in float64; the absolute difference is below ``1e-15``).

    Parameters
    ----------
    x
        Input tensor (or array-like).
    sigma
        Width of the Gaussian step, finite and > 0.

    Raises
    ------
    ValueError
        If ``sigma`` is not finite and > 0.
    TypeError
        If ``sigma`` is not a real number or ``x`` is not real.
    """
    sigma = _width(sigma, "sigma")
    x = _as_float_tensor(x)
    return x * _ndtr(x / sigma)


# ------------------------- floor (chapter 07, c07-eq-floor-conv to c07-eq-floor-truncated)
def _floor_window(t: float, cdf: str) -> int:
    """Half-width J (in integers) beyond which the CDF terms are below 2^-60 in total."""
    if cdf == "logistic":
        extra = -math.log1p(-math.exp(-t)) if t < 50 else 0.0
        return int(math.ceil((41.6 + extra) / t)) + 1
    return int(math.ceil(10.0 / t)) + 1


def smooth_floor(
    x: Any,
    t: float = 10.0,
    M: int = 5,
    N: int = 10,
    cdf: Literal["logistic", "gaussian"] = "logistic",
    check_range: bool = False,
) -> torch.Tensor:
    """Smoothed floor function (chapter 07, ``c07-eq-floor-truncated``): :math:`\\sum_{n=-M}^{0}[\\Phi(x-n)-1] + \\sum_{n=1}^{N}\\Phi(x-n)`.

    :math:`\\Phi(u) = \\sigma(tu)` (``cdf="logistic"``) or the normal CDF
    :math:`\\Phi_{\\mathcal N}(tu)` (``cdf="gaussian"``, kernel standard deviation
    :math:`1/t`). The sum equals the convolution of the kernel with the *clipped* floor
    :math:`\\operatorname{clip}(\\lfloor x \\rfloor, -M-1, N)`, so it approximates
    :math:`\\lfloor x \\rfloor` on :math:`[-M-1, N+1)` only, saturating at :math:`-M-1`
    and :math:`N` outside. It is evaluated in the equivalent form

    .. math:: \\operatorname{clip}(\\lfloor x\\rfloor, -M-1, N)
              + \\sum_{n=-M}^{N} \\begin{cases} -\\Phi(-(x-n)) & n \\le x \\\\
                                              \\Phi(x-n) & n > x \\end{cases}

    keeping only the :math:`n` within a window around :math:`x` where the terms are above
    :math:`2^{-60}` (so huge ``M``, ``N`` cost nothing); the correction terms are exactly the
    approximation error inside the range. Autograd gives :math:`\\sum_n \\Phi'(x-n)`,
    including at integer ``x``.

    Parameters
    ----------
    x
        Input tensor (or array-like).
    t
        Sharpness, finite and > 0.
    M, N
        Integers, ``M >= 0`` and ``N >= 1``: the sum runs over :math:`n = -M, \\dots, N`.
    cdf
        ``"logistic"`` or ``"gaussian"``.
    check_range
        If true, raise unless every ``x`` lies in :math:`(-M-1+4/t,\\; N+1-4/t)`, where the
        approximation is good.

    Raises
    ------
    ValueError
        ``t`` not finite and > 0; ``M`` or ``N`` not integers, ``M < 0`` or ``N < 1``;
        unknown ``cdf``; with ``check_range=True``, some ``x`` (or a NaN) outside the range.
    TypeError
        If ``t`` is not a real number or ``x`` is not real.
    """
    t = _width(t, "t")
    for name, val, lo in (("M", M, 0), ("N", N, 1)):
        if isinstance(val, (bool, np.bool_)) or not isinstance(val, (int, np.integer)):
            raise ValueError(f"{name}={val!r} must be an integer >= {lo}")
        if val < lo:
            raise ValueError(f"{name}={val!r} must be an integer >= {lo}")
    M, N = int(M), int(N)
    if cdf not in ("logistic", "gaussian"):
        raise ValueError(f"cdf={cdf!r} must be 'logistic' or 'gaussian'")
    if not isinstance(check_range, (bool, np.bool_)):
        raise TypeError(f"check_range={check_range!r} must be a bool")
    x = _as_float_tensor(x)
    if check_range:
        lo, hi = -M - 1 + 4.0 / t, N + 1 - 4.0 / t
        inside = (x > lo) & (x < hi)
        if not bool(inside.all()):
            bad = x[~inside].flatten()[0].item()
            raise ValueError(
                f"x={bad!r} is outside ({lo:g}, {hi:g}) = (-M-1+4/t, N+1-4/t), where smooth_floor "
                f"approximates floor(x) (M={M}, N={N}, t={t:g})"
            )

    def cdf_fn(u: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(t * u) if cdf == "logistic" else _ndtr(t * u)

    k = torch.floor(x)
    out = torch.clamp(k, -M - 1, N)
    J = _floor_window(t, cdf)
    if M + N + 1 <= 2 * J + 2:
        for n in range(-M, N + 1):
            d = x - n
            out = out + torch.where(d >= 0, -cdf_fn(-d), cdf_fn(d))
    else:
        frac = torch.where(torch.isfinite(x), x - k, torch.zeros_like(x))
        for j in range(-J, J + 1):
            n = k + j
            valid = (n >= -M) & (n <= N)
            d = frac - j
            term = -cdf_fn(-d) if j <= 0 else cdf_fn(d)
            out = out + torch.where(valid, term, torch.zeros_like(term))
    inf = torch.isinf(x)
    if bool(inf.any()):
        out = torch.where(inf, torch.clamp(x, -M - 1, N), out)
    return out
