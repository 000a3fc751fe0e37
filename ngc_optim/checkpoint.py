"""HDF5 checkpoints of parameters and optimizer state, written atomically, restored strictly.

The format (``ngc-optim-checkpoint``, version 1) is plain HDF5, readable with
h5py or ``h5dump`` without ngc_optim installed; see docs/checkpoint-format.md.
In short::

    /                               attrs: format, format_version, ngc_optim_version,
                                           step (if given), metadata (JSON)
    /<group>/.../<name>             one dataset per array (nested dicts are groups)
    /<group>/optimizer              attrs: optimizer, hyperparameters (JSON), count,
                                           dtype, param_names (JSON)
    /<group>/optimizer/<slot>/<name>  one dataset per state array (g1, g2, phi, ...)

Every dataset with at least one element is chunked and protected by HDF5's
fletcher32 checksum; compression (gzip or lzf) is optional. No pickle is used.
Uncompressed chunks are checksummed and verified by ngc_optim's own vectorised
fletcher32 (:mod:`ngc_optim.fletcher32`) and written and read as whole chunks,
several times faster than HDF5's filter pipeline; the checksums are HDF5's own,
which any HDF5 reader verifies.

Saving writes to a temporary file in the destination's directory, flushes and
fsyncs it, and renames it over the destination, so a reader (or a crash) sees the
old checkpoint or the new one, never a mixture. Loading reads and checks the
whole file before anything is returned or copied: any problem raises
:class:`CheckpointError` naming the file and the entry, and leaves the objects
being restored untouched.
"""

import json
import math
import os
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import h5py
import numpy as np

from .fletcher32 import fletcher32
from .optim import OPTIMIZERS, Optimizer, OptimizerState

__all__ = ["FORMAT", "FORMAT_VERSION", "Checkpoint", "CheckpointError", "load_checkpoint",
           "restore_checkpoint", "save_checkpoint"]

FORMAT = "ngc-optim-checkpoint"
FORMAT_VERSION = 1
OPTIMIZER_GROUP = "optimizer"
_CHUNK_BYTES = 4 * 2**20
_COMPRESSION = {None: {}, "gzip": {"compression": "gzip", "compression_opts": 4}, "lzf": {"compression": "lzf"}}


class CheckpointError(ValueError):
    """A checkpoint that cannot be written or restored as asked; the message names file and entry."""


class Checkpoint:
    """What :func:`load_checkpoint` read.

    Attributes:
        path: the file.
        params: nested dict group -> ... -> array, as it was saved.
        optimizers: dict group path -> ``(optimizer, state)``, rebuilt from the file.
        step: the ``step`` given to :func:`save_checkpoint`, or None.
        metadata: the ``metadata`` given to :func:`save_checkpoint` (JSON data), or None.
        ngc_optim_version: the version of ngc_optim that wrote the file.
    """

    def __init__(self, path, params, optimizers, step, metadata, ngc_optim_version):
        self.path = path
        self.params = params
        self.optimizers = optimizers
        self.step = step
        self.metadata = metadata
        self.ngc_optim_version = ngc_optim_version

    def __repr__(self):
        return (f"Checkpoint({str(self.path)!r}, step={self.step}, groups={sorted(self.params)}, "
                f"optimizers={sorted(self.optimizers)})")


def _version():
    from . import __version__

    return __version__


def _check_name(path, name):
    if not isinstance(name, str) or not name or "/" in name or name == ".":
        raise CheckpointError(f"{path}: {name!r} is not a valid entry name (a non-empty str without '/')")


def _join(group, name):
    return f"{group}/{name}" if group else name


def _flatten(path, tree, group=""):
    """(group path, name, array) for every array of the nested dict ``tree``."""
    for name, value in tree.items():
        _check_name(path, name)
        if isinstance(value, dict):
            yield from _flatten(path, value, _join(group, name))
        elif isinstance(value, np.ndarray):
            if name == OPTIMIZER_GROUP:
                raise CheckpointError(f"{path}: {_join(group, name)!r}: {OPTIMIZER_GROUP!r} is reserved "
                                      f"for optimizer state")
            if value.dtype.kind not in "biuf":
                raise CheckpointError(f"{path}: {_join(group, name)!r} has dtype {value.dtype}; "
                                      f"checkpoints hold bool, integer and float arrays")
            yield group, name, value
        else:
            raise CheckpointError(f"{path}: {_join(group, name)!r} is a {type(value).__name__}; "
                                  f"expected a numpy array or a dict of them")


def _nested_get(tree, group):
    for part in group.split("/") if group else ():
        tree = tree.get(part) if isinstance(tree, dict) else None
    return tree if isinstance(tree, dict) else None


def _chunks(array):
    """Chunks of whole rows, about _CHUNK_BYTES each, as even as the rows allow (little padding)."""
    rows = array.shape[0]
    count = -(-rows // max(1, _CHUNK_BYTES // max(1, array[0].nbytes)))
    return (-(-rows // count), *array.shape[1:])


def _write_array(group, name, array, compression):
    """One dataset; uncompressed chunks are checksummed here and written directly."""
    if array.size == 0 or array.ndim == 0:
        group.create_dataset(name, data=array)
        return
    chunks = _chunks(array)
    if compression is not None:
        group.create_dataset(name, data=np.ascontiguousarray(array), chunks=chunks, fletcher32=True,
                             **_COMPRESSION[compression])
        return
    dataset = group.create_dataset(name, shape=array.shape, dtype=array.dtype, chunks=chunks, fletcher32=True)
    buffer = np.zeros(math.prod(chunks) * array.dtype.itemsize + 4, np.uint8)
    body = buffer[:-4].view(array.dtype).reshape(chunks)
    rows = chunks[0]
    for start in range(0, array.shape[0], rows):
        part = array[start:start + rows]
        body[:len(part)] = part
        body[len(part):] = 0
        buffer[-4:] = np.frombuffer(fletcher32(buffer[:-4]).to_bytes(4, "little"), np.uint8)
        dataset.id.write_direct_chunk((start,) + (0,) * (array.ndim - 1), buffer)


def _directly_readable(dataset):
    """Whether ``dataset`` is laid out as :func:`_write_array` writes uncompressed arrays."""
    return (dataset.chunks is not None and dataset.fletcher32 and dataset.compression is None
            and not dataset.shuffle and dataset.scaleoffset is None
            and dataset.chunks[1:] == dataset.shape[1:] and dataset.id.get_create_plist().get_nfilters() == 1)


def _read_direct(path, dataset):
    """Read chunk by chunk straight into the result, verifying each checksum with the fast kernel.

    A chunk's bytes land at their place in the result; its 4 checksum bytes spill
    into the start of the next chunk's place (they are taken before the next read
    overwrites them). The last chunk, which may be padded, goes through a scratch
    buffer. A worker thread verifies chunk k (the kernel releases the GIL) while
    this thread reads chunk k + 1.
    """
    out = np.empty(dataset.shape, dataset.dtype)
    flat = out.reshape(-1).view(np.uint8)
    rows = dataset.chunks[0]
    size = math.prod(dataset.chunks) * dataset.dtype.itemsize
    scratch = np.empty(size + 4, np.uint8)
    checks = []
    with ThreadPoolExecutor(max_workers=1) as verifier:
        for start in range(0, dataset.shape[0], rows):
            offset = start * (size // rows)
            last = offset + size + 4 > flat.size
            target = scratch if last else flat[offset:offset + size + 4]
            mask, read = dataset.id.read_direct_chunk((start,) + (0,) * (dataset.ndim - 1), out=target)
            stored = int.from_bytes(target[size:size + 4].tobytes(), "little")
            valid = mask == 0 and len(read) == size + 4
            checks.append((start, valid, stored, verifier.submit(fletcher32, target[:size])))
            if last:
                flat[offset:] = scratch[:flat.size - offset]
        for start, valid, stored, checksum in checks:
            if not valid or checksum.result() != stored:
                raise CheckpointError(f"{path}: dataset {dataset.name}: chunk at row {start} fails its "
                                      f"checksum (damaged file)")
    return out


def _json(path, what, value):
    try:
        return json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as error:
        raise CheckpointError(f"{path}: {what} is not JSON data: {error}") from None


def _check_optimizers(path, params, optimizers):
    for group, entry in optimizers.items():
        if not isinstance(entry, tuple) or len(entry) != 2 or not isinstance(entry[0], Optimizer) \
                or not isinstance(entry[1], OptimizerState):
            raise CheckpointError(f"{path}: optimizers[{group!r}] must be an (optimizer, state) pair")
        optimizer, state = entry
        if type(state) is not optimizer.State:
            raise CheckpointError(f"{path}: optimizers[{group!r}]: a {type(state).__name__} "
                                  f"is not the state of {optimizer.name}")
        arrays = _nested_get(params, group)
        if arrays is None:
            raise CheckpointError(f"{path}: optimizers[{group!r}] has no parameter group {group!r}")
        for name, shape in state.shapes.items():
            if not isinstance(arrays.get(name), np.ndarray) or arrays[name].shape != shape:
                raise CheckpointError(f"{path}: optimizers[{group!r}] covers {name!r} {shape}, "
                                      f"which params[{group!r}] does not hold with that shape")


def save_checkpoint(path, params, optimizers=None, *, step=None, metadata=None, compression=None):
    """Write ``params`` and optimizer state to the HDF5 file ``path``, atomically.

    Args:
        path: destination file; replaced as a whole only once the new file is complete.
        params: nested dict of name -> numpy array (bool, int or float); each dict
            level is an HDF5 group (e.g. ``{"W1": {"weights": W, "biases": b}}``).
        optimizers: dict group path -> ``(optimizer, state)``; the state's
            parameters must be arrays of that group of ``params`` (``""`` is the top).
        step: an optional int, e.g. the training step or epoch.
        metadata: optional JSON data stored with the checkpoint (e.g. a config).
        compression: None (default), "gzip" or "lzf".

    Raises:
        CheckpointError: invalid names, arrays, optimizers, step or metadata; the
            destination is left as it was.
    """
    path = Path(path)
    optimizers = optimizers or {}
    if compression not in _COMPRESSION:
        raise CheckpointError(f"{path}: compression={compression!r}; expected None, 'gzip' or 'lzf'")
    if step is not None and (isinstance(step, bool) or not isinstance(step, (int, np.integer)) or step < 0):
        raise CheckpointError(f"{path}: step={step!r} is not a non-negative integer")
    entries = list(_flatten(path, params))
    _check_optimizers(path, params, optimizers)
    metadata_json = _json(path, "metadata", metadata)
    hyperparameters = {group: _json(path, f"optimizers[{group!r}] hyperparameters",
                                    optimizer.get_hyperparameters())
                       for group, (optimizer, _) in optimizers.items()}
    directory = path.parent
    if not directory.is_dir():
        raise CheckpointError(f"{path}: directory {str(directory)!r} does not exist")
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(handle, "r+b") as stream:
            with h5py.File(stream, "w", libver=("v108", "latest")) as file:
                file.attrs["format"] = FORMAT
                file.attrs["format_version"] = FORMAT_VERSION
                file.attrs["ngc_optim_version"] = _version()
                file.attrs["metadata"] = metadata_json
                if step is not None:
                    file.attrs["step"] = int(step)
                for group, name, array in entries:
                    _write_array(file.require_group(group) if group else file, name, array, compression)
                for group, (optimizer, state) in optimizers.items():
                    node = file.require_group(_join(group, OPTIMIZER_GROUP))
                    node.attrs["optimizer"] = optimizer.name
                    node.attrs["hyperparameters"] = hyperparameters[group]
                    node.attrs["count"] = int(state.count)
                    node.attrs["param_names"] = json.dumps(list(state.param_names))
                    data = state.state_dict()
                    dtypes = {str(a.dtype) for slot in state.slot_names for a in data[slot].values()}
                    node.attrs["dtype"] = dtypes.pop() if len(dtypes) == 1 else ""
                    for slot in state.slot_names:
                        slot_group = node.create_group(slot)
                        for name, array in data[slot].items():
                            _write_array(slot_group, name, array, compression)
            stream.flush()
            os.chmod(temporary, _file_mode(path))
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    _fsync_directory(directory)


def _file_mode(path):
    """The mode of the checkpoint being replaced, or the one ``open`` would give a new file."""
    try:
        return path.stat().st_mode & 0o777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def _fsync_directory(directory):
    try:
        descriptor = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


def _attribute(path, node, key, kind):
    try:
        value = node.attrs[key]
    except KeyError:
        raise CheckpointError(f"{path}: {node.name} has no attribute {key!r}") from None
    except OSError as error:
        raise CheckpointError(f"{path}: attribute {key!r} of {node.name} cannot be read: {error}") from None
    if kind is str and isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if kind is int and isinstance(value, np.integer):
        value = int(value)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise CheckpointError(f"{path}: attribute {key!r} of {node.name} is {value!r}; expected {kind.__name__}")
    return value


def _json_attribute(path, node, key):
    text = _attribute(path, node, key, str)
    try:
        return json.loads(text)
    except ValueError:
        raise CheckpointError(f"{path}: attribute {key!r} of {node.name} is not valid JSON") from None


def _read_dataset(path, dataset):
    try:
        if _directly_readable(dataset):
            return _read_direct(path, dataset)
        return np.asarray(dataset[()])
    except (OSError, ValueError, TypeError) as error:
        raise CheckpointError(f"{path}: dataset {dataset.name} cannot be read (damaged file?): {error}") from None


def _read_group(path, group, optimizer_nodes):
    tree = {}
    try:
        items = list(group.items())
    except (OSError, KeyError, ValueError, RuntimeError) as error:
        raise CheckpointError(f"{path}: group {group.name} cannot be read (damaged file?): {error}") from None
    for name, node in items:
        if isinstance(node, h5py.Group):
            if name == OPTIMIZER_GROUP:
                optimizer_nodes[group.name.strip("/")] = node
            else:
                tree[name] = _read_group(path, node, optimizer_nodes)
        elif isinstance(node, h5py.Dataset):
            tree[name] = _read_dataset(path, node)
        else:
            raise CheckpointError(f"{path}: {group.name}/{name} is neither a group nor a dataset")
    return tree


def _read_optimizer(path, group, node, params):
    where = f"{path}: optimizer of group {group!r}"
    name = _attribute(path, node, "optimizer", str)
    if name not in OPTIMIZERS:
        raise CheckpointError(f"{where}: unknown optimizer {name!r}")
    hyperparameters = _json_attribute(path, node, "hyperparameters")
    if not isinstance(hyperparameters, dict):
        raise CheckpointError(f"{where}: hyperparameters are not a JSON object")
    try:
        optimizer = OPTIMIZERS[name](**hyperparameters)
    except (TypeError, ValueError) as error:
        raise CheckpointError(f"{where}: invalid hyperparameters: {error}") from None
    count = _attribute(path, node, "count", int)
    if count < 0:
        raise CheckpointError(f"{where}: count={count} is negative")
    param_names = _json_attribute(path, node, "param_names")
    arrays = _nested_get(params, group) or {}
    if not isinstance(param_names, list) or not all(isinstance(n, str) and isinstance(arrays.get(n), np.ndarray)
                                                   for n in param_names):
        raise CheckpointError(f"{where}: param_names {param_names!r} do not name arrays of the group")
    shapes = {n: arrays[n].shape for n in param_names}
    slots = {}
    for slot in optimizer.State.slot_names:
        if slot not in node or not isinstance(node[slot], h5py.Group):
            raise CheckpointError(f"{where}: missing state {slot!r}")
        slots[slot] = _read_group(path, node[slot], {})
        if set(slots[slot]) != set(param_names) or any(isinstance(a, dict) for a in slots[slot].values()):
            raise CheckpointError(f"{where}: state {slot} holds {sorted(slots[slot])}; "
                                  f"expected {sorted(param_names)}")
        for n, array in slots[slot].items():
            if array.shape != shapes[n] or array.dtype.kind != "f":
                raise CheckpointError(f"{where}: state {slot}[{n!r}] is {array.dtype}{list(array.shape)}; "
                                      f"the parameter is {arrays[n].dtype}{list(shapes[n])}")
    unexpected = sorted(set(node) - set(optimizer.State.slot_names))
    if unexpected:
        raise CheckpointError(f"{where}: unexpected state {unexpected} for {name}")
    return optimizer, optimizer.State(shapes, count, slots)


def load_checkpoint(path):
    """Read a checkpoint written by :func:`save_checkpoint` into new objects.

    Returns:
        A :class:`Checkpoint` with the parameters, the optimizers (rebuilt from
        their stored names and hyperparameters) with their states, step and metadata.

    Raises:
        CheckpointError: the file is missing, is not such a checkpoint, has a newer
            format version, or is damaged (a checksum or structure error).
    """
    path = Path(path)
    try:
        file = h5py.File(path, "r")
    except FileNotFoundError:
        raise CheckpointError(f"{path}: no such file") from None
    except OSError as error:
        raise CheckpointError(f"{path}: not a readable HDF5 file (damaged or truncated?): {error}") from None
    try:
        with file:
            return _read_checkpoint(path, file)
    except CheckpointError:
        raise
    except (OSError, RuntimeError, KeyError, ValueError, TypeError, AttributeError) as error:
        raise CheckpointError(f"{path}: damaged file, cannot be read: {type(error).__name__}: {error}") from None


def _read_checkpoint(path, file):
    if _attribute(path, file, "format", str) != FORMAT:
        raise CheckpointError(f"{path}: not an {FORMAT} file")
    version = _attribute(path, file, "format_version", int)
    if version > FORMAT_VERSION:
        raise CheckpointError(f"{path}: format version {version} is newer than this ngc_optim "
                              f"reads ({FORMAT_VERSION}); upgrade ngc-optim")
    written_by = _attribute(path, file, "ngc_optim_version", str)
    metadata = _json_attribute(path, file, "metadata")
    step = _attribute(path, file, "step", int) if "step" in file.attrs else None
    optimizer_nodes = {}
    params = _read_group(path, file, optimizer_nodes)
    optimizers = {group: _read_optimizer(path, group, node, params)
                  for group, node in optimizer_nodes.items()}
    return Checkpoint(path, params, optimizers, step, metadata, written_by)


def _converted(path, what, source, target, cast):
    if source.shape != target.shape:
        raise CheckpointError(f"{path}: {what} has shape {source.shape} in the file, {target.shape} here")
    if source.dtype == target.dtype:
        return source
    if cast and source.dtype.kind == target.dtype.kind == "f":
        return source.astype(target.dtype)
    hint = " (pass cast=True to convert between float32 and float64)" if source.dtype.kind == "f" else ""
    raise CheckpointError(f"{path}: {what} is {source.dtype} in the file, {target.dtype} here{hint}")


def restore_checkpoint(path, params, optimizers=None, *, cast=False):
    """Copy a checkpoint into existing parameter arrays and optimizer states, strictly.

    The file must hold exactly the names of ``params`` (nested as saved) and of
    ``optimizers``, with the same shapes and dtypes, optimizer types and
    hyperparameters. Everything is read and checked first; on any error nothing
    in ``params`` or the states is changed.

    Args:
        path: a file written by :func:`save_checkpoint`.
        params: nested dict of writable arrays to fill in place.
        optimizers: dict group path -> ``(optimizer, state)`` to fill in place.
        cast: False (default) refuses a float32 file for float64 arrays and the
            reverse; True converts explicitly (float64 -> float32 rounds).

    Returns:
        The :class:`Checkpoint` read (for its step and metadata).

    Raises:
        CheckpointError: anything that does not match, named with the file and entry.
    """
    checkpoint = load_checkpoint(path)
    path = checkpoint.path
    optimizers = optimizers or {}
    targets = {(group, name): array for group, name, array in _flatten(path, params)}
    sources = {(group, name): array for group, name, array in _flatten(path, checkpoint.params)}
    missing = sorted(_join(*key) for key in targets.keys() - sources.keys())
    unexpected = sorted(_join(*key) for key in sources.keys() - targets.keys())
    if missing or unexpected:
        raise CheckpointError(f"{path}: parameters do not match: missing in the file {missing}, "
                              f"unexpected in the file {unexpected}")
    copies = []
    for key, target in targets.items():
        if not target.flags.writeable:
            raise CheckpointError(f"{path}: {_join(*key)!r} is read-only here")
        copies.append((target, _converted(path, repr(_join(*key)), sources[key], target, cast)))
    missing = sorted(optimizers.keys() - checkpoint.optimizers.keys())
    unexpected = sorted(checkpoint.optimizers.keys() - optimizers.keys())
    if missing or unexpected:
        raise CheckpointError(f"{path}: optimizers do not match: missing in the file {missing}, "
                              f"unexpected in the file {unexpected}")
    loads = []
    for group, (optimizer, state) in optimizers.items():
        stored, stored_state = checkpoint.optimizers[group]
        where = f"optimizer of group {group!r}"
        if type(stored) is not type(optimizer) or type(state) is not optimizer.State:
            raise CheckpointError(f"{path}: {where} is {stored.name} in the file, {optimizer.name} here")
        ours, theirs = optimizer.get_hyperparameters(), stored.get_hyperparameters()
        differing = sorted(key for key in ours if ours[key] != theirs[key])
        if differing:
            raise CheckpointError(f"{path}: {where}: hyperparameters differ: "
                                  + ", ".join(f"{k}={theirs[k]!r} in the file, {ours[k]!r} here" for k in differing))
        if state.shapes != stored_state.shapes:
            raise CheckpointError(f"{path}: {where} covers {stored_state.shapes} in the file, {state.shapes} here")
        data = stored_state.state_dict()
        own = state.state_dict()
        for slot in state.slot_names:
            data[slot] = {name: _converted(path, f"{where} {slot}[{name!r}]", array, own[slot][name], cast)
                          for name, array in data[slot].items()}
        loads.append((state, data, where))
    for target, source in copies:
        np.copyto(target, source)
    for state, data, where in loads:
        state.load_state_dict(data, what=f"{path}: {where}")
    return checkpoint
