"""TraceSTDPSynapse: a dense synapse that learns by trace-based STDP through an ngc_optim optimizer."""

import sys
import weakref
from typing import ClassVar

import numpy as np
from ngcsimlib.compartment import Compartment
from ngcsimlib.parser import compilable

from ngc_optim.cell_kernels import outer_blocks, outer_kind
from ngc_optim.circuit import Binding, Step
from ngc_optim.hebbian_kernels import (
    STDP,
    STDP_EVOLVE,
    STDP_EVOLVE_IN_PLACE,
    STDP_STEP,
    stdp_events_later,
    stdp_events_settle,
)
from ngc_optim.optim import OPTIMIZERS

from .dense_synapse import DenseSynapse
from .learning_synapse import LearningSynapse, SynapsePlan

__all__ = ["TraceSTDPSynapse"]


def _gone():
    """A weak reference whose array is gone."""


class _Plan(SynapsePlan):
    """A trace-STDP synapse's fixed settings, and its evolve over the compartments' values.

    It checks the arrays (a wrong shape or dtype is an error naming the synapse),
    forms the two products with BLAS and hands the element-wise rest to the
    (serial) STDP kernel of :mod:`ngc_optim.hebbian_kernels`.
    """

    def __init__(self, synapse):
        pre, post = synapse.input_shape, (synapse.batch_size, synapse.shape[1])
        weighted = synapse.mu > 0.0
        super().__init__(synapse, {"preSpike": pre, "preTrace": pre, "postSpike": post, "postTrace": post,
                                   "weights": synapse.shape}, STDP[weighted])
        settings = (synapse.A_plus, synapse.A_minus, synapse.w_bound, synapse.tau_w)
        depressing = synapse.A_minus > 0.0
        self.sparse = (synapse.batch_size == 1 and synapse.optimizer.name == "sgd" and synapse.tau_w == 0.0
                       and not weighted and not self.masked)
        self.events_size = synapse.shape if self.sparse else (0, 0)

        def scratch(needed):
            return np.empty(synapse.shape if needed else (0, 0), self.dtype)

        self.common = (scratch(depressing), scratch(weighted), scratch(weighted and depressing))
        self.events = [self._events(), self._events()]
        self.later = stdp_events_later(self.events_size, self.dtype)
        """The event-driven step's deferred dW (see hebbian_kernels.stdp_sgd_events), for a compiled circuit."""
        self.last = 0
        self.previous = (_gone, _gone)
        """Weak references to (the weights the last evolve replaced, its new weights): when the next one
        writes into the first while the state holds the second, only the rows and columns the last changed
        are copied (weak, so that the first can be reused: see ngc_optim.buffers)."""
        self.bounded = None
        dtype = self.dtype.type
        self.step_settings = (settings, dtype(synapse.pretrace_target), dtype(synapse.w_bound), dtype(synapse.mu),
                              self.masked, depressing, self.sparse)
        rule = synapse.optimizer.kernel.name
        evolve = STDP_EVOLVE_IN_PLACE if synapse.in_place else STDP_EVOLVE
        kind = (weighted, outer_kind(*synapse.shape, synapse.batch_size))
        self.evolve_kernel, self.step_kernel = evolve[kind][rule], STDP_STEP[kind][rule]
        self.weights_shape, self.batch = synapse.shape, synapse.batch_size
        self.weights = synapse.weights

    def _events(self):
        """The event-driven step's dW and bookkeeping (see hebbian_kernels.stdp_sgd_events): d, rows, cols,
        counts."""
        size = self.events_size
        return np.zeros(size, self.dtype), np.empty(size[0], np.int64), np.empty(size[1], np.int64), \
            np.full(2, -1, np.int64)

    def scratch(self, exact=False, defer=False):
        """The kernel's scratch for one call (hebbian_kernels._stdp_evolve's order). The event-driven step
        writes dW into one of two sets of arrays, not the one handed out last time (which the state holds as
        dWeights); a set still held elsewhere is replaced, so a dWeights read with ``.get()`` never changes.
        The last call's set tells which rows and columns it changed: ``exact``, the new weights' array held
        the weights before it, so only those are copied into it. ``defer``: the steps may leave dW to
        :meth:`settle` (a compiled circuit in which nothing reads it)."""
        index = 1 - self.last
        if sys.getrefcount(self.events[index][0]) > 2:  # the set's tuple, getrefcount's argument
            self.events[index] = self._events()
        self.last = index
        depression, potentiating, depressing = self.common
        _, rows, cols, counts = self.events[1 - index]
        changed = (rows, cols, counts, np.array([1 if exact else 0], np.int64))
        flags = self.later[5]
        flags[0], flags[1] = defer, 0
        return depression, *self.events[index], self.later, potentiating, depressing, changed

    def settle(self, events):
        """dW of the last step into the dW array of ``events`` (the set a call's scratch held), when that step
        deferred it."""
        stdp_events_settle(*events, self.later)
        self.later[5][0] = 0

    def evolve(self, state, pre_spike, post_spike, pre_trace, post_trace, weights, mask):
        """One step; returns (W, dW, the optimizer's state), the new W in the array of :meth:`outputs` and the
        new state from :meth:`next_state`."""
        self.checked(preSpike=pre_spike, postSpike=post_spike, preTrace=pre_trace, postTrace=post_trace,
                     weights=weights)
        (out,) = self.outputs(weights=weights)
        new_state, scalars = self.next_state(state)
        bounded = self._bounded(weights)
        exact = out is self.previous[0]() and weights is self.previous[1]()
        d_weights = self.evolve_kernel(pre_spike, post_spike, pre_trace, post_trace, weights, out, mask,
                                       self.step_settings, self.scratch(exact), self.blocks(), bounded,
                                       self.slots(state), self.slots(new_state), scalars)
        self._keep_bounded(out, bounded)
        self.replaced(weights=weights)
        self.previous = (weakref.ref(weights), weakref.ref(out))
        if new_state is not state:
            self.replaced_state(state)
        return out, d_weights, new_state

    def blocks(self):
        """The blocks each product is split into (see cell_kernels.outer_blocks)."""
        return outer_blocks(*self.weights_shape, self.batch)

    def _bounded(self, weights):
        """bounded[0] of the STDP kernels (see hebbian_kernels._stdp_evolve) for ``weights``."""
        return np.array([weights is self.bounded], np.uint8)

    def _keep_bounded(self, weights, bounded):
        if bounded[0]:
            self.bounded = weights

    def bound(self, state, defer=False):
        """The compiled step's arguments from the state (see :class:`ngc_optim.circuit.Binding`; ``defer``: dW
        may be written by ``finish``, see :meth:`scratch`)."""
        held, new, (out,), count, first, stepped = self.stepped_state(state)
        weights = state[self.weights.target]
        bounded = self._bounded(weights)
        start = held.count
        exact = out is self.previous[0]() and weights is self.previous[1]()
        scratch = self.scratch(exact, defer and not self.later[5][0])  # not if another step of it defers
        events = self.events[self.last]

        def finish():
            self.settle(events)
            steps = int(count[0]) - start
            if steps:
                self._keep_bounded(out, bounded)
                if out is not weights:
                    self.previous = (weakref.ref(weights), weakref.ref(out)) if steps == 1 else (_gone, _gone)
            return stepped()

        return (count, first, scratch, self.blocks(), bounded, self.slots(held), out, self.slots(new)), finish


class TraceSTDPSynapse(LearningSynapse):
    """A synapse adjusted by trace-based STDP, as ngc-learn's ``TraceSTDPSynapse``, through any ngc_optim optimizer.

    With s the spikes and z the traces of the pre- and postsynaptic units (batch rows), x_tar = pretrace_target:

    dW = A_plus * (w_bound - W)**mu * ((z_pre - x_tar).T @ s_post)      (long-term potentiation)
       - A_minus * W**mu * (s_pre.T @ z_post)                           (long-term depression)

    summed over the batch by the products; the factors (w_bound - W)**mu and
    W**mu are 1 when mu = 0, and the depression term is absent when A_minus = 0.
    dW > 0 strengthens a synapse (it is what ngc-learn adds, times eta, and what
    ``dWeights`` holds). The optimizer descends, so it is given -dW:

    W = one step of optim_type on W with the update -dW      (sgd: W = W + eta * dW, ngc-learn's step)
    W = W - W_before / tau_w                                  if tau_w > 0 (ngc-learn's decay, not
                                                              through the optimizer, like AdamW's)
    W = clip(W, 0, w_bound);   W = W * mask

    The element-wise work after the two products is one fused pass over W
    (:mod:`ngc_optim.hebbian_kernels`); with mu > 0 the factors (w_bound - W)**mu
    and W**mu are computed before it (the C library's pow), which
    then takes most of the step (``benchmarks/bench_components.py --parts stdp``). The optimizer's state lives in
    ``opt_params`` (also ``opt_state``) and is saved with the weights, in the
    checkpoint's optimizer group. The synapse has no biases. The connectivity
    mask drawn with p_conn stays fixed (ngc-learn's, a (1, 1) mask of ones,
    lets weights removed by p_conn grow back). With mu > 0, weights outside
    [0, w_bound] (only initial ones can be) make the power, and dW, NaN, as in ngc-learn.

    With batch 1, SGD without regularisation, mu 0, tau_w 0 and p_conn 1, a step
    updates only the rows of the presynaptic units that spiked and the columns of
    the postsynaptic ones (dW is 0 elsewhere), with the same bits, once the weights
    are known to lie in [0, w_bound]: each weights array set from outside is
    checked once (edit weights by setting a new array, not in place); its dW is
    kept in one of two arrays, each cleared where it was last written.

    Args:
        name, shape, weight_init, p_conn, g_conduct_factor, batch_size, seed, dtype: as :class:`DenseSynapse`.
        A_plus: strength of potentiation (finite).
        A_minus: strength of depression (>= 0).
        eta: the optimizer's step size (default 1, ngc-learn's).
        mu: power of the weight dependence (>= 0; default 0: none).
        pretrace_target: x_tar, subtracted from the presynaptic trace (default 0).
        w_bound: upper bound of the weights (> 0; default 1).
        tau_w: time constant of the weight decay (>= 0; default 0: none).
        optim_type: any optimizer of ngc_optim (default "sgd").
        optim_kwargs: its other hyperparameters, e.g. {"beta1": 0.9} (default none).
        in_place: update the weights in the array the state holds (default False: a new array, as ngc-learn's
            values; see :class:`LearningSynapse`).

    Raises:
        ValueError: a bad argument, or at evolve a spike or trace of the wrong shape or dtype (naming the
            synapse).
    """

    PER_SAMPLE: ClassVar[frozenset] = DenseSynapse.PER_SAMPLE | {"preSpike", "postSpike", "preTrace", "postTrace"}
    SPEC: ClassVar[dict] = {
        "summary": "TraceSTDPSynapse: DenseSynapse whose weights follow trace STDP, dW = A_plus * (w_bound - W)**mu"
                   " * (z_pre - x_tar).T @ s_post - A_minus * W**mu * s_pre.T @ z_post, applied through an "
                   "ngc_optim optimizer (sgd: W + eta * dW) and clipped to [0, w_bound]",
        "compartments": {
            "inputs": {"inputs": "(batch_size, shape[0]) presynaptic signal",
                       "gate": "(batch_size, shape[1]) multiplies the outputs (ones)",
                       "preSpike": "(batch_size, shape[0]) presynaptic spikes s_pre",
                       "postSpike": "(batch_size, shape[1]) postsynaptic spikes s_post",
                       "preTrace": "(batch_size, shape[0]) presynaptic trace z_pre",
                       "postTrace": "(batch_size, shape[1]) postsynaptic trace z_post"},
            "state": {"weights": "shape, in [0, w_bound] after evolve", "biases": "(1, shape[1]) zeros",
                      "mask": "shape, fixed 0/1 connectivity",
                      "opt_params": "the optimizer's state (count and slot arrays)"},
            "outputs": {"outputs": "(batch_size, shape[1]) postsynaptic signal",
                        "dWeights": "last dW (> 0: potentiation)"},
        },
        "arguments": {key: value for key, value in DenseSynapse.SPEC["arguments"].items() if key != "bias_init"}
        | {"A_plus": "potentiation strength", "A_minus": "depression strength (>= 0)", "eta": "step size (1)",
           "mu": "weight-dependence power (0)", "pretrace_target": "x_tar (0)", "w_bound": "upper bound (1)",
           "tau_w": "weight decay time constant (0: none)", "optim_type": f"one of {sorted(OPTIMIZERS)}",
           "optim_kwargs": "hyperparameters", "in_place": "update W in place (False)"},
    }

    def __init__(self, name, shape, A_plus, A_minus, eta=1.0, mu=0.0, pretrace_target=0.0, weight_init=None,
                 g_conduct_factor=1.0, p_conn=1.0, w_bound=1.0, tau_w=0.0, optim_type="sgd", optim_kwargs=None,
                 batch_size=1, seed=0, dtype="float32", key=None, in_place=False, resist_scale=None):
        super().__init__(name, shape, weight_init=weight_init, g_conduct_factor=g_conduct_factor, p_conn=p_conn,
                         batch_size=batch_size, seed=seed, dtype=dtype, key=key, resist_scale=resist_scale)
        self._check_finite(A_plus=A_plus, A_minus=A_minus, mu=mu, pretrace_target=pretrace_target,
                           w_bound=w_bound, tau_w=tau_w)
        for setting, value, valid, rule in (("A_minus", A_minus, A_minus >= 0, ">= 0"), ("mu", mu, mu >= 0, ">= 0"),
                                            ("tau_w", tau_w, tau_w >= 0, ">= 0 (0: no decay)"),
                                            ("w_bound", w_bound, w_bound > 0, "> 0")):
            if not valid:
                raise self._error(f"{setting}={value!r} must be {rule}")
        self.A_plus, self.A_minus, self.mu = float(A_plus), float(A_minus), float(mu)
        self.pretrace_target, self.w_bound, self.tau_w = float(pretrace_target), float(w_bound), float(tau_w)
        self._set_optimizer(optim_type, eta, optim_kwargs)
        self._set_in_place(in_place)
        pre, post = self.input_shape, (batch_size, self.shape[1])
        self.preSpike = Compartment(self._zeros(pre))
        self.postSpike = Compartment(self._zeros(post))
        self.preTrace = Compartment(self._zeros(pre))
        self.postTrace = Compartment(self._zeros(post))
        self.dWeights = Compartment(self._zeros(self.shape))
        self.plan = _Plan(self)

    @compilable
    def evolve(self):
        weights, d_weights, state = self.plan.evolve(self.opt_params.get(), self.preSpike.get(), self.postSpike.get(),
                                              self.preTrace.get(), self.postTrace.get(), self.weights.get(),
                                              self.mask.get())
        self.opt_params.set(state)
        self.weights.set(weights)
        self.dWeights.set(d_weights)

    def _steps_evolve(self):
        plan = self.plan
        return [Step(plan.step_kernel, ("preSpike", "postSpike", "preTrace", "postTrace", "weights", "mask"),
                     ("weights", "dWeights"), constants=(plan.step_settings, self.optimizer.step_constants),
                     binding=Binding(plan.bound, deferred=("dWeights",)))]

    def _steps_reset(self):
        spikes = ("preSpike", "postSpike", "preTrace", "postTrace")
        return [*self._transmission_steps(), *self._set_to(spikes, unwired=spikes), *self._set_to(("dWeights",))]

    @compilable
    def reset(self):
        """Zero outputs and dWeights, and the inputs, spikes and traces unless wired; gate to ones unless wired."""
        self._reset_transmission()
        if not self.preSpike.targeted:
            self.preSpike.set(self.preSpike.get() * 0)
        if not self.postSpike.targeted:
            self.postSpike.set(self.postSpike.get() * 0)
        if not self.preTrace.targeted:
            self.preTrace.set(self.preTrace.get() * 0)
        if not self.postTrace.targeted:
            self.postTrace.set(self.postTrace.get() * 0)
        self.dWeights.set(self.dWeights.get() * 0)
