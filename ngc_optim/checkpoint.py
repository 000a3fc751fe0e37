"""HDF5 checkpoints of parameters and optimizer state, written atomically, verified, restored strictly.

The format (``ngc-optim-checkpoint``, version 2) is plain HDF5, readable with
h5py or ``h5dump`` without ngc_optim installed; see docs/checkpoint-format.md.
In short::

    /                               attrs: format, format_version, ngc_optim_version,
                                           step (if given), metadata (JSON), digest
    /<group>/.../<name>             one dataset per array (nested dicts are groups), attr digest
    /<group>/optimizer              attrs: optimizer, hyperparameters (JSON), count,
                                           dtype, param_names (JSON)
    /<group>/optimizer/<slot>/<name>  one dataset per state array (g1, g2, phi, ...), attr digest

Each dataset's ``digest`` is the XXH3-128 hash of its bytes; the root's
``digest`` is the XXH3-128 hash of a canonical listing of every group and
dataset (path, dtype, shape) and every attribute value in the file, the
datasets' digests included. Uncompressed arrays are contiguous datasets whose
bytes ngc_optim writes and reads itself, hashing each 1 MiB block as it passes. Loading verifies both before anything is returned,
so a damaged byte anywhere that decides what is loaded (data, attributes,
structure) raises :class:`CheckpointError`, wherever HDF5's own checksums do not
reach. The file uses the HDF5 1.10 format, whose object headers, chunk indexes
and superblock carry HDF5's checksums too. No pickle is used. Format 1 files
(fletcher32 chunk checksums, no digests) still load.

Saving writes to a temporary file in the destination's directory, flushes and
fsyncs it, and renames it over the destination, so a reader (or a crash) sees the
old checkpoint or the new one, never a mixture. The disk is asked to start writing
each 4 MiB of an array as soon as it is written, so the fsync finds most of it written. The old
checkpoint first gets a second, hidden name (``.<name>.<16 hex digits>.old``), so the
rename only drops a link, and a thread unlinks the hidden name after the save returns:
freeing the old file's blocks (40-50 ms for 192 MB here) is no longer part of the save.
The next save of the same checkpoint removes any hidden name a crash left. Loading reads and checks the
whole file before anything is returned or copied: any problem raises
:class:`CheckpointError` naming the file and the entry, and leaves the objects
being restored untouched.
"""

import json
import os
import re
import stat
import tempfile
import threading
from pathlib import Path

import h5py
import numpy as np
import xxhash

from .optim import OPTIMIZERS, Optimizer, OptimizerState

__all__ = ["FORMAT", "FORMAT_VERSION", "Checkpoint", "CheckpointError", "array_digest", "load_checkpoint",
           "restore_checkpoint", "save_checkpoint"]

FORMAT = "ngc-optim-checkpoint"
FORMAT_VERSION = 2
READABLE_VERSIONS = (1, 2)
"""Format versions :func:`load_checkpoint` reads (1: fletcher32 chunks only; 2: digests of everything)."""
OPTIMIZER_GROUP = "optimizer"
DIGEST = "digest"
"""The attribute holding a digest: of a dataset's bytes on each dataset, of the whole file's listing on the root."""
LIBVER = ("v110", "v110")
"""HDF5 file format 1.10: checksummed object headers, superblock and chunk indexes (fixed and extensible
arrays, version 2 B-trees), readable by every HDF5 from 1.10 (2018) on, h5py 2.8+ and h5dump included."""
_CHUNK_BYTES = 4 * 2**20
_FLUSH_BYTES = 4 * 2**20
"""A save starts the disk writing after each this many bytes of an array (see _start_writeback).
Saving the 192 MB Adam checkpoint took 1.16-1.21x as long as np.save with 4 MiB, 1.22-1.34x with 16 MiB
(medians of 10-20 rounds, five runs) and 1.61x with 64 MiB: smaller ranges leave less for the final fsync."""
_BLOCK_BYTES = 2**20
"""Arrays are written, read and hashed in blocks of this size (which stay in the 1 MiB L2 cache per core
measured here; 1 MiB blocks read and hashed 192 MB in 57 ms, reading alone through HDF5 took 55 ms and
reading then hashing 75 ms)."""
_COMPRESSION = {None: {}, "gzip": {"compression": "gzip", "compression_opts": 4}, "lzf": {"compression": "lzf"}}


def array_digest(array):
    """The XXH3-128 hash (32 hex digits) of the bytes of ``array`` in C order, as a dataset's ``digest``.

    XXH3 (the ``xxhash`` package) hashes 15 GB/s on one core, 8-12 times as fast as hashlib's sha256 and
    blake2b here, which would have made verifying a 192 MB checkpoint take 3-6 times as long as reading it.
    It detects damage, not tampering (it is not a cryptographic hash).
    """
    return xxhash.xxh3_128_hexdigest(np.ascontiguousarray(array).reshape(-1).view(np.uint8))


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

    def restore(self, params, optimizers=None, *, cast=False):
        """Copy what was read into existing arrays and optimizer states, strictly (see :func:`restore_checkpoint`).

        Raises:
            CheckpointError: anything that does not match, named with the file and entry; nothing is changed.
        """
        path = self.path
        optimizers = optimizers or {}
        targets = {(group, name): array for group, name, array in _flatten(path, params)}
        sources = {(group, name): array for group, name, array in _flatten(path, self.params)}
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
        missing = sorted(optimizers.keys() - self.optimizers.keys())
        unexpected = sorted(self.optimizers.keys() - optimizers.keys())
        if missing or unexpected:
            raise CheckpointError(f"{path}: optimizers do not match: missing in the file {missing}, "
                                  f"unexpected in the file {unexpected}")
        loads = []
        for group, (optimizer, state) in optimizers.items():
            stored, stored_state = self.optimizers[group]
            where = f"optimizer of group {group!r}"
            if type(stored) is not type(optimizer) or type(state) is not optimizer.State:
                raise CheckpointError(f"{path}: {where} is {stored.name} in the file, {optimizer.name} here")
            ours, theirs = optimizer.get_hyperparameters(), stored.get_hyperparameters()
            differing = sorted(key for key in ours if ours[key] != theirs[key])
            if differing:
                raise CheckpointError(f"{path}: {where}: hyperparameters differ: " + ", ".join(
                    f"{k}={theirs[k]!r} in the file, {ours[k]!r} here" for k in differing))
            if state.shapes != stored_state.shapes:
                raise CheckpointError(f"{path}: {where} covers {stored_state.shapes} in the file, "
                                      f"{state.shapes} here")
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


def _write_array(group, name, array, compression, raw):
    """One dataset, and its digest.

    Non-empty arrays of at least one dimension are contiguous unless compressed: HDF5 allocates their space
    and ``raw`` (the file, open for writing) writes their bytes there block by block, each block hashed while
    it is in the cache. Compression needs chunks (and HDF5's filters); 0-d and empty arrays go through HDF5.
    """
    if array.size == 0 or array.ndim == 0:
        return group.create_dataset(name, data=array), array_digest(array)
    if compression is not None:
        contiguous = np.ascontiguousarray(array)
        return group.create_dataset(name, data=contiguous, chunks=_chunks(array), fletcher32=True,
                                    **_COMPRESSION[compression]), array_digest(contiguous)
    layout = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
    layout.set_alloc_time(h5py.h5d.ALLOC_TIME_EARLY)
    layout.set_fill_time(h5py.h5d.FILL_TIME_NEVER)
    dataset = group.create_dataset(name, shape=array.shape, dtype=array.dtype, dcpl=layout)
    offset = dataset.id.get_offset()
    if offset is None:
        dataset[...] = array
        return dataset, array_digest(array)
    return dataset, _transfer(raw, offset, np.ascontiguousarray(array), write=True)


def _transfer(raw, offset, array, write):
    """Write the bytes of the contiguous ``array`` to the file ``raw`` at ``offset`` (or read them into it),
    in blocks of _BLOCK_BYTES, hashing each block while it is in the cache; returns the digest (as
    :func:`array_digest`), or None if the file ends before the array does. Writing, the disk is asked to
    start writing each _FLUSH_BYTES written (see _start_writeback)."""
    view = memoryview(array.reshape(-1).view(np.uint8))
    digest = xxhash.xxh3_128()
    raw.seek(offset)
    flushed = 0
    for start in range(0, len(view), _BLOCK_BYTES):
        block = view[start:start + _BLOCK_BYTES]
        done = 0
        while done < len(block):
            count = raw.write(block[done:]) if write else raw.readinto(block[done:])
            if not count:
                return None
            done += count
        digest.update(block)
        end = start + len(block)
        if write and (end - flushed >= _FLUSH_BYTES or end == len(view)):
            _start_writeback(raw, offset + flushed, end - flushed)
            flushed = end
    return digest.hexdigest()


def _start_writeback(raw, offset, length):
    """Start writing ``length`` bytes of ``raw`` from ``offset`` to the disk without waiting, so that the
    final fsync finds them written: Linux's POSIX_FADV_DONTNEED starts the writeback of the range's dirty
    pages (and drops none of them while they are written). Writing 192 MB and fsyncing it took 0.26 s
    with one fsync at the end, 0.17 s so, as long as writing it without any fsync."""
    if hasattr(os, "posix_fadvise"):
        os.posix_fadvise(raw.fileno(), offset, length, os.POSIX_FADV_DONTNEED)


def _plain_attribute(path, node, key, fixed, attrs=None):
    """The attribute ``key`` of ``node`` as a str or int (the kinds a checkpoint holds); ``attrs``: the node's
    ``attrs`` if at hand.

    ``fixed`` (format 2) refuses a variable-length value without reading it: format 2 stores none, and HDF5
    reads them from its global heap, which has no checksum, and on which one damaged length field made HDF5
    loop forever.
    """
    attrs = node.attrs if attrs is None else attrs
    if key not in attrs:
        raise CheckpointError(f"{path}: {node.name} has no attribute {key!r}")
    try:
        if fixed:
            attribute = attrs.get_id(key)
            if attribute.dtype.kind == "O":
                raise CheckpointError(f"{path}: attribute {key!r} of {node.name} has a variable-length type, "
                                      f"which format 2 never writes (damaged file)")
            value = np.empty(attribute.shape, attribute.dtype)
            attribute.read(value)
            value = value[()]
        else:
            value = attrs[key]
    except (OSError, KeyError, ValueError, TypeError) as error:
        raise CheckpointError(f"{path}: attribute {key!r} of {node.name} cannot be read: {error}") from None
    if isinstance(value, bytes):
        try:
            value = value.decode("utf-8")
        except UnicodeDecodeError:
            raise CheckpointError(f"{path}: attribute {key!r} of {node.name} is not UTF-8 text") from None
    if isinstance(value, np.integer) and not isinstance(value, np.bool_):
        return int(value)
    if isinstance(value, str):
        return value
    raise CheckpointError(f"{path}: attribute {key!r} of {node.name} is a {type(value).__name__}; "
                          f"expected a string or an integer")


def _set_text(node, key, text):
    """Store ``text`` as a fixed-length UTF-8 string attribute (in the checksummed object header, or in the
    checksummed dense attribute storage when large), never in HDF5's global heap."""
    encoded = text.encode("utf-8")
    node.attrs.create(key, data=np.bytes_(encoded), dtype=h5py.string_dtype("utf-8", max(1, len(encoded))))


def _listing(path, file):
    """(digest of the file's listing, {path: {attribute: value}}): the listing holds every group and dataset
    (path, dtype, shape) with its attributes, found as the reader finds them (following the links of each
    group from the root); the root's own digest is left out of the listing, not of the values."""
    listing, values = [], {}

    def attributes(name, node):
        attrs = node.attrs
        values[name] = {key: _plain_attribute(path, node, key, True, attrs) for key in attrs}
        return {key: value for key, value in values[name].items() if not (name == "/" and key == DIGEST)}

    def walk(name, group):
        listing.append([name, "group", attributes(name, group)])
        for child, node in group.items():
            child_name = f"{name.rstrip('/')}/{child}"
            if isinstance(node, h5py.Group):
                walk(child_name, node)
            elif isinstance(node, h5py.Dataset):
                listing.append([child_name, "dataset", node.dtype.str, list(node.shape), attributes(child_name, node)])
            else:
                raise CheckpointError(f"{path}: {child_name} is neither a group nor a dataset")

    walk("/", file)
    text = json.dumps(sorted(listing), sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return xxhash.xxh3_128_hexdigest(text.encode("ascii")), values


def _json(path, what, value):
    try:
        return json.dumps(value, allow_nan=False)
    except (TypeError, ValueError, RecursionError) as error:
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
    """Write ``params`` and optimizer state to the HDF5 file ``path`` (format 2), atomically.

    Each array is stored with the digest of its bytes, and the file with the digest of its listing
    (docs/checkpoint-format.md), which :func:`load_checkpoint` verifies.

    Args:
        path: destination file; replaced as a whole only once the new file is complete.
        params: nested dict of name -> numpy array (bool, int or float); each dict
            level is an HDF5 group (e.g. ``{"W1": {"weights": W, "biases": b}}``).
        optimizers: dict group path -> ``(optimizer, state)``; the state's
            parameters must be arrays of that group of ``params`` (``""`` is the top).
        step: an optional int, e.g. the training step or epoch.
        metadata: optional JSON data stored with the checkpoint (e.g. a config).
        compression: None (default), "gzip" or "lzf".

    The file is written to a temporary name, fsynced and renamed over ``path`` (then the directory is
    fsynced): a crash leaves the old checkpoint or the new one. The old one is unlinked by a thread after
    this returns (the interpreter waits for it at exit), under a hidden name next to ``path``.

    Raises:
        CheckpointError: invalid names, arrays, optimizers, step or metadata; the
            destination is left as it was.
        OSError: the file cannot be written or renamed; the destination is left as it was.
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
    retired = None
    try:
        with open(handle, "r+b", buffering=0) as raw:
            with h5py.File(temporary, "w", libver=LIBVER) as file:
                _write_file(file, entries, optimizers, hyperparameters, metadata_json, step, compression, raw)
            os.chmod(temporary, _file_mode(path))
            os.fsync(raw.fileno())
        retired = _retire(path)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        if retired is not None:
            retired.unlink(missing_ok=True)
        raise
    _fsync_directory(directory)
    _remove_in_background(_retired_names(path))


def _write_file(file, entries, optimizers, hyperparameters, metadata_json, step, compression, raw):
    """Everything :func:`save_checkpoint` writes into the open ``file`` (``raw``: the same file, for the
    arrays' bytes)."""
    written = []

    def write(group, name, array):
        written.append(_write_array(group, name, array, compression, raw))

    _set_text(file, "format", FORMAT)
    file.attrs["format_version"] = FORMAT_VERSION
    _set_text(file, "ngc_optim_version", _version())
    _set_text(file, "metadata", metadata_json)
    if step is not None:
        file.attrs["step"] = int(step)
    for group, name, array in entries:
        write(file.require_group(group) if group else file, name, array)
    for group, (optimizer, state) in optimizers.items():
        node = file.require_group(_join(group, OPTIMIZER_GROUP))
        _set_text(node, "optimizer", optimizer.name)
        _set_text(node, "hyperparameters", hyperparameters[group])
        node.attrs["count"] = int(state.count)
        _set_text(node, "param_names", json.dumps(list(state.param_names)))
        data = state.state_dict()
        dtypes = {str(a.dtype) for slot in state.slot_names for a in data[slot].values()}
        _set_text(node, "dtype", dtypes.pop() if len(dtypes) == 1 else "")
        for slot in state.slot_names:
            slot_group = node.create_group(slot)
            for name, array in data[slot].items():
                write(slot_group, name, array)
    for dataset, digest in written:
        _set_text(dataset, DIGEST, digest)
    _set_text(file, DIGEST, _listing(file.filename, file)[0])


_RETIRED = ".{name}.{tag}.old"
"""The hidden name :func:`_retire` gives the checkpoint being replaced, next to it (``tag``: 16 hex digits)."""
_removals = []
_removals_lock = threading.Lock()


def _retire(path):
    """Give the checkpoint at ``path`` a second, hidden name in its directory and return that name (None if
    there is no regular file at ``path`` or the file system refuses hard links).

    Replacing a file frees its blocks inside the rename, in the caller's time: 40-50 ms for a 192 MB
    checkpoint on ext4 here. With a second name the rename only drops a link, and the blocks are freed when
    :func:`_remove_in_background` unlinks the hidden name.
    """
    try:
        if not stat.S_ISREG(os.lstat(path).st_mode):
            return None
    except OSError:
        return None
    for _ in range(8):
        retired = path.with_name(_RETIRED.format(name=path.name, tag=os.urandom(8).hex()))
        try:
            os.link(path, retired, follow_symlinks=False)
        except FileExistsError:
            continue
        except OSError:
            return None
        return retired
    return None


def _retired_names(path):
    """Every hidden name :func:`_retire` gave a checkpoint at ``path``: the one just replaced, any that another save
    of it has not yet removed, and any a crash left behind."""
    before, after = (re.escape(part) for part in _RETIRED.split("{tag}"))
    pattern = re.compile(before.replace(re.escape("{name}"), re.escape(path.name)) + "[0-9a-f]{16}" + after + r"\Z")
    try:
        with os.scandir(path.parent) as entries:
            return [Path(entry.path) for entry in entries if pattern.match(entry.name)]
    except OSError:
        return []


def _remove_in_background(paths):
    """Unlink ``paths`` in a new thread, so that freeing their blocks does not hold up the caller.

    The thread is not a daemon: the interpreter waits for it before exiting. A name it cannot unlink (or
    one left by a process that died first) is found and removed by the next save of the same checkpoint.
    """
    if not paths:
        return
    thread = threading.Thread(target=_unlink_all, args=(paths,), name="ngc_optim checkpoint removal")
    with _removals_lock:
        _removals[:] = [running for running in _removals if running.is_alive()]
        _removals.append(thread)
    thread.start()


def _unlink_all(paths):
    for path in paths:
        try:
            os.unlink(path)
        except OSError:
            pass


def _finish_removals():
    """Wait until every old checkpoint handed to :func:`_remove_in_background` is removed (for tests and
    benchmarks, which time what follows a save)."""
    with _removals_lock:
        waiting = list(_removals)
    for thread in waiting:
        thread.join()


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


class _Attributes:
    """The attribute values the reader uses: for format 2 those its listing digest covered (read once, so the
    values verified are the values used), for format 1 read from the file as asked."""

    def __init__(self, path, values=None):
        self.path = path
        self.values = values

    def get(self, node, key, kind):
        """The attribute ``key`` of ``node``, which must be a ``kind`` (str or int)."""
        if self.values is None:
            value = _plain_attribute(self.path, node, key, fixed=False)
        elif key in self.values.get(node.name, {}):
            value = self.values[node.name][key]
        else:
            raise CheckpointError(f"{self.path}: {node.name} has no attribute {key!r}")
        if not isinstance(value, kind):
            raise CheckpointError(f"{self.path}: attribute {key!r} of {node.name} is {value!r}; expected "
                                  f"{kind.__name__}")
        return value

    def has(self, node, key):
        return key in node.attrs if self.values is None else key in self.values.get(node.name, {})

    def json(self, node, key):
        """The JSON data of the string attribute ``key`` of ``node``."""
        try:
            return json.loads(self.get(node, key, str))
        except (ValueError, RecursionError):
            raise CheckpointError(f"{self.path}: attribute {key!r} of {node.name} is not valid JSON") from None


class _DatasetReader:
    """Reads datasets; for format 2 it also checks each one's bytes against its ``digest`` attribute (call
    :meth:`verify` once all are read). A contiguous array's bytes are read from the file ``raw`` straight
    into the result, block by block, each block hashed while it is in the cache."""

    def __init__(self, path, version, raw, attributes):
        self.path = path
        self.digests = version >= 2
        self.raw = raw
        self.attributes = attributes
        self.mismatches = []

    def __call__(self, dataset):
        try:
            array, digest = self._read(dataset)
        except (OSError, ValueError, TypeError, MemoryError) as error:
            raise CheckpointError(f"{self.path}: dataset {dataset.name} cannot be read (damaged file?): "
                                  f"{error}") from None
        if self.digests and digest != self.attributes.get(dataset, DIGEST, str):
            self.mismatches.append(dataset.name)
        return array

    def _read(self, dataset):
        if not self.digests:
            return np.asarray(dataset[()]), None
        if dataset.chunks is not None or dataset.size == 0 or dataset.ndim == 0 or dataset.dtype.kind not in "biuf":
            array = np.asarray(dataset[()])
            return array, array_digest(array)
        stored, expected = dataset.id.get_storage_size(), dataset.size * dataset.dtype.itemsize
        offset = dataset.id.get_offset()
        if stored != expected or offset is None:
            raise CheckpointError(f"{self.path}: dataset {dataset.name} stores {stored} bytes for its "
                                  f"{dataset.dtype}{list(dataset.shape)} (damaged file)")
        array = np.empty(dataset.shape, dataset.dtype)
        digest = _transfer(self.raw, offset, array, write=False)
        if digest is None:
            raise CheckpointError(f"{self.path}: dataset {dataset.name} ends past the end of the file "
                                  f"(truncated file)")
        return array, digest

    def verify(self):
        """Raise CheckpointError naming the first dataset read whose bytes do not match its digest."""
        if self.mismatches:
            raise CheckpointError(f"{self.path}: dataset {self.mismatches[0]}: its contents do not match their "
                                  f"digest (damaged file)")


def _read_group(path, group, optimizer_nodes, read):
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
                tree[name] = _read_group(path, node, optimizer_nodes, read)
        elif isinstance(node, h5py.Dataset):
            tree[name] = read(node)
        else:
            raise CheckpointError(f"{path}: {group.name}/{name} is neither a group nor a dataset")
    return tree


def _read_optimizer(path, group, node, params, read):
    where = f"{path}: optimizer of group {group!r}"
    attributes = read.attributes
    name = attributes.get(node, "optimizer", str)
    if name not in OPTIMIZERS:
        raise CheckpointError(f"{where}: unknown optimizer {name!r}")
    hyperparameters = attributes.json(node, "hyperparameters")
    if not isinstance(hyperparameters, dict):
        raise CheckpointError(f"{where}: hyperparameters are not a JSON object")
    try:
        optimizer = OPTIMIZERS[name](**hyperparameters)
    except (TypeError, ValueError) as error:
        raise CheckpointError(f"{where}: invalid hyperparameters: {error}") from None
    count = attributes.get(node, "count", int)
    if count < 0:
        raise CheckpointError(f"{where}: count={count} is negative")
    param_names = attributes.json(node, "param_names")
    arrays = _nested_get(params, group) or {}
    if not isinstance(param_names, list) or not all(isinstance(n, str) and isinstance(arrays.get(n), np.ndarray)
                                                   for n in param_names):
        raise CheckpointError(f"{where}: param_names {param_names!r} do not name arrays of the group")
    shapes = {n: arrays[n].shape for n in param_names}
    slots = {}
    for slot in optimizer.State.slot_names:
        if slot not in node or not isinstance(node[slot], h5py.Group):
            raise CheckpointError(f"{where}: missing state {slot!r}")
        slots[slot] = _read_group(path, node[slot], {}, read)
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
            format version, or is damaged: a digest (format 2), checksum or structure error.
    """
    path = Path(path)
    if path.is_dir():
        raise CheckpointError(f"{path}: a directory, not a checkpoint file")
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
    except (OSError, RuntimeError, KeyError, ValueError, TypeError, AttributeError, MemoryError,
            OverflowError) as error:
        raise CheckpointError(f"{path}: damaged file, cannot be read: {type(error).__name__}: {error}") from None


def _identity(status):
    return status.st_dev, status.st_ino


def _read_checkpoint(path, file):
    if "format" not in file.attrs:
        raise CheckpointError(f"{path}: / has no attribute 'format' (not an {FORMAT} file)")
    version = _plain_attribute(path, file, "format_version", fixed=True)
    if not isinstance(version, int):
        raise CheckpointError(f"{path}: attribute 'format_version' of / is {version!r}; expected int")
    if _plain_attribute(path, file, "format", fixed=version >= 2) != FORMAT:
        raise CheckpointError(f"{path}: not an {FORMAT} file")
    if version > FORMAT_VERSION:
        raise CheckpointError(f"{path}: format version {version} is newer than this ngc_optim "
                              f"reads ({FORMAT_VERSION}); upgrade ngc-optim")
    if version not in READABLE_VERSIONS:
        raise CheckpointError(f"{path}: format version {version} is not one of {list(READABLE_VERSIONS)}")
    if version >= 2:
        digest, values = _listing(path, file)
        attributes = _Attributes(path, values)
        if digest != attributes.get(file, DIGEST, str):
            raise CheckpointError(f"{path}: its attributes or structure do not match its digest (damaged file)")
    elif DIGEST in file.attrs:
        raise CheckpointError(f"{path}: format version 1 with a digest (damaged file)")
    else:
        attributes = _Attributes(path)
    written_by = attributes.get(file, "ngc_optim_version", str)
    metadata = attributes.json(file, "metadata")
    step = attributes.get(file, "step", int) if attributes.has(file, "step") else None
    if file.userblock_size:
        raise CheckpointError(f"{path}: has a user block of {file.userblock_size} bytes, which checkpoints "
                              f"never have (damaged file)")
    optimizer_nodes = {}
    with open(path, "rb", buffering=0) as raw:
        if _identity(os.fstat(raw.fileno())) != _identity(os.fstat(file.id.get_vfd_handle())):
            raise CheckpointError(f"{path}: replaced while being read (by a save?); load it again")
        read = _DatasetReader(path, version, raw, attributes)
        params = _read_group(path, file, optimizer_nodes, read)
        optimizers = {group: _read_optimizer(path, group, node, params, read)
                      for group, node in optimizer_nodes.items()}
    read.verify()
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
    checkpoint.restore(params, optimizers, cast=cast)
    return checkpoint
