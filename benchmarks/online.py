"""Speed of the online sleep simulator against a plain Brian2 script of the same network.

Network: N = 1000 rate units, ~10% connectivity (~100k synapses, signed, asymmetric),
white noise, tau = 10 ms, dt = 0.1 ms, Brian2's cython target. Printed, as medians of
``--repeats`` interleaved runs measured in this one process:

1. sleep throughput in synapse-steps per second (synapses x neuron steps / wall time) of
   ``net.sleep(decide=False)``, next to two plain Brian2 scripts with the summed recurrent
   input and a per-step trace update (default runtime target):

   - ``plain``: the script one writes first,
     ``dtrace/dt = abs(w)*(x_post - sign(w)*x_pre)**2 : second (clock-driven)``;
   - ``plain+sgn``: the same with the sign stored once per synapse (a stronger baseline
     that already has one of plasticsim's two optimisations);

   and the ratios. plasticsim samples the trace every ``trace_dt = tau/10`` instead of
   every dt; the statistical cost is printed too (variance factor
   ``(D/2tc) coth(D/2tc)`` of the score estimate, for the slowest mode).
2. prune to 10% (``sleep(density=0.1)``, compacted) and the wake-time ratio of the pruned
   to the unpruned network (``wake(record=False)``, same noise, same duration).

Targets (issue #3): sleep >= 3x plain; pruned wake <= 0.2x unpruned.

    python benchmarks/online.py [--repeats 5] [--duration 1.0]
"""

from __future__ import annotations

import argparse
import math
import statistics
import time

import numpy as np
from brian2 import Network, NeuronGroup, Synapses, ms, prefs, second

from plasticsim.networks import erdos_renyi
from plasticsim.online import RateNetwork

TAU = 10 * ms
DT = 0.1 * ms
SIGMA = 1.0


def plain_network(A: np.ndarray, stored_sign: bool) -> Network:
    """The plain Brian2 script: summed input and a per-step trace, default target."""
    n = A.shape[0]
    G = NeuronGroup(
        n,
        """dx/dt = (-leak*x + I_syn)/tau + sigma*xi/sqrt(tau) : 1
           leak : 1
           I_syn : 1""",
        method="euler",
        dt=DT,
    )
    G.leak = -np.diag(A)
    if stored_sign:
        model = """w : 1
                   sgn : 1 (constant)
                   I_syn_post = w*x_pre : 1 (summed)
                   dtrace/dt = abs(w)*(x_post - sgn*x_pre)**2 : second (clock-driven)"""
    else:
        model = """w : 1
                   I_syn_post = w*x_pre : 1 (summed)
                   dtrace/dt = abs(w)*(x_post - sign(w)*x_pre)**2 : second (clock-driven)"""
    S = Synapses(G, G, model, method="euler", dt=DT)
    off = A.copy()
    np.fill_diagonal(off, 0.0)
    post, pre = np.nonzero(off)
    S.connect(i=pre, j=post)
    S.w = off[post, pre]
    if stored_sign:
        S.sgn = np.sign(off[post, pre])
    return Network(G, S)


def timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--p", type=float, default=0.1)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--duration", type=float, default=1.0, help="seconds per run")
    args = parser.parse_args(argv)
    prefs.logging.file_log = False
    prefs.codegen.target = "auto"  # the plain scripts use Brian2's default runtime target
    duration = args.duration * second
    steps = int(round(float(duration) / float(DT)))

    # Mean |w| = 1/(n p): the leak (row sum + 1) stays ~2, not ~n p.
    A = erdos_renyi(
        args.n, args.p, weight=1.0 / (args.n * args.p), symmetric=False, signed=True, rng=0
    )
    m = int(np.count_nonzero(A)) - args.n
    print(f"network: n={args.n}, synapses={m}, tau={TAU}, dt={DT}, {steps} steps per run")

    t0 = time.perf_counter()
    net = RateNetwork.from_matrix(A, tau=TAU, sigma=SIGMA, dt=DT, target="cython", rng=1)
    fresh = RateNetwork.from_matrix(A, tau=TAU, sigma=SIGMA, dt=DT, target="cython", rng=1)
    plain = plain_network(A, stored_sign=False)
    plain_sgn = plain_network(A, stored_sign=True)
    ns = {"tau": TAU, "sigma": SIGMA}
    # Warm-up: compile (or load from the cache) every code object once.
    net.sleep(5 * ms, decide=False, burn_in=0 * ms)
    fresh.wake(5 * ms, record=False)
    plain.run(1 * ms, namespace=ns)
    plain_sgn.run(1 * ms, namespace=ns)
    print(f"build + warm-up: {time.perf_counter() - t0:.1f} s")

    t_sleep, t_plain, t_plain_sgn = [], [], []
    for _ in range(args.repeats):
        t_sleep.append(net.sleep(duration, decide=False, burn_in=0 * ms).wall_time)
        t_plain.append(timed(lambda: plain.run(duration, namespace=ns)))
        t_plain_sgn.append(timed(lambda: plain_sgn.run(duration, namespace=ns)))
    rate = {
        name: m * steps / statistics.median(ts)
        for name, ts in [("sleep", t_sleep), ("plain", t_plain), ("plain+sgn", t_plain_sgn)]
    }
    print(f"\n1. sleep throughput (median of {args.repeats} runs)")
    for name, ts in [("sleep", t_sleep), ("plain", t_plain), ("plain+sgn", t_plain_sgn)]:
        print(
            f"  {name:10s} {rate[name] / 1e6:8.1f} M synapse-steps/s   "
            f"(median {statistics.median(ts):.3f} s, runs {[round(t, 3) for t in ts]})"
        )
    print(f"  ratio sleep / plain     = {rate['sleep'] / rate['plain']:.2f}x  (target >= 3x)")
    print(f"  ratio sleep / plain+sgn = {rate['sleep'] / rate['plain+sgn']:.2f}x")
    # Statistical cost of sampling every trace_dt: variance factor for the slowest mode.
    alpha = float(np.max(np.linalg.eigvals(A).real))
    tc = float(TAU) / (2 * abs(alpha))
    x = float(net.trace_dt) / (2 * tc)
    print(
        f"  trace every {net.trace_dt} (dt={DT}): variance factor of the slowest mode "
        f"(|alpha|={abs(alpha):.3g}) = {x / math.tanh(x):.4f}"
    )

    rep = net.sleep(0.2 * second, density=0.1)
    print(
        f"\n2. pruned to density 0.1: {rep.counts_before} -> {rep.counts_after} "
        f"(epoch incl. compaction {rep.wall_time:.2f} s wall), {net.n_synapses} synapses"
    )
    # Wake time per run, and the marginal cost per step (difference of a long and a short
    # run): every Network.run also pays a fixed ~0.1 s (Brian2's gc.collect() and code
    # generation / cache lookup), which is not a per-synapse cost.
    short = duration / 5
    times = {"unpruned": {}, "pruned": {}}
    for _ in range(args.repeats):
        for label, obj in (("unpruned", fresh), ("pruned", net)):
            for d in (duration, short):
                times[label].setdefault(float(d), []).append(
                    timed(lambda obj=obj, d=d: obj.wake(d, record=False))
                )
    med = {k: {d: statistics.median(v) for d, v in t.items()} for k, t in times.items()}
    d_long, d_short = float(duration), float(short)
    for label in ("unpruned", "pruned"):
        runs = [round(t, 3) for t in times[label][d_long]]
        per_step = (med[label][d_long] - med[label][d_short]) / (0.8 * steps)
        print(
            f"  wake {label:8s} {med[label][d_long]:.3f} s per {duration} run  (runs {runs}); "
            f"marginal {per_step * 1e6:.1f} us/step"
        )
    ratio = med["pruned"][d_long] / med["unpruned"][d_long]
    marginal = (med["pruned"][d_long] - med["pruned"][d_short]) / (
        med["unpruned"][d_long] - med["unpruned"][d_short]
    )
    print(
        f"  ratio pruned / unpruned = {ratio:.3f}x per run, {marginal:.3f}x per step "
        "(target <= 0.2x)"
    )


if __name__ == "__main__":
    main()
