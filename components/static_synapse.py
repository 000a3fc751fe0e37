"""StaticSynapse: a dense synaptic cable that does not learn."""

from typing import ClassVar

from .dense_synapse import DenseSynapse

__all__ = ["StaticSynapse"]


class StaticSynapse(DenseSynapse):
    """A dense synaptic cable with no plasticity, as ngc-learn's (arguments as :class:`DenseSynapse`)."""

    SPEC: ClassVar[dict] = {**DenseSynapse.SPEC,
                            "summary": "StaticSynapse: a DenseSynapse that does not learn; "
                                       "outputs = (inputs @ (weights * mask)) * g_conduct_factor + biases"}
