"""The stream plan on its own (no models): the search visits every region in turn (every ``SEARCH_PACE``
frames while the faces followed are found), the regions around the faces found follow them, and a face no
longer found is dropped after ``KEEP_MISSED`` frames."""

from edge.detector import squares, whole
from edge.stream_plan import FOLLOW_SIDE, KEEP_MISSED, SEARCH_PACE, StreamPlan, follow_region


def plan() -> StreamPlan:
    return StreamPlan([("full", whole), ("short", whole), ("full", squares)], "follow")


def test_the_search_visits_every_region_once_a_cycle_one_per_frame():
    stream = plan()
    expected = [("full", (0, 0, 640, 480)), ("short", (0, 0, 640, 480))] + [("full", r) for r in squares(480, 640)]
    assert stream.cycle(480, 640) == expected
    seen = []
    for _ in range(2 * len(expected)):
        following, run = stream.runs(480, 640)
        assert following == []  # no face yet: one model run a frame
        seen.append(run)
        stream.update([])
    assert seen == expected + expected


def test_while_the_faces_followed_are_found_the_search_steps_every_search_pace_frames_in_the_same_order():
    stream = plan()
    searched = []
    for faces in [[]] * 2 + [[(300.0, 200.0, 40.0, 48.0)]] * (3 * SEARCH_PACE + 1):
        searched.append(stream.runs(480, 640)[1])
        stream.update(faces)
    cycle = stream.cycle(480, 640)
    assert searched[:3] == cycle[:3]  # nobody followed yet (the face is found on the third frame): every frame
    followed = searched[3:]
    assert len(followed) == 3 * SEARCH_PACE and sum(run is not None for run in followed) == 3
    assert [run for run in searched if run] == cycle  # no step skipped or taken twice


def test_a_face_is_looked_at_again_around_its_last_box_until_missed_too_long():
    stream = plan()
    stream.runs(480, 640)
    stream.update([(300.0, 200.0, 40.0, 48.0)])
    following, search = stream.runs(480, 640)
    side = FOLLOW_SIDE * 48
    assert following == [("follow", (320 - side // 2, 224 - side // 2, side, side))] and search is None
    stream.update([(310.0, 204.0, 40.0, 48.0)])  # it moved: the region moves with it
    assert stream.runs(480, 640)[0] == [("follow", (330 - side // 2, 228 - side // 2, side, side))]
    for _ in range(KEEP_MISSED):
        stream.update([])
        following, search = stream.runs(480, 640)
        assert len(following) == 1 and search is not None  # a face missed: the search steps every frame
    stream.update([])
    assert stream.runs(480, 640)[0] == []


def test_faces_are_followed_each_large_ones_on_one_whole_frame_and_a_new_frame_size_starts_afresh():
    stream = plan()
    stream.runs(480, 640)
    stream.update([(10.0, 10.0, 30.0, 30.0), (500.0, 300.0, 60.0, 60.0), (520.0, 320.0, 200.0, 160.0)])
    following, search = stream.runs(480, 640)
    assert following == [("follow", (0, 0, 90, 90)), ("follow", (440, 240, 180, 180)), ("follow", (0, 0, 640, 480))]
    stream.update([(100.0, 100.0, 170.0, 170.0)])  # a second large face shares the run on the whole frame
    assert stream.runs(480, 640)[0] == [
        ("follow", (0, 0, 640, 480)),  # the new face's, and the large one not found this time, once
        ("follow", (0, 0, 90, 90)),
        ("follow", (440, 240, 180, 180)),
    ]
    assert stream.runs(720, 1280) == ([], ("full", (0, 0, 1280, 720)))


def test_a_follow_region_stays_in_the_frame_and_a_large_face_is_followed_on_the_whole_frame():
    assert follow_region((0.0, 0.0, 30.0, 30.0), 480, 640) == (0, 0, 90, 90)
    assert follow_region((620.0, 460.0, 20.0, 20.0), 480, 640) == (580, 420, 60, 60)
    assert follow_region((200.0, 100.0, 160.0, 160.0), 480, 640) == (0, 0, 640, 480)  # 480 px: not inside
