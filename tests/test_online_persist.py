"""RateNetwork.save / RateNetwork.load: one .npz, no pickle, bit-identical continuation."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from brian2 import ms, second

from plasticsim.networks import clustered
from plasticsim.online import STABLE, RateNetwork, _persist

TAU = 10 * ms
DT = 0.5 * ms


# Brian2's numpy target, no log files, no saved scripts (tests/conftest.py)
pytestmark = pytest.mark.usefixtures("brian_prefs")


def _A():
    return clustered([5, 5], p_in=0.8, p_out=0.2, n_strong=0, w_in=0.3, w_out=0.3, rng=3)


def _continue(net):
    """The same calls on both copies: a wake with input, a deciding sleep, a wake."""
    rec = net.wake(10 * DT, inputs=np.linspace(-1, 1, net.n))
    rep = net.sleep(0.15 * second, density=0.5, relabile=0.5)
    rec2 = net.wake(10 * DT)
    return rec, rep, rec2


def _assert_same(a, b):
    for x, y in zip(a.synapse_states(), b.synapse_states(), strict=True):
        np.testing.assert_array_equal(x, y)
    np.testing.assert_array_equal(a.leak, b.leak)
    np.testing.assert_array_equal(a.bias, b.bias)
    np.testing.assert_array_equal(a.state, b.state)
    assert float(a.t) == float(b.t)


@pytest.mark.parametrize(
    "kw",
    [
        {},
        {"noise_tau": 2 * ms, "nonlinearity": "relu", "bias": 0.3, "trace_dt": 1 * ms},
    ],
    ids=["white-linear", "ou-relu-bias"],
)
def test_loaded_network_continues_bit_for_bit(tmp_path, kw):
    net = RateNetwork.from_matrix(_A(), tau=TAU, dt=DT, target="numpy", rng=7, **kw)
    first = net.sleep(0.2 * second, density=0.5, compact=False)  # PRUNED ones kept
    assert first.counts_after["PRUNED"] > 0 and first.counts_after["STABLE"] > 0
    path = tmp_path / "net.npz"
    net.save(path)
    assert sorted(os.listdir(tmp_path)) == ["net.npz"]  # no temporary file left
    back = RateNetwork.load(path)
    _assert_same(back, net)
    assert (back.seed, back.target, back.dt, back.trace_dt, back.tau) == (
        net.seed,
        net.target,
        net.dt,
        net.trace_dt,
        net.tau,
    )
    assert (back.noise_tau, back.sigma, back.nonlinearity, back.centered) == (
        net.noise_tau,
        net.sigma,
        net.nonlinearity,
        net.centered,
    )
    if "noise_tau" in kw:
        np.testing.assert_array_equal(
            back.neurons.variables["eta"].get_value(), net.neurons.variables["eta"].get_value()
        )
    ra, rb = _continue(net), _continue(back)
    for a, b in zip(ra, rb, strict=True):
        assert a.seed == b.seed
    np.testing.assert_array_equal(ra[0].rates, rb[0].rates)
    np.testing.assert_array_equal(ra[2].rates, rb[2].rates)
    np.testing.assert_array_equal(ra[1].scores, rb[1].scores)
    np.testing.assert_array_equal(ra[1].kept, rb[1].kept)
    assert ra[1].burn_in == rb[1].burn_in and ra[1].decided
    _assert_same(back, net)


def test_load_with_explicit_target_and_a_second_save(tmp_path):
    net = RateNetwork.from_matrix(_A(), tau=TAU, dt=DT, target="numpy", rng=2)
    net.sleep(0.2 * second, k=200.0)
    net.save(tmp_path / "a.npz")
    back = RateNetwork.load(str(tmp_path / "a.npz"), target="numpy")
    assert back.target == "numpy"
    back.save(tmp_path / "b.npz")  # overwrite-free second generation
    again = RateNetwork.load(tmp_path / "b.npz")
    _assert_same(again, net)
    assert np.any(again.synapse_states().state == STABLE)


def test_save_is_atomic(tmp_path, monkeypatch):
    net = RateNetwork.from_matrix(_A(), tau=TAU, dt=DT, target="numpy", rng=2)
    path = tmp_path / "net.npz"
    path.write_bytes(b"previous")

    def boom(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "savez", boom)
    with pytest.raises(KeyboardInterrupt):
        net.save(path)
    assert path.read_bytes() == b"previous"
    assert sorted(os.listdir(tmp_path)) == ["net.npz"]


def _saved(tmp_path):
    net = RateNetwork.from_matrix(_A(), tau=TAU, dt=DT, target="numpy", rng=2)
    path = tmp_path / "net.npz"
    net.save(path)
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def _rewrite(tmp_path, arrays, **meta_changes):
    meta = json.loads(str(arrays["metadata"][()]))
    for key, value in meta_changes.items():
        if value is None:
            meta.pop(key)
        else:
            meta[key] = value
    arrays = {**arrays, "metadata": np.array(json.dumps(meta))}
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    return path


def test_load_rejects_bad_and_foreign_files(tmp_path):
    good = _saved(tmp_path)
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    with pytest.raises(ValueError, match=r"notes.txt is not a network .* cannot be read as"):
        RateNetwork.load(text)
    npy = tmp_path / "x.npy"
    np.save(npy, np.zeros(3))
    with pytest.raises(ValueError, match="single .npy array"):
        RateNetwork.load(npy)
    results = tmp_path / "arrays.npz"
    np.savez_compressed(results, matrix_original=np.eye(2), matrix_noise=np.eye(2))
    with pytest.raises(ValueError, match="arrays.npz of a plasticsim result"):
        RateNetwork.load(results)
    other = tmp_path / "other.npz"
    np.savez(other, a=np.zeros(2))
    with pytest.raises(ValueError, match=r"no 'metadata' entry \(entries: \['a'\]\)"):
        RateNetwork.load(other)
    with pytest.raises(ValueError, match="format version is 99; this plasticsim reads version 1"):
        RateNetwork.load(_rewrite(tmp_path, good, version=99))
    with pytest.raises(ValueError, match="metadata format is 'something'"):
        RateNetwork.load(_rewrite(tmp_path, good, format="something"))
    with pytest.raises(ValueError, match=r"metadata entries \['generator'\] are missing"):
        RateNetwork.load(_rewrite(tmp_path, good, generator=None))
    missing = {k: v for k, v in good.items() if k != "leak"}
    np.savez(tmp_path / "m.npz", **missing)
    with pytest.raises(ValueError, match=r"entries \['leak'\] are missing"):
        RateNetwork.load(tmp_path / "m.npz")
    short = {**good, "w": good["w"][:-1]}
    np.savez(tmp_path / "s.npz", **short)
    with pytest.raises(ValueError, match="w has shape"):
        RateNetwork.load(tmp_path / "s.npz")
    junk = {**good, "metadata": np.array("{not json")}
    np.savez(tmp_path / "j.npz", **junk)
    with pytest.raises(ValueError, match="metadata is not valid JSON"):
        RateNetwork.load(tmp_path / "j.npz")
    pickled = tmp_path / "p.npz"
    np.savez(pickled, metadata=np.array([{"a": 1}], dtype=object))
    with pytest.raises(ValueError, match="not a network"):
        RateNetwork.load(pickled)
    with pytest.raises(FileNotFoundError):
        RateNetwork.load(tmp_path / "absent.npz")
    with pytest.raises(ValueError, match="target == 'cpp'"):
        RateNetwork.load(tmp_path / "net.npz", target="cpp")
    with pytest.raises(TypeError, match="path must be a str or os.PathLike"):
        RateNetwork.load(3)
    assert _persist.VERSION == 1
