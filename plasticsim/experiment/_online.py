"""The online stage of a run: the sleep/wake schedule of the Brian2 sleep simulator."""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING

import numpy as np

from ._progress import _epoch_phase
from ._schema import _fail

if TYPE_CHECKING:
    from ._run import _Run

__all__: list[str] = []

log = logging.getLogger(__package__)  # one logger for the package: plasticsim.experiment


def _cycle_density(target: float, cycle: int, cycles: int, alive: int, candidates: float):
    """Fraction of the candidates to keep in ``cycle`` so the run ends at ``target`` synapses.

    Each remaining cycle shrinks the surviving synapses by the same factor
    ``f = (target / alive)^(1 / remaining)`` in expectation; with ``L`` expected candidates
    (labile plus relabiled) that keeps ``d = 1 - alive (1 - f) / L`` of the candidates.
    Returns ``(d, reachable)``.

    Examples
    --------
    >>> _cycle_density(10.0, 0, 1, 100, 100)
    (0.1, True)
    """
    if candidates <= 0:
        return 1.0, True
    f = min(1.0, target / alive) ** (1.0 / (cycles - cycle))
    d = 1.0 - alive * (1.0 - f) / candidates
    if d <= 0:
        return 1.0 / candidates, False
    return min(1.0, round(d, 15)), True


#: The simulator's refusals of a configuration (plasticsim.online's messages): a model
#: error (exit status 2). Any other ValueError is a failure while running (exit 1).
_REFUSALS = (
    re.compile(r"^dt == .* is too large"),  # Euler-Maruyama unstable for this network
    re.compile(r"must be a positive integer multiple of"),  # trace_dt vs dt
    re.compile(r"leaves no measurement after burn_in"),  # burn_in vs sleep
    re.compile(r"^A\[\d+, \d+\] == .*: the diagonal holds minus each neuron's leak"),
)


def _online_error(run: _Run, exc: ValueError) -> Exception:
    """A simulator's refusal (e.g. ``online.dt`` too coarse) as a ModelError in model units.

    Only the known refusals of a configuration (:data:`_REFUSALS`) become a ModelError;
    any other ``ValueError`` is returned unchanged (a failure while running).
    """
    text = str(exc)
    if not any(p.search(text) for p in _REFUSALS):
        return exc
    scale = f"online times x neurons.tau == {run.cfg['neurons']['tau']:g} ms"
    return _fail(run.model.source, "online", f"online ({scale}): {text}")


def _state_counts(net, n_syn: int) -> list[int]:
    """LABILE, STABLE and PRUNED counts; PRUNED includes the synapses compacted away."""
    from ..online import LABILE, STABLE

    state = net.synapse_states().state
    labile = int(np.count_nonzero(state == LABILE))
    stable = int(np.count_nonzero(state == STABLE))
    return [labile, stable, n_syn - labile - stable]


def _stationary_draw(run: _Run, M, cycle: int) -> np.ndarray:
    """A draw of ``x`` from the stationary distribution of the linear network ``M``.

    Dense: the Euler-Maruyama chain's own stationary covariance at ``online.dt``
    (:func:`plasticsim.covariance.euler_covariance`), so the chain starts exactly
    stationary. Sparse (symmetric, diagonally dominant): ``(sigma^2 / 2) (-A)^{-1}`` by
    one sparse solve (:func:`plasticsim.sketch.sample_stationary`), ``O(dt)`` from the
    chain's. Plus the fixed point ``(-A)^{-1} b`` of a bias ``b``. Seeded by the online
    stage's seed and the cycle.
    """
    cfg = run.cfg
    sigma, bias, dt = cfg["noise"]["sigma"], cfg["neurons"]["bias"], cfg["online"]["dt"]
    gen = np.random.default_rng([run.seeds["online"], 1 + cycle])
    n = M.shape[0]
    if run.sparse:
        from ..sketch import sample_stationary, solve_sdd

        x = sample_stationary(M, sigma=sigma, rng=gen)
        if bias != 0:
            x = x + solve_sdd(M, np.full(n, float(bias)))
        return x
    import scipy.linalg as sla

    from ..covariance import euler_covariance

    P = euler_covariance(M, h=dt, sigma=sigma)
    x = sla.cholesky(P, lower=True) @ gen.standard_normal(n)
    if bias != 0:
        x = x + np.linalg.solve(-M, np.full(n, float(bias)))
    return x


def _reference_scores(run: _Run, M, cycle: int):
    """Scores to compare the traces with, and how they were computed.

    Dense: exact, from the covariance of ``M``. Sparse: the rule stage's scores for the
    first cycle (exact up to 4,096 neurons, else sketched), and the same method on the
    network as it now is for later cycles.
    """
    from ..rule import synapse_scores

    noise, pr = run.cfg["noise"], run.cfg["pruning"]
    if not run.sparse:
        return synapse_scores(M, sigma=noise["sigma"], noise_tau=noise["tau_noise"]), "exact"
    method = run.extra["scores"]["method"]
    if cycle == 0:
        return run.arrays["scores"], method
    S = synapse_scores(
        M,
        sigma=noise["sigma"],
        noise_tau=noise["tau_noise"],
        method=method,
        eps=pr["eps"],
        rng=[run.seeds["noise"], 1 + cycle],
    )
    return S, method


def _excitability(on: dict, tau):
    """The sleep schedule of ``[online.excitability]`` (None without a period)."""
    exc = on["excitability"]
    if exc["period"] is None:
        return None
    from ..online import UpDown

    return UpDown(
        exc["period"] * tau, up=exc["up"], down=exc["down"], down_fraction=exc["down_fraction"]
    )


def _multapse_metrics(rep, on: dict) -> dict:
    """Within-pair statistics of an epoch of a network with multapses (else nothing)."""
    if on["multapses"] < 2 or not rep.decided:
        return {}
    from ..multapses import (
        expected_within_pair_correlation,
        pair_sum_ratio,
        weights_after,
        within_pair_correlation,
    )

    n, after = rep.n_neurons, weights_after(rep)
    if not np.any(np.diff(rep.post.astype(np.int64) * n + rep.pre) == 0):
        return {}  # no pair holds two synapses any more
    mean, se = pair_sum_ratio(rep.pre, rep.post, rep.weights, after, rep.probabilities, n)
    return {
        "within_pair_correlation_before": within_pair_correlation(
            rep.pre, rep.post, rep.weights, n
        ),
        "within_pair_correlation_after": within_pair_correlation(rep.pre, rep.post, after, n),
        "within_pair_correlation_expected": expected_within_pair_correlation(
            rep.pre, rep.post, rep.weights, rep.probabilities, n
        ),
        "pair_sum_ratio_mean": mean,
        "pair_sum_ratio_se": se,
    }


def _run_online(run: _Run):
    """The online sleep/wake schedule in Brian2; returns (matrix, metrics, arrays)."""
    from .._brian import brian2  # Brian2 without its exception hook (plasticsim._brian)
    from .._sparse import values_at
    from ..covariance import euler_covariance
    from ..online import RateNetwork
    from ..rule import synapse_scores

    ms, second = brian2.ms, brian2.second
    cfg = run.cfg
    on, pr, noise = cfg["online"], cfg["pruning"], cfg["noise"]
    tau = cfg["neurons"]["tau"] * ms
    bias = cfg["neurons"]["bias"]
    options = {
        "tau": tau,
        "sigma": noise["sigma"],
        "noise_tau": noise["tau_noise"] * tau,
        "nonlinearity": run.nonlinearity,
        "dt": on["dt"] * tau,
        "target": on["target"],
        "rng": run.seeds["online"],
        "bias": bias if bias != 0 else None,
        "trace_dt": None if on["trace_dt"] is None else on["trace_dt"] * tau,
    }
    excitability = _excitability(on, tau)
    with run.phase("online.build", "online: build the Brian2 network"):
        try:
            if on["multapses"] > 1:
                from ..multapses import split_synapses

                # Each synapse split into online.multapses synapses of the same pair (their
                # own seed stream: the other stages are unchanged).
                pre, post, w, leak = split_synapses(
                    run.A,
                    on["multapses"],
                    spread=on["multapse_spread"],
                    rng=np.random.default_rng([run.seeds["online"], 0]),
                )
                net = RateNetwork.from_synapses(
                    run.A.shape[0], pre, post, w, leak=leak, multapses=True, **options
                )
            else:
                net = RateNetwork.from_matrix(run.A, **options)
        except ValueError as exc:  # e.g. online.dt too coarse for this network
            error = _online_error(run, exc)
            if error is exc:
                raise
            raise error from None
    units, cycles = 1000, on["cycles"]
    # Synapses of the simulation: the network's, or online.multapses times as many (the
    # density then counts synapses, not pairs).
    n_syn = net.n_synapses
    counts = [_state_counts(net, n_syn)]
    epochs = []
    # Per synapse and epoch, concatenated over the epochs into arrays of the same names.
    columns = {
        f"online_{name}": []
        for name in (
            "scores_estimated",
            "scores_exact",
            "scores_euler",
            "scores_epoch",
            "probabilities",
            "pre",
            "post",
        )
    }
    stationary = on["start"] == "stationary"
    burn_in = on["burn_in"]
    if burn_in is None and stationary:
        burn_in = 0.0  # the draw is already stationary
    for c in range(cycles):
        M = net.sparse_matrix() if run.sparse else net.matrix
        if stationary:
            with run.phase("online.start", f"online: stationary start {c + 1}/{cycles}"):
                net.neurons.x[:] = _stationary_draw(run, M, c)
        labile, stable, _ = counts[-1]
        density, k = None, pr["k"]
        if k is None:
            expected = labile + on["relabile"] * stable
            alive = labile + stable
            density, reachable = _cycle_density(pr["density"] * n_syn, c, cycles, alive, expected)
            if not reachable:
                log.warning(
                    "online cycle %d: too few candidates to reach pruning.density == %g",
                    c + 1,
                    pr["density"],
                )
        sleep = run.phase("online.sleep", f"online: sleep {c + 1}/{cycles}", units)
        with _epoch_phase(sleep, units) as hook:
            try:
                rep = net.sleep(
                    on["sleep"] * tau,
                    k=k,
                    density=density,
                    burn_in=None if burn_in is None else burn_in * tau,
                    # Every synapse pruned in an earlier cycle: nothing is left to decide
                    # (sleep refuses to decide then), the cycle only measures.
                    decide=on["decide"] and labile + stable > 0,
                    relabile=on["relabile"],
                    min_kept=pr["min_kept"],
                    excitability=excitability,
                    report=hook,
                    report_period=0.5 * second,
                )
            except ValueError as exc:  # e.g. the default burn-in leaves no measurement
                error = _online_error(run, exc)
                if error is exc:
                    raise
                raise error from None
        # The scores of the network as it was during the measurement: exact (dense), or
        # the rule stage's method (sparse: sketched above 4,096 neurons).
        S_ref, reference = _reference_scores(run, M, c)
        if run.sparse:
            exact = values_at(S_ref, rep.post, rep.pre)
            euler = None  # the Euler-Maruyama chain's covariance is n x n: not computed
        else:
            exact = S_ref[rep.post, rep.pre]
            # What the traces estimate: the scores of the Euler-Maruyama chain at online.dt.
            P = euler_covariance(M, h=on["dt"], sigma=noise["sigma"], noise_tau=noise["tau_noise"])
            euler = synapse_scores(M, P)[rep.post, rep.pre]
        if on["multapses"] > 1:
            # A pair's score shared by its synapses in proportion to |w| (same sign):
            # s_e = |w_e| D_ij = s_ij |w_e| / |A_ij|.
            pair = values_at(M, rep.post, rep.pre) if run.sparse else M[rep.post, rep.pre]
            share = np.abs(rep.weights) / np.abs(pair)
            exact = exact * share
            euler = None if euler is None else euler * share
        ok = (rep.candidate if rep.candidate.any() else np.ones(exact.size, bool)) & (exact > 0)
        corr = float(np.corrcoef(rep.scores[ok], exact[ok])[0, 1]) if ok.sum() > 1 else None
        rel = np.abs(rep.scores[ok] - exact[ok]) / exact[ok]
        values = (
            rep.scores,
            exact,
            euler,
            np.full(exact.size, c),
            rep.probabilities,
            rep.pre,
            rep.post,
        )
        for column, value in zip(columns.values(), values, strict=True):
            if value is not None:
                column.append(value)
        counts.append(_state_counts(net, n_syn))
        epochs.append(
            {
                "cycle": c + 1,
                "seed": rep.seed,
                "measured_tau": float(rep.measured / tau),
                "n_samples": rep.n_samples,
                "decided": rep.decided,
                "symmetric": rep.symmetric,
                "k": rep.k,
                "density_of_candidates": density,
                "n_candidates": rep.n_candidates,
                "n_relabile": rep.n_relabile,
                "kept_fraction_of_candidates": rep.kept_fraction,
                "counts_before": rep.counts_before,
                "counts_after": dict(zip(("LABILE", "STABLE", "PRUNED"), counts[-1], strict=True)),
                "trace_score_correlation": corr,
                "trace_score_rel_err_median": float(np.median(rel)) if rel.size else None,
                # estimate / exact, and its expectation under Euler-Maruyama at online.dt
                "trace_score_ratio_median": (
                    float(np.median(rep.scores[ok] / exact[ok])) if ok.any() else None
                ),
                "trace_score_ratio_mean": (
                    float(np.mean(rep.scores[ok] / exact[ok])) if ok.any() else None
                ),
                "euler_score_ratio_mean": (
                    float(np.mean(euler[ok] / exact[ok])) if ok.any() and not run.sparse else None
                ),
                "reference_scores": reference,
                "start": on["start"],
                **_multapse_metrics(rep, on),
                "wall_time": rep.wall_time,
            }
        )
        if on["wake"] > 0:
            wake = run.phase("online.wake", f"online: wake {c + 1}/{cycles}", units)
            with _epoch_phase(wake, units) as hook:
                net.wake(on["wake"] * tau, record=False, report=hook, report_period=0.5 * second)
    record = {
        "excitability": None if excitability is None else dict(on["excitability"]),
        "multapses": on["multapses"],
        "epochs": epochs,
        "seed": net.seed,
        "target": on["target"],
        "trace_dt_tau": float(net.trace_dt / tau),
    }
    arrays = {name: np.concatenate(column) for name, column in columns.items() if column}
    arrays["online_state_counts"] = np.array(counts, dtype=np.int64)
    return (net.sparse_matrix() if run.sparse else net.matrix), record, arrays
