"""GenerativePCN: a generative (reconstruction) predictive-coding network in the style of Rao & Ballard (1999).

Wired from :mod:`ngc_optim.components` in an ngcsimlib ``Context`` as in
ngc-museum's ``exhibits/pc_recon``, for any number of latent layers. With sizes
``(n_0, n_1, ..., n_L)``, ``n_0`` the data and ``n_L`` the top latent layer:

* latent cells ``z1 .. zL`` (``RateCell``, act_fx ``fx``, leak from the prior):
  ``tau_m dz_l/dt = -gamma * leak(z_l) + E_l.outputs * fx'(z_l) + e_l.dtarget`` (Euler;
  the top layer has no ``e_L``). The prior ``("laplacian", gamma)`` (the exhibit's, a
  sparse code) leaks ``sign(z)``, ``("gaussian", gamma)`` leaks ``z``. A Cauchy prior is
  not offered: ``RateCell`` has no such leak;
* error cells ``e0 .. e(L-1)`` (``GaussianErrorCell``, Sigma 1): ``e_l.mu = W_{l+1}(fx(z_{l+1}))``
  is the top-down prediction of layer l; ``e0.target`` is the data, ``e_l.target = z_l``;
* generative synapses ``W1 .. WL`` (``HebbianSynapse``, shape ``(n_l, n_{l-1})``, no biases,
  sign_value -1): ``pre = fx(z_l)``, ``post = e_{l-1}.dmu``, learning through the chosen
  optimizer, with ngc-learn's soft bound and clip ``w_bound``;
* feedback synapses ``E1 .. EL`` (``StaticSynapse``) carry ``e_{l-1}.dmu`` up to ``z_l.j``;
  their weights are set to ``W_l`` transposed before every batch.

One batch: reset the cells (every latent starts at zero), clamp the data to
``e0.target``, take ``T`` settling steps (E, then z from the top down, then W,
then e, in that order, as the exhibit), then (training only) one ``evolve`` of
W1 .. WL and, with ``normalize``, each row of each W (one latent unit's
projective field) rescaled to unit L2 norm, as the exhibit's ``norm()``:
``W[i] <- W[i] / max(||W[i]||, 1e-8)``. The settling steps descend the energy of a sample

    F = sum_{l=0}^{L-1} 0.5 * ||e_l.target - e_l.mu||^2 + gamma * sum_{l=1}^{L} penalty(z_l),
    penalty(z) = sum |z| (laplacian) or 0.5 * sum z^2 (gaussian),

which is reported after settling (``train_energy``, ``evaluate()["energy"]``). The
reconstruction of a sample is ``e0.mu = W1(fx(z1))`` after settling; its error is
the mean squared error over the samples and the n_0 features.

The components have a fixed batch size (see :mod:`models.base`): ``reconstruct``,
``encode`` and ``evaluate`` pad the last batch with zeros and discard the
padding; each sample settles on its own, so a row's result does not depend on
the others in its batch.
"""

import numpy as np
from ngc_optim.components import GaussianErrorCell, HebbianSynapse, RateCell, StaticSynapse
from ngcsimlib.global_state import stateManager

from ngc_optim import Context, MethodProcess

from .base import PCModel, checked_common_config, checked_inference_config

__all__ = ["GenerativePCN"]

PRIORS = ("laplacian", "gaussian")


class GenerativePCN(PCModel):
    """A generative predictive-coding network that learns to reconstruct its data (see the module).

    Args:
        sizes: (data size, latent sizes ...), at least two, the top latent layer last (default (64, 128)).
        T: settling steps per batch (default 20).
        dt: integration step (default 1).
        tau_m: time constant of the latent cells (default 20, the exhibit's).
        act_fx: activation of the latent cells, one of ``ACTIVATIONS`` (default "relu", the exhibit's).
        prior: (name, gamma): the latent prior, "laplacian" (default, sparse) or "gaussian", and its
            strength gamma >= 0 (default ("laplacian", 0.14), the exhibit's).
        eta: the optimizer's step size (default 0.005, the exhibit's).
        optim_type: any optimizer of ngc_optim (default "sgd", the exhibit's).
        optim_kwargs: its other hyperparameters (default none).
        weight_init: initialiser spec of the generative weights (default ``fan_in_gaussian``: N(0, 1/n_l)).
        w_bound: the synapses' soft bound and clip (0: none; default 1, the exhibit's).
        normalize: rescale each row of each W to unit L2 norm after every update (default True).
        batch_size: samples per batch (default 50).
        seed: seeds the weights and the shuffling (default 0).
        state_optim: the optimizer of the latent cells' z during settling: None (default: Euler steps of
            dt / tau_m), an optimizer's name or a dict of its name and hyperparameters (see :class:`RateCell`);
            its state starts from zero each batch (the reset).
        update_every: None (default: the weights are updated once, after T steps) or the settling steps
            between two updates of the weights (incremental predictive coding; each update followed by the
            normalisation and E tied to the new W).

    Attributes:
        epoch: epochs trained so far.
        history: one dict per epoch: ``epoch``, ``train_energy``, ``val_mse`` (None without
            validation data), ``seconds``.
    """

    MODEL = "GenerativePCN"
    SCORE = "val_mse"
    EPOCHS = 20

    def __init__(self, sizes=(64, 128), *, T=20, dt=1.0, tau_m=20.0, act_fx="relu", prior=("laplacian", 0.14),
                 eta=0.005, optim_type="sgd", optim_kwargs=None, weight_init=None, w_bound=1.0, normalize=True,
                 batch_size=50, seed=0, state_optim=None, update_every=None):
        config = _checked_config(sizes=sizes, T=T, dt=dt, tau_m=tau_m, act_fx=act_fx, prior=prior, eta=eta,
                                 optim_type=optim_type, optim_kwargs=optim_kwargs, weight_init=weight_init,
                                 w_bound=w_bound, normalize=normalize, batch_size=batch_size, seed=seed)
        self._start({**config, **checked_inference_config(self.MODEL, state_optim, update_every)})
        self.update_every = self.config["update_every"]
        self.prior = tuple(self.config["prior"])
        self.normalize = self.config["normalize"]
        self._build()

    def _build(self):
        c, sizes, batch = self.config, self.sizes, self.batch_size
        layers = len(sizes) - 1
        with Context(self.context_name) as self.context:
            z = [None] + [RateCell(f"z{l}", sizes[l], c["tau_m"], prior=self.prior, act_fx=c["act_fx"],
                                   batch_size=batch, state_optim=c["state_optim"]) for l in range(1, layers + 1)]
            e = [GaussianErrorCell(f"e{l}", sizes[l], batch_size=batch) for l in range(layers)]
            W = [None] + [HebbianSynapse(f"W{l}", (sizes[l], sizes[l - 1]), eta=c["eta"], weight_init=c["weight_init"],
                                         w_bound=c["w_bound"], sign_value=-1.0, optim_type=c["optim_type"],
                                         optim_kwargs=c["optim_kwargs"], batch_size=batch, seed=c["seed"] + l)
                          for l in range(1, layers + 1)]
            E = [None] + [StaticSynapse(f"E{l}", (sizes[l - 1], sizes[l]), batch_size=batch)
                          for l in range(1, layers + 1)]
            for l in range(1, layers + 1):
                z[l].zF >> W[l].inputs
                z[l].zF >> W[l].pre
                W[l].outputs >> e[l - 1].mu
                e[l - 1].dmu >> W[l].post
                e[l - 1].dmu >> E[l].inputs
                E[l].outputs >> z[l].j
                if l < layers:
                    z[l].z >> e[l].target
                    e[l].dtarget >> z[l].j_td
            self.reset_process = MethodProcess("reset")
            for component in z[1:] + e:
                self.reset_process >> component.reset
            self.settle_process = MethodProcess("settle")
            for component in E[1:] + z[:0:-1] + W[:0:-1] + e[::-1]:
                self.settle_process >> component.advance_state
            self.evolve_process = MethodProcess("evolve")
            for synapse in W[1:]:
                self.evolve_process >> synapse.evolve
        self.z, self.e, self.W, self.E = z, e, W, E

    def _settle(self, x, rows=None):
        """Tie E to W transposed, reset (latents at zero), clamp x to e0.target, settle T steps (or the steps of
        ``rows``, the settle process's rows of keywords)."""
        self._tie_feedback()
        self.reset_process.run()
        self.e[0].target.set(x)
        self._scan(self.settle_process.pack_rows(self.T, dt=self.dt) if rows is None else rows)

    def _tie_feedback(self):
        for synapse, feedback in zip(self.W[1:], self.E[1:]):
            feedback.weights.set(np.ascontiguousarray(synapse.weights.get().T))

    def _scan(self, rows):
        final, _ = self.settle_process.scan(rows, store_state=False)
        stateManager.set_state(final)

    def _energies(self, valid):
        """Energy F (see the module) of each of the first ``valid`` samples after settling, in float64."""
        total = np.zeros(valid, np.float64)
        for cell in self.e:
            dmu = cell.dmu.get()[:valid].astype(np.float64)
            total += 0.5 * np.sum(dmu * dmu, axis=1) * cell.sigma
        name, gamma = self.prior
        for cell in self.z[1:]:
            z = cell.z.get()[:valid].astype(np.float64)
            total += gamma * (np.sum(np.abs(z), axis=1) if name == "laplacian" else 0.5 * np.sum(z * z, axis=1))
        return total

    def _normalize_weights(self):
        """Each row of each W rescaled in place to unit L2 norm (rows of norm below 1e-8 divided by 1e-8)."""
        for synapse in self.W[1:]:
            weights = synapse.weights.get()
            weights /= np.maximum(np.sqrt(np.sum(weights * weights, axis=1, keepdims=True)), np.float32(1e-8))

    def _check_data(self, x):
        x = self._check_inputs(x)
        if not np.all(np.isfinite(x)):
            raise ValueError(f"{self.MODEL}: inputs contain NaN or infinite values")
        return x

    def train_batch(self, x):
        """One training step on a full batch of rows x (the weights updated after every ``update_every`` settling
        steps, or once after T); returns the mean energy before the last update."""
        chunks = self._chunk_rows(self.settle_process)
        for number, rows in enumerate(chunks):
            if number == 0:
                self._settle(x, rows)
            else:
                self._tie_feedback()
                self._scan(rows)
            energy = float(np.mean(self._energies(self.batch_size)))
            self.evolve_process.run(dt=self.dt)
            if self.normalize:
                self._normalize_weights()
        return energy

    def fit(self, X, epochs=None, batch_size=None, validation=None, checkpoint=None, progress=True, on_epoch=None):
        """Train until ``epochs`` epochs are done in all (a loaded model continues from its ``epoch``).

        Args:
            X: data (samples, sizes[0]), e.g. pixels in [0, 1].
            epochs: the total number of epochs to reach (None: ``EPOCHS``, 20).
            batch_size: must be the model's (the components were built for it); None: the model's.
            validation: optional data X_val: its reconstruction MSE is recorded after each epoch.
            checkpoint: optional path, written (atomically) after each epoch.
            progress: show a tqdm progress bar (epoch, energy, MSE).
            on_epoch: optional callable, called with the model after each epoch (and its checkpoint).

        Returns:
            ``history``, one dict per epoch trained so far.

        Raises:
            ValueError: bad arguments or data (the wrong number of features, NaN, fewer samples
                than a batch, empty validation data), before anything changes.
        """
        epochs = self._check_fit(epochs, batch_size)
        X = self._check_data(X)
        if validation is not None:
            validation = self._check_data(validation)
            if len(validation) == 0:
                raise ValueError(f"{self.MODEL}: the validation data are empty")
        score = (lambda: self.evaluate(validation)["mse"]) if validation is not None else None
        return self._train((X,), epochs, score, checkpoint, progress, on_epoch)

    def _settled(self, X):
        """Settle on each batch of X (the last padded) in turn, yielding (rows, valid count) after each."""
        for rows, valid in self._batches(X, self.batch_size):
            self._settle(rows)
            yield rows, valid

    def reconstruct(self, X):
        """The reconstructions e0.mu (samples, sizes[0]) of the rows of X after settling."""
        X = self._check_data(X)
        parts = [self.e[0].mu.get()[:valid].copy() for _, valid in self._settled(X)]
        return np.concatenate(parts) if parts else np.zeros((0, self.sizes[0]), np.float32)

    def encode(self, X):
        """The top latent code fx(z_L) (samples, sizes[-1]) of the rows of X after settling."""
        X = self._check_data(X)
        parts = [self.z[-1].zF.get()[:valid].copy() for _, valid in self._settled(X)]
        return np.concatenate(parts) if parts else np.zeros((0, self.sizes[-1]), np.float32)

    def evaluate(self, X):
        """{"mse": mean of (x - reconstruction)**2 over samples and features, "energy": mean F per sample}."""
        X = self._check_data(X)
        if len(X) == 0:
            raise ValueError(f"{self.MODEL}: evaluate needs at least one sample")
        squared, energy = 0.0, 0.0
        for rows, valid in self._settled(X):
            error = rows[:valid].astype(np.float64) - self.e[0].mu.get()[:valid]
            squared += float(np.sum(error * error))
            energy += float(np.sum(self._energies(valid)))
        return {"mse": float(squared / X.size), "energy": float(energy / len(X))}


def _checked_config(sizes, T, dt, tau_m, act_fx, prior, eta, optim_type, optim_kwargs, weight_init, w_bound,
                    normalize, batch_size, seed):
    """The constructor arguments as JSON data, checked, each error naming the argument."""
    owner = GenerativePCN.MODEL
    config = checked_common_config(owner, sizes=sizes, T=T, dt=dt, tau_m=tau_m, act_fx=act_fx, eta=eta,
                                   optim_type=optim_type, optim_kwargs=optim_kwargs,
                                   weight_init=weight_init or {"dist": "fan_in_gaussian"},
                                   batch_size=batch_size, seed=seed)
    if not (isinstance(prior, (list, tuple)) and len(prior) == 2 and prior[0] in PRIORS
            and not isinstance(prior[1], bool) and isinstance(prior[1], (int, float))
            and np.isfinite(prior[1]) and prior[1] >= 0):
        raise ValueError(f"{owner}: prior={prior!r}; expected (name, gamma) with name in {list(PRIORS)} "
                         f"and gamma >= 0")
    if isinstance(w_bound, bool) or not isinstance(w_bound, (int, float)) or not np.isfinite(w_bound) \
            or w_bound < 0:
        raise ValueError(f"{owner}: w_bound={w_bound!r} must be a number >= 0 (0: no bound)")
    if type(normalize) is not bool:
        raise ValueError(f"{owner}: normalize={normalize!r} must be True or False")
    return {**config, "prior": [prior[0], float(prior[1])], "w_bound": float(w_bound), "normalize": normalize}
