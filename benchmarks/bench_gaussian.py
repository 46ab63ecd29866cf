#!/usr/bin/env python
"""Benchmark: batched W2² between Gaussians (kexue_book) against per-item scipy.linalg.sqrtm.

    python benchmarks/bench_gaussian.py [--repeats 7] [--threads N] [--device cpu|cuda]
                                        [--pairs 1000] [--dim 16] [--fid-dim 512]

Two workloads, the same inputs for both sides:

* ``--pairs`` pairs of ``--dim``-dimensional Gaussians: ours is one batched call of
  ``gaussian_w2_sq`` (default route ``eigh``); the reference is the usual FID code applied
  pair by pair, ``||Δμ||² + Tr Σp + Tr Σq − 2 Re Tr sqrtm(Σp Σq)``;
* one FID-size pair (``--fid-dim``): our three routes (``eigh``, ``frechet``, ``nuclear``)
  against the same scipy formula.

torch and scipy's BLAS/LAPACK run with the same number of threads (``--threads``, default
the runtime's choice). Each timing is the median of ``--repeats`` runs after one warm-up call (CUDA
synchronised), ours and scipy taking turns in an order rotated every round (``benchmarks/_timing.py``).
The ratio is scipy time / our time (> 1: ours is faster). The largest relative difference
of the results is printed too, so speed is never bought with accuracy. Inputs are float64
random SPD matrices with condition number 100 (``kexue_book.prob.gaussian.random_spd``).
"""

from __future__ import annotations

import argparse

import numpy as np
import scipy.linalg as sl
import torch
from threadpoolctl import threadpool_limits

from kexue_book import runtime
from kexue_book.prob.gaussian import gaussian_w2_sq, random_spd

from _timing import interleaved


def scipy_w2_sq(mp: np.ndarray, cp: np.ndarray, mq: np.ndarray, cq: np.ndarray) -> np.ndarray:
    """Per-item reference: the Fréchet form with scipy.linalg.sqrtm, one pair at a time."""
    out = np.empty(len(mp))
    for i in range(len(mp)):
        cross = np.trace(sl.sqrtm(cp[i] @ cq[i])).real
        out[i] = np.sum((mp[i] - mq[i]) ** 2) + np.trace(cp[i]) + np.trace(cq[i]) - 2.0 * cross
    return out


def make_pairs(n: int, d: int, device: torch.device, seed: int):
    g = torch.Generator(device="cpu").manual_seed(seed)
    cp = random_spd(d, (n,), cond=100.0, generator=g)
    cq = random_spd(d, (n,), cond=100.0, scale=2.0, generator=g)
    mp = torch.randn(n, d, generator=g, dtype=torch.float64)
    mq = torch.randn(n, d, generator=g, dtype=torch.float64)
    return [t.to(device) for t in (mp, cp, mq, cq)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--threads", type=int, default=None,
                    help="torch threads (default: kexue_book.runtime.set_threads())")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--pairs", type=int, default=1000)
    ap.add_argument("--dim", type=int, default=16)
    ap.add_argument("--fid-dim", type=int, default=512)
    args = ap.parse_args()
    threads = runtime.set_threads(args.threads)
    threadpool_limits(threads)  # scipy's BLAS/LAPACK gets the same number of threads as torch
    device = torch.device(args.device)
    sync = torch.cuda.synchronize if device.type == "cuda" else None
    print(f"device={device} torch={torch.__version__} threads={threads} (torch and BLAS) repeats={args.repeats} "
          f"(median wall time after one warm-up)")
    print(f"{'workload':>28} {'route':>9} {'ours ms':>10} {'scipy ms':>10} {'scipy/ours':>10} {'max rel diff':>13}")

    mp, cp, mq, cq = make_pairs(args.pairs, args.dim, device, seed=0)
    np_args = [t.cpu().numpy() for t in (mp, cp, mq, cq)]
    ref = scipy_w2_sq(*np_args)
    ours = gaussian_w2_sq(mp, cp, mq, cq).cpu().numpy()
    t = interleaved({"scipy": lambda: scipy_w2_sq(*np_args), "ours": lambda: gaussian_w2_sq(mp, cp, mq, cq)},
                    args.repeats, sync=sync)
    t_ref, t_ours = t["scipy"].wall, t["ours"].wall
    err = float(np.max(np.abs(ours - ref) / np.abs(ref)))
    print(f"{f'{args.pairs} pairs, d={args.dim}':>28} {'eigh':>9} {t_ours * 1e3:10.2f} {t_ref * 1e3:10.2f} "
          f"{t_ref / t_ours:10.1f} {err:13.2e}")

    mp, cp, mq, cq = make_pairs(1, args.fid_dim, device, seed=1)
    np_args = [t.cpu().numpy() for t in (mp, cp, mq, cq)]
    ref = scipy_w2_sq(*np_args)
    methods = ("eigh", "frechet", "nuclear")
    fns = {"scipy": lambda: scipy_w2_sq(*np_args)}
    for method in methods:
        fns[method] = lambda method=method: gaussian_w2_sq(mp, cp, mq, cq, method=method)
    t = interleaved(fns, args.repeats, sync=sync)
    t_ref = t["scipy"].wall
    for method in methods:
        ours = gaussian_w2_sq(mp, cp, mq, cq, method=method).cpu().numpy()
        t_ours = t[method].wall
        err = float(np.max(np.abs(ours - ref) / np.abs(ref)))
        print(f"{f'1 pair, d={args.fid_dim}':>28} {method:>9} {t_ours * 1e3:10.2f} {t_ref * 1e3:10.2f} "
              f"{t_ref / t_ours:10.1f} {err:13.2e}")


if __name__ == "__main__":
    main()
