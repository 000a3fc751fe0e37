"""ngcsimlib components with NumPy state and Numba kernels (installed as ``ngc_optim.components``).

Wire them in an ngcsimlib ``Context`` with ``>>`` and run them with
``MethodProcess``, as ngc-learn's; their constructor arguments follow ngc-learn
3.2 and are all JSON-serialisable, so ``Context.save_to_json`` / ``Context.load``
rebuild them, and their state is saved as HDF5 (see ``NumpyComponent``).
ngc-learn's import paths answer too (``ngc_optim.components.neurons.graded``,
``...neurons.spiking.LIFCell`` and the others of :mod:`.ngclearn_paths`).
"""

import sys

from .bernoulli_cell import BernoulliCell
from .bernoulli_error_cell import BernoulliErrorCell
from .conv_synapse import HebbianConvSynapse, HebbianDeconvSynapse, StaticConvSynapse, StaticDeconvSynapse
from .dense_synapse import DenseSynapse
from .event_stdp_synapse import EventSTDPSynapse
from .exp_kernel import ExpKernel
from .ganglion_cell import RetinalGanglionCell
from .gaussian_error_cell import GaussianErrorCell
from .hebbian_synapse import PRIORS, HebbianSynapse
from .initializers import DISTRIBUTIONS, initialize
from .laplacian_error_cell import LaplacianErrorCell
from .lif_cell import SURROGATES, LIFCell
from .ngclearn_paths import register
from .numpy_component import NumpyComponent, seed_from
from .patched_synapse import HebbianPatchedSynapse, StaticPatchedSynapse
from .poisson_cell import PoissonCell
from .rate_cell import ACTIVATIONS, RateCell
from .softmax_error_cell import SoftmaxErrorCell
from .static_synapse import StaticSynapse
from .trace_stdp_synapse import TraceSTDPSynapse
from .var_trace import DECAY_TYPES, VarTrace
from .wtas_cell import WTASCell

__all__ = ["ACTIVATIONS", "DECAY_TYPES", "DISTRIBUTIONS", "PRIORS", "SURROGATES", "BernoulliCell",
           "BernoulliErrorCell", "DenseSynapse", "EventSTDPSynapse", "ExpKernel", "GaussianErrorCell",
           "HebbianConvSynapse", "HebbianDeconvSynapse", "HebbianPatchedSynapse", "HebbianSynapse", "LIFCell", "LaplacianErrorCell", "NumpyComponent",
           "PoissonCell", "RateCell", "RetinalGanglionCell", "SoftmaxErrorCell", "StaticConvSynapse", "StaticDeconvSynapse", "StaticPatchedSynapse", "StaticSynapse",
           "TraceSTDPSynapse", "VarTrace", "WTASCell", "initialize", "seed_from"]

register(sys.modules[__name__])
