"""Time (and optionally score) PCX's predictive-coding classifier on the CPU: the reference of bench_pcn.py.

PCX (``pip install pcx``, JAX) is the predictive-coding library of Pinchetti et al. (2024). This script builds
its tutorial classifier (``examples/0_basics``/two-moons notebook, its discriminative MLP experiments) at our
PCN's size: ``sizes = n_0-n_1-...-n_L`` of ``pxnn.Linear`` layers, a ``pxc.Vode`` after each (the hidden ones
with PCX's squared-error energy, the output one with ``pxc.ce_energy``, the cross-entropy of softmax, its
``h`` frozen at the one-hot label), ``act_fx`` between the layers. One training batch is PCX's
``train_on_batch``: a forward pass in ``STATUS.INIT``, the state optimizer initialised, ``T`` inference steps
(the gradient of the batch's mean energy by ``pxf.value_and_grad``, one step of the state optimizer,
``optax.sgd(h_lr * batch_size, momentum=h_momentum, nesterov=True)``: the energy is the batch's mean, so
each sample's state steps by h_lr times its own gradient, as PCX's tutorial scales it), then one step of the
weights' optimizer
(``optax.adamw(w_lr)``), all in one ``pxf.jit``-ed function. Accuracy is the forward pass's argmax.

The data are the ``.npz`` file given (``x_train``, ``y_train``, ``x_test``, ``y_test``; bench_pcn.py writes
the digits split of ngc_optim's README). After ``--warmup`` untimed batches (JIT compilation), each of
``--batches`` batches is timed on its own up to ``block_until_ready``. With ``--seeds N``, the model is also
trained for ``--epochs`` epochs (shuffled full batches) from each seed 0 .. N-1 and scored on the test split.

Run with the Python of a venv that has PCX (never imported by ``ngc_optim``)::

    JAX_PLATFORMS=cpu /work/pcx-venv/bin/python benchmarks/pcx_pcn.py --data digits.npz --seeds 3

The last line of stdout is one JSON object: ``pcx_version``, ``jax_version``, ``sizes``, ``batch_size``,
``T``, the optimizers' settings, ``ms_per_batch`` (each timed batch), ``median_ms``, ``compile_s`` and, with
seeds, ``accuracies`` and ``mean_accuracy``.
"""

import argparse
import importlib.metadata
import itertools
import json
import statistics
import time

import numpy as np


def parse_sizes(text):
    sizes = [int(part) for part in text.split("-")]
    if len(sizes) < 2 or min(sizes) < 1:
        raise argparse.ArgumentTypeError(f"sizes needs at least two positive layer sizes, not {text!r}")
    return sizes


def build(args, seed):
    """The model, its forward and training functions, and the two optimizers (PCX's tutorial code)."""
    import jax
    import optax
    import pcx
    import pcx.functional as pxf
    import pcx.nn as pxnn
    import pcx.predictive_coding as pxc
    import pcx.utils as pxu

    pcx.RKG.seed(seed)
    act_fx = getattr(jax.nn, args.act_fx)

    class Model(pxc.EnergyModule):
        def __init__(self, sizes):
            super().__init__()
            self.act_fx = pcx.static(act_fx)
            self.layers = [pxnn.Linear(n_in, n_out) for n_in, n_out in itertools.pairwise(sizes)]
            self.vodes = [pxc.Vode() for _ in sizes[1:-1]] + [pxc.Vode(pxc.ce_energy)]
            self.vodes[-1].h.frozen = True

        def __call__(self, x, y):
            for vode, layer in zip(self.vodes[:-1], self.layers[:-1]):
                x = vode(self.act_fx(layer(x)))
            x = self.vodes[-1](self.layers[-1](x))
            if y is not None:
                self.vodes[-1].set("h", y)
            return self.vodes[-1].get("u")

    @pxf.vmap(pxu.M(pxc.VodeParam | pxc.VodeParam.Cache).to((None, 0)), in_axes=(0, 0), out_axes=0)
    def forward(x, y, *, model):
        return model(x, y)

    @pxf.vmap(pxu.M(pxc.VodeParam | pxc.VodeParam.Cache).to((None, 0)), in_axes=(0,), out_axes=(None, 0),
              axis_name="batch")
    def energy(x, *, model):
        y_ = model(x, None)
        return jax.lax.pmean(model.energy(), "batch"), y_

    @pxf.jit(static_argnums=0)
    def train_on_batch(T, x, y, *, model, optim_w, optim_h):
        model.train()
        with pxu.step(model, pxc.STATUS.INIT, clear_params=pxc.VodeParam.Cache):
            forward(x, y, model=model)
        optim_h.init(pxu.M_hasnot(pxc.VodeParam, frozen=True)(model))
        for _ in range(T):
            with pxu.step(model, clear_params=pxc.VodeParam.Cache):
                _, g = pxf.value_and_grad(pxu.M_hasnot(pxc.VodeParam, frozen=True).to([False, True]),
                                          has_aux=True)(energy)(x, model=model)
            optim_h.step(model, g["model"])
        optim_h.clear()
        with pxu.step(model, clear_params=pxc.VodeParam.Cache):
            _, g = pxf.value_and_grad(pxu.M_hasnot(pxnn.LayerParam, frozen=True).to([False, True]),
                                      has_aux=True)(energy)(x, model=model)
        optim_w.step(model, g["model"])

    @pxf.jit()
    def predict(x, *, model):
        model.eval()
        with pxu.step(model, pxc.STATUS.INIT, clear_params=pxc.VodeParam.Cache):
            return forward(x, None, model=model).argmax(axis=-1)

    model = Model(args.sizes)
    with pxu.step(model, pxc.STATUS.INIT, clear_params=pxc.VodeParam.Cache):
        forward(jax.numpy.zeros((args.batch_size, args.sizes[0])), None, model=model)
        optim_h = pxu.Optim(lambda: optax.sgd(args.h_lr * args.batch_size, momentum=args.h_momentum,
                                              nesterov=True))
        optim_w = pxu.Optim(lambda: optax.adamw(args.w_lr), pxu.M(pxnn.LayerParam)(model))
    return model, train_on_batch, predict, optim_w, optim_h


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help=".npz with x_train, y_train, x_test, y_test")
    parser.add_argument("--sizes", type=parse_sizes, default=parse_sizes("64-128-128-10"))
    parser.add_argument("--batch-size", type=int, default=50)
    parser.add_argument("--T", type=int, default=20)
    parser.add_argument("--act-fx", default="leaky_relu", help="a jax.nn activation (leaky_relu, the tutorial's)")
    parser.add_argument("--h-lr", type=float, default=0.01, help="the states' SGD step size per sample (0.01, the "
                        "tutorial's)")
    parser.add_argument("--h-momentum", type=float, default=0.5, help="its Nesterov momentum (0.5, PCX's)")
    parser.add_argument("--w-lr", type=float, default=0.01, help="the weights' AdamW step size (0.01, the "
                        "tutorial's)")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--batches", type=int, default=50)
    parser.add_argument("--seeds", type=int, default=0, help="accuracy runs from seeds 0 .. SEEDS-1 (none)")
    parser.add_argument("--epochs", type=int, default=30)
    args = parser.parse_args()

    import jax
    import jax.numpy as jnp

    data = np.load(args.data)
    x_train, y_train = data["x_train"].astype(np.float32), data["y_train"].astype(np.int64)
    x_test, y_test = data["x_test"].astype(np.float32), data["y_test"].astype(np.int64)
    classes = args.sizes[-1]
    model, train_on_batch, predict, optim_w, optim_h = build(args, 0)
    x = jnp.asarray(x_train[:args.batch_size])
    y = jax.nn.one_hot(jnp.asarray(y_train[:args.batch_size]), classes)

    def ready():
        jax.block_until_ready([layer.nn.weight.get() for layer in model.layers])

    start = time.perf_counter()
    for _ in range(args.warmup):
        train_on_batch(args.T, x, y, model=model, optim_w=optim_w, optim_h=optim_h)
    ready()
    compile_s = time.perf_counter() - start
    times = []
    for _ in range(args.batches):
        start = time.perf_counter()
        train_on_batch(args.T, x, y, model=model, optim_w=optim_w, optim_h=optim_h)
        ready()
        times.append((time.perf_counter() - start) * 1e3)
    report = {"pcx_version": importlib.metadata.version("pcx"), "jax_version": jax.__version__,
              "sizes": args.sizes, "batch_size": args.batch_size, "T": args.T, "act_fx": args.act_fx,
              "h_optim": f"sgd(lr={args.h_lr} * {args.batch_size}, momentum={args.h_momentum}, nesterov=True)",
              "w_optim": f"adamw(lr={args.w_lr})", "ms_per_batch": times, "median_ms": statistics.median(times),
              "compile_s": compile_s}
    if args.seeds:
        accuracies = []
        batches = len(x_train) // args.batch_size
        for seed in range(args.seeds):
            model, train_on_batch, predict, optim_w, optim_h = build(args, seed)
            rng = np.random.default_rng(seed)
            for _ in range(args.epochs):
                order = rng.permutation(len(x_train))[:batches * args.batch_size].reshape(batches, -1)
                for rows in order:
                    train_on_batch(args.T, jnp.asarray(x_train[rows]), jax.nn.one_hot(jnp.asarray(y_train[rows]),
                                   classes), model=model, optim_w=optim_w, optim_h=optim_h)
            padded = -len(x_test) % args.batch_size
            inputs = np.concatenate([x_test, np.zeros((padded, x_test.shape[1]), np.float32)])
            predicted = np.concatenate([np.asarray(predict(jnp.asarray(rows), model=model))
                                        for rows in inputs.reshape(-1, args.batch_size, inputs.shape[1])])
            accuracies.append(float(np.mean(predicted[:len(x_test)] == y_test)))
        report.update(epochs=args.epochs, accuracies=accuracies, mean_accuracy=float(np.mean(accuracies)))
    print(json.dumps(report))


if __name__ == "__main__":
    main()
