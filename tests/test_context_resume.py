"""A two-layer model in an ngcsimlib Context: save_to_json, Context.load in a fresh process, and
training continues bit for bit, weights and optimizer state, as if it had never stopped."""

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
from ngc_optim.components import GaussianErrorCell, HebbianSynapse, RateCell
from ngcsimlib import MethodProcess
from ngcsimlib.context import Context

from ngc_optim.checkpoint import load_checkpoint

STEPS, SPLIT = 6, 3


def data(step):
    rng = np.random.default_rng(100 + step)
    return rng.random((2, 4)).astype(np.float32), rng.random((2, 2)).astype(np.float32)


def build(name):
    """x -> z0 -> W1 -> z1 -> W2 -> e2 (target y); W1 learns from e1 (target: a fixed pattern), W2 from e2."""
    with Context(name) as context:
        z0 = RateCell("z0", 4, 0.0, batch_size=2)
        W1 = HebbianSynapse("W1", (4, 3), eta=0.05, optim_type="adam", sign_value=-1.0, w_bound=0.0,
                            bias_init={"dist": "constant", "value": 0.0}, batch_size=2, seed=1)
        e1 = GaussianErrorCell("e1", 3, batch_size=2)
        z1 = RateCell("z1", 3, 0.0, act_fx="tanh", batch_size=2)
        W2 = HebbianSynapse("W2", (3, 2), eta=0.05, optim_type="nag", sign_value=-1.0, w_bound=0.0,
                            batch_size=2, seed=2)
        e2 = GaussianErrorCell("e2", 2, batch_size=2)
        z0.zF >> W1.inputs
        z0.zF >> W1.pre
        W1.outputs >> e1.mu
        e1.dmu >> W1.post
        W1.outputs >> z1.j
        z1.zF >> W2.inputs
        z1.zF >> W2.pre
        W2.outputs >> e2.mu
        e2.dmu >> W2.post
        (MethodProcess("step") >> z0.advance_state >> W1.advance_state >> e1.advance_state >> z1.advance_state
         >> W2.advance_state >> e2.advance_state >> W1.evolve >> W2.evolve)
    return context


def train(context, steps):
    z0, e1, e2 = context.get_components("z0", "e1", "e2")
    step = context.get_objects_by_type("process")["step"]
    for t in steps:
        x, y = data(t)
        z0.j.set(x)
        e1.target.set(np.full((2, 3), 0.5, np.float32))
        e2.target.set(y)
        step.run(dt=1.0)


RESUME = textwrap.dedent("""
    import sys
    sys.path.insert(0, {tests!r})
    from ngcsimlib.context import Context
    from test_context_resume import SPLIT, STEPS, train
    context = Context.load({directory!r}, {name!r})
    train(context, range(SPLIT, STEPS))
    for synapse in context.get_components("W1", "W2"):
        synapse.save({directory!r})
""")


def test_training_resumes_bit_for_bit_after_save_to_json_and_load(tmp_path):
    straight = build("resume_straight")
    train(straight, range(STEPS))
    first = build("resume_first")
    train(first, range(SPLIT))
    first.save_to_json(str(tmp_path), overwrite=True)
    script = RESUME.format(tests=str(Path(__file__).parent), directory=str(tmp_path), name="resume_first")
    completed = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=False)
    assert completed.returncode == 0, completed.stderr[-3000:]
    for name in ("W1", "W2"):
        resumed = load_checkpoint(tmp_path / f"{name}.h5")
        synapse = straight.get_components(name)
        np.testing.assert_array_equal(resumed.params[name]["weights"], synapse.weights.get())
        _, state = resumed.optimizers[name]
        assert state.count == synapse.opt_state.count == STEPS
        for slot in state.slot_names:
            np.testing.assert_array_equal(state.slot(slot)["weights"], synapse.opt_state.slot(slot)["weights"])
    first_weights = first.get_components("W1").weights.get()
    assert not np.array_equal(first_weights, straight.get_components("W1").weights.get())
