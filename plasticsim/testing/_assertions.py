"""Assertions on spectra and quadratic forms, with failure messages that locate the drift.

Two ways to compare spectra:

- :func:`assert_spectrum_close` takes two *matrices* (an original and a pruned network)
  and pairs their eigenvalues exactly as :func:`plasticsim.compare_spectra` does, so the
  relative errors it tests are the ones the rest of the package reports.
- :func:`assert_eigenvalues_close` takes two 1-D *eigenvalue arrays* (a stored golden
  spectrum and a new run); it orders the expected eigenvalues slowest first and pairs the
  actual ones with them (sorted for real spectra, a minimum-cost assignment otherwise),
  so the order in which either array was stored does not matter.

:func:`assert_quadratic_forms_within` checks the bound of Moore & Chaudhuri's theorem,
``(1 - eps) x^T A x <= x^T B x <= (1 + eps) x^T A x`` read as a band on the ratio
``x^T B x / x^T A x`` (for ``-A`` positive definite the inequalities hold for ``-A`` and
``-B``), on named vectors and, exactly, over all ``x``.
"""

from __future__ import annotations

import math

import numpy as np

from .._validation import (
    _fmt,
    check_integer,
    check_matrix,
    check_nonnegative,
    check_rng,
    is_symmetric,
)
from ..spectra import _relative, compare_spectra, match_eigenvalues, quadratic_form_range

__all__ = ["assert_spectrum_close", "assert_eigenvalues_close", "assert_quadratic_forms_within"]

#: Failing modes (or vectors) listed in a failure message; the rest are counted.
MAX_LISTED = 10


# --------------------------------------------------------------------------- helpers


def check_eigenvalues(values, name: str) -> np.ndarray:
    """Return ``values`` as a finite 1-D float64 or complex128 array, or raise."""
    if isinstance(values, str | bytes) or values is None:
        raise TypeError(f"{name} must be a 1-D array of eigenvalues, got {_fmt(values)}.")
    arr = np.asarray(values)
    if arr.dtype == object or not (
        np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.bool_)
    ):
        raise TypeError(f"{name} must be a numeric array of eigenvalues, got dtype {arr.dtype}.")
    if arr.ndim != 1:
        hint = " (to compare matrices use assert_spectrum_close)" if arr.ndim == 2 else ""
        raise ValueError(f"{name} has shape {arr.shape}, must be 1-D{hint}.")
    if arr.size == 0:
        raise ValueError(f"{name} is empty, must hold at least one eigenvalue.")
    arr = arr.astype(np.complex128 if np.iscomplexobj(arr) else np.float64)
    if not np.all(np.isfinite(arr)):
        i = int(np.argmin(np.isfinite(arr)))
        raise ValueError(f"{name}[{i}] == {arr[i].item()!r}; every eigenvalue must be finite.")
    return arr


def check_slowest(slowest, n: int) -> int:
    """Resolve ``slowest`` (None = all ``n`` modes) to a number of modes in ``[1, n]``."""
    if slowest is None:
        return n
    slowest = check_integer("slowest", slowest, 1)
    if slowest > n:
        raise ValueError(f"slowest == {slowest}, must be <= the number of eigenvalues ({n}).")
    return slowest


def slowest_first(values: np.ndarray) -> np.ndarray:
    """Eigenvalues by decreasing real part (nearest 0 first), ties by imaginary part."""
    return values[np.lexsort((values.imag, -values.real))]


def pair_eigenvalues(expected: np.ndarray, actual: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``expected`` slowest first and ``actual`` reordered to pair with it.

    Real spectra are paired in sorted order (optimal for the total ``|a - b|`` on a line);
    complex ones by :func:`plasticsim.match_eigenvalues` (Hungarian, ``O(n^3)``).
    """
    expected = slowest_first(expected)
    if np.iscomplexobj(expected) or np.iscomplexobj(actual):
        return expected, match_eigenvalues(expected, actual)
    return expected, np.sort(actual)[::-1]


def digits_for(rtol: float) -> int:
    """Significant digits that make a difference of ``rtol`` visible (6 to 17)."""
    if rtol <= 0:
        return 17
    return int(min(17, max(6, math.ceil(-math.log10(rtol)) + 3)))


def format_value(z, digits: int) -> str:
    z = complex(z)
    if z.imag == 0:
        return f"{z.real:.{digits}g}"
    return f"{z.real:.{digits}g}{z.imag:+.{digits}g}j"


def _times_rtol(err: float, rtol: float) -> str:
    return f" = {err / rtol:.3g} x rtol" if rtol > 0 else ""


def mode_table(
    expected, actual, errors, rtol, indices, *, labels=("expected", "actual"), indent="  "
) -> list[str]:
    """Lines of a table of the modes ``indices`` (the ``MAX_LISTED`` worst, by index).

    Modes are numbered from 1, the slowest, as in the figures.
    """
    indices = np.asarray(indices)
    shown = indices[np.argsort(-errors[indices], kind="stable")[:MAX_LISTED]]
    shown = np.sort(shown)
    d = digits_for(rtol)
    cells = [
        (str(i + 1), format_value(expected[i], d), format_value(actual[i], d), f"{errors[i]:.3g}")
        for i in shown
    ]
    head = ("mode", labels[0], labels[1], "rel. error")
    widths = [max(len(row[c]) for row in [head, *cells]) for c in range(4)]
    lines = [indent + "  ".join(h.rjust(w) for h, w in zip(head, widths, strict=True))]
    lines += [
        indent + "  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)) for row in cells
    ]
    if indices.size > shown.size:
        lines.append(f"{indent}... and {indices.size - shown.size} more")
    return lines


def spectrum_failure(
    expected, actual, errors, rtol, m, *, labels=("expected", "actual"), indent="  "
) -> list[str] | None:
    """Message lines for the modes among the ``m`` slowest whose error exceeds ``rtol``.

    ``None`` when none does. Modes are numbered from 1, the slowest (as in the figures).
    """
    failing = np.flatnonzero(errors[:m] > rtol)
    if failing.size == 0:
        return None
    n = errors.size
    w = int(failing[np.argmax(errors[failing])])
    d = digits_for(rtol)
    scope = f"of the {m} slowest modes (of {n})" if m < n else f"of {n} modes"
    return [
        f"{failing.size} {scope} differ by more than rtol={rtol:g}.",
        f"Worst: mode {w + 1} (1 = slowest): {labels[0]} {format_value(expected[w], d)}, "
        f"{labels[1]} {format_value(actual[w], d)}, relative error {errors[w]:.3g}"
        f"{_times_rtol(errors[w], rtol)}.",
        *mode_table(expected, actual, errors, rtol, failing, labels=labels, indent=indent),
    ]


# --------------------------------------------------------------------------- spectra


def assert_eigenvalues_close(expected, actual, *, rtol, slowest=None):
    """Assert that two eigenvalue arrays agree to a relative tolerance, mode by mode.

    The expected eigenvalues are ordered slowest first (decreasing real part) and each is
    paired with an actual one; the test is ``|actual - expected| <= rtol |expected|`` for
    every pair, or for the ``slowest`` slowest modes only.

    Parameters
    ----------
    expected, actual : array_like of shape (n,)
        Eigenvalues (real or complex), in any order, e.g. a golden spectrum (see
        :func:`load_golden`) and a new run.
    rtol : float
        Relative tolerance, ``>= 0``.
    slowest : int, default=None
        Only test the ``slowest`` modes nearest 0 (all modes by default).

    Raises
    ------
    AssertionError
        With the worst mode (index, expected and actual value, relative error against
        ``rtol``), how many modes fail, and a table of the worst of them.

    See Also
    --------
    assert_spectrum_close : the same test on two matrices.

    Notes
    -----
    Real spectra are paired in sorted order; if either array is complex the pairing is
    the minimum total ``|actual - expected|`` assignment (:func:`plasticsim.match_eigenvalues`,
    ``O(n^3)``). An expected eigenvalue of exactly 0 passes only if matched exactly.

    Examples
    --------
    >>> import numpy as np
    >>> from plasticsim.testing import assert_eigenvalues_close
    >>> golden = np.array([-0.1, -1.0, -2.5])
    >>> assert_eigenvalues_close(golden, [-2.5, -1.0, -0.1000001], rtol=1e-5)
    >>> try:
    ...     assert_eigenvalues_close(golden, [-0.1, -1.2, -2.5], rtol=1e-5)
    ... except AssertionError as err:
    ...     print(err)
    Eigenvalues not close: 1 of 3 modes differ by more than rtol=1e-05.
    Worst: mode 2 (1 = slowest): expected -1, actual -1.2, relative error 0.2 = 2e+04 x rtol.
      mode  expected  actual  rel. error
         2        -1    -1.2         0.2
    """
    __tracebackhide__ = True
    expected = check_eigenvalues(expected, "expected")
    actual = check_eigenvalues(actual, "actual")
    if expected.shape != actual.shape:
        raise ValueError(
            f"actual has {actual.size} eigenvalues, must match expected's {expected.size}."
        )
    rtol = check_nonnegative("rtol", rtol)
    m = check_slowest(slowest, expected.size)
    expected, actual = pair_eigenvalues(expected, actual)
    lines = spectrum_failure(expected, actual, _relative(expected, actual), rtol, m)
    if lines is not None:
        raise AssertionError("\n".join(["Eigenvalues not close: " + lines[0], *lines[1:]]))


def assert_spectrum_close(A, B, *, rtol, slowest=None):
    """Assert that the spectrum of ``B`` matches that of ``A`` to a relative tolerance.

    Typically ``A`` is the original network and ``B`` the pruned one. Eigenvalues are
    paired as in :func:`plasticsim.compare_spectra` (sorted for symmetric matrices, a
    minimum-cost assignment otherwise) and each pair must satisfy
    ``|mu - lambda| <= rtol |lambda|``, for all modes or the ``slowest`` slowest ones,
    which carry the slow dynamics the paper's guarantee is about.

    Parameters
    ----------
    A, B : array_like of shape (n, n)
        Expected (original) and actual (pruned) connectivity. Matrices only: compare
        eigenvalue arrays (e.g. a golden spectrum) with :func:`assert_eigenvalues_close`.
    rtol : float
        Relative tolerance, ``>= 0``.
    slowest : int, default=None
        Only test the ``slowest`` modes nearest 0 (all ``n`` by default).

    Raises
    ------
    AssertionError
        With the worst mode (index, eigenvalue of ``A``, of ``B``, relative error against
        ``rtol``), how many modes fail, and a table of the worst of them.

    Notes
    -----
    One ``compare_spectra``: ``O(n^3)``.

    Examples
    --------
    >>> from plasticsim import networks, noise_prune
    >>> from plasticsim.testing import assert_spectrum_close
    >>> A = networks.clustered([30, 20], rng=0)
    >>> assert_spectrum_close(A, A.copy(), rtol=1e-12)
    >>> B = noise_prune(A, density=0.3, rng=1).pruned
    >>> try:
    ...     assert_spectrum_close(A, B, rtol=1e-3)
    ... except AssertionError as err:
    ...     print(str(err).splitlines()[0])
    Spectra of A and B not close: 48 of 50 modes differ by more than rtol=0.001.
    """
    __tracebackhide__ = True
    for name, M in (("A", A), ("B", B)):
        if not isinstance(M, str | bytes) and np.ndim(M) == 1:
            raise ValueError(
                f"{name} has shape {np.shape(M)}, must be a 2-D matrix; to compare "
                "eigenvalue arrays use assert_eigenvalues_close."
            )
    rtol = check_nonnegative("rtol", rtol)
    cmp = compare_spectra(A, B)
    m = check_slowest(slowest, cmp.eigenvalues.size)
    lines = spectrum_failure(
        cmp.eigenvalues, cmp.matched, cmp.relative_errors, rtol, m, labels=("A", "B")
    )
    if lines is not None:
        raise AssertionError("\n".join(["Spectra of A and B not close: " + lines[0], *lines[1:]]))


# --------------------------------------------------------------------------- quadratic forms


def _symmetric_part(M: np.ndarray) -> np.ndarray:
    return (M + M.T) / 2  # exactly symmetric: (a + b) / 2 == (b + a) / 2


def assert_quadratic_forms_within(A, B, eps, *, n_vectors=100, rng=None):
    """Assert ``(1 - eps) x^T A x <= x^T B x <= (1 + eps) x^T A x`` for every ``x``.

    The bound of Moore & Chaudhuri's theorem (arXiv:2011.07334; the spectral-sparsifier
    bound of Spielman & Srivastava), read as a band on the ratio
    ``r(x) = x^T B x / x^T A x``: ``1 - eps <= r(x) <= 1 + eps``. It is tested

    1. on the eigenvectors of ``A`` (the modes, slowest first),
    2. on ``n_vectors`` standard normal random vectors, and
    3. exactly over all ``x``: the extreme ratios are the extreme generalised eigenvalues
       of the symmetric parts (:func:`plasticsim.quadratic_form_range`).

    Parameters
    ----------
    A, B : array_like of shape (n, n)
        Original and pruned connectivity. Only the symmetric parts enter a quadratic form;
        that of ``A`` must be definite (``-A`` positive definite for a stable symmetric
        network), else the ratio is undefined for some ``x``.
    eps : float
        Half-width of the band, ``>= 0``.
    n_vectors : int, default=100
        Number of random vectors, ``>= 0``.
    rng : None, int or numpy.random.Generator, default=None
        Source of the random vectors; the seed used is printed on failure.

    Raises
    ------
    AssertionError
        With the worst named vector ("eigenvector k of A" or "random vector i"), its
        ratio and by how much it leaves the band, how many vectors fail, and the exact
        range of the ratio over all ``x`` with the ``eps`` it would need.
    ValueError
        If the shapes differ or the symmetric part of ``A`` is not definite.

    Notes
    -----
    For an asymmetric ``A`` the eigenvectors in (1) are those of ``(A + A^T) / 2``, the
    matrix of its quadratic form. Cost ``O(n^3)`` (one ``eigh`` and one generalised
    ``eigh``) plus ``O(n^2 n_vectors)``. The exact range (3) implies (1) and (2) up to
    round-off; the named vectors make a failure concrete.

    Examples
    --------
    >>> import numpy as np
    >>> from plasticsim import compare_spectra, networks, noise_prune
    >>> from plasticsim.testing import assert_quadratic_forms_within
    >>> A = networks.clustered([30, 20], rng=0)
    >>> B = noise_prune(A, density=0.5, rng=1).pruned
    >>> eps = compare_spectra(A, B).epsilon
    >>> assert_quadratic_forms_within(A, B, eps + 1e-9, rng=2)
    >>> try:
    ...     assert_quadratic_forms_within(A, B, eps / 2, rng=2)
    ... except AssertionError as err:
    ...     print(str(err).splitlines()[0])
    Quadratic forms of B leave the band [1 - eps, 1 + eps] around those of A (eps=0.357).
    """
    __tracebackhide__ = True
    A = check_matrix(A, "A")
    B = check_matrix(B, "B")
    if A.shape != B.shape:
        raise ValueError(f"B has shape {B.shape}, must match A's shape {A.shape}.")
    eps = check_nonnegative("eps", eps)
    n_vectors = check_integer("n_vectors", n_vectors, 0)
    seed, gen = check_rng(rng)
    As, Bs = _symmetric_part(A), _symmetric_part(B)
    sym = is_symmetric(A)
    w, V = np.linalg.eigh(As)
    if not (w[-1] < 0 or w[0] > 0):
        part = "A" if sym else "the symmetric part (A + A.T) / 2 of A"
        raise ValueError(
            f"{part} is not definite: its eigenvalues span [{w[0]:.6g}, {w[-1]:.6g}], so "
            "x^T A x vanishes for some x and the ratio x^T B x / x^T A x is undefined; "
            "the bound needs -A positive definite (a stable symmetric network)."
        )
    V = V[:, ::-1]  # slowest (nearest 0 for negative definite A) first
    # the extreme ratios over all x: quadratic_form_range needs -A positive definite.
    lo, hi = quadratic_form_range(As, Bs) if w[-1] < 0 else quadratic_form_range(-As, -Bs)
    X = np.hstack([V, gen.standard_normal((A.shape[0], n_vectors))])
    ratios = np.einsum("ij,ij->j", X, Bs @ X) / np.einsum("ij,ij->j", X, As @ X)
    excess = np.maximum(ratios - (1 + eps), (1 - eps) - ratios)
    cert_excess = max(hi - (1 + eps), (1 - eps) - lo)
    if excess.max() <= 0 and cert_excess <= 0:
        return
    n = A.shape[0]
    what = "A" if sym else "(A + A.T) / 2"
    lines = [
        "Quadratic forms of B leave the band [1 - eps, 1 + eps] around those of A "
        f"(eps={eps:.3g}).",
    ]
    if excess.max() > 0:
        j = int(np.argmax(excess))
        name = (
            f"eigenvector {j + 1} of {what} (1 = slowest)" if j < n else f"random vector {j - n}"
        )
        side = "upper bound 1 + eps" if ratios[j] > 1 else "lower bound 1 - eps"
        lines.append(
            f"Worst: {name}: x^T B x / x^T A x == {ratios[j]:.6g}, beyond the {side} by "
            f"{excess[j]:.3g} (it needs eps >= {abs(ratios[j] - 1):.6g})."
        )
        n_eig, n_rand = int(np.sum(excess[:n] > 0)), int(np.sum(excess[n:] > 0))
        lines.append(
            f"Failing: {n_eig} of {n} eigenvectors, {n_rand} of {n_vectors} random vectors "
            f"(rng seed {seed})."
        )
    else:
        lines.append(
            f"Every named vector is inside (the {n} eigenvectors of {what} and "
            f"{n_vectors} random vectors, rng seed {seed}); the worst x is a generalised "
            "eigenvector of (B, A)."
        )
    lines.append(
        f"Over all x (exact): the ratio spans [{lo:.6g}, {hi:.6g}], which needs "
        f"eps >= {max(1 - lo, hi - 1):.6g}."
    )
    raise AssertionError("\n".join(lines))
