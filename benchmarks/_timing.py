"""Shared timing helper for the benchmark scripts in this folder.

The scripts are run as ``python benchmarks/bench_x.py`` (or ``cd benchmarks && python
bench_x.py``); in both cases this folder is ``sys.path[0]``, so they import the helper with
``from _timing import interleaved``.

:func:`interleaved` times several functions against each other: one or more warm-up calls of
each, then ``repeats`` rounds in which every function runs once, the order rotated by one
every round (so a change of machine load, or a cache left warm by the previous call, hits
all of them alike). Each call is timed in wall-clock seconds (:func:`time.perf_counter`) and
in CPU seconds of the whole process (:func:`time.process_time`, all threads; what to read on
a shared, loaded machine); the medians are returned as a :class:`Timing`. On CUDA, pass
``sync=torch.cuda.synchronize`` so that each timing covers the kernels the call launched.

To time one operation that is too short to time alone, time a function that runs a block
of ``n`` of them (:func:`repeated`) and divide: ``interleaved({...: repeated(op, n)},
repeats)[...].per(n)``.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

__all__ = ["Timing", "interleaved", "repeated", "timed"]


@dataclass(frozen=True)
class Timing:
    """Median seconds of one call: ``wall`` (wall clock) and ``cpu`` (process CPU time)."""

    wall: float
    cpu: float

    def per(self, n: int) -> Timing:
        """The timing of one of ``n`` operations, when a call ran a block of ``n`` of them."""
        return Timing(self.wall / n, self.cpu / n)


def interleaved(
    fns: Mapping[str, Callable[[], object]],
    repeats: int,
    *,
    sync: Callable[[], None] | None = None,
    warmup: int = 1,
    before: Callable[[str], None] | None = None,
    after: Callable[[str], None] | None = None,
) -> dict[str, Timing]:
    """Median wall and CPU time of each function in ``fns``, timed in turns.

    Parameters
    ----------
    fns
        Name -> function of no arguments; the result keeps this order.
    repeats
        Timed rounds (at least 1); every round calls every function once, the order rotated
        by one each round.
    sync
        Called before and after every call (inside the timing after it), e.g.
        ``torch.cuda.synchronize``; ``None``: nothing to wait for (CPU).
    warmup
        Untimed rounds before the timed ones (every function, in the given order).
    before, after
        Called with the function's name just before / after each call, warm-up included,
        outside the timing (e.g. to zero gradients or close an accumulation cycle).
    """
    if repeats < 1:
        raise ValueError(f"repeats must be at least 1, got {repeats}")
    names = list(fns)
    wall: dict[str, list[float]] = {name: [] for name in names}
    cpu: dict[str, list[float]] = {name: [] for name in names}

    def call(name: str) -> tuple[float, float]:
        if before is not None:
            before(name)
        if sync is not None:
            sync()
        t0, c0 = time.perf_counter(), time.process_time()
        fns[name]()
        if sync is not None:
            sync()
        w, c = time.perf_counter() - t0, time.process_time() - c0
        if after is not None:
            after(name)
        return w, c

    for _ in range(warmup):
        for name in names:
            call(name)
    for r in range(repeats if names else 0):
        k = r % len(names)
        for name in names[k:] + names[:k]:  # rotate who goes first
            w, c = call(name)
            wall[name].append(w)
            cpu[name].append(c)
    return {name: Timing(statistics.median(wall[name]), statistics.median(cpu[name])) for name in names}


def timed(
    fn: Callable[[], object],
    repeats: int,
    *,
    sync: Callable[[], None] | None = None,
    warmup: int = 1,
) -> Timing:
    """Median wall and CPU time of ``fn()`` alone: :func:`interleaved` with one function."""
    return interleaved({"fn": fn}, repeats, sync=sync, warmup=warmup)["fn"]


def repeated(fn: Callable[[], object], n: int) -> Callable[[], None]:
    """A function that calls ``fn()`` ``n`` times (a block to time, then :meth:`Timing.per`)."""
    def block() -> None:
        for _ in range(n):
            fn()

    return block
