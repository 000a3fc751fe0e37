"""ngc-learn's patched synapses: block-diagonal (optionally overlapping) synaptic cables, static or Hebbian."""

from typing import ClassVar

import numpy as np
from ngcsimlib.compartment import Compartment
from ngcsimlib.parser import compilable

from ngc_optim.cell_kernels import dense_transmit, transposed_transmit
from ngc_optim.circuit import Binding, Step
from ngc_optim.hebbian_kernels import (
    HEBBIAN_PATCHED,
    HEBBIAN_PATCHED_EVOLVE,
    HEBBIAN_PATCHED_EVOLVE_IN_PLACE,
    HEBBIAN_PATCHED_STEP,
    PATCHED_ADJUSTMENTS,
)

from .dense_synapse import DenseSynapse, _transmit
from .hebbian_synapse import PRIORS, HebbianSynapse
from .initializers import initialize, validate

__all__ = ["HebbianPatchedSynapse", "StaticPatchedSynapse", "patched_weights"]

DEFAULT_PATCH_INIT = {"dist": "fan_in_gaussian"}
"""ngc-learn's default initialiser of each patch (fan-in = the patch's rows)."""


def patched_weights(shape, n_sub_models, stride_shape, spec, rng, dtype, owner):
    """ngc-learn's patched weights: ``n_sub_models`` patches of (shape[0]/n + 2 s0) x (shape[1]/n + 2 s1),
    the i-th at rows i*shape[0]/n and columns i*shape[1]/n, each drawn from ``spec`` in turn (a later patch
    overwrites where they overlap); then the first and last s0 rows and s1 columns zeroed. Returns (weights,
    patches: 1 inside a patch, 0 outside, the zeroed borders 0)."""
    rows, columns = shape[0] // n_sub_models, shape[1] // n_sub_models
    stride_rows, stride_columns = stride_shape
    size = (rows + 2 * stride_rows, columns + 2 * stride_columns)
    weights = np.zeros((n_sub_models * rows + 2 * stride_rows, n_sub_models * columns + 2 * stride_columns), dtype)
    patches = np.zeros_like(weights)
    for index in range(n_sub_models):
        block = (slice(index * rows, index * rows + size[0]), slice(index * columns, index * columns + size[1]))
        weights[block] = initialize(spec, size, rng, dtype, owner)
        patches[block] = 1
    for array in (weights, patches):
        if stride_rows:
            array[:stride_rows] = 0
            array[-stride_rows:] = 0
        if stride_columns:
            array[:, :stride_columns] = 0
            array[:, -stride_columns:] = 0
    return weights, patches


def _full_shape(owner, shape, n_sub_models, stride_shape):
    """The cable's shape (shape + 2 * stride) after checking the patch arguments (a ValueError naming owner)."""
    if not (isinstance(n_sub_models, int) and not isinstance(n_sub_models, bool) and n_sub_models > 0):
        raise ValueError(f"{owner}: n_sub_models={n_sub_models!r} must be a positive int")
    if not (isinstance(stride_shape, (list, tuple)) and len(stride_shape) == 2
            and all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in stride_shape)):
        raise ValueError(f"{owner}: stride_shape={stride_shape!r} must be two ints >= 0")
    if not (isinstance(shape, (list, tuple)) and len(shape) == 2
            and all(isinstance(n, int) and not isinstance(n, bool) and n > 0 and n % n_sub_models == 0
                    for n in shape)):
        raise ValueError(f"{owner}: shape={shape!r} must be two positive ints divisible by "
                         f"n_sub_models={n_sub_models}")
    return shape[0] + 2 * stride_shape[0], shape[1] + 2 * stride_shape[1]


def _patched_update(plan, pre, post, weights, mask):
    """A HebbianPatchedSynapse's calc_update through ``ngc_optim.hebbian_kernels.PATCHED_ADJUSTMENTS``,
    after checking the arrays."""
    plan.checked(pre=pre, post=post, weights=weights)
    return PATCHED_ADJUSTMENTS[plan.kind](pre, post, weights, mask, plan.settings, plan.blocks(pre.shape[0]))


class _Patched:
    """What the two patched synapses share (mixed into a DenseSynapse subclass): the patch layout, ``post_in
    -> pre_out`` through W transposed, and their steps."""

    def _lay_out(self, n_sub_models, stride_shape, weight_init, p_conn, block_mask):
        """Draw the patches (a stream of their own from the seed) into the weights, times the connectivity drawn
        for p_conn (once, as ngc-learn); ``mask`` holds the block mask (ones without one), which masks the
        learning steps only (as ngc-learn's: not the initial weights, not the transmission); add post_in and
        pre_out."""
        self.n_sub_models, self.stride_shape = n_sub_models, tuple(stride_shape)
        spec = DEFAULT_PATCH_INIT if weight_init is None else weight_init
        validate(spec, f"{self.owner} weight_init")
        if block_mask is not None:
            block_mask = np.asarray(block_mask, self.dtype)
            if block_mask.shape != self.shape:
                raise self._error(f"block_mask has shape {block_mask.shape}; expected {self.shape}")
        inner = (self.shape[0] - 2 * self.stride_shape[0], self.shape[1] - 2 * self.stride_shape[1])
        weights, self.patches = patched_weights(inner, n_sub_models, self.stride_shape, spec,
                                                np.random.default_rng([self.seed, 1]), self.dtype,
                                                f"{self.owner} weight_init")
        self.masked = block_mask is not None
        self.mask = Compartment(np.ones(self.shape, self.dtype) if block_mask is None else block_mask)
        self.weights = Compartment((weights * self.connectivity).astype(self.dtype))
        self.post_in = Compartment(self._zeros((self.batch_size, self.shape[1])), display_name="Signal sent back")
        self.pre_out = Compartment(self._zeros(self.input_shape), display_name="Signal back to the inputs")

    @compilable
    def advance_state(self):
        """outputs = (inputs @ W) * resist_scale + biases; pre_out = post_in @ W.T."""
        self.outputs.set(_transmit(self.name, self.input_shape, self.inputs.get(), self.weights.get(),
                                   self.mask.get(), self.gate.get(), self.biases.get(), False,
                                   self.g_conduct_factor))
        self.pre_out.set(transposed_transmit(self.post_in.get(), self.weights.get()))

    def _steps_advance_state(self):
        return self._patched_transmission()

    def _patched_transmission(self):
        return [Step(dense_transmit, ("inputs", "weights", "mask", "gate", "biases"), ("outputs",),
                     constants=(False, self.g_conduct_factor), rows=("inputs", "gate", "outputs")),
                Step(transposed_transmit, ("post_in", "weights"), ("pre_out",), rows=("post_in", "pre_out"))]

    def _patched_reset(self):
        return [*self._transmission_steps(), *self._set_to(("post_in",), unwired=("post_in",)),
                *self._set_to(("pre_out",))]


_PATCH_ARGUMENTS = {"n_sub_models": "patches along the diagonal (1)", "stride_shape": "overlap (rows, columns) (0, 0)",
                    "resist_scale": "output gain (1)", "block_mask": "shape + 2*stride mask of W and dW (None)"}
_PATCH_COMPARTMENTS = {"post_in": "(batch_size, shape[1]) signal sent back", "pre_out": "post_in @ weights.T"}


class StaticPatchedSynapse(_Patched, DenseSynapse):
    """ngc-learn's StaticPatchedSynapse: ``n_sub_models`` dense patches along the diagonal of a (shape[0] +
    2 s0) x (shape[1] + 2 s1) cable (s = stride_shape: neighbouring patches overlap by 2 s), no plasticity.

    outputs = (inputs @ W) * resist_scale + biases;   pre_out = post_in @ W.T

    Each patch is drawn from ``weight_init`` (default ngc-learn's fan-in gaussian of the patch) with NumPy's
    generator seeded by ``seed``/``key``; the first and last s0 rows and s1 columns are zero; p_conn < 1 cuts
    connections once, at construction.

    Args:
        name, bias_init, p_conn, batch_size, seed, key, dtype: as :class:`DenseSynapse`.
        shape: (inputs, outputs), each divisible by n_sub_models, before the stride's borders.
        n_sub_models: number of patches (default 1).
        stride_shape: (s0, s1), the overlap (default (0, 0)).
        weight_init: each patch's initialiser spec.
        resist_scale: output gain (ngc-learn's name for g_conduct_factor; default 1).
    """

    PER_SAMPLE: ClassVar[frozenset] = DenseSynapse.PER_SAMPLE | {"post_in", "pre_out"}
    SPEC: ClassVar[dict] = {
        "summary": "StaticPatchedSynapse: block-diagonal patches of a dense cable; outputs = (inputs @ W) * "
                   "resist_scale + b, pre_out = post_in @ W.T",
        "compartments": {**DenseSynapse.SPEC["compartments"],
                         "inputs": {**DenseSynapse.SPEC["compartments"]["inputs"], "post_in": _PATCH_COMPARTMENTS["post_in"]},
                         "outputs": {**DenseSynapse.SPEC["compartments"]["outputs"],
                                     "pre_out": _PATCH_COMPARTMENTS["pre_out"]}},
        "arguments": {**{k: v for k, v in DenseSynapse.SPEC["arguments"].items() if k != "g_conduct_factor"},
                      **{k: v for k, v in _PATCH_ARGUMENTS.items() if k != "block_mask"}},
    }

    def __init__(self, name, shape, n_sub_models=1, stride_shape=(0, 0), weight_init=None, bias_init=None,
                 resist_scale=1.0, p_conn=1.0, batch_size=1, seed=0, dtype="float32", key=None):
        full = _full_shape(f"StaticPatchedSynapse {name!r}", shape, n_sub_models, stride_shape)
        super().__init__(name, full, weight_init={"dist": "constant", "value": 0.0}, bias_init=bias_init,
                         g_conduct_factor=resist_scale, p_conn=p_conn, batch_size=batch_size, seed=seed, dtype=dtype,
                         key=key)
        self.owner = f"StaticPatchedSynapse {name!r}"
        self._lay_out(n_sub_models, stride_shape, weight_init, p_conn, None)

    def _steps_reset(self):
        return self._patched_reset()

    @compilable
    def reset(self):
        """Zero outputs and pre_out; zero inputs and post_in and set the gate to ones unless wired."""
        self._reset_transmission()
        if not self.post_in.targeted:
            self.post_in.set(self.post_in.get() * 0)
        self.pre_out.set(self.pre_out.get() * 0)


class HebbianPatchedSynapse(_Patched, HebbianSynapse):
    """ngc-learn's HebbianPatchedSynapse: a :class:`StaticPatchedSynapse` whose weights (and biases, if any)
    learn by HebbianSynapse's rule through any ngc_optim optimizer, restricted to its patches:

    dW = HebbianSynapse's adjustment (bound, prior, sign_value) * block_mask * [W != 0]
    W = one optimizer step with dW;   W = clip(W, 0 or -w_bound, w_bound) if w_bound > 0;   W = W * block_mask

    A weight that is 0 (outside the patches, cut by p_conn, or one that reaches exactly 0) no longer changes,
    as in ngc-learn. ``block_mask`` (an array of the cable's shape, or None) masks dW and W; the
    optimizer's state is in ``opt_params``, as HebbianSynapse's.

    Args:
        name, shape, n_sub_models, stride_shape, weight_init, bias_init, resist_scale, p_conn, batch_size, seed,
            key, dtype: as :class:`StaticPatchedSynapse`.
        eta, w_bound, is_nonnegative, prior, sign_value, optim_type, optim_kwargs, pre_wght, post_wght,
            in_place: as :class:`HebbianSynapse`.
        block_mask: a 0/1 array of shape (shape[0] + 2 s0, shape[1] + 2 s1), or None (default).
    """

    PER_SAMPLE: ClassVar[frozenset] = HebbianSynapse.PER_SAMPLE | {"post_in", "pre_out"}
    PRIORS: ClassVar[dict] = {**PRIORS, "gaussian": None, "laplacian": None}
    """ngc-learn's HebbianPatchedSynapse applies l1/lasso, l2/ridge and l1l2/elastic_net only: its other names
    (gaussian, laplacian, constant) add no prior, unlike HebbianSynapse's gaussian (l2) and laplacian (l1)."""
    RULES: ClassVar[dict] = HEBBIAN_PATCHED
    KERNELS: ClassVar[tuple] = (HEBBIAN_PATCHED_EVOLVE, HEBBIAN_PATCHED_EVOLVE_IN_PLACE, HEBBIAN_PATCHED_STEP)
    SPEC: ClassVar[dict] = {
        "summary": "HebbianPatchedSynapse: StaticPatchedSynapse whose patches learn by HebbianSynapse's rule "
                   "through an ngc_optim optimizer (dW masked by block_mask and by W != 0)",
        "compartments": {**HebbianSynapse.SPEC["compartments"],
                         "inputs": {**HebbianSynapse.SPEC["compartments"]["inputs"],
                                    "post_in": _PATCH_COMPARTMENTS["post_in"]},
                         "outputs": {**HebbianSynapse.SPEC["compartments"]["outputs"],
                                     "pre_out": _PATCH_COMPARTMENTS["pre_out"]}},
        "arguments": {**{k: v for k, v in HebbianSynapse.SPEC["arguments"].items() if k != "g_conduct_factor"},
                      **_PATCH_ARGUMENTS},
    }

    def __init__(self, name, shape, n_sub_models=1, stride_shape=(0, 0), eta=0.0, weight_init=None, bias_init=None,
                 block_mask=None, w_bound=1.0, is_nonnegative=False, prior=(None, 0.0), sign_value=1.0,
                 optim_type="sgd", pre_wght=1.0, post_wght=1.0, p_conn=1.0, resist_scale=1.0, batch_size=1,
                 optim_kwargs=None, seed=0, dtype="float32", key=None, in_place=False):
        full = _full_shape(f"HebbianPatchedSynapse {name!r}", shape, n_sub_models, stride_shape)
        super().__init__(name, full, eta=eta, weight_init={"dist": "constant", "value": 0.0}, bias_init=bias_init,
                         w_bound=w_bound, is_nonnegative=is_nonnegative, prior=prior, sign_value=sign_value,
                         optim_type=optim_type, optim_kwargs=optim_kwargs, pre_wght=pre_wght, post_wght=post_wght,
                         p_conn=p_conn, g_conduct_factor=resist_scale, batch_size=batch_size, seed=seed,
                         dtype=dtype, key=key, in_place=in_place)
        self.owner = f"HebbianPatchedSynapse {name!r}"
        self._lay_out(n_sub_models, stride_shape, weight_init, p_conn, block_mask)
        self._set_optimizer(optim_type, eta, optim_kwargs)
        self.plan = type(self.plan)(self)

    @compilable
    def calc_update(self):
        d_weights, d_biases = _patched_update(self.plan, self.pre.get(), self.post.get(), self.weights.get(),
                                              self.mask.get())
        self.dWeights.set(d_weights)
        self.dBiases.set(d_biases)

    @compilable
    def evolve(self):
        """One learning step (HebbianSynapse's, without dt, as ngc-learn's)."""
        self._evolve()

    def _steps_calc_update(self):
        return [Step(PATCHED_ADJUSTMENTS[self.plan.kind], ("pre", "post", "weights", "mask"), ("dWeights", "dBiases"),
                     constants=(self.plan.settings,), binding=Binding(self.plan.adjustment_blocks))]

    def _steps_reset(self):
        return [*self._patched_reset(), *self._set_to(("pre", "post"), unwired=("pre", "post")),
                *self._set_to(("dWeights", "dBiases"))]

    @compilable
    def reset(self):
        """Zero outputs, pre_out, dWeights, dBiases, and inputs, post_in, pre and post unless wired; gate to ones
        unless wired."""
        self._reset_transmission()
        if not self.post_in.targeted:
            self.post_in.set(self.post_in.get() * 0)
        self.pre_out.set(self.pre_out.get() * 0)
        if not self.pre.targeted:
            self.pre.set(self.pre.get() * 0)
        if not self.post.targeted:
            self.post.set(self.post.get() * 0)
        self.dWeights.set(self.dWeights.get() * 0)
        self.dBiases.set(self.dBiases.get() * 0)
