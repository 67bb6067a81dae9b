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
        lines.append(f"| {row['faces_per_frame']:g} | {row['threads']} | **{row['fps']}** | {cells} | "
                     f"{100 * row['cpu_share']:.0f} % | {row['peak_rss_mb']} |")
    return "\n".join(lines)


def classifier_table(rows: list[dict]) -> str:
    lines = ["| model | threads | ms per face p50 / p95 / p99 | p50 vs shipped |", "|---|---|---|---|"]
    for row in rows:
        lines.append(f"| {row['model']} | {row['threads']} | {_ms(row['ms_per_face'])} | "
                     f"{row['p50_ratio_to_shipped']:.2f}x |")
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
        lines.append(f"| {name} | {result['n']} | **{result['accuracy']:.4f}** | {result['macro_f1']:.4f} | "
                     f"{f1} | {lacks} |")
    return "\n".join(lines)


def markdown(report: dict) -> str:
    """All tables of a report, headed by the machine they were measured on."""
    host = report["machine"]
    parts = [f"Machine: {host['cpu']}, {host['cores']} cores ({host['arch']}), load average "
             f"{' / '.join(map(str, host['load_average']))}; LiteRT {host['litert']}; source: {report['source']}"]
    parts += ["", "Pipeline, per frame:", "", pipeline_table(report["pipeline"])]
    parts += ["", "Classifier, per face:", "", classifier_table(report["classifiers"])]
    if report.get("accuracy"):
        parts += ["", f"Accuracy on {report['data']}:", "", accuracy_table(report["accuracy"])]
    return "\n".join(parts)
