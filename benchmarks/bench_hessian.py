"""Top Hessian eigenvalue: power iteration with Hessian-vector products (kexue_book) against
the dense Hessian (torch.autograd.functional.hessian) + torch.linalg.eigvalsh, same model.

Run: .venv/bin/python benchmarks/bench_hessian.py [--hidden 16,32] [--repeats 5] [--threads N]

After a warm-up, the two take turns in every round (order rotated each round;
``benchmarks/_timing.py``); median wall time of each. The
dense route needs one Hessian-vector product per parameter plus an O(P^3) eigensolver; power
iteration needs one product per iteration, so the ratio grows with the parameter count P.
"""

from __future__ import annotations

import argparse

import torch
from sklearn.datasets import load_digits

from kexue_book import runtime
from kexue_book.optim.hessian import hessian_top_eigenvalue

from _timing import interleaved


def main(hidden: int = 16, repeats: int = 5) -> None:
    torch.manual_seed(0)
    X, y = load_digits(return_X_y=True)
    X = torch.tensor(X / 16.0, dtype=torch.float64)
    y = torch.tensor(y)
    net = torch.nn.Sequential(torch.nn.Linear(64, hidden), torch.nn.Tanh(),
                              torch.nn.Linear(hidden, 10)).double()
    names = [n for n, _ in net.named_parameters()]
    params = list(net.parameters())
    shapes = [p.shape for p in params]
    flat0 = torch.cat([p.detach().reshape(-1) for p in params])

    def loss() -> torch.Tensor:
        return torch.nn.functional.cross_entropy(net(X), y)

    def flat_loss(flat: torch.Tensor) -> torch.Tensor:
        out, i = [], 0
        for s in shapes:
            k = s.numel()
            out.append(flat[i:i + k].reshape(s))
            i += k
        return torch.nn.functional.cross_entropy(
            torch.func.functional_call(net, dict(zip(names, out)), (X,)), y)

    def ours() -> float:
        return hessian_top_eigenvalue(loss, params, iters=200, tol=1e-8,
                                      generator=torch.Generator().manual_seed(0)).eigenvalue

    def dense() -> float:
        H = torch.autograd.functional.hessian(flat_loss, flat0)
        ev = torch.linalg.eigvalsh(H)
        return float(ev[ev.abs().argmax()])

    times = interleaved({"ours": ours, "dense": dense}, repeats)
    a, b = ours(), dense()
    mo, md = times["ours"].wall, times["dense"].wall
    print(f"MLP 64-{hidden}-10 on digits ({flat0.numel()} parameters, n = {len(X)}), float64, CPU, "
          f"{torch.get_num_threads()} thread(s), median of {repeats}")
    print(f"  power iteration (HVP):      lambda = {a:.8f}   median {mo * 1e3:9.1f} ms")
    print(f"  dense Hessian + eigvalsh:   lambda = {b:.8f}   median {md * 1e3:9.1f} ms")
    print(f"  relative difference {abs(a - b) / abs(b):.2e};  dense / power-iteration time = {md / mo:.1f}x")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--hidden", default="16,32", help="comma-separated hidden widths")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=None, help="torch and BLAS threads (default: runtime.set_threads())")
    args = ap.parse_args()
    runtime.set_threads(args.threads)  # torch and BLAS alike
    for h in args.hidden.split(","):
        main(int(h), args.repeats)
