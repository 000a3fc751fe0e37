"""Predictive-coding and spiking models built from ``ngc_optim.components`` (installed as ``ngc_optim.models``)."""

from .base import DivergenceError, physical_memory
from .diehl_cook import DiehlCookSNN
from .pcn import PCN
from .reconstruction import GenerativePCN

__all__ = ["PCN", "DiehlCookSNN", "DivergenceError", "GenerativePCN", "physical_memory"]
