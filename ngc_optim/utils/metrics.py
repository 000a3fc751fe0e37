"""ngc-learn's small utilities in NumPy: a directory, a normalised matrix, accuracy and categorical NLL."""

import os

import numpy as np

__all__ = ["makedir", "measure_ACC", "measure_CatNLL", "normalize_matrix"]


def makedir(directory):
    """Create ``directory`` and its missing parents (nothing if it exists), as ngc-learn's ``makedir``."""
    os.makedirs(directory, exist_ok=True)


def normalize_matrix(data, wnorm, order=1, axis=0, scale=1.0):
    """``data`` scaled so that each column (axis 0) or row (axis 1) has norm ``wnorm``: the L2 norm when
    ``order`` is 2, else the L1 norm (norms below 1e-8 count as 1e-8), as ngc-learn's. ``scale`` is
    accepted and unused, as in ngc-learn."""
    data = np.asarray(data)
    if order == 2:
        norms = np.maximum(np.sqrt(np.sum(np.square(data), axis=axis, keepdims=True)), 1e-8)
    else:
        norms = np.maximum(np.sum(np.abs(data), axis=axis, keepdims=True), 1e-8)
    return data * (wnorm / norms)


def measure_ACC(mu, y, extract_label_indx=True):
    """Fraction of rows of ``mu`` whose argmax is the label: ``y`` one-hot rows (``extract_label_indx``,
    the default) or class indices.

    Raises:
        ValueError: ``mu`` and ``y`` disagree on the number of rows, or there are none.
    """
    mu, y = np.asarray(mu), np.asarray(y)
    labels = np.argmax(y, axis=1) if extract_label_indx else y.reshape(-1)
    if mu.ndim != 2 or len(labels) != len(mu) or not len(mu):
        raise ValueError(f"measure_ACC: predictions {mu.shape} and labels {y.shape} must have the same, "
                         f"non-zero number of rows")
    return float(np.mean(np.argmax(mu, axis=1) == labels))


def measure_CatNLL(p, x, offset=1e-7, preserve_batch=False):
    """Categorical negative log-likelihood of one-hot targets ``x`` under probabilities ``p`` (clipped to
    [offset, 1 - offset]): one value per row, as an (N, 1) column, when ``preserve_batch``, else their
    mean."""
    p, x = np.asarray(p), np.asarray(x)
    if p.shape != x.shape:
        raise ValueError(f"measure_CatNLL: probabilities {p.shape} and targets {x.shape} must have one shape")
    nll = np.sum(-(x * np.log(np.clip(p, offset, 1.0 - offset))), axis=1, keepdims=True)
    return nll if preserve_batch else float(np.mean(nll))
