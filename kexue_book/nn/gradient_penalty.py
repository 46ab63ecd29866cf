"""Input-gradient and parameter-gradient penalties of an MLP, and the inequality between them.

For an MLP :math:`h^{(t+1)} = g^{(t)}(W^{(t)} h^{(t)} + b^{(t)})`, :math:`t = 1, \\dots, l`,
:math:`h^{(1)} = x`, and a scalar :math:`f` of :math:`h^{(l+1)}`, Dherin, Munn and Barrett
(2021) bound the input-gradient penalty by the parameter-gradient penalty:

.. math::

    \\|\\nabla_x f\\|^2 \\sum_{t=1}^{l}
    \\frac{1 + \\|h^{(t)}\\|^2}{\\|W^{(t)}\\|_2^2\\, \\|\\nabla_x h^{(t)}\\|_2^2}
    \\le \\|\\nabla_\\theta f\\|^2 .

This module computes both penalties (with ``torch.autograd.grad``, optionally with
``create_graph=True`` so that they can be trained on) and every ingredient of the bound,
per sample. The model must be an :class:`torch.nn.Sequential` of :class:`torch.nn.Linear`
layers and elementwise activations; anything else raises :class:`TypeError`.

Below, (E1) is the inequality above; (E2) and (E3) are its per-layer parts,
:math:`\\|\\nabla_x f\\|^2\\|h^{(t)}\\|^2/(\\|W^{(t)}\\|_2^2\\|\\nabla_x h^{(t)}\\|_2^2)
\\le \\|\\nabla_{W^{(t)}} f\\|_F^2` for the weights and the same with :math:`1` in place of
:math:`\\|h^{(t)}\\|^2` and :math:`\\|\\nabla_{b^{(t)}} f\\|^2` on the right for the biases,
whose sum over :math:`t` is (E1); (E6) is the weaker form of (E1) with Frobenius norms in the
denominators. Chapter 27 of the book derives all of them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

__all__ = [
    "ELEMENTWISE_ACTIVATIONS",
    "GradientPenaltyTerms",
    "gradient_penalty_terms",
    "input_gradient_norm_sq",
    "mlp_layers",
    "parameter_gradient_norm_sq",
]

ELEMENTWISE_ACTIVATIONS: tuple[type[nn.Module], ...] = (
    nn.Tanh, nn.Sigmoid, nn.Softplus, nn.GELU, nn.ReLU, nn.LeakyReLU, nn.ELU, nn.SiLU,
    nn.Identity,
)
"""Activation modules accepted between the linear layers (they act elementwise)."""


def mlp_layers(model: nn.Module) -> list[tuple[nn.Linear, list[nn.Module]]]:
    """Split an MLP into layers ``(linear, activations)``, :math:`h \\mapsto g(Wh + b)`.

    Parameters
    ----------
    model
        An :class:`torch.nn.Sequential` whose first module is :class:`torch.nn.Linear`,
        followed by linear layers and elementwise activations
        (:data:`ELEMENTWISE_ACTIVATIONS`). Activations after a linear layer form its
        :math:`g^{(t)}` (none means the identity).

    Raises
    ------
    TypeError
        If ``model`` is not a ``Sequential`` or contains a module of another kind (the
        message names it), or a linear layer has no bias.
    ValueError
        If ``model`` is empty, does not start with a linear layer, or consecutive linear
        layers have mismatched sizes.
    """
    if not isinstance(model, nn.Sequential):
        raise TypeError(f"model must be an nn.Sequential of nn.Linear and elementwise "
                        f"activations, got {type(model).__name__}")
    layers: list[tuple[nn.Linear, list[nn.Module]]] = []
    for name, m in model.named_children():
        if isinstance(m, nn.Linear):
            if m.bias is None:
                raise TypeError(f"model[{name}] is nn.Linear without bias; the bound assumes "
                                "every layer has a bias")
            if layers and layers[-1][0].out_features != m.in_features:
                raise ValueError(f"model[{name}] expects {m.in_features} inputs but the "
                                 f"previous layer gives {layers[-1][0].out_features}")
            layers.append((m, []))
        elif isinstance(m, ELEMENTWISE_ACTIVATIONS):
            if not layers:
                raise ValueError("model must start with an nn.Linear layer, got "
                                 f"model[{name}] = {type(m).__name__}")
            layers[-1][1].append(m)
        else:
            raise TypeError(f"model[{name}] is {type(m).__name__}; only nn.Linear and "
                            "elementwise activations "
                            f"({', '.join(c.__name__ for c in ELEMENTWISE_ACTIVATIONS)}) "
                            "are supported")
    if not layers:
        raise ValueError("model is empty; it needs at least one nn.Linear layer")
    return layers


def _check_inputs(model: nn.Module, x: torch.Tensor, f: Callable[[torch.Tensor], torch.Tensor]
                  ) -> list[tuple[nn.Linear, list[nn.Module]]]:
    layers = mlp_layers(model)
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"x must be a torch.Tensor, got {type(x).__name__}")
    if x.ndim != 2:
        raise ValueError(f"x must have shape (n_samples, d_in); got shape {tuple(x.shape)} "
                         "(use x[None] for a single sample)")
    if x.shape[0] < 1:
        raise ValueError("x must hold at least one sample (n_samples >= 1)")
    if x.shape[1] != layers[0][0].in_features:
        raise ValueError(f"x has {x.shape[1]} features but the model expects "
                         f"{layers[0][0].in_features}")
    if not x.is_floating_point():
        raise TypeError(f"x must be a floating-point tensor, got dtype {x.dtype}")
    weight = layers[0][0].weight
    if x.dtype != weight.dtype:
        raise TypeError(f"x has dtype {x.dtype} but the model's parameters have dtype "
                        f"{weight.dtype}; convert one of them (e.g. x.to({weight.dtype}))")
    if x.device != weight.device:
        raise ValueError(f"x is on device {x.device} but the model's parameters are on "
                         f"{weight.device}")
    if not torch.isfinite(x).all():
        raise ValueError("x contains NaN or infinite entries")
    if not callable(f):
        raise TypeError(f"f must be callable (output batch -> per-sample scalars), got "
                        f"{type(f).__name__}")
    return layers


def _apply_f(f: Callable[[torch.Tensor], torch.Tensor], out: torch.Tensor) -> torch.Tensor:
    val = f(out)
    n = out.shape[0]
    if not isinstance(val, torch.Tensor) or val.shape != (n,):
        shape = tuple(val.shape) if isinstance(val, torch.Tensor) else type(val).__name__
        raise ValueError(f"f must map the output batch (n, d_out) to one scalar per sample, "
                         f"shape ({n},); got {shape}")
    return val


def input_gradient_norm_sq(model: nn.Module, x: torch.Tensor,
                           f: Callable[[torch.Tensor], torch.Tensor], *,
                           create_graph: bool = False) -> torch.Tensor:
    """Per-sample input-gradient penalty :math:`\\|\\nabla_x f(x_i)\\|^2`.

    Parameters
    ----------
    model
        The MLP (see :func:`mlp_layers`).
    x
        Inputs, shape ``(n, d_in)``.
    f
        Maps the model's output batch ``(n, d_out)`` to per-sample scalars ``(n,)``
        (samples must not interact, e.g. a per-sample loss with ``reduction="none"``).
    create_graph
        Keep the graph so the penalty can be differentiated (for training with it).

    Returns
    -------
    torch.Tensor
        Shape ``(n,)``.

    Raises
    ------
    TypeError
        If ``model`` is not a supported MLP (see :func:`mlp_layers`), ``x`` is not a
        floating-point tensor of the model's dtype, or ``f`` is not callable.
    ValueError
        If ``x`` is not of shape ``(n, d_in)`` with ``n >= 1`` and the model's ``d_in``, is on
        another device than the model, or is not finite; or if ``f`` does not return shape
        ``(n,)``.
    """
    _check_inputs(model, x, f)
    xr = x.detach().requires_grad_(True)
    val = _apply_f(f, model(xr))
    (g,) = torch.autograd.grad(val.sum(), xr, create_graph=create_graph)
    return g.pow(2).sum(dim=1)


def parameter_gradient_norm_sq(model: nn.Module, x: torch.Tensor,
                               f: Callable[[torch.Tensor], torch.Tensor], *,
                               create_graph: bool = False) -> torch.Tensor:
    """Per-sample parameter-gradient penalty :math:`\\|\\nabla_\\theta f(x_i)\\|^2`.

    Computed directly: one ``torch.autograd.grad`` with respect to all parameters per
    sample (simple and exact; :func:`gradient_penalty_terms` has a batched route).

    Parameters
    ----------
    model, x, f, create_graph
        As in :func:`input_gradient_norm_sq`.

    Returns
    -------
    torch.Tensor
        Shape ``(n,)``: the sum over layers of
        :math:`\\|\\nabla_{W^{(t)}} f\\|_F^2 + \\|\\nabla_{b^{(t)}} f\\|^2`, the right side of
        (E1). Parameters with ``requires_grad=False`` are left out of the sum.
    """
    _check_inputs(model, x, f)
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError("model has no parameters that require grad")
    out = []
    for i in range(x.shape[0]):
        val = _apply_f(f, model(x[i:i + 1]))
        grads = torch.autograd.grad(val.sum(), params, create_graph=create_graph)
        out.append(sum(g.pow(2).sum() for g in grads))
    return torch.stack(out)


@dataclass
class GradientPenaltyTerms:
    """Every ingredient of the inequality (E1), per sample (first axis) and layer (second).

    Attributes
    ----------
    input_grad_sq
        :math:`\\|\\nabla_x f\\|^2`, shape ``(n,)``.
    weight_grad_sq, bias_grad_sq
        :math:`\\|\\nabla_{W^{(t)}} f\\|_F^2` and :math:`\\|\\nabla_{b^{(t)}} f\\|^2`, ``(n, l)``.
    h_norm
        :math:`\\|h^{(t)}\\|`, the input norm of layer :math:`t`, ``(n, l)``.
    weight_spec, weight_fro
        :math:`\\|W^{(t)}\\|_2` and :math:`\\|W^{(t)}\\|_F`, ``(l,)``.
    jac_spec, jac_fro
        :math:`\\|\\nabla_x h^{(t)}\\|_2` and :math:`\\|\\nabla_x h^{(t)}\\|_F`, ``(n, l)``.
    lhs_weight, lhs_bias
        Left sides of (E2) and (E3), ``(n, l)``; a term whose denominator is zero is 0.
    """

    input_grad_sq: torch.Tensor
    weight_grad_sq: torch.Tensor
    bias_grad_sq: torch.Tensor
    h_norm: torch.Tensor
    weight_spec: torch.Tensor
    weight_fro: torch.Tensor
    jac_spec: torch.Tensor
    jac_fro: torch.Tensor
    lhs_weight: torch.Tensor
    lhs_bias: torch.Tensor

    @property
    def bracket(self) -> torch.Tensor:
        """:math:`B = \\sum_t (1 + \\|h^{(t)}\\|^2) / (\\|W^{(t)}\\|_2^2 \\|\\nabla_x h^{(t)}\\|_2^2)`, ``(n,)``."""
        den = self.weight_spec.pow(2) * self.jac_spec.pow(2)
        return _safe_div(1 + self.h_norm.pow(2), den).sum(dim=1)

    @property
    def lhs(self) -> torch.Tensor:
        """Left side of (E1), :math:`\\|\\nabla_x f\\|^2 B`, shape ``(n,)``."""
        return (self.lhs_weight + self.lhs_bias).sum(dim=1)

    @property
    def rhs(self) -> torch.Tensor:
        """Right side of (E1), :math:`\\|\\nabla_\\theta f\\|^2`, shape ``(n,)``."""
        return (self.weight_grad_sq + self.bias_grad_sq).sum(dim=1)

    @property
    def lhs_frobenius(self) -> torch.Tensor:
        """Left side of (E1) with Frobenius norms in the denominator (E6), ``(n,)``."""
        den = self.weight_fro.pow(2) * self.jac_fro.pow(2)
        return (self.input_grad_sq[:, None] * _safe_div(1 + self.h_norm.pow(2), den)).sum(dim=1)


def _safe_div(num: torch.Tensor, den: torch.Tensor) -> torch.Tensor:
    # 0/0 convention of the degenerate case: a zero denominator forces grad_x f = 0.
    zero = den == 0
    return torch.where(zero, torch.zeros_like(num), num / torch.where(zero, 1, den))


def gradient_penalty_terms(model: nn.Module, x: torch.Tensor,
                           f: Callable[[torch.Tensor], torch.Tensor]) -> GradientPenaltyTerms:
    """All per-sample, per-layer terms of the inequality (E1) for a batch of inputs.

    The forward pass carries the Jacobians :math:`J_t = \\nabla_x h^{(t)}` along
    (:math:`J_1 = I`, :math:`J_{t+1} = \\mathrm{diag}(g'(z^{(t+1)}))\\, W^{(t)} J_t`); the
    backward pass gives :math:`\\delta_t = \\partial f / \\partial z^{(t+1)}` with
    ``torch.autograd.grad``, whence :math:`\\nabla_{b^{(t)}} f = \\delta_t` and
    :math:`\\|\\nabla_{W^{(t)}} f\\|_F = \\|\\delta_t\\| \\|h^{(t)}\\|` (rank one).
    Spectral norms use ``torch.linalg.matrix_norm(ord=2)``.

    Parameters
    ----------
    model, x, f
        As in :func:`input_gradient_norm_sq`.

    Returns
    -------
    GradientPenaltyTerms
        Detached tensors; ``.lhs`` and ``.rhs`` are the two sides of (E1).
    """
    layers = _check_inputs(model, x, f)
    n, d = x.shape
    xr = x.detach().requires_grad_(True)
    h = xr
    jac = torch.eye(d, dtype=x.dtype, device=x.device).expand(n, d, d)
    hs, jacs, zs = [], [], []
    for lin, acts in layers:
        hs.append(h)
        jacs.append(jac)
        z = lin(h)
        zs.append(z)
        out = z
        for a in acts:
            out = a(out)
        if acts:  # elementwise derivative g'(z) of the composed activations
            (gp,) = torch.autograd.grad(out.sum(), z, retain_graph=True)
        else:
            gp = torch.ones_like(z)
        jac = gp.detach()[:, :, None] * (lin.weight.detach() @ jac)
        h = out
    val = _apply_f(f, h)
    grads = torch.autograd.grad(val.sum(), [xr, *zs])
    gx, deltas = grads[0], grads[1:]
    with torch.no_grad():
        input_grad_sq = gx.pow(2).sum(dim=1)
        h_norm = torch.stack([hh.detach().norm(dim=1) for hh in hs], dim=1)
        bias_sq = torch.stack([dl.pow(2).sum(dim=1) for dl in deltas], dim=1)
        weight_sq = bias_sq * h_norm.pow(2)
        w_spec = torch.stack([torch.linalg.matrix_norm(lin.weight.detach(), ord=2)
                              for lin, _ in layers])
        w_fro = torch.stack([torch.linalg.matrix_norm(lin.weight.detach(), ord="fro")
                             for lin, _ in layers])
        j_spec = torch.stack([torch.linalg.matrix_norm(j, ord=2) for j in jacs], dim=1)
        j_fro = torch.stack([torch.linalg.matrix_norm(j, ord="fro") for j in jacs], dim=1)
        den = w_spec.pow(2)[None, :] * j_spec.pow(2)
        lhs_w = input_grad_sq[:, None] * _safe_div(h_norm.pow(2), den)
        lhs_b = input_grad_sq[:, None] * _safe_div(torch.ones_like(den), den)
    return GradientPenaltyTerms(input_grad_sq, weight_sq, bias_sq, h_norm, w_spec, w_fro,
                                j_spec, j_fro, lhs_w, lhs_b)
