#!/usr/bin/env python
"""Benchmark: LazyAdam(mode="sparse") against torch.optim.SparseAdam on a large embedding table.

    python benchmarks/bench_lazy.py [--rows 1000000] [--dim 64] [--frac 0.01] [--repeats 7]
                                    [--device cpu|cuda] [--threads N]

Same table (``rows x dim`` float32), same sparse gradients (``nn.Embedding(sparse=True)``
style: a coalesced COO gradient touching ``frac * rows`` distinct rows, fresh rows each
step), same hyper-parameters. Each optimizer's ``step()`` is timed over a block of steps,
after a warm-up block, SparseAdam and ours taking turns (order rotated every round;
``benchmarks/_timing.py``); the median over ``--repeats`` blocks is reported per step, in
wall-clock and CPU time (the latter is what to read on a loaded machine). The ratio is
SparseAdam time / our time (> 1: ours is faster). The two tables are compared at the end:
they must agree to float32 round-off, so speed is not bought with a different update.
A dense-gradient row (our optimizer fed the same gradient as a dense tensor, rows found
from it) is printed too: it includes the O(rows x dim) scan that finds the sampled rows.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

import torch

from kexue_book import runtime
from kexue_book.optim.lazy import LazyAdam

from _timing import interleaved, timed


def make_grads(n_steps: int, rows: int, dim: int, touched: int, device: torch.device,
               seed: int = 0) -> list[torch.Tensor]:
    g = torch.Generator(device="cpu").manual_seed(seed)
    out = []
    for _ in range(n_steps):
        idx = torch.randperm(rows, generator=g)[:touched].sort().values
        vals = torch.randn(touched, dim, generator=g)
        out.append(torch.sparse_coo_tensor(idx[None], vals, (rows, dim)).coalesce().to(device))
    return out


def step_block(param: torch.nn.Parameter, opt: torch.optim.Optimizer,
               grads: list[torch.Tensor]) -> Callable[[], None]:
    """A function that runs one ``opt.step()`` per gradient in ``grads``."""
    def block() -> None:
        for gr in grads:
            param.grad = gr
            opt.step()

    return block


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--dim", type=int, default=64)
    ap.add_argument("--frac", type=float, default=0.01)
    ap.add_argument("--steps", type=int, default=5, help="steps per timed block")
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--threads", type=int, default=None, help="torch and BLAS threads (default: runtime.set_threads())")
    args = ap.parse_args()
    runtime.set_threads(args.threads)  # torch and BLAS alike
    device = torch.device(args.device)
    sync = torch.cuda.synchronize if device.type == "cuda" else None
    touched = max(1, int(args.frac * args.rows))
    grads = make_grads(args.steps, args.rows, args.dim, touched, device)
    torch.manual_seed(0)
    w0 = torch.randn(args.rows, args.dim, device=device)

    p_ref = torch.nn.Parameter(w0.clone())
    ref = torch.optim.SparseAdam([p_ref], lr=1e-3)
    p_ours = torch.nn.Parameter(w0.clone())
    ours = LazyAdam([p_ours], lr=1e-3, lazy_params=[p_ours], mode="sparse")
    # the first (warm-up) block allocates the moments
    t = interleaved({"ref": step_block(p_ref, ref, grads), "ours": step_block(p_ours, ours, grads)},
                    args.repeats, sync=sync)
    t_ref, t_ours = t["ref"].per(len(grads)), t["ours"].per(len(grads))
    diff = float((p_ref.detach() - p_ours.detach()).abs().max())
    del ref, ours, p_ref

    dense = [gr.to_dense() for gr in grads[:2]]
    p_dense = torch.nn.Parameter(w0.clone())
    ours_dense = LazyAdam([p_dense], lr=1e-3, lazy_params=[p_dense], mode="sparse")
    t_dense = timed(step_block(p_dense, ours_dense, dense), args.repeats, sync=sync).per(len(dense))

    print(f"table {args.rows:,} x {args.dim} float32 on {device}, {touched:,} rows touched per step "
          f"({args.frac:.1%}), {torch.get_num_threads()} torch threads, median of {args.repeats} "
          f"blocks of {args.steps} steps")
    print(f"{'optimizer':<42}{'wall ms/step':>14}{'CPU ms/step':>14}")
    print(f"{'torch.optim.SparseAdam (sparse grad)':<42}{1e3 * t_ref.wall:>14.3f}{1e3 * t_ref.cpu:>14.3f}")
    print(f"{'LazyAdam mode=sparse (sparse grad)':<42}{1e3 * t_ours.wall:>14.3f}{1e3 * t_ours.cpu:>14.3f}")
    print(f"{'LazyAdam mode=sparse (dense grad, scan)':<42}{1e3 * t_dense.wall:>14.3f}{1e3 * t_dense.cpu:>14.3f}")
    print(f"ratio SparseAdam / ours (sparse grad): wall {t_ref.wall / t_ours.wall:.2f}x, "
          f"CPU {t_ref.cpu / t_ours.cpu:.2f}x")
    print(f"max |SparseAdam - ours| after {args.steps * (args.repeats + 1)} identical steps: {diff:.2e}")


if __name__ == "__main__":
    main()
