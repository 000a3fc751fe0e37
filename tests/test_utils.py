"""ngc_optim.utils: ngc-learn's DistributionGenerator as JSON specs, its import paths, its small utilities."""

import itertools
import json
from pathlib import Path

import numpy as np
import pytest
from ngc_optim.components import DenseSynapse, initialize
from ngcsimlib.context import Context

from ngc_optim.utils import DistributionGenerator as DG
from ngc_optim.utils import (
    create_raster_plot,
    generate_patch_set,
    makedir,
    measure_ACC,
    measure_CatNLL,
    normalize_matrix,
    reconstruct_patches,
    visualize,
)

_names = itertools.count()


def drawn(spec, shape=(4, 5), seed=3):
    return initialize(dict(spec), shape, np.random.default_rng(seed), np.float64)


def test_each_distribution_draws_from_its_formula():
    rng = np.random.default_rng(3)
    np.testing.assert_array_equal(drawn(DG.uniform(-0.5, 2.0)), rng.uniform(-0.5, 2.0, (4, 5)))
    rng = np.random.default_rng(3)
    np.testing.assert_array_equal(drawn(DG.gaussian(1.0, 0.5)), rng.normal(1.0, 0.5, (4, 5)))
    rng = np.random.default_rng(3)
    np.testing.assert_array_equal(drawn(DG.log_gaussian(0.7)), rng.lognormal(0.0, 0.7, (4, 5)))
    np.testing.assert_array_equal(drawn(DG.constant(2.5)), np.full((4, 5), 2.5))
    expected = np.full((4, 5), -1.0)
    np.fill_diagonal(expected, 3.0)
    np.testing.assert_array_equal(drawn(DG.diag_offdiag(3.0, -1.0)), expected)
    uniform = drawn(DG.fan_in_uniform(), (400, 25))  # ngc-learn's fan-in of the uniform one: shape[1]
    assert 0.19 < np.abs(uniform).max() <= 0.2
    gaussian = drawn(DG.fan_in_gaussian(), (25, 4000))  # and of the gaussian one: shape[0]
    assert gaussian.std() == pytest.approx(0.2, rel=0.02)


def test_the_shaping_options_apply_in_ngclearns_order():
    values = drawn(DG.uniform(-2.0, 2.0))
    np.testing.assert_array_equal(drawn(DG.uniform(-2.0, 2.0, amin=-0.5, amax=0.5)), np.clip(values, -0.5, 0.5))
    np.testing.assert_array_equal(drawn(DG.uniform(-2.0, 2.0, lower_triangle=True)), np.tril(values))
    np.testing.assert_array_equal(drawn(DG.uniform(-2.0, 2.0, upper_triangle=True)), np.triu(values))
    np.testing.assert_array_equal(drawn(DG.uniform(-2.0, 2.0, hollow=True)), (1.0 - np.eye(4, 5)) * values)
    np.testing.assert_array_equal(drawn(DG.uniform(-2.0, 2.0, eye=True)), np.eye(4, 5) * values)
    kept = drawn(DG.uniform(-2.0, 2.0, col_mask=[1, 3]))
    np.testing.assert_array_equal(kept[:, [1, 3]], values[:, [1, 3]])
    assert not kept[:, [0, 2, 4]].any()
    rows = drawn(DG.uniform(-2.0, 2.0, row_mask=2))
    assert (np.abs(rows).sum(axis=1) > 0).sum() == 2
    np.testing.assert_array_equal(rows[np.abs(rows).sum(axis=1) > 0], values[np.abs(rows).sum(axis=1) > 0])


def test_a_spec_is_json_draws_when_called_and_rebuilds_a_component():
    spec = DG.constant(-120.0, hollow=True)
    assert json.loads(json.dumps(spec)) == {"dist": "constant", "value": -120.0, "hollow": True}
    np.testing.assert_array_equal(spec((3, 3)), (1.0 - np.eye(3)) * np.float32(-120.0))
    assert spec((3, 3)).dtype == np.float32 and DG.uniform(dtype=np.float64)((2, 2)).dtype == np.float64
    with Context(f"dg{next(_names)}"):
        synapse = DenseSynapse("W", (3, 3), weight_init=DG.uniform(0.0, 0.3, hollow=True), seed=4)
    arguments = json.loads(json.dumps(synapse.to_json()))
    with Context(f"dg{next(_names)}"):
        rebuilt = DenseSynapse(**arguments["kwargs"])
    np.testing.assert_array_equal(rebuilt.weights.get(), synapse.weights.get())
    assert not np.diag(synapse.weights.get()).any() and synapse.weights.get().any()


@pytest.mark.parametrize(("make", "error", "message"), [
    (lambda: DG.uniform(1.0, 0.0), ValueError, r"uniform needs amin <= amax"),
    (lambda: DG.gaussian(0.0, -1.0), ValueError, r"sigma=-1.0 is negative"),
    (lambda: DG.constant(1.0, hollow="yes"), ValueError, r"hollow='yes' must be true or false"),
    (lambda: DG.constant(1.0, lower_triangle=True, upper_triangle=True), ValueError, r"exclude each other"),
    (lambda: DG.constant(1.0, col_mask=-1), ValueError, r"col_mask=-1 must be a count or a list"),
    (lambda: DG.constant(1.0, amax=float("nan")), ValueError, r"clip_max=nan is not a finite number"),
    (lambda: DG.constant(1.0, sparsity=0.5), TypeError, r"unknown options \['sparsity'\]"),
    (lambda: DG.constant(1.0, row_mask=5)((3, 3)), ValueError, r"row_mask=5 keeps more than the 3 there are"),
    (lambda: DG.constant(1.0, col_mask=[0, 7])((3, 3)), ValueError, r"col_mask index 7 is out of range for 3"),
])
def test_bad_options_are_refused_naming_the_option(make, error, message):
    with pytest.raises(error, match=message):
        make()


def test_ngclearn_import_paths_answer():
    from ngc_optim.components import (
        EventSTDPSynapse,
        HebbianPatchedSynapse,
        HebbianSynapse,
        LIFCell,
        PoissonCell,
        RateCell,
        VarTrace,
    )
    from ngc_optim.components.input_encoders.poissonCell import PoissonCell as poisson
    from ngc_optim.components.neurons import LIFCell as lif
    from ngc_optim.components.neurons.graded.rateCell import RateCell as rate
    from ngc_optim.components.neurons.spiking import LIFCell as spiking
    from ngc_optim.components.neurons.spiking.LIFCell import LIFCell as module_lif
    from ngc_optim.components.other.varTrace import VarTrace as trace
    from ngc_optim.components.synapses.hebbian import HebbianSynapse as hebbian
    from ngc_optim.components.synapses.hebbian.eventSTDPSynapse import EventSTDPSynapse as event
    from ngc_optim.components.synapses.patched import HebbianPatchedSynapse as patched

    assert (rate, lif, spiking, module_lif, hebbian, poisson, trace, event, patched) == (
        RateCell, LIFCell, LIFCell, LIFCell, HebbianSynapse, PoissonCell, VarTrace, EventSTDPSynapse,
        HebbianPatchedSynapse)


def test_small_utilities_follow_ngclearn(tmp_path):
    makedir(str(tmp_path / "a" / "b"))
    makedir(str(tmp_path / "a" / "b"))
    assert (tmp_path / "a" / "b").is_dir()
    data = np.array([[1.0, -2.0], [3.0, 0.0]])
    np.testing.assert_allclose(np.abs(normalize_matrix(data, 2.0)).sum(axis=0), [2.0, 2.0])
    np.testing.assert_allclose(np.linalg.norm(normalize_matrix(data, 1.0, order=2, axis=1), axis=1), [1.0, 1.0])
    scores = np.array([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7]])
    assert measure_ACC(scores, np.eye(2)[[1, 0, 0]]) == pytest.approx(2 / 3)
    assert measure_ACC(scores, np.array([1, 0, 0]), extract_label_indx=False) == pytest.approx(2 / 3)
    targets = np.eye(2)[[1, 0, 1]]
    expected = -np.log([0.9, 0.8, 0.7])
    assert measure_CatNLL(scores, targets) == pytest.approx(expected.mean())
    np.testing.assert_allclose(measure_CatNLL(scores, targets, preserve_batch=True), expected[:, None])
    with pytest.raises(ValueError, match=r"measure_ACC: predictions \(3, 2\) and labels \(2, 2\)"):
        measure_ACC(scores, np.eye(2))


@pytest.mark.parametrize(("patch_size", "max_patches"), [((3, 3), 5), ((2, 4), 0.3), ((8, 8), 3), ((4, 4), None)])
def test_patch_sets_are_scikit_learns_patches(patch_size, max_patches):
    from sklearn.feature_extraction.image import extract_patches_2d

    images = np.random.default_rng(1).random((3, 64))
    expected = np.concatenate([extract_patches_2d(image.reshape(8, 8), patch_size, max_patches=max_patches,
                                                  random_state=7).reshape(-1, patch_size[0] * patch_size[1])
                               for image in images])
    raw = generate_patch_set(images, patch_size, max_patches, center=False, seed=7)
    np.testing.assert_array_equal(raw, expected)
    centred, means = generate_patch_set(images, patch_size, max_patches, seed=7, vis_mode=True)
    np.testing.assert_allclose(centred, expected - expected.mean(axis=1, keepdims=True))
    np.testing.assert_allclose(means, expected.mean(axis=1, keepdims=True))
    with pytest.raises(ValueError, match=r"square images as rows"):
        generate_patch_set(np.zeros((2, 10)))
    with pytest.raises(ValueError, match=r"max_patches=0 must be a positive int"):
        generate_patch_set(images, max_patches=0)


def test_plots_write_their_files(tmp_path):
    import matplotlib.pyplot as plt

    weights = np.random.default_rng(2).standard_normal((16, 5))
    path = visualize([weights, weights[:, :3]], [(4, 4), (4, 4)], str(tmp_path / "filters"), contrast_by_data=True)
    assert path.endswith("filters.jpg") and (tmp_path / "filters.jpg").stat().st_size > 1000
    spikes = (np.random.default_rng(3).random((40, 1, 6)) < 0.2) * 1.0
    raster = create_raster_plot(spikes, plot_fname=str(tmp_path / "raster.png"), tag="z1")
    assert (tmp_path / "raster.png").stat().st_size > 1000 and raster.endswith("raster.png")
    figure, axis = plt.subplots()
    assert create_raster_plot(spikes[:, 0, :], ax=axis, indices=[0, 2]) is None
    assert len(axis.collections) == 2
    plt.close(figure)


RECONSTRUCT = np.load(Path(__file__).parent / "data" / "ngclearn_reconstruct_vectors.npz")


@pytest.mark.parametrize("case", json.loads(str(RECONSTRUCT["meta_json"]))["cases"].items(), ids=lambda c: c[0])
def test_reconstruct_patches_matches_ngclearn(case):
    """ngc-learn 3.2.3's _reconstruct (recorded), bit for bit, NaN where no patch covers a pixel; also under
    ngc-learn's module path."""
    from ngc_optim.components.input_encoders.ganglionCell import _reconstruct

    name, settings = case
    arguments = (settings["nx_ny"], settings["area_shape"], settings["patch_shape"], settings["step_shape"])
    images = reconstruct_patches(RECONSTRUCT[f"reconstruct/{name}/patches"], *arguments)
    expected = RECONSTRUCT[f"reconstruct/{name}/images"]
    assert images.dtype == np.float32
    np.testing.assert_array_equal(images, expected)
    assert _reconstruct is reconstruct_patches
    assert (name == "uncovered") == bool(np.isnan(expected).any())


def test_reconstruct_patches_averages_overlaps_and_refuses_misfits():
    patches = np.stack([np.full((2, 2), 1.0), np.full((2, 2), 3.0)])[None]
    images = reconstruct_patches(patches, (2, 1), (2, 3), (2, 2), (1, 1))
    np.testing.assert_array_equal(images[0], [[1.0, 2.0, 3.0], [1.0, 2.0, 3.0]])
    assert images.dtype == np.float64
    with pytest.raises(ValueError, match=r"patches have shape \(1, 2, 2, 2\); expected \(batch, 3, 2, 2\)"):
        reconstruct_patches(patches, (3, 1), (2, 6), (2, 2), (2, 2))
    with pytest.raises(ValueError, match=r"2 x 1 patches of \(2, 2\) at steps \(1, 2\) do not fit in \(2, 3\)"):
        reconstruct_patches(patches, (2, 1), (2, 3), (2, 2), (1, 2))
