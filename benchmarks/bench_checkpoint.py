"""Benchmark of saving and loading an Adam checkpoint against np.save / np.load.

The checkpoint holds 16M float32 parameters with their Adam state (params, g1,
g2: 192 MB). Measured in one run, median seconds over ``--repeats``:

* ``save_checkpoint``: HDF5 (format 2: each array hashed with XXH3-128 as it is
  written), written to a temporary file, fsynced and renamed over the
  destination (atomic and durable). The old checkpoint, kept under a second
  name, is unlinked by a thread after the save returns; the line under the save
  times the wait for that thread, apart, before the next candidate starts (so
  freeing the old file's blocks slows neither the save nor its competitors);
* ``np.save``: the three arrays, one ``.npy`` each, into the page cache (neither
  atomic nor durable: what the issue's target compares against);
* ``np.save + fsync + rename``: the same three files with the durability the
  checkpoint promises (each written to a temporary name, fsynced, renamed);
* ``load_checkpoint`` (every digest verified) against ``np.load`` of the three files.

The ratios are the medians of per-round ratios (the candidates run interleaved,
one call each per round), so the noise of a shared machine falls on all alike.
"""

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np

import ngc_optim
from ngc_optim.checkpoint import _finish_removals, load_checkpoint, save_checkpoint

NAMES = ("params", "g1", "g2")
FREEING = "  then (background) old freed"


def adam_state(size):
    rng = np.random.default_rng(0)
    params = {"weights": rng.standard_normal(size, dtype=np.float32)}
    optimizer = ngc_optim.adam()
    state = optimizer.init(params)
    optimizer.step(params, {"weights": rng.standard_normal(size, dtype=np.float32)}, state)
    return params, optimizer, state


def numpy_save(directory, arrays, durable):
    for name, array in zip(NAMES, arrays):
        target = directory / f"{name}.npy"
        if not durable:
            np.save(target, array)
            continue
        handle, temporary = tempfile.mkstemp(dir=directory, suffix=".tmp")
        with os.fdopen(handle, "wb") as stream:
            np.save(stream, array)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, target)


def numpy_load(directory):
    return [np.load(directory / f"{name}.npy") for name in NAMES]


def interleaved(candidates, repeats, settle=None):
    """The per-round seconds of each candidate, calling them in turn; ``settle`` (name -> (label, call)) runs
    after a candidate, timed apart under ``label``, before the next candidate starts."""
    settle = settle or {}
    rounds = {name: [] for name in candidates}
    rounds.update({label: [] for label, _ in settle.values()})
    for _ in range(repeats):
        for name, call in candidates.items():
            start = time.perf_counter()
            call()
            rounds[name].append(time.perf_counter() - start)
            if name in settle:
                label, after = settle[name]
                start = time.perf_counter()
                after()
                rounds[label].append(time.perf_counter() - start)
    return rounds


def paired(rounds, numerator, denominator):
    return float(np.median(np.array(rounds[numerator]) / np.array(rounds[denominator])))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=16_000_000, help="parameters (16M)")
    parser.add_argument("--repeats", type=int, default=7, help="rounds (7)")
    parser.add_argument("--directory", type=Path, default=None,
                        help="where to write (default: a temporary directory on the current disk)")
    args = parser.parse_args(argv)
    params, optimizer, state = adam_state(args.size)
    arrays = [params["weights"], state.g1["weights"], state.g2["weights"]]
    megabytes = sum(a.nbytes for a in arrays) / 1e6
    with tempfile.TemporaryDirectory(dir=args.directory or Path.cwd()) as scratch:
        directory = Path(scratch)
        checkpoint = directory / "checkpoint.h5"
        save_rounds = interleaved({
            "save_checkpoint": lambda: save_checkpoint(checkpoint, params, {"": (optimizer, state)}),
            "np.save": lambda: numpy_save(directory, arrays, durable=False),
            "np.save + fsync + rename": lambda: numpy_save(directory, arrays, durable=True),
        }, args.repeats, settle={"save_checkpoint": (FREEING, _finish_removals)})
        load_rounds = interleaved({
            "load_checkpoint": lambda: load_checkpoint(checkpoint),
            "np.load": lambda: numpy_load(directory),
        }, args.repeats)
        size_on_disk = checkpoint.stat().st_size / 1e6
    print(f"Adam checkpoint: {args.size:,} float32 parameters, params + g1 + g2 = {megabytes:.0f} MB "
          f"({size_on_disk:.0f} MB on disk); median of {args.repeats} interleaved rounds")
    print(f"{'':28s} {'median s':>9s} {'GB/s':>6s}")
    for rounds in (save_rounds, load_rounds):
        for name, times in rounds.items():
            median = float(np.median(times))
            print(f"{name:28s} {median:9.3f} {megabytes / 1e3 / median:6.2f}")
    save_ratio = paired(save_rounds, "save_checkpoint", "np.save")
    durable_ratio = paired(save_rounds, "save_checkpoint", "np.save + fsync + rename")
    load_ratio = paired(load_rounds, "load_checkpoint", "np.load")
    print("Targets: save and load each within 1.5x of np.save / np.load")
    for label, ratio in (("save / np.save", save_ratio), ("save / durable np.save", durable_ratio),
                         ("load / np.load", load_ratio)):
        print(f"  {label:24s} {ratio:5.2f}x  {'met' if ratio <= 1.5 else 'NOT MET'}")


if __name__ == "__main__":
    main()
