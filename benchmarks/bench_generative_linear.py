"""Benchmark: closed-form softmax regression (LDA) fit, kexue_book vs scikit-learn.

    .venv/bin/python benchmarks/bench_generative_linear.py [--repeats 7]

Times ``kexue_book.ml.generative_linear.analytic_softmax`` against
``sklearn.discriminant_analysis.LinearDiscriminantAnalysis(solver='lsqr').fit`` on the same
float64 data: synthetic Gaussian classes (n=20000, d=256, k=10) and scikit-learn's digits
(1797 x 64, 10 classes; constant pixels make the pooled covariance singular, so both use
shrinkage 0.1, and also Ledoit-Wolf shrinkage 'auto'). Both get the same thread budget
(torch intra-op threads and the BLAS thread pool set to the usable CPUs). One warm-up run
each, then the median of ``--repeats`` interleaved runs (order rotated every round;
``benchmarks/_timing.py``); the results are also checked to agree.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from threadpoolctl import threadpool_limits

from kexue_book.ml.generative_linear import analytic_softmax, sample_gaussian_classes
from kexue_book import runtime

from _timing import interleaved, timed


def synthetic(n: int, d: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    g = torch.Generator().manual_seed(0)
    means = torch.randn(k, d, generator=g, dtype=torch.float64)
    A = torch.randn(d, d, generator=g, dtype=torch.float64) / d**0.5
    cov = A @ A.T + 0.1 * torch.eye(d, dtype=torch.float64)
    X, y = sample_gaussian_classes(n, means, cov, generator=g)
    return X.numpy(), y.numpy()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--threads", type=int, default=None, help="torch and BLAS threads (default: runtime.set_threads())")
    args = ap.parse_args()
    threads = runtime.set_threads(args.threads)  # torch and BLAS alike
    Xd, yd = load_digits(return_X_y=True)
    cases = [
        ("synthetic n=20000 d=256 k=10", *synthetic(20_000, 256, 10), None),
        ("digits 1797x64 k=10, shrinkage=0.1", Xd, yd, 0.1),
        ("digits 1797x64 k=10, shrinkage='auto'", Xd, yd, "auto"),
    ]
    print(f"threads: torch {threads}, BLAS {threads}; median of {args.repeats} interleaved runs after a warm-up")
    print(f"{'case':<40} {'kexue_book':>12} {'sklearn lsqr':>13} {'sklearn/ours':>13} {'max rel diff':>13}")
    with threadpool_limits(threads):
        for name, X, y, shrink in cases:
            def ours():
                return analytic_softmax(torch.from_numpy(X), torch.from_numpy(y), shrinkage=shrink)

            def ref():
                return LinearDiscriminantAnalysis(solver="lsqr", shrinkage=shrink).fit(X, y)

            t = interleaved({"ours": ours, "ref": ref}, args.repeats)
            t_ours, t_ref = t["ours"].wall, t["ref"].wall
            W, _ = ours()
            coef = ref().coef_
            rel = float(np.abs(W.numpy().T - coef).max() / np.abs(coef).max())
            print(f"{name:<40} {t_ours * 1e3:>10.2f}ms {t_ref * 1e3:>11.2f}ms {t_ref / t_ours:>12.1f}x {rel:>13.1e}")
            if torch.cuda.is_available():
                Xc, yc = torch.from_numpy(X).cuda(), torch.from_numpy(y).cuda()
                t_gpu = timed(lambda: analytic_softmax(Xc, yc, shrinkage=shrink), args.repeats,
                              sync=torch.cuda.synchronize).wall
                print(f"{'  same, ours on ' + torch.cuda.get_device_name(0)[:22]:<40} {t_gpu * 1e3:>10.2f}ms "
                      f"{t_ref * 1e3:>11.2f}ms {t_ref / t_gpu:>12.1f}x   (GPU vs CPU)")


if __name__ == "__main__":
    main()
