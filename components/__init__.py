"""ngcsimlib components with NumPy state and Numba kernels (installed as ``ngc_optim.components``).

Wire them in an ngcsimlib ``Context`` with ``>>`` and run them with
``MethodProcess``, as ngc-learn's; their constructor arguments follow ngc-learn
3.2 and are all JSON-serialisable, so ``Context.save_to_json`` / ``Context.load``
rebuild them, and their state is saved as HDF5 (see ``NumpyComponent``).
"""

from .bernoulli_error_cell import BernoulliErrorCell
from .dense_synapse import DenseSynapse
from .gaussian_error_cell import GaussianErrorCell
from .hebbian_synapse import PRIORS, HebbianSynapse
from .initializers import DISTRIBUTIONS, initialize
from .laplacian_error_cell import LaplacianErrorCell
from .numpy_component import NumpyComponent
from .rate_cell import ACTIVATIONS, RateCell
from .static_synapse import StaticSynapse
from .trace_stdp_synapse import TraceSTDPSynapse

__all__ = ["ACTIVATIONS", "DISTRIBUTIONS", "PRIORS", "BernoulliErrorCell", "DenseSynapse", "GaussianErrorCell", "HebbianSynapse",
           "LaplacianErrorCell", "NumpyComponent", "RateCell", "StaticSynapse", "TraceSTDPSynapse", "initialize"]
