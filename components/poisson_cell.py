"""PoissonCell: ngc-learn's spike encoder of inputs as spike trains up to a target frequency."""

from typing import ClassVar

from ngcsimlib.parser import compilable

from ngc_optim.circuit import Step
from ngc_optim.spike_kernels import poisson_advance, poisson_scale

from .bernoulli_cell import BernoulliCell, encode

__all__ = ["PoissonCell"]


class PoissonCell(BernoulliCell):
    """A Poisson spike encoder: each input fires at up to ``target_freq`` Hz, as ngc-learn's PoissonCell.

    p = inputs * (dt / 1000) * target_freq      (dt in ms)
    outputs = 1 where u < p, u ~ U[0, 1) independently per element and step, else 0
    tols = t where outputs == 1, else tols (time of last spike)

    An input of 1 thus fires with probability dt/1000 * target_freq per step: a
    rate of target_freq Hz while that probability stays below 1 (a Bernoulli
    approximation of a Poisson process, as ngc-learn's). The random stream and
    its state (compartment ``key``) are :class:`BernoulliCell`'s.

    Args:
        name: the cell's name.
        n_units: number of units.
        target_freq: the rate of an input of 1, in Hz (> 0; default 63.75, ngc-learn's).
        batch_size: rows of every (batch_size, n_units) compartment (default 1).
        seed: seed of the random stream (default 0).
        key: ngc-learn's random key instead of seed (as :class:`BernoulliCell`'s).
        dtype: "float32" (default) or "float64".
    """

    SPEC: ClassVar[dict] = {
        "summary": "PoissonCell: outputs ~ Bernoulli(inputs * dt/1000 * target_freq), tols = time of last spike",
        "compartments": {**BernoulliCell.SPEC["compartments"], "inputs": {"inputs": "intensities (1: target_freq)"}},
        "arguments": {"n_units": "number of units", "target_freq": "rate of an input of 1, Hz (63.75)",
                      **BernoulliCell.SPEC["arguments"]},
    }

    def __init__(self, name, n_units, target_freq=63.75, batch_size=1, seed=0, dtype="float32", key=None):
        super().__init__(name, n_units, batch_size=batch_size, seed=seed, dtype=dtype, key=key)
        self.target_freq = self._number("target_freq", target_freq, 0.0, strict=True)

    @compilable
    def advance_state(self, t, dt):
        out, key = encode(self.owner, self.shape, self.dtype, self.inputs.get(), poisson_scale(dt, self.target_freq),
                          self.tols.get(), t, self.key.get())
        self.outputs.set(out[0])
        self.tols.set(out[1])
        self.key.set(key)

    def _steps_advance_state(self):
        return [Step(poisson_advance, ("inputs", "tols", "key"), ("outputs", "tols", "key"), keywords=("t", "dt"),
                     constants=(self.target_freq,))]
