"""Tests of kexue_book.optim.lazy (chapter 23)."""

from __future__ import annotations

import copy

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from kexue_book.optim.lazy import LazyAdam, LazyOptimizer, sampled_rows_from_grad

V, D = 40, 6


class Bag(nn.Module):
    """Mean of token embeddings, then a linear head."""

    def __init__(self, sparse=False, seed=0, padding_idx=None):
        super().__init__()
        torch.manual_seed(seed)
        self.emb = nn.Embedding(V, D, sparse=sparse, padding_idx=padding_idx)
        self.head = nn.Linear(D, 1)

    def forward(self, idx):
        return self.head(self.emb(idx).mean(1)).squeeze(1)


def _batches(n, seed=0, rows=4, length=5):
    g = torch.Generator().manual_seed(seed)
    for _ in range(n):
        yield (torch.randint(0, V, (rows, length), generator=g),
               torch.randn(rows, generator=g))


def _loss(model, idx, y):
    return ((model(idx) - y) ** 2).mean()


def _run(model, opt, n=60, seed=0, indices=False, lazy=None):
    for idx, y in _batches(n, seed):
        opt.zero_grad()
        _loss(model, idx, y).backward()
        if indices:
            opt.set_active_rows(lazy, idx)
        opt.step()
    return model


def test_sparse_mode_matches_torch_sparse_adam_many_steps():
    ref = Bag(sparse=True)
    ours = copy.deepcopy(ref)
    ref_opt = [torch.optim.SparseAdam([ref.emb.weight], lr=1e-2),
               torch.optim.Adam(ref.head.parameters(), lr=1e-2, foreach=False)]
    opt = LazyAdam(ours.parameters(), lr=1e-2, lazy_params=[ours.emb.weight], mode="sparse")
    for idx, y in _batches(200):
        for o in ref_opt:
            o.zero_grad()
        _loss(ref, idx, y).backward()
        for o in ref_opt:
            o.step()
        opt.zero_grad()
        _loss(ours, idx, y).backward()
        opt.step()
    for a, b in zip(ref.parameters(), ours.parameters()):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-6)


@pytest.mark.parametrize("row_mask", ["grad", "indices"])
def test_sparse_mode_dense_grad_matches_sparse_grad(row_mask):
    a, b = Bag(sparse=True), Bag(sparse=False)
    oa = LazyAdam(a.parameters(), lr=1e-2, lazy_params=[a.emb.weight])
    ob = LazyAdam(b.parameters(), lr=1e-2, lazy_params=[b.emb.weight], row_mask=row_mask)
    _run(a, oa)
    _run(b, ob, indices=row_mask == "indices", lazy=b.emb.weight)
    for p, q in zip(a.parameters(), b.parameters()):
        torch.testing.assert_close(p, q, rtol=0, atol=1e-6)


def test_non_lazy_params_are_torch_adam():
    a, b = Bag(), Bag()
    _run(a, torch.optim.Adam(a.parameters(), lr=1e-2, foreach=False))
    _run(b, LazyAdam(b.parameters(), lr=1e-2))
    for p, q in zip(a.parameters(), b.parameters()):
        torch.testing.assert_close(p, q, rtol=0, atol=1e-6)


def _keras_adam_author(weights, grads, lr=1e-2, b1=0.9, b2=0.999, eps=1e-8):
    """Reference: the author's rule written densely, one step at a time (float64)."""
    w = weights.clone()
    m, v = torch.zeros_like(w), torch.zeros_like(w)
    for t, g in enumerate(grads, 1):
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        f = (g != 0).all(1, keepdim=True).to(w.dtype)
        w = w - lr * f * (1 - b2**t) ** 0.5 / (1 - b1**t) * m / (v.sqrt() + eps)
    return w, m, v


def test_author_mode_against_dense_reference():
    g = torch.Generator().manual_seed(0)
    w0 = torch.randn(V, D, generator=g, dtype=torch.float64)
    grads = []
    for _ in range(30):
        gr = torch.zeros(V, D, dtype=torch.float64)
        rows = torch.randperm(V, generator=g)[:7]
        gr[rows] = torch.randn(7, D, generator=g, dtype=torch.float64)
        grads.append(gr)
    ref_w, ref_m, ref_v = _keras_adam_author(w0, grads)
    p = nn.Parameter(w0.clone())
    opt = LazyAdam([p], lr=1e-2, lazy_params=[p], mode="author")
    for gr in grads:
        p.grad = gr.clone()
        opt.step()
    torch.testing.assert_close(p.detach(), ref_w, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(opt.state[p]["exp_avg"], ref_m, rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(opt.state[p]["exp_avg_sq"], ref_v, rtol=1e-12, atol=1e-14)


def test_frozen_rows_and_slot_semantics():
    """C4/C5: a row seen once stays put under both lazy rules; only 'author' decays its slots."""
    for mode in ("author", "sparse"):
        p = nn.Parameter(torch.randn(5, 3, dtype=torch.float64))
        opt = LazyAdam([p], lazy_params=[p], mode=mode, lr=0.1)
        g1 = torch.zeros(5, 3, dtype=torch.float64)
        g1[0] = torch.tensor([1.0, -2.0, 0.5])
        p.grad = g1
        opt.step()
        row, m1 = p[0].detach().clone(), opt.state[p]["exp_avg"][0].clone()
        for _ in range(5):
            g = torch.zeros(5, 3, dtype=torch.float64)
            g[1:] = 1.0
            p.grad = g
            opt.step()
        assert torch.equal(p[0].detach(), row)
        expected_m = m1 * 0.9**5 if mode == "author" else m1
        torch.testing.assert_close(opt.state[p]["exp_avg"][0], expected_m, rtol=1e-14, atol=0)


def test_lazy_optimizer_wrapper_equals_author_mode():
    a, b = Bag(), Bag()
    oa = LazyAdam(a.parameters(), lr=1e-2, eps=1e-12, lazy_params=[a.emb.weight], mode="author")
    ob = LazyOptimizer(torch.optim.Adam(b.parameters(), lr=1e-2, eps=1e-12), [b.emb.weight])
    _run(a, oa)
    _run(b, ob)
    torch.testing.assert_close(a.emb.weight, b.emb.weight, rtol=1e-5, atol=1e-6)
    # the wrapper with momentum SGD: unsampled rows never move
    c = Bag()
    oc = LazyOptimizer(torch.optim.SGD(c.parameters(), lr=0.1, momentum=0.9), [c.emb.weight],
                       row_mask="indices")
    first = next(_batches(1))[0]
    oc.zero_grad()
    _loss(c, first, torch.zeros(4)).backward()
    oc.set_active_rows(c.emb.weight, first)
    oc.step()
    others = torch.ones(V, dtype=torch.bool)
    others[first.reshape(-1)] = False
    for idx, y in _batches(5, seed=1):
        oc.zero_grad()
        _loss(c, idx, y).backward()
        oc.set_active_rows(c.emb.weight, idx)
        oc.step()
        others[idx.reshape(-1)] = False
    # rows never sampled at all are still at their initial values
    torch.testing.assert_close(c.emb.weight[others].detach(), Bag().emb.weight[others].detach())
    sd = oc.state_dict()
    oc.load_state_dict(sd)
    assert oc.param_groups is oc.optimizer.param_groups


def test_padding_idx_is_unsampled():
    model = Bag(padding_idx=0)
    idx = torch.tensor([[0, 0, 3, 5], [7, 0, 0, 0]])
    _loss(model, idx, torch.ones(2)).backward()
    mask = sampled_rows_from_grad(model.emb.weight.grad)
    assert mask.nonzero().reshape(-1).tolist() == [3, 5, 7]
    sp = Bag(sparse=True, padding_idx=0)
    _loss(sp, idx, torch.ones(2)).backward()
    assert torch.equal(sampled_rows_from_grad(sp.emb.weight.grad), mask)


@settings(max_examples=50, deadline=None)
@given(rows=st.lists(st.integers(0, V - 1), min_size=1, max_size=30))
def test_grad_heuristic_equals_true_index_set(rows):
    model = Bag(seed=1)
    idx = torch.tensor(rows).reshape(1, -1)
    _loss(model, idx, torch.zeros(1) + 3.0).backward()
    mask = sampled_rows_from_grad(model.emb.weight.grad)
    assert sorted(mask.nonzero().reshape(-1).tolist()) == sorted(set(rows))


def test_heuristic_misses_a_row_with_a_zero_component():
    g = torch.zeros(4, 3)
    g[1] = torch.tensor([1.0, 0.0, 2.0])
    g[2] = 1.0
    assert sampled_rows_from_grad(g).tolist() == [False, False, True, False]


def test_closure_and_state_dict():
    a = Bag()
    opt = LazyAdam(a.parameters(), lazy_params=[a.emb.weight], mode="author")
    idx, y = next(_batches(1))

    def closure():
        opt.zero_grad()
        loss = _loss(a, idx, y)
        loss.backward()
        return loss

    assert opt.step(closure) is not None
    b = copy.deepcopy(a)
    ob = LazyAdam(b.parameters(), lazy_params=[b.emb.weight], mode="author")
    ob.load_state_dict(copy.deepcopy(opt.state_dict()))
    _run(a, opt, n=5, seed=3)
    _run(b, ob, n=5, seed=3)
    assert torch.equal(a.emb.weight, b.emb.weight)


def test_bad_inputs():
    m = Bag()
    ps = list(m.parameters())
    for kw, match in [({"lr": 0.0}, "lr"), ({"lr": float("nan")}, "lr"), ({"eps": 0.0}, "eps"),
                      ({"betas": (1.0, 0.9)}, r"betas\[0\]"), ({"betas": (0.9, -0.1)}, r"betas\[1\]"),
                      ({"betas": (0.9,)}, "betas"), ({"mode": "lazy"}, "mode"),
                      ({"row_mask": "ids"}, "row_mask"),
                      ({"lazy_params": [m.head.bias]}, "2-D"),
                      ({"lazy_params": [nn.Parameter(torch.zeros(2, 2))]}, "also be in params")]:
        with pytest.raises(ValueError, match=match):
            LazyAdam(ps, **kw)
    with pytest.raises(TypeError, match="tensors"):
        LazyAdam(ps, lazy_params=["emb"])
    opt = LazyAdam(ps, lazy_params=[m.emb.weight], row_mask="indices")
    _loss(m, torch.tensor([[1, 2]]), torch.zeros(1)).backward()
    with pytest.raises(ValueError, match="set_active_rows"):
        opt.step()
    with pytest.raises(ValueError, match="not one of"):
        opt.set_active_rows(m.head.weight, [0])
    with pytest.raises(ValueError, match="lie in"):
        opt.set_active_rows(m.emb.weight, [V])
    with pytest.raises(ValueError, match="lie in"):
        opt.set_active_rows(m.emb.weight, [-1])
    with pytest.raises(TypeError, match="integer or boolean"):
        opt.set_active_rows(m.emb.weight, torch.tensor([0.5]))
    with pytest.raises(ValueError, match="boolean row mask"):
        opt.set_active_rows(m.emb.weight, torch.ones(3, dtype=torch.bool))
    sp = Bag(sparse=True)
    bad = LazyAdam(sp.parameters())  # embedding not declared lazy
    _loss(sp, torch.tensor([[1, 2]]), torch.zeros(1)).backward()
    with pytest.raises(TypeError, match="sparse gradient"):
        bad.step()
    with pytest.raises(TypeError, match="torch.Tensor"):
        sampled_rows_from_grad([[1.0]])
    with pytest.raises(ValueError, match="2-D"):
        sampled_rows_from_grad(torch.ones(3))
    inner = torch.optim.SGD(ps, lr=0.1)
    with pytest.raises(TypeError, match="optimizer"):
        LazyOptimizer("adam", [m.emb.weight])
    with pytest.raises(ValueError, match="row_mask"):
        LazyOptimizer(inner, [m.emb.weight], row_mask="x")
    with pytest.raises(ValueError, match="at least one"):
        LazyOptimizer(inner, [])
    with pytest.raises(ValueError, match="optimised by"):
        LazyOptimizer(inner, [nn.Parameter(torch.zeros(2, 2))])
    wrap = LazyOptimizer(inner, [m.emb.weight], row_mask="indices")
    with pytest.raises(ValueError, match="set_active_rows"):
        wrap.step()
    with pytest.raises(ValueError, match="not one of"):
        wrap.set_active_rows(m.head.weight, [0])
