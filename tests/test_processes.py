"""ngc-learn's process API on ngcsimlib's processes (ngc_optim.processes): scan over packed rows equals running
the process step by step, its stored state and result, its errors, and the processes in a saved Context."""

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from ngc_optim.components import GaussianErrorCell, HebbianSynapse, RateCell
from ngcsimlib.context import Context as NgcsimlibContext
from ngcsimlib.global_state import stateManager

import ngc_optim
from ngc_optim import Context, JointProcess, MethodProcess

STEPS = 6


def build(name, watch_inside=True):
    """A learning circuit: x -> z0 -> W1 -> e1 (target y), W1 learning from e1 each step (in place)."""
    with Context(name) as context:
        z0 = RateCell("z0", 4, 0.0, batch_size=3)
        W1 = HebbianSynapse("W1", (4, 2), eta=0.1, optim_type="adam", sign_value=-1.0, w_bound=0.0,
                            batch_size=3, seed=1)
        e1 = GaussianErrorCell("e1", 2, batch_size=3)
        z0.zF >> W1.inputs
        z0.zF >> W1.pre
        W1.outputs >> e1.mu
        e1.dmu >> W1.post
        step = MethodProcess("step") >> z0.advance_state >> W1.advance_state >> e1.advance_state >> W1.evolve
        reset = MethodProcess("reset") >> z0.reset >> e1.reset
        if watch_inside:
            step.watch(e1.L, W1.weights)
    rng = np.random.default_rng(0)
    reset.run()
    z0.j.set(rng.random((3, 4)).astype(np.float32))
    e1.target.set(rng.random((3, 2)).astype(np.float32))
    return context, step, (z0, W1, e1)


def stepwise(step, cells, steps):
    """Run ``step`` ``steps`` times: e1.L and W1.weights after each, and W1.weights at the end."""
    _, W1, e1 = cells
    losses, weights = [], []
    for _ in range(steps):
        step.run(dt=1.0)
        losses.append(np.array(e1.L.get()))
        weights.append(W1.weights.get().copy())
    return np.stack(losses), np.stack(weights), W1.weights.get().copy()


@pytest.mark.parametrize("watch_inside", [True, False])
def test_scan_equals_running_the_process_step_by_step(watch_inside):
    _, step, cells = build(f"scan_{watch_inside}", watch_inside)
    if not watch_inside:
        step.watch(cells[2].L, cells[1].weights)
    loss_before = np.array(cells[2].L.get())
    final, (losses, weights) = step.scan(step.pack_rows(STEPS, dt=1.0))
    assert losses.shape == (STEPS,) and weights.shape == (STEPS, 4, 2)
    assert not np.array_equal(weights[0], weights[-1])
    np.testing.assert_array_equal(cells[2].L.get(), loss_before)
    stateManager.set_state(final)
    scanned_weights = cells[1].weights.get().copy()

    _, step, cells = build(f"steps_{watch_inside}", watch_inside)
    if not watch_inside:
        step.watch(cells[2].L, cells[1].weights)
    expected_losses, expected_weights, expected_final = stepwise(step, cells, STEPS)
    np.testing.assert_array_equal(losses, expected_losses)
    np.testing.assert_array_equal(weights, expected_weights)
    np.testing.assert_array_equal(scanned_weights, expected_final)
    np.testing.assert_array_equal(weights[-1], expected_final)


def test_scan_keeps_or_forgets_its_last_state_and_result():
    _, step, _ = build("stored")
    state, result = step.scan(step.pack_rows(2, dt=1.0))
    assert step.previous_state is state and step.previous_result is result
    step.clear()
    assert step.previous_state is None and step.previous_result is None
    step.scan(step.pack_rows(2, dt=1.0), store_state=False, store_results=False)
    assert step.previous_state is None and step.previous_result is None


def test_scan_starts_from_the_state_given_and_takes_rows_as_an_array():
    with Context("started"):
        z = RateCell("z", 3, tau_m=10.0)
        advance = MethodProcess("advance") >> z.advance_state
        advance.watch(z.z)
    z.j.set(np.ones((1, 3), np.float32))
    state, (first,) = advance.scan(advance.pack_rows(2, dt=1.0))
    _, (from_state,) = advance.scan(np.ones((2, 1)), current_state=state)
    np.testing.assert_allclose(first[:, 0, 0], [0.1, 0.2], rtol=1e-6)
    np.testing.assert_allclose(from_state[:, 0, 0], [0.3, 0.4], rtol=1e-6)
    _, (again,) = advance.scan([[1.0], [1.0]])
    np.testing.assert_array_equal(again, first)


def test_scan_without_watched_compartments_returns_no_values():
    with Context("unwatched") as context:
        z = RateCell("z", 3, tau_m=10.0)
        advance = MethodProcess("advance") >> z.advance_state
    z.j.set(np.ones((1, 3), np.float32))
    final, result = advance.scan(advance.pack_rows(4, dt=1.0))
    assert result is None
    np.testing.assert_allclose(final[z.z.target], np.full((1, 3), 0.4, np.float32), rtol=1e-6)
    assert isinstance(context, NgcsimlibContext)


def test_a_joint_process_scans_too():
    with Context("joint"):
        z = RateCell("z", 3, tau_m=10.0)
        first = MethodProcess("first") >> z.advance_state
        second = MethodProcess("second") >> z.advance_state
        both = JointProcess("both") >> first >> second
        both.watch(z.z)
    z.j.set(np.ones((1, 3), np.float32))
    _, (values,) = both.scan(both.pack_rows(3, dt=1.0))
    np.testing.assert_allclose(values[:, 0, 0], [0.2, 0.4, 0.6], rtol=1e-5)


def test_bad_scans_are_errors_naming_the_process():
    with Context("bad"):
        z = RateCell("z", 3, tau_m=10.0)
        advance = MethodProcess("advance") >> z.advance_state
        with pytest.raises(RuntimeError, match="process 'advance' is not compiled"):
            advance.scan([[1.0]])
    with pytest.raises(ValueError, match="process 'advance': scan needs at least one row"):
        advance.scan([])
    with pytest.raises(ValueError, match=r"process 'advance': row 1 has 2 keywords; the process takes 1 \(dt\)"):
        advance.scan([[1.0], [1.0, 2.0]])


def test_the_library_exports_the_processes_and_the_context():
    assert ngc_optim.Context is NgcsimlibContext
    assert ngc_optim.MethodProcess is MethodProcess and ngc_optim.JointProcess is JointProcess


def test_a_saved_context_loads_with_its_processes_and_scans(tmp_path):
    context, step, _ = build("saved")
    context.save_to_json(str(tmp_path), overwrite=True)
    _, (losses, _) = step.scan(step.pack_rows(3, dt=1.0))
    code = textwrap.dedent(f"""
        import json
        import ngc_optim
        from ngcsimlib.context import Context
        from ngcsimlib.global_state import stateManager
        context = Context.load({str(tmp_path)!r}, "saved")
        step = context.get_objects("step", objectType="process")
        _, (losses, _) = step.scan(step.pack_rows(3, dt=1.0))
        print(json.dumps([type(step).__module__, type(step).__name__, losses.tolist()]))
    """)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=300)
    assert result.returncode == 0, result.stderr
    module, name, loaded_losses = json.loads(result.stdout.splitlines()[-1])
    assert (module, name) == ("ngc_optim.processes", "MethodProcess")
    np.testing.assert_array_equal(np.array(loaded_losses, np.float32), losses)
