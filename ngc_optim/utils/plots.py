"""ngc-learn's two plots, through matplotlib (an optional extra: ``pip install ngc-optim[plot]``):
``visualize`` (filters as image tiles) and ``create_raster_plot`` (spike trains)."""

import math

import numpy as np

__all__ = ["create_raster_plot", "visualize"]


def _pyplot():
    try:
        import matplotlib.pyplot as plt  # optional: only the plots need it
    except ImportError:
        raise ImportError("ngc_optim.utils' plots need matplotlib: pip install 'ngc-optim[plot]'") from None
    return plt


def visualize(thetas, sizes, prefix, order=None, suffix=".jpg", contrast_by_data=False):
    """Save the columns of each matrix in ``thetas`` (e.g. a synapse's weights, one filter per column) as
    grey image tiles of the matching ``sizes`` (height, width), the matrices side by side, to
    ``prefix + suffix``, as ngc-learn's ``visualize``. ``order`` is each reshape's order ("C" default);
    ``contrast_by_data`` scales each tile between its smallest and largest magnitude.

    Returns:
        The path written.
    """
    plt = _pyplot()
    filters = [np.asarray(theta).T for theta in thetas]
    if len(sizes) != len(filters):
        raise ValueError(f"visualize: {len(filters)} matrices but {len(sizes)} sizes")
    order = order or ["C"] * len(filters)
    columns = [math.ceil(math.sqrt(len(block))) for block in filters]
    rows = max(math.ceil(len(block) / width) for block, width in zip(filters, columns))
    total = sum(columns) + len(filters) - 1
    figure = plt.figure(figsize=(total, rows))
    first = 0
    for block, width, size, layout in zip(filters, columns, sizes, order):
        for index, tile in enumerate(block):
            row, column = divmod(index, width)
            axis = figure.add_subplot(rows, total, row * total + first + column + 1)
            magnitude = np.abs(tile)
            limits = (float(magnitude.min()), float(magnitude.max())) if contrast_by_data else (None, None)
            axis.imshow(np.reshape(tile, tuple(size), order=layout), cmap="bone", interpolation="nearest",
                        vmin=limits[0], vmax=limits[1])
            axis.axis("off")
        first += width + 1
    figure.subplots_adjust(hspace=0.1, wspace=0.1, top=0.9)
    path = prefix + suffix
    figure.savefig(path, bbox_inches="tight")
    plt.close(figure)
    return path


def create_raster_plot(spike_train, ax=None, s=0.5, c="black", plot_fname=None, indices=None, tag="", suffix=".jpg",
                       title_font_size=20):
    """A raster plot of ``spike_train`` (T x neurons, or T x 1 x neurons: a scan's watched spikes), as
    ngc-learn's: one row of events per neuron (only ``indices`` if given), lines of length ``s`` and colour
    ``c``; drawn into ``ax`` if given, else saved to ``plot_fname`` (default "raster_plot" + suffix).

    Returns:
        The path written, or None when drawn into ``ax``.
    """
    spikes = np.asarray(spike_train)
    if spikes.ndim == 3 and spikes.shape[1] == 1:
        spikes = spikes[:, 0, :]
    if spikes.ndim != 2:
        raise ValueError(f"create_raster_plot: spike_train must be T x neurons or T x 1 x neurons, got {spikes.shape}")
    by_neuron = spikes.T
    chosen = list(range(len(by_neuron))) if indices is None else list(indices)
    events = [np.nonzero(by_neuron[neuron])[0] for neuron in chosen]
    if ax is not None:
        ax.eventplot(events, linelengths=s, colors=c)
        return None
    plt = _pyplot()
    size = 5 if len(chosen) < 25 else len(chosen) // 5
    figure, axis = plt.subplots(figsize=(size, size))
    axis.set_title(f"Spike Train Raster Plot, {tag}", fontsize=title_font_size)
    axis.set_xlabel("Time Step")
    axis.eventplot(events, linelengths=s, colors=c)
    axis.set_yticks(range(len(chosen)), [f"N{neuron}" for neuron in chosen])
    steps = by_neuron.shape[1]
    axis.set_xticks(range(0, steps + 1, max(steps // 5, 1)))
    path = plot_fname or "raster_plot" + suffix
    figure.savefig(path)
    plt.close(figure)
    return path
