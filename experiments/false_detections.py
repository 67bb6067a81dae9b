"""Where the default detector's false detections come from: each face-free frame of the detector benchmark
(``edge.tools.measure_detector``) it finds a face in, as a photo and as a stream's clip, with the best score
each pass gives that frame against the pass's threshold (a photo runs ``squares``, ``short`` and
``surround``; a stream's search runs ``full`` on the whole frame, ``short`` and ``squares``).

    python experiments/false_detections.py [--face-free 336] [--clip-frames 40]

Prints one line per face-free frame with a false detection: its index and kind, the detections as a photo,
the frames of its clip (still or panning) with a detection as a stream, and ``pass best/threshold`` for the
passes that come within 0.1 of their threshold. The frames are those of the benchmark's tables.
"""

from __future__ import annotations

import argparse

from edge.detector import FULL, MIN_SCORE, SHORT, SQUARES, SURROUND, BlazeFace, FaceDetector
from edge.tools.measure_detector import face_free_clip, face_free_frames

NEAR = 0.1  # show a pass's best score when it is this close to its threshold
PASSES = {"full": FULL, "squares": SQUARES, "short": SHORT, "surround": SURROUND}  # the default's, edge/detector.py


def pass_scores(frame, models: dict) -> list[str]:
    """``name best/threshold`` for each pass whose best score on ``frame`` is within ``NEAR`` of its
    threshold (a star where it reaches it)."""
    shown = []
    height, width = frame.shape[:2]
    for name, (model, regions, kind) in PASSES.items():
        scores = [models[model].look(frame, region)[1] for region in regions(height, width)]
        best = max((float(s.max()) for s in scores if len(s)), default=0.0)
        if best >= MIN_SCORE[kind] - NEAR:
            shown.append(f"{name} {best:.3f}/{MIN_SCORE[kind]}{'*' if best >= MIN_SCORE[kind] else ''}")
    return shown


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--face-free", type=int, default=336, help="face-free frames, as the benchmark's (336)")
    parser.add_argument("--clip-frames", type=int, default=40, help="frames per stream clip (40)")
    args = parser.parse_args()
    detector = FaceDetector(min_face_px=1, threads=1)
    models = {name: BlazeFace(name, 0.3, 1) for name in ("full", "short")}
    photo_total = stream_total = 0
    for index, (kind, scene) in enumerate(face_free_frames(args.face_free)):
        photo = len(detector.detect(scene))
        detector.new_stream()
        stream = sum(bool(detector.detect(frame, True)) for frame in face_free_clip(scene, index, args.clip_frames))
        detector.new_stream()
        photo_total, stream_total = photo_total + photo, stream_total + stream
        if photo or stream:
            motion = "panning" if index % 2 else "still"
            print(
                f"{index:4d} {kind:14s} photo {photo}  stream {stream:2d}/{args.clip_frames} frames ({motion})  "
                + "  ".join(pass_scores(scene, models)),
                flush=True,
            )
    print(f"photos: {photo_total} detections; streams: {stream_total} frames with a detection")


if __name__ == "__main__":
    main()
