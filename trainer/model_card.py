"""The model card beside the shipped model, rendered from its contract JSON so its numbers are the export's."""

from __future__ import annotations

from pathlib import Path

from trainer.evaluate import markdown_table

LIMITS = """\
## Intended use
Live, on-device estimation of the apparent facial expression (happy, neutral, sad, surprise) of faces that a
face detector has already found, for aggregate signals (how a room or a kiosk audience reacts). It reports how
a face *looks*, not what a person feels, and must not be used to make decisions about individuals (hiring,
policing, health, education), nor on people who have not been told a camera is analysing them.

## Known limits
- **Four classes only.** Anger, disgust and fear faces get forced into one of these four (often sad or surprise).
- **Data bias.** FER2013 (FER+ relabels its faces) was scraped from web image search: mostly frontal, posed or semi-posed adult faces,
  skewed towards lighter skin tones and young adults; children, older people and darker skin are
  under-represented, and accuracy for them is not measured here. Labels are noisy (the audit in
  `reports/eda` flags duplicates with conflicting labels and thousands of review candidates).
- **Input.** 48x48 grayscale crops: colour is discarded; the model is trained on camera-like blur, small
  faces, low contrast, dark rooms, noise and JPEG (the robustness benchmark in `reports/robustness` measures
  how far that holds), yet strong side lighting, profile views (> ~45 degrees),
  occlusion (masks, hands) and motion blur degrade it. Sad and neutral are the classes it confuses most.
"""


def calibration(test_int8: dict) -> str:
    """The limit on reading the outputs as probabilities, with this model's own calibration error."""
    return (
        f"- **Calibration.** On test, predicted confidence and accuracy differ by {test_int8['ece']:.3f} on "
        "average (ECE); check the reliability plot of `trainer evaluate` before thresholding the scores.\n"
    )


def file_set(manifest: str | None) -> str:
    """Which files of a split a figure is on, in a few words: the figures differ by file set."""
    return f"the files `{Path(manifest).name}` keeps" if manifest else "every file"


def files_used(manifest: str | None) -> str:
    if manifest:
        return f"files from the audit's cleaned manifest (`{Path(manifest).name}`: duplicates, blanks and cross-split copies removed: train copies of validation and test images, validation copies of test images)"
    return "every file (no cleaned manifest: train still holds copies of some test images, which flatters test)"


def distillation(contract: dict) -> str:
    """The card's clause on the runs a distilled model learned from; empty when it was not distilled."""
    teachers = contract.get("distilled_from") or []
    if not teachers:
        return ""
    return f", distilled from the float {'models' if len(teachers) > 1 else 'model'} of {' and '.join(teachers)}"


def describe(arch: dict) -> str:
    """The architecture in one phrase; the stem and last-layer fields exist only for MobileNetV2."""
    shape = f"width {arch['alpha']}, {arch['input_size']}x{arch['input_size']} gray input"
    if arch.get("architecture", "mobilenet_v2") == "mobilenet_v2":
        shape += f", stem stride {arch['stem_stride']}, last 1x1 conv {arch['last_channels']} channels"
    if arch.get("flip_average"):
        shape += ", mirror-image averaging folded in"
    return f"{arch['name']} ({shape})"


def data_description(contract: dict) -> str:
    """What the model was trained on, by the data folder's name."""
    data = contract["data"]["data_dir"]
    if data.startswith("ferplus"):
        labels = "the FER+ majority of ten annotators per face" + (
            ", trained towards the annotators' vote shares" if contract.get("targets") == "votes" else ""
        )
        return f"`{data}`: FER2013's original pixels with {labels}"
    return f"`{data}`: FER2013's faces with its single original labels"


def benchmark_section(contract: dict) -> str:
    """The other datasets the export scored, each with the reason its figures differ."""
    sections = []
    for name, result in contract["metrics"].get("benchmarks", {}).items():
        table = markdown_table(
            {"int8 TFLite (this file)": result["int8"], "float TFLite twin": result["float"]}, contract["labels"]
        )
        heading = f"### Also measured: {name}/test ({result['int8']['n']} images, every file)"
        sections.append(f"{heading}\n{table}\n\n{result['note']}\n")
    return "\n".join(sections)


def render(contract: dict, shown: Path, confusion_png: str) -> str:
    model_name = shown.name
    out_flag = "" if model_name == SHIPPED_NAME else f" --out {shown}"  # else it would replace the shipped model
    arch = contract["architecture"]
    test, validation = contract["metrics"]["test"], contract["metrics"]["validation"]
    counts, files = contract["data"]["counts"], file_set(contract["data"]["manifest"])
    data_rows = "\n".join(
        f"| {split} | " + " | ".join(str(n) for n in by_class.values()) + f" | {sum(by_class.values())} |"
        for split, by_class in counts.items()
    )
    return f"""# Model card: {model_name}

A compact {describe(arch)},
trained from scratch{distillation(contract)}, fine-tuned by {contract["trained_from"]}, exported as a full-integer int8 TFLite file
(uint8 raw-pixel input, uint8 probabilities, static batch 1, Edge TPU-compatible operators:
{", ".join(contract["operators"])}). Outputs, in order: {", ".join(contract["labels"])}.
Input preprocessing (the contract's `input.preprocess`, done by the daemon): `{contract["input"].get("preprocess", "none")}`
on the gray face crop, then the resize.

## Data
{data_description(contract)}; four classes, FER2013's canonical split (train = Training, validation = PublicTest,
test = PrivateTest); {files_used(contract["data"]["manifest"])}.
Everything was chosen on validation; test is evaluated at each export, for this card, and never used for a choice.

| split | {" | ".join(contract["labels"])} | total |
|---|{"---|" * (len(contract["labels"]) + 1)}
{data_rows}

## Test metrics ({test["int8"]["n"]} images of {contract["data"]["data_dir"]}/test, PrivateTest, {files})
{markdown_table({"int8 TFLite (this file)": test["int8"], "float TFLite twin": test["float"]}, contract["labels"])}

{benchmark_section(contract)}
Validation (used for every choice; {validation["int8"]["n"]} images of {contract["data"]["data_dir"]}/validation,
PublicTest, {files}): int8 accuracy {validation["int8"]["accuracy"]:.4f}, macro-F1
{validation["int8"]["macro_f1"]:.4f}; float accuracy {validation["float"]["accuracy"]:.4f}.

![confusion matrix of the int8 model on test]({confusion_png})

{LIMITS}{calibration(test["int8"])}
Reproduce (from the repository root, where each shipped run keeps its experiment file and checkpoint under its
name, `experiments/RESULTS.md`): `trainer --config experiments/{contract["run"]}.yaml export --int8 --run
checkpoints/{contract["run"]}{out_flag}` rebuilds this file and writes this card; `trainer evaluate {shown}
--split test` scores it again.
Exported {contract["exported"]}.
"""


SHIPPED_NAME = "emotion_int8.tflite"


def write_model_card(contract: dict, model_path: Path, confusion_png: Path) -> Path:
    """``MODEL_CARD.md`` beside the shipped model; a candidate exported under another name beside it gets a
    card of its own (``<name>_MODEL_CARD.md``) instead of replacing the shipped model's."""
    name = "MODEL_CARD.md" if model_path.name == SHIPPED_NAME else f"{model_path.stem}_MODEL_CARD.md"
    path = model_path.parent / name
    path.write_text(render(contract, shown_path(model_path), confusion_png.name))
    return path


def shown_path(staged: Path) -> Path:
    """Where the staged file will live (``export`` stages in a folder beside it), relative to the working
    directory when under it, as a reader types it."""
    final = (staged.parent.parent / staged.name).absolute()
    return final.relative_to(Path.cwd()) if final.is_relative_to(Path.cwd()) else final
