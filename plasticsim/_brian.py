"""Import Brian2 for plasticsim without taking over the user's uncaught-exception display.

Brian2 replaces ``sys.excepthook`` when it is imported (``brian2.utils.logger``): every
uncaught exception is then announced as "Brian 2 encountered an unexpected error", with a
request to report it to Brian2's tracker, and a debug log and a copy of the script are kept
in the temporary folder. A user who never imported Brian2 would see plasticsim's own
``ValueError`` presented that way. So when plasticsim is the first to import Brian2, the
hook that was in place before is put back; a user who imported Brian2 first keeps Brian2's
hook, as they chose. Every plasticsim module imports Brian2 through this one.

:func:`freeze_imports` is for the processes plasticsim owns (the command, a sweep's
workers): it moves the long-lived imported modules out of the cyclic garbage collector's
reach before the first Brian2 run.
"""

from __future__ import annotations

import sys

_first_import = "brian2" not in sys.modules
_hook_before = sys.excepthook

import brian2  # noqa: E402

if _first_import and sys.excepthook is not _hook_before:
    sys.excepthook = _hook_before

__all__ = ["brian2", "freeze_imports"]

_frozen = False  # freeze_imports has run in this process


def freeze_imports() -> None:
    """Move the modules a Brian2 run imports out of the cyclic garbage collector's reach.

    Brian2 calls ``gc.collect()`` at the start of every ``Network.run`` (to warn about
    objects left out of the network); a full collection walks every tracked object, and
    once Brian2, sympy, scipy and matplotlib are imported that is ~0.05-0.1 s per run,
    often more than a short run itself (the lifetime model: 15 s -> 8 s). Imported modules
    live as long as the process, so freezing them (``gc.freeze``: ignored by every later
    collection) changes no result. Once per process, before the first run: anything a
    later freeze would catch could never be collected. Only for a process plasticsim
    owns (the command, a sweep's workers), never on import.
    """
    global _frozen
    if _frozen:
        return
    import gc

    from . import plotting  # noqa: F401  (matplotlib)

    gc.collect()
    gc.freeze()
    _frozen = True
