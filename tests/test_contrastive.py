"""Tests of kexue_book.nn.contrastive against F.cross_entropy and full-batch autograd."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from kexue_book.nn.contrastive import (
    contrastive_label_vectors,
    infonce_logits,
    infonce_loss,
    simcse_targets,
    two_pass_contrastive_backward,
    two_tower_label_vectors,
)

F64 = torch.float64


class Enc(nn.Module):
    def __init__(self, p: float = 0.0, seed: int = 0, din: int = 6, dout: int = 4):
        super().__init__()
        torch.manual_seed(seed)
        self.net = nn.Sequential(nn.Linear(din, 16), nn.Tanh(), nn.Dropout(p), nn.Linear(16, dout))

    def forward(self, x):
        return F.normalize(self.net(x), dim=-1)


def _enc(p=0.0, seed=0):
    return Enc(p, seed).to(F64)


def _x(b=12, seed=1, d=6):
    return torch.randn(b, d, generator=torch.Generator().manual_seed(seed), dtype=F64)


def _grads(m):
    return torch.cat([p.grad.reshape(-1) for p in m.parameters()])


def _grad_of(m, fn):
    m.zero_grad(set_to_none=True)
    fn()
    g = _grads(m).clone()
    m.zero_grad(set_to_none=True)
    return g


# --------------------------------------------------------------------------- loss
def test_simcse_targets():
    assert simcse_targets(6).tolist() == [1, 0, 3, 2, 5, 4]
    for bad in (0, 1, 3, -2, 2.0, True):
        with pytest.raises(ValueError):
            simcse_targets(bad)


@pytest.mark.parametrize("reduction", ["sum", "mean"])
@pytest.mark.parametrize("tau", [0.05, 1.0, 7.0])
def test_infonce_matches_cross_entropy(reduction, tau):
    h = _x(10)
    t = simcse_targets(10)
    ref = F.cross_entropy(infonce_logits(h, tau), t, reduction=reduction)
    torch.testing.assert_close(infonce_loss(h, tau=tau, reduction=reduction), ref, rtol=1e-13, atol=0)
    # unmasked diagonal: the plain cross-entropy of the full similarity matrix
    ref2 = F.cross_entropy(h @ h.T / tau, t, reduction=reduction)
    torch.testing.assert_close(infonce_loss(h, tau=tau, mask_diagonal=False, reduction=reduction), ref2,
                               rtol=1e-13, atol=0)


def test_infonce_accepts_index_and_onehot_targets():
    h = _x(8)
    idx = (torch.arange(8) + 3) % 8
    onehot = F.one_hot(idx, 8)
    torch.testing.assert_close(infonce_loss(h, idx), infonce_loss(h, onehot.double()), rtol=0, atol=0)
    torch.testing.assert_close(infonce_loss(h, idx), infonce_loss(h, onehot.bool()), rtol=0, atol=0)


def test_infonce_is_stable_at_small_temperature():
    h = F.normalize(_x(8), dim=-1)
    loss = infonce_loss(h, tau=1e-4)
    assert torch.isfinite(loss)
    # identical positives, orthogonal negatives: the loss is ~0, not NaN
    e = torch.eye(8, dtype=F64)[torch.arange(8) // 2]
    assert 0 <= infonce_loss(e, tau=1e-3).item() < 1e-100


def test_loss_does_not_split_and_gap_formula():
    h = _x(8)
    s = infonce_logits(h, 0.1)
    k = torch.arange(8) // 4
    same = k[:, None] == k[None, :]
    gap = (torch.logsumexp(s, 1) - torch.logsumexp(s.masked_fill(~same, float("-inf")), 1)).sum()
    parts = infonce_loss(h[:4], tau=0.1) + infonce_loss(h[4:], tau=0.1)
    torch.testing.assert_close(infonce_loss(h, tau=0.1) - parts, gap, rtol=1e-12, atol=0)
    assert gap > 0


@pytest.mark.parametrize(
    "kwargs, exc",
    [(dict(tau=0.0), ValueError), (dict(tau=-1.0), ValueError), (dict(tau=float("nan")), ValueError),
     (dict(tau=float("inf")), ValueError), (dict(tau="0.1"), TypeError), (dict(reduction="none"), ValueError),
     (dict(t=torch.tensor([1, 0, 3])), ValueError), (dict(t=torch.tensor([1.0, 0, 3, 2])), TypeError),
     (dict(t=torch.tensor([1, 0, 3, 4])), ValueError), (dict(t=torch.tensor([1, 0, 2, 2])), ValueError),
     (dict(t=torch.eye(4)[[1, 0, 3]]), ValueError), (dict(t=torch.ones(4, 4)), ValueError),
     (dict(t=0.5 * torch.ones(4, 4)), ValueError), (dict(t=torch.zeros(4, 4, 1)), ValueError),
     (dict(t=[1, 0, 3, 2]), TypeError)],
)
def test_infonce_rejects_bad_input(kwargs, exc):
    with pytest.raises(exc):
        infonce_loss(_x(4), **kwargs)


def test_infonce_rejects_bad_embeddings():
    with pytest.raises(ValueError, match="odd"):
        infonce_loss(_x(5))
    with pytest.raises(ValueError, match="shape"):
        infonce_loss(torch.zeros(4))
    with pytest.raises(ValueError, match="at least"):
        infonce_loss(torch.zeros(1, 3), t=torch.tensor([0]), mask_diagonal=False)
    with pytest.raises(TypeError, match="floating"):
        infonce_loss(torch.zeros(4, 3, dtype=torch.long))
    with pytest.raises(TypeError, match="torch.Tensor"):
        infonce_loss([[0.0, 1.0], [1.0, 0.0]])
    # a sample may be its own positive only when the diagonal is not masked
    infonce_loss(_x(4), t=torch.arange(4), mask_diagonal=False)


# --------------------------------------------------------------------------- label vectors
def _surrogate_grad(h_leaf, **kw):
    ht = contrastive_label_vectors(h_leaf, **kw)
    return ht  # d/dh of sum <h, ht> with ht constant is ht itself


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 6), st.integers(2, 5), st.floats(0.02, 5.0), st.integers(0, 2**16),
       st.sampled_from(["sum", "mean"]), st.booleans())
def test_property_label_vectors_are_the_loss_gradient(pairs, dim, tau, seed, reduction, cyclic):
    b = 2 * pairs
    h = torch.randn(b, dim, generator=torch.Generator().manual_seed(seed), dtype=F64).requires_grad_()
    t = (torch.arange(b) + 1) % b if cyclic else None  # cyclic targets are not symmetric
    loss = infonce_loss(h, t, tau=tau, reduction=reduction)
    (g,) = torch.autograd.grad(loss, h)
    ht = contrastive_label_vectors(h, t, tau=tau, reduction=reduction)
    torch.testing.assert_close(ht, g, rtol=1e-10, atol=1e-12 * max(1.0, g.abs().max().item()))
    assert not ht.requires_grad


def test_label_vectors_post_form_for_symmetric_targets():
    h = _x(8)
    tau = 0.2
    p = torch.softmax(infonce_logits(h, tau), 1)
    t = F.one_hot(simcse_targets(8), 8).double()
    post = 2 / tau * ((p + p.T) / 2 - t) @ h
    torch.testing.assert_close(contrastive_label_vectors(h, tau=tau), post, rtol=1e-13, atol=1e-13)


def test_surrogate_value_identity():
    h = _x(10)
    s = infonce_logits(h, 0.3)
    p = torch.softmax(s, 1)
    pos = s.gather(1, simcse_targets(10)[:, None]).squeeze(1)
    expected = 2 * ((p * s.masked_fill(torch.isinf(s), 0)).sum(1) - pos).sum()
    value = (h * contrastive_label_vectors(h, tau=0.3)).sum()
    torch.testing.assert_close(value, expected, rtol=1e-12, atol=0)


def test_two_tower_label_vectors_match_autograd():
    g = torch.Generator().manual_seed(4)
    q = torch.randn(6, 3, generator=g, dtype=F64, requires_grad=True)
    d = torch.randn(9, 3, generator=g, dtype=F64, requires_grad=True)
    t = torch.tensor([0, 2, 4, 6, 8, 1])
    for reduction in ("sum", "mean"):
        loss = F.cross_entropy(q @ d.T / 0.1, t, reduction=reduction)
        gq, gd = torch.autograd.grad(loss, (q, d))
        qt, dt = two_tower_label_vectors(q, d, t, tau=0.1, reduction=reduction)
        torch.testing.assert_close(qt, gq, rtol=1e-12, atol=1e-14)
        torch.testing.assert_close(dt, gd, rtol=1e-12, atol=1e-14)
    qt2, dt2 = two_tower_label_vectors(q, d, F.one_hot(t, 9), tau=0.1)
    torch.testing.assert_close(qt2, two_tower_label_vectors(q, d, t, tau=0.1)[0], rtol=0, atol=0)
    # default pairing i <-> i
    q2, d2 = q[:6], d[:6]
    loss = F.cross_entropy(q2 @ d2.T / 0.1, torch.arange(6), reduction="sum")
    gq, gd = torch.autograd.grad(loss, (q, d))
    qt, dt = two_tower_label_vectors(q2, d2, tau=0.1)
    torch.testing.assert_close(qt, gq, rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(dt, gd[:6], rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize(
    "args, kwargs, exc",
    [((torch.zeros(4, 3), torch.zeros(5, 3)), {}, ValueError),
     ((torch.zeros(4, 3), torch.zeros(4, 2)), {}, ValueError),
     ((torch.zeros(4, 3), torch.zeros(4, 3)), dict(t=torch.tensor([0, 1, 2])), ValueError),
     ((torch.zeros(4, 3), torch.zeros(4, 3)), dict(t=torch.tensor([0, 1, 2, 4])), ValueError),
     ((torch.zeros(4, 3), torch.zeros(4, 3)), dict(t=torch.tensor([0.0, 1, 2, 3])), TypeError),
     ((torch.zeros(4, 3), torch.zeros(4, 3)), dict(t=torch.ones(4, 4)), ValueError),
     ((torch.zeros(4, 3), torch.zeros(4, 3)), dict(t=torch.eye(3)), ValueError),
     ((torch.zeros(4, 3), torch.zeros(4, 3)), dict(t="diag"), TypeError),
     ((torch.zeros(4, 3), torch.zeros(4, 3)), dict(tau=0), ValueError),
     ((torch.zeros(4, 3), torch.zeros(4, 3)), dict(reduction="max"), ValueError),
     ((torch.zeros(4), torch.zeros(4, 3)), {}, ValueError)],
)
def test_two_tower_rejects_bad_input(args, kwargs, exc):
    with pytest.raises(exc):
        two_tower_label_vectors(*args, **kwargs)


# --------------------------------------------------------------------------- two-pass
@pytest.mark.parametrize("chunk", [1, 2, 3, 4, 12])
@pytest.mark.parametrize("reduction", ["sum", "mean"])
def test_two_pass_equals_full_batch(chunk, reduction):
    enc, x = _enc(), _x(12)
    g_ref = _grad_of(enc, lambda: infonce_loss(enc(x), tau=0.1, reduction=reduction).backward())
    out = {}
    g = _grad_of(enc, lambda: out.setdefault("loss", two_pass_contrastive_backward(
        enc, x, chunk, tau=0.1, reduction=reduction)))
    torch.testing.assert_close(g, g_ref, rtol=0, atol=1e-12)
    assert out["loss"] == pytest.approx(infonce_loss(enc(x), tau=0.1, reduction=reduction).item(), rel=1e-14)


def test_two_pass_ragged_and_nonsymmetric_targets_and_tuple_inputs():
    enc, x = _enc(), _x(10)
    t = (torch.arange(10) + 1) % 10

    class TwoInput(nn.Module):
        def __init__(self):
            super().__init__()
            self.enc = enc

        def forward(self, a, b):
            return self.enc(a + b)

    two = TwoInput()
    zeros = torch.zeros_like(x)
    g_ref = _grad_of(enc, lambda: infonce_loss(enc(x), t, tau=0.2).backward())
    g = _grad_of(enc, lambda: two_pass_contrastive_backward(two, (x, zeros), 4, t=t, tau=0.2, allow_ragged=True))
    torch.testing.assert_close(g, g_ref, rtol=0, atol=1e-12)


def test_two_pass_adds_to_existing_grad():
    enc, x = _enc(), _x(8)
    g_ref = _grad_of(enc, lambda: infonce_loss(enc(x)).backward())
    for p in enc.parameters():
        p.grad = torch.ones_like(p)
    two_pass_contrastive_backward(enc, x, 2)
    torch.testing.assert_close(_grads(enc), g_ref + 1, rtol=0, atol=1e-11)


def test_dropout_needs_rng_replay():
    enc, x = _enc(p=0.3), _x(12)

    def reference():
        torch.manual_seed(7)
        infonce_loss(torch.cat([enc(c) for c in x.split(4)]), tau=0.1).backward()

    def two_pass(replay):
        torch.manual_seed(7)
        two_pass_contrastive_backward(enc, x, 4, tau=0.1, replay_rng=replay)
        return torch.rand(1)  # the RNG stream after the call

    g_ref = _grad_of(enc, reference)
    after_ref = torch.rand(1)
    res = {}
    g_replay = _grad_of(enc, lambda: res.setdefault("r", two_pass(True)))
    g_plain = _grad_of(enc, lambda: res.setdefault("p", two_pass(False)))
    torch.testing.assert_close(g_replay, g_ref, rtol=0, atol=1e-12)
    assert (g_plain - g_ref).abs().max() > 1e-3
    # with replay the random stream continues exactly as after pass 1 (= the reference's forward)
    assert torch.equal(res["r"], after_ref)


def test_two_pass_matches_torch_checkpoint_reference():
    """PyTorch's own route: checkpoint each chunk's encoder call, back-propagate the batch loss."""
    from torch.utils.checkpoint import checkpoint

    enc, x = _enc(p=0.3), _x(12)

    def ckpt():
        torch.manual_seed(11)
        h = torch.cat([checkpoint(enc, c, use_reentrant=False, preserve_rng_state=True) for c in x.split(3)])
        infonce_loss(h, tau=0.1).backward()

    def ours():
        torch.manual_seed(11)
        two_pass_contrastive_backward(enc, x, 3, tau=0.1)

    torch.testing.assert_close(_grad_of(enc, ours), _grad_of(enc, ckpt), rtol=0, atol=1e-12)


def test_two_pass_rejects_bad_input():
    enc, x = _enc(), _x(8)
    for bad in (0, -1, 2.0, True, "2"):
        with pytest.raises(ValueError, match="chunk_size"):
            two_pass_contrastive_backward(enc, x, bad)
    with pytest.raises(ValueError, match="divisible"):
        two_pass_contrastive_backward(enc, x, 3)
    with pytest.raises(ValueError, match="share"):
        two_pass_contrastive_backward(enc, (x, x[:4]), 2)
    with pytest.raises(TypeError, match="inputs"):
        two_pass_contrastive_backward(enc, [1, 2], 2)
    with pytest.raises(TypeError, match="callable"):
        two_pass_contrastive_backward("enc", x, 2)
    with pytest.raises(ValueError, match="tau"):
        two_pass_contrastive_backward(enc, x, 2, tau=0.0)
    with pytest.raises(ValueError, match="reduction"):
        two_pass_contrastive_backward(enc, x, 2, reduction="none")
    with pytest.raises(ValueError, match="odd"):
        two_pass_contrastive_backward(enc, _x(7), 7)
    with pytest.raises(ValueError, match=r"\(chunk, dim\)"):
        two_pass_contrastive_backward(lambda a: a.sum(1), x, 2)
    bn = nn.Sequential(nn.Linear(6, 4), nn.BatchNorm1d(4)).to(F64)
    with pytest.raises(ValueError, match="batch statistics"):
        two_pass_contrastive_backward(bn, x, 2)
    bn.eval()  # running statistics: per sample, allowed
    two_pass_contrastive_backward(bn, x, 2)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_two_pass_cuda_dropout_replay():
    enc, x = Enc(0.3).to("cuda", F64), _x(12).cuda()

    def reference():
        torch.manual_seed(7)
        infonce_loss(torch.cat([enc(c) for c in x.split(4)]), tau=0.1).backward()

    def two_pass():
        torch.manual_seed(7)
        two_pass_contrastive_backward(enc, x, 4, tau=0.1)

    torch.testing.assert_close(_grad_of(enc, two_pass), _grad_of(enc, reference), rtol=0, atol=1e-12)
