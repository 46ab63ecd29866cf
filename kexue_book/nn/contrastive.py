r"""In-batch contrastive losses (InfoNCE) and their exact gradient accumulation.

For embeddings :math:`h_1,\dots,h_b` of one batch, similarities
:math:`s_{ij}=\langle h_i,h_j\rangle/\tau` (the diagonal masked out), row-softmax
:math:`p_{ij}=e^{s_{ij}}/\sum_k e^{s_{ik}}` and a target matrix :math:`t` with one 1 per
row (the positive of each sample), the InfoNCE loss is

.. math::

   \mathcal L = -\sum_{i,j} t_{ij}\log p_{ij}
              = \sum_i \Big(\log\sum_j e^{s_{ij}} - s_{i,\mathrm{pos}(i)}\Big).

Every sample's term depends on the whole batch through the softmax denominator, so the
loss of a large batch is *not* the sum of the losses of its chunks, and ordinary gradient
accumulation computes a different gradient (with fewer negatives). The gradient, however,
is :math:`\nabla\mathcal L = \sum_{ij}(p_{ij}-t_{ij})\nabla s_{ij}`; with :math:`C = P - T`
held constant and :math:`s` an inner product this equals
:math:`\nabla\sum_i\langle h_i,\tilde h_i\rangle` with *label vectors*

.. math::

   \tilde h_i = \frac{1}{\tau}\sum_j \big(C_{ij}+C_{ji}\big)\, h_j ,

which one gradient-free forward pass over the whole batch provides. The surrogate
:math:`\sum_i\langle h_i,\tilde h_i\rangle` *is* a sum over samples, so it can be
back-propagated chunk by chunk (chapter 25; the same two-pass scheme as GradCache).
Symmetry of :math:`t` is not needed in this form; when :math:`t` is symmetric it reduces to
the post's :math:`\tilde h_i = \tfrac{2}{\tau}\sum_j(\bar p_{ij}-t_{ij})h_j` with
:math:`2\bar p_{ij}=p_{ij}+p_{ji}`.

PyTorch has ``F.cross_entropy`` (the loss on the full similarity matrix), and
``torch.utils.checkpoint`` / ``torch.random.fork_rng`` for recomputation with the same
random state; it has no two-pass contrastive accumulation. This module adds it, with the
random state of every chunk replayed so that dropout (e.g. SimCSE) keeps the gradient exact,
and the asymmetric two-tower version.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn

from kexue_book.optim.accumulation import batch_coupled_modules

__all__ = [
    "contrastive_label_vectors",
    "infonce_loss",
    "infonce_logits",
    "simcse_targets",
    "two_pass_contrastive_backward",
    "two_tower_label_vectors",
]

_REDUCTIONS = ("sum", "mean")


# --------------------------------------------------------------------------- validation
def _check_tau(tau: Any) -> float:
    if isinstance(tau, bool) or not isinstance(tau, (int, float)):
        raise TypeError(f"tau={tau!r} must be a number > 0")
    if not (math.isfinite(tau) and tau > 0):
        raise ValueError(f"tau={tau!r}: the temperature must be finite and > 0")
    return float(tau)


def _check_embeddings(h: Any, name: str = "h", min_rows: int = 2) -> torch.Tensor:
    if not isinstance(h, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(h).__name__}")
    if h.dim() != 2:
        raise ValueError(f"{name} must have shape (batch, dim), got {tuple(h.shape)}")
    if not h.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got {h.dtype}")
    if h.shape[0] < min_rows:
        raise ValueError(f"{name} has {h.shape[0]} rows; a contrastive batch needs at least {min_rows}")
    return h


def _check_reduction(reduction: str) -> str:
    if reduction not in _REDUCTIONS:
        raise ValueError(f"reduction={reduction!r}: expected one of {list(_REDUCTIONS)}")
    return reduction


def simcse_targets(batch_size: int, device: torch.device | str | None = None) -> torch.Tensor:
    """Positive indices of SimCSE/SimCLR pairing: rows ``2i`` and ``2i+1`` are each other's positive.

    Parameters
    ----------
    batch_size
        An even integer >= 2.
    device
        Device of the returned tensor.

    Returns
    -------
    torch.Tensor
        ``int64`` tensor ``[1, 0, 3, 2, ...]`` of length ``batch_size``.

    Raises
    ------
    ValueError
        If ``batch_size`` is not an even integer >= 2.
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 2 or batch_size % 2:
        raise ValueError(f"batch_size={batch_size!r}: SimCSE pairing needs an even integer >= 2")
    return torch.arange(batch_size, device=device) ^ 1


def _target_indices(t: Any, b: int, device: torch.device, mask_diagonal: bool, name: str = "t") -> torch.Tensor:
    """Validate ``t`` (None, index vector or one-hot matrix) and return positive indices."""
    if t is None:
        if b % 2:
            raise ValueError(f"batch size {b} is odd: the default SimCSE pairing (2i <-> 2i+1) needs an even batch")
        return simcse_targets(b, device)
    if not isinstance(t, torch.Tensor):
        raise TypeError(f"{name} must be None, an index tensor of shape ({b},) or a one-hot matrix ({b}, {b})")
    if t.dim() == 1:
        if t.is_floating_point() or t.dtype == torch.bool or t.is_complex():
            raise TypeError(f"{name} as a vector must hold integer indices, got {t.dtype}")
        if t.shape[0] != b:
            raise ValueError(f"{name} has {t.shape[0]} entries but the batch has {b} rows")
        idx = t.to(device=device, dtype=torch.long)
        if idx.numel() and (idx.min() < 0 or idx.max() >= b):
            raise ValueError(f"{name} holds indices outside [0, {b - 1}]")
    elif t.dim() == 2:
        if tuple(t.shape) != (b, b):
            raise ValueError(f"{name} must be a square ({b}, {b}) matrix, got {tuple(t.shape)}")
        tf = t.to(device=device, dtype=torch.float64)
        if not bool(((tf == 0) | (tf == 1)).all()) or not bool((tf.sum(1) == 1).all()):
            raise ValueError(f"{name} must be one-hot per row (entries 0/1, exactly one 1 in each row)")
        idx = tf.argmax(1)
    else:
        raise ValueError(f"{name} must be a vector ({b},) or a matrix ({b}, {b}), got shape {tuple(t.shape)}")
    if mask_diagonal and bool((idx == torch.arange(b, device=device)).any()):
        raise ValueError(f"{name} makes a sample its own positive, but the diagonal is masked (mask_diagonal=True)")
    return idx


def infonce_logits(h: torch.Tensor, tau: float = 0.05, mask_diagonal: bool = True) -> torch.Tensor:
    r"""Similarity logits :math:`s_{ij}=\langle h_i,h_j\rangle/\tau`, diagonal set to :math:`-\infty`.

    Parameters
    ----------
    h
        Embeddings, shape ``(batch, dim)``.
    tau
        Temperature, finite and > 0.
    mask_diagonal
        Exclude each sample from its own softmax (the usual in-batch setting).

    Raises
    ------
    ValueError, TypeError
        On a bad ``h`` or ``tau``.
    """
    h = _check_embeddings(h)
    tau = _check_tau(tau)
    s = h @ h.T / tau
    if mask_diagonal:
        eye = torch.eye(h.shape[0], dtype=torch.bool, device=h.device)
        s = s.masked_fill(eye, float("-inf"))
    return s


def infonce_loss(
    h: torch.Tensor,
    t: torch.Tensor | None = None,
    tau: float = 0.05,
    mask_diagonal: bool = True,
    reduction: str = "sum",
) -> torch.Tensor:
    r"""In-batch InfoNCE loss (chapter 25, ``c25-eq-cg-loss``).

    .. math::

       \mathcal L = \sum_i \Big(\operatorname{logsumexp}_j s_{ij} - s_{i,\mathrm{pos}(i)}\Big),
       \qquad s_{ij} = \langle h_i, h_j\rangle/\tau ,

    computed with a stable ``logsumexp``; equal to
    ``F.cross_entropy(s, positives, reduction=reduction)``.

    Parameters
    ----------
    h
        Embeddings, shape ``(batch, dim)`` (normalise them first for cosine similarity).
    t
        Positives: ``None`` for SimCSE pairing (``2i <-> 2i+1``, even batch), an integer
        vector of positive indices, or a ``(batch, batch)`` 0/1 matrix with one 1 per row.
    tau
        Temperature, finite and > 0.
    mask_diagonal
        Remove :math:`j=i` from each softmax.
    reduction
        ``"sum"`` (the post's convention) or ``"mean"`` over the batch.

    Returns
    -------
    torch.Tensor
        Scalar loss.

    Raises
    ------
    ValueError
        If ``t`` is not one-hot per row, not square, has out-of-range indices, points a
        sample to itself while the diagonal is masked, or the default pairing meets an odd
        batch; if ``tau <= 0``; if ``reduction`` is unknown.
    TypeError
        If ``h`` or ``t`` has the wrong type.
    """
    _check_reduction(reduction)
    s = infonce_logits(h, tau, mask_diagonal)
    idx = _target_indices(t, h.shape[0], h.device, mask_diagonal)
    per_sample = torch.logsumexp(s, dim=1) - s.gather(1, idx[:, None]).squeeze(1)
    return per_sample.sum() if reduction == "sum" else per_sample.mean()


@torch.no_grad()
def contrastive_label_vectors(
    h: torch.Tensor,
    t: torch.Tensor | None = None,
    tau: float = 0.05,
    mask_diagonal: bool = True,
    reduction: str = "sum",
) -> torch.Tensor:
    r"""Label vectors :math:`\tilde h` with :math:`\nabla\mathcal L=\nabla\sum_i\langle h_i,\tilde h_i\rangle`.

    Chapter 25, ``c25-eq-cg-surrogate`` and ``c25-eq-cg-label``, in the form that needs no symmetry of ``t``:

    .. math::

       \tilde h = \frac{1}{\tau}\,(C + C^\top)\, h,\qquad C = P - T ,

    with :math:`P` the row-softmax of the (masked) logits and :math:`T` the one-hot target
    matrix; both are treated as constants (computed without gradient). For ``reduction="mean"``
    the result is divided by the batch size.

    Parameters
    ----------
    h
        Embeddings of the *whole* batch, shape ``(batch, dim)``.
    t, tau, mask_diagonal, reduction
        As in :func:`infonce_loss`.

    Returns
    -------
    torch.Tensor
        :math:`\tilde h`, same shape and dtype as ``h``, without gradient.

    Raises
    ------
    ValueError, TypeError
        As :func:`infonce_loss`.
    """
    _check_reduction(reduction)
    h = h.detach()
    s = infonce_logits(h, tau, mask_diagonal)
    b = h.shape[0]
    idx = _target_indices(t, b, h.device, mask_diagonal)
    c = torch.softmax(s, dim=1)
    c[torch.arange(b, device=h.device), idx] -= 1.0
    out = (c + c.T) @ h / float(tau)
    return out / b if reduction == "mean" else out


@torch.no_grad()
def two_tower_label_vectors(
    q: torch.Tensor,
    d: torch.Tensor,
    t: torch.Tensor | None = None,
    tau: float = 0.05,
    reduction: str = "sum",
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Label vectors for an asymmetric two-tower InfoNCE (claim E8 of chapter 25).

    For queries :math:`q_i`, documents :math:`d_j`, :math:`s_{ij}=\langle q_i,d_j\rangle/\tau`,
    row-softmax :math:`p_{ij}` over the documents and :math:`C = P - T`,

    .. math::

       \tilde q_i = \frac1\tau\sum_j C_{ij}\, d_j,\qquad
       \tilde d_j = \frac1\tau\sum_i C_{ij}\, q_i ,

    so that :math:`\nabla\mathcal L = \nabla\big(\sum_i\langle q_i,\tilde q_i\rangle
    + \sum_j\langle d_j,\tilde d_j\rangle\big)` with
    :math:`\mathcal L=\sum_i(\operatorname{logsumexp}_j s_{ij}-s_{i,\mathrm{pos}(i)})`,
    i.e. ``F.cross_entropy(q @ d.T / tau, positives, reduction="sum")``.

    Parameters
    ----------
    q, d
        Query and document embeddings, shapes ``(batch, dim)`` and ``(n_docs, dim)``.
    t
        Positive document of each query: ``None`` for ``i <-> i`` (needs
        ``n_docs == batch``), an index vector, or a one-hot ``(batch, n_docs)`` matrix.
    tau
        Temperature, finite and > 0.
    reduction
        ``"sum"`` or ``"mean"`` over the queries.

    Returns
    -------
    (torch.Tensor, torch.Tensor)
        :math:`\tilde q` and :math:`\tilde d`, without gradient.

    Raises
    ------
    ValueError, TypeError
        On bad shapes, targets, ``tau`` or ``reduction``.
    """
    _check_reduction(reduction)
    q = _check_embeddings(q, "q", 1).detach()
    d = _check_embeddings(d, "d", 1).detach()
    if q.shape[1] != d.shape[1]:
        raise ValueError(f"q and d must have the same embedding size, got {q.shape[1]} and {d.shape[1]}")
    tau = _check_tau(tau)
    b, m = q.shape[0], d.shape[0]
    if t is None:
        if m != b:
            raise ValueError(f"t=None pairs query i with document i, but there are {b} queries and {m} documents")
        idx = torch.arange(b, device=q.device)
    elif isinstance(t, torch.Tensor) and t.dim() == 1:
        if t.is_floating_point() or t.dtype == torch.bool or t.is_complex():
            raise TypeError(f"t as a vector must hold integer indices, got {t.dtype}")
        if t.shape[0] != b:
            raise ValueError(f"t has {t.shape[0]} entries but there are {b} queries")
        idx = t.to(device=q.device, dtype=torch.long)
        if idx.min() < 0 or idx.max() >= m:
            raise ValueError(f"t holds document indices outside [0, {m - 1}]")
    elif isinstance(t, torch.Tensor) and t.dim() == 2:
        if tuple(t.shape) != (b, m):
            raise ValueError(f"t must have shape ({b}, {m}), got {tuple(t.shape)}")
        tf = t.to(device=q.device, dtype=torch.float64)
        if not bool(((tf == 0) | (tf == 1)).all()) or not bool((tf.sum(1) == 1).all()):
            raise ValueError("t must be one-hot per row (entries 0/1, exactly one 1 in each row)")
        idx = tf.argmax(1)
    else:
        raise TypeError("t must be None, an index vector or a one-hot matrix tensor")
    c = torch.softmax(q @ d.T / tau, dim=1)
    c[torch.arange(b, device=q.device), idx] -= 1.0
    q_tilde, d_tilde = c @ d / tau, c.T @ q / tau
    if reduction == "mean":
        q_tilde, d_tilde = q_tilde / b, d_tilde / b
    return q_tilde, d_tilde


# --------------------------------------------------------------------------- two-pass accumulation
def _as_tuple(inputs: Any) -> tuple[torch.Tensor, ...]:
    if isinstance(inputs, torch.Tensor):
        return (inputs,)
    if isinstance(inputs, (tuple, list)) and inputs and all(isinstance(x, torch.Tensor) for x in inputs):
        return tuple(inputs)
    raise TypeError("inputs must be a tensor or a non-empty tuple/list of tensors sharing the batch dimension")


def _rng_devices(encoder: nn.Module, inputs: Sequence[torch.Tensor]) -> list[int]:
    devs = {x.device.index for x in inputs if x.device.type == "cuda"}
    devs |= {p.device.index for p in encoder.parameters() if p.device.type == "cuda"}
    if devs and torch.cuda.is_available():
        return sorted(torch.cuda.current_device() if i is None else i for i in devs)
    return []


def _get_rng(devices: list[int]) -> tuple[torch.Tensor, list[torch.Tensor]]:
    return torch.get_rng_state(), [torch.cuda.get_rng_state(d) for d in devices]


def _set_rng(state: tuple[torch.Tensor, list[torch.Tensor]], devices: list[int]) -> None:
    torch.set_rng_state(state[0])
    for d, s in zip(devices, state[1]):
        torch.cuda.set_rng_state(s, d)


def two_pass_contrastive_backward(
    encoder: nn.Module | Callable[..., torch.Tensor],
    inputs: torch.Tensor | Sequence[torch.Tensor],
    chunk_size: int,
    t: torch.Tensor | None = None,
    tau: float = 0.05,
    mask_diagonal: bool = True,
    reduction: str = "sum",
    replay_rng: bool = True,
    allow_ragged: bool = False,
) -> float:
    r"""Add the exact large-batch InfoNCE gradient to ``.grad``, holding one chunk's graph at a time.

    The two-pass procedure of chapter 25 (section "The gradient does split", built on
    ``c25-eq-cg-label``), as in GradCache:

    1. *Pass 1* (no graph): encode the batch chunk by chunk, recording the random-number
       state before each chunk, and keep only the embeddings :math:`h`.
    2. Compute the true loss and the label vectors
       :math:`\tilde h = (C+C^\top)h/\tau` (:func:`contrastive_label_vectors`).
    3. *Pass 2*: for each chunk, restore its random state (so dropout draws the same masks
       as in pass 1), encode it again with a graph and back-propagate
       :math:`\sum_{i\in\text{chunk}}\langle h_i,\tilde h_i\rangle`.

    The gradients added equal those of ``infonce_loss(encoder(inputs), ...)`` on the whole
    batch evaluated with pass 1's random draws, to round-off; peak memory holds one chunk's
    activations instead of the batch's. Cost: one extra forward pass per sample. With
    ``replay_rng=True`` the random state after the call is the one left by pass 1 (pass 2
    runs under ``torch.random.fork_rng``); without replay, pass 2 advances it further. Like
    ``backward()`` it adds to existing ``.grad``.

    Parameters
    ----------
    encoder
        Module (or callable) mapping a chunk of ``inputs`` to embeddings ``(chunk, dim)``;
        apply any normalisation inside it.
    inputs
        A tensor, or a tuple/list of tensors, whose first dimension is the batch.
    chunk_size
        Samples per chunk, an integer >= 1. The chunking is the same in both passes; any
        chunking gives the same gradient.
    t, tau, mask_diagonal, reduction
        As in :func:`infonce_loss`.
    replay_rng
        Restore each chunk's random state in pass 2 (CPU and every CUDA device used).
        ``False`` reproduces the naive recomputation, exact only without randomness.
    allow_ragged
        Accept a batch that ``chunk_size`` does not divide (the last chunk is shorter).

    Returns
    -------
    float
        The large-batch loss :math:`\mathcal L` from pass 1.

    Raises
    ------
    ValueError
        If ``chunk_size`` is not an integer >= 1, the batch is not divisible by it and
        ``allow_ragged`` is False, the inputs disagree on the batch size, the encoder has a
        layer that normalises with batch statistics (BatchNorm in training mode: its output
        would depend on the chunking and its running statistics would be updated twice), or
        the encoder's output is not ``(chunk, dim)``; and as :func:`infonce_loss`.
    TypeError
        If ``inputs`` is not a tensor or a sequence of tensors, or ``encoder`` not callable.
    """
    if not callable(encoder):
        raise TypeError("encoder must be a callable (an nn.Module) mapping inputs to embeddings")
    xs = _as_tuple(inputs)
    b = int(xs[0].shape[0]) if xs[0].dim() > 0 else 0
    if any(x.dim() == 0 or x.shape[0] != b for x in xs):
        raise ValueError("all tensors in inputs must share the first (batch) dimension")
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1:
        raise ValueError(f"chunk_size={chunk_size!r} must be an integer >= 1")
    if b % chunk_size and not allow_ragged:
        raise ValueError(
            f"batch of {b} is not divisible by chunk_size={chunk_size}; pass allow_ragged=True to accept "
            "a shorter last chunk"
        )
    _check_reduction(reduction)
    _check_tau(tau)
    if isinstance(encoder, nn.Module):
        coupled = batch_coupled_modules(encoder)
        if coupled:
            raise ValueError(
                f"encoder has layers that normalise with batch statistics ({coupled}): each chunk would be "
                "normalised with its own statistics (so the gradient depends on the chunking) and the running "
                "statistics would be updated in both passes; use eval mode, LayerNorm, or a chunk-aware BN"
            )
        devices = _rng_devices(encoder, xs)
    else:
        devices = _rng_devices(nn.Module(), xs)
    starts = list(range(0, b, chunk_size))
    chunks = [tuple(x[s:s + chunk_size] for x in xs) for s in starts]

    # Pass 1: embeddings without graph, random state recorded before each chunk.
    states, hs = [], []
    with torch.no_grad():
        for ch in chunks:
            states.append(_get_rng(devices))
            h = encoder(*ch)
            if not isinstance(h, torch.Tensor) or h.dim() != 2 or h.shape[0] != ch[0].shape[0]:
                raise ValueError("encoder must return embeddings of shape (chunk, dim)")
            hs.append(h)
    h_all = torch.cat(hs)
    loss = infonce_loss(h_all, t, tau, mask_diagonal, reduction)
    h_tilde = contrastive_label_vectors(h_all, t, tau, mask_diagonal, reduction)
    del hs, h_all

    # Pass 2: each chunk again, with graph, under its recorded random state.
    for s, ch, state in zip(starts, chunks, states):
        target = h_tilde[s:s + ch[0].shape[0]]
        if replay_rng:
            with torch.random.fork_rng(devices=devices):
                _set_rng(state, devices)
                h = encoder(*ch)
                (h * target).sum().backward()
        else:
            h = encoder(*ch)
            (h * target).sum().backward()
    return float(loss)
