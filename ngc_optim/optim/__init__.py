"""Optimizers: the object API (in place, validated) and ngc-learn's functional API."""

from .base import Hyperparameter, Optimizer, OptimizerState
from .functional import (adam_init, adam_step, get_opt_init_fn, get_opt_step_fn, nag_init,
                         nag_step, sgd_init, sgd_step)
from .optimizers import (OPTIMIZERS, NAG, SGD, Adam, AdamState, AdamW, Momentum, MomentumState,
                         NAGState, RMSprop, RMSpropState, SGDState, adam, adamw, get_optimizer,
                         momentum, nag, rmsprop, sgd)

__all__ = [
    "Hyperparameter", "Optimizer", "OptimizerState",
    "SGD", "NAG", "Momentum", "RMSprop", "Adam", "AdamW",
    "SGDState", "NAGState", "MomentumState", "RMSpropState", "AdamState",
    "OPTIMIZERS", "get_optimizer", "sgd", "nag", "momentum", "rmsprop", "adam", "adamw",
    "sgd_init", "sgd_step", "nag_init", "nag_step", "adam_init", "adam_step",
    "get_opt_init_fn", "get_opt_step_fn",
]
