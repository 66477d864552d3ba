"""The stages of a spiking model (``spiking.enabled = true``): sleep, baselines, evaluation.

A clustered E/I network of leaky integrate-and-fire neurons
(:func:`plasticsim.spiking.clustered_ei`) sleeps once in Brian2
(:class:`plasticsim.online.SpikingNetwork`): local traces of the filtered spike trains,
decisions to ``pruning.density``, homeostasis of each neuron's drive. The same network is
pruned offline at the same density by the baselines (``pruning.controls``: ``p ~ |J|``,
uniform, magnitude) and, with ``pruning.offline``, by the linear-response scores
(:func:`plasticsim.spiking.linear_response`, method ``noise``); every offline method gets
the online homeostasis (:func:`plasticsim.spiking.homeostatic_drive`) at the rates
measured during the sleep.

Evaluation, the same for the unpruned network and every method: a fresh network with the
method's weights and drives, the same Brian2 noise (one seed: common random numbers), an
unrecorded ``settle`` and a recorded ``wake``; from it

- the firing rates (population means against the unpruned network's);
- the effective connectivity ``A_eff = -I + diag(g) J tau_s`` of
  :func:`~plasticsim.spiking.linear_response` at the measured rates, whose slowest modes
  are compared with the unpruned network's (:func:`plasticsim.compare_spectra`);
- the spike-count covariance between clusters
  (:func:`~plasticsim.spiking.group_count_covariance`, the E clusters and the I
  population, pair-averaged, counting window ``count_bin``), compared by the relative
  Frobenius error ``||C_m - C_0||_F / ||C_0||_F``. Its floor is the error of an unpruned
  rerun with other noise (``count_covariance_floor``).

Random streams: the network (``network``), the sleep (``online``), the offline samples
(``noise``, ``weight``, ``uniform``), the evaluation noise (``dynamics``), as in
:mod:`plasticsim.experiment._run`.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import numpy as np

from ._progress import _epoch_phase

if TYPE_CHECKING:
    from ._run import _Run

__all__: list[str] = []

log = logging.getLogger(__package__)

#: Window (s) of the synchrony index: the variance over the mean of the population spike
#: count in these windows is ~1 for asynchronous (Poisson-like) activity and >> 1 for a
#: synchronous state (population bursts).
SYNCHRONY_BIN = 0.005


#: The keys of the [spiking] table that are arguments of plasticsim.spiking.clustered_ei.
NETWORK_KEYS = ("p_in", "p_out", "p_inh", "w_in", "w_out", "w_ei", "w_ie", "spread")


def _network(sp: dict, rng):
    """The model's weights (mV) and neuron labels: clustered_ei from the [spiking] table."""
    from ..spiking import clustered_ei

    return clustered_ei(sp["sizes"], sp["n_inh"], rng=rng, **{k: sp[k] for k in NETWORK_KEYS})


def _params(sp: dict) -> dict:
    """SpikingNetwork keyword arguments from the [spiking] table (Brian2 quantities)."""
    from .._brian import brian2

    ms, mV = brian2.ms, brian2.mV
    return {
        "tau_m": sp["tau_m"] * ms,
        "tau_s": sp["tau_s"] * ms,
        "tau_r": sp["tau_r"] * ms,
        "t_ref": sp["t_ref"] * ms,
        "V_th": sp["V_th"] * mV,
        "V_r": sp["V_r"] * mV,
        "sigma": sp["sigma"] * mV,
        "dt": sp["dt"] * ms,
        "target": sp["target"],
    }


def _theory(J, rates, mu, sp: dict):
    """:func:`linear_response` of ``J`` at the measured ``rates`` (Hz) and drives (mV)."""
    from .._brian import brian2
    from ..spiking import linear_response

    ms, mV, Hz = brian2.ms, brian2.mV, brian2.Hz
    return linear_response(
        J,
        rates=rates * Hz,
        mu=mu * mV,
        sigma=sp["sigma"] * mV,
        tau_m=sp["tau_m"] * ms,
        tau_s=sp["tau_s"] * ms,
        t_ref=sp["t_ref"] * ms,
        V_th=sp["V_th"] * mV,
        V_r=sp["V_r"] * mV,
        dt=sp["dt"] * ms,
    )


def _synchrony(spike_t, duration: float, n: int) -> float:
    """Variance over mean of the population spike count in 5 ms windows (~1: asynchronous)."""
    nb = max(1, int(duration / SYNCHRONY_BIN))
    counts, _ = np.histogram(spike_t, bins=nb, range=(0.0, nb * SYNCHRONY_BIN))
    mean = counts.mean()
    return float(counts.var() / mean) if mean > 0 else float("nan")


def _isi_cv_median(spike_i, spike_t, n: int) -> float:
    """Median over neurons with >= 5 intervals of the ISI coefficient of variation."""
    order = np.lexsort((spike_t, spike_i))
    i, t = spike_i[order], spike_t[order]
    cvs = []
    for k in range(n):
        isi = np.diff(t[i == k])
        if isi.size >= 5 and isi.mean() > 0:
            cvs.append(isi.std() / isi.mean())
    return float(np.median(cvs)) if cvs else float("nan")


class _Evaluation:
    """One evaluation wake of a network (weights ``J``, drives ``mu``), fixed noise seed."""

    def __init__(self, run: _Run, J, mu, seed, phase_key: str, label: str):
        from .._brian import brian2
        from ..online import SpikingNetwork
        from ..spiking import group_count_covariance

        second, mV = brian2.second, brian2.mV
        sp = run.cfg["spiking"]
        units = 1000
        phase = run.phase(phase_key, label, units)
        with _epoch_phase(phase, units) as hook:
            net = SpikingNetwork.from_matrix(
                J, mu=mu * mV, homeostasis=None, rng=seed, **_params(sp)
            )
            total = sp["settle"] + sp["wake"]

            def report(elapsed, completed, start, duration, offset=0.0, part=1.0):
                hook(elapsed, offset + part * float(completed), start, duration)

            if sp["settle"] > 0:
                net.wake(
                    sp["settle"] * second,
                    report=lambda *a: report(*a, part=sp["settle"] / total),
                    report_period=0.5 * second,
                )
            t0 = float(net.t)
            rec = net.wake(
                sp["wake"] * second,
                record_spikes=True,
                report=lambda *a: report(*a, offset=sp["settle"] / total, part=sp["wake"] / total),
                report_period=0.5 * second,
            )
        self.spike_i = np.asarray(rec.spike_i, dtype=np.int32)
        self.spike_t = np.asarray(rec.spike_t / second) - t0
        self.rates = np.asarray(rec.firing_rates / brian2.Hz)
        self.count_covariance = group_count_covariance(
            self.spike_i,
            self.spike_t * second,
            run.labels,
            duration=sp["wake"] * second,
            bin_width=sp["count_bin"] * second,
        )
        n = J.shape[0]
        self.synchrony = _synchrony(self.spike_t, sp["wake"], n)
        self.isi_cv = _isi_cv_median(self.spike_i, self.spike_t, n)
        # A silent neuron has no linear response: give it half a spike over the wake
        # (counted in the metrics), the smallest rate the measurement cannot exclude.
        self.silent = int(np.count_nonzero(self.rates == 0))
        rates = np.where(self.rates > 0, self.rates, 0.5 / sp["wake"])
        self.lr = _theory(J, rates, mu, sp)

    def summary(self, reference: _Evaluation | None, labels, n_exc: int) -> dict:
        exc = np.arange(labels.size) < n_exc
        out = {
            "rate_exc_mean": float(self.rates[exc].mean()),
            "rate_inh_mean": float(self.rates[~exc].mean()),
            "rate_max": float(self.rates.max()),
            "silent_neurons": self.silent,
            "synchrony": self.synchrony,
            "isi_cv_median": self.isi_cv,
            "spectral_abscissa_A_eff": self.lr.spectral_abscissa,
        }
        if reference is not None:
            ratios = [
                self.rates[labels == g].mean() / reference.rates[labels == g].mean()
                for g in range(int(labels.max()) + 1)
            ]
            out["rate_ratio_exc"] = out["rate_exc_mean"] / reference.rates[exc].mean()
            out["rate_ratio_inh"] = out["rate_inh_mean"] / reference.rates[~exc].mean()
            out["rate_ratio_worst_group"] = float(ratios[int(np.argmax(np.abs(np.log(ratios))))])
            C0 = reference.count_covariance
            out["count_covariance_rel_err"] = float(
                np.linalg.norm(self.count_covariance - C0) / np.linalg.norm(C0)
            )
        return out


def _offline(run: _Run, name: str, P, rates, mu0, *, rescale=True) -> None:
    """Sample ``J`` with ``P`` (seed of stage ``name``), then the online homeostasis."""
    from .._brian import brian2
    from ..rule import sparsify
    from ..spiking import homeostatic_drive

    sp = run.cfg["spiking"]
    with run.phase(f"prune.{name}", f"{name}: prune offline"):
        B = sparsify(
            run.J,
            P,
            rng=run.seeds[name],
            diagonal="original",
            rescale=rescale,
            min_kept=run.cfg["pruning"]["min_kept"],
        )
        drive = (
            homeostatic_drive(run.J, B, rates * brian2.Hz, tau_s=sp["tau_s"] * brian2.ms)
            / brian2.mV
        )
    run.pruned[name] = (B, mu0 + np.asarray(drive))


def run_spiking(run: _Run) -> None:
    """Every stage of a spiking model; fills the run's metrics, arrays and matrices."""
    from .._brian import brian2
    from ..online import LABILE, STABLE, SpikingNetwork
    from ..rule import _k_from_values
    from ..spectra import compare_spectra

    second, mV, Hz = brian2.second, brian2.mV, brian2.Hz
    cfg = run.cfg
    sp, pr = cfg["spiking"], cfg["pruning"]
    density = pr["density"]

    # -- network
    with run.phase("network", "network"):
        J, labels = _network(sp, run.seeds["network"])
    n, n_exc = J.shape[0], int(sum(sp["sizes"]))
    run.J, run.labels, run.pruned = J, labels, {}
    run.n_syn = int(np.count_nonzero(J))
    run.sparse = False
    mu0 = np.full(n, sp["mu"])
    run.info = {
        "n": n,
        "n_synapses": run.n_syn,
        "symmetric": False,
        "spiking": True,
        "n_exc": n_exc,
        "n_inh": sp["n_inh"],
    }
    run.arrays.update(matrix_original=J, labels=labels)
    log.info("network: %d LIF neurons (%d E, %d I), %d synapses", n, n_exc, n - n_exc, run.n_syn)

    # -- the sleep: traces, decisions, homeostasis
    units = 1000
    with run.phase("online.build", "online: build the Brian2 network"):
        net = SpikingNetwork.from_matrix(J, mu=mu0 * mV, rng=run.seeds["online"], **_params(sp))
    state = net.synapse_states().state
    counts = [[int(np.count_nonzero(state == LABILE)), int(np.count_nonzero(state == STABLE)), 0]]
    sleep = run.phase("online.sleep", "online: sleep", units)
    with _epoch_phase(sleep, units) as hook:
        rep = net.sleep(
            sp["sleep"] * second,
            burn_in=sp["burn_in"] * second,
            density=density,
            min_kept=pr["min_kept"],
            report=hook,
            report_period=0.5 * second,
        )
    rates_sleep = np.asarray(net.rates / Hz)
    state = net.synapse_states().state
    labile, stable = int(np.count_nonzero(state == LABILE)), int(np.count_nonzero(state == STABLE))
    counts.append([labile, stable, run.n_syn - labile - stable])
    J_online = net.J.toarray()
    mu_online = np.asarray(net.mu / mV)
    run.pruned["online"] = (J_online, mu_online)
    run.k, run.density = rep.k, density

    # -- linear response at the sleep's rates: scores to set the traces against
    with run.phase("theory", "linear response at the sleep's rates"):
        lr_sleep = _theory(J, rates_sleep, mu0, sp)
    tau_r = sp["tau_r"] * 1e-3
    theory = lr_sleep.scores[rep.post, rep.pre] / (2.0 * tau_r)  # what trace / T estimates
    weight = np.abs(rep.weights)
    ok = rep.candidate if rep.candidate.any() else np.ones(theory.size, bool)
    est = rep.scores[ok]
    corr = float(np.corrcoef(est, theory[ok])[0, 1])
    corr_per_weight = float(np.corrcoef(est / weight[ok], theory[ok] / weight[ok])[0, 1])
    corr_weight = float(np.corrcoef(est, weight[ok])[0, 1])
    run.arrays.update(
        covariance=lr_sleep.S0,
        scores=lr_sleep.scores,
        online_scores_estimated=rep.scores,
        online_scores_exact=theory,
        online_scores_epoch=np.zeros(theory.size, dtype=np.int64),
        online_probabilities=rep.probabilities,
        online_pre=rep.pre,
        online_post=rep.post,
        online_state_counts=np.array(counts, dtype=np.int64),
        rates_sleep=rates_sleep,
    )

    # -- offline methods at the same density, with the same homeostasis
    if pr["offline"]:
        s = np.abs(lr_sleep.scores)
        k = _k_from_values(s[J != 0], density, None, "score")
        P = np.minimum(1.0, k * s)
        run.arrays["probabilities"] = P
        _offline(run, "noise", P, rates_sleep, mu0)
    a = np.abs(J)
    for name in pr["controls"]:
        if name == "weight":
            P = np.minimum(1.0, _k_from_values(a[J != 0], density, None, "weight") * a)
        elif name == "uniform":
            P = np.where(J != 0, density, 0.0)
        else:  # magnitude: the strongest synapses, unchanged
            keep = int(round(density * run.n_syn))
            threshold = np.sort(a[J != 0])[::-1][max(0, keep - 1)]
            P = (a >= threshold).astype(float) * (J != 0)
        _offline(run, name, P, rates_sleep, mu0, rescale=name != "magnitude")
    order = [m for m in ("noise", "online", "weight", "uniform", "magnitude") if m in run.pruned]

    # -- evaluation: the same protocol and noise for every network
    seed = run.seeds["dynamics"]
    ref = _Evaluation(run, J, mu0, seed, "evaluate.original", "evaluate: unpruned")
    floor = _Evaluation(
        run, J, mu0, np.random.default_rng([seed, 1]), "evaluate.floor", "evaluate: rerun"
    )
    evals = {}
    for m in order:
        B, mu = run.pruned[m]
        evals[m] = _Evaluation(run, B, mu, seed, f"evaluate.{m}", f"evaluate: {m}")
    slowest = tuple(cfg["evaluation"]["slowest"])
    A0 = ref.lr.A_eff
    for m in order:
        B, mu = run.pruned[m]
        ev = evals[m]
        entry = {"kept_fraction": float(np.count_nonzero(B) / run.n_syn)}
        entry |= ev.summary(ref, labels, n_exc)
        entry["drive_change_mean"] = float(np.mean(mu - mu0))
        entry["drive_change_max_abs"] = float(np.max(np.abs(mu - mu0)))
        if cfg["evaluation"]["spectra"]:
            cmp = compare_spectra(A0, ev.lr.A_eff)
            run.arrays["eigenvalues_original"] = cmp.eigenvalues
            run.arrays[f"eigenvalues_{m}"] = cmp.matched
            run.arrays[f"relative_errors_{m}"] = cmp.relative_errors
            entry["spectra"] = cmp.summary(slowest=slowest)
            entry["spectral_abscissa"] = float(np.max(np.real(cmp.matched)))
        if m == "online":
            entry["k"] = rep.k
        run.methods[m] = entry
        run.matrices[m] = B
        run.arrays[f"matrix_{m}"] = B
        run.arrays[f"mu_{m}"] = mu
        run.arrays[f"rates_{m}"] = ev.rates
        run.arrays[f"count_covariance_{m}"] = ev.count_covariance
        log.info(
            "%s: kept %.1f%%, rates E x%.3f I x%.3f, cluster covariance error %.3f",
            m,
            100 * entry["kept_fraction"],
            entry["rate_ratio_exc"],
            entry["rate_ratio_inh"],
            entry["count_covariance_rel_err"],
        )
    if cfg["evaluation"]["spectra"]:
        run.info["spectral_abscissa"] = float(np.real(run.arrays["eigenvalues_original"][0]))
    online_ev = evals["online"]
    run.arrays.update(
        rates_original=ref.rates,
        count_covariance_original=ref.count_covariance,
        count_covariance_floor=floor.count_covariance,
        raster_before_i=ref.spike_i,
        raster_before_t=ref.spike_t,
        raster_after_i=online_ev.spike_i,
        raster_after_t=online_ev.spike_t,
        A_eff_original=A0,
    )
    C0 = ref.count_covariance
    run.extra["spiking"] = {
        "original": ref.summary(None, labels, n_exc),
        "count_covariance_floor": float(
            np.linalg.norm(floor.count_covariance - C0) / np.linalg.norm(C0)
        ),
        "count_covariance_definition": (
            "pair-averaged spike-count covariance per unit time between groups (the E "
            "clusters, then the I population), count window spiking.count_bin, from the "
            "evaluation wake; error ||C_m - C_0||_F / ||C_0||_F against the unpruned network "
            "under the same noise"
        ),
        "sleep": {
            "seed": rep.seed,
            "measured_s": float(rep.measured / second),
            "n_samples": rep.n_samples,
            "k": rep.k,
            "kept_fraction_of_candidates": rep.kept_fraction,
            "counts_before": rep.counts_before,
            "counts_after": dict(zip(("LABILE", "STABLE", "PRUNED"), counts[-1], strict=True)),
            "rate_exc_mean": float(rates_sleep[:n_exc].mean()),
            "rate_inh_mean": float(rates_sleep[n_exc:].mean()),
            "drive_change_mean": float(np.mean(rep.drive_change)),
            "wall_time": rep.wall_time,
        },
        "traces": {
            "correlation_with_linear_response": corr,
            "correlation_per_weight": corr_per_weight,
            "correlation_with_weight": corr_weight,
            "ratio_median": float(np.median(est / theory[ok])),
            "note": (
                "trace scores (trace / T, mV Hz^2) against the linear-response scores at the "
                "sleep's rates divided by 2 tau_r (what the traces estimate); "
                "correlation_per_weight correlates score / |J| (the covariance part alone)"
            ),
        },
        "linear_response": {
            "slowest_eigenvalues_original": [
                float(v) for v in np.sort(ref.lr.eigenvalues.real)[::-1][:3]
            ],
            "gain_mean": float(np.mean(np.asarray(ref.lr.gains / (Hz / mV)))),
            "cv_mean": float(np.mean(ref.lr.cv)),
        },
    }
    log.info("traces vs linear response: r = %.3f (score / |J|: r = %.3f)", corr, corr_per_weight)
