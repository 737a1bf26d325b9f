"""Strict checks of the workflow config: the schema's rules (``core.schema``) and, per
architecture, the model ``params`` and ``train`` keys against the dataclasses the code builds
from them, so a parameter the training job would reject fails the dry run instead.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, get_type_hints

from crystalbench.core.schema import (
    SCHEMA_PATH,
    ConfigError,
    KeyPath,
    Problem,
    coerce_overrides,
    load_schema,
    problem_message,
    schema_problems,
    suggest,
)

__all__ = ["ConfigError", "check_config", "model_problems"]


def check_config(
    config: dict[str, Any], schema_path: str | Path = SCHEMA_PATH,
    overrides: Mapping[str, Any] | None = None,
) -> None:
    """Raise :class:`ConfigError` listing every problem of ``config``.

    ``overrides`` are the ``--config`` values that Snakemake merged into ``config``; their
    text leaves are first read as the schema wants them (see :func:`coerce_overrides`).
    """
    schema = load_schema(schema_path)
    if overrides:
        coerce_overrides(config, overrides, schema)
    problems = schema_problems(config, schema)
    flagged = {path for path, _ in problems}  # a key the schema flagged is not re-flagged
    problems += [p for p in model_problems(config) + registry_problems(config)
                 if p[0] not in flagged]
    if problems:
        raise ConfigError([problem_message("config", path, what, overrides or {})
                           for path, what in problems])


def registry_problems(config: Mapping[str, Any]) -> list[Problem]:
    """Names the schema leaves open because a registry defines them: each graph's edge
    selection (with the keys it requires) and each crystal dataset's source."""
    from crystalbench.crystal.graphs import edge_problems
    from crystalbench.crystal.sources import DATASET_SOURCES

    graphs = config.get("graphs")
    problems = [(("graphs", name, *path), what)
                for name, spec in (graphs.items() if isinstance(graphs, dict) else ())
                for path, what in edge_problems(spec)]
    datasets = config.get("datasets")
    for name, entry in datasets.items() if isinstance(datasets, dict) else ():
        source = entry.get("source") if isinstance(entry, dict) else None
        if isinstance(source, str) and source not in DATASET_SOURCES:
            problems.append((("datasets", name, "source"), f"unknown dataset source "
                             f"{source!r}{suggest(source, list(DATASET_SOURCES))}"))
    return problems


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
    return [((*path, key), f"unknown key{what}{suggest(key, allowed)}")
            for key in values if key not in allowed]


def model_problems(config: Mapping[str, Any]) -> list[Problem]:
    """Unknown ``params`` keys of crystal and force models, per architecture.

    The allowed keys are the fields of the dataclass each architecture is built from
    (``build_model``'s registry), so a parameter that the training job would reject fails the
    dry run instead. Known params are also tried on the dataclass, whose own checks (coNGN's
    nested block indices) run here. ``train`` keys need no such pass: the schema lists them,
    and a test holds that list to ``TrainConfig`` and ``ForceTrainConfig``. Importing the
    models imports torch; without torch the check is skipped with a warning.
    """
    try:
        from crystalbench.models import ARCHITECTURES, FORCE_ARCHITECTURES
    except ImportError as err:  # e.g. Snakemake run outside the project's environment
        print(f"crystalbench: model params not checked ({err})", file=sys.stderr)
        return []
    forces = config.get("forces")
    sections = [(("models",), config.get("models"), ARCHITECTURES),
                (("forces", "models"), forces.get("models") if isinstance(forces, dict)
                 else None, FORCE_ARCHITECTURES)]
    problems: list[Problem] = []
    for prefix, models, registry in sections:
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
    return problems
