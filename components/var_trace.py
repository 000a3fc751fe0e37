"""VarTrace: ngc-learn's low-pass filter (trace) of a signal, usually spikes."""

from typing import ClassVar

import numpy as np
from ngcsimlib.compartment import Compartment
from ngcsimlib.parser import compilable

from ngc_optim.circuit import Step
from ngc_optim.spike_kernels import DECAYS, trace_advance

from .numpy_component import NumpyComponent

__all__ = ["DECAY_TYPES", "VarTrace"]

DECAY_TYPES = DECAYS
"""decay_type names: exponential, linear, none (the trace is only what the last input put in)."""


def _trace(owner, shape, dtype, inputs, trace, dt, decay_code, tau_tr, gamma_tr, a_delta, P_scale,
           n_nearest_spikes):
    """The trace's step through :func:`ngc_optim.spike_kernels.trace_advance`, after checking the shapes."""
    inputs = np.asarray(inputs, dtype)
    if inputs.shape != shape or trace.shape != shape:
        raise ValueError(f"{owner}: inputs {inputs.shape} and trace {trace.shape} must be {shape}")
    return trace_advance(inputs, trace, dt, decay_code, tau_tr, gamma_tr, a_delta, P_scale, n_nearest_spikes)


class VarTrace(NumpyComponent):
    """A variable trace (low-pass filter) of its inputs, as ngc-learn's VarTrace.

    decay = exp(-dt/tau_tr) ("exp"), 1 - dt/tau_tr ("lin") or 0 ("step")
    x = gamma_tr * trace * decay
    trace' = x + inputs * (a_delta - trace / n_nearest_spikes)   if n_nearest_spikes > 0 (nearest-spike trace)
    trace' = x + inputs * a_delta                                if a_delta > 0 (additive trace)
    trace' = x * (1 - inputs) + inputs * P_scale                 otherwise (a spike sets the trace to P_scale)
    outputs = trace'

    Unlike ngc-learn, which treats any other decay_type as "step", other names are refused.

    Args:
        name: the trace's name.
        n_units: number of units.
        tau_tr: time constant, ms (> 0).
        a_delta: increment per unit of input; <= 0 selects the set-to-P_scale trace.
        P_scale: the value a spike sets the trace to when a_delta <= 0 (default 1).
        gamma_tr: extra factor of the decayed trace (default 1).
        decay_type: one of DECAY_TYPES (default "exp").
        n_nearest_spikes: k > 0 gives a k-nearest-spike trace (default 0: off).
        batch_size: rows of every (batch_size, n_units) compartment (default 1).
        dtype: "float32" (default) or "float64".
    """

    PER_SAMPLE: ClassVar[frozenset] = frozenset({"inputs", "trace", "outputs"})
    SPEC: ClassVar[dict] = {
        "summary": "VarTrace: trace' = gamma_tr * trace * decay + inputs * a_delta (or set to P_scale by a spike)",
        "compartments": {
            "inputs": {"inputs": "signal to trace (spikes)"},
            "state": {"trace": "the trace"},
            "outputs": {"outputs": "the trace (same values as trace)"},
        },
        "arguments": {"n_units": "number of units", "tau_tr": "time constant (ms)",
                      "a_delta": "increment, <= 0: set to P_scale", "P_scale": "set value (1)",
                      "gamma_tr": "decay factor (1)", "decay_type": f"one of {DECAY_TYPES}",
                      "n_nearest_spikes": "k-nearest trace (0: off)", "batch_size": "batch rows (1)",
                      "dtype": "float32 or float64", "key": "ngc-learn's random key (unused)"},
    }

    def __init__(self, name, n_units, tau_tr, a_delta, P_scale=1.0, gamma_tr=1.0, decay_type="exp",
                 n_nearest_spikes=0, batch_size=1, dtype="float32", key=None):
        super().__init__(name, dtype)
        self._unused_key(key)
        self._set_population(n_units, batch_size)
        self.tau_tr = self._number("tau_tr", tau_tr, 0.0, strict=True)
        self.a_delta = self._number("a_delta", a_delta)
        self.P_scale = self._number("P_scale", P_scale)
        self.gamma_tr = self._number("gamma_tr", gamma_tr)
        if decay_type not in DECAY_TYPES:
            raise self._error(f"decay_type={decay_type!r}; expected one of {DECAY_TYPES}")
        if isinstance(n_nearest_spikes, bool) or not isinstance(n_nearest_spikes, int) or n_nearest_spikes < 0:
            raise self._error(f"n_nearest_spikes={n_nearest_spikes!r} must be an int >= 0")
        self.decay_type = decay_type
        self.settings = (DECAYS.index(decay_type), self.tau_tr, self.gamma_tr, self.a_delta, self.P_scale,
                         n_nearest_spikes)
        self.n_nearest_spikes = n_nearest_spikes
        self.inputs = Compartment(self._zeros(self.shape), display_name="Input signal")
        self.trace = Compartment(self._zeros(self.shape), display_name="Trace")
        self.outputs = Compartment(self._zeros(self.shape), display_name="Trace output")

    @compilable
    def advance_state(self, dt):
        trace, outputs = _trace(self.owner, self.shape, self.dtype, self.inputs.get(), self.trace.get(), dt,
                                *self.settings)
        self.trace.set(trace)
        self.outputs.set(outputs)

    def _steps_advance_state(self):
        return [Step(trace_advance, ("inputs", "trace"), ("trace", "outputs"), keywords=("dt",),
                     constants=self.settings, rows=("inputs", "trace", "outputs"))]

    def _steps_reset(self):
        return [*self._set_to(("inputs",), unwired=("inputs",)), *self._set_to(("trace", "outputs"))]

    @compilable
    def reset(self):
        """Zero trace and outputs, and inputs unless wired."""
        if not self.inputs.targeted:
            self.inputs.set(self.inputs.get() * 0)
        self.trace.set(self.trace.get() * 0)
        self.outputs.set(self.outputs.get() * 0)
