"""Time ngc-learn's own discriminative predictive-coding network (PCN), per training batch, on the CPU.

The reference side of the PCN speed comparison. It builds, from ngc-learn's components, the circuit of
ngc-museum's ``exhibits/pc_discrim`` exhibit (its ngc-learn 3.x model), generalised to any number of
layers ``sizes = n_0-n_1-...-n_L``:

* state cells z_0 .. z_L (``RateCell``): z_0 and z_L stateless identity cells (tau_m 0) clamped to the
  input and the label, the hidden ones tanh with tau_m ``--tau-m``, a gaussian prior of weight 0, Euler;
* error cells e_1 .. e_L (``GaussianErrorCell``): e_l.mu from W_l, e_l.target from z_l.z;
* forward synapses W_1 .. W_L (``HebbianSynapse``: sign_value -1, w_bound 0, Adam with eta 0.001,
  weights uniform in [-0.3, 0.3], biases 0), with pre = z_{l-1}.zF and post = e_l.dmu;
* feedback synapses E_2 .. E_L (``StaticSynapse``) carrying e_l.dmu to z_{l-1}.j, and e_l.dtarget to
  z_l.j_td for the hidden cells;
* a feed-forward projection q_0 -Q_1-> q_1 ... -Q_L-> q_L (stateless rate cells, static synapses) that
  starts the hidden cells.

Like the exhibit's ``process``, one training batch is: the reset process; Q_l set to W_l's weights and
biases and E_l to W_l's transposed weights; the input clamped to z_0 and q_0; the projection process; the
hidden z_l set to the projections q_l; the label (one-hot, clipped to [0.001, 0.999]) clamped to z_L;
T settling steps of the advance process; one run of the evolve process (W_1 .. W_L). Every process is
an ngcsimlib ``MethodProcess`` as ngc-learn provides it (its ``run`` is jax-jitted). The settling runs in
one of the two forms ngc-learn offers (``--form``): ``scan`` (the default, the faster one),
``MethodProcess.scan`` over T packed rows of the advance process's keywords (``jax.lax.scan`` of the
jitted process, as ngc-museum's pc_recon exhibit does it), or ``loop``, the exhibit's own loop of T
``MethodProcess.run`` calls with the input and label clamped before each.

Random data: ``np.random.default_rng(seed)``, inputs uniform in [0, 1) (float32) of shape
(batch, sizes[0]) and random labels, one batch trained on repeatedly. After ``--warmup`` untimed batches
(their total time, JAX's compilation included, is ``compile_s``), each of ``--batches`` batches is timed
on its own with ``time.perf_counter``, up to ``block_until_ready`` on W_1 .. W_L's new weights. Warm up
with at least 2 batches: some of ngc-learn's state changes type in the first batch (a HebbianSynapse's
dBiases goes from shape (n,) to (1, n), an error cell's L from a float to an array), so the processes
compile again in the second. As a sanity check the mean energy per sample after settling,
-(sum of the error cells' L) / batch = 0.5 * sum(dmu^2) / batch, of the first and the last timed batch
goes to stderr; it falls as the network learns the batch (``--check`` makes a rise, or a non-finite
energy, an error).

Run with the Python of a venv that has ngc-learn and JAX (never imported by ``ngc_optim``)::

    JAX_PLATFORMS=cpu /work/ngclearn-venv/bin/python benchmarks/ngclearn_pcn.py \\
        --sizes 64-512-512-10 --batch-size 250 --T 20 --batches 20 --warmup 3

The last line of stdout is one JSON object: ``ngclearn_version``, ``ngcsimlib_version``,
``jax_version``, ``form``, ``sizes``, ``batch_size``, ``T``, ``tau_m``, ``ms_per_batch`` (each timed
batch), ``median_ms``, ``compile_s``, ``energy_first``, ``energy_last``.
"""

import argparse
import json
import statistics
import sys
import time

import numpy as np

FORMS = {
    "scan": "MethodProcess.scan",
    "loop": "MethodProcess.run x T",
}
ETA = 0.001
WEIGHT_RANGE = (-0.3, 0.3)
LABEL_EPS = 0.001


def parse_sizes(text):
    """'64-512-512-10' -> [64, 512, 512, 10] (at least an input and an output layer)."""
    try:
        sizes = [int(part) for part in text.split("-")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"sizes must look like 64-512-512-10, not {text!r}") from None
    if len(sizes) < 2 or min(sizes) < 1:
        raise argparse.ArgumentTypeError(f"sizes needs at least two positive layer sizes, not {text!r}")
    return sizes


def positive(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def non_negative(text):
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be at least 0, not {value}")
    return value


def parse_arguments(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=parse_sizes, default=parse_sizes("64-512-512-10"),
                        help="layer sizes, input to output (default 64-512-512-10)")
    parser.add_argument("--batch-size", type=positive, default=250, help="rows per batch (default 250)")
    parser.add_argument("--T", type=positive, default=20, help="settling steps per batch (default 20)")
    parser.add_argument("--batches", type=positive, default=20, help="timed batches (default 20)")
    parser.add_argument("--warmup", type=non_negative, default=3,
                        help="untimed batches first, including compilation (default 3; at least 2)")
    parser.add_argument("--tau-m", type=float, default=20.0, help="hidden cells' tau_m (default 20)")
    parser.add_argument("--form", choices=sorted(FORMS), default="scan",
                        help="how the T settling steps run (default scan)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the data and the weights (default 0)")
    parser.add_argument("--check", action="store_true",
                        help="exit with status 1 unless the energy fell over the timed batches "
                             "(needs --batches >= 2)")
    return parser.parse_args(argv)


class NgclearnPCN:
    """The exhibit's PCN circuit, built from ngc-learn components, for fixed layer sizes and batch size."""

    def __init__(self, sizes, batch_size, T, tau_m, seed):
        from jax import numpy as jnp
        from jax import random
        from ngclearn import Context, MethodProcess
        from ngclearn.components import GaussianErrorCell, HebbianSynapse, RateCell, StaticSynapse
        from ngclearn.utils.distribution_generator import DistributionGenerator as dist

        self.sizes, self.batch_size, self.T = sizes, batch_size, T
        L = self.L = len(sizes) - 1
        keys = iter(random.split(random.PRNGKey(seed), 6 * (L + 1)))
        hidden = range(1, L)

        def rate_cell(name, n, stateful):
            if stateful:
                return RateCell(name, n_units=n, tau_m=tau_m, act_fx="tanh", prior=("gaussian", 0.),
                                integration_type="euler", batch_size=batch_size, key=next(keys))
            return RateCell(name, n_units=n, tau_m=0., act_fx="identity", batch_size=batch_size,
                            key=next(keys))

        with Context("Circuit"):
            self.z = [rate_cell(f"z{k}", n, k in hidden) for k, n in enumerate(sizes)]
            self.q = [RateCell(f"q{k}", n_units=n, tau_m=0., act_fx="tanh" if k in hidden else "identity",
                               batch_size=batch_size, key=next(keys)) for k, n in enumerate(sizes)]
            self.e = {k: GaussianErrorCell(f"e{k}", n_units=sizes[k], batch_size=batch_size, key=next(keys))
                      for k in range(1, L + 1)}
            self.W = {k: HebbianSynapse(f"W{k}", shape=(sizes[k - 1], sizes[k]), eta=ETA,
                                        weight_init=dist.uniform(*WEIGHT_RANGE), bias_init=dist.constant(0.),
                                        w_bound=0., optim_type="adam", sign_value=-1., batch_size=batch_size,
                                        key=next(keys))
                      for k in range(1, L + 1)}
            self.Q = {k: StaticSynapse(f"Q{k}", shape=(sizes[k - 1], sizes[k]), bias_init=dist.constant(0.),
                                       batch_size=batch_size, key=next(keys))
                      for k in range(1, L + 1)}
            self.E = {k: StaticSynapse(f"E{k}", shape=(sizes[k], sizes[k - 1]),
                                       weight_init=dist.uniform(*WEIGHT_RANGE), batch_size=batch_size,
                                       key=next(keys))
                      for k in range(2, L + 1)}
            z, q, e, W, Q, E = self.z, self.q, self.e, self.W, self.Q, self.E
            for k in range(1, L + 1):
                z[k - 1].zF >> W[k].inputs
                W[k].outputs >> e[k].mu
                z[k].z >> e[k].target
                z[k - 1].zF >> W[k].pre
                e[k].dmu >> W[k].post
                q[k - 1].zF >> Q[k].inputs
                Q[k].outputs >> q[k].j
                if k >= 2:
                    e[k].dmu >> E[k].inputs
                    E[k].outputs >> z[k - 1].j
                if k in hidden:
                    e[k].dtarget >> z[k].j_td

            self.advance = MethodProcess(name="advance_process")
            for component in [*E.values(), *z, *W.values(), *e.values()]:
                self.advance >> component.advance_state
            self.reset = MethodProcess(name="reset_process")
            for component in [*q, *z, *e.values()]:
                self.reset >> component.reset
            self.evolve = MethodProcess(name="evolve_process")
            for synapse in W.values():
                self.evolve >> synapse.evolve
            self.project = MethodProcess(name="project_process")
            self.project >> q[0].advance_state
            for k in range(1, L + 1):
                self.project >> Q[k].advance_state >> q[k].advance_state
        self.scan_rows = jnp.array(self.advance.pack_rows(T, dt=1.))

    def train_batch(self, x, y, form):
        """One training batch on x (inputs) and y (clipped one-hot labels), as the exhibit's ``process``."""
        from jax import numpy as jnp
        from ngcsimlib.global_state import stateManager

        z, q, L = self.z, self.q, self.L
        self.reset.run()
        for k, synapse in self.W.items():
            self.Q[k].weights.set(synapse.weights.get())
            self.Q[k].biases.set(synapse.biases.get())
            if k in self.E:
                self.E[k].weights.set(jnp.transpose(synapse.weights.get()))
        z[0].j.set(x)
        q[0].j.set(x)
        self.project.run(dt=1.)
        for k in range(1, L):
            z[k].z.set(q[k].z.get())
        if form == "scan":
            z[L].j.set(y)
            stateManager.state, _ = self.advance.scan(self.scan_rows, store_state=False, store_results=False)
        else:
            for step in range(self.T):
                z[0].j.set(x)
                z[L].j.set(y)
                self.advance.run(t=step, dt=1.)
        self.evolve.run(dt=1.)
        return [synapse.weights.get() for synapse in self.W.values()]

    def energy(self):
        """Mean energy per sample after the last settling: -(sum of the error cells' L) / batch size."""
        return -sum(float(cell.L.get()) for cell in self.e.values()) / self.batch_size


def main(argv=None):
    """Parse the arguments, then import ngc-learn and JAX (importing ngc-learn parses ``sys.argv`` for
    ngcsimlib's own ``--config`` and would answer ``--help`` itself), build, warm up, time, report."""
    args = parse_arguments(argv)
    import jax
    import ngclearn
    import ngcsimlib

    rng = np.random.default_rng(args.seed)
    x = rng.random((args.batch_size, args.sizes[0]), dtype=np.float32)
    labels = rng.integers(0, args.sizes[-1], size=args.batch_size)
    y = np.clip(np.eye(args.sizes[-1], dtype=np.float32)[labels], LABEL_EPS, 1.0 - LABEL_EPS)
    x, y = jax.device_put(x), jax.device_put(y)

    model = NgclearnPCN(args.sizes, args.batch_size, args.T, args.tau_m, args.seed)
    start = time.perf_counter()
    for _ in range(args.warmup):
        jax.block_until_ready(model.train_batch(x, y, args.form))
    compile_s = time.perf_counter() - start

    times, energies = [], []
    for _ in range(args.batches):
        start = time.perf_counter()
        jax.block_until_ready(model.train_batch(x, y, args.form))
        times.append((time.perf_counter() - start) * 1000.0)
        energies.append(model.energy())

    sizes_text = "-".join(map(str, args.sizes))
    print(f"ngclearn PCN {sizes_text}, batch {args.batch_size}, T {args.T}, {FORMS[args.form]}: mean energy "
          f"{energies[0]:.6g} (first timed batch) -> {energies[-1]:.6g} (last)", file=sys.stderr)
    result = {
        "ngclearn_version": ngclearn.__version__,
        "ngcsimlib_version": ngcsimlib.__version__,
        "jax_version": jax.__version__,
        "form": FORMS[args.form],
        "sizes": args.sizes,
        "batch_size": args.batch_size,
        "T": args.T,
        "tau_m": args.tau_m,
        "ms_per_batch": [round(ms, 4) for ms in times],
        "median_ms": round(statistics.median(times), 4),
        "compile_s": round(compile_s, 4),
        "energy_first": energies[0],
        "energy_last": energies[-1],
    }
    print(json.dumps(result))
    if args.check and not (np.isfinite(energies).all() and energies[-1] < energies[0]):
        print("check failed: the energy did not fall over the timed batches", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
