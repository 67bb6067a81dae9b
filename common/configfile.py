"""Load one section of the shared ``config.yaml`` into a validated pydantic model.

Both programs read the same file (``trainer:`` and ``edge:`` sections). This module is the single place
that turns YAML plus command-line overrides into typed settings, and turns every validation problem into
one line naming the key, so a typo never becomes a traceback or a silently ignored option.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar, get_args

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, ValidationInfo, field_validator

from common.errors import UserError

SECTIONS = ("trainer", "edge")

Model = TypeVar("Model", bound=BaseModel)


class ConfigError(UserError):
    """A missing, unreadable or invalid configuration file or key."""


def holds_bool(value: object) -> bool:
    """``true``/``false``, alone or in a list."""
    return isinstance(value, bool) or (isinstance(value, list) and any(isinstance(item, bool) for item in value))


def takes_bool(annotation: object) -> bool:
    """Whether a field's type has ``bool`` anywhere in it (``bool``, ``Optional[bool]``, ...)."""
    return annotation is bool or any(takes_bool(arg) for arg in get_args(annotation))


class Strict(BaseModel):
    """Base for every settings block: unknown keys are errors, assignments are re-validated, and ``true`` is
    not a number (pydantic would read ``threads: true`` as 1)."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    @field_validator("*", mode="before")
    @classmethod
    def _no_bool_for_a_number(cls, value: object, info: ValidationInfo) -> object:
        if holds_bool(value) and not takes_bool(cls.model_fields[info.field_name].annotation):
            raise ValueError("true/false is not a value for this key")
        return value


class UniqueKeyLoader(yaml.SafeLoader):
    """YAML whose mappings refuse a key given twice: by default the last one silently wins, so a setting
    written in two places would take the one its author did not look at."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key {key!r} appears twice in one mapping", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep)


def default_config_path() -> Path | None:
    """``./config.yaml`` when there is one: both CLIs read it without being told."""
    path = Path("config.yaml")
    return path if path.is_file() else None


def add_config_flag(parser: argparse.ArgumentParser, verb: bool = False) -> None:
    """``--config FILE`` on the program (``edge --config F run``) or on a verb (``edge run --config F``):
    the verb's copy has no default, so it never overwrites a file named before the verb."""
    parser.add_argument(
        "--config",
        type=Path,
        default=argparse.SUPPRESS if verb else None,
        help="config file (default: ./config.yaml if present)",
    )


def absolute(value: str | None) -> Path | None:
    """Command-line paths are relative to the working directory (the file's are relative to the file)."""
    return Path(value).resolve() if value is not None else None


def read_yaml(path: Path) -> dict[str, Any]:
    """The file's top-level mapping, checked for unknown sections."""
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=UniqueKeyLoader)  # noqa: S506 - a SafeLoader
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read config file ({exc})") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise ConfigError(f"{path}:{where} invalid YAML ({getattr(exc, 'problem', exc)})") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping with 'trainer:' and/or 'edge:' at the top level")
    unknown = sorted(set(data) - set(SECTIONS))
    if unknown:
        raise ConfigError(f"{path}: {unknown[0]}: unknown section (expected one of {', '.join(SECTIONS)})")
    return data


def apply_overrides(section: dict[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """Set dotted keys (``mqtt.host``) from the command line; ``None`` means 'not given, keep the file's'."""
    merged = dict(section)
    for dotted, value in overrides.items():
        if value is None:
            continue
        node = merged
        *parents, leaf = dotted.split(".")
        for key in parents:
            child = node.get(key)
            node[key] = dict(child) if isinstance(child, dict) else {}
            node = node[key]
        node[leaf] = value
    return merged


def describe(error: ValidationError, section: str, source: str) -> str:
    """The first validation problem as one line: ``config.yaml: edge.mqtt.port: Input should be ... (got 'x')``."""
    first = error.errors()[0]
    key = ".".join(filter(None, (section, blamed_key(error))))
    message = first["msg"]
    if first["type"] == "extra_forbidden":
        message = "unknown key"
    elif "input" in first and not isinstance(first["input"], (dict, list)):
        message += f" (got {first['input']!r})"
    return f"{source}: {key}: {message}"


def load_section(
    path: Path | None,
    section: str,
    model: type[Model],
    overrides: Mapping[str, Any] | None = None,
) -> Model:
    """Validate ``section`` of the file at ``path`` (or defaults when ``path`` is None), overrides applied.

    Relative paths in the file are resolved against the file's own folder, so the same config works
    whatever directory the service or the user starts from.
    """
    data = read_yaml(path) if path is not None else {}
    raw = data.get(section) or {}
    source = str(path) if path is not None else "command line"
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: {section}: expected a mapping")
    raw = apply_overrides(raw, overrides or {})
    base_dir = path.resolve().parent if path is not None else Path.cwd()
    try:
        return model.model_validate(raw, context={"base_dir": base_dir})
    except ValidationError as exc:
        blamed = blamed_key(exc)
        from_flag = any(
            blamed == key or blamed.startswith(f"{key}.")  # a list's item: bench.threads.0
            for key, value in (overrides or {}).items()
            if value is not None
        )
        raise ConfigError(describe(exc, section, "command line" if from_flag else source)) from None


def blamed_key(error: ValidationError) -> str:
    """The dotted key (within its section) of the first validation problem, as overrides name keys."""
    return ".".join(str(part) for part in error.errors()[0]["loc"])


def resolve_path(value: Path | None, info) -> Path | None:
    """Field validator helper: a relative path is taken relative to the config file's folder."""
    if value is None or value.is_absolute():
        return value
    base = (info.context or {}).get("base_dir") if info is not None else None
    return Path(os.path.normpath(Path(base) / value)) if base else value
