"""Data for the models: the bundled digits, the user's arrays or ``.npz`` files, and MNIST-format IDX files.

Every loader returns a :class:`Dataset` of float32 inputs scaled to [0, 1] (one
row per sample) and int64 class labels, split into a training and a test part.
Labels may be given as integer classes or as one-hot rows (as ngc-learn's models
hold their targets): :func:`class_labels` checks either and gives the classes.

The default data set is a copy of scikit-learn's bundled ``load_digits`` (1,797
8x8 images of the digits 0-9 with pixels 0..16, the test set of the UCI "Optical
Recognition of Handwritten Digits" data, E. Alpaydin and C. Kaynak, 1998), kept
in ``ngc_optim/data/digits.npz`` so that nothing is downloaded and scikit-learn
is not needed at run time; a test checks the copy against scikit-learn's.
:func:`load_digits` scales the pixels by 1/16 and splits them 80/20, stratified
and seeded: for each class, a seeded permutation of its samples puts
``round(count * test_fraction)`` of them in the test part; each part is then
shuffled with the same generator.
"""

import gzip
import math
import zlib
from importlib import resources
from pathlib import Path
from typing import NamedTuple

import numpy as np

__all__ = ["Dataset", "DatasetError", "class_labels", "dataset", "load_digits", "load_idx", "load_npz", "one_hot",
           "stratified_split"]


class DatasetError(ValueError):
    """Data that cannot be used, with the file or array named."""


class Dataset(NamedTuple):
    """Training and test inputs (float32, rows in [0, 1]) and labels (int64, 0 .. n_classes - 1)."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray

    @property
    def n_features(self):
        return self.x_train.shape[1]

    @property
    def n_classes(self):
        return int(max(self.y_train.max(), self.y_test.max())) + 1


def stratified_split(labels, test_fraction, seed):
    """Indices (train, test) of a seeded split that keeps each class's share (see the module)."""
    if not 0.0 < test_fraction < 1.0:
        raise DatasetError(f"test_fraction={test_fraction!r} must be in (0, 1)")
    rng = np.random.default_rng(seed)
    train, test = [], []
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        count = round(len(members) * test_fraction)
        test.append(members[:count])
        train.append(members[count:])
    return rng.permutation(np.concatenate(train)), rng.permutation(np.concatenate(test))


def class_labels(labels, samples, n_classes=None):
    """The int64 classes of ``labels``: ``samples`` integers, or ``samples`` one-hot rows (each of 0s and 1s
    with exactly one 1, ``n_classes`` wide when given; their class is the column of the 1), as ngc-learn's
    models hold targets. With ``n_classes``, classes must lie in 0 .. n_classes - 1; else they must be >= 0.

    Raises:
        DatasetError: anything else, naming what is wrong (the shape, dtype, the first bad row or label).
    """
    y = np.asarray(labels)
    wide = f"{n_classes}" if n_classes is not None else "n_classes"
    expected = f"expected {samples} integer labels or {samples} one-hot rows of {wide}"
    if y.ndim == 2 and len(y) == samples and (n_classes is None or y.shape[1] == n_classes) and y.shape[1] > 0:
        if not (y.dtype == bool or np.issubdtype(y.dtype, np.integer) or np.issubdtype(y.dtype, np.floating)):
            raise DatasetError(f"one-hot labels have dtype {y.dtype}; expected numbers 0 and 1")
        ones = y == 1
        outside = np.flatnonzero(~(ones | (y == 0)).all(axis=1))
        if len(outside):
            row = outside[0]
            raise DatasetError(f"one-hot labels must be 0 or 1: row {row} is {y[row].tolist()}")
        counts = ones.sum(axis=1)
        wrong = np.flatnonzero(counts != 1)
        if len(wrong):
            raise DatasetError(f"one-hot labels need exactly one 1 per row: row {wrong[0]} has {counts[wrong[0]]}")
        return np.argmax(ones, axis=1).astype(np.int64)
    if y.shape != (samples,) or not np.issubdtype(y.dtype, np.integer):
        raise DatasetError(f"labels are {y.dtype}{list(y.shape)}; {expected}")
    y = y.astype(np.int64)
    if len(y) and (y.min() < 0 or (n_classes is not None and y.max() >= n_classes)):
        bounds = f"in 0 .. {n_classes - 1}" if n_classes is not None else ">= 0"
        raise DatasetError(f"labels must lie {bounds}, found {y.min()} .. {y.max()}")
    return y


def _checked(what, x, y):
    """(x as float32 rows, y as int64) after checking they are usable, or DatasetError naming ``what``."""
    x = np.asarray(x)
    y = np.asarray(y)
    if x.ndim < 2 or len(x) == 0:
        raise DatasetError(f"{what}: inputs must have one row per sample, got shape {x.shape}")
    if y.ndim == 2 and len(y) == len(x):
        try:
            y = class_labels(y, len(x))
        except DatasetError as error:
            raise DatasetError(f"{what}: {error}") from None
    if y.shape != (len(x),):
        raise DatasetError(f"{what}: labels have shape {y.shape}; expected ({len(x)},), one per input row, "
                           f"or {len(x)} one-hot rows")
    if not np.issubdtype(x.dtype, np.number) or np.issubdtype(x.dtype, np.complexfloating):
        raise DatasetError(f"{what}: inputs have dtype {x.dtype}; expected real numbers")
    x = x.reshape(len(x), -1).astype(np.float32)
    if not np.isfinite(x).all():
        raise DatasetError(f"{what}: inputs contain NaN or inf")
    if x.min() < 0.0 or x.max() > 1.0:
        raise DatasetError(f"{what}: inputs lie in [{x.min():g}, {x.max():g}]; scale them to [0, 1]")
    integral = np.issubdtype(y.dtype, np.floating) and np.array_equal(y, np.round(y))
    if not (np.issubdtype(y.dtype, np.integer) or integral):
        raise DatasetError(f"{what}: labels have dtype {y.dtype}; expected integer class labels")
    y = y.astype(np.int64)
    if y.min() < 0:
        raise DatasetError(f"{what}: labels must be >= 0, found {y.min()}")
    return x, y


def dataset(x_train, y_train, x_test, y_test, what="arrays"):
    """A :class:`Dataset` from the user's arrays, checked (inputs in [0, 1], integer labels or one-hot rows)."""
    x_train, y_train = _checked(f"{what} (training)", x_train, y_train)
    x_test, y_test = _checked(f"{what} (test)", x_test, y_test)
    if x_train.shape[1] != x_test.shape[1]:
        raise DatasetError(f"{what}: training rows have {x_train.shape[1]} features, test rows {x_test.shape[1]}")
    return Dataset(x_train, y_train, x_test, y_test)


def load_digits(seed=0, test_fraction=0.2):
    """The bundled digits: 64 features in [0, 1], 10 classes, a stratified seeded split (default 80/20)."""
    with resources.files("ngc_optim").joinpath("data/digits.npz").open("rb") as stream, np.load(stream) as data:
        images, labels = data["images"], data["labels"]
    x = images.reshape(len(images), -1).astype(np.float32) / np.float32(16.0)
    y = labels.astype(np.int64)
    train, test = stratified_split(y, test_fraction, seed)
    return Dataset(x[train], y[train], x[test], y[test])


def load_npz(path, seed=0, test_fraction=0.2):
    """A data set from an ``.npz`` file.

    The file holds either ``x_train``, ``y_train``, ``x_test``, ``y_test``, or
    ``x`` and ``y``, which are then split as :func:`load_digits` splits. Inputs must
    already lie in [0, 1].
    """
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {key: data[key] for key in data.files}
    except (OSError, ValueError) as error:
        raise DatasetError(f"{path}: not a readable .npz file ({error})") from None
    if {"x_train", "y_train", "x_test", "y_test"} <= arrays.keys():
        return dataset(arrays["x_train"], arrays["y_train"], arrays["x_test"], arrays["y_test"], str(path))
    if {"x", "y"} <= arrays.keys():
        x, y = _checked(str(path), arrays["x"], arrays["y"])
        train, test = stratified_split(y, test_fraction, seed)
        return Dataset(x[train], y[train], x[test], y[test])
    raise DatasetError(f"{path}: holds {sorted(arrays)}; expected x_train, y_train, x_test, y_test, or x and y")


_IDX_TYPES = {0x08: np.uint8}


def read_idx(path):
    """The array in an IDX file (MNIST's format: unsigned bytes; gzip-compressed if the name ends in .gz)."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as stream:
            raw = stream.read()
    except (OSError, EOFError, ValueError, zlib.error) as error:
        raise DatasetError(f"{path}: cannot be read ({error})") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise DatasetError(f"{path}: not an IDX file (bad magic number)")
    if raw[2] not in _IDX_TYPES:
        raise DatasetError(f"{path}: IDX data type 0x{raw[2]:02x} is not supported (only unsigned bytes, 0x08)")
    rank = raw[3]
    header = 4 + 4 * rank
    if rank == 0 or len(raw) < header:
        raise DatasetError(f"{path}: truncated IDX header")
    shape = tuple(int.from_bytes(raw[4 + 4 * k:8 + 4 * k], "big") for k in range(rank))
    expected = header + math.prod(shape)
    if len(raw) != expected:
        raise DatasetError(f"{path}: {len(raw)} bytes; the header {shape} needs {expected}")
    return np.frombuffer(raw, np.uint8, offset=header).reshape(shape)


def load_idx(train_images, train_labels, test_images, test_labels):
    """A data set from MNIST-format IDX files (pixels scaled by 1/255)."""
    parts = []
    for images_path, labels_path in ((train_images, train_labels), (test_images, test_labels)):
        images, labels = read_idx(images_path), read_idx(labels_path)
        if labels.ndim != 1:
            raise DatasetError(f"{labels_path}: labels must be 1-dimensional, got shape {labels.shape}")
        if len(images) != len(labels):
            raise DatasetError(f"{images_path}: {len(images)} images but {labels_path} has {len(labels)} labels")
        parts += [images.reshape(len(images), -1).astype(np.float32) / np.float32(255.0), labels]
    return dataset(*parts, what=str(train_images))


def one_hot(labels, n_classes, dtype=np.float32):
    """Rows of zeros with a one at each label."""
    labels = np.asarray(labels)
    if labels.size and (labels.min() < 0 or labels.max() >= n_classes):
        raise DatasetError(f"labels must lie in 0 .. {n_classes - 1}, found {labels.min()} .. {labels.max()}")
    out = np.zeros((len(labels), n_classes), dtype)
    out[np.arange(len(labels)), labels] = 1
    return out
