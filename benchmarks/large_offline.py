"""The offline rule at scale: sketched scores, sparsify and the slowest modes of sparse networks.

Network: :func:`plasticsim.networks.clustered` with ``sparse=True``, ``n`` neurons in
clusters of ``--cluster``, ``--per-neuron`` synapses per neuron inside clusters and about
one long-range synapse per neuron, weights ``1 / per-neuron``, leak ``--leak`` (symmetric,
``-A`` diagonally dominant). Defaults: 100,000 neurons, ~10 million synapses.

Printed (wall times on a shared machine are noisy; the baseline is one sparse product
``A @ x`` measured in the same run, and every phase is also given in units of it):

- ``solvers``: the linear solves behind the sketch, ``--rhs`` right-hand sides of
  ``-A y = r``: pyamg smoothed aggregation and Ruge-Stuben (setup, time per solve,
  iterations) and scipy's one-column Jacobi-CG, all to relative residual ``1e-4`` (which
  leaves the slow modes unresolved), and the deflated blocked Jacobi-CG the sketch uses
  with its per-score energy-norm rule (setup = the slow eigenvectors; time per column);
- ``accuracy``: sketched scores of ``--n-ref`` long-range synapses (between clusters)
  against a reference (pyamg smoothed aggregation + CG to relative residual ``1e-12``);
- ``pipeline``: ``pruning_probabilities(A, density=0.1, method="sketch")`` at the default
  ``eps`` and ``sparsify`` (issue target: <= 120 s together), the process's peak
  resident memory after it;
- ``eigen``: :func:`plasticsim.slowest_eigenvalues` (ARPACK Lanczos per connected
  group) of the original and the pruned network, 10 modes (target: <= 60 s each);
  ``--shift-invert`` adds ARPACK shift-invert (a sparse LU: impractical at this size);
- ``quality``: the slowest-5 relative eigenvalue error of noise-prune and of the weight
  baseline at the same density.

Nothing is asserted. On a shared, loaded machine run it with ``OPENBLAS_NUM_THREADS=1``:
ARPACK's small threaded BLAS calls otherwise wait on busy cores (slowest 10 modes at
100,000 neurons: 99 s with the default threads against 15 s with one thread, load ~8).

    python benchmarks/large_offline.py [--n 100000] [--per-neuron 100] [--cluster 1000]
        [--leak 1.0] [--p-out P] [--weight W] [--repeats 1] [--n-ref 10] [--rhs 16]
        [--sections solvers accuracy pipeline eigen quality]

The slow-mode networks (10 clusters, ~10 long-range synapses per pair of clusters)::

    python benchmarks/large_offline.py --cluster 10000 --per-neuron 99 --p-out 1e-7 \
        --weight 0.0077 --leak 1e-4     # and --leak 1e-6
"""

from __future__ import annotations

import argparse
import os
import resource
import time

import numpy as np
import scipy.sparse as sps
import scipy.sparse.linalg as spla

from plasticsim import (
    compare_spectra,
    control_probabilities,
    pruning_probabilities,
    slowest_eigenvalues,
    sparsify,
)
from plasticsim._sparse import synapse_list
from plasticsim.networks import clustered
from plasticsim.sketch import (
    DEFAULT_EPS,
    DEFAULT_MAX_MODES,
    DEFAULT_RTOL,
    _check_sketchable,
    _deflation,
    _solve,
    sketch_dimension,
    sketch_scores,
)


def peak_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6  # kB on Linux


def timed(f, *args, **kw):
    t0 = time.perf_counter()
    out = f(*args, **kw)
    return out, time.perf_counter() - t0


def spmv_time(A, repeats=9) -> float:
    x = np.ones(A.shape[0])
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        A @ x
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def solvers(A, n_rhs: int, base: float) -> None:
    import pyamg

    M = (-A).tocsr()
    R = np.random.default_rng(1).standard_normal((A.shape[0], n_rhs))
    rtol = 1e-4  # relative residual of the baselines
    print(
        f"solvers: {n_rhs} right-hand sides of -A y = r; baselines to relative residual "
        f"{rtol:g}, the sketch's solver to its per-score rtol {DEFAULT_RTOL:g}"
    )
    for name, build in (
        ("pyamg SA", pyamg.smoothed_aggregation_solver),
        ("pyamg RS", pyamg.ruge_stuben_solver),
    ):
        ml, t_setup = timed(build, M)
        its, t0 = [], time.perf_counter()
        for c in range(n_rhs):
            res: list = []
            ml.solve(R[:, c], tol=rtol, accel="cg", maxiter=500, residuals=res)
            its.append(len(res) - 1)
        per = (time.perf_counter() - t0) / n_rhs
        print(
            f"  {name:22s} setup {t_setup:7.2f} s  per solve {per:7.3f} s "
            f"({per / base:7.0f} A@x)  iterations {int(np.median(its))}"
        )
    dinv = sps.diags_array(1.0 / M.diagonal())
    its, t0 = [], time.perf_counter()
    for c in range(n_rhs):
        count = [0]
        spla.cg(
            M, R[:, c], rtol=rtol, M=dinv, callback=lambda _x, c=count: c.__setitem__(0, c[0] + 1)
        )
        its.append(count[0])
    per = (time.perf_counter() - t0) / n_rhs
    print(
        f"  {'scipy CG + Jacobi':22s} setup    0.00 s  per solve {per:7.3f} s "
        f"({per / base:7.0f} A@x)  iterations {int(np.median(its))} (relative residual only)"
    )
    slack = _check_sketchable(A)
    defl, t_d = timed(_deflation, M, slack, DEFAULT_MAX_MODES, np.random.default_rng(0))
    q = sketch_dimension(A.shape[0], DEFAULT_EPS)
    _, t = timed(
        _solve,
        M,
        R / np.sqrt(q),
        atol2=DEFAULT_RTOL**2 / q,
        rtol2=0.0,
        solver="jacobi",
        maxiter=1000,
        defl=defl,
        shown=DEFAULT_RTOL,
    )
    per = t / n_rhs
    print(
        f"  {'deflated Jacobi-CG':22s} setup {t_d:7.2f} s  per solve {per:7.3f} s "
        f"({per / base:7.0f} A@x)  {defl.k} modes deflated, energy floor {defl.floor:.3g} "
        f"(the sketch's solver and per-score rule, q = {q})"
    )


def accuracy(A, cluster: int, n_ref: int, seed: int, base: float) -> None:
    """Long-range scores, sketched against a reference: pyamg smoothed aggregation + CG
    to relative residual 1e-12 (AMG resolves the slow modes; kappa <= 1e7 leaves a
    relative error <= ~1e-8), one synapse at a time."""
    import pyamg

    n = A.shape[0]
    i, j, a = synapse_list(A)
    long = np.flatnonzero((i // cluster != j // cluster) & (i < j))
    if long.size == 0:
        print("accuracy: no long-range synapses")
        return
    sel = np.random.default_rng(seed).choice(long, min(n_ref, long.size), replace=False)
    M = (-A).tocsr()
    ml, t_setup = timed(pyamg.smoothed_aggregation_solver, M)
    ref, t0 = [], time.perf_counter()
    for e in sel:
        b = np.zeros(n)
        b[i[e]] = 1.0
        b[j[e]] -= np.sign(a[e])
        ref.append(0.5 * abs(a[e]) * b @ ml.solve(b, tol=1e-12, accel="cg", maxiter=5000))
    t_ref = (time.perf_counter() - t0) / sel.size
    S, t_s = timed(sketch_scores, A, rng=seed)
    ratio = np.array([S[i[e], j[e]] for e in sel]) / np.array(ref)
    print(
        f"accuracy: {sel.size} long-range synapses, sketched / reference score: min "
        f"{ratio.min():.3f}, median {np.median(ratio):.3f}, max {ratio.max():.3f} "
        f"(reference: AMG setup {t_setup:.1f} s, {t_ref:.1f} s per synapse; sketch "
        f"{t_s:.1f} s, {t_s / base:.0f} A@x)"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--per-neuron", type=int, default=100)
    ap.add_argument("--cluster", type=int, default=1000)
    ap.add_argument("--leak", type=float, default=1.0)
    ap.add_argument("--p-out", type=float, default=None, help="default 1 / (n - cluster)")
    ap.add_argument("--weight", type=float, default=None, help="default 1 / per-neuron")
    ap.add_argument("--repeats", type=int, default=1, help="pipeline runs (median)")
    ap.add_argument("--n-ref", type=int, default=10, help="reference scores (accuracy)")
    ap.add_argument("--density", type=float, default=0.1)
    ap.add_argument("--rhs", type=int, default=16)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--shift-invert", action="store_true")
    ap.add_argument(
        "--sections",
        nargs="+",
        default=["solvers", "accuracy", "pipeline", "eigen", "quality"],
    )
    args = ap.parse_args()
    m, k = args.cluster, args.per_neuron
    A, t_gen = timed(
        clustered,
        [m] * (args.n // m),
        p_in=k / (m - 1),
        p_out=1.0 / max(args.n - m, 1) if args.p_out is None else args.p_out,
        w_in=1.0 / k if args.weight is None else args.weight,
        w_out=1.0 / k if args.weight is None else args.weight,
        leak=args.leak,
        sparse=True,
        rng=args.seed,
    )
    n = A.shape[0]
    base = spmv_time(A)
    print(
        f"network: n {n}, stored entries {A.nnz}, generated in {t_gen:.1f} s; "
        f"baseline A@x {base * 1e3:.1f} ms; load average {os.getloadavg()[0]:.1f}; "
        f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}"
    )
    if "solvers" in args.sections:
        solvers(A, args.rhs, base)
    if "accuracy" in args.sections:
        accuracy(A, m, args.n_ref, args.seed, base)
    B = None
    if {"pipeline", "eigen", "quality"} & set(args.sections):
        q = sketch_dimension(n, DEFAULT_EPS)
        runs = []
        for _ in range(max(1, args.repeats)):
            P, t_p = timed(
                pruning_probabilities, A, density=args.density, method="sketch", rng=args.seed
            )
            B, t_s = timed(sparsify, A, P, rng=args.seed)
            runs.append((t_p, t_s, base if len(runs) == 0 else spmv_time(A)))
        t_p, t_s, b_now = (float(np.median(c)) for c in zip(*runs, strict=True))
        total = t_p + t_s
        print(
            f"pipeline: eps {DEFAULT_EPS} (q = {q}), median of {len(runs)}: sketch + "
            f"probabilities {t_p:.1f} s, sparsify {t_s:.1f} s, total {total:.1f} s "
            f"({total / b_now:.0f} A@x; target <= 120 s); kept "
            f"{(B.nnz - n) / (A.nnz - n):.3f}; peak RSS {peak_gb():.2f} GB; load average "
            f"{os.getloadavg()[0]:.1f}"
        )
    if "eigen" in args.sections:
        for name, X in (("original", A), ("pruned", B)):
            lam, t = timed(slowest_eigenvalues, X, 10)
            print(
                f"eigen: slowest 10 of the {name} network, Lanczos {t:.1f} s "
                f"({t / base:.0f} A@x; target <= 60 s): {np.round(lam[:3], 4)} ..."
            )
            if args.shift_invert:
                lam2, t2 = timed(slowest_eigenvalues, X, 10, solver="shift-invert")
                print(
                    f"       shift-invert {t2:.1f} s, max difference "
                    f"{float(np.max(np.abs(lam2 - lam))):.2e}"
                )
        print(f"eigen: peak RSS {peak_gb():.2f} GB")
    if "quality" in args.sections:
        noise = compare_spectra(A, B, slowest=5, n_probes=0)
        Pw = control_probabilities(A, strategy="weight", density=args.density)
        weight = compare_spectra(A, sparsify(A, Pw, rng=args.seed), slowest=5, n_probes=0)
        print(
            f"quality: slowest-5 relative error, noise-prune {noise.slowest_error(5):.4f}, "
            f"weight baseline {weight.slowest_error(5):.4f}"
        )


if __name__ == "__main__":
    main()
