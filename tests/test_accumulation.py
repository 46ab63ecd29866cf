"""Tests of kexue_book.optim.accumulation against full-batch autograd and torch's own tools."""

from __future__ import annotations

import copy
import math
import warnings

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from kexue_book.optim.accumulation import (
    GradientAccumulator,
    accumulate_gradients,
    batch_coupled_modules,
    has_batch_coupling,
    measure_peak_memory,
    micro_batch_weights,
)

F64 = torch.float64


def _model(seed: int = 0, norm: str | None = None) -> nn.Module:
    torch.manual_seed(seed)
    layers: list[nn.Module] = [nn.Linear(5, 16)]
    if norm == "batch":
        layers.append(nn.BatchNorm1d(16))
    elif norm == "layer":
        layers.append(nn.LayerNorm(16))
    layers += [nn.Tanh(), nn.Linear(16, 3)]
    return nn.Sequential(*layers).to(F64)


def _data(n: int = 40, seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 5, generator=g, dtype=F64), torch.randint(0, 3, (n,), generator=g)


def _ce(model: nn.Module, batch) -> torch.Tensor:
    x, y = batch
    return F.cross_entropy(model(x), y)


def _split(x, y, sizes):
    out, s = [], 0
    for k in sizes:
        out.append((x[s:s + k], y[s:s + k]))
        s += k
    return out


def _grads(model: nn.Module) -> torch.Tensor:
    return torch.cat([p.grad.reshape(-1) for p in model.parameters()])


def _params(model: nn.Module) -> torch.Tensor:
    return torch.cat([p.detach().reshape(-1) for p in model.parameters()])


def _full_grad(model, x, y):
    model.zero_grad(set_to_none=True)
    _ce(model, (x, y)).backward()
    g = _grads(model).clone()
    model.zero_grad(set_to_none=True)
    return g


# --------------------------------------------------------------------------- micro_batch_weights
def test_weights_are_sizes_over_total():
    assert micro_batch_weights([7, 3]) == pytest.approx([0.7, 0.3], abs=1e-15)
    w = micro_batch_weights([1.5, 2.5, 6])
    assert math.fsum(w) == pytest.approx(1.0, abs=1e-15)
    assert micro_batch_weights([torch.tensor(4), 4]) == [0.5, 0.5]


@pytest.mark.parametrize(
    "counts, exc",
    [([], ValueError), ([1, 0], ValueError), ([1, -2], ValueError), ([1, float("nan")], ValueError),
     ([1, float("inf")], ValueError), ([1, "a"], TypeError), ([True], TypeError), ("12", TypeError),
     (5, TypeError), ([torch.ones(2)], ValueError)],
)
def test_weights_reject_bad_counts(counts, exc):
    with pytest.raises(exc):
        micro_batch_weights(counts)


# --------------------------------------------------------------------------- accumulate_gradients
@pytest.mark.parametrize("sizes", [[10, 10, 10, 10], [7, 3, 25, 5], [40], [1] * 40])
def test_accumulate_equals_full_batch(sizes):
    model = _model()
    x, y = _data()
    g_ref = _full_grad(model, x, y)
    loss = accumulate_gradients(model, _ce, _split(x, y, sizes))
    torch.testing.assert_close(_grads(model), g_ref, rtol=0, atol=1e-14)
    assert loss == pytest.approx(_ce(model, (x, y)).item(), abs=1e-14)


def test_accumulate_matches_native_pytorch_idiom():
    """The reference: loss.backward() adds into .grad; scale each loss by b_k / |B|."""
    model = _model()
    x, y = _data()
    sizes = [7, 3, 30]
    model.zero_grad(set_to_none=True)
    for xb, yb in _split(x, y, sizes):
        (_ce(model, (xb, yb)) * (len(yb) / len(y))).backward()
    g_native = _grads(model).clone()
    model.zero_grad(set_to_none=True)
    accumulate_gradients(model, _ce, _split(x, y, sizes))
    torch.testing.assert_close(_grads(model), g_native, rtol=0, atol=1e-15)


def test_mean_of_means_is_biased_for_unequal_sizes():
    model = _model()
    x, y = _data(10)
    mbs = _split(x, y, [7, 3])
    g_ref = _full_grad(model, x, y)
    accumulate_gradients(model, _ce, mbs, weights=[0.5, 0.5])
    g_naive = _grads(model).clone()
    model.zero_grad(set_to_none=True)
    g1 = _full_grad(model, *mbs[0])
    g2 = _full_grad(model, *mbs[1])
    assert (g_naive - g_ref).abs().max() > 1e-3
    torch.testing.assert_close(g_naive - g_ref, 0.2 * (g2 - g1), rtol=0, atol=1e-14)


def test_accumulate_adds_to_existing_grad_like_backward():
    model = _model()
    x, y = _data()
    g_ref = _full_grad(model, x, y)
    for normalize in ("samples", "tokens"):
        for p in model.parameters():
            p.grad = torch.ones_like(p)
        fn = _ce if normalize == "samples" else (lambda m, b: (_ce(m, b), len(b[1])))
        accumulate_gradients(model, fn, _split(x, y, [15, 25]), normalize=normalize)
        torch.testing.assert_close(_grads(model), g_ref + 1, rtol=0, atol=1e-14)
        model.zero_grad(set_to_none=True)


def test_token_weighting_equals_token_mean():
    g = torch.Generator().manual_seed(3)
    lengths = torch.tensor([12, 9, 11, 8, 6, 4])
    x = torch.randn(6, 12, 4, generator=g, dtype=F64)
    y = torch.randint(0, 3, (6, 12), generator=g)
    mask = torch.arange(12)[None] < lengths[:, None]
    torch.manual_seed(0)
    tagger = nn.Linear(4, 3).to(F64)

    def loss_fn(model, batch):
        xb, yb, mb = batch
        per = F.cross_entropy(model(xb).transpose(1, 2), yb, reduction="none")
        return (per * mb).sum() / mb.sum(), mb.sum()

    tagger.zero_grad(set_to_none=True)
    full_loss = loss_fn(tagger, (x, y, mask))[0]
    full_loss.backward()
    g_ref = _grads(tagger).clone()
    tagger.zero_grad(set_to_none=True)
    mbs = [(x[:4], y[:4], mask[:4]), (x[4:5], y[4:5], mask[4:5]), (x[5:], y[5:], mask[5:])]
    loss = accumulate_gradients(tagger, loss_fn, mbs, normalize="tokens")
    torch.testing.assert_close(_grads(tagger), g_ref, rtol=0, atol=1e-14)
    assert loss == pytest.approx(full_loss.item(), abs=1e-14)
    # sample weighting would be wrong here (the micro-batches hold 4, 1, 1 sequences)
    tagger.zero_grad(set_to_none=True)
    accumulate_gradients(tagger, loss_fn, mbs, weights=micro_batch_weights([4, 1, 1]))
    assert (_grads(tagger) - g_ref).abs().max() > 1e-3


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(1, 12), min_size=1, max_size=6), st.integers(0, 2**16))
def test_property_any_partition_gives_full_gradient(sizes, seed):
    model = _model(seed % 7)
    x, y = _data(sum(sizes), seed)
    g_ref = _full_grad(model, x, y)
    accumulate_gradients(model, _ce, _split(x, y, sizes))
    torch.testing.assert_close(_grads(model), g_ref, rtol=0, atol=1e-13)


def test_accumulate_rejects_bad_input():
    model = _model()
    x, y = _data()
    mbs = _split(x, y, [20, 20])
    with pytest.raises(ValueError, match="empty"):
        accumulate_gradients(model, _ce, [])
    with pytest.raises(ValueError, match="normalize"):
        accumulate_gradients(model, _ce, mbs, normalize="batches")
    with pytest.raises(ValueError, match="entries"):
        accumulate_gradients(model, _ce, mbs, weights=[1.0])
    with pytest.raises(ValueError, match=">= 0"):
        accumulate_gradients(model, _ce, mbs, weights=[1.5, -0.5])
    with pytest.raises(ValueError, match="sum to 1"):
        accumulate_gradients(model, _ce, mbs, weights=[0.5, 0.6])
    with pytest.raises(TypeError, match="nn.Module"):
        accumulate_gradients(lambda x: x, _ce, mbs)
    with pytest.raises(TypeError, match="callable"):
        accumulate_gradients(model, None, mbs)
    with pytest.raises(TypeError, match="sequence"):
        accumulate_gradients(model, _ce, iter(mbs))
    with pytest.raises(TypeError, match="batch dimension"):
        accumulate_gradients(model, _ce, [("a", "b")])
    with pytest.raises(ValueError, match="scalar"):
        accumulate_gradients(model, lambda m, b: F.cross_entropy(m(b[0]), b[1], reduction="none"), mbs)
    with pytest.raises(ValueError, match="require grad"):
        accumulate_gradients(model, lambda m, b: torch.tensor(1.0), mbs)
    with pytest.raises(TypeError, match="scalar torch.Tensor"):
        accumulate_gradients(model, lambda m, b: 1.0, mbs)
    with pytest.raises(TypeError, match="n_tokens"):
        accumulate_gradients(model, _ce, mbs, normalize="tokens")
    with pytest.raises(ValueError, match="> 0"):
        accumulate_gradients(model, lambda m, b: (_ce(m, b), 0), mbs, normalize="tokens")


def test_tokens_mode_restores_grad_on_error():
    model = _model()
    x, y = _data()
    for p in model.parameters():
        p.grad = torch.full_like(p, 2.0)
    calls = []

    def loss_fn(m, b):
        calls.append(1)
        return (_ce(m, b), len(b[1]) if len(calls) == 1 else -1)

    with pytest.raises(ValueError):
        accumulate_gradients(model, loss_fn, _split(x, y, [20, 20]), normalize="tokens")
    # the pre-existing gradient is still there (plus what was added before the error)
    assert all(p.grad is not None for p in model.parameters())


# --------------------------------------------------------------------------- GradientAccumulator
OPTS = {
    "sgd": lambda p: torch.optim.SGD(p, lr=0.1),
    "momentum": lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, nesterov=True),
    "adam": lambda p: torch.optim.Adam(p, lr=1e-2),
    "adamw": lambda p: torch.optim.AdamW(p, lr=1e-2, weight_decay=0.1),
}


def _big_steps(model, make_opt, batches, clip=None):
    opt = make_opt(model.parameters())
    for x, y in batches:
        opt.zero_grad(set_to_none=True)
        _ce(model, (x, y)).backward()
        if clip is not None:
            torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
        opt.step()
    return _params(model)


@pytest.mark.parametrize("opt", list(OPTS))
@pytest.mark.parametrize("sizes, clip", [([10, 10, 10, 10], None), ([1, 4, 15, 20], 0.05)])
def test_accumulator_equals_big_batch(opt, sizes, clip):
    model = _model()
    x, y = _data(120)
    batches = [(x[i:i + 40], y[i:i + 40]) for i in (0, 40, 80)]
    ref = _big_steps(copy.deepcopy(model), OPTS[opt], batches, clip)
    m2 = copy.deepcopy(model)
    acc = GradientAccumulator(OPTS[opt](m2.parameters()), steps=len(sizes), clip_norm=clip, model=m2)
    stepped = []
    for xb, yb in batches:
        for xm, ym in _split(xb, yb, sizes):
            acc.backward(_ce(m2, (xm, ym)), len(ym))
            stepped.append(acc.step())
    assert stepped.count(True) == 3 and stepped[len(sizes) - 1]
    assert acc.micro_step == 3 * len(sizes) and acc.update_step == 3
    torch.testing.assert_close(_params(m2), ref, rtol=0, atol=1e-12)
    assert all(p.grad is None for p in m2.parameters())


def test_accumulator_clip_per_micro_batch_differs():
    """Clipping before accumulating is not the clipped big-batch gradient."""
    model = _model()
    x, y = _data(40)
    g_big = _full_grad(model, x, y)
    c = 0.5 * g_big.norm().item()
    clipped_big = g_big * min(1.0, c / g_big.norm().item())
    per = []
    for xb, yb in _split(x, y, [10] * 4):
        g = _full_grad(model, xb, yb)
        per.append(0.25 * g * min(1.0, c / g.norm().item()))
    assert (sum(per) - clipped_big).abs().max() > 1e-4


def test_accumulator_grad_is_running_mean_and_last_loss():
    model = _model()
    x, y = _data(30)
    acc = GradientAccumulator(torch.optim.SGD(model.parameters(), lr=0.0), steps=3)
    sizes = [5, 10, 15]
    mbs = _split(x, y, sizes)
    for k, (xb, yb) in enumerate(mbs):
        acc.backward(_ce(model, (xb, yb)), len(yb))
        n_seen = sum(sizes[:k + 1])
        ref_model = copy.deepcopy(model)
        g_ref = _full_grad(ref_model, x[:n_seen], y[:n_seen])
        torch.testing.assert_close(_grads(model), g_ref, rtol=0, atol=1e-14)
        assert acc.samples_in_cycle == n_seen
        acc.step()
    assert acc.last_loss == pytest.approx(_ce(model, (x, y)).item(), abs=1e-14)


def test_accumulator_flush_applies_partial_cycle():
    model = _model()
    x, y = _data(37)
    ref = _big_steps(copy.deepcopy(model), OPTS["adam"], [(x, y)])
    acc = GradientAccumulator(OPTS["adam"](model.parameters()), steps=10)
    for xb, yb in _split(x, y, [10, 10, 10, 7]):
        acc.backward(_ce(model, (xb, yb)), len(yb))
        assert acc.step() is False
    assert acc.flush() is True
    assert acc.flush() is False
    assert acc.update_step == 1
    torch.testing.assert_close(_params(model), ref, rtol=0, atol=1e-13)


def test_accumulator_new_cycle_drops_stale_grad():
    model = _model()
    x, y = _data(20)
    for p in model.parameters():
        p.grad = torch.full_like(p, 100.0)
    acc = GradientAccumulator(torch.optim.SGD(model.parameters(), lr=0.0), steps=2)
    acc.backward(_ce(model, (x, y)), 20)
    torch.testing.assert_close(_grads(model), _full_grad(copy.deepcopy(model), x, y), rtol=0, atol=1e-14)


def test_accumulator_state_dict_roundtrip():
    model = _model()
    x, y = _data(20)
    acc = GradientAccumulator(OPTS["adam"](model.parameters()), steps=2)
    for xb, yb in _split(x, y, [10, 10]):
        acc.backward(_ce(model, (xb, yb)), 10)
        acc.step()
    state = acc.state_dict()
    acc2 = GradientAccumulator(OPTS["adam"](model.parameters()), steps=2)
    acc2.load_state_dict(state)
    assert acc2.update_step == 1 and acc2.micro_step == 2
    assert acc2.optimizer.state_dict()["state"][0]["step"] == 1
    with pytest.raises(ValueError, match="steps"):
        GradientAccumulator(OPTS["adam"](model.parameters()), steps=3).load_state_dict(state)
    assert "steps=2" in repr(acc2)


def test_accumulator_warns_on_batchnorm_only():
    with pytest.warns(UserWarning, match="batch statistics"):
        m = _model(norm="batch")
        GradientAccumulator(torch.optim.SGD(m.parameters(), lr=0.1), steps=2, model=m)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for m in (_model(norm="layer"), _model(norm="batch").eval()):
            GradientAccumulator(torch.optim.SGD(m.parameters(), lr=0.1), steps=2, model=m)


def test_batchnorm_breaks_equivalence():
    model = _model(norm="batch")
    x, y = _data(40)
    g_ref = _full_grad(model, x, y)
    accumulate_gradients(model, _ce, _split(x, y, [10] * 4))
    assert ((_grads(model) - g_ref).norm() / g_ref.norm()) > 1e-3


@pytest.mark.parametrize(
    "kwargs, exc",
    [(dict(steps=0), ValueError), (dict(steps=-3), ValueError), (dict(steps=1.5), TypeError),
     (dict(steps=True), TypeError), (dict(steps="2"), TypeError),
     (dict(steps=2, clip_norm=0.0), ValueError), (dict(steps=2, clip_norm=-1.0), ValueError),
     (dict(steps=2, clip_norm=float("nan")), ValueError), (dict(steps=2, clip_norm=float("inf")), ValueError),
     (dict(steps=2, clip_norm="1"), TypeError), (dict(steps=2, model="net"), TypeError)],
)
def test_accumulator_rejects_bad_arguments(kwargs, exc):
    model = _model()
    with pytest.raises(exc):
        GradientAccumulator(torch.optim.SGD(model.parameters(), lr=0.1), **kwargs)


def test_accumulator_rejects_bad_calls():
    model = _model()
    x, y = _data(10)
    with pytest.raises(TypeError, match="Optimizer"):
        GradientAccumulator(model.parameters(), steps=2)
    acc = GradientAccumulator(torch.optim.SGD(model.parameters(), lr=0.1), steps=2)
    with pytest.raises(RuntimeError, match="without backward"):
        acc.step()
    with pytest.raises(ValueError, match="> 0"):
        acc.backward(_ce(model, (x, y)), 0)
    with pytest.raises(TypeError):
        acc.backward(_ce(model, (x, y)), None)
    with pytest.raises(ValueError, match="scalar"):
        acc.backward(F.cross_entropy(model(x), y, reduction="none"), 10)
    with pytest.raises(ValueError, match="require grad"):
        acc.backward(torch.tensor(0.5), 10)
    acc.backward(_ce(model, (x, y)), 10)
    with pytest.raises(RuntimeError, match="without step"):
        acc.flush()


# --------------------------------------------------------------------------- batch coupling
def test_batch_coupling_detection():
    assert has_batch_coupling(_model(norm="batch"))
    assert batch_coupled_modules(_model(norm="batch")) == ["1"]
    assert not has_batch_coupling(_model(norm="batch").eval())
    assert not has_batch_coupling(_model(norm="layer"))
    assert not has_batch_coupling(nn.Sequential(nn.Linear(4, 8), nn.GroupNorm(2, 8), nn.InstanceNorm1d(8)))
    no_stats = nn.Sequential(nn.BatchNorm2d(3, track_running_stats=False)).eval()
    assert has_batch_coupling(no_stats)  # eval mode, but no running statistics: batch statistics
    assert has_batch_coupling(nn.SyncBatchNorm(4))
    assert batch_coupled_modules(nn.BatchNorm1d(3)) == [""]
    with pytest.raises(TypeError, match="nn.Module"):
        has_batch_coupling("model")


# --------------------------------------------------------------------------- peak memory
def test_peak_memory_cpu_is_exact_on_known_allocations():
    def fn():
        a = torch.empty(2**18)  # 1 MiB
        b = torch.empty(2**19)  # 2 MiB -> 3 MiB live
        del a
        c = torch.empty(2**17)  # 0.5 MiB -> 2.5 MiB live
        del b, c
        return "done"

    out, peak = measure_peak_memory(fn, "cpu")
    assert out == "done"
    assert peak == 3 * 2**20
    _, peak2 = measure_peak_memory(lambda: torch.ones(1000, dtype=F64).sum(), torch.device("cpu"))
    assert 8000 <= peak2 < 8000 + 4096


def test_peak_memory_rejects_bad_input():
    with pytest.raises(TypeError, match="callable"):
        measure_peak_memory(42, "cpu")
    with pytest.raises(ValueError, match="device"):
        measure_peak_memory(lambda: None, "not-a-device")
    with pytest.raises(ValueError, match="only 'cpu'"):
        measure_peak_memory(lambda: None, "meta")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA"):
            measure_peak_memory(lambda: None, "cuda")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_peak_memory_cuda_counts_allocation():
    def fn():
        a = torch.empty(2**20, device="cuda")  # 4 MiB
        del a

    _, peak = measure_peak_memory(fn, "cuda")
    assert peak == 4 * 2**20
