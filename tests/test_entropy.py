"""Tests of kexue_book.prob.entropy: entropy, power transform, entropy normalisation."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.optimize
import scipy.stats
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from kexue_book.prob.entropy import (
    EntropyNormalization,
    PostNewtonTrace,
    entropy,
    entropy_from_logits,
    entropy_normalize,
    entropy_range,
    post_newton_trace,
    power_entropy,
    power_entropy_derivative,
    power_transform,
)

F64 = torch.float64


def rand_simplex(rows: int, n: int, seed: int, zeros: float = 0.0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    p = torch.rand(rows, n, generator=g, dtype=F64)
    if zeros:
        p[torch.rand(rows, n, generator=g, dtype=F64) < zeros] = 0.0
        p[:, 0] += 0.1  # keep every row non-empty
    return p / p.sum(-1, keepdim=True)


def brentq_gamma(z: np.ndarray, target: float) -> float:
    """Reference root of H(softmax(G z)) = target by scipy's brentq on a doubled bracket."""
    zf = z[np.isfinite(z)]
    zf = zf - zf.max()

    def f(g: float) -> float:
        a = g * zf
        s = np.exp(a).sum()
        q = np.exp(a) / s
        return math.log(s) - g * float((q * zf).sum()) - target

    hi = 1.0
    while f(hi) > 0:
        hi *= 2.0
    return scipy.optimize.brentq(f, 0.0, hi, xtol=1e-300, rtol=8 * np.finfo(float).eps, maxiter=1000)


def order_kept(z: torch.Tensor, q: torch.Tensor) -> bool:
    """A strictly larger logit never gets a smaller probability (ties may appear by underflow)."""
    zz, qq = z.numpy(), q.numpy()
    return not bool(np.any((zz[:, None] > zz[None, :]) & (qq[:, None] < qq[None, :])))


# --------------------------------------------------------------------------- entropy
def test_entropy_matches_scipy_with_zeros():
    p = rand_simplex(50, 17, 0, zeros=0.3)
    ours = entropy(p)
    ref = scipy.stats.entropy(p.numpy(), axis=-1)
    np.testing.assert_allclose(ours.numpy(), ref, rtol=1e-13, atol=1e-15)


def test_entropy_extremes_and_bounds():
    n = 9
    assert float(entropy(torch.full((n,), 1.0 / n, dtype=F64))) == pytest.approx(math.log(n), abs=1e-14)
    assert float(entropy(torch.eye(n, dtype=F64)[3])) == 0.0
    h = entropy(rand_simplex(200, n, 1, zeros=0.2))
    assert bool((h >= 0).all()) and bool((h <= math.log(n) + 1e-14).all())


def test_entropy_dim_and_float32_and_arraylike():
    p = rand_simplex(6, 5, 2)
    np.testing.assert_allclose(entropy(p.T.contiguous(), dim=0).numpy(), entropy(p).numpy(), rtol=1e-14)
    assert entropy(p.float()).dtype == torch.float32
    out = entropy(p.numpy())
    assert out.dtype == F64
    np.testing.assert_allclose(out.numpy(), entropy(p).numpy())


def test_entropy_from_logits_matches_probability_form_and_is_stable():
    g = torch.Generator().manual_seed(3)
    z = 3 * torch.randn(40, 12, generator=g, dtype=F64)
    z[z < -3] = -math.inf
    p = torch.softmax(z, -1)
    np.testing.assert_allclose(entropy_from_logits(z).numpy(), entropy(p).numpy(), rtol=1e-12, atol=1e-14)
    big = 1e4 * torch.randn(10, 30, generator=g, dtype=F64)
    h = entropy_from_logits(big)
    assert bool(torch.isfinite(h).all()) and bool((h >= 0).all())
    np.testing.assert_allclose(entropy_from_logits(z + 1e6).numpy(), entropy_from_logits(z).numpy(), atol=1e-9)


# --------------------------------------------------------------------------- power transform
def test_power_transform_matches_direct_formula():
    p = rand_simplex(20, 8, 4)
    for gam in (0.3, 1.0, 2.5, -0.7):
        direct = p**gam / (p**gam).sum(-1, keepdim=True)
        np.testing.assert_allclose(power_transform(p, gam).numpy(), direct.numpy(), rtol=1e-12)
    np.testing.assert_allclose(power_transform(p, 1.0).numpy(), p.numpy(), rtol=1e-13)


def test_power_transform_zero_gamma_support_and_order():
    p = rand_simplex(30, 10, 5, zeros=0.3)
    u = power_transform(p, 0.0)
    supp = p > 0
    np.testing.assert_allclose(u.numpy(), (supp.double() / supp.sum(-1, keepdim=True).double()).numpy(), rtol=1e-14)
    for gam in (0.5, 3.0, 40.0):
        q = power_transform(p, gam)
        assert bool(((q == 0) == ~supp).all())
        for i in range(p.shape[0]):
            s = supp[i]
            assert torch.equal(torch.argsort(q[i][s], stable=True), torch.argsort(p[i][s], stable=True))
    q = power_transform(p, -1.0)  # negative exponents reverse the order on the support
    i = 0
    s = supp[i]
    assert torch.equal(torch.argsort(q[i][s]), torch.argsort(-p[i][s]))


def test_power_transform_broadcasts_gamma_and_dim():
    p = rand_simplex(1, 6, 6)[0]
    gams = torch.tensor([0.0, 0.5, 1.0, 2.0], dtype=F64)
    q = power_transform(p, gams)
    assert q.shape == (4, 6)
    np.testing.assert_allclose(q[2].numpy(), p.numpy(), rtol=1e-13)
    pb = rand_simplex(3, 6, 7)
    q0 = power_transform(pb.T.contiguous(), torch.tensor([0.5, 1.0, 2.0], dtype=F64), dim=0)
    np.testing.assert_allclose(q0.T.numpy(), power_transform(pb, torch.tensor([0.5, 1.0, 2.0], dtype=F64)).numpy())


def test_power_entropy_e4_and_limits():
    p = rand_simplex(10, 12, 8)
    for gam in (0.2, 1.0, 3.0):
        pg = p**gam
        e4 = torch.log(pg.sum(-1)) - gam * (pg * torch.log(p)).sum(-1) / pg.sum(-1)
        np.testing.assert_allclose(power_entropy(p, gam).numpy(), e4.numpy(), rtol=1e-12)
        np.testing.assert_allclose(power_entropy(p, gam).numpy(), entropy(power_transform(p, gam)).numpy(),
                                   rtol=1e-12)
    np.testing.assert_allclose(power_entropy(p, 0.0).numpy(), math.log(12), rtol=1e-14)
    assert float(power_entropy(p, 1e4).max()) < 1e-6  # distinct entries: one-hot in the limit
    tied = torch.tensor([0.3, 0.3, 0.2, 0.2], dtype=F64)
    assert float(power_entropy(tied, 1e3)) == pytest.approx(math.log(2), abs=1e-12)


def test_power_entropy_monotone_on_grid():
    p = rand_simplex(20, 30, 9)
    grid = torch.linspace(0, 20, 401, dtype=F64)
    h = power_entropy(p.unsqueeze(1), grid.unsqueeze(0))  # (20, 401)
    assert bool((h.diff(dim=-1) < 0).all())


def test_derivative_e5_against_autograd_and_fd():
    p = rand_simplex(8, 15, 10)
    for gam in (0.1, 1.0, 2.7):
        g = torch.full((8,), gam, dtype=F64, requires_grad=True)
        q = p ** g.unsqueeze(-1)
        q = q / q.sum(-1, keepdim=True)
        h = -(q * torch.log(q)).sum()
        (grad,) = torch.autograd.grad(h, g)
        ours = power_entropy_derivative(p, gam)
        np.testing.assert_allclose(ours.numpy(), grad.numpy(), rtol=1e-10)
        eps = 1e-5
        fd = (power_entropy(p, gam + eps) - power_entropy(p, gam - eps)) / (2 * eps)
        np.testing.assert_allclose(ours.numpy(), fd.numpy(), rtol=1e-7)
    # E6: the slope at gamma = 1 is -Var_p(log p) = H^2 - E[(log p)^2]
    lp = torch.log(p)
    e6 = entropy(p) ** 2 - (p * lp**2).sum(-1)
    np.testing.assert_allclose(power_entropy_derivative(p, 1.0).numpy(), e6.numpy(), rtol=1e-11)
    assert bool((power_entropy_derivative(p, torch.linspace(0, 5, 8, dtype=F64)) <= 0).all())


def test_entropy_range():
    p = torch.tensor([[0.4, 0.4, 0.2, 0.0], [0.1, 0.2, 0.3, 0.4]], dtype=F64)
    lo, hi = entropy_range(p)
    np.testing.assert_allclose(lo.numpy(), [math.log(2), 0.0])
    np.testing.assert_allclose(hi.numpy(), [math.log(3), math.log(4)])
    lo2, hi2 = entropy_range(logits=torch.log(p))
    assert torch.equal(lo, lo2) and torch.equal(hi, hi2)


# --------------------------------------------------------------------------- normalisation
def _random_logits(rows: int, n: int, seed: int) -> torch.Tensor:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(rows):
        kind = rng.integers(3)
        if kind == 0:
            p = rng.random(n)
        elif kind == 1:
            p = rng.dirichlet(np.full(n, [0.1, 1.0, 10.0][rng.integers(3)]))
        else:
            x = [0.5, 2.0, 5.0][rng.integers(3)] * rng.standard_normal(n)
            p = np.exp(x - x.max())
        with np.errstate(divide="ignore"):
            out.append(np.log(p / p.sum()))
    return torch.tensor(np.array(out))


@pytest.mark.parametrize("n", [2, 10, 100])
def test_normalize_against_brentq(n):
    z = _random_logits(60, n, n)
    lo, hi = entropy_range(logits=z)
    u = torch.tensor(np.random.default_rng(n + 1).uniform(0.001, 0.999, 60))
    tgt = lo + u * (hi - lo)
    r = entropy_normalize(logits=z, target=tgt, return_info=True)
    assert isinstance(r, EntropyNormalization)
    assert float((entropy(r.probs) - tgt).abs().max()) <= 1e-10
    assert int(r.iterations.max()) <= 30
    ref = np.array([brentq_gamma(z[i].numpy(), float(tgt[i])) for i in range(60)])
    np.testing.assert_allclose(r.gamma.numpy(), ref, rtol=1e-8)
    for i in range(60):
        assert order_kept(z[i], r.probs[i])


def test_methods_agree_on_benign_input():
    p = rand_simplex(50, 100, 11)
    tgt = math.log(30)
    a, ga = entropy_normalize(p, target=tgt, return_gamma=True)
    b, gb = entropy_normalize(p, target=tgt, method="bisect", max_iter=200, return_gamma=True)
    c, gc = entropy_normalize(p, target=tgt, method="post_newton", return_gamma=True)
    d, gd = entropy_normalize(p, target=tgt, method="brentq", return_gamma=True)
    np.testing.assert_allclose(ga.numpy(), gb.numpy(), rtol=1e-8)
    np.testing.assert_allclose(ga.numpy(), gd.numpy(), rtol=1e-8)
    np.testing.assert_allclose(gd.numpy(), np.array([brentq_gamma(r, tgt) for r in torch.log(p).numpy()]),
                               rtol=1e-12)
    np.testing.assert_allclose(ga.numpy(), gc.numpy(), rtol=1e-8)
    np.testing.assert_allclose(a.numpy(), c.numpy(), rtol=1e-7, atol=1e-14)


def test_normalize_zeros_ties_dim_shapes_and_dtypes():
    p = rand_simplex(40, 20, 12, zeros=0.4)
    lo, hi = entropy_range(p)
    tgt = 0.3 * lo + 0.7 * hi
    q = entropy_normalize(p, target=tgt)
    assert bool(((q == 0) == (p == 0)).all())
    assert float((entropy(q) - tgt).abs().max()) <= 1e-10
    # batch of shape (2, 3) along dim=1, scalar target broadcast
    pb = rand_simplex(6, 7, 13).reshape(2, 3, 7).permute(0, 2, 1)
    qb, gb = entropy_normalize(pb, target=1.2, dim=1, return_gamma=True)
    assert qb.shape == pb.shape and gb.shape == (2, 3)
    np.testing.assert_allclose(entropy(qb, dim=1).numpy(), 1.2, atol=1e-10)
    # ties at the maximum: the range bottom is log 2, a target just above it is reached
    tied = torch.tensor([0.35, 0.35, 0.2, 0.1], dtype=F64)
    qt = entropy_normalize(tied, target=math.log(2) + 1e-6)
    assert float(entropy(qt)) == pytest.approx(math.log(2) + 1e-6, abs=1e-10)
    # float32 in, float32 out, entropies within 1e-4 nats
    z32 = (3 * torch.randn(16, 2000, generator=torch.Generator().manual_seed(14))).float()
    lo32, hi32 = entropy_range(logits=z32)
    t32 = lo32 + 0.5 * (hi32 - lo32)
    q32 = entropy_normalize(logits=z32, target=t32)
    assert q32.dtype == torch.float32
    q64 = q32.double() / q32.double().sum(-1, keepdim=True)
    assert float((entropy(q64) - t32.double()).abs().max()) < 1e-4


def test_constant_distribution_only_its_own_entropy():
    u = torch.full((2, 5), 0.2, dtype=F64)
    q, g = entropy_normalize(u, target=math.log(5), return_gamma=True)
    np.testing.assert_allclose(q.numpy(), u.numpy())
    assert torch.equal(g, torch.ones(2, dtype=F64))
    with pytest.raises(ValueError, match="constant on its support"):
        entropy_normalize(u, target=1.0)


def test_extreme_targets_and_near_ties_converge():
    z = torch.tensor([[0.0, -1e-12, -5.0, -6.0, -7.0], [0.0, -1.0, -2.0, -3.0, -4.0]], dtype=F64)
    lo, hi = entropy_range(logits=z)
    for tgt in (lo + 1e-9, hi - 1e-9, 0.5 * (lo + hi)):
        r = entropy_normalize(logits=z, target=tgt, return_info=True)
        assert float((entropy(r.probs) - tgt).abs().max()) <= 1e-10
        assert int(r.iterations.max()) <= 30


def test_post_newton_is_newton_in_total_exponent():
    """E8: with Gamma_k the product of the post's exponents, Gamma_{k+1} is a Newton step."""
    p = rand_simplex(5, 100, 15)
    tgt = math.log(30)
    tr = post_newton_trace(p, tgt, n_iter=4)
    assert isinstance(tr, PostNewtonTrace)
    big = torch.cumprod(tr.gamma, dim=0)  # Gamma after each step
    prev = torch.ones(5, dtype=F64)
    for k in range(4):
        h = power_entropy(p, prev)
        newton = prev - (h - tgt) / power_entropy_derivative(p, prev)
        np.testing.assert_allclose(big[k].numpy(), newton.numpy(), rtol=1e-9)
        np.testing.assert_allclose(tr.entropy[k].numpy(), h.numpy(), rtol=1e-10)
        prev = big[k]
    np.testing.assert_allclose(tr.probs.numpy(), power_transform(p, big[-1]).numpy(), rtol=1e-8, atol=1e-15)


def test_post_newton_failure_modes():
    # (a) a zero entry: 0 * log 0 = NaN at once
    p = rand_simplex(1, 10, 16)[0]
    p[3] = 0.0
    p = p / p.sum()
    assert bool(torch.isnan(post_newton_trace(p, 1.5, 3).entropy[0]))
    with pytest.raises(FloatingPointError, match="post_newton"):
        entropy_normalize(p, target=1.5, method="post_newton")
    assert float(entropy(entropy_normalize(p, target=1.5))) == pytest.approx(1.5, abs=1e-10)
    # (b) a low target: p**gamma underflows to exact zeros, then NaN
    p = torch.tensor(np.random.RandomState(0).random_sample(100))
    p = p / p.sum()
    assert bool(torch.isnan(post_newton_trace(p, 0.1, 10).entropy[-1]))
    assert float(entropy(entropy_normalize(p, target=0.1))) == pytest.approx(0.1, abs=1e-10)
    # (d) a uniform p: the denominator H^2 - E[(log p)^2] vanishes
    u = torch.full((8,), 1 / 8, dtype=F64)
    tr = post_newton_trace(u, 1.0, 2)
    assert not bool(torch.isfinite(tr.gamma).all()) or not bool(torch.isfinite(tr.probs).all())


# --------------------------------------------------------------------------- properties
@settings(max_examples=50, deadline=None)
@given(
    z=st.lists(st.floats(-30.0, 0.0, allow_nan=False), min_size=2, max_size=40),
    u=st.floats(0.02, 0.98),
)
def test_property_normalize_hits_target_and_keeps_order(z, u):
    zt = torch.tensor(z, dtype=F64)
    lo, hi = entropy_range(logits=zt)
    if float(hi - lo) < 1e-6:  # (near-)constant: nothing to normalise
        return
    tgt = lo + u * (hi - lo)
    try:
        q, g = entropy_normalize(logits=zt, target=tgt, return_gamma=True)
    except ValueError as exc:  # only when the exponent needed is not representable
        assert "floating-point range" in str(exc)
        top = torch.unique(zt).sort(descending=True).values
        assert float(top[0] - top[1]) < 1e-250 * max(1.0, float(top[0] - top[-1]))
        return
    assert abs(float(entropy(q)) - float(tgt)) <= 1e-10
    assert float(g) > 0
    assert order_kept(zt, q)


@settings(max_examples=50, deadline=None)
@given(
    z=st.lists(st.floats(-20.0, 20.0, allow_nan=False), min_size=2, max_size=30),
    gam=st.floats(0.0, 10.0),
)
def test_property_power_entropy_bounds_and_derivative_sign(z, gam):
    p = torch.softmax(torch.tensor(z, dtype=F64), -1)
    p = p / p.sum()
    h = float(power_entropy(p, gam))
    n_supp = int((p > 0).sum())
    assert -1e-12 <= h <= math.log(n_supp) + 1e-12
    assert float(power_entropy_derivative(p, gam)) <= 1e-12


# --------------------------------------------------------------------------- bad input
GOOD = torch.tensor([0.5, 0.3, 0.2], dtype=F64)


@pytest.mark.parametrize("fn", [entropy, lambda p: power_transform(p, 1.0),
                                lambda p: power_entropy(p, 1.0), lambda p: entropy_range(p),
                                lambda p: entropy_normalize(p, target=0.5),
                                lambda p: post_newton_trace(p, 0.5)])
def test_bad_probabilities(fn):
    with pytest.raises(TypeError, match="dtype"):
        fn(torch.tensor([1, 0]))
    with pytest.raises(TypeError, match="dtype"):
        fn([1, 0])
    with pytest.raises(ValueError, match="scalar"):
        fn(torch.tensor(1.0, dtype=F64))
    with pytest.raises(ValueError, match="at least 2"):
        fn(torch.ones(3, 1, dtype=F64))
    with pytest.raises(ValueError, match="NaN or Inf"):
        fn(torch.tensor([0.5, math.nan], dtype=F64))
    with pytest.raises(ValueError, match="NaN or Inf"):
        fn(torch.tensor([0.5, math.inf], dtype=F64))
    with pytest.raises(ValueError, match="negative"):
        fn(torch.tensor([1.5, -0.5], dtype=F64))
    with pytest.raises(ValueError, match="sum to 1"):
        fn(torch.tensor([0.5, 0.4], dtype=F64))


def test_bad_dim():
    with pytest.raises(TypeError, match="dim"):
        entropy(GOOD, dim=0.0)
    with pytest.raises(TypeError, match="dim"):
        entropy(GOOD, dim=True)
    with pytest.raises(ValueError, match="out of range"):
        entropy(GOOD, dim=1)
    with pytest.raises(ValueError, match="out of range"):
        entropy_normalize(GOOD, target=0.5, dim=-2)


def test_bad_logits():
    with pytest.raises(ValueError, match="NaN"):
        entropy_from_logits(torch.tensor([0.0, math.nan], dtype=F64))
    with pytest.raises(ValueError, match=r"\+inf"):
        entropy_from_logits(torch.tensor([0.0, math.inf], dtype=F64))
    with pytest.raises(ValueError, match="all -inf"):
        entropy_from_logits(torch.tensor([[0.0, 1.0], [-math.inf, -math.inf]], dtype=F64))
    with pytest.raises(TypeError, match="dtype"):
        entropy_from_logits(torch.tensor([0.0, 1.0], dtype=torch.complex128))
    with pytest.raises(TypeError, match="dtype"):
        entropy_from_logits(torch.tensor([0.0, 1.0], dtype=torch.float16))
    with pytest.raises(ValueError, match="at least 2"):
        entropy_normalize(logits=torch.zeros(4, 1, dtype=F64), target=0.0)


def test_bad_gamma():
    with pytest.raises(ValueError, match="finite"):
        power_transform(GOOD, math.nan)
    with pytest.raises(ValueError, match="finite"):
        power_entropy(GOOD, torch.tensor([1.0, math.inf], dtype=F64))
    with pytest.raises(TypeError, match="real"):
        power_transform(GOOD, True)
    with pytest.raises(TypeError, match="real"):
        power_transform(GOOD, "2")
    with pytest.raises(TypeError, match="real"):
        power_entropy_derivative(GOOD, torch.tensor([1j]))
    with pytest.raises(ValueError, match="broadcast"):
        power_transform(torch.stack([GOOD, GOOD]), torch.ones(3, dtype=F64))


def test_bad_p_logits_choice():
    with pytest.raises(ValueError, match="exactly one"):
        entropy_normalize(target=0.5)
    with pytest.raises(ValueError, match="exactly one"):
        entropy_normalize(GOOD, logits=torch.log(GOOD), target=0.5)
    with pytest.raises(ValueError, match="exactly one"):
        entropy_range()
    with pytest.raises(ValueError, match="exactly one"):
        entropy_range(GOOD, logits=torch.log(GOOD))


def test_bad_targets():
    lo, hi = entropy_range(GOOD)
    with pytest.raises(ValueError, match="negative"):
        entropy_normalize(GOOD, target=-0.1)
    with pytest.raises(ValueError, match="finite"):
        entropy_normalize(GOOD, target=math.nan)
    with pytest.raises(ValueError, match="finite"):
        entropy_normalize(GOOD, target=math.inf)
    with pytest.raises(TypeError, match="real"):
        entropy_normalize(GOOD, target="1")
    with pytest.raises(ValueError, match="unattainable"):
        entropy_normalize(GOOD, target=float(hi))  # log|supp| is only the gamma -> 0 limit
    with pytest.raises(ValueError, match="unattainable"):
        entropy_normalize(GOOD, target=float(hi) + 0.1)
    with pytest.raises(ValueError, match="unattainable"):
        entropy_normalize(GOOD, target=0.0)  # log k_max = 0: the one-hot limit
    tied = torch.tensor([0.4, 0.4, 0.2], dtype=F64)
    with pytest.raises(ValueError, match=r"unattainable.*0\.693"):
        entropy_normalize(tied, target=0.5)  # below log 2 with a tie at the top
    with pytest.raises(ValueError, match="broadcast"):
        entropy_normalize(torch.stack([GOOD, GOOD]), target=torch.ones(3, dtype=F64))
    with pytest.raises(ValueError, match="1 distribution"):
        entropy_normalize(torch.stack([GOOD, GOOD]), target=torch.tensor([0.5, 2.0], dtype=F64))


def test_bad_options():
    with pytest.raises(ValueError, match="method"):
        entropy_normalize(GOOD, target=0.5, method="newton")
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="max_iter"):
            entropy_normalize(GOOD, target=0.5, max_iter=bad)
    for bad in (0.0, -1e-3, math.nan, math.inf, True, "1e-8"):
        with pytest.raises(ValueError, match="tol"):
            entropy_normalize(GOOD, target=0.5, tol=bad)
    with pytest.raises(ValueError, match="at most one"):
        entropy_normalize(GOOD, target=0.5, return_gamma=True, return_info=True)
    with pytest.raises(ValueError, match="n_iter"):
        post_newton_trace(GOOD, 0.5, n_iter=0)
    with pytest.raises(ValueError, match="finite"):
        post_newton_trace(GOOD, math.nan)
    with pytest.raises(ValueError, match="broadcast"):
        post_newton_trace(torch.stack([GOOD, GOOD]), torch.ones(3, dtype=F64))


def test_exponent_beyond_float_range_raises():
    z = torch.tensor([0.0, -1e-310, -1.0], dtype=F64)  # top two tied to 1e-310
    lo, hi = entropy_range(logits=z)
    assert float(lo) == 0.0
    with pytest.raises(ValueError, match="floating-point range"):
        entropy_normalize(logits=z, target=0.1)
    with pytest.raises(ValueError, match="floating point"):
        entropy_normalize(logits=z, target=0.1, method="brentq")
    q = entropy_normalize(logits=z, target=math.log(2) + 1e-3)  # needs only a moderate exponent
    assert float(entropy(q)) == pytest.approx(math.log(2) + 1e-3, abs=1e-10)


def test_no_convergence_raises_instead_of_a_wrong_answer():
    p = rand_simplex(4, 50, 17)
    with pytest.raises(RuntimeError, match="did not converge"):
        entropy_normalize(p, target=0.5, max_iter=2)
    with pytest.raises(FloatingPointError, match="post_newton"):
        entropy_normalize(p, target=0.5, method="post_newton", max_iter=2)
