"""The ``ngc-optim`` command line (also ``python -m ngc_optim``)."""

import argparse
import sys
from pathlib import Path

from . import __version__

SCORE_NAMES = {"accuracy": "accuracy", "mse": "MSE"}
"""How the models' scores are printed."""


def _positive_int(text):
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text}")
    return value


class _Parser(argparse.ArgumentParser):
    """argparse's parser, whose errors are one line (``ngc-optim <command>: error: ...``, exit 2)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {_one_line(message)}\n")


def _one_line(message):
    """``message`` on one line, control characters (a NUL in a path, say) escaped."""
    text = " ".join(str(message).split())
    return "".join(char if char.isprintable() else ascii(char)[1:-1] for char in text)


def _defaults(key):
    """The default of ``key`` for each kind of model that has it (the classes' own, read by ngc_optim.training)."""
    from .training import KINDS

    return ", ".join(f"{kind} {defaults[key]}" for kind, defaults in KINDS.items() if key in defaults)


def _parser():
    parser = _Parser(prog="ngc-optim", description=__doc__)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="run every optimizer on a seeded least-squares problem")
    demo.add_argument("--steps", type=_positive_int, default=500, help="steps per optimizer (500)")
    demo.add_argument("--rows", type=_positive_int, default=2000, help="rows of A (2000)")
    demo.add_argument("--columns", type=_positive_int, default=500, help="parameters, columns of A (500)")
    demo.add_argument("--seed", type=int, default=0, help="seed of the problem (0)")
    demo.add_argument("--no-progress", action="store_true", help="no progress bar")
    demo.add_argument("--checkpoint", type=Path, default=Path("runs/demo/checkpoint.h5"),
                      help="where to save the final parameters and optimizer states (runs/demo/checkpoint.h5)")
    train = commands.add_parser("train", help="train a model (default: the PCN on digits)",
                                description="Train a model as configured: defaults, then --config, then flags. "
                                            "Writes <runs>/<name>/checkpoint.h5 and metrics.json each epoch.")
    train.add_argument("--config", type=Path, help="a JSON simulation config (see ngc_optim.training)")
    train.add_argument("--resume", type=Path, help="continue from this checkpoint")
    train.add_argument("--model", help="pcn (a classifier, the default), generative (learns to reconstruct) or "
                                       "snn (a spiking network learning by STDP)")
    train.add_argument("--name", help="run name (the model kind)")
    train.add_argument("--runs", type=Path, default=Path("runs"), help="directory of runs (runs)")
    train.add_argument("--epochs", type=_positive_int, help=f"total epochs ({_defaults('epochs')})")
    train.add_argument("--batch-size", type=_positive_int, help=f"samples per batch ({_defaults('batch_size')})")
    train.add_argument("--T", type=_positive_int, help=f"settling steps per batch; snn: steps per image "
                                                       f"({_defaults('T')})")
    train.add_argument("--optimizer", help=f"optimizer name ({_defaults('optimizer')})")
    train.add_argument("--eta", type=float, help=f"step size ({_defaults('eta')})")
    train.add_argument("--seed", type=int, help=f"seed of weights and shuffling ({_defaults('seed')})")
    train.add_argument("--data", help="digits, a .npz file (default: digits)")
    train.add_argument("--no-progress", action="store_true", help="no progress bar")
    sweep = commands.add_parser("sweep", help="train every point of a sweep file on Dask (see ngc_optim.sweep)",
                                description="Train every point of a sweep (a base config plus a grid and/or list "
                                            "of overrides) as Dask tasks into <runs>/<sweep>/<point>/; finished "
                                            "points are skipped and interrupted ones resumed. Writes summary.csv "
                                            "and summary.png. Needs pip install 'ngc-optim[dask]'.")
    sweep.add_argument("sweep", type=Path, help="the sweep file (JSON)")
    sweep.add_argument("--scheduler", help="address of a running Dask scheduler (default: a LocalCluster)")
    sweep.add_argument("--workers", type=_positive_int, help="LocalCluster worker processes (one per core)")
    sweep.add_argument("--runs", type=Path, default=Path("runs"), help="directory of runs (runs)")
    sweep.add_argument("--no-progress", action="store_true", help="no progress bar")
    plot = commands.add_parser("plot", help="draw the learning curves of runs from their metrics.json into a PNG",
                               description="Draw the learning curves of runs (directories of ngc-optim train or "
                                           "of a sweep's points; a sweep's directory stands for its points) from "
                                           "their metrics.json: one panel per score, one line per run.")
    plot.add_argument("runs", nargs="+", type=Path, metavar="RUN", help="a run directory, or a sweep's")
    plot.add_argument("--output", type=Path, default=Path("curves.png"), help="the PNG to write (curves.png)")
    evaluate = commands.add_parser("evaluate", help="print the test accuracy (PCN, snn) or reconstruction MSE "
                                                    "(generative) of a checkpoint")
    evaluate.add_argument("checkpoint", type=Path)
    evaluate.add_argument("--data", help="evaluate on this data instead of the checkpoint's")
    return parser


def _train(args):
    from .training import train

    overrides = {"model": args.model, "name": args.name, "epochs": args.epochs, "batch_size": args.batch_size,
                 "T": args.T, "optimizer": args.optimizer, "eta": args.eta, "seed": args.seed, "data": args.data}
    directory, model = train(args.config, overrides, resume=args.resume, runs=args.runs,
                             progress=not args.no_progress)
    last = model.history[-1] if model.history else {}
    score = model.SCORE.removeprefix("val_")
    print(f"epoch {model.epoch}: {model.TRAIN.replace('_', ' ')} {last.get(model.TRAIN, float('nan')):.4f}, "
          f"test {SCORE_NAMES[score]} {last.get(model.SCORE, float('nan')):.4f}")
    print(f"checkpoint: {directory / 'checkpoint.h5'}")
    print(f"metrics: {directory / 'metrics.json'}")


def _sweep(args):
    from .sweep import run_sweep

    directory, rows = run_sweep(args.sweep, runs=args.runs, scheduler=args.scheduler, workers=args.workers,
                                progress=not args.no_progress)
    diverged = [row["point"] for row in rows if "diverged" in row]
    print(f"{len(rows)} points: {directory / 'summary.csv'}" +
          (f" ({len(diverged)} diverged: {', '.join(diverged)})" if diverged else ""))


def _demo(args):
    from .demo import format_results, run_demo
    from .models import physical_memory
    from .training import ConfigError

    estimate = 8 * 4 * args.rows * args.columns
    if estimate > physical_memory():
        raise ConfigError(f"--rows, --columns: the problem would need about {estimate / 2**30:.3g} GiB of memory, "
                          f"more than this machine's {physical_memory() / 2**30:.3g} GiB")
    try:
        args.checkpoint.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ConfigError(f"--checkpoint {args.checkpoint}: cannot create its directory ({error.strerror})") \
            from None
    results = run_demo(steps=args.steps, rows=args.rows, columns=args.columns, seed=args.seed,
                       progress=not args.no_progress, checkpoint=args.checkpoint)
    print(format_results(results))
    print(f"checkpoint: {args.checkpoint}")


def _plot(args):
    from .figures import plot_curves

    plot_curves(args.runs, args.output)
    print(f"curves: {args.output}")


def _evaluate(args):
    from .training import evaluate_checkpoint

    result = evaluate_checkpoint(args.checkpoint, args.data)
    score, other = result
    print(f"test {SCORE_NAMES[score]} {result[score]:.4f} ({other} {result[other]:.4f}): {args.checkpoint}")


def main(argv=None):
    """Run the command line ``argv`` (default: the process's). Bad input (arguments, configs, data, checkpoints)
    exits with status 2 and one line naming the problem; a diverged run or failed sweep points with status 1."""
    parser = _parser()
    args = parser.parse_args(argv)
    from .checkpoint import CheckpointError
    from .datasets import DatasetError
    from .figures import MetricsError
    from .models import DivergenceError
    from .sweep import SweepError
    from .training import ConfigError

    try:
        {"demo": _demo, "train": _train, "sweep": _sweep, "plot": _plot, "evaluate": _evaluate}[args.command](args)
    except (ConfigError, DatasetError, CheckpointError, MetricsError) as error:
        parser.exit(2, f"ngc-optim {args.command}: error: {_one_line(error)}\n")
    except (SweepError, DivergenceError) as error:
        parser.exit(1, f"ngc-optim {args.command}: error: {error}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
