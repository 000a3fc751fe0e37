"""ngc-learn's ``DistributionGenerator``, giving ngc_optim's JSON initialiser specs.

ngc-learn code writes ``weight_init=DistributionGenerator.uniform(-0.3, 0.3)``
or ``DistributionGenerator.constant(-120.0, hollow=True)``; the same calls here
return the spec dicts that ngc_optim's components take (see
:mod:`ngc_optim.components.initializers`), so ``Context.save_to_json`` records
them and ``Context.load`` rebuilds the same weights. A spec is also callable, as
ngc-learn's initialisers are: ``spec(shape, seed=None)`` draws an array.

The options of ngc-learn's ``DistributionParams``: ``amin``/``amax`` (clip;
stored as ``clip_min``/``clip_max``, since a uniform spec's ``amin``/``amax``
are its bounds), ``lower_triangle``, ``upper_triangle``, ``hollow``, ``eye``,
``col_mask``, ``row_mask``; ``dtype`` (used when the spec is called; a
component casts to its own dtype) and ``use_numpy`` (accepted: NumPy is all
there is here). Values are drawn from NumPy's generator seeded by the component's
``seed`` or ``key``, not from JAX's: the same distributions, other numbers.
"""

import numpy as np

from ngc_optim.components.initializers import initialize, validate

__all__ = ["DistributionGenerator", "Initializer"]

_PARAMS = ("amin", "amax", "lower_triangle", "upper_triangle", "hollow", "eye", "col_mask", "row_mask", "dtype",
           "use_numpy")


class Initializer(dict):
    """An initialiser spec (a dict, JSON as it is) that draws when called, as ngc-learn's initialisers do."""

    def __call__(self, shape, seed=None, dtype=None):
        """An array of ``shape`` drawn from the spec with ``np.random.default_rng(seed)``, in ``dtype``
        (default: the ``dtype`` given to the generator, else float32)."""
        dtype = np.dtype(dtype or getattr(self, "dtype", None) or "float32")
        return initialize(dict(self), tuple(shape), np.random.default_rng(seed), dtype, "DistributionGenerator")


def _spec(name, values, params):
    unknown = sorted(set(params) - set(_PARAMS))
    if unknown:
        raise TypeError(f"DistributionGenerator.{name}: unknown options {unknown}; ngc-learn's are {list(_PARAMS)}")
    spec = Initializer(values)
    for key, stored in (("amin", "clip_min"), ("amax", "clip_max")):
        if params.get(key) is not None:
            spec[stored] = params[key]
    for key in _PARAMS[2:8]:
        if params.get(key) not in (None, False):
            spec[key] = list(params[key]) if isinstance(params[key], (tuple, range)) else params[key]
    validate(dict(spec), f"DistributionGenerator.{name}")
    if params.get("dtype") is not None:
        spec.dtype = np.dtype(params["dtype"])
    return spec


class DistributionGenerator:
    """ngc-learn 3.2's initialiser factory (see the module); each method returns an :class:`Initializer`."""

    @staticmethod
    def constant(value, **params):
        """Every entry ``value``."""
        return _spec("constant", {"dist": "constant", "value": value}, params)

    @staticmethod
    def diag_offdiag(on_diag, off_diag, **params):
        """``on_diag`` on the diagonal and ``off_diag`` off it."""
        return _spec("diag_offdiag", {"dist": "diag_offdiag", "on_diag": on_diag, "off_diag": off_diag}, params)

    @staticmethod
    def uniform(low=0.0, high=1.0, **params):
        """U(low, high)."""
        return _spec("uniform", {"dist": "uniform", "amin": low, "amax": high}, params)

    @staticmethod
    def gaussian(mean=0.0, std=1.0, **params):
        """N(mean, std**2)."""
        return _spec("gaussian", {"dist": "gaussian", "mu": mean, "sigma": std}, params)

    @staticmethod
    def log_gaussian(sigma=1.0, **params):
        """exp(N(0, sigma**2)): positive values."""
        return _spec("log_gaussian", {"dist": "log_gaussian", "sigma": sigma}, params)

    @staticmethod
    def fan_in_uniform(**params):
        """U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with fan_in = shape[1], as ngc-learn's."""
        return _spec("fan_in_uniform", {"dist": "fan_in_uniform", "fan_in_axis": 1}, params)

    @staticmethod
    def fan_in_gaussian(**params):
        """N(0, 1/fan_in) with fan_in = shape[0], as ngc-learn's."""
        return _spec("fan_in_gaussian", {"dist": "fan_in_gaussian", "fan_in_axis": 0}, params)
