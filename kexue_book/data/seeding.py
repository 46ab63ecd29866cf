"""Random state and sharding in ``torch.utils.data.DataLoader`` worker processes.

Each worker of a ``DataLoader`` gets a *copy* of the dataset. PyTorch seeds Python's
:mod:`random`, torch and NumPy's legacy global generator differently in every worker
(from ``base_seed + worker_id``), but a generator object stored on the dataset
(``self.rng = np.random.default_rng(0)``) is copied as it is, so every worker draws the
same "random" numbers. Likewise a plain ``IterableDataset`` is iterated in full by every
worker, so each item comes out once per worker.

This module gives three remedies:

* :func:`seed_worker`, a ``worker_init_fn`` that re-seeds every generator object found on
  the worker's dataset copy (and the global generators) from the worker's own seed;
* :func:`sample_generator`, a per-sample NumPy generator keyed by (seed, epoch, index),
  which makes the augmentation of a sample independent of which worker draws it and of
  ``num_workers``;
* :class:`ShardedIterable`, an ``IterableDataset`` that lets worker ``k`` of ``W`` keep the
  items ``k, k + W, k + 2W, ...``.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import numpy as np
import torch
from torch.utils.data import IterableDataset, get_worker_info

__all__ = ["ShardedIterable", "reseed_generators", "sample_generator", "seed_worker"]

_RNG_TYPES = (np.random.Generator, np.random.RandomState, random.Random, torch.Generator)


def _check_seed(name: str, v: Any) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 0:
        raise ValueError(f"{name}={v!r}: expected a non-negative integer")
    return int(v)


def reseed_generators(obj: Any, seed: int) -> list[str]:
    """Re-seed, in place, every random generator stored as an attribute of ``obj``.

    Attributes holding a ``numpy.random.Generator``, ``numpy.random.RandomState``,
    ``random.Random`` or ``torch.Generator`` are re-seeded from independent children of
    ``numpy.random.SeedSequence(seed)``, one per attribute in name order (two generators on
    one dataset get different streams). Attributes are found in ``vars(obj)``; generators
    nested deeper (in lists, in sub-objects) are not touched.

    Parameters
    ----------
    obj
        Usually a dataset copy inside a worker.
    seed
        Non-negative integer, e.g. ``get_worker_info().seed``.

    Returns
    -------
    list of str
        The names of the re-seeded attributes.

    Raises
    ------
    ValueError
        If ``seed`` is not a non-negative integer.
    """
    seed = _check_seed("seed", seed)
    try:
        attrs = vars(obj)
    except TypeError:
        return []
    names = sorted(k for k, v in attrs.items() if isinstance(v, _RNG_TYPES))
    children = np.random.SeedSequence(seed).spawn(len(names))
    for name, ss in zip(names, children):
        g = attrs[name]
        if isinstance(g, np.random.Generator):
            setattr(obj, name, np.random.default_rng(ss))
        elif isinstance(g, np.random.RandomState):
            g.seed(ss.generate_state(4))
        elif isinstance(g, random.Random):
            g.seed(int(ss.generate_state(2, np.uint64)[0]))
        else:
            g.manual_seed(int(ss.generate_state(1, np.uint64)[0] >> np.uint64(1)))
    return names


def seed_worker(worker_id: int) -> None:
    """``worker_init_fn`` that gives every ``DataLoader`` worker its own random streams.

    Inside worker ``worker_id`` it seeds Python's :mod:`random` and NumPy's legacy global
    generator from ``get_worker_info().seed`` (PyTorch already does so since 1.9; repeated
    here so that the function is complete on its own) and calls
    :func:`reseed_generators` on the worker's dataset copy, so that generator objects
    created in ``Dataset.__init__`` stop producing identical streams in every worker.
    The worker's seed is ``base_seed + worker_id``, with ``base_seed`` drawn from the
    loader's ``generator`` each epoch: pass ``generator=torch.Generator().manual_seed(s)``
    to the loader for reproducible runs.

    Parameters
    ----------
    worker_id
        Supplied by the ``DataLoader``.

    Raises
    ------
    RuntimeError
        If called outside a ``DataLoader`` worker process.
    """
    info = get_worker_info()
    if info is None:
        raise RuntimeError("seed_worker must run inside a DataLoader worker (worker_init_fn)")
    seed = int(info.seed)
    random.seed(seed)
    np.random.seed(np.random.SeedSequence(seed).generate_state(4))
    reseed_generators(info.dataset, seed)


def sample_generator(seed: int, index: int, epoch: int = 0) -> np.random.Generator:
    """A NumPy generator for one sample, keyed by ``(seed, epoch, index)``.

    Drawing the augmentation of sample ``index`` from this generator makes it a function
    of the sample and the epoch only: the same whichever worker draws it and whatever
    ``num_workers`` is, and different between samples and epochs.

    Raises
    ------
    ValueError
        If ``seed``, ``index`` or ``epoch`` is not a non-negative integer.
    """
    key = [_check_seed("seed", seed), _check_seed("epoch", epoch), _check_seed("index", index)]
    return np.random.default_rng(np.random.SeedSequence(key))


class ShardedIterable(IterableDataset):
    """An ``IterableDataset`` that splits a stream between ``DataLoader`` workers.

    Worker ``k`` of ``W`` keeps items ``k, k + W, k + 2W, ...`` of the stream, so each
    item comes out exactly once per epoch whatever ``num_workers`` is (the stream itself is
    still produced in full by every worker: put cheap work, e.g. reading file names, before
    the sharding and expensive work after it).

    Parameters
    ----------
    factory
        A callable with no arguments returning a fresh iterable, called once per epoch in
        every worker (a generator function, or ``lambda: range(n)``).

    Raises
    ------
    TypeError
        If ``factory`` is not callable.
    """

    def __init__(self, factory: Callable[[], Iterable[Any]]) -> None:
        super().__init__()
        if not callable(factory):
            raise TypeError(f"factory must be callable (returning an iterable), got "
                            f"{type(factory).__name__}")
        self.factory = factory

    def __iter__(self) -> Iterator[Any]:
        info = get_worker_info()
        k, w = (0, 1) if info is None else (info.id, info.num_workers)
        for i, item in enumerate(self.factory()):
            if i % w == k:
                yield item
