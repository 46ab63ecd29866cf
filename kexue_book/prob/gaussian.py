"""Entropy, KL divergence, Bhattacharyya/Hellinger and 2-Wasserstein distances of Gaussians.

Closed forms for multivariate normal distributions :math:`p = N(\\mu_p, \\Sigma_p)` and
:math:`q = N(\\mu_q, \\Sigma_q)` in :math:`\\mathbb{R}^d` (chapter *04 · Gaussian
divergences*). Every function is batched over leading dimensions (means ``(..., d)``,
covariances ``(..., d, d)``, batch shapes broadcast), works on any device, and keeps the
floating dtype it is given; array-likes that are not tensors become ``float64``.

Equations implemented (labels of the chapter's equations in parentheses):

* entropy :math:`\\tfrac d2(1+\\log 2\\pi)+\\tfrac12\\log\\det\\Sigma` (``c04-eq-entropy``),
  :func:`gaussian_entropy`;
* :math:`KL(p\\|q)` (``c04-eq-kl``), :func:`gaussian_kl`;
* Bhattacharyya distance (``c04-eq-bd``) and squared Hellinger distance :math:`1-e^{-BD}`,
  :func:`gaussian_bhattacharyya`, :func:`gaussian_hellinger_sq`;
* :math:`W_2^2` in its three equivalent forms (``c04-eq-w2-v1``, ``c04-eq-w2-v2`` and the nuclear norm),
  :func:`trace_sqrt_product`, :func:`gaussian_w2_sq`;
* the optimal transport map :math:`T(x)=Ax+b` (``c04-eq-map``), :func:`gaussian_w2_map`;
* helpers: :func:`psd_sqrt`, :func:`sample_gaussian`, :func:`random_orthogonal`,
  :func:`random_spd`.

Bad input (shape mismatch, non-square or asymmetric covariance, NaN/Inf, a covariance
that is not positive definite where the formula needs it, integer or complex dtypes)
raises :class:`ValueError` or :class:`TypeError` naming the argument.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import torch

from kexue_book._checks import as_float_tensor, check_generator, check_int

__all__ = [
    "gaussian_entropy",
    "gaussian_kl",
    "gaussian_bhattacharyya",
    "gaussian_hellinger_sq",
    "psd_sqrt",
    "trace_sqrt_product",
    "gaussian_w2_sq",
    "gaussian_w2_map",
    "sample_gaussian",
    "random_orthogonal",
    "random_spd",
]

W2Method = Literal["eigh", "frechet", "nuclear"]
_W2_METHODS: tuple[str, ...] = ("eigh", "frechet", "nuclear")
_FLOATS = (torch.float32, torch.float64)


# --------------------------------------------------------------------------- validation
def _tol(dtype: torch.dtype) -> float:
    """Relative tolerance for symmetry and positive semi-definiteness."""
    return max(1e-8, 100.0 * torch.finfo(dtype).eps)


_as_tensor = as_float_tensor  # shared check, see kexue_book._checks


def _common(tensors: Sequence[torch.Tensor], names: Sequence[str]) -> list[torch.Tensor]:
    """Bring tensors to one dtype (promoted) and check they share a device."""
    dev = tensors[0].device
    for t, n in zip(tensors, names):
        if t.device != dev:
            raise ValueError(f"{n} is on {t.device} but {names[0]} is on {dev}; move them to one device")
    dtype = tensors[0].dtype
    for t in tensors[1:]:
        dtype = torch.promote_types(dtype, t.dtype)
    return [t.to(dtype) for t in tensors]


def _check_cov(cov: torch.Tensor, name: str) -> torch.Tensor:
    """Shape (..., d, d) with d >= 1, finite, symmetric within tolerance; returns it symmetrised."""
    if cov.ndim < 2 or cov.shape[-1] != cov.shape[-2]:
        raise ValueError(f"{name} must have shape (..., d, d) (square); got {tuple(cov.shape)}")
    if cov.shape[-1] == 0:
        raise ValueError(f"{name} has dimension d=0; expected d >= 1")
    if not bool(torch.isfinite(cov).all()):
        raise ValueError(f"{name} contains NaN or Inf")
    scale = cov.abs().amax(dim=(-2, -1))
    asym = (cov - cov.mT).abs().amax(dim=(-2, -1))
    if bool((asym > _tol(cov.dtype) * scale).any()):
        worst = float((asym / scale.clamp_min(torch.finfo(cov.dtype).tiny)).max())
        raise ValueError(
            f"{name} is not symmetric: max |{name} - {name}^T| / max |{name}| = {worst:.3g} "
            f"exceeds the tolerance {_tol(cov.dtype):.1e}"
        )
    return 0.5 * (cov + cov.mT)


def _check_mean(mu: torch.Tensor, name: str, d: int, cov_name: str) -> torch.Tensor:
    if mu.ndim < 1 or mu.shape[-1] != d:
        raise ValueError(
            f"{name} must have shape (..., d) with d={d} to match {cov_name}; got {tuple(mu.shape)}"
        )
    if not bool(torch.isfinite(mu).all()):
        raise ValueError(f"{name} contains NaN or Inf")
    return mu


def _first_bad(mask: torch.Tensor) -> tuple[int, ...] | int:
    idx = torch.nonzero(mask)[0].tolist()
    return tuple(idx) if len(idx) != 1 else idx[0]


def _cholesky_pd(cov: torch.Tensor, name: str, what: str) -> torch.Tensor:
    """Cholesky factor of a covariance that must be positive definite."""
    L, info = torch.linalg.cholesky_ex(cov)
    bad = info > 0
    if bool(bad.any()):
        where = f" (batch index {_first_bad(bad)})" if bad.ndim else ""
        raise ValueError(
            f"{name} is not positive definite{where}: its Cholesky factorisation failed; "
            f"{what} needs strictly positive-definite covariances"
        )
    return L


def _check_psd(cov: torch.Tensor, name: str) -> None:
    """Positive semi-definite within tolerance: Cholesky of cov + tol * scale * I succeeds."""
    scale = cov.abs().amax(dim=(-2, -1))
    scale = torch.where(scale > 0, scale, torch.ones_like(scale))
    eye = torch.eye(cov.shape[-1], dtype=cov.dtype, device=cov.device)
    _, info = torch.linalg.cholesky_ex(cov + (_tol(cov.dtype) * scale)[..., None, None] * eye)
    bad = info > 0
    if bool(bad.any()):
        where = f" (batch index {_first_bad(bad)})" if bad.ndim else ""
        raise ValueError(
            f"{name} is not positive semi-definite{where}: it has an eigenvalue below "
            f"-{_tol(cov.dtype):.1e} * max|{name}|"
        )


def _pair(
    mu_p: Any, cov_p: Any, mu_q: Any, cov_q: Any
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Validate two Gaussians and broadcast them to one batch shape."""
    names = ("mu_p", "cov_p", "mu_q", "cov_q")
    ts = [_as_tensor(x, n) for x, n in zip((mu_p, cov_p, mu_q, cov_q), names)]
    mp, cp, mq, cq = _common(ts, names)
    cp = _check_cov(cp, "cov_p")
    cq = _check_cov(cq, "cov_q")
    if cp.shape[-1] != cq.shape[-1]:
        raise ValueError(
            f"p and q live in different dimensions: cov_p is {cp.shape[-1]}x{cp.shape[-1]}, "
            f"cov_q is {cq.shape[-1]}x{cq.shape[-1]}"
        )
    d = cp.shape[-1]
    mp = _check_mean(mp, "mu_p", d, "cov_p")
    mq = _check_mean(mq, "mu_q", d, "cov_q")
    try:
        batch = torch.broadcast_shapes(mp.shape[:-1], cp.shape[:-2], mq.shape[:-1], cq.shape[:-2])
    except RuntimeError as exc:
        raise ValueError(
            "batch shapes do not broadcast: mu_p "
            f"{tuple(mp.shape)}, cov_p {tuple(cp.shape)}, mu_q {tuple(mq.shape)}, cov_q {tuple(cq.shape)}"
        ) from exc
    return (
        mp.expand(*batch, d),
        cp.expand(*batch, d, d),
        mq.expand(*batch, d),
        cq.expand(*batch, d, d),
    )


def _logdet_from_chol(L: torch.Tensor) -> torch.Tensor:
    return 2.0 * torch.log(torch.diagonal(L, dim1=-2, dim2=-1)).sum(-1)


def _drop_roundoff(lam: torch.Tensor) -> torch.Tensor:
    """Zero the eigenvalues of a PSD matrix that are round-off: below d * eps * lambda_max.

    The square root is not Lipschitz at 0, so an exact zero eigenvalue computed as 1e-16
    would otherwise contribute 1e-8 to a root; eigenvalues this small are not resolved anyway.
    """
    cut = lam.shape[-1] * torch.finfo(lam.dtype).eps * lam.amax(-1, keepdim=True).clamp_min(0.0)
    return torch.where(lam > cut, lam, torch.zeros_like(lam))


def _sym_sqrt_from_eigh(evals: torch.Tensor, evecs: torch.Tensor, power: float = 0.5) -> torch.Tensor:
    lam = _drop_roundoff(evals) ** power if power > 0 else evals ** power
    out = (evecs * lam[..., None, :]) @ evecs.mT
    return 0.5 * (out + out.mT)


_CUDA_CHUNK = 2048


def _chunked(fn: Any, x: torch.Tensor) -> Any:
    """Apply a batched linear-algebra ``fn`` to ``x`` (..., d, d) in chunks on CUDA.

    cuSOLVER's batched symmetric eigensolver, which torch uses for small matrices on CUDA,
    reserves about 0.5 MB of workspace per matrix and fails outright for batches of ~1e5;
    chunks of ``_CUDA_CHUNK`` matrices keep it to about 1 GB. On the CPU ``fn`` runs as is.
    """
    if x.device.type != "cuda" or x.ndim < 3 or x.shape[:-2].numel() <= _CUDA_CHUNK:
        return fn(x)
    batch = x.shape[:-2]
    flat = x.reshape(-1, *x.shape[-2:])
    parts = [fn(flat[i : i + _CUDA_CHUNK]) for i in range(0, flat.shape[0], _CUDA_CHUNK)]
    if isinstance(parts[0], torch.Tensor):
        out = torch.cat(parts)
        return out.reshape(*batch, *out.shape[1:])
    cols = [torch.cat(col) for col in zip(*parts)]
    return tuple(c.reshape(*batch, *c.shape[1:]) for c in cols)


def _eigh(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    return _chunked(torch.linalg.eigh, x)


def _eigvalsh(x: torch.Tensor) -> torch.Tensor:
    return _chunked(torch.linalg.eigvalsh, x)


# --------------------------------------------------------------------------- entropy, KL, BD
def gaussian_entropy(cov: Any) -> torch.Tensor:
    """Differential entropy of :math:`N(\\mu, \\Sigma)` in nats (chapter 04, ``c04-eq-entropy``).

    .. math:: \\mathcal H = \\tfrac d2 (1 + \\log 2\\pi) + \\tfrac12 \\log\\det\\Sigma,

    with :math:`\\log\\det\\Sigma` from a Cholesky factor. The mean does not enter.

    Parameters
    ----------
    cov
        Covariance, shape ``(..., d, d)``, symmetric positive definite.

    Returns
    -------
    torch.Tensor
        Entropies, shape ``(...)``.

    Raises
    ------
    ValueError
        If ``cov`` is not square, contains NaN/Inf, is asymmetric, or is not positive definite.
    TypeError
        If ``cov`` has an integer, boolean or complex dtype.
    """
    c = _check_cov(_as_tensor(cov, "cov"), "cov")
    L = _cholesky_pd(c, "cov", "the entropy")
    d = c.shape[-1]
    return 0.5 * d * (1.0 + math.log(2.0 * math.pi)) + 0.5 * _logdet_from_chol(L)


def gaussian_kl(mu_p: Any, cov_p: Any, mu_q: Any, cov_q: Any) -> torch.Tensor:
    """Kullback-Leibler divergence :math:`KL(p\\|q)` of two Gaussians (chapter 04, ``c04-eq-kl``).

    .. math::
        KL = \\tfrac12\\big[\\Delta^\\top\\Sigma_q^{-1}\\Delta - \\log\\det(\\Sigma_q^{-1}\\Sigma_p)
        + \\mathrm{Tr}(\\Sigma_q^{-1}\\Sigma_p) - d\\big], \\qquad \\Delta = \\mu_p - \\mu_q.

    No inverse is formed: with :math:`\\Sigma = LL^\\top` (Cholesky),
    :math:`\\mathrm{Tr}(\\Sigma_q^{-1}\\Sigma_p) = \\|L_q^{-1}L_p\\|_F^2` and
    :math:`\\Delta^\\top\\Sigma_q^{-1}\\Delta = \\|L_q^{-1}\\Delta\\|^2` by triangular solves.
    The result is clamped at 0 to absorb round-off.

    Parameters
    ----------
    mu_p, cov_p
        Mean ``(..., d)`` and covariance ``(..., d, d)`` of :math:`p` (positive definite).
    mu_q, cov_q
        Mean and covariance of :math:`q` (positive definite). Batch shapes broadcast.

    Returns
    -------
    torch.Tensor
        :math:`KL(p\\|q) \\ge 0` in nats, shape: the broadcast batch shape.

    Raises
    ------
    ValueError
        On shape mismatches, NaN/Inf, asymmetric or non-positive-definite covariances.
    TypeError
        On integer, boolean or complex dtypes.
    """
    mp, cp, mq, cq = _pair(mu_p, cov_p, mu_q, cov_q)
    Lp = _cholesky_pd(cp, "cov_p", "the KL divergence")
    Lq = _cholesky_pd(cq, "cov_q", "the KL divergence")
    d = cp.shape[-1]
    M = torch.linalg.solve_triangular(Lq, Lp, upper=False)
    z = torch.linalg.solve_triangular(Lq, (mp - mq)[..., None], upper=False)[..., 0]
    trace = M.square().sum((-2, -1))
    maha = z.square().sum(-1)
    logdet_ratio = _logdet_from_chol(Lp) - _logdet_from_chol(Lq)
    return (0.5 * (maha - logdet_ratio + trace - d)).clamp_min(0.0)


def gaussian_bhattacharyya(mu_p: Any, cov_p: Any, mu_q: Any, cov_q: Any) -> torch.Tensor:
    """Bhattacharyya distance :math:`BD = -\\log\\int\\sqrt{p q}` of two Gaussians (chapter 04, ``c04-eq-bd``).

    .. math::
        BD = \\tfrac12 \\log\\frac{\\det\\Sigma}{\\sqrt{\\det\\Sigma_p\\det\\Sigma_q}}
        + \\tfrac18 \\Delta^\\top\\Sigma^{-1}\\Delta,
        \\qquad \\Sigma = \\tfrac12(\\Sigma_p + \\Sigma_q),\\ \\Delta = \\mu_p - \\mu_q.

    Log-determinants and the Mahalanobis term use Cholesky factors. Symmetric in
    :math:`p, q`; clamped at 0 to absorb round-off.

    Parameters
    ----------
    mu_p, cov_p, mu_q, cov_q
        Means ``(..., d)`` and positive-definite covariances ``(..., d, d)``; batch shapes broadcast.

    Returns
    -------
    torch.Tensor
        :math:`BD \\ge 0`, shape: the broadcast batch shape.

    Raises
    ------
    ValueError
        On shape mismatches, NaN/Inf, asymmetric or non-positive-definite covariances.
    TypeError
        On integer, boolean or complex dtypes.
    """
    mp, cp, mq, cq = _pair(mu_p, cov_p, mu_q, cov_q)
    Lp = _cholesky_pd(cp, "cov_p", "the Bhattacharyya distance")
    Lq = _cholesky_pd(cq, "cov_q", "the Bhattacharyya distance")
    L = torch.linalg.cholesky(0.5 * (cp + cq))  # PD as the mean of two PD matrices
    z = torch.linalg.solve_triangular(L, (mp - mq)[..., None], upper=False)[..., 0]
    logdet_term = 0.5 * _logdet_from_chol(L) - 0.25 * (_logdet_from_chol(Lp) + _logdet_from_chol(Lq))
    return (logdet_term + 0.125 * z.square().sum(-1)).clamp_min(0.0)


def gaussian_hellinger_sq(mu_p: Any, cov_p: Any, mu_q: Any, cov_q: Any) -> torch.Tensor:
    """Squared Hellinger distance :math:`H^2 = \\tfrac12\\int(\\sqrt p - \\sqrt q)^2 = 1 - e^{-BD}`.

    Computed as ``-expm1(-BD)`` from :func:`gaussian_bhattacharyya`, which keeps full relative
    precision when the two Gaussians are close (:math:`H^2 \\approx BD`).

    Parameters
    ----------
    mu_p, cov_p, mu_q, cov_q
        As in :func:`gaussian_bhattacharyya`.

    Returns
    -------
    torch.Tensor
        :math:`H^2 \\in [0, 1)`, shape: the broadcast batch shape.

    Raises
    ------
    ValueError, TypeError
        As :func:`gaussian_bhattacharyya`.
    """
    return -torch.expm1(-gaussian_bhattacharyya(mu_p, cov_p, mu_q, cov_q))


# --------------------------------------------------------------------------- square roots, W2
def psd_sqrt(S: Any) -> torch.Tensor:
    """The positive semi-definite square root :math:`S^{1/2}` of a symmetric PSD matrix.

    With :math:`S = V\\,\\mathrm{diag}(\\lambda)\\,V^\\top` (``eigh``),
    :math:`S^{1/2} = V\\,\\mathrm{diag}(\\sqrt{\\lambda})\\,V^\\top`: the unique symmetric
    PSD matrix whose square is :math:`S`. Eigenvalues at round-off level (below
    :math:`d\\,\\epsilon\\,\\lambda_{\\max}`, negative ones included) are set to 0 first, so an
    exactly singular :math:`S` keeps its null space instead of gaining :math:`\\sqrt{\\epsilon}`-size
    noise.

    Parameters
    ----------
    S
        Symmetric positive semi-definite matrices, shape ``(..., d, d)``.

    Returns
    -------
    torch.Tensor
        :math:`S^{1/2}`, same shape, symmetric.

    Raises
    ------
    ValueError
        If ``S`` is not square, contains NaN/Inf, is asymmetric, or has an eigenvalue below
        :math:`-\\mathrm{tol}\\cdot\\max|S|` (tol :math:`= 10^{-8}` in float64).
    TypeError
        On integer, boolean or complex dtypes.
    """
    s = _check_cov(_as_tensor(S, "S"), "S")
    _check_psd(s, "S")
    evals, evecs = _eigh(s)
    return _sym_sqrt_from_eigh(evals, evecs)


def _check_method(method: Any) -> str:
    if not isinstance(method, str) or method not in _W2_METHODS:
        raise ValueError(f"method={method!r}: expected one of {list(_W2_METHODS)}")
    return method


def _root_factor(cp: torch.Tensor) -> torch.Tensor:
    """A matrix F with F F^T = cp: the Cholesky factor where cp is PD, the PSD root elsewhere."""
    L, info = torch.linalg.cholesky_ex(cp)
    bad = info > 0
    if bool(bad.any()):
        ep, vp = _eigh(cp[bad])
        L = L.clone()
        L[bad] = _sym_sqrt_from_eigh(ep, vp)
    return L


def _trace_sqrt_product(cp: torch.Tensor, cq: torch.Tensor, method: str) -> torch.Tensor:
    """Tr((Sp^1/2 Sq Sp^1/2)^1/2) for validated, symmetrised PSD inputs of one batch shape."""
    if method == "frechet":
        lam = torch.linalg.eigvals(cp @ cq)
        return torch.sqrt(lam).real.sum(-1).to(cp.dtype)
    if method == "nuclear":
        ep, vp = _eigh(cp)
        eq, vq = _eigh(cq)
        sv = torch.linalg.svdvals(_sym_sqrt_from_eigh(ep, vp) @ _sym_sqrt_from_eigh(eq, vq))
        return torch.where(sv > sv.shape[-1] * torch.finfo(sv.dtype).eps * sv[..., :1], sv, 0.0).sum(-1)
    # F^T cq F with F F^T = cp has the eigenvalues of cp cq, hence of cp^1/2 cq cp^1/2.
    F = _root_factor(cp)
    m = F.mT @ cq @ F
    lam = _eigvalsh(0.5 * (m + m.mT))
    return _drop_roundoff(lam).sqrt().sum(-1)


def trace_sqrt_product(cov_p: Any, cov_q: Any, method: W2Method = "eigh") -> torch.Tensor:
    """The cross term :math:`\\mathrm{Tr}\\big((\\Sigma_p^{1/2}\\Sigma_q\\Sigma_p^{1/2})^{1/2}\\big)`
    of :math:`W_2^2` (chapter 04, ``c04-eq-w2-v1``, ``c04-eq-w2-v2``, ``c04-eq-forms-equal``), by one of three equal routes.

    * ``"eigh"`` (default): eigenvalues of the symmetric PSD matrix
      :math:`\\Sigma_p^{1/2}\\Sigma_q\\Sigma_p^{1/2}`, clamped at 0, square-rooted and summed
      (``c04-eq-w2-v1``). Any factor :math:`F F^\\top = \\Sigma_p` gives the same eigenvalues
      (:math:`F^\\top\\Sigma_q F` and :math:`\\Sigma_q F F^\\top` share their eigenvalues), so the Cholesky
      factor is used where :math:`\\Sigma_p` is positive definite and the PSD root elsewhere.
    * ``"frechet"``: :math:`\\mathrm{Re}\\,\\mathrm{Tr}\\big((\\Sigma_p\\Sigma_q)^{1/2}\\big)` with the
      principal root, i.e. the sum of the principal square roots of the eigenvalues of the
      non-symmetric product :math:`\\Sigma_p\\Sigma_q` (``c04-eq-w2-v2``, the FID form). Intended for
      positive-definite inputs: with a singular covariance the product can be defective and
      its computed zero eigenvalues, hence their roots, lose accuracy.
    * ``"nuclear"``: the nuclear norm :math:`\\|\\Sigma_p^{1/2}\\Sigma_q^{1/2}\\|_*` (sum of
      singular values).

    The value is symmetric in :math:`p, q`.

    Parameters
    ----------
    cov_p, cov_q
        Symmetric positive semi-definite matrices ``(..., d, d)``; batch shapes broadcast.
    method
        ``"eigh"``, ``"frechet"`` or ``"nuclear"``.

    Returns
    -------
    torch.Tensor
        The trace, shape: the broadcast batch shape.

    Raises
    ------
    ValueError
        On an unknown ``method``, mismatched shapes, NaN/Inf, asymmetric or non-PSD input.
    TypeError
        On integer, boolean or complex dtypes.
    """
    method = _check_method(method)
    d_p = _as_tensor(cov_p, "cov_p")
    d_q = _as_tensor(cov_q, "cov_q")
    zero_p = torch.zeros(d_p.shape[-1:], dtype=d_p.dtype, device=d_p.device)
    zero_q = torch.zeros(d_q.shape[-1:], dtype=d_q.dtype, device=d_q.device)
    _, cp, _, cq = _pair(zero_p, d_p, zero_q, d_q)
    _check_psd(cp, "cov_p")
    _check_psd(cq, "cov_q")
    return _trace_sqrt_product(cp, cq, method)


def gaussian_w2_sq(
    mu_p: Any, cov_p: Any, mu_q: Any, cov_q: Any, method: W2Method = "eigh"
) -> torch.Tensor:
    """Squared 2-Wasserstein distance between two Gaussians (chapter 04, ``c04-eq-w2-v1`` and ``c04-eq-w2-v2``).

    .. math::
        W_2^2 = \\|\\mu_p - \\mu_q\\|^2 + \\mathrm{Tr}\\,\\Sigma_p + \\mathrm{Tr}\\,\\Sigma_q
        - 2\\,\\mathrm{Tr}\\big((\\Sigma_p^{1/2}\\Sigma_q\\Sigma_p^{1/2})^{1/2}\\big),

    the cross term computed by :func:`trace_sqrt_product` with ``method``. Covariances may be
    singular (positive semi-definite). The result is clamped at 0 to absorb round-off; when
    :math:`p \\approx q` its absolute error is a few ulps of :math:`\\mathrm{Tr}\\,\\Sigma_p`.

    Parameters
    ----------
    mu_p, cov_p
        Mean ``(..., d)`` and PSD covariance ``(..., d, d)`` of :math:`p`.
    mu_q, cov_q
        Mean and PSD covariance of :math:`q`. Batch shapes broadcast.
    method
        ``"eigh"`` (default), ``"frechet"`` or ``"nuclear"``; see :func:`trace_sqrt_product`.

    Returns
    -------
    torch.Tensor
        :math:`W_2^2 \\ge 0`, shape: the broadcast batch shape.

    Raises
    ------
    ValueError
        On an unknown ``method``, shape mismatches, NaN/Inf, asymmetric or non-PSD covariances.
    TypeError
        On integer, boolean or complex dtypes.
    """
    method = _check_method(method)
    mp, cp, mq, cq = _pair(mu_p, cov_p, mu_q, cov_q)
    _check_psd(cp, "cov_p")
    _check_psd(cq, "cov_q")
    cross = _trace_sqrt_product(cp, cq, method)
    tr = torch.diagonal(cp, dim1=-2, dim2=-1).sum(-1) + torch.diagonal(cq, dim1=-2, dim2=-1).sum(-1)
    return ((mp - mq).square().sum(-1) + tr - 2.0 * cross).clamp_min(0.0)


def gaussian_w2_map(
    mu_p: Any, cov_p: Any, mu_q: Any, cov_q: Any
) -> tuple[torch.Tensor, torch.Tensor]:
    """The optimal transport map :math:`T(x) = Ax + b` from :math:`p` to :math:`q` (chapter 04, ``c04-eq-map``).

    .. math::
        A = \\Sigma_p^{-1/2}\\big(\\Sigma_p^{1/2}\\Sigma_q\\Sigma_p^{1/2}\\big)^{1/2}\\Sigma_p^{-1/2},
        \\qquad b = \\mu_q - A\\mu_p .

    :math:`A` is symmetric PSD, :math:`A\\Sigma_pA = \\Sigma_q`, so :math:`T_\\# p = q`, and
    :math:`E_p\\|x - T(x)\\|^2 = W_2^2`. Apply it to row vectors as ``x @ A.mT + b``.

    Parameters
    ----------
    mu_p, cov_p
        Mean and covariance of the source :math:`p`; ``cov_p`` must be positive definite.
    mu_q, cov_q
        Mean and covariance of the target :math:`q`; ``cov_q`` may be singular (PSD).

    Returns
    -------
    A : torch.Tensor
        Shape ``(..., d, d)``, symmetric positive semi-definite.
    b : torch.Tensor
        Shape ``(..., d)``.

    Raises
    ------
    ValueError
        On shape mismatches, NaN/Inf, asymmetric covariances, ``cov_p`` not positive definite
        or ``cov_q`` not positive semi-definite.
    TypeError
        On integer, boolean or complex dtypes.
    """
    mp, cp, mq, cq = _pair(mu_p, cov_p, mu_q, cov_q)
    _cholesky_pd(cp, "cov_p", "the transport map (it inverts cov_p^(1/2))")
    _check_psd(cq, "cov_q")
    ep, vp = _eigh(cp)
    sp = _sym_sqrt_from_eigh(ep, vp)
    sp_inv = _sym_sqrt_from_eigh(ep, vp, power=-0.5)
    m = sp @ cq @ sp
    em, vm = _eigh(0.5 * (m + m.mT))
    A = sp_inv @ _sym_sqrt_from_eigh(em, vm) @ sp_inv
    A = 0.5 * (A + A.mT)
    b = mq - (A @ mp[..., None])[..., 0]
    return A, b


# --------------------------------------------------------------------------- sampling helpers
def _check_batch_shape(batch_shape: Any) -> tuple[int, ...]:
    if isinstance(batch_shape, (int, np.integer)) and not isinstance(batch_shape, bool):
        batch_shape = (batch_shape,)
    try:
        shape = tuple(batch_shape)
    except TypeError as exc:
        raise TypeError(f"batch_shape={batch_shape!r} must be a tuple of non-negative integers") from exc
    for s in shape:
        check_int(s, "batch_shape entry", 0)
    return tuple(int(s) for s in shape)


def sample_gaussian(
    mu: Any, cov: Any, n: int, *, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Draw ``n`` samples from :math:`N(\\mu, \\Sigma)` as :math:`x = \\mu + \\Sigma^{1/2} z`.

    Uses the PSD square root (:func:`psd_sqrt`), so singular covariances are allowed, and
    ``generator`` for reproducible draws on the covariance's device.

    Parameters
    ----------
    mu
        Mean, shape ``(..., d)``.
    cov
        Covariance, shape ``(..., d, d)``, symmetric PSD; batch shapes broadcast with ``mu``.
    n
        Number of samples (``>= 1``).
    generator
        A :class:`torch.Generator` on the same device type as ``cov``, or ``None``.

    Returns
    -------
    torch.Tensor
        Samples, shape ``(n, ..., d)``.

    Raises
    ------
    ValueError
        On shape mismatches, NaN/Inf, asymmetric or non-PSD ``cov``, ``n < 1`` or a generator
        on another device.
    TypeError
        On non-float dtypes, a non-integer ``n`` or a ``generator`` that is not a
        :class:`torch.Generator`.
    """
    n = check_int(n, "n", 1)
    m, c = _common([_as_tensor(mu, "mu"), _as_tensor(cov, "cov")], ("mu", "cov"))
    c = _check_cov(c, "cov")
    _check_psd(c, "cov")
    m = _check_mean(m, "mu", c.shape[-1], "cov")
    check_generator(generator, c.device, "the output is")
    try:
        batch = torch.broadcast_shapes(m.shape[:-1], c.shape[:-2])
    except RuntimeError as exc:
        raise ValueError(f"batch shapes of mu {tuple(m.shape)} and cov {tuple(c.shape)} do not broadcast") from exc
    evals, evecs = _eigh(c)
    root = _sym_sqrt_from_eigh(evals, evecs)
    d = c.shape[-1]
    z = torch.randn((n, *batch, d), generator=generator, dtype=c.dtype, device=c.device)
    return m + (root @ z[..., None])[..., 0]


def random_orthogonal(
    d: int,
    batch_shape: Sequence[int] | int = (),
    *,
    generator: torch.Generator | None = None,
    dtype: torch.dtype = torch.float64,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """Haar-distributed random orthogonal matrices (QR of a Gaussian matrix, signs fixed).

    The orthonormal factor of a Gaussian matrix, normalised so that R has a positive
    diagonal, is Haar distributed. On the CPU (and for a single matrix on CUDA) it comes from
    ``torch.linalg.qr``; for a batch on CUDA from a vectorised Gram-Schmidt with
    re-orthogonalisation, which computes the same factor without a per-matrix loop.

    Parameters
    ----------
    d
        Matrix size (``>= 1``).
    batch_shape
        Leading shape of the output.
    generator, dtype, device
        As for :func:`torch.randn`; ``dtype`` must be ``torch.float32`` or ``torch.float64``.

    Returns
    -------
    torch.Tensor
        Shape ``(*batch_shape, d, d)`` with :math:`O^\\top O = I`.

    Raises
    ------
    ValueError
        If ``d < 1``, a ``batch_shape`` entry is negative, or the generator is on another device.
    TypeError
        On a non-integer size or an unsupported ``dtype``.
    """
    d = check_int(d, "d", 1)
    shape = _check_batch_shape(batch_shape)
    if dtype not in _FLOATS:
        raise TypeError(f"dtype={dtype} must be torch.float32 or torch.float64")
    dev = torch.device(device) if device is not None else (
        generator.device if isinstance(generator, torch.Generator) else torch.device("cpu")
    )
    check_generator(generator, dev, "the output is")
    g = torch.randn((*shape, d, d), generator=generator, dtype=dtype, device=dev)
    if dev.type == "cuda" and len(shape) > 0 and math.prod(shape) > 1:
        return _gram_schmidt(g)
    q, r = torch.linalg.qr(g)
    sign = torch.sign(torch.diagonal(r, dim1=-2, dim2=-1))
    sign = torch.where(sign == 0, torch.ones_like(sign), sign)
    return q * sign[..., None, :]


def _gram_schmidt(g: torch.Tensor) -> torch.Tensor:
    """Orthonormalise the columns of ``g`` (..., d, d), vectorised over the batch.

    Classical Gram-Schmidt with one re-orthogonalisation ("twice is enough"): orthogonal
    to working precision for numerically full-rank ``g``. Gives the Q factor of the QR
    decomposition with a positive diagonal in R. Used on CUDA, where torch's batched QR
    factorises one matrix at a time (about 50 us each on an H100).
    """
    q = torch.empty_like(g)
    for j in range(g.shape[-1]):
        v = g[..., :, j : j + 1]
        if j:
            basis = q[..., :, :j]
            for _ in range(2):
                v = v - basis @ (basis.mT @ v)
        q[..., :, j : j + 1] = v / torch.linalg.vector_norm(v, dim=-2, keepdim=True)
    return q


def random_spd(
    d: int,
    batch_shape: Sequence[int] | int = (),
    *,
    cond: float = 10.0,
    scale: float = 1.0,
    generator: torch.Generator | None = None,
    dtype: torch.dtype = torch.float64,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """Random symmetric positive-definite matrices with a prescribed condition number.

    :math:`\\Sigma = O\\,\\mathrm{diag}(\\lambda)\\,O^\\top` with :math:`O` Haar-orthogonal
    (:func:`random_orthogonal`) and :math:`\\lambda_i = \\mathrm{scale}\\cdot
    \\mathrm{cond}^{-u_i}`, :math:`u_i` uniform on :math:`[0, 1]` except :math:`u_1 = 0`,
    :math:`u_2 = 1` (for :math:`d \\ge 2`), so the spectrum spans exactly
    :math:`[\\mathrm{scale}/\\mathrm{cond}, \\mathrm{scale}]`.

    Parameters
    ----------
    d
        Matrix size (``>= 1``).
    batch_shape
        Leading shape of the output.
    cond
        Condition number, ``>= 1`` and finite (``1e6`` gives nearly singular matrices).
    scale
        Largest eigenvalue, ``> 0`` and finite.
    generator, dtype, device
        As for :func:`random_orthogonal`.

    Returns
    -------
    torch.Tensor
        Shape ``(*batch_shape, d, d)``, exactly symmetric.

    Raises
    ------
    ValueError
        On ``d < 1``, ``cond < 1``, ``scale <= 0``, non-finite values or a generator on
        another device.
    TypeError
        On non-numeric arguments or an unsupported ``dtype``.
    """
    for name, v in (("cond", cond), ("scale", scale)):
        if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
            raise TypeError(f"{name}={v!r} must be a real number")
        if not math.isfinite(v):
            raise ValueError(f"{name}={v!r} must be finite")
    if cond < 1:
        raise ValueError(f"cond={cond!r} must be >= 1")
    if scale <= 0:
        raise ValueError(f"scale={scale!r} must be > 0")
    O = random_orthogonal(d, batch_shape, generator=generator, dtype=dtype, device=device)
    u = torch.rand(O.shape[:-1], generator=generator, dtype=dtype, device=O.device)
    if d >= 2:
        u[..., 0] = 0.0
        u[..., 1] = 1.0
    lam = float(scale) * torch.exp(-u * math.log(float(cond)))
    S = (O * lam[..., None, :]) @ O.mT
    return 0.5 * (S + S.mT)
