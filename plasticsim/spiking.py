r"""Linear-response theory of networks of leaky integrate-and-fire (LIF) neurons.

Around an asynchronous irregular state, the spike-count covariances of a recurrent LIF
network obey the linear structure of a rate network with effective connectivity
``A_eff = -I + diag(g) J tau_s``, ``g`` the neurons' gains at the operating point
(Trousdale et al. 2012 [3]_; Grytskyy et al. 2013 [4]_). This module gives the pieces:

- the single-neuron statistics under white (or synaptically filtered) Gaussian noise:
  stationary firing rate (:func:`lif_rate`, Siegert's formula), ISI coefficient of
  variation (:func:`lif_cv`) and gain ``d rate / d mu`` (:func:`lif_gain`);
- the self-consistent operating point of a recurrent network (:func:`operating_point`);
- the zero-frequency spike-count covariance and the noise-prune scores
  (:func:`linear_response`).

Neuron model (potentials relative to rest, in mV; ``J[i, j]`` from presynaptic ``j`` onto
postsynaptic ``i``, the jump of the synaptic current in mV)::

    tau_m dv_i/dt = -v_i + mu_i + I_syn,i + sigma_i sqrt(tau_m) xi_i(t)
    tau_s dI_syn,i/dt = -I_syn,i          (on a spike of j: I_syn,i += J[i, j])
    v_i > V_th: spike, v_i = V_r, clamped for t_ref

``xi`` is Gaussian white noise of unit intensity (Brian2's ``xi``), so a free membrane
potential has variance ``sigma^2 / 2`` (the convention of Brunel 2000 [1]_). Potentials
and ``sigma`` are Brian2 quantities in volts, times in seconds, rates in hertz; ``J`` is a
plain array (dense or ``scipy.sparse``) in mV, or a dense quantity in volts.

Defaults (:data:`LIF_DEFAULTS`, shared with :class:`plasticsim.online.SpikingNetwork`):
``tau_m = 20 ms``, ``V_th = 20 mV``, ``V_r = 10 mV``, ``t_ref = 2 ms`` (Brunel 2000 [1]_,
the classic asynchronous irregular LIF network), ``tau_s = 5 ms`` (a fast AMPA/GABA_A-like
current, ``tau_s << tau_m`` as the diffusion and linear-response approximations want),
``E_L = 0 mV``, ``mu = 15 mV`` and white noise ``sigma = 5 mV`` (``noise_tau = 0 ms``): a
lone neuron then fires at 9.5 Hz with ISI CV 0.81, below threshold on average and driven
by fluctuations, the asynchronous irregular regime (with ``mu`` 10-15 mV and ``sigma``
5-10 mV a neuron fires at a few to ~20 Hz with CV 0.6-0.9); ``tau_r = 100 ms``, the rate
filter of the online traces, much longer than the network's correlation times (~``tau_m``)
so that ``Cov(r) ~ S(0) / (2 tau_r)``; ``dt = 0.1 ms``, the simulators' Euler step.

References
----------
.. [1] N. Brunel, "Dynamics of sparsely connected networks of excitatory and inhibitory
   spiking neurons", J. Comput. Neurosci. 8:183-208, 2000 (the rate, and the ISI CV in
   Appendix A.1).
.. [2] N. Fourcaud, N. Brunel, "Dynamics of the firing probability of noisy
   integrate-and-fire neurons", Neural Comput. 14:2057-2110, 2002.
.. [3] J. Trousdale, Y. Hu, E. Shea-Brown, K. Josic, "Impact of network structure and
   cellular response on spike time correlations", PLoS Comput. Biol. 8:e1002408, 2012.
.. [4] D. Grytskyy, T. Tetzlaff, M. Diesmann, M. Helias, "A unified view on weakly
   correlated recurrent networks", Front. Comput. Neurosci. 7:131, 2013.
.. [5] M. Broadie, P. Glasserman, S. Kou, "A continuity correction for discrete barrier
   options", Math. Finance 7:325-349, 1997 (the discrete-monitoring shift
   ``-zeta(1/2) / sqrt(2 pi)`` of a barrier, after Siegmund 1979).
.. [6] A. J. F. Siegert, "On the first passage time probability problem", Phys. Rev.
   81:617-623, 1951.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np
from scipy.special import dawsn, erfc, erfcx, roots_legendre, zeta

from ._brian import brian2
from ._sparse import SPARSE_EXACT_MAX_N
from ._validation import check_integer, check_matrix, check_sparse_matrix, is_sparse

Hz = brian2.Hz
mV = brian2.mV
ms = brian2.ms
second = brian2.second
volt = brian2.volt
Quantity = brian2.Quantity

__all__ = [
    "LIF_DEFAULTS",
    "MAX_COVARIANCE_N",
    "LinearResponse",
    "OperatingPoint",
    "clustered_ei",
    "group_count_covariance",
    "homeostatic_drive",
    "lif_cv",
    "lif_gain",
    "lif_rate",
    "linear_response",
    "operating_point",
]

#: Default LIF parameters, the one place for them: the theory here and
#: :class:`plasticsim.online.SpikingNetwork` both read this dict (module docstring).
LIF_DEFAULTS = {
    "tau_m": 20 * ms,
    "V_th": 20 * mV,
    "V_r": 10 * mV,
    "t_ref": 2 * ms,
    "tau_s": 5 * ms,
    "E_L": 0 * mV,
    "mu": 15 * mV,
    "sigma": 5 * mV,
    "noise_tau": 0 * ms,
    "tau_r": 100 * ms,
    "dt": 0.1 * ms,
}

#: Largest network for which :func:`linear_response` forms the ``n x n`` covariance (dense
#: ``O(n^3)`` solve and eigenvalues): the exact-path limit of :mod:`plasticsim.rule`.
MAX_COVARIANCE_N = SPARSE_EXACT_MAX_N

# Fourcaud-Brunel: noise low-pass filtered with tau_s shifts threshold and reset by
# sigma * ALPHA / 2 * sqrt(tau_s / tau_m), ALPHA = sqrt(2) |zeta(1/2)| ([2]).
_ALPHA = float(np.sqrt(2.0) * abs(zeta(0.5)))
# Discrete monitoring (Euler step dt, white noise): the threshold is effectively raised by
# BETA times the standard deviation of one step, sigma sqrt(dt / tau_m) ([5]).
_BETA = float(abs(zeta(0.5)) / np.sqrt(2.0 * np.pi))

_DEFAULT = object()  # sentinel: "use LIF_DEFAULTS"


# ------------------------------------------------------------------------- validation


def _fmt(value) -> str:
    if isinstance(value, np.ndarray) and not isinstance(value, Quantity):
        return f"array of shape {value.shape}"
    return repr(value)


def _check_quantity(name: str, value, unit, unit_name: str, example: str, *, rule=None):
    """Return ``value / unit`` as a float64 array (any shape), or raise.

    ``rule`` is ``None``, ``"positive"`` or ``"nonnegative"``.
    """
    if not isinstance(value, Quantity) or not brian2.have_same_dimensions(value, unit):
        raise TypeError(
            f"{name} must be a Brian2 quantity in {unit_name} such as {example}, "
            f"got {_fmt(value)}."
        )
    return check_values(name, value, np.asarray(value / unit, dtype=np.float64), rule)


def check_values(name: str, value, arr: np.ndarray, rule=None) -> np.ndarray:
    """``arr`` (the numbers of ``value``) if finite and obeying ``rule``, else raise.

    ``rule`` is ``None``, ``"positive"`` or ``"nonnegative"``; the message shows ``value``.
    """
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} == {value!r}, must be finite.")
    if rule == "positive" and not np.all(arr > 0):
        raise ValueError(f"{name} == {value!r}, must be > 0.")
    if rule == "nonnegative" and not np.all(arr >= 0):
        raise ValueError(f"{name} == {value!r}, must be >= 0.")
    return arr


def _check_scalar_quantity(name, value, unit, unit_name, example, *, rule=None) -> float:
    arr = _check_quantity(name, value, unit, unit_name, example, rule=rule)
    if arr.ndim != 0:
        raise ValueError(f"{name} must be a scalar, got shape {arr.shape}.")
    return float(arr)


def _neuron(tau_m, V_th, V_r, t_ref, tau_s, dt):
    """Validated neuron parameters: times in s, potentials in mV (``tau_s``/``dt`` or None)."""
    p = {
        "tau_m": _check_scalar_quantity(
            "tau_m", tau_m, second, "seconds", "20*ms", rule="positive"
        ),
        "V_th": _check_scalar_quantity("V_th", V_th, mV, "volts", "20*mV"),
        "V_r": _check_scalar_quantity("V_r", V_r, mV, "volts", "10*mV"),
        "t_ref": _check_scalar_quantity(
            "t_ref", t_ref, second, "seconds", "2*ms", rule="nonnegative"
        ),
    }
    if not p["V_r"] < p["V_th"]:
        raise ValueError(f"V_r == {V_r!r} must be below V_th == {V_th!r}.")
    p["tau_s"] = None
    if tau_s is not None:
        p["tau_s"] = _check_scalar_quantity(
            "tau_s", tau_s, second, "seconds", "5*ms", rule="positive"
        )
    p["dt"] = None
    if dt is not None:
        p["dt"] = _check_scalar_quantity("dt", dt, second, "seconds", "0.1*ms", rule="positive")
    if p["tau_s"] is not None and p["dt"] is not None:
        raise ValueError(
            f"dt == {dt!r} and tau_s == {tau_s!r}: the discrete-time correction (dt) holds "
            "for white noise only; with filtered noise (tau_s) the membrane potential is "
            "smooth and the threshold overshoot of a time step is O(dt), not O(sqrt(dt))."
        )
    return p


def _default(value, key):
    return LIF_DEFAULTS[key] if value is _DEFAULT else value


# ------------------------------------------------------------- single-neuron statistics

_GL_X, _GL_W = roots_legendre(16)
_GL_X = 0.5 * (_GL_X + 1.0)  # nodes on [0, 1]
_GL_W = 0.5 * _GL_W


def _log_erfcx_scaled(y, b):
    """``log(erfcx(-y)) - max(b, 0)^2`` without overflow or cancellation, any real ``y``.

    ``erfcx(-y) = exp(y^2) erfc(-y)``; for ``y > 0`` and ``b > 0`` the exponent
    ``y^2 - b^2`` is formed as ``(y - b)(y + b)``, exact for ``y`` close to a large ``b``.
    """
    y, b = np.broadcast_arrays(np.asarray(y, np.float64), np.asarray(b, np.float64))
    bp = np.maximum(b, 0.0)
    pos = y > 0
    yp = np.where(pos, y, 0.0)
    yn = np.where(pos, 0.0, y)
    return np.where(pos, (yp - bp) * (yp + bp) + np.log(erfc(-yp)), np.log(erfcx(-yn)) - bp * bp)


def _log_f_dE(y, b):
    """``log(f(y) E(y, b)) - 2 max(b, 0)^2`` for ``y < b``, without cancellation.

    ``f(y) = e^{y^2} (1 + erf y)^2`` and ``E(y, b) = int_y^b e^{x^2} dx``, with Dawson's
    function ``D``: ``int_0^y e^{x^2} dx = e^{y^2} D(y)``. The large exponentials of the two
    factors cancel analytically in each case; no ``y^2`` is ever subtracted from another.
    """
    y, b = np.broadcast_arrays(np.asarray(y, np.float64), np.asarray(b, np.float64))
    out = np.empty(y.shape)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        c = b <= 0  # y < b <= 0: f E = erfcx(|y|)^2 (|D(y)| - e^{b^2 - y^2} |D(b)|)
        yc, bc = y[c], b[c]
        out[c] = 2 * np.log(erfcx(-yc)) + np.log(
            -dawsn(yc) + np.exp((bc - yc) * (bc + yc)) * dawsn(bc)
        )
        c = (b > 0) & (y >= 0)  # f E / e^{2b^2} = erfc(-y)^2 e^{y^2-b^2} (D(b) - e^{y^2-b^2} D(y))
        yc, bc = y[c], b[c]
        q = (yc - bc) * (yc + bc)
        out[c] = 2 * np.log(erfc(-yc)) + q + np.log(dawsn(bc) - np.exp(q) * dawsn(yc))
        c = (b > 0) & (y < 0)  # erfcx(|y|)^2 (e^{-y^2-b^2} D(b) + e^{-2b^2} |D(y)|)
        yc, bc = y[c], b[c]
        out[c] = 2 * np.log(erfcx(-yc)) + np.logaddexp(
            -yc * yc - bc * bc + np.log(dawsn(bc)), -2 * bc * bc + np.log(-dawsn(yc))
        )
    return out


def _quad(logf, start, length, h, direction, shift):
    """``int_0^length exp(logf(start + direction * d) - shift) dd``, vectorised.

    Composite 16-point Gauss-Legendre on geometric panels ``[0, h], [h, 2h], [2h, 4h], ...``
    (clipped at ``length``): the first panel resolves the integrand's scale near ``start``
    (``h ~ 1 / |y|``: ``exp(y^2)`` varies on that scale), the doubling panels its slow
    (algebraic) tails. Agrees with adaptive ``scipy.integrate.quad`` to 1e-11 or better
    (tests; ~1e-15 typical). ``logf`` receives an array of shape ``(n, panels, 16)``.
    """
    start, length, h, shift = np.broadcast_arrays(
        *(np.asarray(v, np.float64).ravel() for v in (start, length, h, shift))
    )
    ratio = float(np.max(length / h)) if length.size else 1.0
    panels = int(np.ceil(np.log2(max(ratio, 1.0)))) + 2
    edges = np.concatenate([[0.0], 2.0 ** np.arange(panels)])
    e = np.minimum(edges[None, :] * h[:, None], length[:, None])
    width = np.diff(e, axis=1)[:, :, None]
    d = e[:, :-1, None] + width * _GL_X
    with np.errstate(divide="ignore", under="ignore"):
        v = np.exp(logf(start[:, None, None] + direction * d) - shift[:, None, None])
    return np.sum(np.where(width > 0, v, 0.0) * (width * _GL_W), axis=(1, 2))


def _lif_stats(mu, sigma, p, *, want_cv=False):
    """Rate (Hz), gain (Hz/mV) and optionally CV for arrays ``mu``, ``sigma`` in mV.

    Works with ``M = exp(max(y_th, 0)^2)`` factored out of every large quantity, so no
    intermediate overflows: a neuron far below threshold gets rate 0 and CV 1.
    """
    mu, sigma = np.broadcast_arrays(np.asarray(mu, np.float64), np.asarray(sigma, np.float64))
    shape = mu.shape
    mu, sigma = mu.ravel(), sigma.ravel()
    tau, t_ref = p["tau_m"], p["t_ref"]
    shift_th = shift_r = np.zeros_like(sigma)
    if p["tau_s"] is not None:  # Fourcaud & Brunel 2002: both boundaries move
        shift_th = shift_r = sigma * (_ALPHA / 2.0) * np.sqrt(p["tau_s"] / tau)
    elif p["dt"] is not None:  # discrete monitoring: the threshold only
        shift_th = sigma * _BETA * np.sqrt(p["dt"] / tau)
    y_th = (p["V_th"] + shift_th - mu) / sigma
    y_r = (p["V_r"] + shift_r - mu) / sigma
    m = np.maximum(y_th, 0.0) ** 2
    h = 0.5 / np.maximum(1.0, np.abs(y_th))
    # Mean first-passage time: G = int_{y_r}^{y_th} erfcx(-u) du, scaled by 1/M.
    b3 = y_th[:, None, None]
    G = _quad(lambda u: _log_erfcx_scaled(u, b3), y_th, y_th - y_r, h, -1.0, 0.0)
    with np.errstate(under="ignore"):
        e_m = np.exp(-m)
        den = t_ref * e_m + tau * np.sqrt(np.pi) * G  # (mean ISI) / M, seconds
        rate = e_m / den
        # d rate / d mu = rate^2 tau sqrt(pi) (erfcx(-y_th) - erfcx(-y_r)) / sigma.
        x_th = np.exp(_log_erfcx_scaled(y_th, y_th))
        x_r = np.exp(_log_erfcx_scaled(y_r, y_th))
        gain = e_m * tau * np.sqrt(np.pi) * (x_th - x_r) / (sigma * den**2)
    out = {"rate": rate, "gain": gain}
    if want_cv:
        out["cv"] = np.sqrt(_cv2_scaled(y_r, y_th, h) * 2.0 * np.pi * tau**2 / den**2)
    for key, value in out.items():
        if not np.all(np.isfinite(value)):  # never silently: name the input that failed
            k = int(np.argmax(~np.isfinite(value)))
            raise FloatingPointError(
                f"the LIF {key} is not finite at mu == {mu[k]!r} mV, sigma == {sigma[k]!r} mV "
                f"(y_th == {y_th[k]!r}, y_r == {y_r[k]!r}); the inputs are outside the "
                "range the quadrature resolves."
            )
        out[key] = value.reshape(shape)
    return out


def _cv2_scaled(y_r, y_th, h):
    """``I2 / M^2`` with ``CV^2 = 2 pi (rate tau)^2 I2`` (Brunel 2000, Appendix A.1).

    ``I2 = int_{y_r}^{y_th} dx e^{x^2} int_{-inf}^x dy f(y)``, ``f(y) = e^{y^2} (1 + erf y)^2
    = e^{-y^2} erfcx(-y)^2``. Exchanging the order,
    ``I2 = Phi(y_r) E(y_r, y_th) + int_{y_r}^{y_th} f(y) E(y, y_th) dy`` with
    ``Phi(a) = int_{-inf}^a f`` and ``E(a, b) = int_a^b e^{x^2} dx`` (closed form via
    Dawson's function): one single integral and one tail integral. The exponentials of
    ``f`` and ``E`` cancel analytically (:func:`_log_f_dE`), so nothing overflows and no
    two large squares are subtracted.
    """

    b = y_th
    inner = _quad(lambda y: _log_f_dE(y, b[:, None, None]), b, b - y_r, h, -1.0, 0.0)
    outer = np.zeros_like(b)
    with np.errstate(under="ignore"):
        neg = y_r <= 0
        if np.any(neg):
            # Phi(y_r) = e^{-y_r^2} Qt(a), a = -y_r,
            # Qt(a) = int_0^inf e^{-2 a s - s^2} erfcx(a + s)^2 ds (integrand <= e^{-s^2}).
            a, bn = -y_r[neg], b[neg]
            a3 = a[:, None, None]
            Qt = _quad(
                lambda t: 2.0 * np.log(erfcx(t)) - (t - a3) * (t + a3),
                a,
                40.0,
                0.5 / np.maximum(1.0, a),
                1.0,
                0.0,
            )
            # e^{-y_r^2} E(y_r, b) / e^{2 max(b, 0)^2}, by the sign of b
            E = np.empty_like(a)
            c = bn <= 0
            E[c] = -dawsn(-a[c]) + np.exp((bn[c] + a[c]) * (bn[c] - a[c])) * dawsn(bn[c])
            c = ~c
            bp, ap = bn[c], a[c]
            E[c] = np.exp(-ap * ap - bp * bp) * dawsn(bp) - np.exp(-2 * bp * bp) * dawsn(-ap)
            outer[neg] = Qt * E
        pos = ~neg
        if np.any(pos):
            # Phi(y_r) = Phi(0) + int_0^{y_r} f, f(y) = e^{y^2} erfc(-y)^2; both over e^{b^2}.
            yr, bb = y_r[pos], b[pos]
            phi0 = _quad(lambda t: 2.0 * np.log(erfcx(t)) - t * t, 0.0, 40.0, 0.5, 1.0, 0.0)
            y3 = yr[:, None, None]
            P = _quad(
                lambda y: 2.0 * np.log(erfc(-y)) + (y - y3) * (y + y3),
                yr,
                yr,
                0.5 / np.maximum(1.0, yr),
                -1.0,
                0.0,
            )
            q = (yr - bb) * (yr + bb)
            phi = phi0 * np.exp(-bb * bb) + np.exp(q) * P
            outer[pos] = phi * (dawsn(bb) - np.exp(q) * dawsn(yr))
    return inner + outer


def _single(mu, sigma, tau_m, V_th, V_r, t_ref, tau_s, dt):
    p = _neuron(
        _default(tau_m, "tau_m"), _default(V_th, "V_th"), _default(V_r, "V_r"),
        _default(t_ref, "t_ref"), tau_s, dt,
    )  # fmt: skip
    mu = _check_quantity("mu", mu, mV, "volts", "15*mV")
    sigma = _check_quantity("sigma", sigma, mV, "volts", "5*mV", rule="positive")
    try:
        np.broadcast_shapes(mu.shape, sigma.shape)
    except ValueError:
        raise ValueError(
            f"mu has shape {mu.shape} and sigma has shape {sigma.shape}: they must broadcast."
        ) from None
    return mu, sigma, p


_PARAMS_DOC = """
    mu : Quantity (volts), scalar or array
        Mean input ``mu`` (the membrane potential's mean without threshold), e.g. ``15*mV``.
    sigma : Quantity (volts), scalar or array broadcasting with ``mu``, > 0
        Noise amplitude: ``tau_m dv/dt = -v + mu + sigma sqrt(tau_m) xi``.
    tau_m, V_th, V_r, t_ref : Quantity, default from :data:`LIF_DEFAULTS`
        Membrane time constant, threshold, reset (``V_r < V_th``), refractory period.
    tau_s : Quantity (seconds), default=None
        Correlation time of the noise when it is white noise low-pass filtered with
        ``tau_s`` (synaptic filtering): Fourcaud & Brunel's effective boundaries
        ``V + sigma (alpha / 2) sqrt(tau_s / tau_m)``, ``alpha = sqrt(2) |zeta(1/2)|``,
        first order in ``sqrt(tau_s / tau_m)``. ``None``: white noise.
    dt : Quantity (seconds), default=None
        Time step of a simulation to compare with (white noise only): the threshold of
        a discretely monitored diffusion is effectively ``V_th + beta sigma
        sqrt(dt / tau_m)``, ``beta = |zeta(1/2)| / sqrt(2 pi) = 0.5826`` (Broadie,
        Glasserman & Kou 1997), first order in ``sqrt(dt / tau_m)``. ``None``: continuous
        time."""


def _doc(f):
    f.__doc__ = f.__doc__.replace("    PARAMS", _PARAMS_DOC.strip("\n"))
    return f


@_doc
def lif_rate(
    mu, sigma, *, tau_m=_DEFAULT, V_th=_DEFAULT, V_r=_DEFAULT, t_ref=_DEFAULT, tau_s=None, dt=None
):
    r"""Stationary firing rate of a LIF neuron driven by Gaussian noise (Siegert formula).

    .. math:: \frac{1}{r} = t_\mathrm{ref} + \tau_m \sqrt{\pi}
              \int_{y_r}^{y_\theta} e^{u^2} (1 + \mathrm{erf}\, u)\, du,
              \qquad y_\theta = \frac{V_\mathrm{th} - \mu}{\sigma},\;
              y_r = \frac{V_r - \mu}{\sigma}

    (Siegert 1951; Brunel 2000). The integrand is ``erfcx(-u)``, evaluated as
    ``exp(u^2 + log erfc(-u))`` with ``exp(y_th^2)`` factored out, so that no step
    overflows: far below threshold the rate underflows to 0 Hz instead of failing.

    Parameters
    ----------
    PARAMS

    Returns
    -------
    rate : Quantity (hertz), shape of ``mu`` and ``sigma`` broadcast

    See Also
    --------
    lif_cv, lif_gain

    Notes
    -----
    ``O(q)`` per neuron with ``q ~ 16 log2(|y_th - y_r| max(1, |y_th|))`` quadrature
    nodes (a few hundred at most); exact to ~1e-14 relative against adaptive quadrature.
    Assumes the diffusion approximation (many small inputs); the ``tau_s`` correction is
    first order in ``sqrt(tau_s / tau_m)``.

    Examples
    --------
    >>> import numpy as np
    >>> from brian2 import Hz, mV
    >>> r = lif_rate(15 * mV, 5 * mV)
    >>> print(f"{float(r / Hz):.3f}")
    9.461
    >>> from scipy.integrate import quad
    >>> from scipy.special import erfcx
    >>> integral = quad(lambda u: erfcx(-u), (10 - 15) / 5, (20 - 15) / 5)[0]
    >>> bool(np.isclose(float(r / Hz), 1 / (0.002 + 0.020 * np.sqrt(np.pi) * integral)))
    True
    """
    mu, sigma, p = _single(mu, sigma, tau_m, V_th, V_r, t_ref, tau_s, dt)
    return _lif_stats(mu, sigma, p)["rate"] * Hz


@_doc
def lif_cv(
    mu, sigma, *, tau_m=_DEFAULT, V_th=_DEFAULT, V_r=_DEFAULT, t_ref=_DEFAULT, tau_s=None, dt=None
):
    r"""Coefficient of variation of the interspike intervals of a noise-driven LIF neuron.

    .. math:: \mathrm{CV}^2 = 2\pi (r \tau_m)^2 \int_{y_r}^{y_\theta} dx\, e^{x^2}
              \int_{-\infty}^{x} dy\, e^{y^2} (1 + \mathrm{erf}\, y)^2

    (Brunel 2000, Appendix A.1), ``r`` from :func:`lif_rate`. The order of integration
    is exchanged so that the inner integral over ``x`` is closed-form (Dawson's
    function) and everything is evaluated in log space: no overflow for any input.

    Parameters
    ----------
    PARAMS

    Returns
    -------
    cv : ndarray or float, shape of ``mu`` and ``sigma`` broadcast
        Dimensionless. For a renewal process it is also the square root of the
        asymptotic Fano factor of spike counts.

    Notes
    -----
    Same cost as :func:`lif_rate` times about three. Limits: ``CV -> 0`` for
    ``sigma -> 0`` above threshold (regular firing), ``CV -> 1`` far below threshold
    (Poisson-like escape). The refractory period adds no variance.

    Examples
    --------
    >>> from brian2 import mV
    >>> print(f"{float(lif_cv(15 * mV, 5 * mV)):.4f}")
    0.8148
    >>> print(f"{float(lif_cv(40 * mV, 0.01 * mV)):.4f}")  # regular firing
    0.0005
    """
    mu, sigma, p = _single(mu, sigma, tau_m, V_th, V_r, t_ref, tau_s, dt)
    cv = _lif_stats(mu, sigma, p, want_cv=True)["cv"]
    return float(cv) if cv.ndim == 0 else cv


@_doc
def lif_gain(
    mu, sigma, *, tau_m=_DEFAULT, V_th=_DEFAULT, V_r=_DEFAULT, t_ref=_DEFAULT, tau_s=None, dt=None
):
    r"""Gain ``d rate / d mu`` of a LIF neuron at fixed noise (the zero-frequency response).

    Differentiating the Siegert formula under the integral sign (the boundaries are
    the only places ``mu`` enters; the ``tau_s`` and ``dt`` shifts depend on ``sigma``
    alone):

    .. math:: \frac{\partial r}{\partial \mu} = \frac{r^2 \tau_m \sqrt{\pi}}{\sigma}
              \left[\mathrm{erfcx}(-y_\theta) - \mathrm{erfcx}(-y_r)\right]

    Parameters
    ----------
    PARAMS

    Returns
    -------
    gain : Quantity (hertz per volt), shape of ``mu`` and ``sigma`` broadcast

    Notes
    -----
    Analytic (no finite difference), same cost as :func:`lif_rate`.

    Examples
    --------
    >>> import numpy as np
    >>> from brian2 import Hz, mV
    >>> g = lif_gain(15 * mV, 5 * mV)
    >>> print(f"{float(g / (Hz / mV)):.4f}")
    2.9073
    >>> h = 1e-4 * mV
    >>> fd = (lif_rate(15 * mV + h, 5 * mV) - lif_rate(15 * mV - h, 5 * mV)) / (2 * h)
    >>> bool(np.isclose(float(fd / (Hz / mV)), float(g / (Hz / mV)), rtol=1e-7))
    True
    """
    mu, sigma, p = _single(mu, sigma, tau_m, V_th, V_r, t_ref, tau_s, dt)
    return _lif_stats(mu, sigma, p)["gain"] * (Hz / mV)


# ------------------------------------------------------------------- recurrent network


def _check_J(J):
    """``J`` as float64 in mV: dense ndarray or canonical ``csr_array``; zero diagonal."""
    if is_sparse(J):
        J = check_sparse_matrix(J, "J")
    else:
        if isinstance(J, Quantity):
            J = _check_quantity("J", J, mV, "volts", "an array times mV")
        J = check_matrix(J, "J")
    diag = J.diagonal() if is_sparse(J) else np.diag(J)
    if np.any(diag != 0):
        i = int(np.argmax(diag != 0))
        raise ValueError(
            f"J[{i}, {i}] == {float(diag[i])!r}: the model has no autapses, the diagonal of "
            "J must be 0."
        )
    return J


def _vector(name, value, n, unit, unit_name, example, *, rule=None) -> np.ndarray:
    arr = _check_quantity(name, value, unit, unit_name, example, rule=rule)
    if arr.ndim == 0:
        return np.full(n, float(arr))
    if arr.shape != (n,):
        raise ValueError(f"{name} has shape {arr.shape}, must be scalar or ({n},) for J.")
    return arr


@dataclass(frozen=True)
class OperatingPoint:
    """Self-consistent stationary state of a recurrent LIF network.

    Attributes
    ----------
    rates : Quantity (hertz), shape (n,)
    mu : Quantity (volts), shape (n,)
        Total mean input ``mu_ext + tau_s J r``.
    sigma : Quantity (volts), shape (n,)
        Total noise amplitude ``sqrt(sigma_ext^2 + (tau_s^2 / tau_m) (J * J) r)``.
    iterations : int
        Damped fixed-point iterations used (0 when the rates were given).
    residual : Quantity (hertz)
        ``max |phi(r) - r|`` at the returned rates, ``phi`` the Siegert rate of each
        neuron's total input: the self-consistency error (for given, measured rates, how
        far they are from the mean-field prediction).
    """

    rates: Quantity
    mu: Quantity
    sigma: Quantity
    iterations: int
    residual: Quantity


def _inputs(J, J2, r, mu_ext, var_ext, tau_s, tau_m):
    """Total mean (mV) and noise amplitude (mV) of every neuron at rates ``r`` (Hz)."""
    mu = mu_ext + tau_s * (J @ r)
    sigma = np.sqrt(var_ext + (tau_s * tau_s / tau_m) * (J2 @ r))
    return mu, sigma


def _squared(J):
    return J.multiply(J).tocsr() if is_sparse(J) else J * J


def _check_network_options(damping, rtol, max_iter):
    if isinstance(damping, bool) or not isinstance(damping, numbers.Real):
        raise TypeError(f"damping must be a real number, got {_fmt(damping)}.")
    if not 0 < damping <= 1:
        raise ValueError(f"damping == {damping!r}, must be in (0, 1].")
    if isinstance(rtol, bool) or not isinstance(rtol, numbers.Real):
        raise TypeError(f"rtol must be a real number, got {_fmt(rtol)}.")
    if not 0 < rtol < 1:
        raise ValueError(f"rtol == {rtol!r}, must be in (0, 1).")
    return float(damping), float(rtol), check_integer("max_iter", max_iter, minimum=1)


def _solve(J, mu_ext, sigma_ext, p, r0, damping, rtol, max_iter):
    """Damped fixed-point iteration ``r <- r + damping (phi(r) - r)`` (arrays in Hz, mV)."""
    J2 = _squared(J)
    var_ext = sigma_ext**2
    r = r0.copy()
    for it in range(1, max_iter + 1):
        mu, sigma = _inputs(J, J2, r, mu_ext, var_ext, p["tau_s_syn"], p["tau_m"])
        phi = _lif_stats(mu, sigma, p)["rate"]
        step = phi - r
        res = float(np.max(np.abs(step)))
        if not np.isfinite(res):
            break
        if res <= rtol * max(1.0, float(np.max(phi))):
            return phi, it, res
        r = r + damping * step
    raise RuntimeError(
        f"operating_point did not converge: after {it} damped fixed-point iterations "
        f"(damping={damping}) max |phi(r) - r| == {res:.3g} Hz > rtol * max(1 Hz, max r) "
        f"(rtol={rtol}). The network may have no stable asynchronous state (strong "
        "recurrent excitation, rate oscillations); otherwise try a smaller damping or a "
        "larger max_iter."
    )


def operating_point(
    J,
    mu,
    sigma,
    *,
    tau_m=_DEFAULT,
    V_th=_DEFAULT,
    V_r=_DEFAULT,
    t_ref=_DEFAULT,
    tau_s=_DEFAULT,
    dt=None,
    rates0=None,
    damping=0.5,
    rtol=1e-10,
    max_iter=10_000,
):
    r"""Self-consistent firing rates of a recurrent LIF network (mean-field, diffusion limit).

    Each neuron fires at the Siegert rate :func:`lif_rate` of its total input, whose mean
    and variance depend on the rates:

    .. math:: \mu_i = \mu^\mathrm{ext}_i + \tau_s \sum_j J_{ij} r_j, \qquad
              \sigma_i^2 = (\sigma^\mathrm{ext}_i)^2 + \frac{\tau_s^2}{\tau_m}
              \sum_j J_{ij}^2 r_j,

    solved by damped fixed-point iteration ``r <- r + damping (phi(r) - r)``.

    Assumptions: presynaptic spike trains are independent Poisson processes (their
    correlations and non-Poisson statistics are neglected in the input); each spike of
    ``j`` injects the charge ``J_ij tau_s`` (a voltage kick ``J_ij tau_s / tau_m``), small
    against ``V_th - V_r`` (diffusion approximation); the synaptic shot noise, filtered
    with ``tau_s``, is treated as white noise of the same zero-frequency intensity
    (``sigma^2 tau_m = J^2 tau_s^2 r``), i.e. ``tau_s << tau_m`` or a small synaptic share
    of the variance; the external noise is white.

    Parameters
    ----------
    J : array_like or scipy.sparse array of shape (n, n)
        Weights in mV (the jump of the synaptic current; row = postsynaptic), zero
        diagonal. A dense Brian2 quantity in volts is accepted.
    mu, sigma : Quantity (volts), scalar or shape (n,)
        External mean drive and white-noise amplitude (``sigma > 0``).
    tau_m, V_th, V_r, t_ref : Quantity, default from :data:`LIF_DEFAULTS`
    tau_s : Quantity (seconds), default ``LIF_DEFAULTS["tau_s"]``
        Synaptic time constant.
    dt : Quantity, default=None
        Simulation time step for the discrete-time threshold correction (see
        :func:`lif_rate`).
    rates0 : Quantity (hertz), default=None
        Starting rates; the rates of the unconnected neurons by default.
    damping : float in (0, 1], default=0.5
    rtol : float, default=1e-10
        Converged when ``max |phi(r) - r| <= rtol * max(1 Hz, max phi(r))``.
    max_iter : int, default=10000

    Returns
    -------
    OperatingPoint

    Raises
    ------
    RuntimeError
        When the iteration does not converge (no stable asynchronous state, or too large
        a damping for this network).

    Notes
    -----
    ``O(m + n q)`` per iteration for ``m`` synapses (one sparse or dense product with
    ``J`` and with ``J * J``) and ``q`` quadrature nodes; no ``n x n`` array is formed
    for sparse ``J``. The iteration converges when every eigenvalue ``lambda`` of the
    rate map's Jacobian satisfies ``|1 - damping (1 - lambda)| < 1``.

    Examples
    --------
    >>> import numpy as np
    >>> from brian2 import Hz, mV
    >>> J = np.array([[0.0, 2.0], [-4.0, 0.0]])  # mV
    >>> op = operating_point(J, 15 * mV, 5 * mV)
    >>> rates = np.asarray(op.rates / Hz)
    >>> mu_tot = 15 + 0.005 * J @ rates
    >>> sig_tot = np.sqrt(25 + 0.005**2 / 0.020 * (J * J) @ rates)
    >>> bool(np.allclose(rates, np.asarray(lif_rate(mu_tot * mV, sig_tot * mV) / Hz)))
    True
    """
    p, J, mu_ext, sigma_ext = _network_inputs(J, mu, sigma, tau_m, V_th, V_r, t_ref, tau_s, dt)
    damping, rtol, max_iter = _check_network_options(damping, rtol, max_iter)
    n = J.shape[0]
    if rates0 is None:
        r0 = _lif_stats(mu_ext, sigma_ext, p)["rate"]
    else:
        r0 = _vector("rates0", rates0, n, Hz, "hertz", "5*Hz", rule="nonnegative")
    r, it, res = _solve(J, mu_ext, sigma_ext, p, r0, damping, rtol, max_iter)
    mu_t, sigma_t = _inputs(J, _squared(J), r, mu_ext, sigma_ext**2, p["tau_s_syn"], p["tau_m"])
    return OperatingPoint(r * Hz, mu_t * mV, sigma_t * mV, it, res * Hz)


def _network_inputs(J, mu, sigma, tau_m, V_th, V_r, t_ref, tau_s, dt):
    """Validate the network's parameters; ``p`` for :func:`_lif_stats` (white noise)."""
    J = _check_J(J)
    n = J.shape[0]
    tau_s = _default(tau_s, "tau_s")
    p = _neuron(
        _default(tau_m, "tau_m"), _default(V_th, "V_th"), _default(V_r, "V_r"),
        _default(t_ref, "t_ref"), None, dt,
    )  # fmt: skip
    # The synaptic time constant filters the mean input and the coupling; the noise the
    # single-neuron formulas see is white (the external noise, and the shot noise in the
    # diffusion approximation), so tau_s is not passed as the noise's correlation time.
    p["tau_s_syn"] = _check_scalar_quantity(
        "tau_s", tau_s, second, "seconds", "5*ms", rule="positive"
    )
    mu_ext = sigma_ext = None
    if mu is not None or sigma is not None:
        if mu is None or sigma is None:
            raise ValueError(
                "give both mu and sigma (the external drive and noise), got "
                f"mu={mu!r}, sigma={sigma!r}."
            )
        mu_ext = _vector("mu", mu, n, mV, "volts", "15*mV")
        sigma_ext = _vector("sigma", sigma, n, mV, "volts", "5*mV", rule="positive")
    return p, J, mu_ext, sigma_ext


@dataclass(frozen=True)
class LinearResponse:
    r"""Zero-frequency linear response of a LIF network at its operating point.

    Attributes
    ----------
    rates : Quantity (hertz), shape (n,)
    gains : Quantity (hertz per volt), shape (n,)
        ``g_i = d r_i / d mu_i``.
    cv : ndarray of shape (n,)
        ISI coefficients of variation.
    K : ndarray of shape (n, n)
        Effective coupling ``diag(g) J tau_s`` (dimensionless).
    A_eff : ndarray of shape (n, n)
        ``-I + K``, the rate picture's connectivity.
    eigenvalues : ndarray of shape (n,), complex
        Eigenvalues of ``A_eff`` (all with negative real part).
    S0 : ndarray of shape (n, n)
        Zero-frequency spike-count covariance per unit time, in Hz:
        ``lim_{T->inf} Cov(N_i(T), N_j(T)) / T``.
    scores : ndarray of shape (n, n), or scipy.sparse.csr_array for sparse ``J``
        ``|J_ij| (S_ii + S_jj - 2 sign(J_ij) S_ij)`` on the synapses, in mV Hz
        (:func:`plasticsim.synapse_scores` with ``C = S0``).
    tau_s : Quantity (seconds)
    operating_point : OperatingPoint or None
        The inputs the theoretical rates, gains or CVs were computed at; ``None`` when all
        three were given.
    """

    rates: Quantity
    gains: Quantity
    cv: np.ndarray
    K: np.ndarray
    A_eff: np.ndarray
    eigenvalues: np.ndarray
    S0: np.ndarray
    scores: object
    tau_s: Quantity
    operating_point: OperatingPoint | None

    @property
    def spectral_abscissa(self) -> float:
        """Largest real part of an eigenvalue of ``A_eff`` (< 0)."""
        return float(np.max(self.eigenvalues.real))

    def filtered_covariance(self, tau_r):
        r"""Covariance of the low-pass filtered spike trains ``r`` (Hz^2), long ``tau_r``.

        ``tau_r dr_i/dt = -r_i``, ``r_i += 1 / tau_r`` on a spike of ``i``:
        ``Cov(r_i, r_j) = int C_ij(f) |1 + 2 pi i f tau_r|^{-2} df``, which for ``tau_r``
        much longer than the network's correlation times is ``S0 / (2 tau_r)``
        (``int |H|^2 df = 1 / (2 tau_r)``), with a relative error of the order of
        (correlation time / ``tau_r``). Exact for the diagonal of a Poisson neuron.

        Parameters
        ----------
        tau_r : Quantity (seconds), > 0

        Returns
        -------
        ndarray of shape (n, n), in Hz^2
        """
        tau_r = _check_scalar_quantity(
            "tau_r", tau_r, second, "seconds", "1*second", rule="positive"
        )
        return self.S0 / (2.0 * tau_r)


def linear_response(
    J,
    *,
    rates=None,
    gains=None,
    cv=None,
    mu=None,
    sigma=None,
    tau_m=_DEFAULT,
    V_th=_DEFAULT,
    V_r=_DEFAULT,
    t_ref=_DEFAULT,
    tau_s=_DEFAULT,
    dt=None,
    damping=0.5,
    rtol=1e-10,
    max_iter=10_000,
):
    r"""Effective connectivity, spike-count covariance and scores of a LIF network.

    .. math:: K = \mathrm{diag}(g)\, J\, \tau_s, \qquad A_\mathrm{eff} = -I + K,

    .. math:: S(0) = (I - K)^{-1} D (I - K)^{-T}, \qquad D = \mathrm{diag}(r_i\,
              \mathrm{CV}_i^2),

    .. math:: s_{ij} = |J_{ij}| \left(S_{ii} + S_{jj} - 2\,\mathrm{sign}(J_{ij})\,
              S_{ij}\right).

    Each neuron's spike train is its unperturbed renewal train (zero-frequency power
    ``r CV^2``) plus the linear response ``g_i`` to the filtered spikes of its
    presynaptic neurons (Trousdale et al. 2012; Grytskyy et al. 2013). At zero frequency
    the synaptic kernel integrates to ``tau_s`` and the neuron's transfer function is
    its static gain, so the frequency-resolved theory reduces to this algebra.

    Parameters
    ----------
    J : array_like or scipy.sparse array of shape (n, n)
        Weights in mV (row = postsynaptic), zero diagonal; a dense quantity in volts is
        accepted. ``n <= MAX_COVARIANCE_N``.
    rates : Quantity (hertz), shape (n,), default=None
        Measured rates (> 0); by default the self-consistent rates of
        :func:`operating_point` (needs ``mu``, ``sigma``).
    gains : Quantity (hertz per volt), shape (n,), default=None
        Measured gains (e.g. by perturbing ``mu``); by default :func:`lif_gain` at each
        neuron's total input (``mu + tau_s J r``, ``sigma`` with the shot noise, at the
        given or computed rates).
    cv : array_like of shape (n,), default=None
        Measured ISI CVs; by default :func:`lif_cv` at the same inputs.
    mu, sigma : Quantity (volts), scalar or shape (n,), default=None
        External drive and white-noise amplitude; needed exactly when one of ``rates``,
        ``gains``, ``cv`` is computed.
    tau_m, V_th, V_r, t_ref, tau_s, dt, damping, rtol, max_iter
        As in :func:`operating_point`.

    Returns
    -------
    LinearResponse

    Raises
    ------
    ValueError
        For ``n > MAX_COVARIANCE_N``, a non-zero diagonal, mismatched shapes, or when
        ``A_eff`` has an eigenvalue with real part ``>= 0`` (the linearisation has no
        stationary state: rates run away or oscillate).
    RuntimeError
        When the operating point does not converge.

    Notes
    -----
    ``O(n^3)`` time and ``O(n^2)`` memory (an eigendecomposition and an LU solve of the
    dense ``I - K``): the covariance is inherently ``n x n``. Sparse ``J`` is densified
    only in ``K``; the scores come back as a ``csr_array`` on ``J``'s synapses.

    Assumptions: stationary asynchronous state, weak correlations (linear response
    around the operating point, renewal single-neuron noise ``D``), gain with respect to
    the mean input only (the variance's dependence on the rates is not linearised), and
    the diffusion approximation of :func:`operating_point` wherever the theory supplies
    ``rates``, ``gains`` or ``cv``. ``S0`` is the limit of windowed count covariances
    ``Cov(N_i(T), N_j(T)) / T`` for windows ``T`` much longer than the correlation times
    (``~ tau_m / |lambda|`` for the slowest eigenvalue ``lambda`` of ``A_eff``).

    Examples
    --------
    >>> import numpy as np
    >>> from brian2 import Hz, mV
    >>> J = np.array([[0.0, 3.0, 0.0], [3.0, 0.0, -6.0], [2.0, 0.0, 0.0]])  # mV
    >>> lr = linear_response(J, mu=15 * mV, sigma=5 * mV)
    >>> lr.spectral_abscissa < 0
    True
    >>> r, cv = np.asarray(lr.rates / Hz), lr.cv
    >>> B = np.linalg.inv(np.eye(3) - lr.K)
    >>> bool(np.allclose(lr.S0, B @ np.diag(r * cv**2) @ B.T))
    True
    >>> S = lr.S0
    >>> bool(np.isclose(lr.scores[1, 2], 6.0 * (S[1, 1] + S[2, 2] + 2 * S[1, 2])))
    True
    """
    from .rule import synapse_scores

    p, J, mu_ext, sigma_ext = _network_inputs(J, mu, sigma, tau_m, V_th, V_r, t_ref, tau_s, dt)
    n = J.shape[0]
    if n > MAX_COVARIANCE_N:
        raise ValueError(
            f"J has n == {n} neurons > MAX_COVARIANCE_N == {MAX_COVARIANCE_N}: the "
            "spike-count covariance is a dense n x n matrix (O(n^3) to compute). Use "
            "operating_point(J, mu, sigma) for the rates of larger networks."
        )
    damping, rtol, max_iter = _check_network_options(damping, rtol, max_iter)
    theory = rates is None or gains is None or cv is None
    if theory and mu_ext is None:
        missing = [k for k, v in (("rates", rates), ("gains", gains), ("cv", cv)) if v is None]
        raise ValueError(
            f"{', '.join(missing)} not given: computing them from the theory needs the "
            "external drive mu and noise sigma."
        )
    if not theory and mu_ext is not None:
        raise ValueError(
            "rates, gains and cv are all given, so mu and sigma would be unused; pass "
            "them only when the theory computes one of the three."
        )
    r = None if rates is None else _vector("rates", rates, n, Hz, "hertz", "5*Hz", rule="positive")
    g = None
    if gains is not None:
        g = _vector("gains", gains, n, Hz / mV, "hertz per volt", "1*Hz/mV", rule="nonnegative")
    c = None if cv is None else _cv_vector(cv, n)

    op = None
    if theory:
        if r is None:
            op = operating_point(
                J, mu_ext * mV, sigma_ext * mV, tau_m=tau_m, V_th=V_th, V_r=V_r, t_ref=t_ref,
                tau_s=tau_s, dt=dt, damping=damping, rtol=rtol, max_iter=max_iter,
            )  # fmt: skip
            r = np.asarray(op.rates / Hz)
            if not np.all(r > 0):
                i = int(np.argmin(r))
                raise ValueError(
                    f"neuron {i} is silent at the operating point (rate {r[i]:.3g} Hz): "
                    "a silent neuron has no linear response; raise its drive mu."
                )
        else:
            J2 = _squared(J)
            mu_t, sig_t = _inputs(J, J2, r, mu_ext, sigma_ext**2, p["tau_s_syn"], p["tau_m"])
            phi = _lif_stats(mu_t, sig_t, p)["rate"]
            res = float(np.max(np.abs(phi - r)))
            op = OperatingPoint(r * Hz, mu_t * mV, sig_t * mV, 0, res * Hz)
        stats = _lif_stats(np.asarray(op.mu / mV), np.asarray(op.sigma / mV), p, want_cv=c is None)
        g = stats["gain"] if g is None else g
        c = stats["cv"] if c is None else c

    tau_syn = p["tau_s_syn"]
    Kd = J.toarray() if is_sparse(J) else J.copy()
    Kd *= (g * tau_syn)[:, None]
    A_eff = Kd - np.eye(n)
    eig = np.linalg.eigvals(A_eff)
    abscissa = float(np.max(eig.real))
    if not abscissa < 0:
        raise ValueError(
            "A_eff = -I + diag(g) J tau_s is not stable: its largest eigenvalue real part is "
            f"{abscissa:.6g}, must be < 0. The linearised network has no stationary "
            "asynchronous state (rates run away or oscillate); weaken the recurrent "
            "excitation or lower the gains."
        )
    # S0 = B D B^T with B = (I - K)^{-1}: one LU solve of (I - K) Y = diag(sqrt(D)).
    Y = np.linalg.solve(np.eye(n) - Kd, np.diag(np.sqrt(r * c * c)))
    S0 = Y @ Y.T
    S0 = 0.5 * (S0 + S0.T)
    scores = synapse_scores(J, S0)
    return LinearResponse(
        rates=r * Hz,
        gains=g * (Hz / mV),
        cv=c,
        K=Kd,
        A_eff=A_eff,
        eigenvalues=eig,
        S0=S0,
        scores=scores,
        tau_s=tau_syn * second,
        operating_point=op,
    )


def _cv_vector(cv, n) -> np.ndarray:
    if isinstance(cv, Quantity) and not brian2.have_same_dimensions(cv, 1):
        raise TypeError(f"cv must be dimensionless, got {cv!r}.")
    if isinstance(cv, str | bytes) or cv is None:
        raise TypeError(f"cv must be a real array of shape ({n},), got {_fmt(cv)}.")
    arr = np.asarray(cv)
    if not (np.issubdtype(arr.dtype, np.number)) or np.iscomplexobj(arr):
        raise TypeError(f"cv must be real, got dtype {arr.dtype}.")
    arr = np.asarray(arr, dtype=np.float64)
    if arr.ndim == 0:
        arr = np.full(n, float(arr))
    if arr.shape != (n,):
        raise ValueError(f"cv has shape {arr.shape}, must be scalar or ({n},) for J.")
    if not np.all(np.isfinite(arr) & (arr > 0)):
        bad = float(arr[~(np.isfinite(arr) & (arr > 0))][0])
        raise ValueError(f"cv has an entry {bad!r}, must be finite and > 0.")
    return arr


# ------------------------------------------------------------- networks and measurements


def clustered_ei(
    sizes,
    n_inh,
    *,
    p_in=0.8,
    p_out=0.05,
    p_inh=0.8,
    w_in=0.7,
    w_out=0.5,
    w_ei=0.4,
    w_ie=1.0,
    spread=0.5,
    rng=None,
):
    r"""Weights (mV) of a clustered excitatory/inhibitory LIF network, Dale's law.

    Neurons ``0 .. sum(sizes) - 1`` are excitatory, in clusters of the given sizes laid
    out consecutively; the last ``n_inh`` are inhibitory. Every ordered pair ``(i, j)``,
    ``i != j`` (``j`` presynaptic, the column) is connected independently with
    probability ``p_in`` (excitatory, same cluster), ``p_out`` (excitatory, other
    cluster) or ``p_inh`` (any pair with an inhibitory neuron); its weight is

    .. math:: J_{ij} = w\, f_{ij}, \qquad f_{ij} \sim U[1 - \mathrm{spread},
              1 + \mathrm{spread}],

    with ``w = w_in`` (E -> E, same cluster), ``w_out`` (E -> E, other cluster), ``w_ei``
    (E -> I) and ``-w_ie`` (I -> E and I -> I). Excitation within the clusters with
    global inhibition gives slow cluster modes of ``A_eff`` (the clusters' differences)
    while the inhibition stabilises the uniform mode (:func:`linear_response`).

    Parameters
    ----------
    sizes : sequence of int >= 1
        Sizes of the excitatory clusters.
    n_inh : int >= 1
        Number of inhibitory neurons.
    p_in, p_out, p_inh : float in [0, 1]
        Connection probabilities.
    w_in, w_out, w_ei, w_ie : float >= 0
        Weight scales in mV (the jump of the postsynaptic current; ``w_ie`` is the
        magnitude of the inhibitory weights).
    spread : float in [0, 1), default=0.5
    rng : None, int or numpy.random.Generator

    Returns
    -------
    J : ndarray of shape (n, n), in mV
        ``n = sum(sizes) + n_inh``; zero diagonal; columns ``< sum(sizes)`` are ``>= 0``,
        the others ``<= 0``.
    labels : ndarray of int, shape (n,)
        Cluster of each neuron: ``0 .. len(sizes) - 1`` excitatory, ``len(sizes)`` the
        inhibitory population.

    Notes
    -----
    ``O(n^2)`` time and memory (a dense draw: the networks of the linear-response theory,
    ``n <= MAX_COVARIANCE_N``).

    Examples
    --------
    >>> J, labels = clustered_ei([3, 3], 2, rng=0)
    >>> J.shape, labels.tolist()
    ((8, 8), [0, 0, 0, 1, 1, 1, 2, 2])
    >>> bool((J[:, :6] >= 0).all() and (J[:, 6:] <= 0).all() and (np.diag(J) == 0).all())
    True
    """
    from ._validation import STREAM_NETWORK, check_nonnegative, check_rng
    from .networks import _check_probability, _check_sizes, _check_spread, _weights

    sizes = _check_sizes(sizes)
    n_inh = check_integer("n_inh", n_inh, 1)
    p = {k: _check_probability(k, v) for k, v in (("p_in", p_in), ("p_out", p_out))}
    p["p_inh"] = _check_probability("p_inh", p_inh)
    w = {k: check_nonnegative(k, v) for k, v in (("w_in", w_in), ("w_out", w_out))}
    w |= {k: check_nonnegative(k, v) for k, v in (("w_ei", w_ei), ("w_ie", w_ie))}
    spread = _check_spread(spread)
    _, gen = check_rng(rng, STREAM_NETWORK)
    labels = np.repeat(np.arange(sizes.size + 1), [*sizes.tolist(), n_inh])
    n = labels.size
    exc = labels < sizes.size
    ee = exc[:, None] & exc[None, :]
    same = labels[:, None] == labels[None, :]
    prob = np.where(ee, np.where(same, p["p_in"], p["p_out"]), p["p_inh"])
    scale = np.where(
        exc[None, :], np.where(exc[:, None], np.where(same, w["w_in"], w["w_out"]), w["w_ei"]),
        -w["w_ie"],
    )  # fmt: skip
    # Fixed draw order: connectivity, then the weights.
    present = gen.random((n, n)) < prob
    J = scale * _weights(gen, (n, n), spread) * present
    np.fill_diagonal(J, 0.0)
    return J, labels


def _drive_change(post, pre, dw, rates, tau_s: float, n: int) -> np.ndarray:
    """``tau_s sum_j dw_ij r_j`` per postsynaptic neuron (mV), from synapse lists."""
    return tau_s * np.bincount(post, weights=dw * rates[pre], minlength=n)


def homeostatic_drive(J, J_pruned, rates, *, tau_s=_DEFAULT):
    r"""The change of each neuron's drive that keeps its mean synaptic input.

    .. math:: \Delta\mu_i = \tau_s \sum_j (J_{ij} - J'_{ij})\, r_j,

    the homeostasis of :class:`plasticsim.online.SpikingNetwork` (the same code; its
    module docstring justifies the rule): with ``mu + Delta mu`` each neuron's mean input
    ``mu_i + tau_s sum_j J'_ij r_j`` at the rates ``r`` is what it was with ``J``. Use
    it to give a network pruned offline (e.g. the weight baseline) the same homeostasis
    as the online rule.

    Parameters
    ----------
    J, J_pruned : array_like or scipy.sparse array of shape (n, n)
        Weights before and after pruning, in mV (row = postsynaptic).
    rates : Quantity (hertz), shape (n,)
        The firing rates at which the mean input is kept (measured).
    tau_s : Quantity (seconds), default ``LIF_DEFAULTS["tau_s"]``

    Returns
    -------
    Quantity (volts), shape (n,)

    Notes
    -----
    ``O(n + m)`` for ``m`` synapses (sparse input is never densified).

    Examples
    --------
    >>> J = np.array([[0.0, 2.0, -4.0], [1.0, 0.0, 0.0], [1.0, 1.0, 0.0]])
    >>> Jp = np.array([[0.0, 4.0, 0.0], [1.0, 0.0, 0.0], [0.0, 2.0, 0.0]])
    >>> d = homeostatic_drive(J, Jp, [10.0, 10.0, 5.0] * Hz)
    >>> np.round(np.asarray(d / mV), 6).tolist()
    [-0.2, 0.0, 0.0]
    """
    import scipy.sparse as sps

    a = _check_J(J)
    b = _check_J(J_pruned)
    if a.shape != b.shape:
        raise ValueError(f"J_pruned has shape {b.shape}, must match J's shape {a.shape}.")
    n = a.shape[0]
    r = _vector("rates", rates, n, Hz, "hertz", "5*Hz", rule="nonnegative")
    tau = _check_scalar_quantity(
        "tau_s", _default(tau_s, "tau_s"), second, "seconds", "5*ms", rule="positive"
    )
    diff = sps.coo_array(sps.csr_array(a) - sps.csr_array(b))
    return _drive_change(diff.row, diff.col, diff.data, r, tau, n) * mV


def group_count_covariance(spike_i, spike_t, labels, *, duration, bin_width, start=0 * second):
    r"""Pair-averaged spike-count covariance between groups of neurons (Hz).

    Spike counts ``n_i(t)`` in consecutive windows of ``bin_width``; for groups ``a`` and
    ``b`` (e.g. clusters),

    .. math:: C_{ab} = \frac{1}{b\,P_{ab}} \sum_{i \in a,\ j \in b,\ i \ne j}
              \widehat{\mathrm{Cov}}(n_i, n_j),

    ``P_ab`` the number of pairs ``i != j`` and ``b`` the window: the average covariance
    of two neurons' counts per unit time, which for windows much longer than the
    correlation times approaches the group average of the zero-frequency covariance
    ``S(0)`` of :func:`linear_response` (off its diagonal). Computed from the groups'
    pooled counts, ``Cov(N_a, N_b)`` minus the neurons' own variances within a group.

    Parameters
    ----------
    spike_i : array_like of int
        Neuron of each spike.
    spike_t : Quantity (seconds)
        Time of each spike.
    labels : array_like of int, shape (n,)
        Group of each neuron, ``0 .. g - 1``; every group needs two neurons.
    duration : Quantity (seconds)
        Length of the recording, from ``start``.
    bin_width : Quantity (seconds)
        Counting window; at least two windows must fit in ``duration``.
    start : Quantity (seconds), default=0*second

    Returns
    -------
    ndarray of shape (g, g), in Hz, symmetric

    Notes
    -----
    ``O(s + n T / b)`` for ``s`` spikes: the count matrix is ``n x (T / b)``, no
    ``n x n`` array.

    Examples
    --------
    >>> from brian2 import ms, second
    >>> t = np.array([0.01, 0.02, 0.31, 0.32, 0.61, 0.9]) * second
    >>> i = np.array([0, 1, 0, 1, 2, 3])
    >>> C = group_count_covariance(i, t, [0, 0, 1, 1], duration=1.2 * second,
    ...                            bin_width=300 * ms)
    >>> C.shape, bool(C[0, 0] > 0)
    ((2, 2), True)
    """
    labels = np.asarray(labels)
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer) or labels.size == 0:
        raise ValueError(f"labels must be a 1-D integer array, got {_fmt(labels)}.")
    if labels.min() < 0:
        raise ValueError(f"labels has an entry {int(labels.min())}, must be >= 0.")
    n, g = labels.size, int(labels.max()) + 1
    sizes = np.bincount(labels, minlength=g)
    if sizes.min() < 2:
        raise ValueError(
            f"group {int(np.argmin(sizes))} has {int(sizes.min())} neurons: every group "
            "label 0 .. max must have at least two (pairs i != j)."
        )
    T = _check_scalar_quantity(
        "duration", duration, second, "seconds", "10*second", rule="positive"
    )
    b = _check_scalar_quantity(
        "bin_width", bin_width, second, "seconds", "100*ms", rule="positive"
    )
    t0 = _check_scalar_quantity("start", start, second, "seconds", "0*second")
    nb = int(np.floor(T / b + 1e-9))
    if nb < 2:
        raise ValueError(
            f"bin_width == {bin_width!r} leaves {nb} window(s) in duration == {duration!r}; "
            "need at least 2."
        )
    i = np.asarray(spike_i, dtype=np.int64)
    t = _check_quantity("spike_t", spike_t, second, "seconds", "array * second")
    if i.shape != t.shape or i.ndim != 1:
        raise ValueError(
            f"spike_i and spike_t must be 1-D of one length, got {i.shape}, {t.shape}."
        )
    if i.size and (i.min() < 0 or i.max() >= n):
        raise ValueError(f"spike_i has a neuron outside [0, {n}) (labels has {n}).")
    k = np.floor((t - t0) / b).astype(np.int64)
    ok = (k >= 0) & (k < nb)
    counts = np.zeros((n, nb))
    np.add.at(counts, (i[ok], k[ok]), 1.0)
    counts -= counts.mean(axis=1, keepdims=True)
    pooled = np.zeros((g, nb))
    np.add.at(pooled, labels, counts)
    cov = pooled @ pooled.T / (nb - 1)
    own = np.bincount(labels, weights=np.sum(counts * counts, axis=1) / (nb - 1), minlength=g)
    cov[np.diag_indices(g)] -= own
    pairs = np.outer(sizes, sizes) - np.diag(sizes)
    return cov / (pairs * b)
