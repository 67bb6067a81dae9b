import numpy as np

from edge.events import APPEARED, CHANGED, HEARTBEAT, reason_to_publish
from edge.tracker import Tracker

HAPPY, SAD = np.array([0.8, 0.1, 0.05, 0.05]), np.array([0.05, 0.1, 0.8, 0.05])


def test_face_keeps_its_id_while_it_moves_and_a_new_face_gets_a_new_one():
    tracker = Tracker()
    (first,) = tracker.update([(100, 100, 80, 80)], np.array([HAPPY]))
    (moved,) = tracker.update([(110, 104, 80, 80)], np.array([HAPPY]))
    assert moved.face_id == first.face_id and not moved.new
    (other,) = tracker.update([(400, 100, 80, 80)], np.array([HAPPY]))
    assert other.face_id != first.face_id and other.new


def test_track_survives_max_missed_frames_and_is_forgotten_after_one_more():
    tracker = Tracker(max_missed_frames=2)
    (first,) = tracker.update([(100, 100, 80, 80)], np.array([HAPPY]))
    for _ in range(2):
        tracker.update([], np.zeros((0, 4)))
    (kept,) = tracker.update([(100, 100, 80, 80)], np.array([HAPPY]))
    assert kept.face_id == first.face_id and not kept.new
    for _ in range(3):
        tracker.update([], np.zeros((0, 4)))
    (again,) = tracker.update([(100, 100, 80, 80)], np.array([HAPPY]))
    assert again.face_id != first.face_id and again.new


def test_label_changes_only_past_the_hysteresis_margin():
    tracker = Tracker(ema_alpha=0.5, hysteresis=0.1)
    box = (100, 100, 80, 80)
    (track,) = tracker.update([box], np.array([HAPPY]))
    labels, changes = [], 0
    noisy = [HAPPY, HAPPY, SAD, HAPPY, HAPPY, SAD, HAPPY]  # one-frame outliers must not flip the label
    for probabilities in noisy:
        (track,) = tracker.update([box], np.array([probabilities]))
        labels.append(track.label)
        changes += track.changed
    assert changes == 0 and set(labels) == {0}
    for _ in range(3):
        (track,) = tracker.update([box], np.array([SAD]))
        changes += track.changed
    assert track.label == 2 and changes == 1


def test_event_reasons():
    tracker = Tracker()
    (track,) = tracker.update([(0, 0, 50, 50)], np.array([HAPPY]))
    assert reason_to_publish(track, 0.0, None) == APPEARED
    track.last_event_at = 0.0
    (track,) = tracker.update([(0, 0, 50, 50)], np.array([HAPPY]))
    assert reason_to_publish(track, 1.0, None) is None
    assert reason_to_publish(track, 1.0, 2.0) is None
    assert reason_to_publish(track, 2.5, 2.0) == HEARTBEAT
    reasons = []
    for _ in range(3):
        (track,) = tracker.update([(0, 0, 50, 50)], np.array([SAD]))
        reasons.append(reason_to_publish(track, 3.0, 0.0))  # a heartbeat is due too: the change wins
    assert reasons.count(CHANGED) == 1 and set(reasons) <= {CHANGED, HEARTBEAT}
