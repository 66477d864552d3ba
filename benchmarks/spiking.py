"""Speed of the spiking sleep (traces on) against a plain Brian2 LIF script of the same network.

Network: the clustered E/I network of ``models/spiking.toml`` (by default 3 clusters of 80
excitatory and 60 inhibitory LIF neurons, ~43k synapses; ``--scale`` multiplies every
population), current-based exponential synapses, white noise, dt = 0.1 ms, Brian2's cython
target. Printed, as medians of ``--repeats`` interleaved runs measured in this one
process, in synapse-steps per second (synapses x time steps / time), by wall time and by
the CPU time of this process (less sensitive to other processes on a loaded machine):

- ``sleep``: ``SpikingNetwork.sleep(decide=False)``: the LIF network plus the filtered
  spike trains ``r``, their sums and spike counts, and every synapse's trace
  ``|w| (r_post - sgn r_pre)^2`` sampled every ``trace_dt`` (25 ms, ``tau_r / 4``);
- ``wake``: ``SpikingNetwork.wake()`` of the same network (no traces);
- ``plain``: the LIF script one writes in Brian2 for this network (NeuronGroup with
  ``v`` and ``I_syn``, Synapses with ``w`` and ``on_pre: I_syn_post += w*mV`` on the
  neurons' clock), the same equations, noise, dt and target, no rate filter, no traces;

and the ratios ``sleep / plain`` (target >= 1x: the traces nearly free) and
``sleep / wake``. The machine's load average is printed before and after (timings on a
shared machine are noisy; the ratios come from interleaved runs in one process). Every
Brian2 run has a fixed cost (code objects are regenerated at each ``run``, ~0.1 s here),
which weighs more in short runs: use ``--duration`` of a few seconds for per-step speed.

    python benchmarks/spiking.py [--repeats 5] [--duration 2.0] [--scale 1]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np
from brian2 import Network, NeuronGroup, Synapses, ms, mV, prefs, second

from plasticsim.online import SpikingNetwork
from plasticsim.spiking import LIF_DEFAULTS, clustered_ei

MU, SIGMA = 13.5 * mV, 6.0 * mV  # models/spiking.toml
D = LIF_DEFAULTS


def plain_network(J: np.ndarray, seed: int) -> Network:
    """The plain Brian2 LIF script of ``J`` (mV; row = post), cython target."""
    n = J.shape[0]
    gen = np.random.default_rng(seed)
    G = NeuronGroup(
        n,
        """dv/dt = (E_L - v + mu + I_syn)/tau_m + sigma*xi/sqrt(tau_m) : volt (unless refractory)
           dI_syn/dt = -I_syn/tau_s : volt""",
        threshold="v > V_th",
        reset="v = V_r",
        refractory=D["t_ref"],
        method="euler",
        dt=D["dt"],
        namespace={
            "E_L": D["E_L"],
            "mu": MU,
            "tau_m": D["tau_m"],
            "sigma": SIGMA,
            "tau_s": D["tau_s"],
            "V_th": D["V_th"],
            "V_r": D["V_r"],
        },  # fmt: skip
    )
    G.v = gen.uniform(0, 20, n) * mV
    # On G's clock: a network of one clock, as SpikingNetwork's (Brian2 runs several clocks,
    # even of the same dt, through a slower Python loop: ~3 us per step here).
    S = Synapses(G, G, "w : 1", on_pre="I_syn_post += w*mV", clock=G.clock)
    post, pre = np.nonzero(J)
    S.connect(i=pre, j=post)
    S.w = J[post, pre]
    return Network(G, S)


def timed(fn) -> tuple[float, float]:
    """Wall and CPU time (this process) of ``fn()``."""
    w0, c0 = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - w0, time.process_time() - c0


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--duration", type=float, default=2.0, help="seconds per run")
    parser.add_argument("--scale", type=int, default=1, help="multiplies every population")
    parser.add_argument(
        "--trace-dt", type=float, default=None, help="ms between trace samples (default tau_r/4)"
    )
    args = parser.parse_args(argv)
    prefs.logging.file_log = False
    prefs.codegen.target = "cython"
    duration = args.duration * second
    steps = int(round(float(duration) / float(D["dt"])))
    s = args.scale
    # The connection probabilities of spiking.toml with weights scaled by 1/s: the mean
    # input and the effective coupling stay those of the model.
    J, _ = clustered_ei(
        [80 * s] * 3, 60 * s, w_in=0.7 / s, w_out=0.5 / s, w_ei=0.4 / s, w_ie=1.0 / s, rng=1
    )
    n, m = J.shape[0], int(np.count_nonzero(J))
    print(f"load average before: {os.getloadavg()}")
    print(f"network: n={n}, synapses={m}, dt={D['dt']}, {steps} steps per run, cython")

    t0 = time.perf_counter()
    trace_dt = None if args.trace_dt is None else args.trace_dt * ms
    net = SpikingNetwork.from_matrix(
        J, mu=MU, sigma=SIGMA, target="cython", rng=2, trace_dt=trace_dt
    )
    plain = plain_network(J, seed=3)
    every = float(duration / net.trace_dt)
    if abs(every - round(every)) > 1e-9:
        raise SystemExit(f"--duration must be a multiple of trace_dt == {net.trace_dt}")
    # Warm-up: compile (or load from the cache) every code object once. Durations on the
    # trace grid: every timed sleep is then one Brian2 run (its window starts at once).
    net.sleep(2 * net.trace_dt, decide=False, burn_in=0 * ms)
    net.wake(2 * net.trace_dt)
    plain.run(5 * ms)
    print(f"build + warm-up: {time.perf_counter() - t0:.1f} s, trace_dt = {net.trace_dt}")

    runs = {"sleep": [], "wake": [], "plain": []}
    spikes, reports = [], []
    for _ in range(args.repeats):
        runs["sleep"].append(
            timed(lambda: reports.append(net.sleep(duration, decide=False, burn_in=0 * ms)))
        )
        runs["wake"].append(timed(lambda: spikes.append(net.wake(duration).firing_rates)))
        runs["plain"].append(timed(lambda: plain.run(duration)))
    if any(float(r.burn_in) != 0 or abs(float(r.measured - duration)) > 1e-9 for r in reports):
        raise SystemExit("a timed sleep had a burn-in run or a shorter window: not comparable")
    mean_rate = float(np.mean([np.mean(np.asarray(r)) for r in spikes]))
    print(f"\nsleep throughput (median of {args.repeats} runs; network at {mean_rate:.1f} Hz)")
    for col, what in ((0, "wall"), (1, "CPU")):
        med = {k: statistics.median(t[col] for t in v) for k, v in runs.items()}
        rate = {k: m * steps / v for k, v in med.items()}
        print(f" {what} time (CPU: this process only, less sensitive to the machine's load)")
        for k, v in runs.items():
            print(
                f"  {k:6s} {rate[k] / 1e6:8.1f} M synapse-steps/s   "
                f"(median {med[k]:.3f} s per {duration}, "
                f"runs {[round(t[col], 3) for t in v]})"
            )
        print(f"  ratio sleep / plain = {rate['sleep'] / rate['plain']:.2f}x  (target >= 1x)")
        print(f"  ratio sleep / wake  = {rate['sleep'] / rate['wake']:.2f}x  (the traces' cost)")
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
