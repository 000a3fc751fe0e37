"""``ngc-optim train`` and ``ngc-optim evaluate``: simulation configs, data, runs, resuming.

A run is configured by a JSON object with these keys (all optional; the
defaults train the default PCN on the bundled digits). ``model`` chooses the
kind of model, and with it the defaults of the other keys: those of the model's
class (listed in ``docs/models.md`` and by ``ngc-optim train --help``):

==============  ===================================================================
``name``        run name: files go to ``<runs>/<name>/`` (default the model kind: "pcn", "generative", "snn")
``model``       "pcn" (default; :class:`ngc_optim.models.PCN`, a classifier), "generative"
                (:class:`ngc_optim.models.GenerativePCN`, which learns to reconstruct the data) or "snn"
                (:class:`ngc_optim.models.DiehlCookSNN`, spiking, learning by STDP)
``sizes``       layer sizes, the data's first; a PCN's last must hold the classes
``T``           settling steps per batch
``dt``          integration step
``tau_m``       time constant of the hidden (latent) cells
``act_fx``      activation of the hidden (latent) cells
``optimizer``   any optimizer of ngc_optim (the class's ``optim_type``)
``eta``         its step size
``optim_kwargs`` its other hyperparameters, e.g. {"beta1": 0.9}
``state_optim``  the optimizer of the hidden (latent) cells' states during settling: null (Euler steps of
                dt / tau_m), an optimizer's name, or {"name": ..., its hyperparameters}, e.g.
                {"name": "momentum", "eta": 0.0125, "mu": 0.5}
``update_every`` null (the weights are updated once per batch, after T steps) or the settling steps between
                two updates of the weights: incremental predictive coding
``output_error`` PCN only: "gaussian" (squared error) or "cross_entropy" (softmax)
``prior``       generative only: the latent prior [name, gamma], name "laplacian" or "gaussian"
``w_bound``     generative only: the weights' soft bound and clip, 0 for none
``normalize``   generative only: rescale each latent unit's weights to unit norm after each update
``epochs``      total epochs to train (the class's ``EPOCHS``)
``batch_size``  samples per batch
``seed``        seeds the weights and the shuffling
``data``        "digits" (default), a path to an ``.npz`` file (see
                :func:`ngc_optim.datasets.load_npz`), or {"idx": [train images,
                train labels, test images, test labels]} for MNIST-format IDX files
``split_seed``  seed of the digits / ``.npz`` train-test split (0)
==============  ===================================================================

A spiking run (``"model": "snn"``) has ``name``, ``model``, ``optimizer``, ``eta``,
``optim_kwargs``, ``epochs``, ``seed``, ``data`` and ``split_seed`` as above, and the
arguments of :class:`ngc_optim.models.DiehlCookSNN`: ``n_exc``, ``T`` (steps per image),
``dt`` (ms), ``max_freq``, ``w_norm``, ``A_plus``, ``A_minus``, ``theta_plus``, ``tau_m``,
``tau_tr``, ``w_ie`` and ``w_ei``; its inputs are the data's features. After each epoch
the neurons are labelled on the training data (kept in the checkpoint) and ``test_accuracy``
is their vote on the test data; ``train_spikes`` is the mean excitatory spike count per image.

The defaults are the model classes' own (their constructors' signatures and
``EPOCHS``, read by :func:`run_defaults`): ``ngc-optim train`` and
``PCN()`` build the same model. The PCN's T, tau_m, eta and epochs were chosen
on a validation split carved from the digits' training set (seeds 0-4): the
test split played no part in the choice. Settling for less time
(T * dt / tau_m = 0.25 instead of ngc-museum's 2) learned better.

Command-line flags override the file. Everything is checked before anything
runs: an unknown key, a key of the other kind of model (e.g. ``prior`` with
``"model": "pcn"``) or a bad value is a :class:`ConfigError` naming the key.
Each epoch writes ``checkpoint.h5`` (weights, optimizer states, epoch, the
shuffling RNG's state, the history and this config) and ``metrics.json`` (per
epoch: train energy or spikes, the test score: ``test_accuracy`` for a PCN or a
spiking model, ``test_mse``, the reconstruction's mean squared error, for the
generative model; seconds).
``--resume`` continues from a checkpoint: the model's settings (its kind
included) come from the checkpoint and may not be changed; ``epochs`` may be raised.
"""

import json
import math
import os
import re
import tempfile
from pathlib import Path

from . import datasets
from .checkpoint import CheckpointError, load_checkpoint
from .models import PCN, DiehlCookSNN, GenerativePCN, physical_memory
from .optim import OPTIMIZERS

__all__ = ["DEFAULTS", "GENERATIVE_DEFAULTS", "SNN_DEFAULTS", "ConfigError", "check_name", "check_runnable",
           "evaluate_checkpoint", "load_config", "make_directory", "model_arguments", "read_json", "run_defaults",
           "train"]

RUN_DEFAULTS = {"data": "digits", "split_seed": 0}
"""The defaults of the keys of a run that are not the model's (besides ``name``, ``model`` and ``epochs``)."""


def run_defaults(kind, cls):
    """The defaults of a run of the model ``kind``: those of its class ``cls`` (its constructor's signature and
    ``EPOCHS``, the one place a model's defaults are set), ``optim_type`` named ``optimizer``, without the
    arguments a config does not set (``weight_init``; the spiking model's ``n_inputs``, which the data give)."""
    arguments = {key: value for key, value in cls.defaults().items() if key not in ("weight_init", "n_inputs")}
    arguments["optimizer"] = arguments.pop("optim_type")
    arguments["optim_kwargs"] = arguments["optim_kwargs"] or {}
    return {"name": kind, "model": kind, **arguments, "epochs": cls.EPOCHS, **RUN_DEFAULTS}


DEFAULTS = run_defaults("pcn", PCN)
"""The defaults of a PCN run (``"model": "pcn"``): :class:`ngc_optim.models.PCN`'s."""
GENERATIVE_DEFAULTS = run_defaults("generative", GenerativePCN)
"""The defaults of a generative run (``"model": "generative"``): :class:`ngc_optim.models.GenerativePCN`'s."""
SNN_DEFAULTS = run_defaults("snn", DiehlCookSNN)
"""The defaults of a spiking run (``"model": "snn"``): :class:`ngc_optim.models.DiehlCookSNN`'s."""
ADDED_KEYS = {"state_optim": None, "update_every": None, "output_error": "gaussian"}
"""Keys added after runs were saved: a saved config without them (of a model kind that has them) takes these
values, the behaviour before they existed."""
RUN_KEYS = ("name", "model", "epochs", "data", "split_seed")
"""Keys of the run, not arguments of the model."""
KINDS = {"pcn": DEFAULTS, "generative": GENERATIVE_DEFAULTS, "snn": SNN_DEFAULTS}
KEYS = sorted(set().union(*KINDS.values()))
MODEL_KEYS = ("model", "sizes", "T", "dt", "tau_m", "act_fx", "optimizer", "eta", "optim_kwargs", "batch_size",
              "seed", "prior", "w_bound", "normalize", "n_exc", "max_freq", "w_norm", "A_plus", "A_minus",
              "theta_plus", "tau_tr", "w_ie", "w_ei", "state_optim", "update_every", "output_error")
"""Keys that define the model: fixed once it exists (a resumed run takes them from its checkpoint)."""


class ConfigError(ValueError):
    """A configuration that cannot run, naming the key."""


NAME_PATTERN = re.compile(r"[A-Za-z0-9_+=][A-Za-z0-9._+=-]{0,99}")
"""Run, point and sweep names: one path component of 1 to 100 letters, digits and ``. _ + = -``, not starting
with ``.`` or ``-`` (so never ``.``, ``..``, hidden or an option)."""


def check_name(key, name):
    """Raise ConfigError unless ``name`` is a safe directory name (see ``NAME_PATTERN``); ``key`` names it."""
    if not (isinstance(name, str) and NAME_PATTERN.fullmatch(name)):
        raise ConfigError(f"{key}={name!r}: expected a name of 1 to 100 letters, digits and . _ + = - "
                          f"(not starting with . or -)")


def read_json(path, what="config"):
    """The JSON data of the file ``path``; ConfigError (naming ``what`` and the file) if it cannot be read,
    is not UTF-8 or is not JSON (nesting too deep and numbers of more than 4300 digits included)."""
    try:
        return json.loads(Path(path).read_bytes().decode("utf-8"))
    except OSError as error:
        raise ConfigError(f"{what} {path}: cannot be read ({error.strerror})") from None
    except UnicodeDecodeError as error:
        raise ConfigError(f"{what} {path}: not UTF-8 text (byte {error.start})") from None
    except RecursionError:
        raise ConfigError(f"{what} {path}: not valid JSON (nested too deeply)") from None
    except ValueError as error:
        raise ConfigError(f"{what} {path}: not valid JSON ({error})") from None


def _positive_int(key, value):
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ConfigError(f"{key}={value!r}: expected a positive integer")


POSITIVE_INTS = ("T", "epochs", "batch_size", "n_exc")
POSITIVE_NUMBERS = ("dt", "tau_m", "max_freq", "w_norm", "tau_tr")
NON_NEGATIVE_NUMBERS = ("eta", "A_plus", "A_minus", "theta_plus")
NUMBERS = ("w_ie", "w_ei")
"""The keys of each kind of number, checked where the model kind has them."""


def _number(value):
    return not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value)


def _check(config):
    """Raise ConfigError for the first key that is unknown or has a bad value."""
    from .components import ACTIVATIONS

    unknown = sorted(set(config) - set(KEYS))
    if unknown:
        raise ConfigError(f"unknown key(s) {unknown}; expected some of {KEYS}")
    if not (isinstance(config["model"], str) and config["model"] in KINDS):
        raise ConfigError(f"model={config['model']!r}: expected one of {sorted(KINDS)}")
    other = sorted(set(config) - set(KINDS[config["model"]]))
    if other:
        raise ConfigError(f"{', '.join(other)}: not a setting of model={config['model']!r}")
    check_name("name", config["name"])
    if "sizes" in config:
        sizes = config["sizes"]
        if not (isinstance(sizes, list) and len(sizes) >= 2):
            raise ConfigError(f"sizes={sizes!r}: expected a list of at least two positive integers")
        for index, size in enumerate(sizes):
            _positive_int(f"sizes[{index}]", size)
    for key in POSITIVE_INTS:
        if key in config:
            _positive_int(key, config[key])
    for key in ("seed", "split_seed"):
        if isinstance(config[key], bool) or not isinstance(config[key], int) or config[key] < 0:
            raise ConfigError(f"{key}={config[key]!r}: expected a non-negative integer")
    for keys, test, expected in ((POSITIVE_NUMBERS, lambda value: value > 0, "a positive number"),
                                 (NON_NEGATIVE_NUMBERS, lambda value: value >= 0, "a number >= 0"),
                                 (NUMBERS, lambda value: True, "a finite number")):
        for key in keys:
            if key in config and not (_number(config[key]) and test(config[key])):
                raise ConfigError(f"{key}={config[key]!r}: expected {expected}")
    if "act_fx" in config and not (isinstance(config["act_fx"], str) and config["act_fx"] in ACTIVATIONS):
        raise ConfigError(f"act_fx={config['act_fx']!r}: expected one of {sorted(ACTIVATIONS)}")
    if not (isinstance(config["optimizer"], str) and config["optimizer"] in OPTIMIZERS):
        raise ConfigError(f"optimizer={config['optimizer']!r}: expected one of {sorted(OPTIMIZERS)}")
    if not isinstance(config["optim_kwargs"], dict):
        raise ConfigError(f"optim_kwargs={config['optim_kwargs']!r}: expected an object of hyperparameters")
    try:
        OPTIMIZERS[config["optimizer"]](eta=config["eta"], **config["optim_kwargs"])
    except (TypeError, ValueError) as error:
        raise ConfigError(f"optim_kwargs: {error}") from None
    if config["model"] != "snn":
        _check_inference(config)
    if config["model"] == "generative":
        _check_generative(config)
    data = config["data"]
    idx = isinstance(data, dict) and set(data) == {"idx"} and isinstance(data["idx"], list) \
        and len(data["idx"]) == 4 and all(isinstance(p, str) for p in data["idx"])
    if not (data == "digits" or (isinstance(data, str) and data.endswith(".npz")) or idx):
        raise ConfigError(f"data={data!r}: expected 'digits', a path to an .npz file, or "
                          f"{{'idx': [train images, train labels, test images, test labels]}}")
    _check_memory(config, 1 if config["model"] == "snn" else None)


def _check_memory(config, n_inputs=None):
    """ConfigError if the config's model would not fit in this machine's memory (``n_inputs``: a spiking
    model's inputs, which the data decide; 1 when not known yet, an estimate from below)."""
    arguments = model_arguments(config)
    if config["model"] == "snn":
        arguments["n_inputs"] = n_inputs
    estimate, available = model_class(config).memory_estimate(arguments), physical_memory()
    if estimate > available:
        keys = "n_exc, T" if config["model"] == "snn" else "sizes, batch_size, T"
        raise ConfigError(f"{keys}: the model would need about {estimate / 2**30:.3g} GiB of memory, more than "
                          f"this machine's {available / 2**30:.3g} GiB")


def check_runnable(config, dataset):
    """ConfigError if the checked ``config`` cannot train on ``dataset``: no full batch, or too little memory."""
    batch = config.get("batch_size", 1)
    if batch > len(dataset.x_train):
        raise ConfigError(f"batch_size={batch}: the data have {len(dataset.x_train)} training samples, "
                          f"fewer than one batch")
    _check_memory(config, dataset.n_features)


def _check_inference(config):
    """The settling options of a predictive-coding run: state_optim, update_every, output_error (PCN)."""
    state_optim = config["state_optim"]
    if state_optim is not None:
        named = {"name": state_optim} if isinstance(state_optim, str) else state_optim
        if not (isinstance(named, dict) and isinstance(named.get("name"), str) and named["name"] in OPTIMIZERS):
            raise ConfigError(f"state_optim={state_optim!r}: expected null, an optimizer's name or "
                              f"{{\"name\": name, hyperparameters...}}, name one of {sorted(OPTIMIZERS)}")
        try:
            OPTIMIZERS[named["name"]](**{key: value for key, value in named.items() if key != "name"})
        except (TypeError, ValueError) as error:
            raise ConfigError(f"state_optim: {error}") from None
    update_every = config["update_every"]
    if update_every is not None:
        _positive_int("update_every", update_every)
    if "output_error" in config and config["output_error"] not in ("gaussian", "cross_entropy"):
        raise ConfigError(f"output_error={config['output_error']!r}: expected 'gaussian' or 'cross_entropy'")


def _check_generative(config):
    prior = config["prior"]
    if not (isinstance(prior, list) and len(prior) == 2 and prior[0] in ("laplacian", "gaussian")
            and not isinstance(prior[1], bool) and isinstance(prior[1], (int, float)) and math.isfinite(prior[1])
            and prior[1] >= 0):
        raise ConfigError(f"prior={prior!r}: expected [name, gamma], name 'laplacian' or 'gaussian', gamma >= 0")
    w_bound = config["w_bound"]
    if isinstance(w_bound, bool) or not isinstance(w_bound, (int, float)) or not math.isfinite(w_bound) \
            or w_bound < 0:
        raise ConfigError(f"w_bound={w_bound!r}: expected a number >= 0 (0: no bound)")
    if not isinstance(config["normalize"], bool):
        raise ConfigError(f"normalize={config['normalize']!r}: expected true or false")


def load_config(path=None, overrides=None, base=None):
    """The checked config: ``base`` (default: the defaults of the model kind), then the JSON file ``path``,
    then ``overrides``.

    ``overrides`` entries that are None are ignored (flags not given). Without ``base``,
    the kind is the ``model`` of ``overrides``, else of the file, else "pcn".
    """
    overrides = {key: value for key, value in (overrides or {}).items() if value is not None}
    loaded = {}
    if path is not None:
        loaded = read_json(path)
        if not isinstance(loaded, dict):
            raise ConfigError(f"{path}: expected a JSON object of settings")
        unknown = sorted(set(loaded) - set(KEYS))
        if unknown:
            raise ConfigError(f"{path}: unknown key(s) {unknown}; expected some of {KEYS}")
    kind = overrides.get("model", loaded.get("model", "pcn"))
    if base is None and not (isinstance(kind, str) and kind in KINDS):
        raise ConfigError(f"model={kind!r}: expected one of {sorted(KINDS)}")
    if base is not None and kind != base["model"] and ("model" in overrides or "model" in loaded):
        raise ConfigError(f"model={kind!r}: the saved model is {base['model']!r} and cannot change")
    config = {**(base or KINDS[kind]), **loaded, **overrides}
    _check(config)
    return config


def load_data(config):
    """The :class:`ngc_optim.datasets.Dataset` the config names, checked against its layer sizes."""
    data = config["data"]
    if data == "digits":
        dataset = datasets.load_digits(seed=config["split_seed"])
    elif isinstance(data, dict):
        dataset = datasets.load_idx(*data["idx"])
    else:
        dataset = datasets.load_npz(data, seed=config["split_seed"])
    if "sizes" not in config:
        return dataset
    classes = dataset.n_classes if config["model"] == "pcn" else 0
    if dataset.n_features != config["sizes"][0] or classes > config["sizes"][-1]:
        raise ConfigError(f"sizes={config['sizes']}: the data have {dataset.n_features} features and "
                          f"{dataset.n_classes} classes; the first size must be {dataset.n_features} and the "
                          f"last at least {dataset.n_classes}")
    return dataset


def model_arguments(config):
    """The constructor arguments of the config's model (PCN, GenerativePCN, or DiehlCookSNN but for its
    n_inputs, which the data give)."""
    if config["model"] == "snn":
        arguments = {key: config[key] for key in SNN_DEFAULTS if key not in RUN_KEYS}
        arguments["optim_type"] = arguments.pop("optimizer")
        return arguments
    arguments = {"sizes": tuple(config["sizes"]), "T": config["T"], "dt": config["dt"], "tau_m": config["tau_m"],
                 "act_fx": config["act_fx"], "eta": config["eta"], "optim_type": config["optimizer"],
                 "optim_kwargs": config["optim_kwargs"], "batch_size": config["batch_size"], "seed": config["seed"],
                 "state_optim": config["state_optim"], "update_every": config["update_every"]}
    if config["model"] == "pcn":
        arguments["output_error"] = config["output_error"]
    if config["model"] == "generative":
        arguments.update(prior=tuple(config["prior"]), w_bound=config["w_bound"], normalize=config["normalize"])
    return arguments


def model_class(config):
    """The class of the config's model."""
    return {"pcn": PCN, "generative": GenerativePCN, "snn": DiehlCookSNN}[config["model"]]


def write_json(path, data):
    """Write ``data`` as JSON to ``path`` atomically (a temporary file renamed over it)."""
    path = Path(path)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w") as stream:
            json.dump(data, stream, indent=1)
            stream.write("\n")
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def metrics(history):
    """The ``metrics.json`` content for a model's history (its ``val_`` score written as ``test_``)."""
    return {"epochs": [{key.replace("val_", "test_", 1) if key.startswith("val_") else key: value
                        for key, value in row.items()} for row in history]}


def _saved_config(path):
    """(the checkpoint ``path``, the training config saved in it, checked).

    Raises:
        CheckpointError: the file is damaged, not a checkpoint of ``ngc-optim train``, or its config is not one.
    """
    checkpoint = load_checkpoint(path)
    metadata = checkpoint.metadata
    saved = metadata.get("train") if isinstance(metadata, dict) else None
    if not isinstance(saved, dict):
        raise CheckpointError(f"{path}: not a checkpoint of ngc-optim train (it has no training config)")
    kind = saved.get("model")
    if isinstance(kind, str) and kind in KINDS:
        saved = {**{key: value for key, value in ADDED_KEYS.items() if key in KINDS[kind]}, **saved}
    if not (isinstance(kind, str) and kind in KINDS and set(saved) == set(KINDS[kind])):
        raise CheckpointError(f"{path}: its training config is not one of ngc-optim train (model={kind!r}, "
                              f"keys {sorted(map(str, saved))})")
    try:
        _check(saved)
    except ConfigError as error:
        raise CheckpointError(f"{path}: its training config is invalid: {error}") from None
    return checkpoint, saved


def _saved_model(checkpoint, config):
    """(the model saved in ``checkpoint``, the data of ``config``, which must fit its inputs)."""
    model = model_class(config).from_checkpoint(checkpoint)
    arguments = model_arguments(config)
    differing = sorted(key for key, value in arguments.items()
                       if key in model.config and _json_value(value) != _json_value(model.config[key]))
    if differing:
        raise CheckpointError(f"{checkpoint.path}: its training config and its model differ in "
                              f"{', '.join(differing)}")
    try:
        data = load_data(config)
    except ConfigError as error:
        raise ConfigError(f"{checkpoint.path}: {error}") from None
    if model.sizes[0] != data.n_features:
        raise ConfigError(f"data={config['data']!r}: {data.n_features} features; the saved model takes "
                          f"{model.sizes[0]}")
    return model, data


def _json_value(value):
    """``value`` as JSON data reads it back (tuples as lists, integral floats as ints compare equal anyway)."""
    return json.loads(json.dumps(value))


def make_directory(runs, name):
    """Create (if need be) and return ``<runs>/<name>``; ConfigError naming ``--runs`` if it cannot be."""
    directory = Path(runs) / name
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except (OSError, ValueError) as error:
        raise ConfigError(f"--runs {runs}: cannot create {directory} "
                          f"({getattr(error, 'strerror', None) or error})") from None
    return directory


def train(config_path=None, overrides=None, resume=None, runs="runs", progress=True):
    """Train as configured (or continue the checkpoint ``resume``); returns (run directory, model).

    Everything is checked before the run directory is created.

    Raises:
        ConfigError: a bad config, data that do not fit it, or a resume that changes the model.
        CheckpointError: ``resume`` is damaged or not a checkpoint of ``ngc-optim train``.
    """
    if resume is not None:
        checkpoint, saved = _saved_config(resume)
        config = load_config(config_path, overrides, base=saved)
        changed = [key for key in MODEL_KEYS if config.get(key) != saved.get(key)]
        if changed:
            raise ConfigError(f"--resume continues the saved model: {', '.join(changed)} cannot change "
                              f"(saved: {', '.join(f'{key}={saved[key]!r}' for key in changed)})")
        model, data = _saved_model(checkpoint, config)
        check_runnable(config, data)
    else:
        config = load_config(config_path, overrides)
        data = load_data(config)
        check_runnable(config, data)
        inputs = {"n_inputs": data.n_features} if config["model"] == "snn" else {}
        try:
            model = model_class(config)(**inputs, **model_arguments(config))
        except ValueError as error:
            raise ConfigError(str(error)) from None
    directory = make_directory(runs, config["name"])
    checkpoint = directory / "checkpoint.h5"

    def save(model):
        model.save(checkpoint, metadata={"train": config})
        write_json(directory / "metrics.json", metrics(model.history))

    if config["model"] in ("pcn", "snn"):
        model.fit(data.x_train, data.y_train, epochs=config["epochs"], validation=(data.x_test, data.y_test),
                  on_epoch=save, progress=progress)
    else:
        model.fit(data.x_train, epochs=config["epochs"], validation=data.x_test, on_epoch=save, progress=progress)
    if not checkpoint.exists():
        save(model)
    return directory, model


def evaluate_checkpoint(path, data=None):
    """The model's ``evaluate`` on the test part of the data the checkpoint was trained on (or ``data``).

    Returns:
        {"accuracy": ..., "energy": ...} for a PCN, {"mse": ..., "energy": ...} for a generative model,
        {"accuracy": ..., "spikes": ...} for a spiking one.
    """
    checkpoint, saved = _saved_config(path)
    config = load_config(overrides={"data": data}, base=saved)
    model, dataset = _saved_model(checkpoint, config)
    if config["model"] in ("pcn", "snn"):
        return model.evaluate(dataset.x_test, dataset.y_test)
    return model.evaluate(dataset.x_test)
