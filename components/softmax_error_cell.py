"""SoftmaxErrorCell: the mismatch between predicted logits and a target distribution (cross-entropy)."""

from typing import ClassVar

from ngcsimlib.compartment import Compartment
from ngcsimlib.parser import compilable

from ngc_optim.cell_kernels import softmax_loss, softmax_row_losses, softmax_rows

from .error_cell import ErrorCell

__all__ = ["SoftmaxErrorCell"]


def _softmax_error(name, shape, mu, target, modulator, mask):
    """dmu, dtarget (both times modulator*mask) and L of the categorical log-likelihood (see the class)."""
    if not (mu.shape == target.shape == modulator.shape == mask.shape == shape):
        raise ValueError(f"SoftmaxErrorCell {name!r}: mu {mu.shape}, target {target.shape}, modulator "
                         f"{modulator.shape} and mask {mask.shape} must be {shape}")
    dmu, dtarget = softmax_rows(mu, target, modulator, mask)
    return dmu, dtarget, softmax_loss(mu, target)


class SoftmaxErrorCell(ErrorCell):
    """A softmax (cross-entropy) error cell: the output error of a classifier whose prediction mu holds logits
    (ngc-learn has none; PCX's ``ce_energy``).

    s = softmax(mu) (each row),  log s = mu - log(sum(exp(mu)))
    L = sum(target * log s)                                       (a 0-d array, summed in float64)
    dmu = dL/dmu = (target - s * sum(target)) * modulator * mask  (target - s for a target summing to 1)
    dtarget = dL/dtarget = log s * modulator * mask

    -L is the cross-entropy of s against the target, summed over the batch: a network minimising its energy
    -L moves mu along dmu. The mask applies to one step.

    Args:
        name: the cell's name.
        n_units: number of units (classes).
        batch_size: rows of every (batch_size, n_units) compartment (default 1).
        dtype: "float32" (default) or "float64".
    """

    PER_SAMPLE: ClassVar[frozenset] = ErrorCell.PER_SAMPLE | {"mu", "dmu"}
    SPEC: ClassVar[dict] = {
        "summary": "SoftmaxErrorCell: log-likelihood of a target distribution under softmax(mu) (cross-entropy)",
        "compartments": {
            "inputs": {"mu": "prediction (logits)", "target": "target distribution (e.g. one-hot)",
                       "modulator": "multiplies dmu and dtarget", "mask": "multiplies dmu and dtarget for one step"},
            "outputs": {"dmu": "target - softmax(mu) * sum(target)", "dtarget": "log softmax(mu)",
                        "L": "sum(target * log softmax(mu))"},
        },
        "arguments": {"n_units": "number of units (classes)", "batch_size": "batch rows (1)",
                      "dtype": "float32 or float64"},
    }

    def __init__(self, name, n_units, batch_size=1, dtype="float32"):
        super().__init__(name, n_units, batch_size, None, "categorical", dtype)
        self.mu = Compartment(self._zeros(self.shape), display_name="logits")
        self.dmu = Compartment(self._zeros(self.shape))

    def sample_losses(self):
        """Each sample's log-likelihood sum(target * log softmax(mu)) (float64, one per row), from the current
        mu and target."""
        return softmax_row_losses(self.mu.get(), self.target.get())

    @compilable
    def advance_state(self, dt):
        dmu, dtarget, loss = _softmax_error(self.name, self.shape, self.mu.get(), self.target.get(),
                                            self.modulator.get(), self.mask.get())
        self.dmu.set(dmu)
        self._write_error(dtarget, loss)

    def _steps_advance_state(self):
        return self._error_steps(softmax_rows, softmax_loss, "mu", None, "dmu")

    def _steps_reset(self):
        return self._reset_steps("dmu", "mu")

    @compilable
    def reset(self):
        """Zero dmu, dtarget and L, and the cell's own (not wired) mu, target, modulator (ones) and mask (ones)."""
        self.dmu.set(self.ones * 0)
        if not self.mu.targeted:
            self.mu.set(self.ones * 0)
        self._reset_error()
