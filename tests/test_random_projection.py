"""Tests of kexue_book.prob.random_projection (chapters 02 and 03)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, stats
from sklearn.random_projection import GaussianRandomProjection, johnson_lindenstrauss_min_dim
from sklearn.utils.extmath import randomized_svd as sk_randomized_svd

from kexue_book.prob import random_projection as rp

F64 = torch.float64


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def low_rank(m: int, n: int, r: int, seed: int = 0, dtype: torch.dtype = F64) -> torch.Tensor:
    g = gen(seed)
    return torch.randn(m, r, generator=g, dtype=dtype) @ torch.randn(r, n, generator=g, dtype=dtype)


# --------------------------------------------------------------------------- projection
def test_gaussian_projection_shape_dtype_and_variance():
    a = rp.gaussian_projection(300, 50, generator=gen(1), dtype=F64)
    assert a.shape == (50, 300) and a.dtype == F64
    # sample variance of 15000 N(0, 1/50) entries: SE = sqrt(2/15000)/50
    z = (a.var().item() - 1 / 50) / (math.sqrt(2 / a.numel()) / 50)
    assert abs(z) < 5
    assert abs(a.mean().item()) < 5 / math.sqrt(a.numel() * 50)


def test_gaussian_projection_matches_sklearn_distribution():
    ours = rp.gaussian_projection(400, 40, generator=gen(2), dtype=F64).numpy().ravel()
    skl = GaussianRandomProjection(n_components=40, random_state=0).fit(np.zeros((2, 400))).components_.ravel()
    assert stats.ks_2samp(ours, skl).pvalue > 1e-3


def test_gaussian_projection_is_reproducible_with_generator():
    a = rp.gaussian_projection(10, 3, generator=gen(7))
    b = rp.gaussian_projection(10, 3, generator=gen(7))
    assert torch.equal(a, b)


def test_projection_of_unit_vector_has_identity_over_n_covariance():
    # E9: Au ~ N(0, I/n) for unit u; empirical covariance over 4000 matrices
    n, m, t = 4, 30, 4000
    u = torch.randn(m, generator=gen(3), dtype=F64)
    u /= u.norm()
    g = gen(4)
    ys = torch.stack([rp.gaussian_projection(m, n, generator=g, dtype=F64) @ u for _ in range(t)])
    cov = ys.T @ ys / t
    se = math.sqrt(2 / t) / n  # SE of a diagonal entry (off-diagonal is smaller)
    assert (cov - torch.eye(n, dtype=F64) / n).abs().max().item() < 5 * se


@pytest.mark.parametrize("bad", [0, -3])
def test_gaussian_projection_rejects_small_dims(bad):
    with pytest.raises(ValueError, match="in_dim"):
        rp.gaussian_projection(bad, 3)
    with pytest.raises(ValueError, match="out_dim"):
        rp.gaussian_projection(3, bad)


def test_gaussian_projection_rejects_bad_types():
    with pytest.raises(TypeError, match="in_dim"):
        rp.gaussian_projection(3.0, 3)
    with pytest.raises(TypeError, match="out_dim"):
        rp.gaussian_projection(3, True)
    with pytest.raises(ValueError, match="batch"):
        rp.gaussian_projection(3, 3, batch=0)
    with pytest.raises(TypeError, match="dtype"):
        rp.gaussian_projection(3, 3, dtype=torch.int64)


# --------------------------------------------------------------------------- dimensions
def test_jl_min_dim_values():
    assert rp.jl_min_dim(100, 0.5) == math.floor(24 * math.log(100) / 0.25) + 1 == 443
    assert rp.jl_min_dim(100, 0.5, constant=16) == 295
    out = rp.jl_min_dim([10, 1000], 0.1)
    assert out.tolist() == [math.floor(2400 * math.log(10)) + 1, math.floor(2400 * math.log(1000)) + 1]


def test_dasgupta_gupta_matches_sklearn():
    ns = np.array([2, 10, 100, 10_000, 10**6])
    for eps in (0.05, 0.1, 0.3, 0.5, 0.9):
        ours = rp.dasgupta_gupta_min_dim(ns, eps)
        skl = johnson_lindenstrauss_min_dim(ns, eps=eps)
        exact = 4 * np.log(ns) / (eps**2 / 2 - eps**3 / 3)
        assert np.all(ours >= exact) and np.all(ours - exact < 1)
        assert np.all((ours - skl >= 0) & (ours - skl <= 1))  # sklearn truncates


@given(st.integers(2, 10**9), st.floats(0.01, 0.99))
@settings(max_examples=50, deadline=None)
def test_post_bound_is_looser_than_dasgupta_gupta(n_points, eps):
    # 16/eps^2 >= 8/(eps^2 (1 - 2 eps/3)) iff eps <= 3/4; the 24 version is always looser
    assert rp.jl_min_dim(n_points, eps) >= rp.dasgupta_gupta_min_dim(n_points, eps) - 1
    if eps <= 0.75:
        assert rp.jl_min_dim(n_points, eps, constant=16) >= rp.dasgupta_gupta_min_dim(n_points, eps) - 1


@pytest.mark.parametrize("fn", [rp.jl_min_dim, rp.dasgupta_gupta_min_dim])
def test_min_dim_rejects_bad_input(fn):
    for bad_n in (1, 0, 2.5, float("nan")):
        with pytest.raises(ValueError, match="num_points"):
            fn(bad_n, 0.5)
    for bad_eps in (0.0, 1.0, -0.1, 1.5, float("inf")):
        with pytest.raises(ValueError, match="eps"):
            fn(100, bad_eps)
    with pytest.raises(TypeError, match="eps"):
        fn(100, "a")


def test_jl_min_dim_rejects_bad_constant():
    for bad in (0.0, -1.0, float("inf")):
        with pytest.raises(ValueError, match="constant"):
            rp.jl_min_dim(100, 0.5, constant=bad)
    with pytest.raises(TypeError, match="constant"):
        rp.jl_min_dim(100, 0.5, constant="24")


# --------------------------------------------------------------------------- tails
@pytest.mark.parametrize("n", [1, 8, 100])
@pytest.mark.parametrize("lam_frac", [-3.0, -0.2, 0.1, 0.3, 0.45])
def test_sq_gaussian_mgf_matches_quadrature(n, lam_frac):
    lam = lam_frac * n
    val, _ = integrate.quad(lambda u: math.exp((lam - n / 2) * u * u) * math.sqrt(n / (2 * math.pi)),
                            -np.inf, np.inf, epsabs=0, epsrel=1e-12)
    assert rp.sq_gaussian_mgf(lam, n) == pytest.approx(val, rel=1e-9)


def test_sq_gaussian_mgf_rejects_divergent_lambda():
    with pytest.raises(ValueError, match="lam"):
        rp.sq_gaussian_mgf(5.0, 10)
    with pytest.raises(ValueError, match="lam"):
        rp.sq_gaussian_mgf([0.1, 6.0], 10)
    with pytest.raises(ValueError, match="n"):
        rp.sq_gaussian_mgf(0.1, 0)
    with pytest.raises(ValueError, match="lam"):
        rp.sq_gaussian_mgf(float("nan"), 10)


def test_norm_tail_exact_matches_chi2_and_monte_carlo():
    assert rp.norm_tail_exact(500, 0.2) == pytest.approx(stats.chi2.sf(600, 500) + stats.chi2.cdf(400, 500), rel=1e-12)
    n, t, eps = 50, 200_000, 0.3
    sq = (torch.randn(t, n, generator=gen(5), dtype=F64) ** 2).mean(1)
    for side, hit in (("upper", sq - 1 >= eps), ("lower", 1 - sq >= eps), ("both", (sq - 1).abs() >= eps)):
        p = rp.norm_tail_exact(n, eps, side=side)
        f = hit.double().mean().item()
        assert abs(f - p) < 5 * math.sqrt(p * (1 - p) / t)


def test_norm_tail_chernoff_closed_form_is_the_optimum():
    from scipy.optimize import minimize_scalar

    n, eps = 64, 0.3
    up = minimize_scalar(lambda lam: -lam * (1 + eps) - n / 2 * math.log1p(-2 * lam / n),
                         bounds=(1e-9, n / 2 - 1e-9), method="bounded", options={"xatol": 1e-10})
    lo = minimize_scalar(lambda lam: lam * (1 - eps) - n / 2 * math.log1p(2 * lam / n),
                         bounds=(1e-9, 10 * n), method="bounded", options={"xatol": 1e-10})
    assert math.exp(up.fun) == pytest.approx(rp.norm_tail_chernoff(n, eps, "upper"), rel=1e-9)
    assert math.exp(lo.fun) == pytest.approx(rp.norm_tail_chernoff(n, eps, "lower"), rel=1e-9)
    assert up.x == pytest.approx(n * eps / (2 * (1 + eps)), rel=1e-6)
    assert lo.x == pytest.approx(n * eps / (2 * (1 - eps)), rel=1e-6)


@given(st.integers(1, 5000), st.floats(0.001, 0.999))
@settings(max_examples=50, deadline=None)
def test_tail_ordering(n, eps):
    for side in ("upper", "lower", "both"):
        exact = rp.norm_tail_exact(n, eps, side)
        cher = rp.norm_tail_chernoff(n, eps, side)
        bound = rp.norm_tail_bound(n, eps, side)
        assert exact <= cher * (1 + 1e-9) + 1e-300
        assert cher <= bound * (1 + 1e-12)


def test_tails_vectorise():
    ns = np.array([[10], [100]])
    eps = np.array([0.1, 0.5])
    for fn in (rp.norm_tail_exact, rp.norm_tail_chernoff, rp.norm_tail_bound):
        out = fn(ns, eps)
        assert out.shape == (2, 2)
        assert out[0, 0] == pytest.approx(fn(10, 0.1))


@pytest.mark.parametrize("fn", [rp.norm_tail_exact, rp.norm_tail_chernoff, rp.norm_tail_bound])
def test_tails_reject_bad_input(fn):
    with pytest.raises(ValueError, match="eps"):
        fn(10, 1.0)
    with pytest.raises(ValueError, match="eps"):
        fn(10, 0.0)
    with pytest.raises(ValueError, match="n="):
        fn(0, 0.5)
    with pytest.raises(ValueError, match="n="):
        fn(2.5, 0.5)
    with pytest.raises(ValueError, match="side"):
        fn(10, 0.5, side="left")
    with pytest.raises(ValueError, match="finite"):
        fn(float("nan"), 0.5)


def test_inner_product_tail_exact_small_n_closed_forms_and_mc():
    # n = 2: <u, v> is Laplace with scale 1/2, so P(|<u,v>| >= e) = exp(-2e)
    for e in (0.05, 0.5, 2.0):
        assert rp.inner_product_tail_exact(2, e) == pytest.approx(math.exp(-2 * e), rel=1e-8)
    n, t = 32, 100_000
    g = gen(6)
    ip = (torch.randn(t, n, generator=g, dtype=F64) * torch.randn(t, n, generator=g, dtype=F64)).sum(1) / n
    for e in (0.15, 0.3, 0.45):
        p = rp.inner_product_tail_exact(n, e)
        f = (ip.abs() >= e).double().mean().item()
        assert abs(f - p) < 5 * math.sqrt(p * (1 - p) / t)
        assert p <= rp.inner_product_tail_bound(n, e)


def test_inner_product_tail_rejects_bad_input():
    with pytest.raises(ValueError, match="eps"):
        rp.inner_product_tail_exact(10, 0.0)
    with pytest.raises(ValueError, match="n="):
        rp.inner_product_tail_exact(0, 0.1)
    with pytest.raises(TypeError, match="n="):
        rp.inner_product_tail_exact(1.5, 0.1)
    with pytest.raises(ValueError, match="eps"):
        rp.inner_product_tail_bound(10, 1.2)


# --------------------------------------------------------------------------- distortion
def brute_ratios(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    i, j = torch.triu_indices(x.shape[0], x.shape[0], 1)
    dx = ((x[i] - x[j]) ** 2).sum(1)
    dy = ((y[i] - y[j]) ** 2).sum(1)
    return dy / dx


@given(st.integers(2, 40), st.integers(1, 12), st.integers(1, 12), st.integers(1, 50), st.integers(0, 2**31))
@settings(max_examples=40, deadline=None)
def test_distance_ratios_match_brute_force(n_points, m, n, chunk, seed):
    g = gen(seed)
    x = torch.randn(n_points, m, generator=g, dtype=F64) * 3 + 5  # an offset to test the centring
    y = torch.randn(n_points, n, generator=g, dtype=F64)
    ref = brute_ratios(x, y)
    ours = rp.pairwise_sq_distance_ratios(x, y, chunk_size=chunk)
    # Gram-matrix distances: absolute error ~ 1e-16 * (|x_i|^2 + |x_j|^2) for centred points
    i, j = torch.triu_indices(n_points, n_points, 1)
    xc, yc = x - x.mean(0), y - y.mean(0)
    sx, sy = (xc * xc).sum(1), (yc * yc).sum(1)
    dx = ((x[i] - x[j]) ** 2).sum(1)
    tol = 1e-9 * ref + 1e-13 * ((sy[i] + sy[j]) + ref * (sx[i] + sx[j])) / dx
    assert torch.all((ours - ref).abs() <= tol)
    worst = float((ref - 1).abs().max())
    assert abs(rp.max_sq_distance_distortion(x, y, chunk_size=chunk) - worst) <= float(tol.max()) + 1e-12 * worst


@given(st.integers(2, 30), st.integers(1, 10), st.integers(1, 40), st.integers(0, 2**31))
@settings(max_examples=50, deadline=None)
def test_inner_product_error_matches_brute_force(n_points, m, chunk, seed):
    g = gen(seed)
    x = torch.randn(n_points, m, generator=g, dtype=F64)
    y = torch.randn(n_points, m + 1, generator=g, dtype=F64)
    i, j = torch.triu_indices(n_points, n_points, 1)
    ref = ((y[i] * y[j]).sum(1) - (x[i] * x[j]).sum(1)).abs().max().item()
    assert rp.max_inner_product_error(x, y, chunk_size=chunk) == pytest.approx(ref, rel=1e-9, abs=1e-12)


def test_distortion_is_zero_for_isometries():
    x = torch.randn(30, 8, generator=gen(8), dtype=F64)
    rot = torch.linalg.qr(torch.randn(8, 8, generator=gen(9), dtype=F64)).Q
    assert rp.max_sq_distance_distortion(x, x @ rot) < 1e-12
    assert rp.max_inner_product_error(x, x @ rot) < 1e-12


def test_distortion_works_for_float32_input():
    x = torch.randn(20, 5, generator=gen(10))
    y = 2 * x
    assert rp.max_sq_distance_distortion(x, y) == pytest.approx(3.0, rel=1e-6)


def test_distortion_rejects_bad_input():
    x = torch.randn(5, 3, dtype=F64)
    with pytest.raises(ValueError, match="same number of rows"):
        rp.max_sq_distance_distortion(x, torch.randn(4, 2, dtype=F64))
    with pytest.raises(ValueError, match="same number of rows"):
        rp.max_inner_product_error(x, torch.randn(4, 2, dtype=F64))
    dup = x.clone()
    dup[3] = dup[1]
    with pytest.raises(ValueError, match="duplicate"):
        rp.max_sq_distance_distortion(dup, torch.randn(5, 2, dtype=F64))
    with pytest.raises(ValueError, match="duplicate"):
        rp.pairwise_sq_distance_ratios(dup, torch.randn(5, 2, dtype=F64))
    bad = x.clone()
    bad[0, 0] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        rp.max_sq_distance_distortion(bad, x)
    with pytest.raises(ValueError, match="NaN"):
        rp.max_inner_product_error(x, bad)
    with pytest.raises(ValueError, match="at least 2"):
        rp.max_sq_distance_distortion(x[:1], x[:1])
    with pytest.raises(ValueError, match="2-D"):
        rp.max_sq_distance_distortion(x[0], x[0])
    with pytest.raises(TypeError, match="torch.Tensor"):
        rp.max_sq_distance_distortion(x.numpy(), x)
    with pytest.raises(TypeError, match="floating"):
        rp.max_sq_distance_distortion(torch.ones(3, 2, dtype=torch.int64), x[:3])
    with pytest.raises(ValueError, match="chunk_size"):
        rp.max_sq_distance_distortion(x, x, chunk_size=0)


@pytest.mark.parametrize("kind", ["distance", "inner"])
def test_jl_distortion_trials_reproducible_and_consistent(kind):
    x = torch.randn(20, 50, generator=gen(11), dtype=F64)
    measure = rp.max_sq_distance_distortion if kind == "distance" else rp.max_inner_product_error
    a = rp.jl_distortion_trials(x, 30, 4, kind=kind, generator=gen(12))
    b = rp.jl_distortion_trials(x, 30, 4, kind=kind, generator=gen(12))
    assert a.shape == (4,) and torch.equal(a, b)
    # one trial at a time: trial k uses the k-th matrix drawn from the generator
    one = rp.jl_distortion_trials(x, 30, 3, kind=kind, generator=gen(13), batch=1)
    g = gen(13)
    for k in range(3):
        ak = rp.gaussian_projection(50, 30, generator=g, dtype=F64)
        assert one[k].item() == pytest.approx(measure(x, x @ ak.T), rel=1e-10)
    # batched: trial k uses the k-th matrix of one batched draw
    batched = rp.jl_distortion_trials(x, 30, 3, kind=kind, generator=gen(14), batch=3)
    ab = rp.gaussian_projection(50, 30, generator=gen(14), dtype=F64, batch=3)
    for k in range(3):
        assert batched[k].item() == pytest.approx(measure(x, x @ ab[k].T), rel=1e-10)


def test_jl_distortion_trials_batch_sizes_agree_in_distribution():
    x = torch.randn(15, 15, generator=gen(15), dtype=F64)
    one = rp.jl_distortion_trials(x, 20, 200, generator=gen(16), batch=1).numpy()
    many = rp.jl_distortion_trials(x, 20, 200, generator=gen(17)).numpy()
    assert stats.ks_2samp(one, many).pvalue > 1e-3


def test_jl_distortion_trials_rejects_bad_input():
    x = torch.randn(5, 3, dtype=F64)
    with pytest.raises(ValueError, match="kind"):
        rp.jl_distortion_trials(x, 2, 1, kind="angle")
    with pytest.raises(ValueError, match="out_dim"):
        rp.jl_distortion_trials(x, 0, 1)
    with pytest.raises(ValueError, match="trials"):
        rp.jl_distortion_trials(x, 2, 0)
    with pytest.raises(ValueError, match="at least 2"):
        rp.jl_distortion_trials(x[:1], 2, 1)
    with pytest.raises(TypeError, match="dtype"):
        rp.jl_distortion_trials(x, 2, 1, dtype=torch.int32)
    with pytest.raises(ValueError, match="batch"):
        rp.jl_distortion_trials(x, 2, 3, batch=0)
    dup = x.clone()
    dup[4] = dup[0]
    for b in (1, 3):
        with pytest.raises(ValueError, match="duplicate"):
            rp.jl_distortion_trials(dup, 2, 3, batch=b)


def test_jl_guarantee_holds_at_the_bound():
    # 24 ln N / eps^2 gives success probability >= (N-1)/N; measured: all trials succeed
    x = torch.randn(30, 200, generator=gen(13), dtype=F64)
    n = rp.jl_min_dim(30, 0.5)
    assert torch.all(rp.jl_distortion_trials(x, n, 5, generator=gen(14)) <= 0.5)


# --------------------------------------------------------------------------- sign hashing
def test_sign_lsh_codes_and_zero_convention():
    x = torch.tensor([[1.0, 0.0], [0.0, 0.0]])
    a = torch.tensor([[1.0, 1.0], [-1.0, 0.0], [0.0, 1.0]])
    s = rp.sign_lsh(x, a)
    assert s.tolist() == [[1.0, -1.0, 1.0], [1.0, 1.0, 1.0]]
    assert rp.sign_lsh(x[0], a).tolist() == [1.0, -1.0, 1.0]
    assert rp.sign_lsh(x, a, dtype=torch.float16).dtype == torch.float16


def test_sign_cosine_matches_arcsine_law_monte_carlo():
    d, n = 32, 100_000
    g = gen(15)
    a = torch.randn(n, d, generator=g, dtype=F64)
    x = torch.randn(d, generator=g, dtype=F64)
    y = torch.randn(d, generator=g, dtype=F64)
    cos = float(x @ y / (x.norm() * y.norm()))
    c = float(rp.code_cosine(rp.sign_lsh(x, a), rp.sign_lsh(y, a)))
    p = math.acos(cos) / math.pi
    se = 2 * math.sqrt(p * (1 - p) / n)
    assert abs(c - rp.expected_sign_cosine(cos)) < 5 * se


def test_code_cosine_shapes_and_values():
    s1 = torch.tensor([[1.0, -1.0, 1.0, 1.0], [1.0, 1.0, 1.0, 1.0]])
    s2 = torch.tensor([[1.0, 1.0, 1.0, 1.0]])
    assert rp.code_cosine(s1, s2).tolist() == [[0.5], [1.0]]
    assert float(rp.code_cosine(s1[0], s1[0])) == 1.0
    assert rp.code_cosine(s1.to(torch.int8), s2.to(torch.int8)).dtype == torch.float32


def test_code_cosine_rejects_bad_input():
    with pytest.raises(ValueError, match="code lengths"):
        rp.code_cosine(torch.ones(2, 3), torch.ones(2, 4))
    with pytest.raises(TypeError, match="S1"):
        rp.code_cosine([1.0], torch.ones(1))
    with pytest.raises(ValueError, match="S2"):
        rp.code_cosine(torch.ones(3), torch.ones(1, 1, 3))
    with pytest.raises(ValueError, match="NaN"):
        rp.code_cosine(torch.tensor([1.0, float("nan")]), torch.ones(2))


def test_sign_lsh_rejects_bad_input():
    with pytest.raises(ValueError, match="columns"):
        rp.sign_lsh(torch.ones(3, 4), torch.ones(5, 3))
    with pytest.raises(ValueError, match="NaN"):
        rp.sign_lsh(torch.tensor([[float("inf"), 1.0]]), torch.ones(3, 2))
    with pytest.raises(TypeError, match="A must"):
        rp.sign_lsh(torch.ones(3, 2), np.ones((3, 2)))


@given(st.floats(-1.0, 1.0))
@settings(max_examples=50, deadline=None)
def test_sign_cosine_round_trip_and_arcsine_identity(cos):
    c = rp.expected_sign_cosine(cos)
    assert c == pytest.approx(2 / math.pi * math.asin(cos), abs=1e-12)
    assert rp.cosine_from_sign_cosine(c) == pytest.approx(cos, abs=1e-12)
    assert abs(c) <= abs(cos) + 1e-15  # (2/pi) arcsin shrinks towards 0


def test_sign_cosine_kinds_and_clipping():
    t = rp.expected_sign_cosine(torch.tensor([1.0, 0.0, -1.0], dtype=F64))
    assert isinstance(t, torch.Tensor) and t.tolist() == [1.0, 0.0, -1.0]
    arr = rp.expected_sign_cosine(np.array([0.5, 1.0 + 1e-13]))
    assert isinstance(arr, np.ndarray) and arr[1] == 1.0
    assert rp.expected_sign_cosine(0.5) == pytest.approx(1 / 3)


def test_sign_cosine_rejects_out_of_range():
    for fn, name in ((rp.expected_sign_cosine, "cos"), (rp.cosine_from_sign_cosine, "c")):
        with pytest.raises(ValueError, match=name):
            fn(1.001)
        with pytest.raises(ValueError, match=name):
            fn(torch.tensor([0.0, -1.5]))
        with pytest.raises(ValueError, match="finite"):
            fn(float("nan"))


# --------------------------------------------------------------------------- randomized SVD
@pytest.mark.parametrize("shape", [(120, 80), (80, 120)])
@pytest.mark.parametrize("q", [0, 2])
def test_randomized_svd_exact_for_low_rank(shape, q):
    m = low_rank(*shape, 6, seed=16)
    u, s, vh = rp.randomized_svd(m, 6, oversample=4, power_iters=q, generator=gen(17))
    assert u.shape == (shape[0], 6) and s.shape == (6,) and vh.shape == (6, shape[1])
    torch.testing.assert_close(s, torch.linalg.svdvals(m)[:6], rtol=1e-11, atol=0)
    assert torch.linalg.norm(m - (u * s) @ vh) / torch.linalg.norm(m) < 1e-12
    torch.testing.assert_close(u.T @ u, torch.eye(6, dtype=F64), atol=1e-12, rtol=0)
    torch.testing.assert_close(vh @ vh.T, torch.eye(6, dtype=F64), atol=1e-12, rtol=0)


def test_randomized_svd_matches_references_on_noisy_matrix():
    g = gen(18)
    m = low_rank(300, 200, 10, seed=19) + 0.01 * torch.randn(300, 200, generator=g, dtype=F64)
    u, s, vh = rp.randomized_svd(m, 10, oversample=10, power_iters=3, generator=gen(20))
    exact = torch.linalg.svdvals(m)[:10]
    ut, st_, vt = torch.svd_lowrank(m, q=20, niter=3)
    us, ss, vs = sk_randomized_svd(m.numpy(), 10, n_oversamples=10, n_iter=3, random_state=0)
    torch.testing.assert_close(s, exact, rtol=1e-8, atol=0)
    torch.testing.assert_close(s, st_[:10], rtol=1e-8, atol=0)
    np.testing.assert_allclose(s.numpy(), ss, rtol=1e-8)
    # same subspaces as the exact SVD: |<u_i, u_i*>| = 1
    uu, _, vvh = torch.linalg.svd(m, full_matrices=False)
    torch.testing.assert_close((u * uu[:, :10]).sum(0).abs(), torch.ones(10, dtype=F64), atol=1e-8, rtol=0)
    torch.testing.assert_close((vh * vvh[:10]).sum(1).abs(), torch.ones(10, dtype=F64), atol=1e-8, rtol=0)


def test_randomized_svd_float32_and_power_iteration_helps():
    g = gen(21)
    base = low_rank(200, 150, 5, seed=22)
    noisy = base + 0.5 * torch.randn(200, 150, generator=g, dtype=F64)
    opt = torch.linalg.svdvals(noisy)[5:].square().sum().sqrt()
    errs = []
    for q in (0, 3):
        u, s, vh = rp.randomized_svd(noisy, 5, oversample=2, power_iters=q, generator=gen(23))
        errs.append(float(torch.linalg.norm(noisy - (u * s) @ vh) / opt))
    assert errs[1] <= errs[0] and errs[1] < 1.001
    m32 = base.float()
    u, s, vh = rp.randomized_svd(m32, 5, generator=gen(24, ), oversample=3)
    assert u.dtype == s.dtype == vh.dtype == torch.float32
    assert float(torch.linalg.norm(m32 - (u * s) @ vh) / torch.linalg.norm(m32)) < 1e-5


def test_randomized_svd_ill_conditioned_power_iterations_stay_accurate():
    # singular values spanning 1e0 .. 1e-12: the power iterations must stay stable (QR each step)
    g = gen(25)
    uq = torch.linalg.qr(torch.randn(300, 30, generator=g, dtype=F64)).Q
    vq = torch.linalg.qr(torch.randn(200, 30, generator=g, dtype=F64)).Q
    sv = torch.logspace(0, -12, 30, dtype=F64)
    m = (uq * sv) @ vq.T
    u, s, vh = rp.randomized_svd(m, 20, oversample=10, power_iters=4, generator=gen(26))
    torch.testing.assert_close(s[:8], sv[:8], rtol=1e-9, atol=0)
    torch.testing.assert_close(u.T @ u, torch.eye(20, dtype=F64), atol=1e-10, rtol=0)


@given(st.integers(5, 40), st.integers(5, 40), st.integers(1, 4), st.integers(0, 2), st.integers(0, 2**31))
@settings(max_examples=40, deadline=None)
def test_randomized_svd_reconstructs_exactly_low_rank(m, n, r, q, seed):
    r = min(r, m, n)
    mat = low_rank(m, n, r, seed=seed)
    ell = min(m, n)
    u, s, vh = rp.randomized_svd(mat, r, oversample=min(3, ell - r), power_iters=q, generator=gen(seed))
    assert torch.linalg.norm(mat - (u * s) @ vh) <= 1e-9 * torch.linalg.norm(mat)


def test_randomized_svd_rejects_bad_input():
    m = torch.randn(10, 8, dtype=F64)
    with pytest.raises(ValueError, match="2-D"):
        rp.randomized_svd(m[0], 2)
    with pytest.raises(ValueError, match="rank"):
        rp.randomized_svd(m, 0)
    with pytest.raises(ValueError, match="exceeds min"):
        rp.randomized_svd(m, 5, oversample=4)
    with pytest.raises(ValueError, match="oversample"):
        rp.randomized_svd(m, 2, oversample=-1)
    with pytest.raises(ValueError, match="power_iters"):
        rp.randomized_svd(m, 2, power_iters=-1)
    with pytest.raises(TypeError, match="rank"):
        rp.randomized_svd(m, 2.0)
    bad = m.clone()
    bad[2, 2] = float("inf")
    with pytest.raises(ValueError, match="NaN or infinite"):
        rp.randomized_svd(bad, 2, oversample=2)
    with pytest.raises(TypeError, match="torch.Tensor"):
        rp.randomized_svd(m.numpy(), 2)
    with pytest.raises(TypeError, match="float32 or float64"):
        rp.randomized_svd(m.to(torch.float16), 2)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
@pytest.mark.parametrize("shape", [(30, 20), (20, 30)])
def test_randomized_svd_rejects_any_non_finite_entry(value, shape):
    # Finiteness is read off M @ Omega: a bad entry anywhere (tall or wide M) must show there.
    for i, j in [(0, 0), (shape[0] - 1, shape[1] - 1), (7, 13)]:
        bad = torch.randn(*shape, dtype=F64)
        bad[i, j] = value
        with pytest.raises(ValueError, match="NaN or infinite"):
            rp.randomized_svd(bad, 3, generator=gen(5))
    both = torch.randn(*shape, dtype=F64)  # +inf and -inf in one row: the product holds NaN
    both[3, 4], both[3, 5] = float("inf"), float("-inf")
    with pytest.raises(ValueError, match="NaN or infinite"):
        rp.randomized_svd(both, 3, generator=gen(5))


def test_randomized_svd_reports_overflow_of_finite_input():
    huge = torch.full((30, 20), 1e308, dtype=F64)
    with pytest.raises(ValueError, match="overflows"):
        rp.randomized_svd(huge, 3, generator=gen(6))
    # ... while the same matrix scaled down is fine, and the singular values scale back
    u, s, vh = rp.randomized_svd(huge * 1e-300, 1, oversample=2, generator=gen(6))
    assert torch.allclose(s[0] * 1e300, torch.tensor(1e308 * (30 * 20) ** 0.5, dtype=F64), rtol=1e-12)


def test_randomized_svd_keeps_autograd_and_matches_numpy_path():
    # Tensors that need grad go through torch.matmul; the answer is the same.
    m = low_rank(40, 30, 4, seed=31)
    u1, s1, vh1 = rp.randomized_svd(m, 4, oversample=2, power_iters=1, generator=gen(7))
    mg = m.clone().requires_grad_(True)
    u2, s2, vh2 = rp.randomized_svd(mg, 4, oversample=2, power_iters=1, generator=gen(7))
    assert torch.allclose(s1, s2.detach(), rtol=1e-12, atol=1e-12)
    s2.sum().backward()
    assert mg.grad is not None and torch.isfinite(mg.grad).all()


def test_post_random_svd_fails_but_its_left_factor_is_right():
    m = low_rank(120, 100, 5, seed=27)
    for orth, lo in ((False, 1.0), (True, 0.5)):
        u, s, vh = rp.post_random_svd(m, 20, orthonormalize=orth, generator=gen(28))
        assert u.shape == (120, 20) and s.shape == (20,) and vh.shape == (20, 100)
        assert torch.linalg.norm(m - (u * s) @ vh) / torch.linalg.norm(m) > lo
        # the column space is still found: U_B U_B^T M = M
        assert torch.linalg.norm(m - u[:, :5] @ (u[:, :5].T @ m)) / torch.linalg.norm(m) < 1e-12


def test_post_random_svd_rejects_bad_input():
    m = torch.randn(10, 8, dtype=F64)
    with pytest.raises(ValueError, match="k="):
        rp.post_random_svd(m, 9)
    with pytest.raises(ValueError, match="k="):
        rp.post_random_svd(m, 0)
    with pytest.raises(ValueError, match="2-D"):
        rp.post_random_svd(m[None], 2)


# --------------------------------------------------------------------------- entropy formula
def test_entropy_dim_formula_values():
    assert rp.entropy_dim_formula(512) == pytest.approx(8.33 * math.log(512))
    assert round(rp.entropy_dim_formula(512)) == 52
    out = rp.entropy_dim_formula([1e5, 5e6])
    assert np.round(out).tolist() == [96, 128]


def test_entropy_dim_formula_rejects_bad_input():
    with pytest.raises(ValueError, match="num_points"):
        rp.entropy_dim_formula(1)
    with pytest.raises(ValueError, match="coef"):
        rp.entropy_dim_formula(10, coef=0)
    with pytest.raises(ValueError, match="num_points"):
        rp.entropy_dim_formula(float("inf"))
