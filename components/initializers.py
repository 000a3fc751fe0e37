"""Weight and bias initialisers as JSON-serialisable specs.

ngcsimlib rebuilds components from their JSON constructor arguments
(``Context.load``), so an initialiser is a dict, e.g.
``{"dist": "uniform", "amin": -0.3, "amax": 0.3}``, drawn with a seeded NumPy
generator:

========================  ===============================================
``uniform``               ``amin``, ``amax``: U(amin, amax)
``gaussian``              ``mu`` (0), ``sigma`` (1): N(mu, sigma**2)
``constant``              ``value``: every entry equal to value
``fan_in_uniform``        U(-1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in = shape[0]
``fan_in_gaussian``       N(0, 1/fan_in), fan_in = shape[0]
========================  ===============================================
"""

import math
import numbers

import numpy as np

__all__ = ["DISTRIBUTIONS", "initialize", "validate"]

DISTRIBUTIONS = {
    "uniform": ("amin", "amax"),
    "gaussian": ("mu", "sigma"),
    "constant": ("value",),
    "fan_in_uniform": (),
    "fan_in_gaussian": (),
}
_DEFAULTS = {"gaussian": {"mu": 0.0, "sigma": 1.0}}


def _parameters(spec, owner):
    if not isinstance(spec, dict) or "dist" not in spec:
        raise ValueError(f"{owner}: an initialiser is a dict with a 'dist' key, got {spec!r}")
    dist = spec["dist"]
    if dist not in DISTRIBUTIONS:
        raise ValueError(f"{owner}: unknown dist {dist!r}; expected one of {sorted(DISTRIBUTIONS)}")
    names = DISTRIBUTIONS[dist]
    unknown = sorted(set(spec) - {"dist", *names})
    if unknown:
        raise ValueError(f"{owner}: {dist} takes {list(names)}, not {unknown}")
    values = {**_DEFAULTS.get(dist, {}), **{k: v for k, v in spec.items() if k != "dist"}}
    missing = sorted(set(names) - set(values))
    if missing:
        raise ValueError(f"{owner}: {dist} needs {missing}")
    for key, value in values.items():
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
            raise ValueError(f"{owner}: {dist} {key}={value!r} is not a finite number")
    if dist == "uniform" and not values["amin"] <= values["amax"]:
        raise ValueError(f"{owner}: uniform needs amin <= amax, got {values['amin']} > {values['amax']}")
    if dist == "gaussian" and values["sigma"] < 0:
        raise ValueError(f"{owner}: gaussian sigma={values['sigma']} is negative")
    return dist, values


def initialize(spec, shape, rng, dtype, owner="initialiser"):
    """An array of ``shape`` and ``dtype`` drawn from ``spec`` with the generator ``rng``.

    Raises:
        ValueError: an unknown distribution or a bad parameter, naming ``owner``.
    """
    dist, values = _parameters(spec, owner)
    if dist == "uniform":
        array = rng.uniform(values["amin"], values["amax"], shape)
    elif dist == "gaussian":
        array = rng.normal(values["mu"], values["sigma"], shape)
    elif dist == "constant":
        array = np.full(shape, values["value"])
    elif dist == "fan_in_uniform":
        bound = 1.0 / math.sqrt(shape[0])
        array = rng.uniform(-bound, bound, shape)
    else:
        array = rng.normal(0.0, 1.0 / math.sqrt(shape[0]), shape)
    return np.asarray(array, dtype=dtype)


def validate(spec, owner):
    """Check ``spec`` without drawing (constructors call this before anything else)."""
    _parameters(spec, owner)
