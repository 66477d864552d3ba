"""The lifetime stage of a run: learning wakes and pruning sleeps, for each sleep rule.

The model's network lives ``lifetime.cycles`` cycles of a learning wake (the patterns in
turn, Hebbian learning, growth of new synapses: :meth:`plasticsim.online.RateNetwork.learn`)
followed by a sleep that prunes with ``rule`` (:meth:`~plasticsim.online.RateNetwork.sleep`,
``pruning.density`` of the candidates kept), for each rule of ``lifetime.rules`` and each
of ``lifetime.repeats`` repeats. Within a repeat every rule starts from the same network,
patterns and seed, so the first wake is the same for all of them.

The patterns are ``lifetime.patterns`` disjoint groups of ``lifetime.pattern_size``
neurons (value 1 on the group, 0 elsewhere), drawn from the stage's seed.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import numpy as np

from ._schema import _fail

if TYPE_CHECKING:
    from ._run import _Run

__all__: list[str] = []

log = logging.getLogger(__package__)

#: Codes of the epoch kinds in the array ``lifetime_kind``.
KINDS = {"start": 0, "wake": 1, "sleep": 2}


def _patterns(run: _Run, n: int) -> np.ndarray:
    lt = run.cfg["lifetime"]
    K, size = lt["patterns"], lt["pattern_size"]
    if K * size > n:
        raise _fail(
            run.model.source,
            "lifetime.patterns",
            f"lifetime.patterns x lifetime.pattern_size == {K} x {size} == {K * size} "
            f"neurons, more than the network's {n}: the patterns are disjoint groups.",
        )
    gen = np.random.default_rng([run.seeds["lifetime"], 0])
    order = gen.permutation(n)
    P = np.zeros((K, n))
    for k in range(K):
        P[k, np.sort(order[k * size : (k + 1) * size])] = 1.0
    return P


def _schedule(run: _Run, P: np.ndarray, rule: str, tau):
    from ..online import SleepEpoch, WakeEpoch

    cfg = run.cfg
    lt = cfg["lifetime"]
    epochs = []
    for _ in range(lt["cycles"]):
        epochs.append(
            WakeEpoch(
                lt["wake"] * tau,
                P,
                lt["present"] * tau,
                amplitude=lt["amplitude"],
                eta=lt["eta"],
                decay=lt["decay"],
                budget=lt["budget"],
                w_new=lt["w_new"],
                threshold=lt["threshold"],
                homeostasis_dt=(
                    None if lt["homeostasis_dt"] is None else lt["homeostasis_dt"] * tau
                ),
            )
        )
        epochs.append(
            SleepEpoch(
                lt["sleep"] * tau,
                density=cfg["pruning"]["density"],
                rule=rule,
                relabile=lt["relabile"],
                burn_in=None if lt["burn_in"] is None else lt["burn_in"] * tau,
                min_kept=cfg["pruning"]["min_kept"],
            )
        )
    return epochs


def _run_lifetime(run: _Run):
    """Every (rule, repeat) lifetime; returns (metrics, arrays)."""
    from .._brian import brian2
    from ..online import RateNetwork

    ms = brian2.ms
    cfg = run.cfg
    lt, on, noise = cfg["lifetime"], cfg["online"], cfg["noise"]
    if run.sparse:
        raise _fail(
            run.model.source,
            "lifetime.enabled",
            "lifetime.enabled == true needs a dense network (the task measure and the "
            "per-epoch spectra are dense); set network.params.sparse = false.",
        )
    tau = cfg["neurons"]["tau"] * ms
    n = run.A.shape[0]
    P = _patterns(run, n)
    rules, repeats = lt["rules"], lt["repeats"]
    m = max(1, min(max(cfg["evaluation"]["slowest"]), n - 2))
    n_epochs = 2 * lt["cycles"] + 1
    shape = (len(rules), repeats, n_epochs)
    synapses = np.zeros(shape, dtype=np.int64)
    completion = np.zeros((*shape, P.shape[0]))
    leak = np.zeros(shape)
    slowest = np.zeros((*shape, m))
    eig_error = np.full(shape, np.nan)
    kinds = None
    total = len(rules) * repeats
    with run.phase(
        "lifetime", f"lifetime ({len(rules)} rules x {repeats} repeats)", total
    ) as advance:
        for r in range(repeats):
            seed = int(np.random.SeedSequence([run.seeds["lifetime"], 1 + r]).generate_state(1)[0])
            for q, rule in enumerate(rules):
                net = RateNetwork.from_matrix(
                    run.A,
                    tau=tau,
                    sigma=noise["sigma"],
                    noise_tau=noise["tau_noise"] * tau,
                    nonlinearity=run.nonlinearity,
                    dt=on["dt"] * tau,
                    target=on["target"],
                    rng=seed,
                    trace_dt=None if on["trace_dt"] is None else on["trace_dt"] * tau,
                    name="plasticsim_lifetime",
                )
                records = net.live(
                    _schedule(run, P, rule, tau),
                    patterns=P,
                    cue_fraction=lt["cue_fraction"],
                    slowest=m,
                )
                kinds = np.array([KINDS[rec.kind] for rec in records])
                for e, rec in enumerate(records):
                    synapses[q, r, e] = rec.n_synapses
                    completion[q, r, e] = rec.completion
                    leak[q, r, e] = rec.mean_leak
                    slowest[q, r, e, : rec.slowest.size] = np.real(rec.slowest)
                    if rec.change is not None:
                        eig_error[q, r, e] = rec.change["eigenvalue_error_max"]
                log.info(
                    "lifetime %s, repeat %d: %d synapses, completion %.3f at the end",
                    rule,
                    r + 1,
                    synapses[q, r, -1],
                    completion[q, r, -1].mean(),
                )
                advance(1)
    sleeps = kinds == KINDS["sleep"]
    mean_completion = completion.mean(axis=3)
    summary = {}
    for q, rule in enumerate(rules):
        before = mean_completion[q][:, np.flatnonzero(sleeps) - 1]
        after = mean_completion[q][:, sleeps]
        summary[rule] = {
            "synapses_final": float(synapses[q, :, -1].mean()),
            "synapses_max": int(synapses[q].max()),
            "completion_final": float(mean_completion[q, :, -1].mean()),
            "completion_after_sleeps": float(after.mean()),
            "completion_change_per_sleep": float((after - before).mean()),
            "eigenvalue_error_per_sleep": float(np.nanmean(eig_error[q][:, sleeps])),
        }
    metrics = {"rules": list(rules), "repeats": repeats, "summary": summary}
    arrays = {
        "lifetime_kind": kinds,
        "lifetime_synapses": synapses,
        "lifetime_completion": completion,
        "lifetime_mean_leak": leak,
        "lifetime_slowest": slowest,
        "lifetime_eigenvalue_error": eig_error,
        "lifetime_patterns": P,
    }
    return metrics, arrays
