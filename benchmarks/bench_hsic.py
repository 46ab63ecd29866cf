"""Benchmark: kexue_book's O(n^2) HSIC against the textbook NumPy tr(K H L H)/(n-1)^2.

The reference is the straightforward implementation of the same estimator (Gretton et al.
2005, the kexue.fm post's): explicit centring matrix H = I - 11^T/n and three n x n matrix
products, O(n^3). Ours centres the Gram matrices in O(n^2) without forming H (float64).
Both get the same Gram matrices (the NumPy arrays share memory with our tensors), and, in a
second row, the same raw samples (kernel computation included). Each timing is the median
of several repeats after a warm-up, the two taking turns (order rotated every round;
``benchmarks/_timing.py``).

    python benchmarks/bench_hsic.py            # n = 2000
    python benchmarks/bench_hsic.py --n 4000 --repeats 7
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from kexue_book import runtime
from kexue_book.prob import hsic as H

from _timing import interleaved


def textbook_hsic(K: np.ndarray, L: np.ndarray) -> float:
    """tr(K H L H) / (n-1)^2 with an explicit centring matrix (three n x n products)."""
    n = K.shape[0]
    Hm = np.eye(n) - np.ones((n, n)) / n
    return float(np.trace(K @ Hm @ L @ Hm)) / (n - 1) ** 2


def textbook_end_to_end(x: np.ndarray, y: np.ndarray) -> float:
    """Gaussian Gram matrices exp(-d^2) with NumPy broadcasting, then :func:`textbook_hsic`."""
    K = np.exp(-((x[:, None] - x[None, :]) ** 2))
    L = np.exp(-((y[:, None] - y[None, :]) ** 2))
    return textbook_hsic(K, L)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=2000, help="sample size (default 2000)")
    ap.add_argument("--repeats", type=int, default=5, help="timed repeats after one warm-up (default 5)")
    args = ap.parse_args()
    threads = runtime.set_threads()
    n = args.n
    rng = np.random.default_rng(0)
    x = rng.standard_normal(n)
    y = x + 0.1 * rng.standard_normal(n)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    K, L = H.gaussian_kernel(xt), H.gaussian_kernel(yt)
    Kn, Ln = K.numpy(), L.numpy()  # same memory: identical inputs for both

    ours_val = float(H.hsic_gretton(K, L))
    ref_val = textbook_hsic(Kn, Ln)
    rel = abs(ours_val - ref_val) / abs(ref_val)
    assert rel < 1e-10, f"implementations disagree: {ours_val} vs {ref_val}"

    rows: list[tuple[str, float, float]] = []
    for name, ours, ref in [
        ("estimator only (same K, L)",
         lambda: H.hsic_gretton(K, L), lambda: textbook_hsic(Kn, Ln)),
        ("kernels + estimator (same x, y)",
         lambda: H.hsic(xt, yt, estimator="gretton"), lambda: textbook_end_to_end(x, y)),
    ]:
        t = interleaved({"ours": ours, "ref": ref}, args.repeats)
        rows.append((name, t["ours"].wall, t["ref"].wall))
    print(f"HSIC tr(KHLH)/(n-1)^2, n = {n}, float64, torch threads = {threads}, "
          f"median of {args.repeats} after warm-up")
    print(f"value: ours {ours_val:.15g}, textbook {ref_val:.15g} (relative difference {rel:.1e})")
    print(f"{'':34s}{'ours (O(n^2))':>16s}{'textbook NumPy':>18s}{'ratio ref/ours':>16s}")
    for name, t_ours, t_ref in rows:
        print(f"{name:34s}{1e3 * t_ours:13.2f} ms{1e3 * t_ref:15.2f} ms{t_ref / t_ours:15.1f}x")


if __name__ == "__main__":
    main()
