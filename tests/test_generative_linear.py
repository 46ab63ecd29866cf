"""Tests of kexue_book.ml.generative_linear: closed-form Gaussian linear models (LDA)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.datasets import load_breast_cancer, load_digits, load_iris, load_wine
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.linear_model import LinearRegression, Ridge

from kexue_book.ml import generative_linear as gl

@pytest.fixture(autouse=True, scope="module")
def _few_threads():
    """Small problems: one thread avoids oversubscribing a small shared CPU (many times faster)."""
    from threadpoolctl import threadpool_limits

    old = torch.get_num_threads()
    torch.set_num_threads(1)
    with threadpool_limits(1):
        yield
    torch.set_num_threads(old)


DATASETS = {"wine": load_wine, "iris": load_iris, "breast_cancer": load_breast_cancer}


def _data(name):
    X, y = DATASETS[name](return_X_y=True)
    return torch.tensor(X), torch.tensor(y)


def _rel(a, b):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return float(np.abs(a - b).max() / np.abs(b).max())


def _toy(n=300, d=4, k=3, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    means = 2.0 * torch.randn(k, d, generator=g, dtype=dtype)
    A = torch.randn(d, d, generator=g, dtype=dtype)
    cov = A @ A.T / d + 0.5 * torch.eye(d, dtype=dtype)
    X, y = gl.sample_gaussian_classes(n, means, cov, generator=g)
    return X, y, means, cov


# ----------------------------------------------------------------------------- references
@pytest.mark.parametrize("m", [1, 3])
def test_regression_equals_least_squares(m):
    g = torch.Generator().manual_seed(1)
    X = torch.randn(200, 5, generator=g, dtype=torch.float64) * torch.tensor([1.0, 10, 0.1, 3, 1]) + 4
    Y = X @ torch.randn(5, m, generator=g, dtype=torch.float64) + 0.3 * torch.randn(200, m, generator=g,
                                                                                     dtype=torch.float64)
    Y = Y[:, 0] if m == 1 else Y
    W, b = gl.gaussian_linear_regression(X, Y)
    A = torch.cat([X, torch.ones(200, 1, dtype=X.dtype)], 1)
    sol = torch.linalg.lstsq(A, Y if m > 1 else Y[:, None]).solution
    W_ref, b_ref = (sol[:5, 0], sol[5, 0]) if m == 1 else (sol[:5], sol[5])
    assert _rel(W, W_ref) < 1e-10 and _rel(b, b_ref) < 1e-10
    lr = LinearRegression().fit(X.numpy(), Y.numpy())
    assert _rel(W.T if m > 1 else W, lr.coef_) < 1e-10
    assert W.shape == ((5,) if m == 1 else (5, m))


def test_regression_ridge_equals_sklearn_ridge():
    g = torch.Generator().manual_seed(2)
    X = torch.randn(100, 6, generator=g, dtype=torch.float64)
    Y = torch.randn(100, generator=g, dtype=torch.float64)
    W, b = gl.gaussian_linear_regression(X, Y, ridge=0.3)
    ref = Ridge(alpha=0.3 * 100).fit(X.numpy(), Y.numpy())  # our ridge is per-sample
    assert _rel(W, ref.coef_) < 1e-10
    assert abs(float(b) - ref.intercept_) < 1e-10


@pytest.mark.parametrize("name", sorted(DATASETS))
@pytest.mark.parametrize("shrinkage", [None, 0.3, "auto"])
def test_matches_sklearn_lda(name, shrinkage):
    X, y = _data(name)
    lda = LinearDiscriminantAnalysis(solver="lsqr", shrinkage=shrinkage).fit(X.numpy(), y.numpy())
    if name == "breast_cancer":
        w, b = gl.analytic_logistic(X, y, shrinkage=shrinkage)
        W, b = w[None, :], b[None]
    else:
        W, b = gl.analytic_softmax(X, y, shrinkage=shrinkage)
        W = W.T
    # relative to the largest coefficient; the pooled covariance of breast_cancer has
    # condition number ~3e11, which bounds the attainable agreement near 1e-8
    assert _rel(W, lda.coef_) < 1e-8
    assert _rel(b, lda.intercept_) < 1e-8


def test_matches_sklearn_lda_with_priors():
    X, y = _data("wine")
    pri = np.array([0.5, 0.3, 0.2])
    lda = LinearDiscriminantAnalysis(solver="lsqr", priors=pri).fit(X.numpy(), y.numpy())
    W, b = gl.analytic_softmax(X, y, priors=torch.tensor(pri))
    assert _rel(W.T, lda.coef_) < 1e-8 and _rel(b, lda.intercept_) < 1e-8


def test_digits_needs_regularisation_and_then_matches_sklearn():
    X, y = load_digits(return_X_y=True)
    with pytest.raises(ValueError, match="ridge"):
        gl.analytic_softmax(torch.tensor(X), torch.tensor(y))
    lda = LinearDiscriminantAnalysis(solver="lsqr", shrinkage=0.1).fit(X, y)
    W, b = gl.analytic_softmax(torch.tensor(X), torch.tensor(y), shrinkage=0.1)
    assert _rel(W.T, lda.coef_) < 1e-8 and _rel(b, lda.intercept_) < 1e-8


def test_pooled_covariance_is_e9_and_sklearn_covariance():
    X, y = _data("iris")
    means, p, cov = gl.class_statistics(X, y)
    mix_mean = X.mean(0)
    mix_cov = (X - mix_mean).T @ (X - mix_mean) / X.shape[0]
    e9 = mix_cov + torch.outer(mix_mean, mix_mean) - (p[:, None, None] * means[:, :, None] * means[:, None, :]).sum(0)
    assert _rel(cov, e9) < 1e-12
    lda = LinearDiscriminantAnalysis(solver="lsqr", store_covariance=True).fit(X.numpy(), y.numpy())
    assert _rel(cov, lda.covariance_) < 1e-12
    assert _rel(p, lda.priors_) < 1e-15 and _rel(means, lda.means_) < 1e-13


# ----------------------------------------------------------------------------- closed forms
def test_gaussian_classifier_is_exact_posterior():
    X, _, means, cov = _toy(n=500, d=4, k=3)
    priors = torch.tensor([0.2, 0.5, 0.3], dtype=torch.float64)
    W, b = gl.gaussian_classifier(means, cov, priors)
    logp = torch.stack([torch.distributions.MultivariateNormal(means[i], cov).log_prob(X) for i in range(3)], 1)
    post = torch.softmax(logp + priors.log(), 1)
    assert float((gl.lda_posterior(X, W, b) - post).abs().max()) < 1e-12


def test_binary_is_difference_of_softmax_weights():
    X, y, _, _ = _toy(k=2)
    W, b = gl.analytic_softmax(X, y)
    w, b1 = gl.analytic_logistic(X, y)
    torch.testing.assert_close(w, W[:, 1] - W[:, 0], rtol=0, atol=1e-12)
    p1 = torch.sigmoid(X @ w + b1)
    torch.testing.assert_close(p1, gl.lda_posterior(X, W, b)[:, 1], rtol=0, atol=1e-12)


def test_whitening_map():
    X, _, _, _ = _toy(n=400, d=5)
    mu, K = gl.fit_whitening(X)
    Z = (X - mu) @ K
    torch.testing.assert_close(Z.mean(0), torch.zeros(5, dtype=Z.dtype), rtol=0, atol=1e-12)
    torch.testing.assert_close(Z.T @ Z / 400, torch.eye(5, dtype=Z.dtype), rtol=0, atol=1e-12)
    _, K2 = gl.fit_whitening(X, eps=1.0)
    assert float(torch.linalg.matrix_norm(K2)) < float(torch.linalg.matrix_norm(K))


@pytest.mark.parametrize("name", ["wine", "iris"])
def test_whitening_leaves_posterior_unchanged(name):
    X, y = _data(name)
    P = gl.lda_posterior(X, *gl.analytic_softmax(X, y))
    Pw = gl.lda_posterior(X, *gl.analytic_softmax(X, y, whiten=True))
    assert float((P - Pw).abs().max()) < 1e-8
    assert bool((P.argmax(1) == Pw.argmax(1)).all())


def test_posterior_stable_for_huge_logits():
    X = torch.tensor([[1e6, -1e6], [0.0, 0.0]], dtype=torch.float64)
    W = torch.eye(2, dtype=torch.float64)
    b = torch.zeros(2, dtype=torch.float64)
    P = gl.lda_posterior(X, W, b)
    assert bool(torch.isfinite(P).all())
    torch.testing.assert_close(P.sum(1), torch.ones(2, dtype=P.dtype))
    logP = gl.lda_posterior(X, W, b, log=True)
    assert float(logP[0, 1]) == pytest.approx(-2e6)


def test_sampler_moments_and_reproducibility():
    means = torch.tensor([[0.0, 0.0], [3.0, -1.0]], dtype=torch.float64)
    cov = torch.tensor([[2.0, 0.6], [0.6, 1.0]], dtype=torch.float64)
    n = 40_000
    X, y = gl.sample_gaussian_classes(n, means, cov, [0.25, 0.75], generator=torch.Generator().manual_seed(3))
    X2, y2 = gl.sample_gaussian_classes(n, means, cov, [0.25, 0.75], generator=torch.Generator().manual_seed(3))
    assert torch.equal(X, X2) and torch.equal(y, y2)
    frac = float(y.double().mean())
    assert abs(frac - 0.75) / np.sqrt(0.75 * 0.25 / n) < 5
    m, p, c = gl.class_statistics(X, y)
    se = (cov.diagonal() / (p[:, None] * n)).sqrt()
    assert float(((m - means).abs() / se).max()) < 5
    assert float((c - cov).abs().max()) < 5 * np.sqrt(2 * 4.0 / n)


def test_adam_baseline_learns_and_is_reproducible():
    X, y, _, _ = _toy(n=300, d=4, k=3)
    kw = {"epochs": 8, "lr": 5e-2, "batch_size": 64}
    W1, b1 = gl.fit_softmax_adam(X, y, **kw, generator=torch.Generator().manual_seed(0))
    W2, b2 = gl.fit_softmax_adam(X, y, **kw, generator=torch.Generator().manual_seed(0))
    assert torch.equal(W1, W2) and torch.equal(b1, b2)
    acc_adam = float(((X @ W1 + b1).argmax(1) == y).double().mean())
    W, b = gl.analytic_softmax(X, y)
    acc_lda = float(((X @ W + b).argmax(1) == y).double().mean())
    assert acc_adam > acc_lda - 0.05
    Wd, _ = gl.fit_softmax_adam(X, y, **kw, weight_decay=1.0, generator=torch.Generator().manual_seed(0))
    assert float(Wd.norm()) < float(W1.norm())


def test_adam_first_step_is_lr_times_sign_of_autograd_gradient():
    """Adam's first full-batch step is about -lr * sign(g): checks the hand-written gradient."""
    X, y, _, _ = _toy(n=200, d=4, k=3)
    lr = 1e-3
    W1, b1 = gl.fit_softmax_adam(X, y, epochs=1, batch_size=200, lr=lr, generator=torch.Generator().manual_seed(5))
    g = torch.Generator().manual_seed(5)
    W0 = ((torch.rand(4, 3, dtype=X.dtype, generator=g) * 2 - 1) * np.sqrt(6 / 7)).requires_grad_(True)
    b0 = torch.zeros(3, dtype=X.dtype, requires_grad=True)
    torch.nn.functional.cross_entropy(X @ W0 + b0, y).backward()
    for new, old in ((W1, W0), (b1, b0)):
        gr = old.grad
        # m = 0.1 g, v = 0.001 g^2, step size lr sqrt(0.001) / 0.1, eps' added to sqrt(v)
        expected = old.detach() - lr * gr / (gr.abs() + 1e-7 / np.sqrt(1e-3))
        torch.testing.assert_close(new, expected, rtol=0, atol=1e-9)


def test_huge_finite_entries_are_not_mistaken_for_inf():
    """The finiteness check sums first; a sum that overflows must not reject finite data."""
    X = torch.tensor([[1e308, 1.0], [1e308, 2.0], [-1e308, 0.5], [1e308, 3.0]], dtype=torch.float64)
    P = gl.lda_posterior(X, torch.zeros(2, 2, dtype=torch.float64), torch.zeros(2, dtype=torch.float64))
    torch.testing.assert_close(P, torch.full((4, 2), 0.5, dtype=torch.float64))


def test_float32_and_numpy_inputs():
    X, y, _, _ = _toy()
    W64, b64 = gl.analytic_softmax(X, y)
    W32, b32 = gl.analytic_softmax(X.float(), y)
    assert W32.dtype == torch.float32
    assert _rel(W32, W64) < 1e-4
    Wn, _ = gl.analytic_softmax(X.numpy(), y.numpy())
    assert _rel(Wn, W64) < 1e-15
    Wi, _ = gl.analytic_softmax(torch.round(X * 100).to(torch.int64), y)  # integers are promoted
    assert Wi.dtype == torch.float64


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu():
    X, y, _, _ = _toy()
    W, b = gl.analytic_softmax(X, y)
    Wc, bc = gl.analytic_softmax(X.cuda(), y.cuda())
    assert Wc.is_cuda and _rel(Wc.cpu(), W) < 1e-10 and _rel(bc.cpu(), b) < 1e-10


# ----------------------------------------------------------------------------- properties
@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), d=st.integers(1, 5), k=st.integers(2, 4))
def test_affine_equivariance(seed, d, k):
    """LDA commutes with an invertible affine map of the features: the posterior is unchanged."""
    X, y, _, _ = _toy(n=60 * k, d=d, k=k, seed=seed)
    if int(torch.bincount(y, minlength=k).min()) < 2:
        return
    g = torch.Generator().manual_seed(seed)
    A = torch.randn(d, d, generator=g, dtype=torch.float64) + 2 * torch.eye(d, dtype=torch.float64)
    if float(torch.linalg.cond(A)) > 1e3:
        return
    c = torch.randn(d, generator=g, dtype=torch.float64)
    P = gl.lda_posterior(X, *gl.analytic_softmax(X, y, k))
    Xa = X @ A + c
    Pa = gl.lda_posterior(Xa, *gl.analytic_softmax(Xa, y, k))
    assert float((P - Pa).abs().max()) < 1e-8


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), k=st.integers(2, 4))
def test_label_and_row_permutation(seed, k):
    X, y, _, _ = _toy(n=50 * k, d=3, k=k, seed=seed)
    if int(torch.bincount(y, minlength=k).min()) < 1:
        return
    g = torch.Generator().manual_seed(seed)
    rows = torch.randperm(X.shape[0], generator=g)
    relabel = torch.randperm(k, generator=g)
    W, b = gl.analytic_softmax(X, y, k)
    W2, b2 = gl.analytic_softmax(X[rows], relabel[y[rows]], k)
    torch.testing.assert_close(W2[:, relabel], W, rtol=1e-9, atol=1e-9)
    torch.testing.assert_close(b2[relabel], b, rtol=1e-9, atol=1e-9)
    P = gl.lda_posterior(X, W, b)
    torch.testing.assert_close(P.sum(1), torch.ones(X.shape[0], dtype=P.dtype), rtol=0, atol=1e-12)


# ----------------------------------------------------------------------------- bad input
X0, Y0, M0, C0 = _toy(n=60, d=3, k=3)


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        ({"X": X0[0]}, ValueError, "X must be 2-D"),
        ({"X": X0[None]}, ValueError, "X must be 2-D"),
        ({"X": X0[:, :0]}, ValueError, "at least one row and one column"),
        ({"X": "abc"}, TypeError, "X must be"),
        ({"X": X0 > 0}, TypeError, "real numbers"),
        ({"X": X0.to(torch.complex128)}, TypeError, "real numbers"),
        ({"X": torch.where(torch.arange(60)[:, None] == 5, float("nan"), X0)}, ValueError, "NaN or Inf"),
        ({"X": torch.where(torch.arange(60)[:, None] == 5, float("inf"), X0)}, ValueError, "NaN or Inf"),
        ({"y": Y0[:-1]}, ValueError, "len\\(y\\)=59"),
        ({"y": Y0[:, None]}, ValueError, "y must be 1-D"),
        ({"y": Y0.double()}, ValueError, "integer class labels"),
        ({"y": Y0 - 1}, ValueError, "must lie in 0..1 .*got range \\[-1, 1\\]"),
        ({"y": Y0, "num_classes": 2}, ValueError, "must lie in 0..1"),
        ({"num_classes": 1}, ValueError, "num_classes=1 must be >= 2"),
        ({"num_classes": 2.0}, TypeError, "num_classes"),
        ({"y": torch.zeros(60, dtype=torch.int64)}, ValueError, "single class"),
        ({"y": 2 * (Y0 > 0).long()}, ValueError, "class\\(es\\) \\[1\\] have no samples"),
        ({"ridge": -1.0}, ValueError, "ridge=-1.0 must be finite and >= 0"),
        ({"ridge": float("nan")}, ValueError, "ridge=nan"),
        ({"ridge": "1"}, TypeError, "ridge"),
        ({"shrinkage": 1.5}, ValueError, "must lie in \\[0, 1\\]"),
        ({"shrinkage": -0.1}, ValueError, "shrinkage=-0.1"),
        ({"shrinkage": "ledoit"}, ValueError, "'auto'"),
        ({"priors": [0.5, 0.5]}, ValueError, "priors has 2 entries"),
        ({"priors": [0.5, 0.6, -0.1]}, ValueError, "strictly positive"),
        ({"priors": [0.5, 0.6, 0.1]}, ValueError, "sum to 1"),
        ({"whiten": 1}, TypeError, "whiten"),
    ],
)
def test_bad_inputs_analytic_softmax(kwargs, exc, match):
    args = {"X": X0, "y": Y0} | kwargs
    X, y = args.pop("X"), args.pop("y")
    with pytest.raises(exc, match=match):
        gl.analytic_softmax(X, y, **args)


def test_singular_covariance_is_refused_with_a_hint():
    X, y, _, _ = _toy(n=12, d=20, k=3)
    with pytest.raises(ValueError, match="rank at most n - k = 9 < d = 20.*ridge > 0"):
        gl.analytic_softmax(X, y)
    W, _ = gl.analytic_softmax(X, y, ridge=1e-2)  # regularised: fine
    assert bool(torch.isfinite(W).all())
    Xc = torch.cat([X0, torch.full((60, 1), 0.1, dtype=X0.dtype)], 1)  # constant feature
    with pytest.raises(ValueError, match="feature 3 is constant"):
        gl.analytic_softmax(Xc, Y0)
    Xl = torch.cat([X0, X0[:, :1] * 3 - X0[:, 1:2]], 1)  # collinear feature
    with pytest.raises(ValueError, match="singular"):
        gl.analytic_softmax(Xl, Y0)
    with pytest.raises(ValueError, match="whiten=True needs a full-rank"):
        gl.analytic_softmax(Xl, Y0, whiten=True)
    with pytest.raises(ValueError, match="at least 2 samples in every class"):
        gl.analytic_softmax(X0[:3], torch.tensor([0, 1, 2]), shrinkage="auto")


def test_bad_inputs_logistic_regression_whitening():
    with pytest.raises(ValueError, match="must lie in 0..1"):
        gl.analytic_logistic(X0, Y0)
    with pytest.raises(ValueError, match="Y has 59 rows"):
        gl.gaussian_linear_regression(X0, X0[:-1, 0])
    with pytest.raises(ValueError, match="Y must be 1-D or 2-D"):
        gl.gaussian_linear_regression(X0, X0[:, :, None])
    with pytest.raises(ValueError, match="ridge=-0.5"):
        gl.gaussian_linear_regression(X0, X0[:, 0], ridge=-0.5)
    Xl = torch.cat([X0, X0[:, :1] + X0[:, 1:2]], 1)
    with pytest.raises(ValueError, match="singular.*ridge > 0"):
        gl.gaussian_linear_regression(Xl, X0[:, 0])
    with pytest.raises(ValueError, match="feature 3 is constant"):
        gl.gaussian_linear_regression(torch.cat([X0, torch.full((60, 1), 0.3, dtype=X0.dtype)], 1), X0[:, 0])
    with pytest.raises(ValueError, match="eps=-1e-06 must be finite and >= 0"):
        gl.fit_whitening(X0, eps=-1e-6)
    with pytest.raises(ValueError, match="pass eps > 0"):
        gl.fit_whitening(Xl)
    mu, K = gl.fit_whitening(Xl, eps=1e-3)
    assert bool(torch.isfinite(K).all())


def test_accuracy():
    X = torch.tensor([[1.0, 0.0], [0.0, 1.0], [2.0, 1.0]], dtype=torch.float64)
    W, b = torch.eye(2, dtype=torch.float64), torch.zeros(2, dtype=torch.float64)
    assert gl.accuracy(X, torch.tensor([0, 1, 1]), W, b) == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match="shapes do not match"):
        gl.accuracy(X, torch.tensor([0, 1, 1]), W[:, :1], b)
    with pytest.raises(ValueError, match="must lie in 0..1"):
        gl.accuracy(X, torch.tensor([0, 1, 2]), W, b)


def test_bad_inputs_gaussian_classifier_posterior_sampler():
    p = torch.full((3,), 1 / 3, dtype=torch.float64)
    with pytest.raises(ValueError, match="at least 2 classes"):
        gl.gaussian_classifier(M0[:1], C0, p[:1] * 3)
    with pytest.raises(ValueError, match="cov must have shape \\(3, 3\\)"):
        gl.gaussian_classifier(M0, C0[:2, :2], p)
    with pytest.raises(ValueError, match="symmetric"):
        gl.gaussian_classifier(M0, C0 + torch.triu(torch.ones(3, 3, dtype=C0.dtype), 1), p)
    with pytest.raises(ValueError, match="positive definite"):
        gl.gaussian_classifier(M0, -C0, p)
    with pytest.raises(ValueError, match="sum to 1"):
        gl.gaussian_classifier(M0, C0, 2 * p)
    W, b = gl.gaussian_classifier(M0, C0, p)
    with pytest.raises(ValueError, match="W has 3 rows but X has 2 columns"):
        gl.lda_posterior(X0[:, :2], W, b)
    with pytest.raises(ValueError, match="b has 2 entries"):
        gl.lda_posterior(X0, W, b[:2])
    with pytest.raises(ValueError, match="n=0 must be >= 1"):
        gl.sample_gaussian_classes(0, M0, C0)
    with pytest.raises(TypeError, match="n=2.5"):
        gl.sample_gaussian_classes(2.5, M0, C0)
    with pytest.raises(ValueError, match="positive definite"):
        gl.sample_gaussian_classes(5, M0, -C0)
    with pytest.raises(ValueError, match="cov must have shape"):
        gl.sample_gaussian_classes(5, M0, C0[:2, :2])


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        ({"epochs": 0}, ValueError, "epochs=0 must be >= 1"),
        ({"epochs": 1.5}, TypeError, "epochs"),
        ({"batch_size": 0}, ValueError, "batch_size=0"),
        ({"lr": 0.0}, ValueError, "lr=0.0 must be > 0"),
        ({"lr": -1.0}, ValueError, "lr=-1.0"),
        ({"weight_decay": -1.0}, ValueError, "weight_decay=-1.0"),
    ],
)
def test_bad_inputs_adam(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        gl.fit_softmax_adam(X0, Y0, **kwargs)
