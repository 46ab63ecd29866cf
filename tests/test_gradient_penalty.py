"""Tests for kexue_book.nn.gradient_penalty: references (torch.func.jacrev, numpy), the
inequality and its equality case, and every bad-input path."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from kexue_book.nn.gradient_penalty import (
    gradient_penalty_terms,
    input_gradient_norm_sq,
    mlp_layers,
    parameter_gradient_norm_sq,
)

ACTS = [nn.Tanh, nn.Softplus, nn.Sigmoid, nn.GELU]


def make_mlp(widths, act, seed=0):
    torch.manual_seed(seed)
    mods = []
    for i in range(len(widths) - 1):
        mods += [nn.Linear(widths[i], widths[i + 1]), act()]
    return nn.Sequential(*mods).double()


def f_sq(out):
    return out.pow(2).sum(dim=1) + out.sum(dim=1)


def test_against_jacrev_and_direct_param_grad():
    model = make_mlp([4, 6, 5, 3], nn.Tanh)
    x = torch.randn(5, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    t = gradient_penalty_terms(model, x, f_sq)
    params = dict(model.named_parameters())
    for i in range(x.shape[0]):
        xi = x[i]
        # input gradient by jacrev of the scalar function
        gx = torch.func.jacrev(lambda v: f_sq(model(v[None]))[0])(xi)
        assert torch.allclose(t.input_grad_sq[i], gx.pow(2).sum(), rtol=1e-12)
        # Jacobian of each layer's input w.r.t. x
        for k in range(1, 3):
            sub = model[: 2 * k]
            j = torch.func.jacrev(lambda v: sub(v[None])[0])(xi)
            assert torch.allclose(t.jac_spec[i, k], torch.linalg.matrix_norm(j, ord=2), rtol=1e-10)
            assert np.isclose(t.jac_spec[i, k].item(), np.linalg.norm(j.detach().numpy(), 2), rtol=1e-10)
        assert torch.allclose(t.jac_spec[i, 0], torch.tensor(1.0, dtype=torch.float64))
        # parameter gradient by jacrev over functional_call
        gp = torch.func.jacrev(lambda p: f_sq(torch.func.functional_call(model, p, (xi[None],)))[0])(params)
        ref = sum(g.pow(2).sum() for g in gp.values())
        assert torch.allclose(t.rhs[i], ref, rtol=1e-12)
    direct = parameter_gradient_norm_sq(model, x, f_sq)
    assert torch.allclose(direct, t.rhs, rtol=1e-12)
    assert torch.allclose(input_gradient_norm_sq(model, x, f_sq), t.input_grad_sq, rtol=1e-12)
    w = [m.weight.detach().numpy() for m in model if isinstance(m, nn.Linear)]
    assert np.allclose(t.weight_spec.numpy(), [np.linalg.norm(a, 2) for a in w], rtol=1e-12)


@settings(max_examples=40, deadline=None)
@given(depth=st.integers(1, 4), width=st.integers(1, 8), act=st.sampled_from(ACTS),
       seed=st.integers(0, 10_000))
def test_inequality_holds(depth, width, act, seed):
    widths = [3] + [width] * depth
    model = make_mlp(widths, act, seed)
    x = torch.randn(6, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(seed)) * 2
    t = gradient_penalty_terms(model, x, f_sq)
    tol = 1e-10
    assert (t.lhs <= t.rhs * (1 + tol)).all()
    assert (t.lhs_weight <= t.weight_grad_sq * (1 + tol) + 1e-300).all()
    assert (t.lhs_bias <= t.bias_grad_sq * (1 + tol) + 1e-300).all()
    assert (t.lhs_frobenius <= t.lhs * (1 + tol)).all()


def test_single_layer_scalar_equality():
    model = make_mlp([7, 1], nn.Softplus, seed=3)
    x = torch.randn(20, 7, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    t = gradient_penalty_terms(model, x, lambda o: o[:, 0])
    assert torch.allclose(t.lhs, t.rhs, rtol=1e-12)


def test_degenerate_dead_relu_is_zero_not_nan():
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2), nn.ReLU()).double()
    with torch.no_grad():
        model[0].weight.zero_()
        model[0].bias.fill_(-1.0)
    x = torch.randn(4, 3, dtype=torch.float64)
    t = gradient_penalty_terms(model, x, f_sq)
    assert torch.isfinite(t.lhs).all() and (t.lhs == 0).all()
    assert torch.isfinite(t.bracket).all()


def test_create_graph_allows_training_on_penalty():
    model = make_mlp([3, 4, 2], nn.Tanh)
    x = torch.randn(5, 3, dtype=torch.float64)
    for fn in (input_gradient_norm_sq, parameter_gradient_norm_sq):
        pen = fn(model, x, f_sq, create_graph=True).sum()
        grads = torch.autograd.grad(pen, list(model.parameters()))
        assert all(torch.isfinite(g).all() for g in grads)
        with pytest.raises(RuntimeError):  # without create_graph there is no graph
            torch.autograd.grad(fn(model, x, f_sq).sum(), list(model.parameters()))


def test_layers_with_stacked_and_missing_activations():
    model = nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Sigmoid(), nn.Linear(3, 2)).double()
    layers = mlp_layers(model)
    assert len(layers) == 2 and len(layers[0][1]) == 2 and layers[1][1] == []
    x = torch.randn(3, 2, dtype=torch.float64)
    t = gradient_penalty_terms(model, x, f_sq)
    assert (t.lhs <= t.rhs * (1 + 1e-10)).all()


# ---- bad input ------------------------------------------------------------------------

def test_bad_models():
    with pytest.raises(TypeError, match="nn.Sequential"):
        mlp_layers(nn.Linear(2, 2))
    with pytest.raises(TypeError, match=r"model\[1\] is LayerNorm"):
        mlp_layers(nn.Sequential(nn.Linear(2, 2), nn.LayerNorm(2)))
    with pytest.raises(TypeError, match="without bias"):
        mlp_layers(nn.Sequential(nn.Linear(2, 2, bias=False)))
    with pytest.raises(ValueError, match="start with an nn.Linear"):
        mlp_layers(nn.Sequential(nn.Tanh(), nn.Linear(2, 2)))
    with pytest.raises(ValueError, match="expects 3 inputs"):
        mlp_layers(nn.Sequential(nn.Linear(2, 2), nn.Linear(3, 2)))
    with pytest.raises(ValueError, match="empty"):
        mlp_layers(nn.Sequential())


def test_bad_x_and_f():
    model = make_mlp([3, 2], nn.Tanh)
    x = torch.randn(4, 3, dtype=torch.float64)
    with pytest.raises(ValueError, match="shape"):
        gradient_penalty_terms(model, x[0], f_sq)
    with pytest.raises(ValueError, match="at least one"):
        gradient_penalty_terms(model, x[:0], f_sq)
    with pytest.raises(ValueError, match="features"):
        gradient_penalty_terms(model, x[:, :2], f_sq)
    with pytest.raises(TypeError, match="floating"):
        gradient_penalty_terms(model, torch.ones(4, 3, dtype=torch.long), f_sq)
    with pytest.raises(TypeError, match="torch.Tensor"):
        gradient_penalty_terms(model, x.numpy(), f_sq)
    bad = x.clone()
    bad[0, 0] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        input_gradient_norm_sq(model, bad, f_sq)
    with pytest.raises(TypeError, match="callable"):
        gradient_penalty_terms(model, x, 3)
    with pytest.raises(ValueError, match="one scalar per sample"):
        gradient_penalty_terms(model, x, lambda o: o.sum())
    with pytest.raises(ValueError, match="one scalar per sample"):
        parameter_gradient_norm_sq(model, x, lambda o: o)
    model32 = nn.Sequential(nn.Linear(3, 2), nn.Tanh())  # float32 parameters, float64 x
    for fn in (gradient_penalty_terms, input_gradient_norm_sq, parameter_gradient_norm_sq):
        with pytest.raises(TypeError, match=r"x has dtype torch.float64 but the model's parameters"):
            fn(model32, x, f_sq)
    with pytest.raises(ValueError, match="device"):
        gradient_penalty_terms(make_mlp([3, 2], nn.Tanh).to("meta"), x, f_sq)
    frozen = make_mlp([3, 2], nn.Tanh)
    for p in frozen.parameters():
        p.requires_grad_(False)
    with pytest.raises(ValueError, match="no parameters"):
        parameter_gradient_norm_sq(frozen, x, f_sq)
