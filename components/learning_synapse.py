"""Optimized, what every synapse whose weights change through an ngc_optim optimizer shares, and LearningSynapse,
the dense such synapse (the base of HebbianSynapse and TraceSTDPSynapse)."""

import numpy as np
from ngcsimlib.compartment import Compartment

from ngc_optim.buffers import Spares
from ngc_optim.optim import get_optimizer

from .dense_synapse import DenseSynapse

__all__ = ["LearningSynapse", "Optimized", "SynapsePlan"]


class SynapsePlan:
    """A learning synapse's fixed settings, and the checks of the arrays its compiled methods are given.

    Args:
        synapse: the learning synapse (an :class:`Optimized` component, e.g. a :class:`LearningSynapse`).
        shapes: name -> the shape the array of that name must have (in the synapse's dtype).
        kernels: optimizer kernel name -> the fused kernel of the synapse's rule (see
            :mod:`ngc_optim.hebbian_kernels`); the one for the synapse's optimizer becomes ``kernel``.
    """

    def __init__(self, synapse, shapes, kernels):
        self.owner = f"{type(synapse).__name__} {synapse.name!r}"
        self.dtype = synapse.dtype
        self.shapes = shapes
        self.optimizer = synapse.optimizer
        self.kernel = kernels[synapse.optimizer.kernel.name]
        self.masked = synapse.masked
        self.in_place = synapse.in_place
        self.spares = Spares()
        self.opt_params = synapse.opt_params
        self.learned = {name: getattr(synapse, name) for name in synapse._learned()}

    def checked(self, **arrays):
        """Raise ValueError naming the synapse unless each array has its shape and the synapse's dtype."""
        for name, array in arrays.items():
            if not isinstance(array, np.ndarray) or array.shape != self.shapes[name] or array.dtype != self.dtype:
                found = f"{array.dtype}{list(array.shape)}" if isinstance(array, np.ndarray) else type(array).__name__
                raise ValueError(f"{self.owner}: {name} is {found}; expected {self.dtype}{list(self.shapes[name])}")

    @staticmethod
    def slots(state, name="weights"):
        """The optimizer state's arrays of parameter ``name``, flat, as a kernel takes them; for a parameter it
        does not step (biases of a synapse without), empty arrays, one per slot (the kernel is typed for them
        but never steps them)."""
        if name in state.param_names:
            return tuple(array.ravel() for array in state.arrays(name))
        dtype = state.arrays(state.param_names[0])[0].dtype if state.slot_names else np.float32
        return tuple(np.empty(0, dtype) for _ in state.slot_names)

    def outputs(self, **arrays):
        """The arrays to write the new values of ``arrays`` (name -> current value) into: the same ones when the
        synapse updates in place (after checking they can be), else others (see :mod:`ngc_optim.buffers`)."""
        if self.in_place:
            self.writable(**arrays)
            return tuple(arrays.values())
        return tuple(self.spares.take(name, array) for name, array in arrays.items())

    def replaced(self, **arrays):
        """Keep the values new ones replaced (name -> old value) for later :meth:`outputs`."""
        if not self.in_place:
            for name, array in arrays.items():
                self.spares.put(name, array)

    def next_state(self, state):
        """(the optimizer's state after this step, the scalars of the step): ``state`` itself, counted one step
        on, when the synapse updates in place; else a new state whose slot arrays (from the spares) the kernel
        writes, ``state`` unchanged. The biases' slots (stepped in place by the rule's own kernel) start as
        copies of ``state``'s."""
        if self.in_place:
            return state, self.optimizer.advance(state)
        new = self.copied_state(state, copy=("biases",), count=state.count + 1)
        return new, self.optimizer.scalars(new.count)

    def copied_state(self, state, copy=None, count=None):
        """A state like ``state`` (its count, or ``count``) in arrays from the spares: the slots of the
        parameters in ``copy`` (default all) hold ``state``'s values, the others are to be written."""
        slots = {}
        for slot in state.slot_names:
            slots[slot] = {}
            for name, array in state.slot(slot).items():
                slots[slot][name] = fresh = self.spares.take(f"{slot} {name}", array)
                if copy is None or name in copy:
                    np.copyto(fresh, array)
        return state.with_slots(slots, state.count if count is None else count)

    def stepped_state(self, state):
        """What a compiled learning step (see the steps of :mod:`ngc_optim.hebbian_kernels`) takes from the
        circuit's state (see :class:`ngc_optim.circuit.Binding`): (the optimizer's state it reads, the state it
        writes, the arrays to write the new learned values into (as :meth:`outputs`: the weights', and the
        biases' when the optimizer steps them), count, first, finish). ``count`` is an int64 (1,) array the
        step counts in; ``first`` a uint8 (1,) array, 1 when the step's first run writes out of place (the new
        values into the outputs and into the new state's slots, from the state's: its biases' slots start as
        copies) and 0 when the synapse updates in place (the outputs, and the new state, are the state's own).
        ``finish()`` sets the count and returns {opt_params' key: the new state} when it is new."""
        held = state[self.opt_params.target]
        learned = {name: state[compartment.target] for name, compartment in self.learned.items()}
        outputs = self.outputs(**learned)
        new = held if self.in_place else self.copied_state(held, copy=("biases",))
        count = np.array([held.count], np.int64)
        first = np.array([not self.in_place], np.uint8)

        def finish():
            new.count = int(count[0])
            if new is held:
                return {}
            if first[0]:
                self.replaced(**dict(zip(learned, outputs)))
                self.replaced_state(new)
                return {}
            self.replaced(**learned)
            self.replaced_state(held)
            return {self.opt_params.target: new}

        return held, new, outputs, count, first, finish

    def replaced_state(self, state):
        """Keep the arrays of ``state``, which a new state replaced, for later :meth:`copied_state`."""
        if not self.in_place:
            for slot in state.slot_names:
                for name, array in state.slot(slot).items():
                    self.spares.put(f"{slot} {name}", array)

    def writable(self, **arrays):
        """Raise ValueError naming the synapse unless each array can be updated in place through a flat view."""
        for name, array in arrays.items():
            if not (array.flags.c_contiguous and array.flags.writeable):
                raise ValueError(f"{self.owner}: {name} must be a writable C-contiguous array")


class Optimized:
    """What every synapse whose weights (and biases, if any) an ngc_optim optimizer steps shares (mixed into a
    NumpyComponent subclass with ``weights``, ``biases`` and ``has_bias``).

    Subclasses call :meth:`_set_optimizer` in their constructor, after creating
    ``weights`` and ``biases``; the optimizer's state (step count and slot arrays,
    an :class:`ngc_optim.optim.OptimizerState`) then lives in the compartment
    ``opt_params``, as ngc-learn's, also reachable as ``opt_state``, and is saved
    with the compartments, in the checkpoint's optimizer group.

    As in ngc-learn, a value read from a compartment never changes afterwards: evolve writes the new weights
    and biases into other arrays, in the same single pass (:mod:`ngc_optim.buffers`). ``in_place=True``
    updates the arrays the state holds instead (for memory-bound users; then ``W.weights.get()`` changes with
    each evolve, and so does the optimizer's state object, ``opt_params``). Each evolve sets a new
    optimizer state in ``opt_params``, its slot arrays written in the same pass.
    """

    def _check_finite(self, **values):
        """Raise ValueError naming the synapse unless every value is a finite number (not a bool)."""
        for key, value in values.items():
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value):
                raise self._error(f"{key}={value!r} must be a finite number")

    def _set_in_place(self, in_place):
        """Whether evolve writes the new weights (and biases) over the arrays the state holds."""
        if not isinstance(in_place, bool):
            raise self._error(f"in_place={in_place!r} must be True or False")
        self.in_place = in_place

    def _set_optimizer(self, optim_type, eta, optim_kwargs):
        """The optimizer ``optim_type`` with step size ``eta``, and its fresh state in ``opt_params``."""
        optim_kwargs = dict(optim_kwargs or {})
        if "eta" in optim_kwargs:
            raise self._error("give the step size as eta, not in optim_kwargs")
        try:
            self.optimizer = get_optimizer(optim_type, eta=eta, **optim_kwargs)
        except (TypeError, ValueError) as error:
            raise self._error(f"optimizer: {error}") from None
        self.opt_params = Compartment(self.optimizer.init(self._learned()), auto_save=False)

    @property
    def opt_state(self):
        """The optimizer's state held by ``opt_params``."""
        return self.opt_params.get()

    def _learned(self):
        """The arrays the optimizer steps: weights, and biases when the synapse has them."""
        if self.has_bias:
            return {"weights": self.weights.get(), "biases": self.biases.get()}
        return {"weights": self.weights.get()}

    def _optimizers(self):
        return {self.name: (self.optimizer, self.opt_params.get())}

    def _set_optimizer_states(self, states):
        self.opt_params.set(states[self.name])


class LearningSynapse(Optimized, DenseSynapse):
    """A DenseSynapse whose weights (and biases, if any) are stepped by an ngc_optim optimizer (see
    :class:`Optimized`)."""
