"""Seeded fuzzing: damaged checkpoints are refused or load unchanged; bad command-line input exits 2.

Checkpoints (64 corruptions of each of 6 kinds): optimizer states (Adam and NAG groups, 0-d, int and bool
arrays), gzip and lzf checkpoints of many chunks, one whose metadata (over 64 KiB) HDF5 keeps in dense
attribute storage, ``PCN.save`` and ``HebbianSynapse.save``. Corruptions: a bit flipped anywhere, in the
file's metadata (outside the arrays' bytes), in an attribute's text or in a 0-d dataset; a dataset or chunk
zeroed; a dataset or chunk copied over another of the same size (a misdirected write); an aligned 4 KiB page
zeroed; the file cut short. Each damaged file must raise CheckpointError naming it, or load exactly what was
saved (the damage hit bytes nothing reads): never different values, never another error.

Command line: bad values of every config key of each kind of model, files that are not configs, bad flags,
seeded garbage, bad sweep files, and checkpoints that ``evaluate`` and ``--resume`` must refuse. Each must
exit 2 with one line on stderr, no traceback and no run directory.
"""

import faulthandler
import json

import h5py
import numpy as np
import pytest
from ngc_optim.components import HebbianSynapse
from ngc_optim.models import PCN

import ngc_optim
from ngc_optim import Context, checkpoint
from ngc_optim.checkpoint import CheckpointError, load_checkpoint, save_checkpoint

SEED = 19
CASES_PER_KIND = 64
HANG_SECONDS = 120
"""A kind's corruptions taking longer than this end the process with its stack (HDF5 has looped forever on a
damaged global heap): a hang fails loudly instead of stalling the suite."""


def optimizer_checkpoint(path, compression=None, rows=6, metadata=None):
    rng = np.random.default_rng(SEED)
    params = {"W1": {"weights": rng.standard_normal((rows, 4)).astype(np.float32),
                     "biases": rng.standard_normal((1, 4)).astype(np.float32)},
              "W2": {"weights": rng.standard_normal((4, 3))},
              "counts": np.arange(7, dtype=np.int32), "flag": np.array(True), "scale": np.array(2.5)}
    optimizers = {}
    for group, name in (("W1", "adam"), ("W2", "nag")):
        optimizer = ngc_optim.get_optimizer(name, eta=0.01)
        optimizers[group] = (optimizer, optimizer.init(params[group]))
    for _ in range(3):
        for group, (optimizer, state) in optimizers.items():
            optimizer.step(params[group], {n: rng.standard_normal(a.shape).astype(a.dtype)
                                           for n, a in params[group].items()}, state)
    save_checkpoint(path, params, optimizers, step=3, metadata=metadata or {"epoch": 1, "note": "fuzz"},
                    compression=compression)


def chunked_checkpoint(path, compression):
    """Many chunks: small chunks (1 KiB) so that the chunk index has many entries."""
    original = checkpoint._CHUNK_BYTES
    checkpoint._CHUNK_BYTES = 1024
    try:
        optimizer_checkpoint(path, compression, rows=2000)
    finally:
        checkpoint._CHUNK_BYTES = original


def pcn_checkpoint(path):
    model = PCN((8, 6, 3), T=2, batch_size=4, eta=0.01, seed=1)
    rng = np.random.default_rng(SEED)
    model.fit(rng.random((8, 8), dtype=np.float32), rng.integers(0, 3, 8), epochs=1, progress=False)
    model.save(path)


def hebbian_checkpoint(path):
    with Context(f"fuzz{path.stem}"):
        synapse = HebbianSynapse("W", (5, 4), eta=0.1, optim_type="adam", bias_init={"dist": "constant",
                                                                                    "value": 0.5})
    synapse.opt_state.count = 2
    synapse.save(str(path.parent))
    (path.parent / "W.h5").rename(path)


KINDS = {
    "optimizers": optimizer_checkpoint,
    "gzip_chunks": lambda path: chunked_checkpoint(path, "gzip"),
    "lzf_chunks": lambda path: chunked_checkpoint(path, "lzf"),
    "dense_attributes": lambda path: optimizer_checkpoint(path, metadata={
        "epoch": 1, "note": "fuzz", "history": [{"epoch": k, "loss": 1 / (k + 1)} for k in range(3000)]}),
    "pcn": pcn_checkpoint,
    "hebbian": hebbian_checkpoint,
}


def storage(path):
    """(name, byte ranges of its data) of every dataset: each chunk's, or the contiguous data's."""
    ranges = []
    with h5py.File(path, "r") as file:
        datasets = []
        file.visititems(lambda name, node: datasets.append(node) if isinstance(node, h5py.Dataset) else None)
        for dataset in datasets:
            if dataset.chunks is not None:
                infos = [dataset.id.get_chunk_info(i) for i in range(dataset.id.get_num_chunks())]
                ranges.append((dataset.name, [(info.byte_offset, info.size) for info in infos]))
            elif dataset.id.get_offset() is not None:
                ranges.append((dataset.name, [(dataset.id.get_offset(), dataset.id.get_storage_size())]))
            else:
                raw = np.ascontiguousarray(dataset[()]).tobytes()
                ranges.append((dataset.name, [(path.read_bytes().find(raw), len(raw))] if raw else []))
    return ranges


def corruptions(data, ranges, rng):
    """(label, damaged bytes) pairs, drawn with ``rng``; each differs from ``data`` (zeroing bytes that are
    zero already, say, is drawn again)."""
    data_bytes = np.zeros(len(data), bool)
    pieces = [piece for _, pieces in ranges for piece in pieces if piece[0] >= 0]
    for offset, size in pieces:
        data_bytes[offset:offset + size] = True
    metadata_offsets = np.flatnonzero(~data_bytes)
    texts = [data.find(text) for text in (b'"epoch"', b'"note"', b"param_names", b'"eta"', b'["weights"')]
    texts = [offset for offset in texts if offset >= 0]
    scalars = [piece for name, pieces in ranges for piece in pieces
               if name.rsplit("/", 1)[-1] == "scale" and piece[0] >= 0]

    def flip(offset):
        damaged = bytearray(data)
        damaged[offset] ^= 1 << int(rng.integers(8))
        return bytes(damaged)

    def replace(offset, content):
        damaged = bytearray(data)
        damaged[offset:offset + len(content)] = content
        return bytes(damaged)

    makers = [
        ("flip anywhere", lambda: flip(int(rng.integers(len(data))))),
        ("flip in metadata", lambda: flip(int(rng.choice(metadata_offsets)))),
        ("truncate", lambda: data[:int(rng.integers(len(data)))]),
        ("zero a page", lambda: replace(int(rng.integers(len(data) // 4096 + 1)) * 4096,
                                        bytes(min(4096, len(data) - len(data) // 4096 * 4096) or 4096))),
    ]
    if texts:
        makers.append(("flip in attribute text", lambda: flip(int(rng.choice(texts)) + int(rng.integers(8)))))
    def pick(choices):
        return choices[int(rng.integers(len(choices)))]

    def flip_scalar():
        offset, size = pick(scalars)
        return flip(offset + int(rng.integers(size)))

    def zero_piece():
        offset, size = pick(pieces)
        return replace(offset, bytes(size))

    if scalars:
        makers.append(("flip in a 0-d dataset", flip_scalar))
    if pieces:
        makers.append(("zero data or a chunk", zero_piece))
    same_size = {}
    for offset, size in pieces:
        same_size.setdefault(size, []).append(offset)
    pairs = [offsets for offsets in same_size.values() if len(offsets) > 1]
    if pairs:
        def copy_over():
            offsets = pairs[int(rng.integers(len(pairs)))]
            source, target = rng.choice(len(offsets), 2, replace=False)
            size = next(size for size, group in same_size.items() if group is offsets)
            return replace(offsets[target], data[offsets[source]:offsets[source] + size])
        makers.append(("copy a chunk over another", copy_over))
    for index in range(CASES_PER_KIND):
        label, make = makers[index % len(makers)]
        damaged = make()
        while damaged == data:
            damaged = make()
        yield label, damaged


def flat(checkpoint_):
    """Everything a Checkpoint holds, as comparable values."""
    arrays = {}

    def walk(tree, prefix):
        for name, value in tree.items():
            if isinstance(value, dict):
                walk(value, f"{prefix}{name}/")
            else:
                arrays[prefix + name] = value
    walk(checkpoint_.params, "")
    for group, (optimizer, state) in checkpoint_.optimizers.items():
        walk({key: value for key, value in state.state_dict().items() if key != "count"}, f"{group}/optimizer/")
        arrays[f"{group}/optimizer"] = np.array(json.dumps([optimizer.name, optimizer.get_hyperparameters(),
                                                            state.count]))
    arrays["step, metadata"] = np.array(json.dumps([checkpoint_.step, checkpoint_.metadata]))
    return arrays


def outcome(path, original):
    """"error" (CheckpointError naming the file), "same" (loads what was saved) or what went wrong."""
    try:
        loaded = flat(load_checkpoint(path))
    except CheckpointError as error:
        return "error" if str(path) in str(error) else f"unnamed: {error}"
    same = loaded.keys() == original.keys() and all(
        loaded[key].dtype == original[key].dtype and np.array_equal(loaded[key], original[key])
        for key in original)
    return "same" if same else "different"


@pytest.mark.parametrize("kind", KINDS)
def test_damaged_checkpoints_are_refused_or_load_unchanged(kind, tmp_path):
    path = tmp_path / f"{kind}.h5"
    KINDS[kind](path)
    data = path.read_bytes()
    original = flat(load_checkpoint(path))
    rng = np.random.default_rng([SEED, len(kind)])
    results = {}
    faulthandler.dump_traceback_later(HANG_SECONDS, exit=True)
    try:
        for index, (label, damaged) in enumerate(corruptions(data, storage(path), rng)):
            target = tmp_path / f"damaged-{index}.h5"
            target.write_bytes(damaged)
            results.setdefault(label, []).append(outcome(target, original))
            target.unlink()
    finally:
        faulthandler.cancel_dump_traceback_later()
    wrong = {label: [r for r in found if r not in ("error", "same")] for label, found in results.items()}
    assert not any(wrong.values()), wrong
    refused = {label: found.count("error") for label, found in results.items()}
    assert all(refused[label] == len(results[label]) for label in refused
               if label in ("truncate", "zero data or a chunk", "copy a chunk over another",
                            "flip in a 0-d dataset")), (refused, results)
    assert sum(refused.values()) > 0.8 * CASES_PER_KIND, refused


def test_a_model_loads_only_an_intact_checkpoint_of_its_own(tmp_path):
    path = tmp_path / "pcn.h5"
    pcn_checkpoint(path)
    data = bytearray(path.read_bytes())
    offset = data.find(b'"epoch": 1')
    data[offset + 9] ^= 0x02
    (tmp_path / "epoch.h5").write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match=r"epoch.h5: (its attributes or structure do not match its digest|"
                                              r"damaged file, .*incorrect metadata checksum)"):
        PCN.load(tmp_path / "epoch.h5")
    assert PCN.load(path).epoch == 1


def test_fuzz_cases_cover_every_kind_of_damage():
    labels = {label for label, _ in corruptions(bytes(range(256)) * 64, [("/x/scale", [(100, 8)]),
                                                                         ("/y", [(1000, 8)])],
                                                np.random.default_rng(0))}
    assert labels == {"flip anywhere", "flip in metadata", "truncate", "zero a page", "flip in a 0-d dataset",
                      "zero data or a chunk", "copy a chunk over another"}


PCN_CONFIG = {"sizes": [64, 8, 10], "T": 2, "epochs": 1, "batch_size": 100}
SNN_CONFIG = {"model": "snn", "n_exc": 4, "T": 5, "epochs": 1}
GENERATIVE_CONFIG = {"model": "generative", "sizes": [64, 8], "T": 2, "epochs": 1, "batch_size": 100}
HUGE = [2**40, 10**30, 2**63]
BAD_NAMES = [".", "..", "", "a/b", "a\\b", "a\x00b", "x" * 300, "-x", ".hidden", "a b", 5, None, ["pcn"]]
BAD_VALUES = {
    "name": BAD_NAMES,
    "model": ["vae", 1, None, ["pcn"], {"pcn": 1}],
    "sizes": [[64], [], [64, 0, 10], *([64, size, 10] for size in HUGE), [64, 8, 2**40], [64, 8.5, 10],
              [64, True, 10], "64,10", [63, 8, 10], None, [[64], 10]],
    "T": [0, -1, *HUGE, 1.5, True, "3", None, [3]],
    "batch_size": [0, -5, *HUGE, 10**6, 1.5, "1", None, [100]],
    "epochs": [0, -1, 1.5, "1", None, True, [1]],
    "optimizer": [["adam"], "lbfgs", 1, None, {"name": "adam"}, "ADAM"],
    "eta": [-1, "0.1", None, True, [0.1], float("inf"), float("nan")],
    "optim_kwargs": [[], "beta1", {"beta1": 3}, {"lr": 1}, {"beta1": [0.9]}, {"beta1": None}, None],
    "act_fx": [["tanh"], "tan", 1, None, {"tanh": 1}],
    "dt": [0, -1, "1", None, float("inf")],
    "tau_m": [0, -1, None, [1]],
    "seed": [-1, 1.5, "0", None, True],
    "split_seed": [-1, 1.5, None, "0"],
    "data": ["mnist", "missing.npz", {"idx": [1, 2, 3, 4]}, {"idx": ["a"]}, 5, None, "a\x00b.npz", ["digits"],
             {"idx": ["a\x00", "b", "c", "d"]}],
    "bogus": [1],
}
SNN_BAD_VALUES = {"n_exc": [0, -1, *HUGE, 1.5, ["4"]], "T": [0, *HUGE], "w_ie": ["strong", None], "max_freq": [0, -1],
                  "batch_size": [10], "sizes": [[64, 10]]}
GENERATIVE_BAD_VALUES = {"prior": [["cauchy", 0.1], ["laplacian", -1], "laplacian", [], ["laplacian", True],
                                   [["laplacian"], 0.1]],
                         "w_bound": [-1, "1", None], "normalize": ["yes", 1, None], "sizes": [[64, 2**40]]}
BAD_FILES = [b"\xff\xfe{}", "{\"T\": \"\u00e9\"}".encode("latin-1"), b"[" * 100_000, b"{\"T\": " + b"9" * 5000 + b"}",
             b"", b"[]", b"3", b"\"pcn\"", b"null", b"{\"T\": 3", b"{'T': 3}"]
BAD_FLAGS = [["--T", "0"], ["--T", str(2**40)], ["--batch-size", str(10**30)], ["--epochs", "-1"], ["--eta", "nan"],
             ["--eta", "-1"], ["--optimizer", "lbfgs"], ["--name", ".."], ["--name", "a/b"], ["--name", "x" * 300],
             ["--model", "vae"], ["--seed", "1.5"], ["--seed", "9" * 5000], ["--data", "missing.npz"],
             ["--runs", "/dev/null/x"], ["--config", "/nonexistent.json"], ["--config", "/"], ["--bogus"]]


def cli_cases(tmp_path, rng):
    """(label, argv) of bad ``ngc-optim train`` inputs: each bad value of each key, files that are not configs,
    bad flags, and seeded random garbage and truncations of a good config."""
    def config_file(content):
        path = tmp_path / f"config{next(counter)}.json"
        path.write_bytes(content if isinstance(content, bytes) else json.dumps(content).encode())
        return str(path)

    counter = iter(range(10**6))
    for base, table in ((PCN_CONFIG, BAD_VALUES), (SNN_CONFIG, SNN_BAD_VALUES),
                        (GENERATIVE_CONFIG, GENERATIVE_BAD_VALUES)):
        for key, values in table.items():
            for value in values:
                yield f"{base.get('model', 'pcn')} {key}={value!r:.40}", ["--config", config_file({**base, key: value})]
    for content in BAD_FILES:
        yield f"file {content[:20]!r}", ["--config", config_file(content)]
    for flags in BAD_FLAGS:
        yield f"flags {flags!r:.60}", ["--config", config_file(PCN_CONFIG), *flags]
    text = json.dumps(PCN_CONFIG).encode()
    for _ in range(10):
        yield "random bytes", ["--config", config_file(rng.bytes(int(rng.integers(1, 64))))]
        yield "truncated", ["--config", config_file(text[:int(rng.integers(len(text) - 1))])]


def sweep_cases(tmp_path):
    """(label, sweep file content) of bad sweeps."""
    base = {"base": PCN_CONFIG}
    yield "name ..", {**base, "name": "..", "grid": {"eta": [0.1]}}
    yield "name .", {**base, "name": ".", "grid": {"eta": [0.1]}}
    for name in BAD_NAMES[2:]:
        yield f"name {name!r:.30}", {**base, "name": name, "grid": {"eta": [0.1]}}
    yield "optimizer.name list", {**base, "grid": {"optimizer.name": [["adam"]]}}
    yield "act_fx list", {**base, "points": [{"act_fx": ["tanh"]}]}
    yield "empty", {**base, "grid": {}}
    yield "points not objects", {**base, "points": [1]}
    yield "grid not lists", {**base, "grid": {"eta": 0.1}}
    yield "huge T", {**base, "grid": {"T": [2**40]}}
    yield "huge sizes", {**base, "points": [{"sizes": [64, 10**30, 10]}]}
    yield "batch above samples", {**base, "grid": {"batch_size": [10**5]}}
    yield "unknown setting", {**base, "grid": {"bogus": [1]}}
    yield "name setting", {**base, "grid": {"name": ["x"]}}
    yield "missing base", {"base": "missing.json", "grid": {"eta": [0.1]}}
    yield "base with NUL", {"base": "a\x00b", "grid": {"eta": [0.1]}}
    (tmp_path / "latin.json").write_bytes(b"\xff{}")
    yield "base not UTF-8", {"base": "latin.json", "grid": {"eta": [0.1]}}
    yield "base a list", {"base": [1], "grid": {"eta": [0.1]}}
    yield "not UTF-8", b"\xff\xfe"
    yield "deep", b"{\"grid\": " + b"[" * 100_000
    yield "long number", b"{\"grid\": {\"T\": [" + b"7" * 5000 + b"]}}"
    yield "a list", [1]


def assert_refused(label, argv, capsys, runs, failures, naming=""):
    """Run ``argv``; record in ``failures`` unless it exits 2 with one line on stderr (containing ``naming``),
    no traceback, no ``runs``."""
    from ngc_optim.__main__ import main

    try:
        main(argv)
        code = 0
    except SystemExit as stop:
        code = stop.code
    except Exception as error:  # noqa: BLE001 (any exception is the failure being looked for)
        code = f"{type(error).__name__}: {error}"
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    if code != 2 or len(lines) != 1 or "Traceback" in captured.err or not lines[0].startswith("ngc-optim") \
            or naming not in lines[0] or runs.exists():
        failures.append((label, code, captured.err[-300:], runs.exists()))


def test_bad_train_inputs_exit_2_with_one_line_and_no_run_directory(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    runs = tmp_path / "runs"
    failures = []
    cases = list(cli_cases(tmp_path, np.random.default_rng(SEED)))
    for label, argv in cases:
        runs_flag = [] if "--runs" in argv else ["--runs", str(runs)]
        assert_refused(label, ["train", *argv, *runs_flag, "--no-progress"], capsys, runs, failures)
    assert not failures, failures
    assert len(cases) > 150


def test_bad_sweeps_exit_2_with_one_line_and_no_run_directory(tmp_path, capsys):
    runs = tmp_path / "runs"
    failures = []
    cases = list(sweep_cases(tmp_path))
    for index, (label, content) in enumerate(cases):
        path = tmp_path / f"sweep{index}.json"
        path.write_bytes(content if isinstance(content, bytes) else json.dumps(content).encode())
        assert_refused(label, ["sweep", str(path), "--runs", str(runs), "--no-progress"], capsys, runs, failures)
    assert not failures, failures


def foreign_checkpoints(tmp_path):
    """(label, path) of files that ``evaluate`` and ``--resume`` must refuse: valid HDF5 but not theirs, and
    files that are not checkpoints at all."""
    model = tmp_path / "model.h5"
    pcn_checkpoint(model)
    real = load_checkpoint(model)
    good = {**real.metadata, "train": {**checkpoint_train_config()}}
    variants = {
        "metadata [1]": [1], "metadata null": None, "metadata a string": "PCN", "no train": real.metadata,
        "train a list": {**good, "train": [1]}, "train of no kind": {**good, "train": {"model": ["pcn"]}},
        "train with a bad value": {**good, "train": {**good["train"], "T": "3"}},
        "train with a huge size": {**good, "train": {**good["train"], "sizes": [64, 2**40, 10]}},
        "model of another kind": {**good, "model": "GenerativePCN"},
        "config a list": {**good, "config": [1]},
        "config huge": {**good, "config": {**good["config"], "sizes": [8, 2**40, 3]}},
        "config that builds nothing": {**good, "config": {**good["config"], "bogus": 1}},
        "epoch not the step": {**good, "epoch": 7},
        "history not a list": {**good, "history": 3},
        "rng not a state": {**good, "rng": {"bit_generator": "PCG64"}},
        "no rng": {key: value for key, value in good.items() if key != "rng"},
        "data of another width": {**good, "train": {**good["train"], "sizes": [64, 6, 3]}},
    }
    for label, metadata in variants.items():
        path = tmp_path / f"{label.replace(' ', '_')}.h5"
        save_checkpoint(path, real.params, real.optimizers, step=real.step, metadata=metadata)
        yield label, path
    (tmp_path / "text.h5").write_text("not HDF5")
    yield "text", tmp_path / "text.h5"
    yield "directory", tmp_path
    yield "missing", tmp_path / "missing.h5"
    with h5py.File(tmp_path / "plain.h5", "w") as file:
        file["x"] = np.ones(3)
    yield "plain HDF5", tmp_path / "plain.h5"


def checkpoint_train_config():
    from ngc_optim.training import DEFAULTS

    return {**DEFAULTS, "sizes": [8, 6, 3], "T": 2, "batch_size": 4, "eta": 0.01, "seed": 1}


def test_evaluate_and_resume_refuse_checkpoints_not_theirs_naming_the_file(tmp_path, capsys):
    runs = tmp_path / "runs"
    failures = []
    for label, path in foreign_checkpoints(tmp_path):
        for argv in (["evaluate", str(path)], ["train", "--resume", str(path), "--runs", str(runs), "--no-progress"]):
            assert_refused(f"{argv[0]} {label}", argv, capsys, runs, failures, naming=str(path))
    assert not failures, failures


def model_checkpoints(tmp_path):
    """{class: path of a checkpoint its save wrote} for each model."""
    from ngc_optim.models import DiehlCookSNN, GenerativePCN

    paths = {PCN: tmp_path / "pcn.h5", GenerativePCN: tmp_path / "generative.h5", DiehlCookSNN: tmp_path / "snn.h5"}
    pcn_checkpoint(paths[PCN])
    GenerativePCN((8, 5), T=2, batch_size=4).save(paths[GenerativePCN])
    snn = DiehlCookSNN(8, 4, T=3)
    snn.labels = np.array([0, 1, 1, 2])
    snn.save(paths[DiehlCookSNN])
    return paths


def test_every_model_refuses_checkpoints_not_its_own_naming_the_file_and_the_problem(tmp_path):
    paths = model_checkpoints(tmp_path)
    for cls, path in paths.items():
        real = load_checkpoint(path)
        metadata = real.metadata
        config = metadata["config"]
        variants = {
            "[1]": ([1], "its metadata is list, not an object"), "null": (None, "its metadata is null"),
            "other model": ({**metadata, "model": "Other"}, r"\(model='Other'\)"),
            "no config": ({k: v for k, v in metadata.items() if k != "config"}, "its metadata has no config"),
            "config list": ({**metadata, "config": [1]}, "its config is list, not an object"),
            "unknown argument": ({**metadata, "config": {**config, "bogus": 1}}, "its config does not build one"),
            "bad argument": ({**metadata, "config": {**config, "T": -1}}, r"T=-1"),
            "epoch": ({**metadata, "epoch": 9}, r"epoch=9 \(step \d+\)"),
            "history": ({**metadata, "history": {}}, "its history is not a list of one object per epoch"),
            "rng": ({**metadata, "rng": [1]}, "its shuffling RNG state is not one"),
        }
        if cls is PCN:
            variants["huge"] = ({**metadata, "config": {**config, "sizes": [8, 2**40, 3]}}, r"needs about .* GiB")
        else:
            variants["huge"] = ({**metadata, "config": {**config, "T": 2**50}}, r"needs about .* GiB")
        if "labels" in metadata:
            variants["labels"] = ({**metadata, "labels": [0, 1]}, "its labels are not one class")
        for label, (bad, message) in variants.items():
            target = tmp_path / "bad.h5"
            save_checkpoint(target, real.params, real.optimizers, step=real.step, metadata=bad)
            with pytest.raises(CheckpointError, match=message) as error:
                cls.load(target)
            assert str(target) in str(error.value), (cls.MODEL, label)
        for other, other_path in paths.items():
            if other is not cls:
                with pytest.raises(CheckpointError, match=rf"not a {cls.MODEL} checkpoint \(model='{other.MODEL}'\)"):
                    cls.load(other_path)
        loaded = cls.load(path)
        assert loaded.epoch == real.step and loaded.config == config
