"""ngc-learn's convolution synapses: 2-D convolution and deconvolution (transposed convolution) cables, static
or Hebbian.

The four classes share one module (as ngc-learn's ``ngcconv.py`` serves its six modules): they differ only in
the geometry (:func:`conv_geometry`: which of the kernels of :mod:`ngc_optim.conv_kernels` each pass uses, with
which padding) and in the plasticity, and a second module per class would repeat the same lines.
"""

from typing import ClassVar

import numpy as np
from ngcsimlib.compartment import Compartment
from ngcsimlib.parser import compilable

from ngc_optim.circuit import Binding, Step
from ngc_optim.conv_kernels import (
    CONV_EVOLVE,
    CONV_EVOLVE_IN_PLACE,
    CONV_HEBBIAN,
    CONV_STEP,
    conv_adjustments,
    conv_backtransmit,
    conv_transmit,
)
from ngc_optim.optim import OPTIMIZERS

from .dense_synapse import DEFAULT_WEIGHT_INIT
from .initializers import initialize, validate
from .learning_synapse import Optimized, SynapsePlan
from .numpy_component import NumpyComponent

__all__ = ["HebbianConvSynapse", "HebbianDeconvSynapse", "StaticConvSynapse", "StaticDeconvSynapse",
           "conv_geometry"]

PADDINGS = ("SAME", "VALID")


def _ceil_half(n):
    """ceil(n / 2) for an int n of either sign (ngc-learn's int(np.ceil(pad_len / 2)))."""
    return -(-n // 2)


def conv_geometry(owner, x_size, k_size, stride, padding, transposed):
    """(output size, dInputs size, geometry) of ngc-learn's convolution (transposed False) or deconvolution
    synapse on square x_size maps with k_size filters; ``geometry`` as :mod:`ngc_optim.conv_kernels` takes it.

    Convolution (``ngcconv.conv2d``, lax's padding): SAME: out = ceil(x/s), forward pad = ((out-1)*s + k - x)//2
    (0 if negative); VALID: out = (x - k)//s + 1, pad 0. dInputs (ngc-learn's ``calc_dX_conv``): the dilated
    correlation of post with rot180(W), pad = k-1 (VALID, or SAME with s > k), else ceil(len/2) with
    len = x - ((s-1)(out-1) + out - (k-1)). dW (``calc_dK_conv``): pad = ngc-learn's pad_args low side
    (max(k - s, 0) or max(k - x%s, 0), halved down), x trimmed to x - delta rows and columns, delta =
    ngc-learn's delta_shape (the excess of the untrimmed dW's size over k).

    Deconvolution (``deconv2d``, lax's conv_transpose): forward pad = k-1 (VALID, or SAME with s > k-1), else
    ceil((k+s-2)/2); out = (x-1)*s + 1 + len - k + 1 with len = k+s-2 (SAME) or k+s-2+max(k-s, 0) (VALID).
    dInputs (``calc_dX_deconv``): the strided correlation of post with rot180(W), lax's SAME/VALID padding.
    dW (``calc_dK_deconv``): pad = k-1 (VALID, or SAME with s >= k-1), else ceil(len/2) with
    len = k - ((s-1)(x-1) + x - (out-1)); its size is k by construction (ngc-learn's delta_shape is 0).

    Raises:
        ValueError: naming ``owner``, for a configuration ngc-learn cannot run (an empty output, a filter
            adjustment of another size than the filter).
    """
    s, k, x = stride, k_size, x_size
    if not transposed:
        if padding == "SAME":
            out = -(-x // s)
            forward = max((out - 1) * s + k - x, 0) // 2
        else:
            if x < k:
                raise ValueError(f"{owner}: VALID padding needs x_shape >= the filter ({x} < {k})")
            out, forward = (x - k) // s + 1, 0
        length = x - ((s - 1) * (out - 1) + out - (k - 1))
        back = k - 1 if padding == "VALID" or s > k else _ceil_half(length)
        along = (max(k - s, 0) if x % s == 0 else max(k - x % s, 0)) if padding == "SAME" else 0
        size = x + along - (out - 1) * s
        delta = max(size - k, 0)
        if size - delta != k:
            raise ValueError(f"{owner}: ngc-learn's filter adjustment would have size {size - delta}, not the "
                             f"filter's {k} (x_shape {x}, stride {s}, {padding})")
        return out, x, (0, s, forward, back, along // 2, x - delta)
    length = k + s - 2 + (max(k - s, 0) if padding == "VALID" else 0)
    forward = k - 1 if padding == "VALID" or s > k - 1 else _ceil_half(length)
    out = (x - 1) * s + 1 + length - k + 1
    if padding == "SAME":
        size = -(-out // s)
        back = max((size - 1) * s + k - out, 0) // 2
    else:
        size, back = (out - k) // s + 1, 0
    length = k - ((s - 1) * (x - 1) + x - (out - 1))
    gradient = k - 1 if padding == "VALID" or s >= k - 1 else _ceil_half(length)
    if out < 1 or size < 1:
        raise ValueError(f"{owner}: empty output (x_shape {x}, filter {k}, stride {s}, {padding})")
    return out, size, (1, s, forward, back, gradient, x)


def _conv_forward(owner, in_shape, inputs, weights, biases, geometry, factor):
    """A convolution synapse's outputs (conv_transmit) after checking the inputs' shape (a ValueError naming
    the synapse); inputs in the weights' dtype."""
    if np.shape(inputs) != in_shape:
        raise ValueError(f"{owner}: inputs have shape {np.shape(inputs)}; expected {in_shape}")
    return conv_transmit(np.ascontiguousarray(inputs, weights.dtype), weights, biases, geometry, factor)


class _Convolution(NumpyComponent):
    """What the four convolution synapses share: arguments, geometry, compartments, advance_state, reset."""

    TRANSPOSED: ClassVar[bool] = False
    PER_SAMPLE: ClassVar[frozenset] = frozenset({"inputs", "outputs"})

    def _build(self, name, shape, x_shape, filter_init, bias_init, stride, padding, g_conduct_factor, batch_size,
               seed, key):
        owner = self.owner = f"{type(self).__name__} {name!r}"
        shape = tuple(shape) if isinstance(shape, (list, tuple)) else shape
        if not (isinstance(shape, tuple) and len(shape) == 4 and shape[0] == shape[1]
                and all(isinstance(n, int) and not isinstance(n, bool) and n > 0 for n in shape)):
            raise self._error(f"shape={shape!r} must be four positive ints (k, k, in channels, out channels), "
                              f"the filter square")
        x_shape = tuple(x_shape) if isinstance(x_shape, (list, tuple)) else x_shape
        if not (isinstance(x_shape, tuple) and len(x_shape) == 2 and x_shape[0] == x_shape[1]
                and all(isinstance(n, int) and not isinstance(n, bool) and n > 0 for n in x_shape)):
            raise self._error(f"x_shape={x_shape!r} must be two equal positive ints (square input maps)")
        if not (isinstance(stride, int) and not isinstance(stride, bool) and stride > 0):
            raise self._error(f"stride={stride!r} must be a positive int")
        if padding not in PADDINGS:
            raise self._error(f"padding={padding!r} must be one of {PADDINGS} (ngc-learn's default None does not "
                              f"run either)")
        if not (isinstance(batch_size, int) and not isinstance(batch_size, bool) and batch_size > 0):
            raise self._error(f"batch_size={batch_size!r} must be a positive int")
        self.g_conduct_factor = self._number("g_conduct_factor", g_conduct_factor)
        filter_init = DEFAULT_WEIGHT_INIT if filter_init is None else filter_init
        validate(filter_init, f"{owner} filter_init")
        if bias_init is not None:
            validate(bias_init, f"{owner} bias_init")
        self.shape, self.x_size, self.stride, self.padding, self.batch_size = shape, x_shape[0], stride, padding, \
            batch_size
        k_size, _, n_in, n_out = shape
        out, size, self.geometry = conv_geometry(owner, self.x_size, k_size, stride, padding, self.TRANSPOSED)
        self.in_shape = (batch_size, self.x_size, self.x_size, n_in)
        self.out_shape = (batch_size, out, out, n_out)
        self.dinputs_shape = (batch_size, size, size, n_in)
        self.has_bias = bias_init is not None
        rng = np.random.default_rng(self._seed(seed, key))
        weights = initialize(filter_init, shape, rng, self.dtype, f"{owner} filter_init")
        biases = self._zeros((1, out, out, n_out))
        if self.has_bias:
            biases += initialize(bias_init, (1, n_out), rng, self.dtype, f"{owner} bias_init")
        self.inputs = Compartment(self._zeros(self.in_shape))
        self.outputs = Compartment(self._zeros(self.out_shape))
        self.weights = Compartment(weights)
        self.biases = Compartment(biases)

    def _rebatch(self, batch_size):
        super()._rebatch(batch_size)
        self.in_shape = (batch_size, *self.in_shape[1:])
        self.out_shape = (batch_size, *self.out_shape[1:])
        self.dinputs_shape = (batch_size, *self.dinputs_shape[1:])
        if hasattr(self, "plan"):
            self.plan = _ConvPlan(self)

    @compilable
    def advance_state(self):
        """outputs = (W @ inputs) * g_conduct_factor + biases (@: the convolution or the deconvolution)."""
        self.outputs.set(_conv_forward(self.owner, self.in_shape, self.inputs.get(), self.weights.get(),
                                       self.biases.get(), self.geometry, self.g_conduct_factor))

    def _steps_advance_state(self):
        return [Step(conv_transmit, ("inputs", "weights", "biases"), ("outputs",),
                     constants=(self.geometry, self.g_conduct_factor), rows=("inputs", "outputs"))]

    def _steps_reset(self):
        return [*self._set_to(("inputs",), unwired=("inputs",)), *self._set_to(("outputs",))]

    @compilable
    def reset(self):
        """Zero the outputs, and the inputs unless they are wired."""
        if not self.inputs.targeted:
            self.inputs.set(self.inputs.get() * 0)
        self.outputs.set(self.outputs.get() * 0)


_ARGUMENTS = {"shape": "(k, k, in channels, out channels), the filter", "x_shape": "(x, x), the input maps",
              "filter_init": "initialiser spec (uniform 0.025..0.8)", "bias_init": "initialiser spec or None",
              "stride": "stride (1)", "padding": "'SAME' or 'VALID' (None, ngc-learn's default, is refused)",
              "g_conduct_factor": "output gain (1)",
              "batch_size": "batch (1)", "seed": "initialiser seed (0)", "key": "ngc-learn's random key, instead of seed",
              "dtype": "float32 or float64"}
_COMPARTMENTS = {"inputs": {"inputs": "(batch_size, x, x, in channels) presynaptic maps"},
                 "state": {"weights": "shape, the filter (HWIO)",
                           "biases": "(1, out, out, out channels): one per output position, zeros without bias_init"},
                 "outputs": {"outputs": "(batch_size, out, out, out channels) postsynaptic maps"}}
_DOC_COMMON = """
    Biases: ngc-learn adds a (1, shape[1]) array to the (batch, out, out, out channels) outputs and, on its first
    Hebbian step, replaces it by one of shape (1, out, out, out channels) (its dBiases, the sum of post over the
    batch, has that shape). Here biases have that shape from the start, each output position starting from
    bias_init's value for its channel (drawn as (1, out channels): ngc-learn's (1, shape[1]) broadcasts only
    where shape[1] is the number of output channels or 1): the same outputs and updates, at a fixed shape.
    Without bias_init they are zeros (added, as ngc-learn adds 0.0) and never change.
"""


class StaticConvSynapse(_Convolution):
    __doc__ = """ngc-learn's StaticConvSynapse: a 2-D convolution (cross-correlation, as lax.conv_general_dilated) of
    NHWC maps with an HWIO filter, no plasticity.

    outputs[n, p, q, o] = sum_{a,b,c} inputs[n, p*s + a - pad, q*s + b - pad, c] * W[a, b, c, o]
                          * g_conduct_factor + biases[0, p, q, o]

    with ngc-learn's (lax's) SAME or VALID padding (see :func:`conv_geometry`).
    """ + _DOC_COMMON + """
    Args:
        name: the synapse's name.
        shape: (k, k, in channels, out channels); the filter is square, as ngc-learn assumes.
        x_shape: (x, x), the square input maps.
        filter_init: the filter's initialiser spec (default ngc-learn's uniform in [0.025, 0.8]).
        bias_init: the biases' initialiser spec, or None for none (default).
        stride: the stride (default 1).
        padding: "SAME" or "VALID" (ngc-learn's default None does not run there, and is refused here).
        g_conduct_factor: multiplies the convolution (default 1).
        batch_size: the batch (default 1).
        seed, key: the initialisers' seed, or ngc-learn's key instead (see ``seed_from``).
        dtype: "float32" (default) or "float64".
    """

    SPEC: ClassVar[dict] = {
        "summary": "StaticConvSynapse: outputs = (W conv inputs) * g_conduct_factor + biases, NHWC/HWIO",
        "compartments": _COMPARTMENTS, "arguments": _ARGUMENTS}

    def __init__(self, name, shape, x_shape, filter_init=None, bias_init=None, stride=1, padding=None,
                 g_conduct_factor=1.0, batch_size=1, seed=0, dtype="float32", key=None):
        super().__init__(name, dtype)
        self._build(name, shape, x_shape, filter_init, bias_init, stride, padding, g_conduct_factor, batch_size,
                    seed, key)


class StaticDeconvSynapse(_Convolution):
    __doc__ = """ngc-learn's StaticDeconvSynapse: a 2-D deconvolution (transposed convolution, as lax.conv_transpose
    without kernel flip) of NHWC maps with an HWIO filter, no plasticity.

    outputs[n, p, q, o] = sum_{a,b,c} D[n, p + a - pad, q + b - pad, c] * W[a, b, c, o] * g_conduct_factor
                          + biases[0, p, q, o],   D = inputs dilated by the stride

    with lax's SAME (out = x * s) or VALID (out = x * s + max(k - s, 0)) padding (see :func:`conv_geometry`).
    """ + _DOC_COMMON + """
    Args:
        as :class:`StaticConvSynapse`.
    """

    TRANSPOSED: ClassVar[bool] = True
    SPEC: ClassVar[dict] = {
        "summary": "StaticDeconvSynapse: outputs = (W deconv inputs) * g_conduct_factor + biases, NHWC/HWIO",
        "compartments": _COMPARTMENTS, "arguments": _ARGUMENTS}

    def __init__(self, name, shape, x_shape, filter_init=None, bias_init=None, stride=1, padding=None,
                 g_conduct_factor=1.0, batch_size=1, seed=0, dtype="float32", key=None):
        super().__init__(name, dtype)
        self._build(name, shape, x_shape, filter_init, bias_init, stride, padding, g_conduct_factor, batch_size,
                    seed, key)


class _ConvPlan(SynapsePlan):
    """A Hebbian convolution synapse's fixed settings and the checks of the arrays its methods are given."""

    def __init__(self, synapse):
        super().__init__(synapse, {"pre": synapse.in_shape, "post": synapse.out_shape, "weights": synapse.shape,
                                   "biases": (1, *synapse.out_shape[1:])}, CONV_HEBBIAN)
        rule = synapse.optimizer.kernel.name
        evolve = CONV_EVOLVE_IN_PLACE if synapse.in_place else CONV_EVOLVE
        self.evolve_kernel, self.step_kernel = evolve[rule], CONV_STEP[rule]
        self.geometry = synapse.geometry
        self.settings = ((synapse.w_bound, synapse.w_decay, synapse.sign_value, synapse.low), synapse.has_bias)
        self.has_bias, self.biases = synapse.has_bias, synapse.biases

    def adjustments(self, pre, post, weights):
        """(dW, dBiases) of the rule for the current values, without changing the synapse."""
        self.checked(pre=pre, post=post, weights=weights)
        return conv_adjustments(pre, post, weights, self.geometry, self.settings)

    def evolve(self, state, pre, post, weights, biases):
        """One step; returns (W, biases, dW, dBiases, the optimizer's state), the new W and biases in the arrays
        of :meth:`outputs` (without bias_init the biases, zeros that never change, are kept) and the new state
        from :meth:`next_state`."""
        self.checked(pre=pre, post=post, weights=weights, biases=biases)
        if self.has_bias:
            out, biases_out = self.outputs(weights=weights, biases=biases)
        else:
            (out,), biases_out = self.outputs(weights=weights), biases
        new_state, scalars = self.next_state(state)
        d_weights, d_biases = self.evolve_kernel(pre, post, weights, out, biases, biases_out, self.geometry,
                                                 self.settings, self.slots(state), self.slots(new_state),
                                                 self.slots(new_state, "biases"), scalars)
        if self.has_bias:
            self.replaced(weights=weights, biases=biases)
        else:
            self.replaced(weights=weights)
        if new_state is not state:
            self.replaced_state(state)
        return out, biases_out, d_weights, d_biases, new_state

    def bound(self, state):
        """The compiled step's arguments from the state (see :class:`ngc_optim.circuit.Binding`): the
        optimizer's state the call steps (:meth:`stepped_state`)."""
        held, new, outputs, count, first, finish = self.stepped_state(state)
        biases_out = outputs[1] if self.has_bias else state[self.biases.target]
        return (count, first, self.slots(held), self.slots(new, "biases"), outputs[0], biases_out,
                self.slots(new)), finish


class _HebbianConvolution(Optimized, _Convolution):
    """What the two Hebbian convolution synapses share: the rule, evolve, backtransmit, reset."""

    PER_SAMPLE: ClassVar[frozenset] = _Convolution.PER_SAMPLE | {"pre", "post", "dInputs"}

    def __init__(self, name, shape, x_shape, eta=0.0, filter_init=None, bias_init=None, stride=1, padding=None,
                 g_conduct_factor=1.0, w_bound=0.0, is_nonnegative=False, w_decay=0.0, sign_value=1.0,
                 optim_type="sgd", batch_size=1, optim_kwargs=None, seed=0, dtype="float32", key=None,
                 in_place=False):
        super().__init__(name, dtype)
        self._build(name, shape, x_shape, filter_init, bias_init, stride, padding, g_conduct_factor, batch_size,
                    seed, key)
        self._learn(eta, w_bound, is_nonnegative, w_decay, sign_value, optim_type, optim_kwargs, in_place)

    def _learn(self, eta, w_bound, is_nonnegative, w_decay, sign_value, optim_type, optim_kwargs, in_place):
        self._check_finite(w_bound=w_bound, w_decay=w_decay, sign_value=sign_value)
        if w_bound < 0:
            raise self._error(f"w_bound={w_bound!r} must be >= 0 (0: no clip)")
        self.w_bound = float(w_bound)
        self.is_nonnegative = self._flag("is_nonnegative", is_nonnegative)
        self.low = 0.0 if is_nonnegative else -self.w_bound
        self.w_decay = float(w_decay)
        self.sign_value = float(sign_value)
        self.masked = False
        """No connectivity mask (SynapsePlan reads it)."""
        self.pre = Compartment(self._zeros(self.in_shape))
        self.post = Compartment(self._zeros(self.out_shape))
        self.dWeights = Compartment(self._zeros(self.shape))
        self.dBiases = Compartment(self._zeros((1, *self.out_shape[1:])))
        self.dInputs = Compartment(self._zeros(self.dinputs_shape))
        self._set_optimizer(optim_type, eta, optim_kwargs)
        self._set_in_place(in_place)
        self.plan = _ConvPlan(self)

    def adjustments(self):
        """(dW, dBiases) of the rule for the current pre, post and weights, changing nothing (not a compiled
        method: ngc-learn's convolution synapses compute them in evolve only)."""
        return self.plan.adjustments(self.pre.get(), self.post.get(), self.weights.get())

    @compilable
    def evolve(self):
        """dW, dBiases from pre and post, then one optimizer step on weights (and biases), then the clip; the
        new weights, biases and optimizer state are new arrays unless in_place."""
        weights, biases, d_weights, d_biases, state = self.plan.evolve(self.opt_params.get(), self.pre.get(),
                                                                       self.post.get(), self.weights.get(),
                                                                       self.biases.get())
        self.opt_params.set(state)
        self.weights.set(weights)
        self.biases.set(biases)
        self.dWeights.set(d_weights)
        self.dBiases.set(d_biases)

    def _steps_evolve(self):
        plan = self.plan
        return [Step(plan.step_kernel, ("pre", "post", "weights", "biases"), ("weights", "biases", "dWeights", "dBiases"),
                     constants=(plan.geometry, plan.settings, self.optimizer.step_constants),
                     binding=Binding(plan.bound))]

    @compilable
    def backtransmit(self):
        """dInputs = the back-transmission of post through rot180(W), times sign_value."""
        self.plan.checked(post=self.post.get(), weights=self.weights.get())
        self.dInputs.set(conv_backtransmit(self.post.get(), self.weights.get(), self.geometry,
                                           self.dinputs_shape[1], self.sign_value))

    def _steps_backtransmit(self):
        return [Step(conv_backtransmit, ("post", "weights"), ("dInputs",),
                     constants=(self.geometry, self.dinputs_shape[1], self.sign_value), rows=("post", "dInputs"))]

    def _steps_reset(self):
        return [*self._set_to(("inputs", "pre", "post"), unwired=("inputs", "pre", "post")),
                *self._set_to(("outputs", "dInputs"))]

    @compilable
    def reset(self):
        """Zero outputs and dInputs, and inputs, pre and post unless wired (ngc-learn's reset; dWeights and
        dBiases keep the last step's)."""
        if not self.inputs.targeted:
            self.inputs.set(self.inputs.get() * 0)
        if not self.pre.targeted:
            self.pre.set(self.pre.get() * 0)
        if not self.post.targeted:
            self.post.set(self.post.get() * 0)
        self.outputs.set(self.outputs.get() * 0)
        self.dInputs.set(self.dInputs.get() * 0)


_HEBBIAN_ARGUMENTS = {**_ARGUMENTS, "eta": "step size (0)", "w_bound": "clip (0: none)",
                      "is_nonnegative": "clip at 0 (False)", "w_decay": "decay (0)", "sign_value": "sign (1)",
                      "optim_type": f"one of {sorted(OPTIMIZERS)}", "optim_kwargs": "hyperparameters",
                      "in_place": "update W and biases in place (False)"}
_HEBBIAN_COMPARTMENTS = {
    "inputs": {**_COMPARTMENTS["inputs"], "pre": "(batch_size, x, x, in channels) presynaptic statistic",
               "post": "(batch_size, out, out, out channels) postsynaptic statistic"},
    "state": {**_COMPARTMENTS["state"], "opt_params": "the optimizer's state (count and slot arrays)"},
    "outputs": {**_COMPARTMENTS["outputs"], "dWeights": "last dW", "dBiases": "last dBiases",
                "dInputs": "(batch_size, x, x, in channels) post sent back through the filter"}}
_HEBBIAN_DOC = """
    dW = sign_value * F(pre, post) - w_decay * W (the decay if w_decay > 0);  dBiases = sign_value * sum_n post
    W, biases = one step of optim_type on [W, biases] with [dW, dBiases]   (sgd: W = W - eta * dW)
    W = clip(W, 0 or -w_bound, w_bound) if w_bound > 0
    dInputs = sign_value * B(post, rot180(W))

    F and B are ngc-learn's ``calc_dK_*`` and ``calc_dX_*`` (see :mod:`ngc_optim.conv_kernels` and
    :func:`conv_geometry`). dW goes through the optimizer as it is (gradient-descent form: sign_value -1 for
    ascent on a Hebbian product), as ngc-learn's; no soft bound or prior (ngc-learn's convolution synapses have
    none). The element-wise part (sign, decay, the optimizer's rule, the clip) is one fused pass over W; the
    optimizer's state lives in ``opt_params``, as HebbianSynapse's.
""" + _DOC_COMMON + """
    Args:
        name, shape, x_shape, filter_init, bias_init, stride, padding, g_conduct_factor, batch_size, seed, key,
            dtype: as :class:`StaticConvSynapse`.
        eta: the optimizer's step size (default 0, ngc-learn's).
        w_bound: the clip after each step (0: none, the default).
        is_nonnegative: clip to [0, w_bound] instead of [-w_bound, w_bound] (default False).
        w_decay: the decay subtracted from dW (default 0).
        sign_value: multiplies dW, dBiases and dInputs (default 1).
        optim_type: any optimizer of ngc_optim (default "sgd").
        optim_kwargs: its other hyperparameters (default none).
        in_place: update the weights and biases in the arrays the state holds (default False: new arrays, as
            ngc-learn's values; see :class:`ngc_optim.components.learning_synapse.Optimized`).
"""


class HebbianConvSynapse(_HebbianConvolution):
    __doc__ = """ngc-learn's HebbianConvSynapse: a :class:`StaticConvSynapse` whose filter (and biases, if any)
    learn by a two-factor Hebbian rule through any ngc_optim optimizer:
    """ + _HEBBIAN_DOC

    SPEC: ClassVar[dict] = {
        "summary": "HebbianConvSynapse: StaticConvSynapse whose filter learns dW = sign_value * dK(pre, post) - "
                   "w_decay * W through an ngc_optim optimizer; backtransmit: dInputs",
        "compartments": _HEBBIAN_COMPARTMENTS, "arguments": _HEBBIAN_ARGUMENTS}


class HebbianDeconvSynapse(_HebbianConvolution):
    __doc__ = """ngc-learn's HebbianDeconvSynapse: a :class:`StaticDeconvSynapse` whose filter (and biases, if
    any) learn by a two-factor Hebbian rule through any ngc_optim optimizer:
    """ + _HEBBIAN_DOC

    TRANSPOSED: ClassVar[bool] = True
    SPEC: ClassVar[dict] = {
        "summary": "HebbianDeconvSynapse: StaticDeconvSynapse whose filter learns dW = sign_value * dK(pre, "
                   "post) - w_decay * W through an ngc_optim optimizer; backtransmit: dInputs",
        "compartments": _HEBBIAN_COMPARTMENTS, "arguments": _HEBBIAN_ARGUMENTS}
