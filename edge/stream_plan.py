"""Where the default detector looks in a stream's frame: around the faces of recent frames, and at one step of
a search that rotates over the frame.

A photo gets every pass (``full`` on four squares, ``short`` on the whole and in a gray surround: six model
runs, several times one frame's budget on one thread), which a
640x480 stream at 100 fps cannot afford on every frame. A stream does not need it: its faces stay where
they were a frame ago. So each frame runs

* for every face found in the last ``KEEP_MISSED + 1`` frames, ``short`` on a square ``FOLLOW_SIDE`` times
  the face's height around its last box (the whole frame where that square would not fit): whatever its size
  in the frame, the face then fills about a third of the model's input, where ``short`` finds it from 24 px
  up (docs/detector.md), for ~2 ms;
* one step of the search for new faces, the steps taken in turn: ``full`` on the whole frame, ``short`` on
  the whole frame (close, tightly framed faces that ``full`` drops), then ``full`` on each square (every
  face 1.7 times as large as in the whole frame; with ``small_faces`` then each of the twelve tiles too).
  While every followed face was found in the last frame, the search takes a step only every ``SEARCH_PACE``
  frames: a step (mostly ``full``) costs two or three follows, and a frame that shows its faces has less need
  to find the next one at once. With nobody in view, or a followed face just missed, it steps every frame.

A first face is found within one cycle of the search (six frames in 640x480), a face beside one in view
within ``SEARCH_PACE`` cycles (18 frames, 0.6 s at 30 fps), and followed from then on; the cost per frame is
~2 ms per face in view plus a search step every frame (nobody in view) or every third. The plan only says
where to look; ``FaceDetector.detect`` runs the models and takes a followed face's box from the run around it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from edge.tracker import iou_xywh

Region = tuple[int, int, int, int]  # x, y, w, h of the part of the frame one model run sees
Box = tuple[float, float, float, float]  # x, y, w, h of a face
Model = TypeVar("Model")  # whatever runs on a region: the plan only says where

FOLLOW_SIDE = 3  # a followed face's region: this many times its height, square, centred on its last box
KEEP_MISSED = 5  # frames a followed face is still looked for after it was last found (a blink, motion blur)
SEARCH_PACE = 3  # while every followed face is found, the search takes a step every this many frames
SAME_FACE_IOU = 0.3  # a detection overlapping a followed face this much is that face, found again


@dataclass(frozen=True)
class Followed:
    box: Box
    missed: int = 0  # frames since it was last found


def follow_region(box: Box, height: int, width: int) -> Region:
    """A square ``FOLLOW_SIDE`` times the face's height centred on it, shifted into the frame; the whole
    frame where the square would not fit in it."""
    side = round(FOLLOW_SIDE * box[3])
    if side >= min(height, width):
        return (0, 0, width, height)
    x = round(box[0] + box[2] / 2 - side / 2)
    y = round(box[1] + box[3] / 2 - side / 2)
    return (min(max(x, 0), width - side), min(max(y, 0), height - side), side, side)


class StreamPlan(Generic[Model]):
    """The per-frame plan of one stream; one per camera, since it remembers the stream's faces.

    ``search``: the (model, regions) passes whose regions the search visits one per frame, in order;
    ``follow``: the model run around each followed face."""

    def __init__(self, search: Sequence[tuple[Model, Callable[[int, int], tuple[Region, ...]]]], follow: Model):
        self.search = search
        self.follow = follow
        self.followed: list[Followed] = []
        self.frame = 0  # frames planned since the start (or the last change of frame size)
        self.step = 0  # search steps taken since then
        self._searching = False  # whether the frame planned last takes a search step
        self._shape: tuple[int, int] = (0, 0)

    def restart(self) -> None:
        """Forget the followed faces and start the search from its first step."""
        self.followed, self.frame, self.step = [], 0, 0

    def cycle(self, height: int, width: int) -> list[tuple[Model, Region]]:
        """The search's steps for this frame size, in the order they are taken."""
        return [(model, region) for model, regions in self.search for region in regions(height, width)]

    def runs(self, height: int, width: int) -> tuple[list[tuple[Model, Region]], tuple[Model, Region] | None]:
        """This frame's model runs: one around each followed face (a region two faces share runs once), and
        the search's next step, or None on a frame that skips it (``SEARCH_PACE``). A new frame size (a
        reconnected camera) starts the plan afresh."""
        if (height, width) != self._shape:
            self.restart()
            self._shape = (height, width)
        cycle = self.cycle(height, width)
        following = dict.fromkeys((self.follow, follow_region(f.box, height, width)) for f in self.followed)
        all_found = bool(self.followed) and not any(f.missed for f in self.followed)
        self._searching = not all_found or self.frame % SEARCH_PACE == 0
        return list(following), cycle[self.step % len(cycle)] if self._searching else None

    def update(self, faces: Sequence[Box]) -> None:
        """After the frame: its faces are followed from their new boxes; a followed face not among them is
        looked for again until it has been missed ``KEEP_MISSED`` frames running."""
        missing = [
            Followed(f.box, f.missed + 1)
            for f in self.followed
            if f.missed < KEEP_MISSED and all(iou_xywh(f.box, face) < SAME_FACE_IOU for face in faces)
        ]
        self.followed = [Followed(face) for face in faces] + missing
        self.frame += 1
        self.step += self._searching
