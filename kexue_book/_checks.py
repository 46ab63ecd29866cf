"""Input checks shared by the package's modules (private): float tensors, finiteness, integers, generators."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

FLOAT_DTYPES = (torch.float32, torch.float64)


def as_float_tensor(x: Any, name: str) -> torch.Tensor:
    """A float32/float64 tensor; non-tensors become float64; ints, bools, complex rejected.

    Raises
    ------
    TypeError
        Naming ``name``, when ``x`` is not floating point.
    """
    if isinstance(x, torch.Tensor):
        t = x
    else:
        try:
            arr = np.asarray(x)
        except (TypeError, ValueError) as exc:  # pragma: no cover - numpy accepts almost anything
            raise TypeError(f"{name} must be a tensor or an array-like of floats") from exc
        if arr.dtype.kind != "f":
            raise TypeError(
                f"{name} has dtype {arr.dtype}; expected floating point values "
                f"(cast explicitly, e.g. np.asarray({name}, dtype=float))"
            )
        t = torch.from_numpy(np.array(arr, dtype=np.float64))
    if t.dtype not in FLOAT_DTYPES:
        raise TypeError(
            f"{name} has dtype {t.dtype}; expected torch.float32 or torch.float64 "
            f"(cast explicitly, e.g. {name}.double())"
        )
    return t


def all_finite(t: torch.Tensor) -> bool:
    """True iff every entry of ``t`` is finite (True for an empty tensor); one reduction usually.

    A NaN or an infinity anywhere makes the sum non-finite, so a finite sum proves
    finiteness. Only when the sum is not finite (a bad entry, or an overflow of the sum of
    huge but finite entries) does the elementwise test run.
    """
    if t.numel() == 0 or bool(torch.isfinite(t.sum())):
        return True
    return bool(torch.isfinite(t).all())


def check_int(value: Any, name: str, minimum: int) -> int:
    """``value`` as an ``int`` if it is an integer (Python or NumPy, not bool) ``>= minimum``.

    Raises
    ------
    TypeError
        Naming ``name``, when ``value`` is not an integer.
    ValueError
        Naming ``name``, when ``value < minimum``.
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name}={value!r} must be an integer >= {minimum}")
    if value < minimum:
        raise ValueError(f"{name}={value!r} must be >= {minimum}")
    return int(value)


def check_generator(generator: Any, device: torch.device, holder: str) -> None:
    """Accept ``None`` or a :class:`torch.Generator` on ``device``'s device type.

    ``holder`` names what lives on ``device`` in the message, with its verb (e.g. ``"the
    output is"``, ``"the data are"``).

    Raises
    ------
    TypeError
        When ``generator`` is neither ``None`` nor a :class:`torch.Generator`.
    ValueError
        When the generator is on another device type.
    """
    if generator is None:
        return
    if not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator or None, got {type(generator).__name__}")
    if generator.device.type != device.type:
        raise ValueError(f"generator is on {generator.device} but {holder} on {device}; use one on {device.type}")
