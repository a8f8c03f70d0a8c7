"""Validate the workflow config against its JSON schema, with messages that name the key path."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import yaml

SCHEMA_PATH = Path(__file__).resolve().parent.parent / "schemas" / "config.schema.yaml"


class ConfigError(ValueError):
    """The config is malformed; the message names every offending key path."""


def key_path(parts) -> str:
    """['models', 2, 'grid', 'p', 0] -> 'models[2].grid.p[0]'."""
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "<top level>"


def _describe(error: jsonschema.ValidationError) -> str:
    message = error.message
    if error.validator == "additionalProperties" and "properties" in error.schema:
        message += f"; allowed: {sorted(error.schema['properties'])}"
    return f"{key_path(error.absolute_path)}: {message}"


def _resolve(schema: dict, root: dict) -> dict:
    """Follow a local `$ref` ("#/$defs/...") to the schema it names."""
    while "$ref" in schema:
        target = root
        for part in schema["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        schema = target
    return schema


def _fill_defaults(instance: Any, schema: dict, root: dict) -> None:
    """Set schema defaults for missing keys, recursively (objects and array items)."""
    schema = _resolve(schema, root)
    if isinstance(instance, dict):
        for key, sub in schema.get("properties", {}).items():
            if key not in instance and "default" in sub:
                instance[key] = yaml.safe_load(yaml.safe_dump(sub["default"]))  # a fresh copy
            if key in instance:
                _fill_defaults(instance[key], sub, root)
    elif isinstance(instance, list) and isinstance(schema.get("items"), dict):
        for item in instance:
            _fill_defaults(item, schema["items"], root)


def _semantic_errors(config: dict) -> list[str]:
    """What a schema cannot say: uniqueness and cross-references."""
    errors = []
    names = [d["name"] for d in config["datasets"]]
    for i, name in enumerate(names):
        if names.index(name) != i:
            errors.append(f"datasets[{i}].name: duplicate dataset name {name!r}")
    for i, d in enumerate(config["datasets"]):
        if d["source"] == "bars" and not d["min_lines"] <= d["max_lines"] <= 2 * d["size"]:
            errors.append(
                f"datasets[{i}]: bars need min_lines <= max_lines <= 2*size, got "
                f"min_lines={d['min_lines']}, max_lines={d['max_lines']}, size={d['size']}"
            )
    model_names = [m.get("name", m["type"]) for m in config["models"]]
    for i, m in enumerate(config["models"]):
        if model_names.index(model_names[i]) != i:
            errors.append(f"models[{i}].name: duplicate model name {model_names[i]!r}; give each entry its own `name`")
        for j, dataset in enumerate(m.get("datasets", [])):
            if dataset not in names:
                errors.append(f"models[{i}].datasets[{j}]: unknown dataset {dataset!r}; known: {names}")
        if m["type"] == "ae":  # KL needs codes in [0, 1] (report Sec. 3.2): only a sigmoid encoder gives them
            penalties = m["grid"].get("penalty", [m.get("settings", {}).get("penalty", "kl")])
            encoders = m["grid"].get("encoder_activation", [m.get("settings", {}).get("encoder_activation", "sigmoid")])
            if "kl" in penalties and set(encoders) != {"sigmoid"}:
                errors.append(
                    f"models[{i}]: penalty 'kl' requires encoder_activation 'sigmoid' (codes in [0, 1]); "
                    f"got {sorted(set(encoders) - {'sigmoid'})}; choose penalty among ['l2', 'eps_l1', 'log', 'none']"
                )
        both = sorted(set(m["grid"]) & set(m.get("settings", {})))
        if both:
            errors.append(f"models[{i}]: {both} set in both grid and settings; keep each key in one place")
    return errors


def validate_config(config: dict, schema_path: str | Path = SCHEMA_PATH) -> dict:
    """Check `config` in place, fill defaults, and raise ConfigError listing every problem."""
    schema = yaml.safe_load(Path(schema_path).read_text())
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(config), key=lambda e: [str(p) for p in e.absolute_path])
    problems = [_describe(e) for e in errors]
    if not problems:
        _fill_defaults(config, schema, schema)
        problems = _semantic_errors(config)
    if problems:
        raise ConfigError("invalid config:\n  " + "\n  ".join(problems))
    return config
