"""ngc-learn's value semantics: a value read with ``.get()`` never changes afterwards, through ngcsimlib's
per-call path and through compiled circuits; ``in_place=True`` opts out."""

import itertools

import numpy as np
import pytest
from ngc_optim.components import HebbianSynapse, TraceSTDPSynapse
from ngcsimlib.global_state import stateManager
from test_circuit import FAMILIES, _family, _feed

from ngc_optim import Context, MethodProcess
from ngc_optim.buffers import Spares

_contexts = itertools.count()


def _held(components):
    """(the compartment's array as read, a copy) of every array-valued compartment, and of every array and the
    count of every optimizer state."""
    held = {}
    for component in components:
        for name, compartment in component.compartments:
            value = compartment.get()
            if isinstance(value, np.ndarray):
                held[(component.name, name)] = (value, value.copy())
            elif hasattr(value, "state_dict"):
                state = value.state_dict()
                held[(component.name, name, "count")] = (value, np.array(state.pop("count")))
                for slot, arrays in state.items():
                    for key, array in arrays.items():
                        held[(component.name, name, slot, key)] = (array, array.copy())
    return held


def _unchanged(value, copy):
    if hasattr(value, "state_dict"):
        return value.count == int(copy)
    return np.array_equal(value, copy, equal_nan=True)


@pytest.mark.parametrize("by_scan", [False, True])
@pytest.mark.parametrize("compiled", [False, True])
@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_values_read_before_steps_never_change(family, compiled, by_scan):
    components, step, reset = _family(family, "float32", compiled)
    _feed(components, np.random.default_rng(3), "float32")
    for row in range(3):
        step.run(t=row * 0.5, dt=0.5)
    held = _held(components)
    before = {key: value.copy() for key, (value, _) in held.items() if isinstance(value, np.ndarray)}
    if by_scan:
        final, _ = step.scan(step.pack_rows(3, t=lambda i: i * 0.5, dt=0.5))
        stateManager.set_state(final)
    else:
        for row in range(3):
            step.run(t=row * 0.5, dt=0.5)
    changed = [key for key, (value, copy) in held.items() if not _unchanged(value, copy)]
    assert changed == []
    moved = [key for key in before if len(key) == 2
             and not np.array_equal(getattr(components[[c.name for c in components].index(key[0])], key[1]).get(),
                                    before[key], equal_nan=True)]
    if family in ("hebbian", "stdp", "conv"):
        assert any(key[1] == "weights" for key in moved), "the weights did not learn: the test would pass anyway"
    reset.run()
    assert [key for key, (value, copy) in held.items() if not _unchanged(value, copy)] == []
    if family in ("hebbian", "stdp", "conv"):
        states = [component.opt_params.get() for component in components if hasattr(component, "opt_params")]
        assert states and all(state.count == 6 for state in states)


def _learning(compiled, in_place=False, cls=HebbianSynapse):
    with Context(f"values{compiled}{in_place}{cls.__name__}"):
        if cls is HebbianSynapse:
            synapse = HebbianSynapse("W", (5, 4), eta=0.1, optim_type="adam", batch_size=2, in_place=in_place,
                                     bias_init={"dist": "constant", "value": 0.0}, seed=1)
        else:
            synapse = TraceSTDPSynapse("W", (5, 4), A_plus=0.5, A_minus=0.2, eta=0.1, in_place=in_place, seed=1,
                                       weight_init={"dist": "uniform", "amin": 0.1, "amax": 0.9})
        evolve = MethodProcess("evolve") >> synapse.evolve
    evolve.compiled_circuit, evolve.compile_after = compiled, 0
    rng = np.random.default_rng(0)
    for name in ("pre", "post") if cls is HebbianSynapse else ("preSpike", "postSpike", "preTrace", "postTrace"):
        compartment = getattr(synapse, name)
        compartment.set(rng.random(compartment.get().shape).astype(np.float32))
    return synapse, evolve


@pytest.mark.parametrize("cls", [HebbianSynapse, TraceSTDPSynapse])
@pytest.mark.parametrize("compiled", [False, True])
def test_the_ngclearn_idiom_measures_the_change(compiled, cls):
    """W_old = W.weights.get(); evolve; W.weights.get() - W_old is the step's change (ngc-learn's code reads
    it so), not 0; with in_place=True the old value is the new one."""
    synapse, evolve = _learning(compiled, cls=cls)
    evolve.run(dt=1.0)
    old = synapse.weights.get()
    kept = old.copy()
    evolve.run(dt=1.0)
    change = synapse.weights.get() - old
    np.testing.assert_array_equal(old, kept)
    assert np.abs(change).max() > 1e-3
    synapse, evolve = _learning(compiled, in_place=True, cls=cls)
    evolve.run(dt=1.0)
    old = synapse.weights.get()
    evolve.run(dt=1.0)
    assert synapse.weights.get() is old


@pytest.mark.parametrize("compiled", [False, True])
def test_a_loop_that_holds_nothing_reuses_two_buffers(compiled):
    """While nothing holds the replaced weights, evolve alternates between two arrays; one held is never
    written again."""
    synapse, evolve = _learning(compiled)
    addresses = set()
    for _ in range(6):
        evolve.run(dt=1.0)
        addresses.add(synapse.weights.get().ctypes.data)
    assert len(addresses) == 2
    held = synapse.weights.get()
    kept = held.copy()
    for _ in range(4):
        evolve.run(dt=1.0)
        assert synapse.weights.get() is not held
    np.testing.assert_array_equal(held, kept)


def test_spares_give_back_only_what_nothing_holds():
    spares = Spares()
    like = np.zeros((3, 2), np.float32)
    old = np.ones((3, 2), np.float32)
    address = old.ctypes.data
    spares.put("w", old)
    del old
    assert spares.take("w", like).ctypes.data == address
    old = np.ones((3, 2), np.float32)
    view = old[1:]
    spares.put("w", old)
    del old
    assert spares.take("w", like).base is None and view.base is not None
    spares.put("w", np.ones((2, 2), np.float32))
    assert spares.take("w", like).shape == (3, 2)
    spares.put("w", np.ones((3, 2), np.float64))
    assert spares.take("w", like).dtype == np.float32


@pytest.mark.parametrize("cls", [HebbianSynapse, TraceSTDPSynapse])
@pytest.mark.parametrize("compiled", [False, True])
def test_in_place_refuses_weights_it_cannot_update(compiled, cls):
    """An in_place synapse given weights it cannot write through (not C-contiguous, read-only) names itself;
    without in_place such weights are read and the new ones written elsewhere."""
    for in_place in (True, False):
        synapse, evolve = _learning(compiled, in_place=in_place, cls=cls)
        for weights in (np.asfortranarray(synapse.weights.get()), synapse.weights.get().copy()):
            weights.flags.writeable = weights.flags.c_contiguous is False
            synapse.weights.set(weights)
            if in_place:
                with pytest.raises(ValueError, match=rf"{cls.__name__} 'W': weights must be a writable C-contiguous"):
                    evolve.run(dt=1.0)
            else:
                evolve.run(dt=1.0)
                assert synapse.weights.get() is not weights and synapse.weights.get().flags.c_contiguous


def test_load_restores_into_new_arrays(tmp_path):
    """A component's load leaves values read before it as they were, weights and optimizer state alike."""
    synapse, evolve = _learning(False)
    evolve.run(dt=1.0)
    synapse.save(tmp_path)
    saved_weights, saved_state = synapse.weights.get().copy(), synapse.opt_params.get()
    saved_slots = {slot: {name: array.copy() for name, array in saved_state.slot(slot).items()}
                   for slot in saved_state.slot_names}
    evolve.run(dt=1.0)
    old_weights, old_state = synapse.weights.get(), synapse.opt_params.get()
    kept_weights, kept_count = old_weights.copy(), old_state.count
    kept_slots = {slot: {name: array.copy() for name, array in old_state.slot(slot).items()}
                  for slot in old_state.slot_names}
    synapse.load(tmp_path)
    np.testing.assert_array_equal(old_weights, kept_weights)
    assert old_state.count == kept_count == saved_state.count + 1
    for slot, arrays in kept_slots.items():
        for name, array in arrays.items():
            np.testing.assert_array_equal(old_state.slot(slot)[name], array)
            np.testing.assert_array_equal(synapse.opt_params.get().slot(slot)[name], saved_slots[slot][name])
    np.testing.assert_array_equal(synapse.weights.get(), saved_weights)
    assert synapse.opt_params.get().count == saved_state.count
    assert not np.array_equal(saved_weights, kept_weights)


def test_in_place_must_be_a_bool():
    with Context("bad_in_place"), pytest.raises(ValueError, match="in_place"):
        HebbianSynapse("W", (2, 2), in_place=1)


def _sparse_stdp(compiled):
    """A batch-1 SGD trace-STDP synapse (its event-driven step applies) and its evolve process."""
    with Context(f"sparse{compiled}{next(_contexts)}"):
        synapse = TraceSTDPSynapse("W", (40, 30), A_plus=0.5, A_minus=0.2, eta=0.1, seed=2,
                                   weight_init={"dist": "uniform", "amin": 0.1, "amax": 0.9})
        evolve = MethodProcess("evolve") >> synapse.evolve
    evolve.compiled_circuit, evolve.compile_after = compiled, 0
    return synapse, evolve


def _spikes(rng, synapse):
    for name, size in (("preSpike", 40), ("postSpike", 30)):
        spikes = np.zeros((1, size), np.float32)
        spikes[0, rng.choice(size, 2, replace=False)] = 1.0
        getattr(synapse, name).set(spikes)
    for name, size in (("preTrace", 40), ("postTrace", 30)):
        getattr(synapse, name).set(rng.random((1, size)).astype(np.float32))


def test_the_event_driven_stdp_step_keeps_values_read_before():
    """The event-driven step (few spikes) rewrites only rows and columns of dW: a dWeights or weights read
    before later steps keeps its values, per call and compiled, which give the same bits."""
    results = []
    for compiled in (False, True):
        synapse, evolve = _sparse_stdp(compiled)
        rng = np.random.default_rng(4)
        held = []
        for _ in range(6):
            _spikes(rng, synapse)
            evolve.run()
            held.append((synapse.dWeights.get(), synapse.dWeights.get().copy(), synapse.weights.get(),
                         synapse.weights.get().copy()))
            assert np.count_nonzero(synapse.dWeights.get()) <= 2 * 30 + 2 * 40
        for d_weights, d_copy, weights, w_copy in held:
            np.testing.assert_array_equal(d_weights, d_copy)
            np.testing.assert_array_equal(weights, w_copy)
        assert len({id(entry[0]) for entry in held}) == 6
        results.append([entry[1].tobytes() + entry[3].tobytes() for entry in held])
    assert results[0] == results[1]
