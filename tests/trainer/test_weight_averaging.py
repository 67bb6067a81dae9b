"""Stochastic weight averaging over a phase's last epochs, carried across ``--resume``."""

import numpy as np
import tf_keras as keras  # noqa: E402

from trainer.selection import AverageLastEpochs  # noqa: E402


class Offers:
    """Stands in for the selection: records the weights it is offered and under what name."""

    def __init__(self, model):
        self.model, self.offered = model, []

    def consider(self, name, record):
        self.offered.append((name, record, [w.copy() for w in self.model.get_weights()]))


def averaging(model, folder, first_epoch=2):
    selection = Offers(model)
    callback = AverageLastEpochs(selection, first_epoch, folder)
    callback.set_model(model)
    return callback, selection


def end_epoch(callback, model, epoch, value):
    model.set_weights([np.full_like(w, value) for w in model.get_weights()])
    callback.on_epoch_end(epoch, {})


def test_the_mean_of_the_last_epochs_is_offered_once_training_ends(tmp_path):
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    callback, selection = averaging(model, tmp_path)
    for epoch, value in enumerate([10.0, 20.0, 1.0, 2.0, 6.0]):
        end_epoch(callback, model, epoch, value)
    callback.on_train_end()
    ((name, record, weights),) = selection.offered
    assert name == "mean of epochs 3-5" and record["averaged_epochs"] == [3, 5]
    assert all(np.allclose(w, 3.0) for w in weights)  # (1 + 2 + 6) / 3; epochs 1-2 left out


def test_a_resumed_run_carries_the_mean_on_and_counts_a_redone_epoch_once(tmp_path):
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    callback, _ = averaging(model, tmp_path)
    end_epoch(callback, model, 2, 1.0)
    end_epoch(callback, model, 3, 2.0)
    resumed, selection = averaging(model, tmp_path)  # killed after epoch 4, its backup from epoch 3
    end_epoch(resumed, model, 3, 50.0)  # epoch 4 trained again: already in the mean
    end_epoch(resumed, model, 4, 6.0)
    resumed.on_train_end()
    ((name, _, weights),) = selection.offered
    assert name == "mean of epochs 3-5" and all(np.allclose(w, 3.0) for w in weights)


def test_a_run_stopped_before_the_averaged_epochs_offers_nothing(tmp_path):
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    callback, selection = averaging(model, tmp_path)
    end_epoch(callback, model, 0, 1.0)
    callback.on_train_end()
    assert selection.offered == [] and not (tmp_path / "average.npz").exists()
