"""Tests of kexue_book.nn.hooks (chapter 24)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from kexue_book.nn.hooks import Tap, capture


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # see conftest.py


class Normal(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.kernel = nn.Parameter(torch.zeros(d))
        self.tap = Tap()

    def forward(self, x):
        return self.tap(F.normalize(x, dim=-1)) * self.kernel


def make():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(5, 7), nn.ReLU(), Normal(7), nn.Linear(7, 3))


def no_hooks(model):
    return all(len(m._forward_hooks) == 0 for m in model.modules())


def test_captures_tap_and_layer_outputs_and_removes_hooks():
    model, x = make(), torch.randn(4, 5)
    with capture(model, ["1", "2.tap"]) as rec:
        y = model(x)
        assert not no_hooks(model)
    assert no_hooks(model)
    torch.testing.assert_close(rec["2.tap"], F.normalize(rec["1"], dim=-1), rtol=0, atol=0)
    assert torch.equal(rec["1"], model[:2](x))
    assert not rec["1"].requires_grad
    assert torch.equal(y, model(x))


def test_hooks_removed_when_forward_raises():
    model = make()
    with pytest.raises(RuntimeError):
        with capture(model, {"h": "1"}):
            model(torch.randn(4, 6))       # wrong width: Linear raises
    assert no_hooks(model)


def test_hooks_removed_when_body_raises_after_forward():
    model = make()
    with pytest.raises(KeyError):
        with capture(model, "1") as rec:
            model(torch.randn(2, 5))
            assert "1" in rec
            raise KeyError("boom")
    assert no_hooks(model)


def test_mapping_with_modules_and_keep_all():
    model = make()
    with capture(model, {"relu": model[1]}, keep="all") as rec:
        model(torch.randn(2, 5))
        model(torch.randn(3, 5))
    assert [t.shape[0] for t in rec["relu"]] == [2, 3]


def test_detach_false_keeps_graph():
    model = make()
    x = torch.randn(2, 5)
    with capture(model, "0", detach=False) as rec:
        out = model(x).sum()
    g, = torch.autograd.grad(out, rec["0"])
    assert g.shape == (2, 7)


def test_tuple_outputs_are_detached_structurally():
    mha = nn.MultiheadAttention(4, 2, batch_first=True)
    model = nn.ModuleDict({"att": mha})
    x = torch.randn(1, 3, 4)
    with capture(model, "att") as rec:
        model["att"](x, x, x)
    out, w = rec["att"]
    assert not out.requires_grad and w.shape == (1, 3, 3)


def test_tap_is_identity_without_state():
    t = Tap()
    x = torch.randn(3)
    assert t(x) is x and len(t.state_dict()) == 0


def test_bad_inputs_register_nothing():
    model = make()
    with pytest.raises(ValueError, match="not a submodule"):
        with capture(model, ["1", "nope"]):
            pass
    assert no_hooks(model)
    with pytest.raises(ValueError, match="not part of the model"):
        with capture(model, {"x": nn.ReLU()}):
            pass
    with pytest.raises(TypeError, match="expected a submodule name"):
        with capture(model, {"x": 3}):
            pass
    with pytest.raises(TypeError, match="key"):
        with capture(model, {1: "1"}):
            pass
    with pytest.raises(ValueError, match="empty"):
        with capture(model, []):
            pass
    with pytest.raises(TypeError, match="targets"):
        with capture(model, 5):
            pass
    with pytest.raises(ValueError, match="keep"):
        with capture(model, "1", keep="first"):
            pass
    with pytest.raises(TypeError, match="nn.Module"):
        with capture(lambda x: x, "1"):
            pass
    assert no_hooks(model)
