"""Interruptions (SIGINT, SIGTERM) around the steps that must not be cut in half.

Writing a result is made of steps that leave a mess if a signal lands between them:
creating a temporary directory and remembering it, renaming an old result aside and the
new one in place, removing a temporary directory after a failure. :func:`deferred_signals`
holds SIGINT and SIGTERM for the few milliseconds of such a step and delivers them, to the
handlers that were in place, as soon as it ends.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator

__all__: list[str] = []

#: The signals that stop a run: Ctrl-C, and a job scheduler's or ``kill``'s stop.
SIGNALS = (signal.SIGINT, signal.SIGTERM)


class _Held:
    """The signals received while they were held, in order (``received``)."""

    def __init__(self):
        self.received: list[int] = []

    def __call__(self, signum, frame):
        self.received.append(signal.Signals(signum))


@contextlib.contextmanager
def deferred_signals() -> Iterator[_Held]:
    """Hold SIGINT and SIGTERM while the block runs; deliver them when it ends.

    Each signal received inside the block is re-raised (``signal.raise_signal``) once the
    previous handlers are back, so it takes effect exactly as it would have: Python's
    default SIGINT handler raises ``KeyboardInterrupt`` at the end of the block, a
    default SIGTERM ends the process there. Signals whose handler is ``SIG_IGN`` (or not
    set from Python) are left alone. Outside the main thread (where handlers cannot be
    installed) the block runs unprotected.

    Yields
    ------
    _Held
        ``received`` lists the signals held so far (``signal.Signals``).

    Examples
    --------
    >>> import os, signal
    >>> try:
    ...     with deferred_signals() as held:
    ...         os.kill(os.getpid(), signal.SIGINT)
    ...         print("the block finishes first; held:", held.received)
    ... except KeyboardInterrupt:
    ...     print("then KeyboardInterrupt")
    the block finishes first; held: [<Signals.SIGINT: 2>]
    then KeyboardInterrupt
    """
    held = _Held()
    if threading.current_thread() is not threading.main_thread():
        yield held
        return
    previous = {}
    for signum in SIGNALS:
        handler = signal.getsignal(signum)
        if handler is None or handler is signal.SIG_IGN:
            continue
        previous[signum] = signal.signal(signum, held)
    try:
        yield held
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        for signum in dict.fromkeys(held.received):
            signal.raise_signal(signum)
