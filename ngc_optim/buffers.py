"""Arrays to write a compartment's new value into, so that a value read with ``.get()`` never changes afterwards.

A learning synapse writes its new weights into another array, not over the ones
the state holds (ngc-learn's values are immutable; code ported from it reads
``W_old = W.weights.get()`` before an evolve and subtracts after). The array it
replaced is kept, and reused for the next new value when nothing but this
module holds it any more (no compartment, no variable, no view, no Numba array
sharing its memory): reference counts tell, so a training loop that only reads
the current weights allocates nothing after its first steps.
"""

import sys

import numpy as np
from numba.core.runtime import _nrt_python

__all__ = ["Spares"]


def _unheld(array):
    """Whether only the caller's one local variable holds ``array`` (and nothing else its memory)."""
    if sys.getrefcount(array) != 3:  # the caller's variable, this argument, getrefcount's argument
        return False
    base = array.base
    if base is None:
        return True
    return type(base) is _nrt_python._MemInfo and sys.getrefcount(base) == 3  # the array's, base, the argument


class Spares:
    """The arrays a component's values replaced last, by name, each reused for a later value when unheld."""

    def __init__(self):
        self._spares = {}

    def take(self, name, like):
        """An array of ``like``'s shape and dtype (C order, writable) to write the new value of ``name`` into:
        the one it replaced last if nothing else holds it, else a new one."""
        spare = self._spares.pop(name, None)
        if spare is not None and spare.shape == like.shape and spare.dtype == like.dtype \
                and spare.flags.c_contiguous and spare.flags.writeable and _unheld(spare):
            return spare
        return np.empty(like.shape, like.dtype)

    def copy(self, name, value):
        """A copy of ``value`` in an array from :meth:`take`."""
        array = self.take(name, value)
        np.copyto(array, value)
        return array

    def put(self, name, replaced):
        """Keep ``replaced``, the value a new one of ``name`` replaced, for a later :meth:`take`."""
        self._spares[name] = replaced
