"""Tests of kexue_book.optim.lookahead (chapter 23)."""

from __future__ import annotations

import copy
import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from kexue_book.optim.lookahead import Lookahead, lookahead_variance_ratio


def _model(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(5, 8), nn.Tanh(), nn.Linear(8, 1)).double()


def _data(seed: int = 1):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(64, 5, generator=g, dtype=torch.float64)
    y = torch.randn(64, 1, generator=g, dtype=torch.float64)
    return x, y


def _train(model, opt, steps, start=0):
    x, y = _data()
    for s in range(start, start + steps):
        xb, yb = x[(s * 8) % 64:(s * 8) % 64 + 8], y[(s * 8) % 64:(s * 8) % 64 + 8]
        opt.zero_grad()
        nn.functional.mse_loss(model(xb), yb).backward()
        opt.step()


def _flat(model):
    return torch.cat([p.detach().reshape(-1) for p in model.parameters()])


INNER = {
    "sgd": lambda ps: torch.optim.SGD(ps, lr=0.05),
    "momentum": lambda ps: torch.optim.SGD(ps, lr=0.05, momentum=0.9, nesterov=True),
    "adam": lambda ps: torch.optim.Adam(ps, lr=1e-2),
    "adamw": lambda ps: torch.optim.AdamW(ps, lr=1e-2, weight_decay=0.1),
    "rmsprop": lambda ps: torch.optim.RMSprop(ps, lr=1e-3),
    "adagrad": lambda ps: torch.optim.Adagrad(ps, lr=1e-2),
}


@pytest.mark.parametrize("name", sorted(INNER))
def test_alpha_one_is_the_inner_optimizer(name):
    a, b = _model(), _model()
    _train(a, INNER[name](a.parameters()), 15)
    _train(b, Lookahead(INNER[name](b.parameters()), k=5, alpha=1.0), 15)
    assert torch.equal(_flat(a), _flat(b))


def test_manual_algorithm_e1():
    """Against a hand-written E1 with k=3, alpha=0.5, plain SGD."""
    model = _model()
    ref = copy.deepcopy(model)
    opt = Lookahead(torch.optim.SGD(model.parameters(), lr=0.1), k=3, alpha=0.5)
    x, y = _data()
    slow = [p.detach().clone() for p in ref.parameters()]
    for s in range(9):
        opt.zero_grad()
        nn.functional.mse_loss(model(x), y).backward()
        opt.step()
        ref.zero_grad()
        nn.functional.mse_loss(ref(x), y).backward()
        with torch.no_grad():
            for p in ref.parameters():
                p -= 0.1 * p.grad
            if (s + 1) % 3 == 0:
                for p, ph in zip(ref.parameters(), slow):
                    ph += 0.5 * (p - ph)
                    p.copy_(ph)
    torch.testing.assert_close(_flat(model), _flat(ref), rtol=0, atol=1e-14)


@pytest.mark.parametrize("name", ["momentum", "adam", "adagrad"])
@pytest.mark.parametrize("cut", [3, 5, 7])
def test_state_dict_round_trip_resumes_identically(name, cut):
    a = _model()
    opt_a = Lookahead(INNER[name](a.parameters()), k=5, alpha=0.5)
    _train(a, opt_a, 12)
    b = _model()
    opt_b = Lookahead(INNER[name](b.parameters()), k=5, alpha=0.5)
    _train(b, opt_b, cut)
    sd = copy.deepcopy(opt_b.state_dict())
    msd = copy.deepcopy(b.state_dict())
    c = _model(seed=99)  # different init, overwritten by the checkpoint
    c.load_state_dict(msd)
    opt_c = Lookahead(INNER[name](c.parameters()), k=2, alpha=0.9)
    opt_c.load_state_dict(sd)
    assert opt_c.k == 5 and opt_c.lookahead_step == cut % 5
    assert opt_c.param_groups is opt_c.optimizer.param_groups
    _train(c, opt_c, 12 - cut, start=cut)
    assert torch.equal(_flat(a), _flat(c))


def test_param_groups_shared_and_lr_reaches_inner():
    m = _model()
    inner = torch.optim.SGD(m.parameters(), lr=0.1)
    opt = Lookahead(inner, k=2)
    assert opt.param_groups is inner.param_groups
    opt.param_groups[0]["lr"] = 0.0
    assert inner.param_groups[0]["lr"] == 0.0
    before = _flat(m).clone()
    _train(m, opt, 4)  # lr 0: nothing moves, slow weights neither
    assert torch.equal(before, _flat(m))
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    opt.param_groups[0]["lr"] = 0.1
    sched.base_lrs = [0.1]
    _train(m, opt, 1)
    sched.step()
    assert inner.param_groups[0]["lr"] == pytest.approx(0.05)


def test_alpha_per_group_editable():
    a, b = _model(), _model()
    opt_a = Lookahead(torch.optim.SGD(a.parameters(), lr=0.05), k=3, alpha=0.5)
    opt_a.param_groups[0]["lookahead_alpha"] = 1.0
    _train(a, opt_a, 6)
    _train(b, torch.optim.SGD(b.parameters(), lr=0.05), 6)
    assert torch.equal(_flat(a), _flat(b))


def test_closure_supported_and_lbfgs():
    m = _model()
    x, y = _data()
    opt = Lookahead(torch.optim.LBFGS(m.parameters(), lr=0.5, max_iter=5), k=2, alpha=0.5)

    def closure():
        opt.zero_grad()
        loss = nn.functional.mse_loss(m(x), y)
        loss.backward()
        return loss

    l0 = closure().item()
    losses = [opt.step(closure).item() for _ in range(6)]
    assert all(math.isfinite(v) for v in losses)
    assert closure().item() < l0
    # closure with Adam returns the loss the closure computed
    m2 = _model()
    opt2 = Lookahead(torch.optim.Adam(m2.parameters()), k=2)

    def closure2():
        opt2.zero_grad()
        loss = nn.functional.mse_loss(m2(x), y)
        loss.backward()
        return loss

    assert opt2.step(closure2).item() == pytest.approx(nn.functional.mse_loss(_model()(x), y).item())


def test_add_param_group_reaches_inner():
    m = _model()
    extra = nn.Parameter(torch.ones(3, dtype=torch.float64))
    inner = torch.optim.SGD(m.parameters(), lr=0.1)
    opt = Lookahead(inner, k=2, alpha=0.5)
    opt.add_param_group({"params": [extra], "lr": 1.0})
    assert len(inner.param_groups) == 2 and opt.param_groups[1]["lookahead_alpha"] == 0.5
    for _ in range(2):
        opt.zero_grad()
        extra.sum().backward()
        opt.step()
    # two SGD steps of size 1 take 1 -> -1, then halfway back to the slow value 1: 0
    torch.testing.assert_close(extra.detach(), torch.zeros(3, dtype=torch.float64))
    with pytest.raises(ValueError, match="alpha"):
        opt.add_param_group({"params": [nn.Parameter(torch.ones(1))], "lookahead_alpha": 2.0})


def test_reset_state_clears_inner_moments():
    m = _model()
    inner = torch.optim.Adam(m.parameters())
    opt = Lookahead(inner, k=3, reset_state=True)
    _train(m, opt, 3)
    assert len(inner.state) == 0
    _train(m, opt, 1)
    assert all(float(s["step"]) == 1 for s in inner.state.values())


def test_slow_weights_context():
    m = _model()
    opt = Lookahead(torch.optim.SGD(m.parameters(), lr=0.1), k=4)
    init = _flat(m).clone()
    _train(m, opt, 2)
    fast = _flat(m).clone()
    with opt.slow_weights():
        assert torch.equal(_flat(m), init)
    assert torch.equal(_flat(m), fast)


def test_bad_inputs():
    m = _model()
    inner = torch.optim.SGD(m.parameters(), lr=0.1)
    with pytest.raises(TypeError, match="optimizer"):
        Lookahead(object())
    with pytest.raises(TypeError, match="already"):
        Lookahead(Lookahead(inner))
    for k, err in [(0, ValueError), (-3, ValueError), (2.0, TypeError), (True, TypeError)]:
        with pytest.raises(err, match="k="):
            Lookahead(torch.optim.SGD(m.parameters(), lr=0.1), k=k)
    for a, err in [(0.0, ValueError), (1.5, ValueError), (float("nan"), ValueError), ("x", TypeError)]:
        with pytest.raises(err, match="alpha"):
            Lookahead(torch.optim.SGD(m.parameters(), lr=0.1), alpha=a)
    with pytest.raises(TypeError, match="reset_state"):
        Lookahead(torch.optim.SGD(m.parameters(), lr=0.1), reset_state=1)
    opt = Lookahead(torch.optim.SGD(m.parameters(), lr=0.1))
    with pytest.raises(ValueError, match="lookahead"):
        opt.load_state_dict(torch.optim.SGD(m.parameters(), lr=0.1).state_dict())
    sd = opt.state_dict()
    sd["lookahead"]["slow_buffer"] = {0: torch.zeros(2)}
    with pytest.raises(ValueError, match="slow weight"):
        opt.load_state_dict(sd)
    opt.param_groups[0]["lookahead_alpha"] = 0.0
    with pytest.raises(ValueError, match="alpha"):
        opt.synchronise()


def test_variance_ratio_bad_inputs():
    with pytest.raises(ValueError, match="k="):
        lookahead_variance_ratio(0, 0.5, 0.9)
    with pytest.raises(TypeError, match="k="):
        lookahead_variance_ratio(1.5, 0.5, 0.9)
    with pytest.raises(ValueError, match="alpha"):
        lookahead_variance_ratio(5, 0.0, 0.9)
    with pytest.raises(ValueError, match="beta"):
        lookahead_variance_ratio(5, 0.5, 1.0)
    with pytest.raises(ValueError, match="beta"):
        lookahead_variance_ratio(5, 0.5, float("inf"))
    with pytest.raises(TypeError, match="beta"):
        lookahead_variance_ratio(5, 0.5, None)


@settings(max_examples=50, deadline=None)
@given(k=st.integers(1, 50), alpha=st.floats(1e-3, 1.0), beta=st.floats(-0.99, 0.99))
def test_variance_ratio_forms_agree(k, alpha, beta):
    """The two closed forms of E3 agree; the ratio is in (0, 1] and is 1 at alpha = 1."""
    r = lookahead_variance_ratio(k, alpha, beta)
    bk, b2k = beta**k, beta ** (2 * k)
    long = alpha**2 * (1 - b2k) / (alpha**2 * (1 - b2k) + 2 * alpha * (1 - alpha) * (1 - bk))
    assert r == pytest.approx(long, rel=1e-9)
    assert 0 < r <= 1 + 1e-12
    assert lookahead_variance_ratio(k, 1.0, beta) == pytest.approx(1.0)


def test_variance_ratio_monte_carlo():
    """E3 by simulation with the Lookahead class itself (|z| <= 5)."""
    k, alpha, ga = 5, 0.5, 0.1
    n = 20_000
    g = torch.Generator().manual_seed(3)
    x = nn.Parameter(torch.zeros(n, dtype=torch.float64))
    opt = Lookahead(torch.optim.SGD([x], lr=ga), k=k, alpha=alpha)
    for _ in range(k * 60):  # rho^120 < 1e-11: stationary
        c = torch.randn(n, generator=g, dtype=torch.float64)
        x.grad = x.detach() - c
        opt.step()
    est = float(x.detach().pow(2).mean())
    se = float(x.detach().pow(2).std()) / math.sqrt(n)
    theory = lookahead_variance_ratio(k, alpha, 1 - ga) * ga**2 / (1 - (1 - ga) ** 2)
    assert abs(est - theory) / se < 5
