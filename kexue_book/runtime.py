"""Run-time switches shared by every chapter: scale, device, seeding, threads, provenance.

A chapter starts with::

    from kexue_book import runtime
    rt = runtime.setup("01-angle-distribution")
    n = rt.pick(ci=20_000, full=10_000_000)
    x = torch.randn(n, generator=rt.generator(0), device=rt.device)

Environment variables
---------------------
``KEXUE_SCALE``
    ``ci`` (default: what CI, nbval and the site build run on 2 CPU cores, each chapter
    in at most 60 s) or ``full`` (the post's own scale, meant for a GPU). Anything else
    raises :class:`ValueError`.
``KEXUE_DEVICE``
    Overrides the device (``cpu``, ``cuda``, ``cuda:1``, ...). By default CUDA is used
    when available, the CPU otherwise.
``KEXUE_THREADS``
    Overrides the number of torch intra-op threads (default: 1 on machines with at most
    two usable CPUs, else the usable CPUs, at most 8).
``KEXUE_GIT_COMMIT``
    Commit recorded in provenance when the working tree has no ``.git`` (e.g. on a
    device machine that received a copy of the tree).
"""

from __future__ import annotations

import datetime as _dt
import math
import os
import platform
import random
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import torch

__all__ = [
    "SCALES",
    "Runtime",
    "cpu_budget",
    "get_device",
    "get_scale",
    "pick",
    "provenance",
    "repo_root",
    "seed_everything",
    "set_threads",
    "setup",
]

SCALES: tuple[str, ...] = ("ci", "full")
"""The two run scales, see the module docstring."""

T = TypeVar("T")


def get_scale() -> str:
    """Return the run scale chosen by ``KEXUE_SCALE`` (default ``"ci"``).

    Returns
    -------
    str
        ``"ci"`` or ``"full"``.

    Raises
    ------
    ValueError
        If ``KEXUE_SCALE`` is set to anything else (surrounding blanks are ignored,
        case is not).
    """
    raw = os.environ.get("KEXUE_SCALE", "ci")
    value = raw.strip()
    if value == "":
        value = "ci"
    if value not in SCALES:
        raise ValueError(f"KEXUE_SCALE={raw!r} is not a run scale; expected one of {list(SCALES)}")
    return value


def pick(*, ci: T, full: T, scale: str | None = None) -> T:
    """Return ``ci`` or ``full`` according to the run scale.

    Parameters
    ----------
    ci, full
        The values for the two scales (sizes, step counts, lists of dimensions, ...).
    scale
        Force a scale instead of reading ``KEXUE_SCALE``.

    Raises
    ------
    ValueError
        If ``scale`` (or ``KEXUE_SCALE``) is not one of :data:`SCALES`.
    """
    s = get_scale() if scale is None else scale
    if s not in SCALES:
        raise ValueError(f"scale={s!r} is not a run scale; expected one of {list(SCALES)}")
    return ci if s == "ci" else full


def get_device() -> torch.device:
    """Return the compute device: ``KEXUE_DEVICE`` if set, else CUDA when present, else CPU.

    Raises
    ------
    ValueError
        If ``KEXUE_DEVICE`` is not a device string torch understands, or names CUDA on a
        machine without it.
    """
    raw = os.environ.get("KEXUE_DEVICE", "").strip()
    if raw:
        try:
            dev = torch.device(raw)
        except RuntimeError as exc:  # torch raises RuntimeError for unknown strings
            raise ValueError(f"KEXUE_DEVICE={raw!r} is not a torch device string") from exc
        if dev.type == "cuda":
            if not torch.cuda.is_available():
                raise ValueError(f"KEXUE_DEVICE={raw!r} but CUDA is not available on this machine")
            if dev.index is not None and dev.index >= torch.cuda.device_count():
                raise ValueError(
                    f"KEXUE_DEVICE={raw!r} but only {torch.cuda.device_count()} CUDA device(s) exist"
                )
        elif dev.type != "cpu":
            raise ValueError(f"KEXUE_DEVICE={raw!r}: only 'cpu' and 'cuda[:N]' are supported")
        return dev
    return torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")


def cpu_budget() -> int:
    """Number of CPUs this process may really use.

    Takes the smallest of the scheduler affinity mask and the cgroup (v2 ``cpu.max`` or
    v1 ``cfs_quota``) quota, so a container limited to 2 CPUs on a 64-core host answers
    2, not 64. Always at least 1.
    """
    n = os.cpu_count() or 1
    try:
        n = min(n, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # pragma: no cover - not on Linux
        pass
    quota = _cgroup_quota()
    if quota is not None:
        n = min(n, max(1, math.ceil(quota)))
    return max(1, n)


def _cgroup_quota() -> float | None:
    try:
        text = Path("/sys/fs/cgroup/cpu.max").read_text().split()
        if text and text[0] != "max":
            return int(text[0]) / int(text[1])
    except (OSError, ValueError, IndexError):
        pass
    try:
        q = int(Path("/sys/fs/cgroup/cpu/cpu.cfs_quota_us").read_text())
        p = int(Path("/sys/fs/cgroup/cpu/cpu.cfs_period_us").read_text())
        if q > 0 and p > 0:
            return q / p
    except (OSError, ValueError):
        pass
    return None


def set_threads(n: int | None = None) -> int:
    """Set torch's intra-op thread count and return it.

    Parameters
    ----------
    n
        Threads to use. ``None`` reads ``KEXUE_THREADS``, else uses one thread when at
        most two CPUs are usable and ``min(cpu_budget(), 8)`` otherwise. On a small shared
        machine torch's default (the host's core count) oversubscribes the CPUs and makes
        small operations many times slower; on two busy cores even two threads made a
        small training loop ~30x slower in CPU time than one (measured while writing
        chapter 24), while the chapters' CI-scale work gains little from a second thread.

    Raises
    ------
    ValueError
        If ``n`` (or ``KEXUE_THREADS``) is not a positive integer.
    """
    if n is None:
        raw = os.environ.get("KEXUE_THREADS", "").strip()
        if raw:
            try:
                n = int(raw)
            except ValueError as exc:
                raise ValueError(f"KEXUE_THREADS={raw!r} is not a positive integer") from exc
        else:
            budget = cpu_budget()
            n = 1 if budget <= 2 else min(budget, 8)
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n={n!r}: the thread count must be a positive integer")
    torch.set_num_threads(int(n))
    try:  # the BLAS/OpenMP pools behind NumPy, SciPy and scikit-learn get the same budget
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=int(n))
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        pass
    return int(n)


def seed_everything(seed: int) -> None:
    """Seed Python's :mod:`random`, NumPy's legacy global generator and torch (CPU and CUDA).

    Chapters should still pass explicit generators (:meth:`Runtime.generator`,
    :meth:`Runtime.rng`); this only makes stray global draws reproducible too.

    Raises
    ------
    ValueError
        If ``seed`` is not an integer in ``[0, 2**32)``.
    """
    _check_seed(seed)
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _check_seed(seed: Any) -> None:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2**32:
        raise ValueError(f"seed={seed!r}: expected an integer in [0, 2**32)")


def repo_root(start: str | os.PathLike[str] | None = None) -> Path | None:
    """The book's repository root (the folder holding ``_toc.yml``), or ``None``.

    Searches upwards from ``start`` (default: the working directory), then from the
    package's own folder (editable installs).
    """
    candidates = [Path(start) if start is not None else Path.cwd(), Path(__file__).resolve().parent]
    for c in candidates:
        c = c.resolve()
        for p in (c, *c.parents):
            if (p / "_toc.yml").is_file() and (p / "kexue_book").is_dir():
                return p
    return None


def _git(args: list[str], cwd: Path) -> str | None:
    try:
        out = subprocess.run(
            ["git", *args], cwd=cwd, capture_output=True, text=True, timeout=10, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip()


def provenance(device: torch.device | None = None, *, started: float | None = None) -> dict[str, Any]:
    """What produced a result: commit, dirty flag, versions, device, scale, date, wall time.

    Parameters
    ----------
    device
        Device the numbers were computed on (default: :func:`get_device`).
    started
        ``time.perf_counter()`` at the start of the run; gives ``wall_time_s``.
    """
    dev = get_device() if device is None else torch.device(device)
    root = repo_root()
    commit = dirty = None
    if root is not None and (root / ".git").exists():
        commit = _git(["rev-parse", "HEAD"], root)
        # dirty: any change, untracked files included, in what a chapter's numbers depend on
        status = _git(["status", "--porcelain", "--", "kexue_book", "book", "tools"], root)
        dirty = None if status is None else bool(status)
    if commit is None:
        commit = os.environ.get("KEXUE_GIT_COMMIT") or None
    if dev.type == "cuda":
        name = torch.cuda.get_device_name(dev)
    else:
        name = platform.processor() or platform.machine() or "cpu"
        name = f"CPU ({name}, {cpu_budget()} usable cores, {torch.get_num_threads()} torch threads)"
    return {
        "git_commit": commit,
        "git_dirty": dirty,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "device": str(dev),
        "device_name": name,
        "scale": get_scale(),
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "wall_time_s": None if started is None else round(time.perf_counter() - started, 3),
    }


@dataclass
class Runtime:
    """The run-time context of one chapter; build it with :func:`setup`.

    Attributes
    ----------
    chapter
        The chapter's slug, ``"NN-slug"`` (names its records).
    scale
        ``"ci"`` or ``"full"``.
    device
        The torch device to compute on.
    seed
        The base seed.
    threads
        torch intra-op threads in use.
    started
        ``time.perf_counter()`` at setup (for the wall time in provenance).
    """

    chapter: str
    scale: str
    device: torch.device
    seed: int
    threads: int
    started: float = field(default_factory=time.perf_counter)

    def pick(self, *, ci: T, full: T) -> T:
        """``ci`` or ``full`` according to this run's scale."""
        return pick(ci=ci, full=full, scale=self.scale)

    def generator(self, offset: int = 0, device: torch.device | str | None = None) -> torch.Generator:
        """A fresh torch generator seeded with ``seed + offset`` on ``device`` (default: ours)."""
        _check_seed(self.seed + offset)
        g = torch.Generator(device=self.device if device is None else device)
        g.manual_seed(self.seed + offset)
        return g

    def rng(self, offset: int = 0) -> np.random.Generator:
        """A fresh NumPy generator seeded with ``seed + offset``."""
        _check_seed(self.seed + offset)
        return np.random.default_rng(self.seed + offset)

    def synchronize(self) -> None:
        """Wait for the kernels queued on this run's device (CUDA); nothing to do on the CPU.

        Call it before reading a clock, so that a timing covers the work it launched.
        """
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    def provenance(self) -> dict[str, Any]:
        """:func:`provenance` for this run, wall time measured from setup."""
        return provenance(self.device, started=self.started) | {"chapter": self.chapter}

    def describe(self) -> str:
        """One line for the top of a chapter: scale, device, threads, versions."""
        p = self.provenance()
        return (
            f"scale={self.scale} · device={p['device_name']} · torch {p['torch']} · "
            f"numpy {p['numpy']} · python {p['python']}"
        )


def setup(chapter: str, seed: int = 0, *, style: bool = True) -> Runtime:
    """Prepare a chapter's run: read the scale, pick the device, set threads, seed, style figures.

    Parameters
    ----------
    chapter
        The chapter's slug, e.g. ``"01-angle-distribution"`` (two digits, a dash, a name).
    seed
        Base seed for :func:`seed_everything` and the generators of the returned runtime.
    style
        Apply the book's matplotlib style (:func:`kexue_book.plotting.use_book_style`).

    Raises
    ------
    ValueError
        On a malformed ``chapter``, a bad ``seed``, or a bad ``KEXUE_*`` variable.
    """
    if not isinstance(chapter, str) or len(chapter) < 4 or not chapter[:2].isdigit() or chapter[2] != "-":
        raise ValueError(f"chapter={chapter!r}: expected 'NN-slug', e.g. '01-angle-distribution'")
    _check_seed(seed)
    scale = get_scale()
    device = get_device()
    threads = set_threads()
    seed_everything(seed)
    if style:
        from kexue_book.plotting import use_book_style

        use_book_style()
    return Runtime(chapter=chapter, scale=scale, device=device, seed=int(seed), threads=threads)
