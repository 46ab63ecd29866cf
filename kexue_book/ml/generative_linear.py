"""Linear models from Gaussian assumptions: closed-form regression and classification.

Two closed forms follow when the data are assumed Gaussian (row-vector convention,
``x`` is a row, ``x @ W + b`` is the model):

* **Regression.** If ``(x, y)`` is jointly Gaussian, the conditional mean of ``y`` given
  ``x`` is linear with :math:`W = \\Sigma_{xx}^{-1}\\Sigma_{xy}` and
  :math:`b = \\mu_y - \\mu_x W`, which is ordinary least squares with an intercept
  (:func:`gaussian_linear_regression`).
* **Classification.** If every class is Gaussian with one shared covariance
  :math:`\\Sigma`, the posterior is a softmax of linear logits with
  :math:`w_i = \\mu_i\\Sigma^{-1}` and
  :math:`b_i = \\ln p_i - \\tfrac12\\mu_i\\Sigma^{-1}\\mu_i^\\top`: this is linear
  discriminant analysis (LDA), the "analytic solution of logistic regression"
  (:func:`analytic_softmax`, :func:`analytic_logistic`).

The class statistics follow scikit-learn's ``LinearDiscriminantAnalysis`` conventions
(priors = class frequencies, pooled covariance :math:`\\sum_i p_i S_i` with every
:math:`S_i` normalised by :math:`N_i`, so the pooled matrix is normalised by :math:`N`),
so ``coef_``/``intercept_`` of ``LinearDiscriminantAnalysis(solver='lsqr')`` are
reproduced to rounding, shrinkage included.

Weights are returned as ``W`` of shape ``(d, k)`` and ``b`` of shape ``(k,)``: the logits of
a batch ``X`` are ``X @ W + b``. Every function takes and returns :class:`torch.Tensor`
(NumPy arrays are accepted and converted) and computes on the input's device.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from kexue_book._checks import all_finite

__all__ = [
    "accuracy",
    "analytic_logistic",
    "analytic_softmax",
    "class_statistics",
    "fit_softmax_adam",
    "fit_whitening",
    "gaussian_classifier",
    "gaussian_linear_regression",
    "lda_posterior",
    "sample_gaussian_classes",
]


# ----------------------------------------------------------------------------- validation
def _as_tensor(x: Any, name: str) -> torch.Tensor:
    if isinstance(x, torch.Tensor):
        return x
    if isinstance(x, (np.ndarray, list, tuple, np.generic, int, float)) and not isinstance(x, bool):
        try:
            return torch.as_tensor(np.asarray(x))
        except (TypeError, ValueError, RuntimeError) as exc:
            raise TypeError(f"{name} must be a numeric tensor or array, got {type(x).__name__}") from exc
    raise TypeError(f"{name} must be a torch.Tensor or a NumPy array, got {type(x).__name__}")


def _as_float(x: Any, name: str, ndim: int | tuple[int, ...]) -> torch.Tensor:
    t = _as_tensor(x, name)
    dims = (ndim,) if isinstance(ndim, int) else ndim
    if t.ndim not in dims:
        raise ValueError(f"{name} must be {' or '.join(f'{d}-D' for d in dims)}, got shape {tuple(t.shape)}")
    if t.dtype == torch.bool or t.is_complex():
        raise TypeError(f"{name} must hold real numbers, got dtype {t.dtype}")
    if not t.is_floating_point():
        t = t.to(torch.float64)
    if not all_finite(t):
        raise ValueError(f"{name} contains NaN or Inf; all entries must be finite")
    return t


def _as_matrix(X: Any, name: str = "X") -> torch.Tensor:
    t = _as_float(X, name, 2)
    if t.shape[0] < 1 or t.shape[1] < 1:
        raise ValueError(f"{name} must have at least one row and one column, got shape {tuple(t.shape)}")
    return t


def _check_nonneg(v: Any, name: str) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name}={v!r} must be a real number >= 0")
    v = float(v)
    if not (math.isfinite(v) and v >= 0):
        raise ValueError(f"{name}={v!r} must be finite and >= 0")
    return v


def _as_labels(y: Any, n: int, num_classes: int | None, device: torch.device) -> tuple[torch.Tensor, int]:
    t = _as_tensor(y, "y")
    if t.ndim != 1:
        raise ValueError(f"y must be 1-D (one label per row of X), got shape {tuple(t.shape)}")
    if t.shape[0] != n:
        raise ValueError(f"len(y)={t.shape[0]} but X has {n} rows; they must be equal")
    if t.dtype == torch.bool:
        t = t.to(torch.int64)
    if t.is_floating_point() or t.is_complex():
        raise ValueError(f"y must hold integer class labels 0..k-1, got dtype {t.dtype}")
    t = t.to(device=device, dtype=torch.int64)
    if num_classes is not None:
        if isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)):
            raise TypeError(f"num_classes={num_classes!r} must be an integer >= 2")
        if num_classes < 2:
            raise ValueError(f"num_classes={num_classes} must be >= 2")
    lo, hi = int(t.min()), int(t.max())
    k = int(num_classes) if num_classes is not None else hi + 1
    if lo < 0 or hi >= k:
        raise ValueError(f"labels in y must lie in 0..{k - 1} (num_classes={k}), got range [{lo}, {hi}]")
    if k < 2:
        raise ValueError(f"y has a single class (label {hi}); a classifier needs at least 2 classes")
    return t, k


def _check_priors(priors: Any, k: int, like: torch.Tensor) -> torch.Tensor:
    p = _as_float(priors, "priors", 1).to(device=like.device, dtype=like.dtype)
    if p.shape[0] != k:
        raise ValueError(f"priors has {p.shape[0]} entries but there are {k} classes")
    if bool((p <= 0).any()):
        raise ValueError("priors must be strictly positive (ln p_i would be -inf)")
    if abs(float(p.sum()) - 1.0) > 1e-6:
        raise ValueError(f"priors must sum to 1, got {float(p.sum())!r}")
    return p / p.sum()


# ----------------------------------------------------------------------------- linear algebra
def _gram(R: torch.Tensor) -> torch.Tensor:
    """``R.T @ R``, through NumPy's symmetric rank-k update on the CPU (half the work of a GEMM).

    NumPy recognises ``A.T @ A`` and calls BLAS ``syrk``; torch always runs a full GEMM. On
    other devices, or when gradients are needed, the plain torch product is used.
    """
    if R.device.type == "cpu" and not R.requires_grad and R.dtype in (torch.float32, torch.float64):
        Rn = R.contiguous().numpy()
        return torch.from_numpy(Rn.T @ Rn)
    return R.T @ R


def _check_not_constant(X: torch.Tensor, var: torch.Tensor, scale: torch.Tensor, what: str, hint: str) -> None:
    """Refuse features whose variance is at the rounding level of their values.

    A constant column whose mean is not exactly representable leaves a tiny non-zero
    "variance" of order :math:`(\\varepsilon\\max|x|)^2`; inverting it would give huge,
    meaningless weights instead of an error. ``scale`` is the magnitude of the feature
    (for a constant feature, the absolute value of its (class) means).
    """
    n = X.shape[0]
    tiny = (n * torch.finfo(X.dtype).eps * scale) ** 2
    bad = torch.nonzero(var <= tiny).flatten()
    if bad.numel():
        raise ValueError(f"the {what} is singular (feature {int(bad[0])} is constant); {hint}")


def _spd_solve(S: torch.Tensor, B: torch.Tensor, *, what: str, hint: str) -> torch.Tensor:
    """Solve ``S Z = B`` for a symmetric positive definite ``S``, refusing singular ``S``.

    The system is Jacobi-scaled (``S = D C D`` with unit-diagonal ``C``) before the
    Cholesky factorisation, so features on very different scales do not hurt accuracy.
    ``S`` is declared singular when a diagonal entry is not positive or when the
    smallest squared Cholesky pivot of ``C`` is below ``d * eps``: that pivot bounds
    ``1 / cond(C)`` from above, so such an ``S`` cannot be inverted to any useful accuracy.
    """
    d = S.shape[0]
    eps = torch.finfo(S.dtype).eps
    diag = torch.diagonal(S)
    if bool((diag <= 0).any()):
        bad = int(torch.nonzero(diag <= 0)[0, 0])
        raise ValueError(
            f"the {what} is singular (feature {bad} has zero variance); {hint}"
        )
    s = diag.sqrt()
    C = S / (s[:, None] * s[None, :])
    L, info = torch.linalg.cholesky_ex(C)
    if int(info) != 0:
        raise ValueError(f"the {what} is singular or not positive definite; {hint}")
    pivot2 = float(torch.diagonal(L).min()) ** 2
    if pivot2 < d * eps:
        raise ValueError(
            f"the {what} is numerically singular (condition number >= {1 / max(pivot2, 1e-300):.1e}); {hint}"
        )
    return torch.cholesky_solve(B / s[:, None], L) / s[:, None]


def _ledoit_wolf_standardised(Xc: torch.Tensor, mean: torch.Tensor) -> torch.Tensor:
    """Ledoit-Wolf shrunk covariance of centred rows ``Xc`` (of data with mean ``mean``).

    Mirrors scikit-learn's ``shrinkage='auto'``: standardise every feature (zero-variance
    features keep scale 1), apply the Ledoit-Wolf estimate, undo the scaling.
    """
    n, d = Xc.shape
    var = Xc.pow(2).mean(0)
    # scikit-learn's test for a constant feature (var at rounding level of the mean)
    eps = torch.finfo(Xc.dtype).eps
    constant = var <= n * eps * var + (n * mean.abs() * eps) ** 2
    scale = torch.where(constant, torch.ones_like(var), var.sqrt())
    Z = Xc / scale
    emp = _gram(Z) / n
    tr = torch.diagonal(emp).sum()
    mu = tr / d
    beta_ = Z.pow(2).sum(1).pow(2).sum()  # sum_n ||z_n||^4 = sum of entries of (Z**2)^T (Z**2)
    delta_ = (emp * n).pow(2).sum() / n**2
    beta = (beta_ / n - delta_) / (d * n)
    delta = (delta_ - 2.0 * mu * tr + d * mu**2) / d
    beta = torch.minimum(beta, delta)
    alpha = torch.where(beta == 0, torch.zeros_like(beta), beta / delta)
    shrunk = (1 - alpha) * emp
    shrunk = shrunk + torch.diag_embed((alpha * mu).expand(d))
    return shrunk * scale[:, None] * scale[None, :]


# ----------------------------------------------------------------------------- regression
def gaussian_linear_regression(X: torch.Tensor, Y: torch.Tensor, *, ridge: float = 0.0
                               ) -> tuple[torch.Tensor, torch.Tensor]:
    """Linear regression as the conditional mean of a joint Gaussian (chapter 08, ``c08-eq-gauss-ols``).

    With sample moments :math:`\\mu_x, \\mu_y, \\Sigma_{xx}, \\Sigma_{xy}` (any common
    normalisation), returns :math:`W = \\Sigma_{xx}^{-1}\\Sigma_{xy}` and
    :math:`b = \\mu_y - \\mu_x W`, which equal the ordinary least-squares fit with an
    intercept.

    Parameters
    ----------
    X
        Inputs, shape ``(n, d)``.
    Y
        Targets, shape ``(n,)`` or ``(n, m)``.
    ridge
        Added to the diagonal of :math:`\\Sigma_{xx}` (normalised by ``n``); ``0`` gives OLS.

    Returns
    -------
    W, b
        ``W`` of shape ``(d,)`` or ``(d, m)`` and ``b`` a scalar tensor or shape ``(m,)``;
        predictions are ``X @ W + b``.

    Raises
    ------
    ValueError
        On shapes that do not match, non-finite entries, ``ridge < 0`` or a singular
        :math:`\\Sigma_{xx}` with ``ridge = 0``.
    """
    X = _as_matrix(X)
    Yt = _as_float(Y, "Y", (1, 2)).to(device=X.device, dtype=X.dtype)
    if Yt.shape[0] != X.shape[0]:
        raise ValueError(f"Y has {Yt.shape[0]} rows but X has {X.shape[0]}; they must be equal")
    ridge = _check_nonneg(ridge, "ridge")
    n, d = X.shape
    vec = Yt.ndim == 1
    Y2 = Yt[:, None] if vec else Yt
    mx, my = X.mean(0), Y2.mean(0)
    Xc, Yc = X - mx, Y2 - my
    Sxx = _gram(Xc) / n
    if not ridge:
        _check_not_constant(X, torch.diagonal(Sxx), mx.abs(), "input covariance Sigma_xx", "pass ridge > 0")
    if ridge:
        Sxx = Sxx + ridge * torch.eye(d, dtype=X.dtype, device=X.device)
    Sxy = Xc.T @ Yc / n
    W = _spd_solve(Sxx, Sxy, what="input covariance Sigma_xx", hint="pass ridge > 0")
    b = my - mx @ W
    return (W[:, 0], b[0]) if vec else (W, b)


# ----------------------------------------------------------------------------- whitening
def fit_whitening(X: torch.Tensor, eps: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Whitening map ``z = (x - mu) @ K`` with zero mean and identity covariance.

    The covariance is normalised by ``n`` (so the whitened training set has covariance
    exactly :math:`I`), factorised as :math:`U\\,\\mathrm{diag}(s)\\,U^\\top`, and
    :math:`K = U\\,\\mathrm{diag}(1/\\sqrt{s + \\varepsilon})`.

    Parameters
    ----------
    X
        Data, shape ``(n, d)``.
    eps
        Added to every eigenvalue before the inverse square root (``>= 0``).

    Returns
    -------
    mu, K
        Mean of shape ``(d,)`` and whitening matrix of shape ``(d, d)``.

    Raises
    ------
    ValueError
        On non-finite data, ``eps < 0``, or a singular covariance with ``eps = 0``.
    """
    X = _as_matrix(X)
    eps = _check_nonneg(eps, "eps")
    n, d = X.shape
    mu = X.mean(0)
    Xc = X - mu
    S = Xc.T @ Xc / n
    s, U = torch.linalg.eigh(S)
    s = s.clamp_min(0)
    smax = float(s.max()) if d else 0.0
    tol = d * torch.finfo(X.dtype).eps * max(smax, torch.finfo(X.dtype).tiny)
    if float(s.min()) + eps <= tol:
        raise ValueError(
            "the covariance of X is singular (n < d or collinear/constant features); "
            "pass eps > 0 to whiten it"
        )
    K = U / (s + eps).sqrt()
    return mu, K


# ----------------------------------------------------------------------------- classification
def class_statistics(X: torch.Tensor, y: torch.Tensor, num_classes: int | None = None, *,
                     priors: torch.Tensor | Sequence[float] | None = None,
                     shrinkage: float | str | None = None
                     ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Class means, priors and the pooled within-class covariance (chapter 08, ``c08-eq-pooled``).

    The pooled covariance is :math:`\\Sigma = \\sum_i p_i S_i`, where :math:`S_i` is the
    covariance of class :math:`i` normalised by :math:`N_i`. With the default priors
    :math:`p_i = N_i/N` this is the within-class scatter divided by :math:`N`, i.e.
    :math:`\\tilde\\Sigma + \\tilde\\mu^\\top\\tilde\\mu - \\sum_i p_i\\mu_i^\\top\\mu_i`
    (``c08-eq-pooled``), computed here from centred rows for accuracy.

    Parameters
    ----------
    X
        Features, shape ``(n, d)``.
    y
        Integer labels in ``0..k-1``, shape ``(n,)``.
    num_classes
        ``k``; default ``max(y) + 1``.
    priors
        Class priors, positive, summing to 1; default the class frequencies. As in
        scikit-learn, they also weight the per-class covariances.
    shrinkage
        ``None`` (none), a float in ``[0, 1]`` (every :math:`S_i` becomes
        :math:`(1-\\alpha)S_i + \\alpha\\,\\mathrm{tr}(S_i)/d\\;I`) or ``"auto"``
        (Ledoit-Wolf per class on standardised features, as scikit-learn).

    Returns
    -------
    means, priors, cov
        Shapes ``(k, d)``, ``(k,)`` and ``(d, d)``.

    Raises
    ------
    ValueError
        On bad shapes, non-finite values, labels outside ``0..k-1``, non-integer labels,
        fewer than two classes, an empty class, bad priors or a bad ``shrinkage``.
    """
    X = _as_matrix(X)
    n, d = X.shape
    yt, k = _as_labels(y, n, num_classes, X.device)
    counts = torch.bincount(yt, minlength=k)
    if bool((counts == 0).any()):
        empty = torch.nonzero(counts == 0).flatten().tolist()
        raise ValueError(f"class(es) {empty} have no samples in y; every class 0..{k - 1} needs one")
    if shrinkage is not None:
        if isinstance(shrinkage, str):
            if shrinkage != "auto":
                raise ValueError(f"shrinkage={shrinkage!r}: expected None, 'auto' or a float in [0, 1]")
            if bool((counts < 2).any()):
                raise ValueError("shrinkage='auto' needs at least 2 samples in every class")
        else:
            a = _check_nonneg(shrinkage, "shrinkage")
            if a > 1:
                raise ValueError(f"shrinkage={shrinkage!r} must lie in [0, 1]")
            shrinkage = a
    freq = counts.to(X.dtype) / n
    p = freq if priors is None else _check_priors(priors, k, X)
    sums = torch.zeros(k, d, dtype=X.dtype, device=X.device).index_add_(0, yt, X)
    means = sums / counts.to(X.dtype)[:, None]
    R = torch.index_select(means, 0, yt)
    torch.sub(X, R, out=R)  # R = X - means[y], one allocation (they dominate on the CPU)
    if shrinkage == "auto":
        cov = torch.zeros(d, d, dtype=X.dtype, device=X.device)
        for i in range(k):
            cov = cov + p[i] * _ledoit_wolf_standardised(R[yt == i], means[i])
        return means, p, cov
    if priors is None:  # p_i = N_i / N: the within-class scatter over N
        cov = _gram(R) / n
    else:  # sum_i p_i S_i with S_i = R_i^T R_i / N_i: weight every row by sqrt(p_i / N_i)
        Rw = R * (p / counts.to(X.dtype)).sqrt()[yt][:, None]
        cov = _gram(Rw)
    if shrinkage:
        mu = torch.diagonal(cov).sum() / d
        cov = (1 - shrinkage) * cov
        cov.diagonal().add_(shrinkage * mu)
    return means, p, cov


def gaussian_classifier(means: torch.Tensor, cov: torch.Tensor, priors: torch.Tensor | Sequence[float]
                        ) -> tuple[torch.Tensor, torch.Tensor]:
    """Logit weights of the Bayes classifier for Gaussian classes with a shared covariance (chapter 08, ``c08-eq-lda-softmax``).

    For :math:`p(x\\mid i) = \\mathcal N(\\mu_i, \\Sigma)` and prior :math:`p_i`, the
    posterior is :math:`\\mathrm{softmax}_i(x w_i^\\top + b_i)` with
    :math:`w_i = \\mu_i\\Sigma^{-1}` and :math:`b_i = \\ln p_i - \\tfrac12\\mu_i\\Sigma^{-1}\\mu_i^\\top`.

    Parameters
    ----------
    means
        Class means, shape ``(k, d)``, ``k >= 2``.
    cov
        Shared covariance, shape ``(d, d)``, symmetric positive definite.
    priors
        Class priors, shape ``(k,)``, positive and summing to 1.

    Returns
    -------
    W, b
        Shapes ``(d, k)`` (column ``i`` is :math:`w_i^\\top`) and ``(k,)``.

    Raises
    ------
    ValueError
        On mismatched shapes, non-finite values, bad priors, or a ``cov`` that is not
        symmetric positive definite (numerically singular included).
    """
    M = _as_matrix(means, "means")
    k, d = M.shape
    if k < 2:
        raise ValueError(f"means has {k} row(s); a classifier needs at least 2 classes")
    S = _as_matrix(cov, "cov").to(device=M.device, dtype=M.dtype)
    if S.shape != (d, d):
        raise ValueError(f"cov must have shape ({d}, {d}) to match means, got {tuple(S.shape)}")
    if float((S - S.T).abs().max()) > 100 * torch.finfo(S.dtype).eps * float(S.abs().max()):
        raise ValueError("cov must be symmetric")
    p = _check_priors(priors, k, M)
    return _weights(M, S, p, hint="cov must be positive definite")


def _weights(M: torch.Tensor, S: torch.Tensor, p: torch.Tensor, *, hint: str) -> tuple[torch.Tensor, torch.Tensor]:
    W = _spd_solve(S, M.T, what="covariance", hint=hint)  # (d, k): Sigma^{-1} mu_i^T
    b = p.log() - 0.5 * (M * W.T).sum(1)
    return W, b


_SINGULAR_HINT = "pass ridge > 0 (or shrinkage) to regularise it"


def analytic_softmax(X: torch.Tensor, y: torch.Tensor, num_classes: int | None = None, *,
                     ridge: float = 0.0, shrinkage: float | str | None = None,
                     priors: torch.Tensor | Sequence[float] | None = None,
                     whiten: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """The closed-form ("analytic") softmax regression: LDA weights (chapter 08, ``c08-eq-lda-softmax``, ``c08-eq-pooled``).

    Estimates the class means, priors and pooled covariance with
    :func:`class_statistics`, adds ``ridge`` to the covariance's diagonal and returns
    :math:`w_i = \\mu_i\\Sigma^{-1}`, :math:`b_i = \\ln p_i - \\tfrac12\\mu_i\\Sigma^{-1}\\mu_i^\\top`.
    With ``ridge = 0`` and default priors the weights equal ``coef_.T`` and
    ``intercept_`` of scikit-learn's ``LinearDiscriminantAnalysis(solver='lsqr')``.

    Parameters
    ----------
    X
        Features, shape ``(n, d)``.
    y
        Integer labels in ``0..k-1``, shape ``(n,)``.
    num_classes
        ``k``; default ``max(y) + 1``. Every class needs at least one sample.
    ridge
        Added to the diagonal of the pooled covariance (``>= 0``).
    shrinkage
        ``None``, a float in ``[0, 1]`` or ``"auto"`` (Ledoit-Wolf), see
        :func:`class_statistics`.
    priors
        Class priors; default the class frequencies.
    whiten
        Fit in the whitened coordinates of :func:`fit_whitening` (``ridge`` and
        ``shrinkage`` then act there) and map the weights back. In exact arithmetic
        this changes the logits only by a term common to all classes, so the posterior
        is unchanged.

    Returns
    -------
    W, b
        Shapes ``(d, k)`` and ``(k,)``; logits are ``X @ W + b``.

    Raises
    ------
    ValueError
        On bad shapes, NaN/Inf, non-integer labels or labels outside ``0..k-1``, fewer
        than two classes, an empty class, ``ridge < 0``, bad ``shrinkage``/``priors``,
        or a singular pooled covariance (e.g. ``n - k < d`` or a constant feature) with
        no regularisation: the message suggests ``ridge > 0``.
    """
    X = _as_matrix(X)
    ridge = _check_nonneg(ridge, "ridge")
    if not isinstance(whiten, (bool, np.bool_)):
        raise TypeError(f"whiten={whiten!r} must be a bool")
    n, d = X.shape
    if whiten:
        try:
            mu, K = fit_whitening(X)
        except ValueError as exc:
            raise ValueError(
                "whiten=True needs a full-rank covariance of X (n > d, no constant or collinear "
                "features); use whiten=False with ridge > 0"
            ) from exc
        Z = (X - mu) @ K
        Wz, b = analytic_softmax(Z, y, num_classes, ridge=ridge, shrinkage=shrinkage, priors=priors)
        W = K @ Wz
        return W, b - mu @ W
    means, p, cov = class_statistics(X, y, num_classes, priors=priors, shrinkage=shrinkage)
    k = means.shape[0]
    unregularised = ridge == 0 and (shrinkage is None or shrinkage == 0)
    if unregularised:
        if n - k < d:
            raise ValueError(
                f"the pooled covariance is singular: it has rank at most n - k = {n - k} < d = {d}; "
                + _SINGULAR_HINT
            )
        _check_not_constant(X, torch.diagonal(cov), means.abs().amax(0), "pooled covariance", _SINGULAR_HINT)
    if ridge:
        cov = cov + ridge * torch.eye(d, dtype=X.dtype, device=X.device)
    return _weights(means, cov, p, hint=_SINGULAR_HINT)


def analytic_logistic(X: torch.Tensor, y: torch.Tensor, *, ridge: float = 0.0,
                      shrinkage: float | str | None = None,
                      priors: torch.Tensor | Sequence[float] | None = None,
                      whiten: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """The closed-form binary logistic regression (chapter 08, ``c08-eq-lda-binary``).

    :math:`w = (\\mu_1 - \\mu_0)\\Sigma^{-1}` and
    :math:`b = \\tfrac12(\\mu_0\\Sigma^{-1}\\mu_0^\\top - \\mu_1\\Sigma^{-1}\\mu_1^\\top) + \\ln(p_1/p_0)`,
    so that :math:`p(1\\mid x) = \\sigma(x w^\\top + b)`. Equals ``coef_[0]`` and
    ``intercept_[0]`` of scikit-learn's binary ``LinearDiscriminantAnalysis(solver='lsqr')``.

    Parameters
    ----------
    X
        Features, shape ``(n, d)``.
    y
        Labels in ``{0, 1}`` (bool accepted), shape ``(n,)``; both classes must occur.
    ridge, shrinkage, priors, whiten
        As in :func:`analytic_softmax`.

    Returns
    -------
    w, b
        Shape ``(d,)`` and a scalar tensor.

    Raises
    ------
    ValueError
        As :func:`analytic_softmax`, and for labels outside ``{0, 1}``.
    """
    W, b = analytic_softmax(X, y, 2, ridge=ridge, shrinkage=shrinkage, priors=priors, whiten=whiten)
    return W[:, 1] - W[:, 0], b[1] - b[0]


def lda_posterior(X: torch.Tensor, W: torch.Tensor, b: torch.Tensor, *, log: bool = False) -> torch.Tensor:
    """Class posterior :math:`\\mathrm{softmax}(XW + b)` (log-space, stable for large logits).

    Parameters
    ----------
    X
        Features, shape ``(n, d)``.
    W, b
        Weights of shape ``(d, k)`` and ``(k,)``, e.g. from :func:`analytic_softmax`.
    log
        Return log-probabilities instead.

    Returns
    -------
    torch.Tensor
        Shape ``(n, k)``; rows sum to 1 (or log-sum-exp to 0).

    Raises
    ------
    ValueError
        On mismatched shapes or non-finite inputs.
    """
    X = _as_matrix(X)
    W = _as_matrix(W, "W").to(device=X.device, dtype=X.dtype)
    b = _as_float(b, "b", 1).to(device=X.device, dtype=X.dtype)
    if W.shape[0] != X.shape[1]:
        raise ValueError(f"W has {W.shape[0]} rows but X has {X.shape[1]} columns; they must be equal")
    if b.shape[0] != W.shape[1]:
        raise ValueError(f"b has {b.shape[0]} entries but W has {W.shape[1]} columns; they must be equal")
    logits = X @ W + b
    return torch.log_softmax(logits, 1) if log else torch.softmax(logits, 1)


# ----------------------------------------------------------------------------- data and baselines
def sample_gaussian_classes(n: int, means: torch.Tensor, cov: torch.Tensor,
                            priors: torch.Tensor | Sequence[float] | None = None, *,
                            generator: torch.Generator | None = None
                            ) -> tuple[torch.Tensor, torch.Tensor]:
    """Draw ``n`` labelled points from Gaussian classes with a shared covariance.

    Labels :math:`y \\sim \\mathrm{Categorical}(p)`, then
    :math:`x = \\mu_y + \\varepsilon L^\\top` with :math:`LL^\\top = \\Sigma` and standard normal
    :math:`\\varepsilon`. The Bayes-optimal classifier is :func:`gaussian_classifier` of
    the same parameters.

    Parameters
    ----------
    n
        Number of points, ``>= 1``.
    means, cov, priors
        As in :func:`gaussian_classifier`; ``priors`` defaults to uniform.
    generator
        A :class:`torch.Generator` on the device of ``means`` (reproducibility).

    Returns
    -------
    X, y
        Shapes ``(n, d)`` (dtype and device of ``means``) and ``(n,)`` (int64).

    Raises
    ------
    ValueError
        On ``n < 1``, mismatched shapes, bad priors, or ``cov`` not positive definite.
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise TypeError(f"n={n!r} must be an integer >= 1")
    if n < 1:
        raise ValueError(f"n={n} must be >= 1")
    M = _as_matrix(means, "means")
    k, d = M.shape
    S = _as_matrix(cov, "cov").to(device=M.device, dtype=M.dtype)
    if S.shape != (d, d):
        raise ValueError(f"cov must have shape ({d}, {d}) to match means, got {tuple(S.shape)}")
    p = (torch.full((k,), 1.0 / k, dtype=M.dtype, device=M.device) if priors is None
         else _check_priors(priors, k, M))
    L, info = torch.linalg.cholesky_ex(S)
    if int(info) != 0:
        raise ValueError("cov must be symmetric positive definite")
    y = torch.multinomial(p, int(n), replacement=True, generator=generator)
    eps = torch.randn(int(n), d, dtype=M.dtype, device=M.device, generator=generator)
    return M[y] + eps @ L.T, y


def fit_softmax_adam(X: torch.Tensor, y: torch.Tensor, num_classes: int | None = None, *,
                     epochs: int = 10, batch_size: int = 32, lr: float = 1e-3,
                     weight_decay: float = 0.0, generator: torch.Generator | None = None
                     ) -> tuple[torch.Tensor, torch.Tensor]:
    """Softmax regression trained by mini-batch Adam: the post's gradient-descent baseline.

    Minimises the mean cross-entropy of ``softmax(X @ W + b)`` with Adam for a fixed
    budget of ``epochs`` passes over shuffled mini-batches, as the post's Keras baseline
    does: Glorot-uniform ``W``, zero ``b``, Keras' Adam (:math:`\\beta_1 = 0.9`,
    :math:`\\beta_2 = 0.999`, :math:`\\hat\\varepsilon = 10^{-7}` added to
    :math:`\\sqrt{v_t}` with the bias correction folded into the step size). The
    gradient is written out, :math:`X_B^\\top(\\mathrm{softmax} - \\mathrm{onehot})/|B|`.
    This is a *budgeted* fit, not a converged maximum likelihood estimate: with few
    samples and the default budget it is far from the optimum.

    Parameters
    ----------
    X, y, num_classes
        As in :func:`analytic_softmax`.
    epochs, batch_size
        Passes over the data and mini-batch size (integers ``>= 1``).
    lr
        Adam learning rate (``> 0``).
    weight_decay
        L2 coefficient added to the loss as ``weight_decay * ||W||^2 / 2`` (``>= 0``).
    generator
        Generator on the device of ``X`` for initialisation and shuffling.

    Returns
    -------
    W, b
        Shapes ``(d, k)`` and ``(k,)``, detached.

    Raises
    ------
    ValueError
        On bad data (as :func:`analytic_softmax`) or non-positive ``epochs``,
        ``batch_size`` or ``lr``.
    """
    X = _as_matrix(X)
    n, d = X.shape
    yt, k = _as_labels(y, n, num_classes, X.device)
    for name, v in (("epochs", epochs), ("batch_size", batch_size)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
            raise TypeError(f"{name}={v!r} must be an integer >= 1")
        if v < 1:
            raise ValueError(f"{name}={v} must be >= 1")
    lr = _check_nonneg(lr, "lr")
    if lr == 0:
        raise ValueError("lr=0.0 must be > 0")
    weight_decay = _check_nonneg(weight_decay, "weight_decay")
    limit = math.sqrt(6.0 / (d + k))
    W = (torch.rand(d, k, dtype=X.dtype, device=X.device, generator=generator) * 2 - 1) * limit
    b = torch.zeros(k, dtype=X.dtype, device=X.device)
    params = [W, b]
    m1 = [torch.zeros_like(q) for q in params]
    m2 = [torch.zeros_like(q) for q in params]
    beta1, beta2, eps_hat = 0.9, 0.999, 1e-7
    step = 0
    for _ in range(int(epochs)):
        perm = torch.randperm(n, device=X.device, generator=generator)
        for start in range(0, n, int(batch_size)):
            idx = perm[start:start + int(batch_size)]
            xb, yb = X[idx], yt[idx]
            # gradient of the mean cross-entropy of softmax(xb @ W + b), written out
            G = torch.softmax(xb @ W + b, 1)
            G[torch.arange(idx.shape[0], device=X.device), yb] -= 1.0
            G /= idx.shape[0]
            grads = [xb.T @ G, G.sum(0)]
            if weight_decay:
                grads[0] = grads[0] + weight_decay * W
            step += 1
            lr_t = lr * math.sqrt(1 - beta2**step) / (1 - beta1**step)
            for q, g_, a, v in zip(params, grads, m1, m2):
                a.mul_(beta1).add_(g_, alpha=1 - beta1)
                v.mul_(beta2).addcmul_(g_, g_, value=1 - beta2)
                q.addcdiv_(a, v.sqrt().add_(eps_hat), value=-lr_t)
    return W, b


def accuracy(X: torch.Tensor, y: torch.Tensor, W: torch.Tensor, b: torch.Tensor) -> float:
    """Fraction of rows whose largest logit ``X @ W + b`` is the true label.

    Parameters
    ----------
    X
        Features, shape ``(n, d)``.
    y
        Integer labels, shape ``(n,)``.
    W, b
        Weights of shape ``(d, k)`` and ``(k,)``.

    Returns
    -------
    float
        Accuracy in ``[0, 1]``.

    Raises
    ------
    ValueError
        On mismatched shapes, non-finite inputs or labels outside ``0..k-1``.
    """
    X = _as_matrix(X)
    W = _as_matrix(W, "W").to(device=X.device, dtype=X.dtype)
    b = _as_float(b, "b", 1).to(device=X.device, dtype=X.dtype)
    if W.shape[0] != X.shape[1] or b.shape[0] != W.shape[1]:
        raise ValueError(f"shapes do not match: X {tuple(X.shape)}, W {tuple(W.shape)}, b {tuple(b.shape)}")
    yt, _ = _as_labels(y, X.shape[0], W.shape[1], X.device)
    return float(((X @ W + b).argmax(1) == yt).double().mean())
