"""How much a gradient check costs beyond the autograd call it cannot avoid.

Baseline: the float64 torch.autograd.grad call alone, at the same inputs. Measured: the full
check_gradient (coercion, shape, tolerance, message). Both run side by side here, interleaved;
the script prints the per-call times and their ratio for the course's sizes and a large one.

    python benchmarks/checker_speed.py
"""

import statistics
import time

import torch

from autograder import check_gradient


def timed(fn, repeat=200):
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def loss(w, x):
    return torch.sigmoid(x @ w).pow(2).mean()


def main():
    torch.manual_seed(0)
    print(f"{'size':>12} {'autograd only':>14} {'check_gradient':>15} {'ratio':>7}")
    for n, d in [(1, 3), (8, 5), (64, 32), (1024, 256)]:
        x = torch.randn(n, d, dtype=torch.float64)
        w = torch.randn(d, dtype=torch.float64)

        def baseline(w=w, x=x):
            leaves = (w.clone().requires_grad_(True), x.clone().requires_grad_(True))
            return torch.autograd.grad(loss(*leaves), leaves)

        answers = [g.float() for g in baseline()]  # a student's answers, in float32

        def check(answers=answers, w=w, x=x):
            report = check_gradient(answers, loss, w, x)
            assert report.ok, report.message("en")

        base, full = timed(baseline), timed(check)
        print(f"{f'{n}x{d}':>12} {base * 1e6:>11.0f} µs {full * 1e6:>12.0f} µs {full / base:>6.1f}x")


if __name__ == "__main__":
    main()
