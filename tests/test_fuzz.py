"""Seeded fuzzing: damaged checkpoints of every kind are refused or load unchanged; bad CLI input exits 2.

Checkpoint kinds: optimizer states (Adam and NAG groups, 0-d, int and bool arrays), a gzip checkpoint of
many chunks, an lzf one, ``PCN.save`` and ``HebbianSynapse.save``. Corruptions: a bit flipped anywhere, in
the file's metadata (outside the arrays' bytes), in an attribute's text or in a 0-d dataset; a dataset or
chunk zeroed; a dataset or chunk copied over another of the same size (a misdirected write); an aligned
4 KiB page zeroed; the file cut short. Each damaged file must raise CheckpointError naming it, or load
exactly what was saved (the damage hit bytes nothing reads): never different values, never another error.
"""

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


def optimizer_checkpoint(path, compression=None, rows=6):
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
    save_checkpoint(path, params, optimizers, step=3, metadata={"epoch": 1, "note": "fuzz"},
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
    for index, (label, damaged) in enumerate(corruptions(data, storage(path), rng)):
        target = tmp_path / f"damaged-{index}.h5"
        target.write_bytes(damaged)
        results.setdefault(label, []).append(outcome(target, original))
        target.unlink()
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
    with pytest.raises(CheckpointError, match=r"epoch.h5: its attributes or structure do not match its digest"):
        PCN.load(tmp_path / "epoch.h5")
    assert PCN.load(path).epoch == 1


def test_fuzz_cases_cover_every_kind_of_damage():
    labels = {label for label, _ in corruptions(bytes(range(256)) * 64, [("/x/scale", [(100, 8)]),
                                                                         ("/y", [(1000, 8)])],
                                                np.random.default_rng(0))}
    assert labels == {"flip anywhere", "flip in metadata", "truncate", "zero a page", "flip in a 0-d dataset",
                      "zero data or a chunk", "copy a chunk over another"}
