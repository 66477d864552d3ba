"""Progress of a run: the default reporter (log lines) and the adapters that feed it.

A progress object has ``start(phase, total)``, ``advance(n)`` and ``finish()``;
:class:`LogProgress` is the default, the CLI draws bars.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator

__all__ = ["LogProgress"]

log = logging.getLogger(__package__)  # one logger for the package: plasticsim.experiment


class LogProgress:
    """Progress of the long phases as log lines (the default; the CLI draws bars).

    A progress object has ``start(phase, total)``, ``advance(n)`` and ``finish()``;
    :func:`run_model` calls them around the covariance, the pruning, each sleep epoch, the
    spectra and the dynamics trials. The start and the end of a phase are logged at
    level INFO; for a phase with a ``total``, the first step done and then every further
    tenth at level DEBUG (``plasticsim run --verbose``).

    Examples
    --------
    >>> import logging, sys
    >>> logger = logging.getLogger("example.progress")
    >>> logger.addHandler(logging.StreamHandler(sys.stdout))
    >>> logger.setLevel(logging.DEBUG)
    >>> progress = LogProgress(logger)
    >>> progress.start("dynamics", total=100)
    dynamics ...
    >>> for _ in range(25):
    ...     progress.advance(1)
    dynamics: 1% (1 of 100)
    dynamics: 11% (11 of 100)
    dynamics: 21% (21 of 100)
    """

    def __init__(self, logger: logging.Logger | None = None):
        self._log = logger or log
        self._phase = None
        self._t0 = 0.0
        self._total = None
        self._done = 0
        self._logged = None

    def start(self, phase: str, total: int | None = None) -> None:
        self._phase, self._t0 = phase, time.perf_counter()
        self._total, self._done, self._logged = total, 0, None
        self._log.info("%s ...", phase)

    def advance(self, n: int = 1) -> None:
        self._done += n
        if not self._total or not self._log.isEnabledFor(logging.DEBUG):
            return
        if self._logged is None or self._done - self._logged >= self._total / 10:
            self._logged = self._done
            pct = 100 * self._done / self._total
            self._log.debug("%s: %.0f%% (%d of %d)", self._phase, pct, self._done, self._total)

    def finish(self) -> None:
        self._log.info("%s done (%.2f s)", self._phase, time.perf_counter() - self._t0)


class NoProgress:
    """A progress reporter that reports nothing (``--quiet``, sweep workers)."""

    def start(self, phase: str, total: int | None = None) -> None:
        pass

    def advance(self, n: int = 1) -> None:
        pass

    def finish(self) -> None:
        pass


@contextlib.contextmanager
def _phase(progress, timings: dict, key: str, label: str, total=None) -> Iterator:
    """Report a phase to ``progress`` and add its duration to ``timings[key]``.

    Yields ``progress.advance``; ``finish()`` is called only when the phase succeeds.
    """
    t0 = time.perf_counter()
    progress.start(label, total)
    try:
        yield progress.advance
    finally:
        timings[key] = timings.get(key, 0.0) + time.perf_counter() - t0
    progress.finish()


class _EpochProgress:
    """Brian2's ``report`` callback of one epoch (``completed`` in [0, 1]) -> ``advance``."""

    def __init__(self, advance, units: int):
        self.advance, self.units, self.done = advance, units, 0

    def __call__(self, elapsed, completed, start, duration):
        now = min(self.units, int(float(completed) * self.units))
        if now > self.done:
            self.advance(now - self.done)
            self.done = now

    def close(self):
        self(None, 1.0, None, None)


@contextlib.contextmanager
def _epoch_phase(phase, units: int) -> Iterator[_EpochProgress]:
    """Inside ``phase`` (a :func:`_phase`), the ``report`` callback of one Brian2 epoch.

    The callback is closed (the phase's ``units`` completed) when the epoch succeeds.
    """
    with phase as advance:
        hook = _EpochProgress(advance, units)
        yield hook
        hook.close()
