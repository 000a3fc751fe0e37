"""ngc-learn's import paths for ngc_optim's components.

ngc-learn code imports components from the package (``from ngclearn.components
import RateCell``), from its subpackages (``ngclearn.components.neurons.graded``,
``...neurons.spiking``, ``...synapses``, ``...synapses.hebbian``, ``...synapses.convolution``,
``...input_encoders``, ``...other``) and from their modules
(``from ngclearn.components.neurons.spiking.LIFCell import LIFCell``). With
``ngclearn.components`` replaced by ``ngc_optim.components``, every such path of
a component ngc_optim has imports it: :func:`register` adds those subpackages
and modules to ``sys.modules`` when ``ngc_optim.components`` is imported.
"""

import importlib
import sys
import types

__all__ = ["FUNCTIONS", "PATHS", "register"]

PATHS = {
    "neurons.graded": {"rateCell": "RateCell", "gaussianErrorCell": "GaussianErrorCell",
                       "laplacianErrorCell": "LaplacianErrorCell", "bernoulliErrorCell": "BernoulliErrorCell"},
    "neurons.spiking": {"LIFCell": "LIFCell", "WTASCell": "WTASCell"},
    "synapses": {"denseSynapse": "DenseSynapse", "staticSynapse": "StaticSynapse"},
    "synapses.hebbian": {"hebbianSynapse": "HebbianSynapse", "traceSTDPSynapse": "TraceSTDPSynapse",
                         "eventSTDPSynapse": "EventSTDPSynapse"},
    "synapses.patched": {"staticPatchedSynapse": "StaticPatchedSynapse",
                         "hebbianPatchedSynapse": "HebbianPatchedSynapse"},
    "synapses.convolution": {"staticConvSynapse": "StaticConvSynapse", "hebbianConvSynapse": "HebbianConvSynapse",
                             "staticDeconvSynapse": "StaticDeconvSynapse",
                             "hebbianDeconvSynapse": "HebbianDeconvSynapse"},
    "input_encoders": {"bernoulliCell": "BernoulliCell", "poissonCell": "PoissonCell",
                       "ganglionCell": "RetinalGanglionCell"},
    "other": {"varTrace": "VarTrace", "expKernel": "ExpKernel"},
}
"""ngc-learn's subpackage (under ``components``) -> its module name -> the component it defines."""
FUNCTIONS = {"input_encoders.ganglionCell": {"_reconstruct": ("ngc_optim.utils.patches", "reconstruct_patches")}}
"""ngc-learn's module (under ``components``) -> functions of it that ported code imports -> (our module, name)."""


def _module(name, doc, classes):
    module = types.ModuleType(name, doc)
    for cls in classes:
        setattr(module, cls.__name__, cls)
    module.__all__ = sorted(cls.__name__ for cls in classes)
    sys.modules[name] = module
    return module


def register(package):
    """Register ngc-learn's subpackages and modules under ``package`` (the ``ngc_optim.components`` module),
    each holding the components ngc-learn's holds that ngc_optim has; a parent holds its children's too, as
    ngc-learn's do (``neurons`` has RateCell and LIFCell, ``synapses`` HebbianSynapse)."""
    names = {}
    for path, modules in PATHS.items():
        parts = path.split(".")
        for depth in range(1, len(parts) + 1):
            names.setdefault(".".join(parts[:depth]), set()).update(modules.values())
    for path in sorted(names, key=lambda path: path.count(".")):
        full = f"{package.__name__}.{path}"
        classes = [getattr(package, name) for name in sorted(names[path])]
        module = _module(full, f"ngc-learn's ``ngclearn.components.{path}``: {', '.join(sorted(names[path]))}.",
                         classes)
        module.__path__ = []
        parent, _, child = full.rpartition(".")
        setattr(sys.modules[parent], child, module)
        for module_name, class_name in PATHS.get(path, {}).items():
            leaf = _module(f"{full}.{module_name}", f"ngc-learn's module of {class_name}.",
                           [getattr(package, class_name)])
            for function, (source, name) in FUNCTIONS.get(f"{path}.{module_name}", {}).items():
                setattr(leaf, function, getattr(importlib.import_module(source), name))
            if not hasattr(module, module_name):  # ngc-learn's spiking.LIFCell: the class on the package
                setattr(module, module_name, leaf)
