"""Data loading: the bundled digits, the split, .npz and IDX files, and bad data."""

import gzip

import numpy as np
import pytest
from sklearn.datasets import load_digits as sklearn_digits

from ngc_optim import datasets
from ngc_optim.datasets import DatasetError


def test_bundled_digits_are_scikit_learns():
    reference = sklearn_digits()
    data = datasets.load_digits(test_fraction=0.2, seed=0)
    x = np.concatenate([data.x_train, data.x_test])
    y = np.concatenate([data.y_train, data.y_test])
    order = np.lexsort(np.column_stack([x, y]).T)
    expected = np.column_stack([reference.data / 16.0, reference.target])
    expected = expected[np.lexsort(expected.T)]
    np.testing.assert_array_equal(np.column_stack([x, y])[order], expected)
    assert data.x_train.dtype == np.float32 and data.y_train.dtype == np.int64
    assert (data.n_features, data.n_classes) == (64, 10)


def test_split_is_stratified_seeded_and_disjoint():
    labels = np.repeat(np.arange(4), [10, 20, 30, 41])
    train, test = datasets.stratified_split(labels, 0.2, seed=3)
    assert sorted(np.concatenate([train, test])) == list(range(len(labels)))
    assert np.bincount(labels[test]).tolist() == [2, 4, 6, 8]
    again = datasets.stratified_split(labels, 0.2, seed=3)
    other = datasets.stratified_split(labels, 0.2, seed=4)
    np.testing.assert_array_equal(again[1], test)
    assert not np.array_equal(other[1], test)
    digits = datasets.load_digits()
    assert len(digits.x_test) == 359 and len(digits.x_train) == 1438


def write_idx(path, array, compress=False):
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(n.to_bytes(4, "big") for n in array.shape)
    opener = gzip.open if compress else open
    with opener(path, "wb") as stream:
        stream.write(header + array.astype(np.uint8).tobytes())


def test_idx_files_load_as_mnist_does(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (12, 4, 5), dtype=np.uint8)
    labels = rng.integers(0, 10, 12, dtype=np.uint8)
    paths = [tmp_path / name for name in ("train-images.gz", "train-labels.gz", "test-images", "test-labels")]
    write_idx(paths[0], images[:8], compress=True)
    write_idx(paths[1], labels[:8], compress=True)
    write_idx(paths[2], images[8:])
    write_idx(paths[3], labels[8:])
    data = datasets.load_idx(*paths)
    np.testing.assert_array_equal(data.x_train, images[:8].reshape(8, 20) / np.float32(255))
    np.testing.assert_array_equal(data.y_test, labels[8:])


@pytest.mark.parametrize("content, message", [
    (b"\x00\x00\x0d\x01\x00\x00\x00\x01\x00\x00\x00\x00", r"IDX data type 0x0d is not supported"),
    (b"\x12\x34\x08\x01", r"not an IDX file"),
    (b"\x00\x00\x08\x02\x00\x00\x00\x02", r"truncated IDX header"),
    (b"\x00\x00\x08\x01\x00\x00\x00\x03\x01\x02", r"10 bytes; the header \(3,\) needs 11"),
])
def test_bad_idx_files_are_refused_naming_the_file(tmp_path, content, message):
    path = tmp_path / "bad-idx"
    path.write_bytes(content)
    with pytest.raises(DatasetError, match=f"bad-idx: {message}"):
        datasets.read_idx(path)


def test_idx_images_and_labels_must_agree(tmp_path):
    write_idx(tmp_path / "a", np.zeros((3, 2, 2)))
    write_idx(tmp_path / "b", np.zeros(2))
    with pytest.raises(DatasetError, match="3 images but .* has 2 labels"):
        datasets.load_idx(tmp_path / "a", tmp_path / "b", tmp_path / "a", tmp_path / "b")


def test_npz_in_both_layouts(tmp_path):
    rng = np.random.default_rng(1)
    x, y = rng.random((40, 3)), np.repeat(np.arange(2), 20)
    np.savez(tmp_path / "split.npz", x_train=x[:30], y_train=y[:30], x_test=x[30:], y_test=y[30:])
    np.savez(tmp_path / "whole.npz", x=x, y=y)
    split = datasets.load_npz(tmp_path / "split.npz")
    np.testing.assert_array_equal(split.x_test, x[30:].astype(np.float32))
    whole = datasets.load_npz(tmp_path / "whole.npz", seed=2)
    assert len(whole.x_test) == 8 and np.bincount(whole.y_test).tolist() == [4, 4]


@pytest.mark.parametrize("arrays, message", [
    ({"x": np.full((4, 2), 2.0), "y": np.zeros(4, int)}, r"inputs lie in \[2, 2\]; scale them to \[0, 1\]"),
    ({"x": np.zeros((4, 2)), "y": np.zeros(3, int)}, r"labels have shape \(3,\); expected \(4,\)"),
    ({"x": np.zeros((4, 2)), "y": np.full(4, 0.5)}, r"expected integer class labels"),
    ({"x": np.full((4, 2), np.nan), "y": np.zeros(4, int)}, r"NaN or inf"),
    ({"x": np.zeros((4, 2)), "y": np.eye(4)[[0, 1, 1, 2]] * 2}, r"one-hot labels must be 0 or 1: row 0 is"),
    ({"x": np.zeros((4, 2)), "y": np.ones((4, 3))}, r"exactly one 1 per row: row 0 has 3"),
    ({"images": np.zeros((4, 2))}, r"holds \['images'\]; expected x_train"),
])
def test_bad_npz_files_are_refused_naming_the_file(tmp_path, arrays, message):
    np.savez(tmp_path / "data.npz", **arrays)
    with pytest.raises(DatasetError, match=f"data.npz.*{message}"):
        datasets.load_npz(tmp_path / "data.npz")


def test_unreadable_npz_is_refused(tmp_path):
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(DatasetError, match="junk.npz: not a readable .npz file"):
        datasets.load_npz(tmp_path / "junk.npz")


def test_one_hot():
    np.testing.assert_array_equal(datasets.one_hot([2, 0], 3), [[0, 0, 1], [1, 0, 0]])
    with pytest.raises(DatasetError, match=r"labels must lie in 0 .. 2"):
        datasets.one_hot([3], 3)


def test_one_hot_labels_load_as_their_classes(tmp_path):
    rng = np.random.default_rng(1)
    x, y = rng.random((40, 3)), np.repeat(np.arange(4), 10)
    np.savez(tmp_path / "classes.npz", x=x, y=y)
    np.savez(tmp_path / "rows.npz", x=x, y=np.eye(4, dtype=np.uint8)[y])
    by_class, by_row = datasets.load_npz(tmp_path / "classes.npz"), datasets.load_npz(tmp_path / "rows.npz")
    for expected, got in zip(by_class, by_row):
        assert got.dtype == expected.dtype
        np.testing.assert_array_equal(got, expected)


def test_class_labels():
    np.testing.assert_array_equal(datasets.class_labels([[0, 1], [1, 0]], 2, 2), [1, 0])
    np.testing.assert_array_equal(datasets.class_labels(np.array([2, 0]), 2, 3), [2, 0])
    assert datasets.class_labels(np.zeros((0, 3)), 0, 3).shape == (0,)
    with pytest.raises(DatasetError, match=r"labels must lie in 0 .. 2, found 0 .. 3"):
        datasets.class_labels(np.array([0, 3]), 2, 3)
    with pytest.raises(DatasetError, match=r"labels must lie >= 0, found -1 .. 0"):
        datasets.class_labels(np.array([0, -1]), 2)
    with pytest.raises(DatasetError, match=r"labels are int64\[2, 2\]; expected 2 integer labels or 2 one-hot "
                                           r"rows of 3"):
        datasets.class_labels(np.eye(2, dtype=np.int64), 2, 3)
