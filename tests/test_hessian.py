"""Tests of kexue_book.optim.hessian (chapter 26)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.preprocessing import StandardScaler

from kexue_book.optim.hessian import (
    center_scale, descent_lemma_gap, hessian_top_eigenvalue, hvp, smoothness_constant_linear,
)


def _logreg(n=60, d=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, d, generator=g, dtype=torch.float64) + 2.0
    y = torch.randint(0, 2, (n,), generator=g).to(torch.float64) * 2 - 1
    return X, y


def _logloss(X, y):
    Z = torch.cat([X, torch.ones_like(X[:, :1])], 1)
    return lambda w: torch.nn.functional.softplus(-y * (Z @ w)).mean()


def test_center_scale_matches_sklearn():
    rng = np.random.default_rng(0)
    X = rng.normal(3, 2, size=(50, 4))
    X[:, 2] = 7.0  # constant column: left unscaled
    Xh, mu, sigma = center_scale(torch.tensor(X))
    ref = StandardScaler().fit(X)
    np.testing.assert_allclose(Xh.numpy(), ref.transform(X), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(mu.numpy(), ref.mean_, rtol=1e-12)
    np.testing.assert_allclose(sigma.numpy(), ref.scale_, rtol=1e-12)


def test_smoothness_mse_matches_numpy_and_hessian():
    X, _ = _logreg()
    Z = np.c_[X.numpy(), np.ones(len(X))]
    ref = np.linalg.eigvalsh(Z.T @ Z / len(Z))[-1]
    assert smoothness_constant_linear(X) == pytest.approx(ref, rel=1e-12)
    # exact: Hessian of 1/2 E (w.z - y)^2 is E[zz^T]
    Zt = torch.tensor(Z)
    H = torch.autograd.functional.hessian(lambda w: 0.5 * ((Zt @ w) ** 2).mean(), torch.zeros(6, dtype=torch.float64))
    assert torch.linalg.eigvalsh(H)[-1].item() == pytest.approx(ref, rel=1e-12)
    Zn = X.numpy()
    assert smoothness_constant_linear(X, bias=False) == pytest.approx(np.linalg.eigvalsh(Zn.T @ Zn / len(Zn))[-1], rel=1e-12)


def test_logistic_bound_dominates_hessian():
    X, y = _logreg()
    L = smoothness_constant_linear(X, loss="logistic")
    assert L == pytest.approx(smoothness_constant_linear(X) / 4, rel=1e-15)
    f = _logloss(X, y)
    for s in range(5):
        w = torch.randn(6, generator=torch.Generator().manual_seed(s), dtype=torch.float64)
        H = torch.autograd.functional.hessian(f, w)
        assert torch.linalg.eigvalsh(H)[-1].item() <= L * (1 + 1e-12)


def test_centring_lowers_L():
    X, _ = _logreg()
    Lc = smoothness_constant_linear(X - X.mean(0))
    cov = torch.cov(X.T, correction=0)
    assert Lc == pytest.approx(max(torch.linalg.eigvalsh(cov)[-1].item(), 1.0), rel=1e-12)
    assert Lc <= smoothness_constant_linear(X)


@settings(max_examples=50, deadline=None)
@given(seed=st.integers(0, 10_000), scale=st.floats(1e-3, 1e2))
def test_descent_lemma_holds_with_exact_L(seed, scale):
    X, y = _logreg(seed=seed)
    f = _logloss(X, y)
    L = smoothness_constant_linear(X, loss="logistic")
    g = torch.Generator().manual_seed(seed + 1)
    theta = torch.randn(6, generator=g, dtype=torch.float64)
    delta = scale * torch.randn(6, generator=g, dtype=torch.float64)

    def grad(t):
        t = t.clone().requires_grad_(True)
        return torch.autograd.grad(f(t), t)[0]

    assert descent_lemma_gap(f, grad, theta, delta, L) >= -1e-12 * (1 + scale ** 2)


def test_descent_lemma_gap_quadratic_closed_form():
    A = torch.diag(torch.tensor([1.0, 3.0], dtype=torch.float64))
    f = lambda t: 0.5 * t @ A @ t  # noqa: E731
    grad = lambda t: A @ t  # noqa: E731
    theta = torch.tensor([1.0, -2.0], dtype=torch.float64)
    delta = torch.tensor([0.5, 0.25], dtype=torch.float64)
    # gap = (L/2)|d|^2 - (1/2) d^T A d
    expected = 0.5 * 3 * (delta @ delta) - 0.5 * delta @ A @ delta
    assert descent_lemma_gap(f, grad, theta, delta, 3.0) == pytest.approx(expected.item(), rel=1e-14)
    assert descent_lemma_gap(f, grad, theta, delta, 1.0) < 0


def _mlp_problem(seed=0):
    torch.manual_seed(seed)
    net = torch.nn.Sequential(torch.nn.Linear(4, 6), torch.nn.Tanh(), torch.nn.Linear(6, 3)).double()
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(40, 4, generator=g, dtype=torch.float64)
    y = torch.randint(0, 3, (40,), generator=g)
    return net, X, y


def test_hvp_matches_dense_hessian():
    net, X, y = _mlp_problem()
    params = list(net.parameters())
    shapes = [p.shape for p in params]
    flat0 = torch.cat([p.detach().reshape(-1) for p in params])

    def flat_loss(flat):
        out, i = [], 0
        for s in shapes:
            k = int(np.prod(s)); out.append(flat[i:i + k].reshape(s)); i += k
        return torch.nn.functional.cross_entropy(torch.func.functional_call(net, dict(zip([n for n, _ in net.named_parameters()], out)), (X,)), y)

    H = torch.autograd.functional.hessian(flat_loss, flat0)
    v = torch.randn(flat0.numel(), generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    vs, i = [], 0
    for s in shapes:
        k = int(np.prod(s)); vs.append(v[i:i + k].reshape(s)); i += k
    Hv = torch.cat([h.reshape(-1) for h in hvp(lambda: torch.nn.functional.cross_entropy(net(X), y), params, vs)])
    torch.testing.assert_close(Hv, H @ v, rtol=1e-10, atol=1e-12)


def test_power_iteration_matches_eigvalsh_on_convex_problem():
    X, y = _logreg(n=80, d=8, seed=4)
    f = _logloss(X, y)
    w = torch.zeros(9, dtype=torch.float64, requires_grad=True)
    res = hessian_top_eigenvalue(lambda: f(w), [w], iters=500, tol=1e-10, generator=torch.Generator().manual_seed(0))
    ref = torch.linalg.eigvalsh(torch.autograd.functional.hessian(f, w.detach()))[-1].item()
    assert res.converged
    assert res.eigenvalue == pytest.approx(ref, rel=1e-6)
    assert res.residual < 1e-3
    assert res.iterations <= 500


def test_power_iteration_deterministic_and_diagonal_case():
    a = torch.tensor([5.0, 2.0, -1.0, 0.5], dtype=torch.float64)
    w = torch.ones(4, dtype=torch.float64, requires_grad=True)
    lf = lambda: 0.5 * (a * w * w).sum()  # noqa: E731
    r1 = hessian_top_eigenvalue(lf, [w], iters=300, tol=1e-12, generator=torch.Generator().manual_seed(1))
    r2 = hessian_top_eigenvalue(lf, [w], iters=300, tol=1e-12, generator=torch.Generator().manual_seed(1))
    assert r1.eigenvalue == r2.eigenvalue
    assert r1.eigenvalue == pytest.approx(5.0, rel=1e-9)
    assert abs(abs(r1.vector[0][0].item()) - 1) < 1e-6


def test_power_iteration_zero_hessian_and_budget():
    w = torch.ones(3, requires_grad=True)
    res = hessian_top_eigenvalue(lambda: (2 * w).sum(), [w])
    assert res.eigenvalue == 0.0 and res.converged
    a = torch.tensor([1.0, 0.999999])
    w2 = torch.ones(2, requires_grad=True)
    res = hessian_top_eigenvalue(lambda: 0.5 * (a * w2 * w2).sum(), w2, iters=1)
    assert res.iterations == 1 and not res.converged


def test_bad_inputs():
    with pytest.raises(TypeError, match="X"):
        center_scale(np.zeros((3, 2)))
    with pytest.raises(ValueError, match="2-D"):
        center_scale(torch.zeros(3))
    with pytest.raises(ValueError, match="at least one"):
        center_scale(torch.zeros(0, 2))
    with pytest.raises(ValueError, match="finite"):
        center_scale(torch.tensor([[1.0, float("nan")]]))
    with pytest.raises(ValueError, match="eps"):
        center_scale(torch.zeros(3, 2), eps=-1.0)
    with pytest.raises(ValueError, match="loss"):
        smoothness_constant_linear(torch.zeros(3, 2), loss="hinge")
    with pytest.raises(TypeError, match="bias"):
        smoothness_constant_linear(torch.zeros(3, 2), bias=1)
    with pytest.raises(ValueError, match="2-D"):
        smoothness_constant_linear(torch.zeros(2, 2, 2))
    with pytest.raises(ValueError, match="finite"):
        smoothness_constant_linear(torch.tensor([[float("inf")]]))
    f = lambda t: (t * t).sum()  # noqa: E731
    g = lambda t: 2 * t  # noqa: E731
    t = torch.zeros(2)
    with pytest.raises(TypeError, match="callables"):
        descent_lemma_gap(1, g, t, t, 1.0)
    with pytest.raises(TypeError, match="theta"):
        descent_lemma_gap(f, g, [0.0], t, 1.0)
    with pytest.raises(ValueError, match="delta"):
        descent_lemma_gap(f, g, t, torch.tensor([0.0, float("nan")]), 1.0)
    with pytest.raises(ValueError, match="same shape"):
        descent_lemma_gap(f, g, t, torch.zeros(3), 1.0)
    with pytest.raises(ValueError, match="L must"):
        descent_lemma_gap(f, g, t, t, -1.0)
    w = torch.ones(2, requires_grad=True)
    lf = lambda: (w * w).sum()  # noqa: E731
    with pytest.raises(ValueError, match="iters"):
        hessian_top_eigenvalue(lf, [w], iters=0)
    with pytest.raises(ValueError, match="iters"):
        hessian_top_eigenvalue(lf, [w], iters=2.5)
    with pytest.raises(ValueError, match="tol"):
        hessian_top_eigenvalue(lf, [w], tol=0.0)
    with pytest.raises(ValueError, match="requires_grad"):
        hessian_top_eigenvalue(lf, [torch.ones(2)])
    with pytest.raises(ValueError, match="at least one"):
        hessian_top_eigenvalue(lf, [])
    with pytest.raises(TypeError, match=r"params\[0\]"):
        hessian_top_eigenvalue(lf, [1.0])
    with pytest.raises(ValueError, match="scalar"):
        hvp(lambda: w * w, [w], [torch.ones(2)])
    with pytest.raises(ValueError, match="matching shapes"):
        hvp(lf, [w], [torch.ones(3)])
    with pytest.raises(ValueError, match="does not depend"):
        u = torch.ones(2, requires_grad=True)
        hvp(lambda: (w * w).sum(), [u], [torch.ones(2)])
    with pytest.raises(ValueError, match="not finite"):
        hessian_top_eigenvalue(lambda: (w * w).sum() * float("inf"), [w])
