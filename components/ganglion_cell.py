"""RetinalGanglionCell: ngc-learn's filtered patches of an image, the input stage of its patch models."""

from typing import ClassVar

import numpy as np
from ngcsimlib.compartment import Compartment
from ngcsimlib.parser import compilable

from ngc_optim.circuit import Step
from ngc_optim.spike_kernels import ganglion_advance

from .numpy_component import NumpyComponent

__all__ = ["FILTERS", "RetinalGanglionCell"]

FILTERS = ("identity", "gaussian", "difference_of_gaussian", "DoG", "ratio_of_gaussian", "RoG")
"""filter_type names (ngc-learn's; any other name gives the identity filter there, and is refused here)."""


def _gaussian(patch_shape, sigma, dtype):
    """exp(-((a - px//2)**2 + (b - py//2)**2) / (2 sigma**2)) over the patch, divided by its sum."""
    rows = np.arange(patch_shape[0], dtype=dtype)[:, None] - dtype(patch_shape[0] // 2)
    columns = np.arange(patch_shape[1], dtype=dtype)[None, :] - dtype(patch_shape[1] // 2)
    values = np.exp(-(rows**2 + columns**2) / dtype(2 * sigma**2))
    return values / np.sum(values)


def ganglion_filter(filter_type, patch_shape, sigma, dtype):
    """The filter of ``filter_type`` (see :data:`FILTERS`), as ngc-learn's: ones (identity), a normalised
    gaussian, the difference of gaussians of sigma and 1.6 sigma, or their ratio (+ 1e-8)."""
    dtype = np.dtype(dtype).type
    if filter_type == "gaussian":
        return _gaussian(patch_shape, sigma, dtype)
    if filter_type in ("difference_of_gaussian", "DoG"):
        return _gaussian(patch_shape, sigma, dtype) - _gaussian(patch_shape, sigma * 1.6, dtype)
    if filter_type in ("ratio_of_gaussian", "RoG"):
        return _gaussian(patch_shape, sigma, dtype) / (_gaussian(patch_shape, sigma * 1.6, dtype) + dtype(1e-8))
    return np.ones(patch_shape, dtype)


def _ganglion(owner, shape, inputs, filter_, step_shape, n_cells, dtype):
    """The cells' step through :func:`ngc_optim.spike_kernels.ganglion_advance`, after checking the input."""
    inputs = np.asarray(inputs, dtype)
    if inputs.shape != shape:
        raise ValueError(f"{owner}: inputs {inputs.shape} must be {shape} (batch, area)")
    return ganglion_advance(inputs, filter_, step_shape, n_cells)


class RetinalGanglionCell(NumpyComponent):
    """Retinal ganglion cells, as ngc-learn's RetinalGanglionCell: each of ``n_cells`` cells sees a patch of
    the image (its receptive field), weighted by a filter; the outputs are the filtered patches side by side
    minus their mean (per image).

    Patches start at rows i * sx, columns j * sy (ngc-learn's rule: with a step of 0, ix // px patches, all at
    row 0); n_cells must be the number of patches. The filter's rows run along the patch's first axis (for
    square patches, the only ones ngc-learn accepts, the same filter as ngc-learn's).

    Args:
        name: the cells' name.
        filter_type: one of FILTERS (ngc-learn has no default; "identity" is its fallback).
        area_shape: (ix, iy), the image.
        n_cells: number of cells (patches).
        patch_shape: (px, py), each receptive field.
        step_shape: (sx, sy), the offset between neighbouring patches.
        batch_size: images per batch (default 1).
        sigma: the gaussians' standard deviation (> 0; default 1).
        dtype: "float32" (default) or "float64".
    """

    PER_SAMPLE: ClassVar[frozenset] = frozenset({"inputs", "outputs"})
    SPEC: ClassVar[dict] = {
        "summary": "RetinalGanglionCell: outputs = each patch of the image times the filter, minus the mean",
        "compartments": {
            "inputs": {"inputs": "(batch_size, ix, iy) images"},
            "state": {"filter": "(px, py) receptive-field filter"},
            "outputs": {"outputs": "(batch_size, n_cells * px * py) filtered patches minus their mean"},
        },
        "arguments": {"filter_type": f"one of {list(FILTERS)}", "area_shape": "(ix, iy)", "n_cells": "patches",
                      "patch_shape": "(px, py)", "step_shape": "(sx, sy)", "batch_size": "batch rows (1)",
                      "sigma": "gaussian standard deviation (1)", "dtype": "float32 or float64"},
    }

    def __init__(self, name, filter_type, area_shape, n_cells, patch_shape, step_shape, batch_size=1, sigma=1.0,
                 dtype="float32"):
        super().__init__(name, dtype)
        self.owner = f"RetinalGanglionCell {name!r}"
        if filter_type not in FILTERS:
            raise self._error(f"filter_type={filter_type!r}; expected one of {list(FILTERS)}")
        for key, value, low in (("area_shape", area_shape, 1), ("patch_shape", patch_shape, 1),
                                ("step_shape", step_shape, 0)):
            if not (isinstance(value, (list, tuple)) and len(value) == 2
                    and all(isinstance(n, int) and not isinstance(n, bool) and n >= low for n in value)):
                raise self._error(f"{key}={value!r} must be two ints >= {low}")
        (ix, iy), (px, py), (sx, sy) = area_shape, patch_shape, step_shape
        if px > ix or py > iy:
            raise self._error(f"patch_shape={tuple(patch_shape)} is larger than area_shape={tuple(area_shape)}")
        patches = (ix // px if sx == 0 else (ix - px) // sx + 1) * (iy // py if sy == 0 else (iy - py) // sy + 1)
        if n_cells != patches:
            raise self._error(f"n_cells={n_cells!r}: area {tuple(area_shape)}, patches {tuple(patch_shape)} and "
                              f"steps {tuple(step_shape)} give {patches} patches")
        self._check_population(n_cells, batch_size)
        self.sigma = self._number("sigma", sigma, 0.0, strict=True)
        self.filter_type, self.n_cells, self.batch_size = filter_type, n_cells, batch_size
        self.area_shape, self.patch_shape, self.step_shape = tuple(area_shape), tuple(patch_shape), tuple(step_shape)
        self.input_shape = (batch_size, ix, iy)
        self.inputs = Compartment(self._zeros(self.input_shape), display_name="Input images")
        self.filter = Compartment(ganglion_filter(filter_type, self.patch_shape, self.sigma, self.dtype),
                                  display_name="Filter")
        self.outputs = Compartment(self._zeros((batch_size, n_cells * px * py)), display_name="Filtered patches")

    def _rebatch(self, batch_size):
        super()._rebatch(batch_size)
        self.input_shape = (batch_size, *self.area_shape)

    @compilable
    def advance_state(self, t):
        self.outputs.set(_ganglion(self.owner, self.input_shape, self.inputs.get(), self.filter.get(),
                                   self.step_shape, self.n_cells, self.dtype))

    def _steps_advance_state(self):
        return [Step(ganglion_advance, ("inputs", "filter"), ("outputs",), constants=(self.step_shape, self.n_cells),
                     rows=("inputs", "outputs"))]

    def _steps_reset(self):
        return self._set_to(("inputs", "outputs"))

    @compilable
    def reset(self):
        """Zero the inputs and outputs (as ngc-learn's, the inputs even when wired)."""
        self.inputs.set(self.inputs.get() * 0)
        self.outputs.set(self.outputs.get() * 0)
