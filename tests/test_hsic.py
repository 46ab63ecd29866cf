"""Tests of kexue_book.prob.hsic: kernels, the three estimators, the permutation test and
the Gaussian population formula, against scikit-learn, literal index sums, quadrature and
Monte Carlo, plus every bad-input path."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate
from sklearn.metrics.pairwise import euclidean_distances, rbf_kernel
from sklearn.metrics.pairwise import linear_kernel as sk_linear

from kexue_book.prob import hsic as H

F64 = torch.float64


def _close(a: torch.Tensor, b: torch.Tensor, rtol: float, atol: float) -> None:
    """assert_allclose on tensors (torch.testing's first call imports for seconds)."""
    np.testing.assert_allclose(a.detach().cpu().numpy(), b.detach().cpu().numpy(), rtol=rtol, atol=atol)


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # see conftest.py


def _pair(n: int, seed: int = 0, rho: float = 0.6, d: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, dtype=F64, generator=g)
    y = rho * x + math.sqrt(1 - rho**2) * torch.randn(n, d, dtype=F64, generator=g)
    return x.squeeze(-1) if d == 1 else x, y.squeeze(-1) if d == 1 else y


def _grams(n: int, seed: int = 0, kernel: str = "gaussian") -> tuple[torch.Tensor, torch.Tensor]:
    x, y = _pair(n, seed)
    return H.gram(x, kernel), H.gram(y, kernel)


# ----------------------------------------------------------------- independent references
def _tr_khlh(K: torch.Tensor, L: torch.Tensor) -> float:
    """Textbook tr(K H L H) with an explicit centring matrix."""
    k, l_ = K.numpy(), L.numpy()
    n = k.shape[0]
    Hm = np.eye(n) - np.ones((n, n)) / n
    return float(np.trace(k @ Hm @ l_ @ Hm))


def _song(K: torch.Tensor, L: torch.Tensor) -> float:
    """Song et al. (2012), eq. for HSIC_1, written with explicit matrices."""
    k, l_ = K.numpy().copy(), L.numpy().copy()
    n = k.shape[0]
    np.fill_diagonal(k, 0.0)
    np.fill_diagonal(l_, 0.0)
    one = np.ones(n)
    return float(
        (np.trace(k @ l_) + (one @ k @ one) * (one @ l_ @ one) / ((n - 1) * (n - 2))
         - 2.0 / (n - 2) * (one @ k @ l_ @ one)) / (n * (n - 3))
    )


def _u_by_tuples(K: torch.Tensor, L: torch.Tensor) -> float:
    """The U-statistic as one average over ordered 4-tuples of distinct indices."""
    k, l_ = K.numpy(), L.numpy()
    n = k.shape[0]
    tot, cnt = 0.0, 0
    for i, j, q, r in itertools.permutations(range(n), 4):
        tot += k[i, j] * l_[i, j] + k[i, j] * l_[q, r] - 2.0 * k[i, j] * l_[i, q]
        cnt += 1
    return tot / cnt


def _dcov2_v(x: np.ndarray, y: np.ndarray) -> float:
    """Squared distance covariance (V-statistic), Szekely et al. 2007."""
    a = euclidean_distances(x.reshape(len(x), -1))
    b = euclidean_distances(y.reshape(len(y), -1))
    A = a - a.mean(0) - a.mean(1)[:, None] + a.mean()
    B = b - b.mean(0) - b.mean(1)[:, None] + b.mean()
    return float((A * B).mean())


# ----------------------------------------------------------------- kernels
@pytest.mark.parametrize("d", [1, 3, 12])
@pytest.mark.parametrize("sigma", [0.3, 1.0, 2.5])
def test_gaussian_kernel_matches_sklearn(d: int, sigma: float) -> None:
    rng = np.random.default_rng(d)
    x = rng.standard_normal((30, d))
    y = rng.standard_normal((20, d))
    np.testing.assert_allclose(H.gaussian_kernel(x, sigma=sigma).numpy(), rbf_kernel(x, gamma=1 / sigma**2),
                               rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(H.gaussian_kernel(x, y, sigma=sigma).numpy(),
                               rbf_kernel(x, y, gamma=1 / sigma**2), rtol=1e-12, atol=1e-14)


def test_gaussian_kernel_scalar_samples_and_exact_diagonal() -> None:
    x = torch.linspace(-3, 3, 50, dtype=F64)
    K = H.gaussian_kernel(x)
    assert K.shape == (50, 50)
    assert torch.equal(K.diagonal(), torch.ones(50, dtype=F64))
    np.testing.assert_allclose(K.numpy(), np.exp(-(x[:, None] - x[None, :]).numpy() ** 2), rtol=1e-15)
    Kw = H.gaussian_kernel(torch.randn(40, 20, dtype=F64))  # matmul path (d > 8)
    assert torch.equal(Kw.diagonal(), torch.ones(40, dtype=F64))
    assert torch.equal(Kw, Kw.T)


@pytest.mark.parametrize("d", [1, 4, 10])
def test_linear_and_distance_kernels_match_sklearn(d: int) -> None:
    rng = np.random.default_rng(10 + d)
    x, y = rng.standard_normal((25, d)), rng.standard_normal((15, d))
    np.testing.assert_allclose(H.linear_kernel(x, y).numpy(), sk_linear(x, y), rtol=1e-12, atol=1e-13)
    ref = 0.5 * (np.linalg.norm(x, axis=1)[:, None] + np.linalg.norm(y, axis=1)[None, :]
                 - euclidean_distances(x, y))
    np.testing.assert_allclose(H.distance_kernel(x, y).numpy(), ref, rtol=1e-10, atol=1e-12)
    Kxx = H.distance_kernel(x).numpy()
    np.testing.assert_allclose(np.diag(Kxx), np.linalg.norm(x, axis=1), rtol=1e-12)


def test_kernels_batch_dtype_and_integer_input() -> None:
    g = torch.Generator().manual_seed(3)
    xb = torch.randn(4, 30, 2, generator=g)  # float32 batch
    Kb = H.gaussian_kernel(xb, sigma=0.7)
    assert Kb.shape == (4, 30, 30) and Kb.dtype == torch.float32
    for b in range(4):
        _close(Kb[b], H.gaussian_kernel(xb[b], sigma=0.7), rtol=1e-6, atol=1e-7)
    Ki = H.linear_kernel([1, 2, 3])
    assert Ki.dtype == F64
    np.testing.assert_array_equal(Ki.numpy(), np.outer([1, 2, 3], [1, 2, 3]))


# ----------------------------------------------------------------- estimators vs literal sums
@pytest.mark.parametrize("kernel", ["gaussian", "linear", "distance"])
@pytest.mark.parametrize("n", [5, 9, 23])
def test_estimators_match_literal_sums(kernel: str, n: int) -> None:
    K, L = _grams(n, seed=n, kernel=kernel)
    scale = float(K.abs().max() * L.abs().max())
    for est, fn in [("v", H.hsic_v), ("gretton", H.hsic_gretton), ("u", H.hsic_u)]:
        assert abs(float(fn(K, L)) - H.hsic_literal(K, L, est)) <= 1e-12 * scale, (est, kernel, n)


@pytest.mark.parametrize("n", [4, 5, 8])
def test_literal_u_against_tuple_average_and_song(n: int) -> None:
    K, L = _grams(n, seed=100 + n)
    ref = _u_by_tuples(K, L)
    assert H.hsic_literal(K, L, "u") == pytest.approx(ref, abs=1e-13)
    assert _song(K, L) == pytest.approx(ref, abs=1e-13)
    assert float(H.hsic_u(K, L)) == pytest.approx(ref, abs=1e-13)


@pytest.mark.parametrize("n", [2, 7, 40, 300])
def test_v_and_gretton_against_textbook_trace(n: int) -> None:
    K, L = _grams(n, seed=7)
    t = _tr_khlh(K, L)
    assert float(H.hsic_v(K, L)) == pytest.approx(t / n**2, rel=1e-11, abs=1e-15)
    assert float(H.hsic_gretton(K, L)) == pytest.approx(t / (n - 1) ** 2, rel=1e-11, abs=1e-15)
    if n >= 4:
        assert float(H.hsic_u(K, L)) == pytest.approx(_song(K, L), rel=1e-10, abs=1e-14)


def test_centring_helpers() -> None:
    K, _ = _grams(15, seed=4)
    n = 15
    Hm = torch.eye(n, dtype=F64) - 1.0 / n
    _close(H.double_center(K), Hm @ K @ Hm, rtol=0, atol=1e-14)
    U = H.u_center(K)
    assert torch.all(U.diagonal() == 0)
    _close(U.sum(dim=1), torch.zeros(n, dtype=F64), rtol=0, atol=1e-13)
    _close(U, U.T, rtol=0, atol=1e-15)


def test_batched_estimators_equal_loop() -> None:
    g = torch.Generator().manual_seed(5)
    x = torch.randn(6, 25, 1, dtype=F64, generator=g)
    y = x**2 + 0.3 * torch.randn(6, 25, 1, dtype=F64, generator=g)
    for est in H.ESTIMATORS:
        batch = H.hsic(x, y, estimator=est)
        assert batch.shape == (6,)
        loop = torch.stack([H.hsic(x[b], y[b], estimator=est) for b in range(6)])
        _close(batch, loop, rtol=1e-12, atol=1e-15)


def test_float32_close_to_float64() -> None:
    x, y = _pair(200, seed=9)
    for est in H.ESTIMATORS:
        h64 = H.hsic(x, y, estimator=est)
        h32 = H.hsic(x.float(), y.float(), estimator=est)
        assert h32.dtype == torch.float32
        assert float(h32) == pytest.approx(float(h64), rel=1e-3)


def test_linear_kernel_hsic_is_squared_cross_covariance() -> None:
    g = torch.Generator().manual_seed(11)
    x = torch.randn(50, 3, dtype=F64, generator=g)
    y = x[:, :2] @ torch.randn(2, 2, dtype=F64, generator=g) + torch.randn(50, 2, dtype=F64, generator=g)
    xc, yc = x - x.mean(0), y - y.mean(0)
    cov = xc.T @ yc / 50  # biased cross-covariance
    v = H.hsic(x, y, kernel_x="linear", estimator="v")
    assert float(v) == pytest.approx(float((cov**2).sum()), rel=1e-12)


def test_distance_kernel_hsic_is_quarter_distance_covariance() -> None:
    x, y = _pair(60, seed=12, d=2)
    v = H.hsic(x, y, kernel_x="distance", estimator="v")
    assert float(v) == pytest.approx(_dcov2_v(x.numpy(), y.numpy()) / 4, rel=1e-10)


finite = st.floats(-3, 3, allow_nan=False, allow_infinity=False)


@settings(max_examples=50, deadline=None)
@given(
    pts=st.lists(st.tuples(finite, finite), min_size=5, max_size=14),
    sigma=st.floats(0.2, 5.0),
    a=st.floats(0.1, 10.0),
    c=st.floats(-5.0, 5.0),
    seed=st.integers(0, 10_000),
)
def test_estimator_invariants(pts: list[tuple[float, float]], sigma: float, a: float, c: float, seed: int) -> None:
    arr = torch.tensor(pts, dtype=F64)
    K = H.gaussian_kernel(arr[:, 0], sigma=sigma)
    L = H.gaussian_kernel(arr[:, 1], sigma=sigma)
    n = K.shape[0]
    p = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    tol = 1e-12
    for fn in (H.hsic_v, H.hsic_gretton, H.hsic_u):
        h = float(fn(K, L))
        assert abs(float(fn(L, K)) - h) <= tol                                 # symmetric in (K, L)
        assert abs(float(fn(K[p][:, p], L[p][:, p])) - h) <= tol               # joint relabelling
        assert abs(float(fn(a * K, L)) - a * h) <= tol * a                     # bilinear
        assert abs(float(fn(K + c, L)) - h) <= tol * (1 + abs(c)) * 10         # constant shift
    v = float(H.hsic_v(K, L))
    assert v >= -1e-15                                                         # tr of PSD product
    assert float(H.hsic_gretton(K, L)) == pytest.approx(v * n**2 / (n - 1) ** 2, rel=1e-12, abs=1e-16)
    assert float(H.hsic_u(K, L)) == pytest.approx(H.hsic_literal(K, L, "u"), abs=1e-12)
    # the U-statistic ignores the diagonal
    K2 = K.clone()
    K2.diagonal().add_(c)
    assert abs(float(H.hsic_u(K2, L)) - float(H.hsic_u(K, L))) <= 1e-12 * (1 + abs(c))


@settings(max_examples=30, deadline=None)
@given(pts=st.lists(st.tuples(finite, finite), min_size=2, max_size=12), sigma=st.floats(0.2, 5.0))
def test_v_matches_literal_triple_sum_property(pts: list[tuple[float, float]], sigma: float) -> None:
    arr = torch.tensor(pts, dtype=F64)
    K = H.gaussian_kernel(arr[:, 0], sigma=sigma)
    L = H.gaussian_kernel(arr[:, 1], sigma=sigma)
    assert float(H.hsic_v(K, L)) == pytest.approx(H.hsic_literal(K, L, "v"), abs=1e-13)


# ----------------------------------------------------------------- population formula
POST_COV = np.array([[1.0, 1.0], [1.0, 1.01]])


def test_population_value_of_the_post_case() -> None:
    assert H.gaussian_hsic_population(POST_COV) == pytest.approx(0.094523, abs=5e-7)
    assert H.gaussian_hsic_population(torch.tensor(POST_COV)) == pytest.approx(0.0945227621572, abs=1e-12)


def _gauss_expect_2d(C: np.ndarray, sigma_x: float, sigma_y: float) -> float:
    """E exp(-z1^2/sx^2 - z2^2/sy^2), z ~ N(0, C), by 2-D quadrature."""
    Ci = np.linalg.inv(C)
    norm = 1.0 / (2 * np.pi * np.sqrt(np.linalg.det(C)))

    def f(z2: float, z1: float) -> float:
        z = np.array([z1, z2])
        return norm * math.exp(-0.5 * z @ Ci @ z - z1**2 / sigma_x**2 - z2**2 / sigma_y**2)

    val, _ = integrate.dblquad(f, -12, 12, -12, 12, epsabs=1e-11, epsrel=1e-10)
    return val


@pytest.mark.parametrize("S, sx, sy", [
    (POST_COV, 1.0, 1.0),
    (np.array([[2.0, -0.7], [-0.7, 0.5]]), 0.6, 1.7),
])
def test_population_moments_against_quadrature(S: np.ndarray, sx: float, sy: float) -> None:
    m = H.gaussian_hsic_moments(S, sx, sigma_y=sy)
    D = np.diag(np.diag(S))
    assert m.kl_pair == pytest.approx(_gauss_expect_2d(2 * S, sx, sy), abs=1e-8)
    assert m.kl_shared == pytest.approx(_gauss_expect_2d(S + D, sx, sy), abs=1e-8)
    kq, _ = integrate.quad(lambda z: math.exp(-z * z / sx**2) * math.exp(-z * z / (4 * S[0, 0]))
                           / math.sqrt(4 * math.pi * S[0, 0]), -np.inf, np.inf, epsabs=1e-12)
    assert m.k_mean == pytest.approx(kq, abs=1e-10)


def test_population_moments_monte_carlo_multivariate() -> None:
    rng = np.random.default_rng(0)
    A = rng.standard_normal((3, 3))
    S = A @ A.T / 3 + 0.2 * np.eye(3)
    sx, sy = 1.3, 0.8
    m = H.gaussian_hsic_moments(S, sx, sigma_y=sy, dim_x=2)
    N = 400_000
    Lc = np.linalg.cholesky(S)
    z1, z2, z3 = (rng.standard_normal((N, 3)) @ Lc.T for _ in range(3))
    k12 = np.exp(-((z1[:, :2] - z2[:, :2]) ** 2).sum(1) / sx**2)
    l12 = np.exp(-((z1[:, 2] - z2[:, 2]) ** 2) / sy**2)
    l13 = np.exp(-((z1[:, 2] - z3[:, 2]) ** 2) / sy**2)
    for sample, exact in [(k12 * l12, m.kl_pair), (k12 * l13, m.kl_shared), (k12, m.k_mean), (l12, m.l_mean)]:
        z = (sample.mean() - exact) / (sample.std() / math.sqrt(N))
        assert abs(z) < 5, (z, exact)


def test_population_invariants() -> None:
    # independence (block-diagonal covariance) gives exactly zero
    assert H.gaussian_hsic_population(np.diag([2.0, 0.3]), 0.7) == pytest.approx(0.0, abs=1e-15)
    S3 = np.array([[1.0, 0.2, 0.0], [0.2, 1.0, 0.0], [0.0, 0.0, 3.0]])
    assert H.gaussian_hsic_population(S3, dim_x=2) == pytest.approx(0.0, abs=1e-15)
    # increasing in |correlation|, even in its sign
    vals = [H.gaussian_hsic_population(np.array([[1.0, r], [r, 1.0]])) for r in (0.1, 0.4, 0.7, 0.95)]
    assert all(a < b for a, b in zip(vals, vals[1:]))
    assert H.gaussian_hsic_population([[1, -0.4], [-0.4, 1]]) == pytest.approx(vals[1], rel=1e-14)
    # swapping x and y
    S = np.array([[2.0, 0.5], [0.5, 0.7]])
    a = H.gaussian_hsic_population(S, 0.5, sigma_y=2.0)
    b = H.gaussian_hsic_population(S[::-1, ::-1], 2.0, sigma_y=0.5)
    assert a == pytest.approx(b, rel=1e-13)
    # a singular (perfectly dependent) covariance is allowed
    assert H.gaussian_hsic_population([[1, 1], [1, 1]]) > 0


def test_estimator_means_closed_forms_and_simulation() -> None:
    m = H.gaussian_hsic_moments(POST_COV)
    n = 6
    means = H.estimator_means(m, n)
    assert means["u"] == m.hsic
    assert means["gretton"] == pytest.approx(means["v"] * n**2 / (n - 1) ** 2, rel=1e-14)
    # independence: mean of V = (n-1)(1-m_k)(1-m_l)/n^2
    mi = H.gaussian_hsic_moments(np.diag([1.0, 1.0]))
    n2 = 1000
    assert H.estimator_means(mi, n2)["v"] == pytest.approx((n2 - 1) * (1 - 5**-0.5) ** 2 / n2**2, rel=1e-12)
    # simulation at small n, where the bias is large
    R = 60_000
    g = torch.Generator().manual_seed(1)
    Lc = torch.linalg.cholesky(torch.tensor(POST_COV))
    z = torch.randn(R, n, 2, dtype=F64, generator=g) @ Lc.T
    K, L = H.gaussian_kernel(z[..., :1]), H.gaussian_kernel(z[..., 1:])
    for est, fn in [("v", H.hsic_v), ("gretton", H.hsic_gretton), ("u", H.hsic_u)]:
        h = fn(K, L)
        zscore = (float(h.mean()) - means[est]) / (float(h.std()) / math.sqrt(R))
        assert abs(zscore) < 5, (est, zscore)


# ----------------------------------------------------------------- permutation test
def test_permutation_null_statistic_and_paths_agree() -> None:
    K, L = _grams(40, seed=2)
    for est, fn in [("v", H.hsic_v), ("gretton", H.hsic_gretton), ("u", H.hsic_u)]:
        stat, null = H.hsic_permutation_null(K, L, 30, estimator=est, generator=torch.Generator().manual_seed(0))
        assert float(stat) == pytest.approx(float(fn(K, L)), rel=1e-12)
        assert null.shape == (30,)
    # each permuted statistic is the estimator on the relabelled y-sample
    gen = torch.Generator().manual_seed(0)
    perms = [torch.randperm(40, generator=gen) for _ in range(5)]
    _, null = H.hsic_permutation_null(K, L, 5, estimator="u", generator=torch.Generator().manual_seed(0))
    for b, p in enumerate(perms):
        assert float(null[b]) == pytest.approx(float(H.hsic_u(K, L[p][:, p])), rel=1e-11, abs=1e-15)


def test_permutation_batched_path_matches_cpu_path(monkeypatch: pytest.MonkeyPatch) -> None:
    K, L = _grams(30, seed=8)
    _, a = H.hsic_permutation_null(K, L, 17, generator=torch.Generator().manual_seed(4))
    monkeypatch.setattr(H, "_use_row_gathers", lambda device: False)
    _, b = H.hsic_permutation_null(K, L, 17, generator=torch.Generator().manual_seed(4))
    _close(a, b, rtol=1e-12, atol=1e-16)


def test_permutation_test_detects_dependence_and_is_reproducible() -> None:
    g = torch.Generator().manual_seed(0)
    phi = 2 * math.pi * torch.rand(200, dtype=F64, generator=g)
    x = torch.cos(phi) + 0.05 * torch.randn(200, dtype=F64, generator=g)
    y = torch.sin(phi) + 0.05 * torch.randn(200, dtype=F64, generator=g)
    r = H.hsic_permutation_test(x, y, 99, generator=torch.Generator().manual_seed(1))
    assert r.p_value == pytest.approx(1 / 100)
    r2 = H.hsic_permutation_test(x, y, 99, generator=torch.Generator().manual_seed(1))
    assert r == r2
    lin = H.hsic_permutation_test(x, y, 99, kernel_x="linear", generator=torch.Generator().manual_seed(1))
    assert lin.p_value > 0.01
    stat, p = H.hsic_permutation_test(x, y, 50, estimator="u", generator=torch.Generator().manual_seed(1))
    assert 0 < p <= 1 and stat > 0


def test_permutation_test_level_under_independence() -> None:
    gen = torch.Generator().manual_seed(42)
    pvals = []
    for _ in range(150):
        x = torch.randn(25, dtype=F64, generator=gen)
        y = torch.randn(25, 2, dtype=F64, generator=gen)
        pvals.append(H.hsic_permutation_test(x, y, 39, sigma_y=1.5, generator=gen).p_value)
    pvals = np.array(pvals)
    assert np.all((pvals > 0) & (pvals <= 1))
    # P(p <= 0.1) = 4/40 = 0.1 exactly for a valid test; binomial(150, 0.1) has sd 3.7
    k = int((pvals <= 0.1).sum())
    assert abs(k - 15) <= 5 * 3.7


# ----------------------------------------------------------------- bad inputs
@pytest.mark.parametrize("fn", [H.gaussian_kernel, H.linear_kernel, H.distance_kernel])
def test_kernel_bad_samples(fn) -> None:
    with pytest.raises(ValueError, match="x must have shape"):
        fn(torch.tensor(1.0))
    with pytest.raises(ValueError, match="at least one sample"):
        fn(torch.zeros(0))
    with pytest.raises(ValueError, match="x contains NaN"):
        fn(torch.tensor([1.0, float("nan")]))
    with pytest.raises(ValueError, match="y contains NaN"):
        fn(torch.ones(3), torch.tensor([1.0, float("inf")]))
    with pytest.raises(TypeError, match="x has dtype"):
        fn(torch.tensor([True, False]))
    with pytest.raises(TypeError, match="x has dtype"):
        fn(torch.tensor([1 + 1j, 2.0]))
    with pytest.raises(TypeError, match="x must be a tensor"):
        fn(object())
    with pytest.raises(ValueError, match="same number of features"):
        fn(torch.ones(3, 2), torch.ones(3, 3))


@pytest.mark.parametrize("sigma", [0.0, -1.0, float("nan"), float("inf")])
def test_bad_sigma_value(sigma: float) -> None:
    with pytest.raises(ValueError, match="sigma"):
        H.gaussian_kernel(torch.ones(3), sigma=sigma)
    with pytest.raises(ValueError, match="sigma"):
        H.gram(torch.ones(3), "linear", sigma=sigma)
    with pytest.raises(ValueError, match="sigma"):
        H.hsic(torch.ones(5), torch.ones(5), sigma_x=sigma)
    with pytest.raises(ValueError, match="sigma_y"):
        H.hsic(torch.ones(5), torch.ones(5), sigma_y=sigma)
    with pytest.raises(ValueError, match="sigma"):
        H.gaussian_hsic_moments(POST_COV, sigma)
    with pytest.raises(ValueError, match="sigma_y"):
        H.gaussian_hsic_moments(POST_COV, 1.0, sigma_y=sigma)


@pytest.mark.parametrize("sigma", ["1", True, None])
def test_bad_sigma_type(sigma) -> None:
    with pytest.raises(TypeError, match="sigma"):
        H.gaussian_kernel(torch.ones(3), sigma=sigma)


def test_unknown_names() -> None:
    with pytest.raises(ValueError, match="kernel='rbf'"):
        H.gram(torch.ones(3), "rbf")
    with pytest.raises(ValueError, match="kernel_y=.poly."):
        H.hsic(torch.ones(5), torch.ones(5), kernel_y="poly")
    with pytest.raises(ValueError, match="estimator='biased'"):
        H.hsic(torch.ones(5), torch.ones(5), estimator="biased")
    with pytest.raises(ValueError, match="estimator"):
        H.hsic_permutation_test(torch.ones(5), torch.ones(5), estimator="x")
    with pytest.raises(ValueError, match="estimator"):
        H.hsic_literal(torch.eye(5), torch.eye(5), "x")


@pytest.mark.parametrize("fn", [H.hsic_v, H.hsic_gretton, H.hsic_u])
def test_estimator_bad_matrices(fn) -> None:
    K, L = _grams(6)
    with pytest.raises(ValueError, match=r"K must have shape"):
        fn(K[:, :5], L)
    with pytest.raises(ValueError, match=r"L must have shape"):
        fn(K, torch.ones(6))
    with pytest.raises(ValueError, match="same shape"):
        fn(K, _grams(7)[1])
    A = K.clone()
    A[0, 1] += 1e-3
    with pytest.raises(ValueError, match="K is not symmetric"):
        fn(A, L)
    with pytest.raises(ValueError, match="L is not symmetric"):
        fn(K, A)
    Kn = K.clone()
    Kn[2, 2] = float("nan")
    with pytest.raises(ValueError, match="K contains NaN"):
        fn(Kn, L)
    Li = L.clone()
    Li[1, 1] = float("inf")
    with pytest.raises(ValueError, match="L contains NaN or Inf"):
        fn(K, Li)
    with pytest.raises(TypeError, match="K has dtype"):
        fn(K > 0, L)
    # round-off asymmetry is accepted
    B = K.clone()
    B[0, 1] += 1e-15
    fn(B, L)


def test_estimator_sample_size_limits() -> None:
    one = torch.ones(1, 1, dtype=F64)
    for fn in (H.hsic_v, H.hsic_gretton):
        with pytest.raises(ValueError, match="n >= 2"):
            fn(one, one)
    three = torch.eye(3, dtype=F64)
    with pytest.raises(ValueError, match="n >= 4"):
        H.hsic_u(three, three)
    with pytest.raises(ValueError, match="needs n >= 4"):
        H.hsic(torch.ones(3), torch.ones(3))
    with pytest.raises(ValueError, match="n >= 3"):
        H.u_center(torch.eye(2))
    with pytest.raises(ValueError, match=r"\(\.\.\., n, n\)"):
        H.u_center(torch.ones(3, 4))
    with pytest.raises(ValueError, match=r"\(\.\.\., n, n\)"):
        H.double_center(torch.ones(3))
    with pytest.raises(ValueError, match="K contains NaN"):
        H.double_center(torch.full((2, 2), float("nan")))


def test_hsic_sample_mismatch() -> None:
    with pytest.raises(ValueError, match="same number of samples"):
        H.hsic(torch.ones(10), torch.ones(11))
    with pytest.raises(ValueError, match="same number of samples"):
        H.hsic(torch.ones(2, 10, 1), torch.ones(3, 10, 1))


def test_permutation_bad_inputs() -> None:
    x = torch.randn(10, dtype=F64)
    K = H.gaussian_kernel(x)
    for b in (0, -3):
        with pytest.raises(ValueError, match="num_permutations"):
            H.hsic_permutation_test(x, x, b)
        with pytest.raises(ValueError, match="num_permutations"):
            H.hsic_permutation_null(K, K, b)
    for b in (2.5, True, "10"):
        with pytest.raises(TypeError, match="num_permutations"):
            H.hsic_permutation_test(x, x, b)
    with pytest.raises(TypeError, match="generator"):
        H.hsic_permutation_test(x, x, 5, generator=np.random.default_rng(0))
    with pytest.raises(ValueError, match="single"):
        H.hsic_permutation_null(K[None], K[None], 5)
    with pytest.raises(ValueError, match=r"shape \(n,\) or \(n, d\)"):
        H.hsic_permutation_test(torch.ones(2, 10, 1), torch.ones(2, 10, 1), 5)
    with pytest.raises(ValueError, match="same number of samples"):
        H.hsic_permutation_test(torch.ones(10), torch.ones(9), 5)
    with pytest.raises(ValueError, match="needs n >= 4"):
        H.hsic_permutation_test(torch.ones(3), torch.ones(3), 5, estimator="u")
    with pytest.raises(ValueError, match="x contains NaN"):
        H.hsic_permutation_test(torch.tensor([1.0, float("nan"), 2.0]), torch.ones(3), 5)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a second device (CUDA)")
def test_device_mismatch() -> None:  # pragma: no cover - GPU only
    K = torch.eye(5, dtype=F64)
    with pytest.raises(ValueError, match="same device"):
        H.hsic_v(K, K.cuda())
    with pytest.raises(ValueError, match="same device"):
        H.gaussian_kernel(torch.ones(3), torch.ones(3, device="cuda"))
    with pytest.raises(ValueError, match="generator is on"):
        H.hsic_permutation_test(torch.ones(6, device="cuda"), torch.ones(6, device="cuda"), 5,
                                generator=torch.Generator())


def test_literal_bad_inputs() -> None:
    big = torch.eye(41, dtype=F64)
    with pytest.raises(ValueError, match="n <= 40"):
        H.hsic_literal(big, big, "u")
    huge = torch.eye(201, dtype=F64)
    with pytest.raises(ValueError, match="n <= 200"):
        H.hsic_literal(huge, huge, "v")
    with pytest.raises(ValueError, match="single"):
        H.hsic_literal(torch.eye(5)[None], torch.eye(5)[None])
    with pytest.raises(ValueError, match="n >= 4"):
        H.hsic_literal(torch.eye(3), torch.eye(3), "u")


@pytest.mark.parametrize("cov, match", [
    (np.ones((2, 3)), "square"),
    (np.ones((1, 1)), "d >= 2"),
    (np.ones((2, 2, 2)), "square"),
    (np.array([[1.0, 0.5], [0.4, 1.0]]), "symmetric"),
    (np.array([[1.0, 2.0], [2.0, 1.0]]), "positive semi-definite"),
    (np.array([[1.0, np.nan], [np.nan, 1.0]]), "NaN"),
])
def test_population_bad_cov_values(cov: np.ndarray, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        H.gaussian_hsic_population(cov)


@pytest.mark.parametrize("cov", [np.eye(2, dtype=bool), np.eye(2) * (1 + 1j), np.array([["a", "b"], ["c", "d"]])])
def test_population_bad_cov_types(cov: np.ndarray) -> None:
    with pytest.raises(TypeError, match="cov has dtype"):
        H.gaussian_hsic_population(cov)


def test_population_bad_dim_x() -> None:
    for dx in (0, 2, -1):
        with pytest.raises(ValueError, match="dim_x"):
            H.gaussian_hsic_population(np.eye(2), dim_x=dx)
    for dx in (1.0, True):
        with pytest.raises(TypeError, match="dim_x"):
            H.gaussian_hsic_population(np.eye(2), dim_x=dx)


def test_estimator_means_bad_inputs() -> None:
    m = H.gaussian_hsic_moments(POST_COV)
    with pytest.raises(TypeError, match="HSICMoments"):
        H.estimator_means((1, 2, 3, 4), 10)
    with pytest.raises(ValueError, match="n=3"):
        H.estimator_means(m, 3)
    for n in (10.0, True):
        with pytest.raises(TypeError, match="n="):
            H.estimator_means(m, n)
    with pytest.raises(ValueError, match="finite"):
        H.estimator_means(m._replace(kl_pair=float("nan")), 10)


# ----------------------------------------------------------------- sampler
def test_sample_gaussian_pairs_covariance_and_shapes() -> None:
    S = np.array([[1.0, 0.3, -0.2], [0.3, 2.0, 0.5], [-0.2, 0.5, 0.7]])
    x, y = H.sample_gaussian_pairs(S, 50_000, (4,), dim_x=2, generator=torch.Generator().manual_seed(0))
    assert x.shape == (4, 50_000, 2) and y.shape == (4, 50_000, 1) and x.dtype == F64
    z = torch.cat([x, y], -1).reshape(-1, 3).numpy()
    emp = np.cov(z.T)
    se = np.sqrt((S**2 + np.outer(np.diag(S), np.diag(S))) / len(z))  # sd of a sample covariance
    assert np.all(np.abs(emp - S) < 5 * se)
    # singular covariance: y = x exactly
    x1, y1 = H.sample_gaussian_pairs([[1, 1], [1, 1]], 10, generator=torch.Generator().manual_seed(1))
    _close(x1, y1, rtol=1e-12, atol=1e-12)
    x2, _ = H.sample_gaussian_pairs(np.eye(2), 5, 3, dtype=torch.float32)
    assert x2.shape == (3, 5, 1) and x2.dtype == torch.float32
    x3, _ = H.sample_gaussian_pairs(np.eye(2), 4, [2, 3])
    assert x3.shape == (2, 3, 4, 1)


def test_sample_gaussian_pairs_bad_inputs() -> None:
    with pytest.raises(ValueError, match="n=0"):
        H.sample_gaussian_pairs(np.eye(2), 0)
    with pytest.raises(TypeError, match="n="):
        H.sample_gaussian_pairs(np.eye(2), 2.0)
    with pytest.raises(TypeError, match="batch"):
        H.sample_gaussian_pairs(np.eye(2), 2, (1.5,))
    with pytest.raises(ValueError, match="batch"):
        H.sample_gaussian_pairs(np.eye(2), 2, (-1,))
    with pytest.raises(TypeError, match="dtype"):
        H.sample_gaussian_pairs(np.eye(2), 2, dtype=torch.int64)
    with pytest.raises(TypeError, match="generator"):
        H.sample_gaussian_pairs(np.eye(2), 2, generator=0)
    with pytest.raises(ValueError, match="positive semi-definite"):
        H.sample_gaussian_pairs(np.array([[1.0, 2.0], [2.0, 1.0]]), 2)
    with pytest.raises(ValueError, match="dim_x"):
        H.sample_gaussian_pairs(np.eye(2), 2, dim_x=2)
