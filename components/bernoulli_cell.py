"""BernoulliCell: ngc-learn's spike encoder that fires each input with its value as probability."""

from typing import ClassVar

import numpy as np
from ngcsimlib.compartment import Compartment
from ngcsimlib.parser import compilable

from ngc_optim.circuit import Step
from ngc_optim.spike_kernels import bernoulli_advance, bernoulli_step

from .numpy_component import NumpyComponent

__all__ = ["BernoulliCell", "encode"]


def encode(owner, shape, dtype, inputs, scale, tols, t, key):
    """One encoder step through :func:`ngc_optim.spike_kernels.bernoulli_step`, after checking the inputs' shape."""
    inputs = np.asarray(inputs, dtype)
    if inputs.shape != shape or tols.shape != shape:
        raise ValueError(f"{owner}: inputs {inputs.shape} and tols {tols.shape} must be {shape}")
    return bernoulli_step(inputs, scale, tols, t, key)


class BernoulliCell(NumpyComponent):
    """A spike encoder: each input fires with its value as probability, as ngc-learn's BernoulliCell.

    outputs = 1 where u < inputs, u ~ U[0, 1) independently per element and step, else 0
    tols = t where outputs == 1, else tols (time of last spike)

    Inputs are probabilities (values <= 0 never fire, values >= 1 always do).
    ngc-learn draws from JAX's PRNG; this cell draws from its own seeded
    xoshiro256** stream (:mod:`ngc_optim.spike_kernels`), whose state is the
    compartment ``key`` (four uint64 words): saved and restored with the other
    compartments, so a resumed simulation draws the same spikes. ``reset`` leaves
    the stream where it is.

    Args:
        name: the cell's name.
        n_units: number of units.
        batch_size: rows of every (batch_size, n_units) compartment (default 1).
        seed: seed of the random stream (default 0).
        key: ngc-learn's random key instead of seed (an int, or a JAX-style key of 32-bit words; see
            :func:`ngc_optim.components.numpy_component.seed_from`).
        dtype: "float32" (default) or "float64".
    """

    PER_SAMPLE: ClassVar[frozenset] = frozenset({"inputs", "outputs", "tols"})
    SPEC: ClassVar[dict] = {
        "summary": "BernoulliCell: outputs ~ Bernoulli(inputs), tols = time of last spike",
        "compartments": {
            "inputs": {"inputs": "firing probabilities"},
            "state": {"key": "(4,) uint64 state of the random stream (xoshiro256**)"},
            "outputs": {"outputs": "spikes (0/1)", "tols": "time of last spike"},
        },
        "arguments": {"n_units": "number of units", "batch_size": "batch rows (1)",
                      "seed": "random stream seed (0)", "key": "ngc-learn's random key, instead of seed",
                      "dtype": "float32 or float64"},
    }

    def __init__(self, name, n_units, batch_size=1, seed=0, dtype="float32", key=None):
        super().__init__(name, dtype)
        self._set_population(n_units, batch_size)
        self.inputs = Compartment(self._zeros(self.shape), display_name="Input Stimulus")
        self.key = Compartment(self._random_key(seed, key), display_name="Random stream state")
        self.outputs = Compartment(self._zeros(self.shape), display_name="Spikes")
        self.tols = Compartment(self._zeros(self.shape), display_name="Time-of-Last-Spike", units="ms")

    @compilable
    def advance_state(self, t):
        out, key = encode(self.owner, self.shape, self.dtype, self.inputs.get(), 1.0, self.tols.get(), t,
                          self.key.get())
        self.outputs.set(out[0])
        self.tols.set(out[1])
        self.key.set(key)

    def _steps_advance_state(self):
        return [Step(bernoulli_advance, ("inputs", "tols", "key"), ("outputs", "tols", "key"), keywords=("t",),
                     constants=(1.0,))]

    def _steps_reset(self):
        return [*self._set_to(("inputs",), unwired=("inputs",)), *self._set_to(("outputs", "tols"))]

    @compilable
    def reset(self):
        """Zero outputs and tols, and inputs unless wired; the random stream goes on."""
        if not self.inputs.targeted:
            self.inputs.set(self.inputs.get() * 0)
        self.outputs.set(self.outputs.get() * 0)
        self.tols.set(self.tols.get() * 0)
