"""Capturing intermediate tensors of a model with forward hooks that are always removed.

Keras users fetch an intermediate tensor with a second ``Model(inputs, tensor)`` or with
``K.function``. In PyTorch the tool is :meth:`torch.nn.Module.register_forward_hook`; this
module wraps it in a context manager, :func:`capture`, that resolves every target *before*
registering anything and removes every handle on exit, also when the forward pass raises.
A tensor that is not the output of a module (a value computed inside ``forward``) is made
capturable by passing it through a :class:`Tap`, an identity module that gives it a name.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn
from torch.utils._pytree import tree_map_only

__all__ = ["Tap", "capture"]


class Tap(nn.Module):
    """Identity module that marks a point inside ``forward`` where a tensor can be captured.

    Assign it as an attribute (``self.tap = Tap()``) and write ``x = self.tap(x)`` where the
    value is computed; :func:`capture` then finds it under the attribute's dotted name
    (e.g. ``"block.tap"``). It returns its input unchanged and has no parameters, so
    inserting it changes neither the outputs nor the state dict.
    """

    def forward(self, x: Any) -> Any:  # noqa: D102 - identity
        return x


_KEEP = ("last", "all")


def _resolve(model: nn.Module, targets: str | Sequence[str] | Mapping[str, str | nn.Module]
             ) -> dict[str, nn.Module]:
    if isinstance(targets, str):
        targets = [targets]
    if isinstance(targets, Mapping):
        items = list(targets.items())
    elif isinstance(targets, Sequence):
        items = [(t, t) for t in targets]
    else:
        raise TypeError(f"targets={targets!r}: expected a name, a sequence of names or a "
                        "mapping key -> submodule name or module")
    if not items:
        raise ValueError("targets is empty: name at least one submodule to capture")
    members = {id(m) for m in model.modules()}
    out: dict[str, nn.Module] = {}
    for key, t in items:
        if not isinstance(key, str):
            raise TypeError(f"targets: key {key!r} is not a string")
        if isinstance(t, str):
            try:
                mod = model.get_submodule(t)
            except AttributeError as exc:
                names = [n for n, _ in model.named_modules() if n][:12]
                raise ValueError(f"targets: {t!r} is not a submodule of the model; "
                                 f"submodule names include {names}") from exc
        elif isinstance(t, nn.Module):
            if id(t) not in members:
                raise ValueError(f"targets[{key!r}] is a module that is not part of the model")
            mod = t
        else:
            raise TypeError(f"targets[{key!r}]={t!r}: expected a submodule name or an nn.Module")
        out[key] = mod
    return out


@contextmanager
def capture(model: nn.Module, targets: str | Sequence[str] | Mapping[str, str | nn.Module], *,
            detach: bool = True, keep: str = "last") -> Iterator[dict[str, Any]]:
    """Record the outputs of chosen submodules during the forward passes run inside a ``with``.

    Parameters
    ----------
    model
        The model; targets must be among ``model.modules()``.
    targets
        A submodule name (as in ``model.named_modules()``, e.g. ``"0"`` or ``"block.tap"``),
        a sequence of names, or a mapping ``key -> name or module`` to choose the keys of
        the result.
    detach
        Store detached tensors (default), so the record holds no autograd graph. With
        ``False`` the stored tensors stay in the graph, e.g. to differentiate the loss
        with respect to an intermediate value.
    keep
        ``"last"``: each key holds the output of the last call. ``"all"``: each key holds
        the list of outputs of every call (modules called several times, e.g. shared
        layers or a loop).

    Yields
    ------
    dict
        Filled during the forward passes; it stays readable after the ``with`` block.
        Outputs that are tuples or dicts of tensors are stored with the same structure.

    Raises
    ------
    ValueError
        If a name is not a submodule, a module is not part of ``model``, ``targets`` is
        empty, or ``keep`` is not ``"last"`` or ``"all"``.
    TypeError
        If ``model`` is not an ``nn.Module`` or a target is neither a name nor a module.

    Notes
    -----
    All targets are resolved before any hook is registered, and every handle is removed
    in a ``finally`` clause: no hook survives the block, whether it ends normally or by an
    exception raised in the forward pass.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
    if keep not in _KEEP:
        raise ValueError(f"keep={keep!r}: expected one of {list(_KEEP)}")
    resolved = _resolve(model, targets)
    record: dict[str, Any] = {k: [] for k in resolved} if keep == "all" else {}
    handles = []

    def make_hook(key: str):
        def hook(module: nn.Module, args: Any, output: Any) -> None:
            value = tree_map_only(torch.Tensor, torch.Tensor.detach, output) if detach else output
            if keep == "all":
                record[key].append(value)
            else:
                record[key] = value
        return hook

    try:
        for key, mod in resolved.items():
            handles.append(mod.register_forward_hook(make_hook(key)))
        yield record
    finally:
        for h in handles:
            h.remove()
