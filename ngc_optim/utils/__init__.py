"""ngc-learn's utilities, for code ported from ``ngclearn.utils``: ``DistributionGenerator``
(:mod:`.distribution_generator`), ``makedir``, ``normalize_matrix``, ``measure_ACC`` and ``measure_CatNLL``
(:mod:`.metrics`)."""

from .distribution_generator import DistributionGenerator, Initializer
from .metrics import makedir, measure_ACC, measure_CatNLL, normalize_matrix

__all__ = ["DistributionGenerator", "Initializer", "makedir", "measure_ACC", "measure_CatNLL", "normalize_matrix"]
