"""JAX's ``random.PRNGKey`` and ``random.split``, for code ported from ngc-learn (``from ngc_optim import random``).

ngc-learn models make their components' keys with JAX: ``dkey = random.PRNGKey(seed)``, then
``dkey, *subkeys = random.split(dkey, 10)``, and pass ``key=subkeys[i]``. ngc_optim's components take such a
key (an array of two 32-bit words) and turn it into their seed. These two functions compute JAX's own keys
(threefry-2x32, JAX's default "partitionable" split), with NumPy, so the same calls give the same words
as JAX (checked against JAX's outputs in tests/test_random.py); ngc_optim's components then draw their own
random numbers from them, not JAX's.
"""

import numbers

import numpy as np

__all__ = ["PRNGKey", "split"]

_ROTATIONS = ((13, 15, 26, 6), (17, 29, 16, 24))


def PRNGKey(seed):
    """JAX's key for an integer ``seed`` (JAX without 64-bit mode keeps its low 32 bits): uint32 [0, seed].

    Raises:
        ValueError: ``seed`` is not a non-negative integer.
    """
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise ValueError(f"PRNGKey: seed={seed!r} must be a non-negative integer")
    return np.array([0, int(seed) & 0xFFFFFFFF], np.uint32)


def _threefry(key, x0, x1):
    """Threefry-2x32 (20 rounds) of the words (x0, x1) under ``key``: JAX's threefry2x32."""
    with np.errstate(over="ignore"):
        k0, k1 = np.uint32(key[0]), np.uint32(key[1])
        schedule = (k0, k1, k0 ^ k1 ^ np.uint32(0x1BD11BDA))
        x0, x1 = x0 + schedule[0], x1 + schedule[1]
        for block in range(5):
            for rotation in _ROTATIONS[block % 2]:
                x0 = x0 + x1
                x1 = (x1 << np.uint32(rotation)) | (x1 >> np.uint32(32 - rotation))
                x1 = x0 ^ x1
            x0 = x0 + schedule[(block + 1) % 3]
            x1 = x1 + schedule[(block + 2) % 3] + np.uint32(block + 1)
    return x0, x1


def split(key, num=2):
    """JAX's ``random.split(key, num)``: ``num`` new keys, a uint32 array of shape (num, 2).

    Raises:
        ValueError: ``key`` is not two 32-bit words, or ``num`` is not a positive integer.
    """
    words = np.asarray(key)
    if words.shape != (2,) or words.dtype.kind not in "iu" or words.min() < 0 or words.max() >= 2**32:
        raise ValueError(f"split: key must be two 32-bit words (as PRNGKey gives), got {key!r}")
    if isinstance(num, (bool, np.bool_)) or not isinstance(num, numbers.Integral) or num <= 0:
        raise ValueError(f"split: num={num!r} must be a positive integer")
    words = words.astype(np.uint32)
    x0, x1 = _threefry(words, np.zeros(int(num), np.uint32), np.arange(int(num), dtype=np.uint32))
    return np.stack([x0, x1], axis=1)
