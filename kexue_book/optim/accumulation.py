r"""Gradient accumulation: the gradient of a large batch, computed one micro-batch at a time.

Let a batch :math:`B` be split into micro-batches :math:`M_1, \dots, M_n` with sizes
:math:`b_k` (or token counts :math:`T_k`), and let :math:`g_k` be the gradient of the
*mean* loss over :math:`M_k`. The gradient of the mean loss over the whole batch is

.. math::

   g = \frac{1}{|B|}\sum_{i\in B}\nabla_\theta \ell_i
     = \sum_{k=1}^{n} \frac{b_k}{|B|}\, g_k ,

a weighted average whose weights are the micro-batch *sizes*, not :math:`1/n`; the two
agree only when every :math:`b_k` is the same (chapter 22, ``c22-eq-ga-split`` and, for tokens,
``c22-eq-ga-tokens``). Because
the parameters are frozen while the micro-batches are processed and the optimizer is called
once per batch, any optimizer (SGD, momentum, Adam, AdamW, ...) then takes exactly the
large-batch step, up to floating-point summation order. Clipping must act on the
accumulated :math:`g`, never on the :math:`g_k`.

PyTorch already accumulates: ``loss.backward()`` *adds* into ``.grad``, so calling it on
each micro-batch before one ``optimizer.step()`` is the native form (and
``DistributedDataParallel.no_sync()`` skips the all-reduce on the intermediate calls).
This module adds the bookkeeping that is easy to get wrong: exact weighting of unequal
micro-batches (by samples or by tokens, also when the counts are only known after the
forward pass), clipping of the accumulated gradient, a partial last cycle, a check for
layers that couple the samples of a batch (BatchNorm), and a peak-memory probe that works on
the CPU as well as on CUDA.
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import torch
from torch import nn

__all__ = [
    "GradientAccumulator",
    "accumulate_gradients",
    "batch_coupled_modules",
    "has_batch_coupling",
    "measure_peak_memory",
    "micro_batch_weights",
]

_NORMALIZE = ("samples", "tokens")


# --------------------------------------------------------------------------- helpers
def _check_count(n: Any, name: str) -> float:
    """Return ``n`` as a float if it is a finite number > 0; else raise."""
    if isinstance(n, torch.Tensor):
        if n.numel() != 1:
            raise ValueError(f"{name} must be a single number, got a tensor of shape {tuple(n.shape)}")
        n = n.item()
    if isinstance(n, bool) or not isinstance(n, (int, float)):
        raise TypeError(f"{name}={n!r} ({type(n).__name__}) must be a number > 0")
    if not (math.isfinite(n) and n > 0):
        raise ValueError(f"{name}={n!r} must be finite and > 0")
    return float(n)


def micro_batch_weights(counts: Sequence[float]) -> list[float]:
    r"""The exact weights :math:`w_k = b_k / \sum_j b_j` of micro-batch mean gradients.

    Implements ``c22-eq-ga-split`` / ``c22-eq-ga-tokens`` of chapter 22: with :math:`g_k` the gradient of the mean loss over
    micro-batch :math:`k` (of :math:`b_k` samples or :math:`T_k` tokens), the full-batch
    gradient is :math:`\sum_k w_k g_k`.

    Parameters
    ----------
    counts
        Samples (or tokens) in each micro-batch; each finite and > 0.

    Returns
    -------
    list of float
        The weights, summing to 1.

    Raises
    ------
    ValueError
        If ``counts`` is empty or a count is not finite and > 0.
    TypeError
        If a count is not a number.
    """
    if isinstance(counts, (str, bytes)) or not isinstance(counts, Iterable):
        raise TypeError(f"counts={counts!r} must be a sequence of numbers")
    cs = [_check_count(c, f"counts[{i}]") for i, c in enumerate(counts)]
    if not cs:
        raise ValueError("counts is empty: give at least one micro-batch size")
    total = math.fsum(cs)
    return [c / total for c in cs]


def _leading_size(batch: Any, name: str) -> int:
    first = batch[0] if isinstance(batch, (tuple, list)) and batch else batch
    if not isinstance(first, torch.Tensor) or first.dim() == 0:
        raise TypeError(
            f"{name} must be a tensor or a tuple/list of tensors with a batch dimension "
            f"(to count its samples), got {type(first).__name__}"
        )
    return int(first.shape[0])


def _trainable(params: Iterable[torch.Tensor]) -> list[torch.Tensor]:
    return [p for p in params if p.requires_grad]


def _check_scalar_loss(loss: Any, name: str) -> torch.Tensor:
    if not isinstance(loss, torch.Tensor):
        raise TypeError(f"{name} must be a scalar torch.Tensor, got {type(loss).__name__}")
    if loss.numel() != 1:
        raise ValueError(f"{name} must be a scalar (the micro-batch mean), got shape {tuple(loss.shape)}")
    if not loss.requires_grad:
        raise ValueError(f"{name} does not require grad: it is not connected to any parameter")
    return loss.reshape(())


# --------------------------------------------------------------------------- batch coupling
def batch_coupled_modules(model: nn.Module) -> list[str]:
    """Names of the submodules that normalise with the statistics of the current batch.

    A BatchNorm layer (``BatchNorm1d/2d/3d``, ``SyncBatchNorm``, the lazy variants) uses
    batch statistics in training mode, and also in eval mode when it keeps no running
    statistics (``track_running_stats=False``); the same test as in torch's own forward.
    Such a layer makes each sample's output depend on the other samples of its
    micro-batch, so accumulation no longer reproduces the large batch (chapter 22,
    ``c22-eq-ga-bn``).
    LayerNorm, GroupNorm and InstanceNorm are per sample and are not reported.

    Parameters
    ----------
    model
        The network.

    Returns
    -------
    list of str
        Qualified names (``""`` for the model itself), in ``named_modules`` order.

    Raises
    ------
    TypeError
        If ``model`` is not an ``nn.Module``.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    out = []
    for name, m in model.named_modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            uses_batch_stats = m.training or (m.running_mean is None and m.running_var is None)
            if uses_batch_stats:
                out.append(name)
    return out


def has_batch_coupling(model: nn.Module) -> bool:
    """True if some layer of ``model`` normalises with batch statistics right now.

    See :func:`batch_coupled_modules`; a BatchNorm in eval mode with running statistics
    is per sample and does not count.

    Raises
    ------
    TypeError
        If ``model`` is not an ``nn.Module``.
    """
    return bool(batch_coupled_modules(model))


# --------------------------------------------------------------------------- one-shot accumulation
def accumulate_gradients(
    model: nn.Module,
    loss_fn: Callable[[nn.Module, Any], Any],
    micro_batches: Sequence[Any],
    *,
    weights: Sequence[float] | None = None,
    normalize: str = "samples",
) -> float:
    r"""Add the exact large-batch gradient to ``.grad``, one micro-batch at a time.

    Runs forward and backward on each micro-batch and weights the micro-batch mean losses
    so that the gradients added to the parameters' ``.grad`` equal the gradient of the
    mean loss over all the samples (or tokens) together, ``c22-eq-ga-split`` / ``c22-eq-ga-tokens`` of chapter 22:
    :math:`g = \sum_k w_k g_k`. Like ``loss.backward()`` it *adds* to existing ``.grad``.

    Parameters
    ----------
    model
        The network; its parameters with ``requires_grad`` receive the gradient.
    loss_fn
        ``loss_fn(model, micro_batch)`` returns the *mean* loss over the micro-batch as a
        scalar tensor; with ``normalize="tokens"`` it returns ``(mean_loss, n_tokens)``,
        the number of units the mean was taken over.
    micro_batches
        Non-empty sequence of micro-batches. With ``normalize="samples"`` each is a tensor
        or a tuple/list of tensors whose first dimension counts its samples.
    weights
        Explicit weights :math:`w_k` (non-negative, summing to 1 within 1e-6); overrides
        ``normalize``. ``[1/n] * n`` gives the (generally biased) mean of micro-batch means.
    normalize
        ``"samples"``: :math:`w_k = b_k/\sum_j b_j` from the micro-batches' first
        dimension; ``"tokens"``: :math:`w_k = T_k/\sum_j T_j` from the counts returned by
        ``loss_fn`` (known only after each forward pass, so the gradient is kept as a
        running weighted mean).

    Returns
    -------
    float
        The weighted loss :math:`\sum_k w_k \bar\ell_k`, i.e. the large-batch mean loss.

    Raises
    ------
    ValueError
        If ``micro_batches`` is empty, ``normalize`` is not ``"samples"`` or ``"tokens"``,
        ``weights`` has the wrong length, a negative entry or does not sum to 1, a count
        is not > 0, or a loss is not a scalar connected to the parameters.
    TypeError
        If ``model`` is not an ``nn.Module``, or ``loss_fn`` returns the wrong kind of value.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if not callable(loss_fn):
        raise TypeError("loss_fn must be callable as loss_fn(model, micro_batch)")
    if normalize not in _NORMALIZE:
        raise ValueError(f"normalize={normalize!r}: expected one of {list(_NORMALIZE)}")
    if isinstance(micro_batches, (str, bytes)) or not isinstance(micro_batches, Sequence):
        raise TypeError("micro_batches must be a sequence (list or tuple) of micro-batches")
    n = len(micro_batches)
    if n == 0:
        raise ValueError("micro_batches is empty: give at least one micro-batch")
    params = _trainable(model.parameters())

    if weights is not None:
        w = [float(x) for x in weights]
        if len(w) != n:
            raise ValueError(f"weights has {len(w)} entries but there are {n} micro-batches")
        if any(not math.isfinite(x) or x < 0 for x in w):
            raise ValueError(f"weights={list(weights)!r} must be finite and >= 0")
        if abs(math.fsum(w) - 1.0) > 1e-6:
            raise ValueError(f"weights sum to {math.fsum(w)!r}; they must sum to 1 (within 1e-6)")
    elif normalize == "samples":
        w = micro_batch_weights([_leading_size(mb, f"micro_batches[{k}]") for k, mb in enumerate(micro_batches)])
    else:
        w = None

    if w is not None:
        total = 0.0
        for k, mb in enumerate(micro_batches):
            out = loss_fn(model, mb)
            if isinstance(out, tuple):
                out = out[0]
            loss = _check_scalar_loss(out, f"loss_fn(model, micro_batches[{k}])")
            if w[k] != 0.0:
                (loss * w[k]).backward()
            total += w[k] * float(loss.detach())
        return total

    # Token weighting: counts arrive with the losses. Keep the new gradient as a running
    # weighted mean (so it never grows with the number of tokens), then add it to the
    # gradient that was there before the call.
    stash = [p.grad for p in params]
    for p in params:
        p.grad = None
    seen = 0.0
    mean_loss = 0.0
    try:
        for k, mb in enumerate(micro_batches):
            out = loss_fn(model, mb)
            if not (isinstance(out, tuple) and len(out) == 2):
                raise TypeError(
                    f"loss_fn(model, micro_batches[{k}]) must return (mean_loss, n_tokens) "
                    "when normalize='tokens'"
                )
            loss = _check_scalar_loss(out[0], f"loss_fn(model, micro_batches[{k}])[0]")
            c = _check_count(out[1], f"n_tokens of micro_batches[{k}]")
            keep, add = seen / (seen + c), c / (seen + c)
            if seen > 0:
                for p in params:
                    if p.grad is not None:
                        p.grad.mul_(keep)
            (loss * add).backward()
            mean_loss = keep * mean_loss + add * float(loss.detach())
            seen += c
    finally:
        for p, old in zip(params, stash):
            if old is not None:
                if p.grad is None:
                    p.grad = old
                else:
                    p.grad.add_(old)
    return mean_loss


# --------------------------------------------------------------------------- the optimizer wrapper
class GradientAccumulator:
    r"""Wrap an optimizer so that it steps once every ``steps`` micro-batches.

    Usage, one micro-batch per iteration::

        acc = GradientAccumulator(torch.optim.Adam(model.parameters()), steps=8, clip_norm=1.0)
        for x, y in micro_batches:
            acc.backward(F.cross_entropy(model(x), y), len(y))
            acc.step()          # the inner optimizer runs on every 8th call
        acc.flush()             # a last, partial cycle (if any) is applied too

    Between updates ``.grad`` always holds the exact gradient of the mean loss over all
    the samples seen in the current cycle, :math:`\sum_k (b_k/\sum_j b_j)\, g_k`
    (chapter 22, ``c22-eq-ga-split``), whatever the micro-batch sizes; the update therefore
    equals one large-batch step (the update rules ``c22-eq-ga-update``). With ``clip_norm`` the *accumulated* gradient is clipped with
    ``torch.nn.utils.clip_grad_norm_`` just before the step, as the large batch would be.

    Parameters
    ----------
    optimizer
        Any ``torch.optim.Optimizer``; it sees one step per cycle, so its state (momentum,
        Adam's moments and step count) advances once per large batch.
    steps
        Micro-batches per update, an integer >= 1 (1 = no accumulation).
    clip_norm
        If given (finite, > 0), clip the accumulated gradient to this global 2-norm.
    model
        Optional; if it contains a layer that normalises with batch statistics (see
        :func:`batch_coupled_modules`) a ``UserWarning`` says the equivalence is lost.

    Attributes
    ----------
    micro_step : int
        Micro-batches completed (calls of :meth:`step`).
    update_step : int
        Optimizer steps taken.
    last_loss : float or None
        Mean loss over the samples of the last completed cycle.

    Raises
    ------
    TypeError
        If ``optimizer`` is not a ``torch.optim.Optimizer``, ``steps`` is not an integer,
        or ``model`` is not an ``nn.Module``.
    ValueError
        If ``steps < 1`` or ``clip_norm`` is not finite and > 0.
    """

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        steps: int,
        clip_norm: float | None = None,
        model: nn.Module | None = None,
    ) -> None:
        if not isinstance(optimizer, torch.optim.Optimizer):
            raise TypeError(f"optimizer must be a torch.optim.Optimizer, got {type(optimizer).__name__}")
        if isinstance(steps, bool) or not isinstance(steps, int):
            raise TypeError(f"steps={steps!r} ({type(steps).__name__}) must be an integer >= 1")
        if steps < 1:
            raise ValueError(f"steps={steps!r} must be an integer >= 1")
        if clip_norm is not None:
            if isinstance(clip_norm, bool) or not isinstance(clip_norm, (int, float)):
                raise TypeError(f"clip_norm={clip_norm!r} must be a number > 0 or None")
            if not (math.isfinite(clip_norm) and clip_norm > 0):
                raise ValueError(f"clip_norm={clip_norm!r} must be finite and > 0 (or None for no clipping)")
        if model is not None:
            coupled = batch_coupled_modules(model)
            if coupled:
                warnings.warn(
                    f"model has layers that normalise with batch statistics ({', '.join(repr(c) for c in coupled)}): "
                    "they see micro-batches, not the large batch, so accumulation does not reproduce "
                    "the large-batch update (use LayerNorm/GroupNorm, or BatchNorm in eval mode)",
                    UserWarning,
                    stacklevel=2,
                )
        self.optimizer = optimizer
        self.steps = steps
        self.clip_norm = None if clip_norm is None else float(clip_norm)
        self.micro_step = 0
        self.update_step = 0
        self.last_loss: float | None = None
        self.last_grad_norm: float | None = None
        self._in_cycle = 0  # micro-steps completed in the current cycle
        self._seen = 0.0  # samples (tokens) backpropagated in the current cycle
        self._loss: torch.Tensor | None = None  # running weighted mean loss (detached)
        self._pending = False  # backward() called since the last step()

    @property
    def params(self) -> list[torch.Tensor]:
        """The parameters of the wrapped optimizer that require grad."""
        return _trainable(p for g in self.optimizer.param_groups for p in g["params"])

    @property
    def samples_in_cycle(self) -> float:
        """Samples (or tokens) accumulated since the last update."""
        return self._seen

    def backward(self, loss: torch.Tensor, n: float) -> None:
        r"""Back-propagate one micro-batch whose mean loss ``loss`` was taken over ``n`` units.

        Keeps ``.grad`` equal to the size-weighted mean gradient of the cycle so far:
        with :math:`N` units seen before, the old gradient is scaled by :math:`N/(N+n)`
        and ``loss * n/(N+n)`` is back-propagated.

        Parameters
        ----------
        loss
            Scalar mean loss of the micro-batch, connected to the parameters.
        n
            Samples (or tokens) the mean was taken over; finite and > 0.

        Raises
        ------
        TypeError, ValueError
            If ``loss`` is not a scalar tensor requiring grad, or ``n`` is not a number > 0.
        """
        loss = _check_scalar_loss(loss, "loss")
        c = _check_count(n, "n")
        if self._seen == 0.0:
            # A new cycle owns .grad: drop whatever was there.
            self.optimizer.zero_grad(set_to_none=True)
        keep, add = self._seen / (self._seen + c), c / (self._seen + c)
        if self._seen > 0.0:
            for p in self.params:
                if p.grad is not None:
                    p.grad.mul_(keep)
        (loss * add).backward()
        d = loss.detach()
        self._loss = d * add if self._loss is None else self._loss * keep + d * add
        self._seen += c
        self._pending = True

    def step(self) -> bool:
        """End one micro-step; run the optimizer when ``steps`` micro-steps are complete.

        Returns
        -------
        bool
            True if the optimizer stepped (and ``.grad`` was then zeroed).

        Raises
        ------
        RuntimeError
            If :meth:`backward` was not called since the previous ``step``.
        """
        if not self._pending:
            raise RuntimeError("step() called without backward() for this micro-batch")
        self._pending = False
        self.micro_step += 1
        self._in_cycle += 1
        if self._in_cycle == self.steps:
            self._update()
            return True
        return False

    def flush(self) -> bool:
        """Apply a partial cycle (fewer than ``steps`` micro-batches), e.g. at the end of an epoch.

        The update uses the exact mean gradient of the samples accumulated so far.

        Returns
        -------
        bool
            True if there was something to apply.

        Raises
        ------
        RuntimeError
            If :meth:`backward` was called without a following :meth:`step`.
        """
        if self._pending:
            raise RuntimeError("flush() called after backward() without step()")
        if self._in_cycle == 0:
            return False
        self._update()
        return True

    def _update(self) -> None:
        if self.clip_norm is not None:
            self.last_grad_norm = float(torch.nn.utils.clip_grad_norm_(self.params, self.clip_norm))
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.update_step += 1
        self.last_loss = None if self._loss is None else float(self._loss)
        self._loss = None
        self._seen = 0.0
        self._in_cycle = 0

    def state_dict(self) -> dict[str, Any]:
        """Counters and the wrapped optimizer's state (for checkpoints at update boundaries)."""
        return {
            "optimizer": self.optimizer.state_dict(),
            "steps": self.steps,
            "micro_step": self.micro_step,
            "update_step": self.update_step,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`; the current cycle restarts empty.

        Raises
        ------
        ValueError
            If the saved ``steps`` differs from this accumulator's.
        """
        if state.get("steps") != self.steps:
            raise ValueError(f"state has steps={state.get('steps')!r} but this accumulator has steps={self.steps}")
        self.optimizer.load_state_dict(state["optimizer"])
        self.micro_step = int(state["micro_step"])
        self.update_step = int(state["update_step"])
        self._in_cycle, self._seen, self._loss, self._pending = 0, 0.0, None, False

    def __repr__(self) -> str:
        return (
            f"GradientAccumulator({type(self.optimizer).__name__}, steps={self.steps}, "
            f"clip_norm={self.clip_norm}, micro_step={self.micro_step}, update_step={self.update_step})"
        )


# --------------------------------------------------------------------------- memory
def measure_peak_memory(fn: Callable[[], Any], device: torch.device | str | None = None) -> tuple[Any, int]:
    """Run ``fn()`` and return its result and the peak bytes it allocated on ``device``.

    The peak is counted above the memory already allocated when ``fn`` starts, so it is
    what the call itself needs (activations kept for backward, gradients, temporaries).

    * CUDA: ``torch.cuda.max_memory_allocated`` after ``reset_peak_memory_stats``, minus
      the allocation at entry (the caching allocator's block rounding included).
    * CPU: torch has no peak counter for host memory, so the call runs under
      ``torch.profiler.profile(profile_memory=True)`` and the peak is the maximum of the
      running sum of every allocation (+) and free (-) event the CPU allocator reported,
      in time order. Exact for tensor memory (the tests check it on known allocations);
      memory outside torch's allocator is not seen. The profiler costs a few seconds the
      first time it starts in a process; to keep its start/stop lines off stderr the
      function sets ``KINETO_LOG_LEVEL=6`` unless the variable is already set.

    Parameters
    ----------
    fn
        A callable without arguments.
    device
        ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or a ``torch.device``; default: CUDA if
        available, else CPU.

    Returns
    -------
    (object, int)
        ``fn()``'s return value and the peak in bytes.

    Raises
    ------
    TypeError
        If ``fn`` is not callable.
    ValueError
        If ``device`` is neither CPU nor an available CUDA device.
    """
    if not callable(fn):
        raise TypeError("fn must be callable without arguments")
    if device is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(f"device={device!r} is not a torch device") from exc
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device={device!r} but CUDA is not available")
        torch.cuda.synchronize(dev)
        base = torch.cuda.memory_allocated(dev)
        torch.cuda.reset_peak_memory_stats(dev)
        out = fn()
        torch.cuda.synchronize(dev)
        return out, int(torch.cuda.max_memory_allocated(dev) - base)
    if dev.type != "cpu":
        raise ValueError(f"device={device!r}: only 'cpu' and 'cuda[:N]' are supported")
    from torch.profiler import ProfilerActivity, profile

    # Kineto prints start/stop lines on stderr unless its log level is raised before
    # the profiler first starts; respect a level the user has set.
    os.environ.setdefault("KINETO_LOG_LEVEL", "6")
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        out = fn()
    events = [
        (e.start_ns(), e.nbytes())
        for e in prof.profiler.kineto_results.events()
        if e.name() == "[memory]" and e.device_type() == torch.autograd.DeviceType.CPU
    ]
    events.sort(key=lambda t: t[0])  # stable: simultaneous events keep the reported order
    level = peak = 0
    for _, nbytes in events:
        level += nbytes
        peak = max(peak, level)
    return out, int(peak)
