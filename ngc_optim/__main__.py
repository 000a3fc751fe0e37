"""The ``ngc-optim`` command line (also ``python -m ngc_optim``)."""

import argparse
import sys
from pathlib import Path

from . import __version__


def _positive_int(text):
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text}")
    return value


def _parser():
    parser = argparse.ArgumentParser(prog="ngc-optim", description=__doc__)
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
    return parser


def main(argv=None):
    args = _parser().parse_args(argv)
    if args.command == "demo":
        from .demo import format_results, run_demo

        args.checkpoint.parent.mkdir(parents=True, exist_ok=True)
        results = run_demo(steps=args.steps, rows=args.rows, columns=args.columns, seed=args.seed,
                           progress=not args.no_progress, checkpoint=args.checkpoint)
        print(format_results(results))
        print(f"checkpoint: {args.checkpoint}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
