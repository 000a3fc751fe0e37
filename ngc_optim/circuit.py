"""Compiled circuits: a process of ngc_optim components run as one Numba function.

ngcsimlib compiles a process into Python: one call per component method per
step, each a few microseconds of dispatch around a Numba kernel. When every
method of a process has a compiled form (a :class:`Step` list, given by the
component's ``compiled_steps(method)``), the process runs here instead: the
steps' kernels are called from one generated ``@njit`` function whose locals
are the compartments' values, with the loop over a scan's rows and the copies
of the watched compartments inside it. Results are the per-call path's, bit for
bit: the kernels are the ones the component methods call, in the same order,
reading and writing the same compartments (ngcsimlib's wiring: a compartment
wired from another reads and writes that one's value; a Summation or Product
of compartments is computed where it is read, as ngcsimlib does).

Each step is ``outputs = kernel(*reads, *keywords, *constants, *bound)``:

* ``reads``: compartments of the component, by attribute name (a dotted name, ``Wl.outputs``, reaches a
  compartment of a component the component holds);
* ``keywords``: the process's keywords (``dt``, ``t``), from the row of the step;
* ``constants``: fixed values (numbers, tuples of numbers, arrays the component holds);
* ``bound``: values taken from the state at each call (an optimizer's count and
  slots, arrays to write new weights into; see :class:`Binding`);
* ``writes``: the compartments set from the returned value (one name) or values
  (several names, a tuple returned; None drops a value).

When every step computes each row of the batch on its own (``Step.rows``), the
batch is split into blocks of rows (at multiples of ROW_TILE rows, so that the
products give the whole batch's bits) that run on ngc_optim's threads, the
compiled code releasing the GIL; what is computed on the whole batch (an error
cell's L) is computed once after the loop, from the last values (see
``Circuit._find_split`` for when that gives the last step's bits).

The generated source names the kernels and the wiring only (constants are
arguments), so circuits of the same structure share it. It is written once to
``<cache>/circuits/circuit_<digest>.py`` (the digest covers the source and the
source files of every kernel it calls, since Numba's cache does not see changes
to inlined callees) and imported from there, so that Numba's on-disk cache
(``cache=True``) keeps the compiled function: a known circuit starts warm.
``<cache>`` is ``NGC_OPTIM_CACHE_DIR``, else ``$XDG_CACHE_HOME/ngc_optim``, else
``~/.cache/ngc_optim``. With ``NGC_OPTIM_CACHE=0`` nothing is written.
"""

import hashlib
import importlib.util
import inspect
import operator
import os
import re
import sys
import tempfile
from collections.abc import Callable
from typing import NamedTuple

import numba
import numpy as np
from ngcsimlib.global_state import stateManager
from ngcsimlib.operations import BaseOp, Product, Summation

from . import config, threads
from .cell_kernels import block_start, put_rows, put_step

__all__ = ["Binding", "Circuit", "CircuitUnavailable", "ShapeMismatch", "Step", "cache_directory", "held_steps",
           "shapes_changed", "shapes_generation"]

_OPERATORS = {Summation: " + ", Product: " * "}


class Binding(NamedTuple):
    """Values a step takes from the state at each call instead of from compartments.

    ``take(state)`` returns ``(args, finish)``: the arguments passed after the
    step's constants (a counter, an optimizer's slots, arrays to write new
    values into) and a function called with no arguments after the compiled call
    (to copy a counter back, say), which returns the state values it replaced
    ({key: new value}: an optimizer's new state), set with the written
    compartments.
    """

    take: Callable
    deferred: tuple = ()
    """Written compartments (attributes of the step's ``writes``) the step can leave for ``finish`` to write:
    when no step of the circuit reads them and none is watched, ``take(state, True)`` is called instead, and
    the values the compiled call returns for them are complete only after ``finish`` (a trace-STDP synapse's
    dW: see hebbian_kernels.stdp_sgd_events)."""


class Step(NamedTuple):
    """One call of a component method's compiled form (see the module)."""

    kernel: Callable
    reads: tuple
    writes: tuple
    keywords: tuple = ()
    constants: tuple = ()
    binding: Binding = None
    rows: tuple = ()
    """Compartments (reads and writes) of one row per sample of the batch, for a step that computes each row
    on its own: on a block of the rows it gives those rows of the whole batch's result, bit for bit (every
    write must be one). A circuit of such steps can run each block of rows on its own core."""
    carry: tuple = ()
    """(start, carried): when the step's first read is written by this step alone in the circuit, a scan runs
    it as ``carried(*reads, scratch, *keywords, *constants)``, with ``scratch = start(first read, *constants)``
    computed once before the loop: what the kernel keeps from one row for the next (a rate cell's fx'(z')),
    updated in place; the same bits as ``kernel``."""


_generation = [0]


def shapes_changed():
    """Tell every circuit that compartments changed shape (a component was resized): each is built again
    before its next call (:attr:`Circuit.stale`)."""
    _generation[0] += 1


def shapes_generation():
    """How many times compartments changed shape (see :func:`shapes_changed`)."""
    return _generation[0]


class ShapeMismatch(ValueError):
    """A compartment's value has another shape than the circuit was built for (``got`` and ``expected``)."""

    def __init__(self, message, got, expected):
        super().__init__(message)
        self.got, self.expected = got, expected


def held_steps(steps, attribute):
    """``steps`` of a component held by another as ``attribute``, as steps of the holder (compartment names
    prefixed ``attribute.``)."""
    def names(values):
        return tuple(None if name is None else f"{attribute}.{name}" for name in values)
    return [step._replace(reads=names(step.reads), writes=names(step.writes), rows=names(step.rows))
            for step in steps]


class CircuitUnavailable(Exception):
    """The process cannot run as a compiled circuit; the message says why (it then runs per call)."""


def cache_directory():
    """Where generated circuits are written (see the module)."""
    if os.environ.get("NGC_OPTIM_CACHE_DIR"):
        return os.environ["NGC_OPTIM_CACHE_DIR"]
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "ngc_optim")


class _Variables:
    """Names of the generated function's locals: one per state key, in order of first use."""

    def __init__(self):
        self.keys = []
        self.names = {}

    def name(self, key):
        if key not in self.names:
            self.names[key] = f"v{len(self.keys)}"
            self.keys.append(key)
        return self.names[key]


def _expression(target, variables, where):
    """Python source reading ``target`` (a state key, or a Summation/Product of compartments)."""
    if isinstance(target, str):
        return variables.name(target)
    operator = _OPERATORS.get(type(target))
    if operator is None:
        raise CircuitUnavailable(f"{where} is wired from a {type(target).__name__} operation, which has no "
                                 f"compiled form (Summation and Product have)")
    terms = [_expression(part.target if not isinstance(part, BaseOp) else part, variables, where)
             for part in target._comps]
    return "(" + operator.join(terms) + ")"


def _kernel_sources(kernels):
    """The bytes of the source files of ``kernels`` and of ngc_optim's kernel modules, for the digest."""
    files = {os.path.abspath(inspect.getsourcefile(kernel.py_func)) for kernel in kernels}
    package = os.path.dirname(os.path.abspath(__file__))
    files.update(os.path.join(package, name) for name in os.listdir(package) if name.endswith("kernels.py"))
    digest = hashlib.sha256()
    for path in sorted(files):
        with open(path, "rb") as handle:
            digest.update(path.encode() + b"\0" + handle.read())
    return digest.hexdigest()


class _Call(NamedTuple):
    owner: str
    kind: str
    step: Step
    reads: tuple
    writes: tuple


class Circuit:
    """A process's steps as one compiled function (see the module).

    Args:
        name: the process's name (for messages).
        calls: the process's (component, method name) pairs in order.
        keywords: the process's keywords, in the order of the columns of the rows it is given.
        watched: compartments whose values are returned after each step.

    Raises:
        CircuitUnavailable: a method without a compiled form, an unsupported
            operation in the wiring, or compartments of another dtype than the
            component's (converted per call by ngcsimlib's path).
        ValueError: a wired compartment of another shape than the one it is wired into.
    """

    def __init__(self, name, calls, keywords, watched):
        self.name = name
        self._generation = _generation[0]
        self.keywords = tuple(sorted(keywords))
        columns = [list(keywords).index(word) for word in self.keywords]
        self._columns = None if columns == sorted(columns) else np.array(columns, np.intp)
        variables = _Variables()
        self._calls = []
        expected = {}
        for component, method in calls:
            owner = f"{type(component).__name__} {component.name!r}"
            compiled = getattr(component, "compiled_steps", None)
            steps = compiled(method) if compiled is not None else None
            if steps is None:
                raise CircuitUnavailable(f"{owner}.{method} has no compiled form")
            for step in steps:
                reads = []
                for attribute in step.reads:
                    compartment = operator.attrgetter(attribute)(component)
                    where = f"{owner}.{attribute}"
                    reads.append(_expression(compartment.target, variables, where))
                    own = _own_value(compartment)
                    for key in _keys(compartment.target):
                        expected.setdefault(key, (own, where))
                        _check_match(key, own, where, expected[key])
                missing = [word for word in step.keywords if word not in self.keywords]
                if missing:
                    raise CircuitUnavailable(f"{owner}.{method} takes keywords {missing} the process lacks")
                writes = []
                for attribute in step.writes:
                    if attribute is None:
                        writes.append(None)
                        continue
                    compartment = operator.attrgetter(attribute)(component)
                    if not isinstance(compartment.target, str):
                        raise CircuitUnavailable(f"{owner}.{attribute} is written but wired from an operation")
                    own = _own_value(compartment)
                    expected.setdefault(compartment.target, (own, f"{owner}.{attribute}"))
                    writes.append(variables.name(compartment.target))
                self._calls.append(_Call(owner, f"{type(component).__name__}.{method}", step, tuple(reads),
                                         tuple(writes)))
        self.watched = tuple(compartment.target for compartment in watched)
        for key in self.watched:
            if not isinstance(key, str):
                raise CircuitUnavailable("a watched compartment is wired from an operation")
            variables.name(key)
            if key not in expected:
                raise CircuitUnavailable(f"watched compartment {key!r} is not read or written by the process")
        self.keys = tuple(variables.keys)
        self._variables = variables
        self._expected = [(expected[key][0].shape, expected[key][0].dtype) for key in self.keys]
        written = [name for call in self._calls for name in call.writes if name is not None]
        self._written = tuple(dict.fromkeys(written))
        self._written_keys = tuple(self.keys[int(name[1:])] for name in self._written)
        self._written_index = tuple(self.keys.index(key) for key in self._written_keys)
        self._checks = tuple((key, *self._expected[index]) for index, key in enumerate(self.keys))
        self._constants = tuple(call.step.constants for call in self._calls)
        self._unbound = tuple(() for _ in self._calls)
        self._bindings = tuple((index, call.step.binding, self._deferrable(call)) for index, call
                               in enumerate(self._calls) if call.step.binding is not None)
        self._watched_types = tuple(self._expected[self.keys.index(key)] for key in self.watched)
        self._carried = frozenset(number for number, call in enumerate(self._calls)
                                  if call.step.carry and self._writers(call.reads[0]) == {number})
        self._split = self._find_split()
        self.batch = self._expected[int(self._split[0][0][1:])][0][0] if self._split else None
        self._work = self._row_work() if self._split else 0
        self._block_outputs = tuple(index for index, name in zip(self._written_index, self._written)
                                    if self._split and name in self._split[0])
        self.source = self._source()
        self._module = None
        self._entries = {}
        self._known = None
        self._state_values = operator.itemgetter(*self.keys) if len(self.keys) > 1 else \
            (lambda state, key=self.keys[0]: (state[key],))
        self._blocks = {}

    @property
    def stale(self):
        """Whether compartments changed shape since the circuit was built (see :func:`shapes_changed`)."""
        return self._generation != _generation[0]

    def _deferrable(self, call):
        """Whether ``call``'s binding may defer its deferred writes (see Binding.deferred): no step reads them
        and none is watched."""
        deferred = call.step.binding.deferred
        if not deferred:
            return False
        names = {call.writes[call.step.writes.index(attribute)] for attribute in deferred}
        read = {variable for other in self._calls for expression in other.reads
                for variable in _variables_in(expression)}
        watched = {self._variables.names[key] for key in self.watched}
        return not names & (read | watched)

    def _writers(self, name):
        """The calls that write the variable ``name``."""
        return {number for number, call in enumerate(self._calls) if name in call.writes}

    def _carry_lines(self, names, indent):
        """Before the loop: the scratch s<n> of each carried call, from its first read (see Step.carry)."""
        return [f"{indent}s{number} = k{self._kernel_index[self._calls[number].step.carry[0]]}("
                f"{_renamed(self._calls[number].reads[0], names)}, *c{number})" for number in sorted(self._carried)]

    def _call_line(self, number, call, names, indent):
        """The source of one step's call, its compartments' locals renamed through ``names`` (v<i> -> the
        local of the block or output that holds it; the others keep their v<i>)."""
        arguments = [_renamed(read, names) for read in call.reads]
        kernel = call.step.kernel
        if number in self._carried:
            arguments.append(f"s{number}")
            kernel = call.step.carry[1]
        arguments += list(call.step.keywords)
        constants = len(call.step.constants)
        arguments += _unpacked(f"c{number}", constants)
        if call.step.binding is not None:
            positional = _positional(kernel)
            arguments += _unpacked(f"b{number}", None if positional is None else positional - len(arguments))
        invocation = f"k{self._kernel_index[kernel]}({', '.join(arguments)})"
        if not call.writes:
            return f"{indent}{invocation}  # {call.kind}"
        targets = ", ".join(names.get(name, name) if name else "_" for name in call.writes)
        return f"{indent}{targets}{',' if len(call.writes) > 1 else ''} = {invocation}  # {call.kind}"

    def _header(self, title):
        summary = f"# ngc_optim compiled circuit ({title}): {len(self._calls)} steps over {len(self.keys)} compartments"
        return [summary, *(f"# k{number}: {kernel.py_func.__module__}.{kernel.py_func.__qualname__}"
                           for number, kernel in enumerate(self._kernels))]

    def _arguments(self):
        return ", ".join([f"v{number}" for number in range(len(self.keys))]
                         + [f"c{number}" for number in range(len(self._calls))]
                         + [f"b{number}" for number in range(len(self._calls))]
                         + [f"w{number}" for number in range(len(self.watched))])

    def _watch_lines(self, names, indent, first="0"):
        """The watched values into their row of the buffers (of the block's rows from ``first``), by loops
        (see put_step)."""
        lines = []
        for number, key in enumerate(self.watched):
            name = self._variables.names[key]
            value = names.get(name, name)
            if self._expected[self.keys.index(key)][0]:
                lines.append(f"{indent}put_step(w{number}, row, {first}, {value})")
            else:
                lines.append(f"{indent}w{number}[row] = {value}[()]")
        return lines

    def _source(self):
        """The generated module's source (kernels k0.. and block_start are set on the module before the first
        call): ``circuit``, every step in order for each row of keywords, and, when the circuit allows it (see
        _find_split), ``circuit_block`` and ``circuit_final``: the same over a block of the batch's rows (the
        blocks run on ngc_optim's threads), then what is computed on the whole batch."""
        self._kernels = list(dict.fromkeys(kernel for number, call in enumerate(self._calls)
                                           for kernel in (call.step.carry if number in self._carried
                                                          else (call.step.kernel,))))
        self._kernel_index = {kernel: number for number, kernel in enumerate(self._kernels)}
        lines = [*self._header("serial"), "import numpy as np", "from numba import njit", "",
                 f"@njit(cache={config.CACHE}, nogil=True, error_model='numpy')",
                 f"def circuit(rows, {self._arguments()}):", *self._carry_lines({}, "    "),
                 "    for row in range(rows.shape[0]):"]
        lines += [f"        {word} = rows[row, {column}]" for column, word in enumerate(self.keywords)]
        lines += [self._call_line(number, call, {}, "        ") for number, call in enumerate(self._calls)]
        lines += self._watch_lines({}, "        ")
        returned = ", ".join(self._written)
        lines.append(f"    return ({returned}{',' if len(self._written) == 1 else ''})")
        if self._split is not None:
            lines += ["", "", *self._blocks_source()]
        return "\n".join(lines) + "\n"

    def _blocks_source(self):
        """``circuit_block(first, last, rows, ..., o...)``: rows first..last of every per-sample variable
        copied into locals r<i>, every row-local step for each row of keywords on them (watched values into
        their rows of the buffers), the block's results copied into the new batch arrays o<i>; and
        ``circuit_final(..., o...)``: the final steps on the whole batch (see _find_split), returning what the
        serial function returns."""
        per_sample, final = self._split
        local = {name: f"r{name[1:]}" for name in per_sample}
        outputs = {name: f"o{name[1:]}" for name in self._written if name in per_sample}
        arguments = self._arguments() + "".join(f", {output}" for output in outputs.values())
        decorator = f"@njit(cache={config.CACHE}, nogil=True, error_model='numpy')"
        lines = [decorator, f"def circuit_block(first, last, rows, {arguments}):"]
        lines += [f"    {local[name]} = np.ascontiguousarray({name}[first:last])" for name in per_sample]
        lines += self._carry_lines(local, "    ")
        lines.append("    for row in range(rows.shape[0]):")
        lines += [f"        {word} = rows[row, {column}]" for column, word in enumerate(self.keywords)]
        lines += [self._call_line(number, call, local, "        ") for number, call in enumerate(self._calls)
                  if number not in final]
        lines += self._watch_lines(local, "        ", "first")
        lines += [f"    put_rows({output}, first, {local[name]})" for name, output in outputs.items()]
        lines += ["", "", decorator, f"def circuit_final({arguments}):"]
        lines += [self._call_line(number, self._calls[number], outputs, "    ") for number in sorted(final)]
        returned = ", ".join(outputs.get(name, name) for name in self._written)
        lines.append(f"    return ({returned}{',' if len(self._written) == 1 else ''})")
        return lines

    def _find_split(self):
        """(per-sample variables, indices of the final steps) when the circuit can run blocks of rows on
        their own, else None. It can when every step is row-local (its writes all per-sample: see Step.rows),
        or computes only what no step reads and nothing watches, from values no later step writes (an error
        cell's L: it is then computed once, after the loop, from the last values, the bits of the last step);
        a variable must be per-sample in every step that names it, all of one batch, and only per-sample
        variables watched."""
        per_sample, whole = set(), set()
        final = {number for number, call in enumerate(self._calls)
                 if not call.step.rows or any(attribute not in call.step.rows for attribute in call.step.writes
                                              if attribute is not None)}
        for number, call in enumerate(self._calls):
            if number in final:
                continue
            named = dict(zip(call.step.reads, call.reads)) | dict(zip(call.step.writes, call.writes))
            for attribute, expression in named.items():
                if expression is not None:
                    (per_sample if attribute in call.step.rows else whole).update(_variables_in(expression))
        if per_sample & whole or not per_sample:
            return None
        batches = {self._expected[int(name[1:])][0][0] for name in per_sample}
        if len(batches) != 1:
            return None
        for number in final:
            call = self._calls[number]
            outputs = {name for name in call.writes if name}
            reads = {variable for read in call.reads for variable in _variables_in(read)}
            later = {name for other in self._calls[number + 1:] for name in other.writes if name}
            read_elsewhere = {variable for index, other in enumerate(self._calls) if index != number
                              for read in other.reads for variable in _variables_in(read)}
            watched = {self._variables.names[key] for key in self.watched}
            if outputs & (read_elsewhere | watched) or reads & (later | outputs) or call.step.binding is not None:
                return None
        if any(self._variables.names[key] not in per_sample for key in self.watched):
            return None
        return tuple(sorted(per_sample, key=lambda name: int(name[1:]))), frozenset(final)

    def _load(self):
        """The compiled function, from the cache directory (written the first time)."""
        digest = hashlib.sha256((self.source + _kernel_sources(self._kernels)).encode()).hexdigest()[:24]
        module_name = f"ngc_optim_circuit_{digest}"
        if config.CACHE:
            directory = os.path.join(cache_directory(), "circuits")
            path = os.path.join(directory, f"circuit_{digest}.py")
            if not os.path.exists(path):
                os.makedirs(directory, exist_ok=True)
                handle, temporary = tempfile.mkstemp(dir=directory, suffix=".tmp")
                with os.fdopen(handle, "w") as stream:
                    stream.write(self.source)
                os.replace(temporary, path)
                print(f"ngc_optim: compiling the circuit of process {self.name!r} ({len(self._calls)} steps); "
                      f"cached for next time", file=sys.stderr)
            module = sys.modules.get(module_name)
            if module is None:
                spec = importlib.util.spec_from_file_location(module_name, path)
                module = importlib.util.module_from_spec(spec)
                _bind(module, self._kernels)
                sys.modules[module_name] = module  # Numba finds the module of a cached function by name
                spec.loader.exec_module(module)
        else:
            module = type(sys)(module_name)
            _bind(module, self._kernels)
            exec(compile(self.source, f"<{module_name}>", "exec"), module.__dict__)  # noqa: S102 (our source)
        return module

    def arrays(self, state):
        """The state's values of the circuit's compartments, checked: shape, dtype, C order and writable (a
        value of another dtype or layout, or read-only, is converted, as the per-call path converts it). Values the last call returned, or checked, are not checked again."""
        values = list(self._state_values(state))
        known = self._known
        if known is not None and all(map(operator.is_, values, known)):
            return values
        for index, value in enumerate(values):
            if known is None or value is not known[index]:
                values[index] = self._checked(index, value)
        return values

    def _checked(self, index, value):
        key, shape, dtype = self._checks[index]
        if type(value) is not np.ndarray or value.dtype != dtype or not value.flags.c_contiguous \
                or not value.flags.writeable:
            value = np.array(value, dtype, order="C")
        if value.shape != shape:
            raise ShapeMismatch(f"process {self.name!r}: {key} has shape {value.shape}; expected {shape}",
                                value.shape, shape)
        return value

    def _call(self, function, arguments):
        """``function(*arguments)``, through its compiled entry point once it has been compiled for them."""
        entry = self._entries.get(function)
        if entry is not None:
            return entry(*arguments)
        result = function(*arguments)
        signature = tuple(numba.typeof(argument) for argument in arguments)
        self._entries[function] = function.overloads[signature].entry_point
        return result

    def _by_blocks(self, blocks, rows, values, arguments):
        """The circuit in ``blocks`` blocks of rows on ngc_optim's threads, then its final steps."""
        outputs = tuple(np.empty_like(values[index]) for index in self._block_outputs)
        block_arguments = (*arguments, *outputs)
        bounds = [int(block_start(block, blocks, self.batch)) for block in range(blocks + 1)]
        block, remaining = self._module.circuit_block, blocks
        if block not in self._entries:
            remaining -= 1
            self._call(block, (bounds[remaining], bounds[blocks], rows, *block_arguments))

        def run(number):
            if bounds[number + 1] > bounds[number]:
                self._entries[block](bounds[number], bounds[number + 1], rows, *block_arguments)

        threads.run_blocks(run, remaining)
        return self._call(self._module.circuit_final, block_arguments)

    def _row_work(self):
        """Multiply-adds (about) of one step of one row: the sizes of the arrays the row-local steps read whole
        (weights) and the widths of their per-sample ones."""
        per_sample, final = self._split
        work = 0
        for number, call in enumerate(self._calls):
            if number in final:
                continue
            for read in call.reads:
                for name in _variables_in(read):
                    shape = self._expected[int(name[1:])][0]
                    work += shape[-1] if name in per_sample else int(np.prod(shape))
        return work

    def blocks(self, steps):
        """Blocks of rows a scan of ``steps`` rows runs in (1: the serial function): ngc_optim's thread
        decision for the batch (level ``rows``) and its work (level ``settling``; :mod:`ngc_optim.threads`)."""
        if self._split is None or not config.PARALLEL:
            return 1
        key = (steps, threads.get_threads())
        blocks = self._blocks.get(key)
        if blocks is None:
            blocks = self._blocks[key] = min(threads.numba_threads(self.batch, "rows"),
                                             threads.numba_threads(self.batch * steps * self._work, "settling"))
        return blocks

    def __call__(self, state, rows, blocks=None):
        """Run the circuit over ``rows`` (a float64 (steps, keywords) array, the process's keyword order)
        from ``state`` (a dict, not changed), in
        ``blocks`` blocks of the batch's rows (default: see
        :meth:`blocks`); returns (the written compartments as {key: value}, the watched values stacked over
        the steps, or None if none are watched)."""
        if self._module is None:
            self._module = self._load()
        values = self.arrays(state)
        replaced = {}
        bound = list(self._unbound)
        finishes = []
        for index, binding, deferring in self._bindings:
            bound[index], finish = binding.take(state, True) if deferring else binding.take(state)
            finishes.append(finish)
        if self._columns is not None:
            rows = np.ascontiguousarray(rows[:, self._columns])
        buffers = [np.empty((rows.shape[0], *shape), dtype) for shape, dtype in self._watched_types]
        blocks = self.blocks(rows.shape[0]) if blocks is None else blocks
        if blocks > 1:
            threads.prepare()
        arguments = (*values, *self._constants, *bound, *buffers)
        if blocks > 1:
            results = self._by_blocks(blocks, rows, values, arguments)
        else:
            results = self._call(self._module.circuit, (rows, *arguments))
        for finish in finishes:
            replaced.update(finish())
        for index, result in zip(self._written_index, results):
            values[index] = result
        self._known = values
        replaced.update(zip(self._written_keys, results))
        return replaced, (tuple(buffers) if buffers else None)


def _keys(target):
    """The state keys a target reads."""
    if isinstance(target, str):
        return [target]
    return [key for part in target._comps
            for key in _keys(part if isinstance(part, BaseOp) else part.target)]


def _bind(module, kernels):
    """Set the generated module's globals: the kernels (k0, k1, ...), block_start and the copies into rows."""
    for number, kernel in enumerate(kernels):
        setattr(module, f"k{number}", kernel)
    module.block_start, module.put_rows, module.put_step = block_start, put_rows, put_step


def _variables_in(expression):
    """The local names (v<i>) an expression of _expression reads."""
    return re.findall(r"\bv\d+\b", expression)


def _positional(kernel):
    """The number of parameters of a kernel (None: it takes ``*args`` or has defaults, so that its call
    alone does not say how many values a tuple holds)."""
    parameters = inspect.signature(kernel.py_func).parameters.values()
    if any(parameter.kind is not parameter.POSITIONAL_OR_KEYWORD or parameter.default is not parameter.empty
           for parameter in parameters):
        return None
    return len(parameters)


def _unpacked(name, count):
    """The arguments that pass the tuple ``name`` of ``count`` values (None: not known) one by one, so that an
    ``inline="always"`` kernel (Numba inlines no call with ``*args``) can take them."""
    return [f"*{name}"] if count is None else [f"{name}[{index}]" for index in range(count)]


def _renamed(expression, names):
    """``expression`` with its local names replaced through ``names``."""
    return re.sub(r"\bv\d+\b", lambda match: names.get(match.group(0), match.group(0)), expression)


def _own_value(compartment):
    return stateManager.from_global_key(compartment.root)


def _check_match(key, own, where, first):
    """A wired compartment must hold the shape and dtype of the compartment it is wired into."""
    value, other = first
    if not (isinstance(own, np.ndarray) and isinstance(value, np.ndarray)):
        raise CircuitUnavailable(f"{where} does not hold an array")
    if own.shape != value.shape:
        raise ValueError(f"{where} has shape {own.shape} but is wired with {other} of shape {value.shape} "
                         f"({key})")
    if own.dtype != value.dtype:
        raise CircuitUnavailable(f"{where} is {own.dtype} but wired with {other} of {value.dtype}")
