"""Property tests: any valid shape, dtype and hyperparameters match the reference bit for bit."""

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import ngc_optim

import naive

SETTINGS = settings(max_examples=60, deadline=None)


def in_range(h, cap):
    high = min(h.high, cap)
    return st.floats(min_value=h.low, max_value=high, exclude_min=h.low_open,
                     exclude_max=h.high_open and high == h.high, allow_nan=False)


@st.composite
def configurations(draw):
    name = draw(st.sampled_from(sorted(ngc_optim.OPTIMIZERS)))
    cls = ngc_optim.OPTIMIZERS[name]
    hyperparameters = {h.name: draw(in_range(h, cap=1.0)) for h in cls.hyperparameters}
    regularization = draw(st.sampled_from([None, "l1", "l2"]))
    if regularization:
        hyperparameters.update(regularization=regularization,
                               weight_decay=draw(st.floats(0.0, 1.0, allow_nan=False)))
    return name, hyperparameters


@SETTINGS
@given(configuration=configurations(),
       shape=st.lists(st.integers(0, 6), min_size=0, max_size=3).map(tuple),
       dtype=st.sampled_from([np.float32, np.float64]),
       steps=st.integers(1, 8),
       fortran=st.booleans(),
       seed=st.integers(0, 2**32 - 1))
def test_any_valid_configuration_matches_reference(configuration, shape, dtype, steps, fortran, seed):
    name, hyperparameters = configuration
    rng = np.random.default_rng(seed)
    p = rng.standard_normal(shape).astype(dtype)
    if fortran:
        p = p.copy(order="F")
    updates = [rng.standard_normal(shape).astype(dtype) for _ in range(steps)]
    optimizer = ngc_optim.get_optimizer(name, **hyperparameters)
    param = p.copy(order="K")
    state = optimizer.init({"p": param})
    for u in updates:
        optimizer.step({"p": param}, {"p": u}, state)
    expected, slots = naive.run(name, p, updates, **hyperparameters)
    np.testing.assert_array_equal(param, expected)
    for slot, array in slots.items():
        np.testing.assert_array_equal(state.slot(slot)["p"], array)


@st.composite
def one_hyperparameter(draw):
    name = draw(st.sampled_from(sorted(ngc_optim.OPTIMIZERS)))
    h = draw(st.sampled_from(ngc_optim.OPTIMIZERS[name].hyperparameters))
    value = draw(st.one_of(st.floats(), st.sampled_from([h.low, h.high, -0.0, 1.0, 1e-300])))
    return name, h, value


@SETTINGS
@given(one_hyperparameter())
def test_validation_accepts_exactly_the_documented_interval(drawn):
    name, h, value = drawn
    inside = (math.isfinite(value)
              and (value > h.low if h.low_open else value >= h.low)
              and (value < h.high if h.high_open else value <= h.high))
    try:
        optimizer = ngc_optim.get_optimizer(name, **{h.name: value})
    except ValueError as error:
        assert not inside, error
        assert h.name in str(error)
    else:
        assert inside
        assert getattr(optimizer, h.name) == value
