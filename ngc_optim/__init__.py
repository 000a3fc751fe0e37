"""ngc-optim: fast CPU predictive-coding and spiking simulations for ngcsimlib, with Numba.

The optimizers are importable from here and from :mod:`ngc_optim.optim`; the
compiled kernels live in :mod:`ngc_optim.kernels` and are configured in
:mod:`ngc_optim.config`.
"""

from importlib.metadata import PackageNotFoundError, version

from .optim import *  # noqa: F403
from .optim import __all__ as _optim_all

try:
    __version__ = version("ngc-optim")
except PackageNotFoundError:
    __version__ = "0+unknown"

__all__ = ["__version__", *_optim_all]
