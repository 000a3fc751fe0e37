"""LIFCell: ngc-learn's leaky integrate-and-fire spiking cell, with adaptive thresholds."""

from typing import ClassVar

import numpy as np
from ngcsimlib.compartment import Compartment
from ngcsimlib.parser import compilable

from ngc_optim.cell_kernels import affine
from ngc_optim.circuit import Step
from ngc_optim.spike_kernels import LIF_OUTPUTS, lif_advance, lif_step

from .numpy_component import NumpyComponent

__all__ = ["SURROGATES", "LIFCell"]

SURROGATES = ("straight_through", "triangular", "arctan", "secant_lif")
"""surrogate_type names ngc-learn accepts; its LIFCell 3.2.3 computes the arctan surrogate for all of them."""
_INTEGRATORS = ("euler", "midpoint", "rk2")


def _lif_advance(owner, shape, dtype, j, v, rfr, thr_theta, tols, key, t, dt, membrane, threshold, options):
    """The cell's step through :func:`ngc_optim.spike_kernels.lif_step`, after checking the shapes."""
    j = np.asarray(j, dtype)
    if not (j.shape == v.shape == rfr.shape == thr_theta.shape == tols.shape == shape):
        raise ValueError(f"{owner}: j {j.shape}, v {v.shape}, rfr {rfr.shape}, thr_theta {thr_theta.shape} and "
                         f"tols {tols.shape} must be {shape}")
    return lif_step(j, v, rfr, thr_theta, tols, key, t, dt, membrane, threshold, options)


class LIFCell(NumpyComponent):
    """A leaky integrate-and-fire population, as ngc-learn's LIFCell (3.2.3): same arguments and spikes.

    tau_m * dv/dt = (v_rest - v) * conduct_leak + j * resist_m * [rfr >= refract_time]
    v <- one Euler step, or one midpoint step ("midpoint"/"rk2"), of dt
    s_raw = [v > thr + thr_theta];  where s_raw: v <- v_reset, rfr <- 0;  elsewhere rfr <- rfr + dt
    v <- max(v, v_min) if v_min is given
    thr_theta <- thr_theta * exp(-dt/tau_theta) + s_raw * theta_plus   (if tau_theta > 0; kept by reset)
    s = s_raw, or at most one spike per row: one_spike keeps one drawn uniformly from the row's spikes,
        max_one_spike (which takes precedence) keeps the spike of the row's unit of highest v before the step
    tols <- t where s (time of last spike)
    surrogate = d/dv of arctan(pi * 0.1 * (v - v_thr)) / pi, times resist_m * dt / tau_m

    The refractory mask, the threshold and the surrogate use the values before the step (rfr, thr_theta)
    and the integrated v before its reset, as ngc-learn's. Beyond ngc-learn: batch_size (ngc-learn's cell
    has one row), dtype, and seed for one_spike's draws, which come from the cell's xoshiro256** stream
    whose state is the compartment ``key`` (so a resumed simulation draws the same); reset sets v_thr to
    thr + thr_theta (ngc-learn: thr) and, as ngc-learn, keeps thr_theta and the random stream.

    Args:
        name: the cell's name.
        n_units: number of units.
        tau_m: membrane time constant, ms (> 0).
        resist_m: membrane resistance (> 0; default 1).
        thr: base threshold, mV (default -52).
        v_rest: resting potential, mV (default -65).
        v_reset: potential after a spike, mV (default -60).
        conduct_leak: leak conductance (default 1; 0 gives integrate-and-fire).
        tau_theta: time constant of the adaptive threshold, ms (default 1e7; 0 freezes thr_theta).
        theta_plus: threshold increment per spike (default 0.05).
        refract_time: refractory period, ms (default 5).
        one_spike: at most one spike per row, drawn at random (default False).
        integration_type: "euler" (default), "midpoint" or "rk2".
        surrogate_type: one of SURROGATES (default "straight_through"; all give arctan, as ngc-learn's).
        v_min: lower clamp of v, or None (default).
        max_one_spike: at most one spike per row, that of the highest v (default False).
        batch_size: rows of every (batch_size, n_units) compartment (default 1).
        seed: seed of one_spike's random stream (default 0).
        key: ngc-learn's random key instead of seed (an int, or a JAX-style key of 32-bit words; see
            :func:`ngc_optim.components.numpy_component.seed_from`).
        dtype: "float32" (default) or "float64".
    """

    PER_SAMPLE: ClassVar[frozenset] = frozenset({"j", "v", "rfr", "thr_theta", "surrogate", "s", "s_raw", "tols", "v_thr"})
    SPEC: ClassVar[dict] = {
        "summary": "LIFCell: tau_m dv/dt = (v_rest - v) * conduct_leak + j * resist_m (outside refractory "
                   "periods); spike where v > thr + thr_theta, then v = v_reset",
        "compartments": {
            "inputs": {"j": "input current"},
            "state": {"v": "membrane potential", "rfr": "time since the last spike (refractory clock)",
                      "thr_theta": "adaptive threshold increment", "surrogate": "arctan estimate of ds/dj",
                      "key": "(4,) uint64 state of the random stream (xoshiro256**)"},
            "outputs": {"s": "spikes (0/1)", "s_raw": "spikes before one_spike/max_one_spike",
                        "tols": "time of last spike", "v_thr": "threshold thr + thr_theta"},
        },
        "arguments": {"n_units": "number of units", "tau_m": "membrane time constant (ms)",
                      "resist_m": "resistance (1)", "thr": "base threshold (-52)", "v_rest": "rest (-65)",
                      "v_reset": "reset (-60)", "conduct_leak": "leak conductance (1)",
                      "tau_theta": "threshold time constant (1e7)", "theta_plus": "threshold increment (0.05)",
                      "refract_time": "refractory period (5)", "one_spike": "one random spike per row (False)",
                      "integration_type": "euler, midpoint or rk2", "surrogate_type": f"one of {SURROGATES}",
                      "v_min": "lower clamp of v (None)", "max_one_spike": "one max-v spike per row (False)",
                      "batch_size": "batch rows (1)", "seed": "random stream seed (0)",
                      "key": "ngc-learn's random key, instead of seed",
                      "dtype": "float32 or float64"},
    }

    def __init__(self, name, n_units, tau_m, resist_m=1.0, thr=-52.0, v_rest=-65.0, v_reset=-60.0,
                 conduct_leak=1.0, tau_theta=1e7, theta_plus=0.05, refract_time=5.0, one_spike=False,
                 integration_type="euler", surrogate_type="straight_through", v_min=None, max_one_spike=False,
                 batch_size=1, seed=0, dtype="float32", key=None):
        super().__init__(name, dtype)
        self._set_population(n_units, batch_size)
        self.tau_m = self._number("tau_m", tau_m, 0.0, strict=True)
        self.resist_m = self._number("resist_m", resist_m, 0.0, strict=True)
        self.thr = self._number("thr", thr)
        self.v_rest = self._number("v_rest", v_rest)
        self.v_reset = self._number("v_reset", v_reset)
        self.conduct_leak = self._number("conduct_leak", conduct_leak)
        self.tau_theta = self._number("tau_theta", tau_theta, 0.0)
        self.theta_plus = self._number("theta_plus", theta_plus)
        self.refract_time = self._number("refract_time", refract_time, 0.0)
        self.one_spike = self._flag("one_spike", one_spike)
        self.max_one_spike = self._flag("max_one_spike", max_one_spike)
        if integration_type not in _INTEGRATORS:
            raise self._error(f"integration_type={integration_type!r}; expected one of {_INTEGRATORS}")
        if surrogate_type not in SURROGATES:
            raise self._error(f"surrogate_type={surrogate_type!r}; expected one of {SURROGATES}")
        self.v_min = None if v_min is None else self._number("v_min", v_min)
        self.integration_type = integration_type
        self.surrogate_type = surrogate_type
        self.membrane = (self.tau_m, self.resist_m, self.v_rest, self.v_reset, self.conduct_leak,
                         self.refract_time, 0.0 if v_min is None else self.v_min)
        self.threshold = (self.thr, self.tau_theta, self.theta_plus)
        self.options = (integration_type != "euler", self.tau_theta > 0, v_min is not None, one_spike,
                        max_one_spike)
        self.j = Compartment(self._zeros(self.shape), display_name="Current", units="mA")
        self.v = Compartment(self._filled(self.v_rest), display_name="Voltage", units="mV")
        self.rfr = Compartment(self._filled(self.refract_time), display_name="Refractory Time Period", units="ms")
        self.thr_theta = Compartment(self._zeros(self.shape), display_name="Threshold Adaptive Shift", units="mV")
        self.surrogate = Compartment(self._filled(1.0), display_name="Surrogate State Value")
        self.key = Compartment(self._random_key(seed, key), display_name="Random stream state")
        self.s = Compartment(self._zeros(self.shape), display_name="Spikes")
        self.s_raw = Compartment(self._zeros(self.shape), display_name="Raw Spike Pulses")
        self.tols = Compartment(self._zeros(self.shape), display_name="Time-of-Last-Spike", units="ms")
        self.v_thr = Compartment(self._filled(self.thr), display_name="Voltage threshold", units="mV")

    def _filled(self, value):
        return np.full(self.shape, value, self.dtype)

    @compilable
    def advance_state(self, dt, t):
        out, key = _lif_advance(self.owner, self.shape, self.dtype, self.j.get(), self.v.get(), self.rfr.get(),
                            self.thr_theta.get(), self.tols.get(), self.key.get(), t, dt, self.membrane,
                            self.threshold, self.options)
        self.v.set(out[0])
        self.s.set(out[1])
        self.s_raw.set(out[2])
        self.rfr.set(out[3])
        self.thr_theta.set(out[4])
        self.v_thr.set(out[5])
        self.surrogate.set(out[6])
        self.tols.set(out[7])
        self.key.set(key)

    def _steps_advance_state(self):
        return [Step(lif_advance, ("j", "v", "rfr", "thr_theta", "tols", "key"), (*LIF_OUTPUTS, "key"),
                     keywords=("t", "dt"), constants=(self.membrane, self.threshold, self.options))]

    def _steps_reset(self):
        return [*self._set_to(("j",), unwired=("j",)), *self._set_to(("v",), self.v_rest),
                *self._set_to(("rfr",), self.refract_time), *self._set_to(("surrogate",), 1),
                Step(affine, ("thr_theta",), ("v_thr",), constants=(1, self.thr), rows=("thr_theta", "v_thr")),
                *self._set_to(("s", "s_raw", "tols"))]

    @compilable
    def reset(self):
        """v to v_rest, rfr to refract_time, surrogate to 1, v_thr to thr + thr_theta; zero s, s_raw, tols,
        and j unless wired. thr_theta and the random stream are kept."""
        if not self.j.targeted:
            self.j.set(self.j.get() * 0)
        self.v.set(self.v.get() * 0 + self.v_rest)
        self.rfr.set(self.rfr.get() * 0 + self.refract_time)
        self.surrogate.set(self.surrogate.get() * 0 + 1)
        self.v_thr.set(self.thr_theta.get() + self.thr)
        self.s.set(self.s.get() * 0)
        self.s_raw.set(self.s_raw.get() * 0)
        self.tols.set(self.tols.get() * 0)
