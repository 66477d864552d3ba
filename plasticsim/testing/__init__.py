"""Regression tests on pruned spectra: assertions, golden spectra and a pytest fixture.

- :func:`assert_spectrum_close` (two matrices) and :func:`assert_eigenvalues_close` (two
  eigenvalue arrays): mode by mode, to a relative tolerance, optionally only the slowest
  modes; a failure names the worst mode and how far it is off.
- :func:`assert_quadratic_forms_within`: the theorem's bound
  ``(1 - eps) x^T A x <= x^T B x <= (1 + eps) x^T A x`` on named vectors and, exactly, over
  all ``x``.
- Golden spectra: :func:`save_golden`, :func:`load_golden`, :func:`check_golden` (a small
  JSON file per run: eigenvalues slowest first, seed, model, version, tolerance).
- Model runs: :func:`snapshot_model` / :func:`check_model`, the library side of
  ``plasticsim snapshot`` / ``plasticsim check``.
- A pytest fixture, ``spectrum_regression``, in :mod:`plasticsim.testing.plugin` (loaded by
  pytest only; this package imports neither it nor pytest).

Reference: E. Moore, R. Chaudhuri, "Using noise to probe recurrent neural network
structure and prune synapses", NeurIPS 2020 (arXiv:2011.07334).
"""

from ._assertions import (
    assert_eigenvalues_close,
    assert_quadratic_forms_within,
    assert_spectrum_close,
)
from ._golden import DEFAULT_RTOL, Golden, GoldenError, check_golden, load_golden, save_golden
from ._models import check_model, snapshot_model, spectra_from_results

__all__ = [
    "assert_spectrum_close",
    "assert_eigenvalues_close",
    "assert_quadratic_forms_within",
    "Golden",
    "GoldenError",
    "DEFAULT_RTOL",
    "save_golden",
    "load_golden",
    "check_golden",
    "spectra_from_results",
    "snapshot_model",
    "check_model",
]
