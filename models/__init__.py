"""Predictive-coding and spiking models built from ``ngc_optim.components`` (installed as ``ngc_optim.models``)."""
