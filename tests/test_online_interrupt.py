"""An interrupted or failed epoch of plasticsim.online leaves the network as it found it.

Brian2 turns a first Ctrl-C during ``Network.run`` into "stop this run" and returns
normally (BRIAN2_NOTES.md, "Signals"); ``sleep`` and ``wake`` must raise
``KeyboardInterrupt`` instead, apply nothing and restore the network. These tests send
real signals (``os.kill``) to a child Python process at chosen moments of an epoch. The
moments are made exact without relying on timing: the epoch's ``report`` callback prints
a marker and then waits until the parent has sent the signal (the parent creates a file
after ``os.kill`` returns, so the signal is pending before the wait ends), so the signal
is received while Brian2 is running the phase under test, however loaded the machine.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from brian2 import Network, ms, second

from plasticsim.networks import clustered
from plasticsim.online import LABILE, RateNetwork, _rollback

TAU = 10 * ms
DT = 0.5 * ms

pytestmark = pytest.mark.skipif(
    not hasattr(signal, "SIGINT") or sys.platform == "win32",
    reason="POSIX signals (os.kill with SIGINT to a child process)",
)


pytestmark = [pytestmark, pytest.mark.usefixtures("brian_prefs")]


# The child: two identical networks (same rng): `net` is interrupted, `twin` never is.
# Both first sleep once (so that there are STABLE synapses and relabile draws matter);
# OU noise and a bias (so eta and the centring sums are part of the state). After the
# interruption the child compares everything with a copy taken before the call, then
# repeats the call on `net` and the same call on `twin`: an epoch that left nothing
# behind makes the two bit-identical.
CHILD = textwrap.dedent(
    r"""
    import json, os, signal, sys, time
    import numpy as np
    from brian2 import ms, prefs, second
    prefs.codegen.target = "numpy"
    prefs.logging.file_log = False
    prefs.logging.save_script = False
    from plasticsim.networks import clustered
    from plasticsim.online import RateNetwork
    from plasticsim.online import _rollback

    A = clustered([4, 4], p_in=0.8, p_out=0.25, n_strong=0, w_in=0.4, w_out=0.4, rng=3)
    workdir = sys.argv[2]


    def build():
        net = RateNetwork.from_matrix(
            A, tau=10 * ms, dt=0.5 * ms, noise_tau=5 * ms, bias=0.5, target="numpy", rng=4
        )
        net.sleep(0.2 * second, density=0.6)
        return net


    def state(nw):
        s = nw.synapse_states()
        G = nw.neurons.variables
        return {
            "pre": s.pre, "post": s.post, "weight": s.weight, "state": s.state,
            "trace": nw.synapses.variables["trace"].get_value().copy(),
            "leak": nw.leak, "x": nw.state, "eta": G["eta"].get_value().copy(),
            "rsum": G["rsum"].get_value().copy(), "I_ext": G["I_ext"].get_value().copy(),
            "t": np.array(float(nw.t)),
            "gen": np.array(str(nw._gen.bit_generator.state)),
            "np_random": np.random.get_state()[1].copy(),
            "reports": np.array(len(nw.reports)),
            "objects": np.array(sorted(o.name for o in nw.network.objects)),
        }


    def wait_for(name):
        # The parent creates the file after os.kill has returned: the signal is pending
        # (or handled) before this returns.
        path = os.path.join(workdir, name)
        t0 = time.monotonic()
        while not os.path.exists(path):
            if time.monotonic() - t0 > 120:
                print("TIMEOUT", flush=True)
                os._exit(3)
            time.sleep(0.005)


    def run(phase):
        net, twin = build(), build()
        waits = []

        def hook(lo, hi):
            def report(elapsed, completed, start, duration):
                if not waits and lo < completed < hi:
                    waits.append(1)
                    print("ready1", phase, flush=True)
                    wait_for("sent1-" + phase)
                    if phase == "twice":  # a second Ctrl-C while Brian2 still runs
                        print("ready2", phase, flush=True)
                        wait_for("sent2-" + phase)
            return report

        original = _rollback._Record.restore
        if phase.startswith("cleanup"):  # a second signal once the restore has begun
            extra = signal.SIGINT if phase == "cleanup-int" else signal.SIGTERM
            sent = []

            def restore(self, nw):
                if not sent:
                    sent.append(1)
                    os.kill(os.getpid(), extra)
                    time.sleep(0.05)  # (a handler runs at the next instruction anyway)
                return original(self, nw)

            _rollback._Record.restore = restore

        # burn-in 0.3 s of 0.5 s: epoch fractions (0, 0.6) burn-in, (0.6, 1) measurement
        if phase == "wake":
            u = np.random.default_rng(0).normal(size=(1000, 8))
            call = lambda nw, **kw: nw.wake(0.5 * second, inputs=u, **kw)
            lo, hi = 0.05, 0.9
        else:
            call = lambda nw, **kw: nw.sleep(
                0.5 * second, burn_in=0.3 * second, density=0.5, relabile=0.5, **kw
            )
            lo, hi = (0.05, 0.55) if phase == "burn-in" else (0.65, 0.95)
        before = state(net)
        raised, message = None, ""
        try:
            call(net, report=hook(lo, hi), report_period=1 * ms)
        except BaseException as exc:
            raised, message = type(exc).__name__, str(exc)
        _rollback._Record.restore = original
        after = state(net)
        same = {k: bool(np.array_equal(before[k], after[k])) for k in before}
        try:  # a Ctrl-C now, outside any run, is an ordinary KeyboardInterrupt again
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(1.0)
            later = False
        except KeyboardInterrupt:
            later = True
        a, b = call(net), call(twin)
        if phase == "wake":
            replay = bool(np.array_equal(a.rates, b.rates))
        else:
            replay = bool(np.array_equal(a.scores, b.scores) and a.seed == b.seed)
        replay = replay and bool(np.array_equal(net.matrix, twin.matrix))
        return {"raised": raised, "message": message, "same": same, "replay": replay,
                "later": later}


    def terminate(signum, frame):  # a SIGTERM handler that ends the program, as a CLI's may
        raise SystemExit("terminated")


    signal.signal(signal.SIGTERM, terminate)
    for phase in sys.argv[1].split(","):
        # "nostop": the user turned Brian2's stop-on-Ctrl-C off (Ctrl-C raises in the run)
        prefs.core.stop_on_keyboard_interrupt = phase != "nostop"
        print("RESULT", phase, json.dumps(run(phase)), flush=True)
    """
)


def run_child(phases, tmp_path):
    """Run the child on ``phases``, send SIGINT at its markers; return its RESULTs."""
    results = {}
    stderr = tmp_path / "stderr.txt"
    with (
        stderr.open("w") as err,
        subprocess.Popen(
            [sys.executable, "-c", CHILD, ",".join(phases), str(tmp_path)],
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
        ) as proc,
    ):
        try:
            for line in proc.stdout:
                word, _, rest = line.strip().partition(" ")
                if word in ("ready1", "ready2"):
                    proc.send_signal(signal.SIGINT)
                    (tmp_path / f"sent{word[-1]}-{rest}").touch()
                elif word == "RESULT":
                    phase, _, payload = rest.partition(" ")
                    results[phase] = json.loads(payload)
            proc.wait(timeout=300)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert proc.returncode == 0 and list(results) == list(phases), stderr.read_text()[-3000:]
    return results


#: Every phase of the two tests below, in one child process (the import of Brian2 is its
#: costly part): each phase builds its own networks, and a cleanup phase puts the patched
#: restore back after its call.
CTRL_C_PHASES = ["burn-in", "measurement", "wake", "twice", "nostop"]
CLEANUP_PHASES = ["cleanup-int", "cleanup-term"]


@pytest.fixture(scope="module")
def interrupted(tmp_path_factory):
    """The child's RESULT of every phase (CTRL_C_PHASES, then CLEANUP_PHASES)."""
    return run_child(CTRL_C_PHASES + CLEANUP_PHASES, tmp_path_factory.mktemp("interrupt"))


def test_ctrl_c_raises_and_restores_the_network(interrupted):
    """Ctrl-C during burn-in, measurement or wake; twice (the second press raises inside
    Brian2's run); and with Brian2's stop_on_keyboard_interrupt turned off by the user."""
    for phase in CTRL_C_PHASES:
        res = interrupted[phase]
        assert res["raised"] == "KeyboardInterrupt", (phase, res)
        if phase not in ("twice", "nostop"):  # Brian2 stopped the run: our message
            assert "interrupted at t =" in res["message"], (phase, res)
        # Synapse table, traces, leaks, x, eta, sums, inputs, time, both generators, the
        # report list and the Brian2 objects are all as before the call.
        assert all(res["same"].values()), (phase, res["same"])
        # ... so repeating the call does what the uninterrupted call does, bit for bit.
        assert res["replay"], (phase, res)
        # And the next Ctrl-C (outside any run) raises as usual.
        assert res["later"], (phase, res)


def test_a_signal_during_the_restore_waits_until_it_is_done(interrupted):
    """Ctrl-C during the measurement, then a second Ctrl-C (or a SIGTERM whose handler
    raises SystemExit) once the restore has begun: the restore completes first, then the
    second signal's handler runs (its exception propagates; nothing is swallowed)."""
    for phase, raised in zip(CLEANUP_PHASES, ["KeyboardInterrupt", "SystemExit"], strict=True):
        res = interrupted[phase]
        assert res["raised"] == raised, (phase, res)
        assert all(res["same"].values()), (phase, res["same"])
        assert res["replay"], (phase, res)


# ------------------------------------------------------------------ errors, in process


def small_net(rng=4):
    A = clustered([4, 4], p_in=0.8, p_out=0.25, n_strong=0, w_in=0.4, w_out=0.4, rng=3)
    return RateNetwork.from_matrix(A, tau=TAU, dt=DT, bias=0.5, target="numpy", rng=rng)


def snapshot(net):
    s = net.synapse_states()
    return (
        s.pre,
        s.post,
        s.weight,
        s.state,
        net.leak,
        net.state,
        float(net.t),
        str(net._gen.bit_generator.state),
        len(net.reports),
        sorted(o.name for o in net.network.objects),
        net.synapses,
    )


def assert_same(a, b):
    assert len(a) == len(b)
    for x, y in zip(a, b, strict=True):
        if isinstance(x, np.ndarray):
            np.testing.assert_array_equal(x, y)
        else:
            assert x == y or x is y


class Boom(Exception):
    pass


def test_error_in_a_report_callback_restores_the_network():
    net, twin = small_net(), small_net()
    before = snapshot(net)

    def report(elapsed, completed, start, duration):
        if 0.7 < completed < 0.95:  # inside the measurement's run, trace runners added
            raise Boom

    with pytest.raises(Boom):
        net.sleep(
            0.3 * second, burn_in=0.1 * second, density=0.5, report=report, report_period=1 * ms
        )
    assert_same(snapshot(net), before)
    # The exception left Network.run without Brian2's reset of its "a run is active" flag;
    # set, it would turn the next Ctrl-C outside any run into a silent stop request.
    assert not Network._globally_running
    # The next epoch is the one the failed call would have been.
    a = net.sleep(0.3 * second, burn_in=0.1 * second, density=0.5)
    b = twin.sleep(0.3 * second, burn_in=0.1 * second, density=0.5)
    np.testing.assert_array_equal(a.scores, b.scores)
    np.testing.assert_array_equal(net.matrix, twin.matrix)


def test_error_after_the_compaction_restores_the_synapses(monkeypatch):
    """An error once the decisions are written and the Synapses rebuilt: the old Synapses
    (with its LABILE states and weights) is back in the network and runs again."""
    net, twin = small_net(), small_net()
    before = snapshot(net)
    compact = RateNetwork._compact

    def compact_then_fail(self):
        compact(self)
        assert self.synapses is not before[-1]  # rebuilt
        raise Boom

    monkeypatch.setattr(RateNetwork, "_compact", compact_then_fail)
    with pytest.raises(Boom):
        net.sleep(0.2 * second, density=0.3)
    monkeypatch.undo()
    assert_same(snapshot(net), before)
    assert np.all(net.synapse_states().state == LABILE)
    a = net.sleep(0.2 * second, density=0.3)
    b = twin.sleep(0.2 * second, density=0.3)
    np.testing.assert_array_equal(a.kept, b.kept)
    np.testing.assert_array_equal(net.matrix, twin.matrix)
    assert net.n_synapses == twin.n_synapses < a.pre.size


def test_a_run_stopped_early_is_an_error_not_a_short_measurement():
    """Network.stop() (not a Ctrl-C) ends the run early: RuntimeError, nothing kept."""
    net = small_net()
    before = snapshot(net)

    def report(elapsed, completed, start, duration):
        if 0.3 < completed < 0.9:
            net.network.stop()

    with pytest.raises(RuntimeError, match="stopped early"):
        net.sleep(
            0.3 * second, burn_in=0.1 * second, density=0.5, report=report, report_period=1 * ms
        )
    assert_same(snapshot(net), before)
    with pytest.raises(RuntimeError, match="stopped early"):
        net.wake(0.2 * second, report=report, report_period=1 * ms)
    assert_same(snapshot(net), before)


def test_check_completed_treats_a_requested_stop_as_keyboard_interrupt(monkeypatch):
    """brian2's global stop flag (set by its SIGINT handler) is a KeyboardInterrupt even
    when the run reached its end (a Ctrl-C during the last step is not swallowed)."""
    net = small_net()
    monkeypatch.setattr(Network, "_globally_stopped", True)
    with pytest.raises(KeyboardInterrupt, match="interrupted at t ="):
        _rollback.check_completed(net.network, float(net.t), float(DT), "sleep")
    monkeypatch.setattr(Network, "_globally_stopped", False)
    _rollback.check_completed(net.network, float(net.t), float(DT), "sleep")  # fine
