"""DenseSynapse: a fully (or sparsely) connected synaptic cable."""

import warnings
from typing import ClassVar

import numpy as np
from ngcsimlib.compartment import Compartment
from ngcsimlib.parser import compilable

from ngc_optim.cell_kernels import dense_transmit, transmit
from ngc_optim.circuit import Step

from .initializers import initialize, validate
from .numpy_component import NumpyComponent

__all__ = ["DenseSynapse"]

DEFAULT_WEIGHT_INIT = {"dist": "uniform", "amin": 0.025, "amax": 0.8}


def _transmit(name, shape, inputs, weights, mask, gate, biases, masked, factor):
    """outputs = (inputs @ (weights * mask if masked else weights)) * gate * factor + biases, in the weights'
    dtype (the product by cell_kernels.product_into: one spiking row sums the weight rows of its spikes),
    through cell_kernels.transmit, which the compiled circuit's dense_transmit calls too (so that a process's
    first calls compile no kernel that its circuit does not use)."""
    if inputs.shape != shape:
        raise ValueError(f"{name!r}: inputs have shape {inputs.shape}; expected {shape}")
    shape = (inputs.shape[0], weights.shape[1])
    if gate.shape != shape or biases.shape != (1, shape[1]):
        raise ValueError(f"{name!r}: gate {gate.shape} must be {shape} and biases {biases.shape} (1, {shape[1]})")
    dtype = weights.dtype
    return transmit(np.ascontiguousarray(inputs, dtype), weights * np.asarray(mask, dtype) if masked else weights,
                    np.asarray(gate, dtype), factor, np.asarray(biases, dtype))


class DenseSynapse(NumpyComponent):
    """A dense synaptic cable, as ngc-learn's.

    outputs = (inputs @ (weights * mask)) * gate * g_conduct_factor + biases

    ``gate`` is an input of ones by default (wire a signal into it to gate the outputs).

    ``mask`` is the fixed connectivity drawn with ``p_conn`` (all ones for
    p_conn = 1); the initial weights are masked too.

    Args:
        name: the synapse's name.
        shape: (number of inputs, number of outputs).
        weight_init: initialiser spec (see :mod:`ngc_optim.components.initializers`);
            default ``{"dist": "uniform", "amin": 0.025, "amax": 0.8}``, ngc-learn's.
        bias_init: initialiser spec for the (1, outputs) biases, or None for no biases (zeros, not added).
        g_conduct_factor: multiplies the outputs (default 1).
        p_conn: probability of each connection (0 < p_conn <= 1, default 1).
        batch_size: rows of inputs and outputs (default 1).
        seed: seed of the initialisers and of the connectivity mask (default 0).
        key: ngc-learn's random key instead of seed (an int, or a JAX-style key of 32-bit words; see
            :func:`ngc_optim.components.numpy_component.seed_from`).
        dtype: "float32" (default) or "float64".
        resist_scale: ngc-learn's deprecated name of g_conduct_factor (as there, it replaces
            g_conduct_factor, with a DeprecationWarning); DenseSynapse's subclasses take it too.
    """

    PER_SAMPLE: ClassVar[frozenset] = frozenset({"inputs", "gate", "outputs"})
    SPEC: ClassVar[dict] = {
        "summary": "DenseSynapse: outputs = (inputs @ (weights * mask)) * gate * g_conduct_factor + biases",
        "compartments": {
            "inputs": {"inputs": "(batch_size, shape[0]) presynaptic signal",
                       "gate": "(batch_size, shape[1]) multiplies the outputs (ones)"},
            "state": {"weights": "shape", "biases": "(1, shape[1])", "mask": "shape, fixed 0/1 connectivity"},
            "outputs": {"outputs": "(batch_size, shape[1]) postsynaptic signal"},
        },
        "arguments": {"shape": "(inputs, outputs)", "weight_init": "initialiser spec",
                      "bias_init": "initialiser spec or None", "g_conduct_factor": "output gain (1)",
                      "p_conn": "connection probability (1)", "batch_size": "batch rows (1)",
                      "seed": "initialiser seed (0)", "dtype": "float32 or float64",
                      "key": "ngc-learn's random key, instead of seed",
                      "resist_scale": "deprecated name of g_conduct_factor"},
    }

    def __init__(self, name, shape, weight_init=None, bias_init=None, g_conduct_factor=1.0, p_conn=1.0,
                 batch_size=1, seed=0, dtype="float32", key=None, resist_scale=None):
        super().__init__(name, dtype)
        if resist_scale is not None:
            warnings.warn(f"{type(self).__name__} {name!r}: resist_scale is deprecated, use g_conduct_factor",
                          DeprecationWarning, stacklevel=3)
            g_conduct_factor = resist_scale
        shape = tuple(shape) if isinstance(shape, (list, tuple)) else shape
        if not (isinstance(shape, tuple) and len(shape) == 2 and all(isinstance(n, int) and n > 0 for n in shape)):
            raise self._error(f"shape={shape!r} must be two positive ints")
        if not (isinstance(batch_size, int) and batch_size > 0):
            raise self._error(f"batch_size={batch_size!r} must be a positive int")
        if not (isinstance(p_conn, (int, float)) and 0.0 < p_conn <= 1.0):
            raise self._error(f"p_conn={p_conn!r} must be in (0, 1]")
        if not (isinstance(g_conduct_factor, (int, float)) and np.isfinite(g_conduct_factor)):
            raise self._error(f"g_conduct_factor={g_conduct_factor!r} must be a finite number")
        weight_init = DEFAULT_WEIGHT_INIT if weight_init is None else weight_init
        owner = f"{type(self).__name__} {name!r}"
        validate(weight_init, f"{owner} weight_init")
        if bias_init is not None:
            validate(bias_init, f"{owner} bias_init")
        self.shape = shape
        self.batch_size = batch_size
        self.g_conduct_factor = float(g_conduct_factor)
        self.p_conn = float(p_conn)
        self.masked = p_conn < 1.0
        """Whether the weights pass through ``mask`` (transmission, and after each learning step)."""
        self.has_bias = bias_init is not None
        self.input_shape = (batch_size, shape[0])
        rng = np.random.default_rng(self._seed(seed, key))
        weights = initialize(weight_init, shape, rng, self.dtype, f"{owner} weight_init")
        mask = (rng.random(shape) < p_conn).astype(self.dtype) if p_conn < 1.0 else np.ones(shape, self.dtype)
        biases = initialize(bias_init, (1, shape[1]), rng, self.dtype, f"{owner} bias_init") if self.has_bias \
            else self._zeros((1, shape[1]))
        self.inputs = Compartment(self._zeros(self.input_shape))
        self.gate = Compartment(np.ones((batch_size, shape[1]), self.dtype))
        self.outputs = Compartment(self._zeros((batch_size, shape[1])))
        self.weights = Compartment(weights * mask)
        self.biases = Compartment(biases)
        self.mask = Compartment(mask)
        self.connectivity = mask
        """The 0/1 connectivity drawn for p_conn at construction (the mask's initial value)."""

    def _rebatch(self, batch_size):
        super()._rebatch(batch_size)
        self.input_shape = (batch_size, self.shape[0])
        if hasattr(self, "plan"):
            self.plan = type(self.plan)(self)

    @compilable
    def advance_state(self):
        self.outputs.set(_transmit(self.name, self.input_shape, self.inputs.get(), self.weights.get(),
                                   self.mask.get(), self.gate.get(), self.biases.get(), self.masked,
                                   self.g_conduct_factor))

    def _steps_advance_state(self):
        return [Step(dense_transmit, ("inputs", "weights", "mask", "gate", "biases"), ("outputs",),
                     constants=(self.masked, self.g_conduct_factor), rows=("inputs", "gate", "outputs"))]

    def _steps_reset(self):
        return self._transmission_steps()

    def _transmission_steps(self):
        """The steps of :meth:`_reset_transmission`."""
        return [*self._set_to(("inputs",), unwired=("inputs",)), *self._set_to(("gate",), 1, unwired=("gate",)),
                *self._set_to(("outputs",))]

    @compilable
    def reset(self):
        """Zero the outputs; zero the inputs and set the gate to ones unless they are wired."""
        self._reset_transmission()

    def _reset_transmission(self):
        """The part of ``reset`` every synapse shares (compiled into each subclass's ``reset`` that calls it)."""
        if not self.inputs.targeted:
            self.inputs.set(self.inputs.get() * 0)
        if not self.gate.targeted:
            self.gate.set(self.gate.get() * 0 + 1)
        self.outputs.set(self.outputs.get() * 0)
