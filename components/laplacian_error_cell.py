"""LaplacianErrorCell: the mismatch between a prediction and a target under a Laplacian."""

from typing import ClassVar

import numpy as np
from ngcsimlib.compartment import Compartment
from ngcsimlib.parser import compilable

from ngc_optim.cell_kernels import laplacian_error_loss, laplacian_error_rows, laplacian_error_step

from .error_cell import ErrorCell

__all__ = ["LaplacianErrorCell"]


def _laplacian_error(name, shape, shift, target, scale, modulator, mask):
    """dshift = sign(target - shift)/Scale, dtarget = -dshift (both times modulator*mask), L = -sum|e|/Scale."""
    if not (shift.shape == target.shape == modulator.shape == mask.shape == shape):
        raise ValueError(f"LaplacianErrorCell {name!r}: shift {shift.shape}, target {target.shape}, modulator "
                         f"{modulator.shape} and mask {mask.shape} must be {shape}")
    if scale.size != 1:
        raise ValueError(f"LaplacianErrorCell {name!r}: Scale must hold one value, got shape {scale.shape}")
    return laplacian_error_step(shift, np.asarray(target, shift.dtype), np.asarray(scale, shift.dtype),
                                np.asarray(modulator, shift.dtype), np.asarray(mask, shift.dtype))


class LaplacianErrorCell(ErrorCell):
    """A (non-spiking) Laplacian error cell, as ngc-learn's except for L.

    dshift = sign(target - shift) / Scale * modulator * mask
    dtarget = -sign(target - shift) / Scale * modulator * mask
    L = -sum(|target - shift|) / Scale        (a 0-d array: the Laplacian log-likelihood up to a constant)

    ngc-learn 3.2.3 computes L as -sum(|sign(target - shift)|) / Scale, the count
    of non-zero errors, although its comment calls it the absolute error; this
    cell computes the absolute error. The mask applies to one step.

    Args:
        name: the cell's name.
        n_units: number of units.
        batch_size: rows of every (batch_size, n_units) compartment (default 1).
        scale: the fixed scale (> 0, default 1).
        dtype: "float32" (default) or "float64".
    """

    PER_SAMPLE: ClassVar[frozenset] = ErrorCell.PER_SAMPLE | {"shift", "dshift"}
    SPEC: ClassVar[dict] = {
        "summary": "LaplacianErrorCell: sign of the mismatch between a target and a prediction shift, over Scale",
        "compartments": {
            "inputs": {"shift": "prediction", "target": "target value", "Scale": "scale (fixed)",
                       "modulator": "multiplies dshift and dtarget",
                       "mask": "multiplies dshift and dtarget for one step"},
            "outputs": {"dshift": "sign(target - shift)/Scale", "dtarget": "-sign(target - shift)/Scale",
                        "dScale": "ones (no derivative for Scale)", "L": "-sum|target - shift|/Scale"},
        },
        "arguments": {"n_units": "number of units", "batch_size": "batch rows (1)",
                      "scale": "fixed scale (1)", "dtype": "float32 or float64"},
    }

    def __init__(self, name, n_units, batch_size=1, scale=1.0, dtype="float32"):
        super().__init__(name, n_units, batch_size, ("scale", scale), "Laplacian", dtype)
        self.scale = float(scale)
        self.shift = Compartment(self._zeros(self.shape), display_name="prediction")
        self.Scale = Compartment(np.full((1, 1), scale, self.dtype), display_name="scale")
        self.dshift = Compartment(self._zeros(self.shape))
        self.dScale = Compartment(np.ones((1, 1), self.dtype))

    @compilable
    def advance_state(self, dt):
        dshift, dtarget, loss = _laplacian_error(self.name, self.shape, self.shift.get(), self.target.get(),
                                                 self.Scale.get(), self.modulator.get(), self.mask.get())
        self.dshift.set(dshift)
        self._write_error(dtarget, loss)

    def _steps_advance_state(self):
        return self._error_steps(laplacian_error_rows, laplacian_error_loss, "shift", "Scale", "dshift")

    def _steps_reset(self):
        return self._reset_steps("dshift", "shift")

    @compilable
    def reset(self):
        """Zero dshift, dtarget and L, and the cell's own (not wired) shift, target, modulator (ones), mask (ones)."""
        self.dshift.set(self.ones * 0)
        if not self.shift.targeted:
            self.shift.set(self.ones * 0)
        self._reset_error()
