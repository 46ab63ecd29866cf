#!/usr/bin/env python
"""Benchmark: batched entropy_normalize against a per-row scipy.optimize.brentq solve.

    python benchmarks/bench_entropy.py [--rows 2000] [--n 100] [--repeats 5] [--threads N]

Same distributions (uniform random vectors, normalised, as in the post), same targets (drawn
uniformly inside each row's attainable range), float64, same API: the reference is
``entropy_normalize(method="brentq")``, which solves H(softmax(Gamma z)) = H* row by row with
scipy.optimize.brentq on [0, b] (b doubled from 1 until it brackets), NumPy evaluating the
entropy; ours is the default ``method="safeguarded_newton"``, all rows at once in torch.
Each is timed after one warm-up call, median of ``--repeats`` runs taken in turns (order
rotated every round; ``benchmarks/_timing.py``), in wall-clock time and
in CPU time of the process (the latter is what to read on a shared, loaded machine); the
ratio is reference time / our time (> 1: ours is faster). The largest relative difference
of the two exponents and the largest entropy error of ours are printed too, so speed is
never bought with accuracy.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from kexue_book import runtime
from kexue_book.prob.entropy import entropy, entropy_normalize, entropy_range

from _timing import interleaved


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=2000)
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=None, help="torch and BLAS threads (default: runtime.set_threads())")
    args = ap.parse_args()
    runtime.set_threads(args.threads)  # torch and BLAS alike
    rng = np.random.default_rng(0)
    p = rng.random((args.rows, args.n))
    p /= p.sum(-1, keepdims=True)
    pt = torch.from_numpy(p)
    lo, hi = entropy_range(pt)
    tgt = lo + torch.from_numpy(rng.uniform(0.01, 0.99, args.rows)) * (hi - lo)

    t = interleaved({"ours": lambda: entropy_normalize(pt, target=tgt),
                     "ref": lambda: entropy_normalize(pt, target=tgt, method="brentq")}, args.repeats)
    ours, ref = t["ours"], t["ref"]
    q, gam = entropy_normalize(pt, target=tgt, return_gamma=True)
    g_ref = entropy_normalize(pt, target=tgt, method="brentq", return_gamma=True)[1].numpy()
    print(f"entropy normalisation of {args.rows} rows of n={args.n} (float64, "
          f"torch threads={torch.get_num_threads()})")
    print(f"  {'':40s} {'wall':>10s} {'CPU':>10s}")
    print(f"  {'kexue_book entropy_normalize (batched)':40s} {ours.wall * 1e3:8.2f}ms {ours.cpu * 1e3:8.2f}ms")
    print(f"  {'scipy brentq, one row at a time':40s} {ref.wall * 1e3:8.2f}ms {ref.cpu * 1e3:8.2f}ms")
    print(f"  {'ratio (brentq / ours)':40s} {ref.wall / ours.wall:9.1f}x {ref.cpu / ours.cpu:9.1f}x")
    print(f"  max |Gamma_ours / Gamma_brentq - 1| = {float(np.max(np.abs(gam.numpy() / g_ref - 1))):.2e}; "
          f"max |H(ours) - H*| = {float((entropy(q) - tgt).abs().max()):.2e}")


if __name__ == "__main__":
    main()
