"""RateCell: ngc-learn's graded (rate-coded) cell of predictive-coding networks."""

from typing import ClassVar

import numpy as np
from ngcsimlib.compartment import Compartment
from ngcsimlib.parser import compilable

from ngc_optim.cell_kernels import ACTIVATIONS as _KERNEL_ACTIVATIONS
from ngc_optim.cell_kernels import LEAKS, RATE_CARRIED, RATE_STEPS, THRESHOLDS
from ngc_optim.circuit import Step

from .numpy_component import NumpyComponent

__all__ = ["ACTIVATIONS", "RateCell"]

ACTIVATIONS = tuple(_KERNEL_ACTIVATIONS)
"""act_fx names, with ngc-learn's definitions (see :mod:`ngc_optim.cell_kernels`)."""

_INTEGRATORS = ("euler", "midpoint", "rk2")


def _rate_advance(owner, shape, dtype, kernel, z, j, j_td, dt, constants):
    """The cell's step through its Numba kernel, after checking the shapes of z, j and j_td."""
    if z.shape != shape or j.shape != shape or j_td.shape != shape:
        raise ValueError(f"{owner}: z {z.shape}, j {j.shape} and j_td {j_td.shape} must be {shape}")
    return kernel(np.asarray(z, dtype), np.asarray(j, dtype), np.asarray(j_td, dtype), dt, *constants)


class RateCell(NumpyComponent):
    """A graded rate cell, as ngc-learn's RateCell (without laterals, thresholds or patches).

    Stateful (tau_m > 0), with j modulated by the activation's derivative at the current z:

    j' = j * dfx(z) * resist_scale
    tau_m * dz/dt = -gamma * leak(z) + (j' + j_td),  leak(z) = z (gaussian), sign(z) (laplacian),
                                                     2z/(1 + z**2) (cauchy) or 2z*exp(-z**2) (exp)
    z <- one Euler step (z + f(z)*dt) or midpoint step (z + f(z + f(z)*dt/2)*dt)
    z <- threshold(z):  none; soft_threshold, max(z - lmbda, 0) - max(-z - lmbda, 0); cauchy_threshold,
         (z + r)/2 where z >= lmbda, (z - r)/2 where z <= -lmbda, else 0, r = sqrt(max(z**2 - lmbda, 0))

    Stateless (tau_m = 0): z = j + j_td. In both cases zF = fx(z) * output_scale.
    Unlike ngc-learn, the modulated j is not written back into the j compartment
    (when j is wired, that would write into the compartment it is wired from).

    Args:
        name: the cell's name.
        n_units: number of units.
        tau_m: membrane time constant (> 0), or 0 for a stateless cell.
        prior: (name, gamma): "gaussian", "laplacian", "cauchy" or "exp" and the leak strength (default
            ("gaussian", 0)); a name of None is "gaussian", as in ngc-learn (pc_reconstruction's (None, 0)).
        threshold: (name, lmbda): "none", "soft_threshold" (ISTA's) or "cauchy_threshold" and its strength,
            applied to z after each stateful step (default ("none", 0)). ngc-learn 3.2.3's cauchy_threshold
            fails when called; this one follows its documented formula.
        act_fx: one of ACTIVATIONS (default "identity").
        output_scale: multiplies zF (default 1).
        integration_type: "euler" (default) or "midpoint" ("rk2").
        batch_size: rows of every (batch_size, n_units) compartment (default 1).
        resist_scale: multiplies the modulated j (default 1).
        dtype: "float32" (default) or "float64".
        key: ngc-learn's random key: accepted and unused (the cell draws no random numbers).
    """

    PER_SAMPLE: ClassVar[frozenset] = frozenset({"j", "j_td", "z", "zF"})
    SPEC: ClassVar[dict] = {
        "summary": "RateCell: tau_m dz/dt = -gamma*leak(z) + (j*dfx(z)*resist_scale + j_td); zF = fx(z)*output_scale",
        "compartments": {
            "inputs": {"j": "bottom-up pressure", "j_td": "top-down pressure"},
            "state": {"z": "rate activity (pre-activation)"},
            "outputs": {"zF": "fx(z) * output_scale"},
        },
        "arguments": {"n_units": "number of units", "tau_m": "time constant, 0 for stateless",
                      "prior": "(gaussian|laplacian|cauchy|exp|None, gamma)",
                      "threshold": "(none|soft_threshold|cauchy_threshold, lmbda)", "act_fx": f"one of {sorted(ACTIVATIONS)}",
                      "output_scale": "zF gain (1)", "integration_type": "euler or midpoint",
                      "batch_size": "batch rows (1)", "resist_scale": "gain on j (1)", "dtype": "float32 or float64",
                      "key": "ngc-learn's random key (unused)"},
    }

    def __init__(self, name, n_units, tau_m, prior=("gaussian", 0.0), act_fx="identity", output_scale=1.0,
                 threshold=("none", 0.0), integration_type="euler", batch_size=1, resist_scale=1.0, dtype="float32",
                 key=None):
        super().__init__(name, dtype)
        self._unused_key(key)
        if isinstance(prior, (list, tuple)) and len(prior) == 2 and prior[0] is None:
            prior = ("gaussian", prior[1])
        self._check_population(n_units, batch_size)
        if not (isinstance(tau_m, (int, float)) and np.isfinite(tau_m) and tau_m >= 0):
            raise self._error(f"tau_m={tau_m!r} must be >= 0 (0: stateless)")
        if not (isinstance(prior, (list, tuple)) and len(prior) == 2 and prior[0] in LEAKS
                and isinstance(prior[1], (int, float)) and np.isfinite(prior[1])):
            raise self._error(f"prior={prior!r}; expected (name, gamma) with name in {sorted(LEAKS)}")
        if not (isinstance(threshold, (list, tuple)) and len(threshold) == 2 and threshold[0] in THRESHOLDS
                and isinstance(threshold[1], (int, float)) and not isinstance(threshold[1], bool)
                and np.isfinite(threshold[1])):
            raise self._error(f"threshold={threshold!r}; expected (name, lmbda) with name in {list(THRESHOLDS)}")
        if act_fx not in ACTIVATIONS:
            raise self._error(f"act_fx={act_fx!r}; expected one of {sorted(ACTIVATIONS)}")
        if integration_type not in _INTEGRATORS:
            raise self._error(f"integration_type={integration_type!r}; expected one of {_INTEGRATORS}")
        for setting, value in (("output_scale", output_scale), ("resist_scale", resist_scale)):
            if not (isinstance(value, (int, float)) and np.isfinite(value)):
                raise self._error(f"{setting}={value!r} must be a finite number")
        self.n_units = n_units
        self.batch_size = batch_size
        self.tau_m = float(tau_m)
        self.gamma = float(prior[1])
        self.threshold = (threshold[0], float(threshold[1]))
        self.kind = (act_fx, prior[0], "euler" if integration_type == "euler" else "midpoint")
        self.kernel = RATE_STEPS[self.kind]
        self.output_scale = float(output_scale)
        self.resist_scale = float(resist_scale)
        self.owner = f"RateCell {name!r}"
        self.constants = (self.tau_m, self.gamma, self.output_scale, self.resist_scale,
                          THRESHOLDS.index(self.threshold[0]), self.threshold[1])
        """The kernel's arguments after dt: tau_m, gamma, output_scale, resist_scale, threshold code, lmbda."""
        self.shape = (batch_size, n_units)
        self.j = Compartment(self._zeros((batch_size, n_units)), display_name="bottom-up pressure")
        self.j_td = Compartment(self._zeros((batch_size, n_units)), display_name="top-down pressure")
        self.z = Compartment(self._zeros((batch_size, n_units)), display_name="rate activity")
        self.zF = Compartment(self._zeros((batch_size, n_units)), display_name="transformed rate activity")

    @compilable
    def advance_state(self, dt):
        z, zF = _rate_advance(self.owner, self.shape, self.dtype, self.kernel, self.z.get(), self.j.get(),
                              self.j_td.get(), dt, self.constants)
        self.z.set(z)
        self.zF.set(zF)

    def _steps_advance_state(self):
        return [Step(self.kernel, ("z", "j", "j_td"), ("z", "zF"), keywords=("dt",),
                     constants=self.constants, rows=("z", "j", "j_td", "zF"), carry=RATE_CARRIED[self.kind] if self.tau_m > 0 else ())]

    def _steps_reset(self):
        return self._set_to(("j", "j_td", "z", "zF"), unwired=("j", "j_td"))

    @compilable
    def reset(self):
        """Zero z and zF, and j and j_td unless they are wired from other compartments."""
        if not self.j.targeted:
            self.j.set(self.j.get() * 0)
        if not self.j_td.targeted:
            self.j_td.set(self.j_td.get() * 0)
        self.z.set(self.z.get() * 0)
        self.zF.set(self.zF.get() * 0)
