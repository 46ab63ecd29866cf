"""Input checks shared by the package's modules (private)."""

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
