"""Import Brian2 for plasticsim without taking over the user's uncaught-exception display.

Brian2 replaces ``sys.excepthook`` when it is imported (``brian2.utils.logger``): every
uncaught exception is then announced as "Brian 2 encountered an unexpected error", with a
request to report it to Brian2's tracker, and a debug log and a copy of the script are kept
in the temporary folder. A user who never imported Brian2 would see plasticsim's own
``ValueError`` presented that way. So when plasticsim is the first to import Brian2, the
hook that was in place before is put back; a user who imported Brian2 first keeps Brian2's
hook, as they chose. Every plasticsim module imports Brian2 through this one.
"""

from __future__ import annotations

import sys

_first_import = "brian2" not in sys.modules
_hook_before = sys.excepthook

import brian2  # noqa: E402

if _first_import and sys.excepthook is not _hook_before:
    sys.excepthook = _hook_before

__all__ = ["brian2"]
