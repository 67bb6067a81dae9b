"""``edge bench``: how fast and how accurate the shipped pipeline is, measured side by side in one run.

* speed of the whole daemon pipeline (decode, detect, classify, track, publish; p50/p95/p99 per stage,
  end-to-end fps, CPU share, peak RSS) for each thread count and each number of faces per frame
  (``stream``, ``speed``);
* per-face latency of the int8 classifier, its float twin and any ``--peer`` model, as ratios (``models``);
* with ``--data``, accuracy, per-class and macro F1 of the same models on a folder dataset (``accuracy``).

``run`` ties them together; ``report`` prints Markdown tables and writes the JSON.
"""
