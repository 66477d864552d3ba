"""The spiking model's claims over several seeds: traces against linear response, the
slowest modes of A_eff and the between-cluster spike-count covariance after pruning to
20% (online traces, offline linear-response scores, weight and uniform baselines, all
with the same homeostasis), and the firing rates.

Run: ``python benchmarks/spiking_claims.py [n_seeds] [--set KEY=VALUE ...]`` (one run of
``models/spiking.toml`` per seed, a few minutes each on one core). Prints one row per seed
and method, then the medians and how often each method beats the weight baseline.
"""

from __future__ import annotations

import logging
import sys

import numpy as np

from plasticsim.experiment import NoProgress, run_model

METHODS = ("online", "noise", "weight", "uniform")


def main(argv) -> int:
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
