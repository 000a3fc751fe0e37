"""The batch size follows the data, as in ngc-learn: a circuit built for one sample takes batches of any size,
and ``batch_size`` set on the components, then a reset, resizes them."""

import numpy as np
import pytest
from ngc_optim.components import EventSTDPSynapse, RateCell
from ngcsimlib.global_state import stateManager
from test_circuit import _layer, _names, _snapshot

from ngc_optim import Context, MethodProcess


def _scan(step, components, steps=6):
    final, (losses, z) = step.scan(step.pack_rows(steps, dt=1.0))
    stateManager.set_state(final)
    return _snapshot(components), losses.tobytes(), z.tobytes()


@pytest.mark.parametrize("by_scan", [False, True])
@pytest.mark.parametrize("compiled", [False, True])
def test_a_circuit_built_for_one_sample_takes_a_batch_of_any_size(compiled, by_scan):
    """Built at batch 1 with 8 rows clamped (the museum's way), the layer computes what it computes built
    for 8, bit for bit; then a batch of 3 after a reset, as built for 3."""
    for data in (8, 3):
        step, expected_components = _layer(f"built{next(_names)}", compiled, batch=data, data=data)
        expected = _scan(step, expected_components)
        step, components = _layer(f"one{next(_names)}", compiled, batch=1, data=data)
        if by_scan:
            got = _scan(step, components)
        else:
            for _ in range(6):
                step.run(dt=1.0)
            got = (_snapshot(components),)
            expected = expected[:1]
        assert got == expected
        assert all(component.batch_size == data for component in components)


def test_a_batch_of_another_size_needs_a_reset_or_batch_size_set_then_reset():
    """Clamping 2 rows where z holds 4 different samples is refused (no row can stand for them); setting
    batch_size on the components, then running their reset (pc_reconstruction's way) resizes them, as
    built for that size."""
    step, components = _layer(f"layer{next(_names)}", True, batch=4, data=4)
    z0 = components[0]
    _scan(step, components)
    z0.j.set(np.ones((2, 6), np.float32))
    with pytest.raises(ValueError, match=r"RateCell 'z0': z holds 4 different samples; reset before clamping a "
                                         r"batch of 2"):
        step.run(dt=1.0)
    results = []
    for batch in (3, 1):
        with Context(f"by_hand{next(_names)}"):
            a, b = RateCell("a", 3, 2.0, batch_size=batch), RateCell("b", 3, 2.0, batch_size=batch)
            a.zF >> b.j
            advance = MethodProcess("advance") >> a.advance_state >> b.advance_state
            reset = MethodProcess("reset") >> a.reset >> b.reset
        a.j.set(np.arange(3 * batch, dtype=np.float32).reshape(batch, 3))
        advance.run(dt=1.0)
        if batch == 1:
            a.batch_size = b.batch_size = 3
            reset.run()
            assert a.z.get().shape == b.z.get().shape == (3, 3)
        a.j.set(np.linspace(0, 1, 9, dtype=np.float32).reshape(3, 3))
        for _ in range(3):
            advance.run(dt=1.0)
        results.append((a.z.get().tobytes(), b.z.get().tobytes()))
    assert results[0] != results[1]
    with Context(f"fresh{next(_names)}"):
        a, b = RateCell("a", 3, 2.0, batch_size=3), RateCell("b", 3, 2.0, batch_size=3)
        a.zF >> b.j
        advance = MethodProcess("advance") >> a.advance_state >> b.advance_state
    a.j.set(np.linspace(0, 1, 9, dtype=np.float32).reshape(3, 3))
    for _ in range(3):
        advance.run(dt=1.0)
    assert results[1] == (a.z.get().tobytes(), b.z.get().tobytes())


def test_batches_of_two_sizes_at_once_and_fixed_batches_are_refused():
    with Context(f"two{next(_names)}"):
        a, b = RateCell("a", 3, 1.0), RateCell("b", 3, 1.0)
        step = MethodProcess("step") >> a.advance_state >> b.advance_state
    a.j.set(np.ones((2, 3), np.float32))
    b.j.set(np.ones((5, 3), np.float32))
    with pytest.raises(ValueError, match=r"process 'step': the data holds batches of \[2, 5\] samples at once"):
        step.run(dt=1.0)
    with Context(f"fixed{next(_names)}"):
        synapse = EventSTDPSynapse("W", (3, 2), eta=0.1, lmbda=0.01)
        step = MethodProcess("step") >> synapse.advance_state
    synapse.inputs.set(np.ones((4, 3), np.float32))
    with pytest.raises(ValueError, match=r"EventSTDPSynapse 'W': cannot take batches of 4: ngc-learn's rule takes "
                                         r"one sample per step"):
        step.run()
    with pytest.raises(ValueError, match="batch_size=0 must be a positive int"):
        a.resize_batch(0)
