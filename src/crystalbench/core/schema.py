"""The config schema's rules in words: ``jsonschema`` finds the problems, this module names
each with its key path and, for an unknown key or value, the nearest valid one
(``config key 'studies.asu.paried': unknown key; did you mean 'paired'?``). Integers are
strict (2.0 is not one). ``crystalbench graphs --spec`` is checked against the schema's graph
entries, so the spec cannot drift from the config.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterator, Mapping
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator, ValidationError, validators

# the schema of the workflow in this checkout (src layout: src/crystalbench/core -> repository)
SCHEMA_PATH = Path(__file__).resolve().parents[3] / "workflow" / "schemas" / "config.schema.yaml"

Schema = dict[str, Any]
KeyPath = tuple[str | int, ...]
Problem = tuple[KeyPath, str]  # where, what

# JSON Schema counts 2.0 as an integer; a config must write integers as integers
StrictValidator = validators.extend(
    Draft202012Validator, type_checker=Draft202012Validator.TYPE_CHECKER.redefine(
        "integer", lambda _, value: isinstance(value, int) and not isinstance(value, bool)))


class ConfigError(ValueError):
    """Problems found in a config or a spec, one message per line (``problems``)."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


@cache
def load_schema(path: str | Path = SCHEMA_PATH) -> Schema:
    """The config schema (YAML), parsed once per path."""
    return yaml.safe_load(Path(path).read_text())


def load_config(path: str | Path) -> dict[str, Any]:
    """A config file as the workflow sees it: validated, with the schema's defaults filled in
    (the schema is the one source of defaults)."""
    from snakemake.utils import validate

    config = yaml.safe_load(Path(path).read_text())
    validate(config, str(SCHEMA_PATH))
    return config


def check_graph_spec(spec: Any, schema_path: str | Path = SCHEMA_PATH) -> None:
    """Raise :class:`ConfigError` unless ``spec`` is a valid graph entry of the config."""
    schema = load_schema(schema_path)
    entry = schema["properties"]["graphs"]["additionalProperties"]
    problems = schema_problems(spec, entry, schema)
    if problems:
        raise ConfigError([problem_message("graph spec", path, what) for path, what in problems])


def problem_message(name: str, path: KeyPath, what: str,
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


# --- schema errors in words ----------------------------------------------------------------


def schema_problems(value: Any, schema: Schema, root: Schema | None = None) -> list[Problem]:
    """The problems of ``value`` against ``schema`` (a part of ``root``), in the order of the
    value's keys, each once."""
    root = schema if root is None else root
    validator = StrictValidator(root)
    if schema is not root:  # (evolving to the root, which names $schema, drops strictness)
        validator = validator.evolve(schema=schema)
    found = dict.fromkeys(p for e in validator.iter_errors(value) for p in _problems(e, root))
    return sorted(found, key=lambda problem: _position(value, problem[0]))


def _problems(error: ValidationError, root: Schema) -> Iterator[Problem]:
    """``error`` as (key path, what is wrong); several for keys unknown or missing."""
    path, kind, rule, value = (tuple(error.absolute_path), error.validator,
                               error.validator_value, error.instance)
    if list(error.schema_path)[-2:-1] == ["propertyNames"]:  # value: a key of the mapping
        yield (*path, value), (f"the name {value!r} is reserved" if kind == "not"
                               else f"invalid name (names match {rule})")
    elif kind == "additionalProperties":
        allowed = list(error.schema.get("properties", {}))
        for key in value:
            if key not in allowed:
                yield (*path, key), f"unknown key{suggest(str(key), allowed)}"
    elif kind == "required":
        when = _condition(_if_of(error.schema, root))
        for key in rule:
            if key not in value:
                yield (*path, key), f"missing (required{when})"
    elif kind == "minProperties":
        yield path, f"needs at least {rule} entr{'y' if rule == 1 else 'ies'}"
    elif kind == "uniqueItems":
        repeated = sorted({repr(v) for i, v in enumerate(value) if v in value[:i]})
        yield path, f"items must not repeat, got {', '.join(repeated)} more than once"
    elif kind in ("type", "enum", "const", "anyOf", "minimum", "exclusiveMinimum", "minItems",
                  "maxItems"):  # the value does not fit its schema, which describe() words
        near = suggest(value, _options(error), listed=False) if isinstance(value, str) else ""
        yield path, f"must be {describe(error.schema)}, got {value!r}{near}"
    else:  # a rule the schema does not use yet: jsonschema's own words
        yield path, error.message


def _options(error: ValidationError) -> list[str]:
    """The text values that an enum or const allows, also in the branches of an anyOf."""
    if error.validator == "anyOf":
        return [option for branch in error.context or () for option in _options(branch)]
    values = {"enum": error.validator_value, "const": [error.validator_value]}
    return [v for v in values.get(error.validator, []) if isinstance(v, str)]


def _position(value: Any, path: KeyPath) -> list[int]:
    """Where ``path`` lies in ``value``, for sorting: keys in their order, missing keys first."""
    where = []
    for part in path:
        keys = (list(value) if isinstance(value, dict)
                else range(len(value)) if isinstance(value, list) else [])
        where.append(keys.index(part) if part in keys else -1)
        value = value[part] if part in keys else None
    return where


def _if_of(then: Schema, node: Any) -> Schema | None:
    """The ``if`` beside the ``then`` schema in the schema ``node`` (None: no such ``then``)."""
    if isinstance(node, dict) and node.get("then") is then:
        return node.get("if")
    children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else ()
    return next((when for child in children if (when := _if_of(then, child)) is not None), None)


def _condition(when: Schema | None) -> str:
    """`` when edges is 'knn'`` for an ``if`` on properties' const or enum values."""
    parts = []
    for key, rule in (when or {}).get("properties", {}).items():
        values = [rule["const"]] if "const" in rule else rule.get("enum", [])
        if values:
            parts.append(f"{key} is " + " or ".join(repr(v) for v in values))
    return f" when {' and '.join(parts)}" if parts else ""


def suggest(word: str, options: list[str], listed: bool = True) -> str:
    """``; did you mean 'x'?`` for the nearest option, else (``listed``) the options."""
    near = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    if near:
        return f"; did you mean {near[0]!r}?"
    return f"; allowed: {', '.join(options)}" if options and listed else ""


def describe(schema: Schema) -> str:
    """What a value of ``schema`` must be, in words: ``a positive integer``."""
    if "enum" in schema:
        return "one of " + ", ".join(repr(v) for v in schema["enum"])
    if "const" in schema:
        return repr(schema["const"])
    if "anyOf" in schema:
        return " or ".join(describe(s) for s in schema["anyOf"])
    kinds = schema.get("type", [])
    return " or ".join(_describe_type(schema, kind) for kind in
                       ([kinds] if isinstance(kinds, str) else kinds)) or "any value"


def _describe_type(schema: Schema, kind: str) -> str:
    if kind in ("integer", "number"):
        low, strict = schema.get("exclusiveMinimum"), True
        if low is None:
            low, strict = schema.get("minimum"), False
        if low == 0 and strict or low == 1 and not strict and kind == "integer":
            return f"a positive {kind}"
        if low == 0:
            return f"a non-negative {kind}"
        bound = f" {'>' if strict else '>='} {low}" if low is not None else ""
        return f"{'an' if kind == 'integer' else 'a'} {kind}{bound}"
    if kind == "array":
        low, high = schema.get("minItems"), schema.get("maxItems")
        if low is not None and low == high:
            return f"a list of {low} items"
        return f"a list of at least {low} item{'s' if low > 1 else ''}" if low else "a list"
    return {"string": "a string", "boolean": "true or false", "null": "null",
            "object": "a mapping"}[kind]


# --- --config overrides ----------------------------------------------------------------


def _reading(text: str) -> Any:
    """A bare scalar read as Snakemake reads a top-level ``--config`` value: int, finite float,
    boolean or null, else the text."""
    for read in (int, float):
        try:
            if math.isfinite(number := read(text)):
                return number
        except ValueError:
            pass
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    return None if text in ("null", "~") else text


def _text_leaves(node: Any, over: Any, path: KeyPath) -> Iterator[tuple[Any, Any, KeyPath]]:
    """(container, key, key path) of each text value in ``node`` that the override ``over``
    set (Snakemake merges a mapping into a mapping and replaces anything else)."""
    items = (over.items() if isinstance(over, Mapping)
             else enumerate(over) if isinstance(over, list) else ())
    for key, sub in items:
        try:
            value = node[key]
        except (KeyError, IndexError, TypeError):
            continue
        if isinstance(value, str):
            yield node, key, (*path, key)
        else:
            yield from _text_leaves(value, sub, (*path, key))


def coerce_overrides(config: dict[str, Any], overrides: Mapping[str, Any],
                     schema: Schema) -> None:
    """Convert, in ``config``, the text values that came from ``--config`` ``overrides``.

    Snakemake reads a top-level ``--config key=value`` as int, float, bool or text, but the
    inside of a nested value (``train={"threads": 2}``) with YAML's BaseLoader: every leaf is
    text ('2'), which the schema then rejects. Each such leaf is read as a number, boolean or
    null (2) unless the schema then reports a wrong type there: it stays text where the schema
    wants text (``device``) and is read where the schema does not say (model params).
    """
    validator = StrictValidator(schema)
    for parent, key, path in list(_text_leaves(config, overrides, ())):
        text, parent[key] = parent[key], _reading(parent[key])
        if any(error.validator == "type" and tuple(error.absolute_path) == path
               for error in validator.iter_errors(config)):
            parent[key] = text
