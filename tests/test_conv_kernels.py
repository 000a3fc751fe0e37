"""The convolution kernels (ngc_optim.conv_kernels) against ngc-learn's operations written out in NumPy
(tests/naive_conv.py): the four sums alone, and each synapse pass with the geometry of conv_geometry, over
SAME and VALID, strides 1 to 3, 1x1 filters, filters larger than the maps, batch 1, float32 and float64; then
the Hebbian convolution synapses' evolve through every optimizer, in float64, against the NumPy dW and the
optimizer's own step."""

import itertools

import naive_conv
import numpy as np
import pytest
from ngc_optim.components import HebbianConvSynapse, HebbianDeconvSynapse, StaticConvSynapse
from ngc_optim.components.conv_synapse import conv_geometry

from ngc_optim import Context, MethodProcess
from ngc_optim.conv_kernels import (
    conv_backtransmit,
    conv_products,
    conv_transmit,
    dilated_correlation_into,
    dilated_filter_gradient_into,
    rotated,
    strided_correlation_into,
    strided_filter_gradient_into,
)
from ngc_optim.optim import OPTIMIZERS, get_optimizer

# (x, k, stride, padding, batch, in channels, out channels)
GEOMETRIES = [(6, 3, 1, "SAME", 2, 2, 3), (6, 3, 2, "SAME", 2, 2, 3), (7, 3, 2, "SAME", 1, 1, 2),
              (7, 3, 2, "VALID", 3, 2, 1), (6, 3, 2, "VALID", 2, 2, 3), (6, 1, 2, "SAME", 2, 3, 2),
              (7, 1, 3, "VALID", 1, 2, 2), (5, 2, 1, "VALID", 2, 1, 1), (4, 5, 1, "SAME", 2, 2, 3),
              (5, 3, 3, "SAME", 2, 2, 2), (5, 2, 3, "SAME", 1, 3, 2), (3, 3, 1, "VALID", 1, 1, 1)]
TOLERANCE = {"float32": {"rtol": 2e-5, "atol": 2e-5}, "float64": {"rtol": 1e-12, "atol": 1e-12}}
_names = itertools.count()


def _arrays(rng, dtype, *shapes):
    return [rng.standard_normal(shape).astype(dtype) for shape in shapes]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("stride,pad,limit", [(1, 0, 99), (2, 1, 99), (3, 2, 5), (2, -1, 6), (1, 3, 4)])
def test_the_four_sums_follow_the_general_convolution(stride, pad, limit, dtype):
    rng = np.random.default_rng(stride * 10 + pad)
    x, w = _arrays(rng, dtype, (2, 7, 7, 3), (3, 3, 3, 2))
    tolerance = TOLERANCE[dtype]
    for dilated, function in ((False, strided_correlation_into), (True, dilated_correlation_into)):
        expected = naive_conv.conv_general(x.astype(np.float64), w.astype(np.float64), 1 if dilated else stride,
                                           ((pad, pad + 1),) * 2, lhs_dilation=stride if dilated else 1)
        out = np.full(expected.shape, np.nan, dtype)
        function(x, w, stride, pad, out)
        np.testing.assert_allclose(out, expected, **tolerance)
    post = _arrays(rng, dtype, (2, 3, 3, 2))[0]
    trimmed = x.astype(np.float64)[:, :limit, :limit]
    expected = naive_conv.conv_general(trimmed.transpose(3, 1, 2, 0), post.astype(np.float64).transpose(1, 2, 0, 3),
                                       1, ((pad, 9),) * 2, rhs_dilation=stride)[:, :3, :3].transpose(1, 2, 0, 3)
    out = np.full((3, 3, 3, 2), np.nan, dtype)
    strided_filter_gradient_into(x, post, stride, pad, limit, out)
    np.testing.assert_allclose(out, expected, **tolerance)
    expected = naive_conv.conv_general(x.astype(np.float64).transpose(3, 1, 2, 0),
                                       post.astype(np.float64).transpose(1, 2, 0, 3), 1, ((pad, 9),) * 2,
                                       lhs_dilation=stride)[:, :3, :3].transpose(1, 2, 0, 3)
    dilated_filter_gradient_into(x, post, stride, pad, out)
    np.testing.assert_allclose(out, expected, **tolerance)


def test_rotated_is_ngclearns_rot180():
    w = np.arange(2 * 3 * 4 * 5, dtype=np.float64).reshape(2, 3, 4, 5)
    np.testing.assert_array_equal(rotated(w), naive_conv.rot180(w))
    assert rotated(w).flags.c_contiguous


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("transposed", [False, True], ids=["conv", "deconv"])
@pytest.mark.parametrize("geometry", GEOMETRIES, ids=lambda g: "x{}k{}s{}{}b{}c{}o{}".format(*g))
def test_synapse_passes_follow_ngclearn_operations(geometry, transposed, dtype):
    x_size, k, stride, padding, batch, n_in, n_out = geometry
    if not transposed and padding == "VALID" and x_size < k:
        pytest.skip("no output")
    out_size, back_size, layout = conv_geometry("test", x_size, k, stride, padding, transposed)
    rng = np.random.default_rng(x_size * 100 + k * 10 + stride)
    x, w, post = _arrays(rng, dtype, (batch, x_size, x_size, n_in), (k, k, n_in, n_out),
                         (batch, out_size, out_size, n_out))
    biases = _arrays(rng, dtype, (1, out_size, out_size, n_out))[0]
    x64, w64, post64 = (array.astype(np.float64) for array in (x, w, post))
    tolerance = TOLERANCE[dtype]
    expected = naive_conv.forward(transposed, x64, w64, stride, padding)
    assert expected.shape == (batch, out_size, out_size, n_out)
    np.testing.assert_allclose(conv_transmit(x, w, biases, layout, 0.5), expected * 0.5 + biases, **tolerance)
    expected = naive_conv.back(transposed, w64, post64, stride, padding, x_size)
    assert expected.shape == (batch, back_size, back_size, n_in) and back_size == x_size
    np.testing.assert_allclose(conv_backtransmit(post, w, layout, back_size, -1.0), -expected, **tolerance)
    d_weights, d_biases = conv_products(x, post, w, layout, -2.0, True)
    expected = naive_conv.filter_adjustment(transposed, x64, post64, stride, padding, k)
    assert expected.shape == w.shape and d_weights.dtype == w.dtype
    np.testing.assert_allclose(d_weights, expected, **tolerance)
    np.testing.assert_allclose(d_biases, -2.0 * post64.sum(axis=0, keepdims=True), **tolerance)
    np.testing.assert_array_equal(conv_products(x, post, w, layout, -2.0, False)[1], 0)


def _hebbian(cls, optim_type, **kwargs):
    with Context(f"convk{next(_names)}"):
        synapse = cls("s", (3, 3, 2, 3), (6, 6), eta=0.05, optim_type=optim_type, batch_size=2, dtype="float64",
                      seed=4, filter_init={"dist": "gaussian", "sigma": 0.3}, **kwargs)
        evolve = MethodProcess("evolve") >> synapse.evolve
    return synapse, evolve


@pytest.mark.parametrize("optim_type", sorted(OPTIMIZERS))
@pytest.mark.parametrize("cls", [HebbianConvSynapse, HebbianDeconvSynapse], ids=["conv", "deconv"])
def test_hebbian_evolve_is_the_numpy_adjustment_through_the_optimizer(cls, optim_type):
    """Three steps: dW = sign_value * dK - w_decay * W, dBiases = sign_value * sum_n post, then the optimizer's
    own step on [W, b] and the clip to [-w_bound, w_bound], in float64."""
    kwargs = {"stride": 2, "padding": "SAME", "sign_value": -1.0, "w_decay": 0.02, "w_bound": 0.5,
              "bias_init": {"dist": "constant", "value": 0.1}}
    synapse, evolve = _hebbian(cls, optim_type, **kwargs)
    optimizer = get_optimizer(optim_type, eta=0.05)
    params = {"weights": synapse.weights.get().copy(), "biases": synapse.biases.get().copy()}
    state = optimizer.init(params)
    rng = np.random.default_rng(5)
    transposed = cls is HebbianDeconvSynapse
    for _ in range(3):
        pre = rng.standard_normal(synapse.pre.get().shape)
        post = rng.standard_normal(synapse.post.get().shape)
        synapse.pre.set(pre)
        synapse.post.set(post)
        d_weights = -naive_conv.filter_adjustment(transposed, pre, post, 2, "SAME", 3) - 0.02 * params["weights"]
        d_biases = -post.sum(axis=0, keepdims=True)
        optimizer.step(params, {"weights": d_weights, "biases": d_biases}, state)
        params["weights"] = np.clip(params["weights"], -0.5, 0.5)
        evolve.run()
        np.testing.assert_allclose(synapse.dWeights.get(), d_weights, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(synapse.dBiases.get(), d_biases, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(synapse.weights.get(), params["weights"], rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(synapse.biases.get(), params["biases"], rtol=1e-12, atol=1e-12)
    assert synapse.opt_state.count == 3
    assert np.abs(synapse.weights.get()).max() == 0.5  # the clip acted


def test_sgd_changes_the_filter_by_eta_times_dw():
    """The closed form of one SGD step (eta 0.05, no clip or decay): W1 = W0 - eta * dK(pre, post)."""
    synapse, evolve = _hebbian(HebbianConvSynapse, "sgd", padding="VALID")
    w0 = synapse.weights.get().copy()
    rng = np.random.default_rng(6)
    pre, post = rng.standard_normal((2, 6, 6, 2)), rng.standard_normal((2, 4, 4, 3))
    synapse.pre.set(pre)
    synapse.post.set(post)
    evolve.run()
    d_weights = naive_conv.calc_dK_conv(pre, post, 1, ((0, 0), (0, 0)), 3)
    assert np.abs(d_weights).max() > 1
    np.testing.assert_allclose(synapse.weights.get(), w0 - 0.05 * d_weights, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(synapse.adjustments()[0], d_weights, rtol=1e-12, atol=1e-12)


def test_static_outputs_follow_the_formula_with_biases():
    with Context(f"convk{next(_names)}"):
        synapse = StaticConvSynapse("s", (3, 3, 1, 2), (5, 5), bias_init={"dist": "uniform", "amin": -1, "amax": 1},
                                    padding="SAME", g_conduct_factor=2.0, batch_size=1, dtype="float64", seed=2)
        advance = MethodProcess("advance") >> synapse.advance_state
    x = np.random.default_rng(1).standard_normal((1, 5, 5, 1))
    synapse.inputs.set(x)
    advance.run()
    biases = synapse.biases.get()
    assert biases.shape == (1, 5, 5, 2) and np.all(biases == biases[:, :1, :1, :])  # one value per channel
    expected = naive_conv.conv2d(x, synapse.weights.get(), 1, "SAME") * 2.0 + biases
    np.testing.assert_allclose(synapse.outputs.get(), expected, rtol=1e-12, atol=1e-12)
