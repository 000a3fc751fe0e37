"""The vectorised fletcher32 against a word-at-a-time transcription of HDF5's H5_checksum_fletcher32."""

import h5py
import numpy as np
import pytest

from ngc_optim.fletcher32 import fletcher32


def naive_fletcher32(data):
    """HDF5's H5_checksum_fletcher32 (H5checksum.c), one 16-bit word at a time, in uint32 arithmetic."""
    n, length, i, sum1, sum2 = len(data), len(data) // 2, 0, 0, 0
    while length:
        block = min(length, 360)
        length -= block
        for _ in range(block):
            sum1 = (sum1 + ((data[i] << 8) | data[i + 1])) & 0xFFFFFFFF
            sum2 = (sum2 + sum1) & 0xFFFFFFFF
            i += 2
        sum1 = (sum1 & 0xFFFF) + (sum1 >> 16)
        sum2 = (sum2 & 0xFFFF) + (sum2 >> 16)
    if n % 2:
        sum1 = (sum1 + (data[i] << 8)) & 0xFFFFFFFF
        sum2 = (sum2 + sum1) & 0xFFFFFFFF
        sum1 = (sum1 & 0xFFFF) + (sum1 >> 16)
        sum2 = (sum2 & 0xFFFF) + (sum2 >> 16)
    sum1 = (sum1 & 0xFFFF) + (sum1 >> 16)
    sum2 = (sum2 & 0xFFFF) + (sum2 >> 16)
    return (sum2 << 16) | sum1


@pytest.mark.parametrize("size", [0, 1, 2, 3, 359, 360, 719, 720, 721, 722, 4097, 60_001])
@pytest.mark.parametrize("fill", ["random", "ones", "zeros"])
def test_matches_the_transcription(size, fill):
    data = {"random": np.random.default_rng(size).integers(0, 256, size, dtype=np.uint8).tobytes(),
            "ones": b"\xff" * size, "zeros": bytes(size)}[fill]
    assert fletcher32(data) == naive_fletcher32(data)


def test_matches_the_checksums_hdf5_writes(tmp_path):
    array = np.random.default_rng(0).standard_normal(3001).astype(np.float32)
    with h5py.File(tmp_path / "f.h5", "w") as file:
        file.create_dataset("x", data=array, chunks=(1000,), fletcher32=True)
    with h5py.File(tmp_path / "f.h5", "r") as file:
        for start in range(0, 3001, 1000):
            _, raw = file["x"].id.read_direct_chunk((start,))
            assert fletcher32(raw[:-4]) == int.from_bytes(raw[-4:], "little")


def test_accepts_arrays_and_detects_a_single_bit():
    array = np.arange(10_000, dtype=np.float64)
    reference = fletcher32(array)
    assert reference == naive_fletcher32(array.tobytes())
    array[1234] = np.nextafter(array[1234], np.inf)
    assert fletcher32(array) != reference
