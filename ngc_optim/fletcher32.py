"""HDF5's fletcher32 checksum, computed by a vectorised Numba kernel.

HDF5's fletcher32 filter (``H5_checksum_fletcher32``) reads a chunk as
big-endian 16-bit words ``w`` and, over blocks of at most 360 words, runs

    sum1 += w;  sum2 += sum1          (uint32 arithmetic, per word)

folding both sums to 16 bits (``s = (s & 0xffff) + (s >> 16)``) after each
block, and once more at the end; an odd trailing byte counts as a word with a
zero low byte. The checksum ``(sum2 << 16) | sum1`` is appended to the chunk,
little-endian.

Within a block of L words starting from ``(s1, s2)`` the sums have a closed
form, ``s1 + sum(w)`` and ``s2 + L*s1 + sum((L - k) * w[k])`` (k from 0), whose
terms a SIMD loop computes in uint32: C's uint32 wrap-around is arithmetic
modulo 2**32, in which the order of the additions does not matter, so the
result is HDF5's value bit for bit. ngc_optim writes and verifies checkpoint chunks with it, instead of
HDF5's byte-at-a-time filter, and HDF5 itself verifies the same checksums
whenever any HDF5 reader reads the file.
"""

import numpy as np
from numba import njit

from . import config

__all__ = ["fletcher32"]

_BLOCK = 360
_MASK16 = np.uint32(0xFFFF)


@njit(inline="always")
def _block_sums(words, start, length):
    """sum(w) and sum((length - k) * w[k]) of big-endian words[start:start+length], mod 2**32."""
    plain = np.uint32(0)
    weighted = np.uint32(0)
    for k in range(length):
        raw = np.uint32(words[start + k])
        word = ((raw & np.uint32(0xFF)) << np.uint32(8)) | (raw >> np.uint32(8))
        plain += word
        weighted += np.uint32(length - k) * word
    return plain, weighted


@njit(inline="always")
def _fold(value):
    return (value & _MASK16) + (value >> np.uint32(16))


@njit(cache=config.CACHE, error_model="numpy", nogil=True)
def _fletcher32(data):
    words = data[: data.size - data.size % 2].view(np.uint16)
    sum1 = np.uint32(0)
    sum2 = np.uint32(0)
    full = words.size // _BLOCK
    for block in range(full + 1):
        length = _BLOCK if block < full else words.size - full * _BLOCK
        if length == 0:
            break
        if length == _BLOCK:
            plain, weighted = _block_sums(words, block * _BLOCK, _BLOCK)
        else:
            plain, weighted = _block_sums(words, block * _BLOCK, length)
        sum2 = _fold(sum2 + np.uint32(length) * sum1 + weighted)
        sum1 = _fold(sum1 + plain)
    if data.size % 2:
        sum1 = sum1 + (np.uint32(data[data.size - 1]) << np.uint32(8))
        sum2 = _fold(sum2 + sum1)
        sum1 = _fold(sum1)
    return (_fold(sum2) << np.uint32(16)) | _fold(sum1)


def fletcher32(data):
    """HDF5's fletcher32 checksum (an int) of the bytes of ``data`` (bytes or a contiguous array)."""
    view = np.frombuffer(data, dtype=np.uint8) if isinstance(data, (bytes, bytearray, memoryview)) \
        else np.ascontiguousarray(data).reshape(-1).view(np.uint8)
    return int(_fletcher32(view))
