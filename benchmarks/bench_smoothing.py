#!/usr/bin/env python
"""Benchmark: kexue_book's smoothed ReLUs against the torch activations they reproduce.

    python benchmarks/bench_smoothing.py [--n 10000000] [--repeats 11] [--threads N] [--device cpu|cuda]

Same input (``n`` values of 3·N(0, 1), float32 and float64), each function timed after one
warm-up call, median of ``--repeats`` runs, the two taking turns (order rotated every
round; ``benchmarks/_timing.py``). The ratio is reference time / our time (> 1:
ours is faster). The maximum absolute difference is printed too, so speed is never
bought with accuracy:

* ``smooth_relu_logistic(x, t)`` vs ``F.softplus(x, beta=t)``: the same torch kernel, with
  ``threshold=40`` in float64 (torch's default 20 is off by up to ``log(1+e^-20)/t``);
* ``swish(x, 1)`` vs ``F.silu`` (ours calls it) and ``swish(x, t)`` vs ``x*sigmoid(t*x)``;
* ``gelu_sigma(x, 1)`` vs ``F.gelu(approximate='none')``: ours uses ``erfc`` to keep the
  relative accuracy for x << 0, where ``F.gelu`` returns -0.0, so it is expected to be slower.
"""

from __future__ import annotations

import argparse

import torch
import torch.nn.functional as F

from kexue_book import runtime
from kexue_book.prob import smoothing as sm

from _timing import interleaved


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=10_000_000)
    ap.add_argument("--repeats", type=int, default=11)
    ap.add_argument("--threads", type=int, default=None, help="torch and BLAS threads (default: runtime.set_threads())")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = ap.parse_args()
    runtime.set_threads(args.threads)  # torch and BLAS alike
    dev = torch.device(args.device)
    sync = torch.cuda.synchronize if dev.type == "cuda" else None
    g = torch.Generator(device="cpu").manual_seed(0)
    base = 3 * torch.randn(args.n, generator=g, dtype=torch.float64)
    print(f"n = {args.n:,}, device = {dev}, torch {torch.__version__}, threads = {torch.get_num_threads()}, "
          f"median of {args.repeats}")
    header = f"{'ours':<28} {'reference':<34} {'dtype':<8} {'ours ms':>9} {'ref ms':>9} {'ratio':>7} {'max |Δ|':>10}"
    print(header)
    print("-" * len(header))
    for dtype in (torch.float32, torch.float64):
        x = base.to(device=dev, dtype=dtype)
        thr = 40.0 if dtype == torch.float64 else 20.0
        cases = [
            ("smooth_relu_logistic(x, 1)", lambda: sm.smooth_relu_logistic(x, 1.0),
             "F.softplus(x)", lambda: F.softplus(x)),
            ("smooth_relu_logistic(x, 3)", lambda: sm.smooth_relu_logistic(x, 3.0),
             "F.softplus(x, beta=3)", lambda: F.softplus(x, beta=3.0)),
            ("smooth_relu_logistic(x, 3)", lambda: sm.smooth_relu_logistic(x, 3.0),
             f"F.softplus(x, beta=3, threshold={thr:g})", lambda: F.softplus(x, beta=3.0, threshold=thr)),
            ("swish(x, 1)", lambda: sm.swish(x, 1.0), "F.silu(x)", lambda: F.silu(x)),
            ("swish(x, 3)", lambda: sm.swish(x, 3.0), "x * sigmoid(3x)", lambda: x * torch.sigmoid(3.0 * x)),
            ("gelu_sigma(x, 1)", lambda: sm.gelu_sigma(x, 1.0),
             "F.gelu(x, approximate='none')", lambda: F.gelu(x, approximate="none")),
        ]
        for name, ours, ref_name, ref in cases:
            t = interleaved({"ours": ours, "ref": ref}, args.repeats, sync=sync)
            t_ours, t_ref = t["ours"].wall, t["ref"].wall
            diff = (ours().double() - ref().double()).abs().max().item()
            print(f"{name:<28} {ref_name:<34} {str(dtype)[6:]:<8} {1e3 * t_ours:9.2f} {1e3 * t_ref:9.2f} "
                  f"{t_ref / t_ours:7.2f} {diff:10.2e}")


if __name__ == "__main__":
    main()
