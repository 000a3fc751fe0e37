"""HebbianSynapse: a dense synapse that learns by a two-factor Hebbian rule through an ngc_optim optimizer."""

from typing import ClassVar

import numpy as np
from ngcsimlib.compartment import Compartment
from ngcsimlib.parser import compilable

from ngc_optim.cell_kernels import outer_blocks, outer_kind
from ngc_optim.circuit import Binding, Step
from ngc_optim.hebbian_kernels import (
    HEBBIAN,
    HEBBIAN_ADJUSTMENTS,
    HEBBIAN_EVOLVE,
    HEBBIAN_EVOLVE_IN_PLACE,
    HEBBIAN_STEP,
    PRIOR_CODES,
)
from ngc_optim.optim import OPTIMIZERS

from .dense_synapse import DenseSynapse
from .learning_synapse import LearningSynapse, SynapsePlan

__all__ = ["PRIORS", "HebbianSynapse"]

PRIORS = {"constant": None, "l1": "l1", "lasso": "l1", "laplacian": "l1", "l2": "l2", "ridge": "l2",
          "gaussian": "l2", "l1l2": "l1l2", "elastic_net": "l1l2"}
"""ngc-learn's prior names -> the penalty they apply (None: no prior)."""


def _done():
    """Nothing to do after the compiled call, nothing replaced (see :class:`ngc_optim.circuit.Binding`)."""
    return {}


class _Plan(SynapsePlan):
    """A Hebbian synapse's fixed settings, and the two Hebbian computations over its arrays.

    The compiled methods pass it the compartments' current values; it checks
    them (a wrong shape or dtype is an error naming the synapse) and hands them to
    the synapse's kernel in :mod:`ngc_optim.hebbian_kernels` (``HEBBIAN_EVOLVE``:
    the Hebbian product, then one fused pass over W), which the compiled circuit
    calls too (``HEBBIAN_STEP``).
    """

    def __init__(self, synapse):
        super().__init__(synapse, {"pre": synapse.input_shape, "post": (synapse.batch_size, synapse.shape[1]),
                                   "weights": synapse.shape, "biases": (1, synapse.shape[1])}, synapse.RULES)
        rule = synapse.optimizer.kernel.name
        evolve, in_place, step = synapse.KERNELS
        self.kind = outer_kind(*synapse.shape, synapse.batch_size)
        """The synapse's kind of outer products (see cell_kernels.outer_kind), which picks its kernels."""
        self.evolve_kernel = (in_place if synapse.in_place else evolve)[self.kind][rule]
        self.step_kernel = step[self.kind][rule]
        hebbian = (synapse.w_bound, synapse.lmbda, synapse.l1_ratio, synapse.sign_value, synapse.low)
        self.settings = (self.masked, PRIOR_CODES[synapse.prior], hebbian, synapse.pre_wght, synapse.post_wght,
                         synapse.has_bias)
        self.rows, self.columns = synapse.shape
        self.batch = synapse.batch_size
        self.has_bias, self.biases = synapse.has_bias, synapse.biases

    def adjustments(self, pre, post, weights):
        """(dW, db) of ngc-learn's rule for the current values, without changing the synapse."""
        self.checked(pre=pre, post=post, weights=weights)
        return HEBBIAN_ADJUSTMENTS[self.kind](pre, post, weights, self.settings, self.blocks(pre.shape[0]))

    def blocks(self, batch):
        """The blocks the Hebbian product is split into (see cell_kernels.outer_blocks)."""
        return outer_blocks(self.rows, self.columns, batch)

    def evolve(self, state, pre, post, weights, biases, mask):
        """One step; returns (W, b, dW, db, the optimizer's state), the new W and b in the arrays of
        :meth:`outputs` and the new state from :meth:`next_state`."""
        self.checked(pre=pre, post=post, weights=weights, biases=biases)
        if self.has_bias:
            out, biases_out = self.outputs(weights=weights, biases=biases)
        else:
            (out,), biases_out = self.outputs(weights=weights), biases
        new_state, scalars = self.next_state(state)
        d_weights, d_biases = self.evolve_kernel(pre, post, weights, out, biases, biases_out, mask, self.settings,
                                                 self.blocks(pre.shape[0]), self.slots(state),
                                                 self.slots(new_state), self.slots(new_state, "biases"), scalars)
        self.replaced(weights=weights, biases=biases)
        if new_state is not state:
            self.replaced_state(state)
        return out, biases_out, d_weights, d_biases, new_state

    def adjustment_blocks(self, state):
        """calc_update's compiled step's blocks, at each call (see :class:`ngc_optim.circuit.Binding`)."""
        return (self.blocks(self.batch),), _done

    def bound(self, state):
        """The compiled step's arguments from the state (see :class:`ngc_optim.circuit.Binding`): the
        optimizer's state the call steps (:meth:`stepped_state`)."""
        held, new, outputs, count, first, finish = self.stepped_state(state)
        biases_out = outputs[1] if self.has_bias else state[self.biases.target]
        return (count, first, self.blocks(self.batch), self.slots(held), self.slots(new, "biases"), outputs[0],
                biases_out, self.slots(new)), finish


class HebbianSynapse(LearningSynapse):
    """A synapse adjusted by a two-factor Hebbian rule, as ngc-learn's, through any ngc_optim optimizer.

    dW = (pre * pre_wght).T @ (post * post_wght)            db = sum over the batch of post * post_wght
    dW = dW * (w_bound - |W|)                               if w_bound > 0 (soft bound)
    dW = dW + prior term:  l2/ridge/gaussian: -lmbda * W;   l1/lasso/laplacian: -lmbda * sign(W);
                           l1l2/elastic_net (lmbda, r): lmbda * (-r * sign(W) - (1 - r)/2 * W)
    dW, db = sign_value * dW, sign_value * db
    W, b = one step of optim_type on [W, b] with updates [dW, db]   (sgd: W = W - eta * dW)
    W = clip(W, 0 or -w_bound, w_bound) if w_bound > 0;   W = W * mask

    The element-wise work after the matrix product (bound, prior, sign, the
    optimizer's rule, clip, mask) is one fused pass over W
    (:mod:`ngc_optim.hebbian_kernels`). The optimizer's state (step count and
    slot arrays, an :class:`ngc_optim.optim.OptimizerState`) lives in the
    compartment ``opt_params``, as ngc-learn's, also reachable as ``opt_state``;
    it is saved with the weights, in the checkpoint's optimizer group. The
    connectivity mask drawn with p_conn stays fixed (ngc-learn multiplies by a
    (1, 1) mask of ones, so weights removed by p_conn can grow back there).

    Args:
        name, shape, weight_init, bias_init, p_conn, g_conduct_factor, batch_size, seed, dtype:
            as :class:`DenseSynapse` (bias_init None: no biases, which then do not learn).
        eta: the optimizer's step size (default 0, ngc-learn's).
        w_bound: soft bound and clip (0 disables both; default 1).
        is_nonnegative: clip to [0, w_bound] instead of [-w_bound, w_bound] (default False).
        prior: (name, lmbda), names in PRIORS; for l1l2/elastic_net lmbda is [scale, l1_ratio]
            (default ("constant", 0): none).
        sign_value: multiplies the adjustment (-1 for descent on an error signal; default 1).
        optim_type: any optimizer of ngc_optim (default "sgd").
        optim_kwargs: its other hyperparameters, e.g. {"beta1": 0.9} (default none).
        pre_wght, post_wght: scale pre and post (default 1).
        in_place: update the weights and biases in the arrays the state holds (default False: new arrays, as
            ngc-learn's values; see :class:`LearningSynapse`).
    """

    PER_SAMPLE: ClassVar[frozenset] = DenseSynapse.PER_SAMPLE | {"pre", "post"}
    PRIORS: ClassVar[dict] = PRIORS
    """The prior names the synapse takes -> the penalty each applies (None: none)."""
    RULES: ClassVar[dict] = HEBBIAN
    """Optimizer kernel name -> the fused kernel of the synapse's rule (see :mod:`ngc_optim.hebbian_kernels`)."""
    KERNELS: ClassVar[tuple] = (HEBBIAN_EVOLVE, HEBBIAN_EVOLVE_IN_PLACE, HEBBIAN_STEP)
    """(evolve, in-place evolve, step) kernels per optimizer kernel name: the per-call evolve (into other arrays,
    or in place with ``in_place``) and the compiled circuit's step."""
    SPEC: ClassVar[dict] = {
        "summary": "HebbianSynapse: DenseSynapse whose weights follow dW = sign_value * ((pre*pre_wght).T @ "
                   "(post*post_wght) * bound + prior), applied through an ngc_optim optimizer",
        "compartments": {
            "inputs": {"inputs": "(batch_size, shape[0]) presynaptic signal", "pre": "presynaptic statistic",
                       "post": "postsynaptic statistic"},
            "state": {"weights": "shape", "biases": "(1, shape[1])", "mask": "shape, fixed 0/1 connectivity",
                      "opt_params": "the optimizer's state (count and slot arrays)"},
            "outputs": {"outputs": "(batch_size, shape[1]) postsynaptic signal", "dWeights": "last dW",
                        "dBiases": "last db"},
        },
        "arguments": {**DenseSynapse.SPEC["arguments"], "eta": "step size (0)", "w_bound": "bound (1)",
                      "is_nonnegative": "clip at 0 (False)", "prior": "(name, lmbda)", "sign_value": "sign (1)",
                      "optim_type": f"one of {sorted(OPTIMIZERS)}", "optim_kwargs": "hyperparameters",
                      "pre_wght": "pre scale (1)", "post_wght": "post scale (1)",
                      "in_place": "update W and b in place (False)"},
    }

    def __init__(self, name, shape, eta=0.0, weight_init=None, bias_init=None, w_bound=1.0, is_nonnegative=False,
                 prior=("constant", 0.0), sign_value=1.0, optim_type="sgd", optim_kwargs=None, pre_wght=1.0,
                 post_wght=1.0, p_conn=1.0, g_conduct_factor=1.0, batch_size=1, seed=0, dtype="float32", key=None,
                 in_place=False, resist_scale=None):
        super().__init__(name, shape, weight_init=weight_init, bias_init=bias_init, g_conduct_factor=g_conduct_factor,
                         p_conn=p_conn, batch_size=batch_size, seed=seed, dtype=dtype, key=key,
                         resist_scale=resist_scale)
        self._check_finite(w_bound=w_bound, sign_value=sign_value, pre_wght=pre_wght, post_wght=post_wght)
        if w_bound < 0:
            raise self._error(f"w_bound={w_bound!r} must be >= 0 (0: no bound)")
        self.prior, self.lmbda, self.l1_ratio = self._parse_prior(prior)
        self._set_optimizer(optim_type, eta, optim_kwargs)
        self._set_in_place(in_place)
        self.w_bound = float(w_bound)
        self.low = 0.0 if is_nonnegative else -self.w_bound
        self.sign_value = float(sign_value)
        self.pre_wght = float(pre_wght)
        self.post_wght = float(post_wght)
        self.pre = Compartment(self._zeros(self.input_shape))
        self.post = Compartment(self._zeros((batch_size, self.shape[1])))
        self.dWeights = Compartment(self._zeros(self.shape))
        self.dBiases = Compartment(self._zeros((1, self.shape[1])))
        self.plan = _Plan(self)

    def _parse_prior(self, prior):
        if prior is None:
            return None, 0.0, 0.0
        if not (isinstance(prior, (list, tuple)) and len(prior) == 2):
            raise self._error(f"prior={prior!r} must be (name, lmbda)")
        name, lmbda = prior
        kind = None if name is None else self.PRIORS.get(str(name).lower(), "unknown")
        if kind == "unknown":
            raise self._error(f"unknown prior {name!r}; expected one of {sorted(self.PRIORS)}")
        if kind == "l1l2":
            if not (isinstance(lmbda, (list, tuple)) and len(lmbda) == 2):
                raise self._error(f"prior {name!r} takes [scale, l1_ratio], got {lmbda!r}")
            return kind, float(lmbda[0]), float(lmbda[1])
        if isinstance(lmbda, bool) or not isinstance(lmbda, (int, float)) or not np.isfinite(lmbda):
            raise self._error(f"prior lmbda={lmbda!r} must be a finite number")
        return kind, float(lmbda), 0.0

    def _steps_evolve(self):
        plan = self.plan
        return [Step(plan.step_kernel, ("pre", "post", "weights", "biases", "mask"),
                     ("weights", "biases", "dWeights", "dBiases"),
                     constants=(plan.settings, self.optimizer.step_constants), binding=Binding(plan.bound))]

    def _steps_calc_update(self):
        return [Step(HEBBIAN_ADJUSTMENTS[self.plan.kind], ("pre", "post", "weights"), ("dWeights", "dBiases"),
                     constants=(self.plan.settings,), binding=Binding(self.plan.adjustment_blocks))]

    def _steps_reset(self):
        return [*self._transmission_steps(), *self._set_to(("pre", "post"), unwired=("pre", "post")),
                *self._set_to(("dWeights", "dBiases"))]

    @compilable
    def calc_update(self):
        d_weights, d_biases = self.plan.adjustments(self.pre.get(), self.post.get(), self.weights.get())
        self.dWeights.set(d_weights)
        self.dBiases.set(d_biases)

    @compilable
    def evolve(self, dt):
        self._evolve()

    def _evolve(self):
        """evolve's body (ngc-learn's HebbianPatchedSynapse.evolve takes no dt)."""
        weights, biases, d_weights, d_biases, state = self.plan.evolve(self.opt_params.get(), self.pre.get(),
                                                                       self.post.get(), self.weights.get(),
                                                                       self.biases.get(), self.mask.get())
        self.opt_params.set(state)
        self.weights.set(weights)
        self.biases.set(biases)
        self.dWeights.set(d_weights)
        self.dBiases.set(d_biases)

    @compilable
    def reset(self):
        """Zero outputs, dWeights, dBiases, and inputs, pre and post unless wired; gate to ones unless wired."""
        self._reset_transmission()
        if not self.pre.targeted:
            self.pre.set(self.pre.get() * 0)
        if not self.post.targeted:
            self.post.set(self.post.get() * 0)
        self.dWeights.set(self.dWeights.get() * 0)
        self.dBiases.set(self.dBiases.get() * 0)
