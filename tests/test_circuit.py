"""Compiled circuits (ngc_optim.circuit): every component's compiled methods, alone and wired, give the bits of
ngcsimlib's per-call path, through run and scan; what has no compiled form falls back with one warning; bad
state is refused with the compartment named; the generated source is shared by circuits of one structure."""

import itertools
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest
from ngc_optim.components import (
    BernoulliCell,
    BernoulliErrorCell,
    DenseSynapse,
    EventSTDPSynapse,
    ExpKernel,
    GaussianErrorCell,
    HebbianConvSynapse,
    HebbianDeconvSynapse,
    HebbianPatchedSynapse,
    HebbianSynapse,
    LaplacianErrorCell,
    LIFCell,
    PoissonCell,
    RateCell,
    RetinalGanglionCell,
    SoftmaxErrorCell,
    StaticConvSynapse,
    StaticDeconvSynapse,
    StaticPatchedSynapse,
    StaticSynapse,
    TraceSTDPSynapse,
    VarTrace,
    WTASCell,
)
from ngcsimlib import Component
from ngcsimlib.compartment import Compartment
from ngcsimlib.global_state import stateManager
from ngcsimlib.operations import Summation
from ngcsimlib.parser import compilable

from ngc_optim import Context, JointProcess, MethodProcess
from ngc_optim.cell_kernels import put_rows, put_step

STEPS = 7
_names = itertools.count()


def _rate(dtype):
    return [RateCell("c", 5, 10.0, act_fx="tanh", prior=("gaussian", 0.1), batch_size=3, dtype=dtype),
            RateCell("d", 5, 4.0, act_fx="relu", prior=("laplacian", 0.2), integration_type="midpoint",
                     output_scale=2.0, resist_scale=0.5, batch_size=3, dtype=dtype),
            RateCell("e", 5, 0.0, act_fx="sigmoid", batch_size=3, dtype=dtype),
            RateCell("f", 5, 6.0, act_fx="tanh", prior=("cauchy", 0.3), threshold=("soft_threshold", 0.05),
                     batch_size=3, dtype=dtype),
            RateCell("g", 5, 3.0, prior=("exp", 0.2), threshold=("cauchy_threshold", 0.02),
                     integration_type="midpoint", batch_size=3, dtype=dtype),
            RateCell("h", 6, 4.0, act_fx="tanh", fx_lat="relu", use_lateral=True, adaptive_lateral=True, n_patch=2,
                     exc_inh=(0.4, -0.2), Wl_eta=0.05, Wl_opt_type="adam", batch_size=3, dtype=dtype),
            RateCell("i", 6, 0.0, use_lateral=True, exc_inh=(0.3, -0.1), batch_size=3, dtype=dtype),
            RateCell("j", 5, 10.0, act_fx="tanh", prior=("laplacian", 0.1), threshold=("soft_threshold", 0.01),
                     state_optim={"name": "nag", "eta": 0.2, "mu": 0.5, "regularization": "l1", "weight_decay": 0.01},
                     batch_size=3, dtype=dtype)]


def _errors(dtype):
    return [GaussianErrorCell("c", 4, batch_size=3, sigma=2.0, dtype=dtype),
            LaplacianErrorCell("d", 4, batch_size=3, scale=0.5, dtype=dtype),
            BernoulliErrorCell("e", 4, batch_size=3, dtype=dtype),
            BernoulliErrorCell("f", 4, batch_size=3, input_logits=True, dtype=dtype),
            SoftmaxErrorCell("g", 4, batch_size=3, dtype=dtype)]


def _synapses(dtype):
    return [DenseSynapse("c", (4, 6), bias_init={"dist": "uniform", "amin": -1.0, "amax": 1.0}, p_conn=0.6,
                         g_conduct_factor=1.5, batch_size=3, seed=1, dtype=dtype),
            StaticSynapse("d", (4, 6), batch_size=3, seed=2, dtype=dtype),
            StaticPatchedSynapse("e", (4, 6), n_sub_models=2, stride_shape=(1, 1), resist_scale=0.5, batch_size=3,
                                 seed=3, dtype=dtype)]


def _hebbian(dtype):
    optimizers = ("sgd", "nag", "momentum", "rmsprop", "adam", "adamw")
    return [HebbianSynapse(f"h{name}", (4, 6), eta=0.05, optim_type=name, sign_value=-1.0, w_bound=2.0,
                           prior=("l2", 0.01), pre_wght=0.5, post_wght=1.5, batch_size=3, seed=number,
                           bias_init={"dist": "constant", "value": 0.1} if number % 2 else None,
                           optim_kwargs={"regularization": "l1", "weight_decay": 0.001} if name == "nag" else None,
                           dtype=dtype)
            for number, name in enumerate(optimizers)] + [
        HebbianPatchedSynapse("p", (4, 6), n_sub_models=2, stride_shape=(1, 0), eta=0.05, optim_type="adam",
                              bias_init={"dist": "constant", "value": 0.1}, prior=("l1", 0.01), sign_value=-1.0,
                              block_mask=np.tile([[1.0, 0.0, 1.0]], (6, 2)), batch_size=3, seed=7, dtype=dtype)]


def _stdp(dtype):
    return [TraceSTDPSynapse("c", (8, 6), A_plus=0.9, A_minus=0.4, eta=0.3, pretrace_target=0.1, w_bound=0.8,
                             weight_init={"dist": "uniform", "amin": 0.0, "amax": 0.8}, seed=5, dtype=dtype),
            TraceSTDPSynapse("d", (8, 6), A_plus=0.5, A_minus=0.0, eta=0.01, optim_type="adam", batch_size=3,
                             p_conn=0.7, tau_w=50.0, seed=6, dtype=dtype),
            TraceSTDPSynapse("e", (8, 6), A_plus=0.6, A_minus=0.3, eta=0.2, mu=0.7, optim_type="momentum",
                             weight_init={"dist": "uniform", "amin": 0.05, "amax": 0.95}, batch_size=3, seed=7,
                             dtype=dtype),
            TraceSTDPSynapse("f", (8, 6), A_plus=0.6, A_minus=0.0, eta=0.1, mu=1.3, pretrace_target=0.2,
                             weight_init={"dist": "uniform", "amin": 0.05, "amax": 0.95}, seed=8, dtype=dtype),
            EventSTDPSynapse("g", (8, 6), eta=0.2, lmbda=0.05, A_plus=0.7, A_minus=0.3, presyn_win_len=1.0, seed=9,
                             dtype=dtype)]


def _spiking(dtype):
    return [LIFCell("c", 6, 20.0, resist_m=30.0, one_spike=True, batch_size=3, seed=2, dtype=dtype),
            LIFCell("d", 6, 20.0, resist_m=30.0, max_one_spike=True, integration_type="midpoint", v_min=-70.0,
                    batch_size=3, dtype=dtype),
            BernoulliCell("e", 6, batch_size=3, seed=3, dtype=dtype),
            PoissonCell("f", 6, target_freq=300.0, batch_size=3, seed=4, dtype=dtype),
            VarTrace("g", 6, 5.0, 0.5, batch_size=3, dtype=dtype),
            VarTrace("h", 6, 5.0, 0.0, decay_type="lin", P_scale=0.7, batch_size=3, dtype=dtype),
            VarTrace("i", 6, 5.0, 0.3, decay_type="step", n_nearest_spikes=2, batch_size=3, dtype=dtype),
            ExpKernel("j", 6, 0.5, tau_w=3.0, nu=2.0, batch_size=3, dtype=dtype),
            WTASCell("k", 6, 10.0, thr_base=0.2, refract_time=1.0, batch_size=3, seed=5, dtype=dtype),
            RetinalGanglionCell("l", "DoG", (6, 6), 4, (3, 3), (3, 3), batch_size=3, sigma=1.2, dtype=dtype)]


def _conv(dtype):
    bias = {"dist": "constant", "value": 0.1}
    return [StaticConvSynapse("c", (3, 3, 2, 3), (6, 6), bias_init=bias, stride=2, padding="SAME",
                              g_conduct_factor=0.5, batch_size=3, seed=1, dtype=dtype),
            StaticDeconvSynapse("d", (2, 2, 2, 3), (4, 4), stride=2, padding="VALID", batch_size=3, seed=2,
                                dtype=dtype)] + [
        HebbianConvSynapse(f"h{name}", (3, 3, 2, 3), (6, 6), eta=0.05, stride=1 + number % 2,
                           padding=("SAME", "VALID")[number % 2], bias_init=bias if number % 2 else None,
                           w_bound=0.6, w_decay=0.01, sign_value=-1.0, optim_type=name, batch_size=3, seed=3 + number,
                           optim_kwargs={"regularization": "l2", "weight_decay": 0.001} if name == "nag" else None,
                           dtype=dtype)
        for number, name in enumerate(("sgd", "nag", "momentum", "rmsprop", "adam", "adamw"))] + [
        HebbianDeconvSynapse("e", (3, 3, 2, 3), (4, 4), eta=0.05, stride=2, padding="SAME", bias_init=bias,
                             is_nonnegative=True, w_bound=0.8, optim_type="adam", batch_size=3, seed=9, dtype=dtype)]


FAMILIES = {"rate": _rate, "errors": _errors, "synapses": _synapses, "hebbian": _hebbian, "stdp": _stdp,
            "spiking": _spiking, "conv": _conv}
INPUTS = {RateCell: ("j", "j_td"), GaussianErrorCell: ("mu", "target", "modulator"),
          LaplacianErrorCell: ("shift", "target", "mask"), BernoulliErrorCell: ("p", "target", "modulator"),
          SoftmaxErrorCell: ("mu", "target", "mask"), DenseSynapse: ("inputs", "gate"),
          StaticSynapse: ("inputs",), HebbianSynapse: ("inputs", "pre", "post"),
          StaticPatchedSynapse: ("inputs", "post_in"), HebbianPatchedSynapse: ("inputs", "post_in", "pre", "post"),
          TraceSTDPSynapse: ("inputs", "preSpike", "postSpike", "preTrace", "postTrace"),
          LIFCell: ("j",), BernoulliCell: ("inputs",), PoissonCell: ("inputs",), VarTrace: ("inputs",),
          ExpKernel: ("inputs",), WTASCell: ("j",), RetinalGanglionCell: ("inputs",), EventSTDPSynapse: ("inputs", "pre_tols", "postSpike"),
          StaticConvSynapse: ("inputs",), StaticDeconvSynapse: ("inputs",), HebbianConvSynapse: ("inputs", "pre", "post"),
          HebbianDeconvSynapse: ("inputs", "pre", "post")}
SPIKES = {"preSpike", "postSpike"}
WATCHED = {"rate": "zF", "errors": "L", "spiking": "s"}
"""The compartment of the family's first component its step watches (default outputs)."""
WIRED = {"float32": {"rate": ("c", "h", "j"), "hebbian": ("hadam", "p"), "stdp": ("c", "d", "g"),
                     "conv": ("c", "d", "hadam", "e")},
         "float64": {"hebbian": ("hsgd", "hnag", "hadam", "p"),
                     "conv": ("c", "d", "hsgd", "hrmsprop", "hadamw", "e")}}
"""The components of a family wired in each dtype (all of the others). Every component kind is wired in
float64 with every variant of its own (cells, STDP rules, patched, deconv), and each optimizer in at least one
family of learning synapses (sgd, nag, adam: Hebbian; rmsprop, adamw: conv; momentum: STDP), the others being
the same step code with another optimizer kernel, checked against its reference by the kernel tests. Float32
wires one of each kernel family (a rate cell with and without lateral pressure and a state optimizer, a Hebbian,
patched, conv and deconv step through Adam, an STDP step with and without an optimizer, the event STDP). Each
variant compiles its own kernels, and a circuit links them all again: tens of seconds of a cold test run per
family and dtype."""


def _family(family, dtype, compiled):
    """The family's components in a context, each stepped (advance_state, then backtransmit, calc_update and
    evolve for the synapses that have them) and reset by two processes whose compiled_circuit is
    ``compiled``."""
    with Context(f"circuit{next(_names)}"):
        components = [component for component in FAMILIES[family](dtype)
                      if component.name in WIRED[dtype].get(family, (component.name,))]
        step, reset = MethodProcess("step"), MethodProcess("reset")
        for component in components:
            step >> component.advance_state
            if hasattr(component, "backtransmit"):
                step >> component.backtransmit
            if hasattr(component, "calc_update"):
                step >> component.calc_update
            if hasattr(component, "evolve"):
                step >> component.evolve
            reset >> component.reset
        step.watch(getattr(components[0], WATCHED.get(family, "outputs")))
    for process in (step, reset):
        process.compiled_circuit = compiled
        process.compile_after = 0
    return components, step, reset


def _feed(components, rng, dtype):
    """Random inputs (0/1 for spikes, positive currents) into every input compartment."""
    for component in components:
        for name in INPUTS[type(component)]:
            compartment = getattr(component, name)
            shape = compartment.get().shape
            value = (rng.random(shape) < 0.3) if name in SPIKES or isinstance(component, (VarTrace, ExpKernel)) \
                else rng.standard_normal(shape) * 2 + (1 if isinstance(component, (LIFCell, PoissonCell)) else 0)
            compartment.set(np.abs(value).astype(dtype) if isinstance(component, (PoissonCell, BernoulliCell))
                            else value.astype(dtype))
            if isinstance(component, BernoulliCell):
                compartment.set(np.clip(compartment.get(), 0, 1))


def _snapshot(components):
    """Every compartment's value (bytes, so -0.0 and NaN payloads count) and every optimizer's state; not those
    wired from an operation (ngcsimlib's Summation.get gives an object array)."""
    values = {}
    for component in [*components, *(held for owner in components for held in owner._held())]:
        for name, compartment in component.compartments:
            if not isinstance(compartment.target, str):
                continue
            value = compartment.get()
            if hasattr(value, "state_dict"):
                state = value.state_dict()
                values[(component.name, name, "count")] = state.pop("count")
                for slot, arrays in state.items():
                    for key, array in arrays.items():
                        values[(component.name, name, slot, key)] = (array.dtype, array.shape, array.tobytes())
            else:
                value = np.asarray(value)
                values[(component.name, name)] = (value.dtype, value.shape, value.tobytes())
    return values


def _trajectory(family, dtype, compiled, by_scan):
    components, step, reset = _family(family, dtype, compiled)
    rng = np.random.default_rng(7)
    snapshots, watched = [], []
    for phase in range(2):
        _feed(components, rng, dtype)
        if by_scan:
            final, values = step.scan(step.pack_rows(STEPS, t=lambda i, phase=phase: i * 0.5 + phase, dt=0.5))
            stateManager.set_state(final)
            watched.append(values[0].tobytes())
        else:
            for row in range(STEPS):
                _, values = step.run(t=row * 0.5 + phase, dt=0.5)
                watched.append(np.asarray(values[0]).tobytes())
        snapshots.append(_snapshot(components))
        reset.run()
        snapshots.append(_snapshot(components))
    return snapshots, b"".join(watched), (step, reset)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_compiled_circuits_give_the_per_call_bits(family, dtype):
    """run and scan through the compiled circuit equal ngcsimlib's per-call path, every compartment and
    optimizer state after several steps with inputs, a reset, and more steps (every run through the circuit:
    compile_after 0)."""
    expected, watched, _ = _trajectory(family, dtype, compiled=False, by_scan=False)
    for by_scan in (False, True):
        got, got_watched, processes = _trajectory(family, dtype, compiled=True, by_scan=by_scan)
        assert all(process.circuit() is not None for process in processes)
        assert got == expected, f"by_scan={by_scan}"
        assert got_watched == watched, f"by_scan={by_scan}"


def _layer(name, compiled, summed=False, batch=4, data=4):
    """A rate/error PC layer with Hebbian learning (as bench_scan's), optionally with a Summation into z1.j,
    built for ``batch`` samples, with ``data`` random rows clamped into z0.j."""
    with Context(name):
        z0 = RateCell("z0", 6, 0.0, batch_size=batch)
        W1 = HebbianSynapse("W1", (6, 5), eta=0.01, optim_type="adam", sign_value=-1.0, w_bound=0.0,
                            batch_size=batch, seed=1)
        e1 = GaussianErrorCell("e1", 5, batch_size=batch)
        z1 = RateCell("z1", 5, 10.0, act_fx="tanh", batch_size=batch)
        E1 = DenseSynapse("E1", (5, 5), batch_size=batch, seed=2)
        E2 = DenseSynapse("E2", (5, 5), batch_size=batch, seed=3)
        z0.zF >> W1.inputs
        z0.zF >> W1.pre
        W1.outputs >> e1.mu
        z1.z >> e1.target
        e1.dmu >> W1.post
        e1.dmu >> E1.inputs
        e1.dtarget >> E2.inputs
        if summed:
            Summation(E1.outputs, E2.outputs) >> z1.j
        else:
            E1.outputs >> z1.j
        cells = MethodProcess("cells") >> z0.advance_state >> W1.advance_state >> E1.advance_state
        rest = MethodProcess("rest") >> E2.advance_state >> z1.advance_state >> e1.advance_state >> W1.evolve
        step = JointProcess("step") >> cells >> rest
        step.watch(e1.L, z1.z)
    z0.j.set(np.random.default_rng(0).random((data, 6)).astype(np.float32))
    for process in (cells, rest, step):
        process.compiled_circuit = compiled
        process.compile_after = 0
    return step, (z0, W1, e1, z1, E1, E2)


@pytest.mark.parametrize("summed", [False, True])
def test_a_wired_joint_process_gives_the_per_call_bits(summed):
    results = []
    for compiled in (False, True):
        step, components = _layer(f"layer{next(_names)}", compiled, summed)
        final, (losses, z) = step.scan(step.pack_rows(12, dt=1.0))
        stateManager.set_state(final)
        results.append((_snapshot(components), losses.tobytes(), z.tobytes()))
        assert (step.circuit() is not None) == compiled
    assert results[0] == results[1]


def test_the_generated_source_depends_on_the_structure_only():
    first, _ = _layer(f"layer{next(_names)}", True)
    second, _ = _layer(f"other{next(_names)}", True)
    summed, _ = _layer(f"summed{next(_names)}", True, summed=True)
    assert first.circuit().source == second.circuit().source != summed.circuit().source
    assert " + " in summed.circuit().source and " + " not in first.circuit().source


class _Foreign(Component):
    """A component of another library: a compilable method with no compiled form."""

    def __init__(self, name):
        super().__init__(name)
        self.x = Compartment(np.zeros((1, 3), np.float32))

    @compilable
    def advance_state(self):
        self.x.set(self.x.get() + 1)


def test_a_method_without_a_compiled_form_falls_back_with_one_warning():
    with Context(f"foreign{next(_names)}"):
        foreign = _Foreign("f")
        cell = RateCell("z", 3, 0.0)
        foreign.x >> cell.j
        step = MethodProcess("step") >> foreign.advance_state >> cell.advance_state
    step.compile_after = 0
    with pytest.warns(UserWarning, match=r"_Foreign 'f'\.advance_state has no compiled form"):
        step.run(dt=1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        step.run(dt=1.0)
        step.scan(step.pack_rows(2, dt=1.0))
    np.testing.assert_array_equal(cell.z.get(), np.full((1, 3), 2.0, np.float32))


def test_bad_state_is_refused_naming_the_compartment():
    step, (z0, W1, *_) = _layer(f"layer{next(_names)}", True)
    step.compile_after = 0
    step.run(dt=1.0)
    assert step.circuit() is not None
    z0.j.set(np.zeros((4, 7), np.float32))
    with pytest.raises(ValueError, match=r"z0:j has shape \(4, 7\); expected \(4, 6\)"):
        step.run(dt=1.0)
    z0.j.set(np.zeros((4, 6), np.float64))
    step.run(dt=1.0)
    reversed_columns = W1.weights.get()[:, ::-1]
    W1.weights.set(reversed_columns)
    step.run(dt=1.0)
    assert W1.weights.get().flags.c_contiguous
    assert not np.array_equal(W1.weights.get(), reversed_columns)


def test_a_known_circuit_starts_warm_in_a_new_process(tmp_path):
    """A second Python process finds the generated source and Numba's cache: no compile message."""
    script = textwrap.dedent("""
        import sys
        sys.path.insert(0, {tests!r})
        import numpy as np
        from ngcsimlib.global_state import stateManager
        from test_circuit import _layer
        step, _ = _layer("warm", True)
        final, (losses, z) = step.scan(step.pack_rows(5, dt=1.0))
        print(float(losses[-1]))
    """).format(tests=str(__import__("pathlib").Path(__file__).parent))
    environment = {**__import__("os").environ, "NGC_OPTIM_CACHE_DIR": str(tmp_path)}
    runs = [subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=environment,
                           check=True) for _ in range(2)]
    assert "compiling the circuit" in runs[0].stderr
    assert "compiling the circuit" not in runs[1].stderr
    assert runs[0].stdout == runs[1].stdout
    assert list((tmp_path / "circuits").glob("circuit_*.py"))


def _settling(name, batch):
    """Two PC layers settling (rate cells, dense synapses, Gaussian error cells; no learning), batch ``batch``."""
    rng = np.random.default_rng(3)
    with Context(name):
        z0 = RateCell("z0", 9, 0.0, batch_size=batch)
        z1 = RateCell("z1", 7, 5.0, act_fx="tanh", batch_size=batch)
        z2 = RateCell("z2", 5, 0.0, batch_size=batch)
        W1 = DenseSynapse("W1", (9, 7), batch_size=batch, seed=1, weight_init={"dist": "gaussian", "sigma": 0.5})
        W2 = DenseSynapse("W2", (7, 5), batch_size=batch, seed=2, weight_init={"dist": "gaussian", "sigma": 0.5})
        E2 = DenseSynapse("E2", (5, 7), batch_size=batch, seed=3)
        e1 = GaussianErrorCell("e1", 7, batch_size=batch)
        e2 = LaplacianErrorCell("e2", 5, batch_size=batch)
        z0.zF >> W1.inputs
        W1.outputs >> e1.mu
        z1.z >> e1.target
        z1.zF >> W2.inputs
        W2.outputs >> e2.shift
        z2.z >> e2.target
        e2.dshift >> E2.inputs
        E2.outputs >> z1.j
        e1.dtarget >> z1.j_td
        settle = MethodProcess("settle") >> z0.advance_state >> z2.advance_state >> W1.advance_state
        settle >> E2.advance_state >> z1.advance_state >> W2.advance_state >> e1.advance_state >> e2.advance_state
        settle.watch(z1.z, e1.dmu)
    z0.j.set(rng.random((batch, 9)).astype(np.float32))
    z2.j.set(rng.random((batch, 5)).astype(np.float32))
    return settle, (z0, z1, z2, W1, W2, E2, e1, e2)


def test_blocks_of_rows_give_the_bits_of_the_whole_batch():
    """A circuit of row-local steps split into blocks of rows (forced: 2 and 3 blocks of a batch of 75) gives the
    per-call bits, L included (computed once after the loop from the last values)."""
    results = []
    for blocks in (None, 1, 2, 3):
        settle, components = _settling(f"settling{next(_names)}", 75)
        settle.compiled_circuit = blocks is not None
        rows = np.asarray(settle.pack_rows(9, dt=1.0), np.float64)
        if blocks is None:
            final, watched = settle.scan(rows)
        else:
            circuit = settle.circuit()
            assert circuit.batch == 75 and "def circuit_block" in circuit.source
            written, watched = circuit(stateManager.state, rows, blocks=blocks)
            final = {**stateManager.state, **written}
        stateManager.set_state(final)
        results.append((_snapshot(components), [values.tobytes() for values in watched]))
    assert all(result == results[0] for result in results[1:])


def test_a_learning_step_keeps_the_circuit_on_one_block():
    """An evolve reduces over the batch and changes weights the other steps read: no split into blocks."""
    step, _ = _layer(f"layer{next(_names)}", True)
    assert step.circuit()._split is None and step.circuit().blocks(20) == 1
    settle, _ = _settling(f"settling{next(_names)}", 96)
    assert settle.circuit()._split is not None


def test_components_of_different_modules_share_a_per_call_process():
    """ngcsimlib merges the module globals of a process's methods into one namespace: the components' module
    helpers have names of their own, so a RateCell and a LIFCell run in one process per call too."""
    with Context(f"mixed{next(_names)}"):
        rate = RateCell("r", 3, 5.0, act_fx="tanh")
        spiking = LIFCell("s", 3, 20.0, resist_m=30.0)
        rate.zF >> spiking.j
        step = MethodProcess("step") >> rate.advance_state >> spiking.advance_state
    step.compiled_circuit = False
    rate.j.set(np.ones((1, 3), np.float32))
    for row in range(3):
        step.run(t=float(row), dt=1.0)
    assert np.all(spiking.v.get() > -65.0)


def test_the_copies_into_rows_are_numpys_slice_assignments_and_refuse_what_does_not_fit():
    rng = np.random.default_rng(3)
    out, values = rng.random((7, 2, 3)), rng.random((3, 2, 3))
    expected = out.copy()
    expected[4:7] = values
    put_rows(out, 4, values)
    assert out.tobytes() == expected.tobytes()
    buffer, row = rng.random((5, 7, 3)).astype(np.float32), rng.random((2, 3)).astype(np.float32)
    expected = buffer.copy()
    expected[3, 5:7] = row
    put_step(buffer, 3, 5, row)
    assert buffer.tobytes() == expected.tobytes()
    vector = np.zeros((4, 6))
    put_step(vector, 2, 0, np.arange(6.0))
    assert vector[2].tolist() == list(range(6)) and not vector[[0, 1, 3]].any()
    with pytest.raises(ValueError, match="do not fit"):
        put_rows(out, 5, values)
    with pytest.raises(ValueError, match="does not fit"):
        put_step(buffer, 4, 6, row)


def _stdp_network(name, compiled, watched):
    """Poisson inputs -> batch-1 SGD trace-STDP synapse -> LIF cells, with traces (bench_scan's spiking circuit,
    smaller): its spikes are few in most steps (the STDP step's events, dW deferred in a scan when nothing
    reads it) and many in some (whole rows)."""
    with Context(name):
        z0 = PoissonCell("z0", 60, target_freq=60.0, seed=1)
        W = TraceSTDPSynapse("W", (60, 50), A_plus=0.9, A_minus=0.4, eta=0.3, pretrace_target=0.1, w_bound=0.8,
                             weight_init={"dist": "uniform", "amin": 0.0, "amax": 0.8}, seed=2)
        z1 = LIFCell("z1", 50, tau_m=20.0, resist_m=40.0, thr=-52.0, v_rest=-65.0, v_reset=-60.0, refract_time=2.0,
                     seed=3)
        tr0, tr1 = VarTrace("tr0", 60, tau_tr=8.0, a_delta=0.0), VarTrace("tr1", 50, tau_tr=8.0, a_delta=0.0)
        z0.outputs >> W.inputs
        W.outputs >> z1.j
        z0.outputs >> tr0.inputs
        z1.s >> tr1.inputs
        tr0.trace >> W.preTrace
        z0.outputs >> W.preSpike
        tr1.trace >> W.postTrace
        z1.s >> W.postSpike
        step = MethodProcess("step")
        for component in (W, z0, z1, tr0, tr1):
            step >> component.advance_state
        step >> W.evolve
        step.watch(getattr(W, watched))
    z0.inputs.set(np.random.default_rng(0).random((1, 60)).astype(np.float32))
    step.compiled_circuit = compiled
    step.compile_after = 0
    return [z0, W, z1, tr0, tr1], step


@pytest.mark.parametrize("watched", ["weights", "dWeights"])
def test_trace_stdp_defers_dw_in_a_scan_only_when_nothing_reads_it(watched):
    """In a scan where nothing reads or watches W.dWeights, its batch-1 SGD steps leave dW for the call's end
    (hebbian_kernels.stdp_sgd_events); every compartment still equals the per-call path's bytes after each
    of three scans, watched dW included, through steps with few spikes and with many."""
    runs = {}
    for compiled in (False, True):
        components, step = _stdp_network(f"defer{next(_names)}", compiled, watched)
        snapshots, values = [], []
        for scan in range(3):
            rows = step.pack_rows(40, t=lambda i, scan=scan: 40.0 * scan + i, dt=1.0)
            if compiled:
                final, (watch,) = step.scan(rows)
                stateManager.set_state(final)
                values.append(watch.tobytes())
            else:
                for row in rows:
                    _, (value,) = step.run(t=row[list(step.get_keywords()).index("t")], dt=1.0)
                    values.append(np.asarray(value).tobytes())
            snapshots.append(_snapshot(components))
        runs[compiled] = (snapshots, b"".join(values), step)
    assert runs[True][:2] == runs[False][:2]
    (_, _, deferring), = runs[True][2].circuit()._bindings
    assert deferring == (watched != "dWeights")
