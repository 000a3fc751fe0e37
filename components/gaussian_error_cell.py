"""GaussianErrorCell: the mismatch between a prediction and a target under a Gaussian."""

from typing import ClassVar

import numpy as np
from ngcsimlib.compartment import Compartment
from ngcsimlib.parser import compilable

from ngc_optim.cell_kernels import gaussian_error_loss, gaussian_error_rows, gaussian_error_step

from .error_cell import ErrorCell

__all__ = ["GaussianErrorCell"]


def _gaussian_error(name, shape, mu, target, sigma, modulator, mask):
    """dmu = (target - mu)/Sigma, dtarget = -dmu (both times modulator*mask), L = -0.5*sum((target - mu)**2)/Sigma."""
    if not (mu.shape == target.shape == modulator.shape == mask.shape == shape):
        raise ValueError(f"GaussianErrorCell {name!r}: mu {mu.shape}, target {target.shape}, modulator "
                         f"{modulator.shape} and mask {mask.shape} must be {shape}")
    if sigma.size != 1:
        raise ValueError(f"GaussianErrorCell {name!r}: Sigma must hold one value, got shape {sigma.shape}")
    return gaussian_error_step(mu, np.asarray(target, mu.dtype), np.asarray(sigma, mu.dtype),
                               np.asarray(modulator, mu.dtype), np.asarray(mask, mu.dtype))


class GaussianErrorCell(ErrorCell):
    """A (non-spiking) Gaussian error cell, as ngc-learn's.

    dmu = (target - mu) / Sigma * modulator * mask
    dtarget = -(target - mu) / Sigma * modulator * mask
    L = -0.5 * sum((target - mu)**2) / Sigma        (a 0-d array)

    The mask applies to one step: ``advance_state`` sets it back to ones.

    Args:
        name: the cell's name.
        n_units: number of units.
        batch_size: rows of every (batch_size, n_units) compartment (default 1).
        sigma: the fixed variance Sigma (> 0, default 1).
        dtype: "float32" (default) or "float64".
    """

    PER_SAMPLE: ClassVar[frozenset] = ErrorCell.PER_SAMPLE | {"mu", "dmu"}
    SPEC: ClassVar[dict] = {
        "summary": "GaussianErrorCell: mismatch between a target and a prediction mu, scaled by 1/Sigma",
        "compartments": {
            "inputs": {"mu": "prediction", "target": "target value", "Sigma": "variance (fixed)",
                       "modulator": "multiplies dmu and dtarget", "mask": "multiplies dmu and dtarget for one step"},
            "outputs": {"dmu": "(target - mu)/Sigma", "dtarget": "-(target - mu)/Sigma",
                        "dSigma": "ones (no derivative for Sigma)", "L": "-0.5*sum((target - mu)**2)/Sigma"},
        },
        "arguments": {"n_units": "number of units", "batch_size": "batch rows (1)",
                      "sigma": "fixed variance (1)", "dtype": "float32 or float64"},
    }

    def __init__(self, name, n_units, batch_size=1, sigma=1.0, dtype="float32"):
        super().__init__(name, n_units, batch_size, ("sigma", sigma), "Gaussian", dtype)
        self.sigma = float(sigma)
        self.mu = Compartment(self._zeros(self.shape), display_name="prediction")
        self.Sigma = Compartment(np.full((1, 1), sigma, self.dtype), display_name="variance")
        self.dmu = Compartment(self._zeros(self.shape))
        self.dSigma = Compartment(np.ones((1, 1), self.dtype))

    @compilable
    def advance_state(self, dt):
        dmu, dtarget, loss = _gaussian_error(self.name, self.shape, self.mu.get(), self.target.get(),
                                             self.Sigma.get(), self.modulator.get(), self.mask.get())
        self.dmu.set(dmu)
        self._write_error(dtarget, loss)

    def _steps_advance_state(self):
        return self._error_steps(gaussian_error_rows, gaussian_error_loss, "mu", "Sigma", "dmu")

    def _steps_reset(self):
        return self._reset_steps("dmu", "mu")

    @compilable
    def reset(self):
        """Zero dmu, dtarget and L, and the cell's own (not wired) mu, target, modulator (ones) and mask (ones)."""
        self.dmu.set(self.ones * 0)
        if not self.mu.targeted:
            self.mu.set(self.ones * 0)
        self._reset_error()
