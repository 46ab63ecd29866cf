#!/usr/bin/env python
"""Benchmark: kexue_book's randomized SVD against torch.svd_lowrank and scikit-learn.

    python benchmarks/bench_random_projection.py [--repeats 15] [--threads N] [--device cpu|cuda]

Same matrices (low rank plus noise), same target rank, same oversampling and the same
number of power iterations for all three; one warm-up call each, then ``--repeats`` rounds
in which the three take turns, in an order rotated every round (so load changes and
cache effects hit all alike; ``benchmarks/_timing.py``); median wall time; ratios are
reference time / our time (> 1: ours is faster). The relative
Frobenius error of each rank-k approximation is printed too, divided by that of the exact
truncated SVD (1.00 = optimal), so speed is never bought with accuracy.

scikit-learn runs on NumPy (CPU only); on ``--device cuda`` only torch.svd_lowrank is
compared. scikit-learn uses its defaults otherwise (``power_iteration_normalizer='auto'``,
i.e. no normalisation for n_iter <= 2, LU above; ``flip_sign=True``).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

import numpy as np
import torch
from sklearn.utils.extmath import randomized_svd as sk_randomized_svd

from kexue_book import runtime
from kexue_book.prob.random_projection import randomized_svd

from _timing import interleaved


def low_rank_plus_noise(m: int, n: int, r: int, *, noise: float, dtype: torch.dtype,
                        device: torch.device, seed: int = 0) -> torch.Tensor:
    """``U diag(s) V^T + noise * G`` with orthonormal U, V and s from 100 down to 10."""
    g = torch.Generator(device="cpu").manual_seed(seed)
    u = torch.linalg.qr(torch.randn(m, r, generator=g, dtype=torch.float64)).Q
    v = torch.linalg.qr(torch.randn(n, r, generator=g, dtype=torch.float64)).Q
    s = torch.logspace(2, 1, r, dtype=torch.float64)
    mat = (u * s) @ v.T + noise * torch.randn(m, n, generator=g, dtype=torch.float64)
    return mat.to(device=device, dtype=dtype).contiguous()


def rel_err(mat: torch.Tensor, u, s, vh) -> float:
    u, s, vh = (torch.as_tensor(np.asarray(t)) if not isinstance(t, torch.Tensor) else t for t in (u, s, vh))
    u, s, vh = (t.to(mat.device, torch.float64) for t in (u, s, vh))
    m64 = mat.to(torch.float64)
    return float(torch.linalg.norm(m64 - (u * s) @ vh) / torch.linalg.norm(m64))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--threads", type=int, default=None, help="torch and BLAS threads (default: runtime.set_threads())")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--rank", type=int, default=20)
    ap.add_argument("--oversample", type=int, default=10)
    ap.add_argument("--power-iters", type=int, default=2)
    ap.add_argument("--shapes", default="2000x1000,4000x2000")
    args = ap.parse_args()
    runtime.set_threads(args.threads)  # torch and NumPy's BLAS (scikit-learn) alike
    device = torch.device(args.device)
    sync = torch.cuda.synchronize if device.type == "cuda" else None
    k, p, q = args.rank, args.oversample, args.power_iters
    print(f"device={device} torch={torch.__version__} threads={torch.get_num_threads()} "
          f"rank={k} oversample={p} power_iters={q} repeats={args.repeats} (median wall time)")
    header = f"{'shape':>10} {'dtype':>8} {'ours ms':>9} {'torch ms':>9} {'sklearn ms':>10} " \
             f"{'torch/ours':>10} {'skl/ours':>9}  err/opt (ours, torch, sklearn)"
    print(header)
    for shape in args.shapes.split(","):
        m, n = (int(v) for v in shape.split("x"))
        for dtype in (torch.float64, torch.float32):
            mat = low_rank_plus_noise(m, n, k, noise=0.05, dtype=dtype, device=device)
            opt_s = torch.linalg.svdvals(mat.to(torch.float64))
            opt = float(opt_s[k:].square().sum().sqrt() / opt_s.square().sum().sqrt())
            gen = torch.Generator(device=device).manual_seed(1)
            fns: dict[str, Callable[[], object]] = {
                "ours": lambda: randomized_svd(mat, k, oversample=p, power_iters=q, generator=gen),
                "torch": lambda: torch.svd_lowrank(mat, q=k + p, niter=q),
            }
            if device.type == "cpu":
                arr = mat.numpy()
                fns["sklearn"] = lambda: sk_randomized_svd(arr, k, n_oversamples=p, n_iter=q, random_state=0)
            t = {name: timing.wall for name, timing in interleaved(fns, args.repeats, sync=sync).items()}
            t_ours, t_torch = t["ours"], t["torch"]
            e_ours = rel_err(mat, *fns["ours"]()) / opt
            ut, st, vt = fns["torch"]()
            e_torch = rel_err(mat, ut[:, :k], st[:k], vt[:, :k].mT) / opt
            if "sklearn" in t:
                t_skl = t["sklearn"]
                e_skl = rel_err(mat, *fns["sklearn"]()) / opt
                skl_txt, ratio_skl = f"{t_skl * 1e3:10.1f}", f"{t_skl / t_ours:9.2f}"
            else:
                e_skl, skl_txt, ratio_skl = float("nan"), f"{'-':>10}", f"{'-':>9}"
            print(f"{shape:>10} {str(dtype).replace('torch.', ''):>8} {t_ours * 1e3:9.1f} {t_torch * 1e3:9.1f} "
                  f"{skl_txt} {t_torch / t_ours:10.2f} {ratio_skl}  "
                  f"{e_ours:.4f}, {e_torch:.4f}, {e_skl:.4f}")


if __name__ == "__main__":
    main()
