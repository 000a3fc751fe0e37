"""ngcsimlib processes with ngc-learn 3.2's process API: ``scan`` over packed rows, and its last state and result.

ngc-learn exports ``MethodProcess`` and ``JointProcess`` with a mixin that runs
a process ``T`` times in one ``jax.lax.scan``; code written for it imports them
(and ``Context``) from ``ngclearn``. The same names here take the same calls::

    from ngc_optim import Context, MethodProcess

    rows = advance.pack_rows(T, t=lambda i: i * dt, dt=dt)   # ngcsimlib's: one row of keywords per step
    advance.watch(z1.s, W1.weights)                          # ngcsimlib's: compartments returned per step
    final_state, (spikes, weights) = advance.scan(rows)      # spikes[t] after step t

``scan(inputs, current_state=None, store_state=True, store_results=True)``
runs the process once per row of ``inputs``, each step starting from the state
the last one returned (the global state when ``current_state`` is None, as
ngc-learn's), and returns the final state and the watched compartments'
values stacked over the steps (None when nothing is watched). Like
ngc-learn's, it does not write the final state into the global state: set it
with ``stateManager.set_state(final_state)`` or call ``run`` as usual. As in
ngc-learn, a value read before a scan or run never changes: a learning
synapse's new weights go to other arrays (unless it was built with
``in_place=True``; see :class:`ngc_optim.components.LearningSynapse`), and the
watched values of each step are copies. ``previous_state`` and
``previous_result`` keep the last scan's (unless told not to), ``clear`` drops
them.

When every method of a process has a compiled form (every component of
ngc_optim's), ``run`` and ``scan`` execute it as one compiled circuit
(:mod:`ngc_optim.circuit`): one Numba call for all the rows of a scan, with the
same results bit for bit (``run`` from its third call: ``compile_after``).
Otherwise (a component of another library, say) the
process runs through ngcsimlib's compiled Python, once per row, after one
warning naming what has no compiled form. ``process.compiled_circuit = False``
(or ``NGC_OPTIM_CIRCUITS=0`` for every process) chooses ngcsimlib's path.

The components follow the batch size of the data, as ngc-learn's: a batch of
another size clamped into a process's component (or ``batch_size`` set on the
components, then ``reset``) resizes every component of the process
(:meth:`ScanMixin.follow_batch`).
"""

import operator
import warnings

import numpy as np
from ngcsimlib import JointProcess as _JointProcess
from ngcsimlib import MethodProcess as _MethodProcess
from ngcsimlib.context import Context
from ngcsimlib.global_state import stateManager

from . import config
from .circuit import Circuit, CircuitUnavailable, ShapeMismatch, shapes_generation

__all__ = ["COMPILE_AFTER", "Context", "JointProcess", "MethodProcess", "ScanMixin"]

COMPILE_AFTER = 2
"""A process's first calls of ``run`` go through ngcsimlib (the same bits): compiling a circuit takes seconds
the first time a machine sees it, which a process run once or twice (a reset, a test) would not win back."""


class ScanMixin:
    """ngc-learn 3.2's scan API for an ngcsimlib process (see the module)."""

    def __init__(self, name, *args, **kwargs):
        super().__init__(name, *args, **kwargs)
        self._previous_state = None
        self._previous_result = None
        self._circuit = None
        self._last_row = (None, None)
        self._runs = 0
        self._members = None
        self._compiled_shapes = shapes_generation()
        self.compiled_circuit = True
        """Run as one compiled circuit when every method has a compiled form (False: ngcsimlib's path)."""
        self.compile_after = COMPILE_AFTER
        """Calls of ``run`` through ngcsimlib before the circuit is compiled (a scan compiles it at once)."""

    def compile(self):
        """ngcsimlib's compile; the compiled circuit is (re)built at the next run or scan."""
        super().compile()
        self._circuit = None
        self._compiled_shapes = shapes_generation()

    def _per_call(self):
        """Before a run through ngcsimlib: compile the process again (its sub-processes first) when
        components were resized since (ngcsimlib's compiled code holds what it read from them)."""
        if self._compiled_shapes != shapes_generation():
            for process in getattr(self, "process_order", ()):
                if isinstance(process, ScanMixin):
                    process.compile()
            self.compile()

    def calls(self):
        """The (component, method name) pairs the process runs, in order."""
        raise NotImplementedError

    def _followers(self):
        """The process's components that take the batch size of the data (``resize_batch``), each once, with
        the state keys of their per-sample compartments (their own, or those they are wired to)."""
        if self._members is None:
            components = dict.fromkeys(component for component, _ in self.calls() if hasattr(component, "resize_batch"))
            pairs = [(key, component) for component in components for key in component.per_sample_keys()]
            keys = tuple(key for key, _ in pairs)
            self._members = (tuple(components), operator.itemgetter(*keys) if len(keys) > 1 else
                             (lambda state, key=keys[0]: (state[key],)) if keys else (lambda state: ()),
                             tuple(component for _, component in pairs))
        return self._members

    def follow_batch(self, state=None):
        """Resize the process's components to the batch size of the data, as ngc-learn's compartments take
        the batch JAX broadcasts them to: when a per-sample compartment holds (or is wired to) a batch of
        another size than its component's, or a component's ``batch_size`` was set to another value (then
        ``reset``), every component of the process is resized to it (``resize_batch``; the rows of one the
        process resets need not be kept). Called by ``run`` and ``scan``; the values of ``state`` (default
        the global state) that changed shape are replaced by the resized ones. Returns whether anything was
        resized.

        Raises:
            ValueError: batches of several sizes at once, or a component that cannot take that size (named).
        """
        followers, values_of, owners = self._followers()
        sizes = {component.batch_size for component in followers if component.batch_size != component.built_batch}
        resetting = {component for component, method in self.calls() if method == "reset"} if sizes else ()
        state = stateManager.state if state is None else state
        if not sizes:
            sizes = {value.shape[0] for value, component in zip(values_of(state), owners)
                     if value.shape[0] != component.built_batch}
        if not sizes:
            return False
        if len(sizes) > 1:
            raise ValueError(f"process {self.name!r}: the data holds batches of {sorted(sizes)} samples at once; "
                             f"clamp batches of one size")
        (size,) = sizes
        for component in followers:
            component.resize_batch(size, keep_rows=component not in resetting)
        resized = stateManager.state
        for key, value in state.items():
            new = resized.get(key)
            if isinstance(new, np.ndarray) and isinstance(value, np.ndarray) and new.shape != value.shape:
                state[key] = new
        self._circuit = None
        return True

    def _circuit_call(self, circuit, state, rows):
        """``circuit(state, rows)``; when a value's batch is not the one the circuit was built for, the
        components follow it (follow_batch) and the circuit is built again, once."""
        try:
            return circuit(state, rows)
        except ShapeMismatch as mismatch:
            if mismatch.got[1:] != mismatch.expected[1:]:
                raise
            self.follow_batch(state)
            self._circuit = None
            circuit = self.circuit()
            if circuit is None:
                raise
            return circuit(state, rows)

    def circuit(self):
        """The process's compiled circuit, or None when it runs through ngcsimlib (see the module)."""
        if not (self.compiled_circuit and config.CIRCUITS and self.is_compiled()):
            return None
        if self._circuit and self._circuit.stale:
            self._circuit = None
        if self._circuit is None:
            self.follow_batch()
            try:
                self._circuit = Circuit(self.name, self.calls(), self.get_keywords(), self._watch_list)
            except CircuitUnavailable as reason:
                warnings.warn(f"process {self.name!r} runs through ngcsimlib, once per call: {reason}",
                              stacklevel=3)
                self._circuit = False
        return self._circuit or None

    def run(self, state=None, keywords=None, update=True, row_seed=None, **kwargs):
        """One step, as ngcsimlib's ``run`` (same arguments and result), through the compiled circuit if the
        process has one."""
        self._runs += 1
        circuit = self.circuit() if self._runs > self.compile_after or self._circuit else None
        if circuit is None:
            self.follow_batch(state)
            self._per_call()
            return super().run(state, keywords, update, row_seed, **kwargs)
        state = stateManager.state if state is None else state
        if keywords is None:
            keywords = self.pack_keywords(row_seed=row_seed, **kwargs)
        written, watched = self._circuit_call(circuit, state, self._keyword_row(keywords))
        state.update(written)
        if update:
            stateManager.set_state(written)
        return state, None if watched is None else tuple(values[0] for values in watched)

    def _keyword_row(self, keywords):
        """``_rows([keywords])``, kept while the keywords keep their values (bit for bit: -0.0 is not 0.0)."""
        try:
            key = tuple(float(value).hex() for value in keywords)
        except (TypeError, ValueError):
            key = None
        last, rows = self._last_row
        if key is None or key != last:
            rows = self._rows([keywords])
            self._last_row = (key, rows)
        return rows

    def _rows(self, rows):
        """``rows`` of keywords as a C-contiguous float64 (steps, keywords) array, or ValueError naming the
        process."""
        try:
            array = np.array(rows, np.float64)
        except (TypeError, ValueError):
            raise ValueError(f"process {self.name!r}: keywords must be numbers, got {rows[0]!r}") from None
        return array.reshape(len(rows), len(self.get_keywords()))

    @property
    def previous_state(self):
        """The final state of the last ``scan`` that stored it, or None."""
        return self._previous_state

    @property
    def previous_result(self):
        """The watched values of the last ``scan`` that stored them, or None."""
        return self._previous_result

    def watch(self, *compartments):
        """Return these compartments' values from every run and scan step, as ngcsimlib's ``watch``; on a
        process already compiled (its context closed), compile it again so that they are (ngcsimlib's would
        return nothing for them)."""
        super().watch(*compartments)
        if self.is_compiled():
            self.compile()

    def clear(self):
        """Forget the last scan's state and result."""
        self._previous_state = None
        self._previous_result = None

    def scan(self, inputs, current_state=None, store_state=True, store_results=True):
        """Run the process once per row of ``inputs`` (rows of keywords, e.g. from ``pack_rows``).

        Args:
            inputs: a sequence of rows, each the keywords of one step in the order of ``get_keywords()``
                (an array of shape (steps, keywords) works too).
            current_state: the state to start from (default: the global state).
            store_state: keep the final state in ``previous_state``.
            store_results: keep the stacked watched values in ``previous_result``.

        Returns:
            (final state, watched values): a tuple with one array per watched compartment, its values after
            each step stacked along a new first axis; None when nothing is watched.

        Raises:
            RuntimeError: the process is not compiled (its context is still open).
            ValueError: ``inputs`` has no rows, or a row has the wrong number of keywords.
        """
        if not self.is_compiled():
            raise RuntimeError(f"process {self.name!r} is not compiled: close the context it was built in "
                               f"before scanning it")
        expected = len(self.get_keywords())
        if type(inputs) is np.ndarray and inputs.ndim == 2 and inputs.shape[1] == expected and len(inputs) \
                and inputs.dtype == np.float64 and inputs.flags.c_contiguous:
            rows = inputs
        else:
            rows = [list(np.atleast_1d(row)) if isinstance(row, np.ndarray) else list(row) for row in inputs]
            if not rows:
                raise ValueError(f"process {self.name!r}: scan needs at least one row of keywords")
            for index, row in enumerate(rows):
                if len(row) != expected:
                    raise ValueError(f"process {self.name!r}: row {index} has {len(row)} keywords; the process "
                                     f"takes {expected} ({', '.join(self.get_keywords()) or 'none'})")
        circuit = self.circuit()
        state = stateManager.state if current_state is None else current_state
        if circuit is not None:
            written, result = self._circuit_call(circuit, state, rows if rows is inputs else self._rows(rows))
            state.update(written)
        else:
            self.follow_batch(state)
            self._per_call()
            watched = []
            for row in (rows.tolist() if rows is inputs else rows):
                state, values = self.run.compiled(state, row)
                if values is not None:
                    watched.append(tuple(np.array(value, copy=True) for value in values))
            result = tuple(np.stack(series) for series in zip(*watched)) if watched else None
        if store_state:
            self._previous_state = state
        if store_results:
            self._previous_result = result
        return state, result


class MethodProcess(ScanMixin, _MethodProcess):
    """ngcsimlib's MethodProcess with ngc-learn's ``scan`` (see :mod:`ngc_optim.processes`)."""

    def calls(self):
        return list(self.method_order)


class JointProcess(ScanMixin, _JointProcess):
    """ngcsimlib's JointProcess with ngc-learn's ``scan`` (see :mod:`ngc_optim.processes`)."""

    def calls(self):
        calls = []
        for process in self.process_order:
            if not isinstance(process, ScanMixin):
                raise CircuitUnavailable(f"process {process.name!r} is ngcsimlib's, not ngc_optim's")
            calls.extend(process.calls())
        return calls
