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

* ``reads``: compartments of the component, by attribute name;
* ``keywords``: the process's keywords (``dt``, ``t``), from the row of the step;
* ``constants``: fixed values (numbers, tuples of numbers, arrays the component holds);
* ``bound``: values taken from the state at each call (an optimizer's count and
  slots; see :class:`Binding`), updated in place by the kernel;
* ``writes``: the compartments set from the returned value (one name) or values
  (several names, a tuple returned; None drops a value).

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
import sys
import tempfile
from collections.abc import Callable
from typing import NamedTuple

import numba
import numpy as np
from ngcsimlib.global_state import stateManager
from ngcsimlib.operations import BaseOp, Product, Summation

from . import config, threads

__all__ = ["Binding", "Circuit", "CircuitUnavailable", "Step", "cache_directory"]

_OPERATORS = {Summation: " + ", Product: " * "}


class Binding(NamedTuple):
    """Values a step takes from the state at each call instead of from compartments.

    ``take(state)`` returns ``(args, finish)``: the arguments passed after the
    step's constants (arrays the kernel updates in place) and a function called
    with no arguments after the compiled call (to copy a counter back, say).
    """

    take: Callable


class Step(NamedTuple):
    """One call of a component method's compiled form (see the module)."""

    kernel: Callable
    reads: tuple
    writes: tuple
    keywords: tuple = ()
    constants: tuple = ()
    binding: Binding = None
    in_place: tuple = ()
    """Reads the kernel updates in place: they must be writable C-contiguous arrays, never copied."""


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
        self.keywords = tuple(sorted(keywords))
        self._columns = np.array([list(keywords).index(word) for word in self.keywords], np.intp)
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
                    compartment = getattr(component, attribute)
                    where = f"{owner}.{attribute}"
                    reads.append(_expression(compartment.target, variables, where))
                    own = _own_value(compartment)
                    for key in _keys(compartment.target):
                        expected.setdefault(key, (own, where))
                        _check_match(key, own, where, expected[key])
                    if attribute in step.in_place and not isinstance(compartment.target, str):
                        raise CircuitUnavailable(f"{where} is updated in place but wired from an operation")
                missing = [word for word in step.keywords if word not in self.keywords]
                if missing:
                    raise CircuitUnavailable(f"{owner}.{method} takes keywords {missing} the process lacks")
                writes = []
                for attribute in step.writes:
                    if attribute is None:
                        writes.append(None)
                        continue
                    compartment = getattr(component, attribute)
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
        self._in_place = {call.reads[call.step.reads.index(attribute)] for call in self._calls
                          for attribute in call.step.in_place}
        written = [name for call in self._calls for name in call.writes if name is not None]
        self._written = tuple(dict.fromkeys(written))
        self._written_keys = tuple(self.keys[int(name[1:])] for name in self._written)
        self._parallel = any(getattr(call.step.kernel, "targetoptions", {}).get("parallel") for call in self._calls)
        self._written_index = tuple(self.keys.index(key) for key in self._written_keys)
        self._constants = tuple(call.step.constants for call in self._calls)
        self._unbound = tuple(() for _ in self._calls)
        self._bindings = tuple((index, call.step.binding) for index, call in enumerate(self._calls)
                               if call.step.binding is not None)
        self._watched_types = tuple(self._expected[self.keys.index(key)] for key in self.watched)
        self.source = self._source()
        self._function = None
        self._entry = None
        self._known = None

    def _source(self):
        """The generated module's source (kernels k0.. are set on the module before the first call)."""
        self._kernels = list(dict.fromkeys(call.step.kernel for call in self._calls))
        index = {kernel: number for number, kernel in enumerate(self._kernels)}
        names = [f"v{number}" for number in range(len(self.keys))]
        constants = [f"c{number}" for number in range(len(self._calls))]
        bound = [f"b{number}" for number in range(len(self._calls))]
        buffers = [f"w{number}" for number in range(len(self.watched))]
        lines = [f"# ngc_optim compiled circuit: {len(self._calls)} steps over {len(self.keys)} compartments",
                 *(f"# k{index[kernel]}: {kernel.py_func.__module__}.{kernel.py_func.__qualname__}"
                   for kernel in self._kernels),
                 "from numba import njit", "",
                 f"@njit(cache={config.CACHE}, nogil=True, error_model='numpy')",
                 f"def circuit(rows, {', '.join(names + constants + bound + buffers)}):",
                 "    for row in range(rows.shape[0]):"]
        for column, word in enumerate(self.keywords):
            lines.append(f"        {word} = rows[row, {column}]")
        for number, call in enumerate(self._calls):
            arguments = [*call.reads, *call.step.keywords]
            if call.step.constants:
                arguments.append(f"*c{number}")
            if call.step.binding is not None:
                arguments.append(f"*b{number}")
            targets = ", ".join(name or "_" for name in call.writes)
            if len(call.writes) > 1:
                targets += ","
            invocation = f"k{index[call.step.kernel]}({', '.join(arguments)})"
            lines.append(f"        {targets} = {invocation}  # {call.kind}" if call.writes
                         else f"        {invocation}  # {call.kind}")
        for buffer, key in zip(buffers, self.watched):
            scalar = "[()]" if not self._expected[self.keys.index(key)][0] else ""
            lines.append(f"        {buffer}[row] = {self._variables.names[key]}{scalar}")
        returned = ", ".join(self._written)
        lines.append(f"    return ({returned}{',' if len(self._written) == 1 else ''})")
        return "\n".join(lines) + "\n"

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
                for number, kernel in enumerate(self._kernels):
                    setattr(module, f"k{number}", kernel)
                sys.modules[module_name] = module  # Numba finds the module of a cached function by name
                spec.loader.exec_module(module)
        else:
            module = type(sys)(module_name)
            for number, kernel in enumerate(self._kernels):
                setattr(module, f"k{number}", kernel)
            exec(compile(self.source, f"<{module_name}>", "exec"), module.__dict__)  # noqa: S102 (our source)
        return module.circuit

    def arrays(self, state):
        """The state's values of the circuit's compartments, checked: shape, dtype, C order, and writable for
        those updated in place (a value of another dtype or layout only read is converted, as the per-call
        path converts it). Values the last call returned, or checked, are not checked again."""
        values = [state[key] for key in self.keys]
        known = self._known
        if known is not None and all(map(operator.is_, values, known)):
            return values
        for index, value in enumerate(values):
            if known is None or value is not known[index]:
                values[index] = self._checked(index, value)
        return values

    def _checked(self, index, value):
        key, (shape, dtype) = self.keys[index], self._expected[index]
        in_place = self._variables.names[key] in self._in_place
        if type(value) is not np.ndarray or value.dtype != dtype or not value.flags.c_contiguous \
                or not value.flags.writeable:
            if in_place:
                raise ValueError(f"process {self.name!r}: {key} is updated in place and must be a writable "
                                 f"C-contiguous {dtype} array, got {_describe(value)}")
            value = np.array(value, dtype, order="C")
        if value.shape != shape:
            raise ValueError(f"process {self.name!r}: {key} has shape {value.shape}; expected {shape}")
        return value

    def __call__(self, state, rows):
        """Run the circuit over ``rows`` (a float64 (steps, keywords) array, the process's keyword order)
        from ``state`` (a dict, not changed); returns (the written compartments as {key: value}, the watched
        values stacked over the steps, or None if none are watched)."""
        if self._function is None:
            self._function = self._load()
        values = self.arrays(state)
        bound = list(self._unbound)
        finishes = []
        for index, binding in self._bindings:
            bound[index], finish = binding.take(state)
            finishes.append(finish)
        rows = np.ascontiguousarray(rows[:, self._columns])
        buffers = [np.empty((rows.shape[0], *shape), dtype) for shape, dtype in self._watched_types]
        if self._parallel:
            threads.prepare()
        arguments = (rows, *values, *self._constants, *bound, *buffers)
        if self._entry is None:
            results = self._function(*arguments)
            signature = tuple(numba.typeof(argument) for argument in arguments)
            self._entry = self._function.overloads[signature].entry_point
        else:
            results = self._entry(*arguments)
        for finish in finishes:
            finish()
        for index, result in zip(self._written_index, results):
            values[index] = result
        self._known = values
        return dict(zip(self._written_keys, results)), (tuple(buffers) if buffers else None)


def _keys(target):
    """The state keys a target reads."""
    if isinstance(target, str):
        return [target]
    return [key for part in target._comps
            for key in _keys(part if isinstance(part, BaseOp) else part.target)]


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


def _describe(value):
    if isinstance(value, np.ndarray):
        return f"{value.dtype}{list(value.shape)}" + ("" if value.flags.c_contiguous else " (not C-contiguous)")
    return type(value).__name__
