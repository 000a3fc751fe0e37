"""HDF5 checkpoints: exact resume, atomic writes, strict restore, damaged files."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import h5py
import numpy as np
import pytest

import ngc_optim
import ngc_optim.checkpoint as checkpoint_module
from ngc_optim.checkpoint import FORMAT, CheckpointError, load_checkpoint, restore_checkpoint, save_checkpoint

from cases import CASES, case_id

STEPS, SPLIT = 12, 5


def problem(seed=0, dtype=np.float32):
    """Parameters of two components and a deterministic stream of updates."""
    rng = np.random.default_rng(seed)
    params = {"W1": {"weights": rng.standard_normal((6, 4)).astype(dtype),
                     "biases": rng.standard_normal((1, 4)).astype(dtype)},
              "W2": {"weights": rng.standard_normal((4, 3)).astype(dtype)}}
    updates = [{group: {name: rng.standard_normal(a.shape).astype(dtype) for name, a in arrays.items()}
                for group, arrays in params.items()} for _ in range(STEPS)]
    return params, updates


def make_optimizers(name, hyperparameters, params):
    return {group: (optimizer, optimizer.init(arrays))
            for group, arrays in params.items()
            for optimizer in [ngc_optim.get_optimizer(name, **hyperparameters)]}


def run(optimizers, params, updates):
    for update in updates:
        for group, (optimizer, state) in optimizers.items():
            optimizer.step(params[group], update[group], state)


def snapshot(params, optimizers):
    arrays = {f"{g}/{n}": a.copy() for g, group in params.items() for n, a in group.items()}
    for g, (_, state) in optimizers.items():
        data = state.state_dict()
        arrays[f"{g}/count"] = np.array(data.pop("count"))
        arrays.update({f"{g}/{slot}/{n}": a.copy() for slot, named in data.items() for n, a in named.items()})
    return arrays


def assert_identical(a, b):
    assert a.keys() == b.keys()
    for key in a:
        assert a[key].dtype == b[key].dtype, key
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)


RESUME_SCRIPT = textwrap.dedent("""
    import sys
    sys.path.insert(0, {tests!r})
    import json
    from test_checkpoint import SPLIT, make_optimizers, problem, run
    from ngc_optim.checkpoint import restore_checkpoint, save_checkpoint
    for case, (name, hyperparameters) in enumerate(json.loads({cases!r})):
        _, updates = problem(seed=case)
        params = {{g: {{n: a * 0 for n, a in arrays.items()}} for g, arrays in problem(seed=case)[0].items()}}
        optimizers = make_optimizers(name, hyperparameters, params)
        restore_checkpoint({directory!r} + f"/half-{{case}}.h5", params, optimizers)
        run(optimizers, params, updates[SPLIT:])
        save_checkpoint({directory!r} + f"/resumed-{{case}}.h5", params, optimizers)
""")


def test_resume_in_a_fresh_process_is_bit_identical_for_every_optimizer(tmp_path):
    straight = []
    for case, (name, hyperparameters) in enumerate(CASES):
        params, updates = problem(seed=case)
        optimizers = make_optimizers(name, hyperparameters, params)
        run(optimizers, params, updates[:SPLIT])
        save_checkpoint(tmp_path / f"half-{case}.h5", params, optimizers, step=SPLIT)
        run(optimizers, params, updates[SPLIT:])
        straight.append(snapshot(params, optimizers))
    script = RESUME_SCRIPT.format(tests=str(Path(__file__).parent), cases=json.dumps(CASES),
                                  directory=str(tmp_path))
    completed = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=False)
    assert completed.returncode == 0, completed.stderr
    for case, (name, hyperparameters) in enumerate(CASES):
        resumed = load_checkpoint(tmp_path / f"resumed-{case}.h5")
        assert_identical(snapshot(resumed.params, resumed.optimizers), straight[case])
        assert resumed.optimizers["W1"][0] == ngc_optim.get_optimizer(name, **hyperparameters)


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_load_checkpoint_rebuilds_optimizers_that_continue_identically(case, tmp_path):
    name, hyperparameters = case
    params, updates = problem()
    optimizers = make_optimizers(name, hyperparameters, params)
    run(optimizers, params, updates[:SPLIT])
    save_checkpoint(tmp_path / "c.h5", params, optimizers, step=SPLIT, metadata={"epoch": 1})
    loaded = load_checkpoint(tmp_path / "c.h5")
    run(optimizers, params, updates[SPLIT:])
    run(loaded.optimizers, loaded.params, updates[SPLIT:])
    assert_identical(snapshot(loaded.params, loaded.optimizers), snapshot(params, optimizers))
    assert (loaded.step, loaded.metadata) == (SPLIT, {"epoch": 1})


def test_file_is_self_describing_for_plain_h5py(tmp_path):
    params, updates = problem()
    optimizers = make_optimizers("adam", {"eta": 0.01}, params)
    run(optimizers, params, updates[:3])
    save_checkpoint(tmp_path / "c.h5", params, optimizers, step=3, metadata={"note": "x"})
    with h5py.File(tmp_path / "c.h5", "r") as file:
        assert file.attrs["format"] == FORMAT.encode() and file.attrs["format_version"] == 2
        assert file.attrs["ngc_optim_version"] == ngc_optim.__version__.encode()
        assert file.attrs["step"] == 3 and json.loads(file.attrs["metadata"]) == {"note": "x"}
        node = file["W1/optimizer"]
        assert node.attrs["optimizer"] == b"adam" and node.attrs["count"] == 3
        assert json.loads(node.attrs["hyperparameters"])["eta"] == 0.01
        assert node.attrs["dtype"] == b"float32"
        assert json.loads(node.attrs["param_names"]) == ["weights", "biases"]
        assert tuple(h5py.check_string_dtype(file.attrs.get_id("metadata").dtype)) == ("utf-8", 13)
        np.testing.assert_array_equal(file["W1/optimizer/g2/weights"][()], optimizers["W1"][1].g2["weights"])
        np.testing.assert_array_equal(file["W2/weights"][()], params["W2"]["weights"])
        assert file.id.get_create_plist().get_version()[0] == 3, "superblock of the HDF5 1.10 format"
        assert documented_digests(file) == ({name: file[name].attrs["digest"] for name in file_datasets(file)},
                                            file.attrs["digest"])


def file_datasets(file):
    names = []
    file.visititems(lambda name, node: names.append("/" + name) if isinstance(node, h5py.Dataset) else None)
    return names


def documented_digests(file):
    """Each dataset's digest and the root digest, computed with xxhash as docs/checkpoint-format.md says."""
    import xxhash

    datasets = {name: xxhash.xxh3_128_hexdigest(np.ascontiguousarray(file[name][()]).tobytes()).encode()
                for name in file_datasets(file)}
    names = []
    file.visit(names.append)
    listing = []
    for node in [file] + [file[name] for name in names]:
        attributes = {key: int(value) if isinstance(value, np.integer) else value.decode()
                      for key, value in node.attrs.items() if not (node.name == "/" and key == "digest")}
        if isinstance(node, h5py.Dataset):
            listing.append([node.name, "dataset", node.dtype.str, list(node.shape), attributes])
        else:
            listing.append([node.name, "group", attributes])
    text = json.dumps(sorted(listing), sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return datasets, xxhash.xxh3_128_hexdigest(text.encode("ascii")).encode()


@pytest.mark.parametrize("compression", ["gzip", "lzf"])
def test_compression_round_trips(compression, tmp_path):
    params = {"x": np.zeros((1000, 100)), "y": np.arange(10, dtype=np.int32), "flag": np.array(True),
              "empty": np.zeros((0, 3), np.float32)}
    save_checkpoint(tmp_path / "c.h5", params, compression=compression)
    assert (tmp_path / "c.h5").stat().st_size < 100_000
    assert_identical(load_checkpoint(tmp_path / "c.h5").params, params)


def test_writeback_is_started_for_every_byte_of_each_array_once(tmp_path, monkeypatch):
    """The disk is asked to write each array's bytes (in ranges of at most _FLUSH_BYTES plus a block) while
    the save goes on: the ranges tile every array's bytes in the file, and the file loads."""
    ranges = []
    monkeypatch.setattr(checkpoint_module, "_start_writeback",
                        lambda raw, offset, length: ranges.append((offset, length)))
    monkeypatch.setattr(checkpoint_module, "_FLUSH_BYTES", 3 * checkpoint_module._BLOCK_BYTES)
    params = {"big": np.arange(2_000_000, dtype=np.float32).reshape(1000, 2000), "small": np.ones(5),
              "x": np.arange(700_001, dtype=np.float64)}
    save_checkpoint(tmp_path / "c.h5", params)
    with h5py.File(tmp_path / "c.h5", "r") as file:
        extents = sorted((file[name].id.get_offset(), file[name].id.get_storage_size())
                         for name in params)
    assert all(0 < length <= checkpoint_module._FLUSH_BYTES + checkpoint_module._BLOCK_BYTES
               for _, length in ranges)
    assigned = 0
    for start, size in extents:
        pieces = sorted(piece for piece in ranges if start <= piece[0] < start + size)
        assert [offset for offset, _ in pieces] == list(np.cumsum([start] + [length for _, length in pieces[:-1]]))
        assert sum(length for _, length in pieces) == size
        assigned += len(pieces)
    assert assigned == len(ranges) > len(extents)
    assert_identical(load_checkpoint(tmp_path / "c.h5").params, params)


def test_cast_converts_between_float_widths_only_when_asked(tmp_path):
    params, updates = problem(dtype=np.float32)
    optimizers = make_optimizers("adam", {}, params)
    run(optimizers, params, updates[:2])
    save_checkpoint(tmp_path / "c.h5", params, optimizers)
    wide = {g: {n: np.zeros(a.shape) for n, a in arrays.items()} for g, arrays in params.items()}
    wide_optimizers = make_optimizers("adam", {}, wide)
    with pytest.raises(CheckpointError, match=r"'W1/weights' is float32 in the file, float64 here .*cast=True"):
        restore_checkpoint(tmp_path / "c.h5", wide, wide_optimizers)
    assert not wide["W1"]["weights"].any()
    restore_checkpoint(tmp_path / "c.h5", wide, wide_optimizers, cast=True)
    np.testing.assert_array_equal(wide["W1"]["weights"], params["W1"]["weights"].astype(np.float64))
    assert wide_optimizers["W1"][1].g1["weights"].dtype == np.float64
    assert wide_optimizers["W1"][1].count == 2


def mismatches(params, optimizers):
    """(description, params, optimizers, message) for restores that must be refused."""
    other = {g: {n: a.copy() for n, a in arrays.items()} for g, arrays in params.items()}
    yield "missing param", {**other, "W3": {"w": np.zeros(2)}}, optimizers, r"missing in the file \['W3/w'\]"
    yield "unexpected param", {"W1": other["W1"]}, {"W1": optimizers["W1"]}, \
        r"unexpected in the file \['W2/weights'\]"
    yield "shape", {**other, "W2": {"weights": np.zeros((3, 4), np.float32)}}, optimizers, \
        r"'W2/weights' has shape \(4, 3\) in the file, \(3, 4\) here"
    yield "dtype", {**other, "W2": {"weights": np.zeros((4, 3), np.int32)}}, optimizers, \
        r"'W2/weights' is float32 in the file, int32 here"
    nag = ngc_optim.nag()
    yield "optimizer type", other, {**optimizers, "W2": (nag, nag.init(other["W2"]))}, \
        r"optimizer of group 'W2' is adam in the file, nag here"
    adam = ngc_optim.adam(eta=0.5)
    yield "hyperparameters", other, {**optimizers, "W2": (adam, adam.init(other["W2"]))}, \
        r"hyperparameters differ: eta=0.001 in the file, 0.5 here"
    yield "missing optimizer", other, {"W1": optimizers["W1"]}, r"unexpected in the file \['W2'\]"


def test_strict_restore_refuses_mismatches_and_changes_nothing(tmp_path):
    params, updates = problem()
    optimizers = make_optimizers("adam", {}, params)
    run(optimizers, params, updates[:2])
    save_checkpoint(tmp_path / "c.h5", params, optimizers)
    fresh, _ = problem(seed=1)
    fresh_optimizers = make_optimizers("adam", {}, fresh)
    run(fresh_optimizers, fresh, updates[:1])
    for description, bad_params, bad_optimizers, message in mismatches(fresh, fresh_optimizers):
        before = snapshot(fresh, fresh_optimizers)
        with pytest.raises(CheckpointError, match=message) as error:
            restore_checkpoint(tmp_path / "c.h5", bad_params, bad_optimizers)
        assert str(tmp_path / "c.h5") in str(error.value), description
        assert_identical(snapshot(fresh, fresh_optimizers), before)
    assert issubclass(CheckpointError, ValueError)


def test_newer_format_version_and_foreign_files_are_refused(tmp_path):
    save_checkpoint(tmp_path / "c.h5", {"x": np.ones(3)})
    with h5py.File(tmp_path / "c.h5", "r+") as file:
        file.attrs["format_version"] = 3
    with pytest.raises(CheckpointError, match="format version 3 is newer"):
        load_checkpoint(tmp_path / "c.h5")
    with h5py.File(tmp_path / "other.h5", "w") as file:
        file["x"] = np.ones(3)
    with pytest.raises(CheckpointError, match=r"other.h5: .* has no attribute 'format'"):
        load_checkpoint(tmp_path / "other.h5")
    (tmp_path / "text.h5").write_text("not hdf5")
    with pytest.raises(CheckpointError, match="text.h5: not a readable HDF5 file"):
        load_checkpoint(tmp_path / "text.h5")
    with pytest.raises(CheckpointError, match="missing.h5: no such file"):
        load_checkpoint(tmp_path / "missing.h5")


@pytest.mark.parametrize("bad, message", [
    (lambda p: save_checkpoint(p, {"a/b": np.ones(2)}), r"'a/b' is not a valid entry name"),
    (lambda p: save_checkpoint(p, {"x": [1.0]}), r"'x' is a list; expected a numpy array"),
    (lambda p: save_checkpoint(p, {"x": np.array(["s"])}), r"'x' has dtype <U1"),
    (lambda p: save_checkpoint(p, {"g": {"optimizer": np.ones(2)}}), r"'g/optimizer': 'optimizer' is reserved"),
    (lambda p: save_checkpoint(p, {"x": np.ones(2)}, step=-1), r"step=-1 is not a non-negative integer"),
    (lambda p: save_checkpoint(p, {"x": np.ones(2)}, metadata={"f": np.ones(1)}), r"metadata is not JSON"),
    (lambda p: save_checkpoint(p, {"x": np.ones(2)}, compression="zstd"), r"compression='zstd'"),
    (lambda p: save_checkpoint(p.parent / "no" / "c.h5", {"x": np.ones(2)}), r"directory '.*no' does not exist"),
    (lambda p: save_checkpoint(p, {"x": np.ones(2)}, {"x": (ngc_optim.sgd(), None)}), r"an \(optimizer, state\) pair"),
    (lambda p: save_checkpoint(p, {"g": {"x": np.ones(2)}}, {"g": (ngc_optim.sgd(), ngc_optim.sgd().init({"y": np.ones(2)}))}),
     r"covers 'y' \(2,\), which params\['g'\] does not hold"),
])
def test_bad_saves_are_refused_and_leave_the_old_file(bad, message, tmp_path):
    path = tmp_path / "c.h5"
    save_checkpoint(path, {"old": np.arange(3.0)})
    with pytest.raises(CheckpointError, match=message):
        bad(path)
    np.testing.assert_array_equal(load_checkpoint(path).params["old"], np.arange(3.0))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.h5"]


KILL_SCRIPT = textwrap.dedent("""
    import sys
    import numpy as np
    from ngc_optim.checkpoint import save_checkpoint
    big = np.zeros(8_000_000, np.float32)
    for k in range(1, 1000):
        big[:] = k
        print(k, flush=True)
        save_checkpoint(sys.argv[1], {"version": np.array(k), "big": big})
""")


def test_a_save_killed_midway_leaves_a_complete_checkpoint(tmp_path):
    path = tmp_path / "c.h5"
    save_checkpoint(path, {"version": np.array(0), "big": np.zeros(8_000_000, np.float32)})
    delays = (0.0, 0.02, 0.05, 0.1, *(0.007 * k for k in range(1, 30)))
    for attempt, delay in enumerate(delays):  # the first four, then on until a kill lands during a save
        if attempt >= 4 and list(tmp_path.glob(".c.h5.*.tmp")):
            break
        child = subprocess.Popen([sys.executable, "-c", KILL_SCRIPT, str(path)], stdout=subprocess.PIPE, text=True)
        started = [int(child.stdout.readline()) for _ in range(2)]
        time.sleep(delay)
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
        loaded = load_checkpoint(path).params
        version = int(loaded["version"])
        assert version >= started[0]
        assert loaded["big"].min() == loaded["big"].max() == version
    interrupted = list(tmp_path.glob(".c.h5.*.tmp"))
    assert interrupted, "no kill landed during a save"


CORRUPTION_SCRIPT = textwrap.dedent("""
    import json, sys
    import numpy as np
    from ngc_optim.checkpoint import CheckpointError, load_checkpoint
    reference = {k: np.load(sys.argv[2])[k] for k in np.load(sys.argv[2]).files}
    outcomes = {}
    for path in sys.argv[3:]:
        try:
            checkpoint = load_checkpoint(path)
        except CheckpointError as error:
            outcomes[path] = "error" if path in str(error) else "unnamed"
            continue
        arrays = {"W1/weights": checkpoint.params["W1"]["weights"], "g1": checkpoint.optimizers["W1"][1].g1["weights"],
                  "count": np.array(checkpoint.optimizers["W1"][1].count)}
        same = all(np.array_equal(arrays[k], reference[k]) for k in reference)
        outcomes[path] = "same" if same else "different"
    json.dump(outcomes, open(sys.argv[1], "w"))
""")


def test_damaged_files_raise_checkpoint_error_never_wrong_data_or_a_crash(tmp_path):
    params, _ = problem()
    params["W1"]["weights"] = np.random.default_rng(1).standard_normal((64, 64)).astype(np.float32)
    optimizers = {"W1": (ngc_optim.adam(), ngc_optim.adam().init(params["W1"]))}
    run(optimizers, params, [{"W1": {n: np.ones_like(a) for n, a in params["W1"].items()}}] * 3)
    good = tmp_path / "good.h5"
    save_checkpoint(good, params, optimizers, step=3)
    np.savez(tmp_path / "reference.npz", **{"W1/weights": params["W1"]["weights"],
                                            "g1": optimizers["W1"][1].g1["weights"], "count": np.array(3)})
    data = good.read_bytes()
    damaged = []
    for offset in range(0, len(data), max(1, len(data) // 300)):
        flipped = bytearray(data)
        flipped[offset] ^= 0xFF
        damaged.append(tmp_path / f"flip-{offset}.h5")
        damaged[-1].write_bytes(bytes(flipped))
    for cut in (0, 8, 100, 1000, len(data) // 3, len(data) // 2, len(data) - 100, len(data) - 1):
        damaged.append(tmp_path / f"cut-{cut}.h5")
        damaged[-1].write_bytes(data[:cut])
    report = tmp_path / "outcomes.json"
    completed = subprocess.run([sys.executable, "-c", CORRUPTION_SCRIPT, str(report), str(tmp_path / "reference.npz"),
                                *map(str, damaged)], capture_output=True, text=True, check=False)
    assert completed.returncode == 0, completed.stderr[-2000:]
    outcomes = json.loads(report.read_text())
    assert not [p for p, outcome in outcomes.items() if outcome in ("different", "unnamed")]
    assert all(outcomes[str(p)] == "error" for p in damaged if p.name.startswith("cut-"))
    assert sum(outcome == "error" for outcome in outcomes.values()) > len(outcomes) // 2


def test_state_dict_round_trip_and_its_validation():
    params, updates = problem()
    optimizer = ngc_optim.nag()
    state = optimizer.init(params["W1"])
    run({"W1": (optimizer, state)}, params, updates[:2])
    other = optimizer.init({n: a.copy() for n, a in params["W1"].items()})
    other.load_state_dict(state.state_dict())
    assert other.count == 2
    np.testing.assert_array_equal(other.phi["weights"], state.phi["weights"])
    for bad, message in [({"count": 1}, r"has entries \['count'\]; expected \['count', 'phi'\]"),
                         ({**state.state_dict(), "count": -1}, "count=-1 is not a non-negative integer"),
                         ({"count": 1, "phi": {"weights": state.phi["weights"]}}, r"phi holds \['weights'\]"),
                         ({"count": 1, "phi": {**state.phi, "biases": np.zeros((1, 4))}},
                          r"phi\['biases'\] is float64\[1, 4\]; expected float32\[1, 4\]")]:
        with pytest.raises(ValueError, match=message):
            other.load_state_dict(bad)
    assert other.count == 2


@pytest.mark.parametrize("shape, dtype, compression", [
    ((3_000_001,), np.float32, None), ((1501, 999), np.float64, None), ((5_000_003,), np.bool_, None),
    ((9, 4, 100_000), np.int16, None), ((1501, 999), np.float64, "gzip"), ((3_000_001,), np.float32, "lzf")],
    ids=str)
def test_large_arrays_round_trip_and_a_changed_byte_is_caught(shape, dtype, compression, tmp_path):
    rng = np.random.default_rng(0)
    array = (rng.standard_normal(shape) * 100).astype(dtype)
    save_checkpoint(tmp_path / "c.h5", {"x": array}, compression=compression)
    with h5py.File(tmp_path / "c.h5", "r") as file:
        dataset = file["x"]
        np.testing.assert_array_equal(dataset[()], array)
        if compression is None:
            assert dataset.chunks is None
            offset = dataset.id.get_offset()
        else:
            assert dataset.shape[0] > dataset.chunks[0] > 0 and dataset.fletcher32
            offset = dataset.id.get_chunk_info(1).byte_offset
    np.testing.assert_array_equal(load_checkpoint(tmp_path / "c.h5").params["x"], array)
    data = bytearray((tmp_path / "c.h5").read_bytes())
    data[offset + 1000] ^= 0x01
    (tmp_path / "bad.h5").write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match=r"bad.h5: dataset /x(: its contents do not match their digest| "
                                              r"cannot be read)"):
        load_checkpoint(tmp_path / "bad.h5")


def test_file_mode_is_that_of_a_normal_file_or_of_the_file_replaced(tmp_path):
    umask = os.umask(0o022)
    try:
        save_checkpoint(tmp_path / "new.h5", {"x": np.ones(2)})
        assert (tmp_path / "new.h5").stat().st_mode & 0o777 == 0o644
        (tmp_path / "new.h5").chmod(0o640)
        save_checkpoint(tmp_path / "new.h5", {"x": np.zeros(2)})
        assert (tmp_path / "new.h5").stat().st_mode & 0o777 == 0o640
    finally:
        os.umask(umask)


def test_saves_in_a_row_replace_the_old_file_by_dropping_a_link_and_remove_it_afterwards(tmp_path, monkeypatch):
    path = tmp_path / "c.h5"
    handed = []
    monkeypatch.setattr(checkpoint_module, "_remove_in_background",
                        lambda paths: handed.append([(p, p.stat().st_ino, p.stat().st_nlink) for p in paths]))
    save_checkpoint(path, {"x": np.zeros(5)})
    assert handed == [[]]
    monkeypatch.undo()
    (tmp_path / "c.h5").chmod(0o600)
    for k in range(1, 4):
        old = path.stat().st_ino
        save_checkpoint(path, {"x": np.full(5, float(k))})
        assert path.stat().st_ino != old
        assert path.stat().st_mode & 0o777 == 0o600
        np.testing.assert_array_equal(load_checkpoint(path).params["x"], np.full(5, float(k)))
    checkpoint_module._finish_removals()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.h5"]
    monkeypatch.setattr(checkpoint_module, "_remove_in_background",
                        lambda paths: handed.append([(p, p.stat().st_ino, p.stat().st_nlink) for p in paths]))
    old = path.stat().st_ino
    save_checkpoint(path, {"x": np.ones(5)})
    ((retired, inode, links),) = handed[-1]
    assert retired.name.startswith(".c.h5.") and retired.name.endswith(".old")
    assert (inode, links) == (old, 1)
    np.testing.assert_array_equal(load_checkpoint(retired).params["x"], np.full(5, 3.0))


@pytest.mark.parametrize("name", ["c.h5", "run@1 (a+b)*.h5"])
def test_the_next_save_removes_old_files_a_crash_left_and_nothing_else(name, tmp_path):
    path = tmp_path / name
    save_checkpoint(path, {"x": np.zeros(5)})
    stale = [tmp_path / f".{name}.{tag}.old" for tag in ("0123456789abcdef", "fedcba9876543210")]
    os.link(path, stale[0])
    stale[1].write_bytes(b"left by a crash")
    others = [tmp_path / other for other in (f".{name}.0123456789abcdef.tmp", f".{name}.0123.old",
                                             ".d.h5.0123456789abcdef.old", f".{name}.0123456789ABCDEF.old",
                                             f"x.{name}.0123456789abcdef.old", f".{name}.0123456789abcdef.old.x",
                                             f".{name}x.0123456789abcdef.old")]
    if "@" in name:
        others.append(tmp_path / f".{name.replace('@', '0123456789abcdef')}.0123456789abcdef.old")
    for other in others:
        other.write_bytes(b"not ours")
    np.testing.assert_array_equal(load_checkpoint(path).params["x"], np.zeros(5))
    save_checkpoint(path, {"x": np.ones(5)})
    checkpoint_module._finish_removals()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([name] + [p.name for p in others])
    np.testing.assert_array_equal(load_checkpoint(path).params["x"], np.ones(5))


@pytest.mark.parametrize("failure", ["link", "replace"])
def test_a_failed_replacement_or_no_hard_links_leaves_nothing_behind(failure, tmp_path, monkeypatch):
    path = tmp_path / "c.h5"
    save_checkpoint(path, {"x": np.zeros(5)})

    def refuse(*args, **kwargs):
        raise PermissionError(f"no {failure} here")

    monkeypatch.setattr(checkpoint_module.os, failure, refuse)
    if failure == "replace":
        with pytest.raises(PermissionError):
            save_checkpoint(path, {"x": np.ones(5)})
        expected = np.zeros(5)
    else:
        save_checkpoint(path, {"x": np.ones(5)})
        expected = np.ones(5)
    monkeypatch.undo()
    checkpoint_module._finish_removals()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.h5"]
    assert path.stat().st_nlink == 1
    np.testing.assert_array_equal(load_checkpoint(path).params["x"], expected)


def test_the_old_file_is_removed_before_the_process_exits(tmp_path):
    path = tmp_path / "c.h5"
    script = ("import sys, numpy as np\nfrom ngc_optim.checkpoint import save_checkpoint\n"
              "for k in range(3):\n    save_checkpoint(sys.argv[1], {'x': np.full(4_000_000, float(k))})\n")
    subprocess.run([sys.executable, "-c", script, str(path)], check=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.h5"]
    assert load_checkpoint(path).params["x"][0] == 2.0


DATA = Path(__file__).parent / "data"


def h5py_arrays(path):
    """Every dataset of ``path`` as h5py reads it (HDF5's own filters: an independent reader), by path."""
    arrays = {}
    with h5py.File(path, "r") as file:
        file.visititems(lambda name, node: arrays.__setitem__(name, node[()])
                        if isinstance(node, h5py.Dataset) else None)
    return arrays


def flat(tree, prefix=""):
    """The arrays of a nested dict by their slash-joined paths."""
    arrays = {}
    for name, value in tree.items():
        if isinstance(value, dict):
            arrays.update(flat(value, f"{prefix}{name}/"))
        else:
            arrays[prefix + name] = value
    return arrays


@pytest.mark.parametrize("name", ["v1_optimizers.h5", "v1_optimizers_gzip.h5"])
def test_version_1_files_still_load(name):
    checkpoint = load_checkpoint(DATA / name)
    expected = h5py_arrays(DATA / name)
    loaded = flat(checkpoint.params)
    for group, (_, state) in checkpoint.optimizers.items():
        for slot, arrays in state.state_dict().items():
            if slot != "count":
                loaded.update({f"{group}/optimizer/{slot}/{n}": a for n, a in arrays.items()})
    assert_identical(loaded, {key: np.asarray(value) for key, value in expected.items()})
    assert (checkpoint.step, checkpoint.metadata) == (3, {"note": "format 1"})
    assert [(group, optimizer.name, state.count) for group, (optimizer, state) in
            sorted(checkpoint.optimizers.items())] == [("W1", "adam", 3), ("W2", "nag", 3)]
    assert checkpoint.params["counts"].dtype == np.int32 and checkpoint.params["flag"].shape == ()


@pytest.mark.parametrize("edit, message", [
    (lambda file: file.attrs.__setitem__("metadata", np.bytes_(b'{"epoch": 3}')), "attributes or structure do not match"),
    (lambda file: file.attrs.__setitem__("metadata", '{"epoch": 1}'), "'metadata' of / has a variable-length type"),
    (lambda file: file["W1/optimizer"].attrs.__setitem__("count", 4), "attributes or structure do not match"),
    (lambda file: file.move("W1/biases", "W1/biases2"), "attributes or structure do not match"),
    (lambda file: file.create_dataset("extra", data=np.ones(2)), "attributes or structure do not match"),
    (lambda file: file["W1/weights"].attrs.__setitem__("note", np.bytes_(b"x")), "attributes or structure do not match"),
    (lambda file: file["W1/weights"].__setitem__((0, 0), 7.0), r"dataset /W1/weights: its contents do not match"),
    (lambda file: file.attrs.__setitem__("format_version", 1), "format version 1 with a digest"),
    (lambda file: file.attrs.__delitem__("digest"), "/ has no attribute 'digest'"),
    (lambda file: file["W2/weights"].attrs.__delitem__("digest"), "attributes or structure do not match"),
], ids=["metadata", "variable-length metadata", "count", "renamed", "added", "attribute added", "data", "version 1", "no digest",
        "no dataset digest"])
def test_edits_through_hdf5_are_refused(edit, message, tmp_path):
    params, updates = problem()
    optimizers = make_optimizers("adam", {}, params)
    run(optimizers, params, updates[:3])
    save_checkpoint(tmp_path / "c.h5", params, optimizers, step=3, metadata={"epoch": 1})
    with h5py.File(tmp_path / "c.h5", "r+") as file:
        edit(file)
    with pytest.raises(CheckpointError, match=message) as error:
        load_checkpoint(tmp_path / "c.h5")
    assert str(tmp_path / "c.h5") in str(error.value)


def test_a_link_added_to_an_existing_array_is_refused(tmp_path):
    save_checkpoint(tmp_path / "c.h5", {"W1": {"weights": np.ones((2, 2))}})
    with h5py.File(tmp_path / "c.h5", "r+") as file:
        file["W2"] = h5py.SoftLink("/W1")
    with pytest.raises(CheckpointError, match="attributes or structure do not match"):
        load_checkpoint(tmp_path / "c.h5")
