"""ExpKernel: against ngc-learn 3.2.3's recorded outputs, and against its formula written out."""

import itertools
import json
from pathlib import Path

import numpy as np
import pytest
from ngc_optim.components import ExpKernel

from ngc_optim import Context, MethodProcess

DATA = np.load(Path(__file__).parent / "data" / "ngclearn_kernel_vectors.npz")
CASES = json.loads(str(DATA["meta_json"]))["cases"]
_names = itertools.count()


def build(**kwargs):
    with Context(f"expkernel{next(_names)}"):
        kernel = ExpKernel("k", **kwargs)
        advance = MethodProcess("advance") >> kernel.advance_state
        reset = MethodProcess("reset") >> kernel.reset
    return kernel, advance, reset


def reference(spikes, times, tau_w, win_len):
    """The window and epsp of each step from the formula: the window keeps the last win_len - 1 spike times
    (oldest first) and epsp sums exp(-(t - tf)/tau_w) over the positive ones."""
    history, epsp = [], []
    for s, t in zip(spikes, times):
        history.append(s * t)
        window = history[-(win_len - 1):] if win_len > 1 else []
        total = np.zeros_like(s)
        for tf in window:
            total = total + np.where(tf > 0, np.exp(-(t - tf) / tau_w), 0.0)
        epsp.append(total)
    return epsp


@pytest.mark.parametrize("case", sorted(CASES))
def test_exp_kernel_matches_ngclearn(case):
    spec = CASES[case]
    kwargs = spec["kwargs"]
    kernel, advance, reset = build(n_units=spec["units"], batch_size=spec["rows"], **kwargs)
    reset.run()
    for step in range(spec["steps"]):
        kernel.inputs.set(DATA[f"{case}/inputs"][step].copy())
        advance.run(t=step * kwargs["dt"])
        np.testing.assert_allclose(kernel.epsp.get(), DATA[f"{case}/epsp"][step], rtol=1e-5, atol=1e-6,
                                   err_msg=f"epsp, step {step}")
        np.testing.assert_array_equal(kernel.tf.get(), DATA[f"{case}/tf"][step], err_msg=f"tf, step {step}")
    assert DATA[f"{case}/epsp"].max() > 0


@pytest.mark.parametrize(("dt", "tau_w", "nu"), [(1.0, 7.0, 4.0), (0.25, 3.0, 1.0), (1.0, 2.0, 0.5)])
def test_exp_kernel_follows_its_formula_in_float64(dt, tau_w, nu):
    rng = np.random.default_rng(4)
    spikes = (rng.random((12, 3, 4)) < 0.4).astype(np.float64)
    kernel, advance, _ = build(n_units=4, dt=dt, tau_w=tau_w, nu=nu, batch_size=3, dtype="float64")
    expected = reference(spikes, [step * dt for step in range(12)], tau_w, int(nu / dt) + 1)
    for step in range(12):
        kernel.inputs.set(spikes[step])
        advance.run(t=step * dt)
        np.testing.assert_allclose(kernel.epsp.get(), expected[step], rtol=1e-13, atol=1e-15)
    assert kernel.tf.get().shape == (int(nu / dt) + 1, 3, 4)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"dt": 0.0}, r"dt=0.0 must be > 0"), ({"tau_w": -1.0}, r"tau_w=-1.0 must be > 0"),
    ({"nu": float("nan")}, r"nu=nan must be a finite number"),
])
def test_bad_settings_are_refused_naming_the_kernel(kwargs, message):
    with pytest.raises(ValueError, match=r"ExpKernel 'k': " + message):
        build(n_units=3, **{"dt": 1.0, **kwargs})
