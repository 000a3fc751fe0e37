"""BernoulliErrorCell: the mismatch between a predicted probability and a binary target."""

from typing import ClassVar

from ngcsimlib.compartment import Compartment
from ngcsimlib.parser import compilable

from ngc_optim.cell_kernels import bernoulli_loss, bernoulli_rows

from .error_cell import ErrorCell

__all__ = ["BernoulliErrorCell"]

def _bernoulli_error(name, shape, p, target, modulator, mask, input_logits):
    """dp, dtarget (both times modulator*mask) and L of the Bernoulli log-likelihood (see the class)."""
    if p.shape != shape or target.shape != shape:
        raise ValueError(f"BernoulliErrorCell {name!r}: p {p.shape} and target {target.shape} must be {shape}")
    dp, dtarget = bernoulli_rows(p, target, modulator, mask, input_logits)
    return dp, dtarget, bernoulli_loss(p, target, input_logits)


class BernoulliErrorCell(ErrorCell):
    """A (non-spiking) Bernoulli error cell, as ngc-learn's except for dp with probabilities.

    q = clip(p, 1e-4, 1 - 1e-4)   (q = clip(sigmoid(p), ...) when input_logits: p holds logits)
    L = sum(target * log(q) + (1 - target) * log(1 - q))        (a 0-d array, summed in float64)
    dp = (target / q - (1 - target) / (1 - q)) * modulator * mask      dL/dq
    dp = (target - q) * modulator * mask                               dL/dlogit, when input_logits
    dtarget = (log(q) - log(1 - q)) * modulator * mask

    ngc-learn 3.2.3 multiplies the first dp by sigmoid'(p), the derivative of a
    sigmoid at the probability p itself, although it documents dp as dL/dp; this
    cell gives dL/dp. With input_logits, dp, dtarget and L are ngc-learn's. The
    mask applies to one step.

    Args:
        name: the cell's name.
        n_units: number of units.
        batch_size: rows of every (batch_size, n_units) compartment (default 1).
        input_logits: p holds logits rather than probabilities (default False).
        dtype: "float32" (default) or "float64".
    """

    PER_SAMPLE: ClassVar[frozenset] = ErrorCell.PER_SAMPLE | {"p", "dp"}
    SPEC: ClassVar[dict] = {
        "summary": "BernoulliErrorCell: log-likelihood of a binary target under predicted probabilities p",
        "compartments": {
            "inputs": {"p": "predicted probability (or logit)", "target": "target value in [0, 1]",
                       "modulator": "multiplies dp and dtarget", "mask": "multiplies dp and dtarget for one step"},
            "outputs": {"dp": "dL/dp (dL/dlogit when input_logits)", "dtarget": "log(q) - log(1 - q)",
                        "L": "Bernoulli log-likelihood"},
        },
        "arguments": {"n_units": "number of units", "batch_size": "batch rows (1)",
                      "input_logits": "p holds logits (False)", "dtype": "float32 or float64"},
    }

    def __init__(self, name, n_units, batch_size=1, input_logits=False, dtype="float32"):
        super().__init__(name, n_units, batch_size, None, "Bernoulli", dtype)
        if not isinstance(input_logits, bool):
            raise self._error(f"input_logits={input_logits!r} must be True or False")
        self.input_logits = input_logits
        self.p = Compartment(self._zeros(self.shape), display_name="probability or logit")
        self.dp = Compartment(self._zeros(self.shape))

    @compilable
    def advance_state(self, dt):
        dp, dtarget, loss = _bernoulli_error(self.name, self.shape, self.p.get(), self.target.get(),
                                             self.modulator.get(), self.mask.get(), self.input_logits)
        self.dp.set(dp)
        self._write_error(dtarget, loss)

    def _steps_advance_state(self):
        return self._error_steps(bernoulli_rows, bernoulli_loss, "p", None, "dp", (self.input_logits,))

    def _steps_reset(self):
        return self._reset_steps("dp", "p")

    @compilable
    def reset(self):
        """Zero dp, dtarget and L, and the cell's own (not wired) p, target, modulator (ones) and mask (ones)."""
        self.dp.set(self.ones * 0)
        if not self.p.targeted:
            self.p.set(self.ones * 0)
        self._reset_error()
