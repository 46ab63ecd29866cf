"""Entropy of discrete distributions and entropy normalisation by a power transform.

Chapter *05 · Entropy normalization*. A distribution :math:`p` on :math:`n` outcomes is
mapped to :math:`\\tilde p_\\gamma = p^\\gamma / \\sum_j p_j^\\gamma
= \\mathrm{softmax}(\\gamma \\log p)` (``c05-eq-power``, temperature scaling of the logits
:math:`\\log p` with :math:`T = 1/\\gamma`), and :math:`\\gamma` is chosen so that the
entropy :math:`\\mathcal H(\\tilde p_\\gamma)` equals a prescribed target
:math:`\\mathcal H^*`.

Everything is computed in log space on the logits :math:`z = \\log p` (zeros of
:math:`p` are logits :math:`-\\infty`, outside the support), shifted so that
:math:`\\max z = 0`; then :math:`\\mathcal H(\\Gamma) = \\log\\sum_i e^{\\Gamma z_i}
- \\Gamma\\,\\mathbb E_{\\tilde p_\\Gamma}[z]` is a sum of two non-negative terms and
never underflows.

Equations implemented (MyST labels of the chapter's equations and theorems):

* :math:`\\mathcal H(p) = -\\sum_i p_i\\log p_i` with :math:`0\\log 0 = 0` (``c05-eq-entropy``),
  :func:`entropy`, :func:`entropy_from_logits`;
* the power transform (``c05-eq-power``), :func:`power_transform`;
* :math:`\\mathcal H_\\gamma` (``c05-eq-h-gamma``), :func:`power_entropy`, and its exact derivative
  :math:`\\mathrm d\\mathcal H_\\gamma/\\mathrm d\\gamma
  = -\\gamma\\,\\mathrm{Var}_{\\tilde p_\\gamma}[\\log p]` (theorem
  ``c05-thm-dh``), :func:`power_entropy_derivative`;
* the attainable range :math:`(\\log k_{\\max}, \\log|\\mathrm{supp}\\,p|)` (from the
  :math:`\\gamma\\to\\infty` limit ``c05-eq-limits``),
  :func:`entropy_range`;
* the post's iteration (``c05-eq-post-iteration``) literally, :func:`post_newton_trace`, and a robust solver
  for :math:`\\Gamma` (bracketed, safeguarded Newton; theorem ``c05-thm-newton``), :func:`entropy_normalize`.

Inputs are tensors of ``torch.float32`` or ``torch.float64`` (array-likes of floats become
``float64`` tensors) on any device; the distribution runs along ``dim`` and every other
dimension is a batch dimension. Bad input raises :class:`ValueError` or
:class:`TypeError` naming the argument and its allowed range.
"""

from __future__ import annotations

import math
from typing import Any, Literal, NamedTuple

import numpy as np
import torch

from kexue_book._checks import as_float_tensor

__all__ = [
    "entropy",
    "entropy_from_logits",
    "power_transform",
    "power_entropy",
    "power_entropy_derivative",
    "entropy_range",
    "entropy_normalize",
    "post_newton_trace",
    "EntropyNormalization",
    "PostNewtonTrace",
]

Method = Literal["safeguarded_newton", "bisect", "brentq", "post_newton"]
_METHODS: tuple[str, ...] = ("safeguarded_newton", "bisect", "brentq", "post_newton")
_FLOATS = (torch.float32, torch.float64)


class EntropyNormalization(NamedTuple):
    """Result of :func:`entropy_normalize` with ``return_info=True``; its fields are

    * ``probs``: the normalised distribution :math:`\\tilde p = \\mathrm{softmax}(\\Gamma z)`,
      same shape, dtype and device as the input;
    * ``gamma``: the total exponent :math:`\\Gamma` per distribution (the batch shape);
    * ``iterations``: entropy evaluations used per distribution (``torch.int64``, the batch
      shape); the first evaluation is at the starting point :math:`\\Gamma = 1`.
    """

    probs: torch.Tensor
    gamma: torch.Tensor
    iterations: torch.Tensor


class PostNewtonTrace(NamedTuple):
    """Result of :func:`post_newton_trace`, the post's iteration step by step; its fields are

    * ``entropy``, shape ``(n_iter + 1, *batch)``: the entropy of the current distribution
      before iteration 1, 2, ..., and after the last one (may hold NaN: that is the point);
    * ``gamma``, shape ``(n_iter, *batch)``: the exponent :math:`\\gamma` of each iteration;
    * ``probs``: the distribution after the last iteration (the input's shape).
    """

    entropy: torch.Tensor
    gamma: torch.Tensor
    probs: torch.Tensor


# --------------------------------------------------------------------------- validation
_as_float_tensor = as_float_tensor  # shared check, see kexue_book._checks


def _norm_dim(t: torch.Tensor, dim: Any, name: str) -> int:
    """``dim`` as a negative index into ``t``; the distribution axis needs size >= 2."""
    if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)):
        raise TypeError(f"dim={dim!r} must be an int")
    if t.ndim == 0:
        raise ValueError(f"{name} is a scalar; expected at least one dimension holding the distribution")
    if not -t.ndim <= dim < t.ndim:
        raise ValueError(f"dim={dim} is out of range for {name} with {t.ndim} dimension(s)")
    d = int(dim) - t.ndim if dim >= 0 else int(dim)
    if t.shape[d] < 2:
        raise ValueError(
            f"{name} has size {t.shape[d]} along dim={dim}; a distribution needs at least 2 outcomes"
        )
    return d


def _sum_tol(dtype: torch.dtype, n: int) -> float:
    """How far a row sum may be from 1: 1e-6, or more for float32 rows of many entries."""
    return max(1e-6, 16.0 * math.sqrt(n) * torch.finfo(dtype).eps)


def _check_probs(p: Any, dim: Any, name: str = "p") -> tuple[torch.Tensor, int]:
    t = _as_float_tensor(p, name)
    d = _norm_dim(t, dim, name)
    if not bool(torch.isfinite(t).all()):
        raise ValueError(f"{name} contains NaN or Inf; probabilities must be finite")
    if bool((t < 0).any()):
        raise ValueError(f"{name} has negative entries; probabilities must be >= 0")
    n = t.shape[d]
    err = (t.sum(dim=d, dtype=torch.float64) - 1.0).abs()
    tol = _sum_tol(t.dtype, n)
    if bool((err > tol).any()):
        raise ValueError(
            f"{name} does not sum to 1 along dim={dim} (largest deviation {float(err.max()):.3g} "
            f"> {tol:.1g}); normalise it first, or pass logits="
        )
    return t, d


def _check_logits(z: Any, dim: Any, name: str = "logits") -> tuple[torch.Tensor, int]:
    t = _as_float_tensor(z, name)
    d = _norm_dim(t, dim, name)
    if bool(torch.isnan(t).any()):
        raise ValueError(f"{name} contains NaN")
    if bool((t == math.inf).any()):
        raise ValueError(f"{name} contains +inf; logits must be finite or -inf (probability 0)")
    if not bool(torch.isfinite(t).any(dim=d).all()):
        raise ValueError(f"{name} has a distribution whose logits are all -inf (no support)")
    return t, d


def _gamma_tensor(gamma: Any, ref: torch.Tensor, name: str = "gamma") -> torch.Tensor:
    if isinstance(gamma, bool):
        raise TypeError(f"{name}={gamma!r} must be a real number or a tensor of them")
    if isinstance(gamma, torch.Tensor):
        if gamma.is_complex() or gamma.dtype == torch.bool:
            raise TypeError(f"{name} has dtype {gamma.dtype}; expected real numbers")
        g = gamma.to(device=ref.device, dtype=ref.dtype)
    else:
        try:
            arr = np.asarray(gamma)
        except (TypeError, ValueError) as exc:  # pragma: no cover
            raise TypeError(f"{name} must be a real number or a tensor of them") from exc
        if arr.dtype.kind not in "fiu":
            raise TypeError(f"{name}={gamma!r} must be a real number or a tensor of them")
        g = torch.as_tensor(arr.astype(np.float64), dtype=ref.dtype, device=ref.device)
    if not bool(torch.isfinite(g).all()):
        raise ValueError(f"{name} contains NaN or Inf; it must be finite")
    return g


def _prepare(z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Shift logits (last axis) so that their maximum is 0; zero them off the support.

    Returns ``(zf, supp)``: ``zf`` has 0 wherever ``supp`` is False, and ``max zf = 0``
    over the support.
    """
    supp = torch.isfinite(z)
    top = torch.where(supp, z, torch.full((), -math.inf, dtype=z.dtype, device=z.device)).amax(-1, keepdim=True)
    zf = torch.where(supp, z - top, torch.zeros((), dtype=z.dtype, device=z.device))
    return zf, supp


def _evaluate(zf: torch.Tensor, supp: torch.Tensor, g: torch.Tensor,
              ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Entropy, variance of ``z`` and log-probabilities of ``softmax(g z)`` (last axis).

    ``zf`` as returned by :func:`_prepare`; ``g`` broadcasts against the batch shape.
    :math:`H = \\log\\sum e^{g z} - g\\,E[z]` (chapter 05, ``c05-eq-h-gamma`` in log space) and
    :math:`\\mathrm{Var}[z] = E[(z - E z)^2]`, centred for accuracy.
    """
    neg_inf = torch.full((), -math.inf, dtype=zf.dtype, device=zf.device)
    a = torch.where(supp, g.unsqueeze(-1) * zf, neg_inf)
    lse = torch.logsumexp(a, dim=-1, keepdim=True)
    logq = a - lse
    q = torch.exp(logq)
    m = (q * zf).sum(-1, keepdim=True)
    var = (q * (zf - m) ** 2).sum(-1)
    h = lse.squeeze(-1) - g * m.squeeze(-1)
    return h, var, logq


# --------------------------------------------------------------------------- entropy
def entropy(p: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """Shannon entropy :math:`\\mathcal H(p) = -\\sum_i p_i \\log p_i` in nats (chapter 05, ``c05-eq-entropy``).

    Uses :math:`0 \\log 0 = 0`, so zero probabilities contribute nothing.

    Parameters
    ----------
    p
        Probabilities along ``dim`` (non-negative, summing to 1 within
        :math:`\\max(10^{-6}, 16\\sqrt n\\,\\varepsilon)`), float32 or float64.
    dim
        The axis holding the distribution (size at least 2).

    Returns
    -------
    torch.Tensor
        The entropies, shape of ``p`` without ``dim``, in :math:`[0, \\log n]`.

    Raises
    ------
    TypeError
        If ``p`` is not of a floating dtype, or ``dim`` is not an int.
    ValueError
        If ``p`` has NaN/Inf or negative entries, does not sum to 1, or ``dim`` has size < 2.
    """
    t, d = _check_probs(p, dim)
    return -torch.special.xlogy(t, t).sum(dim=d)


def entropy_from_logits(logits: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """Entropy of :math:`\\mathrm{softmax}(z)` computed from the logits (chapter 05, ``c05-eq-entropy`` in log space).

    :math:`\\mathcal H = \\log\\sum_j e^{z_j} - \\sum_i q_i z_i` with
    :math:`q = \\mathrm{softmax}(z)`; logits of :math:`-\\infty` are probability-0 outcomes.
    Stable for logits of any magnitude, and differentiable.

    Parameters
    ----------
    logits
        Real logits along ``dim``; ``-inf`` allowed, NaN and ``+inf`` not.
    dim
        The axis holding the distribution (size at least 2).

    Returns
    -------
    torch.Tensor
        The entropies, shape of ``logits`` without ``dim``.

    Raises
    ------
    TypeError
        If ``logits`` is not of a floating dtype, or ``dim`` is not an int.
    ValueError
        On NaN or ``+inf``, a distribution with all logits ``-inf``, or ``dim`` of size < 2.
    """
    t, d = _check_logits(logits, dim)
    logq = torch.log_softmax(t, dim=d)
    q = torch.exp(logq)
    safe = torch.where(torch.isfinite(logq), logq, torch.zeros((), dtype=t.dtype, device=t.device))
    return -(q * safe).sum(dim=d)


# --------------------------------------------------------------------------- power transform
def _power_setup(p: Any, gamma: Any, dim: Any) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, int]:
    t, d = _check_probs(p, dim)
    zf, supp = _prepare(torch.log(t).movedim(d, -1))
    g = _gamma_tensor(gamma, t)
    try:
        torch.broadcast_shapes(g.shape, zf.shape[:-1])
    except RuntimeError as exc:
        raise ValueError(
            f"gamma of shape {tuple(g.shape)} does not broadcast against the batch shape "
            f"{tuple(zf.shape[:-1])} of p"
        ) from exc
    return zf, supp, g, d


def power_transform(p: torch.Tensor, gamma: float | torch.Tensor, dim: int = -1) -> torch.Tensor:
    """Power transform :math:`\\tilde p_i = p_i^\\gamma / \\sum_j p_j^\\gamma` (chapter 05, ``c05-eq-power``).

    Computed as :math:`\\mathrm{softmax}(\\gamma \\log p)` on the support of :math:`p`
    (zeros stay zero for every :math:`\\gamma`; :math:`\\gamma = 0` gives the uniform
    distribution on the support, the limit :math:`\\gamma \\to 0^+`). This is temperature
    scaling of the logits :math:`\\log p` with :math:`T = 1/\\gamma`; for
    :math:`\\gamma > 0` it keeps the order of the probabilities, for :math:`\\gamma < 0`
    it reverses it.

    Parameters
    ----------
    p
        Probabilities along ``dim`` (see :func:`entropy`).
    gamma
        Real exponent(s), finite; a tensor broadcasts against the batch shape of ``p``
        (``p``'s shape without ``dim``), so a vector of exponents applied to one
        distribution gives one row per exponent.
    dim
        The axis holding the distribution.

    Returns
    -------
    torch.Tensor
        :math:`\\tilde p`, with the distribution along ``dim``.

    Raises
    ------
    TypeError
        On a non-floating ``p`` or a non-real ``gamma``.
    ValueError
        On invalid ``p`` (see :func:`entropy`), a non-finite ``gamma``, or a ``gamma``
        that does not broadcast.
    """
    zf, supp, g, d = _power_setup(p, gamma, dim)
    _, _, logq = _evaluate(zf, supp, g)
    return torch.exp(logq).movedim(-1, d)


def power_entropy(p: torch.Tensor, gamma: float | torch.Tensor, dim: int = -1) -> torch.Tensor:
    """Entropy :math:`\\mathcal H_\\gamma` of the power transform of ``p`` (chapter 05, ``c05-eq-h-gamma``).

    .. math::
        \\mathcal H_\\gamma = \\log\\sum_i p_i^\\gamma
        - \\frac{\\gamma \\sum_i p_i^\\gamma \\log p_i}{\\sum_i p_i^\\gamma},

    evaluated in log space (sums over the support of ``p``).

    Parameters
    ----------
    p, gamma, dim
        As in :func:`power_transform`.

    Returns
    -------
    torch.Tensor
        :math:`\\mathcal H_\\gamma`, shape: batch shape of ``p`` broadcast with ``gamma``.

    Raises
    ------
    TypeError, ValueError
        As in :func:`power_transform`.
    """
    zf, supp, g, _ = _power_setup(p, gamma, dim)
    h, _, _ = _evaluate(zf, supp, g)
    return h


def power_entropy_derivative(p: torch.Tensor, gamma: float | torch.Tensor, dim: int = -1) -> torch.Tensor:
    """Exact derivative :math:`\\mathrm d\\mathcal H_\\gamma / \\mathrm d\\gamma
    = -\\gamma\\,\\mathrm{Var}_{\\tilde p_\\gamma}[\\log p]` (theorem ``c05-thm-dh`` of chapter 05).

    Non-positive for :math:`\\gamma \\ge 0`, and zero for :math:`\\gamma > 0` only when
    :math:`p` is constant on its support.

    Parameters
    ----------
    p, gamma, dim
        As in :func:`power_transform`.

    Returns
    -------
    torch.Tensor
        The derivative, shape: batch shape of ``p`` broadcast with ``gamma``.

    Raises
    ------
    TypeError, ValueError
        As in :func:`power_transform`.
    """
    zf, supp, g, _ = _power_setup(p, gamma, dim)
    _, var, _ = _evaluate(zf, supp, g)
    return -g * var


def entropy_range(p: torch.Tensor | None = None, *, logits: torch.Tensor | None = None,
                  dim: int = -1) -> tuple[torch.Tensor, torch.Tensor]:
    """Range of entropies reachable by the power transform with :math:`\\gamma > 0` (chapter 05, ``c05-eq-limits``).

    :math:`\\mathcal H_\\gamma` decreases from :math:`\\log|\\mathrm{supp}\\,p|` (as
    :math:`\\gamma \\to 0^+`) to :math:`\\log k_{\\max}` (as :math:`\\gamma \\to \\infty`),
    where :math:`k_{\\max}` is the number of entries equal to :math:`\\max_i p_i`. Both
    ends are limits: targets strictly between them are reached at exactly one finite
    :math:`\\gamma > 0`. If :math:`p` is constant on its support the range is the single
    point :math:`\\log|\\mathrm{supp}\\,p|`.

    Parameters
    ----------
    p
        Probabilities along ``dim``; or give ``logits`` instead (exactly one of the two).
    logits
        Logits along ``dim`` (``-inf`` for probability 0).
    dim
        The axis holding the distribution.

    Returns
    -------
    (torch.Tensor, torch.Tensor)
        :math:`(\\log k_{\\max}, \\log|\\mathrm{supp}|)`, each of the batch shape.

    Raises
    ------
    TypeError, ValueError
        On invalid input (see :func:`entropy` and :func:`entropy_from_logits`), or if
        neither or both of ``p`` and ``logits`` are given.
    """
    z, _ = _logits_of(p, logits, dim)
    zf, supp = _prepare(z)
    lo, hi = _range(zf, supp)
    return lo, hi


def _logits_of(p: Any, logits: Any, dim: Any) -> tuple[torch.Tensor, int]:
    """Logits with the distribution moved to the last axis, and ``dim`` as a negative index."""
    if (p is None) == (logits is None):
        raise ValueError("give exactly one of p= (probabilities) and logits=")
    if p is not None:
        t, d = _check_probs(p, dim)
        return torch.log(t).movedim(d, -1), d
    t, d = _check_logits(logits, dim, "logits")
    return t.movedim(d, -1), d


def _range(zf: torch.Tensor, supp: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    n_supp = supp.sum(-1).to(zf.dtype)
    k_max = (supp & (zf == 0)).sum(-1).to(zf.dtype)
    return torch.log(k_max), torch.log(n_supp)


# --------------------------------------------------------------------------- the post's iteration
def post_newton_trace(p: torch.Tensor, target: float | torch.Tensor, n_iter: int = 10,
                      dim: int = -1) -> PostNewtonTrace:
    """The post's iteration (chapter 05, ``c05-eq-post-iteration``), run literally for ``n_iter`` steps, for demonstrations.

    Each step computes, on the current distribution :math:`p` (in ``p``'s dtype),

    .. math::
        \\mathcal H = -\\sum_i p_i\\log p_i,\\quad
        \\gamma = 1 + \\frac{\\mathcal H^* - \\mathcal H}{\\mathcal H^2 - \\sum_i p_i (\\log p_i)^2},
        \\quad p \\leftarrow p^\\gamma / \\textstyle\\sum_j p_j^\\gamma .

    There are no safeguards, on purpose: zeros in ``p`` (:math:`0 \\cdot \\log 0`), an
    underflow of :math:`p^\\gamma` to exact zeros, or a uniform ``p`` (division by 0) give
    NaN, and a step may have :math:`\\gamma < 0`, which reverses the order of ``p``. The
    target is not checked against the attainable range either. Use
    :func:`entropy_normalize` for real work.

    Parameters
    ----------
    p
        Probabilities along ``dim`` (see :func:`entropy`).
    target
        Target entropy :math:`\\mathcal H^*` in nats, finite; a tensor broadcasts against
        the batch shape.
    n_iter
        Number of iterations, a positive int (the post uses 10).
    dim
        The axis holding the distribution.

    Returns
    -------
    PostNewtonTrace
        Entropies before/after each step, the exponents, and the final distribution.

    Raises
    ------
    TypeError, ValueError
        On invalid ``p`` (see :func:`entropy`), a non-finite ``target``, or ``n_iter`` not
        a positive int.
    """
    t, d = _check_probs(p, dim)
    _check_count(n_iter, "n_iter")
    cur = t.movedim(d, -1)
    tgt = _gamma_tensor(target, t, "target")
    try:
        tgt = torch.broadcast_to(tgt, cur.shape[:-1])
    except RuntimeError as exc:
        raise ValueError(
            f"target of shape {tuple(tgt.shape)} does not broadcast against the batch shape "
            f"{tuple(cur.shape[:-1])}"
        ) from exc
    hs, gs = [], []
    for _ in range(n_iter):
        logp = torch.log(cur)
        h = -(cur * logp).sum(-1)
        gam = 1 + (tgt - h) / (h**2 - (cur * logp**2).sum(-1))
        cur = cur ** gam.unsqueeze(-1)
        cur = cur / cur.sum(-1, keepdim=True)
        hs.append(h)
        gs.append(gam)
    hs.append(-(cur * torch.log(cur)).sum(-1))
    return PostNewtonTrace(torch.stack(hs), torch.stack(gs), cur.movedim(-1, d))


def _check_count(v: Any, name: str) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
        raise ValueError(f"{name}={v!r} must be a positive int")
    return int(v)


# --------------------------------------------------------------------------- the solver
def entropy_normalize(p: torch.Tensor | None = None, *, logits: torch.Tensor | None = None,
                      target: float | torch.Tensor, dim: int = -1,
                      method: Method = "safeguarded_newton", max_iter: int = 50,
                      tol: float | None = None, return_gamma: bool = False,
                      return_info: bool = False,
                      ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor] | EntropyNormalization:
    """Power-transform ``p`` so that its entropy equals ``target``: entropy normalisation.

    Finds the total exponent :math:`\\Gamma > 0` with
    :math:`\\mathcal H(\\mathrm{softmax}(\\Gamma z)) = \\mathcal H^*` for the logits
    :math:`z = \\log p`, and returns :math:`\\tilde p = \\mathrm{softmax}(\\Gamma z)`
    (chapter 05: ``c05-eq-power``; Newton's method in :math:`\\Gamma`, theorem
    ``c05-thm-newton``). :math:`\\mathcal H(\\Gamma)` is strictly decreasing (theorem
    ``c05-thm-dh``), so the root is unique; it exists exactly when :math:`\\log k_{\\max} < \\mathcal H^* <
    \\log|\\mathrm{supp}\\,p|` (``c05-eq-limits``, see :func:`entropy_range`).

    The methods:

    ``"safeguarded_newton"`` (default)
        Newton's method in :math:`\\Gamma`, started at :math:`\\Gamma = 1`, on the
        equation :math:`\\log(\\mathcal H(\\Gamma) - \\log k_{\\max}) =
        \\log(\\mathcal H^* - \\log k_{\\max})` (the logarithm straightens the exponential
        tail at large :math:`\\Gamma`), with :math:`\\mathcal H' = -\\Gamma\\,
        \\mathrm{Var}(z)` (theorem ``c05-thm-dh``). Every evaluation narrows a bracket
        :math:`[\\Gamma_{lo}, \\Gamma_{hi}] \\subset [0, \\infty]`; a Newton step that
        leaves it, or that follows a step which did not halve
        :math:`|\\mathcal H - \\mathcal H^*|`, is replaced by growth (doubling, then
        squaring, while there is no upper end) or by bisection (geometric when
        :math:`\\Gamma_{lo} > 0`). All in log space, on the support only.
    ``"bisect"``
        The same bracket with bisection only (a slow reference).
    ``"brentq"``
        The reference: :func:`scipy.optimize.brentq` on :math:`\\mathcal H(\\Gamma) -
        \\mathcal H^*` over :math:`[0, b]` (:math:`b` doubled from 1 until it brackets),
        one distribution at a time in NumPy float64 on the CPU, to
        :math:`\\Gamma` within 4 machine epsilons. Slow; for checks and benchmarks.
    ``"post_newton"``
        The post's iteration (``c05-eq-post-iteration``) literally, on probabilities, stopped per distribution
        once within ``tol``. It breaks down on zeros, underflow and uniform inputs (see
        :func:`post_newton_trace`); then :class:`FloatingPointError` is raised.

    Parameters
    ----------
    p
        Probabilities along ``dim`` (non-negative, rows summing to 1), float32/float64.
    logits
        Logits instead of ``p`` (``-inf`` for probability 0). Give exactly one of the two.
    target
        Target entropy :math:`\\mathcal H^* \\ge 0` in nats; a float or a tensor that
        broadcasts against the batch shape (the input's shape without ``dim``).
    dim
        The axis holding the distribution (size at least 2).
    method
        ``"safeguarded_newton"``, ``"bisect"``, ``"brentq"`` or ``"post_newton"``.
    max_iter
        Most entropy evaluations per distribution, a positive int.
    tol
        Stop when :math:`|\\mathcal H(\\tilde p) - \\mathcal H^*| \\le` ``tol`` (nats);
        positive and finite. Default ``1e-12`` for float64 and ``1e-5`` for float32; the
        returned :math:`\\Gamma` is then accurate to about ``tol`` divided by
        :math:`\\mathrm{Var}(\\Gamma z)` (relative). Not used by ``"brentq"``.
    return_gamma
        Also return :math:`\\Gamma` (tuple ``(probs, gamma)``).
    return_info
        Return an :class:`EntropyNormalization` (probs, gamma, iterations). Not together
        with ``return_gamma``.

    Returns
    -------
    torch.Tensor or tuple or EntropyNormalization
        :math:`\\tilde p`, same shape, dtype and device as the input.

    Raises
    ------
    TypeError
        On non-floating inputs or a non-real ``target``.
    ValueError
        On invalid ``p``/``logits`` (NaN/Inf, negative, rows not summing to 1, ``dim``
        of size < 2), neither or both of ``p`` and ``logits``, a negative or non-finite
        target, a target outside :math:`(\\log k_{\\max}, \\log|\\mathrm{supp}|)` (for a
        distribution constant on its support only :math:`\\mathcal H^* =
        \\log|\\mathrm{supp}|` within ``tol`` is accepted, and returns it unchanged with
        :math:`\\Gamma = 1`), a target whose exponent would exceed the floating-point range
        (the two largest logits differing by less than ~1e-300 times max(1, the spread of
        the logits)), an unknown ``method``, or bad
        ``max_iter``/``tol``/flags.
    RuntimeError
        If a safeguarded method does not converge within ``max_iter`` evaluations.
    FloatingPointError
        If ``method="post_newton"`` produces NaN/Inf or does not converge.
    """
    if method not in _METHODS:
        raise ValueError(f"method={method!r}; expected one of {list(_METHODS)}")
    max_iter = _check_count(max_iter, "max_iter")
    if return_gamma and return_info:
        raise ValueError("give at most one of return_gamma=True and return_info=True")
    z, d = _logits_of(p, logits, dim)
    dtype, device = z.dtype, z.device
    if tol is None:
        tol = 1e-12 if dtype == torch.float64 else 1e-5
    if isinstance(tol, bool) or not isinstance(tol, (int, float, np.floating, np.integer)) \
            or not math.isfinite(tol) or tol <= 0:
        raise ValueError(f"tol={tol!r} must be a positive finite number")
    tol = float(tol)
    tgt = _gamma_tensor(target, z, "target")
    batch = z.shape[:-1]
    try:
        tgt = torch.broadcast_to(tgt, batch)
    except RuntimeError as exc:
        raise ValueError(
            f"target of shape {tuple(tgt.shape)} does not broadcast against the batch shape {tuple(batch)}"
        ) from exc
    if bool((tgt < 0).any()):
        raise ValueError(f"target has negative values (min {float(tgt.min()):.4g}); an entropy is >= 0")

    n = z.shape[-1]
    zf, supp = _prepare(z.reshape(-1, n))
    tgt = tgt.reshape(-1)
    lo_h, hi_h = _range(zf, supp)
    const = lo_h == hi_h
    bad_const = const & ((tgt - hi_h).abs() > tol)
    bad = (~const & ((tgt <= lo_h) | (tgt >= hi_h))) | bad_const
    if bool(bad.any()):
        i = int(torch.nonzero(bad)[0])
        if bool(const[i]):
            why = (f"that distribution is constant on its support, so its entropy is "
                   f"log|supp| = {float(hi_h[i]):.6g} for every exponent")
        else:
            why = (f"the attainable range of that distribution is the open interval "
                   f"(log k_max, log|supp|) = ({float(lo_h[i]):.6g}, {float(hi_h[i]):.6g})")
        raise ValueError(
            f"target is unattainable for {int(bad.sum())} distribution(s); first at flat index {i}: "
            f"target {float(tgt[i]):.6g}, but {why}"
        )

    if method == "post_newton":
        gam, probs, iters = _solve_post(zf, supp, tgt, const, tol, max_iter)
    elif method == "brentq":
        gam, iters = _solve_brentq(zf, supp, tgt, const, max_iter)
        probs = _probs_solver(zf, None if bool(supp.all()) else supp, gam)
    else:
        gam, iters = _solve_bracketed(zf, supp, tgt, lo_h, const, tol, max_iter,
                                      newton=method == "safeguarded_newton")
        probs = _probs_solver(zf, None if bool(supp.all()) else supp, gam)
    probs = probs.reshape(*batch, n).movedim(-1, d).to(dtype=dtype, device=device)
    gam = gam.reshape(batch)
    if return_info:
        return EntropyNormalization(probs, gam, iters.reshape(batch))
    if return_gamma:
        return probs, gam
    return probs


def _eval_solver(zf: torch.Tensor, supp: torch.Tensor | None, g: torch.Tensor,
                 ) -> tuple[torch.Tensor, torch.Tensor]:
    """Entropy :math:`H` and :math:`W = \\mathrm{Var}(g z)` under ``softmax(g z)``, ``g > 0``.

    With :math:`a = g z` (``max zf = 0``, ``g > 0``), :math:`e_i = e^{a_i} \\le 1` with one
    :math:`e_i = 1`, so :math:`s = \\sum e_i \\in [1, n]` neither overflows nor underflows,
    and :math:`H = \\log s - E[a]` is a sum of two non-negative terms (no cancellation).
    The variance is taken of the scaled logits :math:`a`, which are of order one where the
    root lies, so it does not underflow even when the top logits differ by 1e-300; it uses
    :math:`E[a^2] - E[a]^2` and only sets the Newton step (convergence is judged on
    :math:`H` itself). Two temporaries of the size of ``zf``.
    """
    a = torch.mul(zf, g.unsqueeze(-1))
    e = torch.exp(a)
    if supp is not None:
        e.masked_fill_(~supp, 0.0)
    s = e.sum(-1)
    e.mul_(a)
    m = e.sum(-1) / s
    e.mul_(a)
    w = e.sum(-1) / s - m * m
    return torch.log(s) - m, w


def _probs_solver(zf: torch.Tensor, supp: torch.Tensor | None, g: torch.Tensor) -> torch.Tensor:
    """``softmax(g z)`` on the support, for ``g > 0`` (see :func:`_eval_solver`)."""
    e = torch.mul(zf, g.unsqueeze(-1))
    e.exp_()
    if supp is not None:
        e.masked_fill_(~supp, 0.0)
    return e.div_(e.sum(-1, keepdim=True))


def _solve_bracketed(zf: torch.Tensor, supp: torch.Tensor, tgt: torch.Tensor, lo_h: torch.Tensor,
                     const: torch.Tensor, tol: float, max_iter: int, newton: bool,
                     ) -> tuple[torch.Tensor, torch.Tensor]:
    """Bracketed (safeguarded Newton, or bisection only) solve for Gamma on the rows of ``zf``."""
    rows = zf.shape[0]
    dt, dev = zf.dtype, zf.device
    mask = None if bool(supp.all()) else supp
    gam = torch.ones(rows, dtype=dt, device=dev)
    iters = torch.zeros(rows, dtype=torch.int64, device=dev)
    # largest exponent for which g * z stays finite
    g_max = torch.finfo(dt).max / 4 / torch.clamp(-zf.amin(-1), min=1.0)
    active = torch.nonzero(~const).squeeze(-1)
    g = gam[active]
    lo = torch.zeros_like(g)  # bracket [lo, hi] of the root, in Gamma
    hi = torch.full_like(g, math.inf)
    t_act, lo_act, cap = tgt[active], lo_h[active], g_max[active]
    log_excess_t = torch.log(t_act - lo_act)
    prev_err = torch.full_like(g, math.inf)  # |H - H*| at the previous evaluation
    for k in range(1, max_iter + 1):
        if active.numel() == 0:
            break
        if active.numel() == rows:
            zs, ss = zf, mask
        else:
            zs, ss = zf[active], None if mask is None else mask[active]
        h, w = _eval_solver(zs, ss, g)
        f = h - t_act
        done = f.abs() <= tol
        gam[active] = g
        iters[active] = k
        above = f > 0  # entropy still too high: the root lies at a larger Gamma
        lo = torch.where(above, g, lo)
        hi = torch.where(above, hi, g)
        stuck = above & (g >= cap)
        if bool(stuck.any()):
            raise ValueError(
                f"target is unattainable in floating point for {int(stuck.sum())} distribution(s): "
                f"it needs an exponent beyond the floating-point range of {dt} (the two largest "
                f"logits differ by less than ~1e-300 times max(1, their spread)); choose a larger target"
            )
        if newton:
            # Newton in Gamma on log(H - H_inf) = log(H* - H_inf), with dH/dGamma = -W/Gamma (chapter 05, c05-thm-dh);
            # rejected when it leaves the bracket, or when the last step did not halve |H - H*|
            # (Newton can cycle between the two sides of the root without converging)
            excess = h - lo_act
            cand = g * (1.0 + (torch.log(excess) - log_excess_t) * excess / w)
            ok = (torch.isfinite(cand) & (cand > lo) & (cand < hi) & (cand <= cap)
                  & (f.abs() <= 0.5 * prev_err))
            prev_err = f.abs()
        else:
            cand, ok = g, torch.zeros_like(done)
        grow = torch.minimum(lo * torch.clamp(lo, min=2.0), cap)  # x2, then squaring
        fallback = torch.where(
            torch.isinf(hi), grow,
            torch.where(lo > 0, torch.sqrt(lo) * torch.sqrt(hi), 0.5 * hi),
        )
        g = torch.where(ok, cand, fallback)
        if bool(done.any()):
            keep = ~done
            active, g, lo, hi, cap = active[keep], g[keep], lo[keep], hi[keep], cap[keep]
            prev_err = prev_err[keep]
            t_act, lo_act, log_excess_t = t_act[keep], lo_act[keep], log_excess_t[keep]
    if active.numel() > 0:
        raise RuntimeError(
            f"entropy_normalize did not converge for {active.numel()} distribution(s) within "
            f"max_iter={max_iter} evaluations (tol={tol:g}); raise max_iter or tol"
        )
    return gam, iters


def _solve_brentq(zf: torch.Tensor, supp: torch.Tensor, tgt: torch.Tensor, const: torch.Tensor,
                  max_iter: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Reference solve with :func:`scipy.optimize.brentq`, one row at a time (NumPy float64)."""
    import scipy.optimize

    z_np = zf.detach().to("cpu", torch.float64).numpy()
    s_np = supp.detach().cpu().numpy()
    t_np = tgt.detach().to("cpu", torch.float64).numpy()
    c_np = const.detach().cpu().numpy()
    gam = np.ones(len(z_np))
    iters = np.ones(len(z_np), dtype=np.int64)
    big = np.finfo(np.float64).max / 4
    for i in range(len(z_np)):
        if c_np[i]:
            continue
        zr = z_np[i][s_np[i]]
        t = float(t_np[i])

        def f(g: float, zr: np.ndarray = zr, t: float = t) -> float:
            e = np.exp(g * zr)
            s = e.sum()
            return math.log(s) - g * float(e @ zr) / s - t

        b, calls = 1.0, 1
        cap = big / max(1.0, float(-zr.min()))
        while f(b) > 0:
            if b >= cap:
                raise ValueError(
                    f"target is unattainable in floating point for the distribution at flat "
                    f"index {i}: it needs an exponent beyond the float64 range"
                )
            b, calls = min(2.0 * b, cap), calls + 1
        root, res = scipy.optimize.brentq(f, 0.0, b, xtol=1e-300, rtol=4 * np.finfo(float).eps,
                                          maxiter=max(max_iter, 100), full_output=True,
                                          disp=False)
        if not res.converged:
            raise RuntimeError(f"brentq did not converge for the distribution at flat index {i}")
        gam[i], iters[i] = root, calls + res.function_calls
    return (torch.as_tensor(gam, dtype=zf.dtype, device=zf.device),
            torch.as_tensor(iters, device=zf.device))


def _solve_post(zf: torch.Tensor, supp: torch.Tensor, tgt: torch.Tensor, const: torch.Tensor,
                tol: float, max_iter: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The post's iteration (chapter 05, ``c05-eq-post-iteration``) on probabilities, stopped per row within ``tol``."""
    rows = zf.shape[0]
    dt, dev = zf.dtype, zf.device
    neg_inf = torch.full((), -math.inf, dtype=dt, device=dev)
    cur = torch.softmax(torch.where(supp, zf, neg_inf), dim=-1)
    gam = torch.ones(rows, dtype=dt, device=dev)
    iters = torch.ones(rows, dtype=torch.int64, device=dev)
    done = const.clone()
    for k in range(1, max_iter + 1):
        logp = torch.log(cur)
        h = -(cur * logp).sum(-1)
        newly = ~done & ((h - tgt).abs() <= tol)
        iters = torch.where(newly, torch.full_like(iters, k), iters)
        done = done | newly
        if bool(done.all()) or k == max_iter:
            break
        step = 1 + (tgt - h) / (h**2 - (cur * logp**2).sum(-1))
        step = torch.where(done, torch.ones_like(step), step)
        nxt = cur ** step.unsqueeze(-1)
        cur = torch.where(done.unsqueeze(-1), cur, nxt / nxt.sum(-1, keepdim=True))
        gam = gam * step
    finite = torch.isfinite(cur).all(-1) & torch.isfinite(gam)
    if not bool((done & finite).all()):
        n_nan = int((~finite).sum())
        n_unconv = int((finite & ~done).sum())
        raise FloatingPointError(
            f"the post's iteration (method='post_newton') broke down: {n_nan} distribution(s) "
            f"became NaN/Inf (zeros in p, underflow of p**gamma, or a uniform p) and {n_unconv} "
            f"did not reach tol={tol:g} in max_iter={max_iter}; use method='safeguarded_newton'"
        )
    return gam, cur, iters
