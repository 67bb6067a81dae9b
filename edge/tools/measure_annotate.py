"""Speed and memory of ``edge annotate`` on a long 640x480 recording (the README's figures):

    python -m edge.tools.measure_annotate [--minutes 10] [--faces 1] [--detector multiscale]

Writes ``edge bench``'s clip of the sample face (640x480 MPEG-4 at 30 fps, ``edge.bench.stream``) of the
given length to a temporary folder, then runs ``edge annotate`` on it in this process with the shipped model,
one interpreter thread and OpenCV limited to one thread, while a sampler reads the resident memory every
second. Prints frames per second over the whole run (decode, detect, classify, track, draw, encode, CSV,
timeline), the share of a core the process got (``cpu_share``: on a shared machine less than 1, and
``frames_per_cpu_second`` is then the rate with a core to itself) and the resident memory after the first
10% of frames, halfway and at the end: flat memory means the last two stay at the first. Everything it
wrote is deleted.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import tempfile
import threading
import time
from pathlib import Path

import cv2

from edge.annotate import annotate
from edge.bench.stream import write_clip
from edge.config import DetectorConfig, EdgeConfig
from edge.detector import PLANS

FPS = 30
SAMPLE_EVERY_S = 1.0


def resident_mb() -> float:
    """This process's resident memory now (Linux: /proc/self/statm, in pages)."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--faces", type=int, default=1)
    parser.add_argument("--detector", choices=list(PLANS), default=DetectorConfig().model, help="(edge.detector.model)")
    args = parser.parse_args()
    cv2.setNumThreads(1)
    frames = round(args.minutes * 60 * FPS)
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        clip = write_clip(Path(tmp) / "long.mp4", args.faces, frames)
        print(
            f"clip: {frames} frames 640x480, {args.faces} face(s), {clip.stat().st_size / 2**20:.0f} MiB, "
            f"written in {time.perf_counter() - started:.0f} s",
            flush=True,
        )
        samples: list[tuple[float, float]] = []  # (seconds since start, resident MiB)
        done = threading.Event()

        def sample() -> None:
            while not done.wait(SAMPLE_EVERY_S):
                samples.append((time.perf_counter() - started, resident_mb()))

        config = EdgeConfig(threads=1, detector={"model": args.detector}, annotate={"out_dir": Path(tmp) / "out"})
        sampler = threading.Thread(target=sample, daemon=True)
        cpu_started = sum(resource.getrusage(resource.RUSAGE_SELF)[:2])
        started = time.perf_counter()
        sampler.start()
        annotate(config, str(clip))
        elapsed = time.perf_counter() - started
        done.set()
        cpu = sum(resource.getrusage(resource.RUSAGE_SELF)[:2]) - cpu_started
        summary = json.loads((Path(tmp) / "out" / "summary.json").read_text())
    at = {share: next((mb for t, mb in samples if t >= share * elapsed), samples[-1][1]) for share in (0.1, 0.5, 1.0)}
    print(
        json.dumps(
            {
                "detector": args.detector,
                "frames": summary["frames"],
                "faces_tracked": len(summary["faces"]),
                "seconds": round(elapsed, 1),
                "fps": round(summary["frames"] / elapsed, 1),
                "cpu_share": round(cpu / elapsed, 2),
                "frames_per_cpu_second": round(summary["frames"] / cpu, 1),
                "rss_mb_at_10%": round(at[0.1], 1),
                "rss_mb_at_50%": round(at[0.5], 1),
                "rss_mb_at_end": round(at[1.0], 1),
                "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
