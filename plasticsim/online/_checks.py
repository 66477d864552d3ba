r"""Stability and Euler-step checks of a rate network, exact when small, O(n + m) at scale.

Three numbers of ``A = -diag(leak) + W`` (``n`` neurons, ``m`` synapses) matter to the
simulator, with ``h = dt / tau``:

- the spectral abscissa ``alpha = max Re lambda`` (stability, ``alpha < 0``; the default
  burn-in lasts five relaxation times ``tau / |alpha|``);
- the growth factor ``g = max |1 + h lambda|`` of one Euler-Maruyama step (``g < 1`` or
  the simulation diverges);
- the stiffness ``h max|lambda|`` (above 0.25 the fastest modes' variance is inflated by
  more than 14 %).

**Exact** (``n <= EXACT_MAX_N``): one dense eigen-decomposition, ``O(n^3)`` time and
``O(n^2)`` memory (``eigvalsh`` when symmetric). ``eigvalsh`` of 1,000 neurons takes
~0.3 s on one core here (ten times more when OpenBLAS threads compete for a loaded
machine); every network of the tests and shipped models is this small, so their results
(the default burn-in included) do not depend on the bounds below.

**At scale** (``n > EXACT_MAX_N``), in this order:

1. *Gershgorin discs* [1]_, ``O(n + m)``: every eigenvalue lies in a disc of centre
   ``-leak_i`` and radius ``R_i = sum_j |w_ij|`` (rows; columns likewise, and the
   tighter of the two is used), so

   .. math:: \alpha \le \max_i (R_i - \mathrm{leak}_i), \quad
             \max|\lambda| \le \max_i (\mathrm{leak}_i + R_i), \quad
             g \le \max_i (|1 - h\,\mathrm{leak}_i| + h R_i).

   A negative first bound *certifies* stability (strict diagonal dominance) and gives an
   upper bound of the slowest relaxation time, hence a safe (longer) burn-in; the other
   two certify the step. The matched leaks of the decisions keep each row's margin
   ``leak_i - R_i`` (DESIGN.md §1), so a dominant network stays certified after pruning.
2. Otherwise *ARPACK* (``scipy.sparse.linalg.eigsh`` / ``eigs``) for the few extreme
   eigenvalues needed: the largest real part (``which="LA"`` / ``"LR"``) and, for the
   step, the eigenvalue of largest magnitude (symmetric: the spectrum lies in
   ``[-|lambda|_max, alpha]``) or the spectral radius of ``I + h A`` and of ``A``
   (``which="LM"``). Each call is bounded (``maxiter`` below, a fixed start
   vector so that the result is reproducible); a call that does not converge raises
   ``ValueError`` at construction (the network cannot be certified) and a warning after
   decisions.

Every message names the check that produced it.

References
----------
.. [1] S. Gershgorin, "Über die Abgrenzung der Eigenwerte einer Matrix", Izv. Akad. Nauk
   SSSR 6 (1931) 749-754; R. Varga, *Geršgorin and His Circles*, Springer 2004.
.. [2] R. Lehoucq, D. Sorensen, C. Yang, *ARPACK Users' Guide*, SIAM 1998.
"""

from __future__ import annotations

import logging
import warnings
from typing import NamedTuple

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from .._validation import unstable_error

__all__ = ["EXACT_MAX_N", "STIFFNESS_WARN", "Spectrum", "spectrum", "construction_checks"]

logger = logging.getLogger(__name__)

# Networks up to this many neurons are checked with a dense eigen-decomposition (exact).
EXACT_MAX_N = 2000
# Warn when (dt / tau) max|lambda| exceeds this: Euler-Maruyama's stationary variance of a
# mode lambda is sigma^2 / (2 |lambda| (1 - h |lambda| / 2)), a relative bias of ~14% here.
STIFFNESS_WARN = 0.25
# ARPACK: restarts allowed per call (each costs ~ncv = 20 products with A, O(m) each:
# at most ~6,000 products, a bound on the cost), and its relative tolerance (the checks
# compare with thresholds; six digits are plenty).
_ARPACK_MAXITER = 300
_ARPACK_TOL = 1e-6

EXACT = "exact eigenvalues (dense, n <= 2000)"
GERSHGORIN = "Gershgorin discs (bound)"
ARPACK = "ARPACK (scipy.sparse.linalg, estimate)"


class Spectrum(NamedTuple):
    """What the checks need of ``A``'s spectrum, and how each number was obtained."""

    abscissa: float  # max Re lambda (exact, upper bound, or estimate)
    abscissa_check: str
    growth: float  # max |1 + h lambda| (exact, upper bound, or estimate)
    worst: complex | None  # an eigenvalue attaining growth (None for a bound)
    radius: float  # max |lambda| (exact, upper bound, or estimate)
    step_check: str


def sparse_A(n, pre, post, w, leak) -> sp.csr_array:
    """``A = -diag(leak) + W`` as a CSR array (``O(n + m)``)."""
    diag = np.arange(n)
    return sp.csr_array(
        (np.concatenate([w, -leak]), (np.concatenate([post, diag]), np.concatenate([pre, diag]))),
        shape=(n, n),
    )


def dense_A(n, pre, post, w, leak) -> np.ndarray:
    """``A = -diag(leak) + W`` as a dense array; several synapses of one pair
    (multapses) are summed, as in :func:`sparse_A`."""
    A = np.zeros((n, n))
    np.add.at(A, (post, pre), w)  # == A[post, pre] = w when every pair appears once
    A[np.diag_indices(n)] = -leak
    return A


def _v0(n: int) -> np.ndarray:
    # A fixed start vector: ARPACK's default is random, which would make the checks (and
    # the default burn-in derived from them) differ from run to run.
    return np.random.default_rng(0).standard_normal(n)


def _arpack(A, *, symmetric: bool, which: str) -> complex:
    """One extreme eigenvalue of ``A`` (a matrix or LinearOperator); ArpackNoConvergence
    propagates."""
    n = A.shape[0]
    kw = {"k": 1, "maxiter": _ARPACK_MAXITER, "tol": _ARPACK_TOL, "v0": _v0(n)}
    if symmetric:
        vals = spla.eigsh(A, which=which, return_eigenvectors=False, **kw)
        return complex(vals[0])
    which = {"LA": "LR", "SA": "SR"}.get(which, which)
    kw["ncv"] = min(n, 20)  # eigs needs k + 1 < ncv <= n
    vals = spla.eigs(A, which=which, return_eigenvectors=False, **kw)
    return complex(vals[0])


def _exact(n, pre, post, w, leak, symmetric, h) -> Spectrum:
    A = dense_A(n, pre, post, w, leak)
    lam = np.linalg.eigvalsh(A) if symmetric else np.linalg.eigvals(A)
    rates = lam.astype(complex)
    growth = np.abs(1 + h * rates)
    i = int(np.argmax(growth))
    return Spectrum(
        float(np.max(lam.real)),
        EXACT,
        float(growth[i]),
        complex(rates[i]),
        float(np.max(np.abs(rates))),
        EXACT,
    )


def gershgorin(n, pre, post, w, leak, h) -> tuple[float, float, float]:
    """Upper bounds of the abscissa, of ``max|lambda|`` and of ``max|1 + h lambda|``.

    Row discs (centre ``-leak_i``, radius the absolute input of ``i``) and column discs
    (radius the absolute output) both contain the spectrum; each bound is the tighter of
    the two. ``O(n + m)``.
    """
    a = np.abs(w)
    best = [np.inf, np.inf, np.inf]
    for radius in (np.bincount(post, a, minlength=n), np.bincount(pre, a, minlength=n)):
        best[0] = min(best[0], float(np.max(radius - leak)))
        best[1] = min(best[1], float(np.max(leak + radius)))
        best[2] = min(best[2], float(np.max(np.abs(1 - h * leak) + h * radius)))
    return best[0], best[1], best[2]


def abscissa(n, pre, post, w, leak, symmetric) -> tuple[float, str]:
    """The spectral abscissa (exact, a Gershgorin upper bound, or an ARPACK estimate).

    Raises ``ValueError`` when ARPACK does not converge.
    """
    if n <= EXACT_MAX_N:
        A = dense_A(n, pre, post, w, leak)
        lam = np.linalg.eigvalsh(A) if symmetric else np.linalg.eigvals(A)
        return float(np.max(lam.real)), EXACT
    bound = gershgorin(n, pre, post, w, leak, 0.0)[0]
    if bound < 0:
        return bound, GERSHGORIN
    A = sparse_A(n, pre, post, w, leak)
    try:
        value = _arpack(A, symmetric=symmetric, which="LA").real
    except spla.ArpackNoConvergence as exc:
        raise ValueError(
            f"the network's stability cannot be certified: it is not diagonally dominant "
            f"(Gershgorin bound of the spectral abscissa {bound:.6g} >= 0) and ARPACK found "
            f"no eigenvalue of largest real part within {_ARPACK_MAXITER} iterations "
            f"({exc})."
        ) from None
    return float(value), ARPACK


def spectrum(n, pre, post, w, leak, *, symmetric: bool, h: float) -> Spectrum:
    """Abscissa, Euler growth factor and ``max|lambda|`` of ``A``, by the cheapest valid
    check (module docstring). Raises ``ValueError`` when ARPACK does not converge."""
    if n <= EXACT_MAX_N:
        return _exact(n, pre, post, w, leak, symmetric, h)
    alpha, alpha_check = abscissa(n, pre, post, w, leak, symmetric)
    _, radius, growth = gershgorin(n, pre, post, w, leak, h)
    if growth < 1 and h * radius <= STIFFNESS_WARN:
        return Spectrum(alpha, alpha_check, growth, None, radius, GERSHGORIN)
    A = sparse_A(n, pre, post, w, leak)
    try:
        if symmetric:
            # Real spectrum in [-|lm|, alpha] for the eigenvalue lm of largest magnitude:
            # |1 + h lambda| is convex in lambda, so its maximum is at an end (with a
            # Gershgorin alpha, an upper bound). One call, ARPACK's fastest mode.
            lm = abs(_arpack(A, symmetric=True, which="LM").real)
            ends = np.array([-lm, alpha])
            g = np.abs(1 + h * ends)
            worst = complex(ends[int(np.argmax(g))])
            return Spectrum(alpha, alpha_check, float(g.max()), worst, lm, ARPACK)
        step = spla.LinearOperator((n, n), matvec=lambda x: x + h * (A @ x), dtype=np.float64)
        mu = _arpack(step, symmetric=False, which="LM")
        lam_big = _arpack(A, symmetric=False, which="LM")
    except spla.ArpackNoConvergence as exc:
        raise ValueError(
            f"the Euler step cannot be certified for dt/tau == {h:.6g}: the Gershgorin "
            f"bound of max|1 + (dt/tau) lambda| is {growth:.6g} (of (dt/tau) max|lambda| "
            f"{h * radius:.3g}, warned above {STIFFNESS_WARN}) and ARPACK did not converge "
            f"within {_ARPACK_MAXITER} restarts ({exc})."
        ) from None
    return Spectrum(alpha, alpha_check, abs(mu), (mu - 1) / h, abs(lam_big), ARPACK)


def construction_checks(conn, *, tau, dt, noise_tau, stacklevel: int):
    """Refuse an unstable network or Euler step; warn when ``dt`` is coarse.

    ``tau``, ``dt`` and ``noise_tau`` are Brian2 times. Returns ``(abscissa, check)`` for
    the default burn-in.
    """
    h = float(dt) / float(tau)
    tau, noise_tau = float(tau), float(noise_tau)
    spec = spectrum(conn.n, conn.pre, conn.post, conn.w, conn.leak, symmetric=conn.symmetric, h=h)
    if not spec.abscissa < 0:
        if spec.abscissa_check == EXACT:
            raise unstable_error(None, "A", spec.abscissa)
        raise ValueError(
            f"A is not stable: its spectral abscissa (largest real part of an eigenvalue) "
            f"is {spec.abscissa:.6g} by {spec.abscissa_check}, must be < 0. An unstable "
            "network has no stationary covariance; increase the leak on the diagonal."
        )
    growth, worst, radius = spec.growth, spec.worst, spec.radius
    if noise_tau > 0:  # the OU current's own rate, -tau / noise_tau
        noise_rate = -tau / noise_tau
        if abs(1 + h * noise_rate) > growth:
            growth, worst = abs(1 + h * noise_rate), complex(noise_rate)
        radius = max(radius, abs(noise_rate))
    if not growth < 1:
        what = "" if worst is None else f" for lambda == {worst:.4g}"
        raise ValueError(
            f"dt == {dt!s} is too large: the Euler-Maruyama step is unstable, "
            f"|1 + (dt/tau) lambda| == {growth:.4g} >= 1{what} (eigenvalue of A, or "
            f"-tau/noise_tau; check: {spec.step_check}); decrease dt."
        )
    stiffness = h * radius
    if stiffness > STIFFNESS_WARN:
        inflation = 0.5 * stiffness / (1 - 0.5 * stiffness)
        dt_ok = STIFFNESS_WARN / stiffness * dt  # a Brian2 time
        warnings.warn(
            f"dt == {dt!s} is coarse for this network: (dt/tau) max|lambda| == "
            f"{stiffness:.3g} > {STIFFNESS_WARN}, so Euler-Maruyama inflates the variance "
            f"of the fastest mode by ~{100 * inflation:.0f}% and the traces overestimate "
            f"the scores it dominates (lambda: eigenvalues of A and -tau/noise_tau; check: "
            f"{spec.step_check}); use dt <= {dt_ok!s}.",
            RuntimeWarning,
            stacklevel=stacklevel + 1,
        )
    logger.debug(
        "checks: abscissa %.6g (%s), step growth %.6g and (dt/tau) max|lambda| %.3g (%s)",
        spec.abscissa,
        spec.abscissa_check,
        growth,
        stiffness,
        spec.step_check,
    )
    return spec.abscissa, spec.abscissa_check
