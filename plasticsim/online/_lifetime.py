r"""A lifetime: alternating learning wakes and pruning sleeps, measured after every epoch.

:meth:`RateNetwork.live` runs a schedule of :class:`WakeEpoch` (inputs on, Hebbian
learning and growth, no decisions: :meth:`RateNetwork.learn`) and :class:`SleepEpoch`
(inputs off, noise, traces, decisions, compaction: :meth:`RateNetwork.sleep`, with the
noise rule or a baseline at the same density). After every epoch it records an
:class:`EpochRecord`: synapse counts, the mean leak, the slowest eigenvalues and the task
measure, pattern completion (:func:`pattern_completion`).

*Task measure.* A learned pattern ``p`` (non-negative, support ``S``) is recalled when a
cue on part of it evokes the rest: the cue ``c`` is ``p`` on the first ``cue_fraction`` of
its support (in index order), zero elsewhere, and the network's stationary linear
response to a constant input ``c`` is ``x = -A^{-1} c`` (DESIGN.md §1,
``dx/ds = A x + c``). The completion is the cosine between ``x`` and ``p`` on the neurons
that were not cued,

.. math:: \mathrm{completion}(p) = \frac{\langle x_U, p_U\rangle}{\|x_U\| \|p_U\|},
          \qquad U = \{i : c_i = 0\},

1 when the response outside the cue is exactly the rest of the pattern (every uncued
member equally, nobody else), near 0 when it spreads over unrelated neurons. It depends on
the whole matrix (a solve), is scale free (the leak's size does not enter) and does not
rely on the slowest eigenvectors, which in a network with a uniform slack
(``leak_i - sum_j |w_ij|``) are degenerate: every weakly connected neuron has an
eigenvalue near ``-slack``, so "the K slowest eigenvectors" is not a stable object there.

*Interruption.* Each epoch is all or nothing (``_rollback``): a Ctrl-C (or an error)
during an epoch leaves the network as after the previous epoch. :meth:`RateNetwork.live`
then re-raises, and the exception carries the records of the completed epochs in its
``records`` attribute (the completed epochs stay applied).
"""

from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import dataclass, field

import numpy as np
from brian2 import Quantity, second

from . import _checks, _model, _schedule
from ._learning import LearnReport, check_patterns
from ._rules import RULES
from .states import count_states

__all__ = ["WakeEpoch", "SleepEpoch", "EpochRecord", "live", "pattern_completion"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class WakeEpoch:
    """A learning wake: the patterns in turn, Hebbian learning, then growth.

    Parameters are those of :meth:`RateNetwork.learn` (``duration`` and ``present`` are
    Brian2 times).
    """

    duration: Quantity
    patterns: np.ndarray
    present: Quantity
    amplitude: float = 1.0
    eta: float = 0.1
    decay: float = 1.0
    w_max: float = np.inf
    budget: int = 0
    w_new: float = 0.05
    threshold: float = 0.0
    sigma: float | None = None
    homeostasis_dt: Quantity | None = None

    kind = "wake"


@dataclass(frozen=True)
class SleepEpoch:
    """A sleep: noise, traces, decisions (``rule``) and compaction.

    ``rule`` is ``"noise"`` (the traces), ``"weight"`` or ``"uniform"`` (baselines at the
    same ``density``: :meth:`RateNetwork.sleep`), or ``"none"``: the same sleep without
    decisions (nothing is pruned; a control for what pruning does). ``excitability``: the
    sleep's leak schedule (:meth:`RateNetwork.sleep`; an ``UpDown``, a function of time or
    a ``TimedArray``), checked in form before the lifetime starts and against the network
    as it is when the sleep starts.
    """

    duration: Quantity
    density: float | None = None
    k: float | None = None
    rule: str = "noise"
    relabile: float = 0.0
    burn_in: Quantity | None = None
    min_kept: int = 0
    excitability: object = None

    kind = "sleep"


@dataclass(frozen=True)
class EpochRecord:
    """The network after one epoch of :meth:`RateNetwork.live` (epoch 0: the start).

    Attributes
    ----------
    epoch : int
    kind : {"start", "wake", "sleep"}
    rule : str or None
        The sleep's rule (None for wake and start).
    t : brian2 time
        Simulated time at the end of the epoch.
    n_synapses : int
        Synapses in the simulation that are not PRUNED.
    counts : dict
        LABILE / STABLE / PRUNED counts.
    mean_leak : float
    slowest : ndarray
        The ``slowest`` eigenvalues of largest real part, decreasing (real part).
    spectrum_check : str
        "dense" (exact eigenvalues) or "sparse" (:func:`plasticsim.spectra.slowest_eigenvalues`).
    completion : ndarray of shape (K,)
        :func:`pattern_completion` of each pattern (empty without patterns).
    report : SleepReport or LearnReport or None
    wall_time : float
    change : dict or None
        How the epoch changed the network (dense networks, up to 2,000 neurons; None
        above): ``eigenvalue_error_max``, the largest relative change of an eigenvalue
        (matched, :func:`plasticsim.compare_spectra` of the network before and after the
        epoch), and for symmetric networks ``qf_min``, ``qf_max``, the range of
        ``x^T A' x / x^T A x`` (the paper's certificate: ``(1 - eps, 1 + eps)`` for a
        spectral approximation), and ``completion_change``, the mean change of the
        completion.
    """

    epoch: int
    kind: str
    rule: str | None
    t: Quantity
    n_synapses: int
    counts: dict
    mean_leak: float
    slowest: np.ndarray
    spectrum_check: str
    completion: np.ndarray
    report: object = field(repr=False, default=None)
    wall_time: float = 0.0
    change: dict | None = None


def pattern_completion(A, patterns, *, cue_fraction=0.5) -> np.ndarray:
    r"""Pattern completion of each pattern by the stationary response ``x = -A^{-1} c``.

    See the module notes: the cue is each pattern on the first ``cue_fraction`` of its
    support; the completion is the cosine between ``x`` and the pattern on the uncued
    neurons.

    Parameters
    ----------
    A : ndarray or scipy.sparse array of shape (n, n)
        A stable connectivity (leak on the diagonal).
    patterns : array_like of shape (K, n)
        Non-negative patterns, each with at least two neurons in its support.
    cue_fraction : float in (0, 1), default=0.5

    Returns
    -------
    ndarray of shape (K,)
        Cosines in [-1, 1] (NaN for a response that vanishes outside the cue).

    Notes
    -----
    One LU factorisation: ``O(n^3)`` dense, a sparse LU (``scipy.sparse.linalg.splu``)
    for a sparse ``A``, then ``K`` solves.

    Examples
    --------
    Two neurons joined by a strong synapse complete each other; a third, unconnected, is
    silent:

    >>> import numpy as np
    >>> A = np.array([[-3.0, 2.0, 0.0], [2.0, -3.0, 0.0], [0.0, 0.0, -1.0]])
    >>> pattern_completion(A, [[1.0, 1.0, 0.0]])
    array([1.])
    """
    import scipy.sparse as sps

    if not 0 < float(cue_fraction) < 1:
        raise ValueError(f"cue_fraction == {cue_fraction!r}, must be in (0, 1).")
    n = A.shape[0]
    P = check_patterns(patterns, n)
    if np.any(P < 0):
        raise ValueError("patterns must be non-negative (a pattern is a set of active neurons).")
    cues = np.zeros_like(P)
    for k, p in enumerate(P):
        support = np.flatnonzero(p)
        if support.size < 2:
            raise ValueError(f"patterns[{k}] has {support.size} active neuron(s), must have >= 2.")
        m = min(support.size - 1, max(1, int(round(cue_fraction * support.size))))
        cues[k, support[:m]] = p[support[:m]]
    if sps.issparse(A):
        import scipy.sparse.linalg as spla

        X = spla.splu(sps.csc_array(-A)).solve(cues.T)
    else:
        X = np.linalg.solve(-np.asarray(A), cues.T)
    out = np.empty(P.shape[0])
    for k in range(P.shape[0]):
        u = cues[k] == 0
        x, p = X[u, k], P[k, u]
        norm = np.linalg.norm(x) * np.linalg.norm(p)
        out[k] = float(x @ p / norm) if norm > 0 else np.nan
    return out


def _slowest(net, m: int) -> tuple[np.ndarray, str]:
    """The ``m`` eigenvalues of largest real part: exact (dense) up to
    ``_checks.EXACT_MAX_N`` neurons, else :func:`plasticsim.spectra.slowest_eigenvalues`."""
    if m == 0:
        return np.empty(0), "none"
    if net.n <= _checks.EXACT_MAX_N:
        A = net.matrix
        lam = np.linalg.eigvalsh(A) if np.array_equal(A, A.T) else np.linalg.eigvals(A)
        lam = lam[np.argsort(-np.real(lam), kind="stable")]
        return lam[:m], "dense"
    from ..spectra import slowest_eigenvalues

    return slowest_eigenvalues(net.sparse_matrix(), m), "sparse"


def _change(before, after, completion_before, completion_after) -> dict | None:
    """The epoch's change of the spectrum and of the task (dense networks only)."""
    if before is None:
        return None
    from ..spectra import compare_spectra

    cmp = compare_spectra(before, after)
    out = {"eigenvalue_error_max": float(np.max(cmp.relative_errors))}
    out["qf_min"] = None if cmp.qf_min is None else float(cmp.qf_min)
    out["qf_max"] = None if cmp.qf_max is None else float(cmp.qf_max)
    if completion_before.size:
        out["completion_change"] = float(np.mean(completion_after - completion_before))
    return out


def _dense_or_none(net):
    return net.matrix if net.n <= _checks.EXACT_MAX_N else None


def _measure(net, epoch, kind, rule, report, patterns, cue_fraction, slowest, wall, **kw):
    status = net._status()
    counts = count_states(status)
    lam, check = _slowest(net, min(slowest, max(0, net.n - 2)))
    if patterns is not None:
        A = net.matrix if net.n <= _checks.EXACT_MAX_N else net.sparse_matrix()
        completion = pattern_completion(A, patterns, cue_fraction=cue_fraction)
    else:
        completion = np.empty(0)
    return EpochRecord(
        epoch=epoch,
        kind=kind,
        rule=rule,
        t=net.t,
        n_synapses=counts["LABILE"] + counts["STABLE"],
        counts=counts,
        mean_leak=float(np.mean(net._G.variables["leak"].get_value())),
        slowest=lam,
        spectrum_check=check,
        completion=completion,
        report=report,
        wall_time=wall,
        **kw,
    )


def _check_schedule(schedule) -> list:
    try:
        epochs = list(schedule)
    except TypeError:
        raise TypeError(
            f"schedule must be a sequence of WakeEpoch and SleepEpoch, got {schedule!r}."
        ) from None
    for i, e in enumerate(epochs):
        if not isinstance(e, WakeEpoch | SleepEpoch):
            raise TypeError(
                f"schedule[{i}] is {e!r}, must be a WakeEpoch or a SleepEpoch "
                "(plasticsim.online.WakeEpoch, plasticsim.online.SleepEpoch)."
            )
        if isinstance(e, SleepEpoch) and e.rule not in (*RULES, "none"):
            raise ValueError(
                f"schedule[{i}].rule == {e.rule!r}, must be one of {(*RULES, 'none')}."
            )
    return epochs


def live(net, schedule, *, patterns=None, cue_fraction=0.5, slowest=5) -> list[EpochRecord]:
    """Implementation of :meth:`RateNetwork.live` (documented there)."""
    epochs = _check_schedule(schedule)
    if patterns is None:  # every distinct pattern of the wakes, in order of appearance
        rows = [
            r
            for e in epochs
            if isinstance(e, WakeEpoch)
            for r in check_patterns(e.patterns, net.n)
        ]
        unique = {r.tobytes(): r for r in rows}
        patterns = np.array(list(unique.values())) if unique else None
    if patterns is not None:
        patterns = check_patterns(patterns, net.n)
    if not 0 < float(cue_fraction) < 1:
        raise ValueError(f"cue_fraction == {cue_fraction!r}, must be in (0, 1).")
    if isinstance(slowest, bool) or not isinstance(slowest, int | np.integer) or slowest < 0:
        raise ValueError(f"slowest == {slowest!r}, must be an integer >= 0.")
    for i, e in enumerate(epochs):  # every argument checked before anything runs
        _model.check_time(f"schedule[{i}].duration", e.duration)
        if isinstance(e, SleepEpoch) and e.excitability is not None:
            # the schedule's form (its stability needs the network as it will be)
            try:
                _schedule.resolve(
                    e.excitability, n=net.n, dt=net.dt, duration=e.duration, name=net._name
                )
            except (TypeError, ValueError) as exc:
                msg = str(exc)
                where = "" if msg.startswith("excitability") else "excitability: "
                raise type(exc)(f"schedule[{i}].{where}{msg}") from None
    args = (patterns, cue_fraction, int(slowest))
    records = [_measure(net, 0, "start", None, None, *args, 0.0)]
    try:
        for i, e in enumerate(epochs, start=1):
            wall0 = time.perf_counter()
            before = _dense_or_none(net)
            if isinstance(e, WakeEpoch):
                rep: LearnReport | object = net.learn(
                    e.duration,
                    patterns=e.patterns,
                    present=e.present,
                    amplitude=e.amplitude,
                    eta=e.eta,
                    decay=e.decay,
                    w_max=e.w_max,
                    budget=e.budget,
                    w_new=e.w_new,
                    threshold=e.threshold,
                    sigma=e.sigma,
                    homeostasis_dt=e.homeostasis_dt,
                )
                rule = None
            else:
                decide = e.rule != "none"
                rep = net.sleep(
                    e.duration,
                    density=e.density if decide else None,
                    k=e.k if decide else None,
                    decide=decide,
                    rule=e.rule if decide else "noise",
                    relabile=e.relabile if decide else 0.0,
                    burn_in=e.burn_in,
                    min_kept=e.min_kept,
                    excitability=e.excitability,
                )
                rule = e.rule
            wall = time.perf_counter() - wall0
            r = _measure(net, i, e.kind, rule, rep, *args, wall)
            after = _dense_or_none(net)
            change = _change(before, after, records[-1].completion, r.completion)
            r = dataclasses.replace(r, change=change)
            records.append(r)
            logger.info(
                "live: epoch %d (%s) %d synapses, mean leak %.4g, completion %s",
                i,
                e.kind,
                r.n_synapses,
                r.mean_leak,
                np.round(r.completion, 3),
            )
    except BaseException as exc:
        exc.records = records
        if hasattr(exc, "add_note"):
            exc.add_note(
                f"RateNetwork.live: {len(records) - 1} of {len(epochs)} epochs completed "
                "(their records are this exception's .records); the interrupted epoch was "
                "rolled back."
            )
        raise
    return records


def records_table(records) -> dict:
    """Arrays of a lifetime's records: ``epoch``, ``n_synapses``, ``mean_leak``,
    ``slowest`` (real parts, ``(epochs, m)``) and ``completion`` (``(epochs, K)``)."""
    return {
        "epoch": np.array([r.epoch for r in records]),
        "t": np.array([float(r.t / second) for r in records]),
        "n_synapses": np.array([r.n_synapses for r in records]),
        "mean_leak": np.array([r.mean_leak for r in records]),
        "slowest": np.array([np.real(r.slowest) for r in records]),
        "completion": np.array([r.completion for r in records]),
    }
