"""ngcsimlib components with NumPy state and Numba kernels (installed as ``ngc_optim.components``)."""
