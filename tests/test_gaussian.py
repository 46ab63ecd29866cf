"""Tests of kexue_book.prob.gaussian: references (torch.distributions, scipy), invariants,
closed forms, hypothesis properties and every bad-input path."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.integrate as si
import scipy.linalg as sl
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import multivariate_normal, norm
from torch.distributions import MultivariateNormal, kl_divergence

from kexue_book._checks import check_generator
from kexue_book.prob import gaussian as G

F64 = torch.float64


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # see conftest.py


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def pair(d: int, batch=(), *, cond=10.0, seed=0, scale_q=2.0):
    g = gen(seed)
    cp = G.random_spd(d, batch, cond=cond, generator=g)
    cq = G.random_spd(d, batch, cond=cond, scale=scale_q, generator=g)
    mp = torch.randn(*batch, d, generator=g, dtype=F64)
    mq = torch.randn(*batch, d, generator=g, dtype=F64)
    return mp, cp, mq, cq


def scipy_trace_sqrt(cp: np.ndarray, cq: np.ndarray) -> float:
    return float(np.trace(sl.sqrtm(cp @ cq)).real)


# --------------------------------------------------------------------------- references
@pytest.mark.parametrize("cond", [1.0, 10.0, 1e6])
@pytest.mark.parametrize("d", [1, 2, 5, 8])
def test_entropy_and_kl_match_torch(d, cond):
    mp, cp, mq, cq = pair(d, (7,), cond=cond, seed=d)
    ent = G.gaussian_entropy(cp)
    torch.testing.assert_close(ent, MultivariateNormal(mp, cp).entropy(), rtol=1e-12, atol=1e-12)
    kl = G.gaussian_kl(mp, cp, mq, cq)
    ref = kl_divergence(MultivariateNormal(mp, cp), MultivariateNormal(mq, cq))
    torch.testing.assert_close(kl, ref, rtol=1e-10, atol=0.0)


def test_kl_standard_normal_special_case():
    mp, cp, _, _ = pair(4, seed=3)
    kl = G.gaussian_kl(mp, cp, torch.zeros(4, dtype=F64), torch.eye(4, dtype=F64))
    expected = 0.5 * (mp.square().sum() - torch.logdet(cp) + torch.trace(cp) - 4)
    torch.testing.assert_close(kl, expected, rtol=1e-13, atol=1e-13)


def test_kl_of_identical_is_zero_and_asymmetric():
    mp, cp, mq, cq = pair(3, seed=1)
    assert float(G.gaussian_kl(mp, cp, mp, cp)) == pytest.approx(0.0, abs=1e-13)
    assert abs(float(G.gaussian_kl(mp, cp, mq, cq) - G.gaussian_kl(mq, cq, mp, cp))) > 1e-3


def test_bhattacharyya_matches_dblquad_in_2d():
    mp, cp, mq, cq = pair(2, seed=5, scale_q=1.5)
    p = multivariate_normal(mp.numpy(), cp.numpy())
    q = multivariate_normal(mq.numpy(), cq.numpy())
    # sqrt(p q) on a grid via scipy's log-densities, then dblquad on the same integrand
    ip, iq = np.linalg.inv(cp.numpy()), np.linalg.inv(cq.numpy())
    c0 = 0.5 * (p.logpdf(mp.numpy()) + q.logpdf(mq.numpy()))
    a, b = mp.numpy(), mq.numpy()

    def f(y, x):
        u, v = np.array([x, y]) - a, np.array([x, y]) - b
        return math.exp(c0 - 0.25 * (u @ ip @ u) - 0.25 * (v @ iq @ v))

    assert f(0.3, -0.2) == pytest.approx(math.sqrt(p.pdf([-0.2, 0.3]) * q.pdf([-0.2, 0.3])), rel=1e-12)
    val, _ = si.dblquad(f, -10.0, 10.0, -10.0, 10.0, epsabs=1e-11, epsrel=1e-9)
    bd = float(G.gaussian_bhattacharyya(mp, cp, mq, cq))
    assert bd == pytest.approx(-math.log(val), rel=1e-7)


def test_bhattacharyya_and_hellinger_1d_closed_forms():
    m1, s1, m2, s2 = 0.3, 0.7, -1.1, 1.9
    t = lambda v: torch.tensor(v, dtype=F64)  # noqa: E731
    bd = float(G.gaussian_bhattacharyya(t([m1]), t([[s1**2]]), t([m2]), t([[s2**2]])))
    expected = 0.25 * math.log(0.25 * (s1**2 / s2**2 + s2**2 / s1**2 + 2)) + 0.25 * (m1 - m2) ** 2 / (s1**2 + s2**2)
    assert bd == pytest.approx(expected, rel=1e-13)
    h2, _ = si.quad(lambda x: 0.5 * (math.sqrt(norm.pdf(x, m1, s1)) - math.sqrt(norm.pdf(x, m2, s2))) ** 2,
                    -30, 30, epsabs=1e-13, limit=200)
    got = float(G.gaussian_hellinger_sq(t([m1]), t([[s1**2]]), t([m2]), t([[s2**2]])))
    assert got == pytest.approx(h2, rel=1e-9)
    assert got == pytest.approx(1 - math.exp(-bd), rel=1e-13)


def test_hellinger_keeps_precision_for_nearby_gaussians():
    mp, cp, _, _ = pair(3, seed=2)
    eps = 1e-9
    h2 = float(G.gaussian_hellinger_sq(mp, cp, mp + eps, cp))
    bd = float(G.gaussian_bhattacharyya(mp, cp, mp + eps, cp))
    assert 0 < h2 <= bd and h2 == pytest.approx(bd, rel=1e-6)


@pytest.mark.parametrize("d", [1, 2, 3, 8])
def test_w2_routes_match_scipy_sqrtm(d):
    mp, cp, mq, cq = pair(d, (6,), seed=10 + d)
    ref = np.array([scipy_trace_sqrt(a, b) for a, b in zip(cp.numpy(), cq.numpy())])
    for method in ("eigh", "frechet", "nuclear"):
        got = G.trace_sqrt_product(cp, cq, method=method).numpy()
        np.testing.assert_allclose(got, ref, rtol=1e-10)
    w2 = G.gaussian_w2_sq(mp, cp, mq, cq)
    expected = (mp - mq).square().sum(-1).numpy() + np.trace(cp.numpy(), axis1=1, axis2=2) \
        + np.trace(cq.numpy(), axis1=1, axis2=2) - 2 * ref
    np.testing.assert_allclose(w2.numpy(), expected, rtol=1e-10)


def test_w2_version1_with_scipy_roots():
    _, cp, _, cq = pair(5, seed=4)
    rp = sl.sqrtm(cp.numpy()).real
    v1 = np.trace(sl.sqrtm(rp @ cq.numpy() @ rp)).real
    assert float(G.trace_sqrt_product(cp, cq)) == pytest.approx(v1, rel=1e-10)
    torch.testing.assert_close(G.psd_sqrt(cp), torch.from_numpy(rp), rtol=1e-10, atol=1e-12)


def test_w2_one_dimensional_and_commuting_closed_forms():
    w2 = G.gaussian_w2_sq([1.0], [[4.0]], [-0.5], [[0.25]])
    assert float(w2) == pytest.approx(1.5**2 + (2.0 - 0.5) ** 2, rel=1e-14)
    O = G.random_orthogonal(4, generator=gen(7))
    a = torch.tensor([0.1, 1.0, 3.0, 7.0], dtype=F64)
    b = torch.tensor([2.0, 0.5, 3.0, 1e-3], dtype=F64)
    cp, cq = O @ torch.diag(a) @ O.T, O @ torch.diag(b) @ O.T
    cp, cq = 0.5 * (cp + cp.T), 0.5 * (cq + cq.T)
    mp, mq = torch.ones(4, dtype=F64), torch.zeros(4, dtype=F64)
    expected = 4.0 + torch.linalg.matrix_norm(G.psd_sqrt(cp) - G.psd_sqrt(cq)) ** 2
    torch.testing.assert_close(G.gaussian_w2_sq(mp, cp, mq, cq), expected, rtol=1e-12, atol=1e-12)


def test_w2_allows_singular_covariances():
    g = gen(11)
    A = torch.randn(4, 6, 2, generator=g, dtype=F64)
    B = torch.randn(4, 6, 3, generator=g, dtype=F64)
    cp, cq = A @ A.mT, B @ B.mT          # ranks 2 and 3
    # the nonzero eigenvalues of cp cq = A A^T cq are those of the 2x2 PD matrix A^T cq A
    ref = torch.linalg.eigvalsh(A.mT @ cq @ A).sqrt().sum(-1)
    for method in ("eigh", "nuclear"):
        torch.testing.assert_close(G.trace_sqrt_product(cp, cq, method), ref, rtol=1e-12, atol=0)
    # an exactly singular matrix keeps its null space in the PSD root
    r = G.psd_sqrt(cp[0])
    torch.testing.assert_close(r @ r, cp[0], rtol=0, atol=1e-13)
    null = torch.linalg.svd(A[0].T).Vh[2:]                 # basis of the null space of cp[0]
    assert float((r @ null.T).abs().max()) < 1e-13
    z = torch.zeros(6, dtype=F64)
    assert float(G.gaussian_w2_sq(z, torch.zeros(6, 6, dtype=F64), z, torch.zeros(6, 6, dtype=F64))) == 0.0
    # W2 between a point mass and N(0, S) is Tr S
    assert float(G.gaussian_w2_sq(z, torch.zeros(6, 6, dtype=F64), z, cq[0])) == pytest.approx(float(torch.trace(cq[0])), rel=1e-12)


def test_w2_map_properties():
    mp, cp, mq, cq = pair(5, seed=8)
    A, b = G.gaussian_w2_map(mp, cp, mq, cq)
    torch.testing.assert_close(A, A.T, rtol=0, atol=0)
    assert float(torch.linalg.eigvalsh(A).min()) > 0
    torch.testing.assert_close(A @ cp @ A, cq, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(A @ mp + b, mq, rtol=1e-12, atol=1e-12)
    I = torch.eye(5, dtype=F64)
    cost = torch.trace((I - A) @ cp @ (I - A)) + (mp - mq).square().sum()
    torch.testing.assert_close(cost, G.gaussian_w2_sq(mp, cp, mq, cq), rtol=1e-10, atol=1e-12)


def test_batch_broadcasting_and_dtypes():
    mp, cp, mq, cq = pair(3, (4,), seed=9)
    out = G.gaussian_w2_sq(mp[0], cp[0], mq, cq)          # unbatched p against a batch of q
    ref = torch.stack([G.gaussian_w2_sq(mp[0], cp[0], mq[i], cq[i]) for i in range(4)])
    torch.testing.assert_close(out, ref, rtol=1e-12, atol=1e-12)
    kl32 = G.gaussian_kl(mp.float(), cp.float(), mq.float(), cq.float())
    assert kl32.dtype == torch.float32
    torch.testing.assert_close(kl32.double(), G.gaussian_kl(mp, cp, mq, cq), rtol=1e-4, atol=1e-5)
    assert G.gaussian_kl(mp.numpy(), cp.numpy().tolist(), mq, cq).dtype == F64   # array-likes -> float64
    mixed = G.gaussian_bhattacharyya(mp.float(), cp, mq, cq)                       # promotion
    assert mixed.dtype == F64
    assert G.gaussian_entropy(cp).shape == (4,)


def test_sampler_and_random_matrices():
    g = gen(12)
    mu = torch.tensor([1.0, -2.0, 0.5], dtype=F64)
    cov = G.random_spd(3, cond=5.0, generator=g)
    x = G.sample_gaussian(mu, cov, 200_000, generator=gen(1))
    assert x.shape == (200_000, 3)
    # standard errors: mean ~ sqrt(var/n) ~ 2e-3, covariance entries ~ 3e-3
    torch.testing.assert_close(x.mean(0), mu, rtol=0, atol=0.015)
    torch.testing.assert_close(torch.cov(x.T), cov, rtol=0, atol=0.02)
    assert torch.equal(G.sample_gaussian(mu, cov, 200_000, generator=gen(1)), x)   # reproducible
    assert G.sample_gaussian(mu, cov[None].expand(2, 3, 3), 4, generator=gen(2)).shape == (4, 2, 3)
    O = G.random_orthogonal(6, (3,), generator=g)
    torch.testing.assert_close(O.mT @ O, torch.eye(6, dtype=F64).expand(3, 6, 6), rtol=0, atol=1e-13)
    S = G.random_spd(6, 5, cond=1e6, scale=3.0, generator=g)
    ev = torch.linalg.eigvalsh(S)
    torch.testing.assert_close(ev[:, -1], torch.full((5,), 3.0, dtype=F64), rtol=1e-12, atol=0)
    torch.testing.assert_close(ev[:, 0], torch.full((5,), 3e-6, dtype=F64), rtol=1e-6, atol=0)
    assert torch.equal(S, S.mT)


# --------------------------------------------------------------------------- properties
spd_params = st.tuples(st.integers(1, 6), st.integers(0, 2**31 - 1), st.floats(1.0, 1e4))


@settings(max_examples=50, deadline=None)
@given(spd_params, st.floats(0.0, 1.0))
def test_random_feasible_couplings_never_beat_the_bound(params, shrink):
    """Every feasible cross-covariance C = Sp^1/2 K Sq^1/2 with ||K|| <= 1 has Tr C <= Tr R."""
    d, seed, cond = params
    mp, cp, mq, cq = pair(d, seed=seed, cond=cond)
    g = gen(seed + 1)
    U, V = G.random_orthogonal(d, generator=g), G.random_orthogonal(d, generator=g)
    s = torch.rand(d, generator=g, dtype=F64) * shrink + (1 - shrink)
    K = U @ torch.diag(s) @ V.T
    C = G.psd_sqrt(cp) @ K @ G.psd_sqrt(cq)
    joint = torch.cat([torch.cat([cp, C], 1), torch.cat([C.T, cq], 1)], 0)
    assert float(torch.linalg.eigvalsh(0.5 * (joint + joint.T)).min()) > -1e-10
    R = float(G.trace_sqrt_product(cp, cq))
    assert float(torch.trace(C)) <= R + 1e-10 * (1 + R)


@settings(max_examples=50, deadline=None)
@given(spd_params, spd_params, spd_params)
def test_w2_is_a_metric_and_symmetric(a, b, c):
    d = a[0]
    p, q, r = pair(d, seed=a[1], cond=a[2]), pair(d, seed=b[1], cond=b[2]), pair(d, seed=c[1], cond=c[2])
    P, Q, Rr = (p[0], p[1]), (q[2], q[3]), (r[0], r[3])
    w = lambda x, y: float(G.gaussian_w2_sq(*x, *y)) ** 0.5  # noqa: E731
    assert w(P, Q) == pytest.approx(w(Q, P), rel=1e-9, abs=1e-9)
    assert w(P, Rr) <= w(P, Q) + w(Q, Rr) + 1e-9
    assert w(P, P) == pytest.approx(0.0, abs=1e-6)
    assert float(G.gaussian_bhattacharyya(*P, *Q)) == pytest.approx(float(G.gaussian_bhattacharyya(*Q, *P)), rel=1e-12)


@settings(max_examples=50, deadline=None)
@given(spd_params)
def test_divergences_invariant_under_rigid_motions(params):
    d, seed, cond = params
    mp, cp, mq, cq = pair(d, seed=seed, cond=cond)
    g = gen(seed + 2)
    O = G.random_orthogonal(d, generator=g)
    t = torch.randn(d, generator=g, dtype=F64)
    mv = lambda m, c: (O @ m + t, O @ c @ O.T)  # noqa: E731
    a, b = mv(mp, cp), mv(mq, cq)
    for f in (G.gaussian_kl, G.gaussian_bhattacharyya, G.gaussian_w2_sq):
        before, after = float(f(mp, cp, mq, cq)), float(f(*a, *b))
        assert after == pytest.approx(before, rel=1e-8, abs=1e-9)
    for m in ("frechet", "nuclear"):
        assert float(G.gaussian_w2_sq(mp, cp, mq, cq, method=m)) == pytest.approx(
            float(G.gaussian_w2_sq(mp, cp, mq, cq)), rel=1e-8, abs=1e-9)


# --------------------------------------------------------------------------- bad input
def good():
    return pair(3, seed=0)


FUNCS = [G.gaussian_kl, G.gaussian_bhattacharyya, G.gaussian_hellinger_sq, G.gaussian_w2_sq, G.gaussian_w2_map]


@pytest.mark.parametrize("f", FUNCS)
def test_bad_shapes(f):
    mp, cp, mq, cq = good()
    with pytest.raises(ValueError, match="mu_p"):
        f(mp[:2], cp, mq, cq)
    with pytest.raises(ValueError, match="mu_q"):
        f(mp, cp, torch.zeros(4, dtype=F64), cq)
    with pytest.raises(ValueError, match="mu_p"):
        f(torch.tensor(1.0, dtype=F64), cp, mq, cq)
    with pytest.raises(ValueError, match="cov_p.*square"):
        f(mp, cp[:, :2], mq, cq)
    with pytest.raises(ValueError, match="cov_q.*square"):
        f(mp, cp, mq, cq[0])
    with pytest.raises(ValueError, match="different dimensions"):
        f(mp, cp, mq[:2], cq[:2, :2])
    with pytest.raises(ValueError, match="d=0"):
        f(mp[:0], cp[:0, :0], mq[:0], cq[:0, :0])
    with pytest.raises(ValueError, match="broadcast"):
        f(mp.expand(2, 3), cp, mq.expand(5, 3), cq)


@pytest.mark.parametrize("f", FUNCS)
def test_bad_values(f):
    mp, cp, mq, cq = good()
    for bad in (math.nan, math.inf):
        m = mp.clone(); m[1] = bad
        with pytest.raises(ValueError, match="mu_p contains NaN or Inf"):
            f(m, cp, mq, cq)
        m = mq.clone(); m[0] = bad
        with pytest.raises(ValueError, match="mu_q contains NaN or Inf"):
            f(mp, cp, m, cq)
        c = cq.clone(); c[0, 0] = bad
        with pytest.raises(ValueError, match="cov_q contains NaN or Inf"):
            f(mp, cp, mq, c)
    asym = cp.clone(); asym[0, 1] += 1e-6
    with pytest.raises(ValueError, match="cov_p is not symmetric"):
        f(mp, asym, mq, cq)
    # below the tolerance: accepted and symmetrised
    tiny = cp.clone(); tiny[0, 1] += 1e-13
    f(mp, tiny, mq, cq)


@pytest.mark.parametrize("f", [G.gaussian_kl, G.gaussian_bhattacharyya, G.gaussian_hellinger_sq])
def test_positive_definiteness_required(f):
    mp, cp, mq, cq = good()
    sing = torch.diag(torch.tensor([1.0, 1.0, 0.0], dtype=F64))
    with pytest.raises(ValueError, match="cov_p is not positive definite"):
        f(mp, sing, mq, cq)
    batch = torch.stack([cq, sing])
    with pytest.raises(ValueError, match=r"cov_q is not positive definite \(batch index 1\)"):
        f(mp, cp, mq, batch)


def test_entropy_bad_input():
    with pytest.raises(ValueError, match="not positive definite"):
        G.gaussian_entropy(-torch.eye(2, dtype=F64))
    with pytest.raises(ValueError, match="square"):
        G.gaussian_entropy(torch.ones(2, 3, dtype=F64))
    with pytest.raises(ValueError, match="square"):
        G.gaussian_entropy(torch.ones(3, dtype=F64))
    with pytest.raises(ValueError, match="NaN"):
        G.gaussian_entropy(torch.full((2, 2), math.nan, dtype=F64))
    with pytest.raises(TypeError, match="cov has dtype"):
        G.gaussian_entropy(torch.eye(2, dtype=torch.int64))


def test_psd_required_for_w2_and_sqrt_and_sampler():
    mp, cp, mq, cq = good()
    neg = torch.diag(torch.tensor([1.0, 1.0, -1e-3], dtype=F64))
    with pytest.raises(ValueError, match="cov_p is not positive semi-definite"):
        G.gaussian_w2_sq(mp, neg, mq, cq)
    with pytest.raises(ValueError, match="cov_q is not positive semi-definite"):
        G.gaussian_w2_sq(mp, cp, mq, neg)
    with pytest.raises(ValueError, match="cov_q is not positive semi-definite"):
        G.trace_sqrt_product(cp, neg)
    with pytest.raises(ValueError, match="S is not positive semi-definite"):
        G.psd_sqrt(neg)
    with pytest.raises(ValueError, match="cov is not positive semi-definite"):
        G.sample_gaussian(mp, neg, 3)
    with pytest.raises(ValueError, match="cov_q is not positive semi-definite"):
        G.gaussian_w2_map(mp, cp, mq, neg)
    sing = torch.diag(torch.tensor([1.0, 1.0, 0.0], dtype=F64))
    with pytest.raises(ValueError, match="cov_p is not positive definite"):
        G.gaussian_w2_map(mp, sing, mq, cq)
    # a singular target is fine for the map, and round-off negatives are tolerated
    G.gaussian_w2_map(mp, cp, mq, sing)
    G.psd_sqrt(torch.diag(torch.tensor([1.0, -1e-14], dtype=F64)))


def test_bad_dtypes_and_types():
    mp, cp, mq, cq = good()
    with pytest.raises(TypeError, match="cov_p has dtype torch.int64"):
        G.gaussian_kl(mp, torch.eye(3, dtype=torch.int64), mq, cq)
    with pytest.raises(TypeError, match="mu_q has dtype int64"):
        G.gaussian_w2_sq(mp, cp, np.zeros(3, dtype=np.int64), cq)
    with pytest.raises(TypeError, match="mu_p has dtype bool"):
        G.gaussian_bhattacharyya([True, False, True], cp, mq, cq)
    with pytest.raises(TypeError, match="complex"):
        G.gaussian_kl(mp.to(torch.complex128), cp, mq, cq)
    with pytest.raises(TypeError, match="float16"):
        G.psd_sqrt(torch.eye(2, dtype=torch.float16))
    with pytest.raises(TypeError, match="cov_q has dtype <U3"):
        G.gaussian_w2_sq(mp, cp, mq, "abc")


def test_device_mismatch_and_method():
    mp, cp, mq, cq = good()
    with pytest.raises(ValueError, match="cov_p is on meta"):
        G.gaussian_kl(mp, cp.to("meta"), mq, cq)
    for bad in ("sqrtm", None, 3):
        with pytest.raises(ValueError, match="method="):
            G.gaussian_w2_sq(mp, cp, mq, cq, method=bad)
        with pytest.raises(ValueError, match="method="):
            G.trace_sqrt_product(cp, cq, method=bad)


def test_sampler_and_generator_bad_input():
    mp, cp, _, _ = good()
    for n, err in ((0, ValueError), (-3, ValueError), (2.5, TypeError), (True, TypeError)):
        with pytest.raises(err, match="n="):
            G.sample_gaussian(mp, cp, n)
    with pytest.raises(TypeError, match="generator must be"):
        G.sample_gaussian(mp, cp, 3, generator=np.random.default_rng(0))
    with pytest.raises(ValueError, match="mu must have shape"):
        G.sample_gaussian(mp[:2], cp, 3)
    with pytest.raises(ValueError, match="do not broadcast"):
        G.sample_gaussian(mp.expand(2, 3), cp.expand(4, 3, 3), 3)
    with pytest.raises(ValueError, match="generator is on cpu"):
        check_generator(torch.Generator(), torch.device("cuda"), "the output is")  # the check the sampler calls


def test_gram_schmidt_is_the_positive_diagonal_qr_factor():
    g = torch.randn(50, 7, 7, generator=gen(3), dtype=F64)
    q_ref, r = torch.linalg.qr(g)
    q_ref = q_ref * torch.sign(torch.diagonal(r, dim1=-2, dim2=-1))[..., None, :]
    torch.testing.assert_close(G._gram_schmidt(g), q_ref, rtol=0, atol=1e-12)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_chunking_and_batched_orthogonal(monkeypatch):
    monkeypatch.setattr(G, "_CUDA_CHUNK", 5)
    g = torch.Generator(device="cuda").manual_seed(0)
    O = G.random_orthogonal(4, (3, 7), generator=g, device="cuda")
    torch.testing.assert_close(O.mT @ O, torch.eye(4, dtype=F64, device="cuda").expand(3, 7, 4, 4), rtol=0, atol=1e-13)
    S = G.random_spd(4, (3, 7), generator=g, device="cuda")
    torch.testing.assert_close(G.psd_sqrt(S).cpu(), G.psd_sqrt(S.cpu()), rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(G.gaussian_w2_sq(torch.zeros(4, dtype=F64, device="cuda"), S, torch.ones(4, dtype=F64, device="cuda"), S.flip(0)).cpu(),
                               G.gaussian_w2_sq(torch.zeros(4, dtype=F64), S.cpu(), torch.ones(4, dtype=F64), S.flip(0).cpu()),
                               rtol=1e-10, atol=1e-12)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_generator_mismatch_and_results():
    mp, cp, mq, cq = good()
    with pytest.raises(ValueError, match="generator is on cpu"):
        G.sample_gaussian(mp.cuda(), cp.cuda(), 3, generator=torch.Generator())
    torch.testing.assert_close(G.gaussian_w2_sq(mp.cuda(), cp.cuda(), mq.cuda(), cq.cuda()).cpu(),
                               G.gaussian_w2_sq(mp, cp, mq, cq), rtol=1e-10, atol=1e-12)


def test_random_matrix_bad_input():
    with pytest.raises(ValueError, match="d=0"):
        G.random_spd(0)
    with pytest.raises(TypeError, match="d=2.0"):
        G.random_orthogonal(2.0)
    with pytest.raises(ValueError, match="cond"):
        G.random_spd(3, cond=0.5)
    with pytest.raises(ValueError, match="cond"):
        G.random_spd(3, cond=math.inf)
    with pytest.raises(ValueError, match="scale"):
        G.random_spd(3, scale=0.0)
    with pytest.raises(TypeError, match="cond"):
        G.random_spd(3, cond=True)
    with pytest.raises(TypeError, match="dtype"):
        G.random_spd(3, dtype=torch.int32)
    with pytest.raises(ValueError, match="batch_shape entry"):
        G.random_orthogonal(3, (2, -1))
    with pytest.raises(TypeError, match="batch_shape"):
        G.random_orthogonal(3, 2.5)
    assert G.random_spd(3, (0, 2)).shape == (0, 2, 3, 3)
