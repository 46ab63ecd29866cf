#!/usr/bin/env python
"""Two-pass contrastive accumulation vs the full batch: peak memory and time at equal gradients.

Three ways to compute the InfoNCE gradient of one batch of ``--batch`` rows (SimCSE pairing,
in-batch negatives, tau 0.05) for an MLP encoder with dropout, side by side:

* ``full``        one forward/backward of the whole batch (chunked forward in one graph, so
  dropout draws the same masks as the others): the reference gradient;
* ``checkpoint``  PyTorch's own memory saver: ``torch.utils.checkpoint`` around each chunk's
  encoder call (recomputed in backward, RNG state preserved);
* ``two-pass``    :func:`kexue_book.nn.contrastive.two_pass_contrastive_backward`.

Time: median of ``--repeats`` after a warm-up, the three taking turns in an order rotated every
round (``benchmarks/_timing.py``). Peak memory of one call:
:func:`kexue_book.optim.accumulation.measure_peak_memory` (CUDA ``max_memory_allocated``;
CPU profiler allocator events). Usage::

    python benchmarks/bench_contrastive.py
    python benchmarks/bench_contrastive.py --device cuda --batch 4096 --chunk 256 --width 4096
"""

from __future__ import annotations

import argparse

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint

from kexue_book import runtime
from kexue_book.nn.contrastive import infonce_loss, two_pass_contrastive_backward
from kexue_book.optim.accumulation import measure_peak_memory

from _timing import interleaved


class Encoder(nn.Module):
    def __init__(self, din: int, width: int, dout: int, depth: int, p: float):
        super().__init__()
        layers: list[nn.Module] = [nn.Linear(din, width), nn.GELU(), nn.Dropout(p)]
        for _ in range(depth - 1):
            layers += [nn.Linear(width, width), nn.GELU(), nn.Dropout(p)]
        layers.append(nn.Linear(width, dout))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.net(x), dim=-1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--batch", type=int, default=512)
    ap.add_argument("--chunk", type=int, default=32)
    ap.add_argument("--width", type=int, default=1024)
    ap.add_argument("--depth", type=int, default=3)
    ap.add_argument("--dropout", type=float, default=0.1)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=None, help="torch and BLAS threads (default: runtime.set_threads())")
    args = ap.parse_args()
    runtime.set_threads(args.threads)  # torch and BLAS alike
    dev = torch.device(args.device)
    torch.manual_seed(0)
    enc = Encoder(64, args.width, 128, args.depth, args.dropout).to(dev)
    x = torch.rand(args.batch, 64, device=dev)

    def full():
        h = torch.cat([enc(c) for c in x.split(args.chunk)])
        infonce_loss(h).backward()

    def ckpt():
        h = torch.cat([checkpoint(enc, c, use_reentrant=False, preserve_rng_state=True) for c in x.split(args.chunk)])
        infonce_loss(h).backward()

    def two_pass():
        two_pass_contrastive_backward(enc, x, args.chunk)

    sync = (lambda: torch.cuda.synchronize(dev)) if dev.type == "cuda" else None
    fns = {"full": full, "checkpoint": ckpt, "two-pass": two_pass}
    times = interleaved(fns, args.repeats, sync=sync, warmup=2,
                        before=lambda name: enc.zero_grad(set_to_none=True))
    results = {}
    for name, fn in fns.items():
        enc.zero_grad(set_to_none=True)
        torch.manual_seed(123)  # same dropout masks for the gradient comparison
        _, peak = measure_peak_memory(fn, dev)
        g = torch.cat([p.grad.reshape(-1) for p in enc.parameters()]).clone()
        results[name] = (times[name].wall, peak, g)

    t_full, m_full, g_full = results["full"]
    n_params = sum(p.numel() for p in enc.parameters())
    print(f"device {dev} | batch {args.batch} = {args.batch // args.chunk} x {args.chunk} | MLP 64-{args.width}"
          f"x{args.depth}-128, dropout {args.dropout} | params {n_params:,} | median of {args.repeats}")
    print(f"{'method':<11} {'time ms':>10} {'peak MiB':>10} {'time/full':>10} {'mem/full':>10} {'rel grad diff':>14}")
    for name, (t, m, g) in results.items():
        diff = ((g - g_full).norm() / g_full.norm()).item()
        print(f"{name:<11} {1e3 * t:>10.2f} {m / 2**20:>10.2f} {t / t_full:>10.3f} {m / m_full:>10.3f} {diff:>14.2e}")
    (t_c, m_c, _), (t_2, m_2, _) = results["checkpoint"], results["two-pass"]
    print(f"two-pass / checkpoint: time {t_2 / t_c:.3f}, peak memory {m_2 / m_c:.3f}")


if __name__ == "__main__":
    main()
