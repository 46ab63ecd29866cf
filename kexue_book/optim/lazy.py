r"""Lazy optimizers for embedding tables: update only the rows that were sampled.

With any momentum method, an embedding row whose token is absent from the batch has zero
gradient but non-zero momentum, so it keeps moving (chapter 23, ``c23-eq-lal-drift``).
Lazy updates stop that. Two rules are implemented (chapter 23, section "Lazy updates for
embeddings"):

``mode="sparse"``
    Standard lazy Adam, as TensorFlow's ``LazyAdamOptimizer`` and
    :class:`torch.optim.SparseAdam`: the moments :math:`m, v` *and* the parameter change
    only on sampled rows; with :math:`t` the tensor's step count (chapter 23,
    ``c23-eq-lal-sparse-adam``),

    .. math::

       \theta_r \leftarrow \theta_r - \eta\,\frac{\sqrt{1-\beta_2^t}}{1-\beta_1^t}\,
       \frac{m_r}{\sqrt{v_r}+\epsilon}\quad\text{for sampled } r.

    It matches :class:`torch.optim.SparseAdam` (same :math:`\epsilon` placement), but also
    accepts *dense* gradients and explicit row indices, and treats the other parameters
    with ordinary Adam in the same optimizer.
``mode="author"``
    Su Jianlin's rule: :math:`m, v` are updated (so decay) on *every* row, and only the
    parameter step is masked by the per-row flag :math:`f_r`.

PyTorch provides :class:`torch.optim.SparseAdam` for ``nn.Embedding(sparse=True)`` (sparse
gradients only, no weight decay, dense parameters need a second optimizer). This module adds
the author's slot-decaying variant, exact index masks (:meth:`LazyAdam.set_active_rows`),
dense-gradient support, one optimizer for a whole model, and :class:`LazyOptimizer`, which
applies the author's rule around *any* inner optimizer.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch.optim import Optimizer

__all__ = ["LazyAdam", "LazyOptimizer", "sampled_rows_from_grad"]

_MODES = ("author", "sparse")
_ROW_MASKS = ("grad", "indices")


def sampled_rows_from_grad(grad: torch.Tensor) -> torch.Tensor:
    r"""The author's flag :math:`f_r=\prod_j \mathbb 1[g_{r,j}\neq 0]`: rows with no zero entry.

    Parameters
    ----------
    grad
        The gradient of an embedding table, 2-D, dense or sparse COO (duplicate indices of
        a sparse gradient are summed first).

    Returns
    -------
    torch.Tensor
        Boolean tensor of shape ``(grad.shape[0],)``, on ``grad``'s device.

    Raises
    ------
    TypeError
        If ``grad`` is not a tensor.
    ValueError
        If ``grad`` is not 2-D.
    """
    if not isinstance(grad, torch.Tensor):
        raise TypeError(f"grad must be a torch.Tensor, got {type(grad).__name__}")
    if grad.dim() != 2:
        raise ValueError(f"grad must be 2-D (rows x dim), got shape {tuple(grad.shape)}")
    if grad.is_sparse:
        g = grad.coalesce()
        mask = torch.zeros(grad.shape[0], dtype=torch.bool, device=grad.device)
        mask[g.indices()[0]] = (g.values() != 0).all(dim=1)
        return mask
    return (grad != 0).all(dim=1)


def _check_params_list(params: Iterable[torch.Tensor] | None, name: str) -> list[torch.Tensor]:
    if params is None:
        return []
    if isinstance(params, torch.Tensor):
        params = [params]
    out = list(params)
    for p in out:
        if not isinstance(p, torch.Tensor):
            raise TypeError(f"{name} must contain tensors, got {type(p).__name__}")
        if p.dim() != 2:
            raise ValueError(f"{name}: lazy parameters must be 2-D (rows x dim), got shape {tuple(p.shape)}")
    return out


def _check_indices(param: torch.Tensor, idx: Any) -> torch.Tensor:
    if not isinstance(idx, torch.Tensor):
        idx = torch.as_tensor(idx)
    if idx.dtype == torch.bool:
        if idx.shape != (param.shape[0],):
            raise ValueError(f"a boolean row mask must have shape ({param.shape[0]},), got {tuple(idx.shape)}")
        return idx.to(param.device)
    if idx.dtype not in (torch.int8, torch.int16, torch.int32, torch.int64, torch.uint8):
        raise TypeError(f"indices must be integer or boolean, got {idx.dtype}")
    idx = idx.reshape(-1).to(device=param.device, dtype=torch.long)
    if idx.numel() and (int(idx.min()) < 0 or int(idx.max()) >= param.shape[0]):
        raise ValueError(f"indices must lie in [0, {param.shape[0]}), got range "
                         f"[{int(idx.min())}, {int(idx.max())}]")
    mask = torch.zeros(param.shape[0], dtype=torch.bool, device=param.device)
    mask[idx] = True
    return mask


class LazyAdam(Optimizer):
    r"""Adam with lazy (row-masked) updates for embedding tables (claim E5 of chapter 23).

    Parameters
    ----------
    params
        All parameters to optimise (iterable of tensors or of parameter-group dicts).
    lr
        Learning rate :math:`\eta > 0`.
    betas
        :math:`(\beta_1, \beta_2)`, each in [0, 1).
    eps
        :math:`\epsilon > 0`, added to :math:`\sqrt{v}` before bias correction on lazy
        parameters (as :class:`torch.optim.SparseAdam` and Keras' Adam do), to
        :math:`\sqrt{\hat v}` on the others (as :class:`torch.optim.Adam` does).
    lazy_params
        The 2-D tables (rows x dim) to treat lazily; they must also be in ``params``.
        Every other parameter gets exactly :class:`torch.optim.Adam` (``amsgrad=False``,
        no weight decay).
    mode
        ``"sparse"`` (standard lazy Adam: moments and parameters change only on sampled
        rows) or ``"author"`` (moments of every row are updated, only the parameter step
        is masked).
    row_mask
        ``"grad"``: a row counts as sampled when its gradient has no zero entry (dense
        gradients; for sparse gradients, the rows present in it). ``"indices"``: the
        sampled rows are given before each step with :meth:`set_active_rows`.

    Raises
    ------
    ValueError
        For ``lr <= 0``, ``eps <= 0``, a beta outside [0, 1), an unknown ``mode`` or
        ``row_mask``, a lazy parameter that is not 2-D or not in ``params``; at
        :meth:`step`, for ``row_mask="indices"`` without indices for a lazy parameter
        that has a gradient.
    TypeError
        For a sparse gradient on a non-lazy parameter.
    """

    def __init__(self, params: Iterable[Any], lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 lazy_params: Iterable[torch.Tensor] | None = None, mode: str = "sparse",
                 row_mask: str = "grad") -> None:
        if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not (math.isfinite(lr) and lr > 0):
            raise ValueError(f"lr={lr!r} must be a finite number > 0")
        if isinstance(eps, bool) or not isinstance(eps, (int, float)) or not (math.isfinite(eps) and eps > 0):
            raise ValueError(f"eps={eps!r} must be a finite number > 0")
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise ValueError(f"betas={betas!r} must be a pair (beta1, beta2)")
        for i, b in enumerate(betas):
            if isinstance(b, bool) or not isinstance(b, (int, float)) or not 0.0 <= b < 1.0:
                raise ValueError(f"betas[{i}]={b!r} must lie in [0, 1)")
        if mode not in _MODES:
            raise ValueError(f"mode={mode!r} must be one of {list(_MODES)}")
        if row_mask not in _ROW_MASKS:
            raise ValueError(f"row_mask={row_mask!r} must be one of {list(_ROW_MASKS)}")
        super().__init__(params, {"lr": float(lr), "betas": tuple(map(float, betas)), "eps": float(eps)})
        lazy = _check_params_list(lazy_params, "lazy_params")
        all_ids = {id(p) for g in self.param_groups for p in g["params"]}
        for p in lazy:
            if id(p) not in all_ids:
                raise ValueError("lazy_params: every lazy parameter must also be in params")
        self._lazy_ids = {id(p) for p in lazy}
        self.mode = mode
        self.row_mask = row_mask
        self._active: dict[int, torch.Tensor] = {}

    def is_lazy(self, param: torch.Tensor) -> bool:
        """Whether ``param`` is treated lazily."""
        return id(param) in self._lazy_ids

    def set_active_rows(self, param: torch.Tensor, indices: Any) -> None:
        """Give the sampled rows of a lazy parameter for the next :meth:`step` (``row_mask="indices"``).

        Parameters
        ----------
        param
            A lazy parameter of this optimizer.
        indices
            Integer row indices (any shape, repeats allowed; e.g. the batch's token ids) or a
            boolean mask of shape ``(rows,)``.

        Raises
        ------
        ValueError
            If ``param`` is not lazy here, or an index is out of range.
        TypeError
            If ``indices`` is neither integer nor boolean.
        """
        if not self.is_lazy(param):
            raise ValueError("param is not one of this optimizer's lazy_params")
        self._active[id(param)] = _check_indices(param, indices)

    # ------------------------------------------------------------------ updates
    def _rows(self, p: torch.Tensor, grad: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Sampled row indices and, for sparse gradients, their summed gradient rows."""
        if self.row_mask == "indices":
            mask = self._active.pop(id(p), None)
            if mask is None:
                raise ValueError("row_mask='indices': call set_active_rows(param, indices) before step()")
            idx = mask.nonzero().squeeze(1)
            if grad.is_sparse:
                return idx, grad.to_dense().index_select(0, idx)
            return idx, None
        if grad.is_sparse:
            g = grad.coalesce()
            return g.indices()[0], g.values()
        return (grad != 0).all(dim=1).nonzero().squeeze(1), None

    @torch.no_grad()
    def step(self, closure: Callable[[], Any] | None = None) -> Any:  # type: ignore[override]
        """Take one step; ``closure`` (optional) re-evaluates the model and returns the loss."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            lr, (b1, b2), eps = group["lr"], group["betas"], group["eps"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                grad = p.grad
                st = self.state[p]
                if not st:
                    st["step"] = 0
                    st["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                    st["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                st["step"] += 1
                t = st["step"]
                m, v = st["exp_avg"], st["exp_avg_sq"]
                if not self.is_lazy(p):
                    if grad.is_sparse:
                        raise TypeError("a non-lazy parameter got a sparse gradient; list it in lazy_params")
                    # exactly torch.optim.Adam (single-tensor path)
                    m.lerp_(grad, 1 - b1)
                    v.mul_(b2).addcmul_(grad, grad, value=1 - b2)
                    denom = (v.sqrt() / math.sqrt(1 - b2**t)).add_(eps)
                    p.addcdiv_(m, denom, value=-lr / (1 - b1**t))
                    continue
                step_size = lr * math.sqrt(1 - b2**t) / (1 - b1**t)
                idx, gvals = self._rows(p, grad)
                if self.mode == "sparse":
                    if idx.numel() == 0:
                        continue
                    g = grad.index_select(0, idx) if gvals is None else gvals
                    # same operation order as torch.optim.SparseAdam
                    m_old, v_old = m.index_select(0, idx), v.index_select(0, idx)
                    m_new = (g - m_old).mul_(1 - b1).add_(m_old)
                    v_new = (g * g - v_old).mul_(1 - b2).add_(v_old)
                    m.index_copy_(0, idx, m_new)
                    v.index_copy_(0, idx, v_new)
                    p.index_add_(0, idx, m_new.div_(v_new.sqrt_().add_(eps)).mul_(-step_size))
                else:  # author: every row's moments move, the step is masked
                    gd = grad.to_dense() if grad.is_sparse else grad
                    m.lerp_(gd, 1 - b1)
                    v.mul_(b2).addcmul_(gd, gd, value=1 - b2)
                    if idx.numel() == 0:
                        continue
                    upd = m.index_select(0, idx).div_(v.index_select(0, idx).sqrt_().add_(eps))
                    p.index_add_(0, idx, upd, alpha=-step_size)
        return loss


class LazyOptimizer(Optimizer):
    r"""The author's lazy rule around any optimizer: its slots update, unsampled rows do not move.

    After the inner optimizer's step, the rows of each lazy table whose flag
    :math:`f_r` (:func:`sampled_rows_from_grad`, or indices from :meth:`set_active_rows`)
    is 0 are put back to their values before the step. The inner optimizer's state (momenta,
    Adam moments) is updated on all rows, as in the post's Keras wrapper. This costs a copy
    of each lazy table per step; :class:`LazyAdam` does the Adam case without it.

    Parameters
    ----------
    optimizer
        The inner :class:`torch.optim.Optimizer`; its ``param_groups`` are shared.
    lazy_params
        2-D tables (rows x dim) among the inner optimizer's parameters.
    row_mask
        ``"grad"`` or ``"indices"``, as in :class:`LazyAdam`.

    Raises
    ------
    TypeError
        If ``optimizer`` is not an optimizer.
    ValueError
        For an unknown ``row_mask``, or lazy parameters that are not 2-D or not optimised by
        ``optimizer``.
    """

    def __init__(self, optimizer: Optimizer, lazy_params: Iterable[torch.Tensor],
                 row_mask: str = "grad") -> None:
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"optimizer must be a torch.optim.Optimizer, got {type(optimizer).__name__}")
        if row_mask not in _ROW_MASKS:
            raise ValueError(f"row_mask={row_mask!r} must be one of {list(_ROW_MASKS)}")
        lazy = _check_params_list(lazy_params, "lazy_params")
        if not lazy:
            raise ValueError("lazy_params must name at least one 2-D table")
        all_ids = {id(p) for g in optimizer.param_groups for p in g["params"]}
        if any(id(p) not in all_ids for p in lazy):
            raise ValueError("lazy_params: every lazy parameter must be optimised by optimizer")
        self.optimizer = optimizer
        self.lazy_params = lazy
        self.row_mask = row_mask
        self._active: dict[int, torch.Tensor] = {}
        # no super().__init__: this wrapper only borrows the inner groups and state
        self.defaults = optimizer.defaults
        self.param_groups = optimizer.param_groups
        self.state = optimizer.state
        self._optimizer_step_pre_hooks = optimizer._optimizer_step_pre_hooks
        self._optimizer_step_post_hooks = optimizer._optimizer_step_post_hooks
        self._optimizer_state_dict_pre_hooks = optimizer._optimizer_state_dict_pre_hooks
        self._optimizer_state_dict_post_hooks = optimizer._optimizer_state_dict_post_hooks
        self._optimizer_load_state_dict_pre_hooks = optimizer._optimizer_load_state_dict_pre_hooks
        self._optimizer_load_state_dict_post_hooks = optimizer._optimizer_load_state_dict_post_hooks
        self._zero_grad_profile_name = "Optimizer.zero_grad#LazyOptimizer.zero_grad"

    def set_active_rows(self, param: torch.Tensor, indices: Any) -> None:
        """Give the sampled rows of a lazy table for the next step (``row_mask="indices"``)."""
        if all(param is not p for p in self.lazy_params):
            raise ValueError("param is not one of this optimizer's lazy_params")
        self._active[id(param)] = _check_indices(param, indices)

    @torch.no_grad()
    def step(self, closure: Callable[[], Any] | None = None) -> Any:  # type: ignore[override]
        """Inner step, then the unsampled rows of each lazy table are restored."""
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        else:
            loss = None
        saved = []
        for p in self.lazy_params:
            if p.grad is None:
                continue
            if self.row_mask == "indices":
                mask = self._active.pop(id(p), None)
                if mask is None:
                    raise ValueError("row_mask='indices': call set_active_rows(param, indices) before step()")
            else:
                mask = sampled_rows_from_grad(p.grad)
            keep = (~mask).nonzero().squeeze(1)
            saved.append((p, keep, p.index_select(0, keep)))
        self.optimizer.step()
        for p, keep, rows in saved:
            p.index_copy_(0, keep, rows)
        return loss

    def state_dict(self) -> dict[str, Any]:  # type: ignore[override]
        """The inner optimizer's state dict."""
        return self.optimizer.state_dict()

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:  # type: ignore[override]
        """Load into the inner optimizer and re-share its groups and state."""
        self.optimizer.load_state_dict(state_dict)
        self.param_groups = self.optimizer.param_groups
        self.state = self.optimizer.state

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group to the inner optimizer."""
        self.optimizer.add_param_group(param_group)
        self.param_groups = self.optimizer.param_groups

    def __repr__(self) -> str:
        return f"LazyOptimizer(row_mask={self.row_mask!r}, optimizer={self.optimizer!r})"
