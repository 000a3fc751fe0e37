"""ngc-optim: fast CPU predictive-coding and spiking simulations for ngcsimlib, with Numba.

The optimizers are importable from here and from :mod:`ngc_optim.optim`, the
HDF5 checkpoint functions from here and from :mod:`ngc_optim.checkpoint`; the
compiled kernels live in :mod:`ngc_optim.kernels` and are configured in
:mod:`ngc_optim.config`; how many threads they run is decided in
:mod:`ngc_optim.threads` (``set_threads``, ``get_threads``). ``Context``,
``MethodProcess`` and ``JointProcess`` are ngcsimlib's with ngc-learn's process
API (``scan``; :mod:`ngc_optim.processes`), imported from here as from ``ngclearn``, and so are
ngcsimlib's ``Component``, ``Compartment``, ``compilable``, ``Summation`` and ``Product``.
"""

from importlib.metadata import PackageNotFoundError, version

from ngcsimlib import Component
from ngcsimlib.compartment import Compartment
from ngcsimlib.operations import Product, Summation
from ngcsimlib.parser import compilable

from . import optim, threads
from .checkpoint import Checkpoint, CheckpointError, load_checkpoint, restore_checkpoint, save_checkpoint
from .optim import (
    NAG,
    OPTIMIZERS,
    SGD,
    Adam,
    AdamState,
    AdamW,
    Hyperparameter,
    Momentum,
    MomentumState,
    NAGState,
    Optimizer,
    OptimizerState,
    RMSprop,
    RMSpropState,
    SGDState,
    adam,
    adam_init,
    adam_step,
    adamw,
    get_opt_init_fn,
    get_opt_step_fn,
    get_optimizer,
    momentum,
    nag,
    nag_init,
    nag_step,
    rmsprop,
    sgd,
    sgd_init,
    sgd_step,
)
from .processes import Context, JointProcess, MethodProcess
from .threads import get_threads, set_threads

try:
    __version__ = version("ngc-optim")
except PackageNotFoundError:
    __version__ = "0+unknown"

__all__ = [
    "NAG",
    "OPTIMIZERS",
    "SGD",
    "Adam",
    "AdamState",
    "AdamW",
    "Checkpoint",
    "CheckpointError",
    "Compartment",
    "Component",
    "Context",
    "Hyperparameter",
    "JointProcess",
    "MethodProcess",
    "Momentum",
    "MomentumState",
    "NAGState",
    "Optimizer",
    "OptimizerState",
    "Product",
    "RMSprop",
    "RMSpropState",
    "SGDState",
    "Summation",
    "__version__",
    "adam",
    "adam_init",
    "adam_step",
    "adamw",
    "compilable",
    "get_opt_init_fn",
    "get_opt_step_fn",
    "get_optimizer",
    "get_threads",
    "load_checkpoint",
    "momentum",
    "nag",
    "nag_init",
    "nag_step",
    "optim",
    "restore_checkpoint",
    "rmsprop",
    "save_checkpoint",
    "set_threads",
    "sgd",
    "sgd_init",
    "sgd_step",
    "threads",
]
