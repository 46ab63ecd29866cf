"""Tests of kexue_book.prob.spherical: angles between random directions in R^n.

References: scipy.stats.beta (the cosine's Beta law), scipy.integrate.quad (normalisation,
variance integral), scipy.special.polygamma (trigamma), mpmath (tails at high precision).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, special, stats

from kexue_book.prob import spherical as S

FAST = settings(max_examples=50, deadline=None)
dims = st.integers(min_value=2, max_value=5000)
interior = st.floats(min_value=1e-3, max_value=math.pi - 1e-3)


def _quad_variance(n: int) -> float:
    """Equation E7 by quadrature, u = theta - pi/2 on [0, pi/2], doubled by symmetry."""
    lc = S.angle_log_normaliser(n)
    f = lambda u: 2.0 * u * u * math.exp(lc + (n - 2) * math.log(math.cos(u))) if u < math.pi / 2 else 0.0
    val, _ = integrate.quad(f, 0.0, math.pi / 2, limit=200, epsabs=0.0, epsrel=1e-13)
    return val


# --------------------------------------------------------------------------- constants
def test_sphere_area_known_values():
    assert S.sphere_area(1) == pytest.approx(2.0, rel=1e-15)
    assert S.sphere_area(2) == pytest.approx(2 * math.pi, rel=1e-15)
    assert S.sphere_area(3) == pytest.approx(4 * math.pi, rel=1e-15)
    assert S.sphere_area(4) == pytest.approx(2 * math.pi**2, rel=1e-15)
    # log form stays finite where the area underflows
    assert S.sphere_area(10**6) == 0.0
    assert math.isfinite(S.log_sphere_area(10**6)) and S.log_sphere_area(10**6) < -1e6


@pytest.mark.parametrize("n", [2, 3, 4, 7, 50, 99, 100, 101, 102, 1000])
def test_normaliser_is_ratio_of_sphere_areas_and_beta(n):
    # (the difference of two log-areas loses ~n*1e-16 to cancellation: moderate n only)
    ratio = math.exp(S.log_sphere_area(n - 1) - S.log_sphere_area(n))
    assert S.angle_normaliser(n) == pytest.approx(ratio, rel=1e-12)
    a = 0.5 * (n - 1)
    # c_n = 1 / (2^{n-2} B(a, a)), from the change of variables to the Beta law
    log_c = -(n - 2) * math.log(2.0) - special.betaln(a, a)
    assert S.angle_log_normaliser(n) == pytest.approx(log_c, rel=1e-12, abs=1e-12)


def test_normaliser_high_precision():
    mpmath = pytest.importorskip("mpmath")
    mpmath.mp.dps = 40
    for n in (2, 5, 100, 101, 102, 103, 1000, 12345, 10**6, 10**9, 10**15):
        x = mpmath.mpf(n - 1) / 2
        ref = mpmath.gamma(x + mpmath.mpf(1) / 2) / (mpmath.gamma(x) * mpmath.sqrt(mpmath.pi))
        assert S.angle_normaliser(n) == pytest.approx(float(ref), rel=2e-15)


def test_normaliser_special_values():
    assert S.angle_normaliser(2) == pytest.approx(1 / math.pi, rel=1e-15)
    assert S.angle_normaliser(3) == pytest.approx(0.5, rel=1e-15)


# --------------------------------------------------------------------------- densities
@pytest.mark.parametrize("n", [2, 3, 4, 7, 50, 1000, 4096])
def test_angle_pdf_integrates_to_one(n):
    f = lambda t: float(S.angle_pdf(t, n))
    total, _ = integrate.quad(f, 0.0, math.pi, points=[math.pi / 2], limit=200, epsabs=1e-13)
    assert abs(total - 1.0) < 1e-10


@FAST
@given(theta=interior, n=dims)
def test_angle_logpdf_matches_scipy_beta(theta, n):
    a = 0.5 * (n - 1)
    # (1 + cos theta)/2 ~ Beta(a, a) and |dB/dtheta| = sin(theta)/2
    ref = stats.beta(a, a).logpdf(0.5 * (1 + math.cos(theta))) + math.log(math.sin(theta) / 2)
    got = float(S.angle_logpdf(theta, n))
    assert got == pytest.approx(ref, rel=1e-9, abs=1e-9)


@FAST
@given(eta=st.floats(min_value=-0.999, max_value=0.999), n=dims)
def test_cosine_logpdf_matches_scipy_beta(eta, n):
    a = 0.5 * (n - 1)
    ref = stats.beta(a, a).logpdf(0.5 * (1 + eta)) - math.log(2.0)
    assert float(S.cosine_logpdf(eta, n)) == pytest.approx(ref, rel=1e-9, abs=1e-9)


@FAST
@given(theta=interior, n=dims)
def test_angle_pdf_symmetric_and_consistent_with_cosine(theta, n):
    lp = float(S.angle_logpdf(theta, n))
    assert float(S.angle_logpdf(math.pi - theta, n)) == pytest.approx(lp, rel=1e-9, abs=1e-9)
    # change of variables: p_theta(theta) = p_eta(cos theta) * sin theta
    ref = float(S.cosine_logpdf(math.cos(theta), n)) + math.log(math.sin(theta))
    assert lp == pytest.approx(ref, rel=1e-9, abs=1e-9)


def test_low_dimensional_special_cases():
    t = torch.linspace(0, math.pi, 101, dtype=torch.float64)
    torch.testing.assert_close(S.angle_pdf(t, 2), torch.full_like(t, 1 / math.pi), rtol=1e-15, atol=0)
    torch.testing.assert_close(S.angle_cdf(t, 2), t / math.pi, rtol=1e-13, atol=1e-15)
    e = torch.linspace(-1, 1, 101, dtype=torch.float64)
    torch.testing.assert_close(S.cosine_pdf(e, 3), torch.full_like(e, 0.5), rtol=1e-15, atol=0)
    torch.testing.assert_close(S.cosine_cdf(e, 3), (1 + e) / 2, rtol=1e-13, atol=1e-15)
    # n = 2: arcsine law, infinite at the endpoints
    inner = e[1:-1]
    torch.testing.assert_close(S.cosine_pdf(inner, 2), 1 / (math.pi * torch.sqrt(1 - inner**2)), rtol=1e-12, atol=0)
    assert torch.isinf(S.cosine_pdf(torch.tensor([-1.0, 1.0]), 2)).all()


def test_mode_is_pi_over_two():
    t = torch.linspace(0, math.pi, 20001, dtype=torch.float64)
    for n in (3, 4, 10, 100, 5000):
        assert abs(float(t[S.angle_pdf(t, n).argmax()]) - math.pi / 2) <= math.pi / 20000
        assert float(S.angle_pdf(math.pi / 2, n)) == pytest.approx(S.angle_normaliser(n), rel=1e-14)


def test_out_of_range_values():
    t = torch.tensor([-0.1, -1e-300, math.pi + 1e-12, 10.0], dtype=torch.float64)
    for n in (2, 3, 20):
        assert (S.angle_pdf(t, n) == 0).all()
        assert torch.isneginf(S.angle_logpdf(t, n)).all()
        torch.testing.assert_close(S.angle_cdf(t, n), torch.tensor([0.0, 0.0, 1.0, 1.0], dtype=torch.float64))
    e = torch.tensor([-1.5, -1 - 1e-12, 1 + 1e-12, 3.0], dtype=torch.float64)
    for n in (2, 3, 20):
        assert (S.cosine_pdf(e, n) == 0).all()
        torch.testing.assert_close(S.cosine_cdf(e, n), torch.tensor([0.0, 0.0, 1.0, 1.0], dtype=torch.float64))
    # at the endpoints the density is c_2 (n=2), tiny but >= 0 otherwise
    assert float(S.angle_pdf(0.0, 2)) == pytest.approx(1 / math.pi)
    assert float(S.angle_pdf(0.0, 5)) == 0.0


def test_dtype_shape_and_float32_pi():
    t32 = torch.tensor([[0.0, math.pi / 2], [1.0, math.pi]], dtype=torch.float32)
    for fn in (S.angle_pdf, S.angle_logpdf, S.angle_cdf):
        out = fn(t32, 2)
        assert out.dtype == torch.float32 and out.shape == (2, 2)
    # float32(pi) is slightly above pi but is still the right endpoint
    assert float(S.angle_pdf(t32, 2)[1, 1]) == pytest.approx(1 / math.pi, rel=1e-6)
    assert S.angle_pdf([0, 1, 2], 3).dtype == torch.float64
    assert S.angle_pdf(torch.tensor([0, 1, 2]), 3).dtype == torch.float64
    assert S.cosine_pdf(np.array([0.1, 0.2], dtype=np.float64), 5).shape == (2,)
    assert S.angle_pdf(1.0, 5).shape == ()


def test_logpdf_autograd():
    x = torch.tensor([0.3, 1.0, 2.5], dtype=torch.float64, requires_grad=True)
    S.angle_logpdf(x, 7).sum().backward()
    torch.testing.assert_close(x.grad, 5 / torch.tan(x.detach()))


# --------------------------------------------------------------------------- cdf
@FAST
@given(theta=interior, n=st.integers(min_value=2, max_value=300))
def test_angle_cdf_matches_scipy_beta_and_symmetry(theta, n):
    a = 0.5 * (n - 1)
    ref = stats.beta(a, a).sf(0.5 * (1 + math.cos(theta)))
    got = float(S.angle_cdf(theta, n))
    assert got == pytest.approx(ref, rel=1e-10, abs=1e-14)
    assert got + float(S.angle_cdf(math.pi - theta, n)) == pytest.approx(1.0, abs=1e-13)


@FAST
@given(eta=st.floats(min_value=-1.0, max_value=1.0), n=st.integers(min_value=2, max_value=300))
def test_cosine_cdf_matches_scipy_beta(eta, n):
    a = 0.5 * (n - 1)
    ref = stats.beta(a, a).cdf(0.5 * (1 + eta))
    assert float(S.cosine_cdf(eta, n)) == pytest.approx(ref, rel=1e-10, abs=1e-14)


@pytest.mark.parametrize("n", [2, 3, 5, 40, 400])
def test_angle_cdf_is_integral_of_pdf(n):
    for t in (0.2, 1.0, math.pi / 2, 2.0, 3.0):
        val, _ = integrate.quad(lambda s: float(S.angle_pdf(s, n)), 0.0, t, limit=200, epsabs=1e-14)
        assert float(S.angle_cdf(t, n)) == pytest.approx(val, rel=1e-9, abs=1e-13)


def test_cdf_tails_are_accurate():
    mpmath = pytest.importorskip("mpmath")
    mpmath.mp.dps = 40
    for n, t in [(50, 0.05), (200, 0.3), (1000, 1.0)]:
        a = mpmath.mpf(n - 1) / 2
        x = mpmath.sin(mpmath.mpf(t) / 2) ** 2
        ref = float(mpmath.betainc(a, a, 0, x, regularized=True))
        assert 0 < ref < 1e-20
        assert float(S.angle_cdf(t, n)) == pytest.approx(ref, rel=1e-9)
        assert float(S.cosine_cdf(-math.cos(t), n)) == pytest.approx(ref, rel=1e-9)


def test_cdf_monotone():
    t = torch.linspace(-0.5, math.pi + 0.5, 5001, dtype=torch.float64)
    for n in (2, 3, 10, 1000):
        c = S.angle_cdf(t, n)
        assert (c.diff() >= 0).all() and float(c[0]) == 0.0 and float(c[-1]) == 1.0


# --------------------------------------------------------------------------- variance
def test_variance_matches_trigamma():
    ns = list(range(2, 300)) + [1001, 4096, 10**5, 10**9, 2**53]
    for n in ns:
        ref = special.polygamma(1, n / 2) / 2
        assert S.angle_variance(n) == pytest.approx(ref, rel=5e-15)


@pytest.mark.parametrize("n", [2, 3, 4, 5, 10, 20, 50, 100, 200, 1000])
def test_variance_matches_quadrature(n):
    assert abs(S.angle_variance(n) - _quad_variance(n)) < 1e-12


def test_variance_closed_forms_and_post_table():
    assert S.angle_variance(2) == pytest.approx(math.pi**2 / 12, rel=1e-15)
    assert S.angle_variance(3) == pytest.approx(math.pi**2 / 4 - 2, rel=1e-15)
    table = {3: 0.467401, 10: 0.110661, 20: 0.0525832, 50: 0.0204053, 100: 0.0101007,
             200: 0.00502508, 1000: 0.001001}
    for n, v in table.items():
        assert abs(S.angle_variance(n) / v - 1) < 1e-5


@FAST
@given(n=st.integers(min_value=2, max_value=10**7))
def test_variance_recurrence_and_bounds(n):
    v = S.angle_variance(n)
    assert v - S.angle_variance(n + 2) == pytest.approx(2.0 / n**2, rel=1e-9)
    assert 1.0 / n < v < 1.0 / (n - 1)
    if n >= 3:
        assert v < S.angle_variance_laplace(n)
    assert S.angle_variance(n + 1) < v


def test_variance_relative_errors_of_approximations():
    # 1/(n-2) is high by ~1/n relative; 1/(n-1) by ~1/(3 n^2)
    for n in (1000, 10**4, 10**5):
        v = S.angle_variance(n)
        # n * relerr = 1 + 7/(3n) + O(n^-2);  n^2 * relerr = 1/3 + O(1/n)
        assert n * (S.angle_variance_laplace(n) / v - 1) == pytest.approx(1.0 + 7 / (3 * n), rel=5.0 / n**2)
        assert n**2 * (1 / ((n - 1) * v) - 1) == pytest.approx(1 / 3, rel=5.0 / n)


def test_asymptotic_expansion():
    assert S.angle_variance_asymptotic(10, 1) == pytest.approx(0.1, rel=1e-15)
    assert S.angle_variance_asymptotic(10, 2) == pytest.approx(0.11, rel=1e-15)
    assert S.angle_variance_asymptotic(10, 3) == pytest.approx(0.11 + 2 / 3000, rel=1e-15)
    assert S.angle_variance_asymptotic(10, 4) == S.angle_variance_asymptotic(10, 3)
    assert S.angle_variance_asymptotic(10, 5) == pytest.approx(0.11 + 2 / 3000 - 8 / 15e5, rel=1e-15)
    for n in (20, 50, 100, 1000):
        exact = S.angle_variance(n)
        # once the 1/n^2 term is in, the remainder is below the first omitted term
        prev_err = None
        for order in (2, 3, 5, 7, 9):
            err = abs(S.angle_variance_asymptotic(n, order) - exact)
            nxt = abs(S.angle_variance_asymptotic(n, order + 2 if order >= 3 else 3)
                      - S.angle_variance_asymptotic(n, order))
            assert err <= nxt * (1 + 1e-6) + 1e-17
            if prev_err is not None and prev_err > 1e-17:
                assert err < prev_err
            prev_err = err


# --------------------------------------------------------------------------- sampling
def test_sample_angles_shape_range_reproducible():
    g = torch.Generator().manual_seed(1)
    a = S.sample_angles(7, 1000, generator=g)
    assert a.shape == (1000,) and a.dtype == torch.float64 and a.device.type == "cpu"
    assert float(a.min()) >= 0.0 and float(a.max()) <= math.pi
    b = S.sample_angles(7, 1000, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    c = S.sample_angles(7, 1000, generator=torch.Generator().manual_seed(1), chunk=1000)
    torch.testing.assert_close(a, c, rtol=0, atol=0)  # default chunk > 1000 here
    d = S.sample_angles(7, 10, generator=torch.Generator().manual_seed(1), chunk=3, dtype=torch.float32)
    assert d.shape == (10,) and d.dtype == torch.float32


@pytest.mark.parametrize("n", [2, 3, 5, 64])
def test_sample_angles_follow_the_law(n):
    m = 20_000
    th = S.sample_angles(n, m, generator=torch.Generator().manual_seed(100 + n), chunk=4096)
    p = stats.kstest(th.numpy(), lambda x: S.angle_cdf(x, n).numpy()).pvalue
    assert p > 1e-3
    u2 = (th - math.pi / 2) ** 2
    z_mean = (float(th.mean()) - math.pi / 2) / (float(th.std()) / math.sqrt(m))
    z_var = (float(u2.mean()) - S.angle_variance(n)) / (float(u2.std()) / math.sqrt(m))
    assert abs(z_mean) < 5 and abs(z_var) < 5


def test_sample_uniform_sphere():
    n, m = 6, 20_000
    x = S.sample_uniform_sphere(n, m, generator=torch.Generator().manual_seed(3))
    assert x.shape == (m, n)
    torch.testing.assert_close(torch.linalg.vector_norm(x, dim=1), torch.ones(m, dtype=torch.float64))
    p = stats.kstest(x[:, 0].numpy(), lambda e: S.cosine_cdf(e, n).numpy()).pvalue
    assert p > 1e-3
    # E[x_1^2] = 1/n, checked in standard errors
    sq = x[:, 0] ** 2
    assert abs(float(sq.mean()) - 1 / n) < 5 * float(sq.std()) / math.sqrt(m)


# --------------------------------------------------------------------------- bad input
BAD_DIMS = [1, 0, -3, 2.5, 3.0, True, np.True_, "3", None, 2**53 + 1, torch.tensor(3)]


@pytest.mark.parametrize("n", BAD_DIMS)
def test_bad_dimension_rejected_everywhere(n):
    calls = [
        lambda: S.angle_pdf(1.0, n),
        lambda: S.angle_logpdf(1.0, n),
        lambda: S.angle_cdf(1.0, n),
        lambda: S.cosine_pdf(0.5, n),
        lambda: S.cosine_logpdf(0.5, n),
        lambda: S.cosine_cdf(0.5, n),
        lambda: S.angle_normaliser(n),
        lambda: S.angle_log_normaliser(n),
        lambda: S.angle_variance(n),
        lambda: S.angle_variance_asymptotic(n),
        lambda: S.angle_variance_laplace(n),
        lambda: S.sample_angles(n, 10),
        lambda: S.sample_uniform_sphere(n, 10),
    ]
    for call in calls:
        with pytest.raises(ValueError, match="n="):
            call()


@pytest.mark.parametrize("n", [0, -1, 1.0, True, "2"])
def test_bad_dimension_for_sphere_area(n):
    with pytest.raises(ValueError, match="n="):
        S.sphere_area(n)
    with pytest.raises(ValueError, match="n="):
        S.log_sphere_area(n)


def test_laplace_rejects_n_equal_two():
    with pytest.raises(ValueError, match=r"n=2.*>= 3"):
        S.angle_variance_laplace(2)
    assert S.angle_variance_laplace(3) == 1.0


@pytest.mark.parametrize("order", [0, 24, 1.5, True, "3"])
def test_bad_order(order):
    with pytest.raises(ValueError, match="order="):
        S.angle_variance_asymptotic(10, order)


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf, [0.1, math.nan]])
def test_non_finite_arguments_raise(bad):
    for fn in (S.angle_pdf, S.angle_logpdf, S.angle_cdf):
        with pytest.raises(ValueError, match="theta"):
            fn(bad, 5)
        with pytest.raises(ValueError, match="theta"):
            fn(torch.tensor(bad, dtype=torch.float32), 5)
    for fn in (S.cosine_pdf, S.cosine_logpdf, S.cosine_cdf):
        with pytest.raises(ValueError, match="eta"):
            fn(bad, 5)


@pytest.mark.parametrize("bad", ["0.5", [1 + 2j], torch.tensor([True]), True, torch.tensor([1j]), None])
def test_non_real_arguments_raise(bad):
    with pytest.raises(TypeError, match="theta"):
        S.angle_pdf(bad, 5)
    with pytest.raises(TypeError, match="eta"):
        S.cosine_cdf(bad, 5)


@pytest.mark.parametrize("num", [0, -5, 2.0, True, "10", None])
def test_bad_num(num):
    with pytest.raises(ValueError, match="num="):
        S.sample_angles(5, num)
    with pytest.raises(ValueError, match="num="):
        S.sample_uniform_sphere(5, num)


@pytest.mark.parametrize("chunk", [0, -1, 1.5, False])
def test_bad_chunk(chunk):
    with pytest.raises(ValueError, match="chunk="):
        S.sample_angles(5, 10, chunk=chunk)


@pytest.mark.parametrize("dtype", [torch.int64, torch.bool, torch.complex128, "float64", np.float64])
def test_bad_dtype(dtype):
    with pytest.raises(ValueError, match="dtype="):
        S.sample_angles(5, 10, dtype=dtype)
    with pytest.raises(ValueError, match="dtype="):
        S.sample_uniform_sphere(5, 10, dtype=dtype)


def test_bad_generator_and_device():
    with pytest.raises(TypeError, match="generator"):
        S.sample_angles(5, 10, generator=np.random.default_rng(0))
    with pytest.raises(ValueError, match="device="):
        S.sample_angles(5, 10, device="not-a-device")
    with pytest.raises(ValueError, match="device="):
        S.sample_angles(5, 10, generator=torch.Generator(), device="meta")
    with pytest.raises(ValueError, match="device="):
        S.sample_uniform_sphere(5, 10, generator=torch.Generator(), device="meta")
