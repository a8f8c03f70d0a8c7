"""Validate the workflow config against its JSON schema, with messages that name the key path; and the
canonical, typed parameter values that a grid point's path and identity are built from.

Canonical values: each parameter is typed by the schema (integer -> int, number -> float, boolean -> bool,
enum -> str, null kept as None), so `beta: [0, 1]` and `beta: [0.0, 0.5, 1.0]` give the same values for 0 and 1,
and `k: 16.0` is `k: 16`. Dicts handed to rules as params are sorted by key, so the order keys are written in
never reruns a job (Snakemake compares params by repr).
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from .constraints import ae_problems, size_problems
from .data import LOCAL_FILE_SOURCES, image_pixels, train_size

SCHEMA_PATH = Path(__file__).resolve().parent.parent / "schemas" / "config.schema.yaml"
# Model config fields that say where a job runs, not what it computes: never a parameter of a point, never in
# its params or resume fingerprint. The device comes from the train_model resource `device` (default auto).
RUN_ENVIRONMENT = ("device",)
# Keys that configs used to accept, with what replaces them (the schema alone would only say "unexpected").
MOVED_KEYS = {
    "project": "`project` was replaced by `nonneg`, the one nonnegativity option: `project: true` is `nonneg: project`, "
    "`project: false` is `nonneg: none` (the default)",
    "device": "`device` is where training runs, not a hyperparameter: set it with `--set-resources train_model:device=cpu` "
    "(or in a profile); the default, auto, uses CUDA when present",
}
MAX_PROBLEMS_PER_ENTRY = 20  # per-point problems listed per model entry; a large grid would repeat them


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


def _moved_keys(config: Any) -> list[str]:
    """Errors for keys the config used to accept, saying what replaces them (read before the schema: any shape)."""
    models = config.get("models") if isinstance(config, dict) else None
    errors = []
    for i, entry in enumerate(models if isinstance(models, list) else []):
        for section in ("grid", "settings"):
            values = entry.get(section) if isinstance(entry, dict) else None
            for key in values if isinstance(values, dict) else ():
                if key in MOVED_KEYS:
                    errors.append(f"models[{i}].{section}.{key}: {MOVED_KEYS[key]}")
    return errors


def _about_moved_keys_only(error: jsonschema.ValidationError) -> bool:
    """True for an 'unexpected key' error whose every key is a moved one (reported by _moved_keys instead)."""
    if error.validator != "additionalProperties" or not isinstance(error.instance, dict):
        return False
    unexpected = set(error.instance) - set(error.schema.get("properties", {}))
    return bool(unexpected) and unexpected <= set(MOVED_KEYS)


# --------------------------------------------------------------------------- typed, canonical values


@dataclass(frozen=True)
class Field:
    """One parameter of a model family as the schema declares it."""

    kind: str  # "int" | "float" | "bool" | "str"
    nullable: bool  # null allowed (nmf_sc's sW/sH: unconstrained)
    default: Any  # the family's default, equal to its config dataclass's (tests/test_config.py checks)


@functools.lru_cache(maxsize=4)
def _load_schema(path: str) -> dict:
    return yaml.safe_load(Path(path).read_text())


def load_schema(path: str | Path = SCHEMA_PATH) -> dict:
    """The parsed schema (parsed once per path: treat it as read-only)."""
    return _load_schema(str(path))


def family_fields(schema: dict, family: str) -> dict[str, Field]:
    """Every parameter of `family` (bar the seed, which the grid adds), typed, from the schema's $defs."""
    kinds = {"integer": "int", "number": "float", "boolean": "bool", "string": "str"}
    fields = {}
    for key, prop in schema["$defs"][f"{family}_params"]["properties"].items():
        prop = _resolve(prop, schema)
        types = prop.get("type", "string")  # an enum of strings has no type
        types = [types] if isinstance(types, str) else list(types)
        nullable = "null" in types
        (kind,) = {kinds[t] for t in types if t != "null"}
        fields[key] = Field(kind, nullable, prop.get("default"))
    return fields


def canonical(value: Any, field: Field | None) -> Any:
    """The one typed spelling of a (schema-valid) value: 16.0 -> 16 for integers, 0 -> 0.0 for numbers, None kept."""
    if value is None or field is None:
        return value
    if field.kind == "int":
        return int(value)
    if field.kind == "float":
        return float(value) + 0.0  # + 0.0 turns -0.0 into 0.0: one spelling for zero
    if field.kind == "bool":
        return bool(value)
    return str(value)


def sorted_dict(value: Any) -> Any:
    """`value` with every dict in it sorted by key (lists keep their order): a canonical rule param."""
    if isinstance(value, Mapping):
        return {key: sorted_dict(value[key]) for key in sorted(value)}
    if isinstance(value, list):
        return [sorted_dict(item) for item in value]
    return value


def entry_grid(entry: dict, fields: dict[str, Field]) -> dict[str, list]:
    """The entry's grid lists, canonical, sorted by key (the seed not included)."""
    return {key: [canonical(v, fields.get(key)) for v in entry["grid"][key]] for key in sorted(entry["grid"])}


def entry_settings(entry: dict, fields: dict[str, Field]) -> dict:
    """Every parameter of the entry that is not in its grid: its settings over the family's defaults, sorted."""
    given = {key: canonical(value, fields.get(key)) for key, value in entry.get("settings", {}).items()}
    merged = {key: field.default for key, field in fields.items()} | given
    return {key: merged[key] for key in sorted(merged) if key not in entry["grid"]}


# --------------------------------------------------------------------------- checks the schema cannot make


def _origin(i: int, entry: dict, grid: dict, key: str, value: Any) -> str:
    """Where a point's value of `key` comes from, as a key path: the grid list item, the settings, or the default."""
    if key in grid:
        return f"models[{i}].grid.{key}[{grid[key].index(value)}]"
    if key in entry.get("settings", {}):
        return f"models[{i}].settings.{key}"
    return f"models[{i}].settings.{key} (not set: the default {value!r})"


def _point_errors(i: int, entry: dict, datasets: dict[str, dict], schema: dict) -> list[str]:
    """What each point of entry i asks for that its family or data cannot do, named by the key it comes from."""
    fields = family_fields(schema, entry["type"])
    grid, settings = entry_grid(entry, fields), entry_settings(entry, fields)
    sizes = {name: (train_size(datasets[name]), image_pixels(datasets[name])) for name in entry.get("datasets", datasets)}
    found: dict[str, None] = {}  # insertion-ordered set of messages
    for values in itertools.product(*grid.values()):
        cfg = settings | dict(zip(grid, values))
        for key, message in ae_problems(cfg) if entry["type"] == "ae" else ():
            found[f"{_origin(i, entry, grid, key, cfg[key])}: {message}"] = None
        for name, (n_train, pixels) in sizes.items():
            for key, message in size_problems(entry["type"], cfg, n_train, pixels):
                found[f"{_origin(i, entry, grid, key, cfg[key])} on dataset {name!r}: {message}"] = None
        if len(found) > MAX_PROBLEMS_PER_ENTRY:
            break
    errors = list(found)[:MAX_PROBLEMS_PER_ENTRY]
    if len(found) > MAX_PROBLEMS_PER_ENTRY:
        errors.append(f"models[{i}]: more problems of the same kind in its other grid points")
    return errors


def _duplicate_values(i: int, entry: dict, schema: dict) -> list[str]:
    """Grid lists (and seeds) naming one value twice (0 and 0.0 for a number) would give one point two jobs."""
    fields = family_fields(schema, entry["type"])
    lists = [(f"grid.{key}", values, fields.get(key)) for key, values in entry["grid"].items()]
    errors = []
    for where, raw, field in [*lists, ("seeds", entry["seeds"], Field("int", False, 0))]:
        values = [canonical(value, field) for value in raw]
        for j, value in enumerate(values):
            first = values.index(value)
            if first != j:
                errors.append(f"models[{i}].{where}[{j}]: {raw[j]!r} is the same value as item {first} ({raw[first]!r}); list each value once")
    return errors


def _file_errors(config: dict, root: Path) -> list[str]:
    """The user's own files must exist before the workflow plans jobs that read them."""
    errors = []
    for i, d in enumerate(config["datasets"]):
        if d["source"] not in LOCAL_FILE_SOURCES:
            continue
        for key in ("path", "labels_path"):
            if key in d and not (root / d[key]).exists():
                where = "" if Path(d[key]).is_absolute() else f" (relative to {root})"
                errors.append(f"datasets[{i}].{key}: file not found: {d[key]}{where}")
    return errors


def _published_errors(config: dict, schema: dict) -> list[str]:
    """Each published entry must name a dataset and a model of this config that runs on it, and a point whose every
    key is a parameter of that model with a value its grid (or settings, or seeds) has."""
    errors = []
    names = [d["name"] for d in config["datasets"]]
    entries = {m.get("name", m["type"]): (i, m) for i, m in enumerate(config["models"])}
    for j, published in enumerate(config.get("published", [])):
        where = f"published[{j}]"
        if published["dataset"] not in names:
            errors.append(f"{where}.dataset: unknown dataset {published['dataset']!r}; known: {names}")
        if published["model"] not in entries:
            errors.append(f"{where}.model: unknown model {published['model']!r}; known: {list(entries)}")
            continue
        i, entry = entries[published["model"]]
        if published["dataset"] in names and published["dataset"] not in entry.get("datasets", names):
            errors.append(f"{where}: models[{i}] ({published['model']}) does not run on dataset {published['dataset']!r}")
        fields = family_fields(schema, entry["type"])
        grid, settings = entry_grid(entry, fields), entry_settings(entry, fields)
        allowed = grid | {key: [value] for key, value in settings.items()} | {"seed": [int(seed) for seed in entry["seeds"]]}
        for key, value in published["point"].items():
            if key not in allowed:
                errors.append(f"{where}.point.{key}: not a parameter of models[{i}] ({entry['type']}); known: {sorted(allowed)}")
            elif canonical(value, fields.get(key, Field("int", False, 0))) not in allowed[key]:
                errors.append(f"{where}.point.{key}: {value!r} is not a value models[{i}] runs; it runs {allowed[key]}")
    return errors


def _semantic_errors(config: dict, schema: dict, root: Path) -> list[str]:
    """What a schema cannot say: uniqueness, cross-references, rules across parameters, sizes, files."""
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
    errors += _file_errors(config, root)
    datasets = {d["name"]: d for d in config["datasets"]}
    model_names = [m.get("name", m["type"]) for m in config["models"]]
    for i, m in enumerate(config["models"]):
        if model_names.index(model_names[i]) != i:
            errors.append(f"models[{i}].name: duplicate model name {model_names[i]!r}; give each entry its own `name`")
        unknown = [dataset for dataset in m.get("datasets", []) if dataset not in names]
        for j, dataset in enumerate(m.get("datasets", [])):
            if dataset not in names:
                errors.append(f"models[{i}].datasets[{j}]: unknown dataset {dataset!r}; known: {names}")
        both = sorted(set(m["grid"]) & set(m.get("settings", {})))
        if both:
            errors.append(f"models[{i}]: {both} set in both grid and settings; keep each key in one place")
        errors += _duplicate_values(i, m, schema)
        if not unknown and not both:
            errors += _point_errors(i, m, datasets, schema)
    return errors + _published_errors(config, schema)


def validate_config(config: dict, schema_path: str | Path = SCHEMA_PATH, root: str | Path | None = None) -> dict:
    """Check `config` in place, fill defaults, and raise ConfigError listing every problem.

    root: the directory relative dataset paths are read from (the working directory by default).
    """
    schema = load_schema(schema_path)
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(config), key=lambda e: [str(p) for p in e.absolute_path])
    problems = _moved_keys(config) + [_describe(e) for e in errors if not _about_moved_keys_only(e)]
    if not problems:
        _fill_defaults(config, schema, schema)
        problems = _semantic_errors(config, schema, Path.cwd() if root is None else Path(root))
    if problems:
        raise ConfigError("invalid config:\n  " + "\n  ".join(problems))
    return config
