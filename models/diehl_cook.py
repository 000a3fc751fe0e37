"""DiehlCookSNN: unsupervised digit learning with spikes and STDP, after Diehl & Cook (2015).

Wired from :mod:`ngc_optim.components` in an ngcsimlib ``Context`` as ngc-museum's
``exhibits/diehl_cook_snn``:

* ``z0`` (``PoissonCell``): the image as Poisson spike trains, a pixel of intensity p
  firing at p * ``max_freq`` Hz;
* ``W1`` (``TraceSTDPSynapse``, n_inputs x n_exc): ``z0 -> z1e``, learning by trace
  STDP through ``optim_type`` (sgd with eta 1 is ngc-museum's ``W + dW``), weights in [0, 1];
* ``z1e`` (``LIFCell``): excitatory neurons with adaptive thresholds (theta_plus per spike,
  tau_theta 1e7 ms) and at most one spike per step (``one_spike``);
* ``z1i`` (``LIFCell``): one inhibitory neuron per excitatory one, driven by ``W1ei``
  (identity times ``w_ei``); it inhibits every *other* excitatory neuron through ``W1ie``
  (``w_ie`` off the diagonal, 0 on it): lateral inhibition, so neurons compete;
* ``tr0``, ``tr1`` (``VarTrace``): exponential traces (tau_tr) of the input and excitatory
  spikes, reset to 1 at a spike, which W1's STDP reads.

One image is presented for ``T`` steps of ``dt`` ms: reset the cells, then per step
advance W1, W1ie, W1ei, z0, z1e, z1i, tr0, tr1 (that order) and, when learning, evolve W1: the T steps
are one ``scan`` of the process, one call of its compiled circuit (:mod:`ngc_optim.circuit`), which
returns the input and excitatory spikes of every step.
After a learning presentation each column of W1 (one neuron's receptive field) is
rescaled to the L1 norm ``w_norm * n_inputs``, as the exhibit's ``norm()``. During
evaluation nothing learns: W1 does not evolve and the adaptive thresholds are put back
after each image.

``fit`` learns without labels; then ``assign_labels`` presents the training images once
more and labels each neuron with the class it fired for most (mean spike count per
class), and ``predict`` votes: the class whose neurons fired most per neuron on average.

The 8x8 digits drive 64 inputs where Diehl & Cook's MNIST drives 784; the defaults make
up for the weaker drive with a higher ``max_freq`` (255 Hz) and a larger ``w_norm``
(0.2 per input), chosen on a NumPy prototype of the same network.
"""

import numpy as np
from ngc_optim.components import LIFCell, PoissonCell, StaticSynapse, TraceSTDPSynapse, VarTrace
from ngc_optim.components.initializers import validate
from ngcsimlib.global_state import stateManager
from ngcsimlib.operations import Summation

from ngc_optim import Context, MethodProcess
from ngc_optim.checkpoint import CheckpointError
from ngc_optim.datasets import DatasetError, class_labels
from ngc_optim.optim import get_optimizer

from .base import PCModel

__all__ = ["DiehlCookSNN"]

MAX_CLASSES = 2**16
"""The most classes a checkpoint's neuron labels may name (the vote allocates one column per class)."""


class DiehlCookSNN(PCModel):
    """A Diehl & Cook spiking network that learns digits with STDP (see the module).

    Args:
        n_inputs: input pixels (default 64, the 8x8 digits).
        n_exc: excitatory (and inhibitory) neurons (default 100).
        T: steps per image (default 150).
        dt: integration step, ms (default 1).
        max_freq: Poisson rate of a pixel of intensity 1, Hz (default 255).
        w_norm: the L1 norm of each neuron's input weights per input (default 0.2).
        A_plus, A_minus: STDP potentiation and depression (defaults 1e-2 and 1e-4).
        eta: the optimizer's step size (default 1).
        optim_type, optim_kwargs: the optimizer W1 learns through (default "sgd", none).
        theta_plus: the excitatory threshold's increment per spike, mV (default 0.05).
        tau_m: the neurons' membrane time constant, ms (default 100.5).
        tau_tr: the traces' time constant, ms (default 20).
        w_ie: inhibition of each excitatory neuron by the others' inhibitory neurons (default -120).
        w_ei: drive of each inhibitory neuron by its excitatory neuron (default 22.5).
        weight_init: initialiser spec of W1 (default uniform in [0, 0.3]).
        seed: seeds the weights, the spike trains, one_spike's draws and the shuffling (default 0).

    Attributes:
        epoch: epochs trained so far.
        labels: the class of each excitatory neuron (after ``assign_labels``), else None.
        history: one dict per epoch: ``epoch``, ``train_spikes`` (mean excitatory spikes per
            image), ``val_accuracy`` (None without validation data), ``seconds``.
    """

    MODEL = "DiehlCookSNN"
    SCORE = "val_accuracy"
    TRAIN = "train_spikes"
    EPOCHS = 1

    def __init__(self, n_inputs=64, n_exc=100, *, T=150, dt=1.0, max_freq=255.0, w_norm=0.2, A_plus=1e-2,
                 A_minus=1e-4, eta=1.0, optim_type="sgd", optim_kwargs=None, theta_plus=0.05, tau_m=100.5,
                 tau_tr=20.0, w_ie=-120.0, w_ei=22.5, weight_init=None, seed=0):
        config = _checked_config(n_inputs=n_inputs, n_exc=n_exc, T=T, dt=dt, max_freq=max_freq, w_norm=w_norm,
                                 A_plus=A_plus, A_minus=A_minus, eta=eta, optim_type=optim_type,
                                 optim_kwargs=optim_kwargs, theta_plus=theta_plus, tau_m=tau_m, tau_tr=tau_tr,
                                 w_ie=w_ie, w_ei=w_ei, weight_init=weight_init, seed=seed)
        self._start({**config, "sizes": [config["n_inputs"], config["n_exc"]], "batch_size": 1})
        self.config = config
        self.labels = None
        self._build()

    def _build(self):
        c, n_in, n = self.config, self.config["n_inputs"], self.config["n_exc"]
        with Context(self.context_name) as self.context:
            z0 = PoissonCell("z0", n_in, target_freq=c["max_freq"], seed=c["seed"])
            W1 = TraceSTDPSynapse("W1", (n_in, n), c["A_plus"], c["A_minus"], eta=c["eta"],
                                  weight_init=c["weight_init"], w_bound=1.0, optim_type=c["optim_type"],
                                  optim_kwargs=c["optim_kwargs"], seed=c["seed"] + 1)
            z1e = LIFCell("z1e", n, c["tau_m"], resist_m=c["tau_m"] / c["dt"], thr=-52.0, v_rest=-65.0,
                          v_reset=-60.0, tau_theta=1e7, theta_plus=c["theta_plus"], refract_time=5.0,
                          one_spike=True, seed=c["seed"] + 2)
            z1i = LIFCell("z1i", n, c["tau_m"], resist_m=c["tau_m"] / c["dt"], thr=-40.0, v_rest=-60.0,
                          v_reset=-45.0, tau_theta=0.0, refract_time=5.0)
            W1ie = StaticSynapse("W1ie", (n, n), weight_init={"dist": "constant", "value": c["w_ie"]})
            W1ei = StaticSynapse("W1ei", (n, n), weight_init={"dist": "constant", "value": 0.0})
            tr0 = VarTrace("tr0", n_in, c["tau_tr"], 0.0, decay_type="exp")
            tr1 = VarTrace("tr1", n, c["tau_tr"], 0.0, decay_type="exp")
            W1ie.weights.set(W1ie.weights.get() * (1.0 - np.eye(n, dtype=np.float32)))
            W1ei.weights.set(np.eye(n, dtype=np.float32) * np.float32(c["w_ei"]))
            z0.outputs >> W1.inputs
            z1i.s >> W1ie.inputs
            Summation(W1.outputs, W1ie.outputs) >> z1e.j
            z1e.s >> W1ei.inputs
            W1ei.outputs >> z1i.j
            z0.outputs >> tr0.inputs
            z1e.s >> tr1.inputs
            tr0.trace >> W1.preTrace
            z0.outputs >> W1.preSpike
            tr1.trace >> W1.postTrace
            z1e.s >> W1.postSpike
            self.reset_process = MethodProcess("reset")
            for component in (z0, z1e, z1i, tr0, tr1, W1, W1ie, W1ei):
                self.reset_process >> component.reset
            self.advance_process = MethodProcess("advance")
            self.learn_process = MethodProcess("learn")
            for component in (W1, W1ie, W1ei, z0, z1e, z1i, tr0, tr1):
                self.advance_process >> component.advance_state
                self.learn_process >> component.advance_state
            self.learn_process >> W1.evolve
            for process in (self.advance_process, self.learn_process):
                process.watch(z0.outputs, z1e.s)
        self.z0, self.W1, self.z1e, self.z1i = z0, W1, z1e, z1i
        self.W = [None, W1]

    def present(self, x, learn, raster=None):
        """Present one image (n_inputs,) for T steps; returns the excitatory spike counts (n_exc,).

        ``raster``: an optional list, given each step's (input spikes, excitatory spikes)."""
        self.reset_process.run()
        self.z0.inputs.set(np.asarray(x, np.float32).reshape(1, -1))
        thresholds = None if learn else self.z1e.thr_theta.get().copy()
        process, dt = (self.learn_process if learn else self.advance_process), self.config["dt"]
        final, (inputs, spikes) = process.scan(process.pack_rows(self.T, t=lambda step: step * dt, dt=dt),
                                               store_state=False, store_results=False)
        stateManager.set_state(final)
        counts = spikes[:, 0].sum(axis=0, dtype=np.float64)
        if raster is not None:
            raster.extend(zip(inputs[:, 0], spikes[:, 0]))
        if learn:
            weights = self.W1.weights.get()
            total = np.float32(self.config["w_norm"] * self.config["n_inputs"])
            self.W1.weights.set(weights * (total / np.maximum(weights.sum(axis=0, keepdims=True), 1e-12)))
        else:
            self.z1e.thr_theta.set(thresholds)
        return counts

    def raster(self, x):
        """Present one image (n_inputs,) without learning; returns its spike raster: (input spikes (T, n_inputs),
        excitatory spikes (T, n_exc)), 0/1 float arrays."""
        x = self._check_inputs(np.asarray(x).reshape(1, -1))[0]
        steps = []
        self.present(x, learn=False, raster=steps)
        return tuple(np.array([step[k] for step in steps]) for k in (0, 1))

    def train_batch(self, x):
        """Learn from one image (a (1, n_inputs) row); returns its excitatory spike count."""
        return float(np.sum(self.present(x[0], learn=True)))

    def responses(self, X):
        """Excitatory spike counts (samples, n_exc) for images X, nothing learning."""
        X = self._check_inputs(X)
        return np.array([self.present(x, learn=False) for x in X]).reshape(len(X), self.config["n_exc"])

    def assign_labels(self, X, Y):
        """Label each excitatory neuron with the class of highest mean spike count over (X, Y) (Y: integer
        classes or one-hot rows)."""
        Y = self._check_labels(X, Y)
        if len(Y) == 0:
            raise ValueError(f"{self.MODEL}: assign_labels needs at least one sample")
        counts = self.responses(X)
        rates = np.array([counts[Y == c].mean(axis=0) if np.any(Y == c) else np.zeros(counts.shape[1])
                          for c in range(int(Y.max()) + 1)])
        self.labels = np.argmax(rates, axis=0)
        return self.labels

    def _votes(self, counts):
        """The class of each row of spike counts: the one whose neurons fired most per neuron."""
        if self.labels is None:
            raise ValueError(f"{self.MODEL}: no neuron labels yet: call assign_labels(X, Y) after fit")
        classes = int(self.labels.max()) + 1
        votes = np.stack([counts[:, self.labels == c].mean(axis=1) if np.any(self.labels == c)
                          else np.full(len(counts), -1.0) for c in range(classes)], axis=1)
        return np.argmax(votes, axis=1)

    def predict(self, X):
        """The class of each image, by the labelled neurons' votes (needs ``assign_labels``)."""
        return self._votes(self.responses(X))

    def evaluate(self, X, Y):
        """{"accuracy": fraction predicted right, "spikes": mean excitatory spikes per image} on images X with
        labels Y (integer classes or one-hot rows)."""
        Y = self._check_labels(X, Y)
        if len(Y) == 0:
            raise ValueError(f"{self.MODEL}: evaluate needs at least one sample")
        counts = self.responses(X)
        return {"accuracy": float(np.mean(self._votes(counts) == Y)), "spikes": float(counts.sum(axis=1).mean())}

    def _params(self):
        return {"W1": {"weights": self.W1.weights.get()}, "z1e": {"thr_theta": self.z1e.thr_theta.get(),
                                                                  "key": self.z1e.key.get()},
                "z0": {"key": self.z0.key.get()}}

    def save(self, path, metadata=None):
        """Write W1 and its optimizer state, the adaptive thresholds, the spike generators' states, the
        neuron labels, epoch, shuffling RNG state and history to an HDF5 checkpoint."""
        labels = None if self.labels is None else self.labels.tolist()
        super().save(path, {"labels": labels, **(metadata or {})})

    @classmethod
    def memory_estimate(cls, config):
        """Bytes a model of ``config`` (its constructor arguments) takes to build and train, roughly: 80 per
        synapse (n_inputs x n_exc input weights, two n_exc x n_exc inhibitory ones), and per step of an image
        200 plus 8 per neuron (the scan's rows and the recorded spikes); rounded up from tracemalloc's peak
        over building and training on one image (n_exc 1000: 59 bytes per synapse)."""
        inputs, neurons = config["n_inputs"], config["n_exc"]
        return 80 * (inputs * neurons + 2 * neurons**2) + config["T"] * (200 + 8 * (inputs + neurons))

    @classmethod
    def from_checkpoint(cls, checkpoint):
        """A DiehlCookSNN rebuilt from a :class:`ngc_optim.checkpoint.Checkpoint` that :meth:`save` wrote.

        Raises:
            CheckpointError: the checkpoint is not one of this model, naming the file and what is wrong.
        """
        model = super().from_checkpoint(checkpoint)
        labels = checkpoint.metadata.get("labels")
        model.labels = None if labels is None else np.asarray(labels)
        return model

    @classmethod
    def _check_metadata(cls, where, metadata):
        config = metadata["config"]
        for key in ("n_inputs", "n_exc", "T"):
            value = config.get(key)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise CheckpointError(f"{where}: {key}={value!r} in its config; expected a positive integer")
        labels = metadata.get("labels")
        if labels is not None and not (isinstance(labels, list) and len(labels) == config["n_exc"] and all(
                isinstance(label, int) and not isinstance(label, bool) and 0 <= label < MAX_CLASSES
                for label in labels)):
            raise CheckpointError(f"{where}: its labels are not one class (0 .. {MAX_CLASSES - 1}) per neuron")
        cls._check_memory(where, config)

    def _check_labels(self, X, Y):
        """The classes of labels ``Y`` of the images ``X``: non-negative integers or one-hot rows."""
        X = self._check_inputs(X)
        try:
            return class_labels(Y, len(X))
        except DatasetError as error:
            raise ValueError(f"{self.MODEL}: {error}") from None

    def fit(self, X, Y=None, epochs=None, validation=None, checkpoint=None, progress=True, on_epoch=None):
        """Learn from the images X (unsupervised) until ``epochs`` epochs are done in all (None: ``EPOCHS``, 1).

        With ``validation=(X_val, Y_val)`` and labels Y, after each epoch the neurons are labelled on
        (X, Y) and the accuracy on the validation data is recorded.
        """
        X = self._check_inputs(X)
        score = None
        if validation is not None:
            if Y is None:
                raise ValueError(f"{self.MODEL}: validation needs the training labels Y to label the neurons")
            Y = self._check_labels(X, Y)
            X_val, Y_val = validation

            def score():
                self.assign_labels(X, Y)
                return self.evaluate(X_val, Y_val)["accuracy"]

        epochs = self._check_fit(epochs, None)
        return self._train((X,), epochs, score, checkpoint, progress, on_epoch)


def _checked_config(n_inputs, n_exc, T, dt, max_freq, w_norm, A_plus, A_minus, eta, optim_type, optim_kwargs,
                    theta_plus, tau_m, tau_tr, w_ie, w_ei, weight_init, seed):
    """The constructor arguments as JSON data, checked, each error naming the argument."""
    owner = DiehlCookSNN.MODEL
    for key, value in (("n_inputs", n_inputs), ("n_exc", n_exc), ("T", T)):
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise ValueError(f"{owner}: {key}={value!r} must be a positive int")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"{owner}: seed={seed!r} must be a non-negative int")
    numbers = {"dt": dt, "max_freq": max_freq, "w_norm": w_norm, "A_plus": A_plus, "A_minus": A_minus,
               "theta_plus": theta_plus, "tau_m": tau_m, "tau_tr": tau_tr, "w_ie": w_ie, "w_ei": w_ei}
    for key, value in numbers.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value):
            raise ValueError(f"{owner}: {key}={value!r} must be a finite number")
    for key in ("dt", "max_freq", "w_norm", "tau_m", "tau_tr"):
        if numbers[key] <= 0:
            raise ValueError(f"{owner}: {key}={numbers[key]!r} must be > 0")
    for key in ("A_plus", "A_minus", "theta_plus"):
        if numbers[key] < 0:
            raise ValueError(f"{owner}: {key}={numbers[key]!r} must be >= 0")
    optim_kwargs = dict(optim_kwargs or {})
    try:
        get_optimizer(optim_type, eta=eta, **optim_kwargs)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{owner}: optimizer: {error}") from None
    weight_init = weight_init or {"dist": "uniform", "amin": 0.0, "amax": 0.3}
    validate(weight_init, f"{owner} weight_init")
    return {"n_inputs": n_inputs, "n_exc": n_exc, "T": T, "eta": float(eta), "optim_type": optim_type,
            "optim_kwargs": optim_kwargs, "weight_init": weight_init, "seed": seed,
            **{key: float(value) for key, value in numbers.items()}}
