"""Sleep at cortical scale: 100,000 rate neurons, ~10 million synapses, against plain Brian2.

Network (issue #9): ``n`` leaky linear rate units in clusters of 1,000 (one cluster when
``n <= 1000``), symmetric and diagonally dominant, ``k`` synapses per neuron of which
``long_range`` (on average) go to other clusters, weights ``~ 1/k`` so that every leak is
``~ 2`` (``A = -D + W``, :func:`plasticsim.networks.clustered` with ``sparse=True``):

    tau dx_i/dt = -leak_i x_i + sum_j w_ij x_j + sigma sqrt(tau) xi_i(t),

``tau = 10 ms``, ``dt = 0.1 ms``, white noise, Brian2's cython target (runtime device).

Sides, each measured in its own fresh process (so that each has its own peak resident
memory) with the network loaded from the same file, ``--repeats`` times, interleaved:

- ``plain``: the Brian2 script a user writes: a ``NeuronGroup``, ``(summed)`` recurrent
  input, and a per-synapse trace ``dtrace/dt = |w| (x_post - sgn x_pre)^2`` integrated on
  its own clock every ``tau/10`` (``Synapses(..., dt=tau/10)``, the sign stored once per
  synapse; BRIAN2_NOTES.md). Printed: code load (build and one step of a 20-neuron copy:
  code generation and loading the compiled code from the cache), build time of the
  real network (objects, ``connect``, variables), its first one-step run, run time of
  ``--duration`` tau, synapse-steps per second (synapses x neuron steps / run time) and
  peak resident memory of the process.
- ``plasticsim``: :class:`plasticsim.online.RateNetwork` on the same network: build,
  warm-up (compile), a wake of 10 tau, one sleep epoch of ``--duration`` tau with
  decisions at density 0.1 and compaction, a wake of 10 tau after pruning, the kept
  fraction and peak memory; and its ratios to the plain script measured in this run.
  The epoch's time outside Brian2's runs (reading the table, pairing, decisions, leak
  updates, the checks after the decisions and compaction) is printed as "decisions +
  compaction". The network is given as the sparse ``A``; with ``--plasticsim-input
  dense`` as ``A.toarray()`` instead (small ``n`` only).

Also printed: generation time of the network (median over the repeats, in this
process), and synapse-steps per second at the largest size over the smallest (same
synapses per neuron): ~1 when no super-linear cost is left. Medians of ``--repeats``
runs; the machine's load average is printed next to them (timings on a shared machine
are noisy). Nothing here is asserted. Each side is first compiled once, in a process of
its own, on a 20-neuron copy (cold with the default ``--cache-dir``, a fresh temporary
directory), so that every measured process loads the same compiled code.

    python benchmarks/large.py [--sizes 1000 100000] [--repeats 3] [--duration 50]
                               [--sides plain plasticsim]
"""

from __future__ import annotations

import argparse
import gc
import os
import resource
import statistics
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context

import numpy as np
import scipy.sparse as sp

from plasticsim.networks import clustered

TAU_MS = 10.0
DT_MS = 0.1
TRACE_DT_MS = TAU_MS / 10  # plasticsim's default trace interval, tau / 10
SIGMA = 1.0
CLUSTER = 1000
DENSE_LIMIT = 5000  # --plasticsim-input dense only up to this many neurons


# --------------------------------------------------------------------------- network


def network(n: int, k: float, long_range: float, seed: int) -> sp.csr_array:
    """The benchmark network: clusters of ``CLUSTER`` neurons, ``k`` synapses per neuron.

    ``(m - 1) p_in + (n - m) p_out = k`` with ``(n - m) p_out = long_range`` (one cluster,
    no long-range links, when ``n <= CLUSTER``). Weights ``1/k``: row sums ~1, leak ~2.
    """
    m = min(CLUSTER, n)
    if n % m:
        raise SystemExit(f"--sizes: {n} is not a multiple of the cluster size {m}.")
    long_range = long_range if n > m else 0.0
    p_in = (k - long_range) / (m - 1)
    p_out = long_range / (n - m) if n > m else 0.0
    if not 0 <= p_in <= 1:
        raise SystemExit(f"--synapses-per-neuron {k}: needs p_in == {p_in:.3g} in [0, 1].")
    return clustered(
        [m] * (n // m),
        p_in=p_in,
        p_out=p_out,
        w_in=1.0 / k,
        w_out=1.0 / k,
        sparse=True,
        rng=seed,
    )


def synapse_lists(A: sp.csr_array):
    """``pre, post, w`` of the off-diagonal entries (Brian2's form) and the leaks."""
    post = np.repeat(np.arange(A.shape[0]), np.diff(A.indptr))
    pre = A.indices
    off = pre != post
    return pre[off], post[off], A.data[off], -A.diagonal()


# --------------------------------------------------------------------------- children


def _peak_rss() -> int:
    """Peak resident set size of this process in bytes (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _brian2_setup(cache_dir: str, seed: int):
    import brian2

    brian2.prefs.codegen.target = "cython"
    brian2.prefs.codegen.runtime.cython.cache_dir = cache_dir
    brian2.prefs.logging.file_log = False
    brian2.prefs.logging.save_script = False
    brian2.seed(seed)
    return brian2


def _plain_objects(b2, A: sp.csr_array):
    """The plain script's Brian2 objects for ``A`` (the same names, so the same code)."""
    ms = b2.ms
    pre, post, w, leak = synapse_lists(A)
    G = b2.NeuronGroup(
        A.shape[0],
        """dx/dt = (-leak*x + I_syn)/tau + sigma*xi/sqrt(tau) : 1
           leak : 1 (constant)
           I_syn : 1""",
        method="euler",
        dt=DT_MS * ms,
        name="neurons",
    )
    G.leak = leak
    # The trace on its own clock (every tau/10); the summed input stays on G's clock.
    S = b2.Synapses(
        G,
        G,
        """w : 1
           sgn : 1 (constant)
           I_syn_post = w*x_pre : 1 (summed)
           dtrace/dt = abs(w)*(x_post - sgn*x_pre)**2 : second (clock-driven)""",
        method="euler",
        dt=TRACE_DT_MS * ms,
        name="synapses",
    )
    S.connect(i=pre, j=post)
    S.w = w
    S.sgn = np.sign(w)
    return b2.Network(G, S), G


def _warm_up(build, run) -> float:
    """Seconds to build and run one step of a 20-neuron copy: code generation and
    compilation (or loading from the cache), so that the timings that follow are not."""
    t0 = time.perf_counter()
    net = build(clustered([20], p_in=0.5, n_strong=0, sparse=True, rng=0))
    run(net)
    del net
    gc.collect()  # frees the objects' names for the real network
    return time.perf_counter() - t0


def _plain_warm_up(b2, cfg: dict) -> float:
    ns = {"tau": TAU_MS * b2.ms, "sigma": SIGMA}
    return _warm_up(
        lambda A: _plain_objects(b2, A)[0], lambda net: net.run(DT_MS * b2.ms, namespace=ns)
    )


def measure_plain(path: str, cfg: dict) -> dict:
    """The plain Brian2 script on the network stored at ``path``, in this process."""
    b2 = _brian2_setup(cfg["cache_dir"], cfg["seed"])
    ms = b2.ms
    ns = {"tau": TAU_MS * ms, "sigma": SIGMA}
    compile_ = _plain_warm_up(b2, cfg)
    A = sp.load_npz(path).tocsr()
    rss_start = _rss()
    t0 = time.perf_counter()
    net, G = _plain_objects(b2, A)
    build = time.perf_counter() - t0
    m = A.nnz - A.shape[0]
    del A
    t0 = time.perf_counter()
    net.run(DT_MS * ms, namespace=ns)
    first = time.perf_counter() - t0
    t0 = time.perf_counter()
    net.run(cfg["duration"] * TAU_MS * ms, namespace=ns)
    run = time.perf_counter() - t0
    steps = int(round(cfg["duration"] * TAU_MS / DT_MS))
    if not np.all(np.isfinite(G.x[:])):
        raise RuntimeError("plain: the simulation diverged (non-finite x).")
    return {
        "synapses": m,
        "compile_s": compile_,
        "build_s": build,
        "first_step_s": first,
        "run_s": run,
        "syn_steps_per_s": m * steps / run,
        "rss_start_bytes": rss_start,
        "peak_rss_bytes": _peak_rss(),
        "load": os.getloadavg()[0],
    }


def _plasticsim_kwargs(b2, cfg: dict) -> dict:
    ms = b2.ms
    return dict(tau=TAU_MS * ms, sigma=SIGMA, dt=DT_MS * ms, target="cython", rng=cfg["seed"])


def _plasticsim_first_runs(b2, net) -> None:
    """A one-step wake and a two-sample sleep without decisions: every code object runs."""
    net.wake(DT_MS * b2.ms, record=False)
    net.sleep(2 * TRACE_DT_MS * b2.ms, decide=False, burn_in=0 * b2.ms)


def _plasticsim_warm_up(b2, cfg: dict) -> float:
    from plasticsim.online import RateNetwork

    dense = cfg["plasticsim_input"] == "dense"
    kw = _plasticsim_kwargs(b2, cfg)
    return _warm_up(
        lambda A: RateNetwork.from_matrix(A.toarray() if dense else A, **kw),
        lambda net: _plasticsim_first_runs(b2, net),
    )


def measure_plasticsim(path: str, cfg: dict) -> dict:
    """plasticsim's RateNetwork on the network stored at ``path``, in this process.

    Build (validation and checks included), warm-up (compilation), a wake of 10 tau, one
    sleep epoch of ``duration`` tau with decisions at density 0.1 and compaction, a wake
    of 10 tau after pruning. The sleep epoch's ``wall_time`` is plasticsim's own.
    """
    b2 = _brian2_setup(cfg["cache_dir"], cfg["seed"])
    from plasticsim.online import RateNetwork

    ms = b2.ms
    A = sp.load_npz(path).tocsr()
    n = A.shape[0]
    if cfg["plasticsim_input"] == "dense":
        if n > DENSE_LIMIT:
            raise ValueError(
                f"--plasticsim-input dense: n == {n} > {DENSE_LIMIT}, would form an n x n array."
            )
        A = A.toarray()
    compile_ = _plasticsim_warm_up(b2, cfg)
    rss_start = _rss()
    t0 = time.perf_counter()
    net = RateNetwork.from_matrix(A, **_plasticsim_kwargs(b2, cfg))
    build = time.perf_counter() - t0
    m = net.n_synapses
    del A
    t0 = time.perf_counter()
    _plasticsim_first_runs(b2, net)
    first = time.perf_counter() - t0
    wake_steps = int(round(10 * TAU_MS / DT_MS))
    t0 = time.perf_counter()
    net.wake(10 * TAU_MS * ms, record=False)
    wake_before = time.perf_counter() - t0
    in_brian2 = []  # wall time of each Brian2 run of the epoch
    run_epoch = net._run

    def timed_run(*args, **kwargs):
        t0 = time.perf_counter()
        try:
            return run_epoch(*args, **kwargs)
        finally:
            in_brian2.append(time.perf_counter() - t0)

    net._run = timed_run
    rep = net.sleep(cfg["duration"] * TAU_MS * ms, density=0.1)
    del net._run
    t0 = time.perf_counter()
    net.wake(10 * TAU_MS * ms, record=False)
    wake_after = time.perf_counter() - t0
    steps = int(round(cfg["duration"] * TAU_MS / DT_MS))
    return {
        "synapses": m,
        "compile_s": compile_,
        "build_s": build,
        "first_step_s": first,
        "run_s": rep.wall_time,  # the whole epoch: burn-in, traces, decisions, compaction
        "decide_s": rep.wall_time - sum(in_brian2),
        "burn_in_tau": float(rep.burn_in) / (TAU_MS * 1e-3),
        "syn_steps_per_s": m * steps / rep.wall_time,
        "wake_before_s": wake_before,
        "wake_after_s": wake_after,
        "wake_before_syn_steps_per_s": m * wake_steps / wake_before,
        "wake_after_syn_steps_per_s": net.n_synapses * wake_steps / wake_after,
        "kept_fraction": rep.counts_after["STABLE"] / rep.counts_before["LABILE"],
        "rss_start_bytes": rss_start,
        "peak_rss_bytes": _peak_rss(),
        "load": os.getloadavg()[0],
    }


SIDES = {"plain": measure_plain, "plasticsim": measure_plasticsim}
WARM_UPS = {"plain": _plain_warm_up, "plasticsim": _plasticsim_warm_up}


def compile_side(side: str, cfg: dict) -> float:
    """Seconds to compile (cold cache) one side's code on a 20-neuron copy."""
    return WARM_UPS[side](_brian2_setup(cfg["cache_dir"], cfg["seed"]), cfg)


def in_child(fn, *args):
    """Run ``fn(*args)`` in a fresh interpreter: its peak memory is its own."""
    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as ex:
        return ex.submit(fn, *args).result()


# --------------------------------------------------------------------------- report


ROWS = [  # key, label, scale, unit
    ("compile_s", "code load (20-neuron copy)", 1.0, "s"),
    ("build_s", "build", 1.0, "s"),
    ("first_step_s", "first run (cache load)", 1.0, "s"),
    ("run_s", "run / sleep epoch", 1.0, "s"),
    ("syn_steps_per_s", "  per synapse-step", 1e-6, "M synapse-steps/s"),
    ("decide_s", "decisions + compaction", 1.0, "s"),
    ("burn_in_tau", "default burn-in", 1.0, "tau"),
    ("wake_before_s", "wake 10 tau, before", 1.0, "s"),
    ("wake_after_s", "wake 10 tau, after pruning", 1.0, "s"),
    ("kept_fraction", "kept fraction", 1.0, ""),
    ("rss_start_bytes", "RSS before build", 1e-9, "GB"),
    ("peak_rss_bytes", "peak RSS", 1e-9, "GB"),
]


def _median(runs: list[dict], key: str):
    vals = [r[key] for r in runs if key in r]
    return statistics.median(vals) if vals else None


def report(size: int, gen_times: list[float], results: dict[str, list[dict]]) -> None:
    m = results[next(iter(results))][0]["synapses"]
    print(
        f"\nn = {size:,}, {m:,} synapses ({m / size:.1f} per neuron); generation "
        f"{statistics.median(gen_times):.2f} s (runs {[round(t, 2) for t in gen_times]})"
    )
    sides = list(results)
    print(f"  {'':28s}" + "".join(f"{s:>14s}" for s in sides))
    for key, label, scale, unit in ROWS:
        meds = [_median(results[s], key) for s in sides]
        if all(v is None for v in meds):
            continue
        cells = "".join(f"{'-':>14s}" if v is None else f"{v * scale:14.3f}" for v in meds)
        print(f"  {label:28s}{cells}  {unit}")
    for s in sides:
        loads = [round(r["load"], 1) for r in results[s]]
        runs = [round(r["run_s"], 2) for r in results[s]]
        compiles = [round(r["compile_s"], 2) for r in results[s]]
        print(f"  {s}: run {runs} s, code load {compiles} s, load average {loads}")
    if "plain" in results and "plasticsim" in results:
        print("  ratios plasticsim / plain (medians, same run):")
        for key, label in [
            ("build_s", "build"),
            ("run_s", "epoch / run, same simulated time"),
            ("syn_steps_per_s", "throughput"),
            ("peak_rss_bytes", "peak RSS"),
        ]:
            ratio = _median(results["plasticsim"], key) / _median(results["plain"], key)
            print(f"    {label:34s}{ratio:8.3f}")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 100_000])
    parser.add_argument("--synapses-per-neuron", type=float, default=100.0)
    parser.add_argument("--long-range", type=float, default=1.0, help="per neuron")
    parser.add_argument("--duration", type=float, default=50.0, help="in units of tau")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--sides", nargs="+", choices=list(SIDES), default=["plain"])
    parser.add_argument("--plasticsim-input", choices=["sparse", "dense"], default="sparse")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cache-dir", default=None, help="Cython cache (default: fresh)")
    args = parser.parse_args(argv)
    if args.repeats < 1 or args.duration <= 0:
        raise SystemExit("--repeats must be >= 1 and --duration > 0.")

    with tempfile.TemporaryDirectory(prefix="plasticsim-large-") as tmp:
        cfg = {
            "seed": args.seed,
            "duration": args.duration,
            "plasticsim_input": args.plasticsim_input,
            "cache_dir": args.cache_dir or os.path.join(tmp, "cython-cache"),
        }
        print(
            f"tau = {TAU_MS} ms, dt = {DT_MS} ms, trace every {TRACE_DT_MS} ms, "
            f"{args.duration:g} tau per run, {args.repeats} repeats, seed {args.seed}; "
            f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}"
        )
        # Compile each side once (cold unless --cache-dir holds it already), so that
        # every measured process loads the same compiled code.
        for side in args.sides:
            t = in_child(compile_side, side, cfg)
            print(f"{side}: code generation + compilation {t:.1f} s (20-neuron copy)")
        throughput = {s: {} for s in args.sides}
        for size in args.sizes:
            gen_times = []
            for _ in range(args.repeats):
                t0 = time.perf_counter()
                A = network(size, args.synapses_per_neuron, args.long_range, args.seed)
                gen_times.append(time.perf_counter() - t0)
            path = os.path.join(tmp, f"A_{size}.npz")
            sp.save_npz(path, A, compressed=False)
            del A
            results = {s: [] for s in args.sides}
            for _ in range(args.repeats):
                for side in args.sides:
                    results[side].append(in_child(SIDES[side], path, cfg))
            report(size, gen_times, results)
            for s in args.sides:
                throughput[s][size] = _median(results[s], "syn_steps_per_s")
            os.remove(path)
        if len(args.sizes) > 1:
            lo, hi = min(args.sizes), max(args.sizes)
            print(f"\nthroughput at n = {hi:,} / at n = {lo:,} (same synapses per neuron):")
            for s in args.sides:
                print(f"  {s:12s}{throughput[s][hi] / throughput[s][lo]:8.3f}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
