"""Smoothness of a loss: descent-lemma gap, exact constants for linear layers, top Hessian eigenvalue.

A differentiable loss :math:`f` is :math:`L`-smooth when its gradient is :math:`L`-Lipschitz,
:math:`\\|\\nabla f(\\theta+\\Delta)-\\nabla f(\\theta)\\|_2\\le L\\|\\Delta\\|_2`; for a twice
differentiable loss the smallest such :math:`L` on a convex region is the largest
:math:`|\\lambda|` of the Hessian there. This module provides

* :func:`descent_lemma_gap` -- the slack of the descent lemma (chapter 26,
  ``c26-eq-bn-descent``);
* :func:`smoothness_constant_linear` -- the exact :math:`L` of a linear layer under squared loss
  and the standard bound under logistic loss (theorem ``c26-thm-bn-exact``,
  ``c26-eq-bn-exact-L``);
* :func:`center_scale` -- centring and scaling of the inputs (``c26-eq-bn-centre``,
  ``c26-eq-bn-scale``);
* :func:`hvp` and :func:`hessian_top_eigenvalue` -- Hessian-vector products by double backward
  and a power iteration with a stated stopping rule.

PyTorch itself provides ``torch.autograd.functional.hvp`` / ``hessian`` and ``torch.func``;
what is added here is the power iteration around them, its stopping rule and input checks.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import NamedTuple

import torch

__all__ = [
    "PowerIterationResult",
    "center_scale",
    "descent_lemma_gap",
    "hessian_top_eigenvalue",
    "hvp",
    "smoothness_constant_linear",
]


def _as_2d_float(X: torch.Tensor, name: str = "X") -> torch.Tensor:
    if not isinstance(X, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(X).__name__}")
    if X.ndim != 2:
        raise ValueError(f"{name} must be 2-D (n_samples, n_features), got shape {tuple(X.shape)}")
    if X.shape[0] < 1 or X.shape[1] < 1:
        raise ValueError(f"{name} must have at least one row and one column, got {tuple(X.shape)}")
    if not X.is_floating_point():
        X = X.to(torch.get_default_dtype())
    if not bool(torch.isfinite(X).all()):
        raise ValueError(f"{name} must contain only finite values")
    return X


def center_scale(X: torch.Tensor, eps: float = 1e-5) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Centre the columns of ``X`` and divide by their population standard deviation (chapter 26,
    ``c26-eq-bn-centre`` and ``c26-eq-bn-scale``).

    Returns :math:`\\hat x_k = (x_k-\\mu_k)/\\sigma_k` with :math:`\\mu_k=\\mathbb E[x_k]` and
    :math:`\\sigma_k=\\sqrt{\\mathrm{Var}(x_k)}` (``ddof=0``). Columns whose standard deviation is
    at most ``eps`` are constant for practical purposes; they are centred and left unscaled
    (:math:`\\sigma_k=1`), as ``sklearn.preprocessing.StandardScaler`` does.

    Parameters
    ----------
    X : torch.Tensor
        Data, shape ``(n, d)``, finite.
    eps : float
        Threshold below which a column's standard deviation is treated as zero; ``eps >= 0``.

    Returns
    -------
    (X_hat, mu, sigma) : tuple of torch.Tensor
        Standardised data, column means and the scales used (shape ``(d,)``).
    """
    X = _as_2d_float(X)
    if not (isinstance(eps, (int, float)) and math.isfinite(eps) and eps >= 0):
        raise ValueError(f"eps must be a finite number >= 0, got {eps!r}")
    mu = X.mean(0)
    sigma = X.std(0, correction=0)
    sigma = torch.where(sigma > eps, sigma, torch.ones_like(sigma))
    return (X - mu) / sigma, mu, sigma


def smoothness_constant_linear(X: torch.Tensor, loss: str = "mse", bias: bool = True) -> float:
    """Smoothness constant of a linear layer's loss in its parameters (chapter 26, theorem ``c26-thm-bn-exact``).

    With :math:`z=[x;1]` (or :math:`z=x` when ``bias=False``) and the empirical expectation over
    the rows of ``X``:

    * ``loss="mse"``, :math:`f(W)=\\tfrac12\\mathbb E\\|Wz-y\\|^2`: the Hessian is
      :math:`\\mathbb E[zz^\\top]` (for each output), so the exact constant is
      :math:`L=\\lambda_{\\max}(\\mathbb E[zz^\\top])`;
    * ``loss="logistic"``, :math:`f(w)=\\mathbb E\\log(1+e^{-y w^\\top z})`: the Hessian is
      :math:`\\mathbb E[\\sigma(1-\\sigma)zz^\\top]\\preceq\\tfrac14\\mathbb E[zz^\\top]`, so
      :math:`L=\\tfrac14\\lambda_{\\max}(\\mathbb E[zz^\\top])` is a valid (global) constant.

    Parameters
    ----------
    X : torch.Tensor
        Inputs, shape ``(n, d)``, finite.
    loss : {"mse", "logistic"}
        Which loss.
    bias : bool
        Whether the layer has a bias (appends a constant-one feature).

    Returns
    -------
    float
        The constant :math:`L`.
    """
    X = _as_2d_float(X)
    if loss not in ("mse", "logistic"):
        raise ValueError(f"loss must be 'mse' or 'logistic', got {loss!r}")
    if not isinstance(bias, bool):
        raise TypeError(f"bias must be a bool, got {type(bias).__name__}")
    Z = torch.cat([X, torch.ones_like(X[:, :1])], 1) if bias else X
    Z = Z.to(torch.float64)
    second_moment = Z.T @ Z / Z.shape[0]
    lmax = float(torch.linalg.eigvalsh(second_moment)[-1])
    return lmax if loss == "mse" else 0.25 * lmax


def descent_lemma_gap(
    f: Callable[[torch.Tensor], torch.Tensor],
    grad: Callable[[torch.Tensor], torch.Tensor],
    theta: torch.Tensor,
    delta: torch.Tensor,
    L: float,
) -> float:
    """Slack of the descent lemma (chapter 26, ``c26-eq-bn-descent``): right-hand side minus left-hand side.

    .. math::

        f(\\theta)+\\langle\\nabla f(\\theta),\\Delta\\rangle+\\tfrac L2\\|\\Delta\\|_2^2
        - f(\\theta+\\Delta),

    which is :math:`\\ge 0` for every :math:`\\theta,\\Delta` when :math:`f` is :math:`L`-smooth.

    Parameters
    ----------
    f, grad : callable
        The function and its gradient, both taking a tensor shaped like ``theta``.
    theta, delta : torch.Tensor
        Point and step, same shape, finite.
    L : float
        Smoothness constant, finite and ``>= 0``.

    Returns
    -------
    float
        The gap (negative means the lemma's inequality fails for this ``L``).
    """
    if not callable(f) or not callable(grad):
        raise TypeError("f and grad must be callables")
    for name, t in (("theta", theta), ("delta", delta)):
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
        if not bool(torch.isfinite(t).all()):
            raise ValueError(f"{name} must contain only finite values")
    if theta.shape != delta.shape:
        raise ValueError(f"theta and delta must have the same shape, got {tuple(theta.shape)} "
                         f"and {tuple(delta.shape)}")
    if not (isinstance(L, (int, float)) and math.isfinite(L) and L >= 0):
        raise ValueError(f"L must be a finite number >= 0, got {L!r}")
    rhs = f(theta) + (grad(theta) * delta).sum() + 0.5 * L * (delta * delta).sum()
    return float(rhs - f(theta + delta))


def _check_params(params: Sequence[torch.Tensor]) -> list[torch.Tensor]:
    if isinstance(params, torch.Tensor):
        params = [params]
    params = list(params)
    if not params:
        raise ValueError("params must contain at least one tensor")
    for i, p in enumerate(params):
        if not isinstance(p, torch.Tensor):
            raise TypeError(f"params[{i}] must be a torch.Tensor, got {type(p).__name__}")
        if not p.requires_grad:
            raise ValueError(f"params[{i}] does not require grad; the Hessian needs requires_grad=True")
    return params


def hvp(
    loss_fn: Callable[[], torch.Tensor],
    params: Sequence[torch.Tensor],
    vec: Sequence[torch.Tensor],
) -> list[torch.Tensor]:
    """Hessian-vector product :math:`Hv` of ``loss_fn()`` in ``params`` by double backward.

    Computes :math:`g=\\nabla_\\theta f` with ``create_graph=True`` and then
    :math:`\\nabla_\\theta\\langle g, v\\rangle = Hv`, at the cost of about two backward passes.

    Parameters
    ----------
    loss_fn : callable
        Re-evaluates the scalar loss from the current ``params``.
    params : sequence of torch.Tensor
        Leaf tensors with ``requires_grad=True``.
    vec : sequence of torch.Tensor
        The vector :math:`v`, one tensor per parameter with the same shapes.

    Returns
    -------
    list of torch.Tensor
        :math:`Hv`, shaped like ``params``.
    """
    params = _check_params(params)
    vec = list(vec)
    if len(vec) != len(params) or any(v.shape != p.shape for v, p in zip(vec, params)):
        raise ValueError("vec must hold one tensor per parameter, with matching shapes")
    loss = loss_fn()
    if not isinstance(loss, torch.Tensor) or loss.numel() != 1:
        raise ValueError("loss_fn must return a scalar tensor")
    grads = torch.autograd.grad(loss, params, create_graph=True, allow_unused=True)
    if all(g is None for g in grads):
        raise ValueError("the loss does not depend on params")
    dot = sum((g * v).sum() for g, v in zip(grads, vec) if g is not None)
    if not dot.requires_grad:  # gradient is constant in params: the Hessian is zero
        return [torch.zeros_like(p) for p in params]
    out = torch.autograd.grad(dot, params, allow_unused=True)
    return [torch.zeros_like(p) if h is None else h.detach() for h, p in zip(out, params)]


class PowerIterationResult(NamedTuple):
    """Output of :func:`hessian_top_eigenvalue`."""

    eigenvalue: float
    """Rayleigh quotient :math:`v^\\top Hv` at the last unit vector :math:`v`."""
    vector: list[torch.Tensor]
    """The last unit vector, shaped like the parameters."""
    iterations: int
    """Number of Hessian-vector products used."""
    converged: bool
    """Whether the stopping rule was met before ``iters`` ran out."""
    residual: float
    """:math:`\\|Hv-\\lambda v\\|_2/|\\lambda|` at the last iterate."""


def hessian_top_eigenvalue(
    loss_fn: Callable[[], torch.Tensor],
    params: Sequence[torch.Tensor],
    iters: int = 100,
    tol: float = 1e-6,
    generator: torch.Generator | None = None,
) -> PowerIterationResult:
    """Dominant Hessian eigenvalue by power iteration with Hessian-vector products.

    Starting from a random unit vector :math:`v_0` (drawn with ``generator``), iterate
    :math:`w=Hv_k`, :math:`\\lambda_k=v_k^\\top w`, :math:`v_{k+1}=w/\\|w\\|`. The iteration
    converges to the eigenvalue of largest *magnitude*; for a convex loss that is
    :math:`\\lambda_{\\max}(H)`, the smoothness constant (chapter 26,
    ``c26-eq-bn-smooth``) at this point.

    Stopping rule: stop after iteration :math:`k\\ge 2` as soon as
    :math:`|\\lambda_k-\\lambda_{k-1}|\\le \\mathrm{tol}\\,|\\lambda_k|`; ``converged`` reports
    whether that happened within ``iters`` products. The relative residual
    :math:`\\|Hv_k-\\lambda_k v_k\\|/|\\lambda_k|` is returned so callers can judge the estimate.

    Parameters
    ----------
    loss_fn : callable
        Re-evaluates the scalar loss from the current ``params`` (deterministically).
    params : sequence of torch.Tensor
        Leaf tensors with ``requires_grad=True``.
    iters : int
        Maximum number of Hessian-vector products, ``>= 1``.
    tol : float
        Relative tolerance of the stopping rule, ``0 < tol < 1``.
    generator : torch.Generator, optional
        Seeds the start vector (on the parameters' device).

    Returns
    -------
    PowerIterationResult
        Eigenvalue, unit vector, iteration count, convergence flag and residual.
    """
    params = _check_params(params)
    if isinstance(iters, bool) or not isinstance(iters, int) or iters < 1:
        raise ValueError(f"iters must be an integer >= 1, got {iters!r}")
    if not (isinstance(tol, (int, float)) and 0 < tol < 1):
        raise ValueError(f"tol must be a number in (0, 1), got {tol!r}")
    v = [torch.randn(p.shape, generator=generator, device=p.device, dtype=p.dtype) for p in params]

    def norm(xs: list[torch.Tensor]) -> torch.Tensor:
        return torch.sqrt(sum((x * x).sum() for x in xs))

    n0 = norm(v)
    v = [x / n0 for x in v]
    lam_prev = math.nan
    lam = 0.0
    converged = False
    k = 0
    w = v
    for k in range(1, iters + 1):
        w = hvp(loss_fn, params, v)
        lam = float(sum((a * b).sum() for a, b in zip(v, w)))
        if not math.isfinite(lam):
            raise ValueError("the Hessian-vector product is not finite at these params")
        wn = float(norm(w))
        if wn == 0.0:  # v lies in the null space: H v = 0
            converged = True
            break
        if k >= 2 and abs(lam - lam_prev) <= tol * abs(lam):
            converged = True
            break
        lam_prev = lam
        if k < iters:
            v = [x / wn for x in w]
    res_vec = [a - lam * b for a, b in zip(w, v)]
    residual = float(norm(res_vec)) / abs(lam) if lam != 0 else 0.0
    return PowerIterationResult(lam, [x.detach() for x in v], k, converged, residual)
