"""The spiking model's claims over several seeds: traces against linear response, the
slowest modes of A_eff and the between-cluster spike-count covariance after pruning to
20% (online traces, offline linear-response scores, weight and uniform baselines, all
with the same homeostasis), and the firing rates.

Run: ``python benchmarks/spiking_claims.py [n_seeds] [KEY=VALUE ...]`` (one run of
``models/spiking.toml`` per seed, a few minutes each on one core; ``KEY=VALUE`` as the
CLI's ``--set``). Prints one row per seed and method, then the medians and how often each
method beats the weight baseline.

``--screen`` replaces the simulations by the linear-response theory alone (seconds per
seed): the same network and samples as the runner's seed, pruned by the exact
linear-response scores (``noise``, the ceiling of what the traces can do), by weight and
uniformly, each with the runner's homeostasis, at the theory's operating point; the pruned
networks are evaluated by :func:`~plasticsim.spiking.linear_response` at the unpruned
rates (which the homeostasis keeps). Prints the slowest eigenvalues of ``A_eff``, the
pair-averaged count correlations within and between the E clusters, the mean keep
probability of the exact scores within and between the clusters, and per method the
largest relative error of the 2 slowest modes of ``A_eff`` and the relative Frobenius
error of the predicted between-group count covariance ``S0`` (noise-free: no floor).
``--scaling`` adds synaptic scaling after every method's sampling (each neuron's kept
excitatory and inhibitory weights rescaled to their unpruned sums, then the drive
homeostasis), a what-if homeostasis that :class:`~plasticsim.online.SpikingNetwork` does
not implement: the analogue of the rate network's matched leak.
"""

from __future__ import annotations

import logging
import sys

import numpy as np

from plasticsim.experiment import NoProgress, run_model

METHODS = ("online", "noise", "weight", "uniform")


def _group_mean(S, labels):
    """Pair average of ``S`` over the groups of ``labels`` (``i != j`` within a group)."""
    g = int(labels.max()) + 1
    out = np.empty((g, g))
    for a in range(g):
        for b in range(g):
            block = S[np.ix_(labels == a, labels == b)]
            if a == b:
                block = block[~np.eye(block.shape[0], dtype=bool)]
            out[a, b] = block.mean()
    return out


def _scale_rows(J, B):
    """Each row's kept weights of each sign rescaled to that row's unpruned sum."""
    B = B.copy()
    for sign in (1.0, -1.0):
        orig = np.where(np.sign(J) == sign, J, 0.0).sum(axis=1)
        kept = np.where(np.sign(B) == sign, B, 0.0).sum(axis=1)
        f = np.divide(orig, kept, out=np.ones_like(orig), where=kept != 0)
        B = np.where(np.sign(B) == sign, B * f[:, None], B)
    return B


def screen(n_seeds: int, sets: list[str], scaling: bool) -> int:
    """The offline linear-response screen (module docstring)."""
    from brian2 import Hz, ms, mV

    from plasticsim.experiment import load_model
    from plasticsim.experiment._run import _stage_seeds
    from plasticsim.rule import _k_from_values, sparsify
    from plasticsim.spectra import compare_spectra
    from plasticsim.spiking import clustered_ei, homeostatic_drive, linear_response

    cfg = load_model("spiking", overrides=sets).config
    sp, density = cfg["spiking"], cfg["pruning"]["density"]
    keys = ("p_in", "p_out", "p_inh", "w_in", "w_out", "w_ei", "w_ie", "spread")
    neuron = {
        "sigma": sp["sigma"] * mV,
        "tau_m": sp["tau_m"] * ms,
        "tau_s": sp["tau_s"] * ms,
        "t_ref": sp["t_ref"] * ms,
        "V_th": sp["V_th"] * mV,
        "V_r": sp["V_r"] * mV,
        "dt": sp["dt"] * ms,
    }
    n_cl = len(sp["sizes"])
    errs = {m: {"slow2": [], "cov": []} for m in ("noise", "weight", "uniform")}
    for seed in range(1, n_seeds + 1):
        seeds = _stage_seeds(seed)
        J, labels = clustered_ei(
            sp["sizes"], sp["n_inh"], rng=seeds["network"], **{k: sp[k] for k in keys}
        )
        mu0 = np.full(J.shape[0], sp["mu"])
        lr0 = linear_response(J, mu=mu0 * mV, **neuron)
        r = np.asarray(lr0.rates / Hz)
        d = np.sqrt(np.diag(lr0.S0))
        R = _group_mean(lr0.S0 / np.outer(d, d), labels)
        C0 = _group_mean(lr0.S0, labels)
        mask, s, a = J != 0, np.abs(lr0.scores), np.abs(J)
        P = {
            "noise": np.minimum(1.0, _k_from_values(s[mask], density, None, "score") * s),
            "weight": np.minimum(1.0, _k_from_values(a[mask], density, None, "weight") * a),
            "uniform": np.where(mask, density, 0.0),
        }
        exc = labels < n_cl
        same = labels[:, None] == labels[None, :]
        ee = mask & exc[:, None] & exc[None, :]
        p_in = P["noise"][ee & same].mean()
        p_out = P["noise"][ee & ~same].mean() if (ee & ~same).any() else float("nan")
        lam = np.sort(lr0.eigenvalues.real)[::-1][:3]
        between = R[:n_cl, :n_cl][~np.eye(n_cl, dtype=bool)].mean()
        print(
            f"seed {seed}: rates E {r[exc].mean():.1f} I {r[~exc].mean():.1f} Hz, slowest "
            f"A_eff {np.round(lam, 3).tolist()}, count correlation within "
            f"{np.mean(np.diag(R)[:n_cl]):.3f} between {between:.3f}, "
            f"keep within {p_in:.3f} between {p_out:.3f}, r(score, |J|) "
            f"{np.corrcoef(s[mask], a[mask])[0, 1]:.2f}"
        )
        for name, Pm in P.items():
            B = sparsify(J, Pm, rng=seeds[name], diagonal="original", rescale=True)
            if scaling:
                B = _scale_rows(J, B)
            mu = mu0 + np.asarray(homeostatic_drive(J, B, r * Hz, tau_s=neuron["tau_s"]) / mV)
            lr = linear_response(B, rates=r * Hz, mu=mu * mV, **neuron)
            slow2 = compare_spectra(lr0.A_eff, lr.A_eff).summary(slowest=(2,))[
                "slowest2_rel_err_max"
            ]
            cov = float(np.linalg.norm(_group_mean(lr.S0, labels) - C0) / np.linalg.norm(C0))
            errs[name]["slow2"].append(slow2)
            errs[name]["cov"].append(cov)
            print(f"    {name:>8}: slowest-2 {slow2:.3f}, cov {cov:.3f}")
    print("\nmedians over seeds, and seeds where the method beats weight")
    for name, e in errs.items():
        wins = {k: sum(x < y for x, y in zip(e[k], errs["weight"][k], strict=True)) for k in e}
        print(
            f"{name:>8}: slowest-2 {np.median(e['slow2']):.3f} ({wins['slow2']}/{n_seeds}), "
            f"cov {np.median(e['cov']):.3f} ({wins['cov']}/{n_seeds})"
        )
    return 0


def main(argv) -> int:
    if "--screen" in argv:
        rest = [a for a in argv if a not in ("--screen", "--scaling")]
        n = int(rest[0]) if rest and "=" not in rest[0] else 6
        return screen(n, [a for a in rest if "=" in a], "--scaling" in argv)
    n_seeds = int(argv[0]) if argv and not argv[0].startswith("--") else 4
    sets = [a.split("=", 1)[0] + "=" + a.split("=", 1)[1] for a in argv if "=" in a]
    logging.basicConfig(level=logging.WARNING)
    rows = []
    print(
        f"{'seed':>4} {'method':>8} {'slow2':>7} {'slow5':>7} {'cov err':>8} {'floor':>6} "
        f"{'rate E':>7} {'rate I':>7} {'sync':>5} {'r(tr,LR)':>8} {'r(s/|J|)':>8}"
    )
    for seed in range(1, n_seeds + 1):
        res = run_model(
            "spiking", rng=seed, overrides=["output.figures=false", *sets], progress=NoProgress()
        )
        m, sk = res.metrics["methods"], res.metrics["spiking"]
        for name in METHODS:
            e = m[name]
            row = {
                "seed": seed,
                "method": name,
                "slow2": e["spectra"]["slowest2_rel_err_max"],
                "slow5": e["spectra"]["slowest5_rel_err_max"],
                "cov": e["count_covariance_rel_err"],
                "floor": sk["count_covariance_floor"],
                "rate_e": e["rate_ratio_exc"],
                "rate_i": e["rate_ratio_inh"],
                "sync": e["synchrony"],
                "r": sk["traces"]["correlation_with_linear_response"],
                "r_w": sk["traces"]["correlation_per_weight"],
            }
            rows.append(row)
            print(
                f"{seed:>4} {name:>8} {row['slow2']:7.3f} {row['slow5']:7.3f} {row['cov']:8.3f} "
                f"{row['floor']:6.3f} {row['rate_e']:7.3f} {row['rate_i']:7.3f} "
                f"{row['sync']:5.2f} {row['r']:8.3f} {row['r_w']:8.3f}",
                flush=True,
            )
    print("\nmedians over seeds, and seeds where the method beats weight")
    for name in METHODS:
        mine = [r for r in rows if r["method"] == name]
        ref = [r for r in rows if r["method"] == "weight"]
        wins = {
            k: sum(a[k] < b[k] for a, b in zip(mine, ref, strict=True))
            for k in ("slow2", "slow5", "cov")
        }
        med = {k: float(np.median([r[k] for r in mine])) for k in ("slow2", "slow5", "cov")}
        print(
            f"{name:>8}: slowest-2 {med['slow2']:.3f} ({wins['slow2']}/{n_seeds}), "
            f"slowest-5 {med['slow5']:.3f} ({wins['slow5']}/{n_seeds}), "
            f"cov {med['cov']:.3f} ({wins['cov']}/{n_seeds})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
