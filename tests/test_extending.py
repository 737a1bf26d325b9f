"""docs/extending.md's worked examples (a toy edge selection, a toy dataset source) run as
written: each Python block in order, in one namespace, from the repository root."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from crystalbench.crystal.graphs import EDGE_SELECTIONS
from crystalbench.crystal.sources import DATASET_SOURCES

REPO = Path(__file__).resolve().parents[1]


def test_the_extending_page_runs(monkeypatch, tmp_path):
    blocks = re.findall(r"```python\n(.+?)```", (REPO / "docs/extending.md").read_text(), re.S)
    assert len(blocks) >= 5
    monkeypatch.chdir(REPO)
    saved = dict(EDGE_SELECTIONS), dict(DATASET_SOURCES)
    namespace: dict = {}
    try:  # the page registers into the real registries, as a user would
        for block in blocks:
            code = block.replace('"salts.parquet"', repr(str(tmp_path / "salts.parquet")))
            code = code.replace('"salts.rejects.parquet"', repr(str(tmp_path / "r.parquet")))
            exec(compile(code, "docs/extending.md", "exec"), namespace)  # noqa: S102
        assert "shell" in EDGE_SELECTIONS and "rocksalt" in DATASET_SOURCES
    finally:
        for registry, before in zip((EDGE_SELECTIONS, DATASET_SOURCES), saved, strict=True):
            registry.clear()
            registry.update(before)


def test_unknown_registry_names_are_named_with_a_suggestion():
    import yaml

    from crystalbench.config_check import check_config
    from crystalbench.core.schema import ConfigError

    config = yaml.safe_load((REPO / "config/demo.yaml").read_text())
    config["graphs"]["asu-knn24"]["edges"] = "voronio"
    config["datasets"]["demo_alloys"]["source"] = "dmeo"
    with pytest.raises(ConfigError) as err:
        check_config(config)
    assert err.value.problems == [
        "config key 'graphs.asu-knn24.edges': unknown edge selection 'voronio'; "
        "did you mean 'voronoi'?",
        "config key 'datasets.demo_alloys.source': unknown dataset source 'dmeo'; "
        "did you mean 'demo'?"]
