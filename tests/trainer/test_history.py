"""Training history as ``--resume`` leaves it: an epoch trained again after a kill is logged twice."""

from trainer.figures import plot_training_curves, read_history

HEADER = "epoch,accuracy,loss,val_accuracy,val_macro_f1\n"


def test_an_epoch_logged_twice_keeps_its_later_row(tmp_path):
    (tmp_path / "float").mkdir()
    (tmp_path / "float/history.csv").write_text(
        HEADER + "0,0.40,1.30,0.35,0.30\n1,0.50,1.20,0.45,0.40\n1,0.55,1.10,0.50,0.48\n2,0.60,1.00,0.55,0.52\n")
    history = read_history(tmp_path / "float/history.csv")
    assert history["epoch"] == [0, 1, 2]
    assert history["val_macro_f1"] == [0.30, 0.48, 0.52]
    assert plot_training_curves(tmp_path).stat().st_size > 0
