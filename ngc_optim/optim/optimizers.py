"""The optimizers: SGD, NAG and Adam as in ngc-learn, momentum SGD, RMSprop and AdamW.

In the formulas ``u`` is the update handed to ``step`` (a gradient, or a Hebbian
or predictive-coding adjustment; with ``regularization`` set, the penalty term is
already added to it) and ``t`` is the 1-based step count after increment. All
arithmetic is done in the parameter's dtype, except the inverse Adam bias
corrections, which are computed in float64 and then rounded to it.
"""

from .. import kernels
from .base import Hyperparameter, Optimizer, OptimizerState, _slot_property

__all__ = [
    "NAG",
    "OPTIMIZERS",
    "SGD",
    "Adam",
    "AdamState",
    "AdamW",
    "Momentum",
    "MomentumState",
    "NAGState",
    "RMSprop",
    "RMSpropState",
    "SGDState",
    "adam",
    "adamw",
    "get_optimizer",
    "momentum",
    "nag",
    "rmsprop",
    "sgd",
]

_ETA_DOC = "step size"


def _eta(default):
    return Hyperparameter("eta", default, doc=_ETA_DOC)


def _beta(name, default, doc):
    return Hyperparameter(name, default, 0.0, 1.0, high_open=True, doc=doc)


_EPS = Hyperparameter("eps", 1e-8, low_open=True, doc="added to the root of the second moment")


class SGDState(OptimizerState):
    """SGD keeps only ``count`` (int)."""


class NAGState(OptimizerState):
    """``count`` (int) and ``phi``: name -> the last phantom step, shape/dtype of the parameter."""

    slot_names = ("phi",)
    phi = _slot_property("phi", "name -> last phantom step phi")


class MomentumState(OptimizerState):
    """``count`` (int) and ``velocity``: name -> velocity, shape/dtype of the parameter."""

    slot_names = ("velocity",)
    velocity = _slot_property("velocity", "name -> velocity v")


class RMSpropState(OptimizerState):
    """``count`` (int) and ``cache``: name -> running mean of u**2, shape/dtype of the parameter."""

    slot_names = ("cache",)
    cache = _slot_property("cache", "name -> running mean of the squared update")


class AdamState(OptimizerState):
    """``count`` (int), ``g1`` and ``g2``: name -> first and second moment, shape/dtype of the parameter."""

    slot_names = ("g1", "g2")
    g1 = _slot_property("g1", "name -> first moment (biased)")
    g2 = _slot_property("g2", "name -> second moment (biased)")


class SGD(Optimizer):
    """Stochastic gradient descent, as ngc-learn's ``sgd_step``.

    p = p - eta * u

    Args:
        eta: step size (>= 0). Default 0.001, ngc-learn's.
    """

    name = "sgd"
    kernel = kernels.sgd
    hyperparameters = (_eta(0.001),)
    State = SGDState

    def _constants(self):
        return (self.eta, *self._penalty)


class NAG(Optimizer):
    """Nesterov's accelerated gradient in ngc-learn's "phantom step" form (``nag_step``).

    phi' = p - eta * u
    p    = phi' + mu * (phi' - phi)   if t > 1, else phi'
    phi  = phi'

    Args:
        eta: step size (>= 0). Default 0.01.
        mu: momentum (0 <= mu < 1). Default 0.9.
    """

    name = "nag"
    kernel = kernels.nag
    hyperparameters = (_eta(0.01), _beta("mu", 0.9, "momentum"))
    State = NAGState

    def _constants(self):
        return (self.eta, self.mu, *self._penalty)


class Momentum(Optimizer):
    """SGD with (heavy-ball) momentum.

    v = mu * v - eta * u
    p = p + v

    Args:
        eta: step size (>= 0). Default 0.01.
        mu: momentum (0 <= mu < 1). Default 0.9.
    """

    name = "momentum"
    kernel = kernels.momentum
    hyperparameters = (_eta(0.01), _beta("mu", 0.9, "momentum"))
    State = MomentumState

    def _constants(self):
        return (self.eta, self.mu, *self._penalty)


class RMSprop(Optimizer):
    """RMSprop.

    c = decay * c + (1 - decay) * u**2
    p = p - eta * u / (sqrt(c) + eps)

    Args:
        eta: step size (>= 0). Default 0.001.
        decay: smoothing of the squared update (0 <= decay < 1). Default 0.9.
        eps: added to the root (> 0). Default 1e-8.
    """

    name = "rmsprop"
    kernel = kernels.rmsprop
    hyperparameters = (_eta(0.001), _beta("decay", 0.9, "smoothing of the squared update"), _EPS)
    State = RMSpropState

    def _constants(self):
        return (self.eta, self.decay, self.eps, *self._penalty)


class Adam(Optimizer):
    """Adam, as ngc-learn's ``adam_step``.

    g1 = beta1 * g1 + (1 - beta1) * u
    g2 = beta2 * g2 + (1 - beta2) * u**2
    p  = p - eta * (g1 * k1) / (sqrt(g2 * k2) + eps),   k1 = 1 / (1 - beta1**t), k2 = 1 / (1 - beta2**t)

    This is ngc-learn's ``p - eta * (g1 / (1 - beta1**t)) / (sqrt(g2 / (1 - beta2**t)) + eps)``
    with the bias corrections applied as multiplications by their inverses, which
    are computed in float64 and rounded to the parameter's dtype once per step:
    one division per element instead of three, and a result that differs from the
    literal divisions by at most rounding in the last bit of the corrected moments.

    Args:
        eta: step size (>= 0). Default 0.001.
        beta1: decay of the first moment (0 <= beta1 < 1). Default 0.9.
        beta2: decay of the second moment (0 <= beta2 < 1). Default 0.999.
        eps: added to the root of the second moment (> 0). Default 1e-8.
    """

    name = "adam"
    kernel = kernels.adam
    hyperparameters = (_eta(0.001), _beta("beta1", 0.9, "decay of the first moment"),
                       _beta("beta2", 0.999, "decay of the second moment"), _EPS)
    State = AdamState

    def _decoupled_weight_decay(self):
        return 0.0

    def _constants(self):
        return (self.eta, self.beta1, self.beta2, self.eps, self._decoupled_weight_decay(), *self._penalty)


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter, 2019), in PyTorch's order.

    The decay shrinks the parameter first, then the Adam step of :class:`Adam` is
    applied to the shrunk parameter:

    p = p - (eta * decoupled_weight_decay) * p
    p = p - eta * (g1 * k1) / (sqrt(g2 * k2) + eps)

    The decay is not part of ``u``, so it never enters the moments; ``regularization``
    with ``weight_decay`` (a penalty added to ``u``) remains available as well.

    Args:
        eta, beta1, beta2, eps: as :class:`Adam`.
        decoupled_weight_decay: decay rate (>= 0). Default 0.01, PyTorch's.
    """

    name = "adamw"
    hyperparameters = Adam.hyperparameters + (
        Hyperparameter("decoupled_weight_decay", 0.01, doc="decoupled weight decay rate"),)

    def _decoupled_weight_decay(self):
        return self.decoupled_weight_decay


OPTIMIZERS = {cls.name: cls for cls in (SGD, NAG, Momentum, RMSprop, Adam, AdamW)}

sgd = SGD
nag = NAG
momentum = Momentum
rmsprop = RMSprop
adam = Adam
adamw = AdamW


def get_optimizer(name, **hyperparameters):
    """The optimizer called ``name`` (see ``OPTIMIZERS``) with the given hyperparameters.

    Raises:
        ValueError: ``name`` is not an optimizer of ngc_optim, or a hyperparameter is invalid.
        TypeError: a hyperparameter the optimizer does not take.
    """
    try:
        cls = OPTIMIZERS[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown optimizer {name!r}; expected one of {sorted(OPTIMIZERS)}") from None
    return cls(**hyperparameters)
