"""Shared input validation: small ``check_*`` helpers that return the validated value.

Every public function validates through these before doing any work, so an error always
names the argument, the offending value and the rule it breaks.
"""

from __future__ import annotations

import numbers

import numpy as np
import scipy.sparse as sps

__all__ = [
    "check_matrix",
    "check_sparse_matrix",
    "check_matrix_or_sparse",
    "is_sparse",
    "check_stable",
    "check_symmetric",
    "check_has_synapses",
    "check_probability_matrix",
    "check_positive",
    "check_nonnegative",
    "check_density",
    "check_integer",
    "check_choice",
    "check_rng",
    "spectral_abscissa",
]

# Relative tolerance for treating a matrix as symmetric (entries are compared to the
# largest absolute entry). A matrix built as symmetric is symmetric to the bit; this only
# absorbs round-off from a user's own arithmetic.
SYMMETRY_RTOL = 1e-12


def _fmt(value) -> str:
    if isinstance(value, np.ndarray):
        return f"array of shape {value.shape}"
    return repr(value)


def check_matrix(A, name: str = "A", *, square: bool = True) -> np.ndarray:
    """Return ``A`` as a C-contiguous float64 2-D array, or raise.

    Raises ``TypeError`` for non-numeric input and ``ValueError`` for a wrong number of
    dimensions, a non-square shape or non-finite entries.
    """
    if isinstance(A, str | bytes) or A is None:
        raise TypeError(f"{name} must be a real 2-D array, got {type(A).__name__}.")
    try:
        arr = np.asarray(A)
    except Exception as exc:  # pragma: no cover - numpy raises many things
        raise TypeError(f"{name} must be a real 2-D array: {exc}") from exc
    if arr.dtype == object or not (
        np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.bool_)
    ):
        raise TypeError(f"{name} must be a real numeric array, got dtype {arr.dtype}.")
    if np.iscomplexobj(arr):
        raise TypeError(f"{name} must be real, got dtype {arr.dtype}.")
    if arr.ndim != 2:
        raise ValueError(f"{name} has shape {arr.shape}, must be 2-D.")
    if square and arr.shape[0] != arr.shape[1]:
        raise ValueError(f"{name} has shape {arr.shape}, must be square (n, n).")
    if arr.shape[0] == 0:
        raise ValueError(f"{name} has shape {arr.shape}, must have at least one row.")
    arr = np.ascontiguousarray(arr, dtype=np.float64)
    if not np.all(np.isfinite(arr)):
        bad = np.argwhere(~np.isfinite(arr))[0]
        raise ValueError(
            f"{name} has a non-finite entry {name}[{bad[0]}, {bad[1]}] == "
            f"{arr[bad[0], bad[1]]!r}; all entries must be finite."
        )
    return arr


def is_sparse(A) -> bool:
    """True for any ``scipy.sparse`` array or matrix."""
    return sps.issparse(A)


def check_sparse_matrix(A, name: str = "A") -> sps.csr_array:
    """Return sparse ``A`` as a canonical float64 ``csr_array``, or raise.

    Canonical: duplicates summed, explicit zeros removed, column indices sorted, so the
    stored entries are exactly the non-zero entries (the synapses and the leak). Raises
    like :func:`check_matrix`: ``TypeError`` for a non-real dtype, ``ValueError`` for a
    non-square or empty shape or non-finite entries. ``O(m)`` for ``m`` stored entries.
    """
    if A.ndim != 2:
        raise ValueError(f"{name} has shape {A.shape}, must be 2-D.")
    dt = np.dtype(A.dtype)
    if np.issubdtype(dt, np.complexfloating):
        raise TypeError(f"{name} must be real, got dtype {dt}.")
    if not (np.issubdtype(dt, np.number) or np.issubdtype(dt, np.bool_)):
        raise TypeError(f"{name} must be a real numeric array, got dtype {dt}.")
    if A.shape[0] != A.shape[1]:
        raise ValueError(f"{name} has shape {A.shape}, must be square (n, n).")
    if A.shape[0] == 0:
        raise ValueError(f"{name} has shape {A.shape}, must have at least one row.")
    out = sps.csr_array(A, dtype=np.float64, copy=True)
    out.sum_duplicates()
    if not np.all(np.isfinite(out.data)):
        k = int(np.argmax(~np.isfinite(out.data)))
        i = int(np.searchsorted(out.indptr, k, side="right") - 1)
        raise ValueError(
            f"{name} has a non-finite entry {name}[{i}, {int(out.indices[k])}] == "
            f"{float(out.data[k])!r}; all entries must be finite."
        )
    out.eliminate_zeros()
    out.sort_indices()
    return out


def check_matrix_or_sparse(A, name: str = "A"):
    """:func:`check_sparse_matrix` for sparse input, :func:`check_matrix` otherwise."""
    if is_sparse(A):
        return check_sparse_matrix(A, name)
    return check_matrix(A, name)


def spectral_abscissa(A: np.ndarray) -> float:
    """Largest real part of the eigenvalues of ``A`` (O(n^3); for error messages)."""
    if is_symmetric(A):
        return float(np.linalg.eigvalsh(A)[-1])
    return float(np.max(np.linalg.eigvals(A).real))


def unstable_error(A: np.ndarray, name: str = "A", abscissa: float | None = None) -> ValueError:
    """The ``ValueError`` raised for a matrix with no stationary covariance."""
    if abscissa is None:
        abscissa = spectral_abscissa(A)
    return ValueError(
        f"{name} is not stable: its spectral abscissa (largest real part of an "
        f"eigenvalue) is {abscissa:.6g}, must be < 0. An unstable network has no "
        "stationary covariance; increase the leak on the diagonal."
    )


def check_stable(A: np.ndarray, name: str = "A") -> np.ndarray:
    """Raise ``ValueError`` unless every eigenvalue of ``A`` has negative real part."""
    abscissa = spectral_abscissa(A)
    if not abscissa < 0:
        raise unstable_error(A, name, abscissa)
    return A


def is_symmetric(A) -> bool:
    if is_sparse(A):
        if A.nnz == 0:
            return True
        scale = float(abs(A).max())
        diff = (A - A.T).tocsr()
        return bool(diff.nnz == 0 or float(abs(diff).max()) <= SYMMETRY_RTOL * scale)
    scale = float(np.max(np.abs(A))) if A.size else 0.0
    return bool(np.all(np.abs(A - A.T) <= SYMMETRY_RTOL * scale))


def check_symmetric(A: np.ndarray, symmetric, name: str = "A", arg: str = "symmetric") -> bool:
    """Resolve a ``symmetric`` flag (``"auto"``, ``True`` or ``False``) against ``A``."""
    if isinstance(symmetric, str):
        if symmetric != "auto":
            raise ValueError(f"{arg} == {symmetric!r}, must be 'auto', True or False.")
        return is_symmetric(A)
    if not isinstance(symmetric, bool | np.bool_):
        raise TypeError(f"{arg} must be 'auto', True or False, got {_fmt(symmetric)}.")
    if symmetric and not is_symmetric(A):
        diff = A - A.T
        dev = float(abs(diff).max()) if is_sparse(A) else float(np.max(np.abs(diff)))
        raise ValueError(
            f"{arg}=True but {name} is not symmetric: max |{name} - {name}.T| == {dev:.3g}."
        )
    return bool(symmetric)


def check_has_synapses(A: np.ndarray, name: str = "A") -> np.ndarray:
    """Boolean mask of off-diagonal non-zero entries; raise if there are none."""
    mask = A != 0
    np.fill_diagonal(mask, False)
    if not mask.any():
        raise ValueError(
            f"{name} has no synapses: every off-diagonal entry is zero, nothing to prune."
        )
    return mask


def check_probability_matrix(P, n: int, name: str = "P") -> np.ndarray:
    """Return ``P`` as an (n, n) float64 array of probabilities in [0, 1], or raise."""
    P = check_matrix(P, name)
    if P.shape != (n, n):
        raise ValueError(f"{name} has shape {P.shape}, must match A's shape {(n, n)}.")
    lo, hi = float(P.min()), float(P.max())
    if lo < 0 or hi > 1:
        bad = lo if lo < 0 else hi
        raise ValueError(f"{name} has an entry {bad!r}; probabilities must be in [0, 1].")
    return P


def _check_real(name: str, value) -> float:
    if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {_fmt(value)}.")
    value = float(value)
    if not np.isfinite(value):
        raise ValueError(f"{name} == {value!r}, must be finite.")
    return value


def check_positive(name: str, value) -> float:
    value = _check_real(name, value)
    if not value > 0:
        raise ValueError(f"{name} == {value!r}, must be > 0.")
    return value


def check_nonnegative(name: str, value) -> float:
    value = _check_real(name, value)
    if not value >= 0:
        raise ValueError(f"{name} == {value!r}, must be >= 0.")
    return value


def check_integer(name: str, value, minimum: int | None = None) -> int:
    """Return ``value`` as a Python int, or raise (``TypeError`` for bools, floats, ...)."""
    if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {_fmt(value)}.")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} == {value!r}, must be an integer >= {minimum}.")
    return value


def check_density(value, name: str = "density") -> float:
    value = _check_real(name, value)
    if not 0 < value <= 1:
        raise ValueError(f"{name} == {value!r}, must be in (0, 1].")
    return value


def check_choice(name: str, value, choices) -> str:
    if value not in choices:
        opts = ", ".join(repr(c) for c in choices)
        raise ValueError(f"{name} == {value!r}, must be one of {opts}.")
    return value


# Independent random streams per purpose. The same integer seed passed to a network
# generator and to the sampler must not reuse the same bits: a connectivity drawn as
# ``U < p`` and a sample drawn as ``U < P`` from one stream would be correlated.
STREAM_NETWORK = 0
STREAM_SAMPLING = 1
STREAM_DYNAMICS = 2
STREAM_ONLINE = 3
STREAM_SKETCH = 4


def check_rng(rng, stream: int = STREAM_NETWORK) -> tuple[int, np.random.Generator]:
    """Normalise ``rng`` (SPEC 7) to ``(seed, Generator)`` with a recordable integer seed.

    - ``int``: that seed.
    - ``None``: fresh OS entropy, recorded as the seed.
    - ``numpy.random.Generator``: a seed is drawn from it, so the caller's stream advances
      and the result can still be reproduced from the recorded seed alone.

    The Generator is ``default_rng(seed)`` for ``stream == 0`` and otherwise seeded by
    ``SeedSequence(seed, spawn_key=(stream,))``: one seed, independent streams per purpose.
    """
    if rng is None:
        seed = int(np.random.SeedSequence().entropy)
    elif isinstance(rng, np.random.Generator):
        seed = int(rng.integers(0, 2**63))
    elif isinstance(rng, numbers.Integral) and not isinstance(rng, bool | np.bool_):
        seed = int(rng)
        if seed < 0:
            raise ValueError(f"rng == {seed!r}, an integer seed must be >= 0.")
    else:
        raise TypeError(
            f"rng must be None, a non-negative int or a numpy.random.Generator, got {_fmt(rng)}."
        )
    if stream == STREAM_NETWORK:
        return seed, np.random.default_rng(seed)
    return seed, np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(stream,)))
