"""Strict checks of the workflow configuration and of graph specs, with readable messages.

A typo in a config key used to pass silently (``symprek`` ran with the default symprec, a
study's ``paried`` tripled its runs) or to fail hours later in a training job (a model
parameter ``widht``). The checker walks a config against ``workflow/schemas/config.schema.yaml``
and reports every problem at once, each with its full key path and, for an unknown key or
value, the nearest valid one: ``config key 'studies.asu.paried': unknown key; did you mean
'paired'?``. Model ``params`` and ``train`` keys are also checked per architecture against
the dataclasses the models and training loops are built from, so that check cannot drift
from the code. ``crystalbench graphs --spec`` goes through the same walker with the schema's
graph entries (:func:`check_graph_spec`), so the spec and the config cannot drift either.

The walker reads the subset of JSON Schema that the config schema uses: type, enum, const,
minimum/exclusiveMinimum/maximum, items, minItems/maxItems/uniqueItems, required,
properties, additionalProperties, minProperties, propertyNames (pattern, not const),
allOf of if/then-required, anyOf and local $ref. Integers are strict (2.0 is not one). Only
the standard library and PyYAML are needed, except for the per-architecture check (torch).
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import re
import sys
from collections.abc import Iterator, Mapping
from functools import cache
from pathlib import Path
from typing import Any, get_type_hints

import yaml

# the schema of the workflow in this checkout (src layout: src/crystalbench -> repository)
SCHEMA_PATH = Path(__file__).resolve().parents[2] / "workflow" / "schemas" / "config.schema.yaml"

Schema = dict[str, Any]
KeyPath = tuple[str | int, ...]
Problem = tuple[KeyPath, str]  # where, what


class ConfigError(ValueError):
    """Problems found in a config or a spec, one message per line (``problems``)."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


@cache
def load_schema(path: str | Path = SCHEMA_PATH) -> Schema:
    """The config schema (YAML), parsed once per path."""
    return yaml.safe_load(Path(path).read_text())


def check_config(
    config: dict[str, Any], schema_path: str | Path = SCHEMA_PATH,
    overrides: Mapping[str, Any] | None = None,
) -> None:
    """Raise :class:`ConfigError` listing every problem of ``config``.

    ``overrides`` are the ``--config`` values that Snakemake merged into ``config``. Below
    the top level it reads them as text, so they are first converted in ``config`` where the
    schema asks for a number, a boolean or null (see :func:`coerce_overrides`).
    """
    schema = load_schema(schema_path)
    if overrides:
        coerce_overrides(config, overrides, schema)
    problems = list(_walk(config, schema, schema, ()))
    flagged = {path for path, _ in problems}  # a key the schema flagged is not re-flagged
    problems += [p for p in model_problems(config) if p[0] not in flagged]
    if problems:
        raise ConfigError([_message("config", path, what, overrides or {})
                           for path, what in problems])


def check_graph_spec(spec: Any, schema_path: str | Path = SCHEMA_PATH) -> None:
    """Raise :class:`ConfigError` unless ``spec`` is a valid graph entry of the config.

    The rules are the schema's ``graphs`` entries: what the config accepts, ``--spec`` does.
    """
    schema = load_schema(schema_path)
    entry = schema["properties"]["graphs"]["additionalProperties"]
    problems = [_message("graph spec", path, what) for path, what in _walk(spec, entry, schema, ())]
    if problems:
        raise ConfigError(problems)


def _message(name: str, path: KeyPath, what: str,
             overrides: Mapping[str, Any] | None = None) -> str:
    """``config key 'studies.asu.paried': unknown key; ...`` (``config: ...`` at the root).

    A section given a plain value on the command line gets the nested form as a hint.
    """
    if path and path[0] in (overrides or {}) and what.startswith("must be a mapping"):
        what += (f" (a nested value on the command line: "
                 f"--config '{path[0]}={{\"key\": value}}')")
    if not path:
        return f"{name}: {what}"
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return f"{name} key {text!r}: {what}"


# --- the schema walker -------------------------------------------------------------------


def _resolve(schema: Schema, root: Schema) -> Schema:
    """Follow a local ``$ref`` (``#/definitions/train``)."""
    while "$ref" in schema:
        node: Any = root
        for part in schema["$ref"].removeprefix("#/").split("/"):
            node = node[part]
        schema = node
    return schema


def _suggest(word: str, options: list[str]) -> str:
    """``; did you mean 'x'?`` for the nearest option, else the options."""
    near = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    if near:
        return f"; did you mean {near[0]!r}?"
    return f"; allowed: {', '.join(options)}" if options else ""


def _type_ok(value: Any, kind: str) -> bool:
    """JSON types; integers are strict (2.5 and 2.0 are not), booleans are not numbers."""
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    return isinstance(value, {"string": str, "boolean": bool, "null": type(None),
                              "array": list, "object": dict}[kind])


def _types(schema: Schema) -> list[str]:
    kinds = schema.get("type", [])
    return [kinds] if isinstance(kinds, str) else list(kinds)


def _describe_number(schema: Schema, kind: str) -> str:
    article = "an" if kind == "integer" else "a"
    low, strict = schema.get("exclusiveMinimum"), True
    if low is None:
        low, strict = schema.get("minimum"), False
    if low == 0 and strict or low == 1 and not strict and kind == "integer":
        return f"a positive {kind}"
    if low == 0:
        return f"a non-negative {kind}"
    if low is not None:
        return f"{article} {kind} {'>' if strict else '>='} {low}"
    return f"{article} {kind}"


def describe(schema: Schema, root: Schema | None = None) -> str:
    """What a value of ``schema`` must be, in words: ``a positive integer``."""
    schema = _resolve(schema, root or {})
    if "enum" in schema:
        return "one of " + ", ".join(repr(v) for v in schema["enum"])
    if "const" in schema:
        return repr(schema["const"])
    if "anyOf" in schema:
        return " or ".join(describe(s, root) for s in schema["anyOf"])
    words = []
    for kind in _types(schema):
        if kind in ("integer", "number"):
            words.append(_describe_number(schema, kind))
        elif kind == "array":
            low, high = schema.get("minItems"), schema.get("maxItems")
            if low is not None and low == high:
                words.append(f"a list of {low} items")
            elif low:
                words.append(f"a list of at least {low} item{'s' if low > 1 else ''}")
            else:
                words.append("a list")
        else:
            words.append({"string": "a string", "boolean": "true or false", "null": "null",
                          "object": "a mapping"}[kind])
    return " or ".join(words) or "any value"


def _valid(value: Any, schema: Schema, root: Schema) -> bool:
    return next(_walk(value, schema, root, ()), None) is None


def _condition(when: Schema) -> str:
    """`` when edges is 'knn'`` for an ``if`` on properties' const or enum values."""
    parts = []
    for key, rule in when.get("properties", {}).items():
        values = [rule["const"]] if "const" in rule else rule.get("enum", [])
        if values:
            parts.append(f"{key} is " + " or ".join(repr(v) for v in values))
    return f" when {' and '.join(parts)}" if parts else ""


def _walk(value: Any, schema: Schema, root: Schema, path: KeyPath) -> Iterator[Problem]:
    """Every problem of ``value`` against ``schema``, in the order of the value's keys."""
    schema = _resolve(schema, root)
    wrong = (path, f"must be {describe(schema, root)}, got {value!r}")
    kinds = _types(schema)
    if kinds and not any(_type_ok(value, k) for k in kinds):
        yield wrong
        return
    if "enum" in schema and value not in schema["enum"]:
        options = [v for v in schema["enum"] if isinstance(v, str)]
        hint = _suggest(value, options) if isinstance(value, str) else ""
        yield path, wrong[1] + (hint if hint.startswith("; did") else "")
        return
    if ("const" in schema and value != schema["const"]
            or "anyOf" in schema and not any(_valid(value, s, root) for s in schema["anyOf"])):
        yield wrong
        return
    if _type_ok(value, "number"):
        low, high, above = (schema.get(k) for k in ("minimum", "maximum", "exclusiveMinimum"))
        if (low is not None and value < low or high is not None and value > high
                or above is not None and value <= above):
            yield wrong
    if isinstance(value, list):
        yield from _walk_list(value, schema, root, path)
    if isinstance(value, dict):
        yield from _walk_mapping(value, schema, root, path)
        for part in schema.get("allOf", []):  # if/then: keys required in some cases
            if "if" in part and _valid(value, part["if"], root):
                for key in part.get("then", {}).get("required", []):
                    if key not in value:
                        yield (*path, key), f"missing (required{_condition(part['if'])})"


def _walk_list(value: list[Any], schema: Schema, root: Schema,
               path: KeyPath) -> Iterator[Problem]:
    low, high = schema.get("minItems"), schema.get("maxItems")
    if low is not None and len(value) < low or high is not None and len(value) > high:
        yield path, f"must be {describe(schema, root)}, got {value!r}"
    if schema.get("uniqueItems"):
        repeated = sorted({repr(v) for i, v in enumerate(value) if v in value[:i]})
        if repeated:
            yield path, f"items must not repeat, got {', '.join(repeated)} more than once"
    if "items" in schema:
        for i, item in enumerate(value):
            yield from _walk(item, schema["items"], root, (*path, i))


def _walk_mapping(value: dict[str, Any], schema: Schema, root: Schema,
                  path: KeyPath) -> Iterator[Problem]:
    properties = schema.get("properties", {})
    extra = schema.get("additionalProperties", True)
    names = schema.get("propertyNames", {})
    for key in schema.get("required", []):
        if key not in value:
            yield (*path, key), "missing (required)"
    if len(value) < schema.get("minProperties", 0):
        yield path, f"needs at least {schema['minProperties']} entry"
    for key, item in value.items():
        here = (*path, key)
        if "pattern" in names and not re.search(names["pattern"], str(key)):
            yield here, f"invalid name (names match {names['pattern']})"
        if "const" in names.get("not", {}) and key == names["not"]["const"]:
            yield here, f"the name {key!r} is reserved"
        if key in properties:
            yield from _walk(item, properties[key], root, here)
        elif isinstance(extra, dict):
            yield from _walk(item, extra, root, here)
        elif extra is False:
            yield here, f"unknown key{_suggest(str(key), list(properties))}"


# --- model params and training keys, per architecture ----------------------------------


def _config_class(make_config: Any) -> type:
    """The dataclass behind a registry entry: the class itself, or what its factory returns
    (``congn_config -> NGNConfig``)."""
    if dataclasses.is_dataclass(make_config):
        return make_config  # type: ignore[return-value]
    return get_type_hints(make_config)["return"]


def _unknown_fields(values: Any, cls: type, path: KeyPath, what: str) -> list[Problem]:
    """One problem per key of ``values`` that is not a field of dataclass ``cls``."""
    if not isinstance(values, dict):
        return []
    allowed = [f.name for f in dataclasses.fields(cls)]  # type: ignore[arg-type]
    return [((*path, key), f"unknown key{what}{_suggest(key, allowed)}")
            for key in values if key not in allowed]


def model_problems(config: Mapping[str, Any]) -> list[Problem]:
    """Unknown ``params`` and ``train`` keys of crystal and force models, per architecture.

    The allowed keys are the fields of the dataclasses the models and training loops are
    built from (``build_model``'s registry, ``TrainConfig``, ``ForceTrainConfig``), so a
    parameter that the training job would reject fails the dry run instead. Known params are
    also tried on the dataclass, whose own checks (coNGN's nested block indices) run here.
    Importing them imports torch; without torch the check is skipped with a warning.
    """
    sections: list[tuple[KeyPath, Any, str]] = [(("models",), config.get("models"), "crystal")]
    forces = config.get("forces")
    if isinstance(forces, dict):
        sections.append((("forces", "models"), forces.get("models"), "force"))
    try:
        from crystalbench.models import ARCHITECTURES, FORCE_ARCHITECTURES
        from crystalbench.train import TrainConfig

        kinds: dict[str, tuple[Mapping[str, Any], type]] = {
            "crystal": (ARCHITECTURES, TrainConfig)}
        if len(sections) > 1:
            from crystalbench.forces.train import ForceTrainConfig

            kinds["force"] = (FORCE_ARCHITECTURES, ForceTrainConfig)
    except ImportError as err:  # e.g. Snakemake run outside the project's environment
        print(f"crystalbench: model params not checked ({err})", file=sys.stderr)
        return []
    problems: list[Problem] = []
    for prefix, models, kind in sections:
        registry, train_cls = kinds[kind]
        for name, model in models.items() if isinstance(models, dict) else ():
            if not isinstance(model, dict) or model.get("architecture") not in registry:
                continue  # the schema reports these
            arch = model["architecture"]
            make_config = registry[arch][1]
            path = (*prefix, name, "params")
            params = model.get("params")
            unknown = _unknown_fields(params, _config_class(make_config), path,
                                      f" for architecture {arch}")
            problems += unknown
            if not unknown and isinstance(params, dict):
                try:
                    make_config(**params)
                except (TypeError, ValueError) as err:
                    problems.append((path, str(err)))
            trains = [((*prefix, name, "train"), model.get("train"))]
            by_dataset = model.get("train_by_dataset")
            if isinstance(by_dataset, dict):
                trains += [((*prefix, name, "train_by_dataset", d), t)
                           for d, t in by_dataset.items()]
            for train_path, train in trains:
                problems += _unknown_fields(train, train_cls, train_path,
                                            f" for {kind}-model training")
    return problems


# --- --config overrides ----------------------------------------------------------------


def _kind_of(value: Any) -> str:
    return next(k for k in ("null", "boolean", "integer", "number", "string", "array", "object")
                if _type_ok(value, k))


def _accepted(schema: Schema | None, root: Schema) -> list[str]:
    """JSON types a value of ``schema`` may have; empty when the schema does not say."""
    if schema is None:
        return []
    schema = _resolve(schema, root)
    if "anyOf" in schema:
        return [k for s in schema["anyOf"] for k in _accepted(s, root)]
    if "const" in schema:
        return [_kind_of(schema["const"])]
    if "enum" in schema:
        return [_kind_of(v) for v in schema["enum"]]
    return _types(schema)


def _readings(text: str) -> Iterator[Any]:
    """What a bare scalar can mean besides text, most specific first (as Snakemake reads a
    top-level ``--config`` value): int, finite float, boolean, null."""
    try:
        yield int(text)
    except ValueError:
        pass
    try:
        number = float(text)
        if math.isfinite(number):
            yield number
    except ValueError:
        pass
    if text.lower() in ("true", "false"):
        yield text.lower() == "true"
    if text in ("null", "~"):
        yield None


def _child(schema: Schema | None, key: str, root: Schema) -> Schema | None:
    """The schema of ``key`` inside an object schema (None: not known)."""
    if schema is None:
        return None
    schema = _resolve(schema, root)
    if key in schema.get("properties", {}):
        return schema["properties"][key]
    extra = schema.get("additionalProperties")
    return extra if isinstance(extra, dict) else None


def _coerce(value: Any, schema: Schema | None, root: Schema) -> Any:
    """``value`` with its text leaves read as ``schema`` accepts them: '2' -> 2 for an
    integer, left as text where the schema wants text or no reading fits, and read as any
    scalar where the schema does not say (model params)."""
    if isinstance(value, dict):
        return {k: _coerce(v, _child(schema, k, root), root) for k, v in value.items()}
    if isinstance(value, list):
        items = _resolve(schema, root).get("items") if schema is not None else None
        return [_coerce(v, items, root) for v in value]
    if not isinstance(value, str):
        return value
    kinds = _accepted(schema, root)
    for reading in _readings(value):
        if not kinds or any(_type_ok(reading, k) for k in kinds):
            return reading
    return value


def coerce_overrides(config: dict[str, Any], overrides: Mapping[str, Any],
                     schema: Schema) -> None:
    """Convert, in ``config``, the text values that came from ``--config`` ``overrides``.

    Snakemake reads a top-level ``--config key=value`` as int, float, bool or text, but the
    inside of a nested value (``train={"threads": 2}``) with YAML's BaseLoader: every leaf is
    text ('2'), which the schema then rejects. Each such leaf is read the way the schema
    wants it (2); it stays text where the schema wants text (``device``), and where no
    reading fits the check reports it as it stands.
    """

    def walk(node: dict[str, Any], over: Mapping[str, Any], node_schema: Schema | None) -> None:
        for key, value in over.items():
            if key not in node:
                continue
            sub = _child(node_schema, key, schema)
            if isinstance(value, Mapping) and isinstance(node[key], dict):
                walk(node[key], value, sub)
            else:
                node[key] = _coerce(node[key], sub, schema)

    walk(config, overrides, schema)
