"""ExpKernel: ngc-learn's exponential kernel over a moving window of spike times."""

from typing import ClassVar

import numpy as np
from ngcsimlib.compartment import Compartment
from ngcsimlib.parser import compilable

from ngc_optim.circuit import Step
from ngc_optim.spike_kernels import exp_kernel_advance

from .numpy_component import NumpyComponent

__all__ = ["ExpKernel"]


def _exp_kernel(owner, shape, dtype, inputs, tf, t, tau_w):
    """The kernel's step through :func:`ngc_optim.spike_kernels.exp_kernel_advance`, after checking shapes."""
    inputs = np.asarray(inputs, dtype)
    if inputs.shape != shape or tf.shape[1:] != shape:
        raise ValueError(f"{owner}: inputs {inputs.shape} must be {shape} and tf {tf.shape} (window, *{shape})")
    return exp_kernel_advance(inputs, tf, t, tau_w)


class ExpKernel(NumpyComponent):
    """An exponential kernel over the spike times of a moving window, as ngc-learn's ExpKernel.

    The window ``tf`` holds the last win_len = int(nu/dt) + 1 steps' ``inputs * t`` (a spike's time, 0
    without a spike). Each step at time t enters the newest and

    epsp = sum over the window's spike times tf > 0 but the one about to leave of exp(-(t - tf) / tau_w)

    Args:
        name: the kernel's name.
        n_units: number of units.
        dt: the simulation's step (ms), which sets the window's length.
        tau_w: the kernel's time constant (> 0; default 500).
        nu: the window's span (ms, >= 0; default 4).
        batch_size: rows of every (batch_size, n_units) compartment (default 1).
        dtype: "float32" (default) or "float64".
    """

    SPEC: ClassVar[dict] = {
        "summary": "ExpKernel: epsp = sum over the window's spike times tf of exp(-(t - tf)/tau_w)",
        "compartments": {
            "inputs": {"inputs": "spikes (or pulses) at time t"},
            "state": {"tf": "(win_len, batch_size, n_units) window of spike times"},
            "outputs": {"epsp": "excitatory postsynaptic potential"},
        },
        "arguments": {"n_units": "number of units", "dt": "step (ms), sets win_len = int(nu/dt) + 1",
                      "tau_w": "time constant (500)", "nu": "window span (4 ms)", "batch_size": "batch rows (1)",
                      "dtype": "float32 or float64"},
    }

    FIXED_BATCH: ClassVar[str] = "its window of spike times keeps the batch size it was built with"

    def __init__(self, name, n_units, dt, tau_w=500.0, nu=4.0, batch_size=1, dtype="float32"):
        super().__init__(name, dtype)
        self._set_population(n_units, batch_size)
        self.dt = self._number("dt", dt, 0.0, strict=True)
        self.tau_w = self._number("tau_w", tau_w, 0.0, strict=True)
        self.nu = self._number("nu", nu, 0.0)
        self.win_len = int(self.nu / self.dt) + 1
        self.inputs = Compartment(self._zeros(self.shape), display_name="Input spikes")
        self.epsp = Compartment(self._zeros(self.shape), display_name="Excitatory postsynaptic potential")
        self.tf = Compartment(self._zeros((self.win_len, *self.shape)), display_name="Window of spike times")

    @compilable
    def advance_state(self, t):
        tf, epsp = _exp_kernel(self.owner, self.shape, self.dtype, self.inputs.get(), self.tf.get(), t,
                               self.tau_w)
        self.tf.set(tf)
        self.epsp.set(epsp)

    def _steps_advance_state(self):
        return [Step(exp_kernel_advance, ("inputs", "tf"), ("tf", "epsp"), keywords=("t",), constants=(self.tau_w,))]

    def _steps_reset(self):
        return [*self._set_to(("inputs",), unwired=("inputs",)), *self._set_to(("epsp", "tf"))]

    @compilable
    def reset(self):
        """Zero epsp and the window, and inputs unless wired."""
        if not self.inputs.targeted:
            self.inputs.set(self.inputs.get() * 0)
        self.epsp.set(self.epsp.get() * 0)
        self.tf.set(self.tf.get() * 0)
