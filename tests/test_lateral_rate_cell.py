"""RateCell's lateral pressure (ngc-learn's use_lateral): against ngc-learn 3.2.3's recorded outputs
(tests/data/ngclearn_lateral_vectors.npz), per call and as a compiled circuit, and its held synapse's
save, load and resizing."""

import itertools
import json
from pathlib import Path

import numpy as np
import pytest
from ngc_optim.components import RateCell

from ngc_optim import Context, MethodProcess

DATA = np.load(Path(__file__).parent / "data" / "ngclearn_lateral_vectors.npz")
CASES = json.loads(str(DATA["meta_json"]))["cases"]
_names = itertools.count()


def _cell(kwargs, rows, units, compiled):
    arguments = {key: tuple(value) if isinstance(value, list) else value for key, value in kwargs.items()}
    with Context(f"lateral{next(_names)}"):
        cell = RateCell("z", units, batch_size=rows, use_lateral=True, **arguments)
        processes = (MethodProcess("advance") >> cell.advance_state, MethodProcess("evolve") >> cell.evolve,
                     MethodProcess("reset") >> cell.reset)
    for process in processes:
        process.compiled_circuit, process.compile_after = compiled, 0
    return cell, processes


@pytest.mark.parametrize("compiled", [False, True])
@pytest.mark.parametrize("case", sorted(CASES))
def test_lateral_pressure_matches_ngclearn(case, compiled):
    meta = CASES[case]
    cell, (advance, evolve, reset) = _cell(meta["kwargs"], meta["rows"], meta["units"], compiled)
    reset.run()
    np.testing.assert_array_equal(cell.Wl.weights.get(), DATA[f"{case}/W0"])
    adaptive = meta["kwargs"].get("adaptive_lateral", False)
    for step in range(meta["steps"]):
        cell.j.set(DATA[f"{case}/j"][step])
        cell.j_td.set(DATA[f"{case}/j_td"][step])
        advance.run(dt=1.0)
        for key in ("z", "zF", "zF_lat"):
            np.testing.assert_allclose(getattr(cell, key).get(), DATA[f"{case}/{key}"][step], rtol=1e-5, atol=2e-6,
                                       err_msg=f"{key}, step {step}")
        if adaptive:
            evolve.run()
            np.testing.assert_allclose(cell.Wl.weights.get(), DATA[f"{case}/W"][step], rtol=1e-5, atol=1e-6,
                                       err_msg=f"W, step {step}")
    assert np.abs(cell.zF_lat.get()).max() > 0.05
    if adaptive:
        assert np.abs(cell.Wl.weights.get() - DATA[f"{case}/W0"]).max() > 1e-4


def _trajectory(compiled):
    cell, (advance, evolve, reset) = _cell(CASES["lateral/adaptive_adam"]["kwargs"], 3, 6, compiled)
    rng = np.random.default_rng(0)
    for _ in range(2):
        for _ in range(4):
            cell.j.set(rng.standard_normal((3, 6)).astype(np.float32))
            advance.run(dt=1.0)
            evolve.run()
        reset.run()
        cell.j.set(rng.standard_normal((3, 6)).astype(np.float32))
        advance.run(dt=1.0)
    return [value.tobytes() for value in (cell.z.get(), cell.zF.get(), cell.zF_lat.get(), cell.Wl.weights.get(),
                                          cell.Wl.outputs.get())]


def test_the_compiled_circuit_gives_the_per_call_bits():
    assert _trajectory(True) == _trajectory(False)


def test_save_and_load_carry_the_lateral_synapse(tmp_path):
    cell, (advance, evolve, _) = _cell({"adaptive_lateral": True, "Wl_eta": 0.1, "exc_inh": (0.5, -0.2),
                                        "tau_m": 5.0, "act_fx": "tanh"}, 2, 4, False)
    cell.j.set(np.ones((2, 4), np.float32))
    for _ in range(3):
        advance.run(dt=1.0)
        evolve.run()
    learned = cell.Wl.weights.get()
    cell.save(str(tmp_path))
    assert {path.name for path in tmp_path.iterdir()} == {"z.h5", "Wl_z.h5"}
    cell.Wl.weights.set(learned * 0)
    cell.load(str(tmp_path))
    np.testing.assert_array_equal(cell.Wl.weights.get(), learned)


def test_a_lateral_cell_follows_the_batch_of_the_data():
    cell, (advance, _, _) = _cell({"exc_inh": (0.5, -0.2), "tau_m": 5.0, "act_fx": "tanh", "n_patch": 2}, 1, 4,
                                  True)
    cell.j.set(np.ones((5, 4), np.float32))
    advance.run(dt=1.0)
    advance.run(dt=1.0)
    assert cell.z.get().shape == cell.zF_lat.get().shape == cell.Wl.outputs.get().shape == (5, 4)


@pytest.mark.parametrize("kwargs, message", [
    ({"fx_lat": "gelu"}, r"fx_lat='gelu'; expected one of"),
    ({"exc_inh": (1.0,)}, r"exc_inh=\(1.0,\) must be two finite numbers"),
    ({"n_patch": 4}, r"shape=\(6, 6\) must be two positive ints divisible by n_sub_models=4"),
    ({"use_lateral": 1}, r"use_lateral=1 must be True or False"),
    ({"shape": (2, 3, 1)}, r"shape=\(2, 3, 1\): only 2-D"),
])
def test_bad_lateral_settings_are_refused(kwargs, message):
    with Context(f"bad{next(_names)}"), pytest.raises(ValueError, match=message):
        RateCell("z", 6, 5.0, **{"use_lateral": True, **kwargs})
