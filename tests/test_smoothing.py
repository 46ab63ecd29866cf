"""Tests of kexue_book.prob.smoothing: kernels, mollify, smoothed ReLUs and the smoothed floor."""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, special, stats

from kexue_book.prob import smoothing as sm

f64 = torch.float64
PROP = settings(max_examples=50, deadline=None)
finite_x = st.floats(min_value=-50, max_value=50, allow_nan=False)
sharp = st.floats(min_value=0.05, max_value=50)


def cond_tol(z, eps=np.finfo(float).eps):
    """Relative tolerance for functions of z whose condition number grows like z^2 (normal tails)."""
    return 8 * eps * np.maximum(np.asarray(z, dtype=float) ** 2, 4.0)


def quad(f, a, b):
    return integrate.quad(f, a, b, epsabs=0.0, epsrel=1e-12, limit=500)[0]


def relu_conv_quad(pdf, x):
    """∫_0^∞ y pdf(x - y) dy by quadrature, split at the peak."""
    g = lambda y: y * pdf(x - y)
    m = max(x, 0.0)
    return quad(g, 0.0, m) + quad(g, m, np.inf)


# --------------------------------------------------------------------------- kernels
U = np.linspace(-30, 30, 601)


@pytest.mark.parametrize("w", [0.1, 1.0, 3.0])
def test_kernels_match_scipy_densities(w):
    u = torch.tensor(U, dtype=f64)
    np.testing.assert_allclose(sm.gaussian_delta(u, w).numpy(), stats.norm.pdf(U, scale=w), rtol=1e-13, atol=1e-300)
    np.testing.assert_allclose(sm.logistic_delta(u, 1 / w).numpy(), stats.logistic.pdf(U, scale=w),
                               rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(sm.lorentz_delta(u, w).numpy(), stats.cauchy.pdf(U, scale=w), rtol=1e-13, atol=1e-300)
    for name, ref in (("gaussian", stats.norm), ("logistic", stats.logistic), ("lorentz", stats.cauchy)):
        np.testing.assert_allclose(sm.kernel_density(u, name, w).numpy(), ref.pdf(U, scale=w),
                                   rtol=1e-12, atol=1e-300)
        np.testing.assert_allclose(sm.kernel_cdf(u, name, w).numpy(), ref.cdf(U, scale=w), rtol=1e-12, atol=1e-300)


def test_logistic_delta_is_derivative_of_sigmoid_and_stable():
    t = 7.0
    u = torch.linspace(-3, 3, 101, dtype=f64, requires_grad=True)
    (d,) = torch.autograd.grad(torch.sigmoid(t * u).sum(), u)
    torch.testing.assert_close(sm.logistic_delta(u.detach(), t), d, rtol=1e-13, atol=1e-15)
    far = sm.logistic_delta(torch.tensor([-400.0, 400.0], dtype=f64), 1.0)
    assert torch.all(torch.isfinite(far)) and torch.all(far > 0)
    np.testing.assert_allclose(far.numpy(), math.exp(-400.0), rtol=1e-12)


@pytest.mark.parametrize("name", sm.KERNELS)
def test_kernels_integrate_to_one_and_cdf_derivative(name):
    dens = lambda v: float(sm.kernel_density(torch.tensor(v, dtype=f64), name, 0.7))
    assert abs(2 * quad(dens, 0, np.inf) - 1) < 1e-10
    u = torch.linspace(-5, 5, 41, dtype=f64, requires_grad=True)
    (d,) = torch.autograd.grad(sm.kernel_cdf(u, name, 0.7).sum(), u)
    torch.testing.assert_close(d, sm.kernel_density(u.detach(), name, 0.7), rtol=1e-12, atol=1e-15)


def test_gaussian_cdf_accurate_in_the_left_tail():
    z = torch.tensor([-5.0, -10.0, -20.0, -37.0], dtype=f64)
    got, ref = sm.kernel_cdf(z, "gaussian", 1.0).numpy(), special.ndtr(z.numpy())
    assert np.all(np.abs(got / ref - 1) <= cond_tol(z.numpy()))
    # torch.special.ndtr (1 + erf form) underflows to 0 here; ours does not
    assert np.all(got > 0)


@pytest.mark.parametrize("p", [0.0, 0.3, 0.5, 1.0, 1.5, 2.0, 3.0])
@pytest.mark.parametrize("name", ["gaussian", "logistic"])
def test_abs_moment_matches_quadrature(name, p):
    w = 0.8
    ref = {"gaussian": stats.norm, "logistic": stats.logistic}[name]
    q = 2 * quad(lambda v: v**p * ref.pdf(v, scale=w), 0, np.inf)
    assert sm.kernel_abs_moment(name, w, p) == pytest.approx(q, rel=1e-11)


def test_abs_moment_lorentz():
    for p in (0.2, 0.5, 0.9):
        q = 2 * quad(lambda v: v**p * stats.cauchy.pdf(v, scale=1.3), 0, np.inf)
        assert sm.kernel_abs_moment("lorentz", 1.3, p) == pytest.approx(q, rel=1e-10)
    assert sm.kernel_abs_moment("lorentz", 1.0, 1.0) == math.inf
    assert sm.kernel_abs_moment("lorentz", 1.0, 2.5) == math.inf
    assert sm.kernel_abs_moment("lorentz", 2.0, 0) == 1.0
    assert sm.kernel_abs_moment("gaussian", 2.0, 2) == pytest.approx(4.0, rel=1e-14)
    assert sm.kernel_abs_moment("logistic", 1.0, 2) == pytest.approx(math.pi**2 / 3, rel=1e-14)


# --------------------------------------------------------------------------- smoothed ReLU
@pytest.mark.parametrize("t", [0.5, 1.0, 3.0, 10.0])
def test_smooth_relu_logistic_is_the_convolution(t):
    for x in (-3.0, -0.2, 0.0, 0.5, 4.0):
        q = relu_conv_quad(lambda u: stats.logistic.pdf(u, scale=1 / t), x)
        assert float(sm.smooth_relu_logistic(torch.tensor(x, dtype=f64), t)) == pytest.approx(q, rel=1e-9)


def test_smooth_relu_logistic_vs_torch_and_numpy():
    x = torch.linspace(-60, 60, 24001, dtype=f64)
    for t in (0.3, 1.0, 4.0):
        ours = sm.smooth_relu_logistic(x, t)
        ref = np.logaddexp(0.0, t * x.numpy()) / t
        np.testing.assert_allclose(ours.numpy(), ref, rtol=2e-15, atol=1e-300)
        # torch's default threshold=20 is off by at most log1p(e^-20)/t
        gap = (ours - F.softplus(x, beta=t)).abs().max().item()
        assert gap <= math.log1p(math.exp(-20)) / t * (1 + 1e-9)
    torch.testing.assert_close(sm.smooth_relu_logistic(x, 1.0), F.softplus(x, threshold=40.0), rtol=0, atol=0)
    x32 = x.float()
    torch.testing.assert_close(sm.smooth_relu_logistic(x32, 2.0), F.softplus(x32, beta=2.0), rtol=0, atol=0)


@given(x=finite_x, t=sharp)
@PROP
def test_smooth_relu_logistic_bounds(x, t):
    v = float(sm.smooth_relu_logistic(torch.tensor(x, dtype=f64), t))
    assert max(x, 0.0) <= v <= max(x, 0.0) + math.log(2.0) / t * (1 + 1e-12)


def test_smooth_relu_logistic_gradient_is_sigmoid():
    x = torch.linspace(-40, 40, 801, dtype=f64, requires_grad=True)
    (g,) = torch.autograd.grad(sm.smooth_relu_logistic(x, 2.5).sum(), x)
    torch.testing.assert_close(g, torch.sigmoid(2.5 * x.detach()), rtol=1e-14, atol=1e-16)


@pytest.mark.parametrize("s", [0.3, 1.0, 2.0])
def test_smooth_relu_gaussian_is_the_convolution(s):
    for x in (-3.0, -1.0, 0.0, 0.5, 4.0):
        q = relu_conv_quad(lambda u: stats.norm.pdf(u, scale=s), x)
        assert float(sm.smooth_relu_gaussian(torch.tensor(x, dtype=f64), s)) == pytest.approx(q, rel=1e-9)


def test_smooth_relu_gaussian_matches_mpmath_in_the_tails():
    mpmath.mp.dps = 50
    zs = np.concatenate([-np.linspace(0.01, 37.5, 160), np.linspace(0, 40, 21)])   # h(z) > 1e-300
    ref = np.array([float(mpmath.mpf(z) * mpmath.ncdf(z) + mpmath.npdf(z)) for z in zs])
    v = sm.smooth_relu_gaussian(torch.tensor(zs, dtype=f64), 1.0).numpy()
    # the function's own condition number is ~z^2: allow 8 z^2 eps
    assert np.all(np.abs(v / ref - 1) <= cond_tol(zs))
    # sigma scales exactly: sigma * h(x / sigma)
    v4 = sm.smooth_relu_gaussian(torch.tensor(zs * 0.25, dtype=f64), 0.25).numpy() / 0.25
    assert np.all(np.abs(v4 / ref - 1) <= cond_tol(zs))
    assert sm.smooth_relu_gaussian(torch.tensor(-39.0, dtype=f64), 1.0) >= 0


def test_smooth_relu_gaussian_erf_form_where_it_is_stable():
    for s in (0.5, 1.0):
        x = np.linspace(-s, 6, 401)          # z >= -1: the erf form's cancellation is mild
        erf_form = 0.5 * (x * special.erf(x / (math.sqrt(2) * s)) + x
                          + math.sqrt(2 / math.pi) * s * np.exp(-x**2 / (2 * s**2)))
        np.testing.assert_allclose(sm.smooth_relu_gaussian(torch.tensor(x), s).numpy(), erf_form, rtol=1e-13)


def test_smooth_relu_gaussian_derivatives():
    x = torch.linspace(-9, 9, 721, dtype=f64, requires_grad=True)
    (g,) = torch.autograd.grad(sm.smooth_relu_gaussian(x, 0.7).sum(), x, create_graph=True)
    np.testing.assert_allclose(g.detach().numpy(), stats.norm.cdf(x.detach().numpy() / 0.7), rtol=1e-13, atol=1e-300)
    (g2,) = torch.autograd.grad(g.sum(), x)
    np.testing.assert_allclose(g2.numpy(), stats.norm.pdf(x.detach().numpy(), scale=0.7), rtol=1e-12, atol=1e-300)
    xs = torch.randn(12, dtype=f64, generator=torch.Generator().manual_seed(0), requires_grad=True)
    assert torch.autograd.gradcheck(lambda z: sm.smooth_relu_gaussian(z, 0.5), (xs,))
    assert torch.autograd.gradgradcheck(lambda z: sm.smooth_relu_gaussian(z, 0.5), (xs,))


@given(x=finite_x, s=st.floats(min_value=0.02, max_value=20))
@PROP
def test_smooth_relu_gaussian_invariants(x, s):
    v = sm.smooth_relu_gaussian(torch.tensor([x, -x], dtype=f64), s)
    assert float(v[0]) >= max(x, 0.0)                                  # Jensen
    assert float(v[0]) <= max(x, 0.0) + s / math.sqrt(2 * math.pi) * (1 + 1e-12)
    assert float(v[0] - v[1]) == pytest.approx(x, rel=1e-12, abs=1e-12 * s)   # h(z) - h(-z) = z


def test_smooth_relu_gaussian_float32_and_nan():
    x = torch.linspace(-12, 12, 97)
    v32 = sm.smooth_relu_gaussian(x, 1.0)
    assert v32.dtype == torch.float32
    v64 = sm.smooth_relu_gaussian(x.double(), 1.0).numpy()
    keep = v64 > 1e-37                       # float32 normal range
    assert np.all(np.abs(v32.numpy()[keep] / v64[keep] - 1) <= cond_tol(x.numpy()[keep], np.finfo(np.float32).eps))
    out = sm.smooth_relu_gaussian(torch.tensor([math.nan, -math.inf, math.inf, -60.0], dtype=f64), 1.0)
    assert math.isnan(out[0]) and out[1] == 0 and out[2] == math.inf and out[3] == 0


def test_swish_and_gelu_match_torch():
    x = torch.linspace(-20, 20, 40001, dtype=f64)
    torch.testing.assert_close(sm.swish(x, 1.0), F.silu(x), rtol=0, atol=0)
    torch.testing.assert_close(sm.swish(x, 2.5), x * torch.sigmoid(2.5 * x), rtol=0, atol=0)
    assert (sm.gelu_sigma(x, 1.0) - F.gelu(x, approximate="none")).abs().max() < 1e-14
    assert (sm.gelu_sigma(x, 0.5) - 0.5 * F.gelu(2 * x, approximate="none")).abs().max() < 1e-14
    ref = x.numpy() * stats.norm.cdf(x.numpy())
    got = sm.gelu_sigma(x, 1.0).numpy()
    nz = ref != 0
    assert np.all(np.abs(got[nz] / ref[nz] - 1) <= cond_tol(x.numpy()[nz])) and np.all(got[~nz] == 0)


def test_product_route_dips_below_zero():
    x = torch.linspace(-5, 0, 50001, dtype=f64)
    assert sm.swish(x, 1.0).min().item() == pytest.approx(-0.2784645427610738, abs=1e-9)
    assert sm.gelu_sigma(x, 1.0).min().item() == pytest.approx(-0.16997120450, abs=1e-8)


# --------------------------------------------------------------------------- mollify
def test_mollify_gauss_hermite_is_exact_for_polynomials_and_cos():
    x = torch.linspace(-3, 3, 13, dtype=f64)
    torch.testing.assert_close(sm.mollify(lambda y: y**2, x, "gaussian", 0.7), x**2 + 0.49, rtol=1e-13, atol=1e-13)
    torch.testing.assert_close(sm.mollify(torch.cos, x, "gaussian", 0.7), torch.cos(x) * math.exp(-0.49 / 2),
                               rtol=1e-12, atol=1e-13)


def test_mollify_logistic_and_lorentz_closed_forms():
    x = torch.linspace(-3, 3, 13, dtype=f64)
    s = 0.5
    got = sm.mollify(lambda y: y**2, x, "logistic", s, nodes=256)
    torch.testing.assert_close(got, x**2 + s**2 * math.pi**2 / 3, rtol=1e-4, atol=1e-4)
    # Cauchy(a) * Cauchy(1) = Cauchy(1 + a): the density convolution has a closed form
    got = sm.mollify(lambda y: 1 / (1 + y**2), x, "lorentz", 1.0, nodes=256)
    torch.testing.assert_close(got, 2 / (x**2 + 4), rtol=1e-12, atol=1e-12)


def test_mollify_relu_against_closed_forms():
    x = torch.tensor([-3, -1, -0.2, 0, 0.5, 2, 4.0], dtype=f64)
    assert (sm.mollify(torch.relu, x, "gaussian", 1.0) - sm.smooth_relu_gaussian(x, 1.0)).abs().max() < 1e-2
    assert (sm.mollify(torch.relu, x, "gaussian", 1.0, nodes=512)
            - sm.smooth_relu_gaussian(x, 1.0)).abs().max() < 2e-3
    assert (sm.mollify(torch.relu, x, "logistic", 0.5) - sm.smooth_relu_logistic(x, 2.0)).abs().max() < 1e-3


def test_mollify_midpoint_at_a_jump_and_shapes():
    step = lambda y: (y >= 0).to(y.dtype)
    x = torch.zeros(2, 3, dtype=f64)
    out = sm.mollify(step, x, "gaussian", 0.1)
    assert out.shape == (2, 3) and out.dtype == f64
    torch.testing.assert_close(out, torch.full((2, 3), 0.5, dtype=f64))
    assert sm.mollify(step, [0.0], "logistic", 0.1).dtype == f64   # array-likes -> float64
    assert sm.mollify(torch.sin, torch.zeros(4), "lorentz", 0.3).dtype == torch.float32


def test_mollify_bad_inputs():
    x = torch.zeros(3, dtype=f64)
    with pytest.raises(TypeError, match="f must be callable"):
        sm.mollify(3.0, x)
    with pytest.raises(TypeError, match="same shape"):
        sm.mollify(lambda y: y.sum(), x)
    with pytest.raises(TypeError, match="same shape"):
        sm.mollify(lambda y: 1.0, x, "lorentz")
    with pytest.raises(ValueError, match="kernel="):
        sm.mollify(torch.cos, x, "box")
    with pytest.raises(ValueError, match=r"nodes=1 .*\[2, 1024\]"):
        sm.mollify(torch.cos, x, nodes=1)
    with pytest.raises(ValueError, match="nodes=2000"):
        sm.mollify(torch.cos, x, nodes=2000)
    with pytest.raises(TypeError, match="nodes"):
        sm.mollify(torch.cos, x, nodes=8.0)
    with pytest.raises(ValueError, match="growth"):
        sm.mollify(torch.cos, x, growth=-1.0)
    with pytest.raises(ValueError, match="growth"):
        sm.mollify(torch.cos, x, growth=math.inf)
    with pytest.raises(TypeError, match="growth"):
        sm.mollify(torch.cos, x, growth="linear")
    with pytest.raises(ValueError, match="width"):
        sm.mollify(torch.cos, x, width=0.0)


def test_mollify_refuses_divergent_lorentz_convolutions():
    x = torch.zeros(3, dtype=f64)
    with pytest.raises(ValueError, match="growth=1"):
        sm.mollify(torch.cos, x, "lorentz", 1.0, growth=1)
    with pytest.raises(ValueError, match="diverges"):
        sm.mollify(torch.relu, x, "lorentz", 1.0)                      # probe catches undeclared growth
    with pytest.raises(ValueError, match="diverges"):
        sm.mollify(torch.floor, x, "lorentz", 0.1)
    with pytest.raises(ValueError, match="diverges"):
        sm.mollify(torch.exp, x, "lorentz", 1.0)                       # inf far away
    with pytest.raises(ValueError, match="not finite"):
        sm.mollify(lambda y: torch.exp(y**4), x, "gaussian", 1.0)     # overflow at the nodes
    # sub-linear growth is finite (E|Y|^p < inf for p < 1) and accepted
    assert torch.isfinite(sm.mollify(lambda y: y.abs() ** 0.5, x, "lorentz", 1.0, growth=0.5)).all()
    # ... and the Gaussian kernel smooths ReLU fine
    assert torch.isfinite(sm.mollify(torch.relu, x, "gaussian", 1.0, growth=1)).all()


# --------------------------------------------------------------------------- smoothed floor
def floor_direct(x: np.ndarray, t: float, M: int, N: int, cdf: str = "logistic") -> np.ndarray:
    """E9 as written: sum_{n=-M}^0 [Phi(x-n) - 1] + sum_{n=1}^N Phi(x-n)."""
    Phi = (lambda u: special.expit(t * u)) if cdf == "logistic" else (lambda u: special.ndtr(t * u))
    return (sum(Phi(x - n) - 1 for n in range(-M, 1)) + sum(Phi(x - n) for n in range(1, N + 1)))


@pytest.mark.parametrize("t,M,N", [(10.0, 5, 10), (1.0, 5, 10), (0.3, 3, 4), (3.0, 20, 30), (0.5, 200, 300),
                                   (50.0, 5, 10), (10.0, 0, 1)])
@pytest.mark.parametrize("cdf", ["logistic", "gaussian"])
def test_smooth_floor_equals_the_direct_sum(t, M, N, cdf):
    x = np.linspace(-30, 40, 7001)
    got = sm.smooth_floor(torch.tensor(x), t, M, N, cdf).numpy()
    np.testing.assert_allclose(got, floor_direct(x, t, M, N, cdf), rtol=0, atol=1e-12)


def test_smooth_floor_error_bound_and_midpoints():
    M, N = 5, 10
    u = np.linspace(0.25, 0.75, 201)
    x = np.concatenate([k + u for k in range(-4, 9)])
    for t in (5.0, 10.0, 20.0, 50.0):
        err = np.abs(sm.smooth_floor(torch.tensor(x), t, M, N).numpy() - np.floor(x)).max()
        assert err <= 1.01 * special.expit(-t / 4) + 1e-9
    ks = np.arange(-4, 10, dtype=float)
    np.testing.assert_allclose(sm.smooth_floor(torch.tensor(ks), 10.0, M, N).numpy(), ks - 0.5, atol=1e-6)
    np.testing.assert_allclose(sm.smooth_floor(torch.tensor([11.0, -7.5]), 10.0, M, N).numpy(), [10.0, -6.0],
                               atol=1e-4)


def test_smooth_floor_huge_range_and_infinities():
    x = torch.tensor([1e6 + 0.5, -1e6 + 0.25, 2.0, math.inf, -math.inf, math.nan], dtype=f64)
    out = sm.smooth_floor(x, 10.0, 10**9, 10**9)
    tails = sum(special.expit(-10 * (0.75 + j)) - special.expit(-10 * (0.25 + j)) for j in range(20))
    np.testing.assert_allclose(out[:3].numpy(), [1e6, -1e6 + tails, 1.5], rtol=0, atol=1e-9)
    assert out[3] == 10**9 and out[4] == -(10**9) - 1 and math.isnan(out[5])
    small = sm.smooth_floor(x[3:5], 10.0, 5, 10)
    assert small.tolist() == [10.0, -6.0]


def test_smooth_floor_gradient_including_integers():
    t, M, N = 4.0, 5, 10
    x = torch.tensor([-3.0, -2.5, 0.0, 0.1, 7.0, 9.999], dtype=f64, requires_grad=True)
    (g,) = torch.autograd.grad(sm.smooth_floor(x, t, M, N).sum(), x)
    xd = x.detach().numpy()
    ref = sum(t * special.expit(t * (xd - n)) * special.expit(-t * (xd - n)) for n in range(-M, N + 1))
    np.testing.assert_allclose(g.numpy(), ref, rtol=1e-13)
    # window mode (large M, N) gives the same gradient
    (g2,) = torch.autograd.grad(sm.smooth_floor(x, t, 1000, 1000).sum(), x)
    ref2 = sum(t * special.expit(t * (xd - n)) * special.expit(-t * (xd - n)) for n in range(-1000, 1001))
    np.testing.assert_allclose(g2.numpy(), ref2, rtol=1e-12)


@given(x=st.floats(min_value=-5.5, max_value=10.5), t=st.floats(min_value=0.5, max_value=30))
@PROP
def test_smooth_floor_monotone_and_periodic_in_the_interior(x, t):
    xs = torch.tensor([x, x + 1e-3], dtype=f64)
    v = sm.smooth_floor(xs, t, 40, 40)
    assert float(v[1]) > float(v[0])                                    # S' = sum Phi' > 0
    shifted = sm.smooth_floor(xs[:1] + 1, t, 40, 40)
    assert float(shifted - v[0]) == pytest.approx(1.0, abs=1e-12 + 2 * math.exp(-t * 29))


def test_smooth_floor_check_range():
    ok = torch.tensor([-5.5, 0.3, 10.5], dtype=f64)
    sm.smooth_floor(ok, 10.0, 5, 10, check_range=True)
    for bad in (-5.7, 10.7, math.nan):
        with pytest.raises(ValueError, match=r"outside \(-5.6, 10.6\)"):
            sm.smooth_floor(torch.tensor([0.0, bad]), 10.0, 5, 10, check_range=True)
    with pytest.raises(TypeError, match="check_range"):
        sm.smooth_floor(ok, check_range="yes")


@pytest.mark.parametrize("kw,match", [
    ({"M": 5.0}, "M=5.0"), ({"M": -1}, "M=-1"), ({"M": True}, "M=True"), ({"N": 0}, "N=0"),
    ({"N": 2.5}, "N=2.5"), ({"N": "3"}, "N='3'"), ({"cdf": "lorentz"}, "cdf="), ({"t": 0.0}, "t=0.0"),
    ({"t": -2.0}, "t=-2.0"), ({"t": math.inf}, "t=inf"), ({"t": math.nan}, "t=nan"),
])
def test_smooth_floor_bad_inputs(kw, match):
    with pytest.raises(ValueError, match=match):
        sm.smooth_floor(torch.zeros(2), **kw)


# --------------------------------------------------------------------------- common bad input
WIDTH_FUNCS = [
    lambda w: sm.logistic_delta(torch.zeros(2), w),
    lambda w: sm.gaussian_delta(torch.zeros(2), w),
    lambda w: sm.lorentz_delta(torch.zeros(2), w),
    lambda w: sm.kernel_density(torch.zeros(2), "gaussian", w),
    lambda w: sm.kernel_cdf(torch.zeros(2), "logistic", w),
    lambda w: sm.kernel_abs_moment("gaussian", w),
    lambda w: sm.smooth_relu_logistic(torch.zeros(2), w),
    lambda w: sm.smooth_relu_gaussian(torch.zeros(2), w),
    lambda w: sm.swish(torch.zeros(2), w),
    lambda w: sm.gelu_sigma(torch.zeros(2), w),
    lambda w: sm.smooth_floor(torch.zeros(2), w),
    lambda w: sm.mollify(torch.cos, torch.zeros(2), "gaussian", w),
]


@pytest.mark.parametrize("fn", WIDTH_FUNCS)
@pytest.mark.parametrize("w", [0.0, -1.0, math.inf, -math.inf, math.nan])
def test_widths_must_be_finite_and_positive(fn, w):
    with pytest.raises(ValueError, match="must be finite and > 0"):
        fn(w)


@pytest.mark.parametrize("fn", WIDTH_FUNCS)
@pytest.mark.parametrize("w", ["1", True, None, torch.tensor(1.0)])
def test_widths_must_be_real_numbers(fn, w):
    with pytest.raises(TypeError, match="must be a real number"):
        fn(w)


def test_unknown_kernel_and_bad_moment_order():
    for fn in (lambda: sm.kernel_density(0.0, "box"), lambda: sm.kernel_cdf(0.0, "cauchy"),
               lambda: sm.kernel_abs_moment("uniform")):
        with pytest.raises(ValueError, match="not a known kernel"):
            fn()
    with pytest.raises(ValueError, match="p=-1"):
        sm.kernel_abs_moment("gaussian", 1.0, -1.0)
    with pytest.raises(ValueError, match="p=nan"):
        sm.kernel_abs_moment("gaussian", 1.0, math.nan)
    with pytest.raises(TypeError, match="p="):
        sm.kernel_abs_moment("gaussian", 1.0, "2")


@pytest.mark.parametrize("fn", [sm.smooth_relu_logistic, sm.smooth_relu_gaussian, sm.swish, sm.gelu_sigma,
                                sm.smooth_floor, lambda x: sm.gaussian_delta(x, 1.0)])
def test_inputs_must_be_real(fn):
    with pytest.raises(TypeError, match="dtype"):
        fn(torch.zeros(2, dtype=torch.complex64))
    with pytest.raises(TypeError, match="dtype"):
        fn(torch.zeros(2, dtype=torch.bool))
    with pytest.raises(TypeError, match="dtype"):
        fn(np.array(["a", "b"]))
    out = fn(torch.tensor([0, 1, 2]))                # integers are promoted to the default float
    assert out.dtype == torch.get_default_dtype()
    assert fn([0.0, 1.0]).dtype == f64                # array-likes become float64


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu():
    x = torch.linspace(-30, 30, 10001, dtype=f64)
    for fn in (lambda z: sm.smooth_relu_logistic(z, 2.0), lambda z: sm.smooth_relu_gaussian(z, 0.5),
               lambda z: sm.swish(z, 3.0), lambda z: sm.gelu_sigma(z, 0.5),
               lambda z: sm.smooth_floor(z, 10.0, 5, 10), lambda z: sm.smooth_floor(z, 10.0, 500, 500),
               lambda z: sm.mollify(torch.relu, z, "gaussian", 1.0)):
        torch.testing.assert_close(fn(x.cuda()).cpu(), fn(x), rtol=1e-13, atol=1e-13)
