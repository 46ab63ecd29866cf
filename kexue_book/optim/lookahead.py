r"""Lookahead: :math:`k` steps forward with any optimizer, one step back towards the slow weights.

Zhang, Lucas, Hinton and Ba's Lookahead keeps *slow weights* :math:`\phi` beside the model's
(fast) weights :math:`\theta`. From :math:`\theta_{t,0}=\phi_t` an inner optimizer
:math:`A` takes :math:`k` steps, :math:`\theta_{t,i}=\theta_{t,i-1}+A(L,\theta_{t,i-1},d)`;
then

.. math::

   \phi_{t+1} = \phi_t + \alpha(\theta_{t,k}-\phi_t), \qquad \theta_{t+1,0} = \phi_{t+1}

(chapter 23, ``c23-eq-lal-lookahead``). Core PyTorch (2.13) has no Lookahead. :class:`Lookahead` is a
real :class:`torch.optim.Optimizer`: it shares its ``param_groups`` with the inner optimizer
(so learning-rate schedulers and manual ``lr`` edits reach it), forwards closures, supports
``add_param_group``, and its ``state_dict`` holds the inner state, the slow weights and the
position in the cycle, so a run resumed from it continues bit for bit.

:func:`lookahead_variance_ratio` is the stationary variance ratio of the slow weights on the
noisy quadratic (chapter 23, ``c23-eq-lal-var-ratio``).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator
from typing import Any

import torch
from torch.optim import Optimizer

__all__ = ["Lookahead", "lookahead_variance_ratio"]


def _check_k(k: Any) -> int:
    if isinstance(k, bool) or not isinstance(k, int):
        raise TypeError(f"k={k!r} ({type(k).__name__}) must be an int >= 1")
    if k < 1:
        raise ValueError(f"k={k} must be an int >= 1")
    return k


def _check_alpha(alpha: Any) -> float:
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)):
        raise TypeError(f"alpha={alpha!r} ({type(alpha).__name__}) must be a number in (0, 1]")
    if not (math.isfinite(alpha) and 0.0 < alpha <= 1.0):
        raise ValueError(f"alpha={alpha!r} must lie in (0, 1]")
    return float(alpha)


class Lookahead(Optimizer):
    r"""Wrap any optimizer in Lookahead (chapter 23, ``c23-eq-lal-lookahead``).

    Every call of :meth:`step` runs one step of the inner optimizer on the fast weights;
    every ``k``-th call then moves the slow weights a fraction ``alpha`` towards the fast
    ones, :math:`\phi \leftarrow \phi + \alpha(\theta - \phi)`, and copies them back,
    :math:`\theta \leftarrow \phi`. With ``alpha=1`` this is exactly the inner optimizer.

    Parameters
    ----------
    optimizer
        The inner :class:`torch.optim.Optimizer` (SGD, Adam, LBFGS, ...). Its
        ``param_groups`` list is shared, not copied: editing ``lr`` (by hand or with a
        scheduler) on either object changes both.
    k
        Inner steps per synchronisation, an int >= 1.
    alpha
        Slow-weight step size in (0, 1]. Stored per parameter group as
        ``"lookahead_alpha"``, so it can be scheduled like ``lr``.
    reset_state
        Clear the inner optimizer's state (e.g. Adam's moments and step count) at every
        synchronisation. The post's Keras code and the paper's default keep it (``False``).

    Raises
    ------
    TypeError
        If ``optimizer`` is not a :class:`torch.optim.Optimizer`, or ``k``/``alpha`` have
        the wrong type.
    ValueError
        If ``k < 1`` or ``alpha`` is outside (0, 1].

    Notes
    -----
    Slow weights are created, as a copy of the parameter, just before the first step that
    touches the parameter. A parameter added with :meth:`add_param_group` in mid-cycle
    therefore starts its slow weights there. Use :meth:`slow_weights` to evaluate the model
    at :math:`\phi`, as the paper does.
    """

    def __init__(self, optimizer: Optimizer, k: int = 5, alpha: float = 0.5,
                 reset_state: bool = False) -> None:
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"optimizer must be a torch.optim.Optimizer, got {type(optimizer).__name__}")
        if isinstance(optimizer, Lookahead):
            raise TypeError("optimizer is already a Lookahead; nesting them is not supported")
        self.k = _check_k(k)
        alpha = _check_alpha(alpha)
        if not isinstance(reset_state, bool):
            raise TypeError(f"reset_state={reset_state!r} must be a bool")
        self.optimizer = optimizer
        self.reset_state = reset_state
        self.lookahead_step = 0
        self._initialising = True
        # Optimizer.__init__ sets up hooks and state; it re-adds the inner optimizer's
        # group dicts (the same objects), filling in our default alpha.
        super().__init__(optimizer.param_groups, {"lookahead_alpha": alpha})
        self._initialising = False
        self.param_groups = optimizer.param_groups  # one shared list
        self.defaults = {**optimizer.defaults, "lookahead_alpha": alpha}

    # ------------------------------------------------------------------ groups
    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a parameter group to the inner optimizer (and so to this one)."""
        if self._initialising:
            super().add_param_group(param_group)
            return
        alpha = _check_alpha(param_group.get("lookahead_alpha", self.defaults["lookahead_alpha"]))
        self.optimizer.add_param_group(param_group)
        self.optimizer.param_groups[-1]["lookahead_alpha"] = alpha
        self.param_groups = self.optimizer.param_groups

    # ------------------------------------------------------------------ stepping
    @torch.no_grad()
    def _ensure_slow(self) -> None:
        for group in self.param_groups:
            for p in group["params"]:
                st = self.state[p]
                if "slow_buffer" not in st:
                    st["slow_buffer"] = p.detach().clone()

    @torch.no_grad()
    def synchronise(self) -> None:
        r"""Do the slow update now: :math:`\phi\leftarrow\phi+\alpha(\theta-\phi)`, :math:`\theta\leftarrow\phi`.

        Called by :meth:`step` every ``k`` steps; it restarts the cycle count.
        """
        self._ensure_slow()
        for group in self.param_groups:
            alpha = _check_alpha(group["lookahead_alpha"])
            for p in group["params"]:
                slow = self.state[p]["slow_buffer"]
                slow.lerp_(p.detach(), alpha)  # exact copy of theta when alpha == 1
                p.copy_(slow)
                if self.reset_state:
                    self.optimizer.state.pop(p, None)
        self.lookahead_step = 0

    def step(self, closure: Callable[[], Any] | None = None) -> Any:  # type: ignore[override]
        """One inner step (``closure`` is passed on), plus the slow update every ``k`` steps.

        Returns
        -------
        The inner optimizer's return value (the closure's loss, when one is given).
        """
        self._ensure_slow()
        loss = self.optimizer.step(closure) if closure is not None else self.optimizer.step()
        self.lookahead_step += 1
        if self.lookahead_step >= self.k:
            self.synchronise()
        return loss

    @contextlib.contextmanager
    def slow_weights(self) -> Iterator[None]:
        """Context manager: the parameters hold the slow weights inside, the fast ones after.

        Use it to evaluate at :math:`\\phi`; training is not disturbed.
        """
        self._ensure_slow()
        saved = []
        with torch.no_grad():
            for group in self.param_groups:
                for p in group["params"]:
                    saved.append((p, p.detach().clone()))
                    p.copy_(self.state[p]["slow_buffer"])
        try:
            yield
        finally:
            with torch.no_grad():
                for p, fast in saved:
                    p.copy_(fast)

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict[str, Any]:  # type: ignore[override]
        """The inner optimizer's state dict plus a ``"lookahead"`` entry.

        The entry holds the slow weights (keyed by the parameter's position, as the inner
        state is), the step within the current cycle, and ``k`` and ``reset_state``.
        """
        inner = self.optimizer.state_dict()
        slow: dict[int, torch.Tensor] = {}
        i = 0
        for group in self.param_groups:
            for p in group["params"]:
                st = self.state.get(p, {})
                if "slow_buffer" in st:
                    slow[i] = st["slow_buffer"].clone()
                i += 1
        inner["lookahead"] = {"slow_buffer": slow, "lookahead_step": self.lookahead_step,
                              "k": self.k, "reset_state": self.reset_state}
        return inner

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:  # type: ignore[override]
        """Load a dict made by :meth:`state_dict` (the inner state, then the slow weights).

        Raises
        ------
        ValueError
            If ``state_dict`` has no ``"lookahead"`` entry or its slow weights do not match
            the parameters.
        """
        if not isinstance(state_dict, dict) or "lookahead" not in state_dict:
            raise ValueError("state_dict has no 'lookahead' entry: it was not made by Lookahead.state_dict()")
        la = state_dict["lookahead"]
        inner = {key: v for key, v in state_dict.items() if key != "lookahead"}
        params = [p for g in self.param_groups for p in g["params"]]
        for i, buf in la["slow_buffer"].items():
            if not 0 <= int(i) < len(params) or tuple(buf.shape) != tuple(params[int(i)].shape):
                raise ValueError(f"state_dict slow weight {i} does not match the parameters")
        self.optimizer.load_state_dict(inner)
        self.param_groups = self.optimizer.param_groups  # the inner list was replaced
        for g in self.param_groups:
            g.setdefault("lookahead_alpha", self.defaults["lookahead_alpha"])
        self.state.clear()
        for i, buf in la["slow_buffer"].items():
            p = params[int(i)]
            self.state[p]["slow_buffer"] = buf.detach().to(device=p.device, dtype=p.dtype).clone()
        self.k = _check_k(la["k"])
        self.reset_state = bool(la["reset_state"])
        self.lookahead_step = int(la["lookahead_step"])

    def __repr__(self) -> str:
        return f"Lookahead(k={self.k}, reset_state={self.reset_state}, optimizer={self.optimizer!r})"


def lookahead_variance_ratio(k: int, alpha: float, beta: float) -> float:
    r"""Stationary variance of Lookahead's slow weights over that of SGD (chapter 23, ``c23-eq-lal-var-ratio``).

    On the noisy quadratic :math:`\tfrac a2(x-c)^2`, :math:`c\sim\mathcal N(0,\sigma^2)`
    drawn afresh at every step, SGD with step :math:`\gamma` contracts by
    :math:`\beta = 1-\gamma a`. The slow weights of Lookahead(SGD), observed at the
    synchronisation points, have stationary variance :math:`V_{LA}` with

    .. math::

       \frac{V_{LA}}{V_{SGD}} = \frac{\alpha(1+\beta^k)}{2-\alpha(1-\beta^k)} ,

    which is below 1 for every :math:`\alpha\in(0,1)` and equals 1 at :math:`\alpha=1`.

    Parameters
    ----------
    k
        Inner steps per synchronisation, an int >= 1.
    alpha
        Slow step size in (0, 1].
    beta
        SGD contraction :math:`1-\gamma a`, with :math:`|\beta| < 1`.

    Raises
    ------
    TypeError, ValueError
        For ``k`` not an int >= 1, ``alpha`` outside (0, 1], or ``|beta| >= 1``
        (or non-finite).
    """
    k = _check_k(k)
    alpha = _check_alpha(alpha)
    if isinstance(beta, bool) or not isinstance(beta, (int, float)):
        raise TypeError(f"beta={beta!r} must be a number with |beta| < 1")
    if not (math.isfinite(beta) and abs(beta) < 1.0):
        raise ValueError(f"beta={beta!r} must satisfy |beta| < 1 (stable SGD)")
    bk = beta**k
    return alpha * (1.0 + bk) / (2.0 - alpha * (1.0 - bk))
