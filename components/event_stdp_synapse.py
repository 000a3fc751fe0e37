"""EventSTDPSynapse: ngc-learn's dense synapse with event-driven, postsynaptic STDP."""

from typing import ClassVar

import numpy as np
from ngcsimlib.compartment import Compartment
from ngcsimlib.parser import compilable

from ngc_optim.circuit import Step
from ngc_optim.spike_kernels import event_stdp_evolve

from .dense_synapse import DenseSynapse

__all__ = ["EventSTDPSynapse"]


def _event_stdp(owner, shapes, pre_tols, post_spike, weights, eta, t, settings):
    """The synapse's evolve through :func:`ngc_optim.spike_kernels.event_stdp_evolve`, after checking shapes."""
    for label, value, shape in (("pre_tols", pre_tols, shapes[0]), ("postSpike", post_spike, shapes[1])):
        if np.shape(value) != shape:
            raise ValueError(f"{owner}: {label} {np.shape(value)} must be {shape}")
    return event_stdp_evolve(pre_tols, post_spike, weights, eta, t, *settings)


class EventSTDPSynapse(DenseSynapse):
    """A dense synapse adjusted by event-driven, postsynaptic STDP (Tavanaei et al., 2018), as ngc-learn's.

    At each ``evolve(t)``, a presynaptic unit counts as spiking when its time of last spike (``pre_tols``)
    is positive and later than t - presyn_win_len (equal to t when presyn_win_len is 0); for the
    postsynaptic units that spiked (``postSpike``):

    dW = A_plus * (w_bound - W * (1 + lmbda))    on the rows of spiking presynaptic units (LTP)
    dW = -A_minus * W * (1 + lmbda)              on the other rows (depression)
    W = clip(W + dW * eta, 0.01, w_bound)        (ngc-learn's own step, not an ngc_optim optimizer)

    ``eta`` is a (1, 1) compartment, as in ngc-learn, so it can be changed between steps. The rule takes one
    sample per step: batch_size must be 1 (ngc-learn's broadcasts a batch's spikes against the weights'
    columns). The synapse has no biases.

    Args:
        name, shape, weight_init, g_conduct_factor, p_conn, seed, key, dtype: as :class:`DenseSynapse`.
        eta: the step size (finite).
        lmbda: the weight-dependence factor (default 0.01).
        A_plus, A_minus: potentiation and depression strengths (default 1 each).
        presyn_win_len: how far back a presynaptic spike counts, ms (>= 0; default 2).
        w_bound: the weights' upper bound (> 0.01; default 1).
        batch_size: 1 (the default; see above).
    """

    PER_SAMPLE: ClassVar[frozenset] = DenseSynapse.PER_SAMPLE | {"pre_tols", "postSpike"}
    FIXED_BATCH: ClassVar[str] = "ngc-learn's rule takes one sample per step (batch_size 1)"
    SPEC: ClassVar[dict] = {
        "summary": "EventSTDPSynapse: DenseSynapse whose weights follow event-driven postsynaptic STDP, "
                   "W = clip(W + eta * dW, 0.01, w_bound)",
        "compartments": {
            "inputs": {"inputs": "(1, shape[0]) presynaptic signal", "pre_tols": "(1, shape[0]) presynaptic "
                       "time of last spike", "postSpike": "(1, shape[1]) postsynaptic spikes",
                       "gate": "(1, shape[1]) multiplies the outputs (ones)"},
            "state": {"weights": "shape, in [0.01, w_bound] after evolve", "biases": "(1, shape[1]) zeros",
                      "mask": "shape, fixed 0/1 connectivity", "eta": "(1, 1) step size"},
            "outputs": {"outputs": "(1, shape[1]) postsynaptic signal", "dWeights": "last dW"},
        },
        "arguments": {key: value for key, value in DenseSynapse.SPEC["arguments"].items() if key != "bias_init"}
        | {"eta": "step size", "lmbda": "weight dependence (0.01)", "A_plus": "potentiation (1)",
           "A_minus": "depression (1)", "presyn_win_len": "presynaptic window (2 ms)", "w_bound": "upper bound (1)"},
    }

    def __init__(self, name, shape, eta, lmbda=0.01, A_plus=1.0, A_minus=1.0, presyn_win_len=2.0, w_bound=1.0,
                 weight_init=None, g_conduct_factor=1.0, p_conn=1.0, batch_size=1, seed=0, dtype="float32", key=None):
        super().__init__(name, shape, weight_init=weight_init, g_conduct_factor=g_conduct_factor, p_conn=p_conn,
                         batch_size=batch_size, seed=seed, dtype=dtype, key=key)
        if batch_size != 1:
            raise self._error(f"batch_size={batch_size!r}: the rule takes one sample per step (batch_size 1)")
        eta = self._number("eta", eta)
        lmbda = self._number("lmbda", lmbda)
        A_plus, A_minus = self._number("A_plus", A_plus), self._number("A_minus", A_minus)
        presyn_win_len = self._number("presyn_win_len", presyn_win_len, 0.0)
        self.w_bound = self._number("w_bound", w_bound, 0.01, strict=True)
        self.settings = (presyn_win_len, lmbda, A_plus, A_minus, self.w_bound)
        self.owner = f"EventSTDPSynapse {name!r}"
        self.shapes = ((1, shape[0]), (1, shape[1]))
        self.pre_tols = Compartment(self._zeros(self.shapes[0]), display_name="Presynaptic time of last spike")
        self.postSpike = Compartment(self._zeros(self.shapes[1]), display_name="Postsynaptic spikes")
        self.dWeights = Compartment(self._zeros(self.shape))
        self.eta = Compartment(np.full((1, 1), eta, self.dtype), display_name="Step size")

    @compilable
    def evolve(self, t):
        weights, d_weights = _event_stdp(self.owner, self.shapes, self.pre_tols.get(), self.postSpike.get(),
                                         self.weights.get(), self.eta.get(), t, self.settings)
        self.weights.set(weights)
        self.dWeights.set(d_weights)

    def _steps_evolve(self):
        return [Step(event_stdp_evolve, ("pre_tols", "postSpike", "weights", "eta"), ("weights", "dWeights"),
                     keywords=("t",), constants=self.settings)]

    def _steps_reset(self):
        return [*self._transmission_steps(), *self._set_to(("pre_tols", "postSpike"), unwired=("pre_tols", "postSpike")),
                *self._set_to(("dWeights",))]

    @compilable
    def reset(self):
        """Zero outputs and dWeights, and inputs, pre_tols and postSpike unless wired; gate to ones unless wired."""
        self._reset_transmission()
        if not self.pre_tols.targeted:
            self.pre_tols.set(self.pre_tols.get() * 0)
        if not self.postSpike.targeted:
            self.postSpike.set(self.postSpike.get() * 0)
        self.dWeights.set(self.dWeights.get() * 0)
