"""Tests of kexue_book.optim.ema (chapter 24)."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from kexue_book.optim.ema import EMA, ema_variance_ratio


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # see conftest.py


def net(seed=0, bn=True, dtype=torch.float32):
    torch.manual_seed(seed)
    layers = [nn.Linear(6, 8)]
    if bn:
        layers.append(nn.BatchNorm1d(8))
    layers += [nn.Tanh(), nn.Linear(8, 2)]
    return nn.Sequential(*layers).to(dtype)


def train(model, steps=30, seed=1, hook=None):
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    g = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        x = torch.randn(16, 6, generator=g, dtype=next(model.parameters()).dtype)
        loss = (model(x) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        if hook is not None:
            hook()


@pytest.mark.parametrize("use_buffers", [False, True])
def test_matches_averaged_model_bit_for_bit(use_buffers):
    model = net()
    ema = EMA(model, decay=0.9, use_buffers=use_buffers)
    ref = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(0.9), use_buffers=use_buffers)
    ref.update_parameters(model)          # first call copies: Theta_0 = theta_0, as ours

    def both():
        ema.update()
        ref.update_parameters(model)

    train(model, hook=both)
    ref_t = list(ref.module.parameters())
    if use_buffers:
        ref_t += [b for b in ref.module.buffers() if b.is_floating_point()]
    assert len(ref_t) == len(ema.shadow)
    for a, b in zip(ema.shadow, ref_t):
        assert torch.equal(a, b)


def test_swapped_evaluates_averaged_weights_and_restores_exactly():
    model = net(bn=False)
    ema = EMA(model, decay=0.8)
    train(model, hook=ema.update)
    before = copy.deepcopy(model.state_dict())
    with ema.swapped() as m:
        assert m is model and ema.applied
        for p, s in zip(model.parameters(), ema.shadow):
            assert torch.equal(p, s)
    assert not ema.applied
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k])
    with pytest.raises(ZeroDivisionError):
        with ema.swapped():
            1 / 0
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k])


def test_trajectory_unchanged_by_ema():
    a, b = net(), net()
    ema = EMA(b, decay=0.99, debias=True)
    train(a, steps=50)
    train(b, steps=50, hook=ema.update)
    for p, q in zip(a.state_dict().values(), b.state_dict().values()):
        assert torch.equal(p, q)


def test_debiased_matches_closed_form_and_ignores_initial_value():
    model = nn.Linear(1, 1, bias=False).double()
    alpha, n = 0.95, 60
    thetas = [math.sin(k / 7) + 0.3 for k in range(1, n + 1)]
    emas = [EMA(model, alpha, debias=True) for _ in range(2)]
    with torch.no_grad():
        emas[1]._shadow[0].fill_(123.0)    # a different Theta_0
    for t in thetas:
        with torch.no_grad():
            model.weight.fill_(t)
        for e in emas:
            e.update()
    w = (1 - alpha) * np.array([alpha ** (n - k) for k in range(1, n + 1)])
    expect = float(w @ np.array(thetas) / (1 - alpha ** n))
    for e in emas:
        assert float(e.shadow[0]) == pytest.approx(expect, rel=1e-12)


def test_plain_update_is_recursion():
    model = nn.Linear(1, 1, bias=False).double()
    with torch.no_grad():
        model.weight.fill_(2.0)
    ema = EMA(model, 0.9)
    with torch.no_grad():
        model.weight.fill_(1.0)
    ema.update()
    assert float(ema.shadow[0]) == pytest.approx(0.9 * 2.0 + 0.1 * 1.0, rel=1e-15)


@settings(max_examples=50, deadline=None)
@given(st.floats(0.0, 0.9999), st.integers(1, 5000))
def test_debias_weight_in_unit_interval_and_first_is_one(alpha, n):
    ema = EMA(nn.Linear(1, 1), alpha, debias=True)
    w = ema.weight(n)
    assert 0 < w <= 1 + 1e-12
    assert ema.weight(1) == pytest.approx(1.0, rel=1e-12)
    assert w == pytest.approx((1 - alpha) / (1 - alpha ** n) if alpha > 0 else 1.0, rel=1e-9)


@settings(max_examples=50, deadline=None)
@given(st.floats(0.0, 0.999), st.floats(-0.999, 0.999))
def test_variance_ratio_series_and_limits(alpha, beta):
    r = ema_variance_ratio(alpha, beta)
    i = np.arange(400)
    A, B = np.meshgrid(i, i)
    if alpha <= 0.95 and abs(beta) <= 0.95:
        series = (1 - alpha) ** 2 * np.sum(alpha ** (A + B) * beta ** np.abs(A - B))
        # series divided by Var x in units of 1: sum alpha^(i+j) beta^|i-j| (1-alpha)^2
        assert r == pytest.approx(series, rel=1e-6)
    assert 0 < r <= 1 + 1e-12
    assert ema_variance_ratio(0.0, beta) == pytest.approx(1.0)


def test_variance_ratio_simulation():
    alpha, beta, n = 0.9, 0.5, 200_000
    rng = np.random.default_rng(0)
    eps = rng.standard_normal(n)
    x = np.empty(n)
    th = np.empty(n)
    x[0] = th[0] = 0.0
    for k in range(1, n):
        x[k] = beta * x[k - 1] + eps[k]
        th[k] = alpha * th[k - 1] + (1 - alpha) * x[k]
    ratio = th[1000:].var() / x[1000:].var()
    assert ratio == pytest.approx(ema_variance_ratio(alpha, beta), rel=0.05)


def test_state_dict_round_trip():
    model = net()
    ema = EMA(model, 0.9, debias=True)
    train(model, steps=5, hook=ema.update)
    other = EMA(net(seed=3), 0.5)
    other.load_state_dict(ema.state_dict())
    assert other.num_updates == 5 and other.decay == 0.9 and other.debias
    for a, b in zip(ema.shadow, other.shadow):
        assert torch.equal(a, b)


def test_integer_buffers_copied():
    model = net()
    ema = EMA(model, 0.9)
    train(model, steps=3, hook=ema.update)
    assert int(ema._copied_shadow[0]) == int(model[1].num_batches_tracked) == 3


def test_bad_inputs():
    with pytest.raises(TypeError, match="model"):
        EMA("model")
    for d in (-0.1, 1.0, 1.5, float("nan")):
        with pytest.raises(ValueError, match="decay"):
            EMA(nn.Linear(1, 1), d)
    with pytest.raises(TypeError, match="decay"):
        EMA(nn.Linear(1, 1), True)
    with pytest.raises(TypeError, match="decay"):
        EMA(nn.Linear(1, 1), "0.9")
    with pytest.raises(ValueError, match="no floating-point parameters"):
        EMA(nn.ReLU())
    ema = EMA(nn.Linear(2, 2))
    with pytest.raises(RuntimeError, match="without a prior apply"):
        ema.restore()
    ema.apply()
    with pytest.raises(RuntimeError, match="already applied"):
        ema.apply()
    with pytest.raises(RuntimeError, match="restore"):
        ema.update()
    ema.restore()
    with pytest.raises(ValueError, match="n="):
        ema.weight(0)
    with pytest.raises(ValueError, match="shadow"):
        ema.load_state_dict({"shadow": []})
    st_ = ema.state_dict()
    st_["shadow"][0] = torch.zeros(3)
    with pytest.raises(ValueError, match="shape"):
        ema.load_state_dict(st_)
    st_ = ema.state_dict()
    st_["use_buffers"] = False
    with pytest.raises(ValueError, match="use_buffers"):
        ema.load_state_dict(st_)
    st_ = ema.state_dict()
    st_["num_updates"] = -1
    with pytest.raises(ValueError, match="num_updates"):
        ema.load_state_dict(st_)
    for a, b in ((1.0, 0.5), (-0.1, 0.5), (0.5, 1.0), (0.5, -1.0), (float("nan"), 0.5), (True, 0.5)):
        with pytest.raises(ValueError):
            ema_variance_ratio(a, b)
