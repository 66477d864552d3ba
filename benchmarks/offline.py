"""Speed of the exact (offline) path against the bare LAPACK Lyapunov solve.

For each size it prints the median wall time of

- ``scipy.linalg.solve_continuous_lyapunov(A, -I)`` (the baseline, same run),
- ``pruning_probabilities(A, density=0.1)`` for a general ``A`` (covariance + scores + k),
- the same for a symmetric ``A`` (Cholesky path),

the ratios general / Lyapunov and general / symmetric, and the peak memory of one call
in units of one n x n float64 array (tracemalloc sees numpy's allocations).

Targets: general <= 1.2x Lyapunov; symmetric >= 5x faster than general.

    python benchmarks/offline.py [--sizes 500 1000 2000] [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import time
import tracemalloc

import numpy as np
import scipy
import scipy.linalg as sla

from plasticsim import pruning_probabilities


def network(n: int, rng: np.random.Generator, symmetric: bool) -> np.ndarray:
    W = rng.uniform(0.1, 1.0, (n, n)) * (rng.random((n, n)) < 0.1)
    W *= rng.choice([-1.0, 1.0], (n, n))
    if symmetric:
        W = np.triu(W, 1)
        W = W + W.T
    np.fill_diagonal(W, 0.0)
    return W - np.diag(np.abs(W).sum(axis=1) + 1.0)


def median_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def peak_arrays(fn, n: int) -> float:
    tracemalloc.start()
    fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / (8.0 * n * n)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[500, 1000, 2000])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    print(f"numpy {np.__version__}, scipy {scipy.__version__}")
    header = (
        f"{'n':>6} {'lyap [s]':>9} {'general [s]':>11} {'sym [s]':>8} "
        f"{'gen/lyap':>9} {'gen/sym':>8} {'peak gen':>9} {'peak sym':>9}"
    )
    print(header)
    rng = np.random.default_rng(0)
    for n in args.sizes:
        G = network(n, rng, symmetric=False)
        S = network(n, rng, symmetric=True)
        eye = np.eye(n)

        def lyap(G=G, eye=eye):
            return sla.solve_continuous_lyapunov(G, -eye)

        def general(G=G):
            return pruning_probabilities(G, density=0.1)

        def sym(S=S):
            return pruning_probabilities(S, density=0.1)

        general()  # warm-up (imports, page faults)
        t_lyap = median_time(lyap, args.repeats)
        t_gen = median_time(general, args.repeats)
        t_sym = median_time(sym, args.repeats)
        mem_gen = peak_arrays(general, n)
        mem_sym = peak_arrays(sym, n)
        print(
            f"{n:>6} {t_lyap:>9.3f} {t_gen:>11.3f} {t_sym:>8.3f} "
            f"{t_gen / t_lyap:>9.2f} {t_gen / t_sym:>8.1f} {mem_gen:>9.1f} {mem_sym:>9.1f}"
        )


if __name__ == "__main__":
    main()
