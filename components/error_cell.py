"""ErrorCell: what the Gaussian, Laplacian and Bernoulli error cells build alike."""

from typing import ClassVar

import numpy as np
from ngcsimlib.compartment import Compartment

from ngc_optim.circuit import Step

from .numpy_component import NumpyComponent

__all__ = ["ErrorCell"]


class ErrorCell(NumpyComponent):
    """Validation and the compartments every error cell has: target, modulator, mask, dtarget, L.

    Subclasses add their prediction, its fixed parameter and the derivatives,
    under ngc-learn's names (mu/Sigma/dmu, shift/Scale/dshift, p/dp), and write their
    own ``advance_state`` and ``reset``, which end with :meth:`_write_error` and call
    :meth:`_reset_error` for the compartments all error cells have (ngcsimlib compiles them into the caller).

    Args:
        name: the cell's name.
        n_units, batch_size: every signal compartment is (batch_size, n_units).
        parameter: (name, value) of the fixed positive parameter (e.g. ("sigma", 1.0)), or None.
        distribution: named in the display name of L (e.g. "Gaussian").
        dtype: "float32" or "float64".
    """

    PER_SAMPLE: ClassVar[frozenset] = frozenset({"target", "modulator", "mask", "dtarget"})

    def __init__(self, name, n_units, batch_size, parameter, distribution, dtype):
        super().__init__(name, dtype)
        self._check_population(n_units, batch_size)
        key, value = parameter or ("", 1.0)
        if isinstance(value, bool) or not (isinstance(value, (int, float)) and np.isfinite(value) and value > 0):
            raise self._error(f"{key}={value!r} must be a positive finite number")
        self.n_units = n_units
        self.batch_size = batch_size
        self.shape = (batch_size, n_units)
        self.target = Compartment(self._zeros(self.shape), display_name="target")
        self.modulator = Compartment(np.ones(self.shape, self.dtype))
        self.mask = Compartment(np.ones(self.shape, self.dtype))
        self.dtarget = Compartment(self._zeros(self.shape))
        self.L = Compartment(self._zeros(()), display_name=f"{distribution} log likelihood", units="nats")
        self.ones = np.ones(self.shape, self.dtype)
        self.zero = self._zeros(())

    def _rebatch(self, batch_size):
        super()._rebatch(batch_size)
        self.ones = np.ones(self.shape, self.dtype)

    def _error_steps(self, rows_kernel, loss_kernel, prediction, parameter, derivative, constants=()):
        """``advance_state``'s steps: ``rows_kernel`` of (prediction, target, parameter, modulator, mask,
        *constants) giving (derivative, dtarget) row by row, ``loss_kernel`` of (prediction, target, parameter,
        *constants) giving L, then the mask back to ones unless wired. A cell without a parameter compartment
        gives None (the kernels then take no parameter)."""
        signals = (prediction, "target", "modulator", "mask")
        fixed = (parameter,) if parameter else ()
        steps = [Step(rows_kernel, (prediction, "target", *fixed, "modulator", "mask"), (derivative, "dtarget"),
                      constants=constants, rows=(*signals, derivative, "dtarget")),
                 Step(loss_kernel, (prediction, "target", *fixed), ("L",), constants=constants)]
        if not self.mask.targeted:
            steps.append(self._fill("mask", 1))
        return steps

    def _reset_steps(self, derivative, prediction):
        """``reset``'s steps (see :meth:`_reset_error`), after zeroing the derivative and, unless wired, the
        prediction."""
        names = [derivative, *([prediction] if not getattr(self, prediction).targeted else []), "dtarget", "L",
                 *(["target"] if not self.target.targeted else [])]
        return [*(self._fill(name, 0) for name in names),
                *(self._fill(name, 1) for name in ("modulator", "mask") if not getattr(self, name).targeted)]

    def _write_error(self, dtarget, loss):
        """The end of ``advance_state`` every error cell shares (compiled into each subclass's ``advance_state``
        that calls it): write dtarget and L, and the mask back to ones unless wired (a mask lasts one step)."""
        self.dtarget.set(dtarget)
        self.L.set(loss)
        if not self.mask.targeted:
            self.mask.set(self.ones)

    def _reset_error(self):
        """The part of ``reset`` every error cell shares (compiled into each subclass's ``reset`` that calls it):
        zero dtarget and L, and the target unless wired; the modulator and mask to ones unless wired."""
        self.dtarget.set(self.ones * 0)
        self.L.set(self.zero)
        if not self.target.targeted:
            self.target.set(self.ones * 0)
        if not self.modulator.targeted:
            self.modulator.set(self.ones)
        if not self.mask.targeted:
            self.mask.set(self.ones)
