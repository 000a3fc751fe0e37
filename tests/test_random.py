"""ngc_optim.random gives JAX's keys: the words below were printed by jax 0.12.0.1 (ngc-learn 3.2.3's venv,
its default partitionable threefry) for ``jax.random.PRNGKey(seed)`` and ``jax.random.split(key, 3)``."""

import numpy as np
import pytest
from ngc_optim.components import DenseSynapse

from ngc_optim import Context, random

JAX = {
    0: ([0, 0], [[1797259609, 2579123966], [928981903, 3453687069], [4146024105, 2718843009]]),
    5: ([0, 5], [[2724472204, 3573582090], [202567368, 3886822060], [3594430910, 1784718894]]),
    1234: ([0, 1234], [[1264997412, 2518116175], [2877103387, 1697627890], [2113592192, 603280156]]),
    2**32 + 7: ([0, 7], [[3625411723, 1954958720], [195045567, 4062205631], [966301609, 1948237315]]),
}


@pytest.mark.parametrize("seed", sorted(JAX))
def test_keys_and_splits_are_jaxs(seed):
    key, three = JAX[seed]
    assert random.PRNGKey(seed).dtype == np.uint32
    np.testing.assert_array_equal(random.PRNGKey(seed), key)
    np.testing.assert_array_equal(random.split(random.PRNGKey(seed), 3), three)
    np.testing.assert_array_equal(random.split(random.PRNGKey(seed)), three[:2])


def test_the_museum_idiom_ports_by_its_import():
    """``dkey, *subkeys = random.split(dkey, 10)`` as ngc-museum writes it, the keys given to components."""
    dkey = random.PRNGKey(42)
    dkey, *subkeys = random.split(dkey, 10)
    np.testing.assert_array_equal(dkey, [1832780943, 270669613])
    np.testing.assert_array_equal(subkeys[0], [64467757, 2916123636])
    np.testing.assert_array_equal(subkeys[1], [2465931498, 255383827])
    with Context("random_keys"):
        first = DenseSynapse("a", (3, 2), key=subkeys[0])
        again = DenseSynapse("b", (3, 2), key=subkeys[0])
        other = DenseSynapse("c", (3, 2), key=subkeys[1])
    np.testing.assert_array_equal(first.weights.get(), again.weights.get())
    assert not np.array_equal(first.weights.get(), other.weights.get())


@pytest.mark.parametrize("call, message", [
    (lambda: random.PRNGKey(-1), r"seed=-1 must be a non-negative integer"),
    (lambda: random.PRNGKey(1.5), r"seed=1.5 must be"),
    (lambda: random.split(np.array([1, 2, 3], np.uint32)), r"key must be two 32-bit words"),
    (lambda: random.split(random.PRNGKey(0), 0), r"num=0 must be a positive integer"),
])
def test_bad_input_is_refused(call, message):
    with pytest.raises(ValueError, match=message):
        call()
