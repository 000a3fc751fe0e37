"""RateCell: ngc-learn's graded (rate-coded) cell of predictive-coding networks."""

from typing import ClassVar

import numpy as np
from ngcsimlib.compartment import Compartment
from ngcsimlib.parser import compilable

from ngc_optim.cell_kernels import ACTIVATIONS as _KERNEL_ACTIVATIONS
from ngc_optim.cell_kernels import (
    LEAKS,
    RATE_CARRIED,
    RATE_STEPS,
    THRESHOLDS,
    rate_lateral_step,
    rate_optimized_step,
)
from ngc_optim.circuit import Step, held_steps
from ngc_optim.optim import get_optimizer

from .numpy_component import NumpyComponent
from .patched_synapse import HebbianPatchedSynapse, StaticPatchedSynapse

__all__ = ["ACTIVATIONS", "RateCell"]

ACTIVATIONS = tuple(_KERNEL_ACTIVATIONS)
"""act_fx names, with ngc-learn's definitions (see :mod:`ngc_optim.cell_kernels`)."""

_INTEGRATORS = ("euler", "midpoint", "rk2")


def _rate_advance(owner, shape, dtype, kernel, z, j, j_td, dt, constants, *lateral):
    """The cell's step through its Numba kernel, after checking the shapes of z, j and j_td (and j_lat, the one
    array of ``lateral`` when the cell has lateral pressure)."""
    arrays = (z, j, j_td, *lateral)
    if any(array.shape != shape for array in arrays):
        found = ", ".join(f"{name} {array.shape}" for name, array in zip(("z", "j", "j_td", "j_lat"), arrays))
        raise ValueError(f"{owner}: {found} must be {shape}")
    arrays = tuple(np.asarray(array, dtype) for array in arrays)
    return kernel(*arrays[:3], *arrays[3:], dt, *constants)


def _optimized_advance(owner, shape, dtype, kernel, dt, constants, z, j, j_td, count, *slots):
    """The step of a cell with a state optimizer through its Numba kernel, after checking the shapes of z, j,
    j_td and the slots, and opt_count's (int64, one row per sample)."""
    if count.shape != (shape[0], 1) or count.dtype != np.int64:
        raise ValueError(f"{owner}: opt_count is {count.dtype}{list(count.shape)}; expected int64{[shape[0], 1]}")
    arrays = (z, j, j_td, *slots)
    if any(array.shape != shape for array in arrays):
        found = ", ".join(f"{array.shape}" for array in arrays)
        raise ValueError(f"{owner}: z, j, j_td and the state_optim slots are {found}; each must be {shape}")
    z, j, j_td, *slots = (np.asarray(array, dtype) for array in arrays)
    return kernel(z, j, j_td, count, *slots, dt, *constants)


class RateCell(NumpyComponent):
    """A graded rate cell, as ngc-learn's RateCell.

    Stateful (tau_m > 0), with j modulated by the activation's derivative at the current z:

    j' = j * dfx(z) * resist_scale
    tau_m * dz/dt = -gamma * leak(z) + (j' + j_td),  leak(z) = z (gaussian), sign(z) (laplacian),
                                                     2z/(1 + z**2) (cauchy) or 2z*exp(-z**2) (exp)
    z <- one Euler step (z + f(z)*dt) or midpoint step (z + f(z + f(z)*dt/2)*dt)
    z <- threshold(z):  none; soft_threshold, max(z - lmbda, 0) - max(-z - lmbda, 0); cauchy_threshold,
         (z + r)/2 where z >= lmbda, (z - r)/2 where z <= -lmbda, else 0, r = sqrt(max(z**2 - lmbda, 0))

    Stateless (tau_m = 0, or is_stateful False): z = j + j_td. In both cases zF = fx(z) * output_scale.
    Unlike ngc-learn, the modulated j is not written back into the j compartment
    (when j is wired, that would write into the compartment it is wired from).

    With ``use_lateral`` (ngc-learn's lateral pressure), the cell holds a synapse ``Wl`` (n_units x
    n_units, ``n_patch`` patches along the diagonal, exc on the diagonal and inh off it: a
    StaticPatchedSynapse, or with ``adaptive_lateral`` a HebbianPatchedSynapse with Wl_eta, Wl_opt_type,
    Wl_prior and sign_value 1) wired zF_lat -> Wl.inputs, Wl.outputs -> j_lat (and zF_lat -> Wl.pre, Wl.post
    when adaptive). Each step first transmits (j_lat = zF_lat @ Wl, from the last step's zF_lat), then

    j' = j * dfx(z) * resist_scale + j_lat * dfx_lat(z) * resist_scale;   zF_lat = fx_lat(z) * output_scale

    (fx_lat = act_fx unless given); ``evolve`` steps Wl when adaptive, ``reset`` resets it.

    With ``state_optim`` (inference through an optimizer, as PCX steps its latent states with optax), z is
    stepped by an ngc_optim optimizer on the gradient of the energy instead of an Euler step:

    g = gamma * leak(z) - (j * dfx(z) * resist_scale + j_td)          (= -tau_m dz/dt)
    z, opt_<slot> <- the optimizer's rule on (z, g, opt_<slot>) at step t = opt_count + 1;  opt_count += 1
    z <- threshold(z)

    per sample (each row its own count; all rows step together). The optimizer's step size replaces dt / tau_m
    (SGD with eta = dt / tau_m is the Euler step, to rounding), so dt and tau_m only make the cell stateful.
    The optimizer's state lives in compartments, one row per sample: ``opt_count`` (int64, (batch_size, 1)),
    the steps taken, and ``opt_<slot>`` for each of its slots (``phi`` for NAG, ``velocity`` for momentum,
    ``cache`` for RMSprop, ``g1`` and ``g2`` for Adam and AdamW); ``reset`` zeroes them (a predictive-coding
    model resets them before each batch, as PCX initialises its state optimizer per batch). Euler integration
    only, without lateral pressure.

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
        shape: ngc-learn's 3-D cell shape: None only (default).
        is_stateful: False runs the cell stateless whatever tau_m (default True).
        use_lateral: lateral pressure through a held synapse Wl (default False).
        adaptive_lateral: Wl learns (HebbianPatchedSynapse; default False: StaticPatchedSynapse).
        exc_inh: (exc, inh), Wl's initial diagonal and off-diagonal values (default (0, 0)).
        n_patch: patches of Wl along its diagonal, dividing n_units (default 1).
        fx_lat: the activation of the lateral pressure, one of ACTIVATIONS (default act_fx).
        Wl_eta, Wl_opt_type, Wl_prior: Wl's eta, optim_type and prior when adaptive (defaults 0, "sgd",
            (None, 0)).
        state_optim: None (default: Euler or midpoint steps), or the optimizer stepping z: a name of
            :data:`ngc_optim.optim.OPTIMIZERS` or a dict of its name ("name") and hyperparameters, e.g.
            {"name": "nag", "eta": 0.1, "mu": 0.5}.
        dtype: "float32" (default) or "float64".
        key: ngc-learn's random key: accepted and unused (the cell draws no random numbers).
    """

    PER_SAMPLE: ClassVar[frozenset] = frozenset({"j", "j_td", "z", "zF"})
    SPEC: ClassVar[dict] = {
        "summary": "RateCell: tau_m dz/dt = -gamma*leak(z) + (j*dfx(z)*resist_scale + j_td); zF = fx(z)*output_scale",
        "compartments": {
            "inputs": {"j": "bottom-up pressure", "j_td": "top-down pressure",
                       "j_lat": "lateral pressure, Wl.outputs (use_lateral only)"},
            "state": {"z": "rate activity (pre-activation)",
                      "opt_count": "state_optim's steps, int64 (batch_size, 1) (state_optim only)",
                      "opt_<slot>": "state_optim's state: phi, velocity, cache, g1, g2 (state_optim only)"},
            "outputs": {"zF": "fx(z) * output_scale", "zF_lat": "fx_lat(z) * output_scale (use_lateral only)"},
        },
        "arguments": {"n_units": "number of units", "tau_m": "time constant, 0 for stateless",
                      "prior": "(gaussian|laplacian|cauchy|exp|None, gamma)",
                      "threshold": "(none|soft_threshold|cauchy_threshold, lmbda)", "act_fx": f"one of {sorted(ACTIVATIONS)}",
                      "output_scale": "zF gain (1)", "integration_type": "euler or midpoint",
                      "batch_size": "batch rows (1)", "resist_scale": "gain on j (1)", "shape": "None only",
                      "is_stateful": "False: stateless (True)", "use_lateral": "lateral pressure (False)",
                      "adaptive_lateral": "Wl learns (False)", "exc_inh": "Wl's diagonal, off-diagonal (0, 0)",
                      "n_patch": "Wl's patches (1)", "fx_lat": "lateral activation (act_fx)",
                      "Wl_eta": "Wl's eta (0)", "Wl_opt_type": "Wl's optimizer (sgd)",
                      "Wl_prior": "Wl's prior (None, 0)",
                      "state_optim": "optimizer stepping z: name or {name, hyperparameters} (None: Euler)",
                      "dtype": "float32 or float64",
                      "key": "ngc-learn's random key (unused)"},
    }
    LATERAL: ClassVar[frozenset] = frozenset({"j_lat", "zF_lat"})
    """The compartments a cell with lateral pressure adds (one row per sample)."""

    def __init__(self, name, n_units, tau_m, prior=("gaussian", 0.0), act_fx="identity", output_scale=1.0,
                 threshold=("none", 0.0), integration_type="euler", batch_size=1, resist_scale=1.0, shape=None,
                 is_stateful=True, use_lateral=False, adaptive_lateral=False, exc_inh=(0.0, 0.0), n_patch=1,
                 fx_lat=None, Wl_eta=0.0, Wl_opt_type="sgd", Wl_prior=(None, 0.0), state_optim=None,
                 dtype="float32", key=None):
        super().__init__(name, dtype)
        self._unused_key(key)
        if isinstance(prior, (list, tuple)) and len(prior) == 2 and prior[0] is None:
            prior = ("gaussian", prior[1])
        self._check_population(n_units, batch_size)
        if shape is not None:
            raise self._error(f"shape={shape!r}: only 2-D (batch_size, n_units) cells are supported (shape=None)")
        for flag, value in (("is_stateful", is_stateful), ("use_lateral", use_lateral),
                            ("adaptive_lateral", adaptive_lateral)):
            if not isinstance(value, bool):
                raise self._error(f"{flag}={value!r} must be True or False")
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
        self.tau_m = float(tau_m) if is_stateful else 0.0
        self.gamma = float(prior[1])
        self.threshold = (threshold[0], float(threshold[1]))
        self.kind = (act_fx, prior[0], "euler" if integration_type == "euler" else "midpoint")
        self.kernel = RATE_STEPS[self.kind]
        self.output_scale = float(output_scale)
        self.resist_scale = float(resist_scale)
        self.owner = f"RateCell {name!r}"
        self.constants = (self.tau_m, self.gamma, self.output_scale, self.resist_scale,
                          THRESHOLDS.index(self.threshold[0]), self.threshold[1])
        """The kernel's arguments after dt: tau_m, gamma, output_scale, resist_scale, threshold code, lmbda (and,
        with state_optim, the optimizer's step constants)."""
        self.shape = (batch_size, n_units)
        self.j = Compartment(self._zeros((batch_size, n_units)), display_name="bottom-up pressure")
        self.j_td = Compartment(self._zeros((batch_size, n_units)), display_name="top-down pressure")
        self.z = Compartment(self._zeros((batch_size, n_units)), display_name="rate activity")
        self.zF = Compartment(self._zeros((batch_size, n_units)), display_name="transformed rate activity")
        self.use_lateral, self.adaptive_lateral = use_lateral, adaptive_lateral
        self.Wl = None
        if use_lateral:
            self._lay_lateral(act_fx if fx_lat is None else fx_lat, exc_inh, n_patch, Wl_eta, Wl_opt_type, Wl_prior)
        self.state_optimizer = None
        if state_optim is not None:
            self._lay_state_optimizer(state_optim)

    def _lay_state_optimizer(self, state_optim):
        """The optimizer stepping z, its kernel, and the compartments of its state (see the class)."""
        name, hyperparameters = (state_optim, {}) if isinstance(state_optim, str) else (None, None)
        if isinstance(state_optim, dict) and isinstance(state_optim.get("name"), str):
            hyperparameters = {key: value for key, value in state_optim.items() if key != "name"}
            name = state_optim["name"]
        if name is None:
            raise self._error(f"state_optim={state_optim!r}; expected an optimizer's name or a dict of its name "
                              f"and hyperparameters")
        try:
            self.state_optimizer = get_optimizer(name, **hyperparameters)
        except (TypeError, ValueError) as error:
            raise self._error(f"state_optim: {error}") from None
        if self.tau_m == 0 or self.kind[2] != "euler" or self.use_lateral:
            raise self._error("state_optim steps a stateful cell (tau_m > 0), with integration_type euler and "
                              "without lateral pressure")
        self.state_slots = tuple(f"opt_{slot}" for slot in self.state_optimizer.State.slot_names)
        self.optimized_kernel, self.optimized_carry = rate_optimized_step(
            self.kind[0], self.kind[1], self.state_optimizer.kernel, len(self.state_slots))
        self.constants = (*self.constants, self.state_optimizer.step_constants)
        self.PER_SAMPLE = RateCell.PER_SAMPLE | {"opt_count", *self.state_slots}
        self.opt_count = Compartment(np.zeros((self.batch_size, 1), np.int64), display_name="state_optim's steps")
        for slot in self.state_slots:
            setattr(self, slot, Compartment(self._zeros(self.shape), display_name=f"state_optim's {slot[4:]}"))

    def _lay_lateral(self, fx_lat, exc_inh, n_patch, eta, optim_type, prior):
        """The lateral synapse Wl and the compartments j_lat, zF_lat (see the class)."""
        if fx_lat not in ACTIVATIONS:
            raise self._error(f"fx_lat={fx_lat!r}; expected one of {sorted(ACTIVATIONS)}")
        if not (isinstance(exc_inh, (list, tuple)) and len(exc_inh) == 2
                and all(isinstance(value, (int, float)) and np.isfinite(value) for value in exc_inh)):
            raise self._error(f"exc_inh={exc_inh!r} must be two finite numbers (exc, inh)")
        self.lateral_kernel = rate_lateral_step(self.kind, fx_lat)
        self.PER_SAMPLE = RateCell.PER_SAMPLE | self.LATERAL
        init = {"dist": "diag_offdiag", "on_diag": float(exc_inh[0]), "off_diag": float(exc_inh[1])}
        shape = (self.n_units, self.n_units)
        if self.adaptive_lateral:
            self.Wl = HebbianPatchedSynapse(f"Wl_{self.name}", shape, n_sub_models=n_patch, eta=eta,
                                            weight_init=init, prior=prior, sign_value=1.0, optim_type=optim_type,
                                            batch_size=self.batch_size, dtype=self.dtype.name)
        else:
            self.Wl = StaticPatchedSynapse(f"Wl_{self.name}", shape, n_sub_models=n_patch, weight_init=init,
                                           batch_size=self.batch_size, dtype=self.dtype.name)
        self.j_lat = Compartment(self._zeros(self.shape), display_name="lateral pressure")
        self.zF_lat = Compartment(self._zeros(self.shape), display_name="fx_lat(z) * output_scale")

    def compile(self):
        """Wire the lateral synapse (zF_lat -> Wl.inputs, Wl.outputs -> j_lat; zF_lat -> Wl.pre and Wl.post when
        it learns) and compile it again with that wiring, as ngc-learn's RateCell does; then compile."""
        if self.use_lateral:
            self.zF_lat >> self.Wl.inputs
            self.Wl.outputs >> self.j_lat
            if self.adaptive_lateral:
                self.zF_lat >> self.Wl.pre
                self.zF_lat >> self.Wl.post
            self.Wl.compile()
        super().compile()

    def _held(self):
        return (self.Wl,) if self.use_lateral else ()

    def _rebatch(self, batch_size):
        super()._rebatch(batch_size)
        if self.use_lateral:
            self.Wl.resize_batch(batch_size, keep_rows=False)

    def save(self, directory):
        """Save the cell (and its lateral synapse, to ``<directory>/Wl_<name>.h5``)."""
        super().save(directory)
        if self.use_lateral:
            self.Wl.save(directory)

    def load(self, directory):
        """Load what :meth:`save` wrote."""
        super().load(directory)
        if self.use_lateral:
            self.Wl.load(directory)

    @compilable
    def advance_state(self, dt):
        """One step (see the class). With state_optim, one branch per set of the optimizer's slots: ngcsimlib
        compiles the compartments the code names."""
        if self.state_optimizer is not None:
            arguments = (self.owner, self.shape, self.dtype, self.optimized_kernel, dt, self.constants,
                         self.z.get(), self.j.get(), self.j_td.get(), self.opt_count.get())
            if self.state_slots == ("opt_g1", "opt_g2"):
                z, zF, count, g1, g2 = _optimized_advance(*arguments, self.opt_g1.get(), self.opt_g2.get())
                self.opt_g1.set(g1)
                self.opt_g2.set(g2)
            elif self.state_slots == ("opt_phi",):
                z, zF, count, phi = _optimized_advance(*arguments, self.opt_phi.get())
                self.opt_phi.set(phi)
            elif self.state_slots == ("opt_velocity",):
                z, zF, count, velocity = _optimized_advance(*arguments, self.opt_velocity.get())
                self.opt_velocity.set(velocity)
            elif self.state_slots == ("opt_cache",):
                z, zF, count, cache = _optimized_advance(*arguments, self.opt_cache.get())
                self.opt_cache.set(cache)
            else:
                z, zF, count = _optimized_advance(*arguments)
            self.opt_count.set(count)
        elif self.use_lateral:
            self.Wl.advance_state()
            z, zF, zF_lat = _rate_advance(self.owner, self.shape, self.dtype, self.lateral_kernel, self.z.get(),
                                          self.j.get(), self.j_td.get(), dt, self.constants, self.j_lat.get())
            self.zF_lat.set(zF_lat)
        else:
            z, zF = _rate_advance(self.owner, self.shape, self.dtype, self.kernel, self.z.get(), self.j.get(),
                                  self.j_td.get(), dt, self.constants)
        self.z.set(z)
        self.zF.set(zF)

    def _steps_advance_state(self):
        if self.state_optimizer is not None:
            names = ("opt_count", *self.state_slots)
            return [Step(self.optimized_kernel, ("z", "j", "j_td", *names), ("z", "zF", *names), keywords=("dt",),
                         constants=self.constants, rows=("z", "j", "j_td", "zF", *names), carry=self.optimized_carry)]
        if self.use_lateral:
            return [*held_steps(self.Wl.compiled_steps("advance_state"), "Wl"),
                    Step(self.lateral_kernel, ("z", "j", "j_td", "j_lat"), ("z", "zF", "zF_lat"), keywords=("dt",),
                         constants=self.constants, rows=("z", "j", "j_td", "j_lat", "zF", "zF_lat"))]
        return [Step(self.kernel, ("z", "j", "j_td"), ("z", "zF"), keywords=("dt",),
                     constants=self.constants, rows=("z", "j", "j_td", "zF"), carry=RATE_CARRIED[self.kind] if self.tau_m > 0 else ())]

    @compilable
    def evolve(self):
        """Step the lateral synapse when it learns (adaptive_lateral); nothing otherwise, as ngc-learn's."""
        if self.use_lateral and self.adaptive_lateral:
            self.Wl.evolve()

    def _reset_state_optimizer(self):
        """Zero the state optimizer's count and slots (one branch per set of slots, as _optimized_advance)."""
        self.opt_count.set(self.opt_count.get() * 0)
        if self.state_slots == ("opt_g1", "opt_g2"):
            self.opt_g1.set(self.opt_g1.get() * 0)
            self.opt_g2.set(self.opt_g2.get() * 0)
        elif self.state_slots == ("opt_phi",):
            self.opt_phi.set(self.opt_phi.get() * 0)
        elif self.state_slots == ("opt_velocity",):
            self.opt_velocity.set(self.opt_velocity.get() * 0)
        elif self.state_slots == ("opt_cache",):
            self.opt_cache.set(self.opt_cache.get() * 0)

    def _steps_evolve(self):
        if self.use_lateral and self.adaptive_lateral:
            return held_steps(self.Wl.compiled_steps("evolve"), "Wl")
        return []

    def _steps_reset(self):
        steps = self._set_to(("j", "j_td", "z", "zF"), unwired=("j", "j_td"))
        if self.state_optimizer is not None:
            steps += self._set_to(("opt_count", *self.state_slots))
        if self.use_lateral:
            steps += [*held_steps(self.Wl.compiled_steps("reset"), "Wl"), *self._set_to(("zF_lat", "j_lat"),
                                                                                       unwired=("j_lat",))]
        return steps

    @compilable
    def reset(self):
        """Zero z and zF (and the state optimizer's state), and j and j_td unless they are wired from other
        compartments."""
        if not self.j.targeted:
            self.j.set(self.j.get() * 0)
        if not self.j_td.targeted:
            self.j_td.set(self.j_td.get() * 0)
        self.z.set(self.z.get() * 0)
        self.zF.set(self.zF.get() * 0)
        if self.state_optimizer is not None:
            self._reset_state_optimizer()
        if self.use_lateral:
            self.Wl.reset()
            self.zF_lat.set(self.zF_lat.get() * 0)
            if not self.j_lat.targeted:
                self.j_lat.set(self.j_lat.get() * 0)
