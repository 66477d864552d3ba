"""Test-session settings shared by tests/ and the doctests of plasticsim/.

One BLAS thread per process. The suite runs in parallel (pytest-xdist, one worker per
core) and many tests start subprocesses; multi-threaded OpenBLAS on top of that
oversubscribes the cores, and its spinning threads make small dense solves (n of a few
hundred) up to 100x slower on a loaded 2-core machine (measured: the theory-rate test
1.9 s with one thread, 198 s with the default in a parallel run). Results do not depend
on it: the tests compare against tolerances, not against timings.
"""

import os

from threadpoolctl import threadpool_limits

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"  # inherited by the subprocesses the tests start
threadpool_limits(1)  # numpy is already imported (the plasticsim pytest plugin)
