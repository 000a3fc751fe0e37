"""WTASCell: ngc-learn's winner-take-all spiking cell."""

from typing import ClassVar

import numpy as np
from ngcsimlib.compartment import Compartment
from ngcsimlib.parser import compilable

from ngc_optim.circuit import Step
from ngc_optim.spike_kernels import wtas_advance

from .numpy_component import NumpyComponent

__all__ = ["WTASCell"]

WTAS_OUTPUTS = ("v", "s", "thr", "rfr", "tols")


def _wtas(owner, shape, dtype, j, thr, rfr, tols, t, dt, settings):
    """The cell's step through :func:`ngc_optim.spike_kernels.wtas_advance`, after checking the input's shape."""
    j = np.asarray(j, dtype)
    if j.shape != shape:
        raise ValueError(f"{owner}: j {j.shape} must be {shape}")
    return wtas_advance(j, thr, rfr, tols, t, dt, *settings)


class WTASCell(NumpyComponent):
    """A winner-take-all spiking cell, as ngc-learn's WTASCell.

    v = j * resist_m where rfr >= refract_time, else 0;   p = softmax(v) over each row's units
    s = p > thr;   thr = max(thr + (sum of the row's s - 1) * thr_gain, 0.025)
    rfr = rfr + dt, or dt where s;   tols = t where s

    The thresholds start at thr_base + U(-thr_jitter, thr_jitter) per unit (drawn from the cell's seed or
    key with NumPy's generator, not JAX's), the same for every row, and adapt per row; ``reset`` leaves them
    (as ngc-learn's). tau_m is accepted for ngc-learn's signature and, as there, unused.

    Args:
        name: the cell's name.
        n_units: number of units.
        tau_m: membrane time constant (> 0; unused, as in ngc-learn).
        resist_m: membrane resistance (default 1).
        thr_base: base threshold (default 0.4).
        thr_gain: threshold change per spike above one per row (default 0.002).
        refract_time: refractory period, ms (>= 0; default 0).
        thr_jitter: half-width of the thresholds' initial jitter (>= 0; default 0.05).
        batch_size: rows of every (batch_size, n_units) compartment (default 1).
        seed, key: the jitter's seed, or ngc-learn's key (see :func:`ngc_optim.components.seed_from`).
        dtype: "float32" (default) or "float64".
    """

    PER_SAMPLE: ClassVar[frozenset] = frozenset({"j", *WTAS_OUTPUTS})
    SPEC: ClassVar[dict] = {
        "summary": "WTASCell: v = j * resist_m outside refractory periods; s = softmax(v) > thr; thr adapts",
        "compartments": {
            "inputs": {"j": "input current"},
            "state": {"v": "membrane potential", "thr": "adaptive thresholds", "rfr": "time since last spike"},
            "outputs": {"s": "spikes", "tols": "time of last spike"},
        },
        "arguments": {"n_units": "number of units", "tau_m": "time constant (unused)", "resist_m": "resistance (1)",
                      "thr_base": "base threshold (0.4)", "thr_gain": "threshold gain (0.002)",
                      "refract_time": "refractory period (0 ms)", "thr_jitter": "initial jitter (0.05)",
                      "batch_size": "batch rows (1)", "seed": "jitter seed (0)",
                      "key": "ngc-learn's random key, instead of seed", "dtype": "float32 or float64"},
    }

    def __init__(self, name, n_units, tau_m, resist_m=1.0, thr_base=0.4, thr_gain=0.002, refract_time=0.0,
                 thr_jitter=0.05, batch_size=1, seed=0, dtype="float32", key=None):
        super().__init__(name, dtype)
        self._set_population(n_units, batch_size)
        self.tau_m = self._number("tau_m", tau_m, 0.0, strict=True)
        self.resist_m = self._number("resist_m", resist_m)
        self.thr_base = self._number("thr_base", thr_base)
        self.thr_gain = self._number("thr_gain", thr_gain)
        self.refract_time = self._number("refract_time", refract_time, 0.0)
        self.thr_jitter = self._number("thr_jitter", thr_jitter, 0.0)
        rng = np.random.default_rng(self._seed(seed, key))
        jitter = rng.uniform(-self.thr_jitter, self.thr_jitter, (1, n_units)).astype(self.dtype)
        self.settings = (self.resist_m, self.refract_time, self.thr_gain)
        self.j = Compartment(self._zeros(self.shape), display_name="Input current")
        self.v = Compartment(self._zeros(self.shape), display_name="Membrane potential")
        self.s = Compartment(self._zeros(self.shape), display_name="Spikes")
        self.thr = Compartment(np.repeat(self.dtype.type(self.thr_base) + jitter, batch_size, axis=0),
                               display_name="Adaptive thresholds")
        self.rfr = Compartment(np.full(self.shape, self.refract_time, self.dtype), display_name="Refractory clock")
        self.tols = Compartment(self._zeros(self.shape), display_name="Time of last spike")

    @compilable
    def advance_state(self, t, dt):
        v, s, thr, rfr, tols = _wtas(self.owner, self.shape, self.dtype, self.j.get(), self.thr.get(), self.rfr.get(),
                                     self.tols.get(), t, dt, self.settings)
        self.v.set(v)
        self.s.set(s)
        self.thr.set(thr)
        self.rfr.set(rfr)
        self.tols.set(tols)

    def _steps_advance_state(self):
        return [Step(wtas_advance, ("j", "thr", "rfr", "tols"), WTAS_OUTPUTS, keywords=("t", "dt"),
                     constants=self.settings, rows=("j", *WTAS_OUTPUTS))]

    def _steps_reset(self):
        return [*self._set_to(("j",), unwired=("j",)), *self._set_to(("v", "s", "tols")),
                *self._set_to(("rfr",), offset=self.refract_time)]

    @compilable
    def reset(self):
        """Zero v, s and tols, rfr to refract_time, and j unless wired; the thresholds stay."""
        if not self.j.targeted:
            self.j.set(self.j.get() * 0)
        self.v.set(self.v.get() * 0)
        self.s.set(self.s.get() * 0)
        self.rfr.set(self.rfr.get() * 0 + self.refract_time)
        self.tols.set(self.tols.get() * 0)
