#!/usr/bin/env python
"""Accumulated vs full-batch gradient step: time, peak memory, equal gradients.

Three ways to compute the gradient of one batch of ``--batch`` examples, side by side on
the same model and data:

* ``full``    one forward/backward pass of the whole batch (the reference gradient);
* ``native``  PyTorch's own idiom: ``(loss_k * b_k / B).backward()`` per micro-batch;
* ``ours``    :class:`kexue_book.optim.accumulation.GradientAccumulator` (running size-
  weighted mean in ``.grad``), ``--micro`` examples per micro-batch.

Each is timed after a warm-up (median of ``--repeats``, the three taking turns in an order
rotated every round; ``benchmarks/_timing.py``); the peak memory of one call is
measured with :func:`kexue_book.optim.accumulation.measure_peak_memory` (CUDA:
``max_memory_allocated``; CPU: the profiler's allocator events). The gradients are compared
with the full batch. Usage::

    python benchmarks/bench_accumulation.py                 # CPU defaults
    python benchmarks/bench_accumulation.py --device cuda --batch 1024 --micro 64 --d 512
"""

from __future__ import annotations

import argparse

import torch
import torch.nn.functional as F
from torch import nn

from kexue_book import runtime
from kexue_book.optim.accumulation import GradientAccumulator, measure_peak_memory

from _timing import interleaved


class TokenMLP(nn.Module):
    """``seq`` tokens of ``d`` features -> residual per-token MLP -> mean pool -> classes."""

    def __init__(self, d: int, seq: int, classes: int = 10):
        super().__init__()
        self.inp = nn.Linear(1, d)
        self.pos = nn.Parameter(0.02 * torch.randn(seq, d))
        self.block = nn.Sequential(nn.LayerNorm(d), nn.Linear(d, 4 * d), nn.GELU(), nn.Linear(4 * d, d))
        self.head = nn.Linear(d, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.inp(x.unsqueeze(-1)) + self.pos
        h = h + self.block(h)
        return self.head(h.mean(dim=1))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--micro", type=int, default=32)
    ap.add_argument("--d", type=int, default=64)
    ap.add_argument("--seq", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--threads", type=int, default=None, help="torch and BLAS threads (default: runtime.set_threads())")
    args = ap.parse_args()
    runtime.set_threads(args.threads)  # torch and BLAS alike
    dev = torch.device(args.device)
    if args.batch % args.micro:
        raise SystemExit("--batch must be a multiple of --micro")
    torch.manual_seed(0)
    model = TokenMLP(args.d, args.seq).to(dev)
    x = torch.rand(args.batch, args.seq, device=dev)
    y = torch.randint(0, 10, (args.batch,), device=dev)
    chunks = list(zip(x.split(args.micro), y.split(args.micro)))
    opt = torch.optim.SGD(model.parameters(), lr=0.0)  # lr 0: the step leaves the model unchanged
    acc = GradientAccumulator(opt, steps=len(chunks))

    def full():
        model.zero_grad(set_to_none=True)
        F.cross_entropy(model(x), y).backward()

    def native():
        model.zero_grad(set_to_none=True)
        for xb, yb in chunks:
            (F.cross_entropy(model(xb), yb) * (len(yb) / args.batch)).backward()

    def ours():
        # the accumulator zeroes .grad when its cycle starts; stop before its (lr 0) step
        for k, (xb, yb) in enumerate(chunks):
            acc.backward(F.cross_entropy(model(xb), yb), len(yb))
            if k < len(chunks) - 1:
                acc.step()

    def grads():
        return torch.cat([p.grad.reshape(-1) for p in model.parameters()]).clone()

    sync = (lambda: torch.cuda.synchronize(dev)) if dev.type == "cuda" else None
    def close_cycle(name: str) -> None:
        if name == "ours":
            acc.step()  # close the cycle (lr 0)

    fns = {"full": full, "native": native, "ours": ours}
    times = interleaved(fns, args.repeats, sync=sync, warmup=2,
                        after=close_cycle)
    results = {}
    for name, fn in fns.items():
        model.zero_grad(set_to_none=True)
        _, peak = measure_peak_memory(fn, dev)
        g = grads()
        close_cycle(name)
        results[name] = (times[name].wall, peak, g)

    t_full, m_full, g_full = results["full"]
    print(f"device {dev} | batch {args.batch} = {len(chunks)} x {args.micro} | TokenMLP d={args.d} seq={args.seq} "
          f"| params {sum(p.numel() for p in model.parameters()):,} | median of {args.repeats}")
    print(f"{'method':<8} {'time ms':>10} {'peak MiB':>10} {'time/full':>10} {'mem/full':>10} {'rel grad diff':>14}")
    for name, (t, m, g) in results.items():
        diff = ((g - g_full).norm() / g_full.norm()).item()
        print(f"{name:<8} {1e3 * t:>10.2f} {m / 2**20:>10.2f} {t / t_full:>10.3f} {m / m_full:>10.3f} {diff:>14.2e}")
    t_nat, t_ours = results["native"][0], results["ours"][0]
    print(f"ours / native time ratio: {t_ours / t_nat:.3f}")


if __name__ == "__main__":
    main()
