"""ngc-learn's utilities, for code ported from ``ngclearn.utils``: ``DistributionGenerator``
(:mod:`.distribution_generator`), ``makedir``, ``normalize_matrix``, ``measure_ACC`` and ``measure_CatNLL``
(:mod:`.metrics`), ``generate_patch_set`` and ``reconstruct_patches`` (:mod:`.patches`), ``visualize`` and ``create_raster_plot``
(:mod:`.plots`, with matplotlib: ``pip install 'ngc-optim[plot]'``)."""

from .distribution_generator import DistributionGenerator, Initializer
from .metrics import makedir, measure_ACC, measure_CatNLL, normalize_matrix
from .patches import generate_patch_set, reconstruct_patches
from .plots import create_raster_plot, visualize

__all__ = ["DistributionGenerator", "Initializer", "create_raster_plot", "generate_patch_set", "makedir",
           "measure_ACC", "measure_CatNLL", "normalize_matrix", "reconstruct_patches", "visualize"]
