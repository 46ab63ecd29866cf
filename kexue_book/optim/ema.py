"""Exponential moving average (EMA) of a model's weights, with optional bias correction.

After every optimiser step the shadow weights :math:`\\Theta` move towards the current
weights :math:`\\theta` (chapter 24, ``c24-eq-ema``):

.. math::

    \\Theta_n = \\alpha\\,\\Theta_{n-1} + (1-\\alpha)\\,\\theta_n,\\qquad \\Theta_0 = \\theta_0 .

The shadow never feeds back into training, so the optimiser's trajectory is unchanged.
With ``debias=True`` the average is the bias-corrected (Adam-style) one
(``c24-eq-ema-debiased``),
:math:`\\hat\\Theta_n = (1-\\alpha)\\sum_{k=1}^n\\alpha^{n-k}\\theta_k/(1-\\alpha^n)`, which is what
Keras 2 on TensorFlow 1 computed (``zero_debias=True``); it is the same update with the
step-dependent weight :math:`(1-\\alpha)/(1-\\alpha^n)` in place of :math:`1-\\alpha`.

PyTorch's reference is ``torch.optim.swa_utils.AveragedModel`` with
``get_ema_multi_avg_fn(decay)``; :class:`EMA` matches it bit for bit when both start from
the same weights (see chapter 24), adds the bias correction and swaps the averaged
weights into the live model for evaluation and back.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn

__all__ = ["EMA", "ema_variance_ratio"]


def _check_decay(decay: Any) -> float:
    if isinstance(decay, bool) or not isinstance(decay, (int, float)):
        raise TypeError(f"decay must be a real number in [0, 1), got {type(decay).__name__}")
    d = float(decay)
    if not (0.0 <= d < 1.0):
        raise ValueError(f"decay={decay!r}: expected a number in [0, 1)")
    return d


class EMA:
    """Shadow weights that follow a model by an exponential moving average.

    Parameters
    ----------
    model
        The model being trained. Its floating-point parameters (and, with ``use_buffers``,
        its floating-point buffers) are averaged; the shadow is initialised to a copy of
        them, :math:`\\Theta_0=\\theta_0`.
    decay
        :math:`\\alpha\\in[0, 1)`; the average spans about :math:`1/(1-\\alpha)` steps.
    debias
        Use the bias-corrected weight :math:`(1-\\alpha)/(1-\\alpha^n)` at the ``n``-th
        update (the result no longer depends on :math:`\\Theta_0`).
    use_buffers
        Also average floating-point buffers (e.g. BatchNorm running statistics), like
        ``AveragedModel(use_buffers=True)``. Integer buffers (``num_batches_tracked``) are
        copied, not averaged. With ``False``, buffers are left to the live model.

    Raises
    ------
    TypeError
        If ``model`` is not an ``nn.Module`` or ``decay`` is not a real number.
    ValueError
        If ``decay`` is outside ``[0, 1)`` or the model has no floating-point parameters.

    Notes
    -----
    :meth:`update` is one ``torch._foreach_lerp_`` per (device, dtype) group,
    :math:`\\Theta \\leftarrow \\Theta + w(\\theta-\\Theta)` with :math:`w = 1-\\alpha`, the same
    kernel ``get_ema_multi_avg_fn`` uses, so the two agree exactly.
    """

    def __init__(self, model: nn.Module, decay: float = 0.999, *, debias: bool = False,
                 use_buffers: bool = True) -> None:
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
        self.decay = _check_decay(decay)
        self.debias = bool(debias)
        self.use_buffers = bool(use_buffers)
        self.model = model
        live = [p for p in model.parameters() if p.is_floating_point()]
        if not live:
            raise ValueError("model has no floating-point parameters to average")
        if self.use_buffers:
            live += [b for b in model.buffers() if b.is_floating_point()]
            self._copied = [b for b in model.buffers() if not b.is_floating_point()]
        else:
            self._copied = []
        self._live = live
        with torch.no_grad():
            self._shadow = [t.detach().clone() for t in live]
            self._copied_shadow = [b.detach().clone() for b in self._copied]
        # one foreach call per (device, dtype): group the indices once
        groups: dict[tuple[torch.device, torch.dtype], list[int]] = {}
        for i, t in enumerate(live):
            groups.setdefault((t.device, t.dtype), []).append(i)
        self._groups = [([self._shadow[i] for i in idx], [live[i] for i in idx])
                        for idx in groups.values()]
        self.num_updates = 0
        self._backup: list[torch.Tensor] | None = None

    # ------------------------------------------------------------------ averaging
    def weight(self, n: int | None = None) -> float:
        """The interpolation weight :math:`w_n` of the ``n``-th update (default: the next one).

        :math:`w_n = 1-\\alpha` without bias correction and :math:`(1-\\alpha)/(1-\\alpha^n)`
        with it, so that :math:`\\Theta_n = \\Theta_{n-1} + w_n(\\theta_n - \\Theta_{n-1})`.
        """
        n = self.num_updates + 1 if n is None else n
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"n={n!r}: expected an update count >= 1")
        w = 1.0 - self.decay
        if self.debias:
            w = w / -math.expm1(n * math.log(self.decay)) if self.decay > 0 else 1.0
        return w

    @torch.no_grad()
    def update(self) -> None:
        """Move the shadow towards the model's current weights (call after ``optimizer.step()``).

        Raises
        ------
        RuntimeError
            If the averaged weights are currently swapped into the model (call
            :meth:`restore` first): averaging them with themselves would be a silent no-op.
        """
        if self._backup is not None:
            raise RuntimeError("EMA.update() while the averaged weights are applied; restore() first")
        w = self.weight()
        for shadow, live in self._groups:
            torch._foreach_lerp_(shadow, live, w)
        if self._copied:
            torch._foreach_copy_(self._copied_shadow, self._copied)
        self.num_updates += 1

    @property
    def shadow(self) -> list[torch.Tensor]:
        """The averaged tensors, in the order of ``parameters()`` then ``buffers()``."""
        return list(self._shadow)

    # ------------------------------------------------------------------ swapping
    @property
    def applied(self) -> bool:
        """Whether the averaged weights are currently loaded in the model."""
        return self._backup is not None

    @torch.no_grad()
    def apply(self) -> None:
        """Back up the model's weights and load the averaged ones (for evaluation or saving).

        Raises
        ------
        RuntimeError
            If they are already applied.
        """
        if self._backup is not None:
            raise RuntimeError("EMA.apply(): the averaged weights are already applied")
        self._backup = [t.detach().clone() for t in self._live]
        torch._foreach_copy_(self._live, self._shadow)

    @torch.no_grad()
    def restore(self) -> None:
        """Put back the weights saved by :meth:`apply`; bit-exact.

        Raises
        ------
        RuntimeError
            If :meth:`apply` was not called before.
        """
        if self._backup is None:
            raise RuntimeError("EMA.restore() without a prior apply()")
        torch._foreach_copy_(self._live, self._backup)
        self._backup = None

    @contextmanager
    def swapped(self) -> Iterator[nn.Module]:
        """Context manager: the model holds the averaged weights inside the block.

        The training weights are restored on exit, also when the block raises.
        """
        self.apply()
        try:
            yield self.model
        finally:
            self.restore()

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict[str, Any]:
        """Decay, options, update count and (cloned) shadow tensors."""
        return {"decay": self.decay, "debias": self.debias, "use_buffers": self.use_buffers,
                "num_updates": self.num_updates,
                "shadow": [t.clone() for t in self._shadow]}

    @torch.no_grad()
    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Load a :meth:`state_dict`.

        Raises
        ------
        ValueError
            If the number, shapes or options of the saved tensors do not match.
        """
        shadow = state.get("shadow")
        if not isinstance(shadow, list) or len(shadow) != len(self._shadow):
            raise ValueError("state['shadow'] must be a list with one tensor per averaged tensor "
                             f"({len(self._shadow)})")
        for i, (s, t) in enumerate(zip(self._shadow, shadow)):
            if not isinstance(t, torch.Tensor) or t.shape != s.shape:
                raise ValueError(f"state['shadow'][{i}] must be a tensor of shape {tuple(s.shape)}")
        if bool(state.get("use_buffers")) != self.use_buffers:
            raise ValueError("state['use_buffers'] differs from this EMA's use_buffers")
        self.decay = _check_decay(state["decay"])
        self.debias = bool(state["debias"])
        n = state["num_updates"]
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise ValueError(f"state['num_updates']={n!r}: expected an integer >= 0")
        self.num_updates = n
        for s, t in zip(self._shadow, shadow):
            s.copy_(t)


def ema_variance_ratio(alpha: float, beta: float) -> float:
    """Stationary variance of the EMA of an AR(1) sequence, relative to the sequence's variance.

    For :math:`x_{n+1} = \\beta x_n + \\varepsilon_n` (SGD on a noisy quadratic, with
    :math:`\\beta = 1-\\gamma a`) and :math:`\\Theta_n = \\alpha\\Theta_{n-1} + (1-\\alpha)x_n`,

    .. math::

        \\frac{\\operatorname{Var}\\Theta}{\\operatorname{Var}x}
        = \\frac{(1-\\alpha)(1+\\alpha\\beta)}{(1+\\alpha)(1-\\alpha\\beta)} .

    This is ``c24-eq-ema-variance`` of chapter 24.

    Parameters
    ----------
    alpha
        EMA decay in ``[0, 1)``.
    beta
        AR(1) coefficient in ``(-1, 1)``.

    Raises
    ------
    ValueError
        If ``alpha`` is outside ``[0, 1)`` or ``|beta| >= 1`` (no stationary law).
    """
    for name, v in (("alpha", alpha), ("beta", beta)):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise ValueError(f"{name}={v!r}: expected a finite real number")
    if not 0.0 <= alpha < 1.0:
        raise ValueError(f"alpha={alpha!r}: expected a number in [0, 1)")
    if not -1.0 < beta < 1.0:
        raise ValueError(f"beta={beta!r}: expected a number in (-1, 1)")
    ab = alpha * beta
    return (1.0 - alpha) * (1.0 + ab) / ((1.0 + alpha) * (1.0 - ab))
