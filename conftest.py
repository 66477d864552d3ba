"""Test-session settings shared by tests/ and the doctests of plasticsim/.

The collected session's objects are frozen out of the cyclic garbage collector
(:func:`pytest_collection_finish`). Brian2 calls ``gc.collect()`` at the start of every
``Network.run``; a full collection walks every tracked object of the process, and a test
process holds a quarter of a million of them after collection (plasticsim, Brian2, sympy,
scipy, matplotlib, dask and the collected tests): about 0.1 s per run, more than the run
itself for the small networks of most tests. Frozen objects are still freed by reference
counting, and everything a test creates is collected as before: only the walk over the
session's long-lived objects is skipped.

One BLAS thread per process. The suite runs in parallel (pytest-xdist, one worker per
core) and many tests start subprocesses; multi-threaded OpenBLAS on top of that
oversubscribes the cores, and its spinning threads make small dense solves (n of a few
hundred) up to 100x slower on a loaded 2-core machine (measured: the theory-rate test
1.9 s with one thread, 198 s with the default in a parallel run). Results do not depend
on it: the tests compare against tolerances, not against timings.
"""

import gc
import os

from threadpoolctl import threadpool_limits

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"  # inherited by the subprocesses the tests start
threadpool_limits(1)  # numpy is already imported (the plasticsim pytest plugin)


def pytest_collection_finish(session):
    """Freeze what collection left alive (modules, collected tests) out of the collector."""
    gc.collect()  # garbage first: only live objects are frozen
    gc.freeze()
