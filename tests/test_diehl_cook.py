"""DiehlCookSNN: STDP learning, normalised receptive fields, fixed evaluation, resume bit for bit, bad input."""

import numpy as np
import pytest
from ngc_optim.models import DiehlCookSNN

from ngc_optim.datasets import load_digits

SMALL = {"n_exc": 12, "T": 30, "seed": 4}


@pytest.fixture(scope="module")
def digits():
    return load_digits()


def state(model):
    return {"weights": model.W1.weights.get().copy(), "thr_theta": model.z1e.thr_theta.get().copy(),
            "z0.key": model.z0.key.get().copy(), "z1e.key": model.z1e.key.get().copy()}


def test_learning_moves_the_weights_and_keeps_each_receptive_field_normalised(digits):
    model = DiehlCookSNN(**SMALL)
    before = state(model)
    spikes = model.train_batch(digits.x_train[:1])
    after = state(model)
    assert spikes > 0
    assert np.abs(after["weights"] - before["weights"]).max() > 1e-4
    assert np.all(after["weights"] >= 0) and np.all(after["weights"] <= 1)
    np.testing.assert_allclose(after["weights"].sum(axis=0), 0.2 * 64, rtol=1e-5)
    assert after["thr_theta"].sum() == pytest.approx(0.05 * spikes, rel=1e-5)


def test_evaluation_learns_nothing(digits):
    model = DiehlCookSNN(**SMALL)
    model.fit(digits.x_train[:10], epochs=1, progress=False)
    before = state(model)
    counts = model.responses(digits.x_test[:5])
    after = state(model)
    assert counts.shape == (5, 12) and counts.sum() > 0
    np.testing.assert_array_equal(after["weights"], before["weights"])
    np.testing.assert_array_equal(after["thr_theta"], before["thr_theta"])


def test_the_raster_holds_the_spikes_the_counts_sum(digits):
    counted, rastered = DiehlCookSNN(**SMALL), DiehlCookSNN(**SMALL)
    counts = counted.responses(digits.x_test[:1])[0]
    before = state(rastered)
    inputs, excitatory = rastered.raster(digits.x_test[0])
    assert inputs.shape == (30, 64) and excitatory.shape == (30, 12)
    assert set(np.unique(inputs)) <= {0.0, 1.0} and set(np.unique(excitatory)) <= {0.0, 1.0}
    assert np.all(excitatory.sum(axis=1) <= 1)
    np.testing.assert_array_equal(excitatory.sum(axis=0), counts)
    assert counts.sum() > 0 and inputs[:, digits.x_test[0] == 0].sum() == 0 and inputs.sum() > 30
    np.testing.assert_array_equal(state(rastered)["weights"], before["weights"])
    with pytest.raises(ValueError, match="inputs have shape"):
        rastered.raster(digits.x_test[0][:10])


def test_training_is_deterministic_and_resumes_bit_for_bit(digits, tmp_path):
    x, y = digits.x_train[:16], digits.y_train[:16]

    def label(model):
        model.assign_labels(x, y)

    straight = DiehlCookSNN(**SMALL)
    straight.fit(x, epochs=2, progress=False, on_epoch=label)
    first = DiehlCookSNN(**SMALL)
    first.fit(x, epochs=1, progress=False, on_epoch=label)
    first.save(tmp_path / "snn.h5")
    resumed = DiehlCookSNN.load(tmp_path / "snn.h5")
    np.testing.assert_array_equal(resumed.labels, first.labels)
    resumed.fit(x, epochs=2, progress=False, on_epoch=label)
    for key, value in state(straight).items():
        np.testing.assert_array_equal(state(resumed)[key], value, err_msg=key)
    np.testing.assert_array_equal(resumed.labels, straight.labels)
    assert [h["train_spikes"] for h in resumed.history] == [h["train_spikes"] for h in straight.history]


def test_it_learns_digits_above_chance(digits):
    model = DiehlCookSNN(n_exc=40, T=100, seed=0)
    model.fit(digits.x_train[:300], epochs=1, progress=False)
    model.assign_labels(digits.x_train[:300], digits.y_train[:300])
    assert model.evaluate(digits.x_test[:100], digits.y_test[:100])["accuracy"] > 0.4


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"n_exc": 0}, "n_exc"), ({"T": 1.5}, "T"), ({"max_freq": -1.0}, "max_freq"), ({"A_minus": -1e-4}, "A_minus"),
    ({"optim_type": "bogus"}, "optimizer"), ({"tau_m": float("nan")}, "tau_m"), ({"seed": -1}, "seed"),
])
def test_bad_settings_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        DiehlCookSNN(**kwargs)


def test_bad_data_and_missing_labels_are_refused(digits):
    model = DiehlCookSNN(**SMALL)
    with pytest.raises(ValueError, match="assign_labels"):
        model.predict(digits.x_test[:2])
    with pytest.raises(ValueError, match="inputs have shape"):
        model.responses(np.zeros((2, 10)))
    with pytest.raises(ValueError, match="labels"):
        model.assign_labels(digits.x_train[:3], np.array([0.5, 1, 2]))
    with pytest.raises(ValueError, match="training labels"):
        model.fit(digits.x_train[:3], validation=(digits.x_test[:2], digits.y_test[:2]), progress=False)


def test_one_hot_labels_label_and_score_as_integer_labels(digits):
    by_class, by_row = DiehlCookSNN(**SMALL), DiehlCookSNN(**SMALL)
    rows = np.eye(10, dtype=np.float32)
    by_class.fit(digits.x_train[:20], digits.y_train[:20], validation=(digits.x_test[:10], digits.y_test[:10]),
                 progress=False)
    by_row.fit(digits.x_train[:20], rows[digits.y_train[:20]], validation=(digits.x_test[:10],
               rows[digits.y_test[:10]]), progress=False)
    assert np.array_equal(by_row.labels, by_class.labels)
    assert by_row.history[0]["val_accuracy"] == by_class.history[0]["val_accuracy"]
    assert np.array_equal(by_row.W1.weights.get(), by_class.W1.weights.get())
    model = by_row
    with pytest.raises(ValueError, match=r"DiehlCookSNN: one-hot labels need exactly one 1 per row: row 1 has 2"):
        model.evaluate(digits.x_test[:3], np.array([[1, 0], [1, 1], [0, 1]]))
