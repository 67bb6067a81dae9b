"""The benchmark's output: Markdown tables for a person (and docs/benchmark.md), JSON with every figure."""

from __future__ import annotations

import os
import platform
from importlib import metadata
from pathlib import Path

from edge.pipeline import STAGES


def machine() -> dict:
    """What a reader needs to compare numbers across machines, load included (a busy CPU is slower)."""
    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "arch": platform.machine(),
        "load_average": [round(v, 2) for v in os.getloadavg()],
        "python": platform.python_version(),
        "litert": package_version("ai-edge-litert") or package_version("tflite-runtime"),
    }


def cpu_model() -> str:
    """The CPU model name from /proc/cpuinfo (x86 ``model name``, ARM ``Model``), else the platform's word."""
    try:
        lines = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return platform.processor() or platform.machine()
    for key in ("model name", "Model", "Hardware"):
        for line in lines:
            if line.split(":")[0].strip() == key:
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def package_version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def _ms(latency: dict) -> str:
    return f"{latency['p50']:.2f} / {latency['p95']:.2f} / {latency['p99']:.2f}"


def pipeline_table(rows: list[dict]) -> str:
    stages = (*STAGES, "frame")
    lines = [
        "| faces | threads | fps | " + " | ".join(f"{s} ms p50/p95/p99" for s in stages) + " | CPU | peak RSS MB |",
        "|---|---|---|" + "---|" * len(stages) + "---|---|",
    ]
    for row in rows:
        cells = " | ".join(_ms(row["latency_ms"][s]) for s in stages)
        lines.append(
            f"| {row['faces_per_frame']:g} | {row['threads']} | **{row['fps']}** | {cells} | "
            f"{100 * row['cpu_share']:.0f} % | {row['peak_rss_mb']} |"
        )
    return "\n".join(lines)


def classifier_table(rows: list[dict]) -> str:
    lines = ["| model | threads | ms per face p50 / p95 / p99 | p50 vs shipped |", "|---|---|---|---|"]
    for row in rows:
        lines.append(
            f"| {row['model']} | {row['threads']} | {_ms(row['ms_per_face'])} | {row['p50_ratio_to_shipped']:.2f}x |"
        )
    return "\n".join(lines)


def accuracy_table(results: dict) -> str:
    classes = list(next(iter(results.values()))["per_class"])
    lines = [
        "| model | n | accuracy | macro F1 | " + " | ".join(f"F1 {c}" for c in classes) + " | classes it lacks |",
        "|---|---|---|---|" + "---|" * len(classes) + "---|",
    ]
    for name, result in results.items():
        f1 = " | ".join(f"{result['per_class'][c]['f1']:.3f}" for c in classes)
        lacks = ", ".join(result["missing_classes"]) or "-"
        lines.append(
            f"| {name} | {result['n']} | **{result['accuracy']:.4f}** | {result['macro_f1']:.4f} | {f1} | {lacks} |"
        )
    return "\n".join(lines)


def targets(results: dict) -> list[dict]:
    """The project's speed targets, checked on one thread where this run measured what they need: the int8
    classifier's p50 <= 1 ms per face, >= 100 fps with one face at 640x480, int8 >= 1.5x faster than float."""
    checks = []
    models = {row["model"]: row for row in results["classifiers"] if row["threads"] == 1}
    if "int8" in models:
        checks.append(_target("int8 classifier p50 per face", models["int8"]["ms_per_face"]["p50"], "<=", 1.0, "ms"))
    if "int8" in models and "float" in models:
        speedup = models["float"]["ms_per_face"]["p50"] / models["int8"]["ms_per_face"]["p50"]
        checks.append(_target("int8 speed-up over its float twin (p50)", round(speedup, 2), ">=", 1.5, "x"))
    one_face = [row for row in results["pipeline"] if row["threads"] == 1 and round(row["faces_per_frame"]) == 1]
    if one_face:
        checks.append(_target("pipeline fps, one face, 640x480", one_face[0]["fps"], ">=", 100.0, "fps"))
    return checks


def _target(name: str, value: float, relation: str, goal: float, unit: str) -> dict:
    met = value <= goal if relation == "<=" else value >= goal
    return {"target": f"{name} {relation} {goal:g} {unit}", "measured": value, "met": met}


def targets_table(checks: list[dict]) -> str:
    lines = ["| target (one thread) | measured | met |", "|---|---|---|"]
    lines += [f"| {c['target']} | {c['measured']} | {'yes' if c['met'] else '**no**'} |" for c in checks]
    return "\n".join(lines)


def markdown(report: dict) -> str:
    """All tables of a report, headed by the machine they were measured on."""
    host = report["machine"]
    parts = [
        f"Machine: {host['cpu']}, {host['cores']} cores ({host['arch']}), load average "
        f"{' / '.join(map(str, host['load_average']))}; LiteRT {host['litert']}; source: {report['source']}"
    ]
    parts += ["", "Pipeline, per frame:", "", pipeline_table(report["pipeline"])]
    parts += ["", "Classifier, per face:", "", classifier_table(report["classifiers"])]
    if report["targets"]:
        parts += ["", "Targets:", "", targets_table(report["targets"])]
    if report.get("accuracy"):
        parts += ["", f"Accuracy on {report['data']}:", "", accuracy_table(report["accuracy"])]
    return "\n".join(parts)
