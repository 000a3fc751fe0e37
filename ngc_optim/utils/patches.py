"""ngc-learn's patch sampler, without scikit-learn (``generate_patch_set``), and its images from patches
(``reconstruct_patches``)."""

import math
import numbers

import numpy as np

__all__ = ["generate_patch_set", "reconstruct_patches"]


def _patch_count(rows, columns, max_patches):
    """How many patches scikit-learn's extract_patches_2d takes: every position when max_patches is None, at
    most max_patches (an int), or that fraction of them (a float in (0, 1))."""
    positions = rows * columns
    if max_patches is None:
        return positions
    if isinstance(max_patches, numbers.Integral) and not isinstance(max_patches, bool) and max_patches > 0:
        return min(int(max_patches), positions)
    if isinstance(max_patches, numbers.Real) and 0 < max_patches < 1:
        return int(max_patches * positions)
    raise ValueError(f"generate_patch_set: max_patches={max_patches!r} must be a positive int, a fraction in "
                     f"(0, 1) or None")


def generate_patch_set(x_batch, patch_size=(8, 8), max_patches=50, center=True, seed=1234, vis_mode=False):
    """Patches of the square images in the rows of ``x_batch``, flattened into the rows of the result, as
    ngc-learn's ``generate_patch_set``: from each image, ``max_patches`` patches at positions drawn with
    replacement by ``numpy.random.RandomState(seed)`` (the same positions for every image, and the same
    draws as scikit-learn's ``extract_patches_2d`` with ``random_state=seed``), each centred on its own
    mean when ``center``.

    Returns:
        (patches, D x (pH * pW)), or (patches, their means (D, 1)) when ``vis_mode`` (0 without centring).

    Raises:
        ValueError: images that are not square rows, or a patch larger than an image.
    """
    images = np.asarray(x_batch)
    side = math.isqrt(images.shape[1]) if images.ndim == 2 else 0
    if images.ndim != 2 or side * side != images.shape[1] or not len(images):
        raise ValueError(f"generate_patch_set: x_batch must hold square images as rows, got {images.shape}")
    height, width = patch_size
    if not (0 < height <= side and 0 < width <= side):
        raise ValueError(f"generate_patch_set: patch_size {patch_size} does not fit in {side}x{side} images")
    rows, columns = side - height + 1, side - width + 1
    count = _patch_count(rows, columns, max_patches)
    if max_patches is None:
        starts = np.divmod(np.arange(count), columns)
    else:
        rng = np.random.RandomState(seed)
        starts = rng.randint(rows, size=count), rng.randint(columns, size=count)
    offsets = np.add.outer(np.arange(height) * side, np.arange(width)).ravel()
    corners = starts[0] * side + starts[1]
    patches = images[:, (corners[:, None] + offsets)].reshape(len(images) * count, height * width)
    means = np.mean(patches, axis=1, keepdims=True) if center else 0
    patches = patches - means
    return (patches, means) if vis_mode else patches


def reconstruct_patches(patches, nx_ny, area_shape, patch_shape, step_shape):
    """Images from their patches, as ngc-learn's ``ganglionCell._reconstruct`` (which its pc_reconstruction
    exhibit draws its figures with; ``ngc_optim.components.input_encoders.ganglionCell._reconstruct`` is
    this function).

    ``patches`` (batch, nx * ny, px, py): patch k = i * nx + j is added at rows i * sx .. i * sx + px and
    columns j * sy .. j * sy + py of the (batch, ix, iy) images, for i < ny and j < nx (the order and the
    float32 sums of ngc-learn's); each pixel is then divided by how many patches cover it, so overlaps are
    averaged and a pixel no patch covers is NaN (0/0, as there). float32 patches give float32 images, as
    ngc-learn's; float64 ones float64 images (ngc-learn's JAX without x64 rounds them to float32).
    """
    patches = np.asarray(patches)
    (nx, ny), (ix, iy), (px, py), (sx, sy) = nx_ny, area_shape, patch_shape, step_shape
    if patches.ndim != 4 or patches.shape[1:] != (nx * ny, px, py):
        raise ValueError(f"patches have shape {patches.shape}; expected (batch, {nx * ny}, {px}, {py})")
    if (ny - 1) * sx + px > ix or (nx - 1) * sy + py > iy:
        raise ValueError(f"{nx} x {ny} patches of {tuple(patch_shape)} at steps {tuple(step_shape)} do not fit "
                         f"in {tuple(area_shape)}")
    dtype = np.result_type(patches.dtype, np.float32)
    images = np.zeros((len(patches), ix, iy), dtype)
    counts = np.zeros((ix, iy), dtype)
    for index in range(nx * ny):
        row, column = index // nx * sx, index % nx * sy
        images[:, row:row + px, column:column + py] += patches[:, index]
        counts[row:row + px, column:column + py] += 1
    with np.errstate(invalid="ignore"):
        return images / counts
