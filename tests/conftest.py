"""Fixtures shared by the unit tests.

Test modules opt in with ``pytestmark = pytest.mark.usefixtures("one_torch_thread")``; it is
not autouse, so modules that test thread settings (``test_runtime.py``) are left alone.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch


@pytest.fixture(scope="module")
def one_torch_thread() -> Iterator[None]:
    """Small tensors: one torch thread is fastest and immune to a busy shared CPU.

    Sets ``torch.set_num_threads(1)`` for the whole module and restores the old count after.
    """
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
