"""Validation of a :class:`~plasticsim.online.RateNetwork`'s connectivity and options.

Every constructor turns its input into one canonical synapse table, a
:class:`Connectivity`: the synapses ``pre -> post`` with non-zero weights ``w``, sorted by
``(post, pre)`` (the row-major order of the non-zeros of ``A``, row = post), and the
positive leaks. A dense ``A``, the same ``A`` as a ``scipy.sparse`` array and the same
synapses given as lists give the same table, bit for bit, and so the same simulation.
Nothing here forms an ``n x n`` array from sparse input: the cost is ``O(n + m)`` for
``m`` synapses (``O(m log m)`` for lists, which are sorted).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import scipy.sparse as sp

from .._validation import (
    SYMMETRY_RTOL,
    check_choice,
    check_integer,
    check_matrix,
    check_positive,
    is_symmetric,
)
from . import _model

__all__ = [
    "Connectivity",
    "from_dense",
    "from_sparse",
    "from_sparse_entries",
    "from_synapses",
    "check_options",
]

TARGETS = ("numpy", "cython")
NONLINEARITIES = (None, "relu")


class Connectivity(NamedTuple):
    """The canonical synapse table: ``A = -diag(leak) + W``, ``W[post, pre] = w``."""

    n: int
    pre: np.ndarray  # int32 (Brian2's index type; int64 from 2**31 neurons), sorted by (post, pre)
    post: np.ndarray  # same type
    w: np.ndarray  # float64, non-zero
    leak: np.ndarray  # float64 of shape (n,), > 0
    symmetric: bool  # W symmetric to the bit (made so when within SYMMETRY_RTOL)


def _diagonal_error(diag: np.ndarray, name: str, diagonal: str = "leak") -> None:
    if diagonal == "zero":
        if np.any(diag != 0):
            i = int(np.argmax(diag != 0))
            raise ValueError(
                f"{name}[{i}, {i}] == {float(diag[i])!r}: autapses (self-synapses) are not "
                f"supported; the diagonal of {name} must be 0."
            )
        return
    if np.any(diag >= 0):
        i = int(np.argmax(diag >= 0))
        raise ValueError(
            f"{name}[{i}, {i}] == {float(diag[i])!r}: the diagonal holds minus each neuron's "
            f"leak and every {name}[i, i] must be < 0."
        )


def _index_type(n: int):
    """Brian2's synapse index type, int32, when it holds ``n`` neurons."""
    return np.int32 if n < 2**31 else np.int64


def _leak(diag: np.ndarray, diagonal: str) -> np.ndarray:
    return np.zeros(diag.size) if diagonal == "zero" else -diag


def from_dense(A, name: str = "A", *, diagonal: str = "leak") -> Connectivity:
    """The table of a dense ``A`` (``check_matrix``; symmetrised as ``(A + A.T) / 2``).

    ``diagonal="leak"``: the diagonal holds minus the leaks (each must be < 0);
    ``"zero"``: a weight matrix without autapses (the diagonal must be 0; leaks 0).
    """
    A = check_matrix(A, name)
    n = A.shape[0]
    diag = np.diag(A).copy()
    _diagonal_error(diag, name, diagonal)
    # Symmetric to the exact core's tolerance (is_symmetric, relative 1e-12): make it
    # symmetric to the bit, so that the synapse table is symmetric and sleep decides each
    # pair once, as noise_prune does for the same A (changes A by round-off only).
    symmetric = is_symmetric(A)
    if symmetric:
        A = 0.5 * (A + A.T)  # exact: a + b == b + a in floating point
    mask = A != 0
    np.fill_diagonal(mask, False)
    post, pre = np.nonzero(mask)  # row-major: sorted by post, then pre
    w = A[post, pre]
    itype = _index_type(n)
    return Connectivity(
        n, pre.astype(itype), post.astype(itype), w, _leak(diag, diagonal), symmetric
    )


def from_sparse(A, name: str = "A", *, diagonal: str = "leak") -> Connectivity:
    """The table of a ``scipy.sparse`` ``A``, in ``O(n + m)`` time and memory.

    The same rules as :func:`from_dense`, entry for entry: explicit zeros are not
    synapses, duplicate entries are summed (scipy's convention), and an ``A`` symmetric
    within the relative ``1e-12`` of :func:`plasticsim._validation.is_symmetric` (compared
    to the largest absolute entry, absent entries counting as 0) becomes
    ``(A + A.T) / 2``, computed with the same floating-point operations as the dense path.
    """
    dtype = A.dtype
    if not (np.issubdtype(dtype, np.number) or np.issubdtype(dtype, np.bool_)):
        raise TypeError(f"{name} must be a real numeric sparse array, got dtype {dtype}.")
    if np.issubdtype(dtype, np.complexfloating):
        raise TypeError(f"{name} must be real, got dtype {dtype}.")
    shape = A.shape
    if len(shape) != 2:
        raise ValueError(f"{name} has shape {shape}, must be 2-D.")
    if shape[0] != shape[1]:
        raise ValueError(f"{name} has shape {shape}, must be square (n, n).")
    if shape[0] == 0:
        raise ValueError(f"{name} has shape {shape}, must have at least one row.")
    n = int(shape[0])
    A = sp.csr_array(A, dtype=np.float64, copy=True)
    A.sum_duplicates()  # canonical: sorted indices, one entry per position
    if not np.all(np.isfinite(A.data)):
        k = int(np.argmax(~np.isfinite(A.data)))
        row = int(np.searchsorted(A.indptr, k, side="right") - 1)
        raise ValueError(
            f"{name} has a non-finite entry {name}[{row}, {int(A.indices[k])}] == "
            f"{float(A.data[k])!r}; all entries must be finite."
        )
    diag = A.diagonal()
    _diagonal_error(diag, name, diagonal)
    scale = float(np.max(np.abs(A.data))) if A.nnz else 0.0
    diff = A - A.T
    symmetric = bool(not diff.nnz or np.max(np.abs(diff.data)) <= SYMMETRY_RTOL * scale)
    del diff
    if symmetric:
        A = (A + A.T) * 0.5  # the dense path's 0.5 * (A + A.T), entry for entry
    A.eliminate_zeros()
    A.sort_indices()
    # Brian2's int32 indices from the start: no int64 copies of the table while building.
    itype = _index_type(n)
    post = np.repeat(np.arange(n, dtype=itype), np.diff(A.indptr))
    off = A.indices != post
    post = post[off]
    pre = A.indices[off].astype(itype, copy=False)
    return Connectivity(n, pre, post, A.data[off], _leak(diag, diagonal), symmetric)


def _index_array(name: str, value, n: int) -> np.ndarray:
    arr = np.asarray(value)
    if arr.dtype == object or not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(
            f"{name} must be an array of integer neuron indices, got dtype {arr.dtype}."
        )
    if arr.ndim != 1:
        raise ValueError(f"{name} has shape {arr.shape}, must be 1-D.")
    bad = (arr < 0) | (arr >= n)
    if np.any(bad):
        k = int(np.argmax(bad))
        raise ValueError(f"{name}[{k}] == {int(arr[k])}, must be a neuron index in [0, {n}).")
    return arr.astype(np.int64)


def from_synapses(n, pre, post, w, leak, *, multapses: bool = False) -> Connectivity:
    """The table of synapse lists ``pre[k] -> post[k]`` with weight ``w[k]`` and leaks.

    ``leak=None``: a weight matrix without leaks (``from_sparse(..., diagonal="zero")``).
    ``multapses=True``: a pair may be given several times, each entry its own synapse
    (:func:`_multapse_table`); otherwise a repeated pair is an error.

    Validated (each error names the argument, the offending entry and the rule), then
    assembled into a sparse ``A = -diag(leak) + W`` and read by :func:`from_sparse`, so
    that the lists, the sparse and the dense form of one network give the same table.
    ``O(m log m)`` time (the duplicate check sorts), ``O(n + m)`` memory.
    """
    n = check_integer("n", n, minimum=1)
    pre = _index_array("pre", pre, n)
    post = _index_array("post", post, n)
    w_arr = np.asarray(w)
    if (
        w_arr.dtype == object
        or not (np.issubdtype(w_arr.dtype, np.number) or np.issubdtype(w_arr.dtype, np.bool_))
        or np.iscomplexobj(w_arr)
    ):
        raise TypeError(f"w must be an array of real weights, got dtype {w_arr.dtype}.")
    if not (pre.shape == post.shape == w_arr.shape):
        raise ValueError(
            f"pre, post and w have shapes {pre.shape}, {post.shape} and {w_arr.shape}: "
            "they must be 1-D of the same length (one entry per synapse)."
        )
    w_arr = w_arr.astype(np.float64)
    if not np.all(np.isfinite(w_arr)):
        k = int(np.argmax(~np.isfinite(w_arr)))
        raise ValueError(f"w[{k}] == {float(w_arr[k])!r}, all weights must be finite.")
    if np.any(w_arr == 0):
        k = int(np.argmax(w_arr == 0))
        raise ValueError(
            f"w[{k}] == 0.0: a synapse needs a non-zero weight (leave the pair out instead)."
        )
    if np.any(pre == post):
        k = int(np.argmax(pre == post))
        raise ValueError(
            f"pre[{k}] == post[{k}] == {int(pre[k])}: self-synapses are not supported; a "
            "neuron's own decay is its leak (argument leak)."
        )
    diagonal = "zero" if leak is None else "leak"
    leak = np.zeros(n) if leak is None else _model.check_vector("leak", leak, n)
    if diagonal == "leak" and np.any(leak <= 0):
        i = int(np.argmax(leak <= 0))
        raise ValueError(f"leak[{i}] == {float(leak[i])!r}, every leak must be > 0.")
    if multapses:
        return _multapse_table(n, pre, post, w_arr, leak, diagonal)
    key = post * n + pre
    order = np.argsort(key, kind="stable")
    skey = key[order]
    dup = np.flatnonzero(skey[1:] == skey[:-1])
    if dup.size:
        a, b = sorted((int(order[dup[0]]), int(order[dup[0] + 1])))
        raise ValueError(
            f"synapse {int(pre[a])} -> {int(post[a])} is given twice (entries {a} and {b} of "
            "pre, post, w): each pair must appear once (RateNetwork.from_synapses(..., "
            "multapses=True) makes each entry its own synapse: several synapses between "
            "the same two neurons)."
        )
    del key, skey, order
    diag = np.arange(n, dtype=np.int64)
    A = sp.coo_array(
        (
            np.concatenate([w_arr, -leak]),
            (np.concatenate([post, diag]), np.concatenate([pre, diag])),
        ),
        shape=(n, n),
    )
    return from_sparse(A, "A", diagonal=diagonal)


def _multapse_table(n, pre, post, w, leak, diagonal) -> Connectivity:
    """The table of synapse lists whose pairs may repeat (multapses), ``O(m log m)``.

    Each entry stays its own synapse: sorted by ``(post, pre)``, entries of one pair in
    the order given (a stable sort), nothing summed and nothing symmetrised. The
    network's ``A`` is the sum over each pair's synapses; ``symmetric`` says whether that
    sum is symmetric to the bit (it only selects the eigensolver of the checks).
    """
    key = post * n + pre
    order = np.argsort(key, kind="stable")
    del key
    itype = _index_type(n)
    pre, post, w = pre[order].astype(itype), post[order].astype(itype), w[order]
    del order
    W = sp.csr_array((w, (post, pre)), shape=(n, n))  # summed per pair
    diff = W - W.T
    diff.eliminate_zeros()
    symmetric = diff.nnz == 0
    del W, diff
    if diagonal == "zero":
        leak = np.zeros(n)
    return Connectivity(n, pre, post, w, leak, bool(symmetric))


def from_sparse_entries(A, name: str = "A") -> Connectivity:
    """Every stored off-diagonal entry of a ``scipy.sparse`` ``A`` as its own synapse.

    The multapse form of :func:`from_sparse`: a COO array (or a non-canonical CSR/CSC
    one) may store one position several times, and each stored entry becomes one
    synapse instead of being summed (explicit zeros are not synapses). The stored
    diagonal entries of a neuron are summed: minus its leak, which must be > 0.
    ``O(m log m)``.
    """
    dtype = A.dtype
    if not (np.issubdtype(dtype, np.number) or np.issubdtype(dtype, np.bool_)):
        raise TypeError(f"{name} must be a real numeric sparse array, got dtype {dtype}.")
    if np.issubdtype(dtype, np.complexfloating):
        raise TypeError(f"{name} must be real, got dtype {dtype}.")
    shape = A.shape
    if len(shape) != 2 or shape[0] != shape[1] or shape[0] == 0:
        raise ValueError(f"{name} has shape {shape}, must be square (n, n) with n >= 1.")
    n = int(shape[0])
    coo = sp.coo_array(A, copy=True) if not isinstance(A, sp.coo_array | sp.coo_matrix) else A
    row = np.asarray(coo.row, dtype=np.int64)
    col = np.asarray(coo.col, dtype=np.int64)
    data = np.asarray(coo.data, dtype=np.float64)
    on = row == col
    diag = np.bincount(row[on], weights=data[on], minlength=n)
    if not np.all(np.isfinite(diag)):
        i = int(np.argmax(~np.isfinite(diag)))
        raise ValueError(f"{name}[{i}, {i}] == {float(diag[i])!r}, must be finite.")
    _diagonal_error(diag, name)
    off = ~on & (data != 0)
    return from_synapses(n, col[off], row[off], data[off], -diag, multapses=True)


def check_options(
    n, *, tau, sigma, noise_tau, nonlinearity, dt, target, bias, x0, trace_dt, center, name
) -> dict:
    """Validated keyword arguments shared by every constructor (a dict of clean values)."""
    tau = _model.check_time("tau", tau)
    sigma = check_positive("sigma", sigma)
    noise_tau = _model.check_time("noise_tau", noise_tau, allow_zero=True)
    check_choice("nonlinearity", nonlinearity, NONLINEARITIES)
    dt = _model.check_time("dt", dt)
    check_choice("target", target, TARGETS)
    bias = np.zeros(n) if bias is None else _model.check_vector("bias", bias, n)
    if x0 is not None:
        x0 = _model.check_vector("x0", x0, n)
    if trace_dt is None:
        every = max(1, int(math.floor(float(tau) / (10 * float(dt)) + 1e-9)))
        trace_dt = every * dt
    else:
        trace_dt = _model.check_time("trace_dt", trace_dt)
        every = _model.multiple_of("trace_dt", trace_dt, dt, "dt")
    if isinstance(center, str):
        check_choice("center", center, ("auto",))
    elif not isinstance(center, bool | np.bool_):
        raise TypeError(f"center must be 'auto', True or False, got {center!r}.")
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"name == {name!r}, must be a Python identifier.")
    relu = nonlinearity == "relu"
    if center == "auto":
        center = relu or bool(np.any(bias != 0))
    return {
        "tau": tau,
        "sigma": sigma,
        "noise_tau": noise_tau,
        "relu": relu,
        "dt": dt,
        "target": target,
        "bias": bias,
        "x0": x0,
        "trace_dt": trace_dt,
        "every": every,
        "center": bool(center),
        "name": name,
    }


def is_sparse(A) -> bool:
    return sp.issparse(A)
