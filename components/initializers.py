"""Weight and bias initialisers as JSON-serialisable specs.

ngcsimlib rebuilds components from their JSON constructor arguments
(``Context.load``), so an initialiser is a dict, e.g.
``{"dist": "uniform", "amin": -0.3, "amax": 0.3}``, drawn with a seeded NumPy
generator (ngc-learn's :class:`~ngc_optim.utils.DistributionGenerator` gives
these dicts):

========================  ======================================================
``uniform``               ``amin``, ``amax``: U(amin, amax)
``gaussian``              ``mu`` (0), ``sigma`` (1): N(mu, sigma**2)
``log_gaussian``          ``sigma`` (1): exp(N(0, sigma**2))
``constant``              ``value``: every entry equal to value
``diag_offdiag``          ``on_diag``, ``off_diag``: one value on the diagonal, another off it
``fan_in_uniform``        U(-1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in = shape[fan_in_axis]
``fan_in_gaussian``       N(0, 1/fan_in), fan_in = shape[fan_in_axis]
========================  ======================================================

``fan_in_axis`` is 0 unless given (ngc-learn's ``fan_in_uniform`` takes axis 1,
its ``fan_in_gaussian`` axis 0). After the draw, in this order (ngc-learn's),
optional keys shape the array: ``clip_min`` and ``clip_max`` (numbers: clip),
``lower_triangle`` or ``upper_triangle`` (true: keep that triangle, diagonal
included), ``hollow`` (true: zero the diagonal), ``eye`` (true: zero all but the
diagonal), ``col_mask`` and ``row_mask`` (an int n: keep n columns or rows drawn
at random, zero the others; a list of indices: keep those).
"""

import math
import numbers

import numpy as np

__all__ = ["DISTRIBUTIONS", "SHAPING", "initialize", "validate"]

DISTRIBUTIONS = {
    "uniform": ("amin", "amax"),
    "gaussian": ("mu", "sigma"),
    "log_gaussian": ("sigma",),
    "constant": ("value",),
    "diag_offdiag": ("on_diag", "off_diag"),
    "fan_in_uniform": (),
    "fan_in_gaussian": (),
}
_DEFAULTS = {"gaussian": {"mu": 0.0, "sigma": 1.0}, "log_gaussian": {"sigma": 1.0}}
_FAN_IN = ("fan_in_uniform", "fan_in_gaussian")
SHAPING = ("clip_min", "clip_max", "lower_triangle", "upper_triangle", "hollow", "eye", "col_mask", "row_mask")
"""The optional keys that shape a drawn array (see the module), in the order they apply."""
_FLAGS = ("lower_triangle", "upper_triangle", "hollow", "eye")
_MASKS = ("col_mask", "row_mask")


def _finite(value):
    return not isinstance(value, bool) and isinstance(value, numbers.Real) and math.isfinite(value)


def _count(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _parameters(spec, owner):
    if not isinstance(spec, dict) or "dist" not in spec:
        raise ValueError(f"{owner}: an initialiser is a dict with a 'dist' key, got {spec!r}")
    dist = spec["dist"]
    if dist not in DISTRIBUTIONS:
        raise ValueError(f"{owner}: unknown dist {dist!r}; expected one of {sorted(DISTRIBUTIONS)}")
    names = DISTRIBUTIONS[dist]
    optional = (*SHAPING, *(("fan_in_axis",) if dist in _FAN_IN else ()))
    unknown = sorted(set(spec) - {"dist", *names, *optional})
    if unknown:
        raise ValueError(f"{owner}: {dist} takes {list(names)} and the shaping keys {list(optional)}, not {unknown}")
    values = {**_DEFAULTS.get(dist, {}), **{k: v for k, v in spec.items() if k in names}}
    missing = sorted(set(names) - set(values))
    if missing:
        raise ValueError(f"{owner}: {dist} needs {missing}")
    for key, value in values.items():
        if not _finite(value):
            raise ValueError(f"{owner}: {dist} {key}={value!r} is not a finite number")
    if dist == "uniform" and not values["amin"] <= values["amax"]:
        raise ValueError(f"{owner}: uniform needs amin <= amax, got {values['amin']} > {values['amax']}")
    if dist in ("gaussian", "log_gaussian") and values["sigma"] < 0:
        raise ValueError(f"{owner}: {dist} sigma={values['sigma']} is negative")
    shaping = {key: spec[key] for key in optional if key in spec}
    for key in ("clip_min", "clip_max"):
        if key in shaping and not _finite(shaping[key]):
            raise ValueError(f"{owner}: {key}={shaping[key]!r} is not a finite number")
    for key in _FLAGS:
        if key in shaping and not isinstance(shaping[key], bool):
            raise ValueError(f"{owner}: {key}={shaping[key]!r} must be true or false")
    if shaping.get("lower_triangle") and shaping.get("upper_triangle"):
        raise ValueError(f"{owner}: lower_triangle and upper_triangle exclude each other")
    for key in _MASKS:
        mask = shaping.get(key)
        if mask is not None and not ((_count(mask) and mask >= 0) or (
                isinstance(mask, (list, tuple)) and all(_count(index) and index >= 0 for index in mask))):
            raise ValueError(f"{owner}: {key}={mask!r} must be a count or a list of indices (non-negative ints)")
    axis = shaping.get("fan_in_axis", 0)
    if not (_count(axis) and axis in (0, 1)):
        raise ValueError(f"{owner}: fan_in_axis={axis!r} must be 0 or 1")
    return dist, values, shaping


def _draw(dist, values, shape, rng, axis):
    if dist == "uniform":
        return rng.uniform(values["amin"], values["amax"], shape)
    if dist == "gaussian":
        return rng.normal(values["mu"], values["sigma"], shape)
    if dist == "log_gaussian":
        return rng.lognormal(0.0, values["sigma"], shape)
    if dist == "constant":
        return np.full(shape, values["value"])
    if dist == "diag_offdiag":
        eye = np.eye(*shape)
        return values["on_diag"] * eye + values["off_diag"] * (1.0 - eye)
    scale = 1.0 / math.sqrt(shape[axis])
    if dist == "fan_in_uniform":
        return rng.uniform(-scale, scale, shape)
    return rng.normal(0.0, scale, shape)


def _shaped(array, shaping, rng, owner):
    if "clip_min" in shaping:
        array = np.maximum(array, shaping["clip_min"])
    if "clip_max" in shaping:
        array = np.minimum(array, shaping["clip_max"])
    if shaping.get("lower_triangle"):
        array = np.tril(array)
    if shaping.get("upper_triangle"):
        array = np.triu(array)
    if shaping.get("hollow"):
        array = (1.0 - np.eye(*array.shape)) * array
    if shaping.get("eye"):
        array = np.eye(*array.shape) * array
    for key, axis in (("col_mask", 1), ("row_mask", 0)):
        mask = shaping.get(key)
        if mask is None:
            continue
        size = array.shape[axis]
        if _count(mask):
            if mask > size:
                raise ValueError(f"{owner}: {key}={mask} keeps more than the {size} there are")
            kept = rng.choice(size, size=mask, replace=False)
        else:
            kept = list(mask)
            if kept and max(kept) >= size:
                raise ValueError(f"{owner}: {key} index {max(kept)} is out of range for {size}")
        keep = np.zeros(size, bool)
        keep[kept] = True
        array = np.where(keep if axis == 1 else keep[:, None], array, 0.0)
    return array


def initialize(spec, shape, rng, dtype, owner="initialiser"):
    """An array of ``shape`` and ``dtype`` drawn from ``spec`` with the generator ``rng``.

    Raises:
        ValueError: an unknown distribution or a bad parameter, naming ``owner``.
    """
    dist, values, shaping = _parameters(spec, owner)
    needs_matrix = dist in (*_FAN_IN, "diag_offdiag") or any(key in shaping for key in (*_FLAGS, *_MASKS))
    if needs_matrix and len(shape) != 2:
        raise ValueError(f"{owner}: {dist} with {sorted(shaping) or 'no shaping'} needs a 2-d shape, got {shape}")
    array = _draw(dist, values, shape, rng, shaping.get("fan_in_axis", 0))
    return np.asarray(_shaped(array, shaping, rng, owner), dtype=dtype)


def validate(spec, owner):
    """Check ``spec`` without drawing (constructors call this before anything else)."""
    _parameters(spec, owner)
