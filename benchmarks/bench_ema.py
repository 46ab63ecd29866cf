#!/usr/bin/env python
"""Benchmark: one EMA update, kexue_book.optim.ema.EMA against PyTorch's AveragedModel.

    python benchmarks/bench_ema.py [--repeats 7] [--updates 100] [--device cpu|cuda] [--threads N]

Both average the same model (parameters and floating-point buffers, ``use_buffers=True``)
with decay 0.999: ours with ``EMA.update()``, the reference with
``AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(0.999), use_buffers=True)
.update_parameters(model)``. Two models: the chapter's MLP (64-512-256-10, 6 tensors) and
a stack of 12 small transformer encoder layers (d=64, 146 tensors), where per-tensor Python
overhead matters. Each update is timed over a block of ``--updates`` calls after a
warm-up block, the two taking turns (order rotated every round; ``benchmarks/_timing.py``);
the median of ``--repeats`` blocks is printed per update (wall and CPU),
with the ratio reference / ours (> 1: ours is faster). The averaged tensors are compared
at the end: identical update kernels must give identical numbers.
"""

from __future__ import annotations

import argparse

import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from kexue_book import runtime
from kexue_book.optim.ema import EMA

from _timing import interleaved, repeated


def mlp() -> nn.Module:
    return nn.Sequential(nn.Linear(64, 512), nn.ReLU(), nn.Dropout(0.2), nn.Linear(512, 256),
                         nn.ReLU(), nn.Dropout(0.2), nn.Linear(256, 10))


def transformer() -> nn.Module:
    layer = nn.TransformerEncoderLayer(64, 4, 256, batch_first=True)
    return nn.TransformerEncoder(layer, 12, enable_nested_tensor=False)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--updates", type=int, default=100)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--threads", type=int, default=None, help="torch and BLAS threads (default: runtime.set_threads())")
    args = ap.parse_args()
    runtime.set_threads(args.threads)  # torch and BLAS alike
    device = torch.device(args.device)
    sync = torch.cuda.synchronize if device.type == "cuda" else None
    print(f"device {device}, {torch.get_num_threads()} torch threads, decay 0.999, median of "
          f"{args.repeats} blocks of {args.updates} updates, use_buffers=True")
    print(f"{'model':<28}{'tensors':>8}{'params':>11}{'AveragedModel µs':>18}{'EMA µs':>10}"
          f"{'ratio wall':>12}{'ratio CPU':>11}{'max |Δ|':>10}")
    for name, make in (("MLP 64-512-256-10", mlp), ("12 transformer layers", transformer)):
        torch.manual_seed(0)
        model = make().to(device)
        ref = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(0.999), use_buffers=True)
        ref.update_parameters(model)          # first call copies (n_averaged = 0)
        ours = EMA(model, 0.999, use_buffers=True)
        with torch.no_grad():                 # move the weights so the averages change
            for p in model.parameters():
                p.add_(0.01)
        blocks = {"ref": repeated(lambda: ref.update_parameters(model), args.updates),
                  "ours": repeated(ours.update, args.updates)}
        times = interleaved(blocks, args.repeats, sync=sync)
        t_ref, t_ours = times["ref"].per(args.updates), times["ours"].per(args.updates)
        diff = max(float((a - b.detach()).abs().max()) for a, b in zip(ours.shadow, ref.module.parameters()))
        n_t = len(ours.shadow)
        n_p = sum(t.numel() for t in ours.shadow)
        print(f"{name:<28}{n_t:>8}{n_p:>11,}{1e6 * t_ref.wall:>18.1f}{1e6 * t_ours.wall:>10.1f}"
              f"{t_ref.wall / t_ours.wall:>11.2f}x{t_ref.cpu / t_ours.cpu:>10.2f}x{diff:>10.1e}")


if __name__ == "__main__":
    main()
