"""The network of a run: generated or read from a file, checked, with its provenance."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import scipy.sparse as sps
from scipy.sparse.csgraph import connected_components

from .. import networks
from .._sparse import check_sparse_stable, synapse_list
from .._validation import (
    check_matrix,
    check_sparse_matrix,
    is_sparse,
    is_symmetric,
    spectral_abscissa,
)
from ._model import Model
from ._schema import ModelError, _fail

__all__: list[str] = []

_CLUSTERED = ("clustered", "clustered_asymmetric")


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _load_matrix(model: Model) -> tuple[np.ndarray, dict]:
    net = model.config["network"]
    name = net["file"]
    path = (model.base_dir / name).resolve()
    if not path.is_file():
        raise _fail(
            model.source,
            "network.file",
            f"network.file == {name!r}: no such file {str(path)!r} (relative paths are "
            "relative to the model file).",
        )
    try:
        if path.suffix == ".csv":
            A = np.loadtxt(path, delimiter=",", ndmin=2, comments="#")
        elif path.suffix == ".npy":
            A = np.load(path, allow_pickle=False)
        else:
            with np.load(path, allow_pickle=False) as z:
                names = list(z.files)
                key = net["array"]
                if key is None and len(names) != 1:
                    msg = f"network.file {name!r} holds arrays {names}: choose one with "
                    raise _fail(model.source, "network.array", msg + "network.array.")
                if key is not None and key not in names:
                    msg = f"network.array == {key!r}, must be one of {names} (in {name!r})."
                    raise _fail(model.source, "network.array", msg)
                A = z[names[0] if key is None else key]
    except (OSError, ValueError) as exc:
        if isinstance(exc, ModelError):
            raise
        msg = f"network.file {name!r} could not be read as a matrix: {exc}"
        raise _fail(model.source, "network.file", msg) from None
    return A, {"file": name, "path": str(path), "sha256": _sha256(path)}


def _generate(model: Model, seed: int) -> tuple[np.ndarray, np.ndarray | None, dict]:
    net = model.config["network"]
    name = net["generator"]
    fn = getattr(networks, name)
    params = dict(net["params"])
    try:
        A = fn(**params, rng=seed)
    except (TypeError, ValueError) as exc:
        msg = f"network.params of generator {name!r}: {exc}"
        raise _fail(model.source, "network.params", msg) from None
    labels = None
    if name in _CLUSTERED:
        labels = networks.cluster_labels(params["sizes"])
    elif name == "dale":
        labels = np.repeat([0, 1], [params["n_exc"], params["n_inh"]])
    return A, labels, {"generator": name, "params": params}


def _build_network(model: Model, seed: int) -> tuple[np.ndarray, np.ndarray | None, dict]:
    """The connectivity ``A``, group labels (clusters, E/I) or None, and provenance."""
    cfg, source = model.config, model.source
    if cfg["network"]["generator"] is not None:
        A, labels, info = _generate(model, seed)
    else:
        (A, info), labels = _load_matrix(model), None
    if is_sparse(A):
        return _build_sparse(model, A, labels, info)
    try:
        A = check_matrix(A, "the network matrix").copy()
    except (TypeError, ValueError) as exc:
        raise _fail(source, "network", f"network: {exc}") from None
    leak = cfg["neurons"]["leak"]
    if leak != "network":
        np.fill_diagonal(A, -leak)
    off = _synapse_mask(A)
    if not off.any():
        raise _fail(source, "network", "network: every off-diagonal entry is zero: no synapse.")
    diag = np.diag(A)
    _check_matched_leak(source, cfg, diag)
    symmetric = is_symmetric(A)
    if not _is_stable(A, symmetric):
        abscissa = spectral_abscissa(A)
        msg = (
            f"the network is not stable: its spectral abscissa is {abscissa:.6g}, must be < 0 "
            "(no stationary covariance); increase the leak (neurons.leak, or the generator's)."
        )
        raise _fail(source, "neurons.leak", msg)
    info.update(n=int(A.shape[0]), n_synapses=int(off.sum()), symmetric=symmetric)
    return A, labels, info


def _build_sparse(model: Model, A, labels, info) -> tuple[sps.csr_array, np.ndarray | None, dict]:
    """The checks of :func:`_build_network` for a sparse network, in ``O(n + m)``.

    Stability: the Gershgorin bound (every row strictly diagonally dominant), else ARPACK
    (:func:`plasticsim._sparse.check_sparse_stable`); nothing ``n x n``.
    """
    cfg, source = model.config, model.source
    try:
        A = check_sparse_matrix(A, "the network matrix").copy()
    except (TypeError, ValueError) as exc:
        raise _fail(source, "network", f"network: {exc}") from None
    leak = cfg["neurons"]["leak"]
    if leak != "network":
        A.setdiag(-leak)
    n_syn = int(synapse_list(A)[0].size)
    if n_syn == 0:
        raise _fail(source, "network", "network: every off-diagonal entry is zero: no synapse.")
    diag = A.diagonal()
    _check_matched_leak(source, cfg, diag)
    try:
        check_sparse_stable(A, "the network")
    except ValueError as exc:
        msg = f"{exc} Increase the leak (neurons.leak, or the generator's)."
        raise _fail(source, "neurons.leak", msg) from None
    info.update(n=int(A.shape[0]), n_synapses=n_syn, symmetric=is_symmetric(A), sparse=True)
    return A, labels, info


def _is_stable(A: np.ndarray, symmetric: bool) -> bool:
    """Every eigenvalue has a negative real part: a Cholesky factorisation of ``-A`` when
    ``A`` is symmetric (``n^3 / 3`` flops, no eigenvalues), else the eigenvalues."""
    if symmetric:
        try:
            np.linalg.cholesky(-A)
        except np.linalg.LinAlgError:
            return False
        return True
    return spectral_abscissa(A) < 0


def _synapse_mask(A: np.ndarray) -> np.ndarray:
    """The synapses of ``A``: its off-diagonal non-zero entries, as a boolean mask."""
    off = A != 0
    np.fill_diagonal(off, False)
    return off


def _off_diagonal(A: sps.csr_array) -> sps.csr_array:
    """The synapses of sparse ``A`` (its off-diagonal non-zero entries)."""
    i, j, a = synapse_list(A)
    return sps.csr_array((a, (i, j)), shape=A.shape)


def fragments(B) -> dict:
    """Connected groups of neurons of a (pruned) network, in ``O(n + m)``.

    Components of the graph of the synapses (weak connectivity for a non-symmetric
    network). With the matched diagonal every group cut loose from the rest contributes
    an eigenvalue at minus its slack, close to the slowest mode of the original network,
    so these counts belong beside the slowest-mode errors.

    Returns
    -------
    dict
        ``components`` (number of connected groups), ``isolated`` (neurons without any
        synapse), ``largest`` (neurons in the largest group).
    """
    off = _off_diagonal(sps.csr_array(B))
    count, labels = connected_components(off, directed=True, connection="weak")
    sizes = np.bincount(labels)
    return {
        "components": int(count),
        "isolated": int(np.count_nonzero(sizes == 1)),
        "largest": int(sizes.max()),
    }


def _kept_fraction(A, B) -> float:
    """Fraction of the synapses of ``A`` that ``B`` keeps."""
    if is_sparse(A):
        off = _off_diagonal(A)
        kept = off.multiply(sps.csr_array(B) != 0)
        return float(kept.count_nonzero() / off.count_nonzero())
    orig = _synapse_mask(A)
    return float(np.count_nonzero(orig & (B != 0)) / np.count_nonzero(orig))


def _check_matched_leak(source, cfg, diag) -> None:
    """The matched diagonal needs a leak on every neuron (``A[i, i] < 0``)."""
    if cfg["pruning"]["diagonal"] == "matched" and np.any(diag >= 0):
        i = int(np.argmax(diag >= 0))
        msg = (
            f"the network has A[{i}, {i}] == {float(diag[i])!r}: pruning.diagonal == "
            "'matched' needs a leak on the diagonal (every A[i, i] < 0); set neurons.leak to a "
            "number > 0."
        )
        raise _fail(source, "neurons.leak", msg)
